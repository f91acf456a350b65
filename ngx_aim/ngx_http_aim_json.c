/*
 * ngx_http_aim_json.c -- what ngx_aim answers in JSON.
 *
 *   refusals   with "aim_errors json" (the default in aim_mcp locations):
 *              a 401 / 403 / 500 carries the OAuth error object
 *              {"error":"invalid_token","error_description":"expired"},
 *              as an OAuth resource server's JSON API (and the MCP SDK's
 *              own middleware) answers, instead of nginx's HTML page; an
 *              MCP body refused (400, 413) carries a JSON-RPC error;
 *
 *   metadata   "aim_resource_metadata_document": the RFC 9728 protected
 *              resource metadata of the resource the block's aim_audience
 *              names, its authorization servers the aim_issuer values;
 *              "aim_resource_metadata auto" points challenges at it
 *              (RFC 9728 3.1: the well-known path inserted before the
 *              resource's path).
 */


#include "ngx_http_aim.h"


#define NGX_HTTP_AIM_WELL_KNOWN  "/.well-known/oauth-protected-resource"


static ngx_http_aim_opt_t *ngx_http_aim_resource(ngx_http_aim_loc_conf_t *conf,
    ngx_str_t *url, ngx_str_t *origin, ngx_str_t *path);
static ngx_int_t ngx_http_aim_split_url(ngx_str_t *url, ngx_str_t *origin,
    ngx_str_t *path);
static u_char *ngx_http_aim_json_string(u_char *p, const char *s);


/*
 * Send this request's refusal with a JSON body; the challenge headers are
 * in place.  Returns what ngx_http_send_response() returns, for
 * ngx_http_finalize_request().
 */

ngx_int_t
ngx_http_aim_send_error(ngx_http_request_t *r, ngx_int_t status)
{
    u_char                    *p;
    size_t                     len;
    const char                *error, *reason;
    ngx_str_t                  type;
    ngx_http_aim_ctx_t        *ctx;
    ngx_http_complex_value_t   cv;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aim_module);

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));
    ngx_str_set(&type, "application/json");

    if (ctx && ctx->decided && status == ctx->rc && ctx->rpc_code
        && status == ctx->host_rc)
    {
        /* an MCP body refused: JSON-RPC 2.0, the id unknown (null) */

        reason = ctx->host_message ? ctx->host_message : "";

        len = sizeof("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":,"
                     "\"message\":\"Invalid Request: \"},\"id\":null}")
              + NGX_INT_T_LEN + aim_json_escape(NULL, reason, ngx_strlen(reason));

        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        cv.value.data = p;

        p = ngx_sprintf(p, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":%i,"
                        "\"message\":\"%s: ", ctx->rpc_code,
                        ctx->rpc_code == AIM_MCP_PARSE_ERROR
                        ? "Parse error" : "Invalid Request");
        p += aim_json_escape((char *) p, reason, ngx_strlen(reason));
        p = ngx_cpymem(p, "\"},\"id\":null}", sizeof("\"},\"id\":null}") - 1);

        cv.value.len = p - cv.value.data;

        return ngx_http_send_response(r, status, &type, &cv);
    }

    /* RFC 6750 3.1's codes, the core's reason as the description */

    if (ctx && ctx->decided && status == ctx->rc && ctx->error) {
        error = ctx->error;
        reason = aim_reason(ctx->decision.status);

    } else {
        /* nginx's own refusal (a body it would not read), or a failure */
        error = (status < NGX_HTTP_INTERNAL_SERVER_ERROR) ? "invalid_request"
                                                          : "server_error";
        reason = (ctx && ctx->decided && status == ctx->rc)
                 ? aim_reason(ctx->decision.status) : NULL;
    }

    len = sizeof("{\"error\":\"\",\"error_description\":\"\"}")
          + ngx_strlen(error) + (reason ? ngx_strlen(reason) : 0);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    cv.value.data = p;

    if (reason) {
        p = ngx_sprintf(p, "{\"error\":\"%s\",\"error_description\":\"%s\"}",
                        error, reason);
    } else {
        p = ngx_sprintf(p, "{\"error\":\"%s\"}", error);
    }

    cv.value.len = p - cv.value.data;

    return ngx_http_send_response(r, status, &type, &cv);
}


