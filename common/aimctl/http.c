/*
 * http.c -- the HTTP client of aimctl fetch and aimctl ssf poll (libcurl).
 *
 * What a security tool on a timer needs and nothing else: HTTPS with the
 * server's certificate verified (the system's CAs, or --cacert), TLS 1.2
 * at least, plain HTTP only to this host's loopback (nothing crosses a
 * network in the clear), a client certificate or a bearer token to
 * authenticate with, a cap on the body (checked while it arrives, not
 * only against Content-Length), time limits, and redirects only where
 * asked for and only to HTTPS.  Only aimctl links libcurl; the core and
 * the adapters never make a network call.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include "aimctl.h"
#include "util.h"

#define HTTP_MAX_URL    4096
#define HTTP_MAX_TOKEN  8192

void
http_opts_init(http_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->timeout = 30;
    o->connect_timeout = 10;
}

/* A file holding a secret (a bearer token, a private key) must not be
 * readable by other users: refuse it as the core refuses such keys. */
static void
check_private(const char *opt, const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        fail(EXIT_USAGE, "%s: cannot read \"%s\": %s", opt, path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        fail(EXIT_USAGE, "%s: \"%s\" is not a regular file", opt, path);
    }
    if (st.st_mode & S_IROTH) {
        fail(EXIT_USAGE, "%s: \"%s\" is readable by other users (mode %04o); it "
             "holds a secret: chmod o-r", opt, path, (unsigned) (st.st_mode & 07777));
    }
}

int
http_opt(http_opts *o, int c)
{
    switch (c) {
    case OPT_CACERT:
        o->cacert = optarg;
        return 1;
    case OPT_CLIENT_CERT:
        o->client_cert = optarg;
        return 1;
    case OPT_CLIENT_KEY:
        check_private("--client-key", optarg);
        o->client_key = optarg;
        return 1;
    case OPT_TOKEN_FILE:
        check_private("--token-file", optarg);
        o->token_file = optarg;
        return 1;
    case OPT_TIMEOUT:
        o->timeout = (long) parse_int("--timeout", optarg, 1, 3600);
        return 1;
    case OPT_CONNECT_TIMEOUT:
        o->connect_timeout = (long) parse_int("--connect-timeout", optarg, 1, 600);
        return 1;
    case OPT_MAX_SIZE:
        o->max_size = (size_t) parse_int("--max-size", optarg, 1, INT32_MAX);
        return 1;
    case OPT_INSECURE:
        usage_error("--insecure is refused: what this command brings decides who "
                    "is let in, so the server must prove who it is.  Give the CA "
                    "that signed its certificate with --cacert FILE");
    }
    return 0;
}

void
http_opts_check(http_opts *o, size_t limit)
{
    if (o->max_size == 0) {
        o->max_size = limit;
    } else if (o->max_size > limit) {
        usage_error("--max-size: at most %zu bytes here (what the file's loader "
                    "itself accepts)", limit);
    }
    if ((o->client_cert == NULL) != (o->client_key == NULL)) {
        usage_error("--client-cert and --client-key go together");
    }
    if (o->cacert != NULL) {
        struct stat st;

        if (stat(o->cacert, &st) != 0 || !S_ISREG(st.st_mode)) {
            fail(EXIT_USAGE, "--cacert: \"%s\" is not a readable file", o->cacert);
        }
    }
    if (o->client_cert != NULL) {
        struct stat st;

        if (stat(o->client_cert, &st) != 0 || !S_ISREG(st.st_mode)) {
            fail(EXIT_USAGE, "--client-cert: \"%s\" is not a readable file",
                 o->client_cert);
        }
    }
}

