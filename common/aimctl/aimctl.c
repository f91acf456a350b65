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
 *   aimctl stats       agents, trust and baselines in a host's state file
 *   aimctl trust       reset an agent's trust (operator)
 *   aimctl audit       summarise audit lines; an agent's trust as SVG
 *   aimctl statuslist  create, update and show signed Token Status Lists
 *
 * verify goes through the public API (aim.h) only, exactly as an adapter
 * does.  stats and trust use the state unit (state.h), statuslist the
 * status list encoding (status.h).  The issuing commands use the development signer (sign.h): real
 * deployments sign with their IdP.  Private key material is only ever
 * written to keygen's --out file, never to standard output or errors.
 *
 * Exit status: 0 success (valid), 1 rejected or failed, 2 usage or
 * configuration error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
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
#include "state.h"
#include "status.h"

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
                json_decref(jwk);
                json_decref(doc);
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
"                    [--status-idx N --status-uri URI]\n"
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
"  --status-idx N, --status-uri URI   point the token into a Token Status\n"
"                    List: \"status\":{\"status_list\":{\"idx\":N,\"uri\":URI}}\n"
"                    (see 'aimctl statuslist')\n"
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
        { "status-idx", required_argument, NULL, 'x' },
        { "status-uri", required_argument, NULL, 'X' },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *key = NULL, *iss = NULL, *sub = NULL, *owner = NULL;
    const char *jkt = NULL, *jti = NULL, *kid = NULL, *typ = "aim+jwt";
    const char *status_uri = NULL;
    int64_t     status_idx = -1;
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
        case 'x': status_idx = parse_int("--status-idx", optarg, 0,
                                         (int64_t) 1 << 40); break;
        case 'X': status_uri = check_id("--status-uri", optarg, 2048); break;
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
    if ((status_idx >= 0) != (status_uri != NULL)) {
        usage_error("--status-idx and --status-uri go together");
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
    if (status_uri != NULL) {
        json_t *sl = json_object(), *st = json_object();

        json_object_set_new(sl, "idx", json_integer(status_idx));
        jset_str(sl, "uri", status_uri, "--status-uri");
        json_object_set_new(st, "status_list", sl);
        json_object_set_new(claims, "status", st);
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
"                     [--audit FILE] [--now EPOCH] [--status-list \"URI FILE\"]...\n"
"                     [--state FILE [--trust-min N]] [--action A] [--resource R]\n"
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
"  --status-list \"URI FILE\"  a local copy of the Token Status List at URI\n"
"                       (signed with one of --keys); repeatable\n"
"  --state FILE         the host's state file: the decision feeds the agent's\n"
"                       baseline, and trust below --trust-min (0-100, default\n"
"                       50) denies with low_trust\n"
"  --action A, --resource R   what is asked (default action \"verify\"), for\n"
"                       the baseline and the audit line\n"
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

static aim_status
cli_replay(void *ud, const unsigned char hash[32], int64_t expires)
{
    (void) ud;
    (void) hash;
    (void) expires;
    return AIM_OK;
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
        { "status-list",  required_argument, NULL, 'L' },
        { "state",        required_argument, NULL, 'S' },
        { "trust-min",    required_argument, NULL, 'T' },
        { "action",       required_argument, NULL, 'c' },
        { "resource",     required_argument, NULL, 'R' },
        { "help",         no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    aim_config      *cfg;
    aim_verifier    *v;
    aim_token       *t = NULL;
    aim_error        err;
    aim_status       s;
    aim_request      req;
    aim_decision     d;
    strlist          scopes = { {0}, 0 };
    const char      *dpop = NULL, *htm = NULL, *htu = NULL;
    const char      *action = "verify", *resource = NULL;
    int              have_state = 0, have_trust_min = 0;
    int              c, any = 0, have_keys = 0, have_iss = 0, have_aud = 0;
    char            *token, *proof = NULL;
    size_t           len, plen = 0;

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
        case 'D': config_set(cfg, "--dpop-max-age", "dpop_max_age", optarg); break;
        case 'L': config_set(cfg, "--status-list", "status_list", optarg); break;
        case 'S': config_set(cfg, "--state", "state", optarg); have_state = 1; break;
        case 'T': config_set(cfg, "--trust-min", "trust_min", optarg);
                  have_trust_min = 1; break;
        case 'c': action = check_id("--action", optarg, 64); break;
        case 'R': resource = check_id("--resource", optarg, 4096); break;
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
    if (have_trust_min && !have_state) {
        usage_error("--trust-min needs --state (trust lives in the state file)");
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
    req.action = action;
    req.resource = resource;
    req.scopes = scopes.v;
    req.nscopes = scopes.n;
    req.any = any;
    req.token = token;
    req.token_len = len;
    if (dpop != NULL) {
        /* One proof, one process: the replay store forgets. */
        proof = read_arg(dpop, "DPoP proof", &plen);
        req.scheme = AIM_SCHEME_DPOP;
        req.dpop = AIM_DPOP_ON;
        req.proof = proof;
        req.proof_len = plen;
        req.nproofs = 1;
        req.method = htm;
        req.url = htu;
        req.replay = cli_replay;
    }

    s = aim_decide(v, &req, &d);
    t = d.token;
    d.token = NULL;
    err.status = s;
    memcpy(err.message, d.message, sizeof(err.message));
    aim_decision_clear(&d);
    free(proof);
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
/* Text, strings and files for the operator commands                   */

/* A growing string; out of memory ends the program. */
typedef struct {
    char   *p;
    size_t  len;
    size_t  cap;
} sbuf;

static void
sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t  cap = b->cap != 0 ? b->cap : 256;
        char   *p;

        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        p = realloc(b->p, cap);
        if (p == NULL) {
            fail(EXIT_REJECTED, "out of memory");
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
sb_puts(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void
sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_printf(sbuf *b, const char *fmt, ...)
{
    char    tmp[512];
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0) {
        sb_put(b, tmp, (size_t) n < sizeof(tmp) ? (size_t) n : sizeof(tmp) - 1);
    }
}

/* The valid UTF-8 sequence at s: its length (1..4) and code point, or 0. */
static size_t
utf8_next(const unsigned char *s, uint32_t *cp)
{
    uint32_t v;
    size_t   n, i;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2; v = s[0] & 0x1fu;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3; v = s[0] & 0x0fu;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4; v = s[0] & 0x07u;
    } else {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        v = (v << 6) | (s[i] & 0x3fu);
    }
    if ((n == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff)))
        || (n == 4 && (v < 0x10000 || v > 0x10ffff)))
    {
        return 0;
    }
    *cp = v;
    return n;
}

enum { TEXT_TERMINAL, TEXT_XML, TEXT_UTF8 };

/* Bidirectional overrides and isolates: they reorder what a terminal
 * shows, so an agent id could pose as another. */
static int
is_bidi_control(uint32_t cp)
{
    return cp == 0x061c || cp == 0x200e || cp == 0x200f
        || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * Append untrusted text (agent ids, reasons from log lines) to b, made
 * safe for where it goes: TEXT_TERMINAL shows control characters (C0,
 * C1, bidirectional controls) and invalid UTF-8 as \xNN (no escape
 * sequence reaches the terminal, no text is reordered);
 * TEXT_XML escapes markup and replaces what XML 1.0 cannot carry with
 * '?'; TEXT_UTF8 only replaces invalid UTF-8 with '?' (for jansson).
 */
static void
sb_text(sbuf *b, const char *s, int how)
{
    const unsigned char *p = (const unsigned char *) s;
    char                 esc[8];
    uint32_t             cp;
    size_t               n;

    while (*p != '\0') {
        n = utf8_next(p, &cp);
        if (n == 0 || (how != TEXT_UTF8 && (cp < 0x20 || cp == 0x7f
                                            || (cp >= 0x80 && cp < 0xa0)))
            || (how == TEXT_XML && (cp == 0xfffe || cp == 0xffff))
            || (how == TEXT_TERMINAL && is_bidi_control(cp)))
        {
            if (n == 0) {
                n = 1;
            }
            while (n-- > 0) {
                if (how == TEXT_TERMINAL) {
                    snprintf(esc, sizeof(esc), "\\x%02x", (unsigned) *p);
                    sb_put(b, esc, 4);
                } else if (n == 0) {
                    sb_put(b, "?", 1);
                }
                p++;
            }
            continue;
        }
        if (how == TEXT_XML && cp < 0x80 && strchr("&<>\"'", (int) cp) != NULL) {
            switch (cp) {
            case '&':  sb_put(b, "&amp;", 5); break;
            case '<':  sb_put(b, "&lt;", 4); break;
            case '>':  sb_put(b, "&gt;", 4); break;
            case '"':  sb_put(b, "&quot;", 6); break;
            default:   sb_put(b, "&apos;", 6); break;
            }
        } else {
            sb_put(b, (const char *) p, n);
        }
        p += n;
    }
}

/* Columns a UTF-8 string takes (one per code point: good enough for the
 * identifiers aimctl aligns), and s padded to width with spaces. */
static int
text_cols(const char *s)
{
    int cols = 0;

    for (; *s != '\0'; s++) {
        cols += ((unsigned char) *s & 0xc0) != 0x80;
    }
    return cols;
}

static void
print_padded(const char *s, int width)
{
    int pad = width - text_cols(s);

    fputs(s, stdout);
    while (pad-- > 0) {
        putchar(' ');
    }
}

/* A malloc()ed copy of s made safe as sb_text does. */
static char *
clean_text(const char *s, int how)
{
    sbuf b = { NULL, 0, 0 };

    sb_put(&b, "", 0);
    sb_text(&b, s, how);
    return b.p;
}

/* "2026-11-28T23:59:59Z" (UTC); "-" for 0 (never). */
static const char *
iso_time(int64_t t, char buf[32])
{
    struct tm tm;
    time_t    tt = (time_t) t;

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
        return "-";
    }
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* The "ts" of an audit line (YYYY-MM-DDTHH:MM:SS[.fraction]Z), or -1. */
static int64_t
parse_iso_time(const char *s)
{
    struct tm tm;
    int       n = 0;

    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6
        || n != 19 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1
        || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
    {
        return -1;
    }
    s += n;
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++) {
        }
    }
    if (strcmp(s, "Z") != 0 && strcmp(s, "+00:00") != 0) {
        return -1;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t) timegm(&tm);
}

/*
 * Replace path with data atomically: a temporary file in the same
 * directory, written, synced and renamed over path, so a reader (an
 * adapter reloading a status list) sees the old file or the new one,
 * never half of one.  mode is masked by the umask.
 */
static void
write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
    size_t  plen = strlen(path), off = 0;
    char   *tmp = xmalloc(plen + 8);
    mode_t  mask;
    ssize_t n;
    int     fd, saved;

    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".XXXXXX", 8);
    fd = mkstemp(tmp);
    if (fd < 0) {
        fail(EXIT_REJECTED, "cannot create a temporary file next to \"%s\": %s",
             path, strerror(errno));
    }
    while (off < len) {
        n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            goto fail;
        }
        off += (size_t) n;
    }
    mask = umask(0);
    umask(mask);
    if (fchmod(fd, mode & ~mask) != 0 || fsync(fd) != 0) {
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        goto fail;
    }
    free(tmp);
    return;

