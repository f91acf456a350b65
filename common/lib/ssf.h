/*
 * ssf.h -- the core's side of the Shared Signals Framework (SSF 1.0):
 * the SET profile (claims, events, subjects), the effects of events on
 * the state file, and what the decision path asks of them.  The public
 * receiver and publisher are in aim.h; docs/ssf.md is the profile,
 * docs/trust.md the event-to-effect table.
 */
#ifndef AIM_SSF_H
#define AIM_SSF_H

#include <jansson.h>
#include "internal.h"

#define AIM_SSF_MAX_AGENTS  8          /* agents one event may name */

typedef enum {
    AIM_EV_UNKNOWN = 0,
    AIM_EV_SESSION_REVOKED,            /* CAEP */
    AIM_EV_TOKEN_CLAIMS_CHANGE,        /* CAEP */
    AIM_EV_CREDENTIAL_CHANGE,          /* CAEP */
    AIM_EV_ASSURANCE_LEVEL_CHANGE,     /* CAEP */
    AIM_EV_RISK_LEVEL_CHANGE,          /* CAEP */
    AIM_EV_ACCOUNT_DISABLED,           /* RISC */
    AIM_EV_ACCOUNT_ENABLED,            /* RISC */
    AIM_EV_ACCOUNT_PURGED,             /* RISC */
    AIM_EV_CREDENTIAL_COMPROMISE,      /* RISC */
    AIM_EV_SESSIONS_REVOKED,           /* RISC (the older name) */
    AIM_EV_VERIFICATION,               /* SSF */
    AIM_EV_STREAM_UPDATED,             /* SSF */
    AIM_EV_OTHER,                      /* known, not acted on */
    AIM_EV_COUNT
} aim_ssf_event_type;

/* "session-revoked", ...; "unknown" for AIM_EV_UNKNOWN. */
const char *aim_ssf_event_name(aim_ssf_event_type t);

typedef struct {
    aim_ssf_event_type type;
    const char        *uri;            /* borrowed from the claims */
    int64_t            time;           /* event_timestamp, else toe, else iat */
    int                decrease;       /* assurance-level-change: "decrease" */
    int                risk;           /* risk-level-change: 0 LOW, 1 MEDIUM,
                                        * 2 HIGH */
    const char        *state;          /* verification: "state" */
    const char        *status;         /* stream-updated: "status" */
    const char        *agents[AIM_SSF_MAX_AGENTS];
    size_t             nagents;        /* the agents the subject names */
} aim_ssf_event;

typedef struct {
    const char    *iss;                /* the configured ssf_issuer it is */
    const char    *jti;
    const char    *txn;
    int64_t        iat;
    const char    *stream_id;          /* sub_id's "opaque" id (stream events) */
    aim_ssf_event  events[AIM_SSF_MAX_EVENTS];
    size_t         nevents;
} aim_ssf_set;

/*
 * Check the claims of a SET (already verified, payload parsed) against
 * cfg at time now and describe it; strings are borrowed from claims.
 * AIM_BAD_ISSUER and AIM_BAD_AUDIENCE name their claim; AIM_EXPIRED and
 * AIM_NOT_YET_VALID an iat out of bounds; everything else about the
 * shape is AIM_MALFORMED, AIM_MISSING_CLAIM or AIM_BAD_CLAIM.
 */
aim_status aim_ssf_parse_claims(const struct aim_config *cfg,
                                const json_t *claims, int64_t now,
                                aim_ssf_set *out, aim_error *err);

/* The decision path: AIM_REVOKED when a shared signal disables an agent
 * of t's delegation chain or cuts tokens issued when t was. */
aim_status aim_ssf_check(aim_state *st, const aim_token *t, aim_error *err);

/* The decision path: the agent's trust fell below trust_min on this
 * host's own evidence; record a distrust signal for publication (at most
 * one per AIM_SSF_DISTRUST_HOLD seconds per agent). */
void aim_ssf_distrusted(aim_verifier *v, const char *agent, double trust,
                        const char *signal);

#define AIM_SSF_DISTRUST_HOLD  600

#endif
