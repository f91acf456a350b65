/*
 * audit.c -- aimctl audit: audit lines summarised per agent, and one
 * agent's trust timeline (drawn by svg.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "aimctl.h"

#define AUDIT_MAX_LINE      (1024 * 1024)   /* longer lines are skipped */
#define AUDIT_MAX_NAMES     32              /* reasons / adapters / signals kept */
#define AUDIT_MAX_POINTS    (4u * 1024 * 1024)

typedef struct {
    char     name[AUDIT_NAME_MAX + 1];
    uint64_t n;
} counted;

typedef struct {
    counted  v[AUDIT_MAX_NAMES];
    size_t   n;
    uint64_t other;                 /* names beyond AUDIT_MAX_NAMES */
} counter;

typedef struct {
    char     *agent;                /* "" for decisions without one */
    uint64_t  decisions, allowed, denied;
    counter   reasons, adapters, signals;
    int64_t   first, last;          /* 0: no parsable ts */
    double    min_trust;
    int       has_trust;
} agent_sum;

typedef struct {
    agent_sum   **tab;              /* open addressing by agent id */
    size_t        cap, n;
    uint64_t      lines, decisions, skipped, untimed;
    const char   *agent;            /* --agent */
    trust_point  *pts;              /* its timeline */
    size_t        npts, cappts;
    uint64_t      no_trust;         /* its decisions without "trust" */
    int           truncated;
} audit_sum;

static void
count_name(counter *c, const char *name)
{
    size_t i;

    for (i = 0; i < c->n; i++) {
        if (strncmp(c->v[i].name, name, AUDIT_NAME_MAX) == 0) {
            c->v[i].n++;
            return;
        }
    }
    if (c->n == AUDIT_MAX_NAMES) {
        c->other++;
        return;
    }
    snprintf(c->v[c->n].name, sizeof(c->v[c->n].name), "%s", name);
    c->v[c->n++].n = 1;
}

static uint64_t
name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char) *s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static agent_sum *
audit_agent(audit_sum *a, const char *agent)
{
    size_t     i;
    agent_sum *s;

    if (a->n * 2 >= a->cap) {
        size_t      cap = a->cap != 0 ? a->cap * 2 : 256, j;
        agent_sum **tab = calloc(cap, sizeof(*tab));

        if (tab == NULL) {
            fail(EXIT_REJECTED, "out of memory");
        }
        for (j = 0; j < a->cap; j++) {
            if (a->tab[j] != NULL) {
                for (i = name_hash(a->tab[j]->agent) & (cap - 1); tab[i] != NULL;
                     i = (i + 1) & (cap - 1)) {
                }
                tab[i] = a->tab[j];
            }
        }
        free(a->tab);
        a->tab = tab;
        a->cap = cap;
    }
    for (i = name_hash(agent) & (a->cap - 1); a->tab[i] != NULL;
         i = (i + 1) & (a->cap - 1))
    {
        if (strcmp(a->tab[i]->agent, agent) == 0) {
            return a->tab[i];
        }
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->agent = strdup(agent)) == NULL) {
        fail(EXIT_REJECTED, "out of memory");
    }
    a->tab[i] = s;
    a->n++;
    return s;
}

