/*
 * ssf.c -- receiving shared signals: the SET profile (RFC 8417 as SSF 1.0
 * profiles it; subjects per RFC 9493), the receiver that verifies and
 * applies SETs, and the check every decision makes against what they
 * left in the state file.  docs/ssf.md is the profile; docs/trust.md
 * gives every event's effect and the reasons for each figure below.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "internal.h"
#include "journal.h"
#include "json.h"
#include "jws.h"
#include "ssf.h"
#include "util.h"

/* Trust taken away by events (docs/trust.md explains each). */
#define SSF_PENALTY_COMPROMISE  100.0  /* RISC credential-compromise */
#define SSF_PENALTY_RISK_HIGH   100.0  /* CAEP risk-level-change to HIGH */
#define SSF_PENALTY_RISK_MEDIUM  30.0  /* ... to MEDIUM */
#define SSF_PENALTY_ASSURANCE    30.0  /* CAEP assurance-level-change down */

#define SSF_MAX_ID_LEN     1024        /* bytes of a subject's identifier */
#define SSF_MAX_STR_LEN    1024        /* bytes of any other string used */
#define SSF_MAX_JTI_LEN    256
#define SSF_MAX_URI_LEN    256         /* bytes of an event type URI */
#define SSF_MAX_STATE_LEN  256         /* bytes of a verification "state" */
#define SSF_MAX_AUD        16
#define SSF_MAX_NUMERIC_DATE 253402300799LL

#define CAEP "https://schemas.openid.net/secevent/caep/event-type/"
#define RISC "https://schemas.openid.net/secevent/risc/event-type/"
#define SSFE "https://schemas.openid.net/secevent/ssf/event-type/"
#define SSEE "https://schemas.openid.net/secevent/sse/event-type/"

static const struct {
    const char         *uri;
    aim_ssf_event_type  type;
} event_types[] = {
    { CAEP "session-revoked",          AIM_EV_SESSION_REVOKED },
    { CAEP "token-claims-change",      AIM_EV_TOKEN_CLAIMS_CHANGE },
    { CAEP "credential-change",        AIM_EV_CREDENTIAL_CHANGE },
    { CAEP "assurance-level-change",   AIM_EV_ASSURANCE_LEVEL_CHANGE },
    { CAEP "risk-level-change",        AIM_EV_RISK_LEVEL_CHANGE },
    { CAEP "device-compliance-change", AIM_EV_OTHER },
    { CAEP "session-established",      AIM_EV_OTHER },
    { CAEP "session-presented",        AIM_EV_OTHER },
    { RISC "account-disabled",         AIM_EV_ACCOUNT_DISABLED },
    { RISC "account-enabled",          AIM_EV_ACCOUNT_ENABLED },
    { RISC "account-purged",           AIM_EV_ACCOUNT_PURGED },
    { RISC "credential-compromise",    AIM_EV_CREDENTIAL_COMPROMISE },
    { RISC "sessions-revoked",         AIM_EV_SESSIONS_REVOKED },
    { RISC "account-credential-change-required", AIM_EV_OTHER },
    { RISC "identifier-changed",       AIM_EV_OTHER },
    { RISC "identifier-recycled",      AIM_EV_OTHER },
    { RISC "opt-in",                   AIM_EV_OTHER },
    { RISC "opt-out-initiated",        AIM_EV_OTHER },
    { RISC "opt-out-cancelled",        AIM_EV_OTHER },
    { RISC "opt-out-effective",        AIM_EV_OTHER },
    { RISC "recovery-activated",       AIM_EV_OTHER },
    { RISC "recovery-information-changed", AIM_EV_OTHER },
    { SSFE "verification",             AIM_EV_VERIFICATION },
    { SSFE "stream-updated",           AIM_EV_STREAM_UPDATED },
    { SSEE "verification",             AIM_EV_VERIFICATION },
    { SSEE "stream-updated",           AIM_EV_STREAM_UPDATED },
};

static const char *const event_names[AIM_EV_COUNT] = {
    [AIM_EV_UNKNOWN]                = "unknown",
    [AIM_EV_SESSION_REVOKED]        = "session-revoked",
    [AIM_EV_TOKEN_CLAIMS_CHANGE]    = "token-claims-change",
    [AIM_EV_CREDENTIAL_CHANGE]      = "credential-change",
    [AIM_EV_ASSURANCE_LEVEL_CHANGE] = "assurance-level-change",
    [AIM_EV_RISK_LEVEL_CHANGE]      = "risk-level-change",
    [AIM_EV_ACCOUNT_DISABLED]       = "account-disabled",
    [AIM_EV_ACCOUNT_ENABLED]        = "account-enabled",
    [AIM_EV_ACCOUNT_PURGED]         = "account-purged",
    [AIM_EV_CREDENTIAL_COMPROMISE]  = "credential-compromise",
    [AIM_EV_SESSIONS_REVOKED]       = "sessions-revoked",
    [AIM_EV_VERIFICATION]           = "verification",
    [AIM_EV_STREAM_UPDATED]         = "stream-updated",
    [AIM_EV_OTHER]                  = "not-acted-on",
};

const char *
aim_ssf_event_name(aim_ssf_event_type t)
{
    return (unsigned) t < AIM_EV_COUNT ? event_names[t] : "unknown";
}

const char *
aim_ssf_err_code(aim_ssf_err e)
{
    static const char *const codes[] = {
        NULL, "invalid_request", "invalid_key", "invalid_issuer",
        "invalid_audience", "authentication_failed", "access_denied"
    };

    return (unsigned) e < sizeof(codes) / sizeof(codes[0]) ? codes[e] : NULL;
}

/* ------------------------------------------------------------------ */
/* Members                                                             */

static int
no_controls(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* A string member of 1..max bytes without control characters; NULL
 * when absent.  *bad is set when present and wrong. */
static const char *
str_member(const json_t *o, const char *name, size_t max, int *bad)
{
    const json_t *v = json_object_get(o, name);

    if (v == NULL) {
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) == 0
        || json_string_length(v) > max
        || !no_controls(json_string_value(v), json_string_length(v)))
    {
        *bad = 1;
        return NULL;
    }
    return json_string_value(v);
}

/* A NumericDate (RFC 7519): a non-negative number; fractions floor.
 * -1 when absent; -2 when present and wrong. */
static int64_t
date_member(const json_t *o, const char *name)
{
    const json_t *v = json_object_get(o, name);
    double        d;

    if (v == NULL) {
        return -1;
    }
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        return i >= 0 && i <= SSF_MAX_NUMERIC_DATE ? (int64_t) i : -2;
    }
    if (json_is_real(v)) {
        d = json_real_value(v);
        return isfinite(d) && d >= 0 && d <= (double) SSF_MAX_NUMERIC_DATE
               ? (int64_t) d : -2;
    }
    return -2;
}

