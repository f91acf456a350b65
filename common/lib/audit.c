/*
 * audit.c -- one JSON line per decision, the same schema in every
 * adapter.  Hand-formatted into a bounded buffer: this runs on every
 * request, and a line must never be lost to an allocation failure.
 * The raw token never reaches this file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"
#include "util.h"

#define AIM_AUDIT_FIELD_MAX 512      /* bytes of one string value */

typedef struct {
    char   *buf;
    size_t  size;
    size_t  len;
} outbuf;

static void
put(outbuf *o, const char *s, size_t n)
{
    if (o->len + n < o->size) {
        memcpy(o->buf + o->len, s, n);
        o->len += n;
    } else {
        o->len = o->size;           /* overflow: marked, truncated below */
    }
}

static void
put_str(outbuf *o, const char *s)
{
    put(o, s, strlen(s));
}

/*
 * The content of a JSON string, always valid UTF-8: invalid bytes become
 * U+FFFD.  Adapters' resources (URIs, SQL names) are not validated
 * upstream, so this is the last line before a SIEM's parser -- and
 * before a terminal: C1 controls, bidirectional controls and line
 * separators (what aim_text_unsafe names) are written as \uXXXX escapes,
 * so the text means the same but shows no raw control.
 */
size_t
aim_json_escape(char *dst, const char *s, size_t len)
{
    static const char    hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *) s;
    size_t               i = 0, o = 0, n, run;
    unsigned long        cp = 0;
    const char          *what;

    while (i < len) {
        /* The common case: a run of printable ASCII, copied at once. */
        for (run = i; run < len && p[run] >= 0x20 && p[run] < 0x7f
                      && p[run] != '"' && p[run] != '\\'; run++)
        {
        }
        if (run > i) {
            if (dst != NULL) {
                memcpy(dst + o, p + i, run - i);
            }
            o += run - i;
            i = run;
            continue;
        }
        n = aim_utf8_decode(p + i, len - i, &cp);
        if (n == 0) {
            cp = 0xfffd;
            n = 1;
        } else if (n > 1
                   && !aim_text_unsafe((const char *) p + i, n, 0, &what, &cp))
        {
            if (dst != NULL) {
                memcpy(dst + o, p + i, n);
            }
            o += n;
            i += n;
            continue;
        } else if (n == 1 && (cp == '"' || cp == '\\')) {
            if (dst != NULL) {
                dst[o] = '\\';
                dst[o + 1] = (char) cp;
            }
            o += 2;
            i++;
            continue;
        }
        /* a control, an unsafe character or invalid UTF-8 */
        if (dst != NULL) {
            dst[o] = '\\';
            dst[o + 1] = 'u';
            dst[o + 2] = hex[(cp >> 12) & 15];
            dst[o + 3] = hex[(cp >> 8) & 15];
            dst[o + 4] = hex[(cp >> 4) & 15];
            dst[o + 5] = hex[cp & 15];
        }
        o += 6;
        i += n;
    }
    return o;
}

/*
 * A JSON string value of at most AIM_AUDIT_FIELD_MAX source bytes, cut
 * between characters ("..." marks the cut).
 */
static void
put_json(outbuf *o, const char *s)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t               len = strlen(s), cut = 0, n;
    unsigned long        cp;
    char                 esc[AIM_AUDIT_FIELD_MAX * 6];

    while (cut < len) {
        n = aim_utf8_decode(p + cut, len - cut, &cp);
        if (cut + (n ? n : 1) > AIM_AUDIT_FIELD_MAX) {
            break;
        }
        cut += n ? n : 1;
    }
    put(o, "\"", 1);
    if (o->size - o->len > cut * 6) {
        o->len += aim_json_escape(o->buf + o->len, s, cut);
    } else {
        put(o, esc, aim_json_escape(esc, s, cut));
    }
    if (cut < len) {
        put_str(o, "...");
    }
    put(o, "\"", 1);
}

