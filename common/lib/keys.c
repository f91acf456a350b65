/*
 * keys.c -- verification keys and signature checks (OpenSSL 3 EVP).
 *
 * The key decides the algorithm.  A JWK is turned into an EVP_PKEY once,
 * at load, together with a verify context already set up for the key's
 * one algorithm, so the hot path only hashes and verifies.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include "b64.h"
#include "json.h"
#include "keys.h"
#include "util.h"

#define AIM_JWKS_MAX_BYTES (256 * 1024)

struct aim_keyset {
    aim_key  keys[AIM_MAX_KEYS];
    size_t   n;
    size_t   skipped;
    char     skip_reason[160];
};

static EVP_MD         *md_sha256;
static EVP_MD         *md_sha384;
static pthread_once_t  md_once = PTHREAD_ONCE_INIT;

static void
aim_md_fetch(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    md_sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
}

static const EVP_MD *
aim_md(aim_alg alg)
{
    /* Fetched once: an implicit fetch per verification is measurable. */
    pthread_once(&md_once, aim_md_fetch);
    return alg == AIM_ALG_ES384 ? md_sha384 : md_sha256;
}

EVP_MD_CTX *
aim_digest_ctx_new(aim_alg alg)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (ctx != NULL && EVP_DigestInit_ex2(ctx, aim_md(alg), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        ERR_clear_error();
        ctx = NULL;
    }
    return ctx;
}

int
aim_digest_again(EVP_MD_CTX *ctx, const void *data, size_t len,
                 unsigned char *out, unsigned int *outlen)
{
    /* A NULL type starts the digest the context had over again, without
     * the allocation and fetch a new context costs. */
    return EVP_DigestInit_ex2(ctx, NULL, NULL) == 1
           && EVP_DigestUpdate(ctx, data, len) == 1
           && EVP_DigestFinal_ex(ctx, out, outlen) == 1;
}

int
aim_sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 0;

    return EVP_Digest(data, len, out, &n, aim_md(AIM_ALG_ES256), NULL) == 1
           && n == 32;
}

aim_alg
aim_alg_from_name(const char *name)
{
    if (name == NULL) return AIM_ALG_NONE;
    if (strcmp(name, "ES256") == 0) return AIM_ALG_ES256;
    if (strcmp(name, "ES384") == 0) return AIM_ALG_ES384;
    if (strcmp(name, "EdDSA") == 0) return AIM_ALG_EDDSA;
    if (strcmp(name, "RS256") == 0) return AIM_ALG_RS256;
    if (strcmp(name, "PS256") == 0) return AIM_ALG_PS256;
    return AIM_ALG_NONE;
}

const char *
aim_alg_name(aim_alg alg)
{
    switch (alg) {
    case AIM_ALG_ES256: return "ES256";
    case AIM_ALG_ES384: return "ES384";
    case AIM_ALG_EDDSA: return "EdDSA";
    case AIM_ALG_RS256: return "RS256";
    case AIM_ALG_PS256: return "PS256";
    default:            return "none";
    }
}

/* Decode a base64url JWK member of exactly want bytes (0: any, <= max). */
static int
jwk_bytes(const json_t *jwk, const char *name, unsigned char *out,
          size_t want, size_t max, size_t *got, aim_error *err)
{
    const json_t *v = json_object_get(jwk, name);
    const char   *s;
    size_t        len, n;

    if (!json_is_string(v)) {
        aim_fail(err, AIM_CONFIG, "JWK member \"%s\" missing or not a string", name);
        return -1;
    }
    s = json_string_value(v);
    len = json_string_length(v);
    if (AIM_B64_DECODED_MAX(len) > max + 3 || len == 0
        || aim_b64url_decode(s, len, out, &n) != 0)
    {
        aim_fail(err, AIM_CONFIG, "JWK member \"%s\" is not valid base64url "
                 "of a sensible length", name);
        return -1;
    }
    if (want != 0 && n != want) {
        aim_fail(err, AIM_CONFIG, "JWK member \"%s\" is %zu bytes, expected %zu",
                 name, n, want);
        return -1;
    }
    *got = n;
    return 0;
}

static EVP_PKEY *
pkey_from_params(const char *type, OSSL_PARAM_BLD *bld, aim_error *err)
{
    OSSL_PARAM   *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY     *pkey = NULL;

    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params == NULL || ctx == NULL
        || EVP_PKEY_fromdata_init(ctx) <= 0
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
    {
        aim_fail(err, AIM_CONFIG, "%s public key rejected by OpenSSL", type);
        pkey = NULL;
    }
    OSSL_PARAM_free(params);
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return pkey;
}

static EVP_PKEY *
jwk_ec(const json_t *jwk, const char *crv, aim_alg *alg, aim_error *err)
{
    unsigned char  pub[1 + 2 * 48];
    size_t         flen, n;
    const char    *group;
    OSSL_PARAM_BLD *bld;
    EVP_PKEY      *pkey = NULL;
    EVP_PKEY_CTX  *chk;

    if (strcmp(crv, "P-256") == 0) {
        flen = 32; group = "prime256v1"; *alg = AIM_ALG_ES256;
    } else if (strcmp(crv, "P-384") == 0) {
        flen = 48; group = "secp384r1"; *alg = AIM_ALG_ES384;
    } else {
        aim_fail(err, AIM_UNSUPPORTED_ALG, "EC curve \"%s\" is not supported "
                 "(P-256, P-384)", crv);
        return NULL;
    }

    pub[0] = 0x04;
    if (jwk_bytes(jwk, "x", pub + 1, flen, 48, &n, err) != 0
        || jwk_bytes(jwk, "y", pub + 1 + flen, flen, 48, &n, err) != 0)
    {
        return NULL;
    }

    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL
        || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0)
        || !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub,
                                             1 + 2 * flen))
    {
        OSSL_PARAM_BLD_free(bld);
        aim_fail(err, AIM_INTERNAL, "out of memory building an EC key");
        return NULL;
    }
    pkey = pkey_from_params("EC", bld, err);
    OSSL_PARAM_BLD_free(bld);
    if (pkey == NULL) {
        aim_fail(err, AIM_CONFIG, "EC point is not on curve %s", crv);
        return NULL;
    }

    /* Reject invalid points (not on the curve, point at infinity). */
    chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (chk == NULL || EVP_PKEY_public_check(chk) != 1) {
        EVP_PKEY_CTX_free(chk);
        EVP_PKEY_free(pkey);
        ERR_clear_error();
        aim_fail(err, AIM_CONFIG, "EC public key fails validation on %s", crv);
        return NULL;
    }
    EVP_PKEY_CTX_free(chk);
    return pkey;
}

/* ------------------------------------------------------------------ */
/* Weak keys                                                           */

/*
 * The y coordinates (little endian, sign bit clear) of Ed25519's eight
 * points of small order: y = 1 (the identity), p - 1 (order 2), 0 (order
 * 4, both signs of x) and the two of order 8.  Their other encodings
 * (y + p for y < 19, x = 0 with the sign bit) are not canonical, and
 * refused as such.  With one of these as a public key, [k]A takes at
 * most eight values, so a signature made without the private key
 * verifies any message (with the identity, always the same signature).
 */
