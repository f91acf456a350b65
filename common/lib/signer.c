/*
 * signer.c -- the host's own signing key (see signer.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include "b64.h"
#include "signer.h"
#include "util.h"

#define AIM_SIGNER_MAX_FILE  (16 * 1024)

struct aim_signer {
    EVP_PKEY *pkey;
    aim_alg   alg;
    json_t   *jwk;
    char      kid[44];
};

/* Never prompt for a passphrase: an encrypted key is refused. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void) buf; (void) size; (void) rwflag; (void) u;
    return -1;
}

static int
set_b64(json_t *o, const char *name, const unsigned char *b, size_t len)
{
    char out[AIM_B64_ENCODED_LEN(64)];

    if (len > 64) {
        return -1;
    }
    aim_b64url_encode(b, len, out);
    return json_object_set_new(o, name, json_string(out));
}

/* The public JWK of a P-256 or Ed25519 key. */
static json_t *
public_jwk(EVP_PKEY *pkey, aim_alg alg)
{
    json_t        *jwk = json_object();
    unsigned char  raw[64];
    size_t         len = sizeof(raw);
    BIGNUM        *x = NULL, *y = NULL;
    int            ok;

    if (jwk == NULL) {
        return NULL;
    }
    if (alg == AIM_ALG_ES256) {
        ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1
             && EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1
             && BN_bn2binpad(x, raw, 32) == 32
             && BN_bn2binpad(y, raw + 32, 32) == 32
             && json_object_set_new(jwk, "kty", json_string("EC")) == 0
             && json_object_set_new(jwk, "crv", json_string("P-256")) == 0
             && set_b64(jwk, "x", raw, 32) == 0
             && set_b64(jwk, "y", raw + 32, 32) == 0;
        BN_free(x);
        BN_free(y);
    } else {
        ok = EVP_PKEY_get_raw_public_key(pkey, raw, &len) == 1 && len == 32
             && json_object_set_new(jwk, "kty", json_string("OKP")) == 0
             && json_object_set_new(jwk, "crv", json_string("Ed25519")) == 0
             && set_b64(jwk, "x", raw, 32) == 0;
    }
    ERR_clear_error();
    if (!ok) {
        json_decref(jwk);
        return NULL;
    }
    return jwk;
}

aim_signer *
aim_signer_load(const char *path, aim_error *err)
{
    aim_signer  *s;
    struct stat  st;
    char        *buf, group[32];
    size_t       len, glen = 0;
    BIO         *bio;
    EVP_PKEY    *pkey;
    aim_alg      alg = AIM_ALG_NONE;

    buf = aim_read_file(path, AIM_SIGNER_MAX_FILE, &len, &st, err);
    if (buf == NULL) {
        if (err != NULL) err->status = AIM_CONFIG;
        return NULL;
    }
    if (st.st_mode & (S_IROTH | S_IWOTH)) {
        OPENSSL_cleanse(buf, len);
        free(buf);
        aim_fail(err, AIM_CONFIG, "\"%.200s\": a private key others can read or "
                 "write is refused (mode %03o; chmod 0640 or 0600)", path,
                 (unsigned) (st.st_mode & 0777));
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
        aim_fail(err, AIM_CONFIG, "\"%.200s\" holds no unencrypted PEM private "
                 "key", path);
        return NULL;
    }

    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
        alg = AIM_ALG_EDDSA;
    } else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC
               && EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                                 group, sizeof(group), &glen)
               && (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0))
    {
        alg = AIM_ALG_ES256;
    }
    ERR_clear_error();
    if (alg == AIM_ALG_NONE) {
        EVP_PKEY_free(pkey);
        aim_fail(err, AIM_CONFIG, "\"%.200s\": only P-256 (ES256) and Ed25519 "
                 "(EdDSA) keys sign Security Event Tokens", path);
        return NULL;
    }

    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        EVP_PKEY_free(pkey);
        aim_fail(err, AIM_INTERNAL, "out of memory");
        return NULL;
    }
    s->pkey = pkey;
    s->alg = alg;
    s->jwk = public_jwk(pkey, alg);
    if (s->jwk == NULL || aim_jwk_thumbprint(s->jwk, s->kid, err) != AIM_OK
        || json_object_set_new(s->jwk, "alg", json_string(aim_alg_name(alg))) != 0
        || json_object_set_new(s->jwk, "use", json_string("sig")) != 0
        || json_object_set_new(s->jwk, "kid", json_string(s->kid)) != 0)
    {
        aim_signer_free(s);
        aim_fail(err, AIM_INTERNAL, "\"%.200s\": cannot derive the public key",
                 path);
        return NULL;
    }
    return s;
}

