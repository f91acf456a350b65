/*-------------------------------------------------------------------------
 *
 * pg_aim_hooks.c
 *		Every route by which a bound session makes the executor produce rows
 *		or side effects passes a check of the agent, and every route that
 *		would move the session's role is closed.
 *
 * The routes, and where each is checked (pg_aim_check):
 *	- a statement, simple or extended protocol: ExecutorStart;
 *	- each protocol Execute or FETCH of an open portal or cursor:
 *	  ExecutorRun (the executor runs again for every fetch);
 *	- utility statements: ProcessUtility;
 *	- functions evaluated while planning, and fast-path calls (protocol
 *	  message 'F'), which reach no other hook: the object-access hook.
 *
 * A cursor WITH HOLD keeps its rows in a store that later fetches read
 * without the executor and without any hook pg_aim could check at: while
 * an agent is bound, none is declared and none is filled at commit.
 *
 * A query computes as the agent bound when it first runs (a policy's
 * (SELECT aim.agent_id()) is evaluated once): a cursor or portal run under
 * a binding does not run again once that binding is undone by ROLLBACK TO
 * SAVEPOINT, nor under another agent's, nor into a cursor WITH HOLD at
 * commit.
 *
 * A transaction binding leaves nothing behind for the next transaction of
 * a pooled connection: no session-level setting (SET without LOCAL, and
 * at commit any other route, such as set_config(..., false)), no
 * temporary relation that outlives the transaction (it would shadow the
 * next agent's tables), no LISTEN.
 *
 * The role lock: "role" and "session_authorization" cannot change while an
 * agent is bound, whatever the route -- SET, set_config(), a function's SET
 * clause, a role's default, a startup option -- because pg_aim wraps the
 * check and assign hooks of those two settings: every route to a change of
 * role meets there, and PostgreSQL 15 has no other hook that sees them
 * all.  Other settings stay free to change.
 *
 * Copyright (c) 2024, AIM authors
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/objectaddress.h"
#include "catalog/index.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "optimizer/planner.h"
#include "tcop/cmdtag.h"
#include "tcop/pquery.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/rel.h"

#include "pg_aim.h"

static planner_hook_type prev_planner = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static object_access_hook_type prev_object_access = NULL;

/* The query being planned, if any. */
static Query *planning = NULL;

/*
 * The queries of this transaction that started or ran under a binding, and
 * which binding (its lineage: a refresh is the same); in TopMemoryContext,
 * forgotten at ExecutorEnd and at the transaction's end.
 */
typedef struct PgAimRun
{
	const QueryDesc *queryDesc;
	uint64		lineage;
	PgAimScope	scope;
	aim_token  *token;			/* a reference, for the refusal's audit line */
} PgAimRun;

static List *runs = NIL;

/*
 * What a transaction binding created, for the check at its COMMIT that none
 * of it is in the temporary schema (ObjectAddresses, in TopMemoryContext);
 * and whether the statement running is one that creates a table ON COMMIT
 * DROP, whose objects end with the transaction.
 */
static List *created = NIL;
static List *dropping = NIL;	/* Oids of the tables ON COMMIT DROP */
static bool creating_on_commit_drop = false;

/* The role lock: the two settings and their own hooks. */
static struct config_string *role_guc;
static struct config_string *session_guc;
static GucStringCheckHook role_check;
static GucStringCheckHook session_check;
static GucStringAssignHook role_assign;
static GucStringAssignHook session_assign;


/* ---------------------------------------------------------------------- */
/* What a statement does, as the core's baseline classes it               */

static const char *
command_action(CmdType op, bool modifying_cte)
{
	switch (op)
	{
		case CMD_INSERT:
			return "INSERT";
		case CMD_UPDATE:
			return "UPDATE";
		case CMD_DELETE:
			return "DELETE";
		case CMD_MERGE:
			return "MERGE";
		default:
			return modifying_cte ? "write" : "SELECT";
	}
}

/* As log_statement classes utility statements: DDL, data changes, the rest. */
static const char *
utility_action(Node *parsetree)
{
	switch (GetCommandLogLevel(parsetree))
	{
		case LOGSTMT_DDL:
			return "DDL";
		case LOGSTMT_MOD:
			return "write";
		default:
			return "read";
	}
}

