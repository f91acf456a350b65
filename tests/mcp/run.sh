#!/bin/bash
# tests/mcp/run.sh -- ngx_aim in front of an MCP server, driven by the
# official MCP TypeScript SDK (tests/mcp/package-lock.json): its client
# (client.mjs) and its server (server.mjs) through nginx with the module.
#
#   per tool      one endpoint, "aim_mcp on", a map of $aim_mcp_tool /
#                 $aim_mcp_method: one agent may call one tool and not
#                 another, read a resource, get a prompt; batches are
#                 decided as every one of their messages; refused calls
#                 never reach the server; each message audited
#   bodies        malformed, non-JSON-RPC, oversized (Content-Length and
#                 chunked), empty: 400 / 413 with a JSON-RPC error, never
#                 passed on; a body nginx spooled to a temporary file is
#                 read back and still reaches the server whole
#   challenges    no token, wrong audience, expired, too little scope: 401 /
#                 403 with scope= and resource_metadata, JSON bodies; the
#                 SDK's own OAuth discovery asks for exactly that scope and
#                 resource (aim_scope_any: the first alternative); a second
#                 privilege level with its own audience and metadata
#   metadata      the RFC 9728 document from the configuration; nginx -t
#                 refusals
#   browsers      a CORS preflight, CORS headers on 401 and on answers,
#                 Mcp-Session-Id and WWW-Authenticate exposed
#   streams       an open GET (SSE) stream ends within 2 s of a
#                 revocation, of the token's expiry, of a shared-signal
#                 session revocation and of trust falling below the
#                 threshold; an upgraded connection (WebSocket) and an
#                 HTTP/2 download within 2 s of a revocation; all through
#                 a reload; a stream of another agent goes on
#
#   tests/mcp/run.sh          (make test-mcp; KEEP=1 keeps the run directory)
#
# node and npm come from ./deps.sh; the SDK is installed here by "npm ci"
# from the lock file unless node_modules already holds that lock's
# packages (offline runs).  Last line: "test-mcp: N passed, N failed, N
# skipped".

set -u
. "$(dirname "$0")/../lib/aimtest.sh"
# nginx reads an exported NGINX as sockets inherited from a binary upgrade
# (and then does not daemonize): keep the variable to this script.
export -n NGINX
at_suite test-mcp

M=$AT_ROOT/tests/mcp
TXPY=$AT_ROOT/tests/ssf/transmitter.py

at_need_cmds node npm curl jq python3 sha256sum
at_need_files "$AIMCTL" "$NGX_MODULE" "$NGINX"

# ------------------------------------------------------------ the SDK

# node_modules holds the lock's packages when npm's own record of what it
# installed (node_modules/.package-lock.json) names the same versions
installed() {
    local want have
    want=$(jq -cS '.packages | del(."") | map_values(.version)' "$M/package-lock.json")
    have=$(jq -cS '.packages | map_values(.version)' "$M/node_modules/.package-lock.json" 2> /dev/null)
    [ -n "$have" ] && [ "$want" = "$have" ]
}
if ! installed; then
    if ! (cd "$M" && npm ci --no-audit --no-fund --loglevel=error) > "${TMPDIR:-/tmp}/aim-mcp-npm.log" 2>&1 \
        || ! installed
    then
        bail "npm ci in tests/mcp (the MCP SDK from package-lock.json; the network is needed once)" \
            "$(tail -5 "${TMPDIR:-/tmp}/aim-mcp-npm.log")"
    fi
fi
ok "the MCP SDK $(jq -r '.packages["node_modules/@modelcontextprotocol/sdk"].version' \
    "$M/package-lock.json") from the lock file (node $(node -v))"

at_rundir mcp || bail "a run directory"
W=$AT_RUN
cd "$W" || exit 1
umask 022

at_port NPORT AIM_MCP_PORT || bail "a free port for nginx"
at_port UPORT AIM_MCP_UPSTREAM_PORT || bail "a free port for the MCP server"
at_port NPORT2 AIM_MCP_PORT2 || bail "a second free port for nginx"
at_port NPORT3 AIM_MCP_PORT3 || bail "a third free port for nginx"

BASE=http://127.0.0.1:$NPORT
BASE2=http://127.0.0.1:$NPORT2
BASE3=http://127.0.0.1:$NPORT3
# HTTP/2 where this nginx has it (Debian's does; make test runs that one)
H2=
"$NGINX" -V 2>&1 | grep -q -- --with-http_v2_module && H2=http2
ISS=$BASE/idp
AUD=$BASE/mcp
AUD_ADMIN=$BASE/mcp/admin
NOW=$(date +%s)

# ------------------------------------------------------------ keys, tokens

mint_key "$W/issuer.pem" --kid k1 || bail "an issuer key"
mint_jwks "$W/jwks.json" "$W/issuer.pem" || bail "the JWKS"
ISSUER_KEY=$W/issuer.pem
ISSUE_ARGS=(--quiet --ttl 600)
: > "$W/revoked"
chmod 644 "$W/revoked"
mkdir -p "$W/files"
head -c 400000 /dev/zero | tr '\0' x > "$W/files/big.txt"
chmod -R go+rX "$W/files"

