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

#include <grp.h>          /* initgroups() */
#include <pwd.h>
#include <sys/wait.h>

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
    ngx_uint_t                  receiver;   /* else a publisher */
    ngx_array_t                *options;    /* what it was built from */
    ngx_http_aim_opt_t         *config;
    ngx_uint_t                  audit;

    aim_ssf_receiver           *rx;
    aim_ssf_publisher          *pub;
    ngx_str_t                   jwks;
    ngx_str_t                   etag;

    ngx_log_t                  *log;        /* where the core writes now */
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
static ngx_int_t ngx_http_aim_ssf_body(ngx_http_request_t *r, size_t max,
    ngx_str_t *body);
static ngx_int_t ngx_http_aim_ssf_send(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *type, u_char *body, size_t len);
static ngx_int_t ngx_http_aim_ssf_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *description);
static ngx_int_t ngx_http_aim_ssf_header(ngx_http_request_t *r, char *name,
    ngx_str_t *value);
static u_char *ngx_http_aim_ssf_escape(u_char *dst, const char *src);
static void ngx_http_aim_ssf_enter(ngx_http_aim_ssf_t *ssf, ngx_log_t *log);
static void ngx_http_aim_ssf_log(void *ud, int level, const char *msg);
static void ngx_http_aim_ssf_audit_line(void *ud, const char *line);
static void ngx_http_aim_ssf_free(void *data);

static ngx_int_t ngx_http_aim_ssf_init_module(ngx_cycle_t *cycle);
static void *ngx_http_aim_ssf_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_aim_ssf_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_aim_ssf_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_http_aim_ssf_t *ngx_http_aim_ssf_get(ngx_conf_t *cf,
    ngx_http_aim_ssf_loc_conf_t *slcf, ngx_http_aim_loc_conf_t *alcf);
static aim_config *ngx_http_aim_ssf_config(ngx_conf_t *cf,
    ngx_http_aim_ssf_loc_conf_t *slcf, ngx_http_aim_loc_conf_t *alcf);
static void ngx_http_aim_ssf_config_error(ngx_conf_t *cf,
    ngx_http_aim_ssf_loc_conf_t *slcf, ngx_http_aim_loc_conf_t *alcf,
    aim_error *err);
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
    ngx_int_t  rc;

    if (!(r->method & NGX_HTTP_POST)) {
        return ngx_http_aim_ssf_not_allowed(r, "POST");
    }

    if (!ngx_http_aim_ssf_media_type(r, &ngx_http_aim_ssf_set_type)) {
        return NGX_HTTP_UNSUPPORTED_MEDIA_TYPE;
    }

    if (r->headers_in.content_length_n > AIM_SSF_MAX_SET_LEN) {
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_aim_ssf_receive);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_aim_ssf_receive(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_str_t                     set, retry;
    aim_ssf_result                res;
    ngx_http_aim_ssf_t           *ssf;
    ngx_http_aim_ssf_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_aim_ssf_module);
    ssf = slcf->ssf;

    rc = ngx_http_aim_ssf_body(r, AIM_SSF_MAX_SET_LEN, &set);
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

        ngx_str_set(&retry, NGX_HTTP_AIM_SSF_RETRY);

        rc = ngx_http_aim_ssf_header(r, "Retry-After", &retry);
        if (rc == NGX_OK) {
            rc = NGX_HTTP_SERVICE_UNAVAILABLE;
        }
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

    if (r->headers_in.content_length_n > AIM_SSF_MAX_POLL_REQUEST) {
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_aim_ssf_poll);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_aim_ssf_poll(ngx_http_request_t *r)
{
    char                         *consumer, *response;
    ngx_int_t                     rc;
    ngx_str_t                     req, name, retry;
    aim_error                     err;
    aim_status                    s;
    aim_ssf_err                   code;
    ngx_pool_cleanup_t           *cln;
    ngx_http_aim_ssf_t           *ssf;
    ngx_http_aim_ssf_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_aim_ssf_module);
    ssf = slcf->ssf;

    rc = ngx_http_aim_ssf_body(r, AIM_SSF_MAX_POLL_REQUEST, &req);
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

        ngx_str_set(&retry, NGX_HTTP_AIM_SSF_RETRY);

        rc = ngx_http_aim_ssf_header(r, "Retry-After", &retry);
        if (rc == NGX_OK) {
            rc = NGX_HTTP_SERVICE_UNAVAILABLE;
        }

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
    ngx_table_elt_t              *h;
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

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "ETag");
    h->value = ssf->etag;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    r->headers_out.etag = h;

    return ngx_http_aim_ssf_send(r, NGX_HTTP_OK, &ngx_http_aim_ssf_jwks_type,
                                 ssf->jwks.data, ssf->jwks.len);
}


