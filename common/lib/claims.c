/*
 * claims.c -- registered claims (RFC 7519) and the agent model.
 *
 * The agent is the current actor: the "sub" of the outermost "act"
 * (RFC 8693 section 4.1: the top-level "act" is the current actor, nested
 * ones are prior actors) or, without "act", the token's "sub".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "b64.h"
#include "internal.h"
#include "json.h"
#include "scope.h"
#include "util.h"

#define AIM_MAX_ID_LEN     1024
#define AIM_MAX_AUDIENCES  16
#define AIM_MAX_NUMERIC_DATE 253402300799LL   /* 9999-12-31T23:59:59Z */

aim_token *
aim_token_ref(aim_token *t)
{
    if (t != NULL) {
        t->refs++;
    }
    return t;
}

void
aim_token_free(aim_token *t)
{
    size_t i;

    if (t == NULL || --t->refs > 0) {
        return;
    }
    json_decref(t->claims);
    free(t->agent);
    free(t->subject);
    free(t->owner);
    free(t->issuer);
    free(t->jti);
    free(t->kid);
    free(t->chain);
    free(t->cnf_jkt);
    free(t->cnf_x5t);
    free(t->scope);
    free(t->status_uri);
    for (i = 0; i < t->nscopes; i++) {
        free(t->scopes[i]);
    }
    free(t);
}

const char *aim_token_agent(const aim_token *t)   { return t->agent; }
const char *aim_token_subject(const aim_token *t) { return t->subject; }
const char *aim_token_owner(const aim_token *t)   { return t->owner; }
const char *aim_token_issuer(const aim_token *t)  { return t->issuer; }
const char *aim_token_jti(const aim_token *t)     { return t->jti; }
const char *aim_token_kid(const aim_token *t)     { return t->kid; }
const char *aim_token_alg(const aim_token *t)     { return aim_alg_name(t->alg); }
const char *aim_token_chain(const aim_token *t)   { return t->chain; }
const char *aim_token_cnf_jkt(const aim_token *t) { return t->cnf_jkt; }
const char *aim_token_cnf_x5t(const aim_token *t) { return t->cnf_x5t; }
const char *aim_token_scope(const aim_token *t)   { return t->scope; }
int64_t aim_token_exp(const aim_token *t)         { return t->exp; }
int64_t aim_token_iat(const aim_token *t)         { return t->iat; }
size_t aim_token_scope_count(const aim_token *t)  { return t->nscopes; }

const char *
aim_token_scope_at(const aim_token *t, size_t i)
{
    return i < t->nscopes ? t->scopes[i] : NULL;
}

int
aim_token_has_scope(const aim_token *t, const char *scope)
{
    size_t i;

    if (t == NULL || scope == NULL) {
        return 0;
    }
    for (i = 0; i < t->nscopes; i++) {
        if (strcmp(t->scopes[i], scope) == 0) {
            return 1;
        }
    }
    return 0;
}

char *
aim_token_claim(const aim_token *t, const char *name)
{
    const json_t *v = json_object_get(t->claims, name);

    if (v == NULL) {
        return NULL;
    }
    if (json_is_string(v)) {
        return aim_strdup(json_string_value(v));
    }
    return aim_json_compact(v);
}

aim_status
aim_token_may_refresh(const aim_token *bound, const aim_token *t,
                      aim_error *err)
{
    if (strcmp(bound->agent, t->agent) != 0) {
        return aim_fail(err, AIM_BAD_CLAIM, "the session is bound to AIM agent "
                        "\"%.200s\"", bound->agent);
    }
    if (t->iat < bound->iat) {
        return aim_fail(err, AIM_BAD_CLAIM, "the token is older than the bound "
                        "token");
    }
    return AIM_OK;
}

char *
aim_token_claims_json(const aim_token *t)
{
    return aim_json_compact(t->claims);
}

/* ------------------------------------------------------------------ */

/*
 * Identifiers reach audit lines, syslog, AIM_AGENT and terminals: no
 * control character (C0, DEL, C1), bidirectional control or line
 * separator in any (util.h).  Words -- agent ids and jti, which are
 * words of the whitespace-separated policy and revocation files -- hold
 * no white space of any kind; agent ids no '>' either (it joins the
 * delegation chain).  NULL when s is acceptable, else why.
 */
enum { ID_TEXT = 0, ID_WORD = 1, ID_AGENT = 3 };

static const char *
id_problem(const char *s, size_t len, int kind, char *buf, size_t size)
{
    const char    *what;
    unsigned long  cp;

    if (aim_text_unsafe(s, len, (kind & ID_WORD) ? AIM_TEXT_NO_SPACE : 0,
                        &what, &cp))
    {
        snprintf(buf, size, "contains %s (U+%04lX)", what, cp);
        return buf;
    }
    if (kind == ID_AGENT && memchr(s, '>', len) != NULL) {
        return "contains '>' (it separates the delegation chain)";
    }
    return NULL;
}

