#!/bin/bash
# dns_checks.sh: reverse DNS and DNS lists against real DNS servers on
# loopback: nsd for plain zones, dnsfake for timeouts and SERVFAIL. The
# engine is driven through mxguard --test-session with the daemon's own
# resolver (--dns), so every answer crosses libunbound and the network.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/dns.sh"
need_dns
need_nsd

dns_zone test. <<'ZONE'
mail.good      A     203.0.113.5
mail.liar      A     198.51.100.1
v6.good        AAAA  2001:db8::25
5.113.0.203.bl A     127.0.0.2
5.113.0.203.bl TXT   "Listed by bl.test: " "see https://bl.test/q?203.0.113.5"
7.113.0.203.bl A     127.0.0.3
9.113.0.203.bl A     10.0.0.1
5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl A 127.0.0.2
6.113.0.203.mask A   127.0.0.6
8.113.0.203.mask A   127.0.0.2
11.113.0.203.wl A    127.0.0.10
11.113.0.203.bl A    127.0.0.2
spam.example.dbl A   127.0.1.2
spam.example.dbl TXT "spam.example is a spam domain"
loop           A     127.0.0.1
loop           AAAA  ::1
ZONE
# Loopback reverse names and localhost., which libunbound would answer
# itself (localhost.) unless --dns sends every question to the servers.
dns_zone 127.in-addr.arpa. <<'ZONE'
1.0.0   PTR   loop.test.
9.0.0   PTR   localhost.
ZONE
dns_zone 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa. <<'ZONE'
@       PTR   loop.test.
ZONE
dns_zone localhost. <<'ZONE'
@       A     127.0.0.9
ZONE
dns_zone 113.0.203.in-addr.arpa. <<'ZONE'
5   PTR mail.good.test.
6   PTR mail.liar.test.
11  PTR mail.good.test.
ZONE
dns_zone 8.b.d.0.1.0.0.2.ip6.arpa. <<'ZONE'
5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 PTR v6.good.test.
ZONE
dns_zone zen.spamhaus.org. <<'ZONE'
7.113.0.203 A   127.0.0.2
7.113.0.203 TXT "https://www.spamhaus.org/query/ip/203.0.113.7"
ZONE
start_nsd || { check "nsd starts" false; finish; }

# The shipped dnsbl.rules: a listed client is refused at connect, and the
# admin's text (with the list's reason) answers its first command.
printf 'EHLO client.example\nMAIL FROM:<a@outside.example>\nQUIT\n' |
    "$MXGUARD" -c "$SRCDIR/rules/examples/dnsbl.rules" --test-session 203.0.113.7 \
        --dns "127.0.0.1@$NSD_PORT" --dns-timeout 2000 --dns-budget 4000 >"$T/out" 2>&1
sed 's/^/#   /' "$T/out"
check "shipped dnsbl.rules: a listed client is refused at connect, answered at HELO" \
    grep -q '^554 5\.7\.1 Service unavailable; client \[203\.0\.113\.7\] blocked using zen\.spamhaus\.org: https://www\.spamhaus\.org/query/ip/203\.0\.113\.7$' "$T/out"
check "... and at every later command" test "$(grep -c '^554 5\.7\.1 Service unavailable' "$T/out")" -eq 2

cat >"$T/dns.rules" <<'RULES'
dnslist bl   { zone "bl.test"; codes { "127.0.0.2", "127.0.0.4/30" }; weight 2; }
dnslist mask { zone "mask.test"; bitmask 0x04; weight 1; }
dnslist wl   { zone "wl.test"; weight -10; }
dnslist dbl  { zone "dbl.test"; checks sender.domain; }
on rcpt {
    [allowed]   continue if client.address in <wl>;
    [listed]    reject 554 5.7.1 "%{client.address} listed: %{dnsbl.reason}" if client.address in <bl>;
    [masked]    reject 554 5.7.1 "bitmask listing" if client.address in <mask>;
    [dbl]       reject 554 5.7.1 "sender domain listed: %{dnsbl.reason}" if sender.domain in <dbl>;
    [no-ptr]    tempfail 450 4.7.25 "%{client.address} has no PTR" if rdns.none;
    [forged]    tempfail 450 4.7.25 "PTR %{rdns.ptr} does not resolve to %{client.address}" if rdns.unconfirmed;
    [rdns-fail] tempfail 451 4.4.3 "reverse DNS failed, try later" if rdns.temperror;
    [ok]        reject 550 5.7.1 "confirmed as %{rdns.name} (score %{dnsbl.score})" if rdns.confirmed;
}
RULES

