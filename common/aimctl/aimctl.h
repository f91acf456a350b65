/*
 * aimctl.h -- what aimctl's subcommands share (internal to aimctl).
 *
 * Each subcommand lives in its own file (keygen.c, jwks.c, issue.c, ...)
 * and is reached from the dispatch table in aimctl.c.  The helpers here
 * print messages the same way everywhere ("aimctl issue: ..."), exit
 * with the documented codes, parse options and read input with bounds,
 * load signing keys, and make untrusted text safe for terminals, JSON
 * and SVG.  Errors end the program: a subcommand never half-succeeds.
 */
#ifndef AIMCTL_H
#define AIMCTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/evp.h>
#include "aim.h"
#include "keys.h"

/* Exit status: success (valid), rejected or failed, usage or configuration. */
#define EXIT_OK       0
#define EXIT_REJECTED 1
#define EXIT_USAGE    2

/* A number macro as a string literal: AIM_STR(AIM_MAX_SCOPES) is "64". */
#define AIM_STR_(x)   #x
#define AIM_STR(x)    AIM_STR_(x)

#define AIMCTL_MAX_INPUT     (1024 * 1024)    /* token / proof read from stdin */
#define MAX_KID_LEN   256
#define MAX_LIST      64               /* repeated options */

/* Key files may carry these lines after the PEM block (keygen writes
 * them): OpenSSL and RFC 7468 ignore text outside the boundaries. */
#define META_ALG      "aimctl-alg: "
#define META_KID      "aimctl-kid: "

