/*
 * test_verify.c -- aim_verify: header, key selection, signature and
 * claims, with the test clock; the hostile cases (algorithm confusion,
 * psychic signatures, claim type confusion, NUL tricks, duplicates,
 * nesting, sizes) live here because aim_verify is where they must fail.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include "b64.h"
#include "sign.h"
#include "t.h"
#include "tu.h"
#include "units.h"

static aim_verifier *dv;             /* the default verifier */
static aim_error     verr;

/* Check that err never carries the token's payload or signature. */
static void
no_leak(const char *tok, const aim_error *err, const char *file, int line)
{
    const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    char        payload[64];

    if (d1 == NULL || d2 == NULL || d1 == d2) {
        return;
    }
    if (strlen(d2 + 1) >= 8 && strstr(err->message, d2 + 1) != NULL) {
        t_fail(file, line, "error message contains the signature");
    }
    if (d2 - d1 - 1 >= 16) {
        snprintf(payload, sizeof(payload), "%.*s", (int) (d2 - d1 - 1 > 40 ? 40 : d2 - d1 - 1), d1 + 1);
        if (strstr(err->message, payload) != NULL) {
            t_fail(file, line, "error message contains the payload");
        }
    }
}

static aim_status
verify_tok(aim_verifier *v, char *tok, int line)
{
    aim_status s = tu_verify(v, tok, &verr);

    if (s != AIM_OK) {
        no_leak(tok, &verr, __FILE__, line);
    }
    free(tok);
    return s;
}

/* Standard token with overrides, through the default verifier. */
#define V(hx, cx)         verify_tok(dv, tu_token((hx), (cx)), __LINE__)
#define VA(alg, hx, cx)   verify_tok(dv, tu_token_alg((alg), (hx), (cx)), __LINE__)
#define EXPECT(expr, want) CHECK_ST((expr), (want), &verr)

static const char std_header[] = "{\"alg\":\"ES256\",\"typ\":\"aim+jwt\",\"kid\":\"k-es256\"}";

/* Standard claims as raw JSON with extra raw members appended. */
static char *
raw_claims(const char *extra)
{
    char *c = malloc(4096 + (extra != NULL ? strlen(extra) : 0));

    sprintf(c, "{\"iss\":\"%s\",\"sub\":\"agent-1\",\"aud\":\"%s\",\"iat\":%lld,"
            "\"exp\":%lld,\"jti\":\"jti-1\"%s%s}", TU_ISS, TU_AUD, (long long) tu_now,
            (long long) (tu_now + 600), extra != NULL ? "," : "",
            extra != NULL ? extra : "");
    return c;
}

/* A token of raw header and raw claims, ES256, standard key. */
static aim_status
VR(const char *header, const char *claims)
{
    char *tok = tu_sign_raw(tu_key(AIM_ALG_ES256), AIM_ALG_ES256, header,
                            strlen(header), claims, strlen(claims));
    return verify_tok(dv, tok, __LINE__);
}

static aim_status
VX(const char *extra)
{
    char       *c = raw_claims(extra);
    aim_status  s = VR(std_header, c);

    free(c);
    return s;
}

/* A token whose signature is HMAC-SHA256 keyed with the given bytes. */
static char *
hmac_token(const char *header, const char *claims, const void *key, size_t keylen)
{
    char          *h = tu_b64(header, strlen(header));
    char          *p = tu_b64(claims, strlen(claims));
    char          *in = malloc(strlen(h) + strlen(p) + 2), *s, *tok;
    unsigned char  mac[32];
    unsigned int   maclen = 32;

    sprintf(in, "%s.%s", h, p);
    HMAC(EVP_sha256(), key, (int) keylen, (const unsigned char *) in, strlen(in),
         mac, &maclen);
    s = tu_b64(mac, maclen);
    tok = malloc(strlen(in) + strlen(s) + 2);
    sprintf(tok, "%s.%s", in, s);
    free(h);
    free(p);
    free(in);
    free(s);
    return tok;
}