static ngx_int_t
ngx_http_aim_ssf_not_allowed(ngx_http_request_t *r, char *methods)
{
    ngx_str_t  allow;

    allow.data = (u_char *) methods;
    allow.len = ngx_strlen(methods);

    if (ngx_http_aim_ssf_header(r, "Allow", &allow) != NGX_OK) {
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


/*
 * The request body as one string of at most max bytes, from memory or
 * from the temporary file nginx wrote it to: NGX_OK, or the status.
 */

static ngx_int_t
ngx_http_aim_ssf_body(ngx_http_request_t *r, size_t max, ngx_str_t *body)
{
    off_t         len;
    u_char       *p;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    ngx_str_null(body);

    if (r->request_body == NULL) {
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        len += b->in_file ? b->file_last - b->file_pos : b->last - b->pos;

        if (len > (off_t) max) {
            return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
        }
    }

    if (len == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, (size_t) len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body->data = p;
    body->len = (size_t) len;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        n = ngx_read_file(b->file, p, (size_t) (b->file_last - b->file_pos),
                          b->file_pos);

        if (n != (ssize_t) (b->file_last - b->file_pos)) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "aim: the request body could not be read back "
                          "from \"%V\"", &b->file->name);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p += n;
    }

    return NGX_OK;
}


/* A response with body (len bytes of type), or with none (type NULL). */

static ngx_int_t
ngx_http_aim_ssf_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, u_char *body, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;

    if (type) {
        r->headers_out.content_type = *type;
        r->headers_out.content_type_len = type->len;
    }

    if (len == 0) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body;
    b->last = body + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* RFC 8935 section 2.3 (and RFC 8936's errors): {"err", "description"}. */

static ngx_int_t
ngx_http_aim_ssf_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *description)
{
    u_char  *body, *p;
    size_t   len;

    len = sizeof("{\"err\":\"\",\"description\":\"\"}") - 1
          + ngx_strlen(code) + 6 * ngx_strlen(description);

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body, "{\"err\":\"%s\",\"description\":\"", code);
    p = ngx_http_aim_ssf_escape(p, description);
    p = ngx_cpymem(p, "\"}", 2);

    return ngx_http_aim_ssf_send(r, status, &ngx_http_aim_ssf_json_type, body,
                                 p - body);
}


