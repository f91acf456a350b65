/*
 * internal.h -- the core's private structures, shared by its units.
 * Adapters never include this file.
 */
#ifndef AIM_INTERNAL_H
#define AIM_INTERNAL_H

#include <sys/stat.h>
#include <jansson.h>
#include "aim.h"
#include "jws.h"
#include "keys.h"
#include "policy.h"
#include "revoke.h"
#include "state.h"
#include "status.h"

#define AIM_MAX_KEY_SOURCES 8

/* The option table's indexes (options.c). */
enum {
    AIM_OPT_KEYS = 0,
    AIM_OPT_ISSUER,
    AIM_OPT_AUDIENCE,
    AIM_OPT_LEEWAY,
    AIM_OPT_MAX_LIFETIME,
    AIM_OPT_TYPES,
    AIM_OPT_REVOKED,
    AIM_OPT_POLICY,
    AIM_OPT_AUDIT,
    AIM_OPT_CACHE,
    AIM_OPT_STATUS_LIST,
    AIM_OPT_STATE,
    AIM_OPT_TRUST_MIN,
    AIM_OPT_RELOAD_INTERVAL,
    AIM_OPT_DPOP_MAX_AGE,
    AIM_OPT_SSF_KEYS,
    AIM_OPT_SSF_ISSUER,
    AIM_OPT_SSF_AUDIENCE,
    AIM_OPT_SSF_MAX_AGE,
    AIM_OPT_SSF_SIGN_KEY,
    AIM_OPT_SSF_PUBLISH_ISSUER,
    AIM_OPT_SSF_PUBLISH_AUDIENCE,
    AIM_OPT_STRICT_MODES,
    AIM_OPT_COUNT
};

/* Where an option's value came from: a direct value beats the file's. */
enum { AIM_ORIGIN_DEFAULT = 0, AIM_ORIGIN_FILE, AIM_ORIGIN_DIRECT };

struct aim_config {
    char    *keys[AIM_MAX_KEY_SOURCES];
    char    *key_issuers[AIM_MAX_KEY_SOURCES];  /* "ISSUER PATH"; NULL */
    size_t   nkeys;
    char    *issuers[AIM_MAX_ISSUERS];
    size_t   nissuers;
    char    *audience;
    char    *types[AIM_MAX_TYPES];      /* normalised: lower case, no
                                         * "application/" */
    size_t   ntypes;
    char    *revoked;
    char    *policy;
    char    *audit;
    int64_t  leeway;
    int64_t  max_lifetime;
    int64_t  reload_interval;
    size_t   cache;
    char    *state;
    int      trust_min;
    char    *status_uris[AIM_MAX_STATUS_LISTS];   /* "status_list URI PATH" */
    char    *status_paths[AIM_MAX_STATUS_LISTS];
    size_t   nstatus;
    int64_t  dpop_max_age;
    /* Shared signals (ssf.c): the transmitters this host receives from,
     * and what it publishes as. */
    char    *ssf_keys[AIM_MAX_KEY_SOURCES];
    char    *ssf_key_issuers[AIM_MAX_KEY_SOURCES];
    size_t   nssf_keys;
    char    *ssf_issuers[AIM_SSF_MAX_ISSUERS];
    size_t   nssf_issuers;
    char    *ssf_audiences[AIM_SSF_MAX_AUDIENCES];
    size_t   nssf_audiences;
    int64_t  ssf_max_age;
    char    *ssf_sign_key;
    char    *ssf_publish_issuer;
    char    *ssf_publish_audience;
    int      strict_modes;              /* check files' owners and modes */
    unsigned char origin[AIM_OPT_COUNT];
};

