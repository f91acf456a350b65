/*
 * bench_verify.c -- the core benchmark (issues 2 and 13): verifications
 * per second per algorithm, cache off against `openssl speed` for the
 * same primitive and against that primitive timed in this process
 * (target: 0.90 of it), cache on, libjwt 1.10 on the same tokens, and
 * the cost of one cached aim_decide (target: a million a second).  The
 * in-process figures are this thread's CPU time (see now_s).
 *
 *   bench_verify [SECONDS]     (each measurement; default 1.5)
 *   bench_verify SECONDS ALG   only ALG's cold verification, for profilers
 *                              (perf record, valgrind --tool=callgrind)
 *
 * Every figure is the median of 3 runs (cold verification: of 7 runs
 * alternating with the bare primitive).  Misses are printed, not fatal:
 * the exit status is non-zero only when something fails to work (a token
 * that does not verify, openssl speed that cannot be run or parsed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <jansson.h>
#include <jwt.h>
#include "aim.h"
#include "jws.h"
#include "keys.h"
#include "sign.h"

#define NTOKENS        1000
#define RUNS           3
#define TARGET_COLD    0.85      /* of openssl speed (another process) */
#define TARGET_INPROC  0.90      /* of the same primitive in this process */
#define TARGET_CACHED  1000000.0
#define TARGET_LIBJWT  1.5

#define ISSUER    "https://issuer.bench.example"
#define AUDIENCE  "https://api.bench.example"

static double       seconds = 1.5;
static char         tmpdir[64];
static int          failures;

typedef struct {
    aim_alg      alg;
    const char  *speed_name;    /* the openssl speed primitive */
    double       openssl;       /* its verify/s, parsed from -mr output */
    double       cold, cached, libjwt;
    double       prim;          /* the same primitive in this process */
    double       prim_ratio;    /* cold / prim, median of alternating pairs */
    double       prim_over;     /* ns per verification beyond prim */
    int          with_libjwt;
    EVP_PKEY    *pkey;
    char        *pem;           /* public key PEM for libjwt */
    size_t       pem_len;
    char         jwks[128];
    char        *tokens[NTOKENS];
    size_t       token_len[NTOKENS];    /* as an adapter has it: no strlen */
    char        *jwt_tokens[NTOKENS];   /* the same with "typ":"JWT" */
    /* The bare primitive, as AIM's loaded key calls it: the key's prepared
     * verify context, a signature (DER for ECDSA) and the SHA-256/384
     * digest of tokens[0]'s signing input (EdDSA: the input itself). */
    aim_key      key;
    EVP_MD_CTX  *ed_ctx;
    unsigned char prim_sig[1024], prim_in[1024];
    size_t       prim_siglen, prim_inlen;
} bench_alg;

static bench_alg algs[] = {
    { .alg = AIM_ALG_ES256, .speed_name = "ecdsap256", .with_libjwt = 1 },
    { .alg = AIM_ALG_ES384, .speed_name = "ecdsap384" },
    { .alg = AIM_ALG_EDDSA, .speed_name = "ed25519" },
    { .alg = AIM_ALG_RS256, .speed_name = "rsa2048", .with_libjwt = 1 },
    { .alg = AIM_ALG_PS256, .speed_name = "rsa2048" },
};
#define NALGS (sizeof(algs) / sizeof(algs[0]))

/*
 * The clock of every in-process figure: this thread's CPU time, not the
 * wall clock, so that time the scheduler gives other work on a shared
 * machine (the usual noise: other jobs running) is not charged to what
 * is measured.  openssl speed, a separate process, reports its own.
 */
