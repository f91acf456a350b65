/*
 * test_lists.c -- scopes (scope.h), the local policy (policy.h) and the
 * revocation list (revoke.h) as units.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "policy.h"
#include "revoke.h"
#include "scope.h"
#include "t.h"
#include "tu.h"
#include "units.h"

/* aim_scope_split works in place: on a copy (out[] points into it). */
static char split_buf[64 * 300];

static int
split(const char *s, char **out)
{
    snprintf(split_buf, sizeof(split_buf), "%s", s);
    return aim_scope_split(split_buf, out, AIM_MAX_SCOPES);
}

static void
free_split(char **out, int n)
{
    (void) out;
    (void) n;
}

void
test_scope(void)
{
    char   *out[AIM_MAX_SCOPES + 2], buf[64 * 8], big[300];
    int     n, i;
    size_t  len;

    t_section("scope/valid");
    CHECK(aim_scope_valid("kb:read", 7));
    CHECK(aim_scope_valid("!#[]~", 5));
    CHECK(!aim_scope_valid("", 0));
    CHECK(!aim_scope_valid("a b", 3));
    CHECK(!aim_scope_valid("a\"b", 3));
    CHECK(!aim_scope_valid("a\\b", 3));
    CHECK(!aim_scope_valid("a\x7f", 2));
    CHECK(!aim_scope_valid("a\x80", 2));
    CHECK(!aim_scope_valid("a\tb", 3));
    CHECK(!aim_scope_valid("a\0b", 3));
    memset(big, 'x', sizeof(big));
    CHECK(aim_scope_valid(big, AIM_MAX_SCOPE_LEN));
    CHECK(!aim_scope_valid(big, AIM_MAX_SCOPE_LEN + 1));
    for (i = 0x21; i <= 0x7e; i++) {
        char c = (char) i;
        if ((aim_scope_valid(&c, 1) != 0) != (i != '"' && i != '\\')) {
            t_fail(__FILE__, __LINE__, "character 0x%02x", i);
        }
    }

    t_section("scope/match");
    CHECK(aim_scope_pattern_match("kb:read", "kb:read"));
    CHECK(!aim_scope_pattern_match("kb:read", "kb:reader"));
    CHECK(!aim_scope_pattern_match("kb:read", "kb:rea"));
    CHECK(!aim_scope_pattern_match("kb:read", "KB:READ"));
    CHECK(aim_scope_pattern_match("kb:*", "kb:read"));
    CHECK(aim_scope_pattern_match("kb:*", "kb:"));
    CHECK(!aim_scope_pattern_match("kb:*", "kb"));
    CHECK(!aim_scope_pattern_match("kb:*", "kbx:read"));
    CHECK(aim_scope_pattern_match("kb:re*", "kb:read"));
    CHECK(aim_scope_pattern_match("*", "anything"));
    CHECK(!aim_scope_pattern_match("k*b", "kxb"));    /* "*" only at the end */
    CHECK(aim_scope_pattern_match("k*b", "k*b"));

    t_section("scope/split");
    n = split("kb:read kb:write", out);
    CHECK(n == 2 && strcmp(out[0], "kb:read") == 0 && strcmp(out[1], "kb:write") == 0);
    free_split(out, n);
    n = split("a b a b c", out);
    CHECK(n == 3);
    free_split(out, n);
    CHECK(split("", out) == 0);
    CHECK(split(" ", out) == -1);
    CHECK(split("a  b", out) == -1);
    CHECK(split(" a", out) == -1);
    CHECK(split("a ", out) == -1);
    CHECK(split("a\tb", out) == -1);
    CHECK(split("a\nb", out) == -1);
    CHECK(split("a\"b", out) == -1);
    len = 0;
    for (i = 0; i < AIM_MAX_SCOPES; i++) {
        len += (size_t) sprintf(buf + len, "%s%d", i ? " " : "", i);
    }
    n = split(buf, out);
    CHECK(n == AIM_MAX_SCOPES);
    free_split(out, n > 0 ? n : 0);
    sprintf(buf + len, " x");
    CHECK(split(buf, out) == -1);
    /* duplicates do not count towards the bound */
    sprintf(buf + len, " 0 1 2");
    n = split(buf, out);
    CHECK(n == AIM_MAX_SCOPES);
    free_split(out, n > 0 ? n : 0);
    snprintf(split_buf, sizeof(split_buf), "a b c");
    CHECK(aim_scope_split(split_buf, out, 2) == -1);
    big[AIM_MAX_SCOPE_LEN] = '\0';
    n = split(big, out);
    CHECK(n == 1);
    free_split(out, n > 0 ? n : 0);
    big[AIM_MAX_SCOPE_LEN] = 'x';
    big[AIM_MAX_SCOPE_LEN + 1] = '\0';
    CHECK(split(big, out) == -1);
}

