/*
 * state.c -- the shared, memory-mapped behavioural state (see state.h)
 * and the trust algorithm (see docs/trust.md; every constant below is
 * documented there with its reason).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "keys.h"
#include "mapfile.h"
#include "state.h"
#include "util.h"

#define STATE_MAGIC        "AIMSTAT1"
#define STATE_MAGIC_FAMILY 7u      /* "AIMSTAT": any version of the format */
#define STATE_VERSION      1u
#define STATE_HEADER_SIZE  4096u
#define STATE_SLOT_SIZE    1024u
#define STATE_PROBES       32u
#define STATE_BLOOM_BITS   4096u
#define STATE_SPINS        2000u
#define STATE_LOCK_WAIT_MS 200     /* then fail closed */

/* The trust algorithm's parameters (docs/trust.md). */
#define T_START            100.0   /* a new agent's trust */
#define T_RECOVER_PER_S    (1.0 / 15)  /* +4 points a quiet minute */
#define T_HALF_SHORT       10.0    /* s: the burst window */
#define T_HALF_LONG        3600.0  /* s: the baseline window */
#define T_HALF_DENY        60.0    /* s: the probing window */
#define T_HALF_NEW         60.0    /* s: the enumeration window */
#define T_LEARN_EVENTS     50      /* a baseline needs this many events */
#define T_LEARN_SECONDS    600     /* ... and this long */
#define T_DENY_FREE        5.0     /* denials a minute before it counts */
#define T_DENY_PENALTY     3.0
#define T_NEW_LIMIT        20.0    /* new resources a minute, learnt */
#define T_NEW_LIMIT_LEARN  60.0    /* ... while learning */
#define T_NEW_PENALTY      2.0
#define T_BURST_FACTOR     10.0    /* times the baseline rate */
#define T_BURST_FLOOR      1.0     /* events/s below which no burst */
#define T_BURST_PENALTY    2.0     /* times the excess over the peak, <= 4x */
#define T_HALF_PEAK        (7 * 86400.0)  /* s: how long a usual peak is remembered */
#define T_PEAK_FACTOR      2.0     /* a burst is also twice the usual peak */
#define T_HOUR_MIN_EVENTS  200
#define T_HOUR_SHARE       0.005   /* an hour with < 0.5% of activity */
#define T_HOUR_PENALTY     0.25
#define T_ADMIN_PENALTY    15.0    /* first admin action after learning */

enum { SLOT_LEARNT = 1u, SLOT_ADMIN_SEEN = 2u };

enum {
    SIG_NONE = 0, SIG_PROBING, SIG_ENUMERATION, SIG_BURST, SIG_OFF_HOURS,
    SIG_NEW_ADMIN, SIG_CREDENTIAL_COMPROMISE, SIG_RISK, SIG_ASSURANCE,
    SIG_MAX
};
static const char *const signal_names[SIG_MAX] = {
    NULL, "probing", "enumeration", "burst", "off_hours", "new_admin_action",
    /* from shared signals (ssf.c) */
    "credential_compromise", "risk", "assurance_downgrade"
};

typedef struct {
    char      magic[8];
    uint32_t  version;
    uint32_t  header_size;
    uint32_t  slot_size;
    uint32_t  nslots;
    uint64_t  file_size;
    int64_t   created;
    uint64_t  checksum;
} state_header;

typedef struct {
    _Atomic uint64_t key;           /* hash of the agent id; 0 = empty */
    _Atomic uint32_t lock;          /* owner pid; 0 = free */
    uint32_t         flags;
    char             agent[AIM_STATE_AGENT_MAX + 8];
    double           trust;
    double           rate_s;        /* decayed event counts */
    double           rate_l;
    double           deny_s;
    double           new_s;
    int64_t          updated;       /* time the decays were applied */
    int64_t          first_seen;
    int64_t          last_seen;
    uint64_t         events;
    uint64_t         denied;
    uint64_t         anomalies;
    uint32_t         hours[24];
    uint32_t         classes[3];
    uint32_t         signal;
    uint8_t          bloom[STATE_BLOOM_BITS / 8];
    double           peak_s;        /* the usual peak pace (short count) */
    int64_t          peak_at;       /* when it was last reached */

    /*
     * Shared signals (ssf.c), appended in the slot's spare bytes: files
     * written before they existed read as zero, no signal.  They belong
     * to the agent only while ssf_key equals key (a writer that does not
     * know them may hand the slot to another agent), they are read
     * without the slot lock on every decision, and neither eviction nor
     * an operator's trust reset removes them.
     */
    _Atomic uint64_t ssf_key;
    _Atomic int64_t  ssf_revoked_before;  /* tokens with iat <= this: refused */
    _Atomic int64_t  ssf_status_at;       /* event time of the last disable/enable */
    _Atomic int64_t  ssf_hold_until;      /* never evicted before this */
    _Atomic int64_t  ssf_distrust_at;     /* distrust last published or received */
    _Atomic uint32_t ssf_flags;           /* SSF_DISABLED */
    _Atomic uint16_t ssf_causes;          /* revoke cause | disable cause << 8 */
} state_slot;

enum { SSF_DISABLED = 1u };

_Static_assert(sizeof(state_slot) <= STATE_SLOT_SIZE, "slot too large");
_Static_assert(sizeof(state_header) <= STATE_HEADER_SIZE, "header too large");

struct aim_state {
    char          *path;
    int            fd;
    unsigned char *map;
    size_t         size;
    uint32_t       pid;
    unsigned       flags;       /* AIM_STATE_RDONLY, STATE_EXISTING */
};

