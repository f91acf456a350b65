#!/bin/bash
# bench/nginx/bench.sh -- ngx_aim's cost per request, with wrk on loopback.
#
# One nginx, one worker, one run; every case serves the same 43-byte
# response from memory (empty_gif, a content-phase handler: a rewrite-phase
# "return" would answer before the access phase and so before ngx_aim):
#
#   plain-return   location { return 200; }            (reference)
#   plain          location { empty_gif; }             (the baseline)
#   aim-cached     aim on; one token, verified once and then cached
#   aim-cold       aim on; 10,000 distinct tokens cycled (cache 1024, so
#                  every request is a full ES256 verification)
#   auth_request   auth_request to an external validator: a small python3
#                  http.server (ThreadingHTTPServer, keep-alive upstream)
#                  verifying ES256 with python3-cryptography and caching
#                  results per token, like a typical sidecar
#   auth_request-cold  the same with the 10,000 tokens
#
# plus "openssl speed -seconds 3 ecdsap256" (verify/s) in the same run, the
# targets of issue 4 as ratios, and the worker's RSS before and after a
# million requests.  Ports 18501-18502.
#
#   DURATION=10 CONNECTIONS=32 MILLION=1000000 bench/nginx/bench.sh

set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MODULE=${NGX_AIM_MODULE:-$ROOT/build/ngx_http_aim_module.so}
AIMCTL=${AIMCTL:-$ROOT/build/bin/aimctl}
NGINX=${NGINX:-/usr/sbin/nginx}
PY=${PYTHON:-/usr/bin/python3}
PORT=18501
VPORT=18502
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
NTOKENS=${NTOKENS:-10000}
MILLION=${MILLION:-1000000}

for tool in "$NGINX" "$AIMCTL" wrk openssl curl "$PY"; do
    if ! command -v "$tool" > /dev/null; then
        echo "bench-nginx: $tool is missing (./deps.sh; make)"; exit 1
    fi
done
[ -f "$MODULE" ] || { echo "bench-nginx: $MODULE is missing (make)"; exit 1; }
HAVE_CRYPTO=1
"$PY" -c 'import cryptography' 2> /dev/null || HAVE_CRYPTO=0

T=$(mktemp -d /tmp/ngx_aim_bench.XXXXXX)
chmod 755 "$T"
VPID=
cleanup() {
    if [ -s "$T/nginx.pid" ]; then
        kill -QUIT "$(cat "$T/nginx.pid")" 2> /dev/null
        sleep 0.5
    fi
    [ -n "$VPID" ] && kill "$VPID" 2> /dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ISS=https://idp.bench
AUD=bench-api
"$AIMCTL" keygen --alg ES256 --out "$T/issuer.key" > /dev/null
"$AIMCTL" jwks "$T/issuer.key" > "$T/jwks.json"

echo "bench-nginx: issuing $NTOKENS ES256 tokens..."
seq "$NTOKENS" | xargs -P 2 -n 250 sh -c '
    a=$1 t=$2; shift 2
    for i; do
        "$a" issue --key "$t/issuer.key" --iss '"$ISS"' --aud '"$AUD"' \
            --sub "agent-$i" --scope "kb:GET" --ttl 7200 || exit 1
    done' sh "$AIMCTL" "$T" > "$T/tokens" || { echo "bench-nginx: aimctl issue failed"; exit 1; }
echo "bench-nginx: $(wc -l < "$T/tokens") tokens"
TOKEN=$(head -1 "$T/tokens")

cat > "$T/cycle.lua" <<EOF
local tokens = {}
for line in io.lines("$T/tokens") do tokens[#tokens + 1] = line end
local i = 0
request = function()
    i = i % #tokens + 1
    return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. tokens[i] })
end
EOF

cat > "$T/validator.py" <<'EOF'
# A small external token validator for auth_request: ES256 JWS, iss, aud,
# exp; results cached per token (as sidecars do).
import base64, json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.exceptions import InvalidSignature

port, jwks_path, iss, aud = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

keys = {}
for k in json.load(open(jwks_path))["keys"]:
    x = int.from_bytes(b64d(k["x"]), "big")
    y = int.from_bytes(b64d(k["y"]), "big")
    keys[k["kid"]] = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()

cache = {}

