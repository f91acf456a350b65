
/*
 * ngx_http_aim_module -- agent least privilege for APIs behind nginx.
 *
 * Glue between nginx and libaim: the configuration becomes one aim_verifier
 * per distinct set of options (built at configuration time, so a bad key
 * file fails "nginx -t"); the token is taken from the Authorization header,
 * verified once per request (lazily, so that $aim_agent can key limit_req,
 * which runs before the access phase) and the decision is taken in the
 * access phase, like nginx's own auth modules.  Every security decision is
 * the core's; this file only reads nginx's configuration, extracts the
 * token and the action, and answers the RFC 6750 / RFC 9449 way.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "aim.h"


#define NGX_HTTP_AIM_DPOP_OFF       0
#define NGX_HTTP_AIM_DPOP_ON        1
#define NGX_HTTP_AIM_DPOP_REQUIRED  2

#define NGX_HTTP_AIM_NONE           0
#define NGX_HTTP_AIM_BEARER         1
#define NGX_HTTP_AIM_DPOP           2

/* how a directive's arguments become the core's option value */
#define NGX_HTTP_AIM_STRING         0
#define NGX_HTTP_AIM_PATH           1
#define NGX_HTTP_AIM_KEYS           2
#define NGX_HTTP_AIM_STATUS_LIST    3
#define NGX_HTTP_AIM_TIME           4
#define NGX_HTTP_AIM_NUMBER         5
#define NGX_HTTP_AIM_LIST           6
#define NGX_HTTP_AIM_AUDIT          7

#define NGX_HTTP_AIM_DPOP_ALGS      "ES256 ES384 EdDSA RS256 PS256"

#define NGX_HTTP_AIM_REPLAY_PROBES  32


extern ngx_module_t  ngx_http_rewrite_module;


typedef struct {
    char                       *option;     /* the core's option name */
    ngx_uint_t                  kind;
    ngx_uint_t                  multi;
} ngx_http_aim_option_spec_t;


/* One directive's value, as the core takes it, and where it was written. */
typedef struct {
    ngx_str_t                   value;      /* null-terminated */
    ngx_str_t                   path;       /* the file it names, if any */
    ngx_str_t                   directive;
    ngx_str_t                   file;
    ngx_uint_t                  line;
} ngx_http_aim_option_t;


typedef struct {
    aim_verifier               *verifier;
    ngx_str_t                   signature;
    ngx_log_t                  *log;        /* where the core writes now */
    time_t                      leeway;
    unsigned                    audit_to_log:1;
} ngx_http_aim_verifier_t;


typedef struct {
    ngx_http_complex_value_t    value;
    char                       *fixed;      /* no variables: checked once */
} ngx_http_aim_scope_t;


/* The DPoP replay cache: an open-addressed table in shared memory. */
typedef struct {
    u_char                      hash[16];
    uint32_t                    expires;
} ngx_http_aim_replay_slot_t;


typedef struct {
    ngx_uint_t                  nslots;
    ngx_http_aim_replay_slot_t  slots[1];
} ngx_http_aim_replay_sh_t;


typedef struct {
    ngx_http_aim_replay_sh_t   *sh;
    ngx_slab_pool_t            *shpool;
} ngx_http_aim_replay_t;


typedef struct {
    ngx_array_t                 verifiers;  /* ngx_http_aim_verifier_t * */
    size_t                      replay_size;
    ngx_shm_zone_t             *replay_zone;
    ngx_uint_t                  dpop_used;
} ngx_http_aim_main_conf_t;


typedef struct {
    ngx_flag_t                  enable;
    ngx_http_aim_option_t      *enable_site;

    /* the core's options: arrays of ngx_http_aim_option_t */
    ngx_array_t                *keys;
    ngx_array_t                *issuers;
    ngx_array_t                *audience;
    ngx_array_t                *leeway;
    ngx_array_t                *max_lifetime;
    ngx_array_t                *types;
    ngx_array_t                *revoked;
    ngx_array_t                *policy;
    ngx_array_t                *audit;
    ngx_array_t                *cache;
    ngx_array_t                *status_lists;
    ngx_array_t                *state;
    ngx_array_t                *trust_min;
    ngx_array_t                *reload_interval;

    ngx_array_t                *scopes;     /* ngx_http_aim_scope_t */
    ngx_flag_t                  scope_any;

    ngx_uint_t                  dpop;
    time_t                      dpop_max_age;
    ngx_http_complex_value_t   *dpop_origin;

    ngx_str_t                   realm;
    ngx_str_t                   resource_metadata;
    ngx_flag_t                  bypass_preflight;

    ngx_http_aim_verifier_t    *verifier;
} ngx_http_aim_loc_conf_t;


typedef struct {
    ngx_http_aim_verifier_t    *verifier;   /* what the result belongs to */
    ngx_uint_t                  dpop;
    ngx_uint_t                  scheme;
    aim_token                  *token;
    aim_status                  status;     /* verification and proof */
    aim_status                  decision;   /* AIM_STATUS_MAX: none yet */
    unsigned                    identified:1;
    unsigned                    proof_error:1;
    unsigned                    proof_recorded:1;
    u_char                      proof_hash[32];
    char                        message[sizeof(((aim_error *) 0)->message)];
} ngx_http_aim_ctx_t;


typedef struct {
    ngx_str_t                   name;
    ngx_uint_t                  field;
} ngx_http_aim_var_t;

enum {
    NGX_HTTP_AIM_VAR_AGENT = 0,
    NGX_HTTP_AIM_VAR_SUBJECT,
    NGX_HTTP_AIM_VAR_OWNER,
    NGX_HTTP_AIM_VAR_ISSUER,
    NGX_HTTP_AIM_VAR_SCOPE,
    NGX_HTTP_AIM_VAR_JTI,
    NGX_HTTP_AIM_VAR_CHAIN
};


static ngx_int_t ngx_http_aim_access_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_aim_preflight(ngx_http_request_t *r);
static ngx_int_t ngx_http_aim_join(ngx_http_request_t *r, const char **scopes,
    size_t n, ngx_str_t *out);
static const char *ngx_http_aim_method(ngx_http_request_t *r);
static ngx_http_aim_ctx_t *ngx_http_aim_verify(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf);
static void ngx_http_aim_check_proof(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf, ngx_http_aim_ctx_t *ctx, u_char *token,
    size_t len);
static char *ngx_http_aim_dpop_url(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf);
static ngx_int_t ngx_http_aim_replay(ngx_http_request_t *r, u_char *hash,
    time_t ttl);
static ngx_int_t ngx_http_aim_deny(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf, ngx_http_aim_ctx_t *ctx, aim_status s,
    ngx_str_t *scope);
static u_char *ngx_http_aim_quoted(u_char *p, ngx_str_t *s);
static ngx_int_t ngx_http_aim_challenge(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf, ngx_uint_t scheme, const char *error,
    const char *reason, ngx_str_t *scope);
static ngx_http_aim_ctx_t *ngx_http_aim_get_ctx(ngx_http_request_t *r);
static void ngx_http_aim_ctx_cleanup(void *data);
static void ngx_http_aim_token_cleanup(void *data);
static void ngx_http_aim_enter(ngx_http_aim_verifier_t *av, ngx_log_t *log);
static void ngx_http_aim_log(void *ud, int level, const char *msg);
static void ngx_http_aim_audit_line(void *ud, const char *line);
static char *ngx_http_aim_cstr(ngx_pool_t *pool, ngx_str_t *s);

static ngx_http_aim_ctx_t *ngx_http_aim_variable_ctx(ngx_http_request_t *r);
static ngx_int_t ngx_http_aim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aim_reason_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aim_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aim_set_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, const char *s, ngx_uint_t copy);

static ngx_int_t ngx_http_aim_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_aim_init(ngx_conf_t *cf);
static void *ngx_http_aim_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_aim_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_aim_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_aim_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_http_aim_verifier_t *ngx_http_aim_get_verifier(ngx_conf_t *cf,
    ngx_http_aim_loc_conf_t *alcf);
static void ngx_http_aim_config_error(ngx_conf_t *cf,
    ngx_http_aim_loc_conf_t *alcf, aim_error *err);
static void ngx_http_aim_verifier_cleanup(void *data);
static void ngx_http_aim_check_return(ngx_conf_t *cf,
    ngx_http_aim_loc_conf_t *alcf);
static ngx_int_t ngx_http_aim_init_replay_zone(ngx_shm_zone_t *shm_zone,
    void *data);