tok() { # AGENT SCOPES [AUDIENCE] [issue args...]
    local agent=$1 scopes=$2 aud=${3:-$AUD}
    shift 3 2> /dev/null || shift $#
    "$AIMCTL" issue --key "$ISSUER_KEY" --iss "$ISS" --aud "$aud" --quiet --ttl 600 \
        --sub "spiffe://test/agent/$agent" --scope "$scopes" "$@"
}
READER=$(tok reader "kb:read")
WRITER=$(tok writer "kb:read kb:write")
ADMIN=$(tok admin "kb:admin" "$AUD_ADMIN")
NOSCOPE=$(tok nobody "other:thing")
EXPIRED=$("$AIMCTL" issue --key "$ISSUER_KEY" --iss "$ISS" --aud "$AUD" --quiet \
    --sub spiffe://test/agent/old --scope kb:read --iat $((NOW - 600)) --exp $((NOW - 60)))

# the shared-signals transmitter (the identity provider's SETs)
python3 "$TXPY" jwks --key "$W/tx.pem" --out "$W/tx.jwks" > /dev/null || bail "a transmitter key"
TXISS=https://idp.test/ssf
TXAUD=urn:aim:test-host

# ------------------------------------------------------------ nginx

NGX_LOG_LEVEL=info ngx_conf "$W" "worker_processes 2;" <<EOF
    log_format mcp '\$request_method \$uri \$status reason=\$aim_reason'
                   ' method=\$aim_mcp_method tool=\$aim_mcp_tool agent=\$aim_agent';
    access_log $W/access.log mcp;

    # the identity provider, and what every protected location shares
    aim_keys     $W/jwks.json;
    aim_issuer   $ISS;
    aim_revoked  $W/revoked;
    aim_state    $W/state;
    aim_leeway   0s;

    upstream mcp_server {
        server 127.0.0.1:$UPORT;
        keepalive 8;
    }

    # least privilege per tool: the scope each message needs
    map \$aim_mcp_tool \$mcp_tool_scope {
        search       kb:read;
        count        kb:read;
        delete_doc   kb:write;
        default      kb:admin;        # rotate_keys, and any tool not listed
    }

    map \$aim_mcp_method \$mcp_scope {
        tools/call       \$mcp_tool_scope;
        resources/read   kb:read;
        prompts/get      kb:read;
        default          kb:read;     # initialize, tools/list, ping, the GET stream
    }

    # browsers: the origins that may call
    map \$http_origin \$cors_origin {
        http://app.example   \$http_origin;
        default              "";
    }

    server {
        listen 127.0.0.1:$NPORT;

        aim_audience          $AUD;
        aim_resource_metadata auto;

        location /mcp {
            aim on;
            aim_mcp on;
            aim_mcp_max_body 64k;
            aim_scope \$mcp_scope;
            client_body_buffer_size 1k;   # bigger bodies go to a file (tested)

            aim_bypass_preflight on;
            if (\$request_method = OPTIONS) {
                add_header Access-Control-Allow-Origin \$cors_origin;
                add_header Access-Control-Allow-Methods "GET, POST, DELETE";
                add_header Access-Control-Allow-Headers "Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID";
                add_header Access-Control-Max-Age 600;
                add_header Vary Origin;
                return 204;
            }
            add_header Access-Control-Allow-Origin \$cors_origin always;
            add_header Access-Control-Expose-Headers "Mcp-Session-Id, WWW-Authenticate" always;
            add_header Vary Origin always;

            proxy_pass http://mcp_server;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 1h;
            proxy_set_header Authorization "";
            proxy_set_header X-Agent \$aim_agent;
        }

        # the same resource, where any one of two scopes will do
        location /mcp/any {
            aim on;
            aim_mcp on;
            aim_scope_any kb:read kb:write;
            proxy_pass http://mcp_server;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }

        # a second privilege level: its own resource, audience and metadata
        location /mcp/admin {
            aim on;
            aim_mcp on;
            aim_audience $AUD_ADMIN;
            aim_scope kb:admin;
            proxy_pass http://mcp_server;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }

        location = /.well-known/oauth-protected-resource/mcp {
            aim_resource_metadata_document kb:read kb:write kb:admin;
            add_header Access-Control-Allow-Origin * always;
        }

        location = /.well-known/oauth-protected-resource/mcp/admin {
            aim_audience $AUD_ADMIN;
            aim_resource_metadata_document kb:admin;
            add_header Access-Control-Allow-Origin * always;
            if (\$http_origin) {
                add_header Access-Control-Allow-Origin \$http_origin always;
            }
        }

        # what a decision lets through, answered here: every request that
        # carries a body carries MCP messages
        location /mcp/decided {
            aim on;
            aim_mcp on;
            aim_scope \$mcp_scope;
            aim_bypass_preflight on;
            return 200 "decided\n";
        }
        # ... refusals as nginx's pages, which error_page redirects
        location /mcp/html {
            aim on;
            aim_mcp on;
            aim_scope \$mcp_scope;
            aim_errors html;
            error_page 400 413 = @mcp_again;
            return 200 "decided\n";
        }
        location @mcp_again {
            aim on;
            aim_mcp on;
            aim_scope \$mcp_scope;
            aim_errors html;
            return 200 "again\n";
        }

        # a WebSocket (any upgraded connection) through the proxy
        location /ws {
            aim on;
            aim_scope kb:read;
            proxy_pass http://mcp_server;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection upgrade;
            proxy_read_timeout 1h;
            proxy_set_header X-Agent \$aim_agent;
        }

        # JSON errors outside MCP, and the default (nginx's pages)
        location /api/ {
            aim on;
            aim_errors json;
            aim_scope kb:read;
            return 200 "api\n";
        }
        location /html/ {
            aim on;
            aim_scope kb:read;
            return 200 "html\n";
        }

        # the authorization server's metadata (RFC 8414), which the SDK
        # fetches after the resource's: a stand-in for the IdP
        location = /.well-known/oauth-authorization-server/idp {
            default_type application/json;
            return 200 '{"issuer":"$ISS","authorization_endpoint":"$ISS/authorize","token_endpoint":"$ISS/token","response_types_supported":["code"],"grant_types_supported":["authorization_code"],"code_challenge_methods_supported":["S256"]}';
        }
    }

    # HTTP/2 (h2c), and a server that reads \$aim_mcp_* before the body
    server {
        listen 127.0.0.1:$NPORT2 $H2;
        aim_audience $AUD;
        set \$early \$aim_mcp_tool;

        location /mcp {
            aim on;
            aim_mcp on;
            aim_scope \$mcp_scope;
            return 200 "decided\n";
        }
        location /slow/ {
            aim on;
            aim_scope kb:read;
            alias $W/files/;
            limit_rate 40k;
        }

        # the same download, allowed by a subrequest's decision
        location /ar-slow/ {
            auth_request /_aim;
            alias $W/files/;
            limit_rate 40k;
        }
        location = /_aim {
            internal;
            aim on;
            aim_scope kb:read;
            return 204;
        }
    }

    # a server that identifies the token for itself (its own audience)
    # before the location decides it for another
    server {
        listen 127.0.0.1:$NPORT3;
        aim on;
        aim_audience $BASE/other;
        set \$who \$aim_agent;

        location /mcp {
            aim_audience $AUD;
            aim_mcp on;
            aim_scope \$mcp_scope;
            return 200 "decided\n";
        }
    }
EOF

node "$M/server.mjs" "$UPORT" > "$W/upstream.log" 2>&1 &
UPID=$!
at_defer kill "$UPID"
at_wait_port "$UPORT" 10 "$UPID" || bail "the MCP server starts" "$(cat "$W/upstream.log")"

out=$(ngx_test) || bail "nginx -t accepts the MCP configuration" "$out"
ok "nginx -t accepts the MCP configuration"
ngx_start "$NPORT" || bail "nginx starts" "$(cat "$W/start.err" "$W/error.log" 2>/dev/null | tail -5)"
ok "nginx with the module and the SDK's server are up"

# ------------------------------------------------------------ helpers

# sdk PATH TOKEN CMD ARGS...: the SDK client; OUT is its JSON line
sdk() {
    local path=$1 token=$2
    shift 2
    OUT=$(AIM_TOKEN=$token node "$M/client.mjs" "$BASE$path" "$@" 2>> "$W/client.err" | tail -1)
}
sdk_auth() {
    local path=$1 token=$2
    shift 2
    OUT=$(AIM_AUTH=1 AIM_TOKEN=$token node "$M/client.mjs" "$BASE$path" "$@" 2>> "$W/client.err" | tail -1)
}
j() { printf '%s' "$OUT" | jq -r "$1" 2> /dev/null; }

# http METHOD PATH [curl args...]: CODE, WWWA, CTYPE, HDRS, BODY
http() {
    local m=$1 p=$2
    shift 2
    if [ "$m" = HEAD ]; then set -- -I "$@"; else set -- -X "$m" "$@"; fi
    HDRS=$(curl -s -o "$W/resp" -D - "$@" "$BASE$p" | tr -d '\r')
    CODE=$(printf '%s\n' "$HDRS" | head -1 | awk '{print $2}')
    WWWA=$(printf '%s\n' "$HDRS" | sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: //p' | paste -sd'#' -)
    CTYPE=$(printf '%s\n' "$HDRS" | sed -n 's/^[Cc]ontent-[Tt]ype: //p' | head -1)
    BODY=$(cat "$W/resp")
}
header() { printf '%s\n' "$HDRS" | sed -n "s/^$1: //Ip" | head -1; }

JSONRPC=(-H "Content-Type: application/json" -H "Accept: application/json, text/event-stream")
INIT='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'

# rpc TOKEN BODY [curl args...]: a POST to /mcp
rpc() {
    local token=$1 body=$2
    shift 2
    http POST /mcp "${JSONRPC[@]}" ${token:+-H "Authorization: Bearer $token"} --data-binary "$body" "$@"
}
# session TOKEN: an initialized MCP session over curl; SID
session() {
    rpc "$1" "$INIT"
    SID=$(header mcp-session-id)
    rpc "$1" '{"jsonrpc":"2.0","method":"notifications/initialized"}' -H "Mcp-Session-Id: $SID"
}
seen() { grep -c "$1" "$W/upstream.log"; }
audits() { grep -F 'aim audit:' "$W/error.log"; }

# ------------------------------------------------------------ per-tool scopes

sdk /mcp "$READER" tools
check "reader: tools/list" "count,delete_doc,rotate_keys,search" "$(j '.tools|join(",")')"
sdk /mcp "$READER" call search '{"q":"nginx"}'
check "reader: tools/call search (kb:read)" "results for nginx" "$(j .text)"

before=$(seen '"tool":"delete_doc"')
sdk /mcp "$READER" call delete_doc '{"id":"7"}'
check "reader: tools/call delete_doc refused, 403 (kb:write)" "false 403" "$(j '"\(.ok) \(.status)"')"
has "... the SDK shows the JSON error body" "$(j .error)" '{"error":"insufficient_scope","error_description":"insufficient_scope"}'
check "... delete_doc never reached the server" "$before" "$(seen '"tool":"delete_doc"')"
check_re "... audited with the tool as the resource" \
    '"decision":"deny".*"reason":"insufficient_scope".*"resource":"/mcp tools/call delete_doc"|"resource":"/mcp tools/call delete_doc".*"reason":"insufficient_scope"' "$(audits)"

sdk /mcp "$READER" call rotate_keys '{}'
check "reader: rotate_keys refused (kb:admin)" "403" "$(j .status)"
sdk /mcp "$READER" call no_such_tool '{}'
check "reader: a tool the map does not list needs the map's default (kb:admin)" "403" "$(j .status)"
sdk /mcp "$READER" read doc://42
check "reader: resources/read doc://42" "document 42" "$(j .text)"
sdk /mcp "$READER" prompt summarize '{"id":"7"}'
check "reader: prompts/get summarize" "true 1" "$(j '"\(.ok) \(.messages)"')"
sdk /mcp "$READER" progress 4
check "reader: a tool call streaming progress notifications" "true 4" "$(j '"\(.ok) \(.progress)"')"

sdk /mcp "$WRITER" call delete_doc '{"id":"7"}'
check "writer: tools/call delete_doc (kb:write)" "deleted 7" "$(j .text)"
has "... the server saw the agent nginx named" "$(grep '"tool":"delete_doc"' "$W/upstream.log")" '"agent":"spiffe://test/agent/writer"'
sdk /mcp "$WRITER" call rotate_keys '{}'
check "writer: rotate_keys still refused" "403" "$(j .status)"

sdk /mcp "$NOSCOPE" tools
check "a token with none of the scopes: 403 from initialize" "false 403" "$(j '"\(.ok) \(.status)"')"

has "access log: the method and tool of a refused call" "$(cat "$W/access.log")" \
    "POST /mcp 403 reason=insufficient_scope method=tools/call tool=delete_doc agent=spiffe://test/agent/reader"

# ------------------------------------------------------------ batches

session "$READER"
check "a curl session (initialize)" 1 "$([ -n "$SID" ] && echo 1)"
n_search=$(seen '"tool":"search"')
n_delete=$(seen '"tool":"delete_doc"')
n_audit=$(audits | wc -l)

B_READ='[{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"search","arguments":{"q":"a"}}},{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"search","arguments":{"q":"b"}}},{"jsonrpc":"2.0","id":13,"method":"resources/read","params":{"uri":"doc://1"}}]'
B_MIXED='[{"jsonrpc":"2.0","id":21,"method":"tools/call","params":{"name":"search","arguments":{"q":"c"}}},{"jsonrpc":"2.0","id":22,"method":"tools/call","params":{"name":"delete_doc","arguments":{"id":"9"}}}]'

rpc "$READER" "$B_READ" -H "Mcp-Session-Id: $SID"
hasnt "reader: a batch of reads is not refused by nginx" "401 403 400 413" "$CODE"
check "... its messages reach the server" $((n_search + 2)) "$(seen '"tool":"search"')"
check "... two messages asking for the same were decided once (2 audit lines for 3)" \
    $((n_audit + 2)) "$(audits | wc -l)"

n_search=$(seen '"tool":"search"')
rpc "$READER" "$B_MIXED" -H "Mcp-Session-Id: $SID"
check "reader: a batch with one delete_doc is refused whole, 403" 403 "$CODE"
has "... the challenge names the scope the refused message needs" "$WWWA" 'scope="kb:write"'
check "... no message of it reached the server" "$n_search $n_delete" \
    "$(seen '"tool":"search"') $(seen '"tool":"delete_doc"')"
check_re "... the refused message is audited" '"resource":"/mcp tools/call delete_doc"' "$(audits | tail -1)"

session "$WRITER"
rpc "$WRITER" "$B_MIXED" -H "Mcp-Session-Id: $SID"
hasnt "writer: the same batch passes" "401 403 400" "$CODE"
check "... both messages reach the server" "$((n_search + 1)) $((n_delete + 1))" \
    "$(seen '"tool":"search"') $(seen '"tool":"delete_doc"')"

# ------------------------------------------------------------ bodies

session "$READER"
n_up=$(wc -l < "$W/upstream.log")
body_refused() { # NAME CODE RPC-CODE BODY [curl args...]
    local name=$1 want=$2 rpccode=$3 body=$4
    shift 4
    rpc "$READER" "$body" -H "Mcp-Session-Id: $SID" "$@"
    check "$name: $want" "$want" "$CODE"
    check "$name: a JSON-RPC error $rpccode, id null" "$rpccode null" \
        "$(printf '%s' "$BODY" | jq -r '"\(.error.code) \(.id)"' 2> /dev/null)"
    case $CTYPE in application/json*) ok "$name: application/json" ;;
        *) not_ok "$name: application/json" "Content-Type: $CTYPE" ;; esac
}
body_refused "not JSON" 400 -32700 'tools/call delete_doc'
body_refused "two JSON texts" 400 -32700 '{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"ping"}'
body_refused "a duplicate member (two tool names)" 400 -32700 \
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","name":"delete_doc"}}'
body_refused "JSON, not JSON-RPC" 400 -32600 '{"method":"tools/call","params":{"name":"search"}}'
body_refused "tools/call without a name" 400 -32600 '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}'
body_refused "an empty batch" 400 -32600 '[]'
body_refused "an empty body" 400 -32700 ''
big=$(head -c 70000 /dev/zero | tr '\0' a)
body_refused "a body over aim_mcp_max_body (Content-Length)" 413 -32600 \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"search\",\"arguments\":{\"q\":\"$big\"}}}"
body_refused "a body over aim_mcp_max_body (chunked)" 413 -32600 \
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"search\",\"arguments\":{\"q\":\"$big\"}}}" \
    -H "Transfer-Encoding: chunked"
check "no refused body reached the server" "$n_up" "$(wc -l < "$W/upstream.log")"
check_re "a refused body is audited as malformed" '"reason":"malformed".*tools/call without a params.name|tools/call without a params.name.*"reason":"malformed"' "$(audits)"
rpc "" 'not json at all'
check "without a token, a malformed body gets the challenge first: 401" 401 "$CODE"

mid=$(head -c 20000 /dev/zero | tr '\0' b)
rpc "$READER" "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"search\",\"arguments\":{\"q\":\"$mid\"}}}" \
    -H "Mcp-Session-Id: $SID"
check "a 20 KB call (spooled to a temporary file) is decided and passed on: 200" 200 "$CODE"
has "... and the server received the whole body" "$BODY" "results for $mid"
rpc "$READER" "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"delete_doc\",\"arguments\":{\"id\":\"$mid\"}}}" \
    -H "Mcp-Session-Id: $SID"
check "... a spooled delete_doc of the reader: 403" 403 "$CODE"

code=$(curl -s -o /dev/null -w '%{http_code}' ${H2:+--http2-prior-knowledge} "${JSONRPC[@]}" \
    -H "Authorization: Bearer $READER" --data-binary "$INIT" "$BASE2/mcp")
check "\$aim_mcp_* read before the body (a server-level set): refused, 500" 500 "$code"
in_file "... and the error log says why" 'aim: $aim_mcp_* was read before ngx_aim read the body' "$W/error.log"

# Whatever carries a body carries messages, and nothing goes on undecided.
DEL='{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"delete_doc","arguments":{"id":"1"}}}'
SEARCH='{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"search","arguments":{"q":"a"}}}'
for m in PUT GET DELETE PATCH; do
    http "$m" /mcp/decided "${JSONRPC[@]}" -H "Authorization: Bearer $READER" --data-binary "$DEL"
    check "a $m carrying the reader's delete_doc: decided as the message, 403" "403 insufficient_scope" \
        "$CODE $(printf '%s' "$BODY" | jq -r .error 2> /dev/null)"
done
http GET /mcp/decided "${JSONRPC[@]}" -H "Authorization: Bearer $READER" --data-binary 'not json'
check "a GET carrying what is not JSON-RPC: 400" 400 "$CODE"
http GET /mcp/decided -H "Authorization: Bearer $READER"
check "a GET without a body: decided as before, 200" "200 decided" "$CODE $BODY"
http PUT /mcp/decided "${JSONRPC[@]}" -H "Authorization: Bearer $READER" --data-binary "$SEARCH"
check "a PUT carrying the reader's search: 200" 200 "$CODE"
http OPTIONS /mcp/decided -H "Origin: http://app.example" -H "Access-Control-Request-Method: POST" \
    --data-binary "$DEL"
check "an OPTIONS with preflight headers and a body is no preflight: decided, 401" 401 "$CODE"
http OPTIONS /mcp/decided -H "Origin: http://app.example" -H "Access-Control-Request-Method: POST"
check "... without the body it is one, let through" 200 "$CODE"

# An identification for the server's own audience is not the location's.
code=$(curl -s -o /dev/null -w '%{http_code}' "${JSONRPC[@]}" -H "Authorization: Bearer $READER" \
    --data-binary "$DEL" "$BASE3/mcp")
check "a server that identified the token for its own audience: the reader's delete_doc, 403" 403 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' "${JSONRPC[@]}" -H "Authorization: Bearer $READER" \
    --data-binary "$SEARCH" "$BASE3/mcp")
check "... and its search, 200" 200 "$code"

# A body nginx refused to finish reading (a chunk over client_max_body_size,
# a broken chunk) answered in JSON: the connection ends there, the rest of
# the body is never read as another request.
desync() { # FIRST-CHUNK [PATH] -> "RESPONSES CONNECTION-HEADER"
    python3 - "$NPORT" "$READER" "$1" "${2:-/mcp/decided}" <<'PY'
import socket, sys
port, token, chunk = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
path = sys.argv[4].encode()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST " + path + b" HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + token.encode()
          + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
          + chunk + b"\r\nGET /mcp/decided HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer "
          + token.encode() + b"\r\n\r\n")
s.settimeout(3)
data = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
except socket.timeout:
    pass
conn = [l.split(b":", 1)[1].strip() for l in data.split(b"\r\n") if l.lower().startswith(b"connection:")]
print(data.count(b"HTTP/1.1 "), b",".join(conn).decode())
PY
}
check "a chunk over client_max_body_size: one answer, and the connection closed" "1 close" "$(desync 7FFFFFFF)"
check "a broken chunk: one answer, and the connection closed" "1 close" "$(desync zz)"
check "... answered as nginx's page through error_page to an MCP location: answered, not left hanging" \
    "1 close" "$(desync 7FFFFFFF /mcp/html)"

# ------------------------------------------------------------ challenges

RM="resource_metadata=\"$BASE/.well-known/oauth-protected-resource/mcp\""
rpc "" "$INIT"
check "no token: 401" 401 "$CODE"
check "no token: a challenge with scope= and resource_metadata" \
    "Bearer realm=\"$AUD\", scope=\"kb:read\", $RM" "$WWWA"
check "no token: a JSON body" '{"error":"invalid_token","error_description":"no_token"}' "$BODY"
case $CTYPE in application/json*) ok "no token: application/json" ;; *) not_ok "no token: application/json" "$CTYPE" ;; esac

