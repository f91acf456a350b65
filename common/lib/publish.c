/*
 * publish.c -- a host's own shared signals: recording them in the
 * journal's outbox (journal.c), signing them as SETs with the host's key
 * (signer.c), and serving them to pollers (RFC 8936).  docs/ssf.md says
 * what is published, when, and how fast it travels.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "journal.h"
#include "json.h"
#include "signer.h"
#include "ssf.h"
#include "util.h"

#define PUB_DEFAULT_EVENTS  16
#define PUB_MAX_ACKS        1024

#define CAEP "https://schemas.openid.net/secevent/caep/event-type/"
#define RISC "https://schemas.openid.net/secevent/risc/event-type/"

struct aim_ssf_publisher {
    struct aim_config  cfg;
    aim_signer        *signer;
    aim_journal       *journal;
    char               instance[33];
    aim_log_fn         log;
    void              *log_ud;
};

/* An agent id this host can publish: what a token's agent may be, and
 * short enough for the outbox. */
static aim_status
agent_publishable(const char *agent, aim_error *err)
{
    size_t len = agent != NULL ? strlen(agent) : 0, i;

    if (len == 0 || len > AIM_JOURNAL_AGENT_MAX) {
        return aim_fail(err, AIM_BAD_CLAIM, "an agent id of 1 to %d bytes is "
                        "needed to publish a signal", AIM_JOURNAL_AGENT_MAX);
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) agent[i];
        if (c < 0x20 || c == 0x7f || c == ' ' || c == '>') {
            return aim_fail(err, AIM_BAD_CLAIM, "\"%.100s\" is not an agent id",
                            agent);
        }
    }
    return AIM_OK;
}

aim_status
aim_ssf_record(const aim_config *cfg, const char *agent, aim_signal_kind kind,
               const char *reason, aim_error *err)
{
    aim_journal *j;
    aim_status   s;
    int          rc;

    if (kind < AIM_SIGNAL_DISABLED || kind > AIM_SIGNAL_DISTRUSTED) {
        return aim_fail(err, AIM_CONFIG, "no such signal kind %d", (int) kind);
    }
    if ((s = agent_publishable(agent, err)) != AIM_OK) {
        return s;
    }
    j = aim_journal_open(cfg->state, cfg->strict_modes, err);
    if (j == NULL) {
        return err != NULL ? err->status : AIM_CONFIG;
    }
    rc = aim_journal_append(j, (int) kind, agent, aim_now(), -1, reason, NULL);
    aim_journal_close(j);
    if (rc != 0) {
        return aim_fail(err, AIM_INTERNAL, "the shared signals journal stays "
                        "locked; the signal was not recorded");
    }
    return AIM_OK;
}

aim_status
aim_ssf_clear(const aim_config *cfg, const char *agent, aim_error *err)
{
    aim_state *st;
    int        rc;

    if (cfg->state == NULL) {
        return aim_fail(err, AIM_CONFIG, "state: no state file configured");
    }
    if (agent == NULL || agent[0] == '\0') {
        return aim_fail(err, AIM_CONFIG, "no agent given");
    }
    st = aim_state_open(cfg->state, err);
    if (st == NULL) {
        return AIM_CONFIG;
    }
    rc = aim_state_signals_clear(st, agent);
    aim_state_close(st);
    if (rc != 0) {
        return aim_fail(err, AIM_CONFIG, "agent \"%.100s\" has no slot in the "
                        "state file", agent);
    }
    return AIM_OK;
}

/* ------------------------------------------------------------------ */
/* The publisher                                                       */

#define plog(p, ...)  aim_logf((p)->log, (p)->log_ud, __VA_ARGS__)

