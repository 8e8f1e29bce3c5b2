#!/bin/bash
# overload.sh: bounded under overload. A DNS list at connect whose server
# never answers (dnsfake: every question a timeout), --dns-budget 2000,
# --max-sessions 250, and bursts of 200 concurrent sessions (against
# --max-dns-waiting 50) and 500 (against --max-dns-waiting 500) from the
# load generator (milter_load -R):
#  - inside the filter every stage ends within the budget + 500 ms (the
#    decision records' us.connect), and as the MTA sees it every session
#    ends within the budget + MARGIN_MS (6000 ms: on two shared cores at a
#    load average of 27, 500 threads waited up to 5 s for a CPU and for
#    libmilter to accept them; the filter's own share is the first check);
#  - a session got either 421 4.3.2 (past --max-sessions, answered at
#    once: well within the budget) or the list's on-error outcome (on-error
#    tempfail: a tempfail at connect), nothing else;
#  - the filter's threads, descriptors and RSS, sampled from /proc during
#    the burst, are printed and stay within the bounds mxguard(8) states;
#  - refusals are logged, but not a line each;
#  - after the burst, with the server answering again, a normal session is
#    answered normally (once libunbound has sent the questions the burst
#    abandoned: it keeps resolving them; the time is printed) and the
#    descriptors and threads are back at their count before.
# The descriptor limit: a soft nofile of 300 is raised to what the bounds
# need; mxguard started as a user under a hard nofile of 200 lowers its
# session bound to fit (a warning with the numbers), and 300 concurrent sessions against
# a list that lists everyone each get 421, the listing or the on-error
# tempfail, never "not listed", even when libunbound finds no socket.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/dns.sh"
need_root
need_dns

LOAD="${BUILDDIR:-.}/tests/bench/milter_load"
[ -x "$LOAD" ] || skip "needs tests/bench/milter_load (built by make check)"
BUDGET_MS=2000
MARGIN_MS=6000
MAX_SESSIONS=250
MAX_DNS=50
# Resident memory allowed: 64 MB and 128 kB a session; twice that under
# ASan (its shadow memory and quarantine: 124 MB measured at 500).
RSS_BASE_KB=65536 RSS_SESSION_KB=128
if asan_build; then RSS_BASE_KB=131072 RSS_SESSION_KB=256; fi

cat >"$T/dead.spec" <<'EOF2'
@zone list.test
*.list.test. ANY timeout
EOF2
cat >"$T/alive.spec" <<'EOF2'
@zone list.test
EOF2
cat >"$T/listed.spec" <<'EOF2'
@zone list.test
*.list.test. A 127.0.0.2
*.list.test. TXT "listed"
EOF2
cp "$T/dead.spec" "$T/spec"
start_dnsfake "$T/spec" || { check "dnsfake starts" false; finish; }
cat >"$T/list.rules" <<'EOF2'
dnslist bl {
    zone "list.test";
    on-error tempfail;
}
on connect {
    [bl] reject 554 5.7.1 "listed" if client.address in <bl>;
}
EOF2

fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
fds_at_most() { [ "$(fd_count "$1")" -le "$2" ]; }
status_of() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
field() { printf '%s\n' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2; exit }'; }
# reply_count OUT KIND: how many sessions ended with KIND (milter_load -R)
reply_count() { awk -v k="reply=$2" '$1 == k { split($2, a, "="); print a[2]; f = 1 } END { if (!f) print 0 }' "$1"; }
reply_max() { awk -v k="reply=$2" '$1 == k { split($5, a, "="); print a[2]; f = 1 } END { if (!f) print 0 }' "$1"; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }

# sample PID FILE: threads, VmRSS (kB) and descriptors every 50 ms until killed
sample() {
    while kill -0 "$1" 2>/dev/null; do
        echo "$(status_of "$1" Threads) $(status_of "$1" VmRSS) $(fd_count "$1")"
        sleep 0.05
    done >"$2"
}
peak() { awk -v c="$2" '$c > m { m = $c } END { print m + 0 }' "$1"; }

# Two daemons, started together: A (--max-dns-waiting 50 < the 200 of
# its burst) shows the DNS bound, B (--max-dns-waiting 500: every admitted
# session waits its budget) the session bound under a burst of 500. A is
# started with a soft nofile of 300, which it raises to what its bounds need.
soft=$(ulimit -Sn)
A_PORT=$(free_port) B_PORT=$(free_port) || { check "two free ports" false; finish; }
ulimit -Sn 300
MXG_SOCK_NAME=a.sock start_mxguard "$T/list.rules" --dns="127.0.0.1@$FAKE_PORT" --dns-budget "$BUDGET_MS" \
    --max-sessions "$MAX_SESSIONS" --max-dns-waiting "$MAX_DNS" --metrics-listen "127.0.0.1:$A_PORT" ||
    { check "daemon A starts" false; finish; }
