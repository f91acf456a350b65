/*
 * util.h -- small helpers shared by the core's units (not exported).
 */
#ifndef AIM_UTIL_H
#define AIM_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include "aim.h"

/* Set err (may be NULL) and return status. */
aim_status aim_fail(aim_error *err, aim_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The same for a configuration option: err->option names it (NULL when
 * option is), err->line is 0 and the message starts "option: ". */
aim_status aim_fail_option(aim_error *err, aim_status status,
                           const char *option, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Format a message and hand it to fn (nothing when fn is NULL): the
 * log sinks adapters install on verifiers, receivers and publishers. */
void aim_logf(aim_log_fn fn, void *ud, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Read a whole regular file (at most max bytes) into a NUL-terminated
 * malloc()ed buffer; st receives its stat.  NULL with err set. */
char *aim_read_file(const char *path, size_t max, size_t *len,
                    struct stat *st, aim_error *err);

/*
 * StrictModes, as sshd checks a user's authorized_keys: may users other
 * than root and this process's own (effective) user have changed the
 * file that st describes (fstat of what was opened at path)?  Refused:
 * a file owned by another user, or writable by others or by its group;
 * a directory on the way to it (of the path as given and of its real
 * path) owned by another user, or writable by others or its group
 * without the sticky bit (/tmp is fine).  AIM_FILE_GROUP_WRITE allows a
 * group-writable file and parent directory (the shared state file's
 * model: a group the services share, docs/trust.md).  AIM_OK, or
 * AIM_CONFIG with the file, the directory and the problem in err.
 */
#define AIM_FILE_GROUP_WRITE 1u
aim_status aim_file_check(const char *path, const struct stat *st,
                          unsigned flags, aim_error *err);

/* Did the file change since st?  (mtime, ctime, size, inode) */
int aim_file_changed(const char *path, const struct stat *st);

char *aim_strdup(const char *s);

/* Constant-time equality of two byte strings of the same length. */
int aim_ct_equal(const void *a, const void *b, size_t len);

/*
 * Identifiers (agent ids, iss, jti, owner, kid, revocation entries) reach
 * audit lines, syslog, environment variables and terminals.  The first
 * character of s (len bytes) that none may hold -- invalid UTF-8, a C0 or
 * C1 control or DEL, a bidirectional control (U+061C, U+200E, U+200F,
 * U+202A-U+202E, U+2066-U+2069) or a line or paragraph separator (U+2028,
 * U+2029); with AIM_TEXT_NO_SPACE also white space of any kind (U+0020,
 * U+00A0, U+1680, U+2000-U+200B, U+202F, U+205F, U+3000, U+FEFF) --
 * is described in *what ("a control character", ...) with its code
 * point in *cp (U+FFFD for invalid UTF-8).  Returns 1 when one was
 * found, 0 when s is clean.
 */
#define AIM_TEXT_NO_SPACE 1u
int aim_text_unsafe(const char *s, size_t len, unsigned flags,
                    const char **what, unsigned long *cp);

/*
 * s made safe to quote in a message: at most max bytes of it, each byte
 * of what aim_text_unsafe refuses (flags 0) written as \xNN, "..." when
 * cut; always NUL-terminated in buf (size > 4).  Returns buf.  For
 * token content that reaches a message before it was validated (an
 * unknown alg, typ or kid).
 */
const char *aim_quote(char *buf, size_t size, const char *s, size_t max);

/* Length of the valid UTF-8 sequence at s (1-4) and its code point, or 0
 * when s does not start one (avail bytes are readable). */
size_t aim_utf8_decode(const unsigned char *s, size_t avail, unsigned long *cp);

/*
 * The lines of a line-oriented file (revocation list, policy): text of
 * len bytes, which must hold no NUL (aim_lines_init refuses it, naming
 * source).  aim_lines_next gives the next line that is neither blank nor
 * a '#' comment, without the blanks (spaces, tabs) around it and the CR
 * of a CRLF line end: 1 with *line, *len and lineno set, 0 at the end.
 */
typedef struct {
    const char *p, *end;
    size_t      lineno;
} aim_lines;

aim_status aim_lines_init(aim_lines *it, const char *text, size_t len,
                          const char *source, aim_error *err);
int aim_lines_next(aim_lines *it, const char **line, size_t *len);

#endif
