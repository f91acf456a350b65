/*
 * test_dpop.c -- DPoP proofs (RFC 9449) through aim_dpop_verify.
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "keys.h"
#include "sign.h"
#include "t.h"
#include "tu.h"
#include "units.h"

#define HTU "https://api.test/kb/42"

static aim_verifier *v;
static aim_token    *bound;          /* verified token with cnf.jkt */
static char         *bound_tok;
static EVP_PKEY     *holder;
static char         *holder_jwk;     /* compact public JWK */
static aim_error     err;

/* A replay store that remembers, as an adapter's would. */
static unsigned char store_hash[8][32];
static long long     store_expires[8];
static int           store_n, store_full;

static void
store_reset(void)
{
    store_n = 0;
    store_full = 0;
}

static aim_status
store_replay(void *ud, const unsigned char hash[32], int64_t expires)
{
    int i;

    (void) ud;
    if (store_full) {
        return AIM_INTERNAL;
    }
    for (i = 0; i < store_n; i++) {
        if (memcmp(store_hash[i], hash, 32) == 0) {
            return AIM_REPLAY;
        }
    }
    if (store_n == 8) {
        return AIM_INTERNAL;
    }
    memcpy(store_hash[store_n], hash, 32);
    store_expires[store_n++] = (long long) expires;
    return AIM_OK;
}

static char *
ath_of(const char *tok)
{
    unsigned char h[32];

    aim_sha256(tok, strlen(tok), h);
    return tu_b64(h, 32);
}

/* A proof: header and claims from format strings, raw, then signed. */
static char *
proof_by(EVP_PKEY *k, aim_alg alg, const char *header, const char *claims)
{
    return tu_sign_raw(k, alg, header, strlen(header), claims, strlen(claims));
}

static char *
std_claims(const char *jti, const char *htm, const char *htu, long long iat,
           const char *ath)
{
    char *c = malloc(1024);

    snprintf(c, 1024, "{\"jti\":\"%s\",\"htm\":\"%s\",\"htu\":\"%s\",\"iat\":%lld%s%s%s}",
             jti, htm, htu, iat, ath ? ",\"ath\":\"" : "", ath ? ath : "", ath ? "\"" : "");
    return c;
}

static char *
std_header(const char *alg, const char *jwk)
{
    char *h = malloc(2048);

    snprintf(h, 2048, "{\"typ\":\"dpop+jwt\",\"alg\":\"%s\",\"jwk\":%s}", alg, jwk);
    return h;
}

static aim_status
check(const char *proof, const char *tok, const aim_token *t, const char *method,
      const char *url, unsigned char hash[32])
{
    aim_dpop_request req = { method, url, 60 };
    unsigned char    h[32];

    return aim_dpop_verify(v, proof, proof != NULL ? strlen(proof) : 0, tok,
                           tok != NULL ? strlen(tok) : 0, t, &req,
                           hash != NULL ? hash : h, &err);
}

/* Build (header, claims), sign with k/alg, check against the bound token. */
static aim_status
try_proof(EVP_PKEY *k, aim_alg alg, const char *header, const char *claims)
{
    char       *p = proof_by(k, alg, header, claims);
    aim_status  s = check(p, bound_tok, bound, "GET", HTU, NULL);

    free(p);
    return s;
}

static void
setup(void)
{
    char       tp[44], claims[200];
    json_t    *j;

    holder = tu_key_new(AIM_ALG_ES256, 0);
    holder_jwk = tu_jwk(holder, AIM_ALG_ES256, "holder");
    j = tu_json(holder_jwk);
    aim_jwk_thumbprint(j, tp, &err);
    json_decref(j);
    snprintf(claims, sizeof(claims), "{\"cnf\":{\"jkt\":\"%s\"}}", tp);
    v = tu_verifier(NULL);
    bound_tok = tu_token(NULL, claims);
    bound = NULL;
    aim_verify(v, bound_tok, strlen(bound_tok), &bound, &err);
}

