/*
 * test_decide.c -- the one decision path (decide.c): which decisions
 * feed the baseline and which are audited, for every kind of decision;
 * key binding by methods other than DPoP; the option table and the host
 * configuration file (options.c).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "internal.h"
#include "state.h"
#include "t.h"
#include "tu.h"
#include "units.h"

static const char *const need_read[] = { "kb:read" };
static const char *const need_admin[] = { "kb:admin" };


/*
 * One decision, and what it left behind: the status, whether an audit
 * line was written, and by how much the agent's events and denials grew.
 */
typedef struct {
    aim_status status;
    int        lines;
    long long  events, denied;
    double     trust;
} outcome;

static outcome
run(aim_verifier *v, const aim_request *r, const aim_token *held)
{
    outcome      o;
    aim_decision d;
    tu_counts    before = tu_counts_of(v, "agent-1"), after;

    tu_lines_reset();
    o.status = held != NULL ? aim_decide_token(v, held, r, &d)
                            : aim_decide(v, r, &d);
    after = tu_counts_of(v, "agent-1");
    o.lines = tu_nlines;
    o.events = after.events - before.events;
    o.denied = after.denied - before.denied;
    o.trust = d.trust;
    aim_decision_clear(&d);
    return o;
}

static void
test_baseline_rule(void)
{
    aim_verifier *v;
    char         *tok, *expired, *bad;
    aim_token    *held = NULL;
    aim_error     err;
    aim_request   r;
    outcome       o;

    t_section("decide/baseline-rule");
    unlink(tu_path("decide.state"));
    v = tu_verifier("state", tu_path("decide.state"), "revoked",
                    tu_write("decide.rev", "# none\n", (size_t) -1), NULL);
    aim_verifier_set_audit(v, tu_line_sink, NULL);
    tok = tu_token(NULL, NULL);
    expired = tu_token(NULL, "{\"exp\":1700000001,\"iat\":1699999000}");
    bad = strdup(tok);
    /* Another base64url letter in the signature: flipping a bit of the
     * character could leave the alphabet ('A' ^ 1 is '@'), a malformed
     * token instead of a bad signature, one run in ten. */
    bad[strlen(bad) - 3] = bad[strlen(bad) - 3] == 'A' ? 'B' : 'A';

    /* An allow: audited, one event, no denial, trust reported. */
    r = tu_request(tok, need_read);
    o = run(v, &r, NULL);
    CHECK_ST(o.status, AIM_OK, NULL);
    CHECK_INT(o.lines, 1);
    CHECK_INT(o.events, 1);
    CHECK_INT(o.denied, 0);
    CHECK(o.trust >= 0);

    /* Too little scope: a probe with a valid token, counted. */
    r = tu_request(tok, need_admin);
    o = run(v, &r, NULL);
    CHECK_ST(o.status, AIM_INSUFFICIENT_SCOPE, NULL);
    CHECK_INT(o.lines, 1);
    CHECK_INT(o.events, 1);
    CHECK_INT(o.denied, 1);

    /* The host's own denial (a role escape): counted like a probe. */
    r = tu_request(tok, need_read);
    r.host_status = AIM_POLICY_DENIED;
    r.host_message = "role escape";
    o = run(v, &r, NULL);
    CHECK_ST(o.status, AIM_POLICY_DENIED, NULL);
    CHECK_INT(o.lines, 1);
    CHECK_INT(o.denied, 1);
    CHECK(tu_nlines == 1 && tu_contains(tu_lines[0], "role escape"));

    /* A token bound to a key, presented as bearer: counted. */
    {
        char *b = tu_token(NULL, "{\"cnf\":{\"jkt\":"
                           "\"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I\"}}");
        r = tu_request(b, need_read);
        o = run(v, &r, NULL);
        CHECK_ST(o.status, AIM_BAD_BINDING, NULL);
        CHECK_INT(o.denied, 1);
        free(b);
    }

    /* Tokens that do not verify name no agent: audited, nothing fed. */
    r = tu_request(bad, need_read);
    o = run(v, &r, NULL);
    CHECK_ST(o.status, AIM_BAD_SIGNATURE, NULL);
    CHECK_INT(o.lines, 1);
    CHECK_INT(o.events, 0);
    r = tu_request(NULL, need_read);
    o = run(v, &r, NULL);
    CHECK_ST(o.status, AIM_NO_TOKEN, NULL);
    CHECK_INT(o.lines, 1);
    CHECK_INT(o.events, 0);
    r = tu_request(expired, need_read);
    o = run(v, &r, NULL);
    CHECK_ST(o.status, AIM_EXPIRED, NULL);
    CHECK_INT(o.events, 0);

    /* A session's held token: the same rule. */
    CHECK_ST(aim_verify(v, tok, strlen(tok), &held, &err), AIM_OK, &err);
    r = tu_request(NULL, need_read);
    o = run(v, &r, held);
    CHECK_ST(o.status, AIM_OK, NULL);
    CHECK_INT(o.events, 1);
    r = tu_request(NULL, need_admin);
    o = run(v, &r, held);
    CHECK_ST(o.status, AIM_INSUFFICIENT_SCOPE, NULL);
    CHECK_INT(o.denied, 1);
    /* A re-check inside an audited session: allows are not written,
     * denials are, and both are counted. */
    r = tu_request(NULL, need_read);
    r.audit = AIM_AUDIT_DENIALS;
    o = run(v, &r, held);
    CHECK_ST(o.status, AIM_OK, NULL);
    CHECK_INT(o.lines, 0);
    CHECK_INT(o.events, 1);
    r.scopes = need_admin;
    o = run(v, &r, held);
    CHECK_ST(o.status, AIM_INSUFFICIENT_SCOPE, NULL);
    CHECK_INT(o.lines, 1);
    CHECK_INT(o.denied, 1);
    /* A held token revoked since: refused and audited, not counted (the
     * operator's act is not the agent's). */
    tu_write("decide.rev", "jti jti-1\n", (size_t) -1);
    tu_now += 2;
    r = tu_request(NULL, need_read);
    o = run(v, &r, held);
    CHECK_ST(o.status, AIM_REVOKED, NULL);
    CHECK_INT(o.lines, 1);
    CHECK_INT(o.events, 0);
    tu_write("decide.rev", "# none\n", (size_t) -1);
    tu_now += 2;
    /* No token held at all. */
    CHECK_ST(tu_decide_token_status(v, NULL, &r), AIM_NO_TOKEN, NULL);

    /* Identification: no line, nothing fed, the token returned. */
    {
        aim_decision d;
        tu_counts    before = tu_counts_of(v, "agent-1"), after;

        tu_lines_reset();
        r = tu_request(tok, need_admin);
        CHECK_ST(aim_identify(v, &r, &d), AIM_OK, NULL);
        CHECK(d.token != NULL && strcmp(aim_token_agent(d.token), "agent-1") == 0);
        aim_decision_clear(&d);
        CHECK(d.token == NULL);
        after = tu_counts_of(v, "agent-1");
        CHECK_INT(tu_nlines, 0);
        CHECK_INT(after.events - before.events, 0);
    }

    /* A note: one line, "note", nothing fed. */
    {
        tu_counts before = tu_counts_of(v, "agent-1"), after;

        tu_lines_reset();
        aim_note(v, &r, held, "session closed");
        after = tu_counts_of(v, "agent-1");
        CHECK_INT(tu_nlines, 1);
        CHECK(tu_nlines == 1 && tu_contains(tu_lines[0], "\"decision\":\"note\""));
        CHECK_INT(after.events - before.events, 0);
    }
    aim_token_free(held);
    tu_lines_reset();
    aim_verifier_free(v);
    free(tok);
    free(expired);
    free(bad);
}

