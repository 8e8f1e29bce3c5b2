#!/bin/bash
# bench_postfix.sh: what a milter costs a real postfix. smtp-source pushes
# MESSAGES messages at concurrency CONC into a private postfix on loopback,
# which relays them to smtp-sink; the rate is end to end (from the first
# connection until the sink has every message). Four configurations:
#   none      no milter
#   accept    accept_milter: every step, body included, each with a reply
#   gateway   mxguard on the shipped rules/examples/gateway.rules
#   envelope  mxguard on tests/bench/envelope.rules (anti-relay, HELO and
#             sender checks, all decided at RCPT)
#   floor-env accept_milter negotiating the steps mxguard negotiates for
#             envelope.rules: what those steps cost postfix with a
#             milter that does no work
# They alternate run by run (A B C D A B C D ...), switched with postfix
# reload (no restarts), and the ratios are medians of per-round ratios.
# The verdicts use the rate end to end; the rate of the injection alone
# (smtp-source's time) is printed too: postfix's in_flow_delay couples
# the two, but the milter's cost is paid by smtpd, during the injection.
#
# smtp-source connects from 127.0.0.1, a trusted network in the shipped
# gateway rules, so there the rules short-cut at [trusted-helo],
# [our-users] and [trusted]; the steps mxguard asks postfix for, which are
# what costs postfix, are the same for any client. (bench_milter.sh
# measures the rules' full path, with clients from outside.)
#   MXGUARD=.../mxguard SRCDIR=... BUILDDIR=... bash tests/bench/bench_postfix.sh
# ROUNDS (default 5), MESSAGES (default 1000), CONC (default 16).
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
. "$SRCDIR/tests/lib/dns.sh"
. "$SRCDIR/tests/bench/bench_lib.sh"
bench_need
need_nsd
need_postfix
need_cmd smtp-source
ROUNDS=${ROUNDS:-5}
MESSAGES=${MESSAGES:-1000}
CONC=${CONC:-16}
CONFIGS="none accept gateway envelope floor-env"

