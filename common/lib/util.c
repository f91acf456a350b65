/*
 * util.c -- small helpers shared by the core's units.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
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

aim_status
aim_fail_option(aim_error *err, aim_status status, const char *option,
                const char *fmt, ...)
{
    va_list ap;
    int     n;

    if (err != NULL) {
        err->status = status;
        err->option = option;
        err->line = 0;
        n = snprintf(err->message, sizeof(err->message), "%s: ",
                     option != NULL ? option : "option");
        if (n < 0 || (size_t) n >= sizeof(err->message)) {
            n = 0;
        }
        va_start(ap, fmt);
        vsnprintf(err->message + n, sizeof(err->message) - (size_t) n, fmt, ap);
        va_end(ap);
    }
    return status;
}

void
aim_logf(aim_log_fn fn, void *ud, int level, const char *fmt, ...)
{
    char    msg[512];
    va_list ap;

    if (fn == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fn(ud, level, msg);
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
    /* ctime too: a chmod or chown (strict_modes) changes only that. */
    return now.st_mtim.tv_sec != st->st_mtim.tv_sec
        || now.st_mtim.tv_nsec != st->st_mtim.tv_nsec
        || now.st_ctim.tv_sec != st->st_ctim.tv_sec
        || now.st_ctim.tv_nsec != st->st_ctim.tv_nsec
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

aim_status
aim_lines_init(aim_lines *it, const char *text, size_t len, const char *source,
               aim_error *err)
{
    it->p = text;
    it->end = text + len;
    it->lineno = 0;
    if (memchr(text, '\0', len) != NULL) {
        return aim_fail(err, AIM_CONFIG, "%s: contains a NUL byte", source);
    }
    return AIM_OK;
}

int
aim_lines_next(aim_lines *it, const char **line, size_t *len)
{
    const char *q, *eol;
    size_t      n;

    while (it->p < it->end) {
        it->lineno++;
        eol = memchr(it->p, '\n', (size_t) (it->end - it->p));
        q = it->p;
        n = eol != NULL ? (size_t) (eol - q) : (size_t) (it->end - q);
        it->p = eol != NULL ? eol + 1 : it->end;
        while (n > 0 && (*q == ' ' || *q == '\t')) {
            q++;
            n--;
        }
        while (n > 0 && (q[n - 1] == ' ' || q[n - 1] == '\t' || q[n - 1] == '\r')) {
            n--;
        }
        if (n > 0 && *q != '#') {
            *line = q;
            *len = n;
            return 1;
        }
    }
    return 0;
}

size_t
aim_utf8_decode(const unsigned char *s, size_t avail, unsigned long *cp)
{
    size_t n, i;

    if (avail == 0) {
        return 0;
    }
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
        *cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        *cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        *cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (avail < n) {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        *cp = (*cp << 6) | (s[i] & 0x3f);
    }
    /* Overlong forms, surrogates, beyond U+10FFFF. */
    if ((n == 3 && *cp < 0x800) || (n == 4 && *cp < 0x10000)
        || (*cp >= 0xd800 && *cp <= 0xdfff) || *cp > 0x10ffff)
    {
        return 0;
    }
    return n;
}

int
aim_text_unsafe(const char *s, size_t len, unsigned flags, const char **what,
                unsigned long *cp)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t               i = 0, n;
    unsigned long        c = 0;

    while (i < len) {
        /* The common case: printable ASCII, eight bytes at a time (every
         * byte above 0x20 and below 0x7f), then one at a time. */
        if (len - i >= 8) {
            uint64_t w;

            memcpy(&w, p + i, 8);
            if ((((w - 0x2121212121212121ULL) | (w + 0x0101010101010101ULL) | w)
                 & 0x8080808080808080ULL) == 0)
            {
                i += 8;
                continue;
            }
        }
        if (p[i] > 0x20 && p[i] < 0x7f) {
            i++;
            continue;
        }
        n = aim_utf8_decode(p + i, len - i, &c);
        if (n == 0) {
            *what = "invalid UTF-8";
            *cp = 0xfffd;
            return 1;
        }
        if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
            *what = "a control character";
        } else if (c == 0x61c || c == 0x200e || c == 0x200f
                   || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
        {
            *what = "a bidirectional control";
        } else if (c == 0x2028 || c == 0x2029) {
            *what = "a line or paragraph separator";
        } else if ((flags & AIM_TEXT_NO_SPACE)
                   && (c == 0x20 || c == 0xa0 || c == 0x1680
                       || (c >= 0x2000 && c <= 0x200b) || c == 0x202f
                       || c == 0x205f || c == 0x3000 || c == 0xfeff))
        {
            *what = "white space";
        } else {
            i += n;
            continue;
        }
        *cp = c;
        return 1;
    }
    return 0;
}

