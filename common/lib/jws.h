/*
 * jws.h -- strict compact JWS parsing (RFC 7515 section 7.1).
 *
 * Three base64url segments separated by exactly two dots, each strict
 * (see b64.h), the whole no longer than AIM_MAX_TOKEN_LEN; the protected
 * header a strict JSON object (json.h).  No crypto happens here.
 *
 * The header and a signature of up to AIM_JWS_SIG_INLINE bytes live in
 * the structure itself, so parsing costs one allocation (the payload).
 */
#ifndef AIM_JWS_H
#define AIM_JWS_H

#include "aim.h"
#include "json.h"

#define AIM_MAX_HEADER_LEN  2048                 /* encoded protected header */
#define AIM_JWS_HEADER_MAX  (AIM_MAX_HEADER_LEN / 4 * 3)
#define AIM_JWS_SIG_INLINE  1024                 /* RSA-8192 */
#define AIM_JWS_PAYLOAD_INLINE 1024              /* most tokens' claims */

typedef struct {
    const char    *alg;          /* header members (in hdr), NULL when absent */
    const char    *kid;
    const char    *typ;
    aim_jdoc       hdr;          /* the parsed protected header */
    char           header[AIM_JWS_HEADER_MAX + 1];   /* decoded header text */
    size_t         header_len;
    unsigned char *payload;      /* decoded payload, NUL-terminated:
                                  * payload_inline or owned */
    size_t         payload_len;
    unsigned char *sig;          /* decoded signature: sig_inline or owned */
    size_t         sig_len;
    size_t         signing_input_len;  /* token[0 .. this) is signed */
    unsigned char  sig_inline[AIM_JWS_SIG_INLINE];
    unsigned char  payload_inline[AIM_JWS_PAYLOAD_INLINE];
} aim_jws;

aim_status aim_jws_parse(const char *token, size_t len, aim_jws *out,
                         aim_error *err);
/* The same with another size bound (status list tokens). */
aim_status aim_jws_parse_max(const char *token, size_t len, size_t max,
                             aim_jws *out, aim_error *err);

/*
 * The last protected header that parsed, as it was encoded, and what it
 * said: an issuer's tokens share one header byte for byte, so the
 * verifier parses it once.  On a hit, out->alg, kid and typ point into
 * the cache (out->hdr and out->header stay empty); a header that is
 * refused, or whose members do not fit, is never cached.
 */
typedef struct {
    size_t  enc_len;                         /* 0: empty */
    char    enc[AIM_MAX_HEADER_LEN];
    char    alg[17];
    char    kid[257];
    char    typ[65];
    unsigned has_kid:1;
    unsigned has_typ:1;
} aim_jws_cache;

aim_status aim_jws_parse_cached(const char *token, size_t len, aim_jws_cache *c,
                                aim_jws *out, aim_error *err);
/* Release what the parse allocated; harmless on a cleared jws. */
void aim_jws_clear(aim_jws *jws);

#endif
