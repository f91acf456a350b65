/*
 * jws.c -- strict compact JWS parsing.  Everything here happens before
 * any crypto, and everything about the token's shape is checked here.
 */
#include <stdlib.h>
#include <string.h>
#include "b64.h"
#include "jws.h"
#include "util.h"

void
aim_jws_clear(aim_jws *jws)
{
    aim_jdoc_free(&jws->hdr);
    if (jws->payload != jws->payload_inline) {
        free(jws->payload);
    }
    if (jws->sig != jws->sig_inline) {
        free(jws->sig);
    }
    jws->payload = NULL;
    jws->sig = NULL;
    jws->alg = jws->kid = jws->typ = NULL;
    jws->payload_len = jws->sig_len = jws->header_len = 0;
}

static aim_status jws_parse(const char *token, size_t len, size_t max,
                            aim_jws_cache *cache, aim_jws *out, aim_error *err);

aim_status
aim_jws_parse(const char *token, size_t len, aim_jws *out, aim_error *err)
{
    return aim_jws_parse_max(token, len, AIM_MAX_TOKEN_LEN, out, err);
}

aim_status
aim_jws_parse_max(const char *token, size_t len, size_t max, aim_jws *out,
                  aim_error *err)
{
    return jws_parse(token, len, max, NULL, out, err);
}

aim_status
aim_jws_parse_cached(const char *token, size_t len, aim_jws_cache *c,
                     aim_jws *out, aim_error *err)
{
    return jws_parse(token, len, AIM_MAX_TOKEN_LEN, c, out, err);
}

/* Remember a header that parsed, when its members fit. */
static void
cache_fill(aim_jws_cache *c, const char *enc, size_t enc_len, const aim_jws *j)
{
    size_t al = strlen(j->alg), kl = j->kid ? strlen(j->kid) : 0,
           tl = j->typ ? strlen(j->typ) : 0;

    c->enc_len = 0;
    if (enc_len > sizeof(c->enc) || al >= sizeof(c->alg) || kl >= sizeof(c->kid)
        || tl >= sizeof(c->typ))
    {
        return;
    }
    memcpy(c->alg, j->alg, al + 1);
    c->has_kid = j->kid != NULL;
    if (j->kid != NULL) {
        memcpy(c->kid, j->kid, kl + 1);
    }
    c->has_typ = j->typ != NULL;
    if (j->typ != NULL) {
        memcpy(c->typ, j->typ, tl + 1);
    }
    memcpy(c->enc, enc, enc_len);
    c->enc_len = enc_len;
}

static aim_status
jws_parse(const char *token, size_t len, size_t max, aim_jws_cache *cache,
          aim_jws *out, aim_error *err)
{
    const char      *dot1, *dot2, *end = token + len;
    size_t           hlen, plen, slen;
    aim_status       s;
    const aim_jnode *root = NULL, *v;
    int              hit;

    /* Everything aim_jws_clear looks at, and no more: the buffers are
     * large and written as they are filled. */
    out->hdr.node = out->hdr.inline_node;
    out->hdr.str = out->hdr.inline_str;
    out->hdr.n = out->hdr.slen = 0;
    out->payload = NULL;
    out->sig = NULL;
    out->alg = out->kid = out->typ = NULL;
    out->payload_len = out->sig_len = out->header_len = out->signing_input_len = 0;

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
    out->payload = plen / 4 * 3 + 3 <= sizeof(out->payload_inline)
                   ? out->payload_inline : malloc(AIM_B64_DECODED_MAX(plen) + 1);
    /* slen * 3 / 4 bounds what slen characters decode to. */
    out->sig = slen / 4 * 3 + 2 <= sizeof(out->sig_inline)
               ? out->sig_inline : malloc(AIM_B64_DECODED_MAX(slen));
    if (out->payload == NULL || out->sig == NULL) {
        aim_jws_clear(out);
        return aim_fail(err, AIM_INTERNAL, "out of memory");
    }
    /* A header that parsed before, byte for byte, says what it said then. */
    hit = cache != NULL && cache->enc_len == hlen
          && memcmp(cache->enc, token, hlen) == 0;
    if (!hit) {
        /* AIM_B64_DECODED_MAX(2048) is 1539: the header fits with its NUL. */
        if (aim_b64url_decode(token, hlen, (unsigned char *) out->header,
                              &out->header_len) != 0)
        {
            s = aim_fail(err, AIM_MALFORMED, "JWS header is not strict base64url");
            goto fail;
        }
        out->header[out->header_len] = '\0';
        s = aim_jdoc_parse(&out->hdr, out->header, out->header_len,
                           AIM_MAX_JSON_DEPTH, "JWS header", err);
        if (s != AIM_OK) {
            goto fail;
        }
        root = AIM_JDOC_ROOT(&out->hdr);
        if (root->type != AIM_JOBJECT) {
            s = aim_fail(err, AIM_MALFORMED, "JWS header is not a JSON object");
            goto fail;
        }
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
    out->signing_input_len = (size_t) (dot2 - token);
    if (hit) {
        out->alg = cache->alg;
        out->kid = cache->has_kid ? cache->kid : NULL;
        out->typ = cache->has_typ ? cache->typ : NULL;
        return AIM_OK;
    }

    /* Header members: types are checked here, values by the verifier. */
    v = aim_jdoc_get(&out->hdr, root, "alg");
    if (v == NULL) {
        s = aim_fail(err, AIM_UNSUPPORTED_ALG, "JWS header has no \"alg\"");
        goto fail;
    }
    if (v->type != AIM_JSTRING) {
        s = aim_fail(err, AIM_MALFORMED, "JWS header \"alg\" is not a string");
        goto fail;
    }
    out->alg = AIM_JDOC_STRING(&out->hdr, v);

    v = aim_jdoc_get(&out->hdr, root, "kid");
    if (v != NULL) {
        if (v->type != AIM_JSTRING || v->len == 0 || v->len > 256) {
            s = aim_fail(err, AIM_UNKNOWN_KEY, "JWS header \"kid\" is not a string "
                         "of 1 to 256 bytes");
            goto fail;
        }
        out->kid = AIM_JDOC_STRING(&out->hdr, v);
    }

    v = aim_jdoc_get(&out->hdr, root, "typ");
    if (v != NULL) {
        if (v->type != AIM_JSTRING) {
            s = aim_fail(err, AIM_MALFORMED, "JWS header \"typ\" is not a string");
            goto fail;
        }
        out->typ = AIM_JDOC_STRING(&out->hdr, v);
    }

    if (aim_jdoc_get(&out->hdr, root, "crit") != NULL) {
        s = aim_fail(err, AIM_BAD_TYPE, "JWS header has \"crit\": no critical "
                     "extension is understood");
        goto fail;
    }
    if (aim_jdoc_get(&out->hdr, root, "b64") != NULL) {
        s = aim_fail(err, AIM_BAD_TYPE, "JWS header has \"b64\" (RFC 7797): "
                     "not supported");
        goto fail;
    }
    /* "jku", "x5u", "jwk" and "x5c" are never read here: only "kid"
     * selects a key, and only among the keys loaded from configuration
     * (a DPoP proof's "jwk" is dpop.c's business). */
    if (cache != NULL) {
        cache_fill(cache, token, hlen, out);
    }
    return AIM_OK;

fail:
    aim_jws_clear(out);
    return s;
}
