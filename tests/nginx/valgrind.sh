#!/usr/bin/env bash
#
# tests/nginx/valgrind.sh -- ngx_http_aim_module under valgrind (memcheck):
# nginx in one process (master_process off) on 127.0.0.1, a free port
# (tests/lib/aimtest.sh) or AIM_NGINX_VALGRIND_PORT, its files in a run
# directory under /tmp; hundreds of
# requests through every path of the module (cached and evicted tokens,
# invalid tokens, no token, scope denials, variables, claims, error_page
# and subrequests (auth_request, mirror), return, DPoP valid and replayed, key and revocation reloads,
# good and bad), then a graceful exit.  Any invalid read or write, use of
# uninitialised memory or bad free fails; so does a leak that grows with
# the requests (a leak record of 50 blocks or more).  nginx's and OpenSSL's
# once-per-process allocations are left alone.
#
# Usage: tests/nginx/valgrind.sh       (make test-nginx-valgrind; KEEP=1 keeps the files)

set -u
. "$(dirname "$0")/../lib/aimtest.sh"
at_suite test-nginx-valgrind

at_need_cmds valgrind curl
at_need_files "$AIMCTL" "$NGX_MODULE" "$NGINX"
at_port PORT AIM_NGINX_VALGRIND_PORT || bail "a port for nginx"
at_rundir nginx-valgrind || bail "a run directory"
W=$AT_RUN
U=http://127.0.0.1:$PORT

A() { "$AIMCTL" "$@"; }
mint_key "$W/k1.pem" --kid k1
mint_key "$W/d1.pem"
mint_jwks "$W/jwks.json" "$W/k1.pem"
: > "$W/revoked"
chmod 644 "$W/revoked"
ISSUER_KEY=$W/k1.pem ISS=https://i.test AUD=https://a.test
ISSUE_ARGS=(--ttl 3600)

NGX_CONNECTIONS=128
ngx_conf "$W" "master_process off;" "daemon off;" <<EOF
    access_log $W/access.log;

    aim_keys     $W/jwks.json;
    aim_issuer   $ISS;
    aim_audience $AUD;
    aim_revoked  $W/revoked;
    aim_cache    4;

    limit_req_zone \$aim_agent zone=agents:1m rate=1000r/s;

    server {
        listen 127.0.0.1:$PORT;
        add_header X-Agent  \$aim_agent always;
        add_header X-Team   \$aim_claim_team always;
        add_header X-Reason \$aim_reason always;
        set \$verb GET;
        set \$tok \$http_x_first;

        location /kb/ {
            aim       on;
            aim_scope kb:\$request_method;
            limit_req zone=agents burst=1000 nodelay;
            empty_gif;
        }
        location /dpop/ {
            aim      on;
            aim_dpop on;
            empty_gif;
        }
        location /redir/ {
            aim       on;
            aim_scope admin;
            error_page 403 = @denied;
            empty_gif;
        }
        location @denied {
            return 403 "\$aim_reason \$aim_agent\n";
        }
        location /sub/ {
            auth_request /kb/check;
            empty_gif;
        }
        location /mir/ {
            mirror /kb/mirrored;
            empty_gif;
        }
        location /ret/ {
            aim on;
            return 200 "answered";
        }
        location /setscope/ {
            aim       on;
            aim_scope kb:\$verb;
            set       \$verb DELETE;
            empty_gif;
        }
        location /settok/ {
            aim       on;
            aim_scope kb:GET;
            aim_token \$tok;
            set       \$tok \$http_x_second;
            empty_gif;
        }
        location /rw/ {
            aim       on;
            set       \$seen "\$aim_agent \$aim_claim_team";
            rewrite   ^ /kb/rewritten last;
        }
    }
EOF

ngx_start "$PORT" valgrind --leak-check=full --num-callers=30 --child-silent-after-fork=yes \
    --log-file="$W/valgrind.log" || bail "nginx starts under valgrind" "$(cat "$W/start.err" "$W/error.log" 2> /dev/null)"

codes() { curl -s -o /dev/null -w '%{http_code}\n' "$@" | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}'; }
many() { local n=$1 u=$2 i; for ((i = 0; i < n; i++)); do printf '%s\n' "-o" "/dev/null" "$u"; done; }