# session ADDR [FROM] [mxguard options]: one RCPT, the decision lines.
session() {
    local addr=$1 from=${2:-someone@outside.example}; shift 2 || shift $#
    printf 'EHLO client.example\nMAIL FROM:<%s>\nRCPT TO:<user@example.org>\nQUIT\n' "$from" |
        "$MXGUARD" -c "$T/dns.rules" --test-session "$addr" --dns "127.0.0.1@$NSD_PORT" \
            --dns-timeout 2000 --dns-budget 4000 "$@" >"$T/out" 2>&1
    grep -E '^(# rcpt|[245][0-9][0-9] )' "$T/out" | grep -A1 '^# rcpt' | sed 's/^/#   /'
}
decided() { grep -q "^# rcpt: rule [^ ]*: \[$1\]" "$T/out" && grep -Eq -- "$2" "$T/out"; }

session 203.0.113.5
check "listed client: the list's TXT reason in the reply" \
    decided listed '^554 5\.7\.1 203\.0\.113\.5 listed: Listed by bl\.test: see https://bl\.test/q\?203\.0\.113\.5$'
session 203.0.113.7
check "listed with a code outside the list's codes: not listed (confirmed? no PTR)" decided no-ptr '^450 4\.7\.25'
session 203.0.113.9
check "a listing outside 127.0.0.0/8 is ignored" decided no-ptr '^450 4\.7\.25 203\.0\.113\.9 has no PTR$'
session 203.0.113.6
check "bitmask listing (127.0.0.6 & 0x04)" decided masked '^554 5\.7\.1 bitmask listing$'
session 203.0.113.8
check "bitmask without the bit (127.0.0.2 & 0x04) and no PTR" decided no-ptr '^450 4\.7\.25'
session 203.0.113.11
check "an allow list lets a block-listed client through" decided allowed '^250 2\.1\.5'
session 203.0.113.5 "x@spam.example" --client-name ignored
check "RHSBL on the sender domain (the IP listing decides first here)" decided listed '^554'
session 198.51.100.20 "x@spam.example"
check "RHSBL on the sender domain, with its TXT" decided dbl '^554 5\.7\.1 sender domain listed: spam\.example is a spam domain$'
session 203.0.113.12 "x@clean.example"
check "no PTR: rdns.none" decided no-ptr '^450 4\.7\.25 203\.0\.113\.12 has no PTR$'

# Reverse DNS: confirmed, unconfirmed, IPv6.
cat >"$T/rdns.rules" <<'RULES'
on rcpt {
    [ok]       reject 550 5.7.1 "confirmed as %{rdns.name}" if rdns.confirmed;
    [forged]   tempfail 450 4.7.25 "PTR %{rdns.ptr} is not %{client.address}" if rdns.unconfirmed;
    [no-ptr]   tempfail 450 4.7.25 "no PTR" if rdns.none;
    [rdns-fail] tempfail 451 4.4.3 "reverse DNS failed" if rdns.temperror;
}
RULES
rdns() {
    printf 'EHLO c.example\nMAIL FROM:<a@b.example>\nRCPT TO:<u@example.org>\nQUIT\n' |
        "$MXGUARD" -c "$T/rdns.rules" --test-session "$1" --dns "127.0.0.1@${2:-$NSD_PORT}" \
            --dns-timeout 1000 --dns-budget 1500 >"$T/out" 2>&1
}
rdns 203.0.113.5
check "confirmed reverse DNS, with the confirmed name" decided ok '^550 5\.7\.1 confirmed as mail\.good\.test$'
rdns 203.0.113.6
check "unconfirmed reverse DNS names the PTR" decided forged '^450 4\.7\.25 PTR mail\.liar\.test is not 203\.0\.113\.6$'
rdns 2001:db8::25
check "IPv6 client: nibble-reversed PTR, confirmed by AAAA" decided ok '^550 5\.7\.1 confirmed as v6\.good\.test$'

