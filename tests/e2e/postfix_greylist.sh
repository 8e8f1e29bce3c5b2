#!/bin/bash
# postfix_greylist.sh: greylisting and rate limits end to end, on both
# state stores. The shipped gateway rules with their greylist line
# switched on (and a short delay) behind a private postfix:
# - LMDB: first attempt 451, too early 451, after the delay 250 and
#   delivered; a trusted client is never greylisted; auto-allow after N
#   passes; a rate limit; the filter killed with SIGKILL comes back with
#   its state;
# - Redis: two mxguard daemons (two postfix listeners) share one
#   redis-server: a triplet seen by the first passes on the second after
#   the delay, and a rate limit counts across both; Redis stopped: mail
#   flows (on-error skip) and the outage is logged once; Redis back: the
#   daemons reconnect by themselves.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
. "$SRCDIR/tests/lib/dns.sh"
. "$SRCDIR/tests/lib/redis.sh"
need_postfix
need_nsd
need_redis

DELAY=3
R="$T/rules"
copy_gateway_rules "$R"
# The one word that switches greylisting on, as an admin would: "off" goes.
sed -i 's/^    \[greylisting\] off greylist /    [greylisting] greylist /' "$R/gateway.rules"
grep -q '^    \[greylisting\] greylist if' "$R/gateway.rules" ||
    setup_failed "the greylist line of the shipped gateway rules is not the one this test switches on"
cat >>"$R/gateway.rules" <<EOF
greylist { delay $DELAY; auto-allow 2; }
ratelimit per_client { key client.address; window 1h; limit 3; count messages; }
on mail {
    [too-fast] tempfail 451 4.7.1 "Too many messages from %{client.address}, slow down" if over <per_client>;
}
EOF
"$MXGUARD" -n -c "$R/gateway.rules" >"$T/check.out" 2>&1 || { cat "$T/check.out"; setup_failed "rules do not load"; }

start_gateway_dns || setup_failed "nsd did not start"
mkdir -p "$T/state"
chown mxguard "$T/state"
start_mxguard "$R/gateway.rules" "$GATEWAY_DNS" --store "lmdb-path=$T/state/state.lmdb" --store lmdb-map-size=8m ||
    setup_failed "mxguard did not start"
start_sink || setup_failed "smtp-sink did not start"
start_postfix "unix:$MXG_SOCK" || setup_failed "postfix did not start"

# send N CLIENT FROM TO: one message; the transcript in $T/N.out.
send() {
    smtp_send "$T/$1.out" --xclient-addr "$2" --from "$3" --to "$4" --header "X-Test-Id: $(test_id)"
}
rcpt_reply() { reply_after "$T/$1.out" "RCPT TO:<$2>" "$3"; }
new_filter() { [ -n "$(filter_pid)" ] && [ "$(filter_pid)" != "$1" ]; }

# --- LMDB ------------------------------------------------------------------------
send 1 203.0.113.7 a@outside.example user@example.org
check "first attempt: 451 4.7.1 greylisted, with the seconds to wait" \
    rcpt_reply 1 user@example.org "^451 4\.7\.1 Greylisted, please try again in [1-9][0-9]* seconds$"
send 2 203.0.113.7 a@outside.example user@example.org
check "retry too early: 451 again" rcpt_reply 2 user@example.org "^451 4\.7\.1 Greylisted"
send 3 203.0.113.99 a@outside.example other@example.org
check "another triplet from the same /24: greylisted on its own" rcpt_reply 3 other@example.org "^451 4\.7\.1"
sleep $((DELAY + 1))
send 4 203.0.113.8 a@outside.example user@example.org
check "retry after the delay from another address of the /24: accepted" rcpt_reply 4 user@example.org "^250 "
check "... and delivered" reply_after "$T/4.out" "." "^250 "
send 5 127.0.0.1 app@example.org newuser@example.org
check "trusted client: never greylisted" rcpt_reply 5 newuser@example.org "^250 "

# auto-allow 2: the second passed triplet of the network allows it whole.
send 6 203.0.113.9 a@outside.example other@example.org
check "second triplet passes after its delay" rcpt_reply 6 other@example.org "^250 "
send 7 203.0.113.10 b@outside.example third@example.org
check "after 2 passes the network is auto-allowed: a new triplet passes at once" \
    rcpt_reply 7 third@example.org "^250 "

# the rate limit: 3 messages an hour from one client; the 4th is over.
for i in 1 2 3; do send "rl$i" 198.51.100.20 r@outside.example user@example.org; done
send rl4 198.51.100.20 r@outside.example user@example.org
check "rate limit: the 4th message from a client within the hour gets 451 at MAIL FROM" \
    reply_after "$T/rl4.out" "MAIL FROM:" "^451 4\.7\.1 Too many messages from 198\.51\.100\.20, slow down$"