static void
test_accept_and_accessors(void)
{
    static const aim_alg algs[] = { AIM_ALG_ES256, AIM_ALG_ES384, AIM_ALG_EDDSA,
                                    AIM_ALG_RS256, AIM_ALG_PS256 };
    aim_token  *t = NULL;
    char       *tok, *s;
    size_t      i;

    t_section("verify/accept");
    for (i = 0; i < 5; i++) {
        EXPECT(VA(algs[i], NULL, NULL), AIM_OK);
    }

    tok = tu_token(NULL, "{\"owner\":\"team-a\",\"extra\":{\"b\":[1,2],\"a\":true},"
                   "\"cnf\":{\"jkt\":\"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I\"}}");
    CHECK_ST(aim_verify(dv, tok, strlen(tok), &t, &verr), AIM_OK, &verr);
    if (t != NULL) {
        CHECK_STR(aim_token_agent(t), "agent-1");
        CHECK_STR(aim_token_subject(t), "agent-1");
        CHECK_STR(aim_token_owner(t), "team-a");
        CHECK_STR(aim_token_issuer(t), TU_ISS);
        CHECK_STR(aim_token_jti(t), "jti-1");
        CHECK_STR(aim_token_kid(t), "k-es256");
        CHECK_STR(aim_token_alg(t), "ES256");
        CHECK_STR(aim_token_chain(t), "agent-1");
        CHECK_INT(aim_token_exp(t), tu_now + 600);
        CHECK_INT(aim_token_iat(t), tu_now);
        CHECK_STR(aim_token_cnf_jkt(t), "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
        CHECK_STR(aim_token_scope(t), "kb:read kb:write");
        CHECK_INT(aim_token_scope_count(t), 2);
        CHECK_STR(aim_token_scope_at(t, 0), "kb:read");
        CHECK_STR(aim_token_scope_at(t, 1), "kb:write");
        CHECK(aim_token_scope_at(t, 2) == NULL);
        CHECK(aim_token_has_scope(t, "kb:read") == 1);
        CHECK(aim_token_has_scope(t, "kb:write") == 1);
        CHECK(aim_token_has_scope(t, "kb") == 0);
        CHECK(aim_token_has_scope(t, "kb:rea") == 0);
        CHECK(aim_token_has_scope(t, "kb:read kb:write") == 0);
        CHECK(aim_token_has_scope(t, "KB:READ") == 0);
        CHECK(aim_token_has_scope(t, "") == 0);
        CHECK(aim_token_has_scope(t, NULL) == 0);
        s = aim_token_claim(t, "sub");
        CHECK_STR(s, "agent-1");
        free(s);
        s = aim_token_claim(t, "iat");
        CHECK_STR(s, "1800000000");
        free(s);
        s = aim_token_claim(t, "extra");
        CHECK_STR(s, "{\"a\":true,\"b\":[1,2]}");
        free(s);
        CHECK(aim_token_claim(t, "nope") == NULL);
        s = aim_token_claims_json(t);
        CHECK(tu_contains(s, "\"sub\":\"agent-1\"") && tu_contains(s, "\"owner\":\"team-a\""));
        free(s);
        /* References: the caller's and a second one. */
        CHECK(aim_token_ref(t) == t);
        aim_token_free(t);
        CHECK_STR(aim_token_agent(t), "agent-1");
        aim_token_free(t);
    }
    free(tok);
    /* Without owner, cnf, scope. */
    tok = tu_token(NULL, "{\"scope\":\"__delete__\"}");
    CHECK_ST(aim_verify(dv, tok, strlen(tok), &t, &verr), AIM_OK, &verr);
    if (t != NULL) {
        CHECK(aim_token_owner(t) == NULL);
        CHECK(aim_token_cnf_jkt(t) == NULL);
        CHECK_STR(aim_token_scope(t), "");
        CHECK_INT(aim_token_scope_count(t), 0);
        aim_token_free(t);
    }
    free(tok);

    t_section("verify/no-token");
    CHECK_ST(aim_verify(dv, NULL, 0, &t, &verr), AIM_NO_TOKEN, &verr);
    CHECK(t == NULL);
    CHECK_ST(aim_verify(dv, "", 0, &t, &verr), AIM_NO_TOKEN, &verr);
    CHECK_ST(aim_verify(dv, "x", 0, &t, &verr), AIM_NO_TOKEN, &verr);
    CHECK_ST(aim_verify(dv, "junk", 4, &t, &verr), AIM_MALFORMED, &verr);
    /* A length that stops before the signature: only len bytes count. */
    tok = tu_token(NULL, NULL);
    {
        aim_status st = aim_verify(dv, tok, strlen(tok) - 1, &t, &verr);
        CHECKF(st == AIM_BAD_SIGNATURE || st == AIM_MALFORMED, "%s", aim_reason(st));
        CHECK(t == NULL);
    }
    free(tok);
}

static void
test_header_rules(void)
{
    aim_verifier *v;

    t_section("verify/typ");
    EXPECT(V("{\"typ\":\"aim+jwt\"}", NULL), AIM_OK);
    EXPECT(V("{\"typ\":\"AIM+JWT\"}", NULL), AIM_OK);
    EXPECT(V("{\"typ\":\"application/aim+jwt\"}", NULL), AIM_OK);
    EXPECT(V("{\"typ\":\"application/AIM+JWT\"}", NULL), AIM_OK);
    EXPECT(V("{\"typ\":\"Application/Aim+Jwt\"}", NULL), AIM_OK);
    EXPECT(V("{\"typ\":\"at+jwt\"}", NULL), AIM_OK);
    EXPECT(V("{\"typ\":\"application/at+JWT\"}", NULL), AIM_OK);
    EXPECT(V("{\"typ\":\"JWT\"}", NULL), AIM_BAD_TYPE);
    EXPECT(V("{\"typ\":\"jwt\"}", NULL), AIM_BAD_TYPE);
    EXPECT(V("{\"typ\":\"application/jwt\"}", NULL), AIM_BAD_TYPE);
    EXPECT(V("{\"typ\":\"__delete__\"}", NULL), AIM_BAD_TYPE);
    EXPECT(V("{\"typ\":\"\"}", NULL), AIM_BAD_TYPE);
    EXPECT(V("{\"typ\":\"aim+jwt \"}", NULL), AIM_BAD_TYPE);
    EXPECT(V("{\"typ\":\" aim+jwt\"}", NULL), AIM_BAD_TYPE);
    EXPECT(V("{\"typ\":\"aim\"}", NULL), AIM_BAD_TYPE);
    EXPECT(V("{\"typ\":\"application/\"}", NULL), AIM_BAD_TYPE);
    EXPECT(V("{\"typ\":\"application/application/aim+jwt\"}", NULL), AIM_BAD_TYPE);
    EXPECT(V("{\"typ\":\"xapplication/aim+jwt\"}", NULL), AIM_BAD_TYPE);
    EXPECT(V("{\"typ\":\"dpop+jwt\"}", NULL), AIM_BAD_TYPE);
    EXPECT(V("{\"typ\":\"statuslist+jwt\"}", NULL), AIM_BAD_TYPE);
    EXPECT(V("{\"typ\":\"aim+jwt\\u0000\"}", NULL), AIM_MALFORMED);
    EXPECT(V("{\"typ\":[\"aim+jwt\"]}", NULL), AIM_MALFORMED);
    EXPECT(V("{\"typ\":null}", NULL), AIM_MALFORMED);
    /* JWT only when configured (SPIFFE JWT-SVIDs), and then only it. */
    v = tu_verifier("types", "JWT", NULL);
    CHECK_ST(verify_tok(v, tu_token("{\"typ\":\"JWT\"}", NULL), __LINE__), AIM_OK, &verr);
    CHECK_ST(verify_tok(v, tu_token("{\"typ\":\"application/jwt\"}", NULL), __LINE__), AIM_OK, &verr);
    CHECK_ST(verify_tok(v, tu_token(NULL, NULL), __LINE__), AIM_BAD_TYPE, &verr);
    aim_verifier_free(v);
    v = tu_verifier("types", "application/AIM+JWT, JWT", NULL);
    CHECK_ST(verify_tok(v, tu_token(NULL, NULL), __LINE__), AIM_OK, &verr);
    CHECK_ST(verify_tok(v, tu_token("{\"typ\":\"JWT\"}", NULL), __LINE__), AIM_OK, &verr);
    CHECK_ST(verify_tok(v, tu_token("{\"typ\":\"at+jwt\"}", NULL), __LINE__), AIM_BAD_TYPE, &verr);
    aim_verifier_free(v);

    t_section("verify/crit");
    EXPECT(V("{\"crit\":[\"exp\"],\"exp\":1}", NULL), AIM_BAD_TYPE);
    EXPECT(V("{\"crit\":[]}", NULL), AIM_BAD_TYPE);
    EXPECT(V("{\"crit\":[\"b64\"],\"b64\":false}", NULL), AIM_BAD_TYPE);

    t_section("verify/key-selection");
    EXPECT(V("{\"kid\":\"__delete__\"}", NULL), AIM_UNKNOWN_KEY);
    EXPECT(V("{\"kid\":\"nope\"}", NULL), AIM_UNKNOWN_KEY);
    EXPECT(V("{\"kid\":\"K-ES256\"}", NULL), AIM_UNKNOWN_KEY);
    EXPECT(V("{\"kid\":\"k-es256 \"}", NULL), AIM_UNKNOWN_KEY);
    EXPECT(V("{\"kid\":\"k-es256\\u0000x\"}", NULL), AIM_MALFORMED);
    EXPECT(V("{\"kid\":7}", NULL), AIM_UNKNOWN_KEY);
    EXPECT(V("{\"kid\":[\"k-es256\"]}", NULL), AIM_UNKNOWN_KEY);
    {
        /* An attacker's key embedded in the header ("jwk"), pointed at by
         * "jku", "x5u" or "x5c": never used.  Signed by the attacker. */
        EVP_PKEY *evil = tu_key_new(AIM_ALG_ES256, 0);
        char *ej = tu_jwk(evil, AIM_ALG_ES256, "evil");
        char  h[2048];
        static const char *const extras[] = {
            "\"jku\":\"https://evil.test/jwks.json\"",
            "\"x5u\":\"https://evil.test/cert.pem\"",
            "\"x5c\":[\"MIIBszCCAVmgAwIBAgIU\"]",
            "\"x5t#S256\":\"AAAA\"",
        };
        char *c = raw_claims(NULL);
        size_t i;
        aim_status s;

        /* jwk with its own kid: unknown. */
        snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"typ\":\"aim+jwt\",\"kid\":\"evil\",\"jwk\":%s}", ej);
        s = verify_tok(dv, tu_sign_raw(evil, AIM_ALG_ES256, h, strlen(h), c, strlen(c)), __LINE__);
        CHECK_ST(s, AIM_UNKNOWN_KEY, &verr);
        /* jwk without kid: unknown. */
        snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"typ\":\"aim+jwt\",\"jwk\":%s}", ej);
        s = verify_tok(dv, tu_sign_raw(evil, AIM_ALG_ES256, h, strlen(h), c, strlen(c)), __LINE__);
        CHECK_ST(s, AIM_UNKNOWN_KEY, &verr);
        /* jwk with the legitimate kid: the loaded key is used, so the
         * attacker's signature fails. */
        snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"typ\":\"aim+jwt\",\"kid\":\"k-es256\",\"jwk\":%s}", ej);
        s = verify_tok(dv, tu_sign_raw(evil, AIM_ALG_ES256, h, strlen(h), c, strlen(c)), __LINE__);
        CHECK_ST(s, AIM_BAD_SIGNATURE, &verr);
        for (i = 0; i < sizeof(extras) / sizeof(extras[0]); i++) {
            snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"typ\":\"aim+jwt\",%s}", extras[i]);
            s = verify_tok(dv, tu_sign_raw(evil, AIM_ALG_ES256, h, strlen(h), c, strlen(c)), __LINE__);
            CHECKF(s == AIM_UNKNOWN_KEY, "%s: %s", extras[i], aim_reason(s));
            snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"typ\":\"aim+jwt\",\"kid\":\"k-es256\",%s}", extras[i]);
            s = verify_tok(dv, tu_sign_raw(evil, AIM_ALG_ES256, h, strlen(h), c, strlen(c)), __LINE__);
            CHECKF(s == AIM_BAD_SIGNATURE, "%s: %s", extras[i], aim_reason(s));
            /* ... and do not disturb a legitimate token either. */
            s = verify_tok(dv, tu_sign_raw(tu_key(AIM_ALG_ES256), AIM_ALG_ES256, h,
                                           strlen(h), c, strlen(c)), __LINE__);
            CHECKF(s == AIM_OK, "%s: %s", extras[i], aim_reason(s));
        }
        free(c);
        free(ej);
        EVP_PKEY_free(evil);
    }
}

