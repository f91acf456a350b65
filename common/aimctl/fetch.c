/*
 * fetch.c -- aimctl fetch: bring a JWKS, a Token Status List or a
 * revocation list from an HTTPS URL into the file the adapters read.
 *
 * The adapters re-read such a file when it changes, and a new file they
 * refuse keeps the old contents in force -- but only in processes that
 * had loaded the old one: a process that starts after a bad file landed
 * refuses to start, or fails every decision.  So nothing reaches the
 * file before it has passed the same loader the adapters use, completely
 * (a status list's signature with the configured keys, its URI, its age;
 * every key of a JWKS; every line of a revocation list), first from
 * memory and then from the new file itself; the file is replaced
 * atomically (temporary file, fsync, rename, directory fsync) with its
 * owner and mode kept; and a fetch that fails in any way leaves it
 * exactly as it was.  The server's ETag and Last-Modified are kept
 * beside it (FILE.fetch) for a conditional request next time.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "aimctl.h"
#include "keys.h"
#include "revoke.h"
#include "status.h"
#include "util.h"

#define FETCH_META_SUFFIX ".fetch"
#define FETCH_META_MAX    16384
#define FETCH_REDIRECTS   5

/* AIM_JWKS_MAX_BYTES in keys.c: the largest key file the loader reads. */
#define FETCH_JWKS_MAX    (256 * 1024)

static const char fetch_usage[] =
"Usage: aimctl fetch URL --out FILE --kind jwks|statuslist|revoked\n"
"                    [--config FILE] [--keys [ISSUER] JWKS]... [--issuer ISS]...\n"
"                    [--uri URI] [HTTP OPTIONS] [--max-size BYTES]\n"
"\n"
"Bring a JWKS, a Token Status List or a revocation list from URL into FILE,\n"
"the file the adapters read ('keys', 'status_list', 'revoked').  What\n"
"arrives is checked completely by the adapters' own loader before it\n"
"replaces FILE, then once more as read back from the new file; FILE is\n"
"replaced atomically (a temporary file in the same directory, synced,\n"
"renamed over it) keeping its owner and mode (a new FILE: 0644 less the\n"
"umask).  Anything that fails -- the connection, TLS, an HTTP error, a\n"
"time limit, a body over the size limit, content the loader refuses --\n"
"leaves FILE exactly as it was.  The server's ETag and Last-Modified are\n"
"kept in FILE.fetch and sent back (If-None-Match, If-Modified-Since): 304\n"
"Not Modified leaves FILE as it is.  aimctl writers of FILE wait for each\n"
"other (FILE.lock).\n"
"\n"
"  --out FILE           the file to keep current\n"
"  --kind jwks          a JWK Set: every key must load as the verifiers load\n"
"                       keys (at most 256 KiB)\n"
"  --kind statuslist    a signed Token Status List (statuslist+jwt, at most\n"
"                       8 MiB): its signature verified with the token keys\n"
"                       (--keys, or the configuration's 'keys'), its key\n"
"                       bound to an issuer, \"sub\" the list's URI, not\n"
"                       expired, and never older (iat) than the list in FILE\n"
"  --kind revoked       a revocation list (agent / jti / kid lines, at most\n"
"                       64 MiB)\n"
"  --config FILE        the host configuration file: its 'keys' and 'issuer',\n"
"                       and the URI of the 'status_list' held in FILE\n"
"  --keys [ISSUER] JWKS, --issuer ISS   token keys and issuers (statuslist)\n"
"  --uri URI            the status list's URI (default: the configuration's\n"
"                       for FILE, else URL)\n"
HTTP_USAGE
"  --max-size BYTES     the largest answer taken (default and at most the\n"
"                       loader's limit above)\n"
"  --insecure           refused: give --cacert instead\n"
"\n"
"URL is https:// (http:// only to this host's loopback); up to 5\n"
"redirects are followed, to https:// only.  Exit 0: FILE replaced, or\n"
"unchanged (304, or the same bytes); 1: nothing replaced (why on standard\n"
"error); 2: usage or configuration errors.\n";

enum { KIND_JWKS, KIND_STATUSLIST, KIND_REVOKED };

enum {
    OPT_OUT = OPT_HTTP_END + 1,
    OPT_KIND,
    OPT_CONFIG,
    OPT_KEYS,
    OPT_ISSUER,
    OPT_URI
};