static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static _Noreturn void
die(const char *what, const char *detail)
{
    fprintf(stderr, "bench-core: %s: %s\n", what, detail);
    exit(1);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

/* Operations per second of fn over ~seconds.  fn does one operation on
 * its i-th input and returns 0, or -1 on failure. */
static double
measure_once(int (*fn)(void *ctx, size_t i), void *ctx)
{
    double  start = now_s(), el;
    size_t  n = 0, k;

    do {
        for (k = 0; k < 256; k++, n++) {     /* read the clock rarely */
            if (fn(ctx, n) != 0) {
                failures++;
                return 0;
            }
        }
        el = now_s() - start;
    } while (el < seconds);
    return (double) n / el;
}

static double
median(double *rates)
{
    qsort(rates, RUNS, sizeof(double), cmp_double);
    return rates[RUNS / 2];
}

/* The median of RUNS runs. */
static double
measure(int (*fn)(void *ctx, size_t i), void *ctx)
{
    double rates[RUNS];
    int    r;

    for (r = 0; r < RUNS; r++) {
        rates[r] = measure_once(fn, ctx);
    }
    return median(rates);
}

/*
 * Two operations measured in alternation (a, b, a, b, ...: PAIRS pairs of
 * half the usual time each), so both see the same machine when other
 * work comes and goes.  *ra, *rb: median rates; *ratio: the median of the
 * per-pair ratios b/a; *over: the median per-pair ns of b beyond a.
 */
#define PAIRS 7

static void
measure_pair(int (*fa)(void *, size_t), void *ca, double *ra,
             int (*fb)(void *, size_t), void *cb, double *rb,
             double *ratio, double *over)
{
    double a[PAIRS], b[PAIRS], q[PAIRS], d[PAIRS], keep = seconds;
    int    r;

    seconds = keep / 2;
    for (r = 0; r < PAIRS; r++) {
        a[r] = measure_once(fa, ca);
        b[r] = measure_once(fb, cb);
        q[r] = a[r] > 0 ? b[r] / a[r] : 0;
        d[r] = a[r] > 0 && b[r] > 0 ? 1e9 / b[r] - 1e9 / a[r] : 0;
    }
    seconds = keep;
    qsort(a, PAIRS, sizeof(double), cmp_double);
    qsort(b, PAIRS, sizeof(double), cmp_double);
    qsort(q, PAIRS, sizeof(double), cmp_double);
    qsort(d, PAIRS, sizeof(double), cmp_double);
    *ra = a[PAIRS / 2];
    *rb = b[PAIRS / 2];
    *ratio = q[PAIRS / 2];
    *over = d[PAIRS / 2];
}

/* ------------------------------------------------------------------ */
/* Set-up: keys, JWKS, PEM, tokens                                     */

/* The bare primitive's inputs, from tokens[0]; the key is loaded through
 * the core's own JWK path, so its context is the one AIM verifies with. */
static void
setup_primitive(bench_alg *a, json_t *jwk)
{
    const char    *tok = a->tokens[0];
    const char    *dot = strrchr(tok, '.');
    aim_jws        jws;
    aim_error      err;
    unsigned int   dlen = 0;
    size_t         flen;

    if (aim_key_from_jwk(jwk, &a->key, &err) != AIM_OK
        || aim_jws_parse(tok, strlen(tok), &jws, &err) != AIM_OK)
    {
        die("primitive", err.message);
    }
    json_decref(jwk);
    if (a->alg == AIM_ALG_EDDSA) {
        a->ed_ctx = EVP_MD_CTX_new();
        if (a->ed_ctx == NULL
            || EVP_DigestVerifyInit_ex(a->ed_ctx, NULL, NULL, NULL, NULL,
                                       a->key.pkey, NULL) != 1)
        {
            die("primitive", "EdDSA context");
        }
        a->prim_inlen = (size_t) (dot - tok);
        memcpy(a->prim_in, tok, a->prim_inlen);
        memcpy(a->prim_sig, jws.sig, jws.sig_len);
        a->prim_siglen = jws.sig_len;
        aim_jws_clear(&jws);
        return;
    }
    if (EVP_Digest(tok, (size_t) (dot - tok), a->prim_in, &dlen,
                   a->alg == AIM_ALG_ES384 ? EVP_sha384() : EVP_sha256(), NULL) != 1)
    {
        die("primitive", "digest");
    }
    a->prim_inlen = dlen;
    if (a->alg == AIM_ALG_ES256 || a->alg == AIM_ALG_ES384) {
        ECDSA_SIG     *es = ECDSA_SIG_new();
        unsigned char *p = a->prim_sig;
        int            n;

        flen = jws.sig_len / 2;
        if (es == NULL || ECDSA_SIG_set0(es, BN_bin2bn(jws.sig, (int) flen, NULL),
                                         BN_bin2bn(jws.sig + flen, (int) flen, NULL)) != 1
            || (n = i2d_ECDSA_SIG(es, &p)) <= 0)
        {
            die("primitive", "ECDSA signature");
        }
        a->prim_siglen = (size_t) n;
        ECDSA_SIG_free(es);
    } else {
        memcpy(a->prim_sig, jws.sig, jws.sig_len);
        a->prim_siglen = jws.sig_len;
    }
    aim_jws_clear(&jws);
}

static void
setup_alg(bench_alg *a)
{
    aim_error  err;
    json_t    *jwk, *jwks, *hdr, *jwt_hdr, *claims;
    BIO       *bio;
    char      *pem;
    long       len;
    int64_t    now = (int64_t) time(NULL);
    size_t     i;

    a->pkey = aim_privkey_generate(a->alg, 0, &err);
    if (a->pkey == NULL) {
        die("keygen", err.message);
    }
    jwk = aim_pubkey_to_jwk(a->pkey, a->alg, "bench-1", &err);
    if (jwk == NULL) {
        die("public JWK", err.message);
    }
    jwks = json_pack("{s:[O]}", "keys", jwk);
    snprintf(a->jwks, sizeof(a->jwks), "%s/%s.jwks", tmpdir, aim_alg_name(a->alg));
    if (jwks == NULL || json_dump_file(jwks, a->jwks, JSON_COMPACT) != 0) {
        die("write JWKS", a->jwks);
    }
    json_decref(jwks);

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio_PUBKEY(bio, a->pkey) != 1) {
        die("PEM", "cannot encode the public key");
    }
    len = BIO_get_mem_data(bio, &pem);
    a->pem = malloc((size_t) len + 1);
    if (a->pem == NULL) {
        die("PEM", "out of memory");
    }
    memcpy(a->pem, pem, (size_t) len);
    a->pem[len] = '\0';
    a->pem_len = (size_t) len;
    BIO_free(bio);

    hdr = json_pack("{s:s,s:s,s:s}", "alg", aim_alg_name(a->alg),
                    "typ", "aim+jwt", "kid", "bench-1");
    /* libjwt 1.10 refuses any typ but "JWT" (and AIM, by default, "JWT"). */
    jwt_hdr = json_pack("{s:s,s:s,s:s}", "alg", aim_alg_name(a->alg),
                        "typ", "JWT", "kid", "bench-1");
    for (i = 0; i < NTOKENS; i++) {
        char sub[32], jti[32];

        snprintf(sub, sizeof(sub), "agent-%zu", i);
        snprintf(jti, sizeof(jti), "jti-%s-%zu", aim_alg_name(a->alg), i);
        claims = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:s}",
                           "iss", ISSUER, "sub", sub, "aud", AUDIENCE,
                           "iat", (json_int_t) now, "exp", (json_int_t) (now + 3600),
                           "jti", jti, "owner", "alice@bench.example",
                           "scope", "kb:read kb:write");
        if (hdr == NULL || jwt_hdr == NULL || claims == NULL) {
            die("claims", "out of memory");
        }
        a->tokens[i] = aim_jws_sign(a->pkey, a->alg, hdr, claims, &err);
        if (a->tokens[i] == NULL) {
            die("sign", err.message);
        }
        a->token_len[i] = strlen(a->tokens[i]);
        if (a->with_libjwt) {
            a->jwt_tokens[i] = aim_jws_sign(a->pkey, a->alg, jwt_hdr, claims, &err);
            if (a->jwt_tokens[i] == NULL) {
                die("sign", err.message);
            }
        }
        json_decref(claims);
    }
    json_decref(hdr);
    json_decref(jwt_hdr);
    setup_primitive(a, jwk);
}

