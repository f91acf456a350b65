#!/usr/bin/env bash
#
# tests/nginx/run.sh -- ngx_http_aim_module in a real nginx on 127.0.0.1,
# driven by curl.  Four free ports (tests/lib/aimtest.sh; or the ones
# AIM_NGINX_PORT, AIM_NGINX_UPSTREAM_PORT (its small upstream),
# AIM_NGINX_NAMED_PORT (a server with a server_name) and
# AIM_NGINX_TLS_PORT (TLS with client certificates) name), the prefix,
# keys, logs and temporary paths in a run directory under /tmp.  NGINX
# and NGX_MODULE choose the nginx binary and the module built for it
# (make test-nginx-versions runs every version; SUITE names the summary).
#
# What it asserts: each response of the error contract (401 without a
# token, 401 invalid_token with the reason, 403 insufficient_scope with
# scope=), variables reaching the upstream, per-method scopes, OPTIONS not a
# bypass, limit_req keyed by $aim_agent, key rotation on disk under traffic,
# revocation within two seconds, DPoP (valid, replayed across workers, wrong
# method, URL, key, no ath, stale, the server's own origin), every kind of
# subrequest into a protected location (auth_request, SSI, addition,
# mirror, slice, echo), "return" in a protected location, internal
# redirects to a stricter location, limit_except, unreadable watched files,
# "nginx -t" on bad configurations, and that the token never reaches a
# log.  nginx runs with two workers.
#
# Usage: tests/nginx/run.sh        (make test-nginx; KEEP=1 keeps the files)

set -u
. "$(dirname "$0")/../lib/aimtest.sh"
at_suite "${SUITE:-test-nginx}"
OPTIONS=$AT_BUILD/tests/ngx-options
ISS=https://issuer.test
AUD=https://api.test

at_need_files "$AIMCTL" "$NGX_MODULE" "$NGINX" "$OPTIONS"
at_need_cmds curl openssl
at_port PORT AIM_NGINX_PORT || bail "a port for nginx"
at_port UP AIM_NGINX_UPSTREAM_PORT || bail "a port for the upstream"
at_port NAMED AIM_NGINX_NAMED_PORT || bail "a port for the named server"
at_port TLS AIM_NGINX_TLS_PORT || bail "a port for the TLS server"
at_port H2P AIM_NGINX_H2_PORT || bail "a port for the HTTP/2 server"
at_rundir nginx || bail "a run directory"
W=$AT_RUN      # workers run as nobody and re-read the key files

# ------------------------------------------------------------------ keys

A() { "$AIMCTL" "$@"; }
mint_key "$W/k1.pem" --kid k1
mint_key "$W/k2.pem" --kid k2
mint_key "$W/forger.pem" --kid k1     # same kid, other key
mint_key "$W/d1.pem"                  # DPoP keys
mint_key "$W/d2.pem"
mint_jwks "$W/jwks.json" "$W/k1.pem"
cp "$W/jwks.json" "$W/jwks.k1"
: > "$W/revoked"
printf 'allow * kb:*\n' > "$W/policy.kb"
chmod 644 "$W/policy.kb"
chmod 644 "$W/revoked"

ISSUER_KEY=$W/k1.pem
ISSUE_ARGS=(--ttl 3600)
NOW=$(date +%s)

T=$(issue --sub spiffe://test/agent/reader --owner alice@test --scope "kb:GET kb:PUT kb:OPTIONS" \
          --claim team=blue)
