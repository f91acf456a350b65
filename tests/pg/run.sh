#!/bin/bash
# tests/pg/run.sh -- pg_aim against a throwaway PostgreSQL 15 cluster.
#
# initdb in a run directory under /tmp (tests/lib/aimtest.sh: postgres
# must reach it even when the checkout is under a 0700 home), postgres on
# 127.0.0.1 on a free port (AIM_PG_PORT) and a Unix socket in the run
# directory, run as the "postgres" account when started as root; the PAM
# module it loads is a copy in the run directory.  The extension is installed into PostgreSQL's own directories
# (make -C pg_aim install): CI runs as root.  pg_regress (installcheck)
# plus scripted psql sessions.  Everything is stopped and removed on exit.
# Last line: "pg: N passed, N failed, N skipped".
set -u
. "$(dirname "$0")/../lib/aimtest.sh"
at_suite pg

ISS=https://idp.test
AUD=pg:aimtest

at_need_files "$AIMCTL" "$AT_BUILD/pg_aim.so" "$AT_BUILD/pam_aim.so" "$PG_CONFIG"
at_pam_wrapper || bail "libpam_wrapper is not installed (./deps.sh): the PAM login path needs it"
at_rundir pg-test || bail "a run directory"
T=$AT_RUN
at_port PORT AIM_PG_PORT || bail "a port for PostgreSQL"

# ---------------------------------------------------------------- keys, tokens
"$AIMCTL" keygen --alg ES256 --kid k1 --out "$T/issuer.key" >/dev/null
"$AIMCTL" keygen --alg ES256 --kid k1 --out "$T/rogue.key" >/dev/null
mint_jwks "$T/jwks.json" "$T/issuer.key"
: > "$T/revoked"
now=$(date +%s)
ISSUER_KEY=$T/issuer.key
ROLES="pg:role:agent_reader pg:role:agent_writer pg:role:login_role pg:role:super_role pg:role:bypass_role pg:role:lonely_role pg:role:no_such_role"

export AIM_TOK_ALICE AIM_TOK_ALICE_NEW AIM_TOK_ALICE_OLD AIM_TOK_BOB AIM_TOK_EXPIRED \
       AIM_TOK_ROGUE AIM_TOK_WRONG_AUD
AIM_TOK_ALICE=$(issue --sub spiffe://test/agent/alice --owner team-a --jti jti-alice \
    --scope "kb:read $ROLES" --claim tenant=acme --claim level=3 --iat $((now - 10)) --ttl 3600)
AIM_TOK_ALICE_NEW=$(issue --sub spiffe://test/agent/alice --owner team-a --jti jti-alice-new \
    --scope "kb:read $ROLES" --claim tenant=acme --claim level=3 --iat "$now" --ttl 3600)
AIM_TOK_ALICE_OLD=$(issue --sub spiffe://test/agent/alice --owner team-a --jti jti-alice-old \
    --scope "kb:read" --iat $((now - 20)) --ttl 3600)
AIM_TOK_BOB=$(issue --sub spiffe://test/agent/bob --owner team-b --jti jti-bob \
    --scope "kb:read kb:write pg:role:agent_writer" --claim tenant=globex --ttl 3600)
AIM_TOK_EXPIRED=$(issue --sub spiffe://test/agent/alice --jti jti-expired \
    --iat $((now - 600)) --exp $((now - 300)))