static char *ngx_http_aim(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_aim_set_option(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_aim_scope(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_aim_dpop(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_aim_set_param(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_aim_scope_valid(u_char *p, size_t len);


static ngx_http_aim_option_spec_t  ngx_http_aim_keys_spec =
    { "keys", NGX_HTTP_AIM_KEYS, 1 };
static ngx_http_aim_option_spec_t  ngx_http_aim_issuer_spec =
    { "issuer", NGX_HTTP_AIM_STRING, 1 };
static ngx_http_aim_option_spec_t  ngx_http_aim_audience_spec =
    { "audience", NGX_HTTP_AIM_STRING, 0 };
static ngx_http_aim_option_spec_t  ngx_http_aim_leeway_spec =
    { "leeway", NGX_HTTP_AIM_TIME, 0 };
static ngx_http_aim_option_spec_t  ngx_http_aim_max_lifetime_spec =
    { "max_lifetime", NGX_HTTP_AIM_TIME, 0 };
static ngx_http_aim_option_spec_t  ngx_http_aim_types_spec =
    { "types", NGX_HTTP_AIM_LIST, 0 };
static ngx_http_aim_option_spec_t  ngx_http_aim_revoked_spec =
    { "revoked", NGX_HTTP_AIM_PATH, 0 };
static ngx_http_aim_option_spec_t  ngx_http_aim_policy_spec =
    { "policy", NGX_HTTP_AIM_PATH, 0 };
static ngx_http_aim_option_spec_t  ngx_http_aim_audit_spec =
    { "audit", NGX_HTTP_AIM_AUDIT, 0 };
static ngx_http_aim_option_spec_t  ngx_http_aim_cache_spec =
    { "cache", NGX_HTTP_AIM_NUMBER, 0 };
static ngx_http_aim_option_spec_t  ngx_http_aim_status_list_spec =
    { "status_list", NGX_HTTP_AIM_STATUS_LIST, 1 };
static ngx_http_aim_option_spec_t  ngx_http_aim_state_spec =
    { "state", NGX_HTTP_AIM_PATH, 0 };
static ngx_http_aim_option_spec_t  ngx_http_aim_trust_min_spec =
    { "trust_min", NGX_HTTP_AIM_NUMBER, 0 };
static ngx_http_aim_option_spec_t  ngx_http_aim_reload_interval_spec =
    { "reload_interval", NGX_HTTP_AIM_TIME, 0 };


#define NGX_HTTP_AIM_CONF                                                    \
    NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF

static ngx_command_t  ngx_http_aim_commands[] = {

    { ngx_string("aim"),
      NGX_HTTP_AIM_CONF|NGX_CONF_FLAG,
      ngx_http_aim,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, enable),
      NULL },

    { ngx_string("aim_keys"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE12,
      ngx_http_aim_set_option,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, keys),
      &ngx_http_aim_keys_spec },

    { ngx_string("aim_issuer"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE1,
      ngx_http_aim_set_option,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, issuers),
      &ngx_http_aim_issuer_spec },

    { ngx_string("aim_audience"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE1,
      ngx_http_aim_set_option,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, audience),
      &ngx_http_aim_audience_spec },

    { ngx_string("aim_leeway"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE1,
      ngx_http_aim_set_option,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, leeway),
      &ngx_http_aim_leeway_spec },

    { ngx_string("aim_max_lifetime"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE1,
      ngx_http_aim_set_option,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, max_lifetime),
      &ngx_http_aim_max_lifetime_spec },

    { ngx_string("aim_types"),
      NGX_HTTP_AIM_CONF|NGX_CONF_1MORE,
      ngx_http_aim_set_option,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, types),
      &ngx_http_aim_types_spec },

    { ngx_string("aim_revoked"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE1,
      ngx_http_aim_set_option,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, revoked),
      &ngx_http_aim_revoked_spec },

    { ngx_string("aim_policy"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE1,
      ngx_http_aim_set_option,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, policy),
      &ngx_http_aim_policy_spec },

    { ngx_string("aim_audit"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE1,
      ngx_http_aim_set_option,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, audit),
      &ngx_http_aim_audit_spec },

    { ngx_string("aim_cache"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE1,
      ngx_http_aim_set_option,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, cache),
      &ngx_http_aim_cache_spec },

    { ngx_string("aim_status_list"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE2,
      ngx_http_aim_set_option,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, status_lists),
      &ngx_http_aim_status_list_spec },

    { ngx_string("aim_state"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE1,
      ngx_http_aim_set_option,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, state),
      &ngx_http_aim_state_spec },

    { ngx_string("aim_trust_min"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE1,
      ngx_http_aim_set_option,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, trust_min),
      &ngx_http_aim_trust_min_spec },

    { ngx_string("aim_reload_interval"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE1,
      ngx_http_aim_set_option,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, reload_interval),
      &ngx_http_aim_reload_interval_spec },

    { ngx_string("aim_scope"),
      NGX_HTTP_AIM_CONF|NGX_CONF_1MORE,
      ngx_http_aim_scope,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("aim_scope_any"),
      NGX_HTTP_AIM_CONF|NGX_CONF_1MORE,
      ngx_http_aim_scope,
      NGX_HTTP_LOC_CONF_OFFSET,
      1,
      NULL },

    { ngx_string("aim_dpop"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE1,
      ngx_http_aim_dpop,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, dpop),
      NULL },

    { ngx_string("aim_dpop_max_age"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, dpop_max_age),
      NULL },

    { ngx_string("aim_dpop_origin"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, dpop_origin),
      NULL },

    { ngx_string("aim_dpop_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_aim_main_conf_t, replay_size),
      NULL },

    { ngx_string("aim_realm"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE1,
      ngx_http_aim_set_param,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, realm),
      NULL },

    { ngx_string("aim_resource_metadata"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE1,
      ngx_http_aim_set_param,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, resource_metadata),
      NULL },

    { ngx_string("aim_bypass_preflight"),
      NGX_HTTP_AIM_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, bypass_preflight),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_aim_module_ctx = {
    ngx_http_aim_add_variables,            /* preconfiguration */
    ngx_http_aim_init,                     /* postconfiguration */

    ngx_http_aim_create_main_conf,         /* create main configuration */
    ngx_http_aim_init_main_conf,           /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_aim_create_loc_conf,          /* create location configuration */
    ngx_http_aim_merge_loc_conf            /* merge location configuration */
};


ngx_module_t  ngx_http_aim_module = {
    NGX_MODULE_V1,
    &ngx_http_aim_module_ctx,              /* module context */
    ngx_http_aim_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_aim_vars[] = {

    { ngx_string("aim_agent"), NULL, ngx_http_aim_variable,
      NGX_HTTP_AIM_VAR_AGENT, 0, 0 },

    { ngx_string("aim_subject"), NULL, ngx_http_aim_variable,
      NGX_HTTP_AIM_VAR_SUBJECT, 0, 0 },

    { ngx_string("aim_owner"), NULL, ngx_http_aim_variable,
      NGX_HTTP_AIM_VAR_OWNER, 0, 0 },

    { ngx_string("aim_issuer"), NULL, ngx_http_aim_variable,
      NGX_HTTP_AIM_VAR_ISSUER, 0, 0 },

    { ngx_string("aim_scope"), NULL, ngx_http_aim_variable,
      NGX_HTTP_AIM_VAR_SCOPE, 0, 0 },

    { ngx_string("aim_jti"), NULL, ngx_http_aim_variable,
      NGX_HTTP_AIM_VAR_JTI, 0, 0 },

    { ngx_string("aim_chain"), NULL, ngx_http_aim_variable,
      NGX_HTTP_AIM_VAR_CHAIN, 0, 0 },

    { ngx_string("aim_reason"), NULL, ngx_http_aim_reason_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aim_claim_"), NULL, ngx_http_aim_claim_variable,
      0, NGX_HTTP_VAR_PREFIX, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_http_aim_access_handler(ngx_http_request_t *r)
{
    size_t                    n, i;
    ngx_str_t                 value, scope;
    ngx_uint_t                invalid;
    aim_error                 err;
    aim_status                s;
    aim_request               req;
    const char              **scopes;
    ngx_http_aim_ctx_t       *ctx;
    ngx_http_aim_scope_t     *sc;
    ngx_http_aim_verifier_t  *av;
    ngx_http_aim_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aim_module);

    if (!alcf->enable) {
        return NGX_DECLINED;
    }

    if (alcf->bypass_preflight
        && r->method == NGX_HTTP_OPTIONS
        && r->headers_in.authorization == NULL
        && ngx_http_aim_preflight(r))
    {
        return NGX_DECLINED;
    }

    ctx = ngx_http_aim_verify(r, alcf);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    av = alcf->verifier;

    ngx_memzero(&req, sizeof(aim_request));
    err.status = AIM_OK;
    err.message[0] = '\0';

    req.adapter = "nginx";
    req.action = ngx_http_aim_method(r);
    req.resource = ngx_http_aim_cstr(r->pool, &r->uri);
    req.client = ngx_http_aim_cstr(r->pool, &r->connection->addr_text);

    if (req.action == NULL || req.resource == NULL || req.client == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    req.dpop = (ctx->scheme == NGX_HTTP_AIM_DPOP);
    req.any = alcf->scope_any;

    s = AIM_OK;
    scopes = NULL;
    n = 0;
    invalid = 0;

    if (alcf->scopes) {
        n = alcf->scopes->nelts;
        sc = alcf->scopes->elts;

        scopes = ngx_palloc(r->pool, n * sizeof(char *));
        if (scopes == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        for (i = 0; i < n; i++) {
            if (sc[i].fixed) {
                scopes[i] = sc[i].fixed;
                continue;
            }

            if (ngx_http_complex_value(r, &sc[i].value, &value) != NGX_OK) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            /*
             * a scope built from request data must still be one scope
             * token: an empty or odd value is refused, never skipped
             */

            if (!ngx_http_aim_scope_valid(value.data, value.len)) {
                ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                              "aim: aim_scope argument %uz evaluated to an "
                              "empty or invalid scope", i + 1);
                s = AIM_INSUFFICIENT_SCOPE;
                invalid = 1;
                ngx_cpystrn((u_char *) err.message,
                            (u_char *) "a required scope evaluated to an "
                            "empty or invalid value", sizeof(err.message));
            }

            scopes[i] = ngx_http_aim_cstr(r->pool, &value);
            if (scopes[i] == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        req.scopes = scopes;
        req.nscopes = n;
    }

    ngx_http_aim_enter(av, r->connection->log);

    if (ctx->status != AIM_OK) {
        aim_audit(av->verifier, &req, ctx->token, ctx->status, ctx->message);
        s = ctx->status;

    } else if (s != AIM_OK) {
        aim_audit(av->verifier, &req, ctx->token, s, err.message);

    } else {
        s = aim_decide_token(av->verifier, ctx->token, &req, &err);
    }

    ngx_http_aim_enter(av, NULL);

    ctx->decision = s;

    if (s == AIM_OK) {
        return NGX_OK;
    }

    ngx_str_null(&scope);

    if (s == AIM_INSUFFICIENT_SCOPE && !invalid) {
        /* the challenge's scope=: the scopes required here */
        if (ngx_http_aim_join(r, scopes, n, &scope) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_aim_deny(r, alcf, ctx, s, &scope);
}


static ngx_int_t
ngx_http_aim_join(ngx_http_request_t *r, const char **scopes, size_t n,
    ngx_str_t *out)
{
    u_char  *p;
    size_t   i, len;

    len = 0;

    for (i = 0; i < n; i++) {
        len += ngx_strlen(scopes[i]) + 1;
    }

    if (len == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ' ';
        }
        p = ngx_cpymem(p, scopes[i], ngx_strlen(scopes[i]));
    }

    out->len = p - out->data;

    return NGX_OK;
}


/* The method as a C string: a constant for the usual ones. */

static const char *
ngx_http_aim_method(ngx_http_request_t *r)
{
    switch (r->method) {
    case NGX_HTTP_GET:
        return "GET";
    case NGX_HTTP_HEAD:
        return "HEAD";
    case NGX_HTTP_POST:
        return "POST";
    case NGX_HTTP_PUT:
        return "PUT";
    case NGX_HTTP_DELETE:
        return "DELETE";
    case NGX_HTTP_PATCH:
        return "PATCH";
    case NGX_HTTP_OPTIONS:
        return "OPTIONS";
    default:
        return ngx_http_aim_cstr(r->pool, &r->method_name);
    }
}


/* A CORS preflight: OPTIONS with Origin and Access-Control-Request-Method. */

static ngx_int_t
ngx_http_aim_preflight(ngx_http_request_t *r)
{
    ngx_uint_t        i, found;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    found = 0;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Origin") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Origin",
                               h[i].key.len) == 0)
        {
            found |= 1;

        } else if (h[i].key.len == sizeof("Access-Control-Request-Method") - 1
                   && ngx_strncasecmp(h[i].key.data,
                                      (u_char *) "Access-Control-Request-Method",
                                      h[i].key.len) == 0)
        {
            found |= 2;
        }
    }

    return found == 3;
}


/*
 * Verify the request's token once: the result is kept in the request's
 * context (found again through the pool cleanup after an internal
 * redirect resets the context, as ngx_http_realip_module does), so the
 * variables, limit_req and the access phase share one verification and a
 * DPoP proof is checked, and its jti recorded, only once.
 */

static ngx_http_aim_ctx_t *
ngx_http_aim_verify(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf)
{
    size_t                    len;
    u_char                   *p, *last;
    aim_error                 err;
    aim_token                *t;
    aim_status                s;
    ngx_str_t                *value;
    ngx_pool_cleanup_t       *cln;
    ngx_http_aim_ctx_t       *ctx;
    ngx_http_aim_verifier_t  *av;

    av = alcf->verifier;

    ctx = ngx_http_aim_get_ctx(r);

    if (ctx && ctx->verifier == av && ctx->dpop == alcf->dpop) {
        ngx_http_set_ctx(r, ctx, ngx_http_aim_module);
        return ctx;
    }

    if (ctx == NULL) {
        cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_aim_ctx_t));
        if (cln == NULL) {
            return NULL;
        }

        ctx = cln->data;
        ngx_memzero(ctx, sizeof(ngx_http_aim_ctx_t));

        cln->handler = ngx_http_aim_ctx_cleanup;

    } else if (ctx->token) {

        /* variables may still point into the token verified before */

        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NULL;
        }

        cln->handler = ngx_http_aim_token_cleanup;
        cln->data = ctx->token;
        ctx->token = NULL;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_aim_module);

    ctx->verifier = av;
    ctx->dpop = alcf->dpop;
    ctx->scheme = NGX_HTTP_AIM_NONE;
    ctx->status = AIM_NO_TOKEN;
    ctx->decision = AIM_STATUS_MAX;
    ctx->identified = 0;
    ctx->proof_error = 0;
    ctx->message[0] = '\0';

    if (r->headers_in.authorization == NULL) {
        ngx_cpystrn((u_char *) ctx->message, (u_char *) "no token presented",
                    sizeof(ctx->message));
        return ctx;
    }

    value = &r->headers_in.authorization->value;
    p = value->data;
    last = p + value->len;

    /* RFC 6750 2.1: "Bearer" 1*SP b64token; the scheme is case-insensitive */

    if (value->len >= 6
        && ngx_strncasecmp(p, (u_char *) "Bearer", 6) == 0
        && (value->len == 6 || p[6] == ' '))
    {
        ctx->scheme = NGX_HTTP_AIM_BEARER;
        p += 6;

    } else if (alcf->dpop != NGX_HTTP_AIM_DPOP_OFF
               && value->len >= 4
               && ngx_strncasecmp(p, (u_char *) "DPoP", 4) == 0
               && (value->len == 4 || p[4] == ' '))
    {
        ctx->scheme = NGX_HTTP_AIM_DPOP;
        p += 4;

    } else {
        ngx_cpystrn((u_char *) ctx->message,
                    (u_char *) "no token presented (the Authorization "
                    "scheme is not accepted here)", sizeof(ctx->message));
        return ctx;
    }

    while (p < last && *p == ' ') {
        p++;
    }

    len = last - p;

    if (len == 0) {
        ctx->status = AIM_MALFORMED;
        ngx_cpystrn((u_char *) ctx->message,
                    (u_char *) "empty credentials after the scheme",
                    sizeof(ctx->message));
        return ctx;
    }

    ngx_http_aim_enter(av, r->connection->log);

    s = aim_verify(av->verifier, (const char *) p, len, &t, &err);

    ctx->token = t;
    ctx->status = s;

    if (s != AIM_OK) {
        ngx_cpystrn((u_char *) ctx->message, (u_char *) err.message,
                    sizeof(ctx->message));

    } else if (ctx->scheme == NGX_HTTP_AIM_DPOP) {
        ngx_http_aim_check_proof(r, alcf, ctx, p, len);

    } else if (aim_token_cnf_jkt(t) != NULL) {

        /* RFC 9449 7.2: a bound token presented as a bearer token */

        ctx->status = AIM_BAD_BINDING;
        ngx_cpystrn((u_char *) ctx->message,
                    (u_char *) "the token is bound to a DPoP key (cnf.jkt) "
                    "and was presented as a Bearer token",
                    sizeof(ctx->message));

    } else if (alcf->dpop == NGX_HTTP_AIM_DPOP_REQUIRED) {
        ctx->status = AIM_BAD_BINDING;
        ngx_cpystrn((u_char *) ctx->message,
                    (u_char *) "this location requires a DPoP-bound token "
                    "(Authorization: DPoP)", sizeof(ctx->message));
    }

    ngx_http_aim_enter(av, NULL);

    ctx->identified = (ctx->status == AIM_OK);

    return ctx;
}


static void
ngx_http_aim_check_proof(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf,
    ngx_http_aim_ctx_t *ctx, u_char *token, size_t len)
{
    u_char             hash[32];
    ngx_int_t          rc;
    ngx_uint_t         i, n;
    aim_error          err;
    aim_status         s;
    ngx_str_t          proof;
    ngx_list_part_t   *part;
    ngx_table_elt_t   *h;
    aim_dpop_request   req;

    n = 0;
    ngx_str_null(&proof);

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("DPoP") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "DPoP", 4) == 0)
        {
            proof = h[i].value;
            n++;
        }
    }

    if (aim_token_cnf_jkt(ctx->token) == NULL) {
        ctx->status = AIM_BAD_BINDING;
        ngx_cpystrn((u_char *) ctx->message,
                    (u_char *) "the DPoP scheme was used with a token that "
                    "is not bound to a key (no cnf.jkt)",
                    sizeof(ctx->message));
        return;
    }

    ctx->proof_error = 1;

    if (n != 1) {
        ctx->status = AIM_BAD_BINDING;
        ngx_cpystrn((u_char *) ctx->message,
                    (u_char *) (n ? "more than one DPoP proof header"
                                  : "no DPoP proof header"),
                    sizeof(ctx->message));
        return;
    }

    req.method = ngx_http_aim_cstr(r->pool, &r->main->method_name);
    req.url = ngx_http_aim_dpop_url(r, alcf);
    req.max_age = alcf->dpop_max_age;

    if (req.method == NULL || req.url == NULL) {
        ctx->status = AIM_INTERNAL;
        ngx_cpystrn((u_char *) ctx->message,
                    (u_char *) "cannot build the request URL for the DPoP "
                    "proof", sizeof(ctx->message));
        return;
    }

    s = aim_dpop_verify(ctx->verifier->verifier, (const char *) proof.data,
                        proof.len, (const char *) token, len, ctx->token, &req,
                        hash, &err);

    if (s != AIM_OK) {
        ctx->status = s;
        ngx_cpystrn((u_char *) ctx->message, (u_char *) err.message,
                    sizeof(ctx->message));
        return;
    }

    if (ctx->proof_recorded && ngx_memcmp(ctx->proof_hash, hash, 32) == 0) {
        ctx->proof_error = 0;
        return;
    }

    rc = ngx_http_aim_replay(r, hash,
                             alcf->dpop_max_age + 2 * ctx->verifier->leeway);

    if (rc == NGX_DECLINED) {
        ctx->status = AIM_REPLAY;
        ngx_cpystrn((u_char *) ctx->message,
                    (u_char *) "the DPoP proof was used before (jti)",
                    sizeof(ctx->message));
        return;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "aim: the DPoP replay cache is full, refusing proofs; "
                      "raise aim_dpop_cache");
        ctx->status = AIM_INTERNAL;
        ngx_cpystrn((u_char *) ctx->message,
                    (u_char *) "the DPoP replay cache is full",
                    sizeof(ctx->message));
        return;
    }

    ngx_memcpy(ctx->proof_hash, hash, 32);
    ctx->proof_recorded = 1;
    ctx->proof_error = 0;
}


/*
 * The htu a client signs: scheme://host[:port]/path without the query,
 * from the original request (not the URI after rewrites or redirects),
 * or aim_dpop_origin + path behind a TLS terminator.
 */

static char *
ngx_http_aim_dpop_url(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf)
{
    u_char              *p, *url;
    ngx_str_t            origin, host, path, scheme;
    ngx_http_request_t  *mr;

    mr = r->main;

    path = mr->unparsed_uri;

    p = ngx_strlchr(path.data, path.data + path.len, '?');
    if (p) {
        path.len = p - path.data;
    }

    if (alcf->dpop_origin) {
        if (ngx_http_complex_value(r, alcf->dpop_origin, &origin) != NGX_OK) {
            return NULL;
        }

        while (origin.len && origin.data[origin.len - 1] == '/') {
            origin.len--;
        }

        url = ngx_pnalloc(r->pool, origin.len + path.len + 1);
        if (url == NULL) {
            return NULL;
        }

        p = ngx_cpymem(url, origin.data, origin.len);
        p = ngx_cpymem(p, path.data, path.len);
        *p = '\0';

        return (char *) url;
    }

    ngx_str_set(&scheme, "http://");

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        ngx_str_set(&scheme, "https://");
    }
#endif

    if (mr->headers_in.host) {
        host = mr->headers_in.host->value;

    } else {
        host = mr->headers_in.server;
    }

    if (host.len == 0) {
        return NULL;
    }

    /* The core normalises both sides (case, default port) before comparing. */

    url = ngx_pnalloc(r->pool, scheme.len + host.len + path.len + 1);
    if (url == NULL) {
        return NULL;
    }

    p = ngx_cpymem(url, scheme.data, scheme.len);
    p = ngx_cpymem(p, host.data, host.len);
    p = ngx_cpymem(p, path.data, path.len);
    *p = '\0';

    return (char *) url;
}


