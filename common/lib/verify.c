/*
 * verify.c -- the verifier: key and list loading and reloads, token
 * verification (cached), re-checks of held tokens, scope checks.  The
 * decision path that strings these together is decide.c.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include "internal.h"
#include "json.h"
#include "jws.h"
#include "journal.h"
#include "scope.h"
#include "ssf.h"
#include "util.h"


static const char *const aim_reasons[AIM_STATUS_MAX] = {
    [AIM_OK]                 = "ok",
    [AIM_NO_TOKEN]           = "no_token",
    [AIM_MALFORMED]          = "malformed",
    [AIM_UNSUPPORTED_ALG]    = "unsupported_alg",
    [AIM_UNKNOWN_KEY]        = "unknown_key",
    [AIM_BAD_SIGNATURE]      = "bad_signature",
    [AIM_EXPIRED]            = "expired",
    [AIM_NOT_YET_VALID]      = "not_yet_valid",
    [AIM_BAD_ISSUER]         = "bad_issuer",
    [AIM_BAD_AUDIENCE]       = "bad_audience",
    [AIM_MISSING_CLAIM]      = "missing_claim",
    [AIM_BAD_CLAIM]          = "bad_claim",
    [AIM_LIFETIME_TOO_LONG]  = "lifetime_too_long",
    [AIM_BAD_TYPE]           = "bad_type",
    [AIM_REVOKED]            = "revoked",
    [AIM_INSUFFICIENT_SCOPE] = "insufficient_scope",
    [AIM_POLICY_DENIED]      = "policy_denied",
    [AIM_LOW_TRUST]          = "low_trust",
    [AIM_BAD_BINDING]        = "bad_binding",
    [AIM_REPLAY]             = "replay",
    [AIM_CONFIG]             = "config_error",
    [AIM_INTERNAL]           = "internal_error",
};

const char *
aim_reason(aim_status s)
{
    if ((unsigned) s >= AIM_STATUS_MAX || aim_reasons[s] == NULL) {
        return "internal_error";
    }
    return aim_reasons[s];
}

/* ------------------------------------------------------------------ */
/* Clock                                                               */

static int64_t (*aim_clock)(void);

int64_t
aim_now(void)
{
    return aim_clock != NULL ? aim_clock() : (int64_t) time(NULL);
}

void
aim_set_clock(int64_t (*clock)(void))
{
    aim_clock = clock;
}

/* ------------------------------------------------------------------ */
/* Key sources (keys, ssf_keys), each bound to the issuer it signs for  */

/*
 * strict_modes: refuse a file that users other than root and this
 * process's own could have changed (util.h), st being fstat() of what
 * was read.  The message starts with the option's name.
 */
static aim_status
file_trusted(int strict, const char *option, const char *path,
             const struct stat *st, unsigned flags, aim_error *err)
{
    aim_error e;

    if (!strict || aim_file_check(path, st, flags, &e) == AIM_OK) {
        return AIM_OK;
    }
    return aim_fail(err, AIM_CONFIG, "%s: %s", option, e.message);
}

aim_key_sources
aim_config_key_sources(const aim_config *cfg, int opt)
{
    aim_key_sources ks;

    if (opt == AIM_OPT_SSF_KEYS) {
        ks.option = "ssf_keys";
        ks.issuer_option = "ssf_issuer";
        ks.signer = "transmitter";
        ks.specs = cfg->ssf_keys;
        ks.bound = cfg->ssf_key_issuers;
        ks.n = cfg->nssf_keys;
        ks.issuers = cfg->ssf_issuers;
        ks.nissuers = cfg->nssf_issuers;
    } else {
        ks.option = "keys";
        ks.issuer_option = "issuer";
        ks.signer = "issuer";
        ks.specs = cfg->keys;
        ks.bound = cfg->key_issuers;
        ks.n = cfg->nkeys;
        ks.issuers = cfg->issuers;
        ks.nissuers = cfg->nissuers;
    }
    return ks;
}

