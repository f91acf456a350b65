#!/usr/bin/env bash
#
# bench/nginx/bench.sh -- ngx_aim's throughput in one run (make bench-nginx).
#
# wrk (one thread, loopback) against one nginx worker, every set-up
# serving the same 43-byte answer from memory with empty_gif (a content
# handler: a rewrite-phase "return" would answer before the access phase,
# so before ngx_aim), interleaved over ROUNDS rounds (median):
#
#   return 200        nginx alone, "return 200" (reference only)
#   plain             nginx alone, empty_gif, one Authorization header
#   aim cached        ngx_aim, one token (verified-token cache hit)
#   plain, cycled     nginx alone, 10,000 distinct tokens cycled by wrk's Lua
#   aim cold          ngx_aim, the same 10,000 tokens (cache of 1024: misses)
#   auth_request      nginx auth_request to a small external validator
#                     (bench/nginx/aimbench.py: Python asyncio + OpenSSL via
#                     python3-cryptography): verifying every request, as
#                     the usual small validator does, one token; with its
#                     own 1024-token cache, one token; and cycled
#
# plus `openssl speed ecdsap256` (one ES256 verification, same run) and the
# worker's RSS over a million cold requests.  Targets (issue 11): cached >=
# 0.95 of plain; a cold request costs at most 10 us of worker CPU beyond
# plain nginx and the one ES256 verification it needs; aim cached >= 5x
# auth_request; memory flat.  Then, where perf works, where a cold
# request's CPU goes (perf samples of the worker, per part, in us).
#
# Misses are printed, not fatal; the exit status is non-zero only when
# something does not work (a non-2xx answer, a tool missing).
#
# Knobs: BENCH_NGINX_SECONDS (5), BENCH_NGINX_ROUNDS (3),
# BENCH_NGINX_CONNECTIONS (32), BENCH_NGINX_TOKENS (10000),
# BENCH_NGINX_MEMORY_REQUESTS (1000000; 0 skips).  Free ports
# (tests/lib/aimtest.sh), or AIM_BENCH_NGINX_PORT for nginx and
# AIM_BENCH_VALIDATOR_PORT, AIM_BENCH_VALIDATOR_NOCACHE_PORT for the two
# validators; the files in a run directory under /tmp (KEEP=1 keeps it).

set -eu
. "$(dirname "$0")/../../tests/lib/aimtest.sh"
HERE=$AT_ROOT/bench/nginx
SECS=${BENCH_NGINX_SECONDS:-5}
ROUNDS=${BENCH_NGINX_ROUNDS:-3}
CONNS=${BENCH_NGINX_CONNECTIONS:-32}
NTOK=${BENCH_NGINX_TOKENS:-10000}
MEMREQ=${BENCH_NGINX_MEMORY_REQUESTS:-1000000}
ISS=https://issuer.bench.example
AUD=https://api.bench.example

die() { echo "bench-nginx: $*" >&2; exit 1; }

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)
for t in "$AIMCTL" "$NGX_MODULE" "$NGINX"; do [ -e "$t" ] || die "missing $t (make build-all)"; done
command -v wrk > /dev/null || die "wrk is missing (./deps.sh)"
command -v openssl > /dev/null || die "openssl is missing (./deps.sh)"
[ -n "$PY" ] && "$PY" -c 'import cryptography' 2> /dev/null \
    || die "python3 with the cryptography package is missing (python3-cryptography, ./deps.sh)"

at_port PORT AIM_BENCH_NGINX_PORT || die "no port for nginx"
at_port VPORT AIM_BENCH_VALIDATOR_PORT || die "no port for the validator"
at_port VPORT2 AIM_BENCH_VALIDATOR_NOCACHE_PORT || die "no port for the second validator"
at_rundir nginx-bench || die "no run directory"
W=$AT_RUN

load() { echo "load average $1: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"; }

echo "ngx_aim benchmark: nginx $(ngx_version), one worker; wrk -t1 -c$CONNS," \
     "${SECS}s per measurement, median of $ROUNDS rounds"
load "at start"

# ------------------------------------------------------------------ setup

mint_key "$W/issuer.pem" --kid bench-1
mint_jwks "$W/jwks.json" "$W/issuer.pem"
"$PY" "$HERE/aimbench.py" mint "$W/issuer.pem" bench-1 "$ISS" "$AUD" "$NTOK" "$W/tokens"
TOKEN=$(head -1 "$W/tokens")
chmod -R a+rX "$W"

