/*
 * journal.c -- the shared-signals journal (see journal.h and docs/ssf.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/rand.h>
#include "journal.h"
#include "keys.h"
#include "mapfile.h"
#include "util.h"

#define J_MAGIC        "AIMSSFJ1"
#define J_VERSION      1u
#define J_HEADER_SIZE  4096u
#define J_STREAM_SIZE  768u
#define J_REPLAY_SIZE  48u
#define J_EVENT_SIZE   320u
#define J_CONS_SIZE    128u
#define J_LOCK_WAIT_MS 200

#define J_STREAMS_OFF  ((size_t) J_HEADER_SIZE)
#define J_REPLAY_OFF   (J_STREAMS_OFF + (size_t) AIM_JOURNAL_STREAMS * J_STREAM_SIZE)
#define J_OUTBOX_OFF   (J_REPLAY_OFF + (size_t) AIM_JOURNAL_REPLAY * J_REPLAY_SIZE)
#define J_CONS_OFF     (J_OUTBOX_OFF + (size_t) AIM_JOURNAL_OUTBOX * J_EVENT_SIZE)
#define J_FILE_SIZE    (J_CONS_OFF + (size_t) AIM_JOURNAL_CONSUMERS * J_CONS_SIZE)

typedef struct {
    char     magic[8];
    uint32_t version;
    uint32_t header_size;
    uint64_t file_size;
    uint32_t nstreams;
    uint32_t nreplay;
    uint32_t noutbox;
    uint32_t nconsumers;
    int64_t  created;
    uint8_t  instance[16];
    uint64_t checksum;         /* of everything above */
    /* changed under the lock */
    int64_t  floor;            /* SETs with iat <= floor are refused */
    uint64_t next_seq;         /* the outbox's next event number */
    uint32_t replay_hint;      /* where the next free entry may be */
} j_header;

typedef struct {
    uint8_t  id[16];           /* hash of the issuer */
    char     issuer[201];
    char     stream_id[129];
    char     state[257];
    char     status[16];
    int64_t  verified_at;
    int64_t  status_at;
    int64_t  last_at;
    uint64_t accepted;
} j_stream;

typedef struct {
    uint8_t  id[16];           /* hash of (issuer, jti) */
    uint8_t  payload[16];      /* hash of the payload bytes */
    int64_t  iat;
    int64_t  expires;          /* 0: free */
} j_replay;

typedef struct {
    uint64_t seq;              /* valid when seq % OUTBOX is its index */
    int64_t  time;
    int32_t  kind;
    int32_t  pad;
    double   trust;
    char     agent[AIM_JOURNAL_AGENT_MAX + 8];
    char     reason[64];
} j_event;

typedef struct {
    uint8_t  id[16];           /* hash of the consumer's name; zero: free */
    char     name[64];         /* for operators (truncated) */
    uint64_t acked;            /* every event <= acked is acknowledged */
    uint64_t window;           /* bit i: event acked + 1 + i acknowledged */
    int64_t  last_poll;
    uint64_t lost;             /* events overwritten before acknowledged */
} j_consumer;

_Static_assert(sizeof(j_header) <= J_HEADER_SIZE, "journal header");
_Static_assert(sizeof(j_stream) <= J_STREAM_SIZE, "journal stream");
_Static_assert(sizeof(j_replay) <= J_REPLAY_SIZE, "journal replay");
_Static_assert(sizeof(j_event) <= J_EVENT_SIZE, "journal event");
_Static_assert(sizeof(j_consumer) <= J_CONS_SIZE, "journal consumer");
_Static_assert(AIM_JOURNAL_WINDOW == 64, "the window is one uint64_t");

struct aim_journal {
    char          *path;
    int            fd;
    unsigned char *map;
    int            locked;
    pid_t          pid;            /* the process that opened fd */
    int            strict;         /* strict_modes: aim_file_check it */
};

static j_header *
hdr(const aim_journal *j)
{
    return (j_header *) j->map;
}

