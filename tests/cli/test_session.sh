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

# --- greylisting in the simulator: a store of its own (--store), a movable clock (--later)
cat >"$T/grey.rules" <<'EOF'
list ours domains { example.org };
greylist { delay 5m; }
on rcpt {
    [greylist] greylist if recipient.domain in <ours>;
    [relay] reject 554 5.7.1 "relay denied" if not recipient.domain in <ours>;
}
EOF
printf 'EHLO mail.outside.example\nMAIL FROM:<a@outside.example>\nRCPT TO:<b@example.org>\nQUIT\n' >"$T/grey.in"
grey() { # OUT [options]: a session from 203.0.113.5 on grey.rules
    local out=$1; shift
    "$MXGUARD" --test-session 203.0.113.5 -c "$T/grey.rules" "$@" <"$T/grey.in" >"$T/$out" 2>&1
    echo "rc=$?" >>"$T/$out"
    sed 's/^/#   /' "$T/$out"
}
has() { grep -Eq -- "$2" "$T/$1"; }
store=(--store "lmdb-path=$T/grey.lmdb")
grey nostore
check "no --store: the greylist rule is skipped, and said so" \
    has nostore '^# the rules greylist or test rate limits, but no --store was given'
check "... the recipient passes" has nostore '^250 2\.1\.5 Ok$'
grey first "${store[@]}"
check "first attempt: 451 by [greylist]" has first '^451 4\.7\.1 Greylisted, please try again in 300 seconds$'
check "... first seen, with the network" has first '^#   greylist: tempfail, first seen, network 203\.0\.113\.0/24, 300 s to wait$'
grey early "${store[@]}" --later 60
# The real clock moves between the runs too: 240 s left, or a few fewer.
check "a minute later: too early, about 240 s left" \
    has early '^#   greylist: tempfail, too early, network 203\.0\.113\.0/24, (23[0-9]|240) s to wait$'
grey retry "${store[@]}" --later 400
check "after the delay: the retry passes" has retry '^250 2\.1\.5 Ok$'
check "... as retried" has retry '^#   greylist: pass, retried, network 203\.0\.113\.0/24$'
grey bad "${store[@]}" --later soon
check "--later takes seconds: a clear error, exit 1" has bad '^mxguard: --later: expected seconds'
grey badstore --store "lmdb-path=$T/no/such/dir/g.lmdb"
check "a store that cannot open: an error naming it, exit 1" \
    sh -c "grep -q '^mxguard: state store: ' '$T/badstore' && grep -q '^rc=1$' '$T/badstore'"
finish
