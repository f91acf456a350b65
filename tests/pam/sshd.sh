#!/bin/bash
# End to end: a real OpenSSH server on 127.0.0.1 with pam_aim and a real
# ssh client that answers the "AIM token: " prompt through SSH_ASKPASS.
#
# Nothing in /etc changes: sshd runs with its own sshd_config, host key
# and PidFile in a run directory under /tmp (sshd_start in
# tests/lib/aimtest.sh), and reads its PAM service file from there
# because pam_wrapper is preloaded into it (sshd re-executes itself for
# each connection and keeps the environment, so the children are wrapped
# too).  The login account is root, allowed by the private
# configuration's PermitRootLogin; no account is created.  The only
# system path touched is /run/sshd, OpenSSH's compiled-in privilege
# separation directory, created (and removed again) when missing.
#
# Port: a free one (tests/lib/aimtest.sh's at_port), or AIM_SSHD_PORT.
# What the suite needs and lacks (sshd, ssh, pam_wrapper, root) fails it.
#
#   tests/pam/sshd.sh           (make test-pam-sshd)
#   KEEP=1 tests/pam/sshd.sh    keep the run directory
set -u
. "$(dirname "$0")/../lib/aimtest.sh"
at_suite pam-sshd
cd "$AT_ROOT"
MODULE=$AT_BUILD/pam_aim.so

at_need_files "$SSHD" "$AIMCTL" "$MODULE"
at_need_cmds ssh ssh-keygen cc timeout
at_pam_wrapper || bail "libpam_wrapper is not installed (libpam-wrapper; ./deps.sh)"
at_need_root "sshd switches to the login account"
at_port PORT AIM_SSHD_PORT || bail "a port for sshd"
at_rundir pam-sshd || bail "a run directory"
T=$AT_RUN
mkdir -p "$T/services"

ISS=https://issuer.test
AUD=ssh-host
AGENT=spiffe://test/agent/ssh-runner
for alg in ES256 EdDSA RS256; do
    mint_key "$T/$alg.key" --alg $alg --kid ssh-$alg
done
mint_key "$T/RS4096.key" --alg RS256 --bits 4096 --kid ssh-RS4096
mint_jwks "$T/jwks.json" "$T/ES256.key" "$T/EdDSA.key" "$T/RS256.key" "$T/RS4096.key"
ISSUER_KEY=$T/ES256.key
ISSUE_ARGS=(--sub "$AGENT")
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

# pam_syslog lines, from every sshd process, into $T/syslog.
SHIM=
if cc -shared -fPIC -Wall -Wextra -Werror -DSHIM_LOG="\"$T/syslog\"" \
      -o "$T/shim.so" tests/pam/syslog_shim.c 2> "$T/shim.err"; then
    SHIM=$T/shim.so
else
    cat "$T/shim.err"
fi
: > "$T/syslog"

# In the foreground (-D -e) with its log in $T/sshd.log, pam_wrapper
# (and the shim) preloaded into every sshd process; stopped at exit, and
# the copies of $T/services that its children leave in /tmp/pam.X removed.
if ! sshd_start "$T" "$PORT" "$T/services" "$SHIM" <<EOS
KbdInteractiveAuthentication yes
PasswordAuthentication no
PubkeyAuthentication no
AuthenticationMethods keyboard-interactive
PermitRootLogin yes
LogLevel VERBOSE
EOS
then
    bail "sshd starts on 127.0.0.1:$PORT" "$(cat "$T/sshd.log")"
fi
ok "sshd starts on 127.0.0.1:$PORT with pam_wrapper and pam_aim"

# login TOKEN ACCOUNT COMMAND: the client answers every prompt with TOKEN.
# The helper writes it in one write(): ssh reads at most 1023 bytes and
# closes the pipe, and a helper still writing would die of SIGPIPE (ssh
# then sends an empty answer instead of a cut one).
login() {
    printf '%s\n' "$1" > "$T/token"
    : > "$T/askpass.used"
    printf '#!/bin/sh\necho used >> %s\nexec cat %s\n' "$T/askpass.used" "$T/token" > "$T/askpass"
    chmod 700 "$T/askpass"
    SSH_ASKPASS=$T/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
        timeout 30 ssh ${SSH_V-} -n -p "$PORT" -F /dev/null -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o PreferredAuthentications=keyboard-interactive \
        -o NumberOfPasswordPrompts=1 -o BatchMode=no -o LogLevel=ERROR \
        "$2@127.0.0.1" "$3" 2>"$T/ssh.err"
}
ES=$(issue --owner team-sre --scope "pam:login:root")
ED=$(ISSUER_KEY=$T/EdDSA.key issue --scope "pam:login:root")
RS=$(ISSUER_KEY=$T/RS256.key issue --scope "pam:login:root")
RS4K=$(ISSUER_KEY=$T/RS4096.key issue --scope "pam:login:root")
OTHER=$(issue --scope "pam:login:nobody")
BIG=$(issue --scope "pam:login:root" --claim note="$(head -c 700 /dev/zero | tr '\0' x)")
echo "# token sizes (bytes): ES256 ${#ES}, EdDSA ${#ED}, RS256-2048 ${#RS}, RS256-4096 ${#RS4K}, padded ES256 ${#BIG}; ssh cuts at 1023"

