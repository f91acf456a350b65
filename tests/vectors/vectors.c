/*
 * vectors.c -- run the public test vectors through the core.
 *
 * Usage: vectors FILE     (FILE written by convert.py; see its header)
 *
 * Signature vectors (Wycheproof) go through aim_key_from_jwk, then
 * aim_sig_verify and aim_key_verify, and through the PEM loader when the
 * group has a PEM; all paths must agree.  Whole JWS tokens go through
 * aim_jws_parse, the key's pinned algorithm and aim_key_verify: the
 * JWS-level decision, since their claims are not AIM claims.  JSON files
 * go through aim_json_parse_strict.  convert.py decided what AIM must
 * answer; every case where that differs from the source's verdict is
 * listed, one line each.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "aim.h"
#include "json.h"
#include "jws.h"
#include "keys.h"

static int passed, failed, skipped, deviations;
static int s_cases, s_ok, s_dev;
static char suite[128];

static aim_key  key;
static int      key_ok, pem_ok;
static char     key_err[300], key_label[128];
static aim_keyset *pem_ks;

static int64_t vec_clock(void) { return 1300819000; }  /* RFC 7515's era */

static void
suite_end(void)
{
    if (suite[0] != '\0') {
        printf("  %-45s %5d cases, %5d as expected, %3d deviating from the source "
               "(listed)\n", suite, s_cases, s_ok, s_dev);
    }
    s_cases = s_ok = s_dev = 0;
}

static void
clear_keys(void)
{
    if (key_ok) aim_key_clear(&key);
    key_ok = 0;
    aim_keyset_free(pem_ks);
    pem_ks = NULL;
    pem_ok = 0;
    key_err[0] = '\0';
}

static int
split(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;

    while (n < max) {
        f[n++] = p;
        p = strchr(p, '\t');
        if (p == NULL) break;
        *p++ = '\0';
    }
    return n;
}

static unsigned char *
hex(const char *s, size_t *len)
{
    size_t         n = strcmp(s, "-") == 0 ? 0 : strlen(s) / 2, i;
    unsigned char *b = malloc(n + 1);

    for (i = 0; i < n; i++) {
        unsigned int v;
        sscanf(s + 2 * i, "%2x", &v);
        b[i] = (unsigned char) v;
    }
    *len = n;
    return b;
}

/* One verdict: did AIM do what convert.py expects? */
static void
judge(const char *kind, const char *id, const char *verdict, const char *expect,
      int accepted, const char *aim_said, const char *why)
{
    int ok = strcmp(expect, "any") == 0
             || (strcmp(expect, "accept") == 0 && accepted)
             || (strcmp(expect, "reject") == 0 && !accepted);
    int deviates = (strcmp(verdict, "valid") == 0 || strcmp(verdict, "y") == 0)
                   && strcmp(expect, "reject") == 0;

    s_cases++;
    if (ok) {
        passed++;
        s_ok++;
    } else {
        failed++;
        printf("FAIL [%s] %s %s: source says %s, AIM must %s, AIM %s: %s%s%s\n", suite,
               kind, id, verdict, expect, accepted ? "accepted" : "rejected", aim_said,
               strcmp(why, "-") ? " -- expected because: " : "", strcmp(why, "-") ? why : "");
    }
    if (deviates) {
        deviations++;
        s_dev++;
        printf("  deviation [%s] %s %s: source says %s; AIM %s (%s): %s\n", suite, kind, id,
               verdict, accepted ? "ACCEPTS" : "rejects", aim_said, why);
    } else if (strcmp(verdict, "i") == 0) {
        printf("  implementation-defined [%s] %s: AIM %s\n", suite, id,
               accepted ? "parses it" : aim_said);
    } else if (strcmp(verdict, "acceptable") == 0) {
        printf("  acceptable [%s] %s %s: AIM %s (%s): %s\n", suite, kind, id,
               accepted ? "accepts" : "rejects", aim_said, why);
    }
}

