#!/bin/bash
# The AIM demo: three agents, one issuer, three adapters on one host.
#
#   a real nginx with ngx_aim in front of a small API      127.0.0.1:18480
#   a real PostgreSQL 15 with pg_aim and row-level security 127.0.0.1:15480
#   PAM logins through pam_aim (pam_wrapper + pamtester; /etc untouched)
#
# Every adapter shares one state file (trust) and one audit file.  The
# story: each agent does its job; one reaches beyond its scopes; one
# probes and loses trust everywhere; an operator revokes one.  Prints a
# table, says where the logs are, leaves nothing running.  Exit status 0
# when every step had the expected outcome.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
B=$ROOT/build
AIMCTL=$B/bin/aimctl
W=$(realpath -m "${AIM_DEMO_DIR:-$B/demo}")
NGX_PORT=18480
API_PORT=18481
PG_PORT=15480
PGBIN=/usr/lib/postgresql/15/bin
WRAPPER=$(ls /usr/lib/*/libpam_wrapper.so 2>/dev/null | head -1)
ISS=https://idp.demo.example
AUD=aim-demo
ROWS=()
FAILED=0

say()  { printf '\n\033[1m%s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }

# step AGENT ADAPTER ACTION EXPECTED GOT
step() {
    local mark="ok"
    if [ "$4" != "$5" ]; then mark="UNEXPECTED"; FAILED=$((FAILED + 1)); fi
    ROWS+=("$(printf '%-9s|%-6s|%-44s|%-26s|%-26s|%s' "$1" "$2" "$3" "$4" "$5" "$mark")")
    printf '   %-9s %-6s %-44s -> %s%s\n' "$1" "$2" "$3" "$5" \
        "$([ "$mark" = ok ] || echo "   (expected $4)")"
}

cleanup() {
    [ -f "$W/nginx/nginx.pid" ] && kill "$(cat "$W/nginx/nginx.pid")" 2>/dev/null
    if [ -f "$W/pg/data/postmaster.pid" ]; then
        runuser -u postgres -- "$PGBIN/pg_ctl" -D "$W/pg/data" -m immediate stop >/dev/null 2>&1
    fi
}
trap cleanup EXIT

for f in "$AIMCTL" "$B/pam_aim.so" "$B/ngx_http_aim_module.so" "$B/pg_aim.so"; do
    if [ ! -e "$f" ]; then echo "demo: $f is missing: run 'make demo' (it builds first)"; exit 2; fi
done
if [ -z "$WRAPPER" ] || ! command -v pamtester >/dev/null || [ ! -x "$PGBIN/initdb" ]; then
    echo "demo: packages missing: run ./deps.sh"; exit 2
fi

rm -rf "$W"
mkdir -p "$W"/{nginx/logs,pg,pam/services}
chmod 755 "$W" "$W/pg"

# ---------------------------------------------------------------------
say "1. A development issuer and three agents"
"$AIMCTL" keygen --alg ES256 --kid demo-2026 --out "$W/issuer.key" >/dev/null
"$AIMCTL" jwks "$W/issuer.key" > "$W/jwks.json"
: > "$W/revoked"
: > "$W/audit.log"
cat > "$W/policy" <<'EOF'
# Local least privilege on this host: what each agent may ever hold here.
allow spiffe://demo.example/agent/reporter  kb:GET pg:role:reporting pg:login:*
allow spiffe://demo.example/agent/deployer  kb:* pam:login:nobody
allow spiffe://demo.example/agent/scraper   kb:GET pam:login:nobody pg:role:reporting
EOF
chmod 644 "$W"/{jwks.json,revoked,policy}
chmod 666 "$W/audit.log"
issue() { "$AIMCTL" issue --key "$W/issuer.key" --iss "$ISS" --aud "$AUD" --ttl 3600 "$@"; }
REPORTER=$(issue --sub spiffe://demo.example/agent/reporter --owner alice@finance \
                 --scope "kb:GET kb:DELETE pg:role:reporting")
DEPLOYER=$(issue --sub spiffe://demo.example/agent/deployer --owner bob@sre \
                 --scope "kb:GET kb:PUT pam:login:nobody")
SCRAPER=$(issue --sub spiffe://demo.example/agent/scraper --owner carol@growth \
                --scope "kb:GET pam:login:nobody pg:role:reporting")
note "issuer key     $W/issuer.key (ES256, kid demo-2026); public keys $W/jwks.json"
note "reporter       owner alice@finance  token scopes: kb:GET kb:DELETE pg:role:reporting"
note "deployer       owner bob@sre        token scopes: kb:GET kb:PUT pam:login:nobody"
note "scraper        owner carol@growth   token scopes: kb:GET pam:login:nobody pg:role:reporting"
note "host policy    $W/policy (reporter may not hold kb:DELETE here)"

COMMON_FILES="revoked=$W/revoked policy=$W/policy state=$W/state audit=$W/audit.log"

# ---------------------------------------------------------------------
say "2. Starting nginx + ngx_aim, PostgreSQL + pg_aim, and PAM"
cat > "$W/nginx/nginx.conf" <<EOF
load_module $B/ngx_http_aim_module.so;
worker_processes 2;
daemon on;
pid $W/nginx/nginx.pid;
error_log $W/nginx/logs/error.log info;
events { worker_connections 256; }
http {
    access_log $W/nginx/logs/access.log;
    client_body_temp_path $W/nginx/body;
    proxy_temp_path $W/nginx/proxy;
    fastcgi_temp_path $W/nginx/fastcgi;
    uwsgi_temp_path $W/nginx/uwsgi;
    scgi_temp_path $W/nginx/scgi;

    aim_keys      $W/jwks.json;
    aim_issuer    $ISS;
    aim_audience  $AUD;
    aim_revoked   $W/revoked;
    aim_policy    $W/policy;
    aim_state     $W/state;
    aim_audit     $W/audit.log;

    server {
        listen 127.0.0.1:$NGX_PORT;
        location /kb/ {
            aim        on;
            aim_scope  kb:\$request_method;
            proxy_set_header X-Aim-Agent \$aim_agent;
            proxy_set_header X-Aim-Owner \$aim_owner;
            proxy_pass http://127.0.0.1:$API_PORT;
        }
        location /admin/ {
            aim        on;
            aim_scope  admin:\$request_method;
            proxy_pass http://127.0.0.1:$API_PORT;
        }
    }
    server {   # the small API behind the gateway
        listen 127.0.0.1:$API_PORT;
        default_type application/json;
        location / { return 200 '{"ok":true,"path":"\$uri","agent":"\$http_x_aim_agent"}\n'; }
    }
}
EOF
if ! /usr/sbin/nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" 2> "$W/nginx/start.err"; then
    cat "$W/nginx/start.err"; echo "demo: nginx did not start"; exit 1
fi
note "nginx     http://127.0.0.1:$NGX_PORT  (logs $W/nginx/logs/)"

# PostgreSQL: a throwaway cluster owned by the postgres account.
chown postgres "$W/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$W/pg/data" -A trust -U postgres >/dev/null || exit 1
cat >> "$W/pg/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$W/pg'
shared_preload_libraries = 'pg_aim'
pg_aim.keys = '$W/jwks.json'
pg_aim.issuer = '$ISS'
pg_aim.audience = '$AUD'
pg_aim.revoked = '$W/revoked'
pg_aim.policy = '$W/policy'
pg_aim.state = '$W/state'
pg_aim.audit = '$W/audit.log'
EOF
touch "$W/state" && chmod 666 "$W/state"
if ! runuser -u postgres -- "$PGBIN/pg_ctl" -D "$W/pg/data" -l "$W/pg/server.log" -w start >/dev/null; then
    tail -5 "$W/pg/server.log"; echo "demo: PostgreSQL did not start"; exit 1
fi
PSQL=(runuser -u postgres -- psql -X -q -h "$W/pg" -p "$PG_PORT" -v ON_ERROR_STOP=1)
"${PSQL[@]}" -d postgres <<'EOF' >/dev/null
CREATE EXTENSION pg_aim;
CREATE ROLE app LOGIN;
CREATE ROLE reporting NOLOGIN;
GRANT reporting TO app;
CREATE TABLE docs (id int PRIMARY KEY, owner_agent text NOT NULL, title text);
INSERT INTO docs VALUES
  (1, 'spiffe://demo.example/agent/reporter', 'Q3 revenue'),
  (2, 'spiffe://demo.example/agent/reporter', 'Q3 costs'),
  (3, 'spiffe://demo.example/agent/deployer', 'release notes'),
  (4, 'spiffe://demo.example/agent/scraper',  'crawl log');
ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY agent_rows ON docs TO reporting
  USING (owner_agent = (SELECT aim.agent_id()));
GRANT SELECT ON docs TO reporting;
EOF
note "postgres  127.0.0.1:$PG_PORT database postgres, table docs with RLS on aim.agent_id()"

# PAM: a service for agent logins to this host.
printf '%s\n' \
  "auth     required $B/pam_aim.so keys=$W/jwks.json issuer=$ISS audience=$AUD $COMMON_FILES token_env=AIM_TOKEN" \
  "account  required $B/pam_aim.so keys=$W/jwks.json issuer=$ISS audience=$AUD $COMMON_FILES token_env=AIM_TOKEN" \
  "session  required $B/pam_aim.so keys=$W/jwks.json issuer=$ISS audience=$AUD $COMMON_FILES" \
  "session  optional pam_exec.so $W/pam/session-env.sh" > "$W/pam/services/aim-demo"
printf '#!/bin/sh\nenv | grep ^AIM_ | sort > %s\n' "$W/pam/session.env" > "$W/pam/session-env.sh"
chmod +x "$W/pam/session-env.sh"
note "pam       service aim-demo ($W/pam/services/aim-demo), account 'nobody'"

# ---------------------------------------------------------------------
# One call per adapter; each prints the outcome in a comparable form.
http() {   # token method path -> "200" or "401 invalid_token/revoked"...
    local code hdr
    hdr=$(curl -s -o "$W/last-body" -D - -X "$2" -H "Authorization: Bearer $1" \
          "http://127.0.0.1:$NGX_PORT$3" | tr -d '\r')
    code=$(echo "$hdr" | head -1 | awk '{print $2}')
    if [ "$code" = 200 ]; then echo 200; return; fi
    desc=$(echo "$hdr" | sed -n 's/.*error_description="\([^"]*\)".*/\1/p' | head -1)
    err=$(echo "$hdr" | sed -n 's/.*error="\([^"]*\)".*/\1/p' | head -1)
    echo "$code ${desc:-$err}"
}
pam() {    # token -> "login ok" or "refused <reason from the audit line>"
    if LD_PRELOAD=$WRAPPER PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$W/pam/services \
       AIM_TOKEN="$1" pamtester aim-demo nobody authenticate acct_mgmt open_session \
       close_session </dev/null >/dev/null 2>&1; then
        echo "login ok"
    else
        echo "refused $(grep '"adapter":"pam","action":"login"' "$W/audit.log" | tail -1 \
                        | sed -n 's/.*"reason":"\([a-z_]*\)".*/\1/p')"
    fi
}
sql() {    # token role query -> result, or "ERROR: <reason>"
    local out
    out=$("${PSQL[@]}" -U app -d postgres -At 2>&1 <<EOF
SELECT aim.session_init('$1', '$2') \gset
$3
EOF
)
    if echo "$out" | grep -q ERROR; then
        echo "ERROR $(echo "$out" | grep -o 'low_trust\|revoked\|insufficient_scope\|policy_denied\|expired' | head -1)"
    else
        echo "$out" | tail -1
    fi
}

