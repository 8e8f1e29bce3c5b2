#!/bin/bash
# lazy_dns.sh: a stage asks DNS only when its rules reach one that reads
# it. The shipped dnsbl.rules (gateway rules, then DNS lists and reverse
# DNS at connect, after "Our own networks never ask the lists") against a
# DNS server that never answers, with --dns-budget 3000: a client of our
# own networks (127.0.0.1) goes through a whole session, connect to end
# of message, in well under a second and without one question reaching
# the server (the alternative is the whole budget at connect); an outside
# client waits about the budget at connect, its questions all asked in
# one round, and gets the lists' on-error outcome (not listed, logged).
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/dns.sh"
need_root
need_cmd miltertest
need_dns

BUDGET=3000
cat >"$T/blackhole.spec" <<'SPEC'
# Every question, of every type, under these names: never answered.
*.org.   ANY  timeout
*.arpa.  ANY  timeout
SPEC
start_dnsfake "$T/blackhole.spec" || { check "dnsfake starts" false; finish; }
asked() { grep 'dnsfake: query' "$FAKE_LOG" | grep -vc 'ready\.dnsfake'; }

start_mxguard "$SRCDIR/rules/examples/dnsbl.rules" --dns "127.0.0.1@$FAKE_PORT" --dns-budget "$BUDGET" ||
    { check "daemon starts" false; finish; }

# The filter loads the rules (and runs their tests) after the socket is up:
# time sessions from a filter that serves.
filter_serves() { contains "$MXG_LOG" "filter start: loaded"; }
check "the filter has loaded the rules" wait_for 30 filter_serves

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# session IP SENDER RCPT FULL: one session through miltertest; sets ELAPSED (ms).
session() {
    local t0 rc
    t0=$(now_ms)
    miltertest -D sock="unix:$MXG_SOCK" -D srcdir="$SRCDIR" -D ip="$1" -D sender="$2" -D rcpt="$3" -D full="$4" \
        -s "$SRCDIR/tests/daemon/lazy_dns.lua" >"$T/lua-$1.out" 2>&1
    rc=$?
    ELAPSED=$(($(now_ms) - t0))
    sed 's/^/#   /' "$T/lua-$1.out"
    return $rc
}

before=$(asked)
session 127.0.0.1 "<user@example.org>" "<someone@elsewhere.example>" 1
rc=$?
echo "# trusted client 127.0.0.1: connect to end of message in $ELAPSED ms (DNS budget $BUDGET ms)"
check "a trusted client's whole session is answered continue at every step" [ $rc -eq 0 ]
check "a trusted client's session does not wait for DNS (< 1000 ms)" [ "$ELAPSED" -lt 1000 ]
check "no question of that session reached the DNS server" [ "$(asked)" -eq "$before" ]
check "its connect was decided by [trusted-connect]" \
    contains "$MXG_LOG" "client=[^ ]*\[127\.0\.0\.1\] stage=connect rule=[^ ]*\[trusted-connect\] action=continue"
check "its message was let through by [auth-exempt]" \
    contains "$MXG_LOG" "client=[^ ]*\[127\.0\.0\.1\] stage=eom rule=[^ ]*\[auth-exempt\] action=continue"
trusted_record() { grep -E 'record=message .*client=[^ ]*\[127\.0\.0\.1\] ' "$MXG_LOG"; }
echo "# in the filter, by its record: $(trusted_record | grep -oE 'us\.[a-z]+=[0-9]+' | tr '\n' ' ')"
check "its record: the message accepted" eval 'trusted_record | grep -q " outcome=accept "'
check "its record: 0 us waited for DNS, no reverse DNS looked up" \
    eval 'trusted_record | grep " us\.dns=0 " | grep -vq " rdns="'

session 203.0.113.7 "<someone@outside.example>" "<user@example.org>" 0
rc=$?
n=$(asked)
echo "# outside client 203.0.113.7: connect to rcpt in $ELAPSED ms; $n questions reached the DNS server"
grep 'dnsfake: query' "$FAKE_LOG" | grep -v 'ready\.dnsfake' | sed 's/^/#   /'
check "an outside client's session goes on: the lists' on-error outcome is not listed" [ $rc -eq 0 ]
check "it waited about the budget at connect (>= $((BUDGET - 300)) ms)" [ "$ELAPSED" -ge $((BUDGET - 300)) ]
check "and not much more: the budget bounds the stage (< $((BUDGET + 1500)) ms)" [ "$ELAPSED" -lt $((BUDGET + 1500)) ]
check "it asked both lists and the PTR" test "$(dnsfake_count 7.113.0.203.zen.spamhaus.org. A)" -ge 1 -a \
    "$(dnsfake_count 7.113.0.203.list.dnswl.org. A)" -ge 1 -a "$(dnsfake_count 7.113.0.203.in-addr.arpa. PTR)" -ge 1
check "the failed lookups are logged with the session" contains "$MXG_LOG" "client=[^ ]*203\.0\.113\.7.* dns=.*zen\.spamhaus\.org"
finish