aim_status
aim_key_sources_check(const aim_key_sources *ks, aim_error *err)
{
    size_t i, j;

    for (i = 0; i < ks->n; i++) {
        if (ks->bound[i] == NULL) {
            if (ks->nissuers > 1) {
                /* Otherwise any issuer's key could sign for another. */
                return aim_fail_option(err, AIM_CONFIG, ks->option, "with more "
                                       "than one %s, bind every key source to "
                                       "its issuer (\"ISSUER PATH\")", ks->signer);
            }
            continue;
        }
        for (j = 0; j < ks->nissuers; j++) {
            if (strcmp(ks->bound[i], ks->issuers[j]) == 0) {
                break;
            }
        }
        if (j == ks->nissuers) {
            return aim_fail_option(err, AIM_CONFIG, ks->option, "issuer "
                                   "\"%.100s\" is not a configured %s",
                                   ks->bound[i], ks->issuer_option);
        }
    }
    return AIM_OK;
}

aim_keyset *
aim_key_sources_load(const aim_key_sources *ks, int strict, struct stat *st,
                     size_t *failed, aim_error *err)
{
    aim_keyset *all = NULL, *one;
    size_t      i, k;
    const char *issuer;

    for (i = 0; i < ks->n; i++) {
        if (failed != NULL) {
            *failed = i;
        }
        one = aim_keyset_load_st(ks->specs[i], &st[i], err);
        if (one != NULL && file_trusted(strict, ks->option,
                                        aim_keyspec_path(ks->specs[i]), &st[i],
                                        0, err) != AIM_OK)
        {
            aim_keyset_free(one);
            one = NULL;
        }
        if (one == NULL) {
            aim_keyset_free(all);
            if (err != NULL) err->status = AIM_CONFIG;
            return NULL;
        }
        issuer = ks->bound[i] != NULL ? ks->bound[i]
                 : ks->nissuers == 1 ? ks->issuers[0] : NULL;
        for (k = 0; k < aim_keyset_count(one); k++) {
            aim_keyset_at(one, k)->issuer = issuer;
        }
        if (all == NULL) {
            all = one;
            continue;
        }
        if (aim_keyset_merge(all, one, err) != AIM_OK) {
            aim_keyset_free(one);
            aim_keyset_free(all);
            return NULL;
        }
        aim_keyset_free(one);
    }
    if (failed != NULL) {
        *failed = ks->n;
    }
    return all;
}

aim_status
aim_config_check(const aim_config *cfg, aim_error *err)
{
    aim_key_sources ks;

    if (err != NULL) {
        err->option = NULL;
    }
    if (cfg->nkeys == 0) {
        return aim_fail_option(err, AIM_CONFIG, "keys", "no key source configured");
    }
    if (cfg->nissuers == 0) {
        return aim_fail_option(err, AIM_CONFIG, "issuer", "no issuer configured");
    }
    if (cfg->audience == NULL) {
        return aim_fail_option(err, AIM_CONFIG, "audience", "no audience configured");
    }
    ks = aim_config_key_sources(cfg, AIM_OPT_KEYS);
    return aim_key_sources_check(&ks, err);
}

/* ------------------------------------------------------------------ */
/* The verifier                                                        */

void
aim_verifier_set_log(aim_verifier *v, aim_log_fn fn, void *ud)
{
    v->log = fn;
    v->log_ud = ud;
}

void
aim_verifier_set_audit(aim_verifier *v, aim_audit_fn fn, void *ud)
{
    v->audit.fn = fn;
    v->audit.ud = ud;
}

static aim_revlist *
load_revoked(const aim_config *cfg, struct stat *st, aim_error *err)
{
    aim_revlist *r = aim_revlist_load_st(cfg->revoked, st, err);

    if (r != NULL && file_trusted(cfg->strict_modes, "revoked", cfg->revoked, st,
                                  0, err) != AIM_OK)
    {
        aim_revlist_free(r);
        return NULL;
    }
    return r;
}

static aim_policy *
load_policy(const aim_config *cfg, struct stat *st, aim_error *err)
{
    aim_policy *p = aim_policy_load_st(cfg->policy, st, err);

    if (p != NULL && file_trusted(cfg->strict_modes, "policy", cfg->policy, st,
                                  0, err) != AIM_OK)
    {
        aim_policy_free(p);
        return NULL;
    }
    return p;
}

static aim_status
load_status(const aim_config *cfg, aim_statuslist *sl, const aim_keyset *keys,
            aim_error *err)
{
    aim_status s = aim_statuslist_load(sl, keys, err);

    if (s == AIM_OK
        && (s = file_trusted(cfg->strict_modes, "status_list", sl->path,
                             &sl->st, 0, err)) != AIM_OK)
    {
        aim_statuslist_clear(sl);
    }
    return s;
}

