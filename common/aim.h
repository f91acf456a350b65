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
 * s (len bytes) as the content of a JSON string, by the audit line's
 * rules: '"' and '\\' escaped; control characters, DEL, bidirectional
 * controls and line separators as \uXXXX; invalid UTF-8 as \ufffd --
 * valid UTF-8 that shows nothing raw, whatever s holds.  With dst NULL,
 * the length it takes (at most 6 * len); else it is written to dst
 * (neither quotes nor a NUL) and its length returned.  For adapters that
 * answer in JSON.
 */
size_t aim_json_escape(char *dst, const char *s, size_t len);

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

/*
 * The options' names, in the table's order, as an X-macro: an adapter
 * that needs them at compile time (nginx's static directive table)
 * expands AIM_OPTION_NAMES(X) and so cannot miss one.  The core checks
 * that this list and the table agree (tests/unit: decide/options).
 */
#define AIM_OPTION_NAMES(X)                                               \
    X(keys) X(issuer) X(audience) X(leeway) X(max_lifetime) X(types)     \
    X(revoked) X(policy) X(audit) X(cache) X(status_list) X(state)       \
    X(trust_min) X(reload_interval) X(dpop_max_age) X(ssf_keys)          \
    X(ssf_issuer) X(ssf_audience) X(ssf_max_age) X(ssf_sign_key)         \
    X(ssf_publish_issuer) X(ssf_publish_audience) X(strict_modes)

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
 * A list setting, for hosts that give each option one string (PostgreSQL
 * list settings): items separated by commas, each item the values of one
 * aim_config_set_args call separated by blanks; "double quotes" keep
 * blanks and commas in a value ('https://idp "/etc/aim/my keys.json"').
 * An option of several words (types) takes the words of every item at
 * once.
 */
aim_status aim_config_set_list(aim_config *cfg, const char *name,
                               const char *value, aim_error *err);

/*
 * Read the host configuration file (docs/operations.md): one option per
 * line, "name value...", blanks between values, "double quotes" around a
 * value with blanks or '#', '#' at the start of a word for a comment, LF
 * or CRLF line ends.  Nothing is dropped silently: a '#' inside an
 * unquoted value, a carriage return inside a line and control characters
 * are errors.  Options set directly on cfg (by the adapter's own
 * configuration) win over the file's, whatever the order of the calls;
 * the file's lines for them are still checked.  Errors name the file,
 * the line and the option.
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
 * core then refuses (any other answer counts as AIM_INTERNAL, and neither
 * is the proof's failure).  The store is asked only about a proof that
 * verified in full.  An adapter may answer AIM_OK for a hash it recorded
 * itself for the same host request (nginx asks once per location; a
 * proof checked by aim_identify is recorded too).
 */
typedef aim_status (*aim_replay_fn)(void *ud, const unsigned char hash[32],
                                    int64_t expires);

/* What to audit of a decision (aim_request.audit). */
typedef enum {
    AIM_AUDIT_ALL = 0,       /* one line per decision (the default) */
    AIM_AUDIT_DENIALS        /* a re-check inside an audited session
                              * (each PostgreSQL statement): denials only */
} aim_audit_mode;

/* What a decision records in the agent's baseline (aim_request.observe). */
typedef enum {
    AIM_OBSERVE_RECORD = 0,  /* record the event (the default) */
    AIM_OBSERVE_READ         /* a later step of an event already recorded
                              * (the PAM account and session steps of a
                              * login auth decided): trust is read and
                              * applied, nothing is recorded */
} aim_observe_mode;

/*
 * One event the host asks about: the action, the credentials as they
 * arrived and the evidence of key binding the host can offer.  The
 * adapter describes; the core decides.  Zero-initialise and fill in.
 * A description the core cannot read (a scheme, DPoP or audit mode
 * outside its enum, a scope count without scopes) is refused with
 * AIM_INTERNAL.
 */
