/*
 * test_decide_attack.c -- the decision path (decide.c) as an attacker
 * sees it: every combination of credentials, scheme, DPoP mode, proof and
 * certificate against every entry point; the answers a replay store can
 * give; the host's own denial; hostile request shapes; which decisions
 * feed the baseline; what a message and an audit line may contain; and
 * the host configuration file (options.c) fed hostile bytes.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "b64.h"
#include "internal.h"
#include "state.h"
#include "t.h"
#include "tu.h"
#include "units.h"

#define HTU "https://api.test/kb/42"

/* ------------------------------------------------------------------ */
/* Fixtures                                                            */

static EVP_PKEY      *holder;             /* the DPoP key tokens are bound to */
static char          *holder_jwk;
static char           jkt[44];
static unsigned char  cert[32], cert_other[32];
static char          *x5t;
static int            proof_seq;

/* A replay store that remembers, and counts what it is asked. */
#define STORE_MAX 4096
static unsigned char store_hash[STORE_MAX][32];
static int           store_n, store_calls;
static aim_status    store_answer = AIM_OK;   /* AIM_OK: remember and answer */

static aim_status
store(void *ud, const unsigned char hash[32], int64_t expires)
{
    int i;

    (void) ud;
    (void) expires;
    store_calls++;
    if (store_answer != AIM_OK) {
        return store_answer;
    }
    for (i = 0; i < store_n; i++) {
        if (memcmp(store_hash[i], hash, 32) == 0) {
            return AIM_REPLAY;
        }
    }
    if (store_n == STORE_MAX) {
        return AIM_INTERNAL;
    }
    memcpy(store_hash[store_n++], hash, 32);
    return AIM_OK;
}

static void
fixtures(void)
{
    json_t    *j;
    aim_error  err;

    if (holder != NULL) {
        return;
    }
    holder = tu_key_new(AIM_ALG_ES256, 0);
    holder_jwk = tu_jwk(holder, AIM_ALG_ES256, NULL);
    j = tu_json(holder_jwk);
    if (aim_jwk_thumbprint(j, jkt, &err) != AIM_OK) {
        abort();
    }
    json_decref(j);
    memset(cert, 0x42, sizeof(cert));
    memset(cert_other, 0x43, sizeof(cert_other));
    x5t = tu_b64(cert, sizeof(cert));
}

/* A fresh DPoP proof by the holder key for tok (ath), method and url. */
static char *
proof_for(const char *tok, const char *method, const char *url)
{
    unsigned char  h[32];
    char          *ath, header[1024], claims[1024];

    aim_sha256(tok, strlen(tok), h);
    ath = tu_b64(h, 32);
    snprintf(header, sizeof(header), "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\","
             "\"jwk\":%s}", holder_jwk);
    snprintf(claims, sizeof(claims), "{\"jti\":\"atk-%d\",\"htm\":\"%s\","
             "\"htu\":\"%s\",\"iat\":%lld,\"ath\":\"%s\"}", ++proof_seq, method,
             url, (long long) tu_now, ath);
    free(ath);
    return tu_sign_raw(holder, AIM_ALG_ES256, header, strlen(header), claims,
                       strlen(claims));
}

/* The kinds of token, by their cnf claim. */
enum { K_PLAIN, K_JKT, K_X5T, K_BOTH, K_OTHER, K_JKT_OTHER, K_EMPTY, K_COUNT };
static const char *const kind_names[K_COUNT] = {
    "plain", "jkt", "x5t#S256", "jkt+x5t#S256", "jwk", "jkt+jku", "{}"
};

static char *
token_of(int kind, const char *sub)
{
    char claims[512], cnf[300];

    switch (kind) {
    case K_PLAIN:     cnf[0] = '\0'; break;
    case K_JKT:       snprintf(cnf, sizeof(cnf), ",\"cnf\":{\"jkt\":\"%s\"}", jkt); break;
    case K_X5T:       snprintf(cnf, sizeof(cnf), ",\"cnf\":{\"x5t#S256\":\"%s\"}", x5t); break;
    case K_BOTH:      snprintf(cnf, sizeof(cnf), ",\"cnf\":{\"jkt\":\"%s\","
                               "\"x5t#S256\":\"%s\"}", jkt, x5t); break;
    case K_OTHER:     snprintf(cnf, sizeof(cnf), ",\"cnf\":{\"jwk\":%s}", holder_jwk); break;
    case K_JKT_OTHER: snprintf(cnf, sizeof(cnf), ",\"cnf\":{\"jkt\":\"%s\","
                               "\"jku\":\"https://k.test/jwks\"}", jkt); break;
    default:          snprintf(cnf, sizeof(cnf), ",\"cnf\":{}"); break;
    }
    snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"jti\":\"%s-%d\"%s}", sub,
             sub, kind, cnf);
    return tu_token(NULL, claims);
}

static const char *const need_read[] = { "kb:read" };
static const char *const need_admin[] = { "kb:admin" };

static aim_request
request(const char *tok)
{
    aim_request r = tu_request(tok, need_read);

    r.resource = "/kb/42";
    r.method = "GET";
    r.url = HTU;
    r.replay = store;
    return r;
}

/* Does the one audit line agree with the decision, and parse? */
static int
audit_agrees(const aim_decision *d)
{
    json_t     *j;
    const char *decision, *reason;
    int         ok;

    if (tu_nlines != 1) {
        return 0;
    }
    j = json_loads(tu_lines[0], 0, NULL);
    if (j == NULL) {
        return 0;
    }
    decision = json_string_value(json_object_get(j, "decision"));
    reason = json_string_value(json_object_get(j, "reason"));
    ok = decision != NULL && reason != NULL
         && strcmp(decision, d->status == AIM_OK ? "allow" : "deny") == 0
         && strcmp(reason, d->status == AIM_OK ? "ok" : aim_reason(d->status)) == 0;
    json_decref(j);
    return ok;
}

/* ------------------------------------------------------------------ */
/* Every way of presenting every kind of token                         */

enum { CERT_NONE, CERT_RIGHT, CERT_WRONG };
enum { E_IDENTIFY, E_DECIDE, E_DECIDE_TOKEN, E_COUNT };
static const char *const entry_names[E_COUNT] = {
    "aim_identify", "aim_decide", "aim_decide_token"
};

/* The contract: a bound token is honoured only with its proof. */
static int
should_allow(int kind, aim_scheme scheme, aim_dpop_mode dpop, int proof, int c)
{
    int has_jkt = kind == K_JKT || kind == K_BOTH;
    int has_x5t = kind == K_X5T || kind == K_BOTH;

    if (kind == K_OTHER || kind == K_JKT_OTHER || kind == K_EMPTY) {
        return 0;
    }
    if (scheme == AIM_SCHEME_DPOP) {
        if (dpop == AIM_DPOP_OFF || !has_jkt || !proof) {
            return 0;
        }
    } else if (has_jkt || dpop == AIM_DPOP_REQUIRED) {
        return 0;
    }
    return !has_x5t || c == CERT_RIGHT;
}

