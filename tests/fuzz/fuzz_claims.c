/*
 * fuzz_claims.c -- libFuzzer harness: any bytes as the claims of a token
 * that is correctly signed (EdDSA, fixed key, signed here for each input),
 * so the fuzzer reaches what a bit flip in a real token never does: the
 * claims, the agent model, scopes, policy, revocation and the audit line.
 */
#include "fuzz_common.h"
#include "internal.h"
#include "b64.h"

static aim_verifier *v;
static fuzz_signer   signer;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    v = fuzz_verifier();
    aim_verifier_set_audit(v, fuzz_audit_sink, NULL);
    fuzz_signer_init(&signer, 2, "{\"alg\":\"EdDSA\",\"typ\":\"aim+jwt\","
                     "\"kid\":\"f-eddsa\"}");
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const need[] = { "kb:read", "db:read" };
    aim_request    req = { .adapter = "fuzz", .action = "GET", .resource = "/kb/1",
                           .scopes = need, .nscopes = 2, .any = 1 };
    char          *tok;
    size_t         n;
    aim_token     *t = NULL;
    aim_error      err;

    if (size > 12000) {
        return 0;
    }
    tok = fuzz_signer_sign(&signer, data, size, &n);

    {
        aim_decision d;

        req.token = tok;
        req.token_len = n;
        aim_decide(v, &req, &d);
        t = d.token;
        d.token = NULL;
        aim_decision_clear(&d);
    }
    if (t != NULL) {
        size_t i;
        free(aim_token_claims_json(t));
        free(aim_token_claim(t, "act"));
        for (i = 0; i < aim_token_scope_count(t); i++) {
            if (!aim_token_has_scope(t, aim_token_scope_at(t, i))) {
                abort();
            }
        }
        /* Least privilege: the policy only removes scopes. */
        aim_recheck(v, t, &err);
        aim_token_free(t);
    }
    free(tok);
    return 0;
}
