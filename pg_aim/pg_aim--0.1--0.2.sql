/* pg_aim--0.1--0.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_aim UPDATE TO '0.2'" to load this file. \quit

-- Bind an agent for the current transaction only (transaction poolers).
CREATE FUNCTION transaction_init(token text, role text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'pg_aim_transaction_init'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION transaction_init(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION transaction_init(text, text) TO PUBLIC;
