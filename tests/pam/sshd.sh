#!/bin/bash
# End to end: a real OpenSSH server on 127.0.0.1 with pam_aim and a real
# ssh client that answers the "AIM token: " prompt through SSH_ASKPASS.
#
# Nothing in /etc changes: sshd runs with its own sshd_config, host key
# and PidFile in a temporary directory, and reads its PAM service file
# from there because pam_wrapper is preloaded into it (sshd re-executes
# itself for each connection and keeps the environment, so the children
# are wrapped too).  The login account is root, allowed by the private
# configuration's PermitRootLogin; no account is created.  The only
# system path touched is /run/sshd, OpenSSH's compiled-in privilege
# separation directory, created (and removed again) when missing.
#
# Ports: the first free one in 22420-22429 (AIM_SSHD_PORT overrides).
#
#   tests/pam/sshd.sh           (make test-pam-sshd)
#   KEEP=1 tests/pam/sshd.sh    keep the work directory
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
AIMCTL=$ROOT/build/bin/aimctl
MODULE=$ROOT/build/pam_aim.so
WRAPPER=$(ls /usr/lib/*/libpam_wrapper.so 2>/dev/null | head -1)
SSHD=/usr/sbin/sshd
PASS=0 FAIL=0 SKIP=0
NCASES=18

ok()   { PASS=$((PASS + 1)); echo "ok   - $1"; }
bad()  { FAIL=$((FAIL + 1)); echo "FAIL - $1"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (expected '$3', got '$2')"; fi; }
finish() { echo "pam-sshd: $PASS passed, $FAIL failed, $SKIP skipped"; [ "$FAIL" -eq 0 ]; exit $?; }
skip_all() { echo "SKIP: $1 -- all $NCASES cases skipped"; SKIP=$NCASES; finish; }

[ -x "$SSHD" ] || skip_all "$SSHD missing (openssh-server; run ./deps.sh)"
command -v ssh >/dev/null || skip_all "ssh missing (openssh-client; run ./deps.sh)"
[ -n "$WRAPPER" ] || skip_all "libpam_wrapper.so missing (libpam-wrapper; run ./deps.sh)"
[ "$(id -u)" -eq 0 ] || skip_all "sshd must run as root to switch to the login account"
for f in "$AIMCTL" "$MODULE"; do [ -f "$f" ] || { echo "missing $f (run make)"; bad build; finish; }; done

if [ -n "${AIM_SSHD_PORT-}" ]; then
    PORT=$AIM_SSHD_PORT
else
    PORT=
    for p in $(seq 22420 22429); do
        if ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then PORT=$p; break; fi
    done
    [ -n "$PORT" ] || skip_all "no free port in 22420-22429"
fi

T=$(mktemp -d)
SSHD_PID=
MADE_RUN=
cleanup() {
    if [ -n "$SSHD_PID" ]; then
        kill "$SSHD_PID" 2>/dev/null
        for _ in $(seq 1 20); do kill -0 "$SSHD_PID" 2>/dev/null || break; sleep 0.1; done
    fi
    # pam_wrapper's copies of our service directory (/tmp/pam.?), left
    # by sshd processes that ended without running its destructor.
    for d in /tmp/pam.?; do
        [ -f "$d/sshd" ] && cmp -s "$d/sshd" "$T/services/sshd" && rm -rf "$d"
    done
    [ -n "$MADE_RUN" ] && rmdir /run/sshd 2>/dev/null
    if [ -n "${KEEP-}" ]; then echo "workdir $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
if [ ! -d /run/sshd ]; then mkdir -p /run/sshd && MADE_RUN=1; fi
mkdir -p "$T/services"

ISS=https://issuer.test
AUD=ssh-host
AGENT=spiffe://test/agent/ssh-runner
for alg in ES256 EdDSA RS256; do
    "$AIMCTL" keygen --alg $alg --kid ssh-$alg --out "$T/$alg.key" >/dev/null
done
"$AIMCTL" keygen --alg RS256 --bits 4096 --kid ssh-RS4096 --out "$T/RS4096.key" >/dev/null
"$AIMCTL" jwks "$T/ES256.key" "$T/EdDSA.key" "$T/RS256.key" "$T/RS4096.key" > "$T/jwks.json"
: > "$T/revoked"
COMMON="keys=$T/jwks.json issuer=$ISS audience=$AUD revoked=$T/revoked audit=$T/audit.log"
# pam_env before pam_aim in the session stack sets an identity pam_aim
# must replace with the verified one (issue 13).
printf 'AIM_AGENT DEFAULT=spiffe://spoofed\n' > "$T/pam_env_spoof.conf"
printf '%s\n' \
    "auth     required $MODULE $COMMON" \
    "account  required $MODULE $COMMON" \
    "session  required pam_env.so readenv=0 conffile=$T/pam_env_spoof.conf" \
    "session  required $MODULE $COMMON" \
    "session  required pam_permit.so" > "$T/services/sshd"

ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"
cat > "$T/sshd_config" <<EOS
Port $PORT
ListenAddress 127.0.0.1
HostKey $T/hostkey
PidFile $T/sshd.pid
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
PubkeyAuthentication no
AuthenticationMethods keyboard-interactive
PermitRootLogin yes
StrictModes no
X11Forwarding no
PrintMotd no
PrintLastLog no
AcceptEnv none
LogLevel VERBOSE
EOS

# pam_syslog lines, from every sshd process, into $T/syslog.
SHIM=
if cc -shared -fPIC -Wall -Wextra -Werror -DSHIM_LOG="\"$T/syslog\"" \
      -o "$T/shim.so" tests/pam/syslog_shim.c 2> "$T/shim.err"; then
    SHIM=$T/shim.so
else
    cat "$T/shim.err"
fi
: > "$T/syslog"

# -D -e: in the foreground with its log on stderr, captured to a file.
LD_PRELOAD="${SHIM:+$SHIM }$WRAPPER" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$T/services \
    "$SSHD" -D -e -f "$T/sshd_config" 2> "$T/sshd.log" &
SSHD_PID=$!
for _ in $(seq 1 50); do
    ss -Hltn "sport = :$PORT" 2>/dev/null | grep -q . && break
    kill -0 "$SSHD_PID" 2>/dev/null || break
    sleep 0.1
done
if ! ss -Hltn "sport = :$PORT" 2>/dev/null | grep -q .; then
    echo "sshd did not start:"; cat "$T/sshd.log"
    bad "sshd starts on 127.0.0.1:$PORT"; finish
fi
ok "sshd starts on 127.0.0.1:$PORT with pam_wrapper and pam_aim"

# login TOKEN ACCOUNT COMMAND: the client answers every prompt with TOKEN.
# The helper writes it in one write(): ssh reads at most 1023 bytes and
# closes the pipe, and a helper still writing would die of SIGPIPE (ssh
# then sends an empty answer instead of a cut one).
login() {
    printf '%s\n' "$1" > "$T/token"
    printf '#!/bin/sh\nexec cat %s\n' "$T/token" > "$T/askpass"
    chmod 700 "$T/askpass"
    SSH_ASKPASS=$T/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
        timeout 30 ssh ${SSH_V-} -n -p "$PORT" -F /dev/null -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o PreferredAuthentications=keyboard-interactive \
        -o NumberOfPasswordPrompts=1 -o BatchMode=no -o LogLevel=ERROR \
        "$2@127.0.0.1" "$3" 2>"$T/ssh.err"
}
issue() {  # KEY-NAME extra...
    local k=$1; shift
    "$AIMCTL" issue --key "$T/$k.key" --iss "$ISS" --aud "$AUD" --sub "$AGENT" "$@"
}

ES=$(issue ES256 --owner team-sre --scope "pam:login:root")
ED=$(issue EdDSA --scope "pam:login:root")
RS=$(issue RS256 --scope "pam:login:root")
RS4K=$(issue RS4096 --scope "pam:login:root")
OTHER=$(issue ES256 --scope "pam:login:nobody")
BIG=$(issue ES256 --scope "pam:login:root" --claim note="$(head -c 700 /dev/zero | tr '\0' x)")
echo "# token sizes (bytes): ES256 ${#ES}, EdDSA ${#ED}, RS256-2048 ${#RS}, RS256-4096 ${#RS4K}, padded ES256 ${#BIG}; ssh cuts at 1023"

t0=$(date +%s%N)
out=$(login "$ES" root 'echo "agent=$AIM_AGENT owner=$AIM_OWNER scope=$AIM_SCOPE"; env')
t1=$(date +%s%N)
check "ES256: the agent logs in, runs a command, and the session sees AIM_AGENT" \
    "$(echo "$out" | head -1)" "agent=$AGENT owner=team-sre scope=pam:login:root"
echo "# one ssh login (connect, key exchange, keyboard-interactive, command): $(( (t1 - t0) / 1000000 )) ms"
if echo "$out" | grep -qF "${ES##*.}"; then
    bad "the token is not in the session's environment"
else
    ok "the token is not in the session's environment"
fi
if echo "$out" | grep -q '^AIM_PAM_SEAL='; then
    bad "nor the sealed hand-over from the auth child (removed at session open)"
else
    ok "nor the sealed hand-over from the auth child (removed at session open)"
fi
check "EdDSA token logs in" "$(login "$ED" root 'echo $AIM_AGENT')" "$AGENT"
check "RS256 (2048-bit) token logs in" "$(login "$RS" root 'echo $AIM_AGENT')" "$AGENT"
check "a token for another account does not log in" "$(login "$OTHER" root 'echo ran')" ""
check "junk does not log in" "$(login "garbage" root 'echo ran')" ""
check "RS256 with a 4096-bit key (${#RS4K} bytes) logs in" "$(login "$RS4K" root 'echo $AIM_AGENT')" "$AGENT"
check "a ${#BIG}-byte token does not fit through ssh" "$(login "$BIG" root 'echo ran')" ""
if grep -q "(token 1023 bytes; an ssh client cuts answers at 1023 bytes" "$T/syslog"; then
    ok "... the server saw 1023 bytes and its log says why"
else
    bad "... the server saw 1023 bytes and its log says why"
fi
echo "agent $AGENT" > "$T/revoked"
check "a revoked agent does not log in" "$(login "$ES" root 'echo ran')" ""
: > "$T/revoked"

sleep 0.5     # the last session's close is written after the client left
if grep -q '"decision":"allow".*"action":"login".*"agent":"'"$AGENT"'"' "$T/audit.log" \
   && grep -q '"decision":"deny","reason":"insufficient_scope"' "$T/audit.log" \
   && grep -q '"decision":"deny","reason":"revoked"' "$T/audit.log"; then
    ok "audit lines for the allowed and the refused logins"
else
    bad "audit lines for the allowed and the refused logins"
fi
if grep -q '"decision":"allow".*"action":"account".*"agent":"'"$AGENT"'"' "$T/audit.log"; then
    ok "the account step re-checked the token (in sshd's auth child, with the module data)"
else
    bad "the account step re-checked the token (in sshd's auth child, with the module data)"
fi
# The session is opened in sshd's monitor, where auth's module data are
# gone: pam_aim opened the login auth sealed, verified the token again
# and re-checked it.
if grep -q '"decision":"allow".*"action":"session_open".*"agent":"'"$AGENT"'"' "$T/audit.log" \
   && grep -q '"decision":"note".*"action":"session_close".*"agent":"'"$AGENT"'"' "$T/audit.log"; then
    ok "session open (re-checked in sshd's monitor) and close audited with the agent"
else
    bad "session open (re-checked in sshd's monitor) and close audited with the agent"
fi
if grep -q "AIM_\* variables .* removed" "$T/syslog"; then
    bad "the sealed login opened in the monitor (no 'no AIM login' warning)"
else
    ok "the sealed login opened in the monitor (no 'no AIM login' warning)"
fi
if grep -q "^<5> .*login as root by agent $AGENT refused: insufficient_scope" "$T/syslog"; then
    ok "refusal reasons reach syslog at LOG_NOTICE (pam_syslog, from sshd's auth child)"
else
    bad "refusal reasons reach syslog at LOG_NOTICE (pam_syslog, from sshd's auth child)"
fi
leak=0
for t in "$ES" "$ED" "$RS" "$RS4K" "$OTHER" "$BIG"; do
    grep -qF -- "${t##*.}" "$T/audit.log" "$T/sshd.log" "$T/syslog" && leak=1
done
check "no token in sshd's log, syslog or the audit log" "$leak" 0
finish
