/*
 * fuzz_mcp.c -- libFuzzer harness: any bytes as an MCP request body
 * through aim_mcp_parse.  A body that parses gives 1..AIM_MCP_MAX_BATCH
 * messages, each a request, notification or response as its kind says,
 * with the names its method acts on present, plain and bounded; a body
 * that does not gives a JSON-RPC error code and nothing else.
 */
#include "fuzz_common.h"

static void
plain(const char *s)
{
    size_t i, n;

    if (s == NULL) {
        return;
    }
    n = strlen(s);
    if (n == 0 || n > AIM_MCP_MAX_NAME) {
        abort();
    }
    for (i = 0; i < n; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            abort();
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aim_mcp               *m = NULL;
    aim_error              err;
    const aim_mcp_message *msg;
    size_t                 i, n;
    int                    code = 0;

    if (aim_mcp_parse((const char *) data, size, &m, &code, &err) != AIM_OK) {
        if (m != NULL
            || (code != AIM_MCP_PARSE_ERROR && code != AIM_MCP_INVALID_REQUEST))
        {
            abort();
        }
        return 0;
    }
    n = aim_mcp_count(m);
    if (code != 0 || n == 0 || n > AIM_MCP_MAX_BATCH
        || (n > 1 && !aim_mcp_is_batch(m)) || aim_mcp_at(m, n) != NULL)
    {
        abort();
    }
    for (i = 0; i < n; i++) {
        msg = aim_mcp_at(m, i);
        if (msg == NULL || (msg->method == NULL) != (msg->kind == AIM_MCP_RESPONSE)) {
            abort();
        }
        plain(msg->method);
        plain(msg->tool);
        plain(msg->prompt);
        plain(msg->resource);
        if (msg->method != NULL
            && (strcmp(msg->method, "tools/call") == 0) != (msg->tool != NULL))
        {
            abort();
        }
        if (msg->method != NULL && strcmp(msg->method, "prompts/get") == 0
            && msg->prompt == NULL)
        {
            abort();
        }
        if (msg->method != NULL && strcmp(msg->method, "resources/read") == 0
            && msg->resource == NULL)
        {
            abort();
        }
    }
    aim_mcp_free(m);
    return 0;
}
