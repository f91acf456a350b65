/*-------------------------------------------------------------------------
 *
 * pg_aim_bind.c
 *		Bindings of an agent to a session or a transaction.
 *
 * Agents reach a backend in one of three ways:
 *	- aim.session_init(token [, role]) binds the connection (a dedicated
 *	  connection, a session pool);
 *	- aim.transaction_init(token [, role]) binds the current transaction
 *	  only, so that a transaction pool can serve many agents over one
 *	  server connection;
 *	- a direct login through PAM with pam_aim handoff=AIM_NAME: pam_aim
 *	  leaves the token it verified in the backend's own environment, and the
 *	  ClientAuthentication hook takes it and binds the session.
 *
 * Parallel workers cannot see the leader's memory: the leader's token
 * reaches them in pg_aim.bound, which PostgreSQL copies to every worker,
 * and each worker verifies it again (docs/pg_aim.md, "Parallel query").
 *
 * Copyright (c) 2024, AIM authors
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdlib.h>
#include <string.h>

#include "access/htup_details.h"
#include "access/parallel.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "libpq/auth.h"
#include "libpq/hba.h"
#include "libpq/libpq-be.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/syscache.h"

#include "pg_aim.h"

/* The bound token as presented, for parallel workers; only pg_aim sets it. */
static char *pg_aim_bound = NULL;

/*
 * "bound" is the session's binding; "pending" the bindings the current
 * transaction made, newest first: a session binding becomes "bound" at
 * commit, a transaction binding ends there.
 */
static PgAimBinding *bound = NULL;
static PgAimBinding *pending = NULL;
static uint64 generations = 0;

/* A parallel worker's verification of the leader's token. */
static char *worker_raw = NULL;
static aim_token *worker_token = NULL;

static ClientAuthentication_hook_type prev_ClientAuthentication = NULL;


/* ---------------------------------------------------------------------- */
/* Bindings                                                               */

PgAimBinding *
pg_aim_current(void)
{
	return pending != NULL ? pending : bound;
}

static void
binding_free(PgAimBinding *b)
{
	if (b == NULL)
		return;
	aim_token_free(b->token);
	free(b->role);
	free(b);
}

static void
pending_free(SubTransactionId subid)
{
	PgAimBinding *b;

	while (pending != NULL
		   && (subid == InvalidSubTransactionId || pending->subid == subid))
	{
		b = pending;
		pending = b->prev;
		binding_free(b);
	}
	pg_aim_forget_checks();
}

static void
xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (pending != NULL && pending->scope == PG_AIM_TRANSACTION)
				pg_aim_check_settings(pending);
			break;
		case XACT_EVENT_PRE_PREPARE:
			/* PREPARE keeps a SET but not what else the transaction did. */
			if (pending != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has bound an AIM agent")));
			break;
		case XACT_EVENT_COMMIT:
			pg_aim_forget_runs();
			if (pending != NULL && pending->scope == PG_AIM_SESSION)
			{
				binding_free(bound);
				bound = pending;
				pending = pending->prev;
				bound->prev = NULL;
			}
			pending_free(InvalidSubTransactionId);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
			pg_aim_forget_runs();
			pending_free(InvalidSubTransactionId);
			break;
		default:
			break;
	}
}

static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	PgAimBinding *b;

	if (event == SUBXACT_EVENT_ABORT_SUB)
		pending_free(mySubid);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		for (b = pending; b != NULL && b->subid == mySubid; b = b->prev)
			b->subid = parentSubid;
}