static void
test_alg_confusion(void)
{
    char       *c = raw_claims(NULL), *tok, *pem = NULL, h[512];
    const char *hs = "{\"alg\":\"HS256\",\"typ\":\"aim+jwt\",\"kid\":\"k-es256\"}";
    aim_status  s;

    t_section("verify/alg-confusion");
    /* The header's alg against the key's pinned alg, each signed
     * correctly for the header's algorithm with the right key type. */
    {
        static const struct { const char *alg, *kid; aim_alg signer; } cases[] = {
            { "RS256", "k-es256", AIM_ALG_RS256 },
            { "ES256", "k-rs256", AIM_ALG_ES256 },
            { "PS256", "k-rs256", AIM_ALG_PS256 },
            { "RS256", "k-ps256", AIM_ALG_RS256 },
            { "ES256", "k-es384", AIM_ALG_ES256 },
            { "ES384", "k-es256", AIM_ALG_ES384 },
            { "EdDSA", "k-es256", AIM_ALG_EDDSA },
            { "ES256", "k-eddsa", AIM_ALG_ES256 },
        };
        size_t i;
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"typ\":\"aim+jwt\",\"kid\":\"%s\"}",
                     cases[i].alg, cases[i].kid);
            tok = tu_sign_raw(tu_key(cases[i].signer), cases[i].signer, h, strlen(h),
                              c, strlen(c));
            s = verify_tok(dv, tok, __LINE__);
            CHECKF(s == AIM_UNSUPPORTED_ALG, "alg %s on key %s: %s (%s)", cases[i].alg,
                   cases[i].kid, aim_reason(s), verr.message);
        }
    }
    /* HS256 "signed" with public key material: the JWK text, the PEM, the
     * raw point, the x coordinate.  HMAC is never an algorithm here. */
    {
        char *jwk = tu_jwk(tu_key(AIM_ALG_ES256), AIM_ALG_ES256, "k-es256");
        BIO  *b = BIO_new(BIO_s_mem());
        long  n;
        char *p;
        json_t *j = tu_json(jwk);
        const char *x = json_string_value(json_object_get(j, "x"));
        unsigned char raw[65];
        size_t rl = sizeof(raw);

        PEM_write_bio_PUBKEY(b, tu_key(AIM_ALG_ES256));
        n = BIO_get_mem_data(b, &p);
        pem = malloc((size_t) n + 1);
        memcpy(pem, p, (size_t) n);
        pem[n] = '\0';
        BIO_free(b);
        EVP_PKEY_get_octet_string_param(tu_key(AIM_ALG_ES256), "encoded-pub-key", raw,
                                        sizeof(raw), &rl);

        EXPECT(verify_tok(dv, hmac_token(hs, c, jwk, strlen(jwk)), __LINE__), AIM_UNSUPPORTED_ALG);
        EXPECT(verify_tok(dv, hmac_token(hs, c, pem, strlen(pem)), __LINE__), AIM_UNSUPPORTED_ALG);
        EXPECT(verify_tok(dv, hmac_token(hs, c, raw, rl), __LINE__), AIM_UNSUPPORTED_ALG);
        EXPECT(verify_tok(dv, hmac_token(hs, c, x, strlen(x)), __LINE__), AIM_UNSUPPORTED_ALG);
        EXPECT(verify_tok(dv, hmac_token(hs, c, "", 0), __LINE__), AIM_UNSUPPORTED_ALG);
        snprintf(h, sizeof(h), "{\"alg\":\"HS256\",\"typ\":\"aim+jwt\",\"kid\":\"k-rs256\"}");
        EXPECT(verify_tok(dv, hmac_token(h, c, pem, strlen(pem)), __LINE__), AIM_UNSUPPORTED_ALG);
        snprintf(h, sizeof(h), "{\"alg\":\"HS384\",\"typ\":\"aim+jwt\",\"kid\":\"k-es256\"}");
        EXPECT(verify_tok(dv, hmac_token(h, c, pem, strlen(pem)), __LINE__), AIM_UNSUPPORTED_ALG);
        json_decref(j);
        free(jwk);
        free(pem);
    }
    /* alg none, in every spelling, with and without a signature. */
    {
        static const char *const nones[] = { "none", "None", "NONE", "nOnE", "" };
        size_t i;
        for (i = 0; i < sizeof(nones) / sizeof(nones[0]); i++) {
            char *hb, *pb;
            snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"typ\":\"aim+jwt\",\"kid\":\"k-es256\"}", nones[i]);
            hb = tu_b64(h, strlen(h));
            pb = tu_b64(c, strlen(c));
            tok = malloc(strlen(hb) + strlen(pb) + 16);
            sprintf(tok, "%s.%s.", hb, pb);
            s = verify_tok(dv, tok, __LINE__);
            CHECKF(s == AIM_MALFORMED, "alg \"%s\", empty signature: %s", nones[i], aim_reason(s));
            tok = malloc(strlen(hb) + strlen(pb) + 16);
            sprintf(tok, "%s.%s.AAAA", hb, pb);
            s = verify_tok(dv, tok, __LINE__);
            CHECKF(s == AIM_UNSUPPORTED_ALG, "alg \"%s\" with a signature: %s", nones[i], aim_reason(s));
            free(hb);
            free(pb);
        }
    }
    /* Missing alg, unsupported ones, near misses. */
    EXPECT(V("{\"alg\":\"__delete__\"}", NULL), AIM_UNSUPPORTED_ALG);
    {
        static const char *const algs[] = {
            "ES512", "RS384", "RS512", "PS384", "PS512", "HS512", "es256", "ES256 ",
            " ES256", "Ed25519", "ED25519", "EdDSA\\t", "ES256K", "RSA-OAEP", "dir",
        };
        size_t i;
        for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
            snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"typ\":\"aim+jwt\",\"kid\":\"k-es256\"}", algs[i]);
            s = VR(h, c);
            CHECKF(s == AIM_UNSUPPORTED_ALG, "alg \"%s\": %s", algs[i], aim_reason(s));
        }
    }
    free(c);
}

