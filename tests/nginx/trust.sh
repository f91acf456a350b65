#!/bin/bash
# Issue 16.1 on nginx: an agent that probes keeps paying for it.
#
# With aim_state and aim_trust_min 50, an agent holding api:read sends 50
# requests to a location needing adm:all.  Every one stays
# insufficient_scope (a request refused for scope is a probe whatever
# trust says), so trust keeps falling instead of resting at the threshold
# -- before the core's one rule, it stopped at about 49, and 14 quiet
# seconds brought the agent back.  Its granted requests are then refused
# with low_trust, and still are after 14 quiet seconds; another agent is
# untouched; and `aimctl stats` on the same state file agrees.
#
#   tests/nginx/trust.sh      (make test-nginx-trust)
set -u
. "$(dirname "$0")/../lib/aimtest.sh"
at_suite nginx-trust
at_need_files "$NGINX" "$NGX_MODULE" "$AIMCTL"
at_need_cmds curl jq
at_port PORT AIM_NGINX_TRUST_PORT || bail "a port for nginx"
at_rundir nginx-trust || bail "a run directory"
T=$AT_RUN

ISS=https://issuer.test
AUD=api
mint_key "$T/issuer.key" --kid trust-1
ISSUER_KEY=$T/issuer.key
mint_jwks "$T/jwks.json" "$T/issuer.key"
PROBER=$(issue --sub spiffe://test/prober --scope api:read --ttl 600 2>/dev/null)
OTHER=$(issue --sub spiffe://test/other --scope api:read --ttl 600 2>/dev/null)

ngx_conf "$T" "worker_processes 2;" <<NGX
    aim_keys      $T/jwks.json;
    aim_issuer    $ISS;
    aim_audience  $AUD;
    aim_state     $T/state;
    aim_trust_min 50;
    aim_audit     $T/audit.log;
    server {
        listen 127.0.0.1:$PORT;
        location /api/ { aim on; aim_scope api:read; return 200 "ok\n"; }
        location /adm/ { aim on; aim_scope adm:all;  return 200 "admin\n"; }
    }
NGX
ngx_start "$PORT" || bail "nginx did not start: $(cat "$T/start.err" "$T/error.log" 2>/dev/null | tail -5)"

code() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "http://127.0.0.1:$PORT$2"; }
trust_of() { "$AIMCTL" stats --state "$T/state" --json 2>/dev/null \
    | jq -r --arg a "$1" 'select(.agent == $a) | .trust' 2>/dev/null; }

check "a granted request passes first" 200 "$(code "$PROBER" /api/x)"
refused_scope=0
for i in $(seq 50); do
    [ "$(code "$PROBER" /adm/users)" = 403 ] && refused_scope=$((refused_scope + 1))
done
check "50 probes: each refused 403" 50 "$refused_scope"
reasons() { jq -r --arg r "$1" 'select(.resource == $r) | .reason' "$T/audit.log"; }
n_scope=$(reasons /adm/users | grep -c '^insufficient_scope$')
n_low=$(reasons /adm/users | grep -c '^low_trust$')
check "... every probe audited as insufficient_scope (never low_trust)" "50 0" "$n_scope $n_low"
t=$(trust_of spiffe://test/prober)
assert "trust kept falling past the threshold (now ${t:-?}, want < 20)" \
    awk -v t="${t:-100}" 'BEGIN { exit !(t < 20) }'
check "the prober's granted request: refused" 403 "$(code "$PROBER" /api/x)"
assert "... as low_trust in the audit line" \
    eval 'tail -n 1 "$T/audit.log" | grep -q "\"reason\":\"low_trust\""'
check "another agent is untouched" 200 "$(code "$OTHER" /api/x)"
sleep 14
check "14 quiet seconds later the prober is still refused" 403 "$(code "$PROBER" /api/x)"
finish
