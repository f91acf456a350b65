#!/bin/bash
# run.sh SUITE SECONDS FUZZ_BUILD_DIR HARNESS... -- run each libFuzzer
# harness for SECONDS on its corpus (seeds + what earlier runs found);
# one check per harness; a crash, leak, UB or timeout fails it and keeps
# the reproducer in FUZZ_BUILD_DIR/artifacts.
set -u
suite=$1; secs=$2; b=$3; shift 3
passed=0; failed=0
mkdir -p "$b/artifacts"
for h in "$@"; do
    corpus=$b/corpus-$h
    mkdir -p "$corpus"
    log=$b/$h.log
    maxlen=4096
    case $h in token|dpop|ssf|decide) maxlen=20000 ;; jwks|claims|json) maxlen=16384 ;; mcp|config) maxlen=8192 ;; esac
    start=$(date +%s)
    "$b/fuzz_$h" "$corpus" "$b/seeds/$h" -max_total_time="$secs" -max_len=$maxlen \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$b/artifacts/$h-" >"$log" 2>&1
    rc=$?
    end=$(date +%s)
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        printf "  %-8s ok    %ss, %s executions, coverage %s edges, corpus %s files\n" \
            "$h" $((end - start)) "${runs:-?}" "${cov:-?}" "$(ls "$corpus" | wc -l)"
    else
        failed=$((failed + 1))
        echo "FAIL fuzz_$h (exit $rc) -- log: $log"
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -20
    fi
done
echo "$suite: $passed passed, $failed failed, 0 skipped"
[ $failed -eq 0 ]
