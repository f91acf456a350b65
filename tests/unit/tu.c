/*
 * tu.c -- helpers shared by the unit tests (see tu.h).
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/err.h>
#include "b64.h"
#include "sign.h"
#include "tu.h"

long long tu_now = TU_T0;

static char      tu_dir[256];
static EVP_PKEY *tu_keys[6];
static char      tu_jwks_path[300];

int64_t
tu_clock(void)
{
    return (int64_t) tu_now;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st; (void) flag; (void) ftw;
    return remove(path);
}

static void
tu_cleanup(void)
{
    if (tu_dir[0] != '\0' && getenv("TU_KEEP") == NULL) {
        nftw(tu_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

void
tu_init_in(const char *dir)
{
    /* Files the tests write are 0644 whatever the caller's umask (0002
     * would make them group-writable, which strict_modes refuses). */
    umask(022);
    if (dir != tu_dir) {
        snprintf(tu_dir, sizeof(tu_dir), "%s", dir);
    }
    aim_set_clock(tu_clock);
    tu_now = TU_T0;
}

void
tu_init(void)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(tu_dir, sizeof(tu_dir), "%s/aim-unit.XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(tu_dir) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    atexit(tu_cleanup);
    tu_init_in(tu_dir);
}

const char *
tu_path(const char *name)
{
    static char buf[16][512];
    static int  i;
    char       *p = buf[i++ % 16];

    snprintf(p, 512, "%s/%s", tu_dir, name);
    return p;
}

const char *
tu_write(const char *name, const char *content, size_t len)
{
    const char *path = tu_path(name);
    char        tmp[600];
    FILE       *fp;

    if (len == (size_t) -1) {
        len = strlen(content);
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fp = fopen(tmp, "wb");
    if (fp == NULL || fwrite(content, 1, len, fp) != len || fclose(fp) != 0) {
        perror(tmp);
        exit(2);
    }
    if (rename(tmp, path) != 0) {
        perror(path);
        exit(2);
    }
    return path;
}

char *
tu_read(const char *path, size_t *len)
{
    FILE   *fp = fopen(path, "rb");
    char   *buf;
    long    n;

    if (fp == NULL) {
        return NULL;
    }
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t) n + 1);
    if (buf == NULL || fread(buf, 1, (size_t) n, fp) != (size_t) n) {
        fclose(fp);
        free(buf);
        return NULL;
    }
    fclose(fp);
    buf[n] = '\0';
    if (len != NULL) {
        *len = (size_t) n;
    }
    return buf;
}

EVP_PKEY *
tu_key_new(aim_alg alg, int bits)
{
    aim_error  err;
    EVP_PKEY  *k;

    if ((alg == AIM_ALG_RS256 || alg == AIM_ALG_PS256) && bits > 0 && bits < 2048) {
        /* sign.c refuses these, on purpose: make them with OpenSSL. */
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) bits);
    } else {
        k = aim_privkey_generate(alg, bits, &err);
    }
    if (k == NULL) {
        fprintf(stderr, "key generation failed for %s\n", aim_alg_name(alg));
        exit(2);
    }
    return k;
}

EVP_PKEY *
tu_key(aim_alg alg)
{
    int slot = alg == AIM_ALG_PS256 ? AIM_ALG_RS256 : (int) alg;

    if (tu_keys[slot] == NULL) {
        tu_keys[slot] = tu_key_new(alg, 0);
    }
    return tu_keys[slot];
}

const char *
tu_kid(aim_alg alg)
{
    switch (alg) {
    case AIM_ALG_ES256: return "k-es256";
    case AIM_ALG_ES384: return "k-es384";
    case AIM_ALG_EDDSA: return "k-eddsa";
    case AIM_ALG_RS256: return "k-rs256";
    case AIM_ALG_PS256: return "k-ps256";
    default:            return "k-none";
    }
}

