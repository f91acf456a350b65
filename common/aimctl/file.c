/*
 * file.c -- replacing files atomically, and a lock between aimctl
 * writers.
 *
 * A file is replaced by writing a temporary file in the same directory,
 * syncing it and renaming it over the old one, then syncing the
 * directory: a reader (an adapter reloading a list) sees the old file or
 * the new one, never half of one, and a crash leaves one of the two.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "aimctl.h"

/* path with suffix appended, malloc()ed. */
static char *
path_with(const char *path, const char *suffix)
{
    size_t  plen = strlen(path), slen = strlen(suffix);
    char   *p = xmalloc(plen + slen + 1);

    memcpy(p, path, plen);
    memcpy(p + plen, suffix, slen + 1);
    return p;
}

char *
temp_write(const char *path, const char *data, size_t len,
           const struct stat *like, mode_t mode)
{
    char        *tmp = path_with(path, ".XXXXXX");
    struct stat  sb;
    size_t       off = 0;
    ssize_t      n;
    mode_t       mask;
    int          fd, saved;

    fd = mkstemp(tmp);
    if (fd < 0) {
        fail(EXIT_REJECTED, "cannot create a temporary file next to \"%s\": %s",
             path, strerror(errno));
    }
    while (off < len) {
        n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            goto fail;
        }
        off += (size_t) n;
    }
    if (like != NULL) {
        /* The owner first: chown clears set-id bits, chmod restores. */
        if (fstat(fd, &sb) != 0) {
            goto fail;
        }
        if ((sb.st_uid != like->st_uid || sb.st_gid != like->st_gid)
            && fchown(fd, like->st_uid, like->st_gid) != 0)
        {
            saved = errno;
            close(fd);
            unlink(tmp);
            fail(EXIT_REJECTED, "cannot give the new \"%s\" its owner (uid %u, "
                 "gid %u): %s; run as that user or root", path,
                 (unsigned) like->st_uid, (unsigned) like->st_gid, strerror(saved));
        }
        mode = like->st_mode & 07777;
    } else {
        mask = umask(0);
        umask(mask);
        mode &= ~mask;
    }
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    return tmp;

fail:
    saved = errno;
    if (fd >= 0) {
        close(fd);
    }
    unlink(tmp);
    fail(EXIT_REJECTED, "cannot write \"%s\": %s", path, strerror(saved));
}

void
temp_commit(char *tmp, const char *path)
{
    char *dir = xmalloc(strlen(path) + 1);
    int   fd, saved;

    if (rename(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        fail(EXIT_REJECTED, "cannot replace \"%s\": %s", path, strerror(saved));
    }
    free(tmp);
    /* The rename itself durable: sync the directory. */
    strcpy(dir, path);
    fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void) fsync(fd);
        close(fd);
    }
    free(dir);
}

void
temp_discard(char *tmp)
{
    unlink(tmp);
    free(tmp);
}

void
write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
    temp_commit(temp_write(path, data, len, NULL, mode), path);
}

/* Has path changed since it was read as st (or appeared, when it was
 * missing)?  Writers that do not take the lock replace files too. */
int
file_changed_since(const char *path, const struct stat *st, int existed)
{
    struct stat now;

    if (lstat(path, &now) != 0) {
        return existed || errno != ENOENT;
    }
    return !existed || now.st_ino != st->st_ino || now.st_dev != st->st_dev
           || now.st_size != st->st_size
           || now.st_mtim.tv_sec != st->st_mtim.tv_sec
           || now.st_mtim.tv_nsec != st->st_mtim.tv_nsec;
}

int
lock_writers(const char *path)
{
    char *lock = path_with(path, ".lock");
    int   fd, saved;

    /* Read-only is enough for flock, and lets the lock file be shared by
     * operators who may write the directory but not each other's files. */
    fd = open(lock, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
    if (fd < 0) {
        saved = errno;
        fail(EXIT_REJECTED, "cannot open the lock file \"%s\": %s", lock,
             strerror(saved));
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            saved = errno;
            fail(EXIT_REJECTED, "cannot lock \"%s\": %s", lock, strerror(saved));
        }
    }
    free(lock);
    return fd;
}
