/*
 * fuzz_decide.c -- libFuzzer harness: random request shapes through the
 * decision path (aim_identify, aim_decide, aim_decide_token) over a small
 * set of fixed tokens and DPoP proofs, with a state file, a replay store
 * whose answers the input chooses, and an audit sink.  Every allow is
 * held to the contract: the token verified, its binding honoured (a bound
 * token never as bearer; a DPoP proof valid for this request and new to
 * the store; the named certificate), no host denial, the scopes granted;
 * and every audit line agrees with its decision and quotes no signature.
 *
 * Input: 16 bytes choose the shape (entry point, token, scheme, DPoP
 * mode, proof count, proof, method, URL, certificate, scopes, any, host
 * status, audit mode, store, repeats, continuation); the rest is raw
 * bytes used as the token or the proof when those choices say so.  A
 * continuation (aim_request.continued) of a held token is allowed without
 * its binding; of a presented one, never.
 */
#include "b64.h"
#include "fuzz_common.h"
#include "internal.h"

#define OTHER_URL "https://api.fuzz/kb/43"

enum { TK_PLAIN, TK_JKT, TK_X5T, TK_BOTH, TK_OTHER, TK_EXPIRED, TK_REVOKED,
       TK_SCOPELESS, TK_COUNT };
enum { PR_NONE, PR_VALID, PR_POST, PR_OTHER_URL, PR_OTHER_TOKEN, PR_RAW, PR_COUNT };

static aim_verifier  *v;
static char          *toks[TK_COUNT];
static aim_token     *held[TK_COUNT];
static char          *proofs[TK_COUNT][PR_COUNT];
static unsigned char  cert[32], cert_other[32];

/* The proofs made, and what each is valid for. */
typedef struct {
    const char *proof, *token, *method, *url;
} known_proof;
static known_proof known[TK_COUNT * PR_COUNT];
static int         nknown;

/* ---- the audit sink: the last decision's lines ---- */
static char lines[4][4096];
static int  nlines;

static void
sink(void *ud, const char *line)
{
    (void) ud;
    if (nlines < 4) {
        snprintf(lines[nlines], sizeof(lines[0]), "%s", line);
    }
    nlines++;
}

/* ---- the replay store: its behaviour is the input's ---- */
enum { ST_REMEMBER, ST_FORGET, ST_REPLAY, ST_INTERNAL, ST_WEIRD, ST_COUNT };
static int           store_mode;
static unsigned char store_hash[8][32];
static int           store_n;
static int           store_said_ok;      /* for the current decision */

static aim_status
store(void *ud, const unsigned char hash[32], int64_t expires)
{
    int i;

    (void) ud;
    if (expires <= FUZZ_NOW) {
        fuzz_die("store", "a proof recorded as already expired");
    }
    switch (store_mode) {
    case ST_FORGET:
        store_said_ok = 1;
        return AIM_OK;
    case ST_REPLAY:
        return AIM_REPLAY;
    case ST_INTERNAL:
        return AIM_INTERNAL;
    case ST_WEIRD:
        return (aim_status) 77;
    default:
        for (i = 0; i < store_n; i++) {
            if (memcmp(store_hash[i], hash, 32) == 0) {
                return AIM_REPLAY;
            }
        }
        if (store_n == 8) {
            return AIM_INTERNAL;
        }
        memcpy(store_hash[store_n++], hash, 32);
        store_said_ok = 1;
        return AIM_OK;
    }
}

/* ---- fixtures ---- */

static char *
token_with(const char *sub, const char *jti, int64_t iat, int64_t exp,
           const char *scope, const char *cnf)
{
    char claims[1024];

    snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s\","
             "\"iat\":%lld,\"exp\":%lld,\"jti\":\"%s\"%s%s%s%s}", FUZZ_ISS, sub,
             FUZZ_AUD, (long long) iat, (long long) exp, jti,
             scope ? ",\"scope\":\"" : "", scope ? scope : "", scope ? "\"" : "",
             cnf ? cnf : "");
    return fuzz_sign(0, "{\"alg\":\"ES256\",\"typ\":\"aim+jwt\",\"kid\":\"f-es256\"}",
                     claims);
}