/*
 * Issue 16.1: a prober whose trust fell keeps being counted as a prober.
 * Refusals for scope stay insufficient_scope (never low_trust, which
 * carried no penalty), so trust keeps falling instead of resting at the
 * threshold, and granted requests stay refused.
 */
static void
test_probing_keeps_costing(void)
{
    aim_verifier *v;
    char         *tok;
    aim_request   r;
    outcome       o;
    int           i, low = 0, scope = 0;
    double        last = 100;

    t_section("decide/probing");
    unlink(tu_path("probe.state"));
    v = tu_verifier("state", tu_path("probe.state"), NULL);
    tok = tu_token(NULL, NULL);
    for (i = 0; i < 50; i++) {
        tu_now += 1;
        r = tu_request(tok, need_admin);
        o = run(v, &r, NULL);
        scope += o.status == AIM_INSUFFICIENT_SCOPE;
        low += o.status == AIM_LOW_TRUST;
        last = o.trust;
    }
    CHECK_INT(scope, 50);
    CHECK_INT(low, 0);
    CHECKF(last < 20, "trust after 50 probes is %.1f, want < 20", last);
    /* Granted requests are refused now, and 14 quiet seconds do not
     * bring the agent back. */
    tu_now += 14;
    r = tu_request(tok, need_read);
    o = run(v, &r, NULL);
    CHECK_ST(o.status, AIM_LOW_TRUST, NULL);
    aim_verifier_free(v);
    free(tok);
}

