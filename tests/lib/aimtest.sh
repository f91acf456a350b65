# tests/lib/aimtest.sh -- the shell library of AIM's tests, benchmarks and demo.
#
# Sourced (bash) by every script under tests/ and bench/ that drives the
# adapters in their real hosts:
#
#     . "$(dirname "$0")/../lib/aimtest.sh"
#
# What it gives, in the spirit of Perl's Test::Nginx and PostgreSQL's
# PostgreSQL::Test::Cluster -- fixtures, not set-up copied into each script:
#
#   results   at_suite NAME; ok, not_ok, skip, check, has, hasnt, check_re,
#             check_not_re, in_file, not_in_file, assert, run, expect_rc;
#             finish prints "NAME: N passed, N failed, N skipped" and exits.
#             A script that ends without finish (a crash, set -e, a typo)
#             still prints the line, with one more failure.
#   exits     at_defer CMD: cleanups run at exit, last registered first.
#   run dir   at_rundir NAME: a fresh directory under /tmp (AIM_RUNBASE)
#             that nginx workers, postgres and sshd can reach even when
#             the checkout lives under a 0700 home; removed at exit
#             (KEEP=1 keeps it).  at_stage FILE copies a build product
#             there (pam_aim.so, which postgres itself loads).
#   ports     at_port VAR [ENV]: a free loopback port, reserved against
#             other AIM runs on this machine (other checkouts), or the
#             one ENV names.  at_wait_port PORT [SECONDS] [PID].
#   nginx     ngx_conf DIR [MAIN-LINE...] < http-body; ngx_test; ngx_start
#             PORT [WRAPPER...]; ngx_pid; ngx_stop; ngx_version.
#   postgres  pg_private DIR or pg_system; pg_init DIR PORT; pg_conf, pg_hba;
#             pg_start [VAR=VALUE...]; pg_stop; pg_as CMD; pg_give FILE;
#             pg_pam_service DIR KEYS; PG_PSQL (an array).
#   PgBouncer pgb_start DIR PORT DB USER... < extra lines; pgb_stop.
#   PAM       at_pam_wrapper: PAM_WRAPPER_LIB, PAM_WRAPPER_MODS; pam_env
#             DIR fills PAM_ENV (an array for env) to read services there.
#   sshd      sshd_start DIR PORT SERVICES [PRELOAD] < extra sshd_config
#             lines; sshd_stop.
#   keys      mint_key FILE [keygen args]; mint_jwks OUT KEY...;
#             issue [aimctl issue args] with ISSUER_KEY, ISS, AUD and
#             ISSUE_ARGS (an array of defaults).
#   shared    at_shared FILE...: state file and journal, root:postgres
#             0660; AT_NGX_USER puts nginx's workers in that group.
#   checks    at_need_files FILE...; at_need_cmds CMD...: a missing piece
#             fails the suite (never a skip) and says how to get it.
#
# Every helper is safe under set -u; none calls exit except finish,
# bail and at_die.

# ------------------------------------------------------------------ paths

AT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
AT_BUILD=${AIM_BUILD:-$AT_ROOT/build}
AIMCTL=${AIMCTL:-$AT_BUILD/bin/aimctl}
NGINX=${NGINX:-/usr/sbin/nginx}
# nginx reads an NGINX in its environment as the listening sockets of a
# binary upgrade (and then does not daemonize): make test-nginx-versions
# passes the binary in that variable, and it must go no further.
export -n NGINX
NGX_MODULE=${NGX_MODULE:-$AT_BUILD/ngx_http_aim_module.so}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
SSHD=${SSHD:-/usr/sbin/sshd}
AT_IS_ROOT=
[ "$(id -u)" -eq 0 ] && AT_IS_ROOT=1

# ---------------------------------------------------------------- results

AT_SUITE=
AT_PASS=0 AT_FAIL=0 AT_SKIP=0
AT_FINISHED=

# at_suite NAME: the name of the summary line; counting starts here.
at_suite() { AT_SUITE=$1; AT_PASS=0 AT_FAIL=0 AT_SKIP=0; }

ok() { AT_PASS=$((AT_PASS + 1)); echo "ok   - $1"; }

