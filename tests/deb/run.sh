#!/bin/bash
# tests/deb/run.sh -- the Debian packages, end to end (make test-deb).
#
# Builds them (make deb), runs lintian, installs the four packages on this
# machine with apt-get, uses each with the system's own host software --
# nginx loading the module through /etc/nginx/modules-enabled, a
# throwaway PostgreSQL 15 cluster (initdb) running CREATE EXTENSION pg_aim,
# a PAM login (pamtester under pam_wrapper) naming pam_aim.so by its bare
# name, aimctl from /usr/bin -- then removes and purges them and checks
# that nothing they installed or created is left.
#
# The system is left as it was found: files the packages would replace
# that no package owns (a source install, "make install" or the pg suite's
# "make -C pg_aim install") are saved first and put back after the purge;
# an exit at any point purges what this run installed.  Runs of this
# suite in other worktrees wait on a lock; nginx and PostgreSQL (the
# fixtures of tests/lib/aimtest.sh, run on the system's programs and the
# packages' modules) listen on free loopback ports (or AIM_DEB_NGINX_PORT,
# AIM_DEB_PG_PORT) and only processes started here are stopped.
# Needs root (dpkg).  KEEP=1 keeps the work directory.
# Last line: "deb: N passed, N failed, N skipped".
set -u
. "$(dirname "$0")/../lib/aimtest.sh"
at_suite deb
cd "$AT_ROOT"
ROOT=$AT_ROOT
OUT=$AT_BUILD/deb
PKGS=(aim-tools libpam-aim libnginx-mod-http-aim postgresql-15-aim)
# Debian's nginx, loading the packaged module as a user's does: through
# the snippet in modules-enabled, whose "modules/..." is relative to the
# prefix nginx was built with.
NGINX=/usr/sbin/nginx
NGX_LOAD="include /etc/nginx/modules-enabled/*.conf;"
NGX_PREFIX=
LOCK=/run/lock/aim-test-deb.lock
APT=(apt-get -q -y -o DPkg::Lock::Timeout=300 -o APT::Sandbox::User=root)
ISS=https://issuer.deb.test
AUD=deb-test

for tool in dpkg-buildpackage lintian "$NGINX" pamtester curl "$PG_CONFIG"; do
    if ! command -v "$tool" > /dev/null; then
        not_ok "$tool is installed (./deps.sh)"; finish
    fi
done
at_pam_wrapper || { not_ok "libpam-wrapper is installed (./deps.sh)"; finish; }
[ -x "$AIMCTL" ] || { not_ok "$AIMCTL is built (make)"; finish; }
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
EXTDIR=$("$PG_CONFIG" --sharedir)/extension
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)

at_port NPORT AIM_DEB_NGINX_PORT || bail "a port for nginx"
at_port PPORT AIM_DEB_PG_PORT || bail "a port for PostgreSQL"
at_rundir deb || bail "a run directory"
T=$AT_RUN
INSTALLED=0 SAVED=0

# ---------------------------------------------------------------- build

start=$(date +%s)
if make --no-print-directory -C "$ROOT" deb > "$T/make-deb.log" 2>&1; then
    ok "make deb ($(( $(date +%s) - start )) s)"
else
    not_ok "make deb" "$(tail -30 "$T/make-deb.log")"; finish
fi
VERSION=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -SVersion)
DEBS=()
for p in "${PKGS[@]}"; do
    f=$OUT/${p}_${VERSION}_$(dpkg --print-architecture).deb
    if [ -f "$f" ]; then DEBS+=("$f"); else not_ok "$f was built"; fi
done
[ "${#DEBS[@]}" -eq 4 ] && ok "four packages in build/deb/" || finish
check "debian/changelog's version is aimctl's" "aimctl $VERSION" "$("$AIMCTL" --version)"

# lintian on the .changes: every tag, info and pedantic included, fails
# the check; overrides (debian/*.lintian-overrides) say why.
lint=$(lintian --display-info --pedantic --fail-on error,warning,info,pedantic \
           "$OUT"/aim_"${VERSION}"_*.changes 2>&1)