static aim_policy *
pol(const char *text, aim_error *err)
{
    return aim_policy_parse(text, strlen(text), "policy", err);
}

void
test_policy(void)
{
    aim_error   err;
    aim_policy *p;
    const char *path;

    t_section("policy/parse");
    p = pol("# least privilege\n"
            "\n"
            "allow agent-1 kb:read kb:write\n"
            "  allow   bot-*\tkb:* \r\n"
            "allow spiffe://example.org/ns/a/sa/* db:select\n"
            "allow agent-2 kb:read\n"
            "allow agent-2 kb:admin\n", &err);
    CHECKF(p != NULL, "%s", err.message);
    if (p != NULL) {
        CHECK(aim_policy_allows(p, "agent-1", "kb:read"));
        CHECK(aim_policy_allows(p, "agent-1", "kb:write"));
        CHECK(!aim_policy_allows(p, "agent-1", "kb:admin"));
        CHECK(!aim_policy_allows(p, "agent-1", "kb:"));
        CHECK(!aim_policy_allows(p, "agent-10", "kb:read"));
        CHECK(!aim_policy_allows(p, "agent-", "kb:read"));
        CHECK(!aim_policy_allows(p, "Agent-1", "kb:read"));
        CHECK(aim_policy_allows(p, "bot-7", "kb:anything"));
        CHECK(aim_policy_allows(p, "bot-", "kb:x"));
        CHECK(!aim_policy_allows(p, "bot", "kb:x"));
        CHECK(!aim_policy_allows(p, "bot-7", "db:select"));
        CHECK(aim_policy_allows(p, "spiffe://example.org/ns/a/sa/x", "db:select"));
        CHECK(!aim_policy_allows(p, "spiffe://example.org/ns/b/sa/x", "db:select"));
        /* several lines for one agent add up among themselves */
        CHECK(aim_policy_allows(p, "agent-2", "kb:read"));
        CHECK(aim_policy_allows(p, "agent-2", "kb:admin"));
        CHECK(aim_policy_knows(p, "agent-1"));
        CHECK(aim_policy_knows(p, "bot-9"));
        CHECK(!aim_policy_knows(p, "stranger"));
        aim_policy_free(p);
    }
    p = pol("", &err);
    CHECK(p != NULL && !aim_policy_knows(p, "agent-1")
          && !aim_policy_allows(p, "agent-1", "kb:read"));
    aim_policy_free(p);
    p = pol("allow * *\n", &err);
    CHECK(p != NULL && aim_policy_allows(p, "anyone", "any:thing"));
    aim_policy_free(p);

    t_section("policy/errors");
    CHECK(pol("deny agent-1 kb:read\n", &err) == NULL && err.status == AIM_CONFIG);
    CHECK(pol("allow agent-1 kb:read\nallw x y\n", &err) == NULL
          && tu_contains(err.message, "policy:2"));
    CHECK(pol("allow\n", &err) == NULL && err.status == AIM_CONFIG);
    CHECK(pol("allow agent-1\n", &err) == NULL && err.status == AIM_CONFIG);
    CHECK(pol("allow agent-1 kb\"read\n", &err) == NULL && err.status == AIM_CONFIG);
    CHECK(pol("allow agent-1 kb\\read\n", &err) == NULL && err.status == AIM_CONFIG);
    CHECK(aim_policy_parse("allow a b\0allow * *\n", 20, "policy", &err) == NULL
          && err.status == AIM_CONFIG);
    CHECK(pol("Allow agent-1 kb:read\n", &err) == NULL);
    /* An agent no token can name: refused, not a rule that never applies. */
    CHECK(pol("allow agent-1\v kb:read\n", &err) == NULL
          && tu_contains(err.message, "policy:1") && tu_contains(err.message, "U+000B"));
    CHECK(pol("allow agent-1\xc2\xa0 kb:read\n", &err) == NULL
          && tu_contains(err.message, "U+00A0"));
    {
        char line[64 * 4 + 64];
        size_t n = (size_t) sprintf(line, "allow a");
        int i;
        for (i = 0; i < 65; i++) n += (size_t) sprintf(line + n, " s%d", i);
        CHECK(pol(line, &err) == NULL && err.status == AIM_CONFIG);
    }

    t_section("policy/load");
    path = tu_write("p1.policy", "allow agent-1 kb:read\n", (size_t) -1);
    p = aim_policy_load(path, &err);
    CHECK(p != NULL && aim_policy_allows(p, "agent-1", "kb:read"));
    aim_policy_free(p);
    CHECK(aim_policy_load(tu_path("none.policy"), &err) == NULL && err.status == AIM_CONFIG);
}

