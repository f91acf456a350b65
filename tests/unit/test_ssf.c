/*
 * test_ssf.c -- shared signals (ssf.c, publish.c, journal.c, signer.c):
 * SETs of every event and subject format and their effect on decisions
 * through the state file, as another process sees it; every way a SET
 * is refused, each leaving the state as it was; the journal's replay
 * table; this host's own signals, signed, polled and received by another
 * host.
 */
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/pem.h>
#include "internal.h"
#include "journal.h"
#include "jws.h"
#include "signer.h"
#include "ssf.h"
#include "state.h"
#include "t.h"
#include "tu.h"
#include "units.h"

#define TX_ISS   "https://idp.test"
#define TX2_ISS  "https://host-b.test"
#define RX_AUD   "https://host-a.test/ssf"
#define AGENT_X  "spiffe://corp.test/agent-x"
#define AGENT_Y  "spiffe://corp.test/agent-y"
#define CAEP     "https://schemas.openid.net/secevent/caep/event-type/"
#define RISC     "https://schemas.openid.net/secevent/risc/event-type/"
#define SSFE     "https://schemas.openid.net/secevent/ssf/event-type/"
#define SUB_X    "{\"format\":\"uri\",\"uri\":\"" AGENT_X "\"}"
#define HDR      "{\"alg\":\"ES256\",\"typ\":\"secevent+jwt\",\"kid\":\"tx-1\"}"

static EVP_PKEY      *tx_key, *tx_ed_key, *other_key;
static const char    *tx_jwks;
static int            jti_n;
static aim_ssf_result res;
static char           last_msg[256];

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static void
setup_keys(void)
{
    char  buf[4096];
    char *a, *b;

    if (tx_key != NULL) {
        return;
    }
    tx_key = tu_key_new(AIM_ALG_ES256, 0);
    tx_ed_key = tu_key_new(AIM_ALG_EDDSA, 0);
    other_key = tu_key_new(AIM_ALG_ES256, 0);
    a = tu_jwk(tx_key, AIM_ALG_ES256, "tx-1");
    b = tu_jwk(tx_ed_key, AIM_ALG_EDDSA, "tx-ed");
    snprintf(buf, sizeof(buf), "{\"keys\":[%s,%s]}", a, b);
    free(a);
    free(b);
    tx_jwks = strdup(tu_write("ssf-jwks.json", buf, (size_t) -1));
}

/* The receiving configuration of a host whose state file is state. */
static aim_config *
rx_config(const char *state)
{
    aim_config *cfg = aim_config_new();
    aim_error   err;

    setup_keys();
    if (aim_config_set(cfg, "keys", tu_std_jwks(), &err) != AIM_OK
        || aim_config_set(cfg, "issuer", TU_ISS, &err) != AIM_OK
        || aim_config_set(cfg, "audience", TU_AUD, &err) != AIM_OK
        || aim_config_set(cfg, "state", state, &err) != AIM_OK
        || aim_config_set(cfg, "ssf_keys", tx_jwks, &err) != AIM_OK
        || aim_config_set(cfg, "ssf_issuer", TX_ISS, &err) != AIM_OK
        || aim_config_set(cfg, "ssf_audience", RX_AUD, &err) != AIM_OK)
    {
        fprintf(stderr, "rx_config: %s\n", err.message);
        exit(2);
    }
    return cfg;
}

static aim_ssf_receiver *
receiver(const char *state)
{
    aim_config       *cfg = rx_config(state);
    aim_ssf_receiver *r;
    aim_error         err;

    r = aim_ssf_receiver_new(cfg, &err);
    aim_config_free(cfg);
    if (r == NULL) {
        fprintf(stderr, "receiver: %s\n", err.message);
        exit(2);
    }
    return r;
}

/* A fresh state file of this name (and no journal beside it). */
static const char *
fresh_state(const char *name)
{
    const char *p = tu_path(name);
    char        j[600];

    unlink(p);
    snprintf(j, sizeof(j), "%s.ssf", p);
    unlink(j);
    return p;
}

/* SET claims: sub_id (JSON or NULL), one event, extra members. */
static char *
claims_of(const char *sub_id, const char *type, const char *body,
          const char *extra)
{
    char *c = malloc(8192);

    snprintf(c, 8192, "{\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":%lld,"
             "\"jti\":\"set-%d\"%s%s,\"events\":{\"%s\":%s}%s}", TX_ISS, RX_AUD,
             tu_now, ++jti_n, sub_id ? ",\"sub_id\":" : "", sub_id ? sub_id : "",
             type, body, extra ? extra : "");
    return c;
}

static char *
sign_set(EVP_PKEY *k, aim_alg alg, const char *header, const char *claims)
{
    return tu_sign_raw(k, alg, header, strlen(header), claims, strlen(claims));
}

/* A SET by the transmitter, about sub_id. */
static char *
mkset(const char *sub_id, const char *type, const char *body, const char *extra)
{
    char *c = claims_of(sub_id, type, body, extra);
    char *s = sign_set(tx_key, AIM_ALG_ES256, HDR, c);

    free(c);
    return s;
}

static aim_status
apply(aim_ssf_receiver *r, const char *set)
{
    return aim_ssf_apply(r, set, strlen(set), &res);
}

/* Apply and free. */
static aim_status
apply_free(aim_ssf_receiver *r, char *set)
{
    aim_status s = apply(r, set);

    free(set);
    return s;
}

static char *
token_for(const char *agent)
{
    char extra[256];

    snprintf(extra, sizeof(extra), "{\"sub\":\"%s\",\"jti\":\"t-%d\"}", agent,
             ++jti_n);
    return tu_token(NULL, extra);
}

static aim_status
decide(aim_verifier *v, const char *tok)
{
    static const char *const need[] = { "kb:read" };
    aim_request  r = tu_request(tok, need);
    aim_decision d;
    aim_status   s;

    s = aim_decide(v, &r, &d);
    memcpy(last_msg, d.message, sizeof(last_msg));
    aim_decision_clear(&d);
    return s;
}

/* Nothing recorded against agent: no marks, trust untouched. */
static int
untouched(const char *state, const char *agent)
{
    aim_error         err;
    aim_state        *st = aim_state_open(state, &err);
    aim_state_signals m;
    int               ok;

    ok = st != NULL && aim_state_signals_get(st, agent, &m) == 0
         && aim_state_trust(st, agent, aim_now()) == 100.0;
    aim_state_close(st);
    return ok;
}

