/*
 * decide.c -- the one decision path every adapter calls.
 *
 *   identify:  verify (cached) -> key binding
 *   decide:    identify -> the host's own denial -> scopes -> observe
 *              (baseline, trust) -> audit
 *
 * Nothing about a decision is kept on the verifier: what a call found
 * (token, trust, signal, why) is returned in the caller's aim_decision.
 */
#include <stdio.h>
#include <string.h>
#include "b64.h"
#include "internal.h"
#include "ssf.h"
#include "util.h"

static void
decision_init(aim_decision *d)
{
    d->status = AIM_OK;
    d->token = NULL;
    d->trust = -1;
    d->signal = NULL;
    d->proof_error = 0;
    d->message[0] = '\0';
}

void
aim_decision_clear(aim_decision *d)
{
    if (d != NULL) {
        aim_token_free(d->token);
        decision_init(d);
    }
}

/*
 * A message quotes what the presenter chose (a kid, a typ, a proof key's
 * curve) and what the host said; adapters write it to their logs.  No
 * line break or other control byte gets there to forge a log line.
 */
static void
clean_message(char *m)
{
    for ( ; *m != '\0'; m++) {
        if ((unsigned char) *m < 0x20 || *m == 0x7f) {
            *m = '?';
        }
    }
}

/* Copy an aim_error's outcome into the decision. */
static aim_status
take(aim_decision *d, const aim_error *err, aim_status s)
{
    d->status = s;
    if (s != AIM_OK) {
        memcpy(d->message, err->message, sizeof(d->message));
        d->message[sizeof(d->message) - 1] = '\0';
        clean_message(d->message);
    }
    return s;
}

static aim_status
refuse(aim_decision *d, aim_status s, const char *msg)
{
    d->status = s;
    snprintf(d->message, sizeof(d->message), "%s", msg);
    clean_message(d->message);
    return s;
}

/* ------------------------------------------------------------------ */
/* Key binding                                                         */

/* RFC 9449: a bound token needs a fresh proof by its key, once. */
static aim_status
check_dpop(aim_verifier *v, const aim_token *t, const aim_request *req,
           aim_decision *d)
{
    aim_dpop_request  dreq;
    aim_error         err;
    aim_status        s;
    unsigned char     hash[32];
    int64_t           expires;

    if (t->cnf_jkt == NULL) {
        return refuse(d, AIM_BAD_BINDING, "the DPoP scheme was used with a token "
                      "that is not bound to a key (no cnf.jkt)");
    }
    d->proof_error = 1;
    if (req->nproofs != 1 || req->proof == NULL) {
        return refuse(d, AIM_BAD_BINDING, req->nproofs > 1
                      ? "more than one DPoP proof header" : "no DPoP proof header");
    }
    if (req->method == NULL || req->url == NULL) {
        return refuse(d, AIM_BAD_BINDING, "the request's method or URL is "
                      "unknown, so no DPoP proof can match it");
    }
    dreq.method = req->method;
    dreq.url = req->url;
    dreq.max_age = v->cfg.dpop_max_age;
    /* ath: the proof is for the token decided -- the one presented, or
     * the one a session holds (whatever req->token says then). */
    s = aim_dpop_verify_hash(v, req->proof, req->proof_len,
                             t->hashed ? t->hash : NULL, t, &dreq, hash, &err);
    if (s != AIM_OK) {
        return take(d, &err, s);
    }

    /*
     * A proof is accepted once.  It stays in the store as long as any
     * instance could accept it: its iat may be max_age in the past and
     * leeway in the future, and this host's clock may differ by leeway.
     */
    if (req->replay == NULL) {
        d->proof_error = 0;          /* the adapter's fault, not the proof's */
        return refuse(d, AIM_INTERNAL, "no DPoP replay store is configured");
    }
    expires = aim_now() + dreq.max_age + 2 * v->cfg.leeway;
    s = req->replay(req->replay_ud, hash, expires);
    if (s == AIM_REPLAY) {
        return refuse(d, AIM_REPLAY, "the DPoP proof was used before (jti)");
    }
    d->proof_error = 0;
    if (s != AIM_OK) {
        return refuse(d, AIM_INTERNAL, "the DPoP replay store cannot record "
                      "the proof (full?)");
    }
    return AIM_OK;
}

