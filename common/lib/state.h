/*
 * state.h -- the host's shared behavioural state: one memory-mapped file
 * that every process enforcing AIM (nginx workers, PostgreSQL backends,
 * sshd/su/sudo through PAM) maps and updates, so an agent's behaviour on
 * one adapter changes its trust on all of them.
 *
 * Layout: a versioned, checksummed header and a fixed table of agent
 * slots keyed by 64 bits of SHA-256 of the agent id (open addressing,
 * bounded probes; when a probe run is full, the least recently seen agent
 * whose trust has fully recovered is evicted, never a distrusted one).
 * Each slot has its own lock word holding the owner's pid; a lock whose
 * owner died is taken over, so a process killed mid-update loses at most
 * that update, never the agent and never the lock; a lock held by a live
 * process for more than 200 ms fails the decision closed.
 * A file whose header is wrong (foreign, truncated, corrupt, other
 * version) is rebuilt by aim_state_open, never trusted; a slot whose
 * values are out of range is reset.  Operator tools open with
 * aim_state_open_existing, which never creates or rebuilds anything.
 */
#ifndef AIM_STATE_H
#define AIM_STATE_H

#include <stdint.h>
#include <sys/stat.h>
#include "aim.h"

#define AIM_STATE_SLOTS      4096
#define AIM_STATE_AGENT_MAX  200       /* bytes of agent id kept */

typedef struct aim_state aim_state;

/* Action classes, from the adapter's action name (see trust.c). */
typedef enum { AIM_CLASS_READ = 0, AIM_CLASS_WRITE, AIM_CLASS_ADMIN } aim_class;

/* A copy of one agent's figures, for aimctl and tests. */
typedef struct {
    char     agent[AIM_STATE_AGENT_MAX + 1];
    double   trust;
    uint64_t events;
    uint64_t denied;
    uint64_t anomalies;
    double   rate_short;      /* events per second, ~10 s window */
    double   rate_long;       /* events per second, ~1 h window */
    double   deny_recent;     /* decayed count of denials, ~1 min */
    double   new_recent;      /* decayed count of never-seen resources */
    int64_t  first_seen;
    int64_t  last_seen;
    int      learning;        /* 1 while the baseline is being learnt */
    const char *last_signal;  /* last anomaly ("probing", "burst", ...) */
    int64_t  revoked_before;  /* shared signals: tokens issued at or before
                               * this are refused (0: none) */
    int      disabled;        /* shared signals: refused until enabled */
} aim_agent_stats;

/*
 * Open (creating or rebuilding as needed) the state file at path.  The
 * file is created mode 0660; see docs/trust.md for the group model.
 */
aim_state *aim_state_open(const char *path, aim_error *err);

/* Flags of aim_state_open_existing. */
#define AIM_STATE_RDONLY  1u    /* O_RDONLY, mapped PROT_READ */

/*
 * Open a state file that must already exist and be valid, for operators
 * (aimctl stats, aimctl trust reset): it is never created, rebuilt or
 * followed when replaced.  A missing file, anything but a regular file,
 * or a header that is not this build's fails with AIM_CONFIG and a
 * message naming the check that failed (not a state file, empty,
 * truncated, other format version, bad header checksum, other layout,
 * wrong size); the file is left byte for byte as it was.
 *
 * With AIM_STATE_RDONLY nothing is ever written: aim_state_foreach works
 * on a copy of each slot (taken without its lock, so a figure being
 * updated at that instant may be read half-updated: shown, never written
 * back), and aim_state_observe, aim_state_trust and aim_state_reset
 * return -1.
 */
aim_state *aim_state_open_existing(const char *path, unsigned flags,
                                   aim_error *err);
void aim_state_close(aim_state *st);

/* fstat() of the file that is mapped (for the strict_modes check). */
int aim_state_fstat(const aim_state *st, struct stat *sb);