static bool
is_temp(RangeVar *rel)
{
	return rel->relpersistence == RELPERSISTENCE_TEMP
		|| (rel->schemaname != NULL && strncmp(rel->schemaname, "pg_temp", 7) == 0);
}

/* A CREATE of a table ON COMMIT DROP. */
static bool
on_commit_drop(Node *parsetree)
{
	switch (nodeTag(parsetree))
	{
		case T_CreateStmt:
			return ((CreateStmt *) parsetree)->oncommit == ONCOMMIT_DROP;
		case T_CreateTableAsStmt:
			return ((CreateTableAsStmt *) parsetree)->into->onCommit == ONCOMMIT_DROP;
		default:
			return false;
	}
}

/* What a statement would leave behind its transaction (NULL: nothing). */
static const char *
outlives_transaction(Node *parsetree)
{
	switch (nodeTag(parsetree))
	{
		case T_VariableSetStmt:
			{
				VariableSetStmt *stmt = (VariableSetStmt *) parsetree;

				if (stmt->kind == VAR_SET_MULTI)
					return strcmp(stmt->name, "SESSION CHARACTERISTICS") == 0
						? "SET SESSION CHARACTERISTICS" : NULL;
				return stmt->is_local ? NULL : "SET or RESET without LOCAL";
			}
		case T_CreateStmt:
			return is_temp(((CreateStmt *) parsetree)->relation)
				&& ((CreateStmt *) parsetree)->oncommit != ONCOMMIT_DROP
				? "a temporary table without ON COMMIT DROP" : NULL;
		case T_CreateTableAsStmt:
			return is_temp(((CreateTableAsStmt *) parsetree)->into->rel)
				&& ((CreateTableAsStmt *) parsetree)->into->onCommit != ONCOMMIT_DROP
				? "a temporary table without ON COMMIT DROP" : NULL;
		case T_ViewStmt:
			return is_temp(((ViewStmt *) parsetree)->view) ? "a temporary view" : NULL;
		case T_CreateSeqStmt:
			return is_temp(((CreateSeqStmt *) parsetree)->sequence)
				? "a temporary sequence" : NULL;
		case T_ListenStmt:
			return "LISTEN";
		default:
			return NULL;
	}
}

/*
 * At the commit of a transaction binding: a session-level setting made by
 * any route (set_config(..., false) included) would outlive it.
 */
void
pg_aim_check_settings(PgAimBinding *b)
{
	struct config_generic **vars = get_guc_variables();
	int			n = GetNumConfigOptions();
	int			i;
	GucStack   *st;

	ListCell   *lc;

	for (i = 0; i < n; i++)
		for (st = vars[i]->stack; st != NULL; st = st->prev)
			if (st->state == GUC_SET || st->state == GUC_SET_LOCAL)
				pg_aim_refuse(b, psprintf("a session-level setting (%s)",
										  pg_aim_name(vars[i]->name)));

	/*
	 * Whatever statement made it -- a search_path naming pg_temp first, a
	 * name qualified pg_temp, a type or a function --, an object still in
	 * the temporary schema would outlive the transaction.
	 */
	foreach(lc, created)
	{
		ObjectAddress *o = lfirst(lc);
		Relation	rel = table_open(o->classId, AccessShareLock);
		HeapTuple	tup = get_catalog_object_by_oid(rel,
													get_object_attnum_oid(o->classId),
													o->objectId);
		bool		isnull = true;
		Datum		nsp = 0;

		/* An index of a table ON COMMIT DROP ends with it. */
		if (o->classId == RelationRelationId
			&& get_rel_relkind(o->objectId) == RELKIND_INDEX
			&& list_member_oid(dropping, IndexGetRelation(o->objectId, true)))
			tup = NULL;
		else if (tup != NULL)
			nsp = heap_getattr(tup, get_object_attnum_namespace(o->classId),
							   RelationGetDescr(rel), &isnull);
		table_close(rel, AccessShareLock);
		if (!isnull && isAnyTempNamespace(DatumGetObjectId(nsp)))
			pg_aim_refuse(b, "an object in the temporary schema (in a transaction binding)");
	}
}

/* At the end of a transaction. */
static void
forget_created(void)
{
	list_free_deep(created);
	created = NIL;
	list_free(dropping);
	dropping = NIL;
}

