/*
 * sign.c -- the development issuer: private keys and JWS signing with
 * OpenSSL 3 EVP.
 *
 * Used by aimctl and the tests; adapters never sign.  Everything here
 * mirrors what keys.c accepts, so a key this file makes is always a key
 * the verifier loads: P-256, P-384, Ed25519, RSA 2048..8192 bits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include "b64.h"
#include "sign.h"
#include "util.h"

#define AIM_PRIVKEY_MAX_BYTES (64 * 1024)

/* Never prompt for a passphrase: encrypted keys are refused. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void) buf; (void) size; (void) rwflag; (void) u;
    return -1;
}

/* The algorithm a key fits, given a hint for RSA; NONE if unsupported. */
aim_alg
aim_key_default_alg(EVP_PKEY *pkey, aim_alg hint)
{
    if (pkey == NULL) {
        return AIM_ALG_NONE;
    }
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_EC: {
        char   group[32];
        size_t len = 0;

        /* By name: secp256k1 has 256 bits too, and is not ES256. */
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
    }
    case EVP_PKEY_ED25519:
        return AIM_ALG_EDDSA;
    case EVP_PKEY_RSA:
        return hint == AIM_ALG_PS256 ? AIM_ALG_PS256 : AIM_ALG_RS256;
    default:
        return AIM_ALG_NONE;
    }
}

/* Does alg fit pkey (type and, for EC, the curve)? */
static int
alg_fits(EVP_PKEY *pkey, aim_alg alg)
{
    aim_alg def = aim_key_default_alg(pkey, alg);

    return alg != AIM_ALG_NONE && def == alg;
}

/* Is this a key the verifier would accept (curve, RSA size)? */
static aim_status
check_key(EVP_PKEY *pkey, const char *what, aim_error *err)
{
    int type = EVP_PKEY_get_base_id(pkey), bits = EVP_PKEY_get_bits(pkey);

    if (type == EVP_PKEY_RSA) {
        if (bits < AIM_RSA_MIN_BITS || bits > AIM_RSA_MAX_BITS) {
            return aim_fail(err, AIM_CONFIG, "%s: RSA key of %d bits refused "
                            "(%d to %d allowed)", what, bits, AIM_RSA_MIN_BITS,
                            AIM_RSA_MAX_BITS);
        }
        return AIM_OK;
    }
    if (aim_key_default_alg(pkey, AIM_ALG_NONE) == AIM_ALG_NONE) {
        return aim_fail(err, AIM_CONFIG, "%s: unsupported key type %s "
                        "(P-256, P-384, Ed25519 or RSA keys only)", what,
                        EVP_PKEY_get0_type_name(pkey) != NULL
                        ? EVP_PKEY_get0_type_name(pkey) : "?");
    }
    return AIM_OK;
}

EVP_PKEY *
aim_privkey_generate(aim_alg alg, int bits, aim_error *err)
{
    EVP_PKEY *pkey = NULL;

    switch (alg) {
    case AIM_ALG_ES256:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;
    case AIM_ALG_ES384:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
        break;
    case AIM_ALG_EDDSA:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    case AIM_ALG_RS256:
    case AIM_ALG_PS256:
        if (bits <= 0) {
            bits = AIM_RSA_MIN_BITS;
        }
        if (bits < AIM_RSA_MIN_BITS || bits > AIM_RSA_MAX_BITS) {
            aim_fail(err, AIM_CONFIG, "RSA keys of %d bits are refused "
                     "(%d to %d allowed)", bits, AIM_RSA_MIN_BITS, AIM_RSA_MAX_BITS);
            return NULL;
        }
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) bits);
        break;
    default:
        aim_fail(err, AIM_CONFIG, "no key generation for algorithm %s "
                 "(ES256 ES384 EdDSA RS256 PS256)", aim_alg_name(alg));
        return NULL;
    }
    if (pkey == NULL) {
        ERR_clear_error();
        aim_fail(err, AIM_INTERNAL, "%s key generation failed", aim_alg_name(alg));
    }
    return pkey;
}