static const unsigned char ed25519_small_order_y[5][32] = {
    { 0x01 },
    { 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
    { 0x00 },
    { 0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89,
      0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39,
      0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05 },
    { 0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76,
      0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6,
      0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a },
};

/*
 * The checks every Ed25519 key gets, also a DPoP proof's on each request
 * (they cost a few comparisons): y below p = 2^255 - 19, and not one of
 * the small-order points.
 */
static int
ed25519_weak(const unsigned char x[32], aim_error *err)
{
    unsigned char y[32];
    size_t        i;
    int           ge_p;

    memcpy(y, x, 32);
    y[31] &= 0x7f;
    /* y >= p: bytes 1..30 all 0xff, byte 31 0x7f, byte 0 >= 0xed. */
    ge_p = y[0] >= 0xed && y[31] == 0x7f;
    for (i = 1; i < 31 && ge_p; i++) {
        ge_p = y[i] == 0xff;
    }
    if (ge_p) {
        aim_fail(err, AIM_CONFIG, "Ed25519 public key is not canonical "
                 "(y is not below 2^255 - 19)");
        return -1;
    }
    for (i = 0; i < sizeof(ed25519_small_order_y) / 32; i++) {
        if (memcmp(y, ed25519_small_order_y[i], 32) == 0) {
            aim_fail(err, AIM_CONFIG, "Ed25519 public key is a point of small "
                     "order: a signature made without any private key would "
                     "verify");
            return -1;
        }
    }
    return 0;
}

/*
 * Ed25519 point arithmetic for the load-time check, on OpenSSL's BIGNUM:
 * slow (about a millisecond a key) and never on a request's path.
 * Curve -x^2 + y^2 = 1 + d x^2 y^2 over GF(p); points in extended
 * coordinates (X:Y:Z:T), x = X/Z, y = Y/Z, xy = T/Z.
 */
typedef struct {
    BIGNUM *x, *y, *z, *t;
} ed_point;

typedef struct {
    BN_CTX *ctx;
    BIGNUM *p, *d2, *t[8];
} ed_field;

/* r = a * b mod p, and the other operations, 1 on success. */
#define ED_MUL(f, r, a, b) BN_mod_mul((r), (a), (b), (f)->p, (f)->ctx)
#define ED_ADD(f, r, a, b) BN_mod_add_quick((r), (a), (b), (f)->p)
#define ED_SUB(f, r, a, b) BN_mod_sub_quick((r), (a), (b), (f)->p)

/*
 * r = a + b (r may be a or b): add-2008-hwcd-3, complete on this curve
 * (a = -1 is a square, d is not), so it also doubles.
 */
static int
ed_add(ed_field *f, ed_point *r, const ed_point *a, const ed_point *b)
{
    BIGNUM **t = f->t;

    return ED_SUB(f, t[0], a->y, a->x) && ED_SUB(f, t[1], b->y, b->x)
        && ED_MUL(f, t[0], t[0], t[1])                        /* A */
        && ED_ADD(f, t[1], a->y, a->x) && ED_ADD(f, t[2], b->y, b->x)
        && ED_MUL(f, t[1], t[1], t[2])                        /* B */
        && ED_MUL(f, t[2], a->t, b->t) && ED_MUL(f, t[2], t[2], f->d2) /* C */
        && ED_MUL(f, t[3], a->z, b->z) && ED_ADD(f, t[3], t[3], t[3])  /* D */
        && ED_SUB(f, t[4], t[1], t[0])                        /* E = B - A */
        && ED_SUB(f, t[5], t[3], t[2])                        /* F = D - C */
        && ED_ADD(f, t[6], t[3], t[2])                        /* G = D + C */
        && ED_ADD(f, t[7], t[1], t[0])                        /* H = B + A */
        && ED_MUL(f, r->x, t[4], t[5]) && ED_MUL(f, r->y, t[6], t[7])
        && ED_MUL(f, r->t, t[4], t[7]) && ED_MUL(f, r->z, t[5], t[6]);
}

/*
 * The load-time check of an Ed25519 key (after ed25519_weak): a point on
 * the curve, canonically encoded, in the subgroup of prime order L.  A
 * key with a small-order component ("mixed order") verifies differently
 * under cofactored and cofactorless verifiers; no honest key has one.
 */
static int
ed25519_validate(const unsigned char enc[32], aim_error *err)
{
    static const char d_hex[] =
        "52036CEE2B6FFE738CC740797779E89800700A4D4141D8AB75EB4DCA135978A3";
    static const char l_hex[] =
        "1000000000000000000000000000000014DEF9DEA2F79CD65812631A5CF5D3ED";
    unsigned char be[32];
    ed_field      f;
    ed_point      pt, acc;
    BIGNUM       *y, *d = NULL, *l = NULL, *u, *v, *x;
    int           i, sign, ok = -1;
    const char   *why = NULL;

    memset(&f, 0, sizeof(f));
    memset(&pt, 0, sizeof(pt));
    memset(&acc, 0, sizeof(acc));
    f.ctx = BN_CTX_new();
    if (f.ctx == NULL) {
        goto oom;
    }
    BN_CTX_start(f.ctx);
    f.p = BN_CTX_get(f.ctx);
    f.d2 = BN_CTX_get(f.ctx);
    for (i = 0; i < 8; i++) {
        f.t[i] = BN_CTX_get(f.ctx);
    }
    y = BN_CTX_get(f.ctx);
    u = BN_CTX_get(f.ctx);
    v = BN_CTX_get(f.ctx);
    pt.x = BN_CTX_get(f.ctx); pt.y = BN_CTX_get(f.ctx);
    pt.z = BN_CTX_get(f.ctx); pt.t = BN_CTX_get(f.ctx);
    acc.x = BN_CTX_get(f.ctx); acc.y = BN_CTX_get(f.ctx);
    acc.z = BN_CTX_get(f.ctx); acc.t = BN_CTX_get(f.ctx);
    if (acc.t == NULL
        || !BN_set_bit(f.p, 255) || !BN_sub_word(f.p, 19)
        || !BN_hex2bn(&d, d_hex) || !BN_hex2bn(&l, l_hex)
        || !ED_ADD(&f, f.d2, d, d))
    {
        goto oom;
    }

    /* Decode: y little endian, the top bit is the sign of x. */
    for (i = 0; i < 32; i++) {
        be[i] = enc[31 - i];
    }
    sign = be[0] >> 7;
    be[0] &= 0x7f;
    if (BN_bin2bn(be, 32, y) == NULL) {
        goto oom;
    }
    if (BN_cmp(y, f.p) >= 0) {
        why = "is not canonical (y is not below 2^255 - 19)";
        goto done;
    }
    /* x^2 = (y^2 - 1) / (d y^2 + 1); the denominator is never 0. */
    if (!ED_MUL(&f, u, y, y) || !ED_MUL(&f, v, u, d)
        || !BN_sub_word(u, 1) || !BN_add_word(v, 1)
        || !BN_nnmod(u, u, f.p, f.ctx) || !BN_nnmod(v, v, f.p, f.ctx)
        || BN_mod_inverse(v, v, f.p, f.ctx) == NULL || !ED_MUL(&f, u, u, v))
    {
        goto oom;
    }
    x = BN_mod_sqrt(pt.x, u, f.p, f.ctx);
    ERR_clear_error();
    if (x == NULL) {
        why = "is not a point on the curve";
        goto done;
    }
    if (BN_is_zero(pt.x) && sign) {
        why = "is not canonical (x = 0 with the sign bit set)";
        goto done;
    }
    if (BN_is_odd(pt.x) != sign && !BN_sub(pt.x, f.p, pt.x)) {
        goto oom;
    }
    if (!BN_copy(pt.y, y) || !BN_one(pt.z) || !ED_MUL(&f, pt.t, pt.x, pt.y)) {
        goto oom;
    }

    /* [L]P by double and add, from the top bit of L. */
    BN_zero(acc.x);
    BN_zero(acc.t);
    if (!BN_one(acc.y) || !BN_one(acc.z)) {
        goto oom;
    }
    for (i = BN_num_bits(l) - 1; i >= 0; i--) {
        if (!ed_add(&f, &acc, &acc, &acc)
            || (BN_is_bit_set(l, i) && !ed_add(&f, &acc, &acc, &pt)))
        {
            goto oom;
        }
    }
    /* The identity is (0 : Z : Z). */
    if (!BN_is_zero(acc.x) || BN_cmp(acc.y, acc.z) != 0) {
        why = "has a small-order component (it is outside the subgroup of "
              "prime order)";
        goto done;
    }
    /* The identity itself passes that test; ed25519_weak refused it. */
    ok = 0;
    goto done;

oom:
    aim_fail(err, AIM_INTERNAL, "out of memory checking an Ed25519 key");
    ok = -2;
done:
    if (why != NULL) {
        aim_fail(err, AIM_CONFIG, "Ed25519 public key %s", why);
    }
    ERR_clear_error();
    BN_free(d);
    BN_free(l);
    if (f.ctx != NULL) {
        BN_CTX_end(f.ctx);
        BN_CTX_free(f.ctx);
    }
    return ok;
}

/*
 * RSA moduli with a small prime factor: trial division by every prime
 * below 2^14 (a sieve, then BN_mod_word).  SP 800-56B asks for no factor
 * below 752; this costs a fraction of a millisecond at load.
 */
#define AIM_RSA_TRIAL_LIMIT 16384

/* Bit i/2 set: the odd number i is composite. */
static unsigned char  rsa_composite[AIM_RSA_TRIAL_LIMIT / 16];
static pthread_once_t rsa_sieve_once = PTHREAD_ONCE_INIT;

#define RSA_COMPOSITE(i) (rsa_composite[(i) / 16] & (1u << (((i) / 2) % 8)))

static void
rsa_sieve(void)
{
    unsigned long i, j;

    for (i = 3; i * i < AIM_RSA_TRIAL_LIMIT; i += 2) {
        if (!RSA_COMPOSITE(i)) {
            for (j = i * i; j < AIM_RSA_TRIAL_LIMIT; j += 2 * i) {
                rsa_composite[j / 16] |= (unsigned char) (1u << ((j / 2) % 8));
            }
        }
    }
}

static int
rsa_small_factor(const BIGNUM *n, unsigned long *factor)
{
    unsigned long i;
    BN_ULONG      r;

    (void) pthread_once(&rsa_sieve_once, rsa_sieve);
    for (i = 3; i < AIM_RSA_TRIAL_LIMIT; i += 2) {
        if (RSA_COMPOSITE(i)) {
            continue;
        }
        r = BN_mod_word(n, (BN_ULONG) i);
        if (r == (BN_ULONG) -1) {
            return -1;
        }
        if (r == 0) {
            *factor = i;
            return 1;
        }
    }
    return 0;
}

static EVP_PKEY *
jwk_okp(const json_t *jwk, const char *crv, aim_alg *alg, aim_error *err)
{
    unsigned char x[32];
    size_t        n;
    EVP_PKEY     *pkey;

    if (strcmp(crv, "Ed25519") != 0) {
        aim_fail(err, AIM_UNSUPPORTED_ALG, "OKP curve \"%s\" is not supported "
                 "(Ed25519)", crv);
        return NULL;
    }
    if (jwk_bytes(jwk, "x", x, 32, 32, &n, err) != 0
        || ed25519_weak(x, err) != 0)
    {
        return NULL;
    }
    pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, 32);
    if (pkey == NULL) {
        ERR_clear_error();
        aim_fail(err, AIM_CONFIG, "Ed25519 public key rejected by OpenSSL");
        return NULL;
    }
    *alg = AIM_ALG_EDDSA;
    return pkey;
}

