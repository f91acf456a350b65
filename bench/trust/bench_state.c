/*
 * bench_state.c -- the cost of one baseline update (aim_state_observe) and
 * of one trust read (aim_state_trust) on the shared state file, for one
 * agent and for many; target: under 1 microsecond per decision.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "aim.h"
#include "state.h"

static double
seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double
run(aim_state *st, int agents, long n, int observe)
{
    char     agent[64], resource[64];
    double   t0 = seconds();
    int64_t  now = 1800000000;
    long     i;

    for (i = 0; i < n; i++) {
        snprintf(agent, sizeof(agent), "spiffe://bench/agent/%d", (int) (i % agents));
        if (observe) {
            snprintf(resource, sizeof(resource), "/kb/%ld", i % 64);
            aim_state_observe(st, agent, "GET", resource, AIM_OK, now + i / 1000, NULL);
        } else {
            aim_state_trust(st, agent, now + i / 1000);
        }
    }
    return (seconds() - t0) / (double) n * 1e9;
}

int
main(int argc, char **argv)
{
    aim_state *st;
    aim_error  err;
    long       n = argc > 2 ? atol(argv[2]) : 2000000;
    double     ns_one, ns_many, ns_read, ns_snprintf;

    if (argc < 2) {
        fprintf(stderr, "usage: bench_state STATEFILE [N]\n");
        return 2;
    }
    st = aim_state_open(argv[1], &err);
    if (st == NULL) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    run(st, 1, n / 10, 1);                       /* warm up */
    ns_snprintf = 0;
    {
        char   a[64], r[64];
        double t0 = seconds();
        long   i;
        for (i = 0; i < n; i++) {
            snprintf(a, sizeof(a), "spiffe://bench/agent/%d", (int) (i % 1000));
            snprintf(r, sizeof(r), "/kb/%ld", i % 64);
            __asm__ volatile("" : : "r"(a), "r"(r) : "memory");
        }
        ns_snprintf = (seconds() - t0) / (double) n * 1e9;
    }
    ns_one = run(st, 1, n, 1) - ns_snprintf;
    ns_many = run(st, 1000, n, 1) - ns_snprintf;
    ns_read = run(st, 1000, n, 0) - ns_snprintf / 2;
    printf("baseline update, one agent      : %7.0f ns/decision  (target < 1000)  %s\n",
           ns_one, ns_one < 1000 ? "PASS" : "MISS");
    printf("baseline update, 1000 agents    : %7.0f ns/decision  (target < 1000)  %s\n",
           ns_many, ns_many < 1000 ? "PASS" : "MISS");
    printf("trust read (recheck), 1000 agents: %6.0f ns/check\n", ns_read);
    printf("(%ld operations each; the cost of formatting test names, %.0f ns, is subtracted)\n",
           n, ns_snprintf);
    aim_state_close(st);
    return 0;
}