rc=$?
lint=$(printf '%s\n' "$lint" | grep -v '^running with root privileges is not recommended!$')
if [ "$rc" -eq 0 ] && [ -z "$lint" ]; then ok "lintian: no tag"; else not_ok "lintian (exit $rc)" "$lint"; fi

field() { dpkg-deb -f "$OUT/${1}_${VERSION}_$(dpkg --print-architecture).deb" "$2"; }
files() { dpkg-deb -c "$OUT/${1}_${VERSION}_$(dpkg --print-architecture).deb" | awk '{ print $6 }' | sed 's,^\.,,'; }

# What the packages declare, against what this system's nginx and
# PostgreSQL provide.
ABI=$(dpkg-query -W -f='${Provides}' nginx | tr ',' '\n' | grep -o 'nginx-abi-[^ ]*')
has "libnginx-mod-http-aim depends on nginx's ABI ($ABI)" "$(field libnginx-mod-http-aim Depends)" "$ABI"
has "postgresql-15-aim depends on postgresql-15" "$(field postgresql-15-aim Depends)" "postgresql-15,"
has "libpam-aim depends on libpam0g (shlibs)" "$(field libpam-aim Depends)" "libpam0g"
has "aim-tools depends on libssl3 (shlibs)" "$(field aim-tools Depends)" "libssl3"
PAMDIR=$(dirname "$(dpkg -L libpam-modules | grep '/pam_unix\.so$' | head -1)")
has "pam_aim.so where libpam-modules puts pam_unix.so ($PAMDIR)" "$(files libpam-aim)" "$PAMDIR/pam_aim.so"
has "the module in nginx's modules directory" "$(files libnginx-mod-http-aim)" "/usr/lib/nginx/modules/ngx_http_aim_module.so"
has "its snippet in modules-available" "$(files libnginx-mod-http-aim)" "/usr/share/nginx/modules-available/mod-http-aim.conf"
has "pg_aim.so in pg_config --pkglibdir" "$(files postgresql-15-aim)" "$PKGLIBDIR/pg_aim.so"
has "pg_aim.control in sharedir/extension" "$(files postgresql-15-aim)" "$EXTDIR/pg_aim.control"
has "aimctl in /usr/bin" "$(files aim-tools)" "/usr/bin/aimctl"
has "aimctl(1)" "$(files aim-tools)" "/usr/share/man/man1/aimctl.1.gz"
has "pam_aim(8)" "$(files libpam-aim)" "/usr/share/man/man8/pam_aim.8.gz"

# ---------------------------------------------------------------- install

if [ "$(id -u)" -ne 0 ]; then
    skip "install, use and purge: needs root (dpkg)"; finish
fi
exec 9> "$LOCK"
if ! flock -w 600 9; then not_ok "the lock $LOCK (another test-deb run?)"; finish; fi

for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
    if [ -n "$st" ] && [ "$st" != not-installed ]; then
        skip "install, use and purge: $p is already on this system ($st); purge it to run them"
        finish
    fi
done

# Everything the packages ship or their scripts create, and which of
# those paths exist now.  Files that exist are unowned (a package owning
# one would make the install fail): dpkg replaces them silently and the
# purge removes them, so they are saved here and put back after it.
for p in "${PKGS[@]}"; do
    dpkg-deb -c "$OUT/${p}_${VERSION}_$(dpkg --print-architecture).deb"
done | awk '{ t = substr($1, 1, 1); p = $6; sub(/^\./, "", p); sub(/\/$/, "", p);
              if (p != "") print t, p }' | sort -u -k2 > "$T/entries"
awk '$1 != "d" { print $2 }' "$T/entries" > "$T/paths"
echo /etc/nginx/modules-enabled/50-mod-http-aim.conf >> "$T/paths"
echo /etc/nginx/modules-enabled/50-mod-http-aim.conf.removed >> "$T/paths"
awk '$1 == "d" { print $2 }' "$T/entries" >> "$T/paths"
: > "$T/existed"; : > "$T/save"
while read -r f; do
    if [ -e "$f" ] || [ -L "$f" ]; then
        echo "$f" >> "$T/existed"
        if ! grep -qxF -- "d $f" "$T/entries"; then echo "$f" >> "$T/save"; fi
    fi
