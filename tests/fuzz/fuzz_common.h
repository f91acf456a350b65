/*
 * fuzz_common.h -- what the harnesses and the seed generator share: the
 * fixed keys, the fixed clock, the verifier every token harness uses and
 * the DPoP-bound access token.
 */
#ifndef AIM_FUZZ_COMMON_H
#define AIM_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/pem.h>
#include "aim.h"
#include "b64.h"
#include "keys.h"
#include "sign.h"
#include "fuzz_keys.h"

#define FUZZ_NOW   1800000000LL
#define FUZZ_ISS   "https://issuer.fuzz"
#define FUZZ_AUD   "api"
#define FUZZ_HTU   "https://api.fuzz/kb/42"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    const char *kid;
    aim_alg     alg;
    const char *pem;
} fuzz_keyinfo;

static const fuzz_keyinfo fuzz_keys[] = {
    { "f-es256", AIM_ALG_ES256, FUZZ_KEY_ES256 },
    { "f-es384", AIM_ALG_ES384, FUZZ_KEY_ES384 },
    { "f-eddsa", AIM_ALG_EDDSA, FUZZ_KEY_EDDSA },
    { "f-rs256", AIM_ALG_RS256, FUZZ_KEY_RSA },
    { "f-ps256", AIM_ALG_PS256, FUZZ_KEY_RSA },
};
#define FUZZ_NKEYS (sizeof(fuzz_keys) / sizeof(fuzz_keys[0]))

static inline int64_t
fuzz_clock(void)
{
    return FUZZ_NOW;
}

static inline void
fuzz_die(const char *what, const char *why)
{
    fprintf(stderr, "fuzz setup: %s: %s\n", what, why);
    abort();
}

static inline EVP_PKEY *
fuzz_privkey(size_t i)
{
    BIO      *b = BIO_new_mem_buf(fuzz_keys[i].pem, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);

    BIO_free(b);
    if (k == NULL) {
        fuzz_die("key", fuzz_keys[i].kid);
    }
    return k;
}

/* An audit sink that holds the core to one line per decision. */
static inline void
fuzz_audit_sink(void *ud, const char *line)
{
    (void) ud;
    if (strchr(line, '\n') != NULL) {
        abort();
    }
}

/* The public JWKS of the fixed keys (malloc()ed). */
static inline char *
fuzz_jwks(void)
{
    json_t   *set = json_pack("{s:[]}", "keys");
    aim_error err;
    size_t    i;
    char     *s;

    for (i = 0; i < FUZZ_NKEYS; i++) {
        EVP_PKEY *k = fuzz_privkey(i);
        json_t   *jwk = aim_pubkey_to_jwk(k, fuzz_keys[i].alg, fuzz_keys[i].kid, &err);

        if (jwk == NULL) {
            fuzz_die("jwk", err.message);
        }
        json_array_append_new(json_object_get(set, "keys"), jwk);
        EVP_PKEY_free(k);
    }
    s = json_dumps(set, JSON_COMPACT);
    json_decref(set);
    return s;
}

static inline void
fuzz_write(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0) {
        fuzz_die("write", path);
    }
}

/* The verifier the token harnesses share: fixed keys, a policy and a
 * revocation list, the clock frozen (so nothing ever reloads). */
static inline aim_verifier *fuzz_verifier_state(const char *state);

static inline aim_verifier *
fuzz_verifier(void)
{
    return fuzz_verifier_state(NULL);
}

/* The same with a state file (NULL: none). */
static inline aim_verifier *
fuzz_verifier_state(const char *state)
{
    char          dir[] = "/tmp/aim-fuzz.XXXXXX", kp[64], pp[64], rp[64];
    char         *jwks;
    aim_config   *cfg;
    aim_verifier *v;
    aim_error     err;

    aim_set_clock(fuzz_clock);
    if (mkdtemp(dir) == NULL) {
        fuzz_die("mkdtemp", dir);
    }
    snprintf(kp, sizeof(kp), "%s/jwks.json", dir);
    snprintf(pp, sizeof(pp), "%s/policy", dir);
    snprintf(rp, sizeof(rp), "%s/revoked", dir);
    jwks = fuzz_jwks();
    fuzz_write(kp, jwks);
    free(jwks);
    fuzz_write(pp, "allow agent-* kb:* db:read\nallow orchestrator kb:read\nallow * pub:*\n");
    fuzz_write(rp, "agent agent-666\njti revoked-jti\nkid f-old\n");
    cfg = aim_config_new();
    if (aim_config_set(cfg, "keys", kp, &err) != AIM_OK
        || aim_config_set(cfg, "issuer", FUZZ_ISS, &err) != AIM_OK
        || aim_config_set(cfg, "audience", FUZZ_AUD, &err) != AIM_OK
        || aim_config_set(cfg, "policy", pp, &err) != AIM_OK
        || aim_config_set(cfg, "revoked", rp, &err) != AIM_OK
        || aim_config_set(cfg, "types", "aim+jwt at+jwt JWT", &err) != AIM_OK
        || aim_config_set(cfg, "reload_interval", "3600", &err) != AIM_OK
        || (state != NULL && aim_config_set(cfg, "state", state, &err) != AIM_OK))
    {
        fuzz_die("config", err.message);
    }
    v = aim_verifier_new(cfg, &err);
    aim_config_free(cfg);
    if (v == NULL) {
        fuzz_die("verifier", err.message);
    }
    unlink(kp);
    unlink(pp);
    unlink(rp);
    rmdir(dir);
    return v;
}

