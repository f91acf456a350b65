/*
 * test_mcp.c -- MCP request bodies (mcp.c): what a JSON-RPC 2.0 body asks
 * for, and every shape that is refused with the JSON-RPC error to answer;
 * which HTTP requests carry messages and which are preflights (http.c).
 */
#include <stdlib.h>
#include <string.h>
#include "t.h"
#include "tu.h"
#include "units.h"

static aim_mcp *
parse_ok(const char *body)
{
    aim_mcp   *m = NULL;
    aim_error  err;
    int        code = 1;

    memset(&err, 0, sizeof(err));
    CHECK_ST(aim_mcp_parse(body, strlen(body), &m, &code, &err), AIM_OK, &err);
    CHECK_INT(code, 0);
    return m;
}

/* A refused body: its JSON-RPC code, and a message that says why. */
static void
refused(const char *name, const char *body, size_t len, int want_code,
        const char *says)
{
    aim_mcp   *m = (aim_mcp *) 1;
    aim_error  err;
    int        code = 0;
    aim_status s;

    memset(&err, 0, sizeof(err));
    s = aim_mcp_parse(body, len, &m, &code, &err);
    CHECKF(s == AIM_MALFORMED, "%s: got %s (%s)", name, aim_reason(s), err.message);
    CHECKF(m == NULL, "%s: no object on a refusal", name);
    CHECKF(code == want_code, "%s: code %d, want %d", name, code, want_code);
    CHECKF(says == NULL || tu_contains(err.message, says), "%s: message \"%s\" "
           "lacks \"%s\"", name, err.message, says);
}

#define REFUSED(name, body, code, says) refused(name, body, strlen(body), code, says)

/* Requests and what each names: tool, prompt, resource. */
static const struct {
    const char *json;
    const char *tool, *prompt, *resource;
} names[] = {
    { "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"prompts/get\","
      "\"params\":{\"name\":\"summarize\",\"arguments\":{\"id\":\"7\"}}}",
      NULL, "summarize", NULL },
    { "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/read\","
      "\"params\":{\"uri\":\"doc://42\"}}",
      NULL, NULL, "doc://42" },
    { "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/subscribe\","
      "\"params\":{\"uri\":\"doc://\\u00e9t\\u00e9\"}}",
      NULL, NULL, "doc://\xc3\xa9t\xc3\xa9" },
    { "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\","
      "\"params\":{\"name\":\"delete\\u005fdoc\"}}",
      "delete_doc", NULL, NULL },
    { "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"completion/complete\","
      "\"params\":{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"summarize\"},"
      "\"argument\":{\"name\":\"id\",\"value\":\"4\"}}}",
      NULL, "summarize", NULL },
    { "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"completion/complete\","
      "\"params\":{\"ref\":{\"type\":\"ref/resource\",\"uri\":\"doc://{id}\"}}}",
      NULL, NULL, "doc://{id}" },
};

