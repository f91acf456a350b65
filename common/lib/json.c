/*
 * json.c -- strict JSON on jansson.
 *
 * jansson already rejects invalid UTF-8 and, without JSON_ALLOW_NUL,
 * "\u0000"; JSON_REJECT_DUPLICATES refuses repeated member names.  The
 * depth bound is checked here first, by a scan that never recurses, so a
 * hostile "[[[[..." costs nothing.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
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

/* ------------------------------------------------------------------ */
/* The request-path parser (json.h)                                    */

typedef struct {
    const unsigned char *p, *end, *base;
    aim_jdoc            *d;
    size_t               max_depth;
    const char          *why;          /* the first error */
    size_t               at;           /* and its offset */
    int                  oom;
} jparser;

static int
jfail(jparser *ps, const unsigned char *at, const char *why)
{
    if (ps->why == NULL) {
        ps->why = why;
        ps->at = (size_t) (at - ps->base);
    }
    return -1;
}

static void
jskip(jparser *ps)
{
    while (ps->p < ps->end
           && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
    {
        ps->p++;
    }
}

/* A new node; its index, or -1 (out of memory). */
static long jnode_grow(jparser *ps);

static inline long
jnode(jparser *ps, aim_jtype type)
{
    aim_jdoc  *d = ps->d;
    aim_jnode *n;

    if (d->n == d->cap && jnode_grow(ps) < 0) {
        return -1;
    }
    n = &d->node[d->n];
    n->type = (unsigned char) type;
    n->len = 0;
    n->key = n->keylen = 0;
    n->start = (uint32_t) (ps->p - ps->base);
    return (long) d->n++;
}

/* Twice the room for nodes (the first time, off the inline array). */
static long
jnode_grow(jparser *ps)
{
    aim_jdoc  *d = ps->d;

    {
        size_t     cap = d->cap * 2;
        aim_jnode *grown;

        if (d->node == d->inline_node) {
            grown = malloc(cap * sizeof(*grown));
            if (grown != NULL) {
                memcpy(grown, d->node, d->n * sizeof(*grown));
            }
        } else {
            grown = realloc(d->node, cap * sizeof(*grown));
        }
        if (grown == NULL) {
            ps->oom = 1;
            return jfail(ps, ps->p, "out of memory");
        }
        d->node = grown;
        d->cap = cap;
    }
    return 0;
}

static int
hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Four hex digits at p (end bounds them): the value, or -1. */
static long
hex4(const unsigned char *p, const unsigned char *end)
{
    long v = 0;
    int  i, h;

    if (end - p < 4) {
        return -1;
    }
    for (i = 0; i < 4; i++) {
        if ((h = hexval(p[i])) < 0) {
            return -1;
        }
        v = v * 16 + h;
    }
    return v;
}

/* Does any byte of w equal b?  (The classic zero-byte test on w ^ b.) */
static inline int
has_byte(uint64_t w, unsigned char b)
{
    uint64_t x = w ^ (0x0101010101010101ULL * b);

    return ((x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL) != 0;
}

/* Bytes a string holds as they are: printable ASCII but '"' and '\\'. */
static const unsigned char json_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/*
 * A string at ps->p (the opening quote), unescaped into the arena; its
 * offset there in *off and length in *len.  The arena holds len + 1
 * bytes of input, and a string never unescapes to more than its quoted
 * form less one byte, so it always fits.
 */
static int
jstring(jparser *ps, uint32_t *off, uint32_t *len)
{
    aim_jdoc            *d = ps->d;
    const unsigned char *p = ps->p + 1, *end = ps->end;
    char                *o = d->str + d->slen;
    unsigned long        cp;
    size_t               n;

    for (;;) {
        /* The common case: a run of printable ASCII, eight bytes at a
         * time while none of them is '"', '\\', a control or not ASCII
         * (the arena always has room for what was read: see above). */
        while (end - p >= 8) {
            uint64_t w;

            memcpy(&w, p, 8);
            if (((w - 0x2020202020202020ULL) | w) & 0x8080808080808080ULL
                || has_byte(w, 0x22) || has_byte(w, 0x5c))
            {
                break;
            }
            memcpy(o, &w, 8);
            o += 8;
            p += 8;
        }
        while (p < end && json_plain[*p]) {
            *o++ = (char) *p++;
        }
        if (p == end) {
            return jfail(ps, p, "premature end of input in a string");
        }
        if (*p == '"') {
            break;
        }
        if (*p < 0x20) {
            return jfail(ps, p, "control character in a string");
        }
        if (*p >= 0x80) {
            n = aim_utf8_decode(p, (size_t) (end - p), &cp);
            if (n == 0) {
                return jfail(ps, p, "invalid UTF-8 in a string");
            }
            memcpy(o, p, n);
            o += n;
            p += n;
            continue;
        }
        /* An escape. */
        if (end - p < 2) {
            return jfail(ps, p, "premature end of input in a string");
        }
        switch (p[1]) {
        case '"':  *o++ = '"';  p += 2; continue;
        case '\\': *o++ = '\\'; p += 2; continue;
        case '/':  *o++ = '/';  p += 2; continue;
        case 'b':  *o++ = '\b'; p += 2; continue;
        case 'f':  *o++ = '\f'; p += 2; continue;
        case 'n':  *o++ = '\n'; p += 2; continue;
        case 'r':  *o++ = '\r'; p += 2; continue;
        case 't':  *o++ = '\t'; p += 2; continue;
        case 'u':  break;
        default:
            return jfail(ps, p, "invalid escape");
        }
        {
            long hi = hex4(p + 2, end), lo;

            if (hi < 0) {
                return jfail(ps, p, "invalid \\u escape");
            }
            p += 6;
            if (hi >= 0xdc00 && hi <= 0xdfff) {
                return jfail(ps, p - 6, "invalid Unicode (a lone low surrogate)");
            }
            if (hi >= 0xd800 && hi <= 0xdbff) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u'
                    || (lo = hex4(p + 2, end)) < 0xdc00 || lo > 0xdfff)
                {
                    return jfail(ps, p - 6, "invalid Unicode (a lone high surrogate)");
                }
                cp = 0x10000 + (((unsigned long) hi - 0xd800) << 10)
                     + ((unsigned long) lo - 0xdc00);
                p += 6;
            } else {
                cp = (unsigned long) hi;
            }
            if (cp == 0) {
                return jfail(ps, p - 6, "\\u0000 is not allowed");
            }
            if (cp < 0x80) {
                *o++ = (char) cp;
            } else if (cp < 0x800) {
                *o++ = (char) (0xc0 | (cp >> 6));
                *o++ = (char) (0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                *o++ = (char) (0xe0 | (cp >> 12));
                *o++ = (char) (0x80 | ((cp >> 6) & 0x3f));
                *o++ = (char) (0x80 | (cp & 0x3f));
            } else {
                *o++ = (char) (0xf0 | (cp >> 18));
                *o++ = (char) (0x80 | ((cp >> 12) & 0x3f));
                *o++ = (char) (0x80 | ((cp >> 6) & 0x3f));
                *o++ = (char) (0x80 | (cp & 0x3f));
            }
        }
    }
    *off = (uint32_t) d->slen;
    *len = (uint32_t) (o - (d->str + d->slen));
    *o++ = '\0';
    d->slen = (size_t) (o - d->str);
    ps->p = p + 1;
    return 0;
}

static locale_t       c_numeric;
static pthread_once_t c_numeric_once = PTHREAD_ONCE_INIT;

static void
c_numeric_init(void)
{
    c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t) 0);
}

