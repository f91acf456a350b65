/*
 * signer.h -- the host's own signing key: the one private key the
 * library holds, to sign the Security Event Tokens a host publishes
 * (ssf.c).  Only P-256 (ES256) and Ed25519 (EdDSA) keys, in an
 * unencrypted PKCS#8 PEM file that others cannot read.  Tokens for
 * agents are never signed here: that is the identity provider's job (and
 * the development issuer's, common/issuer, which production code never
 * links).
 */
#ifndef AIM_SIGNER_H
#define AIM_SIGNER_H

#include <jansson.h>
#include "aim.h"
#include "keys.h"

/* Signing, which the host key and the development issuer share. */

#define AIM_PRIVKEY_PRIVATE  1u   /* refuse a file others can read or write */

/*
 * The unencrypted PEM private key in the file at path, of at most max
 * bytes (no passphrase is ever asked for); the bytes read are wiped.
 * AIM_CONFIG errors name the file and the reason.
 */
EVP_PKEY *aim_privkey_read(const char *path, size_t max, unsigned flags,
                           aim_error *err);

/*
 * The JWS signature of msg by pkey with alg (ECDSA as raw r||s): a
 * malloc()ed *sig of *siglen bytes, or an error.
 */
aim_status aim_jws_signature(EVP_PKEY *pkey, aim_alg alg,
                             const unsigned char *msg, size_t len,
                             unsigned char **sig, size_t *siglen,
                             aim_error *err);

/*
 * A compact JWS from its signing input (base64url header "." base64url
 * payload, len bytes, as given: hostile bytes too): the input, "." and
 * base64url(signature).  malloc()ed, or NULL with err set.
 */
char *aim_jws_sign_input(EVP_PKEY *pkey, aim_alg alg, const char *input,
                         size_t len, aim_error *err);

/*
 * base64url(header) "." base64url(payload) "." base64url(signature): the
 * header and payload serialised compactly (json_dumps with json_flags
 * added: JSON_SORT_KEYS for the same bytes from the same claims), signed
 * by pkey with alg, which must fit it (aim_pkey_alg); ECDSA signatures as
 * raw r||s.  malloc()ed, or NULL with err set.
 */
char *aim_jws_sign_compact(EVP_PKEY *pkey, aim_alg alg, const json_t *header,
                           const json_t *payload, size_t json_flags,
                           aim_error *err);

/* The host's own key. */

typedef struct aim_signer aim_signer;

/* Load the key at path.  AIM_CONFIG errors name the file and the reason. */
aim_signer *aim_signer_load(const char *path, aim_error *err);
void aim_signer_free(aim_signer *s);

aim_alg aim_signer_alg(const aim_signer *s);
/* The key id: the public key's RFC 7638 thumbprint. */
const char *aim_signer_kid(const aim_signer *s);
/* The public JWK (kty, crv, x[, y], alg, use "sig", kid).  New reference. */
json_t *aim_signer_jwk(const aim_signer *s);

/*
 * A compact JWS of claims with the header {"alg","kid","typ"}; both parts
 * serialised compactly with sorted keys, so the same claims always give
 * the same payload bytes.  malloc()ed, or NULL with err set.
 */
char *aim_signer_sign(const aim_signer *s, const char *typ,
                      const json_t *claims, aim_error *err);

#endif
