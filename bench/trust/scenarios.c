/*
 * scenarios.c -- what continuous trust is for, measured.
 *
 * Scripted agents, normal and hostile, driven with the replaceable clock
 * through the core's decision path shaped exactly as each adapter shapes
 * it (nginx: aim_decide per request, action = method, resource = URI;
 * PAM: aim_decide per login/sudo, resource = account; PostgreSQL:
 * aim_decide per bind, then aim_decide_token per statement with the
 * statement's class and relation, denials-only audit).  Each agent has a
 * state file of its own, so scenarios do not disturb one another.
 *
 * Prints a table: for each hostile scenario the number of its events
 * until the first low_trust refusal; for each normal one the number of
 * false denials; how long a refused agent stays refused.  With --check,
 * exits non-zero when a goal is missed (every hostile scenario caught
 * within 50 events, no false denial of a normal one), except for the
 * scenarios documented as out of reach (docs/trust.md).
 *
 * Usage: scenarios DIR [--check]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/evp.h>
#include "tu.h"

#define T0        1800000000LL      /* a Friday, 08:00 UTC */
#define DAY       86400LL
#define GOAL      50                /* hostile: refused within this many events */
#define TRUST_MIN 50                /* the default trust_min */
#define HOSTILE_EVENTS 300          /* a hostile phase goes on this long,
                                     * refused or not, then stops */

/* Tokens, keys, verifiers and the clock are the unit tests' (tests/unit/tu.c). */
static char *
issue(const char *sub, const char *scope)
{
    return tu_agent_token(sub, scope, 40 * DAY, NULL);
}

static aim_verifier *
verifier(const char *state)
{
    unlink(state);
    /* One token per agent for the whole scenario (weeks of clock). */
    return tu_verifier("state", state, "max_lifetime", "3456000", NULL);
}

/* ------------------------------------------------------------------ */
/* One agent under test                                                */

typedef struct {
    const char   *name;
    int           hostile;
    const char   *adapter;
    aim_verifier *v;
    char         *tok;
    aim_token    *held;          /* a PostgreSQL session's bound token */
    long          events;        /* all events */
    long          hostile_events;/* events since the hostile phase began */
    long          false_denials; /* normal events refused for trust */
    long          caught_at;     /* hostile events until the first low_trust */
    int64_t       refused_since; /* first low_trust of the hostile phase */
    int64_t       refused_for;   /* how long it then stayed refused */
    double        min_trust;
    const char   *signal;        /* the signal that caught it */
    int           in_hostile;
} agent;

static void
agent_init(agent *a, const char *name, int hostile, const char *adapter,
           const char *scope)
{
    char state[64];

    memset(a, 0, sizeof(*a));
    a->name = name;
    a->hostile = hostile;
    a->adapter = adapter;
    snprintf(state, sizeof(state), "%s.state", name);
    a->v = verifier(tu_path(state));
    a->tok = issue(name, scope);
    a->caught_at = -1;
    a->min_trust = 100;
}

static void
agent_free(agent *a)
{
    aim_token_free(a->held);
    aim_verifier_free(a->v);
    free(a->tok);
}

/*
 * One event the way the adapter makes it.  expect_scope: the action is
 * within the token's scopes (a refusal for scope is then a probe, not a
 * false denial).
 */
/* A request of a's adapter for action on resource, with a's token and
 * scopes[0] (NULL: none) as the scope it asks for. */
static aim_request
agent_request(const agent *a, const char *action, const char *resource,
              const char *const *scopes)
{
    aim_request r;

    memset(&r, 0, sizeof(r));
    r.adapter = a->adapter;
    r.action = action;
    r.resource = resource;
    r.scopes = scopes;
    r.nscopes = scopes[0] != NULL ? 1 : 0;
    r.token = a->tok;
    r.token_len = strlen(a->tok);
    r.scheme = strcmp(a->adapter, "nginx") == 0 ? AIM_SCHEME_BEARER
                                               : AIM_SCHEME_NONE;
    return r;
}

