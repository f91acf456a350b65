/*
 * ngx_http_aim_module -- agent least privilege for APIs behind nginx.
 *
 * Glue between nginx and libaim.  The configuration becomes one
 * aim_verifier per distinct set of the core's options (built when nginx
 * reads its configuration, so a bad key file fails "nginx -t"); every
 * request to an "aim on" location is decided by the core, once per
 * location it reaches:
 *
 *   rewrite phase   first in the location, before the rewrite module's
 *                   directives ("return" cannot answer before aim), for
 *                   main requests and for every subrequest, which skip
 *                   the access phase;
 *   access phase    main requests under "satisfy any", with nginx's other
 *                   access modules; a location "if" switched to;
 *   precontent      a subrequest whose location "if" switched to.
 *
 * The decision itself, the request as the core sees it and the answer
 * are in ngx_http_aim_request.c; an MCP location's body in
 * ngx_http_aim_mcp.c; responses still open, decided again, in
 * ngx_http_aim_recheck.c; JSON answers in ngx_http_aim_json.c.
 */


#include "ngx_http_aim.h"

#include <grp.h>          /* initgroups() */
#include <pwd.h>
#include <sys/wait.h>


typedef struct {
    ngx_array_t                 verifiers;  /* ngx_http_aim_verifier_t * */
    size_t                      replay_size;
    ngx_uint_t                  dpop_used;
} ngx_http_aim_main_conf_t;


static ngx_int_t ngx_http_aim_rewrite_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_aim_access_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_aim_precontent_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_aim_phase(ngx_http_request_t *r, ngx_int_t allowed,
    ngx_uint_t vote);
static ngx_int_t ngx_http_aim_check(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf);
static ngx_int_t ngx_http_aim_same(ngx_http_request_t *r,
    ngx_http_aim_ctx_t *ctx, ngx_http_aim_loc_conf_t *alcf);
static ngx_int_t ngx_http_aim_preflight(ngx_http_request_t *r);
static ngx_int_t ngx_http_aim_refuse(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf, ngx_int_t rc);

static aim_decision *ngx_http_aim_variable_decision(ngx_http_request_t *r);
static aim_token *ngx_http_aim_variable_token(ngx_http_request_t *r);
static ngx_int_t ngx_http_aim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aim_reason_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aim_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_aim_set_value(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, const char *s, ngx_uint_t copy);

static ngx_int_t ngx_http_aim_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_aim_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_aim_init_module(ngx_cycle_t *cycle);
static const char *ngx_http_aim_verifier_watched(void *unit, ngx_uint_t i,
    int *rw);
static ngx_int_t ngx_http_aim_init_process(ngx_cycle_t *cycle);
static void ngx_http_aim_refresh(ngx_event_t *ev);
static void *ngx_http_aim_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_aim_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_aim_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_aim_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_aim_merge_options(ngx_conf_t *cf,
    ngx_http_aim_loc_conf_t *conf, ngx_http_aim_loc_conf_t *prev,
    ngx_uint_t own_audit);
static ngx_http_aim_verifier_t *ngx_http_aim_get_verifier(ngx_conf_t *cf,
    ngx_http_aim_loc_conf_t *alcf);
static void ngx_http_aim_verifier_cleanup(void *data);
static void ngx_http_aim_audit_line(void *ud, const char *line);

