/*
 * util.c -- small helpers shared by the core's units.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "util.h"

aim_status
aim_fail(aim_error *err, aim_status status, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL) {
        err->status = status;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return status;
}

char *
aim_read_file(const char *path, size_t max, size_t *len, struct stat *st,
              aim_error *err)
{
    int      fd;
    char    *buf;
    size_t   got = 0;
    ssize_t  n;

    /* O_NONBLOCK: a FIFO put where a file should be is refused below
     * instead of blocking the process (at start or at a reload). */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        aim_fail(err, AIM_CONFIG, "cannot open \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, st) != 0) {
        aim_fail(err, AIM_CONFIG, "cannot stat \"%s\": %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st->st_mode)) {
        aim_fail(err, AIM_CONFIG, "\"%s\" is not a regular file", path);
        close(fd);
        return NULL;
    }
    if ((size_t) st->st_size > max) {
        aim_fail(err, AIM_CONFIG, "\"%s\" is %lld bytes, more than the %zu allowed",
                 path, (long long) st->st_size, max);
        close(fd);
        return NULL;
    }

    buf = malloc((size_t) st->st_size + 1);
    if (buf == NULL) {
        aim_fail(err, AIM_INTERNAL, "out of memory reading \"%s\"", path);
        close(fd);
        return NULL;
    }
    while (got < (size_t) st->st_size) {
        n = read(fd, buf + got, (size_t) st->st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            aim_fail(err, AIM_CONFIG, "cannot read \"%s\": %s", path,
                     n < 0 ? strerror(errno) : "file shrank while reading");
            free(buf);
            close(fd);
            return NULL;
        }
        got += (size_t) n;
    }
    close(fd);
    buf[got] = '\0';
    *len = got;
    return buf;
}

int
aim_file_changed(const char *path, const struct stat *st)
{
    struct stat now;

    if (stat(path, &now) != 0) {
        return 1;
    }
    return now.st_mtim.tv_sec != st->st_mtim.tv_sec
        || now.st_mtim.tv_nsec != st->st_mtim.tv_nsec
        || now.st_size != st->st_size
        || now.st_ino != st->st_ino
        || now.st_dev != st->st_dev;
}

char *
aim_strdup(const char *s)
{
    size_t  n;
    char   *d;

    if (s == NULL) {
        return NULL;
    }
    n = strlen(s) + 1;
    d = malloc(n);
    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}

int
aim_ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

char *
aim_trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
        s++;
    }
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) {
        *--e = '\0';
    }
    return s;
}