# ---------------------------------------------------------------------
say "3. Each agent does its job"
step reporter nginx "GET /kb/q3-report" "200" "$(http "$REPORTER" GET /kb/q3-report)"
step reporter pg "bind as role reporting; count visible docs" "2" \
    "$(sql "$REPORTER" reporting 'SELECT count(*) FROM docs;')"
step deployer pam "log in as nobody" "login ok" "$(pam "$DEPLOYER")"
step deployer pam "session carries AIM_AGENT" "spiffe://demo.example/agent/deployer" \
    "$(sed -n 's/^AIM_AGENT=//p' "$W/pam/session.env" 2>/dev/null)"
step deployer nginx "PUT /kb/config" "200" "$(http "$DEPLOYER" PUT /kb/config)"
step scraper nginx "GET /kb/public" "200" "$(http "$SCRAPER" GET /kb/public)"

say "4. Reaching beyond granted scopes is refused, with the right error"
step reporter nginx "DELETE /kb/q3-report (token has it, policy not)" \
    "403 insufficient_scope" "$(http "$REPORTER" DELETE /kb/q3-report)"
step reporter pam "log in as nobody" "refused insufficient_scope" "$(pam "$REPORTER")"
step deployer pg "bind as role reporting" "ERROR insufficient_scope" \
    "$(sql "$DEPLOYER" reporting 'SELECT 1;')"