/*
 * Record a proof's jti hash in the shared replay cache: NGX_OK when it is
 * new, NGX_DECLINED when it was seen and has not expired, NGX_BUSY when no
 * slot is free near its home (the cache refuses rather than forgets).
 */

static ngx_int_t
ngx_http_aim_replay(ngx_http_request_t *r, u_char *hash, time_t ttl)
{
    time_t                       now;
    uint64_t                     home;
    ngx_uint_t                   i, n;
    ngx_http_aim_replay_t       *rp;
    ngx_http_aim_replay_sh_t    *sh;
    ngx_http_aim_main_conf_t    *amcf;
    ngx_http_aim_replay_slot_t  *slot, *free;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_aim_module);

    if (amcf->replay_zone == NULL) {
        return NGX_ERROR;
    }

    rp = amcf->replay_zone->data;
    sh = rp->sh;
    n = sh->nslots;

    now = ngx_time();
    ngx_memcpy(&home, hash, sizeof(uint64_t));

    free = NULL;

    ngx_shmtx_lock(&rp->shpool->mutex);

    for (i = 0; i < NGX_HTTP_AIM_REPLAY_PROBES && i < n; i++) {
        slot = &sh->slots[(home + i) % n];

        if ((time_t) slot->expires <= now) {
            if (free == NULL) {
                free = slot;
            }

            continue;
        }

        if (ngx_memcmp(slot->hash, hash, sizeof(slot->hash)) == 0) {
            ngx_shmtx_unlock(&rp->shpool->mutex);
            return NGX_DECLINED;
        }
    }

    if (free == NULL) {
        ngx_shmtx_unlock(&rp->shpool->mutex);
        return NGX_BUSY;
    }

    ngx_memcpy(free->hash, hash, sizeof(free->hash));
    free->expires = (uint32_t) (now + ttl);

    ngx_shmtx_unlock(&rp->shpool->mutex);

    return NGX_OK;
}