fail:
    saved = errno;
    if (fd >= 0) {
        close(fd);
    }
    unlink(tmp);
    fail(EXIT_REJECTED, "cannot write \"%s\": %s", path, strerror(saved));
}

/* ------------------------------------------------------------------ */
/* stats, trust                                                        */

/* Opening a state file rebuilds one that is damaged, in place: only open
 * files that exist and start like one (never a mistyped path). */
#define STATE_MAGIC_PREFIX  "AIMSTAT"

static aim_state *
state_open_existing(const char *path)
{
    struct stat  sb;
    char         magic[8];
    ssize_t      n;
    int          fd;
    aim_state   *st;
    aim_error    err;

    if (stat(path, &sb) != 0) {
        if (errno == ENOENT) {
            fail(EXIT_USAGE, "no state file \"%s\" (the adapters create it at "
                 "their first decision; check the path given to their 'state' "
                 "setting)", path);
        }
        fail(EXIT_USAGE, "cannot read \"%s\": %s", path, strerror(errno));
    }
    if (!S_ISREG(sb.st_mode)) {
        fail(EXIT_USAGE, "\"%s\" is not a regular file", path);
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        fail(EXIT_USAGE, "cannot read \"%s\": %s", path, strerror(errno));
    }
    n = read(fd, magic, sizeof(magic));
    close(fd);
    if (n != (ssize_t) sizeof(magic)
        || memcmp(magic, STATE_MAGIC_PREFIX, strlen(STATE_MAGIC_PREFIX)) != 0)
    {
        fail(EXIT_USAGE, "\"%s\" is not an AIM state file; not opening it "
             "(opening rebuilds a damaged state file in place)", path);
    }
    st = aim_state_open(path, &err);
    if (st == NULL) {
        fail(EXIT_USAGE, "%s", err.message);
    }
    return st;
}

typedef struct {
    aim_agent_stats *v;
    size_t           n;
    size_t           cap;
} stats_list;