static j_stream *
stream_at(const aim_journal *j, size_t i)
{
    return (j_stream *) (j->map + J_STREAMS_OFF + i * J_STREAM_SIZE);
}

static j_replay *
replay_at(const aim_journal *j, size_t i)
{
    return (j_replay *) (j->map + J_REPLAY_OFF + i * J_REPLAY_SIZE);
}

static j_event *
event_at(const aim_journal *j, uint64_t seq)
{
    return (j_event *) (j->map + J_OUTBOX_OFF
                        + (size_t) (seq % AIM_JOURNAL_OUTBOX) * J_EVENT_SIZE);
}

static j_consumer *
consumer_at(const aim_journal *j, size_t i)
{
    return (j_consumer *) (j->map + J_CONS_OFF + i * J_CONS_SIZE);
}

static int
header_valid(const unsigned char *map, size_t file_size)
{
    const j_header *h = (const j_header *) map;

    return file_size == J_FILE_SIZE
        && memcmp(h->magic, J_MAGIC, 8) == 0
        && h->version == J_VERSION
        && h->header_size == J_HEADER_SIZE
        && h->file_size == J_FILE_SIZE
        && h->nstreams == AIM_JOURNAL_STREAMS
        && h->nreplay == AIM_JOURNAL_REPLAY
        && h->noutbox == AIM_JOURNAL_OUTBOX
        && h->nconsumers == AIM_JOURNAL_CONSUMERS
        && h->checksum == aim_fnv1a(h, offsetof(j_header, checksum),
                                    AIM_FNV1A_INIT);
}

/* The header of an empty journal, with a new instance. */
static int
header_init(unsigned char *map)
{
    j_header h;

    memset(&h, 0, sizeof(h));
    memcpy(h.magic, J_MAGIC, 8);
    h.version = J_VERSION;
    h.header_size = J_HEADER_SIZE;
    h.file_size = J_FILE_SIZE;
    h.nstreams = AIM_JOURNAL_STREAMS;
    h.nreplay = AIM_JOURNAL_REPLAY;
    h.noutbox = AIM_JOURNAL_OUTBOX;
    h.nconsumers = AIM_JOURNAL_CONSUMERS;
    h.created = aim_now();
    if (RAND_bytes(h.instance, sizeof(h.instance)) != 1) {
        errno = EIO;
        return -1;
    }
    h.checksum = aim_fnv1a(&h, offsetof(j_header, checksum), AIM_FNV1A_INIT);
    h.next_seq = 1;
    memcpy(map, &h, sizeof(h));
    return 0;
}

static const aim_mapfile journal_file = {
    "shared signals journal", J_FILE_SIZE, J_LOCK_WAIT_MS, header_valid,
    header_init
};

/* Open and map path into j (fd and map); rebuild it if it is not ours. */
static int
map_file(aim_journal *j, aim_error *err)
{
    j->fd = aim_mapfile_open(&journal_file, j->path, err);
    if (j->fd < 0) {
        return -1;
    }
    if (j->strict) {
        /* checked before it is mapped: a file refused is never rebuilt */
        struct stat sb;
        aim_error   e;

        if (fstat(j->fd, &sb) != 0) {
            aim_fail(err, AIM_CONFIG, "shared signals journal: \"%.200s\": %s",
                     j->path, strerror(errno));
            return -1;
        }
        if (aim_file_check(j->path, &sb, AIM_FILE_GROUP_WRITE, &e) != AIM_OK) {
            aim_fail(err, AIM_CONFIG, "shared signals journal: %s", e.message);
            return -1;
        }
    }
    j->map = aim_mapfile_map(&journal_file, j->path, j->fd, err);
    return j->map != NULL ? 0 : -1;
}

static void
unmap(aim_journal *j)
{
    if (j->map != NULL) {
        munmap(j->map, J_FILE_SIZE);
        j->map = NULL;
    }
    if (j->fd >= 0) {
        close(j->fd);
        j->fd = -1;
    }
}