rpc "$ADMIN" "$INIT"
check "a token for the other privilege level (wrong audience): 401" 401 "$CODE"
check "... invalid_token, bad_audience, scope=, resource_metadata" \
    "Bearer realm=\"$AUD\", error=\"invalid_token\", error_description=\"bad_audience\", scope=\"kb:read\", $RM" "$WWWA"
check "... JSON body" '{"error":"invalid_token","error_description":"bad_audience"}' "$BODY"
rpc "$EXPIRED" "$INIT"
check "an expired token: 401 expired" "401 expired" "$CODE $(printf '%s' "$BODY" | jq -r .error_description)"
session "$READER"
rpc "$READER" '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"rotate_keys","arguments":{}}}' -H "Mcp-Session-Id: $SID"
check "too little scope: 403 insufficient_scope with the tool's scope" \
    "403#Bearer realm=\"$AUD\", error=\"insufficient_scope\", error_description=\"insufficient_scope\", scope=\"kb:admin\", $RM" \
    "$CODE#$WWWA"
check "... JSON body" '{"error":"insufficient_scope","error_description":"insufficient_scope"}' "$BODY"

sdk_auth /mcp "" tools
check "the SDK, no token: asks the authorization server for kb:read, for $AUD" \
    "kb:read $AUD" "$(j '"\(.authorize.scope) \(.authorize.resource)"')"
