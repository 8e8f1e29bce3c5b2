# mariadb.sh: a private MariaDB server for script tests. Source it after
# common.sh:
#
#   . "$SRCDIR/tests/lib/common.sh"
#   . "$SRCDIR/tests/lib/mariadb.sh"
#   need_mariadb                    # skips (77) without mariadb-server
#   start_mariadb                   # MARIADB_SOCK, MARIADB_PID, MARIADB_LOG
#   mariadb_cmd DB -e 'SELECT 1'    # the client as root, on the unix socket
#   stop_mariadb                    # by PID
#
# A fresh data directory in $T/mariadb (mariadb-install-db, root with a
# password-less normal login), a server on a unix socket there and no
# network port (--skip-networking), no option file read (--no-defaults),
# stopped by PID. Installing and starting take about 3 seconds.

MARIADB_DIR="$T/mariadb"
MARIADB_PID=""

need_mariadb() {
    need_cmd mariadb-install-db
    need_cmd mariadbd
    need_cmd mariadb
}

mariadb_cmd() { mariadb --no-defaults --socket="$MARIADB_SOCK" --user=root "$@"; }

mariadb_up() { mariadb_cmd -e 'SELECT 1' >/dev/null 2>&1; }

start_mariadb() {
    local me
    me=$(id -un)
    mkdir -p "$MARIADB_DIR"
    MARIADB_SOCK="$MARIADB_DIR/mariadb.sock"
    MARIADB_LOG="$MARIADB_DIR/mariadb.log"
    if ! mariadb-install-db --no-defaults --datadir="$MARIADB_DIR/data" --user="$me" \
        --auth-root-authentication-method=normal --skip-test-db >"$MARIADB_LOG" 2>&1; then
        echo "# mariadb-install-db failed; its output:"; sed 's/^/#   /' "$MARIADB_LOG"
        return 1
    fi
    mariadbd --no-defaults --datadir="$MARIADB_DIR/data" --socket="$MARIADB_SOCK" --skip-networking \
        --pid-file="$MARIADB_DIR/mariadb.pid" --user="$me" --log-error="$MARIADB_LOG" \
        --innodb-buffer-pool-size=16M >>"$MARIADB_LOG" 2>&1 </dev/null &
    MARIADB_PID=$!
    track_pid "$MARIADB_PID"
    if ! wait_for 30 mariadb_up; then
        echo "# mariadbd did not start; its log:"; sed 's/^/#   /' "$MARIADB_LOG"
        return 1
    fi
}

stop_mariadb() {
    [ -n "$MARIADB_PID" ] || return 0
    kill -TERM "$MARIADB_PID" 2>/dev/null || true
    wait_for 30 pid_gone "$MARIADB_PID" && untrack_pid "$MARIADB_PID"
    MARIADB_PID=""
}
on_exit stop_mariadb
