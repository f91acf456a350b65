/*
 * ssf.c -- aimctl ssf: shared signals from the command line.
 *
 *   aimctl ssf apply   one Security Event Token through libaim's receiver
 *   aimctl ssf poll    RFC 8936: poll a transmitter, apply, acknowledge
 *   aimctl ssf status  the journal: transmitters, this host's outbox,
 *                      its pollers
 *
 * apply and poll go through the public receiver (aim.h: aim_ssf_apply,
 * aim_ssf_apply_poll) exactly as the nginx receiver does; every decision
 * about a SET is the core's.  status reads the journal (journal.h)
 * without changing it.  docs/ssf.md is the profile.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "aimctl.h"
#include "journal.h"

#define POLL_MAX_ROUNDS   100      /* requests in one session */
#define POLL_MAX_INTERVAL 86400

static const char ssf_usage[] =
"Usage: aimctl ssf apply  [RECEIVER OPTIONS] SET|-\n"
"       aimctl ssf poll   URL [RECEIVER OPTIONS] [HTTP OPTIONS] [--max-events N]\n"
"                         [--once | --interval S [--count N]] [--quiet] [--verbose]\n"
"       aimctl ssf status [--config FILE | --state FILE] [--json] [--events N]\n"
"\n"
"Shared signals (OpenID SSF 1.0, CAEP, RISC; docs/ssf.md).  apply verifies\n"
"one Security Event Token (RFC 8417) and writes its effect into the host's\n"
"state file, where every adapter applies it at its next decision.  poll\n"
"does the same for what a transmitter serves by RFC 8936 poll, and\n"
"acknowledges it.  status shows the journal beside the state file: the\n"
"transmitters heard from, this host's own signals waiting for its pollers,\n"
"and how far each poller has read.\n"
"\n"
"Receiver options (each is the option of the same meaning in the host\n"
"configuration file, 'aimctl options'; given here, it wins over the file):\n"
"  --config FILE        the host configuration file (/etc/aim/aim.conf)\n"
"  --keys [ISSUER] JWKS the transmitter's keys (ssf_keys); repeatable\n"
"  --issuer ISS         a transmitter whose SETs are accepted (ssf_issuer);\n"
"                       repeatable\n"
"  --audience AUD       an audience this host receives as (ssf_audience);\n"
"                       repeatable\n"
"  --state FILE         the host's state file (state): the effects live there\n"
"  --token-issuer ISS   a token issuer, for iss_sub subjects (issuer)\n"
"  --max-age S          how old a SET may be (ssf_max_age, default 7 days)\n"
"  --leeway S, --max-lifetime S   as the adapters have them (leeway,\n"
"                       max_lifetime)\n"
"  --audit FILE         append one audit line per SET to FILE (audit)\n"
"\n"
"apply prints one JSON object: {\"acknowledged\", \"outcome\" (applied, noted,\n"
"ignored, duplicate; refused; deferred), \"event\", \"agent\", \"jti\",\n"
"\"issuer\", \"event_time\", \"message\"} and, when refused, \"reason\" and \"err\"\n"
"(the RFC 8935 error code).  '-' reads the SET from standard input.  Exit 0:\n"
"acknowledged; 1: refused, or deferred (the journal or the agent's slot\n"
"could not be had now, or the journal stayed locked at start: deliver it\n"
"again); 2: usage or configuration.\n"
"\n"
"poll sends {\"maxEvents\":N,\"returnImmediately\":true} to URL, applies every\n"
"SET of the answer, acknowledges them (\"ack\", and \"setErrs\" for the\n"
"refused) in the next request, and goes on while the transmitter has more;\n"
"one line of JSON per session says what came.  HTTP options:\n"
HTTP_USAGE
"  --max-size BYTES     the largest answer taken (default and at most 1 MiB)\n"
"  --insecure           refused: give --cacert instead\n"
"Poll options:\n"
"  --max-events N       SETs asked for per request (1-64, default 32)\n"
"  --once               one session (the default): for a systemd timer\n"
"  --interval S         a session every S seconds (1-86400) until stopped\n"
"  --count N            ... N sessions (with --interval)\n"
"  --quiet              no line for a session that brought nothing\n"
"  --verbose            also each SET's audit line\n"
"URL is https:// (http:// only to this host's loopback).  poll exits 0 when\n"
"every session went through, 1 when one failed (the transmitter delivers\n"
"what was not acknowledged again), 2 on usage or configuration errors.\n"
"\n"
"status options:\n"
"  --config FILE, --state FILE   which host (the journal is STATE.ssf)\n"
"  --json               one JSON object\n"
"  --events N           show the last N outbox events (text default 20,\n"
"                       JSON default all; 0: all)\n"
"status never creates, rebuilds or changes the journal.\n";

