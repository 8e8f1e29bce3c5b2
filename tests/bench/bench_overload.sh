#!/bin/bash
# bench_overload.sh: mxguard against a DNS server that never answers. A DNS
# list at connect (on-error tempfail), dnsfake answering nothing, mxguard
# with its default bounds (--max-sessions 500, --max-dns-waiting 200) and
# --dns-budget BUDGET (2000 ms), and bursts of CONCS concurrent sessions
# (500 and 1000: the bound, and twice it) from milter_load -R. The filter's
# threads, RSS and descriptors are sampled from /proc every 50 ms during
# each burst. Verdicts per burst: the slowest session and p99 against the
# budget (+ 1000 ms), the slowest 421 refusal (< 1000 ms), peak threads
# (<= 2 x max-sessions + 16: the sessions, a burst of refused ones as large,
# the filter's own), peak RSS (< 128 MB: 64 MB + 128 kB a session).
#   MXGUARD=.../mxguard SRCDIR=... BUILDDIR=... bash tests/bench/bench_overload.sh
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/dns.sh"
. "$SRCDIR/tests/bench/bench_lib.sh"
bench_need
need_dns
BUDGET=${BUDGET:-2000}
CONCS=${CONCS:-500 1000}
MAX_SESSIONS=500

printf '@zone list.test\n*.list.test. ANY timeout\n' >"$T/dead.spec"
start_dnsfake "$T/dead.spec" >/dev/null || { echo "bench: overload: dnsfake did not start"; exit 1; }
cat >"$T/list.rules" <<'EOF2'
dnslist bl { zone "list.test"; on-error tempfail; }
on connect {
    [bl] reject 554 5.7.1 "listed" if client.address in <bl>;
}
EOF2
bench_mxguard MXG "unix:$T/m.sock" "$T/list.rules" --dns "127.0.0.1@$FAKE_PORT" --dns-budget "$BUDGET" ||
    { echo "bench: overload: mxguard did not start"; exit 1; }
filter=$(bench_filter_pid "$MXG")
"$MILTER_LOAD" -s "unix:$T/m.sock" -c 1 -m 1 -l 100 -R >/dev/null 2>&1 # the resolver's thread and sockets

sample() { # PID: threads, VmRSS kB and descriptors every 50 ms until killed
    while kill -0 "$1" 2>/dev/null; do
        echo "$(awk '$1 == "Threads:" { t = $2 } $1 == "VmRSS:" { r = $2 } END { print t, r }' "/proc/$1/status")" \
             "$(ls "/proc/$1/fd" 2>/dev/null | wc -l)"
        sleep 0.05
    done
}
peak() { awk -v c="$2" '$c > m { m = $c } END { print m + 0 }' "$1"; }
kind() { awk -v k="reply=$2" -v f="$3" '$1 == k { for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == f) print a[2] } }' "$1"; }

for c in $CONCS; do
    sample "$filter" >"$T/samples-$c" &
    sp=$!
    "$MILTER_LOAD" -s "unix:$T/m.sock" -c "$c" -m "$c" -a "$c" -l 100 -R >"$T/burst-$c" 2>&1
    kill "$sp" 2>/dev/null
    wait "$sp" 2>/dev/null
    sed 's/^/# /' "$T/burst-$c"
    line=$(grep '^sessions=' "$T/burst-$c")
    threads=$(peak "$T/samples-$c" 1)
    rss=$(awk -v k="$(peak "$T/samples-$c" 2)" 'BEGIN { printf "%.1f", k / 1024 }')
    echo "# burst $c: peak threads $threads, RSS $rss MB, descriptors $(peak "$T/samples-$c" 3);" \
         "421: $(kind "$T/burst-$c" 421_4.3.2 count | grep . || echo 0) sessions," \
         "on-error tempfail: $(kind "$T/burst-$c" tempfail count | grep . || echo 0)"
    bench_verdict "overload-c$c-max-session-ms" "$(bench_field "$line" max_ms)" ms "<=" $((BUDGET + 1000))
    bench_verdict "overload-c$c-p99-session-ms" "$(bench_field "$line" p99_ms)" ms "<=" $((BUDGET + 1000))
    refused=$(kind "$T/burst-$c" 421_4.3.2 max_ms)
    [ -n "$refused" ] && bench_verdict "overload-c$c-max-421-ms" "$refused" ms "<" 1000
    bench_verdict "overload-c$c-peak-threads" "$threads" threads "<=" $((2 * MAX_SESSIONS + 16))
    bench_verdict "overload-c$c-peak-rss" "$rss" MB "<" 128
done
bench_stop "$MXG"
