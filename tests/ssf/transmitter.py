#!/usr/bin/env python3
"""transmitter.py -- a Shared Signals (SSF 1.0) transmitter for AIM's tests.

It plays the identity provider: it signs Security Event Tokens (RFC 8417)
with an ES256 key, serves them for RFC 8936 poll on 127.0.0.1 and pushes
them per RFC 8935.  Python 3 and python3-cryptography only (deps.sh).

  transmitter.py jwks  --key KEY.pem [--out FILE]
  transmitter.py sign  --key KEY.pem EVENT (--agent ID | --subject JSON)
                       [--body JSON] [--iss ISS] [--aud AUD] [--jti J] [--iat T]
  transmitter.py push  URL --key KEY.pem EVENT ... [--auth HEADER]
  transmitter.py serve --key KEY.pem [--port P] [--wait S] [--iss] [--aud]
                       [--tls-cert CERT --tls-key KEY [--client-ca CA]]
                       [--token FILE] [--files DIR]
  transmitter.py selftest [--apply PATH-TO-ssf_apply]

EVENT is a short name (session-revoked, account-disabled, ...) or a URI.
A missing --key file is created (mode 0600).  serve prints
"listening 127.0.0.1:PORT" and answers

  POST /poll        RFC 8936: ack, setErrs, maxEvents, returnImmediately
                    (held up to --wait seconds when false and nothing waits);
                    with --token, only with "Authorization: Bearer TOKEN";
                    /poll?slow=S answers S seconds late
  POST /events      queue a SET: {"event":..., "agent"|"subject":..., "body":...}
                    or a SET made elsewhere: {"jti":..., "set":...}
  GET  /jwks.json   the public key set
  GET  /errors      the setErrs receivers reported, by jti
  GET  /pending     the jti of the SETs not yet acknowledged
  GET  /files/NAME  a file of --files DIR, with ETag and Last-Modified,
                    answering If-None-Match / If-Modified-Since with 304;
                    ?slow=S waits S seconds first, ?chunked=1 sends it
                    without a length, ?noetag=1 without an ETag,
                    ?to=http redirects to the same file over plain HTTP,
                    ?to=https over HTTPS
  GET  /seen        the headers of the last /files request
  GET  /polls       every poll request received, in order

--tls-cert and --tls-key serve HTTPS (TLS 1.2 and later); --client-ca
also requires a client certificate that CA signed.
"""

import argparse
import base64
import email.utils
import hashlib
import http.server
import json
import os
import ssl
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
import subprocess
import urllib.parse
from collections import OrderedDict

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature, encode_dss_signature)

CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
RISC = "https://schemas.openid.net/secevent/risc/event-type/"
SSF = "https://schemas.openid.net/secevent/ssf/event-type/"
EVENTS = {
    "session-revoked": CAEP, "token-claims-change": CAEP,
    "credential-change": CAEP, "assurance-level-change": CAEP,
    "risk-level-change": CAEP, "device-compliance-change": CAEP,
    "account-disabled": RISC, "account-enabled": RISC,
    "account-purged": RISC, "credential-compromise": RISC,
    "verification": SSF, "stream-updated": SSF,
}
DEFAULT_ISS = "https://idp.test"
DEFAULT_AUD = "https://host-a.test/ssf"


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def event_uri(name):
    return name if ":" in name else EVENTS[name] + name


def subject_for(agent):
    """A subject naming an AIM agent: "uri" for URIs, else "opaque"."""
    if ":" in agent:
        return {"format": "uri", "uri": agent}
    return {"format": "opaque", "id": agent}


