#!/bin/bash
# bench_dns.sh: the connect stage with five DNS block lists, each answering
# after DELAY ms, against the same stage with one list. The lists are asked
# in parallel, so five should cost about one delay, not five. Measured with
# the daemon's own resolver and engine (mxguard --test-session), against
# dnsfake on loopback; medians of ROUNDS alternating runs.
#   MXGUARD=.../mxguard SRCDIR=... bash tests/bench/bench_dns.sh
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/dns.sh"
need_dns
DELAY=${DELAY:-300}
ROUNDS=${ROUNDS:-7}

{
    for i in 1 2 3 4 5; do
        echo "@zone bl$i.test"
        echo "*.bl$i.test. ANY delay=$DELAY"
        echo "*.bl$i.test. A 127.0.0.2"
    done
} >"$T/slow.spec"
start_dnsfake "$T/slow.spec" >/dev/null || { echo "bench: dns: dnsfake did not start"; exit 1; }

rules() { # N: a rule set asking N lists at connect
    local i
    for i in $(seq 1 "$1"); do echo "dnslist l$i { zone \"bl$i.test\"; }"; done
    echo "on connect {"
    for i in $(seq 1 "$1"); do echo "    reject 554 5.7.1 \"listed\" if client.address in <l$i> and dnsbl.count > 9;"; done
    echo "}"
} 
rules 1 >"$T/one.rules"
rules 5 >"$T/five.rules"

# run RULES N: one session from a fresh address (nothing cached); prints ms.
run() {
    local t0 t1
    t0=$(dns_now_ms)
    printf 'QUIT\n' | "$MXGUARD" -c "$1" --test-session "203.0.113.$2" --dns "127.0.0.1@$FAKE_PORT" \
        --dns-timeout 5000 --dns-budget 8000 >/dev/null 2>&1
    t1=$(dns_now_ms)
    echo $((t1 - t0))
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

: >"$T/one.ms"; : >"$T/five.ms"; : >"$T/ratio"
for r in $(seq 1 "$ROUNDS"); do
    one=$(run "$T/one.rules" $((r * 2)))
    five=$(run "$T/five.rules" $((r * 2 + 1)))
    echo "$one" >>"$T/one.ms"
    echo "$five" >>"$T/five.ms"
    awk -v a="$five" -v b="$one" 'BEGIN { printf "%.3f\n", a / b }' >>"$T/ratio"
done
one=$(median <"$T/one.ms"); five=$(median <"$T/five.ms"); ratio=$(median <"$T/ratio")
echo "# each list answers after ${DELAY} ms; medians of $ROUNDS runs: one list ${one} ms, five lists ${five} ms"
echo "bench: dns-five-lists-vs-one: $ratio x (target <= 1.50): $(awk -v r="$ratio" 'BEGIN { print (r <= 1.5) ? "ok" : "MISS" }')"