/*
 * The error contract (RFC 6750 3, RFC 9449 7.1): no token, 401 and a bare
 * challenge; a token that does not verify, 401 invalid_token (a DPoP proof
 * that does not, invalid_dpop_proof); a valid token without the rights,
 * 403 insufficient_scope.  error_description is the core's stable reason
 * code; the body is nginx's own error page and never carries the token.
 */

static ngx_int_t
ngx_http_aim_deny(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf,
    ngx_http_aim_ctx_t *ctx, aim_status s, ngx_str_t *scope)
{
    ngx_uint_t  scheme;

    if (alcf->dpop == NGX_HTTP_AIM_DPOP_REQUIRED) {
        /* only the DPoP scheme is accepted here: say so (RFC 9449 7.1) */
        scheme = NGX_HTTP_AIM_DPOP;

    } else {
        scheme = ctx->scheme ? ctx->scheme : NGX_HTTP_AIM_BEARER;
    }

    switch (s) {

    case AIM_NO_TOKEN:

        if (alcf->dpop != NGX_HTTP_AIM_DPOP_REQUIRED
            && ngx_http_aim_challenge(r, alcf, NGX_HTTP_AIM_BEARER, NULL, NULL,
                                      NULL)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (alcf->dpop != NGX_HTTP_AIM_DPOP_OFF
            && ngx_http_aim_challenge(r, alcf, NGX_HTTP_AIM_DPOP, NULL, NULL,
                                      NULL)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return NGX_HTTP_UNAUTHORIZED;

    case AIM_INSUFFICIENT_SCOPE:
    case AIM_POLICY_DENIED:
    case AIM_LOW_TRUST:

        if (ngx_http_aim_challenge(r, alcf, scheme, "insufficient_scope",
                                   aim_reason(s),
                                   s == AIM_INSUFFICIENT_SCOPE ? scope : NULL)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return NGX_HTTP_FORBIDDEN;

    case AIM_CONFIG:
    case AIM_INTERNAL:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;

    default:

        if (ngx_http_aim_challenge(r, alcf, scheme,
                                   ctx->proof_error ? "invalid_dpop_proof"
                                                    : "invalid_token",
                                   aim_reason(s), NULL)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return NGX_HTTP_UNAUTHORIZED;
    }
}


static u_char *
ngx_http_aim_quoted(u_char *p, ngx_str_t *s)
{
    size_t  i;

    *p++ = '"';

    for (i = 0; i < s->len; i++) {
        if (s->data[i] == '"' || s->data[i] == '\\') {
            *p++ = '\\';
        }

        *p++ = s->data[i];
    }

    *p++ = '"';

    return p;
}


static ngx_int_t
ngx_http_aim_challenge(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf,
    ngx_uint_t scheme, const char *error, const char *reason, ngx_str_t *scope)
{
    u_char                 *p;
    size_t                  len;
    ngx_str_t               realm;
    ngx_table_elt_t        *h;
    ngx_http_aim_option_t  *aud;

    realm = alcf->realm;

    if (realm.len == 0 && alcf->audience) {
        aud = alcf->audience->elts;
        realm = aud[0].value;
    }

    len = sizeof("Bearer realm=\"\"") - 1 + 2 * realm.len
          + sizeof(", algs=\"" NGX_HTTP_AIM_DPOP_ALGS "\"") - 1
          + sizeof(", resource_metadata=\"\"") - 1
          + 2 * alcf->resource_metadata.len;

    if (error) {
        len += sizeof(", error=\"\", error_description=\"\"") - 1
               + ngx_strlen(error) + ngx_strlen(reason);
    }

    if (scope && scope->len) {
        len += sizeof(", scope=\"\"") - 1 + scope->len;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "WWW-Authenticate");
    h->value.data = p;

    if (scheme == NGX_HTTP_AIM_DPOP) {
        p = ngx_cpymem(p, "DPoP realm=", sizeof("DPoP realm=") - 1);

    } else {
        p = ngx_cpymem(p, "Bearer realm=", sizeof("Bearer realm=") - 1);
    }

    p = ngx_http_aim_quoted(p, &realm);

    if (scheme == NGX_HTTP_AIM_DPOP) {
        p = ngx_cpymem(p, ", algs=\"" NGX_HTTP_AIM_DPOP_ALGS "\"",
                       sizeof(", algs=\"" NGX_HTTP_AIM_DPOP_ALGS "\"") - 1);
    }

    if (error) {
        p = ngx_sprintf(p, ", error=\"%s\", error_description=\"%s\"",
                        error, reason);
    }

    if (scope && scope->len) {
        p = ngx_sprintf(p, ", scope=\"%V\"", scope);
    }

    if (alcf->resource_metadata.len) {
        p = ngx_cpymem(p, ", resource_metadata=",
                       sizeof(", resource_metadata=") - 1);
        p = ngx_http_aim_quoted(p, &alcf->resource_metadata);
    }

    h->value.len = p - h->value.data;

    if (r->headers_out.www_authenticate == NULL) {
        r->headers_out.www_authenticate = h;
    }

    return NGX_OK;
}


static ngx_http_aim_ctx_t *
ngx_http_aim_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;
    ngx_http_aim_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aim_module);

    if (ctx == NULL && (r->internal || r->filter_finalize)) {

        /*
         * an internal redirect resets the module context; the request's
         * verification lives on in its pool cleanup, as realip's does
         */

        for (cln = r->pool->cleanup; cln; cln = cln->next) {
            if (cln->handler == ngx_http_aim_ctx_cleanup) {
                ctx = cln->data;
                break;
            }
        }
    }

    return ctx;
}


static void
ngx_http_aim_ctx_cleanup(void *data)
{
    ngx_http_aim_ctx_t  *ctx = data;

    if (ctx->token) {
        aim_token_free(ctx->token);
        ctx->token = NULL;
    }
}


static void
ngx_http_aim_token_cleanup(void *data)
{
    aim_token_free(data);
}


/*
 * Route the core's messages to the request's error log while it works
 * for a request, and audit lines there too unless aim_audit says
 * otherwise.  A line the error log would drop is not even formatted.
 */

static void
ngx_http_aim_enter(ngx_http_aim_verifier_t *av, ngx_log_t *log)
{
    av->log = log;

    aim_verifier_set_audit(av->verifier,
                           log && av->audit_to_log
                           && log->log_level >= NGX_LOG_INFO
                           ? ngx_http_aim_audit_line : NULL, av);
}


static void
ngx_http_aim_log(void *ud, int level, const char *msg)
{
    ngx_http_aim_verifier_t  *av = ud;

    ngx_uint_t   lvl;
    ngx_log_t   *log;

    lvl = (level == AIM_LOG_ERR) ? NGX_LOG_ERR
          : (level == AIM_LOG_WARN) ? NGX_LOG_WARN : NGX_LOG_INFO;

    log = av->log ? av->log : ngx_cycle->log;

    ngx_log_error(lvl, log, 0, "aim: %s", msg);
}


static void
ngx_http_aim_audit_line(void *ud, const char *line)
{
    ngx_http_aim_verifier_t  *av = ud;

    ngx_log_error(NGX_LOG_INFO, av->log ? av->log : ngx_cycle->log, 0,
                  "aim audit: %s", line);
}


static char *
ngx_http_aim_cstr(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char  *p;

    p = ngx_pnalloc(pool, s->len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';

    return (char *) p;
}


/* Variables: the verified identity, or nothing ("not found"). */

static ngx_http_aim_ctx_t *
ngx_http_aim_variable_ctx(ngx_http_request_t *r)
{
    ngx_http_aim_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aim_module);

    if (alcf->enable && alcf->verifier) {
        return ngx_http_aim_verify(r, alcf);
    }

    /* after a redirect to a location without aim: what was decided */

    return ngx_http_aim_get_ctx(r);
}


static ngx_int_t
ngx_http_aim_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    const char          *s;
    aim_token           *t;
    ngx_http_aim_ctx_t  *ctx;

    ctx = ngx_http_aim_variable_ctx(r);

    if (ctx == NULL || !ctx->identified) {
        v->not_found = 1;
        return NGX_OK;
    }

    t = ctx->token;

    switch (data) {

    case NGX_HTTP_AIM_VAR_AGENT:
        s = aim_token_agent(t);
        break;

    case NGX_HTTP_AIM_VAR_SUBJECT:
        s = aim_token_subject(t);
        break;

    case NGX_HTTP_AIM_VAR_OWNER:
        s = aim_token_owner(t);
        break;

    case NGX_HTTP_AIM_VAR_ISSUER:
        s = aim_token_issuer(t);
        break;

    case NGX_HTTP_AIM_VAR_SCOPE:
        s = aim_token_scope(t);
        break;

    case NGX_HTTP_AIM_VAR_JTI:
        s = aim_token_jti(t);
        break;

    default: /* NGX_HTTP_AIM_VAR_CHAIN */
        s = aim_token_chain(t);
        break;
    }

    if (s == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_aim_set_value(r, v, s, 0);
}


static ngx_int_t
ngx_http_aim_reason_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    aim_status           s;
    ngx_http_aim_ctx_t  *ctx;

    ctx = ngx_http_aim_variable_ctx(r);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ctx->decision != AIM_STATUS_MAX) ? ctx->decision : ctx->status;

    return ngx_http_aim_set_value(r, v, aim_reason(s), 0);
}


