/*
 * test_keys.c -- JWK / JWKS / PEM loading and signature checks (keys.h).
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include "b64.h"
#include "keys.h"
#include "sign.h"
#include "t.h"
#include "tu.h"
#include "units.h"

/* RFC 7638 section 3.1: this JWK's thumbprint is known. */
static const char rfc7638_jwk[] =
    "{\"kty\":\"RSA\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4"
    "cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5J"
    "sGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJ"
    "ZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM"
    "4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\",\"e\":"
    "\"AQAB\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}";

/* RFC 7515 A.3: a private EC JWK (it has "d"). */
static const char rfc7515_a3_private[] =
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uP"
    "HvRVEU\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\",\"d\":\"jpsQnnG"
    "QmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI\",\"kid\":\"a3\"}";

static const char p256_order[] =
    "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";

static aim_status
load_jwk(const char *text, aim_key *k, aim_error *err)
{
    json_t     *j = tu_json(text);
    aim_status  s = aim_key_from_jwk(j, k, err);

    json_decref(j);
    return s;
}

/* load, check the status, drop the key */
static aim_status
jwk_status(const char *text, aim_error *err)
{
    aim_key    k;
    aim_status s = load_jwk(text, &k, err);

    if (s == AIM_OK) {
        aim_key_clear(&k);
    }
    return s;
}

/* A JWK with one member replaced (or removed when value is NULL). */
static char *
jwk_with(const char *base, const char *name, const char *value_json)
{
    json_t *j = tu_json(base);
    char   *s;

    if (value_json == NULL) {
        json_object_del(j, name);
    } else {
        json_object_set_new(j, name, tu_json(value_json));
    }
    s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

/* An RSA public JWK of any key, with e replaced when e_b64 != NULL. */
static char *
rsa_jwk(EVP_PKEY *k, const char *e_b64, int even, const char *kid)
{
    BIGNUM        *n = NULL, *e = NULL;
    unsigned char  buf[1100];
    char          *nb, *eb, *out;
    int            len;

    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e);
    if (even) {
        BN_clear_bit(n, 0);
    }
    len = BN_bn2bin(n, buf);
    nb = tu_b64(buf, (size_t) len);
    len = BN_bn2bin(e, buf);
    eb = tu_b64(buf, (size_t) len);
    out = malloc(strlen(nb) + 200);
    sprintf(out, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"}", kid, nb,
            e_b64 != NULL ? e_b64 : eb);
    BN_free(n);
    BN_free(e);
    free(nb);
    free(eb);
    return out;
}

static const char *
write_pem(const char *name, EVP_PKEY *k, int private)
{
    const char *path = tu_path(name);
    FILE       *fp = fopen(path, "w");

    if (fp == NULL) {
        exit(2);
    }
    if (private) {
        PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL);
    } else {
        PEM_write_PUBKEY(fp, k);
    }
    fclose(fp);
    return path;
}

static aim_keyset *
jwks(const char *text, aim_error *err)
{
    return aim_keyset_parse_jwks(text, strlen(text), "test.jwks", err);
}

