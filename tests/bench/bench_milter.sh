#!/bin/bash
# bench_milter.sh: the milter protocol without an MTA. milter_load plays
# postfix against (a) accept_milter, a libmilter milter that takes every
# step and does nothing (the floor), and (b) mxguard on the shipped
# gateway rules plus a DNS block list and reverse DNS at connect, answered
# by nsd on loopback (the filter's answer memo answers after the first
# session of each client: the zones live 300 s). At concurrency 1, 16 and 128, over unix sockets, and at
# concurrency 1 over inet sockets too (postfix does not set TCP_NODELAY:
# see TESTING.md). Runs alternate A B A B ...; ratios are medians of the
# per-run ratios.
#   MXGUARD=.../mxguard SRCDIR=... BUILDDIR=... bash tests/bench/bench_milter.sh
# ROUNDS (default 5) runs of each; SCALE multiplies the message counts.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/dns.sh"
. "$SRCDIR/tests/bench/bench_lib.sh"
bench_need
need_nsd
ROUNDS=${ROUNDS:-5}
SCALE=${SCALE:-1}

bench_dns_rules || { echo "bench: milter: set-up failed"; exit 1; }
PA=$(free_port) && PB=$(free_port) || exit 1
# shellcheck disable=SC2046
{
    bench_start ACC_UNIX "unix:$T/accept.sock" "$T/accept-unix.log" "$ACCEPT_MILTER" -p "unix:$T/accept.sock" &&
    bench_start ACC_INET "inet:$PA@127.0.0.1" "$T/accept-inet.log" "$ACCEPT_MILTER" -p "inet:$PA@127.0.0.1" &&
    bench_mxguard MXG_UNIX "unix:$T/mxguard.sock" "$T/rules/bench-dns.rules" $(bench_dns_opts) &&
    bench_mxguard MXG_INET "inet:$PB@127.0.0.1" "$T/rules/bench-dns.rules" $(bench_dns_opts)
} || { echo "bench: milter: a milter did not start"; exit 1; }

declare -A SOCK=([accept-unix]="unix:$T/accept.sock" [mxguard-unix]="unix:$T/mxguard.sock"
                 [accept-inet]="inet:$PA@127.0.0.1" [mxguard-inet]="inet:$PB@127.0.0.1")
# Warm up: the DNS answers, the filters' thread pools, the page cache.
for k in "${!SOCK[@]}"; do
    bench_load "${SOCK[$k]}" 16 1000 -a 250 >/dev/null || { echo "bench: milter: warm-up on $k failed"; exit 1; }
done

# runs C M CONFIG...: ROUNDS rounds of one run per CONFIG at concurrency
# C; the lines go to $T/runs (config concurrency round line).
runs() {
    local c=$1 m=$(($2 * SCALE)) r k line; shift 2
    for r in $(seq 1 "$ROUNDS"); do
        for k in "$@"; do
            line=$(bench_load "${SOCK[$k]}" "$c" "$m") || { echo "bench: milter: $k at c=$c failed"; exit 1; }
            echo "$k $c $r $line" >>"$T/runs"
        done
    done
}
# stat CONFIG C KEY: the median of KEY over the runs of CONFIG at C.
stat() { awk -v k="$1" -v c="$2" '$1 == k && $2 == c' "$T/runs" | while read -r _ _ _ line; do bench_field "$line" "$3"; done | median; }
# per_run OP A B C KEY: the median over rounds of (B's KEY OP A's KEY).
per_run() {
    awk -v a="$2" -v b="$3" -v c="$4" -v key="$5" -v op="$1" '
        $2 == c { for (i = 4; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) v[$1, $3] = kv[2] } rounds[$3] = 1 }
        END { for (r in rounds) if (((a, r) in v) && ((b, r) in v))
                  printf "%.3f\n", op == "/" ? v[b, r] / v[a, r] : v[b, r] - v[a, r] }' "$T/runs" | median
}

: >"$T/runs"
runs 1 1500 accept-unix mxguard-unix accept-inet mxguard-inet
runs 16 4000 accept-unix mxguard-unix
runs 128 8000 accept-unix mxguard-unix

echo "# milter protocol, no MTA: medians of $ROUNDS alternating runs (one milter session per message)"
printf '# %-14s %5s %10s %9s %9s\n' config conc "msgs/s" "p50 ms" "p99 ms"
for c in 1 16 128; do
    for k in accept-unix mxguard-unix accept-inet mxguard-inet; do
        [ -n "$(stat "$k" "$c" rate)" ] || continue
        printf '# %-14s %5s %10s %9s %9s\n' "$k" "$c" "$(stat "$k" "$c" rate)" "$(stat "$k" "$c" p50_ms)" "$(stat "$k" "$c" p99_ms)"
    done
done
for c in 1 16 128; do
    echo "# c=$c: mxguard/accept msgs/s $(per_run / accept-unix mxguard-unix "$c" rate)x, p99 added $(per_run - accept-unix mxguard-unix "$c" p99_ms) ms"
done
echo "# c=1 over inet: accept $(per_run / accept-unix accept-inet 1 rate)x of unix, mxguard $(per_run / mxguard-unix mxguard-inet 1 rate)x of unix; mxguard/accept over inet $(per_run / accept-inet mxguard-inet 1 rate)x"
bench_verdict milter-c16-vs-accept "$(per_run / accept-unix mxguard-unix 16 rate)" x ">=" 0.80
bench_verdict milter-c128-vs-accept "$(per_run / accept-unix mxguard-unix 128 rate)" x ">=" 0.80
bench_verdict milter-c16-p99-added "$(per_run - accept-unix mxguard-unix 16 p99_ms)" ms "<" 1.00
for pid in "$MXG_UNIX" "$MXG_INET" "$ACC_UNIX" "$ACC_INET"; do bench_stop "$pid"; done