static void
test_signatures(void)
{
    char          *tok, *bad, *c;
    unsigned char  zero[512], *sig;
    size_t         siglen;
    aim_status     s;

    t_section("verify/signatures");
    memset(zero, 0, sizeof(zero));
    /* Psychic signature (CVE-2022-21449): r = s = 0. */
    tok = tu_token(NULL, NULL);
    EXPECT(verify_tok(dv, tu_with_sig(tok, zero, 64), __LINE__), AIM_BAD_SIGNATURE);
    EXPECT(verify_tok(dv, tu_with_sig(tok, zero, 0), __LINE__), AIM_MALFORMED);
    EXPECT(verify_tok(dv, tu_with_sig(tok, zero, 1), __LINE__), AIM_BAD_SIGNATURE);
    EXPECT(verify_tok(dv, tu_with_sig(tok, zero, 63), __LINE__), AIM_BAD_SIGNATURE);
    EXPECT(verify_tok(dv, tu_with_sig(tok, zero, 96), __LINE__), AIM_BAD_SIGNATURE);
    {
        /* The token's own signature, cut, extended, or DER-encoded. */
        unsigned char buf[200];
        size_t n;
        const char *s64 = strrchr(tok, '.') + 1;
        aim_b64url_decode(s64, strlen(s64), buf, &n);
        CHECK(n == 64);
        EXPECT(verify_tok(dv, tu_with_sig(tok, buf, 63), __LINE__), AIM_BAD_SIGNATURE);
        buf[64] = 0;
        EXPECT(verify_tok(dv, tu_with_sig(tok, buf, 65), __LINE__), AIM_BAD_SIGNATURE);
        memmove(buf + 1, buf, 64);
        buf[0] = 0;
        EXPECT(verify_tok(dv, tu_with_sig(tok, buf, 65), __LINE__), AIM_BAD_SIGNATURE);
        /* swap r and s */
        memmove(buf, buf + 1, 64);
        memcpy(buf + 100, buf, 32);
        memcpy(buf, buf + 32, 32);
        memcpy(buf + 32, buf + 100, 32);
        EXPECT(verify_tok(dv, tu_with_sig(tok, buf, 64), __LINE__), AIM_BAD_SIGNATURE);
    }
    {
        /* DER where raw r||s is required. */
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        unsigned char der[80];
        size_t dl = sizeof(der);
        size_t in = (size_t) (strrchr(tok, '.') - tok);
        EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, tu_key(AIM_ALG_ES256), NULL);
        EVP_DigestSign(m, der, &dl, (const unsigned char *) tok, in);
        EVP_MD_CTX_free(m);
        EXPECT(verify_tok(dv, tu_with_sig(tok, der, dl), __LINE__), AIM_BAD_SIGNATURE);
    }
    /* The header swapped after signing: typ changed, alg and kid kept. */
    {
        char *other = tu_token("{\"typ\":\"at+jwt\"}", NULL);
        const char *d1 = strchr(tok, '.');
        const char *o1 = strchr(other, '.');
        bad = malloc(strlen(tok) + strlen(other));
        sprintf(bad, "%.*s%s", (int) (o1 - other), other, d1);
        EXPECT(verify_tok(dv, bad, __LINE__), AIM_BAD_SIGNATURE);
        free(other);
    }
    /* The claims swapped: another agent's payload under this signature. */
    {
        char *other = tu_token(NULL, "{\"sub\":\"root\"}");
        const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
        const char *o1 = strchr(other, '.'), *o2 = strrchr(other, '.');
        bad = malloc(strlen(tok) + strlen(other));
        sprintf(bad, "%.*s%.*s%s", (int) (d1 - tok), tok, (int) (o2 - o1), o1, d2);
        EXPECT(verify_tok(dv, bad, __LINE__), AIM_BAD_SIGNATURE);
        free(other);
    }
    free(tok);
    /* ES384 and RSA lengths. */
    tok = tu_token_alg(AIM_ALG_ES384, NULL, NULL);
    EXPECT(verify_tok(dv, tu_with_sig(tok, zero, 96), __LINE__), AIM_BAD_SIGNATURE);
    EXPECT(verify_tok(dv, tu_with_sig(tok, zero, 64), __LINE__), AIM_BAD_SIGNATURE);
    free(tok);
    tok = tu_token_alg(AIM_ALG_RS256, NULL, NULL);
    EXPECT(verify_tok(dv, tu_with_sig(tok, zero, 256), __LINE__), AIM_BAD_SIGNATURE);
    EXPECT(verify_tok(dv, tu_with_sig(tok, zero, 255), __LINE__), AIM_BAD_SIGNATURE);
    EXPECT(verify_tok(dv, tu_with_sig(tok, zero, 257), __LINE__), AIM_BAD_SIGNATURE);
    free(tok);
    tok = tu_token_alg(AIM_ALG_EDDSA, NULL, NULL);
    EXPECT(verify_tok(dv, tu_with_sig(tok, zero, 64), __LINE__), AIM_BAD_SIGNATURE);
    EXPECT(verify_tok(dv, tu_with_sig(tok, zero, 65), __LINE__), AIM_BAD_SIGNATURE);
    free(tok);
    /* Another key with the same kid. */
    {
        EVP_PKEY *other = tu_key_new(AIM_ALG_ES256, 0);
        c = raw_claims(NULL);
        EXPECT(verify_tok(dv, tu_sign_raw(other, AIM_ALG_ES256, std_header,
                                          strlen(std_header), c, strlen(c)), __LINE__),
               AIM_BAD_SIGNATURE);
        EVP_PKEY_free(other);
        free(c);
    }
    /* The signature is checked before the claims are even parsed. */
    {
        const char *junk = "{\"sub\":";
        tok = tu_sign_raw(tu_key(AIM_ALG_ES256), AIM_ALG_ES256, std_header,
                          strlen(std_header), junk, strlen(junk));
        sig = tu_sig(tu_key(AIM_ALG_ES256), AIM_ALG_ES256, "x", 1, &siglen);
        s = verify_tok(dv, tu_with_sig(tok, sig, siglen), __LINE__);
        CHECKF(s == AIM_BAD_SIGNATURE, "broken claims with a bad signature: %s", aim_reason(s));
        EXPECT(verify_tok(dv, tok, __LINE__), AIM_MALFORMED);
        free(sig);
    }
}