static const char *
jstr(const json_t *o, const char *name)
{
    const json_t *v = json_object_get(o, name);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* One line of a log: the JSON object from its first '{' (adapters' logs
 * prefix it: "aim audit: ", "AUDIT: AIM,"; nginx appends ", client: ..."). */
static void
audit_line(audit_sum *a, const char *line, size_t len)
{
    const char   *brace = memchr(line, '{', len);
    const char   *decision, *reason, *adapter, *agent, *ts, *signal;
    const json_t *trust;
    json_t       *o;
    agent_sum    *s;
    int64_t       t = -1;
    int           deny;

    a->lines++;
    o = brace == NULL ? NULL
        : json_loadb(brace, len - (size_t) (brace - line),
                     JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, NULL);
    decision = jstr(o, "decision");
    if (!json_is_object(o) || decision == NULL
        || (strcmp(decision, "allow") != 0 && strcmp(decision, "deny") != 0))
    {
        a->skipped++;
        json_decref(o);
        return;
    }
    a->decisions++;
    deny = strcmp(decision, "deny") == 0;
    reason = jstr(o, "reason");
    adapter = jstr(o, "adapter");
    agent = jstr(o, "agent");
    ts = jstr(o, "ts");
    signal = jstr(o, "signal");
    trust = json_object_get(o, "trust");

    s = audit_agent(a, agent != NULL ? agent : "");
    s->decisions++;
    if (deny) {
        s->denied++;
        count_name(&s->reasons, reason != NULL ? reason : "(none)");
    } else {
        s->allowed++;
    }
    count_name(&s->adapters, adapter != NULL ? adapter : "(none)");
    if (signal != NULL) {
        count_name(&s->signals, signal);
    }
    if (ts != NULL) {
        t = parse_iso_time(ts);
    }
    if (t > 0) {
        if (s->first == 0 || t < s->first) s->first = t;
        if (t > s->last) s->last = t;
    } else {
        a->untimed++;
    }
    if (json_is_number(trust)) {
        double v = json_number_value(trust);

        if (!s->has_trust || v < s->min_trust) {
            s->min_trust = v;
        }
        s->has_trust = 1;
    }

    if (a->agent != NULL && agent != NULL && strcmp(agent, a->agent) == 0) {
        if (!json_is_number(trust) || t <= 0) {
            a->no_trust++;
        } else if (a->npts == AUDIT_MAX_POINTS) {
            a->truncated = 1;
        } else {
            trust_point *p;

            a->pts = grow(a->pts, a->npts, &a->cappts, sizeof(*a->pts));
            p = &a->pts[a->npts];
            p->ts = t;
            p->trust = json_number_value(trust);
            p->trust = p->trust < 0 ? 0 : p->trust > 100 ? 100 : p->trust;
            p->seq = a->npts++;
            p->kind = !deny ? 0 : reason != NULL && strcmp(reason, "low_trust") == 0
                      ? 2 : 1;
            snprintf(p->reason, sizeof(p->reason), "%s", reason != NULL ? reason : "");
            snprintf(p->signal, sizeof(p->signal), "%s", signal != NULL ? signal : "");
        }
    }
    json_decref(o);
}

static int
sums_by_agent(const void *pa, const void *pb)
{
    const agent_sum *a = *(agent_sum *const *) pa, *b = *(agent_sum *const *) pb;

    return strcmp(a->agent, b->agent);
}

/* Counts by name, most frequent first, into b: "a 3, b 1". */
static int
counted_desc(const void *pa, const void *pb)
{
    const counted *a = pa, *b = pb;

    if (a->n != b->n) {
        return a->n > b->n ? -1 : 1;
    }
    return strcmp(a->name, b->name);
}

static void
counter_text(sbuf *b, counter *c, int with_counts)
{
    size_t i;

    qsort(c->v, c->n, sizeof(c->v[0]), counted_desc);
    for (i = 0; i < c->n; i++) {
        if (i > 0) {
            sb_puts(b, ", ");
        }
        sb_text(b, c->v[i].name, TEXT_TERMINAL);
        if (with_counts) {
            sb_printf(b, " %llu", (unsigned long long) c->v[i].n);
        }
    }
    if (c->other > 0) {
        sb_printf(b, ", others %llu", (unsigned long long) c->other);
    }
    if (c->n == 0 && c->other == 0) {
        sb_puts(b, "-");
    }
}

static json_t *
counter_json(const counter *c, int as_object)
{
    json_t *j = as_object ? json_object() : json_array();
    size_t  i;
    char   *name;

    for (i = 0; i < c->n; i++) {
        name = clean_text(c->v[i].name, TEXT_UTF8);
        if (as_object) {
            json_object_set_new(j, name, json_integer((json_int_t) c->v[i].n));
        } else {
            json_array_append_new(j, json_string(name));
        }
        free(name);
    }
    if (c->other > 0 && as_object) {
        json_object_set_new(j, "(others)", json_integer((json_int_t) c->other));
    }
    return j;
}

static void
audit_print_agent(agent_sum *s, int json)
{
    char  when[32], when2[32];
    char *name = clean_text(s->agent, json ? TEXT_UTF8 : TEXT_TERMINAL);
    sbuf  b = { NULL, 0, 0 };

    if (json) {
        json_t *o = json_object();

        json_object_set_new(o, "agent", s->agent[0] != '\0' ? json_string(name)
                                                             : json_null());
        json_object_set_new(o, "decisions", json_integer((json_int_t) s->decisions));
        json_object_set_new(o, "allowed", json_integer((json_int_t) s->allowed));
        json_object_set_new(o, "denied", json_integer((json_int_t) s->denied));
        json_object_set_new(o, "denied_by_reason", counter_json(&s->reasons, 1));
        json_object_set_new(o, "adapters", counter_json(&s->adapters, 0));
        json_object_set_new(o, "signals", counter_json(&s->signals, 1));
        json_object_set_new(o, "first", s->first > 0
                            ? json_string(iso_time(s->first, when)) : json_null());
        json_object_set_new(o, "last", s->last > 0
                            ? json_string(iso_time(s->last, when)) : json_null());
        json_object_set_new(o, "min_trust", s->has_trust
                            ? json_real(s->min_trust) : json_null());
        print_json(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        json_decref(o);
        free(name);
        return;
    }

    printf("\n%s\n", s->agent[0] != '\0' ? name
           : "(no agent: the token did not verify)");
    printf("  decisions   %llu: %llu allowed, %llu denied\n",
           (unsigned long long) s->decisions, (unsigned long long) s->allowed,
           (unsigned long long) s->denied);
    if (s->denied > 0) {
        counter_text(&b, &s->reasons, 1);
        printf("  denied      %s\n", b.p);
        b.len = 0;
    }
    counter_text(&b, &s->adapters, 0);
    printf("  adapters    %s\n", b.p);
    b.len = 0;
    printf("  first/last  %s  %s\n", iso_time(s->first, when),
           iso_time(s->last, when2));
    if (s->has_trust) {
        printf("  min trust   %.1f\n", s->min_trust);
    }
    if (s->signals.n > 0) {
        counter_text(&b, &s->signals, 1);
        printf("  signals     %s\n", b.p);
    }
    free(b.p);
    free(name);
}

static const char audit_usage[] =
"Usage: aimctl audit FILE|- [--agent AGENT] [--json]\n"
"                   [--svg OUT.svg --agent AGENT [--trust-min N]]\n"
"\n"
"Summarise AIM audit lines per agent: decisions allowed and denied, denials\n"
"by reason, the adapters that decided, first and last time, the lowest\n"
"trust and the anomaly signals.  FILE holds one audit line per line, as\n"
"the 'audit' option writes them or as the adapters log them (any prefix\n"
"before the JSON object, such as 'aim audit: ' or 'AUDIT: AIM,', is\n"
"ignored); lines without an audit object are counted and skipped.\n"
"\n"
"  --agent AGENT   only this agent\n"
"  --json          one JSON object per agent, then {\"summary\":{...}}\n"
"  --svg OUT.svg   draw the agent's trust over time (needs --agent, and\n"
"                  audit lines with \"trust\": adapters with a state file)\n"
"  --trust-min N   the threshold drawn on the chart (default 50)\n";

int
cmd_audit(int argc, char **argv)
{
    static const struct option opts[] = {
        { "agent",     required_argument, NULL, 'a' },
        { "svg",       required_argument, NULL, 'S' },
        { "json",      no_argument,       NULL, 'j' },
        { "trust-min", required_argument, NULL, 't' },
        { "help",      no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char  *path, *svg = NULL;
    audit_sum    a;
    FILE        *fp;
    char        *buf;
    size_t       len, i, k;
    int          c, json = 0, ch;
    int64_t      trust_min = 50;
    agent_sum  **list;

    memset(&a, 0, sizeof(a));
    while ((c = next_opt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'a': a.agent = optarg;     /* any id a log line may hold */
                  if (optarg[0] == '\0' || strlen(optarg) > 1024) {
                      usage_error("--agent: must be 1 to 1024 bytes");
                  }
                  break;
        case 'S': svg = optarg; break;
        case 'j': json = 1; break;
        case 't': trust_min = parse_int("--trust-min", optarg, 0, 100); break;
        case 'h': fputs(audit_usage, stdout); return EXIT_OK;
        }
    }
    path = one_arg(argc, argv, "no audit file given (FILE, or '-' for standard input)",
                   "one audit file at a time, please (cat them into '-')");
    if (svg != NULL && a.agent == NULL) {
        usage_error("--svg draws one agent's timeline: give --agent");
    }
    if (strcmp(path, "-") == 0) {
        fp = stdin;
    } else if ((fp = fopen(path, "re")) == NULL) {
        fail(EXIT_USAGE, "cannot read \"%s\": %s", path, strerror(errno));
    }

    buf = xmalloc(AUDIT_MAX_LINE + 2);
    while (fgets(buf, AUDIT_MAX_LINE + 2, fp) != NULL) {
        len = strlen(buf);
        if (len > 0 && buf[len - 1] != '\n' && len > AUDIT_MAX_LINE) {
            while ((ch = getc(fp)) != EOF && ch != '\n') {
            }
            a.lines++;
            a.skipped++;
            continue;
        }
        audit_line(&a, buf, len);
    }
    if (ferror(fp)) {
        fail(EXIT_REJECTED, "cannot read \"%s\": %s", path, strerror(errno));
    }
    if (fp != stdin) {
        fclose(fp);
    }
    free(buf);

    list = xmalloc((a.n + 1) * sizeof(*list));
    for (i = 0, k = 0; i < a.cap; i++) {
        if (a.tab[i] != NULL) {
            list[k++] = a.tab[i];
        }
    }
    qsort(list, k, sizeof(*list), sums_by_agent);

    if (a.agent != NULL) {
        for (i = 0; i < k && strcmp(list[i]->agent, a.agent) != 0; i++) {
        }
        if (i == k) {
            char *shown = clean_text(a.agent, TEXT_TERMINAL);
            fprintf(stderr, "%s: no decisions of agent \"%s\" in \"%s\" (%llu lines, "
                    "%llu decisions)\n", cmd, shown, path,
                    (unsigned long long) a.lines, (unsigned long long) a.decisions);
            exit(EXIT_REJECTED);
        }
    }

    if (!json) {
        printf("%s: %llu lines, %llu decisions, %llu skipped (no audit JSON), "
               "%zu agents\n", strcmp(path, "-") == 0 ? "(stdin)" : path,
               (unsigned long long) a.lines, (unsigned long long) a.decisions,
               (unsigned long long) a.skipped, k);
    }
    for (i = 0; i < k; i++) {
        if (a.agent == NULL || strcmp(list[i]->agent, a.agent) == 0) {
            audit_print_agent(list[i], json);
        }
    }
    if (json) {
        json_t *o = json_object(), *sum = json_object();

        json_object_set_new(sum, "lines", json_integer((json_int_t) a.lines));
        json_object_set_new(sum, "decisions", json_integer((json_int_t) a.decisions));
        json_object_set_new(sum, "skipped", json_integer((json_int_t) a.skipped));
        json_object_set_new(sum, "agents", json_integer((json_int_t) k));
        json_object_set_new(o, "summary", sum);
        print_json(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
    }
    flush_stdout();

    if (svg != NULL) {
        sbuf doc = { NULL, 0, 0 };

        if (a.npts == 0) {
            fail(EXIT_REJECTED, "no trust values for this agent: audit lines carry "
                 "\"trust\" only from adapters with a state file");
        }
        if (a.truncated) {
            warning("more than %u decisions; the chart shows the first %u",
                 AUDIT_MAX_POINTS, AUDIT_MAX_POINTS);
        }
        render_svg(&doc, a.agent, a.pts, a.npts, trust_min,
                   strcmp(path, "-") == 0 ? "standard input" : path);
        write_atomic(svg, doc.p, doc.len, 0644);
        free(doc.p);
    }

    for (i = 0; i < k; i++) {
        free(list[i]->agent);
        free(list[i]);
    }
    free(list);
    free(a.tab);
    free(a.pts);
    return EXIT_OK;
}