static aim_status
event(agent *a, const char *action, const char *resource, const char *scope)
{
    const char   *scopes[1] = { scope };
    aim_request   r = agent_request(a, action, resource, scopes);
    aim_decision  d;
    aim_status    s;

    r.client = "127.0.0.1";
    if (strcmp(a->adapter, "pg") == 0 && a->held != NULL) {
        r.token = NULL;                    /* a statement of a bound session */
        r.token_len = 0;
        r.audit = AIM_AUDIT_DENIALS;
        s = aim_decide_token(a->v, a->held, &r, &d);
    } else {
        s = aim_decide(a->v, &r, &d);
        if (strcmp(a->adapter, "pg") == 0 && s == AIM_OK && a->held == NULL) {
            a->held = aim_token_ref(d.token);      /* the bind */
        }
    }
    a->events++;
    if (d.trust >= 0 && d.trust < a->min_trust) {
        a->min_trust = d.trust;
    }
    if (a->in_hostile) {
        a->hostile_events++;
    }
    /*
     * Caught: from this event on, even what its scopes grant is refused
     * (a prober's own refusals stay insufficient_scope: the scope decides
     * before trust).  A false denial: a normal agent refused for trust.
     */
    if (a->in_hostile && a->caught_at < 0 && d.trust >= 0 && d.trust < TRUST_MIN) {
        a->caught_at = a->hostile_events;
        a->refused_since = tu_now;
        a->signal = d.signal;
    }
    if (s == AIM_LOW_TRUST && !a->in_hostile) {
        a->false_denials++;
    }
    aim_decision_clear(&d);
    return s;
}

/* After a hostile phase: how long, from its first refusal, until a
 * granted request passes again (asked once a minute). */
static void
time_refused(agent *a, const char *action, const char *resource,
             const char *scope)
{
    int64_t start = tu_now;
    int     i;

    if (a->caught_at < 0) {
        return;
    }
    a->in_hostile = 0;
    for (i = 0; i < 24 * 60; i++) {
        const char   *scopes[1] = { scope };
        aim_request   r = agent_request(a, action, resource, scopes);
        aim_decision  d;
        aim_status    s;

        s = aim_decide(a->v, &r, &d);
        aim_decision_clear(&d);
        if (s == AIM_OK) {
            a->refused_for = tu_now - a->refused_since;
            return;
        }
        tu_now += 60;
    }
    a->refused_for = tu_now - start;
}

/* ------------------------------------------------------------------ */
/* The scenarios                                                       */

static int64_t
day_start(int64_t t)
{
    return t - (t % DAY);
}

/* Normal: an API reader with a daily rhythm, 14 days: office hours,
 * a request every ~40 s on ~30 documents, a few new ones a day. */
static void
normal_reader(agent *a)
{
    char uri[64];
    int  day, i;

    agent_init(a, "reader", 0, "nginx", "kb:GET");
    for (day = 0; day < 14; day++) {
        int64_t d0 = day_start(T0) + day * DAY;

        if (day % 7 >= 1 && day % 7 <= 2) {
            continue;                    /* the weekend: quiet */
        }
        tu_now = d0 + 8 * 3600 + (day * 97) % 600;
        for (i = 0; i < 900; i++) {      /* 08:00 - 18:00 */
            int doc = (i * 7 + day) % 30;

            if (i % 150 == 149) {
                doc = 100 + day * 10 + i / 150;     /* something new */
            }
            snprintf(uri, sizeof(uri), "/kb/doc-%d", doc);
            event(a, "GET", uri, "kb:GET");
            tu_now += 30 + (i * 13) % 21;
        }
    }
}

static const char *const batch_tables[] = { "orders", "customers", "invoices" };

/* The nightly batch's 14 nights on PostgreSQL: at 02:00 a bind, then
 * 2,000 statements in five minutes (reads of three tables, writes to
 * one), quiet the rest of the day. */
static void
batch_nights(agent *a)
{
    int night, i;

    for (night = 0; night < 14; night++) {
        tu_now = day_start(T0) + (night + 1) * DAY + 2 * 3600;
        aim_token_free(a->held);
        a->held = NULL;
        event(a, "bind", "role etl", "pg:role:etl");
        for (i = 0; i < 2000; i++) {
            if (i % 4 == 3) {
                event(a, "INSERT", "ledger", NULL);
            } else {
                event(a, "SELECT", batch_tables[i % 3], NULL);
            }
            if (i % 7 == 0) {
                tu_now += 1;          /* ~6.7 statements a second */
            }
        }
    }
}

/* Normal: a nightly batch job. */
static void
normal_batch(agent *a)
{
    agent_init(a, "batch", 0, "pg", "pg:login:batch pg:role:etl");
    batch_nights(a);
}

/* Normal: a deploy agent that uses sudo once a week, logging in a few
 * times a day on weekdays. */
static void
normal_deploy(agent *a)
{
    int day, i;

    agent_init(a, "deploy", 0, "pam", "pam:login:deploy pam:sudo:deploy");
    for (day = 0; day < 28; day++) {
        int64_t d0 = day_start(T0) + day * DAY;

        if (day % 7 >= 1 && day % 7 <= 2) {
            continue;
        }
        for (i = 0; i < 6; i++) {
            tu_now = d0 + 9 * 3600 + i * 3600 + (day * 31) % 900;
            event(a, "login", "account deploy", "pam:login:deploy");
            if (day % 7 == 3 && i == 2) {
                event(a, "sudo", "account deploy", "pam:sudo:deploy");
            }
        }
    }
}