static void
test_binding_matrix(void)
{
    aim_verifier *v;
    int           kind, e;

    t_section("attack/binding-matrix");
    fixtures();
    v = tu_verifier(NULL);
    aim_verifier_set_audit(v, tu_line_sink, NULL);
    for (kind = 0; kind < K_COUNT; kind++) {
        char      *tok = token_of(kind, "agent-m");
        aim_token *held = NULL;
        aim_error  err;
        int        wrong[E_COUNT] = { 0 }, audit_bad = 0, combos = 0;
        char       first[E_COUNT][200];

        (void) aim_verify(v, tok, strlen(tok), &held, &err);
        for (e = 0; e < E_COUNT; e++) {
            first[e][0] = '\0';
        }
        for (int sc = AIM_SCHEME_NONE; sc <= AIM_SCHEME_DPOP; sc++)
        for (int dm = AIM_DPOP_OFF; dm <= AIM_DPOP_REQUIRED; dm++)
        for (int pr = 0; pr <= 1; pr++)
        for (int c = CERT_NONE; c <= CERT_WRONG; c++)
        for (e = 0; e < E_COUNT; e++) {
            aim_request  r = request(tok);
            aim_decision d;
            aim_status   s;
            char        *p = pr ? proof_for(tok, "GET", HTU) : NULL;
            int          want = should_allow(kind, (aim_scheme) sc,
                                             (aim_dpop_mode) dm, pr, c);

            r.scheme = (aim_scheme) sc;
            r.dpop = (aim_dpop_mode) dm;
            r.proof = p;
            r.proof_len = p != NULL ? strlen(p) : 0;
            r.nproofs = p != NULL ? 1 : 0;
            r.cert_sha256 = c == CERT_RIGHT ? cert : c == CERT_WRONG ? cert_other : NULL;
            tu_lines_reset();
            s = e == E_IDENTIFY ? aim_identify(v, &r, &d)
                : e == E_DECIDE ? aim_decide(v, &r, &d)
                : aim_decide_token(v, held, &r, &d);
            combos++;
            if ((s == AIM_OK) != want || s != d.status) {
                if (wrong[e]++ == 0) {
                    snprintf(first[e], sizeof(first[e]), "scheme %d dpop %d proof %d "
                             "cert %d: %s, want %s (%s)", sc, dm, pr, c,
                             aim_reason(s), want ? "allow" : "deny", d.message);
                }
            }
            if (e != E_IDENTIFY && !audit_agrees(&d)) {
                audit_bad++;
            }
            if (e == E_IDENTIFY && tu_nlines != 0) {
                audit_bad++;
            }
            aim_decision_clear(&d);
            free(p);
        }
        for (e = 0; e < E_COUNT; e++) {
            CHECKF(wrong[e] == 0, "%s token through %s: %d of %d combinations "
                   "wrong; first: %s", kind_names[kind], entry_names[e], wrong[e],
                   combos / E_COUNT, first[e]);
        }
        CHECKF(audit_bad == 0, "%s token: %d audit lines disagree with their "
               "decision", kind_names[kind], audit_bad);
        aim_token_free(held);
        free(tok);
    }
    tu_lines_reset();
    aim_verifier_free(v);
}

/* An empty cnf binds to nothing an issuer could have meant: refused. */
static void
test_cnf_shapes(void)
{
    aim_verifier *v;
    aim_error     err;
    size_t        i;
    static const char *const bad[] = {
        "{\"cnf\":{}}",
        "{\"cnf\":null}",
        "{\"cnf\":[]}",
        "{\"cnf\":\"jkt\"}",
        "{\"cnf\":{\"jkt\":null}}",
        "{\"cnf\":{\"jkt\":\"\"}}",
        /* 43 characters that are not base64url */
        "{\"cnf\":{\"jkt\":\"*******************************************\"}}",
        "{\"cnf\":{\"x5t#S256\":42}}",
    };

    t_section("attack/cnf-shapes");
    fixtures();
    v = tu_verifier(NULL);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char      *tok = tu_token(NULL, bad[i]);
        aim_status s = tu_verify(v, tok, &err);

        CHECKF(s == AIM_BAD_CLAIM, "%s: %s (%s)", bad[i], aim_reason(s), err.message);
        free(tok);
    }
    /* A member named like jkt with a NUL in it is not jkt (the strict
     * JSON parser refuses the key). */
    {
        char       header[128], claims[512], *tok;
        aim_status s;

        snprintf(header, sizeof(header), "{\"alg\":\"ES256\",\"typ\":\"aim+jwt\","
                 "\"kid\":\"%s\"}", tu_kid(AIM_ALG_ES256));
        snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"sub\":\"agent-c\","
                 "\"aud\":\"%s\",\"iat\":%lld,\"exp\":%lld,\"jti\":\"c\","
                 "\"cnf\":{\"jkt\\u0000x\":\"%s\"}}", TU_ISS, TU_AUD, tu_now,
                 tu_now + 60, jkt);
        tok = tu_sign_raw(tu_key(AIM_ALG_ES256), AIM_ALG_ES256, header,
                          strlen(header), claims, strlen(claims));
        s = tu_verify(v, tok, &err);
        CHECKF(s == AIM_MALFORMED, "cnf member \"jkt\\0x\": %s", aim_reason(s));
        free(tok);
    }
    aim_verifier_free(v);
}

/* ------------------------------------------------------------------ */
/* DPoP: once, for one request, and what the store may answer          */

static void
test_replay(void)
{
    aim_verifier *v;
    char         *tok, *other, *p;
    aim_request   r;
    aim_decision  d;
    size_t        i;

    t_section("attack/replay");
    fixtures();
    v = tu_verifier(NULL);
    aim_verifier_set_audit(v, tu_line_sink, NULL);
    tok = token_of(K_JKT, "agent-r");
    other = token_of(K_BOTH, "agent-r");

    r = request(tok);
    r.scheme = AIM_SCHEME_DPOP;
    r.dpop = AIM_DPOP_REQUIRED;
    p = proof_for(tok, "GET", HTU);
    r.proof = p;
    r.proof_len = strlen(p);
    r.nproofs = 1;
    store_n = 0;
    tu_lines_reset();
    CHECK_ST(tu_decide_status(v, &r), AIM_OK, NULL);
    /* The same proof again, through every entry point. */
    tu_lines_reset();
    CHECK_ST(aim_decide(v, &r, &d), AIM_REPLAY, NULL);
    CHECK(d.proof_error && d.token != NULL && audit_agrees(&d));
    aim_decision_clear(&d);
    CHECK_ST(aim_identify(v, &r, &d), AIM_REPLAY, NULL);
    aim_decision_clear(&d);
    {
        aim_token *held = NULL;
        aim_error  err;

        CHECK_ST(aim_verify(v, tok, strlen(tok), &held, &err), AIM_OK, &err);
        CHECK_ST(tu_decide_token_status(v, held, &r), AIM_REPLAY, NULL);
        aim_token_free(held);
    }
    /* Identification spends the proof: a decision on it is a replay
     * unless the adapter's store recognises its own request. */
    free(p);
    p = proof_for(tok, "GET", HTU);
    r.proof = p;
    r.proof_len = strlen(p);
    CHECK_ST(aim_identify(v, &r, &d), AIM_OK, NULL);
    aim_decision_clear(&d);
    CHECK_ST(tu_decide_status(v, &r), AIM_REPLAY, NULL);
    free(p);

    /* A proof for another method, URL or token: the store is never
     * asked, nothing is spent. */
    {
        struct { const char *m, *u; const char *for_tok; } wrong[] = {
            { "POST", HTU, NULL },
            { "GET", "https://api.test/kb/43", NULL },
            { "GET", "https://evil.test/kb/42", NULL },
            { "GET", "http://api.test/kb/42", NULL },
            { "GET", HTU, "other" },
        };

        for (i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
            int calls = store_calls;

            p = proof_for(wrong[i].for_tok != NULL ? other : tok, wrong[i].m, wrong[i].u);
            r.proof = p;
            r.proof_len = strlen(p);
            CHECK_ST(aim_decide(v, &r, &d), AIM_BAD_BINDING, NULL);
            CHECK(d.proof_error);
            CHECK_INT(store_calls - calls, 0);
            aim_decision_clear(&d);
            free(p);
        }
    }

    /* Whatever else the store answers, the proof is refused, and the
     * failure is the store's, not the proof's. */
    {
        static const int answers[] = {
            AIM_INTERNAL, AIM_BAD_SIGNATURE, AIM_LOW_TRUST, AIM_CONFIG, 99, -1
        };

        for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
            aim_status s;

            p = proof_for(tok, "GET", HTU);
            r.proof = p;
            r.proof_len = strlen(p);
            store_answer = (aim_status) answers[i];
            tu_lines_reset();
            s = aim_decide(v, &r, &d);
            CHECKF(s == AIM_INTERNAL, "store answer %d: %s", answers[i], aim_reason(s));
            CHECKF(!d.proof_error, "store answer %d: blamed on the proof", answers[i]);
            CHECK(audit_agrees(&d));
            aim_decision_clear(&d);
            free(p);
        }
        store_answer = AIM_REPLAY;
        p = proof_for(tok, "GET", HTU);
        r.proof = p;
        r.proof_len = strlen(p);
        CHECK_ST(tu_decide_status(v, &r), AIM_REPLAY, NULL);
        free(p);
        store_answer = AIM_OK;
    }
    tu_lines_reset();
    free(tok);
    free(other);
    aim_verifier_free(v);
}