done < "$T/paths"
if [ -s "$T/save" ]; then
    echo "# unowned files the packages replace, saved and put back after the purge:"
    sed 's/^/#   /' "$T/save"
    tar -c -P -f "$T/saved.tar" -T "$T/save" && SAVED=1
    (xargs -r -d '\n' sha256sum < "$T/save") > "$T/saved.sha256" 2>/dev/null
fi

# Names (and types) under every directory the packages or their scripts
# could touch; the same listing is expected after the purge and restore.
SNAP_DIRS=(/etc/nginx /etc/pam.d /etc/security /etc/postgresql /etc/aim /var/lib/aim
           /usr/lib/nginx /usr/share/nginx "$PAMDIR" "$PKGLIBDIR" "$EXTDIR" /usr/bin)
snapshot() {
    local d
    for d in "${SNAP_DIRS[@]}"; do
        if [ -e "$d" ]; then find "$d" -xdev -printf '%y %p\n'; fi
    done | sort -u
}
snapshot > "$T/snapshot.before"

# At exit, after the servers are stopped (they are registered later, so
# stopped first): purge what this run installed, put back what it saved.
undo_install() {
    if [ "$INSTALLED" -eq 1 ]; then
        "${APT[@]}" purge "${PKGS[@]}" > "$T/purge-cleanup.log" 2>&1
    fi
    if [ "$SAVED" -eq 1 ]; then tar -x -P -p -f "$T/saved.tar"; fi
}
at_defer undo_install

export DEBIAN_FRONTEND=noninteractive
INSTALLED=1
if "${APT[@]}" --no-install-recommends install "${DEBS[@]}" > "$T/install.log" 2>&1; then
    ok "apt-get install ./${PKGS[*]}"
else
    not_ok "apt-get install" "$(tail -20 "$T/install.log")"; finish
fi
for p in "${PKGS[@]}"; do
    check "$p is installed" "install ok installed" "$(dpkg-query -W -f='${Status}' "$p" 2>&1)"
done
for p in "${PKGS[@]}"; do dpkg -L "$p"; done | sort -u > "$T/dpkg-L"

ENABLED=/etc/nginx/modules-enabled/50-mod-http-aim.conf
check "postinst links the module into modules-enabled" \
    /usr/share/nginx/modules-available/mod-http-aim.conf "$(readlink "$ENABLED")"
check "the snippet loads the installed module" \
    "load_module modules/ngx_http_aim_module.so;" "$(cat "$ENABLED" 2>&1)"
check "dpkg -S: pam_aim.so belongs to libpam-aim" "libpam-aim" \
    "$(dpkg -S "$PAMDIR/pam_aim.so" 2>&1 | cut -d: -f1)"
check "aimctl on PATH is the packaged one" "/usr/bin/aimctl" "$(command -v aimctl)"
check "/usr/bin/aimctl --version" "aimctl $VERSION" "$(/usr/bin/aimctl --version 2>&1)"
if command -v man > /dev/null; then
    check "man -w aimctl" /usr/share/man/man1/aimctl.1.gz "$(man -w aimctl 2>&1)"
    check "man -w 8 pam_aim" /usr/share/man/man8/pam_aim.8.gz "$(man -w 8 pam_aim 2>&1)"
fi