static double
trust_of(const char *state, const char *agent)
{
    aim_error  err;
    aim_state *st = aim_state_open(state, &err);
    double     t = st != NULL ? aim_state_trust(st, agent, aim_now()) : -2;

    aim_state_close(st);
    return t;
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */

static void
test_config(void)
{
    aim_config       *cfg;
    aim_ssf_receiver *r;
    aim_error         err;
    const char       *st = fresh_state("ssf-config.state");
    struct stat       sb;
    char              jpath[600];

    t_section("ssf: receiver configuration");
    setup_keys();

    cfg = aim_config_new();
    aim_config_set(cfg, "state", st, &err);
    aim_config_set(cfg, "ssf_issuer", TX_ISS, &err);
    aim_config_set(cfg, "ssf_audience", RX_AUD, &err);
    CHECK(aim_ssf_receiver_new(cfg, &err) == NULL && err.status == AIM_CONFIG
          && tu_contains(err.message, "ssf_keys"));
    aim_config_set(cfg, "ssf_keys", tx_jwks, &err);
    aim_config_set(cfg, "ssf_issuer", TX2_ISS, &err);
    CHECK(aim_ssf_receiver_new(cfg, &err) == NULL
          && tu_contains(err.message, "bind every key source"));
    aim_config_free(cfg);

    cfg = aim_config_new();
    aim_config_set(cfg, "ssf_keys", tx_jwks, &err);
    aim_config_set(cfg, "ssf_issuer", TX_ISS, &err);
    aim_config_set(cfg, "ssf_audience", RX_AUD, &err);
    CHECK(aim_ssf_receiver_new(cfg, &err) == NULL
          && tu_contains(err.message, "state"));
    aim_config_set(cfg, "state", st, &err);
    CHECK_ST(aim_config_set(cfg, "ssf_max_age", "10", &err), AIM_CONFIG, &err);
    CHECK(err.option != NULL && strcmp(err.option, "ssf_max_age") == 0);
    CHECK_ST(aim_config_set(cfg, "ssf_keys", "nope " TX_ISS " x", &err), AIM_CONFIG,
             &err);
    aim_config_set(cfg, "ssf_keys", TX_ISS " /nonexistent/jwks.json", &err);
    r = aim_ssf_receiver_new(cfg, &err);
    CHECK(r == NULL && err.status == AIM_CONFIG
          && tu_contains(err.message, "/nonexistent/jwks.json"));
    aim_config_free(cfg);

    r = receiver(st);
    snprintf(jpath, sizeof(jpath), "%s.ssf", st);
    CHECKF(stat(jpath, &sb) == 0 && (sb.st_mode & 0777) == 0660,
           "the journal is created beside the state file, mode 0660");
    {
        int         rw = -1;
        const char *w0 = aim_ssf_receiver_watched(r, 0, &rw);
        const char *w1;

        CHECKF(w0 != NULL && rw == 0 && strcmp(w0, tx_jwks) == 0,
               "watched 0: the transmitter's keys, read: %s", w0 ? w0 : "NULL");
        w1 = aim_ssf_receiver_watched(r, 1, &rw);
        CHECKF(w1 != NULL && strcmp(w1, jpath) == 0 && rw == 1,
               "watched 1: the journal, read-write: %s", w1 ? w1 : "NULL");
        CHECK(aim_ssf_receiver_watched(r, 2, &rw) == NULL);
    }
    aim_ssf_receiver_free(r);

    CHECK_STR(aim_ssf_err_code(AIM_SSF_ERR_INVALID_KEY), "invalid_key");
    CHECK_STR(aim_ssf_err_code(AIM_SSF_ERR_AUTHENTICATION_FAILED),
              "authentication_failed");
    CHECK(aim_ssf_err_code(AIM_SSF_ERR_NONE) == NULL);
    CHECK(aim_option_find("ssf_audience") != NULL
          && aim_option_find("ssf_audience")->multi);
}

/* ------------------------------------------------------------------ */
/* Session revoked: the cut, seen by another process                   */

static void
test_session_revoked(void)
{
    const char       *st = fresh_state("ssf-revoke.state");
    aim_ssf_receiver *r = receiver(st);
    aim_verifier     *v1 = tu_verifier("state", st, NULL);
    aim_verifier     *v2 = tu_verifier("state", st, NULL);
    char             *old_x, *same_second, *new_x, *tok_y, *body;
    aim_token        *held = NULL;
    aim_error         err;
    int64_t           cut;

    t_section("ssf: session-revoked cuts the agent's older tokens everywhere");
    old_x = token_for(AGENT_X);
    tok_y = token_for(AGENT_Y);
    CHECK_ST(decide(v1, old_x), AIM_OK, NULL);
    CHECK_ST(decide(v2, old_x), AIM_OK, NULL);       /* cached in v2 now */
    CHECK_ST(aim_verify(v1, old_x, strlen(old_x), &held, &err), AIM_OK, &err);

    tu_now += 60;
    cut = tu_now - 10;
    same_second = NULL;
    {
        long long keep = tu_now;

        tu_now = cut;
        same_second = token_for(AGENT_X);          /* iat == the event */
        tu_now = keep;
    }
    body = malloc(128);
    snprintf(body, 128, "{\"event_timestamp\":%lld,\"initiating_entity\":\"admin\"}",
             (long long) cut);
    CHECK_ST(apply_free(r, mkset(SUB_X, CAEP "session-revoked", body, NULL)),
             AIM_OK, NULL);
    free(body);
    CHECK_INT(res.outcome, AIM_SSF_APPLIED);
    CHECK_STR(res.event, "session-revoked");
    CHECK_STR(res.agent, AGENT_X);
    CHECK_STR(res.issuer, TX_ISS);
    CHECK_INT(res.event_time, cut);
    CHECK_INT(res.err, AIM_SSF_ERR_NONE);

    /* Another process (v2, its own mapping, its cache warm) sees it at
     * its next decision. */
    CHECK_ST(decide(v2, old_x), AIM_REVOKED, NULL);
    CHECKF(tu_contains(last_msg, "session-revoked") && tu_contains(last_msg, AGENT_X),
           "the reason names the event and the agent: %s", last_msg);
    CHECK_ST(decide(v1, old_x), AIM_REVOKED, NULL);
    CHECK_ST(decide(v1, same_second), AIM_REVOKED, NULL);
    CHECK_ST(tu_verify(v2, old_x, &err), AIM_REVOKED, &err);
    /* A session bound before the event is cut at its next statement. */
    CHECK_ST(tu_decide_token(v2, held, NULL, &err), AIM_REVOKED, &err);
    CHECK_ST(aim_recheck(v1, held, &err), AIM_REVOKED, &err);
    /* Agent Y is not touched. */
    CHECK_ST(decide(v2, tok_y), AIM_OK, NULL);
    CHECK(untouched(st, AGENT_Y));
    /* A token issued after the event passes again. */
    new_x = token_for(AGENT_X);
    CHECK_ST(decide(v2, new_x), AIM_OK, NULL);
    CHECK_ST(decide(v1, new_x), AIM_OK, NULL);

    /* The cut only moves forward: an older session-revoked changes
     * nothing, a later one cuts the new token too. */
    body = malloc(128);
    snprintf(body, 128, "{\"event_timestamp\":%lld}", (long long) (cut - 100));
    CHECK_ST(apply_free(r, mkset(SUB_X, CAEP "session-revoked", body, NULL)),
             AIM_OK, NULL);
    free(body);
    CHECK_INT(res.outcome, AIM_SSF_NOTED);
    CHECK_ST(decide(v1, new_x), AIM_OK, NULL);
    tu_now += 5;
    CHECK_ST(apply_free(r, mkset(SUB_X, RISC "sessions-revoked", "{}", NULL)),
             AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_APPLIED);
    CHECK_INT(res.event_time, tu_now);      /* no event_timestamp: iat */
    CHECK_ST(decide(v1, new_x), AIM_REVOKED, NULL);

    aim_token_free(held);
    free(old_x);
    free(same_second);
    free(new_x);
    free(tok_y);
    aim_verifier_free(v1);
    aim_verifier_free(v2);
    aim_ssf_receiver_free(r);
}

/* credential-change and token-claims-change cut like session-revoked;
 * the toe claim dates an event without a time of its own. */
static void
test_cut_events(void)
{
    const char       *st = fresh_state("ssf-cut.state");
    aim_ssf_receiver *r = receiver(st);
    aim_verifier     *v = tu_verifier("state", st, NULL);
    char             *tok, extra[64];

    t_section("ssf: credential-change and token-claims-change cut too");
    tok = token_for(AGENT_X);
    tu_now += 10;
    CHECK_ST(apply_free(r, mkset(SUB_X, CAEP "credential-change",
                                 "{\"credential_type\":\"x509\",\"change_type\":"
                                 "\"revoke\"}", NULL)), AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_APPLIED);
    CHECK_ST(decide(v, tok), AIM_REVOKED, NULL);
    free(tok);

    tok = token_for(AGENT_Y);
    tu_now += 10;
    snprintf(extra, sizeof(extra), ",\"toe\":%lld", tu_now - 3);
    CHECK_ST(apply_free(r, mkset("{\"format\":\"uri\",\"uri\":\"" AGENT_Y "\"}",
                                 CAEP "token-claims-change",
                                 "{\"claims\":{\"role\":\"ro\"}}", extra)),
             AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_APPLIED);
    CHECK_INT(res.event_time, tu_now - 3);
    CHECK_ST(decide(v, tok), AIM_REVOKED, NULL);
    free(tok);
    aim_verifier_free(v);
    aim_ssf_receiver_free(r);
}

/* ------------------------------------------------------------------ */
/* Subjects                                                            */

static void
test_subjects(void)
{
    const char       *st = fresh_state("ssf-subjects.state");
    aim_ssf_receiver *r = receiver(st);
    static const struct {
        const char *sub_id;        /* top level, or NULL */
        const char *inner;         /* the event's "subject", or NULL */
        const char *agent;         /* the agent named, or NULL: none */
    } ok[] = {
        { "{\"format\":\"uri\",\"uri\":\"spiffe://corp.test/s1\"}", NULL,
          "spiffe://corp.test/s1" },
        { "{\"format\":\"opaque\",\"id\":\"agent-s2\"}", NULL, "agent-s2" },
        { "{\"format\":\"iss_sub\",\"iss\":\"" TU_ISS "\",\"sub\":\"agent-s3\"}",
          NULL, "agent-s3" },
        { NULL, "{\"format\":\"uri\",\"uri\":\"urn:agent:s4\"}", "urn:agent:s4" },
        { "{\"format\":\"opaque\",\"id\":\"agent-s5\"}",
          "{\"format\":\"opaque\",\"id\":\"agent-s5\"}", "agent-s5" },
        { "{\"format\":\"complex\",\"user\":{\"format\":\"opaque\",\"id\":\"agent-s6\"},"
          "\"device\":{\"format\":\"opaque\",\"id\":\"dev-1\"},"
          "\"tenant\":{\"format\":\"iss_sub\",\"iss\":\"https://x\",\"sub\":\"t\"}}",
          NULL, "agent-s6" },
        { "{\"format\":\"complex\",\"application\":{\"format\":\"uri\","
          "\"uri\":\"spiffe://corp.test/s7\"}}", NULL, "spiffe://corp.test/s7" },
        { "{\"format\":\"aliases\",\"identifiers\":[{\"format\":\"email\","
          "\"email\":\"a@b.test\"},{\"format\":\"uri\",\"uri\":\"urn:agent:s8\"}]}",
          NULL, "urn:agent:s8" },
        /* ... and subjects that name no agent here */
        { "{\"format\":\"iss_sub\",\"iss\":\"https://other.test\",\"sub\":\"agent-s9\"}",
          NULL, NULL },
        { "{\"format\":\"email\",\"email\":\"jane@corp.test\"}", NULL, NULL },
        { "{\"format\":\"phone_number\",\"phone_number\":\"+1 206 555 0123\"}", NULL,
          NULL },
        { "{\"format\":\"account\",\"uri\":\"acct:jane@corp.test\"}", NULL, NULL },
        { "{\"format\":\"did\",\"url\":\"did:example:123\"}", NULL, NULL },
        { "{\"format\":\"jwt_id\",\"iss\":\"https://x\",\"jti\":\"j\"}", NULL, NULL },
        { "{\"format\":\"saml_assertion_id\",\"issuer\":\"https://x\","
          "\"assertion_id\":\"_a\"}", NULL, NULL },
        { "{\"format\":\"catalog_item\",\"catalog_id\":\"c0384\"}", NULL, NULL },
        { "{\"format\":\"opaque\",\"id\":\"has a blank\"}", NULL, NULL },
        { NULL, NULL, NULL },
    };
    static const char *const bad[] = {
        "\"agent\"",
        "{\"uri\":\"urn:x\"}",
        "{\"format\":7,\"uri\":\"urn:x\"}",
        "{\"format\":\"uri\",\"uri\":\"not a uri\"}",
        "{\"format\":\"uri\",\"uri\":\"urn:x\",\"extra\":1}",
        "{\"format\":\"uri\"}",
        "{\"format\":\"opaque\",\"id\":\"\"}",
        "{\"format\":\"opaque\",\"id\":5}",
        "{\"format\":\"iss_sub\",\"iss\":\"" TU_ISS "\"}",
        "{\"format\":\"account\",\"uri\":\"mailto:x@y\"}",
        "{\"format\":\"email\",\"email\":\"a@b\",\"uri\":\"urn:x\"}",
        "{\"format\":\"aliases\",\"identifiers\":[]}",
        "{\"format\":\"aliases\",\"identifiers\":[{\"format\":\"aliases\","
        "\"identifiers\":[{\"format\":\"opaque\",\"id\":\"a\"}]}]}",
        "{\"format\":\"complex\"}",
        "{\"format\":\"complex\",\"user\":{\"format\":\"complex\","
        "\"user\":{\"format\":\"opaque\",\"id\":\"a\"}}}",
        "{\"format\":\"complex\",\"user\":\"agent\"}",
        "{\"format\":\"opaque\",\"id\":\"a\\u0007b\"}",
        NULL
    };
    char      body[512];
    size_t    i;
    aim_state *stp;
    aim_error err;

    t_section("ssf: subjects (RFC 9493, SSF complex, CAEP's event subject)");
    stp = aim_state_open(st, &err);
    for (i = 0; ok[i].sub_id != NULL || ok[i].inner != NULL; i++) {
        aim_state_signals m;

        tu_now += 1;
        if (ok[i].inner != NULL) {
            snprintf(body, sizeof(body), "{\"subject\":%s}", ok[i].inner);
        } else {
            snprintf(body, sizeof(body), "{}");
        }
        CHECKF(apply_free(r, mkset(ok[i].sub_id, RISC "account-disabled", body,
                                   NULL)) == AIM_OK,
               "subject %zu accepted: %s", i, res.message);
        if (ok[i].agent != NULL) {
            CHECKF(res.outcome == AIM_SSF_APPLIED && strcmp(res.agent, ok[i].agent) == 0,
                   "subject %zu names %s (got \"%s\", outcome %d)", i, ok[i].agent,
                   res.agent, res.outcome);
            CHECKF(aim_state_signals_get(stp, ok[i].agent, &m) == 1 && m.disabled,
                   "subject %zu: %s is disabled", i, ok[i].agent);
        } else {
            CHECKF(res.outcome == AIM_SSF_NOTED && res.agent[0] == '\0',
                   "subject %zu names no agent (outcome %d)", i, res.outcome);
        }
    }
    CHECK(untouched(st, "agent-s9"));
    CHECK(untouched(st, "jane@corp.test"));

    for (i = 0; bad[i] != NULL; i++) {
        CHECKF(apply_free(r, mkset(bad[i], RISC "account-disabled", "{}", NULL))
               == AIM_BAD_CLAIM && res.err == AIM_SSF_ERR_INVALID_REQUEST,
               "malformed subject %zu refused: %s (%s)", i, bad[i], res.message);
        snprintf(body, sizeof(body), "{\"subject\":%s}", bad[i]);
        CHECKF(apply_free(r, mkset(NULL, RISC "account-disabled", body, NULL))
               == AIM_BAD_CLAIM, "malformed event subject %zu refused", i);
    }
    /* sub_id and the event's subject must agree. */
    CHECK_ST(apply_free(r, mkset(SUB_X, CAEP "session-revoked",
                                 "{\"subject\":{\"format\":\"uri\",\"uri\":\""
                                 AGENT_Y "\"}}", NULL)), AIM_BAD_CLAIM, NULL);
    CHECK(untouched(st, AGENT_X) && untouched(st, AGENT_Y));
    aim_state_close(stp);
    aim_ssf_receiver_free(r);
}

/* ------------------------------------------------------------------ */
/* Disable and enable                                                  */

static void
test_disable_enable(void)
{
    const char       *st = fresh_state("ssf-disable.state");
    aim_ssf_receiver *r = receiver(st);
    aim_verifier     *v = tu_verifier("state", st, NULL);
    aim_verifier     *v2 = tu_verifier("state", st, NULL);
    char             *tok, *later, *enable_old, body[128], name[64];
    aim_state        *stp;
    aim_error         err;
    int64_t           disabled_at;
    int               i;

    t_section("ssf: account-disabled refuses the agent until account-enabled");
    tok = token_for(AGENT_X);
    CHECK_ST(decide(v, tok), AIM_OK, NULL);
    tu_now += 5;
    disabled_at = tu_now;
    /* An enable dated before the disable, delivered after it. */
    snprintf(body, sizeof(body), "{\"event_timestamp\":%lld}",
             (long long) (disabled_at - 1));
    enable_old = mkset(SUB_X, RISC "account-enabled", body, NULL);
    CHECK_ST(apply_free(r, mkset(SUB_X, RISC "account-disabled",
                                 "{\"reason\":\"hijacking\"}", NULL)), AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_APPLIED);
    CHECK_ST(decide(v2, tok), AIM_REVOKED, NULL);
    CHECKF(tu_contains(last_msg, "disabled") && tu_contains(last_msg, "account-disabled"),
           "reason: %s", last_msg);
    tu_now += 5;
    later = token_for(AGENT_X);
    CHECK_ST(decide(v, later), AIM_REVOKED, NULL);  /* new tokens too */

    CHECK_ST(apply(r, enable_old), AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_NOTED);          /* older: changes nothing */
    CHECK_ST(decide(v, later), AIM_REVOKED, NULL);

    /* A trust reset forgets behaviour, not the disable. */
    stp = aim_state_open(st, &err);
    CHECK(aim_state_reset(stp, AGENT_X) == 0);
    CHECK_ST(decide(v, later), AIM_REVOKED, NULL);

    /* Nor does a flood of agents evict it. */
    for (i = 0; i < AIM_STATE_SLOTS * 2; i++) {
        snprintf(name, sizeof(name), "agent-flood-%d", i);
        aim_state_observe(stp, name, "GET", "/x", AIM_OK, aim_now(), NULL);
    }
    CHECK_ST(decide(v2, later), AIM_REVOKED, NULL);

    tu_now += 5;
    CHECK_ST(apply_free(r, mkset(SUB_X, RISC "account-enabled", "{}", NULL)),
             AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_APPLIED);
    CHECK_ST(decide(v2, later), AIM_OK, NULL);
    CHECK_ST(decide(v, tok), AIM_OK, NULL);

    /* account-purged disables as well; an operator can lift it. */
    tu_now += 5;
    CHECK_ST(apply_free(r, mkset(SUB_X, RISC "account-purged", "{}", NULL)),
             AIM_OK, NULL);
    CHECK_ST(decide(v, later), AIM_REVOKED, NULL);
    {
        aim_config *cfg = rx_config(st);

        CHECK_ST(aim_ssf_clear(cfg, AGENT_X, &err), AIM_OK, &err);
        CHECK_ST(aim_ssf_clear(cfg, "agent-never-seen", &err), AIM_CONFIG, &err);
        aim_config_free(cfg);
    }
    CHECK_ST(decide(v, later), AIM_OK, NULL);

    aim_state_close(stp);
    free(tok);
    free(later);
    free(enable_old);
    aim_verifier_free(v);
    aim_verifier_free(v2);
    aim_ssf_receiver_free(r);
}

/* A signal about any agent of a delegation chain stops it. */
static void
test_chain(void)
{
    const char       *st = fresh_state("ssf-chain.state");
    aim_ssf_receiver *r = receiver(st);
    aim_verifier     *v = tu_verifier("state", st, NULL);
    char             *tok;

    t_section("ssf: a disabled subject stops the agents acting for it");
    tok = tu_token(NULL, "{\"sub\":\"" AGENT_X "\",\"act\":{\"sub\":\"agent-helper\"}}");
    CHECK_ST(decide(v, tok), AIM_OK, NULL);
    tu_now += 1;
    CHECK_ST(apply_free(r, mkset(SUB_X, RISC "account-disabled", "{}", NULL)),
             AIM_OK, NULL);
    CHECK_ST(decide(v, tok), AIM_REVOKED, NULL);
    free(tok);
    aim_verifier_free(v);
    aim_ssf_receiver_free(r);
}

/* ------------------------------------------------------------------ */
/* Trust                                                               */

static void
test_trust_events(void)
{
    const char       *st = fresh_state("ssf-trust.state");
    aim_ssf_receiver *r = receiver(st);
    aim_verifier     *v = tu_verifier("state", st, NULL);
    char             *tok;
    double            t;

    t_section("ssf: credential-compromise, risk and assurance lower trust");
    tok = token_for(AGENT_X);
    CHECK_ST(decide(v, tok), AIM_OK, NULL);

    CHECK_ST(apply_free(r, mkset(SUB_X, CAEP "assurance-level-change",
                                 "{\"namespace\":\"NIST-AAL\",\"current_level\":"
                                 "\"nist-aal2\",\"previous_level\":\"nist-aal1\","
                                 "\"change_direction\":\"increase\"}", NULL)),
             AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_NOTED);
    CHECK(trust_of(st, AGENT_X) == 100.0);
    CHECK_ST(apply_free(r, mkset(SUB_X, CAEP "assurance-level-change",
                                 "{\"namespace\":\"NIST-AAL\",\"current_level\":"
                                 "\"nist-aal1\",\"change_direction\":\"decrease\"}",
                                 NULL)), AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_APPLIED);
    t = trust_of(st, AGENT_X);
    CHECKF(t == 70.0, "assurance downgrade: trust 100 -> %.1f (want 70)", t);
    CHECK_ST(decide(v, tok), AIM_OK, NULL);          /* above trust_min */

    CHECK_ST(apply_free(r, mkset(SUB_X, CAEP "risk-level-change",
                                 "{\"principal\":\"USER\",\"current_level\":\"LOW\"}",
                                 NULL)), AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_NOTED);           /* never raised from outside */

    CHECK_ST(apply_free(r, mkset(SUB_X, RISC "credential-compromise",
                                 "{\"credential_type\":\"password\"}", NULL)),
             AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_APPLIED);
    CHECK(trust_of(st, AGENT_X) == 0.0);
    CHECK_ST(decide(v, tok), AIM_LOW_TRUST, NULL);
    /* Recovery is the baseline's: 4 points a minute. */
    tu_now += 13 * 60;
    free(tok);
    tok = token_for(AGENT_X);
    CHECK_ST(decide(v, tok), AIM_OK, NULL);

    CHECK_ST(apply_free(r, mkset("{\"format\":\"uri\",\"uri\":\"" AGENT_Y "\"}",
                                 CAEP "risk-level-change",
                                 "{\"principal\":\"USER\",\"current_level\":\"HIGH\","
                                 "\"risk_reason\":\"probing\"}", NULL)), AIM_OK, NULL);
    CHECK(trust_of(st, AGENT_Y) == 0.0);
    CHECK_ST(apply_free(r, mkset("{\"format\":\"opaque\",\"id\":\"agent-m\"}",
                                 CAEP "risk-level-change",
                                 "{\"principal\":\"USER\",\"current_level\":\"MEDIUM\"}",
                                 NULL)), AIM_OK, NULL);
    CHECK(trust_of(st, "agent-m") == 70.0);
    free(tok);
    aim_verifier_free(v);
    aim_ssf_receiver_free(r);
}

/* ------------------------------------------------------------------ */
/* Acknowledged without effect                                         */

static void
test_noted_and_ignored(void)
{
    const char        *st = fresh_state("ssf-noted.state");
    aim_ssf_receiver  *r = receiver(st);
    aim_journal       *j;
    aim_journal_stream s;
    aim_error          err;

    t_section("ssf: unknown events acknowledged, stream events recorded");
    CHECK_ST(apply_free(r, mkset(SUB_X, "https://vendor.test/event/new-thing",
                                 "{\"anything\":[1,2,3]}", NULL)), AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_IGNORED);
    CHECK_STR(res.event, "unknown");
    CHECK_ST(apply_free(r, mkset(SUB_X, CAEP "device-compliance-change",
                                 "{\"current_status\":\"not-compliant\","
                                 "\"previous_status\":\"compliant\"}", NULL)),
             AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_IGNORED);
    CHECK(untouched(st, AGENT_X));

    CHECK_ST(apply_free(r, mkset("{\"format\":\"opaque\",\"id\":\"stream-42\"}",
                                 SSFE "verification", "{\"state\":\"c3RhdGU\"}",
                                 NULL)), AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_NOTED);
    CHECK_STR(res.event, "verification");
    CHECK_STR(res.state, "c3RhdGU");
    CHECK(untouched(st, "stream-42"));               /* a stream, not an agent */
    tu_now += 1;
    CHECK_ST(apply_free(r, mkset("{\"format\":\"opaque\",\"id\":\"stream-42\"}",
                                 SSFE "stream-updated",
                                 "{\"status\":\"paused\",\"reason\":\"maintenance\"}",
                                 NULL)), AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_NOTED);
    CHECK_ST(apply_free(r, mkset("{\"format\":\"opaque\",\"id\":\"stream-42\"}",
                                 SSFE "stream-updated", "{\"status\":\"sleeping\"}",
                                 NULL)), AIM_BAD_CLAIM, NULL);

    j = aim_journal_open(st, 1, &err);
    CHECK(j != NULL && aim_journal_lock(j) == 0);
    CHECK(aim_journal_stream_get(j, TX_ISS, &s) == 1);
    aim_journal_unlock(j);
    CHECK_STR(s.stream_id, "stream-42");
    CHECK_STR(s.state, "c3RhdGU");
    CHECK_STR(s.status, "paused");
    CHECK_INT(s.status_at, tu_now);
    CHECK_INT(s.accepted, 4);
    aim_journal_close(j);
    aim_ssf_receiver_free(r);
}

/* ------------------------------------------------------------------ */
/* Refusals: each changes nothing                                      */

static void
test_refusals(void)
{
    const char       *st = fresh_state("ssf-refuse.state");
    aim_ssf_receiver *r = receiver(st);
    aim_verifier     *v = tu_verifier("state", st, NULL);
    char             *tok = token_for(AGENT_X), *set, *c, big[AIM_SSF_MAX_SET_LEN + 64];
    const char       *ev = RISC "account-disabled";
    struct {
        const char  *what;
        char        *set;
        aim_status   status;
        aim_ssf_err  err;
    } cases[40];
    size_t n = 0, i;
    unsigned char zero[64];

    t_section("ssf: forged, misdirected, stale, replayed and malformed SETs "
              "change nothing");
    memset(zero, 0, sizeof(zero));
#define CASE(w, s_, st_, e_) do { cases[n].what = (w); cases[n].set = (s_); \
        cases[n].status = (st_); cases[n].err = (e_); n++; } while (0)

    /* forged */
    set = mkset(SUB_X, ev, "{}", NULL);
    CASE("bad signature", tu_with_sig(set, zero, 64), AIM_BAD_SIGNATURE,
         AIM_SSF_ERR_AUTHENTICATION_FAILED);
    free(set);
    c = claims_of(SUB_X, ev, "{}", NULL);
    CASE("signed by another key under the transmitter's kid",
         sign_set(other_key, AIM_ALG_ES256, HDR, c), AIM_BAD_SIGNATURE,
         AIM_SSF_ERR_AUTHENTICATION_FAILED);
    CASE("unknown kid", sign_set(other_key, AIM_ALG_ES256,
         "{\"alg\":\"ES256\",\"typ\":\"secevent+jwt\",\"kid\":\"tx-9\"}", c),
         AIM_UNKNOWN_KEY, AIM_SSF_ERR_INVALID_KEY);
    CASE("no kid", sign_set(tx_key, AIM_ALG_ES256,
         "{\"alg\":\"ES256\",\"typ\":\"secevent+jwt\"}", c),
         AIM_UNKNOWN_KEY, AIM_SSF_ERR_INVALID_KEY);
    CASE("alg not the key's", sign_set(tx_key, AIM_ALG_ES256,
         "{\"alg\":\"ES256\",\"typ\":\"secevent+jwt\",\"kid\":\"tx-ed\"}", c),
         AIM_UNSUPPORTED_ALG, AIM_SSF_ERR_INVALID_KEY);
    CASE("alg HS256", sign_set(tx_key, AIM_ALG_ES256,
         "{\"alg\":\"HS256\",\"typ\":\"secevent+jwt\",\"kid\":\"tx-1\"}", c),
         AIM_UNSUPPORTED_ALG, AIM_SSF_ERR_INVALID_REQUEST);
    CASE("typ JWT", sign_set(tx_key, AIM_ALG_ES256,
         "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"tx-1\"}", c),
         AIM_BAD_TYPE, AIM_SSF_ERR_INVALID_REQUEST);
    CASE("no typ", sign_set(tx_key, AIM_ALG_ES256,
         "{\"alg\":\"ES256\",\"kid\":\"tx-1\"}", c),
         AIM_BAD_TYPE, AIM_SSF_ERR_INVALID_REQUEST);
    CASE("an access token's typ", sign_set(tx_key, AIM_ALG_ES256,
         "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"tx-1\"}", c),
         AIM_BAD_TYPE, AIM_SSF_ERR_INVALID_REQUEST);
    free(c);

    /* misdirected */
    c = malloc(1024);
    snprintf(c, 1024, "{\"iss\":\"https://evil.test\",\"aud\":\"%s\",\"iat\":%lld,"
             "\"jti\":\"w-1\",\"sub_id\":%s,\"events\":{\"%s\":{}}}", RX_AUD,
             tu_now, SUB_X, ev);
    CASE("wrong issuer", sign_set(tx_key, AIM_ALG_ES256, HDR, c), AIM_BAD_ISSUER,
         AIM_SSF_ERR_INVALID_ISSUER);
    snprintf(c, 1024, "{\"iss\":\"%s\",\"aud\":[\"https://host-z.test\",\"api\"],"
             "\"iat\":%lld,\"jti\":\"w-2\",\"sub_id\":%s,\"events\":{\"%s\":{}}}",
             TX_ISS, tu_now, SUB_X, ev);
    CASE("wrong audience", sign_set(tx_key, AIM_ALG_ES256, HDR, c),
         AIM_BAD_AUDIENCE, AIM_SSF_ERR_INVALID_AUDIENCE);
    snprintf(c, 1024, "{\"iss\":\"%s\",\"iat\":%lld,\"jti\":\"w-3\",\"sub_id\":%s,"
             "\"events\":{\"%s\":{}}}", TX_ISS, tu_now, SUB_X, ev);
    CASE("no audience", sign_set(tx_key, AIM_ALG_ES256, HDR, c),
         AIM_MISSING_CLAIM, AIM_SSF_ERR_INVALID_REQUEST);
    free(c);

    /* out of time */
    {
        long long keep = tu_now;

        tu_now = keep + 600;
        CASE("iat in the future", mkset(SUB_X, ev, "{}", NULL), AIM_NOT_YET_VALID,
             AIM_SSF_ERR_INVALID_REQUEST);
        tu_now = keep - 604800 - 31;
        CASE("iat older than ssf_max_age", mkset(SUB_X, ev, "{}", NULL), AIM_EXPIRED,
             AIM_SSF_ERR_INVALID_REQUEST);
        tu_now = keep;
    }
    {
        char body[96];

        snprintf(body, sizeof(body), "{\"event_timestamp\":%lld}", tu_now + 300);
        CASE("event after the SET", mkset(SUB_X, CAEP "session-revoked", body, NULL),
             AIM_BAD_CLAIM, AIM_SSF_ERR_INVALID_REQUEST);
    }

    /* not a SET */
    CASE("exp present", mkset(SUB_X, ev, "{}", ",\"exp\":1900000000"), AIM_BAD_CLAIM,
         AIM_SSF_ERR_INVALID_REQUEST);
    CASE("sub present", mkset(SUB_X, ev, "{}", ",\"sub\":\"x\""), AIM_BAD_CLAIM,
         AIM_SSF_ERR_INVALID_REQUEST);
    c = malloc(256);
    snprintf(c, 256, "{\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":%lld,\"sub_id\":%s,"
             "\"events\":{\"%s\":{}}}", TX_ISS, RX_AUD, tu_now, SUB_X, ev);
    CASE("no jti", sign_set(tx_key, AIM_ALG_ES256, HDR, c), AIM_MISSING_CLAIM,
         AIM_SSF_ERR_INVALID_REQUEST);
    free(c);
    CASE("not a JWS", strdup("hello.world"), AIM_MALFORMED,
         AIM_SSF_ERR_INVALID_REQUEST);
    CASE("empty", strdup(""), AIM_NO_TOKEN, AIM_SSF_ERR_INVALID_REQUEST);
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CASE("oversized", strdup(big), AIM_MALFORMED, AIM_SSF_ERR_INVALID_REQUEST);

    /* malformed events */
    {
        char *cl = malloc(2048);

        snprintf(cl, 2048, "{\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":%lld,\"jti\":\"e-1\","
                 "\"sub_id\":%s,\"events\":{}}", TX_ISS, RX_AUD, tu_now, SUB_X);
        CASE("no events", sign_set(tx_key, AIM_ALG_ES256, HDR, cl), AIM_BAD_CLAIM,
             AIM_SSF_ERR_INVALID_REQUEST);
        snprintf(cl, 2048, "{\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":%lld,\"jti\":\"e-2\","
                 "\"sub_id\":%s,\"events\":[\"%s\"]}", TX_ISS, RX_AUD, tu_now, SUB_X, ev);
        CASE("events not an object", sign_set(tx_key, AIM_ALG_ES256, HDR, cl),
             AIM_BAD_CLAIM, AIM_SSF_ERR_INVALID_REQUEST);
        snprintf(cl, 2048, "{\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":%lld,\"jti\":\"e-3\","
                 "\"sub_id\":%s,\"events\":{\"a:1\":{},\"a:2\":{},\"a:3\":{},\"a:4\":{},"
                 "\"a:5\":{}}}", TX_ISS, RX_AUD, tu_now, SUB_X);
        CASE("too many events", sign_set(tx_key, AIM_ALG_ES256, HDR, cl),
             AIM_BAD_CLAIM, AIM_SSF_ERR_INVALID_REQUEST);
        free(cl);
    }
    CASE("event not an object", mkset(SUB_X, ev, "true", NULL), AIM_BAD_CLAIM,
         AIM_SSF_ERR_INVALID_REQUEST);
    CASE("event_timestamp a string", mkset(SUB_X, CAEP "session-revoked",
         "{\"event_timestamp\":\"now\"}", NULL), AIM_BAD_CLAIM,
         AIM_SSF_ERR_INVALID_REQUEST);
    CASE("initiating_entity unknown", mkset(SUB_X, CAEP "session-revoked",
         "{\"initiating_entity\":\"martian\"}", NULL), AIM_BAD_CLAIM,
         AIM_SSF_ERR_INVALID_REQUEST);
    CASE("reason_admin not localised", mkset(SUB_X, CAEP "session-revoked",
         "{\"reason_admin\":\"because\"}", NULL), AIM_BAD_CLAIM,
         AIM_SSF_ERR_INVALID_REQUEST);
    CASE("credential-change without change_type", mkset(SUB_X,
         CAEP "credential-change", "{\"credential_type\":\"pin\"}", NULL),
         AIM_BAD_CLAIM, AIM_SSF_ERR_INVALID_REQUEST);
    CASE("token-claims-change without claims", mkset(SUB_X,
         CAEP "token-claims-change", "{}", NULL), AIM_BAD_CLAIM,
         AIM_SSF_ERR_INVALID_REQUEST);
    CASE("risk level unknown", mkset(SUB_X, CAEP "risk-level-change",
         "{\"principal\":\"USER\",\"current_level\":\"EXTREME\"}", NULL),
         AIM_BAD_CLAIM, AIM_SSF_ERR_INVALID_REQUEST);
    CASE("assurance direction unknown", mkset(SUB_X, CAEP "assurance-level-change",
         "{\"namespace\":\"x\",\"current_level\":\"y\",\"change_direction\":\"down\"}",
         NULL), AIM_BAD_CLAIM, AIM_SSF_ERR_INVALID_REQUEST);
    CASE("compromise without credential_type", mkset(SUB_X,
         RISC "credential-compromise", "{}", NULL), AIM_BAD_CLAIM,
         AIM_SSF_ERR_INVALID_REQUEST);

    for (i = 0; i < n; i++) {
        aim_status s = aim_ssf_apply(r, cases[i].set, strlen(cases[i].set), &res);

        CHECKF(s == cases[i].status && res.status == s && res.err == cases[i].err
               && res.outcome == AIM_SSF_REJECTED,
               "%s: got %s / %s, want %s / %s (%s)", cases[i].what, aim_reason(s),
               aim_ssf_err_code(res.err) ? aim_ssf_err_code(res.err) : "-",
               aim_reason(cases[i].status),
               aim_ssf_err_code(cases[i].err) ? aim_ssf_err_code(cases[i].err) : "-",
               res.message);
        CHECKF(res.message[0] != '\0', "%s: a description", cases[i].what);
        free(cases[i].set);
    }
    CHECK(untouched(st, AGENT_X));
    CHECK_ST(decide(v, tok), AIM_OK, NULL);
#undef CASE

    /* Replays: the same SET again is acknowledged and applies nothing
     * twice; its jti under another payload is refused. */
    set = mkset(SUB_X, RISC "credential-compromise",
                "{\"credential_type\":\"x509\"}", NULL);
    CHECK_ST(apply(r, set), AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_APPLIED);
    tu_now += 15 * 60;                         /* trust recovers to 60 */
    CHECK(fabs(trust_of(st, AGENT_X) - 60.0) < 0.01);
    CHECK_ST(apply(r, set), AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_DUPLICATE);
    CHECKF(fabs(trust_of(st, AGENT_X) - 60.0) < 0.01, "a replay takes no trust "
           "(%.1f)", trust_of(st, AGENT_X));
    {
        /* Another receiver on the same host (another process) knows it too. */
        aim_ssf_receiver *r2 = receiver(st);

        CHECK_ST(apply(r2, set), AIM_OK, NULL);
        CHECK_INT(res.outcome, AIM_SSF_DUPLICATE);
        aim_ssf_receiver_free(r2);
    }
    free(set);
    jti_n--;                                   /* the same jti, new payload */
    CHECK_ST(apply_free(r, mkset(SUB_X, RISC "account-disabled", "{}", NULL)),
             AIM_REPLAY, NULL);
    CHECK_INT(res.err, AIM_SSF_ERR_INVALID_REQUEST);
    free(tok);
    tok = token_for(AGENT_X);
    CHECKF(decide(v, tok) == AIM_OK, "not disabled by the refused SET: %s",
           last_msg);

    free(tok);
    aim_verifier_free(v);
    aim_ssf_receiver_free(r);
}

