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
need_cmd openssl
SIGN="$BUILDDIR/tests/dkim/dkim_sign"
mkdir -m 700 "$T/keys"
(umask 077; openssl genrsa -out "$T/keys/sel.pem" 2048 2>/dev/null)
KEY_TXT=$(openssl rsa -in "$T/keys/sel.pem" -pubout -outform DER 2>/dev/null | base64 -w0 | fold -w 200 |
          sed 's/.*/"&"/' | tr '\n' ' ')

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
sel._domainkey.bank TXT "v=DKIM1; k=rsa; p=" $KEY_TXT
_dmarc.monitor  TXT  "v=DMARC1; p=none"
shop            TXT  "v=spf1 ip4:127.0.0.2 -all"
ZONE
start_gateway_dns || setup_failed "nsd did not start"
# The records file in a directory the run user may write.
mkdir -m 777 "$T/rec"
start_mxguard "$R/gateway.rules" "$GATEWAY_DNS" --authserv-id "$ID" --dns-timeout 2000 --dns-budget 4000 \
    --records "$T/rec/records.jsonl" --dmarc-history "$T/rec/dmarc.history" ||
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
# The aggregate-report data: one history record per message DMARC judged
# (OpenDMARC's format; tests/dmarc/history_import.sh feeds it to
# opendmarc-import): bank.example's refusals with policy 16 (reject) and
# action 0 (rejected), shop.example's quarantines with 17 and 4.
kill -USR1 "$MXG_PID" 2>/dev/null    # flushes the buffered files
history_has() { awk -v d="$1" -v p="$2" -v a="$3" '
    $1 == "job" { f = ""; pol = "" } $1 == "from" { f = $2 } $1 == "policy" { pol = $2 }
    $1 == "action" && f == d && pol == p && $2 == a { n++ } END { exit n >= 2 ? 0 : 1 }' "$T/rec/dmarc.history"; }
check "--dmarc-history: the two p=reject refusals (policy 16, action 0)" wait_for 5 history_has bank.example 16 0
check "--dmarc-history: the two p=quarantine holds (policy 17, action 4)" wait_for 5 history_has shop.example 17 4

# Through postfix only, what the loop above does not show: an aligned
# DKIM signature satisfies p=reject; p=none delivers and says the failure;
# a _dmarc question nobody answers (nsd serves no net. zone) is a
# tempfail, never "none"; our own users' mail is not evaluated.
message() {
    printf '%s\n' "From: Someone <$3>" "To: user@example.org" "Subject: dmarc $2" \
        "Date: Mon, 07 Dec 2026 12:00:00 +0000" "Message-ID: <$2@mxguard.test>" "X-Test-Id: $2" "" \
        "Hello." >"$1"
}
ar_of() { headers_of "${1:-/dev/null}" | grep "^Authentication-Results: $ID;"; }
id=$(test_id); message "$T/dkim.eml" "$id" "alerts@bank.example"
"$SIGN" -k "$T/keys/sel.pem" -s sel -d bank.example "$T/dkim.eml" >"$T/dkim-signed.eml" 2>"$T/sign.err" ||
    { cat "$T/sign.err"; setup_failed "dkim_sign failed"; }
smtp_send "$T/dkim.out" --local-interface "$OUTSIDE" --from sender@outside.example --to user@example.org \
    --data "$T/dkim-signed.eml"
check "p=reject, aligned through DKIM only (d=bank.example): delivered" sink_wait_for "$id" 15
check "... dmarc=pass in our Authentication-Results" \
    contains <(ar_of "$(sink_files_with "$id" | head -n 1)") "dkim=pass header\.d=bank\.example.*dmarc=pass header\.from=bank\.example"

id=$(test_id); message "$T/none.eml" "$id" "a@monitor.example"
smtp_send "$T/none.out" --local-interface "$OUTSIDE" --from sender@outside.example --to user@example.org \
    --data "$T/none.eml"
check "p=none, not aligned: delivered" sink_wait_for "$id" 15
check "... dmarc=fail with policy.dmarc=none" \
    contains <(ar_of "$(sink_files_with "$id" | head -n 1)") "dmarc=fail .*header\.from=monitor\.example policy\.dmarc=none"

id=$(test_id); message "$T/temp.eml" "$id" "a@unanswered.net"
smtp_send "$T/temp.out" --local-interface "$OUTSIDE" --from sender@outside.example --to user@example.org \
    --data "$T/temp.eml"
check "a _dmarc question that is not answered: 451 4.7.5 at the end of data" \
    reply_after "$T/temp.out" "." "^451 4\.7\.5 DMARC policy of unanswered\.net could not be looked up now"
# The hold queue keeps the quarantined messages above: wait for the queues
# that move mail to drain, then look at the sink.
pf_moving_empty() {
    local d
    for d in maildrop incoming active deferred; do
        [ -z "$(find "$PF_QUEUE/$d" -type f -print -quit 2>/dev/null)" ] || return 1
    done
}
check "... nothing delivered (the sender retries)" never_got_after pf_moving_empty pf_queue_show "$id"

id=$(test_id); message "$T/ours.eml" "$id" "alerts@bank.example"
smtp_send "$T/ours.out" --from app@example.org --to user@example.org --data "$T/ours.eml"
check "our own user (127.0.0.1), From: a p=reject domain, unsigned: delivered" sink_wait_for "$id" 15
check "... not DMARC-evaluated (no dmarc= result)" not_contains "$(sink_files_with "$id" | head -n 1)" "dmarc="
finish