mkdir -p "$T/rules"
cp "$SRCDIR"/rules/examples/* "$SRCDIR/tests/bench/envelope.rules" "$T/rules/"
chmod -R go+rX "$T/rules"
# shellcheck disable=SC2046
{
    bench_dns_start &&
    bench_start ACC "unix:$T/accept.sock" "$T/accept.log" "$ACCEPT_MILTER" -p "unix:$T/accept.sock" &&
    bench_mxguard MXG_GW "unix:$T/gateway.sock" "$T/rules/gateway.rules" $(bench_dns_opts) &&
    bench_mxguard MXG_ENV "unix:$T/envelope.sock" "$T/rules/envelope.rules" $(bench_dns_opts) &&
    start_sink && start_postfix ""
} || { echo "bench: postfix: set-up failed"; exit 1; }
# What mxguard negotiates for envelope.rules, for the floor-env milter.
line=$("$MILTER_LOAD" -v -s "unix:$T/envelope.sock" -m 1 2>&1)
env_proto=$(printf '%s\n' "$line" | sed -n 's/.* protocol \(0x[0-9a-f]*\)$/\1/p')
[ -n "$env_proto" ] || { echo "bench: postfix: no protocol flags from mxguard: $line"; exit 1; }
bench_start ACC_ENV "unix:$T/floor-env.sock" "$T/floor-env.log" "$ACCEPT_MILTER" -p "unix:$T/floor-env.sock" -P "$env_proto" ||
    { echo "bench: postfix: set-up failed"; exit 1; }
declare -A MILTER=([none]="" [accept]="unix:$T/accept.sock" [gateway]="unix:$T/gateway.sock"
                   [envelope]="unix:$T/envelope.sock" [floor-env]="unix:$T/floor-env.sock")

reloads() { grep -c 'reload -- ' "$PF_LOG" 2>/dev/null; }
delivered() { find "$SINK_DIR" -maxdepth 1 -name 'msg.*' | wc -l; }
all_delivered() { [ "$(delivered)" -ge "$1" ]; }

# use CONFIG: switch postfix to CONFIG's milter; idle smtpd processes of
# the old configuration exit on the reload.
use() {
    local before
    before=$(reloads)
    pf_set "smtpd_milters=${MILTER[$1]}" && pf_reload || return 1
    wait_for 10 bench_reloaded "$before" || { echo "# postfix did not log its reload"; return 1; }
    sleep 1
}
bench_reloaded() { [ "$(reloads)" -gt "$1" ]; }

# run CONFIG N: N messages; prints msgs/s end to end and msgs/s of the
# injection alone (until smtp-source is done).
run() {
    local t0 t1 ti
    rm -f "$SINK_DIR"/msg.*
    t0=$(date +%s%N)
    smtp-source -s "$CONC" -m "$2" -l 2048 -M client.outside.example -f sender@outside.example \
        -t user@example.org "127.0.0.1:$PF_PORT" >"$T/source.out" 2>&1 ||
        { echo "# smtp-source failed with $1:"; show "$T/source.out"; pf_log_tail 10; return 1; } >&2
    ti=$(date +%s%N)
    wait_for 120 all_delivered "$2" ||
        { echo "# with $1 only $(delivered) of $2 messages arrived"; pf_log_tail 10; return 1; } >&2
    t1=$(date +%s%N)
    awk -v n="$2" -v ns=$((t1 - t0)) -v ni=$((ti - t0)) 'BEGIN { printf "%.1f %.1f\n", n / (ns / 1e9), n / (ni / 1e9) }'
}

: >"$T/runs"
for k in $CONFIGS; do # warm-up: smtpd processes, the milters' first sessions
    use "$k" && run "$k" 100 >/dev/null || { echo "bench: postfix: warm-up with $k failed"; exit 1; }
done
for r in $(seq 1 "$ROUNDS"); do
    for k in $CONFIGS; do
        use "$k" || exit 1
        rate=$(run "$k" "$MESSAGES") || { echo "bench: postfix: run with $k failed"; exit 1; }
        echo "$k $r $rate" >>"$T/runs"
    done
done

# ratio A B [COLUMN]: the median over rounds of B's rate / A's rate (end
# to end; COLUMN 4: injection).
ratio() {
    awk -v a="$1" -v b="$2" -v col="${3:-3}" '{ v[$1, $2] = $col; rounds[$2] = 1 }
        END { for (r in rounds) printf "%.3f\n", v[b, r] / v[a, r] }' "$T/runs" | median
}
echo "# mxguard on envelope.rules negotiates protocol $env_proto (floor-env asks for the same)"
echo "# through postfix: $MESSAGES messages at concurrency $CONC, end to end; medians of $ROUNDS alternating rounds"
for k in $CONFIGS; do
    echo "# $k: $(awk -v k="$k" '$1 == k { print $3 }' "$T/runs" | median) msgs/s end to end" \
        "(runs: $(awk -v k="$k" '$1 == k { printf "%s ", $3 }' "$T/runs")), injection alone" \
        "$(awk -v k="$k" '$1 == k { print $4 }' "$T/runs" | median) msgs/s"
done
for col in 3 4; do
    echo "# ratios $([ $col = 3 ] && echo "end to end" || echo "of the injection alone"):" \
        "accept/none $(ratio none accept $col), gateway/none $(ratio none gateway $col)," \
        "envelope/none $(ratio none envelope $col), gateway/accept $(ratio accept gateway $col)," \
        "envelope/accept $(ratio accept envelope $col), floor-env/none $(ratio none floor-env $col)," \
        "envelope/floor-env $(ratio floor-env envelope $col)"
done
bench_verdict postfix-gateway-vs-accept "$(ratio accept gateway)" x ">=" 0.90
bench_verdict postfix-envelope-vs-nomilter "$(ratio none envelope)" x ">=" 0.90
stop_postfix
for pid in "$MXG_GW" "$MXG_ENV" "$ACC" "$ACC_ENV"; do bench_stop "$pid"; done
