# dns.sh: DNS servers for script tests: Debian's nsd serving zone files, and
# dnsfake.py (beside this file), a programmable server for slow, dead,
# broken and garbled answers. Source it after common.sh:
#
#   . "$SRCDIR/tests/lib/common.sh"
#   . "$SRCDIR/tests/lib/dns.sh"
#   need_nsd                        # skips (77) without nsd or python3-dnslib
#   dns_zone test. <<'EOF'          # just records: SOA and NS are added
#   mx    A    192.0.2.10
#   t     TXT  "v=spf1" " -all"
#   EOF
#   start_nsd                       # NSD_PORT, NSD_PID, NSD_LOG; 127.0.0.1 and ::1
#   dns_query --short t.test TXT "$NSD_PORT"
#   stop_nsd                        # "DNS server stopped"; start_nsd again
#                                   # comes back on the same port
#   cat >"$T/spec" <<EOF            # format: head comment of dnsfake.py
#   $(dns_fake_zonefiles)           # @zonefile lines for the dns_zone zones
#   dead.test.  ANY  timeout
#   EOF
#   start_dnsfake "$T/spec"         # FAKE_PORT, FAKE_PID, FAKE_LOG
#   dnsfake_count dead.test.        # queries the fake received for a name
#   dns_unbound_conf "$NSD_PORT"    # $T/dns/unbound.conf for libunbound
#
# Everything lives in $T/dns; servers listen on loopback only, at ports
# reserved with common.sh's free_port (one directory for every test, so no
# port is handed out twice), free in TCP and UDP. Both servers are stopped
# by PID at exit (and tracked with track_pid as a fallback).

# shellcheck disable=SC2034  # FAKE_PORT and friends are for the tests
DNS_DIR="$T/dns"
DNS_LIB="$SRCDIR/tests/lib"
DNS_PYTHON=${DNS_PYTHON:-}
DNS_ADDRS=${DNS_ADDRS:-}            # "127.0.0.1" to leave ::1 out
NSD_PORT=""
NSD_PID=""
NSD_LOG=""
NSD_START_MS=""
FAKE_PORT=""
FAKE_PID=""
FAKE_LOG=""
DNS_FAKE_PIDS=""
DNS_FAKE_SEQ=0
DNS_PORTS=""                    # the ports this file reserved
mkdir -p "$DNS_DIR/zones"

# dns_python: find a python3 that has dnslib (Debian's python3-dnslib is
# for /usr/bin/python3; a pyenv or venv python3 first in PATH lacks it).
dns_python() {
    local py
    [ -n "$DNS_PYTHON" ] && return 0
    for py in python3 /usr/bin/python3; do
        if "$py" -c 'import dnslib' 2>/dev/null; then
            DNS_PYTHON=$(command -v "$py")
            return 0
        fi
    done
    return 1
}

need_dns() {
    need_cmd ss
    dns_python || skip "needs python3-dnslib for /usr/bin/python3 (scripts/install-deps.sh installs it)"
}
need_nsd() {
    need_dns
    need_cmd nsd
    need_cmd nsd-checkzone
    need_cmd nsd-checkconf
}

# dns_addrs: the loopback addresses to serve on: 127.0.0.1, and ::1 where
# the machine has it (IPv6 can be disabled in containers).
dns_addrs() {
    [ -n "$DNS_ADDRS" ] && { echo "$DNS_ADDRS"; return; }
    DNS_ADDRS=127.0.0.1
    grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null &&
        DNS_ADDRS="127.0.0.1 ::1"
    echo "$DNS_ADDRS"
}

# dns_zone ORIGIN: zone-file text on stdin becomes the zone ORIGIN, in
# $T/dns/zones/ORIGIN.zone ("test." -> test.zone). $ORIGIN and a $TTL of 5
# come first; a SOA (negative TTL 5) and an NS are added when the text has
# no SOA. Write zones before start_nsd (or restart it).
dns_zone() {
    local origin=${1%.}. file
    file=$(dns_zone_file "$origin")
    {
        echo "\$ORIGIN $origin"
        echo "\$TTL 5"
        cat >"$file.in"
        if ! grep -Eiq '^[^;"]*[[:space:]]SOA([[:space:]]|$)' "$file.in"; then
            echo "@ IN SOA localhost. hostmaster.${origin#.} 1 60 60 600 5"
            echo "@ IN NS localhost."
        fi
        cat "$file.in"
    } >"$file"
    rm -f "$file.in"
    grep -qxF -- "$origin" "$DNS_DIR/zones.list" 2>/dev/null || echo "$origin" >>"$DNS_DIR/zones.list"
}
dns_zone_file() {
    local name=${1%.}
    echo "$DNS_DIR/zones/${name:-root}.zone"
}
dns_zones() { cat "$DNS_DIR/zones.list" 2>/dev/null; }