char *
tu_jwk(EVP_PKEY *k, aim_alg alg, const char *kid)
{
    aim_error  err;
    json_t    *jwk = aim_pubkey_to_jwk(k, alg, kid, &err);
    char      *s;

    if (jwk == NULL) {
        fprintf(stderr, "aim_pubkey_to_jwk: %s\n", err.message);
        exit(2);
    }
    s = json_dumps(jwk, JSON_COMPACT);
    json_decref(jwk);
    return s;
}

const char *
tu_std_jwks(void)
{
    static const aim_alg algs[] = { AIM_ALG_ES256, AIM_ALG_ES384, AIM_ALG_EDDSA,
                                    AIM_ALG_RS256, AIM_ALG_PS256 };
    char   buf[16384];
    size_t i, n = 0;

    if (tu_jwks_path[0] != '\0') {
        return tu_jwks_path;
    }
    n += (size_t) snprintf(buf + n, sizeof(buf) - n, "{\"keys\":[");
    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        char *j = tu_jwk(tu_key(algs[i]), algs[i], tu_kid(algs[i]));
        n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? "," : "", j);
        free(j);
    }
    snprintf(buf + n, sizeof(buf) - n, "]}");
    snprintf(tu_jwks_path, sizeof(tu_jwks_path), "%s", tu_write("jwks.json", buf, (size_t) -1));
    return tu_jwks_path;
}

char *
tu_b64(const void *data, size_t len)
{
    char *out = malloc(AIM_B64_ENCODED_LEN(len));

    if (out == NULL) {
        abort();
    }
    aim_b64url_encode(data, len, out);
    return out;
}

unsigned char *
tu_sig(EVP_PKEY *k, aim_alg alg, const void *msg, size_t len, size_t *siglen)
{
    unsigned char *sig;
    aim_error      err;

    if (aim_jws_signature(k, alg, msg, len, &sig, siglen, &err) != AIM_OK) {
        fprintf(stderr, "tu_sig: %s\n", err.message);
        exit(2);
    }
    return sig;
}

char *
tu_sign_raw(EVP_PKEY *k, aim_alg alg, const char *header, size_t hlen,
            const char *payload, size_t plen)
{
    char      *h = tu_b64(header, hlen), *p = tu_b64(payload, plen), *input, *tok;
    size_t     n = strlen(h) + 1 + strlen(p);
    aim_error  err;

    input = malloc(n + 1);
    if (input == NULL) {
        abort();
    }
    snprintf(input, n + 1, "%s.%s", h, p);
    tok = aim_jws_sign_input(k, alg, input, n, &err);
    if (tok == NULL) {
        fprintf(stderr, "tu_sign_raw: %s\n", err.message);
        exit(2);
    }
    free(input);
    free(h);
    free(p);
    return tok;
}

char *
tu_with_sig(const char *token, const void *sig, size_t siglen)
{
    const char *dot = strrchr(token, '.');
    size_t      n = (size_t) (dot - token);
    char       *s = tu_b64(sig, siglen);
    char       *out = malloc(n + 2 + strlen(s));

    memcpy(out, token, n + 1);
    strcpy(out + n + 1, s);
    free(s);
    return out;
}

json_t *
tu_json(const char *text)
{
    json_error_t jerr;
    json_t      *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

    if (j == NULL) {
        fprintf(stderr, "test JSON does not parse: %s: %s\n", text, jerr.text);
        exit(2);
    }
    return j;
}

static void
merge(json_t *base, const char *extra)
{
    json_t     *x;
    const char *key;
    json_t     *val;

    if (extra == NULL) {
        return;
    }
    x = tu_json(extra);
    json_object_foreach(x, key, val) {
        if (json_is_string(val) && strcmp(json_string_value(val), "__delete__") == 0) {
            json_object_del(base, key);
        } else {
            json_object_set(base, key, val);
        }
    }
    json_decref(x);
}