/*
 * A held token and DPoP: the proof must be for the token decided.  The
 * header says aim_decide_token ignores req->token; the proof's ath is
 * checked against the held token itself.
 */
/* A DPoP request for tok's proof on GET HTU, with the proof (to free). */
static aim_request
dpop_request(const char *tok, char **proof)
{
    aim_request r = request(NULL);

    r.scheme = AIM_SCHEME_DPOP;
    r.dpop = AIM_DPOP_ON;
    *proof = proof_for(tok, "GET", HTU);
    r.proof = *proof;
    r.proof_len = strlen(*proof);
    r.nproofs = 1;
    return r;
}

static void
test_held_token_proof(void)
{
    aim_verifier *v;
    char         *tok, *p;
    aim_token    *held = NULL;
    aim_request   r;
    aim_decision  d;
    aim_error     err;
    const char   *junk = "not-the-held-token";
    int           cache;

    t_section("attack/held-token-proof");
    fixtures();
    tok = token_of(K_JKT, "agent-h");
    /* With the token cache, and without: the hash is kept all the same. */
    for (cache = 1; cache >= 0; cache--) {
        v = cache ? tu_verifier(NULL) : tu_verifier("cache", "0", NULL);
        CHECK_ST(aim_verify(v, tok, strlen(tok), &held, &err), AIM_OK, &err);

        /* The proof is for the held token, and req->token is not given. */
        r = dpop_request(tok, &p);
        CHECK_ST(tu_decide_token_status(v, held, &r), AIM_OK, NULL);
        free(p);

        if (cache) {
            /* A proof whose ath names other bytes, handed over as
             * req->token: not a proof for the held token. */
            r = dpop_request(junk, &p);
            r.token = junk;
            r.token_len = strlen(junk);
            CHECK_ST(aim_decide_token(v, held, &r, &d), AIM_BAD_BINDING, NULL);
        } else {
            r = dpop_request(tok, &p);
            r.token = tok;
            r.token_len = strlen(tok);
            CHECK_ST(aim_decide(v, &r, &d), AIM_OK, NULL);
        }
        aim_decision_clear(&d);
        free(p);
        aim_token_free(held);
        aim_verifier_free(v);
    }
    free(tok);
}

/*
 * A limit, stated by a test: the thief of a key-bound token cannot use
 * it, but each bearer presentation is bad_binding, which feeds the
 * agent's baseline as a probe; a minute of them refuses the agent itself
 * for trust (docs/trust.md, "Limits").
 */
static void
test_bound_token_thief(void)
{
    aim_verifier *v;
    char         *tok, *p;
    aim_request   r;
    aim_decision  d;
    int           i, n = 0;

    t_section("attack/bound-token-thief");
    fixtures();
    unlink(tu_path("thief.state"));
    v = tu_verifier("state", tu_path("thief.state"), NULL);
    tok = token_of(K_JKT, "agent-victim");
    r = request(tok);
    r.scheme = AIM_SCHEME_BEARER;
    r.dpop = AIM_DPOP_ON;
    for (i = 0; i < 60; i++) {
        tu_now += 1;
        if (aim_decide(v, &r, &d) == AIM_BAD_BINDING && d.trust >= 50) {
            n++;
        }
        aim_decision_clear(&d);
    }
    CHECKF(n > 20 && n < 30, "%d bearer presentations before the victim's trust "
           "fell under 50", n);
    /* The holder of the key, with a valid proof, is now refused too. */
    r.scheme = AIM_SCHEME_DPOP;
    p = proof_for(tok, "GET", HTU);
    r.proof = p;
    r.proof_len = strlen(p);
    r.nproofs = 1;
    CHECK_ST(tu_decide_status(v, &r), AIM_LOW_TRUST, NULL);
    free(p);
    free(tok);
    aim_verifier_free(v);
}

/* ------------------------------------------------------------------ */
/* Request shapes                                                      */

