#!/bin/bash
# soak.sh: is mxguard flat over time? milter_load plays postfix at
# concurrency SOAK_CONC (128) against mxguard on the shipped gateway rules
# with a DNS block list and reverse DNS at connect (bench_lib.sh's
# bench-dns.rules, the rules bench_memory.sh uses), answered by nsd on
# loopback (no rate limit), for SOAK_SECONDS, in rounds of SOAK_BATCH
# messages; every SOAK_EVERY seconds, between two rounds (no session
# open: what stays is what the filter keeps), it samples the filter
# process: VmRSS and Threads from /proc/PID/status and its open
# descriptors (/proc/PID/fd). After a warm-up (the first 20% of the run:
# thread stacks, malloc arenas, the DNS answer memo and libunbound's cache
# fill up), it fits a least-squares line to RSS against messages sent and
# prints its slope in kB per 1,000 messages, and the spread (max - min)
# of descriptors and threads.
#
# Targets: the slope under 1 kB per 1,000 messages (a leak of one byte a
# message shows as 1); descriptors and threads flat: max - min at most
# SOAK_FD_SLACK (2) and SOAK_THREAD_SLACK (2) between samples taken with
# no session open. With no session open the filter holds its listening
# socket, its log and the resolver's sockets, and runs its main thread,
# libmilter's listener and signal threads, libunbound's, and the heap
# trimmer (milter/memtrim.c, which keeps RSS to what is in use); a session
# that ended is gone once libmilter's thread for it has returned, which
# the pause before each sample waits for. The slack is for that last
# step and for a libunbound query that a prefetch has in flight.
#
#   make soak                     # 30 minutes (SOAK_SECONDS=1800, a sample every 30 s)
#   MXGUARD=.../mxguard SRCDIR=... BUILDDIR=... bash tests/bench/soak.sh
# SOAK_SECONDS (default 1800), SOAK_EVERY (30; 10 when SOAK_SECONDS < 600),
# SOAK_CONC (128), SOAK_BATCH (4000 messages a round), SOAK_SLOPE_TARGET
# (1 kB per 1,000 messages; the two-minute run in CI sets its own).
# It prints the samples, the verdict lines of the benchmarks, and exits 1
# when a target is missed (tests/daemon/soak_short.sh runs it for 120 s).
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/dns.sh"
. "$SRCDIR/tests/bench/bench_lib.sh"
bench_need
need_nsd
SOAK_SECONDS=${SOAK_SECONDS:-1800}
if [ "$SOAK_SECONDS" -lt 600 ]; then SOAK_EVERY=${SOAK_EVERY:-10}; else SOAK_EVERY=${SOAK_EVERY:-30}; fi
SOAK_CONC=${SOAK_CONC:-128}
SOAK_BATCH=${SOAK_BATCH:-4000}
SOAK_FD_SLACK=${SOAK_FD_SLACK:-2}
SOAK_THREAD_SLACK=${SOAK_THREAD_SLACK:-2}
SOAK_SLOPE_TARGET=${SOAK_SLOPE_TARGET:-1}

bench_dns_rules || { echo "bench: soak: set-up failed"; exit 1; }
# shellcheck disable=SC2046
bench_mxguard MXG "unix:$T/mxguard.sock" "$T/rules/bench-dns.rules" $(bench_dns_opts) ||
    { echo "bench: soak: mxguard did not start"; exit 1; }
filter=$(bench_filter_pid "$MXG") || { echo "bench: soak: no filter process"; exit 1; }