ulimit -Sn "$soft"
A_PID=$MXG_PID A_SOCK=$MXG_SOCK A_LOG=$MXG_LOG A_FILTER=$(filter_pid)
MXG_SOCK_NAME=b.sock start_mxguard "$T/list.rules" --dns="127.0.0.1@$FAKE_PORT" --dns-budget "$BUDGET_MS" \
    --max-sessions "$MAX_SESSIONS" --max-dns-waiting 500 --metrics-listen "127.0.0.1:$B_PORT" ||
    { check "daemon B starts" false; finish; }
B_PID=$MXG_PID B_SOCK=$MXG_SOCK B_LOG=$MXG_LOG B_FILTER=$(filter_pid)
check "a soft nofile of 300 is raised to what the bounds need (2 x 250 + 128)" \
    contains "$A_LOG" "descriptors: soft limit raised from 300 to 628 for --max-sessions $MAX_SESSIONS"
check "... and the filter has it" grep -Eq "^Max open files +628 " "/proc/$A_FILTER/limits"
# One session first: the resolvers' threads and sockets exist from then on.
"$LOAD" -s "unix:$A_SOCK" -c 1 -m 1 -l 100 -R >"$T/warm-a.out" 2>&1 &
warm=$!
"$LOAD" -s "unix:$B_SOCK" -c 1 -m 1 -l 100 -R >"$T/warm-b.out" 2>&1
wait "$warm"
sleep 0.5
base_fds=$(fd_count "$B_FILTER")
base_threads=$(status_of "$B_FILTER" Threads)
echo "# filter $B_FILTER after one session: $base_fds descriptors, $base_threads threads, $(status_of "$B_FILTER" VmRSS) kB"

burst() { # N SOCK FILTER LOG: N concurrent sessions, one each, from N client addresses
    local n=$1 sock=$2 filter=$3 log=$4 out="$T/burst-$1.out" sp
    sample "$filter" "$T/samples-$n" &
    sp=$!
    "$LOAD" -s "unix:$sock" -c "$n" -m "$n" -a "$n" -l 100 -R >"$out" 2>&1
    kill "$sp" 2>/dev/null
    wait "$sp" 2>/dev/null
    sed 's/^/#   /' "$out"
    local line sessions maxms r421 rtf threads rss fds stage_ms
    line=$(grep '^sessions=' "$out")
    sessions=$(field "$line" sessions)
    maxms=$(field "$line" max_ms)
    r421=$(reply_count "$out" 421_4.3.2)
    rtf=$(reply_count "$out" tempfail)
    threads=$(peak "$T/samples-$n" 1)
    rss=$(peak "$T/samples-$n" 2)
    fds=$(peak "$T/samples-$n" 3)
    echo "# burst $n: peak threads $threads, peak RSS $((rss / 1024)) MB, peak descriptors $fds;" \
         "421 4.3.2: $r421 (max $(reply_max "$out" 421_4.3.2) ms), on-error tempfail: $rtf; slowest session $maxms ms"
    check "burst $n: every session was answered (no error, none cut off)" \
        [ "$(field "$(head -n 1 "$out")" errors)/$sessions" = "0/$n" ]
    check "burst $n: every session ended within the budget + ${MARGIN_MS} ms (slowest $maxms ms)" \
        le "$maxms" $((BUDGET_MS + MARGIN_MS))
    stage_ms=$(grep -ao "us.connect=[0-9]*" "$log" | awk -F= '$2 > m { m = $2 } END { printf "%d", m / 1000 }')
    check "burst $n: inside the filter every connect stage ended within the budget + 500 ms (slowest $stage_ms ms)" \
        [ "$stage_ms" -le $((BUDGET_MS + 500)) ]
    check "burst $n: each got 421 4.3.2 or the list's on-error tempfail, nothing else" \
        [ $((r421 + rtf)) -eq "$n" ]
    # Bounds (mxguard(8), OVERLOAD): a thread and a descriptor per
    # connection in progress, refused ones included while they last, and a few more.
    check "burst $n: threads stay within the connections in progress (refused ones included) + 16 (peak $threads)" \
        [ "$threads" -le $((n + 16)) ]
    check "burst $n: RSS stays under $((RSS_BASE_KB / 1024)) MB + $RSS_SESSION_KB kB a session (peak $((rss / 1024)) MB)" \
        [ "$rss" -le $((RSS_BASE_KB + RSS_SESSION_KB * n)) ]
    check "burst $n: descriptors within sessions + $((base_fds + 16)) (peak $fds)" \
        [ "$fds" -le $((n + base_fds + 16)) ]
    R421=$r421
}
# sessions_le_max LOG: every overload line counts at most max-sessions sessions
sessions_le_max() {
    awk '{ for (i = 1; i <= NF; i++) { split($i, a, "="); v[a[1]] = a[2] } }
         /overload: sessions=/ && v["sessions"] + 0 > v["max-sessions"] + 0 { bad = 1 } END { exit bad }' "$1"
}

