#!/bin/bash
# run.sh RUNNER -- convert the public vectors and run them through the core.
# The vectors are in the repository (tests/vectors/data, see its README);
# AIM_VECTORS names another folder of the same layout.  A folder or a set
# that is missing fails the suite: nothing is skipped.
set -u
runner=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
vec=${AIM_VECTORS:-$root/tests/vectors/data}

fail() {
    echo "vectors: $1"
    echo "vectors: 0 passed, 1 failed, 0 skipped"
    exit 1
}
[ -d "$vec" ] || fail "no test vectors at $vec (tests/vectors/data is part of the repository; AIM_VECTORS overrides it)"
command -v python3 > /dev/null || fail "python3 is needed to convert the vectors (./deps.sh)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$root/tests/vectors/convert.py" "$vec" "$tmp" || fail "converting $vec failed"
echo "vectors from $vec (converted by tests/vectors/convert.py)"
"$root/tests/run-suite.sh" vectors "$runner" "$tmp/vectors.txt"
