# common.sh: sourced by every script test. Each test gets its own temp
# directory, its own sockets and ports, and stops what it started by PID,
# so tests can run in parallel and leave nothing behind.
#
# The automake harness exports MXGUARD (the built daemon), SRCDIR and
# BUILDDIR. Exit 77 means "skipped".

set -u

: "${MXGUARD:?MXGUARD must name the built mxguard binary}"
: "${SRCDIR:?SRCDIR must name the source tree}"

TEST_NAME=$(basename "$0" .sh)
T=$(mktemp -d "/tmp/mxg-$TEST_NAME.XXXXXX")
chmod 755 "$T"          # postfix's smtpd must reach sockets below it
CLEANUP_PIDS=""
CLEANUP_CMDS=""
FAILURES=0
CHECKS=0
MXG_STARTS=0

# bash runs no EXIT trap when a signal kills it, and some of what tests
# start (a postfix master) lives in a session of its own where ^C or the
# harness's timeout does not reach it: turn those signals into an exit,
# and ignore them once the cleanup has begun so they cannot cut it short.
EXITING=""
on_signal() {
    [ -n "$EXITING" ] && return 0
    trap '' HUP INT TERM
    exit "$1"
}
trap 'on_signal 129' HUP
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

cleanup() {
    local pid
    EXITING=1
    trap '' HUP INT TERM
    for cmd in $CLEANUP_CMDS; do "$cmd" || true; done
    for pid in $CLEANUP_PIDS; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $CLEANUP_PIDS; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ "${KEEP_TMP:-0}" = 1 ] || [ "$FAILURES" -ne 0 ]; then
        echo "# files kept in $T"
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT

on_exit() { CLEANUP_CMDS="$CLEANUP_CMDS $1"; }
track_pid() { CLEANUP_PIDS="$CLEANUP_PIDS $1"; }
# A PID that was stopped must not be signalled at exit: it may be reused.
untrack_pid() { CLEANUP_PIDS=$(echo " $CLEANUP_PIDS " | sed "s/ $1 / /g"); }

# Under scripts/test-all.sh (MXG_NO_SKIP=1) a skip is a failure: the
# install step must have brought every tool.
skip() {
    echo "SKIP: $*"
    [ "${MXG_NO_SKIP:-0}" = 1 ] && exit 1
    exit 77
}
need_root() { [ "$(id -u)" = 0 ] || skip "needs root"; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || skip "needs $1 (scripts/install-deps.sh installs it)"; }

# check NAME COMMAND...: run a check, print ok/FAIL, count failures.
check() {
    local name=$1; shift
    CHECKS=$((CHECKS + 1))
    if "$@"; then
        echo "ok - $name"
    else
        echo "FAIL - $name"
        FAILURES=$((FAILURES + 1))
    fi
}

# asan_build [BINARY]: BINARY (mxguard) is built with AddressSanitizer,
# whose quarantine of freed memory counts in RSS and which valgrind
# cannot run.
asan_build() { grep -q __asan_init "${1:-$MXGUARD}"; }

# contains FILE PATTERN (extended regex)
contains() { grep -Eq -- "$2" "$1"; }
not_contains() { ! grep -Eq -- "$2" "$1"; }

finish() {
    # A sanitizer build reports into the daemon's log: any report fails.
    # The daemon is stopped first, so that the filter process's exit
    # (LeakSanitizer's check) is in the log too.
    if [ "$MXG_STARTS" -gt 0 ]; then
        stop_mxguard
        cat "$T"/mxguard-*.log >"$T/all-daemon-logs"
        check "no sanitizer report in the daemon logs" not_contains "$T/all-daemon-logs" "Sanitizer|runtime error:"
    fi
    echo "# $TEST_NAME: $((CHECKS - FAILURES)) of $CHECKS checks passed"
    [ "$FAILURES" -eq 0 ] || exit 1
    exit 0
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
    local limit=$1; shift
    local n=$((limit * 10))
    while [ "$n" -gt 0 ]; do
        "$@" && return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}

pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# unix_listening PATH: something listens on the unix socket PATH (a stale
# socket file left by a stopped daemon does not count).
unix_listening() {
    ss -lxH 2>/dev/null | awk -v p="$1" '$5 == p { found = 1 } END { exit !found }'
}

# The unprivileged user the daemon runs as in tests.
ensure_user() {
    id mxguard >/dev/null 2>&1 ||
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mxguard
}

