#!/bin/bash
# tests/aimctl/run.sh -- aimctl as its users drive it: keys, JWKS, issuing,
# verifying (every rejection with its reason and exit status), inspecting,
# DPoP proofs, the state file (stats, trust reset, probing and recovery),
# audit summaries and SVG timelines, Token Status Lists, usage errors, and
# that private keys stay private.
#
#   tests/aimctl/run.sh [path/to/aimctl]      (default build/bin/aimctl)
#
# Needs jq, python3 and the openssl command (deps.sh installs them); the
# openssl command is the independent party for key formats, thumbprints
# and ath, jq for audit counts, python3 (zlib, minidom) for status list
# bits and SVG well-formedness.
# Last line: "aimctl: N passed, N failed, N skipped".

set -u
. "$(dirname "$0")/../lib/aimtest.sh"
at_suite aimctl
AIMCTL=${1:-$AIMCTL}
case $AIMCTL in /*) ;; *) AIMCTL=$PWD/$AIMCTL ;; esac

at_need_cmds jq openssl python3
[ -x "$AIMCTL" ] || bail "no aimctl at $AIMCTL (run make)"

at_rundir aimctl-test || bail "a run directory"
T=$AT_RUN
cd "$T" || exit 1
umask 022

# run CMD... ($OUT, $ERR, $RC), assert NAME CMD... and expect_rc WANT
# NAME CMD... come from tests/lib/aimtest.sh.
# jqt FILTER: the filter holds on $OUT
jqt() { printf '%s' "$OUT" | jq -e "$1" >/dev/null 2>&1; }
b64url()        { base64 -w0 | tr '+/' '-_' | tr -d '='; }
b64url_decode() {
    local s; s=$(tr -- '-_' '+/')
    case $(( ${#s} % 4 )) in 2) s="$s==" ;; 3) s="$s=" ;; esac
    printf '%s' "$s" | base64 -d
}
seg() { printf '%s' "$1" | cut -d. -f"$2"; }

ALGS="ES256 ES384 EdDSA RS256 PS256"
ISS=https://issuer.test
AUD=https://api.test
V() { "$AIMCTL" verify --keys "$T/jwks.json" --issuer $ISS --audience $AUD "$@"; }
# reject REASON NAME VERIFY-ARGS...: exit 1 and the reason code
reject() {
    local reason=$1 name=$2; shift 2
    run V "$@"
    if [ "$RC" -eq 1 ] && jqt ".valid == false and .reason == \"$reason\""; then
        ok "$name -> $reason"
    else
        not_ok "$name: wanted exit 1 and $reason, got exit $RC: $OUT $ERR"
    fi
}
valid() {
    local name=$1; shift
    run V "$@"
    if [ "$RC" -eq 0 ] && jqt '.valid == true'; then ok "$name"; else
        not_ok "$name: exit $RC: $OUT $ERR"; fi
}

# ---------------------------------------------------------------- help
expect_rc 2 "no command: exit 2" "$AIMCTL"
expect_rc 0 "--help: exit 0" "$AIMCTL" --help
lists_commands() {
    local c
    for c in keygen jwks thumbprint issue dpop verify inspect stats trust audit statuslist; do
        grep -q "^  $c " <<<"$OUT" || return 1
    done
}
assert "--help lists every command" lists_commands
for c in keygen jwks thumbprint issue dpop verify inspect stats trust audit statuslist; do
    run "$AIMCTL" $c --help
    assert "$c --help: usage, exit 0" eval '[ $RC -eq 0 ] && grep -q "^Usage: aimctl $c" <<<"$OUT"'
done
run "$AIMCTL" help verify
assert "help verify" eval '[ $RC -eq 0 ] && grep -q "^Usage: aimctl verify" <<<"$OUT"'
expect_rc 2 "unknown command: exit 2" "$AIMCTL" frobnicate
expect_rc 0 "--version" "$AIMCTL" --version

# ---------------------------------------------------------------- keygen
declare -A KTY=([ES256]=EC [ES384]=EC [EdDSA]=OKP [RS256]=RSA [PS256]=RSA)
for a in $ALGS; do
    run "$AIMCTL" keygen --alg $a --out $a.pem
    assert "keygen $a: exit 0, prints its public JWK" \
        eval '[ $RC -eq 0 ] && jqt ".kty == \"${KTY[$a]}\" and .alg == \"$a\" and .use == \"sig\" and (.kid|length) == 43 and (has(\"d\")|not)"'
    assert "keygen $a: file mode 0600" [ "$(stat -c %a $a.pem)" = 600 ]
    assert "keygen $a: PKCS#8 PEM that openssl reads" \
        eval 'grep -q "^-----BEGIN PRIVATE KEY-----$" $a.pem && openssl pkey -in $a.pem -noout 2>/dev/null'
    assert "keygen $a: records its algorithm" grep -qx "aimctl-alg: $a" $a.pem
done
assert "keygen ES256 is P-256" eval 'openssl pkey -in ES256.pem -text -noout | grep -q "NIST CURVE: P-256"'
assert "keygen ES384 is P-384" eval 'openssl pkey -in ES384.pem -text -noout | grep -q "NIST CURVE: P-384"'
assert "keygen EdDSA is Ed25519" eval 'openssl pkey -in EdDSA.pem -text -noout | grep -q "ED25519 Private-Key"'
assert "keygen RS256 is RSA 2048" eval 'openssl pkey -in RS256.pem -text -noout | grep -q "Private-Key: (2048 bit"'

sum=$(sha256sum ES256.pem)
expect_rc 2 "keygen refuses to overwrite" "$AIMCTL" keygen --alg ES256 --out ES256.pem
assert "keygen: refusal names the file and --force" eval 'grep -q "ES256.pem" <<<"$ERR" && grep -q -- "--force" <<<"$ERR"'
assert "keygen: refused file unchanged" [ "$(sha256sum ES256.pem)" = "$sum" ]
cp ES256.pem keep.pem
echo "not a key" >loose.pem; chmod 644 loose.pem
expect_rc 0 "keygen --force replaces" "$AIMCTL" keygen --alg ES256 --out loose.pem --force
assert "keygen --force: mode forced to 0600" [ "$(stat -c %a loose.pem)" = 600 ]
(umask 000; "$AIMCTL" keygen --alg EdDSA --out umask0.pem >/dev/null)
assert "keygen under umask 000: still 0600" [ "$(stat -c %a umask0.pem)" = 600 ]
ln -s "$T/target.pem" link.pem
run "$AIMCTL" keygen --alg ES256 --out link.pem --force
assert "keygen does not write through a symlink" eval '[ $RC -ne 0 ] && [ ! -e target.pem ]'
run "$AIMCTL" keygen --alg RS256 --bits 3072 --out rsa3072.pem
assert "keygen --bits 3072" eval '[ $RC -eq 0 ] && openssl pkey -in rsa3072.pem -text -noout | grep -q "(3072 bit"'
expect_rc 2 "keygen --bits 1024 refused" "$AIMCTL" keygen --alg RS256 --bits 1024 --out x.pem
expect_rc 2 "keygen --bits with EC refused" "$AIMCTL" keygen --alg ES256 --bits 4096 --out x.pem
expect_rc 2 "keygen --alg HS256 refused" "$AIMCTL" keygen --alg HS256 --out x.pem
expect_rc 2 "keygen --alg none refused" "$AIMCTL" keygen --alg none --out x.pem
expect_rc 2 "keygen without --out" "$AIMCTL" keygen --alg ES256
expect_rc 2 "keygen without --alg" "$AIMCTL" keygen --out x.pem
assert "failed keygens left no file" [ ! -e x.pem ]
run "$AIMCTL" keygen --alg ES256 --kid issuer-2024 --out kid.pem
assert "keygen --kid: JWK and file carry the kid" \
    eval '[ $RC -eq 0 ] && jqt ".kid == \"issuer-2024\"" && grep -qx "aimctl-kid: issuer-2024" kid.pem'
expect_rc 2 "keygen --kid with a newline refused" "$AIMCTL" keygen --alg ES256 --kid $'a\nb' --out x.pem

# ---------------------------------------------------------------- thumbprint, jwks
# RFC 7638 computed here with jq + openssl, independently of aimctl.
rfc7638() {
    jq -cjS 'if .kty == "EC" then {crv,kty,x,y} elif .kty == "OKP" then {crv,kty,x}
             else {e,kty,n} end' | openssl dgst -sha256 -binary | b64url
}
run "$AIMCTL" jwks ES256.pem ES384.pem EdDSA.pem RS256.pem PS256.pem
printf '%s\n' "$OUT" >jwks.json
assert "jwks: five public keys" jqt '.keys | length == 5'
assert "jwks: no private members" jqt '[.keys[] | has("d","p","q","dp","dq","qi") ] | all(. == false)'
assert "jwks: every key has kid, alg, use sig" jqt '[.keys[] | (.kid|type) == "string" and .use == "sig" and (.alg|type) == "string"] | all'
i=0
for a in $ALGS; do
    jwk=$(jq -c ".keys[$i]" jwks.json)
    run "$AIMCTL" thumbprint $a.pem
    tp=$OUT
    assert "thumbprint $a = RFC 7638 computed independently" \
        [ "$tp" = "$(printf '%s' "$jwk" | rfc7638)" ]
    assert "jwks $a: kid is the thumbprint, alg $a" \
        [ "$(jq -r '.kid + " " + .alg' <<<"$jwk")" = "$tp $a" ]
    i=$((i + 1))
done
# The public key in the JWK is the PEM's (openssl as the oracle).
der_tail() { openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | tail -c "$2" | b64url; }
j() { jq -r ".keys[] | select(.alg == \"$1\") | .$2" jwks.json; }
assert "jwks ES256: x||y = the PEM's point" [ "$(j ES256 x | b64url_decode | cat - <(j ES256 y | b64url_decode) | b64url)" = "$(der_tail ES256.pem 64)" ]
assert "jwks ES384: x||y = the PEM's point" [ "$(j ES384 x | b64url_decode | cat - <(j ES384 y | b64url_decode) | b64url)" = "$(der_tail ES384.pem 96)" ]
assert "jwks EdDSA: x = the PEM's key" [ "$(j EdDSA x)" = "$(der_tail EdDSA.pem 32)" ]
assert "jwks RS256: n = the PEM's modulus" \
    [ "$(j RS256 n | b64url_decode | xxd -p -u | tr -d '\n' | sed 's/^00//')" = \
      "$(openssl rsa -in RS256.pem -modulus -noout 2>/dev/null | sed 's/^Modulus=//')" ]
assert "jwks RS256: e = 65537" [ "$(j RS256 e)" = AQAB ]

run "$AIMCTL" jwks --alg PS256 RS256.pem ES256.pem
assert "jwks --alg PS256 applies to RSA keys only" \
    jqt '.keys[0].alg == "PS256" and .keys[1].alg == "ES256"'
expect_rc 2 "jwks --alg ES256 refused" "$AIMCTL" jwks --alg ES256 ES256.pem
run "$AIMCTL" jwks ES256.pem:primary kid.pem
assert "jwks FILE:KID and a recorded kid" jqt '.keys[0].kid == "primary" and .keys[1].kid == "issuer-2024"'
expect_rc 2 "jwks: the same key twice (duplicate kid)" "$AIMCTL" jwks ES256.pem ES256.pem
expect_rc 0 "jwks: the same key twice under two kids" "$AIMCTL" jwks ES256.pem:a ES256.pem:b
expect_rc 2 "jwks: missing file" "$AIMCTL" jwks nosuch.pem
expect_rc 2 "jwks: no file" "$AIMCTL" jwks
expect_rc 2 "thumbprint: two files" "$AIMCTL" thumbprint ES256.pem ES384.pem
expect_rc 2 "thumbprint: not a key" "$AIMCTL" thumbprint jwks.json

# Keys made by openssl itself (no aimctl lines) work too.
openssl genpkey -algorithm ed25519 -out ossl-ed.pem 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ossl-ec.pem 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 -out k1.pem 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.pem 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes-256-cbc -pass pass:secret -out enc.pem 2>/dev/null
chmod 600 ossl-*.pem
expect_rc 0 "openssl-made Ed25519 and P-256 keys load" "$AIMCTL" jwks ossl-ed.pem ossl-ec.pem
expect_rc 2 "secp256k1 key refused" "$AIMCTL" thumbprint k1.pem
expect_rc 2 "RSA 1024 key refused" "$AIMCTL" thumbprint rsa1024.pem
run timeout 10 "$AIMCTL" thumbprint enc.pem
assert "encrypted key refused without prompting" eval '[ $RC -eq 2 ] && grep -q "unencrypted" <<<"$ERR"'
chmod 644 ossl-ed.pem
run "$AIMCTL" thumbprint ossl-ed.pem
assert "group/other-readable key: works, with a warning" eval '[ $RC -eq 0 ] && grep -q "chmod 600" <<<"$ERR"'

# ---------------------------------------------------------------- issue + verify
issue() { "$AIMCTL" issue --iss $ISS --aud $AUD "$@"; }
for a in $ALGS; do
    tok=$(issue --key $a.pem --sub "spiffe://corp/agent/$a" --scope "kb.read kb.write" --owner alice@corp)
    run V --scope kb.read "$tok"
    assert "issue+verify $a: valid" \
        eval '[ $RC -eq 0 ] && jqt ".valid and .alg == \"$a\" and .agent == \"spiffe://corp/agent/$a\" and .owner == \"alice@corp\" and .scopes == [\"kb.read\",\"kb.write\"]"'
    assert "issue $a: kid = jwks kid" \
        [ "$(jq -r '.kid' <<<"$OUT")" = "$("$AIMCTL" thumbprint $a.pem)" ]
    assert "issue $a: signature size" \
        eval 'n=$(seg "$tok" 3 | b64url_decode | wc -c); case $a in ES256|EdDSA) [ $n = 64 ];; ES384) [ $n = 96 ];; *) [ $n = 256 ];; esac'
done
# A PEM public key pinned to an algorithm, from openssl.
openssl pkey -in ES384.pem -pubout -out es384.pub 2>/dev/null
tok=$(issue --key ES384.pem --sub a1)
run "$AIMCTL" verify --keys pem:ES384:es384.pub --issuer $ISS --audience $AUD "$tok"
assert "verify with an openssl PEM public key (pem:ES384:PATH)" eval '[ $RC -eq 0 ] && jqt .valid'
tok=$(issue --key ossl-ec.pem --sub a1)
"$AIMCTL" jwks ossl-ec.pem >ossl.json
run "$AIMCTL" verify --keys ossl.json --issuer $ISS --audience $AUD "$tok"
assert "an openssl-made key issues and verifies" eval '[ $RC -eq 0 ] && jqt .valid'

# The token's shape.
tok=$(issue --key ES256.pem --sub agent-1)
run "$AIMCTL" inspect "$tok"
assert "issue: header {alg, typ aim+jwt, kid}" \
    jqt '.header == {"alg":"ES256","typ":"aim+jwt","kid":.header.kid} and (.header.kid|length) == 43'
assert "issue: iss sub aud iat exp jti, exp = iat + 300" \
    jqt '.claims.iss == "https://issuer.test" and .claims.sub == "agent-1" and .claims.aud == "https://api.test" and .claims.exp - .claims.iat == 300 and (.claims.jti|test("^[A-Za-z0-9_-]{22}$"))'
assert "issue: iat is now" jqt "(.claims.iat - $(date +%s)) | fabs < 5"
jti1=$(jq -r .claims.jti <<<"$OUT")
jti2=$("$AIMCTL" inspect "$(issue --key ES256.pem --sub agent-1)" | jq -r .claims.jti)
assert "issue: jti is random" [ "$jti1" != "$jti2" ]

tok=$(issue --key ES256.pem --sub human-task --act agent-a --act agent-b --ttl 60 --jti j-1 \
       --cnf-jkt abc --nbf 5 --iat 10 --claim n=42 --claim s=text --claim o='{"k":[1,2]}' \
       --claim q='"42"' --aud https://other.test --scope "a" --scope "b c" --kid mykid --typ at+jwt)
run "$AIMCTL" inspect "$tok"
assert "issue --act nests (first is the current actor)" \
    jqt '.claims.act == {"sub":"agent-a","act":{"sub":"agent-b"}}'
assert "issue --ttl/--iat/--nbf/--jti/--cnf-jkt" \
    jqt '.claims.iat == 10 and .claims.exp == 70 and .claims.nbf == 5 and .claims.jti == "j-1" and .claims.cnf == {"jkt":"abc"}'
assert "issue --claim: JSON when it parses, else a string" \
    jqt '.claims.n == 42 and .claims.s == "text" and .claims.o == {"k":[1,2]} and .claims.q == "42"'
assert "issue: repeated --aud is an array, --scope joined" \
    jqt '.claims.aud == ["https://api.test","https://other.test"] and .claims.scope == "a b c"'
assert "issue --kid / --typ" jqt '.header.kid == "mykid" and .header.typ == "at+jwt"'

tok=$(issue --key ES256.pem --sub human-task --act agent-a --act agent-b)
run V "$tok"
assert "verify: agent is the current actor, chain outermost first" \
    jqt '.agent == "agent-a" and .subject == "human-task" and .chain == "agent-a>agent-b>human-task"'
tok=$(issue --key ES256.pem --sub s --aud https://other.test)
valid "verify: audience array containing ours" "$tok"
tok=$(issue --key ES256.pem --sub s --typ at+jwt)
valid "verify: typ at+jwt accepted" "$tok"
tok=$(issue --key ES256.pem --sub s --typ application/AIM+JWT)
valid "verify: typ application/AIM+JWT accepted" "$tok"
tok=$(issue --key ES256.pem --sub s --typ JWT)
reject bad_type "typ JWT" "$tok"
valid "typ JWT with --types JWT" --types JWT "$tok"
tok=$(issue --key ES256.pem --sub s --header crit='["exp"]')
reject bad_type "crit header" "$tok"

# Usage errors of issue.
expect_rc 2 "issue without --iss" "$AIMCTL" issue --key ES256.pem --sub s --aud a
assert "issue: the error says what is missing" grep -q -- "--iss is required" <<<"$ERR"
expect_rc 2 "issue without --key" "$AIMCTL" issue --iss i --sub s --aud a
expect_rc 2 "issue without --sub" "$AIMCTL" issue --key ES256.pem --iss i --aud a
expect_rc 2 "issue without --aud" "$AIMCTL" issue --key ES256.pem --iss i --sub s
expect_rc 2 "issue --ttl abc" issue --key ES256.pem --sub s --ttl abc
expect_rc 2 "issue --ttl and --exp" issue --key ES256.pem --sub s --ttl 5 --exp 10
expect_rc 2 "issue --alg ES384 with a P-256 key" issue --key ES256.pem --sub s --alg ES384
expect_rc 2 "issue --alg PS256 with an Ed25519 key" issue --key EdDSA.pem --sub s --alg PS256
expect_rc 2 "issue --claim without =" issue --key ES256.pem --sub s --claim novalue
expect_rc 2 "issue with an unknown option" issue --key ES256.pem --sub s --frob
expect_rc 2 "issue with a missing key file" issue --key nosuch.pem --sub s
expect_rc 2 "issue with an invalid UTF-8 --sub" issue --key ES256.pem --sub $'\xff\xfe'

# Warnings: issue still signs (exit 0, the token on stdout), but says on
# stderr what verifiers would refuse; each warning is checked against a
# verifier with the default settings, which must indeed refuse the token.
# warns NAME REGEX ISSUE-ARGS...
warns() {
    local name=$1 re=$2; shift 2
    run issue --key ES256.pem --sub agent-w "$@"
    local tok=$OUT
    assert "issue warns: $name" \
        eval '[ $RC -eq 0 ] && [ "$(grep -c . <<<"$OUT")" -eq 1 ] && grep -q "^aimctl issue: warning: " <<<"$ERR" && grep -Eq "$re" <<<"$ERR"'
    run V "$tok"
    assert "... and the default verifier does refuse it" [ "$RC" -eq 1 ]
}
# quiet NAME ISSUE-ARGS...: no warning, and the default verifier accepts.
quiet() {
    local name=$1; shift
    run issue --key ES256.pem --sub agent-w "$@"
    local tok=$OUT
    assert "issue is quiet: $name" eval '[ $RC -eq 0 ] && [ -z "$ERR" ]'
    valid "... and the default verifier accepts it" "$tok"
}
scopes() { seq -f "s%g" "$1" | paste -sd' '; }
quiet "a plain token"
quiet "typ at+jwt" --typ at+jwt
quiet "typ application/AIM+JWT" --typ application/AIM+JWT
quiet "a lifetime of exactly the default maximum (86400 s)" --ttl 86400
quiet "64 scopes (AIM_MAX_SCOPES)" --scope "$(scopes 64)"
warns "lifetime over the default max_lifetime" "lifetime_too_long .*100000 s exceeds the maximum of 86400 s" --ttl 100000
warns "no jti" 'missing_claim \("jti" is missing\)' --omit jti
warns "no exp" 'missing_claim \("exp" is missing\)' --omit exp
warns "no iat" 'missing_claim \("iat" is missing\)' --omit iat
warns "typ JWT is not accepted by default" 'bad_type \(typ "JWT" is not accepted\)' --typ JWT
warns "a crit header" 'bad_type .*crit' --header crit='["exp"]'
warns "an invalid scope, named" 'scope "kb"read" is not a valid scope' --scope 'kb:write kb"read'
warns "an empty scope" 'empty scope' --scope "a  b"
warns "65 scopes (over AIM_MAX_SCOPES)" '65 scopes: .*more than 64 distinct' --scope "$(scopes 65)"
warns "a token over AIM_MAX_TOKEN_LEN" 'is [0-9]+ bytes; .*longer than 16384' --claim pad="$(head -c 17000 /dev/zero | tr '\0' x)"
warns "already expired" 'expired \(expired [0-9]+ s ago\)' --iat 1000000 --ttl 60
warns "not yet valid" 'not_yet_valid' --iat "$(( $(date +%s) + 3600 ))"
warns "a header alg the key is not pinned to" 'unsupported_alg' --header alg=ES384
warns "a kid that is not a string" 'unknown_key' --header kid=null
warns "exp not after iat" 'bad_claim' --iat 2000000000 --exp 1999999999
run issue --key ES256.pem --sub agent-w --ttl 100000 --quiet
assert "issue --quiet: the same token, no warning" eval '[ $RC -eq 0 ] && [ -n "$OUT" ] && [ -z "$ERR" ]'
run issue --key ES256.pem --sub agent-w --status-idx 3 --status-uri https://issuer.test/status/1
assert "issue: a status-list token is no warning (its list is deployment, not the token)" \
    eval '[ $RC -eq 0 ] && [ -z "$ERR" ]'
run issue --key rsa1024.pem --sub agent-w
assert "issue with an RSA key under 2048 bits: refused outright (exit 2), not signed" \
    eval '[ $RC -eq 2 ] && [ -z "$OUT" ] && grep -q "1024 bits" <<<"$ERR"'

# ---------------------------------------------------------------- verify: rejections
tok=$(issue --key ES256.pem --sub agent-t --scope "read write" --iat 1000000 --ttl 600)
valid "at --now inside the lifetime" --now 1000300 "$tok"
reject expired "after exp (--now)" --now 1001000 "$tok"
valid "within the default 30 s leeway after exp" --now 1000620 "$tok"
reject expired "--leeway 0 just after exp" --leeway 0 --now 1000601 "$tok"
reject not_yet_valid "iat in the future (--now)" --now 999000 "$tok"
tok=$(issue --key ES256.pem --sub agent-t --iat 1000000 --nbf 1000500 --ttl 3600)
reject not_yet_valid "before nbf" --now 1000100 "$tok"
valid "after nbf" --now 1000501 "$tok"
tok=$(issue --key ES256.pem --sub agent-t --ttl 100000)
reject lifetime_too_long "exp - iat over the 24 h default" "$tok"
valid "--max-lifetime 200000" --max-lifetime 200000 "$tok"

tok=$(issue --key ES256.pem --sub agent-t --scope "read write")
reject bad_audience "wrong audience" --audience https://elsewhere.test "$tok" 2>/dev/null
run "$AIMCTL" verify --keys jwks.json --issuer https://evil.test --audience $AUD "$tok"
assert "wrong issuer -> bad_issuer" eval '[ $RC -eq 1 ] && jqt ".reason == \"bad_issuer\""'
run "$AIMCTL" verify --keys "$ISS jwks.json" --issuer https://evil.test --issuer $ISS --audience $AUD "$tok"
assert "one of several --issuer (keys bound to theirs)" eval '[ $RC -eq 0 ] && jqt .valid'
run "$AIMCTL" verify --keys jwks.json --issuer https://evil.test --issuer $ISS --audience $AUD "$tok"
assert "several issuers with an unbound key source: config error" eval '[ $RC -eq 2 ] && jqt ".reason == \"config_error\""'
run "$AIMCTL" verify --keys "https://evil.test jwks.json" --issuer https://evil.test --issuer $ISS --audience $AUD "$tok"
assert "a key bound to another issuer cannot sign for this one" eval '[ $RC -eq 1 ] && jqt ".reason == \"bad_issuer\""'
reject insufficient_scope "a scope the token lacks" --scope admin "$tok"
assert "insufficient_scope names the agent and the scope" \
    jqt '.agent == "agent-t" and (.message | test("admin"))'
valid "all required scopes held" --scope read --scope write "$tok"
reject insufficient_scope "all of read+admin required" --scope read --scope admin "$tok"
valid "--any: one of admin, write" --any --scope admin --scope write "$tok"
reject insufficient_scope "scopes match whole words only" --scope rea "$tok"

# Revocation: agent (the current actor), jti, kid.
tok=$(issue --key ES256.pem --sub owner-x --act agent-r --jti jti-r)
es256_kid=$("$AIMCTL" thumbprint ES256.pem)
printf '# revoked\nagent someone-else\njti other\n' >rev.txt
valid "unrelated revocations" --revoked rev.txt "$tok"
printf 'agent agent-r\n' >rev.txt
reject revoked "agent revoked" --revoked rev.txt "$tok"
printf 'jti jti-r\n' >rev.txt
reject revoked "jti revoked" --revoked rev.txt "$tok"
printf 'kid %s\n' "$es256_kid" >rev.txt
reject revoked "kid revoked" --revoked rev.txt "$tok"
printf 'bogus line\n' >rev.txt
run V --revoked rev.txt "$tok"
assert "a bad revocation file is a configuration error (exit 2)" \
    eval '[ $RC -eq 2 ] && jqt ".reason == \"config_error\""'

# Policy: effective scopes are token ∩ policy.
tok=$(issue --key ES256.pem --sub agent-p --scope "read write delete")
printf 'allow agent-p read\nallow other *\n' >policy.txt
run V --policy policy.txt "$tok"
assert "policy narrows the scopes" eval '[ $RC -eq 0 ] && jqt ".scopes == [\"read\"]"'
run V --policy policy.txt --scope write "$tok"
assert "policy: a token scope the policy withholds is refused" \
    eval '[ $RC -eq 1 ] && jqt ".valid == false"'

# Tampering.
tok=$(issue --key ES256.pem --sub agent-t --scope read)
h=$(seg "$tok" 1); p=$(seg "$tok" 2); s=$(seg "$tok" 3)
flip() { local c=${1:0:1}; if [ "$c" = A ]; then echo "B${1:1}"; else echo "A${1:1}"; fi; }
reject bad_signature "tampered signature" "$h.$p.$(flip "$s")"
p2=$(printf '%s' "$p" | b64url_decode | jq -c '.scope = "read admin"' | tr -d '\n' | b64url)
reject bad_signature "tampered claims (scope widened)" "$h.$p2.$s"
reject malformed "truncated token" "$h.$p"
reject malformed "padding in a segment" "$h.$p.$s="
reject malformed "not a token" "hello"
for a in $ALGS; do
    t2=$(issue --key $a.pem --sub x)
    reject bad_signature "$a: signature from another token" "$(seg "$t2" 1).$p2.$(seg "$t2" 3)"
done
"$AIMCTL" keygen --alg ES256 --out other.pem >/dev/null
tok=$(issue --key other.pem --sub agent-t --kid "$es256_kid")
reject bad_signature "right kid, wrong key" "$tok"
tok=$(issue --key other.pem --sub agent-t)
reject unknown_key "kid not in the JWKS" "$tok"
tok=$(issue --key ES256.pem --sub agent-t --header kid=null)
run V "$tok"
assert "kid null -> rejected" eval '[ $RC -eq 1 ] && jqt ".valid == false"'

# Algorithm confusion.
tok=$(issue --key RS256.pem --alg PS256 --sub agent-t)
reject unsupported_alg "PS256 token for a key pinned to RS256" "$tok"
tok=$(issue --key PS256.pem --alg RS256 --sub agent-t)
reject unsupported_alg "RS256 token for a key pinned to PS256" "$tok"
tok=$(issue --key EdDSA.pem --sub agent-t --header alg=ES256)
reject unsupported_alg "header alg ES256 on an EdDSA key" "$tok"
tok=$(issue --key ES256.pem --sub agent-t)
h2=$(seg "$tok" 1 | b64url_decode | jq -c '.alg = "ES384"' | tr -d '\n' | b64url)
reject unsupported_alg "header alg ES256 -> ES384" "$h2.$(seg "$tok" 2).$(seg "$tok" 3)"
hn=$(seg "$tok" 1 | b64url_decode | jq -c '.alg = "none"' | tr -d '\n' | b64url)
run V "$hn.$(seg "$tok" 2)."
assert "alg none, empty signature -> rejected (malformed or unsupported_alg)" \
    eval '[ $RC -eq 1 ] && jqt ".reason == \"malformed\" or .reason == \"unsupported_alg\""'
# HS256 keyed with the RSA public key (the classic confusion attack).
rs_kid=$("$AIMCTL" thumbprint RS256.pem)
openssl pkey -in RS256.pem -pubout -out rs.pub 2>/dev/null
hh=$(printf '{"alg":"HS256","typ":"aim+jwt","kid":"%s"}' "$rs_kid" | b64url)
ph=$(seg "$(issue --key RS256.pem --sub agent-t)" 2)
sh=$(printf '%s' "$hh.$ph" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(xxd -p rs.pub | tr -d '\n')" -binary | b64url)
reject unsupported_alg "HS256 keyed with the RSA public key" "$hh.$ph.$sh"

# Missing and mistyped claims.
tok=$(issue --key ES256.pem --sub agent-t --omit jti)
reject missing_claim "no jti" "$tok"
tok=$(issue --key ES256.pem --sub agent-t --omit exp)
reject missing_claim "no exp" "$tok"
tok=$(issue --key ES256.pem --sub agent-t --claim exp='"tomorrow"')
reject bad_claim "exp as a string" "$tok"
tok=$(issue --key ES256.pem --sub agent-t --claim sub=42)
reject bad_claim "sub as a number" "$tok"

tok=$(issue --key ES256.pem --sub agent-t --claim sub='"agent\u0000admin"')
reject malformed "NUL inside sub (--claim takes JSON escapes)" "$tok"
"$AIMCTL" jwks other.pem >other-jwks.json
tok=$(issue --key other.pem --sub agent-t --header jku="file://$T/other-jwks.json" \
      --header jwk="$(jq -c '.keys[0]' other-jwks.json)")
reject unknown_key "jku / jwk headers never select a key" "$tok"

# Usage and configuration errors of verify.
tok=$(issue --key ES256.pem --sub agent-t)
expect_rc 2 "verify without --keys" "$AIMCTL" verify --issuer $ISS --audience $AUD "$tok"
expect_rc 2 "verify without --issuer" "$AIMCTL" verify --keys jwks.json --audience $AUD "$tok"
expect_rc 2 "verify without --audience" "$AIMCTL" verify --keys jwks.json --issuer $ISS "$tok"
expect_rc 2 "verify without a token" V
expect_rc 2 "verify with two tokens" V "$tok" "$tok"
expect_rc 2 "verify --leeway -1" V --leeway -1 "$tok"
expect_rc 2 "verify --now soon" V --now soon "$tok"
expect_rc 2 "verify --any without --scope" V --any "$tok"
run "$AIMCTL" verify --keys nosuch.json --issuer $ISS --audience $AUD "$tok"
assert "verify: missing JWKS file -> exit 2, config_error, names the file" \
    eval '[ $RC -eq 2 ] && jqt ".reason == \"config_error\"" && grep -q nosuch.json <<<"$ERR"'
echo '{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"}]}' >hmac.json
run "$AIMCTL" verify --keys hmac.json --issuer $ISS --audience $AUD "$tok"
assert "verify: a JWKS of HMAC keys only -> exit 2" [ "$RC" -eq 2 ]

# Standard input: one trailing newline is stripped, no more.
run bash -c "printf '%s\n' '$tok' | '$AIMCTL' verify --keys jwks.json --issuer $ISS --audience $AUD -"
assert "verify - (token and newline on stdin)" eval '[ $RC -eq 0 ] && jqt .valid'
run bash -c "printf '%s' '$tok' | '$AIMCTL' verify --keys jwks.json --issuer $ISS --audience $AUD -"
assert "verify - (no newline)" eval '[ $RC -eq 0 ] && jqt .valid'
run bash -c "printf '%s\n\n' '$tok' | '$AIMCTL' verify --keys jwks.json --issuer $ISS --audience $AUD -"
assert "verify - with two newlines -> malformed" eval '[ $RC -eq 1 ] && jqt ".reason == \"malformed\""'

# Audit line.
run V --audit audit.log --scope admin "$tok"
assert "verify --audit writes one line, never the token" \
    eval '[ "$(wc -l <audit.log)" -eq 1 ] && jq -e ".adapter == \"aimctl\" and .decision == \"deny\" and .reason == \"insufficient_scope\"" audit.log >/dev/null && ! grep -qF "$(seg "$tok" 3)" audit.log'

# ---------------------------------------------------------------- inspect
tok=$(issue --key ES256.pem --sub agent-i --scope read)
run "$AIMCTL" inspect "$tok"
assert "inspect: marked unverified" \
    eval '[ $RC -eq 0 ] && jqt ".verified == false and (.warning | test(\"NOT VERIFIED\"))"'
assert "inspect: header and claims" jqt '.header.alg == "ES256" and .claims.sub == "agent-i" and .signature_bytes == 64'
run "$AIMCTL" inspect "$h.$p2.$s"
assert "inspect decodes a forged token, still unverified" \
    eval '[ $RC -eq 0 ] && jqt ".verified == false and .claims.scope == \"read admin\""'
run bash -c "printf '%s\n' '$tok' | '$AIMCTL' inspect -"
assert "inspect - (stdin)" eval '[ $RC -eq 0 ] && jqt ".claims.sub == \"agent-i\""'
expect_rc 1 "inspect: not a token" "$AIMCTL" inspect hello
expect_rc 1 "inspect: bad base64url" "$AIMCTL" inspect 'a*b.c.d'
expect_rc 2 "inspect: no token" "$AIMCTL" inspect

# ---------------------------------------------------------------- dpop
"$AIMCTL" keygen --alg ES256 --out dpop.pem >/dev/null
jkt=$("$AIMCTL" thumbprint dpop.pem)
tok=$(issue --key ES256.pem --sub agent-d --cnf-jkt "$jkt")
run "$AIMCTL" dpop --key dpop.pem --htm POST --htu https://api.test/kb --token "$tok" --iat 1700000000 --jti p-1 --nonce n-1
proof=$OUT
run "$AIMCTL" inspect "$proof"
assert "dpop: header typ dpop+jwt, alg, public jwk only" \
    jqt '.header.typ == "dpop+jwt" and .header.alg == "ES256" and (.header.jwk | keys) == ["crv","kty","x","y"]'
assert "dpop: claims jti htm htu iat nonce" \
    jqt '.claims.jti == "p-1" and .claims.htm == "POST" and .claims.htu == "https://api.test/kb" and .claims.iat == 1700000000 and .claims.nonce == "n-1"'
assert "dpop: ath = base64url(SHA-256(token)) (openssl)" \
    [ "$(jq -r .claims.ath <<<"$OUT")" = "$(printf '%s' "$tok" | openssl dgst -sha256 -binary | b64url)" ]
assert "dpop: jwk thumbprint = cnf.jkt" [ "$(jq -c .header.jwk <<<"$OUT" | rfc7638)" = "$jkt" ]
run "$AIMCTL" inspect "$("$AIMCTL" dpop --key dpop.pem --htm GET --htu https://api.test/kb)"
assert "dpop without --token: no ath, iat now, random jti" \
    jqt "(.claims | has(\"ath\") | not) and ((.claims.iat - $(date +%s)) | fabs < 5) and (.claims.jti | length) == 22"
run bash -c "printf '%s\n' '$tok' | '$AIMCTL' dpop --key dpop.pem --htm GET --htu https://x --token -"
assert "dpop --token - reads stdin (newline stripped)" \
    eval '[ "$("$AIMCTL" inspect "$OUT" | jq -r .claims.ath)" = "$(printf "%s" "$tok" | openssl dgst -sha256 -binary | b64url)" ]'

proof=$("$AIMCTL" dpop --key dpop.pem --htm POST --htu https://api.test/kb --token "$tok")
valid "verify --dpop: a fresh proof" --dpop "$proof" --htm POST --htu https://api.test/kb "$tok"
assert "verify --dpop: reports dpop and cnf_jkt" jqt ".dpop == true and .cnf_jkt == \"$jkt\""
reject bad_binding "dpop: other method" --dpop "$proof" --htm GET --htu https://api.test/kb "$tok"
reject bad_binding "dpop: other URL" --dpop "$proof" --htm POST --htu https://api.test/other "$tok"
reject bad_binding "dpop: proof for another token" --dpop "$proof" --htm POST --htu https://api.test/kb \
    "$(issue --key ES256.pem --sub agent-d --cnf-jkt "$jkt")"
reject bad_binding "dpop: stale proof (--now), token still valid" --now $(( $(date +%s) + 200 )) --dpop "$proof" --htm POST --htu https://api.test/kb "$tok"
"$AIMCTL" keygen --alg ES256 --out dpop2.pem >/dev/null
reject bad_binding "dpop: proof signed by another key" \
    --dpop "$("$AIMCTL" dpop --key dpop2.pem --htm POST --htu https://api.test/kb --token "$tok")" \
    --htm POST --htu https://api.test/kb "$tok"
reject bad_binding "dpop: token without cnf" --dpop "$proof" --htm POST --htu https://api.test/kb \
    "$(issue --key ES256.pem --sub agent-d)"
ph=$(seg "$proof" 1 | b64url_decode | jq -c '.jwk.d = "AAAA"' | tr -d '\n' | b64url)
reject bad_binding "dpop: a private key in the jwk header" --dpop "$ph.$(seg "$proof" 2).$(seg "$proof" 3)" \
    --htm POST --htu https://api.test/kb "$tok"
for a in ES384 EdDSA RS256 PS256; do
    tk=$(issue --key ES256.pem --sub agent-d --cnf-jkt "$("$AIMCTL" thumbprint $a.pem)")
    pr=$("$AIMCTL" dpop --key $a.pem --htm GET --htu https://api.test/ --token "$tk")
    valid "dpop round trip with a $a key" --dpop "$pr" --htm GET --htu https://api.test/ "$tk"
done
expect_rc 2 "dpop without --htu" "$AIMCTL" dpop --key dpop.pem --htm GET
expect_rc 2 "dpop without --key" "$AIMCTL" dpop --htm GET --htu https://x
expect_rc 2 "verify --dpop without --htm" V --dpop "$proof" --htu https://x "$tok"

# ---------------------------------------------------------------- stats, trust
# The state file through 'verify --state' (the decision path every adapter
# takes): events counted, probing lowers trust until even a granted scope
# is refused with low_trust, other agents untouched, recovery with quiet
# time, the operator's reset.
ST=$T/state
AL=$T/trust-audit.log
VS() { V --state "$ST" --audit "$AL" "$@"; }
tokP=$(issue --key ES256.pem --sub agent-probe --scope kb:read --owner team-a --ttl 3600)
tokC=$(issue --key ES256.pem --sub agent-calm --scope kb:read)

expect_rc 2 "stats: a missing state file is refused" "$AIMCTL" stats --state "$ST"
assert "stats: says there is no state file, and creates none" \
    eval 'grep -q "no state file" <<<"$ERR" && [ ! -e "$ST" ]'
printf 'precious data\n' >foreign.txt
sum=$(sha256sum foreign.txt)
expect_rc 2 "stats: a file that is not a state file is refused" "$AIMCTL" stats --state foreign.txt
assert "stats: ... and says so" grep -q "not an AIM state file" <<<"$ERR"
expect_rc 2 "trust reset: a file that is not a state file is refused" \
    "$AIMCTL" trust reset agent-x --state foreign.txt
assert "stats / trust reset never rebuild a foreign file" [ "$(sha256sum foreign.txt)" = "$sum" ]
expect_rc 2 "stats: a directory is refused" "$AIMCTL" stats --state "$T"
expect_rc 2 "stats without --state" "$AIMCTL" stats
expect_rc 2 "stats with an extra argument" "$AIMCTL" stats --state foreign.txt extra
expect_rc 2 "stats --trust-min 101" "$AIMCTL" stats --state foreign.txt --trust-min 101

valid "verify --state: the first decision creates the state file" --state "$ST" --audit "$AL" --scope kb:read "$tokP"
assert "state file created, mode 0660" eval '[ -f "$ST" ] && [ "$(stat -c %a "$ST")" = 660 ]'
valid "verify --state: another agent" --state "$ST" --audit "$AL" --scope kb:read "$tokC"
valid "verify --state --action --resource" --state "$ST" --audit "$AL" --scope kb:read --action GET --resource /kb/1 "$tokC"
assert "--action and --resource reach the audit line" \
    eval '[ "$(tail -1 "$AL" | jq -r ".action + \" \" + .resource")" = "GET /kb/1" ]'

run "$AIMCTL" stats --state "$ST" --json
assert "stats --json: one JSON object per agent, one per line" \
    eval '[ $RC -eq 0 ] && [ "$(wc -l <<<"$OUT")" -eq 2 ] && printf "%s\n" "$OUT" | jq -e -s "length == 2 and all(type == \"object\")" >/dev/null'
# jrow AGENT FILTER: the filter holds on AGENT's row of $OUT (JSON lines)
jrow() { printf '%s\n' "$OUT" | jq -e -s --arg a "$1" "map(select(.agent == \$a))[0] | $2" >/dev/null 2>&1; }
# jcount FILTER: audit lines in $AL that match (jq, independently of aimctl)
jcount() { jq -s "map(select($1)) | length" "$AL"; }
assert "stats --json: events counted per agent" \
    eval 'jrow agent-probe ".events == 1" && jrow agent-calm ".events == 2"'
assert "stats --json: new agents are learning, at trust 100" \
    jrow agent-calm '.trust == 100 and .learning == true and .state == "learning" and .denied == 0 and .anomalies == 0 and .last_signal == null'
assert "stats --json: rates and times" \
    jrow agent-calm "(.rate_short > .rate_long) and (.rate_long > 0) and ((.last_seen - $(date +%s)) | fabs < 60) and (.first_seen <= .last_seen) and (.last_seen_utc | test(\"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\$\"))"
run "$AIMCTL" stats --state "$ST"
assert "stats: a table, a header and one row per agent" \
    eval '[ $RC -eq 0 ] && [ "$(wc -l <<<"$OUT")" -eq 3 ] && head -1 <<<"$OUT" | grep -q "^AGENT .*TRUST .*LEARNING .*EVENTS .*DENIED .*ANOMALIES .*RATE/S(10s) .*RATE/S(1h) .*LAST SIGNAL .*LAST SEEN (UTC)$" && grep -Eq "^agent-calm +100\.0  +yes +2 +0 +0 .* - +[0-9]{4}-[0-9]{2}-[0-9]{2}T" <<<"$OUT"'

# Probing: 50 requests for a scope the token does not grant.
denials=0
for i in $(seq 50); do
    out=$(VS --scope admin:all "$tokP" 2>/dev/null)
    jq -e '.reason == "insufficient_scope"' <<<"$out" >/dev/null && denials=$((denials + 1))
done
assert "probing: 50 insufficient_scope denials" [ "$denials" -eq 50 ]
run "$AIMCTL" stats --state "$ST" --json
assert "stats after probing: trust under 50, signal probing, 50 denials" \
    jrow agent-probe '.trust < 50 and .last_signal == "probing" and .denied == 50 and .events == 51 and .anomalies > 0 and .state == "low_trust" and .deny_recent > 5'
assert "stats after probing: the other agent is untouched" \
    jrow agent-calm '.trust == 100 and .denied == 0 and .last_signal == null'
run "$AIMCTL" stats --state "$ST"
assert "stats table: lowest trust first, marked, with its signal" \
    eval 'sed -n 2p <<<"$OUT" | grep -Eq "^agent-probe +[0-9.]+\* .* probing " && tail -1 <<<"$OUT" | grep -q "^\* trust below 50"'
run "$AIMCTL" stats --state "$ST" --trust-min 0
assert "stats --trust-min 0: nobody marked" eval '[ $RC -eq 0 ] && ! grep -q "\*" <<<"$OUT"'

run VS --scope kb:read "$tokP"
assert "after probing, a granted scope is refused: low_trust, exit 1" \
    eval '[ $RC -eq 1 ] && jqt ".valid == false and .reason == \"low_trust\" and .agent == \"agent-probe\" and (.message | test(\"trust [0-9]+ is below 50\"))"'
valid "... while the other agent is still allowed" --state "$ST" --audit "$AL" --scope kb:read "$tokC"
valid "verify --trust-min 0: trust recorded, not enforced" --state "$ST" --audit "$AL" --trust-min 0 --scope kb:read "$tokP"
expect_rc 2 "verify --trust-min without --state" V --trust-min 10 "$tokC"
expect_rc 2 "verify --trust-min 101" V --state "$ST" --trust-min 101 "$tokC"

# Recovery with quiet time, on a copy of the file (its clock moves on).
cp "$ST" state-copy
now=$(date +%s)
VC() { "$AIMCTL" verify --keys jwks.json --issuer $ISS --audience $AUD --state state-copy --scope kb:read "$@"; }
run VC --now $((now + 60)) "$tokP"
assert "recovery: a quiet minute later, still low_trust" eval '[ $RC -eq 1 ] && jqt ".reason == \"low_trust\""'
run VC --now $((now + 800)) "$tokP"
assert "recovery: after a quiet 13 minutes (docs/trust.md), allowed again" eval '[ $RC -eq 0 ] && jqt .valid'

# The operator's reset.
expect_rc 2 "trust without an action" "$AIMCTL" trust
expect_rc 2 "trust with an unknown action" "$AIMCTL" trust forgive agent-probe --state "$ST"
expect_rc 2 "trust reset without an agent" "$AIMCTL" trust reset --state "$ST"
expect_rc 2 "trust reset without --state" "$AIMCTL" trust reset agent-probe
expect_rc 2 "trust reset with two agents" "$AIMCTL" trust reset a b --state "$ST"
expect_rc 2 "trust reset: a missing state file" "$AIMCTL" trust reset agent-probe --state nosuch-state
assert "trust reset did not create the missing file" [ ! -e nosuch-state ]
run "$AIMCTL" trust reset agent-nobody --state "$ST"
assert "trust reset of an agent not in the table: exit 1, says so" \
    eval '[ $RC -eq 1 ] && grep -q "agent-nobody.*is not in" <<<"$ERR"'
run "$AIMCTL" trust reset agent-probe --state "$ST"
assert "trust reset: exit 0" eval '[ $RC -eq 0 ] && grep -q "agent-probe" <<<"$OUT"'
run "$AIMCTL" stats --state "$ST" --json
assert "after the reset: trust 100, learning again, history forgotten" \
    jrow agent-probe '.trust == 100 and .learning and .events == 0 and .denied == 0 and .last_signal == null'
assert "the reset touched no other agent" jrow agent-calm ".events == $(jcount '.agent == "agent-calm"')"
valid "after the reset the agent is allowed again" --state "$ST" --audit "$AL" --scope kb:read "$tokP"

# stats is read-only; neither stats nor trust reset ever rebuilds a damaged
# file (aim_state_open would: every baseline and distrust lost).  Damage a
# copy as a crash, a bad disk or another version would, then check the
# exit status, that the message names the check that failed, and that
# the file is byte for byte what it was.
cp "$ST" good.state
sum=$(sha256sum <good.state)
run "$AIMCTL" stats --state good.state
assert "stats on a good file: exit 0, lists the agents" eval '[ $RC -eq 0 ] && grep -q "^agent-probe " <<<"$OUT"'
assert "stats writes nothing (the file's bytes are unchanged)" [ "$(sha256sum <good.state)" = "$sum" ]
# Read access is enough: a 0444 file (as nobody when we are root, in a
# directory nobody can reach even when $T is under a 0700 home).
RO=$(mktemp -d /tmp/aimctl-ro.XXXXXX)
chmod 755 "$RO"
cp good.state "$AIMCTL" "$RO/"
chmod 444 "$RO/good.state"
as=()
[ "$(id -u)" -eq 0 ] && as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
run "${as[@]}" "$RO/aimctl" stats --state "$RO/good.state" --json
assert "stats needs only read access (file 0444, not its owner)" eval '[ $RC -eq 0 ] && jrow agent-calm ".events > 0"'
run "${as[@]}" "$RO/aimctl" trust reset agent-calm --state "$RO/good.state"
assert "... while trust reset needs write access: exit 2, says so" \
    eval '[ $RC -eq 2 ] && grep -q "Permission denied" <<<"$ERR"'
rm -rf "$RO"
# damage NAME WHY COMMAND...: make NAME from good.state with COMMAND, then
# stats (text and --json) and trust reset refuse it, saying WHY, untouched.
damage() {
    local name=$1 why=$2 sum; shift 2
    cp good.state "$name"
    "$@" "$name"
    sum=$(sha256sum <"$name")
    run "$AIMCTL" stats --state "$name"
    assert "stats refuses a $name file: exit 2, says \"$why\"" \
        eval '[ $RC -eq 2 ] && grep -q "$why" <<<"$ERR" && grep -q "never creates or rebuilds" <<<"$ERR" && [ -z "$OUT" ]'
    run "$AIMCTL" stats --state "$name" --json
    assert "stats --json refuses a $name file: exit 2, no output" eval '[ $RC -eq 2 ] && [ -z "$OUT" ]'
    run "$AIMCTL" trust reset agent-probe --state "$name"
    assert "trust reset refuses a $name file: exit 2, says \"$why\"" \
        eval '[ $RC -eq 2 ] && grep -q "$why" <<<"$ERR"'
    assert "the $name file is byte for byte what it was" [ "$(sha256sum <"$name")" = "$sum" ]
}
poke() { printf "$2" | dd of="$3" bs=1 seek="$1" conv=notrunc status=none; }
damage bad-checksum "bad header checksum" poke 32 '\x55'
damage truncated "is truncated: 100000 bytes" truncate -s 100000
damage version-2 "state format version 2; this build reads version 1" poke 8 '\x02'
damage extended "too long" truncate -s +4096
damage foreign "not an AIM state file" poke 0 'PK\x03\x04'
damage empty "is empty" truncate -s 0

# Hostile agent ids: the core refuses C0 and C1 controls (U+009B is CSI)
# and bidirectional overrides (U+202E) in "sub", so no token brings one
# into the state or audit file.
EVIL=$'evil\xc2\x9b31m\xe2\x80\xaeagent'
tokE=$(issue --key ES256.pem --sub agent-e --claim sub='"evil\u009b31m\u202eagent"')
reject bad_claim "an agent id with C1 and bidirectional controls" --state "$ST" "$tokE"
assert "... the refusal names the claim and the character" jqt '.message | test("sub.*U\\+009B")'
# aimctl shows what a file holds safely all the same (a file written by
# an older core, or by hand): the agent put there directly, as a slot of
# the state file and a line of the audit file.
python3 - "$ST" "$EVIL" <<'PY'
import hashlib, struct, sys, time
path, agent = sys.argv[1], sys.argv[2].encode("utf-8", "surrogateescape")
key = struct.unpack("<Q", hashlib.sha256(agent).digest()[:8])[0] or 1
now = int(time.time())
with open(path, "r+b") as f:
    for i in range(32):
        off = 4096 + ((key + i) % 4096) * 1024
        f.seek(off)
        if struct.unpack("<Q", f.read(8))[0] == 0:
            break
    f.seek(off)
    f.write(struct.pack("<QII", key, 0, 0) + agent.ljust(208, b"\0"))
    f.write(struct.pack("<5d3q3Q", 100.0, 0, 0, 0, 0, now, now, now, 1, 0, 0))
PY
jq -c --arg a "$EVIL" 'select(.agent == "agent-calm") | .agent = $a | .sub = $a | .trust = 100' "$AL" | head -1 >>"$AL"
run "$AIMCTL" stats --state "$ST"
assert "stats: C1 and bidirectional controls in an agent id are shown escaped" \
    eval '[ $RC -eq 0 ] && ! LC_ALL=C grep -q $'"'"'\xc2\x9b\|\xe2\x80\xae'"'"' <<<"$OUT" && grep -qF "evil\\xc2\\x9b31m\\xe2\\x80\\xaeagent" <<<"$OUT"'
run "$AIMCTL" stats --state "$ST" --json
assert "stats --json: the same id, exact" jrow "$EVIL" '.events == 1'

# ---------------------------------------------------------------- audit
# jq over the raw lines is the independent count; python's minidom checks
# that the SVG charts are well-formed XML.
xml_ok() { python3 -c 'import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])' "$1" 2>/dev/null; }
nlines=$(wc -l <"$AL")
run "$AIMCTL" audit "$AL" --json
assert "audit --json: one object per agent, then the summary" \
    eval '[ $RC -eq 0 ] && printf "%s\n" "$OUT" | jq -e -s "(length == 4) and (.[-1].summary.lines == $nlines) and (.[-1].summary.decisions == $nlines) and (.[-1].summary.skipped == 0) and (.[-1].summary.agents == 3)" >/dev/null'
assert "audit: agent-probe's decisions, allowed, denied = jq's count" \
    jrow agent-probe ".decisions == $(jcount '.agent == "agent-probe"') and .allowed == $(jcount '.agent == "agent-probe" and .decision == "allow"') and .denied == $(jcount '.agent == "agent-probe" and .decision == "deny"')"
assert "audit: denied by reason (50 insufficient_scope, 1 low_trust)" \
    jrow agent-probe '.denied_by_reason == {"insufficient_scope": 50, "low_trust": 1}'
assert "audit: adapters, first/last, min trust, signals" \
    jrow agent-probe "(.adapters == [\"aimctl\"]) and (.first | test(\"Z\$\")) and (.first <= .last) and .min_trust == $(jq -s 'map(select(.agent == "agent-probe") | .trust) | min' "$AL") and .signals.probing > 0"
assert "audit: the calm agent was never denied" jrow agent-calm '.denied == 0 and .denied_by_reason == {} and .min_trust == 100'
run "$AIMCTL" audit "$AL"
assert "audit: a readable summary per agent" \
    eval '[ $RC -eq 0 ] && head -1 <<<"$OUT" | grep -q "$nlines lines, $nlines decisions, 0 skipped" && grep -q "^agent-probe$" <<<"$OUT" && grep -q "^  denied *insufficient_scope 50, low_trust 1$" <<<"$OUT" && grep -q "^  adapters *aimctl$" <<<"$OUT" && grep -q "^  min trust " <<<"$OUT"'
assert "audit: control characters escaped in the text summary" \
    eval '! LC_ALL=C grep -q $'"'"'\xc2\x9b'"'"' <<<"$OUT" && grep -qF "evil\\xc2\\x9b31m" <<<"$OUT"'
printf '%s\n' '{"ts":"2026-01-01T00:00:00Z","decision":"deny","reason":"x\u001b[2J","agent":"a\u001b]0;pwned\u0007","trust":3}' >esc.log
run "$AIMCTL" audit esc.log
assert "audit: C0 controls from a forged line escaped too" \
    eval '[ $RC -eq 0 ] && ! grep -q $'"'"'[\x1b\x07]'"'"' <<<"$OUT" && grep -qF "a\\x1b]0;pwned\\x07" <<<"$OUT" && grep -qF "x\\x1b[2J 1" <<<"$OUT"'
run "$AIMCTL" audit esc.log --agent $'a\e]0;pwned\a' --svg esc.svg
assert "audit --svg: C0 controls replaced (XML 1.0 cannot carry them)" \
    eval '[ $RC -eq 0 ] && xml_ok esc.svg && ! grep -q $'"'"'[\x1b\x07]'"'"' esc.svg'


# Lines as the adapters log them: prefixes, nginx's suffix, junk.
{
    sed 's/^/Nov 28 12:00:00 host sshd[42]: aim audit: /' "$AL"
    echo "a line without any JSON"
    echo "prefix {not json at all"
    echo '{"not":"an audit line"}'
    head -2 "$AL" | sed 's/^/2026-11-28 12:00:00 UTC [77] LOG:  AUDIT: AIM,/'
    head -1 "$AL" | sed 's/^/2026\/11\/28 12:00:00 [info] 1#1: *3 aim audit: /; s/$/, client: 127.0.0.1, server: api, request: "GET \/ HTTP\/1.1"/'
} >mixed.log
run "$AIMCTL" audit mixed.log --json
assert "audit: prefixed lines counted, lines without an audit object skipped" \
    eval '[ $RC -eq 0 ] && printf "%s\n" "$OUT" | jq -e -s ".[-1].summary == {\"lines\": $((nlines + 6)), \"decisions\": $((nlines + 3)), \"skipped\": 3, \"agents\": 3}" >/dev/null'
run bash -c "'$AIMCTL' audit - --json <mixed.log"
assert "audit - reads standard input" eval '[ $RC -eq 0 ] && printf "%s\n" "$OUT" | jq -e -s ".[-1].summary.skipped == 3" >/dev/null'
run "$AIMCTL" audit "$AL" --agent agent-calm --json
assert "audit --agent: that agent only" \
    eval '[ $RC -eq 0 ] && [ "$(wc -l <<<"$OUT")" -eq 2 ] && jrow agent-calm ".decisions == $(jcount '"'"'.agent == "agent-calm"'"'"')"'
run "$AIMCTL" audit "$AL" --agent agent-nobody
assert "audit --agent with no decisions: exit 1, says so" eval '[ $RC -eq 1 ] && grep -q "no decisions of agent" <<<"$ERR"'
V --audit noagent.log "not-a-token" >/dev/null
run "$AIMCTL" audit noagent.log --json
assert "audit: decisions without an agent (bad tokens) are grouped" \
    eval '[ $RC -eq 0 ] && printf "%s\n" "$OUT" | jq -e -s ".[0].agent == null and .[0].denied_by_reason == {\"malformed\": 1}" >/dev/null'

# The trust timeline as SVG.
run "$AIMCTL" audit "$AL" --agent agent-probe --svg probe.svg
assert "audit --svg: exit 0, writes the chart" eval '[ $RC -eq 0 ] && [ -s probe.svg ]'
assert "audit --svg: well-formed XML (python3 minidom)" xml_ok probe.svg
assert "audit --svg: an SVG document titled with the agent id" \
    eval 'python3 -c "import xml.dom.minidom as m,sys; d=m.parse(sys.argv[1]).documentElement; assert d.tagName == \"svg\" and d.getAttribute(\"xmlns\") == \"http://www.w3.org/2000/svg\"" probe.svg && grep -q "<title>AIM trust timeline: agent-probe</title>" probe.svg'
npts=$(jcount '.agent == "agent-probe" and has("trust")')
assert "audit --svg: one point per decision ($npts), coloured by decision" \
    eval '[ "$(grep -c "<circle cx=.*r=\"3\"" probe.svg)" -eq "$npts" ] && grep -q "fill=\"#2e7d32\"><title>" probe.svg && grep -q "fill=\"#c62828\"><title>.* deny insufficient_scope" probe.svg && grep -q "fill=\"#ef6c00\"><title>.* deny low_trust" probe.svg'
assert "audit --svg: the trust_min line at 50, dashed; axes labelled" \
    eval 'grep -q "stroke-dasharray" probe.svg && grep -q ">trust_min 50<" probe.svg && grep -q ">trust (0-100)<" probe.svg && grep -q ">time (UTC)<" probe.svg'
run "$AIMCTL" audit "$AL" --agent agent-probe --svg probe70.svg --trust-min 70
assert "audit --svg --trust-min 70" eval '[ $RC -eq 0 ] && grep -q ">trust_min 70<" probe70.svg'
# An agent id full of markup, and control characters.
# ('>' cannot be in an agent id: the core keeps it for delegation chains.)
tokM=$(issue --key ES256.pem --sub 'agent</title<script&"x'"'" --ttl 600)
VS --scope kb:read "$tokM" >/dev/null
run "$AIMCTL" audit "$AL" --agent 'agent</title<script&"x'"'" --svg markup.svg
assert "audit --svg: markup in the agent id is escaped (well-formed, no <script)" \
    eval '[ $RC -eq 0 ] && xml_ok markup.svg && ! grep -q "<script" markup.svg && grep -qF "agent&lt;/title&lt;script&amp;&quot;x&apos;" markup.svg'
run "$AIMCTL" audit "$AL" --agent "$EVIL" --svg ctl.svg
assert "audit --svg: C1 controls replaced" \
    eval '[ $RC -eq 0 ] && xml_ok ctl.svg && ! LC_ALL=C grep -q $'"'"'\xc2\x9b'"'"' ctl.svg'
V --audit plain.log --scope kb:read "$tokC" >/dev/null
run "$AIMCTL" audit plain.log --agent agent-calm --svg none.svg
assert "audit --svg without trust values (no state file): exit 1, says why, no file" \
    eval '[ $RC -eq 1 ] && grep -q "state file" <<<"$ERR" && [ ! -e none.svg ]'
expect_rc 2 "audit --svg without --agent" "$AIMCTL" audit "$AL" --svg x.svg
expect_rc 2 "audit: no file" "$AIMCTL" audit
expect_rc 2 "audit: two files" "$AIMCTL" audit "$AL" "$AL"
expect_rc 2 "audit: a missing file" "$AIMCTL" audit nosuch.log
assert "no temporary files left behind" eval '! ls ./*.svg.* >/dev/null 2>&1'

# ---------------------------------------------------------------- status lists
U=https://issuer.test/status/1
SL() { "$AIMCTL" statuslist --key ES256.pem "$@"; }
VL() { V --status-list "$U $T/$1" "${@:2}"; }
# lst decoded by python's zlib, independently of aimctl: "idx=status ..."
pylist() {
    python3 -c '
import sys, json, base64, zlib
p = open(sys.argv[1]).read().strip().split(".")[1]
c = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
b = c["status_list"]["bits"]
d = zlib.decompress(base64.urlsafe_b64decode(c["status_list"]["lst"] + "=" * (-len(c["status_list"]["lst"]) % 4)))
out = []
for i in range(len(d) * 8 // b):
    v = (d[i * b // 8] >> (i * b % 8)) & ((1 << b) - 1)
    if v: out.append("%d=%d" % (i, v))
print(b, len(d), " ".join(out))' "$1"
}

run SL --uri $U --out sl.jwt --bits 2 --set 3=1 --set 5=suspended --set 7,9-11=3
assert "statuslist: exit 0, JSON summary" \
    eval '[ $RC -eq 0 ] && jqt ".uri == \"$U\" and .bits == 2 and .size == 131072 and .nonzero == 6 and .exp - .iat == 86400 and .kid == \"$es256_kid\""'
assert "statuslist: file mode 0644 (a public file)" [ "$(stat -c %a sl.jwt)" = 644 ]
run "$AIMCTL" inspect "$(cat sl.jwt)"
assert "statuslist: header typ statuslist+jwt, alg and kid of the key" \
    jqt ".header == {\"alg\": \"ES256\", \"typ\": \"statuslist+jwt\", \"kid\": \"$es256_kid\"}"
assert "statuslist: claims sub, iat (now), exp, status_list {bits, lst}" \
    jqt ".claims.sub == \"$U\" and ((.claims.iat - $(date +%s)) | fabs < 10) and .claims.exp == .claims.iat + 86400 and .claims.status_list.bits == 2 and (.claims.status_list.lst | type) == \"string\" and (.claims | has(\"ttl\") | not)"
assert "statuslist: bit layout checked by python's zlib (draft: LSB first)" \
    [ "$(pylist sl.jwt)" = "2 32768 3=1 5=2 7=3 9=3 10=3 11=3" ]
# The draft's own examples (Appendix C / section 4.1).
SL --uri $U --out draft1.jwt --size 16 --set 0,3-5,7-9,13,15=1 >/dev/null
assert "statuslist: the draft's 1-bit example gives lst eNrbuRgAAhcBXQ" \
    [ "$("$AIMCTL" inspect "$(cat draft1.jwt)" | jq -r .claims.status_list.lst)" = eNrbuRgAAhcBXQ ]
SL --uri $U --out draft2.jwt --bits 2 --size 12 --set 0,5,7,8=1 --set 1,9=2 --set 3,10,11=3 >/dev/null
assert "statuslist: the draft's 2-bit example gives lst eNo76fITAAPfAgc" \
    [ "$("$AIMCTL" inspect "$(cat draft2.jwt)" | jq -r .claims.status_list.lst)" = eNo76fITAAPfAgc ]
for b in 1 4 8; do
    SL --uri $U --out b$b.jwt --bits $b --size 40 --set 0=1 --set 13=1 --set 39=1 >/dev/null
    assert "statuslist --bits $b: layout checked by python" [ "$(pylist b$b.jwt)" = "$b $(( (40 * b + 7) / 8 )) 0=1 13=1 39=1" ]
done

st() { issue --key ES256.pem --sub agent-s --status-idx "$1" --status-uri "${2:-$U}"; }
run "$AIMCTL" inspect "$(st 42)"
assert "issue --status-idx/--status-uri: the status claim" \
    jqt ".claims.status == {\"status_list\": {\"idx\": 42, \"uri\": \"$U\"}}"
valid "status list: index 0 (status 0) is valid" --status-list "$U $T/sl.jwt" "$(st 0)"
reject revoked "status list: status 1 (invalid)" --status-list "$U $T/sl.jwt" "$(st 3)"
assert "... says invalid" jqt '.message | test("invalid")'
reject revoked "status list: status 2 (suspended)" --status-list "$U $T/sl.jwt" "$(st 5)"
reject revoked "status list: status 3" --status-list "$U $T/sl.jwt" "$(st 10)"
reject revoked "status list: an index outside the list" --status-list "$U $T/sl.jwt" "$(st 131072)"
reject revoked "status list: a token pointing to a list not configured here" "$(st 0)"
reject revoked "status list: another URI than the one configured" --status-list "$U $T/sl.jwt" "$(st 0 https://issuer.test/status/2)"
valid "status list: tokens without a status are unaffected" --status-list "$U $T/sl.jwt" "$tokC"

# Update: --from keeps the statuses, bits and URI.
cp sl.jwt sl-before.jwt
run SL --from sl.jwt --out sl.jwt --set 3=valid --set 4=revoked
assert "statuslist --from: exit 0, URI and bits kept" \
    eval '[ $RC -eq 0 ] && jqt ".uri == \"$U\" and .bits == 2 and .size == 131072 and .nonzero == 6"'
assert "statuslist --from: old statuses kept, new ones set (python)" \
    [ "$(pylist sl.jwt)" = "2 32768 4=1 5=2 7=3 9=3 10=3 11=3" ]
valid "after the update: index 3 is valid again" --status-list "$U $T/sl.jwt" "$(st 3)"
reject revoked "after the update: index 4 is revoked" --status-list "$U $T/sl.jwt" "$(st 4)"
assert "statuslist --from: no temporary file left" eval '! ls sl.jwt.* >/dev/null 2>&1'
run SL --from sl.jwt --out grown.jwt --size 200000
assert "statuslist --from --size: grows, keeps statuses" \
    eval '[ $RC -eq 0 ] && jqt ".size == 200000" && [ "$(pylist grown.jwt)" = "2 50000 4=1 5=2 7=3 9=3 10=3 11=3" ]'
expect_rc 2 "statuslist --from --size smaller: refused" SL --from sl.jwt --out x.jwt --size 100
expect_rc 2 "statuslist --from --bits 1 on a 2-bit list: refused" SL --from sl.jwt --out x.jwt --bits 1
expect_rc 2 "statuslist --from a file that is not a list" SL --from jwks.json --out x.jwt
expect_rc 2 "statuslist --from a missing file" SL --from nosuch.jwt --out x.jwt
run SL --from sl.jwt --uri https://issuer.test/status/9 --out renamed.jwt
assert "statuslist --from --uri: a new URI" eval '[ $RC -eq 0 ] && jqt ".uri == \"https://issuer.test/status/9\""'

# Show.
run "$AIMCTL" statuslist --show sl.jwt
assert "statuslist --show: marked unverified" \
    eval '[ $RC -eq 0 ] && jqt ".verified == false and (.warning | test(\"NOT VERIFIED\"))"'
assert "statuslist --show: header, claims, non-zero entries" \
    jqt ".header.typ == \"statuslist+jwt\" and .claims.sub == \"$U\" and .bits == 2 and .size == 131072 and .stale == false and .nonzero_count == 6 and .nonzero[0] == {\"idx\": 4, \"status\": 1, \"meaning\": \"invalid\"} and .nonzero[1] == {\"idx\": 5, \"status\": 2, \"meaning\": \"suspended\"} and ([.nonzero[].idx] == [4,5,7,9,10,11])"
expect_rc 1 "statuslist --show: not a list" "$AIMCTL" statuslist --show jwks.json
expect_rc 1 "statuslist --show: a missing file" "$AIMCTL" statuslist --show nosuch.jwt
expect_rc 2 "statuslist --show with other options" "$AIMCTL" statuslist --show sl.jwt --key ES256.pem

# Staleness, signature, subject.
run SL --uri $U --out stale.jwt --ttl 1 --refresh 60
assert "statuslist --ttl 1 --refresh 60: exp = iat + 1, ttl claim 60" \
    eval '[ $RC -eq 0 ] && jqt ".exp == .iat + 1" && [ "$("$AIMCTL" inspect "$(cat stale.jwt)" | jq -c "[.claims.ttl, .claims.exp - .claims.iat]")" = "[60,1]" ]'
valid "a fresh list (before its exp)" --status-list "$U $T/stale.jwt" "$(st 0)"
run V --status-list "$U $T/stale.jwt" --now $(( $(date +%s) + 120 )) "$(st 0)"
assert "a stale list (past exp): revoked, says stale" \
    eval '[ $RC -eq 1 ] && jqt ".reason == \"revoked\" and (.message | test(\"stale\"))"'
SL --uri $U --out old.jwt --iat $(( $(date +%s) - 7200 )) --ttl 3600 >/dev/null
run "$AIMCTL" statuslist --show old.jwt
assert "statuslist --show: a stale list is flagged" eval '[ $RC -eq 0 ] && jqt ".stale == true"'
run V --status-list "$U $T/old.jwt" "$(st 0)"
assert "a list that expired an hour ago: revoked, says stale" \
    eval '[ $RC -eq 1 ] && jqt ".reason == \"revoked\" and (.message | test(\"expired 3[0-9]{3} s ago .stale.\"))"'
"$AIMCTL" statuslist --key other.pem --uri $U --out foreign.jwt >/dev/null
run V --status-list "$U $T/foreign.jwt" "$(st 0)"
assert "a list signed by a key not in the JWKS: configuration error (exit 2)" \
    eval '[ $RC -eq 2 ] && jqt ".reason == \"config_error\""'
run V --status-list "https://issuer.test/status/2 $T/sl.jwt" "$(st 0)"
assert "a list whose sub is another URI: configuration error (exit 2)" [ "$RC" -eq 2 ]
sed 's/\.[A-Za-z0-9_-]\{8\}/.AAAAAAAA/' sl.jwt >tampered.jwt
run V --status-list "$U $T/tampered.jwt" "$(st 0)"
assert "a tampered list: configuration error (exit 2)" [ "$RC" -eq 2 ]
for a in ES384 EdDSA RS256 PS256; do
    "$AIMCTL" statuslist --key $a.pem --uri $U --out sl-$a.jwt --set 1=1 >/dev/null
    valid "statuslist signed with $a: index 0 valid" --status-list "$U $T/sl-$a.jwt" "$(st 0)"
done
expect_rc 2 "verify --status-list without a path" V --status-list "$U" "$(st 0)"

# Usage errors.
expect_rc 2 "statuslist without --key" "$AIMCTL" statuslist --uri $U --out x.jwt
expect_rc 2 "statuslist without --out" SL --uri $U
expect_rc 2 "statuslist without --uri" SL --out x.jwt
expect_rc 2 "statuslist --bits 3" SL --uri $U --out x.jwt --bits 3
expect_rc 2 "statuslist --size 0" SL --uri $U --out x.jwt --size 0
expect_rc 2 "statuslist --set outside the list" SL --uri $U --out x.jwt --size 10 --set 10=1
assert "... names the index and the size" grep -q "index 10 is outside the list (10 entries" <<<"$ERR"
expect_rc 2 "statuslist --set suspended (2) in a 1-bit list" SL --uri $U --out x.jwt --set 1=suspended
expect_rc 2 "statuslist --set 1=4 in a 2-bit list" SL --uri $U --out x.jwt --bits 2 --set 1=4
expect_rc 2 "statuslist --set without =" SL --uri $U --out x.jwt --set 5
expect_rc 2 "statuslist --set x=1" SL --uri $U --out x.jwt --set x=1
expect_rc 2 "statuslist --set 5-3=1" SL --uri $U --out x.jwt --set 5-3=1
expect_rc 2 "statuslist --set 5,=1" SL --uri $U --out x.jwt --set 5,=1
expect_rc 2 "statuslist --uri with a space" SL --uri "$U x" --out x.jwt
expect_rc 2 "statuslist with an extra argument" SL --uri $U --out x.jwt extra
expect_rc 2 "statuslist with a missing key" "$AIMCTL" statuslist --key nosuch.pem --uri $U --out x.jwt
assert "failed statuslists wrote nothing" eval '[ ! -e x.jwt ] && ! ls x.jwt.* >/dev/null 2>&1'
expect_rc 2 "issue --status-idx without --status-uri" issue --key ES256.pem --sub s --status-idx 1
expect_rc 2 "issue --status-uri without --status-idx" issue --key ES256.pem --sub s --status-uri $U
expect_rc 2 "issue --status-idx -1" issue --key ES256.pem --sub s --status-idx -1 --status-uri $U

# ---------------------------------------------------------------- revoke, unrevoke
# The file is edited as the verifiers read it (aimctl verify --revoked is
# the core's loader), replaced by rename (a new inode), never rewritten in
# place, and never into something the core would refuse.
RF=$T/revoked
R()  { "$AIMCTL" revoke --file "$RF" "$@"; }
UR() { "$AIMCTL" unrevoke --file "$RF" "$@"; }
tokR=$(issue --key ES256.pem --sub owner-r --act agent-rv --jti jti-rv)
isrevoked() { run V --revoked "$RF" "$1"; [ "$RC" -eq 1 ] && jqt '.reason == "revoked"'; }
expect_rc 2 "revoke: a missing file without --create" R agent agent-rv
assert "... names the file and --create, creates nothing" \
    eval 'grep -q "no revocation file" <<<"$ERR" && grep -q -- "--create" <<<"$ERR" && [ ! -e "$RF" ]'
expect_rc 2 "unrevoke: a missing file" UR agent agent-rv
run R --create agent agent-rv
assert "revoke --create: exit 0, file mode 0644" \
    eval '[ $RC -eq 0 ] && grep -q "agent \"agent-rv\" revoked" <<<"$OUT" && [ "$(stat -c %a "$RF")" = 644 ] && [ "$(cat "$RF")" = "agent agent-rv" ]'
assert "revoke agent: the verifier refuses the token (revoked)" isrevoked "$tokR"
printf '# AIM revocations, kept by hand\n\n# retired keys\nkid old-1\nkid old-2\n' >"$RF"
cp "$RF" rev-before
ino=$(stat -c %i "$RF")
run R jti jti-rv
assert "revoke jti: exit 0, the verifier refuses the token" eval '[ $RC -eq 0 ] && isrevoked "$tokR"'
assert "revoke: the file replaced by rename (a new inode), never in place" [ "$(stat -c %i "$RF")" != "$ino" ]
assert "revoke: existing lines kept byte for byte, the entry appended" \
    eval '[ "$(head -c "$(stat -c %s rev-before)" "$RF")" = "$(cat rev-before)" ] && [ "$(tail -n +6 "$RF")" = "$(printf "\njti jti-rv")" ]'
sum=$(sha256sum <"$RF")
run R jti jti-rv
assert "revoke an entry already there: exit 0, says so, file untouched" \
    eval '[ $RC -eq 0 ] && grep -q "already revoked" <<<"$OUT" && [ "$(sha256sum <"$RF")" = "$sum" ]'
run R --comment "incident 4711, ticket SEC-12" kid "$es256_kid"
assert "revoke --comment: a '# TEXT' line right above the entry, in a paragraph of its own" \
    eval '[ $RC -eq 0 ] && [ "$(tail -3 "$RF")" = "$(printf "\n# incident 4711, ticket SEC-12\nkid %s" "$es256_kid")" ]'
assert "revoke kid: the verifier refuses the token" isrevoked "$tokR"
run UR kid "$es256_kid"
assert "unrevoke: exit 0, the entry and its comment paragraph gone, all else as before" \
    eval '[ $RC -eq 0 ] && grep -q "with its comment" <<<"$OUT" && [ "$(sha256sum <"$RF")" = "$sum" ]'
run UR jti jti-rv
valid "unrevoke jti: the token is accepted again" --revoked "$RF" "$tokR"
assert "unrevoke: back to the hand-kept file" [ "$(sha256sum <"$RF")" = "$(sha256sum <rev-before)" ]
run UR kid old-1
assert "unrevoke one entry of a paragraph: that line only; the section's comment stays" \
    eval '[ $RC -eq 0 ] && [ "$(cat "$RF")" = "$(printf "# AIM revocations, kept by hand\n\n# retired keys\nkid old-2")" ]'
sum=$(sha256sum <"$RF")
run UR kid old-1
assert "unrevoke an entry not there: exit 1, says so, file untouched" \
    eval '[ $RC -eq 1 ] && grep -q "is not revoked" <<<"$ERR" && [ "$(sha256sum <"$RF")" = "$sum" ]'
printf 'jti jti-rv\nagent x\n  jti   jti-rv  \n' >"$RF"
run UR jti jti-rv
assert "unrevoke: every line of the entry (written twice, spaced differently)" \
    eval '[ $RC -eq 0 ] && [ "$(cat "$RF")" = "agent x" ]'
valid "... so the token is accepted" --revoked "$RF" "$tokR"

# Owner and mode are kept.
chmod 640 "$RF"
if [ "$(id -u)" -eq 0 ]; then chown 65534:65534 "$RF"; fi
owner=$(stat -c %u:%g "$RF")
R agent agent-rv >/dev/null
assert "revoke keeps the file's mode (0640) and owner ($owner)" \
    eval '[ "$(stat -c %a "$RF")" = 640 ] && [ "$(stat -c %u:%g "$RF")" = "$owner" ]'
assert "no temporary file left, one lock file" eval '[ "$(ls "$RF".* | tr "\n" " ")" = "$RF.lock " ]'
# Back to root's: a list owned by another user is refused (strict_modes).
if [ "$(id -u)" -eq 0 ]; then chown 0:0 "$RF"; fi

# Refusals: nothing written.
printf 'agent a\nrevoke everything\n' >bad-rev
sum=$(sha256sum <bad-rev)
run "$AIMCTL" revoke --file bad-rev agent agent-rv
assert "revoke into a file the verifiers refuse: exit 2, names file and line, untouched" \
    eval '[ $RC -eq 2 ] && grep -q "bad-rev:2" <<<"$ERR" && [ "$(sha256sum <bad-rev)" = "$sum" ]'
ln -s "$RF" rev-link
sum=$(sha256sum <"$RF")
run "$AIMCTL" revoke --file rev-link agent other
assert "revoke through a symbolic link: exit 2, the link and its target untouched" \
    eval '[ $RC -eq 2 ] && grep -q "symbolic link" <<<"$ERR" && [ -L rev-link ] && [ "$(sha256sum <"$RF")" = "$sum" ]'
expect_rc 2 "revoke a directory" "$AIMCTL" revoke --file "$T" agent x
expect_rc 2 "revoke without --file" "$AIMCTL" revoke agent x
expect_rc 2 "revoke: not agent, jti or kid" R sub x
expect_rc 2 "revoke without an id" R agent
expect_rc 2 "revoke: two entries at once" R agent x jti y
run R agent "two words"
assert "revoke: an id with a space is refused by the core's parser, exit 2" \
    eval '[ $RC -eq 2 ] && grep -q "exactly one identifier" <<<"$ERR"'
run R jti "$(head -c 1025 /dev/zero | tr '\0' j)"
assert "revoke: an id over the core's 1024-byte limit, exit 2" \
    eval '[ $RC -eq 2 ] && grep -q "1024" <<<"$ERR"'
expect_rc 2 "revoke: an id with a newline" R agent $'a\nagent b'
expect_rc 2 "revoke --comment with a newline (would add a line)" R --comment $'x\nagent b' agent a
expect_rc 2 "unrevoke --comment" UR --comment x agent a
assert "refusals wrote nothing" [ "$(sha256sum <"$RF")" = "$sum" ]

# Concurrency.  A reader verifies a revoked token (aimctl verify
# --revoked loads the file as an adapter reloads it) again and again
# while a writer revokes and unrevokes other entries of a large file: the
# token must never get through, and the file must never fail to load.
# (A loop that rewrote the file in place let it through 60% of the time.)
{
    echo "# a large list: the longer a rewrite, the wider a torn window"
    for i in $(seq 4000); do echo "jti filler-$i"; done
    echo "jti jti-rv"
} >"$RF"
(
    for i in $(seq 60); do
        R jti "churn-$i" >/dev/null 2>&1 || echo "revoke churn-$i failed"
        R --comment "note $i" agent "agent-churn-$i" >/dev/null 2>&1 || echo "revoke agent-churn-$i failed"
        UR jti "churn-$i" >/dev/null 2>&1 || echo "unrevoke churn-$i failed"
    done >writer.log
    touch writer.done
) &
wpid=$!
reads=0 through=0 broken=0
while [ ! -e writer.done ] || [ "$reads" -lt 20 ]; do
    V --revoked "$RF" "$tokR" >/dev/null 2>&1
    case $? in 0) through=$((through + 1)) ;; 1) ;; *) broken=$((broken + 1)) ;; esac
    reads=$((reads + 1))
done
wait $wpid
assert "concurrent edits: the writer's 180 edits all succeeded" eval '[ ! -s writer.log ] && [ "$(grep -c "^agent agent-churn-" "$RF")" -eq 60 ] && ! grep -q "^jti churn-" "$RF"'
assert "concurrent edits: $reads verifications, the revoked token never let through ($through) and the file always loaded ($broken)" \
    eval '[ "$reads" -ge 20 ] && [ "$through" -eq 0 ] && [ "$broken" -eq 0 ]'
# Two writers at once: the lock makes each wait, so no edit is lost.
for w in a b; do
    ( for i in $(seq 40); do R jti "par-$w-$i" >/dev/null 2>&1 || echo "par-$w-$i failed"; done >par-$w.log ) &
done
wait
assert "two concurrent writers: none of their 80 revocations lost" \
    eval '[ ! -s par-a.log ] && [ ! -s par-b.log ] && [ "$(grep -c "^jti par-" "$RF")" -eq 80 ]'
isrevoked "$tokR"
assert "... and the file still loads, the token still revoked" [ "$RC" -eq 1 ]
assert "no temporary files left behind" eval '[ "$(ls "$RF".* | tr "\n" " ")" = "$RF.lock " ]'

# ---------------------------------------------------------------- options, --config
# The core's option table, as every adapter takes it.
run "$AIMCTL" options --json
assert "options: every core option, once, with its documentation" \
    eval '[ "$(printf "%s\n" "$OUT" | jq -r .name | sort | tr "\n" " ")" = "audience audit cache dpop_max_age issuer keys leeway max_lifetime policy reload_interval revoked ssf_audience ssf_issuer ssf_keys ssf_max_age ssf_publish_audience ssf_publish_issuer ssf_sign_key state status_list strict_modes trust_min types " ] && ! printf "%s\n" "$OUT" | jq -e "select(.doc == \"\" or .doc == null)" | grep -q .'
assert "options: numbers carry their bounds" \
    eval 'printf "%s\n" "$OUT" | jq -se "map(select(.name == \"trust_min\"))[0] | .min == 0 and .max == 100 and .default == \"50\"" >/dev/null'
# The host configuration file: a path with a space, a comment, a quoted value.
mkdir -p "conf dir"
cp jwks.json "conf dir/jwks.json"
cat >"conf dir/aim.conf" <<EOF
# the host's configuration
keys     "$T/conf dir/jwks.json"
issuer   $ISS
audience $AUD     # this service
leeway   5
EOF
tokC=$("$AIMCTL" issue --key ES256.pem --iss $ISS --sub agent-conf --aud $AUD --scope "kb:read" 2>/dev/null)
run "$AIMCTL" verify --config "$T/conf dir/aim.conf" --scope kb:read "$tokC"
assert "verify --config: keys, issuer, audience from the file (a path with a space)" \
    eval '[ "$RC" -eq 0 ] && jqt ".valid == true and .agent == \"agent-conf\""'
run "$AIMCTL" verify --config "$T/conf dir/aim.conf" --audience other-api "$tokC"
assert "verify --config: a command-line option wins over the file's" \
    eval '[ "$RC" -eq 1 ] && jqt ".reason == \"bad_audience\""'
printf 'leeway 5\ntrust_min high\n' >"conf dir/bad.conf"
run "$AIMCTL" verify --config "$T/conf dir/bad.conf" "$tokC"
assert "verify --config: a bad line is exit 2 naming file, line and option" \
    eval '[ "$RC" -eq 2 ] && grep -q "bad.conf:2: trust_min:" <<<"$ERR"'

# ---------------------------------------------------------------- secrecy
# No output of any command contains a line of any private key file.
grep -hv -e '^-----' -e '^aimctl-' ./*.pem 2>/dev/null | grep -v '^$' | sort -u >pem-lines
{
    for a in $ALGS; do
        "$AIMCTL" keygen --alg $a --out "secret-$a.pem" 2>&1
        "$AIMCTL" jwks "secret-$a.pem" 2>&1
        "$AIMCTL" thumbprint "secret-$a.pem" 2>&1
        "$AIMCTL" issue --key "secret-$a.pem" --iss i --sub s --aud a 2>&1
        "$AIMCTL" dpop --key "secret-$a.pem" --htm GET --htu https://x 2>&1
        "$AIMCTL" issue --key "secret-$a.pem" --alg HS256 --iss i --sub s --aud a 2>&1
        "$AIMCTL" statuslist --key "secret-$a.pem" --uri u --out "sl-secret-$a.jwt" 2>&1
        cat "sl-secret-$a.jwt"
    done
    "$AIMCTL" jwks jwks.json 2>&1
} >all-output
grep -hv -e '^-----' -e '^aimctl-' secret-*.pem | grep -v '^$' | sort -u >>pem-lines
assert "no private key material in any output" \
    eval '[ "$(wc -l <pem-lines)" -gt 100 ] && ! grep -qF -f pem-lines all-output'
assert "no PEM block in any output" eval '! grep -q "PRIVATE KEY" all-output'

finish