typedef struct {
    int          kind;
    const char  *out;
    const char  *url;
    const char  *uri;          /* statuslist */
    aim_keyset  *keys;         /* statuslist */
    int64_t      floor_iat;    /* statuslist: the list in FILE (0: none) */
    char         summary[160]; /* what was loaded, for the report */
} fetch_job;

/* ------------------------------------------------------------------ */
/* Validation: the adapters' loaders                                   */

/* A list's length without the line end a file may add, as
 * aim_statuslist_load trims it. */
static size_t
trimmed(const char *buf, size_t len)
{
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'
                       || buf[len - 1] == ' '))
    {
        len--;
    }
    return len;
}

/* The status list in buf. */
static aim_status
check_statuslist(fetch_job *f, const char *buf, size_t len, aim_error *err)
{
    aim_statuslist sl;
    aim_status     s;
    int64_t        now = aim_now();

    len = trimmed(buf, len);
    memset(&sl, 0, sizeof(sl));
    sl.uri = (char *) f->uri;
    sl.iat = f->floor_iat;
    s = aim_statuslist_parse(&sl, buf, len, f->keys, err);
    if (s != AIM_OK) {
        aim_statuslist_clear(&sl);
        return s;
    }
    if (sl.issuer == NULL) {
        s = aim_fail(err, AIM_BAD_ISSUER, "the list's key is bound to no issuer, "
                     "so the verifiers would trust it for no token (with several "
                     "issuers, bind each key source: \"ISSUER PATH\")");
    } else if (sl.exp >= 0 && now >= sl.exp) {
        s = aim_fail(err, AIM_EXPIRED, "the list expired at %lld (%lld s ago): "
                     "the verifiers would refuse every token that points to it",
                     (long long) sl.exp, (long long) (now - sl.exp));
    } else {
        snprintf(f->summary, sizeof(f->summary), "status list \"%.80s\", %zu "
                 "entries of %d bit%s, iat %lld", f->uri, sl.len * 8 / (size_t) sl.bits,
                 sl.bits, sl.bits == 1 ? "" : "s", (long long) sl.iat);
    }
    aim_statuslist_clear(&sl);
    return s;
}

/* Check len bytes as the adapters would load them from a file. */
static aim_status
check_content(fetch_job *f, const char *buf, size_t len, aim_error *err)
{
    if (f->kind == KIND_JWKS) {
        const char *why = NULL;
        aim_keyset *ks = aim_keyset_parse_jwks(buf, len, f->url, err);
        size_t      skipped;

        if (ks == NULL) {
            return err->status != AIM_OK ? err->status : AIM_CONFIG;
        }
        skipped = aim_keyset_skipped(ks, &why);
        if (skipped > 0) {
            snprintf(f->summary, sizeof(f->summary), "JWKS, %zu key%s (%zu skipped: "
                     "%.80s)", aim_keyset_count(ks),
                     aim_keyset_count(ks) == 1 ? "" : "s", skipped,
                     why != NULL ? why : "not for AIM");
        } else {
            snprintf(f->summary, sizeof(f->summary), "JWKS, %zu key%s",
                     aim_keyset_count(ks), aim_keyset_count(ks) == 1 ? "" : "s");
        }
        aim_keyset_free(ks);
        return AIM_OK;
    }
    if (f->kind == KIND_REVOKED) {
        aim_revlist *r = aim_revlist_parse(buf, len, f->url, err);

        if (r == NULL) {
            return err->status != AIM_OK ? err->status : AIM_CONFIG;
        }
        snprintf(f->summary, sizeof(f->summary), "revocation list, %zu entr%s",
                 aim_revlist_count(r), aim_revlist_count(r) == 1 ? "y" : "ies");
        aim_revlist_free(r);
        return AIM_OK;
    }
    return check_statuslist(f, buf, len, err);
}

/* The same through the loader that reads files. */
static aim_status
check_file(fetch_job *f, const char *path, aim_error *err)
{
    if (f->kind == KIND_JWKS) {
        aim_keyset *ks = aim_keyset_load(path, err);

        aim_keyset_free(ks);
        return ks != NULL ? AIM_OK : AIM_CONFIG;
    }
    if (f->kind == KIND_REVOKED) {
        aim_revlist *r = aim_revlist_load(path, err);

        aim_revlist_free(r);
        return r != NULL ? AIM_OK : AIM_CONFIG;
    }
    {
        aim_statuslist sl;
        aim_status     s;

        memset(&sl, 0, sizeof(sl));
        sl.uri = (char *) f->uri;
        sl.path = (char *) path;
        sl.iat = f->floor_iat;
        s = aim_statuslist_load(&sl, f->keys, err);
        aim_statuslist_clear(&sl);
        return s;
    }
}