/* Opened by aim_state_open_existing: never rebuilt, never followed. */
#define STATE_EXISTING  0x100u
/* The path names another file, which this process cannot map: what it
 * still maps is a file no other process reads, so nothing is decided on
 * it (aim_state_check). */
#define STATE_ORPHANED  0x200u

#define STATE_FILE_SIZE ((size_t) STATE_HEADER_SIZE \
                         + (size_t) AIM_STATE_SLOTS * STATE_SLOT_SIZE)

static uint64_t
header_checksum(const state_header *h)
{
    return aim_fnv1a(h, offsetof(state_header, checksum), AIM_FNV1A_INIT);
}

static int
header_valid(const unsigned char *map, size_t file_size)
{
    const state_header *h = (const state_header *) map;

    return file_size == STATE_FILE_SIZE
        && memcmp(h->magic, STATE_MAGIC, 8) == 0
        && h->version == STATE_VERSION
        && h->header_size == STATE_HEADER_SIZE
        && h->slot_size == STATE_SLOT_SIZE
        && h->nslots == AIM_STATE_SLOTS
        && h->file_size == STATE_FILE_SIZE
        && h->checksum == header_checksum(h);
}

/* The header of an empty state file. */
static int
header_init(unsigned char *map)
{
    state_header h;

    memset(&h, 0, sizeof(h));
    memcpy(h.magic, STATE_MAGIC, 8);
    h.version = STATE_VERSION;
    h.header_size = STATE_HEADER_SIZE;
    h.slot_size = STATE_SLOT_SIZE;
    h.nslots = AIM_STATE_SLOTS;
    h.file_size = STATE_FILE_SIZE;
    h.created = aim_now();
    h.checksum = header_checksum(&h);
    memcpy(map, &h, sizeof(h));
    return 0;
}

static const aim_mapfile state_file = {
    "state", STATE_FILE_SIZE, 0, header_valid, header_init
};

static state_slot *
slot_at(const aim_state *st, size_t i)
{
    return (state_slot *) (st->map + STATE_HEADER_SIZE + i * STATE_SLOT_SIZE);
}

/* A state for path, not opened yet. */
static aim_state *
state_new(const char *path, aim_error *err)
{
    aim_state *st = calloc(1, sizeof(*st));

    if (st == NULL || (st->path = aim_strdup(path)) == NULL) {
        free(st);
        aim_fail(err, AIM_INTERNAL, "out of memory");
        return NULL;
    }
    st->pid = (uint32_t) getpid();
    st->fd = -1;
    return st;
}

aim_state *
aim_state_open(const char *path, aim_error *err)
{
    aim_state *st;

    if ((st = state_new(path, err)) == NULL) {
        return NULL;
    }
    st->fd = aim_mapfile_open(&state_file, path, err);
    if (st->fd < 0 || (st->map = aim_mapfile_map(&state_file, path, st->fd,
                                                 err)) == NULL)
    {
        aim_state_close(st);
        return NULL;
    }
    st->size = STATE_FILE_SIZE;
    return st;
}

/*
 * Why the file open on fd is not a valid state file of this build, in
 * err; 0 when it is.  Reads the header, writes nothing.
 */
static int
state_describe(const char *path, int fd, aim_error *err)
{
    state_header h;
    struct stat  sb;
    ssize_t      n;

    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        aim_fail(err, AIM_CONFIG, "state: \"%.200s\" is not a regular file", path);
        return -1;
    }
    if (sb.st_size == 0) {
        aim_fail(err, AIM_CONFIG, "state: \"%.200s\" is empty, not a state file",
                 path);
        return -1;
    }
    memset(&h, 0, sizeof(h));
    n = pread(fd, &h, sizeof(h), 0);
    if (n < 0) {
        aim_fail(err, AIM_CONFIG, "state: cannot read \"%.200s\": %s", path,
                 strerror(errno));
        return -1;
    }
    if ((size_t) n < STATE_MAGIC_FAMILY
        || memcmp(h.magic, STATE_MAGIC, STATE_MAGIC_FAMILY) != 0)
    {
        aim_fail(err, AIM_CONFIG, "state: \"%.200s\" is not an AIM state file "
                 "(it does not start with \"%.*s\")", path,
                 (int) STATE_MAGIC_FAMILY, STATE_MAGIC);
        return -1;
    }
    if ((size_t) n < sizeof(h)) {
        aim_fail(err, AIM_CONFIG, "state: \"%.200s\" is truncated: %lld bytes, a "
                 "state file has %zu", path, (long long) sb.st_size,
                 STATE_FILE_SIZE);
        return -1;
    }
    if (h.version != STATE_VERSION || memcmp(h.magic, STATE_MAGIC, 8) != 0) {
        aim_fail(err, AIM_CONFIG, "state: \"%.200s\" is state format version "
                 "%u; this build reads version %u", path, h.version,
                 STATE_VERSION);
        return -1;
    }
    if (h.checksum != header_checksum(&h)) {
        aim_fail(err, AIM_CONFIG, "state: \"%.200s\" has a bad header checksum "
                 "(the header is corrupt)", path);
        return -1;
    }
    if (h.header_size != STATE_HEADER_SIZE || h.slot_size != STATE_SLOT_SIZE
        || h.nslots != AIM_STATE_SLOTS || h.file_size != STATE_FILE_SIZE)
    {
        aim_fail(err, AIM_CONFIG, "state: \"%.200s\" has another layout (%u slots "
                 "of %u bytes; this build has %u of %u)", path, h.nslots,
                 h.slot_size, AIM_STATE_SLOTS, STATE_SLOT_SIZE);
        return -1;
    }
    if ((uint64_t) sb.st_size != STATE_FILE_SIZE) {
        aim_fail(err, AIM_CONFIG, "state: \"%.200s\" is %s: %lld bytes, a state "
                 "file has %zu", path,
                 (uint64_t) sb.st_size < STATE_FILE_SIZE ? "truncated" : "too long",
                 (long long) sb.st_size, STATE_FILE_SIZE);
        return -1;
    }
    return 0;
}