cat > "$W/cycle.lua" <<'EOF'
-- Cycle through a file of tokens, one per line: each request another token.
local reqs, i = {}, 0
function init(args)
    for line in io.lines(args[1]) do
        reqs[#reqs + 1] = wrk.format(nil, nil, { Authorization = "Bearer " .. line })
    end
end
function request()
    i = i % #reqs + 1
    return reqs[i]
end
EOF

# nginx's worker on the last CPU, wrk and openssl speed's reference run
# pinned next to it (wrk elsewhere, openssl speed on the worker's CPU).
NCPU=$(nproc)
if [ "$NCPU" -ge 2 ]; then
    AFFINITY=1$(printf '0%.0s' $(seq $((NCPU - 1))))
    WRK="taskset -c 0 wrk"
    SPEEDCPU="taskset -c $((NCPU - 1))"
else
    AFFINITY=auto WRK=wrk SPEEDCPU=
fi

NGX_LOG_LEVEL=warn NGX_CONNECTIONS=4096
ngx_conf "$W" "worker_processes 1;" "worker_cpu_affinity $AFFINITY;" <<EOF
    access_log off;
    keepalive_requests 100000000;

    aim_keys     $W/jwks.json;
    aim_issuer   $ISS;
    aim_audience $AUD;

    upstream validator {
        server 127.0.0.1:$VPORT;
        keepalive 64;
    }
    upstream validator_nocache {
        server 127.0.0.1:$VPORT2;
        keepalive 64;
    }

    server {
        listen 127.0.0.1:$PORT;

        location /ret/   { return 200; }
        location /plain/ { empty_gif; }

        location /aim/ {
            aim       on;
            aim_scope kb:read;
            empty_gif;
        }

        location /ar/ {
            auth_request /_validate;
            empty_gif;
        }
        location = /_validate {
            internal;
            proxy_pass http://validator;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }

        location /arv/ {
            auth_request /_validate_nocache;
            empty_gif;
        }
        location = /_validate_nocache {
            internal;
            proxy_pass http://validator_nocache;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
EOF

ngx_start "$PORT" || die "nginx did not start: $(cat "$W/start.err" "$W/error.log" 2> /dev/null)"
"$PY" "$HERE/aimbench.py" validate "$VPORT" "$W/jwks.json" "$ISS" "$AUD" cache &
VPID=$!
at_defer kill "$VPID"
"$PY" "$HERE/aimbench.py" validate "$VPORT2" "$W/jwks.json" "$ISS" "$AUD" nocache &
VPID2=$!
at_defer kill "$VPID2"
for _ in $(seq 50); do
    curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/ar/ok" \
        && curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/arv/ok" \
        && break
    sleep 0.1
done
for p in plain aim ar arv; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
           "http://127.0.0.1:$PORT/$p/ok")
    [ "$code" = 200 ] || die "/$p/ok answered $code, not 200"
done
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/aim/ok")
[ "$code" = 401 ] || die "/aim/ok without a token answered $code, not 401"
WORKER=$(pgrep -P "$(ngx_pid)" | head -1)

# ------------------------------------------------------------ measurement

# CPU time the worker has used, in clock ticks (utime + stime).
ticks() { awk '{ print $14 + $15 }' "/proc/$WORKER/stat"; }
uticks() { awk '{ print $14 }' "/proc/$WORKER/stat"; }     # user time only
HZ=$(getconf CLK_TCK)

# run NAME PATH MODE(one|cycle) SECONDS -> "req/s us-of-worker-CPU/request"
# (and the request count in $W/last).  The worker's own CPU time per
# request does not depend on what else the machine runs; req/s does.
run() {
    local out reqs t0 t1 u0 u1
    t0=$(ticks)
    u0=$(uticks)
    if [ "$3" = one ]; then
        out=$($WRK -t1 -c"$CONNS" -d"$4"s -H "Authorization: Bearer $TOKEN" \
              "http://127.0.0.1:$PORT$2" 2>&1)
    else
        out=$($WRK -t1 -c"$CONNS" -d"$4"s -s "$W/cycle.lua" \
              "http://127.0.0.1:$PORT$2" -- "$W/tokens" 2>&1)
    fi
    if echo "$out" | grep -q "Non-2xx\|Socket errors"; then
        echo "$out" >&2
        die "$1: errors or non-2xx answers"
    fi
    t1=$(ticks)
    u1=$(uticks)
    reqs=$(echo "$out" | awk '/requests in/ { print $1 }')
    echo "$reqs" > "$W/last"
    echo "$out" | awk -v t="$((t1 - t0))" -v u="$((u1 - u0))" -v hz="$HZ" -v n="$reqs" \
        '/^Requests\/sec/ { printf "%s %.2f %.2f\n", $2, 1e6 * t / hz / n, 1e6 * u / hz / n }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

NAMES=(plain_return plain aim_cached plain_cycled aim_cold ar_verify ar_cached ar_cold)
PATHS=(/ret/ok /plain/ok /aim/ok /plain/ok /aim/ok /arv/ok /ar/ok /ar/ok)
MODES=(one one one cycle cycle one one cycle)
declare -A RPS CPU UCPU VCPU
SPEED=""

vticks() { awk '{ s += $14 + $15 } END { print s }' "/proc/$VPID/stat" "/proc/$VPID2/stat"; }

for i in "${!NAMES[@]}"; do          # warm-up: caches, keep-alive pools
    run "${NAMES[$i]}" "${PATHS[$i]}" "${MODES[$i]}" 1 > /dev/null
done
for round in $(seq "$ROUNDS"); do
    line="  round $round:"
    for i in "${!NAMES[@]}"; do
        n=${NAMES[$i]}
        if [ "$n" = aim_cold ]; then
            # One ES256 verification on the worker's CPU, right before the
            # cold run.  openssl speed divides by CPU (user) time, so it
            # compares with the worker's CPU time per request.
            sp=$($SPEEDCPU openssl speed -seconds 2 ecdsap256 2> /dev/null \
                 | awk '/ecdsa \(nistp256\)/ { print $NF }')
            [ -n "$sp" ] || die "cannot run or parse openssl speed ecdsap256"
            SPEED+="$sp "
            line+=" openssl-verify ${sp}/s"
        fi
        v0=$(vticks)
        read -r rps cpu ucpu < <(run "$n" "${PATHS[$i]}" "${MODES[$i]}" "$SECS")
        v1=$(vticks)
        RPS[$n]+="$rps "
        CPU[$n]+="$cpu "
        UCPU[$n]+="$ucpu "
        VCPU[$n]+="$(awk -v t="$((v1 - v0))" -v hz="$HZ" -v n="$(cat "$W/last")" \
                     'BEGIN { printf "%.2f", 1e6 * t / hz / n }') "
        line+=" $n $(printf '%.0f' "$rps")/s"
    done
    echo "$line"
done
# The cold cost against plain + one verification, paired within each round
# (the machine's load changes between rounds), then the median.
# shellcheck disable=SC2086
paired=$(paste <(printf '%s\n' ${CPU[aim_cold]}) <(printf '%s\n' ${CPU[plain_cycled]}) \
               <(printf '%s\n' $SPEED) \
         | awk '{ printf "%.1f ", $1 - $2 - 1e6 / $3 }')
# shellcheck disable=SC2086
upaired=$(paste <(printf '%s\n' ${UCPU[aim_cold]}) <(printf '%s\n' ${UCPU[plain_cycled]}) \
                <(printf '%s\n' $SPEED) \
          | awk '{ printf "%.1f ", $1 - $2 - 1e6 / $3 }')
# shellcheck disable=SC2086
cpaired=$(paste <(printf '%s\n' ${RPS[aim_cached]}) <(printf '%s\n' ${RPS[plain]}) \
          | awk '{ printf "%.3f ", $1 / $2 }')
for n in "${NAMES[@]}"; do
    # shellcheck disable=SC2086
    RPS[$n]=$(median ${RPS[$n]}); CPU[$n]=$(median ${CPU[$n]}); VCPU[$n]=$(median ${VCPU[$n]})
    # shellcheck disable=SC2086
    UCPU[$n]=$(median ${UCPU[$n]})
done

# shellcheck disable=SC2086
speed=$(median $SPEED)
verify_us=$(awk -v s="$speed" 'BEGIN { printf "%.1f", 1e6 / s }')

# ----------------------------------------------------------------- report

us() { awk -v r="$1" 'BEGIN { printf "%.1f", 1e6 / r }'; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
misses=0
target() { # label measured target-text verdict-expression
    local v
    v=$(awk "BEGIN { print ($4) ? \"PASS\" : \"MISS\" }")
    [ "$v" = PASS ] || misses=$((misses + 1))
    printf '%-54s %10s %10s %s\n' "$1" "$2" "$3" "$v"
}

printf '\n%-38s %11s %11s %14s %9s\n' "set-up" "requests/s" "wall us/req" "worker CPU us/req" "(of which user)"
for n in "${NAMES[@]}"; do
    case $n in
        plain_return) label="plain nginx, return 200 (reference)" ;;
        plain)        label="plain nginx, empty_gif" ;;
        aim_cached)   label="ngx_aim, one token (cached)" ;;
        plain_cycled) label="plain nginx, tokens cycled (Lua)" ;;
        aim_cold)     label="ngx_aim, $NTOK tokens cycled (cold)" ;;
        ar_verify)    label="auth_request, validator, one token" ;;
        ar_cached)    label="auth_request, caching validator" ;;
        ar_cold)      label="auth_request, caching val., cycled" ;;
    esac
    extra=""
    case $n in ar_*) extra="  (+ validator $(calc %.1f "${VCPU[$n]}"))" ;; esac
    printf '%-38s %11.0f %11s %14s %9s%s\n' "$label" "${RPS[$n]}" "$(us "${RPS[$n]}")" "${CPU[$n]}" \
        "${UCPU[$n]}" "$extra"
