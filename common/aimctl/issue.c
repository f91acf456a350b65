/*
 * issue.c -- aimctl issue: the development issuer (real deployments sign
 * with their IdP).
 *
 * It signs what it is told, refused tokens included (tests need them),
 * but says so: every token it makes is checked with the core's own
 * limits and validators and then verified by a verifier with the core's
 * default settings; what would be refused is a warning on standard error.
 */
#define _GNU_SOURCE                     /* memfd_create */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "aimctl.h"
#include "scope.h"
#include "sign.h"

static const char issue_usage[] =
"Usage: aimctl issue --key PRIVATE --iss ISSUER --sub AGENT --aud AUDIENCE\n"
"                    [--scope \"S1 S2\"] [--ttl SECONDS] [--owner OWNER]\n"
"                    [--act ACTOR]... [--cnf-jkt JKT] [--claim NAME=VALUE]...\n"
"                    [--iat EPOCH] [--exp EPOCH] [--nbf EPOCH] [--jti ID]\n"
"                    [--kid KID] [--alg ALG] [--typ TYP]\n"
"                    [--status-idx N --status-uri URI]\n"
"                    [--header NAME=VALUE]... [--omit NAME]...\n"
"\n"
"Sign an agent token (a compact JWS, typ aim+jwt) and print it.  This is a\n"
"development issuer for demos and tests; real deployments use their IdP.\n"
"\n"
"  --key FILE        private key (from 'aimctl keygen')\n"
"  --iss ISSUER      \"iss\"\n"
"  --sub AGENT       \"sub\": the agent id (a SPIFFE ID, a URI...)\n"
"  --aud AUDIENCE    \"aud\"; repeat for an array\n"
"  --scope SCOPES    \"scope\", space separated; repeats are joined\n"
"  --ttl SECONDS     lifetime: exp = iat + SECONDS (default 300)\n"
"  --owner OWNER     \"owner\": the accountable human or team\n"
"  --act ACTOR       RFC 8693 \"act\": the agent acting for --sub; repeat to\n"
"                    nest: the first --act is the current actor, later ones\n"
"                    are prior actors\n"
"  --cnf-jkt JKT     bind to a DPoP key: \"cnf\":{\"jkt\":JKT}\n"
"                    (see 'aimctl thumbprint')\n"
"  --status-idx N, --status-uri URI   point the token into a Token Status\n"
"                    List: \"status\":{\"status_list\":{\"idx\":N,\"uri\":URI}}\n"
"                    (see 'aimctl statuslist')\n"
"  --claim N=V       extra or replacement claim; V is used as JSON when it\n"
"                    parses as JSON (42, true, [\"a\"], {...}), else as a string\n"
"  --iat/--exp/--nbf EPOCH   explicit times (default iat: now)\n"
"  --jti ID          \"jti\" (default: 128 random bits, base64url)\n"
"  --kid KID         header \"kid\" (default: recorded by keygen, else the\n"
"                    key's RFC 7638 thumbprint, as 'aimctl jwks' prints)\n"
"  --alg ALG         RS256 or PS256 for an RSA key (default: as recorded)\n"
"  --typ TYP         header \"typ\" (default aim+jwt)\n"
"  --header N=V      extra or replacement header member (tests)\n"
"  --omit NAME       leave claim NAME out (tests); repeatable\n"
"  --quiet           no warnings (tests that make refused tokens on purpose)\n"
"\n"
"The token is always issued (exit 0), but a warning on standard error says\n"
"when verifiers would refuse it: a token longer than verifiers read, a key\n"
"they do not load, an invalid scope or too many scopes, and whatever a\n"
"verifier with the default settings ('aimctl verify --keys ... --issuer\n"
"ISSUER --audience AUDIENCE', nothing else) refuses now: a lifetime over\n"
"the default maximum, a missing jti, exp or iat, a typ not accepted by\n"
"default, an expired or not yet valid token, a header alg or kid that does\n"
"not fit the key.\n";

/* ------------------------------------------------------------------ */
/* Would verifiers accept it?                                          */