/* Is host (as it appears in a URL) this machine's loopback? */
static int
loopback_host(const char *host, size_t len)
{
    size_t i;
    int    dots = 0;

    if ((len == 9 && strncasecmp(host, "localhost", 9) == 0)
        || (len == 5 && memcmp(host, "[::1]", 5) == 0))
    {
        return 1;
    }
    if (len < 9 || strncmp(host, "127.", 4) != 0) {
        return 0;
    }
    for (i = 4; i < len; i++) {
        if (host[i] == '.') {
            dots++;
        } else if (!isdigit((unsigned char) host[i])) {
            return 0;
        }
    }
    return dots == 2;
}

void
http_check_url(const char *opt, const char *url)
{
    const char *host, *end;
    size_t      len = strlen(url), i;

    if (len == 0 || len > HTTP_MAX_URL) {
        usage_error("%s: a URL of 1 to %d bytes, please", opt, HTTP_MAX_URL);
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char) url[i] <= 0x20 || url[i] == 0x7f) {
            usage_error("%s: blanks and control characters are not allowed in a "
                        "URL", opt);
        }
    }
    if (strncasecmp(url, "https://", 8) == 0) {
        host = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        host = url + 7;
        end = host + strcspn(host, "/?#");
        /* No user information: "http://127.0.0.1:x@elsewhere/" goes to
         * elsewhere. */
        if (memchr(host, '@', (size_t) (end - host)) != NULL) {
            end = host;
        } else if (*host == '[') {
            /* Skip a port; keep "[::1]" whole. */
            end = strchr(host, ']') != NULL ? strchr(host, ']') + 1 : end;
        } else if (memchr(host, ':', (size_t) (end - host)) != NULL) {
            end = memchr(host, ':', (size_t) (end - host));
        }
        if (!loopback_host(host, (size_t) (end - host))) {
            usage_error("%s: \"%.200s\" is plain HTTP: only https:// URLs are "
                        "fetched (http:// only to this host's loopback, 127.0.0.1 "
                        "or [::1])", opt, url);
        }
    } else {
        usage_error("%s: \"%.200s\" is not an https:// URL", opt, url);
    }
    if (*host == '\0' || *host == '/') {
        usage_error("%s: \"%.200s\" has no host", opt, url);
    }
}

/* A bearer token from its file: RFC 6750's b64token, one line. */
static char *
read_token(const char *path, char *why, size_t whylen)
{
    aim_error    err;
    struct stat  st;
    size_t       len, i;
    char        *tok = aim_read_file(path, HTTP_MAX_TOKEN + 2, &len, &st, &err);

    if (tok == NULL) {
        snprintf(why, whylen, "--token-file: %s", err.message);
        return NULL;
    }
    while (len > 0 && (tok[len - 1] == '\n' || tok[len - 1] == '\r')) {
        tok[--len] = '\0';
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) tok[i];

        if (!(isalnum(c) || strchr("-._~+/=", c) != NULL) || (c == '=' && i == 0)) {
            break;
        }
    }
    if (len == 0 || len > HTTP_MAX_TOKEN || i < len) {
        OPENSSL_cleanse(tok, len);
        free(tok);
        snprintf(why, whylen, "--token-file: \"%s\" does not hold one bearer "
                 "token (1 to %d characters of A-Z a-z 0-9 - . _ ~ + / =, on one "
                 "line)", path, HTTP_MAX_TOKEN);
        return NULL;
    }
    return tok;
}

typedef struct {
    http_response *r;
    size_t         max;
    int            too_large;
} sink;

static size_t
on_body(char *data, size_t size, size_t n, void *ud)
{
    sink   *s = ud;
    size_t  len = size * n;
    char   *p;

    if (len > s->max - s->r->len) {
        s->too_large = 1;
        return 0;                        /* curl stops: a write error */
    }
    p = realloc(s->r->body, s->r->len + len + 1);
    if (p == NULL) {
        return 0;
    }
    memcpy(p + s->r->len, data, len);
    s->r->body = p;
    s->r->len += len;
    p[s->r->len] = '\0';
    return len;
}

