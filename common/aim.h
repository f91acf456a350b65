/*
 * aim.h -- libaim, the AIM core: the one decision path every adapter calls.
 *
 *   extract (adapter) -> verify -> authorize -> observe -> audit
 *
 * A verifier holds a configuration, the loaded keys, the revocation list,
 * the local policy and a cache of verified tokens.  It is not thread-safe:
 * use one verifier per thread (nginx worker, PostgreSQL backend and PAM
 * handle are all single-threaded).
 *
 * Ownership: every *_new has a matching *_free; strings returned by
 * accessors belong to the object they were read from; functions that
 * return "char *" hand the caller a malloc()ed string to free().
 *
 * Nothing in this API ever logs, stores or returns the raw token.
 */

#ifndef AIM_H
#define AIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AIM_VERSION "0.2.0"

/* Hard bounds applied before any parsing or crypto. */
#define AIM_MAX_TOKEN_LEN    16384   /* bytes of compact JWS */
#define AIM_MAX_JSON_DEPTH   8       /* nesting of header / claims JSON */
#define AIM_MAX_ACT_DEPTH    4       /* RFC 8693 "act" chain */
#define AIM_MAX_SCOPES       64      /* scope tokens in one token */
#define AIM_MAX_SCOPE_LEN    256     /* bytes of one scope token */
#define AIM_MAX_KEYS         64      /* keys in one JWKS */
#define AIM_MAX_ISSUERS      16
#define AIM_MAX_TYPES        8
#define AIM_MAX_OPTION_LEN   1024    /* bytes of one option value */
#define AIM_MAX_CONFIG_FILE  65536   /* bytes of a host configuration file */
#define AIM_MAX_PROOF_LEN    8192    /* bytes of one DPoP proof */
#define AIM_DPOP_MAX_AGE_LIMIT 3600  /* the largest dpop_max_age accepted */

/* The signature algorithms AIM accepts, as JOSE names them. */
#define AIM_ALGORITHMS       "ES256 ES384 EdDSA RS256 PS256"

/*
 * Decision status.  The numeric values and the strings returned by
 * aim_reason() are stable: they appear in audit lines, HTTP variables,
 * PAM logs and PostgreSQL errors.
 */
typedef enum {
    AIM_OK = 0,
    AIM_NO_TOKEN,            /* "no_token"           nothing presented */
    AIM_MALFORMED,           /* "malformed"          not a strict compact JWS / JSON */
    AIM_UNSUPPORTED_ALG,     /* "unsupported_alg"    none, HMAC, unknown, or != key's */
    AIM_UNKNOWN_KEY,         /* "unknown_key"        kid missing or not loaded */
    AIM_BAD_SIGNATURE,       /* "bad_signature" */
    AIM_EXPIRED,             /* "expired" */
    AIM_NOT_YET_VALID,       /* "not_yet_valid"      nbf / iat in the future */
    AIM_BAD_ISSUER,          /* "bad_issuer" */
    AIM_BAD_AUDIENCE,        /* "bad_audience" */
    AIM_MISSING_CLAIM,       /* "missing_claim" */
    AIM_BAD_CLAIM,           /* "bad_claim"          wrong type or value */
    AIM_LIFETIME_TOO_LONG,   /* "lifetime_too_long"  exp - iat > max */
    AIM_BAD_TYPE,            /* "bad_type"           typ not accepted, crit present */
    AIM_REVOKED,             /* "revoked"            agent, jti or kid listed */
    AIM_INSUFFICIENT_SCOPE,  /* "insufficient_scope" */
    AIM_POLICY_DENIED,       /* "policy_denied"      local policy grants nothing */
    AIM_LOW_TRUST,           /* "low_trust"          behavioural trust below minimum */
    AIM_BAD_BINDING,         /* "bad_binding"        DPoP / cnf proof failed */
    AIM_REPLAY,              /* "replay"             proof reused */
    AIM_CONFIG,              /* "config_error"       bad configuration (fail closed) */
    AIM_INTERNAL,            /* "internal_error"     out of memory, I/O (fail closed) */
    AIM_STATUS_MAX
} aim_status;

/* The stable reason code of a status ("expired", "bad_signature", ...). */
const char *aim_reason(aim_status s);

/*
 * Error detail.  message is for operators and audit logs: it names what
 * was wrong ("exp 1700000000 is 3600 s in the past") and never contains
 * the token, a signature or key material.
 */
typedef struct {
    aim_status  status;
    const char *option;      /* configuration errors: the option's name
                              * (static storage), else NULL */
    unsigned    line;        /* aim_config_load: the line, else 0 */
    char        message[256];
} aim_error;

/* ------------------------------------------------------------------ */
/* Clock                                                               */

/* Seconds since the epoch, read through one replaceable function. */
int64_t aim_now(void);