/* The token keys; strict_modes checks their files.  See
 * aim_key_sources_load. */
static aim_keyset *
load_keys(const aim_config *cfg, struct stat *st, size_t *failed,
          aim_error *err)
{
    aim_key_sources ks = aim_config_key_sources(cfg, AIM_OPT_KEYS);

    return aim_key_sources_load(&ks, cfg->strict_modes, st, failed, err);
}

aim_verifier *
aim_verifier_new(const aim_config *cfg, aim_error *err)
{
    aim_verifier *v;
    size_t        i;
    const char   *opt = NULL;    /* the option whose files are loading */

    if (err != NULL) {
        err->option = NULL;
        err->line = 0;
    }
    if (aim_config_check(cfg, err) != AIM_OK) {
        return NULL;
    }
    v = calloc(1, sizeof(*v));
    if (v == NULL || aim_config_copy(&v->cfg, cfg) != 0) {
        free(v);
        aim_fail(err, AIM_INTERNAL, "out of memory");
        return NULL;
    }
    v->audit.fd = -1;
    v->auto_refresh = 1;

    opt = "keys";
    v->keys = load_keys(&v->cfg, v->key_st, &i, err);
    if (v->keys == NULL) {
        goto fail;
    }
    if (v->cfg.revoked != NULL) {
        opt = "revoked";
        v->revoked = load_revoked(&v->cfg, &v->rev_st, err);
        if (v->revoked == NULL) {
            goto fail;
        }
    }
    if (v->cfg.policy != NULL) {
        opt = "policy";
        v->policy = load_policy(&v->cfg, &v->pol_st, err);
        if (v->policy == NULL) {
            goto fail;
        }
    }
    if (v->cfg.audit != NULL) {
        opt = "audit";
        if (aim_audit_open(&v->audit, v->cfg.audit, err) != AIM_OK) {
            goto fail;
        }
    }
    for (i = 0; i < v->cfg.nstatus; i++) {
        opt = "status_list";
        v->status[i].uri = v->cfg.status_uris[i];
        v->status[i].path = v->cfg.status_paths[i];
        if (load_status(&v->cfg, &v->status[i], v->keys, err) != AIM_OK) {
            goto fail;
        }
    }
    if (v->cfg.state != NULL) {
        struct stat sb;

        opt = "state";
        v->state = aim_state_open(v->cfg.state, err);
        if (v->state == NULL) {
            goto fail;
        }
        /* The state file may be group-writable: the services share it
         * through a group (docs/trust.md). */
        if (aim_state_fstat(v->state, &sb) != 0) {
            aim_fail(err, AIM_CONFIG, "state: cannot stat \"%.200s\": %s",
                     v->cfg.state, strerror(errno));
            goto fail;
        }
        if (file_trusted(v->cfg.strict_modes, "state", v->cfg.state, &sb,
                         AIM_FILE_GROUP_WRITE, err) != AIM_OK)
        {
            goto fail;
        }
    }
    opt = NULL;
    if (aim_cache_init(&v->cache, v->cfg.cache) != 0
        || (v->cache.slots != NULL
            && (v->cache_md = aim_digest_ctx_new(AIM_ALG_ES256)) == NULL))
    {
        aim_fail(err, AIM_INTERNAL, "out of memory for the token cache");
        goto fail;
    }
    v->last_refresh = aim_now();
    v->generation = 1;
    return v;

fail:
    if (err != NULL && err->status != AIM_INTERNAL) {
        err->status = AIM_CONFIG;
        err->option = opt;
    }
    aim_verifier_free(v);
    return NULL;
}

void
aim_verifier_free(aim_verifier *v)
{
    if (v == NULL) {
        return;
    }
    aim_cache_free(&v->cache);
    EVP_MD_CTX_free(v->cache_md);
    aim_keyset_free(v->keys);
    aim_revlist_free(v->revoked);
    aim_policy_free(v->policy);
    aim_state_close(v->state);
    aim_journal_close(v->journal);
    for (size_t i = 0; i < AIM_MAX_STATUS_LISTS; i++) {
        aim_statuslist_clear(&v->status[i]);
    }
    aim_audit_close(&v->audit);
    aim_config_clear(&v->cfg);
    free(v);
}

