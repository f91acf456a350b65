/*
 * fuzz_dpop.c -- libFuzzer harness: any bytes as a DPoP proof for a
 * fixed, verified, key-bound access token (aim_dpop_verify).
 */
#include "fuzz_common.h"
#include "internal.h"

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

/* A replay store that forgets: every proof is new. */
static aim_status
fuzz_replay(void *ud, const unsigned char hash[32], int64_t expires)
{
    (void) ud;
    (void) hash;
    (void) expires;
    return AIM_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aim_dpop_request req = { "GET", FUZZ_HTU, 60 };
    unsigned char    h[32];
    aim_error        err;
    aim_request      r = { .adapter = "fuzz", .action = "GET", .resource = "/kb/1",
                           .token = bound_tok, .token_len = strlen(bound_tok),
                           .scheme = AIM_SCHEME_DPOP, .dpop = AIM_DPOP_REQUIRED,
                           .proof = (const char *) data, .proof_len = size,
                           .nproofs = 1, .method = "GET", .url = FUZZ_HTU,
                           .replay = fuzz_replay };
    aim_decision     d;

    aim_dpop_verify(v, (const char *) data, size, bound_tok, strlen(bound_tok), bound,
                    &req, h, &err);
    /* The same proof through the whole decision (binding, replay store). */
    aim_decide(v, &r, &d);
    aim_decision_clear(&d);
    return 0;
}
