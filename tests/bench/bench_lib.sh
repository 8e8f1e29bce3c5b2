# bench_lib.sh: what the milter benchmarks share. Source it after
# common.sh and dns.sh:
#
#   bench_need                          # root and the built bench programs
#   bench_dns_start                     # nsd with the zones every client needs
#   bench_dns_rules                     # the same, and $T/rules/bench-dns.rules
#   bench_start ACC_PID "unix:$T/a.sock" "$T/a.log" "$ACCEPT_MILTER" -p "unix:$T/a.sock"
#   bench_mxguard MXG1 "unix:$T/m.sock" "$T/rules/bench-dns.rules" --dns ...
#   line=$(bench_load "unix:$T/a.sock" 16 5000)   # milter_load's result line
#   bench_field "$line" rate
#   bench_stop "$ACC_PID"
#
# Daemons are started in the background, tracked (common.sh stops them
# at exit) and stopped by PID. Sockets: libmilter syntax (unix:/path,
# inet:PORT@127.0.0.1), loopback only.

MILTER_LOAD="$BUILDDIR/tests/bench/milter_load"
ACCEPT_MILTER="$BUILDDIR/tests/bench/accept_milter"

bench_need() {
    need_root
    local b
    for b in "$MILTER_LOAD" "$ACCEPT_MILTER"; do
        [ -x "$b" ] || { echo "# $b is not built: run 'make bench' (or make ${b#"$BUILDDIR"/})"; exit 1; }
    done
}

# median: the median of the numbers on stdin, one a line.
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }

# bench_field LINE KEY: the value of KEY=VALUE in a milter_load line.
bench_field() {
    printf '%s\n' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2; exit }'
}

# bench_verdict NAME VALUE UNIT OP TARGET: the one line per target.
bench_verdict() {
    local ok
    ok=$(awk -v v="$2" -v t="$5" -v op="$4" 'BEGIN {
        r = (op == ">=") ? v >= t : (op == "<=") ? v <= t : (op == "<") ? v < t : v > t
        print r ? "ok" : "MISS" }')
    echo "bench: $1: $2 $3 (target $4 $5): $ok"
}

# socket_ready SPEC: something listens on the milter socket SPEC.
socket_ready() {
    case $1 in
    unix:*) unix_listening "${1#unix:}" ;;
    inet:*) local p=${1#inet:}; p=${p%@*}
            ss -ltnH 2>/dev/null | awk -v p="$p" '{ n = split($4, a, ":"); if (a[n] == p) f = 1 } END { exit !f }' ;;
    *) return 1 ;;
    esac
}

# bench_start VAR SPEC LOG COMMAND...: start a daemon listening on SPEC
# with umask 0111 (postfix's smtpd must reach a unix socket), wait until
# it listens; VAR gets its PID.
bench_start() {
    local var=$1 spec=$2 log=$3 pid; shift 3
    (umask 0111; exec "$@" >"$log" 2>&1 </dev/null) &
    pid=$!
    track_pid "$pid"
    printf -v "$var" '%s' "$pid"
    if ! wait_for 10 socket_ready "$spec"; then
        echo "# $1 did not listen on $spec; its log:"
        sed 's/^/#   /' "$log"
        return 1
    fi
}

# bench_mxguard VAR SPEC RULES [options...]: mxguard in the foreground as
# user mxguard on SPEC; VAR gets the supervisor's PID.
bench_mxguard() {
    local var=$1 spec=$2 rules=$3; shift 3
    ensure_user
    MXG_STARTS=$((MXG_STARTS + 1))
    bench_start "$var" "$spec" "$T/mxguard-$MXG_STARTS.log" \
        "$MXGUARD" -f -c "$rules" -p "$spec" -u mxguard --umask 0111 "$@" || return 1
    wait_for 10 bench_filter_pid "${!var}" >/dev/null
}

# bench_filter_pid SUPERVISOR: the filter process (the supervisor's child).
bench_filter_pid() {
    local p
    p=$(pgrep -P "$1" -x mxguard | head -n 1)
    [ -n "$p" ] && echo "$p"
}