void
aim_verifier_refresh(aim_verifier *v)
{
    int64_t      now = aim_now();
    size_t       i;
    int          changed = 0;
    aim_error    err;
    struct stat  st[AIM_MAX_KEY_SOURCES];

    if (now - v->last_refresh < v->cfg.reload_interval && now >= v->last_refresh) {
        return;
    }
    v->last_refresh = now;

    if (v->state != NULL) {
        int       was = aim_state_orphaned(v->state);
        aim_error e;

        if (aim_state_check(v->state, v->cfg.strict_modes, &e) != 0) {
            if (!was) {
                aim_vlog(v, AIM_LOG_ERR, "state file %s can no longer be used "
                         "(%s); refusing every agent until it can",
                         v->cfg.state, e.message);
            }
        } else if (was) {
            aim_vlog(v, AIM_LOG_INFO, "state file %s: following the new "
                     "file", v->cfg.state);
        }
    }

    for (i = 0; i < v->cfg.nkeys; i++) {
        if (aim_file_changed(aim_keyspec_path(v->cfg.keys[i]), &v->key_st[i])) {
            changed = 1;
        }
    }
    if (changed) {
        aim_keyset *ks;
        size_t      failed;

        memset(st, 0, sizeof(st));
        ks = load_keys(&v->cfg, st, &failed, &err);
        if (ks == NULL) {
            /* Keep the old keys.  Remember what was read (and refused), so
             * the reload is retried as soon as the file changes again. */
            for (i = 0; i <= failed && i < v->cfg.nkeys; i++) {
                v->key_st[i] = st[i];
            }
            aim_vlog(v, AIM_LOG_ERR, "key reload failed, keeping the %zu keys "
                     "loaded before: %s", aim_keyset_count(v->keys), err.message);
            changed = 0;
        } else {
            aim_keyset_free(v->keys);
            v->keys = ks;
            memcpy(v->key_st, st, sizeof(st));
            v->generation++;
            aim_vlog(v, AIM_LOG_INFO, "keys reloaded: %zu keys",
                     aim_keyset_count(ks));
        }
    }

    if (v->cfg.revoked != NULL && aim_file_changed(v->cfg.revoked, &v->rev_st)) {
        struct stat  nst;
        aim_revlist *r = load_revoked(&v->cfg, &nst, &err);

        v->rev_st = nst;            /* exactly what was read; zero: retry */
        if (r == NULL) {
            /* The new list may revoke the very token in hand: until it can
             * be read, every token is refused (fail closed). */
            snprintf(v->rev_error, sizeof(v->rev_error), "%s", err.message);
            v->generation++;
            aim_vlog(v, AIM_LOG_ERR, "revocation reload failed; every token is "
                     "refused until the list can be read: %s", err.message);
        } else {
            aim_revlist_free(v->revoked);
            v->revoked = r;
            v->rev_error[0] = '\0';
            v->generation++;
            aim_vlog(v, AIM_LOG_INFO, "revocation list reloaded: %zu entries",
                     aim_revlist_count(r));
        }
    }

    for (i = 0; i < v->cfg.nstatus; i++) {
        aim_statuslist *sl = &v->status[i];

        if (changed || aim_file_changed(sl->path, &sl->st)) {
            if (load_status(&v->cfg, sl, v->keys, &err) != AIM_OK) {
                /* A list that cannot be read or verified any more (new
                 * file, or its key removed) answers nothing: fail closed. */
                aim_statuslist_clear(sl);
                snprintf(sl->error, sizeof(sl->error), "%s", err.message);
                aim_vlog(v, AIM_LOG_ERR, "status list reload failed; tokens "
                         "that use it are refused until it is fixed: %s",
                         err.message);
            } else {
                aim_vlog(v, AIM_LOG_INFO, "status list %s reloaded", sl->uri);
            }
            v->generation++;
        }
    }

    if (v->cfg.policy != NULL && aim_file_changed(v->cfg.policy, &v->pol_st)) {
        struct stat  nst;
        aim_policy  *p = load_policy(&v->cfg, &nst, &err);

        v->pol_st = nst;
        if (p == NULL) {
            aim_vlog(v, AIM_LOG_ERR, "policy reload failed, keeping the policy "
                     "loaded before: %s", err.message);
        } else {
            aim_policy_free(v->policy);
            v->policy = p;
            v->generation++;
            aim_vlog(v, AIM_LOG_INFO, "policy reloaded");
        }
    }
}

