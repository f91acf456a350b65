#!/bin/bash
# run.sh RUNNER -- convert the public vectors and run them through the core.
# The folder comes from AIM_VECTORS (default ../shared/vectors from the repo
# root); when it is absent the suite says so loudly and counts as skipped.
set -u
runner=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
vec=${AIM_VECTORS:-$root/../shared/vectors}

if [ ! -d "$vec" ]; then
    echo "################################################################"
    echo "## SKIPPED: no test vectors at $vec"
    echo "## (set AIM_VECTORS to the folder holding wycheproof/, rfc7515/,"
    echo "##  jose-cookbook/ and JSONTestSuite/).  NOTHING WAS TESTED."
    echo "################################################################"
    echo "vectors: 0 passed, 0 failed, 4 skipped"
    exit 0
fi
if ! command -v python3 >/dev/null; then
    echo "vectors: python3 is needed to convert the vectors"
    echo "vectors: 0 passed, 1 failed, 0 skipped"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! python3 "$root/tests/vectors/convert.py" "$vec" "$tmp"; then
    echo "vectors: converting $vec failed"
    echo "vectors: 0 passed, 1 failed, 0 skipped"
    exit 1
fi
echo "vectors from $vec (converted by tests/vectors/convert.py)"
exec "$root/tests/run-suite.sh" vectors "$runner" "$tmp/vectors.txt"