const char *
aim_quote(char *buf, size_t size, const char *s, size_t max)
{
    static const char    hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *) s;
    size_t               len = strnlen(s, max + 1), i = 0, o = 0, n, k;
    unsigned long        cp;
    const char          *what;

    while (i < len && i < max) {
        n = aim_utf8_decode(p + i, len - i, &cp);
        if (n == 0 || aim_text_unsafe((const char *) p + i, n, 0, &what, &cp)) {
            n = n == 0 ? 1 : n;
            if (o + 4 * n + 4 > size) {
                break;
            }
            for (k = 0; k < n; k++) {
                buf[o++] = '\\';
                buf[o++] = 'x';
                buf[o++] = hex[p[i + k] >> 4];
                buf[o++] = hex[p[i + k] & 15];
            }
        } else {
            if (o + n + 4 > size) {
                break;
            }
            memcpy(buf + o, p + i, n);
            o += n;
        }
        i += n;
    }
    if (i < len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* Ownership and mode of one directory on the way to path. */
static aim_status
dir_check(const char *path, const char *dir, int parent, unsigned flags,
          aim_error *err)
{
    struct stat st;
    uid_t       me = geteuid();

    if (stat(dir, &st) != 0) {
        return aim_fail(err, AIM_CONFIG, "%.120s: cannot stat directory %.100s: %s",
                        path, dir, strerror(errno));
    }
    if (st.st_uid != 0 && st.st_uid != me) {
        return aim_fail(err, AIM_CONFIG, "%.120s: directory %.100s is owned by uid "
                        "%lu, not by root or this process's user (uid %lu) "
                        "(strict_modes)", path, dir, (unsigned long) st.st_uid,
                        (unsigned long) me);
    }
    if (st.st_mode & S_ISVTX) {
        return AIM_OK;      /* others may add entries, not replace ours */
    }
    if (st.st_mode & S_IWOTH) {
        return aim_fail(err, AIM_CONFIG, "%.120s: directory %.100s is writable by "
                        "others (mode %04o) (strict_modes)", path, dir,
                        (unsigned) (st.st_mode & 07777));
    }
    if ((st.st_mode & S_IWGRP) && !(parent && (flags & AIM_FILE_GROUP_WRITE))) {
        return aim_fail(err, AIM_CONFIG, "%.120s: directory %.100s is writable by "
                        "its group (mode %04o) (strict_modes)", path, dir,
                        (unsigned) (st.st_mode & 07777));
    }
    return AIM_OK;
}

/* Every directory of an absolute path, from / to its parent. */
static aim_status
dirs_check(const char *path, const char *abs, unsigned flags, aim_error *err)
{
    char       dir[PATH_MAX];
    size_t     len = strlen(abs), i;
    const char *last = strrchr(abs, '/');
    aim_status s;

    if (abs[0] != '/' || len >= sizeof(dir) || last == NULL) {
        return aim_fail(err, AIM_CONFIG, "%.120s: cannot check its directories",
                        path);
    }
    for (i = 0; i <= (size_t) (last - abs); i++) {
        if (abs[i] != '/' || (i > 0 && abs[i - 1] == '/')) {
            continue;
        }
        memcpy(dir, abs, i == 0 ? 1 : i);
        dir[i == 0 ? 1 : i] = '\0';
        s = dir_check(path, dir, abs + i == last, flags, err);
        if (s != AIM_OK) {
            return s;
        }
    }
    return AIM_OK;
}

aim_status
aim_file_check(const char *path, const struct stat *st, unsigned flags,
               aim_error *err)
{
    uid_t       me = geteuid();
    char        real[PATH_MAX], given[PATH_MAX];
    aim_status  s;

    if (st->st_uid != 0 && st->st_uid != me) {
        return aim_fail(err, AIM_CONFIG, "%.120s: owned by uid %lu, not by root "
                        "or this process's user (uid %lu) (strict_modes)", path,
                        (unsigned long) st->st_uid, (unsigned long) me);
    }
    if (st->st_mode & S_IWOTH) {
        return aim_fail(err, AIM_CONFIG, "%.120s: writable by others (mode %04o) "
                        "(strict_modes)", path, (unsigned) (st->st_mode & 07777));
    }
    if ((st->st_mode & S_IWGRP) && !(flags & AIM_FILE_GROUP_WRITE)) {
        return aim_fail(err, AIM_CONFIG, "%.120s: writable by its group (mode "
                        "%04o) (strict_modes)", path, (unsigned) (st->st_mode & 07777));
    }

    /* The directories of the real path, where the file is... */
    if (realpath(path, real) == NULL) {
        return aim_fail(err, AIM_CONFIG, "%.120s: cannot resolve: %s", path,
                        strerror(errno));
    }
    if ((s = dirs_check(path, real, flags, err)) != AIM_OK) {
        return s;
    }
    /* ... and those of the path as given, where its symbolic links are. */
    if (path[0] == '/') {
        snprintf(given, sizeof(given), "%s", path);
    } else if (getcwd(given, sizeof(given)) == NULL
               || strlen(given) + 1 + strlen(path) >= sizeof(given))
    {
        return aim_fail(err, AIM_CONFIG, "%.120s: cannot check its directories",
                        path);
    } else {
        strcat(given, "/");
        strcat(given, path);
    }
    return strcmp(given, real) == 0 ? AIM_OK : dirs_check(path, given, flags, err);
}
