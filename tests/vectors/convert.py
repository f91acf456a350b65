#!/usr/bin/env python3
"""convert.py -- turn the public test vectors into AIM's line format.

Usage: convert.py VECTORS_DIR OUT_DIR      (writes OUT_DIR/vectors.txt, PEM files)

The vectors are read here, with Python's own JSON parser, and never with
the JSON code under test: the C runner (vectors.c) only sees this file.
It also decides, independently of the C code, what AIM must answer for
each case; where that differs from the source's verdict, the line says
why, and the runner lists those cases one by one.

Line format (tab-separated fields):
  SUITE  name
  KEY    label  member=s:string | member=a:item,item ...   (a JWK, built in C)
  PEM    label  ALG  path                                  (a key via pem:ALG:path)
  NOKEY  why                                               (the group has no key)
  SIG    id  verdict  expect  msg-hex|-  sig-hex|-  why
  JWS    id  verdict  expect  token  shape  why     (shape: ok|bad, for aim_jws_parse)
  JSON   id  verdict  expect  path  why
  JWKS   id  expect   path  count  why                     (expect: load|refuse)
verdict: what the source says (valid, invalid, acceptable, y, n, i);
expect:  accept | reject | any.
"""

import base64
import json
import os
import sys

PROFILE = ("ES256", "ES384", "EdDSA", "RS256", "PS256")
PRIVATE = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
B64URL = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

# Wycheproof "acceptable" cases: AIM's decision, and why.  Asserted by the
# runner, so a change in OpenSSL or in the core shows up as a failure.
ACCEPTABLE = {
    ("rsa_signature_2048_sha256_test", 8): (
        "reject",
        "DigestInfo without the NULL parameter: RFC 8017 9.2 encodes SHA-256's "
        "AlgorithmIdentifier with NULL; OpenSSL 3 compares the whole DigestInfo "
        "with the one it builds, so AIM rejects the other form (the strict choice)"),
}

out = []


def emit(*fields):
    for f in fields:
        if "\t" in str(f) or "\n" in str(f):
            raise SystemExit("field with a tab or newline: %r" % (f,))
    out.append("\t".join(str(f) for f in fields))


def clean(s):
    return " ".join(str(s).split())


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def public_jwk(jwk):
    """The public members of a JWK (private ones dropped)."""
    return {k: v for k, v in jwk.items() if k not in PRIVATE}


def emit_key(label, jwk):
    fields = []
    for name, value in jwk.items():
        if isinstance(value, str):
            fields.append("%s=s:%s" % (name, value))
        elif isinstance(value, list) and all(isinstance(x, str) for x in value):
            fields.append("%s=a:%s" % (name, ",".join(value)))
        else:
            raise SystemExit("unexpected JWK member %s=%r" % (name, value))
    emit("KEY", label, *fields)


# ------------------------------------------------------------------ weak keys
# An independent reading of the load-time key checks (keys.c does the same
# with OpenSSL's BIGNUM): Ed25519 points on the curve, canonical, neither
# of small order nor outside the prime-order subgroup; RSA moduli without
# a prime factor below 2^14.  Python's integers, straight from the curve
# equation (RFC 8032 5.1), nothing shared with the C code.