EVP_PKEY *
aim_privkey_load(const char *path, aim_error *err)
{
    char        *buf;
    size_t       len;
    struct stat  st;
    BIO         *bio;
    EVP_PKEY    *pkey;

    buf = aim_read_file(path, AIM_PRIVKEY_MAX_BYTES, &len, &st, err);
    if (buf == NULL) {
        return NULL;
    }
    bio = BIO_new_mem_buf(buf, (int) len);
    pkey = bio != NULL ? PEM_read_bio_PrivateKey_ex(bio, NULL, no_passphrase,
                                                     NULL, NULL, NULL)
                       : NULL;
    BIO_free(bio);
    OPENSSL_cleanse(buf, len);
    free(buf);
    ERR_clear_error();
    if (pkey == NULL) {
        aim_fail(err, AIM_CONFIG, "\"%s\" holds no unencrypted PEM private key",
                 path);
        return NULL;
    }
    if (check_key(pkey, path, err) != AIM_OK) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

aim_status
aim_privkey_save(EVP_PKEY *pkey, const char *path, aim_error *err)
{
    BIO        *bio;
    char       *pem;
    long        len;
    size_t      off = 0;
    ssize_t     n;
    int         fd, saved;
    aim_status  s = AIM_OK;

    /* A secure-memory BIO: its buffer is cleansed on every realloc and
     * on free, so no stray copy of the PEM stays behind in the heap. */
    bio = BIO_new(BIO_s_secmem());
    if (bio == NULL || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0,
                                                NULL, NULL) != 1)
    {
        BIO_free(bio);
        ERR_clear_error();
        return aim_fail(err, AIM_INTERNAL, "cannot encode the private key");
    }
    len = BIO_get_mem_data(bio, &pem);
    if (len <= 0) {
        BIO_free(bio);
        return aim_fail(err, AIM_INTERNAL, "cannot encode the private key");
    }

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW
                    | O_NOCTTY, 0600);
    if (fd < 0) {
        saved = errno;
        BIO_free(bio);
        return aim_fail(err, AIM_CONFIG, "cannot create \"%s\": %s", path,
                        strerror(saved));
    }
    /* An existing file keeps its mode through O_TRUNC: force 0600. */
    if (fchmod(fd, 0600) != 0) {
        s = aim_fail(err, AIM_CONFIG, "cannot chmod 0600 \"%s\": %s", path,
                     strerror(errno));
        goto done;
    }
    while (off < (size_t) len) {
        n = write(fd, pem + off, (size_t) len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            s = aim_fail(err, AIM_CONFIG, "cannot write \"%s\": %s", path,
                         n < 0 ? strerror(errno) : "short write");
            goto done;
        }
        off += (size_t) n;
    }
    if (fsync(fd) != 0) {
        s = aim_fail(err, AIM_CONFIG, "cannot sync \"%s\": %s", path,
                     strerror(errno));
    }

done:
    if (close(fd) != 0 && s == AIM_OK) {
        s = aim_fail(err, AIM_CONFIG, "cannot write \"%s\": %s", path,
                     strerror(errno));
    }
    if (s != AIM_OK) {
        unlink(path);
    }
    OPENSSL_cleanse(pem, (size_t) len);
    BIO_free(bio);
    return s;
}

/* ------------------------------------------------------------------ */
/* Public JWK                                                          */

static int
set_b64(json_t *obj, const char *name, const unsigned char *bytes, size_t len)
{
    char *s = malloc(AIM_B64_ENCODED_LEN(len));
    int   rc;

    if (s == NULL) {
        return -1;
    }
    aim_b64url_encode(bytes, len, s);
    rc = json_object_set_new(obj, name, json_string(s));
    free(s);
    return rc;
}

/* A BIGNUM parameter, big-endian, left-padded to pad bytes (0: minimal). */
static int
set_bn_param(json_t *obj, const char *name, EVP_PKEY *pkey,
             const char *param, int pad)
{
    BIGNUM        *bn = NULL;
    unsigned char *bytes;
    int            len, rc = -1;

    if (!EVP_PKEY_get_bn_param(pkey, param, &bn)) {
        return -1;
    }
    len = pad > 0 ? pad : BN_num_bytes(bn);
    if (len <= 0 || BN_num_bytes(bn) > len) {
        BN_free(bn);
        return -1;
    }
    bytes = malloc((size_t) len);
    if (bytes != NULL && BN_bn2binpad(bn, bytes, len) == len) {
        rc = set_b64(obj, name, bytes, (size_t) len);
    }
    free(bytes);
    BN_free(bn);
    return rc;
}

