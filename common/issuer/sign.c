/*
 * sign.c -- the development issuer: private keys made, saved and loaded,
 * and tokens signed with any of them.
 *
 * Used by aimctl and the tests; adapters never sign.  Everything here
 * mirrors what keys.c accepts, so a key this file makes is always a key
 * the verifier loads: P-256, P-384, Ed25519, RSA 2048..8192 bits.  The
 * reading of PEM keys, the public JWK and the JWS itself are the
 * library's (signer.c, keys.c), which signs the host's own tokens too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include "sign.h"
#include "util.h"

#define AIM_PRIVKEY_MAX_BYTES (64 * 1024)

/* Does alg fit pkey (type and, for EC, the curve)? */
static int
alg_fits(EVP_PKEY *pkey, aim_alg alg)
{
    aim_alg def = aim_pkey_alg(pkey, alg);

    return alg != AIM_ALG_NONE && def == alg;
}

/* Is this a key the verifier would accept (curve, RSA size)? */
static aim_status
check_key(EVP_PKEY *pkey, const char *what, aim_error *err)
{
    int type = EVP_PKEY_get_base_id(pkey), bits = EVP_PKEY_get_bits(pkey);

    if (type == EVP_PKEY_RSA) {
        if (bits < AIM_RSA_MIN_BITS || bits > AIM_RSA_MAX_BITS) {
            return aim_fail(err, AIM_CONFIG, "%s: RSA key of %d bits refused "
                            "(%d to %d allowed)", what, bits, AIM_RSA_MIN_BITS,
                            AIM_RSA_MAX_BITS);
        }
        return AIM_OK;
    }
    if (aim_pkey_alg(pkey, AIM_ALG_NONE) == AIM_ALG_NONE) {
        return aim_fail(err, AIM_CONFIG, "%s: unsupported key type %s "
                        "(P-256, P-384, Ed25519 or RSA keys only)", what,
                        EVP_PKEY_get0_type_name(pkey) != NULL
                        ? EVP_PKEY_get0_type_name(pkey) : "?");
    }
    return AIM_OK;
}

EVP_PKEY *
aim_privkey_generate(aim_alg alg, int bits, aim_error *err)
{
    EVP_PKEY *pkey = NULL;

    switch (alg) {
    case AIM_ALG_ES256:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;
    case AIM_ALG_ES384:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
        break;
    case AIM_ALG_EDDSA:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    case AIM_ALG_RS256:
    case AIM_ALG_PS256:
        if (bits <= 0) {
            bits = AIM_RSA_MIN_BITS;
        }
        if (bits < AIM_RSA_MIN_BITS || bits > AIM_RSA_MAX_BITS) {
            aim_fail(err, AIM_CONFIG, "RSA keys of %d bits are refused "
                     "(%d to %d allowed)", bits, AIM_RSA_MIN_BITS, AIM_RSA_MAX_BITS);
            return NULL;
        }
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) bits);
        break;
    default:
        aim_fail(err, AIM_CONFIG, "no key generation for algorithm %s "
                 "(ES256 ES384 EdDSA RS256 PS256)", aim_alg_name(alg));
        return NULL;
    }
    if (pkey == NULL) {
        ERR_clear_error();
        aim_fail(err, AIM_INTERNAL, "%s key generation failed", aim_alg_name(alg));
    }
    return pkey;
}

EVP_PKEY *
aim_privkey_load(const char *path, aim_error *err)
{
    EVP_PKEY *pkey = aim_privkey_read(path, AIM_PRIVKEY_MAX_BYTES, 0, err);

    if (pkey != NULL && check_key(pkey, path, err) != AIM_OK) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

aim_status
aim_privkey_save(EVP_PKEY *pkey, const char *path, aim_error *err)
{
    BIO        *bio;
    char       *pem;
    long        len;
    size_t      off = 0;
    ssize_t     n;
    int         fd, saved;
    aim_status  s = AIM_OK;

    /* A secure-memory BIO: its buffer is cleansed on every realloc and
     * on free, so no stray copy of the PEM stays behind in the heap. */
    bio = BIO_new(BIO_s_secmem());
    if (bio == NULL || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0,
                                                NULL, NULL) != 1)
    {
        BIO_free(bio);
        ERR_clear_error();
        return aim_fail(err, AIM_INTERNAL, "cannot encode the private key");
    }
    len = BIO_get_mem_data(bio, &pem);
    if (len <= 0) {
        BIO_free(bio);
        return aim_fail(err, AIM_INTERNAL, "cannot encode the private key");
    }

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW
                    | O_NOCTTY, 0600);
    if (fd < 0) {
        saved = errno;
        BIO_free(bio);
        return aim_fail(err, AIM_CONFIG, "cannot create \"%s\": %s", path,
                        strerror(saved));
    }
    /* An existing file keeps its mode through O_TRUNC: force 0600. */
    if (fchmod(fd, 0600) != 0) {
        s = aim_fail(err, AIM_CONFIG, "cannot chmod 0600 \"%s\": %s", path,
                     strerror(errno));
        goto done;
    }
    while (off < (size_t) len) {
        n = write(fd, pem + off, (size_t) len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            s = aim_fail(err, AIM_CONFIG, "cannot write \"%s\": %s", path,
                         n < 0 ? strerror(errno) : "short write");
            goto done;
        }
        off += (size_t) n;
    }
    if (fsync(fd) != 0) {
        s = aim_fail(err, AIM_CONFIG, "cannot sync \"%s\": %s", path,
                     strerror(errno));
    }

done:
    if (close(fd) != 0 && s == AIM_OK) {
        s = aim_fail(err, AIM_CONFIG, "cannot write \"%s\": %s", path,
                     strerror(errno));
    }
    if (s != AIM_OK) {
        unlink(path);
    }
    OPENSSL_cleanse(pem, (size_t) len);
    BIO_free(bio);
    return s;
}

/* ------------------------------------------------------------------ */
/* Public JWK and signing (the library's)                             */

static aim_status
fits(EVP_PKEY *pkey, aim_alg alg, aim_error *err)
{
    if (alg_fits(pkey, alg)) {
        return AIM_OK;
    }
    return aim_fail(err, AIM_CONFIG, "algorithm %s does not fit this %s key",
                    aim_alg_name(alg), EVP_PKEY_get0_type_name(pkey) != NULL
                    ? EVP_PKEY_get0_type_name(pkey) : "?");
}

json_t *
aim_pubkey_to_jwk(EVP_PKEY *pkey, aim_alg alg, const char *kid, aim_error *err)
{
    if (alg == AIM_ALG_NONE) {
        alg = aim_pkey_alg(pkey, AIM_ALG_NONE);
    }
    if (fits(pkey, alg, err) != AIM_OK) {
        return NULL;
    }
    return aim_jwk_public(pkey, alg, kid, err);
}

char *
aim_jws_sign(EVP_PKEY *pkey, aim_alg alg, const json_t *header,
             const json_t *payload, aim_error *err)
{
    if (pkey == NULL || !json_is_object(header) || !json_is_object(payload)) {
        aim_fail(err, AIM_CONFIG, "nothing to sign");
        return NULL;
    }
    if (fits(pkey, alg, err) != AIM_OK) {
        return NULL;
    }
    /* Member order kept: a test may want a header exactly as it built it. */
    return aim_jws_sign_compact(pkey, alg, header, payload, 0, err);
}
