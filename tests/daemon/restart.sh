#!/bin/bash
# restart.sh: the supervisor restarts a filter process that dies, on the
# same socket, and in a crash loop backs off (a longer pause at each
# death, one err line each) but never gives up: the service comes back.
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
check "the death is logged with the pause" contains "$MXG_LOG" "filter process $old died of signal 9; restarting it in 1 s"
check "the new filter serves the same socket" relay_rejected

# Four more deaths in quick succession: past --restart-limit 2/60 it is a
# crash loop. The old meaning (give up and exit) would stop the service.
start=$(date +%s)
for _ in 1 2 3 4; do
    p=$(filter_pid)
    kill -KILL "$p"
    wait_for 20 new_filter "$p" || true
done
took=$(($(date +%s) - start))
echo "# four deaths and restarts took $took s (pauses 1, 2, 4 and 8 s)"
check "the supervisor never gives up" kill -0 "$MXG_PID"
check "a filter process serves again after the crash loop" wait_for 10 filter_pid_exists
check "it answers as before" relay_rejected
check "the crash loop is logged, backing off 2 s" \
    contains "$MXG_LOG" "died of signal 9; crash loop \(more than 2 deaths within 60 seconds\): restarting it in 2 s"
check "... then 4 s" contains "$MXG_LOG" "crash loop .*restarting it in 4 s"
check "... then 8 s" contains "$MXG_LOG" "crash loop .*restarting it in 8 s"
check "the pauses were waited (at least 1+2+4+8 s, less the polling)" [ "$took" -ge 13 ]
check "one line per restart, five in all" \
    [ "$(grep -c "died of signal 9; " "$MXG_LOG")" -eq 5 ]
check "no line says it gives up" not_contains "$MXG_LOG" "giving up"
finish