# status KEY: a /proc/FILTER/status value (kB for memory).
status() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$filter/status"; }
fds() { find "/proc/$filter/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# settled: no libmilter session thread left (the count stops moving).
settled() {
    local a b
    a=$(status Threads); sleep 0.2; b=$(status Threads)
    [ "$a" = "$b" ]
}

# sample T MSGS: one line "seconds messages rss_kB fds threads" to $T/samples.
sample() {
    wait_for 5 settled || true
    printf '%s %s %s %s %s\n' "$1" "$2" "$(status VmRSS)" "$(fds)" "$(status Threads)" | tee -a "$T/samples" |
        awk '{ printf "# sample: %5d s %9d msgs  VmRSS %6d kB  fds %3d  threads %3d\n", $1, $2, $3, $4, $5 }'
}

echo "# soak: $SOAK_SECONDS s at concurrency $SOAK_CONC, rounds of $SOAK_BATCH messages, a sample every $SOAK_EVERY s; filter process $filter"
: >"$T/samples"
start=$(date +%s)
msgs=0
next=0
failed=0
while :; do
    now=$(($(date +%s) - start))
    if [ "$now" -ge "$next" ]; then
        sample "$now" "$msgs"
        next=$((next + SOAK_EVERY))
        [ "$now" -ge "$SOAK_SECONDS" ] && break
    fi
    # -a 250: every client address of the DNS zones, as bench_memory.sh.
    line=$(bench_load "unix:$T/mxguard.sock" "$SOAK_CONC" "$SOAK_BATCH" -a 250) || { failed=1; break; }
    msgs=$((msgs + SOAK_BATCH))
    [ "$(bench_filter_pid "$MXG")" = "$filter" ] || { echo "# the filter process restarted"; failed=1; break; }
done
[ "$failed" = 0 ] || { echo "bench: soak: the load failed after $msgs messages"; exit 1; }
echo "# $msgs messages in $(($(date +%s) - start)) s ($(awk -v m="$msgs" -v s="$(($(date +%s) - start))" 'BEGIN { printf "%.0f", m / s }') msgs/s), last round: $line"

# After the warm-up (samples at or past 20% of the run): the slope of RSS
# (kB) against messages (thousands), and the spread of fds and threads.
read -r slope fd_spread thr_spread n <<<"$(awk -v from="$((SOAK_SECONDS / 5))" '
    $1 >= from { n++; x = $2 / 1000; y = $3; sx += x; sy += y; sxx += x * x; sxy += x * y
        if (n == 1 || $4 < fmin) fmin = $4; if (n == 1 || $4 > fmax) fmax = $4
        if (n == 1 || $5 < tmin) tmin = $5; if (n == 1 || $5 > tmax) tmax = $5 }
    END { d = n * sxx - sx * sx
          printf "%.3f %d %d %d\n", (n > 1 && d > 0) ? (n * sxy - sx * sy) / d : 0, fmax - fmin, tmax - tmin, n }' "$T/samples")"
echo "# after the warm-up: $n samples; RSS slope $slope kB per 1,000 messages, descriptors $(awk -v f="$((SOAK_SECONDS / 5))" '$1 >= f { printf "%s ", $4 }' "$T/samples")(spread $fd_spread), threads $(awk -v f="$((SOAK_SECONDS / 5))" '$1 >= f { printf "%s ", $5 }' "$T/samples")(spread $thr_spread)"
bench_stop "$MXG"
[ "$n" -ge 3 ] || { echo "bench: soak: only $n samples after the warm-up"; exit 1; }
if asan_build; then
    # ASan keeps freed memory in its quarantine (256 MB) and never gives
    # it back: there RSS grows by design, and only LeakSanitizer (at the
    # filter's exit, in the log finish() checks) can say what leaked.
    v1="# sanitizer build: RSS slope $slope kB per 1,000 messages, not judged (ASan's quarantine)"
else
    v1=$(bench_verdict soak-rss-slope "$slope" "kB/1000 msgs" "<" "$SOAK_SLOPE_TARGET")
fi
v2=$(bench_verdict soak-fd-spread "$fd_spread" fds "<=" "$SOAK_FD_SLACK")
v3=$(bench_verdict soak-thread-spread "$thr_spread" threads "<=" "$SOAK_THREAD_SLACK")
printf '%s\n' "$v1" "$v2" "$v3"
# A sanitizer build reports into the daemon's log (the filter's exit,
# LeakSanitizer's check, is in it: the daemon was stopped above).
if grep -Eq "Sanitizer|runtime error:" "$T"/mxguard-*.log; then
    echo "# a sanitizer report in the daemon's log:"
    grep -E -A20 "Sanitizer|runtime error:" "$T"/mxguard-*.log | head -n 60 | sed 's/^/#   /'
    FAILURES=1 # keep the files
    exit 1
fi
case "$v1$v2$v3" in *MISS*) FAILURES=1; exit 1 ;; esac
exit 0
