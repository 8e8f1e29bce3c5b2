#!/bin/bash
# smoke.sh: keeps the benchmarks' load generator from rotting. In "make
# check": milter_load sends 50 messages at concurrency 2 to accept_milter
# (every protocol step, body included) and to mxguard on the gateway rules
# (steps negotiated away, no reply for some, header edits at the end of
# the message), and every message must complete. It asserts completion,
# never time. mxguard's DNS (SPF in the gateway rules) goes to nsd on
# loopback.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/dns.sh"
. "$SRCDIR/tests/bench/bench_lib.sh"
bench_need
need_nsd
bench_dns_start || { check "nsd starts" false; finish; }

bench_start ACC "unix:$T/accept.sock" "$T/accept.log" "$ACCEPT_MILTER" -p "unix:$T/accept.sock" ||
    { check "accept_milter starts" false; finish; }
bench_start ACC_NR "unix:$T/accept-nr.sock" "$T/accept-nr.log" "$ACCEPT_MILTER" -p "unix:$T/accept-nr.sock" -P 0x73f0 ||
    { check "accept_milter -P starts" false; finish; }
# shellcheck disable=SC2046
bench_mxguard MXG "unix:$T/mxguard.sock" "$SRCDIR/rules/examples/gateway.rules" $(bench_dns_opts) ||
    { check "mxguard starts" false; finish; }

# completes SOCKET: all 50 messages went through, none failed or refused.
completes() {
    local line
    line=$("$MILTER_LOAD" -v -s "$1" -c 2 -m 50 2>"$T/load.err")
    echo "# $line"
    sed 's/^/# /' "$T/load.err"
    [ "$(bench_field "$line" ok)" = 50 ] && [ "$(bench_field "$line" errors)" = 0 ] &&
        [ "$(bench_field "$line" rejected)" = 0 ]
}
check "milter_load: 50 messages through accept_milter (every step)" completes "unix:$T/accept.sock"
check "accept_milter took every step with a reply" grep -q "protocol 0x0\$" "$T/load.err"
check "milter_load: 50 messages through accept_milter -P (steps away, no replies)" completes "unix:$T/accept-nr.sock"
check "accept_milter -P negotiated what it was told" grep -q "protocol 0x73f0\$" "$T/load.err"
check "milter_load: 50 messages through mxguard (steps negotiated away)" completes "unix:$T/mxguard.sock"
# negotiated FLAG: the filter's protocol word (last -v line) has FLAG set.
negotiated() {
    local p
    p=$(sed -n 's/.* protocol 0x\([0-9a-f]*\)$/\1/p' "$T/load.err" | tail -n 1)
    [ -n "$p" ] && (((0x$p & $1) != 0))
}
check "mxguard negotiated a step without a reply (SMFIP_NR_CONN)" negotiated 0x1000
# A refusal counts as one, not as a message through: mxguard refuses
# outside clients that send as one of our own domains ([sender-impersonation]).
check "a refused message is counted as refused" \
    eval '"$MILTER_LOAD" -s "unix:$T/mxguard.sock" -c 1 -m 3 -f ceo@example.org | grep -q " ok=0 rejected=3 errors=0 "'
bench_stop "$MXG"
bench_stop "$ACC"
bench_stop "$ACC_NR"
clean() {
    cat "$T/accept.log" "$T/accept-nr.log" "$T/load.err" >"$T/bench-logs"
    not_contains "$T/bench-logs" "Sanitizer|runtime error:"
}
check "no sanitizer report from accept_milter or milter_load" clean
finish