static void
field(outbuf *o, const char *name, const char *value)
{
    if (value == NULL) {
        return;
    }
    put(o, ",\"", 2);
    put_str(o, name);
    put(o, "\":", 2);
    put_json(o, value);
}

/* {"ts":...,"decision":...,"reason":...  -- every line starts so. */
static void
put_head(outbuf *o, const char *ts, aim_status status, int note)
{
    put_str(o, "{\"ts\":\"");
    put_str(o, ts);
    put_str(o, "\",\"decision\":\"");
    put_str(o, note ? "note" : status == AIM_OK ? "allow" : "deny");
    put_str(o, "\",\"reason\":\"");
    put_str(o, status == AIM_OK ? "ok" : aim_reason(status));
    put_str(o, "\"");
}

/* "YYYY-MM-DDTHH:MM:SSZ" (what strftime's "%Y-%m-%dT%H:%M:%SZ" gives for
 * years 0 to 9999, the range of NumericDates; strftime is a tenth of a
 * cached decision). */
static void
format_ts(char ts[32], const struct tm *tm)
{
    int    v[6] = { tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday,
                    tm->tm_hour, tm->tm_min, tm->tm_sec };
    char  *p = ts;
    int    i;

    if (v[0] < 0 || v[0] > 9999) {
        snprintf(ts, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", v[0], v[1], v[2],
                 v[3], v[4], v[5]);
        return;
    }
    *p++ = (char) ('0' + v[0] / 1000);
    *p++ = (char) ('0' + v[0] / 100 % 10);
    *p++ = (char) ('0' + v[0] / 10 % 10);
    *p++ = (char) ('0' + v[0] % 10);
    for (i = 1; i < 6; i++) {
        *p++ = "--T::"[i - 1];
        *p++ = (char) ('0' + v[i] / 10 % 10);
        *p++ = (char) ('0' + v[i] % 10);
    }
    *p++ = 'Z';
    *p = '\0';
}