/* A string claim: 1..AIM_MAX_ID_LEN bytes, an acceptable identifier. */
static aim_status
id_claim(const json_t *claims, const char *name, int required, int kind,
         char **out, aim_error *err)
{
    const json_t *v = json_object_get(claims, name);
    const char   *s, *why;
    size_t        len;
    char          buf[96];

    *out = NULL;
    if (v == NULL) {
        return required ? aim_fail(err, AIM_MISSING_CLAIM, "\"%s\" is missing", name)
                        : AIM_OK;
    }
    if (!json_is_string(v)) {
        return aim_fail(err, AIM_BAD_CLAIM, "\"%s\" is not a string", name);
    }
    s = json_string_value(v);
    len = json_string_length(v);
    if (len == 0 || len > AIM_MAX_ID_LEN) {
        return aim_fail(err, AIM_BAD_CLAIM, "\"%s\" must be 1 to %d bytes", name,
                        AIM_MAX_ID_LEN);
    }
    if ((why = id_problem(s, len, kind, buf, sizeof(buf))) != NULL) {
        return aim_fail(err, AIM_BAD_CLAIM, "\"%s\" %s", name, why);
    }
    *out = aim_strdup(s);
    return *out != NULL ? AIM_OK : aim_fail(err, AIM_INTERNAL, "out of memory");
}

/* A NumericDate: a JSON number, finite, 0..9999-12-31; fractions floor. */
static aim_status
date_claim(const json_t *claims, const char *name, int required, int64_t *out,
           aim_error *err)
{
    const json_t *v = json_object_get(claims, name);
    double        d;

    if (v == NULL) {
        *out = -1;
        return required ? aim_fail(err, AIM_MISSING_CLAIM, "\"%s\" is missing", name)
                        : AIM_OK;
    }
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || i > AIM_MAX_NUMERIC_DATE) {
            return aim_fail(err, AIM_BAD_CLAIM, "\"%s\" is out of range", name);
        }
        *out = (int64_t) i;
        return AIM_OK;
    }
    if (json_is_real(v)) {
        d = json_real_value(v);
        if (!isfinite(d) || d < 0 || d > (double) AIM_MAX_NUMERIC_DATE) {
            return aim_fail(err, AIM_BAD_CLAIM, "\"%s\" is out of range", name);
        }
        *out = (int64_t) d;             /* d >= 0: truncation is floor */
        return AIM_OK;
    }
    return aim_fail(err, AIM_BAD_CLAIM, "\"%s\" is not a number", name);
}

static aim_status
check_audience(const struct aim_config *cfg, const json_t *aud, aim_error *err)
{
    size_t i;

    if (aud == NULL) {
        return aim_fail(err, AIM_MISSING_CLAIM, "\"aud\" is missing");
    }
    if (json_is_string(aud)) {
        return strcmp(json_string_value(aud), cfg->audience) == 0
               ? AIM_OK
               : aim_fail(err, AIM_BAD_AUDIENCE, "\"aud\" is not \"%.100s\"",
                          cfg->audience);
    }
    if (!json_is_array(aud) || json_array_size(aud) == 0
        || json_array_size(aud) > AIM_MAX_AUDIENCES)
    {
        return aim_fail(err, AIM_BAD_CLAIM, "\"aud\" is neither a string nor an "
                        "array of 1 to %d strings", AIM_MAX_AUDIENCES);
    }
    for (i = 0; i < json_array_size(aud); i++) {
        if (!json_is_string(json_array_get(aud, i))) {
            return aim_fail(err, AIM_BAD_CLAIM, "\"aud\" holds a non-string");
        }
    }
    for (i = 0; i < json_array_size(aud); i++) {
        if (strcmp(json_string_value(json_array_get(aud, i)), cfg->audience) == 0) {
            return AIM_OK;
        }
    }
    return aim_fail(err, AIM_BAD_AUDIENCE, "\"aud\" does not contain \"%.100s\"",
                    cfg->audience);
}

/*
 * Walk "act": the outermost is the current actor, each nested "act" a
 * prior one.  chain = current>prior>...>sub.
 */
