#!/bin/bash
# bench/pg/bench.sh -- pg_aim under pgbench, on one throwaway cluster in one run.
#
#   1. RLS on aim.agent_id() vs the PostgREST idiom
#      current_setting('request.jwt.claims', true)::json->>'sub'
#      (same table, same rows; a policy per role), both as an init-plan
#      "(SELECT f())" on an indexed column and per row over a seq scan;
#   2. aim.session_init() calls per second (same session, cached token);
#   3. connect + bind (trust + session_init, and a PAM agent login through
#      pam_aim) vs a scram-sha-256 login, with pgbench -C.
#
# 127.0.0.1 on a free port (tests/lib/aimtest.sh) or AIM_PG_BENCH_PORT;
# AIM_PG_BENCH_SECONDS per run (default 10); the cluster is removed on exit.
set -u
. "$(dirname "$0")/../../tests/lib/aimtest.sh"
SECS=${AIM_PG_BENCH_SECONDS:-10}
CLIENTS=${AIM_PG_BENCH_CLIENTS:-2}
ISS=https://idp.bench
AUD=pg:bench

at_rundir pg-bench || exit 1
T=$AT_RUN
die() { echo "bench-pg: $*" >&2; [ -f "$T/server.log" ] && tail -20 "$T/server.log" >&2; exit 1; }
at_port PORT AIM_PG_BENCH_PORT || die "no port"
WRAPPER=
at_pam_wrapper && WRAPPER=$PAM_WRAPPER_LIB

mint_key "$T/issuer.key" --kid k1 || die "keygen"
mint_jwks "$T/jwks.json" "$T/issuer.key"
ISSUER_KEY=$T/issuer.key
AGENT=spiffe://bench/agent/7
TOK=$(issue --sub "$AGENT" --scope "pg:role:r_aim pg:login:nobody kb:read" --ttl 7200)
CLAIMS="{\"sub\":\"$AGENT\",\"role\":\"r_jwt\",\"scope\":\"kb:read\"}"

PAM_ENV=()
if [ -n "$WRAPPER" ]; then
    pg_pam_service "$T/services" "$T/jwks.json" || die "the PAM service for agent logins"
fi
pg_init "$T" "$PORT" || die "initdb failed: $(cat "$T/initdb.log")"
pg_conf <<EOF
shared_preload_libraries = 'pg_aim'
max_connections = 50
synchronous_commit = off
pg_aim.keys = '$T/jwks.json'
pg_aim.issuer = '$ISS'
pg_aim.audience = '$AUD'
pg_aim.pam_handoff = 'AIM_PG_TOKEN'
EOF
pg_hba <<EOF
local all all                      trust
host  all bench_scram 127.0.0.1/32 scram-sha-256
host  all nobody      127.0.0.1/32 pam pamservice=postgresql
host  all all         127.0.0.1/32 trust
EOF
pg_install > "$T/install.log" 2>&1 || die "make -C pg_aim install failed (needs root): $(cat "$T/install.log")"
pg_start "${PAM_ENV[@]}" || die "server did not start"

PSQL=("${PG_PSQL[@]}")
"${PSQL[@]}" -U postgres -d postgres -c "CREATE DATABASE bench" >/dev/null
"${PSQL[@]}" -U postgres -d bench -v ON_ERROR_STOP=1 >/dev/null <<EOF || die "setup failed"
CREATE EXTENSION pg_aim;
CREATE ROLE bench_login LOGIN;
CREATE ROLE bench_scram LOGIN PASSWORD 'bench-scram-password';
CREATE ROLE nobody LOGIN;
CREATE ROLE r_aim NOLOGIN;
CREATE ROLE r_jwt NOLOGIN;
GRANT r_aim, r_jwt TO bench_login;
-- 100 agents x 1000 rows, indexed on the agent.
CREATE TABLE items AS SELECT g AS id, 'spiffe://bench/agent/' || (g % 100) AS agent,
    md5(g::text) AS body FROM generate_series(1, 100000) g;
CREATE INDEX ON items (agent);
-- 20 agents x 250 rows, no index: the policy runs per row.
CREATE TABLE scan AS SELECT g AS id, 'spiffe://bench/agent/' || (g % 20) AS agent
    FROM generate_series(1, 5000) g;
ANALYZE items; ANALYZE scan;
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
ALTER TABLE scan ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_aim ON items TO r_aim USING (agent = (SELECT aim.agent_id()));
CREATE POLICY by_jwt ON items TO r_jwt
    USING (agent = (SELECT current_setting('request.jwt.claims', true)::json ->> 'sub'));
CREATE POLICY by_aim ON scan TO r_aim USING (agent = aim.agent_id());
CREATE POLICY by_jwt ON scan TO r_jwt
    USING (agent = current_setting('request.jwt.claims', true)::json ->> 'sub');
GRANT SELECT ON items, scan TO r_aim, r_jwt;
EOF

