#!/bin/bash
# graceful_stop.sh: a stop lets a message step already in its callback
# answer. libmilter's listener returns at a stop without waiting for the
# sessions it started, and libmilter 8.17 ends each session at its next
# command; the filter waits up to 10 s for the message steps in their
# callbacks (milter/main.c, drain_sessions), so an end of message that is
# waiting for DNS when SIGTERM comes gets its verdict out instead of a cut
# connection. A session idle between commands does not hold the stop up.
. "$SRCDIR/tests/lib/common.sh"
need_root
need_cmd python3

RAW="$SRCDIR/tests/protocol/raw_milter.py"
rules="$SRCDIR/rules/examples/gateway.rules"

# stop_during PAUSE OUT [DELAY]: a session that pauses PAUSE s after its
# RCPT; SIGTERM to the daemon DELAY s (0) after the RCPT. Sets STOP_MS,
# from SIGTERM to the daemon's exit.
stop_during() {
    python3 "$RAW" "$MXG_SOCK" paused "$1" >"$2" 2>&1 &
    local client=$! t0
    wait_for 10 contains "$2" "^rcpt="
    sleep "${3:-0}"
    t0=$(date +%s%N)
    kill -TERM "$MXG_PID"
    wait_for 40 pid_gone "$MXG_PID" && untrack_pid "$MXG_PID"
    STOP_MS=$((($(date +%s%N) - t0) / 1000000))
    wait "$client"
    sed 's/^/#   /' "$2"
}

# The DNS server is a closed port and the budget 9 s: the end of message
# (SPF of the sender's domain) takes 9 s, longer than libmilter's
# listener (5 s at most) takes to see the stop and return.
start_mxguard "$rules" --dns=127.0.0.1@9 --dns-timeout 9000 --dns-budget 9000 || { check "daemon starts" false; finish; }
stop_during 0 "$T/finish.out" 1
check "a session under way at SIGTERM: its local RCPT is accepted" contains "$T/finish.out" "^rcpt=c$"
check "... and its end of message, in its callback at the stop, gets its verdict (451: SPF's DNS)" \
    contains "$T/finish.out" "^eom=y$"
check "the daemon has exited afterwards ($STOP_MS ms after SIGTERM)" pid_gone "$MXG_PID"
check "the filter said it waited for the step" \
    contains "$MXG_LOG" "stopping: waiting up to 10 s for 1 message step under way"
check "... and that it answered" contains "$MXG_LOG" "stopping: the message steps under way have answered"
check "... with its verdict logged" contains "$MXG_LOG" "qid=RAWQ2 .*stage=eom .*action=tempfail"

start_mxguard "$rules" || { check "daemon starts again" false; finish; }
# A session idle after its RCPT (12 s) when the stop comes.
stop_during 12 "$T/idle.out"
check "a session idle at the stop does not hold it up: the daemon is gone in $STOP_MS ms (at most 5 s + 2)" \
    [ "$STOP_MS" -le 7000 ]
check "... and libmilter ends the session at its next command" contains "$T/idle.out" "^closed$"
check "... no step was waited for" not_contains "$MXG_LOG" "stopping: waiting"
finish
