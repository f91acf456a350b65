/*-------------------------------------------------------------------------
 *
 * pg_aim.c
 *		Agent identity for PostgreSQL sessions: bind a verified AIM token to
 *		the session, expose its claims to SQL (and so to row-level security),
 *		re-check it on every statement, and lock the session's role.
 *
 * The decisions are taken by libaim (common/); this file is glue.  The
 * verified token lives in backend memory.  Parallel workers, which cannot
 * see that memory, receive the verified claims (never the token) through
 * the hidden setting pg_aim.bound, which only this module can write.
 *
 * Agents reach a session in one of two ways:
 *	- aim.session_init(token [, role]) after connecting (connection pools);
 *	- a direct login through PAM with pam_aim handoff=AIM_NAME: pam_aim puts
 *	  the token it verified into the backend's own environment, and the
 *	  ClientAuthentication hook takes it, verifies it again and binds.
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
#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "libpq/auth.h"
#include "libpq/hba.h"
#include "libpq/libpq-be.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "aim.h"
#include "pg_aim_json.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Settings (all PGC_SIGHUP, superuser-only) */
static char *pg_aim_keys = NULL;
static char *pg_aim_issuer = NULL;
static char *pg_aim_audience = NULL;
static char *pg_aim_leeway = NULL;
static char *pg_aim_max_lifetime = NULL;
static char *pg_aim_revoked = NULL;
static char *pg_aim_policy = NULL;
static char *pg_aim_state = NULL;
static char *pg_aim_trust_min = NULL;
static char *pg_aim_status_list = NULL;
static char *pg_aim_audit = NULL;
static char *pg_aim_pam_handoff = NULL;

/* The verified claims for parallel workers; written only by this module. */
static char *pg_aim_bound = NULL;

/* Saved hook values */
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static object_access_hook_type prev_object_access = NULL;
static ClientAuthentication_hook_type prev_ClientAuthentication = NULL;
static fmgr_hook_type prev_fmgr = NULL;

/*
 * A binding: the agent's verified token and the role the session switched
 * to (NULL: none).  "bound" is committed; "pending" is a stack of bindings
 * made by the current transaction, newest first, each tagged with the
 * subtransaction that made it.
 */
typedef struct PgAimBinding
{
	aim_token  *token;
	char	   *role;
	SubTransactionId subid;
	/*
	 * The identity the session must keep while bound: the SET ROLE role
	 * (InvalidOid: none) and the session user (InvalidOid: not known yet,
	 * taken at the first check -- agent logins bind before it is set).
	 */
	Oid			role_id;
	Oid			session_user_id;
	struct PgAimBinding *prev;
} PgAimBinding;

static PgAimBinding *bound = NULL;
static PgAimBinding *pending = NULL;

static aim_verifier *verifier = NULL;
static bool verifier_dirty = true;

/* On while this module itself writes pg_aim.bound or the role. */
static bool pg_aim_writing = false;

/* The statement last re-checked (its start time) and for which token. */
static TimestampTz checked_stmt = 0;
static const aim_token *checked_token = NULL;
static int64_t checked_second = 0;

/* Parallel workers: pg_aim.bound parsed once per value. */
static char *worker_src = NULL;
static pg_aim_claims *worker_claims = NULL;

static const char *pg_aim_setting_names[] = {
	"keys", "issuer", "audience", "leeway", "max_lifetime", "revoked",
	"policy", "state", "trust_min", "status_list", "audit", NULL
};


/* ---------------------------------------------------------------------- */
/* Bindings                                                               */

static PgAimBinding *
pg_aim_current(void)
{
	return pending != NULL ? pending : bound;
}

static void
pg_aim_binding_free(PgAimBinding *b)
{
	if (b == NULL)
		return;
	aim_token_free(b->token);
	free(b->role);
	free(b);
}

static void
pg_aim_xact_callback(XactEvent event, void *arg)
{
	PgAimBinding *b;

	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			if (pending == NULL)
				return;
			pg_aim_binding_free(bound);
			bound = pending;
			pending = pending->prev;
			bound->prev = NULL;
			/* fall through: drop the older pending entries */
			/* FALLTHROUGH */
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			while (pending != NULL)
			{
				b = pending;
				pending = b->prev;
				pg_aim_binding_free(b);
			}
			checked_token = NULL;
			break;
		default:
			break;
	}
}

static void
pg_aim_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	PgAimBinding *b;

	switch (event)
	{
		case SUBXACT_EVENT_ABORT_SUB:
			while (pending != NULL && pending->subid == mySubid)
			{
				b = pending;
				pending = b->prev;
				pg_aim_binding_free(b);
			}
			checked_token = NULL;
			break;
		case SUBXACT_EVENT_COMMIT_SUB:
			for (b = pending; b != NULL && b->subid == mySubid; b = b->prev)
				b->subid = parentSubid;
			break;
		default:
			break;
	}
}


/* ---------------------------------------------------------------------- */
/* The verifier                                                           */

