#!/bin/bash
# store_checks.sh: the state store across processes and through faults,
# with tests/store/store_tool: two processes sharing one Redis (with a
# password, a database number and a key prefix), Redis stopped, hung and
# restarted under load, an LMDB writer killed with SIGKILL mid-writes,
# and a full LMDB map.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/redis.sh"
need_redis
TOOL="$BUILDDIR/tests/store/store_tool"
[ -x "$TOOL" ] || { check "store_tool was built (make check builds it)" false; finish; }

REDIS_PASS="s3cret-$$"
start_redis --requirepass "$REDIS_PASS" || { check "redis-server starts" false; finish; }
RTOOL=("$TOOL" -o backend=redis -o redis-host=127.0.0.1 -o "redis-port=$REDIS_PORT"
       -o "redis-password=$REDIS_PASS" -o redis-db=3 -o redis-prefix=site1:
       -o redis-timeout=300 -o redis-connect-timeout=300 -o redis-retry-min=200 -o redis-retry-max=800)
T0=1800000000

# --- two processes share one Redis ----------------------------------------------
"${RTOOL[@]}" greylist $T0 192.0.2.1 'a@X.example' 'b@y.example' >"$T/gl1" 2>&1
"${RTOOL[@]}" greylist $((T0 + 60)) 192.0.2.1 'a@x.example' 'b@y.example' >"$T/gl2" 2>&1
"${RTOOL[@]}" greylist $((T0 + 300)) 192.0.2.99 'a@x.example' 'b@y.example' >"$T/gl3" 2>&1
cat "$T"/gl[123] | sed 's/^/#   /'
check "first process: first sight is tempfailed" grep -q '^greylist: tempfail first seen 300 192\.0\.2\.0/24' "$T/gl1"
check "second process: too early, with the seconds left" grep -q '^greylist: tempfail too early 240 ' "$T/gl2"
check "third process, another host of the /24, after the delay: passes" grep -q '^greylist: pass retried ' "$T/gl3"
check "the entry is in database 3 under the prefix" \
    test "$(redis_cmd -n 3 --scan --pattern 'site1:gt:192.0.2.0/24|a@x.example|b@y.example' | wc -l)" -eq 1
check "... and not in database 0" test "$(redis_cmd -n 0 DBSIZE)" -eq 0
# Another prefix is another setup: the same triplet is new there.
"$TOOL" -o backend=redis -o "redis-port=$REDIS_PORT" -o "redis-password=$REDIS_PASS" -o redis-db=3 \
    -o redis-prefix=site2: greylist $((T0 + 300)) 192.0.2.1 'a@x.example' 'b@y.example' >"$T/gl4" 2>&1
check "another prefix does not see site1's triplet" grep -q '^greylist: tempfail first seen' "$T/gl4"

# Two processes hitting one rate limit at once: every hit counts, once.
for p in 1 2; do
    (for i in $(seq 1 40); do "${RTOOL[@]}" ratelimit $T0 sasl:shared 3600 60 1; done >"$T/rl$p" 2>&1) &
    pids="${pids:-} $!"
done
# shellcheck disable=SC2086
wait $pids
"${RTOOL[@]}" ratelimit $T0 sasl:shared 3600 60 0 >"$T/rl-total" 2>&1
sed 's/^/#   /' "$T/rl-total"
check "80 hits from two processes: a count of 80" grep -q '^ratelimit: over 80/60$' "$T/rl-total"
check "exactly 20 of them were over the limit of 60" test "$(cat "$T/rl1" "$T/rl2" | grep -c '^ratelimit: over')" -eq 20

# two_counts NAME THREADS N TOOL...: two processes of THREADS threads each
# add 1 to one counter N times; prints their reports and the total.
two_counts() {
    local name=$1 threads=$2 n=$3 p1 p2
    shift 3
    "$@" count "$threads" "$n" counter >"$T/$name-1" 2>&1 &
    p1=$!
    "$@" count "$threads" "$n" counter >"$T/$name-2" 2>&1 &
    p2=$!
    wait $p1 $p2
    "$@" get "$(date +%s)" counter >"$T/$name-total" 2>&1
    cat "$T/$name-1" "$T/$name-2" "$T/$name-total" | tr '\n' ' '
}
# More threads than connections: none lost, none counted twice.
check "redis: 2 processes x 8 threads x 250 increments = 4000" \
    test "$(two_counts rcount 8 250 "${RTOOL[@]}" -o redis-connections=3)" = \
    "count: 0 errors count: 0 errors get: found 4000 "

# A wrong password: errors, logged once, never "not found".
"$TOOL" -o backend=redis -o "redis-port=$REDIS_PORT" -o redis-password=wrong -o redis-retry-min=50 \
    loop 2 1 10 >"$T/badpass" 2>&1
sed 's/^/#   /' "$T/badpass"
check "wrong password: every call fails" grep -Eq '^loop: calls [1-9][0-9]* errors ([1-9][0-9]*) recovered 0 ' "$T/badpass"
check "... the calls and errors are the same number" \
    awk '/^loop:/ { exit !($3 == $5) }' "$T/badpass"
check "... logged once" test "$(grep -c '^log: warning: store: redis at .* unreachable (AUTH or SELECT refused)' "$T/badpass")" -eq 1

