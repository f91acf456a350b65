--
-- pg_aim: binding, readers, refusals, transaction binding.
--
-- The server is pg_regress's temporary one (test/regress.conf); tokens are
-- minted here with the test key (test/mint), so the expected output does
-- not depend on times.
--
\set VERBOSITY terse
\set tok_alice `test/mint -i -10 '"sub":"spiffe://test/agent/alice","owner":"team-a","jti":"jti-alice","scope":"kb:read pg:role:aim_regress_reader","tenant":"acme","level":3'`
\set tok_alice_new `test/mint '"sub":"spiffe://test/agent/alice","owner":"team-a","jti":"jti-alice-new","scope":"kb:read pg:role:aim_regress_reader"'`
\set tok_alice_old `test/mint -i -20 '"sub":"spiffe://test/agent/alice","jti":"jti-alice-old","scope":"kb:read"'`
\set tok_bob `test/mint '"sub":"spiffe://test/agent/bob","jti":"jti-bob","scope":"kb:read kb:write"'`
\set tok_expired `test/mint -i -600 -t 300 '"sub":"spiffe://test/agent/alice","jti":"jti-expired"'`
\set tok_rogue `test/mint -k rogue.pem '"sub":"spiffe://test/agent/alice","jti":"jti-rogue"'`
\set tok_wrong_aud `test/mint -a elsewhere '"sub":"spiffe://test/agent/alice","jti":"jti-wrong-aud"'`

CREATE EXTENSION pg_aim;
\dx pg_aim
SELECT proname FROM pg_proc WHERE pronamespace = 'aim'::regnamespace ORDER BY 1;

-- Settings are the server's, not the session's.
SET pg_aim.keys = '/tmp/other.json';
SET pg_aim.leeway = 3600;
SET pg_aim.bound = 'forged';
SET pg_aim.nonexistent = 'x';
SELECT set_config('pg_aim.bound', 'forged', false);
SHOW pg_aim.leeway;
SHOW pg_aim.types;
SHOW pg_aim.bound;

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

-- A transaction binding ends with its transaction.
SELECT aim.transaction_init(:'tok_bob');
BEGIN;
SELECT aim.transaction_init(:'tok_bob');
SELECT aim.agent_id(), aim.jti(), aim.has_scope('kb:write') AS kb_write;
SAVEPOINT s;
SELECT aim.session_init(:'tok_bob');
ROLLBACK TO SAVEPOINT s;
SELECT aim.transaction_init(:'tok_alice');
COMMIT;
SELECT aim.agent_id() IS NULL AS unbound_after_commit;
BEGIN;
SELECT aim.transaction_init(:'tok_bob');
SELECT 1 / 0;
ROLLBACK;
SELECT aim.agent_id() IS NULL AS unbound_after_error;
BEGIN;
SELECT aim.transaction_init(:'tok_bob');
PREPARE TRANSACTION 'aim_regress';
SELECT aim.agent_id() IS NULL AS unbound_after_prepare;

-- Bind the session.
SELECT aim.session_init(:'tok_alice');
SELECT aim.agent_id(), aim.owner(), aim.jti();
SELECT aim.scopes();
SELECT aim.has_scope('kb:read') AS kb_read, aim.has_scope('kb:write') AS kb_write,
       aim.has_scope('kb') AS prefix, aim.has_scope(NULL) AS null_scope;
SELECT aim.claim('sub') AS sub, aim.claim('tenant') AS tenant,
       aim.claim('level') AS level, aim.claim('nope') IS NULL AS absent;
SELECT aim.claims() ->> 'sub' AS sub, aim.claims() ->> 'iss' AS iss,
       aim.claims() ? 'jti' AS has_jti;
BEGIN;
SELECT aim.transaction_init(:'tok_alice');
ROLLBACK;

CREATE ROLE aim_regress_reader NOLOGIN;

-- Routes that would move the role, once bound.
SET ROLE aim_regress_reader;
RESET ROLE;
SET SESSION AUTHORIZATION DEFAULT;
RESET SESSION AUTHORIZATION;
RESET ALL;
DISCARD ALL;
SELECT set_config('role', 'aim_regress_reader', false);
SELECT set_config('role', NULL, false);
SELECT set_config('session_authorization', 'aim_regress_reader', false);
DO $$ BEGIN PERFORM set_config('role', 'aim_regress_reader', true); END $$;
DO $$ BEGIN SET ROLE aim_regress_reader; END $$;
CREATE FUNCTION sneaky() RETURNS text LANGUAGE sql
    SET role = aim_regress_reader AS $$ SELECT current_user::text $$;
BEGIN;
DECLARE held CURSOR WITH HOLD FOR SELECT 1;
ROLLBACK;

-- A transaction that did not bind may still be prepared.
BEGIN;
SELECT aim.jti();
PREPARE TRANSACTION 'aim_regress_bound';
ROLLBACK PREPARED 'aim_regress_bound';

-- Other settings still work, by SET and by set_config().
SET application_name = 'pg_aim_regress';
SHOW application_name;
SELECT set_config('application_name', 'by_set_config', false);
SELECT set_config('request.jwt.claims', '{"sub":"spiffe://test/agent/bob"}', true);
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

-- Still the same agent and role after all of the above.
SELECT current_user = session_user AS role_unchanged;