static void
pg_aim_log_sink(void *ud, int level, const char *msg)
{
	elog(level <= AIM_LOG_ERR ? WARNING : LOG, "pg_aim: %s", msg);
}

static void
pg_aim_audit_sink(void *ud, const char *line)
{
	ereport(LOG,
			(errmsg("AUDIT: AIM,%s", line),
			 errhidestmt(true)));
}

/*
 * Apply one comma-separated setting to the core, one option per element.
 * Returns false with msg naming the setting on failure.
 */
static bool
pg_aim_config_list(aim_config *cfg, const char *option, const char *value,
				   char *msg, size_t msglen)
{
	char	   *copy,
			   *item,
			   *save = NULL;
	aim_error	err;
	bool		ok = true;

	copy = strdup(value);
	if (copy == NULL)
	{
		snprintf(msg, msglen, "pg_aim.%s: out of memory", option);
		return false;
	}
	for (item = strtok_r(copy, ",", &save); item != NULL;
		 item = strtok_r(NULL, ",", &save))
	{
		char	   *end;

		while (*item == ' ' || *item == '\t')
			item++;
		end = item + strlen(item);
		while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*item == '\0')
			continue;
		memset(&err, 0, sizeof(err));
		if (aim_config_set(cfg, option, item, &err) != AIM_OK)
		{
			snprintf(msg, msglen, "pg_aim.%s", err.message);
			ok = false;
			break;
		}
	}
	free(copy);
	return ok;
}

/*
 * Build a verifier from the current settings.  NULL with msg (which names
 * the setting at fault, "pg_aim.keys: ...") on failure.
 */
static aim_verifier *
pg_aim_build_verifier(char *msg, size_t msglen)
{
	aim_config *cfg;
	aim_verifier *v = NULL;
	aim_error	err;
	struct
	{
		const char *option;
		const char *value;
	}			lists[] = {
		{"keys", pg_aim_keys},
		{"issuer", pg_aim_issuer},
		{"audience", pg_aim_audience},
		{"revoked", pg_aim_revoked},
		{"policy", pg_aim_policy},
		{"state", pg_aim_state},
		{"status_list", pg_aim_status_list},
		{"audit", pg_aim_audit},
		{"leeway", pg_aim_leeway},
		{"max_lifetime", pg_aim_max_lifetime},
		{"trust_min", pg_aim_trust_min},
	};
	int			i;

	cfg = aim_config_new();
	if (cfg == NULL)
	{
		snprintf(msg, msglen, "pg_aim: out of memory");
		return NULL;
	}
	for (i = 0; i < lengthof(lists); i++)
	{
		if (lists[i].value == NULL || lists[i].value[0] == '\0')
			continue;
		if (strcmp(lists[i].option, "audience") == 0
			|| strcmp(lists[i].option, "leeway") == 0
			|| strcmp(lists[i].option, "max_lifetime") == 0
			|| strcmp(lists[i].option, "trust_min") == 0)
		{
			memset(&err, 0, sizeof(err));
			if (aim_config_set(cfg, lists[i].option, lists[i].value, &err) != AIM_OK)
			{
				snprintf(msg, msglen, "pg_aim.%s", err.message);
				goto done;
			}
			continue;
		}
		if (!pg_aim_config_list(cfg, lists[i].option, lists[i].value,
								msg, msglen))
			goto done;
	}
	memset(&err, 0, sizeof(err));
	v = aim_verifier_new(cfg, &err);
	if (v == NULL)
	{
		const char *const *n;

		/* Core messages start with the option at fault ("keys: ..."). */
		for (n = pg_aim_setting_names; *n != NULL; n++)
		{
			size_t		l = strlen(*n);

			if (strncmp(err.message, *n, l) == 0 && err.message[l] == ':')
				break;
		}
		if (*n != NULL)
			snprintf(msg, msglen, "pg_aim.%s", err.message);
		else
			snprintf(msg, msglen, "pg_aim: %s", err.message);
		goto done;
	}
	aim_verifier_set_log(v, pg_aim_log_sink, NULL);
	aim_verifier_set_audit(v, pg_aim_audit_sink, NULL);

done:
	aim_config_free(cfg);
	return v;
}

/*
 * The backend's verifier, built on first use and again after a reload
 * changed a setting.  A configuration that no longer builds fails closed.
 */
static aim_verifier *
pg_aim_get_verifier(void)
{
	char		msg[512];
	aim_verifier *v;

	if (verifier != NULL && !verifier_dirty)
		return verifier;

	v = pg_aim_build_verifier(msg, sizeof(msg));
	if (v == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("%s", msg),
				 errhint("Fix the pg_aim settings and reload the configuration.")));
	if (verifier != NULL)
		aim_verifier_free(verifier);
	verifier = v;
	verifier_dirty = false;
	return verifier;
}

static void
pg_aim_string_assign(const char *newval, void *extra)
{
	verifier_dirty = true;
}

