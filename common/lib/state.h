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
 * version) is rebuilt, never trusted; a slot whose values are out of
 * range is reset.
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
} aim_agent_stats;

/*
 * Open (creating or rebuilding as needed) the state file at path.  The
 * file is created mode 0660; see docs/trust.md for the group model.
 */
aim_state *aim_state_open(const char *path, aim_error *err);
void aim_state_close(aim_state *st);

/* fstat() of the file that is mapped (for the strict_modes check). */
int aim_state_fstat(const aim_state *st, struct stat *sb);

/* Re-validate the mapping (file replaced, truncated or corrupted by
 * someone else); called at most once a second by the verifier. */
void aim_state_check(aim_state *st);

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

/* The class AIM gives an action name ("GET" -> read, "DELETE" -> write,
 * "sudo" -> admin). */
aim_class aim_action_class(const char *action);

#endif