/* ------------------------------------------------------------------ */
/* The receiver's configuration                                        */

enum {
    OPT_CONFIG = OPT_HTTP_END + 1,
    OPT_KEYS,
    OPT_ISSUER,
    OPT_AUDIENCE,
    OPT_STATE,
    OPT_TOKEN_ISSUER,
    OPT_MAX_AGE,
    OPT_LEEWAY,
    OPT_MAX_LIFETIME,
    OPT_AUDIT,
    OPT_MAX_EVENTS,
    OPT_ONCE,
    OPT_INTERVAL,
    OPT_COUNT,
    OPT_QUIET,
    OPT_VERBOSE,
    OPT_JSON,
    OPT_EVENTS
};

#define RECEIVER_LONG_OPTIONS \
    { "config",        required_argument, NULL, OPT_CONFIG }, \
    { "keys",          required_argument, NULL, OPT_KEYS }, \
    { "issuer",        required_argument, NULL, OPT_ISSUER }, \
    { "audience",      required_argument, NULL, OPT_AUDIENCE }, \
    { "state",         required_argument, NULL, OPT_STATE }, \
    { "token-issuer",  required_argument, NULL, OPT_TOKEN_ISSUER }, \
    { "max-age",       required_argument, NULL, OPT_MAX_AGE }, \
    { "leeway",        required_argument, NULL, OPT_LEEWAY }, \
    { "max-lifetime",  required_argument, NULL, OPT_MAX_LIFETIME }, \
    { "audit",         required_argument, NULL, OPT_AUDIT }

/* Each receiver option: the core option it sets; required ones must be
 * given when no --config is. */
static const struct {
    int         opt;
    const char *flag, *name;
    int         required;
} receiver_options[] = {
    { OPT_KEYS,         "--keys",         "ssf_keys",     1 },
    { OPT_ISSUER,       "--issuer",       "ssf_issuer",   1 },
    { OPT_AUDIENCE,     "--audience",     "ssf_audience", 1 },
    { OPT_STATE,        "--state",        "state",        1 },
    { OPT_TOKEN_ISSUER, "--token-issuer", "issuer",       0 },
    { OPT_MAX_AGE,      "--max-age",      "ssf_max_age",  0 },
    { OPT_LEEWAY,       "--leeway",       "leeway",       0 },
    { OPT_MAX_LIFETIME, "--max-lifetime", "max_lifetime", 0 },
    { OPT_AUDIT,        "--audit",        "audit",        0 },
};

#define RECEIVER_OPTIONS (sizeof(receiver_options) / sizeof(receiver_options[0]))

typedef struct {
    aim_config *cfg;
    int         have_config;
    int         given[RECEIVER_OPTIONS];
} receiver_opts;

/* c is a receiver option: apply it (1), or not one (0). */
static int
receiver_opt(receiver_opts *ro, int c)
{
    size_t i;

    if (c == OPT_CONFIG) {
        cli_config_load(ro->cfg, optarg);
        ro->have_config = 1;
        return 1;
    }
    for (i = 0; i < RECEIVER_OPTIONS; i++) {
        if (receiver_options[i].opt == c) {
            cli_config_set(ro->cfg, receiver_options[i].flag,
                           receiver_options[i].name, optarg);
            ro->given[i] = 1;
            return 1;
        }
    }
    return 0;
}