static EVP_PKEY *
jwk_rsa(const json_t *jwk, aim_alg *alg, aim_error *err)
{
    unsigned char  nbuf[AIM_RSA_MAX_BITS / 8 + 1], ebuf[8];
    size_t         nlen, elen;
    BIGNUM        *bn_n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY      *pkey = NULL;
    int            bits;

    if (jwk_bytes(jwk, "n", nbuf, 0, sizeof(nbuf), &nlen, err) != 0
        || jwk_bytes(jwk, "e", ebuf, 0, sizeof(ebuf), &elen, err) != 0)
    {
        return NULL;
    }
    bn_n = BN_bin2bn(nbuf, (int) nlen, NULL);
    bn_e = BN_bin2bn(ebuf, (int) elen, NULL);
    if (bn_n == NULL || bn_e == NULL) {
        aim_fail(err, AIM_INTERNAL, "out of memory building an RSA key");
        goto done;
    }
    bits = BN_num_bits(bn_n);
    if (bits < AIM_RSA_MIN_BITS || bits > AIM_RSA_MAX_BITS) {
        aim_fail(err, AIM_CONFIG, "RSA modulus of %d bits refused "
                 "(%d to %d allowed)", bits, AIM_RSA_MIN_BITS, AIM_RSA_MAX_BITS);
        goto done;
    }
    /* Small public exponents are refused: no mainstream issuer uses them
     * and they are what e=3 signature forgeries on lax verifiers need. */
    if (!BN_is_odd(bn_e) || BN_cmp(bn_e, BN_value_one()) <= 0
        || BN_num_bits(bn_e) < 17 || BN_num_bits(bn_e) > 33)
    {
        aim_fail(err, AIM_CONFIG, "RSA public exponent refused "
                 "(odd, 65537 up to 2^32+1 allowed)");
        goto done;
    }
    if (!BN_is_odd(bn_n)) {
        aim_fail(err, AIM_CONFIG, "RSA modulus is even");
        goto done;
    }

    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
    {
        aim_fail(err, AIM_INTERNAL, "out of memory building an RSA key");
        goto done;
    }
    pkey = pkey_from_params("RSA", bld, err);
    if (pkey != NULL && *alg == AIM_ALG_NONE) {
        *alg = AIM_ALG_RS256;
    }

done:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

/* Prepare the verify context a key uses on the hot path. */
static int
key_prepare(aim_key *k, aim_error *err)
{
    EVP_PKEY_CTX *ctx;
    const EVP_MD *md;

    k->vctx = NULL;
    k->ed_ctx = NULL;
    k->md_ctx = NULL;
    if (k->alg == AIM_ALG_EDDSA) {
        /* One context for all of this key's verifications: pure EdDSA is
         * one-shot, and initialising (a provider fetch) costs as much as
         * a tenth of the verification itself. */
        k->ed_ctx = EVP_MD_CTX_new();
        if (k->ed_ctx == NULL
            || EVP_DigestVerifyInit_ex(k->ed_ctx, NULL, NULL, NULL, NULL, k->pkey,
                                       NULL) != 1)
        {
            EVP_MD_CTX_free(k->ed_ctx);
            k->ed_ctx = NULL;
            ERR_clear_error();
            aim_fail(err, AIM_CONFIG, "cannot prepare EdDSA verification");
            return -1;
        }
        return 0;
    }
    md = aim_md(k->alg);
    k->md_ctx = aim_digest_ctx_new(k->alg);
    if (k->md_ctx == NULL) {
        aim_fail(err, AIM_CONFIG, "cannot prepare %s verification",
                 aim_alg_name(k->alg));
        return -1;
    }
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    if (ctx == NULL || EVP_PKEY_verify_init(ctx) <= 0) {
        goto fail;
    }
    if (k->alg == AIM_ALG_PS256) {
        if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) <= 0
            || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) <= 0
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) <= 0)
        {
            goto fail;
        }
    } else if (k->alg == AIM_ALG_RS256) {
        if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0) {
            goto fail;
        }
    }
    if (EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0) {
        goto fail;
    }
    k->vctx = ctx;
    return 0;

