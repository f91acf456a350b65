#!/bin/bash
# The AIM demo: three agents, one issuer, three adapters on one host.
#
#   a real nginx with ngx_aim in front of a small API      127.0.0.1, a free port
#   a real PostgreSQL 15 with pg_aim and row-level security 127.0.0.1, a free port
#   PAM logins through pam_aim (pam_wrapper + pamtester; /etc untouched)
#
# Every adapter shares one state file (trust) and one audit file.  The
# story: each agent does its job; one reaches beyond its scopes; one
# probes and loses trust everywhere; an operator revokes one; the identity
# provider disables one by a shared signal (a RISC account-disabled Security
# Event Token pushed to nginx's receiver, RFC 8935).  Prints a table, says
# where the logs are, leaves nothing running.  Exit status 0 when every
# step had the expected outcome.
#
# The servers' files live in a run directory under /tmp that nginx's
# workers and postgres can reach wherever the checkout is (a 0700 home
# too; tests/lib/aimtest.sh); the logs, the audit file, the state file
# and the trust chart are copied to build/demo (AIM_DEMO_DIR) at the end.
# Ports: AIM_DEMO_NGINX_PORT, AIM_DEMO_API_PORT, AIM_DEMO_PG_PORT, or
# free ones.
set -u
. "$(dirname "$0")/../lib/aimtest.sh"
at_suite demo
cd "$AT_ROOT"
B=$AT_BUILD
OUT=$(realpath -m "${AIM_DEMO_DIR:-$B/demo}")
ISS=https://idp.demo.example
AUD=aim-demo
ROWS=()