# not_ok NAME [DETAIL...]: each detail line is printed indented.
not_ok() {
    local d
    AT_FAIL=$((AT_FAIL + 1))
    echo "FAIL - $1"
    shift
    for d in "$@"; do
        [ -n "$d" ] && printf '%s\n' "$d" | sed 's/^/       /'
    done
    return 0
}

# at_count pass|fail: counts a check the script reports in its own way.
at_count() {
    case $1 in pass) AT_PASS=$((AT_PASS + 1)) ;; *) AT_FAIL=$((AT_FAIL + 1)) ;; esac
}

# skip NAME: counted and shown; for what the caller chose to leave out
# (PAM_VALGRIND=0), never for what is missing.
skip() { AT_SKIP=$((AT_SKIP + 1)); echo "SKIP - $1"; }

# check NAME EXPECTED GOT: equal strings.
check() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected [$2]" "got      [$3]"; fi
}
# has NAME TEXT NEEDLE / hasnt: a fixed string in TEXT, or not.
has() {
    case "$2" in *"$3"*) ok "$1" ;; *) not_ok "$1" "[$3] not in [$2]" ;; esac
}
hasnt() {
    case "$2" in *"$3"*) not_ok "$1" "[$3] found in [$2]" ;; *) ok "$1" ;; esac
}
# check_re NAME ERE TEXT / check_not_re: a line of TEXT matches, or none does.
check_re() {
    if printf '%s\n' "$3" | grep -Eq -- "$2"; then ok "$1"; else not_ok "$1" "expected /$2/ in:" "$3"; fi
}
check_not_re() {
    if printf '%s\n' "$3" | grep -Eq -- "$2"; then not_ok "$1" "unexpected /$2/ in:" "$3"; else ok "$1"; fi
}
# in_file NAME NEEDLE FILE... / not_in_file: a fixed string in the files.
# not_in_file fails for a file it cannot read (a wrong path, a log never
# written): absence from nothing proves nothing.
in_file() {
    local name=$1 needle=$2
    shift 2
    if grep -qF -- "$needle" "$@" 2>/dev/null; then ok "$name"; else
        not_ok "$name" "[$needle] not in $*"; fi
}
not_in_file() {
    local name=$1 needle=$2 f
    shift 2
    for f in "$@"; do
        [ -f "$f" ] && [ -r "$f" ] || { not_ok "$name" "$f: not a readable file"; return 0; }
    done
    if grep -qF -- "$needle" "$@" 2>/dev/null; then not_ok "$name" "[$needle] found in $*"; else
        ok "$name"; fi
}

# cut_short NAME BASE AT MAX: a download revoked at AT (ms since the epoch)
# must be ended by the server within MAX ms: BASE.end holds curl's exit
# status and when it returned ("RC MS", as `echo "$? $(date +%s%3N)"`
# writes it), BASE.out the body.  Passes when curl failed, some of the body
# came but not all of it (under 400,000 bytes) and it ended in time.
cut_short() {
    local name=$1 base=$2 at=$3 max=$4 rc end size
    read -r rc end < "$base.end"
    size=$(stat -c %s "$base.out" 2> /dev/null || echo 0)
    if [ "$rc" -ne 0 ] && [ "$size" -gt 0 ] && [ "$size" -lt 400000 ] && [ $((end - at)) -le "$max" ]; then
        ok "$name: ended $((end - at)) ms after ($size bytes, curl exit $rc)"
    else
        not_ok "$name: ended within $max ms" \
            "curl exit $rc, $size bytes, ended $((end - at)) ms after"
    fi
}

# run CMD...: runs it with stdin from /dev/null; sets OUT, ERR and RC.
run() {
    local f
    f=$(mktemp "${AT_RUN:-${TMPDIR:-/tmp}}/.run.XXXXXX")
    "$@" > "$f.out" 2> "$f.err" < /dev/null
    RC=$?
    OUT=$(cat "$f.out")
    ERR=$(cat "$f.err")
    rm -f "$f" "$f.out" "$f.err"
    return 0
}
# assert NAME CMD...: CMD succeeds; a failure shows the last run's status.
assert() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else
        not_ok "$name [last command: exit ${RC:-?}${ERR:+, stderr: $ERR}]"; fi
}
# expect_rc WANT NAME CMD...: run CMD; its exit status is WANT.
expect_rc() {
    local want=$1 name=$2
    shift 2
    run "$@"
    if [ "$RC" -eq "$want" ]; then ok "$name"; else
        not_ok "$name (exit $RC, wanted $want): ${ERR:-$OUT}"; fi
}