# bench_stop PID: SIGTERM, wait until it is gone (libmilter takes up to
# a few seconds), SIGKILL after 20 s.
bench_stop() {
    kill -TERM "$1" 2>/dev/null || return 0
    wait_for 20 pid_gone "$1" || kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    untrack_pid "$1"
}

# bench_load SPEC CONCURRENCY MESSAGES [milter_load options...]: one run;
# prints milter_load's result line; fails when a message failed or was
# refused (then the set-up is wrong, not slow).
bench_load() {
    local spec=$1 c=$2 m=$3 line; shift 3
    line=$("$MILTER_LOAD" -s "$spec" -c "$c" -m "$m" "$@" 2>>"$T/milter_load.err") || {
        echo "# milter_load -s $spec -c $c -m $m failed: $line" >&2
        sed 's/^/#   /' "$T/milter_load.err" >&2
        return 1
    }
    if [ "$(bench_field "$line" ok)" != "$m" ]; then
        echo "# milter_load -s $spec: not every message was accepted: $line" >&2
        return 1
    fi
    echo "$line"
}

# bench_dns_start: nsd on loopback (no rate limit: dns.sh's nsd config)
# with what the sessions of milter_load and smtp-source look up: every
# client milter_load presents (203.0.113.1-250) has a confirmed PTR and is
# not in the block list bl.test, and outside.example, the senders' domain,
# allows them with SPF and publishes DMARC p=reject (their From: aligns
# through SPF). mxguard is always pointed at it (bench_dns_opts):
# the gateway rules check SPF, and nothing may ask the system's resolver.
# The targets are for cached DNS: records and negative answers live 300 s,
# as block lists' and mail domains' commonly do at least (the tests' 5 s
# would send a few per cent of the sessions to nsd, and measure that).
bench_dns_start() {
    local i
    { bench_zone_head bl.test.; echo '99.100.51.198 A 127.0.0.2'; } | dns_zone bl.test.
    {
        bench_zone_head 113.0.203.in-addr.arpa.
        for i in $(seq 1 250); do echo "$i PTR mail$((i - 1)).outside.example."; done
    } | dns_zone 113.0.203.in-addr.arpa.
    {
        bench_zone_head outside.example.
        echo '@ TXT "v=spf1 ip4:203.0.113.0/24 ip4:127.0.0.0/8 -all"'
        echo '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc-reports@outside.example"'
        for i in $(seq 1 250); do echo "mail$((i - 1)) A 203.0.113.$i"; done
    } | dns_zone outside.example.
    start_nsd >/dev/null || { echo "# nsd did not start"; return 1; }
}

# bench_zone_head ORIGIN: a TTL and a SOA (negative TTL) of 300 s.
bench_zone_head() {
    echo '$TTL 300'
    echo "@ IN SOA localhost. hostmaster.$1 1 60 60 600 300"
    echo '@ IN NS localhost.'
}

# bench_dns_rules: bench_dns_start, and the shipped gateway rules plus, at
# connect, a DNS block list and reverse DNS (the dnsbl.rules example, with
# a list of our own) in $T/rules/bench-dns.rules.
bench_dns_rules() {
    mkdir -p "$T/rules"
    cp "$SRCDIR"/rules/examples/* "$T/rules/"
    cat >"$T/rules/bench-dns.rules" <<'EOF'
include "gateway.rules";
dnslist bl { zone "bl.test"; codes { "127.0.0.2" }; }
on connect {
    [trusted-connect] continue if client.address in <trusted_networks>;
    [bl] reject 554 5.7.1 "Service unavailable; client [%{client.address}] blocked using bl.test" if client.address in <bl>;
    [no-ptr] warn tempfail 450 4.7.25 "Client [%{client.address}] has no reverse DNS" if rdns.none;
}
EOF
    chmod -R go+rX "$T/rules"
    bench_dns_start || return 1
    "$MXGUARD" -n -c "$T/rules/bench-dns.rules" >"$T/check.out" 2>&1 || {
        sed 's/^/#   /' "$T/check.out"; return 1; }
}

# The options that point mxguard's resolver at the test's nsd.
bench_dns_opts() { echo "--dns 127.0.0.1@$NSD_PORT --dns-timeout 2000 --dns-budget 4000"; }