/* Operational messages worth an operator's eyes (a transmitter key file
 * that no longer loads) go to standard error. */
static void
receiver_log(void *ud, int level, const char *msg)
{
    (void) ud;
    if (level <= AIM_LOG_ERR) {
        fprintf(stderr, "%s: %s\n", cmd, msg);
    }
}

static aim_ssf_receiver *
receiver_open(receiver_opts *ro)
{
    aim_ssf_receiver *r;
    aim_error         err;
    size_t            i;

    /* Without a host file these must be given; with one, the core says
     * which is missing from both. */
    for (i = 0; i < RECEIVER_OPTIONS && !ro->have_config; i++) {
        if (receiver_options[i].required && !ro->given[i]) {
            usage_error("%s is required (or --config)", receiver_options[i].flag);
        }
    }
    r = aim_ssf_receiver_new(ro->cfg, &err);
    aim_config_free(ro->cfg);
    ro->cfg = NULL;
    if (r == NULL && err.status == AIM_INTERNAL) {
        /* The journal is busy (or memory short): nothing was read or
         * applied; a transmitter or timer tries again. */
        fail(EXIT_REJECTED, "%s; nothing applied, try again", err.message);
    }
    if (r == NULL) {
        fail(EXIT_USAGE, "%s", err.message);
    }
    aim_ssf_receiver_set_log(r, receiver_log, NULL);
    return r;
}

static const char *const outcome_names[] = {
    "refused", "applied", "noted", "ignored", "duplicate"
};

/* ------------------------------------------------------------------ */
/* apply                                                               */