void
test_dpop(void)
{
    char          *ath, *h, *c, *p, *evil_jwk;
    unsigned char  hash[32], want[32];
    EVP_PKEY      *evil;
    long long      now;

    t_section("dpop/valid");
    setup();
    now = (long long) tu_now;
    CHECK(bound != NULL && aim_token_cnf_jkt(bound) != NULL);
    if (bound == NULL) {
        return;
    }
    ath = ath_of(bound_tok);
    h = std_header("ES256", holder_jwk);
    c = std_claims("proof-1", "GET", HTU, now, ath);
    p = proof_by(holder, AIM_ALG_ES256, h, c);
    CHECK_ST(check(p, bound_tok, bound, "GET", HTU, hash), AIM_OK, &err);
    {
        /* The replay identity: SHA-256(jkt "." jti). */
        char buf[64];
        snprintf(buf, sizeof(buf), "%s.proof-1", aim_token_cnf_jkt(bound));
        aim_sha256(buf, strlen(buf), want);
        CHECK(memcmp(hash, want, 32) == 0);
    }
    /* Query and fragment are not part of the comparison. */
    CHECK_ST(check(p, bound_tok, bound, "GET", HTU "?page=2", NULL), AIM_OK, &err);
    CHECK_ST(check(p, bound_tok, bound, "GET", HTU "#top", NULL), AIM_OK, &err);
    /* RFC 3986 normalisation on both sides: case of scheme and host, and
     * the default port; the path stays case-sensitive. */
    CHECK_ST(check(p, bound_tok, bound, "GET", "HTTPS://API.Test/kb/42", NULL), AIM_OK, &err);
    CHECK_ST(check(p, bound_tok, bound, "GET", "https://api.test:443/kb/42", NULL), AIM_OK, &err);
    CHECK_ST(check(p, bound_tok, bound, "GET", "https://api.test:8443/kb/42", NULL), AIM_BAD_BINDING, &err);
    CHECK_ST(check(p, bound_tok, bound, "GET", "https://api.test/KB/42", NULL), AIM_BAD_BINDING, &err);
    CHECK_ST(check(p, bound_tok, bound, "GET", "https://api.test.evil/kb/42", NULL), AIM_BAD_BINDING, &err);
    CHECK_ST(check(p, bound_tok, bound, "GET", "api.test/kb/42", NULL), AIM_BAD_BINDING, &err);
    /* Request mismatches. */
    CHECK_ST(check(p, bound_tok, bound, "POST", HTU, NULL), AIM_BAD_BINDING, &err);
    CHECK_ST(check(p, bound_tok, bound, "get", HTU, NULL), AIM_BAD_BINDING, &err);
    CHECK_ST(check(p, bound_tok, bound, NULL, HTU, NULL), AIM_BAD_BINDING, &err);
    CHECK_ST(check(p, bound_tok, bound, "GET", HTU "/", NULL), AIM_BAD_BINDING, &err);
    CHECK_ST(check(p, bound_tok, bound, "GET", "https://api.test/kb/4", NULL), AIM_BAD_BINDING, &err);
    CHECK_ST(check(p, bound_tok, bound, "GET", "https://api.test/kb/420", NULL), AIM_BAD_BINDING, &err);
    CHECK_ST(check(p, bound_tok, bound, "GET", "http://api.test/kb/42", NULL), AIM_BAD_BINDING, &err);
    CHECK_ST(check(p, bound_tok, bound, "GET", "", NULL), AIM_BAD_BINDING, &err);
    CHECK_ST(check(p, bound_tok, bound, "GET", NULL, NULL), AIM_BAD_BINDING, &err);
    /* The proof is for another access token (ath). */
    {
        char *other = tu_token(NULL, NULL);
        CHECK_ST(check(p, other, bound, "GET", HTU, NULL), AIM_BAD_BINDING, &err);
        free(other);
    }
    /* A token without cnf cannot be used with any proof. */
    {
        char *plain = tu_token(NULL, NULL);
        aim_token *t = NULL;
        aim_verify(v, plain, strlen(plain), &t, &err);
        if (t != NULL) {
            CHECK_ST(check(p, plain, t, "GET", HTU, NULL), AIM_BAD_BINDING, &err);
            aim_token_free(t);
        }
        free(plain);
    }
    free(p);
    free(c);

    t_section("dpop/decide");
    {
        /* A key-bound token is not a bearer token: refused wherever no
         * proof is checked (req.dpop = AIM_DPOP_OFF), and where proofs are
         * checked but the token came as a bearer token. */
        aim_request r = { .adapter = "test", .action = "GET", .resource = "/kb/42" };
        aim_token  *t = NULL;
        CHECK_ST(tu_decide(v, bound_tok, strlen(bound_tok), &r, &t, &err), AIM_BAD_BINDING, &err);
        aim_token_free(t);
        CHECK_ST(tu_decide_token(v, bound, &r, &err), AIM_BAD_BINDING, &err);
        r.dpop = AIM_DPOP_ON;
        t = NULL;
        CHECK_ST(tu_decide(v, bound_tok, strlen(bound_tok), &r, &t, &err), AIM_BAD_BINDING, &err);
        aim_token_free(t);
        CHECK_ST(tu_decide_token(v, bound, &r, &err), AIM_BAD_BINDING, &err);
    }

    t_section("dpop/decide-proof");
    {
        /* The whole path: the adapter hands over the proof, the request's
         * method and URL and its replay store; the core decides. */
        char        *pc = std_claims("decide-1", "GET", HTU, now, ath);
        char        *pp = proof_by(holder, AIM_ALG_ES256, h, pc);
        aim_request  r = { .adapter = "test", .action = "GET", .resource = "/kb/42",
                           .token = bound_tok, .token_len = strlen(bound_tok),
                           .scheme = AIM_SCHEME_DPOP, .dpop = AIM_DPOP_ON,
                           .proof = pp, .proof_len = strlen(pp), .nproofs = 1,
                           .method = "GET", .url = HTU, .replay = store_replay };
        aim_decision d;

        store_reset();
        CHECK_ST(aim_decide(v, &r, &d), AIM_OK, NULL);
        CHECK(d.token != NULL && !d.proof_error);
        CHECK_INT(store_n, 1);
        /* what the store was asked to keep, and for how long: max_age
         * (60) plus twice the leeway (30) */
        CHECK_INT(store_expires[0], (long long) tu_now + 60 + 2 * 30);
        aim_decision_clear(&d);
        /* The same proof again: the store remembers it. */
        CHECK_ST(aim_decide(v, &r, &d), AIM_REPLAY, NULL);
        CHECK(d.token != NULL);          /* the agent is still named */
        aim_decision_clear(&d);
        /* A store that cannot tell: refused, never allowed. */
        store_reset();
        store_full = 1;
        CHECK_ST(tu_decide_status(v, &r), AIM_INTERNAL, NULL);
        store_full = 0;
        /* No store at all: the adapter forgot it; refused. */
        r.replay = NULL;
        CHECK_ST(tu_decide_status(v, &r), AIM_INTERNAL, NULL);
        r.replay = store_replay;
        /* Two proof headers, none, a proof for another URL: the proof is
         * what failed (invalid_dpop_proof). */
        store_reset();
        r.nproofs = 2;
        CHECK_ST(aim_decide(v, &r, &d), AIM_BAD_BINDING, NULL);
        CHECK(d.proof_error);
        aim_decision_clear(&d);
        r.nproofs = 0;
        r.proof = NULL;
        CHECK_ST(aim_decide(v, &r, &d), AIM_BAD_BINDING, NULL);
        CHECK(d.proof_error);
        aim_decision_clear(&d);
        r.nproofs = 1;
        r.proof = pp;
        r.url = "https://other.test/kb/42";
        CHECK_ST(aim_decide(v, &r, &d), AIM_BAD_BINDING, NULL);
        CHECK(d.proof_error && tu_contains(d.message, "htu"));
        aim_decision_clear(&d);
        CHECK_INT(store_n, 0);           /* nothing recorded for refusals */
        r.url = HTU;
        /* DPoP where it is off: refused, whatever the proof. */
        r.dpop = AIM_DPOP_OFF;
        CHECK_ST(tu_decide_status(v, &r), AIM_BAD_BINDING, NULL);
        /* The DPoP scheme with a token bound to nothing. */
        {
            char *plain = tu_token(NULL, NULL);
            r.dpop = AIM_DPOP_ON;
            r.token = plain;
            r.token_len = strlen(plain);
            CHECK_ST(aim_decide(v, &r, &d), AIM_BAD_BINDING, NULL);
            CHECK(!d.proof_error && tu_contains(d.message, "not bound"));
            aim_decision_clear(&d);
            /* ... and the same token as a bearer where DPoP is required */
            r.scheme = AIM_SCHEME_BEARER;
            r.dpop = AIM_DPOP_REQUIRED;
            CHECK_ST(aim_decide(v, &r, &d), AIM_BAD_BINDING, NULL);
            CHECK(tu_contains(d.message, "required"));
            aim_decision_clear(&d);
            r.dpop = AIM_DPOP_ON;
            CHECK_ST(tu_decide_status(v, &r), AIM_OK, NULL);
            free(plain);
        }
        free(pp);
        free(pc);
    }

    t_section("dpop/continued");
    {
        /* A held token re-checked while its request goes on (nginx: a
         * response still streaming): the binding was checked when the
         * request began, and a proof is fresh only once. */
        char        *pc = std_claims("cont-1", "GET", HTU, now, ath);
        char        *pp = proof_by(holder, AIM_ALG_ES256, h, pc);
        aim_request  r = { .adapter = "test", .action = "GET", .resource = "/kb/42",
                           .scheme = AIM_SCHEME_DPOP, .dpop = AIM_DPOP_ON,
                           .proof = pp, .proof_len = strlen(pp), .nproofs = 1,
                           .method = "GET", .url = HTU, .replay = store_replay,
                           .audit = AIM_AUDIT_DENIALS, .observe = AIM_OBSERVE_READ,
                           .continued = 1 };
        aim_decision d;
        long long    t0 = tu_now;

        store_reset();
        CHECK_ST(tu_decide_token_status(v, bound, &r), AIM_OK, NULL);
        CHECK_INT(store_n, 0);           /* the proof was not spent again */
        /* long after the proof's iat: still the same request */
        tu_now = t0 + 300;
        CHECK_ST(tu_decide_token_status(v, bound, &r), AIM_OK, NULL);
        /* ... which a re-check that is not a continuation refuses */
        r.continued = 0;
        CHECK_ST(aim_decide_token(v, bound, &r, &d), AIM_BAD_BINDING, NULL);
        CHECK(d.proof_error);
        aim_decision_clear(&d);
        r.continued = 1;
        /* the token itself is checked in full: past exp + leeway, expired */
        tu_now = t0 + 600 + 31;
        CHECK_ST(tu_decide_token_status(v, bound, &r), AIM_EXPIRED, NULL);
        tu_now = t0;
        /* a presented token is never a continuation */
        r.token = bound_tok;
        r.token_len = strlen(bound_tok);
        CHECK_ST(aim_decide(v, &r, &d), AIM_INTERNAL, NULL);
        CHECK(d.token == NULL && tu_contains(d.message, "continuation"));
        aim_decision_clear(&d);
        CHECK_ST(aim_identify(v, &r, &d), AIM_INTERNAL, NULL);
        aim_decision_clear(&d);
        CHECK_INT(store_n, 0);
        free(pp);
        free(pc);
    }

    t_section("dpop/time");
    c = std_claims("p", "GET", HTU, now - 60 - 30, ath);
    CHECK_ST(try_proof(holder, AIM_ALG_ES256, h, c), AIM_OK, &err);
    free(c);
    c = std_claims("p", "GET", HTU, now - 60 - 31, ath);
    CHECK_ST(try_proof(holder, AIM_ALG_ES256, h, c), AIM_BAD_BINDING, &err);
    free(c);
    c = std_claims("p", "GET", HTU, now + 30, ath);
    CHECK_ST(try_proof(holder, AIM_ALG_ES256, h, c), AIM_OK, &err);
    free(c);
    c = std_claims("p", "GET", HTU, now + 31, ath);
    CHECK_ST(try_proof(holder, AIM_ALG_ES256, h, c), AIM_BAD_BINDING, &err);
    free(c);
    {
        static const char *const iats[] = { "\"1800000000\"", "null", "1e300", "-1e300",
                                            "9.3e18", "-9.3e18", "[1]" };
        size_t i;
        for (i = 0; i < sizeof(iats) / sizeof(iats[0]); i++) {
            char cl[512];
            aim_status s;
            snprintf(cl, sizeof(cl), "{\"jti\":\"p\",\"htm\":\"GET\",\"htu\":\"%s\",\"iat\":%s,"
                     "\"ath\":\"%s\"}", HTU, iats[i], ath);
            s = try_proof(holder, AIM_ALG_ES256, h, cl);
            CHECKF(s == AIM_BAD_BINDING, "iat %s: %s", iats[i], aim_reason(s));
        }
    }

    t_section("dpop/claims");
    c = std_claims("p", "GET", HTU, now, NULL);
    CHECK_ST(try_proof(holder, AIM_ALG_ES256, h, c), AIM_BAD_BINDING, &err);  /* no ath */
    p = proof_by(holder, AIM_ALG_ES256, h, c);
    /* The access token is required: a proof is always bound to it. */
    CHECK_ST(check(p, NULL, bound, "GET", HTU, NULL), AIM_BAD_BINDING, &err);
    free(p);
    free(c);
    {
        char cl[700], big[300];
        memset(big, 'j', 257);
        big[257] = '\0';
        snprintf(cl, sizeof(cl), "{\"htm\":\"GET\",\"htu\":\"%s\",\"iat\":%lld,\"ath\":\"%s\"}", HTU, now, ath);
        CHECK_ST(try_proof(holder, AIM_ALG_ES256, h, cl), AIM_BAD_BINDING, &err);
        snprintf(cl, sizeof(cl), "{\"jti\":\"\",\"htm\":\"GET\",\"htu\":\"%s\",\"iat\":%lld,\"ath\":\"%s\"}", HTU, now, ath);
        CHECK_ST(try_proof(holder, AIM_ALG_ES256, h, cl), AIM_BAD_BINDING, &err);
        snprintf(cl, sizeof(cl), "{\"jti\":\"%s\",\"htm\":\"GET\",\"htu\":\"%s\",\"iat\":%lld,\"ath\":\"%s\"}", big, HTU, now, ath);
        CHECK_ST(try_proof(holder, AIM_ALG_ES256, h, cl), AIM_BAD_BINDING, &err);
        snprintf(cl, sizeof(cl), "{\"jti\":7,\"htm\":\"GET\",\"htu\":\"%s\",\"iat\":%lld,\"ath\":\"%s\"}", HTU, now, ath);
        CHECK_ST(try_proof(holder, AIM_ALG_ES256, h, cl), AIM_BAD_BINDING, &err);
        snprintf(cl, sizeof(cl), "{\"jti\":\"p\",\"htu\":\"%s\",\"iat\":%lld,\"ath\":\"%s\"}", HTU, now, ath);
        CHECK_ST(try_proof(holder, AIM_ALG_ES256, h, cl), AIM_BAD_BINDING, &err);
        snprintf(cl, sizeof(cl), "{\"jti\":\"p\",\"htm\":\"GET\",\"iat\":%lld,\"ath\":\"%s\"}", now, ath);
        CHECK_ST(try_proof(holder, AIM_ALG_ES256, h, cl), AIM_BAD_BINDING, &err);
        snprintf(cl, sizeof(cl), "{\"jti\":\"p\",\"htm\":\"GET\",\"htu\":\"%s\",\"iat\":%lld,\"ath\":\"%s\",\"jti\":\"q\"}", HTU, now, ath);
        CHECK_ST(try_proof(holder, AIM_ALG_ES256, h, cl), AIM_BAD_BINDING, &err);
        snprintf(cl, sizeof(cl), "{\"jti\":\"p\\u0000q\",\"htm\":\"GET\",\"htu\":\"%s\",\"iat\":%lld,\"ath\":\"%s\"}", HTU, now, ath);
        CHECK_ST(try_proof(holder, AIM_ALG_ES256, h, cl), AIM_BAD_BINDING, &err);
        CHECK_ST(try_proof(holder, AIM_ALG_ES256, h, "[]"), AIM_BAD_BINDING, &err);
        CHECK_ST(try_proof(holder, AIM_ALG_ES256, h, "not json"), AIM_BAD_BINDING, &err);
    }

    t_section("dpop/header");
    c = std_claims("p", "GET", HTU, now, ath);
    {
        char hh[2048];
        snprintf(hh, sizeof(hh), "{\"typ\":\"jwt\",\"alg\":\"ES256\",\"jwk\":%s}", holder_jwk);
        CHECK_ST(try_proof(holder, AIM_ALG_ES256, hh, c), AIM_BAD_BINDING, &err);
        snprintf(hh, sizeof(hh), "{\"alg\":\"ES256\",\"jwk\":%s}", holder_jwk);
        CHECK_ST(try_proof(holder, AIM_ALG_ES256, hh, c), AIM_BAD_BINDING, &err);
        snprintf(hh, sizeof(hh), "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\"}");
        CHECK_ST(try_proof(holder, AIM_ALG_ES256, hh, c), AIM_BAD_BINDING, &err);
        snprintf(hh, sizeof(hh), "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":\"x\"}");
        CHECK_ST(try_proof(holder, AIM_ALG_ES256, hh, c), AIM_BAD_BINDING, &err);
        snprintf(hh, sizeof(hh), "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":%s,\"crit\":[\"x\"]}", holder_jwk);
        CHECK_ST(try_proof(holder, AIM_ALG_ES256, hh, c), AIM_BAD_BINDING, &err);
        /* alg none / HS256 / an alg that does not fit the key */
        snprintf(hh, sizeof(hh), "{\"typ\":\"dpop+jwt\",\"alg\":\"none\",\"jwk\":%s}", holder_jwk);
        CHECK_ST(try_proof(holder, AIM_ALG_ES256, hh, c), AIM_BAD_BINDING, &err);
        snprintf(hh, sizeof(hh), "{\"typ\":\"dpop+jwt\",\"alg\":\"HS256\",\"jwk\":%s}", holder_jwk);
        CHECK_ST(try_proof(holder, AIM_ALG_ES256, hh, c), AIM_BAD_BINDING, &err);
        snprintf(hh, sizeof(hh), "{\"typ\":\"dpop+jwt\",\"alg\":\"ES384\",\"jwk\":%s}", holder_jwk);
        CHECK_ST(try_proof(holder, AIM_ALG_ES256, hh, c), AIM_BAD_BINDING, &err);
        /* A private key in the proof's jwk. */
        {
            json_t *j = tu_json(holder_jwk);
            char *pj;
            json_object_set_new(j, "d", json_string("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"));
            pj = json_dumps(j, JSON_COMPACT);
            json_decref(j);
            snprintf(hh, sizeof(hh), "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":%s}", pj);
            CHECK_ST(try_proof(holder, AIM_ALG_ES256, hh, c), AIM_BAD_BINDING, &err);
            free(pj);
        }
        CHECK_ST(try_proof(holder, AIM_ALG_ES256,
                           "{\"typ\":\"dpop+jwt\",\"alg\":\"HS256\",\"jwk\":{\"kty\":\"oct\",\"k\":\"AAAA\"}}",
                           c), AIM_BAD_BINDING, &err);
    }
    /* The attacker's own key, correctly signed: not the bound key. */
    evil = tu_key_new(AIM_ALG_ES256, 0);
    evil_jwk = tu_jwk(evil, AIM_ALG_ES256, "holder");
    {
        char *eh = std_header("ES256", evil_jwk);
        CHECK_ST(try_proof(evil, AIM_ALG_ES256, eh, c), AIM_BAD_BINDING, &err);
        free(eh);
    }
    /* The bound key's jwk, signed by the attacker. */
    CHECK_ST(try_proof(evil, AIM_ALG_ES256, h, c), AIM_BAD_BINDING, &err);
    EVP_PKEY_free(evil);
    free(evil_jwk);

    t_section("dpop/shape");
    p = proof_by(holder, AIM_ALG_ES256, h, c);
    {
        char *big = malloc(9000);
        memset(big, 'A', 8999);
        big[8999] = '\0';
        memcpy(big, p, strlen(p));
        CHECK_ST(check(big, bound_tok, bound, "GET", HTU, NULL), AIM_BAD_BINDING, &err);
        free(big);
    }
    CHECK_ST(check("", bound_tok, bound, "GET", HTU, NULL), AIM_BAD_BINDING, &err);
    CHECK_ST(check(NULL, bound_tok, bound, "GET", HTU, NULL), AIM_BAD_BINDING, &err);
    CHECK_ST(check("a.b", bound_tok, bound, "GET", HTU, NULL), AIM_BAD_BINDING, &err);
    /* The message explains once, and is not garbled by reusing itself. */
    CHECK(!tu_contains(err.message, "DPoP proof: DPoP proof"));
    CHECKF(tu_contains(err.message, "three") || tu_contains(err.message, "compact"),
           "message: %s", err.message);
    p[strlen(p) - 1] = p[strlen(p) - 1] == 'A' ? 'B' : 'A';
    CHECK_ST(check(p, bound_tok, bound, "GET", HTU, NULL), AIM_BAD_BINDING, &err);
    free(p);
    free(c);
    free(h);

    t_section("dpop/other-keys");
    {
        /* EdDSA and RSA proof keys; an RSA JWK without "alg" may sign
         * PS256, one pinned to RS256 may not. */
        static const aim_alg algs[] = { AIM_ALG_EDDSA, AIM_ALG_ES384, AIM_ALG_RS256 };
        size_t i;
        for (i = 0; i < 3; i++) {
            EVP_PKEY *k = tu_key(algs[i]);
            char *jk = tu_jwk(k, algs[i], "x"), tp[44], cl[128], *tok, *hh;
            json_t *j = tu_json(jk);
            aim_token *t = NULL;
            aim_jwk_thumbprint(j, tp, &err);
            snprintf(cl, sizeof(cl), "{\"cnf\":{\"jkt\":\"%s\"}}", tp);
            tok = tu_token(NULL, cl);
            aim_verify(v, tok, strlen(tok), &t, &err);
            free(ath);
            ath = ath_of(tok);
            c = std_claims("p2", "GET", HTU, now, ath);
            hh = std_header(aim_alg_name(algs[i]), jk);
            p = proof_by(k, algs[i], hh, c);
            CHECKF(t != NULL && check(p, tok, t, "GET", HTU, NULL) == AIM_OK,
                   "%s proof: %s", aim_alg_name(algs[i]), err.message);
            free(p);
            free(hh);
            if (algs[i] == AIM_ALG_RS256) {
                char *noalg;
                hh = std_header("PS256", jk);          /* jwk says RS256 */
                p = proof_by(k, AIM_ALG_PS256, hh, c);
                CHECK(t != NULL && check(p, tok, t, "GET", HTU, NULL) == AIM_BAD_BINDING);
                free(p);
                free(hh);
                json_object_del(j, "alg");
                noalg = json_dumps(j, JSON_COMPACT);
                hh = std_header("PS256", noalg);
                p = proof_by(k, AIM_ALG_PS256, hh, c);
                CHECKF(t != NULL && check(p, tok, t, "GET", HTU, NULL) == AIM_OK,
                       "PS256 proof with an RSA JWK without alg: %s", err.message);
                free(p);
                free(hh);
                free(noalg);
            }
            json_decref(j);
            aim_token_free(t);
            free(tok);
            free(c);
            free(jk);
        }
    }
    free(ath);
    aim_token_free(bound);
    free(bound_tok);
    free(holder_jwk);
    EVP_PKEY_free(holder);
    aim_verifier_free(v);
}
