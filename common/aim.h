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

#define AIM_VERSION "0.1.0"

/* Hard bounds applied before any parsing or crypto. */
#define AIM_MAX_TOKEN_LEN    16384   /* bytes of compact JWS */
#define AIM_MAX_JSON_DEPTH   8       /* nesting of header / claims JSON */
#define AIM_MAX_ACT_DEPTH    4       /* RFC 8693 "act" chain */
#define AIM_MAX_SCOPES       64      /* scope tokens in one token */
#define AIM_MAX_SCOPE_LEN    256     /* bytes of one scope token */
#define AIM_MAX_KEYS         64      /* keys in one JWKS */
#define AIM_MAX_ISSUERS      16
#define AIM_MAX_TYPES        8

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
    aim_status status;
    char       message[256];
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
 * Set one option by name, as adapters read them from their host's
 * configuration.  Returns AIM_OK or AIM_CONFIG with err->message naming
 * the option and what was wrong with the value; the adapter adds file
 * and line.  Options:
 *
 *   keys          path of a JWKS file, or "pem:ALG:PATH" for a PEM public
 *                 key pinned to ALG; may be repeated (one key source each)
 *   issuer        accepted "iss"; may be repeated (up to AIM_MAX_ISSUERS)
 *   audience      the audience this service is ("aud" must contain it)
 *   leeway        clock skew in seconds for exp/nbf/iat (default 30)
 *   max_lifetime  maximum exp - iat in seconds (default 86400)
 *   types         accepted "typ" values, space separated
 *                 (default "aim+jwt at+jwt"; "application/" prefix and
 *                 case are ignored when comparing)
 *   revoked       path of a revocation file
 *   policy        path of a local policy file
 *   audit         path of a file to append audit lines to
 *   cache         verified-token cache entries (default 1024, 0 = off)
 *   status_list   "URI PATH": a local copy of the signed Token Status List
 *                 published at URI (may be repeated; see status.h)
 *   state         path of the host's shared behavioural state file
 *                 (created if missing; see docs/trust.md)
 *   trust_min     with a state file: below this trust (0-100, default 50)
 *                 an otherwise allowed decision becomes AIM_LOW_TRUST
 *   reload_interval  seconds between stat()s of key/revocation/policy
 *                 files (default 1)
 */
aim_status aim_config_set(aim_config *cfg, const char *name, const char *value,
                          aim_error *err);

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
/* cnf.jkt (DPoP key thumbprint), NULL when absent. */
const char *aim_token_cnf_jkt(const aim_token *t);

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
 * from a timer.  A bad new file keeps the old contents and logs why.
 */
void aim_verifier_refresh(aim_verifier *v);

/*
 * Verify a compact JWS token: structure, key, signature, header, claims,
 * revocation.  On success *out holds a reference the caller frees.
 * Writes no audit line (see aim_decide).
 */
aim_status aim_verify(aim_verifier *v, const char *token, size_t len,
                      aim_token **out, aim_error *err);

/*
 * Re-check a token verified earlier: expiry (with leeway), revocation,
 * and that its key is still loaded.  For PAM "account" and for every
 * PostgreSQL statement.
 */
aim_status aim_recheck(aim_verifier *v, const aim_token *t, aim_error *err);

/*
 * May token t replace bound, an earlier token of a session (PostgreSQL
 * binding, any adapter that refreshes)?  Only the same agent, and never
 * an older token (iat not before bound's): AIM_OK, or AIM_BAD_CLAIM with
 * the reason in err.  Binding is one-way.
 */
aim_status aim_token_may_refresh(const aim_token *bound, const aim_token *t,
                                 aim_error *err);

/* ------------------------------------------------------------------ */
/* Decisions                                                           */

/* What the adapter is asked to allow. */
typedef struct {
    const char         *adapter;   /* "nginx", "pam", "pg", "aimctl" */
    const char         *action;    /* "GET", "login", "bind", ... */
    const char         *resource;  /* "/kb/42", "account root", ... */
    const char         *client;    /* remote address, tty, NULL */
    const char *const  *scopes;    /* required scopes */
    size_t              nscopes;
    int                 any;       /* 1: any one of scopes suffices */
    int                 dpop;      /* 1: the adapter checks a DPoP proof
                                    * (aim_dpop_verify) before granting.
                                    * 0: tokens bound to a key (cnf.jkt)
                                    * are refused with AIM_BAD_BINDING, so a
                                    * stolen sender-constrained token is not
                                    * a bearer token anywhere. */
} aim_request;

/*
 * Is every required scope (or, with any, at least one) among the token's
 * effective scopes?  AIM_OK or AIM_INSUFFICIENT_SCOPE with the missing
 * scope in the message.
 */
aim_status aim_authorize(const aim_token *t, const aim_request *req,
                         aim_error *err);

/*
 * The whole decision: verify (cached) -> authorize -> audit.  One audit
 * line is written whatever the outcome.  When the token verified, *out
 * receives it even if the decision is a denial (so adapters can expose
 * the agent id of a refused request); the caller frees it.
 */
aim_status aim_decide(aim_verifier *v, const char *token, size_t len,
                      const aim_request *req, aim_token **out,
                      aim_error *err);

/* The same for a token verified earlier (re-check, then authorize). */
aim_status aim_decide_token(aim_verifier *v, const aim_token *t,
                            const aim_request *req, aim_error *err);

/*
 * Write one audit line for a decision the adapter took itself (session
 * open/close, role switch).  status AIM_OK means "allow".  t may be NULL.
 */
void aim_audit(aim_verifier *v, const aim_request *req, const aim_token *t,
               aim_status status, const char *message);

/* ------------------------------------------------------------------ */
/* DPoP (RFC 9449) proofs                                              */

typedef struct {
    const char *method;        /* HTTP method of the request */
    const char *url;           /* target URI without query and fragment */
    int64_t     max_age;       /* seconds a proof's iat may lie in the past */
} aim_dpop_request;

/*
 * Verify a DPoP proof for an access token already verified as t: the
 * proof's typ "dpop+jwt", its embedded public "jwk" (never a private key)
 * and signature, htm, htu, iat within max_age (plus leeway), ath =
 * SHA-256 of the access token (token is required), and the JWK
 * thumbprint equal to t's cnf.jkt.  On success jti_hash receives
 * SHA-256(jkt || jti) of the proof, for the adapter's replay cache.
 */
aim_status aim_dpop_verify(aim_verifier *v, const char *proof, size_t proof_len,
                           const char *token, size_t token_len,
                           const aim_token *t, const aim_dpop_request *req,
                           unsigned char jti_hash[32], aim_error *err);

#ifdef __cplusplus
}
#endif

#endif /* AIM_H */