/* A whole number in decimal, into the end of buf[32]; returns its start. */
static const char *
format_int(char buf[32], int64_t v)
{
    char     *p = buf + 31;
    uint64_t  u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;

    *p = '\0';
    do {
        *--p = (char) ('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) {
        *--p = '-';
    }
    return p;
}

size_t
aim_audit_format(char *buf, size_t size, const aim_request *req,
                 const aim_token *t, aim_status status, int note,
                 const char *message, int64_t now)
{
    outbuf     o = { buf, size, 0 };
    char       ts[32], num[32];
    struct tm  tm;
    time_t     tt = (time_t) now;
    size_t     i;

    if (size < 64) {
        return 0;
    }
    gmtime_r(&tt, &tm);
    format_ts(ts, &tm);

    put_head(&o, ts, status, note);
    if (req != NULL) {
        field(&o, "adapter", req->adapter);
        field(&o, "action", req->action);
        field(&o, "resource", req->resource);
        field(&o, "client", req->client);
        if (req->nscopes > 0 && req->scopes != NULL) {
            put_str(&o, ",\"required\":[");
            for (i = 0; i < req->nscopes; i++) {
                if (i > 0) {
                    put(&o, ",", 1);
                }
                put_json(&o, req->scopes[i] != NULL ? req->scopes[i] : "");
            }
            put_str(&o, req->any ? "],\"required_any\":true" : "]");
        }
    }
    if (t != NULL) {
        field(&o, "agent", t->agent);
        field(&o, "sub", t->subject);
        field(&o, "owner", t->owner);
        field(&o, "chain", t->chain);
        field(&o, "iss", t->issuer);
        field(&o, "jti", t->jti);
        field(&o, "kid", t->kid);
        field(&o, "scope", t->scope);
        put_str(&o, ",\"exp\":");
        put_str(&o, format_int(num, t->exp));
    }
    if (message != NULL && message[0] != '\0') {
        field(&o, "message", message);
    }
    put(&o, "}", 1);

    if (o.len >= size) {
        /* Too long: keep a valid, marked line rather than a cut one. */
        o.len = 0;
        put_head(&o, ts, status, note);
        put_str(&o, ",\"truncated\":true}");
    }
    buf[o.len < size ? o.len : size - 1] = '\0';
    return o.len;
}

void
aim_audit_emit(aim_verifier *v, const aim_request *req, const aim_token *t,
               aim_status status, int note, const char *message, double trust,
               const char *signal)
{
    char    line[4096];
    size_t  len;

    if (v->audit.fn == NULL && v->audit.fd < 0) {
        return;
    }
    len = aim_audit_format(line, sizeof(line) - 64, req, t, status, note,
                           message, aim_now());
    if (trust >= 0 && len > 0 && line[len - 1] == '}') {
        /* The trust the decision saw, and the anomaly that moved it. */
        len += (size_t) snprintf(line + len - 1, 64, ",\"trust\":%.1f%s%s%s}",
                                 trust, signal ? ",\"signal\":\"" : "",
                                 signal ? signal : "", signal ? "\"" : "") - 1;
    }
    if (aim_audit_write(&v->audit, line, len) != 0) {
        aim_vlog(v, AIM_LOG_ERR, "audit file \"%s\": %s", v->cfg.audit,
                 strerror(errno));
    }
}

/*
 * One line per Security Event Token received: "note" when acknowledged,
 * "deny" when refused, with the event, what it did, the transmitter, the
 * SET's jti and the agent it concerned.
 */
size_t
aim_audit_format_ssf(char *buf, size_t size, const aim_ssf_result *r,
                     int64_t now)
{
    static const char *const outcomes[] = {
        "refused", "applied", "noted", "ignored", "duplicate"
    };
    outbuf     o = { buf, size, 0 };
    char       ts[32], num[32];
    struct tm  tm;
    time_t     tt = (time_t) now;

    if (size < 64) {
        return 0;
    }
    gmtime_r(&tt, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    put_head(&o, ts, r->status, r->status == AIM_OK);
    field(&o, "adapter", "ssf");
    field(&o, "event", r->event);
    if ((unsigned) r->outcome < sizeof(outcomes) / sizeof(outcomes[0])) {
        field(&o, "outcome", outcomes[r->outcome]);
    }
    field(&o, "err", aim_ssf_err_code(r->err));
    field(&o, "iss", r->issuer);
    field(&o, "jti", r->jti[0] ? r->jti : NULL);
    field(&o, "agent", r->agent[0] ? r->agent : NULL);
    if (r->event_time > 0) {
        snprintf(num, sizeof(num), "%lld", (long long) r->event_time);
        put_str(&o, ",\"event_time\":");
        put_str(&o, num);
    }
    field(&o, "message", r->message[0] ? r->message : NULL);
    put(&o, "}", 1);
    if (o.len >= size) {
        o.len = 0;
        put_head(&o, ts, r->status, r->status == AIM_OK);
        put_str(&o, ",\"adapter\":\"ssf\",\"truncated\":true}");
    }
    buf[o.len < size ? o.len : size - 1] = '\0';
    return o.len < size ? o.len : size - 1;
}

/* ------------------------------------------------------------------ */
/* Sinks                                                               */

aim_status
aim_audit_open(aim_audit_sink *s, const char *path, aim_error *err)
{
    s->fd = -1;
    if (path == NULL) {
        return AIM_OK;
    }
    s->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (s->fd < 0) {
        return aim_fail(err, AIM_CONFIG, "audit: cannot open \"%.200s\": %s",
                        path, strerror(errno));
    }
    return AIM_OK;
}

void
aim_audit_close(aim_audit_sink *s)
{
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
}

int
aim_audit_write(const aim_audit_sink *s, char *line, size_t len)
{
    ssize_t n = 0;

    if (s->fn != NULL) {
        s->fn(s->ud, line);
    }
    if (s->fd >= 0) {
        line[len] = '\n';
        do {
            n = write(s->fd, line, len + 1);
        } while (n < 0 && errno == EINTR);
        line[len] = '\0';
    }
    return n < 0 ? -1 : 0;
}