static char *
proof(const char *jwk, const char *tok, const char *method, const char *url,
      const char *jti)
{
    unsigned char h[32];
    char          ath[44], header[1024], claims[1024];

    aim_sha256(tok, strlen(tok), h);
    aim_b64url_encode(h, 32, ath);
    snprintf(header, sizeof(header), "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":%s}", jwk);
    snprintf(claims, sizeof(claims), "{\"jti\":\"%s\",\"htm\":\"%s\",\"htu\":\"%s\","
             "\"iat\":%lld,\"ath\":\"%s\"}", jti, method, url, FUZZ_NOW, ath);
    return fuzz_sign(0, header, claims);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char           jkt[44], x5t[44], cnf[256], jti[32], *jwk;
    char           dir[] = "/tmp/aim-fuzz-decide.XXXXXX", state[64];
    aim_error      err;
    EVP_PKEY      *k = fuzz_privkey(0);
    json_t        *j = aim_pubkey_to_jwk(k, AIM_ALG_ES256, NULL, &err);
    int            i, p;
    const char    *others[TK_COUNT];

    (void) argc;
    (void) argv;
    if (mkdtemp(dir) == NULL) {
        fuzz_die("mkdtemp", dir);
    }
    snprintf(state, sizeof(state), "%s/state", dir);
    v = fuzz_verifier_state(state);
    unlink(state);                  /* mapped: the file is no longer needed */
    rmdir(dir);
    aim_verifier_set_audit(v, sink, NULL);

    json_object_del(j, "kid");
    jwk = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    EVP_PKEY_free(k);
    fuzz_holder_jkt(jkt);
    memset(cert, 0x42, sizeof(cert));
    memset(cert_other, 0x43, sizeof(cert_other));
    aim_b64url_encode(cert, 32, x5t);

    toks[TK_PLAIN] = token_with("agent-1", "plain", FUZZ_NOW, FUZZ_NOW + 600,
                                "kb:read kb:write", NULL);
    snprintf(cnf, sizeof(cnf), ",\"cnf\":{\"jkt\":\"%s\"}", jkt);
    toks[TK_JKT] = token_with("agent-1", "jkt", FUZZ_NOW, FUZZ_NOW + 600, "kb:read", cnf);
    snprintf(cnf, sizeof(cnf), ",\"cnf\":{\"x5t#S256\":\"%s\"}", x5t);
    toks[TK_X5T] = token_with("agent-1", "x5t", FUZZ_NOW, FUZZ_NOW + 600, "kb:read", cnf);
    snprintf(cnf, sizeof(cnf), ",\"cnf\":{\"jkt\":\"%s\",\"x5t#S256\":\"%s\"}", jkt, x5t);
    toks[TK_BOTH] = token_with("agent-2", "both", FUZZ_NOW, FUZZ_NOW + 600, "kb:read", cnf);
    snprintf(cnf, sizeof(cnf), ",\"cnf\":{\"jkt\":\"%s\",\"jku\":\"https://k.fuzz\"}", jkt);
    toks[TK_OTHER] = token_with("agent-2", "other", FUZZ_NOW, FUZZ_NOW + 600, "kb:read", cnf);
    toks[TK_EXPIRED] = token_with("agent-3", "old", FUZZ_NOW - 7200, FUZZ_NOW - 3600,
                                  "kb:read", NULL);
    toks[TK_REVOKED] = token_with("agent-666", "rev", FUZZ_NOW, FUZZ_NOW + 600,
                                  "kb:read", NULL);
    toks[TK_SCOPELESS] = token_with("agent-3", "none", FUZZ_NOW, FUZZ_NOW + 600, NULL, NULL);

    for (i = 0; i < TK_COUNT; i++) {
        if (aim_verify(v, toks[i], strlen(toks[i]), &held[i], &err) != AIM_OK) {
            held[i] = NULL;
        }
        others[i] = i == TK_JKT ? toks[TK_BOTH] : toks[TK_JKT];
        for (p = PR_VALID; p < PR_RAW; p++) {
            snprintf(jti, sizeof(jti), "p-%d-%d", i, p);
            proofs[i][p] = proof(jwk, p == PR_OTHER_TOKEN ? others[i] : toks[i],
                                 p == PR_POST ? "POST" : "GET",
                                 p == PR_OTHER_URL ? OTHER_URL : FUZZ_HTU, jti);
            known[nknown].proof = proofs[i][p];
            known[nknown].token = p == PR_OTHER_TOKEN ? others[i] : toks[i];
            known[nknown].method = p == PR_POST ? "POST" : "GET";
            known[nknown].url = p == PR_OTHER_URL ? OTHER_URL : FUZZ_HTU;
            nknown++;
        }
    }
    if (held[TK_PLAIN] == NULL || held[TK_JKT] == NULL || held[TK_BOTH] == NULL
        || held[TK_EXPIRED] != NULL || held[TK_REVOKED] != NULL)
    {
        fuzz_die("fixtures", "tokens do not verify as expected");
    }
    free(jwk);
    return 0;
}

