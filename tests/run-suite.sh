#!/bin/bash
# run-suite.sh SUITE CMD [ARG...]
#
# Run a test program and guarantee that the last line printed is exactly
#     SUITE: N passed, N failed, N skipped
# even when the program crashed before printing it (a sanitizer abort) or
# a tool failed the run after it (valgrind --error-exitcode=99): such a
# run counts one more failure, and says why on the line before.
suite=$1
shift
sumfile=$(mktemp)
trap 'rm -f "$sumfile"' EXIT

set -o pipefail
"$@" 2>&1 | awk -v s="$suite" -v f="$sumfile" '
    $0 ~ "^" s ": [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$" { print > f; next }
    { print; fflush() }'
rc=$?

line=$(tail -n 1 "$sumfile")
if [ -z "$line" ]; then
    echo "$suite: the program ended without a summary (exit status $rc)"
    echo "$suite: 0 passed, 1 failed, 0 skipped"
    exit 1
fi
if [ "$rc" -ne 0 ] && echo "$line" | grep -q ' 0 failed,'; then
    echo "$suite: all checks passed but the run failed (exit status $rc: see above)"
    echo "$line" | awk '{ print $1, $2, $3, $4 + 1, $5, $6, $7 }'
    exit 1
fi
echo "$line"
exit "$rc"
