/*
 * gen_seeds.c -- write the seed corpora for the harnesses:
 *     gen_seeds DIR   ->  DIR/token DIR/claims DIR/jwks DIR/revoke DIR/policy DIR/dpop
 *                         DIR/ssf DIR/config DIR/decide DIR/json DIR/mcp
 * Tokens are signed by the same fixed keys the harnesses load, so the
 * fuzzer starts from inputs that get all the way through verification.
 */
#include <errno.h>
#include <sys/stat.h>
#include "b64.h"
#include "fuzz_common.h"

static const char *outdir;
static int         nseeds;

static void
seed(const char *harness, const char *data, size_t len)
{
    char  path[512];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", outdir, harness);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fuzz_die("mkdir", path);
    }
    snprintf(path, sizeof(path), "%s/%s/seed-%03d", outdir, harness, nseeds++);
    fp = fopen(path, "wb");
    if (fp == NULL || fwrite(data, 1, len, fp) != len || fclose(fp) != 0) {
        fuzz_die("write", path);
    }
}

static void
seeds(const char *harness, const char *s)
{
    seed(harness, s, strlen(s));
}

static void token_only(size_t key, const char *header_extra, const char *claims_extra);

static char *
claims(const char *extra)
{
    static char buf[4096];

    snprintf(buf, sizeof(buf), "{\"iss\":\"%s\",\"sub\":\"agent-1\",\"aud\":\"%s\","
             "\"iat\":%lld,\"exp\":%lld,\"jti\":\"j-1\",\"scope\":\"kb:read kb:write\"%s%s}",
             FUZZ_ISS, FUZZ_AUD, FUZZ_NOW, FUZZ_NOW + 600, extra ? "," : "", extra ? extra : "");
    return buf;
}

static void
token(size_t key, const char *header_extra, const char *claims_extra)
{
    seeds("claims", claims(claims_extra));
    token_only(key, header_extra, claims_extra);
}

static void
token_only(size_t key, const char *header_extra, const char *claims_extra)
{
    char  h[512];
    char *t;

    snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"typ\":\"aim+jwt\",\"kid\":\"%s\"%s%s}",
             aim_alg_name(fuzz_keys[key].alg), fuzz_keys[key].kid,
             header_extra ? "," : "", header_extra ? header_extra : "");
    t = fuzz_sign(key, h, claims(claims_extra));
    seeds("token", t);
    free(t);
}

/* header.payload.sig from raw JSON texts, with a junk signature. */
static void
raw_token(const char *harness, const char *header, const char *payload, const char *sig)
{
    char *h = malloc(AIM_B64_ENCODED_LEN(strlen(header)));
    char *p = malloc(AIM_B64_ENCODED_LEN(strlen(payload)));
    char *t = malloc(AIM_B64_ENCODED_LEN(strlen(header)) + AIM_B64_ENCODED_LEN(strlen(payload))
                     + strlen(sig) + 4);

    aim_b64url_encode((const unsigned char *) header, strlen(header), h);
    aim_b64url_encode((const unsigned char *) payload, strlen(payload), p);
    sprintf(t, "%s.%s.%s", h, p, sig);
    seeds(harness, t);
    free(h);
    free(p);
    free(t);
}