aim_state *
aim_state_open_existing(const char *path, unsigned flags, aim_error *err)
{
    aim_state *st;
    int        rdonly = (flags & AIM_STATE_RDONLY) != 0;

    if ((st = state_new(path, err)) == NULL) {
        return NULL;
    }
    st->flags = (flags & AIM_STATE_RDONLY) | STATE_EXISTING;
    /* O_NONBLOCK: a FIFO at the path must not hang the open. */
    st->fd = open(path, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOFOLLOW
                  | O_NOCTTY | O_NONBLOCK);
    if (st->fd < 0) {
        if (errno == ENOENT) {
            aim_fail(err, AIM_CONFIG, "state: no state file \"%.200s\"", path);
        } else {
            aim_fail(err, AIM_CONFIG, "state: cannot open \"%.200s\": %s", path,
                     strerror(errno));
        }
        aim_state_close(st);
        return NULL;
    }
    /* Shared lock: never look at a header an adapter is rebuilding. */
    if (flock(st->fd, LOCK_SH) != 0) {
        aim_fail(err, AIM_CONFIG, "state: cannot lock \"%.200s\": %s", path,
                 strerror(errno));
        aim_state_close(st);
        return NULL;
    }
    if (state_describe(path, st->fd, err) != 0) {
        aim_state_close(st);
        return NULL;
    }
    st->map = mmap(NULL, STATE_FILE_SIZE, rdonly ? PROT_READ : PROT_READ | PROT_WRITE,
                   MAP_SHARED, st->fd, 0);
    if (st->map == MAP_FAILED) {
        st->map = NULL;
        aim_fail(err, AIM_CONFIG, "state: cannot map \"%.200s\": %s", path,
                 strerror(errno));
        aim_state_close(st);
        return NULL;
    }
    st->size = STATE_FILE_SIZE;
    flock(st->fd, LOCK_UN);
    return st;
}

void
aim_state_close(aim_state *st)
{
    if (st == NULL) {
        return;
    }
    if (st->map != NULL) {
        munmap(st->map, st->size);
    }
    if (st->fd >= 0) {
        close(st->fd);
    }
    free(st->path);
    free(st);
}

int
aim_state_check(aim_state *st, int strict, aim_error *err)
{
    struct stat sb, path_sb;
    aim_error   e;
    int         at_path;

    if ((st->flags & STATE_EXISTING) || fstat(st->fd, &sb) != 0) {
        return 0;
    }
    at_path = stat(st->path, &path_sb) == 0;
    /* Replaced on disk (a new inode at the path): follow it. */
    if (at_path && (path_sb.st_ino != sb.st_ino || path_sb.st_dev != sb.st_dev)) {
        int            fd = open(st->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW
                                 | O_NOCTTY | O_NONBLOCK);
        unsigned char *map;
        struct stat    nsb;

        /*
         * Only a regular file that maps replaces the current mapping, and
         * only one strict_modes accepts, as it would at start: a
         * replacement others can write would let them raise trust.
         */
        if (fd < 0 || fstat(fd, &nsb) != 0 || !S_ISREG(nsb.st_mode)) {
            aim_fail(err, AIM_CONFIG, "state: \"%.200s\" was replaced by "
                     "something this process cannot open read-write as a "
                     "regular file", st->path);
        } else if (strict
                   && aim_file_check(st->path, &nsb, AIM_FILE_GROUP_WRITE,
                                     &e) != AIM_OK)
        {
            aim_fail(err, AIM_CONFIG, "state: replaced by a file strict_modes "
                     "refuses: %s", e.message);
        } else if ((map = aim_mapfile_map(&state_file, st->path, fd, err)) != NULL) {
            munmap(st->map, st->size);
            close(st->fd);
            st->fd = fd;
            st->map = map;
            st->flags &= ~STATE_ORPHANED;
            return 0;
        }
        if (fd >= 0) {
            close(fd);
        }
        /*
         * Every other process follows the new file; this one cannot, so
         * the signals and baselines it would read here are no one's:
         * refuse until the file can be opened (fail closed).
         */
        st->flags |= STATE_ORPHANED;
        return -1;
    }
    /*
     * The mapped file made writable by others (or its directory) since it
     * was opened: refused until it is fixed, as a reloaded file would be.
     * (A path that names nothing -- removed to start afresh -- is no
     * reason to refuse: the next process creates the file, and it is
     * followed then.)
     */
    if (strict && at_path
        && aim_file_check(st->path, &sb, AIM_FILE_GROUP_WRITE, &e) != AIM_OK)
    {
        aim_fail(err, AIM_CONFIG, "state: %s", e.message);
        st->flags |= STATE_ORPHANED;
        return -1;
    }
    /* the path names the mapped file again (or nothing: a process that
     * creates it anew is followed at the next check) */
    st->flags &= ~STATE_ORPHANED;
    if ((size_t) sb.st_size != STATE_FILE_SIZE
        || !header_valid(st->map, (size_t) sb.st_size))
    {
        if (flock(st->fd, LOCK_EX) == 0) {
            if (fstat(st->fd, &sb) == 0 && !header_valid(st->map, (size_t) sb.st_size)) {
                (void) aim_mapfile_rebuild(&state_file, st->fd, st->map);
            }
            flock(st->fd, LOCK_UN);
        }
    }
    return 0;
}