/* Learn a normal pattern for an agent first: three days of the reader's
 * rhythm on its own documents, so hostile phases start from a learnt
 * baseline, as a stolen or subverted agent would. */
static void
learn(agent *a, const char *action, const char *prefix, const char *scope)
{
    char res[64];
    int  day, i;

    for (day = 0; day < 3; day++) {
        tu_now = day_start(T0) + day * DAY + 8 * 3600;
        for (i = 0; i < 300; i++) {
            snprintf(res, sizeof(res), "%s%d", prefix, i % 25);
            event(a, action, res, scope);
            tu_now += 60;
        }
    }
    tu_now = day_start(T0) + 3 * DAY + 10 * 3600;
    a->in_hostile = 1;
}

/* Hostile: a prober asking for what it was not granted, once a second. */
static void
hostile_prober(agent *a)
{
    int i;

    agent_init(a, "prober", 1, "nginx", "api:GET");
    learn(a, "GET", "/api/item-", "api:GET");
    for (i = 0; i < HOSTILE_EVENTS; i++) {
        event(a, "DELETE", "/admin/users", "adm:DELETE");
        tu_now += 1;
    }
    time_refused(a, "GET", "/api/item-1", "api:GET");
}

/*
 * Hostile, through nginx with kb:GET, after a normal week: GET
 * /kb/doc-(first + i), or of i modulo distinct (when not 0), for
 * HOSTILE_EVENTS requests, tick_s seconds passing after every per_tick.
 */
static void
nginx_walk(agent *a, const char *name, int first, int distinct, int per_tick,
           int tick_s)
{
    char uri[64];
    int  i;

    agent_init(a, name, 1, "nginx", "kb:GET");
    learn(a, "GET", "/kb/doc-", "kb:GET");
    for (i = 0; i < HOSTILE_EVENTS; i++) {
        snprintf(uri, sizeof(uri), "/kb/doc-%d", first + (distinct ? i % distinct : i));
        event(a, "GET", uri, "kb:GET");
        if (i % per_tick == per_tick - 1) {
            tu_now += tick_s;
        }
    }
    time_refused(a, "GET", "/kb/doc-1", "kb:GET");
}

/* Hostile: a harvester walking URLs it may read, two a second. */
static void
hostile_harvester_urls(agent *a)
{
    nginx_walk(a, "harvester-urls", 1000, 0, 2, 1);
}

/* Hostile: a harvester walking tables through PostgreSQL, one a second. */
static void
hostile_harvester_tables(agent *a)
{
    char rel[64];
    int  i;

    agent_init(a, "harvester-tables", 1, "pg", "pg:login:app");
    event(a, "bind", "role app", NULL);
    learn(a, "SELECT", "app_table_", NULL);
    for (i = 0; i < HOSTILE_EVENTS; i++) {
        snprintf(rel, sizeof(rel), "schema_%d.table_%d", i / 40, i);
        event(a, "SELECT", rel, NULL);
        tu_now += 1;
    }
    time_refused(a, "SELECT", "app_table_1", NULL);
}

/* Hostile: a stolen token used in a burst on the usual resources, 20
 * requests a second. */
static void
hostile_burst(agent *a)
{
    nginx_walk(a, "burst", 0, 25, 20, 1);
}

/* Hostile: a slow drip, one new document every 6 s during office hours:
 * under the enumeration limit (20 recent, about a minute), no burst, no
 * denial. */
static void
hostile_slow_drip(agent *a)
{
    nginx_walk(a, "slow-drip", 5000, 0, 1, 6);
}

/* Hostile: the credentials of a nightly batch agent, retired six weeks
 * ago (a fresh token for the same agent id), used at the batch's own
 * pace.  Its usual peak has faded to a 64th: the pace is judged afresh,
 * and the first statements must not bring the old peak back whole. */
static void
hostile_dormant(agent *a)
{
    int i;

    agent_init(a, "dormant", 1, "pg", "pg:login:batch pg:role:etl");
    batch_nights(a);
    tu_now = day_start(T0) + 57 * DAY + 14 * 3600;
    free(a->tok);
    a->tok = issue(a->name, "pg:login:batch pg:role:etl");
    aim_token_free(a->held);
    a->held = NULL;
    a->in_hostile = 1;
    event(a, "bind", "role etl", "pg:role:etl");
    for (i = 0; i < HOSTILE_EVENTS; i++) {
        event(a, "SELECT", batch_tables[i % 3], NULL);
        if (i % 7 == 0) {
            tu_now += 1;
        }
    }
    time_refused(a, "bind", "role etl", "pg:role:etl");
}