/* RFC 8705 3.1: the verified client certificate is the one named. */
static aim_status
check_mtls(const aim_token *t, const aim_request *req, aim_decision *d)
{
    unsigned char want[AIM_B64_DECODED_MAX(43)];
    size_t        len = 0;

    if (req->cert_sha256 == NULL) {
        return refuse(d, AIM_BAD_BINDING, "the token is bound to a TLS client "
                      "certificate (cnf.x5t#S256) and none was presented");
    }
    if (aim_b64url_decode(t->cnf_x5t, strlen(t->cnf_x5t), want, &len) != 0
        || len != 32 || !aim_ct_equal(want, req->cert_sha256, 32))
    {
        return refuse(d, AIM_BAD_BINDING, "the TLS client certificate is not "
                      "the one the token is bound to (cnf.x5t#S256)");
    }
    return AIM_OK;
}

/*
 * Is the token presented the way its binding demands?  A bound token is
 * honoured only where its proof is checked, so a stolen sender-
 * constrained token is not a bearer token anywhere.
 */
static aim_status
check_binding(aim_verifier *v, const aim_token *t, const aim_request *req,
              aim_decision *d)
{
    aim_status s;

    if (t->cnf_other) {
        return refuse(d, AIM_BAD_BINDING, "the token is bound to a key by a "
                      "confirmation method AIM cannot check (cnf other than "
                      "jkt and x5t#S256)");
    }
    if (req->scheme == AIM_SCHEME_DPOP) {
        if (req->dpop == AIM_DPOP_OFF) {
            return refuse(d, AIM_BAD_BINDING, "DPoP proofs are not accepted "
                          "here");
        }
        if ((s = check_dpop(v, t, req, d)) != AIM_OK) {
            return s;
        }
    } else if (t->cnf_jkt != NULL) {
        return refuse(d, AIM_BAD_BINDING, req->dpop == AIM_DPOP_OFF
                      ? "the token is bound to a DPoP key (cnf.jkt) and this "
                        "service checks no proof"
                      : "the token is bound to a DPoP key (cnf.jkt) and was "
                        "presented as a bearer token");
    } else if (req->dpop == AIM_DPOP_REQUIRED) {
        return refuse(d, AIM_BAD_BINDING, "a DPoP-bound token is required here "
                      "(Authorization: DPoP)");
    }
    if (t->cnf_x5t != NULL) {
        return check_mtls(t, req, d);
    }
    return AIM_OK;
}

/* ------------------------------------------------------------------ */
/* The baseline rule                                                   */

/*
 * Which outcomes of a verified token feed the agent's baseline: the
 * allows, and the denials the agent caused while holding a valid token.
 * Written once; every entry point goes through observe().
 */
static int
feeds_baseline(aim_status s)
{
    switch (s) {
    case AIM_OK:
    case AIM_INSUFFICIENT_SCOPE:
    case AIM_POLICY_DENIED:
    case AIM_BAD_BINDING:
    case AIM_REPLAY:
        return 1;
    default:
        return 0;
    }
}

/*
 * Record the decision (status is the outcome before trust) and apply
 * trust, which only ever turns an allow into a deny.  A later step of an
 * event already recorded (AIM_OBSERVE_READ) records nothing and only
 * reads trust, so one login is one event, not one per PAM step.
 */
