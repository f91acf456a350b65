--
-- pg_aim: binding, readers, refusals (one session).
-- Tokens come from the environment (tests/pg/run.sh sets them), so the
-- expected output does not depend on keys or times.
--
\set VERBOSITY terse
\getenv tok_alice AIM_TOK_ALICE
\getenv tok_alice_new AIM_TOK_ALICE_NEW
\getenv tok_alice_old AIM_TOK_ALICE_OLD
\getenv tok_bob AIM_TOK_BOB
\getenv tok_expired AIM_TOK_EXPIRED
\getenv tok_rogue AIM_TOK_ROGUE
\getenv tok_wrong_aud AIM_TOK_WRONG_AUD

CREATE EXTENSION pg_aim;
\dx pg_aim

-- Settings are the server's, not the session's.
SET pg_aim.keys = '/tmp/other.json';
SET pg_aim.leeway = 3600;
SET pg_aim.bound = '{"agent":"forged"}';
SET pg_aim.nonexistent = 'x';
SELECT set_config('pg_aim.bound', '{"agent":"forged"}', false);

-- Unbound: every reader is NULL, so policies fail closed.
SELECT aim.agent_id() IS NULL AS agent, aim.owner() IS NULL AS owner,
       aim.jti() IS NULL AS jti, aim.scopes() IS NULL AS scopes,
       aim.has_scope('kb:read') IS NULL AS has_scope,
       aim.claim('sub') IS NULL AS claim, aim.claims() IS NULL AS claims;

-- Tokens that do not verify.
SELECT aim.session_init(NULL);
SELECT aim.session_init('');
SELECT aim.session_init('not.a.token');
SELECT aim.session_init(:'tok_expired');
SELECT aim.session_init(:'tok_rogue');
SELECT aim.session_init(:'tok_wrong_aud');
SELECT aim.agent_id();

-- A binding rolled back is no binding.
BEGIN;
SELECT aim.session_init(:'tok_alice');
SELECT aim.agent_id();
ROLLBACK;
SELECT aim.agent_id() IS NULL AS unbound_after_rollback;
BEGIN;
SAVEPOINT s1;
SELECT aim.session_init(:'tok_alice');
ROLLBACK TO SAVEPOINT s1;
SELECT aim.agent_id() IS NULL AS unbound_after_savepoint;
COMMIT;

-- Bind.
SELECT aim.session_init(:'tok_alice');
SELECT aim.agent_id(), aim.owner(), aim.jti();
SELECT aim.scopes();
SELECT aim.has_scope('kb:read') AS kb_read, aim.has_scope('kb:write') AS kb_write,
       aim.has_scope('kb') AS prefix, aim.has_scope(NULL) AS null_scope;
SELECT aim.claim('sub') AS sub, aim.claim('tenant') AS tenant,
       aim.claim('level') AS level, aim.claim('nope') IS NULL AS absent;
SELECT aim.claims() ->> 'sub' AS sub, aim.claims() ->> 'iss' AS iss,
       aim.claims() ? 'jti' AS has_jti;

CREATE ROLE aim_regress_reader NOLOGIN;

-- Escape routes, once bound.
SET ROLE aim_regress_reader;
RESET ROLE;
SET SESSION AUTHORIZATION DEFAULT;
RESET SESSION AUTHORIZATION;
RESET ALL;
DISCARD ALL;
SET pg_aim.leeway = 10;
RESET pg_aim.bound;
SELECT set_config('application_name', 'x', false);
SELECT set_config('role', 'aim_regress_reader', false);
DO $$ BEGIN PERFORM set_config('role', 'aim_regress_reader', false); END $$;
DO $$ BEGIN SET ROLE aim_regress_reader; END $$;
CREATE FUNCTION sneaky() RETURNS text LANGUAGE sql
    SET role = aim_regress_reader AS $$ SELECT current_user::text $$;
SELECT sneaky();
-- Harmless settings still work.
SET application_name = 'pg_aim_regress';
SHOW application_name;
RESET application_name;
DISCARD PLANS;

-- A refresh follows savepoints and the transaction.
BEGIN;
SAVEPOINT a;
SELECT aim.session_init(:'tok_alice_new');
ROLLBACK TO SAVEPOINT a;
SELECT aim.jti() AS after_rollback_to;
SAVEPOINT b;
SELECT aim.session_init(:'tok_alice_new');
RELEASE SAVEPOINT b;
SELECT aim.jti() AS after_release;
ROLLBACK;
SELECT aim.jti() AS after_rollback, aim.agent_id();

-- One-way binding.
SELECT aim.session_init(:'tok_bob');
SELECT aim.session_init(:'tok_alice_old');
SELECT aim.session_init(:'tok_alice_new');
SELECT aim.jti();
SELECT aim.agent_id();

-- The readers do not read anything the session can write.
SET request.jwt.claims = '{"sub":"spiffe://test/agent/bob"}';
SELECT aim.agent_id();

-- Still bound after all of the above.
SELECT current_user = session_user AS role_unchanged;
