#!/bin/bash
# kill_load_sendmail.sh: kill -9 of the filter under load loses no mail
# behind sendmail either. kill_load_postfix.sh's load and kills (600
# messages here, one a session, at concurrency 20: sendmail forks a
# process for each session and another for each delivery, and 2000 took
# over four minutes on the shared machine; the filter process SIGKILLed
# after about 20%, 45% and 70% of the sessions) through the private
# sendmail 8.17 (tests/lib/sendmail.sh), whose filter line has F=T: a
# filter that cannot be reached or breaks off tempfails the message
# (without F= sendmail would go on without it and deliver unchecked;
# F=R would reject). Then, with sendmail's queue empty: every message
# sendmail accepted for delivery (its "250 2.0.0 QID Message accepted for
# delivery" in its traffic log, with the Message-ID the client sent in
# that session) reached the sink exactly once, stamped by mxguard, and
# those are the messages the clients got a 250 for; every other session
# got a 4xx.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
. "$SRCDIR/tests/lib/sendmail.sh"
KL_MESSAGES=${KL_MESSAGES:-600}
. "$SRCDIR/tests/lib/kill_load.sh"
need_root
sendmail_unpack >"$T/unpack.log" 2>&1 || { echo "# sendmail_unpack failed:"; sed 's/^/#   /' "$T/unpack.log"; }
need_sendmail
kl_need

# sm_queued_ids: the Message-ID of each message sendmail accepted for
# delivery, from its traffic log (sendmail -X: "PID <<< line" from the
# client, "PID >>> line" to it), one a line.
sm_queued_ids() {
    tr -d '\r' <"$SM_TRAFFIC" | awk '$2 == "<<<" && tolower($3) == "message-id:" { mid[$1] = $4 }
         $2 == "<<<" && toupper($3) ~ /^MAIL$/ { delete mid[$1] }
         $2 == ">>>" && $3 == "250" && / Message accepted for delivery/ { print (($1 in mid) ? mid[$1] : "none:" $1) }' | sort
}

case $SM_FILTER_OPTS in *"F=T"*) ;; *) setup_failed "the sendmail helper's filter has no F=T: $SM_FILTER_OPTS" ;; esac
kl_rules || { show "$T/check.out"; setup_failed "the load rules do not load"; }
start_mxguard "$T/rules/load.rules" || setup_failed "mxguard did not start"
start_sink || setup_failed "smtp-sink did not start"
start_sendmail "unix:$MXG_SOCK" || setup_failed "sendmail did not start"
echo "# sendmail's filter: INPUT_MAIL_FILTER(mxguard, S=unix:...$SM_FILTER_OPTS)"

kl_source "$SM_PORT"
kl_kill_three
check "the load finished" kl_source_wait 80
check "sendmail's queue drained" wait_for 40 sm_queue_empty || sm_queue_show
echo "# restart delays (ms from the SIGKILL to a new filter answering): $(awk '{ printf "%s ", $3 }' "$T/restarts")"

sm_queued_ids >"$T/sm-msgids"
check "each message sendmail accepted has its Message-ID in the traffic log" not_contains "$T/sm-msgids" '^none:'
kl_check_accounts sendmail "$T/sm-msgids"
check "the supervisor logged three deaths, each restarted in 1 s" [ "$(grep -Ec 'died of signal 9(;| while working on [0-9]+ messages? \(each charged one crash by the poison guard; not counted towards --restart-limit\);) restarting it in 1 s' "$MXG_LOG")" -eq 3 ]
finish