static void
token_seeds(void)
{
    size_t i;

    for (i = 0; i < FUZZ_NKEYS; i++) {
        token(i, NULL, NULL);
    }
    token(0, NULL, "\"act\":{\"sub\":\"orchestrator\",\"act\":{\"sub\":\"planner\"}}");
    token(0, NULL, "\"act\":{\"sub\":\"a1\",\"act\":{\"sub\":\"a2\",\"act\":{\"sub\":\"a3\","
                   "\"act\":{\"sub\":\"a4\"}}}}");
    token(0, NULL, "\"act\":{\"sub\":\"a1\",\"act\":{\"sub\":\"a2\",\"act\":{\"sub\":\"a3\","
                   "\"act\":{\"sub\":\"a4\",\"act\":{\"sub\":\"a5\"}}}}}");
    token(0, NULL, "\"owner\":\"team-a\",\"cnf\":{\"jkt\":\"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I\"}");
    token(0, NULL, "\"nbf\":1800000100");
    token(0, NULL, "\"status\":{\"status_list\":{\"idx\":3,\"uri\":\"https://s.fuzz/1\"}}");
    token(0, NULL, "\"x\":[[[[[[1]]]]]],\"y\":{\"a\":{\"b\":null}},\"z\":1.5e3");
    token(0, NULL, "\"sub\":\"agent-666\"");
    token(0, NULL, "\"jti\":\"revoked-jti\"");
    token(0, NULL, "\"aud\":[\"other\",\"api\"]");
    token(0, NULL, "\"scope\":\"pub:x db:read kb:admin\"");
    token(0, "\"jku\":\"https://evil.fuzz/jwks\",\"x5c\":[\"AAAA\"]", NULL);
    token(0, "\"crit\":[\"exp\"]", NULL);
    token(1, "\"typ\":\"at+jwt\"", "\"sub\":\"bot-1\"");
    token(2, "\"typ\":\"JWT\"", NULL);
    token(2, NULL, "\"exp\":1700000000,\"iat\":1699999000");
    seeds("claims", "{\"iss\":\"" FUZZ_ISS "\",\"sub\":\"agent-1\",\"sub\":\"root\"}");
    seeds("claims", "{\"iss\":\"" FUZZ_ISS "\",\"sub\":\"a\\u0000b\",\"aud\":7,\"exp\":\"x\"}");
    seeds("claims", "[1,2,3]");
    raw_token("token", "{\"alg\":\"none\",\"typ\":\"aim+jwt\"}", claims(NULL), "");
    raw_token("token", "{\"alg\":\"HS256\",\"typ\":\"aim+jwt\",\"kid\":\"f-es256\"}", claims(NULL),
              "c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlMDEyMzQ1Njc4OQ");
    raw_token("token", "{\"alg\":\"ES256\",\"typ\":\"aim+jwt\",\"kid\":\"f-es256\"}",
              "{\"sub\":\"a\",\"sub\":\"root\"}", "AAAA");
    raw_token("token", "{\"alg\":\"ES256\",\"alg\":\"none\"}", "{}", "AAAA");
    seeds("token", "a.b.c");
    seeds("token", "..");
    seeds("token", "eyJhbGciOiJFUzI1NiJ9.e30.");
    seeds("token", "eyJhbGciOiJFUzI1NiJ9=.e30=.AA==");
}

static void
jwks_seeds(void)
{
    char *set = fuzz_jwks();
    size_t i;

    seeds("jwks", set);
    free(set);
    for (i = 0; i < FUZZ_NKEYS; i++) {
        EVP_PKEY  *k = fuzz_privkey(i);
        aim_error  err;
        json_t    *jwk = aim_pubkey_to_jwk(k, fuzz_keys[i].alg, fuzz_keys[i].kid, &err);
        char      *s = json_dumps(jwk, JSON_COMPACT);
        seeds("jwks", s);
        free(s);
        json_decref(jwk);
        EVP_PKEY_free(k);
    }
    seeds("jwks", "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\","
                  "\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\",\"use\":\"enc\",\"kid\":\"1\"},"
                  "{\"kty\":\"RSA\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\","
                  "\"e\":\"AQAB\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}]}");
    seeds("jwks", "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\",\"kid\":\"h\"}]}");
    seeds("jwks", "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                  "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\",\"d\":\"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI\",\"kid\":\"p\"}]}");
    seeds("jwks", "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\","
                  "\"kid\":\"a\",\"key_ops\":[\"verify\"]},{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AAAA\",\"kid\":\"b\"}]}");
    seeds("jwks", "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"Aw\",\"kid\":\"r\",\"alg\":\"PS256\"}]}");
    seeds("jwks", "{\"keys\":[1,null,\"x\",[],{}]}");
}

static void
list_seeds(void)
{
    seeds("revoke", "# revoked\nagent agent-9\njti jti-42\nkid old-key\n");
    seeds("revoke", "agent\tspiffe://example.org/ns/a/sa/x\r\n\n  jti  a  \n");
    seeds("revoke", "");
    seeds("revoke", "agnet x\n");
    seeds("policy", "# least privilege\nallow agent-1 kb:read kb:write\nallow bot-* kb:*\n");
    seeds("policy", "allow * *\n\n  allow\tagent-2\tdb:select db:insert  \r\n");
    seeds("policy", "allow agent-1\n");
    seeds("policy", "deny x y\n");
}

