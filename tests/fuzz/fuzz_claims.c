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
static EVP_PKEY     *key;
static char          hdr[128];
static size_t        hlen;

static void
audit_sink(void *ud, const char *line)
{
    (void) ud;
    if (strchr(line, '\n') != NULL) {
        abort();
    }
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char h[] = "{\"alg\":\"EdDSA\",\"typ\":\"aim+jwt\",\"kid\":\"f-eddsa\"}";

    (void) argc;
    (void) argv;
    v = fuzz_verifier();
    aim_verifier_set_audit(v, audit_sink, NULL);
    key = fuzz_privkey(2);
    hlen = aim_b64url_encode((const unsigned char *) h, strlen(h), hdr);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const need[] = { "kb:read", "db:read" };
    aim_request    req = { .adapter = "fuzz", .action = "GET", .resource = "/kb/1",
                           .scopes = need, .nscopes = 2, .any = 1 };
    char          *tok;
    size_t         n, siglen = 64;
    unsigned char  sig[64];
    EVP_MD_CTX    *m;
    aim_token     *t = NULL;
    aim_error      err;

    if (size > 12000) {
        return 0;
    }
    tok = malloc(hlen + 1 + AIM_B64_ENCODED_LEN(size) + 1 + 100);
    memcpy(tok, hdr, hlen);
    tok[hlen] = '.';
    n = hlen + 1 + aim_b64url_encode(data, size, tok + hlen + 1);
    m = EVP_MD_CTX_new();
    if (EVP_DigestSignInit_ex(m, NULL, NULL, NULL, NULL, key, NULL) != 1
        || EVP_DigestSign(m, sig, &siglen, (const unsigned char *) tok, n) != 1)
    {
        abort();
    }
    EVP_MD_CTX_free(m);
    tok[n] = '.';
    n += 1 + aim_b64url_encode(sig, siglen, tok + n + 1);

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
