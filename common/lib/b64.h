/*
 * b64.h -- strict base64url (RFC 4648 section 5) without padding, as JWS
 * requires (RFC 7515 section 2).  Padding, whitespace, characters outside
 * [A-Za-z0-9_-], an impossible length (4n+1) and non-zero trailing bits
 * are all rejected.
 */
#ifndef AIM_B64_H
#define AIM_B64_H

#include <stddef.h>

/* Bytes needed to decode len characters. */
#define AIM_B64_DECODED_MAX(len) (((len) * 3) / 4 + 3)
/* Characters needed to encode len bytes, plus a NUL. */
#define AIM_B64_ENCODED_LEN(len) ((((len) + 2) / 3) * 4 + 1)

/* Decode; returns 0 and sets *outlen, or -1 on any deviation. */
int aim_b64url_decode(const char *in, size_t len, unsigned char *out,
                      size_t *outlen);

/* Encode without padding; NUL-terminates; returns the length. */
size_t aim_b64url_encode(const unsigned char *in, size_t len, char *out);

#endif