/*
 * AIM_OBSERVE_READ: a later step of an event already recorded (PAM
 * account and session after auth) records nothing, allowed or refused,
 * and still refuses an allow when trust has fallen.
 */
static void
test_observe_read(void)
{
    aim_verifier *v;
    char         *tok;
    aim_token    *held = NULL;
    aim_error     err;
    aim_request   r;
    outcome       o;
    int           i;

    t_section("decide/observe-read");
    unlink(tu_path("read.state"));
    v = tu_verifier("state", tu_path("read.state"), NULL);
    aim_verifier_set_audit(v, tu_line_sink, NULL);
    tok = tu_token(NULL, NULL);
    r = tu_request(tok, need_read);
    o = run(v, &r, NULL);
    CHECK_ST(o.status, AIM_OK, NULL);
    CHECK_INT(o.events, 1);

    CHECK_ST(aim_verify(v, tok, strlen(tok), &held, &err), AIM_OK, &err);
    r = tu_request(NULL, need_read);
    r.observe = AIM_OBSERVE_READ;
    o = run(v, &r, held);
    CHECK_ST(o.status, AIM_OK, NULL);
    CHECK_INT(o.lines, 1);
    CHECK_INT(o.events, 0);
    CHECK(o.trust >= 0);
    r = tu_request(NULL, need_admin);
    r.observe = AIM_OBSERVE_READ;
    o = run(v, &r, held);
    CHECK_ST(o.status, AIM_INSUFFICIENT_SCOPE, NULL);
    CHECK_INT(o.lines, 1);
    CHECK_INT(o.events, 0);
    CHECK_INT(o.denied, 0);
    /* The same by aim_decide (a login verified again in another process). */
    r = tu_request(tok, need_read);
    r.observe = AIM_OBSERVE_READ;
    o = run(v, &r, NULL);
    CHECK_ST(o.status, AIM_OK, NULL);
    CHECK_INT(o.events, 0);

    /* Trust fallen since the login: the later step is refused. */
    for (i = 0; i < 50; i++) {
        tu_now += 1;
        r = tu_request(tok, need_admin);
        run(v, &r, NULL);
    }
    r = tu_request(NULL, need_read);
    r.observe = AIM_OBSERVE_READ;
    o = run(v, &r, held);
    CHECK_ST(o.status, AIM_LOW_TRUST, NULL);
    CHECK_INT(o.events, 0);
    aim_token_free(held);
    aim_verifier_free(v);
    tu_lines_reset();
    free(tok);
}

/* cnf methods: x5t#S256 checked against the TLS layer's certificate;
 * any other refused everywhere. */