def verify(tok):
    now = time.time()
    hit = cache.get(tok)
    if hit is not None and hit > now:
        return True
    try:
        h, p, s = tok.split(".")
        hdr = json.loads(b64d(h))
        if hdr.get("alg") != "ES256":
            return False
        key = keys[hdr["kid"]]
        sig = b64d(s)
        r, ss = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        key.verify(utils.encode_dss_signature(r, ss), (h + "." + p).encode(),
                   ec.ECDSA(hashes.SHA256()))
        c = json.loads(b64d(p))
        a = c["aud"] if isinstance(c["aud"], list) else [c["aud"]]
        if c["iss"] != iss or aud not in a or c["exp"] <= now:
            return False
    except (KeyError, ValueError, InvalidSignature):
        return False
    if len(cache) > 1024:
        cache.clear()
    cache[tok] = c["exp"]
    return True

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        a = self.headers.get("Authorization", "")
        ok = a[:7].lower() == "bearer " and verify(a[7:].strip())
        self.send_response(200 if ok else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
EOF

cat > "$T/nginx.conf" <<EOF
load_module $MODULE;
daemon on;
master_process on;
worker_processes 1;
worker_rlimit_nofile 4096;
error_log $T/error.log warn;
pid $T/nginx.pid;
user root;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $T/body_temp;
    proxy_temp_path $T/proxy_temp;
    fastcgi_temp_path $T/fastcgi_temp;
    uwsgi_temp_path $T/uwsgi_temp;
    scgi_temp_path $T/scgi_temp;
    keepalive_requests 1000000;

    aim_keys $T/jwks.json;
    aim_issuer $ISS;
    aim_audience $AUD;

    upstream validator {
        server 127.0.0.1:$VPORT;
        keepalive 64;
    }

    server {
        listen 127.0.0.1:$PORT;

        location = /plain-return { return 200; }
        location = /plain { empty_gif; }

        location = /aim {
            aim on;
            aim_scope kb:GET;
            empty_gif;
        }

        location = /auth-request {
            auth_request /_validate;
            empty_gif;
        }

        location = /_validate {
            internal;
            proxy_pass http://validator;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }
    }
}
EOF

"$NGINX" -p "$T" -c "$T/nginx.conf" || { cat "$T/error.log"; exit 1; }
sleep 0.5
MASTER=$(cat "$T/nginx.pid")
WORKER=$(pgrep -P "$MASTER" | head -1)

if [ $HAVE_CRYPTO = 1 ]; then
    "$PY" "$T/validator.py" $VPORT "$T/jwks.json" "$ISS" "$AUD" &
    VPID=$!
    sleep 1
fi

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "http://127.0.0.1:$PORT/aim" -H "Authorization: Bearer $TOKEN")" = 200 ] \
    || { echo "bench-nginx: ngx_aim refuses the bench token"; cat "$T/error.log"; exit 1; }