static void
test_request_shapes(void)
{
    aim_verifier *v;
    char         *tok;
    aim_request   r;
    aim_decision  d;
    aim_token    *held = NULL;
    aim_error     err;
    static const char *const with_null[] = { NULL };
    static const char *const null_then_read[] = { NULL, "kb:read" };
    static const char *const nulls[] = { NULL, NULL };
    static const char *const odd[] = {
        "", "kb:read kb:write", "kb:*", "*", "KB:READ", "kb:read\n", " kb:read"
    };
    size_t i;

    t_section("attack/request-shapes");
    fixtures();
    v = tu_verifier(NULL);
    aim_verifier_set_audit(v, tu_line_sink, NULL);
    tok = token_of(K_PLAIN, "agent-s");
    CHECK_ST(aim_verify(v, tok, strlen(tok), &held, &err), AIM_OK, &err);

    /* No request at all, or no token. */
    CHECK_ST(tu_decide_status(v, NULL), AIM_NO_TOKEN, NULL);
    CHECK_ST(aim_identify(v, NULL, &d), AIM_NO_TOKEN, NULL);
    aim_decision_clear(&d);
    r = request(tok);
    r.token_len = 0;
    CHECK_ST(tu_decide_status(v, &r), AIM_NO_TOKEN, NULL);
    r = request(NULL);
    r.token_len = 100;
    CHECK_ST(tu_decide_status(v, &r), AIM_NO_TOKEN, NULL);
    r = request(tok);
    r.token_len = AIM_MAX_TOKEN_LEN + 1;      /* never read past the bound */
    CHECK_ST(tu_decide_status(v, &r), AIM_MALFORMED, NULL);

    /* Every descriptive field NULL: decided, audited, nothing crashes. */
    memset(&r, 0, sizeof(r));
    r.token = tok;
    r.token_len = strlen(tok);
    tu_lines_reset();
    CHECK_ST(aim_decide(v, &r, &d), AIM_OK, NULL);
    CHECK(audit_agrees(&d));
    aim_decision_clear(&d);
    CHECK_ST(tu_decide_token_status(v, held, &r), AIM_OK, NULL);
    aim_note(v, NULL, NULL, NULL);
    aim_note(v, &r, held, "closed");

    /* Scopes: a NULL list with a count, NULL entries, any. */
    r = request(tok);
    r.scopes = NULL;
    r.nscopes = 2;
    CHECK_ST(tu_decide_status(v, &r), AIM_INTERNAL, NULL);
    CHECK_ST(tu_decide_token_status(v, held, &r), AIM_INTERNAL, NULL);
    r.scopes = with_null;
    r.nscopes = 1;
    CHECK_ST(tu_decide_status(v, &r), AIM_INSUFFICIENT_SCOPE, NULL);
    r.any = 1;
    CHECK_ST(tu_decide_status(v, &r), AIM_INSUFFICIENT_SCOPE, NULL);
    r.scopes = nulls;
    r.nscopes = 2;
    CHECK_ST(tu_decide_status(v, &r), AIM_INSUFFICIENT_SCOPE, NULL);
    r.scopes = null_then_read;
    CHECK_ST(tu_decide_status(v, &r), AIM_OK, NULL);
    r.any = 0;
    CHECK_ST(tu_decide_status(v, &r), AIM_INSUFFICIENT_SCOPE, NULL);
    /* "Any one of none" is not "nothing required". */
    r.scopes = need_read;
    r.nscopes = 0;
    r.any = 1;
    CHECK_ST(tu_decide_status(v, &r), AIM_INSUFFICIENT_SCOPE, NULL);
    r.scopes = NULL;
    CHECK_ST(tu_decide_status(v, &r), AIM_INSUFFICIENT_SCOPE, NULL);
    r.any = 0;
    CHECK_ST(aim_decide(v, &r, &d), AIM_OK, NULL);   /* no scope asked */
    aim_decision_clear(&d);
    /* Scopes that are not one exact, granted scope token. */
    for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        const char *one[1] = { odd[i] };
        aim_status  s;

        r.scopes = one;
        r.nscopes = 1;
        s = aim_decide(v, &r, &d);
        CHECKF(s == AIM_INSUFFICIENT_SCOPE, "scope \"%s\": %s", odd[i], aim_reason(s));
        aim_decision_clear(&d);
    }

    /* Values outside the enums: the adapter is broken; refused. */
    {
        static const struct { int scheme, dpop, audit; } bad[] = {
            { 3, AIM_DPOP_OFF, AIM_AUDIT_ALL }, { -1, AIM_DPOP_OFF, AIM_AUDIT_ALL },
            { AIM_SCHEME_BEARER, 3, AIM_AUDIT_ALL }, { AIM_SCHEME_BEARER, -1, AIM_AUDIT_ALL },
            { AIM_SCHEME_BEARER, AIM_DPOP_OFF, 2 }, { AIM_SCHEME_BEARER, AIM_DPOP_OFF, -1 },
        };

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            aim_status s1, s2, s3;

            r = request(tok);
            r.scheme = (aim_scheme) bad[i].scheme;
            r.dpop = (aim_dpop_mode) bad[i].dpop;
            r.audit = (aim_audit_mode) bad[i].audit;
            tu_lines_reset();
            s1 = aim_decide(v, &r, &d);
            CHECKF(tu_nlines == 1 && audit_agrees(&d), "case %zu: audited as decided", i);
            aim_decision_clear(&d);
            s2 = aim_decide_token(v, held, &r, &d);
            aim_decision_clear(&d);
            s3 = aim_identify(v, &r, &d);
            aim_decision_clear(&d);
            CHECKF(s1 == AIM_INTERNAL && s2 == AIM_INTERNAL && s3 == AIM_INTERNAL,
                   "scheme %d dpop %d audit %d: %s %s %s", bad[i].scheme, bad[i].dpop,
                   bad[i].audit, aim_reason(s1), aim_reason(s2), aim_reason(s3));
        }
    }

    /* DPoP without the request's method or URL. */
    {
        char *btok = token_of(K_JKT, "agent-s"), *p = proof_for(btok, "GET", HTU);

        r = request(btok);
        r.scheme = AIM_SCHEME_DPOP;
        r.dpop = AIM_DPOP_ON;
        r.proof = p;
        r.proof_len = strlen(p);
        r.nproofs = 1;
        r.method = NULL;
        CHECK_ST(tu_decide_status(v, &r), AIM_BAD_BINDING, NULL);
        r.method = "GET";
        r.url = NULL;
        CHECK_ST(tu_decide_status(v, &r), AIM_BAD_BINDING, NULL);
        r.url = "";
        CHECK_ST(tu_decide_status(v, &r), AIM_BAD_BINDING, NULL);
        /* proof bytes with a length of zero, or a count without bytes */
        r.url = HTU;
        r.proof_len = 0;
        CHECK_ST(tu_decide_status(v, &r), AIM_BAD_BINDING, NULL);
        r.proof = NULL;
        r.proof_len = 10;
        CHECK_ST(tu_decide_status(v, &r), AIM_BAD_BINDING, NULL);
        free(p);
        free(btok);
    }
    tu_lines_reset();
    aim_token_free(held);
    free(tok);
    aim_verifier_free(v);
}

/* ------------------------------------------------------------------ */
/* The host's own denial                                               */

static void
test_host_denial(void)
{
    aim_verifier *v;
    char         *tok;
    aim_request   r;
    aim_decision  d;
    size_t        i;
    static const int statuses[] = {
        AIM_POLICY_DENIED, AIM_INSUFFICIENT_SCOPE, AIM_INTERNAL, AIM_LOW_TRUST,
        AIM_BAD_CLAIM, AIM_STATUS_MAX, 1000, -3
    };

    t_section("attack/host-denial");
    fixtures();
    v = tu_verifier(NULL);
    aim_verifier_set_audit(v, tu_line_sink, NULL);
    tok = token_of(K_PLAIN, "agent-hd");
    for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        aim_status s;

        r = request(tok);
        r.host_status = (aim_status) statuses[i];
        r.host_message = "the host said \"no\"\n\x1b[31m";
        tu_lines_reset();
        s = aim_decide(v, &r, &d);
        CHECKF(s != AIM_OK && s == d.status, "host status %d: %s", statuses[i],
               aim_reason(s));
        CHECKF(audit_agrees(&d), "host status %d: audit line %s", statuses[i],
               tu_nlines ? tu_lines[0] : "(none)");
        CHECK(d.token != NULL);
        aim_decision_clear(&d);
    }
    /* A host denial does not hide a token that does not verify. */
    r = request("a.b.c");
    r.host_status = AIM_POLICY_DENIED;
    CHECK_ST(tu_decide_status(v, &r), AIM_MALFORMED, NULL);
    /* No message: the reason stands in. */
    r = request(tok);
    r.host_status = AIM_POLICY_DENIED;
    CHECK_ST(aim_decide(v, &r, &d), AIM_POLICY_DENIED, NULL);
    CHECK_STR(d.message, "policy_denied");
    aim_decision_clear(&d);
    tu_lines_reset();
    free(tok);
    aim_verifier_free(v);
}

/* ------------------------------------------------------------------ */
/* The baseline rule, kind by kind                                     */


/* Run one decision; *events and *denied get what it fed. */
static aim_status
fed(aim_verifier *v, int entry, const aim_token *held, const aim_request *r,
    long long *events, long long *denied)
{
    tu_counts    a = tu_counts_of(v, "agent-b"), b;
    aim_decision d;
    aim_status   s;

    s = entry == E_IDENTIFY ? aim_identify(v, r, &d)
        : entry == E_DECIDE ? aim_decide(v, r, &d)
        : aim_decide_token(v, held, r, &d);
    aim_decision_clear(&d);
    b = tu_counts_of(v, "agent-b");
    *events = b.events - a.events;
    *denied = b.denied - a.denied;
    return s;
}

