/*
 * ngx_http_aim.h -- what the sources of ngx_http_aim_module share: the
 * location configuration, the per-request context and the one call that
 * describes a request to libaim and enforces its answer.  A later source
 * builds on ngx_http_aim_decide() and never calls the core's lower
 * levels:
 *
 *   ngx_http_aim_module.c    configuration, phases, variables
 *   ngx_http_aim_request.c   the request as the core sees it, the answer
 *   ngx_http_aim_mcp.c       MCP: the JSON-RPC body read, each message
 *                            decided
 *   ngx_http_aim_recheck.c   responses still open, decided again
 *   ngx_http_aim_json.c      JSON error bodies, the RFC 9728 document
 *   ngx_http_aim_ssf_module.c  ngx_http_aim_ssf_module, the shared-signals
 *                            handlers, on the same units of the core
 */


#ifndef _NGX_HTTP_AIM_H_INCLUDED_
#define _NGX_HTTP_AIM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "aim.h"


#define NGX_HTTP_AIM_AUDIT_LOG      0       /* the error log (default) */
#define NGX_HTTP_AIM_AUDIT_OFF      1
#define NGX_HTTP_AIM_AUDIT_FILE     2       /* the core's "audit" option */

#define NGX_HTTP_AIM_ERRORS_HTML    0       /* nginx's error pages */
#define NGX_HTTP_AIM_ERRORS_JSON    1


/* A core option as a directive wrote it, and where. */
typedef struct {
    const aim_option           *option;
    const char                **args;       /* the core's words */
    ngx_uint_t                  nargs;
    ngx_str_t                   file;
    ngx_uint_t                  line;
} ngx_http_aim_opt_t;


/*
 * What a unit of the core -- a verifier, a shared-signals receiver or
 * publisher -- was built from, and where it writes: the first member of
 * each, shared by the locations with the same options.
 */
typedef struct {
    ngx_array_t                *options;
    ngx_http_aim_opt_t         *config;
    ngx_uint_t                  audit;
    ngx_log_t                  *log;        /* where the core writes now */
} ngx_http_aim_unit_t;


typedef struct {
    ngx_http_aim_unit_t         unit;
    aim_verifier               *verifier;
} ngx_http_aim_verifier_t;


/* The files a unit's workers open, one per call, i from 0; NULL at the end. */
typedef const char *(*ngx_http_aim_watched_pt)(void *unit, ngx_uint_t i,
    int *rw);


typedef struct {
    ngx_http_complex_value_t    value;
    char                       *fixed;      /* no variables: checked once */
} ngx_http_aim_scope_t;


typedef struct {
    ngx_flag_t                  enable;
    ngx_str_t                   enable_file;
    ngx_uint_t                  enable_line;

    ngx_array_t                *options;    /* ngx_http_aim_opt_t */
    ngx_http_aim_opt_t         *config;     /* aim_config FILE */
    ngx_uint_t                  audit;

    ngx_array_t                *scopes;     /* ngx_http_aim_scope_t */
    ngx_flag_t                  scope_any;
    ngx_uint_t                  dpop;       /* aim_dpop_mode */
    ngx_http_complex_value_t   *dpop_origin;
    ngx_http_complex_value_t   *token;      /* aim_token */

    ngx_str_t                   realm;
    ngx_flag_t                  realm_audience; /* ... the audience's */
    ngx_str_t                   resource_metadata;
    ngx_flag_t                  metadata_auto;  /* ... derived from the
                                                 * audience */
    ngx_flag_t                  bypass_preflight;
    ngx_flag_t                  challenge_scope;  /* unset: aim_mcp's */
    ngx_uint_t                  errors;     /* NGX_HTTP_AIM_ERRORS_*;
                                             * unset: JSON with aim_mcp */

    ngx_flag_t                  mcp;
    size_t                      mcp_max_body;
    ngx_flag_t                  recheck;

    ngx_array_t                *metadata_scopes;  /* ngx_str_t; the RFC 9728
                                                   * document served here */
    ngx_str_t                   metadata;         /* ... as built */
    ngx_str_t                   metadata_file;
    ngx_uint_t                  metadata_line;

    ngx_http_aim_verifier_t    *verifier;
} ngx_http_aim_loc_conf_t;


