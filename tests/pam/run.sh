#!/bin/bash
# pam_aim through real Linux-PAM, with pam_wrapper (no change to /etc)
# and pamtester as the application.  Service files are generated in a
# run directory under /tmp (tests/lib/aimtest.sh) and name
# build/pam_aim.so by its absolute path.  Accounts that /etc/passwd
# lacks come from nss_wrapper.  What the suite needs and lacks
# (libpam-wrapper, libnss-wrapper, pamtester, valgrind, clang) fails it.
#
#   tests/pam/run.sh            (make test-pam)
#   KEEP=1 tests/pam/run.sh     keep the run directory and say where
#   PAM_VALGRIND=0 ...          skip the valgrind cases (counted as skipped)
set -u
. "$(dirname "$0")/../lib/aimtest.sh"
at_suite pam
cd "$AT_ROOT"
MODULE=$AT_BUILD/pam_aim.so

at_pam_wrapper || bail "libpam_wrapper is not installed (libpam-wrapper; ./deps.sh)"
at_need_cmds pamtester cc clang nm jq
[ "${PAM_VALGRIND-1}" = 0 ] || at_need_cmds valgrind
at_need_files "$AIMCTL" "$MODULE"
PWMODS=$PAM_WRAPPER_MODS
NSSWRAPPER=$(ls /usr/lib/*/libnss_wrapper.so 2> /dev/null | head -1)
at_rundir pam-test || bail "a run directory"
T=$AT_RUN
# pamtester and the fork harness read their services from $T/services;
# pam_wrapper's copies of it in /tmp/pam.X are removed at exit.
mkdir -p "$T/services"
pam_env "$T/services"

USER_OK=nobody            # an account every Debian system has
UTF8_USER=jürgen          # only in nss_wrapper's passwd file
LONG_USER=$(printf 'a%.0s' $(seq 1 246))   # ditto; pam:login:%u is 256 bytes
ISS=https://issuer.test
AUD=host-logins
HOST=$(hostname)

mint_key "$T/issuer.key" --kid pam-test
mint_jwks "$T/jwks.json" "$T/issuer.key"
mint_key "$T/rogue.key" --kid rogue
ISSUER_KEY=$T/issuer.key
: > "$T/revoked"
: > "$T/pamtester.log"
# The system's accounts, and one whose name is not ASCII.
{ getent passwd; echo "$UTF8_USER:x:4242:4242::/nonexistent:/usr/sbin/nologin"
  echo "$LONG_USER:x:4243:4242::/nonexistent:/usr/sbin/nologin"; } > "$T/passwd"
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
    printf '%s' "${STDIN-}" | env "${PAM_ENV[@]}" LD_PRELOAD="$PAM_WRAPPER_LIB $NSSWRAPPER" \
        PAM_WRAPPER_DEBUGLEVEL=2 NSS_WRAPPER_PASSWD="$T/passwd" NSS_WRAPPER_GROUP="$T/group" \
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

AUTH_ERR="Authentication failure"
PERM="Permission denied"
UNKNOWN="User not known to the underlying authentication module"
UNAVAIL="Authentication service cannot retrieve authentication info"
SESSION_ERR="Cannot make/remove an entry for the specified session"

AGENT=spiffe://test/agent/deployer
GOOD=$(issue --sub "$AGENT" --owner team-sre --scope "pam:login:$USER_OK kb:read" --jti jti-good --ttl 600)
OTHER=$(issue --sub "$AGENT" --scope "pam:login:root" --jti jti-other)
WRONGAUD=$(AUD=elsewhere issue --sub "$AGENT" --scope "pam:login:$USER_OK")
WRONGISS=$(ISS=https://other.test issue --sub "$AGENT" --scope "pam:login:$USER_OK")
EXPIRED=$(issue --sub "$AGENT" --scope "pam:login:$USER_OK" --iat $(( $(date +%s) - 600 )) --exp $(( $(date +%s) - 300 )))
ROGUE=$(ISSUER_KEY=$T/rogue.key issue --sub "$AGENT" --scope "pam:login:$USER_OK")
BOUND=$(issue --sub "$AGENT" --scope "pam:login:$USER_OK" --cnf-jkt "$("$AIMCTL" thumbprint "$T/rogue.key")")
DELEGATED=$(issue --sub spiffe://test/agent/planner --act spiffe://test/agent/worker --scope "pam:login:$USER_OK")
ALL_TOKENS="$GOOD $OTHER $WRONGAUD $WRONGISS $EXPIRED $ROGUE $BOUND $DELEGATED"

echo "# auth, account, session"
TOKEN=$GOOD
check "valid token logs in (auth, account, session)" \
    success "$(result aim-env $USER_OK authenticate acct_mgmt open_session close_session)"
check "session environment carries the agent" \
    "AIM_AGENT=$AGENT" "$(grep '^AIM_AGENT=' "$T/session.env")"
check "session environment carries the owner" \
    "AIM_OWNER=team-sre" "$(grep '^AIM_OWNER=' "$T/session.env")"
check "session environment carries the jti" \
    "AIM_JTI=jti-good" "$(grep '^AIM_JTI=' "$T/session.env")"
check "session environment carries the effective scopes" \
    "AIM_SCOPE=pam:login:$USER_OK kb:read" "$(grep '^AIM_SCOPE=' "$T/session.env")"
check "session environment carries the delegation chain" \
    "AIM_CHAIN=$AGENT" "$(grep '^AIM_CHAIN=' "$T/session.env")"
not_in_file "the token itself is not in the session environment" "$GOOD" "$T/session.fullenv"
not_in_file "nor the sealed hand-over (removed at session open)" "AIM_PAM_SEAL" "$T/session.fullenv"
check_re "audit: login allowed, with the agent" '"decision":"allow".*"action":"login".*"agent":"spiffe://test/agent/deployer"' \
    "$(cat "$T/audit.log")"
check_re "audit: account allowed" '"decision":"allow".*"action":"account"' \
    "$(cat "$T/audit.log")"
check_re "audit: session open allowed after the re-check, with the agent" \
    '"decision":"allow".*"action":"session_open".*"agent":"spiffe://test/agent/deployer"' \
    "$(cat "$T/audit.log")"
check_re "audit: session close is a note, with the agent" \
    '"decision":"note".*"action":"session_close".*"agent":"spiffe://test/agent/deployer".*"message":"session closed"' \
    "$(cat "$T/audit.log")"
check "the resource names service and account" \
    4 "$(grep -c '"resource":"service aim-env account nobody"' "$T/audit.log")"

TOKEN=$DELEGATED
check "delegated token logs in" success "$(result aim-env $USER_OK authenticate open_session)"
check "AIM_AGENT is the current actor" "AIM_AGENT=spiffe://test/agent/worker" \
    "$(grep '^AIM_AGENT=' "$T/session.env")"
check "AIM_CHAIN is actor>subject" "AIM_CHAIN=spiffe://test/agent/worker>spiffe://test/agent/planner" \
    "$(grep '^AIM_CHAIN=' "$T/session.env")"
check "AIM_OWNER is absent when the token has no owner" \
    0 "$(grep -c '^AIM_OWNER=' "$T/session.env")"

echo "# auth: return codes"
mark
check "nonexistent account: PAM_USER_UNKNOWN" \
    "$UNKNOWN" "$(TOKEN=$GOOD result aim-env no-such-user-aim authenticate)"
in_file "nonexistent account: the client sees the uniform message" "AIM authentication failed" "$T/out.last"
check_re "nonexistent account: the audit line names the agent that tried" \
    '"decision":"deny","reason":"policy_denied".*"resource":"service aim-env account no-such-user-aim".*"agent":"spiffe://test/agent/deployer".*"message":"account does not exist"' \
    "$(since)"
check "token for another account (scope): PAM_AUTH_ERR" \
    "$AUTH_ERR" "$(TOKEN=$OTHER result aim-env $USER_OK authenticate)"
in_file "... reason in syslog" "refused: insufficient_scope" "$T/out.last"
check "a token without pam:login:root cannot log in as root" \
    "$AUTH_ERR" "$(TOKEN=$GOOD result aim-env root authenticate)"
check "wrong audience: PAM_AUTH_ERR" "$AUTH_ERR" "$(TOKEN=$WRONGAUD result aim-env $USER_OK authenticate)"
in_file "wrong audience: reason in syslog" "refused: bad_audience" "$T/out.last"
check "wrong issuer" "$AUTH_ERR" "$(TOKEN=$WRONGISS result aim-env $USER_OK authenticate)"
check "expired" "$AUTH_ERR" "$(TOKEN=$EXPIRED result aim-env $USER_OK authenticate)"
in_file "expired: reason in syslog" "refused: expired" "$T/out.last"
check "signed by an unknown key" "$AUTH_ERR" "$(TOKEN=$ROGUE result aim-env $USER_OK authenticate)"
check "DPoP-bound token (cnf.jkt) is not a bearer token for PAM" \
    "$AUTH_ERR" "$(TOKEN=$BOUND result aim-env $USER_OK authenticate)"
in_file "DPoP-bound: reason in syslog" "refused: bad_binding" "$T/out.last"
check "junk" "$AUTH_ERR" "$(TOKEN='not.a.token' result aim-env $USER_OK authenticate)"
in_file "junk: reason in syslog" "refused: malformed" "$T/out.last"
mark
BIG=$(head -c 20000 /dev/zero | tr '\0' 'A')
check "oversized (60 KB): the core bounds it" "$AUTH_ERR" "$(TOKEN="$BIG.$BIG.$BIG" result aim-env $USER_OK authenticate)"
in_file "oversized: clear reason in syslog" "token is 60002 bytes, more than the 16384 allowed" "$T/out.last"
check_re "oversized: audit line" \
    '"decision":"deny","reason":"malformed".*"message":"token is 60002 bytes' \
    "$(since)"
CUT=${GOOD:0:1023}
[ ${#GOOD} -gt 1023 ] || CUT=$(issue --sub "$AGENT" --scope "pam:login:$USER_OK" --claim pad="$(head -c 900 /dev/zero | tr '\0' x)" | cut -c1-1023)
check "a token cut at 1023 bytes (an ssh client's limit) is refused" \
    "$AUTH_ERR" "$(TOKEN=$CUT result aim-env $USER_OK authenticate)"
in_file "... and the log says why it may have been cut" "an ssh client cuts answers at 1023 bytes" "$T/out.last"
n_other=$(grep -v '^PWRAP\|^pamtester:\|^AIM authentication failed$\|^AIM token: \|^$' "$T/pamtester.log" | wc -l)
check "the client sees no other message than the uniform one" 0 "$n_other"

echo "# auth: no token offered"
mark
check "empty answer to the prompt: PAM_AUTH_ERR" \
    "$AUTH_ERR" "$(STDIN=$'\n' result aim-conv $USER_OK authenticate)"
in_file "... reason in syslog" "refused: no_token" "$T/out.last"
check_re "... audited" '"decision":"deny","reason":"no_token"' "$(since)"
# A mixed stack: agents offer tokens, others a password.
svc aim-mixed \
    "auth     [success=done ignore=ignore default=die] $MODULE $COMMON ignore_no_token" \
    "auth     required pam_permit.so"
mark
check "ignore_no_token: no token offered is PAM_IGNORE, the next module decides" \
    success "$(STDIN=$'\n' result aim-mixed $USER_OK authenticate)"
in_file "... logged as no token, not as a refusal" "no token offered for nobody (the prompt): ignored" "$T/out.last"
not_in_file "... and the client is not told of a failure" "AIM authentication failed" "$T/out.last"
check "... and no decision was taken (no audit line)" 0 "$(since | wc -l)"
check "ignore_no_token: a refused token still ends the stack (default=die)" \
    "$AUTH_ERR" "$(STDIN=junk$'\n' result aim-mixed $USER_OK authenticate)"
check "ignore_no_token: a good token is enough (success=done)" \
    success "$(STDIN="$GOOD"$'\n' result aim-mixed $USER_OK authenticate)"
check "ignore_no_token, nonexistent account, no token: PAM_IGNORE too (no enumeration)" \
    success "$(STDIN=$'\n' result aim-mixed no-such-user-aim authenticate)"
svc aim-mixed-alone "auth     required $MODULE $COMMON ignore_no_token"
check "ignore_no_token alone in the stack: no token is denied" \
    "$PERM" "$(STDIN=$'\n' result aim-mixed-alone $USER_OK authenticate)"

echo "# size budget of the transports"
check "libpam_misc's conversation (su, login, pamtester) passes at most 4095 bytes" \
    "$AUTH_ERR
(token 4095 bytes" \
    "$(STDIN="$(head -c 5000 /dev/zero | tr '\0' A)"$'\n' result aim-conv $USER_OK authenticate
       grep -o '(token [0-9]* bytes' "$T/out.last")"

echo "# the conversation"
out=$(STDIN="$GOOD"$'\n' result aim-conv $USER_OK authenticate acct_mgmt; cat "$T/out.last")
if echo "$out" | grep -q "AIM token: " && echo "$out" | grep -q "^success"; then
    ok "conversation prompt 'AIM token: ' answered with the token"
else
    not_ok "conversation prompt 'AIM token: ' answered ($out)"
fi
svc aim-prompt \
    "auth     required $MODULE $COMMON [prompt=Agent token for this host: ]"
check "prompt= sets the prompt ([...] for blanks)" \
    success "$(STDIN="$GOOD"$'\n' result aim-prompt $USER_OK authenticate)"
in_file "... and it is shown" "Agent token for this host: " "$T/out.last"
svc aim-bad-prompt "auth     required $MODULE $COMMON prompt="
check "an empty prompt= is a configuration error" \
    "$UNAVAIL" "$(STDIN="$GOOD"$'\n' result aim-bad-prompt $USER_OK authenticate)"
check "nonexistent account: the token is still asked for (no enumeration)" \
    "$UNKNOWN" "$(STDIN="$GOOD"$'\n' result aim-conv no-such-user-aim authenticate)"
in_file "nonexistent account: prompt shown" "AIM token: " "$T/out.last"
check "the prompted token is not passed on as PAM_AUTHTOK" \
    success "$(STDIN="$GOOD"$'\n' result aim-items $USER_OK authenticate open_session)"
if grep -q '^PAM_AUTHTOK=.' "$T/session.fullenv" || grep -qF "$GOOD" "$T/session.fullenv"; then
    not_ok "... later modules cannot see it"
else
    ok "... later modules cannot see it"
fi

echo "# stacking: use_first_pass, try_first_pass"
check "use_first_pass takes the previous module's token" \
    success "$(AUTHTOK=$GOOD TOKEN= result aim-stack $USER_OK authenticate acct_mgmt)"
not_in_file "use_first_pass: no prompt" "AIM token: " "$T/out.last"
check "use_first_pass without a previous token fails, though the module before succeeded" \
    "$AUTH_ERR" "$(AUTHTOK= TOKEN= result aim-stack $USER_OK authenticate)"
not_in_file "use_first_pass without a previous token: no prompt" "AIM token: " "$T/out.last"
in_file "... logged" "refused: no_token" "$T/out.last"
check "use_first_pass with a password instead of a token fails" \
    "$AUTH_ERR" "$(AUTHTOK=hunter2 TOKEN= result aim-stack $USER_OK authenticate)"
check "try_first_pass takes the previous module's token" \
    success "$(AUTHTOK=$GOOD TOKEN= result aim-try $USER_OK authenticate acct_mgmt)"
not_in_file "try_first_pass with a token: no prompt" "AIM token: " "$T/out.last"
check "try_first_pass: a password from before, then the prompt" \
    success "$(AUTHTOK=hunter2 TOKEN= STDIN="$GOOD"$'\n' result aim-try $USER_OK authenticate acct_mgmt)"
in_file "try_first_pass: prompted after the previous secret failed" "AIM token: " "$T/out.last"
in_file "... and the previous secret's refusal logged" "login with PAM_AUTHTOK as nobody refused: malformed" "$T/out.last"
check "try_first_pass without a previous token prompts" \
    success "$(AUTHTOK= TOKEN= STDIN="$GOOD"$'\n' result aim-try $USER_OK authenticate)"

echo "# token_env"
printf 'AIM_TOKEN DEFAULT=%s\n' "$GOOD" > "$T/pam_env.conf"
check "token_env: the PAM environment (pam_env) is read" \
    success "$(TOKEN= result aim-pamenv $USER_OK open_session authenticate)"
check "... and the token is removed from it" \
    0 "$(grep -c '^AIM_TOKEN=' "$T/session.fullenv")"
check "... and the identity is not exported before a session re-checks it" \
    0 "$(grep -c '^AIM_AGENT=' "$T/session.fullenv")"
check "token_env unset: falls back to the conversation" \
    success "$(TOKEN= STDIN="$GOOD"$'\n' result aim-env $USER_OK authenticate)"

echo "# scope template"
check "service in the scope template (%s:%u)" \
    success "$(TOKEN=$(issue --sub "$AGENT" --scope "pam:aim-service-scope:$USER_OK") result aim-service-scope $USER_OK authenticate)"
check "... and a token for another service is refused" \
    "$AUTH_ERR" "$(TOKEN=$(issue --sub "$AGENT" --scope "pam:sshd:$USER_OK") result aim-service-scope $USER_OK authenticate)"
check "host name and %% in the scope template (host:%h:%%:%u)" \
    success "$(TOKEN=$(issue --sub "$AGENT" --scope "host:$HOST:%:$USER_OK") result aim-host-scope $USER_OK authenticate)"
check "a user name with a newline is refused, before any scope" \
    "$UNKNOWN" "$(TOKEN=$GOOD result aim-env $'nobody\nroot' authenticate)"
in_file "... and logged escaped" 'login as nobody\u000aroot by agent' "$T/out.last"

echo "# accounts whose names are not ASCII"
if [ -z "$NSSWRAPPER" ]; then
    for i in 1 2 3 4 5 6; do not_ok "account that is not ASCII: libnss-wrapper is not installed (./deps.sh)"; done
else
    UTF8_TOKEN=$(issue --sub "$AGENT" --scope "pam:login:agents")
    mark
    check "with %u in the scope: PAM_USER_UNKNOWN (a scope is ASCII; see pam_aim(8))" \
        "$UNKNOWN" "$(TOKEN=$UTF8_TOKEN result aim-env "$UTF8_USER" authenticate)"
    in_file "... logged with the name escaped" 'login as j\u00fcrgen by agent spiffe://test/agent/deployer refused: policy_denied: the account name cannot form the scope' "$T/out.last"
    check_re "... audited as the host's denial, the resource in UTF-8" \
        '"reason":"policy_denied","adapter":"pam","action":"login","resource":"service aim-env account jürgen"' \
        "$(since)"
    svc aim-utf8 \
        "auth     required $MODULE $COMMON token_env=AIM_TOKEN scope=pam:login:agents" \
        "account  required $MODULE $COMMON scope=pam:login:agents" \
        "session  required $MODULE $COMMON scope=pam:login:agents" \
        "session  optional pam_exec.so $T/dumpenv.sh"
    check "with a scope that does not name the account: the login works" \
        success "$(TOKEN=$UTF8_TOKEN result aim-utf8 "$UTF8_USER" authenticate acct_mgmt open_session close_session)"
    check "... and the session has the identity" "AIM_AGENT=$AGENT" "$(grep '^AIM_AGENT=' "$T/session.env")"
    if grep -a 'aim audit' "$T/out.last" | grep -q 'account j\\u00fcrgen"' \
       && ! grep -a 'aim audit' "$T/out.last" | LC_ALL=C grep -q $'\xc3'; then
        ok "... syslog's audit lines escape the name (JSON \\u00fc), never raw UTF-8"
    else
        not_ok "... syslog's audit lines escape the name (JSON \\u00fc), never raw UTF-8"
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
        check "$name: logs in, AIM_AGENT escaped" "AIM_AGENT=$esc" "$(grep '^AIM_AGENT=' "$T/session.env")"
        if grep 'aim audit: .*"action":"session_open"' "$T/out.last" | grep -qF "\"agent\":\"$esc\""; then
            ok "$name: syslog's audit line has the id JSON-escaped"
        else
            not_ok "$name: syslog's audit line has the id JSON-escaped"
        fi
    elif [ "$got" = "$AUTH_ERR" ] && since | grep -q '"reason":"bad_claim"'; then
        ok "$name: refused by the core (bad_claim)"
        ok "$name: (no session, nothing exported)"
    else
        not_ok "$name: escaped or refused (got '$got')"
        not_ok "$name: (no outcome)"
    fi
    check "$name: refused for another account" "$AUTH_ERR" "$(TOKEN=$tok result aim-env root authenticate)"
    if grep -qF "as root by agent $esc refused" "$T/out.last" || grep -q 'as root refused: bad_claim' "$T/out.last"; then
        ok "$name: the refusal line names the agent escaped (or the core refused the id)"
    else
        not_ok "$name: the refusal line names the agent escaped (or the core refused the id)"
    fi
}
evil "sub with U+202E" 'spiffe://test/agent/gpj\u202eexe.sh' 'spiffe://test/agent/gpj\u202eexe.sh'
evil "sub with U+202E and a newline" 'spiffe://test/agent/evil\u202e\nroot' 'spiffe://test/agent/evil\u202e\u000aroot'
evil "sub with a backslash" 'spiffe://test/agent/back\\slash' 'spiffe://test/agent/back\\slash'
if LC_ALL=C grep -a 'SYSLOG' "$T/pamtester.log" | LC_ALL=C grep -q $'\xe2\x80\xae'; then
    not_ok "no raw U+202E reaches syslog"
else
    ok "no raw U+202E reaches syslog"
fi
if grep -qx 'root' "$T/pamtester.log" || grep -q '^root by agent' "$T/pamtester.log"; then
    not_ok "no raw newline from an agent id splits a syslog line"
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
    success "$(TOKEN=$GOOD result aim-conf $USER_OK authenticate acct_mgmt)"
svc aim-conf-override \
    "auth     required $MODULE config=$T/aim.conf audience=another-host token_env=AIM_TOKEN"
check "... an option on the line wins over the file's" \
    "$AUTH_ERR" "$(TOKEN=$GOOD result aim-conf-override $USER_OK authenticate)"
in_file "... (the line's audience was used)" "refused: bad_audience" "$T/out.last"
printf 'keys %s\nfrobnicate 1\n' "$T/jwks.json" > "$T/bad.conf"
svc aim-conf-bad "auth     required $MODULE config=$T/bad.conf issuer=$ISS audience=$AUD token_env=AIM_TOKEN"
check "a bad host file fails closed (PAM_AUTHINFO_UNAVAIL)" \
    "$UNAVAIL" "$(TOKEN=$GOOD result aim-conf-bad $USER_OK authenticate)"
in_file "... naming the file and the line" "$T/bad.conf:2: unknown option \"frobnicate\"" "$T/out.last"
svc aim-conf-missing "auth     required $MODULE config=$T/nope.conf token_env=AIM_TOKEN"
check "a missing host file fails closed" \
    "$UNAVAIL" "$(TOKEN=$GOOD result aim-conf-missing $USER_OK authenticate)"

echo "# configuration fails closed"
check "unknown option (PAM_AUTHINFO_UNAVAIL)" \
    "$UNAVAIL" "$(TOKEN=$GOOD result aim-unknown-option $USER_OK authenticate)"
in_file "unknown option: logged" 'unknown option "frobnicate": refusing to work' "$T/out.last"
check "a core option with a bad value: the core's error, naming it" \
    "$UNAVAIL" "$(TOKEN=$GOOD result aim-bad-core-value $USER_OK authenticate)"
in_file "... logged" 'option leeway: "forever" is not a whole number' "$T/out.last"
check "bad %-escape in scope=" \
    "$UNAVAIL" "$(TOKEN=$GOOD result aim-bad-escape $USER_OK authenticate)"
check "a scope= template that cannot give a scope (the core's grammar)" \
    "$UNAVAIL" "$(TOKEN=$GOOD result aim-bad-template $USER_OK authenticate)"
check "unreadable key file" \
    "$UNAVAIL" "$(TOKEN=$GOOD result aim-no-keys $USER_OK authenticate)"
in_file "unreadable key file: logged with the file name" "$T/missing.json" "$T/out.last"
not_in_file "unreadable key file: no prompt before failing" "AIM token: " "$T/out.last"
check "missing issuer=" \
    "$UNAVAIL" "$(TOKEN=$GOOD result aim-no-issuer $USER_OK authenticate)"
check "unknown option in account fails closed even without an AIM login" \
    "$UNAVAIL" "$(TOKEN= result aim-acct-unknown-option $USER_OK authenticate acct_mgmt)"

echo "# quiet and debug"
svc aim-quiet \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN quiet" \
    "account  required $MODULE $COMMON quiet" \
    "session  required $MODULE $COMMON quiet"
mark
check "quiet: a login" success "$(TOKEN=$GOOD result aim-quiet $USER_OK authenticate acct_mgmt open_session close_session)"
not_in_file "quiet: no audit lines in syslog" "aim audit:" "$T/out.last"
check "... while the audit= file has all four" 4 "$(since | wc -l)"
check "quiet: a refusal" "$AUTH_ERR" "$(TOKEN=$OTHER result aim-quiet $USER_OK authenticate)"
in_file "... is still logged at LOG_NOTICE" "SYSLOG(5): login as nobody by agent $AGENT refused: insufficient_scope" "$T/out.last"
svc aim-quiet-mixed "auth     required $MODULE $COMMON quiet ignore_no_token"
check "quiet, ignore_no_token: no token offered" "$PERM" "$(STDIN=$'\n' result aim-quiet-mixed $USER_OK authenticate)"
not_in_file "... is not logged" "no token offered" "$T/out.last"
check "debug: a full transaction" \
    success "$(TOKEN=$GOOD result aim-debug $USER_OK authenticate acct_mgmt open_session close_session)"
check "the verifier is built once per handle (auth, reused by account and session)" \
    1 "$(grep -c 'verifier built in' "$T/out.last")"
in_file "debug: the token's source is logged" "token from token_env" "$T/out.last"
in_file "debug: the login is logged" "agent $AGENT logs in as nobody" "$T/out.last"
svc aim-debug2 \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN debug" \
    "account  required $MODULE $COMMON debug leeway=5"
check "other core options in account: a verifier of their own" \
    success "$(TOKEN=$GOOD result aim-debug2 $USER_OK authenticate acct_mgmt)"
check "... built twice in that handle" 2 "$(grep -c 'verifier built in' "$T/out.last")"

echo "# revocation at auth"
for what in "agent $AGENT" "jti jti-good" "kid pam-test"; do
    echo "$what" > "$T/revoked"
    check "revoked ($what): PAM_AUTH_ERR" "$AUTH_ERR" "$(TOKEN=$GOOD result aim-env $USER_OK authenticate)"
    in_file "revoked ($what): reason in syslog" "refused: revoked" "$T/out.last"
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
    "$PERM" "$(TOKEN=$GOOD result aim-late $USER_OK authenticate acct_mgmt)"
in_file "... logged as an account refusal" "account for nobody by agent $AGENT refused: revoked" "$T/out.last"
: > "$T/revoked"
cat > "$T/late-key.sh" <<EOS
#!/bin/sh
"$AIMCTL" jwks "$T/rogue.key" > "$T/jwks2.json" && mv "$T/jwks2.json" "$T/jwks-late.json"
EOS
chmod +x "$T/late-key.sh"
mint_jwks "$T/jwks-late.json" "$T/issuer.key"
svc aim-late-key \
    "auth     required $MODULE keys=$T/jwks-late.json issuer=$ISS audience=$AUD token_env=AIM_TOKEN" \
    "auth     optional pam_exec.so $T/late-key.sh" \
    "account  required $MODULE keys=$T/jwks-late.json issuer=$ISS audience=$AUD"
check "account re-check: the signing key removed after auth" \
    "$PERM" "$(TOKEN=$GOOD result aim-late-key $USER_OK authenticate acct_mgmt)"
check "account: PAM_USER changed after auth (too little scope for the new one)" \
    "$PERM" "$(TOKEN=$(issue --sub "$AGENT" --scope pam:login) PAMUSER=root result aim-user-switch $USER_OK authenticate acct_mgmt)"
in_file "... logged" "PAM_USER changed after authentication (from nobody)" "$T/out.last"
check "account without an AIM login: PAM_IGNORE (alone in the stack: denied)" \
    "$PERM" "$(TOKEN=$GOOD result aim-acct-only $USER_OK authenticate acct_mgmt)"
not_in_file "... and nothing is verified" "aim audit" "$T/out.last"
check "account without an AIM login, token_env= set: the token is decided" \
    success "$(TOKEN=$GOOD result aim-acct-env $USER_OK authenticate acct_mgmt)"
echo "jti jti-good" > "$T/revoked"
check "... and refused once revoked (sudo's cached credential)" \
    "$PERM" "$(TOKEN=$GOOD result aim-acct-env $USER_OK authenticate acct_mgmt)"
: > "$T/revoked"
check "... and for another account" \
    "$PERM" "$(TOKEN=$GOOD result aim-acct-env root authenticate acct_mgmt)"
check "... and for an account that does not exist: PAM_USER_UNKNOWN" \
    "$UNKNOWN" "$(TOKEN=$GOOD result aim-acct-env no-such-user-aim authenticate acct_mgmt)"

echo "# session: no login, too little scope, revoked mid-way (issue 13)"
printf 'AIM_AGENT DEFAULT=spiffe://spoofed\nAIM_JTI DEFAULT=spoofed\n' > "$T/pam_env_spoof.conf"
svc aim-spoof \
    "auth     required pam_permit.so" \
    "session  required pam_env.so readenv=0 conffile=$T/pam_env_spoof.conf" \
    "session  optional $MODULE $COMMON" \
    "session  optional pam_exec.so $T/dumpenv.sh"
mark
check "a transaction pam_aim did not authenticate: the session step ignores it" \
    success "$(result aim-spoof $USER_OK authenticate open_session close_session)"
check "... and drops the AIM_* identity another module set" "" "$(cat "$T/session.env")"
in_file "... with a warning" "AIM_* variables for nobody that pam_aim did not set removed" "$T/out.last"
check "... and audits nothing (no \"allow\" for a spoofed agent)" 0 "$(since | wc -l)"
svc aim-spoof-after \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN" \
    "session  required pam_env.so readenv=0 conffile=$T/pam_env_spoof.conf" \
    "session  required $MODULE $COMMON" \
    "session  optional pam_exec.so $T/dumpenv.sh"
check "after an AIM login, a spoofed identity is replaced by the verified one" \
    "success
AIM_AGENT=$AGENT
AIM_JTI=jti-good" \
    "$(TOKEN=$GOOD result aim-spoof-after $USER_OK authenticate open_session; grep -h '^AIM_AGENT\|^AIM_JTI' "$T/session.env")"
mark
check "a forged hand-over seal (AIM_PAM_SEAL) opens no session" \
    success "$(result -E AIM_PAM_SEAL=QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB aim-spoof $USER_OK authenticate open_session)"
check "... nothing exported, nothing audited" 0 "$(cat "$T/session.env")$(since | wc -l)"
svc aim-late-session \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN" \
    "account  required $MODULE $COMMON" \
    "account  optional pam_exec.so $T/late-revoke.sh" \
    "session  required $MODULE $COMMON" \
    "session  optional pam_exec.so $T/dumpenv.sh"
check "session open re-checks: revoked after account, the session is refused" \
    "$SESSION_ERR" "$(TOKEN=$GOOD result aim-late-session $USER_OK authenticate acct_mgmt open_session)"
in_file "... logged" "session for nobody by agent $AGENT refused: revoked" "$T/out.last"
check "... and no identity is exported" "" "$(cat "$T/session.env")"
: > "$T/revoked"
check "session open: PAM_USER changed since auth (too little scope)" \
    "$SESSION_ERR" "$(TOKEN=$(issue --sub "$AGENT" --scope pam:login) PAMUSER=root result aim-user-switch-session $USER_OK authenticate open_session)"
check "... and no identity is exported" "" "$(cat "$T/session.env")"

echo "# a session in another process (the OpenSSH split)"
# tests/pam/fork_harness.c authenticates in a child and opens the session
# in the parent, with only the PAM environment in between, as sshd does.
svc aim-fork \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN" \
    "account  required $MODULE $COMMON" \
    "session  required $MODULE $COMMON"
if cc -Wall -Wextra -Werror -o "$T/fork_harness" tests/pam/fork_harness.c -lpam 2> "$T/harness.err"; then
    fork() {  # USER, with HARNESS_* and TOKEN in the environment
        env "${PAM_ENV[@]}" LD_PRELOAD="$PAM_WRAPPER_LIB $NSSWRAPPER" \
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
        "auth=0 account=0 open=0
AIM_AGENT=$AGENT
AIM_OWNER=team-sre
AIM_SCOPE=pam:login:$USER_OK kb:read
AIM_JTI=jti-good
AIM_CHAIN=$AGENT
close=0" \
        "$(TOKEN=$GOOD fork $USER_OK)"
    if since | grep -q '"decision":"allow".*"action":"session_open".*"agent":"spiffe://test/agent/deployer"' \
       && since | grep -q '"decision":"note".*"action":"session_close".*"agent":"spiffe://test/agent/deployer"'; then
        ok "... re-checked and audited in the parent, the close noted"
    else
        not_ok "... re-checked and audited in the parent, the close noted"
    fi
    check "revoked between the child's auth and the parent's session: no session" \
        "auth=0 account=0 open=14
close=-1" \
        "$(TOKEN=$GOOD HARNESS_BETWEEN="echo 'agent $AGENT' > $T/revoked" fork $USER_OK)"
    : > "$T/revoked"
    check "PAM_USER changed in the parent: no session" \
        "auth=0 account=0 open=14
close=-1" \
        "$(TOKEN=$GOOD HARNESS_USER=root fork $USER_OK)"
    mark
    check "the seal moved to another PAM handle of the same process opens nothing" \
        "auth=0 account=0 open=6
close=-1" \
        "$(TOKEN=$GOOD HARNESS_OTHER_HANDLE=1 fork $USER_OK)"
    check "... and audits no session" 0 "$(since | grep -c '"action":"session')"
    if [ "${PAM_VALGRIND-1}" = 0 ]; then
        skip "valgrind: no leak or error in the hand-over between processes (PAM_VALGRIND=0)"
    else
        got=$(VG=1 PAM_WRAPPER_DISABLE_DEEPBIND=1 TOKEN=$GOOD fork $USER_OK | head -1)
        if [ "$got" = "auth=0 account=0 open=0" ] && [ ! -s "$T/valgrind.log" ]; then
            ok "valgrind: no leak or error in the hand-over between processes"
        else
            not_ok "valgrind: no leak or error in the hand-over ($got; $(head -c 2000 "$T/valgrind.log"))"
        fi
    fi
else
    not_ok "the fork harness builds ($(head -3 "$T/harness.err"))"
fi

echo "# password: no login, too little scope, revoked mid-way"
svc aim-passwd \
    "auth     required pam_permit.so" \
    "password required $MODULE $COMMON" \
    "password required pam_permit.so"
check "chauthtok without an AIM login: PAM_IGNORE (the next module decides)" \
    success "$(result aim-passwd $USER_OK authenticate chauthtok)"
svc aim-passwd-alone "password required $MODULE $COMMON"
check "... alone in the stack: denied" "$PERM" "$(result aim-passwd-alone $USER_OK chauthtok)"
mark
check "chauthtok after an agent's login: refused (PAM_PERM_DENIED)" \
    "$PERM" "$(TOKEN=$GOOD result aim-env $USER_OK authenticate chauthtok)"
in_file "... logged" "password change for nobody by agent $AGENT refused: policy_denied: an agent's login does not change passwords" "$T/out.last"
check_re "... audited" \
    '"decision":"deny","reason":"policy_denied","adapter":"pam","action":"chauthtok"' \
    "$(since)"
check "chauthtok after a login with too little scope: auth already failed" \
    "$AUTH_ERR" "$(TOKEN=$OTHER result aim-env $USER_OK authenticate chauthtok)"
svc aim-late-passwd \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN" \
    "auth     optional pam_exec.so $T/late-revoke.sh" \
    "password required $MODULE $COMMON" \
    "password required pam_permit.so"
check "chauthtok after a revocation mid-way: refused" \
    "$PERM" "$(TOKEN=$GOOD result aim-late-passwd $USER_OK authenticate chauthtok)"
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
    success "$(TOKEN=$COUNTED result aim-trust $USER_OK authenticate acct_mgmt open_session close_session)"
check "... is one event in the baseline, not one per step" 1 "$(stat_of spiffe://test/agent/counted events)"
check "a refused login (scope) is one denial" \
    "$AUTH_ERR" "$(TOKEN=$COUNTED result aim-trust root authenticate acct_mgmt)"
check "... counted once" "2/1" "$(stat_of spiffe://test/agent/counted events)/$(stat_of spiffe://test/agent/counted denied)"
PROBER=$(issue --sub spiffe://test/agent/prober --scope "pam:login:$USER_OK" --jti jti-prober --ttl 600)
ALL_TOKENS="$ALL_TOKENS $PROBER"
mark
for i in $(seq 1 50); do TOKEN=$PROBER pamw aim-trust root authenticate >> "$T/pamtester.log"; done
check "50 logins to an account its scopes do not name: 50 insufficient_scope, never low_trust" \
    "50/0" "$(since | grep -c '"reason":"insufficient_scope".*"agent":"spiffe://test/agent/prober"')/$(since | grep -c '"reason":"low_trust"')"
trust=$(stat_of spiffe://test/agent/prober trust)
if awk -v t="$trust" 'BEGIN { exit !(t != "" && t < 20) }'; then
    ok "the prober's trust keeps falling past the threshold (now $trust)"
else
    not_ok "the prober's trust keeps falling past the threshold (now '$trust', want < 20)"
fi
check "the prober is refused afterwards even for its own account" \
    "$AUTH_ERR" "$(TOKEN=$PROBER result aim-trust $USER_OK authenticate)"
in_file "... for low trust" "refused: low_trust" "$T/out.last"
check "another agent is unaffected" success "$(TOKEN=$GOOD result aim-trust $USER_OK authenticate acct_mgmt)"
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
    "$PERM" "$(TOKEN=$LATE result aim-trust-late $USER_OK authenticate acct_mgmt)"
in_file "... logged" "account for nobody by agent spiffe://test/agent/late refused: low_trust" "$T/out.last"

echo "# hostile review: scopes a later step cannot form"
# Each step asks for the scope its own line names.  When the account's
# name cannot form that scope (not ASCII, or too long for this line's
# template though it fit auth's), the step must refuse -- never take it
# as "no scope required".
svc aim-form-later \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN scope=pam:login:agents" \
    "account  required $MODULE $COMMON" \
    "session  required $MODULE $COMMON" \
    "session  optional pam_exec.so $T/dumpenv.sh"
AGENTS_TOKEN=$(issue --sub "$AGENT" --scope "pam:login:agents")
check "account: a name that is not ASCII cannot form the line's pam:login:%u: refused" \
    "$PERM" "$(TOKEN=$AGENTS_TOKEN result aim-form-later "$UTF8_USER" authenticate acct_mgmt)"
in_file "... logged as the host's denial" "account for j\u00fcrgen by agent $AGENT refused: policy_denied: the account name cannot form the scope" "$T/out.last"
check "session: the same, refused and nothing exported" \
    "$SESSION_ERR" "$(TOKEN=$AGENTS_TOKEN result aim-form-later "$UTF8_USER" authenticate open_session)"
check "... (no AIM_AGENT; the session's last module ran)" "" "$(cat "$T/session.env" || echo 'dumpenv.sh did not run')"
svc aim-form-long \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN" \
    "account  required $MODULE $COMMON scope=host:%h:login:%u"
LONG_TOKEN=$(issue --sub "$AGENT" --scope "pam:login:$LONG_USER")
ALL_TOKENS="$ALL_TOKENS $AGENTS_TOKEN $LONG_TOKEN"
check "a 246-byte account name: auth's pam:login:%u fits, account's host:%h:login:%u does not: refused" \
    "$PERM" "$(TOKEN=$LONG_TOKEN result aim-form-long "$LONG_USER" authenticate acct_mgmt)"

echo "# hostile review: try_first_pass and accounts that do not exist"
check "try_first_pass, nonexistent account: prompted after the previous secret like any other" \
    "$UNKNOWN" "$(AUTHTOK=hunter2 TOKEN= STDIN="$GOOD"$'\n' result aim-try no-such-user-aim authenticate)"
in_file "... (the prompt is shown: no enumeration)" "AIM token: " "$T/out.last"

echo "# hostile review: an agent's token decided in account is the transaction's login"
svc aim-acct-login \
    "auth     required pam_permit.so" \
    "account  required $MODULE $COMMON token_env=AIM_TOKEN" \
    "password required $MODULE $COMMON" \
    "password required pam_permit.so" \
    "session  required $MODULE $COMMON" \
    "session  optional pam_exec.so $T/dumpenv.sh"
check "account decided a token_env= token (sudo's cached credential): no password change" \
    "$PERM" "$(TOKEN=$GOOD result aim-acct-login $USER_OK authenticate acct_mgmt chauthtok)"
in_file "... logged" "password change for nobody by agent $AGENT refused: policy_denied" "$T/out.last"
check "... and its session is re-checked and carries the identity" \
    "success
AIM_AGENT=$AGENT" "$(TOKEN=$GOOD result aim-acct-login $USER_OK authenticate acct_mgmt open_session; grep -h '^AIM_AGENT=' "$T/session.env")"
check "... a refused token is no login: the password stack decides without pam_aim" \
    "$PERM" "$(TOKEN=$OTHER result aim-acct-login $USER_OK authenticate acct_mgmt)"
NARROW=$(issue --sub "$AGENT" --scope "pam:login:root")
ALL_TOKENS="$ALL_TOKENS $NARROW"
check "... a token without this account's scope: account refused" \
    "$PERM" "$(TOKEN=$NARROW result aim-acct-login $USER_OK authenticate acct_mgmt)"
in_file "... logged" "account (token_env) for nobody by agent $AGENT refused: insufficient_scope" "$T/out.last"
check "no token at all: account leaves it to the stack (pam_aim the only module: refused)" \
    "$PERM" "$(TOKEN= result aim-acct-login $USER_OK authenticate acct_mgmt)"
not_in_file "... (pam_aim refused nothing: no refusal logged)" "refused" "$T/out.last"
check "... no login: the password step leaves it to the stack" \
    success "$(TOKEN= result aim-acct-login $USER_OK authenticate chauthtok)"
check "... and the session step exports no identity" \
    success "$(TOKEN= result aim-acct-login $USER_OK authenticate open_session; cat "$T/session.env" || echo 'dumpenv.sh did not run')"

echo "# hostile review: what a refusal tells syslog about a secret that is no token"
check "use_first_pass with a person's password" \
    "$AUTH_ERR" "$(AUTHTOK=hunter2 TOKEN= result aim-stack $USER_OK authenticate)"
in_file "... refused as malformed" "login as nobody refused: malformed" "$T/out.last"
not_in_file "... without the password's length" "(token 7 bytes" "$T/out.last"
check "a password typed at the prompt" "$AUTH_ERR" "$(STDIN=correct-horse$'\n' result aim-conv $USER_OK authenticate)"
not_in_file "... without its length" "(token 13 bytes" "$T/out.last"

echo "# hostile review: module options given twice"
svc aim-two-configs \
    "auth     required $MODULE config=$T/bad.conf config=$T/aim.conf token_env=AIM_TOKEN"
check "config= twice: refused (not the first file silently dropped)" \
    "$UNAVAIL" "$(TOKEN=$GOOD result aim-two-configs $USER_OK authenticate)"
in_file "... logged" 'config= given twice: refusing to work' "$T/out.last"
svc aim-two-scopes \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN scope=pam:admin:%u scope=pam:login:%u"
check "scope= twice: refused (not the last one silently winning)" \
    "$UNAVAIL" "$(TOKEN=$GOOD result aim-two-scopes $USER_OK authenticate)"
for o in token_env=AIM_T handoff=AIM_H "prompt=T: "; do
    svc aim-two "auth     required $MODULE $COMMON [$o] [$o]"
    check "${o%%=*}= twice: refused" "$UNAVAIL" "$(TOKEN=$GOOD result aim-two $USER_OK authenticate)"
done

echo "# hostile review: paths that held"
for u in 'nobody@localhost' 'no%uone' '%u' "$(head -c 10000 /dev/zero | tr '\0' n)"; do
    check "a hostile account name (${u:0:20}, ${#u} bytes): PAM_USER_UNKNOWN, no crash" \
        "$UNKNOWN" "$(TOKEN=$GOOD result aim-env "$u" authenticate)"
done
cp "$T/aim.conf" "$T/aim-writable.conf"
chmod 0666 "$T/aim-writable.conf"
svc aim-conf-writable "auth     required $MODULE config=$T/aim-writable.conf token_env=AIM_TOKEN"
check "a config= file others may write: refused (strict_modes)" \
    "$UNAVAIL" "$(TOKEN=$GOOD result aim-conf-writable $USER_OK authenticate)"
in_file "... naming it" "aim-writable.conf: writable by others" "$T/out.last"
check "setcred before auth succeeds and sets no identity" \
    success "$(TOKEN=$GOOD result aim-spoof-after $USER_OK setcred open_session)"
check "... (the session after it has no AIM login: nothing exported)" "" "$(cat "$T/session.env" || echo 'dumpenv.sh did not run')"

echo "# memory (valgrind, pam_wrapper without deep binding)"
# vg_case WHAT WANT TOKEN USER STEP...: under memcheck, WANT and no error.
vg_case() {
    local what=$1 want=$2 tok=$3 u=$4 got
    shift 4
    if [ "${PAM_VALGRIND-1}" = 0 ]; then
        skip "valgrind: no leak or error ($what) (PAM_VALGRIND=0)"
        return
    fi
    got=$(VG=1 PAM_WRAPPER_DISABLE_DEEPBIND=1 TOKEN=$tok result "${VG_SVC:-aim-env}" "$u" "$@")
    if [ "$got" = "$want" ] && [ ! -s "$T/valgrind.log" ]; then
        ok "valgrind: no leak or error ($what)"
    else
        not_ok "valgrind: no leak or error ($what)" "got '$got'" "$(head -c 2000 "$T/valgrind.log")"
    fi
}
ALL_STEPS="authenticate acct_mgmt open_session close_session"
vg_case success success "$GOOD" $USER_OK $ALL_STEPS
vg_case "$AUTH_ERR" "$AUTH_ERR" "$OTHER" $USER_OK $ALL_STEPS
vg_case "$UNKNOWN" "$UNKNOWN" junk no-such-user-aim $ALL_STEPS
vg_case "password refused" "$PERM" "$GOOD" $USER_OK authenticate chauthtok
VG_SVC=aim-acct-login vg_case "a login decided in account, its session" success "$GOOD" $USER_OK \
    authenticate acct_mgmt open_session close_session
VG_SVC=aim-form-later vg_case "a scope the account step cannot form" "$PERM" "$AGENTS_TOKEN" "$UTF8_USER" \
    authenticate acct_mgmt

echo "# logs"
leak=0
for t in $ALL_TOKENS; do
    sig=${t##*.}
    if grep -qF -- "$sig" "$T/audit.log" "$T/pamtester.log"; then leak=1; fi
done
check "no token (not even its signature) in the audit log or syslog" 0 "$leak"
in_file "refusals reach syslog at LOG_NOTICE (pam_syslog)" "SYSLOG(5): login as nobody by agent" "$T/pamtester.log"
not_in_file "no pam_putenv noise" "delete non-existent entry" "$T/pamtester.log"

echo "# build"
if [ -z "${PAM_AIM_CFLAGS-}" ]; then
    skip "clang -Werror build: run through make test-pam (it passes the flags)"
elif clang $PAM_AIM_CFLAGS -c -o "$T/pam_aim.clang.o" pam_aim/pam_aim.c 2> "$T/clang.err"; then
    ok "clang builds pam_aim.c with the core's warnings and -Werror"
else
    not_ok "clang builds pam_aim.c with the core's warnings and -Werror ($(head -5 "$T/clang.err"))"
fi
if grep -n '\baim_verify\b\|\baim_recheck\b\|\baim_audit\b\|AIM_MAX_TOKEN_LEN' pam_aim/pam_aim.c | grep -v '^\s*\*' > "$T/lower.txt"; then
    not_ok "pam_aim calls no lower-level core entry point and repeats no token bound ($(head -3 "$T/lower.txt"))"
else
    ok "pam_aim calls no lower-level core entry point and repeats no token bound"
fi

echo "# symbols"
syms=$(nm -D --defined-only "$MODULE" | awk '{print $3}' | sort | tr '\n' ' ')
check "exports exactly the six pam_sm_* entry points" "pam_sm_acct_mgmt pam_sm_authenticate pam_sm_chauthtok pam_sm_close_session pam_sm_open_session pam_sm_setcred " "$syms"
check "nothing of the core (aim_*) is exported" 0 "$(nm -D --defined-only "$MODULE" | grep -c ' aim_')"

finish
