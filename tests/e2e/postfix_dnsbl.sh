#!/bin/bash
# postfix_dnsbl.sh: a DNS block list end to end. mxguard asks a real nsd on
# loopback through its own resolver; a private postfix presents clients
# with XCLIENT. A listed client gets the admin's reply text with the list's
# TXT reason, verbatim; a client that is not listed is delivered; header
# edits the rules ask for reach the delivered message.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
. "$SRCDIR/tests/lib/dns.sh"
need_postfix
need_dns
need_nsd

dns_zone test. <<'ZONE'
7.113.0.203.bl  A    127.0.0.2
7.113.0.203.bl  TXT  "Listed in bl.test since 2026-11-01, see https://bl.test/lookup"
ZONE
start_nsd || setup_failed "nsd did not start"

mkdir -p "$T/rules"
cat >"$T/rules/dnsbl.rules" <<'RULES'
dnslist bl { zone "bl.test"; }
on rcpt {
    [listed] reject 554 5.7.1 "Service refused: %{client.address} is listed: %{dnsbl.reason}" if client.address in <bl>;
}
on eom {
    [stamp] add-header "X-Mxguard-Checked" "client %{client.address}, not listed";
    [strip] delete-header "X-Internal-Secret";
}
RULES
chmod -R go+rX "$T/rules"
"$MXGUARD" -n -c "$T/rules/dnsbl.rules" >"$T/check.out" 2>&1 || { cat "$T/check.out"; setup_failed "rules do not load"; }

start_mxguard "$T/rules/dnsbl.rules" --dns "127.0.0.1@$NSD_PORT" --dns-timeout 2000 --dns-budget 4000 ||
    setup_failed "mxguard did not start"
start_sink || setup_failed "smtp-sink did not start"
start_postfix "unix:$MXG_SOCK" || setup_failed "postfix did not start"

id1=$(test_id)
smtp_send "$T/1.out" --xclient-addr 203.0.113.7 --from sender@outside.example --to user@example.org \
    --header "X-Test-Id: $id1"
check "listed client: the admin's text with the list's TXT reason" \
    reply_after "$T/1.out" "RCPT TO:<user@example.org>" \
    "^554 5\.7\.1 Service refused: 203\.0\.113\.7 is listed: Listed in bl\.test since 2026-11-01, see https://bl\.test/lookup$"
check "listed client: postfix logs the milter reject" \
    pf_log_wait_str "milter-reject: RCPT from unknown[203.0.113.7]: 554 5.7.1 Service refused: 203.0.113.7 is listed"
check "listed client: nothing reaches the sink" sink_never_got "$id1"

id2=$(test_id)
smtp_send "$T/2.out" --xclient-addr 203.0.113.8 --from sender@outside.example --to user@example.org \
    --header "X-Test-Id: $id2" --header "X-Internal-Secret: 42"
check "client not listed: accepted" reply_after "$T/2.out" "RCPT TO:<user@example.org>" "^250 "
check "client not listed: delivered" sink_wait_for "$id2" 15
f=$(sink_files_with "$id2" | head -n 1)
check "the delivered message carries the header the rules added" \
    grep -q "^X-Mxguard-Checked: client 203.0.113.8, not listed" "${f:-/dev/null}"
check "the header the rules delete is gone" not_contains "${f:-/dev/null}" "^X-Internal-Secret:"

# At its end the filter says how many questions it asked, and how many its
# answer memo served without libunbound (both sessions asked for the same
# client names; the zone's 5 s TTL may have run out between them).
stop_mxguard
sed -n 's/^/#   /; /dns: /p' "$MXG_LOG"
check "the filter logs its DNS questions at exit" \
    grep -Eq "dns: [1-9][0-9]* questions, [0-9]+ answered from the filter's memory" "$MXG_LOG"
finish