sdk_auth /mcp "$READER" call delete_doc '{"id":"1"}'
check "the SDK, a reader calling delete_doc: steps up to kb:write" "kb:write $AUD" \
    "$(j '"\(.authorize.scope) \(.authorize.resource)"')"
sdk_auth /mcp/any "" tools
check "aim_scope_any kb:read kb:write: the SDK asks for the first alternative" "kb:read $AUD" \
    "$(j '"\(.authorize.scope) \(.authorize.resource)"')"
http POST /mcp/any "${JSONRPC[@]}" --data-binary "$INIT"
has "... the challenge says scope=\"kb:read\"" "$WWWA" 'scope="kb:read",'

RMA="resource_metadata=\"$BASE/.well-known/oauth-protected-resource/mcp/admin\""
http POST /mcp/admin "${JSONRPC[@]}" -H "Authorization: Bearer $WRITER" --data-binary "$INIT"
check "/mcp/admin with a token for /mcp: 401 bad_audience, pointing at its own metadata" \
    "401#Bearer realm=\"$AUD_ADMIN\", error=\"invalid_token\", error_description=\"bad_audience\", scope=\"kb:admin\", $RMA" \
    "$CODE#$WWWA"
sdk_auth /mcp/admin "$WRITER" tools
check "the SDK at /mcp/admin: asks for kb:admin, for $AUD_ADMIN" "kb:admin $AUD_ADMIN" \
    "$(j '"\(.authorize.scope) \(.authorize.resource)"')"
