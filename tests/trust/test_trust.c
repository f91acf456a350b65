/*
 * test_trust.c -- the shared state file, baselines and trust (state.c),
 * through the public decision path, with the replaceable clock; and the
 * Token Status List checks (status.c).
 *
 * Usage: test_trust WORKDIR
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "sign.h"
#include "state.h"
#include "status.h"
#include "tu.h"

static int passed, failed;
static EVP_PKEY *issuer_key;        /* signs the status lists */

#define CHECK(cond, ...) do {                                        \
    if (cond) { passed++; }                                          \
    else { failed++; printf("FAIL %s:%d: ", __FILE__, __LINE__);     \
           printf(__VA_ARGS__); printf("\n"); }                      \
} while (0)

/* An agent's token: the standard one of tests/unit/tu.c, for sub. */
static char *
issue(const char *sub, const char *scope, const char *extra_json)
{
    return tu_agent_token(sub, scope, 80000, extra_json);
}

/* A verifier with the standard keys, a state file and a status list (each
 * NULL: none), or NULL with why printed. */
static aim_verifier *
verifier(const char *state, const char *status_list)
{
    aim_verifier *v;
    aim_error     e;

    if (state != NULL && status_list != NULL) {
        v = tu_verifier_try(&e, "state", state, "status_list", status_list, NULL);
    } else if (state != NULL) {
        v = tu_verifier_try(&e, "state", state, NULL);
    } else if (status_list != NULL) {
        v = tu_verifier_try(&e, "status_list", status_list, NULL);
    } else {
        v = tu_verifier_try(&e, NULL);
    }
    if (v == NULL) {
        printf("verifier: %s\n", e.message);
    }
    return v;
}

static aim_status
decide(aim_verifier *v, const char *tok, const char *action,
       const char *resource, const char *scope)
{
    const char   *scopes[1] = { scope };
    aim_request   r = { .adapter = "test", .action = action,
                        .resource = resource, .scopes = scopes, .nscopes = 1,
                        .token = tok, .token_len = strlen(tok) };
    aim_decision  d;
    aim_status    s = aim_decide(v, &r, &d);

    aim_decision_clear(&d);
    return s;
}

/* 50 denials in a minute: refused where scopes grant, everywhere,
 * others unaffected, recovered after a quiet period. */
static void
test_probing(void)
{
    const char   *st = tu_path("probing.state");
    aim_verifier *nginx, *pg;
    char         *bad = issue("agent-probe", "kb:read", NULL);
    char         *good = issue("agent-good", "kb:read", NULL);
    int           i;

    unlink(st);
    nginx = verifier(st, NULL);
    pg = verifier(st, NULL);     /* another adapter, same host state */
    CHECK(decide(nginx, bad, "GET", "/kb/1", "kb:read") == AIM_OK, "baseline allow");
    for (i = 0; i < 50; i++) {
        tu_now += 1;
        decide(nginx, bad, "GET", "/admin", "admin:all");
    }
    CHECK(decide(nginx, bad, "GET", "/kb/1", "kb:read") == AIM_LOW_TRUST,
          "probing agent refused on the same adapter");
    CHECK(decide(pg, bad, "SELECT", "table kb", "kb:read") == AIM_LOW_TRUST,
          "probing agent refused on another adapter");
    CHECK(decide(pg, good, "SELECT", "table kb", "kb:read") == AIM_OK,
          "another agent unaffected");
    tu_now += 5 * 60;
    CHECK(decide(pg, bad, "SELECT", "table kb", "kb:read") == AIM_LOW_TRUST,
          "still refused after 5 quiet minutes");
    tu_now += 10 * 60;
    CHECK(decide(pg, bad, "SELECT", "table kb", "kb:read") == AIM_OK,
          "recovered after 15 quiet minutes");
    aim_verifier_free(nginx);
    aim_verifier_free(pg);
    free(bad);
    free(good);
}

