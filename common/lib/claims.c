/*
 * claims.c -- registered claims (RFC 7519) and the agent model.
 *
 * The agent is the current actor: the "sub" of the outermost "act"
 * (RFC 8693 section 4.1: the top-level "act" is the current actor, nested
 * ones are prior actors) or, without "act", the token's "sub".
 *
 * This runs for every token that verifies, so it reads the claims with
 * the request-path parser (json.h) and builds the token in one
 * allocation: the structure and every string it holds.  The claims' text
 * as signed stays with the token; jansson reads it only if someone asks
 * for a claim by name (aim_token_claim).
 */
#include <math.h>
#include <stddef.h>
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
    if (t == NULL || --t->refs > 0) {
        return;
    }
    json_decref(t->claims);
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

/*
 * jansson's reading of the claims, made on first use and kept (a cache:
 * the token is otherwise immutable, and a verifier and its tokens are
 * used by one thread).  The text passed the strict parser, which accepts
 * exactly what this one does (tests/fuzz/fuzz_json.c).
 */
static const json_t *
claims_json(const aim_token *t)
{
    aim_token *m = (aim_token *) t;

    if (m->claims == NULL && t->text != NULL) {
        m->claims = aim_json_parse_object(t->text, t->text_len, "claims", NULL);
    }
    return m->claims;
}

char *
aim_token_claim(const aim_token *t, const char *name)
{
    const json_t *v = json_object_get(claims_json(t), name);

    if (v == NULL) {
        return NULL;
    }
    if (json_is_string(v)) {
        return aim_strdup(json_string_value(v));
    }
    return aim_json_compact(v);
}