aim_ssf_publisher *
aim_ssf_publisher_new(const aim_config *cfg, aim_error *err)
{
    aim_ssf_publisher *p;

    if (cfg->ssf_sign_key == NULL) {
        aim_fail(err, AIM_CONFIG, "ssf_sign_key: no key to sign this host's "
                 "signals with");
        return NULL;
    }
    if (cfg->ssf_publish_issuer == NULL || cfg->ssf_publish_audience == NULL) {
        aim_fail(err, AIM_CONFIG, "%s: needed to publish this host's signals",
                 cfg->ssf_publish_issuer == NULL ? "ssf_publish_issuer"
                                                 : "ssf_publish_audience");
        return NULL;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL || aim_config_copy(&p->cfg, cfg) != 0) {
        free(p);
        aim_fail(err, AIM_INTERNAL, "out of memory");
        return NULL;
    }
    p->signer = aim_signer_load(p->cfg.ssf_sign_key, err);
    if (p->signer == NULL) {
        if (err != NULL && err->status == AIM_CONFIG) {
            char msg[sizeof(err->message)];

            snprintf(msg, sizeof(msg), "ssf_sign_key: %s", err->message);
            memcpy(err->message, msg, sizeof(msg));
        }
        aim_ssf_publisher_free(p);
        return NULL;
    }
    p->journal = aim_journal_open(p->cfg.state, p->cfg.strict_modes, err);
    if (p->journal == NULL) {
        aim_ssf_publisher_free(p);
        return NULL;
    }
    aim_journal_instance(p->journal, p->instance);
    return p;
}

void
aim_ssf_publisher_free(aim_ssf_publisher *p)
{
    if (p == NULL) {
        return;
    }
    aim_signer_free(p->signer);
    aim_journal_close(p->journal);
    aim_config_clear(&p->cfg);
    free(p);
}

void
aim_ssf_publisher_set_log(aim_ssf_publisher *p, aim_log_fn fn, void *ud)
{
    p->log = fn;
    p->log_ud = ud;
}

const char *
aim_ssf_publisher_watched(const aim_ssf_publisher *p, size_t i, int *write)
{
    *write = 1;
    return i == 0 ? aim_journal_path(p->journal) : NULL;
}

char *
aim_ssf_publisher_jwks(const aim_ssf_publisher *p)
{
    json_t *set = json_pack("{s:[o]}", "keys", aim_signer_jwk(p->signer));
    char   *s = set != NULL ? json_dumps(set, JSON_COMPACT) : NULL;

    json_decref(set);
    return s;
}

/* Is the agent id a URI (SPIFFE IDs, URLs, URNs)?  Then "uri", else
 * "opaque": a receiving AIM host takes either as the agent. */
static int
looks_like_uri(const char *s)
{
    const char *c = strchr(s, ':');
    const char *p;

    if (c == NULL || c == s || c[1] == '\0') {
        return 0;
    }
    for (p = s; p < c; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (p > s && ((*p >= '0' && *p <= '9') || *p == '+' || *p == '-'
                            || *p == '.'))))
        {
            return 0;
        }
    }
    return 1;
}

/* The jti of outbox event seq: unique per journal instance. */
static void
event_jti(const aim_ssf_publisher *p, uint64_t seq, char out[64])
{
    snprintf(out, 64, "%s-%llu", p->instance, (unsigned long long) seq);
}

/* Its claims: the same event always gives the same payload. */
static json_t *
event_claims(const aim_ssf_publisher *p, const aim_journal_event *ev)
{
    json_t *c, *event;
    char    jti[64];
    const char *type;

    event_jti(p, ev->seq, jti);
    switch (ev->kind) {
    case AIM_SIGNAL_DISABLED:
        type = RISC "account-disabled";
        event = json_object();
        break;
    case AIM_SIGNAL_ENABLED:
        type = RISC "account-enabled";
        event = json_object();
        break;
    case AIM_SIGNAL_SESSIONS_REVOKED:
        type = CAEP "session-revoked";
        event = json_pack("{s:I, s:s}", "event_timestamp", (json_int_t) ev->time,
                          "initiating_entity", "admin");
        break;
    case AIM_SIGNAL_DISTRUSTED:
        type = CAEP "risk-level-change";
        event = json_pack("{s:I, s:s, s:s, s:s}", "event_timestamp",
                          (json_int_t) ev->time, "principal", "USER",
                          "current_level", "HIGH", "risk_reason",
                          ev->reason[0] ? ev->reason : "behaviour");
        break;
    default:
        return NULL;
    }
    if (event == NULL) {
        return NULL;
    }
    c = json_pack("{s:s, s:s, s:s, s:s, s:I, s:{s:s, s:s}, s:{s:o}}",
                  "iss", p->cfg.ssf_publish_issuer,
                  "aud", p->cfg.ssf_publish_audience,
                  "jti", jti, "txn", jti, "iat", (json_int_t) ev->time,
                  "sub_id", "format", looks_like_uri(ev->agent) ? "uri" : "opaque",
                  looks_like_uri(ev->agent) ? "uri" : "id", ev->agent,
                  "events", type, event);
    return c;
}