done
printf '%-38s %11.0f %11s %14s\n' "openssl speed ecdsap256 verify/s" "$speed" "" "$verify_us"

cached_rps=$(calc %.3f "${RPS[aim_cached]} / ${RPS[plain]}")
cached_cpu=$(calc %.3f "${CPU[plain]} / ${CPU[aim_cached]}")
cold_wall=$(us "${RPS[aim_cold]}")
ar_rps=$(calc %.1f "${RPS[aim_cached]} / ${RPS[ar_verify]}")
ar_cpu=$(calc %.1f "(${CPU[ar_verify]} + ${VCPU[ar_verify]}) / ${CPU[aim_cached]}")
arc_rps=$(calc %.1f "${RPS[aim_cached]} / ${RPS[ar_cached]}")
arc_cpu=$(calc %.1f "(${CPU[ar_cached]} + ${VCPU[ar_cached]}) / ${CPU[aim_cached]}")
ar_cold_rps=$(calc %.1f "${RPS[aim_cold]} / ${RPS[ar_cold]}")

printf '\n%-54s %10s %10s\n' "target (issue 11)" "measured" "target"
# shellcheck disable=SC2086
cached_paired=$(median $cpaired)
target "cached / plain, throughput (paired per round)" "$cached_paired" ">= 0.95" "$cached_paired >= 0.95"
printf '%-54s %10s\n' "  per round" "$cpaired"
printf '%-54s %10s\n' "  medians" "$cached_rps"
printf '%-54s %10s\n' "  the same in worker CPU per request" "$cached_cpu"
# shellcheck disable=SC2086
paired_median=$(median $paired)
target "cold CPU beyond plain + one ES256 verify, us/req" "$paired_median" "<= 10" \
    "$paired_median <= 10"
