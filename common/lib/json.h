/*
 * json.h -- strict JSON for token headers and claims, on jansson.
 *
 * Stricter than RFC 8259 on purpose: duplicate member names, NUL in any
 * string (\u0000), invalid UTF-8, nesting deeper than AIM_MAX_JSON_DEPTH
 * and anything but an object at the top are rejected.
 */
#ifndef AIM_JSON_H
#define AIM_JSON_H

#include <jansson.h>
#include "aim.h"

/* Parse a JSON object; NULL with err set (AIM_MALFORMED) on failure. */
json_t *aim_json_parse_object(const char *buf, size_t len, const char *what,
                              aim_error *err);

/* Same rules, but any top-level value, with a caller-chosen depth bound. */
json_t *aim_json_parse_strict(const char *buf, size_t len, size_t max_depth,
                              aim_error *err);

/* Compact JSON of a value (malloc()ed), sorted keys. */
char *aim_json_compact(const json_t *v);

#endif
