/*
 * test_b64_json.c -- strict base64url (b64.h) and strict JSON (json.h).
 */
#include <stdlib.h>
#include <locale.h>
#include <stdint.h>
#include <string.h>
#include "b64.h"
#include "json.h"
#include "t.h"
#include "tu.h"
#include "units.h"

static int
dec(const char *s, unsigned char *out, size_t *n)
{
    return aim_b64url_decode(s, strlen(s), out, n);
}

void
test_b64(void)
{
    static const char *const rfc4648[][2] = {
        { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
    };
    static const char *const bad[] = {
        "Zg==", "Zg=", "Zm8=", "Zm9v\n", " Zm9v", "Zm 9v", "Zm9v\t", "Zm+v",
        "Zm/v", "Zm9v.", "Z", "Zm9vY", "Zh", "Zm9", "Zm-", "Zm9vYmF", "Zm9v=",
        "\xc3\xa9Zm9", "Zm9v\r\n", "%6D9v",
    };
    unsigned char out[256], in[200];
    char          enc[300];
    size_t        i, n, len;

    t_section("b64");
    for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        aim_b64url_encode((const unsigned char *) rfc4648[i][0],
                          strlen(rfc4648[i][0]), enc);
        CHECK_STR(enc, rfc4648[i][1]);
        n = 99;
        CHECK(dec(rfc4648[i][1], out, &n) == 0 && n == strlen(rfc4648[i][0])
              && memcmp(out, rfc4648[i][0], n) == 0);
    }
    /* The URL alphabet: 0xfb 0xff -> "-_" characters, never "+/". */
    in[0] = 0xfb; in[1] = 0xff; in[2] = 0xbf;
    aim_b64url_encode(in, 3, enc);
    CHECK_STR(enc, "-_-_");
    CHECK(dec("-_-_", out, &n) == 0 && n == 3 && memcmp(out, in, 3) == 0);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECKF(dec(bad[i], out, &n) != 0, "\"%s\" decoded", bad[i]);
    }
    /* A NUL inside the counted length is not a character of the alphabet. */
    CHECK(aim_b64url_decode("Zm\0v", 4, out, &n) != 0);
    /* Every high byte is refused. */
    for (i = 128; i < 256; i++) {
        char s[5] = "Zm9v";
        s[2] = (char) i;
        if (aim_b64url_decode(s, 4, out, &n) == 0) {
            t_fail(__FILE__, __LINE__, "byte 0x%zx accepted", i);
            break;
        }
    }
    CHECK(i == 256);

    /* Round trips over every length, and non-canonical trailing bits. */
    for (len = 0; len < 200; len++) {
        int ok = 1;
        for (i = 0; i < len; i++) {
            in[i] = (unsigned char) (i * 37 + len);
        }
        n = aim_b64url_encode(in, len, enc);
        ok &= n == (len * 4 + 2) / 3 && strchr(enc, '=') == NULL;
        ok &= aim_b64url_decode(enc, n, out, &i) == 0 && i == len
              && memcmp(in, out, len) == 0;
        if (n % 4 == 2 || n % 4 == 3) {
            /* Flip the lowest bit of the last character: a non-zero
             * unused bit must be refused. */
            char c = enc[n - 1];
            const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            size_t v = (size_t) (strchr(alpha, c) - alpha);
            enc[n - 1] = alpha[v ^ 1];
            ok &= aim_b64url_decode(enc, n, out, &i) != 0;
        }
        if (!ok) {
            t_fail(__FILE__, __LINE__, "round trip of %zu bytes", len);
            break;
        }
    }
    CHECK(len == 200);
    CHECK_INT(AIM_B64_ENCODED_LEN(3), 5);
    CHECK(AIM_B64_DECODED_MAX(4) >= 3);
}

static aim_status
parse(const char *s, size_t depth)
{
    aim_error  err;
    json_t    *j = aim_json_parse_strict(s, strlen(s), depth, &err);

    if (j == NULL) {
        return err.status;
    }
    json_decref(j);
    return AIM_OK;
}

static aim_status
parse_obj(const char *s, size_t len, aim_error *err)
{
    json_t *j = aim_json_parse_object(s, len, "claims", err);

    if (j == NULL) {
        return err->status;
    }
    json_decref(j);
    return AIM_OK;
}

/* aim_jdoc_parse and jansson (AIM's strict settings) on the same text:
 * both accept or both refuse.  Returns the jdoc status. */
