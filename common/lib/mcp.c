/*
 * mcp.c -- what an MCP (JSON-RPC 2.0) request body asks for.
 *
 * An adapter in front of an MCP server requires a scope per method, tool,
 * resource and prompt; those live in the body.  The body is read here,
 * strictly, so that what the adapter decides on is what the server will
 * act on: one JSON text under json.c's rules (no duplicate member, which
 * a server would resolve its own way; no NUL; valid UTF-8; bounded
 * depth), each message a JSON-RPC 2.0 request, notification or response,
 * and the name a method acts on present and plain.  Anything else is
 * refused with the JSON-RPC error to answer, never guessed.
 */
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "util.h"

struct aim_mcp {
    json_t          *root;          /* owns every string below */
    int              batch;
    size_t           count;
    aim_mcp_message  msgs[];
};

/* A method, name or URI: a non-empty string without control bytes. */
static const char *
plain_string(const json_t *v)
{
    const char *s;
    size_t      i, len;

    if (!json_is_string(v)) {
        return NULL;
    }
    s = json_string_value(v);
    len = json_string_length(v);
    if (len == 0 || len > AIM_MCP_MAX_NAME) {
        return NULL;
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            return NULL;
        }
    }
    return s;
}

/* params.FIELD of a method that cannot be served without it. */
static aim_status
required(const json_t *params, const char *method, const char *field,
         const char **out, aim_error *err)
{
    *out = json_is_object(params)
           ? plain_string(json_object_get(params, field)) : NULL;
    if (*out == NULL) {
        return aim_fail(err, AIM_MALFORMED, "%s without a params.%s of 1 to %d "
                        "bytes without control characters", method, field,
                        AIM_MCP_MAX_NAME);
    }
    return AIM_OK;
}

/* completion/complete names the prompt or resource it completes for. */
static aim_status
completion_ref(const json_t *params, aim_mcp_message *m, aim_error *err)
{
    const json_t *ref = json_is_object(params)
                        ? json_object_get(params, "ref") : NULL;
    const char   *type;

    if (!json_is_object(ref)) {
        return AIM_OK;
    }
    type = json_string_value(json_object_get(ref, "type"));
    if (type != NULL && strcmp(type, "ref/prompt") == 0) {
        return required(ref, "completion/complete of a ref/prompt", "name",
                        &m->prompt, err);
    }
    if (type != NULL && strcmp(type, "ref/resource") == 0) {
        return required(ref, "completion/complete of a ref/resource", "uri",
                        &m->resource, err);
    }
    return AIM_OK;
}

static aim_status
read_message(const json_t *v, aim_mcp_message *m, aim_error *err)
{
    const json_t *jsonrpc, *id, *method, *params;

    memset(m, 0, sizeof(*m));
    if (!json_is_object(v)) {
        return aim_fail(err, AIM_MALFORMED, "not a JSON-RPC message (an "
                        "object)");
    }
    jsonrpc = json_object_get(v, "jsonrpc");
    if (!json_is_string(jsonrpc) || json_string_length(jsonrpc) != 3
        || strcmp(json_string_value(jsonrpc), "2.0") != 0)
    {
        return aim_fail(err, AIM_MALFORMED, "\"jsonrpc\" is not \"2.0\"");
    }
    id = json_object_get(v, "id");
    if (id != NULL && !json_is_string(id) && !json_is_integer(id)
        && !(json_is_null(id) && json_object_get(v, "method") == NULL))
    {
        return aim_fail(err, AIM_MALFORMED, "\"id\" is not a string or an "
                        "integer");
    }
    method = json_object_get(v, "method");
    params = json_object_get(v, "params");

    if (method == NULL) {
        /* a response to a request the server sent (sampling, roots) */
        if (id == NULL
            || (json_object_get(v, "result") == NULL)
               == (json_object_get(v, "error") == NULL)
            || params != NULL)
        {
            return aim_fail(err, AIM_MALFORMED, "neither a request (no "
                            "\"method\") nor a response (an \"id\" and one "
                            "of \"result\" and \"error\")");
        }
        m->kind = AIM_MCP_RESPONSE;
        return AIM_OK;
    }

    m->method = plain_string(method);
    if (m->method == NULL) {
        return aim_fail(err, AIM_MALFORMED, "\"method\" is not a string of 1 "
                        "to %d bytes without control characters",
                        AIM_MCP_MAX_NAME);
    }
    if (json_object_get(v, "result") != NULL
        || json_object_get(v, "error") != NULL)
    {
        return aim_fail(err, AIM_MALFORMED, "a request with a \"result\" or "
                        "an \"error\"");
    }
    if (params != NULL && !json_is_object(params) && !json_is_array(params)) {
        return aim_fail(err, AIM_MALFORMED, "\"params\" is not an object or "
                        "an array");
    }
    m->kind = id != NULL ? AIM_MCP_REQUEST : AIM_MCP_NOTIFICATION;

    if (strcmp(m->method, "tools/call") == 0) {
        return required(params, m->method, "name", &m->tool, err);
    }
    if (strcmp(m->method, "prompts/get") == 0) {
        return required(params, m->method, "name", &m->prompt, err);
    }
    if (strcmp(m->method, "resources/read") == 0
        || strcmp(m->method, "resources/subscribe") == 0
        || strcmp(m->method, "resources/unsubscribe") == 0)
    {
        return required(params, m->method, "uri", &m->resource, err);
    }
    if (strcmp(m->method, "completion/complete") == 0) {
        return completion_ref(params, m, err);
    }
    return AIM_OK;
}

