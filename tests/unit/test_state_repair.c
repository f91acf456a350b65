/*
 * test_state_repair.c -- repairs of the shared state file's slots (state.c):
 * whatever a corrupt slot holds, repair never raises an agent's trust,
 * never restarts its (lenient) learning period, never lets it be evicted
 * while distrusted, and never overflows.  Built with UBSan in test-asan,
 * where a signed overflow aborts.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "keys.h"
#include "state.h"
#include "t.h"
#include "tu.h"
#include "units.h"

/* The slot layout (state.c): key, lock, flags, agent[208], then the
 * doubles trust, rate_s, rate_l, deny_s, new_s and the times. */
#define SLOT_TRUST       224
#define SLOT_UPDATED     264
#define SLOT_FIRST_SEEN  272
#define SLOT_LAST_SEEN   280
#define STATE_LEN        (4096 + (size_t) AIM_STATE_SLOTS * 1024)

/* Write an int64 (or a double) into agent's slot, through the file. */
static int
poke(const char *path, const char *agent, size_t field, const void *value)
{
    unsigned char *map;
    size_t         off;
    int            fd = open(path, O_RDWR), found = 0;

    if (fd < 0) {
        return 0;
    }
    map = mmap(NULL, STATE_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        return 0;
    }
    for (off = 4096; off < STATE_LEN; off += 1024) {
        if (strcmp((char *) map + off + 16, agent) == 0) {
            memcpy(map + off + field, value, 8);
            found = 1;
            break;
        }
    }
    munmap(map, STATE_LEN);
    return found;
}

static void
poke_time(const char *path, const char *agent, size_t field, int64_t t)
{
    CHECKF(poke(path, agent, field, &t), "slot of %s found", agent);
}

/* Drive agent's trust to 0 with probes (denials past the free ones). */
static void
distrust(aim_state *s, const char *agent)
{
    int i;

    for (i = 0; i < 60; i++) {
        aim_state_observe(s, agent, "GET", "/admin", AIM_INSUFFICIENT_SCOPE,
                          tu_now, NULL);
    }
}

typedef struct {
    const char *agent;
    int         learning;
    int         seen;
} find_learning;

static void
learning_fn(void *ud, const aim_agent_stats *a)
{
    find_learning *f = ud;

    if (strcmp(a->agent, f->agent) == 0) {
        f->learning = a->learning;
        f->seen = 1;
    }
}

/* The bucket a name falls in (state.c: 64 bits of SHA-256, mod slots). */
static size_t
bucket_of(const char *name)
{
    unsigned char h[32];
    uint64_t      k;

    aim_sha256(name, strlen(name), h);
    memcpy(&k, h, sizeof(k));
    return (size_t) ((k != 0 ? k : 1) % AIM_STATE_SLOTS);
}

