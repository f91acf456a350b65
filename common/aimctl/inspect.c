/*
 * inspect.c -- aimctl inspect: decode a token WITHOUT verifying it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "aimctl.h"
#include "b64.h"

static const char inspect_usage[] =
"Usage: aimctl inspect TOKEN|-\n"
"\n"
"Decode a compact JWS WITHOUT verifying anything and print\n"
"{\"verified\":false, \"warning\", \"header\", \"claims\", \"signature_bytes\"}.\n"
"Nothing shown can be trusted: use 'aimctl verify' for that.  Exit 0 when\n"
"the token decodes, 1 when it does not, 2 on usage errors.\n";

int
cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    char        *token;
    size_t       len, n;
    const char  *why = NULL, *d1, *d2;
    json_t      *o, *hdr = NULL, *claims = NULL;
    int          c, rc = EXIT_OK;

    while ((c = next_opt(argc, argv, opts)) != -1) {
        if (c == 'h') {
            fputs(inspect_usage, stdout);
            return EXIT_OK;
        }
    }
    token = read_arg(token_arg(argc, argv), "token", &len);

    if (jws_split(token, len, &d1, &d2) != 0) {
        fprintf(stderr, "%s: not a compact JWS (expected three segments "
                "separated by two dots)\n", cmd);
        free(token);
        return EXIT_REJECTED;
    }

    o = unverified("the signature, key, issuer, audience or times; do not "
                   "trust any of it");
    hdr = decode_segment(token, (size_t) (d1 - token), &why);
    if (hdr == NULL) {
        json_object_set_new(o, "header_error", json_string(why));
        rc = EXIT_REJECTED;
    }
    json_object_set_new(o, "header", hdr != NULL ? hdr : json_null());
    claims = decode_segment(d1 + 1, (size_t) (d2 - d1 - 1), &why);
    if (claims == NULL) {
        json_object_set_new(o, "claims_error", json_string(why));
        rc = EXIT_REJECTED;
    }
    json_object_set_new(o, "claims", claims != NULL ? claims : json_null());
    n = len - (size_t) (d2 + 1 - token);
    {
        unsigned char *sig = xmalloc(AIM_B64_DECODED_MAX(n) + 1);
        size_t         slen;

        if (aim_b64url_decode(d2 + 1, n, sig, &slen) == 0) {
            json_object_set_new(o, "signature_bytes", json_integer((json_int_t) slen));
        } else {
            json_object_set_new(o, "signature_error",
                                json_string("not strict base64url"));
            rc = EXIT_REJECTED;
        }
        free(sig);
    }
    print_json(o, JSON_INDENT(2));
    json_decref(o);
    free(token);
    flush_stdout();
    return rc;
}
