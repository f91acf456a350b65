/*
 * fuzz_dpop.c -- libFuzzer harness: any bytes as a DPoP proof for a
 * fixed, verified, key-bound access token (aim_dpop_verify).
 */
#include "fuzz_common.h"

static aim_verifier *v;
static aim_token    *bound;
static char         *bound_tok;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    aim_error err;

    (void) argc;
    (void) argv;
    v = fuzz_verifier();
    bound_tok = fuzz_bound_token();
    if (aim_verify(v, bound_tok, strlen(bound_tok), &bound, &err) != AIM_OK) {
        fuzz_die("bound token", err.message);
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aim_dpop_request req = { "GET", FUZZ_HTU, 60 };
    unsigned char    h[32];
    aim_error        err;

    aim_dpop_verify(v, (const char *) data, size, bound_tok, strlen(bound_tok), bound,
                    &req, h, &err);
    return 0;
}
