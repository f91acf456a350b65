#!/bin/sh
# Install, from Debian's packages, everything AIM's build, tests, demo and
# benchmarks need. Safe to run again; does nothing when all is present.
set -eu

PKGS="build-essential pkg-config clang llvm libclang-rt-14-dev
      libssl-dev openssl libjansson-dev libjwt-dev zlib1g-dev libcurl4-openssl-dev
      libpam0g-dev libpam-modules libpam-wrapper libnss-wrapper pamtester
      nginx nginx-dev libnginx-mod-http-echo
      postgresql-15 postgresql-server-dev-15 postgresql-contrib libkrb5-dev pgbouncer
      openssh-server openssh-client
      curl python3 python3-cryptography valgrind wrk procps jq locales
      debhelper dpkg-dev fakeroot lintian
      git iproute2 clang-format bear"
# The MCP tests run the MCP SDK on node (tests/mcp): Debian's nodejs and
# npm, unless they are installed already (NodeSource's node brings npm).
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "deps: all packages present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi

echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# Services must not start on install: tests run their own on loopback.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