/* Sign header and claims (JSON text) with fixed key i. */
static inline char *
fuzz_sign(size_t i, const char *header, const char *claims)
{
    json_t    *h = json_loads(header, 0, NULL), *c = json_loads(claims, 0, NULL);
    EVP_PKEY  *k = fuzz_privkey(i);
    aim_error  err;
    char      *t;

    if (h == NULL || c == NULL) {
        fuzz_die("seed JSON", h == NULL ? header : claims);
    }
    t = aim_jws_sign(k, fuzz_keys[i].alg, h, c, &err);
    if (t == NULL) {
        fuzz_die("sign", err.message);
    }
    json_decref(h);
    json_decref(c);
    EVP_PKEY_free(k);
    return t;
}

/*
 * Any bytes as the payload of a compact JWS correctly signed with fixed
 * key i under a fixed header (JSON text), so that a harness reaches what
 * comes after the signature check.
 */
typedef struct {
    EVP_PKEY *key;
    aim_alg   alg;
    char      hdr[256];           /* base64url of the header */
    size_t    hlen;
} fuzz_signer;

static inline void
fuzz_signer_init(fuzz_signer *s, size_t i, const char *header)
{
    if (AIM_B64_ENCODED_LEN(strlen(header)) > sizeof(s->hdr)) {
        fuzz_die("header", header);
    }
    s->key = fuzz_privkey(i);
    s->alg = fuzz_keys[i].alg;
    s->hlen = aim_b64url_encode((const unsigned char *) header, strlen(header),
                                s->hdr);
}

/* The token (malloc()ed) and its length in *len. */
static inline char *
fuzz_signer_sign(const fuzz_signer *s, const uint8_t *data, size_t size,
                 size_t *len)
{
    char      *input = malloc(s->hlen + 1 + AIM_B64_ENCODED_LEN(size)), *tok;
    size_t     n;
    aim_error  err;

    if (input == NULL) {
        abort();
    }
    memcpy(input, s->hdr, s->hlen);
    input[s->hlen] = '.';
    n = s->hlen + 1 + aim_b64url_encode(data, size, input + s->hlen + 1);
    tok = aim_jws_sign_input(s->key, s->alg, input, n, &err);
    free(input);
    if (tok == NULL) {
        fuzz_die("sign", err.message);
    }
    *len = strlen(tok);
    return tok;
}

/* The DPoP holder key (the ES256 key) and its RFC 7638 thumbprint. */
static inline void
fuzz_holder_jkt(char jkt[44])
{
    EVP_PKEY  *k = fuzz_privkey(0);
    aim_error  err;
    json_t    *jwk = aim_pubkey_to_jwk(k, AIM_ALG_ES256, NULL, &err);

    if (jwk == NULL || aim_jwk_thumbprint(jwk, jkt, &err) != AIM_OK) {
        fuzz_die("thumbprint", err.message);
    }
    json_decref(jwk);
    EVP_PKEY_free(k);
}

/* The access token DPoP proofs are checked against: EdDSA, so the same
 * claims give the same bytes in the harness and the seed generator. */
static inline char *
fuzz_bound_token(void)
{
    char jkt[44], claims[512];

    fuzz_holder_jkt(jkt);
    snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"sub\":\"agent-1\",\"aud\":\"%s\","
             "\"iat\":%lld,\"exp\":%lld,\"jti\":\"bound-1\",\"scope\":\"kb:read\","
             "\"cnf\":{\"jkt\":\"%s\"}}", FUZZ_ISS, FUZZ_AUD, FUZZ_NOW, FUZZ_NOW + 600, jkt);
    return fuzz_sign(2, "{\"alg\":\"EdDSA\",\"typ\":\"aim+jwt\",\"kid\":\"f-eddsa\"}", claims);
}

#endif
