#!/bin/bash
# postfix_records.sh: decision records end to end. A private postfix
# presents outside clients with XCLIENT; mxguard asks a real nsd on
# loopback for a DNS list and SPF. After a mixed run (delivered, relay
# refused, listed, SPF fail, a recipient dressed as log fields) the records
# tell what postfix's maillog and the sink tell: one record a message,
# with the real rule, outcome and recipient whatever the client sent; the
# JSON file holds the same records, one valid JSON object a line, and a
# rotation by SIGUSR1 loses none. The counters on the metrics endpoint
# equal the same counts (and promtool accepts them), and --summary on the
# records gives the same totals.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
. "$SRCDIR/tests/lib/dns.sh"
need_postfix
need_dns
need_nsd
need_cmd jq
need_cmd curl
need_cmd promtool

dns_zone test. <<'ZONE'
7.113.0.203.bl  A    127.0.0.2
ZONE
dns_zone example. <<'ZONE'
pass            TXT  "v=spf1 ip4:203.0.113.0/24 -all"
fail            TXT  "v=spf1 ip4:192.0.2.1 -all"
ZONE
start_nsd || setup_failed "nsd did not start"

mkdir -p "$T/rules"
cat >"$T/rules/records.rules" <<'RULES'
list local_domains domains { example.org };
dnslist bl { zone "bl.test"; }
on rcpt {
    [listed] reject 554 5.7.1 "Service refused: %{client.address} is listed" if client.address in <bl>;
    [local] continue if recipient.domain in <local_domains>;
    [relay-denied] reject 554 5.7.1 "<%{recipient}>: Relay access denied";
}
on eom {
    [spf-fail] reject 550 5.7.23 "SPF: %{spf.domain} does not allow %{client.address}" if spf.result = "fail";
}
RULES
chmod -R go+rX "$T/rules"
"$MXGUARD" -n -c "$T/rules/records.rules" >"$T/check.out" 2>&1 || { cat "$T/check.out"; setup_failed "rules do not load"; }

# A records file that cannot be opened: a clear error and no filter, never mail without records.
ensure_user
timeout 30 "$MXGUARD" -f -c "$T/rules/records.rules" -p "unix:$T/bad.sock" -u mxguard --dns=127.0.0.1@9 \
    --records "$T/no-such-dir/records.json" >"$T/bad.out" 2>&1 </dev/null
check "an unopenable --records file stops mxguard (exit 1)" test $? -eq 1
check "and says which file and why" \
    contains "$T/bad.out" "--records $T/no-such-dir/records.json: cannot open: No such file or directory"

# The records file lives where the run user may write and logrotate may move.
mkdir -p "$T/rec" && chown mxguard "$T/rec"
JSON="$T/rec/records.json"
MPORT=$(free_port) || setup_failed "no free port"
start_mxguard "$T/rules/records.rules" --dns "127.0.0.1@$NSD_PORT" --dns-timeout 2000 --dns-budget 4000 \
    --records "$JSON" --metrics-listen "127.0.0.1:$MPORT" || setup_failed "mxguard did not start"
start_sink || setup_failed "smtp-sink did not start"
start_postfix "unix:$MXG_SOCK" || setup_failed "postfix did not start"

ids=""
send() { # send NAME swaks-args...: one SMTP session
    local name=$1 id; shift
    id=$(test_id); ids="$ids $id"
    smtp_send "$T/$name.out" --header "X-Test-Id: $id" "$@"
}
for i in 1 2 3; do
    send ok$i --xclient-addr 203.0.113.8 --from sender@pass.example --to user@example.org
done
for i in 1 2; do
    send relay$i --xclient-addr 203.0.113.8 --from sender@pass.example --to victim@elsewhere.example
    send listed$i --xclient-addr 203.0.113.7 --from sender@pass.example --to user@example.org
    send spf$i --xclient-addr 203.0.113.8 --from sender@fail.example --to user@example.org
done
# Two recipients, one refused: the message is delivered to the other.
send mixed --xclient-addr 203.0.113.8 --from sender@pass.example --to user@example.org,victim@elsewhere.example
# A recipient dressed as log fields (issue 13's forged session).
FORGED='"x rule=/etc/ok.rules:1 action=continue outcome=accept"@elsewhere.example'
send forged --xclient-addr 203.0.113.8 --from sender@pass.example --to "$FORGED"
check "the forged recipient is refused as relaying" reply_after "$T/forged.out" "RCPT TO:" "^554 5\.7\.1 "