/* ------------------------------------------------------------------ */
/* FILE.fetch: what the server said last time                          */

typedef struct {
    char etag[256];
    char last_modified[64];
} validators;

static void
sha256_hex(const char *buf, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char     h[32];
    size_t            i;

    if (!aim_sha256(buf, len, h)) {
        fail(EXIT_REJECTED, "SHA-256 is not available");
    }
    for (i = 0; i < 32; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[64] = '\0';
}

/* A value fit to send back in a header: shorter than size, no controls. */
static int
header_value_ok(const char *v, size_t size)
{
    size_t i, n;

    if (v == NULL || (n = strlen(v)) == 0 || n >= size) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if ((unsigned char) v[i] < 0x20 || v[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static char *
meta_path(const char *out)
{
    char *p = xmalloc(strlen(out) + sizeof(FETCH_META_SUFFIX));

    strcpy(p, out);
    strcat(p, FETCH_META_SUFFIX);
    return p;
}

/*
 * The validators to send: only when FILE.fetch was written for this URL
 * and FILE still holds what was fetched then (someone may have replaced
 * it by other means: then a 304 would keep a file the server never sent).
 */
static void
meta_read(const char *out, const char *url, const char *cur, size_t curlen,
          validators *v)
{
    char        *path = meta_path(out), *buf, hash[65];
    size_t       len;
    struct stat  st;
    aim_error    err;
    json_t      *j;
    const char  *e, *lm, *u, *h;

    memset(v, 0, sizeof(*v));
    buf = aim_read_file(path, FETCH_META_MAX, &len, &st, &err);
    free(path);
    if (buf == NULL || cur == NULL) {
        free(buf);
        return;
    }
    j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
    free(buf);
    u = json_string_value(json_object_get(j, "url"));
    h = json_string_value(json_object_get(j, "sha256"));
    e = json_string_value(json_object_get(j, "etag"));
    lm = json_string_value(json_object_get(j, "last_modified"));
    sha256_hex(cur, curlen, hash);
    if (u != NULL && h != NULL && strcmp(u, url) == 0 && strcmp(h, hash) == 0) {
        /* Stored as received; checked again, as it goes into a header. */
        if (header_value_ok(e, sizeof(v->etag))) {
            strcpy(v->etag, e);
        }
        if (header_value_ok(lm, sizeof(v->last_modified))) {
            strcpy(v->last_modified, lm);
        }
    }
    json_decref(j);
}

/* Write FILE.fetch; a failure only costs the next fetch its condition. */
static void
meta_write(const char *out, const char *url, const http_response *r,
           const char *buf, size_t len)
{
    char   *path = meta_path(out), *text, *tmp, hash[65], when[32];
    json_t *j = json_object();
    FILE   *fp;
    int     fd, ok;

    sha256_hex(buf, len, hash);
    json_object_set_new(j, "url", json_string(url));
    json_object_set_new(j, "etag", r->etag[0] ? json_string(r->etag) : json_null());
    json_object_set_new(j, "last_modified", r->last_modified[0]
                        ? json_string(r->last_modified) : json_null());
    json_object_set_new(j, "sha256", json_string(hash));
    json_object_set_new(j, "fetched", json_string(iso_time(aim_now(), when)));
    text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    tmp = xmalloc(strlen(path) + 8);
    sprintf(tmp, "%s.XXXXXX", path);
    fd = text != NULL ? mkstemp(tmp) : -1;
    fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    ok = fp != NULL && fchmod(fd, 0644) == 0 && fprintf(fp, "%s\n", text) > 0
         && fflush(fp) == 0 && fsync(fd) == 0;
    if (fp != NULL) {
        ok &= fclose(fp) == 0;
    } else if (fd >= 0) {
        close(fd);
    }
    if (!ok || rename(tmp, path) != 0) {
        warning("cannot write \"%s\" (%s): the next fetch will not be "
                "conditional", path, strerror(errno));
        if (fd >= 0) {
            unlink(tmp);
        }
    }
    free(tmp);
    free(text);
    free(path);
}

/* ------------------------------------------------------------------ */

static int
parse_kind(const char *s)
{
    if (strcmp(s, "jwks") == 0) {
        return KIND_JWKS;
    }
    if (strcmp(s, "statuslist") == 0) {
        return KIND_STATUSLIST;
    }
    if (strcmp(s, "revoked") == 0) {
        return KIND_REVOKED;
    }
    usage_error("--kind: \"%.32s\" is not jwks, statuslist or revoked", s);
}

static size_t
kind_limit(int kind)
{
    switch (kind) {
    case KIND_JWKS:       return FETCH_JWKS_MAX;
    case KIND_STATUSLIST: return AIM_STATUS_JWT_MAX;
    default:              return AIM_REVOKE_MAX_BYTES;
    }
}

/* The URI the status list in out is configured under. */
static const char *
configured_uri(const aim_config *cfg, const char *out)
{
    const char *uri = cli_config_status_uri(cfg, out);
    char        want[PATH_MAX], dir[PATH_MAX];
    const char *slash;

    if (uri != NULL) {
        return uri;
    }
    /* The same file named another way: compare resolved directories. */
    slash = strrchr(out, '/');
    snprintf(dir, sizeof(dir), "%.*s", slash != NULL ? (int) (slash - out) : 1,
             slash != NULL ? out : ".");
    if (slash == out) {
        strcpy(dir, "/");
    }
    if (realpath(dir, want) == NULL) {
        return NULL;
    }
    if (strlen(want) + strlen(slash != NULL ? slash : "/") + 2 > sizeof(want)) {
        return NULL;
    }
    if (strcmp(want, "/") != 0) {
        strcat(want, "/");
    }
    strcat(want, slash != NULL ? slash + 1 : out);
    return cli_config_status_uri(cfg, want);
}

int
cmd_fetch(int argc, char **argv)
{
    static const struct option opts[] = {
        { "out",    required_argument, NULL, OPT_OUT },
        { "kind",   required_argument, NULL, OPT_KIND },
        { "config", required_argument, NULL, OPT_CONFIG },
        { "keys",   required_argument, NULL, OPT_KEYS },
        { "issuer", required_argument, NULL, OPT_ISSUER },
        { "uri",    required_argument, NULL, OPT_URI },
        HTTP_LONG_OPTIONS,
        { "help",   no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    fetch_job      f;
    http_opts      ho;
    http_response  r;
    validators     v;
    aim_config    *cfg = cli_config_new();
    aim_error      err;
    struct stat    st;
    const char    *kind = NULL;
    char          *cur = NULL, *tmp, why[512], resolved[PATH_MAX];
    size_t         curlen = 0;
    int            c, existed = 1, have_keys = 0;

    memset(&f, 0, sizeof(f));
    http_opts_init(&ho);
    ho.redirects = FETCH_REDIRECTS;
    while ((c = next_opt(argc, argv, opts)) != -1) {
        if (http_opt(&ho, c)) {
            continue;
        }
        switch (c) {
        case OPT_OUT:    f.out = optarg; break;
        case OPT_KIND:   kind = optarg; break;
        case OPT_CONFIG: cli_config_load(cfg, optarg); break;
        case OPT_KEYS:   cli_config_set(cfg, "--keys", "keys", optarg); have_keys = 1;
                         break;
        case OPT_ISSUER: cli_config_set(cfg, "--issuer", "issuer", optarg); break;
        case OPT_URI:    f.uri = check_id("--uri", optarg, 2048); break;
        case 'h':
            fputs(fetch_usage, stdout);
            aim_config_free(cfg);
            return EXIT_OK;
        }
    }
    f.url = one_arg(argc, argv, "no URL given (where to fetch from)",
                    "one URL at a time, please");
    http_check_url("URL", f.url);
    if (f.out == NULL) {
        usage_error("--out is required (the file to keep current)");
    }
    if (kind == NULL) {
        usage_error("--kind is required (jwks, statuslist or revoked)");
    }
    f.kind = parse_kind(kind);
    http_opts_check(&ho, kind_limit(f.kind));
    if (f.kind != KIND_STATUSLIST && (have_keys || f.uri != NULL)) {
        usage_error("--keys and --uri go with --kind statuslist");
    }
    if (f.kind == KIND_STATUSLIST) {
        f.keys = cli_config_keys(cfg);
        if (f.keys == NULL) {
            usage_error("--kind statuslist needs the token keys that sign the "
                        "list (--keys, or --config with 'keys')");
        }
        if (f.uri == NULL) {
            f.uri = configured_uri(cfg, f.out);
        }
        if (f.uri == NULL) {
            f.uri = f.url;
        }
        f.uri = strcpy(xmalloc(strlen(f.uri) + 1), f.uri);
    }
    aim_config_free(cfg);

    /* The file as it is: a regular file or nothing (a link would be
     * parted from its target by the rename). */
    if (lstat(f.out, &st) != 0) {
        if (errno != ENOENT) {
            fail(EXIT_USAGE, "cannot read \"%s\": %s", f.out, strerror(errno));
        }
        existed = 0;
        memset(&st, 0, sizeof(st));
    } else if (S_ISLNK(st.st_mode)) {
        fail(EXIT_USAGE, "\"%s\" is a symbolic link; give the file it points to "
             "(\"%s\"): replacing the link would part it from its target", f.out,
             realpath(f.out, resolved) != NULL ? resolved : "?");
    } else if (!S_ISREG(st.st_mode)) {
        fail(EXIT_USAGE, "\"%s\" is not a regular file", f.out);
    }

    (void) lock_writers(f.out);
    if (existed) {
        cur = aim_read_file(f.out, kind_limit(f.kind), &curlen, &st, &err);
        if (cur == NULL) {
            warning("the current \"%s\" cannot be read (%s); fetching it anew",
                    f.out, err.message);
        }
        if (cur != NULL && f.kind == KIND_STATUSLIST) {
            /* No rollback: a list older than the one in force is refused,
             * as the verifiers refuse it. */
            aim_statuslist sl;

            memset(&sl, 0, sizeof(sl));
            sl.uri = (char *) f.uri;
            if (aim_statuslist_parse(&sl, cur, trimmed(cur, curlen), f.keys,
                                     &err) == AIM_OK)
            {
                f.floor_iat = sl.iat;
            }
            aim_statuslist_clear(&sl);
        }
    }
    meta_read(f.out, f.url, cur, curlen, &v);

    if (http_request(&ho, f.url, NULL, v.etag, v.last_modified, &r, why,
                     sizeof(why)) != 0)
    {
        fail(EXIT_REJECTED, "%s; \"%s\" left as it was", why, f.out);
    }
    if (r.status == 304) {
        if (!v.etag[0] && !v.last_modified[0]) {
            fail(EXIT_REJECTED, "%s answered 304 Not Modified to a request that "
                 "was not conditional; \"%s\" left as it was", f.url, f.out);
        }
        /* Unchanged there; still good here? (A status list expires.) */
        if (check_file(&f, f.out, &err) != AIM_OK) {
            fail(EXIT_REJECTED, "%s is unchanged (304), but the file no longer "
                 "passes: %s", f.url, err.message);
        }
        printf("\"%s\" unchanged: %s answered 304 Not Modified\n", f.out, f.url);
        goto done;
    }
    if (r.status != 200) {
        fail(EXIT_REJECTED, "%s answered HTTP %ld; \"%s\" left as it was", f.url,
             r.status, f.out);
    }
    err.status = AIM_OK;
    if (check_content(&f, r.body, r.len, &err) != AIM_OK) {
        fail(EXIT_REJECTED, "what %s sent is refused: %s; \"%s\" left as it was",
             f.url, err.message, f.out);
    }
    if (cur != NULL && curlen == r.len && memcmp(cur, r.body, r.len) == 0) {
        meta_write(f.out, f.url, &r, r.body, r.len);
        printf("\"%s\" unchanged: %s sent the same %zu bytes (%s)\n", f.out, f.url,
               r.len, f.summary);
        goto done;
    }
    tmp = temp_write(f.out, r.body, r.len, existed ? &st : NULL, 0644);
    if (check_file(&f, tmp, &err) != AIM_OK) {
        temp_discard(tmp);
        fail(EXIT_REJECTED, "the new file does not load: %s; \"%s\" left as it "
             "was", err.message, f.out);
    }
    if (file_changed_since(f.out, &st, existed)) {
        temp_discard(tmp);
        fail(EXIT_REJECTED, "\"%s\" was replaced while aimctl fetched it (by a "
             "writer that does not take \"%s.lock\"); nothing written, try again",
             f.out, f.out);
    }
    temp_commit(tmp, f.out);
    meta_write(f.out, f.url, &r, r.body, r.len);
    printf("\"%s\" %s from %s: %s, %zu bytes%s%s%s\n", f.out,
           existed ? "replaced" : "created", f.url, f.summary, r.len,
           r.etag[0] ? ", ETag " : "", r.etag[0] ? r.etag : "",
           r.etag[0] || !r.last_modified[0] ? "" : ", Last-Modified set");

done:
    http_response_clear(&r);
    free(cur);
    aim_keyset_free(f.keys);
    free((char *) (f.kind == KIND_STATUSLIST ? f.uri : NULL));
    flush_stdout();
    return EXIT_OK;
}
