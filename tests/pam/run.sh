#!/bin/bash
# pam_aim through real Linux-PAM, with pam_wrapper (no change to /etc)
# and pamtester as the application.  Service files are generated in a
# run directory under /tmp (tests/lib/aimtest.sh) and name
# build/pam_aim.so by its absolute path.
#
#   tests/pam/run.sh            (make test-pam)
#   KEEP=1 tests/pam/run.sh     keep the work directory and say where
#   PAM_VALGRIND=0 ...          skip the valgrind cases
set -u
. "$(dirname "$0")/../lib/aimtest.sh"
at_suite pam
cd "$AT_ROOT"
MODULE=$AT_BUILD/pam_aim.so

at_pam_wrapper || bail "libpam-wrapper is not installed (./deps.sh)"
at_need_cmds pamtester
at_need_files "$AIMCTL" "$MODULE"
PWMODS=$PAM_WRAPPER_MODS

at_rundir pam-test || bail "a run directory"
T=$AT_RUN
[ -n "${KEEP-}" ] && echo "workdir $T"
pam_env "$T/services"
USER_OK=nobody            # an account every Debian system has
ISS=https://issuer.test
AUD=host-logins
HOST=$(hostname)

"$AIMCTL" keygen --alg ES256 --kid pam-test --out "$T/issuer.key" >/dev/null
mint_jwks "$T/jwks.json" "$T/issuer.key"
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
    printf '%s' "${STDIN-}" | env "${PAM_ENV[@]}" PAM_WRAPPER_DEBUGLEVEL=2 \
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

ISSUER_KEY=$T/issuer.key

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
if grep -q '"decision":"allow".*"action":"login"' "$T/audit.log" \
   && grep -q '"decision":"allow".*"action":"account"' "$T/audit.log" \
   && grep -q '"action":"session_open".*"agent":"spiffe://test/agent/deployer"' "$T/audit.log" \
   && grep -q '"action":"session_close".*"agent":"spiffe://test/agent/deployer"' "$T/audit.log"; then
    ok "audit lines for login, account, session open and close, with the agent"
else
    not_ok "audit lines for login, account, session open and close, with the agent"
fi
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

echo "# refusals and their codes"
check "nonexistent account: PAM_USER_UNKNOWN" \
    "User not known to the underlying authentication module" "$(TOKEN=$GOOD result aim-env no-such-user-aim authenticate)"
in_file "nonexistent account: the client sees the uniform message" "AIM authentication failed" "$T/out.last"
if grep -q '"decision":"deny","reason":"policy_denied".*"resource":"service aim-env account no-such-user-aim".*"agent":"spiffe://test/agent/deployer".*"message":"account does not exist"' "$T/audit.log"; then
    ok "nonexistent account: audit line names the agent that tried"
else
    not_ok "nonexistent account: audit line names the agent that tried"
fi
check "token for another account is refused (scope): PAM_PERM_DENIED" \
    "Permission denied" "$(TOKEN=$OTHER result aim-env $USER_OK authenticate)"
check "a token without pam:login:root cannot log in as root" \
    "Permission denied" "$(TOKEN=$GOOD result aim-env root authenticate)"
check "wrong audience: PAM_AUTH_ERR" "Authentication failure" "$(TOKEN=$WRONGAUD result aim-env $USER_OK authenticate)"
in_file "wrong audience: reason in syslog" "refused: bad_audience" "$T/out.last"
check "wrong issuer" "Authentication failure" "$(TOKEN=$WRONGISS result aim-env $USER_OK authenticate)"
check "expired" "Authentication failure" "$(TOKEN=$EXPIRED result aim-env $USER_OK authenticate)"
in_file "expired: reason in syslog" "refused: expired" "$T/out.last"
check "signed by an unknown key" "Authentication failure" "$(TOKEN=$ROGUE result aim-env $USER_OK authenticate)"
check "DPoP-bound token (cnf.jkt) is not a bearer token for PAM" \
    "Authentication failure" "$(TOKEN=$BOUND result aim-env $USER_OK authenticate)"
in_file "DPoP-bound: reason in syslog" "refused: bad_binding" "$T/out.last"
check "junk" "Authentication failure" "$(TOKEN='not.a.token' result aim-env $USER_OK authenticate)"
in_file "junk: reason in syslog" "refused: malformed" "$T/out.last"
check "empty answer to the prompt" "Authentication failure" "$(STDIN=$'\n' result aim-conv $USER_OK authenticate)"
in_file "empty: reason in syslog" "refused: no_token" "$T/out.last"
BIG=$(head -c 20000 /dev/zero | tr '\0' 'A')
check "oversized (60 KB)" "Authentication failure" "$(TOKEN="$BIG.$BIG.$BIG" result aim-env $USER_OK authenticate)"
in_file "oversized: clear reason in syslog" "token is 60002 bytes, more than the 16384 allowed" "$T/out.last"
if grep -q '"decision":"deny","reason":"malformed".*"message":"token is 60002 bytes' "$T/audit.log"; then
    ok "oversized: audit line"
