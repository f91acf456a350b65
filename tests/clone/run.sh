#!/bin/bash
# tests/clone/run.sh -- the README's commands from a clone under a 0700
# directory, the way a root user clones into /root (issue 15).
#
# git clones this checkout's HEAD into a fresh directory of mode 0700
# (other users cannot enter it: postgres, nginx's workers), builds there,
# and runs from there what depends on other users reaching the files,
# and the PAM suites:
#
#   make test-pg        a cluster run by postgres, PAM logins loading pam_aim
#   make test-nginx     workers (nobody) re-reading keys and revocations
#   make test-pam       pamtester, pam_exec helpers, the fork harness: the
#                       module, helpers and services by absolute path;
#                       with PAM_VALGRIND=0 (memcheck does not depend on
#                       where the checkout is; make test-pam runs it)
#   make test-pam-sshd  sshd's privilege-separated children
#   make demo           the README's first command: all three adapters
#   make test-vectors   the vectors come with the clone (no ../shared)
#
# Each is one check here; its own counts are shown indented (so that
# make test does not add them up twice) and its log is kept in
# build/clone-logs/.  A target passes with 0 failed and 0 skipped, or
# with skips that were asked for (each SKIP line ends "(PAM_VALGRIND=0)").
# Only committed work is tested: the clone is of HEAD.
# AIM_CLONE_TARGETS replaces the list above, and AIM_CLONE_BUILD the
# build before it (make build-all; the targets build what they need).
# The targets run two at a time (AIM_CLONE_JOBS; 1 runs them in turn).
set -u
. "$(dirname "$0")/../lib/aimtest.sh"
at_suite clone

# The longest first, so that two at a time end together.
TARGETS=${AIM_CLONE_TARGETS:-test-pg test-nginx test-vectors demo test-pam test-pam-sshd}
BUILD=${AIM_CLONE_BUILD:-build-all}
LOGS=$AT_BUILD/clone-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"

at_need_cmds git make
at_need_root "the point is that postgres and nginx's workers cannot enter root's 0700 directories"
rev=$(git -C "$AT_ROOT" rev-parse HEAD) || bail "$AT_ROOT is not a git checkout"
if [ -n "$(git -C "$AT_ROOT" status --porcelain --untracked-files=no)" ]; then
    echo "# note: uncommitted changes in $AT_ROOT are not in the clone (HEAD $rev is)"
fi

# The 0700 "home": made by mktemp -d, which gives 0700; removed at exit.
HOME700=$(mktemp -d "${TMPDIR:-/tmp}/aim-clone-home.XXXXXX") || bail "a directory for the clone"
at_defer rm -rf "$HOME700"
chmod 700 "$HOME700"
[ "$(stat -c %a "$HOME700")" = 700 ] || bail "$HOME700 is not 0700"
if runuser -u postgres -- test -x "$HOME700" 2> /dev/null; then
    not_ok "postgres cannot enter the clone's parent directory"
else
    ok "postgres cannot enter the clone's parent directory"
fi

CLONE=$HOME700/aim
if git clone -q "$AT_ROOT" "$CLONE" > "$LOGS/git.log" 2>&1 \
   && git -C "$CLONE" checkout -q "$rev" >> "$LOGS/git.log" 2>&1; then
    ok "git clone of HEAD ($(git -C "$CLONE" log --format='%h %s' -1 | cut -c1-60))"
else
    bail "git clone of HEAD" "$(cat "$LOGS/git.log")"
fi

# make in the clone, as if typed there: nothing from this make's
# environment (its flags, jobserver, overrides) or from this checkout.
cmake() {
    (cd "$CLONE" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
        -u AIM_BUILD -u AIMCTL -u NGX_MODULE -u AIM_VECTORS -u B -u AIM_DEMO_DIR \
        make --no-print-directory "$@")
}

t0=$(date +%s)
if cmake -j2 $BUILD > "$LOGS/build.log" 2>&1; then
    ok "make $BUILD in the clone ($(( $(date +%s) - t0 )) s)"
else
    bail "make $BUILD in the clone" "$(tail -20 "$LOGS/build.log")"
fi

# clone_env TARGET: VAR=VALUE for the target's run in the clone.  The
# checks it leaves out are skipped, and each SKIP line names it.
clone_env() {
    case $1 in
    test-pam) echo PAM_VALGRIND=0 ;;
    esac
}

# run_target TARGET: make TARGET in the clone; its output in LOGS/T.log,
# its exit status and seconds in LOGS/T.rc and LOGS/T.secs.
run_target() {
    local t=$1 var t0 rc
    var=$(clone_env "$t")
    t0=$(date +%s)
    (if [ -n "$var" ]; then export "$var"; fi; cmake "$t") > "$LOGS/$t.log" 2>&1
    rc=$?
    echo "$rc" > "$LOGS/$t.rc"
    echo $(( $(date +%s) - t0 )) > "$LOGS/$t.secs"
}

# AIM_CLONE_JOBS targets at a time (default 2): each suite has its own
# free ports and run directory, and the clusters their own private
# pg_aim, so they do not meet; most of their time is spent waiting
# (expiry, revocation, reload intervals).  Results in the list's order.
JOBS=${AIM_CLONE_JOBS:-2}
t0=$(date +%s)
for t in $TARGETS; do
    while [ "$(jobs -pr | wc -l)" -ge "$JOBS" ]; do wait -n; done
    echo "# make $t: started"
    run_target "$t" &
done
wait
echo "# the targets took $(( $(date +%s) - t0 )) s, $JOBS at a time"

for t in $TARGETS; do
    log=$LOGS/$t.log
    var=$(clone_env "$t")
    rc=$(cat "$LOGS/$t.rc" 2> /dev/null || echo 255)
    line=$(grep -E '^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -1)
    echo "    $line${var:+ ($var)}"
    # Skips pass only where they were asked for.
    asked=
    if [ -n "$var" ] && ! grep '^SKIP' "$log" | grep -qvF "($var)"; then asked=1; fi
    case $rc:$line in
    0:*" 0 failed, 0 skipped") passed=1 ;;
    0:*" 0 failed, "*) passed=$asked ;;
    *) passed= ;;
    esac
    if [ -n "$passed" ]; then
        ok "make $t from the clone ($(cat "$LOGS/$t.secs") s)"
    else
        not_ok "make $t from the clone (exit $rc; log $log)" "$(grep -E '^FAIL|^not ok|rror' "$log" | head -20)" \
            "$(tail -5 "$log")"
    fi
done

finish
