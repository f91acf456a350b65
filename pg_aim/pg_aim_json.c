/*-------------------------------------------------------------------------
 *
 * pg_aim_json.c
 *		The bound agent's verified claims as JSON, for parallel workers.
 *
 * No PostgreSQL headers here: see pg_aim_json.h.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pg_aim_json.h"

struct pg_aim_claims
{
	json_t	   *root;
};

char *
pg_aim_json_bound(const aim_token *t)
{
	json_t	   *o,
			   *scopes,
			   *claims = NULL;
	char	   *text,
			   *out;
	const char *owner = aim_token_owner(t);
	const char *jti = aim_token_jti(t);
	size_t		i;

	text = aim_token_claims_json(t);
	if (text != NULL)
		claims = json_loads(text, 0, NULL);
	free(text);
	if (claims == NULL)
		claims = json_object();
	scopes = json_array();
	for (i = 0; scopes != NULL && i < aim_token_scope_count(t); i++)
		json_array_append_new(scopes, json_string(aim_token_scope_at(t, i)));
	o = json_pack("{s:s, s:o, s:s, s:o, s:o}",
				  "agent", aim_token_agent(t),
				  "owner", owner != NULL ? json_string(owner) : json_null(),
				  "jti", jti != NULL ? jti : "",
				  "scopes", scopes,
				  "claims", claims);
	if (o == NULL)
		return NULL;
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return out;
}

pg_aim_claims *
pg_aim_json_parse(const char *src)
{
	pg_aim_claims *c;
	json_t	   *root = json_loads(src, 0, NULL);

	if (root == NULL || !json_is_object(root))
	{
		json_decref(root);
		return NULL;
	}
	c = malloc(sizeof(*c));
	if (c == NULL)
	{
		json_decref(root);
		return NULL;
	}
	c->root = root;
	return c;
}

void
pg_aim_json_free(pg_aim_claims *c)
{
	if (c == NULL)
		return;
	json_decref(c->root);
	free(c);
}

const char *
pg_aim_json_string(const pg_aim_claims *c, const char *key)
{
	json_t	   *j = json_object_get(c->root, key);

	if (!json_is_string(j) || json_string_length(j) == 0)
		return NULL;
	return json_string_value(j);
}

size_t
pg_aim_json_scope_count(const pg_aim_claims *c)
{
	return json_array_size(json_object_get(c->root, "scopes"));
}

const char *
pg_aim_json_scope_at(const pg_aim_claims *c, size_t i)
{
	const char *s = json_string_value(json_array_get(json_object_get(c->root, "scopes"), i));

	return s != NULL ? s : "";
}

char *
pg_aim_json_claim(const pg_aim_claims *c, const char *name)
{
	json_t	   *j = json_object_get(json_object_get(c->root, "claims"), name);

	if (j == NULL)
		return NULL;
	if (json_is_string(j))
		return strdup(json_string_value(j));
	return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}

char *
pg_aim_json_claims(const pg_aim_claims *c)
{
	json_t	   *j = json_object_get(c->root, "claims");

	return j != NULL ? json_dumps(j, JSON_COMPACT) : strdup("{}");
}