static PgAimBinding *
binding_new(aim_token *t, const char *role, PgAimScope scope)
{
	PgAimBinding *b = calloc(1, sizeof(*b));

	if (b == NULL || (role != NULL && (b->role = strdup(role)) == NULL))
	{
		free(b);
		aim_token_free(t);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	b->token = t;
	b->scope = scope;
	b->generation = ++generations;
	b->lineage = b->generation;
	return b;
}

/* Set a GUC as pg_aim, for the session or for the transaction. */
static void
pg_aim_set(const char *name, const char *value, PgAimScope scope)
{
	pg_aim_writing = true;
	PG_TRY();
	{
		(void) set_config_option(name, value, PGC_SUSET, PGC_S_SESSION,
								 scope == PG_AIM_TRANSACTION ? GUC_ACTION_LOCAL
								 : GUC_ACTION_SET, true, 0, false);
	}
	PG_FINALLY();
	{
		pg_aim_writing = false;
	}
	PG_END_TRY();
}

/*
 * Why the session may not take role (NULL: it may): an existing role that
 * cannot bypass row-level security or act as superuser and, switched to
 * with SET ROLE, cannot log in and has the session user as a member.  An
 * agent login (login) is the role itself.
 */
static char *
role_denial(const char *role, bool login)
{
	HeapTuple	tup;
	Form_pg_authid form;
	char	   *denial = NULL;
	char	   *name = pg_aim_name(role);

	if (strlen(role) >= NAMEDATALEN)
		return psprintf("role \"%s\" does not exist", name);
	tup = SearchSysCache1(AUTHNAME, CStringGetDatum(role));
	if (!HeapTupleIsValid(tup))
		return psprintf("role \"%s\" does not exist", name);
	form = (Form_pg_authid) GETSTRUCT(tup);
	if (form->rolsuper)
		denial = psprintf("role \"%s\" is a superuser", name);
	else if (form->rolbypassrls)
		denial = psprintf("role \"%s\" bypasses row-level security", name);
	else if (has_privs_of_role(form->oid, ROLE_PG_READ_SERVER_FILES)
			 || has_privs_of_role(form->oid, ROLE_PG_WRITE_SERVER_FILES)
			 || has_privs_of_role(form->oid, ROLE_PG_EXECUTE_SERVER_PROGRAM))
		/* Table files read raw, or a superuser made: past every policy. */
		denial = psprintf("role \"%s\" has the privileges of pg_read_server_files, pg_write_server_files or pg_execute_server_program",
						  name);
	else if (!login && form->rolcanlogin)
		denial = psprintf("role \"%s\" can log in (AIM roles must be NOLOGIN)", name);
	else if (!login && !is_member_of_role(GetSessionUserId(), form->oid))
		denial = psprintf("session user \"%s\" is not a member of role \"%s\"",
						  pg_aim_name(GetUserNameFromId(GetSessionUserId(), false)),
						  name);
	ReleaseSysCache(tup);
	return denial;
}


/* ---------------------------------------------------------------------- */
/* SQL: aim.session_init, aim.transaction_init                            */

/*
 * Verify the token, decide, and bind.  The core decides; what pg_aim
 * refuses for its own reasons (the one-way rule the core states, a role the
 * session may not take) goes to the core as the host's denial, so that it
 * is audited and counted like any other.
 */
static Datum
pg_aim_bind(FunctionCallInfo fcinfo, PgAimScope scope)
{
	const char *fn = scope == PG_AIM_SESSION
		? "aim.session_init()" : "aim.transaction_init()";
	PgAimBinding *cur = pg_aim_current();
	PgAimBinding *nb;
	aim_verifier *v;
	aim_request req;
	aim_decision d;
	aim_token  *t;
	aim_error	err;
	aim_status	s;
	text	   *arg;
	char	   *token;
	size_t		len;
	char	   *role = NULL;
	char	   *denial = NULL;
	const char *scopes[1];
	char	   *agent;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("AIM token must not be null")));
	if (IsInParallelMode())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("%s cannot run in parallel mode", fn),
				 errhidestmt(true)));
	if (scope == PG_AIM_TRANSACTION && !IsTransactionBlock())
		ereport(ERROR,
				(errcode(ERRCODE_NO_ACTIVE_SQL_TRANSACTION),
				 errmsg("%s can only be used in transaction blocks", fn),
				 errhint("Call it after BEGIN: the binding ends with the transaction."),
				 errhidestmt(true)));
	if (cur != NULL && cur->scope != scope)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s cannot be used while the %s is bound with %s", fn,
						cur->scope == PG_AIM_SESSION ? "session" : "transaction",
						cur->scope == PG_AIM_SESSION
						? "aim.session_init() or an agent login"
						: "aim.transaction_init()"),
				 errhidestmt(true)));

	/*
	 * The role: the one asked for, else the binding's, else an active SET
	 * ROLE, which a binding keeps and so must be allowed like one asked for.
	 */
	if (!PG_ARGISNULL(1))
		role = text_to_cstring(PG_GETARG_TEXT_PP(1));
	else if (cur != NULL)
		role = cur->role;
	else if (OidIsValid(GetCurrentRoleId()))
		role = GetUserNameFromId(GetCurrentRoleId(), false);

	arg = PG_GETARG_TEXT_PP(0);
	len = Min(VARSIZE_ANY_EXHDR(arg), AIM_MAX_TOKEN_LEN + 1);	/* the core refuses more */
	token = pnstrdup(VARDATA_ANY(arg), len);

	if (role != NULL)
	{
		scopes[0] = psprintf("pg:role:%s", role);
		pg_aim_request(&req, "role", psprintf("database %s role %s",
											  pg_aim_database(), pg_aim_name(role)));
		req.scopes = scopes;
		req.nscopes = 1;
	}
	else
		pg_aim_request(&req, "bind", psprintf("database %s role %s", pg_aim_database(),
											  GetUserNameFromId(GetUserId(), false)));
	req.token = token;
	req.token_len = strlen(token);

	v = pg_aim_verifier();
	if (aim_identify(v, &req, &d) != AIM_OK)
	{
		/* The same refusal again, audited. */
		aim_decision_clear(&d);
		s = aim_decide(v, &req, &d);
		explicit_bzero(token, len);
		denial = pstrdup(d.message);
		aim_decision_clear(&d);
		ereport(ERROR,
				(errcode(pg_aim_sqlstate(s)),
				 errmsg("AIM token refused: %s", aim_reason(s)),
				 errdetail("%s", denial),
				 errhidestmt(true)));
	}
	t = aim_token_ref(d.token);
	aim_decision_clear(&d);

	if (cur != NULL && aim_token_may_refresh(cur->token, t, &err) != AIM_OK)
		denial = pstrdup(err.message);
	else if (cur != NULL && cur->role != NULL && strcmp(cur->role, role) != 0)
		denial = psprintf("the %s's AIM role is already \"%s\"",
						  cur->scope == PG_AIM_SESSION ? "session" : "transaction",
						  cur->role);
	else if (role != NULL && (cur == NULL || cur->role == NULL))
		denial = role_denial(role, false);
	req.host_status = denial != NULL ? AIM_POLICY_DENIED : AIM_OK;
	req.host_message = denial;

	s = aim_decide_token(v, t, &req, &d);
	agent = pg_aim_name(aim_token_agent(t));
	if (s != AIM_OK)
	{
		char	   *message = pstrdup(d.message);

		aim_decision_clear(&d);
		aim_token_free(t);
		explicit_bzero(token, len);
		ereport(ERROR,
				(errcode(pg_aim_sqlstate(s)),
				 errmsg("AIM agent \"%s\" refused: %s", agent,
						denial != NULL && s == AIM_POLICY_DENIED ? message : aim_reason(s)),
				 denial != NULL && s == AIM_POLICY_DENIED ? 0 : errdetail("%s", message),
				 errhidestmt(true)));
	}
	aim_decision_clear(&d);

	nb = binding_new(t, role, scope);
	if (cur != NULL)
		nb->lineage = cur->lineage; /* a refresh: the same binding */
	nb->subid = GetCurrentSubTransactionId();
	nb->prev = pending;
	pending = nb;

	/*
	 * Settings follow the transaction (and, for a transaction binding, end
	 * with it): on abort they revert with the pending binding.
	 */
	PG_TRY();
	{
		pg_aim_set("pg_aim.bound", token, scope);
	}
	PG_FINALLY();
	{
		explicit_bzero(token, len);
	}
	PG_END_TRY();
	/*
	 * A session binding sets its role for the session even when it is the
	 * role already in force: one set by SET LOCAL would end at COMMIT, under
	 * a binding that keeps it.
	 */
	if (role != NULL && (cur == NULL || cur->role == NULL)
		&& (scope == PG_AIM_SESSION
			|| GetCurrentRoleId() != get_role_oid(role, false)))
		pg_aim_set("role", role, scope);
	nb->role_id = GetCurrentRoleId();
	nb->session_user_id = GetSessionUserId();
	pg_aim_forget_checks();

	PG_RETURN_TEXT_P(cstring_to_text(agent));
}