static void
test_baseline_kinds(void)
{
    aim_verifier *v;
    char         *tok, *btok, *p, jwks_text[8192];
    aim_token    *held = NULL, *bheld = NULL;
    aim_request   r;
    aim_error     err;
    long long     ev, dn;
    const char   *jwks;
    int           i;

    t_section("attack/baseline-kinds");
    fixtures();
    {
        char *std = tu_read(tu_std_jwks(), NULL);
        snprintf(jwks_text, sizeof(jwks_text), "%s", std);
        free(std);
    }
    jwks = tu_write("atk.jwks", jwks_text, (size_t) -1);
    unlink(tu_path("atk.state"));
    v = tu_verifier("keys", jwks, "state", tu_path("atk.state"), "policy",
                    tu_write("atk.policy", "allow * kb:*\n", (size_t) -1), NULL);
    tok = token_of(K_PLAIN, "agent-b");
    btok = token_of(K_JKT, "agent-b");
    CHECK_ST(aim_verify(v, tok, strlen(tok), &held, &err), AIM_OK, &err);
    CHECK_ST(aim_verify(v, btok, strlen(btok), &bheld, &err), AIM_OK, &err);

    /* DPoP: an allow feeds; a replay and a proof for another URL are the
     * agent's doing and feed as denials. */
    r = request(btok);
    r.scheme = AIM_SCHEME_DPOP;
    r.dpop = AIM_DPOP_ON;
    p = proof_for(btok, "GET", HTU);
    r.proof = p;
    r.proof_len = strlen(p);
    r.nproofs = 1;
    CHECK_ST(fed(v, E_DECIDE, NULL, &r, &ev, &dn), AIM_OK, NULL);
    CHECK(ev == 1 && dn == 0);
    CHECK_ST(fed(v, E_DECIDE, NULL, &r, &ev, &dn), AIM_REPLAY, NULL);
    CHECK(ev == 1 && dn == 1);
    free(p);
    p = proof_for(btok, "GET", "https://api.test/other");
    r.proof = p;
    r.proof_len = strlen(p);
    CHECK_ST(fed(v, E_DECIDE, NULL, &r, &ev, &dn), AIM_BAD_BINDING, NULL);
    CHECK(ev == 1 && dn == 1);
    free(p);
    /* Identification with a proof: nothing fed. */
    p = proof_for(btok, "GET", HTU);
    r.proof = p;
    r.proof_len = strlen(p);
    CHECK_ST(fed(v, E_IDENTIFY, NULL, &r, &ev, &dn), AIM_OK, NULL);
    CHECK(ev == 0 && dn == 0);
    free(p);

    /* The host's denials feed by their status; its own trouble does not. */
    r = request(tok);
    r.host_status = AIM_INSUFFICIENT_SCOPE;
    CHECK_ST(fed(v, E_DECIDE, NULL, &r, &ev, &dn), AIM_INSUFFICIENT_SCOPE, NULL);
    CHECK(ev == 1 && dn == 1);
    r.host_status = AIM_INTERNAL;
    CHECK_ST(fed(v, E_DECIDE, NULL, &r, &ev, &dn), AIM_INTERNAL, NULL);
    CHECK(ev == 0 && dn == 0);
    r.host_status = AIM_INTERNAL;
    CHECK_ST(fed(v, E_DECIDE_TOKEN, held, &r, &ev, &dn), AIM_INTERNAL, NULL);
    CHECK(ev == 0 && dn == 0);

    /* Tokens that do not verify feed nothing, whatever they claim. */
    {
        char *unknown = tu_token("{\"kid\":\"nope\"}", "{\"sub\":\"agent-b\"}");
        char *badsig = strdup(tok);

        badsig[strlen(badsig) - 10] = badsig[strlen(badsig) - 10] == 'A' ? 'B' : 'A';
        r = request(unknown);
        CHECK_ST(fed(v, E_DECIDE, NULL, &r, &ev, &dn), AIM_UNKNOWN_KEY, NULL);
        CHECK(ev == 0 && dn == 0);
        r = request(badsig);
        CHECK_ST(fed(v, E_DECIDE, NULL, &r, &ev, &dn), AIM_BAD_SIGNATURE, NULL);
        CHECK(ev == 0 && dn == 0);
        free(unknown);
        free(badsig);
    }

    /* A held token whose key is withdrawn: unknown_key, not fed; the
     * same kid with another key is no better. */
    {
        EVP_PKEY *k2 = tu_key_new(AIM_ALG_ES256, 0);
        char     *j2 = tu_jwk(k2, AIM_ALG_ES256, tu_kid(AIM_ALG_ES256)), text[4096];
        char     *ed = tu_jwk(tu_key(AIM_ALG_EDDSA), AIM_ALG_EDDSA, tu_kid(AIM_ALG_EDDSA));

        r = request(NULL);
        snprintf(text, sizeof(text), "{\"keys\":[%s]}", ed);
        free(ed);
        tu_write("atk.jwks", text, (size_t) -1);
        tu_now += 2;
        CHECK_ST(fed(v, E_DECIDE_TOKEN, held, &r, &ev, &dn), AIM_UNKNOWN_KEY, NULL);
        CHECK(ev == 0 && dn == 0);
        snprintf(text, sizeof(text), "{\"keys\":[%s]}", j2);
        tu_write("atk.jwks", text, (size_t) -1);
        tu_now += 2;
        CHECK_ST(fed(v, E_DECIDE_TOKEN, held, &r, &ev, &dn), AIM_UNKNOWN_KEY, NULL);
        CHECK(ev == 0 && dn == 0);
        /* A JWKS that does not parse keeps the keys loaded before. */
        tu_write("atk.jwks", "{\"keys\":[", (size_t) -1);
        tu_now += 2;
        CHECK_ST(fed(v, E_DECIDE_TOKEN, held, &r, &ev, &dn), AIM_UNKNOWN_KEY, NULL);
        tu_write("atk.jwks", jwks_text, (size_t) -1);
        tu_now += 2;
        CHECK_ST(fed(v, E_DECIDE_TOKEN, held, &r, &ev, &dn), AIM_OK, NULL);
        CHECK(ev == 1 && dn == 0);
        EVP_PKEY_free(k2);
        free(j2);
    }
    /* A policy tightened since: refused, not the agent's doing. */
    tu_write("atk.policy", "allow * pub:*\n", (size_t) -1);
    tu_now += 2;
    r = request(NULL);
    CHECK_ST(fed(v, E_DECIDE_TOKEN, held, &r, &ev, &dn), AIM_POLICY_DENIED, NULL);
    CHECK(ev == 0 && dn == 0);
    tu_write("atk.policy", "allow * kb:*\n", (size_t) -1);
    tu_now += 2;
    /* Expired since: not fed. */
    {
        long long saved = tu_now;

        tu_now += 3600;
        CHECK_ST(fed(v, E_DECIDE_TOKEN, held, &r, &ev, &dn), AIM_EXPIRED, NULL);
        CHECK(ev == 0 && dn == 0);
        tu_now = saved;
    }

    /* Probing drives trust down; then an allow under the threshold is
     * low_trust and feeds as the allow it would have been. */
    r = request(tok);
    r.scopes = need_admin;
    for (i = 0; i < 40; i++) {
        tu_now += 1;
        (void) fed(v, E_DECIDE, NULL, &r, &ev, &dn);
    }
    r.scopes = need_read;
    CHECK_ST(fed(v, E_DECIDE, NULL, &r, &ev, &dn), AIM_LOW_TRUST, NULL);
    CHECK(ev == 1 && dn == 0);
    CHECK_ST(fed(v, E_DECIDE_TOKEN, held, &r, &ev, &dn), AIM_LOW_TRUST, NULL);
    CHECK(ev == 1 && dn == 0);
    /* ... and a probe under it is still a probe. */
    r.scopes = need_admin;
    CHECK_ST(fed(v, E_DECIDE, NULL, &r, &ev, &dn), AIM_INSUFFICIENT_SCOPE, NULL);
    CHECK(ev == 1 && dn == 1);

    aim_token_free(held);
    aim_token_free(bheld);
    free(tok);
    free(btok);
    aim_verifier_free(v);
}

