#!/bin/bash
# check_config.sh: mxguard -n on good and broken rule files.
. "$SRCDIR/tests/lib/common.sh"
cd "$SRCDIR" || exit 1

for f in rules/examples/*.rules; do
    check "$f passes -n" "$MXGUARD" -n -c "$f"
done

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

# A rule file's own tests run with -n; a failing one is an error.
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
finish
