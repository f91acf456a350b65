/*
 * t.c -- the tiny test framework (see t.h).
 */
#include <stdlib.h>
#include "t.h"

int         t_passed, t_failed, t_skipped;
const char *t_section_name = "";
int         t_verbose;

void
t_section(const char *name)
{
    t_section_name = name;
    if (t_verbose) {
        printf("-- %s\n", name);
    }
}

void
t_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    t_failed++;
    printf("FAIL [%s] %s:%d: ", t_section_name, file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

void
t_pass(const char *file, int line, const char *what)
{
    t_passed++;
    if (t_verbose) {
        printf("ok   [%s] %s:%d: %s\n", t_section_name, file, line, what);
    }
}

void
t_skip(const char *why, ...)
{
    va_list ap;

    t_skipped++;
    printf("SKIP [%s] ", t_section_name);
    va_start(ap, why);
    vprintf(why, ap);
    va_end(ap);
    printf("\n");
}

int
t_summary(const char *suite)
{
    printf("%s: %d passed, %d failed, %d skipped\n", suite, t_passed, t_failed,
           t_skipped);
    fflush(stdout);
    return t_failed == 0 ? 0 : 1;
}
