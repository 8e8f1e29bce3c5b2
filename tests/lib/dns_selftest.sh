#!/bin/bash
# dns_selftest.sh: the DNS test infrastructure (dns.sh, dnsfake.py) works:
# nsd serves A, PTR, MX and multi-string TXT records over UDP and TCP on
# 127.0.0.1 and ::1, stops and comes back on its port, rejects a bad zone
# clearly; dnsfake answers late (and meanwhile answers other queries),
# never, with SERVFAIL, NXDOMAIN, REFUSED, wildcards, garbage, truncation;
# both leave nothing running once stopped.

# shellcheck disable=SC2317  # functions run through check
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/dns.sh"

need_nsd

# answer_is WANT [dns_query args...]: the --short answer is WANT.
answer_is() {
    local want=$1 got; shift
    got=$(dns_query --short "$@")
    [ "$got" = "$want" ] && return 0
    echo "# dns_query $*: got '$got', want '$want'"
    return 1
}

# answer_time_between MIN MAX WANT [dns_query args...]: the answer is WANT
# and came after MIN to MAX ms.
answer_time_between() {
    local min=$1 max=$2 want=$3 out ms; shift 3
    out=$(dns_query --short --time "$@")
    ms=$(echo "$out" | sed -n 's/^;; time: \([0-9]*\) ms$/\1/p')
    echo "# dns_query $*: $(echo "$out" | head -n 1) after ${ms:-?} ms"
    [ "$(echo "$out" | head -n 1)" = "$want" ] && [ -n "$ms" ] && [ "$ms" -ge "$min" ] && [ "$ms" -le "$max" ]
}

# times_out SECONDS [dns_query args...]: no answer within SECONDS.
times_out() {
    local s=$1 start out rc; shift
    start=$(dns_now_ms)
    out=$(dns_query --short --timeout "$s" "$@"); rc=$?
    echo "# dns_query $*: '$out' (status $rc) after $(($(dns_now_ms) - start)) ms"
    [ "$rc" = 2 ] && [ "$out" = TIMEOUT ] && [ $(($(dns_now_ms) - start)) -ge $((s * 1000 - 50)) ]
}

# all_gone PID...: none of the processes exists.
all_gone() {
    local p
    for p in "$@"; do dns_gone "$p" || { echo "# process $p still runs"; return 1; }; done
    return 0
}

port_free() { ! port_busy "$1"; }

# status_is STATUS [dns_query args...]: dns_query exits with STATUS.
status_is() {
    local want=$1 rc; shift
    dns_query "$@" >"$T/status.out"; rc=$?
    [ "$rc" = "$want" ] || { echo "# dns_query $*: status $rc, want $want"; return 1; }
}

# answer_count_is N [dns_query args...]: N records in the answer.
answer_count_is() {
    local want=$1 n; shift
    n=$(dns_query --short "$@" | wc -l)
    [ "$n" = "$want" ] || { echo "# dns_query $*: $n records, want $want"; return 1; }
}

# start_fails FUNCTION TEXT [ARGS...]: FUNCTION ARGS fails and says TEXT.
start_fails() {
    local fn=$1 text=$2 rc; shift 2
    "$fn" "$@" >"$T/start_fails.out" 2>&1; rc=$?
    cat "$T/start_fails.out"
    [ "$rc" != 0 ] && grep -qF -- "$text" "$T/start_fails.out"
}

unbound_conf_ok() {
    local f
    f=$(dns_unbound_conf 5353) && [ "$f" = "$T/dns/unbound.conf" ] || return 1
    grep -q "forward-addr: 127.0.0.1@5353" "$f" && grep -q "do-not-query-localhost: no" "$f" &&
        grep -q 'local-zone: "test." nodefault' "$f"
}

# not_blocked: while slow.test's answer is delayed, another query is
# answered at once.
not_blocked() {
    dns_query --short slow.test A "$FAKE_PORT" >"$T/slow.out" &
    local bg=$!
    sleep 0.2
    answer_time_between 0 400 SERVFAIL broken.test A "$FAKE_PORT" || { wait "$bg"; return 1; }
    wait "$bg" && [ "$(cat "$T/slow.out")" = 192.0.2.1 ]
}