static char *
sign_event(const aim_ssf_publisher *p, const aim_journal_event *ev,
           aim_error *err)
{
    json_t *c = event_claims(p, ev);
    char   *set;

    if (c == NULL) {
        aim_fail(err, AIM_INTERNAL, "outbox event %llu cannot be expressed",
                 (unsigned long long) ev->seq);
        return NULL;
    }
    set = aim_signer_sign(p->signer, AIM_SSF_TYP, c, err);
    json_decref(c);
    return set;
}

aim_status
aim_ssf_publish_next(aim_ssf_publisher *p, uint64_t after, uint64_t *seq,
                     char **set, aim_error *err)
{
    aim_journal_event ev;
    int               rc;

    *set = NULL;
    *seq = 0;
    rc = aim_journal_next(p->journal, after, aim_now() - p->cfg.ssf_max_age, &ev);
    if (rc < 0) {
        return aim_fail(err, AIM_INTERNAL, "the shared signals journal stays "
                        "locked");
    }
    if (rc == 0) {
        return AIM_OK;
    }
    *set = sign_event(p, &ev, err);
    if (*set == NULL) {
        return AIM_INTERNAL;
    }
    *seq = ev.seq;
    return AIM_OK;
}

/* "INSTANCE-SEQ" of this journal -> SEQ; 0 for anything else. */
static uint64_t
jti_seq(const aim_ssf_publisher *p, const char *jti)
{
    const char         *n;
    unsigned long long  v = 0;

    if (strncmp(jti, p->instance, 32) != 0 || jti[32] != '-') {
        return 0;
    }
    for (n = jti + 33; *n >= '0' && *n <= '9'; n++) {
        if (v > (UINT64_MAX - 9) / 10) {
            return 0;
        }
        v = v * 10 + (unsigned long long) (*n - '0');
    }
    return *n == '\0' && n > jti + 33 ? (uint64_t) v : 0;
}

static aim_status
bad_request(aim_ssf_err *code, aim_error *err, const char *what)
{
    *code = AIM_SSF_ERR_INVALID_REQUEST;
    return aim_fail(err, AIM_MALFORMED, "poll request: %s", what);
}

