#!/bin/bash
# kill_load_supervisor.sh: kill -9 of the SUPERVISOR under load loses no
# mail, and the service comes back the way the systemd unit brings it
# back. The load of kill_load_postfix.sh (2000 messages, one a session,
# concurrency 20, through the private postfix with milter_default_action
# = tempfail); after about 40% of the sessions the test SIGKILLs the
# supervisor. The orphaned filter process must end by itself (parent
# death signal): it stops listening at once, but under load it lives on
# until the sessions it had under way end, and those wait for the MTA's
# milter timeout (postfix's milter_command_timeout, 10 s here) and are
# tempfailed: measured 22 s, so the bound is that timeout plus 20 s. Then the
# test starts mxguard again with the same command line, as systemd's
# Restart=on-failure does after RestartSec=5s (debian/mxguard.service):
# it finds the stale socket file, removes it and serves. Clients that
# came while no filter served got postfix's tempfail (4xx): counted. At
# concurrency 20 those are most of the sessions left, so once the first
# load is done a second one of 500 messages must all get a 250 from the
# new mxguard. Then, with postfix's queue empty, over both loads: every message postfix queued reached
# the sink exactly once, stamped by mxguard, and those are the messages
# the clients got a 250 for; every other session got a 4xx.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
. "$SRCDIR/tests/lib/kill_load.sh"
need_postfix
kl_need
# Long queue ids: a short one is unique only while its file exists, and
# the accounting follows each message by its queue id through the log.
PF_MAIN_EXTRA="enable_long_queue_ids = yes
$PF_MAIN_EXTRA"
RESTART_SEC=5 # RestartSec= of debian/mxguard.service

# A zombie (exited, not yet reaped by its new parent) no longer serves.
proc_gone() { [ ! -d "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

kl_rules || { show "$T/check.out"; setup_failed "the load rules do not load"; }
start_mxguard "$T/rules/load.rules" || setup_failed "mxguard did not start"
first_log=$MXG_LOG
start_sink || setup_failed "smtp-sink did not start"
start_postfix "unix:$MXG_SOCK" || setup_failed "postfix did not start"

kl_source "$PF_PORT"
at=$((KL_MESSAGES * 40 / 100))
wait_for 60 kl_past kl_ended "$at" || echo "# only $(kl_ended) sessions ended, waiting for $at"
sup=$MXG_PID
filter=$(filter_pid)
t0=$(kl_now_ms)
kill -KILL "$sup"
wait "$sup" 2>/dev/null # reaped here: no "Killed" notice from the shell
untrack_pid "$sup"
[ -n "$filter" ] && track_pid "$filter"
echo "# killed the supervisor $sup after $(kl_ended) sessions; its filter was $filter"
# threads_of PID: what each thread of PID waits in, if it still runs.
threads_of() {
    local t
    for t in /proc/"$1"/task/*; do
        [ -d "$t" ] && echo "#   thread ${t##*/}: state $(awk '{ print $3 }' "$t/stat" 2>/dev/null), in $(cat "$t/wchan" 2>/dev/null)"
    done
}
if ! wait_for 7 proc_gone "$filter"; then
    echo "# the orphaned filter $filter still runs 7 s after the kill; its threads:"
    threads_of "$filter"
fi
check "the orphaned filter process ends by itself" wait_for 30 proc_gone "$filter"
gone_ms=$(($(kl_now_ms) - t0))
echo "# the orphaned filter ended $gone_ms ms after its supervisor was killed"
check "... within postfix's milter_command_timeout (10 s) and 20 s" [ "$gone_ms" -le 30000 ]
during=$(kl_ended)

# systemd's Restart=on-failure: the same command line, RestartSec later.
left=$((RESTART_SEC * 1000 - ($(kl_now_ms) - t0)))
[ "$left" -gt 0 ] && sleep "$(awk -v ms="$left" 'BEGIN { printf "%.3f", ms / 1000 }')"
start_mxguard "$T/rules/load.rules" || setup_failed "mxguard did not start again"
check "the new mxguard answers" wait_for 10 kl_answers
back_ms=$(($(kl_now_ms) - t0))
echo "# mxguard started again $RESTART_SEC s after the kill (RestartSec); it answered $back_ms ms after the kill; $(($(kl_ended) - during)) sessions ended meanwhile"
check "it removed the stale socket file, and said so" \
    contains "$MXG_LOG" "removed stale socket $MXG_SOCK \(nothing listened on it\)"

check "the load finished" kl_source_wait 80
before=$(kl_client_count 250)
kl_source "$PF_PORT" 500
check "a second load of 500 messages finished" kl_source_wait 60
check "... each of them got a 250 from the new mxguard" [ $(($(kl_client_count 250) - before)) -eq 500 ]
check "postfix's queue drained" wait_for 40 pf_queue_empty || pf_queue_show
kl_pf_check_accounts
check "the first daemon's log has no sanitizer report" not_contains "$first_log" "Sanitizer|runtime error:"
finish