/* Transmitters rotate keys; a key bound to one transmitter signs for no
 * other. */
static void
test_keys_and_issuers(void)
{
    const char       *st = fresh_state("ssf-keys.state");
    aim_config       *cfg = rx_config(st);
    aim_ssf_receiver *r;
    aim_error         err;
    EVP_PKEY         *b_key = tu_key_new(AIM_ALG_EDDSA, 0);
    char             *j, buf[2048], *c;
    const char       *bpath;

    t_section("ssf: several transmitters, keys bound to each, rotation");
    j = tu_jwk(b_key, AIM_ALG_EDDSA, "b-1");
    snprintf(buf, sizeof(buf), "{\"keys\":[%s]}", j);
    free(j);
    bpath = tu_write("ssf-b.json", buf, (size_t) -1);
    aim_config_free(cfg);
    cfg = aim_config_new();
    aim_config_set(cfg, "state", st, &err);
    aim_config_set(cfg, "ssf_issuer", TX_ISS, &err);
    aim_config_set(cfg, "ssf_issuer", TX2_ISS, &err);
    aim_config_set(cfg, "ssf_audience", "urn:aim:fleet", &err);
    aim_config_set(cfg, "ssf_audience", RX_AUD, &err);
    snprintf(buf, sizeof(buf), "%s %s", TX_ISS, tx_jwks);
    aim_config_set(cfg, "ssf_keys", buf, &err);
    snprintf(buf, sizeof(buf), "%s %s", TX2_ISS, bpath);
    aim_config_set(cfg, "ssf_keys", buf, &err);
    r = aim_ssf_receiver_new(cfg, &err);
    CHECKF(r != NULL, "two transmitters: %s", err.message);
    aim_config_free(cfg);

    c = malloc(1024);
    snprintf(c, 1024, "{\"iss\":\"%s\",\"aud\":\"urn:aim:fleet\",\"iat\":%lld,"
             "\"jti\":\"b-1\",\"sub_id\":{\"format\":\"opaque\",\"id\":\"agent-k\"},"
             "\"events\":{\"" RISC "account-disabled\":{}}}", TX2_ISS, tu_now);
    CHECK_ST(apply_free(r, sign_set(b_key, AIM_ALG_EDDSA,
             "{\"alg\":\"EdDSA\",\"typ\":\"secevent+jwt\",\"kid\":\"b-1\"}", c)),
             AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_APPLIED);
    /* The IdP's key does not sign for host B. */
    snprintf(c, 1024, "{\"iss\":\"%s\",\"aud\":\"urn:aim:fleet\",\"iat\":%lld,"
             "\"jti\":\"b-2\",\"sub_id\":{\"format\":\"opaque\",\"id\":\"agent-k2\"},"
             "\"events\":{\"" RISC "account-disabled\":{}}}", TX2_ISS, tu_now);
    CHECK_ST(apply_free(r, sign_set(tx_key, AIM_ALG_ES256, HDR, c)), AIM_BAD_ISSUER,
             NULL);
    CHECK_INT(res.err, AIM_SSF_ERR_INVALID_ISSUER);
    CHECK(untouched(st, "agent-k2"));

    /* Host B rotates to a new key: the file changes, the receiver follows;
     * a bad new file keeps the old keys. */
    tu_write("ssf-b.json", "{\"keys\":[", (size_t) -1);
    snprintf(c, 1024, "{\"iss\":\"%s\",\"aud\":\"urn:aim:fleet\",\"iat\":%lld,"
             "\"jti\":\"b-3\",\"sub_id\":{\"format\":\"opaque\",\"id\":\"agent-k3\"},"
             "\"events\":{\"" RISC "account-disabled\":{}}}", TX2_ISS, tu_now);
    CHECK_ST(apply_free(r, sign_set(b_key, AIM_ALG_EDDSA,
             "{\"alg\":\"EdDSA\",\"typ\":\"secevent+jwt\",\"kid\":\"b-1\"}", c)),
             AIM_OK, NULL);
    {
        EVP_PKEY *b2 = tu_key_new(AIM_ALG_ES256, 0);

        j = tu_jwk(b2, AIM_ALG_ES256, "b-2");
        snprintf(buf, sizeof(buf), "{\"keys\":[%s]}", j);
        free(j);
        tu_write("ssf-b.json", buf, (size_t) -1);
        snprintf(c, 1024, "{\"iss\":\"%s\",\"aud\":\"urn:aim:fleet\",\"iat\":%lld,"
                 "\"jti\":\"b-4\",\"sub_id\":{\"format\":\"opaque\",\"id\":\"agent-k4\"},"
                 "\"events\":{\"" RISC "account-disabled\":{}}}", TX2_ISS, tu_now);
        CHECK_ST(apply_free(r, sign_set(b_key, AIM_ALG_EDDSA,
                 "{\"alg\":\"EdDSA\",\"typ\":\"secevent+jwt\",\"kid\":\"b-1\"}", c)),
                 AIM_UNKNOWN_KEY, NULL);
        snprintf(c, 1024, "{\"iss\":\"%s\",\"aud\":\"urn:aim:fleet\",\"iat\":%lld,"
                 "\"jti\":\"b-5\",\"sub_id\":{\"format\":\"opaque\",\"id\":\"agent-k5\"},"
                 "\"events\":{\"" RISC "account-disabled\":{}}}", TX2_ISS, tu_now);
        CHECK_ST(apply_free(r, sign_set(b2, AIM_ALG_ES256,
                 "{\"alg\":\"ES256\",\"typ\":\"secevent+jwt\",\"kid\":\"b-2\"}", c)),
                 AIM_OK, NULL);
        EVP_PKEY_free(b2);
    }
    free(c);
    EVP_PKEY_free(b_key);
    aim_ssf_receiver_free(r);
}

