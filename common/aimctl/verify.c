/*
 * verify.c -- aimctl verify: a token through libaim's decision path,
 * through the public API (aim.h) only, exactly as an adapter does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "aimctl.h"

static const char verify_usage[] =
"Usage: aimctl verify [--config FILE] --keys JWKS --issuer ISSUER --audience AUD\n"
"                     [--scope S]... [--any] [--revoked FILE] [--policy FILE]\n"
"                     [--leeway S] [--max-lifetime S] [--types \"T...\"]\n"
"                     [--audit FILE] [--now EPOCH] [--status-list \"URI FILE\"]...\n"
"                     [--state FILE [--trust-min N]] [--action A] [--resource R]\n"
"                     [--dpop PROOF|- --htm METHOD --htu URL [--dpop-max-age S]]\n"
"                     TOKEN|-\n"
"\n"
"Verify a token exactly as the adapters do (libaim: verify -> authorize)\n"
"and print one JSON object.  Exit status 0: valid, with\n"
"  {\"valid\":true, \"agent\", \"subject\", \"owner\", \"issuer\", \"chain\",\n"
"   \"scopes\":[...], \"jti\", \"kid\", \"alg\", \"exp\", \"iat\", \"cnf_jkt\"\n"
"   and, with --dpop, \"dpop\":true}\n"
"1: rejected, with {\"valid\":false, \"reason\", \"message\"}; 2: usage or\n"
"configuration error.  '-' reads the token from standard input (one\n"
"trailing newline is removed).\n"
"\n"
"  --config FILE        the host configuration file (/etc/aim/aim.conf): any\n"
"                       option below given on the command line wins over it\n"
"  --keys FILE          JWKS file, or pem:ALG:PATH; repeatable\n"
"  --issuer ISSUER      accepted \"iss\"; repeatable\n"
"  --audience AUD       this service's audience\n"
"  --scope S            required scope; repeatable (all required)\n"
"  --any                any one --scope suffices\n"
"  --revoked FILE       revocation list (agent/jti/kid lines)\n"
"  --policy FILE        local policy (allow lines)\n"
"  --leeway S           clock skew allowed (default 30)\n"
"  --max-lifetime S     maximum exp - iat (default 86400)\n"
"  --types \"T...\"       accepted typ values (default \"aim+jwt at+jwt\")\n"
"  --audit FILE         append the decision's audit line to FILE\n"
"  --now EPOCH          verify as if the time were EPOCH\n"
"  --status-list \"URI FILE\"  a local copy of the Token Status List at URI\n"
"                       (signed with one of --keys); repeatable\n"
"  --state FILE         the host's state file: the decision feeds the agent's\n"
"                       baseline, and trust below --trust-min (0-100, default\n"
"                       50) denies with low_trust\n"
"  --action A, --resource R   what is asked (default action \"verify\"), for\n"
"                       the baseline and the audit line\n"
"  --dpop PROOF         also check a DPoP proof for the token (needs --htm\n"
"                       and --htu; --dpop-max-age defaults to 60 s)\n";

static int64_t fixed_now;

static int64_t
fixed_clock(void)
{
    return fixed_now;
}

static int
verify_output(aim_status s, const aim_error *err, const aim_token *t,
              int dpop)
{
    json_t *o = json_object(), *scopes;
    size_t  i;

    if (s != AIM_OK) {
        json_object_set_new(o, "valid", json_false());
        json_object_set_new(o, "reason", json_string(aim_reason(s)));
        json_object_set_new(o, "message", json_string(err->message));
        if (t != NULL) {
            /* Verified, then refused (scope, binding): say who. */
            json_object_set_new(o, "agent", json_string(aim_token_agent(t)));
        }
    } else {
        json_object_set_new(o, "valid", json_true());
        json_object_set_new(o, "agent", json_string(aim_token_agent(t)));
        json_object_set_new(o, "subject", json_string(aim_token_subject(t)));
        json_object_set_new(o, "owner", aim_token_owner(t) != NULL
                            ? json_string(aim_token_owner(t)) : json_null());
        json_object_set_new(o, "issuer", json_string(aim_token_issuer(t)));
        json_object_set_new(o, "chain", json_string(aim_token_chain(t)));
        scopes = json_array();
        for (i = 0; i < aim_token_scope_count(t); i++) {
            json_array_append_new(scopes, json_string(aim_token_scope_at(t, i)));
        }
        json_object_set_new(o, "scopes", scopes);
        json_object_set_new(o, "jti", json_string(aim_token_jti(t)));
        json_object_set_new(o, "kid", json_string(aim_token_kid(t)));
        json_object_set_new(o, "alg", json_string(aim_token_alg(t)));
        json_object_set_new(o, "exp", json_integer(aim_token_exp(t)));
        json_object_set_new(o, "iat", json_integer(aim_token_iat(t)));
        json_object_set_new(o, "cnf_jkt", aim_token_cnf_jkt(t) != NULL
                            ? json_string(aim_token_cnf_jkt(t)) : json_null());
        if (dpop) {
            json_object_set_new(o, "dpop", json_true());
        }
    }
    print_json(o, JSON_COMPACT);
    json_decref(o);
    flush_stdout();
    return s == AIM_OK ? EXIT_OK : EXIT_REJECTED;
}

