#!/bin/bash
# test_session.sh: transcript tests of the rule engine through
# mxguard --test-session, no MTA. Each sessions/NAME.in is a dialogue;
# its first line "# args: ..." gives the options; NAME.out is the
# expected output, compared exactly.
. "$SRCDIR/tests/lib/common.sh"
cd "$SRCDIR" || exit 1

for in in tests/cli/sessions/*.in; do
    name=$(basename "$in" .in)
    args=$(sed -n '1s/^# args: //p' "$in")
    # shellcheck disable=SC2086
    "$MXGUARD" $args <"$in" >"$T/$name.out" 2>&1
    if diff -u "tests/cli/sessions/$name.out" "$T/$name.out" >"$T/$name.diff"; then
        check "session $name" true
    else
        sed 's/^/#   /' "$T/$name.diff"
        check "session $name" false
    fi
done
finish
