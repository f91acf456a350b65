/*
 * internal.h -- the core's private structures, shared by its units.
 * Adapters never include this file.
 */
#ifndef AIM_INTERNAL_H
#define AIM_INTERNAL_H

#include <sys/stat.h>
#include <jansson.h>
#include "aim.h"
#include "keys.h"
#include "policy.h"
#include "revoke.h"
#include "state.h"
#include "status.h"

#define AIM_MAX_KEY_SOURCES 8

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
};

struct aim_token {
    int            refs;
    json_t        *claims;
    char          *agent;
    char          *subject;
    char          *owner;
    char          *issuer;
    char          *jti;
    char          *kid;
    char          *chain;
    char          *cnf_jkt;
    char          *scope;             /* effective scopes, joined */
    char          *scopes[AIM_MAX_SCOPES];
    size_t         nscopes;
    aim_alg        alg;
    int64_t        exp;
    int64_t        iat;
    int64_t        nbf;
    unsigned char  key_fp[32];        /* the verifying key's fingerprint */
    char          *status_uri;        /* status.status_list, if present */
    uint64_t       status_idx;
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

struct aim_verifier {
    struct aim_config  cfg;
    aim_keyset        *keys;
    struct stat        key_st[AIM_MAX_KEY_SOURCES];
    aim_revlist       *revoked;
    struct stat        rev_st;
    aim_policy        *policy;
    struct stat        pol_st;
    int64_t            last_refresh;
    uint64_t           generation;   /* bumped when keys/lists change */
    aim_cache          cache;
    int                audit_fd;
    aim_log_fn         log;
    void              *log_ud;
    aim_audit_fn       audit;
    void              *audit_ud;
    aim_state         *state;
    aim_statuslist     status[AIM_MAX_STATUS_LISTS];
    double             audit_trust;  /* < 0: no trust in this audit line */
    const char        *audit_signal;
};

/* claims.c: validate a claims object and build the token. */
aim_status aim_claims_to_token(const struct aim_config *cfg, json_t *claims,
                               aim_token **out, aim_error *err);
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
void aim_audit_emit(aim_verifier *v, const aim_request *req,
                    const aim_token *t, aim_status status,
                    const char *message);
size_t aim_audit_format(char *buf, size_t size, const aim_request *req,
                        const aim_token *t, aim_status status,
                        const char *message, int64_t now);

void aim_vlog(aim_verifier *v, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
