/*
 * ngx_http_aim_mcp.c -- "aim_mcp on": least privilege per MCP tool.
 *
 * The Model Context Protocol puts what a client asks for -- the method,
 * the tool, the resource, the prompt -- in the JSON-RPC body of a POST.
 * In an aim_mcp location ngx_aim reads that body (at most
 * aim_mcp_max_body bytes, kept for the upstream: proxy_pass sends it as
 * read) before it decides, has the core read it (aim_mcp_parse), and
 * decides each message with the location's scopes evaluated for that
 * message: $aim_mcp_method, $aim_mcp_tool, $aim_mcp_resource and
 * $aim_mcp_prompt, so "aim_scope" with a "map" requires a scope per
 * tool.  A batch is allowed only if every message is; the first refusal
 * refuses it, and it never reaches the upstream.  A body that is not one
 * JSON-RPC message or batch, or is too big, is refused (400, 413) with a
 * JSON-RPC error, and audited as the module's own denial.
 *
 * Whatever the method, a request that carries a body carries messages:
 * a PUT or a GET with a JSON-RPC body is decided as a POST is (a server
 * may well read it).  The token is identified before the body is read: a
 * request without a valid one is refused at once, with its challenge, and
 * its body is never buffered.  Requests without a body (the GET stream,
 * DELETE) are decided as any request, the variables empty.  A body nginx
 * gives up reading ends the connection with its answer.
 */


#include "ngx_http_aim.h"


#define NGX_HTTP_AIM_MCP_NONE     0
#define NGX_HTTP_AIM_MCP_READING  1
#define NGX_HTTP_AIM_MCP_READ     2
#define NGX_HTTP_AIM_MCP_PARSED   3
#define NGX_HTTP_AIM_MCP_REFUSED  4
#define NGX_HTTP_AIM_MCP_EMPTY    5


struct ngx_http_aim_mcp_s {
    ngx_uint_t                  state;
    aim_mcp                    *messages;
    ngx_int_t                   current;    /* being decided, or -1 */
    ngx_int_t                   status;     /* refused: 400 or 413 */
    ngx_int_t                   code;       /* ... the JSON-RPC error */
    const char                 *message;
    unsigned                    early:1;    /* a variable read too soon */
};


static ngx_http_aim_mcp_t *ngx_http_aim_mcp_get(ngx_http_request_t *r);
static void ngx_http_aim_mcp_cleanup(void *data);
static void ngx_http_aim_mcp_body_handler(ngx_http_request_t *r);
static void ngx_http_aim_mcp_parse(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf, ngx_http_aim_mcp_t *mcp);
static void ngx_http_aim_mcp_refuse(ngx_http_aim_mcp_t *mcp, ngx_int_t status,
    ngx_int_t code, const char *message);
static void ngx_http_aim_mcp_unread(ngx_http_request_t *r,
    ngx_http_aim_mcp_t *mcp, ngx_int_t status);
static ngx_int_t ngx_http_aim_mcp_each(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf, ngx_http_aim_mcp_t *mcp,
    ngx_http_aim_ctx_t *ctx, ngx_str_t *all);
static ngx_uint_t ngx_http_aim_mcp_seen(aim_mcp *m, ngx_uint_t i);
static const char *ngx_http_aim_mcp_resource(ngx_http_request_t *r,
    const aim_mcp_message *msg);
