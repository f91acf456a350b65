#!/bin/bash
# bench/pg/bench.sh -- pg_aim under pgbench, on one throwaway cluster in one run.
#
#   1. RLS on aim.agent_id() vs the PostgREST idiom
#      current_setting('request.jwt.claims', true)::json->>'sub'
#      (same table, same rows; a policy per role), both as an init-plan
#      "(SELECT f())" on an indexed column and per row over a seq scan;
#   2. what each statement of a bound session costs: a point query from
#      one client, unbound vs bound without a state file vs bound feeding
#      the agent's baseline (pg_aim.state), as throughput and as the CPU
#      time its backend spends per statement;
#   3. aim.session_init() calls per second (same session, cached token);
#   4. through PgBouncer in transaction mode: aim.transaction_init() per
#      transaction vs the PostgREST idiom per transaction (one statement:
#      set_config('request.jwt.claims', ..., true), set_config('role', ..., true));
#   5. connect + bind (trust + session_init, and a PAM agent login through
#      pam_aim) vs a scram-sha-256 login, with pgbench -C.
#
# The cluster, pg_aim's private installation and PgBouncer are the
# fixtures of tests/lib/aimtest.sh (pg_init, pg_private, pgb_start), in a
# run directory under /tmp removed on exit (KEEP=1 keeps it); free ports,
# or AIM_PG_BENCH_PORT and AIM_PG_BENCH_BOUNCER_PORT.
# AIM_PG_BENCH_SECONDS per run (default 10), AIM_PG_BENCH_CLIENTS (default
# 2); comparisons run AIM_PG_BENCH_ROUNDS times (default 3) in a rotated
# order and report the median of each.
set -u
. "$(dirname "$0")/../../tests/lib/aimtest.sh"
SECS=${AIM_PG_BENCH_SECONDS:-10}
CLIENTS=${AIM_PG_BENCH_CLIENTS:-2}
ISS=https://idp.bench
AUD=pg:bench

die() { echo "bench-pg: $*" >&2; [ -f "${PG_LOG:-/nonexistent}" ] && tail -20 "$PG_LOG" >&2; exit 1; }

for f in "$AIMCTL" "$PG_CONFIG" "$PGBOUNCER"; do [ -e "$f" ] || die "missing $f (make build-all; ./deps.sh)"; done
at_port PORT AIM_PG_BENCH_PORT || die "no port for PostgreSQL"
at_port BPORT AIM_PG_BENCH_BOUNCER_PORT || die "no port for PgBouncer"
at_rundir pg-bench || die "no run directory"
T=$AT_RUN

mint_key "$T/issuer.key" --kid k1 || die "keygen"
mint_jwks "$T/jwks.json" "$T/issuer.key"
ISSUER_KEY=$T/issuer.key
AGENT=spiffe://bench/agent/7
TOK=$(issue --sub "$AGENT" --scope "pg:role:r_aim pg:login:nobody kb:read" --ttl 7200)
CLAIMS="{\"sub\":\"$AGENT\",\"role\":\"r_jwt\",\"scope\":\"kb:read\"}"

# The PAM service of agent logins, when pam_wrapper and pam_aim.so are
# there (the PAM login run is left out otherwise).
PAM_ENV=() PAM=
if at_pam_wrapper && [ -f "$AT_BUILD/pam_aim.so" ]; then
    pg_pam_service "$T/services" "$T/jwks.json" && PAM=1
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
pg_aim.trust_min = 0
EOF
pg_hba <<EOF
local all all                      trust
host  all bench_scram 127.0.0.1/32 scram-sha-256
host  all nobody      127.0.0.1/32 pam pamservice=postgresql
host  all all         127.0.0.1/32 trust
EOF
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
-- 100 agents x 1000 rows, indexed on the agent and the id.
CREATE TABLE items AS SELECT g AS id, 'spiffe://bench/agent/' || (g % 100) AS agent,
    md5(g::text) AS body FROM generate_series(1, 100000) g;
CREATE INDEX ON items (agent);
CREATE UNIQUE INDEX ON items (id);
-- 20 agents x 250 rows, no index: the policy runs per row.
CREATE TABLE scan AS SELECT g AS id, 'spiffe://bench/agent/' || (g % 20) AS agent
    FROM generate_series(1, 5000) g;