/* The scope claim through the core's grammar: 1 when refused. */
static int
lint_scopes(const char *scope)
{
    char       *out[AIM_MAX_SCOPES], *shown, *copy = xmalloc(strlen(scope) + 1);
    const char *p, *e;
    size_t      len, count = 0;
    int         n, bad = 0;

    /* the core splits in place: on a copy */
    memcpy(copy, scope, strlen(scope) + 1);
    n = aim_scope_split(copy, out, AIM_MAX_SCOPES);
    free(copy);
    if (n >= 0) {
        return 0;
    }
    for (p = scope;; p = e + 1) {
        e = strchr(p, ' ');
        len = e != NULL ? (size_t) (e - p) : strlen(p);
        count++;
        if (len == 0) {
            warning("the scope claim has an empty scope (a leading, trailing or "
                    "double space); verifiers refuse the token");
            bad = 1;
        } else if (!aim_scope_valid(p, len)) {
            char *one = xmalloc(len + 1);

            memcpy(one, p, len);
            one[len] = '\0';
            shown = clean_text(one, TEXT_TERMINAL);
            warning("scope \"%s\" is not a valid scope (RFC 6749 3.3: 1 to %d "
                    "printable ASCII characters, not '\"' or '\\'); verifiers "
                    "refuse the token", shown, AIM_MAX_SCOPE_LEN);
            free(shown);
            free(one);
            bad = 1;
        }
        if (e == NULL) {
            break;
        }
    }
    if (!bad) {
        warning("%zu scopes: verifiers refuse a token with more than %d "
                "distinct scopes", count, AIM_MAX_SCOPES);
    }
    return 1;
}

/*
 * The token through a verifier with the core's default settings (its
 * aim_config_new) for this key, issuer and audience.  The key goes in as
 * a one-key JWKS in an anonymous memory file: nothing is written to disk.
 * Returns its verdict, or -1 with err set when it could not be built.
 */
static int
default_verify(const signer *s, const char *kid, const char *token,
               const char *iss, const char *aud, aim_error *err)
{
    json_t       *jwk, *doc;
    char         *text, spec[64];
    aim_config   *cfg;
    aim_verifier *v = NULL;
    aim_token    *t = NULL;
    int           st;
    size_t        len, off = 0;
    ssize_t       n;
    int           fd;

    jwk = aim_pubkey_to_jwk(s->pkey, s->alg, kid, err);
    if (jwk == NULL) {
        return -1;
    }
    doc = json_pack("{s:[o]}", "keys", jwk);
    text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    fd = memfd_create("aimctl-issue-jwks", MFD_CLOEXEC);
    if (text == NULL || fd < 0) {
        free(text);
        if (fd >= 0) {
            close(fd);
        }
        snprintf(err->message, sizeof(err->message), "cannot hold the key: %s",
                 text == NULL ? "out of memory" : strerror(errno));
        return -1;
    }
    len = strlen(text);
    while (off < len && (n = write(fd, text + off, len - off)) > 0) {
        off += (size_t) n;
    }
    free(text);
    snprintf(spec, sizeof(spec), "/proc/self/fd/%d", fd);
    cfg = aim_config_new();
    if (cfg == NULL) {
        snprintf(err->message, sizeof(err->message), "out of memory");
    } else if (aim_config_set(cfg, "keys", spec, err) == AIM_OK
               && aim_config_set(cfg, "issuer", iss, err) == AIM_OK
               && aim_config_set(cfg, "audience", aud, err) == AIM_OK
               && aim_config_set(cfg, "cache", "0", err) == AIM_OK
               /* the key set is our own memfd, not a file anyone shares */
               && aim_config_set(cfg, "strict_modes", "off", err) == AIM_OK)
    {
        v = aim_verifier_new(cfg, err);
    }
    st = v != NULL ? (int) aim_verify(v, token, strlen(token), &t, err) : -1;
    aim_token_free(t);
    aim_verifier_free(v);
    aim_config_free(cfg);
    close(fd);
    return st;
}

/*
 * Warn about everything that would make verifiers refuse token: first
 * what the core's limits and validators say of each part, then the
 * default verifier's verdict unless it only repeats one of those.
 */
