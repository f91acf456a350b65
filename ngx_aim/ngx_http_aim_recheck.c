/*
 * ngx_http_aim_recheck.c -- a response still open ends with its agent.
 *
 * A request is decided when it starts; a long-lived response (an SSE
 * stream, a streamed body, a WebSocket through a proxy upgrade) would
 * outlive the token it was allowed for, and keep-alive messages from the
 * upstream keep every timeout from firing.  So each worker keeps the main
 * requests it allowed, or whose subrequests it allowed (auth_request),
 * (aim_recheck, on by default) and, from the timer
 * that re-reads the core's files, twice a second, asks the core again
 * about each one still open: aim_decide_token() on the token it was
 * decided with, for what it was allowed for, as a continuation of that
 * decision (the key binding was checked then; trust is read, nothing is
 * recorded; only a denial is audited).  An expiry, a revocation (file,
 * status list, a shared signal in the state file), a policy change or
 * trust below the threshold ends the request there: nginx terminates it
 * as it does a failed one (the connection is closed, an HTTP/2 stream
 * reset), and $aim_reason says why.
 */


#include "ngx_http_aim.h"


static ngx_queue_t  ngx_http_aim_open;


void
ngx_http_aim_recheck_init(void)
{
    ngx_queue_init(&ngx_http_aim_open);
}


/* A main request allowed: re-checked from now on, until its pool goes. */

void
ngx_http_aim_watch(ngx_http_request_t *r, ngx_http_aim_main_t *mn)
{
    if (mn->watched || ngx_http_aim_open.next == NULL) {
        return;
    }

    mn->request = r;
    mn->watched = 1;

    ngx_queue_insert_tail(&ngx_http_aim_open, &mn->open);
}


void
ngx_http_aim_unwatch(ngx_http_aim_main_t *mn)
{
    if (mn->watched) {
        ngx_queue_remove(&mn->open);
        mn->watched = 0;
    }
}


/*
 * NGX_OK, or why the agent may no longer be served what the request was
 * allowed for.
 */

static aim_status
ngx_http_aim_recheck_one(ngx_http_request_t *r, ngx_http_aim_ctx_t *ctx,
    char *why, size_t size)
{
    ngx_uint_t                i;
    aim_status                s;
    aim_request              *req, again;
    aim_decision              d;
    ngx_http_aim_verifier_t  *av;

    av = ctx->conf->verifier;
    req = ctx->allowed->elts;
    s = AIM_OK;

    ngx_http_aim_enter(av, r->connection->log);

    for (i = 0; i < ctx->allowed->nelts && s == AIM_OK; i++) {
        again = req[i];
        again.token = NULL;
        again.token_len = 0;
        again.audit = AIM_AUDIT_DENIALS;
        again.observe = AIM_OBSERVE_READ;
        again.continued = 1;

        s = aim_decide_token(av->verifier, ctx->decision.token, &again, &d);

        if (s != AIM_OK) {
            ngx_cpystrn((u_char *) why, (u_char *) d.message, size);
        }

        aim_decision_clear(&d);
    }

    ngx_http_aim_enter(av, NULL);

    return s;
}


/*
 * Every request still open in this worker, decided again: its own last
 * decision, and what its subrequests allowed (an auth_request's decision
 * lets the response go on as much as the request's own).
 */

void
ngx_http_aim_recheck(void)
{
    char                   why[sizeof(((aim_decision *) 0)->message)];
    aim_status             s;
    ngx_uint_t             i, n;
    ngx_queue_t           *q, *next;
    ngx_connection_t      *c;
    ngx_http_request_t    *r;
    ngx_http_aim_ctx_t    *ctx, **sub;
    ngx_http_aim_main_t   *mn;

    if (ngx_http_aim_open.next == NULL) {
        return;
    }

    for (q = ngx_queue_head(&ngx_http_aim_open);
         q != ngx_queue_sentinel(&ngx_http_aim_open);
         q = next)
    {
        /* ending a request frees its pool, and unlinks it */
        next = ngx_queue_next(q);

        mn = ngx_queue_data(q, ngx_http_aim_main_t, open);
        r = mn->request;
        c = r->connection;

        if (r->done || c->error || c->destroyed || mn->ended != AIM_OK) {
            /* complete (lingering on), or ending */
            continue;
        }

        n = mn->subrequests ? mn->subrequests->nelts : 0;
        sub = n ? mn->subrequests->elts : NULL;
        s = AIM_OK;
        ctx = NULL;

        for (i = 0; i <= n && s == AIM_OK; i++) {
            ctx = (i == 0) ? mn->last : sub[i - 1];

            if (ctx == NULL || !ctx->conf->recheck || ctx->allowed == NULL
                || ctx->decision.status != AIM_OK
                || ctx->decision.token == NULL)
            {
                /* no longer aim's */
                continue;
            }

            s = ngx_http_aim_recheck_one(r, ctx, why, sizeof(why));
        }

        if (s == AIM_OK) {
            continue;
        }

        mn->ended = s;

        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "aim: ending the response to \"%V\" for agent \"%s\": "
                      "%s (%s)", &r->uri, aim_token_agent(ctx->decision.token),
                      aim_reason(s), why);

        ngx_http_finalize_request(r, NGX_ERROR);
        ngx_http_run_posted_requests(c);
    }
}