say()  { printf '\n\033[1m%s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }

# step AGENT ADAPTER ACTION EXPECTED GOT
step() {
    local mark="ok"
    if [ "$4" != "$5" ]; then mark="UNEXPECTED"; at_count fail; else at_count pass; fi
    ROWS+=("$(printf '%-9s|%-6s|%-44s|%-26s|%-26s|%s' "$1" "$2" "$3" "$4" "$5" "$mark")")
    printf '   %-9s %-6s %-44s -> %s%s\n' "$1" "$2" "$3" "$5" \
        "$([ "$mark" = ok ] || echo "   (expected $4)")"
}

at_need_files "$AIMCTL" "$B/pam_aim.so" "$NGX_MODULE" "$B/pg_aim.so" "$PG_CONFIG"
at_pam_wrapper || bail "libpam-wrapper is not installed: run ./deps.sh"
at_need_cmds pamtester curl python3
python3 -c 'import cryptography' 2>/dev/null || bail "python3-cryptography is not installed: run ./deps.sh"
TXPY=$AT_ROOT/tests/ssf/transmitter.py
SSF_AUD=https://aim-demo.example/ssf
at_port NGX_PORT AIM_DEMO_NGINX_PORT || bail "a port for nginx"
at_port API_PORT AIM_DEMO_API_PORT || bail "a port for the API"
at_port PG_PORT AIM_DEMO_PG_PORT || bail "a port for PostgreSQL"
at_rundir demo || bail "a run directory"
W=$AT_RUN
mkdir -p "$W"/{nginx,pam/services}
rm -rf "$OUT"
mkdir -p "$OUT"

# ---------------------------------------------------------------------
say "1. A development issuer and three agents"
"$AIMCTL" keygen --alg ES256 --kid demo-2026 --out "$W/issuer.key" >/dev/null
mint_jwks "$W/jwks.json" "$W/issuer.key"
: > "$W/revoked"
: > "$W/audit.log"
cat > "$W/policy" <<'EOF'
# Local least privilege on this host: what each agent may ever hold here.
allow spiffe://demo.example/agent/reporter  kb:GET pg:role:reporting pg:login:*
allow spiffe://demo.example/agent/deployer  kb:* pam:login:nobody
allow spiffe://demo.example/agent/scraper   kb:GET pam:login:nobody pg:role:reporting
allow https://idp.demo.example              ssf:push
EOF
chmod 644 "$W"/{jwks.json,revoked,policy}
chmod 666 "$W/audit.log"
ISSUER_KEY=$W/issuer.key
ISSUE_ARGS=(--ttl 3600)
REPORTER=$(issue --sub spiffe://demo.example/agent/reporter --owner alice@finance \
                 --scope "kb:GET kb:DELETE pg:role:reporting")
DEPLOYER=$(issue --sub spiffe://demo.example/agent/deployer --owner bob@sre \
                 --scope "kb:GET kb:PUT pam:login:nobody")
SCRAPER=$(issue --sub spiffe://demo.example/agent/scraper --owner carol@growth \
                --scope "kb:GET pam:login:nobody pg:role:reporting")
note "issuer key     ES256, kid demo-2026 (in $W while the demo runs)"
note "reporter       owner alice@finance  token scopes: kb:GET kb:DELETE pg:role:reporting"
note "deployer       owner bob@sre        token scopes: kb:GET kb:PUT pam:login:nobody"
note "scraper        owner carol@growth   token scopes: kb:GET pam:login:nobody pg:role:reporting"
note "host policy    reporter may not hold kb:DELETE here (policy file copied to $OUT)"
# The identity provider also transmits shared signals (OpenID SSF 1.0):
# its SET signing key, and a token to push them to nginx with.
python3 "$TXPY" jwks --key "$W/idp-ssf.key" --out "$W/idp-ssf.jwks" || bail "the identity provider's SET key"
chmod 644 "$W/idp-ssf.jwks"
IDP_PUSH=$(issue --sub https://idp.demo.example --scope ssf:push)
note "signals       the identity provider signs SETs (ES256) and may push them (scope ssf:push)"

COMMON_FILES="revoked=$W/revoked policy=$W/policy state=$W/state audit=$W/audit.log"

# ---------------------------------------------------------------------
say "2. Starting nginx + ngx_aim, PostgreSQL + pg_aim, and PAM"
# The state file and its shared signals journal beside it: nginx workers,
# postgres and PAM (root) all write them, through a group they share, as
# in production (docs/trust.md; strict_modes refuses a world-writable one).
at_shared "$W/state" "$W/state.ssf" || bail "the shared state file"
ngx_conf "$W/nginx" "$AT_NGX_USER" "worker_processes 2;" "daemon on;" <<EOF
    access_log $W/nginx/access.log;

    aim_keys      $W/jwks.json;
    aim_issuer    $ISS;
    aim_audience  $AUD;
    aim_revoked   $W/revoked;
    aim_policy    $W/policy;
    aim_state     $W/state;
    aim_audit     $W/audit.log;

    aim_ssf_keys      $W/idp-ssf.jwks;
    aim_ssf_issuer    $ISS;
    aim_ssf_audience  $SSF_AUD;

    server {
        listen 127.0.0.1:$NGX_PORT;
        location = /ssf/events {   # RFC 8935 push, for the identity provider
            aim        on;
            aim_scope  ssf:push;
            aim_ssf_receiver;
        }
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
EOF
ngx_start "$NGX_PORT" || bail "nginx starts" "$(cat "$W/nginx/start.err")"
note "nginx     http://127.0.0.1:$NGX_PORT"

# PostgreSQL: a throwaway cluster owned by the postgres account, running
# pg_aim from a private installation in $W/pg/install (pg_init).
pg_init "$W/pg" "$PG_PORT" || bail "initdb" "$(cat "$W/pg/initdb.log")"
pg_conf <<EOF
shared_preload_libraries = 'pg_aim'
pg_aim.keys = '$W/jwks.json'
pg_aim.issuer = '$ISS'
pg_aim.audience = '$AUD'
pg_aim.revoked = '$W/revoked'
pg_aim.policy = '$W/policy'
pg_aim.state = '$W/state'
pg_aim.audit = '$W/audit.log'
EOF
pg_start || bail "PostgreSQL starts" "$(tail -5 "$PG_LOG")"
PSQL=("${PG_PSQL[@]}" -U postgres -v ON_ERROR_STOP=1)
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
PAM_MODULE=$(at_stage "$B/pam_aim.so")
pam_env "$W/pam/services"
printf '%s\n' \
  "auth     required $PAM_MODULE keys=$W/jwks.json issuer=$ISS audience=$AUD $COMMON_FILES token_env=AIM_TOKEN" \
  "account  required $PAM_MODULE keys=$W/jwks.json issuer=$ISS audience=$AUD $COMMON_FILES token_env=AIM_TOKEN" \
  "session  required $PAM_MODULE keys=$W/jwks.json issuer=$ISS audience=$AUD $COMMON_FILES" \
  "session  optional pam_exec.so $W/pam/session-env.sh" > "$W/pam/services/aim-demo"
printf '#!/bin/sh\nenv | grep ^AIM_ | sort > %s\n' "$W/pam/session.env" > "$W/pam/session-env.sh"
chmod +x "$W/pam/session-env.sh"
note "pam       service aim-demo (pam_wrapper: $W/pam/services), account 'nobody'"

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
    if env "${PAM_ENV[@]}" AIM_TOKEN="$1" pamtester aim-demo nobody authenticate acct_mgmt open_session \
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

say "7. The identity provider disables the reporter with a shared signal"
push() {   # a SET, pushed as the identity provider -> "202" or "400 <err>"
    local code
    code=$(curl -s -o "$W/push-body" -w '%{http_code}' -X POST -H "Authorization: Bearer $IDP_PUSH" \
           -H "Content-Type: application/secevent+jwt" --data-binary "$1" \
           "http://127.0.0.1:$NGX_PORT/ssf/events")
    echo "$code$(sed -n 's/.*"err": *"\([a-z_]*\)".*/ \1/p' "$W/push-body")"
}
DISABLE=$(python3 "$TXPY" sign --key "$W/idp-ssf.key" --iss "$ISS" --aud "$SSF_AUD" \
          account-disabled --agent spiffe://demo.example/agent/reporter)
FORGED=$(python3 "$TXPY" sign --key "$W/rogue-ssf.key" --iss "$ISS" --aud "$SSF_AUD" \
         account-disabled --agent spiffe://demo.example/agent/deployer)
note "RISC account-disabled for the reporter, signed by the identity provider,"
note "POSTed to http://127.0.0.1:$NGX_PORT/ssf/events (aim_ssf_receiver) at $(date +%T)"
step idp nginx "a SET signed by an unknown key" "400 invalid_key" "$(push "$FORGED")"
step idp nginx "push account-disabled for the reporter" "202" "$(push "$DISABLE")"
step reporter nginx "GET /kb/q3-report" "401 revoked" "$(http "$REPORTER" GET /kb/q3-report)"
step reporter pam "log in as nobody" "refused revoked" "$(pam "$REPORTER")"
step reporter pg "bind as role reporting" "ERROR revoked" \
    "$(sql "$REPORTER" reporting 'SELECT count(*) FROM docs;')"

# ---------------------------------------------------------------------
say "8. The audit trail: who did what, where"
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

# The servers stop; what a reader wants to look at stays in $OUT.
ngx_stop
pg_stop
cp "$W/audit.log" "$W/state" "$W/policy" "$W/jwks.json" "$W/scraper-trust.svg" "$OUT/" 2>/dev/null
cp "$W/nginx/error.log" "$OUT/nginx-error.log" 2>/dev/null
cp "$W/nginx/access.log" "$OUT/nginx-access.log" 2>/dev/null
cp "$PG_LOG" "$OUT/postgresql.log" 2>/dev/null
echo
note "audit lines (all adapters)  $OUT/audit.log"
note "nginx error log             $OUT/nginx-error.log"
note "PostgreSQL log              $OUT/postgresql.log"
note "trust timeline (scraper)    $OUT/scraper-trust.svg"
note "state file                  $OUT/state   (aimctl stats --state $OUT/state)"
echo
finish
