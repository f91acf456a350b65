/*
 * json.c -- strict JSON on jansson.
 *
 * jansson already rejects invalid UTF-8 and, without JSON_ALLOW_NUL,
 * "\u0000"; JSON_REJECT_DUPLICATES refuses repeated member names.  The
 * depth bound is checked here first, by a scan that never recurses, so a
 * hostile "[[[[..." costs nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "util.h"

static int
json_depth_ok(const char *buf, size_t len, size_t max_depth)
{
    size_t i, depth = 0;
    int    in_string = 0;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) buf[i];

        if (in_string) {
            if (c == '\\') {
                i++;                     /* skip the escaped character */
            } else if (c == '"') {
                in_string = 0;
            }
            continue;
        }
        switch (c) {
        case '"':
            in_string = 1;
            break;
        case '[':
        case '{':
            if (++depth > max_depth) {
                return 0;
            }
            break;
        case ']':
        case '}':
            if (depth > 0) {
                depth--;
            }
            break;
        default:
            break;
        }
    }
    return 1;
}

json_t *
aim_json_parse_strict(const char *buf, size_t len, size_t max_depth,
                      aim_error *err)
{
    json_t       *v;
    json_error_t  jerr;

    if (memchr(buf, '\0', len) != NULL) {
        aim_fail(err, AIM_MALFORMED, "JSON contains a NUL byte");
        return NULL;
    }
    if (!json_depth_ok(buf, len, max_depth)) {
        aim_fail(err, AIM_MALFORMED, "JSON nested deeper than %zu", max_depth);
        return NULL;
    }

    v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (v == NULL) {
        /* jansson quotes the input ("... near 'xyz'"): that is token
         * content, which never goes into a message. */
        char *near = strstr(jerr.text, " near ");

        if (near != NULL) {
            *near = '\0';
        }
        aim_fail(err, AIM_MALFORMED, "invalid JSON at offset %d: %s",
                 jerr.position, jerr.text);
        return NULL;
    }
    return v;
}

json_t *
aim_json_parse_object(const char *buf, size_t len, const char *what,
                      aim_error *err)
{
    json_t *v;

    v = aim_json_parse_strict(buf, len, AIM_MAX_JSON_DEPTH, err);
    if (v == NULL) {
        if (err != NULL) {
            char tmp[sizeof(err->message)];

            snprintf(tmp, sizeof(tmp), "%s: %s", what, err->message);
            memcpy(err->message, tmp, sizeof(tmp));
        }
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        aim_fail(err, AIM_MALFORMED, "%s is not a JSON object", what);
        return NULL;
    }
    return v;
}

char *
aim_json_compact(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}
