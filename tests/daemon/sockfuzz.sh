#!/bin/bash
# sockfuzz.sh: a hostile MTA on mxguard's milter socket (issue 15). The
# shipped gateway rules, DNS from nsd; tests/fuzz/milter_sockfuzz sends
# thousands of connections of random bytes, bogus lengths, truncated
# packets, odd and huge macros, NUL bytes, unknown commands and
# connections cut mid-packet, then well-formed packets in random orders
# (abort and QUIT anywhere, several messages, headers before MAIL). Then:
# the same filter process serves (no restart, no death in the log), no
# sanitizer report (finish), its descriptors are back at their count
# before and its threads near it, and a normal session gets the normal
# answers.
#
# SOCKFUZZ_SEED (default: the time, printed), SOCKFUZZ_COUNT (raw and
# mixed connections, 3000) and SOCKFUZZ_ORDER (well-formed sessions,
# 2000) size the run; a failure prints the seed and the connection to
# replay with "milter_sockfuzz -s SOCKET --seed S [-m order] --only I".
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/dns.sh"
need_root
need_nsd

FUZZ="${BUILDDIR:-.}/tests/fuzz/milter_sockfuzz"
[ -x "$FUZZ" ] || skip "tests/fuzz/milter_sockfuzz not built (make check builds it)"
SEED=${SOCKFUZZ_SEED:-$(date +%s)}
COUNT=${SOCKFUZZ_COUNT:-3000}
ORDER=${SOCKFUZZ_ORDER:-2000}

fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
thread_count() { awk '/^Threads:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
fds_at() { [ "$(fd_count "$1")" -le "$2" ]; }
threads_near() { [ "$(thread_count "$1")" -le $(($2 + 2)) ]; }
normal_answers() { [ "$("$FUZZ" -s "$MXG_SOCK" --probe)" = "relay=y local=c" ]; }

start_gateway_dns || { check "nsd starts" false; finish; }
start_mxguard "$SRCDIR/rules/examples/gateway.rules" "$GATEWAY_DNS" || { check "daemon starts" false; finish; }
filter=$(filter_pid)
check "a normal session gets the normal answers" normal_answers

run_fuzz() { # NAME ARGS...: run the fuzzer, its output in the test log
    local name=$1 rc; shift
    "$FUZZ" -s "$MXG_SOCK" -c 4 -t 15000 "$@" >"$T/$name.out" 2>&1
    rc=$?
    sed 's/^/#   /' "$T/$name.out" | tail -n 20
    echo "# filter $filter now: $(fd_count "$filter") descriptors, $(thread_count "$filter") threads, " \
        "$(awk '/^VmRSS:/ { print $2 " kB RSS" }' "/proc/$filter/status" 2>/dev/null)"
    return $rc
}

# The baseline after a warm-up: the resolver's descriptors and thread
# (libunbound's pipe, epoll and sockets) are made on the first question.
run_fuzz warmup --seed 1 -n 200 -m order --probe-every 0 >/dev/null
sleep 1
base_fds=$(fd_count "$filter")
base_threads=$(thread_count "$filter")
ls -l "/proc/$filter/fd" | awk 'NR > 1 { print $9, $11 }' | sort >"$T/fds.before"
echo "# filter $filter: $base_fds descriptors, $base_threads threads after a warm-up; seed $SEED"

check "$COUNT hostile connections (all kinds): none hung, every normal session between them answered" \
    run_fuzz mixed --seed "$SEED" -n "$COUNT" -m all
check "$ORDER well-formed sessions in random orders: none hung, every normal session answered" \
    run_fuzz order --seed "$SEED" -n "$ORDER" -m order
check "the same filter process serves: it never restarted" [ "$(filter_pid)" = "$filter" ]
check "no filter death in the log" not_contains "$MXG_LOG" "filter process [0-9]+ (died|exited)|giving up"
check "the descriptors are back at their count ($base_fds)" wait_for 10 fds_at "$filter" "$base_fds"
check "the threads are back near their count ($base_threads)" wait_for 10 threads_near "$filter" "$base_threads"
echo "# filter $filter at the end: $(fd_count "$filter") descriptors, $(thread_count "$filter") threads"
ls -l "/proc/$filter/fd" | awk 'NR > 1 { print $9, $11 }' | sort | diff "$T/fds.before" - | sed 's/^/#   fd /'
check "a normal session afterwards gets the normal answers" normal_answers
check "the sessions were seen by the rules (decision records logged)" contains "$MXG_LOG" "record=message"
check "every log line is one record: no line without the stamp" not_contains "$MXG_LOG" "^[^0-9]"
finish
