/*
 * main.c -- the core's unit tests.
 *
 * Usage: unit [GROUP...]     (no group: all; T_VERBOSE=1 lists every check)
 * Groups: b64 json keys jws verify scope policy revoke runtime dpop decide state ssf
 *         decide-attack files state-repair mcp shared
 */
#include <stdlib.h>
#include <string.h>
#include "t.h"
#include "tu.h"
#include "units.h"

static const struct {
    const char *name;
    void      (*fn)(void);
} groups[] = {
    { "b64", test_b64 },       { "json", test_json },     { "keys", test_keys },
    { "jws", test_jws },       { "verify", test_verify }, { "scope", test_scope },
    { "policy", test_policy }, { "revoke", test_revoke }, { "runtime", test_runtime },
    { "dpop", test_dpop },     { "decide", test_decide },
    { "state", test_state },
    { "ssf", test_ssf },
    { "decide-attack", test_decide_attack },
    { "files", test_files },
    { "state-repair", test_state_repair },
    { "mcp", test_mcp },
    { "shared", test_shared },
};

int
main(int argc, char **argv)
{
    size_t      i;
    int         j, ran = 0;
    const char *suite = getenv("T_SUITE");

    t_verbose = getenv("T_VERBOSE") != NULL && getenv("T_VERBOSE")[0] == '1';
    tu_init();
    for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        int want = argc < 2;
        for (j = 1; j < argc; j++) {
            want |= strcmp(argv[j], groups[i].name) == 0;
        }
        if (want) {
            groups[i].fn();
            ran++;
        }
    }
    if (ran == 0) {
        fprintf(stderr, "unit: no such group\n");
        return 2;
    }
    return t_summary(suite != NULL ? suite : "unit");
}
