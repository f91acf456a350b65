/*-------------------------------------------------------------------------
 *
 * pg_aim.c
 *		Agent identity for PostgreSQL: bind a verified AIM token to a session
 *		or to one transaction, expose its claims to SQL (and so to row-level
 *		security), re-check the agent on everything the session runs, feed
 *		the agent's behavioural baseline, and lock the session's role.
 *
 * Every decision is libaim's (common/): a bind, an agent login, the check
 * of each statement and each refusal of a route that would move the role go
 * through aim_decide or aim_decide_token, which audit them and feed the
 * baseline.  pg_aim describes the event and enforces the answer.
 *
 *	pg_aim.c		settings (one GUC per option of the core), the verifier,
 *					the checks of a bound session
 *	pg_aim_bind.c	bindings: aim.session_init(), aim.transaction_init(),
 *					agent logins through PAM, the readers, parallel workers
 *	pg_aim_hooks.c	every route into the executor, and the role lock
 *
 * Copyright (c) 2024, AIM authors
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <sys/stat.h>

#include "access/parallel.h"
#include "libpq/libpq-be.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "pg_aim.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Settings: pg_aim.<name> for each option of the core's table, typed by it
 * (numbers and seconds as integers with the table's bounds, the rest as
 * strings; repeatable options as lists), the host configuration file, and
 * pg_aim's own.  All PGC_SIGHUP and superuser-only.
 */
#define PG_AIM_MAX_OPTIONS 32

static int	option_int[PG_AIM_MAX_OPTIONS];
static char *option_str[PG_AIM_MAX_OPTIONS];
static char *pg_aim_config = NULL;
char	   *pg_aim_pam_handoff = NULL;

/* On while pg_aim itself sets the role or pg_aim.bound. */
bool		pg_aim_writing = false;

static aim_verifier *verifier = NULL;
static bool verifier_dirty = true;
static struct stat config_st;	/* pg_aim.config when last read */
static int64 config_checked;	/* and when (aim_now()) last compared */

/* The last check of a bound session: statement, binding, second, key. */
static TimestampTz checked_stmt;
static uint64 checked_generation;	/* 0: none */
static int64 checked_second;
static const void *checked_key;


/* ---------------------------------------------------------------------- */
/* Settings                                                               */

/* A GUC's record; PostgreSQL 15 exports no lookup by name. */
struct config_generic *
pg_aim_guc(const char *name)
{
	struct config_generic **vars = get_guc_variables();
	int			n = GetNumConfigOptions();
	int			i;

	for (i = 0; i < n; i++)
		if (pg_strcasecmp(vars[i]->name, name) == 0)
			return vars[i];
	return NULL;
}

static bool
option_is_number(const aim_option *o)
{
	return o->type == AIM_OPTION_NUMBER || o->type == AIM_OPTION_SECONDS;
}

/*
 * Is option i given here?  A string when it is not empty; a number when
 * it was set anywhere at all, so that a default does not hide the host
 * configuration file's value.
 */
static bool
option_given(const aim_option *opts, int i)
{
	if (option_is_number(&opts[i]))
	{
		struct config_generic *g;

		g = pg_aim_guc(psprintf("pg_aim.%s", opts[i].name));
		return g != NULL && g->source > PGC_S_DYNAMIC_DEFAULT;
	}
	return option_str[i] != NULL && option_str[i][0] != '\0';
}

/* Every option given here, to the core. */
static aim_status
options_apply(aim_config *cfg, aim_error *err)
{
	size_t		count,
				i;
	const aim_option *opts = aim_options(&count);

	for (i = 0; i < count; i++)
	{
		const aim_option *o = &opts[i];
		const char *args[1];
		char		num[32];
		aim_status	s;

		if (!option_given(opts, i))
			continue;
		if (option_is_number(o))
		{
			snprintf(num, sizeof(num), "%d", option_int[i]);
			args[0] = num;
			s = aim_config_set_args(cfg, o->name, args, 1, err);
		}
		else if (o->multi || o->max_args > 1)
			s = aim_config_set_list(cfg, o->name, option_str[i], err);
		else
		{
			args[0] = option_str[i];
			s = aim_config_set_args(cfg, o->name, args, 1, err);
		}
		if (s != AIM_OK)
			return s;
	}
	return AIM_OK;
}

/*
 * Report a configuration that does not build, naming where the fault is:
 * the host configuration file (in_file: it did not load), the setting
 * pg_aim.<option>, or the option, which the file may have set.
 */
static void config_error(int elevel, const aim_error *err, bool in_file)
			pg_attribute_noreturn();