static aim_status
cli_replay(void *ud, const unsigned char hash[32], int64_t expires)
{
    (void) ud;
    (void) hash;
    (void) expires;
    return AIM_OK;
}

int
cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config",       required_argument, NULL, 'C' },
        { "keys",         required_argument, NULL, 'k' },
        { "issuer",       required_argument, NULL, 'i' },
        { "audience",     required_argument, NULL, 'a' },
        { "scope",        required_argument, NULL, 's' },
        { "any",          no_argument,       NULL, 'y' },
        { "revoked",      required_argument, NULL, 'r' },
        { "policy",       required_argument, NULL, 'p' },
        { "leeway",       required_argument, NULL, 'l' },
        { "max-lifetime", required_argument, NULL, 'm' },
        { "types",        required_argument, NULL, 't' },
        { "audit",        required_argument, NULL, 'A' },
        { "now",          required_argument, NULL, 'n' },
        { "dpop",         required_argument, NULL, 'd' },
        { "htm",          required_argument, NULL, 'M' },
        { "htu",          required_argument, NULL, 'U' },
        { "dpop-max-age", required_argument, NULL, 'D' },
        { "status-list",  required_argument, NULL, 'L' },
        { "state",        required_argument, NULL, 'S' },
        { "trust-min",    required_argument, NULL, 'T' },
        { "action",       required_argument, NULL, 'c' },
        { "resource",     required_argument, NULL, 'R' },
        { "help",         no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    aim_config      *cfg;
    aim_verifier    *v;
    aim_token       *t = NULL;
    aim_error        err;
    aim_status       s;
    aim_request      req;
    aim_decision     d;
    strlist          scopes = { {0}, 0 };
    const char      *dpop = NULL, *htm = NULL, *htu = NULL;
    const char      *action = "verify", *resource = NULL;
    int              have_state = 0, have_trust_min = 0;
    int              c, any = 0, have_keys = 0, have_iss = 0, have_aud = 0;
    int              have_config = 0;
    char            *token, *proof = NULL;
    const char      *arg;
    size_t           len, plen = 0;

    cfg = cli_config_new();
    /* One token, one decision: nothing to cache. */
    cli_config_set(cfg, "cache", "cache", "0");

    while ((c = next_opt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'C': cli_config_load(cfg, optarg); have_config = 1; break;
        case 'k': cli_config_set(cfg, "--keys", "keys", optarg); have_keys = 1; break;
        case 'i': cli_config_set(cfg, "--issuer", "issuer", optarg); have_iss = 1;
                  break;
        case 'a': cli_config_set(cfg, "--audience", "audience", optarg); have_aud = 1;
                  break;
        case 's': list_add(&scopes, "--scope", check_id("--scope", optarg,
                                                        AIM_MAX_SCOPE_LEN));
                  break;
        case 'y': any = 1; break;
        case 'r': cli_config_set(cfg, "--revoked", "revoked", optarg); break;
        case 'p': cli_config_set(cfg, "--policy", "policy", optarg); break;
        case 'l': cli_config_set(cfg, "--leeway", "leeway", optarg); break;
        case 'm': cli_config_set(cfg, "--max-lifetime", "max_lifetime", optarg); break;
        case 't': cli_config_set(cfg, "--types", "types", optarg); break;
        case 'A': cli_config_set(cfg, "--audit", "audit", optarg); break;
        case 'n': fixed_now = parse_int("--now", optarg, 0, 253402300799LL);
                  aim_set_clock(fixed_clock);
                  break;
        case 'd': dpop = optarg; break;
        case 'M': htm = check_id("--htm", optarg, 32); break;
        case 'U': htu = check_id("--htu", optarg, 4096); break;
        case 'D': cli_config_set(cfg, "--dpop-max-age", "dpop_max_age", optarg); break;
        case 'L': cli_config_set(cfg, "--status-list", "status_list", optarg); break;
        case 'S': cli_config_set(cfg, "--state", "state", optarg); have_state = 1; break;
        case 'T': cli_config_set(cfg, "--trust-min", "trust_min", optarg);
                  have_trust_min = 1; break;
        case 'c': action = check_id("--action", optarg, 64); break;
        case 'R': resource = check_id("--resource", optarg, 4096); break;
        case 'h':
            aim_config_free(cfg);
            fputs(verify_usage, stdout);
            return EXIT_OK;
        }
    }
    /* Without a host file these must be given; with one, the verifier
     * says which is missing from both. */
    if (!have_keys && !have_config) usage_error("--keys is required");
    if (!have_iss && !have_config)  usage_error("--issuer is required");
    if (!have_aud && !have_config)  usage_error("--audience is required");
    arg = token_arg(argc, argv);
    if (any && scopes.n == 0) {
        usage_error("--any needs at least one --scope");
    }
    if (have_trust_min && !have_state) {
        usage_error("--trust-min needs --state (trust lives in the state file)");
    }
    if (dpop != NULL && (htm == NULL || htu == NULL)) {
        usage_error("--dpop needs --htm and --htu");
    }
    if (dpop == NULL && (htm != NULL || htu != NULL)) {
        usage_error("--htm and --htu only go with --dpop");
    }
    if (dpop != NULL && strcmp(dpop, "-") == 0 && strcmp(arg, "-") == 0) {
        usage_error("the token and the DPoP proof cannot both come from stdin");
    }

    v = aim_verifier_new(cfg, &err);
    aim_config_free(cfg);
    if (v == NULL) {
        fprintf(stderr, "%s: %s\n", cmd, err.message);
        err.status = AIM_CONFIG;
        verify_output(AIM_CONFIG, &err, NULL, 0);
        return EXIT_USAGE;
    }

    token = read_arg(arg, "token", &len);
    memset(&req, 0, sizeof(req));
    req.adapter = "aimctl";
    req.action = action;
    req.resource = resource;
    req.scopes = scopes.v;
    req.nscopes = scopes.n;
    req.any = any;
    req.token = token;
    req.token_len = len;
    if (dpop != NULL) {
        /* One proof, one process: the replay store forgets. */
        proof = read_arg(dpop, "DPoP proof", &plen);
        req.scheme = AIM_SCHEME_DPOP;
        req.dpop = AIM_DPOP_ON;
        req.proof = proof;
        req.proof_len = plen;
        req.nproofs = 1;
        req.method = htm;
        req.url = htu;
        req.replay = cli_replay;
    }

    s = aim_decide(v, &req, &d);
    t = d.token;
    d.token = NULL;
    err.status = s;
    memcpy(err.message, d.message, sizeof(err.message));
    aim_decision_clear(&d);
    free(proof);
    OPENSSL_cleanse(token, len);
    free(token);

    c = verify_output(s, &err, t, dpop != NULL);
    aim_token_free(t);
    aim_verifier_free(v);
    return c;
}