fail:
    EVP_PKEY_CTX_free(ctx);
    EVP_MD_CTX_free(k->md_ctx);
    k->md_ctx = NULL;
    ERR_clear_error();
    aim_fail(err, AIM_CONFIG, "cannot prepare %s verification", aim_alg_name(k->alg));
    return -1;
}

static const char *const jwk_private_members[] = {
    "d", "p", "q", "dp", "dq", "qi", "oth", "k", NULL
};

aim_status
aim_key_from_jwk(const json_t *jwk, aim_key *out, aim_error *err)
{
    const char   *kty, *crv, *use, *alg_name;
    const json_t *v, *ops;
    aim_alg       alg = AIM_ALG_NONE, want = AIM_ALG_NONE;
    EVP_PKEY     *pkey = NULL;
    size_t        i;

    memset(out, 0, sizeof(*out));

    if (!json_is_object(jwk)) {
        return aim_fail(err, AIM_CONFIG, "JWK is not a JSON object");
    }
    kty = json_string_value(json_object_get(jwk, "kty"));
    if (kty == NULL) {
        return aim_fail(err, AIM_CONFIG, "JWK has no \"kty\"");
    }
    if (strcmp(kty, "oct") == 0) {
        return aim_fail(err, AIM_CONFIG, "symmetric (\"oct\") keys are never "
                        "accepted");
    }
    for (i = 0; jwk_private_members[i] != NULL; i++) {
        if (json_object_get(jwk, jwk_private_members[i]) != NULL) {
            return aim_fail(err, AIM_CONFIG, "JWK holds private or symmetric "
                            "key material (\"%s\"): only public keys are loaded",
                            jwk_private_members[i]);
        }
    }

    v = json_object_get(jwk, "use");
    if (v != NULL) {
        use = json_string_value(v);
        if (use == NULL || strcmp(use, "sig") != 0) {
            return aim_fail(err, AIM_UNSUPPORTED_ALG, "JWK \"use\" is not \"sig\"");
        }
    }
    ops = json_object_get(jwk, "key_ops");
    if (ops != NULL) {
        int verify = 0;

        if (!json_is_array(ops)) {
            return aim_fail(err, AIM_CONFIG, "JWK \"key_ops\" is not an array");
        }
        for (i = 0; i < json_array_size(ops); i++) {
            const char *op = json_string_value(json_array_get(ops, i));
            if (op != NULL && strcmp(op, "verify") == 0) {
                verify = 1;
            }
        }
        if (!verify) {
            return aim_fail(err, AIM_UNSUPPORTED_ALG, "JWK \"key_ops\" lacks \"verify\"");
        }
    }

    v = json_object_get(jwk, "alg");
    if (v != NULL) {
        alg_name = json_string_value(v);
        want = aim_alg_from_name(alg_name);
        if (want == AIM_ALG_NONE) {
            return aim_fail(err, AIM_UNSUPPORTED_ALG, "JWK \"alg\" %s%s%s is not "
                            "supported", alg_name ? "\"" : "",
                            alg_name ? alg_name : "(not a string)",
                            alg_name ? "\"" : "");
        }
    }

    if (strcmp(kty, "EC") == 0 || strcmp(kty, "OKP") == 0) {
        crv = json_string_value(json_object_get(jwk, "crv"));
        if (crv == NULL) {
            return aim_fail(err, AIM_CONFIG, "%s JWK has no \"crv\"", kty);
        }
        pkey = kty[0] == 'E' ? jwk_ec(jwk, crv, &alg, err)
                             : jwk_okp(jwk, crv, &alg, err);
    } else if (strcmp(kty, "RSA") == 0) {
        if (want != AIM_ALG_NONE && want != AIM_ALG_RS256 && want != AIM_ALG_PS256) {
            return aim_fail(err, AIM_CONFIG, "RSA JWK with \"alg\" %s",
                            aim_alg_name(want));
        }
        alg = want;
        pkey = jwk_rsa(jwk, &alg, err);
    } else {
        return aim_fail(err, AIM_UNSUPPORTED_ALG, "JWK \"kty\" \"%.32s\" is not "
                        "supported", kty);
    }
    if (pkey == NULL) {
        return err != NULL ? err->status : AIM_CONFIG;
    }
    if (want != AIM_ALG_NONE && want != alg) {
        EVP_PKEY_free(pkey);
        return aim_fail(err, AIM_CONFIG, "JWK \"alg\" %s does not match its "
                        "key type (%s)", aim_alg_name(want), aim_alg_name(alg));
    }

    out->alg = alg;
    out->pkey = pkey;
    v = json_object_get(jwk, "kid");
    if (v != NULL) {
        const char    *what;
        unsigned long  cp;

        if (!json_is_string(v) || json_string_length(v) == 0
            || json_string_length(v) > 256)
        {
            aim_key_clear(out);
            return aim_fail(err, AIM_CONFIG, "JWK \"kid\" is not a string of "
                            "1 to 256 bytes");
        }
        if (aim_text_unsafe(json_string_value(v), json_string_length(v),
                            AIM_TEXT_NO_SPACE, &what, &cp))
        {
            aim_key_clear(out);
            return aim_fail(err, AIM_CONFIG, "JWK \"kid\" contains %s (U+%04lX)",
                            what, cp);
        }
        out->kid = aim_strdup(json_string_value(v));
        if (out->kid == NULL) {
            aim_key_clear(out);
            return aim_fail(err, AIM_INTERNAL, "out of memory");
        }
    }
    if (key_prepare(out, err) != 0) {
        aim_key_clear(out);
        return AIM_CONFIG;
    }
    {
        unsigned char *der = NULL;
        int            dlen = i2d_PUBKEY(out->pkey, &der);

        if (dlen <= 0 || !aim_sha256(der, (size_t) dlen, out->fp)) {
            OPENSSL_free(der);
            aim_key_clear(out);
            return aim_fail(err, AIM_INTERNAL, "cannot encode the public key");
        }
        OPENSSL_free(der);
    }
    return AIM_OK;
}

