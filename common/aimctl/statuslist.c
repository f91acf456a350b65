/*
 * statuslist.c -- aimctl statuslist: create, update and show signed
 * Token Status Lists (draft-ietf-oauth-status-list).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "aimctl.h"
#include "status.h"

/* What verifiers accept (status.h): a signed list of at most
 * AIM_STATUS_JWT_MAX bytes that inflates to at most AIM_STATUS_MAX_BYTES
 * of statuses. */
#define STATUSLIST_JWT_MAX    AIM_STATUS_JWT_MAX
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
    char         *buf;
    const char   *d1, *d2;
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
    if (jws_split(buf, len, &d1, &d2) != 0) {
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
    o = unverified("the signature, key or times; use 'aimctl verify "
                   "--status-list' to check a token against it");
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

int
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
    no_more_args(argc, argv);
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

    token = signer_sign(&s, hdr, claims);
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