static void
lint_token(const signer *s, const char *token, const json_t *hdr,
           const json_t *claims, const char *iss, const char *aud)
{
    int            said[AIM_STATUS_MAX] = { 0 };
    size_t         len = strlen(token);
    const json_t  *scope = json_object_get(claims, "scope");
    const char    *kid = json_string_value(json_object_get(hdr, "kid"));
    json_t        *jwk;
    aim_key        k;
    aim_error      err;
    int            st;

    if (len > AIM_MAX_TOKEN_LEN) {
        warning("the token is %zu bytes; verifiers refuse tokens longer than %d "
                "bytes", len, AIM_MAX_TOKEN_LEN);
        said[AIM_MALFORMED] = 1;
    }
    memset(&k, 0, sizeof(k));
    jwk = aim_pubkey_to_jwk(s->pkey, s->alg, s->kid, &err);
    if (jwk == NULL || aim_key_from_jwk(jwk, &k, &err) != AIM_OK) {
        warning("verifiers will not load this key: %s", err.message);
        said[AIM_CONFIG] = 1;
    }
    aim_key_clear(&k);
    json_decref(jwk);
    if (json_is_string(scope) && lint_scopes(json_string_value(scope))) {
        said[AIM_BAD_CLAIM] = 1;
    }

    st = default_verify(s, kid != NULL ? kid : s->kid, token, iss, aud, &err);
    /* A token pointing into a status list is refused by any verifier
     * without that list: a fact of deployment, not of the token. */
    if (st < 0) {
        warning("could not check the token with a default verifier: %s",
                err.message);
    } else if (st != AIM_OK && st != AIM_REVOKED && st < AIM_STATUS_MAX && !said[st]) {
        warning("a verifier with the default settings refuses this token: %s "
                "(%s)", aim_reason((aim_status) st), err.message);
    }
}