/* Is value one of the NULL-terminated words? */
static int
one_of(const char *value, const char *const *words)
{
    for (; *words != NULL; words++) {
        if (strcmp(value, *words) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Only the named members (NULL-terminated)? */
static int
only_members(const json_t *o, const char *const *names)
{
    const char *key;
    json_t     *val;

    json_object_foreach((json_t *) o, key, val) {
        (void) val;
        if (!one_of(key, names)) {
            return 0;
        }
    }
    return 1;
}

/* An RFC 3986 URI: scheme ":" and something, no blanks, no controls, no
 * characters RFC 3986 never allows ("<>\"{}|\\^`"). */
static int
uri_ok(const char *s)
{
    const char *p = s;

    if (!isalpha((unsigned char) *p)) {
        return 0;
    }
    while (isalnum((unsigned char) *p) || *p == '+' || *p == '-' || *p == '.') {
        p++;
    }
    if (*p != ':' || p[1] == '\0') {
        return 0;
    }
    for (p = s; *p != '\0'; p++) {
        unsigned char c = (unsigned char) *p;
        if (c <= 0x20 || c >= 0x7f || strchr("<>\"{}|\\^`", c) != NULL) {
            return 0;
        }
    }
    return 1;
}

/* What AIM takes as an agent id (claims.c: no blank, no '>'). */
static int
agent_id_ok(const char *s)
{
    return strchr(s, ' ') == NULL && strchr(s, '>') == NULL;
}

/* ------------------------------------------------------------------ */
/* Subjects (RFC 9493; SSF 1.0 subject members)                        */

typedef struct {
    const struct aim_config *cfg;
    const char *agents[AIM_SSF_MAX_AGENTS];
    size_t      nagents;
    const char *opaque;                 /* the first "opaque" id */
} subjects;

static aim_status
add_agent(subjects *sj, const char *id, aim_error *err)
{
    size_t i;

    if (!agent_id_ok(id)) {
        return AIM_OK;                  /* names no AIM agent */
    }
    for (i = 0; i < sj->nagents; i++) {
        if (strcmp(sj->agents[i], id) == 0) {
            return AIM_OK;
        }
    }
    if (sj->nagents == AIM_SSF_MAX_AGENTS) {
        return aim_fail(err, AIM_BAD_CLAIM, "a subject names more than %d agents",
                        AIM_SSF_MAX_AGENTS);
    }
    sj->agents[sj->nagents++] = id;
    return AIM_OK;
}

enum { SUBJ_TOP = 0, SUBJ_IN_COMPLEX, SUBJ_IN_ALIASES };

static aim_status parse_subject(subjects *sj, const json_t *v, int where,
                                const char *what, aim_error *err);

/* A Subject Identifier: an object with "format" and exactly the members
 * its format defines (RFC 9493). */
static aim_status
parse_identifier(subjects *sj, const json_t *v, const char *format, int where,
                 const char *what, aim_error *err)
{
    static const char *const m_uri[] = { "format", "uri", NULL };
    static const char *const m_opaque[] = { "format", "id", NULL };
    static const char *const m_iss_sub[] = { "format", "iss", "sub", NULL };
    static const char *const m_email[] = { "format", "email", NULL };
    static const char *const m_phone[] = { "format", "phone_number", NULL };
    static const char *const m_did[] = { "format", "url", NULL };
    static const char *const m_aliases[] = { "format", "identifiers", NULL };
    static const char *const m_jwt_id[] = { "format", "iss", "jti", NULL };
    static const char *const m_saml[] = { "format", "issuer", "assertion_id", NULL };
    int         bad = 0;
    const char *a, *b;
    size_t      i;

    if (strcmp(format, "uri") == 0 || strcmp(format, "account") == 0) {
        a = str_member(v, "uri", SSF_MAX_ID_LEN, &bad);
        if (a == NULL || !only_members(v, m_uri) || !uri_ok(a)
            || (format[0] == 'a' && strncmp(a, "acct:", 5) != 0))
        {
            return aim_fail(err, AIM_BAD_CLAIM, "%s: a \"%s\" subject needs "
                            "exactly a \"uri\" that is a URI%s", what, format,
                            format[0] == 'a' ? " (acct:)" : "");
        }
        return format[0] == 'u' ? add_agent(sj, a, err) : AIM_OK;
    }
    if (strcmp(format, "opaque") == 0) {
        a = str_member(v, "id", SSF_MAX_ID_LEN, &bad);
        if (a == NULL || !only_members(v, m_opaque)) {
            return aim_fail(err, AIM_BAD_CLAIM, "%s: an \"opaque\" subject needs "
                            "exactly an \"id\" string", what);
        }
        if (where == SUBJ_TOP && sj->opaque == NULL) {
            sj->opaque = a;
        }
        return add_agent(sj, a, err);
    }
    if (strcmp(format, "iss_sub") == 0) {
        a = str_member(v, "iss", SSF_MAX_ID_LEN, &bad);
        b = str_member(v, "sub", SSF_MAX_ID_LEN, &bad);
        if (a == NULL || b == NULL || !only_members(v, m_iss_sub)) {
            return aim_fail(err, AIM_BAD_CLAIM, "%s: an \"iss_sub\" subject needs "
                            "exactly \"iss\" and \"sub\" strings", what);
        }
        /* sub names an agent only for an issuer this host takes tokens
         * from: another issuer's "sub" is another namespace. */
        for (i = 0; i < sj->cfg->nissuers; i++) {
            if (strcmp(sj->cfg->issuers[i], a) == 0) {
                return add_agent(sj, b, err);
            }
        }
        return AIM_OK;
    }
    if (strcmp(format, "email") == 0 || strcmp(format, "phone_number") == 0
        || strcmp(format, "did") == 0)
    {
        const char *member = format[0] == 'e' ? "email"
                             : format[0] == 'p' ? "phone_number" : "url";

        a = str_member(v, member, SSF_MAX_ID_LEN, &bad);
        if (a == NULL || !only_members(v, format[0] == 'e' ? m_email
                                          : format[0] == 'p' ? m_phone : m_did))
        {
            return aim_fail(err, AIM_BAD_CLAIM, "%s: an \"%s\" subject needs "
                            "exactly a \"%s\" string", what, format, member);
        }
        return AIM_OK;
    }
    if (strcmp(format, "jwt_id") == 0 || strcmp(format, "jwt-id") == 0) {
        a = str_member(v, "iss", SSF_MAX_ID_LEN, &bad);
        b = str_member(v, "jti", SSF_MAX_ID_LEN, &bad);
        if (a == NULL || b == NULL || !only_members(v, m_jwt_id)) {
            return aim_fail(err, AIM_BAD_CLAIM, "%s: a \"%s\" subject needs "
                            "exactly \"iss\" and \"jti\" strings", what, format);
        }
        return AIM_OK;
    }
    if (strcmp(format, "saml_assertion_id") == 0) {
        a = str_member(v, "issuer", SSF_MAX_ID_LEN, &bad);
        b = str_member(v, "assertion_id", SSF_MAX_ID_LEN, &bad);
        if (a == NULL || b == NULL || !only_members(v, m_saml)) {
            return aim_fail(err, AIM_BAD_CLAIM, "%s: a \"saml_assertion_id\" "
                            "subject needs exactly \"issuer\" and "
                            "\"assertion_id\" strings", what);
        }
        return AIM_OK;
    }
    if (strcmp(format, "aliases") == 0) {
        const json_t *ids = json_object_get(v, "identifiers");
        aim_status    s;

        if (where == SUBJ_IN_ALIASES) {
            return aim_fail(err, AIM_BAD_CLAIM, "%s: \"aliases\" inside "
                            "\"aliases\" (RFC 9493)", what);
        }
        if (!json_is_array(ids) || json_array_size(ids) == 0
            || json_array_size(ids) > AIM_SSF_MAX_SUBJECT_IDS
            || !only_members(v, m_aliases))
        {
            return aim_fail(err, AIM_BAD_CLAIM, "%s: an \"aliases\" subject needs "
                            "exactly \"identifiers\", 1 to %d of them", what,
                            AIM_SSF_MAX_SUBJECT_IDS);
        }
        for (i = 0; i < json_array_size(ids); i++) {
            s = parse_subject(sj, json_array_get(ids, i), SUBJ_IN_ALIASES, what,
                              err);
            if (s != AIM_OK) {
                return s;
            }
        }
        return AIM_OK;
    }
    /* A format agreed between other parties: its members are theirs, and
     * it names no AIM agent. */
    return AIM_OK;
}

/*
 * A subject member: a Subject Identifier, or (SSF) a complex subject --
 * "format":"complex" and simple subjects by role, of which "user" and
 * "application" may be the agent.  The other roles (device, session,
 * tenant, ...) narrow the subject in ways a token does not record, so an
 * event about part of an agent's sessions applies to all of them:
 * stricter, never looser.
 */
static aim_status
parse_subject(subjects *sj, const json_t *v, int where, const char *what,
              aim_error *err)
{
    const char   *format, *key;
    const json_t *member;
    int           bad = 0;
    aim_status    s;

    if (!json_is_object(v)) {
        return aim_fail(err, AIM_BAD_CLAIM, "%s: a subject is not an object", what);
    }
    format = str_member(v, "format", 64, &bad);
    if (format == NULL) {
        return aim_fail(err, AIM_BAD_CLAIM, "%s: a subject without a \"format\" "
                        "string", what);
    }
    if (strcmp(format, "complex") != 0) {
        return parse_identifier(sj, v, format, where, what, err);
    }
    if (where != SUBJ_TOP) {
        return aim_fail(err, AIM_BAD_CLAIM, "%s: a complex subject inside "
                        "another subject", what);
    }
    if (json_object_size(v) < 2 || json_object_size(v) > 9) {
        return aim_fail(err, AIM_BAD_CLAIM, "%s: a complex subject needs 1 to 8 "
                        "members", what);
    }
    json_object_foreach((json_t *) v, key, member) {
        subjects part;

        if (strcmp(key, "format") == 0) {
            continue;
        }
        part = *sj;
        part.nagents = 0;
        s = parse_subject(&part, member, SUBJ_IN_COMPLEX, what, err);
        if (s != AIM_OK) {
            return s;
        }
        if (strcmp(key, "user") == 0 || strcmp(key, "application") == 0) {
            size_t i;

            for (i = 0; i < part.nagents; i++) {
                if ((s = add_agent(sj, part.agents[i], err)) != AIM_OK) {
                    return s;
                }
            }
        }
    }
    return AIM_OK;
}

/* Do two lists name the same agents? */
static int
same_agents(const char *const *a, size_t na, const char *const *b, size_t nb)
{
    size_t i, k;

    if (na != nb) {
        return 0;
    }
    for (i = 0; i < na; i++) {
        for (k = 0; k < nb && strcmp(a[i], b[k]) != 0; k++) {
        }
        if (k == nb) {
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* Events                                                              */

static aim_ssf_event_type
event_type(const char *uri)
{
    size_t i;

    for (i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++) {
        if (strcmp(event_types[i].uri, uri) == 0) {
            return event_types[i].type;
        }
    }
    return AIM_EV_UNKNOWN;
}

/* A localised message (CAEP reason_admin, reason_user): an object of
 * strings by language tag. */
static int
reason_ok(const json_t *v)
{
    const char *key;
    json_t     *val;

    if (v == NULL) {
        return 1;
    }
    if (!json_is_object(v) || json_object_size(v) == 0) {
        return 0;
    }
    json_object_foreach((json_t *) v, key, val) {
        (void) key;
        if (!json_is_string(val)) {
            return 0;
        }
    }
    return 1;
}

/* The members of an event AIM acts on, checked as its profile defines
 * them; members AIM does not know are ignored, as SSF 1.0 asks. */
static aim_status
parse_event(const struct aim_config *cfg, const json_t *o, aim_ssf_set *set,
            int64_t toe, aim_ssf_event *ev, const subjects *top, aim_error *err)
{
    static const char *const entities[] = { "admin", "user", "policy", "system",
                                            NULL };
    static const char *const changes[] = { "create", "revoke", "update",
                                           "delete", NULL };
    static const char *const directions[] = { "increase", "decrease", NULL };
    static const char *const levels[] = { "LOW", "MEDIUM", "HIGH", NULL };
    static const char *const stream_states[] = { "enabled", "paused",
                                                 "disabled", NULL };
    const char *name = aim_ssf_event_name(ev->type), *v;
    int         bad = 0;
    int64_t     ts;
    aim_status  s;

    ev->time = set->iat;
    if (ev->type == AIM_EV_UNKNOWN || ev->type == AIM_EV_OTHER) {
        return AIM_OK;                  /* acknowledged, not interpreted */
    }

    /* When: the event's own time, else the SET's "toe" (RFC 8417), else
     * the SET's iat. */
    ts = date_member(o, "event_timestamp");
    if (ts == -2) {
        return aim_fail(err, AIM_BAD_CLAIM, "%s: \"event_timestamp\" is not a "
                        "NumericDate", name);
    }
    ev->time = ts >= 0 ? ts : toe >= 0 ? toe : set->iat;
    v = str_member(o, "initiating_entity", 16, &bad);
    if (bad || (v != NULL && !one_of(v, entities))) {
        return aim_fail(err, AIM_BAD_CLAIM, "%s: \"initiating_entity\" is not "
                        "admin, user, policy or system", name);
    }
    if (!reason_ok(json_object_get(o, "reason_admin"))
        || !reason_ok(json_object_get(o, "reason_user")))
    {
        return aim_fail(err, AIM_BAD_CLAIM, "%s: \"reason_admin\" / "
                        "\"reason_user\" is not an object of strings", name);
    }

    switch (ev->type) {
    case AIM_EV_TOKEN_CLAIMS_CHANGE: {
        const json_t *c = json_object_get(o, "claims");
        if (!json_is_object(c) || json_object_size(c) == 0) {
            return aim_fail(err, AIM_BAD_CLAIM, "%s: \"claims\" must be a "
                            "non-empty object", name);
        }
        break;
    }
    case AIM_EV_CREDENTIAL_CHANGE:
        v = str_member(o, "change_type", 16, &bad);
        if (str_member(o, "credential_type", 64, &bad) == NULL || v == NULL
            || bad || !one_of(v, changes))
        {
            return aim_fail(err, AIM_BAD_CLAIM, "%s: needs \"credential_type\" "
                            "and a \"change_type\" of create, revoke, update or "
                            "delete", name);
        }
        break;
    case AIM_EV_CREDENTIAL_COMPROMISE:
        if (str_member(o, "credential_type", 64, &bad) == NULL || bad) {
            return aim_fail(err, AIM_BAD_CLAIM, "%s: needs a "
                            "\"credential_type\" string", name);
        }
        break;
    case AIM_EV_ASSURANCE_LEVEL_CHANGE:
        if (str_member(o, "namespace", 256, &bad) == NULL
            || str_member(o, "current_level", 256, &bad) == NULL || bad)
        {
            return aim_fail(err, AIM_BAD_CLAIM, "%s: needs \"namespace\" and "
                            "\"current_level\" strings", name);
        }
        (void) str_member(o, "previous_level", 256, &bad);
        v = str_member(o, "change_direction", 16, &bad);
        if (bad || (v != NULL && !one_of(v, directions))) {
            return aim_fail(err, AIM_BAD_CLAIM, "%s: \"change_direction\" is not "
                            "increase or decrease", name);
        }
        ev->decrease = v != NULL && strcmp(v, "decrease") == 0;
        break;
    case AIM_EV_RISK_LEVEL_CHANGE:
        v = str_member(o, "current_level", 16, &bad);
        if (str_member(o, "principal", 64, &bad) == NULL || v == NULL || bad
            || !one_of(v, levels))
        {
            return aim_fail(err, AIM_BAD_CLAIM, "%s: needs \"principal\" and a "
                            "\"current_level\" of LOW, MEDIUM or HIGH", name);
        }
        ev->risk = v[0] == 'H' ? 2 : v[0] == 'M' ? 1 : 0;
        v = str_member(o, "previous_level", 16, &bad);
        if (bad || (v != NULL && !one_of(v, levels))) {
            return aim_fail(err, AIM_BAD_CLAIM, "%s: \"previous_level\" is not "
                            "LOW, MEDIUM or HIGH", name);
        }
        (void) str_member(o, "risk_reason", SSF_MAX_STR_LEN, &bad);
        break;
    case AIM_EV_ACCOUNT_DISABLED:
        (void) str_member(o, "reason", 64, &bad);
        break;
    case AIM_EV_VERIFICATION:
        ev->state = str_member(o, "state", SSF_MAX_STATE_LEN, &bad);
        break;
    case AIM_EV_STREAM_UPDATED:
        ev->status = str_member(o, "status", 16, &bad);
        if (ev->status == NULL || !one_of(ev->status, stream_states)) {
            return aim_fail(err, AIM_BAD_CLAIM, "%s: needs a \"status\" of "
                            "enabled, paused or disabled", name);
        }
        (void) str_member(o, "reason", SSF_MAX_STR_LEN, &bad);
        break;
    default:
        break;
    }
    if (bad) {
        return aim_fail(err, AIM_BAD_CLAIM, "%s: a member is not a string of "
                        "the allowed length", name);
    }

    /* The event's time: never after the SET that tells of it. */
    if (ev->time > set->iat + cfg->leeway) {
        return aim_fail(err, AIM_BAD_CLAIM, "%s: the event's time %lld is after "
                        "the SET's iat %lld", name, (long long) ev->time,
                        (long long) set->iat);
    }

    /* Subjects: the top-level sub_id (SSF 1.0) and, for events defined
     * before it, "subject" inside the event; both must agree.  Stream
     * events are about the stream, never an agent. */
    if (ev->type == AIM_EV_VERIFICATION || ev->type == AIM_EV_STREAM_UPDATED) {
        return AIM_OK;
    }
    {
        subjects     inner = { cfg, { NULL }, 0, NULL };
        const json_t *subj = json_object_get(o, "subject");
        size_t        i;

        if (subj != NULL) {
            s = parse_subject(&inner, subj, SUBJ_TOP, name, err);
            if (s != AIM_OK) {
                return s;
            }
        }
        if (top->nagents > 0 && inner.nagents > 0
            && !same_agents(top->agents, top->nagents, inner.agents, inner.nagents))
        {
            return aim_fail(err, AIM_BAD_CLAIM, "%s: \"sub_id\" and the event's "
                            "\"subject\" name different agents", name);
        }
        if (top->nagents > 0) {
            for (i = 0; i < top->nagents; i++) ev->agents[i] = top->agents[i];
            ev->nagents = top->nagents;
        } else {
            for (i = 0; i < inner.nagents; i++) ev->agents[i] = inner.agents[i];
            ev->nagents = inner.nagents;
        }
    }
    return AIM_OK;
}

/* ------------------------------------------------------------------ */
/* The SET's claims                                                    */

static aim_status
check_audience(const struct aim_config *cfg, const json_t *aud, aim_error *err)
{
    size_t i, k, n;

    if (aud == NULL) {
        return aim_fail(err, AIM_MISSING_CLAIM, "\"aud\" is missing");
    }
    if (json_is_string(aud)) {
        n = 1;
    } else if (json_is_array(aud) && json_array_size(aud) > 0
               && json_array_size(aud) <= SSF_MAX_AUD)
    {
        n = json_array_size(aud);
        for (i = 0; i < n; i++) {
            if (!json_is_string(json_array_get(aud, i))) {
                return aim_fail(err, AIM_BAD_CLAIM, "\"aud\" holds a non-string");
            }
        }
    } else {
        return aim_fail(err, AIM_BAD_CLAIM, "\"aud\" is neither a string nor an "
                        "array of 1 to %d strings", SSF_MAX_AUD);
    }
    for (i = 0; i < n; i++) {
        const char *a = json_is_string(aud) ? json_string_value(aud)
                                             : json_string_value(json_array_get(aud, i));
        for (k = 0; k < cfg->nssf_audiences; k++) {
            if (strcmp(a, cfg->ssf_audiences[k]) == 0) {
                return AIM_OK;
            }
        }
    }
    return aim_fail(err, AIM_BAD_AUDIENCE, "\"aud\" does not name this receiver "
                    "(ssf_audience \"%.100s\"%s)", cfg->ssf_audiences[0],
                    cfg->nssf_audiences > 1 ? " and others" : "");
}

aim_status
aim_ssf_parse_claims(const struct aim_config *cfg, const json_t *claims,
                     int64_t now, aim_ssf_set *out, aim_error *err)
{
    const json_t *events, *val;
    const char   *iss, *key;
    subjects      top = { cfg, { NULL }, 0, NULL };
    int           bad = 0;
    int64_t       toe;
    size_t        i;
    aim_status    s;

    memset(out, 0, sizeof(*out));

    /* Who: a configured transmitter. */
    iss = str_member(claims, "iss", SSF_MAX_ID_LEN, &bad);
    if (iss == NULL) {
        return aim_fail(err, bad ? AIM_BAD_CLAIM : AIM_MISSING_CLAIM,
                        "\"iss\" is %s", bad ? "not a string" : "missing");
    }
    for (i = 0; i < cfg->nssf_issuers; i++) {
        if (strcmp(cfg->ssf_issuers[i], iss) == 0) {
            out->iss = cfg->ssf_issuers[i];
            break;
        }
    }
    if (out->iss == NULL) {
        return aim_fail(err, AIM_BAD_ISSUER, "\"iss\" \"%.100s\" is not a "
                        "configured transmitter (ssf_issuer)", iss);
    }
    if ((s = check_audience(cfg, json_object_get(claims, "aud"), err)) != AIM_OK) {
        return s;
    }

    /* Not another kind of JWT (SSF 1.0: no "exp", no "sub"). */
    if (json_object_get(claims, "exp") != NULL) {
        return aim_fail(err, AIM_BAD_CLAIM, "a SET has no \"exp\" (SSF 1.0)");
    }
    if (json_object_get(claims, "sub") != NULL) {
        return aim_fail(err, AIM_BAD_CLAIM, "a SET has no \"sub\" (SSF 1.0: "
                        "\"sub_id\")");
    }

    out->iat = date_member(claims, "iat");
    if (out->iat < 0) {
        return aim_fail(err, out->iat == -1 ? AIM_MISSING_CLAIM : AIM_BAD_CLAIM,
                        "\"iat\" is %s", out->iat == -1 ? "missing"
                                                        : "not a NumericDate");
    }
    if (out->iat > now + cfg->leeway) {
        return aim_fail(err, AIM_NOT_YET_VALID, "\"iat\" is %lld s in the future",
                        (long long) (out->iat - now));
    }
    if (out->iat < now - cfg->ssf_max_age) {
        return aim_fail(err, AIM_EXPIRED, "\"iat\" is %lld s old, more than "
                        "ssf_max_age %lld", (long long) (now - out->iat),
                        (long long) cfg->ssf_max_age);
    }
    out->jti = str_member(claims, "jti", SSF_MAX_JTI_LEN, &bad);
    if (out->jti == NULL) {
        return aim_fail(err, bad ? AIM_BAD_CLAIM : AIM_MISSING_CLAIM,
                        "\"jti\" is %s", bad ? "not a string of 1 to 256 bytes"
                                             : "missing");
    }
    out->txn = str_member(claims, "txn", SSF_MAX_STR_LEN, &bad);
    toe = date_member(claims, "toe");
    if (bad || toe == -2) {
        return aim_fail(err, AIM_BAD_CLAIM, "\"txn\" or \"toe\" is malformed");
    }

    val = json_object_get(claims, "sub_id");
    if (val != NULL) {
        if ((s = parse_subject(&top, val, SUBJ_TOP, "sub_id", err)) != AIM_OK) {
            return s;
        }
        out->stream_id = top.opaque;
    }

    events = json_object_get(claims, "events");
    if (!json_is_object(events) || json_object_size(events) == 0
        || json_object_size(events) > AIM_SSF_MAX_EVENTS)
    {
        return aim_fail(err, events == NULL ? AIM_MISSING_CLAIM : AIM_BAD_CLAIM,
                        "\"events\" must be an object of 1 to %d events",
                        AIM_SSF_MAX_EVENTS);
    }
    json_object_foreach((json_t *) events, key, val) {
        aim_ssf_event *ev = &out->events[out->nevents];

        if (strlen(key) == 0 || strlen(key) > SSF_MAX_URI_LEN
            || !no_controls(key, strlen(key)))
        {
            return aim_fail(err, AIM_BAD_CLAIM, "an event type is not a URI of 1 "
                            "to %d bytes", SSF_MAX_URI_LEN);
        }
        if (!json_is_object(val)) {
            return aim_fail(err, AIM_BAD_CLAIM, "event \"%.100s\" is not an "
                            "object", key);
        }
        ev->uri = key;
        ev->type = event_type(key);
        if ((s = parse_event(cfg, val, out, toe, ev, &top, err)) != AIM_OK) {
            return s;
        }
        out->nevents++;
    }
    return AIM_OK;
}

/* ------------------------------------------------------------------ */
/* The decision path                                                   */

static aim_status
check_one(aim_state *st, const char *id, const aim_token *t, aim_error *err)
{
    aim_state_signals m;

    if (aim_state_signals_get(st, id, &m) == 0) {
        return AIM_OK;
    }
    if (m.disabled) {
        return aim_fail(err, AIM_REVOKED, "agent \"%.100s\" is disabled by a "
                        "shared signal (%s at %lld)", id,
                        aim_ssf_event_name((aim_ssf_event_type) m.disable_cause),
                        (long long) m.status_at);
    }
    if (t->iat <= m.revoked_before) {
        return aim_fail(err, AIM_REVOKED, "the token was issued at %lld, not "
                        "after a shared signal about agent \"%.100s\" (%s at "
                        "%lld)", (long long) t->iat, id,
                        aim_ssf_event_name((aim_ssf_event_type) m.revoke_cause),
                        (long long) m.revoked_before);
    }
    return AIM_OK;
}

aim_status
aim_ssf_check(aim_state *st, const aim_token *t, aim_error *err)
{
    const char *p, *e;
    char        id[1025];
    aim_status  s;

    if (aim_state_orphaned(st)) {
        return aim_fail(err, AIM_INTERNAL, "the state file was replaced by one "
                        "this process cannot open or trust (strict_modes); "
                        "shared signals unknown");
    }
    if (strchr(t->chain, '>') == NULL) {
        return check_one(st, t->agent, t, err);
    }
    /* A signal about any agent of the delegation chain stops it, as a
     * revocation does (verify.c). */
    for (p = t->chain; *p != '\0'; p = *e != '\0' ? e + 1 : e) {
        e = strchr(p, '>');
        if (e == NULL) {
            e = p + strlen(p);
        }
        if ((size_t) (e - p) >= sizeof(id)) {
            continue;                   /* longer than any agent id */
        }
        memcpy(id, p, (size_t) (e - p));
        id[e - p] = '\0';
        if ((s = check_one(st, id, t, err)) != AIM_OK) {
            return s;
        }
    }
    return AIM_OK;
}

void
aim_ssf_distrusted(aim_verifier *v, const char *agent, double trust,
                   const char *signal)
{
    int64_t   now = aim_now();
    aim_error err;

    if (v->state == NULL || strlen(agent) > AIM_JOURNAL_AGENT_MAX
        || aim_state_distrust_due(v->state, agent, now, AIM_SSF_DISTRUST_HOLD) != 1)
    {
        return;
    }
    if (v->journal == NULL) {
        if (now < v->journal_retry) {
            return;
        }
        v->journal = aim_journal_open(v->cfg.state, v->cfg.strict_modes, &err);
        if (v->journal == NULL) {
            v->journal_retry = now + 60;
            aim_vlog(v, AIM_LOG_ERR, "distrust of agent \"%.100s\" not recorded "
                     "for publication: %s", agent, err.message);
            return;
        }
    }
    if (aim_journal_append(v->journal, AIM_SIGNAL_DISTRUSTED, agent, now, trust,
                           signal, NULL) != 0)
    {
        aim_vlog(v, AIM_LOG_ERR, "distrust of agent \"%.100s\" not recorded for "
                 "publication: %s stays locked", agent,
                 aim_journal_path(v->journal));
    }
}

/* ------------------------------------------------------------------ */
/* The receiver                                                        */

struct aim_ssf_receiver {
    struct aim_config  cfg;
    aim_keyset        *keys;
    struct stat        key_st[AIM_MAX_KEY_SOURCES];
    aim_state         *state;
    int64_t            state_checked; /* when the mapping was last checked */
    aim_journal       *journal;
    aim_audit_sink     audit;
    aim_log_fn         log;
    void              *log_ud;
};

#define rlog(r, ...)  aim_logf((r)->log, (r)->log_ud, __VA_ARGS__)

/* Every transmitter key source, each key bound to its transmitter. */
static aim_keyset *
load_ssf_keys(const struct aim_config *cfg, struct stat *st, aim_error *err)
{
    aim_key_sources ks = aim_config_key_sources(cfg, AIM_OPT_SSF_KEYS);

    /* strict_modes as for the token keys: whoever can change a
     * transmitter's key file can sign its signals */
    return aim_key_sources_load(&ks, cfg->strict_modes, st, NULL, err);
}

static aim_status
receiver_check(const struct aim_config *cfg, aim_error *err)
{
    aim_key_sources ks;

    if (cfg->nssf_keys == 0) {
        return aim_fail(err, AIM_CONFIG, "ssf_keys: no transmitter key source "
                        "configured");
    }
    if (cfg->nssf_issuers == 0) {
        return aim_fail(err, AIM_CONFIG, "ssf_issuer: no transmitter configured");
    }
    if (cfg->nssf_audiences == 0) {
        return aim_fail(err, AIM_CONFIG, "ssf_audience: no audience configured");
    }
    if (cfg->state == NULL) {
        return aim_fail(err, AIM_CONFIG, "state: shared signals act through the "
                        "state file, and none is configured");
    }
    ks = aim_config_key_sources(cfg, AIM_OPT_SSF_KEYS);
    return aim_key_sources_check(&ks, err);
}

aim_ssf_receiver *
aim_ssf_receiver_new(const aim_config *cfg, aim_error *err)
{
    aim_ssf_receiver *r;

    if (receiver_check(cfg, err) != AIM_OK) {
        return NULL;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL || aim_config_copy(&r->cfg, cfg) != 0) {
        free(r);
        aim_fail(err, AIM_INTERNAL, "out of memory");
        return NULL;
    }
    r->audit.fd = -1;
    r->keys = load_ssf_keys(&r->cfg, r->key_st, err);
    if (r->keys == NULL) {
        goto fail;
    }
    r->state = aim_state_open(r->cfg.state, err);
    if (r->state == NULL) {
        goto fail;
    }
    if (r->cfg.strict_modes) {
        /* as the verifier checks it: the services' group may write it */
        struct stat sb;
        aim_error   e;

        if (aim_state_fstat(r->state, &sb) != 0) {
            aim_fail(err, AIM_CONFIG, "state: cannot stat \"%.200s\": %s",
                     r->cfg.state, strerror(errno));
            goto fail;
        }
        if (aim_file_check(r->cfg.state, &sb, AIM_FILE_GROUP_WRITE, &e) != AIM_OK) {
            aim_fail(err, AIM_CONFIG, "state: %s", e.message);
            goto fail;
        }
    }
    r->journal = aim_journal_open(r->cfg.state, r->cfg.strict_modes, err);
    if (r->journal == NULL) {
        goto fail;
    }
    if (aim_audit_open(&r->audit, r->cfg.audit, err) != AIM_OK) {
        goto fail;
    }
    return r;

fail:
    if (err != NULL && err->status != AIM_INTERNAL) {
        err->status = AIM_CONFIG;
    }
    aim_ssf_receiver_free(r);
    return NULL;
}

void
aim_ssf_receiver_free(aim_ssf_receiver *r)
{
    if (r == NULL) {
        return;
    }
    aim_keyset_free(r->keys);
    aim_state_close(r->state);
    aim_journal_close(r->journal);
    aim_audit_close(&r->audit);
    aim_config_clear(&r->cfg);
    free(r);
}

void
aim_ssf_receiver_set_log(aim_ssf_receiver *r, aim_log_fn fn, void *ud)
{
    r->log = fn;
    r->log_ud = ud;
}

void
aim_ssf_receiver_set_audit(aim_ssf_receiver *r, aim_audit_fn fn, void *ud)
{
    r->audit.fn = fn;
    r->audit.ud = ud;
}

const char *
aim_ssf_receiver_watched(const aim_ssf_receiver *r, size_t i, int *write)
{
    *write = 0;
    if (i < r->cfg.nssf_keys) {
        return aim_keyspec_path(r->cfg.ssf_keys[i]);
    }
    *write = 1;
    return i == r->cfg.nssf_keys ? aim_journal_path(r->journal) : NULL;
}

/* Transmitters rotate keys: re-read a changed source, keep the old set
 * when the new one is bad. */
static void
receiver_refresh(aim_ssf_receiver *r)
{
    struct stat st[AIM_MAX_KEY_SOURCES];
    aim_keyset *ks;
    aim_error   err;
    size_t      i;
    int         changed = 0;

    for (i = 0; i < r->cfg.nssf_keys; i++) {
        changed |= aim_file_changed(aim_keyspec_path(r->cfg.ssf_keys[i]),
                                    &r->key_st[i]);
    }
    if (!changed) {
        return;
    }
    memset(st, 0, sizeof(st));
    ks = load_ssf_keys(&r->cfg, st, &err);
    memcpy(r->key_st, st, sizeof(st));  /* retried when it changes again */
    if (ks == NULL) {
        rlog(r, AIM_LOG_ERR, "transmitter key reload failed, keeping the %zu "
             "keys loaded before: %s", aim_keyset_count(r->keys), err.message);
        return;
    }
    aim_keyset_free(r->keys);
    r->keys = ks;
    rlog(r, AIM_LOG_INFO, "transmitter keys reloaded: %zu keys",
         aim_keyset_count(ks));
}

static int
typ_is_set(const char *typ)
{
    if (typ == NULL) {
        return 0;
    }
    if (strncasecmp(typ, "application/", 12) == 0) {
        typ += 12;
    }
    return strcasecmp(typ, AIM_SSF_TYP) == 0;
}

static void
result_init(aim_ssf_result *res)
{
    memset(res, 0, sizeof(*res));
    res->status = AIM_OK;
}

static void
copy_to(char *dst, size_t size, const char *src)
{
    size_t n = src != NULL ? strlen(src) : 0;

    if (n >= size) {
        n = size - 1;
    }
    if (n > 0) {
        memcpy(dst, src, n);
    }
    dst[n] = '\0';
}

static aim_status
refuse(aim_ssf_result *res, aim_status s, aim_ssf_err code, const aim_error *err)
{
    res->status = s;
    res->err = code;
    res->outcome = AIM_SSF_REJECTED;
    if (err != NULL) {
        memcpy(res->message, err->message, sizeof(res->message));
    }
    return s;
}

/* RFC 8935 section 2.4 for what the claims check found. */
static aim_ssf_err
claims_code(aim_status s)
{
    switch (s) {
    case AIM_BAD_ISSUER:   return AIM_SSF_ERR_INVALID_ISSUER;
    case AIM_BAD_AUDIENCE: return AIM_SSF_ERR_INVALID_AUDIENCE;
    default:               return AIM_SSF_ERR_INVALID_REQUEST;
    }
}

static void
hash16(const void *a, size_t alen, const void *b, size_t blen,
       unsigned char out[16])
{
    unsigned char  h[32], *buf = malloc(alen + 1 + blen);

    memset(h, 0, sizeof(h));
    if (buf != NULL) {
        memcpy(buf, a, alen);
        buf[alen] = 0;
        if (blen > 0) {
            memcpy(buf + alen + 1, b, blen);
        }
        aim_sha256(buf, alen + 1 + blen, h);
        free(buf);
    }
    memcpy(out, h, 16);
}

/*
 * One event's effect on its agents.  Returns the outcome for this event,
 * or AIM_SSF_REJECTED with res->status AIM_INTERNAL when the state file
 * cannot take it (not acknowledged: the transmitter delivers it again).
 */
static aim_ssf_outcome
apply_event(aim_ssf_receiver *r, const aim_ssf_event *ev, aim_ssf_result *res,
            int64_t now)
{
    aim_state_effect eff;
    size_t           i;
    int              rc, changed = 0;

    memset(&eff, 0, sizeof(eff));
    switch (ev->type) {
    case AIM_EV_SESSION_REVOKED:
    case AIM_EV_SESSIONS_REVOKED:
    case AIM_EV_TOKEN_CLAIMS_CHANGE:
    case AIM_EV_CREDENTIAL_CHANGE:
        /* Every token issued up to the event goes.  JWT times are whole
         * seconds, so a token of the event's own second may predate it:
         * it goes too.  The cut is kept as long as such a token could
         * still be unexpired. */
        eff.revoked_before = ev->time > 0 ? ev->time : 1;
        eff.revoke_cause = (int) ev->type;
        eff.hold_until = ev->time + r->cfg.max_lifetime + r->cfg.leeway;
        break;
    case AIM_EV_ACCOUNT_DISABLED:
    case AIM_EV_ACCOUNT_PURGED:
        eff.status = AIM_STATE_DISABLE;
        eff.status_at = ev->time;
        eff.status_cause = (int) ev->type;
        break;
    case AIM_EV_ACCOUNT_ENABLED:
        eff.status = AIM_STATE_ENABLE;
        eff.status_at = ev->time;
        break;
    case AIM_EV_CREDENTIAL_COMPROMISE:
        eff.penalty = SSF_PENALTY_COMPROMISE;
        eff.signal = "credential_compromise";
        eff.distrust = 1;
        break;
    case AIM_EV_RISK_LEVEL_CHANGE:
        if (ev->risk == 0) {
            return AIM_SSF_NOTED;       /* trust is never raised from outside */
        }
        eff.penalty = ev->risk == 2 ? SSF_PENALTY_RISK_HIGH : SSF_PENALTY_RISK_MEDIUM;
        eff.signal = "risk";
        eff.distrust = ev->risk == 2;
        break;
    case AIM_EV_ASSURANCE_LEVEL_CHANGE:
        if (!ev->decrease) {
            return AIM_SSF_NOTED;
        }
        eff.penalty = SSF_PENALTY_ASSURANCE;
        eff.signal = "assurance_downgrade";
        break;
    case AIM_EV_VERIFICATION:
    case AIM_EV_STREAM_UPDATED:
        return AIM_SSF_NOTED;
    default:
        return AIM_SSF_IGNORED;
    }
    if (ev->nagents == 0) {
        return AIM_SSF_NOTED;           /* about someone who is no agent here */
    }
    for (i = 0; i < ev->nagents; i++) {
        rc = aim_state_signals_apply(r->state, ev->agents[i], &eff, now);
        if (rc < 0) {
            res->status = AIM_INTERNAL;
            snprintf(res->message, sizeof(res->message), "the state file has no "
                     "slot for agent \"%.100s\" now (table full, lock held, or "
                     "the file replaced by one this process cannot open); not "
                     "acknowledged", ev->agents[i]);
            return AIM_SSF_REJECTED;
        }
        changed |= rc;
    }
    return changed ? AIM_SSF_APPLIED : AIM_SSF_NOTED;
}

static void
receiver_audit(aim_ssf_receiver *r, const aim_ssf_result *res)
{
    char    line[2048];
    size_t  len;

    if (r->audit.fn == NULL && r->audit.fd < 0) {
        return;
    }
    len = aim_audit_format_ssf(line, sizeof(line) - 1, res, aim_now());
    if (len > 0 && aim_audit_write(&r->audit, line, len) != 0) {
        rlog(r, AIM_LOG_ERR, "audit file \"%s\": %s", r->cfg.audit,
             strerror(errno));
    }
}

static const char *const outcome_names[] = {
    "refused", "applied", "noted", "ignored", "duplicate"
};

/* Verify, check and apply; expect_jti (a poll's key) must match. */
static aim_status
apply_set(aim_ssf_receiver *r, const char *set, size_t len,
          const char *expect_jti, aim_ssf_result *res)
{
    aim_jws         jws;
    aim_error       err;
    aim_alg         alg;
    const aim_key  *key;
    json_t         *claims = NULL;
    aim_ssf_set     parsed;
    aim_status      s;
    unsigned char   id[16], ph[16];
    int64_t         now = aim_now();
    size_t          i;
    int             rc;
    aim_ssf_outcome o;

    result_init(res);
    memset(&jws, 0, sizeof(jws));
    err.message[0] = '\0';
    if (set == NULL || len == 0) {
        aim_fail(&err, AIM_NO_TOKEN, "no SET in the request");
        s = refuse(res, AIM_NO_TOKEN, AIM_SSF_ERR_INVALID_REQUEST, &err);
        goto done;
    }
    if (len > AIM_SSF_MAX_SET_LEN) {
        aim_fail(&err, AIM_MALFORMED, "the SET is %zu bytes, more than the %d "
                 "allowed", len, AIM_SSF_MAX_SET_LEN);
        s = refuse(res, AIM_MALFORMED, AIM_SSF_ERR_INVALID_REQUEST, &err);
        goto done;
    }
    receiver_refresh(r);
    /* A state file replaced on disk (an operator's rm to start afresh) is
     * followed, at most once a second as the verifiers do: marks written
     * to a file no process maps any more would be lost. */
    if (now != r->state_checked) {
        int       was = aim_state_orphaned(r->state);
        aim_error e;

        /* orphaned: apply refuses */
        if (aim_state_check(r->state, r->cfg.strict_modes, &e) != 0 && !was) {
            rlog(r, AIM_LOG_ERR, "state file %s can no longer be used (%s); "
                 "acknowledging nothing until it can", r->cfg.state, e.message);
        }
        r->state_checked = now;
    }

    /* The same strict JWS profile as tokens, typed as a SET. */
    s = aim_jws_parse_max(set, len, AIM_SSF_MAX_SET_LEN, &jws, &err);
    if (s != AIM_OK) {
        s = refuse(res, s, s == AIM_UNKNOWN_KEY ? AIM_SSF_ERR_INVALID_KEY
                           : AIM_SSF_ERR_INVALID_REQUEST, &err);
        goto done;
    }
    if (!typ_is_set(jws.typ)) {
        aim_fail(&err, AIM_BAD_TYPE, "typ %s%.32s%s is not \"%s\"",
                 jws.typ ? "\"" : "(missing)", jws.typ ? jws.typ : "",
                 jws.typ ? "\"" : "", AIM_SSF_TYP);
        s = refuse(res, AIM_BAD_TYPE, AIM_SSF_ERR_INVALID_REQUEST, &err);
        goto done;
    }
    alg = aim_alg_from_name(jws.alg);
    if (alg == AIM_ALG_NONE) {
        aim_fail(&err, AIM_UNSUPPORTED_ALG, "algorithm \"%.16s\" is not accepted "
                 "(%s)", jws.alg, AIM_ALGORITHMS);
        s = refuse(res, AIM_UNSUPPORTED_ALG, AIM_SSF_ERR_INVALID_REQUEST, &err);
        goto done;
    }
    if (jws.kid == NULL || (key = aim_keyset_find(r->keys, jws.kid)) == NULL) {
        aim_fail(&err, AIM_UNKNOWN_KEY, jws.kid == NULL
                 ? "JWS header has no \"kid\"%s"
                 : "no transmitter key has kid \"%.64s\"", jws.kid ? jws.kid : "");
        s = refuse(res, AIM_UNKNOWN_KEY, AIM_SSF_ERR_INVALID_KEY, &err);
        goto done;
    }
    if (key->alg != alg) {
        aim_fail(&err, AIM_UNSUPPORTED_ALG, "header alg %s does not match key "
                 "\"%.64s\", pinned to %s", aim_alg_name(alg), jws.kid,
                 aim_alg_name(key->alg));
        s = refuse(res, AIM_UNSUPPORTED_ALG, AIM_SSF_ERR_INVALID_KEY, &err);
        goto done;
    }
    s = aim_key_verify(key, (const unsigned char *) set, jws.signing_input_len,
                       jws.sig, jws.sig_len, &err);
    if (s != AIM_OK) {
        s = refuse(res, s, AIM_SSF_ERR_AUTHENTICATION_FAILED, &err);
        goto done;
    }

    claims = aim_json_parse_object((const char *) jws.payload, jws.payload_len,
                                   "SET claims", &err);
    if (claims == NULL) {
        s = refuse(res, AIM_MALFORMED, AIM_SSF_ERR_INVALID_REQUEST, &err);
        goto done;
    }
    {
        int         bad = 0;
        const char *jti = str_member(claims, "jti", SSF_MAX_JTI_LEN, &bad);

        copy_to(res->jti, sizeof(res->jti), jti);
    }
    s = aim_ssf_parse_claims(&r->cfg, claims, now, &parsed, &err);
    if (s != AIM_OK) {
        s = refuse(res, s, claims_code(s), &err);
        goto done;
    }
    res->issuer = parsed.iss;
    if (key->issuer != NULL && strcmp(key->issuer, parsed.iss) != 0) {
        aim_fail(&err, AIM_BAD_ISSUER, "key \"%.64s\" does not sign for "
                 "transmitter \"%.100s\"", jws.kid, parsed.iss);
        s = refuse(res, AIM_BAD_ISSUER, AIM_SSF_ERR_INVALID_ISSUER, &err);
        goto done;
    }
    if (expect_jti != NULL && strcmp(expect_jti, parsed.jti) != 0) {
        aim_fail(&err, AIM_BAD_CLAIM, "the SET's jti is not the one it was "
                 "delivered under");
        s = refuse(res, AIM_BAD_CLAIM, AIM_SSF_ERR_INVALID_REQUEST, &err);
        goto done;
    }
    res->event = aim_ssf_event_name(parsed.events[0].type);
    res->event_time = parsed.events[0].time;
    for (i = 0; i < parsed.nevents; i++) {
        if (parsed.events[i].type != AIM_EV_UNKNOWN
            && parsed.events[i].type != AIM_EV_OTHER)
        {
            res->event = aim_ssf_event_name(parsed.events[i].type);
            res->event_time = parsed.events[i].time;
            if (parsed.events[i].nagents > 0) {
                copy_to(res->agent, sizeof(res->agent), parsed.events[i].agents[0]);
            }
            if (parsed.events[i].state != NULL) {
                copy_to(res->state, sizeof(res->state), parsed.events[i].state);
            }
            break;
        }
    }

    /* Once only: the replay check, the effects and the record happen
     * under the journal's lock, so two processes given the same SET
     * apply it once. */
    hash16(parsed.iss, strlen(parsed.iss), parsed.jti, strlen(parsed.jti), id);
    hash16(jws.payload, jws.payload_len, NULL, 0, ph);
    if (aim_journal_lock(r->journal) != 0) {
        aim_fail(&err, AIM_INTERNAL, "the shared signals journal stays locked; "
                 "not acknowledged");
        s = refuse(res, AIM_INTERNAL, AIM_SSF_ERR_NONE, &err);
        goto done;
    }
    rc = aim_journal_replay_check(r->journal, id, ph, parsed.iat, now);
    if (rc == AIM_REPLAY_SEEN) {
        aim_journal_unlock(r->journal);
        res->outcome = AIM_SSF_DUPLICATE;
        snprintf(res->message, sizeof(res->message), "jti \"%.64s\" was accepted "
                 "before; nothing applied again", parsed.jti);
        s = AIM_OK;
        goto done;
    }
    if (rc != AIM_REPLAY_NEW) {
        aim_journal_unlock(r->journal);
        aim_fail(&err, rc == AIM_REPLAY_CONFLICT ? AIM_REPLAY : AIM_EXPIRED,
                 rc == AIM_REPLAY_CONFLICT
                 ? "jti \"%.64s\" was used before by another SET"
                 : "the SET (jti \"%.64s\") is older than the replay window",
                 parsed.jti);
        s = refuse(res, err.status, AIM_SSF_ERR_INVALID_REQUEST, &err);
        goto done;
    }
    res->outcome = AIM_SSF_IGNORED;
    for (i = 0; i < parsed.nevents; i++) {
        o = apply_event(r, &parsed.events[i], res, now);
        if (o == AIM_SSF_REJECTED) {
            aim_journal_unlock(r->journal);
            res->outcome = AIM_SSF_REJECTED;
            s = res->status;
            goto done;
        }
        if (o == AIM_SSF_APPLIED || (o == AIM_SSF_NOTED
                                     && res->outcome == AIM_SSF_IGNORED))
        {
            res->outcome = o;
        }
    }
    aim_journal_replay_add(r->journal, id, ph, parsed.iat,
                           parsed.iat + r->cfg.ssf_max_age + r->cfg.leeway, now);
    for (i = 0; i < parsed.nevents; i++) {
        const aim_ssf_event *ev = &parsed.events[i];

        aim_journal_stream_note(r->journal, parsed.iss,
                                ev->type == AIM_EV_VERIFICATION
                                ? (parsed.stream_id != NULL ? parsed.stream_id : "")
                                : NULL,
                                ev->type == AIM_EV_VERIFICATION ? ev->state : NULL,
                                ev->type == AIM_EV_STREAM_UPDATED ? ev->status : NULL,
                                now);
    }
    aim_journal_unlock(r->journal);
    snprintf(res->message, sizeof(res->message), "%s from \"%.80s\": %s%s%.100s%s",
             res->event, parsed.iss, outcome_names[res->outcome],
             res->agent[0] ? " (agent \"" : "", res->agent,
             res->agent[0] ? "\")" : "");
    s = AIM_OK;

done:
    json_decref(claims);
    aim_jws_clear(&jws);
    res->status = s;
    if (s == AIM_OK) {
        rlog(r, res->outcome == AIM_SSF_APPLIED ? AIM_LOG_WARN : AIM_LOG_INFO,
             "shared signal: %s", res->message);
    } else {
        rlog(r, AIM_LOG_WARN, "shared signal refused (%s): %s",
             res->err != AIM_SSF_ERR_NONE ? aim_ssf_err_code(res->err)
                                          : aim_reason(s), res->message);
    }
    receiver_audit(r, res);
    return s;
}

aim_status
aim_ssf_apply(aim_ssf_receiver *r, const char *set, size_t len,
              aim_ssf_result *res)
{
    return apply_set(r, set, len, NULL, res);
}

/* ------------------------------------------------------------------ */
/* RFC 8936, the receiving side                                        */

aim_status
aim_ssf_apply_poll(aim_ssf_receiver *r, const char *response, size_t len,
                   unsigned max_events, char **next_request,
                   aim_ssf_poll_counts *counts, aim_error *err)
{
    json_t         *doc, *sets, *more, *req, *ack, *errs;
    const char     *jti;
    json_t         *val;
    aim_ssf_result  res;
    aim_status      s = AIM_OK;

    *next_request = NULL;
    memset(counts, 0, sizeof(*counts));
    if (response == NULL || len == 0 || len > AIM_SSF_MAX_POLL_LEN) {
        return aim_fail(err, AIM_MALFORMED, "the poll response is empty or more "
                        "than %d bytes", AIM_SSF_MAX_POLL_LEN);
    }
    doc = aim_json_parse_object(response, len, "poll response", err);
    if (doc == NULL) {
        return AIM_MALFORMED;
    }
    sets = json_object_get(doc, "sets");
    more = json_object_get(doc, "moreAvailable");
    if (!json_is_object(sets) || (more != NULL && !json_is_boolean(more))) {
        json_decref(doc);
        return aim_fail(err, AIM_MALFORMED, "the poll response has no \"sets\" "
                        "object, or a \"moreAvailable\" that is not a boolean");
    }
    if (json_object_size(sets) > 4 * AIM_SSF_POLL_MAX_EVENTS) {
        json_decref(doc);
        return aim_fail(err, AIM_MALFORMED, "the poll response holds %zu SETs, "
                        "more than %d", json_object_size(sets),
                        4 * AIM_SSF_POLL_MAX_EVENTS);
    }
    json_object_foreach(sets, jti, val) {
        if (!json_is_string(val)) {
            json_decref(doc);
            return aim_fail(err, AIM_MALFORMED, "a SET in the poll response is "
                            "not a string");
        }
    }
    counts->more = more != NULL && json_is_true(more);
    if (max_events > AIM_SSF_POLL_MAX_EVENTS) {
        max_events = AIM_SSF_POLL_MAX_EVENTS;
    }

    req = json_object();
    ack = json_array();
    errs = json_object();
    json_object_foreach(sets, jti, val) {
        counts->received++;
        apply_set(r, json_string_value(val), json_string_length(val), jti, &res);
        if (res.status == AIM_OK) {
            counts->acknowledged++;
            counts->applied += res.outcome == AIM_SSF_APPLIED;
            json_array_append_new(ack, json_string(jti));
        } else if (res.err != AIM_SSF_ERR_NONE) {
            counts->refused++;
            json_t *e = json_pack("{s:s, s:s}", "err", aim_ssf_err_code(res.err),
                                  "description", res.message);

            if (e == NULL) {            /* a message cut inside a character */
                e = json_pack("{s:s, s:s}", "err", aim_ssf_err_code(res.err),
                              "description", aim_reason(res.status));
            }
            json_object_set_new(errs, jti, e);
        } else {
            counts->deferred++;         /* delivered again next time */
        }
    }
    if (json_array_size(ack) > 0) {
        json_object_set(req, "ack", ack);
    }
    if (json_object_size(errs) > 0) {
        json_object_set(req, "setErrs", errs);
    }
    json_object_set_new(req, "maxEvents", json_integer(max_events));
    json_object_set_new(req, "returnImmediately", json_true());
    *next_request = json_dumps(req, JSON_COMPACT);
    if (*next_request == NULL) {
        s = aim_fail(err, AIM_INTERNAL, "out of memory");
    }
    json_decref(ack);
    json_decref(errs);
    json_decref(req);
    json_decref(doc);
    return s;
}