else
    not_ok "oversized: audit line"
fi
CUT=${GOOD:0:1023}
[ ${#GOOD} -gt 1023 ] || CUT=$(issue --sub "$AGENT" --scope "pam:login:$USER_OK" --claim pad="$(head -c 900 /dev/zero | tr '\0' x)" | cut -c1-1023)
check "a token cut at 1023 bytes (an ssh client's limit) is refused" \
    "Authentication failure" "$(TOKEN=$CUT result aim-env $USER_OK authenticate)"
in_file "... and the log says why it may have been cut" "an ssh client cuts answers at 1023 bytes" "$T/out.last"
n_other=$(grep -v '^PWRAP\|^pamtester:\|^AIM authentication failed$\|^AIM token: \|^$' "$T/pamtester.log" | wc -l)
check "the client sees no other message than the uniform one" 0 "$n_other"

echo "# size budget of the transports"
check "libpam_misc's conversation (su, login, pamtester) passes at most 4095 bytes" \
    "Authentication failure
(token 4095 bytes" "$(STDIN="$(head -c 5000 /dev/zero | tr '\0' A)"$'\n' result aim-conv $USER_OK authenticate; \
       grep -o '(token [0-9]* bytes' "$T/out.last")"

echo "# the conversation"
out=$(STDIN="$GOOD"$'\n' result aim-conv $USER_OK authenticate acct_mgmt; cat "$T/out.last")
if echo "$out" | grep -q "AIM token: " && echo "$out" | grep -q "^success"; then
    ok "conversation prompt 'AIM token: ' answered with the token"
else
    not_ok "conversation prompt 'AIM token: ' answered ($out)"
fi
check "nonexistent account: the token is still asked for (no enumeration)" \
    "User not known to the underlying authentication module" \
    "$(STDIN="$GOOD"$'\n' result aim-conv no-such-user-aim authenticate)"
in_file "nonexistent account: prompt shown" "AIM token: " "$T/out.last"
check "the prompted token is not passed on as PAM_AUTHTOK" \
    success "$(STDIN="$GOOD"$'\n' result aim-items $USER_OK authenticate open_session)"
if grep -q '^PAM_AUTHTOK=.' "$T/session.fullenv" || grep -qF "$GOOD" "$T/session.fullenv"; then
    not_ok "... later modules cannot see it"
else
    ok "... later modules cannot see it"
fi

echo "# stacking"
check "use_first_pass takes the previous module's token" \
    success "$(AUTHTOK=$GOOD TOKEN= result aim-stack $USER_OK authenticate acct_mgmt)"
not_in_file "use_first_pass: no prompt" "AIM token: " "$T/out.last"
check "use_first_pass without a previous token fails" \
    "Authentication failure" "$(AUTHTOK= TOKEN= result aim-stack $USER_OK authenticate)"
not_in_file "use_first_pass without a previous token: no prompt" "AIM token: " "$T/out.last"
check "use_first_pass with a password instead of a token fails" \
    "Authentication failure" "$(AUTHTOK=hunter2 TOKEN= result aim-stack $USER_OK authenticate)"
check "try_first_pass takes the previous module's token" \
    success "$(AUTHTOK=$GOOD TOKEN= result aim-try $USER_OK authenticate acct_mgmt)"
not_in_file "try_first_pass with a token: no prompt" "AIM token: " "$T/out.last"
check "try_first_pass: a password from before, then the prompt" \
    success "$(AUTHTOK=hunter2 TOKEN= STDIN="$GOOD"$'\n' result aim-try $USER_OK authenticate acct_mgmt)"
in_file "try_first_pass: prompted after the previous secret failed" "AIM token: " "$T/out.last"
check "try_first_pass without a previous token prompts" \
    success "$(AUTHTOK= TOKEN= STDIN="$GOOD"$'\n' result aim-try $USER_OK authenticate)"

echo "# token_env"
printf 'AIM_TOKEN DEFAULT=%s\n' "$GOOD" > "$T/pam_env.conf"
check "token_env: the PAM environment (pam_env) is read" \
    success "$(TOKEN= result aim-pamenv $USER_OK open_session authenticate)"
check "... and the token is removed from it before the session" \
    0 "$(grep -c '^AIM_TOKEN=' "$T/session.fullenv")"
check "... while the identity is there" "AIM_AGENT=$AGENT" "$(grep '^AIM_AGENT=' "$T/session.env")"
printf 'AIM_AGENT DEFAULT=spiffe://spoofed\nAIM_JTI DEFAULT=spoofed\n' > "$T/pam_env_spoof.conf"
svc aim-spoof \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN" \
    "auth     optional pam_exec.so $T/dumpenv.sh" \
    "session  required pam_env.so readenv=0 conffile=$T/pam_env_spoof.conf"
check "an AIM_* identity set by another module is dropped when auth fails" \
    "Authentication failure" \
    "$(TOKEN=junk result aim-spoof $USER_OK open_session authenticate; cat "$T/session.env")"
check "... and replaced when it succeeds" \
    "success
AIM_AGENT=$AGENT
AIM_JTI=jti-good" \
    "$(TOKEN=$GOOD result aim-spoof $USER_OK open_session authenticate; grep -h '^AIM_AGENT\|^AIM_JTI' "$T/session.env")"
check "token_env unset: falls back to the conversation" \
    success "$(TOKEN= STDIN="$GOOD"$'\n' result aim-env $USER_OK authenticate)"

echo "# scope template"
check "service in the scope template (%s:%u)" \
    success "$(TOKEN=$(issue --sub "$AGENT" --scope "pam:aim-service-scope:$USER_OK") result aim-service-scope $USER_OK authenticate)"
check "... and a token for another service is refused" \
    "Permission denied" "$(TOKEN=$(issue --sub "$AGENT" --scope "pam:sshd:$USER_OK") result aim-service-scope $USER_OK authenticate)"
check "host name and %% in the scope template (host:%h:%%:%u)" \
    success "$(TOKEN=$(issue --sub "$AGENT" --scope "host:$HOST:%:$USER_OK") result aim-host-scope $USER_OK authenticate)"
check "a user name with a newline is refused, before any scope" \
    "User not known to the underlying authentication module" "$(TOKEN=$GOOD result aim-env $'nobody\nroot' authenticate)"
in_file "... and logged without the newline" 'unknown account nobody?root' "$T/out.last"

echo "# configuration fails closed"
check "unknown option fails closed (PAM_AUTHINFO_UNAVAIL)" \
    "Authentication service cannot retrieve authentication info" "$(TOKEN=$GOOD result aim-unknown-option $USER_OK authenticate)"
in_file "unknown option: logged" 'unknown option "frobnicate": refusing to work' "$T/out.last"
check "bad %-escape in scope= fails closed" \
    "Authentication service cannot retrieve authentication info" "$(TOKEN=$GOOD result aim-bad-escape $USER_OK authenticate)"
check "unreadable key file fails closed" \
    "Authentication service cannot retrieve authentication info" "$(TOKEN=$GOOD result aim-no-keys $USER_OK authenticate)"
in_file "unreadable key file: logged with the file name" "$T/missing.json" "$T/out.last"
not_in_file "unreadable key file: no prompt before failing" "AIM token: " "$T/out.last"
check "missing issuer= fails closed" \
    "Authentication service cannot retrieve authentication info" "$(TOKEN=$GOOD result aim-no-issuer $USER_OK authenticate)"
check "unknown option in account fails closed even without an AIM login" \
    "Authentication service cannot retrieve authentication info" "$(TOKEN= result aim-acct-unknown-option $USER_OK authenticate acct_mgmt)"

echo "# revocation"
for what in "agent $AGENT" "jti jti-good" "kid pam-test"; do
    echo "$what" > "$T/revoked"
    check "revoked ($what): PAM_PERM_DENIED" "Permission denied" "$(TOKEN=$GOOD result aim-env $USER_OK authenticate)"
    in_file "revoked ($what): reason in syslog" "refused: revoked" "$T/out.last"
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
    "Permission denied" "$(TOKEN=$GOOD result aim-late $USER_OK authenticate acct_mgmt)"
in_file "... logged as an account refusal" "account nobody for agent $AGENT refused: revoked" "$T/out.last"
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
    "Permission denied" "$(TOKEN=$GOOD result aim-late-key $USER_OK authenticate acct_mgmt)"
check "account re-check: PAM_USER changed after auth" \
    "Permission denied" "$(TOKEN=$(issue --sub "$AGENT" --scope pam:login) PAMUSER=root result aim-user-switch $USER_OK authenticate acct_mgmt)"
in_file "... logged" "and PAM_USER changed since" "$T/out.last"
check "account without an AIM login: PAM_IGNORE (alone in the stack: denied)" \
    "Permission denied" "$(TOKEN=$GOOD result aim-acct-only $USER_OK authenticate acct_mgmt)"
not_in_file "... and nothing is verified" "aim audit" "$T/out.last"
check "account without an AIM login, token_env= set: the token is verified" \
    success "$(TOKEN=$GOOD result aim-acct-env $USER_OK authenticate acct_mgmt)"
echo "jti jti-good" > "$T/revoked"
check "... and refused once revoked (sudo's cached credential)" \
    "Permission denied" "$(TOKEN=$GOOD result aim-acct-env $USER_OK authenticate acct_mgmt)"
: > "$T/revoked"
check "... and for another account" \
    "Permission denied" "$(TOKEN=$GOOD result aim-acct-env root authenticate acct_mgmt)"

echo "# one verifier per PAM handle"
check "debug: a full transaction" \
    success "$(TOKEN=$GOOD result aim-debug $USER_OK authenticate acct_mgmt open_session close_session)"
check "the verifier is built once per handle (auth, reused by account and session)" \
    1 "$(grep -c 'verifier built in' "$T/out.last")"
in_file "debug: the login is logged" "agent $AGENT logs in as nobody (jti jti-good)" "$T/out.last"
svc aim-debug2 \
    "auth     required $MODULE $COMMON token_env=AIM_TOKEN debug" \
    "account  required $MODULE $COMMON debug leeway=5"
check "other core options in account: a verifier of their own" \
    success "$(TOKEN=$GOOD result aim-debug2 $USER_OK authenticate acct_mgmt)"
check "... built twice in that handle" 2 "$(grep -c 'verifier built in' "$T/out.last")"

echo "# trust"
# A probing agent (50 logins to accounts it lacks) is refused afterwards
# even for the account it may use; another agent is not.
PROBER=$(issue --sub spiffe://test/agent/prober --scope "pam:login:$USER_OK" --jti jti-prober)
ALL_TOKENS="$ALL_TOKENS $PROBER"
for i in $(seq 1 50); do TOKEN=$PROBER pamw aim-trust root authenticate >> "$T/pamtester.log"; done
check "probing agent refused by trust" "Permission denied" "$(TOKEN=$PROBER result aim-trust $USER_OK authenticate)"
check "other agent unaffected" success "$(TOKEN=$GOOD result aim-trust $USER_OK authenticate)"
if grep -q '"reason":"low_trust"' "$T/audit.log"; then ok "low_trust in the audit log"; else not_ok "low_trust in the audit log"; fi

echo "# memory (valgrind, pam_wrapper without deep binding)"
if [ "${PAM_VALGRIND-1}" = 0 ]; then
    skip "valgrind cases (PAM_VALGRIND=0)"
elif ! command -v valgrind >/dev/null; then
    not_ok "valgrind cases: valgrind is not installed (./deps.sh)"
else
    for c in "$GOOD:$USER_OK:success" "$OTHER:$USER_OK:Permission denied" \
             "junk:no-such-user-aim:User not known to the underlying authentication module"; do
        tok=${c%%:*}; rest=${c#*:}; u=${rest%%:*}; want=${rest#*:}
        got=$(VG=1 PAM_WRAPPER_DISABLE_DEEPBIND=1 TOKEN=$tok \
              result aim-env "$u" authenticate acct_mgmt open_session close_session)
        if [ "$got" = "$want" ] && [ ! -s "$T/valgrind.log" ]; then
            ok "valgrind: no leak or error ($want)"
        else
            not_ok "valgrind: no leak or error ($want; got '$got'; $(head -c 2000 "$T/valgrind.log"))"
        fi
    done
fi

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
if ! command -v clang >/dev/null; then
    not_ok "clang -Werror build: clang is not installed (./deps.sh)"
elif [ -z "${PAM_AIM_CFLAGS-}" ]; then
    skip "clang -Werror build: run through make test-pam (it passes the flags)"
elif clang $PAM_AIM_CFLAGS -c -o "$T/pam_aim.clang.o" pam_aim/pam_aim.c 2> "$T/clang.err"; then
    ok "clang builds pam_aim.c with the core's warnings and -Werror"
else
    not_ok "clang builds pam_aim.c with the core's warnings and -Werror ($(head -5 "$T/clang.err"))"
fi

echo "# symbols"
syms=$(nm -D --defined-only "$MODULE" | awk '{print $3}' | sort | tr '\n' ' ')
check "exports exactly the six pam_sm_* entry points" "pam_sm_acct_mgmt pam_sm_authenticate pam_sm_chauthtok pam_sm_close_session pam_sm_open_session pam_sm_setcred " "$syms"
check "nothing of the core (aim_*) is exported" 0 "$(nm -D --defined-only "$MODULE" | grep -c ' aim_')"

finish