static char *ngx_http_aim(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_aim_option(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_aim_config(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_aim_scope(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_aim_set_param(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_conf_enum_t  ngx_http_aim_dpop_modes[] = {
    { ngx_string("off"), AIM_DPOP_OFF },
    { ngx_string("on"), AIM_DPOP_ON },
    { ngx_string("required"), AIM_DPOP_REQUIRED },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_aim_error_formats[] = {
    { ngx_string("html"), NGX_HTTP_AIM_ERRORS_HTML },
    { ngx_string("json"), NGX_HTTP_AIM_ERRORS_JSON },
    { ngx_null_string, 0 }
};


#define NGX_HTTP_AIM_CONF                                                    \
    NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_HTTP_LMT_CONF

/* a directive that is the core's option "name" (aim_options()) */
#define NGX_HTTP_AIM_OPTION(name)                                            \
    { ngx_string("aim_" name), NGX_HTTP_AIM_CONF|NGX_CONF_1MORE,             \
      ngx_http_aim_option, NGX_HTTP_LOC_CONF_OFFSET, 0, NULL }

static ngx_command_t  ngx_http_aim_commands[] = {

    { ngx_string("aim"),
      NGX_HTTP_AIM_CONF|NGX_CONF_FLAG,
      ngx_http_aim,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, enable),
      NULL },

    /* one directive per core option, from the core's own list */
#define NGX_HTTP_AIM_OPTION_X(name)  NGX_HTTP_AIM_OPTION(#name),
    AIM_OPTION_NAMES(NGX_HTTP_AIM_OPTION_X)
#undef NGX_HTTP_AIM_OPTION_X

    { ngx_string("aim_config"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE1,
      ngx_http_aim_config,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

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
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, dpop),
      &ngx_http_aim_dpop_modes },

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

    { ngx_string("aim_token"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, token),
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

    { ngx_string("aim_challenge_scope"),
      NGX_HTTP_AIM_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, challenge_scope),
      NULL },

    { ngx_string("aim_errors"),
      NGX_HTTP_AIM_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, errors),
      &ngx_http_aim_error_formats },

    { ngx_string("aim_recheck"),
      NGX_HTTP_AIM_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, recheck),
      NULL },

    { ngx_string("aim_mcp"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, mcp),
      NULL },

    { ngx_string("aim_mcp_max_body"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_aim_loc_conf_t, mcp_max_body),
      NULL },

    { ngx_string("aim_resource_metadata_document"),
      NGX_HTTP_LOC_CONF|NGX_CONF_ANY,
      ngx_http_aim_metadata_document,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_aim_module_ctx = {
    ngx_http_aim_preconfiguration,         /* preconfiguration */
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
    ngx_http_aim_init_module,              /* init module */
    ngx_http_aim_init_process,             /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * $aim_NAME: the verified token's NAME (aim_token_NAME()).  Not cached:
 * nginx's cache is shared by a request's subrequests and kept across
 * "rewrite ... last" and internal redirects, and a value read under
 * another configuration (another verifier, policy or token source, a
 * subrequest's decision) must not reach this location's upstream.
 */
#define NGX_HTTP_AIM_TOKEN_VAR(name)                                         \
    { ngx_string("aim_" #name), NULL, ngx_http_aim_variable,                 \
      (uintptr_t) aim_token_##name, NGX_HTTP_VAR_NOCACHEABLE, 0 }

static ngx_http_variable_t  ngx_http_aim_vars[] = {

    NGX_HTTP_AIM_TOKEN_VAR(agent),
    NGX_HTTP_AIM_TOKEN_VAR(subject),
    NGX_HTTP_AIM_TOKEN_VAR(owner),
    NGX_HTTP_AIM_TOKEN_VAR(issuer),
    NGX_HTTP_AIM_TOKEN_VAR(scope),
    NGX_HTTP_AIM_TOKEN_VAR(jti),
    NGX_HTTP_AIM_TOKEN_VAR(chain),

    { ngx_string("aim_reason"), NULL, ngx_http_aim_reason_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aim_claim_"), NULL, ngx_http_aim_claim_variable,
      0, NGX_HTTP_VAR_PREFIX|NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_event_t  ngx_http_aim_refresh_event;


/*
 * First in the location's rewrite phase (handlers of a phase run in the
 * reverse order of registration, and this module registers after the
 * rewrite module), so a "return", "rewrite" or "set" of the location
 * runs only for a request aim allowed.
 */

static ngx_int_t
ngx_http_aim_rewrite_handler(ngx_http_request_t *r)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (r == r->main && clcf->satisfy == NGX_HTTP_SATISFY_ANY) {
        /* one vote among the access modules: the access phase */
        return NGX_DECLINED;
    }

    return ngx_http_aim_phase(r, NGX_DECLINED, 0);
}


static ngx_int_t
ngx_http_aim_access_handler(ngx_http_request_t *r)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    /* under "satisfy any", one vote among the access modules */

    return ngx_http_aim_phase(r, NGX_OK,
                              clcf->satisfy == NGX_HTTP_SATISFY_ANY);
}


/* Subrequests skip the access phase; an "if" may have changed theirs. */

static ngx_int_t
ngx_http_aim_precontent_handler(ngx_http_request_t *r)
{
    if (r == r->main) {
        return NGX_DECLINED;
    }

    return ngx_http_aim_phase(r, NGX_DECLINED, 0);
}


/*
 * A phase's decision in an "aim on" location: "allowed" to go on, else
 * the refusal, which nginx answers when aim is one vote among others.
 */

static ngx_int_t
ngx_http_aim_phase(ngx_http_request_t *r, ngx_int_t allowed, ngx_uint_t vote)
{
    ngx_int_t                 rc;
    ngx_http_aim_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aim_module);

    if (!alcf->enable) {
        return NGX_DECLINED;
    }

    rc = ngx_http_aim_check(r, alcf);

    if (rc == NGX_OK) {
        return allowed;
    }

    return vote ? rc : ngx_http_aim_refuse(r, alcf, rc);
}


/*
 * A refusal, answered by nginx (its error pages, error_page) or, with
 * "aim_errors json", here with a JSON body for a main request.
 */

static ngx_int_t
ngx_http_aim_refuse(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf,
    ngx_int_t rc)
{
    if (rc < NGX_HTTP_SPECIAL_RESPONSE
        || !ngx_http_aim_json_errors(alcf)
        || r != r->main)
    {
        return rc;
    }

    ngx_http_finalize_request(r, ngx_http_aim_send_error(r, rc));

    return NGX_DONE;
}


/*
 * Decide, unless this request was decided in an earlier phase for the
 * same requirements: NGX_OK, NGX_DECLINED (a CORS preflight let through),
 * NGX_DONE (an MCP body is being read) or the status to refuse with.
 */

static ngx_int_t
ngx_http_aim_check(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf)
{
    ngx_int_t            rc;
    ngx_http_aim_ctx_t  *ctx;

    if (alcf->bypass_preflight && r->method == NGX_HTTP_OPTIONS) {
        rc = ngx_http_aim_preflight(r);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    ctx = ngx_http_aim_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (alcf->mcp) {
        rc = ngx_http_aim_mcp_read(r, alcf, ctx);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ctx->decided) {
        switch (ngx_http_aim_same(r, ctx, alcf)) {
        case NGX_OK:
            return ctx->rc;
        case NGX_ERROR:
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        default:
            break;
        }
    }

    if (alcf->mcp) {
        return ngx_http_aim_mcp_decide(r, alcf, ctx);
    }

    return ngx_http_aim_decide(r, alcf, ctx);
}


/*
 * Was ctx's decision taken for what alcf requires of this request?  The
 * same verifier, binding rules and scopes (an "if" block that sets no aim
 * directive inherits all of them), and the same aim_token and
 * aim_dpop_origin values; an allow kept for re-checks where alcf wants
 * them: NGX_OK; NGX_DECLINED: decide again.
 */

static ngx_int_t
ngx_http_aim_same(ngx_http_request_t *r, ngx_http_aim_ctx_t *ctx,
    ngx_http_aim_loc_conf_t *alcf)
{
    ngx_uint_t                i;
    ngx_str_t                 joined;
    aim_request               req;
    ngx_http_aim_scope_t     *sc;
    ngx_http_aim_loc_conf_t  *prev;

    prev = ctx->conf;

    if (prev != alcf
        && (!ngx_http_aim_same_credentials(prev, alcf)
            || prev->scopes != alcf->scopes
            || prev->scope_any != alcf->scope_any
            || prev->mcp != alcf->mcp
            || prev->mcp_max_body != alcf->mcp_max_body
            || (alcf->recheck && !prev->recheck)))
    {
        return NGX_DECLINED;
    }

    switch (ngx_http_aim_same_values(r, alcf, ctx)) {
    case NGX_OK:
        break;
    case NGX_ERROR:
        return NGX_ERROR;
    default:
        return NGX_DECLINED;
    }

    if (alcf->scopes == NULL) {
        return NGX_OK;
    }

    sc = alcf->scopes->elts;

    for (i = 0; i < alcf->scopes->nelts; i++) {
        if (sc[i].fixed == NULL) {
            break;
        }
    }

    if (i == alcf->scopes->nelts) {
        return NGX_OK;
    }

    /* scopes built from variables: the same values? */

    if (ctx->mcp_scopes.data) {
        return ngx_http_aim_mcp_same(r, alcf, ctx);
    }

    ngx_memzero(&req, sizeof(aim_request));

    if (ngx_http_aim_scopes(r, alcf, &req, &joined) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_aim_same_scopes(&joined, &ctx->scopes);
}


/* The scopes required now are those decided: NGX_OK, else NGX_DECLINED. */

ngx_int_t
ngx_http_aim_same_scopes(ngx_str_t *now, ngx_str_t *decided)
{
    return (now->len == decided->len
            && (now->len == 0
                || ngx_memcmp(now->data, decided->data, now->len) == 0))
           ? NGX_OK : NGX_DECLINED;
}


/*
 * A CORS preflight, as the core tells it (aim_http_preflight: OPTIONS
 * with Origin and Access-Control-Request-Method, no credentials, no
 * body): NGX_DECLINED, let through; NGX_OK, decide it.
 */

static ngx_int_t
ngx_http_aim_preflight(ngx_http_request_t *r)
{
    aim_http_request  h;

    if (ngx_http_aim_http(r, &h) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return aim_http_preflight(&h) ? NGX_DECLINED : NGX_OK;
}


/*
 * Variables.  The identity comes from this request's decision; before it
 * (limit_req in front of "satisfy any", a map evaluated early) from an
 * identification of the token, which records a DPoP proof as this
 * request's own; in a location without aim, from what the main request
 * decided last (an error_page location, a subrequest).
 */

static aim_decision *
ngx_http_aim_variable_decision(ngx_http_request_t *r)
{
    ngx_http_aim_ctx_t       *ctx;
    ngx_http_aim_main_t      *mn;
    ngx_http_aim_loc_conf_t  *alcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aim_module);

    if (ctx && ctx->decided) {
        return &ctx->decision;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aim_module);

    if (alcf->enable && alcf->verifier) {
        ctx = ngx_http_aim_get_ctx(r);
        if (ctx == NULL) {
            return NULL;
        }

        if (ngx_http_aim_identify(r, alcf, ctx) != NGX_OK) {
            return NULL;
        }

        return &ctx->identity;
    }

    mn = ngx_http_aim_get_main(r);

    return (mn && mn->last) ? &mn->last->decision : NULL;
}


/* The verified token, unless its key binding failed. */

static aim_token *
ngx_http_aim_variable_token(ngx_http_request_t *r)
{
    aim_decision  *d;

    d = ngx_http_aim_variable_decision(r);

    if (d == NULL
        || d->token == NULL
        || d->proof_error
        || d->status == AIM_BAD_BINDING
        || d->status == AIM_REPLAY)
    {
        return NULL;
    }

    return d->token;
}


static ngx_int_t
ngx_http_aim_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    const char  *(*field)(const aim_token *) =
                    (const char *(*)(const aim_token *)) data;

    const char  *s;
    aim_token   *t;

    t = ngx_http_aim_variable_token(r);
    s = t ? field(t) : NULL;

    if (s == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_aim_set_value(r, v, s, 0);
}


/* The reason of a decision; nothing ("-" in a log) when none was taken. */

static ngx_int_t
ngx_http_aim_reason_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_aim_ctx_t   *ctx;
    ngx_http_aim_main_t  *mn;

    mn = ngx_http_aim_get_main(r);

    if (mn && mn->ended != AIM_OK) {
        /* a re-check ended the response */
        return ngx_http_aim_set_value(r, v, aim_reason(mn->ended), 0);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_aim_module);

    if (ctx == NULL || !ctx->decided) {
        ctx = mn ? mn->last : NULL;
    }

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_aim_set_value(r, v, aim_reason(ctx->decision.status), 0);
}


static ngx_int_t
ngx_http_aim_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t *name = (ngx_str_t *) data;

    char       *claim, *value;
    ngx_int_t   rc;
    ngx_str_t   s;
    aim_token  *t;

    t = ngx_http_aim_variable_token(r);

    if (t == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s.data = name->data + sizeof("aim_claim_") - 1;
    s.len = name->len - (sizeof("aim_claim_") - 1);

    claim = ngx_http_aim_cstr(r->pool, &s);
    if (claim == NULL) {
        return NGX_ERROR;
    }

    value = aim_token_claim(t, claim);

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


/*
 * The variables, and a check that every option of the core has its
 * directive here: a core with an option this module does not know fails
 * "nginx -t" instead of silently lacking it.
 */

static ngx_int_t
ngx_http_aim_preconfiguration(ngx_conf_t *cf)
{
    size_t             n, i;
    ngx_command_t     *cmd;
    const aim_option  *opt;

    opt = aim_options(&n);

    for (i = 0; i < n; i++) {
        for (cmd = ngx_http_aim_commands; cmd->name.len; cmd++) {
            if (cmd->set == ngx_http_aim_option
                && ngx_strcmp(cmd->name.data + 4, opt[i].name) == 0)
            {
                break;
            }
        }

        if (cmd->name.len == 0) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "aim: libaim has the option \"%s\" and this module "
                          "no \"aim_%s\" directive: rebuild the module "
                          "against this libaim", opt[i].name, opt[i].name);
            return NGX_ERROR;
        }
    }

    if (ngx_http_aim_add_variables(cf, ngx_http_aim_vars) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_aim_mcp_add_variables(cf);
}


ngx_int_t
ngx_http_aim_add_variables(ngx_conf_t *cf, ngx_http_variable_t *vars)
{
    ngx_http_variable_t  *var, *v;

    for (v = vars; v->name.len; v++) {
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
    ngx_http_handler_pt        *h;
    ngx_http_aim_main_conf_t   *amcf;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_aim_rewrite_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_aim_access_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_aim_precontent_handler;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aim_module);

    if (amcf->dpop_used) {
        /* the DPoP replay store, shared by all workers */
        return ngx_http_aim_replay_init(cf, amcf->replay_size);
    }

    return NGX_OK;
}


/*
 * The workers run as the "user" directive's user and re-read the watched
 * files themselves: check, as that user, that they can.  An unreadable
 * list is refused at run time (the core fails closed); here "nginx -t" and
 * a first start fail, and a reload says why workers will refuse.  A state
 * file the workers cannot open read-write is the master's to open: they
 * keep that one.
 */

static ngx_int_t
ngx_http_aim_init_module(ngx_cycle_t *cycle)
{
    ngx_http_aim_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_aim_module);

    if (amcf == NULL) {
        return NGX_OK;
    }

    return ngx_http_aim_check_access(cycle, &amcf->verifiers,
                                     ngx_http_aim_verifier_watched, 0,
                                     "workers will refuse tokens that depend "
                                     "on the files above until they are "
                                     "readable");
}


static const char *
ngx_http_aim_verifier_watched(void *unit, ngx_uint_t i, int *rw)
{
    ngx_http_aim_verifier_t  *av = unit;

    return aim_verifier_watched(av->verifier, i, rw);
}


/*
 * Can the workers open the files of these units (an array of pointers
 * to units)?  Checked in a child with the workers' user, group and
 * groups, when nginx starts as root.  A file to open read-write that
 * cannot be is a failure when rw_needed, else a warning.  A reload goes
 * on with an alert saying what the workers will do (consequence): the
 * running master must not exit.
 */

ngx_int_t
ngx_http_aim_check_access(ngx_cycle_t *cycle, ngx_array_t *units,
    ngx_http_aim_watched_pt watched, ngx_uint_t rw_needed,
    const char *consequence)
{
    int               status, rw, fd;
    void            **unit;
    pid_t             pid;
    ngx_uint_t        i, j, failed;
    const char       *path;
    ngx_core_conf_t  *ccf;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (units->nelts == 0 || geteuid() != 0
        || ccf->user == (ngx_uid_t) NGX_CONF_UNSET_UINT)
    {
        return NGX_OK;
    }

    pid = fork();

    if (pid == -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno, "aim: fork() failed");
        return NGX_ERROR;
    }

    if (pid == 0) {
        if (setgid(ccf->group) == -1
            || initgroups(ccf->username, ccf->group) == -1
            || setuid(ccf->user) == -1)
        {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                          "aim: cannot check the files workers open as the "
                          "worker user \"%s\"", ccf->username);
            _exit(1);
        }

        failed = 0;
        unit = units->elts;

        for (i = 0; i < units->nelts; i++) {
            for (j = 0; (path = watched(unit[i], j, &rw)); j++) {

                fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_NONBLOCK);
                if (fd >= 0) {
                    close(fd);

                } else if (!rw) {
                    ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                                  "aim: the worker user \"%s\" cannot read "
                                  "\"%s\", which workers re-read when it "
                                  "changes", ccf->username, path);
                    failed = 1;

                } else if (rw_needed) {
                    ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                                  "aim: the worker user \"%s\" cannot open "
                                  "\"%s\" read-write, as every worker must "
                                  "to take its lock (give the state file's "
                                  "directory and files to a group of the "
                                  "worker user, docs/operations.md)",
                                  ccf->username, path);
                    failed = 1;

                } else {
                    ngx_log_error(NGX_LOG_WARN, cycle->log, ngx_errno,
                                  "aim: the worker user \"%s\" cannot open the "
                                  "state file \"%s\" read-write: workers keep "
                                  "the one opened now and cannot follow it if "
                                  "it is replaced", ccf->username, path);
                }
            }
        }

        _exit(failed);
    }

    while (waitpid(pid, &status, 0) == -1 && ngx_errno == NGX_EINTR) {
        /* void */
    }

    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return NGX_OK;
    }

    if (ngx_test_config || ngx_is_init_cycle(cycle->old_cycle)) {
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_ALERT, cycle->log, 0, "aim: %s", consequence);

    return NGX_OK;
}


/*
 * Each worker re-reads changed files from a timer, off the request path:
 * a request never waits for a reload (the core is told not to refresh on
 * its own); then the responses still open are decided again.
 */

static ngx_int_t
ngx_http_aim_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                 i;
    ngx_http_aim_verifier_t  **avp;
    ngx_http_aim_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_aim_module);

    if (amcf == NULL || amcf->verifiers.nelts == 0) {
        return NGX_OK;
    }

    avp = amcf->verifiers.elts;

    for (i = 0; i < amcf->verifiers.nelts; i++) {
        aim_verifier_set_auto_refresh(avp[i]->verifier, 0);
    }

    ngx_http_aim_recheck_init();

    ngx_http_aim_refresh_event.handler = ngx_http_aim_refresh;
    ngx_http_aim_refresh_event.log = cycle->log;
    ngx_http_aim_refresh_event.data = amcf;
    ngx_http_aim_refresh_event.cancelable = 1;

    ngx_add_timer(&ngx_http_aim_refresh_event, 500);

    return NGX_OK;
}


