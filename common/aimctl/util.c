/*
 * util.c -- aimctl's messages, option parsing, input and JSON output.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include "aimctl.h"
#include "b64.h"

const char  *cmd = "aimctl";     /* "aimctl issue" in messages */
static char  cmdbuf[64];

void
set_cmd(const char *name)
{
    snprintf(cmdbuf, sizeof(cmdbuf), "aimctl %s", name);
    cmd = cmdbuf;
}

/* "aimctl issue: [kind]message\n" on standard error. */
static void
report(const char *kind, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: %s", cmd, kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void
usage_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report("", fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help'.\n", cmd);
    exit(EXIT_USAGE);
}

void
fail(int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report("", fmt, ap);
    va_end(ap);
    exit(code);
}

void
warning(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report("warning: ", fmt, ap);
    va_end(ap);
}

void *
xmalloc(size_t n)
{
    void *p = malloc(n != 0 ? n : 1);

    if (p == NULL) {
        fail(EXIT_REJECTED, "out of memory");
    }
    return p;
}

void *
grow(void *v, size_t n, size_t *cap, size_t size)
{
    size_t c = *cap != 0 ? *cap * 2 : 64;

    if (n < *cap) {
        return v;
    }
    if (c > SIZE_MAX / size || (v = realloc(v, c * size)) == NULL) {
        fail(EXIT_REJECTED, "out of memory");
    }
    *cap = c;
    return v;
}

/*
 * getopt_long with our own messages.  Returns the option's value or -1
 * at the end; unknown options and missing arguments are usage errors.
 */
int
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

void
no_more_args(int argc, char **argv)
{
    if (optind < argc) {
        usage_error("unexpected argument \"%.64s\"", argv[optind]);
    }
}

const char *
one_arg(int argc, char **argv, const char *missing, const char *extra)
{
    if (optind == argc) {
        usage_error("%s", missing);
    }
    if (optind + 1 < argc) {
        usage_error("%s", extra);
    }
    return argv[optind];
}

const char *
token_arg(int argc, char **argv)
{
    return one_arg(argc, argv, "no token given (TOKEN, or '-' for standard input)",
                   "unexpected argument after the token");
}

int64_t
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

aim_alg
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
const char *
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

void
list_add(strlist *l, const char *opt, const char *s)
{
    if (l->n == MAX_LIST) {
        usage_error("%s: given more than %d times", opt, MAX_LIST);
    }
    l->v[l->n++] = s;
}

/* The argument itself, or standard input for "-" with one trailing
 * newline removed.  NUL-terminated, malloc()ed. */
char *
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

void
print_json(const json_t *v, size_t flags)
{
    char *s = json_dumps(v, flags | JSON_ENSURE_ASCII);

    if (s == NULL) {
        fail(EXIT_REJECTED, "out of memory");
    }
    puts(s);
    free(s);
}

void
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
void
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
void
jset_str(json_t *obj, const char *name, const char *value, const char *opt)
{
    if (json_object_set_new(obj, name, json_string(value)) != 0) {
        usage_error("%s: \"%.64s\" is not valid UTF-8", opt, value);
    }
}

const char *
id_or_random(const char *id, char buf[23])
{
    unsigned char r[16];

    if (id != NULL) {
        return id;
    }
    if (RAND_bytes(r, sizeof(r)) != 1) {
        fail(EXIT_REJECTED, "no randomness available");
    }
    aim_b64url_encode(r, sizeof(r), buf);
    return buf;
}

json_t *
unverified(const char *unchecked)
{
    json_t *o = json_object();
    char    msg[256];

    snprintf(msg, sizeof(msg), "NOT VERIFIED: decoded without checking %s",
             unchecked);
    json_object_set_new(o, "verified", json_false());
    json_object_set_new(o, "warning", json_string(msg));
    return o;
}

int
jws_split(const char *s, size_t len, const char **dot1, const char **dot2)
{
    const char *d1 = memchr(s, '.', len), *d2;

    d2 = d1 != NULL ? memchr(d1 + 1, '.', len - (size_t) (d1 + 1 - s)) : NULL;
    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t) (d2 + 1 - s)) != NULL) {
        return -1;
    }
    *dot1 = d1;
    *dot2 = d2;
    return 0;
}

/* Decode one base64url segment holding JSON; NULL with *why set. */
json_t *
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