static void
test_cnf_methods(void)
{
    aim_verifier  *v;
    char          *tok, *x5t;
    unsigned char  cert[32], other[32];
    aim_request    r;
    aim_decision   d;
    char           claims[200];

    t_section("decide/cnf");
    v = tu_verifier(NULL);
    memset(cert, 0x42, sizeof(cert));
    memset(other, 0x43, sizeof(other));
    x5t = tu_b64(cert, sizeof(cert));
    snprintf(claims, sizeof(claims), "{\"cnf\":{\"x5t#S256\":\"%s\"}}", x5t);
    tok = tu_token(NULL, claims);
    r = tu_request(tok, need_read);
    CHECK_ST(aim_decide(v, &r, &d), AIM_BAD_BINDING, NULL);
    CHECK(tu_contains(d.message, "certificate"));
    aim_decision_clear(&d);
    r.cert_sha256 = other;
    CHECK_ST(tu_decide_status(v, &r), AIM_BAD_BINDING, NULL);
    r.cert_sha256 = cert;
    CHECK_ST(tu_decide_status(v, &r), AIM_OK, NULL);
    free(tok);

    /* cnf.jwk, cnf.jku, cnf.kid: no adapter checks them: refused, never
     * a bearer token. */
    {
        static const char *const others[] = {
            "{\"cnf\":{\"jwk\":{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AA\"}}}",
            "{\"cnf\":{\"jku\":\"https://k.test/jwks\"}}",
            "{\"cnf\":{\"kid\":\"k1\"}}",
            "{\"cnf\":{\"x5t\":\"abc\"}}",
        };
        size_t i;

        for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
            tok = tu_token(NULL, others[i]);
            r = tu_request(tok, need_read);
            r.cert_sha256 = cert;
            CHECK_ST(aim_decide(v, &r, &d), AIM_BAD_BINDING, NULL);
            CHECK(tu_contains(d.message, "cannot check"));
            aim_decision_clear(&d);
            free(tok);
        }
    }
    /* A malformed x5t#S256 is a bad claim. */
    tok = tu_token(NULL, "{\"cnf\":{\"x5t#S256\":\"short\"}}");
    r = tu_request(tok, need_read);
    CHECK_ST(tu_decide_status(v, &r), AIM_BAD_CLAIM, NULL);
    free(tok);
    free(x5t);
    aim_verifier_free(v);
}

static void
test_options(void)
{
    aim_config       *cfg;
    aim_error         err;
    size_t            n, i;
    const aim_option *o = aim_options(&n);

    t_section("decide/options");
    CHECK_INT(n, AIM_OPT_COUNT);
    for (i = 0; i < n; i++) {
        CHECK(aim_option_find(o[i].name) == &o[i]);
        CHECK(o[i].doc != NULL && o[i].args != NULL && o[i].min_args >= 1);
    }
    CHECK(aim_option_find("nope") == NULL);
    {
        /* The compile-time list adapters expand names the same options
         * in the same order. */
#define NAME_OF(x) #x,
        static const char *const names[] = { AIM_OPTION_NAMES(NAME_OF) };
#undef NAME_OF
        CHECK_INT(sizeof(names) / sizeof(names[0]), n);
        for (i = 0; i < n && i < sizeof(names) / sizeof(names[0]); i++) {
            CHECK_STR(names[i], o[i].name);
        }
    }

    cfg = aim_config_new();
    /* A failing option is named in its own field. */
    CHECK_ST(aim_config_set(cfg, "leeway", "-1", &err), AIM_CONFIG, &err);
    CHECK_STR(err.option, "leeway");
    CHECK_ST(aim_config_set(cfg, "trust_min", "101", &err), AIM_CONFIG, &err);
    CHECK_STR(err.option, "trust_min");
    CHECK_ST(aim_config_set(cfg, "dpop_max_age", "3601", &err), AIM_CONFIG, &err);
    CHECK_STR(err.option, "dpop_max_age");
    CHECK_ST(aim_config_set(cfg, "dpop_max_age", "600", &err), AIM_OK, &err);
    CHECK_ST(aim_config_set(cfg, "nope", "1", &err), AIM_CONFIG, &err);
    CHECK(err.option == NULL && tu_contains(err.message, "nope"));
    /* Paths with spaces: one value, whole. */
    CHECK_ST(aim_config_set(cfg, "revoked", "/tmp/a b/revoked", &err), AIM_OK, &err);
    CHECK_STR(cfg->revoked, "/tmp/a b/revoked");
    {
        const char *args[] = { "https://i.test", "/etc/a b/jwks.json" };
        CHECK_ST(aim_config_set_args(cfg, "keys", args, 2, &err), AIM_OK, &err);
        CHECK_STR(cfg->keys[0], "/etc/a b/jwks.json");
        CHECK_STR(cfg->key_issuers[0], "https://i.test");
        CHECK_ST(aim_config_set_args(cfg, "audience", args, 2, &err), AIM_CONFIG, &err);
        CHECK_STR(err.option, "audience");
    }
    /* Control characters are refused in every value. */
    CHECK_ST(aim_config_set(cfg, "audience", "a\nb", &err), AIM_CONFIG, &err);
    /* Two copies of one status list: refused (which would answer?). */
    CHECK_ST(aim_config_set(cfg, "status_list", "https://s.test/1 /tmp/a", &err), AIM_OK, &err);
    CHECK_ST(aim_config_set(cfg, "status_list", "https://s.test/1 /tmp/b", &err), AIM_CONFIG, &err);
    CHECK(tu_contains(err.message, "twice"));
    aim_config_free(cfg);
    /* A verifier that cannot load a file names its option too. */
    CHECK(tu_verifier_try(&err, "revoked", "/nonexistent/revoked", NULL) == NULL);
    CHECK_STR(err.option, "revoked");
    CHECK(tu_verifier_try(&err, "policy", "/nonexistent/policy", NULL) == NULL);
    CHECK_STR(err.option, "policy");
}