void
aim_verifier_set_auto_refresh(aim_verifier *v, int automatic)
{
    v->auto_refresh = automatic != 0;
}

const char *
aim_verifier_watched(const aim_verifier *v, size_t i, int *write)
{
    if (write != NULL) {
        *write = 0;
    }
    if (i < v->cfg.nkeys) {
        return aim_keyspec_path(v->cfg.keys[i]);
    }
    i -= v->cfg.nkeys;
    if (v->cfg.revoked != NULL && i-- == 0) {
        return v->cfg.revoked;
    }
    if (v->cfg.policy != NULL && i-- == 0) {
        return v->cfg.policy;
    }
    if (i < v->cfg.nstatus) {
        return v->cfg.status_paths[i];
    }
    i -= v->cfg.nstatus;
    if (v->cfg.state != NULL && i == 0) {
        if (write != NULL) {
            *write = 1;
        }
        return v->cfg.state;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Verification                                                        */

static int
type_accepted(const aim_config *cfg, const char *typ)
{
    size_t i;

    if (typ == NULL) {
        return 0;
    }
    /* Configured types are stored normalised; compare without allocating. */
    if (strlen(typ) > 12 && strncasecmp(typ, "application/", 12) == 0) {
        typ += 12;
    }
    for (i = 0; i < cfg->ntypes; i++) {
        if (strcasecmp(typ, cfg->types[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static aim_status
check_status_list(aim_verifier *v, const aim_token *t, aim_error *err)
{
    const aim_statuslist *sl = NULL;
    size_t                i;
    int                   val;

    if (t->status_uri == NULL) {
        return AIM_OK;
    }
    for (i = 0; i < v->cfg.nstatus; i++) {
        if (strcmp(v->status[i].uri, t->status_uri) == 0) {
            sl = &v->status[i];
            break;
        }
    }
    if (sl == NULL) {
        return aim_fail(err, AIM_REVOKED, "status list \"%.100s\" is not "
                        "configured here, so the token's status is unknown",
                        t->status_uri);
    }
    if (sl->data == NULL) {
        return aim_fail(err, AIM_REVOKED, "status list \"%.100s\" is not "
                        "available%s%s", sl->uri, sl->error[0] ? ": " : "",
                        sl->error);
    }
    if (sl->issuer == NULL || strcmp(sl->issuer, t->issuer) != 0) {
        return aim_fail(err, AIM_REVOKED, "status list \"%.100s\" is not signed "
                        "by the token's issuer", sl->uri);
    }
    if (sl->exp >= 0 && aim_now() >= sl->exp + v->cfg.leeway) {
        return aim_fail(err, AIM_REVOKED, "status list \"%.100s\" expired %lld s "
                        "ago (stale)", sl->uri, (long long) (aim_now() - sl->exp));
    }
    val = aim_statuslist_get(sl, t->status_idx);
    if (val < 0) {
        return aim_fail(err, AIM_REVOKED, "status index %llu is outside the list",
                        (unsigned long long) t->status_idx);
    }
    if (val != 0) {
        return aim_fail(err, AIM_REVOKED, "status list marks the token %s",
                        val == 1 ? "invalid" : val == 2 ? "suspended" : "not valid");
    }
    return AIM_OK;
}

static aim_status
check_revoked(aim_verifier *v, const aim_token *t, aim_error *err)
{
    const char *what = aim_revlist_match(v->revoked, t->agent, t->subject,
                                         t->jti, t->kid);
    const char *p, *e;
    char        id[1025];

    if (v->rev_error[0] != '\0') {
        return aim_fail(err, AIM_REVOKED, "the revocation list cannot be read: "
                        "%s", v->rev_error);
    }
    if (what != NULL) {
        return aim_fail(err, AIM_REVOKED, "%s is revoked", what);
    }
    /* A revoked agent also stops every delegation it appears in. */
    if (v->revoked != NULL && strchr(t->chain, '>') != NULL) {
        for (p = t->chain; *p != '\0'; p = *e ? e + 1 : e) {
            e = strchr(p, '>');
            if (e == NULL) {
                e = p + strlen(p);
            }
            if ((size_t) (e - p) < sizeof(id)) {
                memcpy(id, p, (size_t) (e - p));
                id[e - p] = '\0';
                if (aim_revlist_match(v->revoked, id, NULL, NULL, NULL) != NULL) {
                    return aim_fail(err, AIM_REVOKED, "agent \"%.100s\" in the "
                                    "delegation chain is revoked", id);
                }
            }
        }
    }
    return check_status_list(v, t, err);
}

/*
 * What shared signals hold against the token's agents (ssf.c): read from
 * the state file at every decision, cached or not, so a SET applied by
 * any process counts from the next decision on.
 */
static aim_status
check_signals(aim_verifier *v, const aim_token *t, aim_error *err)
{
    return v->state != NULL ? aim_ssf_check(v->state, t, err) : AIM_OK;
}

/* Signature, header and claims; no cache, no time beyond claims. */
static aim_status
verify_uncached(aim_verifier *v, const char *token, size_t len,
                aim_token **out, aim_error *err)
{
    aim_jws        jws;
    aim_status     s;
    aim_alg        alg;
    const aim_key *key;
    aim_token     *t;
    char           q[300];

    s = aim_jws_parse_cached(token, len, &v->jws_cache, &jws, err);
    if (s != AIM_OK) {
        return s;
    }

    alg = aim_alg_from_name(jws.alg);
    if (alg == AIM_ALG_NONE) {
        s = aim_fail(err, AIM_UNSUPPORTED_ALG, "algorithm \"%s\" is not "
                     "accepted (ES256 ES384 EdDSA RS256 PS256)",
                     aim_quote(q, sizeof(q), jws.alg, 16));
        goto done;
    }
    if (!type_accepted(&v->cfg, jws.typ)) {
        s = aim_fail(err, AIM_BAD_TYPE, "typ %s%s%s is not accepted",
                     jws.typ ? "\"" : "(missing)",
                     jws.typ ? aim_quote(q, sizeof(q), jws.typ, 32) : "",
                     jws.typ ? "\"" : "");
        goto done;
    }
    if (jws.kid == NULL) {
        s = aim_fail(err, AIM_UNKNOWN_KEY, "JWS header has no \"kid\"");
        goto done;
    }
    key = aim_keyset_find(v->keys, jws.kid);
    if (key == NULL) {
        s = aim_fail(err, AIM_UNKNOWN_KEY, "no loaded key has kid \"%s\"",
                     aim_quote(q, sizeof(q), jws.kid, 64));
        goto done;
    }
    if (key->alg != alg) {
        s = aim_fail(err, AIM_UNSUPPORTED_ALG, "header alg %s does not match "
                     "key \"%.64s\", pinned to %s", aim_alg_name(alg), jws.kid,
                     aim_alg_name(key->alg));
        goto done;
    }

    s = aim_key_verify(key, (const unsigned char *) token, jws.signing_input_len,
                       jws.sig, jws.sig_len, err);
    if (s != AIM_OK) {
        goto done;
    }

    s = aim_claims_to_token(&v->cfg, jws.payload, jws.payload_len, jws.kid, &t, err);
    if (s != AIM_OK) {
        goto done;
    }
    if (key->issuer != NULL && strcmp(key->issuer, t->issuer) != 0) {
        s = aim_fail(err, AIM_BAD_ISSUER, "key \"%.64s\" does not sign for issuer "
                     "\"%.100s\"", jws.kid, aim_token_issuer(t));
        aim_token_free(t);
        goto done;
    }
    t->alg = alg;
    memcpy(t->key_fp, key->fp, sizeof(t->key_fp));
    s = aim_token_apply_policy(t, v->policy, err);
    if (s != AIM_OK) {
        aim_token_free(t);
        goto done;
    }
    *out = t;

done:
    aim_jws_clear(&jws);
    return s;
}

aim_status
aim_verify(aim_verifier *v, const char *token, size_t len, aim_token **out,
           aim_error *err)
{
    unsigned char  hash[32];
    aim_token     *t;
    aim_status     s;
    int            hashed = 0;

    *out = NULL;
    if (err != NULL) {
        err->status = AIM_OK;
        err->message[0] = '\0';
    }
    if (token == NULL || len == 0) {
        return aim_fail(err, AIM_NO_TOKEN, "no token presented");
    }
    if (len > AIM_MAX_TOKEN_LEN) {
        return aim_fail(err, AIM_MALFORMED, "token is %zu bytes, more than the "
                        "%d allowed", len, AIM_MAX_TOKEN_LEN);
    }

    if (v->auto_refresh) {
        aim_verifier_refresh(v);
    }

    if (v->cache.slots != NULL) {
        unsigned int hlen = 0;

        hashed = aim_digest_again(v->cache_md, token, len, hash, &hlen) && hlen == 32;
        if (!hashed) {
            ERR_clear_error();          /* uncached, then */
        }
        if (hashed) {
            t = aim_cache_get(&v->cache, hash, v->generation);
            if (t != NULL) {
                s = aim_check_time(&v->cfg, t, aim_now(), err);
                if (s == AIM_OK && t->status_uri != NULL) {
                    s = check_status_list(v, t, err);   /* lists go stale */
                }
                if (s == AIM_OK) {
                    s = check_signals(v, t, err);
                }
                if (s != AIM_OK) {
                    return s;
                }
                *out = aim_token_ref(t);
                return AIM_OK;
            }
        }
    }

    s = verify_uncached(v, token, len, &t, err);
    if (s != AIM_OK) {
        return s;
    }
    if ((s = aim_check_time(&v->cfg, t, aim_now(), err)) != AIM_OK
        || (s = check_revoked(v, t, err)) != AIM_OK
        || (s = check_signals(v, t, err)) != AIM_OK)
    {
        aim_token_free(t);
        return s;
    }
    if (hashed || aim_sha256(token, len, hash)) {
        memcpy(t->hash, hash, sizeof(t->hash));
        t->hashed = 1;
    }
    if (hashed) {
        aim_cache_put(&v->cache, hash, t, v->generation);
    }
    *out = t;
    return AIM_OK;
}

aim_status
aim_recheck(aim_verifier *v, const aim_token *t, aim_error *err)
{
    aim_status s;

    if (v->auto_refresh) {
        aim_verifier_refresh(v);
    }
    if ((s = aim_check_time(&v->cfg, t, aim_now(), err)) != AIM_OK
        || (s = check_revoked(v, t, err)) != AIM_OK
        || (s = check_signals(v, t, err)) != AIM_OK)
    {
        return s;
    }
    {
        const aim_key *k = aim_keyset_find(v->keys, t->kid);

        if (k == NULL || !aim_ct_equal(k->fp, t->key_fp, sizeof(k->fp))) {
            return aim_fail(err, AIM_UNKNOWN_KEY, "key \"%.64s\" is no longer "
                            "loaded", t->kid);
        }
    }
    if (v->policy != NULL && t->nscopes > 0) {
        size_t i;
        for (i = 0; i < t->nscopes; i++) {
            if (!aim_policy_allows(v->policy, t->agent, t->scopes[i])) {
                return aim_fail(err, AIM_POLICY_DENIED, "local policy no longer "
                                "allows \"%.64s\"", t->scopes[i]);
            }
        }
    }
    return AIM_OK;
}

aim_status
aim_authorize(const aim_token *t, const aim_request *req, aim_error *err)
{
    size_t i;

    if (req == NULL || (req->nscopes == 0 && !req->any)) {
        return AIM_OK;          /* no scope asked for */
    }
    for (i = 0; i < req->nscopes; i++) {
        int has = req->scopes[i] != NULL && aim_token_has_scope(t, req->scopes[i]);

        if (req->any && has) {
            return AIM_OK;
        }
        if (!req->any && !has) {
            return aim_fail(err, AIM_INSUFFICIENT_SCOPE, "scope \"%.100s\" is "
                            "required", req->scopes[i] ? req->scopes[i] : "");
        }
    }
    if (req->any) {
        /* "any one of none" is a list that came out empty: nothing is
         * granted, rather than nothing required */
        return aim_fail(err, AIM_INSUFFICIENT_SCOPE, req->nscopes == 0
                        ? "one of the required scopes is asked for and none "
                          "was named" : "one of %zu scopes is required",
                        req->nscopes);
    }
    return AIM_OK;
}