/* ------------------------------------------------------------------ */
/* The journal's replay table                                          */

static void
test_replay_floor(void)
{
    const char    *st = fresh_state("ssf-floor.state");
    aim_journal   *j;
    aim_error      err;
    unsigned char  id[16], ph[16];
    int64_t        now = aim_now();
    uint32_t       i;

    t_section("ssf: a full replay table shrinks its window, never forgets");
    j = aim_journal_open(st, 1, &err);
    CHECK(j != NULL && aim_journal_lock(j) == 0);
    memset(ph, 7, sizeof(ph));
    for (i = 0; i < AIM_JOURNAL_REPLAY; i++) {
        memset(id, 0, sizeof(id));
        memcpy(id, &i, sizeof(i));
        aim_journal_replay_add(j, id, ph, now - 1000 + (int64_t) (i % 1000),
                               now + 3600, now);
    }
    CHECK_INT(aim_journal_replay_floor(j), 0);
    memset(id, 0, sizeof(id));
    CHECK_INT(aim_journal_replay_check(j, id, ph, now - 1000, now), AIM_REPLAY_SEEN);
    memset(id, 0xee, sizeof(id));
    aim_journal_replay_add(j, id, ph, now, now + 3600, now);
    CHECK_INT(aim_journal_replay_floor(j), now - 1000);
    /* The evicted entry's SET (iat now - 1000) can no longer pass. */
    memset(id, 0, sizeof(id));
    CHECK_INT(aim_journal_replay_check(j, id, ph, now - 1000, now), AIM_REPLAY_TOO_OLD);
    memset(id, 0xee, sizeof(id));
    CHECK_INT(aim_journal_replay_check(j, id, ph, now, now), AIM_REPLAY_SEEN);
    memset(ph, 8, sizeof(ph));
    CHECK_INT(aim_journal_replay_check(j, id, ph, now, now), AIM_REPLAY_CONFLICT);
    memset(id, 0xdd, sizeof(id));
    CHECK_INT(aim_journal_replay_check(j, id, ph, now, now), AIM_REPLAY_NEW);
    /* Expired entries make room without moving the floor. */
    memset(id, 0xcc, sizeof(id));
    aim_journal_replay_add(j, id, ph, now + 7200, now + 9000, now + 7200);
    CHECK_INT(aim_journal_replay_floor(j), now - 1000);
    aim_journal_unlock(j);
    aim_journal_close(j);

    /* A corrupt journal is rebuilt, not trusted. */
    {
        char  path[600];
        FILE *fp;

        snprintf(path, sizeof(path), "%s.ssf", st);
        fp = fopen(path, "r+");
        CHECK(fp != NULL && fwrite("XXXXXXXX", 1, 8, fp) == 8);
        if (fp != NULL) fclose(fp);
        j = aim_journal_open(st, 1, &err);
        CHECK(j != NULL && aim_journal_lock(j) == 0);
        memset(id, 0xee, sizeof(id));
        CHECK_INT(aim_journal_replay_check(j, id, ph, now, now), AIM_REPLAY_NEW);
        CHECK_INT(aim_journal_replay_floor(j), 0);
        aim_journal_unlock(j);
        aim_journal_close(j);
    }
}

