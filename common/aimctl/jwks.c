/*
 * jwks.c -- aimctl jwks and aimctl thumbprint: the public half of
 * private keys, as a verifier's JWKS or an RFC 7638 thumbprint.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "aimctl.h"
#include "sign.h"

static const char jwks_usage[] =
"Usage: aimctl jwks [--alg RS256|PS256] PRIVATE[:KID]...\n"
"\n"
"Print the public JWKS ({\"keys\":[...]}) of one or more private keys, for\n"
"a verifier's 'keys' option.  Every key carries \"kid\", \"alg\" and \"use\":\n"
"the verifier pins each key to its \"alg\".  The kid is KID when given,\n"
"else the one keygen recorded, else the RFC 7638 thumbprint.  An RSA key's\n"
"algorithm is --alg when given, else the one keygen recorded, else RS256.\n"
"No private key material is ever printed.\n";

int
cmd_jwks(int argc, char **argv)
{
    static const struct option opts[] = {
        { "alg",  required_argument, NULL, 'a' },
        { "help", no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    aim_alg     rsa_alg = AIM_ALG_NONE;
    int         c, i, j;
    json_t     *doc, *keys, *jwk;
    aim_error   err;

    while ((c = next_opt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'a':
            rsa_alg = parse_alg("--alg", optarg);
            if (rsa_alg != AIM_ALG_RS256 && rsa_alg != AIM_ALG_PS256) {
                usage_error("--alg: only RSA keys have a choice (RS256, PS256)");
            }
            break;
        case 'h': fputs(jwks_usage, stdout); return EXIT_OK;
        }
    }
    if (optind == argc) {
        usage_error("no private key file given");
    }

    doc = json_object();
    keys = json_array();
    json_object_set_new(doc, "keys", keys);
    for (i = optind; i < argc; i++) {
        char       *path = argv[i], *kid = NULL, *colon;
        signer      s;
        struct stat st;
        char       *base = strrchr(path, '/');

        /* FILE:KID (the first colon of the last path component), unless
         * FILE itself, colon and all, exists. */
        if (stat(path, &st) != 0
            && (colon = strchr(base != NULL ? base : path, ':')) != NULL)
        {
            *colon = '\0';
            kid = (char *) check_id("kid", colon + 1, MAX_KID_LEN);
        }
        signer_load(&s, path, rsa_alg, 1, kid);
        jwk = aim_pubkey_to_jwk(s.pkey, s.alg, s.kid, &err);
        if (jwk == NULL) {
            fail(EXIT_REJECTED, "\"%s\": %s", path, err.message);
        }
        for (j = 0; j < (int) json_array_size(keys); j++) {
            if (strcmp(json_string_value(json_object_get(json_array_get(keys, (size_t) j),
                                                         "kid")), s.kid) == 0)
            {
                json_decref(jwk);
                json_decref(doc);
                fail(EXIT_USAGE, "\"%s\": kid \"%s\" is already used by another "
                     "key (give PRIVATE:KID)", path, s.kid);
            }
        }
        json_array_append_new(keys, jwk);
        signer_clear(&s);
    }
    print_json(doc, JSON_INDENT(2));
    json_decref(doc);
    flush_stdout();
    return EXIT_OK;
}

static const char thumbprint_usage[] =
"Usage: aimctl thumbprint PRIVATE\n"
"\n"
"Print the RFC 7638 SHA-256 thumbprint (base64url) of the public half of\n"
"a private key: the value of a token's cnf.jkt for DPoP-bound tokens, and\n"
"the default kid.\n";

int
cmd_thumbprint(int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    signer s;
    int    c;

    while ((c = next_opt(argc, argv, opts)) != -1) {
        if (c == 'h') {
            fputs(thumbprint_usage, stdout);
            return EXIT_OK;
        }
    }
    signer_load(&s, one_arg(argc, argv, "no private key file given",
                            "exactly one private key file, please"),
                AIM_ALG_NONE, 0, NULL);
    puts(s.jkt);
    signer_clear(&s);
    flush_stdout();
    return EXIT_OK;
}
