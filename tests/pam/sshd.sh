#!/bin/bash
# End to end: a real OpenSSH server on 127.0.0.1 with pam_aim (through
# pam_wrapper, so /etc/pam.d is untouched) and a real ssh client that
# answers the "AIM token: " prompt with SSH_ASKPASS.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
AIMCTL=$ROOT/build/bin/aimctl
MODULE=$ROOT/build/pam_aim.so
WRAPPER=$(ls /usr/lib/*/libpam_wrapper.so 2>/dev/null | head -1)
SSHD=/usr/sbin/sshd
PORT=${AIM_SSHD_PORT:-22422}
PASS=0 FAIL=0 SKIP=0

ok()   { PASS=$((PASS + 1)); echo "ok   - $1"; }
bad()  { FAIL=$((FAIL + 1)); echo "FAIL - $1"; }
finish() { echo "pam-sshd: $PASS passed, $FAIL failed, $SKIP skipped"; [ "$FAIL" -eq 0 ]; exit $?; }

if [ ! -x "$SSHD" ] || ! command -v ssh >/dev/null || [ -z "$WRAPPER" ]; then
    echo "SKIP: openssh-server, openssh-client or libpam-wrapper missing (run ./deps.sh)"
    SKIP=3; finish
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: sshd needs root to switch to the login account"
    SKIP=3; finish
fi

T=$(mktemp -d)
cleanup() {
    [ -f "$T/sshd.pid" ] && kill "$(cat "$T/sshd.pid")" 2>/dev/null
    sleep 0.2
    [ -n "${KEEP-}" ] && echo "workdir $T" || rm -rf "$T"
}
trap cleanup EXIT
mkdir -p /run/sshd "$T/services"     # privilege separation directory

ISS=https://issuer.test
AUD=ssh-host
"$AIMCTL" keygen --alg ES256 --kid ssh-test --out "$T/issuer.key" >/dev/null
"$AIMCTL" jwks "$T/issuer.key" > "$T/jwks.json"
COMMON="keys=$T/jwks.json issuer=$ISS audience=$AUD audit=$T/audit.log"
printf '%s\n' \
    "auth     required $MODULE $COMMON" \
    "account  required $MODULE $COMMON" \
    "account  required pam_permit.so" \
    "session  optional $MODULE $COMMON" \
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
LogLevel VERBOSE
EOS

LD_PRELOAD=$WRAPPER PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$T/services \
    "$SSHD" -f "$T/sshd_config" -E "$T/sshd.log"
for i in $(seq 1 50); do
    [ -f "$T/sshd.pid" ] && break
    sleep 0.1
done
if [ ! -f "$T/sshd.pid" ]; then
    echo "sshd did not start:"; cat "$T/sshd.log"
    bad "sshd starts"; finish
fi

login() {   # token, account, command
    printf '#!/bin/sh\nprintf "%%s\\n" "%s"\n' "$1" > "$T/askpass"
    chmod 700 "$T/askpass"
    SSH_ASKPASS=$T/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
        timeout 20 ssh -n -p "$PORT" -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o PreferredAuthentications=keyboard-interactive \
        -o NumberOfPasswordPrompts=1 -o BatchMode=no -o LogLevel=ERROR \
        "$2@127.0.0.1" "$3" 2>"$T/ssh.err"
}

AGENT=spiffe://test/agent/ssh-runner
ROOT_TOKEN=$("$AIMCTL" issue --key "$T/issuer.key" --iss $ISS --aud $AUD --sub $AGENT --owner team-sre --scope "pam:login:root")
OTHER_TOKEN=$("$AIMCTL" issue --key "$T/issuer.key" --iss $ISS --aud $AUD --sub $AGENT --scope "pam:login:nobody")
echo "token sizes: $(printf %s "$ROOT_TOKEN" | wc -c) bytes (ES256; ssh limit 1023)"

out=$(login "$ROOT_TOKEN" root 'echo "agent=$AIM_AGENT owner=$AIM_OWNER"')
if [ "$out" = "agent=$AGENT owner=team-sre" ]; then
    ok "agent logs in over ssh, runs a command, the session sees AIM_AGENT"
else
    bad "agent logs in over ssh (got '$out'; $(cat "$T/ssh.err"))"
fi

out=$(login "$OTHER_TOKEN" root 'echo ran')
if [ -z "$out" ]; then
    ok "a token for another account does not log in"
else
    bad "a token for another account does not log in (got '$out')"
fi

out=$(login "garbage" root 'echo ran')
if [ -z "$out" ]; then ok "junk does not log in"; else bad "junk does not log in"; fi

if grep -q '"decision":"allow".*"action":"login"' "$T/audit.log" \
   && grep -q '"decision":"deny","reason":"insufficient_scope"' "$T/audit.log"; then
    ok "audit lines for the allowed and the refused login"
else
    bad "audit lines for the allowed and the refused login"
fi
if grep -qF "$ROOT_TOKEN" "$T/audit.log" "$T/sshd.log"; then
    bad "no token in sshd or audit logs"
else
    ok "no token in sshd or audit logs"
fi
finish