/* ---- the contract ---- */

static int
same(const char *a, size_t alen, const char *b)
{
    return a != NULL && b != NULL && alen == strlen(b) && memcmp(a, b, alen) == 0;
}

/* Is r's one proof, for the token decided, made for this method and URL? */
static int
proof_valid(const aim_request *r, const char *decided)
{
    int i;

    if (r->nproofs != 1 || r->method == NULL || r->url == NULL) {
        return 0;
    }
    for (i = 0; i < nknown; i++) {
        if (same(r->proof, r->proof_len, known[i].proof)
            && strcmp(known[i].token, decided) == 0
            && strcmp(known[i].method, r->method) == 0
            && strncmp(r->url, known[i].url, strlen(known[i].url)) == 0
            && (r->url[strlen(known[i].url)] == '\0'
                || r->url[strlen(known[i].url)] == '?'))
        {
            return 1;
        }
    }
    return 0;
}

/* Do the required scopes allow t? */
static int
scopes_ok(const aim_request *r, const aim_token *t)
{
    size_t i, granted = 0;

    if (r->nscopes > 0 && r->scopes == NULL) {
        return 0;
    }
    if (r->nscopes == 0) {
        return !r->any;
    }
    for (i = 0; i < r->nscopes; i++) {
        granted += r->scopes[i] != NULL && aim_token_has_scope(t, r->scopes[i]);
    }
    return r->any ? granted > 0 : granted == r->nscopes;
}

/* Which of our tokens are these bytes (NULL: none)? */
static const char *
ours(const char *tok, size_t len)
{
    int i;

    for (i = 0; i < TK_COUNT; i++) {
        if (same(tok, len, toks[i])) {
            return toks[i];
        }
    }
    return NULL;
}

