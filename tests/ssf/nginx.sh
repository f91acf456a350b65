#!/bin/bash
# tests/ssf/nginx.sh -- shared signals through nginx (ngx_http_aim_ssf_module)
# and the three adapters of a host, then a fleet of three hosts on loopback.
#
#   one host   the test transmitter (tests/ssf/transmitter.py) pushes a
#              CAEP session-revoked for agent X to nginx's aim_ssf_receiver
#              (RFC 8935); X's old token is then refused -- reason revoked
#              -- by nginx, by PAM (pamtester under pam_wrapper) and by
#              PostgreSQL (pg_aim in a throwaway cluster, aim.session_init),
#              all sharing one state file, within 2 s; agent Y is not.  An
#              open PostgreSQL session is cut at its next statement.
#              Forged, wrong-audience, wrong-issuer, unknown-key, expired,
#              replayed and non-SET pushes change nothing and get RFC 8935's
#              answers; 405, 415, 413, 401, 403 and 503 (journal busy) at
#              the HTTP level.  The poll publisher (aim_ssf_publish) and the
#              key set (aim_ssf_jwks) at the HTTP level; a poller named by
#              its client certificate and a push over mutual TLS; nginx -t
#              on bad configurations.
#   a fleet    hosts A, B and C: three state files, three nginx instances,
#              each publishing its own signals and polling the other two
#              with aimctl ssf poll --interval 1.  An agent probes A until A
#              distrusts it: B and C refuse it within the poll interval (the
#              time is measured and printed); nobody echoes the signal.  An
#              agent revoked on C with aimctl revoke is refused by A and B.
#
#   tests/ssf/nginx.sh             (as root: nginx workers, postgres)
#
# Ports are free ones (tests/lib/aimtest.sh).  Last line:
# "ssf-nginx: N passed, N failed, N skipped".

set -u
. "$(dirname "$0")/../lib/aimtest.sh"
at_suite ssf-nginx
TXPY=$AT_ROOT/tests/ssf/transmitter.py
PAM_SO=$AT_BUILD/pam_aim.so

at_need_root "nginx workers run as nobody and the cluster as postgres"
at_need_files "$AIMCTL" "$NGX_MODULE" "$PAM_SO" "$PG_CONFIG"
at_need_cmds curl jq python3 openssl pamtester flock make
python3 -c 'import cryptography' 2>/dev/null || bail "python3-cryptography is not installed (./deps.sh)"
at_pam_wrapper || bail "libpam-wrapper is not installed (./deps.sh)"

at_rundir ssf-nginx || bail "a run directory"
T=$AT_RUN
cd "$T" || exit 1
umask 022
for v in PA PB PC PT PD PG_PORT; do at_port "$v" || bail "a free port"; done

A() { "$AIMCTL" "$@"; }
jqo() { printf '%s' "$OUT" | jq -e "$@" > /dev/null 2>&1; }
now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
NOW=$(date +%s)

# ---------------------------------------------------------------- keys
ISS=https://issuer.test AUD=https://api.test
ISSUER_KEY=$T/iss.pem
ISSUE_ARGS=(--ttl 3600)
mint_key iss.pem && mint_jwks iss.jwks iss.pem || bail "the token issuer's keys"
python3 "$TXPY" jwks --key tx.pem --out tx.jwks && python3 "$TXPY" jwks --key evil.pem --out evil.jwks \
    || bail "the transmitter's keys"
chmod 644 tx.jwks
TXISS=https://idp.test
for h in a b c; do mint_key "$h.pem" || bail "host $h's signing key"; done

# A test CA, nginx's TLS certificate, a poller's client certificate.
openssl_quiet() { openssl "$@" >/dev/null 2>&1; }
mkca() {
    openssl_quiet req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$1.key" -out "$1.pem" -days 2 -subj "/CN=$1"
}
mkcert() {   # NAME CA EXTENSIONS
    openssl_quiet req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$1.key" -out "$1.csr" -subj "/CN=$1/O=fleet" &&
    printf '%s\n' "$3" > "$1.ext" &&
    openssl_quiet x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" \
        -CAcreateserial -out "$1.pem" -days 2 -extfile "$1.ext"
}
mkca ca && mkcert server ca "subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth" && mkcert poller-m ca "extendedKeyUsage=clientAuth" \
    || bail "a test CA and certificates (openssl)"