static ngx_int_t
ngx_http_aim_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t *name = (ngx_str_t *) data;

    char                *claim, *value;
    ngx_int_t            rc;
    ngx_str_t            s;
    ngx_http_aim_ctx_t  *ctx;

    ctx = ngx_http_aim_variable_ctx(r);

    if (ctx == NULL || !ctx->identified) {
        v->not_found = 1;
        return NGX_OK;
    }

    s.data = name->data + sizeof("aim_claim_") - 1;
    s.len = name->len - (sizeof("aim_claim_") - 1);

    claim = ngx_http_aim_cstr(r->pool, &s);
    if (claim == NULL) {
        return NGX_ERROR;
    }

    value = aim_token_claim(ctx->token, claim);

    if (value == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    rc = ngx_http_aim_set_value(r, v, value, 1);

    free(value);

    return rc;
}


/*
 * Claims are signed but not necessarily tame: control characters (a CR LF
 * would split a header sent upstream) are escaped as \u00XX.
 */

static ngx_int_t
ngx_http_aim_set_value(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    const char *s, ngx_uint_t copy)
{
    size_t   len, i, n;
    u_char  *p, c;

    len = ngx_strlen(s);
    n = 0;

    for (i = 0; i < len; i++) {
        c = (u_char) s[i];
        if (c < 0x20 || c == 0x7f) {
            n++;
        }
    }

    if (n == 0 && !copy) {
        v->data = (u_char *) s;

    } else {
        p = ngx_pnalloc(r->pool, len + n * 5);
        if (p == NULL) {
            return NGX_ERROR;
        }

        v->data = p;

        for (i = 0; i < len; i++) {
            c = (u_char) s[i];

            if (c < 0x20 || c == 0x7f) {
                p = ngx_sprintf(p, "\\u%04xd", (ngx_uint_t) c);

            } else {
                *p++ = c;
            }
        }
    }

    v->len = len + n * 5;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_aim_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_aim_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_aim_init(ngx_conf_t *cf)
{
    ngx_str_t                   name;
    ngx_shm_zone_t             *shm_zone;
    ngx_http_handler_pt        *h;
    ngx_http_aim_replay_t      *rp;
    ngx_http_aim_main_conf_t   *amcf;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_aim_access_handler;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aim_module);

    if (!amcf->dpop_used) {
        return NGX_OK;
    }

    /* the DPoP replay cache, shared by all workers */

    rp = ngx_pcalloc(cf->pool, sizeof(ngx_http_aim_replay_t));
    if (rp == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&name, "aim_dpop");

    shm_zone = ngx_shared_memory_add(cf, &name, amcf->replay_size,
                                     &ngx_http_aim_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_aim_init_replay_zone;
    shm_zone->data = rp;

    amcf->replay_zone = shm_zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_aim_init_replay_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_aim_replay_t  *orp = data;

    size_t                  size, n;
    ngx_http_aim_replay_t  *rp;

    rp = shm_zone->data;

    if (orp) {
        rp->sh = orp->sh;
        rp->shpool = orp->shpool;
        return NGX_OK;
    }

    rp->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        rp->sh = rp->shpool->data;
        return NGX_OK;
    }

    /* every free page but one, which holds log_ctx */

    if (rp->shpool->pfree < 2) {
        return NGX_ERROR;
    }

    size = (rp->shpool->pfree - 1) * ngx_pagesize;
    n = (size - offsetof(ngx_http_aim_replay_sh_t, slots))
        / sizeof(ngx_http_aim_replay_slot_t);

    rp->sh = ngx_slab_calloc(rp->shpool,
                             offsetof(ngx_http_aim_replay_sh_t, slots)
                             + n * sizeof(ngx_http_aim_replay_slot_t));
    if (rp->sh == NULL) {
        return NGX_ERROR;
    }

    rp->sh->nslots = n;
    rp->shpool->data = rp->sh;

    size = sizeof(" in aim DPoP replay zone \"\"") + shm_zone->shm.name.len;

    rp->shpool->log_ctx = ngx_slab_alloc(rp->shpool, size);
    if (rp->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(rp->shpool->log_ctx, " in aim DPoP replay zone \"%V\"%Z",
                &shm_zone->shm.name);

    return NGX_OK;
}


static void *
ngx_http_aim_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_aim_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_aim_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     amcf->replay_zone = NULL;
     *     amcf->dpop_used = 0;
     */

    if (ngx_array_init(&amcf->verifiers, cf->pool, 2,
                       sizeof(ngx_http_aim_verifier_t *))
        != NGX_OK)
    {
        return NULL;
    }

    amcf->replay_size = NGX_CONF_UNSET_SIZE;

    return amcf;
}