static ngx_int_t ngx_http_aim_mcp_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_aim_mcp_vars[] = {

    { ngx_string("aim_mcp_method"), NULL, ngx_http_aim_mcp_variable,
      offsetof(aim_mcp_message, method), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aim_mcp_tool"), NULL, ngx_http_aim_mcp_variable,
      offsetof(aim_mcp_message, tool), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aim_mcp_resource"), NULL, ngx_http_aim_mcp_variable,
      offsetof(aim_mcp_message, resource), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("aim_mcp_prompt"), NULL, ngx_http_aim_mcp_variable,
      offsetof(aim_mcp_message, prompt), NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/*
 * Before the decision: NGX_OK when the messages are known (or there are
 * none to read: a request without a body, or a token that does not
 * identify, refused without reading the body), NGX_DONE while the body is
 * read, or a status.
 */

ngx_int_t
ngx_http_aim_mcp_read(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf,
    ngx_http_aim_ctx_t *ctx)
{
    ngx_int_t            rc;
    ngx_http_aim_mcp_t  *mcp;

    if (!ngx_http_aim_mcp_body(r)) {
        return NGX_OK;
    }

    mcp = ngx_http_aim_mcp_get(r);
    if (mcp == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (mcp->state) {

    case NGX_HTTP_AIM_MCP_NONE:
        break;

    case NGX_HTTP_AIM_MCP_READING:

        /*
         * The phases run again while the body was being read: nginx gave
         * up reading it (a chunk over client_max_body_size, a broken
         * chunk, a timeout), answered the request itself and error_page
         * brought it here.  Nothing was decided on it, and nothing can be.
         */

        ngx_http_aim_mcp_unread(r, mcp, r->err_status);
        return NGX_OK;

    case NGX_HTTP_AIM_MCP_READ:
        ngx_http_aim_mcp_parse(r, alcf, mcp);
        return NGX_OK;

    default:
        return NGX_OK;
    }

    /* who is this?  no body is read for a token that does not verify */

    if (ngx_http_aim_identify(r, alcf, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->identity.status != AIM_OK) {
        return NGX_OK;
    }

    if (r->headers_in.content_length_n > (off_t) alcf->mcp_max_body) {
        ngx_http_aim_mcp_refuse(mcp, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                AIM_MCP_INVALID_REQUEST,
                                "the body is larger than aim_mcp_max_body");
        return NGX_OK;
    }

    if (r != r->main) {
        /* a subrequest: the client's body, if the main request read it */
        mcp->state = NGX_HTTP_AIM_MCP_READ;
        ngx_http_aim_mcp_parse(r, alcf, mcp);
        return NGX_OK;
    }

    mcp->state = NGX_HTTP_AIM_MCP_READING;

    rc = ngx_http_read_client_request_body(r, ngx_http_aim_mcp_body_handler);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        ngx_http_aim_mcp_unread(r, mcp, rc);
        return rc;
    }

    ngx_http_finalize_request(r, NGX_DONE);
    return NGX_DONE;
}


/*
 * A body nginx would not finish reading (refused with status): what
 * remains of it on the connection must never be read as the next request,
 * so the connection ends with this answer, whoever sends it (ngx_aim's
 * JSON, nginx's page, an error_page location).
 */

static void
ngx_http_aim_mcp_unread(ngx_http_request_t *r, ngx_http_aim_mcp_t *mcp,
    ngx_int_t status)
{
    r->main->keepalive = 0;

    ngx_http_aim_mcp_refuse(mcp, status >= NGX_HTTP_SPECIAL_RESPONSE
                                 ? status : NGX_HTTP_BAD_REQUEST, 0, NULL);
}


/* The body is read: decide, as the mirror module resumes its phase. */

static void
ngx_http_aim_mcp_body_handler(ngx_http_request_t *r)
{
    ngx_http_aim_mcp_t  *mcp;

    mcp = ngx_http_aim_mcp_get(r);

    if (mcp && mcp->state == NGX_HTTP_AIM_MCP_READING) {
        mcp->state = NGX_HTTP_AIM_MCP_READ;
    }

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


/* The body as read, whole, to the core. */

static void
ngx_http_aim_mcp_parse(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf,
    ngx_http_aim_mcp_t *mcp)
{
    int          code;
    u_char      *p;
    ngx_int_t    rc;
    ngx_str_t    body;
    aim_error    err;
    aim_status   s;

    rc = ngx_http_aim_read_body(r, alcf->mcp_max_body, &body);

    if (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
        ngx_http_aim_mcp_refuse(mcp, rc, AIM_MCP_INVALID_REQUEST,
                                "the body is larger than aim_mcp_max_body");
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_aim_mcp_refuse(mcp, rc, 0, NULL);
        return;
    }

    if (body.len == 0 && r->main->method != NGX_HTTP_POST) {
        /* an empty body (HTTP/2 without a length) carries no messages */
        mcp->state = NGX_HTTP_AIM_MCP_EMPTY;
        return;
    }

    ngx_memzero(&err, sizeof(aim_error));

    s = aim_mcp_parse(body.len ? (const char *) body.data : "", body.len,
                      &mcp->messages, &code, &err);

    if (s == AIM_OK) {
        mcp->state = NGX_HTTP_AIM_MCP_PARSED;
        return;
    }

    if (s != AIM_MALFORMED) {
        ngx_http_aim_mcp_refuse(mcp, NGX_HTTP_INTERNAL_SERVER_ERROR, 0, NULL);
        return;
    }

    p = ngx_pnalloc(r->pool, ngx_strlen(err.message) + 1);
    if (p == NULL) {
        ngx_http_aim_mcp_refuse(mcp, NGX_HTTP_INTERNAL_SERVER_ERROR, 0, NULL);
        return;
    }

    ngx_cpystrn(p, (u_char *) err.message, ngx_strlen(err.message) + 1);

    ngx_http_aim_mcp_refuse(mcp, NGX_HTTP_BAD_REQUEST, code, (char *) p);
}


static void
ngx_http_aim_mcp_refuse(ngx_http_aim_mcp_t *mcp, ngx_int_t status,
    ngx_int_t code, const char *message)
{
    mcp->state = NGX_HTTP_AIM_MCP_REFUSED;
    mcp->status = status;
    mcp->code = code;
    mcp->message = message;
}


/*
 * The decision: each message with the scopes the location requires of
 * it, in order, the first refusal refusing all.
 */

ngx_int_t
ngx_http_aim_mcp_decide(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf,
    ngx_http_aim_ctx_t *ctx)
{
    ngx_int_t            rc;
    ngx_http_aim_mcp_t  *mcp;

    mcp = ngx_http_aim_mcp_body(r) ? ngx_http_aim_mcp_get(r) : NULL;

    if (mcp && mcp->state == NGX_HTTP_AIM_MCP_REFUSED) {
        if (mcp->code == 0) {
            return mcp->status;
        }

        ctx->host_status = AIM_MALFORMED;
        ctx->host_message = mcp->message;
        ctx->host_rc = mcp->status;
        ctx->rpc_code = mcp->code;

        return ngx_http_aim_decide(r, alcf, ctx);
    }

    if (mcp == NULL || mcp->state != NGX_HTTP_AIM_MCP_PARSED) {
        /* no body (GET, DELETE), or a token refused before reading one */
        return ngx_http_aim_decide(r, alcf, ctx);
    }

    if (mcp->early) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "aim: $aim_mcp_* was read before ngx_aim read the body "
                      "(in a server-level \"set\" or \"if\"?): a value "
                      "derived from it may be stale; refusing");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_aim_mcp_each(r, alcf, mcp, ctx, &ctx->mcp_scopes);

    ctx->resource = NULL;

    return rc;
}


/*
 * A later phase: were the messages decided with the scopes the location
 * requires of them now (a "set" may have changed a variable)?  NGX_OK,
 * NGX_DECLINED (decide again) or NGX_ERROR.
 */

ngx_int_t
ngx_http_aim_mcp_same(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf,
    ngx_http_aim_ctx_t *ctx)
{
    ngx_str_t            all;
    ngx_http_aim_mcp_t  *mcp;

    mcp = ngx_http_aim_mcp_get(r);

    if (mcp == NULL) {
        return NGX_ERROR;
    }

    if (mcp->state != NGX_HTTP_AIM_MCP_PARSED) {
        return NGX_DECLINED;
    }

    if (ngx_http_aim_mcp_each(r, alcf, mcp, NULL, &all) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_aim_same_scopes(&all, &ctx->mcp_scopes);
}


/*
 * Each message that asks for something no earlier one asked for, in
 * order: decided (with ctx) or only its scopes evaluated (ctx NULL).  The
 * scopes of each, a line each, are in *all.  For a batch each message
 * sees nginx's variable cache as it was before the first, so a "map" of
 * $aim_mcp_tool, cached for one message, is evaluated afresh for the
 * next.  With ctx: NGX_OK or the status of the first refusal; without:
 * NGX_OK or NGX_ERROR.
 */

static ngx_int_t
ngx_http_aim_mcp_each(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf,
    ngx_http_aim_mcp_t *mcp, ngx_http_aim_ctx_t *ctx, ngx_str_t *all)
{
    u_char                     *p;
    size_t                      size;
    ngx_int_t                   rc;
    ngx_uint_t                  i, n;
    ngx_str_t                   joined;
    aim_request                 req;
    ngx_http_variable_value_t  *saved, *scratch;
    ngx_http_core_main_conf_t  *cmcf;

    n = aim_mcp_count(mcp->messages);

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_core_module);
    size = cmcf->variables.nelts * sizeof(ngx_http_variable_value_t);

    saved = r->variables;
    scratch = NULL;

    if (n > 1) {
        scratch = ngx_palloc(r->pool, size ? size : 1);
        if (scratch == NULL) {
            return ctx ? NGX_HTTP_INTERNAL_SERVER_ERROR : NGX_ERROR;
        }
    }

    ngx_str_null(all);
    rc = NGX_OK;

    for (i = 0; i < n && rc == NGX_OK; i++) {

        if (ngx_http_aim_mcp_seen(mcp->messages, i)) {
            continue;
        }

        mcp->current = i;

        if (scratch) {
            ngx_memcpy(scratch, saved, size);
            r->variables = scratch;
        }

        if (ctx) {
            ctx->resource = ngx_http_aim_mcp_resource(r,
                                               aim_mcp_at(mcp->messages, i));

            rc = ctx->resource ? ngx_http_aim_decide(r, alcf, ctx)
                               : NGX_HTTP_INTERNAL_SERVER_ERROR;
            joined = ctx->scopes;

        } else {
            ngx_memzero(&req, sizeof(aim_request));
            rc = ngx_http_aim_scopes(r, alcf, &req, &joined);
        }

        r->variables = saved;

        if (rc != NGX_OK && (ctx == NULL || ctx->resource == NULL)) {
            break;
        }

        /* what each message was decided with, for a later phase */

        p = ngx_pnalloc(r->pool, all->len + joined.len + 1);
        if (p == NULL) {
            rc = ctx ? NGX_HTTP_INTERNAL_SERVER_ERROR : NGX_ERROR;
            break;
        }

        if (all->len) {
            ngx_memcpy(p, all->data, all->len);
        }

        ngx_memcpy(p + all->len, joined.data, joined.len);
        p[all->len + joined.len] = '\n';

        all->data = p;
        all->len += joined.len + 1;
    }

    mcp->current = -1;

    return rc;
}


/* Does an earlier message of the batch ask for the same thing? */

static ngx_uint_t
ngx_http_aim_mcp_seen(aim_mcp *m, ngx_uint_t i)
{
    ngx_uint_t              j;
    const aim_mcp_message  *a, *b;

#define ngx_http_aim_same_str(x, y)                                          \
    ((x) == (y) || ((x) && (y) && ngx_strcmp(x, y) == 0))

    a = aim_mcp_at(m, i);

    for (j = 0; j < i; j++) {
        b = aim_mcp_at(m, j);

        if (ngx_http_aim_same_str(a->method, b->method)
            && ngx_http_aim_same_str(a->tool, b->tool)
            && ngx_http_aim_same_str(a->resource, b->resource)
            && ngx_http_aim_same_str(a->prompt, b->prompt))
        {
            return 1;
        }
    }

#undef ngx_http_aim_same_str

    return 0;
}


/* The resource an audit line names: "/mcp tools/call delete_doc". */

static const char *
ngx_http_aim_mcp_resource(ngx_http_request_t *r, const aim_mcp_message *msg)
{
    u_char      *p, *last;
    size_t       len;
    const char  *method, *name;

    method = msg->method ? msg->method : "(response)";
    name = msg->tool ? msg->tool : msg->prompt ? msg->prompt : msg->resource;

    len = r->uri.len + 1 + ngx_strlen(method) + 1
          + (name ? ngx_strlen(name) + 1 : 0);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NULL;
    }

    last = ngx_sprintf(p, "%V %s", &r->uri, method);

    if (name) {
        last = ngx_sprintf(last, " %s", name);
    }

    *last = '\0';

    return (const char *) p;
}


/*
 * $aim_mcp_method, _tool, _resource, _prompt: of the message being
 * decided; outside a decision, of the single message, or a batch's values
 * joined with commas (for logs).  Empty without a parsed body.
 */

static ngx_int_t
ngx_http_aim_mcp_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char                 *p;
    size_t                  len;
    ngx_uint_t              i, n;
    const char             *s;
    ngx_http_aim_mcp_t     *mcp;
    const aim_mcp_message  *msg;

    v->not_found = 1;

    mcp = ngx_http_aim_mcp_body(r) ? ngx_http_aim_mcp_get(r) : NULL;

    if (mcp == NULL) {
        return NGX_OK;
    }

    if (mcp->state != NGX_HTTP_AIM_MCP_PARSED) {
        if (mcp->state != NGX_HTTP_AIM_MCP_REFUSED
            && mcp->state != NGX_HTTP_AIM_MCP_EMPTY)
        {
            mcp->early = 1;
        }

        return NGX_OK;
    }

    n = aim_mcp_count(mcp->messages);

    if (mcp->current >= 0 || n == 1) {
        msg = aim_mcp_at(mcp->messages, mcp->current >= 0 ? mcp->current : 0);
        s = *(const char **) ((char *) msg + data);

        if (s) {
            v->data = (u_char *) s;
            v->len = ngx_strlen(s);
            v->valid = 1;
            v->no_cacheable = 0;
            v->not_found = 0;
        }

        return NGX_OK;
    }

    len = 0;

    for (i = 0; i < n; i++) {
        s = *(const char **) ((char *) aim_mcp_at(mcp->messages, i) + data);
        len += (s ? ngx_strlen(s) : 0) + 1;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;

    for (i = 0; i < n; i++) {
        s = *(const char **) ((char *) aim_mcp_at(mcp->messages, i) + data);

        if (i) {
            *p++ = ',';
        }

        if (s) {
            p = ngx_cpymem(p, s, ngx_strlen(s));
        }
    }

    v->len = p - v->data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


ngx_int_t
ngx_http_aim_mcp_add_variables(ngx_conf_t *cf)
{
    return ngx_http_aim_add_variables(cf, ngx_http_aim_mcp_vars);
}


/* The main request's MCP state, kept across internal redirects. */

static ngx_http_aim_mcp_t *
ngx_http_aim_mcp_get(ngx_http_request_t *r)
{
    ngx_http_aim_main_t  *mn;

    mn = ngx_http_aim_get_main(r);
    if (mn == NULL) {
        return NULL;
    }

    if (mn->mcp == NULL) {
        mn->mcp = ngx_http_aim_alloc(r->pool, sizeof(ngx_http_aim_mcp_t),
                                     ngx_http_aim_mcp_cleanup);
        if (mn->mcp) {
            mn->mcp->current = -1;
        }
    }

    return mn->mcp;
}


static void
ngx_http_aim_mcp_cleanup(void *data)
{
    ngx_http_aim_mcp_t  *mcp = data;

    aim_mcp_free(mcp->messages);
}
