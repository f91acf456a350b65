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

typedef struct {
    const char    *alg;          /* header members (in hdr), NULL when absent */
    const char    *kid;
    const char    *typ;
    aim_jdoc       hdr;          /* the parsed protected header */
    char           header[AIM_JWS_HEADER_MAX + 1];   /* decoded header text */
    size_t         header_len;
    unsigned char *payload;      /* decoded payload (owned, NUL-terminated) */
    size_t         payload_len;
    unsigned char *sig;          /* decoded signature: sig_inline or owned */
    size_t         sig_len;
    size_t         signing_input_len;  /* token[0 .. this) is signed */
    unsigned char  sig_inline[AIM_JWS_SIG_INLINE];
} aim_jws;

aim_status aim_jws_parse(const char *token, size_t len, aim_jws *out,
                         aim_error *err);
/* The same with another size bound (status list tokens). */
aim_status aim_jws_parse_max(const char *token, size_t len, size_t max,
                             aim_jws *out, aim_error *err);
/* Release what the parse allocated; harmless on a zeroed or cleared jws. */
void aim_jws_clear(aim_jws *jws);
/* Take the payload out of the structure (the caller frees it). */
unsigned char *aim_jws_take_payload(aim_jws *jws);

#endif