PG_FUNCTION_INFO_V1(pg_aim_session_init);
Datum
pg_aim_session_init(PG_FUNCTION_ARGS)
{
	return pg_aim_bind(fcinfo, PG_AIM_SESSION);
}

PG_FUNCTION_INFO_V1(pg_aim_transaction_init);
Datum
pg_aim_transaction_init(PG_FUNCTION_ARGS)
{
	return pg_aim_bind(fcinfo, PG_AIM_TRANSACTION);
}


/* ---------------------------------------------------------------------- */
/* Agent logins through PAM                                               */

static void
login(Port *port, char *token)
{
	aim_request req;
	aim_decision d;
	aim_status	s;
	aim_token  *t;
	const char *scopes[1];
	char	   *denial;

	if (port->hba == NULL || port->hba->auth_method != uaPAM)
		ereport(FATAL,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("AIM hand-off variable \"%s\" set outside a PAM login",
						pg_aim_pam_handoff)));

	/* An agent login is the role itself: the same limits as a role switch. */
	denial = role_denial(port->user_name, true);
	scopes[0] = psprintf("pg:login:%s", port->user_name);
	pg_aim_request(&req, "login", psprintf("database %s role %s",
										   pg_aim_name(port->database_name),
										   pg_aim_name(port->user_name)));
	req.scopes = scopes;
	req.nscopes = 1;
	req.token = token;
	req.token_len = strlen(token);
	req.host_status = denial != NULL ? AIM_POLICY_DENIED : AIM_OK;
	req.host_message = denial;
	s = aim_decide(pg_aim_verifier(), &req, &d);
	if (s != AIM_OK)
	{
		char	   *message = pstrdup(d.message);

		aim_decision_clear(&d);
		ereport(FATAL,
				(errcode(pg_aim_sqlstate(s)),
				 errmsg("AIM agent login refused: %s", aim_reason(s)),
				 errdetail("%s", message)));
	}
	t = aim_token_ref(d.token);
	aim_decision_clear(&d);
	bound = binding_new(t, NULL, PG_AIM_SESSION);
	bound->role_id = InvalidOid;
	bound->session_user_id = InvalidOid;
	pg_aim_set("pg_aim.bound", token, PG_AIM_SESSION);
}