static aim_verifier *
make_verifier(const bench_alg *a, const char *cache)
{
    aim_config   *cfg = aim_config_new();
    aim_verifier *v;
    aim_error     err;

    if (cfg == NULL
        || aim_config_set(cfg, "keys", a->jwks, &err) != AIM_OK
        || aim_config_set(cfg, "issuer", ISSUER, &err) != AIM_OK
        || aim_config_set(cfg, "audience", AUDIENCE, &err) != AIM_OK
        || (cache != NULL && aim_config_set(cfg, "cache", cache, &err) != AIM_OK))
    {
        die("configuration", cfg == NULL ? "out of memory" : err.message);
    }
    v = aim_verifier_new(cfg, &err);
    if (v == NULL) {
        die("verifier", err.message);
    }
    aim_config_free(cfg);
    return v;
}

/* ------------------------------------------------------------------ */
/* The measured operations                                             */

typedef struct {
    aim_verifier *v;
    bench_alg    *a;
    size_t        ntokens;     /* 1: always the first token */
    aim_request  *req;
} run_ctx;

static int
op_verify(void *p, size_t i)
{
    run_ctx    *c = p;
    const char *tok = c->a->tokens[i % c->ntokens];
    aim_token  *t;
    aim_error   err;
    aim_status  s;

    s = aim_verify(c->v, tok, c->a->token_len[i % c->ntokens], &t, &err);
    if (s != AIM_OK) {
        fprintf(stderr, "bench-core: %s token refused: %s: %s\n",
                aim_alg_name(c->a->alg), aim_reason(s), err.message);
        return -1;
    }
    aim_token_free(t);
    return 0;
}

