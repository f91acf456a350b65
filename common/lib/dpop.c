/*
 * dpop.c -- DPoP proofs (RFC 9449): a sender-constrained access token is
 * only honoured with a fresh proof signed by the key its cnf.jkt names.
 */
#include <string.h>
#include <strings.h>
#include "b64.h"
#include "internal.h"
#include "json.h"
#include "jws.h"
#include "util.h"


/*
 * Split "scheme://authority/path" (query and fragment dropped) into its
 * parts, normalised per RFC 3986 6.2.2-6.2.3 as RFC 9449 4.3 asks: scheme
 * and host compared case-insensitively, a default port (":80" for http,
 * ":443" for https) the same as none.  0 on success.
 */
typedef struct {
    const char *scheme, *host, *path;
    size_t      scheme_len, host_len, path_len;
} htu_parts;

static int
htu_split(const char *u, htu_parts *p)
{
    const char *sep = strstr(u, "://"), *auth, *end;

    if (sep == NULL || sep == u) {
        return -1;
    }
    p->scheme = u;
    p->scheme_len = (size_t) (sep - u);
    auth = sep + 3;
    end = auth + strcspn(auth, "/?#");
    p->host = auth;
    p->host_len = (size_t) (end - auth);
    if (p->host_len == 0) {
        return -1;
    }
    if (p->scheme_len == 4 && strncasecmp(u, "http", 4) == 0
        && p->host_len > 3 && memcmp(end - 3, ":80", 3) == 0)
    {
        p->host_len -= 3;
    } else if (p->scheme_len == 5 && strncasecmp(u, "https", 5) == 0
               && p->host_len > 4 && memcmp(end - 4, ":443", 4) == 0)
    {
        p->host_len -= 4;
    }
    p->path = end;
    p->path_len = strcspn(end, "?#");
    if (p->path_len == 0) {       /* an empty path is "/" (6.2.3) */
        p->path = "/";
        p->path_len = 1;
    }
    return 0;
}

static int
htu_equal(const char *htu, const char *url)
{
    htu_parts a, b;

    return htu_split(htu, &a) == 0 && htu_split(url, &b) == 0
        && a.scheme_len == b.scheme_len
        && strncasecmp(a.scheme, b.scheme, a.scheme_len) == 0
        && a.host_len == b.host_len
        && strncasecmp(a.host, b.host, a.host_len) == 0
        && a.path_len == b.path_len
        && memcmp(a.path, b.path, a.path_len) == 0;
}

aim_status
aim_dpop_verify(aim_verifier *v, const char *proof, size_t proof_len,
                const char *token, size_t token_len, const aim_token *t,
                const aim_dpop_request *req, unsigned char jti_hash[32],
                aim_error *err)
{
    unsigned char h[32];
    int           have = token != NULL && token_len > 0
                         && aim_sha256(token, token_len, h);

    return aim_dpop_verify_hash(v, proof, proof_len, have ? h : NULL, t, req,
                                jti_hash, err);
}