static PgAimRun *
run_find(const QueryDesc *queryDesc)
{
	ListCell   *lc;

	foreach(lc, runs)
		if (((PgAimRun *) lfirst(lc))->queryDesc == queryDesc)
			return lfirst(lc);
	return NULL;
}

static void
run_note(const QueryDesc *queryDesc, PgAimBinding *b)
{
	PgAimRun   *run = run_find(queryDesc);
	MemoryContext old;

	if (run == NULL)
	{
		old = MemoryContextSwitchTo(TopMemoryContext);
		run = palloc0(sizeof(*run));
		run->queryDesc = queryDesc;
		runs = lappend(runs, run);
		MemoryContextSwitchTo(old);
	}
	else
		aim_token_free(run->token);
	run->lineage = b->lineage;
	run->scope = b->scope;
	run->token = aim_token_ref(b->token);
}

static void
run_forget(const QueryDesc *queryDesc)
{
	PgAimRun   *run = run_find(queryDesc);

	if (run == NULL)
		return;
	runs = list_delete_ptr(runs, run);
	aim_token_free(run->token);
	pfree(run);
}

/* At the end of a transaction: no query of it runs again. */
void
pg_aim_forget_runs(void)
{
	ListCell   *lc;

	forget_created();

	foreach(lc, runs)
		aim_token_free(((PgAimRun *) lfirst(lc))->token);
	list_free_deep(runs);
	runs = NIL;
}

/* A query that ran under a binding since undone, or another agent's. */
static void
refuse_run(PgAimRun *run)
{
	PgAimBinding was;
	const char *agent;

	memset(&was, 0, sizeof(was));
	was.token = run->token;
	was.scope = run->scope;
	agent = pg_aim_deny(&was, "a query of an undone binding");
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("a cursor or portal that ran as AIM agent \"%s\" cannot run once that binding is undone",
					agent),
			 errdetail("The binding was rolled back (ROLLBACK TO SAVEPOINT) after the query started."),
			 errhint("Declare the cursor again.")));
}

static void
check_plan(QueryDesc *queryDesc)
{
	pg_aim_check(queryDesc, command_action(queryDesc->operation,
								queryDesc->plannedstmt->hasModifyingCTE),
				 queryDesc->plannedstmt->rtable, NULL, InvalidOid);
}


/* ---------------------------------------------------------------------- */
/* Hooks                                                                  */

static PlannedStmt *
pg_aim_planner(Query *parse, const char *query_string, int cursorOptions,
			   ParamListInfo boundParams)
{
	Query	   *outer = planning;
	PlannedStmt *result;

	planning = parse;
	PG_TRY();
	{
		if (prev_planner)
			result = prev_planner(parse, query_string, cursorOptions, boundParams);
		else
			result = standard_planner(parse, query_string, cursorOptions, boundParams);
	}
	PG_FINALLY();
	{
		planning = outer;
	}
	PG_END_TRY();
	return result;
}

static void
pg_aim_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	PgAimBinding *b = pg_aim_current();

	if (b != NULL)
		check_plan(queryDesc);
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
	if (IsParallelWorker())
		return;
	if (b != NULL)
		run_note(queryDesc, b);
	else if (runs != NIL)
		run_forget(queryDesc);	/* a failed portal's, at the same address */
}

static void
pg_aim_ExecutorRun(QueryDesc *queryDesc, ScanDirection direction,
				   uint64 count, bool execute_once)
{
	PgAimBinding *b = pg_aim_current();

	if (!IsParallelWorker())
	{
		PgAimRun   *run = runs != NIL ? run_find(queryDesc) : NULL;

		if (run != NULL && (b == NULL || b->lineage != run->lineage))
			refuse_run(run);
		if (b != NULL)
		{
			/* A cursor WITH HOLD being filled at commit (file header). */
			if (ActivePortal != NULL && ActivePortal->holdStore != NULL
				&& (ActivePortal->cursorOptions & CURSOR_OPT_HOLD)
				&& queryDesc->dest != NULL && queryDesc->dest->mydest == DestTuplestore)
				pg_aim_refuse(b, "a cursor WITH HOLD");
			check_plan(queryDesc);
			if (run == NULL)
				run_note(queryDesc, b);
		}
	}
	if (prev_ExecutorRun)
		prev_ExecutorRun(queryDesc, direction, count, execute_once);
	else
		standard_ExecutorRun(queryDesc, direction, count, execute_once);
}

