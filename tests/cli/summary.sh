#!/bin/bash
# summary.sh: mxguard --summary on decision records written by the
# contract (mxguard(8), DECISION RECORDS): twelve records spread over
# three log files in the three line prefixes (syslog, RFC 3339 syslog,
# mxguard -f's standard error), among other programs' lines and
# mxguard's other lines, and the same twelve as JSON lines
# (records.jsonl); a hostile record (quotes, '=' and \x0a in values, a
# client name with a newline); in each form two lines that break the
# contract. The reports are compared exactly with tests/cli/records/*.out.
. "$SRCDIR/tests/lib/common.sh"
cd "$SRCDIR" || exit 1

R=tests/cli/records
LOGS="$R/syslog.txt $R/syslog-rfc3339.txt $R/foreground.txt"

# same_report EXPECTED ACTUAL: exactly, or the diff in the test's output.
same_report() {
    if diff -u "$1" "$2" >"$T/diff"; then
        return 0
    fi
    sed 's/^/#   /' "$T/diff"
    return 1
}

# --- the whole report from the log files --------------------------------------
# shellcheck disable=SC2086
"$MXGUARD" --summary $LOGS >"$T/all" 2>"$T/all.err"
check "the log files: exit 0" test $? -eq 0
check "the log files: totals, top rules, refused clients and sender domains, hours" same_report "$R/all.out" "$T/all"
cat >"$T/all.err.want" <<EOF
mxguard: --summary: $R/syslog.txt:8: not parsed: a quoted value without its closing quote
mxguard: --summary: $R/syslog.txt:11: not parsed: a field repeated, or a recipient number out of range
EOF
check "the lines that break the contract are named on standard error" same_report "$T/all.err.want" "$T/all.err"
check "another program's record= line is not a record" \
    contains "$T/all" '^Lines read: 20; records: 12; other lines: 6; not parsed: 2$'
check "the hostile record: its client's name escaped, one line" \
    contains "$T/all" '^       1       1         0  192\.0\.2\.99    "a \\"b\\"\\x0ac\.example"$'
check "the hostile record: the sender domain after the last @" \
    contains "$T/all" '^       1       1         0  elsewhere\.example$'

# --- the same records as JSON lines: the same report, but for the lines read
"$MXGUARD" --summary $R/records.jsonl >"$T/json" 2>"$T/json.err"
check "the JSON file: exit 0" test $? -eq 0
head -n -1 "$R/all.out" >"$T/all.head"
head -n -1 "$T/json" >"$T/json.head"
check "the JSON lines give the log files' report" same_report "$T/all.head" "$T/json.head"
check "the JSON lines: lines read" \
    test "$(tail -n 1 "$T/json")" = "Lines read: 14; records: 12; other lines: 0; not parsed: 2"
check "the JSON lines that break the contract are named" \
    test "$(grep -c "^mxguard: --summary: $R/records.jsonl:[47]: not parsed: " "$T/json.err")" = 2

# --- standard input: none or "-" ----------------------------------------------
# shellcheck disable=SC2086
cat $LOGS | "$MXGUARD" --summary >"$T/stdin" 2>/dev/null
check "no file: standard input" same_report "$R/all.out" "$T/stdin"
# shellcheck disable=SC2086
cat $LOGS | "$MXGUARD" --summary - >"$T/dash" 2>/dev/null
check "file -: standard input" same_report "$R/all.out" "$T/dash"

# --- --rule and --day ---------------------------------------------------------
# shellcheck disable=SC2086
"$MXGUARD" --summary --rule relay --day 2026-12-06 $LOGS >"$T/relay" 2>/dev/null
check "--rule LABEL --day DATE" same_report "$R/relay-2026-12-06.out" "$T/relay"
"$MXGUARD" --summary --day 2026-12-06 --rule relay $R/records.jsonl >"$T/relay-json" 2>/dev/null
check "--rule and --day on the JSON lines" same_report <(head -n -1 "$R/relay-2026-12-06.out") <(head -n -1 "$T/relay-json")
# Every way to name the rule keeps the same records.
sed 1,2d "$R/relay-2026-12-06.out" >"$T/relay.body"
for ref in /etc/mxguard/mxguard.rules:40 mxguard.rules:40 '/etc/mxguard/mxguard.rules:40[relay]'; do
    # shellcheck disable=SC2086
    "$MXGUARD" --summary --rule "$ref" --day 2026-12-06 $LOGS 2>/dev/null | sed 1,2d >"$T/ref"
    check "--rule $ref: the records of [relay]" same_report "$T/relay.body" "$T/ref"