/* Replace the clock (tests); NULL restores time(). Process-wide. */
void aim_set_clock(int64_t (*clock)(void));

/* ------------------------------------------------------------------ */
/* Configuration                                                       */

typedef struct aim_config aim_config;

aim_config *aim_config_new(void);
void aim_config_free(aim_config *cfg);

/*
 * The options, one table: every adapter derives its directives (nginx
 * "aim_<name>"), module options (PAM "name=value") and GUCs
 * ("pg_aim.<name>") from it, and aimctl lists it ("aimctl options").
 */
typedef enum {
    AIM_OPTION_STRING = 0,   /* one word */
    AIM_OPTION_PATH,         /* a file name (may contain spaces) */
    AIM_OPTION_SECONDS,      /* a whole number of seconds in [min, max] */
    AIM_OPTION_NUMBER,       /* a whole number in [min, max] */
    AIM_OPTION_WORDS,        /* min_args..max_args words */
    AIM_OPTION_KEYS,         /* [ISSUER] PATH */
    AIM_OPTION_URI_PATH      /* URI PATH */
} aim_option_type;

typedef struct {
    const char      *name;       /* "keys", "trust_min", ... */
    aim_option_type  type;
    int              multi;      /* may be given more than once */
    unsigned         min_args;   /* values on one line */
    unsigned         max_args;
    int64_t          min;        /* numbers: inclusive bounds */
    int64_t          max;
    const char      *def;        /* the default as text; NULL: none */
    const char      *args;       /* "PATH", "[ISSUER] PATH", ... */
    const char      *doc;        /* one line */
} aim_option;

/* The table (count entries) and one entry by name (NULL: unknown). */
const aim_option *aim_options(size_t *count);
const aim_option *aim_option_find(const char *name);

/*
 * Set one option from its values, as the host's configuration parsed
 * them (so a path may contain spaces).  Returns AIM_OK or AIM_CONFIG
 * with err->option naming the option and err->message what was wrong;
 * the adapter adds its file and line.  Options that may be repeated
 * (keys, issuer, status_list) add one entry per call.
 */
aim_status aim_config_set_args(aim_config *cfg, const char *name,
                               const char *const *args, size_t nargs,
                               aim_error *err);

/*
 * The same with the values in one string: the whole string for options
 * of one value; split at blanks for the others ("ISSUER PATH").
 */
aim_status aim_config_set(aim_config *cfg, const char *name, const char *value,
                          aim_error *err);

/*
 * Read the host configuration file (docs/operations.md): one option per
 * line, "name value...", blanks between values, "double quotes" around a
 * value with blanks, "#" comments.  Options set directly on cfg (by the
 * adapter's own configuration) win over the file's, whatever the order
 * of the calls.  Errors name the file, the line and the option.
 */
aim_status aim_config_load(aim_config *cfg, const char *path, aim_error *err);

/* Check that the required options (keys, issuer, audience) are set. */
aim_status aim_config_check(const aim_config *cfg, aim_error *err);

/* ------------------------------------------------------------------ */
/* Verified tokens                                                     */

typedef struct aim_token aim_token;

/* Tokens are reference counted: the cache and callers share them. */
aim_token *aim_token_ref(aim_token *t);
void aim_token_free(aim_token *t);

/* The agent: the current actor (the outermost "act.sub", RFC 8693 4.1)
 * or, without "act", "sub". */
const char *aim_token_agent(const aim_token *t);
const char *aim_token_subject(const aim_token *t);  /* "sub" */
const char *aim_token_owner(const aim_token *t);    /* NULL when absent */
const char *aim_token_issuer(const aim_token *t);
const char *aim_token_jti(const aim_token *t);
const char *aim_token_kid(const aim_token *t);
const char *aim_token_alg(const aim_token *t);
/* Delegation chain, outermost actor first: "actor>...>sub"; "sub" alone
 * when there is no "act". */
const char *aim_token_chain(const aim_token *t);
int64_t aim_token_exp(const aim_token *t);
int64_t aim_token_iat(const aim_token *t);
/* cnf.jkt (DPoP key thumbprint) and cnf.x5t#S256 (TLS client
 * certificate thumbprint, RFC 8705), NULL when absent. */
const char *aim_token_cnf_jkt(const aim_token *t);
const char *aim_token_cnf_x5t(const aim_token *t);

/* Effective scopes: token scopes intersected with local policy. */
size_t aim_token_scope_count(const aim_token *t);
const char *aim_token_scope_at(const aim_token *t, size_t i);
/* The effective scopes joined with single spaces ("" when none). */
const char *aim_token_scope(const aim_token *t);
/* 1 when scope is among the effective scopes (exact, whole word). */
int aim_token_has_scope(const aim_token *t, const char *scope);