/*
 * A number: RFC 8259's grammar; without fraction or exponent an integer
 * in int64 range (as jansson: beyond it is an error), else a double from
 * strtod in the C locale (whatever the host's LC_NUMERIC), whose
 * overflow to infinity is an error and underflow is not.
 */
static int
jnumber(jparser *ps, aim_jnode *n)
{
    const unsigned char *p = ps->p, *end = ps->end, *start = p;
    int                  neg = 0, real = 0;
    uint64_t             mag = 0, limit;

    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (p == end || *p < '0' || *p > '9') {
        return jfail(ps, start, "invalid number");
    }
    limit = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
    if (*p == '0') {
        p++;
        if (p < end && *p >= '0' && *p <= '9') {
            return jfail(ps, start, "invalid number (leading zero)");
        }
    } else {
        while (p < end && *p >= '0' && *p <= '9') {
            unsigned digit = (unsigned) (*p - '0');

            if (mag > (limit - digit) / 10) {
                mag = limit + 1;                 /* marked: too big */
            } else if (mag <= limit) {
                mag = mag * 10 + digit;
            }
            p++;
        }
    }
    if (p < end && *p == '.') {
        real = 1;
        p++;
        if (p == end || *p < '0' || *p > '9') {
            return jfail(ps, start, "invalid number");
        }
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        real = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p == end || *p < '0' || *p > '9') {
            return jfail(ps, start, "invalid number");
        }
        while (p < end && *p >= '0' && *p <= '9') p++;
    }

    if (!real) {
        if (mag > limit) {
            return jfail(ps, start, neg ? "too big negative integer"
                                        : "too big integer");
        }
        n->type = AIM_JINT;
        n->v.i = neg ? (mag == (uint64_t) INT64_MAX + 1 ? INT64_MIN
                                                         : -(int64_t) mag)
                     : (int64_t) mag;
    } else {
        char     small[64], *buf = small, *e;
        size_t   len = (size_t) (p - start);
        locale_t old = (locale_t) 0;
        double   v;

        if (len >= sizeof(small) && (buf = malloc(len + 1)) == NULL) {
            ps->oom = 1;
            return jfail(ps, start, "out of memory");
        }
        memcpy(buf, start, len);
        buf[len] = '\0';
        (void) pthread_once(&c_numeric_once, c_numeric_init);
        if (c_numeric != (locale_t) 0) {
            old = uselocale(c_numeric);
        }
        errno = 0;
        v = strtod(buf, &e);
        if ((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE) {
            e = NULL;
        }
        if (c_numeric != (locale_t) 0) {
            uselocale(old);
        }
        if (buf != small) {
            free(buf);
        }
        if (e == NULL) {
            return jfail(ps, start, "real number overflow");
        }
        if (e != buf + len) {
            return jfail(ps, start, "invalid number");
        }
        n->type = AIM_JREAL;
        n->v.d = v;
    }
    ps->p = p;
    return 0;
}