aim_status
aim_mcp_parse(const char *body, size_t len, aim_mcp **out, int *code,
              aim_error *err)
{
    json_t     *root;
    aim_mcp    *m;
    size_t      i, n;
    aim_error   e;
    aim_status  s;

    *out = NULL;
    *code = AIM_MCP_PARSE_ERROR;
    if (body == NULL || len == 0) {
        return aim_fail(err, AIM_MALFORMED, "the body is empty");
    }
    if (len > AIM_MCP_MAX_BODY) {
        *code = AIM_MCP_INVALID_REQUEST;
        return aim_fail(err, AIM_MALFORMED, "the body is larger than %d bytes",
                        AIM_MCP_MAX_BODY);
    }
    root = aim_json_parse_strict(body, len, AIM_MCP_MAX_DEPTH, &e);
    if (root == NULL) {
        return aim_fail(err, AIM_MALFORMED, "the body is not JSON: %s",
                        e.message);
    }

    *code = AIM_MCP_INVALID_REQUEST;
    n = json_is_array(root) ? json_array_size(root) : 1;
    if (json_is_array(root) && (n == 0 || n > AIM_MCP_MAX_BATCH)) {
        json_decref(root);
        return aim_fail(err, AIM_MALFORMED, "a batch of %zu messages (1 to %d "
                        "are accepted)", n, AIM_MCP_MAX_BATCH);
    }

    m = malloc(sizeof(aim_mcp) + n * sizeof(aim_mcp_message));
    if (m == NULL) {
        json_decref(root);
        return aim_fail(err, AIM_INTERNAL, "out of memory");
    }
    m->root = root;
    m->batch = json_is_array(root);
    m->count = n;

    for (i = 0; i < n; i++) {
        s = read_message(m->batch ? json_array_get(root, i) : root,
                         &m->msgs[i], &e);
        if (s != AIM_OK) {
            int batch = m->batch;

            aim_mcp_free(m);
            if (batch) {
                return aim_fail(err, s, "message %zu of the batch: %s", i + 1,
                                e.message);
            }
            return aim_fail(err, s, "%s", e.message);
        }
    }

    *code = 0;
    *out = m;
    return AIM_OK;
}

void
aim_mcp_free(aim_mcp *m)
{
    if (m != NULL) {
        json_decref(m->root);
        free(m);
    }
}

size_t
aim_mcp_count(const aim_mcp *m)
{
    return m != NULL ? m->count : 0;
}

int
aim_mcp_is_batch(const aim_mcp *m)
{
    return m != NULL && m->batch;
}

const aim_mcp_message *
aim_mcp_at(const aim_mcp *m, size_t i)
{
    return m != NULL && i < m->count ? &m->msgs[i] : NULL;
}
