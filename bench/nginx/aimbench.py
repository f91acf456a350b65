#!/usr/bin/python3
"""
aimbench.py -- helpers for bench/nginx/bench.sh.

  aimbench.py mint KEY.pem KID ISS AUD N OUT
      N distinct ES256 agent tokens (one per line), signed with KEY as
      aimctl issue would (typ aim+jwt, iat/exp, jti, scope "kb:read").

  aimbench.py validate PORT JWKS ISS AUD [cache|nocache]
      The comparison point: a small external token validator for nginx's
      auth_request, as teams commonly write one.  An asyncio HTTP/1.1
      server (keep-alive) that verifies the Bearer token's ES256 signature
      with python3-cryptography (OpenSSL), checks typ, iss, aud, exp and
      answers 200 or 401.  "nocache" verifies every request, as the usual
      small validator (PyJWT-style) does; "cache" (the default) also keeps
      verified tokens like libaim does (1024 entries, never past exp).  It
      checks less than ngx_aim does (no revocation, scopes, policy, audit),
      and its asyncio loop is leaner than a web framework, so the
      comparison favours it.
"""

import asyncio
import base64
import hashlib
import json
import os
import sys
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature, encode_dss_signature)
from cryptography.exceptions import InvalidSignature


def b64e(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text):
    text = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def mint(key_path, kid, iss, aud, n, out):
    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    now = int(time.time())
    header = b64e(json.dumps({"alg": "ES256", "typ": "aim+jwt", "kid": kid},
                             separators=(",", ":")).encode())
    with open(out, "w") as f:
        for i in range(n):
            claims = {"iss": iss, "sub": "spiffe://bench.example/agent/%d" % i,
                      "aud": aud, "iat": now, "exp": now + 3600,
                      "jti": "bench-%d-%s" % (i, b64e(os.urandom(6))),
                      "owner": "bench@example", "scope": "kb:read"}
            payload = b64e(json.dumps(claims, separators=(",", ":")).encode())
            signing_input = (header + "." + payload).encode()
            r, s = decode_dss_signature(key.sign(signing_input,
                                                 ec.ECDSA(hashes.SHA256())))
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
            f.write(header + "." + payload + "." + b64e(sig) + "\n")


class Validator:
    def __init__(self, jwks_path, iss, aud, cache=True):
        with open(jwks_path) as f:
            jwks = json.load(f)
        self.keys = {}
        for jwk in jwks["keys"]:
            if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
                x = int.from_bytes(b64d(jwk["x"]), "big")
                y = int.from_bytes(b64d(jwk["y"]), "big")
                self.keys[jwk["kid"]] = ec.EllipticCurvePublicNumbers(
                    x, y, ec.SECP256R1()).public_key()
        self.iss, self.aud = iss, aud
        self.cache = {}
        self.use_cache = cache

    def check(self, token):
        now = time.time()
        h = hashlib.sha256(token).digest()
        exp = self.cache.get(h) if self.use_cache else None
        if exp is not None and now < exp:
            return True
        try:
            head, payload, sig = token.split(b".")
            header = json.loads(b64d(head))
            if header.get("alg") != "ES256" or header.get("typ") != "aim+jwt":
                return False
            key = self.keys.get(header.get("kid"))
            raw = b64d(sig)
            if key is None or len(raw) != 64:
                return False
            der = encode_dss_signature(int.from_bytes(raw[:32], "big"),
                                       int.from_bytes(raw[32:], "big"))
            key.verify(der, head + b"." + payload, ec.ECDSA(hashes.SHA256()))
            claims = json.loads(b64d(payload))
            aud = claims.get("aud")
            if claims.get("iss") != self.iss or not (
                    aud == self.aud or (isinstance(aud, list) and self.aud in aud)):
                return False
            if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
                return False
        except (ValueError, KeyError, InvalidSignature, TypeError):
            return False
        if self.use_cache:
            if len(self.cache) >= 1024:
                self.cache.pop(next(iter(self.cache)))
            self.cache[h] = claims["exp"]
        return True


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
DENY = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"


async def serve(port, validator):
    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                token = None
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"authorization":
                        scheme, _, cred = value.strip().partition(b" ")
                        if scheme.lower() == b"bearer":
                            token = cred.strip()
                writer.write(OK if token and validator.check(token) else DENY)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
    async with server:
        await server.serve_forever()


def main(argv):
    if len(argv) == 7 and argv[0] == "mint":
        mint(argv[1], argv[2], argv[3], argv[4], int(argv[5]), argv[6])
    elif len(argv) in (5, 6) and argv[0] == "validate":
        cache = len(argv) == 5 or argv[5] == "cache"
        asyncio.run(serve(int(argv[1]),
                          Validator(argv[2], argv[3], argv[4], cache)))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
