/*
 * scope.h -- scope grammar and matching.
 *
 * A scope token is 1..AIM_MAX_SCOPE_LEN printable ASCII characters
 * (RFC 6749 section 3.3: %x21 / %x23-5B / %x5D-7E).  Tokens match exactly,
 * whole word, case-sensitive.  Policy patterns may end in "*" to allow a
 * prefix ("kb:*").
 */
#ifndef AIM_SCOPE_H
#define AIM_SCOPE_H

#include <stddef.h>
#include "aim.h"            /* aim_scope_valid, exported */

/* 1 if pattern ("kb:read", "kb:*", "*") allows scope. */
int aim_scope_pattern_match(const char *pattern, const char *scope);

/*
 * Split a space-separated scope string in place (each space becomes a
 * NUL) into at most max tokens; out[] points into s.  Returns the count,
 * or -1 when the string is not a valid scope list (bad character, empty
 * token from double spaces, leading/trailing space, too many, too long).
 * Duplicates are dropped.
 */
int aim_scope_split(char *s, char **out, size_t max);

#endif
