#!/bin/bash
# pam_aim through real Linux-PAM, with pam_wrapper (no change to /etc)
# and pamtester as the application.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
AIMCTL=$ROOT/build/bin/aimctl
MODULE=$ROOT/build/pam_aim.so
WRAPPER=$(ls /usr/lib/*/libpam_wrapper.so 2>/dev/null | head -1)
PASS=0 FAIL=0 SKIP=0

ok()   { PASS=$((PASS + 1)); echo "ok   - $1"; }
bad()  { FAIL=$((FAIL + 1)); echo "FAIL - $1"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (expected '$3', got '$2')"; fi; }
finish() { echo "pam: $PASS passed, $FAIL failed, $SKIP skipped"; [ "$FAIL" -eq 0 ]; exit $?; }

if [ -z "$WRAPPER" ] || ! command -v pamtester >/dev/null; then
    echo "SKIP: libpam-wrapper or pamtester missing (run ./deps.sh)"
    SKIP=1; finish
fi

T=$(mktemp -d)
trap '[ -n "${KEEP-}" ] || rm -rf "$T"' EXIT; [ -n "${KEEP-}" ] && echo "workdir $T"
USER_OK=nobody            # an account every Debian system has
ISS=https://issuer.test
AUD=host-logins

"$AIMCTL" keygen --alg ES256 --kid pam-test --out "$T/issuer.key" >/dev/null
"$AIMCTL" jwks "$T/issuer.key" > "$T/jwks.json"
"$AIMCTL" keygen --alg ES256 --kid rogue --out "$T/rogue.key" >/dev/null
: > "$T/revoked"
mkdir -p "$T/services"

COMMON="keys=$T/jwks.json issuer=$ISS audience=$AUD revoked=$T/revoked audit=$T/audit.log"
cat > "$T/dumpenv.sh" <<EOS
#!/bin/sh
env | grep '^AIM_' | sort > "$T/session.env"
env > "$T/session.fullenv"
EOS
chmod +x "$T/dumpenv.sh"

svc() {   # name, lines...
    local name=$1; shift
    printf '%s\n' "$@" > "$T/services/$name"
}
svc aim-env \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN" \
    "account  required $MODULE $COMMON token_env=AIM_TOKEN" \
    "session  required $MODULE $COMMON token_env=AIM_TOKEN" \
    "session  optional pam_exec.so $T/dumpenv.sh"
svc aim-conv \
    "auth     required $MODULE $COMMON" \
    "account  required $MODULE $COMMON"
svc aim-stack \
    "auth     required /usr/lib/x86_64-linux-gnu/pam_wrapper/pam_set_items.so" \
    "auth     required $MODULE $COMMON use_first_pass" \
    "account  required $MODULE $COMMON"
svc aim-service-scope \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN scope=pam:%s:%u"
svc aim-unknown-option \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN frobnicate=1"
svc aim-no-keys \
    "auth     required $MODULE keys=$T/missing.json issuer=$ISS audience=$AUD token_env=AIM_TOKEN"
svc aim-no-issuer \
    "auth     required $MODULE keys=$T/jwks.json audience=$AUD token_env=AIM_TOKEN"
svc aim-trust \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN state=$T/aim.state" \
    "account  required $MODULE $COMMON token_env=AIM_TOKEN state=$T/aim.state"

pamw() {  # service user ops... ; token in $TOKEN (env) ; prints pamtester's result
    LD_PRELOAD=$WRAPPER PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$T/services \
        PAM_WRAPPER_DEBUGLEVEL=2 AIM_TOKEN="${TOKEN-}" PAM_AUTHTOK="${AUTHTOK-}" \
        pamtester -v "$@" 2>&1 </dev/null
}
# "success", or the pam_strerror text of the failure.
result() {
    local rc
    pamw "$@" > "$T/out.last" 2>&1; rc=$?
    cat "$T/out.last" >> "$T/pamtester.log"
    if [ $rc -eq 0 ]; then
        echo success
    else
        sed -n 's/^pamtester: //p' "$T/out.last" \
            | grep -v '^invoking\|^performing\|^successfully\|done\.$' | tail -1
    fi
}

issue() {  # extra aimctl issue args
    "$AIMCTL" issue --key "$T/issuer.key" --iss "$ISS" --aud "$AUD" "$@"
}

AGENT=spiffe://test/agent/deployer
GOOD=$(issue --sub "$AGENT" --owner team-sre --scope "pam:login:$USER_OK kb:read" --jti jti-good)
OTHER=$(issue --sub "$AGENT" --scope "pam:login:root" --jti jti-other)
WRONGAUD=$("$AIMCTL" issue --key "$T/issuer.key" --iss "$ISS" --aud elsewhere --sub "$AGENT" --scope "pam:login:$USER_OK")
EXPIRED=$(issue --sub "$AGENT" --scope "pam:login:$USER_OK" --iat $(( $(date +%s) - 600 )) --exp $(( $(date +%s) - 300 )))
ROGUE=$("$AIMCTL" issue --key "$T/rogue.key" --iss "$ISS" --aud "$AUD" --sub "$AGENT" --scope "pam:login:$USER_OK")

TOKEN=$GOOD
check "valid token logs in (auth, account, session)" \
    "$(result aim-env $USER_OK authenticate acct_mgmt open_session close_session)" success
check "session environment carries the agent" \
    "$(grep '^AIM_AGENT=' "$T/session.env")" "AIM_AGENT=$AGENT"
check "session environment carries the owner" \
    "$(grep '^AIM_OWNER=' "$T/session.env")" "AIM_OWNER=team-sre"
check "session environment carries the jti" \
    "$(grep '^AIM_JTI=' "$T/session.env")" "AIM_JTI=jti-good"
check "session environment carries the effective scopes" \
    "$(grep '^AIM_SCOPE=' "$T/session.env")" "AIM_SCOPE=pam:login:$USER_OK kb:read"
if grep -qF "$GOOD" "$T/session.fullenv"; then
    bad "the token itself is not in the session environment"
else
    ok "the token itself is not in the session environment"
fi
if grep -q '"decision":"allow".*"action":"login"' "$T/audit.log" \
   && grep -q '"action":"session_open"' "$T/audit.log" \
   && grep -q '"action":"session_close"' "$T/audit.log"; then
    ok "audit lines for login, session open and close"
else
    bad "audit lines for login, session open and close"
fi

check "nonexistent account" \
    "$(result aim-env no-such-user-aim authenticate)" "User not known to the underlying authentication module"
check "token for another account is refused (scope)" \
    "$(TOKEN=$OTHER result aim-env $USER_OK authenticate)" "Permission denied"
check "a token without pam:login:root cannot log in as root" \
    "$(TOKEN=$GOOD result aim-env root authenticate)" "Permission denied"
check "wrong audience" "$(TOKEN=$WRONGAUD result aim-env $USER_OK authenticate)" "Authentication failure"
check "expired" "$(TOKEN=$EXPIRED result aim-env $USER_OK authenticate)" "Authentication failure"
check "signed by an unknown key" "$(TOKEN=$ROGUE result aim-env $USER_OK authenticate)" "Authentication failure"
check "junk" "$(TOKEN='not.a.token' result aim-env $USER_OK authenticate)" "Authentication failure"
check "empty (no token at all)" "$(TOKEN= result aim-conv $USER_OK authenticate)" "Authentication failure"
BIG=$(head -c 20000 /dev/zero | tr '\0' 'A')
check "oversized" "$(TOKEN="$BIG.$BIG.$BIG" result aim-env $USER_OK authenticate)" "Authentication failure"

# Conversation: pamtester answers the "AIM token: " prompt from stdin.
out=$(printf '%s\n' "$GOOD" | LD_PRELOAD=$WRAPPER PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$T/services \
      pamtester -v aim-conv $USER_OK authenticate 2>&1)
if echo "$out" | grep -q "AIM token: " && echo "$out" | grep -q "successfully authenticated"; then
    ok "conversation prompt 'AIM token: ' answered"
else
    bad "conversation prompt 'AIM token: ' answered ($out)"
fi

# Stacking: a previous module sets PAM_AUTHTOK; use_first_pass takes it.
check "use_first_pass takes the previous module's token" \
    "$(AUTHTOK=$GOOD TOKEN= result aim-stack $USER_OK authenticate acct_mgmt)" success
check "use_first_pass without a previous token fails" \
    "$(AUTHTOK= TOKEN= result aim-stack $USER_OK authenticate)" "Authentication failure"

check "service in the scope template (%s:%u)" \
    "$(TOKEN=$(issue --sub "$AGENT" --scope "pam:aim-service-scope:$USER_OK") result aim-service-scope $USER_OK authenticate)" success
check "unknown option fails closed" \
    "$(TOKEN=$GOOD result aim-unknown-option $USER_OK authenticate)" "Authentication service cannot retrieve authentication info"
check "unreadable key file fails closed" \
    "$(TOKEN=$GOOD result aim-no-keys $USER_OK authenticate)" "Authentication service cannot retrieve authentication info"
check "missing issuer= fails closed" \
    "$(TOKEN=$GOOD result aim-no-issuer $USER_OK authenticate)" "Authentication service cannot retrieve authentication info"

# Revocation: agent, jti and kid, each on its own.
for what in "agent $AGENT" "jti jti-good" "kid pam-test"; do
    echo "$what" > "$T/revoked"
    check "revoked ($what)" "$(TOKEN=$GOOD result aim-env $USER_OK authenticate)" "Permission denied"
done
: > "$T/revoked"

# Trust: a probing agent (50 logins to accounts it lacks) is refused
# afterwards even for the account it may use; another agent is not.
PROBER=$(issue --sub spiffe://test/agent/prober --scope "pam:login:$USER_OK" --jti jti-prober)
for i in $(seq 1 50); do TOKEN=$PROBER pamw aim-trust root authenticate >/dev/null; done
check "probing agent refused by trust" "$(TOKEN=$PROBER result aim-trust $USER_OK authenticate)" "Permission denied"
check "other agent unaffected" "$(TOKEN=$GOOD result aim-trust $USER_OK authenticate)" success
if grep -q '"reason":"low_trust"' "$T/audit.log"; then ok "low_trust in the audit log"; else bad "low_trust in the audit log"; fi

# account re-check: a transaction authenticated before the revocation
# fails its account step after it (a cached sudo credential, a long sshd).
cat > "$T/late-revoke.sh" <<EOS
#!/bin/sh
echo "agent $AGENT" > "$T/revoked"
EOS
chmod +x "$T/late-revoke.sh"
svc aim-late \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN" \
    "auth     optional pam_exec.so $T/late-revoke.sh" \
    "account  required $MODULE $COMMON token_env=AIM_TOKEN"
: > "$T/revoked"
check "account re-check sees a revocation made after auth" \
    "$(TOKEN=$GOOD result aim-late $USER_OK authenticate acct_mgmt)" "Permission denied"
: > "$T/revoked"

if grep -qF "$GOOD" "$T/audit.log" || grep -qF "$PROBER" "$T/audit.log"; then
    bad "no token in the audit log"
else
    ok "no token in the audit log"
fi
# pam_wrapper shows the module's syslog messages on stderr.
if grep -q "refused: revoked" "$T/pamtester.log"; then ok "reasons reach syslog"; else bad "reasons reach syslog"; fi
if grep -qF "$GOOD" "$T/pamtester.log" || grep -qF "$PROBER" "$T/pamtester.log"; then
    bad "no token in syslog or client messages"
else
    ok "no token in syslog or client messages"
fi
if grep -q "AIM authentication failed" "$T/pamtester.log"; then
    ok "one uniform failure message to the client"
else
    bad "one uniform failure message to the client"
fi

# Symbols: exactly the six PAM entry points, nothing of the core.
syms=$(nm -D --defined-only "$MODULE" | awk '{print $3}' | sort | tr '\n' ' ')
check "exports exactly pam_sm_*" "$syms" "pam_sm_acct_mgmt pam_sm_authenticate pam_sm_chauthtok pam_sm_close_session pam_sm_open_session pam_sm_setcred "
if nm -D "$MODULE" | grep -q ' T aim_'; then bad "core symbols hidden"; else ok "core symbols hidden"; fi

finish
