/*
 * jws.c -- strict compact JWS parsing.  Everything here happens before
 * any crypto, and everything about the token's shape is checked here.
 */
#include <stdlib.h>
#include <string.h>
#include "b64.h"
#include "json.h"
#include "jws.h"
#include "util.h"

#define AIM_MAX_HEADER_LEN 2048      /* encoded protected header */

void
aim_jws_clear(aim_jws *jws)
{
    json_decref(jws->header);
    free(jws->payload);
    free(jws->sig);
    memset(jws, 0, sizeof(*jws));
}

aim_status
aim_jws_parse(const char *token, size_t len, aim_jws *out, aim_error *err)
{
    return aim_jws_parse_max(token, len, AIM_MAX_TOKEN_LEN, out, err);
}

aim_status
aim_jws_parse_max(const char *token, size_t len, size_t max, aim_jws *out,
                  aim_error *err)
{
    const char    *dot1, *dot2, *end = token + len;
    size_t         hlen, plen, slen, n;
    unsigned char *hbuf;
    aim_status     s;
    const json_t  *v;

    memset(out, 0, sizeof(*out));

    if (len == 0) {
        return aim_fail(err, AIM_NO_TOKEN, "empty token");
    }
    if (len > max) {
        return aim_fail(err, AIM_MALFORMED, "token is %zu bytes, more than the "
                        "%zu allowed", len, max);
    }

    dot1 = memchr(token, '.', len);
    dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', (size_t) (end - dot1 - 1)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t) (end - dot2 - 1)) != NULL) {
        return aim_fail(err, AIM_MALFORMED, "not a compact JWS "
                        "(three dot-separated parts)");
    }

    hlen = (size_t) (dot1 - token);
    plen = (size_t) (dot2 - dot1 - 1);
    slen = (size_t) (end - dot2 - 1);
    if (hlen == 0 || plen == 0 || slen == 0) {
        return aim_fail(err, AIM_MALFORMED, "JWS with an empty part");
    }
    if (hlen > AIM_MAX_HEADER_LEN) {
        return aim_fail(err, AIM_MALFORMED, "JWS header is %zu bytes, more than "
                        "%d", hlen, AIM_MAX_HEADER_LEN);
    }

    /* Decode all three before looking at any, so every shape error is
     * reported the same way, before any key lookup. */
    hbuf = malloc(AIM_B64_DECODED_MAX(hlen) + 1);
    out->payload = malloc(AIM_B64_DECODED_MAX(plen) + 1);
    out->sig = malloc(AIM_B64_DECODED_MAX(slen));
    if (hbuf == NULL || out->payload == NULL || out->sig == NULL) {
        free(hbuf);
        aim_jws_clear(out);
        return aim_fail(err, AIM_INTERNAL, "out of memory");
    }
    if (aim_b64url_decode(token, hlen, hbuf, &n) != 0) {
        s = aim_fail(err, AIM_MALFORMED, "JWS header is not strict base64url");
        goto fail;
    }
    hbuf[n] = '\0';
    out->header = aim_json_parse_object((const char *) hbuf, n, "JWS header", err);
    if (out->header == NULL) {
        s = AIM_MALFORMED;
        goto fail;
    }
    if (aim_b64url_decode(dot1 + 1, plen, out->payload, &out->payload_len) != 0) {
        s = aim_fail(err, AIM_MALFORMED, "JWS payload is not strict base64url");
        goto fail;
    }
    out->payload[out->payload_len] = '\0';
    if (aim_b64url_decode(dot2 + 1, slen, out->sig, &out->sig_len) != 0) {
        s = aim_fail(err, AIM_MALFORMED, "JWS signature is not strict base64url");
        goto fail;
    }
    free(hbuf);
    hbuf = NULL;
    out->signing_input_len = (size_t) (dot2 - token);

    /* Header members: types are checked here, values by the verifier. */
    v = json_object_get(out->header, "alg");
    if (v == NULL) {
        s = aim_fail(err, AIM_UNSUPPORTED_ALG, "JWS header has no \"alg\"");
        goto fail;
    }
    if (!json_is_string(v)) {
        s = aim_fail(err, AIM_MALFORMED, "JWS header \"alg\" is not a string");
        goto fail;
    }
    out->alg = json_string_value(v);

    v = json_object_get(out->header, "kid");
    if (v != NULL && (!json_is_string(v) || json_string_length(v) == 0
                      || json_string_length(v) > 256))
    {
        s = aim_fail(err, AIM_UNKNOWN_KEY, "JWS header \"kid\" is not a string "
                     "of 1 to 256 bytes");
        goto fail;
    }
    out->kid = json_string_value(v);

    v = json_object_get(out->header, "typ");
    if (v != NULL && !json_is_string(v)) {
        s = aim_fail(err, AIM_MALFORMED, "JWS header \"typ\" is not a string");
        goto fail;
    }
    out->typ = json_string_value(v);

    if (json_object_get(out->header, "crit") != NULL) {
        s = aim_fail(err, AIM_BAD_TYPE, "JWS header has \"crit\": no critical "
                     "extension is understood");
        goto fail;
    }
    if (json_object_get(out->header, "b64") != NULL) {
        s = aim_fail(err, AIM_BAD_TYPE, "JWS header has \"b64\" (RFC 7797): "
                     "not supported");
        goto fail;
    }
    /* "jku", "x5u", "jwk" and "x5c" are never read: only "kid" selects a
     * key, and only among the keys loaded from configuration. */
    return AIM_OK;

fail:
    free(hbuf);
    aim_jws_clear(out);
    return s;
}