static char *
ngx_http_aim_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_aim_main_conf_t  *amcf = conf;

    ngx_conf_init_size_value(amcf->replay_size, 4 * 1024 * 1024);

    if (amcf->replay_size < 8 * ngx_pagesize) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"aim_dpop_cache\" must be at least %uzk",
                           8 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_aim_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_aim_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_aim_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->enable_site = NULL;
     *     conf->dpop_origin = NULL;
     *     conf->realm = { 0, NULL };
     *     conf->resource_metadata = { 0, NULL };
     *     conf->verifier = NULL;
     */

    conf->enable = NGX_CONF_UNSET;

    conf->keys = NGX_CONF_UNSET_PTR;
    conf->issuers = NGX_CONF_UNSET_PTR;
    conf->audience = NGX_CONF_UNSET_PTR;
    conf->leeway = NGX_CONF_UNSET_PTR;
    conf->max_lifetime = NGX_CONF_UNSET_PTR;
    conf->types = NGX_CONF_UNSET_PTR;
    conf->revoked = NGX_CONF_UNSET_PTR;
    conf->policy = NGX_CONF_UNSET_PTR;
    conf->audit = NGX_CONF_UNSET_PTR;
    conf->cache = NGX_CONF_UNSET_PTR;
    conf->status_lists = NGX_CONF_UNSET_PTR;
    conf->state = NGX_CONF_UNSET_PTR;
    conf->trust_min = NGX_CONF_UNSET_PTR;
    conf->reload_interval = NGX_CONF_UNSET_PTR;

    conf->scopes = NGX_CONF_UNSET_PTR;
    conf->scope_any = NGX_CONF_UNSET;

    conf->dpop = NGX_CONF_UNSET_UINT;
    conf->dpop_max_age = NGX_CONF_UNSET;
    conf->bypass_preflight = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_aim_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_aim_loc_conf_t *prev = parent;
    ngx_http_aim_loc_conf_t *conf = child;

    char                       *missing;
    ngx_array_t               **a, **pa;
    ngx_command_t              *cmd;
    ngx_http_aim_main_conf_t   *amcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    if (conf->enable_site == NULL) {
        conf->enable_site = prev->enable_site;
    }

    /* every core option is inherited as a whole, like add_header */

    for (cmd = ngx_http_aim_commands; cmd->name.len; cmd++) {
        if (cmd->set != ngx_http_aim_set_option) {
            continue;
        }

        a = (ngx_array_t **) ((char *) conf + cmd->offset);
        pa = (ngx_array_t **) ((char *) prev + cmd->offset);

        ngx_conf_merge_ptr_value(*a, *pa, NULL);
    }

    ngx_conf_merge_ptr_value(conf->scopes, prev->scopes, NULL);
    ngx_conf_merge_value(conf->scope_any, prev->scope_any, 0);

    ngx_conf_merge_uint_value(conf->dpop, prev->dpop, NGX_HTTP_AIM_DPOP_OFF);
    ngx_conf_merge_sec_value(conf->dpop_max_age, prev->dpop_max_age, 60);

    if (conf->dpop_origin == NULL) {
        conf->dpop_origin = prev->dpop_origin;
    }

    ngx_conf_merge_str_value(conf->realm, prev->realm, "");
    ngx_conf_merge_str_value(conf->resource_metadata,
                             prev->resource_metadata, "");
    ngx_conf_merge_value(conf->bypass_preflight, prev->bypass_preflight, 0);

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    missing = (conf->keys == NULL) ? "aim_keys"
              : (conf->issuers == NULL) ? "aim_issuer"
              : (conf->audience == NULL) ? "aim_audience" : NULL;

    if (missing) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"aim on\" in %V:%ui needs \"%s\" (here or in an "
                      "enclosing block)", &conf->enable_site->file,
                      conf->enable_site->line, missing);
        return NGX_CONF_ERROR;
    }

    conf->verifier = ngx_http_aim_get_verifier(cf, conf);
    if (conf->verifier == NULL) {
        return NGX_CONF_ERROR;
    }

    if (conf->dpop != NGX_HTTP_AIM_DPOP_OFF) {
        amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aim_module);
        amcf->dpop_used = 1;
    }

    ngx_http_aim_check_return(cf, conf);

    return NGX_CONF_OK;
}