static void
do_key(char **f, int n)
{
    json_t *jwk = json_object();
    int     i;
    aim_error err;

    clear_keys();
    snprintf(key_label, sizeof(key_label), "%s", f[1]);
    for (i = 2; i < n; i++) {
        char *eq = strchr(f[i], '='), *v;
        if (eq == NULL || eq[1] == '\0' || eq[2] != ':') {
            fprintf(stderr, "bad KEY field %s\n", f[i]);
            exit(2);
        }
        *eq = '\0';
        v = eq + 3;
        if (eq[1] == 's') {
            json_object_set_new(jwk, f[i], json_string(v));
        } else {
            json_t *a = json_array();
            char *tok, *save;
            for (tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                json_array_append_new(a, json_string(tok));
            }
            json_object_set_new(jwk, f[i], a);
        }
    }
    /* As a key file's key is loaded: the JWK, then the load-time checks. */
    if (aim_key_from_jwk(jwk, &key, &err) == AIM_OK
        && (aim_key_validate(&key, &err) == AIM_OK || (aim_key_clear(&key), 0)))
    {
        key_ok = 1;
    } else {
        snprintf(key_err, sizeof(key_err), "key refused at load: %s: %s",
                 aim_reason(err.status), err.message);
    }
    json_decref(jwk);
}

static void
do_pem(char **f)
{
    char      spec[600];
    aim_error err;

    snprintf(spec, sizeof(spec), "pem:%s:%s", f[2], f[3]);
    pem_ks = aim_keyset_load(spec, &err);
    pem_ok = pem_ks != NULL && aim_keyset_count(pem_ks) == 1;
    /* The PEM and the JWK are the same key: both load or neither. */
    s_cases++;
    if (pem_ok == key_ok) {
        passed++;
        s_ok++;
    } else {
        failed++;
        printf("FAIL [%s] %s: the JWK %s but the PEM %s (%s)\n", suite, f[1],
               key_ok ? "loads" : "is refused", pem_ok ? "loads" : "is refused",
               pem_ok ? key_err : err.message);
    }
}

static void
do_sig(char **f)
{
    size_t         mlen, slen;
    unsigned char *msg = hex(f[4], &mlen), *sig = hex(f[5], &slen);
    aim_error      e1, e2, e3;
    aim_status     s1, s2, s3;
    char           said[400];

    if (!key_ok) {
        judge("SIG", f[1], f[2], f[3], 0, key_err, f[6]);
        free(msg);
        free(sig);
        return;
    }
    s1 = aim_sig_verify(key.pkey, key.alg, msg, mlen, sig, slen, &e1);
    s2 = aim_key_verify(&key, msg, mlen, sig, slen, &e2);
    s3 = s2;
    if (pem_ok) {
        const aim_key *pk = aim_keyset_at(pem_ks, 0);
        s3 = aim_key_verify(pk, msg, mlen, sig, slen, &e3);
    }
    if ((s1 == AIM_OK) != (s2 == AIM_OK) || (s2 == AIM_OK) != (s3 == AIM_OK)) {
        failed++;
        printf("FAIL [%s] SIG %s: verification paths disagree: aim_sig_verify %s, "
               "aim_key_verify %s, PEM key %s\n", suite, f[1], aim_reason(s1),
               aim_reason(s2), aim_reason(s3));
    }
    snprintf(said, sizeof(said), "%s%s%s", aim_reason(s1), s1 ? ": " : "",
             s1 ? e1.message : "");
    judge("SIG", f[1], f[2], f[3], s1 == AIM_OK, said, f[6]);
    free(msg);
    free(sig);
}

