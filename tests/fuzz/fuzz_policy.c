/*
 * fuzz_policy.c -- libFuzzer harness: any bytes as a policy file through
 * aim_policy_parse, then look-ups; a parsed policy never grants a scope
 * to an agent it does not know.
 */
#include "fuzz_common.h"
#include "policy.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const agents[] = { "agent-1", "bot-7", "", "*", "agent-" };
    static const char *const scopes[] = { "kb:read", "kb:", "*", "db:select", "x" };
    aim_error   err;
    aim_policy *p = aim_policy_parse((const char *) data, size, "fuzz", &err);
    size_t      i, j;

    if (p == NULL) {
        return 0;
    }
    for (i = 0; i < sizeof(agents) / sizeof(agents[0]); i++) {
        int knows = aim_policy_knows(p, agents[i]);
        for (j = 0; j < sizeof(scopes) / sizeof(scopes[0]); j++) {
            if (aim_policy_allows(p, agents[i], scopes[j]) && !knows) {
                abort();
            }
        }
    }
    aim_policy_free(p);
    return 0;
}