static aim_status
observe(aim_verifier *v, const aim_token *t, const aim_request *req,
        aim_decision *d)
{
    double trust;

    if (v->state == NULL || t == NULL || !feeds_baseline(d->status)) {
        return d->status;
    }
    if (req->observe == AIM_OBSERVE_READ) {
        if (d->status != AIM_OK) {
            return d->status;
        }
        trust = aim_state_trust(v->state, t->agent, aim_now());
    } else {
        trust = aim_state_observe(v->state, t->agent, req->action,
                                  req->resource, d->status, aim_now(),
                                  &d->signal);
    }
    if (trust < 0) {
        aim_vlog(v, AIM_LOG_ERR, "state file %s: no slot for agent \"%.100s\" "
                 "(table full, lock held, or the file replaced by one this "
                 "process cannot open); refusing", v->cfg.state, t->agent);
        if (d->status == AIM_OK) {
            refuse(d, AIM_INTERNAL, "behavioural state unavailable for this "
                   "agent");
        }
        return d->status;
    }
    d->trust = trust;
    if (trust < v->cfg.trust_min && d->signal != NULL) {
        /* This host's own evidence drove the agent below the threshold:
         * a signal for the fleet (ssf.c).  Trust lowered by a received
         * signal carries no d->signal, so signals never echo. */
        aim_ssf_distrusted(v, t->agent, trust, d->signal);
    }
    if (d->status == AIM_OK && trust < v->cfg.trust_min) {
        d->status = AIM_LOW_TRUST;
        snprintf(d->message, sizeof(d->message), "trust %.0f is below %d%s%s%s",
                 trust, v->cfg.trust_min, d->signal ? " (" : "",
                 d->signal ? d->signal : "", d->signal ? ")" : "");
    }
    return d->status;
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */

static const aim_request aim_no_request;

/*
 * A description the core cannot read is the adapter's bug: refuse it
 * (fail closed) rather than guess, before anything is verified or spent.
 */
static aim_status
check_request(const aim_request *req, aim_decision *d)
{
    if ((unsigned) req->scheme > AIM_SCHEME_DPOP
        || (unsigned) req->dpop > AIM_DPOP_REQUIRED
        || (unsigned) req->audit > AIM_AUDIT_DENIALS)
    {
        return refuse(d, AIM_INTERNAL, "the adapter described the request "
                      "with an unknown scheme, DPoP mode or audit mode");
    }
    if (req->nscopes > 0 && req->scopes == NULL) {
        return refuse(d, AIM_INTERNAL, "the adapter gave a count of required "
                      "scopes without the scopes");
    }
    return AIM_OK;
}

aim_status
aim_identify(aim_verifier *v, const aim_request *req, aim_decision *d)
{
    aim_error  err;
    aim_status s;

    decision_init(d);
    if (req == NULL) {
        req = &aim_no_request;
    }
    if (check_request(req, d) != AIM_OK) {
        return d->status;
    }
    if (req->continued) {
        /* a presented token has had no binding checked yet */
        return refuse(d, AIM_INTERNAL, "the adapter described a presented "
                      "token as the continuation of an earlier decision");
    }
    s = aim_verify(v, req->token, req->token_len, &d->token, &err);
    if (s != AIM_OK) {
        return take(d, &err, s);
    }
    return check_binding(v, d->token, req, d);
}

/*
 * Everything after identification, for both kinds of decision.  valid:
 * the token is (still) valid, so the outcome is the agent's doing and may
 * feed its baseline; a held token that expired, was revoked or lost its
 * policy since is refused without counting against the agent.
 */
static aim_status
finish(aim_verifier *v, const aim_request *req, aim_decision *d, int valid)
{
    aim_error err;

    if (d->status == AIM_OK && req->host_status != AIM_OK) {
        refuse(d, req->host_status, req->host_message != NULL
               ? req->host_message : aim_reason(req->host_status));
    }
    if (d->status == AIM_OK) {
        take(d, &err, aim_authorize(d->token, req, &err));
    }
    if (d->token != NULL && valid) {
        observe(v, d->token, req, d);
    }
    if (req->audit != AIM_AUDIT_DENIALS || d->status != AIM_OK) {
        aim_audit_emit(v, req, d->token, d->status, 0,
                       d->status == AIM_OK ? NULL : d->message, d->trust,
                       d->signal);
    }
    return d->status;
}

aim_status
aim_decide(aim_verifier *v, const aim_request *req, aim_decision *d)
{
    if (req == NULL) {
        req = &aim_no_request;
    }
    aim_identify(v, req, d);
    return finish(v, req, d, 1);
}

aim_status
aim_decide_token(aim_verifier *v, const aim_token *t, const aim_request *req,
                 aim_decision *d)
{
    aim_error err;

    decision_init(d);
    if (req == NULL) {
        req = &aim_no_request;
    }
    if (check_request(req, d) != AIM_OK) {
        return finish(v, req, d, 0);
    }
    if (t == NULL) {
        refuse(d, AIM_NO_TOKEN, "no token was verified for this session");
        return finish(v, req, d, 0);
    }
    d->token = aim_token_ref((aim_token *) t);
    if (take(d, &err, aim_recheck(v, t, &err)) != AIM_OK) {
        return finish(v, req, d, 0);
    }
    /* A continuation: the binding was checked when the event began (a
     * DPoP proof is fresh once, not for as long as a stream stays open). */
    if (!req->continued) {
        check_binding(v, t, req, d);
    }
    return finish(v, req, d, 1);
}

void
aim_note(aim_verifier *v, const aim_request *req, const aim_token *t,
         const char *event)
{
    aim_audit_emit(v, req, t, AIM_OK, 1, event, -1, NULL);
}
