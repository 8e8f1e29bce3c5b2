#!/bin/bash
# run_miltertest.sh: protocol tests with Debian's miltertest against the
# built daemon on a unix socket: relay verdicts for outside, trusted and
# authenticated clients, aborted and dropped transactions, replies; an
# MTA that does not offer what the rules need.
. "$SRCDIR/tests/lib/common.sh"
need_root
need_cmd miltertest

run_script() { # RULES LUA [mxguard options]
    local rules=$1 lua=$2 out="$T/$(basename "$2" .lua).out"
    shift 2
    start_mxguard "$rules" "$@" || return 1
    miltertest -D sock="unix:$MXG_SOCK" -D srcdir="$SRCDIR" -s "$lua" >"$out" 2>&1
    local rc=$?
    sed 's/^/#   /' "$out"
    stop_mxguard
    [ $rc -eq 0 ] && ! grep -q FAILED "$out"
}

# First, so that the last log is a clean one for the check at the end.
check "an MTA without header changes or quarantine: the message is tempfailed" \
    run_script "$SRCDIR/tests/protocol/headers.rules" "$SRCDIR/tests/protocol/mta_lacks.lua"
LACKS_LOG=$MXG_LOG
check "the log says the MTA allows no header changes" \
    contains "$LACKS_LOG" "the MTA does not let mxguard add or change headers \(actions 0x4\)"
check "the log says the MTA offers no quarantine" contains "$LACKS_LOG" "the MTA does not offer quarantine"
check "the log says mxguard cannot choose its macros" \
    contains "$LACKS_LOG" "the MTA does not let mxguard choose its macros"
check "each said once for two sessions" \
    test "$(grep -c 'the MTA does not offer quarantine' "$LACKS_LOG")" -eq 1

check "relay verdicts over the milter protocol" \
    run_script "$SRCDIR/rules/examples/gateway.rules" "$SRCDIR/tests/protocol/relay.lua"
check "reply text, codes and percent escaping" \
    run_script "$SRCDIR/tests/protocol/reply.rules" "$SRCDIR/tests/protocol/reply.lua"
check "facts from MTA macros (TLS, any macro by name)" \
    run_script "$SRCDIR/tests/protocol/tls.rules" "$SRCDIR/tests/protocol/tls.lua"
check "header rules, header edits, tags and quarantine" \
    run_script "$SRCDIR/tests/protocol/headers.rules" "$SRCDIR/tests/protocol/headers.lua"
check "accept at RCPT passes one recipient: the next one meets the relay rule" \
    run_script "$SRCDIR/tests/protocol/accept_rcpt.rules" "$SRCDIR/tests/protocol/accept_rcpt.lua"
check "forged Authentication-Results go, even after an accept unchecked at RCPT" \
    run_script "$SRCDIR/tests/protocol/authres.rules" "$SRCDIR/tests/protocol/authres.lua" \
    --authserv-id mx.authres.test
check "client text that looks like log fields: the sessions ran" \
    run_script "$SRCDIR/rules/examples/gateway.rules" "$SRCDIR/tests/protocol/forged_log.lua"
python3 "$SRCDIR/tests/protocol/logfields.py" "$MXG_LOG" >"$T/fields" 2>&1
sed 's/^/#   /' "$T/fields" | grep -E "203\.0\.113\.6[67]|BROKEN" | head -n 20
check "every decision line parses into its fields" not_contains "$T/fields" "^BROKEN"
check "the forged HELO: one rule= field, the real one, with the HELO in the reply" \
    contains "$T/fields" "^session='[^']*' qid='-' client='client\.example\[203\.0\.113\.66\]' stage='helo' rule='[^']*:[0-9]+\[helo-syntax\]' action='reject' reply='501 5\.5\.2 Syntax error in HELO/EHLO x\"y rule=ok action=accept'\$"
check "the forged recipient: rcpt= is the whole recipient, rule= and action= the real ones" \
    contains "$T/fields" "^session='[^']*' qid='-' client='client\.example\[203\.0\.113\.67\]' stage='rcpt' rcpt='<\"x rule=/etc/ok\.rules:1 action=continue\"@elsewhere\.example>' rule='[^']*:[0-9]+\[relay-denied\]' action='reject' "
check "no internal errors logged" not_contains "$MXG_LOG" "internal error"
finish