/*
 * "aim_resource_metadata URL | auto" as challenges carry it.  auto, here
 * or inherited, is derived from this block's own aim_audience, so a
 * location with another audience points at its own document.
 */

char *
ngx_http_aim_metadata_url(ngx_conf_t *cf, ngx_http_aim_loc_conf_t *conf,
    ngx_http_aim_loc_conf_t *prev)
{
    u_char              *p;
    ngx_str_t            aud, origin, path;
    ngx_http_aim_opt_t  *a;

    if (conf->resource_metadata.data == NULL) {
        conf->resource_metadata = prev->resource_metadata;
        conf->metadata_auto = prev->metadata_auto;

    } else if (conf->resource_metadata.len == 4
               && ngx_strncmp(conf->resource_metadata.data, "auto", 4) == 0)
    {
        conf->metadata_auto = 1;
    }

    if (!conf->metadata_auto || !conf->enable) {
        return NGX_CONF_OK;
    }

    a = ngx_http_aim_resource(conf, &aud, &origin, &path);

    if (a == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"aim_resource_metadata auto\" for \"aim on\" in "
                      "%V:%ui needs \"aim_audience\", the resource's URL",
                      &conf->enable_file, conf->enable_line);
        return NGX_CONF_ERROR;
    }

    if (origin.data == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"aim_resource_metadata auto\": \"aim_audience %V\" in "
                      "%V:%ui is not an https:// or http:// URL without a "
                      "query or fragment", &aud, &a->file, a->line);
        return NGX_CONF_ERROR;
    }

    conf->resource_metadata.len = origin.len
                                  + sizeof(NGX_HTTP_AIM_WELL_KNOWN) - 1
                                  + path.len;

    p = ngx_pnalloc(cf->pool, conf->resource_metadata.len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    conf->resource_metadata.data = p;

    p = ngx_cpymem(p, origin.data, origin.len);
    p = ngx_cpymem(p, NGX_HTTP_AIM_WELL_KNOWN,
                   sizeof(NGX_HTTP_AIM_WELL_KNOWN) - 1);
    ngx_memcpy(p, path.data, path.len);

    return NGX_CONF_OK;
}


/*
 * The resource this block's aim_audience names, as its URL, origin and
 * path; NULL without an audience, origin.data NULL when it is no URL.
 */

static ngx_http_aim_opt_t *
ngx_http_aim_resource(ngx_http_aim_loc_conf_t *conf, ngx_str_t *url,
    ngx_str_t *origin, ngx_str_t *path)
{
    ngx_http_aim_opt_t  *a;

    a = conf->options ? ngx_http_aim_find(conf->options, conf->options->nelts,
                                          "audience")
                      : NULL;
    if (a == NULL) {
        return NULL;
    }

    url->data = (u_char *) a->args[0];
    url->len = ngx_strlen(a->args[0]);

    if (ngx_http_aim_split_url(url, origin, path) != NGX_OK) {
        ngx_str_null(origin);
    }

    return a;
}


/*
 * scheme://authority and the path ("" for "/" or none) of an absolute
 * http(s) URL without query or fragment.
 */

static ngx_int_t
ngx_http_aim_split_url(ngx_str_t *url, ngx_str_t *origin, ngx_str_t *path)
{
    u_char  *p, *last, *host;

    p = url->data;
    last = p + url->len;

    if (url->len > 8 && ngx_strncasecmp(p, (u_char *) "https://", 8) == 0) {
        host = p + 8;

    } else if (url->len > 7
               && ngx_strncasecmp(p, (u_char *) "http://", 7) == 0)
    {
        host = p + 7;

    } else {
        return NGX_ERROR;
    }

    if (ngx_strlchr(host, last, '?') || ngx_strlchr(host, last, '#')
        || ngx_strlchr(host, last, ' ') || ngx_strlchr(host, last, '"'))
    {
        return NGX_ERROR;
    }

    p = ngx_strlchr(host, last, '/');
    if (p == NULL) {
        p = last;
    }

    if (p == host) {
        return NGX_ERROR;
    }

    origin->data = url->data;
    origin->len = p - url->data;

    path->data = p;
    path->len = last - p;

    if (path->len == 1) {
        path->len = 0;      /* RFC 9728 3.1: no terminating slash */
    }

    return NGX_OK;
}