struct aim_token {
    int            refs;
    const char    *text;              /* the claims' JSON as signed */
    size_t         text_len;
    json_t        *claims;            /* jansson's reading of text, made on
                                       * first use by aim_token_claim */
    /* The strings below live in one block after the structure. */
    const char    *agent;             /* act.sub, or subject */
    const char    *subject;
    const char    *owner;
    const char    *issuer;
    const char    *jti;
    const char    *kid;
    const char    *chain;             /* "act>...>sub", or subject */
    const char    *cnf_jkt;
    const char    *cnf_x5t;           /* cnf "x5t#S256" */
    unsigned       cnf_other:1;       /* a cnf method no adapter checks */
    char          *scope;             /* effective scopes, joined */
    size_t         nscopes;
    aim_alg        alg;
    int64_t        exp;
    int64_t        iat;
    int64_t        nbf;
    unsigned char  key_fp[32];        /* the verifying key's fingerprint */
    unsigned char  hash[32];          /* SHA-256 of the compact token: a
                                       * DPoP proof's ath is checked
                                       * against the token decided */
    unsigned       hashed:1;
    const char    *status_uri;        /* status.status_list, if present */
    uint64_t       status_idx;
    char         **scopes;            /* nscopes of them, in the block */
};

typedef struct {
    unsigned char  hash[32];
    aim_token     *token;
    uint64_t       generation;
} aim_cache_entry;

typedef struct {
    aim_cache_entry *slots;
    size_t           mask;         /* slots - 1; 0 slots = off */
} aim_cache;

/* Where audit lines go: the adapter's callback and the "audit" file. */
typedef struct {
    aim_audit_fn  fn;
    void         *ud;
    int           fd;               /* the audit file, or -1 */
} aim_audit_sink;

/* Open the audit file at path (NULL: none) to append to, creating it
 * 0640.  AIM_CONFIG errors name the option. */
aim_status aim_audit_open(aim_audit_sink *s, const char *path, aim_error *err);
void aim_audit_close(aim_audit_sink *s);
/* line (len bytes; line[len] is written to and restored) to the callback
 * and, in one write() so that lines from many processes never mix, to
 * the file: 0, or -1 with errno when the file could not be written. */
int aim_audit_write(const aim_audit_sink *s, char *line, size_t len);

struct aim_verifier {
    struct aim_config  cfg;
    aim_keyset        *keys;
    struct stat        key_st[AIM_MAX_KEY_SOURCES];
    aim_revlist       *revoked;
    struct stat        rev_st;
    char               rev_error[200]; /* the list cannot be re-read:
                                        * refuse every token (fail closed) */
    int                auto_refresh;   /* aim_verify refreshes (default) */
    aim_policy        *policy;
    struct stat        pol_st;
    int64_t            last_refresh;
    uint64_t           generation;   /* bumped when keys/lists change */
    aim_cache          cache;
    EVP_MD_CTX        *cache_md;     /* SHA-256 of tokens, for the cache */
    aim_jws_cache      jws_cache;    /* the last header that parsed */
    aim_audit_sink     audit;
    aim_log_fn         log;
    void              *log_ud;
    aim_state         *state;
    aim_statuslist     status[AIM_MAX_STATUS_LISTS];
    struct aim_journal *journal;     /* opened when a signal is first
                                      * recorded (ssf.c) */
    int64_t            journal_retry; /* after a failed open: not before */
};

/* options.c */
void aim_config_defaults(aim_config *cfg);
void aim_config_clear(aim_config *cfg);
/* A deep copy: 0, or -1 (out of memory) with dst cleared. */
int aim_config_copy(aim_config *dst, const aim_config *src);
/* aim_config_load's parser on text (len bytes and a NUL after them,
 * modified in place); name stands for the file in messages. */
aim_status aim_config_parse(aim_config *cfg, const char *name, char *text,
                            size_t len, aim_error *err);

/* verify.c: the steps of a decision (decide.c strings them together). */
aim_status aim_recheck(aim_verifier *v, const aim_token *t, aim_error *err);
aim_status aim_authorize(const aim_token *t, const aim_request *req,
                         aim_error *err);

