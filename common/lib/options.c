/*
 * options.c -- the core's configuration: one table of options (name,
 * type, bounds, default, documentation) from which every adapter derives
 * its directives, module options and GUCs, typed setters whose errors
 * name the option, and the host configuration file (aim.conf) that every
 * adapter and aimctl can be pointed at.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "internal.h"
#include "util.h"

#define AIM_MAX_CACHE  (1u << 20)

/*
 * The table.  Order is the documentation order; AIM_OPT_* in internal.h
 * indexes it.  Bounds of numbers are inclusive.
 */
static const aim_option aim_option_table[AIM_OPT_COUNT] = {
    [AIM_OPT_KEYS] = { "keys", AIM_OPTION_KEYS, 1, 1, 2, 0, 0, NULL,
        "[ISSUER] PATH",
        "JWKS file, or pem:ALG:PATH, whose keys sign tokens (for ISSUER only)" },
    [AIM_OPT_ISSUER] = { "issuer", AIM_OPTION_STRING, 1, 1, 1, 0, 0, NULL,
        "ISSUER", "accepted \"iss\"; may be repeated" },
    [AIM_OPT_AUDIENCE] = { "audience", AIM_OPTION_STRING, 0, 1, 1, 0, 0, NULL,
        "AUDIENCE", "the audience this service is (\"aud\" must contain it)" },
    [AIM_OPT_LEEWAY] = { "leeway", AIM_OPTION_SECONDS, 0, 1, 1, 0, 600, "30",
        "SECONDS", "clock skew allowed for exp, nbf and iat" },
    [AIM_OPT_MAX_LIFETIME] = { "max_lifetime", AIM_OPTION_SECONDS, 0, 1, 1, 1,
        366 * 86400, "86400", "SECONDS", "longest accepted exp - iat" },
    [AIM_OPT_TYPES] = { "types", AIM_OPTION_WORDS, 0, 1, AIM_MAX_TYPES, 0, 0,
        "aim+jwt at+jwt", "TYPE...", "accepted JWS \"typ\" values" },
    [AIM_OPT_REVOKED] = { "revoked", AIM_OPTION_PATH, 0, 1, 1, 0, 0, NULL,
        "PATH", "revocation file (agents, token ids, key ids)" },
    [AIM_OPT_POLICY] = { "policy", AIM_OPTION_PATH, 0, 1, 1, 0, 0, NULL,
        "PATH", "local least-privilege policy file" },
    [AIM_OPT_AUDIT] = { "audit", AIM_OPTION_PATH, 0, 1, 1, 0, 0, NULL,
        "PATH", "file the JSON audit lines are appended to" },
    [AIM_OPT_CACHE] = { "cache", AIM_OPTION_NUMBER, 0, 1, 1, 0, AIM_MAX_CACHE,
        "1024", "ENTRIES", "verified-token cache size (0 = off)" },
    [AIM_OPT_STATUS_LIST] = { "status_list", AIM_OPTION_URI_PATH, 1, 2, 2, 0, 0,
        NULL, "URI PATH", "local copy of the Token Status List published at URI" },
    [AIM_OPT_STATE] = { "state", AIM_OPTION_PATH, 0, 1, 1, 0, 0, NULL,
        "PATH", "the host's shared behavioural state file" },
    [AIM_OPT_TRUST_MIN] = { "trust_min", AIM_OPTION_NUMBER, 0, 1, 1, 0, 100,
        "50", "0-100", "below this trust an allowed decision becomes low_trust" },
    [AIM_OPT_RELOAD_INTERVAL] = { "reload_interval", AIM_OPTION_SECONDS, 0, 1, 1,
        0, 3600, "1", "SECONDS", "seconds between checks of watched files" },
    [AIM_OPT_DPOP_MAX_AGE] = { "dpop_max_age", AIM_OPTION_SECONDS, 0, 1, 1, 1,
        AIM_DPOP_MAX_AGE_LIMIT, "60", "SECONDS",
        "how old a DPoP proof's iat may be" },
    [AIM_OPT_SSF_KEYS] = { "ssf_keys", AIM_OPTION_KEYS, 1, 1, 2, 0, 0, NULL,
        "[ISSUER] PATH", "JWKS file, or pem:ALG:PATH, whose keys sign Security "
        "Event Tokens (for transmitter ISSUER only)" },
    [AIM_OPT_SSF_ISSUER] = { "ssf_issuer", AIM_OPTION_STRING, 1, 1, 1, 0, 0,
        NULL, "ISSUER", "a transmitter whose Security Event Tokens are "
        "accepted; may be repeated" },
    [AIM_OPT_SSF_AUDIENCE] = { "ssf_audience", AIM_OPTION_STRING, 1, 1, 1, 0, 0,
        NULL, "AUDIENCE", "an audience this host receives Security Event Tokens "
        "as; may be repeated" },
    [AIM_OPT_SSF_MAX_AGE] = { "ssf_max_age", AIM_OPTION_SECONDS, 0, 1, 1, 60,
        AIM_SSF_MAX_AGE_LIMIT, "604800", "SECONDS",
        "how old a Security Event Token's iat may be" },
    [AIM_OPT_SSF_SIGN_KEY] = { "ssf_sign_key", AIM_OPTION_PATH, 0, 1, 1, 0, 0,
        NULL, "PATH", "PEM private key (P-256 or Ed25519) this host signs the "
        "Security Event Tokens it publishes with" },
    [AIM_OPT_SSF_PUBLISH_ISSUER] = { "ssf_publish_issuer", AIM_OPTION_STRING, 0,
        1, 1, 0, 0, NULL, "ISSUER",
        "\"iss\" of the Security Event Tokens this host publishes" },
    [AIM_OPT_SSF_PUBLISH_AUDIENCE] = { "ssf_publish_audience", AIM_OPTION_STRING,
        0, 1, 1, 0, 0, NULL, "AUDIENCE",
        "\"aud\" of the Security Event Tokens this host publishes" },
    [AIM_OPT_STRICT_MODES] = { "strict_modes", AIM_OPTION_STRING, 0, 1, 1, 0, 0,
        "on", "on|off", "refuse key, list, policy and state files (or their "
        "directories) that users other than root and this one can change" },
};

