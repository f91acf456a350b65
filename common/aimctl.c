/*
 * aimctl.c -- the AIM command-line tool.
 *
 *   aimctl keygen      make a private signing key (PEM, mode 0600)
 *   aimctl jwks        the public JWKS of private keys
 *   aimctl thumbprint  the RFC 7638 thumbprint of a key (cnf.jkt)
 *   aimctl issue       sign an agent token: the development issuer
 *   aimctl dpop        sign a DPoP proof (RFC 9449)
 *   aimctl verify      verify a token through libaim's decision path
 *   aimctl inspect     decode a token without verifying it
 *
 * verify goes through the public API (aim.h) only, exactly as an adapter
 * does.  The issuing commands use the development signer (sign.h): real
 * deployments sign with their IdP.  Private key material is only ever
 * written to keygen's --out file, never to standard output or errors.
 *
 * Exit status: 0 success (valid), 1 rejected or failed, 2 usage or
 * configuration error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "aim.h"
#include "b64.h"
#include "keys.h"
#include "sign.h"

#define EXIT_OK       0
#define EXIT_REJECTED 1
#define EXIT_USAGE    2

#define AIMCTL_MAX_INPUT     (1024 * 1024)    /* token / proof read from stdin */
#define MAX_KID_LEN   256
#define MAX_LIST      64               /* repeated options */

/* Key files may carry these lines after the PEM block (keygen writes
 * them): OpenSSL and RFC 7468 ignore text outside the boundaries. */
#define META_ALG      "aimctl-alg: "
#define META_KID      "aimctl-kid: "

static const char *cmd = "aimctl";     /* "aimctl issue" in messages */
static char        cmdbuf[64];

static void usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", cmd);
    exit(EXIT_USAGE);
}

static void fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void
fail(int code, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}

static void
warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
warn(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: warning: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void *
xmalloc(size_t n)
{
    void *p = malloc(n != 0 ? n : 1);

    if (p == NULL) {
        fail(EXIT_REJECTED, "out of memory");
    }
    return p;
}

/* ------------------------------------------------------------------ */
/* Option parsing                                                      */

/*
 * getopt_long with our own messages.  Returns the option's value or -1
 * at the end; unknown options and missing arguments are usage errors.
 */
static int
next_opt(int argc, char **argv, const struct option *opts)
{
    int c = getopt_long(argc, argv, ":h", opts, NULL);

    if (c == '?') {
        if (optopt != 0 && optopt != '?') {
            usage_error("unknown option '-%c'", optopt);
        }
        usage_error("unknown option '%s'", argv[optind - 1]);
    }
    if (c == ':') {
        usage_error("option '%s' needs a value", argv[optind - 1]);
    }
    return c;
}

static int64_t
parse_int(const char *opt, const char *s, int64_t min, int64_t max)
{
    char      *end;
    long long  n;

    errno = 0;
    n = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || n < min || n > max) {
        usage_error("%s: \"%.64s\" is not a whole number from %lld to %lld",
                    opt, s, (long long) min, (long long) max);
    }
    return n;
}

static aim_alg
parse_alg(const char *opt, const char *s)
{
    aim_alg alg = aim_alg_from_name(s);

    if (alg == AIM_ALG_NONE) {
        usage_error("%s: \"%.32s\" is not one of ES256 ES384 EdDSA RS256 PS256",
                    opt, s);
    }
    return alg;
}

/* An identifier given on the command line: 1..max bytes, no controls. */
static const char *
check_id(const char *opt, const char *s, size_t max)
{
    size_t i, len = strlen(s);

    if (len == 0 || len > max) {
        usage_error("%s: must be 1 to %zu bytes", opt, max);
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            usage_error("%s: control characters are not allowed", opt);
        }
    }
    return s;
}

typedef struct {
    const char *v[MAX_LIST];
    size_t      n;
} strlist;

static void
list_add(strlist *l, const char *opt, const char *s)
{
    if (l->n == MAX_LIST) {
        usage_error("%s: given more than %d times", opt, MAX_LIST);
    }
    l->v[l->n++] = s;
}

/* ------------------------------------------------------------------ */
/* Input                                                               */

/* The argument itself, or standard input for "-" with one trailing
 * newline removed.  NUL-terminated, malloc()ed. */
