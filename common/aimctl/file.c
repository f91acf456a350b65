/*
 * file.c -- replacing files atomically.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "aimctl.h"

/*
 * Replace path with data atomically: a temporary file in the same
 * directory, written, synced and renamed over path, so a reader (an
 * adapter reloading a status list) sees the old file or the new one,
 * never half of one.  mode is masked by the umask.
 */
void
write_atomic(const char *path, const char *data, size_t len, mode_t mode)
{
    size_t  plen = strlen(path), off = 0;
    char   *tmp = xmalloc(plen + 8);
    mode_t  mask;
    ssize_t n;
    int     fd, saved;

    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".XXXXXX", 8);
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
    mask = umask(0);
    umask(mask);
    if (fchmod(fd, mode & ~mask) != 0 || fsync(fd) != 0) {
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        goto fail;
    }
    free(tmp);
    return;

fail:
    saved = errno;
    if (fd >= 0) {
        close(fd);
    }
    unlink(tmp);
    fail(EXIT_REJECTED, "cannot write \"%s\": %s", path, strerror(saved));
}