/* Learn a calm baseline, then hammer at many times it. */
static void
test_burst(void)
{
    const char   *st = tu_path("burst.state");
    aim_verifier *v;
    char         *tok = issue("agent-burst", "kb:read", NULL);
    int           i, refused = 0;

    unlink(st);
    v = verifier(st, NULL);
    for (i = 0; i < 80; i++) {            /* one request every 15 s */
        tu_now += 15;
        CHECK(decide(v, tok, "GET", "/kb/1", "kb:read") == AIM_OK, "calm request %d", i);
    }
    for (i = 0; i < 300 && !refused; i++) {   /* 100 requests a second */
        if (i % 100 == 0) tu_now += 1;
        refused = decide(v, tok, "GET", "/kb/1", "kb:read") == AIM_LOW_TRUST;
    }
    CHECK(refused, "burst at 100x baseline refused (after %d requests)", i);
    aim_verifier_free(v);
    free(tok);
}

/* Walk many never-seen resources. */
static void
test_enumeration(void)
{
    const char   *st = tu_path("enum.state");
    aim_verifier *v;
    char         *tok = issue("agent-enum", "kb:read", NULL);
    char          res[64];
    int           i, refused = 0;

    unlink(st);
    v = verifier(st, NULL);
    for (i = 0; i < 60; i++) {            /* learn: 5 documents, slowly */
        tu_now += 12;
        snprintf(res, sizeof(res), "/kb/%d", i % 5);
        decide(v, tok, "GET", res, "kb:read");
    }
    CHECK(decide(v, tok, "GET", "/kb/1", "kb:read") == AIM_OK, "learnt, allowed");
    for (i = 0; i < 200 && !refused; i++) {
        if (i % 5 == 0) tu_now += 1;
        snprintf(res, sizeof(res), "/kb/secret-%d", i);
        refused = decide(v, tok, "GET", res, "kb:read") == AIM_LOW_TRUST;
    }
    CHECK(refused && i < 100, "enumeration refused after %d new resources", i);
    aim_verifier_free(v);
    free(tok);
}

