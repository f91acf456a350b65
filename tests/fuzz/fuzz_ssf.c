/*
 * fuzz_ssf.c -- libFuzzer harness for shared signals.  The first byte
 * picks what the rest is:
 *
 *   0  the claims of a SET, checked by aim_ssf_parse_claims alone;
 *   1  the claims of a SET correctly signed here (EdDSA, fixed key), so
 *      every input reaches subjects, events, the replay table and the
 *      state file through aim_ssf_apply;
 *   2  a whole compact SET (header, shape, keys);
 *   3  an RFC 8936 poll request to this host's publisher;
 *   4  an RFC 8936 poll response to the receiver.
 *
 * The receiver and publisher share a state file in a temporary directory
 * that is removed at exit; the receiver starts a fresh journal every
 * 4096 inputs, or the frozen clock would let its replay table fill and
 * refuse everything after.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <sys/stat.h>
#include "fuzz_common.h"
#include "internal.h"
#include "b64.h"
#include "json.h"
#include "ssf.h"

#define FUZZ_SSF_ISS  "https://idp.fuzz"
#define FUZZ_SSF_AUD  "https://host.fuzz/ssf"

static aim_config        *cfg;
static aim_ssf_receiver  *rx;
static aim_ssf_publisher *pub;
static fuzz_signer        transmitter;
static char               dir[] = "/tmp/aim-fuzz-ssf.XXXXXX";
static unsigned long      runs;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st; (void) flag; (void) ftw;
    return remove(path);
}

static void
cleanup(void)
{
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void
new_receiver(void)
{
    aim_error err;
    char      path[128];

    aim_ssf_receiver_free(rx);
    snprintf(path, sizeof(path), "%s/state.ssf", dir);
    unlink(path);
    rx = aim_ssf_receiver_new(cfg, &err);
    if (rx == NULL) {
        fuzz_die("receiver", err.message);
    }
    aim_ssf_receiver_set_audit(rx, fuzz_audit_sink, NULL);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char      kp[128], sp[128], pp[128], *jwks;
    aim_error err;
    int       i;

    (void) argc;
    (void) argv;
    aim_set_clock(fuzz_clock);
    if (mkdtemp(dir) == NULL) {
        fuzz_die("mkdtemp", dir);
    }
    atexit(cleanup);
    snprintf(kp, sizeof(kp), "%s/jwks.json", dir);
    snprintf(sp, sizeof(sp), "%s/state", dir);
    snprintf(pp, sizeof(pp), "%s/host.pem", dir);
    jwks = fuzz_jwks();
    fuzz_write(kp, jwks);
    free(jwks);
    fuzz_write(pp, FUZZ_KEY_ES256);
    chmod(pp, 0600);

    cfg = aim_config_new();
    if (aim_config_set(cfg, "issuer", FUZZ_ISS, &err) != AIM_OK
        || aim_config_set(cfg, "state", sp, &err) != AIM_OK
        || aim_config_set(cfg, "ssf_keys", kp, &err) != AIM_OK
        || aim_config_set(cfg, "ssf_issuer", FUZZ_SSF_ISS, &err) != AIM_OK
        || aim_config_set(cfg, "ssf_audience", FUZZ_SSF_AUD, &err) != AIM_OK
        || aim_config_set(cfg, "ssf_sign_key", pp, &err) != AIM_OK
        || aim_config_set(cfg, "ssf_publish_issuer", "https://host.fuzz", &err) != AIM_OK
        || aim_config_set(cfg, "ssf_publish_audience", "urn:fuzz", &err) != AIM_OK)
    {
        fuzz_die("config", err.message);
    }
    new_receiver();
    pub = aim_ssf_publisher_new(cfg, &err);
    if (pub == NULL) {
        fuzz_die("publisher", err.message);
    }
    for (i = 0; i < 4; i++) {
        aim_ssf_record(cfg, i % 2 ? "agent-1" : "spiffe://fuzz/agent-2",
                       (aim_signal_kind) (AIM_SIGNAL_DISABLED + i), "fuzz", &err);
    }
    fuzz_signer_init(&transmitter, 2, "{\"alg\":\"EdDSA\",\"typ\":"
                     "\"secevent+jwt\",\"kid\":\"f-eddsa\"}");
    return 0;
}

static void
check_result(const aim_ssf_result *r)
{
    /* Acknowledged exactly when there is no error code; an error code
     * exactly when refused for a reason RFC 8935 names. */
    if ((r->status == AIM_OK) != (r->outcome != AIM_SSF_REJECTED)
        || (r->status == AIM_OK && r->err != AIM_SSF_ERR_NONE)
        || memchr(r->agent, '\0', sizeof(r->agent)) == NULL
        || memchr(r->message, '\0', sizeof(r->message)) == NULL)
    {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aim_ssf_result res;
    aim_error      err;
    int            mode;

    if (size < 1 || size > 20000) {
        return 0;
    }
    mode = data[0] % 5;
    data++;
    size--;
    if (++runs % 4096 == 0) {
        new_receiver();
    }

    switch (mode) {
    case 0: {
        json_t      *claims = aim_json_parse_object((const char *) data, size,
                                                    "claims", &err);
        aim_ssf_set  set;
        size_t       i, k;

        if (claims == NULL) {
            break;
        }
        if (aim_ssf_parse_claims(cfg, claims, FUZZ_NOW, &set, &err) == AIM_OK) {
            if (set.nevents == 0 || set.nevents > AIM_SSF_MAX_EVENTS
                || set.iss == NULL || set.jti == NULL)
            {
                abort();
            }
            for (i = 0; i < set.nevents; i++) {
                for (k = 0; k < set.events[i].nagents; k++) {
                    const char *a = set.events[i].agents[k];
                    if (a[0] == '\0' || strchr(a, ' ') || strchr(a, '>')) {
                        abort();
                    }
                }
            }
        }
        json_decref(claims);
        break;
    }
    case 1: {
        size_t len;
        char  *tok;

        if (size > 12000) {
            break;
        }
        tok = fuzz_signer_sign(&transmitter, data, size, &len);
        aim_ssf_apply(rx, tok, len, &res);
        check_result(&res);
        free(tok);
        break;
    }
    case 2:
        aim_ssf_apply(rx, (const char *) data, size, &res);
        check_result(&res);
        break;
    case 3: {
        char        *resp = NULL;
        aim_ssf_err  code;

        if (aim_ssf_poll(pub, "fuzzer", (const char *) data, size, &resp, &code,
                         &err) == AIM_OK)
        {
            if (resp == NULL || code != AIM_SSF_ERR_NONE) {
                abort();
            }
        } else if (resp != NULL) {
            abort();
        }
        free(resp);
        break;
    }
    default: {
        char                *next = NULL;
        aim_ssf_poll_counts  c;

        if (aim_ssf_apply_poll(rx, (const char *) data, size, 8, &next, &c,
                               &err) == AIM_OK)
        {
            if (next == NULL
                || c.acknowledged + c.refused + c.deferred != c.received)
            {
                abort();
            }
        }
        free(next);
        break;
    }
    }
    return 0;
}
