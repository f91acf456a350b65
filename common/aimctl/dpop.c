/*
 * dpop.c -- aimctl dpop: a DPoP proof (RFC 9449) for a request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "aimctl.h"
#include "b64.h"

static const char dpop_usage[] =
"Usage: aimctl dpop --key PRIVATE --htm METHOD --htu URL [--token TOKEN|-]\n"
"                   [--iat EPOCH] [--jti ID] [--nonce NONCE] [--alg ALG]\n"
"\n"
"Sign a DPoP proof (RFC 9449) with PRIVATE and print it: header\n"
"{typ: dpop+jwt, alg, jwk: the public key}, claims {jti, htm, htu, iat}\n"
"and, with --token, ath = base64url(SHA-256(TOKEN)).  Bind the access\n"
"token to the key with 'aimctl issue --cnf-jkt $(aimctl thumbprint KEY)'.\n"
"\n"
"  --key FILE     the proof key (from 'aimctl keygen')\n"
"  --htm METHOD   the HTTP method (GET, POST...)\n"
"  --htu URL      the target URI, without query and fragment\n"
"  --token T      the access token the proof goes with ('-': stdin)\n"
"  --iat EPOCH    issue time (default: now)\n"
"  --jti ID       proof id (default: 128 random bits)\n"
"  --nonce N      a server-provided DPoP nonce\n"
"  --alg ALG      RS256 or PS256 for an RSA key\n";

int
cmd_dpop(int argc, char **argv)
{
    static const struct option opts[] = {
        { "key",   required_argument, NULL, 'K' },
        { "htm",   required_argument, NULL, 'm' },
        { "htu",   required_argument, NULL, 'u' },
        { "token", required_argument, NULL, 't' },
        { "iat",   required_argument, NULL, 'I' },
        { "jti",   required_argument, NULL, 'j' },
        { "nonce", required_argument, NULL, 'n' },
        { "alg",   required_argument, NULL, 'l' },
        { "help",  no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char   *key = NULL, *htm = NULL, *htu = NULL, *tok = NULL;
    const char   *jti = NULL, *nonce = NULL;
    int64_t       iat = 0;
    int           have_iat = 0, c;
    aim_alg       alg = AIM_ALG_NONE;
    signer        s;
    json_t       *hdr, *claims;
    char          rnd[23], ath[44], *proof, *tbuf;
    unsigned char h[32];
    size_t        tlen;

    while ((c = next_opt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'K': key = optarg; break;
        case 'm': htm = check_id("--htm", optarg, 32); break;
        case 'u': htu = check_id("--htu", optarg, 4096); break;
        case 't': tok = optarg; break;
        case 'I': iat = parse_int("--iat", optarg, 0, 253402300799LL);
                  have_iat = 1; break;
        case 'j': jti = check_id("--jti", optarg, 256); break;
        case 'n': nonce = check_id("--nonce", optarg, 1024); break;
        case 'l': alg = parse_alg("--alg", optarg); break;
        case 'h': fputs(dpop_usage, stdout); return EXIT_OK;
        }
    }
    no_more_args(argc, argv);
    if (key == NULL) usage_error("--key is required");
    if (htm == NULL) usage_error("--htm is required");
    if (htu == NULL) usage_error("--htu is required");

    signer_load(&s, key, alg, 0, NULL);
    if (!have_iat) {
        iat = (int64_t) time(NULL);
    }
    jti = id_or_random(jti, rnd);

    hdr = json_object();
    json_object_set_new(hdr, "typ", json_string("dpop+jwt"));
    json_object_set_new(hdr, "alg", json_string(aim_alg_name(s.alg)));
    json_object_set_new(hdr, "jwk", signer_bare_jwk(&s));

    claims = json_object();
    jset_str(claims, "jti", jti, "--jti");
    jset_str(claims, "htm", htm, "--htm");
    jset_str(claims, "htu", htu, "--htu");
    json_object_set_new(claims, "iat", json_integer(iat));
    if (tok != NULL) {
        tbuf = read_arg(tok, "token", &tlen);
        if (tlen == 0) {
            usage_error("--token: empty token");
        }
        aim_sha256(tbuf, tlen, h);
        aim_b64url_encode(h, sizeof(h), ath);
        json_object_set_new(claims, "ath", json_string(ath));
        free(tbuf);
    }
    if (nonce != NULL) {
        jset_str(claims, "nonce", nonce, "--nonce");
    }

    proof = signer_sign(&s, hdr, claims);
    puts(proof);
    free(proof);
    json_decref(hdr);
    json_decref(claims);
    signer_clear(&s);
    flush_stdout();
    return EXIT_OK;
}
