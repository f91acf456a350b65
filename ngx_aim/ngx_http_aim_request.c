/*
 * ngx_http_aim_request.c -- a request as libaim sees it, and its answer.
 *
 * The module describes: the action (the client's method), the resource
 * (this request's URI), the client, the scopes this location requires,
 * the credentials as they arrived (Authorization scheme and token, the
 * DPoP headers, the server's own URL, a verified TLS client certificate)
 * and a replay store in shared memory.  libaim decides and audits; this
 * file turns the decision into a status and an RFC 6750 / RFC 9449
 * challenge, and keeps what was allowed for the re-checks of a response
 * still open (ngx_http_aim_recheck.c).
 */


#include "ngx_http_aim.h"

#if (NGX_HTTP_SSL)
#include <openssl/x509.h>
#endif


#define NGX_HTTP_AIM_REPLAY_PROBES  32


/* The DPoP replay store: an open-addressed table in shared memory. */
typedef struct {
    u_char                      hash[16];
    int64_t                     expires;
} ngx_http_aim_replay_slot_t;


typedef struct {
    ngx_uint_t                  nslots;
    ngx_http_aim_replay_slot_t  slots[1];
} ngx_http_aim_replay_sh_t;


typedef struct {
    ngx_http_aim_replay_sh_t   *sh;
    ngx_slab_pool_t            *shpool;
} ngx_http_aim_replay_t;


static ngx_int_t ngx_http_aim_describe(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf, aim_request *req);
static ngx_int_t ngx_http_aim_credentials(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf, aim_request *req);
static ngx_int_t ngx_http_aim_proof(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf, aim_request *req);
static char *ngx_http_aim_url(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf);
static aim_status ngx_http_aim_replay(void *ud, const unsigned char hash[32],
    int64_t expires);
static ngx_int_t ngx_http_aim_init_replay_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_aim_answer(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf, aim_request *req, ngx_http_aim_ctx_t *ctx,
    ngx_str_t *scope);
static ngx_int_t ngx_http_aim_challenge(ngx_http_request_t *r,
    ngx_http_aim_loc_conf_t *alcf, aim_scheme scheme, const char *error,
    const char *reason, ngx_str_t *scope);
static u_char *ngx_http_aim_quoted(u_char *p, ngx_str_t *s);
static void ngx_http_aim_ctx_cleanup(void *data);
static void ngx_http_aim_main_cleanup(void *data);
static void ngx_http_aim_token_cleanup(void *data);
static ngx_int_t ngx_http_aim_keep_token(ngx_http_request_t *r,
    aim_decision *d);
static ngx_int_t ngx_http_aim_value(ngx_http_request_t *r,
    ngx_http_complex_value_t *cv, ngx_str_t *value);


static ngx_shm_zone_t  *ngx_http_aim_replay_zone;


/*
 * The decision for this request in this location: one audit line, the
 * result kept in the context (variables, the next phase) and the answer:
 * NGX_OK, or the status to finalize the request with.
 */