typedef struct {
    /* the action */
    const char         *adapter;   /* "nginx", "pam", "pg", "aimctl" */
    const char         *action;    /* "GET", "login", "bind", "SELECT" */
    const char         *resource;  /* "/kb/42", "account root", "orders" */
    const char         *client;    /* remote address, tty, NULL */
    const char *const  *scopes;    /* required scopes (NULL entries match
                                    * nothing) */
    size_t              nscopes;
    int                 any;       /* 1: any one of scopes suffices (and
                                    * with nscopes 0, none does) */

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
    aim_observe_mode    observe;

    /* aim_decide_token only: 1 when this decision continues an event whose
     * key binding was checked when it began (nginx re-checking a response
     * that is still streaming).  The token is re-checked in full; the
     * binding is not, since a DPoP proof is fresh only once.  Refused with
     * AIM_INTERNAL by aim_identify and aim_decide. */
    int                 continued;
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
    char         message[256]; /* why, for logs and audit (never the token,
                                * no control bytes) */
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
 * audit.  req->token is ignored: a DPoP proof (req->proof) must be for t
 * itself (its ath is SHA-256 of t's compact form).
 */
aim_status aim_decide_token(aim_verifier *v, const aim_token *t,
                            const aim_request *req, aim_decision *d);

/*
 * One audit line for an event that decides nothing (a session closed):
 * "decision":"note".  Feeds nothing.  t may be NULL.
 */
void aim_note(aim_verifier *v, const aim_request *req, const aim_token *t,
              const char *event);

/* ------------------------------------------------------------------ */
/* MCP: what a JSON-RPC request body asks for                          */

/*
 * The Model Context Protocol puts the method and the tool, resource or
 * prompt a client asks for in a JSON-RPC 2.0 body.  aim_mcp_parse reads
 * such a body -- one message or a batch -- so that an adapter can require
 * a scope per method, tool, resource and prompt (and decide a batch as
 * every one of its messages).  The parse is strict: one JSON text (no
 * duplicate member, no NUL, valid UTF-8, nesting at most AIM_MCP_MAX_DEPTH),
 * "jsonrpc":"2.0" in every message, a request or notification with a
 * method, or a response with an id and a result or an error; the names of
 * tools/call, prompts/get and resources/read|subscribe|unsubscribe must be
 * there.  Anything else is refused, never guessed.
 */

#define AIM_MCP_MAX_BODY     (8 * 1024 * 1024)  /* bytes of one body */
#define AIM_MCP_MAX_BATCH    64      /* messages in one batch */
#define AIM_MCP_MAX_DEPTH    64      /* nesting of the body's JSON */
#define AIM_MCP_MAX_NAME     1024    /* bytes of a method, name or URI */

/* The JSON-RPC error code an adapter answers a refused body with. */
#define AIM_MCP_PARSE_ERROR      (-32700)   /* not one JSON text */
#define AIM_MCP_INVALID_REQUEST  (-32600)   /* JSON, not a JSON-RPC message */

typedef enum {
    AIM_MCP_REQUEST = 0,     /* a method and an id */
    AIM_MCP_NOTIFICATION,    /* a method, no id */
    AIM_MCP_RESPONSE         /* an id and a result or an error */
} aim_mcp_kind;

/* One message.  The strings belong to the aim_mcp they were read from;
 * none is empty or holds a control character. */
typedef struct {
    aim_mcp_kind  kind;
    const char   *method;    /* "tools/call", ...; NULL for a response */
    const char   *tool;      /* tools/call: params.name; else NULL */
    const char   *prompt;    /* prompts/get: params.name; completion/complete
                              * of a ref/prompt: its name; else NULL */
    const char   *resource;  /* resources/read, subscribe, unsubscribe:
                              * params.uri; completion/complete of a
                              * ref/resource: its uri; else NULL */
} aim_mcp_message;

typedef struct aim_mcp aim_mcp;

/*
 * Parse a body of len bytes (at most AIM_MCP_MAX_BODY).  AIM_OK with *out
 * (free it with aim_mcp_free); AIM_MALFORMED with *code the JSON-RPC
 * error to answer (AIM_MCP_PARSE_ERROR, AIM_MCP_INVALID_REQUEST) and
 * err->message what was wrong, naming the message of a batch by its
 * position (never quoting the body); AIM_INTERNAL when out of memory.
 */
aim_status aim_mcp_parse(const char *body, size_t len, aim_mcp **out,
                         int *code, aim_error *err);
void aim_mcp_free(aim_mcp *m);

/* The messages: 1, or a batch's (1..AIM_MCP_MAX_BATCH). */
size_t aim_mcp_count(const aim_mcp *m);
/* 1 when the body was an array (a batch), even of one message. */
int aim_mcp_is_batch(const aim_mcp *m);
/* Message i (0 <= i < count), or NULL. */
const aim_mcp_message *aim_mcp_at(const aim_mcp *m, size_t i);

/*
 * An HTTP request as an adapter frames it, for the two rules every HTTP
 * adapter applies alike before a decision (http.c).
 */
typedef struct {
    const char *method;           /* as the client sent it ("POST") */
    int         body;             /* it carries a body: a length above 0,
                                   * or one not given (chunked; an HTTP/2
                                   * or HTTP/3 stream left open) */
    int         credentials;      /* an Authorization header */
    int         origin;           /* an Origin header */
    int         preflight_method; /* an Access-Control-Request-Method */
} aim_http_request;

/*
 * 1 when the request's body must be read and decided as MCP messages:
 * every request that carries a body, whatever its method (a server may
 * act on a PUT's or a GET's JSON-RPC body as on a POST's), and every
 * POST (an empty one is refused as malformed).  0: nothing to read.
 */
int aim_mcp_carries_messages(const aim_http_request *h);

/*
 * 1 when the request is a CORS preflight, which a place that lets
 * preflights through lets pass unchecked: OPTIONS with Origin and
 * Access-Control-Request-Method, without credentials and without a body
 * (a browser's preflight has none).  Anything else is a request like any
 * other, decided.  NULL or a NULL method: 0.
 */
int aim_http_preflight(const aim_http_request *h);

/* ------------------------------------------------------------------ */
/* Sealed hand-off                                                     */

#define AIM_MAX_SEALED       32768   /* bytes one seal may hold */

/*
 * Seal data for another process of the same host program: AES-256-GCM
 * under a key this process drew when the library was loaded (so a parent
 * and the children it forks afterwards share it, and nothing else has
 * it), bound to ctx (e.g. the PAM handle's address).  Returns a
 * malloc()ed base64 text, or NULL (no key: no entropy at load time; out
 * of memory; len 0 or over AIM_MAX_SEALED).  For PAM applications that
 * run auth and session in different processes (OpenSSH).
 */
char *aim_seal(const void *ctx, size_t ctxlen, const void *data, size_t len);

/*
 * Open a seal made by aim_seal with the same ctx in this process or its
 * parent: a malloc()ed copy of the data (NUL-terminated after len bytes;
 * wipe and free it), or NULL when text is not such a seal.
 */
void *aim_unseal(const void *ctx, size_t ctxlen, const char *text, size_t *len);

/* ------------------------------------------------------------------ */
/* Shared signals: Security Event Tokens (OpenID SSF 1.0, CAEP, RISC)  */

/*
 * An identity provider, or another AIM host, tells this host about its
 * agents with Security Event Tokens (RFC 8417): a session revoked, an
 * account disabled, a credential compromised.  A receiver verifies each
 * SET with the same strict JWS profile as tokens and writes its effect
 * into the host's state file (option "state"), where every process that
 * maps it -- nginx workers, PostgreSQL backends, PAM -- applies it at
 * its next decision: aim_verify() and the aim_decide family refuse what
 * the signals say to refuse.  docs/ssf.md is the profile, docs/trust.md
 * lists every event's effect.
 *
 * The other way round, a host records its own signals (an agent revoked
 * here, an agent whose trust fell below trust_min) in an outbox beside
 * the state file, and a publisher signs them with the host's key as SETs
 * that other hosts and the identity provider poll (RFC 8936).
 */

#define AIM_SSF_MAX_SET_LEN     16384  /* bytes of one SET (compact JWS) */
#define AIM_SSF_MAX_EVENTS      4      /* event types in one SET */
#define AIM_SSF_MAX_SUBJECT_IDS 8      /* identifiers in one "aliases" */
#define AIM_SSF_MAX_ISSUERS     16     /* transmitters a host accepts */
#define AIM_SSF_MAX_AUDIENCES   4      /* audiences a host receives as */
#define AIM_SSF_MAX_AGE_LIMIT   (30 * 86400)  /* the largest ssf_max_age */
#define AIM_SSF_MAX_POLL_LEN    (1024 * 1024) /* bytes of a poll response */
#define AIM_SSF_POLL_MAX_EVENTS 64     /* SETs in one poll answer */
#define AIM_SSF_MAX_POLL_REQUEST (256 * 1024) /* bytes of a poll request */
#define AIM_SSF_MAX_CONSUMER    200    /* bytes of a poller's name */

/* The JWS "typ" of a SET (RFC 8417 section 2.3) and the media type a
 * pushed SET arrives with (RFC 8935). */
#define AIM_SSF_TYP             "secevent+jwt"
#define AIM_SSF_MEDIA_TYPE      "application/secevent+jwt"

/* Why a SET is refused, in RFC 8935 section 2.4's terms (the "err" of a
 * push answer and of a poll's "setErrs"). */
typedef enum {
    AIM_SSF_ERR_NONE = 0,
    AIM_SSF_ERR_INVALID_REQUEST,       /* "invalid_request" */
    AIM_SSF_ERR_INVALID_KEY,           /* "invalid_key" */
    AIM_SSF_ERR_INVALID_ISSUER,        /* "invalid_issuer" */
    AIM_SSF_ERR_INVALID_AUDIENCE,      /* "invalid_audience" */
    AIM_SSF_ERR_AUTHENTICATION_FAILED, /* "authentication_failed" */
    AIM_SSF_ERR_ACCESS_DENIED          /* "access_denied" */
} aim_ssf_err;

/* The RFC 8935 code ("invalid_key", ...); NULL for AIM_SSF_ERR_NONE. */
const char *aim_ssf_err_code(aim_ssf_err e);

/* What an acknowledged SET did. */
typedef enum {
    AIM_SSF_REJECTED = 0,    /* not acknowledged: see status and err */
    AIM_SSF_APPLIED,         /* an effect was written to the state file */
    AIM_SSF_NOTED,           /* acknowledged and recorded, nothing for
                              * decisions to apply: a verification or
                              * stream-updated event, a subject that names
                              * no agent, an event older than one applied */
    AIM_SSF_IGNORED,         /* acknowledged: an event type AIM does not
                              * act on */
    AIM_SSF_DUPLICATE        /* acknowledged: the same SET (issuer, jti and
                              * payload) was accepted before; nothing is
                              * applied twice */
} aim_ssf_outcome;

typedef struct {
    aim_status      status;     /* AIM_OK: acknowledge it (RFC 8935: 202;
                                 * RFC 8936: "ack").  AIM_INTERNAL (err
                                 * NONE): not acknowledged, try again
                                 * later.  Else refused with err. */
    aim_ssf_err     err;
    aim_ssf_outcome outcome;
    const char     *event;      /* the event acted on, by short name
                                 * ("session-revoked", "account-disabled",
                                 * "verification", "unknown"); NULL when
                                 * the SET did not parse */
    const char     *issuer;     /* the transmitter (the configured string);
                                 * NULL when not established */
    char            agent[201]; /* the (first) agent affected, or "" */
    char            jti[257];   /* the SET's jti, or "" */
    char            state[257]; /* a verification event's "state" */
    int64_t         event_time; /* when the event happened */
    char            message[256]; /* why, for logs and the RFC 8935
                                 * "description"; never token content
                                 * beyond the identifiers above */
} aim_ssf_result;

typedef struct aim_ssf_receiver aim_ssf_receiver;

/*
 * A receiver: the transmitters' keys (ssf_keys, each bound to its
 * ssf_issuer when there are several), the accepted ssf_issuer values,
 * the ssf_audience values this host receives as, ssf_max_age, leeway,
 * max_lifetime, the token issuers (for "iss_sub" subjects) and the state
 * file.  Opens the state file and its journal (STATE.ssf).  AIM_CONFIG
 * errors name the option or the file.  cfg is copied.
 */
aim_ssf_receiver *aim_ssf_receiver_new(const aim_config *cfg, aim_error *err);
void aim_ssf_receiver_free(aim_ssf_receiver *r);
void aim_ssf_receiver_set_log(aim_ssf_receiver *r, aim_log_fn fn, void *ud);
/* One audit line per SET (and to the "audit" file when configured). */
void aim_ssf_receiver_set_audit(aim_ssf_receiver *r, aim_audit_fn fn, void *ud);

/*
 * The files a receiver re-reads or writes while it runs, one per call, i
 * from 0, as aim_verifier_watched(): the transmitters' key sources, then
 * the journal beside the state file (*write set), which every process
 * opens for itself.  NULL past the last.  A host that forks workers under
 * another identity checks them with that identity.
 */
const char *aim_ssf_receiver_watched(const aim_ssf_receiver *r, size_t i,
                                     int *write);

/*
 * Verify one SET (compact JWS, len bytes) and apply it.  Returns
 * res->status.  A refused, replayed or malformed SET changes nothing in
 * the state file.  Transmitter key files are re-read when they change.
 */
aim_status aim_ssf_apply(aim_ssf_receiver *r, const char *set, size_t len,
                         aim_ssf_result *res);

typedef struct {
    unsigned received;      /* SETs in the response */
    unsigned acknowledged;  /* of which acknowledged ("ack") */
    unsigned applied;       /* ... with an effect written */
    unsigned refused;       /* reported in "setErrs" */
    unsigned deferred;      /* neither: not acknowledged, delivered again */
    int      more;          /* the transmitter said "moreAvailable" */
} aim_ssf_poll_counts;

/*
 * The receiving side of RFC 8936: apply every SET of a poll response
 * ({"sets":{JTI:SET,...},"moreAvailable":...}) and build the next
 * request (*next_request, malloc()ed JSON) that acknowledges them, with
 * "setErrs" for the refused and "maxEvents" max_events (at most
 * AIM_SSF_POLL_MAX_EVENTS), "returnImmediately" true.  The first request
 * of a session is {"maxEvents":N,"returnImmediately":true}.  A response
 * that is not such an object fails with AIM_MALFORMED (nothing applied).
 */
aim_status aim_ssf_apply_poll(aim_ssf_receiver *r, const char *response,
                              size_t len, unsigned max_events,
                              char **next_request, aim_ssf_poll_counts *counts,
                              aim_error *err);

/* A host's own signals, published as SETs. */
typedef enum {
    AIM_SIGNAL_DISABLED = 1,     /* the agent was revoked here: RISC
                                  * account-disabled */
    AIM_SIGNAL_ENABLED,          /* the revocation was lifted: RISC
                                  * account-enabled */
    AIM_SIGNAL_SESSIONS_REVOKED, /* its tokens so far must go: CAEP
                                  * session-revoked */
    AIM_SIGNAL_DISTRUSTED        /* its trust fell below trust_min here:
                                  * CAEP risk-level-change to HIGH (the
                                  * decision path records these itself) */
} aim_signal_kind;

/* Record a signal about agent in the outbox beside cfg's state file
 * (aimctl revoke and unrevoke).  reason is for operators (<= 63 bytes). */
aim_status aim_ssf_record(const aim_config *cfg, const char *agent,
                          aim_signal_kind kind, const char *reason,
                          aim_error *err);

/* Lift what shared signals hold against agent on this host (a disable, a
 * revocation cut): an operator who investigated.  AIM_OK, or AIM_CONFIG
 * when the agent has no slot in the state file. */
aim_status aim_ssf_clear(const aim_config *cfg, const char *agent,
                         aim_error *err);

typedef struct aim_ssf_publisher aim_ssf_publisher;

/*
 * A publisher: the host's key (ssf_sign_key, P-256 or Ed25519 PEM, not
 * readable by others), the "iss" (ssf_publish_issuer) and "aud"
 * (ssf_publish_audience) of its SETs, and the state file whose outbox it
 * serves.  Events older than ssf_max_age are no longer published.
 */
aim_ssf_publisher *aim_ssf_publisher_new(const aim_config *cfg,
                                         aim_error *err);
void aim_ssf_publisher_free(aim_ssf_publisher *p);
void aim_ssf_publisher_set_log(aim_ssf_publisher *p, aim_log_fn fn, void *ud);
/* Its files, as aim_ssf_receiver_watched(): the journal (*write set).  The
 * key is read once, by aim_ssf_publisher_new(). */
const char *aim_ssf_publisher_watched(const aim_ssf_publisher *p, size_t i,
                                      int *write);

/* The JWKS ({"keys":[...]}) receivers verify this host's SETs with: what
 * to serve at the jwks_uri.  malloc()ed. */
char *aim_ssf_publisher_jwks(const aim_ssf_publisher *p);

/*
 * The first outbox event numbered above after, as a signed SET: AIM_OK
 * with *set (malloc()ed) and *seq, or AIM_OK with *set NULL when there is
 * none.  The same event always gives the same jti and payload.
 */
aim_status aim_ssf_publish_next(aim_ssf_publisher *p, uint64_t after,
                                uint64_t *seq, char **set, aim_error *err);

/*
 * The transmitting side of RFC 8936 for one poller (consumer: the name
 * the adapter authenticated it as, 1-AIM_SSF_MAX_CONSUMER bytes; request:
 * at most AIM_SSF_MAX_POLL_REQUEST bytes): take the request's "ack" and
 * "setErrs", answer {"sets":{...},"moreAvailable":...} with at most
 * "maxEvents" (default 16, at most AIM_SSF_POLL_MAX_EVENTS) SETs not yet
 * acknowledged by this poller.  AIM answers at once whatever
 * "returnImmediately" says.  A malformed request: AIM_MALFORMED with
 * *code AIM_SSF_ERR_INVALID_REQUEST (an RFC 8936 error response, a 400).
 */
aim_status aim_ssf_poll(aim_ssf_publisher *p, const char *consumer,
                        const char *request, size_t len, char **response,
                        aim_ssf_err *code, aim_error *err);

#ifdef __cplusplus
}
#endif

#endif /* AIM_H */
