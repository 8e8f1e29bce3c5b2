#!/bin/bash
# mta_timeouts.sh: the MTA's milter timeout against the time mxguard
# takes at the end of message, through a real sendmail and a real postfix.
# mxguard runs the shipped gateway rules, which check SPF and then look up
# the DKIM keys at end of message; a loopback dnsfake answers every lookup
# 300 ms late (an SPF include chain of nine, one DKIM key), so the end of
# message takes about 3 s, within the --dns-budget (5 s) of each check.
# An MTA that waits less for the reply (sendmail T=R:2s, postfix
# milter_content_timeout = 2s) gives up on the filter and tempfails the
# message (F=T; milter_default_action = tempfail): nothing is delivered
# unchecked. With the recommended timeouts (sendmail R:60s, postfix's
# default 300s) the message is delivered with mxguard's
# Authentication-Results. man/mxguard.8 (SENDMAIL) gives the rule: the
# MTA's read timeout must exceed twice --dns-budget (SPF, then DKIM);
# sendmail's default R:10s equals the default --dns-budget alone.

. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
. "$SRCDIR/tests/lib/dns.sh"
. "$SRCDIR/tests/lib/sendmail.sh"

need_both_mtas
need_dns

ID=mx.gateway.test
OUTSIDE=127.0.0.2
FROM=sender@slow.example
BUDGET_MS=5000

# SPF passes after nine lookups one after the other (an include chain),
# and the DKIM key is found, each answer 300 ms late (below libunbound's
# first retransmission, so each is asked once) and never cached (TTL 0):
# about 3 s at end of message, well within the budget.
mkdir -p "$T/dns-spec"
{
    echo "@zone example."
    echo "slow.example. TXT delay=300 ttl=0 \"v=spf1 include:i1.slow.example -all\""
    for i in 1 2 3 4 5 6 7; do
        echo "i$i.slow.example. TXT delay=300 ttl=0 \"v=spf1 include:i$((i + 1)).slow.example -all\""
    done
    echo "i8.slow.example. TXT delay=300 ttl=0 \"v=spf1 ip4:$OUTSIDE -all\""
    echo "sel._domainkey.slow.example. TXT delay=300 ttl=0 \"v=DKIM1; k=rsa; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\""
} >"$T/dns-spec/spec"
start_dnsfake "$T/dns-spec/spec" || setup_failed "dnsfake did not start"

R="$T/rules"
copy_gateway_rules "$R"
sed -i -E 's|^127\.0\.0\.0/8[[:space:]]*$|127.0.0.1/32|' "$R/trusted-networks"
chmod -R u=rwX,go=rX "$R"
start_mxguard "$R/gateway.rules" "--dns=127.0.0.1@$FAKE_PORT" --authserv-id "$ID" \
    --dns-budget "$BUDGET_MS" --dns-timeout 2000 || setup_failed "mxguard did not start"
start_sink || setup_failed "smtp-sink did not start"

# A signature whose key takes 2 s to fetch (it does not verify: the
# gateway rules refuse nothing for that, and the lookup is what counts).
DKIM_SIG="DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=slow.example; s=sel; h=from:to:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dGVzdHNpZ25hdHVyZQ=="

# send MTA OUTFILE ID: one message from outside to a local domain; prints
# how many seconds the end of data took.
send() {
    local port start
    case $1 in postfix) port=$PF_PORT ;; sendmail) port=$SM_PORT ;; esac
    start=$(date +%s%N)
    swaks --server 127.0.0.1 --port "$port" --timeout 90 --local-interface "$OUTSIDE" \
        --helo client.mxguard.test --from "$FROM" --to user@example.org \
        --header "X-Test-Id: $3" --add-header "$DKIM_SIG" >"$2" 2>&1 </dev/null
    echo "# $1: the session took $((($(date +%s%N) - start) / 1000000)) ms;" \
        "end of data: $(awk '/^ -> \.$/ { getline; print; exit }' "$2")"
}

# delivered_with_ar ID: delivered, with our Authentication-Results
# (spf=pass after the slow answer, and a DKIM result for the slow key).
delivered_with_ar() {
    local f ar
    sink_wait_for "$1" 15 || { echo "# $1 was not delivered"; return 1; }
    f=$(sink_files_with "$1" | head -n 1)
    ar=$(tr -d '\r' <"$f" | sed -e ':a' -e '$!N;s/\n[ \t]\+/ /;ta' -e 'P;D' |
        grep -E "^Authentication-Results: $ID; spf=pass smtp.mailfrom=$FROM; dkim=(fail|permerror|neutral)")
    [ -n "$ar" ] && echo "# $ar" && return 0
    show "$f" "delivered message"
    return 1
}

# --- sendmail: R as long as one budget, then R:60s -------------------------------
SM_FILTER_OPTS=', F=T, T=S:30s;R:2s;E:5m' start_sendmail "unix:$MXG_SOCK" ||
    setup_failed "sendmail did not start"
id=$(test_id)
send sendmail "$T/sm-short.out" "$id"
check "sendmail T=R:2s (shorter than the end of message): the end of data is tempfailed (451 4.3.2)" \
    reply_after "$T/sm-short.out" "." "^451 4\.3\.2 "
check "sendmail T=R:2s: nothing delivered" sm_never_got "$id"
stop_sendmail
start_sendmail "unix:$MXG_SOCK" || setup_failed "sendmail did not start with T=S:30s;R:60s;E:5m"
check "sendmail: the recommended T= is in the .cf" grep -q "T=S:30s;R:60s;E:5m" "$SM_CF"
id=$(test_id)
send sendmail "$T/sm-long.out" "$id"
check "sendmail T=R:60s: accepted" reply_after "$T/sm-long.out" "." "^250 2\.0\.0 "
check "sendmail T=R:60s: delivered with spf=pass and the DKIM result" delivered_with_ar "$id"
stop_sendmail

# --- postfix: milter_content_timeout as long as one budget, then its default ------
start_postfix "unix:$MXG_SOCK" || setup_failed "postfix did not start"
pf_set milter_content_timeout=2s && pf_reload
check "postfix reloaded with milter_content_timeout = 2s" pf_log_wait "reload -- version"
id=$(test_id)
send postfix "$T/pf-short.out" "$id"
check "postfix milter_content_timeout = 2s: the end of data is tempfailed (4xx)" \
    reply_after "$T/pf-short.out" "." "^4[0-9][0-9] "
check "postfix milter_content_timeout = 2s: nothing delivered" sink_never_got "$id"
pf_set milter_content_timeout=300s && pf_reload
wait_for 10 test "$(grep -c 'reload -- version' "$PF_LOG")" -ge 2
id=$(test_id)
send postfix "$T/pf-long.out" "$id"
check "postfix milter_content_timeout = 300s: accepted" reply_after "$T/pf-long.out" "." "^250 2\.0\.0 "
check "postfix milter_content_timeout = 300s: delivered with spf=pass and the DKIM result" delivered_with_ar "$id"

finish