int
aim_state_orphaned(const aim_state *st)
{
    return (st->flags & STATE_ORPHANED) != 0;
}

/* ------------------------------------------------------------------ */
/* Slot locks: a pid in the lock word; a dead owner's lock is taken.    */

/*
 * Take a slot's lock: 0 on success, -1 after STATE_LOCK_WAIT_MS with a
 * live owner (the caller fails closed).  The pid is read at every lock,
 * so processes forked after the file was opened never share one.
 */
static int
slot_lock(aim_state *st, state_slot *s)
{
    uint32_t        expected, me = (uint32_t) getpid(), spins = 0;
    struct timespec start, now;

    (void) st;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        expected = 0;
        if (atomic_compare_exchange_weak_explicit(&s->lock, &expected, me,
                                                  memory_order_acquire,
                                                  memory_order_relaxed))
        {
            return 0;
        }
        if (++spins % STATE_SPINS != 0) {
            continue;
        }
        expected = atomic_load_explicit(&s->lock, memory_order_relaxed);
        if (expected != 0 && kill((pid_t) expected, 0) != 0 && errno == ESRCH) {
            /* The owner died mid-update: take the lock over. */
            if (atomic_compare_exchange_strong(&s->lock, &expected, me)) {
                return 0;
            }
            continue;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) * 1000
            + (now.tv_nsec - start.tv_nsec) / 1000000 > STATE_LOCK_WAIT_MS)
        {
            return -1;
        }
        sched_yield();
    }
}

static void
slot_unlock(state_slot *s)
{
    atomic_store_explicit(&s->lock, 0, memory_order_release);
}

/* A copy of a slot no writer held while it was taken (read-only
 * mappings, which cannot lock): 0, or -1 when it stayed busy. */
static int
slot_copy(const state_slot *s, state_slot *copy)
{
    uint64_t key;
    unsigned tries;

    for (tries = 0; tries < STATE_SPINS; tries++) {
        key = atomic_load_explicit(&s->key, memory_order_acquire);
        if (atomic_load_explicit(&s->lock, memory_order_acquire) == 0) {
            memcpy(copy, (const void *) s, sizeof(*copy));
            atomic_thread_fence(memory_order_acquire);
            if (atomic_load(&s->lock) == 0 && atomic_load(&s->key) == key) {
                return 0;
            }
        }
        sched_yield();
    }
    return -1;
}

static void
slot_init(state_slot *s, uint64_t key, const char *agent, int64_t now)
{
    size_t len = strlen(agent);

    if (len > AIM_STATE_AGENT_MAX) {
        len = AIM_STATE_AGENT_MAX;
    }
    memset(s->agent, 0, sizeof(*s) - offsetof(state_slot, agent));
    memcpy(s->agent, agent, len);
    s->flags = 0;
    s->trust = T_START;
    s->updated = now;
    s->first_seen = now;
    s->last_seen = now;
    atomic_store(&s->key, key);
}

/* Seconds from then to now, 0 when then is not before now; never
 * overflows, whatever a corrupt slot holds. */
static double
seconds_since(int64_t then, int64_t now)
{
    return then < now ? (double) ((uint64_t) now - (uint64_t) then) : 0;
}

/*
 * The earliest time a slot can hold: the file's creation (in its
 * checksummed header), and never before AIM_STATE_EPOCH; but not after
 * now, for a clock that stepped back below it.
 */
#define AIM_STATE_EPOCH 1577836800        /* 2020-01-01T00:00:00Z */

static int64_t
state_floor(const aim_state *st, int64_t now)
{
    int64_t lo = ((const state_header *) st->map)->created;

    if (lo < AIM_STATE_EPOCH) {
        lo = AIM_STATE_EPOCH;
    }
    return lo < now ? lo : now;
}

/*
 * Out-of-range values come from a corrupt or foreign file, or a clock
 * that stepped back: repair them without ever favouring the agent.
 * Trust is clamped into 0..100 (a non-finite or negative one to 0).
 * Times must read floor <= first_seen <= last_seen <= updated <= now;
 * recovery is credited for the time since "updated", so an "updated" that
 * cannot be right (in the future, before the file or the slot existed,
 * or INT64_MIN) is set to now: no recovery for time that never passed.
 * A first_seen out of range becomes the floor, the oldest it can be, so
 * the agent is not handed a new learning period (learning is lenient).
 */
static void
slot_sanitise(const aim_state *st, state_slot *s, int64_t now)
{
    int64_t lo = state_floor(st, now);

    s->agent[AIM_STATE_AGENT_MAX] = '\0';
    if (!isfinite(s->trust) || s->trust < 0) {
        s->trust = 0;
    } else if (s->trust > 100) {
        s->trust = 100;
    }
    if (!isfinite(s->rate_s) || s->rate_s < 0 || s->rate_s > 1e12) s->rate_s = 0;
    if (!isfinite(s->rate_l) || s->rate_l < 0 || s->rate_l > 1e12) s->rate_l = 0;
    if (!isfinite(s->deny_s) || s->deny_s < 0 || s->deny_s > 1e12) s->deny_s = 0;
    if (!isfinite(s->new_s) || s->new_s < 0 || s->new_s > 1e12) s->new_s = 0;
    /* A peak of NaN or infinity would make no pace a burst. */
    if (!isfinite(s->peak_s) || s->peak_s < 0 || s->peak_s > 1e12) s->peak_s = 0;
    if (s->peak_at > now) s->peak_at = now;
    if (s->first_seen < lo || s->first_seen > now) {
        s->first_seen = lo;
    }
    if (s->updated < s->first_seen || s->updated > now) {
        s->updated = now;
    }
    if (s->last_seen < s->first_seen || s->last_seen > s->updated) {
        s->last_seen = s->updated;
    }
}

