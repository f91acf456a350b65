/*
 * fuzz_revoke.c -- libFuzzer harness: any bytes as a revocation file
 * through aim_revlist_parse, then matches against ids taken from the
 * input itself (so listed ids are found).
 */
#include "fuzz_common.h"
#include "revoke.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aim_error    err;
    aim_revlist *r = aim_revlist_parse((const char *) data, size, "fuzz", &err);
    char         id[64];
    size_t       n;

    if (r == NULL) {
        return 0;
    }
    n = size < sizeof(id) - 1 ? size : sizeof(id) - 1;
    memcpy(id, data, n);
    id[n] = '\0';
    (void) aim_revlist_match(r, id, id, id, id);
    (void) aim_revlist_match(r, "agent-1", NULL, NULL, NULL);
    (void) aim_revlist_match(r, NULL, NULL, NULL, NULL);
    (void) aim_revlist_count(r);
    aim_revlist_free(r);
    return 0;
}
