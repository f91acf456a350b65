/*
 * policy.c -- local least-privilege policy: which scopes an agent may
 * hold on this host, whatever its tokens claim.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "policy.h"
#include "scope.h"
#include "util.h"

#define AIM_POLICY_MAX_BYTES (4u * 1024 * 1024)
#define AIM_POLICY_MAX_RULES 10000
#define AIM_POLICY_MAX_PATS  64

typedef struct {
    char   *agent;                      /* exact, or prefix ending in '*' */
    char   *scopes[AIM_POLICY_MAX_PATS];
    size_t  nscopes;
} policy_rule;

struct aim_policy {
    policy_rule *rules;
    size_t       n;
};

void
aim_policy_free(aim_policy *p)
{
    size_t i, j;

    if (p == NULL) {
        return;
    }
    for (i = 0; i < p->n; i++) {
        free(p->rules[i].agent);
        for (j = 0; j < p->rules[i].nscopes; j++) {
            free(p->rules[i].scopes[j]);
        }
    }
    free(p->rules);
    free(p);
}

aim_policy *
aim_policy_parse(const char *text, size_t len, const char *source,
                 aim_error *err)
{
    aim_policy  *p;
    aim_lines    lines;
    const char  *text_line;
    char        *line = NULL, *tok, *save;
    size_t       lineno, cap = 0, llen;
    policy_rule *rule;

    if (aim_lines_init(&lines, text, len, source, err) != AIM_OK) {
        return NULL;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        aim_fail(err, AIM_INTERNAL, "out of memory");
        return NULL;
    }

    while (aim_lines_next(&lines, &text_line, &llen)) {
        lineno = lines.lineno;
        free(line);
        line = malloc(llen + 1);
        if (line == NULL) {
            aim_fail(err, AIM_INTERNAL, "out of memory");
            goto fail;
        }
        memcpy(line, text_line, llen);
        line[llen] = '\0';

        tok = strtok_r(line, " \t", &save);
        if (strcmp(tok, "allow") != 0) {
            aim_fail(err, AIM_CONFIG, "%s:%zu: unknown rule \"%.32s\" "
                     "(expected \"allow AGENT SCOPE...\")", source, lineno, tok);
            goto fail;
        }
        if (p->n == cap) {
            policy_rule *grown;

            if (cap >= AIM_POLICY_MAX_RULES) {
                aim_fail(err, AIM_CONFIG, "%s:%zu: more than %d rules", source,
                         lineno, AIM_POLICY_MAX_RULES);
                goto fail;
            }
            cap = cap ? cap * 2 : 16;
            grown = realloc(p->rules, cap * sizeof(*grown));
            if (grown == NULL) {
                aim_fail(err, AIM_INTERNAL, "out of memory");
                goto fail;
            }
            p->rules = grown;
        }
        rule = &p->rules[p->n];
        memset(rule, 0, sizeof(*rule));

        tok = strtok_r(NULL, " \t", &save);
        if (tok == NULL) {
            aim_fail(err, AIM_CONFIG, "%s:%zu: \"allow\" needs an agent and at "
                     "least one scope", source, lineno);
            goto fail;
        }
        {
            const char    *what;
            unsigned long  cp;

            if (aim_text_unsafe(tok, strlen(tok), AIM_TEXT_NO_SPACE, &what, &cp)) {
                aim_fail(err, AIM_CONFIG, "%s:%zu: the agent contains %s "
                         "(U+%04lX), which no agent id holds: the rule could "
                         "never match", source, lineno, what, cp);
                goto fail;
            }
        }
        rule->agent = aim_strdup(tok);
        p->n++;
        if (rule->agent == NULL) {
            aim_fail(err, AIM_INTERNAL, "out of memory");
            goto fail;
        }
        while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
            if (!aim_scope_valid(tok, strlen(tok))) {
                aim_fail(err, AIM_CONFIG, "%s:%zu: \"%.64s\" is not a valid scope "
                         "pattern", source, lineno, tok);
                goto fail;
            }
            if (rule->nscopes == AIM_POLICY_MAX_PATS) {
                aim_fail(err, AIM_CONFIG, "%s:%zu: more than %d scopes on a line",
                         source, lineno, AIM_POLICY_MAX_PATS);
                goto fail;
            }
            rule->scopes[rule->nscopes] = aim_strdup(tok);
            if (rule->scopes[rule->nscopes] == NULL) {
                aim_fail(err, AIM_INTERNAL, "out of memory");
                goto fail;
            }
            rule->nscopes++;
        }
        if (rule->nscopes == 0) {
            aim_fail(err, AIM_CONFIG, "%s:%zu: \"allow %.64s\" lists no scope",
                     source, lineno, rule->agent);
            goto fail;
        }
    }
    free(line);
    return p;

fail:
    free(line);
    aim_policy_free(p);
    return NULL;
}

aim_policy *
aim_policy_load(const char *path, aim_error *err)
{
    struct stat st;

    return aim_policy_load_st(path, &st, err);
}

aim_policy *
aim_policy_load_st(const char *path, struct stat *st, aim_error *err)
{
    char   *buf;
    size_t  len;
    aim_policy *r;

    memset(st, 0, sizeof(*st));
    buf = aim_read_file(path, AIM_POLICY_MAX_BYTES, &len, st, err);
    if (buf == NULL) {
        return NULL;
    }
    r = aim_policy_parse(buf, len, path, err);
    free(buf);
    return r;
}

static int
agent_matches(const char *pattern, const char *agent)
{
    return aim_scope_pattern_match(pattern, agent);
}

int
aim_policy_allows(const aim_policy *p, const char *agent, const char *scope)
{
    size_t i, j;

    for (i = 0; i < p->n; i++) {
        if (!agent_matches(p->rules[i].agent, agent)) {
            continue;
        }
        for (j = 0; j < p->rules[i].nscopes; j++) {
            if (aim_scope_pattern_match(p->rules[i].scopes[j], scope)) {
                return 1;
            }
        }
    }
    return 0;
}

int
aim_policy_knows(const aim_policy *p, const char *agent)
{
    size_t i;

    for (i = 0; i < p->n; i++) {
        if (agent_matches(p->rules[i].agent, agent)) {
            return 1;
        }
    }
    return 0;
}