burst 200 "$A_SOCK" "$A_FILTER" "$A_LOG"
check "burst 200: below --max-sessions nobody is refused" [ "$R421" -eq 0 ]
fast=$(awk '$1 == "reply=tempfail" { split($3, a, "="); print a[2] }' "$T/burst-200.out")
check "burst 200: past --max-dns-waiting sessions asked nothing and were answered at once (median $fast ms)" \
    le "$fast" "$((BUDGET_MS - 1))"
check "... and the questions not asked are logged with the counts" contains "$A_LOG" "dns-not-asked=[1-9]"
check "... but not a line a session" not_contains "$A_LOG" "dns=.*not asked: too many sessions"
# scrape PORT: the endpoint's text into $T/scrape.txt; metric NAME: its value there
scrape() { curl -sf --max-time 5 "http://127.0.0.1:$1/metrics" >"$T/scrape.txt"; }
metric() { awk -v n="$1" '$1 == n { print $2 }' "$T/scrape.txt"; }
scrape "$A_PORT"
grep -E '^mxguard_(sessions_(limit|refused)|dns_(waiting|not_asked))' "$T/scrape.txt" | sed 's/^/#   /'
check "metrics: the bounds are exported (sessions $MAX_SESSIONS, DNS waiting $MAX_DNS)" \
    [ "$(metric mxguard_sessions_limit)/$(metric mxguard_dns_waiting_limit)" = "$MAX_SESSIONS/$MAX_DNS" ]
dns_counted() { [ "$(metric mxguard_dns_not_asked_total)" -ge 1 ] && [ "$(metric mxguard_dns_waiting)" = 0 ]; }
check "metrics: the questions not asked are counted, and nobody waits for DNS any more" dns_counted

burst 500 "$B_SOCK" "$B_FILTER" "$B_LOG"
check "burst 500: past --max-sessions new sessions get 421 4.3.2 ($R421)" [ "$R421" -ge 1 ]
p50=$(awk '$1 == "reply=421_4.3.2" { split($3, a, "="); print a[2] }' "$T/burst-500.out")
check "burst 500: ... at once, never waiting for DNS (median refusal ${p50:-?} ms < the budget)" \
    le "${p50:-99999}" "$((BUDGET_MS - 1))"
scrape "$B_PORT"
check "metrics: every refusal counted (mxguard_sessions_refused_total $(metric mxguard_sessions_refused_total))" \
    [ "$(metric mxguard_sessions_refused_total)" = "$R421" ]
check "the refusals are logged" contains "$B_LOG" "overload: sessions=[0-9]+ max-sessions=$MAX_SESSIONS refused=[1-9]"
check "the session count never passed --max-sessions (the overload lines)" sessions_le_max "$B_LOG"
nlines=$(cat "$A_LOG" "$B_LOG" | grep -c "overload: sessions=")
check "not a log line a refusal: $nlines overload lines" [ "$nlines" -le 4 ]

# After the burst: the server answers again (NXDOMAIN: not listed).
MXG_SOCK=$B_SOCK
cp "$T/alive.spec" "$T/spec"
reload_dnsfake
wait_for 5 contains "$FAKE_LOG" "reloaded"
t0=$(dns_now_ms)
normal_session() {
    "$LOAD" -s "unix:$MXG_SOCK" -c 1 -m 1 -a 1 -l 100 -R >"$T/after.out" 2>&1 &&
        [ "$(reply_count "$T/after.out" ok)" = 1 ]
}
# Each try takes up to the budget: a deadline, not wait_for's count of tries.
answered_within() { # SECONDS CMD...: CMD succeeds before SECONDS have passed
    local end=$(($(date +%s) + $1)); shift
    until "$@"; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.5
    done
}
check "a normal session after the burst is answered normally (to the end of its message)" \
    answered_within 60 normal_session
