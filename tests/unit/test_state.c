/*
 * test_state.c -- aim_state_open_existing: the operators' way into a state
 * file.  It never creates, rebuilds or follows a file; a damaged one is
 * refused with the check that failed and left byte for byte as it was;
 * a read-only open writes nothing at all.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "state.h"
#include "t.h"
#include "tu.h"
#include "units.h"

static size_t seen;
static uint64_t seen_events;

static void
count_agent(void *ud, const aim_agent_stats *s)
{
    (void) ud;
    seen++;
    if (strcmp(s->agent, "agent-st") == 0) {
        seen_events = s->events;
    }
}

/* Is the file at path exactly len bytes of want? */
static int
same_bytes(const char *path, const char *want, size_t len)
{
    size_t  n;
    char   *got = tu_read(path, &n);
    int     same = got != NULL && n == len && memcmp(got, want, len) == 0;

    free(got);
    return same;
}

/* The permissions of this process's mapping of path ("r--s"), or NULL. */
static const char *
map_perms(const char *path)
{
    static char perms[8];
    char        line[1024];
    const char *found = NULL;
    size_t      plen = strlen(path), n;
    FILE       *fp = fopen("/proc/self/maps", "r");

    while (fp != NULL && found == NULL && fgets(line, sizeof(line), fp) != NULL) {
        n = strcspn(line, "\n");
        line[n] = '\0';
        if (n > plen && strcmp(line + n - plen, path) == 0
            && sscanf(line, "%*s %4s", perms) == 1)
        {
            found = perms;
        }
    }
    if (fp != NULL) {
        fclose(fp);
    }
    return found;
}

/* A damaged copy of good (len bytes): refused under both modes with a
 * message containing why, and not changed by the attempt. */
static void
refused(const char *name, const char *bytes, size_t len, const char *why)
{
    const char *p = tu_write(name, bytes, len);
    unsigned    flags[2] = { AIM_STATE_RDONLY, 0 };
    aim_state  *st;
    aim_error   err;
    size_t      i;

    for (i = 0; i < 2; i++) {
        memset(&err, 0, sizeof(err));
        st = aim_state_open_existing(p, flags[i], &err);
        CHECKF(st == NULL && err.status == AIM_CONFIG && tu_contains(err.message, why),
               "%s (%s): got %s \"%s\", want config_error with \"%s\"", name,
               flags[i] ? "read-only" : "read-write", st ? "a state" : "",
               err.message, why);
        aim_state_close(st);
        CHECKF(same_bytes(p, bytes, len), "%s: changed by a refused open", name);
    }
    /* aim_state_open, by contrast, rebuilds it (the adapters' mode). */
    st = aim_state_open(p, &err);
    CHECK(st != NULL);
    aim_state_close(st);
    CHECK(!same_bytes(p, bytes, len));
}