static aim_status
both(const char *s, size_t len, aim_jdoc *d)
{
    aim_error   e1, e2;
    aim_status  st = aim_jdoc_parse(d, s, len, AIM_MAX_JSON_DEPTH, "t", &e1);
    json_t     *j = aim_json_parse_strict(s, len, AIM_MAX_JSON_DEPTH, &e2);

    CHECKF((st == AIM_OK) == (j != NULL), "\"%.60s\": aim_jdoc %s, jansson %s", s,
           st == AIM_OK ? "accepts" : e1.message, j != NULL ? "accepts" : e2.message);
    json_decref(j);
    return st;
}

static aim_status
jd(const char *s)
{
    aim_jdoc   d;
    aim_status st = both(s, strlen(s), &d);

    aim_jdoc_free(&d);
    return st;
}

static void
test_jdoc(void)
{
    static const char *const refused[] = {
        "", " ", "{", "}", "[", "[1", "[1,]", "{\"a\":1,}", "{\"a\"}", "{\"a\" 1}",
        "{1:1}", "{'a':1}", "01", "-01", "1.", ".5", "-", "+1", "1e", "1e+", "1E-",
        "0x10", "tru", "nul", "nulll", "truee", "NaN", "Infinity", "-Infinity",
        "\"", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\t\"", "\"\x01\"",
        "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\ud800\\\"", "\"\\u0000\"",
        "{\"a\\u0000\":1}", "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
        "\"\xff\"", "\"\xc3\"", "\xef\xbb\xbf{}", "1 2", "{} {}", "[] x", "1E400", "-1e999",
        "9223372036854775808", "-9223372036854775809", "99999999999999999999",
        "{\"a\":1,\"a\":2}", "{\"a\":1,\"b\":{\"c\":1,\"c\":1}}",
        "[[[[[[[[[1]]]]]]]]]", "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}}}}}",
    };
    static const char *const accepted[] = {
        "{}", " {} ", "\t\r\n[]\n", "0", "-0", "-0.0", "0e0", "1E+2", "1e-400",
        "9223372036854775807", "-9223372036854775808", "1.7976931348623157e308",
        "\"\"", "\"\x7f\"", "\"\\/\\b\\f\\n\\r\\t\\\\\\\"\"", "\"\\u00e9\\ud83d\\ude00\"",
        "\"\xf4\x8f\xbf\xbf\"", "[[[[[[[[1]]]]]]]]", "{\"a\":1,\"A\":2,\"a \":3}",
        "true", "false", "null", "[true,false,null]",
    };
    aim_jdoc         d;
    aim_error        err;
    const aim_jnode *r, *n;
    size_t           i;
    char            *big;

    t_section("json/jdoc-accept-refuse");
    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        CHECKF(jd(refused[i]) != AIM_OK, "refused: \"%s\"", refused[i]);
    }
    for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        CHECKF(jd(accepted[i]) == AIM_OK, "accepted: \"%s\"", accepted[i]);
    }
    CHECK_ST(aim_jdoc_parse(&d, "{\"a\":\"b\0c\"}", 10, 8, "claims", &err), AIM_MALFORMED,
             &err);
    aim_jdoc_free(&d);
    CHECK(tu_contains(err.message, "claims") && tu_contains(err.message, "NUL"));
    CHECK_ST(aim_jdoc_parse(&d, "[[[1]]]", 7, 2, "x", &err), AIM_MALFORMED, &err);
    CHECK(tu_contains(err.message, "nested deeper than 2"));
    aim_jdoc_free(&d);
    CHECK_ST(aim_jdoc_parse(&d, "{\"a\":SECRETSECRET}", 18, 8, "claims", &err),
             AIM_MALFORMED, &err);
    CHECK(tu_contains(err.message, "claims: invalid JSON at offset 5")
          && !tu_contains(err.message, "SECRET"));
    aim_jdoc_free(&d);

    t_section("json/jdoc-values");
    {
        static const char doc[] =
            "{\"i\":-9223372036854775808,\"j\":9223372036854775807,\"z\":-0,"
            "\"r\":1.5e3,\"u\":1e-400,\"s\":\"a\\u00e9\\ud83d\\ude00\\n\",\"k\\\"\":true,"
            "\"o\":{\"x\":[1,{\"y\":null}],\"w\":false},\"e\":[]}";

        CHECK_ST(both(doc, strlen(doc), &d), AIM_OK, NULL);
    }
    r = AIM_JDOC_ROOT(&d);
    CHECK(r->type == AIM_JOBJECT && r->len == 9 && r->next == d.n);
    n = aim_jdoc_get(&d, r, "i");
    CHECK(n != NULL && n->type == AIM_JINT && n->v.i == INT64_MIN);
    n = aim_jdoc_get(&d, r, "j");
    CHECK(n != NULL && n->type == AIM_JINT && n->v.i == INT64_MAX);
    n = aim_jdoc_get(&d, r, "z");
    CHECK(n != NULL && n->type == AIM_JINT && n->v.i == 0);
    n = aim_jdoc_get(&d, r, "r");
    CHECK(n != NULL && n->type == AIM_JREAL && n->v.d == 1500.0);
    n = aim_jdoc_get(&d, r, "u");
    CHECK(n != NULL && n->type == AIM_JREAL && n->v.d == 0.0);
    n = aim_jdoc_get(&d, r, "s");
    CHECK(n != NULL && n->type == AIM_JSTRING && n->len == 8
          && strcmp(AIM_JDOC_STRING(&d, n), "a\xc3\xa9\xf0\x9f\x98\x80\n") == 0);
    n = aim_jdoc_get(&d, r, "k\"");
    CHECK(n != NULL && n->type == AIM_JTRUE);
    n = aim_jdoc_get(&d, r, "o");
    CHECK(n != NULL && n->type == AIM_JOBJECT && n->len == 2);
    CHECK(aim_jdoc_get(&d, n, "w") != NULL && aim_jdoc_get(&d, n, "w")->type == AIM_JFALSE);
    n = aim_jdoc_get(&d, n, "x");
    CHECK(n != NULL && n->type == AIM_JARRAY && n->len == 2
          && AIM_JDOC_FIRST(n)->v.i == 1
          && AIM_JDOC_NEXT(&d, AIM_JDOC_FIRST(n))->type == AIM_JOBJECT);
    n = aim_jdoc_get(&d, r, "e");
    CHECK(n != NULL && n->type == AIM_JARRAY && n->len == 0 && AIM_JDOC_FIRST(n) == NULL
          && n->next == d.n);
    CHECK(aim_jdoc_get(&d, r, "missing") == NULL && aim_jdoc_get(&d, n, "e") == NULL);
    aim_jdoc_free(&d);

    t_section("json/jdoc-large");
    /* Past the inline node and string capacity, and an object of many
     * members (the duplicate check by hash): heap, same answers. */
    big = malloc(40000);
    {
        size_t len = 0;

        len += (size_t) sprintf(big + len, "{");
        for (i = 0; i < 1000; i++) {
            len += (size_t) sprintf(big + len, "%s\"member-%zu\":\"value %zu\"", i ? "," : "",
                                    i, i);
        }
        len += (size_t) sprintf(big + len, "}");
        CHECK_ST(both(big, len, &d), AIM_OK, NULL);
        CHECK(AIM_JDOC_ROOT(&d)->len == 1000 && d.node != d.inline_node
              && d.str != d.inline_str);
        n = aim_jdoc_get(&d, AIM_JDOC_ROOT(&d), "member-999");
        CHECK(n != NULL && strcmp(AIM_JDOC_STRING(&d, n), "value 999") == 0);
        aim_jdoc_free(&d);
        /* The last member repeats the first: found by the hash. */
        memcpy(big + len - 1, ",\"member-0\":1}", 15);
        CHECK(both(big, len + 13, &d) == AIM_MALFORMED);
        aim_jdoc_free(&d);
    }
    free(big);

    t_section("json/jdoc-locale");
    {
        /* strtod follows LC_NUMERIC; the parser must not. */
        static const char *const comma[] = { "de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "fr_FR",
                                              "ru_RU.UTF-8", NULL };
        const char *old = setlocale(LC_NUMERIC, NULL);
        char        saved[64];
        const char *got = NULL;

        snprintf(saved, sizeof(saved), "%s", old != NULL ? old : "C");
        for (i = 0; comma[i] != NULL && got == NULL; i++) {
            got = setlocale(LC_NUMERIC, comma[i]);
        }
        if (got == NULL) {
            t_skip("json/jdoc-locale: no locale with a decimal comma is installed "
                   "(de_DE, fr_FR, ru_RU)");
        } else {
            CHECK_ST(aim_jdoc_parse(&d, "[1.5,2e-1]", 10, 8, "x", &err), AIM_OK, &err);
            CHECK(d.node[1].v.d == 1.5 && d.node[2].v.d == 0.2);
            aim_jdoc_free(&d);
        }
        setlocale(LC_NUMERIC, saved);
    }
}