-- No policy: what a statement costs, nothing else.
CREATE TABLE plain AS SELECT g AS id, md5(g::text) AS body FROM generate_series(1, 100000) g;
CREATE UNIQUE INDEX ON plain (id);
ANALYZE items; ANALYZE scan; ANALYZE plain;
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
ALTER TABLE scan ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_aim ON items TO r_aim USING (agent = (SELECT aim.agent_id()));
CREATE POLICY by_jwt ON items TO r_jwt
    USING (agent = (SELECT current_setting('request.jwt.claims', true)::json ->> 'sub'));
CREATE POLICY by_aim ON scan TO r_aim USING (agent = aim.agent_id());
CREATE POLICY by_jwt ON scan TO r_jwt
    USING (agent = current_setting('request.jwt.claims', true)::json ->> 'sub');
GRANT SELECT ON items, scan TO r_aim, r_jwt;
GRANT SELECT ON plain TO PUBLIC;
-- Where a one-client run says which backend serves it.
CREATE TABLE bench_pids (pid int);
GRANT INSERT ON bench_pids TO PUBLIC;
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
cat > "$T/point_unbound.sql" <<'EOF'
\if :bound = 0
INSERT INTO bench_pids SELECT pg_backend_pid();
\set bound 1
\endif
\set id random(1, 100000)
SELECT body FROM plain WHERE id = :id;
EOF
cat > "$T/point_bound.sql" <<'EOF'
\if :bound = 0
INSERT INTO bench_pids SELECT pg_backend_pid();
SELECT aim.session_init(:tok);
\set bound 1
\endif
\set id random(1, 100000)
SELECT body FROM plain WHERE id = :id;
EOF
cat > "$T/init.sql" <<'EOF'
SELECT aim.session_init(:tok);
EOF
cat > "$T/select1.sql" <<'EOF'
SELECT 1;
EOF
cat > "$T/agent.sql" <<'EOF'
SELECT aim.agent_id();
EOF
# Through the pooler (simple protocol: variables are substituted as text).
cat > "$T/pool_aim.sql" <<'EOF'
\set id random(1, 100000)
BEGIN;
SELECT aim.transaction_init(:qtok, 'r_aim');
SELECT body FROM items WHERE id = :id;
COMMIT;
EOF
cat > "$T/pool_jwt.sql" <<'EOF'
\set id random(1, 100000)
BEGIN;
SELECT set_config('request.jwt.claims', :qclaims, true), set_config('role', 'r_jwt', true);
SELECT body FROM items WHERE id = :id;
COMMIT;
EOF

# run NAME USER [pgbench args...]: prints and records tps.
declare -A TPS
run() {
    local name=$1 user=$2 out tps
    shift 2
    out=$("$PGBIN/pgbench" -n -h "${HOSTARG:-$T}" -p "${PORTARG:-$PORT}" -U "$user" -c "$CLIENTS" \
          -j "$CLIENTS" -T "$SECS" -M "${MODE:-prepared}" -D bound=0 -D "tok=$TOK" -D "claims=$CLAIMS" \
          -D "qtok='$TOK'" -D "qclaims='$CLAIMS'" "$@" bench 2>&1)
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -1)
    if [ -z "$tps" ] || grep -q "aborted\|error" <<<"$out"; then
        echo "$out" | grep -v AUDIT >&2
        die "pgbench $name failed"
    fi
    TPS[$name]=$tps
    printf '  %-56s %10.0f tps\n' "$name" "$tps"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

# cpu_run NAME USER [pgbench args...]: one client; records tps and the CPU
# time its backend spent per transaction (CPU[NAME], microseconds), which
# other load on the machine disturbs far less than throughput.  The
# script's first transaction writes the backend's pid into bench_pids.
declare -A CPU
cpu_run() {
    local name=$1 user=$2 pid="" ticks=0 t hz tx
    shift 2
    sql "TRUNCATE bench_pids"
    "$PGBIN/pgbench" -n -h "$T" -p "$PORT" -U "$user" -c 1 -j 1 -T "$SECS" -M prepared \
        -D bound=0 -D "tok=$TOK" "$@" bench >"$T/cpu_run.out" 2>&1 &
    local bench=$!
    while kill -0 "$bench" 2>/dev/null; do
        [ -n "$pid" ] || pid=$("${PSQL[@]}" -U postgres -d bench -c "SELECT pid FROM bench_pids" 2>/dev/null)
        if [ -n "$pid" ] && t=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null); then ticks=$t; fi
        sleep 0.1
    done
    wait "$bench"
    tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$T/cpu_run.out")
    TPS[$name]=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$T/cpu_run.out" | head -1)
    [ -n "$tx" ] && [ -n "${TPS[$name]}" ] && [ "$ticks" -gt 0 ] || { cat "$T/cpu_run.out" >&2; die "pgbench $name failed"; }
    hz=$(getconf CLK_TCK)
    CPU[$name]=$(awk -v t="$ticks" -v hz="$hz" -v n="$tx" 'BEGIN { printf "%.1f", t / hz / n * 1e6 }')
    printf '  %-56s %10.0f tps %8s us CPU/statement\n' "$name" "${TPS[$name]}" "${CPU[$name]}"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# compare NAME...: each variant (VARIANT[NAME] = "USER|pgbench args";
