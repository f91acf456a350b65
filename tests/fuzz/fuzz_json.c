/*
 * fuzz_json.c -- libFuzzer harness: the request-path JSON parser
 * (aim_jdoc_parse) against jansson with AIM's strict settings
 * (aim_json_parse_strict), on any bytes.  They must accept and refuse the
 * same inputs, and where both accept, hold the same values: types, every
 * integer, every double bit for bit, every string byte for byte, array
 * order, and object members by name.  Any difference aborts.
 */
#include <math.h>
#include "fuzz_common.h"
#include "json.h"

static void
differ(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "fuzz_json: the parsers differ: %s (%zu bytes)\n", what, size);
    (void) data;
    abort();
}

/* Compare node n of d with jansson's value j. */
static void
same(const aim_jdoc *d, const aim_jnode *n, const json_t *j, const uint8_t *data,
     size_t size)
{
    const aim_jnode *c;
    size_t           i;

    switch (n->type) {
    case AIM_JNULL:  if (!json_is_null(j)) differ("null", data, size); return;
    case AIM_JTRUE:  if (!json_is_true(j)) differ("true", data, size); return;
    case AIM_JFALSE: if (!json_is_false(j)) differ("false", data, size); return;
    case AIM_JINT:
        if (!json_is_integer(j) || json_integer_value(j) != n->v.i) {
            differ("integer", data, size);
        }
        return;
    case AIM_JREAL:
        if (!json_is_real(j) || memcmp(&n->v.d, &(double) { json_real_value(j) },
                                       sizeof(double)) != 0)
        {
            differ("real", data, size);
        }
        return;
    case AIM_JSTRING:
        if (!json_is_string(j) || json_string_length(j) != n->len
            || memcmp(json_string_value(j), AIM_JDOC_STRING(d, n), n->len) != 0
            || AIM_JDOC_STRING(d, n)[n->len] != '\0')
        {
            differ("string", data, size);
        }
        return;
    case AIM_JARRAY:
        if (!json_is_array(j) || json_array_size(j) != n->len) {
            differ("array", data, size);
        }
        for (i = 0, c = AIM_JDOC_FIRST(n); i < n->len; i++, c = AIM_JDOC_NEXT(d, c)) {
            same(d, c, json_array_get(j, i), data, size);
        }
        return;
    case AIM_JOBJECT:
        if (!json_is_object(j) || json_object_size(j) != n->len) {
            differ("object", data, size);
        }
        for (i = 0, c = AIM_JDOC_FIRST(n); i < n->len; i++, c = AIM_JDOC_NEXT(d, c)) {
            const json_t *m = json_object_get(j, AIM_JDOC_KEY(d, c));

            if (m == NULL || strlen(AIM_JDOC_KEY(d, c)) != c->keylen
                || aim_jdoc_get(d, n, AIM_JDOC_KEY(d, c)) != c)
            {
                differ("member", data, size);
            }
            same(d, c, m, data, size);
        }
        return;
    default:
        differ("type", data, size);
    }
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aim_jdoc   d;
    aim_error  e1, e2;
    aim_status s;
    json_t    *j;

    s = aim_jdoc_parse(&d, (const char *) data, size, AIM_MAX_JSON_DEPTH, "fuzz", &e1);
    j = aim_json_parse_strict((const char *) data, size, AIM_MAX_JSON_DEPTH, &e2);
    if ((s == AIM_OK) != (j != NULL)) {
        fprintf(stderr, "aim_jdoc: %s; jansson: %s\n", s == AIM_OK ? "accepts" : e1.message,
                j != NULL ? "accepts" : e2.message);
        differ("one accepts, the other refuses", data, size);
    }
    if (s == AIM_OK) {
        /* Spans: each value's text re-parses on its own to the same. */
        const aim_jnode *root = AIM_JDOC_ROOT(&d);

        if (root->next != d.n || root->end > size) {
            differ("tree shape", data, size);
        }
        same(&d, root, j, data, size);
    }
    json_decref(j);
    aim_jdoc_free(&d);
    return 0;
}