done
for ref in 40 rules:40 relay-denied /etc/mxguard/mxguard.rules; do
    # shellcheck disable=SC2086
    "$MXGUARD" --summary --rule "$ref" $LOGS >"$T/none" 2>/dev/null
    check "--rule $ref matches nothing" contains "$T/none" '^mxguard summary: records: 0; '
done
"$MXGUARD" --summary --day 2026-12-05 $R/records.jsonl >"$T/day" 2>/dev/null
check "--day DATE: the records of that UTC day" same_report "$R/day-2026-12-05.out" "$T/day"
# "what did the greylisting rule refuse": a tempfail, and its client and sender domain.
# shellcheck disable=SC2086
"$MXGUARD" --summary --rule greylist $LOGS >"$T/grey" 2>/dev/null
check "--rule greylist: one tempfail" contains "$T/grey" '^       1  tempfail  /etc/mxguard/mxguard\.rules:62\[greylist\]$'
check "--rule greylist: its client" contains "$T/grey" '^       1       0         1  198\.51\.100\.7  mx\.partner\.example$'
check "--rule greylist: the null sender" contains "$T/grey" '^       1       0         1  <>$'

# today and yesterday are UTC days: the fixtures moved to them.
for try in 1 2; do
    today=$(date -u +%F)
    yesterday=$(date -u -d yesterday +%F)
    # shellcheck disable=SC2086
    cat $LOGS | sed "s/time=2026-12-05T/time=1999-01-01T/; s/time=2026-12-06T/time=${yesterday}T/" >"$T/moved"
    "$MXGUARD" --summary --rule relay --day yesterday "$T/moved" 2>/dev/null | sed 1,2d >"$T/yesterday"
    sed "s/time=${yesterday}T/time=${today}T/" "$T/moved" >"$T/moved-today"
    "$MXGUARD" --summary --rule relay --day today "$T/moved-today" 2>/dev/null | sed 1,2d >"$T/today"
    [ "$today" = "$(date -u +%F)" ] && break # else midnight passed: once more
done
sed "s/^2026-12-06 /$yesterday /" "$T/relay.body" >"$T/relay.moved"
check "--day yesterday" same_report "$T/relay.moved" "$T/yesterday"
sed "s/^2026-12-06 /$today /" "$T/relay.body" >"$T/relay.today"
check "--day today" same_report "$T/relay.today" "$T/today"

# --- the contract, strictly: each line below breaks it and is not counted ----
# (sed expressions on a good record; "good" first, to show the base parses)
LOG1=$(sed -n 2p "$R/syslog.txt")
JSON1=$(sed -n 1p "$R/records.jsonl")
# one_line FORM WHAT EDIT: the record of FORM changed by EDIT is one record ("good") or one line not parsed.
one_line() {
    printf '%s\n' "$([ "$1" = log ] && echo "$LOG1" || echo "$JSON1")" | sed "$3" >"$T/one"
    "$MXGUARD" --summary "$T/one" >"$T/out" 2>"$T/err"
    if [ "$2" = good ]; then
        check "$1: a good record is one" contains "$T/out" '^Lines read: 1; records: 1; other lines: 0; not parsed: 0$'
    else
        check "$1: $2: not parsed" contains "$T/out" '^Lines read: 1; records: 0; other lines: 0; not parsed: 1$'
    fi
}
while IFS='|' read -r what edit; do one_line log "$what" "$edit"; done <<'EOF'
good|s/x/x/
no outcome|s/ outcome=accept//
an outcome the contract does not know|s/outcome=accept/outcome=continue/
a time that is not UTC|s/\.000Z/+01:00/
a time that is no time|s/T23:10/T24:10/
a repeated field|s/ rule=default/ rule=default rule=x/
a forged second outcome|s/ headers=0/ outcome=reject headers=0/
recipient 0|s/rcpt\.2/rcpt.0/g
recipient 51|s/rcpt\.2/rcpt.51/g
a recipient without a rule|s/ rcpt\.2\.rule=default//
an action the contract does not know|s/rcpt\.2\.action=accept/rcpt.2.action=continue/
more taken than RCPT commands|s/taken=1/taken=3/
a message with no sender|s/ from=[^ ]*//
a message that was closed|s/outcome=accept/outcome=closed/
a connection that was aborted|s/record=message/record=connection/; s/outcome=accept/outcome=aborted/
a client without its address|s/client=mail.example.org\[192.0.2.10\]/client=mail.example.org/
text after the fields|s/$/: text/
a quoted value cut off|s/ access denied".*$//
a bare 8-bit byte|s/helo=mail/helo=m\xffil/
two spaces|s/ auth=-/  auth=-/
EOF
while IFS='|' read -r what edit; do one_line JSON "$what" "$edit"; done <<'EOF'
good|s/x/x/
two objects on a line|s/$/{}/
trailing text|s/$/ x/
not JSON at all|s/:/=/g
a count as a string|s/"rcpts":2/"rcpts":"2"/
a negative count|s/"taken":1/"taken":-1/
a client as a string|s/"client":{[^}]*}/"client":"192.0.2.10"/
recipients not a list|s/"recipients":\[/"recipients":{"x":[/; s/\],"rcpts_more"/]},"rcpts_more"/
a recipient without an action|s/"action":"accept",//
an outcome the contract does not know|s/"outcome":"accept"/"outcome":"continue"/
a time that is not UTC|s/\.000Z/+01:00/
invalid UTF-8|s/mail\.example\.org/m\xffil.example.org/
no record kind|s/"record":"message",//
EOF

