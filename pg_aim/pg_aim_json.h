/*-------------------------------------------------------------------------
 *
 * pg_aim_json.h
 *		The bound agent's verified claims as JSON, for parallel workers.
 *
 * Kept apart from pg_aim.c because jansson and PostgreSQL's fmgrprotos.h
 * both declare json_object().  Strings returned as "char *" are malloc()ed.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_AIM_JSON_H
#define PG_AIM_JSON_H

#include <stddef.h>

#include "aim.h"

#pragma GCC visibility push(hidden)

typedef struct pg_aim_claims pg_aim_claims;

/* {"agent","owner","jti","scopes":[...],"claims":{...}}; NULL on OOM. */
extern char *pg_aim_json_bound(const aim_token *t);

extern pg_aim_claims *pg_aim_json_parse(const char *src);
extern void pg_aim_json_free(pg_aim_claims *c);

/* "agent", "owner", "jti": NULL when absent or empty. */
extern const char *pg_aim_json_string(const pg_aim_claims *c, const char *key);
extern size_t pg_aim_json_scope_count(const pg_aim_claims *c);
extern const char *pg_aim_json_scope_at(const pg_aim_claims *c, size_t i);
/* One claim: a string as is, anything else as compact JSON; NULL when absent. */
extern char *pg_aim_json_claim(const pg_aim_claims *c, const char *name);
/* All claims as compact JSON. */
extern char *pg_aim_json_claims(const pg_aim_claims *c);

#pragma GCC visibility pop

#endif							/* PG_AIM_JSON_H */