/* A long-running receiver (nginx, aimctl ssf poll --interval) follows a
 * state file replaced on disk, as the verifiers do. */
static void
test_state_replaced(void)
{
    const char       *st = fresh_state("ssf-replaced.state");
    aim_ssf_receiver *r = receiver(st);
    aim_verifier     *v;
    char             *tok_y;

    t_section("ssf: a receiver follows a state file replaced on disk");
    tok_y = token_for(AGENT_Y);
    tu_now += 2;
    CHECK_ST(apply_free(r, mkset(SUB_X, RISC "account-disabled", "{}", NULL)),
             AIM_OK, NULL);
    CHECK(unlink(st) == 0);                   /* an operator starts afresh */
    v = tu_verifier("state", st, NULL);       /* a new file at the path */
    CHECK_ST(decide(v, tok_y), AIM_OK, NULL);
    tu_now += 2;
    CHECK_ST(apply_free(r, mkset("{\"format\":\"uri\",\"uri\":\"" AGENT_Y "\"}",
                                 RISC "account-disabled", "{}", NULL)),
             AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_APPLIED);
    CHECKF(decide(v, tok_y) == AIM_REVOKED, "the disable reached the new file: %s",
           last_msg);
    free(tok_y);
    aim_verifier_free(v);
    aim_ssf_receiver_free(r);
}

/* A state file replaced by something this process cannot open and map
 * (a directory, a FIFO): every other process follows the new
 * file, so this one refuses every agent, and a receiver acknowledges
 * nothing, until the path names a file it can map again. */
static void
test_state_orphaned(void)
{
    const char       *st = fresh_state("ssf-orphan.state");
    aim_ssf_receiver *r = receiver(st);
    aim_verifier     *v = tu_verifier("state", st, NULL);
    char             *tok_y = token_for(AGENT_Y);
    char              bak[600];

    t_section("ssf: a state file replaced by one this process cannot open");
    snprintf(bak, sizeof(bak), "%s.bak", st);
    CHECK_ST(decide(v, tok_y), AIM_OK, NULL);

    CHECK(rename(st, bak) == 0 && mkdir(st, 0700) == 0);
    tu_now += 2;
    CHECKF(decide(v, tok_y) == AIM_INTERNAL && strstr(last_msg, "replaced") != NULL,
           "a directory at the path: refused (%s)", last_msg);
    CHECK_INT(apply_free(r, mkset(SUB_X, RISC "account-disabled", "{}", NULL)),
              AIM_INTERNAL);
    CHECK_INT(res.outcome, AIM_SSF_REJECTED);

    CHECK(rmdir(st) == 0 && mkfifo(st, 0600) == 0);
    tu_now += 2;
    CHECKF(decide(v, tok_y) == AIM_INTERNAL, "a FIFO at the path: refused (%s)", last_msg);

    CHECK(unlink(st) == 0 && rename(bak, st) == 0);     /* the file is back */
    tu_now += 2;
    CHECKF(decide(v, tok_y) == AIM_OK, "the mapped file at the path again: %s", last_msg);
    CHECK_INT(apply_free(r, mkset(SUB_X, RISC "account-disabled", "{}", NULL)), AIM_OK);
    CHECK_INT(res.outcome, AIM_SSF_APPLIED);

    free(tok_y);
    aim_verifier_free(v);
    aim_ssf_receiver_free(r);
}

/* aim_ssf_receiver_new refuses cfg: the file the message starts with
 * (prefix) is writable by others. */
static void
refused_writable(const aim_config *cfg, const char *prefix, const char *what)
{
    aim_ssf_receiver *r;
    aim_error         err;

    r = aim_ssf_receiver_new(cfg, &err);
    CHECKF(r == NULL && err.status == AIM_CONFIG && tu_contains(err.message, prefix)
           && tu_contains(err.message, "writable by others"),
           "%s: %s", what, r ? "accepted" : err.message);
    aim_ssf_receiver_free(r);
}

/*
 * strict_modes holds for the receiver's files as for the verifier's:
 * whoever can change the transmitter's key file can sign SETs (disable
 * any agent, or lift the identity provider's disable), and whoever can
 * change the state file can raise trust.  The transmitter keys at start
 * and on reload, the state file at start and when it is followed after a
 * replacement, by the verifier and by the receiver.
 */
