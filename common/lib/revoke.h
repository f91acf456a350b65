/*
 * revoke.h -- the local revocation list.
 *
 * A text file, one entry a line: "agent <id>", "jti <id>", "kid <id>";
 * blank lines and "#" comments ignored; anything else is an error naming
 * the line.  Re-read when its mtime (or size, or inode) changes.
 */
#ifndef AIM_REVOKE_H
#define AIM_REVOKE_H

#include <sys/stat.h>
#include "aim.h"

#define AIM_REVOKE_MAX_BYTES (64u * 1024 * 1024)   /* a larger file is refused */
#define AIM_REVOKE_MAX_ID    1024                   /* bytes of one identifier */

typedef struct aim_revlist aim_revlist;

aim_revlist *aim_revlist_parse(const char *text, size_t len,
                               const char *source, aim_error *err);
aim_revlist *aim_revlist_load(const char *path, aim_error *err);
/* The same; st receives fstat() of exactly what was read (zero when
 * nothing could be read), also when its content is refused. */
aim_revlist *aim_revlist_load_st(const char *path, struct stat *st,
                         aim_error *err);
void aim_revlist_free(aim_revlist *r);

/* Which entry matched, or NULL: "agent", "jti" or "kid". */
const char *aim_revlist_match(const aim_revlist *r, const char *agent,
                              const char *subject, const char *jti,
                              const char *kid);
size_t aim_revlist_count(const aim_revlist *r);

#endif
