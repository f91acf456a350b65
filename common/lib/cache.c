/*
 * cache.c -- verified-token cache.
 *
 * A direct-mapped table keyed by SHA-256 of the whole token: bounded,
 * O(1), no allocation on the hot path.  An entry is valid only for the
 * generation it was stored in (keys, revocations and policy bump it) and
 * only until the token's exp, which the caller checks on every hit.
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "util.h"

int
aim_cache_init(aim_cache *c, size_t entries)
{
    size_t n = 1;

    c->slots = NULL;
    c->mask = 0;
    if (entries == 0) {
        return 0;
    }
    while (n < entries) {
        n <<= 1;
    }
    c->slots = calloc(n, sizeof(aim_cache_entry));
    if (c->slots == NULL) {
        return -1;
    }
    c->mask = n - 1;
    return 0;
}

void
aim_cache_flush(aim_cache *c)
{
    size_t i;

    if (c->slots == NULL) {
        return;
    }
    for (i = 0; i <= c->mask; i++) {
        if (c->slots[i].token != NULL) {
            aim_token_free(c->slots[i].token);
            c->slots[i].token = NULL;
        }
    }
}

void
aim_cache_free(aim_cache *c)
{
    aim_cache_flush(c);
    free(c->slots);
    c->slots = NULL;
    c->mask = 0;
}

static size_t
slot_of(const aim_cache *c, const unsigned char hash[32])
{
    uint64_t h;

    memcpy(&h, hash, sizeof(h));
    return (size_t) (h & c->mask);
}

aim_token *
aim_cache_get(aim_cache *c, const unsigned char hash[32], uint64_t generation)
{
    aim_cache_entry *e;

    if (c->slots == NULL) {
        return NULL;
    }
    e = &c->slots[slot_of(c, hash)];
    if (e->token == NULL || !aim_ct_equal(e->hash, hash, 32)) {
        return NULL;
    }
    if (e->generation != generation) {
        aim_token_free(e->token);
        e->token = NULL;
        return NULL;
    }
    return e->token;
}

void
aim_cache_put(aim_cache *c, const unsigned char hash[32], aim_token *t,
              uint64_t generation)
{
    aim_cache_entry *e;

    if (c->slots == NULL) {
        return;
    }
    e = &c->slots[slot_of(c, hash)];
    if (e->token != NULL) {
        aim_token_free(e->token);
    }
    memcpy(e->hash, hash, 32);
    e->token = aim_token_ref(t);
    e->generation = generation;
}