static void
test_config_file(void)
{
    aim_config   *cfg;
    aim_verifier *v;
    aim_error     err;
    char          text[2048];

    t_section("decide/config-file");
    snprintf(text, sizeof(text),
             "# the host's AIM configuration\n"
             "keys " TU_ISS " %s\n"
             "issuer " TU_ISS "   # inline comment\n"
             "audience other-api\n"
             "\n"
             "leeway 10\n"
             "revoked \"%s\"\n"
             "types aim+jwt application/at+jwt\n",
             tu_std_jwks(), tu_write("with space.rev", "# none\n", (size_t) -1));
    tu_write("aim.conf", text, (size_t) -1);

    cfg = aim_config_new();
    /* Set directly before the file is read: the direct value wins. */
    CHECK_ST(aim_config_set(cfg, "audience", TU_AUD, &err), AIM_OK, &err);
    CHECK_ST(aim_config_load(cfg, tu_path("aim.conf"), &err), AIM_OK, &err);
    CHECK_STR(cfg->audience, TU_AUD);
    CHECK_INT(cfg->leeway, 10);
    CHECK(cfg->revoked != NULL && tu_contains(cfg->revoked, "with space.rev"));
    CHECK_INT(cfg->ntypes, 2);
    /* ... and after it: the direct value replaces the file's, even for
     * repeated options. */
    CHECK_ST(aim_config_set(cfg, "issuer", "https://direct.test", &err), AIM_OK, &err);
    CHECK_INT(cfg->nissuers, 1);
    CHECK_STR(cfg->issuers[0], "https://direct.test");
    CHECK_ST(aim_config_set(cfg, "issuer", TU_ISS, &err), AIM_OK, &err);
    CHECK_INT(cfg->nissuers, 2);
    v = aim_verifier_new(cfg, &err);
    CHECKF(v != NULL, "verifier: %s", err.message);
    if (v != NULL) {
        char *tok = tu_token(NULL, NULL);
        CHECK_ST(tu_verify(v, tok, &err), AIM_OK, &err);
        free(tok);
        aim_verifier_free(v);
    }
    aim_config_free(cfg);

    /* Errors name the file, the line and the option. */
    {
        static const struct {
            const char *text;
            unsigned    line;
            const char *option;
            const char *says;
        } bad[] = {
            { "leeway 10\nleeway ten\n", 2, "leeway", "whole number" },
            { "# c\n\nfrobnicate 1\n", 3, NULL, "unknown option" },
            { "revoked \"/tmp/x\n", 1, NULL, "unterminated" },
            { "revoked /tmp/x\"y\n", 1, NULL, "quote" },
            { "audience\n", 1, "audience", "takes 1 value" },
            { "keys a b c\n", 1, "keys", "takes 1 to 2" },
        };
        size_t i;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            cfg = aim_config_new();
            tu_write("bad.conf", bad[i].text, (size_t) -1);
            CHECK_ST(aim_config_load(cfg, tu_path("bad.conf"), &err), AIM_CONFIG, &err);
            CHECK_INT(err.line, bad[i].line);
            CHECK_STR(err.option, bad[i].option);
            CHECKF(tu_contains(err.message, "bad.conf:") && tu_contains(err.message, bad[i].says),
                   "case %zu: message \"%s\"", i, err.message);
            aim_config_free(cfg);
        }
    }
    cfg = aim_config_new();
    CHECK_ST(aim_config_load(cfg, tu_path("missing.conf"), &err), AIM_CONFIG, &err);
    CHECK(tu_contains(err.message, "missing.conf"));
    aim_config_free(cfg);
}