aim_journal *
aim_journal_open(const char *state_path, int strict, aim_error *err)
{
    aim_journal *j;
    size_t       len;

    if (state_path == NULL) {
        aim_fail(err, AIM_CONFIG, "shared signals need the state file (option "
                 "\"state\")");
        return NULL;
    }
    j = calloc(1, sizeof(*j));
    len = strlen(state_path) + sizeof(AIM_JOURNAL_SUFFIX);
    if (j == NULL || (j->path = malloc(len)) == NULL) {
        free(j);
        aim_fail(err, AIM_INTERNAL, "out of memory");
        return NULL;
    }
    snprintf(j->path, len, "%s%s", state_path, AIM_JOURNAL_SUFFIX);
    j->fd = -1;
    j->pid = getpid();
    j->strict = strict;
    if (map_file(j, err) != 0) {
        aim_journal_close(j);
        return NULL;
    }
    return j;
}

void
aim_journal_close(aim_journal *j)
{
    if (j == NULL) {
        return;
    }
    if (j->locked) {
        aim_journal_unlock(j);
    }
    unmap(j);
    free(j->path);
    free(j);
}

const char *
aim_journal_path(const aim_journal *j)
{
    return j->path;
}

int
aim_journal_lock(aim_journal *j)
{
    struct stat sb, psb;

    /*
     * Open anew when replaced on disk (a new inode at the path), so that
     * no process keeps writing to a file nobody else reads, and in a
     * process forked after the open (nginx workers): flock() locks belong
     * to the open file description, which a fork shares, so processes
     * sharing one would not exclude each other.
     */
    if (j->pid != getpid()
        || (stat(j->path, &psb) == 0 && fstat(j->fd, &sb) == 0
            && (psb.st_ino != sb.st_ino || psb.st_dev != sb.st_dev)))
    {
        aim_journal tmp;

        memset(&tmp, 0, sizeof(tmp));
        tmp.path = j->path;
        tmp.fd = -1;
        tmp.pid = getpid();
        tmp.strict = j->strict;
        if (map_file(&tmp, NULL) != 0) {
            /* never share the parent's lock; never go on with a file no
             * other process reads (a replacement refused or unopenable) */
            unmap(&tmp);
            return -1;
        }
        unmap(j);
        j->fd = tmp.fd;
        j->map = tmp.map;
        j->pid = tmp.pid;
    }
    if (aim_mapfile_lock(&journal_file, j->fd, LOCK_EX) != 0) {
        return -1;
    }
    if (fstat(j->fd, &sb) != 0 || !header_valid(j->map, (size_t) sb.st_size)) {
        if (aim_mapfile_rebuild(&journal_file, j->fd, j->map) != 0) {
            flock(j->fd, LOCK_UN);
            return -1;
        }
    }
    if (hdr(j)->next_seq == 0) {
        hdr(j)->next_seq = 1;
    }
    j->locked = 1;
    return 0;
}

void
aim_journal_unlock(aim_journal *j)
{
    j->locked = 0;
    flock(j->fd, LOCK_UN);
}

void
aim_journal_instance(aim_journal *j, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    size_t            i;

    for (i = 0; i < 16; i++) {
        out[2 * i] = hex[hdr(j)->instance[i] >> 4];
        out[2 * i + 1] = hex[hdr(j)->instance[i] & 15];
    }
    out[32] = '\0';
}

/* ------------------------------------------------------------------ */
/* Replay                                                              */

int
aim_journal_replay_check(aim_journal *j, const unsigned char id[16],
                         const unsigned char payload[16], int64_t iat,
                         int64_t now)
{
    size_t    i;
    j_replay *r;

    if (iat <= hdr(j)->floor) {
        return AIM_REPLAY_TOO_OLD;
    }
    for (i = 0; i < AIM_JOURNAL_REPLAY; i++) {
        r = replay_at(j, i);
        if (r->expires > now && memcmp(r->id, id, 16) == 0) {
            return memcmp(r->payload, payload, 16) == 0 ? AIM_REPLAY_SEEN
                                                        : AIM_REPLAY_CONFLICT;
        }
    }
    return AIM_REPLAY_NEW;
}