int
cmd_issue(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key",     required_argument, NULL, 'K' },
        { "iss",     required_argument, NULL, 'i' },
        { "sub",     required_argument, NULL, 's' },
        { "aud",     required_argument, NULL, 'a' },
        { "scope",   required_argument, NULL, 'S' },
        { "ttl",     required_argument, NULL, 't' },
        { "owner",   required_argument, NULL, 'o' },
        { "act",     required_argument, NULL, 'A' },
        { "cnf-jkt", required_argument, NULL, 'c' },
        { "claim",   required_argument, NULL, 'C' },
        { "iat",     required_argument, NULL, 'I' },
        { "exp",     required_argument, NULL, 'E' },
        { "nbf",     required_argument, NULL, 'N' },
        { "jti",     required_argument, NULL, 'j' },
        { "kid",     required_argument, NULL, 'k' },
        { "alg",     required_argument, NULL, 'l' },
        { "typ",     required_argument, NULL, 'T' },
        { "header",  required_argument, NULL, 'H' },
        { "omit",    required_argument, NULL, 'O' },
        { "status-idx", required_argument, NULL, 'x' },
        { "status-uri", required_argument, NULL, 'X' },
        { "quiet",   no_argument,       NULL, 'q' },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *key = NULL, *iss = NULL, *sub = NULL, *owner = NULL;
    const char *jkt = NULL, *jti = NULL, *kid = NULL, *typ = "aim+jwt";
    const char *status_uri = NULL;
    int64_t     status_idx = -1;
    strlist     aud = { {0}, 0 }, scope = { {0}, 0 }, act = { {0}, 0 };
    strlist     claim = { {0}, 0 }, header = { {0}, 0 }, omit = { {0}, 0 };
    int64_t     ttl = 300, iat = 0, exp = 0, nbf = 0;
    int         have_iat = 0, have_exp = 0, have_nbf = 0, have_ttl = 0, c;
    int         quiet = 0;
    aim_alg     alg = AIM_ALG_NONE;
    signer      s;
    json_t     *hdr, *claims, *a;
    char        rnd[23], *token, *joined;
    size_t      i, n;

    while ((c = next_opt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'K': key = optarg; break;
        case 'i': iss = check_id("--iss", optarg, 1024); break;
        case 's': sub = check_id("--sub", optarg, 1024); break;
        case 'a': list_add(&aud, "--aud", check_id("--aud", optarg, 1024)); break;
        case 'S': list_add(&scope, "--scope", optarg); break;
        case 't': ttl = parse_int("--ttl", optarg, 1, 10LL * 366 * 86400);
                  have_ttl = 1; break;
        case 'o': owner = check_id("--owner", optarg, 1024); break;
        case 'A': list_add(&act, "--act", check_id("--act", optarg, 1024)); break;
        case 'c': jkt = check_id("--cnf-jkt", optarg, 128); break;
        case 'C': list_add(&claim, "--claim", optarg); break;
        case 'I': iat = parse_int("--iat", optarg, 0, 253402300799LL);
                  have_iat = 1; break;
        case 'E': exp = parse_int("--exp", optarg, 0, 253402300799LL);
                  have_exp = 1; break;
        case 'N': nbf = parse_int("--nbf", optarg, 0, 253402300799LL);
                  have_nbf = 1; break;
        case 'j': jti = check_id("--jti", optarg, 1024); break;
        case 'k': kid = check_id("--kid", optarg, MAX_KID_LEN); break;
        case 'l': alg = parse_alg("--alg", optarg); break;
        case 'T': typ = check_id("--typ", optarg, 64); break;
        case 'H': list_add(&header, "--header", optarg); break;
        case 'O': list_add(&omit, "--omit", optarg); break;
        case 'x': status_idx = parse_int("--status-idx", optarg, 0,
                                         (int64_t) 1 << 40); break;
        case 'X': status_uri = check_id("--status-uri", optarg, 2048); break;
        case 'q': quiet = 1; break;
        case 'h': fputs(issue_usage, stdout); return EXIT_OK;
        }
    }
    no_more_args(argc, argv);
    if (key == NULL) usage_error("--key is required");
    if (iss == NULL) usage_error("--iss is required");
    if (sub == NULL) usage_error("--sub is required");
    if (aud.n == 0)  usage_error("--aud is required");
    if (have_exp && have_ttl) {
        usage_error("--exp and --ttl contradict each other; give one");
    }
    if ((status_idx >= 0) != (status_uri != NULL)) {
        usage_error("--status-idx and --status-uri go together");
    }

    signer_load(&s, key, alg, 0, kid);

    if (!have_iat) {
        iat = (int64_t) time(NULL);
    }
    if (!have_exp) {
        exp = iat + ttl;
    }
    jti = id_or_random(jti, rnd);

    hdr = json_object();
    json_object_set_new(hdr, "alg", json_string(aim_alg_name(s.alg)));
    jset_str(hdr, "typ", typ, "--typ");
    jset_str(hdr, "kid", s.kid, "--kid");
    for (i = 0; i < header.n; i++) {
        set_pair(hdr, "--header", header.v[i]);
    }

    claims = json_object();
    jset_str(claims, "iss", iss, "--iss");
    jset_str(claims, "sub", sub, "--sub");
    if (aud.n == 1) {
        jset_str(claims, "aud", aud.v[0], "--aud");
    } else {
        a = json_array();
        for (i = 0; i < aud.n; i++) {
            if (json_array_append_new(a, json_string(aud.v[i])) != 0) {
                usage_error("--aud: \"%.64s\" is not valid UTF-8", aud.v[i]);
            }
        }
        json_object_set_new(claims, "aud", a);
    }
    json_object_set_new(claims, "iat", json_integer(iat));
    if (have_nbf) {
        json_object_set_new(claims, "nbf", json_integer(nbf));
    }
    json_object_set_new(claims, "exp", json_integer(exp));
    jset_str(claims, "jti", jti, "--jti");
    if (scope.n > 0) {
        for (i = 0, n = 0; i < scope.n; i++) {
            n += strlen(scope.v[i]) + 1;
        }
        joined = xmalloc(n);
        joined[0] = '\0';
        for (i = 0; i < scope.n; i++) {
            if (i > 0) strcat(joined, " ");
            strcat(joined, scope.v[i]);
        }
        jset_str(claims, "scope", joined, "--scope");
        free(joined);
    }
    if (owner != NULL) {
        jset_str(claims, "owner", owner, "--owner");
    }
    if (act.n > 0) {
        /* Innermost (oldest) actor first, wrapped outwards. */
        json_t *inner = NULL;

        for (i = act.n; i-- > 0;) {
            a = json_object();
            jset_str(a, "sub", act.v[i], "--act");
            if (inner != NULL) {
                json_object_set_new(a, "act", inner);
            }
            inner = a;
        }
        json_object_set_new(claims, "act", inner);
    }
    if (jkt != NULL) {
        a = json_object();
        jset_str(a, "jkt", jkt, "--cnf-jkt");
        json_object_set_new(claims, "cnf", a);
    }
    if (status_uri != NULL) {
        json_t *sl = json_object(), *st = json_object();

        json_object_set_new(sl, "idx", json_integer(status_idx));
        jset_str(sl, "uri", status_uri, "--status-uri");
        json_object_set_new(st, "status_list", sl);
        json_object_set_new(claims, "status", st);
    }
    for (i = 0; i < claim.n; i++) {
        set_pair(claims, "--claim", claim.v[i]);
    }
    for (i = 0; i < omit.n; i++) {
        json_object_del(claims, omit.v[i]);
    }
    token = signer_sign(&s, hdr, claims);
    puts(token);
    flush_stdout();
    if (!quiet) {
        lint_token(&s, token, hdr, claims, iss, aud.v[0]);
    }
    free(token);
    json_decref(hdr);
    json_decref(claims);
    signer_clear(&s);
    flush_stdout();
    return EXIT_OK;
}