static ngx_int_t
ngx_http_aim_ssf_header(ngx_http_request_t *r, char *name, ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


/*
 * A JSON string's content: quotes, backslashes and control characters
 * escaped; a byte that does not start valid UTF-8 (a message cut inside
 * a name) becomes '?'.  At most 6 bytes out per byte in.
 */

static u_char *
ngx_http_aim_ssf_escape(u_char *dst, const char *src)
{
    u_char    *p, *next, *last;
    uint32_t   c;

    p = (u_char *) src;
    last = p + ngx_strlen(src);

    while (p < last) {

        if (*p < 0x80) {
            if (*p == '"' || *p == '\\') {
                *dst++ = '\\';
                *dst++ = *p;

            } else if (*p < 0x20 || *p == 0x7f) {
                dst = ngx_sprintf(dst, "\\u%04xd", (ngx_uint_t) *p);

            } else {
                *dst++ = *p;
            }

            p++;
            continue;
        }

        next = p;
        c = ngx_utf8_decode(&next, last - p);

        if (c > 0x10ffff) {
            *dst++ = '?';
            p++;
            continue;
        }

        dst = ngx_cpymem(dst, p, next - p);
        p = next;
    }

    return dst;
}


/*
 * The core's messages go to the request's error log while it works for
 * a request; audit lines there too (as ngx_http_aim_module's), unless
 * aim_audit names a file, which the core writes itself, or is off.
 */

static void
ngx_http_aim_ssf_enter(ngx_http_aim_ssf_t *ssf, ngx_log_t *log)
{
    ssf->log = log;

    if (ssf->rx) {
        aim_ssf_receiver_set_audit(ssf->rx,
                                   log && ssf->audit == NGX_HTTP_AIM_AUDIT_LOG
                                   && log->log_level >= NGX_LOG_INFO
                                   ? ngx_http_aim_ssf_audit_line : NULL, ssf);
    }
}


static void
ngx_http_aim_ssf_log(void *ud, int level, const char *msg)
{
    ngx_http_aim_ssf_t  *ssf = ud;

    ngx_uint_t  lvl;

    lvl = (level == AIM_LOG_ERR) ? NGX_LOG_ERR
          : (level == AIM_LOG_WARN) ? NGX_LOG_WARN : NGX_LOG_INFO;

    ngx_log_error(lvl, ssf->log ? ssf->log : ngx_cycle->log, 0, "aim: %s",
                  msg);
}


static void
ngx_http_aim_ssf_audit_line(void *ud, const char *line)
{
    ngx_http_aim_ssf_t  *ssf = ud;

    ngx_log_error(NGX_LOG_INFO, ssf->log ? ssf->log : ngx_cycle->log, 0,
                  "aim audit: %s", line);
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
    int                            status, rw, fd;
    pid_t                          pid;
    ngx_uint_t                     i, j, failed;
    const char                    *path;
    ngx_core_conf_t               *ccf;
    ngx_http_aim_ssf_t           **ends;
    ngx_http_aim_ssf_main_conf_t  *smcf;

    smcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_aim_ssf_module);
    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (smcf == NULL || smcf->ends.nelts == 0 || geteuid() != 0
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
                          "aim: cannot check the shared signals files as the "
                          "worker user \"%s\"", ccf->username);
            _exit(1);
        }

        failed = 0;
        ends = smcf->ends.elts;

        for (i = 0; i < smcf->ends.nelts; i++) {
            for (j = 0; ; j++) {
                path = ends[i]->rx
                       ? aim_ssf_receiver_watched(ends[i]->rx, j, &rw)
                       : aim_ssf_publisher_watched(ends[i]->pub, j, &rw);

                if (path == NULL) {
                    break;
                }

                fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_NONBLOCK);
                if (fd >= 0) {
                    close(fd);
                    continue;
                }

                ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                              "aim: the worker user \"%s\" cannot open \"%s\"%s",
                              ccf->username, path,
                              rw ? " read-write, as every worker must to take "
                                   "its lock (give the state file's directory "
                                   "and files to a group of the worker user, "
                                   "docs/operations.md)"
                                 : ", which workers re-read when it changes");
                failed = 1;
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

    ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                  "aim: workers will defer every SET and poll until the files "
                  "above are theirs to open");

    return NGX_OK;
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
    char                          *jwks;
    u_char                         md5[16];
    ngx_md5_t                      ctx;
    ngx_uint_t                     i, receiver;
    aim_error                      err;
    aim_config                    *cfg;
    ngx_pool_cleanup_t            *cln;
    ngx_http_aim_ssf_t            *ssf, **ends;
    ngx_http_aim_ssf_main_conf_t  *smcf;

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_aim_ssf_module);
    receiver = (slcf->mode == NGX_HTTP_AIM_SSF_RECEIVER);

    ends = smcf->ends.elts;
    for (i = 0; i < smcf->ends.nelts; i++) {
        if (ends[i]->receiver == receiver
            && ends[i]->options == alcf->options
            && ends[i]->config == alcf->config
            && (!receiver || ends[i]->audit == alcf->audit))
        {
            return ends[i];
        }
    }

    cfg = ngx_http_aim_ssf_config(cf, slcf, alcf);
    if (cfg == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(cf->pool, sizeof(ngx_http_aim_ssf_t));
    if (cln == NULL) {
        aim_config_free(cfg);
        return NULL;
    }

    ssf = cln->data;
    ngx_memzero(ssf, sizeof(ngx_http_aim_ssf_t));

    ssf->receiver = receiver;
    ssf->options = alcf->options;
    ssf->config = alcf->config;
    ssf->audit = alcf->audit;

    cln->handler = ngx_http_aim_ssf_cleanup;

    ngx_memzero(&err, sizeof(aim_error));

    if (receiver) {
        ssf->rx = aim_ssf_receiver_new(cfg, &err);

    } else {
        ssf->pub = aim_ssf_publisher_new(cfg, &err);
    }

    aim_config_free(cfg);

    if (ssf->rx == NULL && ssf->pub == NULL) {
        ngx_http_aim_ssf_config_error(cf, slcf, alcf, &err);
        return NULL;
    }

    if (receiver) {
        aim_ssf_receiver_set_log(ssf->rx, ngx_http_aim_ssf_log, ssf);

    } else {
        aim_ssf_publisher_set_log(ssf->pub, ngx_http_aim_ssf_log, ssf);

        jwks = aim_ssf_publisher_jwks(ssf->pub);
        if (jwks == NULL) {
            return NULL;
        }

        ssf->jwks.len = ngx_strlen(jwks);
        ssf->jwks.data = ngx_pnalloc(cf->pool, ssf->jwks.len);

        if (ssf->jwks.data) {
            ngx_memcpy(ssf->jwks.data, jwks, ssf->jwks.len);
        }

        free(jwks);

        if (ssf->jwks.data == NULL) {
            return NULL;
        }

        /* the same key gives the same bytes, across reloads too */

        ngx_md5_init(&ctx);
        ngx_md5_update(&ctx, ssf->jwks.data, ssf->jwks.len);
        ngx_md5_final(md5, &ctx);

        ssf->etag.data = ngx_pnalloc(cf->pool, 2 + 2 * sizeof(md5));
        if (ssf->etag.data == NULL) {
            return NULL;
        }

        ssf->etag.data[0] = '"';
        ngx_hex_dump(ssf->etag.data + 1, md5, sizeof(md5));
        ssf->etag.data[1 + 2 * sizeof(md5)] = '"';
        ssf->etag.len = 2 + 2 * sizeof(md5);
    }

    ends = ngx_array_push(&smcf->ends);
    if (ends == NULL) {
        return NULL;
    }

    *ends = ssf;

    return ssf;
}


