/*
 * mapfile.c -- a file the processes of a host map and share (see
 * mapfile.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "mapfile.h"
#include "util.h"

uint64_t
aim_fnv1a(const void *data, size_t len, uint64_t h)
{
    const unsigned char *p = data;
    size_t               i;

    for (i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

int
aim_mapfile_lock(const aim_mapfile *k, int fd, int op)
{
    struct timespec start, now, nap = { 0, 1000000 };

    if (k->lock_wait_ms == 0) {
        return flock(fd, op);
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (flock(fd, op | LOCK_NB) == 0) {
            return 0;
        }
        if (errno != EWOULDBLOCK && errno != EINTR) {
            return -1;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) * 1000
            + (now.tv_nsec - start.tv_nsec) / 1000000 > k->lock_wait_ms)
        {
            return -1;
        }
        nanosleep(&nap, NULL);
    }
}

int
aim_mapfile_open(const aim_mapfile *k, const char *path, aim_error *err)
{
    struct stat sb;
    int         fd;

    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0660);
    if (fd < 0) {
        aim_fail(err, AIM_CONFIG, "%s: cannot open \"%.200s\": %s", k->what, path,
                 strerror(errno));
        return -1;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        aim_fail(err, AIM_CONFIG, "%s: \"%.200s\" is not a regular file", k->what,
                 path);
        close(fd);
        return -1;
    }
    /* A file just created keeps group write despite the umask. */
    if (sb.st_size == 0 && sb.st_uid == geteuid()) {
        (void) fchmod(fd, 0660);
    }
    return fd;
}

int
aim_mapfile_rebuild(const aim_mapfile *k, int fd, unsigned char *map)
{
    /*
     * To its size exactly: a file that grew (an append, a botched copy)
     * would fail the size check again and be wiped at every check, with
     * every agent's trust and every shared signal's mark.  Processes map
     * k->size bytes only, so cutting what lies beyond touches no mapping.
     */
    if (ftruncate(fd, (off_t) k->size) != 0) {
        return -1;
    }
    if ((errno = posix_fallocate(fd, 0, (off_t) k->size)) != 0) {
        return -1;
    }
    memset(map, 0, k->size);
    return k->init(map);
}

unsigned char *
aim_mapfile_map(const aim_mapfile *k, const char *path, int fd, aim_error *err)
{
    struct stat    sb;
    unsigned char *map = NULL;

    if (aim_mapfile_lock(k, fd, LOCK_EX) != 0) {
        if (k->lock_wait_ms > 0) {
            /* Busy, not misconfigured: the caller may try again. */
            aim_fail(err, AIM_INTERNAL, "%s: \"%.200s\" stays locked", k->what,
                     path);
        } else {
            aim_fail(err, AIM_CONFIG, "%s: cannot lock \"%.200s\": %s", k->what,
                     path, strerror(errno));
        }
        return NULL;
    }
    if (fstat(fd, &sb) != 0
        || (errno = posix_fallocate(fd, 0, (off_t) k->size)) != 0)
    {
        goto fail;
    }
    map = mmap(NULL, k->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        map = NULL;
        goto fail;
    }
    if (!k->valid(map, (size_t) sb.st_size) && aim_mapfile_rebuild(k, fd, map) != 0) {
        goto fail;
    }
    flock(fd, LOCK_UN);
    return map;

fail:
    aim_fail(err, AIM_CONFIG, "%s: \"%.200s\": %s", k->what, path, strerror(errno));
    if (map != NULL) {
        munmap(map, k->size);
    }
    flock(fd, LOCK_UN);
    return NULL;
}
