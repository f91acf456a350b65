/*
 * aimctl.c -- the AIM command-line tool.
 *
 *   aimctl keygen      make a private signing key (PEM, mode 0600)
 *   aimctl jwks        the public JWKS of private keys
 *   aimctl thumbprint  the RFC 7638 thumbprint of a key (cnf.jkt)
 *   aimctl issue       sign an agent token: the development issuer
 *   aimctl dpop        sign a DPoP proof (RFC 9449)
 *   aimctl verify      verify a token through libaim's decision path
 *   aimctl inspect     decode a token without verifying it
 *   aimctl stats       agents, trust and baselines in a host's state file
 *   aimctl trust       reset an agent's trust (operator)
 *   aimctl audit       summarise audit lines; an agent's trust as SVG
 *   aimctl statuslist  create, update and show signed Token Status Lists
 *   aimctl revoke      add an entry to a revocation file, atomically
 *   aimctl unrevoke    remove one
 *   aimctl options     list the core's configuration options
 *   aimctl ssf         shared signals: apply a SET, poll a transmitter,
 *                      show the journal
 *   aimctl fetch       bring a JWKS, status list or revocation list from
 *                      an HTTPS URL, checked before it replaces the file
 *
 * One file per subcommand (keygen.c, jwks.c, issue.c, dpop.c, verify.c,
 * inspect.c, stats.c, trust.c, audit.c with svg.c, statuslist.c,
 * revoke.c, options.c, ssf.c, fetch.c); the helpers they share are
 * declared in aimctl.h, with the host configuration in config.c and the
 * HTTP client (libcurl, linked by aimctl alone) in http.c.  verify
 * goes through the public API (aim.h) only, exactly as an adapter does.
 * stats and trust use the state unit (state.h), statuslist the status
 * list encoding (status.h), revoke and unrevoke the revocation parser
 * (revoke.h).  The issuing commands use the development signer (sign.h):
 * real deployments sign with their IdP.  Private key material is only
 * ever written to keygen's --out file, never to standard output or
 * errors.
 *
 * Exit status: 0 success (valid), 1 rejected or failed, 2 usage or
 * configuration error.
 */
#include <stdio.h>
#include <string.h>
#include "aimctl.h"

static const char main_usage[] =
"Usage: aimctl COMMAND [OPTIONS]\n"
"\n"
"AIM (Agent Identity Management) command-line tool.\n"
"\n"
"Commands:\n"
"  keygen      make a private signing key (PEM, mode 0600)\n"
"  jwks        print the public JWKS of private keys\n"
"  thumbprint  print a key's RFC 7638 thumbprint (for cnf.jkt)\n"
"  issue       sign an agent token (development issuer)\n"
"  dpop        sign a DPoP proof\n"
"  verify      verify a token as the adapters do; JSON, exit 0/1/2\n"
"  inspect     decode a token WITHOUT verifying it\n"
"  stats       agents, trust and rates in a host's state file\n"
"  trust       'trust reset AGENT': forget an agent's history (operator)\n"
"  audit       summarise audit lines per agent; trust timeline as SVG\n"
"  statuslist  create, update or show a signed Token Status List\n"
"  revoke      revoke an agent, a token (jti) or a key (kid) in a\n"
"              revocation file, atomically\n"
"  unrevoke    remove such an entry\n"
"  options     list the core's configuration options (every adapter's)\n"
"  ssf         shared signals: 'ssf apply' a SET, 'ssf poll' a transmitter\n"
"              (RFC 8936), 'ssf status' of the journal\n"
"  fetch       bring a JWKS, status list or revocation list from an HTTPS\n"
"              URL; checked completely before it replaces the file\n"
"\n"
"'aimctl COMMAND --help' describes each command; see also aimctl(1).\n"
"Exit status: 0 success, 1 rejected or failed, 2 usage or configuration\n"
"error.\n";

static const struct {
    const char *name;
    int       (*run)(int argc, char **argv);
} commands[] = {
    { "keygen",     cmd_keygen },
    { "jwks",       cmd_jwks },
    { "thumbprint", cmd_thumbprint },
    { "issue",      cmd_issue },
    { "dpop",       cmd_dpop },
    { "verify",     cmd_verify },
    { "inspect",    cmd_inspect },
    { "stats",      cmd_stats },
    { "trust",      cmd_trust },
    { "audit",      cmd_audit },
    { "statuslist", cmd_statuslist },
    { "revoke",     cmd_revoke },
    { "unrevoke",   cmd_unrevoke },
    { "options",    cmd_options },
    { "ssf",        cmd_ssf },
    { "fetch",      cmd_fetch },
};

int
main(int argc, char **argv)
{
    size_t i;

    opterr = 0;
    if (argc < 2) {
        fputs(main_usage, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "help") == 0)
    {
        if (argc > 2 && strcmp(argv[1], "help") == 0) {
            char *help[] = { argv[2], (char *) "--help", NULL };
            for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
                if (strcmp(argv[2], commands[i].name) == 0) {
                    set_cmd(argv[2]);
                    return commands[i].run(2, help);
                }
            }
            usage_error("no command \"%.32s\"", argv[2]);
        }
        fputs(main_usage, stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("aimctl %s\n", AIM_VERSION);
        return EXIT_OK;
    }
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            set_cmd(argv[1]);
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    usage_error("no command \"%.32s\" (keygen jwks thumbprint issue dpop "
                "verify inspect stats trust audit statuslist revoke unrevoke "
                "options ssf fetch)", argv[1]);
}