#define ngx_http_aim_challenge_scope(alcf)                                   \
    ((alcf)->challenge_scope == NGX_CONF_UNSET ? (alcf)->mcp                 \
                                               : (alcf)->challenge_scope)

#define ngx_http_aim_json_errors(alcf)                                       \
    ((alcf)->errors == NGX_CONF_UNSET_UINT ? (alcf)->mcp                     \
                                : (alcf)->errors == NGX_HTTP_AIM_ERRORS_JSON)


/*
 * One request's (or subrequest's) dealings with the core.  Reset by an
 * internal redirect, as every module context is: the next location is
 * decided afresh.  What the main request decided last stays reachable
 * (ngx_http_aim_main_t) for variables in an error_page location.
 */
typedef struct {
    ngx_http_aim_loc_conf_t    *conf;       /* what was decided for */
    ngx_str_t                   scopes;     /* ... with these scopes */
    ngx_str_t                   token;      /* ... the aim_token and */
    ngx_str_t                   origin;     /* aim_dpop_origin read, when
                                             * they carry variables */
    ngx_int_t                   rc;         /* NGX_OK or a status */
    aim_decision                decision;
    aim_decision                identity;   /* aim_identify, for variables */
    ngx_http_aim_loc_conf_t    *identity_conf;  /* ... identified with */
    const char                 *error;      /* the refusal's RFC 6750 code */

    const char                 *resource;   /* decided, when not the URI:
                                             * an MCP message */
    aim_status                  host_status;  /* the module's own denial
                                               * (an MCP body refused) */
    const char                 *host_message;
    ngx_int_t                   host_rc;    /* ... answered with */
    ngx_int_t                   rpc_code;   /* ... and a JSON-RPC error */

    ngx_array_t                *allowed;    /* aim_request: what was
                                             * allowed, re-checked while
                                             * the response is open */
    ngx_str_t                   mcp_scopes; /* each MCP message's scopes */

    unsigned                    decided:1;
    unsigned                    identified:1;
    unsigned                    watched:1;  /* a subrequest's allow, in
                                             * its main request's
                                             * re-checks */
} ngx_http_aim_ctx_t;


typedef struct ngx_http_aim_mcp_s  ngx_http_aim_mcp_t;


/* Shared by a main request and its subrequests, across redirects. */
typedef struct {
    ngx_http_aim_ctx_t         *last;       /* the latest decision */
    u_char                      proofs[2][32];  /* DPoP proofs recorded */
    ngx_uint_t                  nproofs;

    ngx_http_aim_mcp_t         *mcp;        /* the JSON-RPC body */

    ngx_http_request_t         *request;    /* re-checked while open */
    ngx_array_t                *subrequests;  /* ngx_http_aim_ctx_t *:
                                               * what its subrequests
                                               * allowed (auth_request),
                                               * re-checked with it */
    ngx_queue_t                 open;
    aim_status                  ended;      /* why a re-check ended it */
    unsigned                    watched:1;
} ngx_http_aim_main_t;


/* shared by the module's sources, exported by none (only the module is) */
#pragma GCC visibility push(hidden)

/* ngx_http_aim_module.c: configuration, and the core's units */
ngx_http_aim_opt_t *ngx_http_aim_find(ngx_array_t *a, ngx_uint_t n,
    const char *name);
ngx_int_t ngx_http_aim_conf_scope(ngx_conf_t *cf, ngx_str_t *scope);
ngx_int_t ngx_http_aim_add_variables(ngx_conf_t *cf,
    ngx_http_variable_t *vars);
void ngx_http_aim_unit_init(ngx_http_aim_unit_t *unit,
    ngx_http_aim_loc_conf_t *alcf);
ngx_uint_t ngx_http_aim_unit_same(ngx_http_aim_unit_t *unit,
    ngx_http_aim_loc_conf_t *alcf);
aim_config *ngx_http_aim_unit_config(ngx_conf_t *cf,
    ngx_http_aim_loc_conf_t *alcf, ngx_str_t *what, ngx_str_t *file,
    ngx_uint_t line);
