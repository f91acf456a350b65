#!/bin/bash
# tests/ssf/run.sh -- aimctl's shared signals and fetching, end to end,
# against the test transmitter (tests/ssf/transmitter.py) serving HTTPS
# with a CA made here by openssl:
#
#   ssf apply    every outcome; the effect seen by 'aimctl verify --state'
#                for the agent named and not for another; forged,
#                wrong-audience, wrong-issuer, unknown-key, expired and
#                replayed SETs change nothing; a busy journal defers
#   ssf poll     RFC 8936 over HTTPS: applied, acknowledged in the next
#                request (setErrs for the refused), moreAvailable followed,
#                bearer token and client certificate, TLS verified, usage
#   revoke       records the host's own signal; ssf status shows it
#   stats        the marks of shared signals
#   fetch        JWKS, status list, revocation list: good files replace,
#                bad signature / garbage / oversized / 404 / timeout /
#                rollback / expired never replace; 304 keeps
#
#   tests/ssf/run.sh [path/to/aimctl]        (default build/bin/aimctl)
#
# Last line: "ssf-aimctl: N passed, N failed, N skipped".

set -u
. "$(dirname "$0")/../lib/aimtest.sh"
at_suite ssf-aimctl
AIMCTL=${1:-$AIMCTL}
case $AIMCTL in /*) ;; *) AIMCTL=$PWD/$AIMCTL ;; esac
TXPY=$AT_ROOT/tests/ssf/transmitter.py

at_need_cmds jq openssl python3 curl flock sha256sum
[ -x "$AIMCTL" ] || bail "no aimctl at $AIMCTL (run make)"
python3 -c 'import cryptography' 2>/dev/null || bail "python3-cryptography is not installed (./deps.sh)"

at_rundir ssf-aimctl || bail "a run directory"
T=$AT_RUN
cd "$T" || exit 1
umask 022

A() { "$AIMCTL" "$@"; }
jqt() { printf '%s' "$OUT" | jq -e "$1" >/dev/null 2>&1; }
sum() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }
NOW=$(date +%s)

# ------------------------------------------------------------ TLS and keys
# A test CA, the transmitter's certificate (127.0.0.1), a client
# certificate it signed and one from another CA.
openssl_quiet() { openssl "$@" >/dev/null 2>&1; }
mkca() {
    openssl_quiet req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$1.key" -out "$1.pem" -days 2 -subj "/CN=$1"
}
# mkcert NAME CA EXTENSIONS
mkcert() {
    openssl_quiet req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" &&
    printf '%s\n' "$3" > "$1.ext" &&
    openssl_quiet x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" \
        -CAcreateserial -out "$1.pem" -days 2 -extfile "$1.ext"
}
mkca ca && mkca rogue-ca &&
mkcert server ca "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth" &&
mkcert host-b ca "extendedKeyUsage=clientAuth" &&
mkcert rogue rogue-ca "extendedKeyUsage=clientAuth" || bail "a test CA and certificates (openssl)"
chmod 600 ./*.key

# The transmitter's ES256 key and JWKS; another transmitter's key.
python3 "$TXPY" jwks --key tx.pem --out tx.jwks && python3 "$TXPY" jwks --key evil.pem --out evil.jwks \
    || bail "transmitter keys"
# The token issuer.
ISSUER_KEY=$T/iss.pem ISS=https://issuer.test AUD=https://api.test
mint_key iss.pem && mint_jwks iss.jwks iss.pem || bail "issuer keys"
mint_key other.pem || bail "another key"

TXISS=https://idp.test TXAUD=https://host-a.test/ssf
printf '# none\n' > revoked
cat > aim.conf <<EOF
keys         $T/iss.jwks
issuer       $ISS
audience     $AUD
revoked      $T/revoked
state        $T/host.state
ssf_keys     $T/tx.jwks
ssf_issuer   $TXISS
ssf_audience $TXAUD
EOF
RX=(--keys tx.jwks --issuer "$TXISS" --audience "$TXAUD" --state host.state)

# sign EVENT [transmitter.py sign args]: a SET from the transmitter's key.
sign() { python3 "$TXPY" sign --key tx.pem "$@"; }
# forge SET: another signature, still strict base64url.
forge() {
    local s=$1 c
    c=${s: -3:1}
    [ "$c" = A ] && c=B || c=A
    printf '%s%s%s' "${s:0:${#s}-3}" "$c" "${s: -2}"
}
# verdict TOKEN: "valid", or the reason verify gives with the host's state.
verdict() {
    local out
    out=$(A verify --config aim.conf "$1" 2>/dev/null)
    printf '%s' "$out" | jq -r 'if .valid then "valid" else .reason end' 2>/dev/null
}
NOMARK='{"disabled":false,"revoked_before":null}'
marks() { A stats --state host.state --json | jq -c --arg a "$1" \
              'select(.agent == $a) | {disabled, revoked_before}'; }

# tx_start VAR [serve args]: the transmitter on an ephemeral loopback port
# over HTTPS (plain HTTP when the first argument is --plain); VAR gets its
# base URL.  Stopped at exit.
tx_start() {
    local var=$1 out pid i port scheme=https tls
    shift
    tls=(--tls-cert "$T/server.pem" --tls-key "$T/server.key")
    if [ "${1-}" = --plain ]; then
        shift
        scheme=http tls=()
    fi
    out=$(mktemp "$T/tx-out.XXXXXX")
    python3 "$TXPY" serve --key "$T/tx.pem" "${tls[@]}" --files "$T/www" --wait 1 \
        "$@" > "$out" 2>&1 &
    pid=$!
    at_defer kill "$pid"
    for i in $(seq 1 100); do
        grep -q '^listening ' "$out" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    port=$(sed -n 's/^listening 127\.0\.0\.1://p' "$out")
    [ -n "$port" ] || { cat "$out" >&2; return 1; }
    printf -v "$var" '%s://127.0.0.1:%s' "$scheme" "$port"
}
mkdir -p www
printf 'secret-poll-token-1\n' > poll.token
chmod 600 poll.token
tx_start TX --token poll.token || bail "the transmitter (HTTPS)"
tx_start TXM --client-ca ca.pem || bail "the transmitter (HTTPS, client certificates)"
tx_start TXP --plain || bail "the transmitter (plain HTTP on the loopback)"
# txq [curl args]: talk to the transmitter as the tests' identity provider.
txq() { curl -sS --cacert ca.pem "$@"; }
queue() { txq -d "$2" "$1/events" > /dev/null; }
queue_m() { txq --cert host-b.pem --key host-b.key -d "$1" "$TXM/events" > /dev/null; }
pending() { txq "$@" | jq length; }

# ---------------------------------------------------------------- usage
expect_rc 0 "ssf --help" A ssf --help
has "ssf --help describes apply, poll and status" "$OUT" "aimctl ssf status"
expect_rc 2 "ssf without an action" A ssf
expect_rc 2 "ssf with an unknown action" A ssf frobnicate
expect_rc 0 "help lists ssf and fetch" A --help
assert "--help: ssf and fetch lines" eval 'grep -q "^  ssf " <<<"$OUT" && grep -q "^  fetch " <<<"$OUT"'
expect_rc 2 "ssf apply without a SET" A ssf apply "${RX[@]}"
expect_rc 2 "ssf apply without --keys" A ssf apply --issuer "$TXISS" --audience "$TXAUD" --state host.state x
expect_rc 2 "ssf apply without --state" A ssf apply --keys tx.jwks --issuer "$TXISS" --audience "$TXAUD" x
expect_rc 2 "ssf apply with a missing key file" A ssf apply --keys nosuch.jwks --issuer "$TXISS" --audience "$TXAUD" --state host.state x
has "... names the file" "$ERR" "nosuch.jwks"
printf 'ssf_max_age 5\n' > bad.conf
expect_rc 2 "ssf apply --config with a bad line" A ssf apply --config bad.conf x
has "... names the file and line" "$ERR" "bad.conf:1"
expect_rc 2 "ssf apply --max-age out of bounds" A ssf apply "${RX[@]}" --max-age 5 x

# ---------------------------------------------------------------- apply
# Agent X's token from a minute ago, agent Y's token, then a
# session-revoked for X dated 5 s ago.
old_x=$(issue --sub agent-x --iat $((NOW - 60)))
tok_y=$(issue --sub agent-y --iat $((NOW - 60)))
check "before: X's token is valid" valid "$(verdict "$old_x")"
check "before: Y's token is valid" valid "$(verdict "$tok_y")"

s_x=$(sign session-revoked --agent agent-x --jti jti-x-1 --body "{\"event_timestamp\": $((NOW - 5))}")
run A ssf apply "${RX[@]}" "$s_x"
assert "apply session-revoked: exit 0, applied, names event, agent, jti" \
    eval '[ $RC -eq 0 ] && jqt ".acknowledged and .outcome == \"applied\" and .event == \"session-revoked\" and .agent == \"agent-x\" and .jti == \"jti-x-1\" and .issuer == \"$TXISS\" and .event_time == $((NOW - 5))"'
check "after: X's old token is revoked" revoked "$(verdict "$old_x")"
check "after: Y's token is still valid" valid "$(verdict "$tok_y")"
run A verify --config aim.conf "$old_x"
has "... the message names the agent and the event" "$OUT" 'session-revoked'
new_x=$(issue --sub agent-x --iat $((NOW + 2)))
check "after: X's token issued after the event is valid" valid "$(verdict "$new_x")"
check "stats: X's cut" "{\"disabled\":false,\"revoked_before\":$((NOW - 5))}" "$(marks agent-x)"

run A ssf apply "${RX[@]}" "$s_x"
assert "the same SET again: exit 0, duplicate" eval '[ $RC -eq 0 ] && jqt ".outcome == \"duplicate\""'
run sh -c "printf '%s\n' '$s_x' | '$AIMCTL' ssf apply --config '$T/aim.conf' -"
assert "'-' reads standard input; --config alone configures" eval '[ $RC -eq 0 ] && jqt ".outcome == \"duplicate\""'

# refused REASON ERR NAME SET: exit 1, the reason and the RFC 8935 code,
# and agent Y untouched.
refused() {
    run A ssf apply "${RX[@]}" "$4"
    if [ "$RC" -eq 1 ] && jqt ".acknowledged == false and .outcome == \"refused\" and .reason == \"$1\" and .err == \"$2\""; then
        ok "$3 -> $1 / $2"
    else
        not_ok "$3: wanted exit 1, $1 / $2; got exit $RC: $OUT $ERR"
    fi
}
dis_y() { sign account-disabled --agent agent-y "$@"; }
refused bad_signature authentication_failed "a forged SET" "$(forge "$(dis_y)")"
refused bad_audience invalid_audience "a SET for another audience" "$(dis_y --aud https://other.test)"
refused bad_issuer invalid_issuer "a SET from another issuer" "$(dis_y --iss https://evil.test)"
refused unknown_key invalid_key "a SET signed by an unknown key" "$(python3 "$TXPY" sign --key evil.pem account-disabled --agent agent-y)"
refused expired invalid_request "a SET issued 8 days ago" "$(dis_y --iat $((NOW - 8 * 86400)))"
refused not_yet_valid invalid_request "a SET issued in an hour" "$(dis_y --iat $((NOW + 3600)))"
refused replay invalid_request "another SET under X's jti" "$(dis_y --jti jti-x-1)"
refused malformed invalid_request "not a SET" "hello"
tok_t=$(issue --sub agent-y)
refused bad_type invalid_request "an access token instead of a SET" "$tok_t"
check "refused SETs changed nothing for Y (verify)" valid "$(verdict "$tok_y")"
check "refused SETs changed nothing for Y (stats)" "$NOMARK" "$(marks agent-y)"

# A disable and an enable: any token of the agent, until enabled.
tok_d=$(issue --sub agent-d)
run A ssf apply "${RX[@]}" "$(sign account-disabled --agent agent-d --iat $((NOW - 2)))"
assert "account-disabled: applied" eval '[ $RC -eq 0 ] && jqt ".outcome == \"applied\""'
check "a disabled agent's current token is revoked" revoked "$(verdict "$tok_d")"
check "stats: disabled" '{"disabled":true,"revoked_before":null}' "$(marks agent-d)"
run A stats --state host.state
assert "stats text: the shared signals section names both agents" \
    eval 'grep -q "^shared signals held against agents" <<<"$OUT" && grep -Eq "^  agent-d +disabled" <<<"$OUT" && grep -Eq "^  agent-x +tokens issued at or before" <<<"$OUT"'
run A ssf apply "${RX[@]}" "$(sign account-enabled --agent agent-d --iat $((NOW - 1)))"
assert "account-enabled: applied" eval '[ $RC -eq 0 ] && jqt ".outcome == \"applied\""'
check "enabled again: its token is valid" valid "$(verdict "$tok_d")"
run A ssf apply "${RX[@]}" "$(sign https://vendor.test/event/new --agent agent-d)"
assert "an unknown event: acknowledged, ignored" eval '[ $RC -eq 0 ] && jqt ".outcome == \"ignored\""'
run A ssf apply "${RX[@]}" "$(sign verification --subject '{"format":"opaque","id":"stream-7"}' --body '{"state":"st-42"}')"
assert "a verification event: noted, its state returned" \
    eval '[ $RC -eq 0 ] && jqt ".outcome == \"noted\" and .state == \"st-42\""'

# A journal held by another process (this script, with util-linux flock)
# for longer than the receiver waits: not applied, not acknowledged, and
# said so.
hold_journal() { exec {HOLD}<host.state.ssf && flock -x "$HOLD"; }
release_journal() { exec {HOLD}<&-; }
hold_journal
run A ssf apply "${RX[@]}" "$(sign account-disabled --agent agent-z)"
release_journal
assert "a journal busy from the start: exit 1, nothing applied, try again" \
    eval '[ $RC -eq 1 ] && grep -q "stays locked; nothing applied, try again" <<<"$ERR"'
# Busy once the SET is being applied (the receiver opened the journal
# before the lock was taken): deferred, not acknowledged.
( sleep 2; sign account-disabled --agent agent-z ) |
    "$AIMCTL" ssf apply "${RX[@]}" - > deferred.out 2> deferred.err &
applier=$!
sleep 0.8
hold_journal
wait "$applier"
RC=$?
release_journal
OUT=$(cat deferred.out) ERR=$(cat deferred.err)
assert "a journal busy while applying: exit 1, deferred, no err code" \
    eval '[ $RC -eq 1 ] && jqt ".acknowledged == false and .outcome == \"deferred\" and .reason == \"internal_error\" and .err == null"'
check "... and agent-z is not disabled" "" "$(marks agent-z)"

# ----------------------------------------------------------------- poll
P=("${RX[@]}" --cacert ca.pem --token-file poll.token)
expect_rc 0 "ssf poll --help" A ssf poll --help
expect_rc 2 "poll without a URL" A ssf poll "${P[@]}"
expect_rc 2 "poll with --insecure: refused" A ssf poll "$TX/poll" "${RX[@]}" --insecure
has "... says to give --cacert" "$ERR" "--cacert"
expect_rc 2 "poll of a plain http:// URL off this host" A ssf poll http://192.0.2.1/poll "${P[@]}"
expect_rc 2 "poll of a URL that is not http(s)" A ssf poll file:///etc/passwd "${P[@]}"
expect_rc 2 "poll of http://127.0.0.1:x@elsewhere (user information)" \
    A ssf poll "http://127.0.0.1:x@192.0.2.1/poll" "${P[@]}"
expect_rc 2 "poll of http://127.0.0.1.elsewhere" A ssf poll "http://127.0.0.1.example.test/poll" "${P[@]}"
expect_rc 2 "poll --count without --interval" A ssf poll "$TX/poll" "${P[@]}" --count 2
expect_rc 2 "poll --once with --interval" A ssf poll "$TX/poll" "${P[@]}" --once --interval 5
expect_rc 2 "poll --max-events 65" A ssf poll "$TX/poll" "${P[@]}" --max-events 65
chmod 644 poll.token
expect_rc 2 "a token file readable by others: refused" A ssf poll "$TX/poll" "${P[@]}"
chmod 600 poll.token

# What the identity provider queues: session-revoked for X2, and for Y a
# forged SET, one for another audience, an expired one and one reusing
# X's jti; then the very SET applied earlier, delivered again.
old_x2=$(issue --sub agent-x2 --iat $((NOW - 60)))
queue "$TX" "{\"event\":\"session-revoked\",\"agent\":\"agent-x2\",\"jti\":\"jti-x2\",\"body\":{\"event_timestamp\":$((NOW - 5))}}"
queue "$TX" "{\"jti\":\"forged-y\",\"set\":\"$(forge "$(dis_y --jti forged-y)")\"}"
queue "$TX" "{\"jti\":\"aud-y\",\"set\":\"$(dis_y --jti aud-y --aud https://other.test)\"}"
queue "$TX" "{\"jti\":\"old-y\",\"set\":\"$(dis_y --jti old-y --iat $((NOW - 8 * 86400)))\"}"
queue "$TX" "{\"jti\":\"jti-x-1\",\"set\":\"$(dis_y --jti jti-x-1)\"}"
check "five SETs wait at the transmitter" 5 "$(pending "$TX/pending")"

run A ssf poll "$TX/poll" "${RX[@]}" --cacert ca.pem
assert "poll without the bearer token: exit 1, 401 access_denied" \
    eval '[ $RC -eq 1 ] && jqt ".ok == false and (.error | test(\"401: access_denied\"))"'
run A ssf poll "$TX/poll" "${RX[@]}" --token-file poll.token
assert "poll without --cacert: the test CA is not trusted, exit 1" \
    eval '[ $RC -eq 1 ] && grep -qi "certificate" <<<"$ERR"'
check "nothing was taken by the failed polls" 5 "$(pending "$TX/pending")"
check "... and nothing applied" valid "$(verdict "$old_x2")"

run A ssf poll "$TX/poll" "${P[@]}"
assert "poll: exit 0, 5 received, 1 applied, 4 refused" \
    eval '[ $RC -eq 0 ] && jqt ".ok and .received == 5 and .acknowledged == 1 and .applied == 1 and .refused == 4 and .deferred == 0"'
check "poll: X2's old token is revoked" revoked "$(verdict "$old_x2")"
check "poll: Y's token is valid" valid "$(verdict "$tok_y")"
check "poll: nothing held against Y" "$NOMARK" "$(marks agent-y)"
check "poll: every SET acknowledged or reported" 0 "$(pending "$TX/pending")"
run txq "$TX/errors"
assert "poll: setErrs reached the transmitter with RFC 8935 codes" \
    jqt '.["forged-y"].err == "authentication_failed" and .["aud-y"].err == "invalid_audience" and .["old-y"].err == "invalid_request" and .["jti-x-1"].err == "invalid_request" and (.["jti-x2"] | not)'
run txq "$TX/polls"
assert "poll: the first request asks, the next acknowledges" \
    jqt '.[0] == {"maxEvents": 32, "returnImmediately": true} and .[1].ack == ["jti-x2"] and (.[1].setErrs | keys | sort) == ["aud-y", "forged-y", "jti-x-1", "old-y"]'

queue "$TX" "{\"jti\":\"jti-x-1\",\"set\":\"$s_x\"}"
run A ssf poll "$TX/poll" "${P[@]}"
assert "poll: a SET delivered again is acknowledged, not applied again" \
    eval '[ $RC -eq 0 ] && jqt ".received == 1 and .acknowledged == 1 and .applied == 0"'

for i in 1 2 3 4 5; do
    queue "$TX" "{\"event\":\"session-revoked\",\"agent\":\"agent-m$i\"}"
done
run A ssf poll "$TX/poll" "${P[@]}" --max-events 2
assert "poll --max-events 2 of 5: moreAvailable followed, 4 requests" \
    eval '[ $RC -eq 0 ] && jqt ".received == 5 and .applied == 5 and .requests == 4"'
check "... all acknowledged" 0 "$(pending "$TX/pending")"

run A ssf poll "$TX/poll" "${P[@]}" --interval 1 --count 2
assert "poll --interval 1 --count 2: two sessions, one line each" \
    eval '[ $RC -eq 0 ] && [ "$(wc -l <<<"$OUT")" -eq 2 ] && printf "%s\n" "$OUT" | jq -e -s "all(.ok and .received == 0)" >/dev/null'
run A ssf poll "$TX/poll" "${P[@]}" --quiet
assert "poll --quiet: no line for a session that brought nothing" eval '[ $RC -eq 0 ] && [ -z "$OUT" ]'
queue "$TX" '{"event":"session-revoked","agent":"agent-v"}'
run A ssf poll "$TX/poll" "${P[@]}" --verbose
assert "poll --verbose: each SET's audit line, then the session" \
    eval '[ $RC -eq 0 ] && head -1 <<<"$OUT" | jq -e ".adapter == \"ssf\" and .agent == \"agent-v\" and .outcome == \"applied\"" >/dev/null && tail -1 <<<"$OUT" | jq -e ".applied == 1" >/dev/null'

queue "$TX" '{"event":"account-disabled","agent":"agent-w"}'
hold_journal
run A ssf poll "$TX/poll" "${P[@]}"
release_journal
assert "poll with a journal busy from the start: exit 1, nothing taken" \
    eval '[ $RC -eq 1 ] && grep -q "stays locked" <<<"$ERR"'
check "... the SET waits at the transmitter" 1 "$(pending "$TX/pending")"
"$AIMCTL" ssf poll "$TX/poll?slow=2" "${P[@]}" > deferred.out 2> deferred.err &
poller=$!
sleep 0.8
hold_journal
wait "$poller"
RC=$?
release_journal
OUT=$(cat deferred.out) ERR=$(cat deferred.err)
assert "poll with a journal busy while applying: exit 1, deferred, said why" \
    eval '[ $RC -eq 1 ] && jqt ".deferred == 1 and .applied == 0 and .ok == false" && grep -q "could not be applied now" <<<"$ERR"'
check "... the SET still waits at the transmitter" 1 "$(pending "$TX/pending")"
run A ssf poll "$TX/poll" "${P[@]}"
assert "... and is applied at the next poll" eval '[ $RC -eq 0 ] && jqt ".applied == 1"'
check "... agent-w disabled" '{"disabled":true,"revoked_before":null}' "$(marks agent-w)"

# Plain HTTP is taken on this host's loopback only.
curl -sS -d '{"event":"session-revoked","agent":"agent-plain"}' "$TXP/events" > /dev/null
run A ssf poll "$TXP/poll" "${RX[@]}"
assert "poll of http://127.0.0.1 (the loopback): applied" eval '[ $RC -eq 0 ] && jqt ".applied == 1"'

# Client certificates (mutual TLS).
queue_m '{"event":"session-revoked","agent":"agent-mtls"}'
PM=("${RX[@]}" --cacert ca.pem)
run A ssf poll "$TXM/poll" "${PM[@]}"
assert "mTLS: without a client certificate, exit 1" eval '[ $RC -eq 1 ]'
run A ssf poll "$TXM/poll" "${PM[@]}" --client-cert rogue.pem --client-key rogue.key
assert "mTLS: a certificate from another CA, exit 1" eval '[ $RC -eq 1 ]'
check "mTLS: nothing taken" 1 "$(pending --cert host-b.pem --key host-b.key "$TXM/pending")"
run A ssf poll "$TXM/poll" "${PM[@]}" --client-cert host-b.pem --client-key host-b.key
assert "mTLS: with the client certificate, applied" eval '[ $RC -eq 0 ] && jqt ".applied == 1"'
expect_rc 2 "--client-cert without --client-key" A ssf poll "$TXM/poll" "${PM[@]}" --client-cert host-b.pem
chmod 644 host-b.key
expect_rc 2 "a client key readable by others: refused" A ssf poll "$TXM/poll" "${PM[@]}" --client-cert host-b.pem --client-key host-b.key
chmod 600 host-b.key

run A ssf poll "$TX/nosuch" "${P[@]}"
assert "a URL that is no poll endpoint: exit 1, HTTP 404" eval '[ $RC -eq 1 ] && grep -q "HTTP 404" <<<"$ERR"'
printf 'not json at all' > www/garbage
run A ssf poll "$TX/files/garbage" "${P[@]}"
assert "an answer that is not a poll response: exit 1" eval '[ $RC -eq 1 ] && grep -q "not an RFC 8936 poll response\|HTTP" <<<"$ERR"'

# ------------------------------------------------- revoke, ssf status
run A ssf status --state fresh.state
assert "ssf status without a journal: exit 0, says nothing was recorded" \
    eval '[ $RC -eq 0 ] && grep -q "no shared signals journal" <<<"$OUT" && [ ! -e fresh.state.ssf ]'
run A ssf status --state fresh.state --json
assert "... --json: exists false" jqt '.exists == false'
expect_rc 2 "ssf status without a host" A ssf status

run A revoke --config aim.conf --comment "incident 4711" agent agent-r
assert "revoke --config: the file, then the signal" \
    eval '[ $RC -eq 0 ] && grep -q "^agent agent-r$" revoked && grep -q "account-disabled recorded" <<<"$OUT"'
run A revoke --file revoked --state host.state jti some-token
assert "revoke of a jti: no signal" eval '[ $RC -eq 0 ] && ! grep -q "recorded" <<<"$OUT"'
run A unrevoke --config aim.conf agent agent-r
assert "unrevoke --config: the signal, then the file" \
    eval '[ $RC -eq 0 ] && ! grep -q "agent-r" revoked && grep -q "account-enabled recorded" <<<"$OUT"'
run A revoke --file revoked agent agent-s
assert "revoke without a state: no signal" eval '[ $RC -eq 0 ] && ! grep -q "recorded" <<<"$OUT"'
run A ssf status --config aim.conf --json
assert "ssf status: the outbox holds disabled then enabled for agent-r" \
    jqt '[.outbox.events[] | {signal, event, agent, reason}] == [{"signal":"disabled","event":"account-disabled","agent":"agent-r","reason":"incident 4711"},{"signal":"enabled","event":"account-enabled","agent":"agent-r","reason":"aimctl unrevoke"}]'
assert "ssf status: the transmitter heard from, with its verification" \
    jqt '.streams[0].issuer == "https://idp.test" and .streams[0].accepted >= 10 and .streams[0].verification_state == "st-42" and .streams[0].stream_id == "stream-7"'
assert "ssf status: SETs remembered against replay" jqt '.replay.remembered >= 10 and .replay.capacity == 16384'
run A ssf status --state host.state
assert "ssf status (text): the outbox lines" \
    eval '[ $RC -eq 0 ] && grep -Eq "^ +1 .* disabled +agent-r \(incident 4711\)$" <<<"$OUT" && grep -q "^transmitters:" <<<"$OUT"'
run A ssf status --state host.state --events 1
assert "ssf status --events 1: the last one, and how many are not shown" \
    eval 'grep -q "1 older not shown" <<<"$OUT" && ! grep -q "incident 4711" <<<"$OUT"'

# A journal that cannot be written: revoke keeps the file in force and
# says the signal was not recorded (running it again retries); unrevoke
# changes nothing.
mkdir -p ro && printf '# none\n' > ro/revoked && mkdir ro/host.state.ssf
run A revoke --file ro/revoked --state ro/host.state agent agent-k
assert "revoke, signal not recordable: exit 1, the entry is in force" \
    eval '[ $RC -eq 1 ] && grep -q "^agent agent-k$" ro/revoked && grep -q "could not be recorded" <<<"$ERR"'
before=$(sum ro/revoked)
run A unrevoke --file ro/revoked --state ro/host.state agent agent-k
assert "unrevoke, signal not recordable: exit 1, the file unchanged" \
    eval '[ $RC -eq 1 ] && [ "$(sum ro/revoked)" = "$before" ]'
rmdir ro/host.state.ssf
run A revoke --file ro/revoked --state ro/host.state agent agent-k
assert "revoke again: already revoked, the signal recorded now" \
    eval '[ $RC -eq 0 ] && grep -q "already revoked" <<<"$OUT" && grep -q "account-disabled recorded" <<<"$OUT"'

# ----------------------------------------------------------------- fetch
expect_rc 0 "fetch --help" A fetch --help
expect_rc 2 "fetch without --out" A fetch "$TX/files/x" --kind jwks --cacert ca.pem
expect_rc 2 "fetch without --kind" A fetch "$TX/files/x" --out x --cacert ca.pem
expect_rc 2 "fetch --kind pem" A fetch "$TX/files/x" --out x --kind pem --cacert ca.pem
expect_rc 2 "fetch --kind jwks with --keys" A fetch "$TX/files/x" --out x --kind jwks --keys iss.jwks --cacert ca.pem
expect_rc 2 "fetch --kind statuslist without keys" A fetch "$TX/files/x" --out x --kind statuslist --cacert ca.pem
expect_rc 2 "fetch --insecure: refused" A fetch "$TX/files/x" --out x --kind jwks --insecure
expect_rc 2 "fetch of a plain http:// URL" A fetch http://example.test/jwks --out x --kind jwks
expect_rc 2 "fetch --max-size beyond the loader's" A fetch "$TX/files/x" --out x --kind jwks --max-size 300000 --cacert ca.pem
assert "failed usages wrote nothing" eval '[ ! -e x ] && [ ! -e x.lock ]'
F() { A fetch "$@" --cacert ca.pem; }

# JWKS
cp tx.jwks www/keys.json
run F "$TX/files/keys.json" --out keys.json --kind jwks
assert "jwks: created, exit 0, the server's bytes" \
    eval '[ $RC -eq 0 ] && cmp -s keys.json www/keys.json && grep -q "created" <<<"$OUT"'
check "jwks: a new file is 0644" 644 "$(stat -c %a keys.json)"
assert "jwks: the validators kept in keys.json.fetch" \
    eval 'jq -e ".etag != null and .last_modified != null and .url == \"$TX/files/keys.json\"" keys.json.fetch >/dev/null'
run F "$TX/files/keys.json" --out keys.json --kind jwks
assert "jwks: fetched again, 304 keeps it" eval '[ $RC -eq 0 ] && grep -q "304 Not Modified" <<<"$OUT"'
run txq "$TX/seen"
assert "... If-None-Match and If-Modified-Since were sent" \
    jqt '.headers["If-None-Match"] != null and .headers["If-Modified-Since"] != null'
run F "$TX/files/keys.json?noetag=1" --out keys2.json --kind jwks
run F "$TX/files/keys.json?noetag=1" --out keys2.json --kind jwks
assert "jwks: Last-Modified alone: 304 too" eval '[ $RC -eq 0 ] && grep -q "304" <<<"$OUT"'

chmod 640 keys.json
cp tx.jwks keys.old
python3 "$TXPY" jwks --key tx2.pem --out www/keys.json
touch -d '+1 minute' www/keys.json
run F "$TX/files/keys.json" --out keys.json --kind jwks
assert "jwks: a new key set replaces the file" \
    eval '[ $RC -eq 0 ] && cmp -s keys.json www/keys.json && grep -q "replaced" <<<"$OUT"'
check "jwks: mode kept (0640)" 640 "$(stat -c %a keys.json)"
assert "jwks: no temporary file left" eval '! ls keys.json.?????? >/dev/null 2>&1'

# never_replaced NAME FILE ARGS...: the fetch exits 1 and FILE keeps its bytes.
never_replaced() {
    local name=$1 file=$2 before
    shift 2
    before=$(sum "$file")
    run F "$@"
    if [ "$RC" -eq 1 ] && [ "$(sum "$file")" = "$before" ] && grep -q "left as it was\|no longer passes" <<<"$ERR"; then
        ok "$name: exit 1, \"$file\" untouched"
    else
        not_ok "$name: exit $RC, $ERR"
    fi
}
good=$(cat www/keys.json)
printf 'this is not JSON' > www/keys.json
never_replaced "jwks: garbage" keys.json "$TX/files/keys.json" --out keys.json --kind jwks
has "... the loader's reason" "$ERR" "refused"
jq '.keys[0].d = "AAAA"' tx.jwks > www/keys.json
never_replaced "jwks: a JWKS holding a private key" keys.json "$TX/files/keys.json" --out keys.json --kind jwks
printf '{"keys":[]}' > www/keys.json
never_replaced "jwks: no key at all" keys.json "$TX/files/keys.json" --out keys.json --kind jwks
head -c 300000 /dev/zero | tr '\0' 'a' > www/big.json
never_replaced "jwks: 300 KB (over 256 KiB)" keys.json "$TX/files/big.json" --out keys.json --kind jwks
has "... says the limit" "$ERR" "larger than 262144 bytes"
never_replaced "jwks: 300 KB sent without a length" keys.json "$TX/files/big.json?chunked=1" --out keys.json --kind jwks
printf '%s' "$good" > www/keys.json
never_replaced "jwks: --max-size 100" keys.json "$TX/files/keys.json" --out keys.json --kind jwks --max-size 100
never_replaced "jwks: 404" keys.json "$TX/files/nosuch.json" --out keys.json --kind jwks
has "... says the status" "$ERR" "HTTP 404"
never_replaced "jwks: a server slower than --timeout 1" keys.json "$TX/files/keys.json?slow=3" --out keys.json --kind jwks --timeout 1
never_replaced "jwks: a redirect to plain HTTP" keys.json "$TX/files/keys.json?to=http" --out keys.json --kind jwks
has "... says why" "$ERR" "not https://"
run A fetch "$TX/files/keys.json" --out keys.json --kind jwks
assert "jwks: a server the system's CAs do not vouch for: exit 1" eval '[ $RC -eq 1 ] && grep -qi "certificate" <<<"$ERR"'
run F "$TX/files/keys.json?to=https" --out keys3.json --kind jwks
assert "jwks: a redirect to HTTPS is followed" eval '[ $RC -eq 0 ] && cmp -s keys3.json www/keys.json'

# The local file replaced by other means: no conditional request.
cp keys.old keys.json
run F "$TX/files/keys.json" --out keys.json --kind jwks
run txq "$TX/seen"
assert "a file changed locally: no If-None-Match, the server's copy again" \
    eval 'jqt ".headers[\"If-None-Match\"] == null" && cmp -s keys.json www/keys.json'
run F "$TX/files/keys.json?noetag=1" --out keys.json --kind jwks
assert "the same bytes without validators: unchanged" eval '[ $RC -eq 0 ] && grep -q "unchanged" <<<"$OUT"'
ln -s keys.json keys.link
expect_rc 2 "fetch into a symbolic link: refused" F "$TX/files/keys.json" --out keys.link --kind jwks

# Token Status Lists, signed by the token issuer.
U=$TX/files/sl.jwt
A statuslist --key iss.pem --uri "$U" --out www/sl.jwt --set 3=1 --iat $((NOW - 100)) > /dev/null
SLK=(--keys iss.jwks --issuer "$ISS")
run F "$U" --out sl.jwt --kind statuslist "${SLK[@]}"
assert "statuslist: verified and created" eval '[ $RC -eq 0 ] && cmp -s sl.jwt www/sl.jwt'
st_tok() { issue --sub agent-s --status-idx "$1" --status-uri "$U"; }
SV=(--keys iss.jwks --issuer "$ISS" --audience "$AUD" --status-list "$U $T/sl.jwt")
run A verify "${SV[@]}" "$(st_tok 3)"
assert "statuslist: the fetched list revokes index 3" eval '[ $RC -eq 1 ] && jqt ".reason == \"revoked\""'
run A verify "${SV[@]}" "$(st_tok 0)"
assert "statuslist: and lets index 0 through" eval '[ $RC -eq 0 ]'
cp www/sl.jwt sl.good
A statuslist --key other.pem --uri "$U" --out www/sl.jwt > /dev/null
never_replaced "statuslist: signed by a key not configured" sl.jwt "$U" --out sl.jwt --kind statuslist "${SLK[@]}"
A statuslist --key iss.pem --uri "$U" --out www/sl.jwt --iat $((NOW - 200)) > /dev/null
never_replaced "statuslist: older than the list in force (rollback)" sl.jwt "$U" --out sl.jwt --kind statuslist "${SLK[@]}"
has "... says rollback" "$ERR" "rollback"
A statuslist --key iss.pem --uri "https://elsewhere.test/sl" --out www/sl.jwt > /dev/null
never_replaced "statuslist: a list for another URI" sl.jwt "$U" --out sl.jwt --kind statuslist "${SLK[@]}"
tail -c 40 sl.good > www/sl.jwt
never_replaced "statuslist: garbage" sl.jwt "$U" --out sl.jwt --kind statuslist "${SLK[@]}"
A statuslist --key iss.pem --uri "$U" --out www/sl.jwt --iat $((NOW - 7200)) --ttl 3600 > /dev/null
run F "$U" --out sl-new.jwt --kind statuslist "${SLK[@]}"
assert "statuslist: an expired list is refused, no file made" \
    eval '[ $RC -eq 1 ] && grep -q "expired" <<<"$ERR" && [ ! -e sl-new.jwt ]'
A statuslist --key iss.pem --uri "$U" --out www/sl.jwt --set 3=0 --set 4=1 > /dev/null
printf 'keys %s\nissuer %s\naudience %s\nstatus_list %s %s\n' "$T/iss.jwks" "$ISS" "$AUD" \
    "$U" "$T/sl.jwt" > fetch.conf
run F "$U" --out "$T/sl.jwt" --kind statuslist --config fetch.conf
assert "statuslist --config: keys, issuer and the URI from the host file; replaced" \
    eval '[ $RC -eq 0 ] && cmp -s sl.jwt www/sl.jwt'
run A verify --config fetch.conf "$(st_tok 4)"
assert "statuslist: the new list is in force (index 4 revoked)" eval '[ $RC -eq 1 ] && jqt ".reason == \"revoked\""'
run F "$U" --out sl.jwt --kind statuslist --keys iss.jwks --issuer "$ISS" --issuer https://issuer2.test
assert "statuslist: unbound keys with two issuers: exit 2" eval '[ $RC -eq 2 ] && grep -q "bind every key source" <<<"$ERR"'

# Revocation lists.
printf '# fleet list\nagent agent-f\njti t-1\n' > www/revoked.txt
run F "$TX/files/revoked.txt" --out fleet-revoked --kind revoked
assert "revoked: created" eval '[ $RC -eq 0 ] && cmp -s fleet-revoked www/revoked.txt && grep -q "2 entries" <<<"$OUT"'
run A verify --keys iss.jwks --issuer "$ISS" --audience "$AUD" --revoked fleet-revoked "$(issue --sub agent-f)"
assert "revoked: the fetched list is in force" eval '[ $RC -eq 1 ] && jqt ".reason == \"revoked\""'
printf 'agent agent-f\nagent with spaces in it\n' > www/revoked.txt
never_replaced "revoked: a line the loader refuses" fleet-revoked "$TX/files/revoked.txt" --out fleet-revoked --kind revoked
has "... names the line" "$ERR" ":2:"

finish