/* 64 bits of SHA-256 of the whole id: ids longer than the stored name
 * never share a slot, and colliding ids cannot be computed cheaply. */
static uint64_t
agent_key(const char *agent)
{
    unsigned char h[32];
    uint64_t      k = 0;

    if (aim_sha256(agent, strlen(agent), h)) {
        memcpy(&k, h, sizeof(k));
    }
    return k != 0 ? k : 1;
}

static int
slot_is(const state_slot *s, const char *agent)
{
    return strncmp(s->agent, agent, AIM_STATE_AGENT_MAX) == 0;
}

/* Do shared signals hold this slot (key k) against eviction? */
static int
ssf_holds(state_slot *s, uint64_t k, int64_t now)
{
    return atomic_load_explicit(&s->ssf_key, memory_order_acquire) == k
           && ((atomic_load(&s->ssf_flags) & SSF_DISABLED)
               || atomic_load(&s->ssf_hold_until) > now);
}

/* Has the slot's trust fully recovered by now?  (Any slot, unlocked.) */
static int
slot_recovered(const aim_state *st, const state_slot *s, int64_t now)
{
    double credit = 0;

    if (s->updated >= state_floor(st, now) && s->updated <= now
        && s->updated >= s->first_seen)
    {
        credit = seconds_since(s->updated, now) * T_RECOVER_PER_S;
    }
    return isfinite(s->trust) && s->trust + credit >= 100;
}

/*
 * Find (or, with create, make) the agent's slot, returned locked.  NULL:
 * not found (without create), or no room and no lock (fail closed).
 */
static state_slot *
slot_find(aim_state *st, const char *agent, int create, int64_t now)
{
    uint64_t    key = agent_key(agent);
    size_t      start = (size_t) (key % AIM_STATE_SLOTS), i;
    state_slot *s, *victim = NULL;
    uint64_t    k;

    if (st->flags & AIM_STATE_RDONLY) {
        return NULL;                /* a lock is a write */
    }
    for (i = 0; i < STATE_PROBES; i++) {
        s = slot_at(st, (start + i) % AIM_STATE_SLOTS);
        k = atomic_load_explicit(&s->key, memory_order_acquire);
        if (k == key) {
            if (slot_lock(st, s) != 0) {
                return NULL;
            }
            if (atomic_load(&s->key) == key && slot_is(s, agent)) {
                slot_sanitise(st, s, now);
                return s;
            }
            if (atomic_load(&s->key) == key && s->agent[0] == '\0') {
                /* Claimed by a process that died before naming it. */
                slot_init(s, key, agent, now);
                return s;
            }
            slot_unlock(s);
            continue;
        }
        if (k == 0) {
            if (!create) {
                return NULL;
            }
            if (slot_lock(st, s) != 0) {
                return NULL;
            }
            k = atomic_load(&s->key);
            if (k == 0) {
                slot_init(s, key, agent, now);
                return s;
            }
            if (k == key && slot_is(s, agent)) {
                slot_sanitise(st, s, now);
                return s;
            }
            slot_unlock(s);
            continue;
        }
        /* Only an agent whose trust has fully recovered may be evicted:
         * eviction must never hand a distrusted agent a clean slate, nor
         * drop what a shared signal holds against it.  Read unlocked, so
         * judged as slot_sanitise would: no recovery for an "updated" out
         * of range. */
        if (slot_recovered(st, s, now) && !ssf_holds(s, k, now)
            && (victim == NULL || s->last_seen < victim->last_seen))
        {
            victim = s;
        }
    }
    if (!create || victim == NULL) {
        return NULL;
    }
    if (slot_lock(st, victim) != 0) {
        return NULL;
    }
    slot_init(victim, key, agent, now);
    return victim;
}

/* ------------------------------------------------------------------ */
/* Trust                                                               */

aim_class
aim_action_class(const char *action)
{
    static const char *const write[] = {
        "POST", "PUT", "PATCH", "DELETE", "INSERT", "UPDATE", "MERGE", "COPY",
        "write", NULL
    };
    static const char *const admin[] = {
        "sudo", "su", "admin", "role", "CREATE", "ALTER", "DROP", "GRANT",
        "REVOKE", "TRUNCATE", "DDL", NULL
    };
    size_t i;

    if (action == NULL) {
        return AIM_CLASS_READ;
    }
    for (i = 0; admin[i] != NULL; i++) {
        if (strcasecmp(action, admin[i]) == 0) {
            return AIM_CLASS_ADMIN;
        }
    }
    for (i = 0; write[i] != NULL; i++) {
        if (strcasecmp(action, write[i]) == 0) {
            return AIM_CLASS_WRITE;
        }
    }
    return AIM_CLASS_READ;
}

static double
decay(double v, double dt, double half)
{
    return dt > 0 ? v * exp2(-dt / half) : v;
}