sed 's/^/#   /' "$T/after.out"
echo "# the first normal answer came $(($(dns_now_ms) - t0)) ms after the burst ended"
if [ "$(reply_count "$T/after.out" ok)" != 1 ]; then
    # What to look at when the resolver did not come back: did the server reload, was it asked?
    echo "# dnsfake log (last lines):"; tail -n 15 "$FAKE_LOG" | sed 's/^/#   /'
    echo "# mxguard log (last lines):"; tail -n 15 "$B_LOG" | sed 's/^/#   /'
fi
check "the descriptors are back at their count before ($base_fds)" wait_for 10 fds_at_most "$B_FILTER" "$base_fds"
check "the threads are back down ($base_threads)" wait_for 10 [ "$(status_of "$B_FILTER" Threads)" -le "$base_threads" ]
check "the same filter processes served throughout" [ "$(pgrep -P "$A_PID" -x mxguard)/$(pgrep -P "$B_PID" -x mxguard)" = "$A_FILTER/$B_FILTER" ]
kill -TERM "$A_PID" "$B_PID"
wait_for 20 pid_gone "$A_PID" && untrack_pid "$A_PID"
wait_for 20 pid_gone "$B_PID" && untrack_pid "$B_PID"

# The descriptor limit. start_low NAME USER: mxguard as USER (who cannot
# raise a hard limit) under a hard nofile of 200, on $T/NAME/m.sock.
start_low() {
    local name=$1 as=$2
    MXG_STARTS=$((MXG_STARTS + 1))
    MXG_LOG="$T/mxguard-$MXG_STARTS.log"
    MXG_SOCK="$T/$name/m.sock"
    mkdir -p "$T/$name"
    chown mxguard "$T/$name"
    set -- -f -c "$T/list.rules" -p "unix:$MXG_SOCK" --umask 0111 --dns="127.0.0.1@$FAKE_PORT" \
        --dns-budget "$BUDGET_MS" --max-sessions "$MAX_SESSIONS" --max-dns-waiting "$MAX_DNS"
    (ulimit -n 200 && exec runuser -u "$as" -- "$MXGUARD" "$@") >"$MXG_LOG" 2>&1 </dev/null &
    MXG_PID=$!
    track_pid "$MXG_PID"
    wait_for 10 unix_listening "$MXG_SOCK" && wait_for 10 filter_pid_exists
}
# low_burst: 300 sessions, each gets 421, the listing, or the on-error tempfail; never "not listed"
low_burst() {
    local out="$T/low-$1.out"
    "$LOAD" -s "unix:$MXG_SOCK" -c 300 -m 300 -a 300 -l 100 -R >"$out" 2>&1
    sed 's/^/#   /' "$out"
    check "$1: 300 sessions, every one answered" [ "$(field "$(head -n 1 "$out")" errors)" = 0 ]
    check "$1: none read the list as not listed" [ "$(reply_count "$out" ok)" = 0 ]
    check "$1: each got 421 4.3.2, the listing (554 at HELO) or the on-error tempfail" \
        [ $(($(reply_count "$out" 421_4.3.2) + $(reply_count "$out" 554_5.7.1) + $(reply_count "$out" tempfail))) -eq 300 ]
    echo "# $1: libunbound found no socket $(grep -c "can't create socket" "$MXG_LOG") times"
}
cp "$T/listed.spec" "$T/spec"
reload_dnsfake
sleep 0.5
LOWERED="descriptors: the limit is 200 \(hard\), --max-sessions $MAX_SESSIONS needs 628; serving at most 36 sessions at once"
check "as user mxguard under nofile 200: the daemon starts" start_low low-user mxguard
check "... and lowers its session bound to fit, with the numbers" contains "$MXG_LOG" "$LOWERED"
low_burst "user, bound lowered"
# Every way a connection can end gives its place back: 20 of each of five
# kinds (100 connections, one after the other) against a bound of 36; a
# place kept by any kind would leave later sessions refused.
wait_for 10 [ "$(ls "/proc/$(filter_pid)/task" | wc -l)" -le 9 ]
check "100 connections ending every way (none, after negotiation, after connect, abort, quit)" \
    python3 "$SRCDIR/tests/lib/milter_paths.py" "$MXG_SOCK" 20
refusals_before=$(grep -o "refused=[0-9]*" "$MXG_LOG" | tail -n 1)
"$LOAD" -s "unix:$MXG_SOCK" -c 30 -m 30 -a 30 -l 100 -R >"$T/paths.out" 2>&1
sed 's/^/#   /' "$T/paths.out"
check "... left every place free: 30 sessions at once after them, none refused" \
    [ "$(reply_count "$T/paths.out" 421_4.3.2)/$(field "$(head -n 1 "$T/paths.out")" errors)" = "0/0" ]
echo "# the last overload line before: ${refusals_before:-none}"
finish