char *
aim_token_claims_json(const aim_token *t)
{
    const json_t *c = claims_json(t);

    return c != NULL ? aim_json_compact(c) : NULL;
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
id_claim(const aim_jdoc *d, const aim_jnode *v, const char *name,
         int required, int kind, const aim_jnode **out, aim_error *err)
{
    const char      *why;
    char             buf[96];

    *out = NULL;
    if (v == NULL) {
        return required ? aim_fail(err, AIM_MISSING_CLAIM, "\"%s\" is missing", name)
                        : AIM_OK;
    }
    if (v->type != AIM_JSTRING) {
        return aim_fail(err, AIM_BAD_CLAIM, "\"%s\" is not a string", name);
    }
    if (v->len == 0 || v->len > AIM_MAX_ID_LEN) {
        return aim_fail(err, AIM_BAD_CLAIM, "\"%s\" must be 1 to %d bytes", name,
                        AIM_MAX_ID_LEN);
    }
    if ((why = id_problem(AIM_JDOC_STRING(d, v), v->len, kind, buf, sizeof(buf)))
        != NULL)
    {
        return aim_fail(err, AIM_BAD_CLAIM, "\"%s\" %s", name, why);
    }
    *out = v;
    return AIM_OK;
}

/* A NumericDate: a JSON number, finite, 0..9999-12-31; fractions floor. */
static aim_status
date_claim(const aim_jnode *v, const char *name, int required, int64_t *out,
           aim_error *err)
{
    if (v == NULL) {
        *out = -1;
        return required ? aim_fail(err, AIM_MISSING_CLAIM, "\"%s\" is missing", name)
                        : AIM_OK;
    }
    if (v->type == AIM_JINT) {
        if (v->v.i < 0 || v->v.i > AIM_MAX_NUMERIC_DATE) {
            return aim_fail(err, AIM_BAD_CLAIM, "\"%s\" is out of range", name);
        }
        *out = v->v.i;
        return AIM_OK;
    }
    if (v->type == AIM_JREAL) {
        if (!isfinite(v->v.d) || v->v.d < 0 || v->v.d > (double) AIM_MAX_NUMERIC_DATE) {
            return aim_fail(err, AIM_BAD_CLAIM, "\"%s\" is out of range", name);
        }
        *out = (int64_t) v->v.d;        /* d >= 0: truncation is floor */
        return AIM_OK;
    }
    return aim_fail(err, AIM_BAD_CLAIM, "\"%s\" is not a number", name);
}

static aim_status
check_audience(const struct aim_config *cfg, const aim_jdoc *d,
               const aim_jnode *aud, aim_error *err)
{
    const aim_jnode *a;
    size_t           i;

    if (aud == NULL) {
        return aim_fail(err, AIM_MISSING_CLAIM, "\"aud\" is missing");
    }
    if (aud->type == AIM_JSTRING) {
        return strcmp(AIM_JDOC_STRING(d, aud), cfg->audience) == 0
               ? AIM_OK
               : aim_fail(err, AIM_BAD_AUDIENCE, "\"aud\" is not \"%.100s\"",
                          cfg->audience);
    }
    if (aud->type != AIM_JARRAY || aud->len == 0 || aud->len > AIM_MAX_AUDIENCES) {
        return aim_fail(err, AIM_BAD_CLAIM, "\"aud\" is neither a string nor an "
                        "array of 1 to %d strings", AIM_MAX_AUDIENCES);
    }
    for (i = 0, a = AIM_JDOC_FIRST(aud); i < aud->len; i++, a = AIM_JDOC_NEXT(d, a)) {
        if (a->type != AIM_JSTRING) {
            return aim_fail(err, AIM_BAD_CLAIM, "\"aud\" holds a non-string");
        }
    }
    for (i = 0, a = AIM_JDOC_FIRST(aud); i < aud->len; i++, a = AIM_JDOC_NEXT(d, a)) {
        if (strcmp(AIM_JDOC_STRING(d, a), cfg->audience) == 0) {
            return AIM_OK;
        }
    }
    return aim_fail(err, AIM_BAD_AUDIENCE, "\"aud\" does not contain \"%.100s\"",
                    cfg->audience);
}

/*
 * Walk "act": the outermost is the current actor, each nested "act" a
 * prior one.  ids[] receives the actors' "sub" nodes, outermost first.
 */
static aim_status
check_actors(const aim_jdoc *d, const aim_jnode *act,
             const aim_jnode *ids[AIM_MAX_ACT_DEPTH], size_t *n, aim_error *err)
{
    const aim_jnode *sub;
    const char      *why;
    char             buf[96];

    *n = 0;
    while (act != NULL) {
        if (act->type != AIM_JOBJECT) {
            return aim_fail(err, AIM_BAD_CLAIM, "\"act\" is not an object");
        }
        if (*n == AIM_MAX_ACT_DEPTH) {
            return aim_fail(err, AIM_BAD_CLAIM, "\"act\" chain deeper than %d",
                            AIM_MAX_ACT_DEPTH);
        }
        sub = aim_jdoc_get(d, act, "sub");
        if (sub == NULL || sub->type != AIM_JSTRING || sub->len == 0
            || sub->len > AIM_MAX_ID_LEN)
        {
            return aim_fail(err, AIM_BAD_CLAIM, "\"act\" without a valid \"sub\"");
        }
        if ((why = id_problem(AIM_JDOC_STRING(d, sub), sub->len, ID_AGENT, buf,
                              sizeof(buf))) != NULL)
        {
            return aim_fail(err, AIM_BAD_CLAIM, "\"act.sub\" %s", why);
        }
        ids[(*n)++] = sub;
        act = aim_jdoc_get(d, act, "act");
    }
    return AIM_OK;
}

/* The registered claims AIM reads, found in one pass over the members. */
enum {
    C_ISS, C_SUB, C_AUD, C_EXP, C_IAT, C_NBF, C_JTI, C_ACT, C_CNF, C_OWNER,
    C_SCOPE, C_STATUS, C_COUNT
};

static void
find_claims(const aim_jdoc *d, const aim_jnode *root, const aim_jnode *c[C_COUNT])
{
    static const char names3[][4] = {
        [C_ISS] = "iss", [C_SUB] = "sub", [C_AUD] = "aud", [C_EXP] = "exp",
        [C_IAT] = "iat", [C_NBF] = "nbf", [C_JTI] = "jti", [C_ACT] = "act",
        [C_CNF] = "cnf",
    };
    const aim_jnode *m;
    const char      *k;
    size_t           i, j;

    memset(c, 0, C_COUNT * sizeof(c[0]));
    for (i = 0, m = AIM_JDOC_FIRST(root); i < root->len; i++, m = AIM_JDOC_NEXT(d, m)) {
        k = AIM_JDOC_KEY(d, m);
        switch (m->keylen) {
        case 3:
            for (j = 0; j <= C_CNF; j++) {
                if (memcmp(k, names3[j], 3) == 0) {
                    c[j] = m;
                    break;
                }
            }
            break;
        case 5:
            if (memcmp(k, "owner", 5) == 0) c[C_OWNER] = m;
            else if (memcmp(k, "scope", 5) == 0) c[C_SCOPE] = m;
            break;
        case 6:
            if (memcmp(k, "status", 6) == 0) c[C_STATUS] = m;
            break;
        default:
            break;
        }
    }
}

/* The token's strings: one block after the structure. */
typedef struct {
    char *p;
} arena;

static char *
put(arena *a, const char *s, size_t len)
{
    char *r = a->p;

    memcpy(r, s, len);
    r[len] = '\0';
    a->p += len + 1;
    return r;
}

static const char *
put_node(arena *a, const aim_jdoc *d, const aim_jnode *n)
{
    return n != NULL ? put(a, AIM_JDOC_STRING(d, n), n->len) : NULL;
}

/* t->scope = the effective scopes joined by single spaces, in place: the
 * buffer holds the token's own scope string, which is at least as long. */
static void
join_scopes(aim_token *t)
{
    char   *p = t->scope;
    size_t  i, l;

    for (i = 0; i < t->nscopes; i++) {
        l = strlen(t->scopes[i]);
        if (i > 0) {
            *p++ = ' ';
        }
        memmove(p, t->scopes[i], l);
        p += l;
    }
    *p = '\0';
}

aim_status
aim_claims_to_token(const struct aim_config *cfg, const unsigned char *text,
                    size_t len, const char *kid, aim_token **out,
                    aim_error *err)
{
    aim_jdoc         d;
    const aim_jnode *root, *iss, *sub, *jti, *owner, *scope = NULL, *v;
    const aim_jnode *cl[C_COUNT];
    const aim_jnode *actors[AIM_MAX_ACT_DEPTH], *jkt = NULL, *x5t = NULL;
    const aim_jnode *status_uri = NULL;
    char            *scopes[AIM_MAX_SCOPES];
    size_t           nscopes = 0;
    aim_token       *t = NULL;
    aim_status       s;
    int64_t          exp, iat, nbf;
    uint64_t         status_idx = 0;
    size_t           nact = 0, i, size, chain_len = 0;
    unsigned         cnf_other = 0;
    arena            a;
    int              n;

    *out = NULL;
    s = aim_jdoc_parse(&d, (const char *) text, len, AIM_MAX_JSON_DEPTH, "claims",
                       err);
    if (s != AIM_OK) {
        goto done;
    }
    root = AIM_JDOC_ROOT(&d);
    if (root->type != AIM_JOBJECT) {
        s = aim_fail(err, AIM_MALFORMED, "claims is not a JSON object");
        goto done;
    }

    find_claims(&d, root, cl);

    /* Issuer first: nothing else matters if we do not know it. */
    if ((s = id_claim(&d, cl[C_ISS], "iss", 1, ID_TEXT, &iss, err)) != AIM_OK) {
        goto done;
    }
    for (i = 0; i < cfg->nissuers; i++) {
        if (strcmp(AIM_JDOC_STRING(&d, iss), cfg->issuers[i]) == 0) {
            break;
        }
    }
    if (i == cfg->nissuers) {
        s = aim_fail(err, AIM_BAD_ISSUER, "issuer \"%.100s\" is not accepted",
                     AIM_JDOC_STRING(&d, iss));
        goto done;
    }

    if ((s = id_claim(&d, cl[C_SUB], "sub", 1, ID_AGENT, &sub, err)) != AIM_OK
        || (s = check_audience(cfg, &d, cl[C_AUD], err)) != AIM_OK
        || (s = date_claim(cl[C_EXP], "exp", 1, &exp, err)) != AIM_OK
        || (s = date_claim(cl[C_IAT], "iat", 1, &iat, err)) != AIM_OK
        || (s = date_claim(cl[C_NBF], "nbf", 0, &nbf, err)) != AIM_OK
        || (s = id_claim(&d, cl[C_JTI], "jti", 1, ID_WORD, &jti, err)) != AIM_OK
        || (s = id_claim(&d, cl[C_OWNER], "owner", 0, ID_TEXT, &owner, err)) != AIM_OK)
    {
        goto done;
    }
    if (exp <= iat) {
        s = aim_fail(err, AIM_BAD_CLAIM, "\"exp\" is not after \"iat\"");
        goto done;
    }
    if (exp - iat > cfg->max_lifetime) {
        s = aim_fail(err, AIM_LIFETIME_TOO_LONG, "lifetime of %lld s exceeds the "
                     "maximum of %lld s", (long long) (exp - iat),
                     (long long) cfg->max_lifetime);
        goto done;
    }
    if ((s = check_actors(&d, cl[C_ACT], actors, &nact, err)) != AIM_OK) {
        goto done;
    }

    v = cl[C_SCOPE];
    if (v != NULL) {
        if (v->type != AIM_JSTRING) {
            s = aim_fail(err, AIM_BAD_CLAIM, "\"scope\" is not a space-separated "
                         "string");
            goto done;
        }
        /* Split in the parser's own copy of the string (ours to change). */
        n = aim_scope_split(d.str + v->v.s, scopes, AIM_MAX_SCOPES);
        if (n < 0) {
            s = aim_fail(err, AIM_BAD_CLAIM, "\"scope\" is not a valid scope list "
                         "(at most %d tokens of printable ASCII, single spaces)",
                         AIM_MAX_SCOPES);
            goto done;
        }
        nscopes = (size_t) n;
        scope = v;
    }

    v = cl[C_CNF];
    if (v != NULL) {
        const aim_jnode *m;
        unsigned char    raw[AIM_B64_DECODED_MAX(43)];
        size_t           rawlen = 0;

        /* An empty cnf names no key: the issuer meant a binding it did
         * not write, so the token is not taken as a bearer token. */
        if (v->type != AIM_JOBJECT || v->len == 0) {
            s = aim_fail(err, AIM_BAD_CLAIM, "\"cnf\" is not an object with a "
                         "confirmation method");
            goto done;
        }
        /*
         * RFC 7800: every member names a way the token is bound to a key.
         * The two AIM can check are kept; any other (jwk, jku, kid, x5t,
         * ...) marks the token as bound by a method no adapter checks, and
         * the decision refuses it rather than treat it as a bearer token.
         */
        for (i = 0, m = AIM_JDOC_FIRST(v); i < v->len; i++, m = AIM_JDOC_NEXT(&d, m)) {
            const char *name = AIM_JDOC_KEY(&d, m);

            if (strcmp(name, "jkt") != 0 && strcmp(name, "x5t#S256") != 0) {
                cnf_other = 1;
                continue;
            }
            if (m->type != AIM_JSTRING || m->len != 43
                || aim_b64url_decode(AIM_JDOC_STRING(&d, m), 43, raw, &rawlen) != 0
                || rawlen != 32)
            {
                s = aim_fail(err, AIM_BAD_CLAIM, "\"cnf.%s\" is not a SHA-256 "
                             "thumbprint", name[0] == 'j' ? "jkt" : "x5t#S256");
                goto done;
            }
            if (name[0] == 'j') {
                jkt = m;
            } else {
                x5t = m;
            }
        }
    }

    v = cl[C_STATUS];
    if (v != NULL) {
        const aim_jnode *sl = aim_jdoc_get(&d, v, "status_list");
        const aim_jnode *idx = aim_jdoc_get(&d, sl, "idx");
        const aim_jnode *uri = aim_jdoc_get(&d, sl, "uri");
        const char      *what;
        unsigned long    cp;

        if (v->type != AIM_JOBJECT || sl == NULL || sl->type != AIM_JOBJECT
            || idx == NULL || idx->type != AIM_JINT || idx->v.i < 0
            || uri == NULL || uri->type != AIM_JSTRING || uri->len == 0
            || uri->len > 2048)
        {
            s = aim_fail(err, AIM_BAD_CLAIM, "\"status\" is not {\"status_list\": "
                         "{\"idx\": N, \"uri\": \"...\"}}");
            goto done;
        }
        if (aim_text_unsafe(AIM_JDOC_STRING(&d, uri), uri->len, AIM_TEXT_NO_SPACE,
                            &what, &cp))
        {
            s = aim_fail(err, AIM_BAD_CLAIM, "\"status.status_list.uri\" contains "
                         "%s (U+%04lX)", what, cp);
            goto done;
        }
        status_idx = (uint64_t) idx->v.i;
        status_uri = uri;
    }

    /* Everything is checked but the scope grammar: build the token. */
    size = len + 1 + iss->len + sub->len + jti->len + 3
           + (owner != NULL ? owner->len + 1 : 0)
           + (kid != NULL ? strlen(kid) + 1 : 0)
           + (status_uri != NULL ? status_uri->len + 1 : 0)
           + (jkt != NULL ? 44 : 0) + (x5t != NULL ? 44 : 0)
           + (scope != NULL ? 2 * (scope->len + 1) : 1);
    if (nact > 0) {
        for (i = 0; i < nact; i++) {
            chain_len += actors[i]->len + 1;
        }
        chain_len += sub->len + 1;
        size += actors[0]->len + 1 + chain_len;
    }
    /* The block: the structure, the scope pointers, then the strings
     * (small enough, for a usual token, for the allocator's fast path). */
    t = malloc(sizeof(*t) + nscopes * sizeof(char *) + size);
    if (t == NULL) {
        s = aim_fail(err, AIM_INTERNAL, "out of memory");
        goto done;
    }
    memset(t, 0, sizeof(*t));
    t->refs = 1;
    t->scopes = (char **) (t + 1);
    a.p = (char *) (t->scopes + nscopes);
    t->text = put(&a, (const char *) text, len);
    t->text_len = len;
    t->issuer = put_node(&a, &d, iss);
    t->subject = put_node(&a, &d, sub);
    t->jti = put_node(&a, &d, jti);
    t->owner = put_node(&a, &d, owner);
    t->kid = kid != NULL ? put(&a, kid, strlen(kid)) : NULL;
    t->status_uri = put_node(&a, &d, status_uri);
    t->status_idx = status_idx;
    t->cnf_jkt = put_node(&a, &d, jkt);
    t->cnf_x5t = put_node(&a, &d, x5t);
    t->cnf_other = cnf_other;
    t->exp = exp;
    t->iat = iat;
    t->nbf = nbf;
    if (nact == 0) {
        t->agent = t->subject;
        t->chain = t->subject;
    } else {
        char *p;

        t->agent = put_node(&a, &d, actors[0]);
        t->chain = p = a.p;
        for (i = 0; i < nact; i++) {
            memcpy(p, AIM_JDOC_STRING(&d, actors[i]), actors[i]->len);
            p += actors[i]->len;
            *p++ = '>';
        }
        memcpy(p, t->subject, sub->len + 1);
        a.p += chain_len;
    }

    /* The scopes, then t->scope: them joined with single spaces, in room
     * for the claim as it was (duplicates are dropped, policy may drop
     * more, so it never grows). */
    for (i = 0; i < nscopes; i++) {
        t->scopes[i] = put(&a, scopes[i], strlen(scopes[i]));
    }
    t->nscopes = nscopes;
    t->scope = a.p;
    a.p += scope != NULL ? scope->len + 1 : 1;
    join_scopes(t);
    *out = t;
    t = NULL;
    s = AIM_OK;

done:
    free(t);
    aim_jdoc_free(&d);
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

    (void) err;
    if (p == NULL) {
        return AIM_OK;
    }
    for (i = 0; i < t->nscopes; i++) {
        if (aim_policy_allows(p, t->agent, t->scopes[i])) {
            t->scopes[kept++] = t->scopes[i];
        }
    }
    t->nscopes = kept;
    join_scopes(t);
    return AIM_OK;
}