t0=$(date +%s%N)
out=$(login "$ES" root 'echo "agent=$AIM_AGENT owner=$AIM_OWNER scope=$AIM_SCOPE"; env')
t1=$(date +%s%N)
check "ES256: the agent logs in, runs a command, and the session sees AIM_AGENT" \
    "agent=$AGENT owner=team-sre scope=pam:login:root" "$(echo "$out" | head -1)"
echo "# one ssh login (connect, key exchange, keyboard-interactive, command): $(( (t1 - t0) / 1000000 )) ms"
hasnt "the token is not in the session's environment" "$out" "${ES##*.}"
check_not_re "nor the sealed hand-over from the auth child (removed at session open)" \
    '^AIM_PAM_SEAL=' "$out"
check "EdDSA token logs in" "$AGENT" "$(login "$ED" root 'echo $AIM_AGENT')"
check "RS256 (2048-bit) token logs in" "$AGENT" "$(login "$RS" root 'echo $AIM_AGENT')"
check "a token for another account does not log in" "" "$(login "$OTHER" root 'echo ran')"
check "junk does not log in" "" "$(login "garbage" root 'echo ran')"
check "RS256 with a 4096-bit key (${#RS4K} bytes) logs in" "$AGENT" "$(login "$RS4K" root 'echo $AIM_AGENT')"
check "a ${#BIG}-byte token does not fit through ssh" "" "$(login "$BIG" root 'echo ran')"
in_file "... the server saw 1023 bytes and its log says why" \
    "(token 1023 bytes; an ssh client cuts answers at 1023 bytes" "$T/syslog"
check "an account that does not exist: no login" "" "$(login "$ES" no-such-user-aim 'echo ran')"
check "... though the client was asked for the token (no enumeration by prompt)" \
    yes "$([ -s "$T/askpass.used" ] && echo yes || echo no)"
check "a user name with '@' and '%' (another account's name around them): no login" \
    "" "$(login "$ES" 'root@%h' 'echo ran')"
echo "agent $AGENT" > "$T/revoked"
check "a revoked agent does not log in" "" "$(login "$ES" root 'echo ran')"
: > "$T/revoked"

sleep 0.5     # the last session's close is written after the client left
if grep -q '"decision":"allow".*"action":"login".*"agent":"'"$AGENT"'"' "$T/audit.log" \
   && grep -q '"decision":"deny","reason":"insufficient_scope"' "$T/audit.log" \
   && grep -q '"decision":"deny","reason":"revoked"' "$T/audit.log"; then
    ok "audit lines for the allowed and the refused logins"
else
    not_ok "audit lines for the allowed and the refused logins"
fi
check_re "the account step re-checked the token (in sshd's auth child, with the module data)" \
    '"decision":"allow".*"action":"account".*"agent":"'"$AGENT"'"' "$(cat "$T/audit.log")"
# The session is opened in sshd's monitor, where auth's module data are
# gone: pam_aim opened the login auth sealed, verified the token again
# and re-checked it.
if grep -q '"decision":"allow".*"action":"session_open".*"agent":"'"$AGENT"'"' "$T/audit.log" \
   && grep -q '"decision":"note".*"action":"session_close".*"agent":"'"$AGENT"'"' "$T/audit.log"; then
    ok "session open (re-checked in sshd's monitor) and close audited with the agent"
else
    not_ok "session open (re-checked in sshd's monitor) and close audited with the agent"
fi
SYSLOG=$(cat "$T/syslog")
check_not_re "the sealed login opened in the monitor (no 'no AIM login' warning)" \
    'AIM_\* variables .* removed' "$SYSLOG"
check_re "refusal reasons reach syslog at LOG_NOTICE (pam_syslog, from sshd's auth child)" \
    "^<5> .*login as root by agent $AGENT refused: insufficient_scope" "$SYSLOG"
leak=0
for t in "$ES" "$ED" "$RS" "$RS4K" "$OTHER" "$BIG"; do
    grep -qF -- "${t##*.}" "$T/audit.log" "$T/sshd.log" "$T/syslog" && leak=1
done
check "no token in sshd's log, syslog or the audit log" 0 "$leak"
finish