# start_mxguard RULES [extra options...]: start the daemon in the
# foreground (supervisor and filter), on a unix socket in $T
# ($MXG_SOCK_NAME, mxguard.sock unless set).
# Sets MXG_SOCK, MXG_PID (the supervisor), MXG_LOG.
start_mxguard() {
    local rules=$1; shift
    need_root
    ensure_user
    MXG_SOCK="$T/${MXG_SOCK_NAME:-mxguard.sock}"
    MXG_STARTS=$((MXG_STARTS + 1))
    MXG_LOG="$T/mxguard-$MXG_STARTS.log"
    # Tests never ask the system's resolver (SPF, DKIM, DNS lists would):
    # without a --dns of the test's own, DNS goes to a closed loopback port.
    case " $* " in *" --dns="* | *" --dns "*) ;; *) set -- "$@" --dns=127.0.0.1@9 ;; esac
    "$MXGUARD" -f -c "$rules" -p "unix:$MXG_SOCK" -u mxguard --umask 0111 \
        -P "$T/mxguard.pid" "$@" >"$MXG_LOG" 2>&1 </dev/null &
    MXG_PID=$!
    track_pid "$MXG_PID"
    if ! wait_for 10 unix_listening "$MXG_SOCK" || ! wait_for 10 filter_pid_exists; then
        echo "# mxguard did not start; its log:"; sed 's/^/#   /' "$MXG_LOG"
        return 1
    fi
    # The socket listens before the filter process has set up (its
    # resolver, libmagic, the rules: seconds under ASan); an MTA with a
    # short read timeout connecting meanwhile would time out on the
    # negotiation. The filter logs its rules just before it serves.
    wait_for 20 contains "$MXG_LOG" "filter start: loaded" || true
}

# The filter process: the supervisor's child.
filter_pid() { pgrep -P "$MXG_PID" -x mxguard | head -n 1; }
filter_pid_exists() { [ -n "$(filter_pid)" ]; }

stop_mxguard() {
    [ -n "${MXG_PID:-}" ] || return 0
    kill -TERM "$MXG_PID" 2>/dev/null || return 0
    wait_for 20 pid_gone "$MXG_PID" && untrack_pid "$MXG_PID"
}

# --- ports -----------------------------------------------------------------
# port_busy PORT: something is bound to PORT, TCP or UDP, any address.
port_busy() {
    ss -ltnuH 2>/dev/null | awk -v p="$1" '
        { n = split($5, a, ":"); if (a[n] == p) found = 1 }
        END { exit !found }'
}

# Ports handed out by free_port are reserved in PORT_DIR (shared by
# every test on the machine, one directory per port, made atomically with
# mkdir) until the test exits. That matters because postfix's master and
# smtp-sink bind with SO_REUSEPORT: two of them (same uid) can listen on
# the same port at once without an error, and the kernel then spreads the
# connections between them.
PORT_DIR=${PORT_DIR:-/tmp/mxg-ports}

# free_port: print a port nothing is bound to (TCP or UDP) and no other test holds:
# below the ephemeral range (so outgoing connections do not take it
# meanwhile), random. Usually called as $(free_port): the reservation
# names the test's shell ($$ is the same in subshells) and is released
# when the test exits.
free_port() {
    local lo top port tries=0
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
    top=$((lo - 1))
    [ "$top" -gt 20000 ] || top=32767
    if [ ! -d "$PORT_DIR" ]; then
        mkdir -p "$PORT_DIR" 2>/dev/null
        chmod 1777 "$PORT_DIR" 2>/dev/null
    fi
    while [ "$tries" -lt 500 ]; do
        tries=$((tries + 1))
        port=$((20000 + (RANDOM * 32768 + RANDOM) % (top - 20000 + 1)))
        port_busy "$port" && continue
        if ! mkdir "$PORT_DIR/$port" 2>/dev/null; then
            port_reclaim "$port"
            continue
        fi
        echo "$$ $TEST_NAME $T" >"$PORT_DIR/$port/owner"
        echo "$port"
        return 0
    done
    echo "# free_port: no free port found" >&2
    return 1
}

# port_reclaim PORT: drop a reservation left by a test that died
# without cleaning up (owner gone, older than ten minutes); the port is
# for the next search, not this one.
port_reclaim() {
    local d="$PORT_DIR/$1" owner
    [ -n "$(find "$d" -maxdepth 0 -mmin +10 2>/dev/null)" ] || return 0
    read -r owner _ <"$d/owner" 2>/dev/null || owner=""
    [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null && return 0
    rm -rf "$d"
}

# release_port PORT: give back one of this test's reservations early.
release_port() {
    local owner
    read -r owner _ 2>/dev/null <"$PORT_DIR/$1/owner" || return 0
    [ "$owner" = "$$" ] && rm -rf "${PORT_DIR:?}/$1"
    return 0
}

# release_ports: give back this test's ports (runs at exit).
release_ports() {
    local d owner
    for d in "$PORT_DIR"/*; do
        [ -f "$d/owner" ] || continue
        read -r owner _ <"$d/owner" 2>/dev/null || continue
        [ "$owner" = "$$" ] && rm -rf "$d"
    done
    return 0
}
on_exit release_ports
