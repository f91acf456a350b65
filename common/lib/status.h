/*
 * status.h -- IETF Token Status List (draft-ietf-oauth-status-list):
 * a token carrying  "status": {"status_list": {"idx": N, "uri": U}}  is
 * checked against a signed "statuslist+jwt" held in a local file that
 * configuration management (or a fetch job) keeps current.
 *
 * The list token is verified with the verifier's own keys and only
 * counts for tokens of the issuer its key signs for; its "sub" must be
 * the URI, "iat" is required and may not go back (no rollback to an
 * older list), "exp" in the past makes the list stale.  A stale,
 * unreadable or unverifiable list rejects the tokens that point to it.
 * Status 0 is valid; 1 (invalid), 2 (suspended) and any other value
 * reject.
 */
#ifndef AIM_STATUS_H
#define AIM_STATUS_H

#include <sys/stat.h>
#include "aim.h"
#include "keys.h"

#define AIM_MAX_STATUS_LISTS   8
#define AIM_STATUS_MAX_BYTES   (16u * 1024 * 1024)  /* inflated list */
#define AIM_STATUS_JWT_MAX     (8u * 1024 * 1024)   /* the signed list */

typedef struct {
    char          *uri;
    char          *path;
    struct stat    st;
    unsigned char *data;         /* inflated bytes, NULL when not loaded */
    size_t         len;
    int            bits;         /* 1, 2, 4 or 8 */
    int64_t        exp;          /* -1 when absent */
    int64_t        iat;          /* of the list loaded: no rollback past it */
    const char    *issuer;       /* issuer of the key that signed it */
    char           error[160];   /* why the list is unusable, if it is */
} aim_statuslist;

/* Parse a status list token (already read from path) with keys. */
aim_status aim_statuslist_parse(aim_statuslist *sl, const char *jwt,
                                size_t len, const aim_keyset *keys,
                                aim_error *err);
/* (Re)load from sl->path; on failure the list keeps its old content but
 * returns the error. */
aim_status aim_statuslist_load(aim_statuslist *sl, const aim_keyset *keys,
                               aim_error *err);
void aim_statuslist_clear(aim_statuslist *sl);

/* The status value at idx, or -1 when idx is outside the list. */
int aim_statuslist_get(const aim_statuslist *sl, uint64_t idx);

/* Encode / decode the "lst" member (zlib, base64url) -- aimctl and tests. */
char *aim_statuslist_encode(const unsigned char *data, size_t len);
unsigned char *aim_statuslist_decode(const char *lst, size_t lstlen,
                                     size_t *outlen, aim_error *err);

#endif