/* The state file cannot record the agent (its slot locked by a live
 * process): an allow fails closed, a denial stays what it was. */
static void
test_state_unavailable(void)
{
    aim_verifier  *v;
    char          *tok;
    aim_request    r;
    aim_decision   d;
    FILE          *fp;
    unsigned char *slot = NULL, buf[1024];
    long           off;
    uint32_t       pid = 1;    /* init: always alive */

    t_section("attack/state-unavailable");
    fixtures();
    unlink(tu_path("busy.state"));
    v = tu_verifier("state", tu_path("busy.state"), NULL);
    aim_verifier_set_audit(v, tu_line_sink, NULL);
    tok = token_of(K_PLAIN, "agent-busy");
    r = request(tok);
    CHECK_ST(aim_decide(v, &r, &d), AIM_OK, NULL);      /* the slot exists */
    aim_decision_clear(&d);

    /* Lock the agent's slot as another process would (the lock word sits
     * after the 8-byte key). */
    fp = fopen(tu_path("busy.state"), "r+b");
    for (off = 4096; fp != NULL && fseek(fp, off, SEEK_SET) == 0
         && fread(buf, 1, sizeof(buf), fp) == sizeof(buf); off += 1024) {
        if (strcmp((char *) buf + 16, "agent-busy") == 0) {
            slot = buf;
            break;
        }
    }
    CHECK(slot != NULL);
    if (slot != NULL) {
        fseek(fp, off + 8, SEEK_SET);
        fwrite(&pid, sizeof(pid), 1, fp);
        fflush(fp);
    }
    if (fp != NULL) fclose(fp);

    tu_lines_reset();
    CHECK_ST(aim_decide(v, &r, &d), AIM_INTERNAL, NULL);
    CHECK(audit_agrees(&d) && d.trust < 0);
    aim_decision_clear(&d);
    r.scopes = need_admin;
    tu_lines_reset();
    CHECK_ST(aim_decide(v, &r, &d), AIM_INSUFFICIENT_SCOPE, NULL);
    CHECK(audit_agrees(&d));
    aim_decision_clear(&d);
    tu_lines_reset();
    free(tok);
    aim_verifier_free(v);
}

/* ------------------------------------------------------------------ */
/* Messages and audit lines never carry a token or a proof             */

/* Does hay contain any 16-byte window of the signature part of jws? */
static int
leaks(const char *hay, const char *jws)
{
    const char *sig = strrchr(jws, '.');
    size_t      i, n;

    if (hay == NULL) {
        return 0;
    }
    sig = sig != NULL ? sig + 1 : jws;
    n = strlen(sig);
    for (i = 0; i + 16 <= n; i++) {
        char w[17];

        memcpy(w, sig + i, 16);
        w[16] = '\0';
        if (strstr(hay, w) != NULL) {
            return 1;
        }
    }
    return 0;
}

static void
test_no_leak(void)
{
    aim_verifier *v;
    char         *good, *bound, *variants[16];
    size_t        nv = 0, i, pos;
    int           leaked = 0, disagree = 0;

    t_section("attack/no-leak");
    fixtures();
    v = tu_verifier(NULL);
    aim_verifier_set_audit(v, tu_line_sink, NULL);
    good = token_of(K_PLAIN, "agent-l");
    bound = token_of(K_JKT, "agent-l");

    /* Hostile variants of a valid token. */
    variants[nv++] = strdup(good);
    for (pos = 1; pos < 6; pos++) {
        char *t = strdup(good);
        t[strlen(t) * pos / 6] ^= 0x01;
        variants[nv++] = t;
    }
    {
        char *t = malloc(strlen(good) + 8);
        sprintf(t, "%s.x", good);
        variants[nv++] = t;
        t = strdup(good);
        t[strlen(t) - 10] = '\0';
        variants[nv++] = t;
        t = strdup(good);
        *strchr(t, '.') = '!';
        variants[nv++] = t;
    }
    for (i = 0; i < nv; i++) {
        aim_request  r = request(variants[i]);
        aim_decision d;

        tu_lines_reset();
        aim_decide(v, &r, &d);
        leaked += leaks(d.message, variants[i]) || (tu_nlines && leaks(tu_lines[0], variants[i]));
        disagree += !audit_agrees(&d);
        aim_decision_clear(&d);
    }
    CHECKF(leaked == 0, "%d of %zu decisions quote the token", leaked, nv);
    CHECKF(disagree == 0, "%d of %zu audit lines disagree", disagree, nv);

    /* Proofs, right and wrong. */
    leaked = 0;
    for (i = 0; i < 4; i++) {
        char        *p = proof_for(bound, i == 1 ? "POST" : "GET", HTU);
        aim_request  r = request(bound);
        aim_decision d;

        if (i == 2) p[strlen(p) - 3] ^= 1;
        if (i == 3) p[10] ^= 1;
        r.scheme = AIM_SCHEME_DPOP;
        r.dpop = AIM_DPOP_ON;
        r.proof = p;
        r.proof_len = strlen(p);
        r.nproofs = 1;
        tu_lines_reset();
        aim_decide(v, &r, &d);
        leaked += leaks(d.message, p) || leaks(d.message, bound)
                  || (tu_nlines && (leaks(tu_lines[0], p) || leaks(tu_lines[0], bound)));
        aim_decision_clear(&d);
        free(p);
    }
    CHECKF(leaked == 0, "%d decisions on proofs quote the proof or token", leaked);

    /* Text the presenter chose (a kid, a typ, a proof key's curve, the
     * host's message) reaches d.message, which adapters write to their
     * logs: never a line break or another control byte there. */
    {
        static const char *const headers[] = {
            "{\"kid\":\"x\\n2030/01/01 [notice] forged line\"}",
            "{\"typ\":\"aim+jwt\\r\\u001b[31m\"}",
            "{\"alg\":\"ES256\\u0007\"}",
        };
        int bad = 0;

        for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
            char        *t = tu_token(headers[i], NULL);
            aim_request  r = request(t);
            aim_decision d;
            const char  *c;

            aim_decide(v, &r, &d);
            for (c = d.message; *c != '\0'; c++) {
                bad += (unsigned char) *c < 0x20 || *c == 0x7f;
            }
            aim_decision_clear(&d);
            free(t);
        }
        {
            char        *p = proof_for(bound, "GET", HTU), hh[512];
            aim_request  r = request(bound);
            aim_decision d;
            const char  *c;
            char        *evil;

            snprintf(hh, sizeof(hh), "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\","
                     "\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\\nforged\","
                     "\"x\":\"AA\",\"y\":\"AA\"}}");
            evil = tu_sign_raw(holder, AIM_ALG_ES256, hh, strlen(hh), "{}", 2);
            r.scheme = AIM_SCHEME_DPOP;
            r.dpop = AIM_DPOP_ON;
            r.proof = evil;
            r.proof_len = strlen(evil);
            r.nproofs = 1;
            aim_decide(v, &r, &d);
            for (c = d.message; *c != '\0'; c++) {
                bad += (unsigned char) *c < 0x20 || *c == 0x7f;
            }
            aim_decision_clear(&d);
            r.scheme = AIM_SCHEME_BEARER;
            r.token = good;
            r.token_len = strlen(good);
            r.host_status = AIM_POLICY_DENIED;
            r.host_message = "role \"x\"\nescaped";
            aim_decide(v, &r, &d);
            for (c = d.message; *c != '\0'; c++) {
                bad += (unsigned char) *c < 0x20 || *c == 0x7f;
            }
            aim_decision_clear(&d);
            free(evil);
            free(p);
        }
        CHECKF(bad == 0, "%d control bytes in decision messages", bad);
    }
    for (i = 0; i < nv; i++) free(variants[i]);
    tu_lines_reset();
    free(good);
    free(bound);
    aim_verifier_free(v);
}

