/*
 * b64.c -- strict base64url without padding.
 */
#include <pthread.h>
#include <stdint.h>
#include "b64.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0..63, or 0xff for any byte outside the alphabet.  A table, not a
 * chain of range tests: signatures are random bytes, and the branches
 * mispredicted on almost every character. */
static const unsigned char b64url_values[256] = {
#define X 0xff
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, 62, X, X,           /* '-' */
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,  /* 0-9 */
    X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,       /* A-O */
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, 63, /* P-Z _ */
    X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
#undef X
};

/*
 * The same values shifted into place for each position of a quad, a bad
 * byte marked by bit 31 in all four: a quad is four loads and three ORs.
 * Built once from b64url_values.
 */
static uint32_t       b64url_quad[4][256];
static pthread_once_t b64url_quad_once = PTHREAD_ONCE_INIT;

static void
b64url_quad_init(void)
{
    int c, k;

    for (c = 0; c < 256; c++) {
        for (k = 0; k < 4; k++) {
            b64url_quad[k][c] = b64url_values[c] == 0xff
                                ? 0x80000000u
                                : (uint32_t) b64url_values[c] << (18 - 6 * k);
        }
    }
}

int
aim_b64url_decode(const char *in, size_t len, unsigned char *out,
                  size_t *outlen)
{
    const unsigned char *p = (const unsigned char *) in;
    size_t   i, o = 0;
    uint32_t acc = 0;
    int      v;

    if (len % 4 == 1) {
        return -1;
    }
    (void) pthread_once(&b64url_quad_once, b64url_quad_init);

    /* Whole quads: one test catches a bad byte among the four. */
    for (i = 0; i + 4 <= len; i += 4) {
        acc = b64url_quad[0][p[i]] | b64url_quad[1][p[i + 1]]
              | b64url_quad[2][p[i + 2]] | b64url_quad[3][p[i + 3]];
        if (acc & 0x80000000u) {
            return -1;
        }
        out[o] = (unsigned char) (acc >> 16);
        out[o + 1] = (unsigned char) (acc >> 8);
        out[o + 2] = (unsigned char) acc;
        o += 3;
    }
    acc = 0;
    for (; i < len; i++) {
        v = b64url_values[(unsigned char) in[i]];
        if (v == 0xff) {
            return -1;
        }
        acc = (acc << 6) | (uint32_t) v;
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