static void
ngx_http_aim_refresh(ngx_event_t *ev)
{
    ngx_uint_t                 i;
    ngx_http_aim_verifier_t  **avp;
    ngx_http_aim_main_conf_t  *amcf;

    amcf = ev->data;
    avp = amcf->verifiers.elts;

    /* at most once per aim_reload_interval: the core keeps the time */

    for (i = 0; i < amcf->verifiers.nelts; i++) {
        aim_verifier_refresh(avp[i]->verifier);
    }

    ngx_http_aim_recheck();

    /*
     * A worker shutting down gracefully (a reload) still serves the
     * streams it has open, and keeps deciding them; the timer is
     * cancelable, so it never keeps the worker alive.
     */

    ngx_add_timer(ev, 500);
}


static void *
ngx_http_aim_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_aim_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_aim_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

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
     *     conf->enable_file = { 0, NULL };
     *     conf->options = NULL;
     *     conf->config = NULL;
     *     conf->dpop_origin = NULL;
     *     conf->token = NULL;
     *     conf->realm = { 0, NULL };
     *     conf->resource_metadata = { 0, NULL };
     *     conf->metadata = { 0, NULL };
     *     conf->metadata_file = { 0, NULL };
     *     conf->verifier = NULL;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->audit = NGX_CONF_UNSET_UINT;
    conf->scopes = NGX_CONF_UNSET_PTR;
    conf->scope_any = NGX_CONF_UNSET;
    conf->dpop = NGX_CONF_UNSET_UINT;
    conf->bypass_preflight = NGX_CONF_UNSET;
    conf->challenge_scope = NGX_CONF_UNSET;
    conf->errors = NGX_CONF_UNSET_UINT;
    conf->mcp = NGX_CONF_UNSET;
    conf->mcp_max_body = NGX_CONF_UNSET_SIZE;
    conf->recheck = NGX_CONF_UNSET;
    conf->metadata_scopes = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_aim_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_aim_loc_conf_t *prev = parent;
    ngx_http_aim_loc_conf_t *conf = child;

    ngx_uint_t                 own_audit;
    ngx_http_aim_opt_t        *aud;
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_aim_main_conf_t  *amcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    if (conf->enable_file.len == 0) {
        conf->enable_file = prev->enable_file;
        conf->enable_line = prev->enable_line;
    }

    /* every core option is inherited as a whole, like add_header */

    own_audit = (conf->audit != NGX_CONF_UNSET_UINT);

    ngx_conf_merge_uint_value(conf->audit, prev->audit,
                              NGX_HTTP_AIM_AUDIT_LOG);

    if (ngx_http_aim_merge_options(cf, conf, prev, own_audit) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (conf->config == NULL) {
        conf->config = prev->config;
    }

    ngx_conf_merge_ptr_value(conf->scopes, prev->scopes, NULL);
    ngx_conf_merge_value(conf->scope_any, prev->scope_any, 0);
    ngx_conf_merge_uint_value(conf->dpop, prev->dpop, AIM_DPOP_OFF);

    if (conf->dpop_origin == NULL) {
        conf->dpop_origin = prev->dpop_origin;
    }

    if (conf->token == NULL) {
        conf->token = prev->token;
    }

    ngx_conf_merge_value(conf->bypass_preflight, prev->bypass_preflight, 0);

    ngx_conf_merge_value(conf->mcp, prev->mcp, 0);
    ngx_conf_merge_size_value(conf->mcp_max_body, prev->mcp_max_body,
                              1024 * 1024);
    ngx_conf_merge_value(conf->recheck, prev->recheck, 1);

    /*
     * Unset, these follow aim_mcp where it is used (an MCP location speaks
     * to OAuth clients), so they stay unset through enclosing blocks.
     */

    if (conf->challenge_scope == NGX_CONF_UNSET) {
        conf->challenge_scope = prev->challenge_scope;
    }

    if (conf->errors == NGX_CONF_UNSET_UINT) {
        conf->errors = prev->errors;
    }

    if (conf->mcp_max_body == 0 || conf->mcp_max_body > AIM_MCP_MAX_BODY) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"aim_mcp_max_body\" must be between 1 and %uzk",
                           (size_t) AIM_MCP_MAX_BODY / 1024);
        return NGX_CONF_ERROR;
    }

    if (conf->realm.data == NULL) {
        conf->realm = prev->realm;
        conf->realm_audience = prev->realm_audience;
    }

    if ((conf->realm.data == NULL || conf->realm_audience) && conf->options) {
        /* the realm of challenges: the audience this block is */
        aud = ngx_http_aim_find(conf->options, conf->options->nelts,
                                "audience");
        if (aud) {
            conf->realm.data = (u_char *) aud->args[0];
            conf->realm.len = ngx_strlen(aud->args[0]);
            conf->realm_audience = 1;
        }
    }

    /* RFC 9728: where this resource's metadata is; the document, here */

    if (ngx_http_aim_metadata_url(cf, conf, prev) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->metadata_scopes == NGX_CONF_UNSET_PTR
        && clcf->noname && prev->metadata_scopes)
    {
        /*
         * a location's "if" or "limit_except" block serves the document
         * its location does (nginx runs the location's handler with the
         * block's configuration), built for the block's settings
         */

        conf->metadata_scopes = prev->metadata_scopes;
        conf->metadata_file = prev->metadata_file;
        conf->metadata_line = prev->metadata_line;

        if (clcf->handler == NULL) {
            clcf->handler = ngx_http_aim_metadata_handler;
        }
    }

    if (conf->metadata_scopes == NGX_CONF_UNSET_PTR) {
        conf->metadata_scopes = NULL;    /* a content handler's: not inherited */

    } else if (ngx_http_aim_metadata_build(cf, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    conf->verifier = ngx_http_aim_get_verifier(cf, conf);
    if (conf->verifier == NULL) {
        return NGX_CONF_ERROR;
    }

    if (conf->dpop != AIM_DPOP_OFF) {
        amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aim_module);
        amcf->dpop_used = 1;
    }

    return NGX_CONF_OK;
}