/* Bring the slot's counters and trust forward to now. */
static void
slot_advance(state_slot *s, int64_t now)
{
    double dt = seconds_since(s->updated, now);

    if (dt <= 0) {
        return;
    }
    s->rate_s = decay(s->rate_s, dt, T_HALF_SHORT);
    s->rate_l = decay(s->rate_l, dt, T_HALF_LONG);
    s->deny_s = decay(s->deny_s, dt, T_HALF_DENY);
    s->new_s = decay(s->new_s, dt, T_HALF_NEW);
    s->trust += dt * T_RECOVER_PER_S;
    if (s->trust > 100) {
        s->trust = 100;
    }
    s->updated = now;
}

static int
slot_learning(const state_slot *s, int64_t now)
{
    return s->events < T_LEARN_EVENTS
           || seconds_since(s->first_seen, now) < T_LEARN_SECONDS;
}

/* Test-and-set the resource in the agent's Bloom filter; 1 if new. */
static int
bloom_add(state_slot *s, aim_class cls, const char *resource)
{
    unsigned char c = (unsigned char) cls;
    uint64_t      h = aim_fnv1a(&c, 1, AIM_FNV1A_INIT);
    uint32_t      h1, h2, bit, i;
    int           fresh = 0;

    h = aim_fnv1a(resource, strlen(resource), h);
    h1 = (uint32_t) h;
    h2 = (uint32_t) (h >> 32) | 1;
    for (i = 0; i < 3; i++) {
        bit = (h1 + i * h2) % STATE_BLOOM_BITS;
        if (!(s->bloom[bit / 8] & (1u << (bit % 8)))) {
            fresh = 1;
            s->bloom[bit / 8] |= (uint8_t) (1u << (bit % 8));
        }
    }
    return fresh;
}

static int
is_probe(aim_status status)
{
    return status == AIM_INSUFFICIENT_SCOPE || status == AIM_POLICY_DENIED
        || status == AIM_BAD_BINDING || status == AIM_REPLAY;
}

double
aim_state_observe(aim_state *st, const char *agent, const char *action,
                  const char *resource, aim_status status, int64_t now,
                  const char **signal)
{
    state_slot *s;
    aim_class   cls = aim_action_class(action);
    double      penalty = 0, rs, rl, peak, trust;
    int         learning, fast, sig = SIG_NONE;
    struct tm   tm;
    time_t      tt = (time_t) now;

    if (signal != NULL) {
        *signal = NULL;
    }
    if (st->flags & STATE_ORPHANED) {
        return -1;
    }
    s = slot_find(st, agent, 1, now);
    if (s == NULL) {
        return -1;                       /* table full or lock stuck */
    }
    slot_advance(s, now);
    learning = slot_learning(s, now);

    s->events++;
    s->rate_s += 1;
    s->rate_l += 1;
    s->last_seen = now;
    gmtime_r(&tt, &tm);
    s->hours[tm.tm_hour % 24]++;
    s->classes[cls]++;

    if (is_probe(status)) {
        s->denied++;
        s->deny_s += 1;
        if (s->deny_s > T_DENY_FREE) {
            penalty += T_DENY_PENALTY;
            sig = SIG_PROBING;
        }
    }

    if (resource != NULL && bloom_add(s, cls, resource)) {
        s->new_s += 1;
        if (s->new_s > (learning ? T_NEW_LIMIT_LEARN : T_NEW_LIMIT)) {
            penalty += T_NEW_PENALTY;
            sig = SIG_ENUMERATION;
        }
    }

    /*
     * The agent's usual peak pace: a nightly batch is busy at 02:00 every
     * night, and the hour-long baseline has forgotten it by then.  The
     * peak is raised only by a pace judged usual (while learning, or not
     * fast), is confirmed (its age reset) whenever the agent runs at half
     * of the peak it reached or more, and otherwise fades with a week's
     * half-life, so an agent quiet for weeks is judged afresh.  Half of
     * the faded peak confirms nothing: the first requests after six quiet
     * weeks would otherwise bring back sixty-four times what is left.  A
     * burst must be twice the usual peak as well as ten times the hour's
     * rate.
     */
    rs = s->rate_s * M_LN2 / T_HALF_SHORT;
    rl = s->rate_l * M_LN2 / T_HALF_LONG;
    fast = rs > T_BURST_FLOOR && rs > T_BURST_FACTOR * (rl > 0.1 ? rl : 0.1);
    peak = s->peak_at < now ? decay(s->peak_s, now - s->peak_at, T_HALF_PEAK)
                            : s->peak_s;
    if ((learning || !fast) && s->rate_s > peak) {
        s->peak_s = peak = s->rate_s;
        s->peak_at = now;
    } else if (s->rate_s >= 0.5 * s->peak_s && s->rate_s > 0) {
        s->peak_at = now;            /* the usual pace again: confirmed */
        peak = s->peak_s;
    }
    if (!learning) {
        if (fast && s->rate_s > T_PEAK_FACTOR * peak) {
            /* the further beyond the usual peak, the dearer, up to 4x */
            double x = peak > 0 ? s->rate_s / (T_PEAK_FACTOR * peak) : 4;

            penalty += T_BURST_PENALTY * (x < 4 ? x : 4);
            sig = SIG_BURST;
        }
        if (s->events > T_HOUR_MIN_EVENTS
            && (double) s->hours[tm.tm_hour % 24] < T_HOUR_SHARE * (double) s->events)
        {
            penalty += T_HOUR_PENALTY;
            if (sig == SIG_NONE) sig = SIG_OFF_HOURS;
        }
        if (cls == AIM_CLASS_ADMIN && !(s->flags & SLOT_ADMIN_SEEN)) {
            penalty += T_ADMIN_PENALTY;
            sig = SIG_NEW_ADMIN;
        }
        s->flags |= SLOT_LEARNT;
    }
    if (cls == AIM_CLASS_ADMIN) {
        s->flags |= SLOT_ADMIN_SEEN;
    }

    if (penalty > 0) {
        s->anomalies++;
        s->signal = (uint32_t) sig;
        s->trust -= penalty;
        if (s->trust < 0) {
            s->trust = 0;
        }
        if (signal != NULL) {
            *signal = signal_names[sig];
        }
    }
    trust = s->trust;
    slot_unlock(s);
    return trust;
}

