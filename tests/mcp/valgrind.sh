#!/bin/bash
# tests/mcp/valgrind.sh -- the module's MCP paths under valgrind (memcheck):
# nginx in one process (master_process off) on a free port, requests
# through every path ngx_http_aim_mcp.c, ngx_http_aim_json.c and
# ngx_http_aim_recheck.c add -- JSON-RPC bodies decided per message
# (single, batches, refused batches; bodies of other methods), refused
# bodies (malformed, too big, empty; chunks nginx would not read, answered
# in JSON and through error_page), a body nginx spooled to a temporary
# file, JSON error answers, a server that identified the token for its
# own audience first, the RFC 9728 document (and from an "if" block), and
# responses still open ended by a revocation and by an expiry (one
# allowed by an auth_request subrequest; and one kept, with aim_recheck
# off) -- then a graceful exit.  Any invalid access, use of
# uninitialised memory or bad free fails, and so does a leak that grows
# with the requests (a record of 50 blocks or more).
#
#   tests/mcp/valgrind.sh        (make test-mcp-valgrind; KEEP=1 keeps files)
#
# Last line: "test-mcp-valgrind: N passed, N failed, N skipped".

set -u
. "$(dirname "$0")/../lib/aimtest.sh"
# nginx reads an exported NGINX as sockets inherited from a binary upgrade
# (and then does not daemonize): keep the variable to this script.
export -n NGINX
at_suite test-mcp-valgrind

at_need_cmds valgrind curl
at_need_files "$AIMCTL" "$NGX_MODULE" "$NGINX"
at_rundir mcp-valgrind || bail "a run directory"
W=$AT_RUN
umask 022
at_port PORT AIM_MCP_VALGRIND_PORT || bail "a free port"
at_port PORT2 AIM_MCP_VALGRIND_PORT2 || bail "a second free port"
U=http://127.0.0.1:$PORT
AUD=$U/mcp
ISS=https://i.test

mint_key "$W/k1.pem" --kid k1 && mint_jwks "$W/jwks.json" "$W/k1.pem" || bail "keys"
ISSUER_KEY=$W/k1.pem ISS=$ISS AUD=$AUD
ISSUE_ARGS=(--quiet --ttl 3600)
: > "$W/revoked"
chmod 644 "$W/revoked"
head -c 200000 /dev/zero | tr '\0' x > "$W/big.txt"
chmod 644 "$W/big.txt"

ngx_conf "$W" "master_process off;" "daemon off;" <<EOF
    aim_keys     $W/jwks.json;
    aim_issuer   $ISS;
    aim_revoked  $W/revoked;
    aim_leeway   0s;
    aim_cache    4;

    map \$aim_mcp_tool \$tool_scope {
        search   kb:read;
        default  kb:admin;
    }
    map \$aim_mcp_method \$mcp_scope {
        tools/call  \$tool_scope;
        default     kb:read;
    }

    server {
        listen 127.0.0.1:$PORT;
        aim_audience          $AUD;
        aim_resource_metadata auto;
        add_header X-Tool "\$aim_mcp_method \$aim_mcp_tool" always;

        location /mcp {
            aim on;
            aim_mcp on;
            aim_mcp_max_body 16k;
            aim_scope \$mcp_scope;
            client_body_buffer_size 1k;
            return 200 "decided\n";
        }
        location /mcp-html {
            aim on;
            aim_mcp on;
            aim_scope \$mcp_scope;
            aim_errors html;
            error_page 400 413 = @again;
            return 200 "decided\n";
        }
        location @again {
            aim on;
            aim_mcp on;
            aim_scope \$mcp_scope;
            return 200 "again\n";
        }
        location = /.well-known/oauth-protected-resource/mcp {
            aim_resource_metadata_document kb:read kb:admin;
            if (\$http_origin) {
                add_header X-Origin \$http_origin;
            }
        }
        location /ar-slow/ {
            auth_request /_aim;
            alias $W/;
            limit_rate 20k;
        }
        location = /_aim {
            internal;
            aim on;
            aim_scope kb:read;
            return 204;
        }
        location /slow/ {
            aim on;
            aim_scope kb:read;
            alias $W/;
            limit_rate 20k;
        }
        location /kept/ {
            aim on;
            aim_scope kb:read;
            aim_recheck off;
            alias $W/;
            limit_rate 20k;
        }
    }

    server {
        listen 127.0.0.1:$PORT2;
        aim on;
        aim_audience https://other.test;
        set \$who \$aim_agent;

        location /mcp {
            aim_audience $AUD;
            aim_mcp on;
            aim_scope \$mcp_scope;
            return 200 "decided\n";
        }
    }
EOF

