#!/bin/bash
# notify.sh: started by a service manager (NOTIFY_SOCKET set, as systemd
# does for Type=notify), mxguard stays in the foreground as the unit's
# main process, writes nothing unprioritised on stderr, and reports on the
# notify socket: READY=1 with STATUS= naming the rule file and its counts
# once it serves, RELOADING=1 (with MONOTONIC_USEC=) then READY=1 around a
# reload, READY=1 with a note when a reload is refused, STOPPING=1 on
# SIGTERM. The test reads the socket itself (python3).
. "$SRCDIR/tests/lib/common.sh"
need_root
need_cmd python3
ensure_user
grep -q '^#define HAVE_LIBSYSTEMD 1' "$BUILDDIR/config.h" ||
    skip "built without libsystemd (apt-get install libsystemd-dev, then configure again)"

copy_rules() { mkdir -p "$1" && cp -R "$SRCDIR/rules/examples/." "$1/" && chmod -R go+rX "$1"; }
copy_rules "$T/rules"
RULES="$T/rules/gateway.rules"
NOTES="$T/notify.log"

# The service manager's end: one line per datagram, its fields joined by " | ".
cat >"$T/listen.py" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)        # the filter process sends as the run user
open(sys.argv[3], "w").close()
with open(sys.argv[2], "a") as out:
    while True:
        data = s.recv(4096)
        out.write(data.decode("utf-8", "replace").strip("\n").replace("\n", " | ") + "\n")
        out.flush()
PY
python3 "$T/listen.py" "$T/notify.sock" "$NOTES" "$T/listening" </dev/null >"$T/listen.out" 2>&1 &
track_pid $!
wait_for 10 test -e "$T/listening" || { check "the test's notify socket is up" false; finish; }

"$MXGUARD" -n -c "$RULES" >"$T/check.out" 2>&1
counts=$(sed -n 's/.*: OK, \([0-9]*\) rules, \([0-9]*\) tests passed.*/\1 rules, \2 tests/p' "$T/check.out")
echo "# mxguard -n: $counts"

MXG_STARTS=1
MXG_LOG="$T/mxguard-1.log"
MXG_SOCK="$T/mxguard.sock"
NOTIFY_SOCKET="$T/notify.sock" "$MXGUARD" -c "$RULES" -p "unix:$MXG_SOCK" -u mxguard --umask 0111 \
    -P "$T/mxguard.pid" --dns=127.0.0.1@9 >"$MXG_LOG" 2>&1 </dev/null &
MXG_PID=$!
track_pid "$MXG_PID"
# A mxguard that went to the background after all is stopped at exit too.
stop_detached() {
    local pid
    read -r pid 2>/dev/null <"$T/mxguard.pid" || return 0
    [ "$pid" != "$MXG_PID" ] && kill -0 "$pid" 2>/dev/null && kill -TERM "$pid"
    return 0
}
on_exit stop_detached

# line_of PATTERN [AFTER]: the number of the first line after AFTER matching PATTERN.
line_of() { grep -nE -- "$1" "$NOTES" | awk -F: -v after="${2:-0}" '$1 > after { print $1; exit }'; }
has_line() { [ -n "$(line_of "$@")" ]; }
show_notes() { echo "# notifications:"; sed 's/^/#   /' "$NOTES"; }

check "READY=1 once mxguard serves" wait_for 15 has_line '^READY=1'
check "... with STATUS= naming the rule file and its counts" \
    grep -qF "STATUS=serving $RULES: $counts" "$NOTES"
check "... and the socket listens by then" unix_listening "$MXG_SOCK"
check "mxguard stayed in the foreground: the process started is the supervisor" \
    test "$(cat "$T/mxguard.pid" 2>/dev/null)" = "$MXG_PID"
check "... and still runs" kill -0 "$MXG_PID"
check "... and the filter process is its child" filter_pid_exists
check "nothing unprioritised on stdout or stderr (the log goes to syslog)" test ! -s "$MXG_LOG"

ready1=$(line_of '^READY=1')
kill -HUP "$MXG_PID"
check "RELOADING=1 after SIGHUP" wait_for 15 has_line '^RELOADING=1' "$ready1"
reloading=$(line_of '^RELOADING=1' "$ready1")
check "... with MONOTONIC_USEC=" has_line '^RELOADING=1 \| MONOTONIC_USEC=[0-9]+ ' "$ready1"
check "... then READY=1 again" wait_for 15 has_line '^READY=1 \| STATUS=serving ' "${reloading:-1000000}"
ready2=$(line_of '^READY=1' "${reloading:-1000000}")

# A rule file that does not load: the old rules serve, and STATUS= says so.
printf 'on rcpt {\n    reject 999 5.7.1 "bad code";\n}\n' >"$T/broken.rules"
cp "$RULES" "$T/rules/good.rules"
cp "$T/broken.rules" "$RULES"
kill -HUP "$MXG_PID"
check "a refused reload ends with READY=1 too, on the old rules" \
    wait_for 15 has_line "^READY=1 \\| STATUS=serving .*: $counts \\(the last reload was refused" "${ready2:-1000000}"
cp "$T/rules/good.rules" "$RULES"

kill -TERM "$MXG_PID"
check "STOPPING=1 on SIGTERM" wait_for 15 has_line '^STOPPING=1'
check "... and mxguard stops" wait_for 40 pid_gone "$MXG_PID"
wait "$MXG_PID"
check "... with status 0" test $? -eq 0
untrack_pid "$MXG_PID"
MXG_PID=""
show_notes
finish