/* The options this block does not set come from the enclosing block. */

static ngx_int_t
ngx_http_aim_merge_options(ngx_conf_t *cf, ngx_http_aim_loc_conf_t *conf,
    ngx_http_aim_loc_conf_t *prev, ngx_uint_t own_audit)
{
    ngx_uint_t           i, own;
    ngx_http_aim_opt_t  *po, *o;

    if (prev->options == NULL) {
        return NGX_OK;
    }

    if (conf->options == NULL) {
        if (!own_audit
            || ngx_http_aim_find(prev->options, prev->options->nelts, "audit")
               == NULL)
        {
            conf->options = prev->options;
            return NGX_OK;
        }

        conf->options = ngx_array_create(cf->pool, prev->options->nelts,
                                         sizeof(ngx_http_aim_opt_t));
        if (conf->options == NULL) {
            return NGX_ERROR;
        }
    }

    own = conf->options->nelts;
    po = prev->options->elts;

    for (i = 0; i < prev->options->nelts; i++) {
        if ((own_audit && ngx_strcmp(po[i].option->name, "audit") == 0)
            || ngx_http_aim_find(conf->options, own, po[i].option->name))
        {
            continue;
        }

        o = ngx_array_push(conf->options);
        if (o == NULL) {
            return NGX_ERROR;
        }

        *o = po[i];
    }

    return NGX_OK;
}