# Keys and tokens with the packaged aimctl.
/usr/bin/aimctl keygen --alg ES256 --kid deb-test --out "$T/issuer.key" > /dev/null
/usr/bin/aimctl jwks "$T/issuer.key" > "$T/jwks.json"
/usr/bin/aimctl keygen --alg ES256 --kid deb-test --out "$T/rogue.key" > /dev/null
chmod 644 "$T/jwks.json"
issue() { /usr/bin/aimctl issue --key "$T/issuer.key" --iss "$ISS" --aud "$AUD" --ttl 600 "$@"; }
TOK=$(issue --sub spiffe://deb.test/agent/ok --scope "kb:read pam:login:nobody")
TOK_NOSCOPE=$(issue --sub spiffe://deb.test/agent/other --scope "kb:write")
TOK_ROGUE=$(/usr/bin/aimctl issue --key "$T/rogue.key" --iss "$ISS" --aud "$AUD" \
    --sub spiffe://deb.test/agent/ok --scope "kb:read pam:login:nobody")
[ -n "$TOK" ] && ok "aimctl keygen, jwks and issue" || not_ok "aimctl issue"

# ---------------------------------------------------------------- nginx

mkdir -p "$T/www/kb"
echo "the protected document" > "$T/www/kb/doc.txt"
NGX_CONNECTIONS=64
ngx_conf "$T/nginx" "worker_processes 1;" <<EOF
    access_log $T/nginx/access.log;

    aim_keys     $T/jwks.json;
    aim_issuer   $ISS;
    aim_audience $AUD;
    aim_audit    $T/nginx-audit.log;

    server {
        listen 127.0.0.1:$NPORT;
        root $T/www;
        location /kb/ {
            aim       on;
            aim_scope kb:read;
        }
    }
EOF
if out=$(ngx_test); then
    ok "nginx -t: the enabled module's directives are known"
else
    not_ok "nginx -t" "$out"
fi
if ngx_start "$NPORT"; then
    url=http://127.0.0.1:$NPORT/kb/doc.txt
    for _ in $(seq 50); do curl -s -o /dev/null "$url" && break; sleep 0.1; done
    check "no token: 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' "$url")"
    has "no token: a Bearer challenge" "$(curl -s -D - -o /dev/null "$url" | tr -d '\r')" "WWW-Authenticate: Bearer"
    check "token with kb:read: 200" 200 "$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $TOK" "$url")"
    check "token with kb:read: the document" "the protected document" "$(cat "$T/body")"
    check "token without kb:read: 403" 403 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK_NOSCOPE" "$url")"
    check "token of another key: 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK_ROGUE" "$url")"
    has "the module's audit line names the agent" "$(cat "$T/nginx-audit.log" 2>&1)" "spiffe://deb.test/agent/ok"
    ngx_stop
else
    not_ok "nginx starts with modules-enabled/*.conf" "$(cat "$T/nginx/start.err" "$T/nginx/error.log" 2> /dev/null)"
fi

# ---------------------------------------------------------------- PostgreSQL

# The system's PostgreSQL, with the package's pg_aim.
pg_system
if pg_init "$T/pg" "$PPORT"; then
    pg_conf <<EOF
shared_preload_libraries = 'pg_aim'
pg_aim.keys = '$ISS $T/jwks.json'
pg_aim.issuer = '$ISS'
pg_aim.audience = '$AUD'
EOF
    if pg_start; then
        ok "postgres starts with the packaged pg_aim preloaded"
        psql() { "${PG_PSQL[@]}" -v ON_ERROR_STOP=1 -U postgres -d postgres "$@"; }
        check "CREATE EXTENSION pg_aim" \
            "$(sed -n "s/^default_version = '\(.*\)'$/\1/p" pg_aim/pg_aim.control)" \
            "$(psql -c 'CREATE EXTENSION pg_aim' -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_aim'" 2>&1)"
        check "aim.session_init(token) binds the agent" "spiffe://deb.test/agent/ok" \
            "$(psql -v tok="$TOK" <<< "SELECT aim.session_init(:'tok');" 2>&1)"
        out=$(psql -v tok="$TOK_ROGUE" <<< "SELECT aim.session_init(:'tok');" 2>&1)
        has "aim.session_init refuses a token of another key" "$out" "ERROR:  AIM token refused:"
        PG_SO=$(psql -c "SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'" 2>&1)
        check "the server's pkglibdir holds the packaged module" "postgresql-15-aim" \
            "$(dpkg -S "$PG_SO/pg_aim.so" 2>&1 | cut -d: -f1)"
        pg_stop
    else
        not_ok "postgres starts with pg_aim" "$(cat "$T/pg/pg_ctl.out" "$T/pg/server.log" 2>/dev/null | tail -20)"
    fi
else
    not_ok "initdb" "$(tail -20 "$T/pg/initdb.log")"
fi