static void
test_messages(void)
{
    aim_mcp               *m;
    const aim_mcp_message *msg;
    size_t                 i;

    t_section("mcp/messages");
    m = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                 "\"params\":{\"name\":\"delete_doc\",\"arguments\":{\"id\":\"7\"}}}");
    CHECK_INT(aim_mcp_count(m), 1);
    CHECK(!aim_mcp_is_batch(m));
    msg = aim_mcp_at(m, 0);
    CHECK(msg != NULL && msg->kind == AIM_MCP_REQUEST);
    CHECK_STR(msg->method, "tools/call");
    CHECK_STR(msg->tool, "delete_doc");
    CHECK(msg->prompt == NULL && msg->resource == NULL);
    CHECK(aim_mcp_at(m, 1) == NULL);
    aim_mcp_free(m);

    /* a notification has no id; whitespace around the text is fine */
    m = parse_ok(" \n{\"method\":\"notifications/initialized\",\"jsonrpc\":\"2.0\"}\r\n ");
    msg = aim_mcp_at(m, 0);
    CHECK(msg != NULL && msg->kind == AIM_MCP_NOTIFICATION);
    CHECK_STR(msg->method, "notifications/initialized");
    CHECK(msg->tool == NULL);
    aim_mcp_free(m);

    /* responses to the server's own requests: no method */
    m = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":\"s-1\",\"result\":{}}");
    msg = aim_mcp_at(m, 0);
    CHECK(msg != NULL && msg->kind == AIM_MCP_RESPONSE && msg->method == NULL);
    aim_mcp_free(m);
    m = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-1,\"message\":\"x\"}}");
    CHECK(m != NULL && aim_mcp_at(m, 0)->kind == AIM_MCP_RESPONSE);
    aim_mcp_free(m);

    /* what each method names, escapes decoded: the name the server will
     * look up; completion/complete names what it completes for */
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        m = parse_ok(names[i].json);
        msg = aim_mcp_at(m, 0);
        CHECKF(msg != NULL, "%s", names[i].json);
        if (msg != NULL) {
            CHECK_STR(msg->tool, names[i].tool);
            CHECK_STR(msg->prompt, names[i].prompt);
            CHECK_STR(msg->resource, names[i].resource);
        }
        aim_mcp_free(m);
    }
    /* an escaped method name is decoded too */
    m = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools\\/call\","
                 "\"params\":{\"name\":\"delete\\u005fdoc\"}}");
    CHECK_STR(aim_mcp_at(m, 0)->method, "tools/call");
    CHECK_STR(aim_mcp_at(m, 0)->tool, "delete_doc");
    aim_mcp_free(m);

    /* other methods name nothing; their params may be anything JSON-RPC allows */
    m = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/list\",\"params\":[]}");
    CHECK(aim_mcp_at(m, 0)->tool == NULL);
    aim_mcp_free(m);
}

static void
test_batches(void)
{
    aim_mcp *m;
    char    *big;
    size_t   i, off;

    t_section("mcp/batches");
    m = parse_ok("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                 "\"params\":{\"name\":\"search\"}},"
                 "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"},"
                 "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\","
                 "\"params\":{\"name\":\"rotate_keys\"}}]");
    CHECK(aim_mcp_is_batch(m));
    CHECK_INT(aim_mcp_count(m), 3);
    CHECK_STR(aim_mcp_at(m, 0)->tool, "search");
    CHECK(aim_mcp_at(m, 1)->kind == AIM_MCP_NOTIFICATION);
    CHECK_STR(aim_mcp_at(m, 2)->tool, "rotate_keys");
    aim_mcp_free(m);

    /* a batch of one is still a batch */
    m = parse_ok("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]");
    CHECK(aim_mcp_is_batch(m) && aim_mcp_count(m) == 1);
    aim_mcp_free(m);

    /* AIM_MCP_MAX_BATCH messages, then one more */
    big = malloc(64 * (AIM_MCP_MAX_BATCH + 2));
    off = 0;
    big[off++] = '[';
    for (i = 0; i < AIM_MCP_MAX_BATCH; i++) {
        off += (size_t) sprintf(big + off, "%s{\"jsonrpc\":\"2.0\",\"id\":%zu,"
                                "\"method\":\"ping\"}", i ? "," : "", i);
    }
    strcpy(big + off, "]");
    m = parse_ok(big);
    CHECK_INT(aim_mcp_count(m), AIM_MCP_MAX_BATCH);
    aim_mcp_free(m);
    strcpy(big + off, ",{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"ping\"}]");
    REFUSED("a batch too long", big, AIM_MCP_INVALID_REQUEST, "batch of 65");
    free(big);

    REFUSED("an empty batch", "[]", AIM_MCP_INVALID_REQUEST, "batch of 0");
    REFUSED("a batch of a number", "[1]", AIM_MCP_INVALID_REQUEST, "message 1 of the batch");
    REFUSED("a nested batch", "[[{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}]]",
            AIM_MCP_INVALID_REQUEST, "message 1 of the batch");
    /* one bad message refuses the whole batch, and is named */
    REFUSED("a batch with one tools/call without a name",
            "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"},"
            "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{}}]",
            AIM_MCP_INVALID_REQUEST, "message 2 of the batch: tools/call without a params.name");
}

