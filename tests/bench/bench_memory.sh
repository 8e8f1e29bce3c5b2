#!/bin/bash
# bench_memory.sh: mxguard's peak memory under load, and whether it leaks.
# milter_load sends 10,000 messages at concurrency 128 to mxguard on the
# gateway rules with a DNS block list and reverse DNS (as bench_milter.sh),
# then the same again; the filter process's peak RSS (VmHWM in
# /proc/PID/status) is read after each round. A second round that needs
# more memory than the first means something grows per message.
#
# The peak also depends on how many sessions happen to overlap (libmilter
# runs a thread per connection; glibc gives threads their own malloc
# arenas and caches their stacks): measured here, it moves by a few
# hundred kB from round to round, and once by 2.2 MB between the first
# two rounds after start, with no trend over 60,000 messages. So a
# warm-up round of the same size comes first, and growth up to 1 MB
# (100 bytes a message) counts as none: below that a leak cannot be told
# from the overlap.
#   MXGUARD=.../mxguard SRCDIR=... BUILDDIR=... bash tests/bench/bench_memory.sh
# MESSAGES (default 10000) and CONCURRENCY (default 128) per round.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/dns.sh"
. "$SRCDIR/tests/bench/bench_lib.sh"
bench_need
need_nsd
MESSAGES=${MESSAGES:-10000}
CONCURRENCY=${CONCURRENCY:-128}
ROUNDS=${ROUNDS:-2}
[ "$ROUNDS" -ge 2 ] || ROUNDS=2 # the verdicts compare rounds 1 and 2

bench_dns_rules || { echo "bench: memory: set-up failed"; exit 1; }
# shellcheck disable=SC2046
bench_mxguard MXG "unix:$T/mxguard.sock" "$T/rules/bench-dns.rules" $(bench_dns_opts) ||
    { echo "bench: memory: mxguard did not start"; exit 1; }
filter=$(bench_filter_pid "$MXG") || { echo "bench: memory: no filter process"; exit 1; }

# status KEY: a /proc/FILTER/status value in kB.
status() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$filter/status"; }

echo "# filter process $filter at start: VmRSS $(status VmRSS) kB, VmHWM $(status VmHWM) kB"
for round in $(seq 0 "$ROUNDS"); do
    # -a 250: every client address of the DNS zones, so the caches fill up in the first round.
    line=$(bench_load "unix:$T/mxguard.sock" "$CONCURRENCY" "$MESSAGES" -a 250) ||
        { echo "bench: memory: round $round failed"; exit 1; }
    [ "$(bench_filter_pid "$MXG")" = "$filter" ] || { echo "bench: memory: the filter restarted in round $round"; exit 1; }
    hwm[round]=$(status VmHWM)
    echo "# round $round$( [ "$round" = 0 ] && echo " (warm-up)"): $MESSAGES messages at c=$CONCURRENCY: $(bench_field "$line" rate) msgs/s; VmRSS $(status VmRSS) kB, VmHWM ${hwm[round]} kB, threads $(status Threads)"
done
bench_stop "$MXG"
bench_verdict memory-peak-rss-c$CONCURRENCY "$(awk -v k="${hwm[2]}" 'BEGIN { printf "%.1f", k / 1024 }')" MB "<" 64
bench_verdict memory-growth-second-round "$((hwm[2] - hwm[1]))" kB "<=" 1024