/*
 * One verifier per distinct set of options: locations that inherit the
 * same settings share its keys and token cache.  Verifiers are built here,
 * in the master, and each worker gets its own copy when it forks.
 */

static ngx_http_aim_verifier_t *
ngx_http_aim_get_verifier(ngx_conf_t *cf, ngx_http_aim_loc_conf_t *alcf)
{
    char                         *base;
    u_char                       *p;
    size_t                        len;
    time_t                        leeway;
    ngx_str_t                     sig;
    ngx_uint_t                    i, audit_to_log;
    aim_error                     err;
    aim_config                   *cfg;
    ngx_array_t                  *a;
    aim_verifier                 *v;
    ngx_command_t                *cmd;
    ngx_pool_cleanup_t           *cln;
    ngx_http_aim_option_t        *opt;
    ngx_http_aim_verifier_t      *av, **avp;
    ngx_http_aim_main_conf_t     *amcf;
    ngx_http_aim_option_spec_t   *spec;

    base = (char *) alcf;

    len = 0;

    for (cmd = ngx_http_aim_commands; cmd->name.len; cmd++) {
        if (cmd->set != ngx_http_aim_set_option) {
            continue;
        }

        a = *(ngx_array_t **) (base + cmd->offset);
        if (a == NULL) {
            continue;
        }

        opt = a->elts;
        for (i = 0; i < a->nelts; i++) {
            len += cmd->name.len + opt[i].value.len + 2;
        }
    }

    sig.data = ngx_pnalloc(cf->pool, len);
    if (sig.data == NULL) {
        return NULL;
    }

    p = sig.data;

    for (cmd = ngx_http_aim_commands; cmd->name.len; cmd++) {
        if (cmd->set != ngx_http_aim_set_option) {
            continue;
        }

        a = *(ngx_array_t **) (base + cmd->offset);
        if (a == NULL) {
            continue;
        }

        opt = a->elts;
        for (i = 0; i < a->nelts; i++) {
            p = ngx_sprintf(p, "%V=%V\n", &cmd->name, &opt[i].value);
        }
    }

    sig.len = p - sig.data;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aim_module);

    avp = amcf->verifiers.elts;
    for (i = 0; i < amcf->verifiers.nelts; i++) {
        if (avp[i]->signature.len == sig.len
            && ngx_memcmp(avp[i]->signature.data, sig.data, sig.len) == 0)
        {
            return avp[i];
        }
    }

    cfg = aim_config_new();
    if (cfg == NULL) {
        return NULL;
    }

    audit_to_log = 1;
    leeway = 30;

    for (cmd = ngx_http_aim_commands; cmd->name.len; cmd++) {
        if (cmd->set != ngx_http_aim_set_option) {
            continue;
        }

        a = *(ngx_array_t **) (base + cmd->offset);
        if (a == NULL) {
            continue;
        }

        spec = cmd->post;
        opt = a->elts;

        for (i = 0; i < a->nelts; i++) {

            if (spec->kind == NGX_HTTP_AIM_AUDIT) {
                if (opt[i].path.len == 0) {
                    /* "off" or "error_log" */
                    audit_to_log = (opt[i].value.data[0] == 'e');
                    continue;
                }

                audit_to_log = 0;
            }

            if (ngx_strcmp(spec->option, "leeway") == 0) {
                leeway = ngx_atotm(opt[i].value.data, opt[i].value.len);
            }

            if (aim_config_set(cfg, spec->option, (char *) opt[i].value.data,
                               &err)
                != AIM_OK)
            {
                aim_config_free(cfg);
                ngx_http_aim_config_error(cf, alcf, &err);
                return NULL;
            }
        }
    }

    v = aim_verifier_new(cfg, &err);

    aim_config_free(cfg);

    if (v == NULL) {
        ngx_http_aim_config_error(cf, alcf, &err);
        return NULL;
    }

    cln = ngx_pool_cleanup_add(cf->pool, sizeof(ngx_http_aim_verifier_t));
    if (cln == NULL) {
        aim_verifier_free(v);
        return NULL;
    }

    av = cln->data;
    ngx_memzero(av, sizeof(ngx_http_aim_verifier_t));

    av->verifier = v;
    av->signature = sig;
    av->leeway = leeway;
    av->audit_to_log = audit_to_log;

    cln->handler = ngx_http_aim_verifier_cleanup;

    aim_verifier_set_log(v, ngx_http_aim_log, av);

    avp = ngx_array_push(&amcf->verifiers);
    if (avp == NULL) {
        return NULL;
    }

    *avp = av;

    return av;
}


/*
 * The core names the file and the reason; point the administrator at the
 * directive that named that file, or at "aim on" for a missing option.
 */

static void
ngx_http_aim_config_error(ngx_conf_t *cf, ngx_http_aim_loc_conf_t *alcf,
    aim_error *err)
{
    ngx_uint_t              i;
    ngx_array_t            *a;
    ngx_command_t          *cmd;
    ngx_http_aim_option_t  *opt, *site;

    site = NULL;

    for (cmd = ngx_http_aim_commands; cmd->name.len; cmd++) {
        if (cmd->set != ngx_http_aim_set_option) {
            continue;
        }

        a = *(ngx_array_t **) ((char *) alcf + cmd->offset);
        if (a == NULL) {
            continue;
        }

        opt = a->elts;
        for (i = 0; i < a->nelts; i++) {
            if (opt[i].path.len
                && ngx_strstr(err->message, opt[i].path.data) != NULL)
            {
                site = &opt[i];
            }
        }
    }

    if (site) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%V\" directive: %s in %V:%ui", &site->directive,
                      err->message, &site->file, site->line);
        return;
    }

    site = alcf->enable_site;

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "aim: %s, for \"aim on\" in %V:%ui",
                  err->message, &site->file, site->line);
}


static void
ngx_http_aim_verifier_cleanup(void *data)
{
    ngx_http_aim_verifier_t  *av = data;

    aim_verifier_free(av->verifier);
}


/*
 * ngx_http_rewrite_module runs before the access phase: a "return" in a
 * protected location answers without aim's check.  Its codes are scanned
 * for the return code; the struct below is the leading member of the
 * rewrite module's (private) location configuration.
 */

typedef struct {
    ngx_array_t  *codes;
} ngx_http_aim_rewrite_conf_t;


static void
ngx_http_aim_check_return(ngx_conf_t *cf, ngx_http_aim_loc_conf_t *alcf)
{
    u_char                       *code;
    ngx_uint_t                    i;
    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_aim_rewrite_conf_t  *rlcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->noname) {
        /* "if" blocks share the codes of their location */
        return;
    }

    rlcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_rewrite_module);

    if (rlcf == NULL || rlcf->codes == NULL) {
        return;
    }

    code = rlcf->codes->elts;

    for (i = 0;
         i + sizeof(uintptr_t) <= rlcf->codes->nelts * rlcf->codes->size;
         i += sizeof(uintptr_t))
    {
        if (*(uintptr_t *) (code + i)
            == (uintptr_t) ngx_http_script_return_code)
        {
            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "\"return\" in %s \"%V\" answers in the rewrite "
                          "phase, before \"aim on\" (%V:%ui) checks the "
                          "request",
                          clcf->name.len ? "location" : "server",
                          &clcf->name, &alcf->enable_site->file,
                          alcf->enable_site->line);
            return;
        }
    }
}


static char *
ngx_http_aim(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_aim_loc_conf_t *alcf = conf;

    char                   *rv;
    ngx_http_aim_option_t  *site;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    site = ngx_pcalloc(cf->pool, sizeof(ngx_http_aim_option_t));
    if (site == NULL) {
        return NGX_CONF_ERROR;
    }

    site->directive = cmd->name;
    site->file = cf->conf_file->file.name;
    site->line = cf->conf_file->line;

    alcf->enable_site = site;

    return NGX_CONF_OK;
}


/*
 * A directive that is one of the core's options: the value is turned into
 * the core's form (full paths, seconds) and checked by the core at once,
 * so a bad value is reported at its own line.
 */

