/*
 * sign.h -- the development issuer: private keys and JWS signing.
 *
 * Used by aimctl (keygen, jwks, issue, dpop), the tests and the demo.
 * Adapters never sign.  Real deployments sign with their IdP.
 */
#ifndef AIM_SIGN_H
#define AIM_SIGN_H

#include <openssl/evp.h>
#include <jansson.h>
#include "aim.h"
#include "keys.h"
#include "signer.h"

/* A fresh private key for alg (RSA: 2048 bits; bits > 0 overrides). */
EVP_PKEY *aim_privkey_generate(aim_alg alg, int bits, aim_error *err);

/* Read / write a PKCS#8 PEM private key; writing creates mode 0600. */
EVP_PKEY *aim_privkey_load(const char *path, aim_error *err);
aim_status aim_privkey_save(EVP_PKEY *pkey, const char *path, aim_error *err);

/* The public JWK of a key: kty, crv/x/y or n/e, alg, use "sig", kid
 * (the RFC 7638 thumbprint when kid is NULL).  New reference. */
json_t *aim_pubkey_to_jwk(EVP_PKEY *pkey, aim_alg alg, const char *kid,
                          aim_error *err);

/*
 * Sign: base64url(header) "." base64url(payload) "." base64url(sig), the
 * header and payload serialised compactly.  ECDSA signatures are emitted
 * as raw r||s.  Returns a malloc()ed token or NULL with err set.
 */
char *aim_jws_sign(EVP_PKEY *pkey, aim_alg alg, const json_t *header,
                   const json_t *payload, aim_error *err);

#endif
