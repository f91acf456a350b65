/*
 * policy.h -- local least-privilege policy.
 *
 * Lines:  allow <agent-pattern> <scope-pattern> [<scope-pattern>...]
 * An agent pattern is an exact agent id or a prefix ending in "*".
 * With a policy loaded, an agent's effective scopes are those token
 * scopes that some matching "allow" line permits; an agent no line
 * matches gets none.  Without a policy, the token's scopes stand.
 */
#ifndef AIM_POLICY_H
#define AIM_POLICY_H

#include <sys/stat.h>
#include "aim.h"

typedef struct aim_policy aim_policy;

aim_policy *aim_policy_parse(const char *text, size_t len,
                             const char *source, aim_error *err);
aim_policy *aim_policy_load(const char *path, aim_error *err);
/* The same; st receives fstat() of exactly what was read (zero when
 * nothing could be read), also when its content is refused. */
aim_policy *aim_policy_load_st(const char *path, struct stat *st,
                         aim_error *err);
void aim_policy_free(aim_policy *p);

/* 1 if policy lets agent hold scope. */
int aim_policy_allows(const aim_policy *p, const char *agent,
                      const char *scope);
/* 1 if some line matches agent at all. */
int aim_policy_knows(const aim_policy *p, const char *agent);

#endif