aim_status
aim_dpop_verify_hash(aim_verifier *v, const char *proof, size_t proof_len,
                     const unsigned char *token_hash, const aim_token *t,
                     const aim_dpop_request *req, unsigned char jti_hash[32],
                     aim_error *err)
{
    aim_jws        jws;
    aim_key        key;
    aim_alg        alg;
    aim_status     s;
    const json_t  *jwk, *v_htm, *v_htu, *v_jti, *v_ath;
    json_t        *claims = NULL, *header = NULL;
    char           jkt[44], ath[44];
    int64_t        iat, now = aim_now();
    const json_t  *iatv;
    aim_error      inner;
    double         iatd;

    memset(&key, 0, sizeof(key));
    if (proof == NULL || proof_len == 0) {
        return aim_fail(err, AIM_BAD_BINDING, "no DPoP proof");
    }
    if (proof_len > AIM_MAX_PROOF_LEN) {
        return aim_fail(err, AIM_BAD_BINDING, "DPoP proof is %zu bytes, more than "
                        "%d", proof_len, AIM_MAX_PROOF_LEN);
    }
    if (t->cnf_jkt == NULL) {
        return aim_fail(err, AIM_BAD_BINDING, "token is not bound to a DPoP key "
                        "(no cnf.jkt)");
    }

    if (token_hash == NULL) {
        return aim_fail(err, AIM_BAD_BINDING, "no access token to bind the DPoP "
                        "proof to (ath)");
    }
    s = aim_jws_parse(proof, proof_len, &jws, &inner);
    if (s != AIM_OK) {
        return aim_fail(err, AIM_BAD_BINDING, "DPoP proof: %s", inner.message);
    }

    if (jws.typ == NULL || strcmp(jws.typ, "dpop+jwt") != 0) {
        s = aim_fail(err, AIM_BAD_BINDING, "DPoP proof typ is not \"dpop+jwt\"");
        goto done;
    }
    alg = aim_alg_from_name(jws.alg);
    if (alg == AIM_ALG_NONE) {
        char q[80];

        s = aim_fail(err, AIM_BAD_BINDING, "DPoP proof algorithm \"%s\" is not "
                     "accepted", aim_quote(q, sizeof(q), jws.alg, 16));
        goto done;
    }
    /* The header's jwk, through jansson (the key code reads JWKs): the
     * header passed the strict parser, which accepts what jansson does. */
    header = aim_json_parse_object(jws.header, jws.header_len, "DPoP header",
                                   &inner);
    jwk = json_object_get(header, "jwk");
    if (!json_is_object(jwk)) {
        s = aim_fail(err, AIM_BAD_BINDING, "DPoP proof has no \"jwk\" header");
        goto done;
    }
    if (aim_key_from_jwk(jwk, &key, &inner) != AIM_OK) {
        s = aim_fail(err, AIM_BAD_BINDING, "DPoP proof key: %s", inner.message);
        goto done;
    }
    /* An RSA JWK without "alg" may sign with either RSA algorithm. */
    if (key.alg != alg) {
        if ((key.alg == AIM_ALG_RS256 || key.alg == AIM_ALG_PS256)
            && (alg == AIM_ALG_RS256 || alg == AIM_ALG_PS256)
            && json_object_get(jwk, "alg") == NULL)
        {
            EVP_PKEY_CTX_free(key.vctx);
            key.vctx = NULL;
            key.alg = alg;
        } else {
            s = aim_fail(err, AIM_BAD_BINDING, "DPoP proof alg %s does not fit "
                         "its key", aim_alg_name(alg));
            goto done;
        }
    }
    if (aim_sig_verify(key.pkey, alg, (const unsigned char *) proof,
                       jws.signing_input_len, jws.sig, jws.sig_len, err) != AIM_OK)
    {
        s = aim_fail(err, AIM_BAD_BINDING, "DPoP proof signature does not verify");
        goto done;
    }

    /* The proof key must be the one the access token is bound to. */
    if (aim_jwk_thumbprint(jwk, jkt, err) != AIM_OK
        || strlen(t->cnf_jkt) != 43 || !aim_ct_equal(jkt, t->cnf_jkt, 43))
    {
        s = aim_fail(err, AIM_BAD_BINDING, "DPoP proof key is not the key the "
                     "token is bound to");
        goto done;
    }

    claims = aim_json_parse_object((const char *) jws.payload, jws.payload_len,
                                   "DPoP claims", err);
    if (claims == NULL) {
        s = AIM_BAD_BINDING;
        if (err != NULL) err->status = s;
        goto done;
    }
    v_jti = json_object_get(claims, "jti");
    v_htm = json_object_get(claims, "htm");
    v_htu = json_object_get(claims, "htu");
    iatv = json_object_get(claims, "iat");
    if (!json_is_string(v_jti) || json_string_length(v_jti) == 0
        || json_string_length(v_jti) > 256 || !json_is_string(v_htm)
        || !json_is_string(v_htu) || !json_is_number(iatv))
    {
        s = aim_fail(err, AIM_BAD_BINDING, "DPoP proof lacks jti, htm, htu or iat");
        goto done;
    }
    if (req->method == NULL || strcmp(json_string_value(v_htm), req->method) != 0) {
        s = aim_fail(err, AIM_BAD_BINDING, "DPoP proof htm does not match the "
                     "request method");
        goto done;
    }
    if (req->url == NULL || !htu_equal(json_string_value(v_htu), req->url)) {
        s = aim_fail(err, AIM_BAD_BINDING, "DPoP proof htu does not match the "
                     "request URL");
        goto done;
    }
    iatd = json_number_value(iatv);
    if (!(iatd >= 0 && iatd <= 253402300799.0)) {
        s = aim_fail(err, AIM_BAD_BINDING, "DPoP proof iat is out of range");
        goto done;
    }
    iat = (int64_t) iatd;
    if (iat > now + v->cfg.leeway || iat < now - req->max_age - v->cfg.leeway) {
        s = aim_fail(err, AIM_BAD_BINDING, "DPoP proof iat is %lld s off "
                     "(allowed: %lld s old, %lld s ahead)", (long long) (iat - now),
                     (long long) req->max_age, (long long) v->cfg.leeway);
        goto done;
    }
    {
        v_ath = json_object_get(claims, "ath");
        aim_b64url_encode(token_hash, 32, ath);
        if (!json_is_string(v_ath) || json_string_length(v_ath) != 43
            || !aim_ct_equal(json_string_value(v_ath), ath, 43))
        {
            s = aim_fail(err, AIM_BAD_BINDING, "DPoP proof ath does not match the "
                         "access token");
            goto done;
        }
    }
    {
        /* Replay identity: the proof key and its jti together, so one
         * client cannot use up another's (predictable) jti. */
        unsigned char buf[43 + 1 + 256];
        size_t        jl = json_string_length(v_jti);

        memcpy(buf, jkt, 43);
        buf[43] = '.';
        memcpy(buf + 44, json_string_value(v_jti), jl);
        aim_sha256(buf, 44 + jl, jti_hash);
    }
    s = AIM_OK;

done:
    json_decref(claims);
    json_decref(header);
    aim_key_clear(&key);
    aim_jws_clear(&jws);
    return s;
}