static uint32_t
key_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    size_t   i;

    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char) s[i]) * 16777619u;
    }
    return h;
}

/* Does object o (its members parsed) repeat a member name? */
static int
duplicate_keys(jparser *ps, const aim_jnode *o)
{
    const aim_jdoc  *d = ps->d;
    const aim_jnode *a, *b;
    uint32_t         small[64], *table = small, i, j, mask, h;
    int              dup = 0;

    if (o->len <= 16) {
        /* Few members (a token's claims): a word of each key's length and
         * first bytes tells nearly all apart; memcmp only when two agree. */
        uint64_t         sig[16];
        const aim_jnode *m[16];

        for (i = 0, a = AIM_JDOC_FIRST(o); i < o->len; i++, a = AIM_JDOC_NEXT(d, a)) {
            const unsigned char *k = (const unsigned char *) d->str + a->key;
            uint64_t             w = a->keylen;

            for (j = 0; j < 7 && j < a->keylen; j++) {
                w = (w << 8) | k[j];
            }
            sig[i] = w;
            m[i] = a;
            for (j = 0; j < i; j++) {
                if (sig[j] == sig[i] && m[j]->keylen == a->keylen
                    && memcmp(d->str + m[j]->key, d->str + a->key, a->keylen) == 0)
                {
                    return 1;
                }
            }
        }
        return 0;
    }
    /* Open addressing over node indexes + 1, at most half full. */
    for (mask = 63; mask < 2 * o->len; mask = mask * 2 + 1) {
    }
    if (mask >= 64 && (table = calloc((size_t) mask + 1, sizeof(*table))) == NULL) {
        ps->oom = 1;
        return -1;
    }
    if (table == small) {
        memset(small, 0, sizeof(small));
    }
    for (i = 0, a = AIM_JDOC_FIRST(o); i < o->len && !dup; i++, a = AIM_JDOC_NEXT(d, a)) {
        for (h = key_hash(d->str + a->key, a->keylen) & mask; table[h] != 0;
             h = (h + 1) & mask)
        {
            b = &d->node[table[h] - 1];
            if (a->keylen == b->keylen
                && memcmp(d->str + a->key, d->str + b->key, a->keylen) == 0)
            {
                dup = 1;
                break;
            }
        }
        table[h] = (uint32_t) (a - d->node) + 1;
    }
    if (table != small) {
        free(table);
    }
    return dup;
}

