/*
 * revoke.c -- the local revocation list: "agent", "jti" and "kid" lines.
 *
 * Entries are kept sorted per kind and found by binary search, so a list
 * of a hundred thousand revoked token ids costs a few comparisons.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "revoke.h"
#include "util.h"

enum { REV_AGENT, REV_JTI, REV_KID, REV_KINDS };
static const char *const rev_kind_names[REV_KINDS] = { "agent", "jti", "kid" };

struct aim_revlist {
    char   **ids[REV_KINDS];
    size_t   n[REV_KINDS];
    size_t   cap[REV_KINDS];
};

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

void
aim_revlist_free(aim_revlist *r)
{
    size_t k, i;

    if (r == NULL) {
        return;
    }
    for (k = 0; k < REV_KINDS; k++) {
        for (i = 0; i < r->n[k]; i++) {
            free(r->ids[k][i]);
        }
        free(r->ids[k]);
    }
    free(r);
}

static int
rev_add(aim_revlist *r, int kind, const char *id, size_t len)
{
    char **grown;

    if (r->n[kind] == r->cap[kind]) {
        size_t cap = r->cap[kind] ? r->cap[kind] * 2 : 16;
        grown = realloc(r->ids[kind], cap * sizeof(char *));
        if (grown == NULL) {
            return -1;
        }
        r->ids[kind] = grown;
        r->cap[kind] = cap;
    }
    r->ids[kind][r->n[kind]] = malloc(len + 1);
    if (r->ids[kind][r->n[kind]] == NULL) {
        return -1;
    }
    memcpy(r->ids[kind][r->n[kind]], id, len);
    r->ids[kind][r->n[kind]][len] = '\0';
    r->n[kind]++;
    return 0;
}

aim_revlist *
aim_revlist_parse(const char *text, size_t len, const char *source,
                  aim_error *err)
{
    aim_revlist *r;
    aim_lines    lines;
    const char  *q, *id;
    size_t       line, llen, idlen, kw;
    int          kind, k;
    const char  *what;
    unsigned long cp;

    if (aim_lines_init(&lines, text, len, source, err) != AIM_OK) {
        return NULL;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        aim_fail(err, AIM_INTERNAL, "out of memory");
        return NULL;
    }

    while (aim_lines_next(&lines, &q, &llen)) {
        line = lines.lineno;
        kind = -1;
        for (k = 0; k < REV_KINDS; k++) {
            kw = strlen(rev_kind_names[k]);
            if (llen > kw && memcmp(q, rev_kind_names[k], kw) == 0
                && (q[kw] == ' ' || q[kw] == '\t'))
            {
                kind = k;
                break;
            }
        }
        if (kind < 0) {
            aim_fail(err, AIM_CONFIG, "%s:%zu: expected \"agent ID\", \"jti ID\" "
                     "or \"kid ID\"", source, line);
            goto fail;
        }
        id = q + kw;
        idlen = llen - kw;
        while (idlen > 0 && (*id == ' ' || *id == '\t')) { id++; idlen--; }
        if (idlen == 0 || idlen > AIM_REVOKE_MAX_ID
            || memchr(id, ' ', idlen) != NULL || memchr(id, '\t', idlen) != NULL)
        {
            aim_fail(err, AIM_CONFIG, "%s:%zu: %s needs exactly one identifier of "
                     "1 to %d bytes", source, line, rev_kind_names[kind],
                     AIM_REVOKE_MAX_ID);
            goto fail;
        }
        /*
         * A character no identifier in a token can hold (a trailing
         * vertical tab, a no-break space, a control, invalid UTF-8) would
         * make an entry that never matches: a revocation that silently
         * does nothing.  Refused, naming the line.
         */
        if (aim_text_unsafe(id, idlen, AIM_TEXT_NO_SPACE, &what, &cp)) {
            aim_fail(err, AIM_CONFIG, "%s:%zu: the %s identifier contains %s "
                     "(U+%04lX), which no token's %s holds: the line could "
                     "never match", source, line, rev_kind_names[kind], what, cp,
                     rev_kind_names[kind]);
            goto fail;
        }
        if (kind == REV_AGENT && memchr(id, '>', idlen) != NULL) {
            aim_fail(err, AIM_CONFIG, "%s:%zu: an agent id never contains '>' "
                     "(it separates a delegation chain): the line could never "
                     "match", source, line);
            goto fail;
        }
        if (rev_add(r, kind, id, idlen) != 0) {
            aim_fail(err, AIM_INTERNAL, "out of memory");
            goto fail;
        }
    }

    for (k = 0; k < REV_KINDS; k++) {
        if (r->n[k] > 1) {
            qsort(r->ids[k], r->n[k], sizeof(char *), cmp_str);
        }
    }
    return r;

fail:
    aim_revlist_free(r);
    return NULL;
}

aim_revlist *
aim_revlist_load(const char *path, aim_error *err)
{
    struct stat st;

    return aim_revlist_load_st(path, &st, err);
}

aim_revlist *
aim_revlist_load_st(const char *path, struct stat *st, aim_error *err)
{
    char   *buf;
    size_t  len;
    aim_revlist *r;

    memset(st, 0, sizeof(*st));
    buf = aim_read_file(path, AIM_REVOKE_MAX_BYTES, &len, st, err);
    if (buf == NULL) {
        return NULL;
    }
    r = aim_revlist_parse(buf, len, path, err);
    free(buf);
    return r;
}

static int
rev_has(const aim_revlist *r, int kind, const char *id)
{
    if (id == NULL || r->n[kind] == 0) {
        return 0;
    }
    return bsearch(&id, r->ids[kind], r->n[kind], sizeof(char *), cmp_str) != NULL;
}

const char *
aim_revlist_match(const aim_revlist *r, const char *agent, const char *subject,
                  const char *jti, const char *kid)
{
    if (r == NULL) {
        return NULL;
    }
    if (rev_has(r, REV_AGENT, agent) || rev_has(r, REV_AGENT, subject)) {
        return "agent";
    }
    if (rev_has(r, REV_JTI, jti)) {
        return "jti";
    }
    if (rev_has(r, REV_KID, kid)) {
        return "kid";
    }
    return NULL;
}

size_t
aim_revlist_count(const aim_revlist *r)
{
    return r != NULL ? r->n[REV_AGENT] + r->n[REV_JTI] + r->n[REV_KID] : 0;
}
