/*
 * ngx_http_aim_ssf_module -- OpenID Shared Signals at the point of
 * enforcement (docs/ssf.md), three content handlers:
 *
 *   aim_ssf_receiver   RFC 8935 push: a Security Event Token POSTed as
 *                      application/secevent+jwt, verified and applied by
 *                      libaim (aim_ssf_apply) to the host's state file,
 *                      where every adapter sees it at its next decision;
 *   aim_ssf_publish    RFC 8936 poll: this host's own signals (an agent
 *                      revoked or distrusted here), signed with its key,
 *                      for the poller the location authenticated
 *                      (aim_ssf_poll);
 *   aim_ssf_jwks       the key set receivers verify those with.
 *
 * The core's options (aim_ssf_keys, aim_ssf_issuer, aim_state,
 * aim_config, ...) are ngx_http_aim_module's directives and inherit as
 * they do; this module builds one receiver or publisher per set of them,
 * when nginx reads its configuration.  Who may push or poll is the
 * location's to say: "aim on" with a scope, or client certificates.
 */


#include "ngx_http_aim.h"

#include <ngx_md5.h>

#if (NGX_HTTP_SSL)
#include <openssl/x509.h>
#endif


#define NGX_HTTP_AIM_SSF_RECEIVER   1
#define NGX_HTTP_AIM_SSF_PUBLISH    2
#define NGX_HTTP_AIM_SSF_JWKS       3

/* when a transmitter should deliver a deferred SET again, in seconds */
#define NGX_HTTP_AIM_SSF_RETRY      "1"


/* A receiver or a publisher, shared by the locations with its options. */
typedef struct {
    ngx_http_aim_unit_t         unit;
    ngx_uint_t                  receiver;   /* else a publisher */

    aim_ssf_receiver           *rx;
    aim_ssf_publisher          *pub;
    ngx_str_t                   jwks;
    ngx_str_t                   etag;
} ngx_http_aim_ssf_t;


typedef struct {
    ngx_array_t                 ends;       /* ngx_http_aim_ssf_t * */
} ngx_http_aim_ssf_main_conf_t;


typedef struct {
    ngx_uint_t                  mode;
    ngx_str_t                   file;
    ngx_uint_t                  line;
    ngx_http_aim_ssf_t         *ssf;
} ngx_http_aim_ssf_loc_conf_t;


static ngx_int_t ngx_http_aim_ssf_receiver_handler(ngx_http_request_t *r);
static void ngx_http_aim_ssf_receive(ngx_http_request_t *r);
static ngx_int_t ngx_http_aim_ssf_publish_handler(ngx_http_request_t *r);
static void ngx_http_aim_ssf_poll(ngx_http_request_t *r);
static ngx_int_t ngx_http_aim_ssf_poller(ngx_http_request_t *r,
    ngx_str_t *name);
static ngx_int_t ngx_http_aim_ssf_jwks_handler(ngx_http_request_t *r);

static ngx_int_t ngx_http_aim_ssf_not_allowed(ngx_http_request_t *r,
    char *methods);
static ngx_uint_t ngx_http_aim_ssf_media_type(ngx_http_request_t *r,
    ngx_str_t *type);
static ngx_int_t ngx_http_aim_ssf_read(ngx_http_request_t *r, off_t max,
    ngx_http_client_body_handler_pt handler);
static ngx_int_t ngx_http_aim_ssf_retry(ngx_http_request_t *r);
static ngx_int_t ngx_http_aim_ssf_send(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *type, u_char *body, size_t len);
static ngx_int_t ngx_http_aim_ssf_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *description);
static void ngx_http_aim_ssf_enter(ngx_http_aim_ssf_t *ssf, ngx_log_t *log);
static void ngx_http_aim_ssf_free(void *data);

static ngx_int_t ngx_http_aim_ssf_init_module(ngx_cycle_t *cycle);
static const char *ngx_http_aim_ssf_watched(void *unit, ngx_uint_t i,
    int *rw);
static void *ngx_http_aim_ssf_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_aim_ssf_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_aim_ssf_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_http_aim_ssf_t *ngx_http_aim_ssf_get(ngx_conf_t *cf,
    ngx_http_aim_ssf_loc_conf_t *slcf, ngx_http_aim_loc_conf_t *alcf);
