/*
 * signer.c -- private signing keys for the issuing commands (keygen's
 * files, openssl's PEM): algorithm, kid and thumbprint.  Key material
 * never leaves this file except as the public JWK.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include "aimctl.h"
#include "sign.h"

/* The aimctl-alg / aimctl-kid lines of a key file, if any. */
static void
read_meta(const char *path, aim_alg *alg, char *kid, size_t kidsize)
{
    FILE   *fp;
    char    line[512];
    size_t  len;

    *alg = AIM_ALG_NONE;
    kid[0] = '\0';
    fp = fopen(path, "re");
    if (fp == NULL) {
        return;
    }
    /* Unbuffered: no copy of the key stays behind in a stdio buffer. */
    setvbuf(fp, NULL, _IONBF, 0);
    while (fgets(line, sizeof(line), fp) != NULL) {
        len = strcspn(line, "\r\n");
        line[len] = '\0';
        if (strncmp(line, META_ALG, strlen(META_ALG)) == 0) {
            *alg = aim_alg_from_name(line + strlen(META_ALG));
        } else if (strncmp(line, META_KID, strlen(META_KID)) == 0
                   && len - strlen(META_KID) < kidsize)
        {
            memcpy(kid, line + strlen(META_KID), len - strlen(META_KID) + 1);
        }
    }
    OPENSSL_cleanse(line, sizeof(line));
    fclose(fp);
}

static const char *
key_description(EVP_PKEY *pkey)
{
    switch (aim_pkey_alg(pkey, AIM_ALG_NONE)) {
    case AIM_ALG_ES256: return "an EC P-256 key (ES256)";
    case AIM_ALG_ES384: return "an EC P-384 key (ES384)";
    case AIM_ALG_EDDSA: return "an Ed25519 key (EdDSA)";
    case AIM_ALG_RS256: return "an RSA key (RS256 or PS256)";
    default:            return "an unsupported key";
    }
}

/*
 * Load a private key and decide its algorithm and kid: the command line
 * first, then what keygen recorded in the file, then the defaults (the
 * key's type; the RFC 7638 thumbprint).
 */
void
signer_load(signer *s, const char *path, aim_alg alg, int rsa_only,
            const char *kid)
{
    aim_error    err;
    aim_alg      meta_alg;
    char         meta_kid[MAX_KID_LEN + 1];
    struct stat  st;
    json_t      *jwk;

    memset(s, 0, sizeof(*s));
    s->path = path;
    s->pkey = aim_privkey_load(path, &err);
    if (s->pkey == NULL) {
        fail(EXIT_USAGE, "%s", err.message);
    }
    if (stat(path, &st) == 0 && (st.st_mode & 077) != 0) {
        warning("private key \"%s\" is accessible by group or others "
             "(chmod 600 it)", path);
    }
    read_meta(path, &meta_alg, meta_kid, sizeof(meta_kid));

    if (rsa_only && aim_pkey_alg(s->pkey, AIM_ALG_NONE) != AIM_ALG_RS256) {
        alg = AIM_ALG_NONE;
    }
    if (alg == AIM_ALG_NONE) {
        alg = meta_alg;
    }
    if (alg == AIM_ALG_NONE) {
        alg = aim_pkey_alg(s->pkey, AIM_ALG_NONE);
    }
    if (aim_pkey_alg(s->pkey, alg) != alg) {
        fail(EXIT_USAGE, "algorithm %s does not fit \"%s\", %s", aim_alg_name(alg),
             path, key_description(s->pkey));
    }
    s->alg = alg;

    jwk = aim_pubkey_to_jwk(s->pkey, alg, NULL, &err);
    if (jwk == NULL) {
        fail(EXIT_REJECTED, "\"%s\": %s", path, err.message);
    }
    snprintf(s->jkt, sizeof(s->jkt), "%s",
             json_string_value(json_object_get(jwk, "kid")));
    json_decref(jwk);

    if (kid == NULL && meta_kid[0] != '\0') {
        kid = meta_kid;
    }
    snprintf(s->kid, sizeof(s->kid), "%s", kid != NULL ? kid : s->jkt);
}

void
signer_clear(signer *s)
{
    EVP_PKEY_free(s->pkey);
    memset(s, 0, sizeof(*s));
}

/* The public JWK with only the members RFC 7638 hashes (for DPoP). */
json_t *
signer_bare_jwk(const signer *s)
{
    static const char *const members[] = { "kty", "crv", "x", "y", "n", "e", NULL };
    aim_error  err;
    json_t    *full, *bare;
    size_t     i;

    full = aim_pubkey_to_jwk(s->pkey, s->alg, NULL, &err);
    if (full == NULL) {
        fail(EXIT_REJECTED, "\"%s\": %s", s->path, err.message);
    }
    bare = json_object();
    for (i = 0; members[i] != NULL; i++) {
        json_t *v = json_object_get(full, members[i]);
        if (v != NULL) {
            json_object_set(bare, members[i], v);
        }
    }
    json_decref(full);
    return bare;
}

char *
signer_sign(const signer *s, const json_t *hdr, const json_t *claims)
{
    aim_error  err;
    char      *jws = aim_jws_sign(s->pkey, s->alg, hdr, claims, &err);

    if (jws == NULL) {
        fail(EXIT_REJECTED, "%s", err.message);
    }
    return jws;
}