json_t *
aim_pubkey_to_jwk(EVP_PKEY *pkey, aim_alg alg, const char *kid, aim_error *err)
{
    json_t        *jwk;
    unsigned char  raw[32];
    size_t         rawlen = sizeof(raw);
    char           tp[44];
    int            ok;

    if (alg == AIM_ALG_NONE) {
        alg = aim_key_default_alg(pkey, AIM_ALG_NONE);
    }
    if (!alg_fits(pkey, alg)) {
        aim_fail(err, AIM_CONFIG, "algorithm %s does not fit this %s key",
                 aim_alg_name(alg), EVP_PKEY_get0_type_name(pkey) != NULL
                 ? EVP_PKEY_get0_type_name(pkey) : "?");
        return NULL;
    }
    jwk = json_object();
    if (jwk == NULL) {
        aim_fail(err, AIM_INTERNAL, "out of memory");
        return NULL;
    }

    switch (alg) {
    case AIM_ALG_ES256:
    case AIM_ALG_ES384: {
        int flen = alg == AIM_ALG_ES256 ? 32 : 48;

        ok = json_object_set_new(jwk, "kty", json_string("EC")) == 0
             && json_object_set_new(jwk, "crv", json_string(
                    alg == AIM_ALG_ES256 ? "P-256" : "P-384")) == 0
             && set_bn_param(jwk, "x", pkey, OSSL_PKEY_PARAM_EC_PUB_X, flen) == 0
             && set_bn_param(jwk, "y", pkey, OSSL_PKEY_PARAM_EC_PUB_Y, flen) == 0;
        break;
    }
    case AIM_ALG_EDDSA:
        ok = EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) == 1
             && rawlen == 32
             && json_object_set_new(jwk, "kty", json_string("OKP")) == 0
             && json_object_set_new(jwk, "crv", json_string("Ed25519")) == 0
             && set_b64(jwk, "x", raw, rawlen) == 0;
        break;
    default:
        ok = json_object_set_new(jwk, "kty", json_string("RSA")) == 0
             && set_bn_param(jwk, "n", pkey, OSSL_PKEY_PARAM_RSA_N, 0) == 0
             && set_bn_param(jwk, "e", pkey, OSSL_PKEY_PARAM_RSA_E, 0) == 0;
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

/* ------------------------------------------------------------------ */
/* Signing                                                             */

/* DER ECDSA-Sig-Value -> raw r||s, each exactly flen bytes. */
static int
ecdsa_der_to_raw(const unsigned char *der, size_t derlen, size_t flen,
                 unsigned char *raw)
{
    const unsigned char *p = der;
    const BIGNUM        *r, *s;
    ECDSA_SIG           *es;
    int                  ok;

    es = d2i_ECDSA_SIG(NULL, &p, (long) derlen);
    if (es == NULL || p != der + derlen) {
        ECDSA_SIG_free(es);
        return -1;
    }
    ECDSA_SIG_get0(es, &r, &s);
    ok = BN_bn2binpad(r, raw, (int) flen) == (int) flen
         && BN_bn2binpad(s, raw + flen, (int) flen) == (int) flen;
    ECDSA_SIG_free(es);
    return ok ? 0 : -1;
}

static aim_status
sign_bytes(EVP_PKEY *pkey, aim_alg alg, const unsigned char *msg, size_t msglen,
           unsigned char **sigout, size_t *siglenout, aim_error *err)
{
    EVP_MD_CTX    *mctx;
    EVP_PKEY_CTX  *pctx = NULL;
    const char    *md = NULL;
    unsigned char *sig = NULL, *raw;
    size_t         siglen = 0, flen;
    int            ok;

    switch (alg) {
    case AIM_ALG_ES384: md = "SHA384"; break;
    case AIM_ALG_EDDSA: md = NULL; break;
    default:            md = "SHA256"; break;
    }

    mctx = EVP_MD_CTX_new();
    ok = mctx != NULL
         && EVP_DigestSignInit_ex(mctx, &pctx, md, NULL, NULL, pkey, NULL) == 1;
    if (ok && alg == AIM_ALG_PS256) {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0
             && EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL) > 0
             && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0;
    } else if (ok && alg == AIM_ALG_RS256) {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
    }
    ok = ok && EVP_DigestSign(mctx, NULL, &siglen, msg, msglen) == 1
         && (sig = malloc(siglen)) != NULL
         && EVP_DigestSign(mctx, sig, &siglen, msg, msglen) == 1;
    EVP_MD_CTX_free(mctx);
    ERR_clear_error();
    if (!ok) {
        free(sig);
        return aim_fail(err, AIM_INTERNAL, "%s signing failed", aim_alg_name(alg));
    }

    if (alg == AIM_ALG_ES256 || alg == AIM_ALG_ES384) {
        flen = alg == AIM_ALG_ES256 ? 32 : 48;
        raw = malloc(2 * flen);
        if (raw == NULL || ecdsa_der_to_raw(sig, siglen, flen, raw) != 0) {
            free(raw);
            free(sig);
            return aim_fail(err, AIM_INTERNAL, "%s signature conversion failed",
                            aim_alg_name(alg));
        }
        free(sig);
        sig = raw;
        siglen = 2 * flen;
    }
    *sigout = sig;
    *siglenout = siglen;
    return AIM_OK;
}