sdk /mcp/admin "$ADMIN" call rotate_keys '{}'
check "the admin token at /mcp/admin: rotate_keys" "rotated" "$(j .text)"
sdk /mcp "$ADMIN" call rotate_keys '{}'
check "... and refused at /mcp (another audience)" "401" "$(j .status)"

http GET /api/x
check "aim_errors json outside MCP: 401 with a JSON body" \
    '401 {"error":"invalid_token","error_description":"no_token"}' "$CODE $BODY"
check "... and no scope= by default there" "Bearer realm=\"$AUD\", $RM" "$WWWA"
http GET /html/x
check "the default elsewhere: nginx's page" "401 text/html" "$CODE ${CTYPE%%;*}"
http GET /api/x -H "Authorization: Bearer $NOSCOPE"
check "aim_errors json: 403" '403 {"error":"insufficient_scope","error_description":"insufficient_scope"}' "$CODE $BODY"

# ------------------------------------------------------------ metadata

http GET /.well-known/oauth-protected-resource/mcp
check "the metadata document: 200 application/json" "200 application/json" "$CODE $CTYPE"
check "... resource, authorization_servers, scopes_supported, bearer methods" \
    "$AUD|$ISS|kb:read kb:write kb:admin|header" \
    "$(printf '%s' "$BODY" | jq -r '"\(.resource)|\(.authorization_servers|join(" "))|\(.scopes_supported|join(" "))|\(.bearer_methods_supported|join(" "))"')"