ngx_http_aim_opt_t *
ngx_http_aim_find(ngx_array_t *a, ngx_uint_t n, const char *name)
{
    ngx_uint_t           i;
    ngx_http_aim_opt_t  *o, *found;

    found = NULL;
    o = a->elts;

    for (i = 0; i < n; i++) {
        if (ngx_strcmp(o[i].option->name, name) == 0) {
            found = &o[i];
        }
    }

    return found;
}


/*
 * One verifier per set of options: locations that inherit their options
 * (the same array, the same aim_config and audit sink) share its keys and
 * token cache.  Verifiers are built here, in the master, and each worker
 * gets its own copy when it forks.
 */

static ngx_http_aim_verifier_t *
ngx_http_aim_get_verifier(ngx_conf_t *cf, ngx_http_aim_loc_conf_t *alcf)
{
    ngx_uint_t                  i, n;
    aim_error                   err;
    aim_config                 *cfg;
    const char                 *missing;
    ngx_str_t                   what;
    ngx_http_aim_verifier_t    *av, **avp;
    ngx_http_aim_main_conf_t   *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aim_module);

    avp = amcf->verifiers.elts;
    for (i = 0; i < amcf->verifiers.nelts; i++) {
        if (ngx_http_aim_unit_same(&avp[i]->unit, alcf)) {
            return avp[i];
        }
    }

    n = alcf->options ? alcf->options->nelts : 0;

    if (alcf->config == NULL) {
        missing = (n == 0 || !ngx_http_aim_find(alcf->options, n, "keys"))
                  ? "aim_keys"
                  : !ngx_http_aim_find(alcf->options, n, "issuer")
                  ? "aim_issuer"
                  : !ngx_http_aim_find(alcf->options, n, "audience")
                  ? "aim_audience" : NULL;

        if (missing) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"aim on\" in %V:%ui needs \"%s\" (here or in an "
                          "enclosing block)", &alcf->enable_file,
                          alcf->enable_line, missing);
            return NULL;
        }
    }

    ngx_str_set(&what, "aim on");

    cfg = ngx_http_aim_unit_config(cf, alcf, &what, &alcf->enable_file,
                                   alcf->enable_line);
    if (cfg == NULL) {
        return NULL;
    }

    av = ngx_http_aim_alloc(cf->pool, sizeof(ngx_http_aim_verifier_t),
                            ngx_http_aim_verifier_cleanup);
    if (av == NULL) {
        aim_config_free(cfg);
        return NULL;
    }

    ngx_memzero(&err, sizeof(aim_error));

    av->verifier = aim_verifier_new(cfg, &err);

    aim_config_free(cfg);

    if (av->verifier == NULL) {
        ngx_http_aim_unit_error(cf, alcf, &err, &what, &alcf->enable_file,
                                alcf->enable_line);
        return NULL;
    }

    ngx_http_aim_unit_init(&av->unit, alcf);
    aim_verifier_set_log(av->verifier, ngx_http_aim_log, &av->unit);

    avp = ngx_array_push(&amcf->verifiers);
    if (avp == NULL) {
        return NULL;
    }

    *avp = av;

    return av;
}


