#!/bin/bash
# kill_load_postfix.sh: kill -9 of the filter under load loses no mail.
# tests/lib/smtp_load.py sends KL_MESSAGES (2000) messages, one a
# session, at concurrency 20 through the private postfix (milter_default_action =
# tempfail) with mxguard on a rule set that takes every stage and stamps
# every message at its end; meanwhile the test SIGKILLs the filter
# process (the supervisor's child) three times, after about 20%, 45% and
# 70% of the sessions. Then, once postfix's queue is empty: every message
# postfix queued reached the sink exactly once (its Message-ID from
# postfix's log against the sink's files), each with mxguard's stamp, and
# those are exactly the messages the clients got a 250 for; every other
# session got a 4xx, none a 5xx or a dropped connection. It prints the accounting and
# how long each restart took (from the SIGKILL until a new filter process
# answered a milter session).
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
. "$SRCDIR/tests/lib/kill_load.sh"
need_postfix
kl_need
# Long queue ids: a short one is unique only while its file exists, and
# the accounting follows each message by its queue id through the log.
PF_MAIN_EXTRA="enable_long_queue_ids = yes
$PF_MAIN_EXTRA"

kl_rules || { show "$T/check.out"; setup_failed "the load rules do not load"; }
start_mxguard "$T/rules/load.rules" || setup_failed "mxguard did not start"
start_sink || setup_failed "smtp-sink did not start"
start_postfix "unix:$MXG_SOCK" || setup_failed "postfix did not start"

kl_source "$PF_PORT"
kl_kill_three
check "the load finished" kl_source_wait 80
check "postfix's queue drained" wait_for 40 pf_queue_empty || pf_queue_show

echo "# restart delays (ms from the SIGKILL to a new filter answering): $(awk '{ printf "%s ", $3 }' "$T/restarts")"
kl_pf_check_accounts
check "the supervisor logged three deaths, each restarted in 1 s" [ "$(grep -Ec 'died of signal 9(;| while working on [0-9]+ messages? \(each charged one crash by the poison guard; not counted towards --restart-limit\);) restarting it in 1 s' "$MXG_LOG")" -eq 3 ]
check "each restart answered within 10 s" awk '$3 > 10000 { exit 1 }' "$T/restarts"
finish
