#!/bin/bash
# dmarc_mta.sh: the shipped gateway rules' DMARC verdicts through the
# private postfix and the private sendmail, one mxguard behind both, its
# DNS a real nsd on loopback. An outside client (127.0.0.2; the trusted
# networks narrowed to 127.0.0.1/32) sends mail whose From: domain
# publishes p=reject (refused at the end of data with 550 5.7.1 naming
# the domain, nothing delivered) and p=quarantine (accepted, and held:
# postfix's hold queue, sendmail's quarantined queue file with the reason),
# and mail whose SPF aligns (delivered, dmarc=pass in our
# Authentication-Results).
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
. "$SRCDIR/tests/lib/sendmail.sh"
. "$SRCDIR/tests/lib/dns.sh"
need_both_mtas
need_nsd

ID=mx.dmarc.test
OUTSIDE=127.0.0.2

R="$T/rules"
copy_gateway_rules "$R"
sed -i -E 's|^127\.0\.0\.0/8[[:space:]]*$|127.0.0.1/32|' "$R/trusted-networks"
grep -qx '127.0.0.1/32' "$R/trusted-networks" ||
    setup_failed "rules/examples/trusted-networks has no line 127.0.0.0/8 to narrow (update this test)"
chmod -R u=rwX,go=rX "$R"
"$MXGUARD" -n -c "$R/gateway.rules" >"$T/check.out" 2>&1 || { cat "$T/check.out"; setup_failed "rules do not load"; }

dns_zone example. <<ZONE
_dmarc.bank     TXT  "v=DMARC1; p=reject"
_dmarc.shop     TXT  "v=DMARC1; p=quarantine"
shop            TXT  "v=spf1 ip4:127.0.0.2 -all"
ZONE
start_gateway_dns || setup_failed "nsd did not start"
# The records file in a directory the run user may write.
mkdir -m 777 "$T/rec"
start_mxguard "$R/gateway.rules" "$GATEWAY_DNS" --authserv-id "$ID" --dns-timeout 2000 --dns-budget 4000 \
    --records "$T/rec/records.jsonl" ||
    setup_failed "mxguard did not start"
start_sink || setup_failed "smtp-sink did not start"
start_postfix "unix:$MXG_SOCK" || setup_failed "postfix did not start"
start_sendmail "unix:$MXG_SOCK" || setup_failed "sendmail did not start"

headers_of() { sed -n '1,/^\r\{0,1\}$/p' "$1" | tr -d '\r' | sed -e ':a' -e '$!N;s/\n[ \t]\+/ /;ta' -e 'P;D'; }

# send MTA OUTFILE FROM-FIELD MAILFROM ID
send() {
    local port=$PF_PORT
    [ "$1" = sendmail ] && port=$SM_PORT
    swaks --server 127.0.0.1 --port "$port" --local-interface "$OUTSIDE" --helo client.mxguard.test \
        --timeout 30 --from "$4" --to user@example.org --header "From: $3" --header "X-Test-Id: $5" \
        >"$2" 2>&1 </dev/null
}
pf_held() { [ -n "$(find "$PF_QUEUE/hold" -type f 2>/dev/null | head -n 1)" ]; }
sink_lacks() { ! sink_has "$1"; }
sm_held() { grep -lq "^qDMARC policy of shop\.example" "$SM_QUEUE"/* 2>/dev/null; }

for mta in postfix sendmail; do
    id=$(test_id)
    send $mta "$T/$mta.reject" "Your Bank <alerts@bank.example>" sender@outside.example "$id"
    check "$mta: p=reject refused at the end of data with 550 5.7.1 naming the domain" \
        reply_after "$T/$mta.reject" "." "^550 5\.7\.1 DMARC: bank\.example asks to reject mail that fails its policy"
    if [ $mta = postfix ]; then
        check "$mta: ... nothing delivered" sink_never_got "$id"
    else
        check "$mta: ... nothing delivered" never_got_after sm_queue_empty sm_queue_show "$id"
    fi

    id=$(test_id)
    send $mta "$T/$mta.quar" "deals@shop.example" sender@outside.example "$id"
    check "$mta: p=quarantine accepted at the end of data" reply_after "$T/$mta.quar" "." "^250 "
    if [ $mta = postfix ]; then
        check "$mta: ... and held in the hold queue, not delivered" wait_for 10 pf_held
        check "$mta: ... the reason in mxguard's log" wait_for 5 grep -q "DMARC policy of shop.example" "$MXG_LOG"
    else
        check "$mta: ... and quarantined in the queue with the reason" wait_for 10 sm_held
    fi
    check "$mta: ... not at the sink" sink_lacks "$id"

    id=$(test_id)
    send $mta "$T/$mta.pass" "deals@shop.example" news@shop.example "$id"
    check "$mta: SPF aligned with the From: domain: delivered" sink_wait_for "$id" 15
    f=$(sink_files_with "$id" | head -n 1)
    check "$mta: ... dmarc=pass in our Authentication-Results" \
        contains <(headers_of "${f:-/dev/null}" | grep "^Authentication-Results: $ID;") \
        "dmarc=pass header\.from=shop\.example policy\.dmarc=none"
done
# The decision records: the log line and the JSON file say what DMARC found.
check "the record line: dmarc=fail, the policy, the From: domain, no alignment, and its microseconds" \
    wait_for 5 grep -Eq "record=message .* dmarc=fail dmarc.policy=reject dmarc.from=bank.example dmarc.spf_aligned=no dmarc.dkim_aligned=no .*us.dmarc=[0-9]+" "$MXG_LOG"
check "... an aligned pass: dmarc.spf_aligned=yes" \
    grep -Eq "record=message .* dmarc=pass dmarc.policy=none dmarc.from=shop.example dmarc.spf_aligned=yes" "$MXG_LOG"
if command -v jq >/dev/null 2>&1; then
    check "the JSON record: a dmarc object with result, policy, from and the aligned booleans" \
        test "$(jq -c 'select(.dmarc.result == "fail" and .dmarc.from == "shop.example") | [.dmarc.policy, .dmarc.spf_aligned, .dmarc.dkim_aligned, (.us.dmarc >= 0)]' "$T/rec/records.jsonl" | sort -u)" = '["quarantine",false,false,true]'
else
    check "jq is installed (scripts/install-deps.sh)" false
fi
finish