static bool
pg_aim_handoff_check(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (strncmp(*newval, "AIM_", 4) != 0)
	{
		GUC_check_errdetail("The variable name must start with AIM_, as pam_aim's handoff= option requires.");
		return false;
	}
	return true;
}

static bool
pg_aim_bound_check(char **newval, void **extra, GucSource source)
{
	if (source == PGC_S_DEFAULT || pg_aim_writing || InitializingParallelWorker)
		return true;
	GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
	GUC_check_errmsg("pg_aim.bound is set only by pg_aim");
	return false;
}


/* ---------------------------------------------------------------------- */
/* Requests and audit                                                     */

static const char *
pg_aim_database(void)
{
	return (MyProcPort != NULL && MyProcPort->database_name != NULL)
		? MyProcPort->database_name : "";
}

static const char *
pg_aim_client(void)
{
	return (MyProcPort != NULL && MyProcPort->remote_host != NULL)
		? MyProcPort->remote_host : NULL;
}

static void
pg_aim_request(aim_request *req, const char *action, const char *resource,
			   const char *const *scopes, size_t nscopes)
{
	memset(req, 0, sizeof(*req));
	req->adapter = "pg";
	req->action = action;
	req->resource = resource;
	req->client = pg_aim_client();
	req->scopes = scopes;
	req->nscopes = nscopes;
	req->any = 0;
	req->dpop = 0;
}

/*
 * Refuse something the session asked for while an agent is bound: one audit
 * line, then ERROR.
 */
static void
pg_aim_refuse(PgAimBinding *b, const char *what)
{
	aim_request req;
	char		resource[256];

	snprintf(resource, sizeof(resource), "database %s", pg_aim_database());
	pg_aim_request(&req, what, resource, NULL, 0);
	if (verifier != NULL)
		aim_audit(verifier, &req, b->token, AIM_POLICY_DENIED,
				  "refused while an AIM agent is bound");
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("%s is not allowed while an AIM agent is bound", what),
			 errdetail("The session is bound to AIM agent \"%s\".",
					   aim_token_agent(b->token)),
			 errhint("Open a new connection to act as another role or agent.")));
}

/*
 * The session's role and session user are those of the binding, whatever
 * route might have moved them: a SET clause of a function called as a
 * trigger (no object-access hook runs there), ALTER ROLE ... SET role
 * applied to the next agent login, anything not thought of.  Two Oid
 * compares; called on every statement and every function entry with a
 * SET clause.
 */
static void
pg_aim_check_identity(PgAimBinding *b)
{
	Oid			role = GetCurrentRoleId();
	Oid			sess = GetSessionUserId();

	if (!OidIsValid(b->session_user_id))
		b->session_user_id = sess;
	if (role == b->role_id && sess == b->session_user_id)
		return;
	pg_aim_refuse(b, OidIsValid(role) && role != b->role_id
				  ? psprintf("role \"%s\"", GetUserNameFromId(role, true))
				  : "a change of role");
}

/*
 * Re-check the bound agent (expiry, revocation, key, trust) once per
 * statement; ERROR when it is no longer authorized.
 */
static void
pg_aim_recheck(void)
{
	PgAimBinding *b = pg_aim_current();
	aim_verifier *v;
	aim_error	err;
	aim_status	s;
	TimestampTz stmt;

	if (b == NULL || IsParallelWorker())
		return;
	pg_aim_check_identity(b);
	stmt = GetCurrentStatementStartTimestamp();
	if (stmt == checked_stmt && b->token == checked_token
		&& aim_now() == checked_second)
		return;

	v = pg_aim_get_verifier();
	memset(&err, 0, sizeof(err));
	s = aim_recheck(v, b->token, &err);
	if (s != AIM_OK)
	{
		aim_request req;
		char		resource[256];

		snprintf(resource, sizeof(resource), "database %s", pg_aim_database());
		pg_aim_request(&req, "statement", resource, NULL, 0);
		aim_audit(v, &req, b->token, s, err.message);
		checked_token = NULL;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("AIM agent \"%s\" is no longer authorized: %s",
						aim_token_agent(b->token), aim_reason(s)),
				 errdetail("%s", err.message),
				 errhint("Open a new connection with a valid token.")));
	}
	checked_stmt = stmt;
	checked_token = b->token;
	checked_second = aim_now();
}

