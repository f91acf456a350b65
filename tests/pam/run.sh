#!/bin/bash
# pam_aim through real Linux-PAM, with pam_wrapper (no change to /etc)
# and pamtester as the application.  Service files are generated in a
# temporary directory and name build/pam_aim.so by its absolute path.
#
#   tests/pam/run.sh            (make test-pam)
#   KEEP=1 tests/pam/run.sh     keep the work directory and say where
#   PAM_VALGRIND=0 ...          skip the valgrind cases
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
AIMCTL=$ROOT/build/bin/aimctl
MODULE=$ROOT/build/pam_aim.so
WRAPPER=$(ls /usr/lib/*/libpam_wrapper.so 2>/dev/null | head -1)
PWMODS=$(dirname "$WRAPPER")/pam_wrapper
PASS=0 FAIL=0 SKIP=0

ok()    { PASS=$((PASS + 1)); echo "ok   - $1"; }
bad()   { FAIL=$((FAIL + 1)); echo "FAIL - $1"; }
skip()  { SKIP=$((SKIP + 1)); echo "SKIP - $1"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (expected '$3', got '$2')"; fi; }
has()   { if grep -qF -- "$2" "$3"; then ok "$1"; else bad "$1 ('$2' not in $(basename "$3"))"; fi; }
hasnt() { if grep -qF -- "$2" "$3"; then bad "$1 ('$2' found in $(basename "$3"))"; else ok "$1"; fi; }
finish() { echo "pam: $PASS passed, $FAIL failed, $SKIP skipped"; [ "$FAIL" -eq 0 ]; exit $?; }

if [ -z "$WRAPPER" ] || ! command -v pamtester >/dev/null; then
    echo "SKIP: libpam-wrapper or pamtester missing (run ./deps.sh): the whole suite"
    SKIP=1; finish
fi
for f in "$AIMCTL" "$MODULE"; do
    [ -x "$f" ] || [ -f "$f" ] || { echo "missing $f (run make)"; bad "build"; finish; }
done

T=$(mktemp -d)
trap '[ -n "${KEEP-}" ] || rm -rf "$T"' EXIT; [ -n "${KEEP-}" ] && echo "workdir $T"
USER_OK=nobody            # an account every Debian system has
ISS=https://issuer.test
AUD=host-logins
HOST=$(hostname)

"$AIMCTL" keygen --alg ES256 --kid pam-test --out "$T/issuer.key" >/dev/null
"$AIMCTL" jwks "$T/issuer.key" > "$T/jwks.json"
"$AIMCTL" keygen --alg ES256 --kid rogue --out "$T/rogue.key" >/dev/null
: > "$T/revoked"
mkdir -p "$T/services"
: > "$T/pamtester.log"

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
    "auth     required $PWMODS/pam_set_items.so" \
    "auth     required $MODULE $COMMON use_first_pass" \
    "account  required $MODULE $COMMON"
svc aim-try \
    "auth     required $PWMODS/pam_set_items.so" \
    "auth     required $MODULE $COMMON try_first_pass" \
    "account  required $MODULE $COMMON"
svc aim-service-scope \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN scope=pam:%s:%u"
svc aim-host-scope \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN scope=host:%h:%%:%u"
svc aim-unknown-option \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN frobnicate=1"
svc aim-bad-escape \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN scope=pam:%x"
svc aim-no-keys \
    "auth     required $MODULE keys=$T/missing.json issuer=$ISS audience=$AUD token_env=AIM_TOKEN"
svc aim-no-issuer \
    "auth     required $MODULE keys=$T/jwks.json audience=$AUD token_env=AIM_TOKEN"
svc aim-trust \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN state=$T/aim.state" \
    "account  required $MODULE $COMMON token_env=AIM_TOKEN state=$T/aim.state"
svc aim-debug \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN debug" \
    "account  required $MODULE $COMMON debug" \
    "session  required $MODULE $COMMON debug"
# Authentication by something else (a cached sudo credential, a password):
# the account step sees no AIM login.
svc aim-acct-only \
    "auth     required pam_permit.so" \
    "account  required $MODULE $COMMON"
svc aim-acct-env \
    "auth     required pam_permit.so" \
    "account  required $MODULE $COMMON token_env=AIM_TOKEN"
svc aim-acct-unknown-option \
    "auth     required pam_permit.so" \
    "account  required $MODULE $COMMON frobnicate=1" \
    "account  required pam_permit.so"
# A module between auth and account changes PAM_USER (pam_set_items).
svc aim-user-switch \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN scope=pam:login" \
    "account  required $PWMODS/pam_set_items.so" \
    "account  required $MODULE $COMMON scope=pam:login"
# The token in the PAM environment, not the process's: pam_env sets it
# when a session opens (pamtester runs open_session, then authenticate).
svc aim-pamenv \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN" \
    "auth     optional pam_exec.so $T/dumpenv.sh" \
    "session  required pam_env.so readenv=0 conffile=$T/pam_env.conf"
# What later modules can see: PAM items exported by pam_get_items.
svc aim-items \
    "auth     required $MODULE $COMMON" \
    "auth     required $PWMODS/pam_get_items.so" \
    "session  required $MODULE $COMMON" \
    "session  optional pam_exec.so $T/dumpenv.sh"

# pamtester in the wrapped PAM; the token in $TOKEN (process environment),
# a previous module's secret in $AUTHTOK, stdin from $STDIN.
pamw() {
    printf '%s' "${STDIN-}" | env LD_PRELOAD="$WRAPPER" PAM_WRAPPER=1 \
        PAM_WRAPPER_SERVICE_DIR="$T/services" PAM_WRAPPER_DEBUGLEVEL=2 \
        AIM_TOKEN="${TOKEN-}" PAM_AUTHTOK="${AUTHTOK-}" ${PAMUSER:+PAM_USER=$PAMUSER} \
        ${VG:+valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --error-exitcode=99 --log-file=$T/valgrind.log} \
        pamtester -v "$@" 2>&1
}
# "success", or the pam_strerror text of the failure; the whole output
# in $T/out.last and appended to $T/pamtester.log.
result() {
    local rc
    rm -f "$T/session.env" "$T/session.fullenv"
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
GOOD=$(issue --sub "$AGENT" --owner team-sre --scope "pam:login:$USER_OK kb:read" --jti jti-good --ttl 600)
OTHER=$(issue --sub "$AGENT" --scope "pam:login:root" --jti jti-other)
WRONGAUD=$("$AIMCTL" issue --key "$T/issuer.key" --iss "$ISS" --aud elsewhere --sub "$AGENT" --scope "pam:login:$USER_OK")
WRONGISS=$("$AIMCTL" issue --key "$T/issuer.key" --iss https://other.test --aud "$AUD" --sub "$AGENT" --scope "pam:login:$USER_OK")
EXPIRED=$(issue --sub "$AGENT" --scope "pam:login:$USER_OK" --iat $(( $(date +%s) - 600 )) --exp $(( $(date +%s) - 300 )))
ROGUE=$("$AIMCTL" issue --key "$T/rogue.key" --iss "$ISS" --aud "$AUD" --sub "$AGENT" --scope "pam:login:$USER_OK")
BOUND=$(issue --sub "$AGENT" --scope "pam:login:$USER_OK" --cnf-jkt "$("$AIMCTL" thumbprint "$T/rogue.key")")
DELEGATED=$(issue --sub spiffe://test/agent/planner --act spiffe://test/agent/worker --scope "pam:login:$USER_OK")
ALL_TOKENS="$GOOD $OTHER $WRONGAUD $WRONGISS $EXPIRED $ROGUE $BOUND $DELEGATED"

echo "# auth, account, session"
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
check "session environment carries the delegation chain" \
    "$(grep '^AIM_CHAIN=' "$T/session.env")" "AIM_CHAIN=$AGENT"
hasnt "the token itself is not in the session environment" "$GOOD" "$T/session.fullenv"
if grep -q '"decision":"allow".*"action":"login"' "$T/audit.log" \
   && grep -q '"decision":"allow".*"action":"account"' "$T/audit.log" \
   && grep -q '"action":"session_open".*"agent":"spiffe://test/agent/deployer"' "$T/audit.log" \
   && grep -q '"action":"session_close".*"agent":"spiffe://test/agent/deployer"' "$T/audit.log"; then
    ok "audit lines for login, account, session open and close, with the agent"
else
    bad "audit lines for login, account, session open and close, with the agent"
fi
check "the resource names service and account" \
    "$(grep -c '"resource":"service aim-env account nobody"' "$T/audit.log")" 4

TOKEN=$DELEGATED
check "delegated token logs in" "$(result aim-env $USER_OK authenticate open_session)" success
check "AIM_AGENT is the current actor" "$(grep '^AIM_AGENT=' "$T/session.env")" \
    "AIM_AGENT=spiffe://test/agent/worker"
check "AIM_CHAIN is actor>subject" "$(grep '^AIM_CHAIN=' "$T/session.env")" \
    "AIM_CHAIN=spiffe://test/agent/worker>spiffe://test/agent/planner"
check "AIM_OWNER is absent when the token has no owner" \
    "$(grep -c '^AIM_OWNER=' "$T/session.env")" 0

echo "# refusals and their codes"
check "nonexistent account: PAM_USER_UNKNOWN" \
    "$(TOKEN=$GOOD result aim-env no-such-user-aim authenticate)" "User not known to the underlying authentication module"
has "nonexistent account: the client sees the uniform message" "AIM authentication failed" "$T/out.last"
if grep -q '"decision":"deny","reason":"policy_denied".*"resource":"service aim-env account no-such-user-aim".*"agent":"spiffe://test/agent/deployer".*"message":"account does not exist"' "$T/audit.log"; then
    ok "nonexistent account: audit line names the agent that tried"
else
    bad "nonexistent account: audit line names the agent that tried"
fi
check "token for another account is refused (scope): PAM_PERM_DENIED" \
    "$(TOKEN=$OTHER result aim-env $USER_OK authenticate)" "Permission denied"
check "a token without pam:login:root cannot log in as root" \
    "$(TOKEN=$GOOD result aim-env root authenticate)" "Permission denied"
check "wrong audience: PAM_AUTH_ERR" "$(TOKEN=$WRONGAUD result aim-env $USER_OK authenticate)" "Authentication failure"
has "wrong audience: reason in syslog" "refused: bad_audience" "$T/out.last"
check "wrong issuer" "$(TOKEN=$WRONGISS result aim-env $USER_OK authenticate)" "Authentication failure"
check "expired" "$(TOKEN=$EXPIRED result aim-env $USER_OK authenticate)" "Authentication failure"
has "expired: reason in syslog" "refused: expired" "$T/out.last"
check "signed by an unknown key" "$(TOKEN=$ROGUE result aim-env $USER_OK authenticate)" "Authentication failure"
check "DPoP-bound token (cnf.jkt) is not a bearer token for PAM" \
    "$(TOKEN=$BOUND result aim-env $USER_OK authenticate)" "Authentication failure"
has "DPoP-bound: reason in syslog" "refused: bad_binding" "$T/out.last"
check "junk" "$(TOKEN='not.a.token' result aim-env $USER_OK authenticate)" "Authentication failure"
has "junk: reason in syslog" "refused: malformed" "$T/out.last"
check "empty answer to the prompt" "$(STDIN=$'\n' result aim-conv $USER_OK authenticate)" "Authentication failure"
has "empty: reason in syslog" "refused: no_token" "$T/out.last"
BIG=$(head -c 20000 /dev/zero | tr '\0' 'A')
check "oversized (60 KB)" "$(TOKEN="$BIG.$BIG.$BIG" result aim-env $USER_OK authenticate)" "Authentication failure"
has "oversized: clear reason in syslog" "token is 60002 bytes, more than the 16384 allowed" "$T/out.last"
if grep -q '"decision":"deny","reason":"malformed".*"message":"token is 60002 bytes' "$T/audit.log"; then
    ok "oversized: audit line"
else
    bad "oversized: audit line"
fi
CUT=${GOOD:0:1023}
[ ${#GOOD} -gt 1023 ] || CUT=$(issue --sub "$AGENT" --scope "pam:login:$USER_OK" --claim pad="$(head -c 900 /dev/zero | tr '\0' x)" | cut -c1-1023)
check "a token cut at 1023 bytes (an ssh client's limit) is refused" \
    "$(TOKEN=$CUT result aim-env $USER_OK authenticate)" "Authentication failure"
has "... and the log says why it may have been cut" "an ssh client cuts answers at 1023 bytes" "$T/out.last"
n_other=$(grep -v '^PWRAP\|^pamtester:\|^AIM authentication failed$\|^AIM token: \|^$' "$T/pamtester.log" | wc -l)
check "the client sees no other message than the uniform one" "$n_other" 0

echo "# size budget of the transports"
check "libpam_misc's conversation (su, login, pamtester) passes at most 4095 bytes" \
    "$(STDIN="$(head -c 5000 /dev/zero | tr '\0' A)"$'\n' result aim-conv $USER_OK authenticate; \
       grep -o '(token [0-9]* bytes' "$T/out.last")" "Authentication failure
(token 4095 bytes"

echo "# the conversation"
out=$(STDIN="$GOOD"$'\n' result aim-conv $USER_OK authenticate acct_mgmt; cat "$T/out.last")
if echo "$out" | grep -q "AIM token: " && echo "$out" | grep -q "^success"; then
    ok "conversation prompt 'AIM token: ' answered with the token"
else
    bad "conversation prompt 'AIM token: ' answered ($out)"
fi
check "nonexistent account: the token is still asked for (no enumeration)" \
    "$(STDIN="$GOOD"$'\n' result aim-conv no-such-user-aim authenticate)" \
    "User not known to the underlying authentication module"
has "nonexistent account: prompt shown" "AIM token: " "$T/out.last"
check "the prompted token is not passed on as PAM_AUTHTOK" \
    "$(STDIN="$GOOD"$'\n' result aim-items $USER_OK authenticate open_session)" success
if grep -q '^PAM_AUTHTOK=.' "$T/session.fullenv" || grep -qF "$GOOD" "$T/session.fullenv"; then
    bad "... later modules cannot see it"
else
    ok "... later modules cannot see it"
fi

echo "# stacking"
check "use_first_pass takes the previous module's token" \
    "$(AUTHTOK=$GOOD TOKEN= result aim-stack $USER_OK authenticate acct_mgmt)" success
hasnt "use_first_pass: no prompt" "AIM token: " "$T/out.last"
check "use_first_pass without a previous token fails" \
    "$(AUTHTOK= TOKEN= result aim-stack $USER_OK authenticate)" "Authentication failure"
hasnt "use_first_pass without a previous token: no prompt" "AIM token: " "$T/out.last"
check "use_first_pass with a password instead of a token fails" \
    "$(AUTHTOK=hunter2 TOKEN= result aim-stack $USER_OK authenticate)" "Authentication failure"
check "try_first_pass takes the previous module's token" \
    "$(AUTHTOK=$GOOD TOKEN= result aim-try $USER_OK authenticate acct_mgmt)" success
hasnt "try_first_pass with a token: no prompt" "AIM token: " "$T/out.last"
check "try_first_pass: a password from before, then the prompt" \
    "$(AUTHTOK=hunter2 TOKEN= STDIN="$GOOD"$'\n' result aim-try $USER_OK authenticate acct_mgmt)" success
has "try_first_pass: prompted after the previous secret failed" "AIM token: " "$T/out.last"
check "try_first_pass without a previous token prompts" \
    "$(AUTHTOK= TOKEN= STDIN="$GOOD"$'\n' result aim-try $USER_OK authenticate)" success

echo "# token_env"
printf 'AIM_TOKEN DEFAULT=%s\n' "$GOOD" > "$T/pam_env.conf"
check "token_env: the PAM environment (pam_env) is read" \
    "$(TOKEN= result aim-pamenv $USER_OK open_session authenticate)" success
check "... and the token is removed from it before the session" \
    "$(grep -c '^AIM_TOKEN=' "$T/session.fullenv")" 0
check "... while the identity is there" "$(grep '^AIM_AGENT=' "$T/session.env")" "AIM_AGENT=$AGENT"
printf 'AIM_AGENT DEFAULT=spiffe://spoofed\nAIM_JTI DEFAULT=spoofed\n' > "$T/pam_env_spoof.conf"
svc aim-spoof \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN" \
    "auth     optional pam_exec.so $T/dumpenv.sh" \
    "session  required pam_env.so readenv=0 conffile=$T/pam_env_spoof.conf"
check "an AIM_* identity set by another module is dropped when auth fails" \
    "$(TOKEN=junk result aim-spoof $USER_OK open_session authenticate; cat "$T/session.env")" \
    "Authentication failure"
check "... and replaced when it succeeds" \
    "$(TOKEN=$GOOD result aim-spoof $USER_OK open_session authenticate; grep -h '^AIM_AGENT\|^AIM_JTI' "$T/session.env")" \
    "success
AIM_AGENT=$AGENT
AIM_JTI=jti-good"
check "token_env unset: falls back to the conversation" \
    "$(TOKEN= STDIN="$GOOD"$'\n' result aim-env $USER_OK authenticate)" success

echo "# scope template"
check "service in the scope template (%s:%u)" \
    "$(TOKEN=$(issue --sub "$AGENT" --scope "pam:aim-service-scope:$USER_OK") result aim-service-scope $USER_OK authenticate)" success
check "... and a token for another service is refused" \
    "$(TOKEN=$(issue --sub "$AGENT" --scope "pam:sshd:$USER_OK") result aim-service-scope $USER_OK authenticate)" "Permission denied"
check "host name and %% in the scope template (host:%h:%%:%u)" \
    "$(TOKEN=$(issue --sub "$AGENT" --scope "host:$HOST:%:$USER_OK") result aim-host-scope $USER_OK authenticate)" success
check "a user name with a newline is refused, before any scope" \
    "$(TOKEN=$GOOD result aim-env $'nobody\nroot' authenticate)" "User not known to the underlying authentication module"
has "... and logged without the newline" 'unknown account nobody?root' "$T/out.last"

echo "# configuration fails closed"
check "unknown option fails closed (PAM_AUTHINFO_UNAVAIL)" \
    "$(TOKEN=$GOOD result aim-unknown-option $USER_OK authenticate)" "Authentication service cannot retrieve authentication info"
has "unknown option: logged" 'unknown option "frobnicate": refusing to work' "$T/out.last"
check "bad %-escape in scope= fails closed" \
    "$(TOKEN=$GOOD result aim-bad-escape $USER_OK authenticate)" "Authentication service cannot retrieve authentication info"
check "unreadable key file fails closed" \
    "$(TOKEN=$GOOD result aim-no-keys $USER_OK authenticate)" "Authentication service cannot retrieve authentication info"
has "unreadable key file: logged with the file name" "$T/missing.json" "$T/out.last"
hasnt "unreadable key file: no prompt before failing" "AIM token: " "$T/out.last"
check "missing issuer= fails closed" \
    "$(TOKEN=$GOOD result aim-no-issuer $USER_OK authenticate)" "Authentication service cannot retrieve authentication info"
check "unknown option in account fails closed even without an AIM login" \
    "$(TOKEN= result aim-acct-unknown-option $USER_OK authenticate acct_mgmt)" "Authentication service cannot retrieve authentication info"

echo "# revocation"
for what in "agent $AGENT" "jti jti-good" "kid pam-test"; do
    echo "$what" > "$T/revoked"
    check "revoked ($what): PAM_PERM_DENIED" "$(TOKEN=$GOOD result aim-env $USER_OK authenticate)" "Permission denied"
    has "revoked ($what): reason in syslog" "refused: revoked" "$T/out.last"
done
: > "$T/revoked"

echo "# account"
# A transaction authenticated before the revocation fails its account
# step after it (a cached sudo credential, a long-lived connection).
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
check "account re-check sees a revocation made after auth (same second)" \
    "$(TOKEN=$GOOD result aim-late $USER_OK authenticate acct_mgmt)" "Permission denied"
has "... logged as an account refusal" "account nobody for agent $AGENT refused: revoked" "$T/out.last"
: > "$T/revoked"
cat > "$T/late-key.sh" <<EOS
#!/bin/sh
"$AIMCTL" jwks "$T/rogue.key" > "$T/jwks2.json" && mv "$T/jwks2.json" "$T/jwks-late.json"
EOS
chmod +x "$T/late-key.sh"
"$AIMCTL" jwks "$T/issuer.key" > "$T/jwks-late.json"
svc aim-late-key \
    "auth     required $MODULE keys=$T/jwks-late.json issuer=$ISS audience=$AUD token_env=AIM_TOKEN" \
    "auth     optional pam_exec.so $T/late-key.sh" \
    "account  required $MODULE keys=$T/jwks-late.json issuer=$ISS audience=$AUD"
check "account re-check: the signing key removed after auth" \
    "$(TOKEN=$GOOD result aim-late-key $USER_OK authenticate acct_mgmt)" "Permission denied"
check "account re-check: PAM_USER changed after auth" \
    "$(TOKEN=$(issue --sub "$AGENT" --scope pam:login) PAMUSER=root result aim-user-switch $USER_OK authenticate acct_mgmt)" "Permission denied"
has "... logged" "and PAM_USER changed since" "$T/out.last"
check "account without an AIM login: PAM_IGNORE (alone in the stack: denied)" \
    "$(TOKEN=$GOOD result aim-acct-only $USER_OK authenticate acct_mgmt)" "Permission denied"
hasnt "... and nothing is verified" "aim audit" "$T/out.last"
check "account without an AIM login, token_env= set: the token is verified" \
    "$(TOKEN=$GOOD result aim-acct-env $USER_OK authenticate acct_mgmt)" success
echo "jti jti-good" > "$T/revoked"
check "... and refused once revoked (sudo's cached credential)" \
    "$(TOKEN=$GOOD result aim-acct-env $USER_OK authenticate acct_mgmt)" "Permission denied"
: > "$T/revoked"
check "... and for another account" \
    "$(TOKEN=$GOOD result aim-acct-env root authenticate acct_mgmt)" "Permission denied"

echo "# one verifier per PAM handle"
check "debug: a full transaction" \
    "$(TOKEN=$GOOD result aim-debug $USER_OK authenticate acct_mgmt open_session close_session)" success
check "the verifier is built once per handle (auth, reused by account and session)" \
    "$(grep -c 'verifier built in' "$T/out.last")" 1
has "debug: the login is logged" "agent $AGENT logs in as nobody (jti jti-good)" "$T/out.last"
svc aim-debug2 \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN debug" \
    "account  required $MODULE $COMMON debug leeway=5"
check "other core options in account: a verifier of their own" \
    "$(TOKEN=$GOOD result aim-debug2 $USER_OK authenticate acct_mgmt)" success
check "... built twice in that handle" "$(grep -c 'verifier built in' "$T/out.last")" 2

echo "# trust"
# A probing agent (50 logins to accounts it lacks) is refused afterwards
# even for the account it may use; another agent is not.
PROBER=$(issue --sub spiffe://test/agent/prober --scope "pam:login:$USER_OK" --jti jti-prober)
ALL_TOKENS="$ALL_TOKENS $PROBER"
for i in $(seq 1 50); do TOKEN=$PROBER pamw aim-trust root authenticate >> "$T/pamtester.log"; done
check "probing agent refused by trust" "$(TOKEN=$PROBER result aim-trust $USER_OK authenticate)" "Permission denied"
check "other agent unaffected" "$(TOKEN=$GOOD result aim-trust $USER_OK authenticate)" success
if grep -q '"reason":"low_trust"' "$T/audit.log"; then ok "low_trust in the audit log"; else bad "low_trust in the audit log"; fi

echo "# memory (valgrind, pam_wrapper without deep binding)"
if [ "${PAM_VALGRIND-1}" = 0 ]; then
    skip "valgrind cases (PAM_VALGRIND=0)"
elif ! command -v valgrind >/dev/null; then
    skip "valgrind cases: valgrind is not installed"
else
    for c in "$GOOD:$USER_OK:success" "$OTHER:$USER_OK:Permission denied" \
             "junk:no-such-user-aim:User not known to the underlying authentication module"; do
        tok=${c%%:*}; rest=${c#*:}; u=${rest%%:*}; want=${rest#*:}
        got=$(VG=1 PAM_WRAPPER_DISABLE_DEEPBIND=1 TOKEN=$tok \
              result aim-env "$u" authenticate acct_mgmt open_session close_session)
        if [ "$got" = "$want" ] && [ ! -s "$T/valgrind.log" ]; then
            ok "valgrind: no leak or error ($want)"
        else
            bad "valgrind: no leak or error ($want; got '$got'; $(head -c 2000 "$T/valgrind.log"))"
        fi
    done
fi

echo "# logs"
leak=0
for t in $ALL_TOKENS; do
    sig=${t##*.}
    if grep -qF -- "$sig" "$T/audit.log" "$T/pamtester.log"; then leak=1; fi
done
check "no token (not even its signature) in the audit log or syslog" "$leak" 0
has "refusals reach syslog at LOG_NOTICE (pam_syslog)" "SYSLOG(5): login as nobody by agent" "$T/pamtester.log"
hasnt "no pam_putenv noise" "delete non-existent entry" "$T/pamtester.log"

echo "# build"
if ! command -v clang >/dev/null; then
    skip "clang -Werror build: clang is not installed"
elif [ -z "${PAM_AIM_CFLAGS-}" ]; then
    skip "clang -Werror build: run through make test-pam (it passes the flags)"
elif clang $PAM_AIM_CFLAGS -c -o "$T/pam_aim.clang.o" pam_aim/pam_aim.c 2> "$T/clang.err"; then
    ok "clang builds pam_aim.c with the core's warnings and -Werror"
else
    bad "clang builds pam_aim.c with the core's warnings and -Werror ($(head -5 "$T/clang.err"))"
fi

echo "# symbols"
syms=$(nm -D --defined-only "$MODULE" | awk '{print $3}' | sort | tr '\n' ' ')
check "exports exactly the six pam_sm_* entry points" "$syms" "pam_sm_acct_mgmt pam_sm_authenticate pam_sm_chauthtok pam_sm_close_session pam_sm_open_session pam_sm_setcred "
check "nothing of the core (aim_*) is exported" "$(nm -D --defined-only "$MODULE" | grep -c ' aim_')" 0

finish
