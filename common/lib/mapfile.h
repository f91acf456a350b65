/*
 * mapfile.h -- a file the processes of a host map and share: the state
 * file (state.c) and the shared signals journal beside it (journal.c).
 *
 * Created group-writable (the services share it through a group,
 * docs/trust.md), never followed through a link, only a regular file,
 * every block allocated (a sparse file raises SIGBUS on the first touch
 * of a page the disk has no room for), and rebuilt empty, under an
 * exclusive flock, when its header is not one this build wrote.
 */
#ifndef AIM_MAPFILE_H
#define AIM_MAPFILE_H

#include <stddef.h>
#include <stdint.h>
#include "aim.h"

typedef struct {
    const char *what;          /* the file in messages: "state" */
    size_t      size;          /* its size, all of it mapped */
    int         lock_wait_ms;  /* how long a lock is waited for; 0: as long
                                * as it takes */
    /* Is map, of a file of file_size bytes, one this build wrote? */
    int       (*valid)(const unsigned char *map, size_t file_size);
    /* Write an empty file's header into map (zeroed): 0, or -1 and errno. */
    int       (*init)(unsigned char *map);
} aim_mapfile;

/* Open path, creating it: the descriptor, or -1 with err set. */
int aim_mapfile_open(const aim_mapfile *k, const char *path, aim_error *err);

/* Map fd (read-write, shared), rebuilt when it is not valid: the mapping
 * of k->size bytes, or NULL with err set (path names the file). */
unsigned char *aim_mapfile_map(const aim_mapfile *k, const char *path, int fd,
                               aim_error *err);

/* Rebuild the file empty, and exactly k->size bytes long; the caller
 * holds the exclusive lock.  0, or -1 and errno. */
int aim_mapfile_rebuild(const aim_mapfile *k, int fd, unsigned char *map);

/* flock(fd, op) waiting at most k->lock_wait_ms: 0, or -1. */
int aim_mapfile_lock(const aim_mapfile *k, int fd, int op);

/* FNV-1a over len bytes from h (AIM_FNV1A_INIT to start): checksums of
 * headers, hashes of names in a table. */
#define AIM_FNV1A_INIT 0xcbf29ce484222325ULL
uint64_t aim_fnv1a(const void *data, size_t len, uint64_t h);

#endif