void
aim_journal_replay_add(aim_journal *j, const unsigned char id[16],
                       const unsigned char payload[16], int64_t iat,
                       int64_t expires, int64_t now)
{
    size_t    i, k, vi = 0, start = hdr(j)->replay_hint % AIM_JOURNAL_REPLAY;
    j_replay *r, *victim = NULL;

    /* From the hint: entries are taken in turn, so the next one is
     * usually free and a full scan happens only when the table is. */
    for (i = 0; i < AIM_JOURNAL_REPLAY; i++) {
        k = (start + i) % AIM_JOURNAL_REPLAY;
        r = replay_at(j, k);
        if (r->expires <= now) {
            victim = r;
            vi = k;
            break;
        }
        if (victim == NULL || r->iat < victim->iat) {
            victim = r;
            vi = k;
        }
    }
    hdr(j)->replay_hint = (uint32_t) (vi + 1);
    if (victim->expires > now && victim->iat > hdr(j)->floor) {
        /* Full: the window shrinks rather than let a replay through. */
        hdr(j)->floor = victim->iat;
    }
    memcpy(victim->id, id, 16);
    memcpy(victim->payload, payload, 16);
    victim->iat = iat;
    victim->expires = expires;
}

int64_t
aim_journal_replay_floor(aim_journal *j)
{
    return hdr(j)->floor;
}

/* ------------------------------------------------------------------ */
/* Transmitters                                                        */

static void
hash16(const char *s, unsigned char out[16])
{
    unsigned char h[32];

    if (!aim_sha256(s, strlen(s), h)) {
        memset(h, 0xff, sizeof(h));
    }
    memcpy(out, h, 16);
}