void
aim_signer_free(aim_signer *s)
{
    if (s != NULL) {
        EVP_PKEY_free(s->pkey);
        json_decref(s->jwk);
        free(s);
    }
}

aim_alg
aim_signer_alg(const aim_signer *s)
{
    return s->alg;
}

const char *
aim_signer_kid(const aim_signer *s)
{
    return s->kid;
}

json_t *
aim_signer_jwk(const aim_signer *s)
{
    return json_deep_copy(s->jwk);
}

/* ECDSA's DER signature as JWS wants it: r || s, 32 bytes each. */
static int
der_to_raw(const unsigned char *der, size_t len, unsigned char raw[64])
{
    const unsigned char *p = der;
    ECDSA_SIG           *es = d2i_ECDSA_SIG(NULL, &p, (long) len);
    const BIGNUM        *r, *s;
    int                  ok;

    if (es == NULL) {
        return -1;
    }
    ECDSA_SIG_get0(es, &r, &s);
    ok = BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32) == 32;
    ECDSA_SIG_free(es);
    return ok ? 0 : -1;
}

static char *
b64_json(const json_t *v, size_t *len)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS), *out;

    if (text == NULL) {
        return NULL;
    }
    out = malloc(AIM_B64_ENCODED_LEN(strlen(text)));
    if (out != NULL) {
        *len = aim_b64url_encode((const unsigned char *) text, strlen(text), out);
    }
    free(text);
    return out;
}

char *
aim_signer_sign(const aim_signer *s, const char *typ, const json_t *claims,
                aim_error *err)
{
    json_t        *hdr;
    char          *h = NULL, *p = NULL, *tok = NULL;
    size_t         hlen = 0, plen = 0, n, siglen = 0;
    unsigned char  der[80], raw[64];
    const unsigned char *sig;
    EVP_MD_CTX    *m = NULL;
    int            ok;

    hdr = json_pack("{s:s, s:s, s:s}", "alg", aim_alg_name(s->alg), "kid", s->kid,
                    "typ", typ);
    if (hdr != NULL) {
        h = b64_json(hdr, &hlen);
    }
    p = b64_json(claims, &plen);
    json_decref(hdr);
    if (h == NULL || p == NULL) {
        aim_fail(err, AIM_INTERNAL, "cannot serialise the header or claims");
        goto done;
    }
    n = hlen + 1 + plen;
    tok = malloc(n + 1 + AIM_B64_ENCODED_LEN(sizeof(raw)));
    if (tok == NULL) {
        aim_fail(err, AIM_INTERNAL, "out of memory");
        goto done;
    }
    memcpy(tok, h, hlen);
    tok[hlen] = '.';
    memcpy(tok + hlen + 1, p, plen);

    siglen = sizeof(der);
    m = EVP_MD_CTX_new();
    ok = m != NULL
         && EVP_DigestSignInit_ex(m, NULL, s->alg == AIM_ALG_ES256 ? "SHA256" : NULL,
                                  NULL, NULL, s->pkey, NULL) == 1
         && EVP_DigestSign(m, der, &siglen, (const unsigned char *) tok, n) == 1;
    EVP_MD_CTX_free(m);
    ERR_clear_error();
    sig = der;
    if (ok && s->alg == AIM_ALG_ES256) {
        ok = der_to_raw(der, siglen, raw) == 0;
        sig = raw;
        siglen = sizeof(raw);
    }
    if (!ok || siglen > sizeof(raw)) {
        free(tok);
        tok = NULL;
        aim_fail(err, AIM_INTERNAL, "signing with the host key failed");
        goto done;
    }
    tok[n] = '.';
    aim_b64url_encode(sig, siglen, tok + n + 1);

done:
    free(h);
    free(p);
    return tok;
}
