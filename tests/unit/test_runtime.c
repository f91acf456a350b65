/*
 * test_runtime.c -- the verifier at run time: configuration, reloads of
 * keys, revocations and policy on change, the verified-token cache, the
 * least-privilege intersection, decisions, audit lines and re-checks.
 */
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"
#include "t.h"
#include "tu.h"
#include "units.h"

/* Log and audit sinks. */
static int  log_level;
static char log_msg[1024];
static int  log_count;

static void
log_sink(void *ud, int level, const char *msg)
{
    (void) ud;
    log_level = level;
    log_count++;
    snprintf(log_msg, sizeof(log_msg), "%s", msg);
}


static aim_error err;

static aim_status
verify(aim_verifier *v, const char *tok)
{
    return tu_verify(v, tok, &err);
}

static void
test_config(void)
{
    aim_config   *c = aim_config_new();
    aim_verifier *v;
    size_t        i;
    char          name[32];
    const char   *p;

    t_section("config/set");
    CHECK_ST(aim_config_set(c, "nonsense", "1", &err), AIM_CONFIG, &err);
    CHECK(tu_contains(err.message, "nonsense"));
    CHECK_ST(aim_config_set(c, NULL, "1", &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_set(c, "leeway", NULL, &err), AIM_CONFIG, &err);
    {
        static const char *const bad[] = { "-1", "abc", "601", "10s", "", "+5",
                                           "5 ", "0x10", "99999999999999999999" };
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            CHECKF(aim_config_set(c, "leeway", bad[i], &err) == AIM_CONFIG,
                   "leeway \"%s\" accepted", bad[i]);
        }
    }
    CHECK_ST(aim_config_set(c, "leeway", "600", &err), AIM_OK, &err);
    CHECK_ST(aim_config_set(c, "leeway", "0", &err), AIM_OK, &err);
    CHECK_ST(aim_config_set(c, "max_lifetime", "0", &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_set(c, "max_lifetime", "31622401", &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_set(c, "max_lifetime", "3600", &err), AIM_OK, &err);
    CHECK_ST(aim_config_set(c, "cache", "1048577", &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_set(c, "cache", "0", &err), AIM_OK, &err);
    CHECK_ST(aim_config_set(c, "reload_interval", "3601", &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_set(c, "trust_min", "101", &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_set(c, "types", "", &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_set(c, "types", " , ", &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_set(c, "types", "a b c d e f g h i", &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_set(c, "types", "a b c d e f g h", &err), AIM_OK, &err);
    CHECK_ST(aim_config_set(c, "status_list", "nospace", &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_set(c, "status_list", " /path", &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_set(c, "keys", "", &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_set(c, "audience", "", &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_set(c, "issuer", "", &err), AIM_CONFIG, &err);

    t_section("config/check");
    CHECK_ST(aim_config_check(c, &err), AIM_CONFIG, &err);
    CHECK(tu_contains(err.message, "keys"));
    for (i = 0; i < 8; i++) {
        snprintf(name, sizeof(name), "https://i0 /k%zu", i);
        CHECK_ST(aim_config_set(c, "keys", name, &err), AIM_OK, &err);
    }
    CHECK_ST(aim_config_set(c, "keys", "https://i0 /k8", &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_check(c, &err), AIM_CONFIG, &err);
    CHECK(tu_contains(err.message, "issuer"));
    for (i = 0; i < AIM_MAX_ISSUERS; i++) {
        snprintf(name, sizeof(name), "https://i%zu", i);
        CHECK_ST(aim_config_set(c, "issuer", name, &err), AIM_OK, &err);
    }
    CHECK_ST(aim_config_set(c, "issuer", "https://one-too-many", &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_check(c, &err), AIM_CONFIG, &err);
    CHECK(tu_contains(err.message, "audience"));
    CHECK_ST(aim_config_set(c, "audience", "api", &err), AIM_OK, &err);
    CHECK_ST(aim_config_check(c, &err), AIM_OK, &err);
    /* The key files do not exist: the verifier refuses to start. */
    CHECK(aim_verifier_new(c, &err) == NULL && err.status == AIM_CONFIG);
    CHECK(tu_contains(err.message, "/k0"));
    aim_config_free(c);

    t_section("config/verifier-new");
    v = tu_verifier_try(&err, "keys", tu_path("missing.jwks"), NULL);
    CHECK(v == NULL && err.status == AIM_CONFIG && tu_contains(err.message, "missing.jwks"));
    {
        EVP_PKEY *small = tu_key_new(AIM_ALG_RS256, 1024);
        char *j = tu_jwk(tu_key(AIM_ALG_ES256), AIM_ALG_ES256, "k"), buf[8192];
        char *s;
        /* aim_pubkey_to_jwk refuses 1024-bit RSA: build it by hand. */
        BIGNUM *n = NULL;
        unsigned char nb[300];
        int nl;
        EVP_PKEY_get_bn_param(small, "n", &n);
        nl = BN_bn2bin(n, nb);
        s = tu_b64(nb, (size_t) nl);
        snprintf(buf, sizeof(buf), "{\"keys\":[%s,{\"kty\":\"RSA\",\"kid\":\"small\","
                 "\"n\":\"%s\",\"e\":\"AQAB\"}]}", j, s);
        p = tu_write("small.jwks", buf, (size_t) -1);
        v = tu_verifier_try(&err, "keys", p, NULL);
        CHECK(v == NULL && err.status == AIM_CONFIG && tu_contains(err.message, "1024"));
        CHECK(tu_contains(err.message, "small.jwks"));
        free(s);
        BN_free(n);
        EVP_PKEY_free(small);
        /* A private key in the file. */
        snprintf(buf, sizeof(buf), "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":"
                 "\"a3\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\",\"y\":"
                 "\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\",\"d\":"
                 "\"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI\"}]}");
        p = tu_write("private.jwks", buf, (size_t) -1);
        v = tu_verifier_try(&err, "keys", p, NULL);
        CHECK(v == NULL && err.status == AIM_CONFIG);
        /* The same kid in two sources. */
        snprintf(buf, sizeof(buf), "{\"keys\":[%s]}", j);
        p = tu_write("one.jwks", buf, (size_t) -1);
        v = tu_verifier_try(&err, "keys", p, "keys", p, NULL);
        CHECK(v == NULL && err.status == AIM_CONFIG && tu_contains(err.message, "duplicate"));
        free(j);
    }
    v = tu_verifier_try(&err, "revoked", tu_path("missing.revoked"), NULL);
    CHECK(v == NULL && err.status == AIM_CONFIG);
    p = tu_write("bad.revoked", "revoke everything\n", (size_t) -1);
    v = tu_verifier_try(&err, "revoked", p, NULL);
    CHECK(v == NULL && err.status == AIM_CONFIG);
    p = tu_write("bad.policy", "permit all\n", (size_t) -1);
    v = tu_verifier_try(&err, "policy", p, NULL);
    CHECK(v == NULL && err.status == AIM_CONFIG);
    v = tu_verifier_try(&err, "policy", tu_path("missing.policy"), NULL);
    CHECK(v == NULL && err.status == AIM_CONFIG);

    t_section("config/reasons");
    {
        static const char *const names[] = {
            "ok", "no_token", "malformed", "unsupported_alg", "unknown_key",
            "bad_signature", "expired", "not_yet_valid", "bad_issuer", "bad_audience",
            "missing_claim", "bad_claim", "lifetime_too_long", "bad_type", "revoked",
            "insufficient_scope", "policy_denied", "low_trust", "bad_binding", "replay",
            "config_error", "internal_error",
        };
        CHECK_INT(sizeof(names) / sizeof(names[0]), AIM_STATUS_MAX);
        for (i = 0; i < AIM_STATUS_MAX; i++) {
            CHECK_STR(aim_reason((aim_status) i), names[i]);
        }
        CHECK_STR(aim_reason(AIM_STATUS_MAX), "internal_error");
        CHECK_STR(aim_reason((aim_status) -1), "internal_error");
        CHECK_STR(aim_reason((aim_status) 1000), "internal_error");
    }
}

/* Make dir/name a fresh directory-free path: tu_write needs a dir. */
static void
test_reload(void)
{
    aim_verifier *v;
    const char   *rp, *pp, *kp;
    char         *tok, *tok2, *jwks;
    aim_token    *t;

    t_section("reload/revocation");
    rp = tu_write("rt.revoked", "# nothing yet\n", (size_t) -1);
    v = tu_verifier("revoked", rp, NULL);
    aim_verifier_set_log(v, log_sink, NULL);
    tok = tu_token(NULL, "{\"jti\":\"jti-77\"}");
    CHECK_ST(verify(v, tok), AIM_OK, &err);
    CHECK_ST(verify(v, tok), AIM_OK, &err);            /* now cached */
    tu_write("rt.revoked", "jti jti-77\n", (size_t) -1);
    /* At most one stat per reload_interval (1 s): same second, no change. */
    CHECK_ST(verify(v, tok), AIM_OK, &err);
    tu_now += 1;
    CHECK_ST(verify(v, tok), AIM_REVOKED, &err);
    CHECK(tu_contains(err.message, "jti"));
    CHECK(log_level == AIM_LOG_INFO);
    /* A bad new file keeps the old list, and says why. */
    tu_write("rt.revoked", "jti jti-77\nthis is not a revocation\n", (size_t) -1);
    tu_now += 1;
    log_count = 0;
    CHECK_ST(verify(v, tok), AIM_REVOKED, &err);
    CHECK(log_count == 1 && log_level == AIM_LOG_ERR && tu_contains(log_msg, "rt.revoked"));
    /* Deleted: still the old list (fail closed). */
    unlink(rp);
    tu_now += 1;
    CHECK_ST(verify(v, tok), AIM_REVOKED, &err);
    /* Back with other content: the token is good again. */
    tu_write("rt.revoked", "agent someone-else\n", (size_t) -1);
    tu_now += 1;
    CHECK_ST(verify(v, tok), AIM_OK, &err);
    /* agent, kid, and an agent anywhere in a delegation chain. */
    tok2 = tu_token(NULL, "{\"act\":{\"sub\":\"orchestrator\",\"act\":{\"sub\":\"planner\"}}}");
    CHECK_ST(verify(v, tok2), AIM_OK, &err);
    tu_write("rt.revoked", "agent agent-1\n", (size_t) -1);
    tu_now += 1;
    CHECK_ST(verify(v, tok), AIM_REVOKED, &err);
    CHECK_ST(verify(v, tok2), AIM_REVOKED, &err);          /* the subject */
    tu_write("rt.revoked", "agent planner\n", (size_t) -1);
    tu_now += 1;
    CHECK_ST(verify(v, tok), AIM_OK, &err);
    CHECK_ST(verify(v, tok2), AIM_REVOKED, &err);          /* a prior actor */
    tu_write("rt.revoked", "agent orchestrator\n", (size_t) -1);
    tu_now += 1;
    CHECK_ST(verify(v, tok2), AIM_REVOKED, &err);          /* the current actor */
    tu_write("rt.revoked", "kid k-es256\n", (size_t) -1);
    tu_now += 1;
    CHECK_ST(verify(v, tok), AIM_REVOKED, &err);
    free(tok2);
    tok2 = tu_token_alg(AIM_ALG_EDDSA, NULL, NULL);
    CHECK_ST(verify(v, tok2), AIM_OK, &err);
    free(tok2);
    /* aim_recheck and aim_decide_token see revocations of held tokens. */
    tu_write("rt.revoked", "\n", (size_t) -1);
    tu_now += 1;
    t = NULL;
    CHECK_ST(aim_verify(v, tok, strlen(tok), &t, &err), AIM_OK, &err);
    if (t != NULL) {
        CHECK_ST(aim_recheck(v, t, &err), AIM_OK, &err);
        tu_write("rt.revoked", "jti jti-77\n", (size_t) -1);
        tu_now += 1;
        CHECK_ST(aim_recheck(v, t, &err), AIM_REVOKED, &err);
        CHECK_ST(tu_decide_token(v, t, NULL, &err), AIM_REVOKED, &err);
        aim_token_free(t);
    }
    aim_verifier_free(v);
    free(tok);

    t_section("reload/mtime-only");
    {
        /* Rewritten in place: same inode, same size, only the mtime moves. */
        struct timespec ts[2];
        FILE *fp;
        struct stat st0, st1;

        tu_write("rt.revoked", "jti jti-77\n", (size_t) -1);
        v = tu_verifier("revoked", rp, NULL);
        tok = tu_token(NULL, "{\"jti\":\"jti-77\"}");
        CHECK_ST(verify(v, tok), AIM_REVOKED, &err);
        stat(rp, &st0);
        fp = fopen(rp, "r+");
        fputs("jti jti-78\n", fp);
        fclose(fp);
        ts[0].tv_sec = ts[1].tv_sec = st0.st_mtim.tv_sec + 5;
        ts[0].tv_nsec = ts[1].tv_nsec = st0.st_mtim.tv_nsec;
        utimensat(AT_FDCWD, rp, ts, 0);
        stat(rp, &st1);
        CHECK(st1.st_ino == st0.st_ino && st1.st_size == st0.st_size);
        tu_now += 1;
        CHECK_ST(verify(v, tok), AIM_OK, &err);
        aim_verifier_free(v);
        free(tok);
    }

    t_section("reload/interval-0");
    tu_write("rt.revoked", "\n", (size_t) -1);
    v = tu_verifier("revoked", rp, "reload_interval", "0", NULL);
    tok = tu_token(NULL, NULL);
    CHECK_ST(verify(v, tok), AIM_OK, &err);
    tu_write("rt.revoked", "agent agent-1\n", (size_t) -1);
    CHECK_ST(verify(v, tok), AIM_REVOKED, &err);
    aim_verifier_free(v);
    free(tok);

    t_section("reload/keys");
    {
        char *a = tu_jwk(tu_key(AIM_ALG_ES256), AIM_ALG_ES256, "k-es256");
        char *b = tu_jwk(tu_key(AIM_ALG_ES384), AIM_ALG_ES384, "k-es384");
        jwks = malloc(strlen(a) + strlen(b) + 32);
        sprintf(jwks, "{\"keys\":[%s,%s]}", a, b);
        kp = tu_write("rt.jwks", jwks, (size_t) -1);
        v = tu_verifier("keys", kp, NULL);
        aim_verifier_set_log(v, log_sink, NULL);
        tok = tu_token(NULL, NULL);
        CHECK_ST(verify(v, tok), AIM_OK, &err);
        t = NULL;
        aim_verify(v, tok, strlen(tok), &t, &err);
        /* Rotation: the ES256 key is withdrawn. */
        sprintf(jwks, "{\"keys\":[%s]}", b);
        tu_write("rt.jwks", jwks, (size_t) -1);
        tu_now += 1;
        CHECK_ST(verify(v, tok), AIM_UNKNOWN_KEY, &err);    /* not from the cache */
        if (t != NULL) {
            /* The reason a fresh verification gives, for a held token too
             * (issue 16.3: "revoked" here was a wrong reason). */
            CHECK_ST(aim_recheck(v, t, &err), AIM_UNKNOWN_KEY, &err);
            CHECK(tu_contains(err.message, "k-es256"));
            aim_token_free(t);
        }
        /* The same kid now names another key: a token verified under the
         * old one does not survive a re-check. */
        {
            EVP_PKEY *k2 = tu_key_new(AIM_ALG_ES256, 0);
            char *a2 = tu_jwk(k2, AIM_ALG_ES256, "k-es256"), *set = malloc(strlen(a2) + strlen(b) + 32);
            aim_token *held = NULL;
            sprintf(jwks, "{\"keys\":[%s,%s]}", a, b);
            tu_write("rt.jwks", jwks, (size_t) -1);
            tu_now += 1;
            CHECK_ST(aim_verify(v, tok, strlen(tok), &held, &err), AIM_OK, &err);
            sprintf(set, "{\"keys\":[%s,%s]}", a2, b);
            tu_write("rt.jwks", set, (size_t) -1);
            tu_now += 1;
            if (held != NULL) {
                CHECK_ST(aim_recheck(v, held, &err), AIM_UNKNOWN_KEY, &err);
                aim_token_free(held);
            }
            CHECK_ST(verify(v, tok), AIM_BAD_SIGNATURE, &err);
            sprintf(jwks, "{\"keys\":[%s]}", b);
            tu_write("rt.jwks", jwks, (size_t) -1);
            tu_now += 1;
            free(set);
            free(a2);
            EVP_PKEY_free(k2);
        }
        /* A bad new file keeps the old keys, and says why. */
        tu_write("rt.jwks", "{\"keys\":[", (size_t) -1);
        tu_now += 1;
        log_count = 0;
        tok2 = tu_token_alg(AIM_ALG_ES384, NULL, NULL);
        CHECK_ST(verify(v, tok2), AIM_OK, &err);
        CHECK(log_count == 1 && log_level == AIM_LOG_ERR && tu_contains(log_msg, "rt.jwks"));
        /* ... and one that refuses a key (private material) likewise. */
        tu_write("rt.jwks", "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"a3\",\"x\":"
                 "\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\",\"y\":\"x_FEzRu9m36HLN"
                 "_tue659LNpXW6pCyStikYjKIWI5a0\",\"d\":\"jpsQnnGQmL-YBIffH1136cspYG6-0"
                 "iY7X1fCE9-E9LI\"}]}", (size_t) -1);
        tu_now += 1;
        log_count = 0;
        CHECK_ST(verify(v, tok2), AIM_OK, &err);
        CHECK(log_count == 1 && log_level == AIM_LOG_ERR);
        /* Deleted: the old keys stay. */
        unlink(kp);
        tu_now += 1;
        CHECK_ST(verify(v, tok2), AIM_OK, &err);
        /* The key returns. */
        sprintf(jwks, "{\"keys\":[%s,%s]}", a, b);
        tu_write("rt.jwks", jwks, (size_t) -1);
        tu_now += 1;
        CHECK_ST(verify(v, tok), AIM_OK, &err);
        aim_verifier_free(v);
        free(tok);
        free(tok2);
        free(a);
        free(b);
        free(jwks);
    }

    t_section("reload/policy");
    pp = tu_write("rt.policy", "allow agent-1 kb:read\n", (size_t) -1);
    v = tu_verifier("policy", pp, NULL);
    aim_verifier_set_log(v, log_sink, NULL);
    tok = tu_token(NULL, NULL);                 /* scope "kb:read kb:write" */
    t = NULL;
    CHECK_ST(aim_verify(v, tok, strlen(tok), &t, &err), AIM_OK, &err);
    if (t != NULL) {
        CHECK_STR(aim_token_scope(t), "kb:read");
        CHECK(aim_recheck(v, t, &err) == AIM_OK);
    }
    tu_write("rt.policy", "allow agent-1 kb:read kb:write\n", (size_t) -1);
    tu_now += 1;
    {
        aim_token *t2 = NULL;
        CHECK_ST(aim_verify(v, tok, strlen(tok), &t2, &err), AIM_OK, &err);
        if (t2 != NULL) {
            CHECK_STR(aim_token_scope(t2), "kb:read kb:write");
            aim_token_free(t2);
        }
    }
    tu_write("rt.policy", "allow agent-1 kb:write\n", (size_t) -1);
    tu_now += 1;
    if (t != NULL) {
        /* A token held since: its kb:read is no longer allowed. */
        CHECK_ST(aim_recheck(v, t, &err), AIM_POLICY_DENIED, &err);
        aim_token_free(t);
    }
    tu_write("rt.policy", "grant everything\n", (size_t) -1);
    tu_now += 1;
    log_count = 0;
    t = NULL;
    CHECK_ST(aim_verify(v, tok, strlen(tok), &t, &err), AIM_OK, &err);
    CHECK(log_count == 1 && log_level == AIM_LOG_ERR);
    if (t != NULL) {
        CHECK_STR(aim_token_scope(t), "kb:write");      /* the old policy */
        aim_token_free(t);
    }
    aim_verifier_free(v);
    free(tok);
}

/* The token with claims verifies, for agent (NULL: not checked), with
 * the effective scopes scope. */
static void
effective(aim_verifier *v, const char *claims, const char *agent,
          const char *scope)
{
    char      *tok = tu_token(NULL, claims);
    aim_token *t = NULL;

    CHECK_ST(aim_verify(v, tok, strlen(tok), &t, &err), AIM_OK, &err);
    if (t != NULL) {
        if (agent != NULL) {
            CHECK_STR(aim_token_agent(t), agent);
        }
        CHECK_STR(aim_token_scope(t), scope);
        aim_token_free(t);
    }
    free(tok);
}

static void
test_policy_intersection(void)
{
    aim_verifier *v;
    aim_token    *t;
    char         *tok;
    const char   *pp;
    const char   *need_admin[] = { "kb:admin" };
    const char   *need_read[] = { "kb:read" };
    aim_request   req = { .adapter = "test", .action = "GET", .resource = "/kb/1",
                          .scopes = need_admin, .nscopes = 1 };

    t_section("policy/intersection");
    pp = tu_write("i.policy",
                  "allow agent-1 kb:read kb:admin db:*\n"
                  "allow orchestrator kb:read\n"
                  "allow bot-* kb:*\n", (size_t) -1);
    v = tu_verifier("policy", pp, NULL);
    /* token: kb:read kb:write; policy: kb:read kb:admin db:* ->
     * kb:read only: kb:write is dropped, kb:admin is never added. */
    tok = tu_token(NULL, NULL);
    t = NULL;
    CHECK_ST(aim_verify(v, tok, strlen(tok), &t, &err), AIM_OK, &err);
    if (t != NULL) {
        CHECK_STR(aim_token_scope(t), "kb:read");
        CHECK_INT(aim_token_scope_count(t), 1);
        CHECK(!aim_token_has_scope(t, "kb:write"));
        CHECK(!aim_token_has_scope(t, "kb:admin"));
        CHECK(!aim_token_has_scope(t, "db:select"));
        CHECK_ST(aim_authorize(t, &req, &err), AIM_INSUFFICIENT_SCOPE, &err);
        aim_token_free(t);
    }
    free(tok);
    /* Patterns in the policy never become scopes. */
    tok = tu_token(NULL, "{\"scope\":\"db:select kb:admin db:*\"}");
    t = NULL;
    CHECK_ST(aim_verify(v, tok, strlen(tok), &t, &err), AIM_OK, &err);
    if (t != NULL) {
        CHECK_STR(aim_token_scope(t), "db:select kb:admin db:*");
        CHECK_ST(aim_authorize(t, &req, &err), AIM_OK, &err);
        aim_token_free(t);
    }
    free(tok);
    /* An agent no line names gets nothing. */
    tok = tu_token(NULL, "{\"sub\":\"stranger\"}");
    t = NULL;
    CHECK_ST(aim_verify(v, tok, strlen(tok), &t, &err), AIM_OK, &err);
    if (t != NULL) {
        aim_status s;
        CHECK_STR(aim_token_scope(t), "");
        req.scopes = need_read;
        s = aim_authorize(t, &req, &err);
        CHECKF(s == AIM_INSUFFICIENT_SCOPE || s == AIM_POLICY_DENIED, "%s", aim_reason(s));
        aim_token_free(t);
    }
    free(tok);
    /* Delegation: the policy applies to the current actor, not the sub. */
    effective(v, "{\"act\":{\"sub\":\"orchestrator\"}}", "orchestrator", "kb:read");
    effective(v, "{\"sub\":\"bot-3\",\"act\":{\"sub\":\"stranger\"}}", NULL, "");
    effective(v, "{\"sub\":\"bot-3\"}", NULL, "kb:read kb:write");
    aim_verifier_free(v);
    /* Without a policy the token's scopes stand as they are. */
    v = tu_verifier(NULL);
    effective(v, "{\"sub\":\"stranger\"}", NULL, "kb:read kb:write");
    aim_verifier_free(v);
}

static void
test_cache(void)
{
    aim_verifier *v;
    aim_token    *t1 = NULL, *t2 = NULL;
    char         *tok, *bad;
    const char   *rp;
    int64_t       saved = tu_now;

    t_section("cache/hits");
    v = tu_verifier(NULL);
    tok = tu_token(NULL, NULL);
    CHECK_ST(aim_verify(v, tok, strlen(tok), &t1, &err), AIM_OK, &err);
    CHECK_ST(aim_verify(v, tok, strlen(tok), &t2, &err), AIM_OK, &err);
    CHECKF(t1 != NULL && t1 == t2, "the second verification was not a cache hit");
    aim_token_free(t1);
    aim_token_free(t2);
    /* The same claims under another (valid) signature are another token. */
    t1 = t2 = NULL;
    {
        char *other = tu_token(NULL, NULL);          /* ECDSA: new signature */
        CHECK(strcmp(other, tok) != 0);
        CHECK_ST(aim_verify(v, other, strlen(other), &t1, &err), AIM_OK, &err);
        CHECK_ST(aim_verify(v, tok, strlen(tok), &t2, &err), AIM_OK, &err);
        CHECK(t1 != NULL && t1 != t2);
        aim_token_free(t1);
        aim_token_free(t2);
        free(other);
    }
    /* A tampered token is never served from the cache. */
    bad = strdup(tok);
    bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'A' ? 'B' : 'A';
    CHECK(verify(v, bad) != AIM_OK);
    CHECK(verify(v, bad) != AIM_OK);
    free(bad);
    t1 = NULL;
    {
        aim_status s = aim_verify(v, tok, strlen(tok) - 1, &t1, &err);
        CHECKF(s == AIM_BAD_SIGNATURE || s == AIM_MALFORMED, "%s", aim_reason(s));
    }

    t_section("cache/expiry");
    /* A cached entry never outlives exp (+ leeway). */
    tu_now = saved + 600 + 29;
    CHECK_ST(verify(v, tok), AIM_OK, &err);
    tu_now = saved + 600 + 30;
    CHECK_ST(verify(v, tok), AIM_EXPIRED, &err);
    tu_now = saved + 100000;
    CHECK_ST(verify(v, tok), AIM_EXPIRED, &err);
    /* nor predates nbf / iat when the clock goes back */
    tu_now = saved - 31;
    CHECK_ST(verify(v, tok), AIM_NOT_YET_VALID, &err);
    tu_now = saved;
    CHECK_ST(verify(v, tok), AIM_OK, &err);
    aim_verifier_free(v);
    free(tok);

    t_section("cache/off");
    v = tu_verifier("cache", "0", NULL);
    tok = tu_token(NULL, NULL);
    t1 = t2 = NULL;
    CHECK_ST(aim_verify(v, tok, strlen(tok), &t1, &err), AIM_OK, &err);
    CHECK_ST(aim_verify(v, tok, strlen(tok), &t2, &err), AIM_OK, &err);
    CHECK(t1 != NULL && t2 != NULL && t1 != t2);
    aim_token_free(t1);
    aim_token_free(t2);
    aim_verifier_free(v);
    free(tok);

    t_section("cache/flush-on-revocation");
    rp = tu_write("c.revoked", "\n", (size_t) -1);
    v = tu_verifier("revoked", rp, NULL);
    tok = tu_token(NULL, "{\"jti\":\"cached-jti\"}");
    t1 = t2 = NULL;
    CHECK_ST(aim_verify(v, tok, strlen(tok), &t1, &err), AIM_OK, &err);
    /* An unrelated change still flushes: the generation moves on. */
    tu_write("c.revoked", "jti other\n", (size_t) -1);
    tu_now += 1;
    CHECK_ST(aim_verify(v, tok, strlen(tok), &t2, &err), AIM_OK, &err);
    CHECK(t1 != NULL && t2 != NULL && t1 != t2);
    aim_token_free(t1);
    aim_token_free(t2);
    tu_write("c.revoked", "jti cached-jti\n", (size_t) -1);
    tu_now += 1;
    CHECK_ST(verify(v, tok), AIM_REVOKED, &err);
    aim_verifier_free(v);
    free(tok);

    t_section("cache/unit");
    {
        aim_cache     c;
        unsigned char h1[32], h2[32], h3[32];
        aim_token    *t;

        v = tu_verifier("cache", "0", NULL);
        tok = tu_token(NULL, NULL);
        t = NULL;
        aim_verify(v, tok, strlen(tok), &t, &err);
        CHECK(aim_cache_init(&c, 0) == 0 && c.slots == NULL);
        aim_cache_put(&c, h1, t, 1);                     /* off: no-op */
        CHECK(aim_cache_get(&c, h1, 1) == NULL);
        aim_cache_free(&c);
        CHECK(aim_cache_init(&c, 3) == 0 && c.mask == 3);
        aim_cache_free(&c);
        CHECK(aim_cache_init(&c, 1000) == 0 && c.mask == 1023);
        memset(h1, 1, 32);
        memcpy(h2, h1, 32);
        h2[31] ^= 1;                                     /* same slot, other hash */
        memset(h3, 2, 32);
        aim_cache_put(&c, h1, t, 7);
        CHECK(t->refs == 2);
        CHECK(aim_cache_get(&c, h1, 7) == t);
        CHECK(aim_cache_get(&c, h2, 7) == NULL);
        CHECK(aim_cache_get(&c, h3, 7) == NULL);
        CHECK(aim_cache_get(&c, h1, 8) == NULL);         /* generation moved */
        CHECK(t->refs == 1);
        CHECK(aim_cache_get(&c, h1, 7) == NULL);         /* and it is gone */
        aim_cache_put(&c, h1, t, 7);
        aim_cache_put(&c, h2, t, 7);                     /* replaces h1 */
        CHECK(t->refs == 2);
        CHECK(aim_cache_get(&c, h1, 7) == NULL);
        CHECK(aim_cache_get(&c, h2, 7) == t);
        aim_cache_flush(&c);
        CHECK(t->refs == 1);
        CHECK(aim_cache_get(&c, h2, 7) == NULL);
        aim_cache_put(&c, h3, t, 1);
        aim_cache_free(&c);
        CHECK(t->refs == 1);
        aim_token_free(t);
        aim_verifier_free(v);
        free(tok);
    }
    tu_now = saved;
}

/* Is line one JSON object, one line, without the token's parts? */
static json_t *
check_line(const char *line, const char *tok, int where)
{
    json_t       *j;
    json_error_t  je;

    if (line == NULL) {
        t_fail(__FILE__, where, "no audit line");
        return NULL;
    }
    if (strchr(line, '\n') != NULL || strchr(line, '\r') != NULL) {
        t_fail(__FILE__, where, "audit line has a line break: %s", line);
    }
    j = json_loads(line, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        t_fail(__FILE__, where, "audit line is not a JSON object: %s", line);
        json_decref(j);
        return NULL;
    }
    if (tok != NULL) {
        const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
        char part[48];
        if (strstr(line, tok) != NULL) t_fail(__FILE__, where, "audit line holds the token");
        if (d2 != NULL && strlen(d2 + 1) >= 8 && strstr(line, d2 + 1) != NULL)
            t_fail(__FILE__, where, "audit line holds the signature");
        if (d1 != NULL && d2 != NULL && d2 - d1 > 20) {
            snprintf(part, sizeof(part), "%.*s", 40, d1 + 1);
            if (strstr(line, part) != NULL) t_fail(__FILE__, where, "audit line holds the payload");
        }
    }
    t_pass(__FILE__, where, "audit line");
    return j;
}

static const char *
jstr(json_t *j, const char *k)
{
    return json_string_value(json_object_get(j, k));
}

static void
test_audit_and_decide(void)
{
    aim_verifier *v;
    aim_token    *t;
    char         *tok, *bad, line[4096], *file;
    const char   *need[] = { "kb:read" }, *need2[] = { "kb:admin", "kb:write" };
    aim_request   req = { .adapter = "nginx", .action = "GET", .resource = "/kb/\"42\"\n",
                          .client = "127.0.0.1", .scopes = need, .nscopes = 1 };
    json_t       *j;
    const char   *ap;
    size_t        n;
    aim_status    s;

    t_section("decide/authorize");
    v = tu_verifier(NULL);
    tok = tu_token(NULL, NULL);
    t = NULL;
    aim_verify(v, tok, strlen(tok), &t, &err);
    if (t != NULL) {
        aim_request r = req;
        CHECK_ST(aim_authorize(t, NULL, &err), AIM_OK, &err);
        r.nscopes = 0;
        CHECK_ST(aim_authorize(t, &r, &err), AIM_OK, &err);
        r = req;
        CHECK_ST(aim_authorize(t, &r, &err), AIM_OK, &err);
        r.scopes = need2;
        r.nscopes = 2;
        CHECK_ST(aim_authorize(t, &r, &err), AIM_INSUFFICIENT_SCOPE, &err);
        CHECK(tu_contains(err.message, "kb:admin"));
        r.any = 1;
        CHECK_ST(aim_authorize(t, &r, &err), AIM_OK, &err);
        r.nscopes = 1;
        CHECK_ST(aim_authorize(t, &r, &err), AIM_INSUFFICIENT_SCOPE, &err);
        {
            const char *withnull[] = { "kb:read", NULL };
            r.scopes = withnull;
            r.nscopes = 2;
            r.any = 0;
            CHECK_ST(aim_authorize(t, &r, &err), AIM_INSUFFICIENT_SCOPE, &err);
            r.any = 1;
            CHECK_ST(aim_authorize(t, &r, &err), AIM_OK, &err);
        }
        {
            const char *partial[] = { "kb:" };
            r.scopes = partial;
            r.nscopes = 1;
            r.any = 0;
            CHECK_ST(aim_authorize(t, &r, &err), AIM_INSUFFICIENT_SCOPE, &err);
        }
        aim_token_free(t);
    }

    t_section("decide/decide");
    aim_verifier_set_audit(v, tu_line_sink, NULL);
    tu_lines_reset();
    t = NULL;
    CHECK_ST(tu_decide(v, tok, strlen(tok), &req, &t, &err), AIM_OK, &err);
    CHECK(t != NULL && strcmp(aim_token_agent(t), "agent-1") == 0);
    aim_token_free(t);
    CHECK_INT(tu_nlines, 1);
    j = check_line(tu_lines[0], tok, __LINE__);
    if (j != NULL) {
        CHECK_STR(jstr(j, "decision"), "allow");
        CHECK_STR(jstr(j, "reason"), "ok");
        {
            char ts[32];
            time_t tt = (time_t) tu_now;
            struct tm tm;
            gmtime_r(&tt, &tm);
            strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
            CHECK_STR(jstr(j, "ts"), ts);
        }
        CHECK_STR(jstr(j, "adapter"), "nginx");
        CHECK_STR(jstr(j, "action"), "GET");
        CHECK_STR(jstr(j, "resource"), "/kb/\"42\"\n");
        CHECK_STR(jstr(j, "client"), "127.0.0.1");
        CHECK_STR(jstr(j, "agent"), "agent-1");
        CHECK_STR(jstr(j, "sub"), "agent-1");
        CHECK_STR(jstr(j, "iss"), TU_ISS);
        CHECK_STR(jstr(j, "jti"), "jti-1");
        CHECK_STR(jstr(j, "kid"), "k-es256");
        CHECK_STR(jstr(j, "scope"), "kb:read kb:write");
        CHECK_INT(json_integer_value(json_object_get(j, "exp")), tu_now + 600);
        CHECK(json_is_array(json_object_get(j, "required")));
        json_decref(j);
    }
    /* Denied for scope: the token still comes back, one line says why. */
    tu_lines_reset();
    req.scopes = need2;
    req.nscopes = 2;
    t = NULL;
    CHECK_ST(tu_decide(v, tok, strlen(tok), &req, &t, &err), AIM_INSUFFICIENT_SCOPE, &err);
    CHECK(t != NULL);
    aim_token_free(t);
    CHECK_INT(tu_nlines, 1);
    j = check_line(tu_lines[0], tok, __LINE__);
    if (j != NULL) {
        CHECK_STR(jstr(j, "decision"), "deny");
        CHECK_STR(jstr(j, "reason"), "insufficient_scope");
        CHECK_STR(jstr(j, "agent"), "agent-1");
        CHECK(tu_contains(jstr(j, "message"), "kb:admin"));
        json_decref(j);
    }
    /* An invalid token: no token back, one deny line without agent. */
    tu_lines_reset();
    bad = strdup(tok);
    bad[strlen(bad) - 3] = bad[strlen(bad) - 3] == 'x' ? 'y' : 'x';
    t = (aim_token *) 1;
    s = tu_decide(v, bad, strlen(bad), &req, &t, &err);
    CHECK(s == AIM_BAD_SIGNATURE || s == AIM_MALFORMED);
    CHECK(t == NULL);
    CHECK_INT(tu_nlines, 1);
    j = check_line(tu_lines[0], bad, __LINE__);
    if (j != NULL) {
        CHECK_STR(jstr(j, "decision"), "deny");
        CHECK(json_object_get(j, "agent") == NULL);
        json_decref(j);
    }
    free(bad);
    /* No token at all, and a junk one that could be echoed. */
    tu_lines_reset();
    t = NULL;
    CHECK_ST(tu_decide(v, NULL, 0, &req, &t, &err), AIM_NO_TOKEN, &err);
    bad = tu_token("{\"kid\":\"SECRET-KID-ECHO\"}", "{\"sub\":\"agent\\\"}\\n{\"}");
    CHECK_ST(tu_decide(v, bad, strlen(bad), &req, &t, &err), AIM_UNKNOWN_KEY, &err);
    CHECK_INT(tu_nlines, 2);
    json_decref(check_line(tu_lines[0], NULL, __LINE__));
    json_decref(check_line(tu_lines[1], bad, __LINE__));
    free(bad);
    /* A hostile sub that tries to break the line. */
    tu_lines_reset();
    bad = tu_token(NULL, "{\"sub\":\"a\\\",\\\"decision\\\":\\\"allow\"}");
    req.scopes = need;
    req.nscopes = 1;
    t = NULL;
    CHECK_ST(tu_decide(v, bad, strlen(bad), &req, &t, &err), AIM_OK, &err);
    aim_token_free(t);
    j = check_line(tu_nlines == 1 ? tu_lines[0] : NULL, bad, __LINE__);
    if (j != NULL) {
        CHECK_STR(jstr(j, "sub"), "a\",\"decision\":\"allow");
        json_decref(j);
    }
    free(bad);
    /* aim_decide_token and aim_note each write one line. */
    tu_lines_reset();
    t = NULL;
    aim_verify(v, tok, strlen(tok), &t, &err);
    if (t != NULL) {
        CHECK_ST(tu_decide_token(v, t, &req, &err), AIM_OK, &err);
        aim_note(v, &req, t, "session open");
        aim_note(v, NULL, NULL, "session closed");
        CHECK_INT(tu_nlines, 3);
        j = check_line(tu_nlines > 1 ? tu_lines[1] : NULL, tok, __LINE__);
        CHECK(j != NULL && strcmp(jstr(j, "message"), "session open") == 0
              && strcmp(jstr(j, "decision"), "note") == 0
              && strcmp(jstr(j, "agent"), "agent-1") == 0);
        json_decref(j);
        j = check_line(tu_nlines > 2 ? tu_lines[2] : NULL, tok, __LINE__);
        CHECK(j != NULL && strcmp(jstr(j, "reason"), "ok") == 0
              && strcmp(jstr(j, "decision"), "note") == 0);
        json_decref(j);
        tu_now += 700;
        CHECK_ST(tu_decide_token(v, t, &req, &err), AIM_EXPIRED, &err);
        tu_now -= 700;
        aim_token_free(t);
    }
    aim_verifier_free(v);
    tu_lines_reset();

    t_section("audit/file");
    ap = tu_path("audit.log");
    v = tu_verifier("audit", ap, NULL);
    for (n = 0; n < 3; n++) {
        t = NULL;
        tu_decide(v, tok, strlen(tok), &req, &t, &err);
        aim_token_free(t);
    }
    tu_decide(v, "x.y.z", 5, &req, &t, &err);
    aim_verifier_free(v);
    file = tu_read(ap, &n);
    CHECK(file != NULL);
    if (file != NULL) {
        char *p = file, *e;
        int lines = 0;
        while ((e = strchr(p, '\n')) != NULL) {
            *e = '\0';
            json_decref(check_line(p, tok, __LINE__));
            lines++;
            p = e + 1;
        }
        CHECK_INT(lines, 4);
        CHECK(*p == '\0');
        free(file);
    }

    t_section("audit/format");
    {
        aim_request r = { .adapter = "pam", .action = "login", .resource = "account root",
                          .client = "tty\x01\x7f\\" };
        char long_res[2000];
        n = aim_audit_format(line, sizeof(line), &r, NULL, AIM_REVOKED, 0, "m\"s\\g", tu_now);
        CHECK(n == strlen(line));
        j = check_line(line, NULL, __LINE__);
        if (j != NULL) {
            CHECK_STR(jstr(j, "client"), "tty\x01\x7f\\");
            CHECK_STR(jstr(j, "message"), "m\"s\\g");
            CHECK_STR(jstr(j, "reason"), "revoked");
            CHECK(json_object_get(j, "agent") == NULL);
            json_decref(j);
        }
        /* A field longer than 512 bytes is cut and marked. */
        memset(long_res, 'r', sizeof(long_res) - 1);
        long_res[sizeof(long_res) - 1] = '\0';
        r.resource = long_res;
        aim_audit_format(line, sizeof(line), &r, NULL, AIM_OK, 0, NULL, tu_now);
        j = check_line(line, NULL, __LINE__);
        if (j != NULL) {
            const char *res = jstr(j, "resource");
            CHECK(res != NULL && strlen(res) == 515 && strcmp(res + 512, "...") == 0);
            json_decref(j);
        }
        /* A buffer too small for the line: still one valid, marked line. */
        n = aim_audit_format(line, 200, &r, NULL, AIM_OK, 0, NULL, tu_now);
        CHECK(n < 200);
        j = check_line(line, NULL, __LINE__);
        if (j != NULL) {
            CHECK(json_is_true(json_object_get(j, "truncated")));
            json_decref(j);
        }
        CHECK(aim_audit_format(line, 10, &r, NULL, AIM_OK, 0, NULL, tu_now) == 0);
        /* Bytes that are not UTF-8 (an nginx URI is percent-decoded) must
         * not make the line unparseable: a SIEM would drop it. */
        r.resource = "/kb/\xff\xfe\xc3";
        aim_audit_format(line, sizeof(line), &r, NULL, AIM_OK, 0, NULL, tu_now);
        j = check_line(line, NULL, __LINE__);
        json_decref(j);
        /* C1 and bidirectional controls and line separators from an
         * adapter (a percent-decoded URI) are escaped: the line means the
         * same, and shows no raw control on a terminal. */
        r.resource = "/kb/\xc2\x9b" "31m\xe2\x80\xae\xe2\x81\xa6\xe2\x80\xa8" "x";
        aim_audit_format(line, sizeof(line), &r, NULL, AIM_OK, 0, NULL, tu_now);
        CHECK(strstr(line, "\xc2\x9b") == NULL && strstr(line, "\xe2\x80\xae") == NULL
              && strstr(line, "\xe2\x81\xa6") == NULL && strstr(line, "\xe2\x80\xa8") == NULL);
        CHECK(strstr(line, "\\u009b31m\\u202e\\u2066\\u2028x") != NULL);
        j = check_line(line, NULL, __LINE__);
        if (j != NULL) {
            CHECK_STR(jstr(j, "resource"), r.resource);
            json_decref(j);
        }
        /* The time stamp, formatted by hand: what strftime would give. */
        {
            static const int64_t when[] = { 0, 951782400, 1800000000, 4102444799LL,
                                            253402300799LL, 86399, 1709251199 };
            size_t w;

            for (w = 0; w < sizeof(when) / sizeof(when[0]); w++) {
                char       want[64];
                struct tm  tm;
                time_t     tt = (time_t) when[w];

                gmtime_r(&tt, &tm);
                strftime(want, sizeof(want), "{\"ts\":\"%Y-%m-%dT%H:%M:%SZ\",", &tm);
                aim_audit_format(line, sizeof(line), &r, NULL, AIM_OK, 0, NULL, when[w]);
                CHECKF(strncmp(line, want, strlen(want)) == 0, "%lld: %.40s, want %s",
                       (long long) when[w], line, want);
            }
        }
        /* UTF-8 passes through untouched. */
        r.resource = "/caf\xc3\xa9";
        aim_audit_format(line, sizeof(line), &r, NULL, AIM_OK, 0, NULL, tu_now);
        j = check_line(line, NULL, __LINE__);
        if (j != NULL) {
            CHECK_STR(jstr(j, "resource"), "/caf\xc3\xa9");
            json_decref(j);
        }
    }
    free(tok);
}

/*
 * What a host needs to run the verifier off its request path: reloads
 * from a timer only, the files to check as the worker's user, errors
 * that name their option, and a revocation list that cannot be re-read
 * refusing every token (never the old list).
 */
static void
test_host_refresh(void)
{
    aim_verifier *v;
    const char   *rp, *pp, *w;
    char         *tok;
    int           wr;

    t_section("reload/revocation unreadable fails closed");
    rp = tu_write("fc.revoked", "agent someone-else\n", (size_t) -1);
    v = tu_verifier("revoked", rp, NULL);
    aim_verifier_set_log(v, log_sink, NULL);
    tok = tu_token(NULL, "{\"jti\":\"jti-fc\"}");
    CHECK_ST(verify(v, tok), AIM_OK, &err);
    CHECK_ST(verify(v, tok), AIM_OK, &err);             /* cached */
    /* A directory where the list was: it cannot be read. */
    unlink(rp);
    CHECK(mkdir(rp, 0700) == 0);
    tu_now += 1;
    log_count = 0;
    CHECK_ST(verify(v, tok), AIM_REVOKED, &err);        /* the cache too */
    CHECK(tu_contains(err.message, "revocation list cannot be read"));
    CHECK(log_count == 1 && log_level == AIM_LOG_ERR
          && tu_contains(log_msg, "every token is refused"));
    tu_now += 1;
    CHECK_ST(verify(v, tok), AIM_REVOKED, &err);        /* still */
    rmdir(rp);
    tu_write("fc.revoked", "agent someone-else\n", (size_t) -1);
    tu_now += 1;
    CHECK_ST(verify(v, tok), AIM_OK, &err);             /* readable again */
    /* Content that does not parse is refused the same way. */
    tu_write("fc.revoked", "revoke everyone\n", (size_t) -1);
    tu_now += 1;
    CHECK_ST(verify(v, tok), AIM_REVOKED, &err);
    aim_verifier_free(v);

    t_section("reload/auto_refresh off: only the host's timer reloads");
    tu_write("fc.revoked", "\n", (size_t) -1);
    v = tu_verifier("revoked", rp, NULL);
    aim_verifier_set_auto_refresh(v, 0);
    CHECK_ST(verify(v, tok), AIM_OK, &err);
    tu_write("fc.revoked", "jti jti-fc\n", (size_t) -1);
    tu_now += 5;
    CHECK_ST(verify(v, tok), AIM_OK, &err);             /* not re-read */
    aim_verifier_refresh(v);
    CHECK_ST(verify(v, tok), AIM_REVOKED, &err);
    aim_verifier_set_auto_refresh(v, 1);
    tu_write("fc.revoked", "\n", (size_t) -1);
    tu_now += 5;
    CHECK_ST(verify(v, tok), AIM_OK, &err);             /* re-read again */
    aim_verifier_free(v);

    t_section("verifier: watched files");
    pp = tu_write("fc.policy", "allow agent-1 kb:read\n", (size_t) -1);
    v = tu_verifier("revoked", rp, "policy", pp, "state", tu_path("fc.state"), NULL);
    w = aim_verifier_watched(v, 0, &wr);
    CHECK(w != NULL && wr == 0 && strcmp(w, tu_std_jwks()) == 0);
    w = aim_verifier_watched(v, 1, &wr);
    CHECK_STR(w, rp);
    w = aim_verifier_watched(v, 2, &wr);
    CHECK_STR(w, pp);
    w = aim_verifier_watched(v, 3, &wr);
    CHECK(w != NULL && wr == 1 && tu_contains(w, "fc.state"));
    CHECK(aim_verifier_watched(v, 4, &wr) == NULL);
    aim_verifier_free(v);

    t_section("verifier: errors name their option");
    v = tu_verifier_try(&err, "revoked", tu_path("missing.revoked"), NULL);
    CHECK(v == NULL && err.option != NULL && strcmp(err.option, "revoked") == 0);
    v = tu_verifier_try(&err, "policy", tu_path("missing.policy"), NULL);
    CHECK(v == NULL && err.option != NULL && strcmp(err.option, "policy") == 0);
    v = tu_verifier_try(&err, "keys", tu_path("missing.jwks"), NULL);
    CHECK(v == NULL && err.option != NULL && strcmp(err.option, "keys") == 0);
    free(tok);
}

/*
 * aim_json_escape, which adapters answer in JSON with: what it measures
 * is what it writes, and what it writes is a JSON string's content that
 * holds nothing raw.
 */
static void
test_json_escape(void)
{
    static const struct {
        const char *in;
        size_t      len;
        const char *out;
    } cases[] = {
        { "plain text", 10, "plain text" },
        { "", 0, "" },
        { "a\"b\\c", 5, "a\\\"b\\\\c" },
        { "a\r\nb\x7f", 5, "a\\u000d\\u000ab\\u007f" },
        { "nul\0after", 9, "nul\\u0000after" },
        { "\xff\xfe\xc3", 3, "\\ufffd\\ufffd\\ufffd" },
        { "caf\xc3\xa9", 5, "caf\xc3\xa9" },
        { "\xc2\x9b" "31m\xe2\x80\xae\xe2\x81\xa6\xe2\x80\xa8x", 15,
          "\\u009b31m\\u202e\\u2066\\u2028x" },
    };
    char   buf[128];
    size_t i, n;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        n = aim_json_escape(NULL, cases[i].in, cases[i].len);
        CHECKF(n == strlen(cases[i].out), "case %zu: measured %zu", i, n);
        CHECKF(n <= 6 * cases[i].len, "case %zu: %zu bytes for %zu", i, n, cases[i].len);
        memset(buf, '#', sizeof(buf));
        CHECK(aim_json_escape(buf, cases[i].in, cases[i].len) == n);
        CHECKF(memcmp(buf, cases[i].out, n) == 0 && buf[n] == '#',
               "case %zu: %.*s", i, (int) n, buf);
    }
    {
        /* every byte value, escaped and quoted, is one JSON string */
        char          in[256], *out;
        json_t       *j;
        json_error_t  e;

        for (i = 0; i < 256; i++) {
            in[i] = (char) i;
        }
        n = aim_json_escape(NULL, in, sizeof(in));
        out = malloc(n + 3);
        CHECK(out != NULL);
        if (out != NULL) {
            out[0] = '"';
            CHECK(aim_json_escape(out + 1, in, sizeof(in)) == n);
            out[n + 1] = '"';
            out[n + 2] = '\0';
            j = json_loads(out, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
            CHECKF(json_is_string(j), "not a JSON string: %s", e.text);
            json_decref(j);
            free(out);
        }
    }
}

void
test_runtime(void)
{
    test_config();
    test_reload();
    test_host_refresh();
    test_policy_intersection();
    test_cache();
    test_audit_and_decide();
    test_json_escape();
}
