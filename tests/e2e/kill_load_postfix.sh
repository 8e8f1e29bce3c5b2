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

kl_rules || { show "$T/check.out"; setup_failed "the load rules do not load"; }
start_mxguard "$T/rules/load.rules" || setup_failed "mxguard did not start"
start_sink || setup_failed "smtp-sink did not start"
start_postfix "unix:$MXG_SOCK" || setup_failed "postfix did not start"

kl_source "$PF_PORT"
: >"$T/restarts"
for pct in 20 45 70; do
    at=$((KL_MESSAGES * pct / 100))
    if ! wait_for 60 kl_past kl_ended "$at"; then
        echo "# only $(kl_ended) sessions ended, waiting for $at"
        break
    fi
    r=$(kl_kill_filter) || { echo "# kill after $at sessions: no restart"; break; }
    read -r old new ms <<<"$r"
    echo "# killed filter $old after $at sessions; filter $new answered $ms ms later"
    echo "$r" >>"$T/restarts"
done
check "three kills, each followed by a new filter process answering" [ "$(wc -l <"$T/restarts")" -eq 3 ]
check "the load finished" kl_source_wait 80
check "postfix's queue drained" wait_for 40 pf_queue_empty || pf_queue_show

kl_pf_accounts
kl_sink_ids >"$T/sink-ids"
kl_client_ids 250 >"$T/client-250"
queued=$(wc -l <"$T/pf-queued")
at_sink=$(wc -l <"$T/sink-ids")
dups=$(kl_dups "$T/sink-ids")
ok=$(wc -l <"$T/client-250")
tempfailed=$(kl_client_count '4[0-9][0-9]')
echo "# sent $(kl_ended), 250 to the client $ok, queued by postfix $queued, at the sink $at_sink ($(sort -u "$T/sink-ids" | wc -l) distinct), duplicates $dups, 4xx $tempfailed"
echo "# how the sessions ended: $(kl_client_summary)"
echo "# postfix logged $(wc -l <"$T/pf-4xx") temporary refusals, $(wc -l <"$T/pf-5xx") permanent ones"
echo "# restart delays (ms from the SIGKILL to a new filter answering): $(awk '{ printf "%s ", $3 }' "$T/restarts")"

check "every session ended" [ "$(kl_ended)" -eq "$KL_MESSAGES" ]
check "postfix queued most messages" [ "$queued" -ge $((KL_MESSAGES * 3 / 4)) ]
check "every queued message has one Message-ID" [ "$(wc -l <"$T/pf-msgids")" -eq "$queued" ]
check "every queued message was sent" [ "$(wc -l <"$T/pf-sent")" -eq "$queued" ]
check "the sink holds every message postfix queued" kl_same_sets "$T/pf-msgids" "$T/sink-ids" postfix sink
check "... and those are the messages the clients got 250 for" kl_same_sets "$T/client-250" "$T/sink-ids" clients sink
check "no message twice at the sink" [ "$dups" -eq 0 ] && [ "$at_sink" -eq "$queued" ]
check "every message at the sink has mxguard's end-of-message stamp" [ -z "$(kl_sink_unstamped)" ]
check "the kills cost some sessions a 4xx (those under way)" [ "$tempfailed" -gt 0 ]
check "every other session got a 4xx: none a 5xx or a dropped connection" \
    [ $((ok + tempfailed)) -eq "$KL_MESSAGES" ]
check "postfix refused nothing permanently" [ ! -s "$T/pf-5xx" ] || show "$T/pf-5xx"
check "the supervisor logged three deaths" [ "$(grep -c 'died of signal 9; restarting it in 1 s' "$MXG_LOG")" -eq 3 ]
check "each restart answered within 5 s" awk '$3 > 5000 { exit 1 }' "$T/restarts"
finish