chmod 600 ./*.key
chmod 644 ca.pem server.pem

# Agents and their tokens.  The scopes cover every adapter's requirement.
X=spiffe://fleet.test/agent/x Y=spiffe://fleet.test/agent/y
W=spiffe://fleet.test/agent/w P=spiffe://fleet.test/agent/prober
Z=spiffe://fleet.test/agent/z
SCOPES="api:GET pam:login:nobody pg:role:reporting"
X_OLD=$(issue --sub "$X" --scope "$SCOPES" --iat $((NOW - 60)))
Y_TOK=$(issue --sub "$Y" --scope "$SCOPES" --iat $((NOW - 60)))
W_TOK=$(issue --sub "$W" --scope "$SCOPES" --iat $((NOW - 60)))
P_TOK=$(issue --sub "$P" --scope "api:GET")
Z_TOK=$(issue --sub "$Z" --scope "api:GET")
IDP_TOK=$(issue --sub spiffe://fleet.test/idp --scope ssf:push)
NOSCOPE_TOK=$(issue --sub spiffe://fleet.test/idp --scope api:GET)

# --------------------------------------------------------------- hosts
# host_dir H: its state file and journal, shared by nginx's workers,
# PostgreSQL's backends and PAM through a group (at_shared, as
# docs/trust.md recommends); its revocation list and audit file; its
# aim.conf for aimctl (the receiver of its peers' signals).
host_dir() {
    local h=$1 p
    mkdir -p "$T/$h"
    at_shared "$T/$h/state" "$T/$h/state.ssf" "$T/$h/audit.log"
    printf '# none\n' > "$T/$h/revoked"
    {
        echo "issuer   $ISS"
        echo "state    $T/$h/state"
        echo "revoked  $T/$h/revoked"
        for p in a b c; do
            [ "$p" = "$h" ] && continue
            echo "ssf_keys   https://$p.test $T/peers/$p.jwks"
            echo "ssf_issuer https://$p.test"
        done
        echo "ssf_audience urn:aim:fleet"
    } > "$T/$h/aim.conf"
    # Its poller's bearer token, for the other hosts' publishers.
    issue --sub "spiffe://fleet.test/host/$h" --scope ssf:poll > "$T/$h/poll.token"
    chmod 600 "$T/$h/poll.token"
}

# host_conf H PORT [EXTRA]: H's nginx: an API, the push receiver for the
# identity provider, the poll publisher and the key set of H's signals.
host_conf() {
    local h=$1 port=$2 extra=${3-}
    ngx_conf "$T/$h/nginx" "$AT_NGX_USER" "worker_processes 2;" <<EOF
    access_log $T/$h/nginx/access.log;

    aim_keys      $T/iss.jwks;
    aim_issuer    $ISS;
    aim_audience  $AUD;
    aim_state     $T/$h/state;
    aim_revoked   $T/$h/revoked;
    aim_audit     $T/$h/audit.log;

    aim_ssf_keys              $T/tx.jwks;
    aim_ssf_issuer            $TXISS;
    aim_ssf_audience          https://$h.test/ssf;
    aim_ssf_sign_key          $T/$h.pem;
    aim_ssf_publish_issuer    https://$h.test;
    aim_ssf_publish_audience  urn:aim:fleet;

    server {
        listen 127.0.0.1:$port;

        location /api/ {
            aim        on;
            aim_scope  api:\$request_method;
            return 200 "ok \$aim_agent\n";
        }
        location = /ssf/events {
            aim        on;
            aim_scope  ssf:push;
            aim_ssf_receiver;
            if (\$arg_via_if) {
                set \$via_if 1;
            }
        }
        location = /ssf/poll {
            aim        on;
            aim_scope  ssf:poll;
            aim_ssf_publish;
        }
        location = /ssf/jwks {
            aim_ssf_jwks;
        }
    }
$extra
EOF
}

NGX_DIRS=()
ngx_stop_in() { NGX_DIR=$1; ngx_stop; }
host_start() {   # H PORT
    ngx_start "$2" || bail "nginx of host $1 starts" "$(cat "$NGX_DIR/start.err" "$NGX_DIR/error.log" 2>/dev/null)"
    at_defer ngx_stop_in "$NGX_DIR"
}

# api PORT TOKEN [METHOD] [PATH]: "200", or the status and the reason.
api() {
    local hdr code desc
    hdr=$(curl -s -o /dev/null -D - -X "${3:-GET}" -H "Authorization: Bearer $2" \
          "http://127.0.0.1:$1${4:-/api/doc}" | tr -d '\r')
    code=$(printf '%s\n' "$hdr" | awk 'NR == 1 { print $2 }')
    desc=$(printf '%s\n' "$hdr" | sed -n 's/.*error_description="\([^"]*\)".*/\1/p' | head -1)
    echo "$code${desc:+ $desc}"
}

# push PORT SET [curl args]: "STATUS BODY" of an RFC 8935 push to host's
# receiver, with the identity provider's token.
push() {
    local port=$1 set=$2
    shift 2
    curl -s -o "$T/push.body" -w '%{http_code}' -X POST \
        -H "Authorization: Bearer $IDP_TOK" -H "Content-Type: application/secevent+jwt" \
        "$@" --data-binary "$set" "http://127.0.0.1:$port/ssf/events"
    printf ' %s' "$(cat "$T/push.body" 2>/dev/null)"
}
sign() { python3 "$TXPY" sign --key tx.pem --aud https://a.test/ssf "$@"; }
forge() {
    local s=$1 c
    c=${s: -3:1}
    [ "$c" = A ] && c=B || c=A
    printf '%s%s%s' "${s:0:${#s}-3}" "$c" "${s: -2}"
}
marks() {   # STATE AGENT: the agent's marks, or "" when it has none
    A stats --state "$1" --json | jq -c --arg a "$2" \
        'select(.agent == $a) | {disabled, revoked_before}'
}
NOMARK='{"disabled":false,"revoked_before":null}'

# ------------------------------------------------------ nginx -t refusals
mkdir -p "$T/t" "$T/t/priv" peers
chmod 700 "$T/t/priv"
cp a.pem t/open.pem && chmod 644 t/open.pem
at_shared t/state t/state.ssf
conftest() {   # NAME ok|fail NEEDLE HTTP-BODY
    local saved=$NGX_DIR out
    ngx_conf "$T/t" "$AT_NGX_USER" <<< "$4"
    out=$(ngx_test)
    NGX_DIR=$saved
    case $2 in
        ok) case $out in *"test is successful"*) ok "nginx -t: $1" ;;
                *) not_ok "nginx -t: $1" "$out" ;; esac ;;
        *) case $out in *"test is successful"*) not_ok "nginx -t: $1 (wanted a failure)" "$out" ;;
                *"$3"*) ok "nginx -t: $1" ;;
                *) not_ok "nginx -t: $1 (wanted a failure naming [$3])" "$out" ;; esac ;;
    esac
}
LOC() { printf 'server { listen 127.0.0.1:%s; location /s { %s } }' "$PT" "$1"; }
STATE="aim_state $T/t/state;"
RXOPT="$STATE aim_ssf_keys $T/tx.jwks; aim_ssf_issuer $TXISS; aim_ssf_audience https://a.test/ssf;"
PUBOPT="aim_ssf_sign_key $T/a.pem; aim_ssf_publish_issuer https://a.test; aim_ssf_publish_audience urn:aim:fleet;"
conftest "a receiver" ok "" "$RXOPT $(LOC 'aim_ssf_receiver;')"
conftest "a receiver without aim_ssf_keys" fail '"aim_ssf_receiver" in' \
    "aim_state $T/t/state; aim_ssf_issuer $TXISS; aim_ssf_audience x; $(LOC 'aim_ssf_receiver;')"