/* AIM_OPTION_NAMES (aim.h) lists exactly these, in this order. */
#define AIM_COUNT_ONE(n) + 1
_Static_assert(0 AIM_OPTION_NAMES(AIM_COUNT_ONE) == AIM_OPT_COUNT,
               "AIM_OPTION_NAMES and the option table differ in length");
#undef AIM_COUNT_ONE

const aim_option *
aim_options(size_t *count)
{
    if (count != NULL) {
        *count = AIM_OPT_COUNT;
    }
    return aim_option_table;
}

const aim_option *
aim_option_find(const char *name)
{
    size_t i;

    if (name == NULL) {
        return NULL;
    }
    for (i = 0; i < AIM_OPT_COUNT; i++) {
        if (strcmp(aim_option_table[i].name, name) == 0) {
            return &aim_option_table[i];
        }
    }
    return NULL;
}

/* Set err for option o: the option's name goes in its own field. */
#define opt_fail(err, o, s, ...) \
    aim_fail_option((err), (s), (o) != NULL ? (o)->name : NULL, __VA_ARGS__)

/* ------------------------------------------------------------------ */
/* Configuration objects                                               */

aim_config *
aim_config_new(void)
{
    aim_config *cfg = calloc(1, sizeof(*cfg));

    if (cfg == NULL) {
        return NULL;
    }
    aim_config_defaults(cfg);
    cfg->types[0] = aim_strdup("aim+jwt");
    cfg->types[1] = aim_strdup("at+jwt");
    cfg->ntypes = 2;
    if (cfg->types[0] == NULL || cfg->types[1] == NULL) {
        aim_config_free(cfg);
        return NULL;
    }
    return cfg;
}

