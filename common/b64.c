/*
 * b64.c -- strict base64url without padding.
 */
#include <stdint.h>
#include "b64.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0..63, or 0xff for any byte outside the alphabet. */
static int
b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return 0xff;
}

int
aim_b64url_decode(const char *in, size_t len, unsigned char *out,
                  size_t *outlen)
{
    size_t   i, o = 0;
    uint32_t acc = 0;
    int      v;

    if (len % 4 == 1) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        v = b64url_value((unsigned char) in[i]);
        if (v == 0xff) {
            return -1;
        }
        acc = (acc << 6) | (uint32_t) v;
        if (i % 4 == 3) {
            out[o++] = (unsigned char) (acc >> 16);
            out[o++] = (unsigned char) (acc >> 8);
            out[o++] = (unsigned char) acc;
            acc = 0;
        }
    }

    switch (len % 4) {
    case 2:
        if (acc & 0x0f) {          /* non-canonical trailing bits */
            return -1;
        }
        out[o++] = (unsigned char) (acc >> 4);
        break;
    case 3:
        if (acc & 0x03) {
            return -1;
        }
        out[o++] = (unsigned char) (acc >> 10);
        out[o++] = (unsigned char) (acc >> 2);
        break;
    default:
        break;
    }

    *outlen = o;
    return 0;
}

size_t
aim_b64url_encode(const unsigned char *in, size_t len, char *out)
{
    size_t   i, o = 0;
    uint32_t acc;

    for (i = 0; i + 2 < len; i += 3) {
        acc = ((uint32_t) in[i] << 16) | ((uint32_t) in[i + 1] << 8) | in[i + 2];
        out[o++] = b64url_alphabet[(acc >> 18) & 63];
        out[o++] = b64url_alphabet[(acc >> 12) & 63];
        out[o++] = b64url_alphabet[(acc >> 6) & 63];
        out[o++] = b64url_alphabet[acc & 63];
    }

    if (len - i == 1) {
        acc = (uint32_t) in[i] << 16;
        out[o++] = b64url_alphabet[(acc >> 18) & 63];
        out[o++] = b64url_alphabet[(acc >> 12) & 63];
    } else if (len - i == 2) {
        acc = ((uint32_t) in[i] << 16) | ((uint32_t) in[i + 1] << 8);
        out[o++] = b64url_alphabet[(acc >> 18) & 63];
        out[o++] = b64url_alphabet[(acc >> 12) & 63];
        out[o++] = b64url_alphabet[(acc >> 6) & 63];
    }

    out[o] = '\0';
    return o;
}