# dns_fake_zonefiles: "@zonefile" lines serving the dns_zone zones from
# dnsfake too (one zone set for both servers).
dns_fake_zonefiles() {
    local z
    for z in $(dns_zones); do echo "@zonefile $(dns_zone_file "$z") $z"; done
}

# dns_query [OPTIONS] NAME TYPE PORT: ask 127.0.0.1:PORT, print the answer
# (dig-like), exit 2 on timeout, 3 on an unparsable answer. OPTIONS are
# dnsfake.py query's: --tcp, --server ::1, --short (rdata lines only, or
# the rcode, NODATA, TRUNCATED, TIMEOUT), --timeout S, --time, --edns,
# --class CH, --expect RCODE.
dns_query() {
    local n=$(($# - 3))
    [ "$n" -ge 0 ] || { echo "usage: dns_query [OPTIONS] NAME TYPE PORT" >&2; return 64; }
    dns_python || return 1
    "$DNS_PYTHON" "$DNS_LIB/dnsfake.py" query "${@:1:n}" --port "${@:$#}" "${@:n+1:2}"
}

# dns_answers ADDRS PORT NAME TYPE [--expect RCODE]: each address answers.
dns_answers() {
    local addrs=$1 port=$2 name=$3 type=$4 a; shift 4
    for a in $addrs; do
        dns_query --timeout 0.3 --server "$a" "$@" "$name" "$type" "$port" >/dev/null 2>&1 || return 1
    done
}

# dns_wait_up PID ADDRS PORT NAME TYPE [--expect RCODE]: wait until PID
# answers on every address, for 15 s at most; 1 if it died or never did.
dns_wait_up() {
    local pid=$1 end=$(($(dns_now_ms) + 15000)); shift
    while [ "$(dns_now_ms)" -lt "$end" ]; do
        kill -0 "$pid" 2>/dev/null || return 1
        dns_answers "$@" && return 0
        sleep 0.05
    done
    return 1
}

dns_now_ms() { echo $(($(date +%s%N) / 1000000)); }

# dns_descendants PID: PID's processes, recursively (printed, one a line).
dns_descendants() {
    local c
    for c in $(pgrep -P "$1"); do echo "$c"; dns_descendants "$c"; done
}

# dns_gone PID: no such process, or only a zombie (an orphan's exit status
# waits for PID 1, which can be slow to collect it).
dns_gone() {
    local stat
    read -r stat 2>/dev/null </proc/"$1"/stat || return 0
    stat=${stat##*) }
    [ "${stat%% *}" = Z ]
}

# dns_stop_pid PID [PROCESSES...]: SIGTERM PID, wait until it and the
# listed processes (its children, found before) are gone, SIGKILL them
# after 5 s. 0 if all are gone.
dns_stop_pid() {
    local pid=$1 p
    kill -TERM "$pid" 2>/dev/null
    for p in "$@"; do
        wait_for 5 dns_gone "$p" || kill -KILL "$p" 2>/dev/null
    done
    wait "$pid" 2>/dev/null
    for p in "$@"; do wait_for 2 dns_gone "$p" || return 1; done
    untrack_pid "$pid"
}

dns_show_log() {
    echo "# --- $2"
    sed 's/^/#   /' "$1" 2>/dev/null | tail -n 30
}

# nsd_config PORT: the config for a foreground nsd on PORT, all files in
# $T/dns/nsd, no chroot, no database, no privilege drop, no rate limits.
nsd_config() {
    local d="$DNS_DIR/nsd" a z
    mkdir -p "$d"
    echo "server:"
    for a in $(dns_addrs); do echo "    ip-address: $a"; done
    case " $(dns_addrs) " in *" ::1 "*) ;; *) echo "    do-ip6: no" ;; esac
    cat <<EOF
    port: $1
    server-count: 1
    reuseport: no
    username: ""
    chroot: ""
    zonesdir: "$d"
    database: ""
    zonelistfile: "$d/zone.list"
    xfrdfile: ""
    xfrdir: "$d"
    pidfile: "$d/nsd.pid"
    logfile: "$d/nsd.log"
    cookie-secret-file: "$d/cookiesecrets.txt"
    zonefiles-write: 0
    verbosity: 1
    hide-version: yes
    hide-identity: yes
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
EOF
    for z in $(dns_zones); do
        printf 'zone:\n    name: "%s"\n    zonefile: "%s"\n' "$z" "$(dns_zone_file "$z")"
    done
}

# start_nsd: nsd in the foreground serving every dns_zone zone on 127.0.0.1
# and ::1; returns when it answers (the SOA of the first zone) on both.
# A second start (after stop_nsd) takes the same port again.
start_nsd() {
    local z conf="$DNS_DIR/nsd.conf" first start port
    need_nsd
    if [ -n "$NSD_PID" ] && kill -0 "$NSD_PID" 2>/dev/null; then
        echo "# start_nsd: nsd already runs (pid $NSD_PID)"; return 1
    fi
    for z in $(dns_zones); do
        if ! nsd-checkzone "$z" "$(dns_zone_file "$z")" >"$DNS_DIR/checkzone.out" 2>&1; then
            echo "# start_nsd: nsd-checkzone rejects zone $z:"
            sed 's/^/#   /' "$DNS_DIR/checkzone.out"
            echo "# --- $(dns_zone_file "$z")"
            cat -n "$(dns_zone_file "$z")" | sed 's/^/#   /'
            return 1
        fi
    done
    first=$(dns_zones | head -n 1)
    NSD_LOG="$DNS_DIR/nsd/nsd.log"
    for _ in 1 2 3; do
        if [ -z "$NSD_PORT" ]; then
            port=$(free_port) || return 1
            DNS_PORTS="$DNS_PORTS $port"
        fi
        port=${NSD_PORT:-$port}
        nsd_config "$port" >"$conf"
        if ! nsd-checkconf "$conf" >"$DNS_DIR/checkconf.out" 2>&1; then
            echo "# start_nsd: nsd-checkconf rejects $conf:"
            sed 's/^/#   /' "$DNS_DIR/checkconf.out"
            return 1
        fi
        start=$(dns_now_ms)
        nsd -d -c "$conf" >>"$DNS_DIR/nsd/nsd.out" 2>&1 </dev/null &
        NSD_PID=$!
        track_pid "$NSD_PID"
        if [ -n "$first" ]; then
            dns_wait_up "$NSD_PID" "$(dns_addrs)" "$port" "$first" SOA --expect NOERROR
        else
            dns_wait_up "$NSD_PID" "$(dns_addrs)" "$port" id.server TXT --class CH
        fi && {
            NSD_PORT=$port
            NSD_START_MS=$(($(dns_now_ms) - start))
            echo "# nsd (pid $NSD_PID) answers on port $NSD_PORT after $NSD_START_MS ms"
            return 0
        }
        # shellcheck disable=SC2046
        dns_stop_pid "$NSD_PID" $(dns_descendants "$NSD_PID")
        if grep -qi 'address already in use' "$NSD_LOG" "$DNS_DIR/nsd/nsd.out" 2>/dev/null; then
            echo "# start_nsd: port $port is taken, trying another"
            : >"$NSD_LOG"; : >"$DNS_DIR/nsd/nsd.out"
            NSD_PORT=""
            continue
        fi
        break
    done
    echo "# start_nsd: nsd did not answer on port $port"
    dns_show_log "$NSD_LOG" "nsd log"
    dns_show_log "$DNS_DIR/nsd/nsd.out" "nsd output"
    NSD_PID=""
    return 1
}

# stop_nsd: stop nsd (all its processes) now; NSD_PORT stays reserved.
stop_nsd() {
    [ -n "$NSD_PID" ] || return 0
    # shellcheck disable=SC2046
    dns_stop_pid "$NSD_PID" $(dns_descendants "$NSD_PID") || {
        echo "# stop_nsd: nsd (pid $NSD_PID) did not stop"; return 1; }
    NSD_PID=""
}

# start_dnsfake SPEC: dnsfake.py serving SPEC on 127.0.0.1 and ::1; returns
# when it answers. Several can run at once: FAKE_* name the last one.
start_dnsfake() {
    local spec=$1 rc port a args=""
    need_dns
    [ -r "$spec" ] || { echo "# start_dnsfake: no spec file $spec"; return 1; }
    for a in $(dns_addrs); do args="$args --addr $a"; done
    DNS_FAKE_SEQ=$((DNS_FAKE_SEQ + 1))
    FAKE_LOG="$DNS_DIR/dnsfake-$DNS_FAKE_SEQ.log"
    for _ in 1 2 3; do
        port=$(free_port) || return 1
        DNS_PORTS="$DNS_PORTS $port"
        # shellcheck disable=SC2086
        "$DNS_PYTHON" "$DNS_LIB/dnsfake.py" serve --port "$port" $args "$spec" \
            >>"$FAKE_LOG" 2>&1 </dev/null &
        FAKE_PID=$!
        track_pid "$FAKE_PID"
        if dns_wait_up "$FAKE_PID" "$(dns_addrs)" "$port" ready.dnsfake TXT --class CH; then
            FAKE_PORT=$port
            DNS_FAKE_PIDS="$DNS_FAKE_PIDS $FAKE_PID"
            return 0
        fi
        kill -0 "$FAKE_PID" 2>/dev/null && dns_stop_pid "$FAKE_PID"
        wait "$FAKE_PID" 2>/dev/null
        rc=$?
        untrack_pid "$FAKE_PID"
        [ "$rc" = 3 ] || break          # 3: could not bind the port
        echo "# start_dnsfake: port $port is taken, trying another"
    done
    echo "# start_dnsfake: dnsfake did not answer (exit status $rc)"
    dns_show_log "$FAKE_LOG" "dnsfake log"
    FAKE_PID=""
    return 1
}

# stop_dnsfake [PID]: stop a dnsfake (by default the last one started).
stop_dnsfake() {
    local pid=${1:-$FAKE_PID}
    [ -n "$pid" ] || return 0
    dns_stop_pid "$pid" || { echo "# stop_dnsfake: pid $pid did not stop"; return 1; }
    DNS_FAKE_PIDS=$(echo " $DNS_FAKE_PIDS " | sed "s/ $pid / /g")
    [ "$pid" = "$FAKE_PID" ] && FAKE_PID=""
    return 0
}

# reload_dnsfake [PID]: reread the spec (SIGHUP); the log says "reloaded".
reload_dnsfake() { kill -HUP "${1:-$FAKE_PID}"; }

# dnsfake_count NAME [TYPE [LOG]]: how many queries for NAME (any case,
# final dot optional) of TYPE (default: all) the fake logged.
dnsfake_count() {
    local name=$1 type=${2:-} log=${3:-$FAKE_LOG}
    name=$(echo "${name%.}." | tr '[:upper:]' '[:lower:]')
    awk -v n="$name" -v t="$type" '
        $2 == "query" && $5 == n && (t == "" || $6 == t) { c++ }
        END { print c + 0 }' "$log"
}

# dns_unbound_conf PORT [FILE]: the libunbound settings for a forwarder on
# 127.0.0.1@PORT (see TESTING.md, "DNS for tests") in FILE (default
# $T/dns/unbound.conf), for ub_ctx_config() or as a reference. The last two
# settings are for dnsfake's delays and timeouts (checked with libunbound
# 1.17): by default libunbound waits 376 ms for a server it does not know
# yet and then sends again on a new port, dropping the late answer (a
# delay=800 answer arrives after 2.5 s); and once queries for a dead name
# have timed out it holds the server down for infra-host-ttl (900 s) and
# answers SERVFAIL at once for every other name.
dns_unbound_conf() {
    local file=${2:-$DNS_DIR/unbound.conf}
    cat >"$file" <<EOF
# libunbound settings for tests: everything goes to the test server.
server:
    do-not-query-localhost: no
    qname-minimisation: no
    module-config: "iterator"
    local-zone: "test." nodefault
    local-zone: "127.in-addr.arpa." nodefault
    local-zone: "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa." nodefault
    # a timeout for one name must not mark the server down for all names
    infra-host-ttl: 0
    # the first wait for an answer: longer than the delays tests use
    unknown-server-time-limit: 1500
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@$1
EOF
    echo "$file"
}

dns_cleanup() {
    local p
    stop_nsd
    for p in $DNS_FAKE_PIDS; do stop_dnsfake "$p"; done
    for p in $DNS_PORTS; do release_port "$p"; done
    return 0
}
on_exit dns_cleanup

# start_gateway_dns: serve the documentation domains the relay tests use
# (example., org., test.), with nothing published in them, so that the
# shipped gateway rules' SPF and DKIM lookups are answered on loopback
# (SPF none, no keys) and never leave the machine. Zones the test declared
# itself are kept. Sets GATEWAY_DNS to the mxguard option that asks it.
start_gateway_dns() {
    local z
    for z in example. org. test.; do
        dns_zones | grep -qxF "$z" || dns_zone "$z" </dev/null
    done
    start_nsd || return 1
    GATEWAY_DNS="--dns=127.0.0.1@$NSD_PORT"
}