static char *
ngx_http_aim_set_option(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char                      *q;
    size_t                       len;
    time_t                       sec;
    ngx_str_t                   *value, v, path, alg;
    ngx_uint_t                   i;
    aim_error                    err;
    aim_status                   s;
    aim_config                  *cfg;
    ngx_array_t                **a;
    ngx_http_aim_option_t       *opt;
    ngx_http_aim_option_spec_t  *spec;

    spec = cmd->post;
    a = (ngx_array_t **) (p + cmd->offset);

    if (*a == NGX_CONF_UNSET_PTR) {
        *a = ngx_array_create(cf->pool, 1, sizeof(ngx_http_aim_option_t));
        if (*a == NULL) {
            return NGX_CONF_ERROR;
        }

    } else if (!spec->multi) {
        return "is duplicate";
    }

    value = cf->args->elts;
    v = value[1];
    ngx_str_null(&path);

    switch (spec->kind) {

    case NGX_HTTP_AIM_AUDIT:
        if (ngx_strcmp(v.data, "off") == 0
            || ngx_strcmp(v.data, "error_log") == 0)
        {
            break;
        }

        /* fall through */

    case NGX_HTTP_AIM_PATH:
        if (ngx_conf_full_name(cf->cycle, &v, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        path = v;
        break;

    case NGX_HTTP_AIM_KEYS:

        /* FILE or pem:ALG:FILE, then optionally issuer=ISSUER */

        ngx_str_null(&alg);
        path = v;

        if (v.len > 4 && ngx_strncmp(v.data, "pem:", 4) == 0) {
            q = ngx_strlchr(v.data + 4, v.data + v.len, ':');
            if (q == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid key source \"%V\", expected "
                                   "FILE or pem:ALG:FILE", &value[1]);
                return NGX_CONF_ERROR;
            }

            alg.data = v.data;
            alg.len = q + 1 - v.data;
            path.data = q + 1;
            path.len = v.data + v.len - path.data;
        }

        if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        len = alg.len + path.len;

        if (cf->args->nelts == 3) {
            if (value[2].len <= sizeof("issuer=") - 1
                || ngx_strncmp(value[2].data, "issuer=", 7) != 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid parameter \"%V\"", &value[2]);
                return NGX_CONF_ERROR;
            }

            len += value[2].len - 7 + 1;
        }

        v.data = ngx_pnalloc(cf->pool, len + 1);
        if (v.data == NULL) {
            return NGX_CONF_ERROR;
        }

        q = v.data;

        if (cf->args->nelts == 3) {
            q = ngx_cpymem(q, value[2].data + 7, value[2].len - 7);
            *q++ = ' ';
        }

        q = ngx_cpymem(q, alg.data, alg.len);
        path.data = ngx_cpymem(q, path.data, path.len) - path.len;
        v.len = len;
        break;

    case NGX_HTTP_AIM_STATUS_LIST:
        path = value[2];

        if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        v.len = value[1].len + 1 + path.len;
        v.data = ngx_pnalloc(cf->pool, v.len);
        if (v.data == NULL) {
            return NGX_CONF_ERROR;
        }

        q = ngx_cpymem(v.data, value[1].data, value[1].len);
        *q++ = ' ';
        ngx_memcpy(q, path.data, path.len);
        break;

    case NGX_HTTP_AIM_TIME:
        sec = ngx_parse_time(&v, 1);
        if (sec == (time_t) NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\" in \"%V\" directive, "
                               "it must be a time", &value[1], &cmd->name);
            return NGX_CONF_ERROR;
        }

        v.data = ngx_pnalloc(cf->pool, NGX_TIME_T_LEN + 1);
        if (v.data == NULL) {
            return NGX_CONF_ERROR;
        }

        v.len = ngx_sprintf(v.data, "%T", sec) - v.data;
        break;

    case NGX_HTTP_AIM_NUMBER:
        if (ngx_strcmp(spec->option, "cache") == 0
            && ngx_strcmp(v.data, "off") == 0)
        {
            ngx_str_set(&v, "0");
        }

        break;

    case NGX_HTTP_AIM_LIST:
        len = 0;
        for (i = 1; i < cf->args->nelts; i++) {
            len += value[i].len + 1;
        }

        v.data = ngx_pnalloc(cf->pool, len);
        if (v.data == NULL) {
            return NGX_CONF_ERROR;
        }

        q = v.data;
        for (i = 1; i < cf->args->nelts; i++) {
            if (i > 1) {
                *q++ = ' ';
            }
            q = ngx_cpymem(q, value[i].data, value[i].len);
        }

        v.len = q - v.data;
        break;

    default: /* NGX_HTTP_AIM_STRING */
        break;
    }

    if (path.len && ngx_strlchr(path.data, path.data + path.len, ' ')) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" directive: file names with spaces are "
                           "not supported: \"%V\"", &cmd->name, &path);
        return NGX_CONF_ERROR;
    }

    /* a null-terminated copy: the core takes C strings */

    opt = ngx_array_push(*a);
    if (opt == NULL) {
        return NGX_CONF_ERROR;
    }

    opt->value.len = v.len;
    opt->value.data = ngx_pnalloc(cf->pool, v.len + 1);
    if (opt->value.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(opt->value.data, v.data, v.len);
    opt->value.data[v.len] = '\0';

    if (path.len) {
        /* the path is the tail of every value that names a file */
        opt->path.len = path.len;
        opt->path.data = opt->value.data + v.len - path.len;
    }

    opt->directive = cmd->name;
    opt->file = cf->conf_file->file.name;
    opt->line = cf->conf_file->line;

    if (spec->kind == NGX_HTTP_AIM_AUDIT && path.len == 0) {
        return NGX_CONF_OK;
    }

    cfg = aim_config_new();
    if (cfg == NULL) {
        return NGX_CONF_ERROR;
    }

    s = aim_config_set(cfg, spec->option, (char *) opt->value.data, &err);

    aim_config_free(cfg);

    if (s != AIM_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive: %s",
                           &value[1], &cmd->name, err.message);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_aim_scope(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_aim_loc_conf_t *alcf = conf;

    ngx_str_t                         *value;
    ngx_uint_t                         i;
    ngx_http_aim_scope_t              *sc;
    ngx_http_compile_complex_value_t   ccv;

    if (alcf->scopes != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    if (cf->args->nelts - 1 > AIM_MAX_SCOPES) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "more than %d scopes", AIM_MAX_SCOPES);
        return NGX_CONF_ERROR;
    }

    alcf->scopes = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                    sizeof(ngx_http_aim_scope_t));
    if (alcf->scopes == NULL) {
        return NGX_CONF_ERROR;
    }

    alcf->scope_any = cmd->offset;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        sc = ngx_array_push(alcf->scopes);
        if (sc == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(sc, sizeof(ngx_http_aim_scope_t));
        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[i];
        ccv.complex_value = &sc->value;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        if (sc->value.lengths != NULL) {
            continue;
        }

        if (!ngx_http_aim_scope_valid(value[i].data, value[i].len)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid scope \"%V\": one scope token of "
                               "printable characters except '\"' and '\\'",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        sc->fixed = ngx_http_aim_cstr(cf->pool, &value[i]);
        if (sc->fixed == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_aim_dpop(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_aim_loc_conf_t *alcf = conf;

    ngx_str_t  *value;

    if (alcf->dpop != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        alcf->dpop = NGX_HTTP_AIM_DPOP_OFF;

    } else if (ngx_strcmp(value[1].data, "on") == 0) {
        alcf->dpop = NGX_HTTP_AIM_DPOP_ON;

    } else if (ngx_strcmp(value[1].data, "required") == 0) {
        alcf->dpop = NGX_HTTP_AIM_DPOP_REQUIRED;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be \"off\", \"on\" or \"required\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* realm, resource_metadata: a quoted-string parameter; no controls. */

static char *
ngx_http_aim_set_param(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    char       *rv;
    ngx_str_t  *s;
    ngx_uint_t  i;

    rv = ngx_conf_set_str_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    s = (ngx_str_t *) (p + cmd->offset);

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < 0x20 || s->data[i] == 0x7f) {
            return "must not contain control characters";
        }
    }

    return NGX_CONF_OK;
}


/* RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */

static ngx_int_t
ngx_http_aim_scope_valid(u_char *p, size_t len)
{
    size_t  i;

    if (len == 0 || len > AIM_MAX_SCOPE_LEN) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (p[i] < 0x21 || p[i] > 0x7e || p[i] == '"' || p[i] == '\\') {
            return 0;
        }
    }

    return 1;
}