# Loopback clients: with --dns the servers answer their reverse names
# too, not libunbound's built-in "localhost." (and localhost. itself is
# asked: its A here is 127.0.0.9, not the built-in 127.0.0.1).
cat >"$T/loop.rules" <<'RULES'
on rcpt {
    [rdns] reject 550 5.7.1 "rdns %{rdns.name} ptr %{rdns.ptr}" if not rdns.name = "-";
}
RULES
loop_rdns() {
    printf 'EHLO c.example\nMAIL FROM:<a@b.example>\nRCPT TO:<u@example.org>\nQUIT\n' |
        "$MXGUARD" -c "$T/loop.rules" --test-session "$1" --dns "127.0.0.1@$NSD_PORT" \
            --dns-timeout 1000 --dns-budget 1500 >"$T/out" 2>&1
    grep -E '^#   tested|^550 ' "$T/out" | sed 's/^/#   /'
}
loop_rdns 127.0.0.1
check "127.0.0.1: the server's PTR, confirmed (not libunbound's localhost)" \
    grep -qx '#   tested: rdns.name="loop.test"' "$T/out"
check "... in the reply too" grep -qx '550 5\.7\.1 rdns loop\.test ptr loop\.test' "$T/out"
loop_rdns ::1
check "::1: the server's PTR, confirmed by its AAAA" grep -qx '#   tested: rdns.name="loop.test"' "$T/out"
loop_rdns 127.0.0.9
check "localhost. is asked too: PTR localhost, confirmed by the server's A 127.0.0.9" \
    grep -qx '#   tested: rdns.name="localhost"' "$T/out"

# IPv6 DNSBL (reversed nibbles).
session 2001:db8::25
check "IPv6 client listed on a DNSBL" decided listed '^554 5\.7\.1 2001:db8::25 listed'

# A server that does not answer, and SERVFAIL: dnsfake.
cat >"$T/fake.spec" <<'SPEC'
@zone dead.test
@zone sf.test
@zone slow.test
*.dead.test.  ANY  timeout
*.sf.test.    ANY  servfail
*.slow.test.  A    delay=300 127.0.0.2
SPEC
start_dnsfake "$T/fake.spec" || { check "dnsfake starts" false; finish; }
cat >"$T/fail.rules" <<'RULES'
dnslist dead-skip { zone "dead.test"; }
dnslist dead-hard { zone "sf.test"; on-error tempfail; }
dnslist slow { zone "slow.test"; }
on rcpt {
    # A dry run never refuses, even when its list (on-error tempfail) fails.
    [dry-run] warn reject 554 5.7.1 "would refuse" if client.address in <dead-hard>;
    [skipped] reject 554 5.7.1 "dead list" if client.address in <dead-skip>;
    [slow]    reject 554 5.7.1 "slow list %{client.address}" if recipient.local = "slow" and client.address in <slow>;
    # Conditions stop at the first false part: the list is tested for "hard" only.
    [hard]    reject 554 5.7.1 "servfail list" if recipient.local = "hard" and client.address in <dead-hard>;
}
RULES
fail_session() { # LOCALPART: the elapsed ms go to $T/ms
    local t0 t1
    t0=$(dns_now_ms)
    printf 'EHLO c.example\nMAIL FROM:<a@b.example>\nRCPT TO:<%s@example.org>\nQUIT\n' "$1" |
        "$MXGUARD" -c "$T/fail.rules" --test-session 203.0.113.5 --dns "127.0.0.1@$FAKE_PORT" \
            --dns-timeout 1000 --dns-budget 1500 >"$T/out" 2>&1
    t1=$(dns_now_ms)
    echo $((t1 - t0)) >"$T/ms"
}
fail_session anyone
check "a dead list (on-error skip) is skipped, and a dry run on a failing list refuses nothing" \
    grep -q '^250 2\.1\.5' "$T/out"
check "... and the stage ends within its budget, no hang ($(cat "$T/ms") ms)" test "$(cat "$T/ms")" -lt 4000
fail_session slow
check "a slow list still answers within the timeout" decided slow '^554 5\.7\.1 slow list 203\.0\.113\.5$'
fail_session hard
check "SERVFAIL on a list with on-error tempfail: 451 4.4.3, never an accept" grep -q '^451 4\.4\.3 Temporary DNS failure' "$T/out"
check "the dead list was asked (and abandoned)" grep -q 'dead.test' "$FAKE_LOG"

# The DNS server stopped: the stage ends within its budget and the rule's
# choice for a temporary failure is what the client sees.
stop_nsd
t0=$(dns_now_ms)
rdns 203.0.113.5
ms=$(( $(dns_now_ms) - t0 ))
check "DNS server stopped: rdns.temperror decides" decided rdns-fail '^451 4\.4\.3 reverse DNS failed$'
check "DNS server stopped: no hang ($ms ms, budget 1500)" test "$ms" -lt 4000
finish
