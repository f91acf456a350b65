/*
 * jws.h -- strict compact JWS parsing (RFC 7515 section 7.1).
 *
 * Three base64url segments separated by exactly two dots, each strict
 * (see b64.h), the whole no longer than AIM_MAX_TOKEN_LEN; the protected
 * header a strict JSON object.  No crypto happens here.
 */
#ifndef AIM_JWS_H
#define AIM_JWS_H

#include <jansson.h>
#include "aim.h"

typedef struct {
    json_t        *header;       /* protected header (owned) */
    const char    *alg;          /* header members, borrowed from header */
    const char    *kid;
    const char    *typ;
    unsigned char *payload;      /* decoded payload (owned, NUL-terminated) */
    size_t         payload_len;
    unsigned char *sig;          /* decoded signature (owned) */
    size_t         sig_len;
    size_t         signing_input_len;  /* token[0 .. this) is signed */
} aim_jws;

aim_status aim_jws_parse(const char *token, size_t len, aim_jws *out,
                         aim_error *err);
/* The same with another size bound (status list tokens). */
aim_status aim_jws_parse_max(const char *token, size_t len, size_t max,
                             aim_jws *out, aim_error *err);
void aim_jws_clear(aim_jws *jws);

#endif