char *
tu_token_alg(aim_alg alg, const char *header_extra, const char *claims_extra)
{
    json_t    *h, *c;
    aim_error  err;
    char      *tok;

    h = json_pack("{s:s, s:s, s:s}", "alg", aim_alg_name(alg), "typ", "aim+jwt",
                  "kid", tu_kid(alg));
    c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}",
                  "iss", TU_ISS, "sub", "agent-1", "aud", TU_AUD,
                  "iat", (json_int_t) tu_now, "exp", (json_int_t) (tu_now + 600),
                  "jti", "jti-1", "scope", "kb:read kb:write");
    merge(h, header_extra);
    merge(c, claims_extra);
    tok = aim_jws_sign(tu_key(alg), alg, h, c, &err);
    json_decref(h);
    json_decref(c);
    if (tok == NULL) {
        fprintf(stderr, "aim_jws_sign: %s\n", err.message);
        exit(2);
    }
    return tok;
}

char *
tu_token(const char *header_extra, const char *claims_extra)
{
    return tu_token_alg(AIM_ALG_ES256, header_extra, claims_extra);
}

char *
tu_agent_token(const char *sub, const char *scope, long long lifetime,
               const char *claims_extra)
{
    json_t *c = json_pack("{s:s, s:s, s:s, s:I}", "sub", sub, "jti", sub,
                          "scope", scope, "exp", (json_int_t) (tu_now + lifetime));
    char   *claims, *tok;

    merge(c, claims_extra);
    claims = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    tok = tu_token(NULL, claims);
    free(claims);
    return tok;
}

char *
tu_statuslist_token(EVP_PKEY *key, const char *uri, const unsigned char *bytes,
                    size_t n, int bits, long long exp)
{
    char      *lst = aim_statuslist_encode(bytes, n), *jwt;
    json_t    *h, *c;
    aim_error  err;

    h = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "typ", "statuslist+jwt",
                  "kid", tu_kid(AIM_ALG_ES256));
    c = json_pack("{s:s, s:I, s:{s:i, s:s}}", "sub", uri, "iat", (json_int_t) tu_now,
                  "status_list", "bits", bits, "lst", lst);
    if (exp > 0) {
        json_object_set_new(c, "exp", json_integer(exp));
    }
    jwt = aim_jws_sign(key, AIM_ALG_ES256, h, c, &err);
    if (jwt == NULL) {
        fprintf(stderr, "tu_statuslist_token: %s\n", err.message);
        exit(2);
    }
    json_decref(h);
    json_decref(c);
    free(lst);
    return jwt;
}

static aim_verifier *
verifier_va(aim_error *err, const char *name, va_list ap)
{
    aim_config   *cfg = aim_config_new();
    aim_verifier *v;
    int           have_keys = 0;
    const char   *n;

    /* A "keys" in the list replaces the standard JWKS. */
    {
        va_list cp;
        va_copy(cp, ap);
        for (n = name; n != NULL; n = va_arg(cp, const char *)) {
            const char *val = va_arg(cp, const char *);
            (void) val;
            if (strcmp(n, "keys") == 0) have_keys = 1;
        }
        va_end(cp);
    }
    if (!have_keys) aim_config_set(cfg, "keys", tu_std_jwks(), err);
    aim_config_set(cfg, "issuer", TU_ISS, err);
    aim_config_set(cfg, "audience", TU_AUD, err);
    for (n = name; n != NULL; n = va_arg(ap, const char *)) {
        const char *val = va_arg(ap, const char *);

        if (aim_config_set(cfg, n, val, err) != AIM_OK) {
            aim_config_free(cfg);
            return NULL;
        }
    }
    v = aim_verifier_new(cfg, err);
    aim_config_free(cfg);
    return v;
}

aim_verifier *
tu_verifier(const char *name, ...)
{
    va_list       ap;
    aim_verifier *v;
    aim_error     err;

    va_start(ap, name);
    v = verifier_va(&err, name, ap);
    va_end(ap);
    if (v == NULL) {
        fprintf(stderr, "tu_verifier: %s\n", err.message);
        exit(2);
    }
    return v;
}

