#!/bin/bash
# reload.sh: SIGUSR1/SIGHUP reloads; a broken rule file is reported with
# file:line:col and the same filter process goes on with the old rules;
# sessions under way finish on the rules they started with.
. "$SRCDIR/tests/lib/common.sh"
need_root
need_cmd miltertest

cp "$SRCDIR"/rules/examples/* "$T/"
cat >"$T/open.rules" <<'RULES'
# Everything relays: a rule set that is easy to tell apart.
on rcpt { continue; }
RULES
cat >"$T/broken.rules" <<'RULES'
on rcpt {
    continue if recipient.domain in <nowhere>;
    reject 999 5.7.1 "bad code";
}
RULES
cp "$T/gateway.rules" "$T/active.rules"
start_mxguard "$T/active.rules" || { check "daemon starts" false; finish; }
first_filter=$(filter_pid)

# reload_cmd FILE SIGNAL PATTERN: the shell command the Lua script runs
# between two RCPTs of one session.
reload_cmd() {
    echo "cp $T/$1 $T/active.rules && kill -$2 $MXG_PID && for i in \$(seq 1 100); do grep -Eq '$3' $MXG_LOG && exit 0; sleep 0.1; done; exit 1"
}

run_lua() { # FILE SIGNAL PATTERN WANT
    miltertest -D sock="unix:$MXG_SOCK" -D srcdir="$SRCDIR" -D reload_cmd="$(reload_cmd "$1" "$2" "$3")" \
        -D want="$4" -s "$SRCDIR/tests/daemon/reload.lua" >"$T/lua.out" 2>&1
    local rc=$?
    sed 's/^/#   /' "$T/lua.out"
    [ $rc -eq 0 ] && ! grep -q FAILED "$T/lua.out"
}

check "broken reload (SIGHUP) keeps the old rules" \
    run_lua broken.rules HUP 'still serving the previous rules' old
check "good reload (SIGUSR1) serves new rules to new sessions only" \
    run_lua open.rules USR1 'reload: loaded' new
check "broken reload names file:line:col of the unknown list" \
    contains "$MXG_LOG" "active.rules:2:17: unknown list <nowhere>"
check "broken reload names file:line:col of the bad reply code" \
    contains "$MXG_LOG" "active.rules:3:12: expected a 5xx reply code"
# A reload that brings the first greylist rule: the filter opened no state
# store at its start (its rules needed none), so greylisting is skipped
# and the log says so once, not once per session.
printf 'on rcpt { [grey] greylist; }\n' >"$T/grey.rules"
cp "$T/grey.rules" "$T/active.rules"
kill -USR1 "$MXG_PID"
check "reload to greylist rules" wait_for 10 grep -q "loaded $T/active.rules: 1 rules" "$MXG_LOG"
miltertest -D sock="unix:$MXG_SOCK" -D srcdir="$SRCDIR" -s "$SRCDIR/tests/daemon/nostore.lua" >"$T/nostore.out" 2>&1
rc=$?
sed 's/^/#   /' "$T/nostore.out"
check "without a store, greylist rules let sessions through" test $rc -eq 0
check "... and the log says so once" \
    test "$(grep -c 'greylist or test rate limits, but no state store is open' "$MXG_LOG")" -eq 1
check "the same filter process served throughout" test "$(filter_pid)" = "$first_filter"
check "no filter restart happened" not_contains "$MXG_LOG" "died|exited with status"

stop_mxguard
check "SIGTERM stops supervisor and filter" pid_gone "$MXG_PID"
check "stop is logged" contains "$MXG_LOG" "mxguard stopped"
finish