/* The JWS-level decision: shape, algorithm pinned by the key, kid, signature. */
static aim_status
jws_decide(const char *token, aim_error *err)
{
    aim_jws    jws;
    aim_status s;
    aim_alg    alg;

    if (!key_ok) {
        snprintf(err->message, sizeof(err->message), "%s", key_err);
        return err->status = AIM_CONFIG;
    }
    s = aim_jws_parse(token, strlen(token), &jws, err);
    if (s != AIM_OK) {
        return s;
    }
    alg = aim_alg_from_name(jws.alg);
    if (alg == AIM_ALG_NONE || alg != key.alg) {
        snprintf(err->message, sizeof(err->message), "header alg %.16s, key pinned to %s",
                 jws.alg, aim_alg_name(key.alg));
        s = err->status = AIM_UNSUPPORTED_ALG;
    } else if (jws.kid != NULL && key.kid != NULL && strcmp(jws.kid, key.kid) != 0) {
        snprintf(err->message, sizeof(err->message), "kid is not the key's");
        s = err->status = AIM_UNKNOWN_KEY;
    } else {
        s = aim_key_verify(&key, (const unsigned char *) token, jws.signing_input_len,
                           jws.sig, jws.sig_len, err);
        if ((s == AIM_OK) != (aim_sig_verify(key.pkey, alg, (const unsigned char *) token,
                                             jws.signing_input_len, jws.sig, jws.sig_len,
                                             NULL) == AIM_OK)) {
            failed++;
            printf("FAIL [%s] aim_key_verify and aim_sig_verify disagree\n", suite);
        }
    }
    aim_jws_clear(&jws);
    return s;
}

static void
do_jws(char **f)
{
    aim_error  err;
    aim_status s = jws_decide(f[4], &err);
    char       said[400];
    aim_jws    jws;
    int        shape_ok;

    snprintf(said, sizeof(said), "%s%s%s", aim_reason(s), s ? ": " : "", s ? err.message : "");
    judge("JWS", f[1], f[2], f[3], s == AIM_OK, said, f[6]);

    /* The parser alone against convert.py's own reading of the shape. */
    shape_ok = aim_jws_parse(f[4], strlen(f[4]), &jws, &err) == AIM_OK;
    if (shape_ok) {
        aim_jws_clear(&jws);
    }
    if (shape_ok == (strcmp(f[5], "ok") == 0)) {
        passed++;
    } else {
        failed++;
        printf("FAIL [%s] JWS %s: aim_jws_parse %s, convert.py reads the shape as %s (%s)\n",
               suite, f[1], shape_ok ? "accepts" : "refuses", f[5], shape_ok ? "" : err.message);
    }
    if (strstr(f[6], "deliberate") != NULL) {
        printf("  deliberate [%s] JWS %s: aim_jws_parse %s it (%s)\n", suite, f[1],
               shape_ok ? "ACCEPTS" : "refuses", shape_ok ? "" : err.message);
    }
}

static void
do_json(char **f)
{
    int         jansson_ok;
    FILE      *fp = fopen(f[4], "rb");
    char      *buf;
    long       n;
    json_t    *j;
    aim_error  err;
    char       said[400];

    if (fp == NULL) {
        failed++;
        printf("FAIL [%s] %s: cannot read %s\n", suite, f[1], f[4]);
        return;
    }
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t) n + 1);
    if (fread(buf, 1, (size_t) n, fp) != (size_t) n) {
        n = 0;
    }
    fclose(fp);
    /* An exact-size copy, so ASan sees any read past the end. */
    {
        char *exact = malloc((size_t) (n > 0 ? n : 1));
        memcpy(exact, buf, (size_t) n);
        free(buf);
        buf = exact;
    }
    j = aim_json_parse_strict(buf, (size_t) n, AIM_MAX_JSON_DEPTH, &err);
    snprintf(said, sizeof(said), "%s%s", j ? "parsed" : "refused: ", j ? "" : err.message);
    judge("JSON", f[1], f[2], f[3], j != NULL, said, f[5]);
    jansson_ok = j != NULL;
    if (j != NULL) {
        char *c = aim_json_compact(j);     /* and it serialises back */
        free(c);
        json_decref(j);
    }
    /* The object entry point on the same bytes never crashes either. */
    j = aim_json_parse_object(buf, (size_t) n, "vector", &err);
    json_decref(j);
    /* The request-path parser (headers and claims) is judged the same. */
    {
        aim_jdoc   d;
        aim_status s = aim_jdoc_parse(&d, buf, (size_t) n, AIM_MAX_JSON_DEPTH,
                                      "vector", &err);

        snprintf(said, sizeof(said), "aim_jdoc: %s%s", s == AIM_OK ? "parsed" : "refused: ",
                 s == AIM_OK ? "" : err.message);
        judge("JSON", f[1], f[2], f[3], s == AIM_OK, said, f[5]);
        aim_jdoc_free(&d);
        /* ... and agrees with jansson on every file, i_ ones included. */
        s_cases++;
        if ((s == AIM_OK) == jansson_ok) {
            passed++;
            s_ok++;
        } else {
            failed++;
            printf("FAIL [%s] JSON %s: aim_jdoc %s, jansson %s\n", suite, f[1],
                   s == AIM_OK ? "parses it" : "refuses it",
                   jansson_ok ? "parses it" : "refuses it");
        }
    }
    free(buf);
}