ngx_start "$PORT" valgrind --leak-check=full --num-callers=30 --child-silent-after-fork=yes \
    --log-file="$W/valgrind.log" \
    || bail "nginx starts under valgrind" "$(cat "$W/start.err" "$W/error.log" 2> /dev/null | tail -5)"

R=$(issue --sub spiffe://t/reader --scope kb:read)
RA=$(issue --sub spiffe://t/admin --scope "kb:read kb:admin")
H=(-H "Content-Type: application/json")

# posts N BODY [curl args]: N POSTs of BODY (to URL, $U/mcp by default);
# "CODE:COUNT " per status
posts() {
    local n=$1 body=$2 i
    shift 2
    for ((i = 0; i < n; i++)); do
        curl -s -o /dev/null -w '%{http_code}\n' "${H[@]}" "$@" --data-binary "$body" "${URL:-$U/mcp}"
    done | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}'
}
CALL='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{"q":"x"}}}'
ADMIN='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"rotate_keys"}}'
BATCH="[$CALL,{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"},$ADMIN]"
MID=$(head -c 6000 /dev/zero | tr '\0' m)

check "tools/call allowed, 20" "200:20 " "$(posts 20 "$CALL" -H "Authorization: Bearer $R")"
check "tools/call refused for its tool (JSON 403), 20" "403:20 " \
    "$(posts 20 "$ADMIN" -H "Authorization: Bearer $R")"
check "a batch refused at its third message, 20" "403:20 " \
    "$(posts 20 "$BATCH" -H "Authorization: Bearer $R")"
check "the same batch allowed (variables reset per message), 20" "200:20 " \
    "$(posts 20 "$BATCH" -H "Authorization: Bearer $RA")"
check "malformed bodies (JSON-RPC errors), 20" "400:20 " \
    "$(posts 20 '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}' \
        -H "Authorization: Bearer $R")"
check "not JSON-RPC, 10" "400:10 " "$(posts 10 '[1,2]' -H "Authorization: Bearer $R")"
check "empty bodies, 10" "400:10 " "$(posts 10 '' -H "Authorization: Bearer $R")"
check "bodies over aim_mcp_max_body, 10" "413:10 " \
    "$(posts 10 "{\"q\":\"$(head -c 20000 /dev/zero | tr '\0' q)\"}" -H "Authorization: Bearer $R")"
check "chunked bodies over aim_mcp_max_body, 10" "413:10 " \
    "$(posts 10 "{\"q\":\"$(head -c 20000 /dev/zero | tr '\0' q)\"}" -H "Authorization: Bearer $R" \
        -H "Transfer-Encoding: chunked")"
check "6 KB calls spooled to a temporary file, 10" "200:10 " \
    "$(posts 10 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"search\",\"arguments\":{\"q\":\"$MID\"}}}" \
        -H "Authorization: Bearer $R")"
check "no token (JSON 401, body never read), 20" "401:20 " "$(posts 20 "$CALL")"
check "a token for another audience, 10" "401:10 " \
    "$(posts 10 "$CALL" -H "Authorization: Bearer $("$AIMCTL" issue --key "$ISSUER_KEY" --iss "$ISS" \
        --aud https://other.test --sub spiffe://t/x --scope kb:read --quiet)")"
check "a PUT carrying a refused call, 10" "403:10 " "$(posts 10 "$ADMIN" -X PUT -H "Authorization: Bearer $R")"
check "a GET carrying an allowed call, 10" "200:10 " "$(posts 10 "$CALL" -X GET -H "Authorization: Bearer $R")"
check "an identification for the server's audience first: refused call, 10" "403:10 " \
    "$(URL=http://127.0.0.1:$PORT2/mcp posts 10 "$ADMIN" -H "Authorization: Bearer $R")"
check "... allowed call, 10" "200:10 " \
    "$(URL=http://127.0.0.1:$PORT2/mcp posts 10 "$CALL" -H "Authorization: Bearer $R")"
check "... no token (the body never read), 10" "401:10 " \
    "$(URL=http://127.0.0.1:$PORT2/mcp posts 10 "$CALL")"
# chunk N PATH: a chunk nginx refuses to read, then another request on the
# same connection; the first status line, and how many answers came
chunk() {
    ( exec 3<> "/dev/tcp/127.0.0.1/$PORT"
      printf 'POST %s HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n%s\r\nGET %s HTTP/1.1\r\nHost: a\r\n\r\n' \
          "$2" "$R" "$1" "$2" >&3
      timeout 20 cat <&3 ) 2> /dev/null | grep -o 'HTTP/1\.1 [0-9][0-9][0-9]' | wc -l
}
n=0
for _ in $(seq 5); do [ "$(chunk 7FFFFFFF /mcp)" = 1 ] && n=$((n + 1)); done
check "a chunk over client_max_body_size, JSON 413 then closed, 5" 5 "$n"
n=0
for _ in $(seq 5); do [ "$(chunk zz /mcp-html)" = 1 ] && n=$((n + 1)); done
check "a broken chunk through error_page to an MCP location, answered, 5" 5 "$n"
n=0
for i in $(seq 12); do
    [ "$(posts 1 "$CALL" -H "Authorization: Bearer $(issue --sub "spiffe://t/c$i" --scope kb:read)")" = "200:1 " ] \
        && n=$((n + 1))
done
check "cold tokens through a cache of 4 (evictions), 12" 12 "$n"
n=0
for _ in $(seq 10); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$U/.well-known/oauth-protected-resource/mcp")" = 200 ] && n=$((n + 1))
done
check "the metadata document, 10" 10 "$n"
check "... from the location's \"if\" block" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: x' "$U/.well-known/oauth-protected-resource/mcp")"