static void
test_strict_modes(void)
{
    const char       *st = fresh_state("ssf-strict.state");
    const char       *keys;
    char              other[2048], *a, *b, *tok_y, repl[600];
    aim_config       *cfg;
    aim_ssf_receiver *r;
    aim_verifier     *v;
    aim_state        *tmp;
    aim_error         err;
    char              set_hdr[] = "{\"alg\":\"ES256\",\"typ\":\"secevent+jwt\","
                                  "\"kid\":\"tx-other\"}";

    t_section("ssf: strict_modes on the transmitter keys and the state file");
    setup_keys();
    {
        size_t len;
        char  *text = tu_read(tx_jwks, &len);

        keys = strdup(tu_write("ssf-strict-jwks.json", text, len));
        free(text);
    }

    /* the transmitter's key file, writable by others, at start */
    CHECK(chmod(keys, 0666) == 0);
    cfg = aim_config_new();
    aim_config_set(cfg, "state", st, &err);
    aim_config_set(cfg, "ssf_keys", keys, &err);
    aim_config_set(cfg, "ssf_issuer", TX_ISS, &err);
    aim_config_set(cfg, "ssf_audience", RX_AUD, &err);
    refused_writable(cfg, "ssf_keys: ", "a transmitter key file others can write");
    CHECK_ST(aim_config_set(cfg, "strict_modes", "off", &err), AIM_OK, &err);
    r = aim_ssf_receiver_new(cfg, &err);
    CHECKF(r != NULL, "strict_modes off: %s", r ? "" : err.message);
    aim_ssf_receiver_free(r);
    CHECK_ST(aim_config_set(cfg, "strict_modes", "on", &err), AIM_OK, &err);
    CHECK(chmod(keys, 0644) == 0);

    /* the state file, writable by others, at start */
    CHECK(chmod(st, 0666) == 0);
    refused_writable(cfg, "state: ", "a state file others can write");
    CHECK(chmod(st, 0660) == 0);

    /* a key file made writable by others later: the reload is refused, the
     * keys loaded before stay, and a key added by whoever wrote it signs
     * nothing */
    r = aim_ssf_receiver_new(cfg, &err);
    CHECKF(r != NULL, "%s", r ? "" : err.message);
    a = tu_jwk(tx_key, AIM_ALG_ES256, "tx-1");
    b = tu_jwk(other_key, AIM_ALG_ES256, "tx-other");
    snprintf(other, sizeof(other), "{\"keys\":[%s,%s]}", a, b);
    free(a);
    free(b);
    tu_write("ssf-strict-jwks.json", other, (size_t) -1);
    CHECK(chmod(keys, 0666) == 0);
    tu_now += 2;
    if (r != NULL) {
        char *c = claims_of(SUB_X, RISC "account-disabled", "{}", NULL);
        char *set = sign_set(other_key, AIM_ALG_ES256, set_hdr, c);

        free(c);
        CHECKF(apply_free(r, set) != AIM_OK && res.outcome == AIM_SSF_REJECTED,
               "a SET signed by a key written into a key file others can write: %s",
               res.message);
        CHECK(untouched(st, AGENT_X));
        /* fixed: the new key set is loaded */
        CHECK(chmod(keys, 0644) == 0);
        tu_now += 2;
        c = claims_of(SUB_X, RISC "account-disabled", "{}", NULL);
        set = sign_set(other_key, AIM_ALG_ES256, set_hdr, c);
        free(c);
        CHECKF(apply_free(r, set) == AIM_OK, "the key file fixed: %s", res.message);
    }
    aim_ssf_receiver_free(r);
    aim_config_free(cfg);

    /* The state file replaced by one others can write: not followed (the
     * check at start would refuse it); every agent refused, no SET
     * acknowledged, until it is fixed. */
    st = fresh_state("ssf-strict2.state");
    snprintf(repl, sizeof(repl), "%s.new", st);
    unlink(repl);
    r = receiver(st);
    v = tu_verifier("state", st, NULL);
    tok_y = token_for(AGENT_Y);
    CHECK_ST(decide(v, tok_y), AIM_OK, NULL);
    tmp = aim_state_open(repl, &err);
    CHECK(tmp != NULL);
    aim_state_close(tmp);
    CHECK(chmod(repl, 0666) == 0 && rename(repl, st) == 0);
    tu_now += 2;
    CHECKF(decide(v, tok_y) == AIM_INTERNAL,
           "a replacement others can write is not followed: %s", last_msg);
    CHECK_INT(apply_free(r, mkset(SUB_X, RISC "account-disabled", "{}", NULL)),
              AIM_INTERNAL);
    CHECK_INT(res.outcome, AIM_SSF_REJECTED);
    CHECK(untouched(st, AGENT_X));
    CHECK(chmod(st, 0660) == 0);
    tu_now += 2;
    CHECKF(decide(v, tok_y) == AIM_OK, "the replacement fixed: followed (%s)", last_msg);
    CHECK_INT(apply_free(r, mkset(SUB_X, RISC "account-disabled", "{}", NULL)), AIM_OK);
    /* removed to start afresh: no reason to refuse before a process
     * creates it anew (nginx workers never do) */
    CHECK(rename(st, repl) == 0);
    tu_now += 2;
    CHECKF(decide(v, tok_y) == AIM_OK, "the state file removed: %s", last_msg);
    CHECK(rename(repl, st) == 0);
    tu_now += 2;
    CHECKF(decide(v, tok_y) == AIM_OK, "and back: %s", last_msg);
    /* the mapped file itself made writable by others: refused at the next
     * check, as a reloaded list would be, until it is fixed */
    CHECK(chmod(st, 0666) == 0);
    tu_now += 2;
    CHECKF(decide(v, tok_y) == AIM_INTERNAL, "the live file made 0666: %s", last_msg);
    CHECK(chmod(st, 0660) == 0);
    tu_now += 2;
    CHECKF(decide(v, tok_y) == AIM_OK, "and fixed: %s", last_msg);
    free(tok_y);
    aim_verifier_free(v);
    aim_ssf_receiver_free(r);

    /* The journal (SETs received, this host's signals to publish): refused
     * at start when others can write it; a replacement others can write,
     * or one this process cannot open, is not followed and no SET is
     * acknowledged until it is fixed. */
    st = fresh_state("ssf-strict3.state");
    {
        char        jpath[600], jnew[600];
        aim_journal *j;

        snprintf(jpath, sizeof(jpath), "%s.ssf", st);
        snprintf(jnew, sizeof(jnew), "%s.ssf.new", st);
        r = receiver(st);
        aim_ssf_receiver_free(r);
        CHECK(chmod(jpath, 0666) == 0);
        cfg = rx_config(st);
        refused_writable(cfg, "shared signals journal: ", "a journal others can write");
        j = aim_journal_open(st, 1, &err);
        CHECK(j == NULL && tu_contains(err.message, "writable by others"));
        aim_journal_close(j);
        j = aim_journal_open(st, 0, &err);
        CHECKF(j != NULL, "strict_modes off: %s", j ? "" : err.message);
        aim_journal_close(j);
        CHECK(chmod(jpath, 0660) == 0);

        r = aim_ssf_receiver_new(cfg, &err);
        CHECKF(r != NULL, "%s", r ? "" : err.message);
        if (r != NULL) {
            tu_now += 2;
            CHECK_INT(apply_free(r, mkset(SUB_X, RISC "account-disabled", "{}",
                                          NULL)), AIM_OK);
            /* replaced by a copy others can write */
            unlink(jnew);
            j = aim_journal_open(jnew, 0, &err);      /* jnew.ssf */
            aim_journal_close(j);
            {
                char made[700];

                snprintf(made, sizeof(made), "%s.ssf", jnew);
                CHECK(chmod(made, 0666) == 0 && rename(made, jpath) == 0);
            }
            tu_now += 2;
            CHECK_INT(apply_free(r, mkset(SUB_X, RISC "account-enabled", "{}",
                                          NULL)), AIM_INTERNAL);
            CHECKF(res.outcome == AIM_SSF_REJECTED,
                   "a journal replaced by one others can write: %s", res.message);
            CHECK(chmod(jpath, 0660) == 0);
            tu_now += 2;
            CHECK_INT(apply_free(r, mkset(SUB_X, RISC "account-enabled", "{}",
                                          NULL)), AIM_OK);
            /* replaced by a directory: not followed, and not gone on with */
            CHECK(unlink(jpath) == 0 && mkdir(jpath, 0700) == 0);
            tu_now += 2;
            CHECK_INT(apply_free(r, mkset(SUB_X, RISC "account-disabled", "{}",
                                          NULL)), AIM_INTERNAL);
            CHECK(rmdir(jpath) == 0);
        }
        aim_ssf_receiver_free(r);
        aim_config_free(cfg);
    }
    free((char *) keys);
}

/* aimctl ssf status: the journal read as it is, never created, rebuilt
 * or changed. */
static void
test_journal_read(void)
{
    const char           *st = fresh_state("ssf-read.state");
    aim_journal          *j;
    aim_journal_snapshot *snap = NULL;
    aim_journal_event     evs[4];
    aim_error             err;
    struct stat           sb, sb2;
    char                  path[600];
    uint64_t              acks[1];
    size_t                n;
    int                   more;
    int64_t               now = aim_now();
    FILE                 *fp;

    t_section("ssf: the journal read for operators");
    snprintf(path, sizeof(path), "%s.ssf", st);
    CHECK_INT(aim_journal_read(st, now, &snap, &err), AIM_NO_TOKEN);
    CHECK(snap == NULL && strstr(err.message, "No such file") != NULL);
    CHECK(stat(path, &sb) != 0);                /* not created */
    CHECK_INT(aim_journal_read(NULL, now, &snap, &err), AIM_CONFIG);

    j = aim_journal_open(st, 1, &err);
    CHECK(j != NULL);
    if (j == NULL) {
        return;
    }
    CHECK(aim_journal_append(j, AIM_SIGNAL_DISABLED, AGENT_X, now - 30, -1,
                             "incident 1", NULL) == 0);
    CHECK(aim_journal_append(j, AIM_SIGNAL_DISTRUSTED, AGENT_Y, now - 20, 12.5,
                             "probing", NULL) == 0);
    CHECK(aim_journal_append(j, AIM_SIGNAL_ENABLED, AGENT_X, now - 10, -1, "",
                             NULL) == 0);
    CHECK(aim_journal_lock(j) == 0);
    aim_journal_stream_note(j, TX_ISS, NULL, NULL, NULL, now - 5);
    aim_journal_stream_note(j, TX_ISS, "stream-1", "s-42", NULL, now - 4);
    aim_journal_stream_note(j, TX2_ISS, NULL, NULL, "paused", now - 3);
    aim_journal_unlock(j);
    /* Poller "host-b" reads two and acknowledges the second only;
     * "host-c" reads nothing yet. */
    CHECK(aim_journal_poll(j, "host-b", NULL, 0, 2, 0, now, evs, &n, &more) == 0
          && n == 2 && more == 1);
    acks[0] = evs[1].seq;
    CHECK(aim_journal_poll(j, "host-b", acks, 1, 0, 0, now, evs, &n, &more) == 0);
    CHECK(aim_journal_poll(j, "host-c", NULL, 0, 0, 0, now, evs, &n, &more) == 0);
    aim_journal_close(j);

    CHECK(stat(path, &sb) == 0);
    CHECK_INT(aim_journal_read(st, now, &snap, &err), AIM_OK);
    if (snap != NULL) {
        CHECK_INT(snap->nevents, 3);
        CHECK_INT(snap->next_seq, 4);
        CHECK(snap->events[0].seq == 1 && snap->events[0].kind == AIM_SIGNAL_DISABLED
              && strcmp(snap->events[0].agent, AGENT_X) == 0
              && strcmp(snap->events[0].reason, "incident 1") == 0
              && snap->events[0].time == now - 30);
        CHECK(snap->events[1].kind == AIM_SIGNAL_DISTRUSTED
              && snap->events[1].trust == 12.5);
        CHECK_INT(snap->nstreams, 2);
        CHECK(snap->nstreams == 2
              && strcmp(snap->streams[0].issuer, TX_ISS) == 0
              && snap->streams[0].accepted == 2
              && strcmp(snap->streams[0].stream_id, "stream-1") == 0
              && strcmp(snap->streams[0].state, "s-42") == 0
              && snap->streams[0].verified_at == now - 4
              && strcmp(snap->streams[1].status, "paused") == 0);
        CHECK_INT(snap->nconsumers, 2);
        CHECK(snap->nconsumers == 2 && strcmp(snap->consumers[0].name, "host-b") == 0
              && snap->consumers[0].acked == 0 && snap->consumers[0].pending == 2);
        CHECK(snap->nconsumers == 2 && strcmp(snap->consumers[1].name, "host-c") == 0
              && snap->consumers[1].pending == 3);
        CHECK(strlen(snap->instance) == 32);
        free(snap);
        snap = NULL;
    }
    /* Read-only: the file is byte for byte what it was. */
    CHECK(stat(path, &sb2) == 0 && sb2.st_mtim.tv_sec == sb.st_mtim.tv_sec
          && sb2.st_mtim.tv_nsec == sb.st_mtim.tv_nsec);

    /* A damaged journal is refused as it is, not rebuilt. */
    fp = fopen(path, "r+");
    CHECK(fp != NULL && fwrite("XXXXXXXX", 1, 8, fp) == 8);
    if (fp != NULL) fclose(fp);
    CHECK_INT(aim_journal_read(st, now, &snap, &err), AIM_CONFIG);
    CHECK(strstr(err.message, "bad header") != NULL);
    fp = fopen(path, "rb");
    {
        char head[8] = { 0 };

        CHECK(fp != NULL && fread(head, 1, 8, fp) == 8
              && memcmp(head, "XXXXXXXX", 8) == 0);
        if (fp != NULL) fclose(fp);
    }
    CHECK(truncate(path, 4096) == 0);
    CHECK_INT(aim_journal_read(st, now, &snap, &err), AIM_CONFIG);
    CHECK(strstr(err.message, "not a journal of this version") != NULL);
    CHECK(stat(path, &sb2) == 0 && sb2.st_size == 4096);
}