static void
copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);

    if (n >= size) {
        n = size - 1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/*
 * In a table of n entries of size bytes at base, each starting with a
 * 16-byte id: the index of the entry whose id is id (*found = 1), else of
 * the one to give it, the entry whose int64_t at time_off is the oldest.
 */
static size_t
entry_find(const unsigned char *base, size_t n, size_t size, size_t time_off,
           const unsigned char id[16], int *found)
{
    size_t  i, oldest = 0;
    int64_t t, oldest_t = 0;

    for (i = 0; i < n; i++) {
        if (memcmp(base + i * size, id, 16) == 0) {
            *found = 1;
            return i;
        }
        memcpy(&t, base + i * size + time_off, sizeof(t));
        if (i == 0 || t < oldest_t) {
            oldest = i;
            oldest_t = t;
        }
    }
    *found = 0;
    return oldest;
}

static j_stream *
stream_find(aim_journal *j, const char *issuer, int create)
{
    unsigned char id[16];
    j_stream     *s;
    int           found;

    hash16(issuer, id);
    s = stream_at(j, entry_find(j->map + J_STREAMS_OFF, AIM_JOURNAL_STREAMS,
                                J_STREAM_SIZE, offsetof(j_stream, last_at), id,
                                &found));
    if (found) {
        s->issuer[sizeof(s->issuer) - 1] = '\0';
        return s;
    }
    if (!create) {
        return NULL;
    }
    memset(s, 0, sizeof(*s));
    memcpy(s->id, id, 16);
    copy_str(s->issuer, sizeof(s->issuer), issuer);
    return s;
}

void
aim_journal_stream_note(aim_journal *j, const char *issuer,
                        const char *stream_id, const char *state,
                        const char *status, int64_t now)
{
    j_stream *s = stream_find(j, issuer, 1);

    s->accepted++;
    s->last_at = now;
    if (stream_id != NULL) {
        copy_str(s->stream_id, sizeof(s->stream_id), stream_id);
        copy_str(s->state, sizeof(s->state), state != NULL ? state : "");
        s->verified_at = now;
    }
    if (status != NULL) {
        copy_str(s->status, sizeof(s->status), status);
        s->status_at = now;
    }
}

int
aim_journal_stream_get(aim_journal *j, const char *issuer,
                       aim_journal_stream *out)
{
    j_stream *s = stream_find(j, issuer, 0);

    memset(out, 0, sizeof(*out));
    if (s == NULL) {
        return 0;
    }
    copy_str(out->issuer, sizeof(out->issuer), s->issuer);
    s->stream_id[sizeof(s->stream_id) - 1] = '\0';
    s->state[sizeof(s->state) - 1] = '\0';
    s->status[sizeof(s->status) - 1] = '\0';
    copy_str(out->stream_id, sizeof(out->stream_id), s->stream_id);
    copy_str(out->state, sizeof(out->state), s->state);
    copy_str(out->status, sizeof(out->status), s->status);
    out->verified_at = s->verified_at;
    out->status_at = s->status_at;
    out->last_at = s->last_at;
    out->accepted = s->accepted;
    return 1;
}

/* ------------------------------------------------------------------ */
/* Outbox and consumers                                                */

/* The oldest event number the ring still holds. */
static uint64_t
oldest_seq(const aim_journal *j)
{
    uint64_t next = hdr(j)->next_seq;

    return next > AIM_JOURNAL_OUTBOX ? next - AIM_JOURNAL_OUTBOX : 1;
}

static int
event_get(const aim_journal *j, uint64_t seq, aim_journal_event *out)
{
    const j_event *e = event_at(j, seq);

    if (seq < oldest_seq(j) || seq >= hdr(j)->next_seq || e->seq != seq) {
        return 0;
    }
    out->seq = seq;
    out->time = e->time;
    out->kind = e->kind;
    out->trust = e->trust;
    memcpy(out->agent, e->agent, sizeof(out->agent) - 1);
    out->agent[sizeof(out->agent) - 1] = '\0';
    memcpy(out->reason, e->reason, sizeof(out->reason) - 1);
    out->reason[sizeof(out->reason) - 1] = '\0';
    return 1;
}

int
aim_journal_append(aim_journal *j, int kind, const char *agent, int64_t time,
                   double trust, const char *reason, uint64_t *seq)
{
    j_event  *e;
    uint64_t  n;

    if (aim_journal_lock(j) != 0) {
        return -1;
    }
    n = hdr(j)->next_seq;
    e = event_at(j, n);
    memset(e, 0, sizeof(*e));
    e->time = time;
    e->kind = kind;
    e->trust = trust;
    copy_str(e->agent, AIM_JOURNAL_AGENT_MAX + 1, agent);
    copy_str(e->reason, sizeof(e->reason), reason != NULL ? reason : "");
    e->seq = n;
    hdr(j)->next_seq = n + 1;
    aim_journal_unlock(j);
    if (seq != NULL) {
        *seq = n;
    }
    return 0;
}

int
aim_journal_next(aim_journal *j, uint64_t after, int64_t since,
                 aim_journal_event *out)
{
    uint64_t s;
    int      found = 0;

    if (aim_journal_lock(j) != 0) {
        return -1;
    }
    s = after + 1 > oldest_seq(j) ? after + 1 : oldest_seq(j);
    for (; s < hdr(j)->next_seq && !found; s++) {
        found = event_get(j, s, out) && out->time >= since;
    }
    aim_journal_unlock(j);
    return found;
}

static j_consumer *
consumer_find(aim_journal *j, const char *name, int64_t now)
{
    unsigned char id[16];
    j_consumer   *c;
    int           found;

    hash16(name, id);
    c = consumer_at(j, entry_find(j->map + J_CONS_OFF, AIM_JOURNAL_CONSUMERS,
                                  J_CONS_SIZE, offsetof(j_consumer, last_poll),
                                  id, &found));
    if (found) {
        return c;
    }
    /* A new poller (or one forgotten for a newer): from the oldest event
     * still held. */
    memset(c, 0, sizeof(*c));
    memcpy(c->id, id, 16);
    copy_str(c->name, sizeof(c->name), name);
    c->acked = oldest_seq(j) - 1;
    c->last_poll = now;
    return c;
}

/* Slide the window over what is acknowledged. */
static void
consumer_advance(j_consumer *c)
{
    while (c->window & 1u) {
        c->window >>= 1;
        c->acked++;
    }
}

int
aim_journal_poll(aim_journal *j, const char *consumer, const uint64_t *acks,
                 size_t nacks, unsigned max, int64_t since, int64_t now,
                 aim_journal_event *out, size_t *nout, int *more)
{
    j_consumer        *c;
    uint64_t           next, s;
    size_t             i;
    aim_journal_event  ev;

    *nout = 0;
    *more = 0;
    if (max > AIM_JOURNAL_WINDOW) {
        max = AIM_JOURNAL_WINDOW;
    }
    if (aim_journal_lock(j) != 0) {
        return -1;
    }
    next = hdr(j)->next_seq;
    c = consumer_find(j, consumer, now);
    if (c->acked >= next) {
        c->acked = next - 1;             /* a corrupt or rebuilt file */
        c->window = 0;
    }
    if (c->acked + 1 < oldest_seq(j)) {
        c->lost += oldest_seq(j) - 1 - c->acked;
        c->acked = oldest_seq(j) - 1;
        c->window = 0;
    }
    for (i = 0; i < nacks; i++) {
        if (acks[i] > c->acked && acks[i] <= c->acked + AIM_JOURNAL_WINDOW
            && acks[i] < next)
        {
            c->window |= (uint64_t) 1 << (acks[i] - c->acked - 1);
        }
    }
    consumer_advance(c);

    for (i = 0; i < AIM_JOURNAL_WINDOW; i++) {
        s = c->acked + 1 + i;
        if (s >= next) {
            break;
        }
        if (c->window & ((uint64_t) 1 << i)) {
            continue;
        }
        if (!event_get(j, s, &ev) || ev.time < since) {
            /* Unreadable or too old to be accepted anywhere: skipped. */
            c->window |= (uint64_t) 1 << i;
            continue;
        }
        if (*nout == max) {
            *more = 1;
            break;
        }
        out[(*nout)++] = ev;
    }
    if (c->acked + AIM_JOURNAL_WINDOW + 1 < next) {
        *more = 1;
    }
    consumer_advance(c);
    c->last_poll = now;
    aim_journal_unlock(j);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Operators                                                           */

static uint64_t
popcount64(uint64_t v)
{
    uint64_t n = 0;

    for (; v != 0; v &= v - 1) {
        n++;
    }
    return n;
}

/* Copy what operators see; the lock is held, the header valid. */
static void
snapshot(const aim_journal *j, int64_t now, aim_journal_snapshot *out)
{
    const j_header *h = hdr(j);
    uint64_t        s, oldest = oldest_seq(j), first;
    size_t          i;

    aim_journal_instance((aim_journal *) j, out->instance);
    out->created = h->created;
    out->floor = h->floor;
    out->next_seq = h->next_seq != 0 ? h->next_seq : 1;
    for (i = 0; i < AIM_JOURNAL_REPLAY; i++) {
        out->replay_live += replay_at(j, i)->expires > now;
    }
    for (i = 0; i < AIM_JOURNAL_STREAMS; i++) {
        const j_stream *st = stream_at(j, i);
        aim_journal_stream *o = &out->streams[out->nstreams];
        static const unsigned char zero[16];

        if (memcmp(st->id, zero, 16) == 0 || st->issuer[0] == '\0') {
            continue;
        }
        memcpy(o->issuer, st->issuer, sizeof(o->issuer) - 1);
        memcpy(o->stream_id, st->stream_id, sizeof(o->stream_id) - 1);
        memcpy(o->state, st->state, sizeof(o->state) - 1);
        memcpy(o->status, st->status, sizeof(o->status) - 1);
        o->verified_at = st->verified_at;
        o->status_at = st->status_at;
        o->last_at = st->last_at;
        o->accepted = st->accepted;
        out->nstreams++;
    }
    for (s = oldest; s < out->next_seq; s++) {
        if (event_get(j, s, &out->events[out->nevents])) {
            out->nevents++;
        }
    }
    for (i = 0; i < AIM_JOURNAL_CONSUMERS; i++) {
        const j_consumer     *c = consumer_at(j, i);
        aim_journal_consumer *o = &out->consumers[out->nconsumers];
        static const unsigned char zero[16];
        uint64_t              acked;

        if (memcmp(c->id, zero, 16) == 0) {
            continue;
        }
        memcpy(o->name, c->name, sizeof(o->name) - 1);
        acked = c->acked < out->next_seq ? c->acked : out->next_seq - 1;
        o->acked = acked;
        o->last_poll = c->last_poll;
        o->lost = c->lost;
        /* Retained events after acked, less those acknowledged out of
         * order (the window). */
        first = acked + 1 > oldest ? acked + 1 : oldest;
        o->pending = out->next_seq > first ? out->next_seq - first : 0;
        o->pending -= popcount64(c->window) < o->pending ? popcount64(c->window)
                                                         : o->pending;
        out->nconsumers++;
    }
}

aim_status
aim_journal_read(const char *state_path, int64_t now,
                 aim_journal_snapshot **out, aim_error *err)
{
    aim_journal           j;
    aim_journal_snapshot *snap;
    struct stat           sb;
    int                   saved;

    *out = NULL;
    if (state_path == NULL) {
        return aim_fail(err, AIM_CONFIG, "no state file configured");
    }
    snap = calloc(1, sizeof(*snap));
    if (snap == NULL) {
        return aim_fail(err, AIM_INTERNAL, "out of memory");
    }
    snprintf(snap->path, sizeof(snap->path), "%s%s", state_path,
             AIM_JOURNAL_SUFFIX);
    memset(&j, 0, sizeof(j));
    j.path = snap->path;
    j.fd = open(snap->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (j.fd < 0) {
        saved = errno;
        aim_fail(err, saved == ENOENT ? AIM_NO_TOKEN : AIM_CONFIG, "shared "
                 "signals journal \"%.200s\": %s", snap->path, strerror(saved));
        free(snap);
        return saved == ENOENT ? AIM_NO_TOKEN : AIM_CONFIG;
    }
    if (fstat(j.fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        aim_fail(err, AIM_CONFIG, "shared signals journal \"%.200s\" is not a "
                 "regular file", snap->path);
        goto fail;
    }
    if ((size_t) sb.st_size != J_FILE_SIZE) {
        aim_fail(err, AIM_CONFIG, "shared signals journal \"%.200s\" is %lld "
                 "bytes, not %zu: not a journal of this version (the receiver "
                 "rebuilds it, empty, when it next opens it)", snap->path,
                 (long long) sb.st_size, (size_t) J_FILE_SIZE);
        goto fail;
    }
    j.map = mmap(NULL, J_FILE_SIZE, PROT_READ, MAP_SHARED, j.fd, 0);
    if (j.map == MAP_FAILED) {
        j.map = NULL;
        aim_fail(err, AIM_CONFIG, "shared signals journal \"%.200s\": %s",
                 snap->path, strerror(errno));
        goto fail;
    }
    if (aim_mapfile_lock(&journal_file, j.fd, LOCK_SH) != 0) {
        aim_fail(err, AIM_CONFIG, "shared signals journal \"%.200s\" stays "
                 "locked", snap->path);
        goto fail;
    }
    if (!header_valid(j.map, (size_t) sb.st_size)) {
        flock(j.fd, LOCK_UN);
        aim_fail(err, AIM_CONFIG, "shared signals journal \"%.200s\" has a bad "
                 "header (foreign, another version, or damaged; the receiver "
                 "rebuilds it, empty, when it next opens it)", snap->path);
        goto fail;
    }
    snapshot(&j, now, snap);
    flock(j.fd, LOCK_UN);
    j.path = NULL;
    unmap(&j);
    *out = snap;
    return AIM_OK;

fail:
    j.path = NULL;
    unmap(&j);
    free(snap);
    return AIM_CONFIG;
}