static void
test_claims(void)
{
    aim_verifier *v;
    char          big[1100], buf[2400];

    t_section("claims/iss");
    EXPECT(V(NULL, "{\"iss\":\"__delete__\"}"), AIM_MISSING_CLAIM);
    EXPECT(V(NULL, "{\"iss\":\"https://other.test\"}"), AIM_BAD_ISSUER);
    EXPECT(V(NULL, "{\"iss\":\"https://issuer.test/\"}"), AIM_BAD_ISSUER);
    EXPECT(V(NULL, "{\"iss\":\"https://ISSUER.test\"}"), AIM_BAD_ISSUER);
    EXPECT(V(NULL, "{\"iss\":\"https://issuer.tes\"}"), AIM_BAD_ISSUER);
    EXPECT(V(NULL, "{\"iss\":\"\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"iss\":7}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"iss\":null}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"iss\":[\"https://issuer.test\"]}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"iss\":\"https://issuer.test\\u0000.evil\"}"), AIM_MALFORMED);
    /* Two issuers: each key source is bound to its issuer, and a key of
     * one issuer never signs for the other. */
    {
        EVP_PKEY   *k2 = tu_key_new(AIM_ALG_ES256, 0);
        char       *j2 = tu_jwk(k2, AIM_ALG_ES256, "k-second"), spec1[600], spec2[600];
        char        jw[1024], *c2;
        const char *h2 = "{\"alg\":\"ES256\",\"typ\":\"aim+jwt\",\"kid\":\"k-second\"}";
        aim_error   e2;

        snprintf(jw, sizeof(jw), "{\"keys\":[%s]}", j2);
        snprintf(spec1, sizeof(spec1), "%s %s", TU_ISS, tu_std_jwks());
        snprintf(spec2, sizeof(spec2), "https://second.test %s", tu_write("second.jwks", jw, (size_t) -1));
        /* unbound key sources with two issuers: refused */
        CHECK(tu_verifier_try(&e2, "issuer", "https://second.test", NULL) == NULL
              && e2.status == AIM_CONFIG);
        CHECK(tu_verifier_try(&e2, "keys", spec1, "keys", "https://nobody.test /x", NULL) == NULL
              && e2.status == AIM_CONFIG);
        v = tu_verifier("keys", spec1, "keys", spec2, "issuer", "https://second.test", NULL);
        CHECK_ST(verify_tok(v, tu_token(NULL, NULL), __LINE__), AIM_OK, &verr);
        CHECK_ST(verify_tok(v, tu_token(NULL, "{\"iss\":\"https://second.test\"}"), __LINE__),
                 AIM_BAD_ISSUER, &verr);
        CHECK_ST(verify_tok(v, tu_token(NULL, "{\"iss\":\"https://third.test\"}"), __LINE__),
                 AIM_BAD_ISSUER, &verr);
        c2 = raw_claims(NULL);
        {
            char *p = strstr(c2, TU_ISS), *c3 = malloc(strlen(c2) + 32);
            sprintf(c3, "%.*shttps://second.test%s", (int) (p - c2), c2, p + strlen(TU_ISS));
            CHECK_ST(verify_tok(v, tu_sign_raw(k2, AIM_ALG_ES256, h2, strlen(h2), c3, strlen(c3)),
                                __LINE__), AIM_OK, &verr);
            free(c3);
        }
        /* the second issuer's key signing for the first */
        CHECK_ST(verify_tok(v, tu_sign_raw(k2, AIM_ALG_ES256, h2, strlen(h2), c2, strlen(c2)),
                            __LINE__), AIM_BAD_ISSUER, &verr);
        free(c2);
        free(j2);
        EVP_PKEY_free(k2);
        aim_verifier_free(v);
    }

    t_section("claims/sub");
    EXPECT(V(NULL, "{\"sub\":\"__delete__\"}"), AIM_MISSING_CLAIM);
    EXPECT(V(NULL, "{\"sub\":\"\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"sub\":5}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"sub\":null}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"sub\":true}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"sub\":[\"agent-1\"]}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"sub\":{\"id\":\"agent-1\"}}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"sub\":\"a>b\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"sub\":\"agent\\nadmin\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"sub\":\"agent\\u001b[31m\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"sub\":\"agent\\u007f\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"sub\":\"agent-\\u00e9\"}"), AIM_OK);
    EXPECT(V(NULL, "{\"sub\":\"spiffe://example.org/ns/agents/sa/bot\"}"), AIM_OK);
    /* NUL tricks: "agent-1\0admin" must not become "agent-1". */
    EXPECT(V(NULL, "{\"sub\":\"agent-1\\u0000admin\"}"), AIM_MALFORMED);
    EXPECT(VX("\"owner\":\"x\\u0000\""), AIM_MALFORMED);
    EXPECT(VX("\"su\\u0000b\":\"x\""), AIM_MALFORMED);
    memset(big, 'a', 1024);
    big[1024] = '\0';
    snprintf(buf, sizeof(buf), "{\"sub\":\"%s\"}", big);
    EXPECT(V(NULL, buf), AIM_OK);
    snprintf(buf, sizeof(buf), "{\"sub\":\"%sa\"}", big);
    EXPECT(V(NULL, buf), AIM_BAD_CLAIM);

    t_section("claims/aud");
    EXPECT(V(NULL, "{\"aud\":\"__delete__\"}"), AIM_MISSING_CLAIM);
    EXPECT(V(NULL, "{\"aud\":[\"api\"]}"), AIM_OK);
    EXPECT(V(NULL, "{\"aud\":[\"other\",\"api\"]}"), AIM_OK);
    EXPECT(V(NULL, "{\"aud\":\"other\"}"), AIM_BAD_AUDIENCE);
    EXPECT(V(NULL, "{\"aud\":\"ap\"}"), AIM_BAD_AUDIENCE);
    EXPECT(V(NULL, "{\"aud\":\"api \"}"), AIM_BAD_AUDIENCE);
    EXPECT(V(NULL, "{\"aud\":\"API\"}"), AIM_BAD_AUDIENCE);
    EXPECT(V(NULL, "{\"aud\":\"api other\"}"), AIM_BAD_AUDIENCE);
    EXPECT(V(NULL, "{\"aud\":[\"other\"]}"), AIM_BAD_AUDIENCE);
    EXPECT(V(NULL, "{\"aud\":[]}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"aud\":7}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"aud\":null}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"aud\":{\"api\":true}}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"aud\":[\"api\",7]}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"aud\":[[\"api\"]]}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"aud\":\"api\\u0000x\"}"), AIM_MALFORMED);
    EXPECT(V(NULL, "{\"aud\":[\"a1\",\"a2\",\"a3\",\"a4\",\"a5\",\"a6\",\"a7\",\"a8\","
               "\"a9\",\"a10\",\"a11\",\"a12\",\"a13\",\"a14\",\"a15\",\"api\"]}"), AIM_OK);
    EXPECT(V(NULL, "{\"aud\":[\"a1\",\"a2\",\"a3\",\"a4\",\"a5\",\"a6\",\"a7\",\"a8\","
               "\"a9\",\"a10\",\"a11\",\"a12\",\"a13\",\"a14\",\"a15\",\"a16\",\"api\"]}"), AIM_BAD_CLAIM);

    t_section("claims/jti-owner");
    EXPECT(V(NULL, "{\"jti\":\"__delete__\"}"), AIM_MISSING_CLAIM);
    EXPECT(V(NULL, "{\"jti\":\"\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"jti\":5}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"owner\":5}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"owner\":\"\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"owner\":[\"alice\"]}"), AIM_BAD_CLAIM);

    t_section("claims/identifiers");
    {
        /* Characters no identifier may hold: they would reach audit
         * lines, syslog, AIM_AGENT and terminals.  Each in sub, act.sub,
         * owner, jti and iss: bad_claim naming the claim and the code
         * point. */
        static const struct { const char *json, *cp; } bad[] = {
            { "\\n", "U+000A" }, { "\\u001b[31m", "U+001B" }, { "\\u007f", "U+007F" },
            { "\\u0085", "U+0085" }, { "\\u009b31m", "U+009B" },
            { "\\u061c", "U+061C" }, { "\\u200e", "U+200E" }, { "\\u200f", "U+200F" },
            { "\\u202a", "U+202A" }, { "\\u202b", "U+202B" }, { "\\u202c", "U+202C" },
            { "\\u202d", "U+202D" }, { "\\u202e", "U+202E" }, { "\\u2066", "U+2066" },
            { "\\u2067", "U+2067" }, { "\\u2068", "U+2068" }, { "\\u2069", "U+2069" },
            { "\\u2028", "U+2028" }, { "\\u2029", "U+2029" },
        };
        static const char *const claims[] = {
            "{\"sub\":\"agent%s-1\"}", "{\"act\":{\"sub\":\"bot%s\"}}",
            "{\"owner\":\"alice%s\"}", "{\"jti\":\"j%s\"}",
            "{\"iss\":\"https://issuer.test%s\"}",
        };
        static const char *const names[] = {
            "\"sub\"", "\"act.sub\"", "\"owner\"", "\"jti\"", "\"iss\"",
        };
        size_t b, c;

        for (b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
            for (c = 0; c < sizeof(claims) / sizeof(claims[0]); c++) {
                char *tok;
                aim_token *t = NULL;
                aim_status s;

                snprintf(buf, sizeof(buf), claims[c], bad[b].json);
                tok = tu_token(NULL, buf);
                s = aim_verify(dv, tok, strlen(tok), &t, &verr);
                CHECKF(s == AIM_BAD_CLAIM && tu_contains(verr.message, names[c])
                       && tu_contains(verr.message, bad[b].cp),
                       "%s: %s (%s)", buf, aim_reason(s), verr.message);
                aim_token_free(t);
                free(tok);
            }
        }
        /* Agent ids hold no white space of any kind either (they are
         * words in policy and revocation files); other ids may. */
        EXPECT(V(NULL, "{\"sub\":\"agent\\u00a0x\"}"), AIM_BAD_CLAIM);
        CHECK(tu_contains(verr.message, "white space (U+00A0)"));
        EXPECT(V(NULL, "{\"act\":{\"sub\":\"bot\\u3000\"}}"), AIM_BAD_CLAIM);
        EXPECT(V(NULL, "{\"sub\":\"\\ufeffagent\"}"), AIM_BAD_CLAIM);
        /* A jti is a word of the revocation file: one with white space
         * could never be revoked. */
        EXPECT(V(NULL, "{\"jti\":\"jti 1\"}"), AIM_BAD_CLAIM);
        EXPECT(V(NULL, "{\"jti\":\"jti-1\\u00a0\"}"), AIM_BAD_CLAIM);
        CHECK(tu_contains(verr.message, "\"jti\" contains white space (U+00A0)"));
        EXPECT(V(NULL, "{\"jti\":\"a>b\"}"), AIM_OK);
        EXPECT(V(NULL, "{\"owner\":\"Alice Smith\"}"), AIM_OK);
        EXPECT(V(NULL, "{\"owner\":\"Alice\\u00a0Smith\"}"), AIM_OK);
        /* Token content quoted in a message before it was validated is
         * escaped there: the message reaches logs. */
        EXPECT(V("{\"kid\":\"k\\n\\u001b[2J\\u202e\"}", NULL), AIM_UNKNOWN_KEY);
        CHECKF(strchr(verr.message, '\n') == NULL && strchr(verr.message, 0x1b) == NULL
               && strstr(verr.message, "\xe2\x80\xae") == NULL
               && tu_contains(verr.message, "k\\x0a\\x1b[2J\\xe2\\x80\\xae"),
               "kid quoted as: %s", verr.message);
        EXPECT(V("{\"alg\":\"ES256\\r\\n\"}", NULL), AIM_UNSUPPORTED_ALG);
        CHECK(strchr(verr.message, '\r') == NULL && tu_contains(verr.message, "ES256\\x0d\\x0a"));
        EXPECT(V("{\"typ\":\"aim+jwt\\u009b\"}", NULL), AIM_BAD_TYPE);
        CHECK(strstr(verr.message, "\xc2\x9b") == NULL && tu_contains(verr.message, "\\xc2\\x9b"));
        EXPECT(V(NULL, "{\"status\":{\"status_list\":{\"idx\":0,\"uri\":\"https://x.test/l\\u001b\"}}}"),
               AIM_BAD_CLAIM);
        CHECK(tu_contains(verr.message, "U+001B"));
        {
            /* A configured key's kid holds none either. */
            char *jwk = tu_jwk(tu_key(AIM_ALG_ES256), AIM_ALG_ES256, "k\x1b[31m");
            json_t *j = tu_json(jwk);
            aim_key k;

            CHECK_ST(aim_key_from_jwk(j, &k, &verr), AIM_CONFIG, &verr);
            CHECK(tu_contains(verr.message, "kid") && tu_contains(verr.message, "U+001B"));
            json_decref(j);
            free(jwk);
            jwk = tu_jwk(tu_key(AIM_ALG_ES256), AIM_ALG_ES256, "key 1");
            j = tu_json(jwk);
            CHECK_ST(aim_key_from_jwk(j, &k, &verr), AIM_CONFIG, &verr);
            CHECK(tu_contains(verr.message, "white space (U+0020)"));
            json_decref(j);
            free(jwk);
        }
        /* Letters of any script, and joiners inside words, are fine. */
        EXPECT(V(NULL, "{\"sub\":\"\\u0430\\u0433\\u0435\\u043d\\u0442\"}"), AIM_OK);
        EXPECT(V(NULL, "{\"sub\":\"\\u0645\\u0633\\u0627\\u0639\\u062f\"}"), AIM_OK);
        EXPECT(V(NULL, "{\"owner\":\"\\u0928\\u094d\\u200d\\u092f\"}"), AIM_OK);
    }

    t_section("claims/dates");
    EXPECT(V(NULL, "{\"exp\":\"__delete__\"}"), AIM_MISSING_CLAIM);
    EXPECT(V(NULL, "{\"iat\":\"__delete__\"}"), AIM_MISSING_CLAIM);
    EXPECT(V(NULL, "{\"exp\":\"1800000600\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"iat\":\"1800000000\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"nbf\":\"1800000000\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"exp\":true}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"exp\":null}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"exp\":[1800000600]}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"exp\":{\"$date\":1800000600}}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"exp\":-1}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"iat\":-1}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"nbf\":-5}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"exp\":1e300}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"exp\":-1e300}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"iat\":1e300}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"nbf\":1e300}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"exp\":253402300800}"), AIM_BAD_CLAIM);
    {
        aim_status s = VX("\"exp\":99999999999999999999999");
        CHECKF(s == AIM_MALFORMED || s == AIM_BAD_CLAIM, "huge exp: %s", aim_reason(s));
    }
    /* Fractions are floored. */
    {
        aim_token *t = NULL;
        char *tok = tu_token(NULL, "{\"exp\":1800000600.9,\"iat\":1800000000.5}");
        CHECK_ST(aim_verify(dv, tok, strlen(tok), &t, &verr), AIM_OK, &verr);
        if (t != NULL) {
            CHECK_INT(aim_token_exp(t), 1800000600);
            CHECK_INT(aim_token_iat(t), 1800000000);
            aim_token_free(t);
        }
        free(tok);
    }
    /* Expiry with the default 30 s leeway. */
    snprintf(buf, sizeof(buf), "{\"iat\":%lld,\"exp\":%lld}", tu_now - 100, tu_now - 31);
    EXPECT(V(NULL, buf), AIM_EXPIRED);
    snprintf(buf, sizeof(buf), "{\"iat\":%lld,\"exp\":%lld}", tu_now - 100, tu_now - 30);
    EXPECT(V(NULL, buf), AIM_EXPIRED);
    snprintf(buf, sizeof(buf), "{\"iat\":%lld,\"exp\":%lld}", tu_now - 100, tu_now - 29);
    EXPECT(V(NULL, buf), AIM_OK);
    snprintf(buf, sizeof(buf), "{\"iat\":1300000000,\"exp\":1300000600}");
    EXPECT(V(NULL, buf), AIM_EXPIRED);
    /* nbf and iat in the future. */
    snprintf(buf, sizeof(buf), "{\"nbf\":%lld}", tu_now + 31);
    EXPECT(V(NULL, buf), AIM_NOT_YET_VALID);
    snprintf(buf, sizeof(buf), "{\"nbf\":%lld}", tu_now + 30);
    EXPECT(V(NULL, buf), AIM_OK);
    snprintf(buf, sizeof(buf), "{\"nbf\":%lld}", tu_now - 3000);
    EXPECT(V(NULL, buf), AIM_OK);
    snprintf(buf, sizeof(buf), "{\"iat\":%lld,\"exp\":%lld}", tu_now + 31, tu_now + 600);
    EXPECT(V(NULL, buf), AIM_NOT_YET_VALID);
    snprintf(buf, sizeof(buf), "{\"iat\":%lld,\"exp\":%lld}", tu_now + 30, tu_now + 600);
    EXPECT(V(NULL, buf), AIM_OK);
    snprintf(buf, sizeof(buf), "{\"iat\":%lld,\"exp\":%lld}", tu_now + 86400, tu_now + 86500);
    EXPECT(V(NULL, buf), AIM_NOT_YET_VALID);
    /* exp not after iat. */
    snprintf(buf, sizeof(buf), "{\"exp\":%lld}", tu_now);
    EXPECT(V(NULL, buf), AIM_BAD_CLAIM);
    snprintf(buf, sizeof(buf), "{\"exp\":%lld}", tu_now - 1);
    EXPECT(V(NULL, buf), AIM_BAD_CLAIM);
    /* Lifetime: 24 h allowed, one second more not. */
    snprintf(buf, sizeof(buf), "{\"exp\":%lld}", tu_now + 86400);
    EXPECT(V(NULL, buf), AIM_OK);
    snprintf(buf, sizeof(buf), "{\"exp\":%lld}", tu_now + 86401);
    EXPECT(V(NULL, buf), AIM_LIFETIME_TOO_LONG);
    snprintf(buf, sizeof(buf), "{\"exp\":253402300799}");
    EXPECT(V(NULL, buf), AIM_LIFETIME_TOO_LONG);
    /* Configured leeway and lifetime. */
    v = tu_verifier("leeway", "0", "max_lifetime", "60", NULL);
    snprintf(buf, sizeof(buf), "{\"exp\":%lld}", tu_now + 60);
    CHECK_ST(verify_tok(v, tu_token(NULL, buf), __LINE__), AIM_OK, &verr);
    snprintf(buf, sizeof(buf), "{\"exp\":%lld}", tu_now + 61);
    CHECK_ST(verify_tok(v, tu_token(NULL, buf), __LINE__), AIM_LIFETIME_TOO_LONG, &verr);
    snprintf(buf, sizeof(buf), "{\"iat\":%lld,\"exp\":%lld}", tu_now - 10, tu_now);
    CHECK_ST(verify_tok(v, tu_token(NULL, buf), __LINE__), AIM_EXPIRED, &verr);
    snprintf(buf, sizeof(buf), "{\"iat\":%lld,\"exp\":%lld}", tu_now - 10, tu_now + 1);
    CHECK_ST(verify_tok(v, tu_token(NULL, buf), __LINE__), AIM_OK, &verr);
    snprintf(buf, sizeof(buf), "{\"nbf\":%lld,\"exp\":%lld}", tu_now + 1, tu_now + 30);
    CHECK_ST(verify_tok(v, tu_token(NULL, buf), __LINE__), AIM_NOT_YET_VALID, &verr);
    snprintf(buf, sizeof(buf), "{\"iat\":%lld,\"exp\":%lld}", tu_now + 1, tu_now + 30);
    CHECK_ST(verify_tok(v, tu_token(NULL, buf), __LINE__), AIM_NOT_YET_VALID, &verr);
    aim_verifier_free(v);

    t_section("claims/scope");
    EXPECT(V(NULL, "{\"scope\":[\"kb:read\"]}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"scope\":7}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"scope\":null}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"scope\":\"a  b\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"scope\":\" a\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"scope\":\"a \"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"scope\":\" \"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"scope\":\"a\\tb\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"scope\":\"a\\nb\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"scope\":\"a\\\"b\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"scope\":\"a\\\\b\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"scope\":\"kb:\\u00e9\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"scope\":\"\"}"), AIM_OK);
    EXPECT(V(NULL, "{\"scope\":\"a a a\"}"), AIM_OK);
    {
        char s[64 * 4 + 8];
        size_t i, n = 0;
        for (i = 0; i < 64; i++) n += (size_t) sprintf(s + n, "%s%03zu", i ? " " : "", i);
        snprintf(buf, sizeof(buf), "{\"scope\":\"%s\"}", s);
        EXPECT(V(NULL, buf), AIM_OK);
        snprintf(buf, sizeof(buf), "{\"scope\":\"%s 999\"}", s);
        EXPECT(V(NULL, buf), AIM_BAD_CLAIM);
        memset(big, 'x', 256);
        big[256] = '\0';
        snprintf(buf, sizeof(buf), "{\"scope\":\"%s\"}", big);
        EXPECT(V(NULL, buf), AIM_OK);
        snprintf(buf, sizeof(buf), "{\"scope\":\"%sx\"}", big);
        EXPECT(V(NULL, buf), AIM_BAD_CLAIM);
    }

    t_section("claims/act");
    {
        aim_token *t = NULL;
        char *tok = tu_token(NULL, "{\"act\":{\"sub\":\"orchestrator\",\"act\":{\"sub\":\"planner\"}}}");
        CHECK_ST(aim_verify(dv, tok, strlen(tok), &t, &verr), AIM_OK, &verr);
        if (t != NULL) {
            CHECK_STR(aim_token_agent(t), "orchestrator");
            CHECK_STR(aim_token_subject(t), "agent-1");
            CHECK_STR(aim_token_chain(t), "orchestrator>planner>agent-1");
            aim_token_free(t);
        }
        free(tok);
    }
    EXPECT(V(NULL, "{\"act\":{\"sub\":\"a1\",\"act\":{\"sub\":\"a2\",\"act\":{\"sub\":\"a3\","
               "\"act\":{\"sub\":\"a4\"}}}}}"), AIM_OK);
    EXPECT(V(NULL, "{\"act\":{\"sub\":\"a1\",\"act\":{\"sub\":\"a2\",\"act\":{\"sub\":\"a3\","
               "\"act\":{\"sub\":\"a4\",\"act\":{\"sub\":\"a5\"}}}}}}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"act\":{\"sub\":\"a1\",\"act\":{\"sub\":\"a2\",\"act\":{\"sub\":\"a3\","
               "\"act\":{\"sub\":\"a4\",\"act\":{\"sub\":\"a5\",\"act\":{\"sub\":\"a6\","
               "\"act\":{\"sub\":\"a7\",\"act\":{\"sub\":\"a8\"}}}}}}}}}"), AIM_MALFORMED);
    EXPECT(V(NULL, "{\"act\":{}}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"act\":{\"iss\":\"x\"}}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"act\":\"orchestrator\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"act\":null}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"act\":[{\"sub\":\"x\"}]}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"act\":{\"sub\":5}}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"act\":{\"sub\":\"\"}}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"act\":{\"sub\":\"a>b\"}}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"act\":{\"sub\":\"a\\nb\"}}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"act\":{\"sub\":\"a\\u0000b\"}}"), AIM_MALFORMED);
    EXPECT(V(NULL, "{\"act\":{\"sub\":\"a1\",\"act\":{}}}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"act\":{\"sub\":\"a1\",\"act\":\"a2\"}}"), AIM_BAD_CLAIM);

    t_section("claims/cnf-status");
    /* An empty cnf binds to nothing the issuer could have meant. */
    EXPECT(V(NULL, "{\"cnf\":{}}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"cnf\":\"x\"}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"cnf\":{\"jkt\":\"short\"}}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"cnf\":{\"jkt\":5}}"), AIM_BAD_CLAIM);
    /* A status list this verifier does not know: fail closed. */
    EXPECT(V(NULL, "{\"status\":{\"status_list\":{\"idx\":0,\"uri\":\"https://x.test/l\"}}}"), AIM_REVOKED);
    EXPECT(V(NULL, "{\"status\":{\"status_list\":{\"idx\":-1,\"uri\":\"https://x.test/l\"}}}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"status\":{\"status_list\":{\"idx\":\"0\",\"uri\":\"https://x.test/l\"}}}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"status\":{}}"), AIM_BAD_CLAIM);
    EXPECT(V(NULL, "{\"status\":7}"), AIM_BAD_CLAIM);

    t_section("claims/json");
    /* Duplicate claims: the second "sub" must not win. */
    EXPECT(VX("\"sub\":\"root\""), AIM_MALFORMED);
    EXPECT(VX("\"iss\":\"https://issuer.test\""), AIM_MALFORMED);
    EXPECT(VX("\"exp\":4102444800"), AIM_MALFORMED);
    EXPECT(VX("\"aud\":\"api\""), AIM_MALFORMED);
    EXPECT(VX("\"x\":{\"a\":1,\"a\":2}"), AIM_MALFORMED);
    /* Nesting. */
    EXPECT(VX("\"x\":[[[[[[1]]]]]]"), AIM_OK);
    EXPECT(VX("\"x\":[[[[[[[1]]]]]]]"), AIM_OK);
    EXPECT(VX("\"x\":[[[[[[[[1]]]]]]]]"), AIM_MALFORMED);
    EXPECT(VX("\"x\":\"\xff\""), AIM_MALFORMED);
    EXPECT(VX("\"x\":\"\\udc00\""), AIM_MALFORMED);
    EXPECT(VR(std_header, "[]"), AIM_MALFORMED);
    EXPECT(VR(std_header, "null"), AIM_MALFORMED);
    EXPECT(VR(std_header, "\"agent-1\""), AIM_MALFORMED);
    EXPECT(VR(std_header, "hello"), AIM_MALFORMED);
    EXPECT(VR(std_header, "{}"), AIM_MISSING_CLAIM);
    {
        char *c = raw_claims(NULL);
        char *b = malloc(strlen(c) + 8);
        sprintf(b, "\xef\xbb\xbf%s", c);
        EXPECT(VR(std_header, b), AIM_MALFORMED);
        sprintf(b, "%s x", c);
        EXPECT(VR(std_header, b), AIM_MALFORMED);
        sprintf(b, " %s\n", c);
        EXPECT(VR(std_header, b), AIM_OK);
        free(b);
        free(c);
    }
}