step nobody nginx "GET /kb/q3-report without a token" "401 " \
    "$(curl -s -o /dev/null -w '%{http_code} ' "http://127.0.0.1:$NGX_PORT/kb/q3-report")"

say "5. The scraper starts probing, and loses trust on every adapter"
for i in $(seq 1 40); do http "$SCRAPER" GET "/admin/users/$i" > /dev/null; done
note "40 requests to /admin/users/* answered 403 insufficient_scope"
step scraper nginx "GET /kb/public (allowed by scopes)" "403 low_trust" "$(http "$SCRAPER" GET /kb/public)"
step scraper pam "log in as nobody (allowed by scopes)" "refused low_trust" "$(pam "$SCRAPER")"
step scraper pg "bind as role reporting (allowed by scopes)" "ERROR low_trust" \
    "$(sql "$SCRAPER" reporting 'SELECT count(*) FROM docs;')"
step reporter nginx "GET /kb/q3-report (others unaffected)" "200" "$(http "$REPORTER" GET /kb/q3-report)"

say "6. An operator revokes the deployer; it stops everywhere within two seconds"
echo "agent spiffe://demo.example/agent/deployer" >> "$W/revoked"
note "appended to $W/revoked at $(date +%T); waiting 2 s"
sleep 2
step deployer nginx "PUT /kb/config" "401 revoked" "$(http "$DEPLOYER" PUT /kb/config)"
step deployer pam "log in as nobody" "refused revoked" "$(pam "$DEPLOYER")"
step reporter pg "count visible docs (unaffected)" "2" \
    "$(sql "$REPORTER" reporting 'SELECT count(*) FROM docs;')"