static aim_status
check_actors(aim_token *t, const json_t *claims, aim_error *err)
{
    const json_t *act = json_object_get(claims, "act");
    const char   *ids[AIM_MAX_ACT_DEPTH + 1], *why;
    size_t        n = 0, i, len = 0;
    char         *chain, *p, buf[96];

    while (act != NULL) {
        const json_t *sub;

        if (!json_is_object(act)) {
            return aim_fail(err, AIM_BAD_CLAIM, "\"act\" is not an object");
        }
        if (n == AIM_MAX_ACT_DEPTH) {
            return aim_fail(err, AIM_BAD_CLAIM, "\"act\" chain deeper than %d",
                            AIM_MAX_ACT_DEPTH);
        }
        sub = json_object_get(act, "sub");
        if (!json_is_string(sub) || json_string_length(sub) == 0
            || json_string_length(sub) > AIM_MAX_ID_LEN)
        {
            return aim_fail(err, AIM_BAD_CLAIM, "\"act\" without a valid \"sub\"");
        }
        if ((why = id_problem(json_string_value(sub), json_string_length(sub),
                              ID_AGENT, buf, sizeof(buf))) != NULL)
        {
            return aim_fail(err, AIM_BAD_CLAIM, "\"act.sub\" %s", why);
        }
        ids[n++] = json_string_value(sub);
        act = json_object_get(act, "act");
    }
    ids[n++] = t->subject;

    for (i = 0; i < n; i++) {
        len += strlen(ids[i]) + 1;
    }
    chain = malloc(len);
    t->agent = aim_strdup(ids[0]);
    if (chain == NULL || t->agent == NULL) {
        free(chain);
        return aim_fail(err, AIM_INTERNAL, "out of memory");
    }
    for (i = 0, p = chain; i < n; i++) {
        size_t l = strlen(ids[i]);
        memcpy(p, ids[i], l);
        p += l;
        *p++ = i + 1 < n ? '>' : '\0';
    }
    t->chain = chain;
    return AIM_OK;
}

static aim_status
join_scopes(aim_token *t, aim_error *err)
{
    size_t i, len = 1;
    char  *p;

    for (i = 0; i < t->nscopes; i++) {
        len += strlen(t->scopes[i]) + 1;
    }
    free(t->scope);
    t->scope = malloc(len);
    if (t->scope == NULL) {
        return aim_fail(err, AIM_INTERNAL, "out of memory");
    }
    p = t->scope;
    *p = '\0';
    for (i = 0; i < t->nscopes; i++) {
        size_t l = strlen(t->scopes[i]);
        if (i > 0) {
            *p++ = ' ';
        }
        memcpy(p, t->scopes[i], l);
        p += l;
        *p = '\0';
    }
    return AIM_OK;
}