conftest "... names the option" fail 'ssf_keys' \
    "aim_state $T/t/state; aim_ssf_issuer $TXISS; aim_ssf_audience x; $(LOC 'aim_ssf_receiver;')"
conftest "a receiver without aim_state" fail 'state' \
    "aim_ssf_keys $T/tx.jwks; aim_ssf_issuer $TXISS; aim_ssf_audience x; $(LOC 'aim_ssf_receiver;')"
printf 'not a key set' > t/garbage.jwks
conftest "a receiver whose key file is garbage names the file" fail "$T/t/garbage.jwks" \
    "aim_state $T/t/state; aim_ssf_keys $T/t/garbage.jwks; aim_ssf_issuer $TXISS; aim_ssf_audience x; $(LOC 'aim_ssf_receiver;')"
conftest "a publisher and a key set" ok "" "$STATE $PUBOPT $(LOC 'aim_ssf_publish;') server { listen 127.0.0.1:$PT; location /j { aim_ssf_jwks; } }"
conftest "a publisher without aim_ssf_sign_key" fail 'ssf_sign_key' \
    "aim_state $T/t/state; aim_ssf_publish_issuer https://a.test; aim_ssf_publish_audience x; $(LOC 'aim_ssf_publish;')"
conftest "a signing key others can read is refused" fail 'ssf_sign_key' \
    "aim_state $T/t/state; aim_ssf_sign_key $T/t/open.pem; aim_ssf_publish_issuer https://a.test; aim_ssf_publish_audience x; $(LOC 'aim_ssf_jwks;')"
conftest "the receiver and proxy_pass in one location" fail 'conflicts' \
    "$RXOPT $(LOC 'proxy_pass http://127.0.0.1:1; aim_ssf_receiver;')"
conftest "... the other way round" fail '"aim_ssf_receiver" in' \
    "$RXOPT $(LOC 'aim_ssf_receiver; proxy_pass http://127.0.0.1:1;')"
conftest "the publisher and return in one location (return answers in the rewrite phase)" ok "" \
    "$STATE $PUBOPT $(LOC 'aim_ssf_publish; if ($arg_x) { return 404; }')"
conftest "two of them in one location" fail 'is duplicate' \
    "$RXOPT $PUBOPT $(LOC 'aim_ssf_receiver; aim_ssf_publish;')"
conftest "aim_ssf_receiver outside a location" fail 'is not allowed here' \
    "$RXOPT server { listen 127.0.0.1:$PT; aim_ssf_receiver; }"
conftest "a state file whose journal the worker user cannot open" fail \
    "cannot open \"$T/t/priv/state.ssf\" read-write" \
    "aim_state $T/t/priv/state; aim_ssf_keys $T/tx.jwks; aim_ssf_issuer $TXISS; aim_ssf_audience x; $(LOC 'aim_ssf_receiver;')"
printf 'state %s\nssf_keys %s\nssf_issuer %s\nssf_audience x\n' "$T/t/state" "$T/tx.jwks" "$TXISS" > t/aim.conf
conftest "a receiver configured by aim_config (the host's file)" ok "" "aim_config $T/t/aim.conf; $(LOC 'aim_ssf_receiver;')"

# ============================================================ one host: A
for h in a b c; do host_dir "$h"; done
host_conf a "$PA" "    server {
        listen 127.0.0.1:$PT ssl;
        ssl_certificate         $T/server.pem;
        ssl_certificate_key     $T/server.key;
        ssl_client_certificate  $T/ca.pem;
        ssl_verify_client       on;
        location = /ssf/poll { aim_ssf_publish; }
        location = /ssf/events { aim_ssf_receiver; }
    }
    server {
        listen 127.0.0.1:$PD;
        location = /ssf/events-on-disk {
            client_body_in_file_only clean;
            aim_ssf_receiver;
        }
        location = /ssf/open-poll {
            aim_ssf_publish;
        }
        location = /ssf/events-lmt {
            aim_ssf_receiver;
            limit_except GET { aim on; aim_scope ssf:push; }
        }
        location = /ssf/poll-lmt {
            aim_ssf_publish;
            limit_except GET { aim on; aim_scope ssf:poll; }
        }
        location = /ssf/poll-any {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            aim on;
            aim_scope ssf:poll;
            aim_ssf_publish;
        }
    }"
host_start a "$PA"
NGX_A=$NGX_DIR