/*
 * Re-validate the mapping (file replaced, truncated or corrupted by
 * someone else); called at most once a second by the verifier.  -1 with
 * err set when the path names another file that this process cannot
 * open and map, or (strict: strict_modes) one aim_file_check refuses, or
 * when the mapped file itself is now refused: until a later check
 * succeeds the state is orphaned -- observe, trust and signals_apply
 * return -1, aim_state_orphaned() is 1 -- and callers refuse.
 */
int aim_state_check(aim_state *st, int strict, aim_error *err);
int aim_state_orphaned(const aim_state *st);

/*
 * Record one decision for agent and return its trust after it (0..100),
 * or -1 when the state cannot be updated (table full of agents that are
 * not fully trusted, or a slot lock held by a live process for more than
 * 200 ms): callers fail closed.  status is the decision before trust.
 */
double aim_state_observe(aim_state *st, const char *agent, const char *action,
                         const char *resource, aim_status status, int64_t now,
                         const char **signal);

/* Trust now (with recovery up to now) without recording an event; 100
 * for an agent never seen; -1 when its slot cannot be read (fail closed). */
double aim_state_trust(aim_state *st, const char *agent, int64_t now);

/* Forget an agent's history (operator reset): back to learning, trust
 * 100.  Returns 0, or -1 when the agent is not in the table. */
int aim_state_reset(aim_state *st, const char *agent);

/* Visit every agent; returns the count. */
size_t aim_state_foreach(aim_state *st, int64_t now,
                         void (*fn)(void *ud, const aim_agent_stats *s),
                         void *ud);

/* ------------------------------------------------------------------ */
/* Shared signals (ssf.c): what Security Event Tokens hold against an   */
/* agent, kept in its slot so every process sees it at its next         */
/* decision.  docs/trust.md lists every event's effect.                 */

typedef struct {
    int64_t revoked_before;   /* tokens issued at or before this are
                               * refused; 0: none */
    int     revoke_cause;     /* the event that set it (ssf.c's codes) */
    int     disabled;         /* refused until an enable */
    int     disable_cause;
    int64_t status_at;        /* event time of the last disable / enable */
} aim_state_signals;

/*
 * The agent's marks, read without the slot lock (every decision reads
 * them): 1 when there is a cut or a disable, 0 when there is none.
 */
int aim_state_signals_get(aim_state *st, const char *agent,
                          aim_state_signals *out);

enum { AIM_STATE_DISABLE = 1, AIM_STATE_ENABLE = 2 };

/* One event's effect on one agent. */
typedef struct {
    int64_t     revoked_before; /* > 0: raise the cut to this (never lowered) */
    int         revoke_cause;
    int         status;         /* AIM_STATE_DISABLE, AIM_STATE_ENABLE or 0 */
    int64_t     status_at;      /* the event's time: one older than the last
                                 * disable / enable applied changes nothing */
    int         status_cause;
    double      penalty;        /* trust points to take away (> 0) */
    const char *signal;         /* the signal recorded with the penalty */
    int64_t     hold_until;     /* the slot is not evicted before this */
    int         distrust;       /* the fleet already knows this agent is
                                 * distrusted (aim_state_distrust_due) */
} aim_state_effect;

/*
 * Apply an effect under the slot lock, creating the slot: 1 if the
 * agent's marks or trust changed, 0 if nothing did (an older or repeated
 * event), -1 if the slot cannot be had (the caller fails closed).
 */
int aim_state_signals_apply(aim_state *st, const char *agent,
                            const aim_state_effect *e, int64_t now);

/* Forget the agent's marks (an operator who investigated): 0, or -1
 * when the agent is not in the table. */
int aim_state_signals_clear(aim_state *st, const char *agent);

/*
 * Is a distrust signal about agent due?  1 when none was published or
 * received in the last hold seconds -- and now is recorded as the last
 * one; 0 when not due; -1 when the slot cannot be had.
 */
int aim_state_distrust_due(aim_state *st, const char *agent, int64_t now,
                           int64_t hold);

/* The class AIM gives an action name ("GET" -> read, "DELETE" -> write,
 * "sudo" -> admin). */
aim_class aim_action_class(const char *action);

#endif