static void
test_refused(void)
{
    char  name[AIM_MCP_MAX_NAME + 2];
    char *body;
    size_t n;

    t_section("mcp/refused");
    /* not one JSON text: -32700 */
    refused("no body", NULL, 0, AIM_MCP_PARSE_ERROR, "empty");
    REFUSED("an empty body", "", AIM_MCP_PARSE_ERROR, "empty");
    REFUSED("blanks", "  \n", AIM_MCP_PARSE_ERROR, "not JSON");
    REFUSED("not JSON", "method=tools/call", AIM_MCP_PARSE_ERROR, "not JSON");
    REFUSED("two texts", "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}{}",
            AIM_MCP_PARSE_ERROR, "not JSON");
    REFUSED("a cut text", "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"",
            AIM_MCP_PARSE_ERROR, "not JSON");
    /* a duplicate member would be resolved by the server its own way */
    REFUSED("two methods", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\","
            "\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}",
            AIM_MCP_PARSE_ERROR, "not JSON");
    REFUSED("two tool names", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
            "\"params\":{\"name\":\"search\",\"name\":\"delete_doc\"}}",
            AIM_MCP_PARSE_ERROR, "not JSON");
    REFUSED("a NUL escape", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
            "\"params\":{\"name\":\"search\\u0000delete\"}}", AIM_MCP_PARSE_ERROR, NULL);
    {
        static const char nul[] = "{\"jsonrpc\":\"2.0\",\"method\":\"a\0b\"}";

        refused("a NUL byte", nul, sizeof(nul) - 1, AIM_MCP_PARSE_ERROR, "NUL");
    }
    REFUSED("invalid UTF-8", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
            "\"params\":{\"name\":\"\xff\"}}", AIM_MCP_PARSE_ERROR, NULL);
    REFUSED("an integer too big", "{\"jsonrpc\":\"2.0\",\"id\":123456789012345678901234567890,"
            "\"method\":\"ping\"}", AIM_MCP_PARSE_ERROR, NULL);
    body = malloc(2 * (AIM_MCP_MAX_DEPTH + 1) + 64);
    n = (size_t) sprintf(body, "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":");
    memset(body + n, '[', AIM_MCP_MAX_DEPTH);
    memset(body + n + AIM_MCP_MAX_DEPTH, ']', AIM_MCP_MAX_DEPTH);
    strcpy(body + n + 2 * AIM_MCP_MAX_DEPTH, "}");
    REFUSED("nested too deep", body, AIM_MCP_PARSE_ERROR, "deeper");
    free(body);

    /* JSON, not JSON-RPC 2.0: -32600 */
    REFUSED("a string", "\"tools/call\"", AIM_MCP_INVALID_REQUEST, "object");
    REFUSED("no jsonrpc", "{\"id\":1,\"method\":\"ping\"}", AIM_MCP_INVALID_REQUEST, "jsonrpc");
    REFUSED("jsonrpc 1.0", "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
            AIM_MCP_INVALID_REQUEST, "jsonrpc");
    REFUSED("jsonrpc as a number", "{\"jsonrpc\":2.0,\"id\":1,\"method\":\"ping\"}",
            AIM_MCP_INVALID_REQUEST, "jsonrpc");
    REFUSED("method a number", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}",
            AIM_MCP_INVALID_REQUEST, "method");
    REFUSED("method empty", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}",
            AIM_MCP_INVALID_REQUEST, "method");
    REFUSED("method with a control", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\\n\"}",
            AIM_MCP_INVALID_REQUEST, "method");
    REFUSED("id an object", "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}",
            AIM_MCP_INVALID_REQUEST, "id");
    REFUSED("id a fraction", "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}",
            AIM_MCP_INVALID_REQUEST, "id");
    REFUSED("a request with id null", "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}",
            AIM_MCP_INVALID_REQUEST, "id");
    REFUSED("params a string", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":\"x\"}",
            AIM_MCP_INVALID_REQUEST, "params");
    REFUSED("a request with a result", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
            "\"result\":{}}", AIM_MCP_INVALID_REQUEST, "result");
    REFUSED("a response without an id", "{\"jsonrpc\":\"2.0\",\"result\":{}}",
            AIM_MCP_INVALID_REQUEST, "response");
    REFUSED("a response with both", "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{}}",
            AIM_MCP_INVALID_REQUEST, "response");
    REFUSED("neither", "{\"jsonrpc\":\"2.0\",\"id\":1}", AIM_MCP_INVALID_REQUEST, "response");

    /* the name a method acts on must be there, and plain */
    REFUSED("tools/call without params", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\"}",
            AIM_MCP_INVALID_REQUEST, "tools/call without a params.name");
    REFUSED("tools/call with positional params", "{\"jsonrpc\":\"2.0\",\"id\":1,"
            "\"method\":\"tools/call\",\"params\":[\"delete_doc\"]}",
            AIM_MCP_INVALID_REQUEST, "params.name");
    REFUSED("a tool name that is a number", "{\"jsonrpc\":\"2.0\",\"id\":1,"
            "\"method\":\"tools/call\",\"params\":{\"name\":7}}", AIM_MCP_INVALID_REQUEST, "params.name");
    REFUSED("an empty tool name", "{\"jsonrpc\":\"2.0\",\"id\":1,"
            "\"method\":\"tools/call\",\"params\":{\"name\":\"\"}}", AIM_MCP_INVALID_REQUEST, "params.name");
    REFUSED("a tool name with a tab", "{\"jsonrpc\":\"2.0\",\"id\":1,"
            "\"method\":\"tools/call\",\"params\":{\"name\":\"delete\\tdoc\"}}",
            AIM_MCP_INVALID_REQUEST, "params.name");
    REFUSED("a tool name with DEL", "{\"jsonrpc\":\"2.0\",\"id\":1,"
            "\"method\":\"tools/call\",\"params\":{\"name\":\"delete\x7f\"}}",
            AIM_MCP_INVALID_REQUEST, "params.name");
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    body = malloc(sizeof(name) + 128);
    sprintf(body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
            "\"params\":{\"name\":\"%s\"}}", name);
    REFUSED("a tool name too long", body, AIM_MCP_INVALID_REQUEST, "params.name");
    name[AIM_MCP_MAX_NAME] = '\0';
    sprintf(body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
            "\"params\":{\"name\":\"%s\"}}", name);
    aim_mcp_free(parse_ok(body));
    free(body);
    REFUSED("prompts/get without a name", "{\"jsonrpc\":\"2.0\",\"id\":1,"
            "\"method\":\"prompts/get\",\"params\":{\"uri\":\"x\"}}", AIM_MCP_INVALID_REQUEST,
            "prompts/get without a params.name");
    REFUSED("resources/read without a uri", "{\"jsonrpc\":\"2.0\",\"id\":1,"
            "\"method\":\"resources/read\",\"params\":{\"name\":\"x\"}}", AIM_MCP_INVALID_REQUEST,
            "resources/read without a params.uri");
    REFUSED("resources/unsubscribe without a uri", "{\"jsonrpc\":\"2.0\",\"id\":1,"
            "\"method\":\"resources/unsubscribe\",\"params\":{}}", AIM_MCP_INVALID_REQUEST, "uri");
    REFUSED("a completion of a prompt without its name", "{\"jsonrpc\":\"2.0\",\"id\":1,"
            "\"method\":\"completion/complete\",\"params\":{\"ref\":{\"type\":\"ref/prompt\"}}}",
            AIM_MCP_INVALID_REQUEST, "ref/prompt");

    /* bigger than the core's bound: refused before it is read */
    body = calloc(1, (size_t) AIM_MCP_MAX_BODY + 1);
    refused("a body over AIM_MCP_MAX_BODY", body, (size_t) AIM_MCP_MAX_BODY + 1,
            AIM_MCP_INVALID_REQUEST, "larger than");
    free(body);

    /* a refusal never quotes the body */
    REFUSED("garbage with a secret", "{\"jsonrpc\":\"2.0\",\"method\":SECRET-b0dy}",
            AIM_MCP_PARSE_ERROR, "not JSON");
    {
        aim_mcp  *m;
        aim_error err;
        int       code;
        const char *b = "{\"jsonrpc\":\"2.0\",\"method\":SECRET-b0dy}";

        aim_mcp_parse(b, strlen(b), &m, &code, &err);
        CHECK(strstr(err.message, "SECRET") == NULL);
    }
    CHECK_INT(aim_mcp_count(NULL), 0);
    CHECK(!aim_mcp_is_batch(NULL));
    CHECK(aim_mcp_at(NULL, 0) == NULL);
    aim_mcp_free(NULL);
}

