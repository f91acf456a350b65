/*
 * journal.h -- the host's shared-signals journal: one small memory-mapped
 * file beside the state file (STATE.ssf) that every process receiving or
 * publishing Security Event Tokens shares.  It holds
 *
 *   - the replay table: (issuer, jti) of every SET accepted within its
 *     maximum age, with a hash of its payload (docs/ssf.md);
 *   - the transmitters: per issuer, the stream status and the last
 *     verification event received;
 *   - the outbox: this host's own signals, numbered, waiting to be
 *     published (RFC 8936 poll);
 *   - the consumers: how far each poller has acknowledged the outbox.
 *
 * The decision path never reads it: the effects of SETs live in the state
 * file's agent slots.  Every change happens under one exclusive flock()
 * (which the kernel drops when its holder dies), taken with a 200 ms
 * limit; the header is checked under the lock and a foreign, truncated or
 * corrupt file is rebuilt empty.
 */
#ifndef AIM_JOURNAL_H
#define AIM_JOURNAL_H

#include <stdint.h>
#include "aim.h"

#define AIM_JOURNAL_SUFFIX     ".ssf"
#define AIM_JOURNAL_REPLAY     16384   /* SETs remembered */
#define AIM_JOURNAL_OUTBOX     1024    /* own signals retained */
#define AIM_JOURNAL_CONSUMERS  32      /* pollers tracked */
#define AIM_JOURNAL_STREAMS    16      /* transmitters tracked */
#define AIM_JOURNAL_WINDOW     64      /* unacknowledged events per poller */
#define AIM_JOURNAL_AGENT_MAX  200     /* bytes of an agent id in the outbox */

typedef struct aim_journal aim_journal;

/*
 * Open (creating, mode 0660, or rebuilding) STATE_PATH.ssf.  AIM_CONFIG
 * when it cannot be (a directory, no permission) or, strict (the option
 * strict_modes), when aim_file_check refuses it as it refuses the state
 * file (group-writable allowed): whoever can write it can add to the
 * signals this host signs and publishes, or forget the SETs it received.
 * AIM_INTERNAL when it stays locked by another process for 200 ms (busy:
 * try again).
 */
aim_journal *aim_journal_open(const char *state_path, int strict,
                              aim_error *err);
void aim_journal_close(aim_journal *j);
const char *aim_journal_path(const aim_journal *j);

/* This file's instance: 32 hex digits, new whenever the file is (re)built,
 * so identifiers derived from it never repeat across rebuilds. */
void aim_journal_instance(aim_journal *j, char out[33]);

/*
 * The exclusive lock: 0, or -1 after 200 ms (the caller fails closed).
 * A file replaced on disk is followed (opened as aim_journal_open opens
 * it); when the replacement cannot be opened or is refused, -1 until it
 * can: the old file is one no other process reads.
 */
int aim_journal_lock(aim_journal *j);
void aim_journal_unlock(aim_journal *j);

/* ---- replay (the caller holds the lock) ---- */

enum {
    AIM_REPLAY_NEW = 0,      /* never seen: accept, then add */
    AIM_REPLAY_SEEN,         /* the same SET again (same id and payload) */
    AIM_REPLAY_CONFLICT,     /* the same id with another payload */
    AIM_REPLAY_TOO_OLD       /* iat at or before the table's floor */
};

/* id: hash of (issuer, jti); payload: hash of the payload bytes. */
int aim_journal_replay_check(aim_journal *j, const unsigned char id[16],
                             const unsigned char payload[16], int64_t iat,
                             int64_t now);
/*
 * Remember a SET until expires.  When the table is full the entry with
 * the oldest iat makes room and raises the floor to that iat, so the
 * window shrinks instead of replays passing.
 */
void aim_journal_replay_add(aim_journal *j, const unsigned char id[16],
                            const unsigned char payload[16], int64_t iat,
                            int64_t expires, int64_t now);
int64_t aim_journal_replay_floor(aim_journal *j);

/* ---- transmitters (the caller holds the lock) ---- */

typedef struct {
    char     issuer[201];
    char     stream_id[129];   /* from the verification event's subject */
    char     state[257];       /* the last verification "state" */
    char     status[16];       /* the last stream-updated status */
    int64_t  verified_at;
    int64_t  status_at;
    int64_t  last_at;          /* the last SET accepted */
    uint64_t accepted;
} aim_journal_stream;

/* Count an accepted SET from issuer; with a verification event, record
 * its stream and state; with stream-updated, its status. */
void aim_journal_stream_note(aim_journal *j, const char *issuer,
                             const char *stream_id, const char *state,
                             const char *status, int64_t now);
/* 1 with *out filled, 0 when the issuer was never heard from. */
int aim_journal_stream_get(aim_journal *j, const char *issuer,
                           aim_journal_stream *out);

/* ---- outbox (each call takes the lock) ---- */

typedef struct {
    uint64_t seq;              /* 1, 2, ... per instance */
    int64_t  time;
    int      kind;             /* aim_signal_kind */
    double   trust;            /* distrust: the trust it fell to */
    char     agent[AIM_JOURNAL_AGENT_MAX + 1];
    char     reason[64];
} aim_journal_event;

/* Append; *seq (may be NULL) receives its number.  0, or -1 (lock). */
int aim_journal_append(aim_journal *j, int kind, const char *agent,
                       int64_t time, double trust, const char *reason,
                       uint64_t *seq);

/* The first retained event with seq > after and time >= since: 1 found,
 * 0 none, -1 lock. */
int aim_journal_next(aim_journal *j, uint64_t after, int64_t since,
                     aim_journal_event *out);

/*
 * One poll by consumer: record acks (event numbers, any order), then
 * return up to max (<= AIM_JOURNAL_WINDOW) unacknowledged events with
 * time >= since, oldest first; *more tells whether others wait.  A new
 * consumer starts at the oldest retained event.  0, or -1 (lock).
 */
int aim_journal_poll(aim_journal *j, const char *consumer,
                     const uint64_t *acks, size_t nacks, unsigned max,
                     int64_t since, int64_t now, aim_journal_event *out,
                     size_t *nout, int *more);

/* ---- operators (aimctl ssf status) ---- */

typedef struct {
    char     name[64];         /* as the publisher was told (truncated) */
    uint64_t acked;            /* every event <= acked is acknowledged */
    uint64_t pending;          /* retained events not yet acknowledged */
    int64_t  last_poll;
    uint64_t lost;             /* overwritten before acknowledged */
} aim_journal_consumer;

/* A copy of the journal, taken under a shared lock. */
typedef struct {
    char                  path[4096];
    char                  instance[33];
    int64_t               created;
    int64_t               floor;       /* the replay table's floor */
    size_t                replay_live; /* SETs remembered now */
    uint64_t              next_seq;    /* the outbox's next event number */
    aim_journal_stream    streams[AIM_JOURNAL_STREAMS];
    size_t                nstreams;
    aim_journal_event     events[AIM_JOURNAL_OUTBOX]; /* oldest first */
    size_t                nevents;
    aim_journal_consumer  consumers[AIM_JOURNAL_CONSUMERS];
    size_t                nconsumers;
} aim_journal_snapshot;

/*
 * Read the journal beside state_path without changing it: it is never
 * created or rebuilt, and opened read-only.  AIM_OK with *out (free()),
 * or AIM_CONFIG naming what is wrong (missing: err->status AIM_NO_TOKEN,
 * so the caller can say that nothing was received or recorded yet).
 */
aim_status aim_journal_read(const char *state_path, int64_t now,
                            aim_journal_snapshot **out, aim_error *err);

#endif