void
test_state_repair(void)
{
    static const int64_t bad_times[] = {
        0, -1, INT64_MIN, INT64_MIN + 1, 1000000000 /* 2001 */, INT64_MAX,
    };
    const char *path = tu_path("repair.state");
    aim_error   err;
    aim_state  *s;
    double      trust;
    size_t      i;
    char        agent[64];

    t_section("state/repair-never-raises-trust");
    unlink(path);
    s = aim_state_open(path, &err);
    CHECKF(s != NULL, "state: %s", err.message);
    if (s == NULL) {
        return;
    }
    for (i = 0; i < sizeof(bad_times) / sizeof(bad_times[0]); i++) {
        snprintf(agent, sizeof(agent), "agent-updated-%zu", i);
        distrust(s, agent);
        CHECK(aim_state_trust(s, agent, tu_now) < 1);
        /* "updated" (the time recovery is counted from) corrupted: the
         * time since it never passed, so no recovery is credited. */
        poke_time(path, agent, SLOT_UPDATED, bad_times[i]);
        trust = aim_state_trust(s, agent, tu_now);
        CHECKF(trust < 1, "updated = %lld: trust %.1f (was 0)",
               (long long) bad_times[i], trust);
        trust = aim_state_observe(s, agent, "GET", "/kb", AIM_OK, tu_now, NULL);
        CHECKF(trust >= 0 && trust < 1, "updated = %lld: after a decision, trust %.1f",
               (long long) bad_times[i], trust);
        /* Recovery goes on from the repair, at the normal pace. */
        trust = aim_state_trust(s, agent, tu_now + 150);
        CHECKF(trust > 9 && trust < 11, "150 s later: trust %.1f (10 expected)", trust);
    }
    /* Every time of the slot at once, in every combination of extremes. */
    for (i = 0; i < sizeof(bad_times) / sizeof(bad_times[0]); i++) {
        snprintf(agent, sizeof(agent), "agent-times-%zu", i);
        distrust(s, agent);
        poke_time(path, agent, SLOT_FIRST_SEEN, bad_times[i]);
        poke_time(path, agent, SLOT_LAST_SEEN, bad_times[(i + 1) % 6]);
        poke_time(path, agent, SLOT_UPDATED, bad_times[(i + 2) % 6]);
        trust = aim_state_observe(s, agent, "GET", "/kb", AIM_OK, tu_now, NULL);
        CHECKF(trust >= 0 && trust < 1, "times %lld %lld %lld: trust %.1f",
               (long long) bad_times[i], (long long) bad_times[(i + 1) % 6],
               (long long) bad_times[(i + 2) % 6], trust);
    }

    t_section("state/repair-keeps-learning-over");
    {
        find_learning f = { "agent-learnt", -1, 0 };
        int           k;

        /* Learnt: 50 events over more than 600 s. */
        for (k = 0; k < 60; k++) {
            aim_state_observe(s, f.agent, "GET", "/kb", AIM_OK, tu_now + 11 * k, NULL);
        }
        aim_state_foreach(s, tu_now + 700, learning_fn, &f);
        CHECK(f.seen && f.learning == 0);
        /* A first_seen in the past that cannot be right must not become
         * "now": learning is the lenient period. */
        poke_time(path, f.agent, SLOT_FIRST_SEEN, 0);
        f.seen = 0;
        aim_state_foreach(s, tu_now + 700, learning_fn, &f);
        CHECK(f.seen && f.learning == 0);
        poke_time(path, f.agent, SLOT_FIRST_SEEN, INT64_MIN);
        f.seen = 0;
        aim_state_foreach(s, tu_now + 700, learning_fn, &f);
        CHECK(f.seen && f.learning == 0);
    }

    t_section("state/repair-never-evicts-the-distrusted");
    {
        /*
         * 33 agents in one probe run of 32 slots: the 33rd evicts the
         * least recently seen agent whose trust has fully recovered.  The
         * first, distrusted, with "updated" corrupted to look like it
         * recovered long ago, must not be that agent.
         */
        static const struct { const char *name; int64_t updated; } victims[] = {
            { "victim-0", 0 }, { "victim-min", INT64_MIN },
        };
        size_t v, n, k;
        char   names[32][32];

        for (v = 0; v < 2; v++) {
            size_t target = bucket_of(victims[v].name);

            distrust(s, victims[v].name);
            poke_time(path, victims[v].name, SLOT_UPDATED, victims[v].updated);
            for (n = 0, k = 0; n < 32 && k < 10000000; k++) {
                snprintf(names[n], sizeof(names[n]), "crowd-%zu-%zu", v, k);
                if (bucket_of(names[n]) == target) {
                    n++;
                }
            }
            CHECK_INT(n, 32);
            for (k = 0; k < 32; k++) {
                aim_state_observe(s, names[k], "GET", "/kb", AIM_OK, tu_now + 1, NULL);
            }
            trust = aim_state_trust(s, victims[v].name, tu_now + 1);
            CHECKF(trust >= 0 && trust < 1, "%s kept its slot: trust %.1f (100 "
                   "means it was evicted: a clean slate)", victims[v].name, trust);
        }
    }

    t_section("state/recovery-still-works");
    distrust(s, "agent-recovers");
    CHECK(aim_state_trust(s, "agent-recovers", tu_now) < 1);
    CHECK(aim_state_trust(s, "agent-recovers", tu_now + 15 * 50) >= 49);
    CHECK(aim_state_trust(s, "agent-recovers", tu_now + 15 * 100) == 100);
    aim_state_close(s);
    unlink(path);
}