void
aim_config_defaults(aim_config *cfg)
{
    cfg->leeway = 30;
    cfg->max_lifetime = 86400;
    cfg->reload_interval = 1;
    cfg->cache = 1024;
    cfg->trust_min = 50;
    cfg->dpop_max_age = 60;
    cfg->ssf_max_age = 604800;
    cfg->strict_modes = 1;
}

/*
 * Where option id keeps its values: one string, or the lists of a
 * repeated option (one list, or two parallel ones: "keys" and their
 * issuers, "status_list" URIs and paths) of *n entries.  Numbers are
 * plain fields (set_args).
 */
typedef struct {
    char       **a, **b;        /* b: NULL, or the second list */
    size_t      *n;
    size_t       max;
    const char  *what;          /* for "more than MAX WHAT" */
} option_lists;

static char **
option_string(aim_config *cfg, int id)
{
    switch (id) {
    case AIM_OPT_AUDIENCE:             return &cfg->audience;
    case AIM_OPT_REVOKED:              return &cfg->revoked;
    case AIM_OPT_POLICY:               return &cfg->policy;
    case AIM_OPT_AUDIT:                return &cfg->audit;
    case AIM_OPT_STATE:                return &cfg->state;
    case AIM_OPT_SSF_SIGN_KEY:         return &cfg->ssf_sign_key;
    case AIM_OPT_SSF_PUBLISH_ISSUER:   return &cfg->ssf_publish_issuer;
    case AIM_OPT_SSF_PUBLISH_AUDIENCE: return &cfg->ssf_publish_audience;
    default:                           return NULL;
    }
}

static int
option_lists_of(aim_config *cfg, int id, option_lists *l)
{
#define LISTS(la, lb, ln, lmax, lwhat) \
    (l->a = (la), l->b = (lb), l->n = (ln), l->max = (lmax), l->what = (lwhat), 1)

    switch (id) {
    case AIM_OPT_KEYS:
        return LISTS(cfg->keys, cfg->key_issuers, &cfg->nkeys,
                     AIM_MAX_KEY_SOURCES, "key sources");
    case AIM_OPT_ISSUER:
        return LISTS(cfg->issuers, NULL, &cfg->nissuers, AIM_MAX_ISSUERS,
                     "issuers");
    case AIM_OPT_TYPES:
        return LISTS(cfg->types, NULL, &cfg->ntypes, AIM_MAX_TYPES, "types");
    case AIM_OPT_STATUS_LIST:
        return LISTS(cfg->status_uris, cfg->status_paths, &cfg->nstatus,
                     AIM_MAX_STATUS_LISTS, "lists");
    case AIM_OPT_SSF_KEYS:
        return LISTS(cfg->ssf_keys, cfg->ssf_key_issuers, &cfg->nssf_keys,
                     AIM_MAX_KEY_SOURCES, "key sources");
    case AIM_OPT_SSF_ISSUER:
        return LISTS(cfg->ssf_issuers, NULL, &cfg->nssf_issuers,
                     AIM_SSF_MAX_ISSUERS, "issuers");
    case AIM_OPT_SSF_AUDIENCE:
        return LISTS(cfg->ssf_audiences, NULL, &cfg->nssf_audiences,
                     AIM_SSF_MAX_AUDIENCES, "audiences");
    default:
        return 0;
    }
#undef LISTS
}

static void
lists_clear(const option_lists *l)
{
    size_t i;

    for (i = 0; i < *l->n; i++) {
        free(l->a[i]);
        l->a[i] = NULL;
        if (l->b != NULL) {
            free(l->b[i]);
            l->b[i] = NULL;
        }
    }
    *l->n = 0;
}

