/*
 * stats.c -- aimctl stats: the agents, trust and baselines in a host's
 * state file (the state unit, state.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "aimctl.h"
#include "state.h"

aim_state *
open_state(const char *path, unsigned flags)
{
    aim_state   *st;
    aim_error    err;
    struct stat  sb;

    st = aim_state_open_existing(path, flags, &err);
    if (st != NULL) {
        return st;
    }
    if (lstat(path, &sb) != 0) {
        fail(EXIT_USAGE, "%s%s", err.message, errno != ENOENT ? ""
             : " (the adapters create it at their first decision; check the "
               "path given to their 'state' setting)");
    }
    fail(EXIT_USAGE, "%s%s", err.message, !S_ISREG(sb.st_mode) ? ""
         : "; left as it is (aimctl never creates or rebuilds a state file; the "
           "adapters rebuild a damaged one, empty, when they next open or "
           "check it)");
}

typedef struct {
    aim_agent_stats *v;
    size_t           n;
    size_t           cap;
} stats_list;

static void
stats_collect(void *ud, const aim_agent_stats *s)
{
    stats_list *l = ud;

    l->v = grow(l->v, l->n, &l->cap, sizeof(*l->v));
    l->v[l->n++] = *s;
}

static int
stats_by_trust(const void *pa, const void *pb)
{
    const aim_agent_stats *a = pa, *b = pb;

    if (a->trust != b->trust) {
        return a->trust < b->trust ? -1 : 1;
    }
    return strcmp(a->agent, b->agent);
}

static const char stats_usage[] =
"Usage: aimctl stats --state FILE [--json] [--trust-min N]\n"
"\n"
"List the agents in a host's state file (see docs/trust.md), lowest trust\n"
"first: trust, whether the baseline is still being learnt, events, denials,\n"
"anomalies, request rates over ~10 s and ~1 h, the last anomaly signal and\n"
"when the agent was last seen; then what shared signals hold against\n"
"agents (disabled; tokens issued before a time refused: docs/ssf.md;\n"
"\"disabled\" and \"revoked_before\" in JSON).  The file is opened\n"
"read-only: nothing is written to it.  It must exist (the adapters create\n"
"it) and be intact: a damaged file (not a state file, truncated, another\n"
"format version, a bad header checksum) is refused with exit 2 naming the\n"
"check that failed, and left as it is; aimctl never creates or rebuilds a\n"
"state file.\n"
"\n"
"  --state FILE    the state file (the adapters' 'state' setting)\n"
"  --json          one JSON object per agent, one per line\n"
"  --trust-min N   mark agents below N (default 50: the adapters' default)\n";

int
cmd_stats(int argc, char **argv)
{
    static const struct option opts[] = {
        { "state",     required_argument, NULL, 's' },
        { "json",      no_argument,       NULL, 'j' },
        { "trust-min", required_argument, NULL, 't' },
        { "help",      no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char  *path = NULL;
    int          json = 0, c, width = 5, low = 0, marked;
    int64_t      trust_min = 50, now = (int64_t) time(NULL);
    aim_state   *st;
    stats_list   l = { NULL, 0, 0 };
    size_t       i;
    char         when[32];
    char       **names;

    while ((c = next_opt(argc, argv, opts)) != -1) {
        switch (c) {
        case 's': path = optarg; break;
        case 'j': json = 1; break;
        case 't': trust_min = parse_int("--trust-min", optarg, 0, 100); break;
        case 'h': fputs(stats_usage, stdout); return EXIT_OK;
        }
    }
    no_more_args(argc, argv);
    if (path == NULL) {
        usage_error("--state is required");
    }

    /* Read-only: the figures are brought up to the real time on a copy;
     * nothing is written to the file. */
    st = open_state(path, AIM_STATE_RDONLY);
    aim_state_foreach(st, now, stats_collect, &l);
    aim_state_close(st);
    if (l.n > 1) {
        qsort(l.v, l.n, sizeof(*l.v), stats_by_trust);
    }

    names = xmalloc((l.n + 1) * sizeof(*names));
    for (i = 0; i < l.n; i++) {
        names[i] = clean_text(l.v[i].agent, json ? TEXT_UTF8 : TEXT_TERMINAL);
        if (text_cols(names[i]) > width) {
            width = text_cols(names[i]);
        }
    }

    if (json) {
        for (i = 0; i < l.n; i++) {
            const aim_agent_stats *a = &l.v[i];
            json_t *o = json_object();

            json_object_set_new(o, "agent", json_string(names[i]));
            json_object_set_new(o, "trust", json_real(round(a->trust * 10) / 10));
            json_object_set_new(o, "state", json_string(
                a->trust < (double) trust_min ? "low_trust"
                : a->learning ? "learning" : "normal"));
            json_object_set_new(o, "learning", json_boolean(a->learning));
            json_object_set_new(o, "events", json_integer((json_int_t) a->events));
            json_object_set_new(o, "denied", json_integer((json_int_t) a->denied));
            json_object_set_new(o, "anomalies",
                                json_integer((json_int_t) a->anomalies));
            json_object_set_new(o, "rate_short", json_real(a->rate_short));
            json_object_set_new(o, "rate_long", json_real(a->rate_long));
            json_object_set_new(o, "deny_recent", json_real(a->deny_recent));
            json_object_set_new(o, "new_recent", json_real(a->new_recent));
            json_object_set_new(o, "last_signal", a->last_signal != NULL
                                ? json_string(a->last_signal) : json_null());
            json_object_set_new(o, "first_seen", json_integer(a->first_seen));
            json_object_set_new(o, "last_seen", json_integer(a->last_seen));
            json_object_set_new(o, "last_seen_utc",
                                json_string(iso_time(a->last_seen, when)));
            /* What shared signals hold against it (docs/ssf.md). */
            json_object_set_new(o, "disabled", json_boolean(a->disabled));
            json_object_set_new(o, "revoked_before", a->revoked_before > 0
                                ? json_integer(a->revoked_before) : json_null());
            json_object_set_new(o, "revoked_before_utc", a->revoked_before > 0
                                ? json_string(iso_time(a->revoked_before, when))
                                : json_null());
            print_json(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
            json_decref(o);
        }
    } else if (l.n == 0) {
        printf("no agents in \"%s\" yet\n", path);
    } else {
        print_padded("AGENT", width);
        printf(" %6s  %-8s %8s %8s %9s %11s %11s  %-16s %s\n",
               "TRUST", "LEARNING", "EVENTS", "DENIED", "ANOMALIES", "RATE/S(10s)",
               "RATE/S(1h)", "LAST SIGNAL", "LAST SEEN (UTC)");
        for (i = 0; i < l.n; i++) {
            const aim_agent_stats *a = &l.v[i];
            int is_low = a->trust < (double) trust_min;

            low += is_low;
            print_padded(names[i], width);
            printf(" %5.1f%c  %-8s %8llu %8llu %9llu %11.3f %11.3f  %-16s %s\n",
                   a->trust, is_low ? '*' : ' ',
                   a->learning ? "yes" : "no", (unsigned long long) a->events,
                   (unsigned long long) a->denied,
                   (unsigned long long) a->anomalies, a->rate_short,
                   a->rate_long, a->last_signal != NULL ? a->last_signal : "-",
                   iso_time(a->last_seen, when));
        }
        if (low > 0) {
            printf("\n* trust below %lld: these agents' decisions are denied "
                   "(low_trust) where trust_min is %lld\n", (long long) trust_min,
                   (long long) trust_min);
        }
        for (i = 0, marked = 0; i < l.n; i++) {
            const aim_agent_stats *a = &l.v[i];

            if (!a->disabled && a->revoked_before <= 0) {
                continue;
            }
            if (marked++ == 0) {
                printf("\nshared signals held against agents (every adapter "
                       "refuses with \"revoked\"):\n");
            }
            printf("  ");
            print_padded(names[i], width);
            if (a->disabled) {
                printf("  disabled (until an account-enabled)%s", a->revoked_before > 0
                       ? ";" : "");
            }
            if (a->revoked_before > 0) {
                printf("  tokens issued at or before %s refused",
                       iso_time(a->revoked_before, when));
            }
            putchar('\n');
        }
    }
    for (i = 0; i < l.n; i++) {
        free(names[i]);
    }
    free(names);
    free(l.v);
    flush_stdout();
    return EXIT_OK;
}

