#!/bin/bash
# tests/pg/run.sh -- pg_aim against a throwaway PostgreSQL 15 cluster.
#
# pg_aim is installed into a private PostgreSQL installation in the run
# directory (pg_private in tests/lib/aimtest.sh), never into the system's
# directories; the cluster (pg_init) listens on 127.0.0.1 on a free port
# (or AIM_PG_PORT) and a Unix socket in the run directory under /tmp,
# with PgBouncer in transaction mode (pgb_start) on another (or
# AIM_PG_BOUNCER_PORT), run as the "postgres" account when started as
# root.  pg_regress (installcheck, as a user runs it), scripted psql
# sessions, PAM logins through pam_aim (pam_wrapper), and
# tests/pg/proto.c for what psql cannot send (Execute of an open portal a
# few rows at a time, fast-path calls, two pooled clients).  Everything
# is stopped and removed on exit (KEEP=1 keeps the files).
# Last line: "pg: N passed, N failed, N skipped".
set -u
. "$(dirname "$0")/../lib/aimtest.sh"
at_suite pg
ISS=https://idp.test
AUD=pg:aimtest

at_need_files "$AIMCTL" "$PGBOUNCER" "$PG_CONFIG" "$AT_BUILD/pam_aim.so"
at_need_cmds cc jq
at_pam_wrapper || bail "libpam_wrapper is not installed (libpam-wrapper; ./deps.sh)"
at_port PORT AIM_PG_PORT || bail "a port for PostgreSQL"
at_port BPORT AIM_PG_BOUNCER_PORT || bail "a port for PgBouncer"
at_rundir pg || bail "a run directory"
T=$AT_RUN

# line PREFIX TEXT: the first line of TEXT starting with PREFIX.
line() { printf '%s\n' "$2" | grep -m1 -- "^$1" || true; }

if ! pg_private "$T/inst"; then
    bail "pg_aim installs into a private PostgreSQL installation" "$(cat "$T/inst.log")"
fi
ok "pg_aim installs into a private PostgreSQL installation (make install DESTDIR=)"

# ---------------------------------------------------------------- keys, tokens
mkdir -p "$T/key dir"
mint_key "$T/issuer.key" --kid k1
mint_key "$T/rogue.key" --kid k1
mint_jwks "$T/key dir/jwks.json" "$T/issuer.key"
cp "$T/key dir/jwks.json" "$T/jwks.json"
: > "$T/revoked"
now=$(date +%s)
ISSUER_KEY=$T/issuer.key
ROLES="pg:role:agent_reader pg:role:agent_writer pg:role:login_role pg:role:super_role pg:role:bypass_role pg:role:lonely_role pg:role:no_such_role"

ALICE=$(issue --sub spiffe://test/agent/alice --owner team-a --jti jti-alice \
    --scope "kb:read $ROLES" --claim tenant=acme --claim level=3 --iat $((now - 10)) --ttl 3600)
ALICE_NEW=$(issue --sub spiffe://test/agent/alice --owner team-a --jti jti-alice-new \
    --scope "kb:read $ROLES" --claim tenant=acme --claim level=3 --iat "$now" --ttl 3600)
ALICE_OLD=$(issue --sub spiffe://test/agent/alice --jti jti-alice-old --scope kb:read \
    --iat $((now - 20)) --ttl 3600)
BOB=$(issue --sub spiffe://test/agent/bob --owner team-b --jti jti-bob \
    --scope "kb:read kb:write pg:role:agent_writer" --claim tenant=globex --ttl 3600)