/* One more entry: va, and vb (may be NULL) in the second list. */
static aim_status
lists_add(const option_lists *l, const aim_option *o, const char *va,
          const char *vb, aim_error *err)
{
    size_t n = *l->n;

    if (n == l->max) {
        return opt_fail(err, o, AIM_CONFIG, "more than %zu %s", l->max, l->what);
    }
    l->a[n] = aim_strdup(va);
    if (l->b != NULL) {
        l->b[n] = aim_strdup(vb);
    }
    if (l->a[n] == NULL || (l->b != NULL && (l->b[n] == NULL) != (vb == NULL))) {
        free(l->a[n]);
        l->a[n] = NULL;
        if (l->b != NULL) {
            free(l->b[n]);
            l->b[n] = NULL;
        }
        return opt_fail(err, o, AIM_INTERNAL, "out of memory");
    }
    (*l->n)++;
    return AIM_OK;
}

/* The strings of list a (a copy of another's) copied in place; 0 when
 * out of memory.  NULL entries stay NULL. */
static int
list_dup(char **a, size_t n)
{
    size_t i;
    int    ok = 1;

    for (i = 0; i < n; i++) {
        if (a[i] != NULL) {
            ok &= (a[i] = aim_strdup(a[i])) != NULL;
        }
    }
    return ok;
}

/* Forget one option's values (before a value from a stronger origin). */
static void
option_clear(aim_config *cfg, int id)
{
    option_lists   l;
    char         **str;

    if (option_lists_of(cfg, id, &l)) {
        lists_clear(&l);
    } else if ((str = option_string(cfg, id)) != NULL) {
        free(*str);
        *str = NULL;
    }
}

void
aim_config_clear(aim_config *cfg)
{
    int id;

    for (id = 0; id < AIM_OPT_COUNT; id++) {
        option_clear(cfg, id);
    }
    memset(cfg, 0, sizeof(*cfg));
}

void
aim_config_free(aim_config *cfg)
{
    if (cfg != NULL) {
        aim_config_clear(cfg);
        free(cfg);
    }
}