static void
ngx_http_aim_verifier_cleanup(void *data)
{
    ngx_http_aim_verifier_t  *av = data;

    aim_verifier_free(av->verifier);
}


void
ngx_http_aim_unit_init(ngx_http_aim_unit_t *unit,
    ngx_http_aim_loc_conf_t *alcf)
{
    unit->options = alcf->options;
    unit->config = alcf->config;
    unit->audit = alcf->audit;
}


/* Was this unit built from what alcf sets? */

ngx_uint_t
ngx_http_aim_unit_same(ngx_http_aim_unit_t *unit,
    ngx_http_aim_loc_conf_t *alcf)
{
    return unit->options == alcf->options && unit->config == alcf->config
           && unit->audit == alcf->audit;
}


/*
 * The core's configuration for a unit of this block: its options as
 * inherited, then aim_config's file (settings given directly win over
 * it).  NULL when it is bad, said against the directive at fault, else
 * against "what" at file:line.
 */

aim_config *
ngx_http_aim_unit_config(ngx_conf_t *cf, ngx_http_aim_loc_conf_t *alcf,
    ngx_str_t *what, ngx_str_t *file, ngx_uint_t line)
{
    ngx_uint_t           i, n;
    aim_error            err;
    aim_config          *cfg;
    ngx_http_aim_opt_t  *o;

    cfg = aim_config_new();
    if (cfg == NULL) {
        return NULL;
    }

    ngx_memzero(&err, sizeof(aim_error));

    n = alcf->options ? alcf->options->nelts : 0;
    o = n ? alcf->options->elts : NULL;

    for (i = 0; i < n; i++) {
        if (aim_config_set_args(cfg, o[i].option->name, o[i].args, o[i].nargs,
                                &err)
            != AIM_OK)
        {
            aim_config_free(cfg);
            ngx_http_aim_unit_error(cf, alcf, &err, what, file, line);
            return NULL;
        }
    }

    if (alcf->config
        && aim_config_load(cfg, alcf->config->args[0], &err) != AIM_OK)
    {
        aim_config_free(cfg);
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"aim_config\" directive: %s in %V:%ui", err.message,
                      &alcf->config->file, alcf->config->line);
        return NULL;
    }

    return cfg;
}