http GET /.well-known/oauth-protected-resource/mcp/admin
check "the second level's document: its own resource and scopes" "$AUD_ADMIN|kb:admin" \
    "$(printf '%s' "$BODY" | jq -r '"\(.resource)|\(.scopes_supported|join(" "))"')"
http GET /.well-known/oauth-protected-resource/mcp/admin -H "Origin: http://app.example"
check "the document served from the location's \"if\" block" "200|$AUD_ADMIN|http://app.example" \
    "$CODE|$(printf '%s' "$BODY" | jq -r .resource 2> /dev/null)|$(header access-control-allow-origin)"
http POST /.well-known/oauth-protected-resource/mcp
check "the document: POST is 405" 405 "$CODE"
http HEAD /.well-known/oauth-protected-resource/mcp
check "the document: HEAD is 200" 200 "$CODE"

conftest() { # NAME EXPECTED-MESSAGE SERVER-BODY
    local d=$W/conf-$((++NCONF))
    mkdir -p "$d"
    sed -n '1,/^http {/p' "$W/nginx.conf" | sed "s#error_log [^;]*;#error_log $d/error.log;#;s#pid [^;]*;#pid $d/nginx.pid;#" > "$d/nginx.conf"
    cat >> "$d/nginx.conf" <<CONF
    client_body_temp_path $d/body; proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
    access_log off; aim_keys $W/jwks.json; aim_issuer $ISS;
    server { listen 127.0.0.1:$NPORT; $3 }
}
CONF
    out=$("$NGINX" -t -p "$d" -e "$d/error.log" -c "$d/nginx.conf" 2>&1)
    case $out in *"$2"*) ok "nginx -t: $1" ;; *) not_ok "nginx -t: $1" "$out" ;; esac
}
NCONF=0
conftest "a document at another path than RFC 9728's names it" \
    "the metadata of $AUD is at \"/.well-known/oauth-protected-resource/mcp\"" \
    "aim_audience $AUD; location = /.well-known/oauth-protected-resource { aim_resource_metadata_document; }"