static void
pg_aim_publish(const aim_token *t)
{
	char	   *json = pg_aim_json_bound(t);

	if (json == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	pg_aim_writing = true;
	PG_TRY();
	{
		SetConfigOption("pg_aim.bound", json, PGC_SUSET, PGC_S_SESSION);
	}
	PG_FINALLY();
	{
		pg_aim_writing = false;
		free(json);
	}
	PG_END_TRY();
}

static bool
pg_aim_refused_setting(const char *name)
{
	if (name == NULL)
		return false;
	return pg_strcasecmp(name, "role") == 0
		|| pg_strcasecmp(name, "session_authorization") == 0
		|| pg_strncasecmp(name, "pg_aim.", 7) == 0;
}


/* ---------------------------------------------------------------------- */
/* Hooks                                                                  */

static void
pg_aim_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (!(eflags & EXEC_FLAG_EXPLAIN_ONLY))
		pg_aim_recheck();
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

static void
pg_aim_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					  bool readOnlyTree, ProcessUtilityContext context,
					  ParamListInfo params, QueryEnvironment *queryEnv,
					  DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	PgAimBinding *b = pg_aim_current();

	if (b != NULL && !IsParallelWorker())
	{
		/* Leaving a transaction must stay possible, even after a failure. */
		if (!IsA(parsetree, TransactionStmt))
			pg_aim_recheck();

		if (IsA(parsetree, VariableSetStmt))
		{
			VariableSetStmt *stmt = (VariableSetStmt *) parsetree;

			if (stmt->kind == VAR_RESET_ALL)
				pg_aim_refuse(b, "RESET ALL");
			else if (pg_aim_refused_setting(stmt->name))
			{
				if (pg_strcasecmp(stmt->name, "role") == 0)
					pg_aim_refuse(b, stmt->kind == VAR_RESET
								  ? "RESET ROLE" : "SET ROLE");
				else if (pg_strcasecmp(stmt->name, "session_authorization") == 0)
					pg_aim_refuse(b, stmt->kind == VAR_RESET
								  ? "RESET SESSION AUTHORIZATION"
								  : "SET SESSION AUTHORIZATION");
				else
					pg_aim_refuse(b, "changing pg_aim settings");
			}
		}
		else if (IsA(parsetree, AlterRoleSetStmt)
				 || IsA(parsetree, AlterDatabaseSetStmt))
		{
			VariableSetStmt *set = IsA(parsetree, AlterRoleSetStmt)
			? ((AlterRoleSetStmt *) parsetree)->setstmt
			: ((AlterDatabaseSetStmt *) parsetree)->setstmt;

			/* A default role would move the role of later logins. */
			if (set != NULL && pg_aim_refused_setting(set->name))
				pg_aim_refuse(b, psprintf("ALTER %s ... SET %s",
										  IsA(parsetree, AlterRoleSetStmt)
										  ? "ROLE" : "DATABASE", set->name));
		}
		else if (IsA(parsetree, DiscardStmt))
		{
			DiscardStmt *stmt = (DiscardStmt *) parsetree;

			if (stmt->target == DISCARD_ALL)
				pg_aim_refuse(b, "DISCARD ALL");
		}
	}

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

/*
 * A function whose SET clause changes the role, the session authorization
 * or pg_aim.* would step around the ProcessUtility checks.
 */
static bool
pg_aim_function_sets_role(Oid funcid)
{
	HeapTuple	tup;
	Datum		config;
	bool		isnull;
	bool		found = false;

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	if (!HeapTupleIsValid(tup))
		return false;
	config = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_proconfig, &isnull);
	if (!isnull)
	{
		Datum	   *elems;
		int			nelems,
					i;

		deconstruct_array(DatumGetArrayTypeP(config), TEXTOID, -1, false,
						  TYPALIGN_INT, &elems, NULL, &nelems);
		for (i = 0; i < nelems && !found; i++)
		{
			char	   *item = TextDatumGetCString(elems[i]);
			char	   *eq = strchr(item, '=');

			if (eq != NULL)
			{
				*eq = '\0';
				found = pg_aim_refused_setting(item);
			}
			pfree(item);
		}
	}
	ReleaseSysCache(tup);
	return found;
}

static void
pg_aim_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					 int subId, void *arg)
{
	if (prev_object_access)
		prev_object_access(access, classId, objectId, subId, arg);

	if (access == OAT_FUNCTION_EXECUTE && !IsParallelWorker())
	{
		PgAimBinding *b = pg_aim_current();

		if (b == NULL)
			return;
		/* Fast-path calls (protocol 'F') reach no other hook. */
		pg_aim_recheck();
		if (objectId == F_SET_CONFIG)
			pg_aim_refuse(b, "set_config()");
		if (pg_aim_function_sets_role(objectId))
			pg_aim_refuse(b, "a function that sets the role");
	}
}

/*
 * A function with a SET clause has just applied it (fmgr_security_definer):
 * the role must not have moved.
 */
static void
pg_aim_fmgr(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private)
{
	if (prev_fmgr)
		(*prev_fmgr) (event, flinfo, private);
	if (event == FHET_START && !IsParallelWorker())
	{
		PgAimBinding *b = pg_aim_current();

		if (b != NULL)
			pg_aim_check_identity(b);
	}
}

/*
 * A startup option ("name" or "name=value", "-" for "_") that would move
 * the role of an agent login, which is bound before options are applied.
 */
static void
pg_aim_check_startup_option(const char *opt)
{
	char	   *name = pstrdup(opt);
	char	   *p;

	if ((p = strchr(name, '=')) != NULL)
		*p = '\0';
	for (p = name; *p != '\0'; p++)
		*p = (*p == '-') ? '_' : pg_tolower((unsigned char) *p);
	if (pg_aim_refused_setting(name))
		ereport(FATAL,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("startup option \"%s\" is not allowed for an AIM agent login",
						name)));
	pfree(name);
}