has_ip6=""
case " $(dns_addrs) " in *" ::1 "*) has_ip6=1 ;; esac

# --- nsd
dns_zone test. <<'EOF'
a       A     192.0.2.1
        AAAA  2001:db8::1
t       TXT   "one" "two words" "v=spf1 -all"
mx      MX    10 a.test.
spf     TXT   "v=spf1 ip4:192.0.2.0/24 -all"
EOF
dns_zone 127.in-addr.arpa <<'EOF'
5.0.0   PTR   host5.test.
EOF

check "nsd starts and answers" start_nsd
check "nsd A over UDP" answer_is 192.0.2.1 a.test A "$NSD_PORT"
check "nsd A over TCP" answer_is 192.0.2.1 --tcp a.test A "$NSD_PORT"
check "nsd AAAA" answer_is 2001:db8::1 a.test AAAA "$NSD_PORT"
check "nsd multi-string TXT over UDP" answer_is '"one" "two words" "v=spf1 -all"' t.test TXT "$NSD_PORT"
check "nsd multi-string TXT over TCP" answer_is '"one" "two words" "v=spf1 -all"' --tcp t.test TXT "$NSD_PORT"
check "nsd PTR" answer_is host5.test. 5.0.0.127.in-addr.arpa PTR "$NSD_PORT"
check "nsd MX" answer_is "10 a.test." mx.test MX "$NSD_PORT"
check "nsd NXDOMAIN in its zone" answer_is NXDOMAIN nope.test A "$NSD_PORT"
check "nsd NODATA" answer_is NODATA mx.test TXT "$NSD_PORT"
check "nsd REFUSED outside its zones" answer_is REFUSED example.org A "$NSD_PORT"
if [ -n "$has_ip6" ]; then
    check "nsd on ::1 over UDP" answer_is 192.0.2.1 --server ::1 a.test A "$NSD_PORT"
    check "nsd on ::1 over TCP" answer_is '"one" "two words" "v=spf1 -all"' --server ::1 --tcp t.test TXT "$NSD_PORT"
fi
# Debian's nsd limits answers to 200/s per /24 by default: lost answers
# and empty truncated ones ("slip") show it.
check "nsd without rate limiting (600 queries over UDP, all answered)" \
    "$DNS_PYTHON" - "$NSD_PORT" <<'EOF'
import socket, sys
from dnslib import DNSRecord
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
bad = 0
for i in range(600):
    s.sendto(DNSRecord.question('a.test', 'A').pack(), ('127.0.0.1', int(sys.argv[1])))
    try:
        bad += DNSRecord.parse(s.recv(4096)).header.tc
    except socket.timeout:
        bad += 1
print('# %d of 600 queries lost or truncated' % bad)
sys.exit(bad > 0)
EOF
nsd_port=$NSD_PORT
nsd_procs="$NSD_PID $(dns_descendants "$NSD_PID" | tr '\n' ' ')"
echo "# nsd processes: $nsd_procs"
check "stop_nsd stops nsd" stop_nsd
# shellcheck disable=SC2086
check "no nsd process is left" all_gone $nsd_procs
check "nsd's port is free (TCP and UDP)" port_free "$nsd_port"
check "stopped nsd does not answer" times_out 1 a.test A "$nsd_port"
dns_zone test. <<'EOF'
a       A     192.0.2.2
EOF
check "nsd restarts on its port" start_nsd
check "restarted nsd kept its port" [ "$NSD_PORT" = "$nsd_port" ]
check "restarted nsd serves the new zone" answer_is 192.0.2.2 a.test A "$NSD_PORT"
check "stop_nsd again" stop_nsd

