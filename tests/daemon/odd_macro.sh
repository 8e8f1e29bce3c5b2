#!/bin/bash
# odd_macro.sh: a macro packet with a name and no value (SMFIC_MACRO with
# an odd number of strings) made libmilter's smfi_getsymval read past its
# array and crash the filter. Sent 20 times, each in its own connection
# between normal sessions: the same filter process serves throughout (it
# never restarted), its descriptors are back at their count before, each
# such session is tempfailed and each normal one gets the normal answers.
. "$SRCDIR/tests/lib/common.sh"
need_root
need_cmd python3

RAW="$SRCDIR/tests/protocol/raw_milter.py"
fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
normal_answers() { [ "$(python3 "$RAW" "$MXG_SOCK" normal)" = "relay=y local=c" ]; }
fds_at() { [ "$(fd_count "$1")" -le "$2" ]; }

start_mxguard "$SRCDIR/rules/examples/gateway.rules" || { check "daemon starts" false; finish; }
filter=$(filter_pid)
check "a normal session gets the normal answers" normal_answers
sleep 0.5
base=$(fd_count "$filter")
echo "# filter $filter: $base descriptors after one session"

odd_tempfailed=0
normal_ok=0
for i in $(seq 1 20); do
    got=$(python3 "$RAW" "$MXG_SOCK" odd-macro)
    [ "$got" = "mail=y" ] && odd_tempfailed=$((odd_tempfailed + 1))
    normal_answers && normal_ok=$((normal_ok + 1))
done
echo "# odd-macro sessions answered with a reply code (tempfail): $odd_tempfailed of 20; normal sessions right: $normal_ok of 20"
check "every odd-macro session was answered (not cut off by a crash)" [ "$odd_tempfailed" -eq 20 ]
check "every normal session in between got the normal answers" [ "$normal_ok" -eq 20 ]
check "the same filter process serves: it never restarted" [ "$(filter_pid)" = "$filter" ]
check "no filter death in the log" not_contains "$MXG_LOG" "filter process [0-9]+ (died|exited)"
check "the descriptors are back at their count" wait_for 5 fds_at "$filter" "$base"
check "the malformed packet is logged with its session" \
    contains "$MXG_LOG" "stage=mail: the MTA sent a macro name without a value; macros ignored, answering tempfail"
check "its answer is a tempfail" contains "$MXG_LOG" "stage=mail action=tempfail: internal error \(malformed macro packet from the MTA\)"
check "a normal session afterwards gets the normal answers" normal_answers
check "the layout check held (macros are read)" not_contains "$MXG_LOG" "not laid out as mxguard knows it"
finish