/*
 * The core names the option that failed (err->option): point at the
 * directive that set it, else at aim_config, else at "what" (file:line).
 */

void
ngx_http_aim_unit_error(ngx_conf_t *cf, ngx_http_aim_loc_conf_t *alcf,
    aim_error *err, ngx_str_t *what, ngx_str_t *file, ngx_uint_t line)
{
    ngx_http_aim_opt_t  *site;

    site = (err->option && alcf->options)
           ? ngx_http_aim_find(alcf->options, alcf->options->nelts, err->option)
           : NULL;

    if (site == NULL) {
        site = alcf->config;
    }

    if (site) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"aim_%s\" directive: %s in %V:%ui", site->option
                      ? site->option->name : "config", err->message,
                      &site->file, site->line);
        return;
    }

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "\"%V\" in %V:%ui: %s", what,
                  file, line, err->message);
}


/*
 * The core's messages go to the request's error log while it works for
 * a request (ngx_http_aim_unit_enter), else to the cycle's.
 */

void
ngx_http_aim_log(void *ud, int level, const char *msg)
{
    ngx_http_aim_unit_t  *unit = ud;

    ngx_uint_t  lvl;

    lvl = (level == AIM_LOG_ERR) ? NGX_LOG_ERR
          : (level == AIM_LOG_WARN) ? NGX_LOG_WARN : NGX_LOG_INFO;

    ngx_log_error(lvl, unit->log ? unit->log : ngx_cycle->log, 0, "aim: %s",
                  msg);
}


/*
 * The core works for a request (log) or stops (NULL): its messages go to
 * that request's error log, and audit lines too unless aim_audit names a
 * file (which the core writes itself) or is off.  Returns the audit
 * callback to give the core: NULL where a line would go nowhere, so a
 * line the error log would drop is not even formatted.
 */

aim_audit_fn
ngx_http_aim_unit_enter(ngx_http_aim_unit_t *unit, ngx_log_t *log)
{
    unit->log = log;

    return (log && unit->audit == NGX_HTTP_AIM_AUDIT_LOG
            && log->log_level >= NGX_LOG_INFO)
           ? ngx_http_aim_audit_line : NULL;
}


static void
ngx_http_aim_audit_line(void *ud, const char *line)
{
    ngx_http_aim_unit_t  *unit = ud;

    ngx_log_error(NGX_LOG_INFO, unit->log ? unit->log : ngx_cycle->log, 0,
                  "aim audit: %s", line);
}