/* ------------------------------------------------------------------ */
/* The host configuration file, hostile                                */

static aim_status
load_text(aim_config *cfg, const char *text, size_t len, aim_error *err)
{
    return aim_config_load(cfg, tu_write("atk.conf", text, len), err);
}

static void
test_config_parser(void)
{
    aim_config *cfg;
    aim_error   err;
    size_t      i;

    t_section("attack/config-file");

    /* Accepted shapes. */
    {
        static const struct { const char *text, *audience; } ok[] = {
            { "audience api\n", "api" },
            { "audience api", "api" },                          /* no newline */
            { "audience api\r\n", "api" },                      /* CRLF */
            { "audience \"a b\"\r\n", "a b" },
            { "  \taudience\t api  # comment\n", "api" },
            { "audience \"a#b\"\n", "a#b" },
            { "audience \"a\\\"b\"\n", "a\"b" },
            { "audience \"a\\\\b\"\n", "a\\b" },
            { "audience \"a\\nb\"\n", "a\\nb" },                /* no other escapes */
            { "audience \"x\"# comment\n", "x" },
            { "# only\n\n\n", NULL },
            { "", NULL },
        };

        for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
            aim_status s;

            cfg = aim_config_new();
            s = load_text(cfg, ok[i].text, (size_t) -1, &err);
            CHECKF(s == AIM_OK, "case %zu: %s", i, err.message);
            CHECK_STR(cfg->audience, ok[i].audience);
            aim_config_free(cfg);
        }
    }

    /* Refused shapes: never a value other than the one written. */
    {
        static const struct { const char *text; unsigned line; const char *says; } bad[] = {
            /* a '#' inside a word would silently cut the value */
            { "audience api#2\n", 1, "#" },
            { "revoked /etc/aim/revoked#old\n", 1, "#" },
            /* a lone CR would hide the rest of the line */
            { "audience api\rtrust_min 0\n", 1, "carriage return" },
            { "audience \"api\"\rx\n", 1, "carriage return" },
            /* control characters anywhere, names included */
            { "\x1b[31maudience api\n", 1, "control" },
            { "audience a\x01pi\n", 1, "control" },
            { "audience \"a\x7f\"\n", 1, "control" },
            { "audience \"a\n", 1, "unterminated" },
            { "audience \"a\\\"\n", 1, "unterminated" },
            { "audience \"a\"b\n", 1, "closing quote" },
            { "audience a\"b\"\n", 1, "quote" },
            { "audience \"\"\n", 1, "empty" },
            { "\n\naudience a b c d e f g h i j k\n", 3, "too many" },
        };

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            aim_status s;

            cfg = aim_config_new();
            s = load_text(cfg, bad[i].text, (size_t) -1, &err);
            CHECKF(s == AIM_CONFIG, "case %zu accepted (audience \"%s\")", i,
                   cfg->audience ? cfg->audience : "(none)");
            CHECKF(s != AIM_CONFIG || (err.line == bad[i].line
                                       && tu_contains(err.message, "atk.conf:")
                                       && tu_contains(err.message, bad[i].says)),
                   "case %zu: line %u, message \"%s\"", i, err.line, err.message);
            aim_config_free(cfg);
        }
    }

    /* NUL bytes, size bounds, line bounds, value bounds. */
    {
        char *big = malloc(AIM_MAX_CONFIG_FILE + 2), line[4096];
        char  val[AIM_MAX_OPTION_LEN + 2];

        cfg = aim_config_new();
        CHECK_ST(load_text(cfg, "audience a\0pi\n", 14, &err), AIM_CONFIG, &err);
        CHECK(tu_contains(err.message, "atk.conf") && tu_contains(err.message, "NUL"));
        aim_config_free(cfg);

        memset(big, '#', AIM_MAX_CONFIG_FILE + 1);
        cfg = aim_config_new();
        CHECK_ST(load_text(cfg, big, AIM_MAX_CONFIG_FILE, &err), AIM_OK, &err);
        CHECK_ST(load_text(cfg, big, AIM_MAX_CONFIG_FILE + 1, &err), AIM_CONFIG, &err);
        CHECK(tu_contains(err.message, "atk.conf"));
        aim_config_free(cfg);

        /* A value of exactly the limit, and one byte more. */
        memset(val, 'a', AIM_MAX_OPTION_LEN);
        val[AIM_MAX_OPTION_LEN] = '\0';
        snprintf(line, sizeof(line), "audience %s\n", val);
        cfg = aim_config_new();
        CHECK_ST(load_text(cfg, line, (size_t) -1, &err), AIM_OK, &err);
        CHECK(cfg->audience != NULL && strlen(cfg->audience) == AIM_MAX_OPTION_LEN);
        snprintf(line, sizeof(line), "audience %sa\n", val);
        CHECK_ST(load_text(cfg, line, (size_t) -1, &err), AIM_CONFIG, &err);
        CHECK(err.line == 1 && tu_contains(err.option, "audience"));
        /* The longest legal line: two values at the limit. */
        snprintf(line, sizeof(line), "keys \"%s\" \"%s\"\n", val, val);
        CHECK_ST(load_text(cfg, line, (size_t) -1, &err), AIM_OK, &err);
        aim_config_free(cfg);
        /* A very long line is refused with its number. */
        memset(big, 'x', 3000);
        memcpy(big, "# ok\naudience ", 14);
        big[3000] = '\n';
        cfg = aim_config_new();
        CHECK_ST(load_text(cfg, big, 3001, &err), AIM_CONFIG, &err);
        CHECK(err.line == 2 && tu_contains(err.message, "too long"));
        aim_config_free(cfg);
        free(big);
    }

    /* Repeated options beyond their limits name the line and option. */
    {
        char text[4096];
        size_t n = 0;

        for (i = 0; i < AIM_MAX_ISSUERS + 1; i++) {
            n += (size_t) snprintf(text + n, sizeof(text) - n, "issuer https://i%zu.test\n", i);
        }
        cfg = aim_config_new();
        CHECK_ST(load_text(cfg, text, (size_t) -1, &err), AIM_CONFIG, &err);
        CHECK_INT(err.line, AIM_MAX_ISSUERS + 1);
        CHECK_STR(err.option, "issuer");
        aim_config_free(cfg);
        n = 0;
        for (i = 0; i < 9; i++) {
            n += (size_t) snprintf(text + n, sizeof(text) - n, "keys /k%zu\n", i);
        }
        cfg = aim_config_new();
        CHECK_ST(load_text(cfg, text, (size_t) -1, &err), AIM_CONFIG, &err);
        CHECK_INT(err.line, 9);
        CHECK_STR(err.option, "keys");
        aim_config_free(cfg);
    }

    /* The origin rule: a file never overrides a direct value, for
     * repeated options too, in either order, across two files. */
    {
        const char *args[] = { "https://direct.test" };

        cfg = aim_config_new();
        CHECK_ST(aim_config_set_args(cfg, "issuer", args, 1, &err), AIM_OK, &err);
        CHECK_ST(aim_config_set(cfg, "trust_min", "90", &err), AIM_OK, &err);
        CHECK_ST(aim_config_set(cfg, "keys", "/direct/jwks", &err), AIM_OK, &err);
        CHECK_ST(load_text(cfg, "issuer https://file1.test\nissuer https://file2.test\n"
                           "trust_min 0\nkeys /file/jwks\nkeys https://file1.test /f2\n",
                           (size_t) -1, &err), AIM_OK, &err);
        CHECK_ST(load_text(cfg, "issuer https://file3.test\ntrust_min 1\n", (size_t) -1,
                           &err), AIM_OK, &err);
        CHECK_INT(cfg->nissuers, 1);
        CHECK_STR(cfg->issuers[0], "https://direct.test");
        CHECK_INT(cfg->trust_min, 90);
        CHECK_INT(cfg->nkeys, 1);
        CHECK_STR(cfg->keys[0], "/direct/jwks");
        aim_config_free(cfg);

        cfg = aim_config_new();
        CHECK_ST(load_text(cfg, "issuer https://file1.test\nissuer https://file2.test\n"
                           "trust_min 0\n", (size_t) -1, &err), AIM_OK, &err);
        CHECK_ST(aim_config_set(cfg, "trust_min", "90", &err), AIM_OK, &err);
        CHECK_ST(aim_config_set_args(cfg, "issuer", args, 1, &err), AIM_OK, &err);
        CHECK_ST(load_text(cfg, "issuer https://file3.test\ntrust_min 0\n", (size_t) -1,
                           &err), AIM_OK, &err);
        CHECK_INT(cfg->nissuers, 1);
        CHECK_STR(cfg->issuers[0], "https://direct.test");
        CHECK_INT(cfg->trust_min, 90);
        /* A copy keeps the rule. */
        {
            aim_config copy;

            CHECK(aim_config_copy(&copy, cfg) == 0);
            CHECK_ST(aim_config_set(&copy, "issuer", "https://direct2.test", &err), AIM_OK, &err);
            CHECK_INT(copy.nissuers, 2);
            aim_config_clear(&copy);
        }
        aim_config_free(cfg);

        /* A bad line is a bad file even where a direct value overrides
         * it: every reader of the shared file refuses it alike. */
        cfg = aim_config_new();
        CHECK_ST(aim_config_set(cfg, "trust_min", "90", &err), AIM_OK, &err);
        CHECK_ST(load_text(cfg, "trust_min high\n", (size_t) -1, &err), AIM_CONFIG, &err);
        CHECK(err.line == 1 && tu_contains(err.option, "trust_min"));
        CHECK_INT(cfg->trust_min, 90);
        aim_config_free(cfg);
    }

    /* Hostile arguments to the setters. */
    cfg = aim_config_new();
    CHECK_ST(aim_config_set_args(cfg, "audience", NULL, 1, &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_set_args(cfg, "audience", NULL, 0, &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_set(cfg, NULL, "x", &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_set(cfg, "audience", NULL, &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_load(cfg, NULL, &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_load(cfg, tu_path(""), &err), AIM_CONFIG, &err);   /* a directory */
    aim_config_free(cfg);

    /* A FIFO where the file should be: refused, not waited on. */
    {
        pid_t pid;
        int   status = 0;

        unlink(tu_path("atk.fifo"));
        CHECK(mkfifo(tu_path("atk.fifo"), 0600) == 0);
        pid = fork();
        if (pid == 0) {
            aim_config *c = aim_config_new();
            aim_status  s;

            int         ok;

            alarm(5);
            s = aim_config_load(c, tu_path("atk.fifo"), &err);
            ok = s == AIM_CONFIG && tu_contains(err.message, "regular");
            aim_config_free(c);
            _exit(ok ? 0 : 1);
        }
        CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
              && WEXITSTATUS(status) == 0);
        unlink(tu_path("atk.fifo"));
    }
}

/* Every option in the table is documented, and its bounds are those the
 * verifier works within. */
static void
test_option_table(void)
{
    size_t            n, i;
    const aim_option *o = aim_options(&n);
    char             *doc = tu_read(AIM_SRCDIR "/docs/operations.md", NULL);
    aim_config       *cfg;
    aim_error         err;
    char              num[32];

    t_section("attack/option-table");
    CHECK(doc != NULL);
    for (i = 0; i < n; i++) {
        char name[80];

        snprintf(name, sizeof(name), "`%s`", o[i].name);
        CHECKF(doc != NULL && tu_contains(doc, name), "%s is not in docs/operations.md",
               o[i].name);
        CHECK(o[i].min_args <= o[i].max_args);
        if (o[i].type == AIM_OPTION_NUMBER || o[i].type == AIM_OPTION_SECONDS) {
            cfg = aim_config_new();
            snprintf(num, sizeof(num), "%lld", (long long) o[i].min);
            CHECKF(aim_config_set(cfg, o[i].name, num, &err) == AIM_OK, "%s min", o[i].name);
            snprintf(num, sizeof(num), "%lld", (long long) o[i].max);
            CHECKF(aim_config_set(cfg, o[i].name, num, &err) == AIM_OK, "%s max", o[i].name);
            snprintf(num, sizeof(num), "%lld", (long long) o[i].max + 1);
            CHECKF(aim_config_set(cfg, o[i].name, num, &err) == AIM_CONFIG, "%s max+1", o[i].name);
            if (o[i].min > 0) {
                snprintf(num, sizeof(num), "%lld", (long long) o[i].min - 1);
                CHECKF(aim_config_set(cfg, o[i].name, num, &err) == AIM_CONFIG, "%s min-1",
                       o[i].name);
            }
            CHECKF(o[i].def != NULL && aim_config_set(cfg, o[i].name, o[i].def, &err) == AIM_OK,
                   "%s default", o[i].name);
            aim_config_free(cfg);
        }
    }
    free(doc);
    /* A verifier at the extremes of every number starts and decides. */
    {
        aim_verifier *v;
        char         *tok;

        v = tu_verifier_try(&err, "leeway", "600", "max_lifetime", "31622400", "cache",
                            "1048576", "trust_min", "100", "reload_interval", "3600",
                            "dpop_max_age", "3600", NULL);
        CHECKF(v != NULL, "verifier at the upper bounds: %s", err.message);
        aim_verifier_free(v);
        v = tu_verifier_try(&err, "leeway", "0", "max_lifetime", "1", "cache", "0",
                            "trust_min", "0", "reload_interval", "0", "dpop_max_age", "1",
                            NULL);
        CHECKF(v != NULL, "verifier at the lower bounds: %s", err.message);
        if (v != NULL) {
            char exp[64];

            snprintf(exp, sizeof(exp), "{\"exp\":%lld}", tu_now + 1);
            tok = tu_token(NULL, exp);
            CHECK_ST(tu_verify(v, tok, &err), AIM_OK, &err);
            free(tok);
        }
        aim_verifier_free(v);
    }
}

void
test_decide_attack(void)
{
    test_binding_matrix();
    test_cnf_shapes();
    test_replay();
    test_held_token_proof();
    test_bound_token_thief();
    test_request_shapes();
    test_host_denial();
    test_baseline_kinds();
    test_state_unavailable();
    test_no_leak();
    test_config_parser();
    test_option_table();
    tu_lines_reset();
}