static void
do_jwks(char **f)
{
    aim_error   err;
    aim_keyset *ks = aim_keyset_load(f[3], &err);
    int         want_load = strcmp(f[2], "load") == 0;
    size_t      count = (size_t) atoi(f[4]);
    int         ok = want_load ? ks != NULL && aim_keyset_count(ks) == count : ks == NULL;

    s_cases++;
    if (ok) {
        passed++;
        s_ok++;
    } else {
        failed++;
        printf("FAIL [%s] JWKS %s: want %s (%zu keys), got %s (%zu keys; %s)\n", suite,
               f[1], f[2], count, ks ? "loaded" : "refused", aim_keyset_count(ks),
               ks ? "" : err.message);
    }
    aim_keyset_free(ks);
}

int
main(int argc, char **argv)
{
    FILE  *fp;
    char  *line = NULL;
    size_t cap = 0;
    ssize_t len;

    if (argc != 2 || (fp = fopen(argv[1], "r")) == NULL) {
        fprintf(stderr, "usage: vectors FILE\n");
        return 2;
    }
    aim_set_clock(vec_clock);
    while ((len = getline(&line, &cap, fp)) > 0) {
        char *f[64];
        int   n;

        if (line[len - 1] == '\n') line[--len] = '\0';
        n = split(line, f, 64);
        if (strcmp(f[0], "SUITE") == 0) {
            suite_end();
            snprintf(suite, sizeof(suite), "%s", f[1]);
            clear_keys();
        } else if (strcmp(f[0], "MISSING") == 0) {
            failed++;
            printf("FAIL %s: not found in the vectors folder -- NOT TESTED\n", f[1]);
        } else if (strcmp(f[0], "KEY") == 0) {
            do_key(f, n);
        } else if (strcmp(f[0], "PEM") == 0 && n == 4) {
            do_pem(f);
        } else if (strcmp(f[0], "NOKEY") == 0) {
            clear_keys();
            snprintf(key_err, sizeof(key_err), "no key: %s", f[1]);
        } else if (strcmp(f[0], "SIG") == 0 && n == 7) {
            do_sig(f);
        } else if (strcmp(f[0], "JWS") == 0 && n == 7) {
            do_jws(f);
        } else if (strcmp(f[0], "JSON") == 0 && n == 6) {
            do_json(f);
        } else if (strcmp(f[0], "JWKS") == 0 && n == 6) {
            do_jwks(f);
        } else {
            fprintf(stderr, "vectors: bad line: %s\n", f[0]);
            return 2;
        }
    }
    suite_end();
    clear_keys();
    free(line);
    fclose(fp);
    printf("  %d cases deviate from their source's verdict, each listed above with "
           "the reason (see docs/vectors.md)\n", deviations);
    printf("vectors: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed == 0 ? 0 : 1;
}