static char *
ngx_http_aim(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_aim_loc_conf_t *alcf = conf;

    char  *rv;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    alcf->enable_file = cf->conf_file->file.name;
    alcf->enable_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/*
 * aim_NAME: the core's option NAME (aim_option_find), its arguments as
 * separate words, in nginx's forms where nginx has one: times ("30s",
 * "1m"), "off" for a number that may be 0, file names relative to the
 * configuration prefix.  aim_audit also takes "error_log" and "off".
 * The value is checked by the core at once, so a bad one is reported at
 * its own line.
 */

static char *
ngx_http_aim_option(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_aim_loc_conf_t *alcf = conf;

    size_t               i, n;
    time_t               sec;
    ngx_str_t           *value, v, path, pre;
    aim_error            err;
    aim_status           s;
    aim_config          *cfg;
    const char         **args;
    const aim_option    *opt;
    ngx_http_aim_opt_t  *o;

    opt = aim_option_find((const char *) cmd->name.data + 4);
    if (opt == NULL) {
        return "is not an option of this libaim";
    }

    value = cf->args->elts;
    n = cf->args->nelts - 1;

    if (ngx_strcmp(opt->name, "audit") == 0 && n == 1
        && (ngx_strcmp(value[1].data, "off") == 0
            || ngx_strcmp(value[1].data, "error_log") == 0))
    {
        if (alcf->audit != NGX_CONF_UNSET_UINT) {
            return "is duplicate";
        }

        alcf->audit = (value[1].data[0] == 'o') ? NGX_HTTP_AIM_AUDIT_OFF
                                                : NGX_HTTP_AIM_AUDIT_LOG;
        return NGX_CONF_OK;
    }

    if (!opt->multi
        && ((alcf->options
             && ngx_http_aim_find(alcf->options, alcf->options->nelts,
                                  opt->name))
            || (ngx_strcmp(opt->name, "audit") == 0
                && alcf->audit != NGX_CONF_UNSET_UINT)))
    {
        return "is duplicate";
    }

    args = ngx_palloc(cf->pool, (n ? n : 1) * sizeof(char *));
    if (args == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < n; i++) {
        v = value[i + 1];

        switch (opt->type) {

        case AIM_OPTION_SECONDS:
            sec = ngx_parse_time(&v, 1);
            if (sec == (time_t) NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\" directive: \"%V\" is not a time",
                                   &cmd->name, &value[i + 1]);
                return NGX_CONF_ERROR;
            }

            v.data = ngx_pnalloc(cf->pool, NGX_TIME_T_LEN);
            if (v.data == NULL) {
                return NGX_CONF_ERROR;
            }

            v.len = ngx_sprintf(v.data, "%T", sec) - v.data;
            break;

        case AIM_OPTION_NUMBER:
            if (opt->min == 0 && ngx_strcmp(v.data, "off") == 0) {
                ngx_str_set(&v, "0");
            }

            break;

        case AIM_OPTION_KEYS:
            if (ngx_strncmp(v.data, "issuer=", 7) == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\" directive: invalid parameter "
                                   "\"%V\": write \"aim_keys ISSUER FILE;\"",
                                   &cmd->name, &v);
                return NGX_CONF_ERROR;
            }

            if (i + 1 < n) {
                break;
            }

            /* the last word is a file, possibly after "pem:ALG:" */

            path = v;
            ngx_str_null(&pre);

            if (v.len > 4 && ngx_strncmp(v.data, "pem:", 4) == 0) {
                path.data = ngx_strlchr(v.data + 4, v.data + v.len, ':');
                if (path.data == NULL) {
                    break;      /* the core says what is wrong */
                }

                path.data++;
                path.len = v.data + v.len - path.data;
                pre.data = v.data;
                pre.len = path.data - v.data;
            }

            if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            v.len = pre.len + path.len;
            v.data = ngx_pnalloc(cf->pool, v.len);
            if (v.data == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_memcpy(ngx_cpymem(v.data, pre.data, pre.len), path.data,
                       path.len);
            break;

        case AIM_OPTION_PATH:
        case AIM_OPTION_URI_PATH:
            if (opt->type == AIM_OPTION_URI_PATH && i == 0) {
                break;
            }

            if (ngx_conf_full_name(cf->cycle, &v, 1) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            break;

        default:
            break;
        }

        args[i] = ngx_http_aim_cstr(cf->pool, &v);
        if (args[i] == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    cfg = aim_config_new();
    if (cfg == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&err, sizeof(aim_error));

    s = aim_config_set_args(cfg, opt->name, args, n, &err);

    aim_config_free(cfg);

    if (s != AIM_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"aim_%s\" directive: %s",
                           err.option ? err.option : opt->name, err.message);
        return NGX_CONF_ERROR;
    }

    if (alcf->options == NULL) {
        alcf->options = ngx_array_create(cf->pool, 4,
                                         sizeof(ngx_http_aim_opt_t));
        if (alcf->options == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    o = ngx_array_push(alcf->options);
    if (o == NULL) {
        return NGX_CONF_ERROR;
    }

    o->option = opt;
    o->args = args;
    o->nargs = n;
    o->file = cf->conf_file->file.name;
    o->line = cf->conf_file->line;

    if (ngx_strcmp(opt->name, "audit") == 0) {
        alcf->audit = NGX_HTTP_AIM_AUDIT_FILE;
    }

    return NGX_CONF_OK;
}


/* aim_config FILE: the host configuration file (docs/operations.md). */

static char *
ngx_http_aim_config(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_aim_loc_conf_t *alcf = conf;

    ngx_str_t           *value, path;
    const char         **args;
    ngx_http_aim_opt_t  *o;

    if (alcf->config) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    o = ngx_pcalloc(cf->pool, sizeof(ngx_http_aim_opt_t));
    args = ngx_palloc(cf->pool, sizeof(char *));
    if (o == NULL || args == NULL) {
        return NGX_CONF_ERROR;
    }

    args[0] = ngx_http_aim_cstr(cf->pool, &path);
    if (args[0] == NULL) {
        return NGX_CONF_ERROR;
    }

    o->args = args;
    o->nargs = 1;
    o->file = cf->conf_file->file.name;
    o->line = cf->conf_file->line;

    alcf->config = o;

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

        if (ngx_http_aim_conf_scope(cf, &value[i]) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        sc->fixed = ngx_http_aim_cstr(cf->pool, &value[i]);
        if (sc->fixed == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* A scope in the configuration, checked by the core's grammar. */

ngx_int_t
ngx_http_aim_conf_scope(ngx_conf_t *cf, ngx_str_t *scope)
{
    if (aim_scope_valid((const char *) scope->data, scope->len)) {
        return NGX_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid scope \"%V\": one scope token of printable "
                       "characters except '\"' and '\\'", scope);

    return NGX_ERROR;
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