# Per-connection setup runs once per pgbench client (bound=0 at first).
cat > "$T/aim_items.sql" <<'EOF'
\if :bound = 0
SELECT aim.session_init(:tok, 'r_aim');
\set bound 1
\endif
SELECT count(*) FROM items;
EOF
cat > "$T/jwt_items.sql" <<'EOF'
\if :bound = 0
SELECT set_config('request.jwt.claims', :claims, false), set_config('role', 'r_jwt', false);
\set bound 1
\endif
SELECT count(*) FROM items;
EOF
sed 's/FROM items/FROM scan/' "$T/aim_items.sql" > "$T/aim_scan.sql"
sed 's/FROM items/FROM scan/' "$T/jwt_items.sql" > "$T/jwt_scan.sql"
cat > "$T/init.sql" <<'EOF'
SELECT aim.session_init(:tok);
EOF
cat > "$T/select1.sql" <<'EOF'
SELECT 1;
EOF
cat > "$T/agent.sql" <<'EOF'
SELECT aim.agent_id();
EOF

# run NAME USER [pgbench args...]: prints and records tps.
declare -A TPS
run() {
    local name=$1 user=$2 out tps
    shift 2
    out=$("$PGBIN/pgbench" -n -h "${HOSTARG:-$T}" -p "$PORT" -U "$user" -c "$CLIENTS" -j "$CLIENTS" \
          -T "$SECS" -M prepared -D bound=0 -D "tok=$TOK" -D "claims=$CLAIMS" "$@" bench 2>&1)
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -1)
    if [ -z "$tps" ] || grep -q "aborted\|error" <<<"$out"; then
        echo "$out" >&2
        die "pgbench $name failed"
    fi
    TPS[$name]=$tps
    printf '  %-44s %12s tps\n' "$name" "$tps"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# Check both policies see the same 1000 rows before timing them.
n_aim=$("${PSQL[@]}" -U bench_login -d bench -c "SELECT aim.session_init('$TOK', 'r_aim')" -c "SELECT count(*) FROM items" | tail -1)
n_jwt=$("${PSQL[@]}" -U bench_login -d bench -c "SELECT set_config('request.jwt.claims', '$CLAIMS', false)" -c "SET ROLE r_jwt" -c "SELECT count(*) FROM items" | tail -1)
[ "$n_aim" = 1000 ] && [ "$n_jwt" = 1000 ] || die "policies disagree: aim $n_aim, jwt $n_jwt rows"

# Warm the buffer cache so that the first run is not penalised.
"${PSQL[@]}" -U postgres -d bench -c "SELECT count(*) FROM items" -c "SELECT count(*) FROM scan" >/dev/null

echo "pg_aim benchmark: PostgreSQL $("$PGBIN/postgres" -V | awk '{print $3}'), $CLIENTS clients, $SECS s per run, $(nproc) cores"
echo "RLS, 1000 of 100000 rows through an index, policy (SELECT f()):"
run "rls-initplan aim.agent_id()" bench_login -f "$T/aim_items.sql"
run "rls-initplan request.jwt.claims->>sub" bench_login -f "$T/jwt_items.sql"
echo "RLS, 250 of 5000 rows, policy evaluated per row (seq scan):"
run "rls-per-row aim.agent_id()" bench_login -f "$T/aim_scan.sql"
run "rls-per-row request.jwt.claims->>sub" bench_login -f "$T/jwt_scan.sql"
echo "Binding:"
run "aim.session_init() (same session)" bench_login -f "$T/init.sql"
run "SELECT 1 (same session, reference)" bench_login -f "$T/select1.sql"
echo "Connect per transaction (pgbench -C, TCP 127.0.0.1):"
HOSTARG=127.0.0.1
run "connect trust + SELECT 1" bench_login -C -f "$T/select1.sql"
PGPASSWORD=bench-scram-password run "connect scram-sha-256 + SELECT 1" bench_scram -C -f "$T/select1.sql"
run "connect trust + aim.session_init()" bench_login -C -f "$T/init.sql"
if [ -n "$WRAPPER" ]; then
    PGPASSWORD=$TOK run "connect PAM (pam_aim) agent login + agent_id()" nobody -C -f "$T/agent.sql"
else
    echo "  (PAM agent login skipped: libpam_wrapper not installed)"
fi
unset HOSTARG

echo "Ratios:"
echo "  RLS initplan: aim / jwt-claims   = $(ratio "${TPS[rls-initplan aim.agent_id()]}" "${TPS[rls-initplan request.jwt.claims->>sub]}")"
echo "  RLS per row:  aim / jwt-claims   = $(ratio "${TPS[rls-per-row aim.agent_id()]}" "${TPS[rls-per-row request.jwt.claims->>sub]}")"
echo "  connect+bind / scram login       = $(ratio "${TPS[connect trust + aim.session_init()]}" "${TPS[connect scram-sha-256 + SELECT 1]}")"
if [ -n "${TPS[connect PAM (pam_aim) agent login + agent_id()]+x}" ]; then
    echo "  PAM agent login / scram login    = $(ratio "${TPS[connect PAM (pam_aim) agent login + agent_id()]}" "${TPS[connect scram-sha-256 + SELECT 1]}")"
fi