T_OTHER=$(issue --sub spiffe://test/agent/other --scope "kb:GET")
T_REPORTS=$(issue --sub spiffe://test/agent/reports --scope "reports:read")
T_ADMIN=$(issue --sub spiffe://test/agent/admin --scope "admin kb:GET")

# Debian's echo module makes subrequests too (echo_location); it is built
# for Debian's nginx only (libnginx-mod-http-echo, ./deps.sh).
ECHO_SO=/usr/lib/nginx/modules/ngx_http_echo_module.so
ECHO_LOAD= ECHO_LOC=
if [ "$NGINX" = /usr/sbin/nginx ]; then
    at_need_files "$ECHO_SO"
    ECHO_LOAD="load_module $ECHO_SO;"
    ECHO_LOC="location /echo/ { default_type text/plain; echo before; echo_location /secret/echo; echo after; }"
fi

# HTTP/2 (cleartext, prior knowledge) where this nginx has it: Debian's
# does; the source-built ones of test-nginx-versions do not, and are not
# counted as skips for it, as with echo_location.
H2_SERVER=
if "$NGINX" -V 2>&1 | grep -q -- --with-http_v2_module; then
    H2_SERVER="server {
        listen 127.0.0.1:$H2P http2;
        proxy_set_header X-Aim-Agent \$aim_agent;
        location /secret/ {
            aim       on;
            aim_scope admin;
            proxy_pass http://127.0.0.1:$UP;
        }
    }"
fi

mkdir -p "$W/html/ssi" "$W/html/add" "$W/html/files"
printf '<p>start</p><!--# include virtual="/secret/ssi" --><p>end</p>\n' > "$W/html/ssi/page.html"
printf '<p>the page</p>\n' > "$W/html/add/page.html"
printf '0123456789' > "$W/html/files/ten"
head -c 400000 /dev/zero > "$W/html/files/big"
chmod -R a+rX "$W/html"

# TLS: a client CA, two client certificates it signed, a server certificate.
tlsgen() { local n=$1; shift; openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/$n.key" "$@" 2> /dev/null; }
tlsgen ca -x509 -out "$W/ca.pem" -subj /CN=aim-test-ca -days 2 > /dev/null
tlsgen srv -x509 -out "$W/srv.pem" -subj /CN=127.0.0.1 -days 2 > /dev/null
for c in cli1 cli2; do
    tlsgen "$c" -out "$W/$c.csr" -subj "/CN=$c" > /dev/null
    openssl x509 -req -in "$W/$c.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial \
        -out "$W/$c.pem" -days 2 2> /dev/null
done
X5T=$(openssl x509 -in "$W/cli1.pem" -outform DER | openssl dgst -sha256 -binary | base64 -w0 \
      | tr '+/' '-_' | tr -d '=')

# ----------------------------------------------------------------- nginx

ngx_conf "$W" "$ECHO_LOAD" "worker_processes 2;" <<EOF
    log_format aim '\$request_method \$uri \$status agent=\$aim_agent reason=\$aim_reason';
    log_format upstream '\$uri';
    access_log $W/access.log aim;

    aim_keys     $W/jwks.json;
    aim_issuer   $ISS;
    aim_audience $AUD;
    aim_revoked  $W/revoked;
    aim_realm    aim-test;

    limit_req_zone \$aim_agent zone=agents:1m rate=1r/m;

    server {
        listen 127.0.0.1:$PORT reuseport;
        add_header X-Worker \$pid always;
        set \$verb GET;
        set \$rv_tok \$http_x_first_token;

        proxy_set_header X-Aim-Agent  \$aim_agent;
        proxy_set_header X-Aim-Owner  \$aim_owner;
        proxy_set_header X-Aim-Scope  \$aim_scope;
        proxy_set_header X-Aim-Jti    \$aim_jti;
        proxy_set_header X-Aim-Chain  \$aim_chain;
        proxy_set_header X-Aim-Team   \$aim_claim_team;
        proxy_set_header X-Aim-Note   \$aim_claim_note;
        proxy_set_header X-Aim-Reason \$aim_reason;

        location /kb/ {
            aim       on;
            aim_scope kb:\$request_method;
            proxy_pass http://127.0.0.1:$UP;
        }
        location /any/ {
            aim           on;
            aim_scope_any admin reports:read;
            proxy_pass http://127.0.0.1:$UP;
        }
        location /cors/ {
            aim                  on;
            aim_bypass_preflight on;
            aim_scope            kb:\$request_method;
            proxy_pass http://127.0.0.1:$UP;
        }
        location /limited/ {
            aim on;
            limit_req zone=agents;
            limit_req_status 429;
            proxy_pass http://127.0.0.1:$UP;
        }
        location /dpop/ {
            aim      on;
            aim_dpop required;
            proxy_pass http://127.0.0.1:$UP;
        }
        location /dpop-on/ {
            aim      on;
            aim_dpop on;
            proxy_pass http://127.0.0.1:$UP;
        }
        location /redir/ {
            aim on;
            aim_scope admin;
            error_page 401 403 = @denied;
            proxy_pass http://127.0.0.1:$UP;
        }
        location @denied {
            default_type application/json;
            return 401 '{"reason":"\$aim_reason","agent":"\$aim_agent"}\n';
        }
        location /trust/ {
            aim           on;
            aim_state     $W/state;
            aim_trust_min 50;
            aim_scope     kb:read;
            proxy_pass http://127.0.0.1:$UP;

            location /trust/admin/ {
                aim_scope kb:admin;
                proxy_pass http://127.0.0.1:$UP;
            }
        }
        location /open/ {
            proxy_pass http://127.0.0.1:$UP;
        }

        # subrequests into a protected location: each one is decided
        location /secret/ {
            aim       on;
            aim_scope admin;
            proxy_pass http://127.0.0.1:$UP;
        }
        location /ar/ {
            auth_request /secret/auth;
            proxy_pass http://127.0.0.1:$UP;
        }
        location /secret-dpop/ {
            aim      on;
            aim_dpop on;
            proxy_pass http://127.0.0.1:$UP;
        }
        location /ar2/ {
            auth_request /secret-dpop/auth;
            proxy_pass http://127.0.0.1:$UP;
        }
        location /ssi/ {
            ssi on;
            default_type text/html;
            root $W/html;
        }
        location /add/ {
            add_before_body /secret/add;
            default_type text/html;
            root $W/html;
        }
        location /mir/ {
            mirror /secret/mirror;
            proxy_pass http://127.0.0.1:$UP;
        }
        location /slice/ {
            aim       on;
            aim_scope kb:GET;
            slice     4;
            proxy_set_header Range \$slice_range;
            proxy_pass http://127.0.0.1:$UP/files/;
        }
        $ECHO_LOC

        # "return" answers in the rewrite phase: aim decides before it
        location /ret/ {
            aim on;
            return 200 "answered\n";
        }

        # an internal redirect to a stricter location is decided afresh
        location /lax/ {
            aim       on;
            aim_scope kb:GET;
            try_files /nonexistent @strict;
        }
        location @strict {
            aim       on;
            aim_scope admin;
            proxy_pass http://127.0.0.1:$UP;
        }

        location /lmt/ {
            limit_except GET {
                aim       on;
                aim_scope admin;
            }
            proxy_pass http://127.0.0.1:$UP;
        }
        location /satisfy/ {
            satisfy any;
            allow   127.0.0.2;
            deny    all;
            aim     on;
            proxy_pass http://127.0.0.1:$UP;
        }
        # one DPoP proof, two decisions of one request: not a replay
        location /dpop-redir/ {
            aim      on;
            aim_dpop required;
            try_files /nonexistent @dpop2;
        }
        location @dpop2 {
            aim       on;
            aim_dpop  required;
            aim_scope kb:GET;
            proxy_pass http://127.0.0.1:$UP;
        }
        location /dpop-ident/ {
            satisfy  any;
            deny     all;
            aim      on;
            aim_dpop required;
            limit_req zone=agents burst=5;
            proxy_pass http://127.0.0.1:$UP;
        }

        # scopes from a variable the location's "set" changes after the
        # rewrite-phase decision: the access phase decides again
        location /setscope/ {
            aim       on;
            aim_scope kb:\$verb;
            set       \$verb PUT;
            proxy_pass http://127.0.0.1:$UP;
        }

        location /cookie/ {
            aim       on;
            aim_token \$cookie_agent_token;
            proxy_pass http://127.0.0.1:$UP;
        }

        # hostile review of the per-configuration identification: every
        # way into /secret/ (admin) from a laxer configuration is decided
        # there again
        location /rv-rw/ {
            aim       on;
            aim_scope kb:GET;
            rewrite   ^/rv-rw/(.*)\$ /secret/\$1 last;
        }
        location /rv-ep/ {
            aim        on;
            aim_scope  kb:GET;
            error_page 404 = /secret/ep;
            return     404;
        }
        location /rv-named/ {
            aim        on;
            aim_scope  kb:GET;
            error_page 404 = @rv_strict;
            return     404;
        }
        location @rv_strict {
            aim       on;
            aim_scope admin;
            proxy_pass http://127.0.0.1:$UP;
        }
        location /rv-xar/ {
            aim       on;
            aim_scope kb:GET;
            proxy_pass http://127.0.0.1:$UP/xar/;
        }
        location /rv-tok/ {
            aim       on;
            aim_token \$http_x_low_token;
            rewrite   ^ /secret/tok last;
        }
        location /rv-aud/ {
            aim          on;
            aim_audience https://other.test;
            rewrite      ^ /secret/aud last;
        }
        location /rv-bearer/ {
            aim       on;
            aim_scope kb:GET;
            rewrite   ^ /dpop/x last;
        }
        # an if block inherits every aim setting (none is allowed in it):
        # its return answers after the location's decision
        location /rv-if/ {
            aim       on;
            aim_scope admin;
            if (\$arg_ret) {
                return 200 "admin answer\n";
            }
            if (\$arg_proxy) {
                proxy_pass http://127.0.0.1:$UP;
            }
            proxy_pass http://127.0.0.1:$UP;
        }
        # the identity variables come from the decision of this location,
        # never from an earlier configuration's, read before and cached
        location /rv-var/ {
            aim       on;
            aim_scope kb:GET;
            set       \$rv_seen "\$aim_scope \$aim_agent";
            rewrite   ^ /rv-pol/x last;
        }
        location /rv-pol/ {
            aim        on;
            aim_policy $W/policy.kb;
            aim_scope  kb:GET;
            proxy_pass http://127.0.0.1:$UP;
        }
        location /rv-sub/ {
            aim          on;
            aim_policy   $W/policy.kb;
            aim_scope    kb:GET;
            auth_request /secret/rv-sub;
            proxy_pass   http://127.0.0.1:$UP;
        }
        # aim_token's variable changed by the location after the decision
        location /rv-settok/ {
            aim       on;
            aim_scope kb:GET;
            aim_token \$rv_tok;
            if (\$http_x_second_token) {
                set \$rv_tok \$http_x_second_token;
            }
            proxy_set_header X-Evil \$rv_tok;
            proxy_pass http://127.0.0.1:$UP;
        }
        # a response the decision of a location with aim_recheck off
        # allowed, reached by rewrite ... last in one with it on
        location /rc/ {
            aim         on;
            aim_scope   kb:GET;
            aim_recheck off;
            rewrite     ^/rc/off/(.*)\$ /rc/on/\$1 last;
            location /rc/on/ {
                aim_recheck on;
                alias       $W/html/files/;
                limit_rate  40k;
            }
        }
        location /rv-nest/ {
            aim       on;
            aim_scope kb:GET;
            proxy_pass http://127.0.0.1:$UP;
            location /rv-nest/admin/ {
                aim_scope admin;
                proxy_pass http://127.0.0.1:$UP;
            }
        }
    }

    $H2_SERVER

    server {
        listen 127.0.0.1:$NAMED;
        server_name api.test;

        location /dpop/ {
            aim      on;
            aim_dpop required;
            proxy_pass http://127.0.0.1:$UP;
        }
        location /behind/ {
            aim             on;
            aim_dpop        required;
            aim_dpop_origin https://public.example;
            proxy_pass http://127.0.0.1:$UP;
        }
    }

    server {
        listen 127.0.0.1:$TLS ssl;
        ssl_certificate        $W/srv.pem;
        ssl_certificate_key    $W/srv.key;
        ssl_client_certificate $W/ca.pem;
        ssl_verify_client      optional;

        location /mtls/ {
            aim on;
            proxy_pass http://127.0.0.1:$UP;
        }
    }

    server {
        listen 127.0.0.1:$UP;
        default_type text/plain;
        access_log $W/up.log upstream;
        location /files/ {
            root $W/html;
        }
        location /xar/ {
            add_header X-Accel-Redirect /secret/xar;
            return 200 "to be redirected\n";
        }
        location / {
            return 200 "agent=\$http_x_aim_agent|owner=\$http_x_aim_owner|scope=\$http_x_aim_scope|jti=\$http_x_aim_jti|chain=\$http_x_aim_chain|team=\$http_x_aim_team|note=\$http_x_aim_note|reason=\$http_x_aim_reason|evil=\$http_x_evil|method=\$request_method\n";
        }
    }
EOF

if ! out=$(ngx_test); then
    not_ok "nginx -t accepts the test configuration" "$out"
    finish
fi
ok "nginx -t accepts the test configuration"

ngx_start "$PORT" || bail "nginx starts with the module" "$(cat "$W/start.err" "$W/error.log" 2> /dev/null)"
# Listening comes before the workers: wait until one answers.
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/open/" && break
    sleep 0.1
done
MASTER=$(ngx_pid)
check "two worker processes" 2 "$(pgrep -P "$MASTER" | wc -l)"

# http METHOD PATH [curl args...]: sets CODE, WWWA (challenges), BODY, WORKER
http() {
    local m=$1 p=$2 hdrs
    shift 2
    hdrs=$(curl -s -o "$W/resp" -D - -X "$m" "$@" "http://127.0.0.1:$PORT$p" | tr -d '\r')
    CODE=$(printf '%s\n' "$hdrs" | head -1 | awk '{print $2}')
    WWWA=$(printf '%s\n' "$hdrs" | sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: //p' | paste -sd'#' -)
    WORKER=$(printf '%s\n' "$hdrs" | sed -n 's/^X-Worker: //p')
    BODY=$(cat "$W/resp")
}
bearer() { echo "Authorization: Bearer $1"; }

# ----------------------------------------------------- the error contract

http GET /kb/doc
check "no token: 401" 401 "$CODE"
check "no token: a bare Bearer challenge, no error code" 'Bearer realm="aim-test"' "$WWWA"

http GET /kb/doc -H "Authorization: Basic dXNlcjpwYXNz"
check "another scheme counts as no token: 401" 401 "$CODE"
check "another scheme: bare challenge" 'Bearer realm="aim-test"' "$WWWA"

http GET /kb/doc -H "$(bearer "$T")"
check "valid token, scope kb:GET: 200" 200 "$CODE"

http GET /kb/doc -H "authorization: bEaReR $T"
check "the scheme is case-insensitive" 200 "$CODE"

http GET /kb/doc -H "Authorization: Bearer    $T"
check "several spaces after the scheme (1*SP)" 200 "$CODE"

# invalid_token: name [curl args], the reason expected in error_description
invalid() {
    local name=$1 reason=$2 token=$3
    http GET /kb/doc -H "$(bearer "$token")"
    check "$name: 401" 401 "$CODE"
    check "$name: invalid_token, reason $reason" \
        "Bearer realm=\"aim-test\", error=\"invalid_token\", error_description=\"$reason\"" "$WWWA"
    hasnt "$name: the body does not echo the token" "$BODY" "$token"
}
invalid "garbage" malformed "not-a-jwt"
invalid "tampered signature" malformed "${T%?}*"
invalid "forged signature (same kid, other key)" bad_signature \
    "$(A issue --key "$W/forger.pem" --kid k1 --iss "$ISS" --aud "$AUD" --sub spiffe://test/agent/x)"
invalid "unknown kid" unknown_key "$(issue --sub spiffe://test/agent/x --kid nope)"
invalid "expired" expired "$(A issue --key "$W/k1.pem" --iss "$ISS" --aud "$AUD" \
    --sub spiffe://test/agent/x --iat $((NOW - 7200)) --exp $((NOW - 3600)))"
invalid "not yet valid" not_yet_valid "$(issue --sub spiffe://test/agent/x --nbf $((NOW + 3600)))"
invalid "wrong audience" bad_audience \
    "$(A issue --key "$W/k1.pem" --iss "$ISS" --aud https://other.test --sub spiffe://test/agent/x)"
invalid "wrong issuer" bad_issuer \
    "$(A issue --key "$W/k1.pem" --iss https://evil.test --aud "$AUD" --sub spiffe://test/agent/x)"
invalid "typ not accepted" bad_type "$(issue --sub spiffe://test/agent/x --typ JWT)"
invalid "lifetime too long" lifetime_too_long \
    "$(A issue --key "$W/k1.pem" --iss "$ISS" --aud "$AUD" --sub spiffe://test/agent/x --ttl 172800)"
invalid "no jti" missing_claim "$(issue --sub spiffe://test/agent/x --omit jti)"
invalid "alg none" unsupported_alg "$(printf '%s' '{"alg":"none","typ":"aim+jwt","kid":"k1"}' \
    | base64 -w0 | tr '+/' '-_' | tr -d '=').${T#*.}"

http GET /kb/doc -H "Authorization: Bearer"
check "empty credentials: 401" 401 "$CODE"
check "empty credentials: no token, a bare challenge" 'Bearer realm="aim-test"' "$WWWA"

http DELETE /kb/doc -H "$(bearer "$T")"
check "missing scope: 403" 403 "$CODE"
check "missing scope: insufficient_scope with scope=" \
    'Bearer realm="aim-test", error="insufficient_scope", error_description="insufficient_scope", scope="kb:DELETE"' "$WWWA"

# ------------------------------------------------- variables and scopes

http GET /kb/doc -H "$(bearer "$T")"
has "upstream receives \$aim_agent" "$BODY" "agent=spiffe://test/agent/reader|"
has "upstream receives \$aim_owner" "$BODY" "owner=alice@test|"
has "upstream receives \$aim_scope (effective scopes)" "$BODY" "scope=kb:GET kb:PUT kb:OPTIONS|"
jti=$(A inspect "$T" 2>/dev/null | grep -o '"jti": *"[^"]*"' | head -1 | sed 's/.*"\([^"]*\)"$/\1/')
has "upstream receives \$aim_jti" "$BODY" "jti=$jti|"
has "upstream receives \$aim_claim_team" "$BODY" "team=blue|"
has "upstream receives \$aim_reason" "$BODY" "reason=ok|"

http PUT /kb/doc -H "$(bearer "$T")"
check "per-method scope: PUT with kb:PUT: 200" 200 "$CODE"
http POST /kb/doc -H "$(bearer "$T")"
check "per-method scope: POST without kb:POST: 403" 403 "$CODE"
has "per-method scope: the challenge names kb:POST" "$WWWA" 'scope="kb:POST"'

T_ACT=$(issue --sub spiffe://test/user/bob --act spiffe://test/agent/helper --scope kb:GET)
http GET /kb/doc -H "$(bearer "$T_ACT")"
has "delegation: \$aim_agent is the current actor" "$BODY" "agent=spiffe://test/agent/helper|"
has "delegation: \$aim_chain" "$BODY" "chain=spiffe://test/agent/helper>spiffe://test/user/bob|"

T_EVIL=$(issue --sub spiffe://test/agent/x --scope kb:GET --claim "note=a"$'\r\n'"X-Evil: 1")
http GET /kb/doc -H "$(bearer "$T_EVIL")"
check "a claim with CR LF: 200" 200 "$CODE"
has "a claim with CR LF is escaped in the variable" "$BODY" 'note=a\u000d\u000aX-Evil: 1|'
has "a claim with CR LF cannot add a header upstream" "$BODY" "evil=|"

http GET /any/x -H "$(bearer "$T_REPORTS")"
check "aim_scope_any: one of the scopes suffices" 200 "$CODE"
http GET /any/x -H "$(bearer "$T_OTHER")"
check "aim_scope_any: none of them: 403" 403 "$CODE"
has "aim_scope_any: the challenge lists the scopes" "$WWWA" 'scope="admin reports:read"'

http GET /open/x -H "$(bearer "$T")"
check "a location without aim: 200" 200 "$CODE"
has "a location without aim: no identity" "$BODY" "agent=|"

# ---------------------------------------------------------------- OPTIONS

http OPTIONS /kb/doc
check "OPTIONS without a token: 401 (not a bypass)" 401 "$CODE"
http OPTIONS /kb/doc -H "Origin: https://app.test" -H "Access-Control-Request-Method: GET"
check "CORS preflight without aim_bypass_preflight: 401" 401 "$CODE"
http OPTIONS /cors/doc -H "Origin: https://app.test" -H "Access-Control-Request-Method: GET"
check "CORS preflight with aim_bypass_preflight on: passes" 200 "$CODE"
http OPTIONS /cors/doc
check "aim_bypass_preflight: plain OPTIONS still needs a token" 401 "$CODE"
http OPTIONS /cors/doc -H "Origin: https://app.test"
check "aim_bypass_preflight: Origin alone is no preflight" 401 "$CODE"
http GET /cors/doc -H "Origin: https://app.test" -H "Access-Control-Request-Method: GET"
check "aim_bypass_preflight: only OPTIONS is let through" 401 "$CODE"
http OPTIONS /cors/doc -H "Origin: https://app.test" -H "Access-Control-Request-Method: GET" -d "x=1"
check "aim_bypass_preflight: an OPTIONS with a body is no preflight" 401 "$CODE"

# -------------------------------------------------------------- limit_req

http GET /limited/x -H "$(bearer "$T")"
check "limit_req keyed by \$aim_agent: first request" 200 "$CODE"
http GET /limited/x -H "$(bearer "$T")"
check "limit_req keyed by \$aim_agent: same agent again: 429" 429 "$CODE"
http GET /limited/x -H "$(bearer "$T_OTHER")"
check "limit_req keyed by \$aim_agent: another agent: 200" 200 "$CODE"

# ----------------------------------------------------- internal redirects

http GET /redir/x -H "$(bearer "$T")"
check "error_page to a named location: status" 401 "$CODE"
has "error_page: \$aim_reason survives the redirect" "$BODY" '"reason":"insufficient_scope"'
has "error_page: \$aim_agent survives the redirect" "$BODY" '"agent":"spiffe://test/agent/reader"'

# ------------------------------------------------------------------ audit

http GET /kb/audit-allow-$$ -H "$(bearer "$T")"
http DELETE /kb/audit-deny-$$ -H "$(bearer "$T")"
http GET /kb/audit-none-$$
sleep 0.2
check "one audit line for an allowed request" 1 \
    "$(grep -c "aim audit: .*\"resource\":\"/kb/audit-allow-$$\"" "$W/error.log")"
check "one audit line for a denied request" 1 \
    "$(grep -c "aim audit: .*\"decision\":\"deny\".*\"resource\":\"/kb/audit-deny-$$\"" "$W/error.log")"
check "one audit line for a request without a token" 1 \
    "$(grep -c "aim audit: .*\"reason\":\"no_token\".*\"resource\":\"/kb/audit-none-$$\"" "$W/error.log")"
has "access log: \$aim_agent and \$aim_reason" "$(grep "audit-deny-$$" "$W/access.log")" \
    "403 agent=spiffe://test/agent/reader reason=insufficient_scope"

# ------------------------------------------------------------------- DPoP

JKT1=$(A thumbprint "$W/d1.pem")
TD=$(issue --sub spiffe://test/agent/bound --scope kb:GET --cnf-jkt "$JKT1")
URL=http://127.0.0.1:$PORT
proof() { # key method url [extra dpop args]
    local key=$1 m=$2 u=$3
    shift 3
    A dpop --key "$W/$key.pem" --htm "$m" --htu "$u" --token "$TD" "$@"
}
dpop() { # method path proof [token]
    local m=$1 p=$2 pr=$3 tok=${4:-$TD}
    http "$m" "$p" -H "Authorization: DPoP $tok" -H "DPoP: $pr"
}

http GET /dpop/x
check "DPoP required, no token: 401" 401 "$CODE"
check "DPoP required, no token: a DPoP challenge with algs" \
    'DPoP realm="aim-test", algs="ES256 ES384 EdDSA RS256 PS256"' "$WWWA"
http GET /dpop-on/x
check "DPoP on, no token: both challenges" \
    'Bearer realm="aim-test"#DPoP realm="aim-test", algs="ES256 ES384 EdDSA RS256 PS256"' "$WWWA"

P=$(proof d1 GET "$URL/dpop/x")
dpop GET /dpop/x "$P"
check "DPoP: a valid proof: 200" 200 "$CODE"
has "DPoP: the upstream receives the agent" "$BODY" "agent=spiffe://test/agent/bound|"
dpop GET /dpop/x "$P"
check "DPoP: the same proof again: 401" 401 "$CODE"
check "DPoP: replay is invalid_dpop_proof" \
    'DPoP realm="aim-test", algs="ES256 ES384 EdDSA RS256 PS256", error="invalid_dpop_proof", error_description="replay"' "$WWWA"

# Replays on fresh connections land on both workers (reuseport); every
# one must be refused, including by the worker that did not see the proof.
P=$(proof d1 GET "$URL/dpop/x")
dpop GET /dpop/x "$P"
first=$WORKER
check "DPoP across workers: first use: 200" 200 "$CODE"
urls=()
for _ in $(seq 30); do urls+=(-o /dev/null "$URL/dpop/x"); done
curl -s -H "Connection: close" -H "Authorization: DPoP $TD" -H "DPoP: $P" \
    -w '%{http_code} %header{x-worker}\n' "${urls[@]}" > "$W/replays"
refused=$(grep -c '^401 ' "$W/replays")
others=$(grep '^401 ' "$W/replays" | grep -vc " $first\$")
check "DPoP across workers: 30 replays refused" 30 "$refused"
if [ "$others" -gt 0 ]; then
    ok "DPoP across workers: refused by the other worker too ($others times)"
else
    not_ok "DPoP across workers: no replay reached the other worker (reuseport?)"
fi

dpop GET /dpop/x?page=2 "$(proof d1 GET "$URL/dpop/x")"
check "DPoP: htu is compared without the query" 200 "$CODE"

dpop GET /dpop/x "$(proof d1 POST "$URL/dpop/x")"
check "DPoP: wrong method: 401" 401 "$CODE"
has "DPoP: wrong method: invalid_dpop_proof" "$WWWA" 'error="invalid_dpop_proof", error_description="bad_binding"'

dpop GET /dpop/x "$(proof d1 GET "$URL/dpop/other")"
check "DPoP: wrong URL: 401" 401 "$CODE"
has "DPoP: wrong URL: invalid_dpop_proof" "$WWWA" 'error="invalid_dpop_proof"'

dpop GET /dpop/x "$(proof d1 GET "http://127.0.0.1:1/dpop/x")"
check "DPoP: wrong authority in htu: 401" 401 "$CODE"

dpop GET /dpop/x "$(proof d2 GET "$URL/dpop/x")"
check "DPoP: proof signed by another key: 401" 401 "$CODE"
has "DPoP: wrong key: invalid_dpop_proof" "$WWWA" 'error="invalid_dpop_proof"'

dpop GET /dpop/x "$(A dpop --key "$W/d1.pem" --htm GET --htu "$URL/dpop/x")"
check "DPoP: proof without ath: 401" 401 "$CODE"
has "DPoP: no ath: invalid_dpop_proof" "$WWWA" 'error="invalid_dpop_proof"'

dpop GET /dpop/x "$(proof d1 GET "$URL/dpop/x" --iat $((NOW - 600)))"
check "DPoP: a proof 10 minutes old: 401" 401 "$CODE"

http GET /dpop/x -H "Authorization: DPoP $TD"
check "DPoP: no proof header: 401" 401 "$CODE"
has "DPoP: no proof header: invalid_dpop_proof" "$WWWA" 'error="invalid_dpop_proof"'

http GET /dpop/x -H "Authorization: DPoP $TD" -H "DPoP: $(proof d1 GET "$URL/dpop/x")" \
    -H "DPoP: $(proof d1 GET "$URL/dpop/x")"
check "DPoP: two proof headers: 401" 401 "$CODE"

http GET /kb/x -H "$(bearer "$TD")"
check "a DPoP-bound token as a Bearer token (no DPoP here): 401" 401 "$CODE"
has "a bound token as Bearer: invalid_token" "$WWWA" 'error="invalid_token", error_description="bad_binding"'

http GET /dpop-on/x -H "$(bearer "$TD")"
check "a bound token as a Bearer token where DPoP is on: 401" 401 "$CODE"

http GET /dpop/x -H "$(bearer "$T")"
check "DPoP required, a Bearer token: 401" 401 "$CODE"
has "DPoP required, a Bearer token: invalid_token" "$WWWA" 'error="invalid_token"'
has "DPoP required, a Bearer token: the challenge names the DPoP scheme" "$WWWA" \
    'DPoP realm="aim-test", algs="ES256 ES384 EdDSA RS256 PS256", error="invalid_token"'

dpop GET /dpop/x "$(A dpop --key "$W/d1.pem" --htm GET --htu "$URL/dpop/x" --token "$T")" "$T"
check "the DPoP scheme with an unbound token: 401 invalid_token" 401 "$CODE"
has "the DPoP scheme with an unbound token: invalid_token" "$WWWA" 'error="invalid_token"'

http GET /dpop-on/x -H "$(bearer "$T")"
check "DPoP on: an unbound Bearer token: 200" 200 "$CODE"
P=$(proof d1 GET "$URL/dpop-on/x")
dpop GET /dpop-on/x "$P"
check "DPoP on: a bound token with its proof: 200" 200 "$CODE"

# ------------------------------------------------------------------ trust

# An agent that keeps asking for a scope it lacks is probing (docs/trust.md):
# its trust falls below aim_trust_min, and even what its token grants is
# then refused with low_trust; other agents are not affected.
T_PROBER=$(issue --sub spiffe://test/agent/prober --scope "kb:read")
T_CALM=$(issue --sub spiffe://test/agent/calm --scope "kb:read")
http GET /trust/doc -H "$(bearer "$T_PROBER")"
check "trust: a new agent is allowed what its token grants" 200 "$CODE"
denied=0
for _ in $(seq 50); do
    http GET /trust/admin/x -H "$(bearer "$T_PROBER")"
    [ "$CODE" = 403 ] && denied=$((denied + 1))
done
check "trust: 50 requests for a scope the token lacks: 403" 50 "$denied"
http GET /trust/doc -H "$(bearer "$T_PROBER")"
check "trust: then a granted request is refused: 403" 403 "$CODE"
check "trust: ... with low_trust" \
    'Bearer realm="aim-test", error="insufficient_scope", error_description="low_trust"' "$WWWA"
http GET /trust/doc -H "$(bearer "$T_CALM")"
check "trust: another agent is still allowed" 200 "$CODE"
has "trust: the state file records the prober (aimctl stats)" \
    "$(A stats --state "$W/state" 2>&1)" "spiffe://test/agent/prober"

# ------------------------------------------------------------- revocation

revoked_within() { # line token -> seconds until 401 revoked, or "never"
    local start now
    start=$(date +%s.%N)
    echo "$1" >> "$W/revoked"
    while :; do
        http GET /kb/doc -H "$(bearer "$2")"
        now=$(date +%s.%N)
        if [ "$CODE" = 401 ] && [[ "$WWWA" == *'error_description="revoked"'* ]]; then
            awk -v a="$start" -v b="$now" 'BEGIN { printf "%.1f", b - a }'
            return
        fi
        if awk -v a="$start" -v b="$now" 'BEGIN { exit !(b - a > 5) }'; then
            # what the last answer was, and what the workers logged, so
            # that a failure on a loaded machine can be told from a bug
            echo "never (last answer $CODE ${WWWA:-no challenge};" \
                "error.log: $(grep -i 'revo' "$W/error.log" 2> /dev/null | tail -n 2 | tr '\n' ' '))"
            return
        fi
        sleep 0.05
    done
}
# Each worker re-reads the file on its own (at most once a second, on its
# next request): the first refusal may come from one worker only.  Every
# worker must refuse 2.2 s after the change.
all_refused() { # token start -> how many of 10 requests were refused as revoked
    local n=0 wait
    wait=$(awk -v a="$2" -v b="$(date +%s.%N)" 'BEGIN { w = a + 2.2 - b; if (w < 0) w = 0; printf "%.2f", w }')
    sleep "$wait"
    for _ in $(seq 10); do
        http GET /kb/doc -H "$(bearer "$1")"
        [[ "$CODE" = 401 && "$WWWA" == *'"revoked"'* ]] && n=$((n + 1))
    done
    echo $n
}

# a response allowed in a location with aim_recheck off and served in one
# with it on (rewrite ... last keeps the decision) is re-checked there
T_RC=$(issue --sub spiffe://test/agent/rc --scope kb:GET)
( curl -s -o "$W/rc.out" -H "$(bearer "$T_RC")" "http://127.0.0.1:$PORT/rc/off/big"
  echo "$? $(date +%s%3N)" > "$W/rc.end" ) &
RCPID=$!
sleep 1.5
echo "agent spiffe://test/agent/rc" >> "$W/revoked"
RC_AT=$(date +%s%3N)
wait "$RCPID"
cut_short "aim_recheck on where the request was served: the revoked download" "$W/rc" "$RC_AT" 2500

T_JTI=$(issue --sub spiffe://test/agent/revokee --scope kb:GET --jti revoke-me-$$)
http GET /kb/doc -H "$(bearer "$T_JTI")"
check "revocation: the token works before" 200 "$CODE"
rev_start=$(date +%s.%N)
t=$(revoked_within "jti revoke-me-$$" "$T_JTI")
if [ "${t%% *}" != never ] && awk -v t="$t" 'BEGIN { exit !(t <= 2.0) }'; then
    ok "revocation by jti takes effect within 2 s (${t} s)"
else
    not_ok "revocation by jti takes effect within 2 s" "took $t"
fi
check "revocation by jti: refused by every worker within 2.2 s" 10 "$(all_refused "$T_JTI" "$rev_start")"

http GET /kb/doc -H "$(bearer "$T_OTHER")"
check "agent revocation: the agent works before" 200 "$CODE"
t=$(revoked_within "agent spiffe://test/agent/other" "$T_OTHER")
if [ "${t%% *}" != never ] && awk -v t="$t" 'BEGIN { exit !(t <= 2.0) }'; then
    ok "revocation of an agent takes effect within 2 s (${t} s)"
else
    not_ok "revocation of an agent takes effect within 2 s" "took $t"
fi
http GET /kb/doc -H "$(bearer "$T")"
check "revocation: other agents are unaffected" 200 "$CODE"

# ---------------------------------------------------- key rotation on disk

T2=$(A issue --key "$W/k2.pem" --iss "$ISS" --aud "$AUD" --ttl 3600 --sub spiffe://test/agent/new \
          --scope kb:GET)
http GET /kb/doc -H "$(bearer "$T2")"
check "rotation: a token from the next key fails before" 401 "$CODE"

# Traffic with both tokens all through the rotation: only 200 and 401.
urls=()
for _ in $(seq 10); do urls+=(-o /dev/null "http://127.0.0.1:$PORT/kb/doc"); done
( while :; do
      curl -s -w '%{http_code}\n' -H "Authorization: Bearer $T" "${urls[@]}" \
          --next -s -w '%{http_code}\n' -H "Authorization: Bearer $T2" "${urls[@]}" \
          >> "$W/traffic"
      sleep 0.05
  done ) &
TRAFFIC_PID=$!
at_defer kill "$TRAFFIC_PID"

replace_keys() { cp "$1" "$W/jwks.new" && chmod 644 "$W/jwks.new" && mv -f "$W/jwks.new" "$W/jwks.json"; }
until_code() { # code token -> seconds until a request answers code
    local start now
    start=$(date +%s.%N)
    while :; do
        http GET /kb/doc -H "$(bearer "$2")"
        now=$(date +%s.%N)
        if [ "$CODE" = "$1" ]; then
            awk -v a="$start" -v b="$now" 'BEGIN { printf "%.1f", b - a }'; return
        fi
        if awk -v a="$start" -v b="$now" 'BEGIN { exit !(b - a > 6) }'; then
            echo never; return
        fi
        sleep 0.05
    done
}

A jwks "$W/k2.pem" > "$W/jwks.k2"
replace_keys "$W/jwks.k2"
t=$(until_code 200 "$T2")
if [ "${t%% *}" != never ] && awk -v t="$t" 'BEGIN { exit !(t <= 2.0) }'; then
    ok "rotation: the new key is used within 2 s (${t} s)"
else
    not_ok "rotation: the new key is used within 2 s" "took $t"
fi
sleep 1.2
n=0
for _ in $(seq 6); do
    http GET /kb/doc -H "$(bearer "$T2")"
    [ "$CODE" = 200 ] && n=$((n + 1))
done
check "rotation: every worker uses the new key" 6 "$n"
http GET /kb/doc -H "$(bearer "$T")"
check "rotation: a token from the removed key fails" 401 "$CODE"
has "rotation: the removed key is unknown" "$WWWA" 'error_description="unknown_key"'

echo '{"keys": [ {"kty": "EC", "crv": "P-256", "kid": "broken"' > "$W/jwks.bad"
replace_keys "$W/jwks.bad"
sleep 2.5
n=0
for _ in $(seq 10); do
    http GET /kb/doc -H "$(bearer "$T2")"
    [ "$CODE" = 200 ] && n=$((n + 1))
done
check "rotation: a bad new key file keeps the old keys (10 requests)" 10 "$n"
has "rotation: the bad key file is logged" "$(cat "$W/error.log")" "key reload failed"

A jwks "$W/k1.pem" "$W/k2.pem" > "$W/jwks.both"
replace_keys "$W/jwks.both"
t=$(until_code 200 "$T")
[ "$t" != never ] && ok "rotation: both keys after the file is fixed (${t} s)" \
    || not_ok "rotation: both keys after the file is fixed"

kill "$TRAFFIC_PID" 2>/dev/null
wait "$TRAFFIC_PID" 2>/dev/null
TRAFFIC_PID=
codes=$(sort "$W/traffic" | uniq -c | awk '{printf "%s:%s ", $2, $1}')
others=$(grep -cv '^\(200\|401\)$' "$W/traffic")
if [ "$others" -eq 0 ] && [ "$(wc -l < "$W/traffic")" -gt 20 ]; then
    ok "rotation under traffic: only 200 and 401 ($codes)"
else
    not_ok "rotation under traffic: only 200 and 401" "$codes"
fi

# ------------------------------------------------------------ subrequests

# Every subrequest into an "aim on" location is decided (nginx runs no
# access phase for subrequests) and writes its audit line.
audits() { # resource reason -> audit lines so far
    grep -c "aim audit: .*\"reason\":\"$2\".*\"resource\":\"$1\"" "$W/error.log"
}
audited() { # name resource reason before
    local n
    for _ in $(seq 20); do
        n=$(audits "$2" "$3")
        [ "$n" -gt "$4" ] && break
        sleep 0.1
    done
    check "$1: one audit line ($3)" $(($4 + 1)) "$n"
}
subreq() { # kind path resource body-needle
    local kind=$1 path=$2 res=$3 before
    before=$(audits "$res" no_token)
    http GET "$path"
    case $kind in
        auth_request)
            check "$kind without a token: 401" 401 "$CODE"
            check "$kind without a token: the challenge" 'Bearer realm="aim-test"' "$WWWA" ;;
        mirror) check "$kind without a token: the main request answers" 200 "$CODE" ;;
        *) hasnt "$kind without a token: no protected content" "$BODY" "agent=" ;;
    esac
    audited "$kind without a token" "$res" no_token "$before"
    before=$(audits "$res" insufficient_scope)
    http GET "$path" -H "$(bearer "$T")"
    case $kind in
        auth_request) check "$kind, scope too low: 403" 403 "$CODE" ;;
        mirror) ;;
        *) hasnt "$kind, scope too low: no protected content" "$BODY" "agent=" ;;
    esac
    audited "$kind, scope too low" "$res" insufficient_scope "$before"
    before=$(audits "$res" ok)
    http GET "$path" -H "$(bearer "$T_ADMIN")"
    case $kind in
        auth_request) check "$kind, admin: 200" 200 "$CODE" ;;
        mirror) ;;
        *) has "$kind, admin: the protected content" "$BODY" "agent=spiffe://test/agent/admin|" ;;
    esac
    audited "$kind, admin" "$res" ok "$before"
}
subreq auth_request /ar/x /secret/auth
# Two challenges (Bearer and DPoP): nginx 1.23 and later keep a header's
# values in a list, which auth_request passes on whole.
http GET /ar2/x
check "auth_request, two challenges: 401" 401 "$CODE"
NGX_VERSION=$(ngx_version)
if [ "$(printf '%s\n1.23.0\n' "$NGX_VERSION" | sort -V | head -1)" = 1.23.0 ]; then
    check "auth_request, two challenges: both reach the client" \
        'Bearer realm="aim-test"#DPoP realm="aim-test", algs="ES256 ES384 EdDSA RS256 PS256"' "$WWWA"