/* A journal opened before fork() (an nginx master) still excludes: the
 * child takes its own lock, not the parent's. */
static void
test_journal_fork(void)
{
    const char  *st = fresh_state("ssf-fork.state");
    aim_journal *j;
    aim_error    err;
    int          fds[2], status;
    char         c = 0;
    pid_t        pid;

    t_section("ssf: the journal's lock across fork()");
    j = aim_journal_open(st, 1, &err);
    CHECK(j != NULL && pipe(fds) == 0);
    pid = fork();
    if (pid == 0) {
        int ok = aim_journal_lock(j) == 0;

        c = ok ? 'L' : 'F';
        if (write(fds[1], &c, 1) != 1) {
            _exit(3);
        }
        usleep(1200000);             /* far longer than the 200 ms wait */
        aim_journal_unlock(j);
        _exit(ok ? 0 : 1);
    }
    CHECK(read(fds[0], &c, 1) == 1 && c == 'L');
    CHECKF(aim_journal_lock(j) != 0, "the parent waits for the child's lock "
           "and gives up after 200 ms");
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(aim_journal_lock(j) == 0);
    aim_journal_unlock(j);
    close(fds[0]);
    close(fds[1]);
    aim_journal_close(j);
}

/* ------------------------------------------------------------------ */
/* Audit                                                               */

static char *audit_line;

static void
audit_sink(void *ud, const char *line)
{
    (void) ud;
    free(audit_line);
    audit_line = strdup(line);
}

static void
test_audit(void)
{
    const char       *st = fresh_state("ssf-audit.state");
    aim_ssf_receiver *r = receiver(st);
    char             *set;
    unsigned char     zero[64];

    t_section("ssf: one audit line per SET");
    aim_ssf_receiver_set_audit(r, audit_sink, NULL);
    CHECK_ST(apply_free(r, mkset(SUB_X, CAEP "session-revoked", "{}", NULL)),
             AIM_OK, NULL);
    CHECKF(tu_contains(audit_line, "\"decision\":\"note\"")
           && tu_contains(audit_line, "\"adapter\":\"ssf\"")
           && tu_contains(audit_line, "\"event\":\"session-revoked\"")
           && tu_contains(audit_line, "\"outcome\":\"applied\"")
           && tu_contains(audit_line, "\"agent\":\"" AGENT_X "\"")
           && tu_contains(audit_line, "\"iss\":\"" TX_ISS "\""), "%s", audit_line);
    memset(zero, 0, sizeof(zero));
    set = mkset(SUB_X, CAEP "session-revoked", "{}", NULL);
    {
        char *forged = tu_with_sig(set, zero, 64);

        CHECK_ST(apply_free(r, forged), AIM_BAD_SIGNATURE, NULL);
    }
    free(set);
    CHECKF(tu_contains(audit_line, "\"decision\":\"deny\"")
           && tu_contains(audit_line, "\"reason\":\"bad_signature\"")
           && tu_contains(audit_line, "\"err\":\"authentication_failed\"")
           && !tu_contains(audit_line, "\"agent\""), "%s", audit_line);

    /* what is not even a JWS is audited too, as is an empty push */
    free(audit_line);
    audit_line = NULL;
    {
        CHECK_ST(aim_ssf_apply(r, "hello", 5, &res), AIM_MALFORMED, NULL);
        CHECKF(audit_line != NULL && tu_contains(audit_line, "\"decision\":\"deny\"")
               && tu_contains(audit_line, "\"reason\":\"malformed\"")
               && tu_contains(audit_line, "\"err\":\"invalid_request\""), "%s",
               audit_line ? audit_line : "(no audit line)");
        free(audit_line);
        audit_line = NULL;
        CHECK_ST(aim_ssf_apply(r, "", 0, &res), AIM_NO_TOKEN, NULL);
        CHECKF(audit_line != NULL && tu_contains(audit_line, "\"reason\":\"no_token\""),
               "%s", audit_line ? audit_line : "(no audit line)");
    }
    free(audit_line);
    audit_line = NULL;
    aim_ssf_receiver_free(r);
}

/* ------------------------------------------------------------------ */
/* The other direction: this host's signals, published and polled      */

static const char *
write_key(const char *name, EVP_PKEY *k, mode_t mode)
{
    const char *p = tu_path(name);
    FILE       *fp = fopen(p, "w");

    if (fp == NULL || PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL) != 1) {
        exit(2);
    }
    fclose(fp);
    chmod(p, mode);
    return p;
}

static aim_config *
pub_config(const char *state, const char *key)
{
    aim_config *cfg = rx_config(state);
    aim_error   err;

    aim_config_set(cfg, "ssf_sign_key", key, &err);
    aim_config_set(cfg, "ssf_publish_issuer", "https://host-a.test", &err);
    aim_config_set(cfg, "ssf_publish_audience", "urn:aim:fleet", &err);
    return cfg;
}

/* Host B: receives from host A with A's published JWKS. */
static aim_ssf_receiver *
host_b(const char *state, const char *jwks_path)
{
    aim_config       *cfg = aim_config_new();
    aim_ssf_receiver *r;
    aim_error         err;

    aim_config_set(cfg, "issuer", TU_ISS, &err);
    aim_config_set(cfg, "state", state, &err);
    aim_config_set(cfg, "ssf_keys", jwks_path, &err);
    aim_config_set(cfg, "ssf_issuer", "https://host-a.test", &err);
    aim_config_set(cfg, "ssf_audience", "urn:aim:fleet", &err);
    r = aim_ssf_receiver_new(cfg, &err);
    aim_config_free(cfg);
    if (r == NULL) {
        fprintf(stderr, "host_b: %s\n", err.message);
        exit(2);
    }
    return r;
}

static void
test_signer(void)
{
    EVP_PKEY    *rsa = tu_key(AIM_ALG_RS256), *es = tu_key_new(AIM_ALG_ES256, 0);
    aim_signer  *s;
    aim_error    err;
    json_t      *jwk;
    char        *jwks, *tok;
    aim_keyset  *ks;
    aim_jws      jws;

    t_section("ssf: the host's signing key");
    CHECK(aim_signer_load(write_key("sign-open.pem", es, 0644), &err) == NULL
          && tu_contains(err.message, "others can read"));
    CHECK(aim_signer_load(write_key("sign-rsa.pem", rsa, 0600), &err) == NULL
          && tu_contains(err.message, "P-256"));
    CHECK(aim_signer_load(tu_write("sign-junk.pem", "junk", (size_t) -1), &err) == NULL);
    s = aim_signer_load(write_key("sign-es.pem", es, 0640), &err);
    CHECKF(s != NULL, "%s", err.message);
    CHECK(aim_signer_alg(s) == AIM_ALG_ES256 && strlen(aim_signer_kid(s)) == 43);
    jwk = aim_signer_jwk(s);
    jwks = json_dumps(jwk, JSON_COMPACT);
    ks = aim_keyset_parse_jwks(jwks, strlen(jwks), "signer", &err);
    CHECKF(ks != NULL && aim_keyset_find(ks, aim_signer_kid(s)) != NULL,
           "its JWK loads as a verification key: %s", err.message);
    tok = aim_signer_sign(s, "secevent+jwt", json_object_get(jwk, "kid"), &err);
    CHECK(tok == NULL);                          /* claims must be an object */
    tok = aim_signer_sign(s, "secevent+jwt", jwk, &err);
    CHECK(tok != NULL && aim_jws_parse(tok, strlen(tok), &jws, &err) == AIM_OK);
    CHECK(aim_key_verify(aim_keyset_find(ks, aim_signer_kid(s)),
                         (const unsigned char *) tok, jws.signing_input_len,
                         jws.sig, jws.sig_len, &err) == AIM_OK);
    CHECK_STR(jws.typ, "secevent+jwt");
    aim_jws_clear(&jws);
    free(tok);
    aim_keyset_free(ks);
    free(jwks);
    json_decref(jwk);
    aim_signer_free(s);
    EVP_PKEY_free(es);

    es = tu_key_new(AIM_ALG_EDDSA, 0);
    s = aim_signer_load(write_key("sign-ed.pem", es, 0600), &err);
    CHECK(s != NULL && aim_signer_alg(s) == AIM_ALG_EDDSA);
    aim_signer_free(s);
    EVP_PKEY_free(es);
}