aim_status
aim_ssf_poll(aim_ssf_publisher *p, const char *consumer, const char *request,
             size_t len, char **response, aim_ssf_err *code, aim_error *err)
{
    json_t            *req, *v, *out = NULL, *sets;
    uint64_t          *acks = NULL;
    size_t             nacks = 0, i, n = 0;
    unsigned           max = PUB_DEFAULT_EVENTS;
    int                more = 0;
    aim_journal_event  evs[AIM_SSF_POLL_MAX_EVENTS];
    aim_status         s = AIM_OK;
    const char        *key;

    *response = NULL;
    *code = AIM_SSF_ERR_NONE;
    if (consumer == NULL || consumer[0] == '\0'
        || strlen(consumer) > AIM_SSF_MAX_CONSUMER)
    {
        *code = AIM_SSF_ERR_ACCESS_DENIED;
        return aim_fail(err, AIM_NO_TOKEN, "poll: the poller is not identified");
    }
    if (request == NULL || len == 0 || len > AIM_SSF_MAX_POLL_REQUEST) {
        return bad_request(code, err, "empty or too large");
    }
    req = aim_json_parse_object(request, len, "poll request", err);
    if (req == NULL) {
        *code = AIM_SSF_ERR_INVALID_REQUEST;
        return AIM_MALFORMED;
    }

    v = json_object_get(req, "maxEvents");
    if (v != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            s = bad_request(code, err, "\"maxEvents\" is not a whole number");
            goto done;
        }
        max = json_integer_value(v) > AIM_SSF_POLL_MAX_EVENTS
              ? AIM_SSF_POLL_MAX_EVENTS : (unsigned) json_integer_value(v);
    }
    v = json_object_get(req, "returnImmediately");
    if (v != NULL && !json_is_boolean(v)) {
        s = bad_request(code, err, "\"returnImmediately\" is not a boolean");
        goto done;
    }
    v = json_object_get(req, "ack");
    if (v != NULL && (!json_is_array(v) || json_array_size(v) > PUB_MAX_ACKS)) {
        s = bad_request(code, err, "\"ack\" is not an array of at most 1024 jti");
        goto done;
    }
    acks = calloc(PUB_MAX_ACKS * 2, sizeof(*acks));
    if (acks == NULL) {
        s = aim_fail(err, AIM_INTERNAL, "out of memory");
        goto done;
    }
    for (i = 0; v != NULL && i < json_array_size(v); i++) {
        const json_t *a = json_array_get(v, i);

        if (!json_is_string(a)) {
            s = bad_request(code, err, "\"ack\" holds a non-string");
            goto done;
        }
        if ((acks[nacks] = jti_seq(p, json_string_value(a))) != 0) {
            nacks++;
        }
    }
    /* A SET the poller reported in "setErrs" (RFC 8936 section 2.4.4)
     * counts as acknowledged: the same bytes would fail again. */
    v = json_object_get(req, "setErrs");
    if (v != NULL && (!json_is_object(v) || json_object_size(v) > PUB_MAX_ACKS)) {
        s = bad_request(code, err, "\"setErrs\" is not an object of at most "
                        "1024 members");
        goto done;
    }
    if (v != NULL) {
        json_t *e;

        json_object_foreach(v, key, e) {
            const json_t *ec = json_object_get(e, "err");
            const json_t *ed = json_object_get(e, "description");

            if (!json_is_object(e) || !json_is_string(ec)
                || (ed != NULL && !json_is_string(ed)))
            {
                s = bad_request(code, err, "a \"setErrs\" member needs an "
                                "\"err\" string");
                goto done;
            }
            if ((acks[nacks] = jti_seq(p, key)) != 0) {
                nacks++;
                plog(p, AIM_LOG_WARN, "poller \"%.100s\" refused SET %.80s: "
                     "%.40s: %.200s", consumer, key, json_string_value(ec),
                     ed != NULL ? json_string_value(ed) : "");
            }
        }
    }

    if (aim_journal_poll(p->journal, consumer, acks, nacks, max,
                         aim_now() - p->cfg.ssf_max_age, aim_now(), evs, &n,
                         &more) != 0)
    {
        s = aim_fail(err, AIM_INTERNAL, "the shared signals journal stays "
                     "locked");
        goto done;
    }
    out = json_object();
    sets = json_object();
    json_object_set_new(out, "sets", sets);
    for (i = 0; i < n; i++) {
        char  jti[64];
        char *set = sign_event(p, &evs[i], err);

        if (set == NULL) {
            s = AIM_INTERNAL;
            goto done;
        }
        event_jti(p, evs[i].seq, jti);
        json_object_set_new(sets, jti, json_string(set));
        free(set);
    }
    json_object_set_new(out, "moreAvailable", json_boolean(more));
    *response = json_dumps(out, JSON_COMPACT);
    if (*response == NULL) {
        s = aim_fail(err, AIM_INTERNAL, "out of memory");
    }

done:
    free(acks);
    json_decref(out);
    json_decref(req);
    return s;
}