printf '%-54s %10s\n' "  per round" "$paired"
# shellcheck disable=SC2086
upaired_median=$(median $upaired)
target "  in user CPU (openssl speed's measure), us/req" "$upaired_median" "<= 10" \
    "$upaired_median <= 10"
printf '%-54s %10s\n' "  per round" "$upaired"
printf '%-54s %10s %10s\n' "  medians: cold CPU us/req vs plain + verify + 10" "${CPU[aim_cold]}" \
    "$(calc %.1f "${CPU[plain_cycled]} + $verify_us + 10")"
printf '%-54s %10s\n' "  wall us/req, cold" "$cold_wall"
target "aim cached / auth_request (validator verifies)" "${ar_rps}x" ">= 5x" "$ar_rps >= 5"
printf '%-54s %9sx\n' "  the same in CPU per request (nginx + validator)" "$ar_cpu"
printf '%-54s %9sx\n' "  aim cached / auth_request, caching validator" "$arc_rps"
printf '%-54s %9sx\n' "  the same in CPU per request (nginx + validator)" "$arc_cpu"
printf '%-54s %9sx\n' "  aim cold / auth_request cold, throughput" "$ar_cold_rps"

# ------------------------------------------------------- CPU breakdown

# Where a cold request's worker CPU goes: perf samples of the worker
# during one more cold run, each symbol put in one part, the shares scaled
# by the measured CPU per request.
breakdown() {
    local reqs t0 t1 cpu
    perf record -q -F 1999 -p "$WORKER" -o "$W/perf.data" -- sleep "$SECS" > /dev/null 2>&1 &
    local ppid=$!
    sleep 0.2
    t0=$(ticks)
    run breakdown /aim/ok cycle "$SECS" > /dev/null
    t1=$(ticks)
    wait "$ppid"
    reqs=$(cat "$W/last")
    cpu=$(awk -v t="$((t1 - t0))" -v hz="$HZ" -v n="$reqs" 'BEGIN { printf "%.2f", 1e6 * t / hz / n }')
    perf report -i "$W/perf.data" --stdio --no-children --sort dso,sym -g none 2> /dev/null \
        | awk -v cpu="$cpu" '
        /^ *[0-9.]+%/ {
            p = $1; sub("%", "", p); dso = $2; sym = $NF
            if (sym ~ /^(ngx_http_aim_)/)                              part = "ngx_aim glue (module)"
            else if (dso ~ /ngx_http_aim_module/ && sym ~ /sha256|SHA256/) part = "SHA-256 (cache key, signing input)"
            else if (dso ~ /ngx_http_aim_module/)                       part = "libaim (parse, claims, cache, audit)"
            else if (dso ~ /libjansson/)                               part = "jansson (JSON of header, claims)"
            else if (dso ~ /libcrypto/ && sym ~ /sha256|SHA256/)         part = "SHA-256 (cache key, signing input)"
            else if (dso ~ /libcrypto/)                                part = "OpenSSL: ECDSA P-256 and EVP"
            else if (dso ~ /libc/ && sym ~ /malloc|free|alloc|cfree/)  part = "malloc/free"
            else if (dso ~ /kernel/)                                   part = "kernel (network, syscalls)"
            else if (dso ~ /nginx/)                                    part = "nginx (HTTP)"
            else                                                       part = "other (libc, ...)"
            share[part] += p; total += p
        }
        END {
            for (k in share) printf "%8.1f us %5.1f%%  %s\n", cpu * share[k] / total, share[k], k
        }' | sort -rn > "$W/breakdown"
    printf '\ncold request: %s us of worker CPU; where it goes (perf samples of the worker):\n' "$cpu"
    cat "$W/breakdown"
}
if command -v perf > /dev/null && perf record -q -o "$W/perf.test" -- true > /dev/null 2>&1; then
    breakdown
