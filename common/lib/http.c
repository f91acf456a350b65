/*
 * http.c -- the rules an HTTP adapter applies before a decision, written
 * once: which requests carry MCP messages (their body is read and each
 * message decided), and which are CORS preflights (let through unchecked
 * where the place allows it).  The adapter only says what the request
 * carries (aim_http_request); a request that fits neither rule is decided
 * as any other, so an unusual shape fails closed.
 */
#include <string.h>
#include "aim.h"

int
aim_mcp_carries_messages(const aim_http_request *h)
{
    if (h == NULL) {
        return 0;
    }
    /* a body of any method; a POST without one is an empty body refused */
    return h->body || (h->method != NULL && strcmp(h->method, "POST") == 0);
}

int
aim_http_preflight(const aim_http_request *h)
{
    return h != NULL
           && h->method != NULL
           && strcmp(h->method, "OPTIONS") == 0   /* methods are case-sensitive */
           && h->origin
           && h->preflight_method
           && !h->credentials
           && !h->body;
}
