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

/* Read a whole regular file (at most max bytes) into a NUL-terminated
 * malloc()ed buffer; st receives its stat.  NULL with err set. */
char *aim_read_file(const char *path, size_t max, size_t *len,
                    struct stat *st, aim_error *err);

/* Did the file change since st?  (mtime, size, inode) */
int aim_file_changed(const char *path, const struct stat *st);

char *aim_strdup(const char *s);

/* Constant-time equality of two byte strings of the same length. */
int aim_ct_equal(const void *a, const void *b, size_t len);

/* Trim ASCII spaces/tabs in place at both ends; returns the start. */
char *aim_trim(char *s);

#endif
