# kill_load.sh: what the "kill -9 under load" tests share
# (tests/e2e/kill_load_*.sh). Source it after common.sh and postfix.sh
# (and sendmail.sh for sendmail):
#
#   kl_need; kl_rules             # $T/rules/load.rules: every stage, a stamp at eom
#   kl_source PORT                # the load in the background (smtp_load.py)
#   wait_for 60 kl_past kl_ended N    # N sessions have ended
#   kl_kill_filter                # SIGKILL the filter; ms until a new one answers
#   kl_source_wait SECONDS
#   kl_client_ids 250             # the Message-IDs the clients got 250 for
#   kl_sink_ids                   # the Message-IDs at the sink, one a line (sorted)
#
# The load is tests/lib/smtp_load.py (smtp-source exits at the first
# 4xx): KL_MESSAGES messages (default 2000), one a session, at
# concurrency KL_CONC (20) from 127.0.0.1 to user@example.org, each with
# a Message-ID of its own, so that each message can be followed from the
# client through the MTA's queue to the sink; for each session it writes
# the reply that ended it ($T/load.out). It does not retry: a session
# that got a 4xx is counted, not resent.

KL_MESSAGES=${KL_MESSAGES:-2000}
KL_CONC=${KL_CONC:-20}
MILTER_LOAD="$BUILDDIR/tests/bench/milter_load"

kl_need() {
    need_cmd python3
    [ -x "$MILTER_LOAD" ] || skip "needs $MILTER_LOAD (make check builds it)"
}

# kl_rules: a rule set that takes every stage mxguard can (connect, HELO,
# MAIL, RCPT, each header, end of headers) and stamps each message at its
# end (X-Mxguard-Load): a message at the sink without the stamp went
# through without the filter's end of message.
kl_rules() {
    mkdir -p "$T/rules"
    cat >"$T/rules/load.rules" <<'RULES'
# kill_load: every stage is taken, the message is stamped at its end.
on connect { [c] tag seen-connect; }
on helo { [h] tag seen-helo; }
on mail { [m] tag seen-mail; }
on rcpt { [relay] reject 554 5.7.1 "not ours" if not recipient.domain = "example.org"; }
on header { [hdr] tag seen-subject if header.name = "Subject"; }
on eoh { [eoh] tag seen-eoh; }
on eom { [stamp] add-header "X-Mxguard-Load" "checked for %{client.address}"; }
RULES
    chmod -R go+rX "$T/rules"
    "$MXGUARD" -n -c "$T/rules/load.rules" >"$T/check.out" 2>&1
}

# kl_source PORT [MESSAGES]: the load (KL_MESSAGES messages unless
# said) against 127.0.0.1:PORT in the background (KL_SRC_PID); a line a
# session appended to $T/load.out; KL_SENT counts the sessions of every
# load started so far.
KL_SENT=0
kl_source() {
    local n=${2:-$KL_MESSAGES}
    KL_SENT=$((KL_SENT + n))
    touch "$T/load.out"
    python3 "$SRCDIR/tests/lib/smtp_load.py" 127.0.0.1 "$1" "$n" "$KL_CONC" \
        "$T/load.out" "$TEST_NAME-$$-$KL_SENT" >>"$T/load.err" 2>&1 </dev/null &
    KL_SRC_PID=$!
    track_pid "$KL_SRC_PID"
}

# kl_source_wait SECONDS: wait for the load to finish; its exit status.
kl_source_wait() {
    local rc
    wait_for "$1" pid_gone "$KL_SRC_PID" || { echo "# the load did not finish in $1 s"; return 1; }
    wait "$KL_SRC_PID"
    rc=$?
    untrack_pid "$KL_SRC_PID"
    [ "$rc" -eq 0 ] || show "$T/load.err" "smtp_load.py"
    return "$rc"
}

# kl_ended: the sessions that have ended so far.
kl_ended() { wc -l <"$T/load.out"; }

# kl_past COUNTER N: COUNTER (a command printing a number) is at least N.
kl_past() { [ "$("$1")" -ge "$2" ]; }

# kl_client_ids CODE_REGEX: the Message-IDs of the sessions that ended
# with a reply matching CODE_REGEX (ERE, anchored), sorted.
kl_client_ids() { awk -v re="^($1)\$" '$3 ~ re { print $2 }' "$T/load.out" | sort; }

# kl_client_count CODE_REGEX: how many sessions ended so.
kl_client_count() { awk -v re="^($1)\$" '$3 ~ re { n++ } END { print n + 0 }' "$T/load.out"; }

