/*
 * config.c -- the host configuration as aimctl's commands build it: the
 * file given with --config (aim_config_load, the same parser as every
 * adapter's) and the command line's options on top of it, which win
 * whatever their order.  A few commands act on the files a configuration
 * names (the state file, the revocation file, the status lists), so this
 * unit also reads them back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "aimctl.h"
#include "internal.h"

aim_config *
cli_config_new(void)
{
    aim_config *cfg = aim_config_new();

    if (cfg == NULL) {
        fail(EXIT_REJECTED, "out of memory");
    }
    return cfg;
}

void
cli_config_set(aim_config *cfg, const char *opt, const char *name,
               const char *value)
{
    aim_error err;

    if (aim_config_set(cfg, name, value, &err) != AIM_OK) {
        usage_error("%s: %s", opt, err.message);
    }
}

void
cli_config_load(aim_config *cfg, const char *path)
{
    aim_error err;

    if (aim_config_load(cfg, path, &err) != AIM_OK) {
        fail(EXIT_USAGE, "--config: %s", err.message);
    }
}

const char *
cli_config_state(const aim_config *cfg)
{
    return cfg->state;
}

const char *
cli_config_revoked(const aim_config *cfg)
{
    return cfg->revoked;
}

const char *
cli_config_status_uri(const aim_config *cfg, const char *path)
{
    size_t i;

    for (i = 0; i < cfg->nstatus; i++) {
        if (strcmp(cfg->status_paths[i], path) == 0) {
            return cfg->status_uris[i];
        }
    }
    return NULL;
}

aim_keyset *
cli_config_keys(const aim_config *cfg)
{
    aim_key_sources ks = aim_config_key_sources(cfg, AIM_OPT_KEYS);
    struct stat     st[AIM_MAX_KEY_SOURCES];
    aim_keyset     *all;
    aim_error       err;
    size_t          i;

    if (ks.n == 0) {
        return NULL;
    }
    /* As the verifier binds them: each source to its issuer, or to the
     * one issuer when there is only one. */
    for (i = 0; i < ks.n; i++) {
        if (ks.bound[i] == NULL && ks.nissuers > 1) {
            fail(EXIT_USAGE, "keys: with more than one issuer, bind every key "
                 "source to its issuer (\"ISSUER PATH\")");
        }
    }
    all = aim_key_sources_load(&ks, 0, st, NULL, &err);
    if (all == NULL) {
        fail(EXIT_USAGE, "keys: %s", err.message);
    }
    return all;
}
