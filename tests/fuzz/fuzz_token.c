/*
 * fuzz_token.c -- libFuzzer harness: any bytes as a token, through the
 * whole decision (aim_decide: parse, key, signature, claims, revocation,
 * policy, scopes, audit line), plus aim_jws_parse on its own and the
 * token accessors and re-check when something verifies.
 */
#include "fuzz_common.h"
#include "internal.h"
#include "jws.h"

static aim_verifier *v;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    v = fuzz_verifier();
    aim_verifier_set_audit(v, fuzz_audit_sink, NULL);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const need[] = { "kb:read" };
    aim_request  req = { .adapter = "fuzz", .action = "GET", .resource = "/kb/1",
                         .scopes = need, .nscopes = 1 };
    aim_token   *t = NULL;
    aim_error    err;
    aim_jws      jws;
    aim_decision d;

    if (aim_jws_parse((const char *) data, size, &jws, &err) == AIM_OK) {
        aim_jws_clear(&jws);
    }
    req.token = (const char *) data;
    req.token_len = size;
    aim_decide(v, &req, &d);
    t = d.token;
    d.token = NULL;
    aim_decision_clear(&d);
    if (t != NULL) {
        free(aim_token_claims_json(t));
        free(aim_token_claim(t, "sub"));
        free(aim_token_claim(t, "act"));
        (void) aim_token_chain(t);
        (void) aim_token_scope(t);
        aim_recheck(v, t, &err);
        req.dpop = AIM_DPOP_ON;
        aim_decide_token(v, t, &req, &d);
        aim_decision_clear(&d);
        aim_token_free(t);
    }
    return 0;
}