static void
dpop_seeds(void)
{
    char          *bound = fuzz_bound_token(), header[1024], cl[1024], ath[44], *p, *jwk;
    unsigned char  h[32];
    EVP_PKEY      *k = fuzz_privkey(0);
    aim_error      err;
    json_t        *j = aim_pubkey_to_jwk(k, AIM_ALG_ES256, NULL, &err);

    json_object_del(j, "kid");
    jwk = json_dumps(j, JSON_COMPACT);
    aim_sha256(bound, strlen(bound), h);
    aim_b64url_encode(h, 32, ath);
    snprintf(header, sizeof(header), "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":%s}", jwk);
    snprintf(cl, sizeof(cl), "{\"jti\":\"p-1\",\"htm\":\"GET\",\"htu\":\"%s\",\"iat\":%lld,"
             "\"ath\":\"%s\"}", FUZZ_HTU, FUZZ_NOW, ath);
    p = fuzz_sign(0, header, cl);
    seeds("dpop", p);
    free(p);
    snprintf(cl, sizeof(cl), "{\"jti\":\"p-2\",\"htm\":\"POST\",\"htu\":\"%s?x=1\",\"iat\":%lld.5,"
             "\"ath\":\"%s\"}", FUZZ_HTU, FUZZ_NOW - 50, ath);
    p = fuzz_sign(0, header, cl);
    seeds("dpop", p);
    free(p);
    raw_token("dpop", "{\"typ\":\"dpop+jwt\",\"alg\":\"none\"}", cl, "");
    free(jwk);
    json_decref(j);
    EVP_PKEY_free(k);
    free(bound);
}

/* A seed of the ssf harness: its mode byte, then the input. */
static void
ssf_seed(int mode, const char *text)
{
    size_t len = strlen(text);
    char  *b = malloc(len + 1);

    b[0] = (char) mode;
    memcpy(b + 1, text, len);
    seed("ssf", b, len + 1);
    free(b);
}

static char *
set_claims(const char *sub_id, const char *type, const char *body, const char *extra)
{
    static char buf[4096];
    static int  n;

    snprintf(buf, sizeof(buf), "{\"iss\":\"https://idp.fuzz\",\"aud\":"
             "\"https://host.fuzz/ssf\",\"iat\":%lld,\"jti\":\"s-%d\",\"sub_id\":%s,"
             "\"events\":{\"%s\":%s}%s}", FUZZ_NOW - 5, ++n, sub_id, type, body,
             extra ? extra : "");
    return buf;
}