static void
test_publish(void)
{
    const char        *sa = fresh_state("ssf-host-a.state");
    const char        *sb = fresh_state("ssf-host-b.state");
    EVP_PKEY          *hk = tu_key_new(AIM_ALG_ES256, 0);
    const char        *kp = write_key("host-a.pem", hk, 0600);
    aim_config        *cfg = pub_config(sa, kp);
    aim_ssf_publisher *p;
    aim_ssf_receiver  *rb;
    aim_verifier      *va, *vb;
    aim_error          err;
    char              *jwks, *set, *set2, *tok;
    uint64_t           seq;
    aim_journal       *j;
    aim_journal_event  ev;
    int                i;

    t_section("ssf: this host's signals, signed and received by another host");
    p = aim_ssf_publisher_new(cfg, &err);
    CHECKF(p != NULL, "%s", err.message);
    {
        int rw = -1;

        CHECK(aim_ssf_publisher_watched(p, 0, &rw) != NULL && rw == 1
              && tu_contains(aim_ssf_publisher_watched(p, 0, &rw),
                             "ssf-host-a.state.ssf"));
        CHECK(aim_ssf_publisher_watched(p, 1, &rw) == NULL);
    }
    jwks = aim_ssf_publisher_jwks(p);
    rb = host_b(sb, tu_write("host-a-jwks.json", jwks, (size_t) -1));
    free(jwks);

    set = NULL;
    CHECK_ST(aim_ssf_publish_next(p, 0, &seq, &set, &err), AIM_OK, &err);
    CHECK(set == NULL);                          /* nothing yet */

    /* An operator revokes agent X here. */
    CHECK_ST(aim_ssf_record(cfg, AGENT_X, AIM_SIGNAL_DISABLED, "investigation",
                            &err), AIM_OK, &err);
    CHECK_ST(aim_ssf_record(cfg, "bad agent", AIM_SIGNAL_DISABLED, NULL, &err),
             AIM_BAD_CLAIM, &err);
    CHECK_ST(aim_ssf_publish_next(p, 0, &seq, &set, &err), AIM_OK, &err);
    CHECK(set != NULL && seq == 1);
    CHECK_ST(aim_ssf_publish_next(p, 0, &seq, &set2, &err), AIM_OK, &err);
    CHECK(set2 != NULL);
    CHECK_ST(aim_ssf_apply(rb, set, strlen(set), &res), AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_APPLIED);
    CHECK_STR(res.event, "account-disabled");
    CHECK_STR(res.agent, AGENT_X);
    /* Signed again (ECDSA signatures differ), it is the same SET. */
    CHECK(strcmp(set, set2) != 0);
    CHECK_ST(aim_ssf_apply(rb, set2, strlen(set2), &res), AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_DUPLICATE);
    free(set);
    free(set2);
    vb = tu_verifier("state", sb, NULL);
    tok = token_for(AGENT_X);
    CHECK_ST(decide(vb, tok), AIM_REVOKED, NULL);
    free(tok);

    /* Lifted here, lifted there. */
    tu_now += 1;
    CHECK_ST(aim_ssf_record(cfg, AGENT_X, AIM_SIGNAL_ENABLED, NULL, &err), AIM_OK,
             &err);
    CHECK_ST(aim_ssf_publish_next(p, 1, &seq, &set, &err), AIM_OK, &err);
    CHECK(set != NULL && seq == 2);
    CHECK_ST(aim_ssf_apply(rb, set, strlen(set), &res), AIM_OK, NULL);
    CHECK_INT(res.outcome, AIM_SSF_APPLIED);
    free(set);
    tok = token_for(AGENT_X);
    CHECK_ST(decide(vb, tok), AIM_OK, NULL);
    free(tok);

    /* Agent Y probes host A until its trust falls: host A records one
     * distrust signal, host B takes it and distrusts Y too. */
    va = tu_verifier("state", sa, NULL);
    tok = tu_token(NULL, "{\"sub\":\"" AGENT_Y "\",\"scope\":\"kb:write\"}");
    for (i = 0; i < 40; i++) {
        decide(va, tok);                        /* kb:read not granted */
    }
    CHECK(trust_of(sa, AGENT_Y) < 50);
    j = aim_journal_open(sa, 1, &err);
    CHECK(aim_journal_next(j, 2, 0, &ev) == 1 && ev.kind == AIM_SIGNAL_DISTRUSTED
          && strcmp(ev.agent, AGENT_Y) == 0 && strcmp(ev.reason, "probing") == 0);
    CHECKF(aim_journal_next(j, ev.seq, 0, &ev) == 0,
           "one signal per episode, not one per denial");
    aim_journal_close(j);
    CHECK_ST(aim_ssf_publish_next(p, 2, &seq, &set, &err), AIM_OK, &err);
    CHECK(set != NULL && seq == 3);
    CHECK_ST(aim_ssf_apply(rb, set, strlen(set), &res), AIM_OK, NULL);
    CHECK_STR(res.event, "risk-level-change");
    CHECK_INT(res.outcome, AIM_SSF_APPLIED);
    free(set);
    free(tok);
    tok = tu_token(NULL, "{\"sub\":\"" AGENT_Y "\",\"scope\":\"kb:read\"}");
    CHECK_ST(decide(vb, tok), AIM_LOW_TRUST, NULL);
    /* Host B does not echo it: its trust fell by a received signal. */
    {
        aim_config        *cb = pub_config(sb, kp);
        aim_ssf_publisher *pb = aim_ssf_publisher_new(cb, &err);

        CHECK(pb != NULL);
        for (i = 0; i < 10; i++) {
            decide(vb, tok);
        }
        CHECK_ST(aim_ssf_publish_next(pb, 0, &seq, &set, &err), AIM_OK, &err);
        CHECKF(set == NULL, "host B publishes nothing of its own");
        free(set);
        aim_ssf_publisher_free(pb);
        aim_config_free(cb);
    }
    free(tok);

    /* Events older than ssf_max_age are not published any more. */
    tu_now += 604800 + 1;
    CHECK_ST(aim_ssf_publish_next(p, 0, &seq, &set, &err), AIM_OK, &err);
    CHECK(set == NULL);

    aim_verifier_free(va);
    aim_verifier_free(vb);
    aim_ssf_receiver_free(rb);
    aim_ssf_publisher_free(p);
    aim_config_free(cfg);
    EVP_PKEY_free(hk);
}

static void
test_poll(void)
{
    const char          *sa = fresh_state("ssf-poll-a.state");
    const char          *sb = fresh_state("ssf-poll-b.state");
    EVP_PKEY            *hk = tu_key_new(AIM_ALG_EDDSA, 0);
    aim_config          *cfg = pub_config(sa, write_key("poll-a.pem", hk, 0600));
    aim_ssf_publisher   *p;
    aim_ssf_receiver    *rb;
    aim_ssf_poll_counts  counts;
    aim_ssf_err          code;
    aim_error            err;
    char                *jwks, *resp, *next, name[64], req[256];
    const char          *req_s;
    json_t              *doc;
    int                  i;

    t_section("ssf: RFC 8936 poll between two hosts");
    p = aim_ssf_publisher_new(cfg, &err);
    CHECKF(p != NULL, "%s", err.message);
    jwks = aim_ssf_publisher_jwks(p);
    rb = host_b(sb, tu_write("poll-a-jwks.json", jwks, (size_t) -1));
    free(jwks);
    for (i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "agent-p%d", i);
        aim_ssf_record(cfg, name, AIM_SIGNAL_SESSIONS_REVOKED, NULL, &err);
    }

    /* Host B polls 8 at a time and acknowledges what it applied. */
    req_s = "{\"maxEvents\":8,\"returnImmediately\":true}";
    CHECK_ST(aim_ssf_poll(p, "host-b", req_s, strlen(req_s), &resp, &code, &err),
             AIM_OK, &err);
    doc = json_loads(resp, 0, NULL);
    CHECK(json_object_size(json_object_get(doc, "sets")) == 8
          && json_is_true(json_object_get(doc, "moreAvailable")));
    json_decref(doc);
    CHECK_ST(aim_ssf_apply_poll(rb, resp, strlen(resp), 8, &next, &counts, &err),
             AIM_OK, &err);
    CHECK(counts.received == 8 && counts.acknowledged == 8 && counts.applied == 8
          && counts.more);
    CHECK(tu_contains(next, "\"ack\":[") && tu_contains(next, "\"maxEvents\":8"));
    free(resp);
    /* Another poller is served independently. */
    CHECK_ST(aim_ssf_poll(p, "idp", "{}", 2, &resp, &code, &err), AIM_OK, &err);
    doc = json_loads(resp, 0, NULL);
    CHECKF(json_object_size(json_object_get(doc, "sets")) == 16,
           "default maxEvents 16");
    json_decref(doc);
    free(resp);
    for (i = 0; i < 3; i++) {
        char *n2 = NULL;

        CHECK_ST(aim_ssf_poll(p, "host-b", next, strlen(next), &resp, &code, &err),
                 AIM_OK, &err);
        free(next);
        CHECK_ST(aim_ssf_apply_poll(rb, resp, strlen(resp), 8, &n2, &counts, &err),
                 AIM_OK, &err);
        free(resp);
        next = n2;
    }
    CHECKF(counts.received == 0 && !counts.more, "all 20 delivered and "
           "acknowledged (%u left)", counts.received);
    free(next);
    CHECK(trust_of(sb, "agent-p19") == 100.0);
    {
        aim_error          e2;
        aim_state         *stp = aim_state_open(sb, &e2);
        aim_state_signals  m;

        CHECK(aim_state_signals_get(stp, "agent-p0", &m) == 1 && m.revoked_before > 0);
        CHECK(aim_state_signals_get(stp, "agent-p19", &m) == 1);
        aim_state_close(stp);
    }

    /* Unacknowledged SETs come again; setErrs acknowledge. */
    aim_ssf_record(cfg, "agent-q", AIM_SIGNAL_DISABLED, NULL, &err);
    CHECK_ST(aim_ssf_poll(p, "host-c", "{\"maxEvents\":0}", 15, &resp, &code, &err),
             AIM_OK, &err);
    CHECK(tu_contains(resp, "\"sets\":{}"));
    free(resp);
    for (i = 0; i < 2; i++) {
        CHECK_ST(aim_ssf_poll(p, "host-c", "{\"maxEvents\":64}", 16, &resp, &code,
                              &err), AIM_OK, &err);
        doc = json_loads(resp, 0, NULL);
        CHECKF(json_object_size(json_object_get(doc, "sets")) == 21,
               "poll %d: unacknowledged, all 21 again", i);
        json_decref(doc);
        free(resp);
    }
    {
        char jti[64];
        const char *inst;

        aim_ssf_poll(p, "host-c", "{\"maxEvents\":1}", 15, &resp, &code, &err);
        doc = json_loads(resp, 0, NULL);
        inst = json_object_iter_key(json_object_iter(json_object_get(doc, "sets")));
        snprintf(jti, sizeof(jti), "%s", inst != NULL ? inst : "");
        json_decref(doc);
        free(resp);
        snprintf(req, sizeof(req), "{\"setErrs\":{\"%s\":{\"err\":\"invalid_key\","
                 "\"description\":\"x\"}},\"maxEvents\":64}", jti);
        CHECK_ST(aim_ssf_poll(p, "host-c", req, strlen(req), &resp, &code, &err),
                 AIM_OK, &err);
        doc = json_loads(resp, 0, NULL);
        CHECK(json_object_size(json_object_get(doc, "sets")) == 20
              && json_object_get(json_object_get(doc, "sets"), jti) == NULL);
        json_decref(doc);
        free(resp);
    }

    /* Bad requests. */
    {
        static const char *const bad[] = {
            "[]", "{\"maxEvents\":-1}", "{\"maxEvents\":\"8\"}",
            "{\"returnImmediately\":1}", "{\"ack\":\"x\"}", "{\"ack\":[1]}",
            "{\"setErrs\":[]}", "{\"setErrs\":{\"x\":{\"description\":\"d\"}}}",
            "not json", NULL
        };

        for (i = 0; bad[i] != NULL; i++) {
            resp = NULL;
            CHECKF(aim_ssf_poll(p, "host-b", bad[i], strlen(bad[i]), &resp, &code,
                                &err) == AIM_MALFORMED
                   && code == AIM_SSF_ERR_INVALID_REQUEST && resp == NULL,
                   "bad poll request refused: %s", bad[i]);
        }
        CHECK(aim_ssf_poll(p, "", "{}", 2, &resp, &code, &err) != AIM_OK
              && code == AIM_SSF_ERR_ACCESS_DENIED);
    }
    /* Bad responses to a poll change nothing. */
    {
        static const char *const bad[] = {
            "[]", "{}", "{\"sets\":[]}", "{\"sets\":{\"a\":1}}",
            "{\"sets\":{},\"moreAvailable\":\"yes\"}", NULL
        };

        for (i = 0; bad[i] != NULL; i++) {
            next = NULL;
            CHECKF(aim_ssf_apply_poll(rb, bad[i], strlen(bad[i]), 8, &next, &counts,
                                      &err) == AIM_MALFORMED && next == NULL,
                   "bad poll response refused: %s", bad[i]);
        }
        /* A SET under a jti that is not its own is refused, not applied. */
        CHECK_ST(aim_ssf_poll(p, "host-d", "{\"maxEvents\":1}", 15, &resp, &code,
                              &err), AIM_OK, &err);
        doc = json_loads(resp, 0, NULL);
        {
            json_t *sets = json_object_get(doc, "sets"), *moved;
            json_t *val = json_object_iter_value(json_object_iter(sets));

            moved = json_pack("{s:{s:O}}", "sets", "not-its-jti", val);
            free(resp);
            resp = json_dumps(moved, JSON_COMPACT);
            json_decref(moved);
        }
        json_decref(doc);
        CHECK_ST(aim_ssf_apply_poll(rb, resp, strlen(resp), 8, &next, &counts, &err),
                 AIM_OK, &err);
        CHECK(counts.refused == 1 && tu_contains(next, "\"setErrs\":{\"not-its-jti\""));
        free(resp);
        free(next);
    }

    aim_ssf_receiver_free(rb);
    aim_ssf_publisher_free(p);
    aim_config_free(cfg);
    EVP_PKEY_free(hk);
}

void
test_ssf(void)
{
    long long t0 = tu_now;

    test_config();
    test_session_revoked();
    test_cut_events();
    test_subjects();
    test_disable_enable();
    test_chain();
    test_trust_events();
    test_noted_and_ignored();
    test_refusals();
    test_keys_and_issuers();
    test_replay_floor();
    test_state_replaced();
    test_state_orphaned();
    test_strict_modes();
    test_journal_read();
    test_journal_fork();
    test_audit();
    test_signer();
    test_publish();
    test_poll();
    tu_now = t0;
    EVP_PKEY_free(tx_key);
    EVP_PKEY_free(tx_ed_key);
    EVP_PKEY_free(other_key);
    free((char *) tx_jwks);
    tx_key = NULL;
}