aim_verifier *
tu_verifier_try(aim_error *err, const char *name, ...)
{
    va_list       ap;
    aim_verifier *v;

    va_start(ap, name);
    v = verifier_va(err, name, ap);
    va_end(ap);
    return v;
}

aim_status
tu_verify(aim_verifier *v, const char *token, aim_error *err)
{
    aim_token  *t = NULL;
    aim_status  s = aim_verify(v, token, token != NULL ? strlen(token) : 0, &t, err);

    if ((s == AIM_OK) != (t != NULL)) {
        fprintf(stderr, "aim_verify: status %s but token %p\n", aim_reason(s),
                (void *) t);
        abort();
    }
    aim_token_free(t);
    return s;
}

char *tu_lines[TU_MAX_LINES];
int   tu_nlines;

void
tu_line_sink(void *ud, const char *line)
{
    (void) ud;
    if (tu_nlines < TU_MAX_LINES) {
        tu_lines[tu_nlines] = strdup(line);
    }
    tu_nlines++;
}

void
tu_lines_reset(void)
{
    int i;

    for (i = 0; i < tu_nlines && i < TU_MAX_LINES; i++) {
        free(tu_lines[i]);
        tu_lines[i] = NULL;
    }
    tu_nlines = 0;
}

static void
count_fn(void *ud, const aim_agent_stats *s)
{
    tu_counts *c = ud;

    if (strcmp(s->agent, c->agent) == 0) {
        c->events = (long long) s->events;
        c->denied = (long long) s->denied;
    }
}

tu_counts
tu_counts_of(aim_verifier *v, const char *agent)
{
    tu_counts c = { agent, 0, 0 };

    aim_state_foreach(v->state, aim_now(), count_fn, &c);
    return c;
}

aim_request
tu_request(const char *tok, const char *const *scope)
{
    aim_request r;

    memset(&r, 0, sizeof(r));
    r.adapter = "test";
    r.action = "GET";
    r.resource = "/kb/1";
    r.scopes = scope;
    r.nscopes = scope != NULL ? 1 : 0;
    r.token = tok;
    r.token_len = tok != NULL ? strlen(tok) : 0;
    return r;
}

aim_status
tu_decide_status(aim_verifier *v, const aim_request *req)
{
    aim_decision d;
    aim_status   s = aim_decide(v, req, &d);

    aim_decision_clear(&d);
    return s;
}

aim_status
tu_decide_token_status(aim_verifier *v, const aim_token *t,
                       const aim_request *req)
{
    aim_decision d;
    aim_status   s = aim_decide_token(v, t, req, &d);

    aim_decision_clear(&d);
    return s;
}

int
tu_contains(const char *hay, const char *needle)
{
    return hay != NULL && needle != NULL && strstr(hay, needle) != NULL;
}

aim_status
tu_decide(aim_verifier *v, const char *token, size_t len,
          const aim_request *req, aim_token **t, aim_error *err)
{
    aim_request  r;
    aim_decision d;
    aim_status   s;

    memset(&r, 0, sizeof(r));
    if (req != NULL) {
        r = *req;
    }
    r.token = token;
    r.token_len = len;
    s = aim_decide(v, &r, &d);
    if (err != NULL) {
        err->status = s;
        memcpy(err->message, d.message, sizeof(err->message));
    }
    *t = d.token;
    d.token = NULL;
    aim_decision_clear(&d);
    return s;
}

aim_status
tu_decide_token(aim_verifier *v, const aim_token *t, const aim_request *req,
                aim_error *err)
{
    aim_decision d;
    aim_status   s;

    s = aim_decide_token(v, t, req, &d);
    if (err != NULL) {
        err->status = s;
        memcpy(err->message, d.message, sizeof(err->message));
    }
    aim_decision_clear(&d);
    return s;
}