static ngx_int_t ngx_http_aim_ssf_etag(ngx_conf_t *cf,
    ngx_http_aim_ssf_t *ssf);
static void ngx_http_aim_ssf_cleanup(void *data);
static char *ngx_http_aim_ssf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);


static ngx_command_t  ngx_http_aim_ssf_commands[] = {

    { ngx_string("aim_ssf_receiver"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_aim_ssf,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_AIM_SSF_RECEIVER,
      NULL },

    { ngx_string("aim_ssf_publish"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_aim_ssf,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_AIM_SSF_PUBLISH,
      NULL },

    { ngx_string("aim_ssf_jwks"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_aim_ssf,
      NGX_HTTP_LOC_CONF_OFFSET,
      NGX_HTTP_AIM_SSF_JWKS,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_aim_ssf_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_aim_ssf_create_main_conf,     /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_aim_ssf_create_loc_conf,      /* create location configuration */
    ngx_http_aim_ssf_merge_loc_conf        /* merge location configuration */
};


ngx_module_t  ngx_http_aim_ssf_module = {
    NGX_MODULE_V1,
    &ngx_http_aim_ssf_module_ctx,          /* module context */
    ngx_http_aim_ssf_commands,             /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_aim_ssf_init_module,          /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* by mode */
static ngx_http_handler_pt  ngx_http_aim_ssf_handlers[] = {
    NULL,
    ngx_http_aim_ssf_receiver_handler,
    ngx_http_aim_ssf_publish_handler,
    ngx_http_aim_ssf_jwks_handler
};

static const char  *ngx_http_aim_ssf_names[] = {
    NULL, "aim_ssf_receiver", "aim_ssf_publish", "aim_ssf_jwks"
};


static ngx_str_t  ngx_http_aim_ssf_set_type = ngx_string(AIM_SSF_MEDIA_TYPE);
static ngx_str_t  ngx_http_aim_ssf_json_type = ngx_string("application/json");
static ngx_str_t  ngx_http_aim_ssf_jwks_type =
    ngx_string("application/jwk-set+json");


/*
 * RFC 8935: 202 for a SET acknowledged (applied, or nothing to do, or
 * accepted before), 400 with {"err", "description"} for one refused, 503
 * when it could not be applied now (the transmitter delivers it again).
 */

static ngx_int_t
ngx_http_aim_ssf_receiver_handler(ngx_http_request_t *r)
{
    if (!(r->method & NGX_HTTP_POST)) {
        return ngx_http_aim_ssf_not_allowed(r, "POST");
    }

    if (!ngx_http_aim_ssf_media_type(r, &ngx_http_aim_ssf_set_type)) {
        return NGX_HTTP_UNSUPPORTED_MEDIA_TYPE;
    }

    return ngx_http_aim_ssf_read(r, AIM_SSF_MAX_SET_LEN,
                                 ngx_http_aim_ssf_receive);
}


static void
ngx_http_aim_ssf_receive(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_str_t                     set;
    aim_ssf_result                res;
    ngx_http_aim_ssf_t           *ssf;
    ngx_http_aim_ssf_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_aim_ssf_module);
    ssf = slcf->ssf;

    rc = ngx_http_aim_read_body(r, AIM_SSF_MAX_SET_LEN, &set);
    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    ngx_http_aim_ssf_enter(ssf, r->connection->log);
    (void) aim_ssf_apply(ssf->rx, (const char *) set.data, set.len, &res);
    ngx_http_aim_ssf_enter(ssf, NULL);

    if (res.status == AIM_OK) {
        rc = ngx_http_aim_ssf_send(r, NGX_HTTP_ACCEPTED, NULL, NULL, 0);

    } else if (res.err != AIM_SSF_ERR_NONE) {
        rc = ngx_http_aim_ssf_error(r, NGX_HTTP_BAD_REQUEST,
                                    aim_ssf_err_code(res.err), res.message);

    } else {
        /* not acknowledged, neither applied nor refused (the core said
         * why in the error log) */
        rc = ngx_http_aim_ssf_retry(r);
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * RFC 8936: a poll request (ack, setErrs, maxEvents) answered with this
 * host's signals the poller has not acknowledged.  The poller is who the
 * location authenticated: every poller has its own position.
 */

static ngx_int_t
ngx_http_aim_ssf_publish_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;
    ngx_str_t  name;

    if (!(r->method & NGX_HTTP_POST)) {
        return ngx_http_aim_ssf_not_allowed(r, "POST");
    }

    /* who polls, before a body is read for no one */

    if (ngx_http_aim_ssf_poller(r, &name) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (name.len == 0 || name.len > AIM_SSF_MAX_CONSUMER) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "aim: a poll of this host's signals from a poller %s: "
                      "protect the location with \"aim on\" and a scope, or "
                      "with client certificates",
                      name.len ? "whose name is too long"
                               : "that is not authenticated");

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_aim_ssf_error(r, NGX_HTTP_FORBIDDEN,
                                   aim_ssf_err_code(AIM_SSF_ERR_ACCESS_DENIED),
                                   "the poller is not authenticated");
    }

    if (!ngx_http_aim_ssf_media_type(r, &ngx_http_aim_ssf_json_type)) {
        return NGX_HTTP_UNSUPPORTED_MEDIA_TYPE;
    }

    return ngx_http_aim_ssf_read(r, AIM_SSF_MAX_POLL_REQUEST,
                                 ngx_http_aim_ssf_poll);
}


static void
ngx_http_aim_ssf_poll(ngx_http_request_t *r)
{
    char                         *consumer, *response;
    ngx_int_t                     rc;
    ngx_str_t                     req, name;
    aim_error                     err;
    aim_status                    s;
    aim_ssf_err                   code;
    ngx_pool_cleanup_t           *cln;
    ngx_http_aim_ssf_t           *ssf;
    ngx_http_aim_ssf_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_aim_ssf_module);
    ssf = slcf->ssf;

    rc = ngx_http_aim_read_body(r, AIM_SSF_MAX_POLL_REQUEST, &req);
    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    if (ngx_http_aim_ssf_poller(r, &name) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    consumer = ngx_http_aim_cstr(r->pool, &name);
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (consumer == NULL || cln == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memzero(&err, sizeof(aim_error));
    response = NULL;

    ngx_http_aim_ssf_enter(ssf, r->connection->log);
    s = aim_ssf_poll(ssf->pub, consumer, (const char *) req.data, req.len,
                     &response, &code, &err);
    ngx_http_aim_ssf_enter(ssf, NULL);

    cln->handler = ngx_http_aim_ssf_free;
    cln->data = response;

    switch (s) {

    case AIM_OK:
        rc = ngx_http_aim_ssf_send(r, NGX_HTTP_OK, &ngx_http_aim_ssf_json_type,
                                   (u_char *) response, ngx_strlen(response));
        break;

    case AIM_INTERNAL:
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "aim: a poll of this host's signals not answered: %s",
                      err.message);

        rc = ngx_http_aim_ssf_retry(r);
        break;

    default:
        if (code == AIM_SSF_ERR_NONE) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "aim: a poll of this host's signals failed: %s",
                          err.message);
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            break;
        }

        rc = ngx_http_aim_ssf_error(r,
                                    code == AIM_SSF_ERR_ACCESS_DENIED
                                    ? NGX_HTTP_FORBIDDEN : NGX_HTTP_BAD_REQUEST,
                                    aim_ssf_err_code(code), err.message);
        break;
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * Who polls: the agent "aim on" allowed in this location, else the subject
 * of a client certificate the TLS layer verified; an empty name for
 * neither.
 */

static ngx_int_t
ngx_http_aim_ssf_poller(ngx_http_request_t *r, ngx_str_t *name)
{
    const char          *agent;
    ngx_http_aim_ctx_t  *ctx;

    ngx_str_null(name);

    ctx = ngx_http_get_module_ctx(r, ngx_http_aim_module);

    if (ctx && ctx->decided && ctx->decision.status == AIM_OK
        && ctx->decision.token)
    {
        agent = aim_token_agent(ctx->decision.token);

        if (agent) {
            name->data = (u_char *) agent;
            name->len = ngx_strlen(agent);
            return NGX_OK;
        }
    }

#if (NGX_HTTP_SSL)
    {
        X509              *cert;
        ngx_connection_t  *c;

        c = r->connection;

        if (c->ssl == NULL
            || SSL_get_verify_result(c->ssl->connection) != X509_V_OK)
        {
            return NGX_OK;
        }

        cert = SSL_get_peer_certificate(c->ssl->connection);
        if (cert == NULL) {
            return NGX_OK;
        }

        X509_free(cert);

        if (ngx_ssl_get_subject_dn(c, r->pool, name) != NGX_OK) {
            return NGX_ERROR;
        }
    }
#endif

    return NGX_OK;
}


/* The key set of this host's signals, with an ETag for conditional GETs. */

static ngx_int_t
ngx_http_aim_ssf_jwks_handler(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_http_aim_ssf_t           *ssf;
    ngx_http_aim_ssf_loc_conf_t  *slcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_aim_ssf_not_allowed(r, "GET, HEAD");
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_aim_ssf_module);
    ssf = slcf->ssf;

    r->headers_out.etag = ngx_http_aim_header_out(r, "ETag", &ssf->etag);
    if (r->headers_out.etag == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_aim_ssf_send(r, NGX_HTTP_OK, &ngx_http_aim_ssf_jwks_type,
                                 ssf->jwks.data, ssf->jwks.len);
}


static ngx_int_t
ngx_http_aim_ssf_not_allowed(ngx_http_request_t *r, char *methods)
{
    ngx_str_t  allow;

    allow.data = (u_char *) methods;
    allow.len = ngx_strlen(methods);

    if (ngx_http_aim_header_out(r, "Allow", &allow) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_HTTP_NOT_ALLOWED;
}


/* The request's media type (parameters aside) is type, in any case. */

static ngx_uint_t
ngx_http_aim_ssf_media_type(ngx_http_request_t *r, ngx_str_t *type)
{
    u_char  *p, *last;

    if (r->headers_in.content_type == NULL) {
        return 0;
    }

    p = r->headers_in.content_type->value.data;
    last = p + r->headers_in.content_type->value.len;

    if ((size_t) (last - p) < type->len
        || ngx_strncasecmp(p, type->data, type->len) != 0)
    {
        return 0;
    }

    for (p += type->len; p < last && (*p == ' ' || *p == '\t'); p++) {
        /* void */
    }

    return p == last || *p == ';';
}


/* The body of at most max bytes, read for handler. */

static ngx_int_t
ngx_http_aim_ssf_read(ngx_http_request_t *r, off_t max,
    ngx_http_client_body_handler_pt handler)
{
    ngx_int_t  rc;

    if (r->headers_in.content_length_n > max) {
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    rc = ngx_http_read_client_request_body(r, handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* 503 with Retry-After: the sender is to come again. */

static ngx_int_t
ngx_http_aim_ssf_retry(ngx_http_request_t *r)
{
    ngx_str_t  retry;

    ngx_str_set(&retry, NGX_HTTP_AIM_SSF_RETRY);

    if (ngx_http_aim_header_out(r, "Retry-After", &retry) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_HTTP_SERVICE_UNAVAILABLE;
}


/* A response with a body (len bytes of type), or with none (type NULL). */

static ngx_int_t
ngx_http_aim_ssf_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, u_char *body, size_t len)
{
    ngx_str_t                  none = ngx_null_string;
    ngx_http_complex_value_t   cv;

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));

    cv.value.data = body;
    cv.value.len = len;

    return ngx_http_send_response(r, status, type ? type : &none, &cv);
}


/* RFC 8935 section 2.3 (and RFC 8936's errors): {"err", "description"}. */

static ngx_int_t
ngx_http_aim_ssf_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *description)
{
    u_char  *body, *p;
    size_t   len, dlen;

    dlen = ngx_strlen(description);

    len = sizeof("{\"err\":\"\",\"description\":\"\"}") - 1
          + ngx_strlen(code) + aim_json_escape(NULL, description, dlen);

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body, "{\"err\":\"%s\",\"description\":\"", code);
    p += aim_json_escape((char *) p, description, dlen);
    p = ngx_cpymem(p, "\"}", 2);

    return ngx_http_aim_ssf_send(r, status, &ngx_http_aim_ssf_json_type, body,
                                 p - body);
}


/* The receiver works for a request (log) or stops (NULL). */

static void
ngx_http_aim_ssf_enter(ngx_http_aim_ssf_t *ssf, ngx_log_t *log)
{
    aim_audit_fn  audit;

    audit = ngx_http_aim_unit_enter(&ssf->unit, log);

    if (ssf->rx) {
        aim_ssf_receiver_set_audit(ssf->rx, audit, &ssf->unit);
    }
}


static void
ngx_http_aim_ssf_free(void *data)
{
    free(data);
}


/*
 * The workers run as the "user" directive's user and open the journal
 * beside the state file themselves (a lock is per process), and re-read
 * the transmitters' keys: check, as that user, that they can, as
 * ngx_http_aim_module checks its own files.
 */

static ngx_int_t
ngx_http_aim_ssf_init_module(ngx_cycle_t *cycle)
{
    ngx_http_aim_ssf_main_conf_t  *smcf;

    smcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_aim_ssf_module);

    if (smcf == NULL) {
        return NGX_OK;
    }

    return ngx_http_aim_check_access(cycle, &smcf->ends,
                                     ngx_http_aim_ssf_watched, 1,
                                     "workers will defer every SET and poll "
                                     "until the files above are theirs to "
                                     "open");
}


static const char *
ngx_http_aim_ssf_watched(void *unit, ngx_uint_t i, int *rw)
{
    ngx_http_aim_ssf_t  *ssf = unit;

    return ssf->rx ? aim_ssf_receiver_watched(ssf->rx, i, rw)
                   : aim_ssf_publisher_watched(ssf->pub, i, rw);
}


static void *
ngx_http_aim_ssf_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_aim_ssf_main_conf_t  *smcf;

    smcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_aim_ssf_main_conf_t));
    if (smcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&smcf->ends, cf->pool, 2, sizeof(ngx_http_aim_ssf_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return smcf;
}


static void *
ngx_http_aim_ssf_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_aim_ssf_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_aim_ssf_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->file = { 0, NULL };
     *     conf->line = 0;
     *     conf->ssf = NULL;
     */

    conf->mode = NGX_CONF_UNSET_UINT;

    return conf;
}


/*
 * A location answers as its directive says; its "if" and "limit_except"
 * blocks answer as it does (nginx runs the location's content handler
 * with their configuration).  ngx_http_aim_module comes first in the
 * module list (ngx_aim/config), so its options are merged by now.
 */

static char *
ngx_http_aim_ssf_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_aim_ssf_loc_conf_t *prev = parent;
    ngx_http_aim_ssf_loc_conf_t *conf = child;

    ngx_http_aim_loc_conf_t   *alcf;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->mode != NGX_CONF_UNSET_UINT && conf->mode != 0
        && clcf->handler != ngx_http_aim_ssf_handlers[conf->mode])
    {
        /* a later proxy_pass, fastcgi_pass, ... took the location over */

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s\" in %V:%ui conflicts with another directive of "
                      "this location that answers requests",
                      ngx_http_aim_ssf_names[conf->mode], &conf->file,
                      conf->line);
        return NGX_CONF_ERROR;
    }

    if (conf->mode == NGX_CONF_UNSET_UINT) {
        if (clcf->noname && prev->mode != NGX_CONF_UNSET_UINT) {
            conf->mode = prev->mode;
            conf->file = prev->file;
            conf->line = prev->line;

            if (conf->mode != 0 && clcf->handler == NULL) {
                /*
                 * nginx takes a limit_except block's content handler from
                 * the block, not from its location: the block answers as
                 * the location does
                 */
                clcf->handler = ngx_http_aim_ssf_handlers[conf->mode];
            }

        } else {
            conf->mode = 0;
        }
    }

    if (conf->mode == 0) {
        return NGX_CONF_OK;
    }

    alcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_aim_module);

    if (alcf->audit == NGX_CONF_UNSET_UINT) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "aim: ngx_http_aim_ssf_module is loaded before "
                      "ngx_http_aim_module (rebuild the module)");
        return NGX_CONF_ERROR;
    }

    conf->ssf = ngx_http_aim_ssf_get(cf, conf, alcf);
    if (conf->ssf == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * One receiver per set of options (and audit sink), one publisher per
 * set of options: locations that inherit them share it.  Built here, in
 * the master: a bad key file or a missing option fails "nginx -t", the
 * publisher's private key is read before workers start, and each worker
 * opens the journal for itself at its first use.
 */

static ngx_http_aim_ssf_t *
ngx_http_aim_ssf_get(ngx_conf_t *cf, ngx_http_aim_ssf_loc_conf_t *slcf,
    ngx_http_aim_loc_conf_t *alcf)
{
    ngx_str_t                      what;
    ngx_uint_t                     i, receiver;
    aim_error                      err;
    aim_config                    *cfg;
    ngx_http_aim_ssf_t            *ssf, **ends;
    ngx_http_aim_ssf_main_conf_t  *smcf;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aim_ssf_module);
    receiver = (slcf->mode == NGX_HTTP_AIM_SSF_RECEIVER);

    ends = smcf->ends.elts;
    for (i = 0; i < smcf->ends.nelts; i++) {
        if (ends[i]->receiver == receiver
            && ngx_http_aim_unit_same(&ends[i]->unit, alcf))
        {
            return ends[i];
        }
    }

    what.data = (u_char *) ngx_http_aim_ssf_names[slcf->mode];
    what.len = ngx_strlen(what.data);

    cfg = ngx_http_aim_unit_config(cf, alcf, &what, &slcf->file, slcf->line);
    if (cfg == NULL) {
        return NULL;
    }

    ssf = ngx_http_aim_alloc(cf->pool, sizeof(ngx_http_aim_ssf_t),
                             ngx_http_aim_ssf_cleanup);
    if (ssf == NULL) {
        aim_config_free(cfg);
        return NULL;
    }

    ngx_http_aim_unit_init(&ssf->unit, alcf);
    ssf->receiver = receiver;

    ngx_memzero(&err, sizeof(aim_error));

    if (receiver) {
        ssf->rx = aim_ssf_receiver_new(cfg, &err);

    } else {
        ssf->pub = aim_ssf_publisher_new(cfg, &err);
    }

    aim_config_free(cfg);

    if (ssf->rx == NULL && ssf->pub == NULL) {
        ngx_http_aim_unit_error(cf, alcf, &err, &what, &slcf->file,
                                slcf->line);
        return NULL;
    }

    if (receiver) {
        aim_ssf_receiver_set_log(ssf->rx, ngx_http_aim_log, &ssf->unit);

    } else {
        aim_ssf_publisher_set_log(ssf->pub, ngx_http_aim_log, &ssf->unit);

        if (ngx_http_aim_ssf_etag(cf, ssf) != NGX_OK) {
            return NULL;
        }
    }

    ends = ngx_array_push(&smcf->ends);
    if (ends == NULL) {
        return NULL;
    }

    *ends = ssf;

    return ssf;
}