static long jvalue(jparser *ps, size_t depth);

/* An object or array at ps->p; depth counts the containers around it. */
static long
jcontainer(jparser *ps, size_t depth)
{
    int                  object = *ps->p == '{';
    unsigned char        close = object ? '}' : ']';
    const unsigned char *open = ps->p;
    long                 idx, child;
    uint32_t             count = 0, key = 0, keylen = 0;
    int                  dup;

    if (depth + 1 > ps->max_depth) {
        return jfail(ps, open, "nested too deep");
    }
    if ((idx = jnode(ps, object ? AIM_JOBJECT : AIM_JARRAY)) < 0) {
        return -1;
    }
    ps->p++;
    jskip(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
    } else {
        for (;;) {
            if (object) {
                jskip(ps);
                if (ps->p == ps->end || *ps->p != '"') {
                    return jfail(ps, ps->p, "string or '}' expected");
                }
                if (jstring(ps, &key, &keylen) != 0) {
                    return -1;
                }
                jskip(ps);
                if (ps->p == ps->end || *ps->p != ':') {
                    return jfail(ps, ps->p, "':' expected");
                }
                ps->p++;
            }
            if ((child = jvalue(ps, depth + 1)) < 0) {
                return -1;
            }
            ps->d->node[child].key = key;
            ps->d->node[child].keylen = keylen;
            count++;
            jskip(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == close) {
                ps->p++;
                break;
            }
            return jfail(ps, ps->p, object ? "',' or '}' expected"
                                           : "',' or ']' expected");
        }
    }
    ps->d->node[idx].len = count;
    ps->d->node[idx].next = (uint32_t) ps->d->n;
    ps->d->node[idx].end = (uint32_t) (ps->p - ps->base);
    if (object && count > 1) {
        if ((dup = duplicate_keys(ps, &ps->d->node[idx])) != 0) {
            return jfail(ps, open, dup < 0 ? "out of memory"
                                           : "duplicate object member");
        }
    }
    return idx;
}

