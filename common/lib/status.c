/*
 * status.c -- Token Status List checks (see status.h).
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include "b64.h"
#include "json.h"
#include "jws.h"
#include "status.h"
#include "util.h"

void
aim_statuslist_clear(aim_statuslist *sl)
{
    free(sl->data);
    sl->data = NULL;
    sl->len = 0;
}

unsigned char *
aim_statuslist_decode(const char *lst, size_t lstlen, size_t *outlen,
                      aim_error *err)
{
    unsigned char *packed, *out = NULL;
    size_t         plen, cap = 4096;
    z_stream       zs;
    int            rc;

    packed = malloc(AIM_B64_DECODED_MAX(lstlen));
    if (packed == NULL) {
        aim_fail(err, AIM_INTERNAL, "out of memory");
        return NULL;
    }
    if (aim_b64url_decode(lst, lstlen, packed, &plen) != 0) {
        free(packed);
        aim_fail(err, AIM_MALFORMED, "status list \"lst\" is not base64url");
        return NULL;
    }

    memset(&zs, 0, sizeof(zs));
    if (inflateInit(&zs) != Z_OK) {
        free(packed);
        aim_fail(err, AIM_INTERNAL, "zlib init failed");
        return NULL;
    }
    zs.next_in = packed;
    zs.avail_in = (uInt) plen;
    for (;;) {
        unsigned char *grown = realloc(out, cap);

        if (grown == NULL) {
            aim_fail(err, AIM_INTERNAL, "out of memory");
            goto fail;
        }
        out = grown;
        zs.next_out = out + zs.total_out;
        zs.avail_out = (uInt) (cap - zs.total_out);
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            aim_fail(err, AIM_MALFORMED, "status list \"lst\" is not a zlib stream");
            goto fail;
        }
        if (zs.avail_out != 0 && zs.avail_in == 0) {
            aim_fail(err, AIM_MALFORMED, "status list \"lst\" is truncated");
            goto fail;
        }
        if (cap >= AIM_STATUS_MAX_BYTES) {
            aim_fail(err, AIM_MALFORMED, "status list inflates beyond %u bytes",
                     AIM_STATUS_MAX_BYTES);
            goto fail;
        }
        cap *= 2;
    }
    *outlen = zs.total_out;
    inflateEnd(&zs);
    free(packed);
    return out;

fail:
    inflateEnd(&zs);
    free(packed);
    free(out);
    return NULL;
}

char *
aim_statuslist_encode(const unsigned char *data, size_t len)
{
    uLongf         plen = compressBound((uLong) len);
    unsigned char *packed = malloc(plen);
    char          *out;

    if (packed == NULL) {
        return NULL;
    }
    if (compress2(packed, &plen, data, (uLong) len, Z_BEST_COMPRESSION) != Z_OK) {
        free(packed);
        return NULL;
    }
    out = malloc(AIM_B64_ENCODED_LEN(plen));
    if (out != NULL) {
        aim_b64url_encode(packed, plen, out);
    }
    free(packed);
    return out;
}

aim_status
aim_statuslist_parse(aim_statuslist *sl, const char *jwt, size_t len,
                     const aim_keyset *keys, aim_error *err)
{
    aim_jws        jws;
    aim_status     s;
    const aim_key *key;
    json_t        *claims = NULL;
    const json_t  *list, *bits, *lst, *exp, *sub, *iat, *iss;
    unsigned char *data;
    size_t         dlen;

    s = aim_jws_parse_max(jwt, len, AIM_STATUS_JWT_MAX, &jws, err);
    if (s != AIM_OK) {
        return s;
    }
    if (jws.typ == NULL || (strcasecmp(jws.typ, "statuslist+jwt") != 0
                            && strcasecmp(jws.typ, "application/statuslist+jwt") != 0))
    {
        s = aim_fail(err, AIM_BAD_TYPE, "status list typ is not \"statuslist+jwt\"");
        goto done;
    }
    key = aim_keyset_find(keys, jws.kid);
    if (key == NULL) {
        s = aim_fail(err, AIM_UNKNOWN_KEY, "status list signed with unknown kid");
        goto done;
    }
    if (aim_alg_from_name(jws.alg) != key->alg) {
        s = aim_fail(err, AIM_UNSUPPORTED_ALG, "status list alg does not match "
                     "its key");
        goto done;
    }
    s = aim_key_verify(key, (const unsigned char *) jwt, jws.signing_input_len,
                       jws.sig, jws.sig_len, err);
    if (s != AIM_OK) {
        goto done;
    }
    claims = aim_json_parse_object((const char *) jws.payload, jws.payload_len,
                                   "status list claims", err);
    if (claims == NULL) {
        s = AIM_MALFORMED;
        goto done;
    }
    sub = json_object_get(claims, "sub");
    if (!json_is_string(sub) || strcmp(json_string_value(sub), sl->uri) != 0) {
        s = aim_fail(err, AIM_BAD_CLAIM, "status list \"sub\" is not \"%.100s\"",
                     sl->uri);
        goto done;
    }
    exp = json_object_get(claims, "exp");
    if (exp != NULL && (!json_is_integer(exp) || json_integer_value(exp) < 0
                        || json_integer_value(exp) > 253402300799LL))
    {
        s = aim_fail(err, AIM_BAD_CLAIM, "status list \"exp\" is not a valid date");
        goto done;
    }
    iat = json_object_get(claims, "iat");
    if (!json_is_integer(iat) || json_integer_value(iat) < 0
        || json_integer_value(iat) > 253402300799LL)
    {
        s = aim_fail(err, AIM_BAD_CLAIM, "status list \"iat\" is missing or not "
                     "a valid date");
        goto done;
    }
    if (json_integer_value(iat) < sl->iat) {
        s = aim_fail(err, AIM_BAD_CLAIM, "status list is older (iat %lld) than the "
                     "one loaded (iat %lld): refused as a rollback",
                     (long long) json_integer_value(iat), (long long) sl->iat);
        goto done;
    }
    iss = json_object_get(claims, "iss");
    if (iss != NULL && (key->issuer == NULL || !json_is_string(iss)
                        || strcmp(json_string_value(iss), key->issuer) != 0))
    {
        s = aim_fail(err, AIM_BAD_ISSUER, "status list \"iss\" is not the issuer "
                     "its key signs for");
        goto done;
    }
    list = json_object_get(claims, "status_list");
    bits = json_object_get(list, "bits");
    lst = json_object_get(list, "lst");
    if (!json_is_object(list) || !json_is_integer(bits) || !json_is_string(lst)) {
        s = aim_fail(err, AIM_BAD_CLAIM, "status list lacks status_list.bits/lst");
        goto done;
    }
    switch (json_integer_value(bits)) {
    case 1: case 2: case 4: case 8:
        break;
    default:
        s = aim_fail(err, AIM_BAD_CLAIM, "status list bits must be 1, 2, 4 or 8");
        goto done;
    }
    data = aim_statuslist_decode(json_string_value(lst), json_string_length(lst),
                                 &dlen, err);
    if (data == NULL) {
        s = err != NULL ? err->status : AIM_MALFORMED;
        goto done;
    }
    free(sl->data);
    sl->data = data;
    sl->len = dlen;
    sl->bits = (int) json_integer_value(bits);
    sl->exp = exp != NULL ? (int64_t) json_integer_value(exp) : -1;
    sl->iat = (int64_t) json_integer_value(iat);
    sl->issuer = key->issuer;
    sl->error[0] = '\0';
    s = AIM_OK;

done:
    json_decref(claims);
    aim_jws_clear(&jws);
    return s;
}

aim_status
aim_statuslist_load(aim_statuslist *sl, const aim_keyset *keys, aim_error *err)
{
    char       *buf;
    size_t      len;
    aim_status  s;
    struct stat st;

    buf = aim_read_file(sl->path, AIM_STATUS_JWT_MAX, &len, &st, err);
    if (buf == NULL) {
        return AIM_CONFIG;
    }
    sl->st = st;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'
                       || buf[len - 1] == ' '))
    {
        len--;
    }
    s = aim_statuslist_parse(sl, buf, len, keys, err);
    free(buf);
    if (s != AIM_OK && err != NULL) {
        char tmp[sizeof(err->message)];
        snprintf(tmp, sizeof(tmp), "%.100s: %s", sl->path, err->message);
        memcpy(err->message, tmp, sizeof(tmp));
    }
    return s;
}

int
aim_statuslist_get(const aim_statuslist *sl, uint64_t idx)
{
    uint64_t bit;

    if (sl->data == NULL || idx > (UINT64_MAX / 8)) {
        return -1;
    }
    bit = idx * (uint64_t) sl->bits;
    if (bit / 8 >= sl->len) {
        return -1;
    }
    return (sl->data[bit / 8] >> (bit % 8)) & ((1 << sl->bits) - 1);
}