aim_status
aim_claims_to_token(const struct aim_config *cfg, json_t *claims,
                    aim_token **out, aim_error *err)
{
    aim_token    *t;
    aim_status    s;
    const json_t *v;
    size_t        i;
    int           n;

    *out = NULL;
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return aim_fail(err, AIM_INTERNAL, "out of memory");
    }
    t->refs = 1;
    t->claims = json_incref(claims);

    /* Issuer first: nothing else matters if we do not know it. */
    if ((s = id_claim(claims, "iss", 1, ID_TEXT, &t->issuer, err)) != AIM_OK) {
        goto fail;
    }
    for (i = 0; i < cfg->nissuers; i++) {
        if (strcmp(t->issuer, cfg->issuers[i]) == 0) {
            break;
        }
    }
    if (i == cfg->nissuers) {
        s = aim_fail(err, AIM_BAD_ISSUER, "issuer \"%.100s\" is not accepted",
                     t->issuer);
        goto fail;
    }

    if ((s = id_claim(claims, "sub", 1, ID_AGENT, &t->subject, err)) != AIM_OK
        || (s = check_audience(cfg, json_object_get(claims, "aud"), err)) != AIM_OK
        || (s = date_claim(claims, "exp", 1, &t->exp, err)) != AIM_OK
        || (s = date_claim(claims, "iat", 1, &t->iat, err)) != AIM_OK
        || (s = date_claim(claims, "nbf", 0, &t->nbf, err)) != AIM_OK
        || (s = id_claim(claims, "jti", 1, ID_WORD, &t->jti, err)) != AIM_OK
        || (s = id_claim(claims, "owner", 0, ID_TEXT, &t->owner, err)) != AIM_OK)
    {
        goto fail;
    }

    if (t->exp <= t->iat) {
        s = aim_fail(err, AIM_BAD_CLAIM, "\"exp\" is not after \"iat\"");
        goto fail;
    }
    if (t->exp - t->iat > cfg->max_lifetime) {
        s = aim_fail(err, AIM_LIFETIME_TOO_LONG, "lifetime of %lld s exceeds the "
                     "maximum of %lld s", (long long) (t->exp - t->iat),
                     (long long) cfg->max_lifetime);
        goto fail;
    }

    if ((s = check_actors(t, claims, err)) != AIM_OK) {
        goto fail;
    }

    v = json_object_get(claims, "scope");
    if (v != NULL) {
        if (!json_is_string(v)) {
            s = aim_fail(err, AIM_BAD_CLAIM, "\"scope\" is not a space-separated "
                         "string");
            goto fail;
        }
        n = aim_scope_split(json_string_value(v), t->scopes, AIM_MAX_SCOPES);
        if (n < 0) {
            s = aim_fail(err, AIM_BAD_CLAIM, "\"scope\" is not a valid scope list "
                         "(at most %d tokens of printable ASCII, single spaces)",
                         AIM_MAX_SCOPES);
            goto fail;
        }
        t->nscopes = (size_t) n;
    }
    if ((s = join_scopes(t, err)) != AIM_OK) {
        goto fail;
    }

    v = json_object_get(claims, "cnf");
    if (v != NULL) {
        const char   *m;
        const json_t *mv;

        if (!json_is_object(v)) {
            s = aim_fail(err, AIM_BAD_CLAIM, "\"cnf\" is not an object");
            goto fail;
        }
        /*
         * RFC 7800: every member names a way the token is bound to a key.
         * The two AIM can check are kept; any other (jwk, jku, kid, x5t,
         * ...) marks the token as bound by a method no adapter checks, and
         * the decision refuses it rather than treat it as a bearer token.
         */
        json_object_foreach((json_t *) v, m, mv) {
            char          **slot = NULL;
            unsigned char   raw[AIM_B64_DECODED_MAX(43)];
            size_t          rawlen = 0;

            if (strcmp(m, "jkt") == 0) {
                slot = &t->cnf_jkt;
            } else if (strcmp(m, "x5t#S256") == 0) {
                slot = &t->cnf_x5t;
            } else {
                t->cnf_other = 1;
                continue;
            }
            if (!json_is_string(mv) || json_string_length(mv) != 43
                || aim_b64url_decode(json_string_value(mv), 43, raw, &rawlen) != 0
                || rawlen != 32)
            {
                s = aim_fail(err, AIM_BAD_CLAIM, "\"cnf.%s\" is not a SHA-256 "
                             "thumbprint", m);
                goto fail;
            }
            *slot = aim_strdup(json_string_value(mv));
            if (*slot == NULL) {
                s = aim_fail(err, AIM_INTERNAL, "out of memory");
                goto fail;
            }
        }
    }

    v = json_object_get(claims, "status");
    if (v != NULL) {
        const json_t *sl = json_object_get(v, "status_list");
        const json_t *idx = json_object_get(sl, "idx");
        const json_t *uri = json_object_get(sl, "uri");

        const char   *what;
        unsigned long cp;

        if (!json_is_object(v) || !json_is_object(sl) || !json_is_integer(idx)
            || json_integer_value(idx) < 0 || !json_is_string(uri)
            || json_string_length(uri) == 0 || json_string_length(uri) > 2048)
        {
            s = aim_fail(err, AIM_BAD_CLAIM, "\"status\" is not {\"status_list\": "
                         "{\"idx\": N, \"uri\": \"...\"}}");
            goto fail;
        }
        if (aim_text_unsafe(json_string_value(uri), json_string_length(uri),
                            AIM_TEXT_NO_SPACE, &what, &cp))
        {
            s = aim_fail(err, AIM_BAD_CLAIM, "\"status.status_list.uri\" contains "
                         "%s (U+%04lX)", what, cp);
            goto fail;
        }
        t->status_idx = (uint64_t) json_integer_value(idx);
        t->status_uri = aim_strdup(json_string_value(uri));
        if (t->status_uri == NULL) {
            s = aim_fail(err, AIM_INTERNAL, "out of memory");
            goto fail;
        }
    }

    *out = t;
    return AIM_OK;

fail:
    aim_token_free(t);
    return s;
}

aim_status
aim_check_time(const struct aim_config *cfg, const aim_token *t, int64_t now,
               aim_error *err)
{
    if (now >= t->exp + cfg->leeway) {
        return aim_fail(err, AIM_EXPIRED, "expired %lld s ago",
                        (long long) (now - t->exp));
    }
    if (t->nbf >= 0 && t->nbf > now + cfg->leeway) {
        return aim_fail(err, AIM_NOT_YET_VALID, "not valid for another %lld s "
                        "(nbf)", (long long) (t->nbf - now));
    }
    if (t->iat > now + cfg->leeway) {
        return aim_fail(err, AIM_NOT_YET_VALID, "issued %lld s in the future "
                        "(iat)", (long long) (t->iat - now));
    }
    return AIM_OK;
}

aim_status
aim_token_apply_policy(aim_token *t, const aim_policy *p, aim_error *err)
{
    size_t i, kept = 0;

    if (p == NULL) {
        return AIM_OK;
    }
    for (i = 0; i < t->nscopes; i++) {
        if (aim_policy_allows(p, t->agent, t->scopes[i])) {
            t->scopes[kept++] = t->scopes[i];
        } else {
            free(t->scopes[i]);
        }
    }
    t->nscopes = kept;
    return join_scopes(t, err);
}