[ "$(code "http://127.0.0.1:$PORT/aim")" = 401 ] \
    || { echo "bench-nginx: ngx_aim lets a request without a token through"; exit 1; }
if [ $HAVE_CRYPTO = 1 ]; then
    [ "$(code "http://127.0.0.1:$PORT/auth-request" -H "Authorization: Bearer $TOKEN")" = 200 ] \
        && [ "$(code "http://127.0.0.1:$PORT/auth-request" -H "Authorization: Bearer ${TOKEN%?}A")" = 401 ] \
        || { echo "bench-nginx: the auth_request validator does not work"; exit 1; }
fi

# run NAME PATH [wrk args]: requests/s (and the wrk line) for one case
declare -A RPS
run() {
    local name=$1 path=$2 out
    shift 2
    out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$@" "http://127.0.0.1:$PORT$path" 2>&1)
    if echo "$out" | grep -q 'Non-2xx'; then
        echo "bench-nginx: $name: non-2xx responses:"; echo "$out"; exit 1
    fi
    RPS[$name]=$(echo "$out" | awk '/^Requests\/sec:/ { printf "%d", $2 }')
    printf '  %-20s %9s req/s   (%s)\n' "$name" "${RPS[$name]}" \
        "$(echo "$out" | awk '/requests in/ { print $1, "requests,", "latency avg" }') $(echo "$out" | awk '/Latency/ { print $2 }')"
}

echo "bench-nginx: nginx $("$NGINX" -v 2>&1 | sed 's,.*/,,'), 1 worker, wrk -t1 -c$CONNECTIONS -d${DURATION}s, $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'))"
wrk -t1 -c"$CONNECTIONS" -d2s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/aim" > /dev/null 2>&1

run plain-return /plain-return
run plain /plain
run aim-cached /aim -H "Authorization: Bearer $TOKEN"
run aim-cold /aim -s "$T/cycle.lua"
if [ $HAVE_CRYPTO = 1 ]; then
    run auth_request /auth-request -H "Authorization: Bearer $TOKEN"
    run auth_request-cold /auth-request -s "$T/cycle.lua"
else
    echo "  auth_request         SKIPPED: $PY has no cryptography module (python3-cryptography)"
fi

VERIFY=$(openssl speed -seconds 3 ecdsap256 2> /dev/null \
         | awk '/256 bits ecdsa \(nistp256\)/ { printf "%d", $NF }')
echo "  openssl speed ecdsap256: $VERIFY verify/s (one core)"

# ------------------------------------------------------------------------
echo
echo "bench-nginx: against the targets of issue 4"
awk -v p="${RPS[plain]}" -v pr="${RPS[plain-return]}" -v c="${RPS[aim-cached]}" \
    -v k="${RPS[aim-cold]}" -v v="$VERIFY" -v a="${RPS[auth_request]:-0}" '
function verdict(ok) { return ok ? "met" : "NOT met" }
BEGIN {
    r = c / p
    printf "  cached / plain (empty_gif)      %.3f   target >= 0.90: %s\n", r, verdict(r >= 0.90)
    printf "  cached / plain (return 200)     %.3f   (reference)\n", c / pr
    budget = 1e6 / p + 1e6 / v            # us: plain request + one ES256 verify
    cold = 1e6 / k
    printf "  cold: %.1f us/request; plain + one verify = %.1f + %.1f = %.1f us;\n", cold, 1e6 / p, 1e6 / v, budget
    printf "        %.1f%% over that   target <= 20%%: %s\n", (cold / budget - 1) * 100, verdict(cold <= 1.2 * budget)
    if (a > 0)
        printf "  cached / auth_request           %.1fx   target >= 5x: %s\n", c / a, verdict(c >= 5 * a)
}'
if [ $HAVE_CRYPTO = 1 ]; then
    awk -v k="${RPS[aim-cold]}" -v a="${RPS[auth_request-cold]}" \
        'BEGIN { printf "  cold / auth_request-cold        %.1fx\n", k / a }'
fi

# ------------------------------------------------------------------------
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$WORKER/status"; }
echo
echo "bench-nginx: worker memory over $MILLION requests (10,000 tokens cycled, then one cached token)"
before=$(rss)
# a second long run on each workload: duration from the rates measured
secs=$(awk -v n="$MILLION" -v k="${RPS[aim-cold]}" 'BEGIN { printf "%d", n / 2 / k + 1 }')
out1=$(wrk -t1 -c"$CONNECTIONS" -d"${secs}s" -s "$T/cycle.lua" "http://127.0.0.1:$PORT/aim" 2>&1)
mid=$(rss)
secs=$(awk -v n="$MILLION" -v c="${RPS[aim-cached]}" 'BEGIN { printf "%d", n / 2 / c + 1 }')
out2=$(wrk -t1 -c"$CONNECTIONS" -d"${secs}s" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/aim" 2>&1)
after=$(rss)
n1=$(echo "$out1" | awk '/requests in/ { print $1 }')
n2=$(echo "$out2" | awk '/requests in/ { print $1 }')
echo "  worker RSS: $before kB before, $mid kB after $n1 cold requests, $after kB after $n2 more cached ($((n1 + n2)) in all)"
if echo "$out1$out2" | grep -q 'Non-2xx'; then
    echo "bench-nginx: non-2xx responses in the long run"; exit 1
fi
growth=$((after - before))
if [ "$growth" -le 1024 ]; then
    echo "  growth $growth kB: flat"
else
    echo "  growth $growth kB: NOT flat"
fi
grep -E '\[(alert|crit|emerg)\]' "$T/error.log" && exit 1
exit 0
