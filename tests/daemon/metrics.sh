#!/bin/bash
# metrics.sh: the Prometheus endpoint (--metrics-listen) of a running
# daemon and `mxguard --stats`: sessions and reloads counted, the rules
# exported by label, promtool accepts the text, other paths get 404,
# --stats prints the same numbers and says clearly when nothing answers.
# (Decisions, records and rule counts against a real MTA's own counts:
# tests/e2e/postfix_records.sh.)
. "$SRCDIR/tests/lib/common.sh"
need_root
need_cmd miltertest
need_cmd curl
need_cmd promtool

cat >"$T/active.rules" <<'RULES'
on rcpt {
    [relay] reject 554 5.7.1 "relay denied" if recipient.domain = "elsewhere.example";
    continue;
}
RULES
cat >"$T/other.rules" <<'RULES'
on rcpt {
    [local] continue if recipient.domain = "example.org";
    reject 554 5.7.1 "relay denied";
}
RULES
printf 'on rcpt {\n    reject 999 5.7.1 "bad code";\n}\n' >"$T/broken.rules"

PORT=$(free_port) || { check "a free port" false; finish; }
URL="http://127.0.0.1:$PORT/metrics"
start_mxguard "$T/active.rules" --metrics-listen "127.0.0.1:$PORT" || { check "daemon starts" false; finish; }

scrape() { curl -sf --max-time 5 "$URL" >"$T/scrape.txt"; }
# has LINE: the last scrape holds exactly this line.
has() { grep -qxF -- "$1" "$T/scrape.txt"; }
check "the endpoint answers" wait_for 10 scrape
check "the endpoint is logged" contains "$MXG_LOG" "metrics endpoint: http://127.0.0.1:$PORT/metrics"
check "no session yet" has "mxguard_sessions_total 0"
check "the rules are exported by label" has 'mxguard_rule_decided_total{rule="relay"} 0'
check "and an unlabelled rule by file:line" has "mxguard_rule_decided_total{rule=\"$T/active.rules:3\"} 0"

miltertest -D sock="unix:$MXG_SOCK" -D srcdir="$SRCDIR" -D n=3 -s "$SRCDIR/tests/daemon/metrics.lua" >"$T/lua.out" 2>&1
rc=$?
sed 's/^/#   /' "$T/lua.out"
check "three sessions through miltertest" test $rc -eq 0
sessions_done() { scrape && has "mxguard_sessions_total 3" && has "mxguard_sessions_open 0"; }
check "three sessions counted, none open" wait_for 10 sessions_done

curl -s --max-time 5 -D "$T/headers" -o /dev/null "$URL"
check "served as Prometheus text 0.0.4" grep -qi '^Content-Type: text/plain; version=0.0.4' "$T/headers"
promtool check metrics <"$T/scrape.txt" >"$T/promtool.out" 2>&1
rc=$?
sed 's/^/#   /' "$T/promtool.out"
check "promtool check metrics accepts it, with nothing to say" test $rc -eq 0 -a ! -s "$T/promtool.out"

code() { curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$@"; }
check "404 for another path" test "$(code "http://127.0.0.1:$PORT/")" = 404
check "404 for /metrics/x" test "$(code "http://127.0.0.1:$PORT/metrics/x")" = 404
check "404 for a POST" test "$(code -X POST --data x "$URL")" = 404

# Reloads: one good (the new rules are exported, [relay] no longer), one refused.
cp "$T/other.rules" "$T/active.rules"
kill -USR1 "$MXG_PID"
check "good reload" wait_for 10 grep -q "reload: loaded $T/active.rules" "$MXG_LOG"
cp "$T/broken.rules" "$T/active.rules"
kill -HUP "$MXG_PID"
check "broken reload refused" wait_for 10 grep -q "still serving the previous rules" "$MXG_LOG"
reloads_done() { scrape && has 'mxguard_reloads_total{result="ok"} 1' && has 'mxguard_reloads_total{result="refused"} 1'; }
check "reloads counted: 1 ok, 1 refused" wait_for 10 reloads_done
check "the reloaded rules are exported" has 'mxguard_rule_decided_total{rule="local"} 0'
check "a rule gone is not" not_contains "$T/scrape.txt" 'rule="relay"'

"$MXGUARD" --stats --metrics-listen "127.0.0.1:$PORT" >"$T/stats.out" 2>"$T/stats.err"
rc=$?
sed 's/^/#   /' "$T/stats.out" "$T/stats.err"
check "--stats succeeds" test $rc -eq 0
check "--stats: sessions" grep -qxF "sessions        0 open, 3 in all" "$T/stats.out"
check "--stats: the overload bounds (the default 500 sessions, 200 waiting for DNS)" grep -qxF \
    "overload        0 sessions refused (limit 500), 0 waiting for DNS (limit 200), 0 DNS questions not asked" "$T/stats.out"
check "--stats: reloads" grep -qxF "reloads         1 ok, 1 refused" "$T/stats.out"
check "--stats: a latency section" grep -qxF "latency per stage: p50 / p99 (messages and connections)" "$T/stats.out"

DEAD=$(free_port)
"$MXGUARD" --stats --metrics-listen "$DEAD" >"$T/dead.out" 2>"$T/dead.err"
rc=$?
sed 's/^/#   /' "$T/dead.err"
check "--stats with nothing listening: exit 1" test $rc -eq 1
check "... and says so" grep -q "nothing answers on 127.0.0.1:$DEAD" "$T/dead.err"
check "... on stderr only" test ! -s "$T/dead.out"
"$MXGUARD" --stats --metrics-listen "127.0.0.1:$(free_port)x" >/dev/null 2>"$T/bad.err"
check "--stats with a bad address: usage error" test $? -eq 2

check "the same filter process served throughout" not_contains "$MXG_LOG" "died|exited with status"
stop_mxguard
check "the endpoint stops with the daemon" test "$(code "$URL")" = 000
finish