# PRE/POST[NAME]: commands around it) ROUNDS times, in a rotated order so
# that drift on a shared machine falls on every variant alike; records
# the median as TPS[NAME].
declare -A VARIANT PRE POST
ROUNDS=${AIM_PG_BENCH_ROUNDS:-3}
compare() {
    local r i n=$# names=("$@") name spec all cpu
    for ((r = 1; r <= ROUNDS; r++)); do
        for ((i = 0; i < n; i++)); do
            name=${names[(i + r - 1) % n]}
            spec=${VARIANT[$name]}
            ${PRE[$name]:-true}
            # shellcheck disable=SC2086
            ${RUN:-run} "$name #$r" "${spec%%|*}" ${spec#*|}
            ${POST[$name]:-true}
        done
    done
    for name in "${names[@]}"; do
        all=() cpu=()
        for ((r = 1; r <= ROUNDS; r++)); do
            all+=("${TPS[$name #$r]}")
            cpu+=("${CPU[$name #$r]-0}")
        done
        TPS[$name]=$(median "${all[@]}")
        CPU[$name]=$(median "${cpu[@]}")
        if [ "${RUN:-run}" = cpu_run ]; then
            printf '  %-56s %10.0f tps %8s us CPU/statement (medians)\n' "$name" "${TPS[$name]}" "${CPU[$name]}"
        else
            printf '  %-56s %10.0f tps (median)\n' "$name" "${TPS[$name]}"
        fi
    done
}
sql() { "${PSQL[@]}" -U postgres -d bench -c "$1" >/dev/null; }
# reload SETTING VALUE: ALTER SYSTEM, reload, and wait for it to apply.
reload() {
    if [ -n "$2" ]; then sql "ALTER SYSTEM SET $1 = '$2'"; else sql "ALTER SYSTEM RESET $1"; fi
    sql "SELECT pg_reload_conf()"
    sleep 1
}
state_on() { reload pg_aim.state "$T/state"; }
state_off() { reload pg_aim.state ""; }

# Check both policies see the same 1000 rows before timing them.
n_aim=$("${PSQL[@]}" -U bench_login -d bench -c "SELECT aim.session_init('$TOK', 'r_aim')" -c "SELECT count(*) FROM items" | tail -1)
n_jwt=$("${PSQL[@]}" -U bench_login -d bench -c "SELECT set_config('request.jwt.claims', '$CLAIMS', false)" -c "SET ROLE r_jwt" -c "SELECT count(*) FROM items" | tail -1)
[ "$n_aim" = 1000 ] && [ "$n_jwt" = 1000 ] || die "policies disagree: aim $n_aim, jwt $n_jwt rows"

# Warm the buffer cache so that the first run is not penalised.
"${PSQL[@]}" -U postgres -d bench -c "SELECT count(*) FROM items" -c "SELECT count(*) FROM scan" \
    -c "SELECT count(*) FROM plain" >/dev/null

echo "pg_aim benchmark: PostgreSQL $("$PGBIN/postgres" -V | awk '{print $3}'), $CLIENTS clients, $SECS s per run, $(nproc) cores"
echo "RLS, 1000 of 100000 rows through an index, policy (SELECT f()):"
VARIANT["rls-initplan aim.agent_id()"]="bench_login|-f $T/aim_items.sql"
VARIANT["rls-initplan request.jwt.claims->>sub"]="bench_login|-f $T/jwt_items.sql"
compare "rls-initplan aim.agent_id()" "rls-initplan request.jwt.claims->>sub"
echo "RLS, 250 of 5000 rows, policy evaluated per row (seq scan):"
VARIANT["rls-per-row aim.agent_id()"]="bench_login|-f $T/aim_scan.sql"
VARIANT["rls-per-row request.jwt.claims->>sub"]="bench_login|-f $T/jwt_scan.sql"
compare "rls-per-row aim.agent_id()" "rls-per-row request.jwt.claims->>sub"

echo "A statement of a bound session (one client, point query on a table without policy):"
VARIANT["point, unbound"]="bench_login|-f $T/point_unbound.sql"
VARIANT["point, bound, no state file"]="bench_login|-f $T/point_bound.sql"
VARIANT["point, bound, baseline fed"]="bench_login|-f $T/point_bound.sql"
PRE["point, bound, baseline fed"]=state_on
POST["point, bound, baseline fed"]=state_off
RUN=cpu_run compare "point, unbound" "point, bound, no state file" "point, bound, baseline fed"
events=$("$AIMCTL" stats --state "$T/state" --json | jq -r --arg a "$AGENT" 'select(.agent == $a) | .events')
echo "  (the agent's baseline recorded $events events)"

echo "Binding:"
run "aim.session_init() (same session)" bench_login -f "$T/init.sql"
run "SELECT 1 (same session, reference)" bench_login -f "$T/select1.sql"

echo "Through PgBouncer, transaction mode (a bind per transaction, point query with RLS):"
if ! pgb_start "$T/bouncer" "$BPORT" bench bench_login <<EOF
default_pool_size = $CLIENTS
max_client_conn = 50
EOF
then
    die "pgbouncer did not start: $(cat "$T/bouncer/pgbouncer.out")"
fi
VARIANT["pgbouncer: aim.transaction_init() + query"]="bench_login|-f $T/pool_aim.sql"
VARIANT["pgbouncer: set_config(claims), set_config(role) + query"]="bench_login|-f $T/pool_jwt.sql"
HOSTARG=127.0.0.1 PORTARG=$BPORT MODE=simple compare "pgbouncer: aim.transaction_init() + query" \
    "pgbouncer: set_config(claims), set_config(role) + query"

echo "Connect per transaction (pgbench -C, TCP 127.0.0.1):"
HOSTARG=127.0.0.1
run "connect trust + SELECT 1" bench_login -C -f "$T/select1.sql"
PGPASSWORD=bench-scram-password run "connect scram-sha-256 + SELECT 1" bench_scram -C -f "$T/select1.sql"
run "connect trust + aim.session_init()" bench_login -C -f "$T/init.sql"
if [ -n "$PAM" ]; then
    PGPASSWORD=$TOK run "connect PAM (pam_aim) agent login + agent_id()" nobody -C -f "$T/agent.sql"
else
    echo "  (PAM agent login left out: libpam_wrapper or $AT_BUILD/pam_aim.so missing)"
fi
unset HOSTARG

echo "Ratios (of medians):"
echo "  RLS initplan: aim / jwt-claims                   = $(ratio "${TPS[rls-initplan aim.agent_id()]}" "${TPS[rls-initplan request.jwt.claims->>sub]}")"
echo "  RLS per row:  aim / jwt-claims                   = $(ratio "${TPS[rls-per-row aim.agent_id()]}" "${TPS[rls-per-row request.jwt.claims->>sub]}")"
echo "  point, tps: bound / unbound                      = $(ratio "${TPS[point, bound, no state file]}" "${TPS[point, unbound]}")"
echo "  point, tps: baseline fed / not fed               = $(ratio "${TPS[point, bound, baseline fed]}" "${TPS[point, bound, no state file]}")"
echo "  point, CPU: the check of a bound statement       = $(awk -v a="${CPU[point, bound, no state file]}" -v b="${CPU[point, unbound]}" 'BEGIN { printf "%+.1f us", a - b }')"
echo "  point, CPU: feeding the baseline                 = $(awk -v a="${CPU[point, bound, baseline fed]}" -v b="${CPU[point, bound, no state file]}" 'BEGIN { printf "%+.1f us", a - b }')"
echo "  pgbouncer: transaction_init / PostgREST idiom    = $(ratio "${TPS[pgbouncer: aim.transaction_init() + query]}" "${TPS[pgbouncer: set_config(claims), set_config(role) + query]}")"
echo "  connect+bind / scram login                       = $(ratio "${TPS[connect trust + aim.session_init()]}" "${TPS[connect scram-sha-256 + SELECT 1]}")"
if [ -n "${TPS[connect PAM (pam_aim) agent login + agent_id()]+x}" ]; then
    echo "  PAM agent login / scram login                    = $(ratio "${TPS[connect PAM (pam_aim) agent login + agent_id()]}" "${TPS[connect scram-sha-256 + SELECT 1]}")"
fi
