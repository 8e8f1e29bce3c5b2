#!/bin/bash
# bench_records.sh: what decision records and the metrics endpoint cost a
# message. milter_load plays postfix at concurrency 16 against three
# mxguard daemons on the same rules as bench_milter.sh (gateway rules, a
# DNS block list and reverse DNS from nsd on loopback): (a) with
# --no-record-log and neither --records nor --metrics-listen; (b) as
# shipped: a record line a message, and /metrics served and scraped once
# a second while it runs; (c) as (b) with the JSON file (--records) too.
# Counters are kept in all three (they cannot be switched off;
# tests/unit/test_metrics times them alone). Runs alternate A B C A B C
# ...; a ratio is the median of the per-round ratios. Two daemons alike
# measured this way differ by up to 2 or 3%.
# Target: b and c >= 0.97 of a's msgs/s.
#   MXGUARD=.../mxguard SRCDIR=... BUILDDIR=... bash tests/bench/bench_records.sh
# ROUNDS (default 7) runs of each; MESSAGES (4000) a run.
# shellcheck disable=SC2046
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/dns.sh"
. "$SRCDIR/tests/bench/bench_lib.sh"
bench_need
need_nsd
ROUNDS=${ROUNDS:-7}
MESSAGES=${MESSAGES:-4000}

bench_dns_rules || { echo "bench: records: set-up failed"; exit 1; }
mkdir -p "$T/rec" && chown mxguard "$T/rec"
METRICS_OPT=""
if "$MXGUARD" --help | grep -q -- "--metrics-listen"; then
    MPORT=$(free_port) || exit 1
    METRICS_OPT="--metrics-listen 127.0.0.1:$MPORT"
fi
{
    bench_mxguard MXG_A "unix:$T/a.sock" "$T/rules/bench-dns.rules" $(bench_dns_opts) --no-record-log &&
    bench_mxguard MXG_B "unix:$T/b.sock" "$T/rules/bench-dns.rules" $(bench_dns_opts) $METRICS_OPT &&
    bench_mxguard MXG_C "unix:$T/c.sock" "$T/rules/bench-dns.rules" $(bench_dns_opts) \
        --records "$T/rec/records.json" $METRICS_OPT
} || { echo "bench: records: a milter did not start"; exit 1; }
for s in a b c; do
    bench_load "unix:$T/$s.sock" 16 1000 -a 250 >/dev/null || { echo "bench: records: warm-up on $s failed"; exit 1; }
done

scraper() { while :; do curl -s "http://127.0.0.1:$MPORT/metrics" >/dev/null; sleep 1; done; }
[ -z "$METRICS_OPT" ] || { scraper & SCRAPER=$!; track_pid "$SCRAPER"; }

: >"$T/runs"
for r in $(seq 1 "$ROUNDS"); do
    for s in a b c; do
        line=$(bench_load "unix:$T/$s.sock" 16 "$MESSAGES") || { echo "bench: records: $s failed"; exit 1; }
        echo "$s $r $line" >>"$T/runs"
    done
done
[ -z "$METRICS_OPT" ] || kill "$SCRAPER" 2>/dev/null

rate() { awk -v s="$1" '$1 == s' "$T/runs" | while read -r _ _ line; do bench_field "$line" rate; done | median; }
ratio() {
    awk -v b="$1" '{ for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "rate") v[$1, $2] = kv[2] } n[$2] = 1 }
         END { for (r in n) if (((("a", r) in v)) && (((b, r) in v))) printf "%.3f\n", v[b, r] / v["a", r] }' \
        "$T/runs" | median
}
bench_stop "$MXG_C" # its last JSON lines are written at its end
json_lines=$(wc -l <"$T/rec/records.json")
echo "# records: medians of $ROUNDS alternating runs of $MESSAGES messages at concurrency 16"
echo "# (a) no records: $(rate a) msgs/s; (b) record lines${METRICS_OPT:+ + /metrics scraped each second}: $(rate b) msgs/s; (c) and the JSON file: $(rate c) msgs/s"
echo "# (c) wrote $json_lines JSON records ($(du -k "$T/rec/records.json" | cut -f1) KB)"
bench_verdict records-c16-cost "$(ratio b)" x ">=" 0.97
bench_verdict records-json-c16-cost "$(ratio c)" x ">=" 0.97
bench_stop "$MXG_A"
bench_stop "$MXG_B"