void
aim_key_clear(aim_key *k)
{
    EVP_PKEY_CTX_free(k->vctx);
    EVP_MD_CTX_free(k->ed_ctx);
    EVP_MD_CTX_free(k->md_ctx);
    EVP_PKEY_free(k->pkey);
    free(k->kid);
    memset(k, 0, sizeof(*k));
}

/* ------------------------------------------------------------------ */

static aim_keyset *
keyset_new(void)
{
    return calloc(1, sizeof(aim_keyset));
}

void
aim_keyset_free(aim_keyset *ks)
{
    size_t i;

    if (ks == NULL) {
        return;
    }
    for (i = 0; i < ks->n; i++) {
        aim_key_clear(&ks->keys[i]);
    }
    free(ks);
}

size_t
aim_keyset_count(const aim_keyset *ks)
{
    return ks != NULL ? ks->n : 0;
}

size_t
aim_keyset_skipped(const aim_keyset *ks, const char **first_reason)
{
    if (first_reason != NULL) {
        *first_reason = ks->skipped ? ks->skip_reason : NULL;
    }
    return ks->skipped;
}

aim_key *
aim_keyset_at(aim_keyset *ks, size_t i)
{
    return i < ks->n ? &ks->keys[i] : NULL;
}

const aim_key *
aim_keyset_find(const aim_keyset *ks, const char *kid)
{
    size_t i;

    if (ks == NULL || kid == NULL) {
        return NULL;
    }
    for (i = 0; i < ks->n; i++) {
        if (strcmp(ks->keys[i].kid, kid) == 0) {
            return &ks->keys[i];
        }
    }
    return NULL;
}

aim_status
aim_key_validate(const aim_key *k, aim_error *err)
{
    unsigned char  raw[32];
    size_t         len = sizeof(raw);
    BIGNUM        *n = NULL;
    unsigned long  factor = 0;
    int            rc;

    switch (k->alg) {
    case AIM_ALG_EDDSA:
        if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &len) != 1 || len != 32) {
            ERR_clear_error();
            return aim_fail(err, AIM_INTERNAL, "cannot read an Ed25519 key");
        }
        if (ed25519_weak(raw, err) != 0) {
            return AIM_CONFIG;
        }
        rc = ed25519_validate(raw, err);
        return rc == 0 ? AIM_OK : rc == -1 ? AIM_CONFIG : AIM_INTERNAL;

    case AIM_ALG_RS256:
    case AIM_ALG_PS256:
        if (EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1) {
            ERR_clear_error();
            return aim_fail(err, AIM_INTERNAL, "cannot read an RSA modulus");
        }
        rc = rsa_small_factor(n, &factor);
        BN_free(n);
        if (rc < 0) {
            return aim_fail(err, AIM_INTERNAL, "cannot check an RSA modulus");
        }
        if (rc > 0) {
            return aim_fail(err, AIM_CONFIG, "RSA modulus has the small prime "
                            "factor %lu: it can be factored", factor);
        }
        return AIM_OK;

    default:
        /* EC keys were validated when they were built (jwk_ec). */
        return AIM_OK;
    }
}

static aim_status
keyset_add(aim_keyset *ks, aim_key *k, const char *source, aim_error *err)
{
    aim_error verr;

    if (k->kid == NULL) {
        aim_key_clear(k);
        return aim_fail(err, AIM_CONFIG, "%s: a key has no \"kid\" "
                        "(every key needs one)", source);
    }
    if (aim_key_validate(k, &verr) != AIM_OK) {
        aim_fail(err, verr.status == AIM_INTERNAL ? AIM_INTERNAL : AIM_CONFIG,
                 "%s: key \"%.64s\": %s", source, k->kid, verr.message);
        aim_key_clear(k);
        return err != NULL ? err->status : AIM_CONFIG;
    }
    if (aim_keyset_find(ks, k->kid) != NULL) {
        aim_fail(err, AIM_CONFIG, "%s: duplicate kid \"%.64s\"", source, k->kid);
        aim_key_clear(k);
        return AIM_CONFIG;
    }
    if (ks->n == AIM_MAX_KEYS) {
        aim_key_clear(k);
        return aim_fail(err, AIM_CONFIG, "%s: more than %d keys", source,
                        AIM_MAX_KEYS);
    }
    ks->keys[ks->n++] = *k;
    return AIM_OK;
}

aim_keyset *
aim_keyset_parse_jwks(const char *json, size_t len, const char *source,
                      aim_error *err)
{
    json_t     *doc, *arr;
    aim_keyset *ks;
    aim_key     k;
    aim_error   kerr;
    size_t      i;

    doc = aim_json_parse_object(json, len, source, err);
    if (doc == NULL) {
        if (err != NULL) err->status = AIM_CONFIG;
        return NULL;
    }
    ks = keyset_new();
    if (ks == NULL) {
        json_decref(doc);
        aim_fail(err, AIM_INTERNAL, "out of memory");
        return NULL;
    }

    arr = json_object_get(doc, "keys");
    if (arr == NULL && json_object_get(doc, "kty") != NULL) {
        /* A single JWK. */
        if (aim_key_from_jwk(doc, &k, err) != AIM_OK
            || keyset_add(ks, &k, source, err) != AIM_OK)
        {
            if (err != NULL) {
                char tmp[sizeof(err->message)];
                snprintf(tmp, sizeof(tmp), "%s: %s", source, err->message);
                memcpy(err->message, tmp, sizeof(tmp));
                err->status = AIM_CONFIG;
            }
            goto fail;
        }
        json_decref(doc);
        return ks;
    }
    if (!json_is_array(arr)) {
        aim_fail(err, AIM_CONFIG, "%s: not a JWKS (no \"keys\" array)", source);
        goto fail;
    }

    for (i = 0; i < json_array_size(arr); i++) {
        aim_status s = aim_key_from_jwk(json_array_get(arr, i), &k, &kerr);

        if (s == AIM_UNSUPPORTED_ALG) {
            /* Well-formed but not for AIM (an encryption key, RS384...):
             * skipped, and reported by the caller. */
            if (ks->skipped++ == 0) {
                snprintf(ks->skip_reason, sizeof(ks->skip_reason),
                         "key %zu: %s", i, kerr.message);
            }
            continue;
        }
        if (s != AIM_OK) {
            const char *kid = json_string_value(json_object_get(json_array_get(arr, i),
                                                                "kid"));

            aim_fail(err, s == AIM_INTERNAL ? AIM_INTERNAL : AIM_CONFIG,
                     "%s: key %zu%s%.64s%s: %s", source, i, kid ? " (\"" : "",
                     kid ? kid : "", kid ? "\")" : "", kerr.message);
            goto fail;
        }
        if (keyset_add(ks, &k, source, err) != AIM_OK) {
            goto fail;
        }
    }
    if (ks->n == 0) {
        aim_fail(err, AIM_CONFIG, "%s: no usable signature key%s%s", source,
                 ks->skipped ? "; " : "", ks->skipped ? ks->skip_reason : "");
        goto fail;
    }
    json_decref(doc);
    return ks;

fail:
    json_decref(doc);
    aim_keyset_free(ks);
    return NULL;
}