/* base64url of a value's compact JSON (member order kept); malloc()ed. */
static char *
b64_json(const json_t *v)
{
    char   *json, *out;
    size_t  len;

    json = json_dumps(v, JSON_COMPACT);
    if (json == NULL) {
        return NULL;
    }
    len = strlen(json);
    out = malloc(AIM_B64_ENCODED_LEN(len));
    if (out != NULL) {
        aim_b64url_encode((const unsigned char *) json, len, out);
    }
    free(json);
    return out;
}

char *
aim_jws_sign(EVP_PKEY *pkey, aim_alg alg, const json_t *header,
             const json_t *payload, aim_error *err)
{
    char          *h = NULL, *p = NULL, *token = NULL;
    unsigned char *sig = NULL;
    size_t         hlen, plen, siglen = 0, inlen;

    if (pkey == NULL || !json_is_object(header) || !json_is_object(payload)) {
        aim_fail(err, AIM_CONFIG, "nothing to sign");
        return NULL;
    }
    if (!alg_fits(pkey, alg)) {
        aim_fail(err, AIM_CONFIG, "algorithm %s does not fit this %s key",
                 aim_alg_name(alg), EVP_PKEY_get0_type_name(pkey) != NULL
                 ? EVP_PKEY_get0_type_name(pkey) : "?");
        return NULL;
    }

    h = b64_json(header);
    p = b64_json(payload);
    if (h == NULL || p == NULL) {
        aim_fail(err, AIM_INTERNAL, "cannot serialise the header or claims");
        goto done;
    }
    hlen = strlen(h);
    plen = strlen(p);
    inlen = hlen + 1 + plen;
    /* Room for the signature of the largest key (RSA 8192: 1024 bytes). */
    token = malloc(inlen + 1 + AIM_B64_ENCODED_LEN(AIM_RSA_MAX_BITS / 8));
    if (token == NULL) {
        aim_fail(err, AIM_INTERNAL, "out of memory");
        goto done;
    }
    memcpy(token, h, hlen);
    token[hlen] = '.';
    memcpy(token + hlen + 1, p, plen);
    token[inlen] = '\0';

    if (sign_bytes(pkey, alg, (const unsigned char *) token, inlen, &sig,
                   &siglen, err) != AIM_OK)
    {
        free(token);
        token = NULL;
        goto done;
    }
    if (siglen > AIM_RSA_MAX_BITS / 8) {
        aim_fail(err, AIM_INTERNAL, "signature of %zu bytes is too long", siglen);
        free(token);
        token = NULL;
        goto done;
    }
    token[inlen] = '.';
    aim_b64url_encode(sig, siglen, token + inlen + 1);

done:
    free(sig);
    free(h);
    free(p);
    return token;
}
