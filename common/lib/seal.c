/*
 * seal.c -- sealed hand-off between the processes of one host program.
 *
 * Some hosts split one decision's life over processes that share nothing
 * but what they pass each other: OpenSSH runs PAM's auth and account in a
 * child and opens the session in the parent, and only the PAM environment
 * travels back.  A sealed value is AES-256-GCM under a key this process
 * drew when the library was loaded -- before the host forks, so parent and
 * child share it and no other process has it -- with a caller's context
 * (the PAM handle) as additional data.  Anywhere else the text is useless,
 * and no other code can make one.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "internal.h"

#define SEAL_NONCE 12
#define SEAL_TAG   16

static unsigned char aim_seal_key[32];
static int           aim_seal_ready;

/* Never blocks the loading process: without entropy yet, no seals. */
__attribute__((constructor))
static void
aim_seal_init(void)
{
    aim_seal_ready = getrandom(aim_seal_key, sizeof(aim_seal_key), GRND_NONBLOCK)
                     == (ssize_t) sizeof(aim_seal_key);
}

static int
gcm(int enc, const void *ctx, size_t ctxlen, const unsigned char *nonce,
    const unsigned char *in, size_t len, unsigned char *out, unsigned char *tag)
{
    EVP_CIPHER_CTX *x;
    int             n, ok;

    if (!aim_seal_ready || len > (size_t) AIM_MAX_SEALED || ctxlen > 256) {
        return -1;
    }
    x = EVP_CIPHER_CTX_new();
    ok = x != NULL
         && EVP_CipherInit_ex(x, EVP_aes_256_gcm(), NULL, aim_seal_key, nonce, enc)
         && EVP_CipherUpdate(x, NULL, &n, ctx, (int) ctxlen)
         && EVP_CipherUpdate(x, out, &n, in, (int) len)
         && (enc || EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, SEAL_TAG, tag))
         && EVP_CipherFinal_ex(x, out + n, &n)
         && (!enc || EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, SEAL_TAG, tag));
    EVP_CIPHER_CTX_free(x);
    return ok ? 0 : -1;
}

char *
aim_seal(const void *ctx, size_t ctxlen, const void *data, size_t len)
{
    size_t         blen = SEAL_NONCE + len + SEAL_TAG;
    unsigned char *b;
    char          *text;

    if (len == 0 || len > AIM_MAX_SEALED) {
        return NULL;
    }
    b = malloc(blen);
    text = malloc(4 * ((blen + 2) / 3) + 1);
    if (b == NULL || text == NULL || RAND_bytes(b, SEAL_NONCE) != 1
        || gcm(1, ctx, ctxlen, b, data, len, b + SEAL_NONCE,
               b + SEAL_NONCE + len) != 0)
    {
        free(b);
        free(text);
        return NULL;
    }
    EVP_EncodeBlock((unsigned char *) text, b, (int) blen);
    free(b);
    return text;
}

void *
aim_unseal(const void *ctx, size_t ctxlen, const char *text, size_t *len)
{
    size_t         tlen, blen, plen, pad;
    unsigned char *b, *p;
    int            n;

    if (text == NULL || (tlen = strlen(text)) < 4 * ((SEAL_NONCE + SEAL_TAG + 1 + 2) / 3)
        || tlen % 4 != 0 || tlen > 4 * ((SEAL_NONCE + AIM_MAX_SEALED + SEAL_TAG + 2) / 3))
    {
        return NULL;
    }
    pad = (text[tlen - 1] == '=') + (text[tlen - 2] == '=');
    b = malloc(tlen);
    if (b == NULL) {
        return NULL;
    }
    n = EVP_DecodeBlock(b, (const unsigned char *) text, (int) tlen);
    if (n < 0 || (blen = (size_t) n - pad) <= SEAL_NONCE + SEAL_TAG) {
        free(b);
        return NULL;
    }
    plen = blen - SEAL_NONCE - SEAL_TAG;
    p = malloc(plen + 1);
    if (p == NULL || gcm(0, ctx, ctxlen, b, b + SEAL_NONCE, plen, p,
                         b + SEAL_NONCE + plen) != 0)
    {
        if (p != NULL) {
            OPENSSL_cleanse(p, plen);
        }
        free(p);
        free(b);
        return NULL;
    }
    free(b);
    p[plen] = '\0';
    *len = plen;
    return p;
}