class Transmitter:
    """An ES256 key and the SETs it signs."""

    def __init__(self, key_path=None, iss=DEFAULT_ISS, aud=DEFAULT_AUD):
        self.iss, self.aud = iss, aud
        if key_path and os.path.exists(key_path):
            with open(key_path, "rb") as f:
                self.key = serialization.load_pem_private_key(f.read(), None)
        else:
            self.key = ec.generate_private_key(ec.SECP256R1())
            if key_path:
                fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(self.key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption()))
        nums = self.key.public_key().public_numbers()
        self.public = {"kty": "EC", "crv": "P-256",
                       "x": b64u(nums.x.to_bytes(32, "big")),
                       "y": b64u(nums.y.to_bytes(32, "big"))}
        canon = json.dumps(self.public, sort_keys=True, separators=(",", ":"))
        self.kid = b64u(hashlib.sha256(canon.encode()).digest())   # RFC 7638

    def jwks(self):
        jwk = dict(self.public, alg="ES256", use="sig", kid=self.kid)
        return {"keys": [jwk]}

    def sign(self, claims, header=None):
        hdr = {"alg": "ES256", "typ": "secevent+jwt", "kid": self.kid}
        hdr.update(header or {})
        h = b64u(json.dumps(hdr, separators=(",", ":")).encode())
        p = b64u(json.dumps(claims, separators=(",", ":")).encode())
        der = self.key.sign(f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{h}.{p}.{b64u(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def make_set(self, event, agent=None, subject=None, body=None, jti=None,
                 iat=None, iss=None, aud=None, extra=None):
        """(jti, SET) for one event about agent (or an explicit subject)."""
        jti = jti or uuid.uuid4().hex
        claims = {"iss": iss or self.iss, "aud": aud or self.aud,
                  "iat": int(time.time()) if iat is None else iat,
                  "jti": jti, "txn": jti,
                  "events": {event_uri(event): body if body is not None else {}}}
        if subject is not None or agent is not None:
            claims["sub_id"] = subject if subject is not None else subject_for(agent)
        claims.update(extra or {})
        return jti, self.sign(claims)


def verify(set_, jwks):
    """The claims of a SET our own key signed, or an exception."""
    h, p, s = set_.split(".")
    header = json.loads(b64u_decode(h))
    assert header["typ"] == "secevent+jwt" and header["alg"] == "ES256"
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    pub = ec.EllipticCurvePublicNumbers(
        int.from_bytes(b64u_decode(jwk["x"]), "big"),
        int.from_bytes(b64u_decode(jwk["y"]), "big"), ec.SECP256R1()).public_key()
    raw = b64u_decode(s)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"),
                               int.from_bytes(raw[32:], "big"))
    pub.verify(der, f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256()))
    return json.loads(b64u_decode(p))


def push(url, set_, auth=None, timeout=10):
    """RFC 8935: (HTTP status, parsed JSON body or None)."""
    headers = {"Content-Type": "application/secevent+jwt",
               "Accept": "application/json"}
    if auth:
        headers["Authorization"] = auth
    req = urllib.request.Request(url, data=set_.encode(), method="POST",
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, None


# ------------------------------------------------------------------ poll

class Queue:
    """SETs waiting for one receiver, until acknowledged (RFC 8936)."""

    def __init__(self):
        self.sets = OrderedDict()
        self.errors = {}
        self.cond = threading.Condition()

    def add(self, jti, set_):
        with self.cond:
            self.sets[jti] = set_
            self.cond.notify_all()

    def poll(self, req, wait):
        acks = req.get("ack", [])
        errs = req.get("setErrs", {})
        max_events = req.get("maxEvents", 10)
        immediate = req.get("returnImmediately", False)
        if (not isinstance(acks, list) or not isinstance(errs, dict)
                or not isinstance(max_events, int) or max_events < 0
                or not isinstance(immediate, bool)):
            raise ValueError("malformed poll request")
        with self.cond:
            for jti in acks:
                self.sets.pop(jti, None)
            for jti, e in errs.items():
                self.sets.pop(jti, None)
                self.errors[jti] = e
            if max_events and not self.sets and not immediate:
                self.cond.wait_for(lambda: self.sets, timeout=wait)
            chosen = list(self.sets.items())[:max_events]
            return {"sets": dict(chosen),
                    "moreAvailable": len(self.sets) > len(chosen)}


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "aim-test-transmitter"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)

    def reply(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def do_GET(self):
        if self.path == "/jwks.json":
            self.reply(200, self.server.tx.jwks())
        elif self.path == "/errors":
            self.reply(200, self.server.queue.errors)
        elif self.path == "/pending":
            with self.server.queue.cond:
                self.reply(200, list(self.server.queue.sets))
        elif self.path == "/seen":
            self.reply(200, self.server.seen)
        elif self.path == "/polls":
            self.reply(200, self.server.polls)
        elif self.path.startswith("/files/") and self.server.files:
            self.send_file()
        else:
            self.reply(404, {"err": "not_found"})

    def send_file(self):
        """A file with validators, and the ways servers misbehave."""
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        name = url.path[len("/files/"):]
        self.server.seen = {"path": self.path, "headers": dict(self.headers)}
        if "/" in name or name.startswith(".") or not name:
            return self.reply(404, {"err": "not_found"})
        path = os.path.join(self.server.files, name)
        if query.get("to") in ("http", "https"):
            host, port = self.server.server_address[:2]
            self.send_response(302)
            self.send_header("Location", f"{query['to']}://{host}:{port}/files/{name}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if "slow" in query:
            time.sleep(float(query["slow"]))
        try:
            with open(path, "rb") as f:
                body = f.read()
            mtime = os.stat(path).st_mtime
        except OSError:
            return self.reply(404, {"err": "not_found"})
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        modified = email.utils.formatdate(int(mtime), usegmt=True)
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        fresh = False
        if inm is not None and "noetag" not in query:
            fresh = etag in [t.strip() for t in inm.split(",")]
        elif ims is not None:
            try:
                fresh = int(mtime) <= email.utils.parsedate_to_datetime(ims).timestamp()
            except (TypeError, ValueError):
                fresh = False
        self.send_response(304 if fresh else 200)
        if "noetag" not in query:
            self.send_header("ETag", etag)
        self.send_header("Last-Modified", modified)
        if fresh:
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        self.send_header("Content-Type", "application/octet-stream")
        if query.get("chunked"):
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 16384):
                part = body[i:i + 16384]
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return None
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return None

    def authorized(self):
        token = self.server.token
        if token is None:
            return True
        got = self.headers.get("Authorization", "")
        if got == "Bearer " + token:
            return True
        self.send_response(401)
        body = json.dumps({"err": "access_denied",
                           "description": "a bearer token is required"}).encode()
        self.send_header("WWW-Authenticate", 'Bearer realm="ssf"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return False

    def do_POST(self):
        try:
            req = self.body_json()
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except ValueError as e:
            return self.reply(400, {"err": "invalid_request", "description": str(e)})
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/poll":
            if not self.authorized():
                return None
            self.server.polls.append(req)
            slow = dict(urllib.parse.parse_qsl(url.query)).get("slow")
            if slow:
                time.sleep(float(slow))
            try:
                self.reply(200, self.server.queue.poll(req, self.server.wait))
            except ValueError as e:
                self.reply(400, {"err": "invalid_request", "description": str(e)})
        elif self.path == "/events" and "set" in req:
            # A SET made elsewhere (forged, expired, for another audience).
            self.server.queue.add(req.get("jti") or uuid.uuid4().hex, req["set"])
            self.reply(201, {"jti": req.get("jti")})
        elif self.path == "/events":
            try:
                jti, set_ = self.server.tx.make_set(
                    req["event"], agent=req.get("agent"), subject=req.get("subject"),
                    body=req.get("body"), jti=req.get("jti"), iat=req.get("iat"),
                    aud=req.get("aud"))
            except (KeyError, TypeError) as e:
                return self.reply(400, {"err": "invalid_request",
                                        "description": f"bad event: {e}"})
            self.server.queue.add(jti, set_)
            self.reply(201, {"jti": jti})
        else:
            self.reply(404, {"err": "not_found"})


def tls_context(cert, key, client_ca=None):
    """A server context: TLS 1.2 and later, client certificates if asked."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(client_ca)
    return ctx


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients that hang up (time limits) or fail the TLS handshake are
        # part of the tests, not errors worth a traceback.
        if self.verbose:
            super().handle_error(request, client_address)


def start_server(tx, port=0, wait=10.0, verbose=False, tls=None, token=None,
                 files=None):
    srv = Server(("127.0.0.1", port), Handler)
    srv.tx, srv.queue, srv.wait, srv.verbose = tx, Queue(), wait, verbose
    srv.token, srv.files, srv.seen, srv.polls = token, files, {}, []
    if tls is not None:
        srv.socket = tls.wrap_socket(srv.socket, server_side=True,
                                     do_handshake_on_connect=False)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def post_json(url, doc, timeout=30):
    req = urllib.request.Request(url, data=json.dumps(doc).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


# ------------------------------------------------------------------ self-test

class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {what}", flush=True)


class Receiver(http.server.BaseHTTPRequestHandler):
    """A stand-in push endpoint: records what arrives, answers as told."""

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.server.got.append((self.headers.get("Content-Type"), self.rfile.read(n)))
        status, doc = self.server.answer
        body = json.dumps(doc).encode() if doc is not None else b""
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def selftest_own(c, tmp):
    tx = Transmitter(os.path.join(tmp, "tx.pem"))
    c.check(oct(os.stat(os.path.join(tmp, "tx.pem")).st_mode & 0o777) == "0o600",
            "a new key file is mode 0600")
    again = Transmitter(os.path.join(tmp, "tx.pem"))
    c.check(again.kid == tx.kid, "the key file is reused")
    jwks = tx.jwks()
    jti, s = tx.make_set("session-revoked", agent="spiffe://corp.test/x",
                         body={"event_timestamp": 1700000000})
    claims = verify(s, jwks)
    c.check(claims["jti"] == jti and claims["iss"] == DEFAULT_ISS
            and claims["sub_id"] == {"format": "uri", "uri": "spiffe://corp.test/x"}
            and CAEP + "session-revoked" in claims["events"],
            "a SET carries iss, jti, sub_id and its event")
    c.check("exp" not in claims and "sub" not in claims, "no exp, no sub (SSF 1.0)")
    forged = s[:-4] + ("AAAA" if not s.endswith("AAAA") else "BBBB")
    try:
        verify(forged, jwks)
        c.check(False, "a forged signature does not verify")
    except InvalidSignature:
        c.check(True, "a forged signature does not verify")
    c.check(subject_for("agent-7") == {"format": "opaque", "id": "agent-7"},
            "non-URI agents are opaque subjects")

    # RFC 8936 poll
    srv = start_server(tx, wait=1.0)
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    for agent in ("a-1", "a-2", "a-3"):
        st, doc = post_json(base + "/events", {"event": "account-disabled",
                                               "agent": agent})
        c.check(st == 201 and "jti" in doc, "queue an event")
    st, doc = post_json(base + "/poll", {"maxEvents": 2, "returnImmediately": True})
    c.check(st == 200 and len(doc["sets"]) == 2 and doc["moreAvailable"] is True,
            "poll: maxEvents 2 of 3, moreAvailable")
    first = list(doc["sets"])
    c.check(all(verify(v, jwks)["jti"] == k for k, v in doc["sets"].items()),
            "polled SETs verify under their jti")
    st, doc = post_json(base + "/poll", {"maxEvents": 2, "returnImmediately": True})
    c.check(list(doc["sets"]) == first, "unacknowledged SETs come again")
    st, doc = post_json(base + "/poll", {"ack": first, "maxEvents": 10,
                                         "returnImmediately": True})
    c.check(len(doc["sets"]) == 1 and doc["moreAvailable"] is False,
            "acknowledged SETs are gone")
    last = list(doc["sets"])[0]
    st, doc = post_json(base + "/poll", {"setErrs": {last: {
        "err": "invalid_key", "description": "test"}}, "returnImmediately": True})
    c.check(doc["sets"] == {}, "setErrs acknowledge too")
    st, errs = 0, None
    with urllib.request.urlopen(base + "/errors") as r:
        errs = json.loads(r.read())
    c.check(errs.get(last, {}).get("err") == "invalid_key", "setErrs are kept")
    t0 = time.monotonic()
    st, doc = post_json(base + "/poll", {"returnImmediately": False})
    c.check(doc["sets"] == {} and time.monotonic() - t0 >= 0.9,
            "a long poll with nothing waits --wait seconds")
    threading.Timer(0.3, lambda: post_json(base + "/events", {
        "event": "session-revoked", "agent": "a-9"})).start()
    t0 = time.monotonic()
    st, doc = post_json(base + "/poll", {"returnImmediately": False})
    c.check(len(doc["sets"]) == 1 and time.monotonic() - t0 < 0.9,
            "a long poll returns as soon as an event arrives")
    st, doc = post_json(base + "/poll", {"maxEvents": "two"})
    c.check(st == 400 and doc["err"] == "invalid_request", "a bad request: 400")
    with urllib.request.urlopen(base + "/jwks.json") as r:
        c.check(json.loads(r.read()) == jwks, "the JWKS is served")
    srv.shutdown()

    # RFC 8935 push
    rx = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    rx.got, rx.answer = [], (202, None)
    threading.Thread(target=rx.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{rx.server_address[1]}/ssf"
    st, doc = push(url, s)
    c.check(st == 202 and doc is None, "push: 202 Accepted")
    c.check(rx.got[-1] == ("application/secevent+jwt", s.encode()),
            "push: the SET as application/secevent+jwt")
    rx.answer = (400, {"err": "invalid_key", "description": "unknown kid"})
    st, doc = push(url, s)
    c.check(st == 400 and doc["err"] == "invalid_key", "push: the error is read")
    rx.shutdown()
    return tx


def selftest_aim(c, tmp, tx, apply_bin):
    """The same SETs through libaim's receiver (tests/ssf/ssf_apply)."""
    state = os.path.join(tmp, "aim.state")
    jwks = os.path.join(tmp, "tx-jwks.json")
    conf = os.path.join(tmp, "aim.conf")
    with open(jwks, "w") as f:
        json.dump(tx.jwks(), f)
    with open(conf, "w") as f:
        f.write(f"state {state}\nissuer https://tokens.test\n"
                f"ssf_keys {jwks}\nssf_issuer {DEFAULT_ISS}\n"
                f"ssf_audience {DEFAULT_AUD}\n")

    def run(cmd, arg, data=None):
        p = subprocess.run([apply_bin, conf, cmd, arg], input=data,
                           capture_output=True, text=True, timeout=30)
        out = p.stdout.strip()
        return p.returncode, json.loads(out) if out.startswith("{") else out

    def apply(set_):
        return run("set", "-", set_)

    now = int(time.time())
    _, s = tx.make_set("session-revoked", agent="spiffe://corp.test/x",
                       body={"event_timestamp": now - 5})
    rc, r = apply(s)
    c.check(rc == 0 and r["outcome"] == "applied" and r["event"] == "session-revoked"
            and r["agent"] == "spiffe://corp.test/x", f"libaim applies it: {r}")
    rc, m = run("marks", "spiffe://corp.test/x")
    c.check(m["revoked_before"] == now - 5, f"the cut is the event's time: {m}")
    rc, r = apply(s)
    c.check(rc == 0 and r["outcome"] == "duplicate", "the same SET again: duplicate")
    _, s2 = tx.make_set("account-disabled", agent="agent-y")
    rc, r = apply(s2[:-6] + ("AAAAAA" if not s2.endswith("AAAAAA") else "BBBBBB"))
    c.check(rc == 1 and r["err"] == "authentication_failed", f"forged: {r}")
    _, s3 = tx.make_set("account-disabled", agent="agent-y", aud="https://other.test")
    rc, r = apply(s3)
    c.check(rc == 1 and r["err"] == "invalid_audience", f"wrong audience: {r}")
    _, s4 = tx.make_set("account-disabled", agent="agent-y", iss="https://evil.test")
    rc, r = apply(s4)
    c.check(rc == 1 and r["err"] == "invalid_issuer", f"wrong issuer: {r}")
    _, s5 = tx.make_set("account-disabled", agent="agent-y", iat=now - 8 * 86400)
    rc, r = apply(s5)
    c.check(rc == 1 and r["err"] == "invalid_request" and r["status"] == "expired",
            f"too old: {r}")
    rc, m = run("marks", "agent-y")
    c.check(m == {"disabled": False, "revoked_before": 0, "trust": 100.0},
            f"refused SETs change nothing: {m}")
    _, s6 = tx.make_set("account-disabled", agent="agent-y", iat=now)
    rc, r = apply(s6)
    rc, m = run("marks", "agent-y")
    c.check(r["outcome"] == "applied" and m["disabled"] is True, "account-disabled")
    _, s7 = tx.make_set("account-enabled", agent="agent-y", iat=now + 2)
    rc, r = apply(s7)
    rc, m = run("marks", "agent-y")
    c.check(r["outcome"] == "applied" and m["disabled"] is False, "account-enabled")
    _, s8 = tx.make_set("https://vendor.test/new-event", agent="agent-y")
    rc, r = apply(s8)
    c.check(rc == 0 and r["outcome"] == "ignored", "an unknown event: acknowledged")

    # A poll round: libaim applies the response and acknowledges it.
    srv = start_server(tx, wait=1.0)
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    for agent in ("p-1", "p-2", "p-3"):
        post_json(base + "/events", {"event": "session-revoked", "agent": agent})
    post_json(base + "/events", {"event": "session-revoked", "agent": "p-4",
                                 "aud": "https://other.test"})
    st, resp = post_json(base + "/poll", {"maxEvents": 10, "returnImmediately": True})
    rc, nxt = run("poll", "-", json.dumps(resp))
    req = nxt if rc == 0 and isinstance(nxt, dict) else {}
    c.check(len(req.get("ack", [])) == 3 and len(req.get("setErrs", {})) == 1,
            f"libaim acknowledges 3, reports 1: {nxt}")
    st, resp = post_json(base + "/poll", req)
    c.check(st == 200 and resp["sets"] == {}, "nothing left after its acknowledgement")
    with urllib.request.urlopen(base + "/errors") as r:
        errs = json.loads(r.read())
    c.check([e["err"] for e in errs.values()] == ["invalid_audience"],
            f"its setErrs reached the transmitter: {errs}")
    rc, m = run("marks", "p-2")
    c.check(m["revoked_before"] > 0, "polled events took effect")
    srv.shutdown()


def selftest(args):
    c = Checks()
    with tempfile.TemporaryDirectory(prefix="aim-ssf-") as tmp:
        tx = selftest_own(c, tmp)
        if args.apply:
            selftest_aim(c, tmp, tx, args.apply)
    print(f"ssf-transmitter: {c.passed} passed, {c.failed} failed, 0 skipped")
    return 0 if c.failed == 0 else 1


# ------------------------------------------------------------------ CLI

def make_from(args, tx):
    subject = json.loads(args.subject) if args.subject else None
    body = json.loads(args.body) if args.body else None
    return tx.make_set(args.event, agent=args.agent, subject=subject, body=body,
                       jti=args.jti, iat=args.iat)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p, event=True):
        p.add_argument("--key", required=True, help="ES256 PEM key (made if missing)")
        p.add_argument("--iss", default=DEFAULT_ISS)
        p.add_argument("--aud", default=DEFAULT_AUD)
        if event:
            p.add_argument("event")
            p.add_argument("--agent")
            p.add_argument("--subject", help="a subject identifier as JSON")
            p.add_argument("--body", help="the event's members as JSON")
            p.add_argument("--jti")
            p.add_argument("--iat", type=int)

    p = sub.add_parser("jwks")
    common(p, event=False)
    p.add_argument("--out")
    p = sub.add_parser("sign")
    common(p)
    p = sub.add_parser("push")
    p.add_argument("url")
    p.add_argument("--auth", help="Authorization header value")
    common(p)
    p = sub.add_parser("serve")
    common(p, event=False)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--wait", type=float, default=10.0)
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--client-ca")
    p.add_argument("--token", help="a file holding the bearer token /poll needs")
    p.add_argument("--files", help="a directory served at /files/")
    p = sub.add_parser("selftest")
    p.add_argument("--apply", help="tests/ssf/ssf_apply, to check libaim too")
    args = ap.parse_args()

    if args.cmd == "selftest":
        return selftest(args)
    tx = Transmitter(args.key, args.iss, args.aud)
    if args.cmd == "jwks":
        text = json.dumps(tx.jwks())
        if args.out:
            with open(args.out, "w") as f:
                f.write(text + "\n")
        else:
            print(text)
    elif args.cmd == "sign":
        print(make_from(args, tx)[1])
    elif args.cmd == "push":
        status, doc = push(args.url, make_from(args, tx)[1], args.auth)
        print(status, json.dumps(doc) if doc is not None else "")
        return 0 if status == 202 else 1
    elif args.cmd == "serve":
        tls = None
        if args.tls_cert:
            tls = tls_context(args.tls_cert, args.tls_key, args.client_ca)
        token = None
        if args.token:
            with open(args.token) as f:
                token = f.read().strip()
        srv = start_server(tx, args.port, args.wait, args.verbose, tls, token,
                           args.files)
        print(f"listening 127.0.0.1:{srv.server_address[1]}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            srv.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