/* The core's options as the aim module merged them, and aim_config. */

static aim_config *
ngx_http_aim_ssf_config(ngx_conf_t *cf, ngx_http_aim_ssf_loc_conf_t *slcf,
    ngx_http_aim_loc_conf_t *alcf)
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
            ngx_http_aim_ssf_config_error(cf, slcf, alcf, &err);
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
 * Point at the directive that set the option the core names, else at
 * the aim_ssf_* directive whose receiver or publisher could not be made.
 */

static void
ngx_http_aim_ssf_config_error(ngx_conf_t *cf,
    ngx_http_aim_ssf_loc_conf_t *slcf, ngx_http_aim_loc_conf_t *alcf,
    aim_error *err)
{
    ngx_uint_t           i;
    ngx_http_aim_opt_t  *o, *site;

    site = NULL;

    if (err->option && alcf->options) {
        o = alcf->options->elts;

        for (i = 0; i < alcf->options->nelts; i++) {
            if (ngx_strcmp(o[i].option->name, err->option) == 0) {
                site = &o[i];
            }
        }
    }

    if (site) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"aim_%s\" directive: %s in %V:%ui", site->option->name,
                      err->message, &site->file, site->line);
        return;
    }

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "\"%s\" in %V:%ui: %s",
                  ngx_http_aim_ssf_names[slcf->mode], &slcf->file, slcf->line,
                  err->message);
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