static void
test_exports(void)
{
    t_section("decide/exports");
    CHECK(aim_scope_valid("kb:read", 7));
    CHECK(!aim_scope_valid("kb read", 7));
    CHECK(!aim_scope_valid("", 0));
    CHECK(!aim_scope_valid("a\"b", 3));
    CHECK(strstr(AIM_ALGORITHMS, "EdDSA") != NULL);
}

/* The sealed hand-off: a parent opens what its child sealed; nothing else
 * opens it. */
static void
test_seal(void)
{
    static const char secret[] = "user\0token.payload.sig";
    int    ctx = 1, other = 2;
    char  *text, *copy;
    void  *open_;
    size_t len = 0;
    int    fds[2];
    pid_t  pid;

    t_section("decide/seal");
    text = aim_seal(&ctx, sizeof(ctx), secret, sizeof(secret));
    CHECK(text != NULL && strstr(text, "token") == NULL);
    open_ = aim_unseal(&ctx, sizeof(ctx), text, &len);
    CHECK(open_ != NULL && len == sizeof(secret) && memcmp(open_, secret, len) == 0);
    free(open_);
    /* Another context, a changed byte, a cut text: nothing. */
    CHECK(aim_unseal(&other, sizeof(other), text, &len) == NULL);
    copy = strdup(text);
    copy[20] = copy[20] == 'A' ? 'B' : 'A';
    CHECK(aim_unseal(&ctx, sizeof(ctx), copy, &len) == NULL);
    copy[20] = text[20];
    copy[strlen(copy) - 4] = '\0';
    CHECK(aim_unseal(&ctx, sizeof(ctx), copy, &len) == NULL);
    CHECK(aim_unseal(&ctx, sizeof(ctx), "", &len) == NULL);
    CHECK(aim_seal(&ctx, sizeof(ctx), secret, 0) == NULL);
    free(copy);
    free(text);
    /* A child seals, the parent opens (the key predates the fork). */
    if (pipe(fds) == 0 && (pid = fork()) >= 0) {
        if (pid == 0) {
            char *t = aim_seal(&ctx, sizeof(ctx), secret, sizeof(secret));
            ssize_t w = t != NULL ? write(fds[1], t, strlen(t)) : 0;
            _exit(w > 0 ? 0 : 1);
        }
        {
            char    buf[512];
            ssize_t n;
            int     st;

            close(fds[1]);
            n = read(fds[0], buf, sizeof(buf) - 1);
            close(fds[0]);
            waitpid(pid, &st, 0);
            buf[n > 0 ? n : 0] = '\0';
            open_ = aim_unseal(&ctx, sizeof(ctx), buf, &len);
            CHECK(open_ != NULL && len == sizeof(secret));
            free(open_);
        }
    }
}

void
test_decide(void)
{
    test_seal();
    test_baseline_rule();
    test_probing_keeps_costing();
    test_observe_read();
    test_cnf_methods();
    test_options();
    test_config_file();
    test_exports();
}
