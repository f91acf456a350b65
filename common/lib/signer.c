/*
 * signer.c -- signing (see signer.h): private keys read from PEM files,
 * compact JWS with every algorithm the verifier knows, and the host's own
 * key for the Security Event Tokens it publishes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include "b64.h"
#include "signer.h"
#include "util.h"

#define AIM_SIGNER_MAX_FILE  (16 * 1024)

/* ------------------------------------------------------------------ */
/* Private keys                                                        */

/* Never prompt for a passphrase: an encrypted key is refused. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void) buf; (void) size; (void) rwflag; (void) u;
    return -1;
}

EVP_PKEY *
aim_privkey_read(const char *path, size_t max, unsigned flags, aim_error *err)
{
    struct stat  st;
    char        *buf;
    size_t       len;
    BIO         *bio;
    EVP_PKEY    *pkey;

    buf = aim_read_file(path, max, &len, &st, err);
    if (buf == NULL) {
        return NULL;
    }
    if ((flags & AIM_PRIVKEY_PRIVATE) && (st.st_mode & (S_IROTH | S_IWOTH))) {
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
    }
    return pkey;
}

/* ------------------------------------------------------------------ */
/* Compact JWS                                                         */

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

aim_status
aim_jws_signature(EVP_PKEY *pkey, aim_alg alg, const unsigned char *msg,
                  size_t msglen, unsigned char **sigout, size_t *siglenout,
                  aim_error *err)
{
    EVP_MD_CTX    *mctx;
    EVP_PKEY_CTX  *pctx = NULL;
    const char    *md;
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

/* base64url of a value's compact JSON; malloc()ed. */
static char *
b64_json(const json_t *v, size_t json_flags)
{
    char   *json, *out;
    size_t  len;

    json = json_dumps(v, JSON_COMPACT | json_flags);
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
aim_jws_sign_input(EVP_PKEY *pkey, aim_alg alg, const char *input, size_t len,
                   aim_error *err)
{
    unsigned char *sig = NULL;
    size_t         siglen = 0;
    char          *token;

    if (aim_jws_signature(pkey, alg, (const unsigned char *) input, len, &sig,
                          &siglen, err) != AIM_OK)
    {
        return NULL;
    }
    token = malloc(len + 1 + AIM_B64_ENCODED_LEN(siglen));
    if (token == NULL) {
        free(sig);
        aim_fail(err, AIM_INTERNAL, "out of memory");
        return NULL;
    }
    memcpy(token, input, len);
    token[len] = '.';
    aim_b64url_encode(sig, siglen, token + len + 1);
    free(sig);
    return token;
}

char *
aim_jws_sign_compact(EVP_PKEY *pkey, aim_alg alg, const json_t *header,
                     const json_t *payload, size_t json_flags, aim_error *err)
{
    char   *h, *p, *input = NULL, *token = NULL;
    size_t  hlen, plen;

    h = b64_json(header, json_flags);
    p = b64_json(payload, json_flags);
    if (h == NULL || p == NULL) {
        aim_fail(err, AIM_INTERNAL, "cannot serialise the header or claims");
        goto done;
    }
    hlen = strlen(h);
    plen = strlen(p);
    if ((input = malloc(hlen + 1 + plen)) == NULL) {
        aim_fail(err, AIM_INTERNAL, "out of memory");
        goto done;
    }
    memcpy(input, h, hlen);
    input[hlen] = '.';
    memcpy(input + hlen + 1, p, plen);
    token = aim_jws_sign_input(pkey, alg, input, hlen + 1 + plen, err);

done:
    free(input);
    free(h);
    free(p);
    return token;
}

/* ------------------------------------------------------------------ */
/* The host's own key                                                  */

struct aim_signer {
    EVP_PKEY *pkey;
    aim_alg   alg;
    json_t   *jwk;
    char      kid[44];
};

aim_signer *
aim_signer_load(const char *path, aim_error *err)
{
    aim_signer *s;
    EVP_PKEY   *pkey;
    aim_alg     alg;

    pkey = aim_privkey_read(path, AIM_SIGNER_MAX_FILE, AIM_PRIVKEY_PRIVATE, err);
    if (pkey == NULL) {
        if (err != NULL) err->status = AIM_CONFIG;
        return NULL;
    }
    alg = aim_pkey_alg(pkey, AIM_ALG_NONE);
    if (alg != AIM_ALG_ES256 && alg != AIM_ALG_EDDSA) {
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
    s->jwk = aim_jwk_public(pkey, alg, NULL, err);
    if (s->jwk == NULL) {
        aim_signer_free(s);
        aim_fail(err, AIM_INTERNAL, "\"%.200s\": cannot derive the public key",
                 path);
        return NULL;
    }
    snprintf(s->kid, sizeof(s->kid), "%s",
             json_string_value(json_object_get(s->jwk, "kid")));
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

char *
aim_signer_sign(const aim_signer *s, const char *typ, const json_t *claims,
                aim_error *err)
{
    json_t *hdr;
    char   *tok;

    hdr = json_pack("{s:s, s:s, s:s}", "alg", aim_alg_name(s->alg), "kid", s->kid,
                    "typ", typ);
    if (hdr == NULL) {
        aim_fail(err, AIM_INTERNAL, "cannot serialise the header or claims");
        return NULL;
    }
    tok = aim_jws_sign_compact(s->pkey, s->alg, hdr, claims, JSON_SORT_KEYS, err);
    json_decref(hdr);
    return tok;
}