static void
stats_collect(void *ud, const aim_agent_stats *s)
{
    stats_list *l = ud;

    if (l->n == l->cap) {
        size_t           cap = l->cap != 0 ? l->cap * 2 : 64;
        aim_agent_stats *v = realloc(l->v, cap * sizeof(*v));

        if (v == NULL) {
            fail(EXIT_REJECTED, "out of memory");
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *s;
}

static int
stats_by_trust(const void *pa, const void *pb)
{
    const aim_agent_stats *a = pa, *b = pb;

    if (a->trust != b->trust) {
        return a->trust < b->trust ? -1 : 1;
    }
    return strcmp(a->agent, b->agent);
}

static const char stats_usage[] =
"Usage: aimctl stats --state FILE [--json] [--trust-min N]\n"
"\n"
"List the agents in a host's state file (see docs/trust.md), lowest trust\n"
"first: trust, whether the baseline is still being learnt, events, denials,\n"
"anomalies, request rates over ~10 s and ~1 h, the last anomaly signal and\n"
"when the agent was last seen.  The file must exist (the adapters create\n"
"it); aimctl never creates or repairs one.\n"
"\n"
"  --state FILE    the state file (the adapters' 'state' setting)\n"
"  --json          one JSON object per agent, one per line\n"
"  --trust-min N   mark agents below N (default 50: the adapters' default)\n";

static int
cmd_stats(int argc, char **argv)
{
    static const struct option opts[] = {
        { "state",     required_argument, NULL, 's' },
        { "json",      no_argument,       NULL, 'j' },
        { "trust-min", required_argument, NULL, 't' },
        { "help",      no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char  *path = NULL;
    int          json = 0, c, width = 5, low = 0;
    int64_t      trust_min = 50, now = (int64_t) time(NULL);
    aim_state   *st;
    stats_list   l = { NULL, 0, 0 };
    size_t       i;
    char         when[32];
    char       **names;

    while ((c = next_opt(argc, argv, opts)) != -1) {
        switch (c) {
        case 's': path = optarg; break;
        case 'j': json = 1; break;
        case 't': trust_min = parse_int("--trust-min", optarg, 0, 100); break;
        case 'h': fputs(stats_usage, stdout); return EXIT_OK;
        }
    }
    if (optind < argc) {
        usage_error("unexpected argument \"%.64s\"", argv[optind]);
    }
    if (path == NULL) {
        usage_error("--state is required");
    }

    /* The real time, always: the figures are brought up to "now" in the
     * shared file itself, and a slot whose time lies a day past "now" is
     * taken for corrupt and reset. */
    st = state_open_existing(path);
    aim_state_foreach(st, now, stats_collect, &l);
    aim_state_close(st);
    if (l.n > 1) {
        qsort(l.v, l.n, sizeof(*l.v), stats_by_trust);
    }

    names = xmalloc((l.n + 1) * sizeof(*names));
    for (i = 0; i < l.n; i++) {
        names[i] = clean_text(l.v[i].agent, json ? TEXT_UTF8 : TEXT_TERMINAL);
        if (text_cols(names[i]) > width) {
            width = text_cols(names[i]);
        }
    }

    if (json) {
        for (i = 0; i < l.n; i++) {
            const aim_agent_stats *a = &l.v[i];
            json_t *o = json_object();

            json_object_set_new(o, "agent", json_string(names[i]));
            json_object_set_new(o, "trust", json_real(round(a->trust * 10) / 10));
            json_object_set_new(o, "state", json_string(
                a->trust < (double) trust_min ? "low_trust"
                : a->learning ? "learning" : "normal"));
            json_object_set_new(o, "learning", json_boolean(a->learning));
            json_object_set_new(o, "events", json_integer((json_int_t) a->events));
            json_object_set_new(o, "denied", json_integer((json_int_t) a->denied));
            json_object_set_new(o, "anomalies",
                                json_integer((json_int_t) a->anomalies));
            json_object_set_new(o, "rate_short", json_real(a->rate_short));
            json_object_set_new(o, "rate_long", json_real(a->rate_long));
            json_object_set_new(o, "deny_recent", json_real(a->deny_recent));
            json_object_set_new(o, "new_recent", json_real(a->new_recent));
            json_object_set_new(o, "last_signal", a->last_signal != NULL
                                ? json_string(a->last_signal) : json_null());
            json_object_set_new(o, "first_seen", json_integer(a->first_seen));
            json_object_set_new(o, "last_seen", json_integer(a->last_seen));
            json_object_set_new(o, "last_seen_utc",
                                json_string(iso_time(a->last_seen, when)));
            print_json(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
            json_decref(o);
        }
    } else if (l.n == 0) {
        printf("no agents in \"%s\" yet\n", path);
    } else {
        print_padded("AGENT", width);
        printf(" %6s  %-8s %8s %8s %9s %11s %11s  %-16s %s\n",
               "TRUST", "LEARNING", "EVENTS", "DENIED", "ANOMALIES", "RATE/S(10s)",
               "RATE/S(1h)", "LAST SIGNAL", "LAST SEEN (UTC)");
        for (i = 0; i < l.n; i++) {
            const aim_agent_stats *a = &l.v[i];
            int is_low = a->trust < (double) trust_min;

            low += is_low;
            print_padded(names[i], width);
            printf(" %5.1f%c  %-8s %8llu %8llu %9llu %11.3f %11.3f  %-16s %s\n",
                   a->trust, is_low ? '*' : ' ',
                   a->learning ? "yes" : "no", (unsigned long long) a->events,
                   (unsigned long long) a->denied,
                   (unsigned long long) a->anomalies, a->rate_short,
                   a->rate_long, a->last_signal != NULL ? a->last_signal : "-",
                   iso_time(a->last_seen, when));
        }
        if (low > 0) {
            printf("\n* trust below %lld: these agents' decisions are denied "
                   "(low_trust) where trust_min is %lld\n", (long long) trust_min,
                   (long long) trust_min);
        }
    }
    for (i = 0; i < l.n; i++) {
        free(names[i]);
    }
    free(names);
    free(l.v);
    flush_stdout();
    return EXIT_OK;
}

static const char trust_usage[] =
"Usage: aimctl trust reset AGENT --state FILE\n"
"\n"
"Forget one agent's behavioural history in a host's state file: its trust\n"
"goes back to 100 and it starts a new learning period (docs/trust.md).  For\n"
"an operator who has investigated a low-trust agent; every adapter sharing\n"
"the file sees the reset at the agent's next decision.  Exit 1 when the\n"
"agent is not in the file.  To stop an agent, revoke it instead.\n"
"\n"
"  --state FILE    the state file (the adapters' 'state' setting)\n";

static int
cmd_trust(int argc, char **argv)
{
    static const struct option opts[] = {
        { "state", required_argument, NULL, 's' },
        { "help",  no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *path = NULL, *agent;
    aim_state  *st;
    int         c, rc;
    char       *shown;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc < 2) {
            usage_error("which action? (reset)");
        }
        fputs(trust_usage, stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "reset") != 0) {
        usage_error("no action \"%.32s\" (reset)", argv[1]);
    }
    snprintf(cmdbuf, sizeof(cmdbuf), "aimctl trust reset");
    argc--;
    argv++;
    while ((c = next_opt(argc, argv, opts)) != -1) {
        switch (c) {
        case 's': path = optarg; break;
        case 'h': fputs(trust_usage, stdout); return EXIT_OK;
        }
    }
    if (optind == argc) {
        usage_error("which agent? (aimctl trust reset AGENT --state FILE)");
    }
    if (optind + 1 < argc) {
        usage_error("one agent at a time, please");
    }
    agent = check_id("AGENT", argv[optind], 1024);
    if (path == NULL) {
        usage_error("--state is required");
    }

    st = state_open_existing(path);
    rc = aim_state_reset(st, agent);
    aim_state_close(st);
    shown = clean_text(agent, TEXT_TERMINAL);
    if (rc != 0) {
        fprintf(stderr, "%s: agent \"%s\" is not in \"%s\" (nothing to reset; "
                "'aimctl stats --state %s' lists the agents)\n", cmd, shown,
                path, path);
        free(shown);
        return EXIT_REJECTED;
    }
    printf("agent \"%s\": trust reset to 100, learning again\n", shown);
    free(shown);
    flush_stdout();
    return EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* audit                                                               */

#define AUDIT_MAX_LINE      (1024 * 1024)   /* longer lines are skipped */
#define AUDIT_MAX_NAMES     32              /* reasons / adapters / signals kept */
#define AUDIT_NAME_MAX      64
#define AUDIT_MAX_POINTS    (4u * 1024 * 1024)
#define SVG_MAX_POINTS      4000            /* drawn; more are bucketed */

typedef struct {
    char     name[AUDIT_NAME_MAX + 1];
    uint64_t n;
} counted;

typedef struct {
    counted  v[AUDIT_MAX_NAMES];
    size_t   n;
    uint64_t other;                 /* names beyond AUDIT_MAX_NAMES */
} counter;

typedef struct {
    char     *agent;                /* "" for decisions without one */
    uint64_t  decisions, allowed, denied;
    counter   reasons, adapters, signals;
    int64_t   first, last;          /* 0: no parsable ts */
    double    min_trust;
    int       has_trust;
} agent_sum;

typedef struct {
    int64_t  ts;
    double   x;                     /* ts, spread within its second */
    double   trust;
    size_t   seq;                   /* line order, for a stable sort */
    int      kind;                  /* 0 allow, 1 deny, 2 low_trust */
    char     reason[AUDIT_NAME_MAX + 1];
    char     signal[AUDIT_NAME_MAX + 1];
} trust_point;

typedef struct {
    agent_sum   **tab;              /* open addressing by agent id */
    size_t        cap, n;
    uint64_t      lines, decisions, skipped, untimed;
    const char   *agent;            /* --agent */
    trust_point  *pts;              /* its timeline */
    size_t        npts, cappts;
    uint64_t      no_trust;         /* its decisions without "trust" */
    int           truncated;
} audit_sum;

static void
count_name(counter *c, const char *name)
{
    size_t i;

    for (i = 0; i < c->n; i++) {
        if (strncmp(c->v[i].name, name, AUDIT_NAME_MAX) == 0) {
            c->v[i].n++;
            return;
        }
    }
    if (c->n == AUDIT_MAX_NAMES) {
        c->other++;
        return;
    }
    snprintf(c->v[c->n].name, sizeof(c->v[c->n].name), "%s", name);
    c->v[c->n++].n = 1;
}

static uint64_t
name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char) *s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static agent_sum *
audit_agent(audit_sum *a, const char *agent)
{
    size_t     i;
    agent_sum *s;

    if (a->n * 2 >= a->cap) {
        size_t      cap = a->cap != 0 ? a->cap * 2 : 256, j;
        agent_sum **tab = calloc(cap, sizeof(*tab));

        if (tab == NULL) {
            fail(EXIT_REJECTED, "out of memory");
        }
        for (j = 0; j < a->cap; j++) {
            if (a->tab[j] != NULL) {
                for (i = name_hash(a->tab[j]->agent) & (cap - 1); tab[i] != NULL;
                     i = (i + 1) & (cap - 1)) {
                }
                tab[i] = a->tab[j];
            }
        }
        free(a->tab);
        a->tab = tab;
        a->cap = cap;
    }
    for (i = name_hash(agent) & (a->cap - 1); a->tab[i] != NULL;
         i = (i + 1) & (a->cap - 1))
    {
        if (strcmp(a->tab[i]->agent, agent) == 0) {
            return a->tab[i];
        }
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->agent = strdup(agent)) == NULL) {
        fail(EXIT_REJECTED, "out of memory");
    }
    a->tab[i] = s;
    a->n++;
    return s;
}

static const char *
jstr(const json_t *o, const char *name)
{
    const json_t *v = json_object_get(o, name);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* One line of a log: the JSON object from its first '{' (adapters' logs
 * prefix it: "aim audit: ", "AUDIT: AIM,"; nginx appends ", client: ..."). */
static void
audit_line(audit_sum *a, const char *line, size_t len)
{
    const char   *brace = memchr(line, '{', len);
    const char   *decision, *reason, *adapter, *agent, *ts, *signal;
    const json_t *trust;
    json_t       *o;
    agent_sum    *s;
    int64_t       t = -1;
    int           deny;

    a->lines++;
    o = brace == NULL ? NULL
        : json_loadb(brace, len - (size_t) (brace - line),
                     JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, NULL);
    decision = jstr(o, "decision");
    if (!json_is_object(o) || decision == NULL
        || (strcmp(decision, "allow") != 0 && strcmp(decision, "deny") != 0))
    {
        a->skipped++;
        json_decref(o);
        return;
    }
    a->decisions++;
    deny = strcmp(decision, "deny") == 0;
    reason = jstr(o, "reason");
    adapter = jstr(o, "adapter");
    agent = jstr(o, "agent");
    ts = jstr(o, "ts");
    signal = jstr(o, "signal");
    trust = json_object_get(o, "trust");

    s = audit_agent(a, agent != NULL ? agent : "");
    s->decisions++;
    if (deny) {
        s->denied++;
        count_name(&s->reasons, reason != NULL ? reason : "(none)");
    } else {
        s->allowed++;
    }
    count_name(&s->adapters, adapter != NULL ? adapter : "(none)");
    if (signal != NULL) {
        count_name(&s->signals, signal);
    }
    if (ts != NULL) {
        t = parse_iso_time(ts);
    }
    if (t > 0) {
        if (s->first == 0 || t < s->first) s->first = t;
        if (t > s->last) s->last = t;
    } else {
        a->untimed++;
    }
    if (json_is_number(trust)) {
        double v = json_number_value(trust);

        if (!s->has_trust || v < s->min_trust) {
            s->min_trust = v;
        }
        s->has_trust = 1;
    }

    if (a->agent != NULL && agent != NULL && strcmp(agent, a->agent) == 0) {
        if (!json_is_number(trust) || t <= 0) {
            a->no_trust++;
        } else if (a->npts == AUDIT_MAX_POINTS) {
            a->truncated = 1;
        } else {
            trust_point *p;

            if (a->npts == a->cappts) {
                size_t       cap = a->cappts != 0 ? a->cappts * 2 : 1024;
                trust_point *v = realloc(a->pts, cap * sizeof(*v));

                if (v == NULL) {
                    fail(EXIT_REJECTED, "out of memory");
                }
                a->pts = v;
                a->cappts = cap;
            }
            p = &a->pts[a->npts];
            p->ts = t;
            p->trust = json_number_value(trust);
            p->trust = p->trust < 0 ? 0 : p->trust > 100 ? 100 : p->trust;
            p->seq = a->npts++;
            p->kind = !deny ? 0 : reason != NULL && strcmp(reason, "low_trust") == 0
                      ? 2 : 1;
            snprintf(p->reason, sizeof(p->reason), "%s", reason != NULL ? reason : "");
            snprintf(p->signal, sizeof(p->signal), "%s", signal != NULL ? signal : "");
        }
    }
    json_decref(o);
}

static int
sums_by_agent(const void *pa, const void *pb)
{
    const agent_sum *a = *(agent_sum *const *) pa, *b = *(agent_sum *const *) pb;

    return strcmp(a->agent, b->agent);
}

static int
points_by_time(const void *pa, const void *pb)
{
    const trust_point *a = pa, *b = pb;

    if (a->ts != b->ts) {
        return a->ts < b->ts ? -1 : 1;
    }
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Counts by name, most frequent first, into b: "a 3, b 1". */
static int
counted_desc(const void *pa, const void *pb)
{
    const counted *a = pa, *b = pb;

    if (a->n != b->n) {
        return a->n > b->n ? -1 : 1;
    }
    return strcmp(a->name, b->name);
}

static void
counter_text(sbuf *b, counter *c, int with_counts)
{
    size_t i;

    qsort(c->v, c->n, sizeof(c->v[0]), counted_desc);
    for (i = 0; i < c->n; i++) {
        if (i > 0) {
            sb_puts(b, ", ");
        }
        sb_text(b, c->v[i].name, TEXT_TERMINAL);
        if (with_counts) {
            sb_printf(b, " %llu", (unsigned long long) c->v[i].n);
        }
    }
    if (c->other > 0) {
        sb_printf(b, ", others %llu", (unsigned long long) c->other);
    }
    if (c->n == 0 && c->other == 0) {
        sb_puts(b, "-");
    }
}

static json_t *
counter_json(const counter *c, int as_object)
{
    json_t *j = as_object ? json_object() : json_array();
    size_t  i;
    char   *name;

    for (i = 0; i < c->n; i++) {
        name = clean_text(c->v[i].name, TEXT_UTF8);
        if (as_object) {
            json_object_set_new(j, name, json_integer((json_int_t) c->v[i].n));
        } else {
            json_array_append_new(j, json_string(name));
        }
        free(name);
    }
    if (c->other > 0 && as_object) {
        json_object_set_new(j, "(others)", json_integer((json_int_t) c->other));
    }
    return j;
}

static void
audit_print_agent(agent_sum *s, int json)
{
    char  when[32], when2[32];
    char *name = clean_text(s->agent, json ? TEXT_UTF8 : TEXT_TERMINAL);
    sbuf  b = { NULL, 0, 0 };

    if (json) {
        json_t *o = json_object();

        json_object_set_new(o, "agent", s->agent[0] != '\0' ? json_string(name)
                                                             : json_null());
        json_object_set_new(o, "decisions", json_integer((json_int_t) s->decisions));
        json_object_set_new(o, "allowed", json_integer((json_int_t) s->allowed));
        json_object_set_new(o, "denied", json_integer((json_int_t) s->denied));
        json_object_set_new(o, "denied_by_reason", counter_json(&s->reasons, 1));
        json_object_set_new(o, "adapters", counter_json(&s->adapters, 0));
        json_object_set_new(o, "signals", counter_json(&s->signals, 1));
        json_object_set_new(o, "first", s->first > 0
                            ? json_string(iso_time(s->first, when)) : json_null());
        json_object_set_new(o, "last", s->last > 0
                            ? json_string(iso_time(s->last, when)) : json_null());
        json_object_set_new(o, "min_trust", s->has_trust
                            ? json_real(s->min_trust) : json_null());
        print_json(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        json_decref(o);
        free(name);
        return;
    }

    printf("\n%s\n", s->agent[0] != '\0' ? name
           : "(no agent: the token did not verify)");
    printf("  decisions   %llu: %llu allowed, %llu denied\n",
           (unsigned long long) s->decisions, (unsigned long long) s->allowed,
           (unsigned long long) s->denied);
    if (s->denied > 0) {
        counter_text(&b, &s->reasons, 1);
        printf("  denied      %s\n", b.p);
        b.len = 0;
    }
    counter_text(&b, &s->adapters, 0);
    printf("  adapters    %s\n", b.p);
    b.len = 0;
    printf("  first/last  %s  %s\n", iso_time(s->first, when),
           iso_time(s->last, when2));
    if (s->has_trust) {
        printf("  min trust   %.1f\n", s->min_trust);
    }
    if (s->signals.n > 0) {
        counter_text(&b, &s->signals, 1);
        printf("  signals     %s\n", b.p);
    }
    free(b.p);
    free(name);
}

/* x/y of the chart's plot area. */
#define SVG_W   960
#define SVG_H   440
#define SVG_ML  70
#define SVG_MR  100
#define SVG_MT  90
#define SVG_MB  70

static const char *const point_colour[3] = { "#2e7d32", "#c62828", "#ef6c00" };
static const char *const point_label[3]  = { "allow", "deny", "deny: low_trust" };

/*
 * The agent's trust over time as a self-contained SVG document: one point
 * per decision coloured by its outcome (a tooltip says which), the
 * trust_min threshold dashed.  More than SVG_MAX_POINTS decisions are
 * bucketed, keeping the lowest trust of each bucket so no dip is lost.
 */
static void
render_svg(sbuf *b, const char *agent, trust_point *pts, size_t n,
           int64_t trust_min, const char *source)
{
    static const int64_t steps[] = {
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
        21600, 43200, 86400, 172800, 604800, 2592000, 31536000
    };
    const double pw = SVG_W - SVG_ML - SVG_MR, ph = SVG_H - SVG_MT - SVG_MB;
    int64_t      tick, step_s;
    size_t       i, j, k, step, kept = 0;
    double       x, y, mintrust = 100, t0, t1;
    char         when[32], when2[32], label[32];
    struct tm    tm;
    time_t       tt;
    int          counts[3] = { 0, 0, 0 };

    qsort(pts, n, sizeof(*pts), points_by_time);
    /* Audit times have whole seconds: spread the decisions of one second
     * evenly across it, in log order. */
    for (i = 0; i < n; i = j) {
        for (j = i; j < n && pts[j].ts == pts[i].ts; j++) {
        }
        for (k = i; k < j; k++) {
            pts[k].x = (double) pts[k].ts + (double) (k - i) / (double) (j - i);
        }
    }
    t0 = pts[0].x;
    t1 = pts[n - 1].x;
    if (t1 < t0 + 1) {
        t1 = t0 + 1;
    }
    for (i = 0; i < n; i++) {
        if (pts[i].trust < mintrust) {
            mintrust = pts[i].trust;
        }
        counts[pts[i].kind]++;
    }
    /* Bucket: keep each bucket's lowest-trust point (a denial on ties). */
    step = (n + SVG_MAX_POINTS - 1) / SVG_MAX_POINTS;
    for (i = 0; i < n; i += step) {
        k = i;
        for (j = i + 1; j < i + step && j < n; j++) {
            if (pts[j].trust < pts[k].trust
                || (pts[j].trust == pts[k].trust && pts[j].kind > pts[k].kind))
            {
                k = j;
            }
        }
        pts[kept++] = pts[k];
    }

#define X(t) (SVG_ML + pw * ((double) (t) - t0) / (t1 - t0))
#define Y(v) (SVG_MT + ph * (100.0 - (v)) / 100.0)

    sb_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
              "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
              SVG_W, SVG_H, SVG_W, SVG_H);
    sb_puts(b, "<title>AIM trust timeline: ");
    sb_text(b, agent, TEXT_XML);
    sb_puts(b, "</title>\n");
    sb_printf(b, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", SVG_W, SVG_H);
    sb_puts(b, "<text x=\"20\" y=\"28\" font-size=\"16\" font-weight=\"bold\">"
           "Trust timeline of ");
    sb_text(b, agent, TEXT_XML);
    sb_puts(b, "</text>\n<text x=\"20\" y=\"48\" fill=\"#555555\">");
    sb_printf(b, "%zu decisions from %s to %s; lowest trust %.1f; source ", n,
              iso_time(pts[0].ts, when), iso_time(pts[kept - 1].ts, when2),
              mintrust);
    sb_text(b, source, TEXT_XML);
    if (kept < n) {
        sb_printf(b, " (%zu points drawn, the lowest of each bucket)", kept);
    }
    sb_puts(b, "</text>\n");

    /* Grid, y labels, axes. */
    for (i = 0; i <= 4; i++) {
        y = Y(25.0 * (double) i);
        sb_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                  "stroke=\"#e0e0e0\"/>\n<text x=\"%d\" y=\"%.1f\" "
                  "text-anchor=\"end\">%zu</text>\n", SVG_ML, y, SVG_ML + pw, y,
                  SVG_ML - 8, y + 4, i * 25);
    }
    sb_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%.1f\" stroke=\"#000000\"/>\n"
              "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000000\"/>\n",
              SVG_ML, SVG_MT, SVG_ML, SVG_MT + ph, SVG_ML, SVG_MT + ph,
              SVG_ML + pw, SVG_MT + ph);
    sb_printf(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"middle\" "
              "transform=\"rotate(-90 %d %.1f)\">trust (0-100)</text>\n",
              SVG_ML - 45, SVG_MT + ph / 2, SVG_ML - 45, SVG_MT + ph / 2);
    sb_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">time (UTC)</text>\n",
              SVG_ML + pw / 2, SVG_H - 15);
    /* Ticks on round times, at most about 7 of them. */
    for (i = 0; i + 1 < sizeof(steps) / sizeof(steps[0])
                && (t1 - t0) / (double) steps[i] > 6; i++) {
    }
    step_s = steps[i];
    for (tick = ((int64_t) ceil(t0) + step_s - 1) / step_s * step_s;
         (double) tick <= t1; tick += step_s)
    {
        tt = (time_t) tick;
        gmtime_r(&tt, &tm);
        strftime(label, sizeof(label), t1 - t0 > 86400 ? "%m-%d %H:%M"
                 : step_s >= 60 ? "%H:%M" : "%H:%M:%S", &tm);
        x = X(tick);
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                  "stroke=\"#000000\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
                  "text-anchor=\"middle\">%s</text>\n", x, SVG_MT + ph, x,
                  SVG_MT + ph + 5, x, SVG_MT + ph + 20, label);
    }

    /* The threshold. */
    y = Y((double) trust_min);
    sb_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#c62828\" "
              "stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n"
              "<text x=\"%.1f\" y=\"%.1f\" fill=\"#c62828\">trust_min %lld</text>\n",
              SVG_ML, y, SVG_ML + pw, y, SVG_ML + pw + 6, y + 4,
              (long long) trust_min);

    /* The line, then the points with their tooltips. */
    sb_puts(b, "<polyline fill=\"none\" stroke=\"#1565c0\" stroke-width=\"1.5\" points=\"");
    for (i = 0; i < kept; i++) {
        sb_printf(b, "%s%.1f,%.1f", i > 0 ? " " : "", X(pts[i].x), Y(pts[i].trust));
    }
    sb_puts(b, "\"/>\n");
    for (i = 0; i < kept; i++) {
        sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%s %s",
                  X(pts[i].x), Y(pts[i].trust), point_colour[pts[i].kind],
                  iso_time(pts[i].ts, when), pts[i].kind == 0 ? "allow" : "deny");
        if (pts[i].kind != 0 && pts[i].reason[0] != '\0') {
            sb_puts(b, " ");
            sb_text(b, pts[i].reason, TEXT_XML);
        }
        sb_printf(b, ", trust %.1f", pts[i].trust);
        if (pts[i].signal[0] != '\0') {
            sb_puts(b, ", signal ");
            sb_text(b, pts[i].signal, TEXT_XML);
        }
        sb_puts(b, "</title></circle>\n");
    }

    /* Legend, in a row above the plot. */
    for (i = 0, x = 20; i < 3; i++, x += 170) {
        sb_printf(b, "<circle cx=\"%.1f\" cy=\"68\" r=\"4\" fill=\"%s\"/>\n"
                  "<text x=\"%.1f\" y=\"72\">%s (%d)</text>\n", x + 4,
                  point_colour[i], x + 12, point_label[i], counts[i]);
    }
    sb_printf(b, "<line x1=\"%.1f\" y1=\"68\" x2=\"%.1f\" y2=\"68\" stroke=\"#c62828\" "
              "stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n<text x=\"%.1f\" y=\"72\">"
              "trust_min (below it: low_trust)</text>\n", x, x + 24, x + 30);
    sb_puts(b, "</svg>\n");
#undef X
#undef Y
}

static const char audit_usage[] =
"Usage: aimctl audit FILE|- [--agent AGENT] [--json]\n"
"                   [--svg OUT.svg --agent AGENT [--trust-min N]]\n"
"\n"
"Summarise AIM audit lines per agent: decisions allowed and denied, denials\n"
"by reason, the adapters that decided, first and last time, the lowest\n"
"trust and the anomaly signals.  FILE holds one audit line per line, as\n"
"the 'audit' option writes them or as the adapters log them (any prefix\n"
"before the JSON object, such as 'aim audit: ' or 'AUDIT: AIM,', is\n"
"ignored); lines without an audit object are counted and skipped.\n"
"\n"
"  --agent AGENT   only this agent\n"
"  --json          one JSON object per agent, then {\"summary\":{...}}\n"
"  --svg OUT.svg   draw the agent's trust over time (needs --agent, and\n"
"                  audit lines with \"trust\": adapters with a state file)\n"
"  --trust-min N   the threshold drawn on the chart (default 50)\n";

static int
cmd_audit(int argc, char **argv)
{
    static const struct option opts[] = {
        { "agent",     required_argument, NULL, 'a' },
        { "svg",       required_argument, NULL, 'S' },
        { "json",      no_argument,       NULL, 'j' },
        { "trust-min", required_argument, NULL, 't' },
        { "help",      no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char  *path, *svg = NULL;
    audit_sum    a;
    FILE        *fp;
    char        *buf;
    size_t       len, i, k;
    int          c, json = 0, ch;
    int64_t      trust_min = 50;
    agent_sum  **list;

    memset(&a, 0, sizeof(a));
    while ((c = next_opt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'a': a.agent = optarg;     /* any id a log line may hold */
                  if (optarg[0] == '\0' || strlen(optarg) > 1024) {
                      usage_error("--agent: must be 1 to 1024 bytes");
                  }
                  break;
        case 'S': svg = optarg; break;
        case 'j': json = 1; break;
        case 't': trust_min = parse_int("--trust-min", optarg, 0, 100); break;
        case 'h': fputs(audit_usage, stdout); return EXIT_OK;
        }
    }
    if (optind == argc) {
        usage_error("no audit file given (FILE, or '-' for standard input)");
    }
    if (optind + 1 < argc) {
        usage_error("one audit file at a time, please (cat them into '-')");
    }
    if (svg != NULL && a.agent == NULL) {
        usage_error("--svg draws one agent's timeline: give --agent");
    }
    path = argv[optind];
    if (strcmp(path, "-") == 0) {
        fp = stdin;
    } else if ((fp = fopen(path, "re")) == NULL) {
        fail(EXIT_USAGE, "cannot read \"%s\": %s", path, strerror(errno));
    }

    buf = xmalloc(AUDIT_MAX_LINE + 2);
    while (fgets(buf, AUDIT_MAX_LINE + 2, fp) != NULL) {
        len = strlen(buf);
        if (len > 0 && buf[len - 1] != '\n' && len > AUDIT_MAX_LINE) {
            while ((ch = getc(fp)) != EOF && ch != '\n') {
            }
            a.lines++;
            a.skipped++;
            continue;
        }
        audit_line(&a, buf, len);
    }
    if (ferror(fp)) {
        fail(EXIT_REJECTED, "cannot read \"%s\": %s", path, strerror(errno));
    }
    if (fp != stdin) {
        fclose(fp);
    }
    free(buf);

    list = xmalloc((a.n + 1) * sizeof(*list));
    for (i = 0, k = 0; i < a.cap; i++) {
        if (a.tab[i] != NULL) {
            list[k++] = a.tab[i];
        }
    }
    qsort(list, k, sizeof(*list), sums_by_agent);

    if (a.agent != NULL) {
        for (i = 0; i < k && strcmp(list[i]->agent, a.agent) != 0; i++) {
        }
        if (i == k) {
            char *shown = clean_text(a.agent, TEXT_TERMINAL);
            fprintf(stderr, "%s: no decisions of agent \"%s\" in \"%s\" (%llu lines, "
                    "%llu decisions)\n", cmd, shown, path,
                    (unsigned long long) a.lines, (unsigned long long) a.decisions);
            exit(EXIT_REJECTED);
        }
    }

    if (!json) {
        printf("%s: %llu lines, %llu decisions, %llu skipped (no audit JSON), "
               "%zu agents\n", strcmp(path, "-") == 0 ? "(stdin)" : path,
               (unsigned long long) a.lines, (unsigned long long) a.decisions,
               (unsigned long long) a.skipped, k);
    }
    for (i = 0; i < k; i++) {
        if (a.agent == NULL || strcmp(list[i]->agent, a.agent) == 0) {
            audit_print_agent(list[i], json);
        }
    }
    if (json) {
        json_t *o = json_object(), *sum = json_object();

        json_object_set_new(sum, "lines", json_integer((json_int_t) a.lines));
        json_object_set_new(sum, "decisions", json_integer((json_int_t) a.decisions));
        json_object_set_new(sum, "skipped", json_integer((json_int_t) a.skipped));
        json_object_set_new(sum, "agents", json_integer((json_int_t) k));
        json_object_set_new(o, "summary", sum);
        print_json(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
    }
    flush_stdout();

    if (svg != NULL) {
        sbuf doc = { NULL, 0, 0 };

        if (a.npts == 0) {
            fail(EXIT_REJECTED, "no trust values for this agent: audit lines carry "
                 "\"trust\" only from adapters with a state file");
        }
        if (a.truncated) {
            warn("more than %u decisions; the chart shows the first %u",
                 AUDIT_MAX_POINTS, AUDIT_MAX_POINTS);
        }
        render_svg(&doc, a.agent, a.pts, a.npts, trust_min,
                   strcmp(path, "-") == 0 ? "standard input" : path);
        write_atomic(svg, doc.p, doc.len, 0644);
        free(doc.p);
    }

    for (i = 0; i < k; i++) {
        free(list[i]->agent);
        free(list[i]);
    }
    free(list);
    free(a.tab);
    free(a.pts);
    return EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* statuslist                                                          */

/* What verifiers accept (status.c): a signed list of at most 8 MiB that
 * inflates to at most AIM_STATUS_MAX_BYTES of statuses. */
#define STATUSLIST_JWT_MAX    (8u * 1024 * 1024)
#define STATUSLIST_BYTES_MAX  AIM_STATUS_MAX_BYTES
#define STATUSLIST_URI_MAX    2048

typedef struct {
    json_t        *header;
    json_t        *claims;
    unsigned char *data;
    size_t         len;
    int            bits;
} status_file;

/*
 * Read a statuslist+jwt WITHOUT verifying it: header, claims and the
 * inflated list.  Problems exit with code (1 for --show, which decodes
 * like inspect; 2 for --from, whose input is a usage error).
 */
static void
status_file_read(status_file *f, const char *path, int code)
{
    aim_error     err;
    struct stat   sb;
    FILE         *fp;
    char         *buf, *d1, *d2;
    size_t        len;
    const char   *why = NULL;
    const json_t *list, *bits, *lst;

    memset(f, 0, sizeof(*f));
    fp = fopen(path, "re");
    if (fp == NULL) {
        fail(code, "cannot read \"%s\": %s", path, strerror(errno));
    }
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)
        || (uint64_t) sb.st_size > STATUSLIST_JWT_MAX)
    {
        fail(code, "\"%s\" is not a regular file of at most %u bytes", path,
             STATUSLIST_JWT_MAX);
    }
    buf = xmalloc((size_t) sb.st_size + 1);
    len = fread(buf, 1, (size_t) sb.st_size, fp);
    fclose(fp);
    buf[len] = '\0';
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'
                       || buf[len - 1] == ' '))
    {
        buf[--len] = '\0';
    }
    d1 = memchr(buf, '.', len);
    d2 = d1 != NULL ? memchr(d1 + 1, '.', len - (size_t) (d1 + 1 - buf)) : NULL;
    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t) (d2 + 1 - buf)) != NULL) {
        fail(code, "\"%s\" is not a compact JWS (expected three segments "
             "separated by two dots)", path);
    }
    f->header = decode_segment(buf, (size_t) (d1 - buf), &why);
    if (f->header == NULL || !json_is_object(f->header)) {
        fail(code, "\"%s\": header is %s", path, why != NULL ? why : "not an object");
    }
    f->claims = decode_segment(d1 + 1, (size_t) (d2 - d1 - 1), &why);
    if (f->claims == NULL || !json_is_object(f->claims)) {
        fail(code, "\"%s\": claims are %s", path, why != NULL ? why : "not an object");
    }
    free(buf);
    list = json_object_get(f->claims, "status_list");
    bits = json_object_get(list, "bits");
    lst = json_object_get(list, "lst");
    if (!json_is_object(list) || !json_is_integer(bits) || !json_is_string(lst)) {
        fail(code, "\"%s\" has no status_list {bits, lst}: not a status list", path);
    }
    f->bits = (int) json_integer_value(bits);
    if (f->bits != 1 && f->bits != 2 && f->bits != 4 && f->bits != 8) {
        fail(code, "\"%s\": status_list.bits is %lld, not 1, 2, 4 or 8", path,
             (long long) json_integer_value(bits));
    }
    f->data = aim_statuslist_decode(json_string_value(lst), json_string_length(lst),
                                    &f->len, &err);
    if (f->data == NULL) {
        fail(code, "\"%s\": %s", path, err.message);
    }
}