conftest "a document that would need a token" "must be readable without a token" \
    "aim_audience $AUD; aim on; location = /.well-known/oauth-protected-resource/mcp { aim_resource_metadata_document; }"
conftest "a document for an audience that is not a URL" "is not an https:// or http:// URL" \
    "aim_audience kb-api; location = /m { aim_resource_metadata_document; }"
conftest "resource_metadata auto for an audience that is not a URL" "is not an https:// or http:// URL" \
    "aim_audience kb-api; aim_resource_metadata auto; location / { aim on; }"
conftest "an invalid scope in the document" "invalid scope" \
    "aim_audience $AUD; location = /.well-known/oauth-protected-resource/mcp { aim_resource_metadata_document 'a b'; }"
conftest "aim_mcp_max_body beyond the core's bound" "must be between 1 and" \
    "aim_audience $AUD; location / { aim on; aim_mcp on; aim_mcp_max_body 100m; }"
conftest "the valid configuration passes" "test is successful" \
    "aim_audience $AUD; location = /.well-known/oauth-protected-resource/mcp { aim_resource_metadata_document kb:read; }"

# ------------------------------------------------------------ browsers

n_up=$(wc -l < "$W/upstream.log")
http OPTIONS /mcp -H "Origin: http://app.example" -H "Access-Control-Request-Method: POST" \
    -H "Access-Control-Request-Headers: authorization, content-type, mcp-session-id"
check "a CORS preflight: 204 without a token" 204 "$CODE"
check "... Access-Control-Allow-Origin" "http://app.example" "$(header access-control-allow-origin)"
has "... POST allowed" "$(header access-control-allow-methods)" "POST"
has "... Authorization allowed" "$(header access-control-allow-headers)" "Authorization"
has "... Mcp-Session-Id allowed" "$(header access-control-allow-headers)" "Mcp-Session-Id"
check "... answered by nginx, not the server" "$n_up" "$(wc -l < "$W/upstream.log")"
http OPTIONS /mcp -H "Origin: http://app.example" -H "Access-Control-Request-Method: POST" \
    -H "Authorization: Bearer not-a-token"
check "an OPTIONS with credentials is no preflight: decided (401)" 401 "$CODE"
http POST /mcp "${JSONRPC[@]}" -H "Origin: http://app.example" --data-binary "$INIT"
check "a browser's POST without a token: 401 with CORS headers" "401 http://app.example" \
    "$CODE $(header access-control-allow-origin)"
has "... WWW-Authenticate exposed to the page" "$(header access-control-expose-headers)" "WWW-Authenticate"
http POST /mcp "${JSONRPC[@]}" -H "Origin: http://app.example" -H "Authorization: Bearer $READER" \
    --data-binary "$INIT"
check "a browser's initialize: 200 with CORS headers and a session" "200 http://app.example 1" \
    "$CODE $(header access-control-allow-origin) $([ -n "$(header mcp-session-id)" ] && echo 1)"
has "... Mcp-Session-Id exposed to the page" "$(header access-control-expose-headers)" "Mcp-Session-Id"
http POST /mcp "${JSONRPC[@]}" -H "Origin: http://evil.example" --data-binary "$INIT"
check "another origin: no Access-Control-Allow-Origin" "401 " "$CODE $(header access-control-allow-origin)"

# ------------------------------------------------------------ streams