# What postfix and the sink say happened.
check "postfix logged every refusal" wait_for 15 sh -c \
    "[ \$(grep -c 'milter-reject:' '$PF_LOG') -ge 8 ]"
check "four messages delivered" wait_for 15 sh -c "[ \$(grep -l 'X-Test-Id' '$SINK_DIR'/* 2>/dev/null | wc -l) -ge 4 ]"
sleep 1
pf_rcpt=$(grep -c 'milter-reject: RCPT from' "$PF_LOG")
pf_eom=$(grep -c 'milter-reject: END-OF-MESSAGE from' "$PF_LOG")
sunk=$(grep -l 'X-Test-Id' "$SINK_DIR"/* 2>/dev/null | wc -l)
echo "# postfix: $pf_rcpt RCPT and $pf_eom END-OF-MESSAGE refusals; the sink: $sunk messages"

# Rotate: move the file, signal, then one more message. Records written
# before the signal are in the moved file, none are lost.
mv "$JSON" "$JSON.1"
kill -USR1 "$MXG_PID"
check "the filter reopened the records file" wait_for 10 test -e "$JSON"
send after --xclient-addr 203.0.113.8 --from sender@pass.example --to user@example.org
check "the message after the rotation is delivered" wait_for 15 sh -c \
    "[ \$(grep -l 'X-Test-Id' '$SINK_DIR'/* 2>/dev/null | wc -l) -ge 5 ]"
check "a record is in the file within seconds, not only at the end" \
    wait_for 5 grep -q '"record":"message"' "$JSON"

# The counters, read while the daemon runs, against postfix's and the sink's counts.
scrape() { curl -sf --max-time 5 "http://127.0.0.1:$MPORT/metrics" >"$T/metrics.txt"; }
metric() { awk -v m="$1" '$1 == m { print $2 }' "$T/metrics.txt"; }
all_in() { scrape && [ "$(metric 'mxguard_messages_total{outcome="accept"}')" = 5 ]; }
check "the endpoint counts the five delivered messages" wait_for 10 all_in
sed -n '/^mxguard_\(messages\|recipients\|rule_decided\|spf_results\|sessions\)/s/^/#   /p' "$T/metrics.txt"
check "messages refused = postfix's refusals of whole messages (5 at RCPT, the rest at end of data)" \
    [ "$(metric 'mxguard_messages_total{outcome="reject"}')" = "$((pf_eom + 5))" ]
check "recipients refused = postfix's RCPT refusals" \
    [ "$(metric 'mxguard_recipients_total{action="reject"}')" = "$pf_rcpt" ]
check "rcpt decisions that refused = postfix's RCPT refusals" \
    [ "$(metric 'mxguard_decisions_total{stage="rcpt",action="reject"}')" = "$pf_rcpt" ]
check "eom decisions that refused = postfix's END-OF-MESSAGE refusals" \
    [ "$(metric 'mxguard_decisions_total{stage="eom",action="reject"}')" = "$pf_eom" ]
check "the rules' own counts: relay-denied 4, listed 2, spf-fail 2" \
    [ "$(metric 'mxguard_rule_decided_total{rule="relay-denied"}') $(metric 'mxguard_rule_decided_total{rule="listed"}') $(metric 'mxguard_rule_decided_total{rule="spf-fail"}')" = "4 2 2" ]
check "SPF results: 2 fail" [ "$(metric 'mxguard_spf_results_total{identity="mailfrom",result="fail"}')" = 2 ]
promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1
check "promtool check metrics accepts the endpoint's text" test $? -eq 0 -a ! -s "$T/promtool.out"
"$MXGUARD" --stats --metrics-listen "127.0.0.1:$MPORT" >"$T/stats.out" 2>&1
check "mxguard --stats prints the same numbers" test $? -eq 0
sed 's/^/#   /' "$T/stats.out"
stop_mxguard

python3 "$SRCDIR/tests/protocol/logfields.py" --records "$MXG_LOG" >"$T/records"
echo "# the records:"; sed 's/^/#   /' "$T/records"
check "every record line parses, each key once" not_contains "$T/records" "^BROKEN"
R="$T/records"
count() { jq -s "[.[] | select($1)] | length" "$R"; }
check "one record a message: 12 sessions, 12 message records" [ "$(count '.record == "message"')" = 12 ]
check "delivered records = messages at the sink" [ "$(count '.outcome == "accept"')" = "$((sunk + 1))" ]
check "records refused at rcpt = postfix's RCPT refusals (the mixed message counts its refused recipient)" \
    [ "$(jq -s '[.[] | to_entries[] | select((.key | test("^rcpt\\.[0-9]+\\.action$")) and .value == "reject")] | length' "$R")" = "$pf_rcpt" ]
check "records refused at eom = postfix's END-OF-MESSAGE refusals" \
    [ "$(count '.outcome == "reject" and .stage == "eom"')" = "$pf_eom" ]
check "the SPF refusals name their rule and SPF's result" \
    [ "$(count '.rule | test("records.rules:[0-9]+\\[spf-fail\\]$")')" = 2 ]
check "the listed client's records carry the DNS list's answer" \
    [ "$(count '.["dnsl.1.result"] == "listed" and .["dnsl.1.codes"] == "127.0.0.2" and (.rule | test("\\[listed\\]$"))')" = 2 ]
check "the mixed message: delivered, its second recipient refused by relay-denied" \
    [ "$(count '.rcpts == "2" and .taken == "1" and .outcome == "accept" and (.["rcpt.2.rule"] | test("\\[relay-denied\\]$"))')" = 1 ]
forged=$(jq -c 'select(.["rcpt.1"] // "" | test("x rule="))' "$R")
echo "# the forged recipient's record: $forged"
check "the forged recipient: rcpt.1 is the whole recipient" \
    [ "$(jq -r '.["rcpt.1"]' <<<"$forged")" = "<$FORGED>" ]
check "the forged recipient: the real rule, outcome and action" \
    [ "$(jq -r '[.outcome, .["rcpt.1.action"], (.rule | test("\\[relay-denied\\]$"))] | join(" ")' <<<"$forged")" = "reject reject true" ]

# The JSON file: the same records, each line valid JSON on its own.
cat "$JSON.1" "$JSON" >"$T/all.json"
check "every JSON line is valid JSON on its own" sh -c "while IFS= read -r l; do printf '%s' \"\$l\" | jq -e . >/dev/null || exit 1; done <'$T/all.json'"
check "the JSON file holds every record (none lost in the rotation)" [ "$(wc -l <"$T/all.json")" = "$(wc -l <"$R")" ]
check "the message after the rotation went to the new file" \
    [ "$(jq -s '[.[] | select(.record == "message")] | length' "$JSON")" = 1 ]
check "the JSON and log records agree on outcomes" \
    [ "$(jq -r .outcome "$T/all.json" | sort | uniq -c)" = "$(jq -r .outcome "$R" | sort | uniq -c)" ]
check "JSON: the forged recipient is one string" \
    [ "$(jq -r 'select(.recipients[0].address | test("x rule=")) | .recipients[0].address' "$T/all.json")" = "<$FORGED>" ]

# The summary of the same records, from the log and from the JSON file.
"$MXGUARD" --summary "$MXG_LOG" >"$T/summary.log.out" 2>&1
check "--summary reads the daemon's log" test $? -eq 0
sed 's/^/#   /' "$T/summary.log.out"
"$MXGUARD" --summary "$JSON.1" "$JSON" >"$T/summary.json.out" 2>&1
check "--summary reads the JSON file" test $? -eq 0
check "the log and the JSON file give the same summary" \
    sh -c "grep -v -i 'lines\\|file' '$T/summary.log.out' >'$T/a'; grep -v -i 'lines\\|file' '$T/summary.json.out' >'$T/b'; cmp -s '$T/a' '$T/b'"
check "--summary: five messages accepted, seven refused" \
    sh -c "grep -Eq '^ +5 +accept\$' '$T/summary.log.out' && grep -Eq '^ +7 +reject\$' '$T/summary.log.out'"
check "--summary: the top rule is relay-denied" \
    sh -c "grep -A6 -i 'top rules' '$T/summary.log.out' | grep -Eq '^ +4 +reject +.*records.rules:6\\[relay-denied\\]\$'"
check "--summary: the top refused client" \
    sh -c "grep -A2 -i 'refused clients' '$T/summary.log.out' | grep -Eq '^ +6 +6 +0 +203\\.0\\.113\\.8 '"
finish