/*
 * pam_aim (handoff=NAME) verified the token in this very process and left
 * it in the environment variable NAME: take it at once and bind the
 * session to that agent, deciding again.
 */
static void
pg_aim_ClientAuthentication(Port *port, int status)
{
	const char *name = pg_aim_pam_handoff;
	char	   *env,
			   *token;

	if (prev_ClientAuthentication)
		prev_ClientAuthentication(port, status);

	if (name == NULL || name[0] == '\0' || (env = getenv(name)) == NULL)
		return;
	token = strndup(env, AIM_MAX_TOKEN_LEN + 1);
	explicit_bzero(env, strlen(env));
	unsetenv(name);
	if (token == NULL)
		ereport(FATAL,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	PG_TRY();
	{
		if (status == STATUS_OK)
			login(port, token);
	}
	PG_FINALLY();
	{
		explicit_bzero(token, strlen(token));
		free(token);
	}
	PG_END_TRY();
}


/* ---------------------------------------------------------------------- */
/* SQL: the readers                                                       */

/*
 * A parallel worker's agent: the leader's token, verified again by the
 * core (aim_identify: nothing audited, nothing fed to the baseline), once
 * per worker.  Only a token that verifies gives a worker an agent.
 */
static const aim_token *
worker_agent(void)
{
	const char *raw = pg_aim_bound;
	aim_request req;
	aim_decision d;
	aim_status	s;

	if (raw == NULL || raw[0] == '\0')
		return NULL;
	if (worker_raw != NULL && strcmp(worker_raw, raw) == 0)
		return worker_token;
	aim_token_free(worker_token);
	free(worker_raw);
	worker_token = NULL;
	worker_raw = NULL;

	pg_aim_request(&req, "parallel worker", NULL);
	req.token = raw;
	req.token_len = strlen(raw);
	s = aim_identify(pg_aim_verifier(), &req, &d);
	if (s != AIM_OK || (worker_raw = strdup(raw)) == NULL)
	{
		char	   *message = pstrdup(s != AIM_OK ? d.message : "out of memory");

		aim_decision_clear(&d);
		ereport(ERROR,
				(errcode(pg_aim_sqlstate(s)),
				 errmsg("the leader's AIM agent does not verify in a parallel worker: %s",
						aim_reason(s)),
				 errdetail("%s", message)));
	}
	worker_token = aim_token_ref(d.token);
	aim_decision_clear(&d);
	return worker_token;
}

/* What the readers read: NULL when no agent is bound. */
static const aim_token *
reader_token(void)
{
	PgAimBinding *b;

	if (IsParallelWorker())
		return worker_agent();
	b = pg_aim_current();
	return b != NULL ? b->token : NULL;
}

/* A string of the bound agent's token as text; NULL when none is bound. */
static Datum
reader_text(FunctionCallInfo fcinfo, const char *(*get) (const aim_token *))
{
	const aim_token *t = reader_token();
	const char *s = t != NULL ? get(t) : NULL;

	if (s == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(s));
}

PG_FUNCTION_INFO_V1(pg_aim_agent_id);
Datum
pg_aim_agent_id(PG_FUNCTION_ARGS)
{
	return reader_text(fcinfo, aim_token_agent);
}

PG_FUNCTION_INFO_V1(pg_aim_owner);
Datum
pg_aim_owner(PG_FUNCTION_ARGS)
{
	return reader_text(fcinfo, aim_token_owner);
}

PG_FUNCTION_INFO_V1(pg_aim_jti);
Datum
pg_aim_jti(PG_FUNCTION_ARGS)
{
	return reader_text(fcinfo, aim_token_jti);
}

PG_FUNCTION_INFO_V1(pg_aim_scopes);
Datum
pg_aim_scopes(PG_FUNCTION_ARGS)
{
	const aim_token *t = reader_token();
	Datum	   *elems;
	size_t		n,
				i;

	if (t == NULL)
		PG_RETURN_NULL();
	n = aim_token_scope_count(t);
	elems = palloc(sizeof(Datum) * (n > 0 ? n : 1));
	for (i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(aim_token_scope_at(t, i));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, (int) n, TEXTOID, -1, false,
										  TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(pg_aim_has_scope);
Datum
pg_aim_has_scope(PG_FUNCTION_ARGS)
{
	const aim_token *t = reader_token();

	if (t == NULL)
		PG_RETURN_NULL();
	PG_RETURN_BOOL(aim_token_has_scope(t, text_to_cstring(PG_GETARG_TEXT_PP(0))) == 1);
}

/* A malloc()ed string from the core as text (freed), or NULL. */
static Datum
text_free(FunctionCallInfo fcinfo, char *s)
{
	text	   *result;

	if (s == NULL)
		PG_RETURN_NULL();
	result = cstring_to_text(s);
	free(s);
	PG_RETURN_TEXT_P(result);
}

PG_FUNCTION_INFO_V1(pg_aim_claim);
Datum
pg_aim_claim(PG_FUNCTION_ARGS)
{
	const aim_token *t = reader_token();

	if (t == NULL)
		PG_RETURN_NULL();
	return text_free(fcinfo, aim_token_claim(t, text_to_cstring(PG_GETARG_TEXT_PP(0))));
}

PG_FUNCTION_INFO_V1(pg_aim_claims_jsonb);
Datum
pg_aim_claims_jsonb(PG_FUNCTION_ARGS)
{
	const aim_token *t = reader_token();
	char	   *value;
	char	   *copy;

	if (t == NULL)
		PG_RETURN_NULL();
	if ((value = aim_token_claims_json(t)) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	copy = pstrdup(value);
	free(value);
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(copy));
}


/* ---------------------------------------------------------------------- */
/* Set-up                                                                 */

static bool
bound_check(char **newval, void **extra, GucSource source)
{
	if (source == PGC_S_DEFAULT || pg_aim_writing || InitializingParallelWorker)
		return true;
	GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
	GUC_check_errmsg("pg_aim.bound is set only by pg_aim");
	return false;
}

/* The token is never shown, not even to a superuser. */
static const char *
bound_show(void)
{
	return pg_aim_bound != NULL && pg_aim_bound[0] != '\0' ? "(hidden)" : "";
}

void
pg_aim_bind_init(void)
{
	DefineCustomStringVariable("pg_aim.bound",
							   "The bound agent's token, for parallel workers (set by pg_aim only).",
							   NULL, &pg_aim_bound, "",
							   PGC_SUSET,
							   GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE
							   | GUC_NO_RESET_ALL | GUC_SUPERUSER_ONLY,
							   bound_check, NULL, bound_show);
	RegisterXactCallback(xact_callback, NULL);
	RegisterSubXactCallback(subxact_callback, NULL);
	prev_ClientAuthentication = ClientAuthentication_hook;
	ClientAuthentication_hook = pg_aim_ClientAuthentication;
}

/* In the postmaster: a hand-off variable inherited from its caller is no login. */
void
pg_aim_bind_startup(void)
{
	if (pg_aim_pam_handoff != NULL && pg_aim_pam_handoff[0] != '\0'
		&& getenv(pg_aim_pam_handoff) != NULL)
	{
		ereport(WARNING,
				(errmsg("pg_aim: removing \"%s\" from the server environment",
						pg_aim_pam_handoff)));
		unsetenv(pg_aim_pam_handoff);
	}
}