static void
ssf_seeds(void)
{
#define CAEP "https://schemas.openid.net/secevent/caep/event-type/"
#define RISC "https://schemas.openid.net/secevent/risc/event-type/"
    static const char *const subs[] = {
        "{\"format\":\"uri\",\"uri\":\"spiffe://fuzz/agent-1\"}",
        "{\"format\":\"opaque\",\"id\":\"agent-1\"}",
        "{\"format\":\"iss_sub\",\"iss\":\"" FUZZ_ISS "\",\"sub\":\"agent-1\"}",
        "{\"format\":\"complex\",\"user\":{\"format\":\"opaque\",\"id\":\"a\"},"
        "\"device\":{\"format\":\"email\",\"email\":\"d@x\"}}",
        "{\"format\":\"aliases\",\"identifiers\":[{\"format\":\"email\","
        "\"email\":\"a@b\"},{\"format\":\"uri\",\"uri\":\"urn:a:b\"}]}",
    };
    static const struct { const char *type, *body; } evs[] = {
        { CAEP "session-revoked", "{\"event_timestamp\":1799999990,"
          "\"initiating_entity\":\"admin\",\"reason_admin\":{\"en\":\"x\"}}" },
        { CAEP "token-claims-change", "{\"claims\":{\"role\":\"ro\"}}" },
        { CAEP "credential-change", "{\"credential_type\":\"x509\","
          "\"change_type\":\"revoke\"}" },
        { CAEP "assurance-level-change", "{\"namespace\":\"NIST-AAL\","
          "\"current_level\":\"nist-aal1\",\"change_direction\":\"decrease\"}" },
        { CAEP "risk-level-change", "{\"principal\":\"USER\",\"current_level\":\"HIGH\"}" },
        { RISC "account-disabled", "{\"reason\":\"hijacking\"}" },
        { RISC "account-enabled", "{}" },
        { RISC "credential-compromise", "{\"credential_type\":\"password\"}" },
        { "https://schemas.openid.net/secevent/ssf/event-type/verification",
          "{\"state\":\"abc\"}" },
        { "https://vendor.fuzz/other", "{\"x\":[1,{\"y\":null}]}" },
    };
    size_t i;
    char  *t;

    for (i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
        const char *c = set_claims(subs[i % 5], evs[i].type, evs[i].body,
                                   i == 1 ? ",\"toe\":1799999000,\"txn\":\"t\"" : NULL);

        ssf_seed(0, c);
        ssf_seed(1, c);
        t = fuzz_sign(2, "{\"alg\":\"EdDSA\",\"typ\":\"secevent+jwt\","
                      "\"kid\":\"f-eddsa\"}", c);
        ssf_seed(2, t);
        if (i < 3) {
            char *resp = malloc(strlen(t) + 64);

            sprintf(resp, "{\"sets\":{\"s-%zu\":\"%s\"},\"moreAvailable\":true}",
                    i + 1, t);
            ssf_seed(4, resp);
            free(resp);
        }
        free(t);
    }
    ssf_seed(0, set_claims(subs[0], RISC "account-disabled", "{}", ",\"exp\":1"));
    ssf_seed(3, "{\"maxEvents\":2,\"returnImmediately\":true}");
    ssf_seed(3, "{\"ack\":[\"x-1\"],\"setErrs\":{\"x-2\":{\"err\":\"invalid_key\","
             "\"description\":\"d\"}},\"maxEvents\":0}");
    ssf_seed(4, "{\"sets\":{}}");
#undef CAEP
#undef RISC
}

/* Configuration files: the first byte chooses direct options (odd), and
 * list settings (bit 1: "NAME VALUE" lines through aim_config_set_list). */
static void
config_seeds(void)
{
    static const char *const files[] = {
        "\001# /etc/aim/aim.conf\n"
        "keys        /etc/aim/jwks.json\n"
        "keys        https://partner-idp.example /etc/aim/partner.jwks   # ISSUER PATH\n"
        "issuer      https://idp.example\n"
        "issuer      https://partner-idp.example\n"
        "audience    host-logins\n"
        "revoked     /etc/aim/revoked\n"
        "policy      /etc/aim/policy\n"
        "state       /var/lib/aim/state\n"
        "trust_min   50\n"
        "status_list https://idp.example/status/1 \"/var/lib/aim/status lists/1.jwt\"\n",
        "\000audience \"a \\\"quoted\\\" value\"\r\nleeway 600\r\ntypes aim+jwt at+jwt JWT\r\n",
        "\000cache 1048576\nreload_interval 0\ndpop_max_age 3600\nmax_lifetime 31622400\n",
        "\001audience x#y\n",
        "\001trust_min 101\n",
        "\000audience a\rb\n",
        "\000\"unterminated\n",
        "\001types a b c d e f g h i\n",
        "\002keys https://idp.example \"/etc/aim/my keys.json\", /etc/aim/b.json\n"
        "issuer https://idp.example, \"https://d/x,y\"\n"
        "types JWT, at+jwt aim+jwt\n"
        "ssf_keys https://tx /etc/aim/tx.jwks\nleeway 5\n",
        "\003audience \"a\"b\nissuer \"x\nkeys a b c\n",
    };
    size_t i;

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        seed("config", files[i], strlen(files[i] + 1) + 1);
    }
}