T=$(issue --sub spiffe://t/a --scope "kb:GET" --claim "team=blue
green")
mapfile -t urls < <(many 60 "$U/kb/x")
check "cached token, 60 requests" "200:60 " "$(codes -H "Authorization: Bearer $T" "${urls[@]}")"

cold=()
for i in $(seq 12); do cold+=("$(issue --sub "spiffe://t/cold$i" --scope kb:GET)"); done
n=0
for round in 1 2 3; do
    for tok in "${cold[@]}"; do
        c=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "$U/kb/x")
        [ "$c" = 200 ] && n=$((n + 1))
    done
done
check "12 tokens cycled through a cache of 4 (evictions), 36 requests" 36 "$n"

mapfile -t urls < <(many 40 "$U/kb/x")
check "invalid token, 40 requests" "401:40 " "$(codes -H "Authorization: Bearer a.b.c" "${urls[@]}")"
check "no token, 40 requests" "401:40 " "$(codes "${urls[@]}")"
check "scope denied, 40 requests" "403:40 " "$(codes -X DELETE -H "Authorization: Bearer $T" "${urls[@]}")"
mapfile -t urls < <(many 20 "$U/redir/x")
check "error_page with variables, 20 requests" "403:20 " "$(codes -H "Authorization: Bearer $T" "${urls[@]}")"
mapfile -t urls < <(many 20 "$U/sub/x")
check "auth_request subrequest into aim, 20 requests" "200:20 " \
    "$(codes -H "Authorization: Bearer $T" "${urls[@]}")"

mapfile -t urls < <(many 20 "$U/mir/x")
check "mirror subrequests into aim, 20 requests" "200:20 " \
    "$(codes -H "Authorization: Bearer $T" "${urls[@]}")"
mapfile -t urls < <(many 20 "$U/setscope/x")
check "decided again after set changed the scope, 20 requests" "403:20 " \
    "$(codes -H "Authorization: Bearer $T" "${urls[@]}")"
mapfile -t urls < <(many 20 "$U/settok/x")
check "decided again after set changed aim_token's token, 20 requests" "401:20 " \
    "$(codes -H "X-First: $T" -H "X-Second: forged" "${urls[@]}")"
mapfile -t urls < <(many 20 "$U/rw/x")
check "variables read before rewrite ... last, 20 requests" "200:20 " \
    "$(codes -H "Authorization: Bearer $T" "${urls[@]}")"
mapfile -t urls < <(many 20 "$U/ret/x")
check "return in a protected location, no token, 20 requests" "401:20 " "$(codes "${urls[@]}")"

TD=$(issue --sub spiffe://t/bound --cnf-jkt "$(A thumbprint "$W/d1.pem")")
n=0
for i in $(seq 8); do
    P=$(A dpop --key "$W/d1.pem" --htm GET --htu "$U/dpop/x" --token "$TD")
    c1=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: DPoP $TD" -H "DPoP: $P" "$U/dpop/x")
    c2=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: DPoP $TD" -H "DPoP: $P" "$U/dpop/x")
    [ "$c1$c2" = 200401 ] && n=$((n + 1))
done
check "DPoP: 8 proofs, each accepted once and replayed once" 8 "$n"
check "DPoP-bound token as Bearer" 401 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TD" "$U/dpop/x")"

A keygen --alg ES256 --kid k2 --out "$W/k2.pem" > /dev/null
A jwks "$W/k1.pem" "$W/k2.pem" > "$W/jwks.new" && chmod 644 "$W/jwks.new" && mv "$W/jwks.new" "$W/jwks.json"
echo "agent spiffe://t/cold1" >> "$W/revoked"
sleep 1.5
check "after key and revocation reloads: still verifying" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $T" "$U/kb/x")"
check "after the revocation reload: the agent is refused" 401 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${cold[0]}" "$U/kb/x")"
echo '{"keys": [' > "$W/jwks.new" && mv "$W/jwks.new" "$W/jwks.json"
sleep 1.5
check "after a bad key file: the old keys" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $T" "$U/kb/x")"

ngx_stop    # a graceful exit: valgrind writes its report

if ! grep -q "ERROR SUMMARY" "$W/valgrind.log"; then
    not_ok "valgrind ran to the end" "$(tail -5 "$W/valgrind.log")"
    finish
fi
bad=$(grep -c "Invalid read\|Invalid write\|Invalid free\|uninitialised\|Mismatched free\|overlap\|Syscall param" \
      "$W/valgrind.log")
check "no invalid access, uninitialised value or bad free" 0 "$bad"
grows=$(grep -E "are (definitely|indirectly|possibly) lost" "$W/valgrind.log" \
        | awk '{ for (i = 1; i < NF; i++) if ($i == "blocks" || $i == "block") n = $(i - 1); gsub(",", "", n); if (n + 0 >= 50) print }')
check "no leak that grows with requests (records of 50+ blocks)" "" "$grows"
lost=$(awk '/definitely lost:/ { gsub(",", "", $4); print $4 }' "$W/valgrind.log")
if [ -n "$lost" ] && [ "$lost" -lt 65536 ]; then
    ok "definitely lost at exit: $lost bytes (nginx's and OpenSSL's once-per-process)"
else
    not_ok "definitely lost at exit under 64 KiB" "$lost"
fi

finish