else
    echo; echo "CPU breakdown: skipped (perf is missing or not permitted here)"
fi

# ------------------------------------------------------------------ memory

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$WORKER/status"; }
if [ "$MEMREQ" -gt 0 ]; then
    seg=$(awk -v r="${RPS[aim_cold]}" -v n="$MEMREQ" 'BEGIN { s = int(n / 4 / r) + 1; print (s < 2 ? 2 : s) }')
    run warm /aim/ok cycle "$seg" > /dev/null
    before=$(rss)
    total=0
    points="$before"
    while [ "$total" -lt "$MEMREQ" ]; do
        run memory /aim/ok cycle "$seg" > /dev/null
        total=$((total + $(cat "$W/last")))
        points="$points $(rss)"
    done
    after=$(rss)
    growth=$((after - before))
    printf '\nworker RSS over %d cold requests (%d distinct tokens): %d kB -> %d kB (%+d kB; samples: %s kB)\n' \
        "$total" "$NTOK" "$before" "$after" "$growth" "$points"
    v=PASS
    [ "$growth" -le 1024 ] || { v=MISS; misses=$((misses + 1)); }
    printf '%-54s %10s %10s %s\n' "memory flat (RSS growth after warm-up)" "${growth} kB" "<= 1024 kB" "$v"
fi

echo
load "at end"
echo "bench-nginx: $misses target(s) missed"