static void
config_error(int elevel, const aim_error *err, bool in_file)
{
	const char *hint = elevel >= FATAL
		? "Fix the pg_aim settings in postgresql.conf."
		: "Fix the pg_aim settings and reload the configuration.";
	size_t		count,
				i;
	const aim_option *opts = aim_options(&count);
	bool		given = false;

	if (in_file)
		ereport(elevel,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("invalid AIM configuration file \"%s\" (pg_aim.config)",
						pg_aim_config),
				 errdetail("%s", err->message),
				 errhint("%s", hint)));
	if (err->option == NULL)
		ereport(elevel,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("pg_aim: %s", err->message),
				 errhint("%s", hint)));
	for (i = 0; i < count; i++)
		if (strcmp(opts[i].name, err->option) == 0)
			given = option_given(opts, i);
	if (given || pg_aim_config[0] == '\0')
		ereport(elevel,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("invalid value for parameter \"pg_aim.%s\"", err->option),
				 errdetail("%s", err->message),
				 errhint("%s", hint)));
	ereport(elevel,
			(errcode(ERRCODE_CONFIG_FILE_ERROR),
			 errmsg("invalid AIM option \"%s\"", err->option),
			 errdetail("%s", err->message),
			 errhint("Set pg_aim.%s in postgresql.conf, or \"%s\" in the AIM configuration file \"%s\".",
					 err->option, err->option, pg_aim_config)));
	pg_unreachable();
}

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
 * A verifier from the settings and the host configuration file; errors at
 * elevel (ERROR or FATAL) name the setting or the file at fault.
 */
static aim_verifier *
build_verifier(int elevel)
{
	aim_config *cfg = aim_config_new();
	aim_verifier *v = NULL;
	aim_error	err;
	bool		in_file = false;

	memset(&err, 0, sizeof(err));
	if (cfg == NULL)
		strlcpy(err.message, "out of memory", sizeof(err.message));
	else if (options_apply(cfg, &err) == AIM_OK)
	{
		if (pg_aim_config[0] != '\0')
		{
			if (stat(pg_aim_config, &config_st) != 0)
				memset(&config_st, 0, sizeof(config_st));
			in_file = aim_config_load(cfg, pg_aim_config, &err) != AIM_OK;
		}
		if (!in_file)
			v = aim_verifier_new(cfg, &err);
	}
	aim_config_free(cfg);
	if (v == NULL)
		config_error(elevel, &err, in_file);
	aim_verifier_set_log(v, pg_aim_log_sink, NULL);
	aim_verifier_set_audit(v, pg_aim_audit_sink, NULL);
	return v;
}

/*
 * The backend's verifier, built on first use and again after a reload
 * changed a setting or the host configuration file changed (compared at
 * most once a second).  A configuration that no longer builds fails
 * closed: every use is an ERROR naming the setting.
 */
aim_verifier *
pg_aim_verifier(void)
{
	aim_verifier *v;
	int64		now;

	if (pg_aim_config[0] != '\0' && (now = aim_now()) != config_checked)
	{
		struct stat st;

		config_checked = now;
		if (stat(pg_aim_config, &st) != 0 || st.st_ino != config_st.st_ino
			|| st.st_size != config_st.st_size
			|| st.st_mtim.tv_sec != config_st.st_mtim.tv_sec
			|| st.st_mtim.tv_nsec != config_st.st_mtim.tv_nsec)
			verifier_dirty = true;
	}
	if (verifier != NULL && !verifier_dirty)
		return verifier;
	v = build_verifier(ERROR);
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

static void
pg_aim_int_assign(int newval, void *extra)
{
	verifier_dirty = true;
}

static bool
pg_aim_handoff_check(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0'
		|| strncmp(*newval, "AIM_", 4) == 0)
		return true;
	GUC_check_errdetail("The variable name must start with AIM_, as pam_aim's handoff= option requires.");
	return false;
}

/*
 * pg_aim.<name> for core option o.  PostgreSQL only warns about a bad value
 * that postgresql.conf gave a setting defined after the file was read (as
 * every preloaded library's are): the postmaster refuses to start instead,
 * as for every other bad pg_aim setting.
 */