/*
 * Direct agent logins: pam_aim (handoff=NAME) verified the token in this
 * very process and left it in the environment variable NAME.  Take it at
 * once, verify it again and bind the session to that agent.
 */
static void
pg_aim_ClientAuthentication(Port *port, int status)
{
	const char *name = pg_aim_pam_handoff;
	char	   *env,
			   *token;
	size_t		len;

	if (prev_ClientAuthentication)
		prev_ClientAuthentication(port, status);

	if (name == NULL || name[0] == '\0' || (env = getenv(name)) == NULL)
		return;

	len = strnlen(env, AIM_MAX_TOKEN_LEN + 1);
	token = strndup(env, len);
	explicit_bzero(env, strlen(env));
	unsetenv(name);
	if (token == NULL)
		ereport(FATAL,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));

	PG_TRY();
	{
		aim_verifier *v;
		aim_request req;
		aim_token  *t = NULL;
		aim_error	err;
		aim_status	s;
		char		scope[AIM_MAX_SCOPE_LEN + 32];
		char		resource[256];
		const char *scopes[1];
		ListCell   *lc;
		int			i = 0;

		if (status != STATUS_OK)
			goto out;
		if (port->hba == NULL || port->hba->auth_method != uaPAM)
			ereport(FATAL,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("AIM hand-off variable \"%s\" set outside a PAM login", name)));

		/* Startup options run after this hook: none may move the role. */
		foreach(lc, port->guc_options)
		{
			if (i++ % 2 == 0)
				pg_aim_check_startup_option((char *) lfirst(lc));
		}
		if (port->cmdline_options != NULL)
		{
			int			maxac = 2 + (strlen(port->cmdline_options) + 1) / 2;
			char	  **av = palloc0(maxac * sizeof(char *));
			int			ac = 0;

			pg_split_opts(av, &ac, port->cmdline_options);
			for (i = 0; i < ac; i++)
			{
				if (strcmp(av[i], "-c") == 0 && i + 1 < ac)
					pg_aim_check_startup_option(av[++i]);
				else if (strncmp(av[i], "-c", 2) == 0)
					pg_aim_check_startup_option(av[i] + 2);
				else if (strncmp(av[i], "--", 2) == 0)
					pg_aim_check_startup_option(av[i] + 2);
			}
		}

		v = pg_aim_get_verifier();
		snprintf(scope, sizeof(scope), "pg:login:%s", port->user_name);
		snprintf(resource, sizeof(resource), "database %s role %s",
				 port->database_name, port->user_name);
		scopes[0] = scope;
		pg_aim_request(&req, "login", resource, scopes, 1);
		memset(&err, 0, sizeof(err));
		s = aim_decide(v, token, strlen(token), &req, &t, &err);
		if (s != AIM_OK)
		{
			if (t != NULL)
				aim_token_free(t);
			ereport(FATAL,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("AIM agent login refused: %s", aim_reason(s)),
					 errdetail("%s", err.message)));
		}
		bound = calloc(1, sizeof(*bound));
		if (bound == NULL)
		{
			aim_token_free(t);
			ereport(FATAL,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		}
		bound->token = t;
		bound->role_id = InvalidOid;
		bound->session_user_id = InvalidOid;
		pg_aim_publish(t);
out:	;
	}
	PG_FINALLY();
	{
		explicit_bzero(token, strlen(token));
		free(token);
	}
	PG_END_TRY();
}


/* ---------------------------------------------------------------------- */
/* SQL: aim.session_init                                                  */

PG_FUNCTION_INFO_V1(pg_aim_session_init);