/* Is the agent in the table (without taking its lock)? */
static int
state_present(aim_state *st, const char *agent)
{
    uint64_t key = agent_key(agent);
    size_t   start = (size_t) (key % AIM_STATE_SLOTS), i;

    for (i = 0; i < STATE_PROBES; i++) {
        state_slot *s = slot_at(st, (start + i) % AIM_STATE_SLOTS);
        uint64_t    k = atomic_load(&s->key);

        if (k == key && slot_is(s, agent)) {
            return 1;
        }
        if (k == 0) {
            return 0;
        }
    }
    return 0;
}

double
aim_state_trust(aim_state *st, const char *agent, int64_t now)
{
    state_slot *s = slot_find(st, agent, 0, now);
    double      trust;

    if (st->flags & (AIM_STATE_RDONLY | STATE_ORPHANED)) {
        return -1;
    }
    if (s == NULL) {
        /* Never seen -- or its slot is locked by a stuck process, which
         * slot_find cannot tell apart here; look once more, and fail
         * closed if the agent is present but unreadable. */
        return state_present(st, agent) ? -1 : T_START;
    }
    trust = s->trust + seconds_since(s->updated, now) * T_RECOVER_PER_S;
    slot_unlock(s);
    return trust > 100 ? 100 : trust;
}

int
aim_state_reset(aim_state *st, const char *agent)
{
    int64_t     now = aim_now();
    state_slot *s = slot_find(st, agent, 0, now);

    if (s == NULL) {
        return -1;
    }
    {
        /* Forgetting behaviour is not forgetting what the identity
         * provider said: the shared-signal marks survive a reset. */
        uint64_t ssf_key = atomic_load(&s->ssf_key);
        int64_t  rb = atomic_load(&s->ssf_revoked_before);
        int64_t  sa = atomic_load(&s->ssf_status_at);
        int64_t  hu = atomic_load(&s->ssf_hold_until);
        int64_t  da = atomic_load(&s->ssf_distrust_at);
        uint32_t fl = atomic_load(&s->ssf_flags);
        uint16_t ca = atomic_load(&s->ssf_causes);

        slot_init(s, atomic_load(&s->key), agent, now);
        atomic_store(&s->ssf_revoked_before, rb);
        atomic_store(&s->ssf_status_at, sa);
        atomic_store(&s->ssf_hold_until, hu);
        atomic_store(&s->ssf_distrust_at, da);
        atomic_store(&s->ssf_flags, fl);
        atomic_store(&s->ssf_causes, ca);
        atomic_store_explicit(&s->ssf_key, ssf_key, memory_order_release);
    }
    slot_unlock(s);
    return 0;
}