static char *
read_arg(const char *arg, const char *what, size_t *len)
{
    char   *buf;
    size_t  n = 0, got;

    if (strcmp(arg, "-") != 0) {
        *len = strlen(arg);
        buf = xmalloc(*len + 1);
        memcpy(buf, arg, *len + 1);
        return buf;
    }
    buf = xmalloc(AIMCTL_MAX_INPUT + 1);
    while ((got = fread(buf + n, 1, AIMCTL_MAX_INPUT + 1 - n, stdin)) > 0) {
        n += got;
        if (n > AIMCTL_MAX_INPUT) {
            fail(EXIT_USAGE, "%s on standard input is larger than %d bytes",
                 what, AIMCTL_MAX_INPUT);
        }
    }
    if (ferror(stdin)) {
        fail(EXIT_USAGE, "cannot read %s from standard input: %s", what,
             strerror(errno));
    }
    if (n > 0 && buf[n - 1] == '\n') {
        n--;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* ------------------------------------------------------------------ */
/* Private keys                                                        */

typedef struct {
    const char *path;
    EVP_PKEY   *pkey;
    aim_alg     alg;
    char        kid[MAX_KID_LEN + 1];
    char        jkt[44];            /* RFC 7638 thumbprint */
} signer;

/* The aimctl-alg / aimctl-kid lines of a key file, if any. */
static void
read_meta(const char *path, aim_alg *alg, char *kid, size_t kidsize)
{
    FILE   *fp;
    char    line[512];
    size_t  len;

    *alg = AIM_ALG_NONE;
    kid[0] = '\0';
    fp = fopen(path, "re");
    if (fp == NULL) {
        return;
    }
    /* Unbuffered: no copy of the key stays behind in a stdio buffer. */
    setvbuf(fp, NULL, _IONBF, 0);
    while (fgets(line, sizeof(line), fp) != NULL) {
        len = strcspn(line, "\r\n");
        line[len] = '\0';
        if (strncmp(line, META_ALG, strlen(META_ALG)) == 0) {
            *alg = aim_alg_from_name(line + strlen(META_ALG));
        } else if (strncmp(line, META_KID, strlen(META_KID)) == 0
                   && len - strlen(META_KID) < kidsize)
        {
            memcpy(kid, line + strlen(META_KID), len - strlen(META_KID) + 1);
        }
    }
    OPENSSL_cleanse(line, sizeof(line));
    fclose(fp);
}

static const char *
key_description(EVP_PKEY *pkey)
{
    switch (aim_key_default_alg(pkey, AIM_ALG_NONE)) {
    case AIM_ALG_ES256: return "an EC P-256 key (ES256)";
    case AIM_ALG_ES384: return "an EC P-384 key (ES384)";
    case AIM_ALG_EDDSA: return "an Ed25519 key (EdDSA)";
    case AIM_ALG_RS256: return "an RSA key (RS256 or PS256)";
    default:            return "an unsupported key";
    }
}

/*
 * Load a private key and decide its algorithm and kid: the command line
 * first, then what keygen recorded in the file, then the defaults (the
 * key's type; the RFC 7638 thumbprint).
 */
static void
signer_load(signer *s, const char *path, aim_alg alg, int rsa_only,
            const char *kid)
{
    aim_error    err;
    aim_alg      meta_alg;
    char         meta_kid[MAX_KID_LEN + 1];
    struct stat  st;
    json_t      *jwk;

    memset(s, 0, sizeof(*s));
    s->path = path;
    s->pkey = aim_privkey_load(path, &err);
    if (s->pkey == NULL) {
        fail(EXIT_USAGE, "%s", err.message);
    }
    if (stat(path, &st) == 0 && (st.st_mode & 077) != 0) {
        warn("private key \"%s\" is accessible by group or others "
             "(chmod 600 it)", path);
    }
    read_meta(path, &meta_alg, meta_kid, sizeof(meta_kid));

    if (rsa_only && aim_key_default_alg(s->pkey, AIM_ALG_NONE) != AIM_ALG_RS256) {
        alg = AIM_ALG_NONE;
    }
    if (alg == AIM_ALG_NONE) {
        alg = meta_alg;
    }
    if (alg == AIM_ALG_NONE) {
        alg = aim_key_default_alg(s->pkey, AIM_ALG_NONE);
    }
    if (aim_key_default_alg(s->pkey, alg) != alg) {
        fail(EXIT_USAGE, "algorithm %s does not fit \"%s\", %s", aim_alg_name(alg),
             path, key_description(s->pkey));
    }
    s->alg = alg;

    jwk = aim_pubkey_to_jwk(s->pkey, alg, NULL, &err);
    if (jwk == NULL) {
        fail(EXIT_REJECTED, "\"%s\": %s", path, err.message);
    }
    snprintf(s->jkt, sizeof(s->jkt), "%s",
             json_string_value(json_object_get(jwk, "kid")));
    json_decref(jwk);

    if (kid == NULL && meta_kid[0] != '\0') {
        kid = meta_kid;
    }
    snprintf(s->kid, sizeof(s->kid), "%s", kid != NULL ? kid : s->jkt);
}

static void
signer_clear(signer *s)
{
    EVP_PKEY_free(s->pkey);
    memset(s, 0, sizeof(*s));
}

/* The public JWK with only the members RFC 7638 hashes (for DPoP). */
static json_t *
signer_bare_jwk(const signer *s)
{
    static const char *const members[] = { "kty", "crv", "x", "y", "n", "e", NULL };
    aim_error  err;
    json_t    *full, *bare;
    size_t     i;

    full = aim_pubkey_to_jwk(s->pkey, s->alg, NULL, &err);
    if (full == NULL) {
        fail(EXIT_REJECTED, "\"%s\": %s", s->path, err.message);
    }
    bare = json_object();
    for (i = 0; members[i] != NULL; i++) {
        json_t *v = json_object_get(full, members[i]);
        if (v != NULL) {
            json_object_set(bare, members[i], v);
        }
    }
    json_decref(full);
    return bare;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */

static void
print_json(const json_t *v, size_t flags)
{
    char *s = json_dumps(v, flags | JSON_ENSURE_ASCII);

    if (s == NULL) {
        fail(EXIT_REJECTED, "out of memory");
    }
    puts(s);
    free(s);
}

static void
flush_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fail(EXIT_REJECTED, "cannot write to standard output: %s",
             strerror(errno));
    }
}

/* "v" parsed as JSON if it is JSON, else the string itself. */
static json_t *
json_or_string(const char *v)
{
    json_t *j = json_loads(v, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

    return j != NULL ? j : json_string(v);
}

/* "k=v" into obj; opt names the option in errors. */
static void
set_pair(json_t *obj, const char *opt, const char *pair)
{
    const char *eq = strchr(pair, '=');
    char       *name;
    json_t     *v;

    if (eq == NULL || eq == pair) {
        usage_error("%s: expected NAME=VALUE, got \"%.64s\"", opt, pair);
    }
    name = xmalloc((size_t) (eq - pair) + 1);
    memcpy(name, pair, (size_t) (eq - pair));
    name[eq - pair] = '\0';
    v = json_or_string(eq + 1);
    if (v == NULL || json_object_set_new(obj, name, v) != 0) {
        usage_error("%s: \"%.64s\" is not valid UTF-8", opt, pair);
    }
    free(name);
}

/* obj[name] = a string the user gave; invalid UTF-8 is a usage error. */
static void
jset_str(json_t *obj, const char *name, const char *value, const char *opt)
{
    if (json_object_set_new(obj, name, json_string(value)) != 0) {
        usage_error("%s: \"%.64s\" is not valid UTF-8", opt, value);
    }
}

static void
random_id(char out[23])
{
    unsigned char r[16];

    if (RAND_bytes(r, sizeof(r)) != 1) {
        fail(EXIT_REJECTED, "no randomness available");
    }
    aim_b64url_encode(r, sizeof(r), out);
}

/* ------------------------------------------------------------------ */
/* keygen                                                              */

static const char keygen_usage[] =
"Usage: aimctl keygen --alg ES256|ES384|EdDSA|RS256|PS256 --out PRIVATE\n"
"                     [--kid KID] [--bits N] [--force]\n"
"\n"
"Make a private signing key and write it to PRIVATE as PKCS#8 PEM, mode\n"
"0600.  The file also records the algorithm and, with --kid, the key id\n"
"(as 'aimctl-alg:' / 'aimctl-kid:' lines after the PEM block), so that\n"
"'jwks', 'issue' and 'dpop' use them; without --kid the key id is the\n"
"key's RFC 7638 thumbprint.  Prints the public JWK on standard output.\n"
"\n"
"  --alg ALG     ES256 (P-256), ES384 (P-384), EdDSA (Ed25519),\n"
"                RS256 or PS256 (RSA)\n"
"  --out FILE    where to write the private key\n"
"  --kid KID     key id to record (default: the thumbprint)\n"
"  --bits N      RSA modulus size, 2048 to 8192 (default 2048)\n"
"  --force       replace FILE if it exists\n";

static int
cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        { "alg",   required_argument, NULL, 'a' },
        { "out",   required_argument, NULL, 'o' },
        { "kid",   required_argument, NULL, 'k' },
        { "bits",  required_argument, NULL, 'b' },
        { "force", no_argument,       NULL, 'f' },
        { "help",  no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    aim_alg      alg = AIM_ALG_NONE;
    const char  *out = NULL, *kid = NULL;
    int          bits = 0, force = 0, c, fd;
    struct stat  st;
    EVP_PKEY    *pkey;
    aim_error    err;
    json_t      *jwk;
    char         meta[64 + MAX_KID_LEN];
    size_t       mlen;

    while ((c = next_opt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'a': alg = parse_alg("--alg", optarg); break;
        case 'o': out = optarg; break;
        case 'k': kid = check_id("--kid", optarg, MAX_KID_LEN); break;
        case 'b': bits = (int) parse_int("--bits", optarg, 2048, 8192); break;
        case 'f': force = 1; break;
        case 'h': fputs(keygen_usage, stdout); return EXIT_OK;
        }
    }
    if (optind < argc) {
        usage_error("unexpected argument \"%.64s\"", argv[optind]);
    }
    if (alg == AIM_ALG_NONE) {
        usage_error("--alg is required (ES256 ES384 EdDSA RS256 PS256)");
    }
    if (out == NULL) {
        usage_error("--out is required");
    }
    if (bits != 0 && alg != AIM_ALG_RS256 && alg != AIM_ALG_PS256) {
        usage_error("--bits only applies to RSA keys (RS256, PS256)");
    }
    if (!force && lstat(out, &st) == 0) {
        fail(EXIT_USAGE, "\"%s\" exists; not overwriting a key without --force",
             out);
    }

    pkey = aim_privkey_generate(alg, bits, &err);
    if (pkey == NULL) {
        fail(EXIT_REJECTED, "%s", err.message);
    }
    jwk = aim_pubkey_to_jwk(pkey, alg, kid, &err);
    if (jwk == NULL) {
        fail(EXIT_REJECTED, "%s", err.message);
    }
    if (aim_privkey_save(pkey, out, &err) != AIM_OK) {
        fail(EXIT_REJECTED, "%s", err.message);
    }
    EVP_PKEY_free(pkey);

    mlen = (size_t) snprintf(meta, sizeof(meta), META_ALG "%s\n%s%s%s",
                             aim_alg_name(alg), kid != NULL ? META_KID : "",
                             kid != NULL ? kid : "", kid != NULL ? "\n" : "");
    fd = open(out, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || write(fd, meta, mlen) != (ssize_t) mlen || close(fd) != 0) {
        int saved = errno;
        unlink(out);
        fail(EXIT_REJECTED, "cannot write \"%s\": %s", out, strerror(saved));
    }

    print_json(jwk, JSON_COMPACT);
    json_decref(jwk);
    flush_stdout();
    return EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* jwks, thumbprint                                                    */

static const char jwks_usage[] =
"Usage: aimctl jwks [--alg RS256|PS256] PRIVATE[:KID]...\n"
"\n"
"Print the public JWKS ({\"keys\":[...]}) of one or more private keys, for\n"
"a verifier's 'keys' option.  Every key carries \"kid\", \"alg\" and \"use\":\n"
"the verifier pins each key to its \"alg\".  The kid is KID when given,\n"
"else the one keygen recorded, else the RFC 7638 thumbprint.  An RSA key's\n"
"algorithm is --alg when given, else the one keygen recorded, else RS256.\n"
"No private key material is ever printed.\n";

static int
cmd_jwks(int argc, char **argv)
{
    static const struct option opts[] = {
        { "alg",  required_argument, NULL, 'a' },
        { "help", no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    aim_alg     rsa_alg = AIM_ALG_NONE;
    int         c, i, j;
    json_t     *doc, *keys, *jwk;
    aim_error   err;

    while ((c = next_opt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'a':
            rsa_alg = parse_alg("--alg", optarg);
            if (rsa_alg != AIM_ALG_RS256 && rsa_alg != AIM_ALG_PS256) {
                usage_error("--alg: only RSA keys have a choice (RS256, PS256)");
            }
            break;
        case 'h': fputs(jwks_usage, stdout); return EXIT_OK;
        }
    }
    if (optind == argc) {
        usage_error("no private key file given");
    }

    doc = json_object();
    keys = json_array();
    json_object_set_new(doc, "keys", keys);
    for (i = optind; i < argc; i++) {
        char       *path = argv[i], *kid = NULL, *colon;
        signer      s;
        struct stat st;
        char       *base = strrchr(path, '/');

        /* FILE:KID (the first colon of the last path component), unless
         * FILE itself, colon and all, exists. */
        if (stat(path, &st) != 0
            && (colon = strchr(base != NULL ? base : path, ':')) != NULL)
        {
            *colon = '\0';
            kid = (char *) check_id("kid", colon + 1, MAX_KID_LEN);
        }
        signer_load(&s, path, rsa_alg, 1, kid);
        jwk = aim_pubkey_to_jwk(s.pkey, s.alg, s.kid, &err);
        if (jwk == NULL) {
            fail(EXIT_REJECTED, "\"%s\": %s", path, err.message);
        }
        for (j = 0; j < (int) json_array_size(keys); j++) {
            if (strcmp(json_string_value(json_object_get(json_array_get(keys, (size_t) j),
                                                         "kid")), s.kid) == 0)
            {
                fail(EXIT_USAGE, "\"%s\": kid \"%s\" is already used by another "
                     "key (give PRIVATE:KID)", path, s.kid);
            }
        }
        json_array_append_new(keys, jwk);
        signer_clear(&s);
    }
    print_json(doc, JSON_INDENT(2));
    json_decref(doc);
    flush_stdout();
    return EXIT_OK;
}

static const char thumbprint_usage[] =
"Usage: aimctl thumbprint PRIVATE\n"
"\n"
"Print the RFC 7638 SHA-256 thumbprint (base64url) of the public half of\n"
"a private key: the value of a token's cnf.jkt for DPoP-bound tokens, and\n"
"the default kid.\n";

static int
cmd_thumbprint(int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    signer s;
    int    c;

    while ((c = next_opt(argc, argv, opts)) != -1) {
        if (c == 'h') {
            fputs(thumbprint_usage, stdout);
            return EXIT_OK;
        }
    }
    if (optind + 1 != argc) {
        usage_error(optind == argc ? "no private key file given"
                                   : "exactly one private key file, please");
    }
    signer_load(&s, argv[optind], AIM_ALG_NONE, 0, NULL);
    puts(s.jkt);
    signer_clear(&s);
    flush_stdout();
    return EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* issue                                                               */

static const char issue_usage[] =
"Usage: aimctl issue --key PRIVATE --iss ISSUER --sub AGENT --aud AUDIENCE\n"
"                    [--scope \"S1 S2\"] [--ttl SECONDS] [--owner OWNER]\n"
"                    [--act ACTOR]... [--cnf-jkt JKT] [--claim NAME=VALUE]...\n"
"                    [--iat EPOCH] [--exp EPOCH] [--nbf EPOCH] [--jti ID]\n"
"                    [--kid KID] [--alg ALG] [--typ TYP]\n"
"                    [--header NAME=VALUE]... [--omit NAME]...\n"
"\n"
"Sign an agent token (a compact JWS, typ aim+jwt) and print it.  This is a\n"
"development issuer for demos and tests; real deployments use their IdP.\n"
"\n"
"  --key FILE        private key (from 'aimctl keygen')\n"
"  --iss ISSUER      \"iss\"\n"
"  --sub AGENT       \"sub\": the agent id (a SPIFFE ID, a URI...)\n"
"  --aud AUDIENCE    \"aud\"; repeat for an array\n"
"  --scope SCOPES    \"scope\", space separated; repeats are joined\n"
"  --ttl SECONDS     lifetime: exp = iat + SECONDS (default 300)\n"
"  --owner OWNER     \"owner\": the accountable human or team\n"
"  --act ACTOR       RFC 8693 \"act\": the agent acting for --sub; repeat to\n"
"                    nest: the first --act is the current actor, later ones\n"
"                    are prior actors\n"
"  --cnf-jkt JKT     bind to a DPoP key: \"cnf\":{\"jkt\":JKT}\n"
"                    (see 'aimctl thumbprint')\n"
"  --claim N=V       extra or replacement claim; V is used as JSON when it\n"
"                    parses as JSON (42, true, [\"a\"], {...}), else as a string\n"
"  --iat/--exp/--nbf EPOCH   explicit times (default iat: now)\n"
"  --jti ID          \"jti\" (default: 128 random bits, base64url)\n"
"  --kid KID         header \"kid\" (default: recorded by keygen, else the\n"
"                    key's RFC 7638 thumbprint, as 'aimctl jwks' prints)\n"
"  --alg ALG         RS256 or PS256 for an RSA key (default: as recorded)\n"
"  --typ TYP         header \"typ\" (default aim+jwt)\n"
"  --header N=V      extra or replacement header member (tests)\n"
"  --omit NAME       leave claim NAME out (tests); repeatable\n";

static int
cmd_issue(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key",     required_argument, NULL, 'K' },
        { "iss",     required_argument, NULL, 'i' },
        { "sub",     required_argument, NULL, 's' },
        { "aud",     required_argument, NULL, 'a' },
        { "scope",   required_argument, NULL, 'S' },
        { "ttl",     required_argument, NULL, 't' },
        { "owner",   required_argument, NULL, 'o' },
        { "act",     required_argument, NULL, 'A' },
        { "cnf-jkt", required_argument, NULL, 'c' },
        { "claim",   required_argument, NULL, 'C' },
        { "iat",     required_argument, NULL, 'I' },
        { "exp",     required_argument, NULL, 'E' },
        { "nbf",     required_argument, NULL, 'N' },
        { "jti",     required_argument, NULL, 'j' },
        { "kid",     required_argument, NULL, 'k' },
        { "alg",     required_argument, NULL, 'l' },
        { "typ",     required_argument, NULL, 'T' },
        { "header",  required_argument, NULL, 'H' },
        { "omit",    required_argument, NULL, 'O' },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *key = NULL, *iss = NULL, *sub = NULL, *owner = NULL;
    const char *jkt = NULL, *jti = NULL, *kid = NULL, *typ = "aim+jwt";
    strlist     aud = { {0}, 0 }, scope = { {0}, 0 }, act = { {0}, 0 };
    strlist     claim = { {0}, 0 }, header = { {0}, 0 }, omit = { {0}, 0 };
    int64_t     ttl = 300, iat = 0, exp = 0, nbf = 0;
    int         have_iat = 0, have_exp = 0, have_nbf = 0, have_ttl = 0, c;
    aim_alg     alg = AIM_ALG_NONE;
    signer      s;
    json_t     *hdr, *claims, *a;
    char        rnd[23], *token, *joined;
    size_t      i, n;
    aim_error   err;

    while ((c = next_opt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'K': key = optarg; break;
        case 'i': iss = check_id("--iss", optarg, 1024); break;
        case 's': sub = check_id("--sub", optarg, 1024); break;
        case 'a': list_add(&aud, "--aud", check_id("--aud", optarg, 1024)); break;
        case 'S': list_add(&scope, "--scope", optarg); break;
        case 't': ttl = parse_int("--ttl", optarg, 1, 10LL * 366 * 86400);
                  have_ttl = 1; break;
        case 'o': owner = check_id("--owner", optarg, 1024); break;
        case 'A': list_add(&act, "--act", check_id("--act", optarg, 1024)); break;
        case 'c': jkt = check_id("--cnf-jkt", optarg, 128); break;
        case 'C': list_add(&claim, "--claim", optarg); break;
        case 'I': iat = parse_int("--iat", optarg, 0, 253402300799LL);
                  have_iat = 1; break;
        case 'E': exp = parse_int("--exp", optarg, 0, 253402300799LL);
                  have_exp = 1; break;
        case 'N': nbf = parse_int("--nbf", optarg, 0, 253402300799LL);
                  have_nbf = 1; break;
        case 'j': jti = check_id("--jti", optarg, 1024); break;
        case 'k': kid = check_id("--kid", optarg, MAX_KID_LEN); break;
        case 'l': alg = parse_alg("--alg", optarg); break;
        case 'T': typ = check_id("--typ", optarg, 64); break;
        case 'H': list_add(&header, "--header", optarg); break;
        case 'O': list_add(&omit, "--omit", optarg); break;
        case 'h': fputs(issue_usage, stdout); return EXIT_OK;
        }
    }
    if (optind < argc) {
        usage_error("unexpected argument \"%.64s\"", argv[optind]);
    }
    if (key == NULL) usage_error("--key is required");
    if (iss == NULL) usage_error("--iss is required");
    if (sub == NULL) usage_error("--sub is required");
    if (aud.n == 0)  usage_error("--aud is required");
    if (have_exp && have_ttl) {
        usage_error("--exp and --ttl contradict each other; give one");
    }

    signer_load(&s, key, alg, 0, kid);

    if (!have_iat) {
        iat = (int64_t) time(NULL);
    }
    if (!have_exp) {
        exp = iat + ttl;
    }
    if (jti == NULL) {
        random_id(rnd);
        jti = rnd;
    }

    hdr = json_object();
    json_object_set_new(hdr, "alg", json_string(aim_alg_name(s.alg)));
    jset_str(hdr, "typ", typ, "--typ");
    jset_str(hdr, "kid", s.kid, "--kid");
    for (i = 0; i < header.n; i++) {
        set_pair(hdr, "--header", header.v[i]);
    }

    claims = json_object();
    jset_str(claims, "iss", iss, "--iss");
    jset_str(claims, "sub", sub, "--sub");
    if (aud.n == 1) {
        jset_str(claims, "aud", aud.v[0], "--aud");
    } else {
        a = json_array();
        for (i = 0; i < aud.n; i++) {
            if (json_array_append_new(a, json_string(aud.v[i])) != 0) {
                usage_error("--aud: \"%.64s\" is not valid UTF-8", aud.v[i]);
            }
        }
        json_object_set_new(claims, "aud", a);
    }
    json_object_set_new(claims, "iat", json_integer(iat));
    if (have_nbf) {
        json_object_set_new(claims, "nbf", json_integer(nbf));
    }
    json_object_set_new(claims, "exp", json_integer(exp));
    jset_str(claims, "jti", jti, "--jti");
    if (scope.n > 0) {
        for (i = 0, n = 0; i < scope.n; i++) {
            n += strlen(scope.v[i]) + 1;
        }
        joined = xmalloc(n);
        joined[0] = '\0';
        for (i = 0; i < scope.n; i++) {
            if (i > 0) strcat(joined, " ");
            strcat(joined, scope.v[i]);
        }
        jset_str(claims, "scope", joined, "--scope");
        free(joined);
    }
    if (owner != NULL) {
        jset_str(claims, "owner", owner, "--owner");
    }
    if (act.n > 0) {
        /* Innermost (oldest) actor first, wrapped outwards. */
        json_t *inner = NULL;

        for (i = act.n; i-- > 0;) {
            a = json_object();
            jset_str(a, "sub", act.v[i], "--act");
            if (inner != NULL) {
                json_object_set_new(a, "act", inner);
            }
            inner = a;
        }
        json_object_set_new(claims, "act", inner);
    }
    if (jkt != NULL) {
        a = json_object();
        jset_str(a, "jkt", jkt, "--cnf-jkt");
        json_object_set_new(claims, "cnf", a);
    }
    for (i = 0; i < claim.n; i++) {
        set_pair(claims, "--claim", claim.v[i]);
    }
    for (i = 0; i < omit.n; i++) {
        json_object_del(claims, omit.v[i]);
    }
    token = aim_jws_sign(s.pkey, s.alg, hdr, claims, &err);
    if (token == NULL) {
        fail(EXIT_REJECTED, "%s", err.message);
    }
    puts(token);
    free(token);
    json_decref(hdr);
    json_decref(claims);
    signer_clear(&s);
    flush_stdout();
    return EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* dpop                                                                */

static const char dpop_usage[] =
"Usage: aimctl dpop --key PRIVATE --htm METHOD --htu URL [--token TOKEN|-]\n"
"                   [--iat EPOCH] [--jti ID] [--nonce NONCE] [--alg ALG]\n"
"\n"
"Sign a DPoP proof (RFC 9449) with PRIVATE and print it: header\n"
"{typ: dpop+jwt, alg, jwk: the public key}, claims {jti, htm, htu, iat}\n"
"and, with --token, ath = base64url(SHA-256(TOKEN)).  Bind the access\n"
"token to the key with 'aimctl issue --cnf-jkt $(aimctl thumbprint KEY)'.\n"
"\n"
"  --key FILE     the proof key (from 'aimctl keygen')\n"
"  --htm METHOD   the HTTP method (GET, POST...)\n"
"  --htu URL      the target URI, without query and fragment\n"
"  --token T      the access token the proof goes with ('-': stdin)\n"
"  --iat EPOCH    issue time (default: now)\n"
"  --jti ID       proof id (default: 128 random bits)\n"
"  --nonce N      a server-provided DPoP nonce\n"
"  --alg ALG      RS256 or PS256 for an RSA key\n";

static int
cmd_dpop(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key",   required_argument, NULL, 'K' },
        { "htm",   required_argument, NULL, 'm' },
        { "htu",   required_argument, NULL, 'u' },
        { "token", required_argument, NULL, 't' },
        { "iat",   required_argument, NULL, 'I' },
        { "jti",   required_argument, NULL, 'j' },
        { "nonce", required_argument, NULL, 'n' },
        { "alg",   required_argument, NULL, 'l' },
        { "help",  no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char   *key = NULL, *htm = NULL, *htu = NULL, *tok = NULL;
    const char   *jti = NULL, *nonce = NULL;
    int64_t       iat = 0;
    int           have_iat = 0, c;
    aim_alg       alg = AIM_ALG_NONE;
    signer        s;
    json_t       *hdr, *claims;
    char          rnd[23], ath[44], *proof, *tbuf;
    unsigned char h[32];
    size_t        tlen;
    aim_error     err;

    while ((c = next_opt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'K': key = optarg; break;
        case 'm': htm = check_id("--htm", optarg, 32); break;
        case 'u': htu = check_id("--htu", optarg, 4096); break;
        case 't': tok = optarg; break;
        case 'I': iat = parse_int("--iat", optarg, 0, 253402300799LL);
                  have_iat = 1; break;
        case 'j': jti = check_id("--jti", optarg, 256); break;
        case 'n': nonce = check_id("--nonce", optarg, 1024); break;
        case 'l': alg = parse_alg("--alg", optarg); break;
        case 'h': fputs(dpop_usage, stdout); return EXIT_OK;
        }
    }
    if (optind < argc) {
        usage_error("unexpected argument \"%.64s\"", argv[optind]);
    }
    if (key == NULL) usage_error("--key is required");
    if (htm == NULL) usage_error("--htm is required");
    if (htu == NULL) usage_error("--htu is required");

    signer_load(&s, key, alg, 0, NULL);
    if (!have_iat) {
        iat = (int64_t) time(NULL);
    }
    if (jti == NULL) {
        random_id(rnd);
        jti = rnd;
    }

    hdr = json_object();
    json_object_set_new(hdr, "typ", json_string("dpop+jwt"));
    json_object_set_new(hdr, "alg", json_string(aim_alg_name(s.alg)));
    json_object_set_new(hdr, "jwk", signer_bare_jwk(&s));

    claims = json_object();
    jset_str(claims, "jti", jti, "--jti");
    jset_str(claims, "htm", htm, "--htm");
    jset_str(claims, "htu", htu, "--htu");
    json_object_set_new(claims, "iat", json_integer(iat));
    if (tok != NULL) {
        tbuf = read_arg(tok, "token", &tlen);
        if (tlen == 0) {
            usage_error("--token: empty token");
        }
        aim_sha256(tbuf, tlen, h);
        aim_b64url_encode(h, sizeof(h), ath);
        json_object_set_new(claims, "ath", json_string(ath));
        free(tbuf);
    }
    if (nonce != NULL) {
        jset_str(claims, "nonce", nonce, "--nonce");
    }

    proof = aim_jws_sign(s.pkey, s.alg, hdr, claims, &err);
    if (proof == NULL) {
        fail(EXIT_REJECTED, "%s", err.message);
    }
    puts(proof);
    free(proof);
    json_decref(hdr);
    json_decref(claims);
    signer_clear(&s);
    flush_stdout();
    return EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* verify                                                              */

static const char verify_usage[] =
"Usage: aimctl verify --keys JWKS --issuer ISSUER --audience AUDIENCE\n"
"                     [--scope S]... [--any] [--revoked FILE] [--policy FILE]\n"
"                     [--leeway S] [--max-lifetime S] [--types \"T...\"]\n"
"                     [--audit FILE] [--now EPOCH]\n"
"                     [--dpop PROOF|- --htm METHOD --htu URL [--dpop-max-age S]]\n"
"                     TOKEN|-\n"
"\n"
"Verify a token exactly as the adapters do (libaim: verify -> authorize)\n"
"and print one JSON object.  Exit status 0: valid, with\n"
"  {\"valid\":true, \"agent\", \"subject\", \"owner\", \"issuer\", \"chain\",\n"
"   \"scopes\":[...], \"jti\", \"kid\", \"alg\", \"exp\", \"iat\", \"cnf_jkt\"\n"
"   and, with --dpop, \"dpop\":true}\n"
"1: rejected, with {\"valid\":false, \"reason\", \"message\"}; 2: usage or\n"
"configuration error.  '-' reads the token from standard input (one\n"
"trailing newline is removed).\n"
"\n"
"  --keys FILE          JWKS file, or pem:ALG:PATH; repeatable\n"
"  --issuer ISSUER      accepted \"iss\"; repeatable\n"
"  --audience AUD       this service's audience\n"
"  --scope S            required scope; repeatable (all required)\n"
"  --any                any one --scope suffices\n"
"  --revoked FILE       revocation list (agent/jti/kid lines)\n"
"  --policy FILE        local policy (allow lines)\n"
"  --leeway S           clock skew allowed (default 30)\n"
"  --max-lifetime S     maximum exp - iat (default 86400)\n"
"  --types \"T...\"       accepted typ values (default \"aim+jwt at+jwt\")\n"
"  --audit FILE         append the decision's audit line to FILE\n"
"  --now EPOCH          verify as if the time were EPOCH\n"
"  --dpop PROOF         also check a DPoP proof for the token (needs --htm\n"
"                       and --htu; --dpop-max-age defaults to 60 s)\n";

static int64_t fixed_now;

static int64_t
fixed_clock(void)
{
    return fixed_now;
}

static int
verify_output(aim_status s, const aim_error *err, const aim_token *t,
              int dpop)
{
    json_t *o = json_object(), *scopes;
    size_t  i;

    if (s != AIM_OK) {
        json_object_set_new(o, "valid", json_false());
        json_object_set_new(o, "reason", json_string(aim_reason(s)));
        json_object_set_new(o, "message", json_string(err->message));
        if (t != NULL) {
            /* Verified, then refused (scope, binding): say who. */
            json_object_set_new(o, "agent", json_string(aim_token_agent(t)));
        }
    } else {
        json_object_set_new(o, "valid", json_true());
        json_object_set_new(o, "agent", json_string(aim_token_agent(t)));
        json_object_set_new(o, "subject", json_string(aim_token_subject(t)));
        json_object_set_new(o, "owner", aim_token_owner(t) != NULL
                            ? json_string(aim_token_owner(t)) : json_null());
        json_object_set_new(o, "issuer", json_string(aim_token_issuer(t)));
        json_object_set_new(o, "chain", json_string(aim_token_chain(t)));
        scopes = json_array();
        for (i = 0; i < aim_token_scope_count(t); i++) {
            json_array_append_new(scopes, json_string(aim_token_scope_at(t, i)));
        }
        json_object_set_new(o, "scopes", scopes);
        json_object_set_new(o, "jti", json_string(aim_token_jti(t)));
        json_object_set_new(o, "kid", json_string(aim_token_kid(t)));
        json_object_set_new(o, "alg", json_string(aim_token_alg(t)));
        json_object_set_new(o, "exp", json_integer(aim_token_exp(t)));
        json_object_set_new(o, "iat", json_integer(aim_token_iat(t)));
        json_object_set_new(o, "cnf_jkt", aim_token_cnf_jkt(t) != NULL
                            ? json_string(aim_token_cnf_jkt(t)) : json_null());
        if (dpop) {
            json_object_set_new(o, "dpop", json_true());
        }
    }
    print_json(o, JSON_COMPACT);
    json_decref(o);
    flush_stdout();
    return s == AIM_OK ? EXIT_OK : EXIT_REJECTED;
}

static void
config_set(aim_config *cfg, const char *opt, const char *name,
           const char *value)
{
    aim_error err;

    if (aim_config_set(cfg, name, value, &err) != AIM_OK) {
        usage_error("%s: %s", opt, err.message);
    }
}

static int
cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        { "keys",         required_argument, NULL, 'k' },
        { "issuer",       required_argument, NULL, 'i' },
        { "audience",     required_argument, NULL, 'a' },
        { "scope",        required_argument, NULL, 's' },
        { "any",          no_argument,       NULL, 'y' },
        { "revoked",      required_argument, NULL, 'r' },
        { "policy",       required_argument, NULL, 'p' },
        { "leeway",       required_argument, NULL, 'l' },
        { "max-lifetime", required_argument, NULL, 'm' },
        { "types",        required_argument, NULL, 't' },
        { "audit",        required_argument, NULL, 'A' },
        { "now",          required_argument, NULL, 'n' },
        { "dpop",         required_argument, NULL, 'd' },
        { "htm",          required_argument, NULL, 'M' },
        { "htu",          required_argument, NULL, 'U' },
        { "dpop-max-age", required_argument, NULL, 'D' },
        { "help",         no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    aim_config      *cfg;
    aim_verifier    *v;
    aim_token       *t = NULL;
    aim_error        err;
    aim_status       s;
    aim_request      req;
    aim_dpop_request dreq;
    strlist          scopes = { {0}, 0 };
    const char      *dpop = NULL, *htm = NULL, *htu = NULL;
    int64_t          max_age = 60;
    int              c, any = 0, have_keys = 0, have_iss = 0, have_aud = 0;
    char            *token, *proof = NULL;
    size_t           len, plen = 0;
    unsigned char    jti_hash[32];

    cfg = aim_config_new();
    if (cfg == NULL) {
        fail(EXIT_REJECTED, "out of memory");
    }
    /* One token, one decision: nothing to cache. */
    config_set(cfg, "cache", "cache", "0");

    while ((c = next_opt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'k': config_set(cfg, "--keys", "keys", optarg); have_keys = 1; break;
        case 'i': config_set(cfg, "--issuer", "issuer", optarg); have_iss = 1; break;
        case 'a': config_set(cfg, "--audience", "audience", optarg); have_aud = 1;
                  break;
        case 's': list_add(&scopes, "--scope", check_id("--scope", optarg,
                                                        AIM_MAX_SCOPE_LEN));
                  break;
        case 'y': any = 1; break;
        case 'r': config_set(cfg, "--revoked", "revoked", optarg); break;
        case 'p': config_set(cfg, "--policy", "policy", optarg); break;
        case 'l': config_set(cfg, "--leeway", "leeway", optarg); break;
        case 'm': config_set(cfg, "--max-lifetime", "max_lifetime", optarg); break;
        case 't': config_set(cfg, "--types", "types", optarg); break;
        case 'A': config_set(cfg, "--audit", "audit", optarg); break;
        case 'n': fixed_now = parse_int("--now", optarg, 0, 253402300799LL);
                  aim_set_clock(fixed_clock);
                  break;
        case 'd': dpop = optarg; break;
        case 'M': htm = check_id("--htm", optarg, 32); break;
        case 'U': htu = check_id("--htu", optarg, 4096); break;
        case 'D': max_age = parse_int("--dpop-max-age", optarg, 1, 86400); break;
        case 'h':
            aim_config_free(cfg);
            fputs(verify_usage, stdout);
            return EXIT_OK;
        }
    }
    if (!have_keys) usage_error("--keys is required");
    if (!have_iss)  usage_error("--issuer is required");
    if (!have_aud)  usage_error("--audience is required");
    if (optind == argc) {
        usage_error("no token given (TOKEN, or '-' for standard input)");
    }
    if (optind + 1 < argc) {
        usage_error("unexpected argument after the token");
    }
    if (any && scopes.n == 0) {
        usage_error("--any needs at least one --scope");
    }
    if (dpop != NULL && (htm == NULL || htu == NULL)) {
        usage_error("--dpop needs --htm and --htu");
    }
    if (dpop == NULL && (htm != NULL || htu != NULL)) {
        usage_error("--htm and --htu only go with --dpop");
    }
    if (dpop != NULL && strcmp(dpop, "-") == 0 && strcmp(argv[optind], "-") == 0) {
        usage_error("the token and the DPoP proof cannot both come from stdin");
    }

    v = aim_verifier_new(cfg, &err);
    aim_config_free(cfg);
    if (v == NULL) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        err.status = AIM_CONFIG;
        verify_output(AIM_CONFIG, &err, NULL, 0);
        return EXIT_USAGE;
    }

    token = read_arg(argv[optind], "token", &len);
    memset(&req, 0, sizeof(req));
    req.adapter = "aimctl";
    req.action = "verify";
    req.scopes = scopes.v;
    req.nscopes = scopes.n;
    req.any = any;

    s = aim_decide(v, token, len, &req, &t, &err);
    if (s == AIM_OK && dpop != NULL) {
        proof = read_arg(dpop, "DPoP proof", &plen);
        dreq.method = htm;
        dreq.url = htu;
        dreq.max_age = max_age;
        s = aim_dpop_verify(v, proof, plen, token, len, t, &dreq, jti_hash, &err);
        if (s != AIM_OK) {
            aim_audit(v, &req, t, s, err.message);
        }
        free(proof);
    }
    OPENSSL_cleanse(token, len);
    free(token);

    c = verify_output(s, &err, t, dpop != NULL);
    aim_token_free(t);
    aim_verifier_free(v);
    return c;
}

/* ------------------------------------------------------------------ */
/* inspect                                                             */

static const char inspect_usage[] =
"Usage: aimctl inspect TOKEN|-\n"
"\n"
"Decode a compact JWS WITHOUT verifying anything and print\n"
"{\"verified\":false, \"warning\", \"header\", \"claims\", \"signature_bytes\"}.\n"
"Nothing shown can be trusted: use 'aimctl verify' for that.  Exit 0 when\n"
"the token decodes, 1 when it does not, 2 on usage errors.\n";

/* Decode one base64url segment holding JSON; NULL with *why set. */
static json_t *
decode_segment(const char *seg, size_t len, const char **why)
{
    unsigned char *buf;
    size_t         n;
    json_t        *j;
    json_error_t   jerr;

    buf = xmalloc(AIM_B64_DECODED_MAX(len) + 1);
    if (aim_b64url_decode(seg, len, buf, &n) != 0) {
        free(buf);
        *why = "not strict base64url";
        return NULL;
    }
    j = json_loadb((const char *) buf, n,
                   JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL,
                   &jerr);
    free(buf);
    if (j == NULL) {
        *why = "not JSON (or duplicate member names)";
    }
    return j;
}

static int
cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    char        *token, *d1, *d2;
    size_t       len, n;
    const char  *why = NULL;
    json_t      *o, *hdr = NULL, *claims = NULL;
    int          c, rc = EXIT_OK;

    while ((c = next_opt(argc, argv, opts)) != -1) {
        if (c == 'h') {
            fputs(inspect_usage, stdout);
            return EXIT_OK;
        }
    }
    if (optind == argc) {
        usage_error("no token given (TOKEN, or '-' for standard input)");
    }
    if (optind + 1 < argc) {
        usage_error("unexpected argument after the token");
    }
    token = read_arg(argv[optind], "token", &len);

    d1 = memchr(token, '.', len);
    d2 = d1 != NULL ? memchr(d1 + 1, '.', len - (size_t) (d1 + 1 - token)) : NULL;
    if (d1 == NULL || d2 == NULL
        || memchr(d2 + 1, '.', len - (size_t) (d2 + 1 - token)) != NULL)
    {
        fprintf(stderr, "%s: not a compact JWS (expected three segments "
                "separated by two dots)\n", cmd);
        free(token);
        return EXIT_REJECTED;
    }

    o = json_object();
    json_object_set_new(o, "verified", json_false());
    json_object_set_new(o, "warning", json_string(
        "NOT VERIFIED: decoded without checking the signature, key, issuer, "
        "audience or times; do not trust any of it"));
    hdr = decode_segment(token, (size_t) (d1 - token), &why);
    if (hdr == NULL) {
        json_object_set_new(o, "header_error", json_string(why));
        rc = EXIT_REJECTED;
    }
    json_object_set_new(o, "header", hdr != NULL ? hdr : json_null());
    claims = decode_segment(d1 + 1, (size_t) (d2 - d1 - 1), &why);
    if (claims == NULL) {
        json_object_set_new(o, "claims_error", json_string(why));
        rc = EXIT_REJECTED;
    }
    json_object_set_new(o, "claims", claims != NULL ? claims : json_null());
    n = len - (size_t) (d2 + 1 - token);
    {
        unsigned char *sig = xmalloc(AIM_B64_DECODED_MAX(n) + 1);
        size_t         slen;

        if (aim_b64url_decode(d2 + 1, n, sig, &slen) == 0) {
            json_object_set_new(o, "signature_bytes", json_integer((json_int_t) slen));
        } else {
            json_object_set_new(o, "signature_error",
                                json_string("not strict base64url"));
            rc = EXIT_REJECTED;
        }
        free(sig);
    }
    print_json(o, JSON_INDENT(2));
    json_decref(o);
    free(token);
    flush_stdout();
    return rc;
}

/* ------------------------------------------------------------------ */

static const char main_usage[] =
"Usage: aimctl COMMAND [OPTIONS]\n"
"\n"
"AIM (Agent Identity Management) command-line tool.\n"
"\n"
"Commands:\n"
"  keygen      make a private signing key (PEM, mode 0600)\n"
"  jwks        print the public JWKS of private keys\n"
"  thumbprint  print a key's RFC 7638 thumbprint (for cnf.jkt)\n"
"  issue       sign an agent token (development issuer)\n"
"  dpop        sign a DPoP proof\n"
"  verify      verify a token as the adapters do; JSON, exit 0/1/2\n"
"  inspect     decode a token WITHOUT verifying it\n"
"\n"
"'aimctl COMMAND --help' describes each command; see also aimctl(1).\n"
"Exit status: 0 success, 1 rejected or failed, 2 usage or configuration\n"
"error.\n";

static const struct {
    const char *name;
    int       (*run)(int argc, char **argv);
} commands[] = {
    { "keygen",     cmd_keygen },
    { "jwks",       cmd_jwks },
    { "thumbprint", cmd_thumbprint },
    { "issue",      cmd_issue },
    { "dpop",       cmd_dpop },
    { "verify",     cmd_verify },
    { "inspect",    cmd_inspect },
};

int
main(int argc, char **argv)
{
    size_t i;

    opterr = 0;
    if (argc < 2) {
        fputs(main_usage, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "help") == 0)
    {
        if (argc > 2 && strcmp(argv[1], "help") == 0) {
            char *help[] = { argv[2], (char *) "--help", NULL };
            for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
                if (strcmp(argv[2], commands[i].name) == 0) {
                    snprintf(cmdbuf, sizeof(cmdbuf), "aimctl %s", argv[2]);
                    cmd = cmdbuf;
                    return commands[i].run(2, help);
                }
            }
            usage_error("no command \"%.32s\"", argv[2]);
        }
        fputs(main_usage, stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("aimctl %s\n", AIM_VERSION);
        return EXIT_OK;
    }
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            snprintf(cmdbuf, sizeof(cmdbuf), "aimctl %s", argv[1]);
            cmd = cmdbuf;
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    usage_error("no command \"%.32s\" (keygen jwks thumbprint issue dpop "
                "verify inspect)", argv[1]);
}
