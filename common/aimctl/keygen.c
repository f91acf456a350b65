/*
 * keygen.c -- aimctl keygen: a private signing key in a 0600 PEM file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "aimctl.h"
#include "sign.h"

static const char keygen_usage[] =
"Usage: aimctl keygen --alg ES256|ES384|EdDSA|RS256|PS256 --out PRIVATE\n"
"                     [--kid KID] [--bits N] [--force]\n"
"\n"
"Make a private signing key and write it to PRIVATE as PKCS#8 PEM, mode\n"
"0600.  The file also records the algorithm and, with --kid, the key id\n"
"(as 'aimctl-alg:' / 'aimctl-kid:' lines after the PEM block), so that\n"
"'jwks', 'issue' and 'dpop' use them; without --kid the key id is the\n"
"key's RFC 7638 thumbprint.  Prints the public JWK on standard output.\n"
"\n"
"  --alg ALG     ES256 (P-256), ES384 (P-384), EdDSA (Ed25519),\n"
"                RS256 or PS256 (RSA)\n"
"  --out FILE    where to write the private key\n"
"  --kid KID     key id to record (default: the thumbprint)\n"
"  --bits N      RSA modulus size, " AIM_STR(AIM_RSA_MIN_BITS) " to "
                 AIM_STR(AIM_RSA_MAX_BITS) " (default " AIM_STR(AIM_RSA_MIN_BITS) ")\n"
"  --force       replace FILE if it exists\n";

int
cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        { "alg",   required_argument, NULL, 'a' },
        { "out",   required_argument, NULL, 'o' },
        { "kid",   required_argument, NULL, 'k' },
        { "bits",  required_argument, NULL, 'b' },
        { "force", no_argument,       NULL, 'f' },
        { "help",  no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    aim_alg      alg = AIM_ALG_NONE;
    const char  *out = NULL, *kid = NULL;
    int          bits = 0, force = 0, c, fd;
    struct stat  st;
    EVP_PKEY    *pkey;
    aim_error    err;
    json_t      *jwk;
    char         meta[64 + MAX_KID_LEN];
    size_t       mlen;

    while ((c = next_opt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'a': alg = parse_alg("--alg", optarg); break;
        case 'o': out = optarg; break;
        case 'k': kid = check_id("--kid", optarg, MAX_KID_LEN); break;
        case 'b': bits = (int) parse_int("--bits", optarg, AIM_RSA_MIN_BITS,
                                         AIM_RSA_MAX_BITS); break;
        case 'f': force = 1; break;
        case 'h': fputs(keygen_usage, stdout); return EXIT_OK;
        }
    }
    no_more_args(argc, argv);
    if (alg == AIM_ALG_NONE) {
        usage_error("--alg is required (ES256 ES384 EdDSA RS256 PS256)");
    }
    if (out == NULL) {
        usage_error("--out is required");
    }
    if (bits != 0 && alg != AIM_ALG_RS256 && alg != AIM_ALG_PS256) {
        usage_error("--bits only applies to RSA keys (RS256, PS256)");
    }
    if (!force && lstat(out, &st) == 0) {
        fail(EXIT_USAGE, "\"%s\" exists; not overwriting a key without --force",
             out);
    }

    pkey = aim_privkey_generate(alg, bits, &err);
    if (pkey == NULL) {
        fail(EXIT_REJECTED, "%s", err.message);
    }
    jwk = aim_pubkey_to_jwk(pkey, alg, kid, &err);
    if (jwk == NULL) {
        fail(EXIT_REJECTED, "%s", err.message);
    }
    if (aim_privkey_save(pkey, out, &err) != AIM_OK) {
        fail(EXIT_REJECTED, "%s", err.message);
    }
    EVP_PKEY_free(pkey);

    mlen = (size_t) snprintf(meta, sizeof(meta), META_ALG "%s\n%s%s%s",
                             aim_alg_name(alg), kid != NULL ? META_KID : "",
                             kid != NULL ? kid : "", kid != NULL ? "\n" : "");
    fd = open(out, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || write(fd, meta, mlen) != (ssize_t) mlen || close(fd) != 0) {
        int saved = errno;
        unlink(out);
        fail(EXIT_REJECTED, "cannot write \"%s\": %s", out, strerror(saved));
    }

    print_json(jwk, JSON_COMPACT);
    json_decref(jwk);
    flush_stdout();
    return EXIT_OK;
}
