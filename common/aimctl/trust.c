/*
 * trust.c -- aimctl trust reset: an operator forgets one agent's
 * behavioural history in a host's state file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "aimctl.h"
#include "state.h"

static const char trust_usage[] =
"Usage: aimctl trust reset AGENT --state FILE\n"
"\n"
"Forget one agent's behavioural history in a host's state file: its trust\n"
"goes back to 100 and it starts a new learning period (docs/trust.md).  For\n"
"an operator who has investigated a low-trust agent; every adapter sharing\n"
"the file sees the reset at the agent's next decision.  Exit 1 when the\n"
"agent is not in the file; exit 2 when the file is missing or damaged (it\n"
"is refused and left as it is, never rebuilt).  To stop an agent, revoke\n"
"it instead.\n"
"\n"
"  --state FILE    the state file (the adapters' 'state' setting)\n";

int
cmd_trust(int argc, char **argv)
{
    static const struct option opts[] = {
        { "state", required_argument, NULL, 's' },
        { "help",  no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *path = NULL, *agent;
    aim_state  *st;
    int         c, rc;
    char       *shown;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc < 2) {
            usage_error("which action? (reset)");
        }
        fputs(trust_usage, stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "reset") != 0) {
        usage_error("no action \"%.32s\" (reset)", argv[1]);
    }
    set_cmd("trust reset");
    argc--;
    argv++;
    while ((c = next_opt(argc, argv, opts)) != -1) {
        switch (c) {
        case 's': path = optarg; break;
        case 'h': fputs(trust_usage, stdout); return EXIT_OK;
        }
    }
    agent = check_id("AGENT", one_arg(argc, argv, "which agent? (aimctl trust "
                                      "reset AGENT --state FILE)",
                                      "one agent at a time, please"), 1024);
    if (path == NULL) {
        usage_error("--state is required");
    }

    st = open_state(path, 0);
    rc = aim_state_reset(st, agent);
    aim_state_close(st);
    shown = clean_text(agent, TEXT_TERMINAL);
    if (rc != 0) {
        fprintf(stderr, "%s: agent \"%s\" is not in \"%s\" (nothing to reset; "
                "'aimctl stats --state %s' lists the agents)\n", cmd, shown,
                path, path);
        free(shown);
        return EXIT_REJECTED;
    }
    printf("agent \"%s\": trust reset to 100, learning again\n", shown);
    free(shown);
    flush_stdout();
    return EXIT_OK;
}