# finish: the summary line, then exit 0 when nothing failed.
finish() {
    AT_FINISHED=1
    echo "$AT_SUITE: $AT_PASS passed, $AT_FAIL failed, $AT_SKIP skipped"
    [ "$AT_FAIL" -eq 0 ]
    exit $?
}
# bail NAME [DETAIL...]: a step everything after depends on failed.
bail() { not_ok "$@"; finish; }
# at_die MSG: for scripts without a suite (benchmarks): say why, exit 1.
at_die() { echo "${AT_SUITE:-${0##*/}}: $*" >&2; exit 1; }

# at_need_files FILE...: build products; at_need_cmds CMD...: programs.
# What is missing fails the suite with the way to get it.
at_need_files() {
    local f
    for f in "$@"; do
        [ -e "$f" ] || bail "$f is missing (make build-all)"
    done
}
at_need_cmds() {
    local c
    for c in "$@"; do
        command -v "$c" > /dev/null || bail "$c is not installed (./deps.sh installs it)"
    done
}
# at_need_root WHY: the suite cannot run otherwise; fails it when not root.
at_need_root() {
    [ -n "$AT_IS_ROOT" ] || bail "this suite must run as root: $1"
}

# ------------------------------------------------------------------ exits

AT_DEFERRED=()
# at_defer CMD [ARG...]: run at exit, after everything registered later.
at_defer() { AT_DEFERRED+=("$(printf '%q ' "$@")"); }