check "rate limit: the 3rd did not" reply_after "$T/rl3.out" "MAIL FROM:" "^250 "

# SIGKILL the filter while it writes: the supervisor restarts it, the file opens, the state is there.
old=$(filter_pid)
senders=""
for i in 1 2 3 4 5 6; do
    send "k$i" "192.0.2.$i" "k$i@outside.example" user@example.org &
    senders="$senders $!"
done
sleep 0.3
kill -KILL "$old"
# shellcheck disable=SC2086
wait $senders
check "the filter was restarted after SIGKILL" wait_for 10 new_filter "$old"
send 8 203.0.113.8 a@outside.example user@example.org
check "after the restart the passed triplet still passes (the LMDB file survived)" rcpt_reply 8 user@example.org "^250 "
send 9 198.51.100.50 z@outside.example user@example.org
check "... and a new triplet from another network is greylisted as before" rcpt_reply 9 user@example.org "^451 4\.7\.1"
stop_mxguard
stop_postfix

# --- Redis: two daemons share one server ---------------------------------------------
start_redis || setup_failed "redis-server did not start"
chmod 755 "$REDIS_DIR"
chmod 777 "$REDIS_SOCK"
REDIS_OPTS=(--store backend=redis --store "redis-socket=$REDIS_SOCK" --store redis-prefix=e2e:
            --store redis-retry-min=200 --store redis-retry-max=1000)
start_mxguard "$R/gateway.rules" "$GATEWAY_DNS" "${REDIS_OPTS[@]}" || setup_failed "mxguard A did not start"
SOCK_A=$MXG_SOCK LOG_A=$MXG_LOG
start_postfix "unix:$SOCK_A" || setup_failed "postfix did not start"
# Daemon B: its own socket, its own listener of the same postfix.
MXG_SOCK_B="$T/b/mxguard.sock"
mkdir -p "$T/b" && chmod 755 "$T/b"
"$MXGUARD" -f -c "$R/gateway.rules" -p "unix:$MXG_SOCK_B" -u mxguard --umask 0111 "$GATEWAY_DNS" \
    "${REDIS_OPTS[@]}" >"$T/mxguard-b.log" 2>&1 </dev/null &
PID_B=$!
track_pid "$PID_B"
wait_for 10 unix_listening "$MXG_SOCK_B" || setup_failed "mxguard B did not start"
pf_add_listener "unix:$MXG_SOCK_B" || setup_failed "the second postfix listener did not start"
sendb() { (PF_PORT=$PF_PORT2; send "$@"); }

send r1 203.0.113.7 shared@outside.example user@example.org
check "Redis, daemon A: first attempt greylisted" rcpt_reply r1 user@example.org "^451 4\.7\.1"
sleep $((DELAY + 1))
sendb r2 203.0.113.7 shared@outside.example user@example.org
check "Redis, daemon B: the triplet A saw passes after the delay" rcpt_reply r2 user@example.org "^250 "
send r3 198.51.100.30 r@outside.example user@example.org
sendb r4 198.51.100.30 r@outside.example user@example.org
send r5 198.51.100.30 r@outside.example user@example.org
sendb r6 198.51.100.30 r@outside.example user@example.org
check "Redis: the rate limit counts across both daemons (the 4th message, on B, is over)" \
    reply_after "$T/r6.out" "MAIL FROM:" "^451 4\.7\.1 Too many messages"
check "... the 3rd, on A, was not" reply_after "$T/r5.out" "MAIL FROM:" "^250 "

stop_redis
send r7 203.0.113.60 down@outside.example user@example.org
check "Redis down: mail still flows (on-error skip: not greylisted)" rcpt_reply r7 user@example.org "^250 "
send r8 203.0.113.61 down@outside.example user@example.org
check "... message after message" rcpt_reply r8 user@example.org "^250 "
sed 's/^/#   /' "$LOG_A" | grep -i 'state store' | tail -n 5
outage_lines() { grep -c 'state store: .*' "$LOG_A"; }
check "Redis down: the outage is logged, once (not per message)" test "$(grep -ci 'state store:.*redis.*\(down\|unreachable\|lost\|fail\|error\|not\)' "$LOG_A")" = 1
check "Redis down: daemon A's filter still runs" filter_pid_exists
check "Redis down: daemon B still runs" kill -0 "$PID_B"
start_redis || setup_failed "redis-server did not come back"
chmod 777 "$REDIS_SOCK"
sleep 2
send r9 203.0.113.62 back@outside.example user@example.org
check "Redis back: the daemon reconnected by itself (greylisting again)" rcpt_reply r9 user@example.org "^451 4\.7\.1"
finish