static void
pg_aim_ExecutorEnd(QueryDesc *queryDesc)
{
	if (runs != NIL)
		run_forget(queryDesc);
	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

static void
pg_aim_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					  bool readOnlyTree, ProcessUtilityContext context,
					  ParamListInfo params, QueryEnvironment *queryEnv,
					  DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	PgAimBinding *b = pg_aim_current();

	/* A part of a CREATE of a table ON COMMIT DROP (a serial's sequence). */
	bool		part_of_drop = creating_on_commit_drop
		&& context == PROCESS_UTILITY_SUBCOMMAND;

	if (b != NULL && !IsParallelWorker())
	{
		const char *outlives;

		switch (nodeTag(parsetree))
		{
			case T_TransactionStmt:
				/* Leaving a transaction stays possible, even after a refusal. */
				break;
			case T_ExecuteStmt:
			case T_ExplainStmt:
				/* The executor checks what they run. */
				break;
			case T_DeclareCursorStmt:
				if (((DeclareCursorStmt *) parsetree)->options & CURSOR_OPT_HOLD)
					pg_aim_refuse(b, "DECLARE ... WITH HOLD");
				break;
			case T_VariableSetStmt:
				{
					VariableSetStmt *stmt = (VariableSetStmt *) parsetree;
					bool		reset = stmt->kind == VAR_RESET || stmt->kind == VAR_SET_DEFAULT;

					if (stmt->kind == VAR_RESET_ALL)
						pg_aim_refuse(b, "RESET ALL");
					else if (pg_strcasecmp(stmt->name, "role") == 0)
						pg_aim_refuse(b, reset ? "RESET ROLE" : "SET ROLE");
					else if (pg_strcasecmp(stmt->name, "session_authorization") == 0)
						pg_aim_refuse(b, reset ? "RESET SESSION AUTHORIZATION"
									  : "SET SESSION AUTHORIZATION");
				}
				pg_aim_check(NULL, utility_action(parsetree), NIL,
							 GetCommandTagName(CreateCommandTag(parsetree)), InvalidOid);
				break;
			case T_DiscardStmt:
				if (((DiscardStmt *) parsetree)->target == DISCARD_ALL)
					pg_aim_refuse(b, "DISCARD ALL");
				/* FALLTHROUGH */
			default:
				pg_aim_check(NULL, utility_action(parsetree), NIL,
							 GetCommandTagName(CreateCommandTag(parsetree)), InvalidOid);
				break;
		}
		if (b->scope == PG_AIM_TRANSACTION && !part_of_drop
			&& (outlives = outlives_transaction(parsetree)) != NULL)
			pg_aim_refuse(b, psprintf("%s (in a transaction binding)", outlives));
	}

	{
		bool		outer = creating_on_commit_drop;

		creating_on_commit_drop = part_of_drop || on_commit_drop(parsetree);
		PG_TRY();
		{
			if (prev_ProcessUtility)
				prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
			else
				standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
										params, queryEnv, dest, qc);
		}
		PG_FINALLY();
		{
			creating_on_commit_drop = outer;
		}
		PG_END_TRY();
	}
}

/*
 * A function about to run: while planning (constant folding), the planned
 * statement is checked before it; a fast-path call is checked as itself.
 * Calls inside a checked statement find the check done.
 */
static void
pg_aim_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					 int subId, void *arg)
{
	PgAimBinding *b;

	if (prev_object_access)
		prev_object_access(access, classId, objectId, subId, arg);

	if ((b = pg_aim_current()) == NULL)
		return;
	if (access == OAT_POST_CREATE && b->scope == PG_AIM_TRANSACTION
		&& subId == 0 && !IsParallelWorker()
		&& is_objectclass_supported(classId)
		&& get_object_attnum_namespace(classId) != InvalidAttrNumber)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		if (!creating_on_commit_drop)
		{
			ObjectAddress *o = palloc(sizeof(*o));

			o->classId = classId;
			o->objectId = objectId;
			o->objectSubId = 0;
			created = lappend(created, o);
		}
		else if (classId == RelationRelationId)
			dropping = lappend_oid(dropping, objectId);
		MemoryContextSwitchTo(old);
		return;
	}
	if (access != OAT_FUNCTION_EXECUTE)
		return;
	if (planning != NULL)
		pg_aim_check(NULL, command_action(planning->commandType, planning->hasModifyingCTE),
					 planning->rtable, NULL, InvalidOid);
	else
		pg_aim_check(NULL, "call", NIL, NULL, objectId);
}