else
    check "auth_request, two challenges: nginx $NGX_VERSION passes the first" 'Bearer realm="aim-test"' "$WWWA"
fi
subreq ssi /ssi/page.html /secret/ssi
subreq addition /add/page.html /secret/add
subreq mirror /mir/x /secret/mirror
mirrored=$(grep -c '^/secret/mirror$' "$W/up.log")
check "mirror: only the admin's mirrored request reached the upstream" 1 "$mirrored"
if [ -n "$ECHO_LOC" ]; then
    subreq echo_location /echo/x /secret/echo
else
    # Not a skip: there is no echo module for an nginx built here
    # (make test-nginx runs these checks with Debian's nginx).
    echo "# echo_location: no echo module for nginx $NGX_VERSION (Debian's serves Debian's nginx only)"
fi

# slice makes its subrequests as clones of a request decided in the same
# location: the main request is refused before any slice is fetched.
http GET /slice/ten
check "slice without a token: 401" 401 "$CODE"
http GET /slice/ten -H "$(bearer "$T_REPORTS")"
check "slice, scope too low: 403" 403 "$CODE"
http GET /slice/ten -H "$(bearer "$T")"
check "slice: the whole body from 3 slices" "0123456789" "$BODY"

# ----------------------------------------- the rewrite phase, redirects