static long
jvalue(jparser *ps, size_t depth)
{
    long                 idx;
    aim_jnode           *n;
    const unsigned char *p;
    size_t               left;

    jskip(ps);
    if (ps->p == ps->end) {
        return jfail(ps, ps->p, "premature end of input");
    }
    p = ps->p;
    left = (size_t) (ps->end - p);
    switch (*p) {
    case '{':
    case '[':
        return jcontainer(ps, depth);
    case '"':
        if ((idx = jnode(ps, AIM_JSTRING)) < 0) {
            return -1;
        }
        n = &ps->d->node[idx];
        if (jstring(ps, &n->v.s, &n->len) != 0) {
            return -1;
        }
        break;
    case 't':
    case 'f':
    case 'n': {
        static const struct { const char *word; size_t len; aim_jtype type; } lit[] = {
            { "true", 4, AIM_JTRUE }, { "false", 5, AIM_JFALSE }, { "null", 4, AIM_JNULL },
        };
        size_t k = *p == 't' ? 0 : *p == 'f' ? 1 : 2;

        if (left < lit[k].len || memcmp(p, lit[k].word, lit[k].len) != 0) {
            return jfail(ps, p, "invalid token");
        }
        if ((idx = jnode(ps, lit[k].type)) < 0) {
            return -1;
        }
        ps->p += lit[k].len;
        n = &ps->d->node[idx];
        break;
    }
    default:
        if (*p != '-' && (*p < '0' || *p > '9')) {
            return jfail(ps, p, "invalid token");
        }
        if ((idx = jnode(ps, AIM_JINT)) < 0) {
            return -1;
        }
        n = &ps->d->node[idx];
        if (jnumber(ps, n) != 0) {
            return -1;
        }
        break;
    }
    n->next = (uint32_t) ps->d->n;
    n->end = (uint32_t) (ps->p - ps->base);
    return idx;
}

aim_status
aim_jdoc_parse(aim_jdoc *d, const char *text, size_t len, size_t max_depth,
               const char *what, aim_error *err)
{
    jparser ps;

    d->node = d->inline_node;
    d->cap = AIM_JDOC_NODES;
    d->n = 0;
    d->str = d->inline_str;
    d->scap = AIM_JDOC_STR;
    d->slen = 0;
    if (len > UINT32_MAX / 2) {
        return aim_fail(err, AIM_MALFORMED, "%s: JSON too large", what);
    }
    if (memchr(text, '\0', len) != NULL) {
        return aim_fail(err, AIM_MALFORMED, "%s: JSON contains a NUL byte", what);
    }
    if (len + 1 > d->scap) {
        d->str = malloc(len + 1);
        if (d->str == NULL) {
            d->str = d->inline_str;
            return aim_fail(err, AIM_INTERNAL, "out of memory");
        }
        d->scap = len + 1;
    }
    memset(&ps, 0, sizeof(ps));
    ps.p = ps.base = (const unsigned char *) text;
    ps.end = ps.p + len;
    ps.d = d;
    ps.max_depth = max_depth;
    if (jvalue(&ps, 0) >= 0) {
        jskip(&ps);
        if (ps.p != ps.end) {
            jfail(&ps, ps.p, "end of input expected");
        }
    }
    if (ps.why != NULL) {
        if (ps.oom) {
            return aim_fail(err, AIM_INTERNAL, "out of memory");
        }
        if (strcmp(ps.why, "nested too deep") == 0) {
            return aim_fail(err, AIM_MALFORMED, "%s: JSON nested deeper than %zu",
                            what, max_depth);
        }
        return aim_fail(err, AIM_MALFORMED, "%s: invalid JSON at offset %zu: %s",
                        what, ps.at, ps.why);
    }
    return AIM_OK;
}

void
aim_jdoc_free(aim_jdoc *d)
{
    if (d->node != d->inline_node) {
        free(d->node);
    }
    if (d->str != d->inline_str) {
        free(d->str);
    }
    d->node = d->inline_node;
    d->str = d->inline_str;
    d->n = d->slen = 0;
}

const aim_jnode *
aim_jdoc_get(const aim_jdoc *d, const aim_jnode *o, const char *key)
{
    const aim_jnode *c;
    size_t           klen, i;

    if (o == NULL || o->type != AIM_JOBJECT) {
        return NULL;
    }
    klen = strlen(key);
    for (i = 0, c = AIM_JDOC_FIRST(o); i < o->len; i++, c = AIM_JDOC_NEXT(d, c)) {
        if (c->keylen == klen && memcmp(d->str + c->key, key, klen) == 0) {
            return c;
        }
    }
    return NULL;
}