static void
test_jwk_members(void)
{
    static const aim_alg algs[] = { AIM_ALG_ES256, AIM_ALG_ES384, AIM_ALG_EDDSA,
                                    AIM_ALG_RS256, AIM_ALG_PS256 };
    aim_error  err;
    aim_key    k;
    size_t     i;
    char      *base, *s;
    char       tp[44];
    json_t    *j;

    t_section("keys/alg-names");
    for (i = 0; i < 5; i++) {
        CHECK(aim_alg_from_name(aim_alg_name(algs[i])) == algs[i]);
    }
    CHECK(aim_alg_from_name("none") == AIM_ALG_NONE);
    CHECK(aim_alg_from_name("HS256") == AIM_ALG_NONE);
    CHECK(aim_alg_from_name("RS384") == AIM_ALG_NONE);
    CHECK(aim_alg_from_name("ES512") == AIM_ALG_NONE);
    CHECK(aim_alg_from_name("es256") == AIM_ALG_NONE);
    CHECK(aim_alg_from_name("ES256 ") == AIM_ALG_NONE);
    CHECK(aim_alg_from_name("") == AIM_ALG_NONE);
    CHECK(aim_alg_from_name(NULL) == AIM_ALG_NONE);
    CHECK_STR(aim_alg_name(AIM_ALG_NONE), "none");

    t_section("keys/jwk");
    /* Every algorithm: the key pins its algorithm. */
    for (i = 0; i < 5; i++) {
        s = tu_jwk(tu_key(algs[i]), algs[i], "x");
        CHECK_ST(load_jwk(s, &k, &err), AIM_OK, &err);
        CHECKF(k.alg == algs[i], "%s loaded as %s", aim_alg_name(algs[i]),
               aim_alg_name(k.alg));
        CHECK_STR(k.kid, "x");
        CHECK(k.pkey != NULL);
        CHECK((k.vctx != NULL) == (algs[i] != AIM_ALG_EDDSA));
        CHECK((k.ed_ctx != NULL) == (algs[i] == AIM_ALG_EDDSA));
        aim_key_clear(&k);
        free(s);
    }
    /* RSA without "alg" pins RS256. */
    base = rsa_jwk(tu_key(AIM_ALG_RS256), NULL, 0, "r");
    CHECK_ST(load_jwk(base, &k, &err), AIM_OK, &err);
    CHECK(k.alg == AIM_ALG_RS256);
    aim_key_clear(&k);
    s = jwk_with(base, "alg", "\"PS256\"");
    CHECK_ST(load_jwk(s, &k, &err), AIM_OK, &err);
    CHECK(k.alg == AIM_ALG_PS256);
    aim_key_clear(&k);
    free(s);
    /* RSA with an EC or unknown algorithm. */
    s = jwk_with(base, "alg", "\"ES256\"");
    CHECK(jwk_status(s, &err) != AIM_OK);
    free(s);
    s = jwk_with(base, "alg", "\"RS384\"");
    CHECK_ST(jwk_status(s, &err), AIM_UNSUPPORTED_ALG, &err);
    free(s);
    s = jwk_with(base, "alg", "\"HS256\"");
    CHECK_ST(jwk_status(s, &err), AIM_UNSUPPORTED_ALG, &err);
    free(s);
    s = jwk_with(base, "alg", "\"none\"");
    CHECK_ST(jwk_status(s, &err), AIM_UNSUPPORTED_ALG, &err);
    free(s);
    s = jwk_with(base, "alg", "256");
    CHECK(jwk_status(s, &err) != AIM_OK);
    free(s);
    /* use / key_ops */
    s = jwk_with(base, "use", "\"enc\"");
    CHECK_ST(jwk_status(s, &err), AIM_UNSUPPORTED_ALG, &err);
    free(s);
    s = jwk_with(base, "use", "\"sig\"");
    CHECK_ST(jwk_status(s, &err), AIM_OK, &err);
    free(s);
    s = jwk_with(base, "use", "1");
    CHECK(jwk_status(s, &err) != AIM_OK);
    free(s);
    s = jwk_with(base, "key_ops", "[\"sign\"]");
    CHECK(jwk_status(s, &err) != AIM_OK);
    free(s);
    s = jwk_with(base, "key_ops", "[\"encrypt\",\"verify\"]");
    CHECK_ST(jwk_status(s, &err), AIM_OK, &err);
    free(s);
    s = jwk_with(base, "key_ops", "\"verify\"");
    CHECK(jwk_status(s, &err) != AIM_OK);
    free(s);
    /* kid shape */
    s = jwk_with(base, "kid", "\"\"");
    CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
    free(s);
    s = jwk_with(base, "kid", "7");
    CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
    free(s);
    {
        char kid[300];
        memset(kid, 'k', 259);
        kid[0] = '"'; kid[258] = '"'; kid[259] = '\0';   /* 257 bytes */
        s = jwk_with(base, "kid", kid);
        CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
        free(s);
        kid[257] = '"'; kid[258] = '\0';                 /* 256 bytes */
        s = jwk_with(base, "kid", kid);
        CHECK_ST(jwk_status(s, &err), AIM_OK, &err);
        free(s);
    }
    /* kty */
    s = jwk_with(base, "kty", NULL);
    CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
    free(s);
    s = jwk_with(base, "kty", "\"rsa\"");
    CHECK(jwk_status(s, &err) != AIM_OK);
    free(s);
    s = jwk_with(base, "kty", "[\"RSA\"]");
    CHECK(jwk_status(s, &err) != AIM_OK);
    free(s);
    /* n / e shapes */
    s = jwk_with(base, "n", "\"\"");
    CHECK(jwk_status(s, &err) != AIM_OK);
    free(s);
    s = jwk_with(base, "e", "\"AQAB=\"");
    CHECK(jwk_status(s, &err) != AIM_OK);
    free(s);
    s = jwk_with(base, "e", "65537");
    CHECK(jwk_status(s, &err) != AIM_OK);
    free(s);
    CHECK_ST(jwk_status("[1]", &err), AIM_CONFIG, &err);
    free(base);

    t_section("keys/rsa-size-and-exponent");
    {
        EVP_PKEY *small = tu_key_new(AIM_ALG_RS256, 1024);
        EVP_PKEY *medium = tu_key_new(AIM_ALG_RS256, 2047);
        s = rsa_jwk(small, NULL, 0, "small");
        CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
        CHECK(tu_contains(err.message, "1024"));
        free(s);
        s = rsa_jwk(medium, NULL, 0, "medium");
        CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
        free(s);
        EVP_PKEY_free(small);
        EVP_PKEY_free(medium);
    }
    s = rsa_jwk(tu_key(AIM_ALG_RS256), "Aw", 0, "e3");            /* e = 3 */
    CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
    free(s);
    s = rsa_jwk(tu_key(AIM_ALG_RS256), "AQ", 0, "e1");            /* e = 1 */
    CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
    free(s);
    s = rsa_jwk(tu_key(AIM_ALG_RS256), "AQAA", 0, "eeven");       /* even */
    CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
    free(s);
    s = rsa_jwk(tu_key(AIM_ALG_RS256), NULL, 1, "neven");         /* even n */
    CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
    free(s);
    s = rsa_jwk(tu_key(AIM_ALG_RS256), "AQAAAAE", 0, "e2^32+1");  /* 2^32+1 */
    CHECK_ST(jwk_status(s, &err), AIM_OK, &err);
    free(s);

    t_section("keys/private-material");
    CHECK_ST(jwk_status(rfc7515_a3_private, &err), AIM_CONFIG, &err);
    CHECK(tu_contains(err.message, "\"d\""));
    {
        static const char *const members[] = { "d", "p", "q", "dp", "dq", "qi", "oth", "k" };
        base = tu_jwk(tu_key(AIM_ALG_ES256), AIM_ALG_ES256, "p");
        for (i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
            s = jwk_with(base, members[i], "\"AAAA\"");
            CHECKF(jwk_status(s, &err) == AIM_CONFIG, "member %s: %s", members[i],
                   aim_reason(err.status));
            free(s);
        }
        free(base);
    }
    CHECK(jwk_status("{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c2VjcmV0\"}", &err) != AIM_OK);
    CHECK(jwk_status("{\"kty\":\"oct\",\"kid\":\"h\"}", &err) != AIM_OK);

    t_section("keys/ec-okp");
    base = tu_jwk(tu_key(AIM_ALG_ES256), AIM_ALG_ES256, "e");
    j = tu_json(base);
    {
        /* y flipped: the point leaves the curve. */
        char y[64];
        snprintf(y, sizeof(y), "%s", json_string_value(json_object_get(j, "y")));
        y[10] = y[10] == 'A' ? 'B' : 'A';
        json_object_set_new(j, "y", json_string(y));
        s = json_dumps(j, JSON_COMPACT);
        CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
        free(s);
    }
    json_decref(j);
    s = jwk_with(base, "crv", "\"P-521\"");
    CHECK_ST(jwk_status(s, &err), AIM_UNSUPPORTED_ALG, &err);
    free(s);
    s = jwk_with(base, "crv", "\"secp256k1\"");
    CHECK_ST(jwk_status(s, &err), AIM_UNSUPPORTED_ALG, &err);
    free(s);
    s = jwk_with(base, "crv", "\"P-384\"");                /* x, y too short */
    CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
    free(s);
    s = jwk_with(base, "crv", NULL);
    CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
    free(s);
    s = jwk_with(base, "x", "\"AAAA\"");
    CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
    free(s);
    s = jwk_with(base, "y", NULL);
    CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
    free(s);
    s = jwk_with(base, "alg", "\"ES384\"");                /* alg vs curve */
    CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
    free(s);
    s = jwk_with(base, "alg", "\"RS256\"");
    CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
    free(s);
    s = jwk_with(base, "kty", "\"OKP\"");                  /* P-256 as OKP */
    CHECK_ST(jwk_status(s, &err), AIM_UNSUPPORTED_ALG, &err);
    free(s);
    /* The point at infinity / all-zero coordinates. */
    s = jwk_with(base, "x", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"");
    {
        char *s2 = jwk_with(s, "y", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"");
        CHECK_ST(jwk_status(s2, &err), AIM_CONFIG, &err);
        free(s2);
    }
    free(s);
    free(base);
    base = tu_jwk(tu_key(AIM_ALG_EDDSA), AIM_ALG_EDDSA, "ed");
    s = jwk_with(base, "crv", "\"X25519\"");
    CHECK_ST(jwk_status(s, &err), AIM_UNSUPPORTED_ALG, &err);
    free(s);
    s = jwk_with(base, "crv", "\"Ed448\"");
    CHECK_ST(jwk_status(s, &err), AIM_UNSUPPORTED_ALG, &err);
    free(s);
    s = jwk_with(base, "x", "\"AAAA\"");
    CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
    free(s);
    s = jwk_with(base, "alg", "\"ES256\"");
    CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
    free(s);
    free(base);

    t_section("keys/thumbprint");
    j = tu_json(rfc7638_jwk);
    CHECK_ST(aim_jwk_thumbprint(j, tp, &err), AIM_OK, &err);
    CHECK_STR(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    json_decref(j);
    /* Member order and extra members do not change it. */
    j = tu_json("{\"kid\":\"z\",\"e\":\"AQAB\",\"use\":\"sig\",\"kty\":\"RSA\",\"n\":\""
                "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu"
                "1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4H"
                "c5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqz"
                "s8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
                "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8a"
                "wapJzKnqDKgw\"}");
    CHECK_ST(aim_jwk_thumbprint(j, tp, &err), AIM_OK, &err);
    CHECK_STR(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    json_decref(j);
    j = tu_json("{\"kty\":\"oct\",\"k\":\"AAAA\"}");
    CHECK(aim_jwk_thumbprint(j, tp, &err) != AIM_OK);
    json_decref(j);
    j = tu_json("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\"}");
    CHECK(aim_jwk_thumbprint(j, tp, &err) != AIM_OK);
    json_decref(j);
    {
        unsigned char h[32];
        char hex[65];
        aim_sha256("abc", 3, h);
        for (i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", h[i]);
        CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}

static void
test_jwks(void)
{
    aim_error    err;
    aim_keyset  *ks, *ks2;
    const char  *why, *path;
    char        *a, *b, *c, *buf;
    size_t       i, n;

    t_section("keys/jwks");
    a = tu_jwk(tu_key(AIM_ALG_ES256), AIM_ALG_ES256, "a");
    b = tu_jwk(tu_key(AIM_ALG_EDDSA), AIM_ALG_EDDSA, "b");
    c = tu_jwk(tu_key(AIM_ALG_ES384), AIM_ALG_ES384, "a");     /* same kid as a */
    buf = malloc(200000);

    sprintf(buf, "{\"keys\":[%s,%s]}", a, b);
    ks = jwks(buf, &err);
    CHECK(ks != NULL && aim_keyset_count(ks) == 2);
    CHECK(ks != NULL && aim_keyset_find(ks, "a") != NULL
          && aim_keyset_find(ks, "a")->alg == AIM_ALG_ES256);
    CHECK(ks != NULL && aim_keyset_find(ks, "b") != NULL);
    CHECK(ks != NULL && aim_keyset_find(ks, "c") == NULL);
    CHECK(ks != NULL && aim_keyset_find(ks, NULL) == NULL);
    CHECK(ks != NULL && aim_keyset_find(ks, "A") == NULL);
    CHECK(ks != NULL && aim_keyset_skipped(ks, &why) == 0 && why == NULL);

    /* Duplicate kid: the whole set is refused, not the second key. */
    sprintf(buf, "{\"keys\":[%s,%s]}", a, c);
    CHECK(jwks(buf, &err) == NULL);
    CHECK(err.status == AIM_CONFIG && tu_contains(err.message, "duplicate"));
    /* ... and across sources, by merge. */
    sprintf(buf, "{\"keys\":[%s]}", c);
    ks2 = jwks(buf, &err);
    CHECK(ks2 != NULL);
    if (ks != NULL && ks2 != NULL) {
        CHECK_ST(aim_keyset_merge(ks, ks2, &err), AIM_CONFIG, &err);
        CHECK(aim_keyset_count(ks) == 2);
    }
    aim_keyset_free(ks2);
    aim_keyset_free(ks);

    /* A key without kid. */
    {
        char *nokid = tu_jwk(tu_key(AIM_ALG_ES256), AIM_ALG_ES256, "x");
        json_t *j = tu_json(nokid);
        json_object_del(j, "kid");
        free(nokid);
        nokid = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        sprintf(buf, "{\"keys\":[%s,%s]}", b, nokid);
        CHECK(jwks(buf, &err) == NULL && err.status == AIM_CONFIG);
        free(nokid);
    }
    /* A single JWK instead of a set. */
    ks = jwks(a, &err);
    CHECK(ks != NULL && aim_keyset_count(ks) == 1);
    aim_keyset_free(ks);
    /* Skipped keys: unsupported but well-formed, reported. */
    {
        char *rs384 = jwk_with(a, "alg", "\"RS384\"");
        char *enc = jwk_with(b, "use", "\"enc\"");
        char *enc2 = jwk_with(enc, "kid", "\"enc2\"");
        sprintf(buf, "{\"keys\":[%s,%s,%s]}", rs384, enc, c);
        ks = jwks(buf, &err);
        CHECK(ks != NULL && aim_keyset_count(ks) == 1);
        CHECK(ks != NULL && aim_keyset_skipped(ks, &why) == 2 && why != NULL);
        aim_keyset_free(ks);
        sprintf(buf, "{\"keys\":[%s,%s]}", enc, enc2);
        CHECK(jwks(buf, &err) == NULL && err.status == AIM_CONFIG);
        free(rs384);
        free(enc);
        free(enc2);
    }
    /* A private key in a set refuses the whole set. */
    sprintf(buf, "{\"keys\":[%s,%s]}", a, rfc7515_a3_private);
    CHECK(jwks(buf, &err) == NULL && err.status == AIM_CONFIG);
    CHECK(tu_contains(err.message, "private"));
    /* An RSA key under 2048 bits refuses the whole set. */
    {
        EVP_PKEY *small = tu_key_new(AIM_ALG_RS256, 1024);
        char *sj = rsa_jwk(small, NULL, 0, "small");
        sprintf(buf, "{\"keys\":[%s,%s]}", a, sj);
        CHECK(jwks(buf, &err) == NULL && err.status == AIM_CONFIG);
        CHECK(tu_contains(err.message, "1024"));
        free(sj);
        EVP_PKEY_free(small);
    }
    /* Shapes. */
    CHECK(jwks("{\"keys\":{}}", &err) == NULL && err.status == AIM_CONFIG);
    CHECK(jwks("{\"keys\":[]}", &err) == NULL && err.status == AIM_CONFIG);
    CHECK(jwks("{\"keys\":[1]}", &err) == NULL && err.status == AIM_CONFIG);
    CHECK(jwks("{}", &err) == NULL && err.status == AIM_CONFIG);
    CHECK(jwks("[]", &err) == NULL && err.status == AIM_CONFIG);
    CHECK(jwks("not json", &err) == NULL && err.status == AIM_CONFIG);
    CHECK(jwks("", &err) == NULL && err.status == AIM_CONFIG);
    sprintf(buf, "{\"keys\":[%s],\"keys\":[]}", a);
    CHECK(jwks(buf, &err) == NULL && err.status == AIM_CONFIG);
    /* At most AIM_MAX_KEYS keys. */
    n = (size_t) sprintf(buf, "{\"keys\":[");
    for (i = 0; i <= AIM_MAX_KEYS; i++) {
        char kid[16], *k;
        sprintf(kid, "\"k%zu\"", i);
        k = jwk_with(a, "kid", kid);
        n += (size_t) sprintf(buf + n, "%s%s", i ? "," : "", k);
        free(k);
        if (i == AIM_MAX_KEYS - 1) {
            strcpy(buf + n, "]}");
            ks = jwks(buf, &err);
            CHECK(ks != NULL && aim_keyset_count(ks) == AIM_MAX_KEYS);
            aim_keyset_free(ks);
        }
    }
    strcpy(buf + n, "]}");
    CHECK(jwks(buf, &err) == NULL && err.status == AIM_CONFIG);

    t_section("keys/load");
    sprintf(buf, "{\"keys\":[%s,%s]}", a, b);
    path = tu_write("two.jwks", buf, (size_t) -1);
    ks = aim_keyset_load(path, &err);
    CHECK(ks != NULL && aim_keyset_count(ks) == 2);
    aim_keyset_free(ks);
    CHECK(aim_keyset_load(tu_path("missing.jwks"), &err) == NULL && err.status == AIM_CONFIG);
    CHECK(tu_contains(err.message, "missing.jwks"));
    CHECK(aim_keyset_load(tu_path(""), &err) == NULL && err.status == AIM_CONFIG);
    /* A file over 256 KiB is refused before parsing. */
    {
        char *big = malloc(300 * 1024 + 1);
        n = (size_t) sprintf(big, "{\"keys\":[%s]}", a);
        memset(big + n, ' ', 300 * 1024 - n);
        big[300 * 1024] = '\0';
        path = tu_write("big.jwks", big, (size_t) -1);
        CHECK(aim_keyset_load(path, &err) == NULL && err.status == AIM_CONFIG);
        free(big);
    }

    t_section("keys/pem");
    {
        char spec[700];
        const char *p256 = write_pem("p256.pem", tu_key(AIM_ALG_ES256), 0);
        const char *p384 = write_pem("p384.pem", tu_key(AIM_ALG_ES384), 0);
        const char *ed = write_pem("ed.pem", tu_key(AIM_ALG_EDDSA), 0);
        const char *rsa = write_pem("rsa.pem", tu_key(AIM_ALG_RS256), 0);
        const char *priv = write_pem("priv.pem", tu_key(AIM_ALG_ES256), 1);
        EVP_PKEY *small = tu_key_new(AIM_ALG_RS256, 1024);
        const char *rsa1024 = write_pem("rsa1024.pem", small, 0);
        json_t *j;
        char tp[44];

        EVP_PKEY_free(small);
        snprintf(spec, sizeof(spec), "pem:ES256:%s", p256);
        ks = aim_keyset_load(spec, &err);
        CHECKF(ks != NULL && aim_keyset_count(ks) == 1, "%s", err.message);
        /* kid: the RFC 7638 thumbprint of the key. */
        j = tu_json(a);
        aim_jwk_thumbprint(j, tp, &err);
        json_decref(j);
        CHECK(ks != NULL && aim_keyset_find(ks, tp) != NULL
              && aim_keyset_find(ks, tp)->alg == AIM_ALG_ES256);
        aim_keyset_free(ks);
        snprintf(spec, sizeof(spec), "pem:ES256:my-kid:%s", p256);
        ks = aim_keyset_load(spec, &err);
        CHECK(ks != NULL && aim_keyset_find(ks, "my-kid") != NULL);
        aim_keyset_free(ks);
        snprintf(spec, sizeof(spec), "pem:ES384:%s", p384);
        ks = aim_keyset_load(spec, &err);
        CHECK(ks != NULL && aim_keyset_count(ks) == 1);
        aim_keyset_free(ks);
        snprintf(spec, sizeof(spec), "pem:EdDSA:%s", ed);
        ks = aim_keyset_load(spec, &err);
        CHECK(ks != NULL && aim_keyset_count(ks) == 1);
        aim_keyset_free(ks);
        snprintf(spec, sizeof(spec), "pem:PS256:r:%s", rsa);
        ks = aim_keyset_load(spec, &err);
        CHECK(ks != NULL && aim_keyset_find(ks, "r") != NULL
              && aim_keyset_find(ks, "r")->alg == AIM_ALG_PS256);
        aim_keyset_free(ks);
        snprintf(spec, sizeof(spec), "pem:RS256:r:%s", rsa);
        ks = aim_keyset_load(spec, &err);
        CHECK(ks != NULL && aim_keyset_find(ks, "r") != NULL
              && aim_keyset_find(ks, "r")->alg == AIM_ALG_RS256);
        aim_keyset_free(ks);
        /* The algorithm must fit the key. */
        snprintf(spec, sizeof(spec), "pem:ES384:%s", p256);
        CHECK(aim_keyset_load(spec, &err) == NULL && err.status == AIM_CONFIG);
        snprintf(spec, sizeof(spec), "pem:ES256:%s", rsa);
        CHECK(aim_keyset_load(spec, &err) == NULL && err.status == AIM_CONFIG);
        snprintf(spec, sizeof(spec), "pem:RS256:%s", p256);
        CHECK(aim_keyset_load(spec, &err) == NULL && err.status == AIM_CONFIG);
        snprintf(spec, sizeof(spec), "pem:EdDSA:%s", p256);
        CHECK(aim_keyset_load(spec, &err) == NULL && err.status == AIM_CONFIG);
        snprintf(spec, sizeof(spec), "pem:HS256:%s", p256);
        CHECK(aim_keyset_load(spec, &err) == NULL && err.status == AIM_CONFIG);
        snprintf(spec, sizeof(spec), "pem:none:%s", p256);
        CHECK(aim_keyset_load(spec, &err) == NULL && err.status == AIM_CONFIG);
        /* RSA under 2048 bits, private keys, missing files, bad specs. */
        snprintf(spec, sizeof(spec), "pem:RS256:%s", rsa1024);
        CHECK(aim_keyset_load(spec, &err) == NULL && err.status == AIM_CONFIG);
        snprintf(spec, sizeof(spec), "pem:ES256:%s", priv);
        CHECK(aim_keyset_load(spec, &err) == NULL && err.status == AIM_CONFIG);
        snprintf(spec, sizeof(spec), "pem:ES256:%s", tu_path("nope.pem"));
        CHECK(aim_keyset_load(spec, &err) == NULL && err.status == AIM_CONFIG);
        CHECK(aim_keyset_load("pem:ES256", &err) == NULL && err.status == AIM_CONFIG);
        CHECK(aim_keyset_load("pem:", &err) == NULL && err.status == AIM_CONFIG);
        snprintf(spec, sizeof(spec), "pem:ES256:%s", tu_path("two.jwks"));
        CHECK(aim_keyset_load(spec, &err) == NULL && err.status == AIM_CONFIG);
        /* A JWKS is not a PEM, a PEM is not a JWKS. */
        CHECK(aim_keyset_load(p256, &err) == NULL && err.status == AIM_CONFIG);
    }
    free(a);
    free(b);
    free(c);
    free(buf);
}

/* Raw P-256 r||s from two big-endian hex numbers (or zero). */
static void
raw_sig(unsigned char out[64], const char *rhex, const char *shex)
{
    BIGNUM *r = NULL, *s = NULL;

    BN_hex2bn(&r, rhex);
    BN_hex2bn(&s, shex);
    BN_bn2binpad(r, out, 32);
    BN_bn2binpad(s, out + 32, 32);
    BN_free(r);
    BN_free(s);
}

static void
test_signatures(void)
{
    static const aim_alg algs[] = { AIM_ALG_ES256, AIM_ALG_ES384, AIM_ALG_EDDSA,
                                    AIM_ALG_RS256, AIM_ALG_PS256 };
    static const char msg[] = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0";
    aim_error      err;
    aim_key        k;
    unsigned char *sig, buf[1200];
    size_t         i, siglen;
    char          *j;

    t_section("keys/sign-verify");
    for (i = 0; i < 5; i++) {
        aim_alg alg = algs[i];
        EVP_PKEY *pk = tu_key(alg);

        j = tu_jwk(pk, alg, "k");
        load_jwk(j, &k, &err);
        free(j);
        sig = tu_sig(pk, alg, msg, strlen(msg), &siglen);
        CHECK_ST(aim_key_verify(&k, (const unsigned char *) msg, strlen(msg), sig,
                                siglen, &err), AIM_OK, &err);
        CHECK_ST(aim_sig_verify(k.pkey, alg, (const unsigned char *) msg, strlen(msg),
                                sig, siglen, &err), AIM_OK, &err);
        /* One bit of message or signature. */
        CHECK_ST(aim_key_verify(&k, (const unsigned char *) msg, strlen(msg) - 1,
                                sig, siglen, &err), AIM_BAD_SIGNATURE, &err);
        memcpy(buf, sig, siglen);
        buf[siglen / 2] ^= 0x01;
        CHECK_ST(aim_key_verify(&k, (const unsigned char *) msg, strlen(msg), buf,
                                siglen, &err), AIM_BAD_SIGNATURE, &err);
        buf[siglen / 2] ^= 0x01;
        buf[siglen - 1] ^= 0x80;
        CHECK_ST(aim_key_verify(&k, (const unsigned char *) msg, strlen(msg), buf,
                                siglen, &err), AIM_BAD_SIGNATURE, &err);
        /* Wrong lengths: one short, one long (trailing zero), leading zero, empty. */
        CHECK_ST(aim_key_verify(&k, (const unsigned char *) msg, strlen(msg), sig,
                                siglen - 1, &err), AIM_BAD_SIGNATURE, &err);
        memcpy(buf, sig, siglen);
        buf[siglen] = 0;
        CHECK_ST(aim_key_verify(&k, (const unsigned char *) msg, strlen(msg), buf,
                                siglen + 1, &err), AIM_BAD_SIGNATURE, &err);
        buf[0] = 0;
        memcpy(buf + 1, sig, siglen);
        CHECK_ST(aim_key_verify(&k, (const unsigned char *) msg, strlen(msg), buf,
                                siglen + 1, &err), AIM_BAD_SIGNATURE, &err);
        CHECK_ST(aim_key_verify(&k, (const unsigned char *) msg, strlen(msg), buf,
                                0, &err), AIM_BAD_SIGNATURE, &err);
        /* All zero and all ones of the right length. */
        memset(buf, 0, siglen);
        CHECK_ST(aim_key_verify(&k, (const unsigned char *) msg, strlen(msg), buf,
                                siglen, &err), AIM_BAD_SIGNATURE, &err);
        memset(buf, 0xff, siglen);
        CHECK_ST(aim_key_verify(&k, (const unsigned char *) msg, strlen(msg), buf,
                                siglen, &err), AIM_BAD_SIGNATURE, &err);
        /* The message never appears in an error. */
        CHECK(!tu_contains(err.message, msg));
        free(sig);
        aim_key_clear(&k);
    }

    t_section("keys/alg-key-mismatch");
    /* aim_sig_verify: the algorithm must fit the key type and curve. */
    sig = tu_sig(tu_key(AIM_ALG_ES256), AIM_ALG_ES256, msg, strlen(msg), &siglen);
    CHECK_ST(aim_sig_verify(tu_key(AIM_ALG_ES256), AIM_ALG_ES384,
                            (const unsigned char *) msg, strlen(msg), sig, siglen,
                            &err), AIM_UNSUPPORTED_ALG, &err);
    CHECK_ST(aim_sig_verify(tu_key(AIM_ALG_ES256), AIM_ALG_RS256,
                            (const unsigned char *) msg, strlen(msg), sig, siglen,
                            &err), AIM_UNSUPPORTED_ALG, &err);
    CHECK_ST(aim_sig_verify(tu_key(AIM_ALG_ES256), AIM_ALG_EDDSA,
                            (const unsigned char *) msg, strlen(msg), sig, siglen,
                            &err), AIM_UNSUPPORTED_ALG, &err);
    CHECK_ST(aim_sig_verify(tu_key(AIM_ALG_ES384), AIM_ALG_ES256,
                            (const unsigned char *) msg, strlen(msg), sig, siglen,
                            &err), AIM_UNSUPPORTED_ALG, &err);
    CHECK(aim_sig_verify(tu_key(AIM_ALG_ES256), AIM_ALG_NONE,
                         (const unsigned char *) msg, strlen(msg), sig, siglen,
                         &err) != AIM_OK);
    free(sig);
    /* secp256k1 has 256 bits too and is not ES256. */
    {
        EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
        sig = tu_sig(k1, AIM_ALG_ES256, msg, strlen(msg), &siglen);
        CHECKF(aim_sig_verify(k1, AIM_ALG_ES256, (const unsigned char *) msg,
                              strlen(msg), sig, siglen, &err) != AIM_OK,
               "secp256k1 signature accepted as ES256");
        free(sig);
        EVP_PKEY_free(k1);
    }
    /* RS256 and PS256 on one RSA key: each pin refuses the other. */
    {
        aim_key rs, ps;
        char *rj = tu_jwk(tu_key(AIM_ALG_RS256), AIM_ALG_RS256, "rs");
        char *pj = tu_jwk(tu_key(AIM_ALG_PS256), AIM_ALG_PS256, "ps");
        unsigned char *rsig, *psig;
        size_t rl, pl;

        load_jwk(rj, &rs, &err);
        load_jwk(pj, &ps, &err);
        rsig = tu_sig(tu_key(AIM_ALG_RS256), AIM_ALG_RS256, msg, strlen(msg), &rl);
        psig = tu_sig(tu_key(AIM_ALG_PS256), AIM_ALG_PS256, msg, strlen(msg), &pl);
        CHECK_ST(aim_key_verify(&rs, (const unsigned char *) msg, strlen(msg), rsig, rl, &err), AIM_OK, &err);
        CHECK_ST(aim_key_verify(&ps, (const unsigned char *) msg, strlen(msg), psig, pl, &err), AIM_OK, &err);
        CHECK_ST(aim_key_verify(&rs, (const unsigned char *) msg, strlen(msg), psig, pl, &err), AIM_BAD_SIGNATURE, &err);
        CHECK_ST(aim_key_verify(&ps, (const unsigned char *) msg, strlen(msg), rsig, rl, &err), AIM_BAD_SIGNATURE, &err);
        free(rsig);
        free(psig);
        free(rj);
        free(pj);
        aim_key_clear(&rs);
        aim_key_clear(&ps);
    }

    t_section("keys/psychic-ecdsa");
    j = tu_jwk(tu_key(AIM_ALG_ES256), AIM_ALG_ES256, "k");
    load_jwk(j, &k, &err);
    free(j);
    {
        /* CVE-2022-21449: r = s = 0 must never verify, nor r or s = n,
         * nor 1, nor the DER encoding of a valid signature. */
        static const char *const rs[][2] = {
            { "0", "0" }, { "0", "1" }, { "1", "0" }, { "1", "1" },
            { p256_order, p256_order }, { p256_order, "1" }, { "1", p256_order },
            { "0", p256_order },
        };
        unsigned char raw[64];
        for (i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
            raw_sig(raw, rs[i][0], rs[i][1]);
            CHECKF(aim_key_verify(&k, (const unsigned char *) msg, strlen(msg), raw, 64,
                                  &err) == AIM_BAD_SIGNATURE, "r=%s s=%s", rs[i][0], rs[i][1]);
        }
        /* r, s = n + (valid r, s): the same residue, not the same integer;
         * does not fit 32 bytes anyway. */
    }
    {
        /* A DER (ASN.1) ECDSA signature where JWS wants raw r||s. */
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        size_t dl = sizeof(buf);
        EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, tu_key(AIM_ALG_ES256), NULL);
        EVP_DigestSign(m, buf, &dl, (const unsigned char *) msg, strlen(msg));
        EVP_MD_CTX_free(m);
        CHECK_ST(aim_key_verify(&k, (const unsigned char *) msg, strlen(msg), buf, dl,
                                &err), AIM_BAD_SIGNATURE, &err);
        /* Padded to 64 bytes it is still not r||s. */
        if (dl < 64) {
            memset(buf + dl, 0, 64 - dl);
            CHECK_ST(aim_key_verify(&k, (const unsigned char *) msg, strlen(msg), buf,
                                    64, &err), AIM_BAD_SIGNATURE, &err);
        }
    }
    {
        /* High-s (n - s) of a valid signature: ECDSA is malleable and JWS
         * does not forbid it; AIM accepts what OpenSSL accepts. */
        BIGNUM *n = NULL, *s;
        sig = tu_sig(tu_key(AIM_ALG_ES256), AIM_ALG_ES256, msg, strlen(msg), &siglen);
        BN_hex2bn(&n, p256_order);
        s = BN_bin2bn(sig + 32, 32, NULL);
        BN_sub(s, n, s);
        BN_bn2binpad(s, sig + 32, 32);
        CHECK_ST(aim_key_verify(&k, (const unsigned char *) msg, strlen(msg), sig, 64,
                                &err), AIM_OK, &err);
        BN_free(n);
        BN_free(s);
        free(sig);
    }
    aim_key_clear(&k);
}

/* ------------------------------------------------------------------ */
/* Weak keys                                                           */

static void
hex_bytes(const char *hex, unsigned char *out, size_t n)
{
    size_t i;
    unsigned int b;

    for (i = 0; i < n; i++) {
        sscanf(hex + 2 * i, "%2x", &b);
        out[i] = (unsigned char) b;
    }
}

/* An Ed25519 JWK whose "x" is the 32 bytes of hex. */
static char *
ed_jwk(const char *hex, const char *kid)
{
    unsigned char raw[32];
    char         *x, *out;

    hex_bytes(hex, raw, 32);
    x = tu_b64(raw, 32);
    out = malloc(strlen(x) + 128);
    sprintf(out, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"%s\",\"x\":\"%s\"}",
            kid, x);
    free(x);
    return out;
}

/* A JWKS of one JWK, loaded from a file as configuration is. */
static aim_keyset *
load_one(const char *jwk, aim_error *err)
{
    char        *doc = malloc(strlen(jwk) + 16);
    const char  *path;
    aim_keyset  *ks;

    sprintf(doc, "{\"keys\":[%s]}", jwk);
    path = tu_write("weak.jwks", doc, (size_t) -1);
    free(doc);
    ks = aim_keyset_load(path, err);
    return ks;
}

/* The smallest odd prime factor of m below 2^15 (0: none), by trial. */
static unsigned long
smallest_factor(const BIGNUM *m)
{
    unsigned long f, g;

    for (f = 3; f < 32768; f += 2) {
        for (g = 3; g * g <= f && f % g != 0; g += 2) {
        }
        if ((g * g > f) && BN_mod_word(m, f) == 0) {
            return f;
        }
    }
    return 0;
}

static void
test_weak_keys(void)
{
    /*
     * Every encoding of Ed25519's eight points of small order: the
     * canonical ones (order 1, 2, 4, 4, 8, 8, 8, 8: derived independently
     * in Python from the curve equation), the identity and order-2 point
     * with the sign bit set (x = 0 is never negative), and y + p for
     * y = 0, 1 (non-canonical), with either sign.
     */
    static const char *const small_order[] = {
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "0100000000000000000000000000000000000000000000000000000000000080",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    };
    /* RFC 8032 7.1 test 1's public key: a good one. */
    static const char good[] =
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    /* That key plus a point of order 8 (computed in Python): on the
     * curve, not of small order, outside the prime-order subgroup. */
    static const char mixed[] =
        "b2a4b8a3b47d22ea8d86603ab90b393fc1b87399ab55b3806ba4cb815cd509f2";
    /* y = 2: no x satisfies the curve equation. */
    static const char off_curve[] =
        "0200000000000000000000000000000000000000000000000000000000000000";
    /* y = p + 18: not canonical, and not one of the small-order points. */
    static const char y_ge_p[] =
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f";
    aim_error    err;
    aim_keyset  *ks;
    aim_key      k;
    char        *s;
    size_t       i;

    t_section("keys/weak-ed25519");
    {
        /* Why: OpenSSL verifies a constant signature (R = identity, S = 0)
         * over any message with the identity as public key. */
        unsigned char pk[32] = { 1 }, sig[64] = { 1 };
        EVP_PKEY     *raw = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, 32);

        CHECK_ST(aim_sig_verify(raw, AIM_ALG_EDDSA, (const unsigned char *) "any", 3,
                                sig, 64, &err), AIM_OK, &err);
        CHECK_ST(aim_sig_verify(raw, AIM_ALG_EDDSA, (const unsigned char *) "token", 5,
                                sig, 64, &err), AIM_OK, &err);
        EVP_PKEY_free(raw);
    }
    for (i = 0; i < sizeof(small_order) / sizeof(small_order[0]); i++) {
        s = ed_jwk(small_order[i], "weak");
        /* Refused by every Ed25519 key's checks (a DPoP proof's too)... */
        CHECKF(jwk_status(s, &err) == AIM_CONFIG
               && (tu_contains(err.message, "small order")
                   || tu_contains(err.message, "not canonical")),
               "small-order key %s: %s (%s)", small_order[i],
               aim_reason(err.status), err.message);
        /* ... and in a key file, naming the file and the key. */
        ks = load_one(s, &err);
        CHECKF(ks == NULL && err.status == AIM_CONFIG
               && tu_contains(err.message, "weak.jwks")
               && tu_contains(err.message, "\"weak\""),
               "small-order key %s in a JWKS: %s", small_order[i], err.message);
        aim_keyset_free(ks);
        free(s);
    }
    s = ed_jwk(small_order[0], "weak");
    CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
    CHECK(tu_contains(err.message, "Ed25519 public key is a point of small order"));
    free(s);
    s = ed_jwk(small_order[10], "weak");
    CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
    CHECK(tu_contains(err.message, "not canonical"));
    free(s);
    s = ed_jwk(y_ge_p, "weak");
    CHECK_ST(jwk_status(s, &err), AIM_CONFIG, &err);
    CHECK(tu_contains(err.message, "not canonical"));
    free(s);

    /* The load-time checks: on the curve, in the prime-order subgroup. */
    s = ed_jwk(good, "good");
    CHECK_ST(jwk_status(s, &err), AIM_OK, &err);
    ks = load_one(s, &err);
    CHECKF(ks != NULL, "a good Ed25519 key loads: %s", err.message);
    aim_keyset_free(ks);
    free(s);
    s = ed_jwk(mixed, "mixed");
    ks = load_one(s, &err);
    CHECKF(ks == NULL && tu_contains(err.message, "small-order component")
           && tu_contains(err.message, "\"mixed\""), "mixed order: %s", err.message);
    aim_keyset_free(ks);
    free(s);
    s = ed_jwk(off_curve, "off");
    ks = load_one(s, &err);
    CHECKF(ks == NULL && tu_contains(err.message, "not a point on the curve"),
           "off the curve: %s", err.message);
    aim_keyset_free(ks);
    free(s);
    {
        /* The cached test key and fresh ones load (no false refusal). */
        for (i = 0; i < 16; i++) {
            EVP_PKEY *fresh = i == 0 ? tu_key(AIM_ALG_EDDSA) : tu_key_new(AIM_ALG_EDDSA, 0);

            s = tu_jwk(fresh, AIM_ALG_EDDSA, "fresh");
            CHECK_ST(load_jwk(s, &k, &err), AIM_OK, &err);
            CHECK_ST(aim_key_validate(&k, &err), AIM_OK, &err);
            aim_key_clear(&k);
            free(s);
            if (i != 0) {
                EVP_PKEY_free(fresh);
            }
        }
    }
    {
        /* A PEM file goes through the same checks. */
        unsigned char pk[32];
        EVP_PKEY     *raw;
        char          spec[600];

        hex_bytes(small_order[6], pk, 32);
        raw = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, 32);
        snprintf(spec, sizeof(spec), "pem:EdDSA:%s", write_pem("weak.pem", raw, 0));
        ks = aim_keyset_load(spec, &err);
        CHECKF(ks == NULL && tu_contains(err.message, "small order")
               && tu_contains(err.message, "weak.pem"), "PEM: %s", err.message);
        aim_keyset_free(ks);
        EVP_PKEY_free(raw);
        hex_bytes(mixed, pk, 32);
        raw = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, 32);
        snprintf(spec, sizeof(spec), "pem:EdDSA:%s", write_pem("mixed.pem", raw, 0));
        ks = aim_keyset_load(spec, &err);
        CHECKF(ks == NULL && tu_contains(err.message, "small-order component"),
               "PEM: %s", err.message);
        aim_keyset_free(ks);
        EVP_PKEY_free(raw);
    }

    t_section("keys/weak-rsa");
    {
        static const unsigned long factors[] = { 3, 5, 751, 16381 };
        EVP_PKEY      *pk = tu_key(AIM_ALG_RS256);
        BIGNUM        *n = NULL, *e = NULL;
        unsigned char  buf[600];
        char          *nb, *eb, *doc, want[32];
        int            len;

        EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n);
        EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e);
        len = BN_bn2bin(e, buf);
        eb = tu_b64(buf, (size_t) len);
        for (i = 0; i < sizeof(factors) / sizeof(factors[0]); i++) {
            BIGNUM *m = BN_dup(n);

            /* An odd multiple of factor just below n (2048 bits) whose
             * smallest prime factor is factor. */
            BN_sub_word(m, BN_mod_word(m, factors[i]));
            if (!BN_is_odd(m)) {
                BN_sub_word(m, factors[i]);
            }
            while (smallest_factor(m) != factors[i]) {
                BN_sub_word(m, 2 * factors[i]);
            }
            len = BN_bn2bin(m, buf);
            nb = tu_b64(buf, (size_t) len);
            doc = malloc(strlen(nb) + strlen(eb) + 64);
            sprintf(doc, "{\"kty\":\"RSA\",\"kid\":\"f\",\"n\":\"%s\",\"e\":\"%s\"}", nb, eb);
            CHECK_INT(BN_num_bits(m), 2048);
            ks = load_one(doc, &err);
            snprintf(want, sizeof(want), "factor %lu", factors[i]);
            CHECKF(ks == NULL && err.status == AIM_CONFIG && tu_contains(err.message, want),
                   "modulus with factor %lu: %s", factors[i], err.message);
            aim_keyset_free(ks);
            free(doc);
            free(nb);
            BN_free(m);
        }
        /* The real modulus loads. */
        s = rsa_jwk(pk, NULL, 0, "real");
        ks = load_one(s, &err);
        CHECKF(ks != NULL, "a real RSA key loads: %s", err.message);
        aim_keyset_free(ks);
        free(s);
        free(eb);
        BN_free(n);
        BN_free(e);
    }
}

void
test_keys(void)
{
    test_jwk_members();
    test_jwks();
    test_signatures();
    test_weak_keys();
}