static void
test_sizes(void)
{
    char       *tok = NULL, *pad, hx[64];
    size_t      want = AIM_MAX_TOKEN_LEN, len = 0;
    int         p, hp, found = 0;
    aim_token  *t = NULL;

    t_section("verify/size");
    /* A correctly signed token of exactly 16384 bytes verifies; the same
     * grown past the bound is refused before any crypto. */
    pad = malloc(want);
    for (hp = 0; hp < 4 && !found; hp++) {
        int est;
        snprintf(hx, sizeof(hx), "{\"x\":\"%.*s\"}", hp, "xxxx");
        memset(pad, 'p', 1000);
        pad[1000] = '\0';
        {
            char *cx = malloc(1100);
            sprintf(cx, "{\"pad\":\"%s\"}", pad);
            tok = tu_token(hx, cx);
            est = 1000 + (int) ((want - strlen(tok)) * 3 / 4);
            free(cx);
            free(tok);
            tok = NULL;
        }
        for (p = est - 8; p < est + 8 && !found; p++) {
            char *cx;
            memset(pad, 'p', (size_t) p);
            pad[p] = '\0';
            cx = malloc((size_t) p + 32);
            sprintf(cx, "{\"pad\":\"%s\"}", pad);
            tok = tu_token(hx, cx);
            free(cx);
            len = strlen(tok);
            if (len == want) {
                found = 1;
            } else {
                free(tok);
                tok = NULL;
            }
        }
    }
    CHECKF(found, "could not build a token of exactly %zu bytes", want);
    if (found) {
        CHECK_ST(aim_verify(dv, tok, len, &t, &verr), AIM_OK, &verr);
        aim_token_free(t);
        free(tok);
        /* One more pad byte: over the bound. */
        memset(pad, 'p', (size_t) p);
        pad[p] = '\0';
        {
            char *cx = malloc((size_t) p + 32);
            sprintf(cx, "{\"pad\":\"%s\"}", pad);
            tok = tu_token(hx, cx);
            free(cx);
        }
        CHECK(strlen(tok) > want);
        CHECK_ST(aim_verify(dv, tok, strlen(tok), &t, &verr), AIM_MALFORMED, &verr);
        free(tok);
    }
    free(pad);
    /* A megabyte of junk is refused by length. */
    tok = malloc(1 << 20);
    memset(tok, 'A', 1 << 20);
    CHECK_ST(aim_verify(dv, tok, 1 << 20, &t, &verr), AIM_MALFORMED, &verr);
    free(tok);
    /* Whitespace around a good token. */
    tok = tu_token(NULL, NULL);
    {
        char *b = malloc(strlen(tok) + 4);
        sprintf(b, "%s\n", tok);
        EXPECT(verify_tok(dv, b, __LINE__), AIM_MALFORMED);
        b = malloc(strlen(tok) + 4);
        sprintf(b, " %s", tok);
        EXPECT(verify_tok(dv, b, __LINE__), AIM_MALFORMED);
        b = malloc(strlen(tok) + 4);
        sprintf(b, "%s=", tok);
        EXPECT(verify_tok(dv, b, __LINE__), AIM_MALFORMED);
        b = malloc(strlen(tok) + 8);
        sprintf(b, "Bearer %s", tok);
        EXPECT(verify_tok(dv, b, __LINE__), AIM_MALFORMED);
        b = malloc(strlen(tok) + 8);
        sprintf(b, "%s.", tok);
        EXPECT(verify_tok(dv, b, __LINE__), AIM_MALFORMED);
        b = malloc(strlen(tok) + 8);
        sprintf(b, "%s.e30", tok);
        EXPECT(verify_tok(dv, b, __LINE__), AIM_MALFORMED);
    }
    /* Two segments only: header.payload */
    {
        char *b = malloc(strlen(tok) + 1);
        strcpy(b, tok);
        *strrchr(b, '.') = '\0';
        EXPECT(verify_tok(dv, b, __LINE__), AIM_MALFORMED);
    }
    /* Padding in the payload segment. */
    {
        const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
        char *b = malloc(strlen(tok) + 8);
        size_t plen = (size_t) (d2 - d1 - 1);
        sprintf(b, "%.*s", (int) (d2 - tok), tok);
        strcat(b, plen % 4 == 2 ? "==" : plen % 4 == 3 ? "=" : "====");
        strcat(b, d2);
        EXPECT(verify_tok(dv, b, __LINE__), AIM_MALFORMED);
    }
    free(tok);
}

void
test_verify(void)
{
    dv = tu_verifier(NULL);
    test_accept_and_accessors();
    test_header_rules();
    test_alg_confusion();
    test_signatures();
    test_claims();
    test_sizes();
    aim_verifier_free(dv);
}
