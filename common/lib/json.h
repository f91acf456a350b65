/*
 * json.h -- strict JSON for token headers and claims, on jansson.
 *
 * Stricter than RFC 8259 on purpose: duplicate member names, NUL in any
 * string (\u0000), invalid UTF-8, nesting deeper than AIM_MAX_JSON_DEPTH
 * and anything but an object at the top are rejected.
 */
#ifndef AIM_JSON_H
#define AIM_JSON_H

#include <stdint.h>
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

/*
 * The parser on the request path: token headers and claims.  It accepts
 * exactly what aim_json_parse_strict accepts (the same rules, checked by
 * a differential fuzzer against jansson and the JSONTestSuite), into a
 * flat tree: one array of nodes in document order and one arena of
 * unescaped, NUL-terminated strings, both inline for small documents, so
 * a token's claims cost no allocation and no hash table.
 *
 * Node 0 is the top-level value.  A container's members follow it, each
 * followed by its own members; node->next is the index of the node after
 * a value and everything in it.  Object members carry their key.
 */
typedef enum {
    AIM_JNULL = 0, AIM_JFALSE, AIM_JTRUE, AIM_JINT, AIM_JREAL, AIM_JSTRING,
    AIM_JARRAY, AIM_JOBJECT
} aim_jtype;

typedef struct {
    unsigned char type;          /* aim_jtype */
    uint32_t      len;           /* string: bytes; array, object: members */
    uint32_t      next;          /* the node after this value's subtree */
    uint32_t      key;           /* object members: the key in str */
    uint32_t      keylen;
    uint32_t      start, end;    /* the value's text in the input */
    union {
        int64_t   i;             /* AIM_JINT */
        double    d;             /* AIM_JREAL */
        uint32_t  s;             /* AIM_JSTRING: offset in str */
    } v;
} aim_jnode;

#define AIM_JDOC_NODES 40
#define AIM_JDOC_STR   768

typedef struct {
    aim_jnode *node;
    size_t     n, cap;
    char      *str;              /* strings, each NUL-terminated */
    size_t     slen, scap;
    aim_jnode  inline_node[AIM_JDOC_NODES];
    char       inline_str[AIM_JDOC_STR];
} aim_jdoc;

/*
 * Parse len bytes of text (NUL bytes refused) into d, at most max_depth
 * nested containers; any top-level value.  AIM_OK, or AIM_MALFORMED with
 * "what: invalid JSON at offset N: why" (no input quoted), or
 * AIM_INTERNAL.  d must be released with aim_jdoc_free either way.
 */
aim_status aim_jdoc_parse(aim_jdoc *d, const char *text, size_t len,
                          size_t max_depth, const char *what, aim_error *err);
void aim_jdoc_free(aim_jdoc *d);

/* The top-level value (after a successful parse). */
#define AIM_JDOC_ROOT(d) (&(d)->node[0])

/* Object member by name; NULL when o is not an object or has none. */
const aim_jnode *aim_jdoc_get(const aim_jdoc *d, const aim_jnode *o,
                              const char *key);
/* The first member of a container (NULL when empty), the next sibling. */
#define AIM_JDOC_FIRST(n) ((n)->len > 0 ? (n) + 1 : NULL)
#define AIM_JDOC_NEXT(d, n) (&(d)->node[(n)->next])
/* A string node's value, a member's key (NUL-terminated). */
#define AIM_JDOC_STRING(d, n) ((const char *) (d)->str + (n)->v.s)
#define AIM_JDOC_KEY(d, n) ((const char *) (d)->str + (n)->key)

#endif