# Each stream of its own agent, all at once: revoked, expiring, a shared
# signal's session revocation, trust falling, an upgraded connection
# revoked, and one that must go on.  The clients run until told to stop.
ms() { date +%s%3N; }
S_REV=$(tok stream-rev kb:read)
exp=$(($(date +%s) + 8))
S_EXP=$("$AIMCTL" issue --key "$ISSUER_KEY" --iss "$ISS" --aud "$AUD" --quiet \
    --sub spiffe://test/agent/stream-exp --scope kb:read --iat $((exp - 60)) --exp "$exp")
S_EXP_AT=$((exp * 1000))
S_SSF=$(tok stream-ssf kb:read)
S_RISK=$(tok stream-risk kb:read)
S_WS=$(tok stream-ws kb:read)
S_H2=$(tok stream-h2 kb:read)
S_AR=$(tok stream-ar kb:read)
S_OK=$(tok stream-ok kb:read)

SPIDS=()
for s in REV EXP SSF RISK OK; do
    v=S_$s
    AIM_TOKEN=${!v} node "$M/client.mjs" "$BASE/mcp" stream 60 > "$W/stream-$s.json" 2>> "$W/client.err" &
    SPIDS+=($!)
done
AIM_TOKEN=$S_WS node "$M/upgrade.mjs" "$BASE/ws" 60 > "$W/stream-WS.json" 2>> "$W/client.err" &
SPIDS+=($!)
# a slow download over HTTP/2 (10 s at 40 KB/s)
( curl -s ${H2:+--http2-prior-knowledge} -o "$W/h2.out" -H "Authorization: Bearer $S_H2" "$BASE2/slow/big.txt"
  echo "$? $(date +%s%3N)" > "$W/h2.end" ) &
H2PID=$!
# the same, allowed by an auth_request subrequest's decision
( curl -s ${H2:+--http2-prior-knowledge} -o "$W/ar.out" -H "Authorization: Bearer $S_AR" "$BASE2/ar-slow/big.txt"
  echo "$? $(date +%s%3N)" > "$W/ar.end" ) &
ARPID=$!
for _ in $(seq 300); do      # every stream open at the server
    [ "$(grep -cE '"seen":"(GET|UPGRADE)".*spiffe://test/agent/stream-' "$W/upstream.log")" -ge 6 ] && break
    sleep 0.1
done
check "six streams open" 6 "$(grep -cE '"seen":"(GET|UPGRADE)".*spiffe://test/agent/stream-' "$W/upstream.log")"
sleep 1
# a reload now: the streams stay with the old workers, which shut down
# gracefully and must keep deciding them
kill -HUP "$(ngx_pid)"
sleep 0.5

"$AIMCTL" revoke --file "$W/revoked" agent spiffe://test/agent/stream-rev > /dev/null
REV_AT=$(ms)
"$AIMCTL" revoke --file "$W/revoked" agent spiffe://test/agent/stream-ws > /dev/null
WS_AT=$(ms)
"$AIMCTL" revoke --file "$W/revoked" agent spiffe://test/agent/stream-h2 > /dev/null
H2_AT=$(ms)
"$AIMCTL" revoke --file "$W/revoked" agent spiffe://test/agent/stream-ar > /dev/null
AR_AT=$(ms)
set_() { python3 "$TXPY" sign --key "$W/tx.pem" --iss "$TXISS" --aud "$TXAUD" "$@"; }
"$AIMCTL" ssf apply --keys "$W/tx.jwks" --issuer "$TXISS" --audience "$TXAUD" --state "$W/state" \
    "$(set_ session-revoked --agent spiffe://test/agent/stream-ssf)" > "$W/ssf1.json"
SSF_AT=$(ms)
"$AIMCTL" ssf apply --keys "$W/tx.jwks" --issuer "$TXISS" --audience "$TXAUD" --state "$W/state" \
    "$(set_ risk-level-change --agent spiffe://test/agent/stream-risk \
        --body '{"principal":"USER","current_level":"HIGH"}')" > "$W/ssf2.json"
RISK_AT=$(ms)
check "the shared signals were applied" "applied applied" \
    "$(jq -r .outcome "$W/ssf1.json") $(jq -r .outcome "$W/ssf2.json")"

# 2.5 s after the last event (the expiry at the latest), stop the clients
last_event=$(( S_EXP_AT > RISK_AT ? S_EXP_AT : RISK_AT ))
while [ "$(ms)" -lt $((last_event + 2500)) ]; do sleep 0.1; done
END_AT=$(ms)
kill -TERM "${SPIDS[@]}" 2> /dev/null
wait "${SPIDS[@]}" "$H2PID" "$ARPID"

within() { # NAME FILE SINCE-MS: delivering before SINCE, nothing 2 s after
    local f=$W/stream-$2.json n first last
    n=$(jq -r '.messages // .chunks' "$f" 2> /dev/null)
    first=$(jq -r '.first_at' "$f" 2> /dev/null)
    last=$(jq -r '.last_at' "$f" 2> /dev/null)
    if [ -z "$n" ] || [ "$n" = null ] || [ "$n" -lt 2 ] || [ "$first" -ge "$3" ]; then
        not_ok "$1: the stream delivered before" "$(cat "$f")"
    elif [ $((last - $3)) -le 2000 ]; then
        ok "$1: the stream ended, its last message $((last - $3)) ms after ($n in all)"
    else
        not_ok "$1: the stream ended within 2 s" "last message $((last - $3)) ms after; $(cat "$f")"
    fi
}
within "a revocation" REV "$REV_AT"
within "the token's expiry" EXP "$S_EXP_AT"
within "a shared signal's session revocation" SSF "$SSF_AT"
within "trust falling below the threshold (risk-level-change HIGH)" RISK "$RISK_AT"
within "an upgraded connection (WebSocket), revoked" WS "$WS_AT"
check "... the upgrade was accepted first (101)" 101 "$(jq -r .status "$W/stream-WS.json")"
proto=${H2:+HTTP/2}
cut_short "a ${proto:-HTTP/1.1} download, revoked" "$W/h2" "$H2_AT" 2000
cut_short "a download an auth_request subrequest allowed, revoked" "$W/ar" "$AR_AT" 2000
[ -n "$H2" ] || skip "HTTP/2: $NGINX was built without http_v2"

n=$(jq -r .messages "$W/stream-OK.json")
last=$(jq -r .last_at "$W/stream-OK.json")
if [ "${n:-0}" -ge 8 ] && [ $((END_AT - last)) -lt 1000 ]; then
    ok "another agent's stream goes on to the end ($n messages)"
else
    not_ok "another agent's stream goes on to the end" "$(cat "$W/stream-OK.json"), stopped at $END_AT"
fi
in_file "the error log says why a response was ended" \
    'aim: ending the response to "/mcp" for agent "spiffe://test/agent/stream-rev": revoked' "$W/error.log"
in_file "... the expiry" 'for agent "spiffe://test/agent/stream-exp": expired' "$W/error.log"
in_file "... trust" 'for agent "spiffe://test/agent/stream-risk": low_trust' "$W/error.log"
check_re "a re-check's refusal is audited" '"decision":"deny".*"agent":"spiffe://test/agent/stream-rev"|"agent":"spiffe://test/agent/stream-rev".*"decision":"deny"' "$(audits)"
in_file "the access log names the reason a stream ended" "GET /mcp 200 reason=revoked" "$W/access.log"
n_ok=$(audits | grep -c 'spiffe://test/agent/stream-ok' || true)
check "re-checks of a stream that goes on write no audit line (only its decisions: initialize, initialized, GET, setLevel)" \
    4 "$n_ok"

# ------------------------------------------------------------ hygiene

not_in_file "no token in the error log" "${READER##*.}" "$W/error.log"
not_in_file "no token in the access log" "${READER##*.}" "$W/access.log"
check_not_re "no alert, crash or worker exit in the error log" '\[(alert|crit|emerg)\]|exited on signal' "$(cat "$W/error.log")"

finish