_at_exit() {
    local rc=$? i
    trap - EXIT
    trap '' PIPE    # the output may be gone (piped into head): clean up anyway
    if [ -n "$AT_SUITE" ] && [ -z "$AT_FINISHED" ]; then
        {
            echo "$AT_SUITE: the script ended before its summary (exit status $rc)"
            echo "$AT_SUITE: $AT_PASS passed, $((AT_FAIL + 1)) failed, $AT_SKIP skipped"
        } 2> /dev/null
        [ "$rc" -ne 0 ] || rc=1
    fi
    for ((i = ${#AT_DEFERRED[@]} - 1; i >= 0; i--)); do
        eval "${AT_DEFERRED[$i]}" > /dev/null 2>&1 || true
    done
    exit "$rc"
}
# A signal that would kill the shell outright skips the EXIT trap (servers
# left running): HUP (the terminal went away) and PIPE (the output piped
# into head, say) end it through exit instead.
trap _at_exit EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM

# ---------------------------------------------------------------- run dir

# at_reachable DIR: every directory from / to DIR lets other users
# through (the x bit for others), as nginx workers and postgres need.
at_reachable() {
    local d
    d=$(realpath -m "$1")
    while :; do
        [ -d "$d" ] || return 1
        [ $((0$(stat -c %a "$d") & 1)) -eq 1 ] || { echo "$d"; return 1; }
        [ "$d" = / ] && return 0
        d=$(dirname "$d")
    done
}

# at_rundir NAME: makes AT_RUN, a fresh 0755 directory under AIM_RUNBASE
# (default /tmp), for what other users' processes must read or write.
# It is removed at exit unless KEEP is set; then its name is printed (on
# stderr) now, since what runs at exit prints nothing.
at_rundir() {
    local base=${AIM_RUNBASE:-/tmp} blocked
    if ! blocked=$(at_reachable "$base"); then
        echo "AIM_RUNBASE=$base: ${blocked:-it} does not let other users through" \
             "(nginx workers and postgres must reach their files); choose another" >&2
        return 1
    fi
    AT_RUN=$(mktemp -d "$base/aim-$1.XXXXXX") || return 1
    chmod 755 "$AT_RUN"
    if [ -n "${KEEP-}" ]; then
        echo "# KEEP: the files stay in $AT_RUN" >&2
    else
        at_defer rm -rf "$AT_RUN"
    fi
}

# at_stage FILE: a copy of FILE in AT_RUN, world-readable; prints its path.
at_stage() {
    local dst=$AT_RUN/${1##*/}
    cp "$1" "$dst" && chmod 644 "$dst" && echo "$dst"
}

# ------------------------------------------------------------------ ports

AT_PORT_LOCKS=${AIM_PORT_LOCKS:-/tmp/aim-ports}
AT_PORT_MIN=${AIM_PORT_MIN:-20000}
AT_PORT_MAX=${AIM_PORT_MAX:-31999}

# at_listening PORT: something listens on TCP PORT.
at_listening() { ss -Hltn "sport = :$1" 2> /dev/null | grep -q .; }

# at_port VAR [ENV]: sets VAR to the port named by the environment
# variable ENV when it is set, else to a free one in AIM_PORT_MIN..MAX
# (20000-31999, under Linux's ephemeral range) that no other AIM run on
# this machine holds: a lock directory AIM_PORT_LOCKS/PORT records the
# holder's PID, and is taken over when that process is gone.  Released at
# exit.  Returns 1 (and says why) when none can be had.
at_port() {
    local var=$1 env=${2-} p i holder
    if [ -n "$env" ] && [ -n "${!env-}" ]; then
        p=${!env}
        if at_listening "$p"; then
            echo "port $p ($env) is in use" >&2
            return 1
        fi
        printf -v "$var" '%s' "$p"
        return 0
    fi
    mkdir -p "$AT_PORT_LOCKS" 2> /dev/null || true
    chmod 1777 "$AT_PORT_LOCKS" 2> /dev/null || true
    for ((i = 0; i < 500; i++)); do
        p=$((AT_PORT_MIN + (RANDOM * 32768 + RANDOM) % (AT_PORT_MAX - AT_PORT_MIN + 1)))
        at_listening "$p" && continue
        if ! mkdir "$AT_PORT_LOCKS/$p" 2> /dev/null; then
            holder=$(cat "$AT_PORT_LOCKS/$p/pid" 2> /dev/null) || true
            if [ -n "$holder" ] && kill -0 "$holder" 2> /dev/null; then continue; fi
            # A stale lock (its holder is gone): take it over.
            rm -rf "$AT_PORT_LOCKS/$p" 2> /dev/null || true
            mkdir "$AT_PORT_LOCKS/$p" 2> /dev/null || continue
        fi
        echo $$ > "$AT_PORT_LOCKS/$p/pid"
        at_defer rm -rf "$AT_PORT_LOCKS/$p"
        printf -v "$var" '%s' "$p"
        return 0
    done
    echo "no free port in $AT_PORT_MIN-$AT_PORT_MAX" >&2
    return 1
}

# at_wait_port PORT [SECONDS] [PID]: until something listens on PORT;
# returns 1 after SECONDS (default 10) or as soon as process PID is gone.
at_wait_port() {
    local port=$1 n=$((${2:-10} * 10)) pid=${3-}
    while [ "$n" -gt 0 ]; do
        at_listening "$port" && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2> /dev/null; then return 1; fi
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}

# --------------------------------------------------------- shared files

# at_shared FILE...: files that every enforcing service writes -- the
# state file and its shared-signals journal -- made as docs/trust.md
# recommends: owned by root, group-writable (0660) by a group the
# services share.  Here postgres's own group stands in for the "aim"
# group (no system account changes): postgres is in it, PAM runs as
# root, and nginx's workers join it with AT_NGX_USER in the main
# context ("user nobody postgres;").  strict_modes accepts exactly this.
AT_NGX_USER="user nobody postgres;"
at_shared() {
    local f
    for f in "$@"; do
        : > "$f" && chown root:postgres "$f" && chmod 0660 "$f" || return 1
    done
}

# ------------------------------------------------------------------ nginx

NGX_DIR=
NGX_FG_PID=
# What loads the module (the packages' test includes modules-enabled).
NGX_LOAD=${NGX_LOAD:-"load_module $NGX_MODULE;"}

# ngx_conf DIR [MAIN-LINE...] < HTTP-BODY: writes DIR/nginx.conf: the
# module (NGX_LOAD), pid file and error log (DIR/error.log, level
# NGX_LOG_LEVEL or info) in DIR, the MAIN-LINEs, an events block
# (NGX_CONNECTIONS, 256) and an http block with every temporary path in
# DIR around HTTP-BODY.  DIR/logs is made too: an nginx built from source
# logs there by default (access_log where the body names none).
ngx_conf() {
    local d=$1 line
    shift
    NGX_DIR=$d
    mkdir -p "$d/logs"
    {
        echo "$NGX_LOAD"
        echo "pid $d/nginx.pid;"
        echo "error_log $d/error.log ${NGX_LOG_LEVEL:-info};"
        for line in "$@"; do echo "$line"; done
        echo "events { worker_connections ${NGX_CONNECTIONS:-256}; }"
        echo "http {"
        echo "    client_body_temp_path $d/body;"
        for line in proxy fastcgi uwsgi scgi; do echo "    ${line}_temp_path $d/$line;"; done
        cat
        echo "}"
    } > "$d/nginx.conf"
}

# _ngx_cmd [WRAPPER...] -- [ARG...]: NGX_CMD, the command line of NGINX
# (under WRAPPER, with ARGs) on NGX_DIR's configuration and error log,
# with NGX_DIR as its prefix -- or NGX_PREFIX; NGX_PREFIX= keeps the one
# nginx was built with, where a packaged snippet's relative
# "modules/..." path leads.
_ngx_cmd() {
    local p=${NGX_PREFIX-$NGX_DIR}
    NGX_CMD=()
    while [ "$1" != -- ]; do NGX_CMD+=("$1"); shift; done
    shift
    NGX_CMD+=("$NGINX" "$@" ${p:+-p "$p"} -e "$NGX_DIR/error.log" -c "$NGX_DIR/nginx.conf")
}

# ngx_test [ARG...]: nginx -t (with ARGs: -q, say) on NGX_DIR's
# configuration; its output on stdout, its exit status returned.
ngx_test() { _ngx_cmd -- -t "$@"; "${NGX_CMD[@]}" 2>&1; }

# ngx_version: NGINX's version (1.22.1, say).
ngx_version() { "$NGINX" -v 2>&1 | sed 's,.*/,,'; }

# ngx_start PORT [WRAPPER...]: starts nginx on NGX_DIR's configuration and
# waits until PORT listens.  With a WRAPPER (valgrind ...), nginx runs in
# the foreground under it (the configuration says daemon off) and
# NGX_FG_PID is the wrapper's PID.  Stopped at exit.  Errors: in
# NGX_DIR/start.err; returns 1.
ngx_start() {
    local port=$1
    shift
    _ngx_cmd "$@" --
    if [ $# -gt 0 ]; then
        "${NGX_CMD[@]}" 2> "$NGX_DIR/start.err" &
        NGX_FG_PID=$!
        at_defer ngx_stop
        at_wait_port "$port" 60 "$NGX_FG_PID"
        return
    fi
    "${NGX_CMD[@]}" 2> "$NGX_DIR/start.err" || return 1
    at_defer ngx_stop
    at_wait_port "$port" 10
}

# ngx_pid: the master's PID (the only process with master_process off).
ngx_pid() { cat "$NGX_DIR/nginx.pid" 2> /dev/null || true; }

# ngx_stop: graceful stop (QUIT), then KILL after 5 s (60 s under a
# wrapper, which has its own report to write).
ngx_stop() {
    local pid n=50
    [ -n "$NGX_DIR" ] || return 0
    [ -n "$NGX_FG_PID" ] && n=600
    pid=$(ngx_pid)
    if [ -n "$pid" ]; then
        kill -QUIT "$pid" 2> /dev/null || true
        while [ "$n" -gt 0 ] && kill -0 "$pid" 2> /dev/null; do sleep 0.1; n=$((n - 1)); done
        kill -KILL "$pid" 2> /dev/null || true
    fi
    if [ -n "$NGX_FG_PID" ]; then
        while [ "$n" -gt 0 ] && kill -0 "$NGX_FG_PID" 2> /dev/null; do sleep 0.1; n=$((n - 1)); done
        kill "$NGX_FG_PID" 2> /dev/null || true
        wait "$NGX_FG_PID" 2> /dev/null || true
        NGX_FG_PID=
    fi
    rm -f "$NGX_DIR/nginx.pid"
    return 0
}

# --------------------------------------------------------------- postgres

PG_DIR= PG_DATA= PG_PORT= PG_LOG= PG_INST= PGBIN=
PG_AS=()
[ -n "$AT_IS_ROOT" ] && PG_AS=(runuser -u postgres --)
PG_PSQL=()

# pg_as CMD...: CMD as the cluster's owner (postgres when we are root),
# from a directory it can enter (the checkout may be under a 0700 home).
pg_as() { (cd "${PG_DIR:-/}" && "${PG_AS[@]}" "$@"); }

# pg_give PATH...: hands PATH over to the cluster's owner.
pg_give() { [ ${#PG_AS[@]} -eq 0 ] || chown -R postgres "$@"; }

# pg_private DIR: a private PostgreSQL installation in DIR with this
# tree's pg_aim; every cluster made afterwards runs it (PGBIN is its
# bindir, PG_INST is DIR).  PostgreSQL's own programs are copied into
# DIR/<bindir> (a server finds its library and share directories from
# where its binary is), the system's libraries and share files are linked
# beside them, and pg_aim is installed there by "make install
# DESTDIR=DIR".  Nothing is written to the system's PostgreSQL
# directories: runs from other checkouts, and packages installed
# meanwhile, never replace this run's pg_aim, and the server loads it
# from under /tmp, which it reaches wherever the checkout is.  make's
# output: DIR.log.
pg_private() {
    local dir=$1 bindir libdir sharedir f
    bindir=$("$PG_CONFIG" --bindir) || return 1
    libdir=$("$PG_CONFIG" --pkglibdir)
    sharedir=$("$PG_CONFIG" --sharedir)
    mkdir -p "$dir$bindir" "$dir$libdir" "$dir$sharedir/extension" || return 1
    for f in postgres pg_ctl initdb; do
        cp "$bindir/$f" "$dir$bindir/" || return 1
    done
    for f in "$bindir"/*; do
        [ -e "$dir$bindir/${f##*/}" ] || ln -s "$f" "$dir$bindir/"
    done
    # Directories are made, not linked: an install would write through a link.
    mkdir -p "$dir$libdir/bitcode"
    for f in "$libdir"/* "$libdir"/bitcode/*; do
        case ${f#"$libdir"/} in
            pg_aim* | bitcode/pg_aim* | bitcode) ;;
            *) ln -s "$f" "$dir$libdir/${f#"$libdir"/}" ;;
        esac
    done
    for f in "$sharedir"/*; do
        [ "${f##*/}" = extension ] || ln -s "$f" "$dir$sharedir/"
    done
    for f in "$sharedir"/extension/*; do
        case ${f##*/} in pg_aim*) ;; *) ln -s "$f" "$dir$sharedir/extension/" ;; esac
    done
    make --no-print-directory -s -C "$AT_ROOT/pg_aim" PG_CONFIG="$PG_CONFIG" \
        install DESTDIR="$dir" > "$dir.log" 2>&1 || return 1
    chmod -R a+rX "$dir"
    PG_INST=$dir PGBIN=$dir$bindir
}

# pg_system: clusters made afterwards run the system's PostgreSQL and the
# pg_aim installed in it (tests/deb: the package's), not a private
# installation.
pg_system() {
    PGBIN=$("$PG_CONFIG" --bindir) || return 1
    PG_INST=/
}

# pg_init DIR PORT [INITDB-ARG...]: a throwaway cluster in DIR/data with
# its socket in DIR and its log in DIR/server.log, listening on
# 127.0.0.1:PORT, fsync off; stopped at exit.  It runs the private
# installation (pg_private), made in DIR/install when there is none yet.
# PG_PSQL runs psql on it (-X -q -At, over the socket).  What failed
# (the installation or initdb) is in DIR/initdb.log.
pg_init() {
    PG_DIR=$1 PG_PORT=$2
    shift 2
    PG_DATA=$PG_DIR/data PG_LOG=$PG_DIR/server.log
    mkdir -p "$PG_DIR"
    chmod 755 "$PG_DIR"
    if [ -z "$PG_INST" ] && ! pg_private "$PG_DIR/install"; then
        { echo "the private installation in $PG_DIR/install failed:"; cat "$PG_DIR/install.log"; } \
            > "$PG_DIR/initdb.log" 2>&1
        return 1
    fi
    pg_give "$PG_DIR"
    PG_PSQL=("$PGBIN/psql" -X -q -At -h "$PG_DIR" -p "$PG_PORT")
    pg_as "$PGBIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --locale=C "$@" \
        > "$PG_DIR/initdb.log" 2>&1 || return 1
    at_defer pg_stop immediate
    pg_conf <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
fsync = off
EOF
}

# pg_conf < LINES: appended to postgresql.conf.  pg_hba < LINES: the
# whole pg_hba.conf.
pg_conf() { cat >> "$PG_DATA/postgresql.conf"; }
pg_hba() { cat > "$PG_DATA/pg_hba.conf"; }

# pg_start [VAR=VALUE...]: pg_ctl start with those in the server's
# environment; waits up to 30 s.  pg_ctl's output: PG_DIR/pg_ctl.out.
pg_start() {
    pg_as env "$@" "$PGBIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 30 start \
        > "$PG_DIR/pg_ctl.out" 2>&1
}
# pg_stop [MODE]: fast by default; nothing when the cluster is not running.
pg_stop() {
    [ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ] || return 0
    pg_as "$PGBIN/pg_ctl" -D "$PG_DATA" -m "${1:-fast}" -w stop > /dev/null 2>&1
}
# pg_pam_service DIR KEYS: DIR/postgresql, the PAM service of pg_aim's
# agent logins (docs/pg_aim.md): pam_aim for auth, handing the token to
# pg_aim (handoff=AIM_PG_TOKEN: pg_aim.pam_handoff must name it too), and
# for account, with the keys in KEYS, ISS, AUD and scope pg:login:%u.  The
# module is a copy in AT_RUN, since postgres loads it.  Sets PAM_ENV (for
# pg_start) to read the service from DIR; needs at_pam_wrapper first.
pg_pam_service() {
    local dir=$1 keys=$2 mod
    mod=$(at_stage "$AT_BUILD/pam_aim.so") || return 1
    mkdir -p "$dir"
    cat > "$dir/postgresql" <<EOF
auth     required $mod keys=$keys issuer=$ISS audience=$AUD scope=pg:login:%u handoff=AIM_PG_TOKEN
account  required $mod keys=$keys issuer=$ISS audience=$AUD scope=pg:login:%u
EOF
    pam_env "$dir"
}

# -------------------------------------------------------------- PgBouncer

PGBOUNCER=${PGBOUNCER:-$(command -v pgbouncer || echo /usr/sbin/pgbouncer)}
PGB_DIR=

# pgb_start DIR PORT DB USER... < LINES: PgBouncer (PGBOUNCER) on
# 127.0.0.1:PORT in front of the cluster's database DB (over its socket),
# pooling by transaction, trust for the USERs; its configuration, log
# (DIR/pgbouncer.log) and pid file in DIR, and LINES (pool sizes, reset
# queries) added to its [pgbouncer] section.  Runs as the cluster's
# owner; stopped at exit.  Its output: DIR/pgbouncer.out.
pgb_start() {
    local d=$1 port=$2 db=$3 u
    shift 3
    PGB_DIR=$d
    mkdir -p "$d"
    for u in "$@"; do printf '"%s" ""\n' "$u"; done > "$d/userlist.txt"
    {
        cat <<EOF
[databases]
$db = host=$PG_DIR port=$PG_PORT dbname=$db
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $d/userlist.txt
pool_mode = transaction
logfile = $d/pgbouncer.log
pidfile = $d/pgbouncer.pid
EOF
        cat
    } > "$d/pgbouncer.ini"
    pg_give "$d"
    at_defer pgb_stop
    pg_as "$PGBOUNCER" -d "$d/pgbouncer.ini" > "$d/pgbouncer.out" 2>&1
}
# pgb_stop: stops it (SIGTERM).
pgb_stop() {
    local pid
    [ -n "$PGB_DIR" ] || return 0
    pid=$(cat "$PGB_DIR/pgbouncer.pid" 2> /dev/null) || return 0
    kill "$pid" 2> /dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    return 0
}

# -------------------------------------------------------------------- PAM

# at_pam_wrapper: finds libpam_wrapper (PAM_WRAPPER_LIB) and its test
# modules (PAM_WRAPPER_MODS); returns 1 when it is not installed.
at_pam_wrapper() {
    PAM_WRAPPER_LIB=$(ls /usr/lib/*/libpam_wrapper.so 2> /dev/null | head -1)
    PAM_WRAPPER_MODS=${PAM_WRAPPER_LIB:+$(dirname "$PAM_WRAPPER_LIB")/pam_wrapper}
    [ -n "$PAM_WRAPPER_LIB" ]
}
# pam_env DIR: PAM_ENV, the environment (for env) under which a program's
# PAM reads its service files from DIR instead of /etc/pam.d.  pam_wrapper
# copies DIR to /tmp/pam.X in each process and removes the copy in a
# destructor that processes ending in _exit or exec never run: the
# copies of DIR are removed at exit.
pam_env() {
    PAM_ENV=(LD_PRELOAD="$PAM_WRAPPER_LIB" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$1")
    at_defer pam_env_clean "$1"
}
# pam_env_clean DIR: removes the /tmp/pam.X copies of DIR's service files.
pam_env_clean() {
    local d f
    for d in /tmp/pam.?; do
        for f in "$1"/*; do
            if [ -f "$d/${f##*/}" ] && cmp -s "$d/${f##*/}" "$f"; then rm -rf "$d"; break; fi
        done
    done
    return 0
}

# ------------------------------------------------------------------- sshd

SSHD_PID= SSHD_DIR= AT_MADE_RUN_SSHD=

# sshd_start DIR PORT SERVICES [PRELOAD] < EXTRA-CONFIG: OpenSSH's sshd on
# 127.0.0.1:PORT in the foreground (-D -e, its log in DIR/sshd.log), with
# its own host key, sshd_config and PidFile in DIR, UsePAM on and
# pam_wrapper preloaded (PRELOAD first, when given) so that every sshd
# process reads its PAM services from SERVICES.  /etc is not touched;
# /run/sshd (OpenSSH's compiled-in privilege separation directory) is
# made when missing and removed again.  Stopped at exit.
sshd_start() {
    local d=$1 port=$2 services=$3 preload=${4-}
    SSHD_DIR=$d
    if [ ! -d /run/sshd ]; then mkdir -p /run/sshd && AT_MADE_RUN_SSHD=1; fi
    pam_env "$services"
    at_defer sshd_stop
    ssh-keygen -q -t ed25519 -N '' -f "$d/hostkey" || return 1
    {
        cat <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $d/hostkey
PidFile $d/sshd.pid
UsePAM yes
StrictModes no
X11Forwarding no
PrintMotd no
PrintLastLog no
AcceptEnv none
EOF
        cat
    } > "$d/sshd_config"
    env "${PAM_ENV[@]}" LD_PRELOAD="${preload:+$preload }$PAM_WRAPPER_LIB" \
        "$SSHD" -D -e -f "$d/sshd_config" 2> "$d/sshd.log" &
    SSHD_PID=$!
    at_wait_port "$port" 5 "$SSHD_PID"
}
# sshd_stop: stops it (pam_env removes the copies of the services that
# sshd's children leave behind).
sshd_stop() {
    if [ -n "$SSHD_PID" ]; then
        kill "$SSHD_PID" 2> /dev/null || true
        for _ in $(seq 1 20); do kill -0 "$SSHD_PID" 2> /dev/null || break; sleep 0.1; done
        SSHD_PID=
    fi
    [ -z "$AT_MADE_RUN_SSHD" ] || rmdir /run/sshd 2> /dev/null || true
    AT_MADE_RUN_SSHD=
    return 0
}

# ------------------------------------------------------------------- keys

ISSUER_KEY= ISS= AUD=
ISSUE_ARGS=()

# mint_key FILE [aimctl keygen args]: a private key (mode 0600), ES256
# unless --alg says otherwise.
mint_key() {
    local f=$1
    shift
    case " $* " in *" --alg "*) ;; *) set -- --alg ES256 "$@" ;; esac
    "$AIMCTL" keygen "$@" --out "$f" > /dev/null
}
# mint_jwks OUT KEY[:KID]...: their public keys as a JWKS, world-readable
# (nginx workers and postgres re-read it).
mint_jwks() {
    local out=$1
    shift
    "$AIMCTL" jwks "$@" > "$out.tmp" && chmod 644 "$out.tmp" && mv -f "$out.tmp" "$out"
}
# issue [ARG...]: a token signed by ISSUER_KEY for ISS and AUD, with
# ISSUE_ARGS then ARGs (later ones win).
issue() {
    "$AIMCTL" issue --key "$ISSUER_KEY" --iss "$ISS" --aud "$AUD" "${ISSUE_ARGS[@]}" "$@"
}