# kl_client_summary: how the sessions ended, by reply and stage:
# "250 (done 1957); 451 (mail 12, data 31)".
kl_client_summary() {
    awk '{ s[$3 " " $4]++ } END { for (k in s) print k, s[k] }' "$T/load.out" | sort |
        awk '$1 != c { if (c != "") printf "); "; c = $1; printf "%s (", c; sep = "" }
             { printf "%s%s %d", sep, $2, $3; sep = ", " } END { if (c != "") print ")" }'
}

# kl_now_ms: a monotonic-enough clock in ms.
kl_now_ms() { echo $(($(date +%s%N) / 1000000)); }

# kl_answers: one milter session (milter_load, like postfix) on the
# socket is answered. The socket stays open across a restart (the
# supervisor holds it), so the session waits in the listen queue until a
# filter process takes it.
kl_answers() {
    local line
    line=$("$MILTER_LOAD" -s "unix:$MXG_SOCK" -c 1 -m 1 2>>"$T/milter_load.err") || return 1
    case " $line " in *" ok=1 "*) return 0 ;; esac
    return 1
}

# kl_kill_filter: SIGKILL the filter process (the supervisor's child);
# prints "OLD NEW MS": the pids and the milliseconds from the kill until
# the new filter process answered a milter session (fails after 30 s).
kl_kill_filter() {
    local old new t0 t1
    old=$(filter_pid)
    [ -n "$old" ] || { echo "# no filter process to kill" >&2; return 1; }
    t0=$(kl_now_ms)
    kill -KILL "$old"
    wait_for 5 pid_gone "$old" || { echo "# filter $old did not die" >&2; return 1; }
    kl_new_filter() { new=$(filter_pid); [ -n "$new" ] && [ "$new" != "$old" ]; }
    wait_for 20 kl_new_filter || { echo "# no new filter process after $old" >&2; return 1; }
    kl_answers || wait_for 10 kl_answers || { echo "# the new filter $new does not answer" >&2; return 1; }
    t1=$(kl_now_ms)
    echo "$old $new $((t1 - t0))"
}

# kl_kill_three: kill the filter process at 20, 45 and 70% of the
# load's sessions (kl_kill_filter); each kill's "OLD NEW MS" is a line
# of $T/restarts. Checks that all three were followed by a new filter.
kl_kill_three() {
    local pct at r old new ms
    : >"$T/restarts"
    for pct in 20 45 70; do
        at=$((KL_MESSAGES * pct / 100))
        if ! wait_for 60 kl_past kl_ended "$at"; then
            echo "# only $(kl_ended) sessions ended, waiting for $at"
            break
        fi
        r=$(kl_kill_filter) || { echo "# kill after $at sessions: no restart"; break; }
        read -r old new ms <<<"$r"
        echo "# killed filter $old after $at sessions; filter $new answered $ms ms later"
        echo "$r" >>"$T/restarts"
    done
    check "three kills, each followed by a new filter process answering" [ "$(wc -l <"$T/restarts")" -eq 3 ]
}

# kl_sink_ids: the Message-Id of every message at the sink (the first
# one in its header), one a line, sorted, duplicates kept.
kl_sink_ids() {
    find "$SINK_DIR" -maxdepth 1 -name 'msg.*' -type f -print0 |
        xargs -0 -r awk 'FNR == 1 { inhdr = 1 } inhdr && /^\r?$/ { inhdr = 0 }
            inhdr && tolower($1) == "message-id:" { print $2; inhdr = 0 }' | sort
}

# kl_sink_unstamped: the sink files without mxguard's stamp (one a line).
kl_sink_unstamped() {
    grep -L '^X-Mxguard-Load: checked for ' "$SINK_DIR"/msg.* 2>/dev/null
}

# kl_same_sets A B NAME_A NAME_B: files A and B (sorted, one id a line)
# hold the same ids; prints what differs.
kl_same_sets() {
    local only_a only_b
    only_a=$(comm -23 <(sort -u "$1") <(sort -u "$2") | wc -l)
    only_b=$(comm -13 <(sort -u "$1") <(sort -u "$2") | wc -l)
    [ "$only_a" -eq 0 ] && [ "$only_b" -eq 0 ] && return 0
    echo "# $only_a in $3 but not in $4, $only_b in $4 but not in $3; first ones:"
    comm -3 <(sort -u "$1") <(sort -u "$2") | head -n 10 | sed 's/^/#   /'
    return 1
}

# kl_dups FILE: the number of ids that occur more than once in FILE.
kl_dups() { sort "$1" | uniq -d | wc -l; }

# --- the private postfix's log -----------------------------------------------

