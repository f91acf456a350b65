/*
 * fuzz_jwks.c -- libFuzzer harness: any bytes as a JWKS (or single JWK)
 * through aim_keyset_parse_jwks, then look-ups and the thumbprints.
 */
#include "fuzz_common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aim_error    err;
    aim_keyset  *ks = aim_keyset_parse_jwks((const char *) data, size, "fuzz", &err);
    const char  *why;
    size_t       i;

    if (ks == NULL) {
        return 0;
    }
    for (i = 0; i < aim_keyset_count(ks); i++) {
        const aim_key *k = aim_keyset_at(ks, i);
        if (k == NULL || k->kid == NULL || aim_keyset_find(ks, k->kid) != k) {
            abort();                  /* every key has a unique kid */
        }
    }
    (void) aim_keyset_find(ks, "f-es256");
    (void) aim_keyset_skipped(ks, &why);
    aim_keyset_free(ks);
    return 0;
}