static aim_keyset *
keyset_load_pem(const char *spec, struct stat *stp, aim_error *err)
{
    char        algname[16], kid[257] = "", *path;
    const char *p = spec + 4, *colon;
    size_t      len;
    aim_keyset *ks;
    aim_key     k;
    FILE       *fp;
    EVP_PKEY   *pkey;
    json_t     *jwk;

    colon = strchr(p, ':');
    if (colon == NULL || (size_t) (colon - p) >= sizeof(algname)) {
        aim_fail(err, AIM_CONFIG, "key source \"%.200s\": expected pem:ALG:PATH", spec);
        return NULL;
    }
    memcpy(algname, p, (size_t) (colon - p));
    algname[colon - p] = '\0';
    p = colon + 1;
    if (*p != '/' && *p != '.' && (colon = strchr(p, ':')) != NULL) {
        len = (size_t) (colon - p);
        if (len == 0 || len >= sizeof(kid)) {
            aim_fail(err, AIM_CONFIG, "key source \"%.200s\": bad kid", spec);
            return NULL;
        }
        memcpy(kid, p, len);
        kid[len] = '\0';
        p = colon + 1;
    }
    path = (char *) p;

    memset(&k, 0, sizeof(k));
    k.alg = aim_alg_from_name(algname);
    if (k.alg == AIM_ALG_NONE) {
        aim_fail(err, AIM_CONFIG, "key source \"%.200s\": algorithm \"%s\" is not "
                 "supported (ES256 ES384 EdDSA RS256 PS256)", spec, algname);
        return NULL;
    }

    fp = fopen(path, "re");
    if (fp == NULL) {
        aim_fail(err, AIM_CONFIG, "cannot open \"%.200s\": %s", path,
                 strerror(errno));
        return NULL;
    }
    if (fstat(fileno(fp), stp) != 0) {
        memset(stp, 0, sizeof(*stp));
    }
    pkey = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
    fclose(fp);
    if (pkey == NULL) {
        ERR_clear_error();
        aim_fail(err, AIM_CONFIG, "\"%.200s\" holds no PEM public key", path);
        return NULL;
    }

    /* Re-enter through the JWK path so one set of checks applies. */
    if (aim_pkey_alg(pkey, k.alg) != k.alg) {
        EVP_PKEY_free(pkey);
        aim_fail(err, AIM_CONFIG, "\"%.200s\": the key does not fit algorithm %s",
                 path, algname);
        return NULL;
    }
    jwk = aim_jwk_public(pkey, k.alg, kid[0] != '\0' ? kid : NULL, err);
    EVP_PKEY_free(pkey);
    if (jwk == NULL || aim_key_from_jwk(jwk, &k, err) != AIM_OK) {
        json_decref(jwk);
        if (err != NULL) {
            char tmp[sizeof(err->message)];
            snprintf(tmp, sizeof(tmp), "\"%.100s\": %s", path, err->message);
            memcpy(err->message, tmp, sizeof(tmp));
            err->status = AIM_CONFIG;
        }
        return NULL;
    }
    json_decref(jwk);

    ks = keyset_new();
    if (ks == NULL || keyset_add(ks, &k, path, err) != AIM_OK) {
        aim_key_clear(&k);
        aim_keyset_free(ks);
        return NULL;
    }
    return ks;
}

const char *
aim_keyspec_path(const char *spec)
{
    const char *p, *colon;

    if (strncmp(spec, "pem:", 4) != 0) {
        return spec;
    }
    /* pem:ALG:PATH or pem:ALG:KID:PATH, parsed as keyset_load_pem does. */
    p = strchr(spec + 4, ':');
    if (p == NULL) {
        return spec;
    }
    p++;
    if (*p != '/' && *p != '.' && (colon = strchr(p, ':')) != NULL) {
        p = colon + 1;
    }
    return p;
}

aim_keyset *
aim_keyset_load(const char *spec, aim_error *err)
{
    struct stat st;

    return aim_keyset_load_st(spec, &st, err);
}

aim_keyset *
aim_keyset_load_st(const char *spec, struct stat *stp, aim_error *err)
{
    char        *buf;
    size_t       len;
    struct stat  st;
    aim_keyset  *ks;

    memset(stp, 0, sizeof(*stp));
    if (strncmp(spec, "pem:", 4) == 0) {
        ks = keyset_load_pem(spec, stp, err);
        return ks;
    }
    buf = aim_read_file(spec, AIM_JWKS_MAX_BYTES, &len, &st, err);
    if (buf == NULL) {
        return NULL;
    }
    *stp = st;          /* what was read, even if it does not parse */
    ks = aim_keyset_parse_jwks(buf, len, spec, err);
    free(buf);
    return ks;
}

aim_status
aim_keyset_merge(aim_keyset *a, aim_keyset *b, aim_error *err)
{
    size_t i;

    for (i = 0; i < b->n; i++) {
        if (aim_keyset_find(a, b->keys[i].kid) != NULL) {
            return aim_fail(err, AIM_CONFIG, "duplicate kid \"%.64s\" across key "
                            "sources", b->keys[i].kid);
        }
    }
    if (a->n + b->n > AIM_MAX_KEYS) {
        return aim_fail(err, AIM_CONFIG, "more than %d keys in all", AIM_MAX_KEYS);
    }
    for (i = 0; i < b->n; i++) {
        a->keys[a->n++] = b->keys[i];
    }
    a->skipped += b->skipped;
    b->n = 0;
    return AIM_OK;
}

/* ------------------------------------------------------------------ */

/*
 * Raw r||s (JWS) -> DER (OpenSSL): SEQUENCE { INTEGER r, INTEGER s }, each
 * half exactly flen bytes (at most 66) big-endian.  Written by hand: the
 * BIGNUM and ECDSA_SIG objects cost four allocations per verification.
 * r or s zero is refused here (OpenSSL refuses them too, and r, s >= n).
 */