static void
define_option(const aim_option *o, int i)
{
	char	   *name = psprintf("pg_aim.%s", o->name);
	bool		list = o->multi || o->type == AIM_OPTION_WORDS;
	const char *given = IsUnderPostmaster ? NULL : GetConfigOption(name, true, false);
	char	   *desc;

	desc = MemoryContextStrdup(TopMemoryContext,
							   psprintf("%s%s%s.", list ? "A comma-separated list of " : "Value: ",
										o->args, o->def != NULL ? psprintf("; default %s", o->def) : ""));
	if (option_is_number(o))
	{
		int64		def = o->def != NULL ? strtol(o->def, NULL, 10) : o->min;

		given = given != NULL ? pstrdup(given) : NULL;
		DefineCustomIntVariable(name, o->doc, desc, &option_int[i], (int) def,
								(int) Max(o->min, INT_MIN), (int) Min(o->max, INT_MAX),
								PGC_SIGHUP, GUC_SUPERUSER_ONLY
								| (o->type == AIM_OPTION_SECONDS ? GUC_UNIT_S : 0),
								NULL, pg_aim_int_assign, NULL);
		if (given != NULL && pg_aim_guc(name)->source <= PGC_S_DYNAMIC_DEFAULT)
			ereport(FATAL,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for parameter \"%s\": \"%s\"", name,
							pg_aim_name(given)),
					 errhint("Fix the pg_aim settings in postgresql.conf.")));
	}
	else
		DefineCustomStringVariable(name, o->doc, desc, &option_str[i], "",
								   PGC_SIGHUP,
								   GUC_SUPERUSER_ONLY | (list ? GUC_LIST_INPUT : 0),
								   NULL, pg_aim_string_assign, NULL);
}


/* ---------------------------------------------------------------------- */
/* Requests                                                               */

const char *
pg_aim_database(void)
{
	return (MyProcPort != NULL && MyProcPort->database_name != NULL)
		? MyProcPort->database_name : "";
}

void
pg_aim_request(aim_request *req, const char *action, const char *resource)
{
	memset(req, 0, sizeof(*req));
	req->adapter = "pg";
	req->action = action;
	req->resource = resource;
	req->client = (MyProcPort != NULL) ? MyProcPort->remote_host : NULL;
}

/* A name from the session, bounded for a message. */
char *
pg_aim_name(const char *name)
{
	if (name == NULL)
		return pstrdup("?");
	if (strlen(name) <= PG_AIM_NAME_MAX)
		return pstrdup(name);
	return psprintf("%.*s...", PG_AIM_NAME_MAX, name);
}

int
pg_aim_sqlstate(aim_status s)
{
	switch (s)
	{
		case AIM_INSUFFICIENT_SCOPE:
		case AIM_POLICY_DENIED:
		case AIM_LOW_TRUST:
			return ERRCODE_INSUFFICIENT_PRIVILEGE;
		case AIM_CONFIG:
			return ERRCODE_CONFIG_FILE_ERROR;
		case AIM_INTERNAL:
			return ERRCODE_INTERNAL_ERROR;
		default:
			return ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
	}
}


/* ---------------------------------------------------------------------- */
/* Checks of a bound session                                              */

/*
 * A route the bound agent may not take (one that would move the role, a
 * cursor held past the transaction): the core audits the refusal and
 * counts it against the agent.  Returns the agent, for the message.
 */
const char *
pg_aim_deny(PgAimBinding *b, const char *what)
{
	aim_request req;
	aim_decision d;
	char	   *agent;

	pg_aim_request(&req, what, psprintf("database %s", pg_aim_database()));
	req.host_status = AIM_POLICY_DENIED;
	req.host_message = "refused while an AIM agent is bound";
	(void) aim_decide_token(pg_aim_verifier(), b->token, &req, &d);
	agent = pg_aim_name(aim_token_agent(b->token));
	aim_decision_clear(&d);
	return agent;
}

void
pg_aim_refuse(PgAimBinding *b, const char *what)
{
	const char *agent = pg_aim_deny(b, what);

	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("%s is not allowed while an AIM agent is bound", what),
			 errdetail("The %s is bound to AIM agent \"%s\".",
					   b->scope == PG_AIM_SESSION ? "session" : "transaction",
					   agent),
			 b->scope == PG_AIM_SESSION
			 ? errhint("Open a new connection to act as another role or agent.")
			 : errhint("End the transaction to act as another role or agent.")));
}

/*
 * The role and session user are those of the binding, whatever route
 * might have moved them (the role lock in pg_aim_hooks.c closes the routes;
 * this checks the effect).  Two Oid compares.
 */