/* The publisher's key set, and its ETag: the same key, the same bytes. */

static ngx_int_t
ngx_http_aim_ssf_etag(ngx_conf_t *cf, ngx_http_aim_ssf_t *ssf)
{
    char       *jwks;
    u_char      md5[16];
    ngx_md5_t   ctx;

    jwks = aim_ssf_publisher_jwks(ssf->pub);
    if (jwks == NULL) {
        return NGX_ERROR;
    }

    ssf->jwks.len = ngx_strlen(jwks);
    ssf->jwks.data = ngx_pnalloc(cf->pool, ssf->jwks.len);

    if (ssf->jwks.data) {
        ngx_memcpy(ssf->jwks.data, jwks, ssf->jwks.len);
    }

    free(jwks);

    ssf->etag.data = ngx_pnalloc(cf->pool, 2 + 2 * sizeof(md5));

    if (ssf->jwks.data == NULL || ssf->etag.data == NULL) {
        return NGX_ERROR;
    }

    ngx_md5_init(&ctx);
    ngx_md5_update(&ctx, ssf->jwks.data, ssf->jwks.len);
    ngx_md5_final(md5, &ctx);

    ssf->etag.data[0] = '"';
    ngx_hex_dump(ssf->etag.data + 1, md5, sizeof(md5));
    ssf->etag.data[1 + 2 * sizeof(md5)] = '"';
    ssf->etag.len = 2 + 2 * sizeof(md5);

    return NGX_OK;
}


static void
ngx_http_aim_ssf_cleanup(void *data)
{
    ngx_http_aim_ssf_t  *ssf = data;

    aim_ssf_receiver_free(ssf->rx);
    aim_ssf_publisher_free(ssf->pub);
}


static char *
ngx_http_aim_ssf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_aim_ssf_loc_conf_t *slcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (slcf->mode != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "conflicts with another directive of this location that "
               "answers requests";
    }

    slcf->mode = cmd->offset;
    slcf->file = cf->conf_file->file.name;
    slcf->line = cf->conf_file->line;

    clcf->handler = ngx_http_aim_ssf_handlers[slcf->mode];

    return NGX_CONF_OK;
}