/* What `openssl speed` times: one verification with a prepared context
 * (EdDSA: a copy of a prepared one, as the context is one-shot). */
static int
op_primitive(void *p, size_t i)
{
    bench_alg  *a = ((run_ctx *) p)->a;
    EVP_MD_CTX *m;
    int         rc;

    (void) i;
    if (a->alg == AIM_ALG_EDDSA) {
        m = EVP_MD_CTX_new();
        rc = m != NULL && EVP_MD_CTX_copy_ex(m, a->ed_ctx) == 1
             && EVP_DigestVerify(m, a->prim_sig, a->prim_siglen, a->prim_in,
                                 a->prim_inlen) == 1;
        EVP_MD_CTX_free(m);
    } else {
        rc = EVP_PKEY_verify(a->key.vctx, a->prim_sig, a->prim_siglen,
                             a->prim_in, a->prim_inlen) == 1;
    }
    if (!rc) {
        fprintf(stderr, "bench-core: %s primitive does not verify\n",
                aim_alg_name(a->alg));
        return -1;
    }
    return 0;
}

static int
op_decide(void *p, size_t i)
{
    run_ctx    *c = p;
    const char *tok = c->a->tokens[i % c->ntokens];
    aim_request  r = *c->req;
    aim_decision d;
    aim_status   s;

    r.token = tok;
    r.token_len = c->a->token_len[i % c->ntokens];
    s = aim_decide(c->v, &r, &d);
    if (s != AIM_OK) {
        fprintf(stderr, "bench-core: decision refused: %s: %s\n",
                aim_reason(s), d.message);
        aim_decision_clear(&d);
        return -1;
    }
    aim_decision_clear(&d);
    return 0;
}

/*
 * libjwt 1.10: jwt_decode() parses and checks the signature with the PEM
 * key (which it parses again on every call -- its API takes no key
 * object); it checks no claim, so the caller does what a service must.
 */
static int
op_libjwt(void *p, size_t i)
{
    run_ctx    *c = p;
    const char *tok = c->a->jwt_tokens[i % c->ntokens];
    const char *iss, *aud, *sub;
    jwt_t      *jwt = NULL;
    long        exp;
    int         rc;

    rc = jwt_decode(&jwt, tok, (const unsigned char *) c->a->pem,
                    (int) c->a->pem_len);
    if (rc != 0 || jwt == NULL) {
        fprintf(stderr, "bench-core: libjwt refused a %s token: %s\n",
                aim_alg_name(c->a->alg), strerror(rc));
        return -1;
    }
    iss = jwt_get_grant(jwt, "iss");
    aud = jwt_get_grant(jwt, "aud");
    sub = jwt_get_grant(jwt, "sub");
    exp = jwt_get_grant_int(jwt, "exp");
    rc = iss != NULL && strcmp(iss, ISSUER) == 0 && aud != NULL
         && strcmp(aud, AUDIENCE) == 0 && sub != NULL && exp > (long) time(NULL);
    jwt_free(jwt);
    if (!rc) {
        fprintf(stderr, "bench-core: libjwt: claims do not check\n");
        return -1;
    }
    return 0;
}

