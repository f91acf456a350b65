/*
 * fuzz_config.c -- libFuzzer harness: any bytes as a host configuration
 * file, through the parser behind aim_config_load (aim_config_parse).
 * The first byte decides whether options were set directly first, and
 * (bit 1) whether the lines are list settings instead ("NAME VALUE", the
 * value through aim_config_set_list, as PostgreSQL hands them); after
 * the parse, whatever it answered, the configuration must hold what the
 * contract says: a direct value never changed by the file, every count
 * and number within its bound, every stored value a clean word.
 */
#include "fuzz_common.h"
#include "internal.h"

#define DIRECT_AUD  "direct-audience"
#define DIRECT_ISS  "https://direct.fuzz"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    return 0;
}

static void
require(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_config: broken invariant: %s\n", what);
        abort();
    }
}

/* Each line "NAME VALUE" as a list setting; the first error ends it. */
static aim_status
set_lists(aim_config *cfg, char *text, aim_error *err)
{
    char       *line = text, *next, *value;
    aim_status  s = AIM_OK;

    for (; line != NULL && s == AIM_OK; line = next) {
        next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        value = strchr(line, ' ');
        if (value == NULL) {
            continue;
        }
        *value++ = '\0';
        s = aim_config_set_list(cfg, line, value, err);
        if (s != AIM_OK) {
            require(s == AIM_CONFIG || s == AIM_INTERNAL, "list status");
            require(err->option == NULL || aim_option_find(err->option) != NULL,
                    "list option named");
            require(memchr(err->message, '\0', sizeof(err->message)) != NULL,
                    "list message ends");
        }
    }
    return s;
}

/* A stored value: present, at most the option limit, no control bytes. */
static void
clean(const char *s, const char *what)
{
    const unsigned char *p;

    require(s != NULL, what);
    require(strlen(s) <= AIM_MAX_OPTION_LEN, what);
    for (p = (const unsigned char *) s; *p != '\0'; p++) {
        require(*p >= 0x20 && *p != 0x7f, what);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aim_config *cfg;
    aim_config  copy;
    aim_error   err;
    aim_status  s;
    char       *text;
    int         direct, lists;
    size_t      i;

    if (size == 0 || size > AIM_MAX_CONFIG_FILE) {
        return 0;
    }
    direct = data[0] & 1;
    lists = (data[0] & 2) != 0;
    cfg = aim_config_new();
    if (cfg == NULL) {
        return 0;
    }
    if (direct) {
        const char *iss[] = { DIRECT_ISS };

        require(aim_config_set(cfg, "audience", DIRECT_AUD, &err) == AIM_OK, "set");
        require(aim_config_set(cfg, "trust_min", "77", &err) == AIM_OK, "set");
        require(aim_config_set_args(cfg, "issuer", iss, 1, &err) == AIM_OK, "set");
        require(aim_config_set(cfg, "types", "aim+jwt", &err) == AIM_OK, "set");
    }
    text = malloc(size);
    if (text == NULL) {
        aim_config_free(cfg);
        return 0;
    }
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    memset(&err, 0, sizeof(err));
    if (lists) {
        /* direct settings themselves: they may replace the direct ones */
        s = set_lists(cfg, text, &err);
        direct = 0;
    } else {
        s = aim_config_parse(cfg, "fuzz.conf", text, size - 1, &err);
    }

    require(s == AIM_OK || s == AIM_CONFIG || s == AIM_INTERNAL, "status");
    if (s != AIM_OK && !lists) {
        require(strncmp(err.message, "fuzz.conf", 9) == 0, "message names the file");
        require(memchr(err.message, '\0', sizeof(err.message)) != NULL, "message ends");
        require(err.option == NULL || aim_option_find(err.option) != NULL, "option named");
    }
    if (direct) {
        require(cfg->audience != NULL && strcmp(cfg->audience, DIRECT_AUD) == 0,
                "the file changed a direct audience");
        require(cfg->trust_min == 77, "the file changed a direct trust_min");
        require(cfg->nissuers == 1 && strcmp(cfg->issuers[0], DIRECT_ISS) == 0,
                "the file changed direct issuers");
        require(cfg->ntypes == 1 && strcmp(cfg->types[0], "aim+jwt") == 0,
                "the file changed direct types");
    }
    require(cfg->nkeys <= AIM_MAX_KEY_SOURCES, "keys bound");
    require(cfg->nissuers <= AIM_MAX_ISSUERS, "issuers bound");
    require(cfg->ntypes >= 1 && cfg->ntypes <= AIM_MAX_TYPES, "types bound");
    require(cfg->nssf_keys <= AIM_MAX_KEY_SOURCES, "ssf keys bound");
    require(cfg->nssf_issuers <= AIM_SSF_MAX_ISSUERS, "ssf issuers bound");
    require(cfg->nssf_audiences <= AIM_SSF_MAX_AUDIENCES, "ssf audiences bound");
    for (i = 0; i < cfg->nssf_keys; i++) {
        clean(cfg->ssf_keys[i], "ssf key path");
        if (cfg->ssf_key_issuers[i] != NULL) clean(cfg->ssf_key_issuers[i], "ssf key issuer");
    }
    for (i = 0; i < cfg->nssf_issuers; i++) clean(cfg->ssf_issuers[i], "ssf issuer");
    for (i = 0; i < cfg->nssf_audiences; i++) clean(cfg->ssf_audiences[i], "ssf audience");
    require(cfg->nstatus <= AIM_MAX_STATUS_LISTS, "status lists bound");
    for (i = 0; i < cfg->nkeys; i++) {
        clean(cfg->keys[i], "key path");
        if (cfg->key_issuers[i] != NULL) clean(cfg->key_issuers[i], "key issuer");
    }
    for (i = 0; i < cfg->nissuers; i++) clean(cfg->issuers[i], "issuer");
    for (i = 0; i < cfg->ntypes; i++) clean(cfg->types[i], "type");
    for (i = 0; i < cfg->nstatus; i++) {
        clean(cfg->status_uris[i], "status uri");
        clean(cfg->status_paths[i], "status path");
    }
    if (cfg->audience != NULL) clean(cfg->audience, "audience");
    if (cfg->revoked != NULL) clean(cfg->revoked, "revoked");
    if (cfg->policy != NULL) clean(cfg->policy, "policy");
    if (cfg->audit != NULL) clean(cfg->audit, "audit");
    if (cfg->state != NULL) clean(cfg->state, "state");
    {
        size_t            n;
        const aim_option *o = aim_options(&n);
        int64_t           val[] = {
            [AIM_OPT_LEEWAY] = cfg->leeway,
            [AIM_OPT_MAX_LIFETIME] = cfg->max_lifetime,
            [AIM_OPT_CACHE] = (int64_t) cfg->cache,
            [AIM_OPT_TRUST_MIN] = cfg->trust_min,
            [AIM_OPT_RELOAD_INTERVAL] = cfg->reload_interval,
            [AIM_OPT_DPOP_MAX_AGE] = cfg->dpop_max_age,
        };

        for (i = 0; i < n && i < sizeof(val) / sizeof(val[0]); i++) {
            if (o[i].type == AIM_OPTION_NUMBER || o[i].type == AIM_OPTION_SECONDS) {
                require(val[i] >= o[i].min && val[i] <= o[i].max, o[i].name);
            }
        }
    }
    /* What the verifier does with a configuration: copy, check, clear. */
    if (aim_config_copy(&copy, cfg) == 0) {
        (void) aim_config_check(&copy, &err);
    }
    aim_config_clear(&copy);
    free(text);
    aim_config_free(cfg);
    return 0;
}
