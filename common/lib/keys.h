/*
 * keys.h -- verification keys: JWK / JWKS / PEM loading, kid lookup and
 * signature checks with OpenSSL 3 EVP.
 *
 * Keys are parsed once, at load.  Each key pins exactly one algorithm:
 * EC P-256 -> ES256, P-384 -> ES384, OKP Ed25519 -> EdDSA, RSA -> the
 * JWK's "alg" (RS256 or PS256; RS256 when absent).  RSA keys outside
 * 2048-8192 bits, small exponents, moduli with small factors, Ed25519
 * points of small order or outside the prime-order subgroup, EC points
 * off the curve or at infinity, private or symmetric keys are refused;
 * in a JWKS, keys that are well formed but not for AIM ("use" other than
 * "sig", key_ops without "verify", other algorithms) are skipped.
 */
#ifndef AIM_KEYS_H
#define AIM_KEYS_H

#include <sys/stat.h>
#include <openssl/evp.h>
#include <jansson.h>
#include "aim.h"

/* RSA moduli verifiers accept (and the development issuer makes). */
#define AIM_RSA_MIN_BITS   2048
#define AIM_RSA_MAX_BITS   8192

typedef enum {
    AIM_ALG_NONE = 0,
    AIM_ALG_ES256,
    AIM_ALG_ES384,
    AIM_ALG_EDDSA,
    AIM_ALG_RS256,
    AIM_ALG_PS256
} aim_alg;

/* "ES256" -> AIM_ALG_ES256; anything unsupported -> AIM_ALG_NONE. */
aim_alg aim_alg_from_name(const char *name);
const char *aim_alg_name(aim_alg alg);

typedef struct {
    char         *kid;
    aim_alg       alg;
    EVP_PKEY     *pkey;
    const char   *issuer;   /* the issuer this key signs for (borrowed from
                             * the configuration); NULL: not bound */
    unsigned char fp[32];   /* SHA-256 of the DER public key */
    EVP_PKEY_CTX *vctx;     /* verify context prepared at load; NULL for
                             * EdDSA, which has no pre-hashed form */
    EVP_MD_CTX   *ed_ctx;   /* EdDSA: the one-shot verify context, prepared
                             * at load and used again; NULL for the others */
    EVP_MD_CTX   *md_ctx;   /* the others: the digest context, used again */
} aim_key;

typedef struct aim_keyset aim_keyset;

/* One public JWK (a JSON object) -> key.  kid may be absent here (DPoP). */
aim_status aim_key_from_jwk(const json_t *jwk, aim_key *out, aim_error *err);
void aim_key_clear(aim_key *k);

/*
 * The checks a configured key gets when its file is loaded, beyond those
 * of aim_key_from_jwk (which every key, a DPoP proof's too, gets): an
 * Ed25519 point on the curve, canonical and in the prime-order subgroup;
 * an RSA modulus without a prime factor below 2^14.  About a millisecond
 * a key: never on a request's path.  AIM_OK or AIM_CONFIG with why.
 */
aim_status aim_key_validate(const aim_key *k, aim_error *err);

/* A JWKS document ({"keys":[...]}) or a single JWK; source names it in
 * error messages.  Every key needs a unique kid. */
aim_keyset *aim_keyset_parse_jwks(const char *json, size_t len,
                                  const char *source, aim_error *err);
/* A file: JWKS, or "pem:ALG:PATH" for a PEM public key (kid = its RFC
 * 7638 thumbprint unless a "kid" is given as "pem:ALG:KID:PATH"). */
aim_keyset *aim_keyset_load(const char *spec, aim_error *err);
/* The same; st receives fstat() of exactly the file that was read (zero
 * when nothing could be read), also when its content is refused. */
aim_keyset *aim_keyset_load_st(const char *spec, struct stat *st,
                               aim_error *err);
/* The file a key source names ("pem:ALG[:KID]:PATH" or a JWKS path). */
const char *aim_keyspec_path(const char *spec);
/* Merge b into a (moves keys); fails on a duplicate kid. */
aim_status aim_keyset_merge(aim_keyset *a, aim_keyset *b, aim_error *err);
void aim_keyset_free(aim_keyset *ks);
size_t aim_keyset_count(const aim_keyset *ks);
const aim_key *aim_keyset_find(const aim_keyset *ks, const char *kid);
/* The i-th key (i < aim_keyset_count), for the verifier to bind issuers. */
aim_key *aim_keyset_at(aim_keyset *ks, size_t i);

/*
 * Check sig over msg with key for alg.  ECDSA signatures are raw r||s of
 * exactly 2 * field size bytes (converted to DER internally), RSA
 * signatures exactly the modulus size.  AIM_OK or AIM_BAD_SIGNATURE.
 */
aim_status aim_sig_verify(EVP_PKEY *pkey, aim_alg alg,
                          const unsigned char *msg, size_t msglen,
                          const unsigned char *sig, size_t siglen,
                          aim_error *err);

/* The same with a loaded key's prepared context: the hot path. */
aim_status aim_key_verify(const aim_key *key, const unsigned char *msg,
                          size_t msglen, const unsigned char *sig,
                          size_t siglen, aim_error *err);

/* Digest helpers on fetched-once implementations. */
int aim_sha256(const void *data, size_t len, unsigned char out[32]);
/* A digest context for alg's hash (SHA-256, or SHA-384 for ES384) to use
 * again and again with aim_digest_again (1 on success); NULL: no memory. */
EVP_MD_CTX *aim_digest_ctx_new(aim_alg alg);
int aim_digest_again(EVP_MD_CTX *ctx, const void *data, size_t len,
                     unsigned char *out, unsigned int *outlen);

/* Keys skipped while loading (unsupported alg, "use":"enc"), for logs. */
size_t aim_keyset_skipped(const aim_keyset *ks, const char **first_reason);

/*
 * The algorithm a key (public or private) implies: ES256 or ES384 by its
 * curve's name (secp256k1 has 256 bits and is not ES256), EdDSA for
 * Ed25519, RS256 for RSA unless hint is PS256; AIM_ALG_NONE for another.
 */
aim_alg aim_pkey_alg(EVP_PKEY *pkey, aim_alg hint);

/*
 * The public JWK of pkey for alg, which must be aim_pkey_alg's answer for
 * it: kty with crv, x[, y] or n, e; then "alg", "use": "sig" and "kid"
 * (the RFC 7638 thumbprint when kid is NULL).  New reference, or NULL
 * with err set.  No private member is ever written.
 */
json_t *aim_jwk_public(EVP_PKEY *pkey, aim_alg alg, const char *kid,
                       aim_error *err);

/* RFC 7638 JWK SHA-256 thumbprint of a public JWK object, base64url. */
aim_status aim_jwk_thumbprint(const json_t *jwk, char out[44], aim_error *err);

#endif
