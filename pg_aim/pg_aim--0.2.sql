/* pg_aim--0.2.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pg_aim" to load this file. \quit

-- Bind a verified agent token to the session; with role, switch to that
-- NOLOGIN role (the token must carry pg:role:<role>).  Returns the agent.
CREATE FUNCTION session_init(token text, role text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'pg_aim_session_init'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The same for the current transaction only (transaction poolers): the
-- binding and the role end at COMMIT or ROLLBACK.
CREATE FUNCTION transaction_init(token text, role text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'pg_aim_transaction_init'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Readers: NULL when no agent is bound, so policies fail closed.
CREATE FUNCTION agent_id() RETURNS text
AS 'MODULE_PATHNAME', 'pg_aim_agent_id'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION owner() RETURNS text
AS 'MODULE_PATHNAME', 'pg_aim_owner'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION jti() RETURNS text
AS 'MODULE_PATHNAME', 'pg_aim_jti'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION scopes() RETURNS text[]
AS 'MODULE_PATHNAME', 'pg_aim_scopes'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION has_scope(scope text) RETURNS boolean
AS 'MODULE_PATHNAME', 'pg_aim_has_scope'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION claim(name text) RETURNS text
AS 'MODULE_PATHNAME', 'pg_aim_claim'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION claims() RETURNS jsonb
AS 'MODULE_PATHNAME', 'pg_aim_claims_jsonb'
LANGUAGE C STABLE PARALLEL SAFE;

-- Nothing is executable by default; what follows is granted on purpose.
REVOKE ALL ON FUNCTION session_init(text, text), transaction_init(text, text),
    agent_id(), owner(), jti(), scopes(), has_scope(text), claim(text),
    claims() FROM PUBLIC;

-- Every login role may bind an agent: the token is the credential, and a
-- role switch also requires membership of the target role.  Behind a
-- transaction pooler, revoke session_init from the pool's login role.
GRANT EXECUTE ON FUNCTION session_init(text, text), transaction_init(text, text)
    TO PUBLIC;
-- Policies of every role call the readers.
GRANT EXECUTE ON FUNCTION agent_id(), owner(), jti(), scopes(),
    has_scope(text), claim(text), claims() TO PUBLIC;
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