static int
leaks(const char *hay, const char *jws)
{
    const char *sig = jws != NULL ? strrchr(jws, '.') : NULL;
    size_t      i, n;

    if (sig == NULL) {
        return 0;
    }
    sig++;
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const need_read[] = { "kb:read" };
    static const char *const need_admin[] = { "kb:admin" };
    static const char *const need_null[] = { NULL };
    static const char *const need_any[] = { "kb:admin", "kb:read" };
    uint8_t       b[16];
    const char   *raw = NULL;
    char         *rawbuf = NULL;
    size_t        rawlen = 0;
    int           entry, tk, scheme, dpop, nproofs, pr, method, url, certc, sc,
                  any, host, audit, repeats, rep, continued;
    const aim_token *use_held;

    memset(b, 0, sizeof(b));
    memcpy(b, data, size < sizeof(b) ? size : sizeof(b));
    if (size > sizeof(b)) {
        rawlen = size - sizeof(b);
        rawbuf = malloc(rawlen + 1);
        if (rawbuf == NULL) {
            return 0;
        }
        memcpy(rawbuf, data + sizeof(b), rawlen);
        rawbuf[rawlen] = '\0';
        raw = rawbuf;
    }
    entry = b[0] % 3;
    tk = b[1] % (TK_COUNT + 1);               /* TK_COUNT: the raw bytes */
    scheme = b[2] % 4;                        /* 3: outside the enum */
    dpop = b[3] % 4;
    nproofs = b[4] % 3;
    pr = b[5] % PR_COUNT;
    method = b[6] % 3;
    url = b[7] % 4;
    certc = b[8] % 3;
    sc = b[9] % 6;
    any = b[10] & 1;
    host = b[11] % 4;
    audit = b[12] % 3;
    store_mode = b[13] % ST_COUNT;
    repeats = 1 + b[14] % 3;
    continued = b[15] & 1;
    store_n = 0;

    for (rep = 0; rep < repeats; rep++) {
        aim_request   r;
        aim_decision  d;
        aim_status    s;
        const char   *tok = tk == TK_COUNT ? raw : toks[tk];
        const char   *pf;

        memset(&r, 0, sizeof(r));
        r.adapter = "fuzz";
        r.action = method == 1 ? "POST" : "GET";
        r.resource = "/kb/42";
        r.token = tok;
        r.token_len = tok == NULL ? 0 : tk == TK_COUNT ? rawlen : strlen(tok);
        r.scheme = scheme == 3 ? (aim_scheme) 7 : (aim_scheme) scheme;
        r.dpop = dpop == 3 ? (aim_dpop_mode) 9 : (aim_dpop_mode) dpop;
        pf = pr == PR_NONE ? NULL : pr == PR_RAW ? raw
             : tk < TK_COUNT ? proofs[tk][pr] : proofs[TK_JKT][pr];
        r.proof = pf;
        r.proof_len = pf == NULL ? 0 : pr == PR_RAW ? rawlen : strlen(pf);
        r.nproofs = (unsigned) nproofs;
        r.method = method == 0 ? "GET" : method == 1 ? "POST" : NULL;
        r.url = url == 0 ? FUZZ_HTU : url == 1 ? FUZZ_HTU "?q=1" : url == 2 ? OTHER_URL : NULL;
        r.replay = store;
        r.cert_sha256 = certc == 0 ? NULL : certc == 1 ? cert : cert_other;
        switch (sc) {
        case 0: r.scopes = NULL; r.nscopes = 0; break;
        case 1: r.scopes = need_read; r.nscopes = 1; break;
        case 2: r.scopes = need_admin; r.nscopes = 1; break;
        case 3: r.scopes = need_null; r.nscopes = 1; break;
        case 4: r.scopes = NULL; r.nscopes = 3; break;
        default: r.scopes = need_any; r.nscopes = 2; break;
        }
        r.any = any;
        r.host_status = host == 0 ? AIM_OK : host == 1 ? AIM_POLICY_DENIED
                        : host == 2 ? AIM_INTERNAL : (aim_status) 99;
        r.host_message = "host";
        r.audit = audit == 2 ? (aim_audit_mode) 5 : (aim_audit_mode) audit;
        r.continued = continued;

        nlines = 0;
        store_said_ok = 0;
        use_held = tk < TK_COUNT ? held[tk] : NULL;
        s = entry == 0 ? aim_identify(v, &r, &d)
            : entry == 1 || tk == TK_COUNT ? aim_decide(v, &r, &d)
            : aim_decide_token(v, use_held, &r, &d);

        if (s != d.status) {
            fuzz_die("decision", "returned status differs from d.status");
        }
        if (continued && (entry != 2 || tk == TK_COUNT) && s == AIM_OK) {
            fuzz_die("continued", "a presented token taken as a continuation");
        }
        if (s == AIM_OK) {
            const aim_token *t = d.token;
            const char      *decided = entry == 2 && tk < TK_COUNT ? toks[tk]
                                       : ours(r.token, r.token_len);
            int jkt = t != NULL && t->cnf_jkt != NULL;
            int x5t = t != NULL && t->cnf_x5t != NULL;
            int proof_ok = decided != NULL && proof_valid(&r, decided) && store_said_ok;

            if (t == NULL || t->cnf_other) {
                fuzz_die("allow", "without a token, or with a cnf nobody checks");
            }
            if (scheme > AIM_SCHEME_DPOP || dpop > AIM_DPOP_REQUIRED || audit == 2) {
                fuzz_die("allow", "of a request with values outside the enums");
            }
            /* a continuation of a held token: its binding was checked
             * when the event began */
            if (!continued
                && (r.scheme == AIM_SCHEME_DPOP
                    ? (r.dpop == AIM_DPOP_OFF || !jkt || !proof_ok)
                    : (jkt || r.dpop == AIM_DPOP_REQUIRED)))
            {
                fuzz_die("allow", "a bound token without its proof, or DPoP where "
                         "it does not apply");
            }
            if (x5t && certc != 1 && !continued) {
                fuzz_die("allow", "an x5t#S256 token without its certificate");
            }
            if (entry != 0 && (host != 0 || !scopes_ok(&r, t))) {
                fuzz_die("allow", "despite the host's denial or the scopes");
            }
            if (decided == toks[TK_EXPIRED] || decided == toks[TK_REVOKED]) {
                fuzz_die("allow", "an expired or revoked token");
            }
        }
        if (entry == 0) {
            if (nlines != 0) {
                fuzz_die("identify", "wrote an audit line");
            }
        } else if (s != AIM_OK || audit != 1) {
            if (nlines != 1 || strstr(lines[0], s == AIM_OK ? "\"decision\":\"allow\""
                                                            : "\"decision\":\"deny\"") == NULL) {
                fuzz_die("audit", "the line does not agree with the decision");
            }
        } else if (nlines != 0) {
            fuzz_die("audit", "an allow audited in denials-only mode");
        }
        /* Our own tokens and proofs (raw bytes may quote themselves in a
         * kid, legitimately) never appear in a message or a line. */
        if (tk < TK_COUNT && pr != PR_RAW
            && (leaks(d.message, tok) || leaks(d.message, pf)
                || (nlines > 0 && (leaks(lines[0], tok) || leaks(lines[0], pf)))))
        {
            fuzz_die("message", "quotes a token's or proof's signature");
        }
        aim_decision_clear(&d);
    }
    free(rawbuf);
    return 0;
}