static int
der_integer(const unsigned char *v, size_t flen, unsigned char *out)
{
    size_t i = 0, n;

    while (i < flen && v[i] == 0) {
        i++;
    }
    if (i == flen) {
        return -1;                          /* zero */
    }
    n = flen - i;
    out[0] = 0x02;
    if (v[i] & 0x80) {                      /* keep it positive */
        out[1] = (unsigned char) (n + 1);
        out[2] = 0x00;
        memcpy(out + 3, v + i, n);
        return (int) n + 3;
    }
    out[1] = (unsigned char) n;
    memcpy(out + 2, v + i, n);
    return (int) n + 2;
}

static int
ecdsa_raw_to_der(const unsigned char *sig, size_t flen, unsigned char *der,
                 size_t *derlen)
{
    unsigned char body[2 * (3 + 66)];
    int           r, s;
    size_t        len;

    if (flen > 66 || (r = der_integer(sig, flen, body)) < 0
        || (s = der_integer(sig + flen, flen, body + r)) < 0)
    {
        return -1;
    }
    len = (size_t) (r + s);
    der[0] = 0x30;
    if (len < 0x80) {
        der[1] = (unsigned char) len;
        memcpy(der + 2, body, len);
        *derlen = len + 2;
    } else {
        der[1] = 0x81;
        der[2] = (unsigned char) len;
        memcpy(der + 3, body, len);
        *derlen = len + 3;
    }
    return 0;
}

/* Clear OpenSSL's error queue when a call left something there (a
 * bad signature usually leaves nothing: peeking is cheaper). */
static void
clear_errors(void)
{
    if (ERR_peek_error() != 0) {
        ERR_clear_error();
    }
}

static aim_status
verify_with(EVP_PKEY *pkey, EVP_PKEY_CTX *vctx, EVP_MD_CTX *ed_ctx,
            EVP_MD_CTX *md_ctx, aim_alg alg, const unsigned char *msg,
            size_t msglen, const unsigned char *sig, size_t siglen,
            aim_error *err)
{
    unsigned char  digest[EVP_MAX_MD_SIZE], der[160];
    unsigned int   dlen = 0;
    size_t         derlen, flen, want;
    int            rc;
    EVP_MD_CTX    *mctx;

    switch (alg) {
    case AIM_ALG_EDDSA:
        if (siglen != 64) {
            return aim_fail(err, AIM_BAD_SIGNATURE, "EdDSA signature is %zu bytes, "
                            "not 64", siglen);
        }
        rc = -1;
        if (ed_ctx != NULL) {
            /* The key's context, again (see key_prepare).  Should an
             * OpenSSL refuse a second use, that is an error, not a
             * verdict: then a fresh context decides. */
            rc = EVP_DigestVerify(ed_ctx, sig, siglen, msg, msglen);
            if (rc != 1 && ERR_peek_error() != 0) {
                rc = -1;
            }
        }
        if (rc < 0) {
            mctx = EVP_MD_CTX_new();
            rc = mctx != NULL
                 && EVP_DigestVerifyInit_ex(mctx, NULL, NULL, NULL, NULL, pkey,
                                            NULL) == 1
                 && EVP_DigestVerify(mctx, sig, siglen, msg, msglen) == 1;
            EVP_MD_CTX_free(mctx);
        }
        clear_errors();
        return rc == 1 ? AIM_OK : aim_fail(err, AIM_BAD_SIGNATURE, "EdDSA "
                                           "signature does not verify");

    case AIM_ALG_ES256:
    case AIM_ALG_ES384:
        flen = alg == AIM_ALG_ES256 ? 32 : 48;
        if (siglen != 2 * flen) {
            return aim_fail(err, AIM_BAD_SIGNATURE, "%s signature is %zu bytes, "
                            "not %zu (raw r||s)", aim_alg_name(alg), siglen, 2 * flen);
        }
        if (ecdsa_raw_to_der(sig, flen, der, &derlen) != 0) {
            return aim_fail(err, AIM_BAD_SIGNATURE, "%s signature has r or s zero",
                            aim_alg_name(alg));
        }
        sig = der;
        siglen = derlen;
        break;

    case AIM_ALG_RS256:
    case AIM_ALG_PS256:
        want = (size_t) EVP_PKEY_get_size(pkey);
        if (siglen != want) {
            return aim_fail(err, AIM_BAD_SIGNATURE, "%s signature is %zu bytes, "
                            "not the modulus size %zu", aim_alg_name(alg), siglen, want);
        }
        break;

    default:
        return aim_fail(err, AIM_UNSUPPORTED_ALG, "no such algorithm");
    }

    if (md_ctx != NULL ? !aim_digest_again(md_ctx, msg, msglen, digest, &dlen)
                       : EVP_Digest(msg, msglen, digest, &dlen, aim_md(alg), NULL) != 1)
    {
        ERR_clear_error();
        return aim_fail(err, AIM_INTERNAL, "digest failed");
    }

    if (vctx != NULL) {
        rc = EVP_PKEY_verify(vctx, sig, siglen, digest, dlen);
    } else {
        aim_key tmp;

        memset(&tmp, 0, sizeof(tmp));
        tmp.alg = alg;
        tmp.pkey = pkey;

        if (key_prepare(&tmp, err) != 0) {
            return AIM_INTERNAL;
        }
        rc = EVP_PKEY_verify(tmp.vctx, sig, siglen, digest, dlen);
        EVP_PKEY_CTX_free(tmp.vctx);
        EVP_MD_CTX_free(tmp.ed_ctx);
        EVP_MD_CTX_free(tmp.md_ctx);
    }
    clear_errors();
    return rc == 1 ? AIM_OK : aim_fail(err, AIM_BAD_SIGNATURE, "%s signature does "
                                       "not verify", aim_alg_name(alg));
}

aim_status
aim_sig_verify(EVP_PKEY *pkey, aim_alg alg, const unsigned char *msg,
               size_t msglen, const unsigned char *sig, size_t siglen,
               aim_error *err)
{
    int type = EVP_PKEY_get_base_id(pkey);

    /* The key's type must fit the algorithm even on this generic path. */
    if ((alg == AIM_ALG_EDDSA && type != EVP_PKEY_ED25519)
        || ((alg == AIM_ALG_ES256 || alg == AIM_ALG_ES384) && type != EVP_PKEY_EC)
        || ((alg == AIM_ALG_RS256 || alg == AIM_ALG_PS256) && type != EVP_PKEY_RSA))
    {
        return aim_fail(err, AIM_UNSUPPORTED_ALG, "%s does not fit the key type",
                        aim_alg_name(alg));
    }
    if ((alg == AIM_ALG_ES256 || alg == AIM_ALG_ES384)
        && aim_pkey_alg(pkey, alg) != alg)
    {
        return aim_fail(err, AIM_UNSUPPORTED_ALG, "%s does not fit the key's "
                        "curve", aim_alg_name(alg));
    }
    return verify_with(pkey, NULL, NULL, NULL, alg, msg, msglen, sig, siglen, err);
}

