/*
 * syslog_shim.c -- a test-only preload that appends every pam_syslog()
 * line to one file, so that a test can read what pam_aim logs inside
 * sshd's processes (OpenSSH's keyboard-interactive child clears its
 * environment, which hides pam_wrapper's own copy of the lines).
 *
 *   cc -shared -fPIC -DSHIM_LOG='"/tmp/x/syslog"' -o shim.so syslog_shim.c
 *   LD_PRELOAD="shim.so libpam_wrapper.so" sshd ...
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_ext.h>

#ifndef SHIM_LOG
#error "define SHIM_LOG as the path of the log file"
#endif

void
pam_vsyslog(const pam_handle_t *pamh, int priority, const char *fmt, va_list args)
{
    char line[8192];
    int  n, fd;

    (void) pamh;
    n = snprintf(line, sizeof(line), "<%d> [%ld] ", priority & 7, (long) getpid());
    if (n < 0 || (size_t) n >= sizeof(line)) {
        return;
    }
    vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, args);
    n = (int) strlen(line);
    line[n++] = '\n';
    fd = open(SHIM_LOG, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
        if (write(fd, line, (size_t) n) < 0) {
            /* nothing to do: a test log */
        }
        close(fd);
    }
}

void
pam_syslog(const pam_handle_t *pamh, int priority, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    pam_vsyslog(pamh, priority, fmt, args);
    va_end(args);
}
