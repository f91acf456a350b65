/*
 * fastpath.c -- a libpq client for tests/pg/run.sh: binds the token in
 * $AIM_TOKEN, waits SECONDS, then calls functions through the fast-path
 * protocol (PQfn, message 'F'), which reaches neither ExecutorStart nor
 * ProcessUtility.  Prints one line per call: "NAME ok" or "NAME error: ...".
 *
 *   fastpath CONNINFO SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

static Oid
lookup(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	Oid			oid = InvalidOid;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		oid = (Oid) strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return oid;
}

static void
call(PGconn *conn, const char *name, Oid fn, PQArgBlock *args, int nargs)
{
	char		buf[1024];
	int			len = 0;
	PGresult   *res = PQfn(conn, fn, (int *) buf, &len, 0, args, nargs);

	if (PQresultStatus(res) == PGRES_COMMAND_OK)
		printf("%s ok\n", name);
	else
		printf("%s error: %s", name, PQresultErrorMessage(res));
	PQclear(res);
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	PGresult   *res;
	const char *token = getenv("AIM_TOKEN");
	Oid			agent_id, nextval, seq;
	PQArgBlock	arg;

	if (argc != 3 || token == NULL)
	{
		fprintf(stderr, "usage: AIM_TOKEN=... fastpath CONNINFO SECONDS\n");
		return 2;
	}
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "%s", PQerrorMessage(conn));
		return 2;
	}
	agent_id = lookup(conn, "SELECT 'aim.agent_id()'::regprocedure::oid");
	nextval = lookup(conn, "SELECT 'nextval(regclass)'::regprocedure::oid");
	seq = lookup(conn, "SELECT 'docs_id_seq'::regclass::oid");
	res = PQexecParams(conn, "SELECT aim.session_init($1)", 1, NULL, &token,
					   NULL, NULL, 0);
	printf("bind %s\n", PQresultStatus(res) == PGRES_TUPLES_OK ? "ok" : "error");
	PQclear(res);
	res = PQexec(conn, "SELECT 1");		/* a statement re-checked in time */
	PQclear(res);
	sleep((unsigned) atoi(argv[2]));

	call(conn, "agent_id", agent_id, NULL, 0);
	arg.isint = 1;
	arg.len = 4;
	arg.u.integer = (int) seq;
	call(conn, "nextval", nextval, &arg, 1);
	PQfinish(conn);
	return 0;
}