http GET /ret/x
check "return in a protected location: no token, 401 (aim decides first)" 401 "$CODE"
hasnt "return in a protected location: not answered" "$BODY" "answered"
http GET /ret/x -H "$(bearer "$T")"
check "return in a protected location: a valid token, the return" "answered" "$BODY"

http GET /lax/x -H "$(bearer "$T")"
check "redirect to a stricter location: decided afresh, 403" 403 "$CODE"
http GET /lax/x -H "$(bearer "$T_ADMIN")"
check "redirect to a stricter location: admin, 200" 200 "$CODE"

http GET /lmt/x
check "limit_except: GET is not limited" 200 "$CODE"
http PUT /lmt/x
check "limit_except: PUT needs a token" 401 "$CODE"
http PUT /lmt/x -H "$(bearer "$T")"
check "limit_except: PUT needs admin" 403 "$CODE"
http PUT /lmt/x -H "$(bearer "$T_ADMIN")"
check "limit_except: PUT with admin" 200 "$CODE"

http GET /setscope/x -H "$(bearer "$T")"
check "scope changed by set after the first decision: decided again, allowed" 200 "$CODE"
T_GETONLY=$(issue --sub spiffe://test/agent/getonly --scope kb:GET)
http GET /setscope/x -H "$(bearer "$T_GETONLY")"
check "scope changed by set after the first decision: kb:PUT enforced" 403 "$CODE"
has "scope changed by set: the challenge names kb:PUT" "$WWWA" 'scope="kb:PUT"'

http GET /satisfy/x
check "satisfy any: not allowed by address, no token: 401" 401 "$CODE"
http GET /satisfy/x -H "$(bearer "$T")"
check "satisfy any: a token suffices" 200 "$CODE"

http GET /cookie/x -H "Cookie: agent_token=$T"
check "aim_token \$cookie_...: the token from the cookie" 200 "$CODE"
has "aim_token: the agent" "$BODY" "agent=spiffe://test/agent/reader|"
http GET /cookie/x -H "$(bearer "$T")"
check "aim_token: the Authorization header is not read" 401 "$CODE"

# hostile review: a decision taken in one configuration is never reused
# for a stricter one; no token and too little scope are refused there
T_OTHERAUD=$(A issue --key "$W/k1.pem" --iss "$ISS" --aud https://other.test \
    --sub spiffe://test/agent/elsewhere --scope "admin kb:GET")
rv() {  # name path [curl args]: 401 without a token, 403 with kb:GET only
    local name=$1 path=$2
    shift 2
    http GET "$path" "$@"
    check "$name: no token, 401" 401 "$CODE"
    hasnt "$name: no token, no protected answer" "$BODY" "agent="
    http GET "$path" -H "$(bearer "$T")" "$@"
    check "$name: kb:GET only, 403" 403 "$CODE"
    hasnt "$name: kb:GET only, no protected answer" "$BODY" "agent="
}
rv "rewrite ... last (context kept) to a stricter location" /rv-rw/x
http GET /rv-rw/x -H "$(bearer "$T_ADMIN")"
check "rewrite ... last to a stricter location: admin, 200" 200 "$CODE"
rv "error_page to a stricter URI" /rv-ep/x
rv "error_page to a stricter named location" /rv-named/x
http GET /rv-named/x -H "$(bearer "$T_ADMIN")"
check "error_page to a stricter named location: admin, 200" 200 "$CODE"
rv "X-Accel-Redirect from the upstream to a stricter location" /rv-xar/x
hasnt "X-Accel-Redirect: the upstream's own answer is not passed" "$BODY" "to be redirected"
http GET /rv-xar/x -H "$(bearer "$T_ADMIN")"
check "X-Accel-Redirect to a stricter location: admin, 200" 200 "$CODE"
has "X-Accel-Redirect to a stricter location: admin reaches it" "$BODY" "agent=spiffe://test/agent/admin|"
rv "nested location with a stricter scope" /rv-nest/admin/x
rv "if block answering with return" "/rv-if/x?ret=1"
hasnt "if block with return: no admin answer" "$BODY" "admin answer"
http GET "/rv-if/x?ret=1" -H "$(bearer "$T_ADMIN")"
check "if block with return: admin gets it" "admin answer" "$BODY"
rv "if block with proxy_pass" "/rv-if/x?proxy=1"

http GET /rv-tok/x -H "X-Low-Token: $T"
check "aim_token from another header, then a location reading Authorization: 401" 401 "$CODE"
http GET /rv-tok/x -H "X-Low-Token: $T" -H "$(bearer "$T")"
check "aim_token from another header, then Authorization: too little scope, 403" 403 "$CODE"
http GET /rv-tok/x -H "X-Low-Token: $T_ADMIN"
check "an admin token in the other header does not stand for the location's: 401" 401 "$CODE"
http GET /rv-aud/x -H "$(bearer "$T_OTHERAUD")"
check "a location-level audience's token, then the server's audience: 401" 401 "$CODE"
has "another audience at the stricter location: bad_audience" "$WWWA" 'error_description="bad_audience"'
http GET /rv-aud/x
check "a location-level audience, no token: 401" 401 "$CODE"
http GET /rv-bearer/x -H "$(bearer "$T")"
check "Bearer allowed, then a location requiring DPoP: 401" 401 "$CODE"
hasnt "Bearer allowed, then DPoP required: no protected answer" "$BODY" "agent="

# the upstream's identity headers come from this location's decision
http GET /rv-pol/x -H "$(bearer "$T_ADMIN")"
has "the policy's location alone: \$aim_scope is the policy's" "$BODY" "scope=kb:GET|"
http GET /rv-var/x -H "$(bearer "$T_ADMIN")"
check "variables read in a laxer location, then a policy's: allowed" 200 "$CODE"
has "variables read in a laxer location: \$aim_scope is the policy's" "$BODY" "scope=kb:GET|"
http GET /rv-sub/x -H "$(bearer "$T_ADMIN")"
check "variables read by an auth_request subrequest, then a policy's: allowed" 200 "$CODE"
has "variables read by an auth_request subrequest: \$aim_scope is the policy's" "$BODY" "scope=kb:GET|"

# the token a location's "set" puts in aim_token's variable after the
# decision is decided again: never passed on unverified
http GET /rv-settok/x -H "X-First-Token: $T"
check "aim_token's variable: the token decided, 200" 200 "$CODE"
has "aim_token's variable: the upstream sees the decided token" "$BODY" "evil=$T|"
http GET /rv-settok/x -H "X-First-Token: $T" -H "X-Second-Token: forged.token.here"
check "aim_token's variable changed by set after the decision: decided again, 401" 401 "$CODE"
hasnt "aim_token's variable changed: the unverified token is not passed on" "$BODY" "forged"
http GET /rv-settok/x -H "X-First-Token: $T" -H "X-Second-Token: $T_REPORTS"
check "aim_token's variable changed to a token without kb:GET: 403" 403 "$CODE"
http GET /rv-settok/x -H "X-First-Token: $T_REPORTS" -H "X-Second-Token: $T"
check "aim_token's variable: the first token refused, the refusal stands" 403 "$CODE"

# keepalive: one connection, tokens alternating, each request decided
curl -s -o /dev/null -w '%{http_code} %{num_connects}\n' \
    -H "$(bearer "$T_ADMIN")" "http://127.0.0.1:$PORT/secret/ka1" \
    --next -s -o /dev/null -w '%{http_code} %{num_connects}\n' "http://127.0.0.1:$PORT/secret/ka2" \
    --next -s -o /dev/null -w '%{http_code} %{num_connects}\n' -H "$(bearer "$T")" "http://127.0.0.1:$PORT/secret/ka3" \
    --next -s -o /dev/null -w '%{http_code} %{num_connects}\n' -H "$(bearer "$T_ADMIN")" "http://127.0.0.1:$PORT/secret/ka4" \
    > "$W/ka" 2>&1
check "keepalive, tokens alternating: admin, none, kb:GET, admin on one connection" \
    "200 1 401 0 403 0 200 0" "$(paste -sd' ' "$W/ka")"

# HTTP/2: streams multiplexed on one connection, tokens alternating
# (node's http2 client: curl 7.88 does not reuse a prior-knowledge
# connection; node comes with ./deps.sh for test-mcp)
if [ -n "$H2_SERVER" ]; then
    if command -v node > /dev/null; then
        check "HTTP/2, six streams at once on one connection, tokens alternating" \
            "200 spiffe://test/agent/admin|401 -|403 -|200 spiffe://test/agent/admin|401 -|403 -" \
            "$(node "$AT_ROOT/tests/nginx/h2.js" "http://127.0.0.1:$H2P/secret/h2-" \
                 "$T_ADMIN" - "$T" "$T_ADMIN" - "$T_REPORTS" 2>&1 | paste -sd'|')"
    else
        skip "HTTP/2 streams with alternating tokens: node is missing (./deps.sh)"
    fi
fi

# pipelined on one connection: admin, then no token, then kb:GET
( trap '' PIPE
  exec 3<> "/dev/tcp/127.0.0.1/$PORT"
  printf 'GET /secret/p1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer %s\r\n\r\nGET /secret/p2 HTTP/1.1\r\nHost: a\r\n\r\nGET /secret/p3 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n' "$T_ADMIN" "$T" >&3
  timeout 5 cat <&3 ) > "$W/pipe" 2>&1
check "pipelined, tokens alternating: 200, 401, 403" "200 401 403" \
    "$(tr -d '\r' < "$W/pipe" | awk '/^HTTP\/1.1 /{print $2}' | paste -sd' ')"


# \$aim_reason is empty ("-") for a request refused before any decision.
( trap '' PIPE
  exec 3<> "/dev/tcp/127.0.0.1/$PORT"
  printf 'GET /kb/reason-%s HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n' $$ >&3
  timeout 5 cat <&3 ) > /dev/null 2>&1
sleep 0.2
has "\$aim_reason: - for a request nginx refused first (400)" \
    "$(grep "reason-$$" "$W/access.log")" "400 agent=- reason=-"

# ------------------------------------------------- DPoP: the server's origin

dpop GET /dpop/x "$(proof d1 GET http://other.example/dpop/x)" -H "Host: other.example"
check "DPoP: an htu naming the client's Host, not this server: 401" 401 "$CODE"
NURL=http://127.0.0.1:$NAMED
P=$(proof d1 GET http://api.test:$NAMED/dpop/x)
http GET /dpop/x -H "Authorization: DPoP $TD" -H "DPoP: $P" --connect-to "::127.0.0.1:$NAMED"
check "DPoP: the server_name and port: 200" 200 "$CODE"
http GET /dpop/x -H "Authorization: DPoP $TD" -H "DPoP: $(proof d1 GET "$NURL/dpop/x")" \
    --connect-to "::127.0.0.1:$NAMED"
check "DPoP: with a server_name, the address is not the origin" 401 "$CODE"
code=$(curl -s -0 -o /dev/null -w '%{http_code}' -H "Host:" -H "Authorization: DPoP $TD" \
       -H "DPoP: $(proof d1 GET http://api.test:$NAMED/dpop/y)" "$NURL/dpop/y")
check "DPoP: a request without Host (HTTP/1.0): 200, not 500" 200 "$code"
code=$(curl -s -0 -o /dev/null -w '%{http_code}' -H "Host:" -H "Authorization: DPoP $TD" \
       -H "DPoP: $(proof d1 GET http://other.example/dpop/y)" "$NURL/dpop/y")
check "DPoP: a request without Host, a wrong proof: 401" 401 "$code"
http GET /behind/x -H "Authorization: DPoP $TD" -H "DPoP: $(proof d1 GET https://public.example/behind/x)" \
    --connect-to "::127.0.0.1:$NAMED"
check "DPoP: aim_dpop_origin is the origin" 200 "$CODE"

# One proof, two decisions of one request: an internal redirect to a
# second protected location, and an identification ($aim_agent for
# limit_req, before a "satisfy any" decision) then the decision.
P=$(proof d1 GET "$URL/dpop-redir/x")
dpop GET /dpop-redir/x "$P"
check "DPoP: redirected to a second protected location, one proof: 200" 200 "$CODE"
has "DPoP: ... the second location decided" "$BODY" "agent=spiffe://test/agent/bound|"
dpop GET /dpop-redir/x "$P"
check "DPoP: ... and the proof is used up" 401 "$CODE"
P=$(proof d1 GET "$URL/dpop-ident/x")
dpop GET /dpop-ident/x "$P"
check "DPoP: identified for limit_req, then decided, one proof: 200" 200 "$CODE"
dpop GET /dpop-ident/x "$P"
check "DPoP: ... and the proof is used up" 401 "$CODE"

# ------------------------------------------ mTLS-bound tokens (RFC 8705)

T_X5T=$(issue --sub spiffe://test/agent/mtls --claim "cnf={\"x5t#S256\":\"$X5T\"}")
tls() { curl -sk -o /dev/null -w '%{http_code}' "$@" "https://127.0.0.1:$TLS/mtls/x"; }
check "mTLS: a bound token with its client certificate: 200" 200 \
    "$(tls --cert "$W/cli1.pem" --key "$W/cli1.key" -H "$(bearer "$T_X5T")")"
check "mTLS: a bound token with another certificate: 401" 401 \
    "$(tls --cert "$W/cli2.pem" --key "$W/cli2.key" -H "$(bearer "$T_X5T")")"
check "mTLS: a bound token without a certificate: 401" 401 "$(tls -H "$(bearer "$T_X5T")")"
check "mTLS: a bound token over plain HTTP: 401" 401 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "$(bearer "$T_X5T")" "$URL/kb/x")"
check "mTLS: an unbound token without a certificate: 200" 200 "$(tls -H "$(bearer "$T")")"

# ----------------------------------------------- a list workers cannot read

T_RD=$(issue --sub spiffe://test/agent/reader2 --scope kb:GET)
http GET /kb/doc -H "$(bearer "$T_RD")"
check "unreadable revocation list: the token works before" 200 "$CODE"
cp "$W/revoked" "$W/revoked.new" && chmod 600 "$W/revoked.new" && mv -f "$W/revoked.new" "$W/revoked"
sleep 2.2
n=0
for _ in $(seq 6); do
    http GET /kb/doc -H "$(bearer "$T_RD")"
    [[ "$CODE" = 401 && "$WWWA" == *'"revoked"'* ]] && n=$((n + 1))
done
check "unreadable revocation list: every worker refuses (fail closed)" 6 "$n"
has "unreadable revocation list: the error log says why" "$(cat "$W/error.log")" \
    "every token is refused until the list can be read"
chmod 644 "$W/revoked"
sleep 2.2
http GET /kb/doc -H "$(bearer "$T_RD")"
check "unreadable revocation list: readable again, allowed" 200 "$CODE"

# ------------------------------------------------------------- reload

kill -HUP "$MASTER"
sleep 1
http GET /kb/doc -H "$(bearer "$T")"
check "nginx -s reload: still verifying" 200 "$CODE"
http GET /kb/doc
check "nginx -s reload: still refusing" 401 "$CODE"
P=$(proof d1 GET "$URL/dpop/x")
dpop GET /dpop/x "$P"
dpop GET /dpop/x "$P"
check "nginx -s reload: the replay cache still works" 401 "$CODE"

# ------------------------------------------------------ tokens never logged

ngx_stop
leaks=0
for tok in "$T" "$T2" "$TD" "$T_OTHER" "$T_JTI"; do
    for f in "$W/error.log" "$W/access.log"; do
        grep -qF -e "${tok##*.}" "$f" && leaks=$((leaks + 1))
        grep -qF -e "$tok" "$f" && leaks=$((leaks + 1))
    done
done
check "no token or signature in the error or access log" 0 "$leaks"
check "no alert or crash in the error log" 0 "$(grep -c '\[alert\]\|\[emerg\]\|exited on signal' "$W/error.log")"

# -------------------------------------------------- nginx -t, bad configs

# conftest NAME ok|fail NEEDLE HTTP-BODY...: nginx -t on a configuration
# of its own in $W/t (NGX_DIR is local: the suite's nginx stays
# NGX_DIR's), the body's directives on one line, a server after them.
conftest() {
    local name=$1 expect=$2 needle=$3 out rc NGX_DIR
    shift 3
    ngx_conf "$W/t" <<EOF
$*
    server { listen 127.0.0.1:$PORT; location / { aim on; proxy_pass http://127.0.0.1:$UP; } }
EOF
    out=$(ngx_test -q)
    rc=$?
    if { [ "$expect" = ok ] && [ $rc -eq 0 ]; } || { [ "$expect" = fail ] && [ $rc -ne 0 ]; }; then
        has "nginx -t: $name" "$out" "$needle"
    else
        not_ok "nginx -t: $name (exit $rc)" "$out"
    fi
}
GOOD="aim_keys $W/jwks.both; aim_issuer $ISS; aim_audience $AUD;"
# The line conftest's body stands on (the server is on the next).
BODY_LINE=$(ngx_conf "$W/t" <<< "# the body"; grep -n '^# the body$' "$W/t/nginx.conf" | cut -d: -f1)
printf 'not json\n' > "$W/t/garbage.json"
printf 'block everything\n' > "$W/t/bad-revoked"

conftest "a good configuration passes" ok "" "$GOOD"
# an if block cannot have requirements of its own: its return would
# answer before they were decided
for d in "aim on" "aim_scope admin" "aim_dpop required" "aim_token \$http_x" "aim_audience x"; do
    conftest "${d%% *} is refused in an if block" fail "is not allowed here" \
        "$GOOD server { listen 127.0.0.1:$UP; location /x { aim on; if (\$arg_a) { $d; return 200; } proxy_pass http://127.0.0.1:1; } }"
done
conftest "aim on without keys fails, naming aim on, its line and aim_keys" fail \
    "\"aim on\" in $W/t/nginx.conf:$((BODY_LINE + 1)) needs \"aim_keys\"" \
    "aim_issuer $ISS; aim_audience $AUD;"
conftest "aim on without an issuer fails, naming aim_issuer" fail '"aim_issuer"' \
    "aim_keys $W/jwks.both; aim_audience $AUD;"
conftest "aim on without an audience fails, naming aim_audience" fail '"aim_audience"' \
    "aim_keys $W/jwks.both; aim_issuer $ISS;"
conftest "a bad key file fails, naming aim_keys, the file and the line" fail \
    "\"aim_keys\" directive: $W/t/garbage.json" \
    "aim_keys $W/t/garbage.json; aim_issuer $ISS; aim_audience $AUD;"
conftest "a bad key file: the line of aim_keys" fail "nginx.conf:$BODY_LINE" \
    "aim_keys $W/t/garbage.json; aim_issuer $ISS; aim_audience $AUD;"
conftest "a missing key file fails" fail "\"aim_keys\" directive: cannot open \"$W/t/nope.json\"" \
    "aim_keys $W/t/nope.json; aim_issuer $ISS; aim_audience $AUD;"
conftest "a bad revocation file fails" fail "\"aim_revoked\" directive" \
    "$GOOD aim_revoked $W/t/bad-revoked;"
conftest "aim_dpop with an unknown value fails" fail 'invalid value "maybe"' "$GOOD aim_dpop maybe;"
conftest "aim_leeway out of range fails" fail '"aim_leeway" directive' "$GOOD aim_leeway 2h;"
conftest "aim_leeway not a time fails" fail '"aim_leeway"' "$GOOD aim_leeway soon;"
conftest "aim_cache not a number fails" fail '"aim_cache" directive' "$GOOD aim_cache lots;"
conftest "an invalid fixed scope fails" fail 'invalid scope' "$GOOD aim_scope 'a\"b';"
conftest "aim_scope and aim_scope_any in one block fail" fail 'is duplicate' \
    "$GOOD aim_scope a; aim_scope_any b c;"
conftest "two issuers with an unbound key source fail" fail 'bind every key source' \
    "aim_keys $W/jwks.both; aim_issuer $ISS; aim_issuer https://two.test; aim_audience $AUD;"
conftest "aim_keys ISSUER FILE: ISSUER must be a configured issuer" fail 'not a configured issuer' \
    "aim_keys https://three.test $W/jwks.both; aim_issuer $ISS; aim_audience $AUD;"
conftest "two issuers, each key source bound: ok" ok "" \
    "aim_keys https://two.test $W/jwks.k2; aim_keys $ISS $W/jwks.k1; aim_issuer $ISS; aim_issuer https://two.test; aim_audience $AUD;"
conftest "the old issuer= form says how to write it" fail 'write "aim_keys ISSUER FILE;"' \
    "aim_keys $W/jwks.both issuer=$ISS; aim_issuer $ISS; aim_audience $AUD;"
conftest "aim_keys with three words fails, naming the option" fail '"aim_keys" directive: keys: takes 1 to 2 values' \
    "aim_keys a b c; aim_issuer $ISS; aim_audience $AUD;"
mkdir -p "$W/t/with space"
cp "$W/jwks.both" "$W/t/with space/jwks.json"
conftest "a key file whose path has a space" ok "" \
    "aim_keys '$W/t/with space/jwks.json'; aim_issuer $ISS; aim_audience $AUD;"
conftest "aim_dpop_max_age is bounded by the core" fail '"aim_dpop_max_age" directive' \
    "$GOOD aim_dpop_max_age 100y;"
cp "$W/revoked" "$W/t/private-revoked"; chmod 600 "$W/t/private-revoked"
conftest "a revocation file the worker user cannot read fails" fail \
    "the worker user \"nobody\" cannot read \"$W/t/private-revoked\"" "$GOOD aim_revoked $W/t/private-revoked;"
printf 'keys %s\nissuer %s\naudience %s\n' "$W/jwks.both" "$ISS" "$AUD" > "$W/t/aim.conf"
conftest "aim_config: the host configuration file alone" ok "" "aim_config $W/t/aim.conf;"
conftest "aim_config: a direct setting wins over the file" fail "\"aim_keys\" directive: $W/t/garbage.json" \
    "aim_config $W/t/aim.conf; aim_keys $W/t/garbage.json;"
printf 'keys %s\nleeway soon\n' "$W/jwks.both" > "$W/t/bad.conf"
conftest "aim_config: an error names the file, its line and the directive" fail \
    "\"aim_config\" directive: $W/t/bad.conf:2: leeway" "aim_config $W/t/bad.conf;"
conftest "aim_audit to an unwritable place fails" fail '"aim_audit" directive' \
    "$GOOD aim_audit /proc/aim-audit.log;"
conftest "aim in limit_except" ok "" \
    "$GOOD server { listen 127.0.0.1:$UP; location /x { limit_except GET { aim on; } proxy_pass http://127.0.0.1:1; } }"

# Every option of the core is a directive (and the module checks it too).
missing=""
while read -r name min _; do
    args=$(printf ' x%.0s' $(seq "$min"))
    out=$(ngx_conf "$W/t/opt" <<< "    aim_$name$args;"; ngx_test -q)
    case $out in *"unknown directive"*) missing="$missing aim_$name" ;; esac
done < <("$OPTIONS")
check "every option of the core is a directive" "" "$missing"

finish