# responses still open, ended by a revocation and by an expiry
E=$("$AIMCTL" issue --key "$ISSUER_KEY" --iss "$ISS" --aud "$AUD" --sub spiffe://t/expiring \
    --scope kb:read --quiet --iat $(($(date +%s) - 60)) --exp $(($(date +%s) + 4)))
S=()
for i in 1 2 3; do
    curl -s -o "$W/slow-rev$i" -H "Authorization: Bearer $(issue --sub spiffe://t/streamer --scope kb:read)" \
        "$U/slow/big.txt" &
    S+=($!)
done
curl -s -o "$W/slow-exp" -H "Authorization: Bearer $E" "$U/slow/big.txt" &
S+=($!)
curl -s -o "$W/slow-ok" -H "Authorization: Bearer $R" "$U/slow/big.txt" &
S+=($!)
curl -s -o "$W/slow-ar" -H "Authorization: Bearer $(issue --sub spiffe://t/streamer --scope kb:read)" \
    "$U/ar-slow/big.txt" &
S+=($!)
curl -s -o "$W/kept" -H "Authorization: Bearer $(issue --sub spiffe://t/streamer --scope kb:read)" \
    "$U/kept/big.txt" &
S+=($!)
sleep 2
"$AIMCTL" revoke --file "$W/revoked" agent spiffe://t/streamer > /dev/null
sleep 6
kill "${S[@]}" 2> /dev/null
wait "${S[@]}" 2> /dev/null
check "three slow responses of a revoked agent, ended" 3 \
    "$(grep -c 'ending the response to "/slow/big.txt" for agent "spiffe://t/streamer": revoked' "$W/error.log")"
check "... and one an auth_request subrequest allowed" 1 \
    "$(grep -c 'ending the response to "/ar-slow/big.txt" for agent "spiffe://t/streamer": revoked' "$W/error.log")"
check "a slow response whose token expired, ended" 1 \
    "$(grep -c 'for agent "spiffe://t/expiring": expired' "$W/error.log")"
check "... and none of another agent's" 0 "$(grep -c 'for agent "spiffe://t/reader"' "$W/error.log")"
check "... nor the revoked agent's where aim_recheck is off" 0 \
    "$(grep -c 'ending the response to "/kept/' "$W/error.log")"
kept=$(stat -c %s "$W/kept" 2> /dev/null || echo 0)
if [ "$kept" -gt 100000 ]; then ok "... which went on after the revocation ($kept bytes)"; else
    not_ok "... which went on after the revocation" "$kept bytes"; fi

kill -QUIT "$(ngx_pid)" 2> /dev/null
ngx_stop

grep -q "ERROR SUMMARY" "$W/valgrind.log" || bail "valgrind ran to the end" "$(tail -5 "$W/valgrind.log")"
check "no invalid access, uninitialised value or bad free" 0 \
    "$(grep -c "Invalid read\|Invalid write\|Invalid free\|uninitialised\|Mismatched free\|overlap\|Syscall param" "$W/valgrind.log")"
check "no leak that grows with requests (records of 50+ blocks)" "" \
    "$(grep -E "are (definitely|indirectly|possibly) lost" "$W/valgrind.log" \
       | awk '{ for (i = 1; i < NF; i++) if ($i == "blocks" || $i == "block") n = $(i - 1); gsub(",", "", n); if (n + 0 >= 50) print }')"
lost=$(awk '/definitely lost:/ { gsub(",", "", $4); print $4; exit }' "$W/valgrind.log")
if [ -n "$lost" ] && [ "$lost" -lt 65536 ]; then
    ok "definitely lost at exit: $lost bytes (nginx's and OpenSSL's once-per-process)"
else
    not_ok "definitely lost at exit under 64 KiB" "${lost:-no summary}"
fi
finish