size_t
aim_state_foreach(aim_state *st, int64_t now,
                  void (*fn)(void *ud, const aim_agent_stats *s), void *ud)
{
    size_t          i, n = 0;
    state_slot     *s, copy;
    aim_agent_stats a;

    for (i = 0; i < AIM_STATE_SLOTS; i++) {
        s = slot_at(st, i);
        if (atomic_load(&s->key) == 0) {
            continue;
        }
        if (st->flags & AIM_STATE_RDONLY) {
            /* No lock on a read-only mapping: work on a copy taken while
             * no writer held the slot. */
            if (slot_copy(s, &copy) != 0) {
                continue;
            }
            s = &copy;
        } else if (slot_lock(st, s) != 0) {
            continue;
        }
        if (atomic_load(&s->key) != 0 && s->agent[0] != '\0') {
            slot_sanitise(st, s, now);
            slot_advance(s, now);
            memset(&a, 0, sizeof(a));
            memcpy(a.agent, s->agent, AIM_STATE_AGENT_MAX);
            a.trust = s->trust;
            a.events = s->events;
            a.denied = s->denied;
            a.anomalies = s->anomalies;
            a.rate_short = s->rate_s * M_LN2 / T_HALF_SHORT;
            a.rate_long = s->rate_l * M_LN2 / T_HALF_LONG;
            a.deny_recent = s->deny_s;
            a.new_recent = s->new_s;
            a.first_seen = s->first_seen;
            a.last_seen = s->last_seen;
            a.learning = slot_learning(s, now);
            a.last_signal = s->signal < SIG_MAX ? signal_names[s->signal] : NULL;
            if (atomic_load(&s->ssf_key) == atomic_load(&s->key)) {
                a.revoked_before = atomic_load(&s->ssf_revoked_before);
                a.disabled = (atomic_load(&s->ssf_flags) & SSF_DISABLED) != 0;
            }
            if (s != &copy) {
                slot_unlock(s);
            }
            fn(ud, &a);
            n++;
        } else if (s != &copy) {
            slot_unlock(s);
        }
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* Shared signals                                                      */

int
aim_state_signals_get(aim_state *st, const char *agent, aim_state_signals *out)
{
    uint64_t key = agent_key(agent);
    size_t   start = (size_t) (key % AIM_STATE_SLOTS), i;
    uint16_t causes;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < STATE_PROBES; i++) {
        state_slot *s = slot_at(st, (start + i) % AIM_STATE_SLOTS);
        uint64_t    k = atomic_load_explicit(&s->key, memory_order_acquire);

        if (k == 0) {
            return 0;
        }
        if (k != key || !slot_is(s, agent)) {
            continue;
        }
        /* No lock: the marks are written before ssf_key (release), and a
         * marked slot is never evicted, so what is read is this agent's. */
        if (atomic_load_explicit(&s->ssf_key, memory_order_acquire) != key) {
            return 0;
        }
        out->revoked_before = atomic_load(&s->ssf_revoked_before);
        out->status_at = atomic_load(&s->ssf_status_at);
        out->disabled = (atomic_load(&s->ssf_flags) & SSF_DISABLED) != 0;
        causes = atomic_load(&s->ssf_causes);
        out->revoke_cause = causes & 0xff;
        out->disable_cause = causes >> 8;
        return out->revoked_before > 0 || out->disabled;
    }
    return 0;
}

/* The slot's marks as this agent's: cleared if they were another's. */
static void
ssf_own(state_slot *s, uint64_t key)
{
    if (atomic_load(&s->ssf_key) != key) {
        atomic_store(&s->ssf_key, 0);
        atomic_store(&s->ssf_revoked_before, 0);
        atomic_store(&s->ssf_status_at, 0);
        atomic_store(&s->ssf_hold_until, 0);
        atomic_store(&s->ssf_distrust_at, 0);
        atomic_store(&s->ssf_flags, 0);
        atomic_store(&s->ssf_causes, 0);
    }
}

static uint32_t
signal_index(const char *name)
{
    uint32_t i;

    for (i = 1; name != NULL && i < SIG_MAX; i++) {
        if (strcmp(signal_names[i], name) == 0) {
            return i;
        }
    }
    return SIG_NONE;
}

int
aim_state_signals_apply(aim_state *st, const char *agent,
                        const aim_state_effect *e, int64_t now)
{
    state_slot *s;
    uint64_t    key;
    uint32_t    flags;
    uint16_t    causes;
    int64_t     at;
    int         changed = 0;

    if (st->flags & STATE_ORPHANED) {
        return -1;                       /* marks no process would read */
    }
    s = slot_find(st, agent, 1, now);
    if (s == NULL) {
        return -1;                       /* table full or lock stuck */
    }
    key = atomic_load(&s->key);
    ssf_own(s, key);
    causes = atomic_load(&s->ssf_causes);

    if (e->revoked_before > atomic_load(&s->ssf_revoked_before)) {
        atomic_store(&s->ssf_revoked_before, e->revoked_before);
        causes = (uint16_t) ((causes & 0xff00u) | (e->revoke_cause & 0xff));
        changed = 1;
    }

    /* Disable and enable are ordered by the event's own time, so a
     * delayed or replayed older one never undoes a newer one; on a tie
     * the disable wins. */
    flags = atomic_load(&s->ssf_flags);
    at = atomic_load(&s->ssf_status_at);
    if (e->status == AIM_STATE_DISABLE && e->status_at >= at) {
        changed |= !(flags & SSF_DISABLED) || e->status_at > at;
        atomic_store(&s->ssf_flags, flags | SSF_DISABLED);
        atomic_store(&s->ssf_status_at, e->status_at);
        causes = (uint16_t) ((causes & 0xffu) | ((e->status_cause & 0xff) << 8));
    } else if (e->status == AIM_STATE_ENABLE && e->status_at > at) {
        changed |= (flags & SSF_DISABLED) != 0;
        atomic_store(&s->ssf_flags, flags & ~(uint32_t) SSF_DISABLED);
        atomic_store(&s->ssf_status_at, e->status_at);
    }
    atomic_store(&s->ssf_causes, causes);

    if (e->penalty > 0) {
        slot_advance(s, now);
        s->trust -= e->penalty;
        if (s->trust < 0) {
            s->trust = 0;
        }
        s->anomalies++;
        s->signal = signal_index(e->signal);
        changed = 1;
    }
    if (e->distrust) {
        atomic_store(&s->ssf_distrust_at, now);
    }
    if (e->hold_until > atomic_load(&s->ssf_hold_until)) {
        atomic_store(&s->ssf_hold_until, e->hold_until);
    }
    atomic_store_explicit(&s->ssf_key, key, memory_order_release);
    slot_unlock(s);
    return changed;
}

int
aim_state_signals_clear(aim_state *st, const char *agent)
{
    state_slot *s = slot_find(st, agent, 0, aim_now());

    if (s == NULL) {
        return -1;
    }
    atomic_store(&s->ssf_key, 0);
    ssf_own(s, atomic_load(&s->key));
    slot_unlock(s);
    return 0;
}

int
aim_state_distrust_due(aim_state *st, const char *agent, int64_t now,
                       int64_t hold)
{
    state_slot *s = slot_find(st, agent, 1, now);
    uint64_t    key;
    int64_t     last;
    int         due;

    if (s == NULL) {
        return -1;
    }
    key = atomic_load(&s->key);
    ssf_own(s, key);
    last = atomic_load(&s->ssf_distrust_at);
    due = last == 0 || last > now || now - last >= hold;
    if (due) {
        atomic_store(&s->ssf_distrust_at, now);
        atomic_store_explicit(&s->ssf_key, key, memory_order_release);
    }
    slot_unlock(s);
    return due;
}

int
aim_state_fstat(const aim_state *st, struct stat *sb)
{
    return fstat(st->fd, sb);
}