# kl_pf_accounts: from the maillog, into $T: pf-queued (the queue ids
# qmgr took: every message postfix accepted), pf-msgids (their
# Message-Ids, from cleanup), pf-sent (queue ids delivered with
# status=sent), pf-4xx (postfix's temporary refusals: milter-reject or
# reject with a 4 code), pf-5xx (permanent ones).
kl_pf_accounts() {
    sed -En 's/.*\/qmgr\[[0-9]+\]: ([0-9A-Za-z]+): from=<.*\(queue active\)$/\1/p' "$PF_LOG" | sort -u >"$T/pf-queued"
    sed -En 's/.*\/cleanup\[[0-9]+\]: ([0-9A-Za-z]+): message-id=(<[^>]*>).*/\1 \2/p' "$PF_LOG" | sort -u >"$T/pf-cleanup-ids"
    join "$T/pf-queued" "$T/pf-cleanup-ids" | awk '{ print $2 }' | sort >"$T/pf-msgids"
    sed -En 's/.*\/smtp\[[0-9]+\]: ([0-9A-Za-z]+): to=<.* status=sent .*/\1/p' "$PF_LOG" | sort >"$T/pf-sent"
    grep -E '(milter-)?reject: ' "$PF_LOG" | grep -E ': 4[0-9][0-9] 4\.|: 4\.[0-9]+\.[0-9]+ ' >"$T/pf-4xx"
    grep -E '(milter-)?reject: ' "$PF_LOG" | grep -E ': 5[0-9][0-9] 5\.|: 5\.[0-9]+\.[0-9]+ ' >"$T/pf-5xx"
    return 0
}

# kl_no_dups: the sink holds no message twice, and as many as the MTA queued.
kl_no_dups() { [ "$(kl_dups "$T/sink-ids")" -eq 0 ] && [ "$(wc -l <"$T/sink-ids")" -eq "$1" ]; }

# kl_check_accounts MTA QUEUED: the accounting once the MTA's queue is
# empty. QUEUED is a file of the Message-IDs of the messages the MTA
# queued (from its own log), one a line: they are at the sink, each
# once, stamped by mxguard, and they are the messages the clients got a
# 250 for; every other session got a 4xx (some did: the kills cost the
# sessions under way theirs). Prints the numbers.
kl_check_accounts() {
    local mta=$1 queued_file=$2 queued at_sink dups ok tempfailed
    kl_sink_ids >"$T/sink-ids"
    kl_client_ids 250 >"$T/client-250"
    queued=$(wc -l <"$queued_file")
    at_sink=$(wc -l <"$T/sink-ids")
    dups=$(kl_dups "$T/sink-ids")
    ok=$(wc -l <"$T/client-250")
    tempfailed=$(kl_client_count '4[0-9][0-9]')
    echo "# sent $(kl_ended), 250 to the client $ok, queued by $mta $queued, at the sink $at_sink ($(sort -u "$T/sink-ids" | wc -l) distinct), duplicates $dups, 4xx $tempfailed"
    echo "# how the sessions ended (reply, then the stage): $(kl_client_summary)"
    check "every session ended" [ "$(kl_ended)" -eq "$KL_SENT" ]
    check "$mta queued most messages" [ "$queued" -ge $((KL_SENT / 2)) ]
    check "the sink holds every message $mta queued" kl_same_sets "$queued_file" "$T/sink-ids" "$mta" sink
    check "... and those are the messages the clients got 250 for" kl_same_sets "$T/client-250" "$T/sink-ids" clients sink
    check "no message twice at the sink" kl_no_dups "$queued"
    check "every message at the sink has mxguard's end-of-message stamp" [ -z "$(kl_sink_unstamped)" ]
    check "the kills cost some sessions a 4xx (those under way)" [ "$tempfailed" -gt 0 ]
    check "every other session got a 4xx: none a 5xx or a dropped connection" \
        [ $((ok + tempfailed)) -eq "$KL_SENT" ]
}

# kl_pf_check_accounts: kl_check_accounts for the private postfix, and
# postfix's own view: every queued message sent, nothing refused for good.
kl_pf_check_accounts() {
    kl_pf_accounts
    echo "# postfix logged $(wc -l <"$T/pf-4xx") temporary refusals (a session can have two), $(wc -l <"$T/pf-5xx") permanent ones"
    check "every message postfix queued has one Message-ID" [ "$(wc -l <"$T/pf-msgids")" -eq "$(wc -l <"$T/pf-queued")" ]
    check "every message postfix queued was sent" [ "$(wc -l <"$T/pf-sent")" -eq "$(wc -l <"$T/pf-queued")" ]
    kl_check_accounts postfix "$T/pf-msgids"
    check "postfix refused nothing permanently" [ ! -s "$T/pf-5xx" ] || show "$T/pf-5xx"
}
