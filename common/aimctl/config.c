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
    aim_keyset *all = NULL, *ks;
    aim_error   err;
    const char *issuer;
    size_t      i, k;

    if (cfg->nkeys == 0) {
        return NULL;
    }
    /* As the verifier binds them: each source to its issuer, or to the
     * one issuer when there is only one. */
    for (i = 0; i < cfg->nkeys; i++) {
        if (cfg->key_issuers[i] == NULL && cfg->nissuers > 1) {
            fail(EXIT_USAGE, "keys: with more than one issuer, bind every key "
                 "source to its issuer (\"ISSUER PATH\")");
        }
        ks = aim_keyset_load(cfg->keys[i], &err);
        if (ks == NULL) {
            fail(EXIT_USAGE, "keys: %s", err.message);
        }
        issuer = cfg->key_issuers[i] != NULL ? cfg->key_issuers[i]
                 : cfg->nissuers == 1 ? cfg->issuers[0] : NULL;
        for (k = 0; k < aim_keyset_count(ks); k++) {
            aim_keyset_at(ks, k)->issuer = issuer;
        }
        if (all == NULL) {
            all = ks;
            continue;
        }
        if (aim_keyset_merge(all, ks, &err) != AIM_OK) {
            fail(EXIT_USAGE, "keys: %s", err.message);
        }
        aim_keyset_free(ks);
    }
    return all;
}