static void
check_identity(PgAimBinding *b)
{
	Oid			role = GetCurrentRoleId();
	Oid			sess = GetSessionUserId();

	if (!OidIsValid(b->session_user_id))
		b->session_user_id = sess;
	if (role == b->role_id && sess == b->session_user_id)
		return;
	pg_aim_refuse(b, OidIsValid(role) && role != b->role_id
				  ? psprintf("role \"%s\"", pg_aim_name(GetUserNameFromId(role, true)))
				  : "a change of role");
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* "schema.table,..." of the relations of a range table, sorted, bounded. */
static char *
relations(List *rtable)
{
	char	   *names[16];
	int			n = 0,
				i;
	ListCell   *lc;
	StringInfoData buf;

	foreach(lc, rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
		char	   *rel;

		if (rte->rtekind != RTE_RELATION || n == lengthof(names)
			|| (rel = get_rel_name(rte->relid)) == NULL)
			continue;
		names[n++] = psprintf("%s.%s",
							  pg_aim_name(get_namespace_name(get_rel_namespace(rte->relid))),
							  rel);
	}
	if (n == 0)
		return NULL;
	qsort(names, n, sizeof(char *), name_cmp);
	initStringInfo(&buf);
	for (i = 0; i < n; i++)
	{
		if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
			continue;
		if (buf.len > 0)
			appendStringInfoChar(&buf, ',');
		appendStringInfoString(&buf, names[i]);
	}
	return buf.data;
}

void
pg_aim_forget_checks(void)
{
	checked_generation = 0;
}

/*
 * The bound agent is about to run something: re-check its token (expiry,
 * revocation, key, policy, trust) and feed its baseline, once per statement
 * (a simple query, a protocol Bind and Execute of it, each fast-path call)
 * and again whenever a statement, or a portal fetched from, asks in a new
 * second.  key names what runs (the executor's QueryDesc), so that the
 * Execute of a portal started by the Bind before it is the same statement.
 * The first route to ask describes the statement: action (read, write or
 * admin, as the core's baseline classes them) and resource (the relations
 * of rtable, else the function funcid, else resource).
 */
void
pg_aim_check(const void *key, const char *action, List *rtable,
			 const char *resource, Oid funcid)
{
	PgAimBinding *b = pg_aim_current();
	TimestampTz stmt;
	aim_request req;
	aim_decision d;
	int64		now;

	if (b == NULL || IsParallelWorker())
		return;
	check_identity(b);
	stmt = GetCurrentStatementStartTimestamp();
	now = aim_now();
	if (b->generation == checked_generation && now == checked_second
		&& (stmt == checked_stmt || (key != NULL && key == checked_key)))
	{
		checked_stmt = stmt;
		if (key != NULL)
			checked_key = key;
		return;
	}

	if (rtable != NIL)
		resource = relations(rtable);
	else if (OidIsValid(funcid))
		resource = psprintf("function %s", pg_aim_name(get_func_name(funcid)));
	pg_aim_request(&req, action, resource);
	req.audit = AIM_AUDIT_DENIALS;
	checked_generation = 0;
	if (aim_decide_token(pg_aim_verifier(), b->token, &req, &d) != AIM_OK)
	{
		aim_status	s = d.status;
		char	   *agent = pg_aim_name(aim_token_agent(b->token));
		char	   *message = pstrdup(d.message);

		aim_decision_clear(&d);
		ereport(ERROR,
				(errcode(pg_aim_sqlstate(s)),
				 errmsg("AIM agent \"%s\" is no longer authorized: %s",
						agent, aim_reason(s)),
				 errdetail("%s", message),
				 b->scope == PG_AIM_SESSION
				 ? errhint("Open a new connection with a valid token.")
				 : errhint("End the transaction and bind a valid token.")));
	}
	aim_decision_clear(&d);
	checked_stmt = stmt;
	checked_generation = b->generation;
	checked_second = now;
	checked_key = key;
}


/* ---------------------------------------------------------------------- */
/* Module load                                                            */

void
_PG_init(void)
{
	size_t		count,
				i;
	const aim_option *opts = aim_options(&count);

	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_aim must be loaded via shared_preload_libraries"),
				 errhint("Add pg_aim to shared_preload_libraries and restart the server.")));
	if (count > PG_AIM_MAX_OPTIONS)
		elog(FATAL, "pg_aim: the core has %zu options, more than %d",
			 count, PG_AIM_MAX_OPTIONS);

	for (i = 0; i < count; i++)
		define_option(&opts[i], (int) i);
	DefineCustomStringVariable("pg_aim.config",
							   "AIM host configuration file; pg_aim settings win over it.",
							   NULL, &pg_aim_config, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, pg_aim_string_assign, NULL);
	DefineCustomStringVariable("pg_aim.pam_handoff",
							   "Environment variable pam_aim's handoff= option uses for agent logins.",
							   NULL, &pg_aim_pam_handoff, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   pg_aim_handoff_check, NULL, NULL);
	pg_aim_bind_init();
	MarkGUCPrefixReserved("pg_aim");

	/* The postmaster checks the configuration once: bad values refuse to start. */
	if (!IsUnderPostmaster)
	{
		aim_verifier_free(build_verifier(FATAL));
		pg_aim_bind_startup();
	}
	pg_aim_hooks_init();
}