/* dpop.c */
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
 * SHA-256(jkt || jti) of the proof, for the replay store.
 */
aim_status aim_dpop_verify(aim_verifier *v, const char *proof, size_t proof_len,
                           const char *token, size_t token_len,
                           const aim_token *t, const aim_dpop_request *req,
                           unsigned char jti_hash[32], aim_error *err);
/* The same with the access token given by its SHA-256 (NULL: none). */
aim_status aim_dpop_verify_hash(aim_verifier *v, const char *proof,
                                size_t proof_len,
                                const unsigned char *token_hash,
                                const aim_token *t,
                                const aim_dpop_request *req,
                                unsigned char jti_hash[32], aim_error *err);

/*
 * claims.c: validate the claims (text, len bytes of JSON) and build the
 * token, its kid set; the token keeps a copy of text.
 */
aim_status aim_claims_to_token(const struct aim_config *cfg,
                               const unsigned char *text, size_t len,
                               const char *kid, aim_token **out,
                               aim_error *err);
aim_status aim_check_time(const struct aim_config *cfg, const aim_token *t,
                          int64_t now, aim_error *err);
/* Apply local policy to the token's scopes (in place). */
aim_status aim_token_apply_policy(aim_token *t, const aim_policy *p,
                                  aim_error *err);

/* cache.c */
int aim_cache_init(aim_cache *c, size_t entries);
void aim_cache_free(aim_cache *c);
aim_token *aim_cache_get(aim_cache *c, const unsigned char hash[32],
                         uint64_t generation);
void aim_cache_put(aim_cache *c, const unsigned char hash[32],
                   aim_token *t, uint64_t generation);
void aim_cache_flush(aim_cache *c);

/* audit.c */
/* One line: decision is "allow", "deny" or "note" by status and note;
 * trust < 0 leaves trust and signal out. */
void aim_audit_emit(aim_verifier *v, const aim_request *req,
                    const aim_token *t, aim_status status, int note,
                    const char *message, double trust, const char *signal);
size_t aim_audit_format(char *buf, size_t size, const aim_request *req,
                        const aim_token *t, aim_status status, int note,
                        const char *message, int64_t now);

/* One line for a Security Event Token received (ssf.c). */
size_t aim_audit_format_ssf(char *buf, size_t size, const aim_ssf_result *r,
                            int64_t now);

/*
 * The key sources of option keys (AIM_OPT_KEYS, signed for the issuers
 * of "issuer") or ssf_keys (AIM_OPT_SSF_KEYS, for the transmitters of
 * "ssf_issuer"), as configured: views into cfg.
 */
typedef struct {
    const char  *option;          /* "keys", "ssf_keys" */
    const char  *issuer_option;   /* "issuer", "ssf_issuer" */
    const char  *signer;          /* who signs: "issuer", "transmitter" */
    char *const *specs;           /* JWKS paths or pem: specs */
    char *const *bound;           /* the issuer each is bound to, or NULL */
    size_t       n;
    char *const *issuers;
    size_t       nissuers;
} aim_key_sources;

aim_key_sources aim_config_key_sources(const aim_config *cfg, int opt);
/* Every source bound to a configured issuer, or unbound with only one. */
aim_status aim_key_sources_check(const aim_key_sources *ks, aim_error *err);
/*
 * Every source loaded into one set, each key bound to its issuer (the
 * only one for an unbound source; NULL: not bound).  strict: a file
 * aim_file_check refuses is refused.  st[i] receives fstat() of what was
 * read from source i; *failed (when not NULL) the index of the source
 * that failed, sources after it unread.  AIM_CONFIG errors.
 */
aim_keyset *aim_key_sources_load(const aim_key_sources *ks, int strict,
                                 struct stat *st, size_t *failed,
                                 aim_error *err);

/* A message to the verifier's log sink (aim_logf). */
#define aim_vlog(v, ...)  aim_logf((v)->log, (v)->log_ud, __VA_ARGS__)

#endif
