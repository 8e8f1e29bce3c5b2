#!/bin/bash
# check_config.sh: mxguard -n on good and broken rule files.
. "$SRCDIR/tests/lib/common.sh"
cd "$SRCDIR" || exit 1

for f in rules/examples/*.rules; do
    check "$f passes -n" "$MXGUARD" -n -c "$f"
done

# Notices: what postfix and sendmail make differently of the same rules,
# on standard output, and no failure. The shipped rules need none but the
# one about quarantine: the gateway rules quarantine DMARC p=quarantine mail;
# and their virus rule without --clamd says what it does then.
for f in rules/examples/*.rules; do
    "$MXGUARD" -n -c "$f" 2>&1 | grep -v "notice: quarantine: postfix holds" |
        grep -v "notice: the rules read virus.\* but no --clamd is given" >"$T/out"
    check "$f: no MTA notice but quarantine's" not_contains "$T/out" "notice:"
done
G=rules/examples/gateway.rules
"$MXGUARD" -n -c "$G" >"$T/out" 2>&1
check "gateway rules without --clamd: a notice that scans fail and on-error skip lets mail through" \
    contains "$T/out" "^$G: notice: the rules read virus.\* but no --clamd is given: every scan fails, and clamd \{ on-error skip; \} lets messages through unscanned$"
"$MXGUARD" -n -c "$G" --clamd unix:/run/clamav/clamd.ctl >"$T/out" 2>&1
check "... and none with --clamd" not_contains "$T/out" "virus"
"$MXGUARD" -n -c "$G" --clamd tcp:3310 >"$T/out" 2>&1
check "a bad --clamd fails -n" test $? -eq 1
check "... saying what it expected" contains "$T/out" "--clamd tcp:3310: expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST"
N=tests/cli/mta-notes.rules
"$MXGUARD" -n -c "$N" >"$T/out" 2>"$T/err"
check "notices are no failure" test $? -eq 0
sed 's/^/#   /' "$T/out"
check "five notices, nothing on standard error" test "$(grep -c "^$N: notice: " "$T/out")" -eq 5 -a ! -s "$T/err"
check "notice: the queue id read at mail is undefined behind postfix" \
    contains "$T/out" "^$N: notice: macro \"i\" \(read at stage mail\): postfix defines the queue id only once a recipient was accepted"
check "notice: auth.user has a realm behind postfix only" \
    contains "$T/out" "^$N: notice: auth.user \(macro \"\{auth_authen\}\", read at stage mail\) is the bare SASL login behind sendmail"
check "notice: daemon.name means different things" \
    contains "$T/out" "^$N: notice: daemon.name \(macro \"\{daemon_name\}\", read at stage connect\) is the listener's Name="
check "notice: a sendmail-only macro" \
    contains "$T/out" "^$N: notice: macro \"\{if_name\}\" \(read at stage connect\) is sent by sendmail only"
check "notice: what a quarantine becomes in each MTA" \
    contains "$T/out" "^$N: notice: quarantine: postfix holds the message in its hold queue and keeps no reason"

# Three separate mistakes: three file:line:col lines, exit 1.
"$MXGUARD" -n -c tests/cli/bad/three-mistakes.rules >"$T/out" 2>"$T/err"
check "broken file exits 1" test $? -eq 1
sed 's/^/#   /' "$T/err"
check "three file:line:col errors" test "$(grep -Ec '^tests/cli/bad/three-mistakes.rules:[0-9]+:[0-9]+: ' "$T/err")" -eq 3
check "first: a bad network in an inline list" \
    contains "$T/err" '^tests/cli/bad/three-mistakes.rules:4:36: list <nets>: "192.0.2.300": expected an IPv4 or IPv6 address or network$'
check "second: a missing semicolon, naming what was expected" \
    contains "$T/err" "^tests/cli/bad/three-mistakes.rules:9:5: expected 'and', 'or' or ';', found 'reject'$"
check "third: a 4xx code on a reject" \
    contains "$T/err" '^tests/cli/bad/three-mistakes.rules:13:12: expected a 5xx reply code for reject, found 450'

# Warnings alone do not fail the check.
"$MXGUARD" -n -c tests/cli/bad/unreachable.rules >"$T/out" 2>"$T/err"
check "a file with only warnings exits 0" test $? -eq 0
check "unreachable rule is a warning with file:line:col" \
    contains "$T/err" '^tests/cli/bad/unreachable.rules:5:5: warning: this rule can never match: the rule at tests/cli/bad/unreachable.rules:4 always decides first$'

# include, define, regular expressions and warn: one mistake a line.
"$MXGUARD" -n -c tests/cli/bad/language-errors.rules >"$T/out" 2>"$T/err"
check "language errors exit 1" test $? -eq 1
sed 's/^/#   /' "$T/err"
E=tests/cli/bad/language-errors.rules
check "an include cycle is named where it closes" \
    contains "$T/err" "^tests/cli/bad/include/loop.rules:2:9: include \"../language-errors.rules\" includes itself \\(through $E\\)\$"
check "a missing include is named at the include" contains "$T/err" "^$E:3:9: cannot include \"include/missing.rules\"\$"
check "a bad regex points into the pattern" contains "$T/err" "^$E:4:38: invalid regular expression: missing closing parenthesis\$"
check "an undefined macro" contains "$T/err" "^$E:5:28: undefined macro \\\$undefined_text: expected 'define undefined_text"
check "a macro defined twice" contains "$T/err" "^$E:7:8: macro \\\$twice is already defined at $E:6\$"
check "warn continue is refused" contains "$T/err" "^$E:8:16: 'warn' goes with accept, reject, tempfail, discard or quarantine"
check "a regex on a number fact is refused" contains "$T/err" "^$E:9:21: fact \"recipient.count\" is of type number: a regular expression matches text facts only\$"

# DNS list declarations: one mistake a line.
"$MXGUARD" -n -c tests/cli/bad/dnslist-errors.rules >"$T/out" 2>"$T/err"
check "dnslist errors exit 1" test $? -eq 1
sed 's/^/#   /' "$T/err"
D=tests/cli/bad/dnslist-errors.rules
check "a dnslist without a zone" contains "$T/err" "^$D:2:9: dnslist <a>: expected a 'zone \"...\";' setting\$"
check "a malformed zone, reported once" test "$(grep -c "^$D:3:" "$T/err")" -eq 1
check "a bad zone names the problem" contains "$T/err" "^$D:3:13: dnslist <b>: zone \"bad..zone\": empty or malformed domain label\$"
check "a weight out of range" contains "$T/err" "^$D:4:28: dnslist <c>: expected a weight from -100 to 100, found \"1000\"\$"
check "a bitmask out of range" contains "$T/err" "^$D:5:28: dnslist <d>: expected a bitmask from 1 to 255"
check "an unknown on-error" contains "$T/err" "^$D:6:28: dnslist <e>: expected on-error skip or tempfail, found \"maybe\"\$"
check "an unknown setting" contains "$T/err" "^$D:7:28: dnslist <f>: expected zone, codes, bitmask, weight, checks or on-error, found \"colour\"\$"
check "checks must name an address or domain fact" contains "$T/err" "^$D:8:9: dnslist <g>: expected 'checks' to name an address or domain fact"
check "'under' with a DNS list is refused at load (it crashed at evaluation)" \
    contains "$T/err" "^$D:11:21: 'under' matches domains and their subdomains"
check "return codes outside 127.0.0.0/8" contains "$T/err" "^$D:12:36: list <i>: \"10.0.0.1\": expected return codes within 127.0.0.0/8\$"
check "codes and bitmask together" contains "$T/err" "^$D:13:9: dnslist <j>: give codes or bitmask, not both\$"
check "a DNS list tested with a string fact" contains "$T/err" "^$D:10:21: list <h> holds DNS answers \\(an address or a domain\\), but fact \"helo\" is of type string\$"

# Typos: the closest name, and a block left open is named where it opened, in its own file.
"$MXGUARD" -n -c tests/cli/bad/syntax-errors.rules >"$T/out" 2>"$T/err"
check "syntax errors exit 1" test $? -eq 1
sed 's/^/#   /' "$T/err"
S=tests/cli/bad/syntax-errors.rules
check "a ';' after a block's '}' is no mistake" not_contains "$T/err" "found ';'"
check "a misspelt setting" contains "$T/err" "^$S:3:15: dnslist <zen>: unknown setting \"zoen\": did you mean \"zone\"\?\$"
check "a misspelt keyword" contains "$T/err" "^$S:5:5: unknown keyword \"contine\": did you mean 'continue'\?\$"
check "a misspelt list" contains "$T/err" "^$S:6:15: unknown list <lcoal>: did you mean <local>\?\$"
check "a misspelt fact" contains "$T/err" "^$S:7:15: unknown fact \"authenticted\": did you mean \"authenticated\"\?\$"
check "a far-off word gets no suggestion" contains "$T/err" "^$S:8:5: expected something else, found name \"bounce\"\$"
check "a misspelt stage" contains "$T/err" "^$S:10:4: unknown stage \"rctp\": did you mean \"rcpt\"\?\$"
check "an unclosed block, where it opened" \
    contains "$T/err" "^$S:12:1: 'on mail' block opened here is not closed: expected '}' before the end of the file\$"
check "an included file's unclosed block, in that file" \
    contains "$T/err" "^tests/cli/bad/include/unclosed.rules:2:1: 'on helo' block opened here is not closed"
check "eight mistakes, eight lines" test "$(wc -l <"$T/err")" -eq 8

# A rule file's own tests run with -n; a failing one is an error.
# International domain names: a bad one in a list or a constant, with its reason.
"$MXGUARD" -n -c tests/cli/bad/idn-errors.rules >"$T/out" 2>"$T/err"
check "IDN errors exit 1" test $? -eq 1
sed 's/^/#   /' "$T/err"
I=tests/cli/bad/idn-errors.rules
check "three IDN errors, the good IDN entries none" test "$(grep -c "^$I:" "$T/err")" -eq 3
check "an A-label that does not decode" \
    contains "$T/err" "^$I:3:40: list <ours>: \"xn--zz--.example\": \"xn--zz--\" is not a valid A-label: string contains invalid punycode data\$"
check "an address whose domain has a disallowed character" \
    contains "$T/err" "^$I:4:53: list <vips>: \"boss@.*\.example\": \".*\" is not a valid international domain label: string contains a disallowed character\$"
check "a domain constant that is no valid IDN" \
    contains "$T/err" "^$I:7:15: fact \"recipient.domain\" is a domain: \"xn--a.example\": \"xn--a\" is not a valid A-label: "

"$MXGUARD" -n -c tests/cli/bad/failing-test.rules >"$T/out" 2>"$T/err"
check "a failing rule-file test exits 1" test $? -eq 1
check "the failing test is named with file:line:col and what it got" \
    contains "$T/err" '^tests/cli/bad/failing-test.rules:10:32: test "subdomains are not ours": rcpt <u@sub.example.org>: expected reject 554 by relay-denied, got continue 250 by local \(tests/cli/bad/failing-test.rules:4\)$'
"$MXGUARD" -n -c rules/examples/gateway.rules >"$T/out" 2>&1
check "the shipped rules pass their own tests" contains "$T/out" 'OK, [0-9]+ rules, [1-9][0-9]* tests passed'

"$MXGUARD" -n -c "$T/does-not-exist.rules" >"$T/out" 2>"$T/err"
check "a missing file exits 1" test $? -eq 1
check "a missing file is named" contains "$T/err" "does-not-exist.rules: cannot open: No such file or directory"

"$MXGUARD" -n -v -c rules/examples/gateway.rules >"$T/out" 2>&1
check "-n -v prints the rules back in canonical form" \
    contains "$T/out" '^    \[routed\] reject 554 5.7.1 "<%\{recipient\}>: Relay access denied" if recipient.routed;  # rules/examples/gateway.rules:[0-9]+$'

"$MXGUARD" --no-such-option >"$T/out" 2>&1
check "an unknown option exits 2" test $? -eq 2

# State store settings are checked at start-up: a typo is a usage error.
"$MXGUARD" --store redis-hots=10.0.0.5 -n -c rules/examples/gateway.rules >"$T/out" 2>&1
check "--store with an unknown setting exits 2" test $? -eq 2
check "... and names it" contains "$T/out" '^mxguard: --store redis-hots=10\.0\.0\.5: no such store setting$'
"$MXGUARD" --store redis-port=99999 -n -c rules/examples/gateway.rules >"$T/out" 2>&1
check "--store with a value out of range exits 2" test $? -eq 2
"$MXGUARD" --store backend -n -c rules/examples/gateway.rules >"$T/out" 2>&1
check "--store without NAME=VALUE exits 2 and says what it expected" \
    contains "$T/out" '^mxguard: --store backend: expected NAME=VALUE$'
"$MXGUARD" --store backend=redis --store redis-port=6380 -n -c rules/examples/gateway.rules >"$T/out" 2>&1
check "--store with good settings checks the rules as usual" test $? -eq 0
# --- accept before the recipients: refused unless it says "unchecked"
"$MXGUARD" -n -c tests/cli/bad/accept-before-rcpt.rules >"$T/out" 2>"$T/err"
check "a plain accept before rcpt: exit 1" test $? -eq 1
sed 's/^/#   /' "$T/err"
A=tests/cli/bad/accept-before-rcpt.rules
check "accept at connect: refused, with the way out" \
    contains "$T/err" "^$A:5:14: 'accept' at connect would end every later check of the connection, the relay check of each recipient included: write 'accept unchecked' if that is what you mean"
check "accept at mail: refused" contains "$T/err" "^$A:6:11: 'accept' at mail would end every later check of the message"
check "accept unchecked at helo and accept at rcpt: no complaint" test "$(wc -l <"$T/err")" -eq 2
finish