# --- Redis stopped under load, then back ---------------------------------------------
"${RTOOL[@]}" loop 4 7 10 >"$T/outage" 2>&1 &
LOOP=$!
track_pid $LOOP
sleep 2
stop_redis
sleep 2
start_redis --requirepass "$REDIS_PASS" || check "redis-server starts again" false
wait_for 15 pid_gone $LOOP; untrack_pid $LOOP
sed 's/^/#   /' "$T/outage"
check "Redis stopped: calls failed" grep -Eq '^loop: calls [0-9]+ errors [1-9]' "$T/outage"
check "... and worked again once it was back, by themselves" grep -Eq '^loop: .* recovered [1-9]' "$T/outage"
check "... no call took longer than a timeout (300 ms, +slack)" awk '/^loop:/ { exit !($9 < 700) }' "$T/outage"
# Logged when it starts and when it ends, not per failed call. A redis
# stopping with SIGTERM may take a connection once more before it closes
# its socket (Redis 7 serves clients while its shutdown waits), which is a
# second, short outage: each is logged once, and the failed calls, in the
# hundreds, are not.
outages=$(grep -c '^log: warning: .*unreachable' "$T/outage")
ends=$(grep -c '^log: info: store: redis at .* answers again' "$T/outage")
check "the outage was logged, once per outage ($outages), not per failed call" \
    test "$outages" -ge 1 -a "$outages" -le 3
check "... and its end once per outage ($ends)" test "$ends" -eq "$outages"

# Redis hung (SIGSTOP): calls wait at most the command timeout, then fail fast,
# and reconnect attempts follow the backoff (no storm: the server counts them).
conns_before=$(redis_cmd INFO stats | tr -d '\r' | awk -F: '$1 == "total_connections_received" { print $2 }')
"${RTOOL[@]}" loop 4 7 10 >"$T/hung" 2>&1 &
LOOP=$!
track_pid $LOOP
sleep 2
kill -STOP "$REDIS_PID"
sleep 2
kill -CONT "$REDIS_PID"
wait_for 15 pid_gone $LOOP; untrack_pid $LOOP
sed 's/^/#   /' "$T/hung"
check "Redis hung: calls failed" grep -Eq '^loop: calls [0-9]+ errors [1-9]' "$T/hung"
check "... none waited much past the 300 ms timeout" awk '/^loop:/ { exit !($9 < 1000) }' "$T/hung"
check "... and worked again after SIGCONT" grep -Eq '^loop: .* recovered [1-9]' "$T/hung"
conns_after=$(redis_cmd INFO stats | tr -d '\r' | awk -F: '$1 == "total_connections_received" { print $2 }')
echo "# connections during the hang run: $((conns_after - conns_before)) (4 threads, retry 200..800 ms)"
check "... with a handful of reconnects, not one per call" test $((conns_after - conns_before)) -le 20
check "the hang was logged once, its end once" \
    test "$(grep -c '^log: warning: ' "$T/hung")" -eq 1 -a "$(grep -c '^log: info: ' "$T/hung")" -eq 1
# (The state from before the restart is gone: this server keeps nothing on disk.)

# --- LMDB: a writer killed with SIGKILL mid-writes ------------------------------------
LTOOL=("$TOOL" -o "lmdb-path=$T/state.lmdb" -o lmdb-map-size=64m)
for round in 1 2 3; do
    "${LTOOL[@]}" hammer 4 >"$T/hammer$round" 2>"$T/hammer$round.err" &
    H=$!
    track_pid $H
    wait_for 10 test -s "$T/hammer$round"
    sleep 0.$((RANDOM % 5 + 3))
    kill -KILL $H
    wait $H 2>/dev/null
    untrack_pid $H
    "${LTOOL[@]}" verify "$T/hammer$round" >"$T/verify$round" 2>&1
    sed 's/^/#   /' "$T/verify$round"
    check "SIGKILL round $round: the file opens and every committed write is there" \
        grep -Eq '^verify: [1-9][0-9]* committed, 0 missing$' "$T/verify$round"
done
check "lmdb: 2 processes x 4 threads x 300 increments on one file = 2400" \
    test "$(two_counts lcount 4 300 "${LTOOL[@]}")" = "count: 0 errors count: 0 errors get: found 2400 "
# Round 1's entries survived rounds 2 and 3 (the killed writers held the lock at times).
"${LTOOL[@]}" verify "$T/hammer1" >"$T/verify-again" 2>&1
check "entries from the first run are still there after three kills" grep -q ', 0 missing$' "$T/verify-again"
"${LTOOL[@]}" set $T0 after-kill yes $((T0 + 60)) >"$T/after" 2>&1
check "the file still takes writes" grep -q '^set: found' "$T/after"

# --- LMDB map full: an error, not a crash ------------------------------------------------
"$TOOL" -o "lmdb-path=$T/small.lmdb" -o lmdb-map-size=1m fill >"$T/fill" 2>&1
rc=$?
sed 's/^/#   /' "$T/fill"
check "a full map: the writes fail with the reason, the tool exits normally" \
    test $rc -eq 0 -a "$(grep -c '^fill: [1-9][0-9]* written, then: LMDB state file full' "$T/fill")" -eq 1
"$TOOL" -o "lmdb-path=$T/small.lmdb" -o lmdb-map-size=1m get "$(date +%s)" f:0 >"$T/get-full" 2>&1
check "... and what is there reads as before" grep -q '^get: found v' "$T/get-full"

# A sanitizer build of the tool reports into these files: any report fails.
check "no sanitizer report from store_tool" \
    test -z "$(grep -rlE 'Sanitizer|runtime error:' "$T" --exclude-dir=redis)"
finish
