/*
 * scope.c -- scope tokens (RFC 6749 section 3.3) and their matching.
 */
#include <stdlib.h>
#include <string.h>
#include "aim.h"
#include "scope.h"

int
aim_scope_valid(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > AIM_MAX_SCOPE_LEN) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') {
            return 0;
        }
    }
    return 1;
}

int
aim_scope_pattern_match(const char *pattern, const char *scope)
{
    size_t plen = strlen(pattern);

    if (plen > 0 && pattern[plen - 1] == '*') {
        return strncmp(pattern, scope, plen - 1) == 0;
    }
    return strcmp(pattern, scope) == 0;
}

int
aim_scope_split(char *s, char **out, size_t max)
{
    char   *p = s, *e;
    size_t  n = 0, len, i;
    int     dup;

    if (*s == '\0') {
        return 0;
    }
    for (;;) {
        e = strchr(p, ' ');
        len = e != NULL ? (size_t) (e - p) : strlen(p);
        if (!aim_scope_valid(p, len)) {
            return -1;
        }
        if (e != NULL) {
            *e = '\0';
        }
        dup = 0;
        for (i = 0; i < n; i++) {
            if (strcmp(out[i], p) == 0) {
                dup = 1;
                break;
            }
        }
        if (!dup) {
            if (n == max) {
                return -1;
            }
            out[n++] = p;
        }
        if (e == NULL) {
            return (int) n;
        }
        p = e + 1;
    }
}
