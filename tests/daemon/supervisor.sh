#!/bin/bash
# supervisor.sh: the supervisor and the filter never outlive each other,
# and a socket path is never taken over from a live listener: a killed
# supervisor takes its filter with it (no orphan serving), a stale socket
# file left by it is removed at the next start, and a second mxguard on
# the socket of a running one is refused with a clear error.
. "$SRCDIR/tests/lib/common.sh"
need_root
need_cmd python3

RAW="$SRCDIR/tests/protocol/raw_milter.py"
normal_answers() { [ "$(python3 "$RAW" "$MXG_SOCK" normal)" = "relay=y local=c" ]; }
# A zombie (exited, not yet reaped by its new parent) no longer serves.
proc_gone() { [ ! -d "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

start_mxguard "$SRCDIR/rules/examples/gateway.rules" || { check "daemon starts" false; finish; }
first_log=$MXG_LOG
check "the daemon answers" normal_answers

# A second instance on the same socket path while the first serves.
"$MXGUARD" -f -c "$SRCDIR/rules/examples/gateway.rules" -p "unix:$MXG_SOCK" -u mxguard \
    --dns=127.0.0.1@9 >"$T/second.log" 2>&1 </dev/null &
second=$!
track_pid "$second"
wait_for 10 pid_gone "$second"
check "a second mxguard on the same socket exits" pid_gone "$second"
if pid_gone "$second"; then
    wait "$second"; rc=$?
    untrack_pid "$second"
else
    rc=none # it took the socket over: the exit trap stops it
fi
check "... with status 1" [ "$rc" = 1 ]
check "... saying why" contains "$T/second.log" "socket $MXG_SOCK is in use: another mxguard \(or another program\) listens on it; stop that one first; not starting"
check "the first one still serves its socket" normal_answers

# The supervisor killed: its filter gets SIGTERM (parent death signal) and ends.
sup=$MXG_PID
filter=$(filter_pid)
kill -KILL "$sup"
untrack_pid "$sup"
track_pid "$filter"
start=$(date +%s%N)
check "the filter process ends when its supervisor is killed" wait_for 10 proc_gone "$filter"
ms=$((($(date +%s%N) - start) / 1000000))
echo "# the filter ended $ms ms after its supervisor was killed"
check "... within 7 s (libmilter's listener sees a stop at its next poll, 5 s at most)" [ "$ms" -le 7000 ]
check "no mxguard is left on the socket" wait_for 5 sh -c "! ss -lxH | awk '{print \$5}' | grep -qx '$MXG_SOCK'"
check "the socket file is left behind (stale)" [ -S "$MXG_SOCK" ]

# A new start finds the stale socket file: removed, then served.
start_mxguard "$SRCDIR/rules/examples/gateway.rules" || { check "daemon starts on a stale socket" false; finish; }
check "the stale socket is removed at start, and said so" \
    contains "$MXG_LOG" "removed stale socket $MXG_SOCK \(nothing listened on it\)"
check "the new daemon answers" normal_answers
check "the first log has no sanitizer report either" not_contains "$first_log" "Sanitizer|runtime error:"
finish
