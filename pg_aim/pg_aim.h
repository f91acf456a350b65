/*-------------------------------------------------------------------------
 *
 * pg_aim.h
 *		What the files of pg_aim share: the settings, the bindings and the
 *		calls into the core.
 *
 * Copyright (c) 2024, AIM authors
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_AIM_H
#define PG_AIM_H

#include "access/xact.h"
#include "nodes/pg_list.h"

#include "aim.h"

/* The longest name (role, setting, object) echoed into a message. */
#define PG_AIM_NAME_MAX 64

/*
 * A binding: the agent's verified token and the role the session switched
 * to (NULL: none).  A session binding (aim.session_init, a PAM agent login)
 * lasts as long as the connection; a transaction binding
 * (aim.transaction_init) ends with its transaction.
 */
typedef enum PgAimScope
{
	PG_AIM_SESSION,
	PG_AIM_TRANSACTION
} PgAimScope;

typedef struct PgAimBinding
{
	aim_token  *token;
	char	   *role;
	PgAimScope	scope;
	SubTransactionId subid;		/* the subtransaction that made it */
	uint64		generation;		/* distinct for every binding made */
	uint64		lineage;		/* the first binding's generation, kept by refreshes */

	/*
	 * The identity the session must keep while bound: the SET ROLE role
	 * (InvalidOid: none) and the session user (InvalidOid: not known yet,
	 * taken at the first check -- agent logins bind before it is set).
	 */
	Oid			role_id;
	Oid			session_user_id;
	struct PgAimBinding *prev;
} PgAimBinding;

struct config_generic;

/* pg_aim.c: settings, the verifier, the checks of a bound session */
extern char *pg_aim_pam_handoff;
extern bool pg_aim_writing;
extern struct config_generic *pg_aim_guc(const char *name);
extern aim_verifier *pg_aim_verifier(void);
extern void pg_aim_request(aim_request *req, const char *action,
						   const char *resource);
extern const char *pg_aim_database(void);
extern char *pg_aim_name(const char *name);
extern int	pg_aim_sqlstate(aim_status s);
extern const char *pg_aim_deny(PgAimBinding *b, const char *what);
extern void pg_aim_refuse(PgAimBinding *b, const char *what) pg_attribute_noreturn();
extern void pg_aim_check(const void *key, const char *action, List *rtable,
						 const char *resource, Oid funcid);
extern void pg_aim_forget_checks(void);

/* pg_aim_bind.c: bindings, the SQL functions, agent logins */
extern PgAimBinding *pg_aim_current(void);
extern void pg_aim_bind_init(void);
extern void pg_aim_bind_startup(void);

/* pg_aim_hooks.c: every route into the executor, the role lock */
extern void pg_aim_hooks_init(void);
extern void pg_aim_check_settings(PgAimBinding *b);
extern void pg_aim_forget_runs(void);

#endif							/* PG_AIM_H */