# ---------------------------------------------------------------------
say "7. The audit trail: who did what, where"
"$AIMCTL" audit "$W/audit.log" 2>/dev/null | sed 's/^/   /'
echo
"$AIMCTL" stats --state "$W/state" 2>/dev/null | sed 's/^/   /'
"$AIMCTL" audit "$W/audit.log" --agent spiffe://demo.example/agent/scraper \
    --svg "$W/scraper-trust.svg" >/dev/null 2>&1

say "Summary"
printf '   %-9s %-6s %-44s %-26s %-26s %s\n' agent where action expected got ""
printf '   %s\n' "$(printf '%.0s-' $(seq 1 125))"
for r in "${ROWS[@]}"; do
    IFS='|' read -r a b c d e f <<< "$r"
    printf '   %-9s %-6s %-44s %-26s %-26s %s\n' "$a" "$b" "$c" "$d" "$e" "$f"
done
echo
note "audit lines (all adapters)  $W/audit.log"
note "nginx error log             $W/nginx/logs/error.log"
note "PostgreSQL log              $W/pg/server.log"
note "trust timeline (scraper)    $W/scraper-trust.svg"
note "state file                  $W/state   (aimctl stats --state $W/state)"
echo
echo "demo: $(( ${#ROWS[@]} - FAILED )) passed, $FAILED failed, 0 skipped"
[ "$FAILED" -eq 0 ]
