/*
 * tu.h -- helpers shared by the unit tests: a temporary directory, the
 * test clock, keys, JWKS files, token signing (through sign.h and, for
 * hostile bytes sign.h cannot produce, the library's signer of raw
 * signing input) and a verifier with the test configuration.
 */
#ifndef AIM_TU_H
#define AIM_TU_H

#include <stdint.h>
#include <jansson.h>
#include <openssl/evp.h>
#include "aim.h"
#include "keys.h"
#include "internal.h"

#define TU_ISS   "https://issuer.test"
#define TU_AUD   "api"
#define TU_T0    1800000000LL

extern long long tu_now;           /* what aim_now() returns */

void tu_init(void);               /* temp dir, clock, keys */
/* The same in dir, which the caller made and removes (test_trust, the
 * trust scenarios). */
void tu_init_in(const char *dir);
int64_t tu_clock(void);

/* dir/name in the test's temporary directory (rotating buffers). */
const char *tu_path(const char *name);
/* Write content (len, or strlen when len == (size_t) -1) to dir/name
 * atomically (rename), so the inode changes too; returns the path. */
const char *tu_write(const char *name, const char *content, size_t len);
char *tu_read(const char *path, size_t *len);

/* Cached keys: ES256, ES384, EdDSA, RSA-2048 (RS256 and PS256 share it). */
EVP_PKEY *tu_key(aim_alg alg);
/* A fresh key (RSA: bits, default 2048). */
EVP_PKEY *tu_key_new(aim_alg alg, int bits);
/* The standard kid of tu_key(alg): "k-es256", ... */
const char *tu_kid(aim_alg alg);

/* Public JWK of a key as compact JSON (malloc()ed). */
char *tu_jwk(EVP_PKEY *k, aim_alg alg, const char *kid);
/* The standard JWKS (all five kids) in dir/jwks.json; returns its path. */
const char *tu_std_jwks(void);

/* base64url of bytes (malloc()ed). */
char *tu_b64(const void *data, size_t len);

/* Raw signature over msg: ECDSA as r||s, the others as OpenSSL gives. */
unsigned char *tu_sig(EVP_PKEY *k, aim_alg alg, const void *msg, size_t len,
                      size_t *siglen);
/* A token from raw header and payload bytes (no JSON re-serialisation). */
char *tu_sign_raw(EVP_PKEY *k, aim_alg alg, const char *header, size_t hlen,
                  const char *payload, size_t plen);
/* Header and payload with a replaced signature (bytes). */
char *tu_with_sig(const char *token, const void *sig, size_t siglen);

/*
 * The standard token: header {"alg","typ":"aim+jwt","kid"} and claims
 * {iss, sub "agent-1", aud, iat now, exp now+600, jti, scope "kb:read
 * kb:write"}, each merged with an optional JSON object of overrides in
 * which the string "__delete__" removes a member.  Signed by tu_key(alg)
 * with aim_jws_sign().
 */
char *tu_token_alg(aim_alg alg, const char *header_extra,
                   const char *claims_extra);
char *tu_token(const char *header_extra, const char *claims_extra);
/* The standard token of agent sub (also its jti) with scope, valid for
 * lifetime seconds from now, claims_extra merged. */
char *tu_agent_token(const char *sub, const char *scope, long long lifetime,
                     const char *claims_extra);
/* A Token Status List token for uri (n bytes of bits-bit statuses; exp
 * 0: none), signed by key as tu_key(AIM_ALG_ES256) with its kid. */
char *tu_statuslist_token(EVP_PKEY *key, const char *uri,
                          const unsigned char *bytes, size_t n, int bits,
                          long long exp);

json_t *tu_json(const char *text);          /* json_loads or abort */

/*
 * A verifier: keys = the standard JWKS, issuer, audience, then each
 * name/value pair given (NULL-terminated).  Aborts on failure.
 */
aim_verifier *tu_verifier(const char *name, ...);
/* The same, returning NULL and err on failure. */
aim_verifier *tu_verifier_try(aim_error *err, const char *name, ...);

/* Verify and drop the token: the status only. */
aim_status tu_verify(aim_verifier *v, const char *token, aim_error *err);

/*
 * The old shape of a decision, for the many tests that only look at the
 * status: req->token is set from token, the decision's token goes to *t
 * (the caller frees it) and its message to err.
 */
aim_status tu_decide(aim_verifier *v, const char *token, size_t len,
                     const aim_request *req, aim_token **t, aim_error *err);
aim_status tu_decide_token(aim_verifier *v, const aim_token *t,
                           const aim_request *req, aim_error *err);

/*
 * Audit lines: aim_verifier_set_audit(v, tu_line_sink, NULL) keeps the
 * first TU_MAX_LINES lines in tu_lines and counts every one in
 * tu_nlines; tu_lines_reset forgets them.
 */
#define TU_MAX_LINES 64
extern char *tu_lines[TU_MAX_LINES];
extern int   tu_nlines;
void tu_line_sink(void *ud, const char *line);
void tu_lines_reset(void);

/* An agent's event and denial counts in v's state file (0 when none). */
typedef struct {
    const char *agent;
    long long   events, denied;
} tu_counts;

tu_counts tu_counts_of(aim_verifier *v, const char *agent);

/* A GET of /kb/1 from adapter "test" with tok (may be NULL) needing one
 * scope, *scope (none when scope is NULL). */
aim_request tu_request(const char *tok, const char *const *scope);

/* The status of aim_decide (of aim_decide_token with t), the decision
 * dropped: for the checks that look at nothing else. */
aim_status tu_decide_status(aim_verifier *v, const aim_request *req);
aim_status tu_decide_token_status(aim_verifier *v, const aim_token *t,
                                  const aim_request *req);

/* Does hay contain needle (not NUL-terminated hay)? */
int tu_contains(const char *hay, const char *needle);

#endif