/*
 * One claim by name: a string claim as is, any other JSON value as
 * compact JSON; NULL when absent.  malloc()ed.
 */
char *aim_token_claim(const aim_token *t, const char *name);
/* All claims as compact JSON.  malloc()ed. */
char *aim_token_claims_json(const aim_token *t);

/* ------------------------------------------------------------------ */
/* The verifier                                                        */

typedef struct aim_verifier aim_verifier;

/*
 * Build a verifier.  Loads every key source, the revocation file and the
 * policy file now; any error (unreadable file, bad JWK, RSA < 2048 bits,
 * missing required option) fails with AIM_CONFIG and a message naming the
 * file and the reason.  cfg is copied.
 */
aim_verifier *aim_verifier_new(const aim_config *cfg, aim_error *err);
void aim_verifier_free(aim_verifier *v);

/* Operational messages (reloads, rejected new key files): level is
 * AIM_LOG_ERR, AIM_LOG_WARN, AIM_LOG_INFO. */
enum { AIM_LOG_ERR = 3, AIM_LOG_WARN = 4, AIM_LOG_INFO = 6 };
typedef void (*aim_log_fn)(void *ud, int level, const char *msg);
void aim_verifier_set_log(aim_verifier *v, aim_log_fn fn, void *ud);

/* Audit lines (one JSON object, no newline) also go to this sink. */
typedef void (*aim_audit_fn)(void *ud, const char *line);
void aim_verifier_set_audit(aim_verifier *v, aim_audit_fn fn, void *ud);

/*
 * Re-read key, revocation and policy files whose mtime changed, at most
 * once per reload_interval.  Called by aim_verify(); adapters may call it
 * from a timer.  A bad new key or policy file keeps the old contents and
 * logs why; a revocation list or status list that cannot be re-read
 * refuses every token until it can (fail closed).
 */
void aim_verifier_refresh(aim_verifier *v);

/*
 * automatic 0: aim_verify and the decisions no longer refresh on their
 * own; the host calls aim_verifier_refresh from a timer, so a big file
 * is never re-read while a request waits.  The default is 1.
 */
void aim_verifier_set_auto_refresh(aim_verifier *v, int automatic);

/*
 * The files a verifier re-reads while it runs, one per call, i from 0:
 * key sources, the revocation list, the policy, status lists, then the
 * state file (*write set: it is reopened read-write if replaced).  NULL
 * past the last.  A host that drops privileges checks them with the
 * identity that will re-read them.
 */
const char *aim_verifier_watched(const aim_verifier *v, size_t i, int *write);

/*
 * Verify a compact JWS token: structure, key, signature, header, claims,
 * revocation.  On success *out holds a reference the caller frees.
 * Writes no audit line and checks no key binding: this is the lower
 * level aimctl and the tests use.  Adapters call aim_identify and the
 * aim_decide family below instead, which never skip a step.
 */
aim_status aim_verify(aim_verifier *v, const char *token, size_t len,
                      aim_token **out, aim_error *err);

/*
 * May token t replace bound, an earlier token of a session (PostgreSQL
 * binding, any adapter that refreshes)?  Only the same agent, and never
 * an older token (iat not before bound's): AIM_OK, or AIM_BAD_CLAIM with
 * the reason in err.  Binding is one-way.
 */
aim_status aim_token_may_refresh(const aim_token *bound, const aim_token *t,
                                 aim_error *err);

/* 1 if s (len bytes) is one valid scope token (RFC 6749 3.3 characters,
 * 1..AIM_MAX_SCOPE_LEN bytes): the grammar adapters check scopes they
 * build from configuration or request data against. */
int aim_scope_valid(const char *s, size_t len);

/* ------------------------------------------------------------------ */
/* Decisions: the one path                                             */

/* How the credentials reached the adapter. */
typedef enum {
    AIM_SCHEME_NONE = 0,     /* no scheme: a PAM conversation, a SQL call */
    AIM_SCHEME_BEARER,       /* HTTP "Authorization: Bearer" (RFC 6750) */
    AIM_SCHEME_DPOP          /* HTTP "Authorization: DPoP" (RFC 9449) */
} aim_scheme;

/* What a place accepts of DPoP (aim_request.dpop). */
typedef enum {
    AIM_DPOP_OFF = 0,        /* no proofs are checked here */
    AIM_DPOP_ON,             /* bearer tokens, and bound tokens with proofs */
    AIM_DPOP_REQUIRED        /* only bound tokens with proofs */
} aim_dpop_mode;

/*
 * The host's DPoP replay store: record hash until expires (a time from
 * aim_now()) and answer AIM_OK if it was not there, AIM_REPLAY if it was
 * and has not expired, AIM_INTERNAL if it cannot tell (store full): the
 * core then refuses.  An adapter may answer AIM_OK for a hash it recorded
 * itself for the same host request (nginx asks once per location).
 */