Datum
pg_aim_session_init(PG_FUNCTION_ARGS)
{
	PgAimBinding *cur = pg_aim_current();
	PgAimBinding *nb;
	aim_verifier *v;
	aim_request req;
	aim_token  *t = NULL;
	aim_error	err;
	aim_status	s;
	text	   *token_text;
	char	   *token;
	size_t		len;
	char	   *role = NULL;
	const char *eff_role;
	char		scope[AIM_MAX_SCOPE_LEN + 32];
	char		resource[512];
	const char *scopes[1];
	char	   *denial = NULL;
	char	   *detail = NULL;
	const char *agent;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("AIM token must not be null")));
	if (IsInParallelMode())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("aim.session_init() cannot run in parallel mode")));
	if (!PG_ARGISNULL(1))
		role = text_to_cstring(PG_GETARG_TEXT_PP(1));

	/* The role, if any, is part of the binding and cannot change. */
	if (cur != NULL && cur->role != NULL && role != NULL
		&& strcmp(cur->role, role) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the session's AIM role is already \"%s\"", cur->role),
				 errhint("Open a new connection to use role \"%s\".", role),
				 errhidestmt(true)));
	eff_role = role != NULL ? role : (cur != NULL ? cur->role : NULL);

	if (eff_role != NULL)
	{
		snprintf(scope, sizeof(scope), "pg:role:%s", eff_role);
		snprintf(resource, sizeof(resource), "database %s role %s",
				 pg_aim_database(), eff_role);
		scopes[0] = scope;
	}
	else
		snprintf(resource, sizeof(resource), "database %s role %s",
				 pg_aim_database(), GetUserNameFromId(GetUserId(), false));
	pg_aim_request(&req, eff_role != NULL ? "role" : "bind", resource,
				   eff_role != NULL ? scopes : NULL, eff_role != NULL ? 1 : 0);

	v = pg_aim_get_verifier();

	token_text = PG_GETARG_TEXT_PP(0);
	len = VARSIZE_ANY_EXHDR(token_text);
	if (len > AIM_MAX_TOKEN_LEN)
		len = AIM_MAX_TOKEN_LEN + 1;	/* the core refuses it as malformed */
	token = palloc(len + 1);
	memcpy(token, VARDATA_ANY(token_text), len);
	token[len] = '\0';

	memset(&err, 0, sizeof(err));
	s = aim_verify(v, token, len, &t, &err);
	explicit_bzero(token, len);
	pfree(token);
	if (s != AIM_OK)
	{
		aim_audit(v, &req, NULL, s, err.message);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("AIM token refused: %s", aim_reason(s)),
				 errdetail("%s", err.message),
				 errhidestmt(true)));
	}
	agent = aim_token_agent(t);

	/* One-way binding (the core's rule): same agent, never an older token. */
	if (cur != NULL && aim_token_may_refresh(cur->token, t, &err) != AIM_OK)
		denial = pstrdup(err.message);

	/* The role: an existing group role that cannot log in or bypass RLS. */
	if (denial == NULL && role != NULL && (cur == NULL || cur->role == NULL))
	{
		Oid			roleid = get_role_oid(role, true);
		HeapTuple	tup;

		if (!OidIsValid(roleid))
			denial = psprintf("role \"%s\" does not exist", role);
		else
		{
			tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(roleid));
			if (!HeapTupleIsValid(tup))
				denial = psprintf("role \"%s\" does not exist", role);
			else
			{
				Form_pg_authid form = (Form_pg_authid) GETSTRUCT(tup);

				if (form->rolcanlogin)
					denial = psprintf("role \"%s\" can log in (AIM roles must be NOLOGIN)", role);
				else if (form->rolsuper)
					denial = psprintf("role \"%s\" is a superuser", role);
				else if (form->rolbypassrls)
					denial = psprintf("role \"%s\" bypasses row-level security", role);
				ReleaseSysCache(tup);
			}
			if (denial == NULL && !is_member_of_role(GetSessionUserId(), roleid))
				denial = psprintf("session user \"%s\" is not a member of role \"%s\"",
								  GetUserNameFromId(GetSessionUserId(), false), role);
		}
	}

	if (denial != NULL)
	{
		aim_audit(v, &req, t, AIM_POLICY_DENIED, denial);
		aim_token_free(t);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("AIM agent \"%s\" refused: %s", agent, denial),
				 detail != NULL ? errdetail("%s", detail) : 0,
				 errhidestmt(true)));
	}

	/* Scopes, trust, and the audit line of this bind. */
	memset(&err, 0, sizeof(err));
	s = aim_decide_token(v, t, &req, &err);
	if (s != AIM_OK)
	{
		char	   *a = pstrdup(agent);

		aim_token_free(t);
		ereport(ERROR,
				(errcode(s == AIM_INSUFFICIENT_SCOPE || s == AIM_POLICY_DENIED
						 || s == AIM_LOW_TRUST
						 ? ERRCODE_INSUFFICIENT_PRIVILEGE
						 : ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("AIM agent \"%s\" refused: %s", a, aim_reason(s)),
				 errdetail("%s", err.message),
				 errhidestmt(true)));
	}

	nb = calloc(1, sizeof(*nb));
	if (nb == NULL || (eff_role != NULL && (nb->role = strdup(eff_role)) == NULL))
	{
		free(nb);
		aim_token_free(t);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	nb->token = t;
	nb->subid = GetCurrentSubTransactionId();
	nb->prev = pending;
	pending = nb;

	/*
	 * Settings follow the transaction: on abort they revert with the pending
	 * binding.  An error from here on aborts both.
	 */
	pg_aim_publish(t);
	if (role != NULL && (cur == NULL || cur->role == NULL))
		SetConfigOption("role", role, PGC_USERSET, PGC_S_SESSION);
	nb->role_id = GetCurrentRoleId();
	nb->session_user_id = GetSessionUserId();

	PG_RETURN_TEXT_P(cstring_to_text(agent));
}


/* ---------------------------------------------------------------------- */
/* SQL: the readers                                                       */

/*
 * In a parallel worker, the claims the leader published.  NULL when none.
 */
static const pg_aim_claims *
pg_aim_worker_claims(void)
{
	const char *src = pg_aim_bound;

	if (src == NULL || src[0] == '\0')
		return NULL;
	if (worker_src != NULL && strcmp(worker_src, src) == 0)
		return worker_claims;
	pg_aim_json_free(worker_claims);
	free(worker_src);
	worker_src = NULL;
	worker_claims = pg_aim_json_parse(src);
	if (worker_claims != NULL && (worker_src = strdup(src)) == NULL)
	{
		pg_aim_json_free(worker_claims);
		worker_claims = NULL;
	}
	if (worker_claims == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("pg_aim: cannot read the bound claims in a parallel worker")));
	return worker_claims;
}