aim_status
aim_key_verify(const aim_key *key, const unsigned char *msg, size_t msglen,
               const unsigned char *sig, size_t siglen, aim_error *err)
{
    return verify_with(key->pkey, key->vctx, key->ed_ctx, key->md_ctx, key->alg,
                       msg, msglen, sig, siglen, err);
}

/* ------------------------------------------------------------------ */
/* From a key to its JWK                                               */

aim_alg
aim_pkey_alg(EVP_PKEY *pkey, aim_alg hint)
{
    char   group[32];
    size_t len = 0;

    if (pkey == NULL) {
        return AIM_ALG_NONE;
    }
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_EC:
        /* By name, not size: secp256k1 has 256 bits too, and is not ES256. */
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                            group, sizeof(group), &len))
        {
            ERR_clear_error();
            return AIM_ALG_NONE;
        }
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0) {
            return AIM_ALG_ES256;
        }
        if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0) {
            return AIM_ALG_ES384;
        }
        return AIM_ALG_NONE;
    case EVP_PKEY_ED25519:
        return AIM_ALG_EDDSA;
    case EVP_PKEY_RSA:
        return hint == AIM_ALG_PS256 ? AIM_ALG_PS256 : AIM_ALG_RS256;
    default:
        return AIM_ALG_NONE;
    }
}

/* name: base64url of len bytes. */
static int
jwk_set_b64(json_t *jwk, const char *name, const unsigned char *b, size_t len)
{
    char *s = malloc(AIM_B64_ENCODED_LEN(len));
    int   rc;

    if (s == NULL) {
        return -1;
    }
    aim_b64url_encode(b, len, s);
    rc = json_object_set_new(jwk, name, json_string(s));
    free(s);
    return rc;
}

/* name: a BIGNUM parameter, big-endian, left-padded to pad bytes (0:
 * as few as it takes). */
static int
jwk_set_bn(json_t *jwk, const char *name, EVP_PKEY *pkey, const char *param,
           int pad)
{
    BIGNUM        *bn = NULL;
    unsigned char *b;
    int            len, rc = -1;

    if (!EVP_PKEY_get_bn_param(pkey, param, &bn)) {
        return -1;
    }
    len = pad > 0 ? pad : BN_num_bytes(bn);
    if (len <= 0 || BN_num_bytes(bn) > len) {
        BN_free(bn);
        return -1;
    }
    b = malloc((size_t) len);
    if (b != NULL && BN_bn2binpad(bn, b, len) == len) {
        rc = jwk_set_b64(jwk, name, b, (size_t) len);
    }
    free(b);
    BN_free(bn);
    return rc;
}

json_t *
aim_jwk_public(EVP_PKEY *pkey, aim_alg alg, const char *kid, aim_error *err)
{
    json_t        *jwk = json_object();
    unsigned char  raw[32];
    size_t         rawlen = sizeof(raw);
    char           tp[44];
    int            ok, flen = alg == AIM_ALG_ES384 ? 48 : 32;

    if (jwk == NULL) {
        aim_fail(err, AIM_INTERNAL, "out of memory");
        return NULL;
    }
    switch (alg) {
    case AIM_ALG_ES256:
    case AIM_ALG_ES384:
        ok = json_object_set_new(jwk, "kty", json_string("EC")) == 0
             && json_object_set_new(jwk, "crv", json_string(
                    alg == AIM_ALG_ES256 ? "P-256" : "P-384")) == 0
             && jwk_set_bn(jwk, "x", pkey, OSSL_PKEY_PARAM_EC_PUB_X, flen) == 0
             && jwk_set_bn(jwk, "y", pkey, OSSL_PKEY_PARAM_EC_PUB_Y, flen) == 0;
        break;
    case AIM_ALG_EDDSA:
        ok = EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) == 1
             && rawlen == 32
             && json_object_set_new(jwk, "kty", json_string("OKP")) == 0
             && json_object_set_new(jwk, "crv", json_string("Ed25519")) == 0
             && jwk_set_b64(jwk, "x", raw, rawlen) == 0;
        break;
    case AIM_ALG_RS256:
    case AIM_ALG_PS256:
        ok = json_object_set_new(jwk, "kty", json_string("RSA")) == 0
             && jwk_set_bn(jwk, "n", pkey, OSSL_PKEY_PARAM_RSA_N, 0) == 0
             && jwk_set_bn(jwk, "e", pkey, OSSL_PKEY_PARAM_RSA_E, 0) == 0;
        break;
    default:
        ok = 0;
        break;
    }
    ERR_clear_error();
    if (!ok) {
        json_decref(jwk);
        aim_fail(err, AIM_INTERNAL, "cannot export the %s public key",
                 aim_alg_name(alg));
        return NULL;
    }
    if (kid == NULL) {
        if (aim_jwk_thumbprint(jwk, tp, err) != AIM_OK) {
            json_decref(jwk);
            return NULL;
        }
        kid = tp;
    }
    if (json_object_set_new(jwk, "alg", json_string(aim_alg_name(alg))) != 0
        || json_object_set_new(jwk, "use", json_string("sig")) != 0
        || json_object_set_new(jwk, "kid", json_string(kid)) != 0)
    {
        json_decref(jwk);
        aim_fail(err, AIM_CONFIG, "kid is not valid UTF-8");
        return NULL;
    }
    return jwk;
}

aim_status
aim_jwk_thumbprint(const json_t *jwk, char out[44], aim_error *err)
{
    static const char *const ec[] = { "crv", "kty", "x", "y", NULL };
    static const char *const okp[] = { "crv", "kty", "x", NULL };
    static const char *const rsa[] = { "e", "kty", "n", NULL };
    const char *const *members;
    const char   *kty;
    json_t       *t;
    char         *s;
    unsigned char h[32];
    size_t        i;

    kty = json_string_value(json_object_get(jwk, "kty"));
    if (kty == NULL) {
        return aim_fail(err, AIM_MALFORMED, "JWK has no \"kty\"");
    }
    if (strcmp(kty, "EC") == 0) members = ec;
    else if (strcmp(kty, "OKP") == 0) members = okp;
    else if (strcmp(kty, "RSA") == 0) members = rsa;
    else return aim_fail(err, AIM_UNSUPPORTED_ALG, "no thumbprint for kty \"%.16s\"", kty);

    t = json_object();
    for (i = 0; members[i] != NULL; i++) {
        const json_t *v = json_object_get(jwk, members[i]);
        if (!json_is_string(v)) {
            json_decref(t);
            return aim_fail(err, AIM_MALFORMED, "JWK member \"%s\" missing",
                            members[i]);
        }
        json_object_set_new(t, members[i], json_stringn(json_string_value(v),
                                                        json_string_length(v)));
    }
    s = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(t);
    if (s == NULL) {
        return aim_fail(err, AIM_INTERNAL, "out of memory");
    }
    if (!aim_sha256(s, strlen(s), h)) {
        free(s);
        return aim_fail(err, AIM_INTERNAL, "SHA-256 failed");
    }
    free(s);
    aim_b64url_encode(h, 32, out);
    return AIM_OK;
}
