/*
 * t.h -- a tiny test framework: checks that count, sections that name
 * what failed, and the summary line every AIM suite ends with:
 *
 *     <suite>: N passed, N failed, N skipped
 *
 * A check passes or fails; a skip is counted apart and always says why.
 */
#ifndef AIM_T_H
#define AIM_T_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "aim.h"

extern int         t_passed, t_failed, t_skipped;
extern const char *t_section_name;
extern int         t_verbose;

void t_section(const char *name);
void t_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void t_pass(const char *file, int line, const char *what);
void t_skip(const char *why, ...) __attribute__((format(printf, 1, 2)));
/* Print the summary line; returns the process exit status. */
int t_summary(const char *suite);

/* CHECK(cond): passes when cond is true. */
#define CHECK(cond)                                                        \
    do {                                                                   \
        if (cond) t_pass(__FILE__, __LINE__, #cond);                       \
        else t_fail(__FILE__, __LINE__, "%s", #cond);                      \
    } while (0)

/* CHECKF(cond, fmt, ...): the same with an explanation on failure. */
#define CHECKF(cond, ...)                                                  \
    do {                                                                   \
        if (cond) t_pass(__FILE__, __LINE__, #cond);                       \
        else t_fail(__FILE__, __LINE__, __VA_ARGS__);                      \
    } while (0)

/* CHECK_ST(got, want, err): an aim_status, with reasons and the message. */
#define CHECK_ST(got, want, errp)                                          \
    do {                                                                   \
        aim_status t_got_ = (got), t_want_ = (want);                       \
        const aim_error *t_e_ = (errp);                                    \
        if (t_got_ == t_want_) t_pass(__FILE__, __LINE__, #got);           \
        else t_fail(__FILE__, __LINE__, "%s: got %s, want %s (%s)", #got,  \
                    aim_reason(t_got_), aim_reason(t_want_),               \
                    t_e_ != NULL ? t_e_->message : "");                    \
    } while (0)

#define CHECK_STR(got, want)                                               \
    do {                                                                   \
        const char *t_g_ = (got), *t_w_ = (want);                          \
        if ((t_g_ == NULL && t_w_ == NULL)                                 \
            || (t_g_ != NULL && t_w_ != NULL && strcmp(t_g_, t_w_) == 0))  \
            t_pass(__FILE__, __LINE__, #got);                              \
        else t_fail(__FILE__, __LINE__, "%s: got \"%s\", want \"%s\"",     \
                    #got, t_g_ ? t_g_ : "(null)", t_w_ ? t_w_ : "(null)"); \
    } while (0)

#define CHECK_INT(got, want)                                               \
    do {                                                                   \
        long long t_g_ = (long long) (got), t_w_ = (long long) (want);     \
        if (t_g_ == t_w_) t_pass(__FILE__, __LINE__, #got);                \
        else t_fail(__FILE__, __LINE__, "%s: got %lld, want %lld", #got,   \
                    t_g_, t_w_);                                           \
    } while (0)

#endif
