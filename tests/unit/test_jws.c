/*
 * test_jws.c -- strict compact JWS parsing (jws.h): shape only, no crypto.
 */
#include <stdlib.h>
#include <string.h>
#include "b64.h"
#include "jws.h"
#include "t.h"
#include "tu.h"
#include "units.h"

static aim_status
jparse(const char *tok, aim_error *err)
{
    aim_jws    j;
    aim_status s = aim_jws_parse(tok, strlen(tok), &j, err);

    if (s == AIM_OK) {
        aim_jws_clear(&j);
    }
    return s;
}

/* header JSON -> b64 "." "e30" "." sig */
static char *
with_header(const char *header)
{
    char *h = tu_b64(header, strlen(header));
    char *out = malloc(strlen(h) + 64);

    sprintf(out, "%s.e30.c2lnbmF0dXJl", h);
    free(h);
    return out;
}

static aim_status
header_status(const char *header, aim_error *err)
{
    char       *tok = with_header(header);
    aim_status  s = jparse(tok, err);

    free(tok);
    return s;
}

void
test_jws(void)
{
    aim_error   err;
    aim_jws     j;
    char       *tok, *bad, *p;
    size_t      n, i;
    const char *good = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsiLCJ0eXAiOiJhaW0rand0In0"
                       ".eyJzdWIiOiJ4In0.c2lnbmF0dXJl";

    t_section("jws/parse");
    CHECK_ST(aim_jws_parse(good, strlen(good), &j, &err), AIM_OK, &err);
    CHECK_STR(j.alg, "ES256");
    CHECK_STR(j.kid, "k");
    CHECK_STR(j.typ, "aim+jwt");
    CHECK(j.payload_len == 11 && memcmp(j.payload, "{\"sub\":\"x\"}", 11) == 0
          && j.payload[11] == '\0');
    CHECK(j.sig_len == 9 && memcmp(j.sig, "signature", 9) == 0);
    CHECK(j.signing_input_len == (size_t) (strrchr(good, '.') - good));
    aim_jws_clear(&j);
    CHECK(j.alg == NULL && j.payload == NULL && j.sig == NULL);

    t_section("jws/header-cache");
    {
        /* A header parsed once is answered from the cache, byte for byte
         * the same; a refused one is never cached. */
        static aim_jws_cache cache;
        char *crit = with_header("{\"alg\":\"ES256\",\"crit\":[\"x\"]}");
        char *other = with_header("{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\"}");

        memset(&cache, 0, sizeof(cache));
        for (i = 0; i < 2; i++) {
            CHECK_ST(aim_jws_parse_cached(good, strlen(good), &cache, &j, &err), AIM_OK, &err);
            CHECK_STR(j.alg, "ES256");
            CHECK_STR(j.kid, "k");
            CHECK_STR(j.typ, "aim+jwt");
            CHECK(j.payload_len == 11 && memcmp(j.payload, "{\"sub\":\"x\"}", 11) == 0);
            CHECK(j.sig_len == 9 && memcmp(j.sig, "signature", 9) == 0);
            CHECK(i == 0 ? j.alg != cache.alg : j.alg == cache.alg);
            aim_jws_clear(&j);
        }
        for (i = 0; i < 2; i++) {
            CHECK_ST(aim_jws_parse_cached(crit, strlen(crit), &cache, &j, &err), AIM_BAD_TYPE,
                     &err);
        }
        CHECK_ST(aim_jws_parse_cached(other, strlen(other), &cache, &j, &err), AIM_OK, &err);
        aim_jws_clear(&j);
        CHECK_ST(aim_jws_parse_cached(other, strlen(other), &cache, &j, &err), AIM_OK, &err);
        CHECK(j.alg == cache.alg && strcmp(j.alg, "EdDSA") == 0 && j.kid == NULL
              && strcmp(j.typ, "at+jwt") == 0);
        aim_jws_clear(&j);
        /* A cached header with a payload or signature that is not
         * base64url: refused as ever. */
        tok = strdup(other);
        p = strchr(tok, '.');
        p[1] = '=';
        CHECK_ST(aim_jws_parse_cached(tok, strlen(tok), &cache, &j, &err), AIM_MALFORMED, &err);
        free(tok);
        free(crit);
        free(other);
    }

    t_section("jws/segments");
    {
        static const char *const shapes[] = {
            "", "a", "a.b", "a.b.c.d", "a.b.c.d.e", "..", "...", "a..c",
            ".b.c", "a.b.", "e30.e30.", ".e30.e30", "e30..e30",
            "eyJhbGciOiJFUzI1NiJ9.e30.c2ln.",
            ".eyJhbGciOiJFUzI1NiJ9.e30.c2ln",
        };
        for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
            aim_status s = jparse(shapes[i], &err);
            CHECKF(s == (shapes[i][0] ? AIM_MALFORMED : AIM_NO_TOKEN),
                   "\"%s\": %s", shapes[i], aim_reason(s));
        }
    }
    /* The five-part JWE shape is not a JWS. */
    CHECK_ST(jparse("eyJhbGciOiJFUzI1NiJ9.e30.c2ln.c2ln.c2ln", &err), AIM_MALFORMED, &err);

    t_section("jws/base64");
    {
        /* Padding, whitespace, standard alphabet, anywhere in the token. */
        static const char *const muts[][2] = {
            { ".e30.", ".e30=.", }, { ".e30.", ".e30==." }, { "c2lnbmF0dXJl", "c2lnbmF0dXJl=" },
            { "c2lnbmF0dXJl", "c2lnbmF0dXJl\n" }, { "c2lnbmF0dXJl", "c2lnbmF0 dXJl" },
            { "c2lnbmF0dXJl", "c2lnbmF0dXJl " }, { "c2lnbmF0dXJl", "c2lu+mF0dXJl" },
            { "c2lnbmF0dXJl", "c2lu/mF0dXJl" }, { ".e30.", ". e30." }, { ".e30.", ".e30\t." },
            { "c2lnbmF0dXJl", "c2lnbmF0dXJlZ" }, { "c2lnbmF0dXJl", "c2lnbmF0dXJlZh" },
            { "c2lnbmF0dXJl", "c2lnbmF0dXJl\r" }, { ".e30.", ".e3%30." },
        };
        for (i = 0; i < sizeof(muts) / sizeof(muts[0]); i++) {
            const char *base = with_header("{\"alg\":\"ES256\"}");
            const char *at = strstr(base, muts[i][0]);
            bad = malloc(strlen(base) + 16);
            n = (size_t) (at - base);
            memcpy(bad, base, n);
            strcpy(bad + n, muts[i][1]);
            strcat(bad, at + strlen(muts[i][0]));
            CHECKF(jparse(bad, &err) == AIM_MALFORMED, "mutation \"%s\" -> \"%s\" parsed",
                   muts[i][0], muts[i][1]);
            free(bad);
            free((char *) base);
        }
        /* Leading / trailing whitespace around the whole token. */
        tok = with_header("{\"alg\":\"ES256\"}");
        bad = malloc(strlen(tok) + 4);
        sprintf(bad, " %s", tok);
        CHECK_ST(jparse(bad, &err), AIM_MALFORMED, &err);
        sprintf(bad, "%s\n", tok);
        CHECK_ST(jparse(bad, &err), AIM_MALFORMED, &err);
        /* A header whose base64 was made with padding. */
        CHECK_ST(jparse("eyJhbGciOiJFUzI1NiJ9=.e30.c2ln", &err), AIM_MALFORMED, &err);
        free(bad);
        free(tok);
    }

    t_section("jws/size");
    {
        /* Exactly AIM_MAX_TOKEN_LEN parses; one byte more does not, even
         * though it is otherwise well formed. */
        char *big = malloc(AIM_MAX_TOKEN_LEN + 2), hdr[64];
        size_t pad = 0, L;
        for (;;) {
            snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\"%*s}", (int) pad, "");
            tok = with_header(hdr);
            L = (size_t) (strrchr(tok, '.') - tok) + 1;
            if ((AIM_MAX_TOKEN_LEN - L) % 4 == 2 || (AIM_MAX_TOKEN_LEN - L) % 4 == 3) break;
            free(tok);
            pad++;
        }
        memcpy(big, tok, L);
        memset(big + L, 'A', AIM_MAX_TOKEN_LEN + 1 - L);
        big[AIM_MAX_TOKEN_LEN] = '\0';
        CHECK_ST(jparse(big, &err), AIM_OK, &err);
        big[AIM_MAX_TOKEN_LEN] = 'A';
        big[AIM_MAX_TOKEN_LEN + 1] = '\0';
        CHECK_ST(jparse(big, &err), AIM_MALFORMED, &err);
        CHECK(tu_contains(err.message, "16385"));
        /* aim_jws_parse_max: another bound. */
        CHECK_ST(aim_jws_parse_max(big, AIM_MAX_TOKEN_LEN + 1, AIM_MAX_TOKEN_LEN + 1,
                                   &j, &err), AIM_OK, &err);
        aim_jws_clear(&j);
        free(big);
        free(tok);
    }

    t_section("jws/header");
    CHECK_ST(header_status("{\"alg\":\"ES256\"}", &err), AIM_OK, &err);
    CHECK_ST(header_status("{}", &err), AIM_UNSUPPORTED_ALG, &err);
    CHECK_ST(header_status("{\"typ\":\"aim+jwt\",\"kid\":\"k\"}", &err), AIM_UNSUPPORTED_ALG, &err);
    CHECK_ST(header_status("{\"alg\":256}", &err), AIM_MALFORMED, &err);
    CHECK_ST(header_status("{\"alg\":null}", &err), AIM_MALFORMED, &err);
    CHECK_ST(header_status("{\"alg\":[\"ES256\"]}", &err), AIM_MALFORMED, &err);
    /* The classic duplicate: a second "alg" never wins. */
    CHECK_ST(header_status("{\"alg\":\"ES256\",\"alg\":\"none\"}", &err), AIM_MALFORMED, &err);
    CHECK_ST(header_status("{\"alg\":\"none\",\"alg\":\"ES256\"}", &err), AIM_MALFORMED, &err);
    CHECK_ST(header_status("{\"alg\":\"ES256\\u0000none\"}", &err), AIM_MALFORMED, &err);
    CHECK_ST(header_status("[\"ES256\"]", &err), AIM_MALFORMED, &err);
    CHECK_ST(header_status("\"ES256\"", &err), AIM_MALFORMED, &err);
    CHECK_ST(header_status("not json", &err), AIM_MALFORMED, &err);
    CHECK_ST(header_status("{\"alg\":\"ES256\"", &err), AIM_MALFORMED, &err);
    CHECK_ST(header_status("{\"alg\":\"ES256\",\"kid\":7}", &err), AIM_UNKNOWN_KEY, &err);
    CHECK_ST(header_status("{\"alg\":\"ES256\",\"kid\":\"\"}", &err), AIM_UNKNOWN_KEY, &err);
    CHECK_ST(header_status("{\"alg\":\"ES256\",\"kid\":null}", &err), AIM_UNKNOWN_KEY, &err);
    CHECK_ST(header_status("{\"alg\":\"ES256\",\"typ\":1}", &err), AIM_MALFORMED, &err);
    CHECK_ST(header_status("{\"alg\":\"ES256\",\"typ\":[\"aim+jwt\"]}", &err), AIM_MALFORMED, &err);
    {
        char h[400], kid[300];
        memset(kid, 'k', 257);
        kid[257] = '\0';
        snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"kid\":\"%s\"}", kid);
        CHECK_ST(header_status(h, &err), AIM_UNKNOWN_KEY, &err);
        kid[256] = '\0';
        snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"kid\":\"%s\"}", kid);
        CHECK_ST(header_status(h, &err), AIM_OK, &err);
    }
    /* crit: never understood, always refused, even empty. */
    CHECK_ST(header_status("{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}", &err), AIM_BAD_TYPE, &err);
    CHECK_ST(header_status("{\"alg\":\"ES256\",\"crit\":[]}", &err), AIM_BAD_TYPE, &err);
    CHECK_ST(header_status("{\"alg\":\"ES256\",\"crit\":null}", &err), AIM_BAD_TYPE, &err);
    CHECK_ST(header_status("{\"alg\":\"ES256\",\"b64\":false,\"crit\":[\"b64\"]}", &err), AIM_BAD_TYPE, &err);
    CHECK_ST(header_status("{\"alg\":\"ES256\",\"b64\":true}", &err), AIM_BAD_TYPE, &err);
    /* jku, x5u, jwk, x5c parse (they are simply never read). */
    CHECK_ST(header_status("{\"alg\":\"ES256\",\"jku\":\"https://evil.test/jwks\","
                           "\"x5u\":\"https://evil.test/c\",\"x5c\":[\"AAAA\"],"
                           "\"jwk\":{\"kty\":\"EC\"}}", &err), AIM_OK, &err);
    /* Depth and size of the header. */
    CHECK_ST(header_status("{\"alg\":\"ES256\",\"x\":[[[[[[[[1]]]]]]]]}", &err), AIM_MALFORMED, &err);
    {
        char *h = malloc(2000);
        memset(h, ' ', 1999);
        memcpy(h, "{\"alg\":\"ES256\"", 14);
        h[1998] = '}';
        h[1999] = '\0';
        CHECK_ST(header_status(h, &err), AIM_MALFORMED, &err);    /* > 2048 encoded */
        h[1400] = '}';
        h[1401] = '\0';
        CHECK_ST(header_status(h, &err), AIM_OK, &err);
        free(h);
    }
    /* Invalid UTF-8 and a BOM in the header. */
    CHECK_ST(header_status("{\"alg\":\"ES256\",\"x\":\"\xff\"}", &err), AIM_MALFORMED, &err);
    CHECK_ST(header_status("\xef\xbb\xbf{\"alg\":\"ES256\"}", &err), AIM_MALFORMED, &err);

    t_section("jws/error-messages");
    /* Errors describe, never quote. */
    tok = with_header("{\"alg\":\"ES256\",\"kid\":SECRETKID}");
    CHECK_ST(jparse(tok, &err), AIM_MALFORMED, &err);
    CHECK(!tu_contains(err.message, "SECRETKID"));
    p = strrchr(tok, '.');
    CHECK(!tu_contains(err.message, p + 1));
    free(tok);
}