/* Which HTTP requests carry messages, and which are CORS preflights (http.c). */
static void
test_http(void)
{
    static const char *const methods[] = {
        "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "post", "FOO"
    };
    aim_http_request h;
    size_t           i;

    t_section("mcp/http");

    /* a body of any method carries messages; a POST always does */
    memset(&h, 0, sizeof(h));
    h.method = "POST";
    CHECK(aim_mcp_carries_messages(&h));
    h.body = 1;
    CHECK(aim_mcp_carries_messages(&h));
    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        h.method = methods[i];
        h.body = 1;
        CHECKF(aim_mcp_carries_messages(&h), "a %s with a body carries messages",
               methods[i]);
        h.body = 0;
        CHECKF(!aim_mcp_carries_messages(&h), "a %s without one does not",
               methods[i]);
    }
    h.method = NULL;
    h.body = 1;
    CHECK(aim_mcp_carries_messages(&h));
    h.body = 0;
    CHECK(!aim_mcp_carries_messages(&h));
    CHECK(!aim_mcp_carries_messages(NULL));

    /* a preflight: OPTIONS, Origin, Access-Control-Request-Method, nothing else */
    memset(&h, 0, sizeof(h));
    h.method = "OPTIONS";
    h.origin = 1;
    h.preflight_method = 1;
    CHECK(aim_http_preflight(&h));
    h.body = 1;
    CHECKF(!aim_http_preflight(&h), "an OPTIONS with a body is no preflight");
    h.body = 0;
    h.credentials = 1;
    CHECKF(!aim_http_preflight(&h), "an OPTIONS with credentials is no preflight");
    h.credentials = 0;
    h.origin = 0;
    CHECKF(!aim_http_preflight(&h), "without Origin, no preflight");
    h.origin = 1;
    h.preflight_method = 0;
    CHECKF(!aim_http_preflight(&h), "without Access-Control-Request-Method, none");
    h.preflight_method = 1;
    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (strcmp(methods[i], "OPTIONS") != 0) {
            h.method = methods[i];
            CHECKF(!aim_http_preflight(&h), "a %s is no preflight", methods[i]);
        }
    }
    h.method = "options";
    CHECKF(!aim_http_preflight(&h), "methods are case-sensitive");
    h.method = NULL;
    CHECK(!aim_http_preflight(&h));
    CHECK(!aim_http_preflight(NULL));
}

void
test_mcp(void)
{
    test_messages();
    test_batches();
    test_refused();
    test_http();
}