static aim_revlist *
rev(const char *text, aim_error *err)
{
    return aim_revlist_parse(text, strlen(text), "revoked", err);
}

void
test_revoke(void)
{
    aim_error    err;
    aim_revlist *r;
    char        *big, id[1100];
    size_t       i, n;
    const char  *path;

    t_section("revoke/parse");
    r = rev("# revoked\n"
            "agent agent-9\n"
            "\n"
            "  jti  jti-42  \r\n"
            "kid\told-key\n"
            "agent spiffe://example.org/ns/a/sa/bad", &err);
    CHECKF(r != NULL, "%s", err.message);
    if (r != NULL) {
        CHECK_INT(aim_revlist_count(r), 4);
        CHECK_STR(aim_revlist_match(r, "agent-9", NULL, NULL, NULL), "agent");
        CHECK_STR(aim_revlist_match(r, "x", "agent-9", NULL, NULL), "agent");
        CHECK_STR(aim_revlist_match(r, "x", "y", "jti-42", NULL), "jti");
        CHECK_STR(aim_revlist_match(r, "x", "y", "z", "old-key"), "kid");
        CHECK_STR(aim_revlist_match(r, "spiffe://example.org/ns/a/sa/bad", NULL, NULL, NULL), "agent");
        CHECK(aim_revlist_match(r, "agent-", "agent-90", "jti-4", "old-keys") == NULL);
        CHECK(aim_revlist_match(r, "Agent-9", NULL, NULL, NULL) == NULL);
        CHECK(aim_revlist_match(r, NULL, NULL, NULL, NULL) == NULL);
        /* kinds do not mix: a jti equal to a revoked agent id is fine */
        CHECK(aim_revlist_match(r, "x", NULL, "agent-9", "jti-42") == NULL);
        aim_revlist_free(r);
    }
    CHECK(aim_revlist_match(NULL, "a", "b", "c", "d") == NULL);
    CHECK_INT(aim_revlist_count(NULL), 0);
    r = rev("", &err);
    CHECK(r != NULL && aim_revlist_count(r) == 0);
    aim_revlist_free(r);
    r = rev("# only comments\n\n   \n", &err);
    CHECK(r != NULL && aim_revlist_count(r) == 0);
    aim_revlist_free(r);

    t_section("revoke/errors");
    CHECK(rev("agnet agent-9\n", &err) == NULL && err.status == AIM_CONFIG);
    CHECK(rev("agent agent-1\nsub agent-9\n", &err) == NULL
          && tu_contains(err.message, "revoked:2"));
    CHECK(rev("agent\n", &err) == NULL);
    CHECK(rev("agent \n", &err) == NULL);
    CHECK(rev("agent a b\n", &err) == NULL);
    CHECK(rev("agentx y\n", &err) == NULL);
    CHECK(rev("AGENT x\n", &err) == NULL);
    CHECK(rev("jti\n", &err) == NULL);
    CHECK(aim_revlist_parse("agent a\0agent b\n", 16, "revoked", &err) == NULL);
    {
        /*
         * A line must match exactly what it names or be refused: trailing
         * or embedded characters that no token's identifier holds made
         * entries that never matched (a revocation doing nothing).
         */
        static const struct { const char *line, *cp; } never[] = {
            { "jti jti-42\v\n", "U+000B" },             /* vertical tab */
            { "jti jti-42\f\n", "U+000C" },             /* form feed */
            { "jti jti-42\xc2\xa0\n", "U+00A0" },        /* no-break space */
            { "agent agent-9\xe3\x80\x80\n", "U+3000" }, /* ideographic space */
            { "agent agent-9\xe2\x80\x8b\n", "U+200B" }, /* zero width space */
            { "agent \xef\xbb\xbf" "agent-9\n", "U+FEFF" }, /* BOM */
            { "kid old\x1b[0mkey\n", "U+001B" },
            { "agent agent\xe2\x80\xae" "9\n", "U+202E" },
            { "agent agent-9\xc2\x85\n", "U+0085" },     /* NEL */
            { "jti jti-\xff\n", "U+FFFD" },              /* not UTF-8 */
            { "jti jti-\xc3\n", "U+FFFD" },
        };
        char want[64];

        for (i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
            char text[80];

            snprintf(text, sizeof(text), "# ok\nagent a\n%s", never[i].line);
            r = rev(text, &err);
            snprintf(want, sizeof(want), "(%s)", never[i].cp);
            CHECKF(r == NULL && err.status == AIM_CONFIG
                   && tu_contains(err.message, "revoked:3")
                   && tu_contains(err.message, want)
                   && tu_contains(err.message, "never match"),
                   "line %zu: %s", i, r ? "accepted" : err.message);
            aim_revlist_free(r);
        }
        CHECK(rev("agent a>b\n", &err) == NULL && tu_contains(err.message, "'>'"));
        /* CRLF line ends, blanks and tabs around: still exact. */
        r = rev("jti jti-42 \t\r\nagent\t\tagent-9\r\n", &err);
        CHECK(r != NULL && aim_revlist_match(r, NULL, NULL, "jti-42", NULL) != NULL
              && aim_revlist_match(r, "agent-9", NULL, NULL, NULL) != NULL);
        aim_revlist_free(r);
        /* Letters of any script are identifiers like any other. */
        r = rev("agent \xd0\xb0\xd0\xb3\xd0\xb5\xd0\xbd\xd1\x82\n", &err);
        CHECK(r != NULL && aim_revlist_match(r, "\xd0\xb0\xd0\xb3\xd0\xb5\xd0\xbd\xd1\x82",
                                             NULL, NULL, NULL) != NULL);
        aim_revlist_free(r);
    }
    {
        /* End to end: the file is refused at load, naming file and line,
         * rather than let the token it names through. */
        aim_verifier *v;
        const char   *nbsp = tu_write("nbsp.revoked", "jti jti-1\xc2\xa0\n", (size_t) -1);

        v = tu_verifier_try(&err, "revoked", nbsp, NULL);
        CHECKF(v == NULL && err.status == AIM_CONFIG
               && tu_contains(err.message, "nbsp.revoked:1")
               && tu_contains(err.message, "U+00A0"), "%s", v ? "loaded" : err.message);
        aim_verifier_free(v);
    }
    memset(id, 'i', 1024);
    id[1024] = '\0';
    big = malloc(2100);
    sprintf(big, "jti %s\n", id);
    r = rev(big, &err);
    CHECK(r != NULL && aim_revlist_match(r, NULL, NULL, id, NULL) != NULL);
    aim_revlist_free(r);
    sprintf(big, "jti %si\n", id);
    CHECK(rev(big, &err) == NULL);
    free(big);

    t_section("revoke/large");
    {
        /* 100,000 revoked token ids: parse and look up quickly. */
        clock_t t0 = clock();
        big = malloc(100000 * 24);
        n = 0;
        for (i = 0; i < 100000; i++) {
            n += (size_t) sprintf(big + n, "jti t-%zu\n", i * 7919 % 1000003);
        }
        r = aim_revlist_parse(big, n, "revoked", &err);
        CHECK(r != NULL && aim_revlist_count(r) == 100000);
        if (r != NULL) {
            int ok = 1;
            for (i = 0; i < 100000; i += 97) {
                char j[32];
                sprintf(j, "t-%zu", i * 7919 % 1000003);
                ok &= aim_revlist_match(r, NULL, NULL, j, NULL) != NULL;
                sprintf(j, "t-%zu", 1000003 + i);
                ok &= aim_revlist_match(r, NULL, NULL, j, NULL) == NULL;
            }
            CHECK(ok);
            aim_revlist_free(r);
        }
        free(big);
        CHECKF((double) (clock() - t0) / CLOCKS_PER_SEC < 20, "100k entries took %.1f s",
               (double) (clock() - t0) / CLOCKS_PER_SEC);
    }

    t_section("revoke/load");
    path = tu_write("r1.revoked", "agent a\n", (size_t) -1);
    r = aim_revlist_load(path, &err);
    CHECK(r != NULL && aim_revlist_count(r) == 1);
    aim_revlist_free(r);
    CHECK(aim_revlist_load(tu_path("none.revoked"), &err) == NULL && err.status == AIM_CONFIG);
}
