# clamd.sh: a private clamd (Debian's clamav-daemon) for script tests, with
# a signature database the test makes itself: never freshclam, no Internet.
# Source it after common.sh:
#
#   . "$SRCDIR/tests/lib/common.sh"
#   . "$SRCDIR/tests/lib/clamd.sh"
#   need_clamd                      # skips (77) without clamd
#   start_clamd                     # CLAMD_SOCK, CLAMD_PID, CLAMD_LOG; notes start time and memory
#   stop_clamd                      # by PID; start_clamd again comes back on the same socket
#
# The database is one line of an .hdb file: the MD5 of the 68-byte EICAR
# test string, its size and a name, so clamd reports
# "Eicar-Test-Signature.UNOFFICIAL" for EICAR on its own or inside a zip.
# clamd listens on a unix socket in $T/clamd (mode 0755 directory, 0666
# socket: mxguard's filter runs as its own user) and runs in the
# foreground as root, stopped by PID.

CLAMD_DIR="$T/clamd"
CLAMD_SOCK="$CLAMD_DIR/clamd.sock"
CLAMD_PID=""
CLAMD_LOG="$CLAMD_DIR/clamd.log"
# The EICAR anti-virus test file (eicar.org): harmless, known to every scanner.
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
EICAR_NAME="Eicar-Test-Signature.UNOFFICIAL"

need_clamd() {
    need_root
    [ -x /usr/sbin/clamd ] || skip "needs clamd (clamav-daemon; scripts/install-deps.sh installs it)"
}

clamd_db() {
    mkdir -p "$CLAMD_DIR/db"
    chmod 755 "$CLAMD_DIR"
    printf '%s:%s:Eicar-Test-Signature\n' "$(printf '%s' "$EICAR" | md5sum | cut -d' ' -f1)" \
        "$(printf '%s' "$EICAR" | wc -c)" >"$CLAMD_DIR/db/test.hdb"
    cat >"$CLAMD_DIR/clamd.conf" <<CONF
LocalSocket $CLAMD_SOCK
LocalSocketMode 666
DatabaseDirectory $CLAMD_DIR/db
Foreground yes
LogFile $CLAMD_LOG
LogTime yes
PidFile $CLAMD_DIR/clamd.pid
TemporaryDirectory $CLAMD_DIR
User root
StreamMaxLength 25M
CONF
}

clamd_up() { unix_listening "$CLAMD_SOCK"; }

start_clamd() {
    local t0 t1
    [ -f "$CLAMD_DIR/clamd.conf" ] || clamd_db
    t0=$(date +%s%N)
    /usr/sbin/clamd -c "$CLAMD_DIR/clamd.conf" >>"$CLAMD_DIR/clamd.out" 2>&1 </dev/null &
    CLAMD_PID=$!
    track_pid "$CLAMD_PID"
    if ! wait_for 30 clamd_up; then
        echo "# clamd did not start; its log:"; sed 's/^/#   /' "$CLAMD_LOG" "$CLAMD_DIR/clamd.out" 2>/dev/null
        return 1
    fi
    t1=$(date +%s%N)
    echo "# clamd up in $(((t1 - t0) / 1000000)) ms, $(awk '/^VmRSS/ { print $2 " kB" }' "/proc/$CLAMD_PID/status") resident"
}

stop_clamd() {
    [ -n "$CLAMD_PID" ] || return 0
    kill -TERM "$CLAMD_PID" 2>/dev/null || true
    wait_for 10 pid_gone "$CLAMD_PID" && untrack_pid "$CLAMD_PID"
    CLAMD_PID=""
    rm -f "$CLAMD_SOCK"
}