/* Request shapes (16 bytes, fuzz_decide.c's layout), then raw bytes. */
static void
decide_seeds(void)
{
    static const unsigned char shapes[][16] = {
        /* entry tok scheme dpop nproofs proof method url cert scopes any host audit store rep */
        { 1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 },   /* a bearer allow */
        { 1, 1, 2, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 },   /* a DPoP allow */
        { 1, 1, 2, 2, 1, 1, 0, 1, 0, 1, 0, 0, 0, 0, 2, 0 },   /* ... replayed */
        { 2, 3, 2, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0 },   /* held, both bindings */
        { 0, 2, 0, 0, 0, 0, 2, 3, 1, 0, 0, 0, 0, 0, 0, 0 },   /* identify x5t */
        { 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 },   /* bound as bearer */
        { 1, 0, 3, 3, 0, 0, 0, 0, 0, 4, 1, 3, 2, 4, 0, 0 },   /* outside the enums */
    };
    size_t i;

    for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        seed("decide", (const char *) shapes[i], sizeof(shapes[i]));
    }
    {
        unsigned char buf[16 + 8];

        memcpy(buf, shapes[0], 16);
        buf[1] = 8;                      /* the raw token */
        memcpy(buf + 16, "a.b.c.de", 8);
        seed("decide", (const char *) buf, sizeof(buf));
    }
}

/* JSON for the differential harness: the tricky corners of the grammar. */
static void
json_seeds(void)
{
    static const char *const s[] = {
        "{\"iss\":\"" FUZZ_ISS "\",\"sub\":\"agent-1\",\"aud\":[\"api\",\"x\"],"
        "\"exp\":1800000600,\"iat\":1800000000.5,\"jti\":\"j\",\"act\":{\"sub\":\"a\"},"
        "\"scope\":\"kb:read\",\"n\":null,\"t\":true,\"f\":false}",
        "[1,-0,-0.0,0e0,1E400,1e-400,9223372036854775807,9223372036854775808,"
        "-9223372036854775808,-9223372036854775809,1.7976931348623157e308,4.9e-324]",
        "\"\\u00e9\\ud83d\\ude00\\uDBFF\\uDFFF\\/\\b\\f\\n\\r\\t\\\\\\\"\"",
        "\"\\ud800\"", "\"\\udc00\"", "\"\\u0000\"", "{\"a\\u0000\":1}",
        "\"\xc3\xa9\xf0\x9f\x98\x80\xed\x9f\xbf\"", "\"\xc0\x80\"", "\"\xed\xa0\x80\"",
        "{\"a\":1,\"a\":1}", "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,"
        "\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"a\":11}",
        "[[[[[[[[1]]]]]]]]", "[[[[[[[[[1]]]]]]]]]", " \t\r\n{ } ", "[1,]", "{\"a\":1,}",
        "01", "1.", ".5", "-", "1e", "1e+", "tru", "nulll", "\xef\xbb\xbf{}",
    };
    size_t i;

    for (i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        seeds("json", s[i]);
    }
}

/* MCP bodies: the SDK's own messages, a batch, and near misses. */
static void
mcp_seeds(void)
{
    static const char *const bodies[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
        "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
        "\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
        "{\"name\":\"search\",\"arguments\":{\"q\":\"x\"},\"_meta\":{\"progressToken\":1}}}",
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/read\",\"params\":{\"uri\":\"doc://4\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"prompts/get\",\"params\":"
        "{\"name\":\"summarize\",\"arguments\":{\"id\":\"7\"}}}",
        "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"completion/complete\",\"params\":"
        "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"summarize\"}}}",
        "{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"result\":{}}",
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"x\"}}",
        "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\"}},"
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"b\"}}]",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
        "{\"name\":\"a\",\"name\":\"b\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\\u0000\"}}",
        "[]",
    };
    size_t i;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        seeds("mcp", bodies[i]);
    }
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_seeds DIR\n");
        return 2;
    }
    outdir = argv[1];
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
        fuzz_die("mkdir", outdir);
    }
    aim_set_clock(fuzz_clock);
    token_seeds();
    jwks_seeds();
    list_seeds();
    dpop_seeds();
    ssf_seeds();
    config_seeds();
    decide_seeds();
    json_seeds();
    mcp_seeds();
    printf("gen_seeds: %d seeds in %s\n", nseeds, outdir);
    return 0;
}