typedef aim_status (*aim_replay_fn)(void *ud, const unsigned char hash[32],
                                    int64_t expires);

/* What to audit of a decision (aim_request.audit). */
typedef enum {
    AIM_AUDIT_ALL = 0,       /* one line per decision (the default) */
    AIM_AUDIT_DENIALS        /* a re-check inside an audited session
                              * (each PostgreSQL statement): denials only */
} aim_audit_mode;

/*
 * One event the host asks about: the action, the credentials as they
 * arrived and the evidence of key binding the host can offer.  The
 * adapter describes; the core decides.  Zero-initialise and fill in.
 */
typedef struct {
    /* the action */
    const char         *adapter;   /* "nginx", "pam", "pg", "aimctl" */
    const char         *action;    /* "GET", "login", "bind", "SELECT" */
    const char         *resource;  /* "/kb/42", "account root", "orders" */
    const char         *client;    /* remote address, tty, NULL */
    const char *const  *scopes;    /* required scopes */
    size_t              nscopes;
    int                 any;       /* 1: any one of scopes suffices */

    /* the credentials (aim_identify, aim_decide) */
    const char         *token;     /* compact JWS; NULL: none presented */
    size_t              token_len;
    aim_scheme          scheme;

    /* key binding: DPoP (RFC 9449) */
    aim_dpop_mode       dpop;
    const char         *proof;     /* the DPoP header's value */
    size_t              proof_len;
    unsigned            nproofs;   /* DPoP headers seen (exactly 1 is valid) */
    const char         *method;    /* the request's method (htm) */
    const char         *url;       /* the request's URL (htu): the server's
                                    * own origin and the path, no query */
    aim_replay_fn       replay;
    void               *replay_ud;

    /* key binding: mutual TLS (RFC 8705) */
    const unsigned char *cert_sha256; /* SHA-256 of the DER client
                                    * certificate the TLS layer verified;
                                    * NULL: none */

    /* a denial the host takes for its own reason (a role escape, a scope
     * expression that evaluated to nothing): AIM_OK when there is none */
    aim_status          host_status;
    const char         *host_message;

    aim_audit_mode      audit;
} aim_request;

/*
 * The answer.  token holds a reference (released by aim_decision_clear)
 * whenever the token verified, even when the decision is a denial, so the
 * adapter can name the agent of a refused request.
 */
typedef struct {
    aim_status   status;
    aim_token   *token;
    double       trust;        /* the agent's trust after the decision;
                                * -1 without a state file */
    const char  *signal;       /* the anomaly that moved it, or NULL */
    unsigned     proof_error:1;/* the failure lies in the DPoP proof
                                * (RFC 9449 "invalid_dpop_proof") */
    char         message[256]; /* why, for logs and audit (never the token) */
} aim_decision;

void aim_decision_clear(aim_decision *d);

/*
 * Who is this?  Verify the request's token and its key binding (a DPoP
 * proof is checked and recorded in the replay store) without asking for
 * any right: no audit line, nothing fed to the baseline.  For values an
 * adapter shows before it decides (nginx's $aim_agent in limit_req) and
 * for re-establishing a verified session in another process (PostgreSQL
 * parallel workers re-verify the leader's token).
 */
aim_status aim_identify(aim_verifier *v, const aim_request *req,
                        aim_decision *d);

/*
 * The decision: verify (cached) -> key binding -> the host's own denial
 * -> scopes -> baseline and trust -> one audit line.
 *
 * The baseline rule, the same for every adapter and every entry point
 * (docs/trust.md): once the token verified, the decision feeds the
 * agent's baseline when it is an allow, or a denial the agent caused with
 * a valid token -- insufficient_scope, policy_denied, bad_binding, replay
 * and the host's own denials.  A request refused for scope or policy is a
 * probe whatever trust says; trust only turns an allow into low_trust.
 * Tokens that do not verify (or no longer do: expired, revoked) feed
 * nothing, for they name no agent reliably.
 */
aim_status aim_decide(aim_verifier *v, const aim_request *req,
                      aim_decision *d);

/*
 * The same for a token a session verified earlier (a PAM account or
 * session step, each PostgreSQL statement): re-check expiry, revocation,
 * key and policy, then key binding, the host's denial, scopes, baseline,
 * audit.  req->token is ignored.
 */
aim_status aim_decide_token(aim_verifier *v, const aim_token *t,
                            const aim_request *req, aim_decision *d);

/*
 * One audit line for an event that decides nothing (a session closed):
 * "decision":"note".  Feeds nothing.  t may be NULL.
 */
void aim_note(aim_verifier *v, const aim_request *req, const aim_token *t,
              const char *event);

#ifdef __cplusplus
}
#endif

#endif /* AIM_H */