static int
ssf_apply(int argc, char **argv)
{
    static const struct option opts[] = {
        RECEIVER_LONG_OPTIONS,
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    receiver_opts     ro = { cli_config_new(), 0, { 0 } };
    aim_ssf_receiver *r;
    aim_ssf_result    res;
    const char       *arg;
    char             *set;
    size_t            len;
    json_t           *o;
    int               c, rc;

    while ((c = next_opt(argc, argv, opts)) != -1) {
        if (c == 'h') {
            aim_config_free(ro.cfg);
            fputs(ssf_usage, stdout);
            return EXIT_OK;
        }
        (void) receiver_opt(&ro, c);
    }
    arg = one_arg(argc, argv, "no SET given (SET, or '-' for standard input)",
                  "one SET at a time, please");
    r = receiver_open(&ro);
    set = read_arg(arg, "SET", &len);
    aim_ssf_apply(r, set, len, &res);
    free(set);

    o = json_object();
    json_object_set_new(o, "acknowledged", json_boolean(res.status == AIM_OK));
    if (res.status == AIM_OK) {
        json_object_set_new(o, "outcome", json_string(outcome_names[res.outcome]));
    } else {
        json_object_set_new(o, "outcome", json_string(
            res.err == AIM_SSF_ERR_NONE ? "deferred" : "refused"));
        json_object_set_new(o, "reason", json_string(aim_reason(res.status)));
        json_object_set_new(o, "err", res.err != AIM_SSF_ERR_NONE
                            ? json_string(aim_ssf_err_code(res.err)) : json_null());
    }
    json_object_set_new(o, "event", res.event != NULL ? json_string(res.event)
                                                       : json_null());
    json_object_set_new(o, "agent", res.agent[0] ? json_string(res.agent)
                                                 : json_null());
    json_object_set_new(o, "jti", res.jti[0] ? json_string(res.jti) : json_null());
    json_object_set_new(o, "issuer", res.issuer != NULL ? json_string(res.issuer)
                                                        : json_null());
    if (res.event_time > 0) {
        json_object_set_new(o, "event_time", json_integer(res.event_time));
    }
    if (res.state[0]) {
        json_object_set_new(o, "state", json_string(res.state));
    }
    json_object_set_new(o, "message", json_string(res.message));
    print_json(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    flush_stdout();
    rc = res.status == AIM_OK ? EXIT_OK : EXIT_REJECTED;
    aim_ssf_receiver_free(r);
    return rc;
}

/* ------------------------------------------------------------------ */
/* poll                                                                */

static volatile sig_atomic_t stopping;

static void
on_stop(int sig)
{
    (void) sig;
    stopping = 1;
}

static void
print_audit(void *ud, const char *line)
{
    (void) ud;
    puts(line);
}

typedef struct {
    unsigned rounds, received, acknowledged, applied, refused, deferred;
    int      more;                   /* stopped with more waiting */
    char     error[512];
} session;

/* The request with "maxEvents" 0: acknowledge, take nothing more. */
static char *
ack_only(const char *request)
{
    json_t *j = json_loads(request, 0, NULL);
    char   *s;

    if (j == NULL) {
        return NULL;
    }
    json_object_set_new(j, "maxEvents", json_integer(0));
    s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

/* An RFC 8936 error answer ({"err", "description"}) as text. */
static void
answer_error(const http_response *resp, char *out, size_t size)
{
    json_t     *j = json_loadb(resp->body, resp->len, 0, NULL);
    const char *e = json_string_value(json_object_get(j, "err"));
    const char *d = json_string_value(json_object_get(j, "description"));
    char       *ce = clean_text(e != NULL ? e : "", TEXT_TERMINAL);
    char       *cd = clean_text(d != NULL ? d : "", TEXT_TERMINAL);

    snprintf(out, size, "the transmitter answered HTTP %ld%s%.64s%s%.200s", resp->status,
             e != NULL ? ": " : "", ce, d != NULL ? ": " : "", cd);
    free(ce);
    free(cd);
    json_decref(j);
}

/* Send request; 0 and the answer, or -1 with s->error. */
static int
poll_send(const http_opts *ho, const char *url, const char *request,
          http_response *resp, session *s)
{
    char why[384];

    s->rounds++;
    if (http_request(ho, url, request, NULL, NULL, resp, why, sizeof(why)) != 0) {
        snprintf(s->error, sizeof(s->error), "%s", why);
        return -1;
    }
    if (resp->status != 200) {
        answer_error(resp, s->error, sizeof(s->error));
        http_response_clear(resp);
        return -1;
    }
    return 0;
}

/*
 * One session: poll until the transmitter has nothing more, each
 * request acknowledging what the previous answer brought.  0, or -1
 * with s->error (what was applied stays applied; what was not
 * acknowledged comes again).
 */
static int
poll_session(aim_ssf_receiver *r, const http_opts *ho, const char *url,
             unsigned max_events, session *s)
{
    http_response       resp;
    aim_ssf_poll_counts n;
    aim_error           err;
    char               *req, *next, first[96];

    memset(s, 0, sizeof(*s));
    snprintf(first, sizeof(first), "{\"maxEvents\":%u,\"returnImmediately\":true}",
             max_events);
    req = first;
    for (;;) {
        if (poll_send(ho, url, req, &resp, s) != 0) {
            break;
        }
        if (aim_ssf_apply_poll(r, resp.body, resp.len, max_events, &next, &n,
                               &err) != AIM_OK)
        {
            snprintf(s->error, sizeof(s->error), "the answer is not an RFC 8936 "
                     "poll response: %s", err.message);
            http_response_clear(&resp);
            break;
        }
        http_response_clear(&resp);
        s->received += n.received;
        s->acknowledged += n.acknowledged;
        s->applied += n.applied;
        s->refused += n.refused;
        s->deferred += n.deferred;
        if (req != first) {
            free(req);
        }
        req = next;
        if (n.received == 0 && !n.more) {
            break;                          /* nothing came, nothing to ack */
        }
        /* SETs that could not be applied now (the journal or a slot was
         * busy) would come straight back; SETs beyond the rounds of one
         * session wait for the next.  Acknowledge what there is, stop. */
        if (n.deferred > 0 || s->rounds + 1 >= POLL_MAX_ROUNDS || stopping) {
            char *last = ack_only(req);

            s->more = n.more || n.deferred > 0;
            if (last != NULL && poll_send(ho, url, last, &resp, s) == 0) {
                http_response_clear(&resp);
            }
            free(last);
            if (n.deferred > 0 && s->error[0] == '\0') {
                snprintf(s->error, sizeof(s->error), "%u SET%s could not be "
                         "applied now (the journal or an agent's slot was busy); "
                         "the transmitter delivers %s again", s->deferred,
                         s->deferred == 1 ? "" : "s",
                         s->deferred == 1 ? "it" : "them");
            }
            break;
        }
    }
    if (req != first) {
        free(req);
    }
    return s->error[0] ? -1 : 0;
}

static void
print_session(const char *url, const session *s, int64_t started)
{
    json_t *o = json_object();
    char    when[32];

    json_object_set_new(o, "poll", json_string(url));
    json_object_set_new(o, "time", json_string(iso_time(started, when)));
    json_object_set_new(o, "ok", json_boolean(s->error[0] == '\0'));
    json_object_set_new(o, "requests", json_integer(s->rounds));
    json_object_set_new(o, "received", json_integer(s->received));
    json_object_set_new(o, "acknowledged", json_integer(s->acknowledged));
    json_object_set_new(o, "applied", json_integer(s->applied));
    json_object_set_new(o, "refused", json_integer(s->refused));
    json_object_set_new(o, "deferred", json_integer(s->deferred));
    if (s->more) {
        json_object_set_new(o, "more", json_true());
    }
    if (s->error[0]) {
        json_object_set_new(o, "error", json_string(s->error));
    }
    print_json(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
}

static int
ssf_poll(int argc, char **argv)
{
    static const struct option opts[] = {
        RECEIVER_LONG_OPTIONS,
        HTTP_LONG_OPTIONS,
        { "max-events", required_argument, NULL, OPT_MAX_EVENTS },
        { "once",       no_argument,       NULL, OPT_ONCE },
        { "interval",   required_argument, NULL, OPT_INTERVAL },
        { "count",      required_argument, NULL, OPT_COUNT },
        { "quiet",      no_argument,       NULL, OPT_QUIET },
        { "verbose",    no_argument,       NULL, OPT_VERBOSE },
        { "help",       no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    receiver_opts     ro = { cli_config_new(), 0, { 0 } };
    http_opts         ho;
    aim_ssf_receiver *r;
    session           s;
    const char       *url;
    unsigned          max_events = 32;
    int64_t           interval = 0, count = -1, done = 0, start;
    int               c, once = 0, quiet = 0, verbose = 0, failed = 0;
    struct sigaction  sa;

    http_opts_init(&ho);
    while ((c = next_opt(argc, argv, opts)) != -1) {
        if (receiver_opt(&ro, c) || http_opt(&ho, c)) {
            continue;
        }
        switch (c) {
        case OPT_MAX_EVENTS:
            max_events = (unsigned) parse_int("--max-events", optarg, 1,
                                              AIM_SSF_POLL_MAX_EVENTS);
            break;
        case OPT_ONCE:     once = 1; break;
        case OPT_INTERVAL:
            interval = parse_int("--interval", optarg, 1, POLL_MAX_INTERVAL);
            break;
        case OPT_COUNT:    count = parse_int("--count", optarg, 1, INT32_MAX); break;
        case OPT_QUIET:    quiet = 1; break;
        case OPT_VERBOSE:  verbose = 1; break;
        case 'h':
            aim_config_free(ro.cfg);
            fputs(ssf_usage, stdout);
            return EXIT_OK;
        }
    }
    url = one_arg(argc, argv, "no URL given (the transmitter's poll endpoint)",
                  "one URL at a time, please");
    http_check_url("URL", url);
    http_opts_check(&ho, AIM_SSF_MAX_POLL_LEN);
    if (once && interval > 0) {
        usage_error("--once and --interval exclude each other");
    }
    if (count > 0 && interval == 0) {
        usage_error("--count goes with --interval");
    }
    if (quiet && verbose) {
        usage_error("--quiet and --verbose exclude each other");
    }
    if (interval == 0) {
        count = 1;
    }
    r = receiver_open(&ro);
    if (verbose) {
        aim_ssf_receiver_set_audit(r, print_audit, NULL);
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    while (!stopping && (count < 0 || done < count)) {
        struct timespec t0, t1, nap;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        start = aim_now();
        if (poll_session(r, &ho, url, max_events, &s) != 0) {
            failed = 1;
            fprintf(stderr, "%s: %s: %s\n", cmd, url, s.error);
        }
        if (!quiet || s.received > 0 || s.error[0]) {
            print_session(url, &s, start);
        }
        flush_stdout();
        done++;
        if (stopping || (count >= 0 && done >= count)) {
            break;
        }
        /* From the start of one session to the start of the next. */
        clock_gettime(CLOCK_MONOTONIC, &t1);
        nap.tv_sec = (time_t) interval - (t1.tv_sec - t0.tv_sec);
        nap.tv_nsec = t0.tv_nsec - t1.tv_nsec;
        if (nap.tv_nsec < 0) {
            nap.tv_sec--;
            nap.tv_nsec += 1000000000L;
        }
        while (!stopping && nap.tv_sec >= 0 && nanosleep(&nap, &nap) != 0
               && errno == EINTR)
        {
        }
    }
    aim_ssf_receiver_free(r);
    return failed ? EXIT_REJECTED : EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* status                                                              */

static const char *
signal_name(int kind)
{
    switch (kind) {
    case AIM_SIGNAL_DISABLED:         return "disabled";
    case AIM_SIGNAL_ENABLED:          return "enabled";
    case AIM_SIGNAL_SESSIONS_REVOKED: return "sessions-revoked";
    case AIM_SIGNAL_DISTRUSTED:       return "distrusted";
    }
    return "unknown";
}

/* The SSF event a signal is published as. */
static const char *
signal_event(int kind)
{
    switch (kind) {
    case AIM_SIGNAL_DISABLED:         return "account-disabled";
    case AIM_SIGNAL_ENABLED:          return "account-enabled";
    case AIM_SIGNAL_SESSIONS_REVOKED: return "session-revoked";
    case AIM_SIGNAL_DISTRUSTED:       return "risk-level-change";
    }
    return "unknown";
}

static json_t *
jtime(int64_t t)
{
    char buf[32];

    return t > 0 ? json_string(iso_time(t, buf)) : json_null();
}

static json_t *
jtext(const char *s)
{
    json_t *v;
    char   *c = clean_text(s, TEXT_UTF8);

    v = json_string(c);
    free(c);
    return v;
}

static void
status_json(const aim_journal_snapshot *j, size_t first)
{
    json_t *o = json_object(), *a, *e;
    size_t  i;

    json_object_set_new(o, "journal", jtext(j->path));
    json_object_set_new(o, "exists", json_true());
    json_object_set_new(o, "instance", json_string(j->instance));
    json_object_set_new(o, "created", jtime(j->created));
    json_object_set_new(o, "replay", json_pack("{s:I, s:I, s:o}",
                        "remembered", (json_int_t) j->replay_live,
                        "capacity", (json_int_t) AIM_JOURNAL_REPLAY,
                        "floor", j->floor > 0 ? json_integer(j->floor)
                                              : json_null()));
    a = json_array();
    for (i = 0; i < j->nstreams; i++) {
        const aim_journal_stream *st = &j->streams[i];

        e = json_object();
        json_object_set_new(e, "issuer", jtext(st->issuer));
        json_object_set_new(e, "accepted", json_integer((json_int_t) st->accepted));
        json_object_set_new(e, "last_set", jtime(st->last_at));
        json_object_set_new(e, "status", st->status[0] ? jtext(st->status)
                                                       : json_null());
        json_object_set_new(e, "status_at", jtime(st->status_at));
        json_object_set_new(e, "stream_id", st->verified_at > 0
                            ? jtext(st->stream_id) : json_null());
        json_object_set_new(e, "verification_state", st->verified_at > 0
                            ? jtext(st->state) : json_null());
        json_object_set_new(e, "verified_at", jtime(st->verified_at));
        json_array_append_new(a, e);
    }
    json_object_set_new(o, "streams", a);
    a = json_array();
    for (i = first; i < j->nevents; i++) {
        const aim_journal_event *ev = &j->events[i];

        e = json_object();
        json_object_set_new(e, "seq", json_integer((json_int_t) ev->seq));
        json_object_set_new(e, "time", json_integer(ev->time));
        json_object_set_new(e, "time_utc", jtime(ev->time));
        json_object_set_new(e, "signal", json_string(signal_name(ev->kind)));
        json_object_set_new(e, "event", json_string(signal_event(ev->kind)));
        json_object_set_new(e, "agent", jtext(ev->agent));
        json_object_set_new(e, "reason", ev->reason[0] ? jtext(ev->reason)
                                                       : json_null());
        if (ev->kind == AIM_SIGNAL_DISTRUSTED && ev->trust >= 0) {
            json_object_set_new(e, "trust", json_real(ev->trust));
        }
        json_array_append_new(a, e);
    }
    json_object_set_new(o, "outbox", json_pack("{s:I, s:I, s:o}",
                        "next_seq", (json_int_t) j->next_seq,
                        "retained", (json_int_t) j->nevents, "events", a));
    a = json_array();
    for (i = 0; i < j->nconsumers; i++) {
        const aim_journal_consumer *cs = &j->consumers[i];

        e = json_object();
        json_object_set_new(e, "name", jtext(cs->name));
        json_object_set_new(e, "acked", json_integer((json_int_t) cs->acked));
        json_object_set_new(e, "pending", json_integer((json_int_t) cs->pending));
        json_object_set_new(e, "last_poll", jtime(cs->last_poll));
        json_object_set_new(e, "lost", json_integer((json_int_t) cs->lost));
        json_array_append_new(a, e);
    }
    json_object_set_new(o, "pollers", a);
    print_json(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(4));
    json_decref(o);
}

/* An untrusted string on the terminal. */
static void
put_text(const char *s)
{
    char *c = clean_text(s, TEXT_TERMINAL);

    fputs(c, stdout);
    free(c);
}

static void
status_text(const aim_journal_snapshot *j, size_t first)
{
    char   t1[32], t2[32];
    size_t i;

    printf("journal   ");
    put_text(j->path);
    printf("\n          instance %s, created %s\n", j->instance,
           iso_time(j->created, t1));
    printf("replay    %zu of %d SETs remembered", j->replay_live, AIM_JOURNAL_REPLAY);
    if (j->floor > 0) {
        printf("; SETs issued at or before %s are refused (the table filled)",
               iso_time(j->floor, t1));
    }
    printf("\n\n");

    if (j->nstreams == 0) {
        printf("transmitters: none heard from\n");
    } else {
        printf("transmitters:\n");
        for (i = 0; i < j->nstreams; i++) {
            const aim_journal_stream *st = &j->streams[i];

            printf("  ");
            put_text(st->issuer);
            printf("\n    %llu SET%s accepted, the last at %s\n",
                   (unsigned long long) st->accepted, st->accepted == 1 ? "" : "s",
                   iso_time(st->last_at, t1));
            if (st->status[0]) {
                printf("    stream ");
                put_text(st->status);
                printf(" since %s\n", iso_time(st->status_at, t1));
            }
            if (st->verified_at > 0) {
                printf("    verified at %s (stream \"", iso_time(st->verified_at, t1));
                put_text(st->stream_id);
                printf("\", state \"");
                put_text(st->state);
                printf("\")\n");
            }
        }
    }
    printf("\noutbox: %zu signal%s of this host retained, next number %llu\n",
           j->nevents, j->nevents == 1 ? "" : "s", (unsigned long long) j->next_seq);
    if (first > 0) {
        printf("  (%zu older not shown: --events 0 shows all)\n", first);
    }
    if (j->nevents > first) {
        printf("  %6s  %-20s  %-17s %s\n", "SEQ", "TIME (UTC)", "SIGNAL",
               "AGENT (REASON)");
    }
    for (i = first; i < j->nevents; i++) {
        const aim_journal_event *ev = &j->events[i];

        printf("  %6llu  %-20s  %-17s ", (unsigned long long) ev->seq,
               iso_time(ev->time, t1), signal_name(ev->kind));
        put_text(ev->agent);
        if (ev->reason[0]) {
            printf(" (");
            put_text(ev->reason);
            printf(")");
        }
        putchar('\n');
    }
    if (j->nconsumers == 0) {
        printf("\npollers: none yet\n");
        return;
    }
    printf("\npollers:\n  %-32s %8s %8s  %-20s %s\n", "NAME", "ACKED", "PENDING",
           "LAST POLL (UTC)", "LOST");
    for (i = 0; i < j->nconsumers; i++) {
        const aim_journal_consumer *cs = &j->consumers[i];
        char                       *name = clean_text(cs->name, TEXT_TERMINAL);

        printf("  ");
        print_padded(name, 32);
        printf(" %8llu %8llu  %-20s %llu\n", (unsigned long long) cs->acked,
               (unsigned long long) cs->pending, iso_time(cs->last_poll, t2),
               (unsigned long long) cs->lost);
        free(name);
    }
}

static int
ssf_status(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, OPT_CONFIG },
        { "state",  required_argument, NULL, OPT_STATE },
        { "json",   no_argument,       NULL, OPT_JSON },
        { "events", required_argument, NULL, OPT_EVENTS },
        { "help",   no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    aim_config           *cfg = cli_config_new();
    aim_journal_snapshot *j;
    aim_error             err;
    aim_status            s;
    int                   c, json = 0, have = 0;
    int64_t               events = -1;
    size_t                first = 0;
    char                 *state;

    while ((c = next_opt(argc, argv, opts)) != -1) {
        switch (c) {
        case OPT_CONFIG: cli_config_load(cfg, optarg); have = 1; break;
        case OPT_STATE:  cli_config_set(cfg, "--state", "state", optarg); have = 1;
                         break;
        case OPT_JSON:   json = 1; break;
        case OPT_EVENTS: events = parse_int("--events", optarg, 0, AIM_JOURNAL_OUTBOX);
                         break;
        case 'h':
            aim_config_free(cfg);
            fputs(ssf_usage, stdout);
            return EXIT_OK;
        }
    }
    no_more_args(argc, argv);
    if (!have || cli_config_state(cfg) == NULL) {
        usage_error("which host? (--state FILE, or --config FILE naming one)");
    }
    state = xmalloc(strlen(cli_config_state(cfg)) + 1);
    strcpy(state, cli_config_state(cfg));
    aim_config_free(cfg);

    s = aim_journal_read(state, aim_now(), &j, &err);
    if (s == AIM_NO_TOKEN) {
        if (json) {
            json_t *o = json_object();

            json_object_set_new(o, "journal", jtext(state));
            json_object_set_new(o, "exists", json_false());
            print_json(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_decref(o);
        } else {
            printf("no shared signals journal beside \"");
            put_text(state);
            printf("\" yet: no SET received and no signal of this host recorded\n");
        }
        free(state);
        flush_stdout();
        return EXIT_OK;
    }
    free(state);
    if (s != AIM_OK) {
        fail(EXIT_USAGE, "%s", err.message);
    }
    if (events < 0) {
        events = json ? 0 : 20;
    }
    if (events > 0 && (size_t) events < j->nevents) {
        first = j->nevents - (size_t) events;
    }
    if (json) {
        status_json(j, first);
    } else {
        status_text(j, first);
    }
    free(j);
    flush_stdout();
    return EXIT_OK;
}

int
cmd_ssf(int argc, char **argv)
{
    if (argc < 2) {
        usage_error("which action? (apply, poll, status)");
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(ssf_usage, stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "apply") == 0) {
        set_cmd("ssf apply");
        return ssf_apply(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "poll") == 0) {
        set_cmd("ssf poll");
        return ssf_poll(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "status") == 0) {
        set_cmd("ssf status");
        return ssf_status(argc - 1, argv + 1);
    }
    usage_error("no action \"%.32s\" (apply, poll, status)", argv[1]);
}