int
aim_config_copy(aim_config *dst, const aim_config *src)
{
    option_lists   l;
    char         **str;
    int            id, ok = 1;

    *dst = *src;
    for (id = 0; id < AIM_OPT_COUNT; id++) {
        if (option_lists_of(dst, id, &l)) {
            ok &= list_dup(l.a, *l.n);
            if (l.b != NULL) {
                ok &= list_dup(l.b, *l.n);
            }
        } else if ((str = option_string(dst, id)) != NULL) {
            ok &= list_dup(str, 1);
        }
    }
    if (!ok) {
        aim_config_clear(dst);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Typed setters                                                       */

static aim_status
parse_number(const aim_option *o, const char *value, int64_t *out,
             aim_error *err)
{
    char      *end;
    long long  n;

    errno = 0;
    n = strtoll(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || !isdigit((unsigned char) value[0])
        || n < o->min || n > o->max)
    {
        return opt_fail(err, o, AIM_CONFIG, "\"%.64s\" is not a whole number %s"
                        "from %lld to %lld", value,
                        o->type == AIM_OPTION_SECONDS ? "of seconds " : "",
                        (long long) o->min, (long long) o->max);
    }
    *out = n;
    return AIM_OK;
}

/* "application/AIM+JWT" -> "aim+jwt" (RFC 7515 section 4.1.9). */
static char *
normalise_type(const char *value)
{
    char   *s;
    size_t  i, len = strlen(value);

    if (len > 12 && strncasecmp(value, "application/", 12) == 0) {
        value += 12;
        len -= 12;
    }
    s = malloc(len + 1);
    if (s == NULL) {
        return NULL;
    }
    for (i = 0; i < len; i++) {
        s[i] = (char) tolower((unsigned char) value[i]);
    }
    s[len] = '\0';
    return s;
}

static aim_status
check_word(const aim_option *o, const char *value, aim_error *err)
{
    const unsigned char *p;

    if (value[0] == '\0') {
        return opt_fail(err, o, AIM_CONFIG, "empty value");
    }
    if (strlen(value) > AIM_MAX_OPTION_LEN) {
        return opt_fail(err, o, AIM_CONFIG, "value is longer than %d bytes",
                        AIM_MAX_OPTION_LEN);
    }
    for (p = (const unsigned char *) value; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return opt_fail(err, o, AIM_CONFIG, "value contains a control "
                            "character");
        }
    }
    return AIM_OK;
}

static aim_status
set_string(char **slot, const aim_option *o, const char *value, aim_error *err)
{
    char *copy;

    copy = aim_strdup(value);
    if (copy == NULL) {
        return opt_fail(err, o, AIM_INTERNAL, "out of memory");
    }
    free(*slot);
    *slot = copy;
    return AIM_OK;
}

static aim_status
set_args(aim_config *cfg, int id, const char *const *args, size_t nargs,
         aim_error *err)
{
    const aim_option *o = &aim_option_table[id];
    int64_t           n = 0;
    size_t            i;
    aim_status        s;
    option_lists      l;
    char            **str;

    if (nargs < o->min_args || nargs > o->max_args) {
        if (o->min_args == o->max_args) {
            return opt_fail(err, o, AIM_CONFIG, "takes %u value%s (%s), not %zu",
                            o->min_args, o->min_args == 1 ? "" : "s", o->args,
                            nargs);
        }
        return opt_fail(err, o, AIM_CONFIG, "takes %u to %u values (%s), not %zu",
                        o->min_args, o->max_args, o->args, nargs);
    }
    for (i = 0; i < nargs; i++) {
        if (args == NULL || args[i] == NULL) {
            return opt_fail(err, o, AIM_CONFIG, "missing value");
        }
        if ((s = check_word(o, args[i], err)) != AIM_OK) {
            return s;
        }
    }

    switch (id) {

    case AIM_OPT_KEYS:
    case AIM_OPT_SSF_KEYS:
        /* "[ISSUER] PATH": one more key source, bound to ISSUER when given. */
        option_lists_of(cfg, id, &l);
        return lists_add(&l, o, args[nargs - 1], nargs == 2 ? args[0] : NULL,
                         err);
    case AIM_OPT_ISSUER:
    case AIM_OPT_SSF_ISSUER:
    case AIM_OPT_SSF_AUDIENCE:
        option_lists_of(cfg, id, &l);
        return lists_add(&l, o, args[0], NULL, err);

    case AIM_OPT_STATUS_LIST:
        for (i = 0; i < cfg->nstatus; i++) {
            if (strcmp(cfg->status_uris[i], args[0]) == 0) {
                /* Two copies of one list: which one answers would be an
                 * accident of order. */
                return opt_fail(err, o, AIM_CONFIG, "\"%.100s\" is configured "
                                "twice", args[0]);
            }
        }
        option_lists_of(cfg, id, &l);
        return lists_add(&l, o, args[0], args[1], err);

    case AIM_OPT_STRICT_MODES:
        if (strcmp(args[0], "on") != 0 && strcmp(args[0], "off") != 0) {
            return opt_fail(err, o, AIM_CONFIG, "\"%.64s\" is neither on nor off",
                            args[0]);
        }
        cfg->strict_modes = args[0][1] == 'n';
        return AIM_OK;

    case AIM_OPT_TYPES: {
        char *types[AIM_MAX_TYPES];

        for (i = 0; i < nargs; i++) {
            if (strlen(args[i]) > 64 || strpbrk(args[i], " ,") != NULL) {
                while (i > 0) free(types[--i]);
                return opt_fail(err, o, AIM_CONFIG, "\"%.64s\" is not one type "
                                "of at most 64 bytes", args[i]);
            }
            types[i] = normalise_type(args[i]);
            if (types[i] == NULL) {
                while (i > 0) free(types[--i]);
                return opt_fail(err, o, AIM_INTERNAL, "out of memory");
            }
        }
        option_clear(cfg, id);
        memcpy(cfg->types, types, nargs * sizeof(char *));
        cfg->ntypes = nargs;
        return AIM_OK;
    }

    default:
        break;
    }

    if ((str = option_string(cfg, id)) != NULL) {
        return set_string(str, o, args[0], err);
    }

    /* Numbers. */
    if ((s = parse_number(o, args[0], &n, err)) != AIM_OK) {
        return s;
    }
    switch (id) {
    case AIM_OPT_LEEWAY:          cfg->leeway = n; break;
    case AIM_OPT_MAX_LIFETIME:    cfg->max_lifetime = n; break;
    case AIM_OPT_RELOAD_INTERVAL: cfg->reload_interval = n; break;
    case AIM_OPT_CACHE:           cfg->cache = (size_t) n; break;
    case AIM_OPT_TRUST_MIN:       cfg->trust_min = (int) n; break;
    case AIM_OPT_DPOP_MAX_AGE:    cfg->dpop_max_age = n; break;
    case AIM_OPT_SSF_MAX_AGE:     cfg->ssf_max_age = n; break;
    default:
        return opt_fail(err, o, AIM_INTERNAL, "no setter");
    }
    return AIM_OK;
}

/*
 * Set an option from a given origin.  A value set directly (by the
 * adapter's own configuration) wins over the host file whatever the
 * order: the file's values of that option are dropped when a direct one
 * arrives, and the file never overrides a direct one.
 */
static aim_status
set_from(aim_config *cfg, const char *name, const char *const *args,
         size_t nargs, int origin, aim_error *err)
{
    const aim_option *o = aim_option_find(name);
    int               id;

    if (err != NULL) {
        err->option = NULL;
        err->line = 0;
    }
    if (o == NULL) {
        return aim_fail(err, AIM_CONFIG, "unknown option \"%.64s\"",
                        name != NULL ? name : "");
    }
    id = (int) (o - aim_option_table);
    if (origin == AIM_ORIGIN_FILE && cfg->origin[id] == AIM_ORIGIN_DIRECT) {
        /* Not applied, but checked: a bad line is a bad file for every
         * reader of it, whatever each overrides. */
        aim_config scratch;
        aim_status s;

        memset(&scratch, 0, sizeof(scratch));
        s = set_args(&scratch, id, args, nargs, err);
        aim_config_clear(&scratch);
        return s;
    }
    if (origin == AIM_ORIGIN_DIRECT && cfg->origin[id] == AIM_ORIGIN_FILE) {
        option_clear(cfg, id);
    }
    if (set_args(cfg, id, args, nargs, err) != AIM_OK) {
        return err != NULL ? err->status : AIM_CONFIG;
    }
    cfg->origin[id] = (unsigned char) origin;
    return AIM_OK;
}

aim_status
aim_config_set_args(aim_config *cfg, const char *name, const char *const *args,
                    size_t nargs, aim_error *err)
{
    return set_from(cfg, name, args, nargs, AIM_ORIGIN_DIRECT, err);
}

/*
 * The one-string form: options of one value take the string whole (a
 * path may contain spaces); options of several values split it at
 * spaces ("ISSUER PATH", "URI PATH", "aim+jwt at+jwt").
 */
aim_status
aim_config_set(aim_config *cfg, const char *name, const char *value,
               aim_error *err)
{
    const aim_option *o = aim_option_find(name);
    const char       *args[AIM_MAX_TYPES + 1];
    char              buf[AIM_MAX_OPTION_LEN * 2 + 2], *p, *save = NULL;
    size_t            n = 0;

    if (value == NULL) {
        return opt_fail(err, o, AIM_CONFIG, "missing value");
    }
    if (o == NULL || o->max_args == 1) {
        args[0] = value;
        return aim_config_set_args(cfg, name, args, 1, err);
    }
    if (strlen(value) >= sizeof(buf)) {
        return opt_fail(err, o, AIM_CONFIG, "value is too long");
    }
    memcpy(buf, value, strlen(value) + 1);
    for (p = strtok_r(buf, " \t,", &save); p != NULL;
         p = strtok_r(NULL, " \t,", &save))
    {
        if (n == sizeof(args) / sizeof(args[0])) {
            return opt_fail(err, o, AIM_CONFIG, "too many values");
        }
        args[n++] = p;
    }
    if (n == 0) {
        return opt_fail(err, o, AIM_CONFIG, "empty value");
    }
    return aim_config_set_args(cfg, name, args, n, err);
}

aim_status
aim_config_set_list(aim_config *cfg, const char *name, const char *value,
                    aim_error *err)
{
    const aim_option *o = aim_option_find(name);
    const char       *args[AIM_MAX_TYPES + 2];
    char             *copy, *p;
    size_t            n = 0;
    int               all, last;
    aim_status        s = AIM_OK;

    if (o == NULL) {
        return aim_fail_option(err, AIM_CONFIG, NULL, "unknown option \"%.64s\"",
                               name != NULL ? name : "");
    }
    if (value == NULL) {
        return opt_fail(err, o, AIM_CONFIG, "missing value");
    }
    if ((copy = aim_strdup(value)) == NULL) {
        return opt_fail(err, o, AIM_INTERNAL, "out of memory");
    }
    all = o->type == AIM_OPTION_WORDS;
    for (p = copy; s == AIM_OK; ) {
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (*p != '\0' && *p != ',') {
            if (n == sizeof(args) / sizeof(args[0])) {
                s = opt_fail(err, o, AIM_CONFIG, "too many values in one item");
                break;
            }
            if (*p == '"') {
                args[n++] = ++p;
                if ((p = strchr(p, '"')) == NULL) {
                    s = opt_fail(err, o, AIM_CONFIG, "unterminated quoted value");
                    break;
                }
                *p++ = '\0';
                if (*p != '\0' && *p != ',' && *p != ' ' && *p != '\t') {
                    s = opt_fail(err, o, AIM_CONFIG, "text right after a closing "
                                 "quote");
                    break;
                }
            } else {
                args[n++] = p;
                p += strcspn(p, ", \t\"");
                if (*p == '"') {
                    s = opt_fail(err, o, AIM_CONFIG, "a quote inside a value "
                                 "(quote the whole value)");
                    break;
                }
            }
            if (*p == ' ' || *p == '\t') {
                *p++ = '\0';
                continue;
            }
        }
        /* The end of an item: a comma or the end of the setting. */
        last = *p == '\0';
        *p++ = '\0';
        if (n > 0 && !all) {
            s = aim_config_set_args(cfg, name, args, n, err);
            n = 0;
        }
        if (last) {
            break;
        }
    }
    if (s == AIM_OK && n > 0) {
        s = aim_config_set_args(cfg, name, args, n, err);
    }
    free(copy);
    return s;
}

/* ------------------------------------------------------------------ */
/* The host configuration file                                         */

/*
 * Split one line into words: blanks separate, '#' at the start of a word
 * starts a comment, "double quotes" keep blanks and '#', and inside them
 * \" and \\ stand for themselves.  Words are written into buf.  Nothing
 * is silently dropped: a '#' inside a word, a carriage return other than
 * the one of a CRLF line end, and control characters are errors (each
 * would make the value read differ from the value seen in an editor).
 * Returns the word count or -1 with why set.
 */
static int
split_line(const char *line, char *buf, size_t size, char **words,
           size_t maxw, const char **why)
{
    const char *p = line;
    char       *o = buf, *end = buf + size - 1;
    size_t      n = 0;

#define CONTROL(c) (((unsigned char) (c) < 0x20 && (c) != '\t') || (c) == 0x7f)

    for ( ;; ) {
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '\r') {
            if (p[1] != '\0') {
                *why = "a carriage return inside a line";
                return -1;
            }
            break;
        }
        if (*p == '\0' || *p == '#') {
            break;
        }
        if (n == maxw) {
            *why = "too many values";
            return -1;
        }
        words[n++] = o;
        if (*p == '"') {
            p++;
            while (*p != '"') {
                if (*p == '\0') {
                    *why = "unterminated quoted value";
                    return -1;
                }
                if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) {
                    p++;
                }
                if (CONTROL(*p)) {
                    *why = *p == '\r' ? "a carriage return inside a line"
                                      : "a control character in a value";
                    return -1;
                }
                if (o == end) {
                    *why = "line too long";
                    return -1;
                }
                *o++ = *p++;
            }
            p++;
            if (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r'
                && *p != '#')
            {
                *why = "text right after a closing quote";
                return -1;
            }
        } else {
            while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r') {
                if (*p == '"') {
                    *why = "a quote inside a value (quote the whole value)";
                    return -1;
                }
                if (*p == '#') {
                    *why = "a '#' inside a value (quote the value, or put a "
                           "blank before the comment)";
                    return -1;
                }
                if (CONTROL(*p)) {
                    *why = "a control character in a name or value";
                    return -1;
                }
                if (o == end) {
                    *why = "line too long";
                    return -1;
                }
                *o++ = *p++;
            }
        }
        if (o == end) {
            *why = "line too long";
            return -1;
        }
        *o++ = '\0';
    }
