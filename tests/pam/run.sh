#!/bin/bash
# pam_aim through real Linux-PAM, with pam_wrapper (no change to /etc)
# and pamtester as the application.  Service files are generated in a
# temporary directory and name build/pam_aim.so by its absolute path.
# Accounts that /etc/passwd lacks come from nss_wrapper.
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
NSSWRAPPER=$(ls /usr/lib/*/libnss_wrapper.so 2>/dev/null | head -1)
PWMODS=$(dirname "$WRAPPER")/pam_wrapper
PASS=0 FAIL=0 SKIP=0

ok()    { PASS=$((PASS + 1)); echo "ok   - $1"; }
bad()   { FAIL=$((FAIL + 1)); echo "FAIL - $1"; }
skip()  { SKIP=$((SKIP + 1)); echo "SKIP - $1"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (expected '$3', got '$2')"; fi; }
has()   { if grep -qF -- "$2" "$3"; then ok "$1"; else bad "$1 ('$2' not in $(basename "$3"))"; fi; }
hasnt() { if grep -qF -- "$2" "$3"; then bad "$1 ('$2' found in $(basename "$3"))"; else ok "$1"; fi; }
# grep -E on a file: the audit log's JSON lines
audit_has() { if grep -qE -- "$2" "$T/audit.log"; then ok "$1"; else bad "$1 (no audit line matches $2)"; fi; }
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
UTF8_USER=jürgen          # only in nss_wrapper's passwd file
ISS=https://issuer.test
AUD=host-logins
HOST=$(hostname)

"$AIMCTL" keygen --alg ES256 --kid pam-test --out "$T/issuer.key" >/dev/null
"$AIMCTL" jwks "$T/issuer.key" > "$T/jwks.json"
"$AIMCTL" keygen --alg ES256 --kid rogue --out "$T/rogue.key" >/dev/null
: > "$T/revoked"
mkdir -p "$T/services"
: > "$T/pamtester.log"
# The system's accounts, and one whose name is not ASCII.
{ getent passwd; echo "$UTF8_USER:x:4242:4242::/nonexistent:/usr/sbin/nologin"; } > "$T/passwd"
{ getent group; echo "agents:x:4242:"; } > "$T/group"

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
    "password required $MODULE $COMMON" \
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
svc aim-bad-template \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN scope=pam:\"%u"
svc aim-no-keys \
    "auth     required $MODULE keys=$T/missing.json issuer=$ISS audience=$AUD token_env=AIM_TOKEN"
svc aim-no-issuer \
    "auth     required $MODULE keys=$T/jwks.json audience=$AUD token_env=AIM_TOKEN"
svc aim-bad-core-value \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN leeway=forever"
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
# A module between the steps changes PAM_USER (pam_set_items).
svc aim-user-switch \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN scope=pam:login" \
    "account  required $PWMODS/pam_set_items.so" \
    "account  required $MODULE $COMMON scope=pam:login"
svc aim-user-switch-session \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN scope=pam:login" \
    "session  required $PWMODS/pam_set_items.so" \
    "session  required $MODULE $COMMON scope=pam:login" \
    "session  optional pam_exec.so $T/dumpenv.sh"
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

# pamtester in the wrapped PAM and NSS; the token in $TOKEN (process
# environment), a previous module's secret in $AUTHTOK, stdin from $STDIN.
pamw() {
    printf '%s' "${STDIN-}" | env LD_PRELOAD="$WRAPPER $NSSWRAPPER" PAM_WRAPPER=1 \
        PAM_WRAPPER_SERVICE_DIR="$T/services" PAM_WRAPPER_DEBUGLEVEL=2 \
        NSS_WRAPPER_PASSWD="$T/passwd" NSS_WRAPPER_GROUP="$T/group" \
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
        sed -n 's/^.*pamtester: //p' "$T/out.last" \
            | grep -v '^invoking\|^performing\|^successfully\|done\.$' | tail -1
    fi
}
# The audit log from here on: what one case wrote.
mark() { AUDIT_MARK=$(wc -l < "$T/audit.log" 2>/dev/null || echo 0); }
since() { tail -n +$((AUDIT_MARK + 1)) "$T/audit.log"; }

issue() {  # extra aimctl issue args
    "$AIMCTL" issue --key "$T/issuer.key" --iss "$ISS" --aud "$AUD" "$@"
}

AUTH_ERR="Authentication failure"
PERM="Permission denied"
UNKNOWN="User not known to the underlying authentication module"
UNAVAIL="Authentication service cannot retrieve authentication info"
SESSION_ERR="Cannot make/remove an entry for the specified session"

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
hasnt "nor the sealed hand-over (removed at session open)" "AIM_PAM_SEAL" "$T/session.fullenv"
audit_has "audit: login allowed, with the agent" '"decision":"allow".*"action":"login".*"agent":"spiffe://test/agent/deployer"'
audit_has "audit: account allowed" '"decision":"allow".*"action":"account"'
audit_has "audit: session open allowed after the re-check, with the agent" \
    '"decision":"allow".*"action":"session_open".*"agent":"spiffe://test/agent/deployer"'
audit_has "audit: session close is a note, with the agent" \
    '"decision":"note".*"action":"session_close".*"agent":"spiffe://test/agent/deployer".*"message":"session closed"'
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

echo "# auth: return codes"
mark
check "nonexistent account: PAM_USER_UNKNOWN" \
    "$(TOKEN=$GOOD result aim-env no-such-user-aim authenticate)" "$UNKNOWN"
has "nonexistent account: the client sees the uniform message" "AIM authentication failed" "$T/out.last"
if since | grep -q '"decision":"deny","reason":"policy_denied".*"resource":"service aim-env account no-such-user-aim".*"agent":"spiffe://test/agent/deployer".*"message":"account does not exist"'; then
    ok "nonexistent account: the audit line names the agent that tried"
else
    bad "nonexistent account: the audit line names the agent that tried"
fi
check "token for another account (scope): PAM_AUTH_ERR" \
    "$(TOKEN=$OTHER result aim-env $USER_OK authenticate)" "$AUTH_ERR"
has "... reason in syslog" "refused: insufficient_scope" "$T/out.last"
check "a token without pam:login:root cannot log in as root" \
    "$(TOKEN=$GOOD result aim-env root authenticate)" "$AUTH_ERR"
check "wrong audience: PAM_AUTH_ERR" "$(TOKEN=$WRONGAUD result aim-env $USER_OK authenticate)" "$AUTH_ERR"
has "wrong audience: reason in syslog" "refused: bad_audience" "$T/out.last"
check "wrong issuer" "$(TOKEN=$WRONGISS result aim-env $USER_OK authenticate)" "$AUTH_ERR"
check "expired" "$(TOKEN=$EXPIRED result aim-env $USER_OK authenticate)" "$AUTH_ERR"
has "expired: reason in syslog" "refused: expired" "$T/out.last"
check "signed by an unknown key" "$(TOKEN=$ROGUE result aim-env $USER_OK authenticate)" "$AUTH_ERR"
check "DPoP-bound token (cnf.jkt) is not a bearer token for PAM" \
    "$(TOKEN=$BOUND result aim-env $USER_OK authenticate)" "$AUTH_ERR"
has "DPoP-bound: reason in syslog" "refused: bad_binding" "$T/out.last"
check "junk" "$(TOKEN='not.a.token' result aim-env $USER_OK authenticate)" "$AUTH_ERR"
has "junk: reason in syslog" "refused: malformed" "$T/out.last"
mark
BIG=$(head -c 20000 /dev/zero | tr '\0' 'A')
check "oversized (60 KB): the core bounds it" "$(TOKEN="$BIG.$BIG.$BIG" result aim-env $USER_OK authenticate)" "$AUTH_ERR"
has "oversized: clear reason in syslog" "token is 60002 bytes, more than the 16384 allowed" "$T/out.last"
if since | grep -q '"decision":"deny","reason":"malformed".*"message":"token is 60002 bytes'; then
    ok "oversized: audit line"
else
    bad "oversized: audit line"
fi
CUT=${GOOD:0:1023}
[ ${#GOOD} -gt 1023 ] || CUT=$(issue --sub "$AGENT" --scope "pam:login:$USER_OK" --claim pad="$(head -c 900 /dev/zero | tr '\0' x)" | cut -c1-1023)
check "a token cut at 1023 bytes (an ssh client's limit) is refused" \
    "$(TOKEN=$CUT result aim-env $USER_OK authenticate)" "$AUTH_ERR"
has "... and the log says why it may have been cut" "an ssh client cuts answers at 1023 bytes" "$T/out.last"
n_other=$(grep -v '^PWRAP\|^pamtester:\|^AIM authentication failed$\|^AIM token: \|^$' "$T/pamtester.log" | wc -l)
check "the client sees no other message than the uniform one" "$n_other" 0

echo "# auth: no token offered"
mark
check "empty answer to the prompt: PAM_AUTH_ERR" \
    "$(STDIN=$'\n' result aim-conv $USER_OK authenticate)" "$AUTH_ERR"
has "... reason in syslog" "refused: no_token" "$T/out.last"
if since | grep -q '"decision":"deny","reason":"no_token"'; then ok "... audited"; else bad "... audited"; fi
# A mixed stack: agents offer tokens, others a password.
svc aim-mixed \
    "auth     [success=done ignore=ignore default=die] $MODULE $COMMON ignore_no_token" \
    "auth     required pam_permit.so"
mark
check "ignore_no_token: no token offered is PAM_IGNORE, the next module decides" \
    "$(STDIN=$'\n' result aim-mixed $USER_OK authenticate)" success
has "... logged as no token, not as a refusal" "no token offered for nobody (the prompt): ignored" "$T/out.last"
hasnt "... and the client is not told of a failure" "AIM authentication failed" "$T/out.last"
check "... and no decision was taken (no audit line)" "$(since | wc -l)" 0
check "ignore_no_token: a refused token still ends the stack (default=die)" \
    "$(STDIN=junk$'\n' result aim-mixed $USER_OK authenticate)" "$AUTH_ERR"
check "ignore_no_token: a good token is enough (success=done)" \
    "$(STDIN="$GOOD"$'\n' result aim-mixed $USER_OK authenticate)" success
check "ignore_no_token, nonexistent account, no token: PAM_IGNORE too (no enumeration)" \
    "$(STDIN=$'\n' result aim-mixed no-such-user-aim authenticate)" success
svc aim-mixed-alone "auth     required $MODULE $COMMON ignore_no_token"
check "ignore_no_token alone in the stack: no token is denied" \
    "$(STDIN=$'\n' result aim-mixed-alone $USER_OK authenticate)" "$PERM"

echo "# size budget of the transports"
check "libpam_misc's conversation (su, login, pamtester) passes at most 4095 bytes" \
    "$(STDIN="$(head -c 5000 /dev/zero | tr '\0' A)"$'\n' result aim-conv $USER_OK authenticate; \
       grep -o '(token [0-9]* bytes' "$T/out.last")" "$AUTH_ERR
(token 4095 bytes"

echo "# the conversation"
out=$(STDIN="$GOOD"$'\n' result aim-conv $USER_OK authenticate acct_mgmt; cat "$T/out.last")
if echo "$out" | grep -q "AIM token: " && echo "$out" | grep -q "^success"; then
    ok "conversation prompt 'AIM token: ' answered with the token"
else
    bad "conversation prompt 'AIM token: ' answered ($out)"
fi
svc aim-prompt \
    "auth     required $MODULE $COMMON [prompt=Agent token for this host: ]"
check "prompt= sets the prompt ([...] for blanks)" \
    "$(STDIN="$GOOD"$'\n' result aim-prompt $USER_OK authenticate)" success
has "... and it is shown" "Agent token for this host: " "$T/out.last"
svc aim-bad-prompt "auth     required $MODULE $COMMON prompt="
check "an empty prompt= is a configuration error" \
    "$(STDIN="$GOOD"$'\n' result aim-bad-prompt $USER_OK authenticate)" "$UNAVAIL"
check "nonexistent account: the token is still asked for (no enumeration)" \
    "$(STDIN="$GOOD"$'\n' result aim-conv no-such-user-aim authenticate)" "$UNKNOWN"
has "nonexistent account: prompt shown" "AIM token: " "$T/out.last"
check "the prompted token is not passed on as PAM_AUTHTOK" \
    "$(STDIN="$GOOD"$'\n' result aim-items $USER_OK authenticate open_session)" success
if grep -q '^PAM_AUTHTOK=.' "$T/session.fullenv" || grep -qF "$GOOD" "$T/session.fullenv"; then
    bad "... later modules cannot see it"
else
    ok "... later modules cannot see it"
fi

echo "# stacking: use_first_pass, try_first_pass"
check "use_first_pass takes the previous module's token" \
    "$(AUTHTOK=$GOOD TOKEN= result aim-stack $USER_OK authenticate acct_mgmt)" success
hasnt "use_first_pass: no prompt" "AIM token: " "$T/out.last"
check "use_first_pass without a previous token fails, though the module before succeeded" \
    "$(AUTHTOK= TOKEN= result aim-stack $USER_OK authenticate)" "$AUTH_ERR"
hasnt "use_first_pass without a previous token: no prompt" "AIM token: " "$T/out.last"
has "... logged" "refused: no_token" "$T/out.last"
check "use_first_pass with a password instead of a token fails" \
    "$(AUTHTOK=hunter2 TOKEN= result aim-stack $USER_OK authenticate)" "$AUTH_ERR"
check "try_first_pass takes the previous module's token" \
    "$(AUTHTOK=$GOOD TOKEN= result aim-try $USER_OK authenticate acct_mgmt)" success
hasnt "try_first_pass with a token: no prompt" "AIM token: " "$T/out.last"
check "try_first_pass: a password from before, then the prompt" \
    "$(AUTHTOK=hunter2 TOKEN= STDIN="$GOOD"$'\n' result aim-try $USER_OK authenticate acct_mgmt)" success
has "try_first_pass: prompted after the previous secret failed" "AIM token: " "$T/out.last"
has "... and the previous secret's refusal logged" "login with PAM_AUTHTOK as nobody refused: malformed" "$T/out.last"
check "try_first_pass without a previous token prompts" \
    "$(AUTHTOK= TOKEN= STDIN="$GOOD"$'\n' result aim-try $USER_OK authenticate)" success

echo "# token_env"
printf 'AIM_TOKEN DEFAULT=%s\n' "$GOOD" > "$T/pam_env.conf"
check "token_env: the PAM environment (pam_env) is read" \
    "$(TOKEN= result aim-pamenv $USER_OK open_session authenticate)" success
check "... and the token is removed from it" \
    "$(grep -c '^AIM_TOKEN=' "$T/session.fullenv")" 0
check "... and the identity is not exported before a session re-checks it" \
    "$(grep -c '^AIM_AGENT=' "$T/session.fullenv")" 0
check "token_env unset: falls back to the conversation" \
    "$(TOKEN= STDIN="$GOOD"$'\n' result aim-env $USER_OK authenticate)" success

echo "# scope template"
check "service in the scope template (%s:%u)" \
    "$(TOKEN=$(issue --sub "$AGENT" --scope "pam:aim-service-scope:$USER_OK") result aim-service-scope $USER_OK authenticate)" success
check "... and a token for another service is refused" \
    "$(TOKEN=$(issue --sub "$AGENT" --scope "pam:sshd:$USER_OK") result aim-service-scope $USER_OK authenticate)" "$AUTH_ERR"
check "host name and %% in the scope template (host:%h:%%:%u)" \
    "$(TOKEN=$(issue --sub "$AGENT" --scope "host:$HOST:%:$USER_OK") result aim-host-scope $USER_OK authenticate)" success
check "a user name with a newline is refused, before any scope" \
    "$(TOKEN=$GOOD result aim-env $'nobody\nroot' authenticate)" "$UNKNOWN"
has "... and logged escaped" 'login as nobody\u000aroot by agent' "$T/out.last"

echo "# accounts whose names are not ASCII"
if [ -z "$NSSWRAPPER" ]; then
    for i in 1 2 3 4 5 6; do skip "account that is not ASCII: libnss-wrapper missing (run ./deps.sh)"; done
else
    UTF8_TOKEN=$(issue --sub "$AGENT" --scope "pam:login:agents")
    mark
    check "with %u in the scope: PAM_USER_UNKNOWN (a scope is ASCII; see pam_aim(8))" \
        "$(TOKEN=$UTF8_TOKEN result aim-env "$UTF8_USER" authenticate)" "$UNKNOWN"
    has "... logged with the name escaped" 'login as j\u00fcrgen by agent spiffe://test/agent/deployer refused: policy_denied: the account name cannot form the scope' "$T/out.last"
    if since | grep -q '"reason":"policy_denied","adapter":"pam","action":"login","resource":"service aim-env account jürgen"'; then
        ok "... audited as the host's denial, the resource in UTF-8"
    else
        bad "... audited as the host's denial, the resource in UTF-8"
    fi
    svc aim-utf8 \
        "auth     required $MODULE $COMMON token_env=AIM_TOKEN scope=pam:login:agents" \
        "account  required $MODULE $COMMON scope=pam:login:agents" \
        "session  required $MODULE $COMMON scope=pam:login:agents" \
        "session  optional pam_exec.so $T/dumpenv.sh"
    check "with a scope that does not name the account: the login works" \
        "$(TOKEN=$UTF8_TOKEN result aim-utf8 "$UTF8_USER" authenticate acct_mgmt open_session close_session)" success
    check "... and the session has the identity" "$(grep '^AIM_AGENT=' "$T/session.env")" "AIM_AGENT=$AGENT"
    if grep -a 'aim audit' "$T/out.last" | grep -q 'account j\\u00fcrgen"' \
       && ! grep -a 'aim audit' "$T/out.last" | LC_ALL=C grep -q $'\xc3'; then
        ok "... syslog's audit lines escape the name (JSON \\u00fc), never raw UTF-8"
    else
        bad "... syslog's audit lines escape the name (JSON \\u00fc), never raw UTF-8"
    fi
fi

echo "# agent ids with control and bidi characters"
# The core refuses or escapes such ids (another layer); whatever it lets
# through, pam_aim writes to syslog and the environment escaped, as the
# audit line's JSON does.
evil() {  # NAME SUB-as-JSON-text ESCAPED
    local name=$1 sub=$2 esc=$3 tok got
    tok=$(issue --sub x --claim "sub=\"$sub\"" --scope "pam:login:$USER_OK")
    ALL_TOKENS="$ALL_TOKENS $tok"
    mark
    got=$(TOKEN=$tok result aim-env $USER_OK authenticate acct_mgmt open_session close_session)
    if [ "$got" = success ]; then
        check "$name: logs in, AIM_AGENT escaped" "$(grep '^AIM_AGENT=' "$T/session.env")" "AIM_AGENT=$esc"
        if grep 'aim audit: .*"action":"session_open"' "$T/out.last" | grep -qF "\"agent\":\"$esc\""; then
            ok "$name: syslog's audit line has the id JSON-escaped"
        else
            bad "$name: syslog's audit line has the id JSON-escaped"
        fi
    elif [ "$got" = "$AUTH_ERR" ] && since | grep -q '"reason":"bad_claim"'; then
        ok "$name: refused by the core (bad_claim)"
        ok "$name: (no session, nothing exported)"
    else
        bad "$name: escaped or refused (got '$got')"
        bad "$name: (no outcome)"
    fi
    check "$name: refused for another account" "$(TOKEN=$tok result aim-env root authenticate)" "$AUTH_ERR"
    if grep -qF "as root by agent $esc refused" "$T/out.last" || grep -q 'as root refused: bad_claim' "$T/out.last"; then
        ok "$name: the refusal line names the agent escaped (or the core refused the id)"
    else
        bad "$name: the refusal line names the agent escaped (or the core refused the id)"
    fi
}
evil "sub with U+202E" 'spiffe://test/agent/gpj\u202eexe.sh' 'spiffe://test/agent/gpj\u202eexe.sh'
evil "sub with U+202E and a newline" 'spiffe://test/agent/evil\u202e\nroot' 'spiffe://test/agent/evil\u202e\u000aroot'
evil "sub with a backslash" 'spiffe://test/agent/back\\slash' 'spiffe://test/agent/back\\slash'
if LC_ALL=C grep -a 'SYSLOG' "$T/pamtester.log" | LC_ALL=C grep -q $'\xe2\x80\xae'; then
    bad "no raw U+202E reaches syslog"
else
    ok "no raw U+202E reaches syslog"
fi
if grep -qx 'root' "$T/pamtester.log" || grep -q '^root by agent' "$T/pamtester.log"; then
    bad "no raw newline from an agent id splits a syslog line"
else
    ok "no raw newline from an agent id splits a syslog line"
fi

echo "# the host configuration file (config=)"
cat > "$T/aim.conf" <<EOF
# the host's AIM configuration, shared by every adapter
keys     $T/jwks.json
issuer   $ISS
audience $AUD
revoked  $T/revoked
audit    $T/audit.log
EOF
svc aim-conf \
    "auth     required $MODULE config=$T/aim.conf token_env=AIM_TOKEN" \
    "account  required $MODULE config=$T/aim.conf"
check "config=: keys, issuer, audience from the host file" \
    "$(TOKEN=$GOOD result aim-conf $USER_OK authenticate acct_mgmt)" success
svc aim-conf-override \
    "auth     required $MODULE config=$T/aim.conf audience=another-host token_env=AIM_TOKEN"
check "... an option on the line wins over the file's" \
    "$(TOKEN=$GOOD result aim-conf-override $USER_OK authenticate)" "$AUTH_ERR"
has "... (the line's audience was used)" "refused: bad_audience" "$T/out.last"
printf 'keys %s\nfrobnicate 1\n' "$T/jwks.json" > "$T/bad.conf"
svc aim-conf-bad "auth     required $MODULE config=$T/bad.conf issuer=$ISS audience=$AUD token_env=AIM_TOKEN"
check "a bad host file fails closed (PAM_AUTHINFO_UNAVAIL)" \
    "$(TOKEN=$GOOD result aim-conf-bad $USER_OK authenticate)" "$UNAVAIL"
has "... naming the file and the line" "$T/bad.conf:2: unknown option \"frobnicate\"" "$T/out.last"
svc aim-conf-missing "auth     required $MODULE config=$T/nope.conf token_env=AIM_TOKEN"
check "a missing host file fails closed" \
    "$(TOKEN=$GOOD result aim-conf-missing $USER_OK authenticate)" "$UNAVAIL"

echo "# configuration fails closed"
check "unknown option (PAM_AUTHINFO_UNAVAIL)" \
    "$(TOKEN=$GOOD result aim-unknown-option $USER_OK authenticate)" "$UNAVAIL"
has "unknown option: logged" 'unknown option "frobnicate": refusing to work' "$T/out.last"
check "a core option with a bad value: the core's error, naming it" \
    "$(TOKEN=$GOOD result aim-bad-core-value $USER_OK authenticate)" "$UNAVAIL"
has "... logged" 'option leeway: "forever" is not a whole number' "$T/out.last"
check "bad %-escape in scope=" \
    "$(TOKEN=$GOOD result aim-bad-escape $USER_OK authenticate)" "$UNAVAIL"
check "a scope= template that cannot give a scope (the core's grammar)" \
    "$(TOKEN=$GOOD result aim-bad-template $USER_OK authenticate)" "$UNAVAIL"
check "unreadable key file" \
    "$(TOKEN=$GOOD result aim-no-keys $USER_OK authenticate)" "$UNAVAIL"
has "unreadable key file: logged with the file name" "$T/missing.json" "$T/out.last"
hasnt "unreadable key file: no prompt before failing" "AIM token: " "$T/out.last"
check "missing issuer=" \
    "$(TOKEN=$GOOD result aim-no-issuer $USER_OK authenticate)" "$UNAVAIL"
check "unknown option in account fails closed even without an AIM login" \
    "$(TOKEN= result aim-acct-unknown-option $USER_OK authenticate acct_mgmt)" "$UNAVAIL"

echo "# quiet and debug"
svc aim-quiet \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN quiet" \
    "account  required $MODULE $COMMON quiet" \
    "session  required $MODULE $COMMON quiet"
mark
check "quiet: a login" "$(TOKEN=$GOOD result aim-quiet $USER_OK authenticate acct_mgmt open_session close_session)" success
hasnt "quiet: no audit lines in syslog" "aim audit:" "$T/out.last"
check "... while the audit= file has all four" "$(since | wc -l)" 4
check "quiet: a refusal" "$(TOKEN=$OTHER result aim-quiet $USER_OK authenticate)" "$AUTH_ERR"
has "... is still logged at LOG_NOTICE" "SYSLOG(5): login as nobody by agent $AGENT refused: insufficient_scope" "$T/out.last"
svc aim-quiet-mixed "auth     required $MODULE $COMMON quiet ignore_no_token"
check "quiet, ignore_no_token: no token offered" "$(STDIN=$'\n' result aim-quiet-mixed $USER_OK authenticate)" "$PERM"
hasnt "... is not logged" "no token offered" "$T/out.last"
check "debug: a full transaction" \
    "$(TOKEN=$GOOD result aim-debug $USER_OK authenticate acct_mgmt open_session close_session)" success
check "the verifier is built once per handle (auth, reused by account and session)" \
    "$(grep -c 'verifier built in' "$T/out.last")" 1
has "debug: the token's source is logged" "token from token_env" "$T/out.last"
has "debug: the login is logged" "agent $AGENT logs in as nobody" "$T/out.last"
svc aim-debug2 \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN debug" \
    "account  required $MODULE $COMMON debug leeway=5"
check "other core options in account: a verifier of their own" \
    "$(TOKEN=$GOOD result aim-debug2 $USER_OK authenticate acct_mgmt)" success
check "... built twice in that handle" "$(grep -c 'verifier built in' "$T/out.last")" 2

echo "# revocation at auth"
for what in "agent $AGENT" "jti jti-good" "kid pam-test"; do
    echo "$what" > "$T/revoked"
    check "revoked ($what): PAM_AUTH_ERR" "$(TOKEN=$GOOD result aim-env $USER_OK authenticate)" "$AUTH_ERR"
    has "revoked ($what): reason in syslog" "refused: revoked" "$T/out.last"
done
: > "$T/revoked"

# A step in the middle of the transaction revokes the agent (a cached
# sudo credential, a long-lived connection, an operator acting).
cat > "$T/late-revoke.sh" <<EOS
#!/bin/sh
echo "agent $AGENT" > "$T/revoked"
EOS
chmod +x "$T/late-revoke.sh"

echo "# account: no login, too little scope, revoked mid-way"
svc aim-late \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN" \
    "auth     optional pam_exec.so $T/late-revoke.sh" \
    "account  required $MODULE $COMMON token_env=AIM_TOKEN"
check "account re-check sees a revocation made after auth (same second)" \
    "$(TOKEN=$GOOD result aim-late $USER_OK authenticate acct_mgmt)" "$PERM"
has "... logged as an account refusal" "account for nobody by agent $AGENT refused: revoked" "$T/out.last"
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
    "$(TOKEN=$GOOD result aim-late-key $USER_OK authenticate acct_mgmt)" "$PERM"
check "account: PAM_USER changed after auth (too little scope for the new one)" \
    "$(TOKEN=$(issue --sub "$AGENT" --scope pam:login) PAMUSER=root result aim-user-switch $USER_OK authenticate acct_mgmt)" "$PERM"
has "... logged" "PAM_USER changed after authentication (from nobody)" "$T/out.last"
check "account without an AIM login: PAM_IGNORE (alone in the stack: denied)" \
    "$(TOKEN=$GOOD result aim-acct-only $USER_OK authenticate acct_mgmt)" "$PERM"
hasnt "... and nothing is verified" "aim audit" "$T/out.last"
check "account without an AIM login, token_env= set: the token is decided" \
    "$(TOKEN=$GOOD result aim-acct-env $USER_OK authenticate acct_mgmt)" success
echo "jti jti-good" > "$T/revoked"
check "... and refused once revoked (sudo's cached credential)" \
    "$(TOKEN=$GOOD result aim-acct-env $USER_OK authenticate acct_mgmt)" "$PERM"
: > "$T/revoked"
check "... and for another account" \
    "$(TOKEN=$GOOD result aim-acct-env root authenticate acct_mgmt)" "$PERM"
check "... and for an account that does not exist: PAM_USER_UNKNOWN" \
    "$(TOKEN=$GOOD result aim-acct-env no-such-user-aim authenticate acct_mgmt)" "$UNKNOWN"

echo "# session: no login, too little scope, revoked mid-way (issue 13)"
printf 'AIM_AGENT DEFAULT=spiffe://spoofed\nAIM_JTI DEFAULT=spoofed\n' > "$T/pam_env_spoof.conf"
svc aim-spoof \
    "auth     required pam_permit.so" \
    "session  required pam_env.so readenv=0 conffile=$T/pam_env_spoof.conf" \
    "session  optional $MODULE $COMMON" \
    "session  optional pam_exec.so $T/dumpenv.sh"
mark
check "a transaction pam_aim did not authenticate: the session step ignores it" \
    "$(result aim-spoof $USER_OK authenticate open_session close_session)" success
check "... and drops the AIM_* identity another module set" "$(cat "$T/session.env")" ""
has "... with a warning" "AIM_* variables for nobody that pam_aim did not set removed" "$T/out.last"
check "... and audits nothing (no \"allow\" for a spoofed agent)" "$(since | wc -l)" 0
svc aim-spoof-after \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN" \
    "session  required pam_env.so readenv=0 conffile=$T/pam_env_spoof.conf" \
    "session  required $MODULE $COMMON" \
    "session  optional pam_exec.so $T/dumpenv.sh"
check "after an AIM login, a spoofed identity is replaced by the verified one" \
    "$(TOKEN=$GOOD result aim-spoof-after $USER_OK authenticate open_session; grep -h '^AIM_AGENT\|^AIM_JTI' "$T/session.env")" \
    "success
AIM_AGENT=$AGENT
AIM_JTI=jti-good"
mark
check "a forged hand-over seal (AIM_PAM_SEAL) opens no session" \
    "$(result -E AIM_PAM_SEAL=QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB aim-spoof $USER_OK authenticate open_session)" success
check "... nothing exported, nothing audited" "$(cat "$T/session.env")$(since | wc -l)" 0
svc aim-late-session \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN" \
    "account  required $MODULE $COMMON" \
    "account  optional pam_exec.so $T/late-revoke.sh" \
    "session  required $MODULE $COMMON" \
    "session  optional pam_exec.so $T/dumpenv.sh"
check "session open re-checks: revoked after account, the session is refused" \
    "$(TOKEN=$GOOD result aim-late-session $USER_OK authenticate acct_mgmt open_session)" "$SESSION_ERR"
has "... logged" "session for nobody by agent $AGENT refused: revoked" "$T/out.last"
check "... and no identity is exported" "$(cat "$T/session.env")" ""
: > "$T/revoked"
check "session open: PAM_USER changed since auth (too little scope)" \
    "$(TOKEN=$(issue --sub "$AGENT" --scope pam:login) PAMUSER=root result aim-user-switch-session $USER_OK authenticate open_session)" "$SESSION_ERR"
check "... and no identity is exported" "$(cat "$T/session.env")" ""

echo "# a session in another process (the OpenSSH split)"
# tests/pam/fork_harness.c authenticates in a child and opens the session
# in the parent, with only the PAM environment in between, as sshd does.
svc aim-fork \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN" \
    "account  required $MODULE $COMMON" \
    "session  required $MODULE $COMMON"
if cc -Wall -Wextra -Werror -o "$T/fork_harness" tests/pam/fork_harness.c -lpam 2> "$T/harness.err"; then
    fork() {  # USER, with HARNESS_* and TOKEN in the environment
        env LD_PRELOAD="$WRAPPER $NSSWRAPPER" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/services" \
            PAM_WRAPPER_DEBUGLEVEL=2 NSS_WRAPPER_PASSWD="$T/passwd" NSS_WRAPPER_GROUP="$T/group" \
            AIM_TOKEN="${TOKEN-}" \
            ${VG:+valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
                --error-exitcode=99 --log-file=$T/valgrind.log} \
            "$T/fork_harness" aim-fork "$1" 2>> "$T/pamtester.log"
    }
    # PAM codes: 0 success, 14 PAM_SESSION_ERR, 6 PAM_PERM_DENIED (every
    # module of the stack ignored the step)
    mark
    check "auth in a child, session in the parent: the sealed login opens the session" \
        "$(TOKEN=$GOOD fork $USER_OK)" "auth=0 account=0 open=0
AIM_AGENT=$AGENT
AIM_OWNER=team-sre
AIM_SCOPE=pam:login:$USER_OK kb:read
AIM_JTI=jti-good
AIM_CHAIN=$AGENT
close=0"
    if since | grep -q '"decision":"allow".*"action":"session_open".*"agent":"spiffe://test/agent/deployer"' \
       && since | grep -q '"decision":"note".*"action":"session_close".*"agent":"spiffe://test/agent/deployer"'; then
        ok "... re-checked and audited in the parent, the close noted"
    else
        bad "... re-checked and audited in the parent, the close noted"
    fi
    check "revoked between the child's auth and the parent's session: no session" \
        "$(TOKEN=$GOOD HARNESS_BETWEEN="echo 'agent $AGENT' > $T/revoked" fork $USER_OK)" \
        "auth=0 account=0 open=14
close=-1"
    : > "$T/revoked"
    check "PAM_USER changed in the parent: no session" \
        "$(TOKEN=$GOOD HARNESS_USER=root fork $USER_OK)" "auth=0 account=0 open=14
close=-1"
    mark
    check "the seal moved to another PAM handle of the same process opens nothing" \
        "$(TOKEN=$GOOD HARNESS_OTHER_HANDLE=1 fork $USER_OK)" "auth=0 account=0 open=6
close=-1"
    check "... and audits no session" "$(since | grep -c '"action":"session')" 0
    if [ "${PAM_VALGRIND-1}" = 0 ] || ! command -v valgrind >/dev/null; then
        skip "valgrind: the hand-over between processes (PAM_VALGRIND=0 or no valgrind)"
    else
        got=$(VG=1 PAM_WRAPPER_DISABLE_DEEPBIND=1 TOKEN=$GOOD fork $USER_OK | head -1)
        if [ "$got" = "auth=0 account=0 open=0" ] && [ ! -s "$T/valgrind.log" ]; then
            ok "valgrind: no leak or error in the hand-over between processes"
        else
            bad "valgrind: no leak or error in the hand-over ($got; $(head -c 2000 "$T/valgrind.log"))"
        fi
    fi
else
    bad "the fork harness builds ($(head -3 "$T/harness.err"))"
fi

echo "# password: no login, too little scope, revoked mid-way"
svc aim-passwd \
    "auth     required pam_permit.so" \
    "password required $MODULE $COMMON" \
    "password required pam_permit.so"
check "chauthtok without an AIM login: PAM_IGNORE (the next module decides)" \
    "$(result aim-passwd $USER_OK authenticate chauthtok)" success
svc aim-passwd-alone "password required $MODULE $COMMON"
check "... alone in the stack: denied" "$(result aim-passwd-alone $USER_OK chauthtok)" "$PERM"
mark
check "chauthtok after an agent's login: refused (PAM_PERM_DENIED)" \
    "$(TOKEN=$GOOD result aim-env $USER_OK authenticate chauthtok)" "$PERM"
has "... logged" "password change for nobody by agent $AGENT refused: policy_denied: an agent's login does not change passwords" "$T/out.last"
if since | grep -q '"decision":"deny","reason":"policy_denied","adapter":"pam","action":"chauthtok"'; then
    ok "... audited"
else
    bad "... audited"
fi
check "chauthtok after a login with too little scope: auth already failed" \
    "$(TOKEN=$OTHER result aim-env $USER_OK authenticate chauthtok)" "$AUTH_ERR"
svc aim-late-passwd \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN" \
    "auth     optional pam_exec.so $T/late-revoke.sh" \
    "password required $MODULE $COMMON" \
    "password required pam_permit.so"
check "chauthtok after a revocation mid-way: refused" \
    "$(TOKEN=$GOOD result aim-late-passwd $USER_OK authenticate chauthtok)" "$PERM"
: > "$T/revoked"

echo "# trust through PAM (issue 16)"
svc aim-trust \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN state=$T/aim.state" \
    "account  required $MODULE $COMMON state=$T/aim.state" \
    "session  required $MODULE $COMMON state=$T/aim.state"
stat_of() {  # AGENT FIELD: from aimctl stats --json
    "$AIMCTL" stats --state "$T/aim.state" --json 2>/dev/null \
        | jq -r --arg a "$1" "select(.agent == \$a) | .$2" | head -1
}
COUNTED=$(issue --sub spiffe://test/agent/counted --scope "pam:login:$USER_OK" --ttl 600)
ALL_TOKENS="$ALL_TOKENS $COUNTED"
check "a full transaction (auth, account, session open and close)" \
    "$(TOKEN=$COUNTED result aim-trust $USER_OK authenticate acct_mgmt open_session close_session)" success
check "... is one event in the baseline, not one per step" "$(stat_of spiffe://test/agent/counted events)" 1
check "a refused login (scope) is one denial" \
    "$(TOKEN=$COUNTED result aim-trust root authenticate acct_mgmt)" "$AUTH_ERR"
check "... counted once" "$(stat_of spiffe://test/agent/counted events)/$(stat_of spiffe://test/agent/counted denied)" "2/1"
PROBER=$(issue --sub spiffe://test/agent/prober --scope "pam:login:$USER_OK" --jti jti-prober --ttl 600)
ALL_TOKENS="$ALL_TOKENS $PROBER"
mark
for i in $(seq 1 50); do TOKEN=$PROBER pamw aim-trust root authenticate >> "$T/pamtester.log"; done
check "50 logins to an account its scopes do not name: 50 insufficient_scope, never low_trust" \
    "$(since | grep -c '"reason":"insufficient_scope".*"agent":"spiffe://test/agent/prober"')/$(since | grep -c '"reason":"low_trust"')" "50/0"
trust=$(stat_of spiffe://test/agent/prober trust)
if awk -v t="$trust" 'BEGIN { exit !(t != "" && t < 20) }'; then
    ok "the prober's trust keeps falling past the threshold (now $trust)"
else
    bad "the prober's trust keeps falling past the threshold (now '$trust', want < 20)"
fi
check "the prober is refused afterwards even for its own account" \
    "$(TOKEN=$PROBER result aim-trust $USER_OK authenticate)" "$AUTH_ERR"
has "... for low trust" "refused: low_trust" "$T/out.last"
check "another agent is unaffected" "$(TOKEN=$GOOD result aim-trust $USER_OK authenticate acct_mgmt)" success
# A login decided before trust fell: the later steps read trust.
svc aim-trust-late \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN state=$T/aim.state" \
    "auth     optional pam_exec.so $T/probe.sh" \
    "account  required $MODULE $COMMON state=$T/aim.state"
LATE=$(issue --sub spiffe://test/agent/late --scope "pam:login:$USER_OK" --ttl 600)
LATE_PROBE=$(issue --sub spiffe://test/agent/late --scope "pam:login:$USER_OK" --ttl 600)
ALL_TOKENS="$ALL_TOKENS $LATE"
cat > "$T/probe.sh" <<EOS
#!/bin/sh
for i in \$(seq 1 40); do
    "$AIMCTL" verify --keys "$T/jwks.json" --issuer "$ISS" --audience "$AUD" --state "$T/aim.state" \
        --scope pam:login:root "$LATE_PROBE" >/dev/null 2>&1
done
EOS
chmod +x "$T/probe.sh"
check "account after auth: trust fallen in between refuses (low_trust, read, not recorded)" \
    "$(TOKEN=$LATE result aim-trust-late $USER_OK authenticate acct_mgmt)" "$PERM"
has "... logged" "account for nobody by agent spiffe://test/agent/late refused: low_trust" "$T/out.last"

echo "# memory (valgrind, pam_wrapper without deep binding)"
if [ "${PAM_VALGRIND-1}" = 0 ]; then
    skip "valgrind cases (PAM_VALGRIND=0)"
elif ! command -v valgrind >/dev/null; then
    skip "valgrind cases: valgrind is not installed"
else
    for c in "$GOOD:$USER_OK:success" "$OTHER:$USER_OK:$AUTH_ERR" \
             "junk:no-such-user-aim:$UNKNOWN"; do
        tok=${c%%:*}; rest=${c#*:}; u=${rest%%:*}; want=${rest#*:}
        got=$(VG=1 PAM_WRAPPER_DISABLE_DEEPBIND=1 TOKEN=$tok \
              result aim-env "$u" authenticate acct_mgmt open_session close_session)
        if [ "$got" = "$want" ] && [ ! -s "$T/valgrind.log" ]; then
            ok "valgrind: no leak or error ($want)"
        else
            bad "valgrind: no leak or error ($want; got '$got'; $(head -c 2000 "$T/valgrind.log"))"
        fi
    done
    got=$(VG=1 PAM_WRAPPER_DISABLE_DEEPBIND=1 TOKEN=$GOOD result aim-env $USER_OK authenticate chauthtok)
    if [ "$got" = "$PERM" ] && [ ! -s "$T/valgrind.log" ]; then
        ok "valgrind: no leak or error (password refused)"
    else
        bad "valgrind: no leak or error (password refused; got '$got'; $(head -c 2000 "$T/valgrind.log"))"
    fi
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
if grep -n '\baim_verify\b\|\baim_recheck\b\|\baim_audit\b\|AIM_MAX_TOKEN_LEN' pam_aim/pam_aim.c | grep -v '^\s*\*' > "$T/lower.txt"; then
    bad "pam_aim calls no lower-level core entry point and repeats no token bound ($(head -3 "$T/lower.txt"))"
else
    ok "pam_aim calls no lower-level core entry point and repeats no token bound"
fi

echo "# symbols"
syms=$(nm -D --defined-only "$MODULE" | awk '{print $3}' | sort | tr '\n' ' ')
check "exports exactly the six pam_sm_* entry points" "$syms" "pam_sm_acct_mgmt pam_sm_authenticate pam_sm_chauthtok pam_sm_close_session pam_sm_open_session pam_sm_setcred "
check "nothing of the core (aim_*) is exported" "$(nm -D --defined-only "$MODULE" | grep -c ' aim_')" 0

finish