/* ---------------------------------------------------------------------- */
/* The role lock                                                          */

/*
 * May the setting change to newval?  Always, unless an agent is bound and
 * the change is not pg_aim's own.  The role may be set to what it is;
 * session_authorization not even that, for setting it resets the role.
 */
static bool
lock_allows(struct config_string *guc, const char *newval, bool *startup)
{
	PgAimBinding *b = pg_aim_current();

	if (b == NULL || pg_aim_writing)
		return true;
	*startup = !OidIsValid(b->session_user_id);
	return guc == role_guc && newval != NULL && *guc->variable != NULL
		&& strcmp(newval, *guc->variable) == 0;
}

/* The server sets session_authorization itself at login, PGC_S_OVERRIDE. */
static bool
lock_check(struct config_string *guc, const char *setting, const char *newval,
		   GucSource source)
{
	bool		startup = false;
	char	   *what;
	const char *agent;

	if (source == PGC_S_OVERRIDE || lock_allows(guc, newval, &startup))
		return true;
	what = psprintf("%s \"%s\"", setting, pg_aim_name(newval));
	agent = pg_aim_deny(pg_aim_current(), what);
	GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
	GUC_check_errmsg("%s is not allowed while an AIM agent is bound", what);
	GUC_check_errdetail("The %s is bound to AIM agent \"%s\".",
						pg_aim_current()->scope == PG_AIM_SESSION
						? "session" : "transaction", agent);
	return false;
}

/*
 * A reset (RESET, set_config(name, NULL, ...)) skips the check hook: refuse
 * it here, before anything has changed.  An agent login is still starting
 * up until its session user is known, and the server sets
 * session_authorization itself then.  A value restored at the end of a
 * transaction or subtransaction cannot be refused (an error inside COMMIT
 * or ABORT is a PANIC): the next check of the agent finds the role is not
 * the binding's and refuses every statement (check_identity).
 */
static void
lock_assign(struct config_string *guc, const char *setting, const char *newval)
{
	bool		startup = false;

	if (!IsTransactionState())
		return;
	if (!lock_allows(guc, newval, &startup) && !startup)
		pg_aim_refuse(pg_aim_current(), psprintf("resetting %s", setting));
}

static bool
pg_aim_role_check(char **newval, void **extra, GucSource source)
{
	return lock_check(role_guc, "role", *newval, source)
		&& (role_check == NULL || role_check(newval, extra, source));
}

static void
pg_aim_role_assign(const char *newval, void *extra)
{
	lock_assign(role_guc, "role", newval);
	if (role_assign)
		role_assign(newval, extra);
}

static bool
pg_aim_session_check(char **newval, void **extra, GucSource source)
{
	return lock_check(session_guc, "session_authorization", *newval, source)
		&& (session_check == NULL || session_check(newval, extra, source));
}

static void
pg_aim_session_assign(const char *newval, void *extra)
{
	lock_assign(session_guc, "session_authorization", newval);
	if (session_assign)
		session_assign(newval, extra);
}

static struct config_string *
string_guc(const char *name)
{
	struct config_generic *g = pg_aim_guc(name);

	if (g == NULL || g->vartype != PGC_STRING)
		elog(FATAL, "pg_aim: no string setting \"%s\" to lock", name);
	return (struct config_string *) g;
}

void
pg_aim_hooks_init(void)
{
	role_guc = string_guc("role");
	role_check = role_guc->check_hook;
	role_assign = role_guc->assign_hook;
	role_guc->check_hook = pg_aim_role_check;
	role_guc->assign_hook = pg_aim_role_assign;
	session_guc = string_guc("session_authorization");
	session_check = session_guc->check_hook;
	session_assign = session_guc->assign_hook;
	session_guc->check_hook = pg_aim_session_check;
	session_guc->assign_hook = pg_aim_session_assign;

	prev_planner = planner_hook;
	planner_hook = pg_aim_planner;
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = pg_aim_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = pg_aim_ExecutorRun;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = pg_aim_ExecutorEnd;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = pg_aim_ProcessUtility;
	prev_object_access = object_access_hook;
	object_access_hook = pg_aim_object_access;
}