void
test_state(void)
{
    const char  *p = tu_path("st.state"), *missing = tu_path("st-missing.state");
    aim_state   *st;
    aim_error    err;
    char        *good, *bad;
    size_t       len, n;
    struct stat  sb;

    t_section("state/open_existing: missing");
    st = aim_state_open_existing(missing, AIM_STATE_RDONLY, &err);
    CHECK(st == NULL && err.status == AIM_CONFIG
          && tu_contains(err.message, "no state file"));
    st = aim_state_open_existing(missing, 0, &err);
    CHECK(st == NULL && err.status == AIM_CONFIG);
    CHECK(stat(missing, &sb) != 0 && errno == ENOENT);       /* never created */
    st = aim_state_open_existing(tu_path(""), AIM_STATE_RDONLY, &err);
    CHECK(st == NULL && tu_contains(err.message, "not a regular file"));
    st = aim_state_open_existing(tu_path(""), 0, &err);       /* EISDIR */
    CHECK(st == NULL && err.status == AIM_CONFIG);

    t_section("state/open_existing: read-only");
    unlink(p);
    st = aim_state_open(p, &err);
    CHECK(st != NULL);
    if (st == NULL) {
        return;
    }
    CHECK(aim_state_observe(st, "agent-st", "GET", "/x", AIM_OK, tu_now, NULL) == 100);
    CHECK(aim_state_observe(st, "agent-st", "GET", "/y", AIM_OK, tu_now, NULL) == 100);
    aim_state_close(st);
    good = tu_read(p, &len);
    CHECK(good != NULL && len > 4096);
    if (good == NULL) {
        return;
    }
    st = aim_state_open_existing(p, AIM_STATE_RDONLY, &err);
    CHECKF(st != NULL, "read-only open: %s", err.message);
    if (st != NULL) {
        seen = 0;
        CHECK_INT(aim_state_foreach(st, tu_now + 100, count_agent, NULL), 1);
        CHECK(seen == 1 && seen_events == 2);
        CHECK(aim_state_observe(st, "agent-st", "GET", "/z", AIM_OK, tu_now, NULL) == -1);
        CHECK(aim_state_trust(st, "agent-st", tu_now) == -1);
        CHECK(aim_state_reset(st, "agent-st") == -1);
        aim_state_check(st, 1, NULL);
        aim_state_close(st);
    }
    CHECK(same_bytes(p, good, len));             /* not a byte written */
    st = aim_state_open_existing(p, AIM_STATE_RDONLY, &err);
    CHECK_STR(map_perms(p), "r--s");             /* PROT_READ, shared */
    aim_state_close(st);

    t_section("state/open_existing: read-write");
    st = aim_state_open_existing(p, 0, &err);
    CHECKF(st != NULL, "read-write open: %s", err.message);
    if (st != NULL) {
        CHECK_STR(map_perms(p), "rw-s");
        CHECK(aim_state_reset(st, "agent-st") == 0);
        CHECK(aim_state_reset(st, "agent-none") == -1);
        seen = 0;
        aim_state_foreach(st, tu_now, count_agent, NULL);
        CHECK(seen == 1 && seen_events == 0);
        /* Damaged under it: aim_state_check does not rebuild what an
         * operator opened. */
        bad = tu_read(p, &n);
        bad[40] ^= 1;
        {
            FILE *fp = fopen(p, "r+b");

            CHECK(fp != NULL && fseek(fp, 40, SEEK_SET) == 0
                  && fputc(bad[40], fp) != EOF && fclose(fp) == 0);
        }
        aim_state_check(st, 1, NULL);
        aim_state_close(st);
        CHECK(same_bytes(p, bad, n));
        free(bad);
    }

    t_section("state/open_existing: damaged files are refused, untouched");
    bad = malloc(len + 4096);
    CHECK(bad != NULL);
    if (bad == NULL) {
        free(good);
        return;
    }
    refused("st-foreign.state", "precious data, not AIM\n", 23, "not an AIM state file");
    refused("st-empty.state", "", 0, "empty");
    refused("st-magic.state", "AIMSTAT1", 8, "truncated");
    refused("st-trunc.state", good, 100000, "truncated: 100000 bytes");
    memcpy(bad, good, len);
    memset(bad + len, 0, 4096);
    refused("st-long.state", bad, len + 4096, "too long");
    memcpy(bad, good, len);
    bad[8] = 2;                                   /* the version field */
    refused("st-version.state", bad, len, "version 2");
    memcpy(bad, good, len);
    bad[7] = '9';                                 /* "AIMSTAT9" */
    refused("st-magic9.state", bad, len, "version");
    memcpy(bad, good, len);
    bad[40] ^= 0x10;                              /* inside the checksummed header */
    refused("st-sum.state", bad, len, "bad header checksum");
    memcpy(bad, good, len);
    bad[0] = 'X';
    refused("st-x.state", bad, len, "not an AIM state file");
    free(bad);
    free(good);
}