/* The audit sink: looks at the line (so it is really built) and drops it. */
typedef struct {
    size_t bytes, lines;
} audit_count;

static void
discard_audit(void *ud, const char *line)
{
    audit_count *n = ud;

    n->bytes += strlen(line);
    n->lines++;
}

/* ------------------------------------------------------------------ */
/* openssl speed, same run                                             */

static void
run_openssl_speed(void)
{
    char   cmd[256], line[512];
    FILE  *f;
    int    secs = seconds < 1.5 ? 1 : 2;
    double p256 = 0, p384 = 0, ed = 0, rsa = 0;
    size_t i;

    snprintf(cmd, sizeof(cmd), "openssl speed -seconds %d -mr ecdsap256 "
             "ecdsap384 ed25519 rsa2048 2>/dev/null", secs);
    printf("running: %s\n", cmd);
    fflush(stdout);
    f = popen(cmd, "r");
    if (f == NULL) {
        die("openssl speed", strerror(errno));
    }
    /*
     * -mr final lines:  +F2:idx:bits:sign/s:verify/s      (RSA)
     *                   +F4:idx:bits:sign/s:verify/s      (ECDSA)
     *                   +F6:idx:bits:name:sign/s:verify/s (EdDSA)
     */
    while (fgets(line, sizeof(line), f) != NULL) {
        int    idx, bits;
        double sg, vf;
        char   name[32];

        if (sscanf(line, "+F2:%d:%d:%lf:%lf", &idx, &bits, &sg, &vf) == 4
            && bits == 2048)
        {
            rsa = vf;
        } else if (sscanf(line, "+F4:%d:%d:%lf:%lf", &idx, &bits, &sg, &vf) == 4) {
            if (bits == 256) p256 = vf;
            if (bits == 384) p384 = vf;
        } else if (sscanf(line, "+F6:%d:%d:%31[^:]:%lf:%lf", &idx, &bits, name,
                          &sg, &vf) == 5 && strcmp(name, "Ed25519") == 0)
        {
            ed = vf;
        }
    }
    if (pclose(f) != 0 || p256 == 0 || p384 == 0 || ed == 0 || rsa == 0) {
        die("openssl speed", "did not run or its -mr output was not understood");
    }
    for (i = 0; i < NALGS; i++) {
        const char *n = algs[i].speed_name;

        algs[i].openssl = strcmp(n, "ecdsap256") == 0 ? p256
                          : strcmp(n, "ecdsap384") == 0 ? p384
                          : strcmp(n, "ed25519") == 0 ? ed : rsa;
    }
}

/* ------------------------------------------------------------------ */

static void
print_load(const char *when)
{
    char  line[128];
    FILE *f = fopen("/proc/loadavg", "r");

    if (f != NULL) {
        if (fgets(line, sizeof(line), f) != NULL) {
            printf("load average %s (other work shares these CPUs): %s", when, line);
        }
        fclose(f);
    }
}

static void
print_machine(void)
{
    char  line[256], model[128] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    FILE *p;
    char  jwtver[64] = "unknown";

    if (f != NULL) {
        while (fgets(line, sizeof(line), f) != NULL) {
            char *c = strchr(line, ':');

            if (strncmp(line, "model name", 10) == 0 && c != NULL) {
                snprintf(model, sizeof(model), "%s", c + 2);
                model[strcspn(model, "\n")] = '\0';
                break;
            }
        }
        fclose(f);
    }
    p = popen("dpkg-query -W -f='${Version}' libjwt0 2>/dev/null", "r");
    if (p != NULL) {
        if (fgets(jwtver, sizeof(jwtver), p) == NULL) {
            snprintf(jwtver, sizeof(jwtver), "unknown");
        }
        pclose(p);
    }
    printf("machine: %ld CPUs online, %s\n", sysconf(_SC_NPROCESSORS_ONLN), model);
    print_load("at start");
    printf("OpenSSL: %s; libjwt (Debian libjwt0): %s; libaim %s\n",
           OpenSSL_version(OPENSSL_VERSION), jwtver, AIM_VERSION);
    printf("each figure: median of %d runs of %.1f s of this thread's CPU time (cold: "
           "of %d alternating\npairs of %.2f s), one thread, not pinned; cold = %d "
           "distinct tokens cycled, cache off\n\n", RUNS, seconds, PAIRS, seconds / 2,
           NTOKENS);
}