# --- dnsfake
cat >"$T/spec" <<EOF
# selftest spec
@zone test.
@zonefile $(dns_zone_file 127.in-addr.arpa) 127.in-addr.arpa.
slow.test.       A    delay=800 192.0.2.1   # late
dead.test.       ANY  timeout
broken.test.     A    servfail
nx.test.         A    nxdomain
nodata.test.     A    nodata
garbage.test.    A    malformed 192.0.2.9
*.list.test.     A    127.0.0.2
*.list.test.     TXT  "listed" "see https://example.org/#x"
big.test.        TXT  repeat=40 "{n}: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
spf.test.        SPF  "v=spf1 -all"
alias.test.      CNAME slow.test.
mixed.test.      TXT  "v=spf1 -all"
mixed.test.      ANY  timeout
EOF
check "dnsfake starts and answers" start_dnsfake "$T/spec"
check "delayed answer after 800 ms" answer_time_between 790 1500 192.0.2.1 slow.test A "$FAKE_PORT"
check "a delayed answer does not hold others back" not_blocked
check "timeout: no answer within 2 s (UDP)" times_out 2 dead.test A "$FAKE_PORT"
check "timeout: no answer within 2 s (TCP, other type)" times_out 2 --tcp dead.test TXT "$FAKE_PORT"
check "servfail" answer_is SERVFAIL broken.test A "$FAKE_PORT"
check "nxdomain rule" answer_is NXDOMAIN nx.test A "$FAKE_PORT"
check "nodata rule" answer_is NODATA nodata.test A "$FAKE_PORT"
check "NXDOMAIN under a served zone" answer_is NXDOMAIN unknown.test A "$FAKE_PORT"
check "REFUSED outside the served zones" answer_is REFUSED example.org A "$FAKE_PORT"
check "wildcard A" answer_is 127.0.0.2 2.0.0.127.list.test A "$FAKE_PORT"
check "wildcard multi-string TXT" answer_is '"listed" "see https://example.org/#x"' 2.0.0.127.list.test TXT "$FAKE_PORT"
check "wildcard NODATA for another type" answer_is NODATA 2.0.0.127.list.test MX "$FAKE_PORT"
check "SPF (type 99)" answer_is '"v=spf1 -all"' spf.test SPF "$FAKE_PORT"
check "PTR from a zone file" answer_is host5.test. 5.0.0.127.in-addr.arpa PTR "$FAKE_PORT"
check "CNAME followed" answer_is "$(printf 'CNAME slow.test.\n192.0.2.1')" alias.test A "$FAKE_PORT"
check "ANY timeout leaves a type with its own rule alone" answer_is '"v=spf1 -all"' mixed.test TXT "$FAKE_PORT"
check "ANY timeout for the other types" times_out 1 mixed.test SPF "$FAKE_PORT"
check "malformed answer is unparsable" status_is 3 garbage.test A "$FAKE_PORT"
check "40 TXT records truncate over UDP" answer_is TRUNCATED big.test TXT "$FAKE_PORT"
check "40 TXT records over TCP" answer_count_is 40 --tcp big.test TXT "$FAKE_PORT"
if [ -n "$has_ip6" ]; then
    check "dnsfake on ::1 (UDP)" answer_is SERVFAIL --server ::1 broken.test A "$FAKE_PORT"
    check "dnsfake on ::1 (TCP)" answer_is 127.0.0.2 --server ::1 --tcp x.list.test A "$FAKE_PORT"
fi
check "each query is logged (slow.test: 2)" [ "$(dnsfake_count slow.test)" = 2 ]
check "queries counted by type (dead.test TXT: 1)" [ "$(dnsfake_count dead.test TXT)" = 1 ]
echo 'slow.test. A 192.0.2.77' >"$T/spec"
reload_dnsfake "$FAKE_PID"
check "SIGHUP reloads the spec" wait_for 5 answer_is 192.0.2.77 slow.test A "$FAKE_PORT"
fake_pid=$FAKE_PID fake_port=$FAKE_PORT
check "stop_dnsfake stops it" stop_dnsfake
check "no dnsfake process is left" all_gone "$fake_pid"
check "dnsfake's port is free (TCP and UDP)" port_free "$fake_port"
echo 'x.test. A bogus-address' >"$T/bad.spec"
check "a bad spec fails start_dnsfake, naming the line" \
    start_fails start_dnsfake "bad.spec:1: bad A data" "$T/bad.spec"

# --- libunbound settings; a bad zone
check "dns_unbound_conf writes the settings" unbound_conf_ok
dns_zone bad. <<'EOF'
x  A  300.1.2.3
EOF
check "a bad zone fails start_nsd with nsd-checkzone's message" \
    start_fails start_nsd "invalid IPv4 address '300.1.2.3'"
finish