/* Hostile: a new agent whose very first minutes are a blast of 20
 * requests a second.  The learning period takes its first ten minutes as
 * its usual pace, so a later blast at that pace is not a burst: out of
 * reach by construction (docs/trust.md). */
static void
hostile_new_blaster(agent *a)
{
    char uri[64];
    int  i;

    agent_init(a, "new-blaster", 1, "nginx", "kb:GET");
    a->in_hostile = 1;
    for (i = 0; i < 20 * 600; i++) {          /* ten minutes at 20/s */
        snprintf(uri, sizeof(uri), "/kb/doc-%d", i % 25);
        event(a, "GET", uri, "kb:GET");
        if (i % 20 == 19) {
            tu_now += 1;
        }
    }
    tu_now += DAY;
    a->hostile_events = 0;
    for (i = 0; i < HOSTILE_EVENTS; i++) {
        snprintf(uri, sizeof(uri), "/kb/doc-%d", i % 25);
        event(a, "GET", uri, "kb:GET");
        if (i % 20 == 19) {
            tu_now += 1;
        }
    }
    time_refused(a, "GET", "/kb/doc-1", "kb:GET");
}

/* ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    void      (*run)(agent *);
    int         reachable;   /* 0: documented as out of reach */
    const char *what;
} scenario;

static const scenario scenarios[] = {
    { "reader",           normal_reader,            1, "API reader, daily rhythm, 14 days (nginx)" },
    { "batch",            normal_batch,             1, "nightly batch, 2,000 statements at 02:00, 14 nights (PostgreSQL)" },
    { "deploy",           normal_deploy,            1, "deploy agent, logins, sudo weekly, 4 weeks (PAM)" },
    { "prober",           hostile_prober,           1, "asks for a scope it lacks, 1/s (nginx)" },
    { "harvester-urls",   hostile_harvester_urls,   1, "walks new URLs it may read, 2/s (nginx)" },
    { "harvester-tables", hostile_harvester_tables, 1, "walks new tables, 1/s (PostgreSQL)" },
    { "burst",            hostile_burst,            1, "stolen token, 20/s on usual URLs (nginx)" },
    { "dormant",          hostile_dormant,          1, "a retired nightly batch's agent, 6 weeks later, at its old pace (PostgreSQL)" },
    { "slow-drip",        hostile_slow_drip,        0, "one new URL every 6 s, under every limit (nginx)" },
    { "new-blaster",      hostile_new_blaster,      0, "a new agent at 20/s from its first request (nginx)" },
};

int
main(int argc, char **argv)
{
    size_t i;
    int    check = argc > 2 && strcmp(argv[2], "--check") == 0;
    int    missed = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: scenarios DIR [--check]\n");
        return 2;
    }
    if (access(argv[1], W_OK) != 0) {
        perror(argv[1]);
        return 2;
    }
    tu_init_in(argv[1]);
    tu_std_jwks();

    printf("%-17s %-8s %8s %10s %10s %9s %-14s %s\n", "scenario", "kind",
           "events", "caught at", "false den.", "min trust", "signal",
           "refused for");
    for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        agent a;
        char  caught[32], refused[32];
        int   ok;

        tu_now = T0;
        scenarios[i].run(&a);
        snprintf(caught, sizeof(caught), a.hostile
                 ? (a.caught_at < 0 ? "never" : "%ld") : "-", a.caught_at);
        if (a.hostile && a.caught_at >= 0) {
            snprintf(refused, sizeof(refused), "%lld min",
                     (long long) (a.refused_for / 60));
        } else {
            snprintf(refused, sizeof(refused), "-");
        }
        ok = a.hostile ? (a.caught_at >= 0 && a.caught_at <= GOAL)
                       : a.false_denials == 0;
        printf("%-17s %-8s %8ld %10s %10ld %9.1f %-14s %s%s\n",
               scenarios[i].name, a.hostile ? "hostile" : "normal", a.events,
               caught, a.false_denials, a.min_trust,
               a.signal != NULL ? a.signal : "-", refused,
               ok ? "" : scenarios[i].reachable ? "   MISSED GOAL"
                                                 : "   (out of reach, documented)");
        if (!ok && scenarios[i].reachable) {
            missed++;
        }
        agent_free(&a);
    }
    printf("\ngoal: hostile refused within %d events, no false denial of a "
           "normal agent\n", GOAL);
    for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        printf("  %-17s %s\n", scenarios[i].name, scenarios[i].what);
    }
    if (check) {
        printf("trust-scenarios: %d passed, %d failed, 0 skipped\n",
               (int) (sizeof(scenarios) / sizeof(scenarios[0])) - missed, missed);
    }
    return check && missed > 0 ? 1 : 0;
}