# ---------------------------------------------------------------- PAM

mkdir -p "$T/services"
PAMARGS="keys=$T/jwks.json issuer=$ISS audience=$AUD token_env=AIM_TOKEN audit=$T/pam-audit.log"
printf '%s\n' "auth     required pam_aim.so $PAMARGS" \
              "account  required pam_aim.so $PAMARGS" > "$T/services/aim-deb"
pam_env "$T/services"
pamw() {   # TOKEN, then pamtester's arguments
    local tok=$1; shift
    env "${PAM_ENV[@]}" AIM_TOKEN="$tok" pamtester -v aim-deb "$@" < /dev/null 2>&1
}
out=$(pamw "$TOK" nobody authenticate acct_mgmt)
has "pamtester: the installed pam_aim.so logs an agent in" "$out" "successfully authenticated"
out=$(pamw "$TOK_NOSCOPE" nobody authenticate)
# auth refuses every token it does not accept with PAM_AUTH_ERR (docs/pam_aim.md).
has "pamtester: no pam:login:nobody scope, no login" "$out" "Authentication failure"
out=$(pamw "$TOK_ROGUE" nobody authenticate)
has "pamtester: a token of another key, no login" "$out" "Authentication failure"
has "pam_aim's audit line names the agent" "$(cat "$T/pam-audit.log" 2>&1)" "spiffe://deb.test/agent/ok"

# ---------------------------------------------------------------- remove, purge

if "${APT[@]}" remove libnginx-mod-http-aim > "$T/remove.log" 2>&1; then
    check "remove: the module is disabled (link renamed .removed)" \
        "absent /usr/share/nginx/modules-available/mod-http-aim.conf" \
        "$([ -e "$ENABLED" ] || [ -L "$ENABLED" ] && echo present || echo absent) $(readlink "$ENABLED.removed")"
    check "remove: the package keeps its configuration state" "deinstall ok config-files" \
        "$(dpkg-query -W -f='${Status}' libnginx-mod-http-aim)"
else
    not_ok "apt-get remove libnginx-mod-http-aim" "$(tail -20 "$T/remove.log")"
fi
if "${APT[@]}" purge "${PKGS[@]}" > "$T/purge.log" 2>&1; then
    ok "apt-get purge ${PKGS[*]}"
    INSTALLED=0
else
    not_ok "apt-get purge" "$(tail -20 "$T/purge.log")"
fi
for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
    check "$p is gone from dpkg's database" "" "$(echo "$st" | grep -v '^not-installed$')"
    left=$(ls /var/lib/dpkg/info/"$p".* /var/lib/dpkg/info/"$p":*.* 2>/dev/null)
    check "no /var/lib/dpkg/info/$p.* left" "" "$left"
done
if [ "$SAVED" -eq 1 ]; then
    tar -x -P -p -f "$T/saved.tar"
    SAVED=0
    if sha256sum --quiet -c "$T/saved.sha256" > "$T/restore.log" 2>&1; then
        ok "the unowned files found before are back ($(wc -l < "$T/save"))"
    else
        not_ok "the unowned files found before are back" "$(cat "$T/restore.log")"
    fi
fi

# Every path the packages shipped or dpkg listed: there after the purge
# (and the restore) exactly when it was there before the install.
left="" gone=""
while read -r f; do
    if [ -e "$f" ] || [ -L "$f" ]; then
        grep -qxF -- "$f" "$T/existed" || left="$left $f"
    else
        grep -qxF -- "$f" "$T/existed" && gone="$gone $f"
    fi
done < <(sort -u "$T/paths" "$T/dpkg-L" | grep -vx '/\.')
check "nothing the packages installed or created is left" "" "${left# }"
check "nothing that was there before is gone" "" "${gone# }"
check "no modules-enabled link, active or .removed" "" \
    "$(ls -d /etc/nginx/modules-enabled/*aim* 2>/dev/null)"
snapshot > "$T/snapshot.after"
check "the same names as before in ${SNAP_DIRS[*]}" "" \
    "$(diff "$T/snapshot.before" "$T/snapshot.after" | grep '^[<>]')"

finish