/* The subcommands: argv[0] is the subcommand's name. */
int cmd_keygen(int argc, char **argv);
int cmd_jwks(int argc, char **argv);
int cmd_thumbprint(int argc, char **argv);
int cmd_issue(int argc, char **argv);
int cmd_dpop(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_trust(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_statuslist(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_unrevoke(int argc, char **argv);
int cmd_options(int argc, char **argv);
int cmd_ssf(int argc, char **argv);
int cmd_fetch(int argc, char **argv);

/* ------------------------------------------------------------------ */
/* Messages (util.c)                                                   */

/* "aimctl" or "aimctl issue": the prefix of every message. */
extern const char *cmd;
/* Name the running subcommand ("issue", "trust reset") in messages. */
void set_cmd(const char *name);

/* "aimctl issue: MESSAGE\nTry 'aimctl issue --help'." and exit 2. */
void usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* "aimctl issue: MESSAGE" and exit code. */
void fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
/* "aimctl issue: warning: MESSAGE"; carries on. */
void warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* malloc() or exit 1. */
void *xmalloc(size_t n);

/* ------------------------------------------------------------------ */
/* Options (util.c)                                                    */

/* getopt_long with our own messages: the option's value, or -1 at the
 * end; unknown options and missing values are usage errors. */
int next_opt(int argc, char **argv, const struct option *opts);
/* No arguments left after the options, or a usage error. */
void no_more_args(int argc, char **argv);
/* Exactly one argument left: it; else a usage error saying missing or
 * extra. */
const char *one_arg(int argc, char **argv, const char *missing,
                    const char *extra);
/* The same for a TOKEN|- argument. */
const char *token_arg(int argc, char **argv);
int64_t parse_int(const char *opt, const char *s, int64_t min, int64_t max);
aim_alg parse_alg(const char *opt, const char *s);
/* An identifier given on the command line: 1..max bytes, no controls. */
const char *check_id(const char *opt, const char *s, size_t max);

typedef struct {
    const char *v[MAX_LIST];
    size_t      n;
} strlist;

void list_add(strlist *l, const char *opt, const char *s);

/* ------------------------------------------------------------------ */
/* Input and output (util.c)                                           */

/* The argument itself, or standard input for "-" with one trailing
 * newline removed.  NUL-terminated, malloc()ed. */
char *read_arg(const char *arg, const char *what, size_t *len);

void print_json(const json_t *v, size_t flags);
/* Flush standard output or exit 1 (a full disk is an error). */
void flush_stdout(void);

/* "k=v" into obj; opt names the option in errors.  v is used as JSON
 * when it parses as JSON, else as a string. */
void set_pair(json_t *obj, const char *opt, const char *pair);
/* obj[name] = a string the user gave; invalid UTF-8 is a usage error. */
void jset_str(json_t *obj, const char *name, const char *value, const char *opt);
/* id, or 128 random bits in base64url written to buf (a jti). */
const char *id_or_random(const char *id, char buf[23]);

/* {"verified": false, "warning": "NOT VERIFIED: decoded without checking
 * UNCHECKED"}: the head of what the decoding commands print. */
json_t *unverified(const char *unchecked);
/* A compact JWS's three segments: 0 with its two dots, or -1. */
int jws_split(const char *s, size_t len, const char **dot1, const char **dot2);
/* Decode one base64url segment holding JSON; NULL with *why set. */
json_t *decode_segment(const char *seg, size_t len, const char **why);

/* ------------------------------------------------------------------ */
/* Private keys (signer.c)                                             */

typedef struct {
    const char *path;
    EVP_PKEY   *pkey;
    aim_alg     alg;
    char        kid[MAX_KID_LEN + 1];
    char        jkt[44];            /* RFC 7638 thumbprint */
} signer;

/*
 * Load a private key and decide its algorithm and kid: the command line
 * first, then what keygen recorded in the file, then the defaults (the
 * key's type; the RFC 7638 thumbprint).  rsa_only: alg applies to RSA
 * keys only (jwks --alg).
 */
void signer_load(signer *s, const char *path, aim_alg alg, int rsa_only,
                 const char *kid);
void signer_clear(signer *s);
/* The public JWK with only the members RFC 7638 hashes (for DPoP). */
json_t *signer_bare_jwk(const signer *s);
/* The compact JWS of header and claims, malloc()ed; exit 1 on failure. */
char *signer_sign(const signer *s, const json_t *hdr, const json_t *claims);

/* ------------------------------------------------------------------ */
/* Text (text.c)                                                       */

/* A growing string; out of memory ends the program. */
typedef struct {
    char   *p;
    size_t  len;
    size_t  cap;
} sbuf;

void sb_put(sbuf *b, const char *s, size_t n);
void sb_puts(sbuf *b, const char *s);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Untrusted text (agent ids, reasons from log lines) made safe for where
 * it goes: TEXT_TERMINAL shows control characters (C0, C1, bidirectional
 * controls) and invalid UTF-8 as \xNN; TEXT_XML escapes markup and
 * replaces what XML 1.0 cannot carry with '?'; TEXT_UTF8 only replaces
 * invalid UTF-8 with '?' (for jansson).
 */
enum { TEXT_TERMINAL, TEXT_XML, TEXT_UTF8 };
void sb_text(sbuf *b, const char *s, int how);
/* A malloc()ed copy of s made safe as sb_text does. */
char *clean_text(const char *s, int how);
/* Columns a UTF-8 string takes (one per code point), and s padded to
 * width with spaces on standard output. */
int text_cols(const char *s);
void print_padded(const char *s, int width);

/* "2026-11-28T23:59:59Z" (UTC); "-" for 0 (never). */
const char *iso_time(int64_t t, char buf[32]);
/* The "ts" of an audit line (YYYY-MM-DDTHH:MM:SS[.fraction]Z), or -1. */
int64_t parse_iso_time(const char *s);

/* Room for one more element in a growing array v of n elements of size
 * bytes (capacity *cap): v, or its new address.  Exit 1 out of memory. */
void *grow(void *v, size_t n, size_t *cap, size_t size);

/* ------------------------------------------------------------------ */
/* Files (file.c)                                                      */

struct stat;

/*
 * Replace path with data atomically: a temporary file in the same
 * directory, written, synced and renamed over path (and the directory
 * synced), so a reader (an adapter reloading a list) sees the old file or
 * the new one, never half of one.  mode is masked by the umask.  Any
 * failure exits 1 and leaves path as it was.
 */
void write_atomic(const char *path, const char *data, size_t len, mode_t mode);

/* The same in steps, to check the new file before it replaces path:
 * temp_write writes and syncs it (with like's owner and mode when like is
 * given, else mode masked by the umask) and returns its malloc()ed name;
 * temp_commit renames it over path; temp_discard removes it. */
char *temp_write(const char *path, const char *data, size_t len,
                 const struct stat *like, mode_t mode);
void temp_commit(char *tmp, const char *path);
void temp_discard(char *tmp);

/* Has path changed (inode, size, mtime) since it was read as st, or
 * appeared when it did not exist (existed 0)?  Writers that do not take
 * the lock below replace files too. */
int file_changed_since(const char *path, const struct stat *st, int existed);

/* Exclusive lock between aimctl writers of path: flock() on "path.lock"
 * (created if needed, never removed), held until exit.  Returns its fd. */
int lock_writers(const char *path);

/* ------------------------------------------------------------------ */
/* The host configuration (config.c)                                   */

/* A new configuration, or exit 1. */
aim_config *cli_config_new(void);
/* One option from the command line (opt names it in errors), or a usage
 * error; such options win over the --config file's, whatever the order. */
void cli_config_set(aim_config *cfg, const char *opt, const char *name,
                    const char *value);
/* The host configuration file, or exit 2 naming its line. */
void cli_config_load(aim_config *cfg, const char *path);
/* What the configuration names: NULL when it names none. */
const char *cli_config_state(const aim_config *cfg);
const char *cli_config_revoked(const aim_config *cfg);
/* The URI of the status_list held in the file path. */
const char *cli_config_status_uri(const aim_config *cfg, const char *path);
/* The token keys ("keys"), each bound to its issuer as the verifier
 * binds them; NULL when none are configured; exit 2 when they fail. */
aim_keyset *cli_config_keys(const aim_config *cfg);

/* ------------------------------------------------------------------ */
/* HTTP (http.c): libcurl, for fetch and ssf poll                      */

enum {
    OPT_CACERT = 0x100,
    OPT_CLIENT_CERT,
    OPT_CLIENT_KEY,
    OPT_TOKEN_FILE,
    OPT_TIMEOUT,
    OPT_CONNECT_TIMEOUT,
    OPT_MAX_SIZE,
    OPT_INSECURE,
    OPT_HTTP_END
};

/* The long options every command that makes requests takes. */
#define HTTP_LONG_OPTIONS \
    { "cacert",          required_argument, NULL, OPT_CACERT }, \
    { "client-cert",     required_argument, NULL, OPT_CLIENT_CERT }, \
    { "client-key",      required_argument, NULL, OPT_CLIENT_KEY }, \
    { "token-file",      required_argument, NULL, OPT_TOKEN_FILE }, \
    { "timeout",         required_argument, NULL, OPT_TIMEOUT }, \
    { "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT }, \
    { "max-size",        required_argument, NULL, OPT_MAX_SIZE }, \
    { "insecure",        no_argument,       NULL, OPT_INSECURE }

/* The same, in the usage texts. */
#define HTTP_USAGE \
"  --cacert FILE        trust the CAs in FILE (PEM) instead of the system's\n" \
"  --client-cert FILE, --client-key FILE   authenticate with this client\n" \
"                       certificate (PEM; the key not readable by others)\n" \
"  --token-file FILE    authenticate with the bearer token in FILE (not\n" \
"                       readable by others; read at every request)\n" \
"  --timeout S          give up on a request after S seconds (default 30)\n" \
"  --connect-timeout S  ... on connecting after S seconds (default 10)\n"

typedef struct {
    const char *cacert;
    const char *client_cert;
    const char *client_key;
    const char *token_file;
    long        timeout;          /* seconds, the whole request */
    long        connect_timeout;
    size_t      max_size;         /* bytes of a response body */
    int         redirects;        /* to follow (HTTPS only); 0: none */
} http_opts;

typedef struct {
    long    status;               /* the HTTP status */
    char   *body;                 /* NUL-terminated (len bytes) */
    size_t  len;
    char    etag[256];            /* "" when absent or unusable */
    char    last_modified[64];
    char    content_type[128];
} http_response;

/* Defaults: 30 s, 10 s to connect. */
void http_opts_init(http_opts *o);
/* Option c with optarg: 1 when it was one of HTTP_LONG_OPTIONS. */
int http_opt(http_opts *o, int c);
/* After parsing: --max-size (default and at most limit), options that
 * go together, files that exist; usage errors otherwise. */
void http_opts_check(http_opts *o, size_t limit);
/* A URL aimctl will request (https://, or http:// to the loopback), or
 * a usage error naming opt. */
void http_check_url(const char *opt, const char *url);
/*
 * GET url (post_json NULL) or POST the JSON document; with validators,
 * a conditional GET.  0 when an answer arrived (any status: see
 * r->status), -1 with why when none did (transport, TLS, time limit, a
 * body over max_size).
 */
int http_request(const http_opts *o, const char *url, const char *post_json,
                 const char *if_none_match, const char *if_modified_since,
                 http_response *r, char *why, size_t whylen);
void http_response_clear(http_response *r);

/* ------------------------------------------------------------------ */
/* State files (stats.c)                                               */

struct aim_state;
/* An existing, valid state file (aim_state_open_existing with flags), or
 * exit 2 saying what is wrong with it; never creates or rebuilds one. */
struct aim_state *open_state(const char *path, unsigned flags);

/* ------------------------------------------------------------------ */
/* The audit trust timeline (audit.c, svg.c)                           */

#define AUDIT_NAME_MAX      64

typedef struct {
    int64_t  ts;
    double   x;                     /* ts, spread within its second */
    double   trust;
    size_t   seq;                   /* line order, for a stable sort */
    int      kind;                  /* 0 allow, 1 deny, 2 low_trust */
    char     reason[AUDIT_NAME_MAX + 1];
    char     signal[AUDIT_NAME_MAX + 1];
} trust_point;

/* The agent's trust over time as a self-contained SVG document (sorts
 * and buckets pts in place). */
void render_svg(sbuf *b, const char *agent, trust_point *pts, size_t n,
                int64_t trust_min, const char *source);

#endif