/* Corrupt, truncated and foreign files are rebuilt, never trusted. */
static void
test_corruption(void)
{
    const char   *st = tu_path("corrupt.state");
    aim_verifier *v;
    aim_state    *s;
    aim_error     e;
    char         *tok = issue("agent-corrupt", "kb:read", NULL);
    int           fd, i;
    struct stat   sb;
    unsigned char junk[4096];

    unlink(st);
    fd = open(st, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(write(fd, "not a state file", 16) == 16, "write foreign");
    close(fd);
    s = aim_state_open(st, &e);
    CHECK(s != NULL, "foreign file opened (rebuilt): %s", s ? "" : e.message);
    stat(st, &sb);
    CHECK(sb.st_size == 4096 + (off_t) AIM_STATE_SLOTS * 1024, "rebuilt to full size");
    aim_state_close(s);

    v = verifier(st, NULL);
    for (i = 0; i < 40; i++) {
        tu_now += 1;
        decide(v, tok, "GET", "/admin", "admin:all");
    }
    CHECK(decide(v, tok, "GET", "/kb", "kb:read") == AIM_LOW_TRUST, "low before corruption");

    /* Scribble over the header and a slot region while mapped. */
    memset(junk, 0xA5, sizeof(junk));
    fd = open(st, O_WRONLY);
    CHECK(pwrite(fd, junk, sizeof(junk), 0) == (ssize_t) sizeof(junk), "scribble header");
    CHECK(pwrite(fd, junk, sizeof(junk), 4096 + 8192) == (ssize_t) sizeof(junk), "scribble slots");
    close(fd);
    tu_now += 2;                 /* the next refresh re-validates */
    CHECK(decide(v, tok, "GET", "/kb", "kb:read") == AIM_OK,
          "corrupt file rebuilt: history dropped, not trusted");
    aim_verifier_free(v);

    /* Out-of-range slot values are reset, not believed. */
    s = aim_state_open(st, &e);
    aim_state_observe(s, "agent-range", "GET", "/x", AIM_OK, tu_now, NULL);
    aim_state_close(s);
    {
        unsigned char *map;
        size_t         len = 4096 + (size_t) AIM_STATE_SLOTS * 1024, off;
        double         nan_trust = -5.0;

        fd = open(st, O_RDWR);
        map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        for (off = 4096; off < len; off += 1024) {
            if (strcmp((char *) map + off + 16, "agent-range") == 0) {
                /* trust lies right after the agent name field */
                memcpy(map + off + 16 + AIM_STATE_AGENT_MAX + 8, &nan_trust, 8);
                break;
            }
        }
        CHECK(off < len, "found the slot");
        munmap(map, len);
        close(fd);
    }
    s = aim_state_open(st, &e);
    CHECK(aim_state_trust(s, "agent-range", tu_now) == 0.0,
          "an out-of-range trust is repaired downwards, never raised");
    aim_state_close(s);
    free(tok);
}

/* A process killed while it holds a slot lock never blocks the others. */
static void
test_killed_process(void)
{
    const char *st = tu_path("kill.state");
    aim_state  *s;
    aim_error   e;
    pid_t       pid;
    int         round, status;
    double      trust;

    unlink(st);
    s = aim_state_open(st, &e);
    aim_state_observe(s, "agent-kill", "GET", "/x", AIM_OK, tu_now, NULL);
    for (round = 0; round < 20; round++) {
        pid = fork();
        if (pid == 0) {
            aim_state *cs = aim_state_open(st, &e);
            for (;;) {
                aim_state_observe(cs, "agent-kill", "GET", "/x", AIM_OK, tu_now, NULL);
            }
        }
        usleep(2000 + (useconds_t) (round * 997 % 5000));
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    /* Worst case: the child died holding the lock.  Make that certain. */
    pid = fork();
    if (pid == 0) {
        _exit(0);
    }
    waitpid(pid, &status, 0);
    {
        unsigned char *map;
        size_t         len = 4096 + (size_t) AIM_STATE_SLOTS * 1024, off;
        uint32_t       dead = (uint32_t) pid;
        int            fd = open(st, O_RDWR);

        map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        for (off = 4096; off < len; off += 1024) {
            if (strcmp((char *) map + off + 16, "agent-kill") == 0) {
                memcpy(map + off + 8, &dead, 4);    /* the lock word */
                break;
            }
        }
        munmap(map, len);
        close(fd);
    }
    alarm(10);
    trust = aim_state_observe(s, "agent-kill", "GET", "/x", AIM_OK, tu_now, NULL);
    alarm(0);
    CHECK(trust == 100.0, "a dead owner's lock is taken over, agent kept");
    CHECK(aim_state_reset(s, "agent-kill") == 0, "agent still in the table");
    aim_state_close(s);
}

/* A live process sitting on a slot lock: bounded wait, then fail closed. */
static void
test_stuck_lock(void)
{
    const char *st = tu_path("stuck.state");
    aim_state  *s;
    aim_error   e;
    double      trust;
    pid_t       pid;
    int         status;

    unlink(st);
    s = aim_state_open(st, &e);
    aim_state_observe(s, "agent-stuck", "GET", "/x", AIM_OK, tu_now, NULL);
    pid = fork();
    if (pid == 0) {
        pause();
        _exit(0);
    }
    {
        unsigned char *map;
        size_t         len = 4096 + (size_t) AIM_STATE_SLOTS * 1024, off;
        uint32_t       live = (uint32_t) pid;
        int            fd = open(st, O_RDWR);

        map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        for (off = 4096; off < len; off += 1024) {
            if (strcmp((char *) map + off + 16, "agent-stuck") == 0) {
                memcpy(map + off + 8, &live, 4);
                break;
            }
        }
        munmap(map, len);
        close(fd);
    }
    alarm(10);
    trust = aim_state_observe(s, "agent-stuck", "GET", "/x", AIM_OK, tu_now, NULL);
    CHECK(trust < 0, "a lock held by a live process fails closed (%.1f)", trust);
    CHECK(aim_state_trust(s, "agent-stuck", tu_now) < 0, "trust read fails closed too");
    CHECK(aim_state_trust(s, "agent-never-seen", tu_now) == 100.0, "unknown agent: 100");
    alarm(0);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    trust = aim_state_observe(s, "agent-stuck", "GET", "/x", AIM_OK, tu_now, NULL);
    CHECK(trust == 100.0, "once the holder dies, the lock is taken over");
    aim_state_close(s);
}

/* Eviction never gives a distrusted agent a clean slate. */
static void
test_no_clean_slate(void)
{
    const char *st = tu_path("evict.state");
    aim_state  *s;
    aim_error   e;
    char        name[64];
    int         i, n;
    double      trust;

    unlink(st);
    s = aim_state_open(st, &e);
    for (i = 0; i < 50; i++) {
        aim_state_observe(s, "agent-bad", "GET", "/admin", AIM_INSUFFICIENT_SCOPE,
                          tu_now, NULL);
    }
    CHECK(aim_state_trust(s, "agent-bad", tu_now) < 10, "driven down");
    /* Flood the table with far more agents than it holds. */
    for (i = 0, n = 0; i < AIM_STATE_SLOTS * 2; i++) {
        snprintf(name, sizeof(name), "agent-flood-%d", i);
        if (aim_state_observe(s, name, "GET", "/x", AIM_OK, tu_now, NULL) < 0) {
            n++;
        }
    }
    trust = aim_state_trust(s, "agent-bad", tu_now);
    CHECK(trust >= 0 && trust < 10, "the distrusted agent kept its history (%.1f)", trust);
    CHECK(n == 0, "fully trusted agents are recycled to make room (%d refused)", n);
    aim_state_close(s);
}

/* Denials an adapter takes itself (a DPoP replay in nginx) count too. */
static void
test_adapter_denials(void)
{
    const char   *st = tu_path("replay.state");
    aim_verifier *v;
    char         *tok = issue("agent-replayer", "kb:read", NULL);
    aim_token    *t;
    aim_error     e;
    aim_request   r;
    int           i;

    unlink(st);
    v = verifier(st, NULL);
    CHECK(aim_verify(v, tok, strlen(tok), &t, &e) == AIM_OK, "verify");
    memset(&r, 0, sizeof(r));
    r.adapter = "test";
    r.action = "GET";
    r.resource = "/kb/1";
    r.host_status = AIM_REPLAY;
    r.host_message = "proof replayed";
    for (i = 0; i < 50; i++) {
        aim_decision d;

        tu_now += 1;
        aim_decide_token(v, t, &r, &d);
        aim_decision_clear(&d);
    }
    CHECK(decide(v, tok, "GET", "/kb/1", "kb:read") == AIM_LOW_TRUST,
          "50 replayed proofs lower trust like 50 scope denials");
    aim_token_free(t);
    aim_verifier_free(v);
    free(tok);
}

/*
 * The usual peak (state.c): an agent's nightly batch is not a burst, but
 * a peak that has faded must not come back whole, and a peak the file
 * says nothing sane about must not disable bursts.
 */
static int
burst_seen(aim_state *s, const char *agent, int per_s, int seconds)
{
    const char *sig;
    int         i, j, seen = 0;

    for (i = 0; i < seconds; i++) {
        tu_now += 1;
        for (j = 0; j < per_s; j++) {
            aim_state_observe(s, agent, "GET", "/kb/1", AIM_OK, tu_now, &sig);
            seen += sig != NULL && strcmp(sig, "burst") == 0;
        }
    }
    return seen;
}

/* A learnt agent: a batch at 5/s while learning, then one request every
 * 30 s until learnt. */
static void
learn_batch(aim_state *s, const char *agent)
{
    int i;

    burst_seen(s, agent, 5, 60);
    for (i = 0; i < 30; i++) {
        tu_now += 30;
        aim_state_observe(s, agent, "GET", "/kb/1", AIM_OK, tu_now, NULL);
    }
}

/* Where a slot's fields lie (state.c's state_slot, 64-bit): peak_s after
 * the Bloom filter, peak_at after it. */
#define SLOT_TRUST   (16 + AIM_STATE_AGENT_MAX + 8)
#define SLOT_PEAK_S  (SLOT_TRUST + 712)
#define SLOT_PEAK_AT (SLOT_PEAK_S + 8)

static int
poke(const char *path, const char *agent, size_t field, const void *val, size_t len)
{
    size_t         size = 4096 + (size_t) AIM_STATE_SLOTS * 1024, off;
    int            fd = open(path, O_RDWR), found = 0;
    unsigned char *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

    for (off = 4096; map != MAP_FAILED && off < size; off += 1024) {
        if (strcmp((char *) map + off + 16, agent) == 0) {
            memcpy(map + off + field, val, len);
            found = 1;
            break;
        }
    }
    if (map != MAP_FAILED) munmap(map, size);
    close(fd);
    return found;
}

static void
test_peak(void)
{
    const char *st = tu_path("peak.state");
    aim_state  *s;
    aim_error   e;
    int         n;

    unlink(st);
    s = aim_state_open(st, &e);

    /* The batch again the next night, at its usual pace: not a burst. */
    learn_batch(s, "agent-nightly");
    tu_now += 86400;
    n = burst_seen(s, "agent-nightly", 5, 60);
    CHECK(n == 0, "the usual batch the next night is not a burst (%d)", n);

    /* Six quiet weeks later the peak has faded to a 64th: the same pace
     * is judged afresh, and the first requests of it must not bring the
     * old peak back whole. */
    learn_batch(s, "agent-faded");
    tu_now += 42 * 86400;
    n = burst_seen(s, "agent-faded", 5, 60);
    CHECK(n > 0, "after six quiet weeks a batch pace is a burst again (%d)", n);

    /* A peak the file makes absurd is repaired, never believed. */
    {
        static const double absurd[] = { NAN, INFINITY, -1.0, 1e300 };
        size_t i;

        for (i = 0; i < sizeof(absurd) / sizeof(absurd[0]); i++) {
            char    agent[32];
            int64_t future = tu_now + 365 * 86400;

            snprintf(agent, sizeof(agent), "agent-absurd-%zu", i);
            learn_batch(s, agent);
            tu_now += 7200;
            CHECK(poke(st, agent, SLOT_PEAK_S, &absurd[i], sizeof(double))
                  && poke(st, agent, SLOT_PEAK_AT, &future, sizeof(future)),
                  "peak written");
            n = burst_seen(s, agent, 100, 30);
            CHECK(n > 0, "peak %g: a burst of 100/s is still a burst (%d)", absurd[i], n);
        }
    }
    aim_state_close(s);
}

static void
test_missing_dir(void)
{
    aim_error e;

    CHECK(aim_state_open("/nonexistent-dir/aim.state", &e) == NULL
          && strstr(e.message, "/nonexistent-dir/aim.state") != NULL,
          "unopenable state file refused with its path: %s", e.message);
    CHECK(verifier("/nonexistent-dir/aim.state", NULL) == NULL,
          "verifier refuses to start without its state file");
}

static void
test_action_class(void)
{
    CHECK(aim_action_class("GET") == AIM_CLASS_READ, "GET read");
    CHECK(aim_action_class("DELETE") == AIM_CLASS_WRITE, "DELETE write");
    CHECK(aim_action_class("sudo") == AIM_CLASS_ADMIN, "sudo admin");
    CHECK(aim_action_class(NULL) == AIM_CLASS_READ, "NULL read");
}

/* ---- Token Status List ---- */

static void
write_status_list(const char *file, const char *uri, const unsigned char *bytes,
                  size_t n, int bits, int64_t exp)
{
    char *jwt = tu_statuslist_token(issuer_key, uri, bytes, n, bits, exp);
    FILE *f = fopen(file, "w");

    fputs(jwt, f);
    fclose(f);
    free(jwt);
}

static void
test_status_list(void)
{
    const char    *uri = "https://issuer.test/status/1";
    const char    *file = tu_path("status1.jwt");
    char           opt[600];
    unsigned char  bytes[4] = { 0 };
    aim_verifier  *v;
    char          *t0, *t5, *t9, *tother;
    aim_token     *t;
    aim_error      e;
    unsigned char *dec;
    size_t         dlen;
    char          *enc;

    /* Round trip of the encoding, and the draft's bit order. */
    bytes[0] = 0xB9;
    bytes[1] = 0xA3;
    enc = aim_statuslist_encode(bytes, 2);
    dec = aim_statuslist_decode(enc, strlen(enc), &dlen, &e);
    CHECK(dec != NULL && dlen == 2 && dec[0] == 0xB9 && dec[1] == 0xA3, "lst round trip");
    free(enc);
    free(dec);
    {
        aim_statuslist sl = { 0 };
        unsigned char  d[2] = { 0xB9, 0xA3 };
        sl.data = d; sl.len = 2; sl.bits = 1;
        /* draft example: 0xB9 = 10111001: idx0=1 idx1=0 idx2=0 idx3=1 ... */
        CHECK(aim_statuslist_get(&sl, 0) == 1 && aim_statuslist_get(&sl, 1) == 0
              && aim_statuslist_get(&sl, 3) == 1 && aim_statuslist_get(&sl, 8) == 1
              && aim_statuslist_get(&sl, 16) == -1, "1-bit order, LSB first");
        sl.bits = 2;
        CHECK(aim_statuslist_get(&sl, 0) == 1 && aim_statuslist_get(&sl, 1) == 2
              && aim_statuslist_get(&sl, 3) == 2, "2-bit order");
    }
    CHECK(aim_statuslist_decode("!!", 2, &dlen, &e) == NULL, "bad lst refused");

    memset(bytes, 0, sizeof(bytes));
    bytes[0] = 0x20;         /* idx 5 invalid */
    bytes[1] = 0x02;         /* idx 9 invalid */
    write_status_list(file, uri, bytes, sizeof(bytes), 1, tu_now + 3600);
    snprintf(opt, sizeof(opt), "%s %s", uri, file);
    v = verifier(NULL, opt);
    CHECK(v != NULL, "verifier with a status list");
    if (v == NULL) return;
    t0 = issue("agent-s0", "kb:read", "{\"status\":{\"status_list\":{\"idx\":0,\"uri\":\"https://issuer.test/status/1\"}}}");
    t5 = issue("agent-s5", "kb:read", "{\"status\":{\"status_list\":{\"idx\":5,\"uri\":\"https://issuer.test/status/1\"}}}");
    t9 = issue("agent-s9", "kb:read", "{\"status\":{\"status_list\":{\"idx\":900,\"uri\":\"https://issuer.test/status/1\"}}}");
    tother = issue("agent-so", "kb:read", "{\"status\":{\"status_list\":{\"idx\":0,\"uri\":\"https://elsewhere/status\"}}}");
    CHECK(aim_verify(v, t0, strlen(t0), &t, &e) == AIM_OK, "status 0 valid: %s", e.message);
    aim_token_free(t);
    CHECK(aim_verify(v, t5, strlen(t5), &t, &e) == AIM_REVOKED, "status 1 revoked");
    CHECK(aim_verify(v, t9, strlen(t9), &t, &e) == AIM_REVOKED, "index outside list");
    CHECK(aim_verify(v, tother, strlen(tother), &t, &e) == AIM_REVOKED
          && strstr(e.message, "not configured") != NULL, "unknown list fails closed");

    /* Publish a new list revoking idx 0: effective at the next refresh. */
    bytes[0] = 0x21;
    sleep(1);                /* a new mtime */
    write_status_list(file, uri, bytes, sizeof(bytes), 1, tu_now + 3600);
    tu_now += 2;
    CHECK(aim_verify(v, t0, strlen(t0), &t, &e) == AIM_REVOKED, "new list revokes idx 0");

    /* A stale list rejects everything that points to it. */
    bytes[0] = 0;
    sleep(1);
    write_status_list(file, uri, bytes, sizeof(bytes), 1, tu_now + 10);
    tu_now += 2;
    CHECK(aim_verify(v, t0, strlen(t0), &t, &e) == AIM_OK, "fresh list valid again");
    aim_token_free(t);
    tu_now += 100;
    CHECK(aim_verify(v, t0, strlen(t0), &t, &e) == AIM_REVOKED
          && strstr(e.message, "stale") != NULL, "stale list: %s", e.message);

    /* A list signed by someone else is refused at load. */
    {
        EVP_PKEY *other = issuer_key;

        issuer_key = aim_privkey_generate(AIM_ALG_ES256, 0, &e);
        write_status_list(tu_path("forged.jwt"), uri, bytes, sizeof(bytes), 1, 0);
        EVP_PKEY_free(issuer_key);
        issuer_key = other;
        snprintf(opt, sizeof(opt), "%s %s", uri, tu_path("forged.jwt"));
        CHECK(verifier(NULL, opt) == NULL, "forged status list refused at start");
    }
    free(t0); free(t5); free(t9); free(tother);
    aim_verifier_free(v);
}

/* A verifier with two status lists, or NULL with why in e. */
static aim_verifier *
verifier_two_lists(const char *list1, const char *list2, aim_error *e)
{
    return tu_verifier_try(e, "status_list", list1, "status_list", list2, NULL);
}

/*
 * Two lists for one URI: which one answered would be an accident of the
 * configuration's order.  Configured twice, or two files that both claim
 * one URI (the "sub" of a list must be the URI it is configured for):
 * refused at start, and on reload the list that changed its claim stops
 * answering for anyone.
 */
static void
test_status_duplicates(void)
{
    const char    *u1 = "https://issuer.test/status/a", *u2 = "https://issuer.test/status/b";
    const char    *f1 = tu_path("dup-a.jwt"), *f2 = tu_path("dup-b.jwt");
    char           o1[600], o2[600];
    unsigned char  valid[4] = { 0 }, revoked[4] = { 0xff, 0xff, 0xff, 0xff };
    aim_verifier  *v;
    aim_error      e;
    aim_token     *t;
    char          *ta, *tb;

    write_status_list(f1, u1, valid, sizeof(valid), 1, tu_now + 3600);
    write_status_list(f2, u2, valid, sizeof(valid), 1, tu_now + 3600);

    /* One URI configured twice (options.c). */
    snprintf(o1, sizeof(o1), "%s %s", u1, f1);
    snprintf(o2, sizeof(o2), "%s %s", u1, f2);
    v = verifier_two_lists(o1, o2, &e);
    CHECK(v == NULL && e.status == AIM_CONFIG && strstr(e.message, "twice") != NULL,
          "one URI configured twice: %s", v ? "accepted" : e.message);
    aim_verifier_free(v);

    /* Two URIs, the second file claiming the first's. */
    write_status_list(f2, u1, revoked, sizeof(revoked), 1, tu_now + 3600);
    snprintf(o2, sizeof(o2), "%s %s", u2, f2);
    v = verifier_two_lists(o1, o2, &e);
    CHECK(v == NULL && e.status == AIM_CONFIG && strstr(e.message, "dup-b.jwt") != NULL
          && strstr(e.message, u2) != NULL,
          "a second file claiming the first URI: %s", v ? "accepted" : e.message);
    aim_verifier_free(v);
    /* The same file for two URIs: one of them is not its sub. */
    snprintf(o2, sizeof(o2), "%s %s", u2, f1);
    v = verifier_two_lists(o1, o2, &e);
    CHECK(v == NULL && e.status == AIM_CONFIG, "one file for two URIs: %s",
          v ? "accepted" : e.message);
    aim_verifier_free(v);

    /* On reload: the second list starts claiming the first URI. */
    write_status_list(f2, u2, valid, sizeof(valid), 1, tu_now + 3600);
    snprintf(o2, sizeof(o2), "%s %s", u2, f2);
    v = verifier_two_lists(o1, o2, &e);
    CHECK(v != NULL, "two lists, each its own URI: %s", v ? "" : e.message);
    if (v == NULL) {
        return;
    }
    ta = issue("agent-dup-a", "kb:read", "{\"status\":{\"status_list\":{\"idx\":0,\"uri\":\"https://issuer.test/status/a\"}}}");
    tb = issue("agent-dup-b", "kb:read", "{\"status\":{\"status_list\":{\"idx\":0,\"uri\":\"https://issuer.test/status/b\"}}}");
    CHECK(aim_verify(v, ta, strlen(ta), &t, &e) == AIM_OK, "a valid: %s", e.message);
    aim_token_free(t);
    CHECK(aim_verify(v, tb, strlen(tb), &t, &e) == AIM_OK, "b valid: %s", e.message);
    aim_token_free(t);
    sleep(1);
    write_status_list(f2, u1, revoked, sizeof(revoked), 1, tu_now + 3600);
    tu_now += 2;
    CHECK(aim_verify(v, tb, strlen(tb), &t, &e) == AIM_REVOKED
          && strstr(e.message, "not available") != NULL,
          "b's file now claims a's URI: b answers nothing (%s)", e.message);
    CHECK(aim_verify(v, ta, strlen(ta), &t, &e) == AIM_OK,
          "a is still answered by its own file, not by b's: %s", e.message);
    aim_token_free(t);
    free(ta);
    free(tb);
    aim_verifier_free(v);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_trust WORKDIR\n");
        return 2;
    }
    tu_init_in(argv[1]);
    tu_std_jwks();
    issuer_key = tu_key(AIM_ALG_ES256);

    test_action_class();
    test_probing();
    test_burst();
    test_enumeration();
    test_corruption();
    test_killed_process();
    test_stuck_lock();
    test_no_clean_slate();
    test_adapter_denials();
    test_peak();
    test_missing_dir();
    test_status_list();
    test_status_duplicates();

    printf("trust: %d passed, %d failed, 0 skipped\n", passed, failed);
    return failed ? 1 : 0;
}