# A line that says fields were left out (cut=N): a recipient that lost
# one is left out of the counts, the rest of the record counts.
printf '%s\n' "$LOG1" | sed 's/ rcpt\.1\.rule=[^ ]*//; s/$/ cut=1/' >"$T/one"
"$MXGUARD" --summary "$T/one" >"$T/out" 2>"$T/err"
check "log: cut=N: the record counts" contains "$T/out" '^Lines read: 1; records: 1; other lines: 0; not parsed: 0$'
check "log: cut=N: the recipient that lost its rule does not" not_contains "$T/out" 'mxguard\.rules:40\[relay\]'
check "log: cut=N: the others do" contains "$T/out" '^       2  accept    default$'
printf '%s\n' "$LOG1" | sed 's/ rcpt\.1\.rule=[^ ]*//; s/$/ cut=x/' >"$T/one"
"$MXGUARD" --summary "$T/one" >"$T/out" 2>"$T/err"
check "log: cut=x: not parsed" contains "$T/out" '^Lines read: 1; records: 0; other lines: 0; not parsed: 1$'
# A client without an address (a local socket): ip=unknown in the log, null in JSON.
printf '%s\n' "$JSON1" | sed 's/"ip":"192\.0\.2\.10"/"ip":null/; s/"name":"mail\.example\.org"/"name":null/' >"$T/one.json"
printf '%s\n' "$LOG1" | sed 's/client=mail\.example\.org\[192\.0\.2\.10\] ip=192\.0\.2\.10/client=unknown[unknown] ip=unknown/' >"$T/one.log"
"$MXGUARD" --summary "$T/one.json" >"$T/out.json" 2>/dev/null
"$MXGUARD" --summary "$T/one.log" >"$T/out.log" 2>/dev/null
check "no client address: unknown, in both forms" contains "$T/out.json" '^       1       1         0  unknown  unknown$'
check "no client address: the same report from both forms" same_report "$T/out.log" "$T/out.json"

# --- mistakes -----------------------------------------------------------------
"$MXGUARD" --summary "$R/no-such-file" >"$T/out" 2>"$T/err"
check "a file that cannot be read: exit 1" test $? -eq 1
check "... and why" contains "$T/err" "^mxguard: --summary: cannot read $R/no-such-file: No such file or directory\$"
check "... and no report" test ! -s "$T/out"
"$MXGUARD" --rule relay "$R/all.out" >"$T/out" 2>"$T/err"
check "--rule without --summary: exit 2" test $? -eq 2
check "... and why" contains "$T/err" '^mxguard: --rule and --day go with --summary$'
"$MXGUARD" --summary --day 2026-02-30 >"$T/out" 2>"$T/err" </dev/null
check "--day with no such date: exit 2" test $? -eq 2
check "... and why" contains "$T/err" '^mxguard: --day: expected today, yesterday or YYYY-MM-DD, found "2026-02-30"$'

# A line longer than the 1 MiB bound is counted as not parsed, never read in part.
{
    head -n 2 "$R/syslog.txt"
    printf 'Dec  6 10:00:00 gw mxguard[1]: record=message helo='
    head -c 1100000 /dev/zero | tr '\0' a
    echo
} >"$T/long"
"$MXGUARD" --summary "$T/long" >"$T/out" 2>"$T/err"
check "a line over 1 MiB: not parsed" contains "$T/out" '^Lines read: 3; records: 1; other lines: 1; not parsed: 1$'
check "... and why" contains "$T/err" ':3: not parsed: a line longer than 1 MiB$'

finish