/*
 * What a reader reads: the bound token in this backend's memory, or in a
 * parallel worker the claims the leader published.  Both NULL: unbound.
 */
static const aim_token *
pg_aim_reader_token(const pg_aim_claims **worker)
{
	PgAimBinding *b;

	*worker = NULL;
	if (IsParallelWorker())
	{
		*worker = pg_aim_worker_claims();
		return NULL;
	}
	b = pg_aim_current();
	return b != NULL ? b->token : NULL;
}

static Datum
pg_aim_text_or_null(FunctionCallInfo fcinfo, const char *s)
{
	if (s == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(s));
}

/* A malloc()ed string as text (freed), or NULL. */
static Datum
pg_aim_text_free(FunctionCallInfo fcinfo, char *s)
{
	text	   *result;

	if (s == NULL)
		PG_RETURN_NULL();
	result = cstring_to_text(s);
	free(s);
	PG_RETURN_TEXT_P(result);
}

PG_FUNCTION_INFO_V1(pg_aim_agent_id);
Datum
pg_aim_agent_id(PG_FUNCTION_ARGS)
{
	const pg_aim_claims *w;
	const aim_token *t = pg_aim_reader_token(&w);

	if (w != NULL)
		return pg_aim_text_or_null(fcinfo, pg_aim_json_string(w, "agent"));
	return pg_aim_text_or_null(fcinfo, t != NULL ? aim_token_agent(t) : NULL);
}

PG_FUNCTION_INFO_V1(pg_aim_owner);
Datum
pg_aim_owner(PG_FUNCTION_ARGS)
{
	const pg_aim_claims *w;
	const aim_token *t = pg_aim_reader_token(&w);

	if (w != NULL)
		return pg_aim_text_or_null(fcinfo, pg_aim_json_string(w, "owner"));
	return pg_aim_text_or_null(fcinfo, t != NULL ? aim_token_owner(t) : NULL);
}

PG_FUNCTION_INFO_V1(pg_aim_jti);
Datum
pg_aim_jti(PG_FUNCTION_ARGS)
{
	const pg_aim_claims *w;
	const aim_token *t = pg_aim_reader_token(&w);

	if (w != NULL)
		return pg_aim_text_or_null(fcinfo, pg_aim_json_string(w, "jti"));
	return pg_aim_text_or_null(fcinfo, t != NULL ? aim_token_jti(t) : NULL);
}