static void
status_file_clear(status_file *f)
{
    json_decref(f->header);
    json_decref(f->claims);
    free(f->data);
    memset(f, 0, sizeof(*f));
}

/* Draft section 4: index i of b bits is in byte i*b/8, at bit offset
 * i*b%8, the least significant bits first. */
static unsigned
status_get(const unsigned char *data, int bits, uint64_t idx)
{
    uint64_t bit = idx * (uint64_t) bits;

    return (data[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
}

static void
status_put(unsigned char *data, int bits, uint64_t idx, unsigned value)
{
    uint64_t bit = idx * (uint64_t) bits;
    unsigned mask = ((1u << bits) - 1) << (bit % 8);

    data[bit / 8] = (unsigned char) ((data[bit / 8] & ~mask)
                                     | ((value << (bit % 8)) & mask));
}

static const char *
status_meaning(unsigned v)
{
    switch (v) {
    case 0:  return "valid";
    case 1:  return "invalid";
    case 2:  return "suspended";
    default: return "other";
    }
}

/* --set IDX[,IDX|FIRST-LAST...]=VALUE, VALUE a number or valid, invalid,
 * suspended; applied to a list of size entries of bits each. */
static void
status_set(unsigned char *data, int bits, uint64_t size, const char *spec)
{
    const char *eq = strrchr(spec, '='), *p = spec;
    unsigned    value, max = (1u << bits) - 1;
    char       *end;
    unsigned long long first, last, i;

    if (eq == NULL || eq == spec) {
        usage_error("--set: expected IDX=VALUE (or IDX,IDX,FIRST-LAST=VALUE), "
                    "got \"%.64s\"", spec);
    }
    if (strcmp(eq + 1, "valid") == 0) {
        value = 0;
    } else if (strcmp(eq + 1, "invalid") == 0 || strcmp(eq + 1, "revoked") == 0) {
        value = 1;
    } else if (strcmp(eq + 1, "suspended") == 0) {
        value = 2;
    } else {
        value = (unsigned) parse_int("--set", eq + 1, 0, 255);
    }
    if (value > max) {
        usage_error("--set: status %u does not fit in %d bit%s (at most %u)",
                    value, bits, bits > 1 ? "s" : "", max);
    }
    while (p < eq) {
        if (*p < '0' || *p > '9') {
            goto bad;
        }
        errno = 0;
        first = strtoull(p, &end, 10);
        last = first;
        if (errno != 0) {
            goto bad;
        }
        if (*end == '-') {
            p = end + 1;
            if (*p < '0' || *p > '9') {
                goto bad;
            }
            last = strtoull(p, &end, 10);
            if (errno != 0 || last < first) {
                goto bad;
            }
        }
        if (end != eq && (*end != ',' || end + 1 == eq)) {
            goto bad;
        }
        if (last >= size) {
            usage_error("--set: index %llu is outside the list (%llu entries; "
                        "--size makes a larger one)", last,
                        (unsigned long long) size);
        }
        for (i = first; i <= last; i++) {
            status_put(data, bits, i, value);
        }
        p = end + (end != eq);
    }
    return;
bad:
    usage_error("--set: \"%.64s\" is not IDX=VALUE (indices: N, N,M or N-M)", spec);
}

static const char statuslist_usage[] =
"Usage: aimctl statuslist --key PRIVATE --uri URI --out FILE\n"
"                         [--bits 1|2|4|8] [--size N] [--from FILE]\n"
"                         [--set IDX=STATUS]... [--ttl SECONDS]\n"
"                         [--refresh SECONDS] [--iat EPOCH] [--kid KID] [--alg ALG]\n"
"       aimctl statuslist --show FILE\n"
"\n"
"Create or update a signed Token Status List (draft-ietf-oauth-status-list,\n"
"typ statuslist+jwt) for revoking tokens across a fleet with one static\n"
"file.  Tokens point into it with \"status\":{\"status_list\":{\"idx\":N,\n"
"\"uri\":URI}} ('aimctl issue --status-idx N --status-uri URI'); verifiers\n"
"load it with the status_list option ('aimctl verify --status-list\n"
"\"URI FILE\"').  FILE is replaced atomically (temporary file, rename).\n"
"Prints a JSON summary.  Status 0 is valid; any other value rejects.\n"
"\n"
"  --key FILE       the signing key (its kid must be in the verifiers' keys)\n"
"  --uri URI        the list's URI: its \"sub\", and the tokens' status.uri\n"
"  --out FILE       where to write the list\n"
"  --bits B         bits per status: 1, 2, 4 or 8 (default 1)\n"
"  --size N         entries in the list (default 131072)\n"
"  --from FILE      start from an existing list (read, not verified): its\n"
"                   statuses, bits and size (--size may grow it) and, without\n"
"                   --uri, its URI\n"
"  --set I=S        set entry I to status S: a number or valid (0), invalid\n"
"                   or revoked (1), suspended (2); I may be N,M or N-M ranges;\n"
"                   repeatable\n"
"  --ttl SECONDS    lifetime: exp = now + SECONDS (default 86400); a list past\n"
"                   its exp is stale and rejects every token pointing to it\n"
"  --refresh S      the draft's \"ttl\" claim: how long consumers may cache it\n"
"  --iat EPOCH      issue time (default: now; exp follows from it)\n"
"  --kid KID, --alg ALG   as for 'aimctl issue'\n"
"  --show FILE      print a list's header, claims and non-zero entries\n"
"                   WITHOUT verifying it\n";

static int
statuslist_show(const char *path)
{
    status_file   f;
    json_t       *o, *claims, *nz;
    uint64_t      i, size, count = 0;
    unsigned      v;
    const json_t *exp;

    status_file_read(&f, path, EXIT_REJECTED);
    size = (uint64_t) f.len * 8 / (uint64_t) f.bits;
    o = json_object();
    json_object_set_new(o, "verified", json_false());
    json_object_set_new(o, "warning", json_string(
        "NOT VERIFIED: decoded without checking the signature, key or times; "
        "use 'aimctl verify --status-list' to check a token against it"));
    json_object_set(o, "header", f.header);
    claims = json_deep_copy(f.claims);
    json_object_del(json_object_get(claims, "status_list"), "lst");
    json_object_set_new(o, "claims", claims);
    exp = json_object_get(f.claims, "exp");
    if (json_is_integer(exp)) {
        json_object_set_new(o, "stale", json_boolean(
            json_integer_value(exp) <= (json_int_t) time(NULL)));
    }
    json_object_set_new(o, "bits", json_integer(f.bits));
    json_object_set_new(o, "size", json_integer((json_int_t) size));
    nz = json_array();
    for (i = 0; i < size; i++) {
        v = status_get(f.data, f.bits, i);
        if (v != 0) {
            json_t *e = json_object();

            json_object_set_new(e, "idx", json_integer((json_int_t) i));
            json_object_set_new(e, "status", json_integer(v));
            json_object_set_new(e, "meaning", json_string(status_meaning(v)));
            json_array_append_new(nz, e);
            count++;
        }
    }
    json_object_set_new(o, "nonzero_count", json_integer((json_int_t) count));
    json_object_set_new(o, "nonzero", nz);
    print_json(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    status_file_clear(&f);
    flush_stdout();
    return EXIT_OK;
}

static int
cmd_statuslist(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key",     required_argument, NULL, 'K' },
        { "uri",     required_argument, NULL, 'u' },
        { "out",     required_argument, NULL, 'o' },
        { "bits",    required_argument, NULL, 'b' },
        { "size",    required_argument, NULL, 'z' },
        { "from",    required_argument, NULL, 'f' },
        { "set",     required_argument, NULL, 's' },
        { "ttl",     required_argument, NULL, 't' },
        { "refresh", required_argument, NULL, 'r' },
        { "iat",     required_argument, NULL, 'I' },
        { "kid",     required_argument, NULL, 'k' },
        { "alg",     required_argument, NULL, 'l' },
        { "show",    required_argument, NULL, 'S' },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char   *key = NULL, *uri = NULL, *out = NULL, *from = NULL;
    const char   *show = NULL, *kid = NULL;
    strlist       sets = { {0}, 0 };
    int64_t       bits = 0, size = 0, ttl = 86400, refresh = 0, now = -1;
    int           c, other = 0;
    aim_alg       alg = AIM_ALG_NONE;
    signer        s;
    status_file   f;
    unsigned char *data;
    size_t        len, i, tlen;
    uint64_t      count = 0, k;
    json_t       *hdr, *claims, *list, *summary;
    char         *lst, *token, *uri_copy = NULL;
    aim_error     err;

    while ((c = next_opt(argc, argv, opts)) != -1) {
        other += c != 'S';
        switch (c) {
        case 'K': key = optarg; break;
        case 'u': uri = check_id("--uri", optarg, STATUSLIST_URI_MAX);
                  if (strpbrk(uri, " \t") != NULL) {
                      usage_error("--uri: a URI has no spaces");
                  }
                  break;
        case 'o': out = optarg; break;
        case 'b': bits = parse_int("--bits", optarg, 1, 8);
                  if (bits != 1 && bits != 2 && bits != 4 && bits != 8) {
                      usage_error("--bits: 1, 2, 4 or 8");
                  }
                  break;
        case 'z': size = parse_int("--size", optarg, 1,
                                   (int64_t) STATUSLIST_BYTES_MAX * 8); break;
        case 'f': from = optarg; break;
        case 's': list_add(&sets, "--set", optarg); break;
        case 't': ttl = parse_int("--ttl", optarg, 1, 10LL * 366 * 86400); break;
        case 'r': refresh = parse_int("--refresh", optarg, 1, 10LL * 366 * 86400);
                  break;
        case 'I': now = parse_int("--iat", optarg, 0, 253402300799LL); break;
        case 'k': kid = check_id("--kid", optarg, MAX_KID_LEN); break;
        case 'l': alg = parse_alg("--alg", optarg); break;
        case 'S': show = optarg; break;
        case 'h': fputs(statuslist_usage, stdout); return EXIT_OK;
        }
    }
    if (optind < argc) {
        usage_error("unexpected argument \"%.64s\"", argv[optind]);
    }
    if (show != NULL) {
        if (other > 0) {
            usage_error("--show takes no other option");
        }
        return statuslist_show(show);
    }
    if (key == NULL) usage_error("--key is required");
    if (out == NULL) usage_error("--out is required");
    if (uri == NULL && from == NULL) usage_error("--uri is required");

    if (from != NULL) {
        status_file_read(&f, from, EXIT_USAGE);
        if (bits != 0 && bits != f.bits) {
            usage_error("--bits %lld: the list in \"%s\" has %d bits per status "
                        "(--from keeps them)", (long long) bits, from, f.bits);
        }
        bits = f.bits;
        k = (uint64_t) f.len * 8 / (uint64_t) bits;
        if (size != 0 && (uint64_t) size < k) {
            usage_error("--size %lld: the list in \"%s\" has %llu entries; it "
                        "can grow, not shrink", (long long) size, from,
                        (unsigned long long) k);
        }
        if (size == 0) {
            size = (int64_t) k;
        }
        if (uri == NULL) {
            const char *sub = json_string_value(json_object_get(f.claims, "sub"));

            if (sub == NULL || sub[0] == '\0') {
                usage_error("the list in \"%s\" has no \"sub\": give --uri", from);
            }
            uri = uri_copy = strdup(check_id("the \"sub\" of --from", sub,
                                             STATUSLIST_URI_MAX));
        }
    } else {
        memset(&f, 0, sizeof(f));
        bits = bits != 0 ? bits : 1;
        size = size != 0 ? size : 131072;
    }
    len = (size_t) (((uint64_t) size * (uint64_t) bits + 7) / 8);
    if (len > STATUSLIST_BYTES_MAX) {
        usage_error("--size %lld with %lld bits is more than %u bytes of statuses",
                    (long long) size, (long long) bits, STATUSLIST_BYTES_MAX);
    }
    data = calloc(len, 1);
    if (data == NULL) {
        fail(EXIT_REJECTED, "out of memory");
    }
    if (f.data != NULL) {
        memcpy(data, f.data, f.len < len ? f.len : len);
    }
    status_file_clear(&f);
    for (i = 0; i < sets.n; i++) {
        status_set(data, (int) bits, (uint64_t) size, sets.v[i]);
    }
    for (k = 0; k < (uint64_t) size; k++) {
        count += status_get(data, (int) bits, k) != 0;
    }

    signer_load(&s, key, alg, 0, kid);
    lst = aim_statuslist_encode(data, len);
    if (lst == NULL) {
        fail(EXIT_REJECTED, "cannot compress the list (out of memory)");
    }
    free(data);

    if (now < 0) {
        now = (int64_t) time(NULL);
    }
    hdr = json_object();
    json_object_set_new(hdr, "alg", json_string(aim_alg_name(s.alg)));
    json_object_set_new(hdr, "typ", json_string("statuslist+jwt"));
    jset_str(hdr, "kid", s.kid, "--kid");
    claims = json_object();
    jset_str(claims, "sub", uri, "--uri");
    json_object_set_new(claims, "iat", json_integer(now));
    json_object_set_new(claims, "exp", json_integer(now + ttl));
    if (refresh > 0) {
        json_object_set_new(claims, "ttl", json_integer(refresh));
    }
    list = json_object();
    json_object_set_new(list, "bits", json_integer(bits));
    json_object_set_new(list, "lst", json_string(lst));
    json_object_set_new(claims, "status_list", list);
    free(lst);

    token = aim_jws_sign(s.pkey, s.alg, hdr, claims, &err);
    if (token == NULL) {
        fail(EXIT_REJECTED, "%s", err.message);
    }
    tlen = strlen(token);
    if (tlen > STATUSLIST_JWT_MAX) {
        fail(EXIT_REJECTED, "the signed list is %zu bytes, more than the %u "
             "verifiers accept (fewer entries or fewer bits)", tlen,
             STATUSLIST_JWT_MAX);
    }
    token[tlen] = '\n';
    write_atomic(out, token, tlen + 1, 0644);
    free(token);

    summary = json_object();
    lst = clean_text(out, TEXT_UTF8);
    json_object_set_new(summary, "out", json_string(lst));
    free(lst);
    jset_str(summary, "uri", uri, "--uri");
    json_object_set_new(summary, "kid", json_string(s.kid));
    json_object_set_new(summary, "bits", json_integer(bits));
    json_object_set_new(summary, "size", json_integer(size));
    json_object_set_new(summary, "nonzero", json_integer((json_int_t) count));
    json_object_set_new(summary, "iat", json_integer(now));
    json_object_set_new(summary, "exp", json_integer(now + ttl));
    print_json(summary, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(summary);
    json_decref(hdr);
    json_decref(claims);
    free(uri_copy);
    signer_clear(&s);
    flush_stdout();
    return EXIT_OK;
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
"  stats       agents, trust and rates in a host's state file\n"
"  trust       'trust reset AGENT': forget an agent's history (operator)\n"
"  audit       summarise audit lines per agent; trust timeline as SVG\n"
"  statuslist  create, update or show a signed Token Status List\n"
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
    { "stats",      cmd_stats },
    { "trust",      cmd_trust },
    { "audit",      cmd_audit },
    { "statuslist", cmd_statuslist },
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
                "verify inspect stats trust audit statuslist)", argv[1]);
}