AIM_TOK_ROGUE=$("$AIMCTL" issue --key "$T/rogue.key" --iss "$ISS" --aud "$AUD" \
    --sub spiffe://test/agent/alice --jti jti-rogue)
AIM_TOK_WRONG_AUD=$("$AIMCTL" issue --key "$T/issuer.key" --iss "$ISS" --aud elsewhere \
    --sub spiffe://test/agent/alice --jti jti-wrong-aud)
NOROLE=$(issue --sub spiffe://test/agent/dave --jti jti-dave --scope "kb:read" --ttl 3600)
CAROL=$(issue --sub spiffe://test/agent/carol --jti jti-carol --scope "kb:read" --ttl 3600)
PAMTOK=$(issue --sub spiffe://test/agent/pam --owner team-p --jti jti-pam \
    --scope "pg:login:nobody kb:read" --ttl 3600)
PAMTOK_ROOT=$(issue --sub spiffe://test/agent/pam --jti jti-pam-root --scope "pg:login:root" --ttl 3600)

# ---------------------------------------------------------------- cluster
pg_pam_service "$T/services" "$T/jwks.json" || bail "the PAM service for agent logins"

pg_init "$T" "$PORT" || bail "initdb" "$(cat "$T/initdb.log")"
pg_conf <<EOF
shared_preload_libraries = 'pg_aim'
max_connections = 40
pg_aim.keys = '$ISS $T/jwks.json'
pg_aim.issuer = 'https://other.example, $ISS'
pg_aim.audience = '$AUD'
pg_aim.leeway = 0
pg_aim.revoked = '$T/revoked'
pg_aim.audit = '$T/audit.log'
pg_aim.pam_handoff = 'AIM_PG_TOKEN'
EOF
pg_hba <<EOF
local all all                 trust
host  all nobody 127.0.0.1/32 pam pamservice=postgresql
host  all all    127.0.0.1/32 scram-sha-256
EOF
cp "$PG_DATA/postgresql.conf" "$T/postgresql.conf.good"

pg_install > "$T/install.log" 2>&1 || bail "make -C pg_aim install (needs root)" "$(cat "$T/install.log")"

pg_start "${PAM_ENV[@]}" || bail "server starts with pg_aim" "$(cat "$T/pg_ctl.out" "$T/server.log")"
ok "server starts with pg_aim preloaded and valid settings"

PSQL=("${PG_PSQL[@]}")
export PGBIN_PSQL=$PGBIN/psql PGSOCK=$T PGPORT_T=$PORT
# as USER DB: run standard input in one session; output and errors.
as() { local u=$1 d=$2; shift 2; "${PSQL[@]}" -U "$u" -d "$d" "$@" -f - 2>&1; }
su_sql() { "${PSQL[@]}" -U postgres -d aimtest -c "$1" 2>&1; }

"${PSQL[@]}" -U postgres -d postgres -c "CREATE DATABASE aimtest" >/dev/null
as postgres aimtest >"$T/setup.out" <<'EOF'
CREATE EXTENSION pg_aim;
CREATE ROLE app_login LOGIN;
CREATE ROLE agent_reader NOLOGIN;
CREATE ROLE agent_writer NOLOGIN;
CREATE ROLE login_role LOGIN;
CREATE ROLE super_role NOLOGIN SUPERUSER;
CREATE ROLE bypass_role NOLOGIN BYPASSRLS;
CREATE ROLE lonely_role NOLOGIN;
CREATE ROLE nobody LOGIN;
GRANT agent_reader, agent_writer, login_role, super_role, bypass_role TO app_login;
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
EOF
check_not_re "setup" "ERROR" "$(cat "$T/setup.out")"

# ---------------------------------------------------------------- pg_regress
export PGHOST=$T PGPORT=$PORT PGUSER=postgres
if make --no-print-directory -s -C "$AT_ROOT/pg_aim" PG_CONFIG="$PG_CONFIG" installcheck \
        >"$T/regress.out" 2>&1; then
    ok "pg_regress installcheck"
else
    not_ok "pg_regress installcheck" "$(cat "$T/regress.out"; cat "$AT_ROOT/pg_aim/regression.diffs" 2>/dev/null)"
fi
unset PGHOST PGPORT PGUSER

# ---------------------------------------------------------------- binding, readers, RLS
out=$(as app_login aimtest -v tok="$AIM_TOK_ALICE" <<'EOF'
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
check "unbound session sees no rows (policy fails closed)" "unbound:0" "$(grep '^unbound:' <<<"$out")"
check "unbound session sees no tenant rows" "tenant-unbound:0" "$(grep '^tenant-unbound:' <<<"$out")"
check "session_init returns the agent" "bind:spiffe://test/agent/alice" "$(grep '^bind:' <<<"$out")"
check "agent_id, owner, jti" "agent:spiffe://test/agent/alice owner:team-a jti:jti-alice" "$(grep '^agent:' <<<"$out")"
check_re "scopes() lists the effective scopes" "^scopes:kb:read,pg:role:agent_reader," "$out"
check "has_scope" "has:true,false" "$(grep '^has:' <<<"$out")"
check "claim and claims" "claim:acme,3,team-a" "$(grep '^claim:' <<<"$out")"
check "RLS on (SELECT aim.agent_id()) shows the agent's rows only" "rows:a1,a2" "$(grep '^rows:' <<<"$out")"
check "RLS on a tenant claim" "tenant:2" "$(grep '^tenant:' <<<"$out")"
check_re "write policy needs kb:write" "new row violates row-level security policy" "$out"
check "no role given: role unchanged" "user:app_login" "$(grep '^user:' <<<"$out")"

out=$(as app_login aimtest -v tok="$AIM_TOK_BOB" <<'EOF'
SELECT aim.session_init(:'tok');
INSERT INTO docs (agent, body) VALUES ('spiffe://test/agent/bob', 'bob-wrote');
INSERT INTO docs (agent, body) VALUES ('spiffe://test/agent/alice', 'bob-as-alice');
SELECT 'bobrows:' || string_agg(body, ',' ORDER BY id) FROM docs;
EOF
)
check "write policy with kb:write inserts the agent's row" "bobrows:b1,bob-wrote" "$(grep '^bobrows:' <<<"$out")"
check_re "an agent cannot write another agent's row" "new row violates row-level security policy" "$out"

# ---------------------------------------------------------------- role switch
role_try() {  # role_try TOKEN ROLE: bind with a role, then report who we are
    as app_login aimtest -v tok="$1" -v role="$2" <<'EOF'
SELECT aim.session_init(:'tok', :'role');
SELECT 'user:' || current_user || ' agent:' || coalesce(aim.agent_id(), 'none');
RESET ROLE;
SET ROLE NONE;
SET ROLE app_login;
SELECT set_config('role', 'none', false);
SELECT 'after:' || current_user;
EOF
}
out=$(role_try "$AIM_TOK_ALICE" agent_reader)
check "role switch granted" "user:agent_reader agent:spiffe://test/agent/alice" "$(grep '^user:' <<<"$out")"
check_re "RESET ROLE refused once bound" "ERROR:  RESET ROLE is not allowed while an AIM agent is bound" "$out"
check_re "SET ROLE refused once bound" "ERROR:  SET ROLE is not allowed while an AIM agent is bound" "$out"
check_re "set_config refused once bound" "ERROR:  set_config\(\) is not allowed while an AIM agent is bound" "$out"
check "the role stays after every escape attempt" "after:agent_reader" "$(grep '^after:' <<<"$out")"

out=$(role_try "$AIM_TOK_ALICE" login_role)
check_re "role switch refused: LOGIN role" "role \"login_role\" can log in" "$out"
check "refused switch leaves the session unbound" "user:app_login agent:none" "$(grep '^user:' <<<"$out")"
check_re "role switch refused: superuser" "role \"super_role\" is a superuser" "$(role_try "$AIM_TOK_ALICE" super_role)"
check_re "role switch refused: BYPASSRLS" "role \"bypass_role\" bypasses row-level security" "$(role_try "$AIM_TOK_ALICE" bypass_role)"
check_re "role switch refused: not a member" "session user \"app_login\" is not a member of role \"lonely_role\"" "$(role_try "$AIM_TOK_ALICE" lonely_role)"
check_re "role switch refused: no such role" "role \"no_such_role\" does not exist" "$(role_try "$AIM_TOK_ALICE" no_such_role)"
out=$(role_try "$NOROLE" agent_reader)
check_re "role switch refused: scope pg:role:<role> missing" "ERROR:  AIM agent \"spiffe://test/agent/dave\" refused: insufficient_scope" "$out"
check "scope refusal leaves the session unbound" "user:app_login agent:none" "$(grep '^user:' <<<"$out")"

out=$(as app_login aimtest -v tok="$AIM_TOK_ALICE" -v tok2="$AIM_TOK_ALICE_NEW" <<'EOF'
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
check "role switch inside a transaction" "in-xact:agent_reader" "$(grep '^in-xact:' <<<"$out")"
check "rollback undoes binding and role switch" "rolled-back:app_login none" "$(grep '^rolled-back:' <<<"$out")"
check_re "the bound role cannot change" "the session's AIM role is already \"agent_reader\"" "$out"
check "refresh keeps the role, takes the newer token" "now:agent_reader jti-alice-new" "$(grep '^now:' <<<"$out")"

# ---------------------------------------------------------------- escape routes (non-superuser)
out=$(as app_login aimtest -v tok="$AIM_TOK_ALICE" <<'EOF'
SELECT aim.session_init(:'tok', 'agent_reader');
SET SESSION AUTHORIZATION app_login;
RESET SESSION AUTHORIZATION;
RESET ALL;
DISCARD ALL;
SET pg_aim.bound = '{"agent":"x"}';
SET LOCAL role = 'app_login';
BEGIN; SET LOCAL ROLE app_login; ROLLBACK;
DO $$ BEGIN EXECUTE 'SET ROLE app_login'; END $$;
SELECT 'user:' || current_user || ' ' || aim.agent_id();
EOF
)
check_re "SET SESSION AUTHORIZATION refused" "ERROR:  SET SESSION AUTHORIZATION is not allowed while an AIM agent is bound" "$out"
check_re "RESET SESSION AUTHORIZATION refused" "ERROR:  RESET SESSION AUTHORIZATION is not allowed" "$out"
check_re "RESET ALL refused" "ERROR:  RESET ALL is not allowed while an AIM agent is bound" "$out"
check_re "DISCARD ALL refused" "ERROR:  DISCARD ALL is not allowed while an AIM agent is bound" "$out"
check_re "writing pg_aim.bound refused" "(permission denied to set parameter \"pg_aim.bound\"|changing pg_aim settings is not allowed)" "$out"
check "SET LOCAL ROLE and dynamic SET ROLE in PL/pgSQL refused" "3" "$(grep -c 'SET ROLE is not allowed' <<<"$out")"
check "still the bound role and agent" "user:agent_reader spiffe://test/agent/alice" "$(grep '^user:' <<<"$out")"

# ---------------------------------------------------------------- one-way binding
out=$(as app_login aimtest -v a="$AIM_TOK_ALICE" -v b="$AIM_TOK_BOB" -v old="$AIM_TOK_ALICE_OLD" -v new="$AIM_TOK_ALICE_NEW" <<'EOF'
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
check "binding unchanged after refusals" "still:spiffe://test/agent/alice jti-alice" "$(grep '^still:' <<<"$out")"
check "refresh with a newer token of the same agent" "jti:jti-alice-new" "$(grep '^jti:' <<<"$out")"

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
check "short-lived token binds" "bound:spiffe://test/agent/short" "$(grep '^bound:' <<<"$out")"
check_re "expiry mid-session: next statement fails" "ERROR:  AIM agent \"spiffe://test/agent/short\" is no longer authorized: expired" "$out"
check_not_re "expired agent reads nothing" "^after-expiry:" "$out"
check "every later statement fails, utility statements too (3 of 3)" "3" "$(grep -c 'is no longer authorized: expired' <<<"$out")"
check_not_re "ROLLBACK still leaves the failed transaction" "current transaction is aborted" "$out"

out=$( { echo "SELECT 'bound:' || aim.session_init(:'tok');"; echo "SELECT 'before:' || count(*) FROM docs;";
         echo "\\! echo 'agent spiffe://test/agent/carol' >> $T/revoked"; echo "SELECT pg_sleep(2);";
         echo "SELECT 'after:' || count(*) FROM docs;"; } | as app_login aimtest -v tok="$CAROL")
check "revocation target binds" "bound:spiffe://test/agent/carol" "$(grep '^bound:' <<<"$out")"
check_re "revocation mid-session: next statement fails" "ERROR:  AIM agent \"spiffe://test/agent/carol\" is no longer authorized: revoked" "$out"
check_not_re "revoked agent reads nothing" "^after:" "$out"
out=$(as app_login aimtest -v tok="$CAROL" <<<"SELECT aim.session_init(:'tok');")
check_re "revoked agent cannot bind again" "AIM token refused: revoked" "$out"

# ---------------------------------------------------------------- parallel query
out=$(as app_login aimtest -v tok="$AIM_TOK_ALICE" <<'EOF'
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
EOF
)
check "parallel scan, unbound: no rows" "unbound-count:0" "$(grep '^unbound-count:' <<<"$out")"
check_re "parallel plan (Gather) with the readers" "Gather" "$out"
check_re "parallel plan has workers scanning" "Parallel Seq Scan on big" "$out"
check "parallel count with every reader in the filter" "count:50000" "$(grep '^count:' <<<"$out")"
check_re "force_parallel_mode plan runs in a worker" "Single Copy: true" "$out"
w=$(grep '^worker:' <<<"$out" | sed 's/^worker://'); l=$(grep '^leader:' <<<"$out" | sed 's/^leader://')
if [ -n "$w" ] && [ "$w" = "$l" ]; then ok "readers in a parallel worker equal the leader's"; else not_ok "readers in a parallel worker equal the leader's" "worker: $w
leader: $l"; fi

# ---------------------------------------------------------------- PAM login path
pam_sql() { PGPASSWORD=$1 "$PGBIN/psql" -X -q -At -h 127.0.0.1 -p "$PORT" -U nobody -d aimtest -c "$2" 2>&1; }
out=$(pam_sql "$PAMTOK" "SELECT 'pam:' || aim.agent_id() || ' ' || aim.owner() || ' ' || current_user || ' ' || (SELECT count(*) FROM docs)")
check "PAM login binds the session to the same agent" "pam:spiffe://test/agent/pam team-p nobody 1" "$out"
out=$(pam_sql "$PAMTOK" "RESET ALL")
check_re "PAM-bound session refuses RESET ALL" "RESET ALL is not allowed while an AIM agent is bound" "$out"
out=$(pam_sql "$PAMTOK_ROOT" "SELECT aim.agent_id()")
check_re "PAM login refused without pg:login:<role>" "PAM authentication failed for user \"nobody\"" "$out"
out=$(pam_sql "$AIM_TOK_EXPIRED" "SELECT aim.agent_id()")
check_re "PAM login refused with an expired token" "PAM authentication failed" "$out"
out=$(PGPASSWORD=x PGOPTIONS="-c pg_aim.bound={\"agent\":\"forged\"}" "$PGBIN/psql" -X -At -h "$T" -p "$PORT" -U app_login -d aimtest -c "SELECT coalesce(aim.agent_id(), 'none')" 2>&1)
check_re "pg_aim.bound cannot be set from the startup packet" "pg_aim.bound" "$out"
out=$(PGPASSWORD="$PAMTOK" PGOPTIONS="-c role=agent_reader" "$PGBIN/psql" -X -At -h 127.0.0.1 -p "$PORT" -U nobody -d aimtest -c "SELECT current_user" 2>&1)
check_re "PAM agent login refuses a role startup option" "startup option \"role\" is not allowed for an AIM agent login" "$out"
out=$(pam_sql "$PAMTOK" "ALTER ROLE nobody SET role = 'agent_reader'")
check_re "PAM-bound agent cannot give its login a default role" "ALTER ROLE ... SET role is not allowed while an AIM agent is bound" "$out"
su_sql "ALTER ROLE nobody SET role = 'agent_reader'" >/dev/null
out=$(pam_sql "$PAMTOK" "SELECT 'pamrole:' || current_user || ' ' || (SELECT count(*) FROM docs)")
check_re "agent login whose role default moves the role is refused" "role \"agent_reader\" is not allowed while an AIM agent is bound" "$out"
su_sql "ALTER ROLE nobody RESET role" >/dev/null

# ---------------------------------------------------------------- role lock: routes no hook sees
# A trigger function is called without the object-access hook, and its SET
# clause is checked by PostgreSQL against the session user (who is a member
# of every agent role, and here of a superuser role too).
su_sql "CREATE SCHEMA scratch AUTHORIZATION agent_reader" >/dev/null
out=$(as app_login aimtest -v tok="$AIM_TOK_ALICE" <<'EOF'
SELECT aim.session_init(:'tok', 'agent_reader');
CREATE TABLE scratch.t (x int);
CREATE TABLE scratch.loot (who text, n bigint);
CREATE FUNCTION scratch.trg() RETURNS trigger LANGUAGE plpgsql SET role = 'super_role' AS $$
BEGIN INSERT INTO scratch.loot SELECT current_user, count(*) FROM docs; RETURN NEW; END $$;
CREATE TRIGGER t BEFORE INSERT ON scratch.t FOR EACH ROW EXECUTE FUNCTION scratch.trg();
INSERT INTO scratch.t VALUES (1);
SELECT 'loot:' || count(*) FROM scratch.loot;
CREATE FUNCTION scratch.definer() RETURNS bigint LANGUAGE sql SECURITY DEFINER
    SET work_mem = '8MB' AS 'SELECT count(*) FROM scratch.loot';
SELECT 'definer:' || (scratch.definer() IS NOT NULL);
SELECT 'user:' || current_user;
EOF
)
check_re "a trigger function's SET role is refused" "role \"super_role\" is not allowed while an AIM agent is bound" "$out"
check "nothing ran as the trigger's role" "loot:0" "$(grep '^loot:' <<<"$out")"
check "SECURITY DEFINER with other SET clauses still works" "definer:true" "$(grep '^definer:' <<<"$out")"
check "the bound role stays" "user:agent_reader" "$(grep '^user:' <<<"$out")"

# Fast-path function calls (protocol message 'F') reach no executor hook.
FASTPATH=$T/fastpath
if ! cc -std=c11 -Wall -Werror -o "$FASTPATH" "$AT_ROOT/tests/pg/fastpath.c" \
        -I"$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)" -lpq 2>"$T/cc.log"; then
    not_ok "fast-path calls after expiry: cannot build tests/pg/fastpath.c" "$(cat "$T/cc.log")"
else
    FP=$(issue --sub spiffe://test/agent/fastpath --jti jti-fastpath --scope kb:read --ttl 2)
    out=$(AIM_TOKEN=$FP "$FASTPATH" "host=$T port=$PORT user=app_login dbname=aimtest" 3 2>&1)
    check_re "fast path: the token binds" "^bind ok" "$out"
    check_re "fast path: a reader after expiry fails" "agent_id error: .*no longer authorized: expired" "$out"
    check_re "fast path: nextval() after expiry fails" "nextval error: .*no longer authorized: expired" "$out"
fi

# ---------------------------------------------------------------- settings are the server's
out=$(as app_login aimtest <<'EOF'
SHOW pg_aim.keys;
SET pg_aim.audience = 'x';
EOF
)
check_re "non-superusers cannot read the settings" "must be superuser or have privileges of pg_read_all_settings" "$out"
check_re "sessions cannot set the settings" "cannot be changed now" "$out"

# ---------------------------------------------------------------- reload
out=$(as app_login aimtest -v tok="$AIM_TOK_ALICE" -v tok2="$AIM_TOK_ALICE_NEW" <<'EOF'
SELECT 'before:' || aim.session_init(:'tok');
\! "$PGBIN_PSQL" -X -q -At -h "$PGSOCK" -p "$PGPORT_T" -U postgres -d aimtest -c "ALTER SYSTEM SET pg_aim.audience = 'pg:elsewhere'" -c "SELECT pg_reload_conf()" >/dev/null
SELECT pg_sleep(1);
SELECT aim.session_init(:'tok2');
\! "$PGBIN_PSQL" -X -q -At -h "$PGSOCK" -p "$PGPORT_T" -U postgres -d aimtest -c "ALTER SYSTEM RESET pg_aim.audience" -c "SELECT pg_reload_conf()" >/dev/null
SELECT pg_sleep(1);
SELECT 'after:' || aim.session_init(:'tok2');
EOF
)
check "bound before the reload" "before:spiffe://test/agent/alice" "$(grep '^before:' <<<"$out")"
check_re "a reload changing pg_aim.audience applies to open sessions" "AIM token refused: bad_audience" "$out"
check "and reverting it applies too" "after:spiffe://test/agent/alice" "$(grep '^after:' <<<"$out")"

# ---------------------------------------------------------------- audit
pg_stop
log=$(cat "$T/server.log")
check_re "audit: bind line" "AUDIT: AIM,\{.*\"action\":\"bind\".*spiffe://test/agent/alice" "$log"
check_re "audit: role switch line" "AUDIT: AIM,\{.*\"action\":\"role\".*agent_reader" "$log"
check_re "audit: refusal line" "AUDIT: AIM,\{.*\"action\":\"RESET ALL\"" "$log"
check_re "audit: re-check failure line" "AUDIT: AIM,\{.*\"reason\":\"expired\".*\"action\":\"statement\"" "$log"
check_re "audit: PAM login line" "AUDIT: AIM,\{.*\"action\":\"login\".*spiffe://test/agent/pam" "$log"
check_re "audit file written too" "\"adapter\":\"pg\"" "$(cat "$T/audit.log" 2>/dev/null)"
sig=${AIM_TOK_ALICE##*.}
if grep -qF -- "$sig" "$T/server.log" "$T/audit.log"; then not_ok "no token in the logs"; else ok "no token in the logs"; fi

# ---------------------------------------------------------------- bad settings refuse to start
bad_start() {  # bad_start NAME SETTING-LINE REGEX
    cp "$T/postgresql.conf.good" "$PG_DATA/postgresql.conf"
    printf '%s\n' "$2" | pg_conf
    : > "$T/server.log"
    if pg_start "${PAM_ENV[@]}"; then
        not_ok "$1: server started"; pg_stop
    else
        check_re "$1" "$3" "$(cat "$T/server.log")"
    fi
}
bad_start "missing key file refuses to start, naming pg_aim.keys" \
    "pg_aim.keys = '$T/nope.json'" "FATAL: .*pg_aim\.keys"
bad_start "no audience refuses to start, naming pg_aim.audience" \
    "pg_aim.audience = ''" "FATAL: .*pg_aim\.audience"
bad_start "no issuer refuses to start, naming pg_aim.issuer" \
    "pg_aim.issuer = ''" "FATAL: .*pg_aim\.issuer"
bad_start "missing revocation file refuses to start" \
    "pg_aim.revoked = '$T/nope.revoked'" "FATAL: .*(pg_aim\.revoked|nope\.revoked)"
printf 'garbage line\n' > "$T/bad.revoked"; pg_give "$T/bad.revoked"
bad_start "bad revocation file refuses to start" \
    "pg_aim.revoked = '$T/bad.revoked'" "FATAL: .*(pg_aim\.revoked|bad\.revoked)"
bad_start "out-of-range leeway refuses to start" \
    "pg_aim.leeway = -5" "pg_aim\.leeway"
cp "$T/postgresql.conf.good" "$PG_DATA/postgresql.conf"

# ---------------------------------------------------------------- inherited hand-off variable
: > "$T/server.log"
if pg_start AIM_PG_TOKEN="$PAMTOK" "${PAM_ENV[@]}"; then
    out=$("${PSQL[@]}" -U app_login -d aimtest -c "SELECT 'agent:' || coalesce(aim.agent_id(), 'none')" 2>&1)
    check "a hand-off variable inherited by the postmaster binds nobody" "agent:none" "$out"
    check_re "and the postmaster says it removed it" "removing \"AIM_PG_TOKEN\" from the server environment" "$(cat "$T/server.log")"
    pg_stop
else
    not_ok "server starts with an inherited hand-off variable" "$(cat "$T/pg_ctl.out" "$T/server.log")"
fi

finish