void ngx_http_aim_unit_error(ngx_conf_t *cf, ngx_http_aim_loc_conf_t *alcf,
    aim_error *err, ngx_str_t *what, ngx_str_t *file, ngx_uint_t line);
aim_audit_fn ngx_http_aim_unit_enter(ngx_http_aim_unit_t *unit,
    ngx_log_t *log);
void ngx_http_aim_log(void *ud, int level, const char *msg);
ngx_int_t ngx_http_aim_check_access(ngx_cycle_t *cycle, ngx_array_t *units,
    ngx_http_aim_watched_pt watched, ngx_uint_t rw_needed,
    const char *consequence);
ngx_int_t ngx_http_aim_same_scopes(ngx_str_t *now, ngx_str_t *decided);

/* ngx_http_aim_request.c: the request as the core sees it, the answer */
ngx_int_t ngx_http_aim_decide(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf, ngx_http_aim_ctx_t *ctx);
ngx_int_t ngx_http_aim_identify(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf, ngx_http_aim_ctx_t *ctx);
ngx_uint_t ngx_http_aim_same_credentials(ngx_http_aim_loc_conf_t *a,
    ngx_http_aim_loc_conf_t *b);
ngx_int_t ngx_http_aim_same_values(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf, ngx_http_aim_ctx_t *ctx);
ngx_int_t ngx_http_aim_http(ngx_http_request_t *r, aim_http_request *h);
ngx_uint_t ngx_http_aim_mcp_body(ngx_http_request_t *r);
ngx_int_t ngx_http_aim_scopes(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf, aim_request *req, ngx_str_t *joined);
void ngx_http_aim_enter(ngx_http_aim_verifier_t *av, ngx_log_t *log);
ngx_int_t ngx_http_aim_replay_init(ngx_conf_t *cf, size_t size);
ngx_http_aim_ctx_t *ngx_http_aim_get_ctx(ngx_http_request_t *r);
ngx_http_aim_main_t *ngx_http_aim_get_main(ngx_http_request_t *r);
void *ngx_http_aim_alloc(ngx_pool_t *pool, size_t size,
    ngx_pool_cleanup_pt handler);
ngx_table_elt_t *ngx_http_aim_header_in(ngx_http_request_t *r,
    const char *name, ngx_uint_t *n);
ngx_table_elt_t *ngx_http_aim_header_out(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);
ngx_int_t ngx_http_aim_read_body(ngx_http_request_t *r, size_t max,
    ngx_str_t *body);
char *ngx_http_aim_cstr(ngx_pool_t *pool, ngx_str_t *s);

/* ngx_http_aim_mcp.c */
ngx_int_t ngx_http_aim_mcp_read(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf, ngx_http_aim_ctx_t *ctx);
ngx_int_t ngx_http_aim_mcp_decide(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf, ngx_http_aim_ctx_t *ctx);
ngx_int_t ngx_http_aim_mcp_same(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf, ngx_http_aim_ctx_t *ctx);
ngx_int_t ngx_http_aim_mcp_add_variables(ngx_conf_t *cf);

/* ngx_http_aim_recheck.c */
void ngx_http_aim_recheck_init(void);
void ngx_http_aim_watch(ngx_http_request_t *r, ngx_http_aim_main_t *mn);
void ngx_http_aim_unwatch(ngx_http_aim_main_t *mn);
void ngx_http_aim_recheck(void);

/* ngx_http_aim_json.c */
ngx_int_t ngx_http_aim_send_error(ngx_http_request_t *r, ngx_int_t status);
char *ngx_http_aim_metadata_url(ngx_conf_t *cf, ngx_http_aim_loc_conf_t *conf,
    ngx_http_aim_loc_conf_t *prev);
char *ngx_http_aim_metadata_build(ngx_conf_t *cf,
    ngx_http_aim_loc_conf_t *conf);
char *ngx_http_aim_metadata_document(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_aim_metadata_handler(ngx_http_request_t *r);

#pragma GCC visibility pop


extern ngx_module_t  ngx_http_aim_module;


#endif /* _NGX_HTTP_AIM_H_INCLUDED_ */