#undef CONTROL
    return (int) n;
}

aim_status
aim_config_parse(aim_config *cfg, const char *name, char *text, size_t len,
                 aim_error *err)
{
    char       *line, *next, *stop = text + len;
    char        buf[AIM_MAX_OPTION_LEN * 2 + 16];
    char       *words[AIM_MAX_TYPES + 2];
    const char *why = NULL;
    unsigned    lineno = 0;
    int         n;
    aim_status  s;

    if (memchr(text, '\0', len) != NULL) {
        aim_fail(err, AIM_CONFIG, "%.200s: contains a NUL byte", name);
        if (err != NULL) {
            err->option = NULL;
            err->line = 0;
        }
        return AIM_CONFIG;
    }
    for (line = text; line < stop; line = next) {
        next = memchr(line, '\n', (size_t) (stop - line));
        if (next != NULL) {
            *next++ = '\0';
        } else {
            next = stop;           /* the last line, without a newline */
        }
        lineno++;
        n = split_line(line, buf, sizeof(buf), words,
                       sizeof(words) / sizeof(words[0]), &why);
        if (n < 0) {
            aim_fail(err, AIM_CONFIG, "%.200s:%u: %s", name, lineno, why);
            if (err != NULL) {
                err->line = lineno;
                err->option = NULL;
            }
            return AIM_CONFIG;
        }
        if (n == 0) {
            continue;
        }
        s = set_from(cfg, words[0], (const char *const *) words + 1,
                     (size_t) n - 1, AIM_ORIGIN_FILE, err);
        if (s != AIM_OK) {
            if (err != NULL) {
                char msg[sizeof(err->message)];

                snprintf(msg, sizeof(msg), "%s", err->message);
                snprintf(err->message, sizeof(err->message), "%.200s:%u: %s",
                         name, lineno, msg);
                err->line = lineno;
            }
            return s;
        }
    }
    return AIM_OK;
}

aim_status
aim_config_load(aim_config *cfg, const char *path, aim_error *err)
{
    char        *text;
    size_t       len;
    aim_status   s;
    struct stat  st;

    if (err != NULL) {
        err->option = NULL;
        err->line = 0;
    }
    if (path == NULL || path[0] == '\0') {
        return aim_fail(err, AIM_CONFIG, "no configuration file named");
    }
    text = aim_read_file(path, AIM_MAX_CONFIG_FILE, &len, &st, err);
    if (text == NULL) {
        if (err != NULL) {
            err->status = AIM_CONFIG;
        }
        return AIM_CONFIG;
    }
    s = aim_config_parse(cfg, path, text, len, err);
    free(text);
    return s;
}