/*
 * aim_resource_metadata_document [SCOPE ...]: serve, in this location,
 * the protected resource metadata; the SCOPEs are scopes_supported.
 */

char *
ngx_http_aim_metadata_document(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_aim_loc_conf_t *alcf = conf;

    ngx_str_t                 *value, *s;
    ngx_uint_t                 i;
    ngx_http_core_loc_conf_t  *clcf;

    if (alcf->metadata_scopes != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    alcf->metadata_scopes = ngx_array_create(cf->pool, cf->args->nelts,
                                             sizeof(ngx_str_t));
    if (alcf->metadata_scopes == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        if (ngx_http_aim_conf_scope(cf, &value[i]) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        s = ngx_array_push(alcf->metadata_scopes);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    alcf->metadata_file = cf->conf_file->file.name;
    alcf->metadata_line = cf->conf_file->line;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_aim_metadata_handler;

    return NGX_CONF_OK;
}


/*
 * The document, once, when the location's configuration is merged:
 * {"resource", "authorization_servers", "scopes_supported",
 * "bearer_methods_supported", and the DPoP members where aim_dpop is on}.
 * An exact location must be the path RFC 9728 puts the document at.
 */

char *
ngx_http_aim_metadata_build(ngx_conf_t *cf, ngx_http_aim_loc_conf_t *conf)
{
    u_char                    *p;
    size_t                     len;
    ngx_str_t                  aud, origin, path, *sc;
    ngx_uint_t                 i, n;
    const char                *alg;
    ngx_http_aim_opt_t        *o, *a;
    ngx_http_core_loc_conf_t  *clcf;

    if (conf->enable) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"aim_resource_metadata_document\" in %V:%ui: the "
                      "document must be readable without a token (RFC 9728); "
                      "write \"aim off;\" in its location",
                      &conf->metadata_file, conf->metadata_line);
        return NGX_CONF_ERROR;
    }

    a = ngx_http_aim_resource(conf, &aud, &origin, &path);

    if (a == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"aim_resource_metadata_document\" in %V:%ui needs "
                      "\"aim_audience\" (here or in an enclosing block): the "
                      "resource it describes", &conf->metadata_file,
                      conf->metadata_line);
        return NGX_CONF_ERROR;
    }

    if (origin.data == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"aim_resource_metadata_document\" in %V:%ui: "
                      "\"aim_audience %V\" (%V:%ui) is not an https:// or "
                      "http:// URL without a query or fragment, as RFC 9728 "
                      "wants the resource", &conf->metadata_file,
                      conf->metadata_line, &aud, &a->file, a->line);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    n = sizeof(NGX_HTTP_AIM_WELL_KNOWN) - 1;

    if (clcf->exact_match
        && (clcf->name.len != n + path.len
            || ngx_strncmp(clcf->name.data, NGX_HTTP_AIM_WELL_KNOWN, n) != 0
            || ngx_strncmp(clcf->name.data + n, path.data, path.len) != 0))
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"aim_resource_metadata_document\" in %V:%ui: the "
                      "metadata of %V is at \"" NGX_HTTP_AIM_WELL_KNOWN
                      "%V\" (RFC 9728 3.1), not \"%V\"", &conf->metadata_file,
                      conf->metadata_line, &aud, &path, &clcf->name);
        return NGX_CONF_ERROR;
    }

    /* the size, then the text */

    o = conf->options->elts;
    sc = conf->metadata_scopes->elts;
    n = 0;

    len = sizeof("{\"resource\":,\"authorization_servers\":[],"
                 "\"scopes_supported\":[],"
                 "\"bearer_methods_supported\":[\"header\"],"
                 "\"dpop_signing_alg_values_supported\":[],"
                 "\"dpop_bound_access_tokens_required\":true}")
          + 3 * sizeof(AIM_ALGORITHMS)
          + 2 + aim_json_escape(NULL, a->args[0], aud.len);

    for (i = 0; i < conf->options->nelts; i++) {
        if (ngx_strcmp(o[i].option->name, "issuer") == 0) {
            len += 3 + aim_json_escape(NULL, o[i].args[0],
                                       ngx_strlen(o[i].args[0]));
            n++;
        }
    }

    if (n == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"aim_resource_metadata_document\" in %V:%ui needs "
                      "\"aim_issuer\" (here or in an enclosing block): the "
                      "authorization servers", &conf->metadata_file,
                      conf->metadata_line);
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < conf->metadata_scopes->nelts; i++) {
        len += 3 + sc[i].len;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    conf->metadata.data = p;

    p = ngx_cpymem(p, "{\"resource\":", sizeof("{\"resource\":") - 1);
    p = ngx_http_aim_json_string(p, a->args[0]);
    p = ngx_cpymem(p, ",\"authorization_servers\":[",
                   sizeof(",\"authorization_servers\":[") - 1);

    for (i = 0, n = 0; i < conf->options->nelts; i++) {
        if (ngx_strcmp(o[i].option->name, "issuer") == 0) {
            if (n++) {
                *p++ = ',';
            }

            p = ngx_http_aim_json_string(p, o[i].args[0]);
        }
    }

    *p++ = ']';

    if (conf->metadata_scopes->nelts) {
        p = ngx_cpymem(p, ",\"scopes_supported\":[",
                       sizeof(",\"scopes_supported\":[") - 1);

        for (i = 0; i < conf->metadata_scopes->nelts; i++) {
            /* scope tokens have no '"' or '\' to escape */
            p = ngx_sprintf(p, "%s\"%V\"", i ? "," : "", &sc[i]);
        }

        *p++ = ']';
    }

    p = ngx_cpymem(p, ",\"bearer_methods_supported\":[\"header\"]",
                   sizeof(",\"bearer_methods_supported\":[\"header\"]") - 1);

    if (conf->dpop != AIM_DPOP_OFF) {
        /* the core's algorithms, one string each */

        p = ngx_cpymem(p, ",\"dpop_signing_alg_values_supported\":[\"",
                       sizeof(",\"dpop_signing_alg_values_supported\":[\"")
                       - 1);

        for (alg = AIM_ALGORITHMS; *alg; alg++) {
            if (*alg == ' ') {
                p = ngx_cpymem(p, "\",\"", 3);

            } else {
                *p++ = *alg;
            }
        }

        p = ngx_cpymem(p, "\"]", 2);
    }

    if (conf->dpop == AIM_DPOP_REQUIRED) {
        p = ngx_cpymem(p, ",\"dpop_bound_access_tokens_required\":true",
                       sizeof(",\"dpop_bound_access_tokens_required\":true")
                       - 1);
    }

    *p++ = '}';

    conf->metadata.len = p - conf->metadata.data;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_aim_metadata_handler(ngx_http_request_t *r)
{
    ngx_str_t                  type;
    ngx_http_aim_loc_conf_t   *alcf;
    ngx_http_complex_value_t   cv;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_aim_module);

    if (alcf->metadata.len == 0) {
        return NGX_DECLINED;
    }

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));
    cv.value = alcf->metadata;

    ngx_str_set(&type, "application/json");

    return ngx_http_send_response(r, NGX_HTTP_OK, &type, &cv);
}


/* A JSON string of s, quoted and escaped. */

static u_char *
ngx_http_aim_json_string(u_char *p, const char *s)
{
    *p++ = '"';
    p += aim_json_escape((char *) p, s, ngx_strlen(s));
    *p++ = '"';

    return p;
}