EXPIRED=$(issue --sub spiffe://test/agent/alice --jti jti-expired --iat $((now - 600)) --exp $((now - 300)))
NOROLE=$(issue --sub spiffe://test/agent/dave --jti jti-dave --scope "kb:read" --ttl 3600)
CAROL=$(issue --sub spiffe://test/agent/carol --jti jti-carol --scope "kb:read" --ttl 3600)
PAMTOK=$(issue --sub spiffe://test/agent/pam --owner team-p --jti jti-pam \
    --scope "pg:login:nobody kb:read" --ttl 3600)
PAMTOK_ROOT=$(issue --sub spiffe://test/agent/pam --jti jti-pam-root --scope "pg:login:root" --ttl 3600)
PAM_SUPER=$(issue --sub spiffe://test/agent/pam-super --jti jti-pam-super --scope "pg:login:daemon" --ttl 3600)
PAM_BYPASS=$(issue --sub spiffe://test/agent/pam-bypass --jti jti-pam-bypass --scope "pg:login:bin" --ttl 3600)
export ALICE BOB

# ---------------------------------------------------------------- cluster
# The PAM service of agent logins, with a copy of pam_aim.so in $T that
# the server can load (the tree may be under a 0700 home).
pg_pam_service "$T/services" "$T/jwks.json" || bail "the PAM service" "a copy of pam_aim.so in $T"
# The host configuration file: options no pg_aim setting gives, and one
# (audience) that pg_aim.audience overrides.
cat > "$T/aim.conf" <<EOF
# AIM host configuration (docs/operations.md)
revoked $T/revoked
audience pg:not-this-server
types aim+jwt at+jwt
EOF

# The cluster in $T: data in $T/data, the socket in $T, the log in $T/server.log.
pg_init "$T" "$PORT" || bail "initdb" "$(cat "$T/initdb.log")"
pg_conf <<EOF
shared_preload_libraries = 'pg_aim'
max_connections = 40
max_prepared_transactions = 4
pg_aim.keys = '$ISS "$T/key dir/jwks.json"'
pg_aim.issuer = 'https://other.example, $ISS'
pg_aim.audience = '$AUD'
pg_aim.leeway = 0
pg_aim.audit = '$T/audit.log'
pg_aim.pam_handoff = 'AIM_PG_TOKEN'
pg_aim.state = '$T/state'
pg_aim.trust_min = 0
pg_aim.config = '$T/aim.conf'
EOF
pg_hba <<EOF
local all all                 trust
host  all nobody 127.0.0.1/32 pam pamservice=postgresql
host  all daemon 127.0.0.1/32 pam pamservice=postgresql
host  all bin    127.0.0.1/32 pam pamservice=postgresql
host  all all    127.0.0.1/32 scram-sha-256
EOF
cp "$T/data/postgresql.conf" "$T/postgresql.conf.good"
pg_give "$T"

# start [VAR=VALUE...]: the server, reading its PAM services from $T/services.
start() { pg_start "${PAM_ENV[@]}" "$@"; }
start || bail "server starts with pg_aim" "$(cat "$T/pg_ctl.out" "$T/server.log")"
ok "server starts with pg_aim preloaded, the settings and the host configuration file"

PSQL=("${PG_PSQL[@]}")
export PGBIN_PSQL=$PGBIN/psql PGSOCK=$T PGPORT_T=$PORT
# as USER DB: run standard input in one session; output and errors.
as() { local u=$1 d=$2; shift 2; "${PSQL[@]}" -U "$u" -d "$d" "$@" -f - 2>&1; }
su_sql() { "${PSQL[@]}" -U postgres -d aimtest -c "$1" 2>&1; }
# stats AGENT: "events denied trust signal" from the state file.
stats() {
    "$AIMCTL" stats --state "$T/state" --json 2>/dev/null | jq -r --arg a "$1" \
        'select(.agent == $a) | "\(.events) \(.denied) \(.trust) \(.last_signal)"'
}

"${PSQL[@]}" -U postgres -d postgres -c "CREATE DATABASE aimtest" >/dev/null
as postgres aimtest >"$T/setup.out" <<'EOF'
CREATE EXTENSION pg_aim;
CREATE ROLE app_login LOGIN;
CREATE ROLE pool_login LOGIN NOINHERIT;
CREATE ROLE agent_reader NOLOGIN;
CREATE ROLE agent_writer NOLOGIN;
CREATE ROLE login_role LOGIN;
CREATE ROLE super_role NOLOGIN SUPERUSER;
CREATE ROLE bypass_role NOLOGIN BYPASSRLS;
CREATE ROLE lonely_role NOLOGIN;
CREATE ROLE nobody LOGIN;
CREATE ROLE daemon LOGIN SUPERUSER;
CREATE ROLE bin LOGIN BYPASSRLS;
GRANT agent_reader, agent_writer, login_role, super_role, bypass_role TO app_login;
GRANT agent_reader, agent_writer TO pool_login;
GRANT agent_reader TO nobody;
CREATE TABLE docs (id serial, agent text NOT NULL, body text);
INSERT INTO docs (agent, body) VALUES
    ('spiffe://test/agent/alice', 'a1'), ('spiffe://test/agent/alice', 'a2'),
    ('spiffe://test/agent/bob', 'b1'), ('spiffe://test/agent/pam', 'p1');
ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY docs_read ON docs FOR SELECT USING (agent = (SELECT aim.agent_id()));
CREATE POLICY docs_write ON docs FOR INSERT
    WITH CHECK (agent = (SELECT aim.agent_id()) AND aim.has_scope('kb:write'));
CREATE TABLE tenant_docs (tenant text, body text);
INSERT INTO tenant_docs VALUES ('acme', 'x'), ('acme', 'y'), ('globex', 'z');
ALTER TABLE tenant_docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON tenant_docs USING (tenant = aim.claim('tenant'));
CREATE TABLE big AS SELECT g AS id, CASE WHEN g % 4 = 0 THEN 'spiffe://test/agent/alice'
    ELSE 'spiffe://test/agent/bob' END AS agent FROM generate_series(1, 200000) g;
ANALYZE big;
GRANT USAGE ON SEQUENCE docs_id_seq TO PUBLIC;
GRANT SELECT, INSERT ON docs, tenant_docs TO PUBLIC;
GRANT SELECT ON big TO PUBLIC;
CREATE SEQUENCE proto_seq;
GRANT USAGE, SELECT ON SEQUENCE proto_seq TO PUBLIC;
SELECT lo_create(4242);
GRANT SELECT, UPDATE ON LARGE OBJECT 4242 TO PUBLIC;
CREATE SCHEMA harvest;
GRANT USAGE ON SCHEMA harvest TO PUBLIC;
SELECT format('CREATE TABLE harvest.t%s (x int)', g) FROM generate_series(1, 80) g \gexec
GRANT SELECT ON ALL TABLES IN SCHEMA harvest TO PUBLIC;
-- Behind a transaction pooler, the pool's login binds per transaction only.
REVOKE EXECUTE ON FUNCTION aim.session_init(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION aim.session_init(text, text) TO app_login, agent_reader, agent_writer;
EOF
check_not_re "setup" "ERROR" "$(cat "$T/setup.out")"

# ---------------------------------------------------------------- pg_regress, as a user runs it
# A copy of pg_aim/ (the postgres account must write results there), and
# "make installcheck": a temporary server of pg_regress's own that loads
# the installed pg_aim, the settings in pg_aim/test/regress.conf, tokens
# minted by the suite.  bindir= points at the private installation.
mkdir -p "$T/src" && cp -r "$AT_ROOT/pg_aim" "$T/src/" && rm -rf "$T/src/pg_aim/results"
pg_give "$T/src"
if pg_as make --no-print-directory -s -C "$T/src/pg_aim" PG_CONFIG="$PG_CONFIG" \
        bindir="$PGBIN" installcheck >"$T/regress.out" 2>&1; then
    ok "make installcheck (pg_regress on its own temporary server)"
else
    not_ok "make installcheck (pg_regress on its own temporary server)" \
        "$(cat "$T/regress.out" "$T/src/pg_aim/regression.diffs" 2>/dev/null)"
fi

# ---------------------------------------------------------------- binding, readers, RLS
out=$(as app_login aimtest -v tok="$ALICE" <<'EOF'
SELECT 'unbound:' || count(*) FROM docs;
SELECT 'tenant-unbound:' || count(*) FROM tenant_docs;
SELECT 'bind:' || aim.session_init(:'tok');
SELECT 'agent:' || aim.agent_id() || ' owner:' || aim.owner() || ' jti:' || aim.jti();
SELECT 'scopes:' || array_to_string(aim.scopes(), ',');
SELECT 'has:' || aim.has_scope('kb:read') || ',' || aim.has_scope('kb:write');
SELECT 'claim:' || aim.claim('tenant') || ',' || aim.claim('level') || ',' || (aim.claims() ->> 'owner');
SELECT 'rows:' || string_agg(body, ',' ORDER BY id) FROM docs;
SELECT 'tenant:' || count(*) FROM tenant_docs;
INSERT INTO docs (agent, body) VALUES ('spiffe://test/agent/alice', 'no-write-scope');
SELECT 'user:' || current_user;
EOF
)
check "unbound session sees no rows (policy fails closed)" "unbound:0" "$(line unbound: "$out")"
check "unbound session sees no tenant rows" "tenant-unbound:0" "$(line tenant-unbound: "$out")"
check "session_init returns the agent" "bind:spiffe://test/agent/alice" "$(line bind: "$out")"
check "agent_id, owner, jti" "agent:spiffe://test/agent/alice owner:team-a jti:jti-alice" "$(line agent: "$out")"
check_re "scopes() lists the effective scopes" "^scopes:kb:read,pg:role:agent_reader," "$out"
check "has_scope" "has:true,false" "$(line has: "$out")"
check "claim and claims" "claim:acme,3,team-a" "$(line claim: "$out")"
check "RLS on (SELECT aim.agent_id()) shows the agent's rows only" "rows:a1,a2" "$(line rows: "$out")"
check "RLS on a tenant claim" "tenant:2" "$(line tenant: "$out")"
check_re "write policy needs kb:write" "new row violates row-level security policy" "$out"
check "no role given: role unchanged" "user:app_login" "$(line user: "$out")"
check "audience from pg_aim.audience wins over the host file's" "bind:spiffe://test/agent/alice" "$(line bind: "$out")"

out=$(as app_login aimtest -v tok="$BOB" <<'EOF'
SELECT aim.session_init(:'tok');
INSERT INTO docs (agent, body) VALUES ('spiffe://test/agent/bob', 'bob-wrote');
INSERT INTO docs (agent, body) VALUES ('spiffe://test/agent/alice', 'bob-as-alice');
SELECT 'bobrows:' || string_agg(body, ',' ORDER BY id) FROM docs;
EOF
)
check "write policy with kb:write inserts the agent's row" "bobrows:b1,bob-wrote" "$(line bobrows: "$out")"
check_re "an agent cannot write another agent's row" "new row violates row-level security policy" "$out"

# ---------------------------------------------------------------- role switch
role_try() {  # role_try TOKEN ROLE: bind with a role, then try to leave it
    as app_login aimtest -v tok="$1" -v role="$2" <<'EOF'
SELECT aim.session_init(:'tok', :'role');
SELECT 'user:' || current_user || ' agent:' || coalesce(aim.agent_id(), 'none');
RESET ROLE;
SET ROLE NONE;
SET ROLE app_login;
SELECT set_config('role', 'none', false);
SELECT set_config('role', NULL, false);
SELECT set_config('session_authorization', 'app_login', false);
SELECT 'after:' || current_user;
EOF
}
out=$(role_try "$ALICE" agent_reader)
check "role switch granted" "user:agent_reader agent:spiffe://test/agent/alice" "$(line user: "$out")"
check_re "RESET ROLE refused once bound" "ERROR:  RESET ROLE is not allowed while an AIM agent is bound" "$out"
check_re "SET ROLE refused once bound" "ERROR:  SET ROLE is not allowed while an AIM agent is bound" "$out"
check_re "set_config('role', ...) refused once bound" "ERROR:  role \"none\" is not allowed while an AIM agent is bound" "$out"
check_re "set_config('role', NULL) (a reset) refused once bound" "ERROR:  resetting role is not allowed while an AIM agent is bound" "$out"
check_re "set_config('session_authorization', ...) refused" "ERROR:  session_authorization \"app_login\" is not allowed" "$out"
check "the role stays after every escape attempt" "after:agent_reader" "$(line after: "$out")"

out=$(role_try "$ALICE" login_role)
check_re "role switch refused: LOGIN role" "role \"login_role\" can log in" "$out"
check "refused switch leaves the session unbound" "user:app_login agent:none" "$(line user: "$out")"
check_re "role switch refused: superuser" "role \"super_role\" is a superuser" "$(role_try "$ALICE" super_role)"
check_re "role switch refused: BYPASSRLS" "role \"bypass_role\" bypasses row-level security" "$(role_try "$ALICE" bypass_role)"
check_re "role switch refused: not a member" "session user \"app_login\" is not a member of role \"lonely_role\"" "$(role_try "$ALICE" lonely_role)"
check_re "role switch refused: no such role" "role \"no_such_role\" does not exist" "$(role_try "$ALICE" no_such_role)"
out=$(role_try "$NOROLE" agent_reader)
check_re "role switch refused: scope pg:role:<role> missing" "ERROR:  AIM agent \"spiffe://test/agent/dave\" refused: insufficient_scope" "$out"
check "scope refusal leaves the session unbound" "user:app_login agent:none" "$(line user: "$out")"

# A role with the privileges of pg_read_server_files (table files read raw,
# past every policy), pg_write_server_files or pg_execute_server_program
# (a superuser made) is refused like a superuser, also when inherited.
su_sql "CREATE ROLE files_role NOLOGIN; CREATE ROLE files_parent NOLOGIN; GRANT pg_read_server_files TO files_parent;
GRANT files_parent TO files_role; GRANT files_role TO app_login; CREATE ROLE program_role NOLOGIN;
GRANT pg_execute_server_program TO program_role; GRANT program_role TO app_login" >/dev/null
FILES=$(issue --sub spiffe://test/agent/files --jti jti-files --scope "pg:role:files_role pg:role:program_role" --ttl 3600)
check_re "a role that can read the server's files is refused" \
    "role \"files_role\" has the privileges of pg_read_server_files" "$(role_try "$FILES" files_role)"
check_re "a role that can run server programs is refused" \
    "role \"program_role\" has the privileges of pg_read_server_files, pg_write_server_files or pg_execute_server_program" \
    "$(role_try "$FILES" program_role)"
check_re "too little scope (no pg:role:files_role): refused" \
    "AIM agent \"spiffe://test/agent/dave\" refused: (insufficient_scope|role \"files_role\" has the privileges)" "$(role_try "$NOROLE" files_role)"
check "... and the session stays unbound" "user:app_login agent:none" "$(line user: "$(role_try "$NOROLE" files_role)")"
check "no token: the session stays unbound" "user:app_login agent:none" "$(line user: "$(role_try "" files_role)")"

# A role name is echoed bounded, however long.
out=$(as app_login aimtest -v tok="$ALICE" <<'EOF'
SELECT aim.session_init(:'tok', repeat('r', 100000));
SELECT set_config('application_name', 'x', false), aim.session_init(:'tok', 'agent_reader');
SELECT set_config('role', repeat('q', 100000), false);
EOF
)
check_re "a 100 kB role name is refused" "role \"r{64}\.\.\.\" does not exist" "$out"
check "and no line pg_aim writes is longer than 300 bytes" "" "$(printf '%s\n' "$out" | grep -v 'NOTICE:  identifier .* will be truncated' | awk 'length > 300' | cut -c1-400)"

# An active SET ROLE is the binding's role: checked like one asked for.
out=$(as app_login aimtest -v dave="$NOROLE" -v alice="$ALICE" <<'EOF'
SET ROLE agent_writer;
SELECT aim.session_init(:'dave');
SELECT 'dave:' || coalesce(aim.agent_id(), 'none') || ' ' || current_user;
SELECT 'alice:' || aim.session_init(:'alice') || ' ' || current_user;
SET ROLE agent_reader;
SELECT 'still:' || current_user;
EOF
)
check_re "bind under SET ROLE without pg:role:<that role> refused" "AIM agent \"spiffe://test/agent/dave\" refused: insufficient_scope" "$out"
check "which leaves the session unbound" "dave:none agent_writer" "$(line dave: "$out")"
check "bind under SET ROLE with the scope keeps that role" "alice:spiffe://test/agent/alice agent_writer" "$(line alice: "$out")"
check "and locks it" "still:agent_writer" "$(line still: "$out")"

out=$(as app_login aimtest -v tok="$ALICE" -v tok2="$ALICE_NEW" <<'EOF'
BEGIN;
SELECT aim.session_init(:'tok', 'agent_reader');
SELECT 'in-xact:' || current_user;
ROLLBACK;
SELECT 'rolled-back:' || current_user || ' ' || coalesce(aim.agent_id(), 'none');
SELECT aim.session_init(:'tok', 'agent_reader');
SELECT aim.session_init(:'tok2', 'agent_writer');
SELECT 'refresh:' || aim.session_init(:'tok2');
SELECT 'now:' || current_user || ' ' || aim.jti();
EOF
)
check "role switch inside a transaction" "in-xact:agent_reader" "$(line in-xact: "$out")"
check "rollback undoes binding and role switch" "rolled-back:app_login none" "$(line rolled-back: "$out")"
check_re "the bound role cannot change" "the session's AIM role is already \"agent_reader\"" "$out"
check "refresh keeps the role, takes the newer token" "now:agent_reader jti-alice-new" "$(line now: "$out")"

# A session bound under SET LOCAL ROLE (the role it inherits ends with the
# transaction): the binding keeps its role past COMMIT.  The role's revert
# at COMMIT used to raise an error inside the commit: PANIC, the whole
# cluster restarted.
out=$(as app_login aimtest -v tok="$ALICE" <<'EOF'
BEGIN;
SET LOCAL ROLE agent_reader;
SELECT aim.session_init(:'tok');
COMMIT;
SELECT 'local:' || current_user || ' ' || coalesce(aim.agent_id(), 'none');
EOF
)
check "a session bound under SET LOCAL ROLE keeps that role after COMMIT" \
    "local:agent_reader spiffe://test/agent/alice" "$(line local: "$out")"
check_not_re "and COMMIT raises no error (no PANIC)" "PANIC|ERROR|terminated abnormally" "$out"
out=$(as app_login aimtest -v tok="$ALICE" <<'EOF'
BEGIN;
SELECT set_config('role', 'agent_reader', true);
SAVEPOINT s;
SELECT aim.session_init(:'tok');
RELEASE s;
COMMIT;
SELECT 'local:' || current_user || ' ' || coalesce(aim.agent_id(), 'none');
EOF
)
check "the same from a savepoint, role set by set_config(..., true)" \
    "local:agent_reader spiffe://test/agent/alice" "$(line local: "$out")"
sleep 1
check_re "the server is still up" "^[0-9]+$" "$(su_sql "SELECT count(*) FROM pg_stat_activity")"

# ---------------------------------------------------------------- escape routes (non-superuser)
su_sql "CREATE FUNCTION public.as_super() RETURNS text LANGUAGE sql SET role = 'super_role' AS 'SELECT current_user::text'" >/dev/null
out=$(as app_login aimtest -v tok="$ALICE" <<'EOF'
SELECT aim.session_init(:'tok', 'agent_reader');
SET SESSION AUTHORIZATION app_login;
RESET SESSION AUTHORIZATION;
RESET ALL;
DISCARD ALL;
SET pg_aim.bound = 'forged';
SET LOCAL role = 'app_login';
BEGIN; SET LOCAL ROLE app_login; ROLLBACK;
DO $$ BEGIN EXECUTE 'SET ROLE app_login'; END $$;
DO $$ BEGIN PERFORM set_config('role', 'app_login', true); END $$;
SELECT public.as_super();
CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql SET role = 'app_login' AS 'SELECT 1';
SELECT set_config('application_name', 'agent-app', false) AS app, current_setting('application_name') AS now;
SET work_mem = '8MB';
SELECT 'user:' || current_user || ' ' || aim.agent_id() || ' ' || current_setting('work_mem');
EOF
)
check_re "SET SESSION AUTHORIZATION refused" "ERROR:  SET SESSION AUTHORIZATION is not allowed while an AIM agent is bound" "$out"
check_re "RESET SESSION AUTHORIZATION refused" "ERROR:  RESET SESSION AUTHORIZATION is not allowed" "$out"
check_re "RESET ALL refused" "ERROR:  RESET ALL is not allowed while an AIM agent is bound" "$out"
check_re "DISCARD ALL refused" "ERROR:  DISCARD ALL is not allowed while an AIM agent is bound" "$out"
check_re "writing pg_aim.bound refused" "(pg_aim.bound is set only by pg_aim|permission denied to set parameter \"pg_aim.bound\")" "$out"
check "SET LOCAL ROLE and dynamic SET ROLE in PL/pgSQL refused" "3" "$(grep -c 'SET ROLE is not allowed' <<<"$out")"
check_re "set_config('role') inside PL/pgSQL refused" "role \"app_login\" is not allowed while an AIM agent is bound" "$out"
check_re "calling a function whose SET clause sets the role is refused" "role \"super_role\" is not allowed while an AIM agent is bound" "$out"
check "creating one is refused too" "2" "$(grep -c 'role "app_login" is not allowed' <<<"$out")"
check_re "set_config of another setting works while bound" "^agent-app\|agent-app$" "$out"
check "still the bound role and agent; SET of other settings works" "user:agent_reader spiffe://test/agent/alice 8MB" "$(line user: "$out")"

# ---------------------------------------------------------------- one-way binding
out=$(as app_login aimtest -v a="$ALICE" -v b="$BOB" -v old="$ALICE_OLD" -v new="$ALICE_NEW" <<'EOF'
SELECT aim.session_init(:'a');
SELECT aim.session_init(:'b');
SELECT aim.session_init(:'old');
SELECT 'still:' || aim.agent_id() || ' ' || aim.jti();
SELECT 'refresh:' || aim.session_init(:'new');
SELECT 'jti:' || aim.jti();
EOF
)
check_re "re-init as another agent refused" "ERROR:  AIM agent \"spiffe://test/agent/bob\" refused: the session is bound to AIM agent \"spiffe://test/agent/alice\"" "$out"
check_re "re-init with an older token refused" "the token is older than the bound token" "$out"
check "binding unchanged after refusals" "still:spiffe://test/agent/alice jti-alice" "$(line still: "$out")"
check "refresh with a newer token of the same agent" "jti:jti-alice-new" "$(line jti: "$out")"

# ---------------------------------------------------------------- transaction binding
out=$(as app_login aimtest -v a="$ALICE" -v b="$BOB" <<'EOF'
SELECT aim.transaction_init(:'a');
BEGIN;
SELECT 'tx1:' || aim.transaction_init(:'a', 'agent_reader');
SELECT 'in1:' || current_user || ' ' || aim.agent_id() || ' ' || (SELECT string_agg(body, ',' ORDER BY id) FROM docs);
SET ROLE app_login;
ROLLBACK;
SELECT 'after1:' || current_user || ' ' || coalesce(aim.agent_id(), 'none') || ' ' || (SELECT count(*) FROM docs);
BEGIN;
SELECT 'tx2:' || aim.transaction_init(:'b', 'agent_writer');
SELECT 'in2:' || current_user || ' ' || aim.agent_id() || ' ' || aim.has_scope('kb:write');
INSERT INTO docs (agent, body) VALUES ('spiffe://test/agent/bob', 'bob-in-tx');
SELECT aim.transaction_init(:'a', 'agent_writer');
COMMIT;
SELECT 'after2:' || current_user || ' ' || coalesce(aim.agent_id(), 'none');
BEGIN;
SELECT aim.transaction_init(:'b');
SELECT aim.session_init(:'b');
ROLLBACK;
SELECT 'sess:' || aim.session_init(:'a');
BEGIN;
SELECT aim.transaction_init(:'a');
ROLLBACK;
EOF
)
check_re "transaction_init outside a transaction block refused" "aim.transaction_init\(\) can only be used in transaction blocks" "$out"
check "transaction_init binds agent and role" "tx1:spiffe://test/agent/alice" "$(line tx1: "$out")"
check "inside: the role and the agent's rows" "in1:agent_reader spiffe://test/agent/alice a1,a2" "$(line in1: "$out")"
check_re "inside: SET ROLE refused" "SET ROLE is not allowed while an AIM agent is bound" "$out"
check_re "inside: the hint says the transaction is bound" "The transaction is bound to AIM agent" "$out"
check "after ROLLBACK: no agent, no role, no rows" "after1:app_login none 0" "$(line after1: "$out")"
check "a second transaction binds another agent" "in2:agent_writer spiffe://test/agent/bob true" "$(line in2: "$out")"
check_re "another agent in the same transaction refused" "refused: the transaction is bound to AIM agent|refused: the session is bound to AIM agent \"spiffe://test/agent/bob\"" "$out"
check "after COMMIT: no agent, no role" "after2:app_login none" "$(line after2: "$out")"
check_re "session_init inside a bound transaction refused" "aim.session_init\(\) cannot be used while the transaction is bound" "$out"
check_re "transaction_init in a bound session refused" "aim.transaction_init\(\) cannot be used while the session is bound" "$out"
out=$(su_sql "SELECT count(*) FROM docs WHERE body = 'bob-in-tx'")
check "the refusal aborted that transaction's write" "0" "$out"

# A transaction binding leaves nothing behind for the next transaction.
out=$(as app_login aimtest -v a="$ALICE" <<'EOF'
BEGIN; SELECT aim.transaction_init(:'a'); SET search_path = public; ROLLBACK;
BEGIN; SELECT aim.transaction_init(:'a'); RESET work_mem; ROLLBACK;
BEGIN; SELECT aim.transaction_init(:'a'); SET LOCAL search_path = public; SELECT 'local:' || current_setting('search_path'); COMMIT;
BEGIN; SELECT aim.transaction_init(:'a'); CREATE TEMP TABLE docs (body text); ROLLBACK;
BEGIN; SELECT aim.transaction_init(:'a'); CREATE TABLE pg_temp.docs (body text) ON COMMIT DELETE ROWS; ROLLBACK;
BEGIN; SELECT aim.transaction_init(:'a'); SELECT 1 AS x INTO TEMP TABLE t1; ROLLBACK;
BEGIN; SELECT aim.transaction_init(:'a'); CREATE TEMP VIEW docs AS SELECT 'planted' AS body; ROLLBACK;
BEGIN; SELECT aim.transaction_init(:'a'); CREATE TEMP SEQUENCE s1; ROLLBACK;
BEGIN; SELECT aim.transaction_init(:'a'); LISTEN agent_news; ROLLBACK;
BEGIN; SELECT aim.transaction_init(:'a'); CREATE TEMP TABLE scratch_rows ON COMMIT DROP AS SELECT body FROM docs;
SELECT 'ondrop:' || count(*) FROM scratch_rows; COMMIT;
BEGIN; SELECT aim.transaction_init(:'a'); SELECT set_config('search_path', 'pg_catalog', false); COMMIT;
SELECT 'path:' || current_setting('search_path') || ' temp:' || count(*) FROM pg_class WHERE relpersistence = 't';
EOF
)
check_re "in a transaction binding, SET without LOCAL is refused" "SET or RESET without LOCAL \(in a transaction binding\) is not allowed" "$out"
check "RESET too" "2" "$(grep -c 'SET or RESET without LOCAL' <<<"$out")"
check "SET LOCAL works" "local:public" "$(line local: "$out")"
check "a temporary table, view or sequence that would outlive it is refused (5 ways)" "5" \
    "$(grep -c 'a temporary \(table without ON COMMIT DROP\|view\|sequence\) (in a transaction binding)' <<<"$out")"
check_re "LISTEN is refused" "LISTEN \(in a transaction binding\) is not allowed" "$out"
check "a temporary table ON COMMIT DROP works" "ondrop:2" "$(line ondrop: "$out")"
check_re "set_config(..., false) fails the commit" "a session-level setting \(search_path\) is not allowed while an AIM agent is bound" "$out"
check "and nothing is left: the setting and no temporary relation" "path:\"\$user\", public temp:0" "$(line path: "$out")"

# Other routes into the temporary schema: a search_path naming pg_temp
# first, an object qualified pg_temp (types and functions too).  Each is
# found at COMMIT, whatever statement made it.
out=$(as app_login aimtest -v a="$ALICE" <<'EOF'
BEGIN; SELECT aim.transaction_init(:'a'); SET LOCAL search_path = pg_temp, public; CREATE TABLE docs (body text); COMMIT;
BEGIN; SELECT aim.transaction_init(:'a'); SET LOCAL search_path = pg_temp, public; CREATE VIEW docs AS SELECT 'planted' AS body; COMMIT;
BEGIN; SELECT aim.transaction_init(:'a'); CREATE DOMAIN pg_temp.planted AS int; COMMIT;
BEGIN; SELECT aim.transaction_init(:'a'); CREATE FUNCTION pg_temp.planted() RETURNS int LANGUAGE sql AS 'SELECT 1'; COMMIT;
BEGIN; SELECT aim.transaction_init(:'a'); CREATE TEMP TABLE scratch (id serial PRIMARY KEY, body text) ON COMMIT DROP;
INSERT INTO scratch (body) SELECT body FROM docs; SELECT 'scratch:' || count(*) FROM scratch; COMMIT;
SELECT 'left:' || (SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema())
    || ' ' || (SELECT count(*) FROM pg_type WHERE typnamespace = pg_my_temp_schema())
    || ' ' || (SELECT count(*) FROM pg_proc WHERE pronamespace = pg_my_temp_schema());
EOF
)
check "an object left in the temporary schema fails the COMMIT (4 routes)" "4" \
    "$(grep -c 'an object in the temporary schema (in a transaction binding) is not allowed' <<<"$out")"
check "a temporary table ON COMMIT DROP with a serial and a key still works" "scratch:2" "$(line scratch: "$out")"
check "and nothing is left in the temporary schema" "left:0 0 0" "$(line left: "$out")"

# A binding undone by ROLLBACK TO SAVEPOINT: a cursor that ran as its agent
# (the policy's agent evaluated once, at its first fetch) stops with it,
# and is not filled WITH HOLD at commit for the connection's next client.
out=$(as app_login aimtest -v tok="$ALICE" <<'EOF'
BEGIN;
DECLARE c CURSOR FOR SELECT 'cursor:' || body FROM docs ORDER BY id;
SAVEPOINT s;
SELECT aim.transaction_init(:'tok');
FETCH 1 FROM c;
ROLLBACK TO s;
SELECT 'unbound:' || coalesce(aim.agent_id(), 'none');
FETCH 1 FROM c;
ROLLBACK;
BEGIN;
DECLARE h CURSOR WITH HOLD FOR SELECT 'held:' || body FROM docs ORDER BY id;
SAVEPOINT s;
SELECT aim.session_init(:'tok');
FETCH 1 FROM h;
ROLLBACK TO s;
COMMIT;
FETCH ALL FROM h;
EOF
)
check "a cursor fetched while bound returns the agent's row" "cursor:a1" "$(line cursor: "$out")"
check "the binding undone by ROLLBACK TO SAVEPOINT" "unbound:none" "$(line unbound: "$out")"
check "the cursor returns nothing more (cursor and held)" "0" "$(grep -c '^cursor:a2\|^held:a2' <<<"$out")"
check "refused twice: FETCH, and the held cursor at COMMIT" "2" \
    "$(grep -c 'a cursor or portal that ran as AIM agent "spiffe://test/agent/alice" cannot run once that binding is undone' <<<"$out")"
check_re "so no held cursor is left" "cursor \"h\" does not exist" "$out"

# ---------------------------------------------------------------- expiry, revocation
SHORT=$(issue --sub spiffe://test/agent/short --jti jti-short --scope kb:read --ttl 3)
out=$(as app_login aimtest -v tok="$SHORT" <<'EOF'
SELECT 'bound:' || aim.session_init(:'tok');
SELECT pg_sleep(4);
SELECT 'after-expiry:' || aim.agent_id();
BEGIN;
SELECT 1;
ROLLBACK;
SHOW work_mem;
EOF
)
check "short-lived token binds" "bound:spiffe://test/agent/short" "$(line bound: "$out")"
check_re "expiry mid-session: next statement fails" "ERROR:  AIM agent \"spiffe://test/agent/short\" is no longer authorized: expired" "$out"
check_not_re "expired agent reads nothing" "^after-expiry:" "$out"
check "every later statement fails, utility statements too (3 of 3)" "3" "$(grep -c 'is no longer authorized: expired' <<<"$out")"
check_not_re "ROLLBACK still leaves the failed transaction" "current transaction is aborted" "$out"

# A long PL/pgSQL loop: its statements are checked whenever one starts in a new second.
LOOP=$(issue --sub spiffe://test/agent/loop --jti jti-loop --scope kb:read --ttl 2)
out=$(as app_login aimtest -v tok="$LOOP" <<'EOF'
SELECT aim.session_init(:'tok');
DO $$ BEGIN FOR i IN 1..10 LOOP PERFORM count(*) FROM docs; PERFORM pg_sleep(0.5);
    RAISE NOTICE 'iteration %', i; END LOOP; END $$;
EOF
)
check_re "a long loop is stopped once the token expires" "no longer authorized: expired" "$out"
check_not_re "before its tenth iteration" "iteration 10" "$out"

out=$( { echo "SELECT 'bound:' || aim.session_init(:'tok');"; echo "SELECT 'before:' || count(*) FROM docs;";
         echo "\\! echo 'agent spiffe://test/agent/carol' >> $T/revoked"; echo "SELECT pg_sleep(2);";
         echo "SELECT 'after:' || count(*) FROM docs;"; } | as app_login aimtest -v tok="$CAROL")
check "revocation target binds" "bound:spiffe://test/agent/carol" "$(line bound: "$out")"
check_re "revocation (file named by the host configuration file) mid-session: next statement fails" "ERROR:  AIM agent \"spiffe://test/agent/carol\" is no longer authorized: revoked" "$out"
check_not_re "revoked agent reads nothing" "^after:" "$out"
out=$(as app_login aimtest -v tok="$CAROL" <<<"SELECT aim.session_init(:'tok');")
check_re "revoked agent cannot bind again" "AIM token refused: revoked" "$out"

# ---------------------------------------------------------------- the protocol: portals, cursors, fast path
PROTO=$T/proto
if ! cc -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -o "$PROTO" "$AT_ROOT/tests/pg/proto.c" \
        -I"$("$PG_CONFIG" --includedir)" -lpq 2>"$T/cc.log"; then
    not_ok "tests/pg/proto.c builds" "$(cat "$T/cc.log")"
else
    proto() { "$PROTO" 2>&1; }
    CONN="host=$T port=$PORT user=app_login dbname=aimtest"
    P1=$(issue --sub spiffe://test/agent/proto1 --jti jti-proto1 --scope kb:read --ttl 3600)
    P2=$(issue --sub spiffe://test/agent/proto2 --jti jti-proto2 --scope kb:read --ttl 3600)

    # An open cursor, Execute a few rows at a time; the jti revoked between.
    out=$(proto <<EOF
connect c $CONN
bind Q SELECT aim.session_init('$P1')
begin Q BEGIN
decl Q DECLARE c CURSOR FOR SELECT g, nextval('proto_seq') FROM generate_series(1, 100) g
e1 E c 3
! echo 'jti jti-proto1' >> $T/revoked
sleep 2
e2 E c 3
s S
commit Q COMMIT
EOF
)
    check "Execute on an open cursor returns rows while valid" "3" "$(grep -c '^e1: row' <<<"$out")"
    check_re "Execute on the open cursor after revocation is refused" "^e2: error: 28000 AIM agent \"spiffe://test/agent/proto1\" is no longer authorized: revoked" "$out"
    check "and returns no row" "0" "$(grep -c '^e2: row' <<<"$out")"
    check_re "COMMIT of that transaction keeps nothing" "^commit: complete ROLLBACK" "$out"
    check "the sequence advanced by the rows before the revocation only" "3" "$(su_sql "SELECT last_value FROM proto_seq")"

    # A named portal bound before a savepoint, first run by Execute under a
    # transaction binding made after it: once ROLLBACK TO SAVEPOINT undoes
    # the binding, the portal does not run again.  Without any binding the
    # same sequence runs to the end.
    for who in '' "$ALICE"; do
        out=$(proto <<EOF
connect c $CONN
begin Q BEGIN
p P st SELECT 'portal:' || g FROM generate_series(1, 3) g
b B pp st
s0 S
sp Q SAVEPOINT s
bind Q SELECT CASE WHEN '$who' = '' THEN NULL ELSE aim.transaction_init('$who') END
e1 E pp 1
s1 S
rb Q ROLLBACK TO s
e2 E pp 1
s2 S
end Q ROLLBACK
EOF
)
        if [ -z "$who" ]; then
            check "extended protocol, no binding: the portal runs across ROLLBACK TO" "2" "$(grep -c '^e[12]: row portal:' <<<"$out")"
        else
            check "extended protocol: Execute under the binding returns a row" "e1: row portal:1" "$(grep '^e1: row' <<<"$out")"
            check_re "Execute after ROLLBACK TO undid the binding is refused" \
                "^e2: error: 42501 a cursor or portal that ran as AIM agent \"spiffe://test/agent/alice\" cannot run once that binding is undone" "$out"
            check "and returns no row" "0" "$(grep -c '^e2: row' <<<"$out")"
        fi
    done

    # The unnamed portal, in an implicit transaction (no Sync), writing a large object.
    out=$(proto <<EOF
connect c $CONN
bind Q SELECT aim.session_init('$P2')
p P - SELECT lo_put(4242, g - 1, 'x') FROM generate_series(1, 100) g
b B - -
e1 E - 3
! echo 'agent spiffe://test/agent/proto2' >> $T/revoked
sleep 2
e2 E - 3
s S
EOF
)
    check "Execute on the unnamed portal writes while valid" "3" "$(grep -c '^e1: row' <<<"$out")"
    check_re "Execute on the unnamed portal after revocation is refused" "^e2: error: 28000 .*no longer authorized: revoked" "$out"
    check "and the large object keeps nothing of it" "0" "$(su_sql "SELECT length(lo_get(4242))")"

    # After expiry: Parse/Bind/Execute, and a statement prepared before.
    P3=$(issue --sub spiffe://test/agent/proto3 --jti jti-proto3 --scope kb:read --ttl 3)
    out=$(proto <<EOF
connect c $CONN
bind Q SELECT aim.session_init('$P3')
p P st SELECT count(*) FROM docs
b0 B - st
e0 E - 0
s0 S
sleep 4
b1 B - st
e1 E - 0
s1 S
p2 P - SELECT nextval('proto_seq')
s2 S
EOF
)
    check_re "a prepared statement runs while valid" "^e0: row 0" "$out"
    check_re "Bind/Execute of a prepared statement after expiry is refused" "^(b1|e1): error: 28000 .*no longer authorized: expired" "$out"
    check "the sequence did not move" "3" "$(su_sql "SELECT last_value FROM proto_seq")"

    # Cursors WITH HOLD: none while bound; none filled at commit by a binding.
    out=$(proto <<EOF
connect c $CONN
begin Q BEGIN
held Q DECLARE early CURSOR WITH HOLD FOR SELECT body FROM docs
bind Q SELECT aim.session_init('$ALICE')
commit Q COMMIT
e0 E early 5
s0 S
bind2 Q SELECT aim.session_init('$ALICE')
begin2 Q BEGIN
held2 Q DECLARE h CURSOR WITH HOLD FOR SELECT body FROM docs
end2 Q ROLLBACK
connect d $CONN
begin3 Q BEGIN
held3 Q DECLARE h3 CURSOR WITH HOLD FOR SELECT body FROM docs
tx3 Q SELECT aim.transaction_init('$BOB')
commit3 Q COMMIT
e3 E h3 5
s3 S
EOF
)
    check_re "a WITH HOLD cursor filled at the commit of a bind is refused" "^commit: error: 42501 a cursor WITH HOLD is not allowed while an AIM agent is bound" "$out"
    check_re "so no such cursor exists" "^e0: error: 34000 portal \"early\" does not exist" "$out"
    check_re "DECLARE ... WITH HOLD refused while bound" "^held2: error: 42501 DECLARE ... WITH HOLD is not allowed" "$out"
    check_re "a transaction binding cannot leave a held cursor either" "^commit3: error: 42501 a cursor WITH HOLD is not allowed" "$out"
    check_re "so none is there for the next transaction" "^e3: error: 34000 portal \"h3\" does not exist" "$out"

    # Fast path: function calls that reach no executor hook.
    FP=$(issue --sub spiffe://test/agent/fastpath --jti jti-fastpath --scope kb:read --ttl 3)
    out=$(proto <<EOF
connect c $CONN
agentfn R agentfn SELECT 'aim.agent_id()'::regprocedure::oid
nextvalfn R nextvalfn SELECT 'nextval(regclass)'::regprocedure::oid
seq R seq SELECT 'proto_seq'::regclass::oid
bind Q SELECT aim.session_init('$FP')
f0 F \${agentfn}
sleep 4
f1 F \${agentfn}
f2 F \${nextvalfn} \${seq}
EOF
)
    check "fast path: a call while valid" "f0: result spiffe://test/agent/fastpath" "$(line f0: "$out")"
    check_re "fast path: a reader after expiry fails" "^f1: error: 28000 .*no longer authorized: expired" "$out"
    check_re "fast path: nextval() after expiry fails" "^f2: error: 28000 .*no longer authorized: expired" "$out"
    check "the sequence did not move" "3" "$(su_sql "SELECT last_value FROM proto_seq")"

    # A statement is one event of the agent's baseline, its Bind and Execute together.
    COUNTER=$(issue --sub spiffe://test/agent/counter --jti jti-counter --scope kb:read --ttl 3600)
    out=$( { echo "connect c $CONN"; echo "bind Q SELECT aim.session_init('$COUNTER')";
             echo "p P st SELECT count(*) FROM docs WHERE id > \$1";
             for i in $(seq 1 10); do echo "b$i B - st $i"; echo "e$i E - 0"; echo "s$i S"; done; } | proto)
    read -r events denied trust signal <<<"$(stats spiffe://test/agent/counter)"
    # (12 when a Bind and its Execute fall on two sides of a second)
    if [ "${events:-0}" -ge 11 ] && [ "${events:-0}" -le 12 ]; then
        ok "a bind and 10 Bind/Execute statements are 11 events"
    else
        not_ok "a bind and 10 Bind/Execute statements are 11 events" "events: ${events:-none}
$out"
    fi

    # PREPARE TRANSACTION of a bind, then ROLLBACK PREPARED.
    out=$(as app_login aimtest -v tok="$ALICE" <<'EOF'
BEGIN;
SELECT aim.session_init(:'tok', 'agent_reader');
PREPARE TRANSACTION 'aim_bind';
ROLLBACK PREPARED 'aim_bind';
SELECT 'after:' || current_user || ' ' || coalesce(aim.agent_id(), 'none');
EOF
)
    check_re "PREPARE TRANSACTION of a bind refused" "cannot PREPARE a transaction that has bound an AIM agent" "$out"
    check "no binding survives it" "after:app_login none" "$(line after: "$out")"
fi

# ---------------------------------------------------------------- parallel query
out=$(as app_login aimtest -v tok="$ALICE" <<'EOF'
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SELECT 'unbound-count:' || count(*) FROM big WHERE agent = aim.agent_id();
SELECT aim.session_init(:'tok');
EXPLAIN (COSTS OFF) SELECT count(*) FROM big WHERE agent = aim.agent_id() AND aim.has_scope('kb:read');
SELECT 'count:' || count(*) FROM big WHERE agent = aim.agent_id() AND aim.has_scope('kb:read')
    AND aim.claim('tenant') = 'acme' AND aim.owner() = 'team-a' AND aim.jti() = 'jti-alice'
    AND 'kb:read' = ANY (aim.scopes()) AND aim.claims() ->> 'sub' = 'spiffe://test/agent/alice';
SET force_parallel_mode = on;
EXPLAIN (COSTS OFF) SELECT aim.agent_id();
SELECT 'worker:' || aim.agent_id() || '|' || aim.owner() || '|' || aim.jti() || '|' ||
    array_to_string(aim.scopes(), ' ') || '|' || aim.has_scope('kb:read') || '|' ||
    aim.claim('tenant') || '|' || aim.claim('level') || '|' || (aim.claims() ->> 'owner');
SET force_parallel_mode = off;
SELECT 'leader:' || aim.agent_id() || '|' || aim.owner() || '|' || aim.jti() || '|' ||
    array_to_string(aim.scopes(), ' ') || '|' || aim.has_scope('kb:read') || '|' ||
    aim.claim('tenant') || '|' || aim.claim('level') || '|' || (aim.claims() ->> 'owner');
SELECT 'shown:' || current_setting('pg_aim.bound', true);
EOF
)
check "parallel scan, unbound: no rows" "unbound-count:0" "$(line unbound-count: "$out")"
check_re "parallel plan (Gather) with the readers" "Gather" "$out"
check_re "parallel plan has workers scanning" "Parallel Seq Scan on big" "$out"
check "parallel count with every reader in the filter" "count:50000" "$(line count: "$out")"
check_re "force_parallel_mode plan runs in a worker" "Single Copy: true" "$out"
w=$(line worker: "$out" | sed 's/^worker://'); l=$(line leader: "$out" | sed 's/^leader://')
if [ -n "$w" ] && [ "$w" = "$l" ]; then ok "readers in a parallel worker equal the leader's"; else not_ok "readers in a parallel worker equal the leader's" "worker: $w
leader: $l"; fi
check_not_re "the token in pg_aim.bound is never shown" "eyJ" "$out"
# A worker verifies what it is given: a forged value gives it no agent.
out=$(as postgres aimtest <<'EOF'
SET force_parallel_mode = on;
SELECT set_config('pg_aim.bound', 'eyJhbGciOiJFUzI1NiJ9.e30.AAAA', false);
EOF
)
check_re "pg_aim.bound cannot be set by a superuser either" "pg_aim.bound is set only by pg_aim" "$out"

# ---------------------------------------------------------------- PAM login path
pam_sql() {  # pam_sql TOKEN SQL [USER]
    PGPASSWORD=$1 "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$PORT" -U "${3:-nobody}" -d aimtest -c "$2" 2>&1
}
out=$(pam_sql "$PAMTOK" "SELECT 'pam:' || aim.agent_id() || ' ' || aim.owner() || ' ' || current_user || ' ' || (SELECT count(*) FROM docs)")
check "PAM login binds the session to the same agent" "pam:spiffe://test/agent/pam team-p nobody 1" "$out"
out=$(pam_sql "$PAMTOK" "RESET ALL")
check_re "PAM-bound session refuses RESET ALL" "RESET ALL is not allowed while an AIM agent is bound" "$out"
out=$(pam_sql "$PAMTOK" "BEGIN; SELECT aim.transaction_init('$PAMTOK')")
check_re "PAM-bound session refuses transaction_init" "cannot be used while the session is bound" "$out"
out=$(pam_sql "$PAMTOK_ROOT" "SELECT aim.agent_id()")
check_re "PAM login refused without pg:login:<role>" "PAM authentication failed for user \"nobody\"" "$out"
out=$(pam_sql "$EXPIRED" "SELECT aim.agent_id()")
check_re "PAM login refused with an expired token" "PAM authentication failed" "$out"
out=$(pam_sql "$PAM_SUPER" "SELECT current_user" daemon)
check_re "PAM agent login as a superuser role refused" "AIM agent login refused: policy_denied" "$out"
check_re "naming why" "role \"daemon\" is a superuser" "$out"
out=$(pam_sql "$PAM_BYPASS" "SELECT current_user" bin)
check_re "PAM agent login as a BYPASSRLS role refused" "role \"bin\" bypasses row-level security" "$out"
su_sql "GRANT pg_read_server_files TO nobody" >/dev/null
out=$(pam_sql "$PAMTOK" "SELECT 'logged-in:' || current_user")
check_re "PAM agent login as a role with pg_read_server_files refused" \
    "role \"nobody\" has the privileges of pg_read_server_files" "$out"
check_not_re "... no session" "^logged-in:" "$out"
out=$(pam_sql "$PAMTOK_ROOT" "SELECT 'logged-in:' || current_user")
check_re "... and with too little scope (no pg:login:nobody)" "PAM authentication failed for user \"nobody\"" "$out"
out=$(pam_sql "" "SELECT 'logged-in:' || current_user")
check_re "... and with no token" "PAM authentication failed for user \"nobody\"|no password supplied" "$out"
su_sql "REVOKE pg_read_server_files FROM nobody" >/dev/null
out=$(PGPASSWORD=x PGOPTIONS="-c pg_aim.bound=forged" "$PGBIN/psql" -X -At -h "$T" -p "$PORT" -U app_login -d aimtest -c "SELECT coalesce(aim.agent_id(), 'none')" 2>&1)
check_re "pg_aim.bound cannot be set from the startup packet" "(pg_aim.bound is set only by pg_aim|permission denied to set parameter \"pg_aim.bound\")" "$out"
for opts in "-c role=agent_reader" "-ecrole=agent_reader" "--role=agent_reader" "-c session_authorization=app_login"; do
    out=$(PGPASSWORD="$PAMTOK" PGOPTIONS="$opts" "$PGBIN/psql" -X -At -h 127.0.0.1 -p "$PORT" -U nobody -d aimtest -c "SELECT current_user" 2>&1)
    check_re "PAM agent login refuses the startup option $opts" "(role|session_authorization) \"(agent_reader|app_login)\" is not allowed while an AIM agent is bound" "$out"
done
out=$(pam_sql "$PAMTOK" "ALTER ROLE nobody SET role = 'agent_reader'")
check_re "PAM-bound agent cannot give its login a default role" "role \"agent_reader\" is not allowed while an AIM agent is bound" "$out"
su_sql "ALTER ROLE nobody SET role = 'agent_reader'" >/dev/null
out=$(pam_sql "$PAMTOK" "SELECT 'pamrole:' || current_user || ' ' || (SELECT count(*) FROM docs)")
check "a role default planted for the agent's login is not applied" "pamrole:nobody 1" "$(line pamrole: "$out")"
check_re "and says so" "WARNING:  role \"agent_reader\" is not allowed while an AIM agent is bound" "$out"
su_sql "ALTER ROLE nobody RESET role" >/dev/null

# ---------------------------------------------------------------- role lock: routes no hook names
# A trigger function is called without the object-access hook, and its SET
# clause is checked by PostgreSQL against the session user (who is a member
# of every agent role, and here of a superuser role too).
su_sql "CREATE SCHEMA scratch AUTHORIZATION agent_reader" >/dev/null
su_sql "CREATE TABLE scratch.t (x int); CREATE TABLE scratch.loot (who text, n bigint);
CREATE FUNCTION scratch.trg() RETURNS trigger LANGUAGE plpgsql SET role = 'super_role' AS \$\$
BEGIN INSERT INTO scratch.loot SELECT current_user, count(*) FROM docs; RETURN NEW; END \$\$;
CREATE TRIGGER t BEFORE INSERT ON scratch.t FOR EACH ROW EXECUTE FUNCTION scratch.trg();
ALTER TABLE scratch.t OWNER TO agent_reader; ALTER TABLE scratch.loot OWNER TO agent_reader" >/dev/null
out=$(as app_login aimtest -v tok="$ALICE" <<'EOF'
SELECT aim.session_init(:'tok', 'agent_reader');
INSERT INTO scratch.t VALUES (1);
SELECT 'loot:' || count(*) FROM scratch.loot;
CREATE FUNCTION scratch.definer() RETURNS bigint LANGUAGE sql SECURITY DEFINER
    SET work_mem = '8MB' AS 'SELECT count(*) FROM scratch.loot';
SELECT 'definer:' || (scratch.definer() IS NOT NULL);
SELECT 'user:' || current_user;
EOF
)
check_re "a trigger function's SET role is refused" "role \"super_role\" is not allowed while an AIM agent is bound" "$out"
check "nothing ran as the trigger's role" "loot:0" "$(line loot: "$out")"
check "SECURITY DEFINER with other SET clauses still works" "definer:true" "$(line definer: "$out")"
check "the bound role stays" "user:agent_reader" "$(line user: "$out")"

# ---------------------------------------------------------------- statements feed the baseline
HARV=$(issue --sub spiffe://test/agent/harvester --jti jti-harvester --scope kb:read --ttl 3600)
out=$( { echo "SELECT aim.session_init(:'tok');"; for i in $(seq 1 80); do echo "SELECT count(*) FROM harvest.t$i;"; done;
         echo "INSERT INTO docs (agent, body) VALUES ('x', 'y');"; } | as app_login aimtest -v tok="$HARV")
read -r events denied trust signal <<<"$(stats spiffe://test/agent/harvester)"
if [ "${events:-0}" -ge 81 ]; then ok "every statement is an event of the agent's baseline ($events)"; else not_ok "every statement is an event of the agent's baseline" "events: ${events:-none}"; fi
check "walking 80 tables is seen as enumeration" "enumeration" "${signal:-none}"
if awk -v t="${trust:-100}" 'BEGIN { exit !(t < 100) }'; then ok "and costs trust ($trust)"; else not_ok "and costs trust" "trust: ${trust:-none}"; fi

# ---------------------------------------------------------------- trust: probing costs, and keeps costing
su_sql "ALTER SYSTEM SET pg_aim.trust_min = 50" >/dev/null
su_sql "SELECT pg_reload_conf()" >/dev/null
sleep 1
PROBER=$(issue --sub spiffe://test/agent/prober --jti jti-prober --scope "kb:read pg:role:agent_reader" --ttl 3600)
out=$( { echo "SELECT aim.session_init(:'tok', 'agent_reader');"; for i in $(seq 1 30); do echo "SET ROLE agent_writer;"; done;
         echo "SELECT 'rows:' || count(*) FROM docs;"; } | as app_login aimtest -v tok="$PROBER")
read -r events denied trust1 signal <<<"$(stats spiffe://test/agent/prober)"
check "30 refused SET ROLE are 30 denials of the agent" "30" "${denied:-none}"
check "probing is the signal" "probing" "${signal:-none}"
check_re "then its statements are refused for low trust" "no longer authorized: low_trust" "$out"
check_not_re "and it reads nothing" "^rows:" "$out"
out=$( { for i in $(seq 1 10); do echo "SELECT aim.session_init(:'tok', 'agent_writer');"; done;
         echo "SELECT aim.session_init(:'tok', 'agent_reader');"; } | as app_login aimtest -v tok="$PROBER")
read -r events denied trust2 signal <<<"$(stats spiffe://test/agent/prober)"
check_re "a new connection of the same agent is refused too" "refused: low_trust" "$out"
if awk -v a="${trust1:-0}" -v b="${trust2:-100}" 'BEGIN { exit !(b < a && b < 50) }'; then
    ok "probing while refused keeps lowering trust ($trust1 -> $trust2)"
else
    not_ok "probing while refused keeps lowering trust" "$trust1 -> $trust2"
fi
ROLEPROBER=$(issue --sub spiffe://test/agent/roleprober --jti jti-roleprober --scope "kb:read pg:role:agent_reader" --ttl 3600)
out=$( { for i in $(seq 1 25); do echo "SELECT aim.session_init(:'tok', 'agent_writer');"; done;
         echo "SELECT aim.session_init(:'tok', 'agent_reader');"; } | as app_login aimtest -v tok="$ROLEPROBER")
read -r events denied trust signal <<<"$(stats spiffe://test/agent/roleprober)"
check "binds asking for a role not granted are denials" "25" "${denied:-none}"
check_re "and then even a granted role is refused" "refused: low_trust" "$(tail -3 <<<"$out")"
su_sql "ALTER SYSTEM RESET pg_aim.trust_min" >/dev/null
su_sql "ALTER SYSTEM SET pg_aim.trust_min = 0" >/dev/null
su_sql "SELECT pg_reload_conf()" >/dev/null

# ---------------------------------------------------------------- a transaction pooler: PgBouncer
if ! pgb_start "$T/bouncer" "$BPORT" aimtest pool_login app_login <<EOF
server_reset_query = DISCARD ALL
server_reset_query_always = 1
default_pool_size = 1
max_client_conn = 20
EOF
then
    not_ok "pgbouncer starts (transaction mode)" "$(cat "$T/bouncer/pgbouncer.out" "$T/bouncer/pgbouncer.log" 2>/dev/null)"
elif [ ! -x "$PROTO" ]; then
    not_ok "pooler scenario needs tests/pg/proto.c"
else
    ok "pgbouncer starts (transaction mode, one server connection)"
    POOL_A=$(issue --sub spiffe://test/agent/alice --jti jti-pool-a --scope "kb:read pg:role:agent_reader" --ttl 3600)
    POOL_B=$(issue --sub spiffe://test/agent/bob --jti jti-pool-b --scope "kb:read kb:write pg:role:agent_writer" --ttl 3600)
    POOL="host=127.0.0.1 port=$BPORT user=pool_login dbname=aimtest"
    SHOW="SELECT pg_backend_pid() > 0, pg_backend_pid(), coalesce(aim.agent_id(), 'none'), current_user, (SELECT coalesce(string_agg(body, ',' ORDER BY id), '-') FROM docs)"
    out=$(proto <<EOF
connect a $POOL
connect b $POOL
use a
a1 Q BEGIN
a2 Q SELECT aim.transaction_init('$POOL_A', 'agent_reader')
a3 Q $SHOW
a4 Q COMMIT
use b
b1 Q BEGIN
b2 Q SELECT aim.transaction_init('$POOL_B', 'agent_writer')
b3 Q $SHOW
b4 Q SET ROLE agent_reader
b5 Q ROLLBACK
use a
a5 Q BEGIN
a6 Q $SHOW
a7 Q SELECT aim.transaction_init('$POOL_A', 'agent_reader')
a8 Q $SHOW
a9 Q COMMIT
use b
b6 Q $SHOW
b7 Q BEGIN
b8 Q SELECT aim.transaction_init('$POOL_B', 'agent_writer')
b9 Q INSERT INTO docs (agent, body) VALUES ('spiffe://test/agent/bob', 'bob-pooled')
b10 Q $SHOW
b11 Q SELECT set_config('request.id', '42', true), current_setting('request.id')
b12 Q COMMIT
b13 Q SELECT aim.session_init('$POOL_B')
b14 Q CREATE TEMP TABLE docs AS SELECT 0 AS id, 'planted' AS body
use a
a10 Q BEGIN
a11 Q SELECT aim.transaction_init('$POOL_A', 'agent_reader')
a12 Q $SHOW
a13 Q COMMIT
EOF
)
    pid() { line "$1: row" "$out" | cut -d'|' -f2; }
    show() { line "$1: row" "$out" | cut -d'|' -f3-; }
    if [ -n "$(pid a3)" ] && [ "$(pid a3)" = "$(pid b3)" ] && [ "$(pid b3)" = "$(pid a8)" ] && [ "$(pid a8)" = "$(pid b10)" ]; then
        ok "both clients' transactions ran on one server connection (pid $(pid a3))"
    else
        not_ok "both clients' transactions ran on one server connection" "$out"
    fi
    check "agent A's transaction: its identity, role and rows" "spiffe://test/agent/alice|agent_reader|a1,a2" "$(show a3)"
    check "agent B's next transaction on that connection: its own" "spiffe://test/agent/bob|agent_writer|b1,bob-wrote" "$(show b3)"
    check_re "B's transaction cannot reach A's role" "^b4: error: 42501 SET ROLE is not allowed while an AIM agent is bound" "$out"
    check "an unbound transaction after them: no agent, the pool's role, no rows" "none|pool_login|-" "$(show a6)"
    check "A again: its own view" "spiffe://test/agent/alice|agent_reader|a1,a2" "$(show a8)"
    check "autocommit statement after A's commit: nothing of A" "none|pool_login|-" "$(show b6)"
    check "B writes through its policy" "spiffe://test/agent/bob|agent_writer|b1,bob-wrote,bob-pooled" "$(show b10)"
    check_re "set_config of request settings works in a bound transaction" "^b11: row 42\|42" "$out"
    check_re "the pool's login may not take session_init once revoked from it" "^b13: error: 42501 permission denied for function session_init" "$out"
    check "a temporary table an unbound client planted is gone (server_reset_query_always)" \
        "spiffe://test/agent/alice|agent_reader|a1,a2" "$(show a12)"
fi

# ---------------------------------------------------------------- an installation of 0.1, updated
"${PSQL[@]}" -U postgres -d postgres -c "CREATE DATABASE aimold" >/dev/null
out=$("${PSQL[@]}" -U postgres -d aimold 2>&1 <<'EOF'
CREATE EXTENSION pg_aim VERSION '0.1';
ALTER EXTENSION pg_aim UPDATE;
SELECT 'version:' || extversion FROM pg_extension WHERE extname = 'pg_aim';
SELECT 'functions:' || string_agg(p.proname || ':' || pg_get_function_identity_arguments(p.oid) || ':'
    || array_to_string(coalesce(p.proacl, '{}'), ' '), ';' ORDER BY p.proname)
    FROM pg_proc p WHERE p.pronamespace = 'aim'::regnamespace;
EOF
)
fresh=$(su_sql "SELECT 'functions:' || string_agg(p.proname || ':' || pg_get_function_identity_arguments(p.oid) || ':'
    || array_to_string(coalesce(p.proacl, '{}'), ' '), ';' ORDER BY p.proname)
    FROM pg_proc p WHERE p.pronamespace = 'aim'::regnamespace AND p.proname <> 'session_init'")
check "ALTER EXTENSION pg_aim UPDATE takes 0.1 to 0.2" "version:0.2" "$(line version: "$out")"
check "and gives it the functions and grants of a new 0.2" "$fresh" \
    "$(line functions: "$out" | sed 's/;session_init:[^;]*//')"

# ---------------------------------------------------------------- settings are the server's
out=$(as app_login aimtest <<'EOF'
SHOW pg_aim.keys;
SET pg_aim.audience = 'x';
EOF
)
check_re "non-superusers cannot read the settings" "must be superuser or have privileges of pg_read_all_settings" "$out"
check_re "sessions cannot set the settings" "cannot be changed now" "$out"
out=$(as postgres aimtest <<'EOF'
SELECT name || '=' || setting || coalesce(unit, '') FROM pg_settings WHERE name LIKE 'pg_aim.%' ORDER BY 1;
EOF
)
missing=""
for o in $(grep -o '\[AIM_OPT_[A-Z_]*\] = { "[a-z_]*"' "$AT_ROOT/common/lib/options.c" | sed 's/.*"\(.*\)"/\1/'); do
    printf '%s\n' "$out" | grep -q "^pg_aim\.$o=" || missing="$missing $o"
done
check "every option of the core's table is a setting (types, cache, reload_interval too)" "" "$missing"
check_re "numbers are typed, with the core's default" "pg_aim.cache=1024" "$out"
check_re "seconds are typed with a unit" "pg_aim.reload_interval=1s" "$out"
check_re "pg_aim.config names the host configuration file" "pg_aim.config=$T/aim.conf" "$out"

# ---------------------------------------------------------------- reload, and the host file
out=$(as app_login aimtest -v tok="$ALICE" -v tok2="$ALICE_NEW" <<'EOF'
SELECT 'before:' || aim.session_init(:'tok');
\! "$PGBIN_PSQL" -X -q -At -h "$PGSOCK" -p "$PGPORT_T" -U postgres -d aimtest -c "ALTER SYSTEM SET pg_aim.audience = 'pg:elsewhere'" -c "SELECT pg_reload_conf()" >/dev/null
SELECT pg_sleep(1);
SELECT aim.session_init(:'tok2');
\! "$PGBIN_PSQL" -X -q -At -h "$PGSOCK" -p "$PGPORT_T" -U postgres -d aimtest -c "ALTER SYSTEM RESET pg_aim.audience" -c "SELECT pg_reload_conf()" >/dev/null
SELECT pg_sleep(1);
SELECT 'after:' || aim.session_init(:'tok2');
EOF
)
check "bound before the reload" "before:spiffe://test/agent/alice" "$(line before: "$out")"
check_re "a reload changing pg_aim.audience applies to open sessions" "AIM token refused: bad_audience" "$out"
check "and reverting it applies too" "after:spiffe://test/agent/alice" "$(line after: "$out")"
out=$(as app_login aimtest -v tok="$ALICE" -v tok2="$ALICE_NEW" <<EOF
SELECT 'before:' || aim.session_init(:'tok');
\\! cp "$T/aim.conf" "$T/aim.conf.good"; echo 'max_lifetime 60' >> "$T/aim.conf"
SELECT pg_sleep(1.2);
SELECT aim.session_init(:'tok2');
\\! cp "$T/aim.conf.good" "$T/aim.conf"
SELECT pg_sleep(1.2);
SELECT 'after:' || aim.session_init(:'tok2');
EOF
)
check_re "a change of the host configuration file applies within a second, without reload" "AIM token refused: lifetime_too_long" "$out"
check "and its revert too" "after:spiffe://test/agent/alice" "$(line after: "$out")"

# ---------------------------------------------------------------- audit
pg_stop
log=$(cat "$T/server.log")
check_re "audit: bind line" "AUDIT: AIM,\{.*\"action\":\"bind\".*spiffe://test/agent/alice" "$log"
check_re "audit: role switch line" "AUDIT: AIM,\{.*\"action\":\"role\".*agent_reader" "$log"
check_re "audit: refusal line" "AUDIT: AIM,\{.*\"action\":\"RESET ALL\"" "$log"
check_re "audit: a refused statement names its action and relations" "AUDIT: AIM,\{.*\"reason\":\"expired\".*\"action\":\"SELECT\",\"resource\":\"public.docs\"" "$log"
check_re "audit: a refused protocol Execute" "AUDIT: AIM,\{.*\"reason\":\"revoked\".*spiffe://test/agent/proto1" "$log"
check_not_re "audit: statements allowed write no line" "AUDIT: AIM,\{\"[^}]*\"decision\":\"allow\"[^}]*\"action\":\"SELECT\"" "$log"
check_re "audit: PAM login line" "AUDIT: AIM,\{.*\"action\":\"login\".*spiffe://test/agent/pam" "$log"
check_re "audit: refused superuser login" "AUDIT: AIM,\{.*\"reason\":\"policy_denied\".*\"action\":\"login\".*spiffe://test/agent/pam-super" "$log"
check_re "audit: a refused startup option" "AUDIT: AIM,\{.*\"action\":\"role \\\\\"agent_reader\\\\\"\"" "$log"
check_re "audit file written too" "\"adapter\":\"pg\"" "$(cat "$T/audit.log" 2>/dev/null)"
leaked=""
for tok in "$ALICE" "$BOB" "$PAMTOK" "${POOL_A-}" "${P1-}"; do
    sig=${tok##*.}
    [ -n "$sig" ] || continue
    leaked="$leaked$(grep -hF -- "$sig" "$T/server.log" "$T/audit.log" "$T/bouncer/pgbouncer.log" 2>/dev/null | cut -c1-300)"
done
check "no token in the logs" "" "$leaked"

# ---------------------------------------------------------------- bad settings refuse to start
bad_start() {  # bad_start NAME SETTING-LINE REGEX
    cp "$T/postgresql.conf.good" "$T/data/postgresql.conf"
    printf '%s\n' "$2" >> "$T/data/postgresql.conf"
    : > "$T/server.log"
    if start; then
        not_ok "$1: server started"; pg_stop
    else
        check_re "$1" "$3" "$(cat "$T/server.log")"
    fi
}
bad_start "missing key file refuses to start, naming pg_aim.keys" \
    "pg_aim.keys = '$T/nope.json'" "FATAL: .*pg_aim\.keys"
bad_start "no audience refuses to start, naming pg_aim.audience" \
    "pg_aim.audience = ''
pg_aim.config = ''" "FATAL: .*pg_aim\.audience"
bad_start "no issuer refuses to start, naming pg_aim.issuer" \
    "pg_aim.issuer = ''" "FATAL: .*\"issuer\".*|HINT: .*pg_aim\.issuer"
printf 'garbage line\n' > "$T/bad.revoked"; pg_give "$T/bad.revoked"
bad_start "bad revocation file refuses to start, naming pg_aim.revoked" \
    "pg_aim.revoked = '$T/bad.revoked'" "FATAL: .*pg_aim\.revoked"
bad_start "out-of-range leeway refuses to start" \
    "pg_aim.leeway = -5" "FATAL: .*invalid value for parameter \"pg_aim\.leeway\""
bad_start "a bad cache size refuses to start" \
    "pg_aim.cache = 'lots'" "FATAL: .*pg_aim\.cache"
bad_start "an unterminated quote in a list refuses to start" \
    "pg_aim.keys = '$ISS \"$T/key dir/jwks.json'" "FATAL: .*pg_aim\.keys.*|DETAIL: .*unterminated"
bad_start "a missing host configuration file refuses to start" \
    "pg_aim.config = '$T/nope.conf'" "FATAL: .*nope\.conf"
printf 'leeway 30\nno_such_option 1\n' > "$T/bad.conf"; pg_give "$T/bad.conf"
bad_start "a bad host configuration file refuses to start, naming file and line" \
    "pg_aim.config = '$T/bad.conf'" "bad\.conf:2: .*no_such_option"
printf 'policy %s\n' "$T/nope.policy" > "$T/bad2.conf"; pg_give "$T/bad2.conf"
bad_start "a bad file the host configuration names refuses to start, naming the option and the host file" \
    "pg_aim.config = '$T/bad2.conf'" "FATAL: .*invalid AIM option \"policy\".*|HINT: .*bad2\.conf"
cp "$T/postgresql.conf.good" "$T/data/postgresql.conf"

# ---------------------------------------------------------------- inherited hand-off variable
: > "$T/server.log"
if start AIM_PG_TOKEN="$PAMTOK"; then
    out=$("${PSQL[@]}" -U app_login -d aimtest -c "SELECT 'agent:' || coalesce(aim.agent_id(), 'none')" 2>&1)
    check "a hand-off variable inherited by the postmaster binds nobody" "agent:none" "$out"
    check_re "and the postmaster says it removed it" "removing \"AIM_PG_TOKEN\" from the server environment" "$(cat "$T/server.log")"
    pg_stop
else
    not_ok "server starts with an inherited hand-off variable" "$(cat "$T/pg_ctl.out" "$T/server.log")"
fi

finish