static const char *
verdict(double ratio, double target)
{
    return ratio >= target ? "PASS" : "MISS";
}

int
main(int argc, char **argv)
{
    size_t      i;
    audit_count audit = { 0, 0 };
    double decide_rate, verify_cached;
    int    misses = 0;

    if (argc > 1) {
        seconds = strtod(argv[1], NULL);
        if (seconds <= 0 || seconds > 60 || argc > 3) {
            die("usage", "bench_verify [SECONDS per measurement, 0-60] [ALG]");
        }
    }
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/aim-bench-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        die("mkdtemp", strerror(errno));
    }
    if (argc == 3) {
        run_ctx c;

        for (i = 0; i < NALGS; i++) {
            if (strcmp(argv[2], aim_alg_name(algs[i].alg)) == 0) break;
        }
        if (i == NALGS) {
            die("usage", "ALG is one of ES256 ES384 EdDSA RS256 PS256");
        }
        setup_alg(&algs[i]);
        memset(&c, 0, sizeof(c));
        c.a = &algs[i];
        c.ntokens = NTOKENS;
        c.v = make_verifier(c.a, "0");
        printf("%s cold: %.0f verifications/s\n", argv[2], measure(op_verify, &c));
        aim_verifier_free(c.v);
        unlink(algs[i].jwks);
        rmdir(tmpdir);
        return failures > 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("== bench-core: AIM core verification\n");
    print_machine();

    for (i = 0; i < NALGS; i++) {
        setup_alg(&algs[i]);
    }
    run_openssl_speed();

    for (i = 0; i < NALGS; i++) {
        bench_alg    *a = &algs[i];
        run_ctx       c;

        printf("measuring %s ...\n", aim_alg_name(a->alg));
        memset(&c, 0, sizeof(c));
        c.a = a;
        c.ntokens = NTOKENS;
        c.v = make_verifier(a, "0");
        measure_pair(op_primitive, &c, &a->prim, op_verify, &c, &a->cold,
                     &a->prim_ratio, &a->prim_over);
        aim_verifier_free(c.v);

        c.ntokens = 1;
        c.v = make_verifier(a, NULL);
        a->cached = measure(op_verify, &c);
        aim_verifier_free(c.v);

        if (a->with_libjwt) {
            c.ntokens = NTOKENS;
            a->libjwt = measure(op_libjwt, &c);
        }
    }

    /* One cached decision: verify (hit) + authorize + audit line. */
    {
        static const char *const scopes[] = { "kb:read" };
        aim_request req = { .adapter = "bench", .action = "GET",
                            .resource = "/kb/42", .client = "127.0.0.1",
                            .scopes = scopes, .nscopes = 1 };
        run_ctx     c;

        memset(&c, 0, sizeof(c));
        c.a = &algs[0];
        c.ntokens = 1;
        c.req = &req;
        c.v = make_verifier(c.a, NULL);
        aim_verifier_set_audit(c.v, discard_audit, &audit);
        verify_cached = measure(op_verify, &c);
        decide_rate = measure(op_decide, &c);
        aim_verifier_free(c.v);
    }

    if (failures > 0) {
        fprintf(stderr, "bench-core: %d measurement(s) failed\n", failures);
        return 1;
    }

    printf("\nVerifications per second, cache off (%d distinct tokens cycled) "
           "against `openssl speed` (target >= %.2f of it)\nand against the "
           "same primitive in this process (target >= %.2f of it)\n", NTOKENS,
           TARGET_COLD, TARGET_INPROC);
    printf("%-6s %11s %-10s %11s %6s %-5s | %11s %6s %-5s %9s\n", "alg",
           "aim cold/s", "primitive", "openssl/s", "ratio", "", "in-proc/s",
           "ratio", "", "overhead");
    for (i = 0; i < NALGS; i++) {
        const bench_alg *a = &algs[i];
        double ratio = a->cold / a->openssl;

        misses += ratio < TARGET_COLD;
        misses += a->prim_ratio < TARGET_INPROC;
        printf("%-6s %11.0f %-10s %11.0f %6.3f %-5s | %11.0f %6.3f %-5s %6.0f ns\n",
               aim_alg_name(a->alg), a->cold, a->speed_name, a->openssl, ratio,
               verdict(ratio, TARGET_COLD), a->prim, a->prim_ratio,
               verdict(a->prim_ratio, TARGET_INPROC), a->prim_over);
    }
    printf("in-proc = the same primitive timed in this process (prepared context, "
           "pre-hashed input,\nas openssl speed does), in %d pairs of %.2f s "
           "runs alternating with the aim runs;\nratio and overhead (ns per aim "
           "verification beyond the primitive: parsing, hashing\nthe signing "
           "input, claims, allocation) are medians over the pairs.  On a shared "
           "machine\nthis control is steadier than the openssl speed ratio, "
           "which compares different moments.\n", PAIRS, seconds / 2);

    printf("\nVerifications per second, cache on (one token, default cache; "
           "target >= 1,000,000/s)\n");
    printf("%-6s %11s %-5s\n", "alg", "cached/s", "");
    for (i = 0; i < NALGS; i++) {
        const bench_alg *a = &algs[i];

        misses += a->cached < TARGET_CACHED;
        printf("%-6s %11.0f %-5s\n", aim_alg_name(a->alg), a->cached,
               verdict(a->cached, TARGET_CACHED));
    }

    printf("\nAgainst libjwt 1.10 (jwt_decode with the PEM key + iss/aud/sub/exp "
           "checks), same tokens, cache off\n");
    printf("%-6s %12s %12s %7s %7s %-5s\n", "alg", "aim cold/s", "libjwt/s",
           "ratio", "target", "");
    for (i = 0; i < NALGS; i++) {
        const bench_alg *a = &algs[i];

        if (!a->with_libjwt) {
            continue;
        }
        misses += a->cold / a->libjwt < TARGET_LIBJWT;
        printf("%-6s %12.0f %12.0f %7.2f %7s %-5s\n", aim_alg_name(a->alg),
               a->cold, a->libjwt, a->cold / a->libjwt, ">=1.5",
               verdict(a->cold / a->libjwt, TARGET_LIBJWT));
    }

    printf("\nCached decision (ES256; aim_decide = verify hit + authorize + audit "
           "line to a discarding sink)\n");
    printf("  aim_verify (hit)  %10.0f /s  %7.1f ns\n", verify_cached,
           1e9 / verify_cached);
    misses += decide_rate < TARGET_CACHED;
    printf("  aim_decide        %10.0f /s  %7.1f ns  (audit line ~%zu bytes)  %s "
           "(target >= 1,000,000/s)\n", decide_rate, 1e9 / decide_rate,
           audit.lines > 0 ? audit.bytes / audit.lines : (size_t) 0,
           verdict(decide_rate, TARGET_CACHED));
    printf("\n");
    print_load("at end");
    printf("bench-core: %d target(s) missed\n", misses);

    for (i = 0; i < NALGS; i++) {
        size_t k;

        for (k = 0; k < NTOKENS; k++) {
            free(algs[i].tokens[k]);
            free(algs[i].jwt_tokens[k]);
        }
        free(algs[i].pem);
        EVP_PKEY_free(algs[i].pkey);
        aim_key_clear(&algs[i].key);
        EVP_MD_CTX_free(algs[i].ed_ctx);
        unlink(algs[i].jwks);
    }
    rmdir(tmpdir);
    return 0;
}