ngx_int_t
ngx_http_aim_decide(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf,
    ngx_http_aim_ctx_t *ctx)
{
    ngx_str_t             joined;
    aim_request           req, *kept;
    ngx_http_aim_ctx_t  **sub;
    ngx_http_aim_main_t  *mn;

    if (ngx_http_aim_describe(r, alcf, &req) != NGX_OK
        || ngx_http_aim_scopes(r, alcf, &req, &joined) != NGX_OK
        || ngx_http_aim_value(r, alcf->token, &ctx->token) != NGX_OK
        || ngx_http_aim_value(r, alcf->dpop_origin, &ctx->origin) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->resource) {
        req.resource = ctx->resource;
    }

    if (ctx->host_status != AIM_OK) {
        req.host_status = ctx->host_status;
        req.host_message = ctx->host_message;
    }

    mn = ngx_http_aim_get_main(r);
    if (mn == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_aim_keep_token(r, &ctx->decision) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_aim_enter(alcf->verifier, r->connection->log);
    (void) aim_decide(alcf->verifier->verifier, &req, &ctx->decision);
    ngx_http_aim_enter(alcf->verifier, NULL);

    ctx->conf = alcf;
    ctx->scopes = joined;
    ctx->decided = 1;
    ctx->rc = ngx_http_aim_answer(r, alcf, &req, ctx, &joined);

    if (r == r->main) {
        mn->last = ctx;
    }

    if (ctx->rc == NGX_OK && alcf->recheck) {

        /* what the response was allowed for, to be decided again */

        if (ctx->allowed == NULL) {
            ctx->allowed = ngx_array_create(r->pool, 1, sizeof(aim_request));
            if (ctx->allowed == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        kept = ngx_array_push(ctx->allowed);
        if (kept == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        *kept = req;

        if (r != r->main && !ctx->watched) {

            /*
             * a subrequest's allow (auth_request) lets the main request's
             * response go on: it is re-checked with it
             */

            if (mn->subrequests == NULL) {
                mn->subrequests = ngx_array_create(r->pool, 1,
                                                sizeof(ngx_http_aim_ctx_t *));
                if (mn->subrequests == NULL) {
                    return NGX_HTTP_INTERNAL_SERVER_ERROR;
                }
            }

            sub = ngx_array_push(mn->subrequests);
            if (sub == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            *sub = ctx;
            ctx->watched = 1;
        }

        ngx_http_aim_watch(r->main, mn);
    }

    return ctx->rc;
}


/*
 * Who is this, before any decision ($aim_agent keying limit_req or a
 * map): the token and its key binding, no scopes, no audit line.  Once
 * per configuration that reads credentials alike: an identification for
 * the server's own settings (a server-level "set") is not the location's.
 */

ngx_int_t
ngx_http_aim_identify(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf,
    ngx_http_aim_ctx_t *ctx)
{
    aim_request  req;

    if (ctx->identified
        && ngx_http_aim_same_credentials(ctx->identity_conf, alcf))
    {
        return NGX_OK;
    }

    if (ngx_http_aim_keep_token(r, &ctx->identity) != NGX_OK
        || ngx_http_aim_describe(r, alcf, &req) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_aim_enter(alcf->verifier, r->connection->log);
    (void) aim_identify(alcf->verifier->verifier, &req, &ctx->identity);
    ngx_http_aim_enter(alcf->verifier, NULL);

    ctx->identity_conf = alcf;
    ctx->identified = 1;

    return NGX_OK;
}


/*
 * Do a and b read and verify credentials alike (the same verifier, key
 * binding rules and token source)?  An "if" block that sets none of
 * them inherits them all.
 */

ngx_uint_t
ngx_http_aim_same_credentials(ngx_http_aim_loc_conf_t *a,
    ngx_http_aim_loc_conf_t *b)
{
    return a == b
           || (a->verifier == b->verifier
               && a->dpop == b->dpop
               && a->dpop_origin == b->dpop_origin
               && a->token == b->token);
}


/*
 * Does ctx's decision still hold for the credentials as alcf reads them
 * now?  aim_token and aim_dpop_origin built from variables are read
 * again: a "set" of the location (or of its "if" block) that changed
 * them after the decision makes the request be decided again, so a token
 * put there afterwards is never passed on unverified.  NGX_OK: the same
 * values; NGX_DECLINED: decide again.
 */

ngx_int_t
ngx_http_aim_same_values(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf,
    ngx_http_aim_ctx_t *ctx)
{
    ngx_str_t  token, origin;

    if (ngx_http_aim_value(r, alcf->token, &token) != NGX_OK
        || ngx_http_aim_value(r, alcf->dpop_origin, &origin) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* both are the client's own input: nothing secret is compared */

    return (ngx_http_aim_same_scopes(&token, &ctx->token) == NGX_OK
            && ngx_http_aim_same_scopes(&origin, &ctx->origin) == NGX_OK)
           ? NGX_OK : NGX_DECLINED;
}


/* What a complex value reads now; nothing when it has no variables. */

static ngx_int_t
ngx_http_aim_value(ngx_http_request_t *r, ngx_http_complex_value_t *cv,
    ngx_str_t *value)
{
    if (cv == NULL || cv->lengths == NULL) {
        ngx_str_null(value);
        return NGX_OK;
    }

    return ngx_http_complex_value(r, cv, value);
}


/*
 * A decision about to be replaced: variables read before may point into
 * its token, which lives on until the request's pool goes.
 */

static ngx_int_t
ngx_http_aim_keep_token(ngx_http_request_t *r, aim_decision *d)
{
    ngx_pool_cleanup_t  *cln;

    if (d->token) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_aim_token_cleanup;
        cln->data = d->token;
        d->token = NULL;
    }

    aim_decision_clear(d);

    return NGX_OK;
}


/*
 * The client's request as the core's HTTP rules see it: its method, a
 * body (a length above 0, or chunked: HTTP/2 and HTTP/3 without a length
 * too), credentials, and the CORS preflight headers.
 */

ngx_int_t
ngx_http_aim_http(ngx_http_request_t *r, aim_http_request *h)
{
    ngx_http_request_t  *mr;

    mr = r->main;

    ngx_memzero(h, sizeof(aim_http_request));

    h->method = ngx_http_aim_cstr(r->pool, &mr->method_name);
    if (h->method == NULL) {
        return NGX_ERROR;
    }

    h->body = mr->headers_in.content_length_n > 0 || mr->headers_in.chunked;
    h->credentials = mr->headers_in.authorization != NULL;
    h->origin = ngx_http_aim_header_in(mr, "Origin", NULL) != NULL;
    h->preflight_method = ngx_http_aim_header_in(mr,
                                  "Access-Control-Request-Method", NULL)
                          != NULL;

    return NGX_OK;
}


/* Must the body be read and decided as MCP messages (aim_mcp)? */

ngx_uint_t
ngx_http_aim_mcp_body(ngx_http_request_t *r)
{
    aim_http_request  h;

    /* fails closed: a request the module cannot describe has a body */

    return ngx_http_aim_http(r, &h) != NGX_OK || aim_mcp_carries_messages(&h);
}


static ngx_int_t
ngx_http_aim_describe(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf,
    aim_request *req)
{
    ngx_memzero(req, sizeof(aim_request));

    req->adapter = "nginx";

    /* the client's method: $request_method is the main request's too */
    req->action = ngx_http_aim_cstr(r->pool, &r->main->method_name);
    req->resource = ngx_http_aim_cstr(r->pool, &r->uri);
    req->client = ngx_http_aim_cstr(r->pool, &r->connection->addr_text);

    if (req->action == NULL || req->resource == NULL || req->client == NULL) {
        return NGX_ERROR;
    }

    req->dpop = (aim_dpop_mode) alcf->dpop;

    return ngx_http_aim_credentials(r, alcf, req);
}


/*
 * The token as it arrived: "Authorization: Bearer" (RFC 6750 2.1) or
 * "Authorization: DPoP" (RFC 9449 7.1), schemes case-insensitive; any
 * other scheme presents nothing.  With aim_token, the value of that
 * expression instead, as a bearer token.
 */

static ngx_int_t
ngx_http_aim_credentials(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf,
    aim_request *req)
{
    u_char     *p, *last;
    ngx_str_t   value;

    if (alcf->token) {
        if (ngx_http_complex_value(r, alcf->token, &value) != NGX_OK) {
            return NGX_ERROR;
        }

        if (value.len) {
            req->token = (const char *) value.data;
            req->token_len = value.len;
            req->scheme = AIM_SCHEME_BEARER;
        }

        return NGX_OK;
    }

    if (r->headers_in.authorization == NULL) {
        return NGX_OK;
    }

    value = r->headers_in.authorization->value;
    p = value.data;
    last = p + value.len;

    if (value.len >= 6
        && ngx_strncasecmp(p, (u_char *) "Bearer", 6) == 0
        && (value.len == 6 || p[6] == ' '))
    {
        req->scheme = AIM_SCHEME_BEARER;
        p += 6;

    } else if (value.len >= 4
               && ngx_strncasecmp(p, (u_char *) "DPoP", 4) == 0
               && (value.len == 4 || p[4] == ' '))
    {
        req->scheme = AIM_SCHEME_DPOP;
        p += 4;

    } else {
        return NGX_OK;
    }

    while (p < last && *p == ' ') {
        p++;
    }

    req->token = (const char *) p;
    req->token_len = last - p;

#if (NGX_HTTP_SSL)
    {
        u_char               *hash;
        X509                 *cert;
        unsigned int          len;
        ngx_connection_t     *c;

        /* RFC 8705: a certificate the TLS layer verified ("SUCCESS") */

        c = r->connection;

        if (c->ssl && req->token_len
            && SSL_get_verify_result(c->ssl->connection) == X509_V_OK)
        {
            cert = SSL_get_peer_certificate(c->ssl->connection);

            if (cert) {
                hash = ngx_pnalloc(r->pool, EVP_MAX_MD_SIZE);

                if (hash == NULL
                    || !X509_digest(cert, EVP_sha256(), hash, &len)
                    || len != 32)
                {
                    X509_free(cert);
                    return NGX_ERROR;
                }

                X509_free(cert);
                req->cert_sha256 = hash;
            }
        }
    }
#endif

    if (req->scheme == AIM_SCHEME_DPOP) {
        return ngx_http_aim_proof(r, alcf, req);
    }

    return NGX_OK;
}


/* The DPoP evidence: the proof header(s), the client's method and URL. */

static ngx_int_t
ngx_http_aim_proof(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf,
    aim_request *req)
{
    ngx_uint_t        n;
    ngx_table_elt_t  *h;

    h = ngx_http_aim_header_in(r, "DPoP", &n);

    req->nproofs = (unsigned) n;

    if (h) {
        req->proof = (const char *) h->value.data;
        req->proof_len = h->value.len;
    }

    req->method = ngx_http_aim_cstr(r->pool, &r->main->method_name);
    req->url = ngx_http_aim_url(r, alcf);

    if (req->method == NULL || req->url == NULL) {
        return NGX_ERROR;
    }

    req->replay = ngx_http_aim_replay;
    req->replay_ud = r;

    return NGX_OK;
}


/*
 * The htu a proof must name: this server's own origin and the path of the
 * client's request (not the URI after rewrites, redirects or in a
 * subrequest), without the query.  The origin is aim_dpop_origin when
 * set, else the scheme of the connection, the server's name (its first
 * server_name) or, without a usable name, the address the connection
 * arrived on, and the port it arrived on: never the client's Host header.
 */

static char *
ngx_http_aim_url(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf)
{
    u_char                    *p, *url, addr[NGX_SOCKADDR_STRLEN];
    ngx_str_t                  origin, path, name;
    ngx_uint_t                 port, https;
    ngx_http_request_t        *mr;
    ngx_http_core_srv_conf_t  *cscf;

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

        *ngx_cpymem(ngx_cpymem(url, origin.data, origin.len), path.data,
                    path.len) = '\0';

        return (char *) url;
    }

    https = 0;

#if (NGX_HTTP_SSL)
    https = (r->connection->ssl != NULL);
#endif

    if (ngx_connection_local_sockaddr(r->connection, NULL, 0) != NGX_OK) {
        return NULL;
    }

    cscf = ngx_http_get_module_srv_conf(mr, ngx_http_core_module);
    name = cscf->server_name;

    if (name.len && name.len < sizeof(addr) - sizeof(":65535")
        && name.data[0] != '~' && name.data[0] != '_'
        && ngx_strlchr(name.data, name.data + name.len, '*') == NULL)
    {
        port = ngx_inet_get_port(r->connection->local_sockaddr);
        origin.data = addr;
        origin.len = ngx_sprintf(addr, "%V:%ui", &name, port) - addr;

    } else {
        origin.data = addr;
        origin.len = ngx_sock_ntop(r->connection->local_sockaddr,
                                   r->connection->local_socklen, addr,
                                   sizeof(addr), 1);
    }

    url = ngx_pnalloc(r->pool, sizeof("https://") + origin.len + path.len);
    if (url == NULL) {
        return NULL;
    }

    p = ngx_sprintf(url, "%s://%V%V", https ? "https" : "http", &origin,
                    &path);
    *p = '\0';

    return (char *) url;
}


/*
 * The replay store: AIM_OK for a proof not seen before, which is recorded
 * until expires; AIM_REPLAY for one seen before and not expired; AIM_INTERNAL
 * when no slot is free near its home (the store refuses rather than
 * forgets).  A proof this main request recorded itself (identification
 * before the decision, a subrequest, the next location after an internal
 * redirect) is the same use, not a replay.
 */

static aim_status
ngx_http_aim_replay(void *ud, const unsigned char hash[32], int64_t expires)
{
    ngx_http_request_t *r = ud;

    time_t                       now;
    uint64_t                     home;
    ngx_uint_t                   i, n;
    ngx_http_aim_main_t         *mn;
    ngx_http_aim_replay_t       *rp;
    ngx_http_aim_replay_sh_t    *sh;
    ngx_http_aim_replay_slot_t  *slot, *free;

    mn = ngx_http_aim_get_main(r);
    if (mn == NULL || ngx_http_aim_replay_zone == NULL) {
        return AIM_INTERNAL;
    }

    for (i = 0; i < mn->nproofs; i++) {
        if (ngx_memcmp(mn->proofs[i], hash, 32) == 0) {
            return AIM_OK;
        }
    }

    rp = ngx_http_aim_replay_zone->data;
    sh = rp->sh;
    n = sh->nslots;

    now = ngx_time();
    ngx_memcpy(&home, hash, sizeof(uint64_t));

    free = NULL;

    ngx_shmtx_lock(&rp->shpool->mutex);

    for (i = 0; i < NGX_HTTP_AIM_REPLAY_PROBES && i < n; i++) {
        slot = &sh->slots[(home + i) % n];

        if (slot->expires <= (int64_t) now) {
            if (free == NULL) {
                free = slot;
            }

            continue;
        }

        if (ngx_memcmp(slot->hash, hash, sizeof(slot->hash)) == 0) {
            ngx_shmtx_unlock(&rp->shpool->mutex);
            return AIM_REPLAY;
        }
    }

    if (free == NULL) {
        ngx_shmtx_unlock(&rp->shpool->mutex);

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "aim: the DPoP replay cache is full, refusing proofs; "
                      "raise aim_dpop_cache");
        return AIM_INTERNAL;
    }

    ngx_memcpy(free->hash, hash, sizeof(free->hash));
    free->expires = expires;

    ngx_shmtx_unlock(&rp->shpool->mutex);

    if (mn->nproofs < 2) {
        ngx_memcpy(mn->proofs[mn->nproofs++], hash, 32);
    }

    return AIM_OK;
}


ngx_int_t
ngx_http_aim_replay_init(ngx_conf_t *cf, size_t size)
{
    ngx_str_t               name;
    ngx_shm_zone_t         *shm_zone;
    ngx_http_aim_replay_t  *rp;

    rp = ngx_pcalloc(cf->pool, sizeof(ngx_http_aim_replay_t));
    if (rp == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&name, "aim_dpop");

    shm_zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_aim_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_aim_init_replay_zone;
    shm_zone->data = rp;

    ngx_http_aim_replay_zone = shm_zone;

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


/*
 * The scopes this location requires for this request.  A scope built from
 * request data must still be one scope token: an empty or odd value is
 * the host's own denial (insufficient_scope), never skipped.
 */

ngx_int_t
ngx_http_aim_scopes(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf,
    aim_request *req, ngx_str_t *joined)
{
    u_char                *p;
    size_t                 i, n, len;
    ngx_str_t              v;
    const char           **scopes;
    ngx_http_aim_scope_t  *sc;

    ngx_str_null(joined);

    if (alcf->scopes == NULL) {
        return NGX_OK;
    }

    n = alcf->scopes->nelts;
    sc = alcf->scopes->elts;

    scopes = ngx_palloc(r->pool, n * sizeof(char *));
    if (scopes == NULL) {
        return NGX_ERROR;
    }

    len = 0;

    for (i = 0; i < n; i++) {
        scopes[i] = sc[i].fixed;

        if (scopes[i] == NULL) {
            if (ngx_http_complex_value(r, &sc[i].value, &v) != NGX_OK) {
                return NGX_ERROR;
            }

            if (!aim_scope_valid((const char *) v.data, v.len)) {
                req->host_status = AIM_INSUFFICIENT_SCOPE;
                req->host_message = "a required scope evaluated to an empty "
                                    "or invalid value";
            }

            scopes[i] = ngx_http_aim_cstr(r->pool, &v);
            if (scopes[i] == NULL) {
                return NGX_ERROR;
            }
        }

        len += ngx_strlen(scopes[i]) + 1;
    }

    /* for the challenge's scope= and for comparisons */

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    joined->data = p;

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ' ';
        }

        p = ngx_cpymem(p, scopes[i], ngx_strlen(scopes[i]));
    }

    joined->len = p - joined->data;

    req->scopes = scopes;
    req->nscopes = n;
    req->any = alcf->scope_any;

    return NGX_OK;
}


/*
 * The error contract (RFC 6750 3, RFC 9449 7.1): no token, 401 and a bare
 * challenge; a token that does not verify, 401 invalid_token (a DPoP proof
 * that does not, invalid_dpop_proof); a valid token without the rights,
 * 403 insufficient_scope.  error_description is the core's stable reason
 * code; the body (nginx's error page, or JSON, ngx_http_aim_json.c) never
 * carries the token.  With aim_challenge_scope, every challenge of a
 * location that requires scopes says which (RFC 6750 3), and of an
 * aim_scope_any list the first, so an OAuth client asks for what
 * suffices, not for all of them.  An MCP body refused is the module's own
 * denial: its status, no challenge.
 */

static ngx_int_t
ngx_http_aim_answer(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf,
    aim_request *req, ngx_http_aim_ctx_t *ctx, ngx_str_t *scope)
{
    u_char      *sp;
    ngx_str_t    hint, *want;
    aim_status   s;
    aim_scheme   scheme;

    s = ctx->decision.status;
    ctx->error = NULL;

    if (s == AIM_OK) {
        return NGX_OK;
    }

    if (ctx->host_rc && ctx->decision.token && s == ctx->host_status) {
        return ctx->host_rc;
    }

    hint = *scope;

    if (ngx_http_aim_challenge_scope(alcf) && alcf->scope_any) {
        sp = ngx_strlchr(hint.data, hint.data + hint.len, ' ');
        if (sp) {
            hint.len = sp - hint.data;
        }
    }

    /* a scope that evaluated to nothing valid is not shown */
    want = (req->host_status == AIM_OK && hint.len) ? &hint : NULL;

    if (alcf->dpop == AIM_DPOP_REQUIRED) {
        scheme = AIM_SCHEME_DPOP;

    } else {
        scheme = req->scheme ? req->scheme : AIM_SCHEME_BEARER;
    }

    switch (s) {

    case AIM_NO_TOKEN:

        ctx->error = "invalid_token";

        if (!ngx_http_aim_challenge_scope(alcf)) {
            want = NULL;
        }

        if (alcf->dpop != AIM_DPOP_REQUIRED
            && ngx_http_aim_challenge(r, alcf, AIM_SCHEME_BEARER, NULL, NULL,
                                      want)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (alcf->dpop != AIM_DPOP_OFF
            && ngx_http_aim_challenge(r, alcf, AIM_SCHEME_DPOP, NULL, NULL,
                                      want)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return NGX_HTTP_UNAUTHORIZED;

    case AIM_INSUFFICIENT_SCOPE:
    case AIM_POLICY_DENIED:
    case AIM_LOW_TRUST:

        ctx->error = "insufficient_scope";

        if (ngx_http_aim_challenge(r, alcf, scheme, ctx->error, aim_reason(s),
                                   s != AIM_INSUFFICIENT_SCOPE ? NULL
                                   : ngx_http_aim_challenge_scope(alcf) ? want
                                   : req->host_status == AIM_OK ? scope
                                   : NULL)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return NGX_HTTP_FORBIDDEN;

    case AIM_CONFIG:
    case AIM_INTERNAL:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;

    default:

        ctx->error = ctx->decision.proof_error ? "invalid_dpop_proof"
                                               : "invalid_token";

        if (!ngx_http_aim_challenge_scope(alcf)) {
            want = NULL;
        }

        if (ngx_http_aim_challenge(r, alcf, scheme, ctx->error, aim_reason(s),
                                   want)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return NGX_HTTP_UNAUTHORIZED;
    }
}


static ngx_int_t
ngx_http_aim_challenge(ngx_http_request_t *r, ngx_http_aim_loc_conf_t *alcf,
    aim_scheme scheme, const char *error, const char *reason, ngx_str_t *scope)
{
    u_char           *p;
    size_t            len;
    ngx_str_t         value;
    ngx_table_elt_t  *h;

    len = sizeof("Bearer realm=\"\"") - 1 + 2 * alcf->realm.len
          + sizeof(", algs=\"" AIM_ALGORITHMS "\"") - 1
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

    value.data = p;

    if (scheme == AIM_SCHEME_DPOP) {
        p = ngx_cpymem(p, "DPoP realm=", sizeof("DPoP realm=") - 1);
        p = ngx_http_aim_quoted(p, &alcf->realm);
        p = ngx_cpymem(p, ", algs=\"" AIM_ALGORITHMS "\"",
                       sizeof(", algs=\"" AIM_ALGORITHMS "\"") - 1);

    } else {
        p = ngx_cpymem(p, "Bearer realm=", sizeof("Bearer realm=") - 1);
        p = ngx_http_aim_quoted(p, &alcf->realm);
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

    value.len = p - value.data;

    h = ngx_http_aim_header_out(r, "WWW-Authenticate", &value);
    if (h == NULL) {
        return NGX_ERROR;
    }

#if (nginx_version >= 1023000)
    {
        ngx_table_elt_t  **ph;

        /* since 1.23.0 a header's values are a list auth_request follows */

        for (ph = &r->headers_out.www_authenticate; *ph; ph = &(*ph)->next) {
            /* void */
        }

        *ph = h;
    }
#else
    if (r->headers_out.www_authenticate == NULL) {
        r->headers_out.www_authenticate = h;
    }
#endif

    return NGX_OK;
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


/* This (sub)request's context; its decisions live until the pool goes. */

ngx_http_aim_ctx_t *
ngx_http_aim_get_ctx(ngx_http_request_t *r)
{
    ngx_http_aim_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_aim_module);

    if (ctx == NULL) {
        ctx = ngx_http_aim_alloc(r->pool, sizeof(ngx_http_aim_ctx_t),
                                 ngx_http_aim_ctx_cleanup);
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_aim_module);
    }

    return ctx;
}


/*
 * What a main request and its subrequests share (they share the pool),
 * found again after an internal redirect resets the module contexts, as
 * ngx_http_realip_module finds its own.
 */

ngx_http_aim_main_t *
ngx_http_aim_get_main(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_aim_main_cleanup) {
            return cln->data;
        }
    }

    return ngx_http_aim_alloc(r->pool, sizeof(ngx_http_aim_main_t),
                              ngx_http_aim_main_cleanup);
}


/* size bytes from pool, zeroed, handed to handler when the pool goes. */

void *
ngx_http_aim_alloc(ngx_pool_t *pool, size_t size, ngx_pool_cleanup_pt handler)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(pool, size);
    if (cln == NULL) {
        return NULL;
    }

    ngx_memzero(cln->data, size);
    cln->handler = handler;

    return cln->data;
}


static void
ngx_http_aim_ctx_cleanup(void *data)
{
    ngx_http_aim_ctx_t  *ctx = data;

    aim_decision_clear(&ctx->decision);
    aim_decision_clear(&ctx->identity);
}


static void
ngx_http_aim_token_cleanup(void *data)
{
    aim_token_free(data);
}


static void
ngx_http_aim_main_cleanup(void *data)
{
    ngx_http_aim_main_t  *mn = data;

    /* the handler also marks the shared part */

    ngx_http_aim_unwatch(mn);
}


/* The verifier works for a request (log) or stops (NULL). */

void
ngx_http_aim_enter(ngx_http_aim_verifier_t *av, ngx_log_t *log)
{
    aim_verifier_set_audit(av->verifier,
                           ngx_http_aim_unit_enter(&av->unit, log),
                           &av->unit);
}


char *
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


/* The last request header called name, and (n) how many there are. */

ngx_table_elt_t *
ngx_http_aim_header_in(ngx_http_request_t *r, const char *name, ngx_uint_t *n)
{
    size_t            len;
    ngx_uint_t        i, count;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *found;

    len = ngx_strlen(name);
    count = 0;
    found = NULL;

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

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            found = &h[i];
            count++;
        }
    }

    if (n) {
        *n = count;
    }

    return found;
}


/* A response header, pushed as nginx's own filters push theirs. */

ngx_table_elt_t *
ngx_http_aim_header_out(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return h;
}


/*
 * The request body as read, whole, in one string (data NULL when empty):
 * from memory or from the temporary file nginx wrote it to, the buffers
 * left as they are for the upstream.  NGX_OK, or the status to refuse
 * with: 413 beyond max bytes, 500 when it cannot be read back.
 */

ngx_int_t
ngx_http_aim_read_body(ngx_http_request_t *r, size_t max, ngx_str_t *body)
{
    off_t         len;
    u_char       *p;
    size_t        size;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl, *bufs;

    ngx_str_null(body);

    bufs = r->request_body ? r->request_body->bufs : NULL;
    len = 0;

    for (cl = bufs; cl; cl = cl->next) {
        b = cl->buf;
        len += ngx_buf_in_memory(b) ? b->last - b->pos
               : b->in_file ? b->file_last - b->file_pos : 0;

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

    for (cl = bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        if (!b->in_file) {
            continue;
        }

        size = (size_t) (b->file_last - b->file_pos);
        n = ngx_read_file(b->file, p, size, b->file_pos);

        if (n != (ssize_t) size) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "aim: the request body could not be read back "
                          "from \"%V\"", &b->file->name);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p += size;
    }

    return NGX_OK;
}