# PostgreSQL with pg_aim, from a private installation (pg_init makes one):
# nothing is written to the system's PostgreSQL directories.
pg_init "$T/pg" "$PG_PORT" || bail "initdb" "$(cat "$T/pg/initdb.log")"
pg_conf <<EOF
shared_preload_libraries = 'pg_aim'
pg_aim.keys = '$T/iss.jwks'
pg_aim.issuer = '$ISS'
pg_aim.audience = '$AUD'
pg_aim.state = '$T/a/state'
pg_aim.audit = '$T/a/audit.log'
EOF
pg_start || bail "PostgreSQL starts" "$(tail -5 "$PG_LOG")"
PSQL=("${PG_PSQL[@]}" -U postgres -v ON_ERROR_STOP=1)
"${PSQL[@]}" -d postgres > /dev/null <<'EOF' || bail "the database"
CREATE EXTENSION pg_aim;
CREATE ROLE app LOGIN;
CREATE ROLE reporting NOLOGIN;
GRANT reporting TO app;
CREATE TABLE docs (id int PRIMARY KEY, title text);
INSERT INTO docs VALUES (1, 'q3'), (2, 'q4');
GRANT SELECT ON docs TO reporting;
EOF

# PAM: a login service through pam_aim, on the same state file.
mkdir -p "$T/pam"
PAM_MOD=$(at_stage "$PAM_SO")
OPTS="keys=$T/iss.jwks issuer=$ISS audience=$AUD state=$T/a/state audit=$T/a/audit.log token_env=AIM_TOKEN"
printf '%s\n' "auth required $PAM_MOD $OPTS" "account required $PAM_MOD $OPTS" > "$T/pam/ssf-login"
pam_env "$T/pam"

# The three adapters' answers, each in a comparable form.
ngx_a() { api "$PA" "$1"; }
pam_a() {
    if env "${PAM_ENV[@]}" AIM_TOKEN="$1" pamtester ssf-login nobody authenticate acct_mgmt \
        < /dev/null > /dev/null 2>&1; then
        echo "ok"
    else
        echo "refused $(grep '"adapter":"pam"' "$T/a/audit.log" | tail -1 | jq -r .reason)"
    fi
}
pg_a() {
    local out
    out=$("${PG_PSQL[@]}" -U app -d postgres -c "SELECT aim.session_init('$1', 'reporting')" \
          -c "SELECT count(*) FROM docs" 2>&1)
    case $out in
        *ERROR*) echo "refused $(printf '%s\n' "$out" | sed -n 's/.*refused: \([a-z_]*\).*/\1/p' | head -1)" ;;
        *) echo "ok" ;;
    esac
}
everywhere() { echo "nginx=$(ngx_a "$1") pam=$(pam_a "$1") pg=$(pg_a "$1")"; }
ALLOWED="nginx=200 pam=ok pg=ok"
REVOKED="nginx=401 revoked pam=refused revoked pg=refused revoked"

check "before: X is allowed by nginx, PAM and PostgreSQL" "$ALLOWED" "$(everywhere "$X_OLD")"
check "before: Y is allowed by nginx, PAM and PostgreSQL" "$ALLOWED" "$(everywhere "$Y_TOK")"

# ------------------------------------------------- push: session-revoked
EVT=$((NOW - 5))
X_REVOKE=$(sign session-revoked --agent "$X" --jti jti-x --body "{\"event_timestamp\": $EVT}")
t0=$(now_s)
check "the identity provider pushes session-revoked for X: 202 Accepted" "202 " "$(push "$PA" "$X_REVOKE")"
# Each adapter asked in turn until it refuses X: when, after the push
# was sent (each check takes the adapter's own time: a pamtester run, a
# PostgreSQL connection; the 202 means the mark is in the state file).
tn="" tp="" tq=""
for _ in $(seq 1 40); do
    [ -z "$tn" ] && [ "$(ngx_a "$X_OLD")" = "401 revoked" ] && tn=$(elapsed "$t0" "$(now_s)")
    [ -z "$tp" ] && [ "$(pam_a "$X_OLD")" = "refused revoked" ] && tp=$(elapsed "$t0" "$(now_s)")
    [ -z "$tq" ] && [ "$(pg_a "$X_OLD")" = "refused revoked" ] && tq=$(elapsed "$t0" "$(now_s)")
    [ -n "$tn" ] && [ -n "$tp" ] && [ -n "$tq" ] && break
    sleep 0.05
done
echo "# X refused (revoked) after the push was sent: nginx ${tn:-never} s, PAM ${tp:-never} s, PostgreSQL ${tq:-never} s"
within() { [ -n "$1" ] && awk -v s="$1" -v m="$2" 'BEGIN { exit !(s <= m) }'; }
assert "X's old token: refused (revoked) by nginx within 2 s" within "$tn" 2
assert "X's old token: refused (revoked) by PAM within 2 s" within "$tp" 2
assert "X's old token: refused (revoked) by PostgreSQL within 2 s" within "$tq" 2
check "... and stays refused by all three" "$REVOKED" "$(everywhere "$X_OLD")"
check "Y is still allowed by nginx, PAM and PostgreSQL" "$ALLOWED" "$(everywhere "$Y_TOK")"
X_NEW=$(issue --sub "$X" --scope "$SCOPES" --iat $((NOW + 1)))
check "X's token issued after the event is allowed (a cut, not a ban)" "200" "$(api "$PA" "$X_NEW")"
check "the cut is at the event's time" "{\"disabled\":false,\"revoked_before\":$EVT}" "$(marks a/state "$X")"
check "the receiver's audit line names the event and X" 1 \
    "$(jq -c --arg x "$X" 'select(.adapter == "ssf" and .outcome == "applied" and .agent == $x
                                  and (.event | tostring | contains("session-revoked")))' a/audit.log \
       | head -n 1 | wc -l)"