ED_P = 2 ** 255 - 19
ED_D = (-121665 * pow(121666, ED_P - 2, ED_P)) % ED_P
ED_L = 2 ** 252 + 27742317777372353535851937790883648493
ED_SQRT_M1 = pow(2, (ED_P - 1) // 4, ED_P)
ED_ID = (0, 1)


def ed_sqrt(a):
    x = pow(a, (ED_P + 3) // 8, ED_P)
    if (x * x - a) % ED_P:
        x = x * ED_SQRT_M1 % ED_P
    return x if (x * x - a) % ED_P == 0 else None


def ed_add(p1, p2):
    (x1, y1), (x2, y2) = p1, p2
    t = ED_D * x1 * x2 * y1 * y2 % ED_P
    return ((x1 * y2 + y1 * x2) * pow(1 + t, ED_P - 2, ED_P) % ED_P,
            (y1 * y2 + x1 * x2) * pow(1 - t, ED_P - 2, ED_P) % ED_P)


def ed_mul(k, pt):
    acc = ED_ID
    while k:
        if k & 1:
            acc = ed_add(acc, pt)
        pt = ed_add(pt, pt)
        k >>= 1
    return acc


def ed_decode(raw):
    """(point, None) or (None, why)."""
    v = int.from_bytes(raw, "little")
    sign, y = v >> 255, v & (2 ** 255 - 1)
    if y >= ED_P:
        return None, "not canonical (y >= p)"
    x = ed_sqrt((y * y - 1) * pow(ED_D * y * y + 1, ED_P - 2, ED_P) % ED_P)
    if x is None:
        return None, "not a point on the curve"
    if x == 0 and sign:
        return None, "not canonical (x = 0 with the sign bit)"
    if x & 1 != sign:
        x = ED_P - x
    return (x, y), None


def ed_encode(pt):
    x, y = pt
    return (y | (x & 1) << 255).to_bytes(32, "little")


def ed25519_refusal(raw):
    pt, why = ed_decode(raw)
    if why:
        return "Ed25519 key " + why
    if ed_mul(8, pt) == ED_ID:
        return "Ed25519 key of small order"
    if ed_mul(ED_L, pt) != ED_ID:
        return "Ed25519 key outside the prime-order subgroup (small-order component)"
    return None


def small_factor(n):
    for f in range(3, 16384, 2):
        if all(f % g for g in range(3, int(f ** 0.5) + 1, 2)) and n % f == 0:
            return f
    return None


def key_refusal(jwk):
    """Why AIM refuses this JWK at load, or None."""
    kty = jwk.get("kty")
    for m in PRIVATE:
        if m in jwk:
            if kty == "oct":
                return "symmetric (HMAC) key: AIM never accepts HMAC"
            return "private key material (\"%s\"): AIM loads public keys only" % m
    if kty == "oct":
        return "symmetric (HMAC) key: AIM never accepts HMAC"
    if jwk.get("use", "sig") != "sig":
        return "key \"use\" is \"%s\", not \"sig\"" % jwk.get("use")
    if "key_ops" in jwk and "verify" not in jwk["key_ops"]:
        return "key_ops %s lack \"verify\"" % ",".join(jwk["key_ops"])
    if "alg" in jwk and jwk["alg"] not in PROFILE:
        return "key algorithm %s is not in AIM's profile" % jwk["alg"]
    if kty == "EC":
        if jwk.get("crv") not in ("P-256", "P-384"):
            return "curve %s is not in AIM's profile (P-256, P-384)" % jwk.get("crv")
    elif kty == "OKP":
        if jwk.get("crv") != "Ed25519":
            return "curve %s is not in AIM's profile (Ed25519)" % jwk.get("crv")
        raw = b64d(jwk["x"])
        if len(raw) == 32:
            return ed25519_refusal(raw)
    elif kty == "RSA":
        n = int.from_bytes(b64d(jwk["n"]), "big")
        e = int.from_bytes(b64d(jwk["e"]), "big")
        if n.bit_length() < 2048:
            return "RSA modulus of %d bits: AIM refuses keys under 2048 bits" % n.bit_length()
        if e < 65537 or e % 2 == 0 or e.bit_length() > 33:
            return ("RSA public exponent e=%d: AIM's small-exponent policy accepts "
                    "odd e from 65537 to 2^32+1 only" % e)
        if n % 2 == 0 or small_factor(n):
            return "RSA modulus with a small prime factor"
    else:
        return "key type %s is not supported" % kty
    return None


def pinned_alg(jwk):
    kty = jwk.get("kty")
    if kty == "EC":
        return {"P-256": "ES256", "P-384": "ES384"}.get(jwk.get("crv"))
    if kty == "OKP":
        return "EdDSA"
    if kty == "RSA":
        return jwk.get("alg", "RS256")
    return None


def jws_refusal(token, jwk):
    """Why AIM rejects this compact JWS under this key, or None."""
    if jwk is None:
        return "no key"
    why = key_refusal(jwk)
    if why:
        return why
    parts = token.split(".")
    if len(parts) != 3:
        return "not a compact JWS (%d parts)" % len(parts)
    if any(p == "" for p in parts):
        return ("an empty part: AIM refuses an empty payload (it carries no "
                "claims) and an empty header or signature")
    for p in parts:
        if not set(p) <= B64URL or len(p) % 4 == 1:
            return "not strict base64url (JWS forbids characters outside [A-Za-z0-9_-])"
    try:
        header = json.loads(b64d(parts[0]))
    except Exception:
        return "the protected header is not JSON"
    if not isinstance(header, dict):
        return "the protected header is not an object"
    alg = header.get("alg")
    if alg not in PROFILE:
        return "algorithm %s is not in AIM's profile" % alg
    if alg != pinned_alg(jwk):
        return "header alg %s does not match the key's algorithm %s" % (alg, pinned_alg(jwk))
    if "crit" in header:
        return "crit present"
    if "kid" in header and "kid" in jwk and header["kid"] != jwk["kid"]:
        return "header kid is not the key's kid"
    return None


def _no_dupes(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError("duplicate member %r" % k)
        d[k] = v
    return d


def _no_constants(name):
    raise ValueError("not JSON: %s" % name)


def _has_nul(v):
    if isinstance(v, str):
        return "\0" in v
    if isinstance(v, dict):
        return any(_has_nul(k) or _has_nul(x) for k, x in v.items())
    if isinstance(v, list):
        return any(_has_nul(x) for x in v)
    return False


def strict_b64(part):
    """Decode strict base64url without padding, or None."""
    if not set(part) <= B64URL or len(part) % 4 == 1:
        return None
    raw = b64d(part)
    return raw if b64e(raw) == part else None     # canonical trailing bits


def jws_shape(token):
    """Is this a compact JWS of AIM's shape (what aim_jws_parse accepts)?
    An independent reading of the profile: 3 non-empty strict base64url
    parts, at most 16384 bytes, header a JSON object of at most 2048
    encoded bytes, no duplicate or NUL, depth <= 8, "alg" a string, "kid"
    a string of 1-256 bytes and "typ" a string when present, no "crit" or
    "b64"."""
    if len(token) > 16384:
        return "bad"
    parts = token.split(".")
    if len(parts) != 3 or any(p == "" for p in parts) or len(parts[0]) > 2048:
        return "bad"
    raws = [strict_b64(p) for p in parts]
    if any(r is None for r in raws):
        return "bad"
    try:
        header = json.loads(raws[0].decode("utf-8"), object_pairs_hook=_no_dupes,
                            parse_constant=_no_constants)
    except Exception:
        return "bad"
    if not isinstance(header, dict) or _has_nul(header) or json_depth(raws[0]) > 8:
        return "bad"
    if not isinstance(header.get("alg"), str):
        return "bad"
    kid = header.get("kid", "x")
    if not isinstance(kid, str) or not 1 <= len(kid.encode()) <= 256:
        return "bad"
    if not isinstance(header.get("typ", ""), str) or "crit" in header or "b64" in header:
        return "bad"
    return "ok"


def expect_of(verdict, refusal):
    if refusal:
        return "reject"
    return {"valid": "accept", "invalid": "reject"}.get(verdict, "any")


# ------------------------------------------------------------------ Wycheproof

def wycheproof_sig(vec, outdir, name, alg, flen):
    path = os.path.join(vec, "wycheproof", name + ".json")
    if not os.path.exists(path):
        emit("MISSING", "wycheproof/" + name)
        return
    doc = json.load(open(path))
    emit("SUITE", "wycheproof/" + name)
    for gi, g in enumerate(doc["testGroups"]):
        jwk = g.get("publicKeyJwk") or g.get("keyJwk")
        if jwk is None and "publicKey" in g and "wx" in g["publicKey"]:
            # Build the JWK from wx/wy (strip a leading 00; pad to the field).
            def coord(h):
                b = bytes.fromhex(h)
                while len(b) > flen and b[0] == 0:
                    b = b[1:]
                return b64e(b.rjust(flen, b"\0"))
            jwk = {"kty": "EC", "crv": {32: "P-256", 48: "P-384"}[flen],
                   "x": coord(g["publicKey"]["wx"]), "y": coord(g["publicKey"]["wy"])}
        jwk = dict(jwk)
        jwk.pop("kid", None)
        emit_key("group %d" % gi, jwk)
        if "publicKeyPem" in g:
            pem = os.path.join(outdir, "%s-%d.pem" % (name, gi))
            with open(pem, "w") as f:
                f.write(g["publicKeyPem"])
            emit("PEM", "group %d (PEM)" % gi, alg, pem)
        refusal = key_refusal(jwk)
        for t in g["tests"]:
            verdict = t["result"]
            why = refusal or ""
            if verdict == "acceptable":
                decision, reason = ACCEPTABLE.get((name, t["tcId"]), ("any", ""))
                if decision == "any":
                    raise SystemExit("%s tc %d is acceptable and undecided: add it "
                                     "to ACCEPTABLE" % (name, t["tcId"]))
                expect = "reject" if refusal else decision
                why = why or "acceptable: " + reason
            else:
                expect = expect_of(verdict, refusal)
            emit("SIG", "tc %d%s" % (t["tcId"], " (" + clean(t["comment"]) + ")" if t["comment"] else ""),
                 verdict, expect, t["msg"] or "-", t["sig"] or "-", why or "-")


def wycheproof_jws(vec):
    path = os.path.join(vec, "wycheproof", "json_web_signature_test.json")
    if not os.path.exists(path):
        emit("MISSING", "wycheproof/json_web_signature_test")
        return
    doc = json.load(open(path))
    emit("SUITE", "wycheproof/json_web_signature_test")
    for gi, g in enumerate(doc["testGroups"]):
        # The public key when there is one, else the private one as given
        # (an HMAC key): AIM must refuse that at load.
        jwk = g.get("public") or g.get("private")
        emit_key("group %d (%s)" % (gi, g.get("comment", "")), jwk)
        for t in g["tests"]:
            token = t["jws"] if isinstance(t["jws"], str) else json.dumps(t["jws"])
            token = token.replace("\t", " ").replace("\n", " ")
            refusal = jws_refusal(token, jwk)
            why = refusal or "-"
            if t["tcId"] in (372, 373):
                why = ("deliberate disagreement: Wycheproof marks valid a token with '?' "
                       "inserted, which decoders that skip junk accept; AIM's strict "
                       "base64url refuses it")
            emit("JWS", "tc %d (%s %s)" % (t["tcId"], g.get("comment", ""), clean(t["comment"])),
                 t["result"], expect_of(t["result"], refusal), token, jws_shape(token), why)


def weak_keys(vec, outdir):
    """Ed25519 keys no one may load, found by arithmetic here (every point
    of order dividing 8, in every encoding that decodes to one; a point of
    each Wycheproof key plus one of order 8), and the Wycheproof keys
    themselves, which must load: each as a one-key JWKS file."""
    emit("SUITE", "weak keys (Ed25519 small order, mixed order; Wycheproof keys)")
    small = set()
    # The torsion points: y = 0, 1, p-1, and the y of the order-8 points,
    # y^2 = (-1 +- sqrt(1 + d)) / d (from [2]P having y = 0).
    ys = {0, 1, ED_P - 1}
    r = ed_sqrt((1 + ED_D) % ED_P)
    for s in (1, -1):
        y = ed_sqrt((-1 + s * r) * pow(ED_D, ED_P - 2, ED_P) % ED_P)
        if y is not None:
            ys |= {y, ED_P - y}
    for y in ys:
        for enc_y in (y, y + ED_P):
            if enc_y >= 2 ** 255:
                continue
            for sign in (0, 1):
                small.add((enc_y | sign << 255).to_bytes(32, "little"))
    torsion = [ed_decode(r)[0] for r in small if ed_decode(r)[0] is not None]
    if len(set(torsion)) != 8 or any(ed_mul(8, t) != ED_ID for t in torsion):
        raise SystemExit("the torsion subgroup does not have 8 points")
    order8 = [t for t in torsion if ed_mul(4, t) != ED_ID][0]
    n = 0
    for raw in sorted(small):
        n += 1
        why = ed25519_refusal(raw) or ""
        if not why:
            raise SystemExit("small-order encoding %s passes the Python check" % raw.hex())
        write_jwks(outdir, "weak-%d" % n, raw)
        emit("JWKS", "small order %s" % raw.hex(), "refuse",
             os.path.join(outdir, "weak-%d.jwks" % n), 0, why)
    path = os.path.join(vec, "wycheproof", "ed25519_test.json")
    if not os.path.exists(path):
        emit("MISSING", "wycheproof/ed25519_test (for the weak-key suite)")
        return
    seen = set()
    for g in json.load(open(path))["testGroups"]:
        raw = b64d(g["publicKeyJwk"]["x"])
        if raw in seen:
            continue
        seen.add(raw)
        n += 1
        why = ed25519_refusal(raw)
        write_jwks(outdir, "wp-%d" % n, raw)
        emit("JWKS", "Wycheproof key %s" % raw.hex(), "refuse" if why else "load",
             os.path.join(outdir, "wp-%d.jwks" % n), 0 if why else 1, why or "-")
        mixed = ed_encode(ed_add(ed_decode(raw)[0], order8))
        why = ed25519_refusal(mixed)
        if not why:
            raise SystemExit("mixed-order key %s passes the Python check" % mixed.hex())
        write_jwks(outdir, "mixed-%d" % n, mixed)
        emit("JWKS", "Wycheproof key %s + a point of order 8" % raw.hex(), "refuse",
             os.path.join(outdir, "mixed-%d.jwks" % n), 0, why)


def write_jwks(outdir, name, raw):
    with open(os.path.join(outdir, name + ".jwks"), "w") as f:
        json.dump({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": name,
                             "x": b64e(raw)}]}, f)


# ------------------------------------------------------------------ RFC 7515 / 7520

def read(path):
    with open(path) as f:
        return f.read().strip()


def rfc7515(vec):
    d = os.path.join(vec, "rfc7515")
    if not os.path.isdir(d):
        emit("MISSING", "rfc7515")
        return
    emit("SUITE", "rfc7515")
    for name, verdict in (("A.1", "valid"), ("A.2", "valid"), ("A.3", "valid"),
                          ("A.4", "valid"), ("A.5", "valid")):
        token = read(os.path.join(d, "rfc7515_%s.jwsc" % name))
        kp = os.path.join(d, "rfc7515_%s.jwk" % name)
        if os.path.exists(kp):
            jwk = json.load(open(kp))
            if jwk.get("kty") != "oct":
                jwk = public_jwk(jwk)
            emit_key(name, jwk)
        else:
            jwk = None
            emit("NOKEY", "A.5 (alg none) has no key")
        refusal = jws_refusal(token, jwk)
        if name == "A.5":
            refusal = "alg none: never accepted"
        emit("JWS", "RFC 7515 " + name, verdict, expect_of(verdict, refusal), token,
             jws_shape(token), refusal or "-")
    # A.6 (general) and A.7 (flattened) JSON serialisations: AIM reads the
    # compact form only; each signature rebuilt as a compact JWS verifies.
    general = json.load(open(os.path.join(d, "rfc7515_A.6.jwsg")))
    keys = {"RS256": public_jwk(json.load(open(os.path.join(d, "rfc7515_A.6.1.jwk")))),
            "ES256": public_jwk(json.load(open(os.path.join(d, "rfc7515_A.6.2.jwk"))))}
    emit("NOKEY", "a JSON serialisation")
    tok = json.dumps(general, separators=(",", ":"))
    emit("JWS", "RFC 7515 A.6 as JSON", "valid", "reject", tok, jws_shape(tok),
         "JSON serialisation: AIM accepts the compact form only")
    for i, s in enumerate(general["signatures"]):
        alg = json.loads(b64d(s["protected"]))["alg"]
        emit_key("A.6.%d" % (i + 1), keys[alg])
        token = "%s.%s.%s" % (s["protected"], general["payload"], s["signature"])
        refusal = jws_refusal(token, keys[alg])
        emit("JWS", "RFC 7515 A.6 signature %d (%s) as compact" % (i + 1, alg), "valid",
             expect_of("valid", refusal), token, jws_shape(token), refusal or "-")
    flat = json.load(open(os.path.join(d, "rfc7515_A.7.jwsf")))
    k7 = public_jwk(json.load(open(os.path.join(d, "rfc7515_A.7.jwk"))))
    emit_key("A.7", k7)
    token = "%s.%s.%s" % (flat["protected"], flat["payload"], flat["signature"])
    refusal = jws_refusal(token, k7)
    emit("JWS", "RFC 7515 A.7 as compact", "valid", expect_of("valid", refusal), token,
         jws_shape(token), refusal or "-")
    # RFC 7517 Appendix A key sets.
    for name, expect, count, why in (
            ("A.1", "load", 1, "an EC key with use enc (skipped) and an RS256 key"),
            ("A.2", "refuse", 0, "private keys: refused"),
            ("A.3", "refuse", 0, "symmetric keys: refused")):
        emit("JWKS", "RFC 7517 " + name, expect, os.path.join(d, "rfc7517_%s.jwkset" % name),
             count, why)
    emit("JWKS", "RFC 7515 A.6 key set", "refuse", os.path.join(d, "rfc7515_A.6.jwkset"), 0,
         "private keys: refused")


def cookbook(vec):
    d = os.path.join(vec, "jose-cookbook", "jws")
    if not os.path.isdir(d):
        emit("MISSING", "jose-cookbook")
        return
    emit("SUITE", "rfc7520")
    for f in sorted(os.listdir(d)):
        if not f.endswith(".json"):
            continue
        doc = json.load(open(os.path.join(d, f)))
        sec = f.split(".")[0].replace("_", ".")
        keys = doc["input"]["key"]
        keys = keys if isinstance(keys, list) else [keys]
        pub = [k if k.get("kty") == "oct" else public_jwk(k) for k in keys]
        outp = doc["output"]
        if "compact" in outp and outp["compact"]:
            jwk = pub[0]
            emit_key(sec, jwk)
            refusal = jws_refusal(outp["compact"], jwk)
            emit("JWS", "RFC 7520 %s (%s) compact" % (sec, doc["input"]["alg"]), "valid",
                 expect_of("valid", refusal), outp["compact"], jws_shape(outp["compact"]),
                 refusal or "-")
        # Every signature of the JSON serialisations, rebuilt as compact.
        sigs = []
        if "json" in outp:
            sigs = outp["json"]["signatures"]
            payload = outp["json"].get("payload", "")
        for i, s in enumerate(sigs):
            protected = s.get("protected", "")
            hdr = json.loads(b64d(protected)) if protected else {}
            alg = hdr.get("alg") or s.get("header", {}).get("alg")
            jwk = None
            for k in pub:
                if pinned_alg(k) == alg or (k.get("kty") == "oct" and alg.startswith("HS")) \
                        or (k.get("kty") == "EC" and alg == "ES512") \
                        or (k.get("kty") == "RSA" and alg.startswith(("RS", "PS"))):
                    jwk = k
                    break
            if jwk is None:
                jwk = pub[0]
            emit_key("%s signature %d" % (sec, i + 1), jwk)
            token = "%s.%s.%s" % (protected, payload, s["signature"])
            refusal = jws_refusal(token, jwk)
            if not protected:
                refusal = "no protected header (alg only in the unprotected header)"
            emit("JWS", "RFC 7520 %s signature %d (%s) as compact" % (sec, i + 1, alg), "valid",
                 expect_of("valid", refusal), token, jws_shape(token), refusal or "-")
        if "json_flat" in outp:
            emit("NOKEY", "a JSON serialisation")
            tok = json.dumps(outp["json_flat"], separators=(",", ":"))
            emit("JWS", "RFC 7520 %s flattened JSON" % sec, "valid", "reject", tok,
                 jws_shape(tok), "JSON serialisation: AIM accepts the compact form only")
    # RFC 8037 A.4: Ed25519.
    p = os.path.join(vec, "jose-cookbook", "curve25519", "jws.json")
    if os.path.exists(p):
        doc = json.load(open(p))
        jwk = public_jwk(doc["input"]["key"])
        emit_key("RFC 8037 Ed25519", jwk)
        tok = doc["output"]["compact"]
        refusal = jws_refusal(tok, jwk)
        emit("JWS", "RFC 8037 A.4 EdDSA compact", "valid", expect_of("valid", refusal), tok,
             jws_shape(tok), refusal or "-")


# ------------------------------------------------------------------ JSONTestSuite

# y_ files AIM's strict parser refuses on purpose, and why.
JSON_STRICTER = {
    "y_object_duplicated_key.json": "duplicate member names are refused (a second "
                                    "\"sub\" must never win)",
    "y_object_duplicated_key_and_value.json": "duplicate member names are refused, "
                                              "even with equal values",
    "y_object_escaped_null_in_key.json": "NUL (\\u0000) in a string is refused "
                                         "(C strings would truncate there)",
    "y_string_null_escape.json": "NUL (\\u0000) in a string is refused",
}


def json_suite(vec):
    d = os.path.join(vec, "JSONTestSuite", "test_parsing")
    if not os.path.isdir(d):
        emit("MISSING", "JSONTestSuite")
        return
    emit("SUITE", "JSONTestSuite")
    for f in sorted(os.listdir(d)):
        if not f.endswith(".json") or f[0] not in "yni" or f[1] != "_":
            continue
        path = os.path.join(d, f)
        verdict = f[0]
        why = "-"
        if verdict == "y":
            expect = "accept"
            if f in JSON_STRICTER:
                expect, why = "reject", JSON_STRICTER[f]
            else:
                depth = json_depth(open(path, "rb").read())
                if depth > 8:
                    expect, why = "reject", ("nested %d deep: AIM allows %d "
                                             "(AIM_MAX_JSON_DEPTH)" % (depth, 8))
        elif verdict == "n":
            expect = "reject"
        else:
            expect = "any"
        emit("JSON", f, verdict, expect, path, why)


def json_depth(data):
    depth = best = 0
    in_str = esc = False
    for c in data:
        c = chr(c)
        if in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
            continue
        if c == '"':
            in_str = True
        elif c in "[{":
            depth += 1
            best = max(best, depth)
        elif c in "]}":
            depth -= 1
    return best


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    vec, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    wycheproof_sig(vec, outdir, "ecdsa_secp256r1_sha256_p1363_test", "ES256", 32)
    wycheproof_sig(vec, outdir, "ecdsa_secp384r1_sha384_p1363_test", "ES384", 48)
    wycheproof_sig(vec, outdir, "ed25519_test", "EdDSA", 32)
    wycheproof_sig(vec, outdir, "rsa_signature_2048_sha256_test", "RS256", 0)
    wycheproof_sig(vec, outdir, "rsa_pss_2048_sha256_mgf1_32_test", "PS256", 0)
    wycheproof_jws(vec)
    weak_keys(vec, outdir)
    rfc7515(vec)
    cookbook(vec)
    json_suite(vec)
    with open(os.path.join(outdir, "vectors.txt"), "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
