# tests/pg/lib.sh -- what the pg_aim tests and benchmarks share: a private
# PostgreSQL installation with this tree's pg_aim, and throwaway clusters.
#
# The private installation is PostgreSQL's own binaries copied into
# DIR/usr/lib/postgresql/15/bin (PostgreSQL finds its library and share
# directories relative to the binary), the system's libraries and share
# files linked beside them, and pg_aim installed there with
# "make install DESTDIR=DIR".  Nothing is written to the system's
# PostgreSQL directories, so suites of several worktrees, and packages
# installed meanwhile, do not replace each other's pg_aim.
#
# Source it after setting ROOT (the source tree) and T (a temporary
# directory, mode 755).  Sets PG_CONFIG, PGI (the private bindir) and AS
# (the command prefix that runs as the "postgres" account when root).

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
if [ "$(id -u)" -eq 0 ]; then AS=(runuser -u postgres --); else AS=(); fi

# pg_private_install DIR: returns non-zero (output in DIR.log) on failure.
pg_private_install() {
    local dir=$1 bindir libdir sharedir f
    bindir=$("$PG_CONFIG" --bindir)
    libdir=$("$PG_CONFIG" --pkglibdir)
    sharedir=$("$PG_CONFIG" --sharedir)
    PGI=$dir$bindir
    mkdir -p "$PGI" "$dir$libdir" "$dir$sharedir/extension" || return 1
    for f in postgres pg_ctl initdb; do
        cp "$bindir/$f" "$PGI/" || return 1
    done
    for f in "$bindir"/*; do
        [ -e "$PGI/${f##*/}" ] || ln -s "$f" "$PGI/"
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
    make --no-print-directory -s -C "$ROOT/pg_aim" PG_CONFIG="$PG_CONFIG" \
        install DESTDIR="$dir" >"$dir.log" 2>&1 || return 1
    chmod -R a+rX "$dir"
}

# pg_initdb DATA: a cluster owned by the postgres account.
pg_initdb() {
    "${AS[@]}" "$PGI/initdb" -D "$1" -U postgres -A trust -E UTF8 --locale=C \
        >"$1.initdb.log" 2>&1
}

# pg_start DATA LOG [ENV=VALUE...]: start and wait; ENV goes to the server.
pg_start() {
    local data=$1 log=$2
    shift 2
    "${AS[@]}" env "$@" "$PGI/pg_ctl" -D "$data" -l "$log" -w -t 30 start \
        >"$data.pg_ctl.log" 2>&1
}

pg_stop() {
    [ -f "$1/postmaster.pid" ] || return 0
    "${AS[@]}" "$PGI/pg_ctl" -D "$1" -m "${2:-fast}" -w stop >/dev/null 2>&1
}