PG_FUNCTION_INFO_V1(pg_aim_scopes);
Datum
pg_aim_scopes(PG_FUNCTION_ARGS)
{
	const pg_aim_claims *w;
	const aim_token *t = pg_aim_reader_token(&w);
	Datum	   *elems;
	size_t		n,
				i;

	if (w == NULL && t == NULL)
		PG_RETURN_NULL();
	n = w != NULL ? pg_aim_json_scope_count(w) : aim_token_scope_count(t);
	elems = palloc(sizeof(Datum) * (n > 0 ? n : 1));
	for (i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(w != NULL ? pg_aim_json_scope_at(w, i)
									   : aim_token_scope_at(t, i));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, (int) n, TEXTOID, -1, false,
										  TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(pg_aim_has_scope);
Datum
pg_aim_has_scope(PG_FUNCTION_ARGS)
{
	const pg_aim_claims *w;
	const aim_token *t = pg_aim_reader_token(&w);
	char	   *scope;
	bool		found = false;

	if (w == NULL && t == NULL)
		PG_RETURN_NULL();
	scope = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (w != NULL)
	{
		size_t		i;

		for (i = 0; i < pg_aim_json_scope_count(w) && !found; i++)
			found = strcmp(pg_aim_json_scope_at(w, i), scope) == 0;
	}
	else
		found = aim_token_has_scope(t, scope) == 1;
	pfree(scope);
	PG_RETURN_BOOL(found);
}

PG_FUNCTION_INFO_V1(pg_aim_claim);
Datum
pg_aim_claim(PG_FUNCTION_ARGS)
{
	const pg_aim_claims *w;
	const aim_token *t = pg_aim_reader_token(&w);
	char	   *name;
	char	   *value;

	if (w == NULL && t == NULL)
		PG_RETURN_NULL();
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	value = w != NULL ? pg_aim_json_claim(w, name) : aim_token_claim(t, name);
	pfree(name);
	return pg_aim_text_free(fcinfo, value);
}

PG_FUNCTION_INFO_V1(pg_aim_claims_jsonb);
Datum
pg_aim_claims_jsonb(PG_FUNCTION_ARGS)
{
	const pg_aim_claims *w;
	const aim_token *t = pg_aim_reader_token(&w);
	char	   *value;
	char	   *copy;

	if (w == NULL && t == NULL)
		PG_RETURN_NULL();
	value = w != NULL ? pg_aim_json_claims(w) : aim_token_claims_json(t);
	if (value == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	copy = pstrdup(value);
	free(value);
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(copy));
}


/* ---------------------------------------------------------------------- */
/* Module load                                                            */

static void
pg_aim_define_string(const char *name, const char *desc, char **var,
					 GucStringCheckHook check)
{
	DefineCustomStringVariable(name, desc, NULL, var, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   check, pg_aim_string_assign, NULL);
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_aim must be loaded via shared_preload_libraries"),
				 errhint("Add pg_aim to shared_preload_libraries and restart the server.")));

	pg_aim_define_string("pg_aim.keys",
						 "Key sources: JWKS paths, \"pem:ALG:PATH\" or \"ISSUER PATH\", comma-separated.",
						 &pg_aim_keys, NULL);
	pg_aim_define_string("pg_aim.issuer",
						 "Accepted token issuers, comma-separated.",
						 &pg_aim_issuer, NULL);
	pg_aim_define_string("pg_aim.audience",
						 "The audience this server is.",
						 &pg_aim_audience, NULL);
	/* Numbers too are checked by the core, so a bad value refuses to start. */
	pg_aim_define_string("pg_aim.leeway",
						 "Clock skew allowed for exp, nbf and iat, in seconds (empty: 30).",
						 &pg_aim_leeway, NULL);
	pg_aim_define_string("pg_aim.max_lifetime",
						 "Longest accepted token lifetime (exp - iat), in seconds (empty: 86400).",
						 &pg_aim_max_lifetime, NULL);
	pg_aim_define_string("pg_aim.revoked",
						 "Revocation file (agent, jti and kid lines).",
						 &pg_aim_revoked, NULL);
	pg_aim_define_string("pg_aim.policy",
						 "Local least-privilege policy file.",
						 &pg_aim_policy, NULL);
	pg_aim_define_string("pg_aim.state",
						 "The host's shared behavioural state file.",
						 &pg_aim_state, NULL);
	pg_aim_define_string("pg_aim.trust_min",
						 "Trust (0-100) below which an agent is refused, with pg_aim.state (empty: 50).",
						 &pg_aim_trust_min, NULL);
	pg_aim_define_string("pg_aim.status_list",
						 "Token Status Lists as \"URI PATH\", comma-separated.",
						 &pg_aim_status_list, NULL);
	pg_aim_define_string("pg_aim.audit",
						 "File to append audit lines to (they also go to the server log).",
						 &pg_aim_audit, NULL);
	pg_aim_define_string("pg_aim.pam_handoff",
						 "Environment variable pam_aim's handoff= option uses for agent logins.",
						 &pg_aim_pam_handoff, pg_aim_handoff_check);

	DefineCustomStringVariable("pg_aim.bound",
							   "The bound agent's verified claims (set by pg_aim only).",
							   NULL, &pg_aim_bound, "",
							   PGC_SUSET,
							   GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE
							   | GUC_NO_RESET_ALL | GUC_SUPERUSER_ONLY,
							   pg_aim_bound_check, NULL, NULL);

	MarkGUCPrefixReserved("pg_aim");

	/* The postmaster validates the configuration once: bad values refuse to start. */
	if (!IsUnderPostmaster)
	{
		char		msg[512];
		aim_verifier *v = pg_aim_build_verifier(msg, sizeof(msg));

		if (v == NULL)
			ereport(FATAL,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("%s", msg),
					 errhint("Fix the pg_aim settings in postgresql.conf.")));
		aim_verifier_free(v);
		/* A hand-off variable inherited from the postmaster's caller is no login. */
		if (pg_aim_pam_handoff != NULL && pg_aim_pam_handoff[0] != '\0'
			&& getenv(pg_aim_pam_handoff) != NULL)
		{
			ereport(WARNING,
					(errmsg("pg_aim: removing \"%s\" from the server environment",
							pg_aim_pam_handoff)));
			unsetenv(pg_aim_pam_handoff);
		}
	}

	RegisterXactCallback(pg_aim_xact_callback, NULL);
	RegisterSubXactCallback(pg_aim_subxact_callback, NULL);

	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = pg_aim_ExecutorStart;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = pg_aim_ProcessUtility;
	prev_object_access = object_access_hook;
	object_access_hook = pg_aim_object_access;
	prev_ClientAuthentication = ClientAuthentication_hook;
	ClientAuthentication_hook = pg_aim_ClientAuthentication;
	prev_fmgr = fmgr_hook;
	fmgr_hook = pg_aim_fmgr;
}
