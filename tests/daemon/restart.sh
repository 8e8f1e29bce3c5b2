#!/bin/bash
# restart.sh: the supervisor restarts a filter process that dies, on the
# same socket, and gives up with a clear log line in a crash loop.
. "$SRCDIR/tests/lib/common.sh"
need_root
need_cmd miltertest

relay_rejected() {
    miltertest -D sock="unix:$MXG_SOCK" -D srcdir="$SRCDIR" -s "$SRCDIR/tests/protocol/relay.lua" >"$T/lua.out" 2>&1 &&
        ! grep -q FAILED "$T/lua.out"
}
new_filter() { local p; p=$(filter_pid); [ -n "$p" ] && [ "$p" != "$1" ]; }

start_mxguard "$SRCDIR/rules/examples/gateway.rules" --restart-limit 2/60 ||
    { check "daemon starts" false; finish; }
old=$(filter_pid)
kill -KILL "$old"
check "a killed filter process is replaced" wait_for 10 new_filter "$old"
check "the death is logged" contains "$MXG_LOG" "filter process $old died of signal 9"
check "the new filter serves the same socket" relay_rejected

# Two more deaths within the window exceed --restart-limit 2/60.
for _ in 1 2; do
    p=$(filter_pid)
    kill -KILL "$p"
    wait_for 10 new_filter "$p" || true
done
check "a crash loop makes the supervisor give up" wait_for 10 pid_gone "$MXG_PID"
check "giving up is logged" contains "$MXG_LOG" "died 3 times within 60 seconds; giving up"
finish