void
test_json(void)
{
    aim_error  err;
    char      *deep, *s;
    size_t     i;
    json_t    *j;

    t_section("json");
    {
        const char *ok = "{\"a\":1,\"b\":[1,2,{\"c\":null}]}";
        CHECK_ST(parse_obj(ok, strlen(ok), &err), AIM_OK, &err);
    }
    CHECK_ST(parse_obj("[]", 2, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("\"s\"", 3, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("1", 1, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("null", 4, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("", 0, &err), AIM_MALFORMED, &err);
    CHECK(tu_contains(err.message, "claims"));
    CHECK_ST(parse_obj("{}", 2, &err), AIM_OK, &err);
    CHECK_ST(parse_obj("{} ", 3, &err), AIM_OK, &err);
    CHECK_ST(parse_obj("{}x", 3, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("{}{}", 4, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("{'a':1}", 7, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("{\"a\":1,}", 8, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("{\"a\":NaN}", 9, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("{\"a\":01}", 8, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("\xef\xbb\xbf{}", 5, &err), AIM_MALFORMED, &err);

    /* Duplicate member names, at any depth, even with equal values. */
    CHECK_ST(parse_obj("{\"sub\":\"a\",\"sub\":\"root\"}", 24, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("{\"a\":1,\"a\":1}", 13, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("{\"x\":{\"a\":1,\"a\":2}}", 19, &err), AIM_MALFORMED, &err);
    /* Names that differ only after an escape are still the same name. */
    CHECK_ST(parse_obj("{\"sub\":1,\"s\\u0075b\":2}", 22, &err), AIM_MALFORMED, &err);

    /* NUL: escaped or raw, in values or names. */
    CHECK_ST(parse_obj("{\"sub\":\"a\\u0000b\"}", 18, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("{\"s\\u0000\":\"a\"}", 15, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("{\"sub\":\"a\0b\"}", 13, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("{\"a\":1}\0", 8, &err), AIM_MALFORMED, &err);

    /* Invalid UTF-8: stray continuation, overlong, surrogates, > U+10FFFF. */
    CHECK_ST(parse_obj("{\"a\":\"\x80\"}", 9, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("{\"a\":\"\xc0\xaf\"}", 10, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("{\"a\":\"\xed\xa0\x80\"}", 11, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("{\"a\":\"\xf4\x90\x80\x80\"}", 12, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("{\"a\":\"\\ud800\"}", 14, &err), AIM_MALFORMED, &err);
    CHECK_ST(parse_obj("{\"a\":\"\xc3\xa9\"}", 10, &err), AIM_OK, &err);

    /* Depth: AIM_MAX_JSON_DEPTH levels pass, one more does not. */
    s = malloc(64);
    strcpy(s, "{\"a\":[[[[[[[1]]]]]]]}");          /* 8 levels */
    CHECK_ST(parse_obj(s, strlen(s), &err), AIM_OK, &err);
    strcpy(s, "{\"a\":[[[[[[[[1]]]]]]]]}");        /* 9 levels */
    CHECK_ST(parse_obj(s, strlen(s), &err), AIM_MALFORMED, &err);
    /* Brackets inside strings do not count, escaped quotes do not end them. */
    strcpy(s, "{\"a\":\"[[[[[[[[[[{{{{{{\"}");
    CHECK_ST(parse_obj(s, strlen(s), &err), AIM_OK, &err);
    strcpy(s, "{\"a\":\"\\\"[[[[[[[[[[[[[\"}");
    CHECK_ST(parse_obj(s, strlen(s), &err), AIM_OK, &err);
    free(s);

    /* A hostile nesting of a million levels costs nothing and fails. */
    deep = malloc(2000001);
    memset(deep, '[', 1000000);
    memset(deep + 1000000, ']', 1000000);
    deep[2000000] = '\0';
    CHECK_ST(parse(deep, 8), AIM_MALFORMED, NULL);
    deep[0] = '{';
    CHECK_ST(parse_obj(deep, 2000000, &err), AIM_MALFORMED, &err);
    free(deep);

    /* parse_strict: any top-level value, caller's depth. */
    CHECK_ST(parse("[1,[2,[3]]]", 3), AIM_OK, NULL);
    CHECK_ST(parse("[1,[2,[3]]]", 2), AIM_MALFORMED, NULL);
    CHECK_ST(parse("\"x\"", 1), AIM_OK, NULL);
    CHECK_ST(parse("12", 0), AIM_OK, NULL);

    /* Errors never quote the input (it is token content). */
    CHECK_ST(parse_obj("{\"a\":SECRETSECRET}", 18, &err), AIM_MALFORMED, &err);
    CHECK(!tu_contains(err.message, "SECRET"));
    CHECK_ST(parse_obj("{\"SECRETSECRET\":1,\"SECRETSECRET\":2}", 35, &err),
             AIM_MALFORMED, &err);
    CHECK(!tu_contains(err.message, "SECRET"));

    /* Compact output with sorted keys. */
    j = tu_json("{\"b\":1,\"a\":[true,null],\"c\":\"x\"}");
    s = aim_json_compact(j);
    CHECK_STR(s, "{\"a\":[true,null],\"b\":1,\"c\":\"x\"}");
    free(s);
    json_decref(j);
    (void) i;
    test_jdoc();
}
