/*
 * ssf_apply.c -- the receiving side of libaim for the test transmitter
 * (tests/ssf/transmitter.py selftest --apply): what "aimctl ssf apply"
 * will be, kept to the tests until it is.
 *
 *   ssf_apply CONFIG set FILE|-        apply one SET; print the result as
 *                                      one JSON line; exit 0 acknowledged,
 *                                      1 refused, 3 try again
 *   ssf_apply CONFIG poll FILE|-       apply a poll response; print the
 *                                      next request
 *   ssf_apply CONFIG marks AGENT       print the agent's marks and trust
 *
 * CONFIG is a host configuration file (state, issuer, ssf_keys, ...).
 * Exit 2 on usage or configuration errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "internal.h"
#include "state.h"

static char *
slurp(const char *path, size_t *len)
{
    FILE   *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char   *buf = NULL;
    size_t  n = 0, cap = 0, got;

    if (fp == NULL) {
        return NULL;
    }
    do {
        if (n + 4096 + 1 > cap) {
            cap = (n + 4096 + 1) * 2;
            buf = realloc(buf, cap);
            if (buf == NULL) {
                exit(2);
            }
        }
        got = fread(buf + n, 1, 4096, fp);
        n += got;
    } while (got > 0);
    if (fp != stdin) {
        fclose(fp);
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        n--;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static const char *const outcomes[] = {
    "refused", "applied", "noted", "ignored", "duplicate"
};

int
main(int argc, char **argv)
{
    aim_config       *cfg;
    aim_ssf_receiver *r;
    aim_error         err;
    char             *in;
    size_t            len;
    int               rc = 0;

    if (argc != 4) {
        fprintf(stderr, "usage: ssf_apply CONFIG set|poll FILE|-, "
                "ssf_apply CONFIG marks AGENT\n");
        return 2;
    }
    cfg = aim_config_new();
    if (aim_config_load(cfg, argv[1], &err) != AIM_OK) {
        fprintf(stderr, "ssf_apply: %s\n", err.message);
        return 2;
    }

    if (strcmp(argv[2], "marks") == 0) {
        aim_state         *st = aim_state_open(cfg->state, &err);
        aim_state_signals  m;

        if (st == NULL) {
            fprintf(stderr, "ssf_apply: %s\n", err.message);
            return 2;
        }
        aim_state_signals_get(st, argv[3], &m);
        printf("{\"disabled\":%s,\"revoked_before\":%lld,\"trust\":%.1f}\n",
               m.disabled ? "true" : "false", (long long) m.revoked_before,
               aim_state_trust(st, argv[3], aim_now()));
        aim_state_close(st);
        aim_config_free(cfg);
        return 0;
    }

    r = aim_ssf_receiver_new(cfg, &err);
    aim_config_free(cfg);
    if (r == NULL) {
        fprintf(stderr, "ssf_apply: %s\n", err.message);
        return 2;
    }
    in = slurp(argv[3], &len);
    if (in == NULL) {
        fprintf(stderr, "ssf_apply: cannot read %s\n", argv[3]);
        return 2;
    }
    if (strcmp(argv[2], "set") == 0) {
        aim_ssf_result res;
        json_t        *line;
        char          *s;

        aim_ssf_apply(r, in, len, &res);
        line = json_pack("{s:s, s:s?, s:s, s:s?, s:s, s:s, s:I, s:s}",
                         "status", aim_reason(res.status),
                         "err", aim_ssf_err_code(res.err),
                         "outcome", outcomes[res.outcome],
                         "event", res.event, "agent", res.agent, "jti", res.jti,
                         "event_time", (json_int_t) res.event_time,
                         "message", res.message);
        s = line != NULL ? json_dumps(line, JSON_COMPACT) : NULL;
        printf("%s\n", s != NULL ? s : "{}");
        free(s);
        json_decref(line);
        rc = res.status == AIM_OK ? 0 : res.err != AIM_SSF_ERR_NONE ? 1 : 3;
    } else if (strcmp(argv[2], "poll") == 0) {
        aim_ssf_poll_counts c;
        char               *next = NULL;

        if (aim_ssf_apply_poll(r, in, len, 16, &next, &c, &err) != AIM_OK) {
            fprintf(stderr, "ssf_apply: %s\n", err.message);
            rc = 1;
        } else {
            printf("%s\n", next);
            fprintf(stderr, "received %u acknowledged %u applied %u refused %u "
                    "deferred %u more %d\n", c.received, c.acknowledged, c.applied,
                    c.refused, c.deferred, c.more);
        }
        free(next);
    } else {
        fprintf(stderr, "ssf_apply: no such command \"%s\"\n", argv[2]);
        rc = 2;
    }
    free(in);
    aim_ssf_receiver_free(r);
    return rc;
}
