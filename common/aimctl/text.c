/*
 * text.c -- growing strings, untrusted text made safe for terminals, XML
 * and JSON, and times, for the operator commands.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "aimctl.h"

void
sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t  cap = b->cap != 0 ? b->cap : 256;
        char   *p;

        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        p = realloc(b->p, cap);
        if (p == NULL) {
            fail(EXIT_REJECTED, "out of memory");
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void
sb_puts(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

void
sb_printf(sbuf *b, const char *fmt, ...)
{
    char    tmp[512];
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0) {
        sb_put(b, tmp, (size_t) n < sizeof(tmp) ? (size_t) n : sizeof(tmp) - 1);
    }
}

/* The valid UTF-8 sequence at s: its length (1..4) and code point, or 0. */
static size_t
utf8_next(const unsigned char *s, uint32_t *cp)
{
    uint32_t v;
    size_t   n, i;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2; v = s[0] & 0x1fu;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3; v = s[0] & 0x0fu;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4; v = s[0] & 0x07u;
    } else {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        v = (v << 6) | (s[i] & 0x3fu);
    }
    if ((n == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff)))
        || (n == 4 && (v < 0x10000 || v > 0x10ffff)))
    {
        return 0;
    }
    *cp = v;
    return n;
}

/* Bidirectional overrides and isolates: they reorder what a terminal
 * shows, so an agent id could pose as another. */
static int
is_bidi_control(uint32_t cp)
{
    return cp == 0x061c || cp == 0x200e || cp == 0x200f
        || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * Append untrusted text (agent ids, reasons from log lines) to b, made
 * safe for where it goes: TEXT_TERMINAL shows control characters (C0,
 * C1, bidirectional controls) and invalid UTF-8 as \xNN (no escape
 * sequence reaches the terminal, no text is reordered);
 * TEXT_XML escapes markup and replaces what XML 1.0 cannot carry with
 * '?'; TEXT_UTF8 only replaces invalid UTF-8 with '?' (for jansson).
 */
void
sb_text(sbuf *b, const char *s, int how)
{
    const unsigned char *p = (const unsigned char *) s;
    char                 esc[8];
    uint32_t             cp;
    size_t               n;

    while (*p != '\0') {
        n = utf8_next(p, &cp);
        if (n == 0 || (how != TEXT_UTF8 && (cp < 0x20 || cp == 0x7f
                                            || (cp >= 0x80 && cp < 0xa0)))
            || (how == TEXT_XML && (cp == 0xfffe || cp == 0xffff))
            || (how == TEXT_TERMINAL && is_bidi_control(cp)))
        {
            if (n == 0) {
                n = 1;
            }
            while (n-- > 0) {
                if (how == TEXT_TERMINAL) {
                    snprintf(esc, sizeof(esc), "\\x%02x", (unsigned) *p);
                    sb_put(b, esc, 4);
                } else if (n == 0) {
                    sb_put(b, "?", 1);
                }
                p++;
            }
            continue;
        }
        if (how == TEXT_XML && cp < 0x80 && strchr("&<>\"'", (int) cp) != NULL) {
            switch (cp) {
            case '&':  sb_put(b, "&amp;", 5); break;
            case '<':  sb_put(b, "&lt;", 4); break;
            case '>':  sb_put(b, "&gt;", 4); break;
            case '"':  sb_put(b, "&quot;", 6); break;
            default:   sb_put(b, "&apos;", 6); break;
            }
        } else {
            sb_put(b, (const char *) p, n);
        }
        p += n;
    }
}

/* Columns a UTF-8 string takes (one per code point: good enough for the
 * identifiers aimctl aligns), and s padded to width with spaces. */
int
text_cols(const char *s)
{
    int cols = 0;

    for (; *s != '\0'; s++) {
        cols += ((unsigned char) *s & 0xc0) != 0x80;
    }
    return cols;
}

void
print_padded(const char *s, int width)
{
    int pad = width - text_cols(s);

    fputs(s, stdout);
    while (pad-- > 0) {
        putchar(' ');
    }
}

/* A malloc()ed copy of s made safe as sb_text does. */
char *
clean_text(const char *s, int how)
{
    sbuf b = { NULL, 0, 0 };

    sb_put(&b, "", 0);
    sb_text(&b, s, how);
    return b.p;
}

/* "2026-11-28T23:59:59Z" (UTC); "-" for 0 (never). */
const char *
iso_time(int64_t t, char buf[32])
{
    struct tm tm;
    time_t    tt = (time_t) t;

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
        return "-";
    }
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* The "ts" of an audit line (YYYY-MM-DDTHH:MM:SS[.fraction]Z), or -1. */
int64_t
parse_iso_time(const char *s)
{
    struct tm tm;
    int       n = 0;

    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6
        || n != 19 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1
        || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
    {
        return -1;
    }
    s += n;
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++) {
        }
    }
    if (strcmp(s, "Z") != 0 && strcmp(s, "+00:00") != 0) {
        return -1;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t) timegm(&tm);
}