/* A response header worth keeping: printable, short, else "". */
static void
keep_header(CURL *c, const char *name, char *out, size_t size)
{
    struct curl_header *h;
    size_t              len, i;

    out[0] = '\0';
    if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK) {
        return;
    }
    len = strlen(h->value);
    if (len == 0 || len >= size) {
        return;
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char) h->value[i] < 0x20 || h->value[i] == 0x7f) {
            return;
        }
    }
    memcpy(out, h->value, len + 1);
}

static int curl_ready;

static void
curl_done(void)
{
    curl_global_cleanup();
}

int
http_request(const http_opts *o, const char *url, const char *post_json,
             const char *if_none_match, const char *if_modified_since,
             http_response *r, char *why, size_t whylen)
{
    CURL              *c;
    CURLcode           rc;
    struct curl_slist *hdrs = NULL;
    char               errbuf[CURL_ERROR_SIZE], line[512];
    char              *token = NULL;
    sink               s;
    int                ok = -1;

    memset(r, 0, sizeof(*r));
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
            snprintf(why, whylen, "libcurl cannot start");
            return -1;
        }
        atexit(curl_done);
        curl_ready = 1;
    }
    if (o->token_file != NULL
        && (token = read_token(o->token_file, why, whylen)) == NULL)
    {
        return -1;
    }
    c = curl_easy_init();
    if (c == NULL) {
        snprintf(why, whylen, "libcurl: out of memory");
        goto out;
    }
    s.r = r;
    s.max = o->max_size;
    s.too_large = 0;
    errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "aimctl/" AIM_VERSION);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, o->redirects > 0 ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long) o->redirects);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, o->timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o->connect_timeout);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) o->max_size);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    if (o->cacert != NULL) {
        curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
    }
    if (o->client_cert != NULL) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, o->client_cert);
        curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(c, CURLOPT_SSLKEY, o->client_key);
        curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (token != NULL) {
        /* Sent to this host only: libcurl does not pass credentials on
         * to another host when it follows a redirect. */
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long) CURLAUTH_BEARER);
        curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, token);
    }
    if (post_json != NULL) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        hdrs = curl_slist_append(hdrs, "Accept: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_json);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) strlen(post_json));
    }
    if (if_none_match != NULL && if_none_match[0] != '\0') {
        snprintf(line, sizeof(line), "If-None-Match: %s", if_none_match);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (if_modified_since != NULL && if_modified_since[0] != '\0') {
        snprintf(line, sizeof(line), "If-Modified-Since: %s", if_modified_since);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (hdrs != NULL) {
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    }

    rc = curl_easy_perform(c);
    if (s.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(why, whylen, "the answer from %.200s is larger than %zu bytes "
                 "(--max-size)", url, o->max_size);
        goto out;
    }
    if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
        /* The URL itself was checked: a redirect led elsewhere. */
        snprintf(why, whylen, "%.200s redirects to a URL that is not https:// "
                 "(refused)", url);
        goto out;
    }
    if (rc != CURLE_OK) {
        snprintf(why, whylen, "%.200s: %s", url, errbuf[0] ? errbuf
                 : curl_easy_strerror(rc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    keep_header(c, "ETag", r->etag, sizeof(r->etag));
    keep_header(c, "Last-Modified", r->last_modified, sizeof(r->last_modified));
    keep_header(c, "Content-Type", r->content_type, sizeof(r->content_type));
    if (r->body == NULL) {
        r->body = xmalloc(1);
        r->body[0] = '\0';
    }
    ok = 0;

out:
    if (ok != 0) {
        free(r->body);
        r->body = NULL;
        r->len = 0;
    }
    curl_slist_free_all(hdrs);
    if (c != NULL) {
        curl_easy_cleanup(c);
    }
    if (token != NULL) {
        OPENSSL_cleanse(token, strlen(token));
        free(token);
    }
    return ok;
}

void
http_response_clear(http_response *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}