assert "... in the shared audit file, adapter ssf" \
    eval "grep '\"adapter\":\"ssf\"' a/audit.log | grep -q 'session-revoked'"

# An open PostgreSQL session bound to W: its next statement after the push
# is refused.
W_SET=$(sign session-revoked --agent "$W" --body "{\"event_timestamp\": $EVT}")
out=$("${PG_PSQL[@]}" -U app -d postgres 2>&1 <<EOF
SELECT aim.session_init('$W_TOK', 'reporting') IS NOT NULL AS bound;
SELECT 'before', count(*) FROM docs;
\\! curl -s -o /dev/null -w 'pushed %{http_code}\\n' -H 'Authorization: Bearer $IDP_TOK' -H 'Content-Type: application/secevent+jwt' --data-binary '$W_SET' http://127.0.0.1:$PA/ssf/events
SELECT 'after', count(*) FROM docs;
EOF
)
check_re "an open PostgreSQL session bound to W works before the push" '^before\|2$' "$out"
check_re "... the push is accepted" '^pushed 202$' "$out"
check_re "... and its next statement is refused: no longer authorized, revoked" \
    'AIM agent ".*agent/w" is no longer authorized: revoked' "$out"
check_not_re "... nothing after it ran" '^after' "$out"

# ---------------------------------------- refused pushes change nothing
refused() {   # NAME ERR SET [curl args]
    local name=$1 err=$2 set=$3 out
    shift 3
    out=$(push "$PA" "$set" "$@")
    if [ "${out%% *}" = 400 ] && [ "$(printf '%s' "${out#* }" | jq -r .err 2>/dev/null)" = "$err" ] \
        && printf '%s' "${out#* }" | jq -e '.description | length > 0' > /dev/null 2>&1; then
        ok "$name: 400 {\"err\":\"$err\", \"description\"}"
    else
        not_ok "$name: wanted 400 $err" "$out"
    fi
}
dis_y() { sign account-disabled --agent "$Y" "$@"; }
refused "a forged SET" authentication_failed "$(forge "$(dis_y)")"
refused "a SET for another audience" invalid_audience "$(dis_y --aud https://other.test/ssf)"
refused "a SET from another issuer" invalid_issuer "$(dis_y --iss https://evil.test)"
refused "a SET signed by an unknown key" invalid_key \
    "$(python3 "$TXPY" sign --key evil.pem --aud https://a.test/ssf account-disabled --agent "$Y")"
refused "an expired SET (issued 8 days ago)" invalid_request "$(dis_y --iat $((NOW - 8 * 86400)))"
refused "a SET issued in an hour" invalid_request "$(dis_y --iat $((NOW + 3600)))"
refused "a replay: another SET under X's jti" invalid_request "$(dis_y --jti jti-x)"
refused "an access token instead of a SET" invalid_request "$Y_TOK"
refused "not a JWS at all" invalid_request "hello"
X_SET=$(sign session-revoked --agent "$X" --jti jti-x2 --body "{\"event_timestamp\": $((EVT - 100))}")
check "an older session-revoked for X: acknowledged" "202 " "$(push "$PA" "$X_SET")"
check "... the same SET again (a retried push): acknowledged, applied once" "202 " "$(push "$PA" "$X_SET")"
check "... X's cut stays at the later event" "{\"disabled\":false,\"revoked_before\":$EVT}" "$(marks a/state "$X")"
check "refused SETs changed nothing for Y (marks)" "$NOMARK" "$(marks a/state "$Y")"
check "refused SETs changed nothing for Y (nginx, PAM, PostgreSQL)" "$ALLOWED" "$(everywhere "$Y_TOK")"
check "every refusal has its audit line, with its err" \
    "authentication_failed invalid_audience invalid_issuer invalid_key invalid_request invalid_request invalid_request invalid_request invalid_request" \
    "$(grep -F '"adapter":"ssf"' a/audit.log | jq -r 'select(.outcome == "refused") | .err' | sort | xargs)"

# ------------------------------------------------------ the HTTP level
hdrs() { curl -s -o /dev/null -D - "$@" | tr -d '\r'; }
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
RX_URL=http://127.0.0.1:$PA/ssf/events
AUTH=(-H "Authorization: Bearer $IDP_TOK")
out=$(hdrs "${AUTH[@]}" "$RX_URL")
check_re "GET on the receiver: 405" '^HTTP/1.1 405' "$out"
check_re "... with Allow: POST" '^Allow: POST$' "$out"
check "a SET sent as application/json: 415" 415 \
    "$(status "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary "$(dis_y)" "$RX_URL")"
check "no Content-Type: 415" 415 "$(status "${AUTH[@]}" --data-binary "$(dis_y)" "$RX_URL")"
check "application/secevent+jwt with a parameter, in capitals: accepted" "202" \
    "$(status "${AUTH[@]}" -H 'Content-Type: Application/SecEvent+JWT; charset=utf-8' \
       --data-binary "$(sign verification --subject '{"format":"opaque","id":"s1"}')" "$RX_URL")"
head -c 17000 /dev/zero | tr '\0' 'a' > big.set
check "a body over 16 KiB: 413" 413 \
    "$(status "${AUTH[@]}" -H 'Content-Type: application/secevent+jwt' --data-binary @big.set "$RX_URL")"
check "... sent chunked, without a length: 413" 413 \
    "$(status "${AUTH[@]}" -H 'Content-Type: application/secevent+jwt' -H 'Transfer-Encoding: chunked' \
       --data-binary @big.set "$RX_URL")"
check "a push answered inside the location's \"if\" block: 202" 202 \
    "$(status "${AUTH[@]}" -H 'Content-Type: application/secevent+jwt' \
       --data-binary "$(sign verification --subject '{"format":"opaque","id":"s3"}')" "$RX_URL?via_if=1")"
check "... and refused there too" 400 \
    "$(status "${AUTH[@]}" -H 'Content-Type: application/secevent+jwt' --data-binary "$(dis_y --aud x)" "$RX_URL?via_if=1")"
check "a SET nginx wrote to a temporary file is read back: 202" 202 \
    "$(status -H 'Content-Type: application/secevent+jwt' \
       --data-binary "$(sign verification --subject '{"format":"opaque","id":"s2"}')" \
       "http://127.0.0.1:$PD/ssf/events-on-disk")"
check "a push without a token: 401 (aim on)" 401 \
    "$(status -H 'Content-Type: application/secevent+jwt' --data-binary "$(dis_y)" "$RX_URL")"
check "a push with a token lacking ssf:push: 403" 403 \
    "$(status -H "Authorization: Bearer $NOSCOPE_TOK" -H 'Content-Type: application/secevent+jwt' \
       --data-binary "$(dis_y)" "$RX_URL")"

# The journal held by another process for longer than a receiver waits:
# 503 with Retry-After, nothing applied; delivered again, applied.
D_SET=$(sign account-disabled --agent "$Y" --jti jti-busy)
exec {HOLD}< a/state.ssf
flock -x "$HOLD"
out=$(curl -s -D - -o /dev/null "${AUTH[@]}" -H 'Content-Type: application/secevent+jwt' \
      --data-binary "$D_SET" "$RX_URL" | tr -d '\r')
exec {HOLD}<&-
check_re "a journal busy: 503" '^HTTP/1.1 503' "$out"
check_re "... with Retry-After" '^Retry-After: 1$' "$out"
check "... Y not disabled" "$NOMARK" "$(marks a/state "$Y")"
check "delivered again: 202" "202 " "$(push "$PA" "$D_SET")"
check "... Y is disabled now: refused everywhere" "$REVOKED" "$(everywhere "$Y_TOK")"
sleep 1   # the enable must come after the disable, in whole seconds
out=$(python3 "$TXPY" push "http://127.0.0.1:$PA/ssf/events" --key tx.pem --aud https://a.test/ssf \
      account-enabled --agent "$Y" --auth "Bearer $IDP_TOK")
check "the transmitter's own push client: account-enabled for Y, 202" "202" "${out%% *}"
check "... Y is allowed again everywhere" "$ALLOWED" "$(everywhere "$Y_TOK")"

# ------------------------------------------ the publisher and key set
POLL_URL=http://127.0.0.1:$PA/ssf/poll
POLL_AUTH=(-H "Authorization: Bearer $(cat b/poll.token)")
out=$(hdrs "${POLL_AUTH[@]}" "$POLL_URL")
check_re "GET on the publisher: 405 with Allow: POST" '^Allow: POST$' "$out"
check "a poll sent as text/plain: 415" 415 "$(status "${POLL_AUTH[@]}" -H 'Content-Type: text/plain' -d '{}' "$POLL_URL")"
check "a poll without a token: 401" 401 "$(status -H 'Content-Type: application/json' -d '{}' "$POLL_URL")"
check "a poll with a token lacking ssf:poll: 403" 403 \
    "$(status -H "Authorization: Bearer $IDP_TOK" -H 'Content-Type: application/json' -d '{}' "$POLL_URL")"
out=$(curl -s -w ' %{http_code}' "${POLL_AUTH[@]}" -H 'Content-Type: application/json' \
      -d '{"maxEvents":"many"}' "$POLL_URL")
check "a malformed poll: 400 invalid_request" "invalid_request 400" \
    "$(printf '%s' "$out" | sed 's/ [0-9]*$//' | jq -r .err) ${out##* }"
out=$(curl -s -w ' %{http_code}' -H 'Content-Type: application/json' -d '{}' "http://127.0.0.1:$PD/ssf/open-poll")
check "a publisher that authenticates no one: 403 access_denied" "access_denied 403" \
    "$(printf '%s' "$out" | sed 's/ [0-9]*$//' | jq -r .err) ${out##* }"
in_file "... and the error log says how to protect it" 'protect the location with "aim on"' a/nginx/error.log

# The handlers in a limit_except block's configuration, and under
# "satisfy any": the method's block decides, the location answers.
LMT_URL=http://127.0.0.1:$PD/ssf/events-lmt
check "a receiver whose POSTs limit_except protects: no token, 401" 401 \
    "$(status -H 'Content-Type: application/secevent+jwt' --data-binary "$(dis_y)" "$LMT_URL")"
check "... a token lacking ssf:push, 403" 403 \
    "$(status -H "Authorization: Bearer $NOSCOPE_TOK" -H 'Content-Type: application/secevent+jwt' \
       --data-binary "$(dis_y)" "$LMT_URL")"
check "... the identity provider's token: the receiver answers, 202" 202 \
    "$(status "${AUTH[@]}" -H 'Content-Type: application/secevent+jwt' \
       --data-binary "$(sign verification --subject '{"format":"opaque","id":"s5"}')" "$LMT_URL")"
check "... and a refused SET, 400" 400 \
    "$(status "${AUTH[@]}" -H 'Content-Type: application/secevent+jwt' --data-binary "$(dis_y --aud x)" "$LMT_URL")"
check "... Y untouched" "$NOMARK" "$(marks a/state "$Y")"
POLL_B=(-H "Authorization: Bearer $(cat b/poll.token)" -H 'Content-Type: application/json')
check "a publisher whose POSTs limit_except protects: no token, 401" 401 \
    "$(status -H 'Content-Type: application/json' -d '{}' "http://127.0.0.1:$PD/ssf/poll-lmt")"
out=$(curl -s -w ' %{http_code}' "${POLL_B[@]}" -d '{"returnImmediately":true}' "http://127.0.0.1:$PD/ssf/poll-lmt")
check "... B's poller: the publisher answers, 200" "false 200" \
    "$(printf '%s' "${out% *}" | jq -r .moreAvailable 2> /dev/null) ${out##* }"
ANY_URL=http://127.0.0.1:$PD/ssf/poll-any
out=$(curl -s -w ' %{http_code}' -H 'Content-Type: application/json' -d '{}' "$ANY_URL")
check "a publisher under \"satisfy any\", its address allowed, no token: no poller, 403" "access_denied 403" \
    "$(printf '%s' "${out% *}" | jq -r .err 2> /dev/null) ${out##* }"
out=$(curl -s -w ' %{http_code}' -H "Authorization: Bearer $NOSCOPE_TOK" -H 'Content-Type: application/json' \
      -d '{}' "$ANY_URL")
check "... a token lacking ssf:poll: not a poller either, 403" "access_denied 403" \
    "$(printf '%s' "${out% *}" | jq -r .err 2> /dev/null) ${out##* }"
out=$(curl -s -w ' %{http_code}' "${POLL_B[@]}" -d '{"returnImmediately":true}' "$ANY_URL")
check "... B's poller, 200" "false 200" "$(printf '%s' "${out% *}" | jq -r .moreAvailable 2> /dev/null) ${out##* }"
out=$(curl -s "${POLL_AUTH[@]}" -H 'Content-Type: application/json' -d '{"returnImmediately":true}' "$POLL_URL")
check "a poll of a host with no signals yet: no SETs, nothing more" '{"sets":{},"moreAvailable":false}' "$out"

run A fetch "http://127.0.0.1:$PA/ssf/jwks" --out peers/a.jwks --kind jwks
assert "aimctl fetch --kind jwks takes host A's key set" eval '[ $RC -eq 0 ] && [ -s peers/a.jwks ]'
check "... the key the publisher signs with" "$(A jwks a.pem | jq -c '.keys[0] | {x, y}')" \
    "$(jq -c '.keys[0] | {x, y}' peers/a.jwks)"
run A fetch "http://127.0.0.1:$PA/ssf/jwks" --out peers/a.jwks --kind jwks
assert "... fetched again: 304 Not Modified (ETag)" eval '[ $RC -eq 0 ] && grep -q "304" <<<"$OUT"'
check "POST on the key set: 405" 405 "$(status -d x "http://127.0.0.1:$PA/ssf/jwks")"

# A poller named by its client certificate (nginx verified it).
printf 'state %s\nssf_keys %s\nssf_issuer https://a.test\nssf_audience urn:aim:fleet\n' \
    "$T/m.state" "$T/peers/a.jwks" > m.conf
run A ssf poll "https://127.0.0.1:$PT/ssf/poll" --config m.conf --cacert ca.pem \
    --client-cert poller-m.pem --client-key poller-m.key --once
assert "a poller with a client certificate: the poll goes through" eval '[ $RC -eq 0 ]'
run A ssf status --state a/state --json
assert "... and is known by its certificate's subject" \
    jqo '[.pollers[].name] | index("O=fleet,CN=poller-m") != null'
check "without a certificate: refused by nginx (400)" 400 \
    "$(status --cacert ca.pem -H 'Content-Type: application/json' -d '{}' "https://127.0.0.1:$PT/ssf/poll")"
check "a push over mutual TLS, with a client certificate: 202" 202 \
    "$(status --cacert ca.pem --cert poller-m.pem --key poller-m.key -H 'Content-Type: application/secevent+jwt' \
       --data-binary "$(sign verification --subject '{"format":"opaque","id":"s4"}')" "https://127.0.0.1:$PT/ssf/events")"
check "... without one: refused by nginx (400), nothing applied" 400 \
    "$(status --cacert ca.pem -H 'Content-Type: application/secevent+jwt' \
       --data-binary "$(dis_y)" "https://127.0.0.1:$PT/ssf/events")"
check "... Y untouched" "$NOMARK" "$(marks a/state "$Y")"

# =============================================================== a fleet
for h in b c; do
    port=$([ $h = b ] && echo "$PB" || echo "$PC")
    host_conf "$h" "$port"
    host_start "$h" "$port"
done
for h in b c; do
    port=$([ $h = b ] && echo "$PB" || echo "$PC")
    run A fetch "http://127.0.0.1:$port/ssf/jwks" --out "peers/$h.jwks" --kind jwks
    assert "host $h's key set fetched" eval '[ $RC -eq 0 ]'
done
chmod 644 peers/*.jwks

# Every host polls the other two every second (aimctl ssf poll --interval).
port_of() { case $1 in a) echo "$PA" ;; b) echo "$PB" ;; c) echo "$PC" ;; esac; }
for h in a b c; do
    for p in a b c; do
        [ "$p" = "$h" ] && continue
        "$AIMCTL" ssf poll "http://127.0.0.1:$(port_of "$p")/ssf/poll" --config "$h/aim.conf" \
            --token-file "$h/poll.token" --interval 1 --quiet > "$h/poll-$p.log" 2>&1 &
        at_defer kill $!
    done
done

check "before: the prober is allowed on A, B and C" "200 200 200" \
    "$(api "$PA" "$P_TOK") $(api "$PB" "$P_TOK") $(api "$PC" "$P_TOK")"
check "before: Y is allowed on B and C" "200 200" "$(api "$PB" "$Y_TOK") $(api "$PC" "$Y_TOK")"

# The prober probes A beyond its scope until A distrusts it: the
# decision that drives it below trust_min records the signal, and the
# clock starts when A refuses the prober's allowed requests.
probes=0
while [ "$probes" -lt 60 ] && [ "$(api "$PA" "$P_TOK")" != "403 low_trust" ]; do
    api "$PA" "$P_TOK" DELETE "/api/users/$probes" > /dev/null
    probes=$((probes + 1))
done
t0=$(now_s)
check "A distrusts the prober (403 low_trust)" "403 low_trust" "$(api "$PA" "$P_TOK")"
echo "# A distrusts the prober after $probes probes"
tb="" tc=""
for _ in $(seq 1 100); do
    [ -z "$tb" ] && [ "$(api "$PB" "$P_TOK")" = "403 low_trust" ] && tb=$(elapsed "$t0" "$(now_s)")
    [ -z "$tc" ] && [ "$(api "$PC" "$P_TOK")" = "403 low_trust" ] && tc=$(elapsed "$t0" "$(now_s)")
    [ -n "$tb" ] && [ -n "$tc" ] && break
    sleep 0.05
done
echo "# A's distrust of the prober reached B in ${tb:-never} s and C in ${tc:-never} s (polls every 1 s)"
assert "B refuses the prober (low_trust) within 3 s" within "$tb" 3
assert "C refuses the prober (low_trust) within 3 s" within "$tc" 3
check "Y is still allowed on A, B and C" "200 200 200" \
    "$(api "$PA" "$Y_TOK") $(api "$PB" "$Y_TOK") $(api "$PC" "$Y_TOK")"
run A ssf status --state a/state --json
assert "A's outbox: the distrust of the prober (probing)" \
    jqo --arg p "$P" '[.outbox.events[] | select(.agent == $p and .signal == "distrusted" and .reason == "probing")] | length == 1'
assert "A's pollers: the certificate's, B and C by their agent ids; B and C up to date" \
    jqo '([.pollers[] | .name] | sort) == ["O=fleet,CN=poller-m", "spiffe://fleet.test/host/b", "spiffe://fleet.test/host/c"]
         and ([.pollers[] | select(.name | startswith("spiffe:")) | .pending] == [0, 0])'
sleep 1.2
for h in b c; do
    run A ssf status --state "$h/state" --json
    assert "host $h does not echo the distrust it received" \
        jqo --arg p "$P" '[.outbox.events[] | select(.agent == $p)] | length == 0'
done

# An operator revokes Z on C: C refuses it at once, A and B by poll.
check "before: Z is allowed on A, B and C" "200 200 200" \
    "$(api "$PA" "$Z_TOK") $(api "$PB" "$Z_TOK") $(api "$PC" "$Z_TOK")"
run A revoke --config c/aim.conf --comment "incident 7" agent "$Z"
assert "aimctl revoke on C records C's signal" eval '[ $RC -eq 0 ] && grep -q "account-disabled recorded" <<<"$OUT"'
t0=$(now_s)
ta="" tb="" tcc=""
for _ in $(seq 1 100); do
    [ -z "$tcc" ] && [ "$(api "$PC" "$Z_TOK")" = "401 revoked" ] && tcc=$(elapsed "$t0" "$(now_s)")
    [ -z "$ta" ] && [ "$(api "$PA" "$Z_TOK")" = "401 revoked" ] && ta=$(elapsed "$t0" "$(now_s)")
    [ -z "$tb" ] && [ "$(api "$PB" "$Z_TOK")" = "401 revoked" ] && tb=$(elapsed "$t0" "$(now_s)")
    [ -n "$ta" ] && [ -n "$tb" ] && [ -n "$tcc" ] && break
    sleep 0.05
done
echo "# Z revoked on C: refused by C in ${tcc:-never} s, by A in ${ta:-never} s, by B in ${tb:-never} s"
assert "C refuses Z (revoked) within 2 s (its revocation list)" within "$tcc" 2
assert "A refuses Z (revoked) within 3 s (C's signal, polled)" within "$ta" 3
assert "B refuses Z (revoked) within 3 s (C's signal, polled)" within "$tb" 3
check "A's marks for Z: disabled" '{"disabled":true,"revoked_before":null}' "$(marks a/state "$Z")"
check_not_re "the pollers reported no failure" 'error|fail' "$(cat a/poll-*.log b/poll-*.log c/poll-*.log)"
not_in_file "no nginx worker crashed" "exited on signal" a/nginx/error.log b/nginx/error.log c/nginx/error.log
not_in_file "no token in any error log" "$X_OLD" a/nginx/error.log
finish
