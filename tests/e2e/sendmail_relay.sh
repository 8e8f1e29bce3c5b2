#!/bin/bash
# sendmail_relay.sh: anti-relay end to end behind a real sendmail 8.17.
# A private sendmail (Debian's sendmail-bin and sendmail-cf unpacked with
# dpkg -x, its .cf built from a .mc with m4; see tests/lib/sendmail.sh and
# tests/e2e/SENDMAIL.md) listens on a loopback port with
#   INPUT_MAIL_FILTER(`mxguard', `S=unix:..., F=T, T=S:30s;R:60s;E:5m')
# and relays everything it accepts to an smtp-sink. sendmail's own relay
# check passes every RCPT (promiscuous_relay), so what is tested is
# mxguard's. sendmail has no XCLIENT: the outside client is swaks bound to
# 127.0.0.2, and the rule copy trusts 127.0.0.1/32 only.
#
# Scenarios (as for postfix): relay denied to an outside client with the
# admin's text verbatim; local mail delivered; the trusted client and an
# SMTP AUTH user relay; a rejected sender gets the admin's reply text;
# with mxguard stopped, F=T gives the client a 4xx and nothing is queued
# or delivered; mail flows again once mxguard is back. Plus what sendmail
# sends differently from postfix where the decisions show it (the queue
# id already at MAIL, the client name from the hosts file, the AUTH user
# without a realm) and that the system's MTA and /etc were not touched.

. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
. "$SRCDIR/tests/lib/dns.sh"
. "$SRCDIR/tests/lib/sendmail.sh"

need_root
# Download and unpack the private sendmail once per machine (a no-op when
# the install step did it); without it, need_sendmail skips.
sendmail_unpack >"$T/unpack.log" 2>&1 || { echo "# sendmail_unpack failed:"; sed 's/^/#   /' "$T/unpack.log"; }
need_sendmail
need_cmd saslpasswd2

setup_failed() {
    echo "# set-up failed: $*"
    CHECKS=$((CHECKS + 1))
    [ -n "${MXG_LOG:-}" ] && show "$MXG_LOG" "mxguard log"
    [ -n "$SM_DIR" ] && show "$SM_OUT" "sendmail output" && sm_traffic_tail 30
    FAILURES=$((FAILURES + 1))
    finish
}

# The system's MTA (postfix's sendmail(1)) and /etc before the test.
sys_state() {
    {
        for f in /usr/sbin/sendmail /usr/lib/sendmail /etc/nsswitch.conf /etc/hosts; do
            if [ -e "$f" ]; then echo "$f $(readlink -f "$f") $(md5sum <"$f")"; else echo "$f absent"; fi
        done
        ls -la /etc/mail 2>&1 | head -n 3
        ls -la /etc/postfix 2>/dev/null | md5sum
    }
}
sys_state >"$T/sys-before"

# sm_reply_after OUTFILE COMMAND REGEX: reply_after (postfix.sh) with
# sendmail's traffic log as the diagnostic.
sm_reply_after() {
    reply_after "$@" >"$T/reply.diag" && return 0
    grep -v 'postfix maillog' "$T/reply.diag"
    sm_traffic_tail 15
    return 1
}

sm_reply_is() {
    reply_is "$@" >"$T/reply.diag" && return 0
    grep -v 'postfix maillog' "$T/reply.diag"
    sm_traffic_tail 15
    return 1
}

arrived() {
    sink_wait_for "$1" 15 && return 0
    echo "# message $1 did not arrive at the sink; sink files:"
    ls -l "$SINK_DIR" | sed 's/^/#   /'
    sm_queue_show
    sm_traffic_tail 20
    return 1
}

# arrived_for ID RCPT: the message with ID reached the sink for RCPT only.
arrived_for() {
    local f rcpts
    arrived "$1" || return 1
    rcpts=""
    for f in $(sink_files_with "$1"); do
        rcpts="$rcpts$(sed -n 's/^X-Rcpt-Args: \(<[^>]*>\).*/ \1/p' "$f")"
    done
    [ "$rcpts" = " <$2>" ] && return 0
    echo "# message $1 arrived for '$rcpts', expected only <$2>"
    show "$f" "sink file"
    return 1
}

never_arrives() {
    sm_never_got "$1" && return 0
    sm_traffic_tail 20
    return 1
}

mxg_log_has() {
    wait_for 5 contains "$MXG_LOG" "$1" && return 0
    echo "# mxguard log has no line matching /$1/"
    show "$MXG_LOG" "mxguard log"
    return 1
}

mxguard_gone() {
    pid_gone "$MXG_PID" && ! unix_listening "$MXG_SOCK"
}

# accepted_qid OUTFILE: the queue id in sendmail's reply to the final dot
# ("250 2.0.0 6AOxxxxx012345 Message accepted for delivery").
accepted_qid() {
    sed -En 's/^<-  250 2\.0\.0 ([A-Za-z0-9]+) Message accepted for delivery.*/\1/p' "$1" | head -n 1
}

# qid_known_at_mail OUTFILE: mxguard's decision at MAIL FROM already names
# the queue id the client was given at the end of DATA (sendmail defines
# i at MAIL; postfix only after the first accepted RCPT).
qid_known_at_mail() {
    local qid
    qid=$(accepted_qid "$1")
    [ -n "$qid" ] || { echo "# no queue id in the reply to the final dot"; show "$1"; return 1; }
    mxg_log_has "qid=$qid client=[^ ]+ stage=mail "
}

no_sendmail_left() {
    local left
    left=$(sm_leftovers)
    [ -z "$left" ] && ! port_listening "$SM_PORT" && return 0
    echo "# sendmail processes left: ${left:-none}; port $SM_PORT listening: $(port_listening "$SM_PORT" && echo yes || echo no)"
    ps -o pid,ppid,user,args -p "$(echo "$left" | tr '\n' ',' | sed 's/,$//')" 2>/dev/null | sed 's/^/#   /'
    return 1
}

system_untouched() {
    sys_state >"$T/sys-after"
    if ! cmp -s "$T/sys-before" "$T/sys-after"; then
        echo "# the system's MTA or /etc changed:"
        diff "$T/sys-before" "$T/sys-after" | sed 's/^/#   /'
        return 1
    fi
    # The namespace's bind mounts did not leak into ours.
    if grep -qE ' /etc/(nsswitch\.conf|hosts) ' /proc/self/mountinfo &&
        grep -E ' /etc/(nsswitch\.conf|hosts) ' /proc/self/mountinfo | grep -qF "$T"; then
        echo "# a bind mount of the test is visible outside sendmail's namespace"
        return 1
    fi
    return 0
}

# --- the rules: a copy of the shipped gateway rules ---------------------------
# Trusted networks: 127.0.0.1/32 instead of 127.0.0.0/8, so 127.0.0.2 is
# outside. The final relay reject gets a text of our own with a literal
# percent sign (mxguard doubles it for libmilter; sendmail must show one).
R="$T/rules"
mkdir -p "$R"
cp -R "$SRCDIR/rules/examples/." "$R/"
sed -i -E 's|^127\.0\.0\.0/8[[:space:]]*$|127.0.0.1/32|' "$R/trusted-networks"
grep -qx '127.0.0.1/32' "$R/trusted-networks" && ! grep -q '^127\.0\.0\.0/8' "$R/trusted-networks" ||
    setup_failed "rules/examples/trusted-networks has no line 127.0.0.0/8 to narrow (update this test)"
RELAY_TEXT="Relay access denied (mxguard e2e $$: 100% local policy)"
sed -i -E 's/^([[:space:]]*\[relay-denied\] reject 554 5\.7\.1 "<%\{recipient\}>: )Relay access denied";$/\1Relay access denied (mxguard e2e '"$$"': 100%% local policy)";/' \
    "$R/gateway.rules"
chmod -R u=rwX,go=rX "$R"
[ "$(grep -c "mxguard e2e $$" "$R/gateway.rules")" = 1 ] ||
    setup_failed "the final relay reject in rules/examples/gateway.rules is not the line this test edits"
# The file's own tests still pass with the narrower trusted networks.
"$MXGUARD" -n -c "$R/gateway.rules" >"$T/check.out" 2>&1 ||
    { show "$T/check.out" "mxguard -n"; setup_failed "the rule copy does not load or its tests fail"; }

# --- start everything -----------------------------------------------------------
# The gateway rules check SPF and DKIM at end of message: their DNS is
# answered on loopback (nothing published), never by the system resolver.
start_gateway_dns || setup_failed "nsd did not start"
start_mxguard "$R/gateway.rules" "$GATEWAY_DNS" -v || setup_failed "mxguard did not start"
start_sink || setup_failed "smtp-sink did not start"
start_sendmail "unix:$MXG_SOCK" || setup_failed "sendmail did not start"
SASL_USER="relayer"
SASL_PASS="pw-$$-$RANDOM"
sm_add_sasl_user "$SASL_USER" "$SASL_PASS" || setup_failed "saslpasswd2 failed"
echo "# mxguard on $MXG_SOCK, sendmail $SM_PID on 127.0.0.1:$SM_PORT, smtp-sink on 127.0.0.1:$SINK_PORT"

OUTSIDE=127.0.0.2
FROM=sender@outside.example

# 1. An outside client cannot relay; the reply is the admin's, verbatim.
id1=$(test_id)
sm_send "$T/1.out" --local-interface "$OUTSIDE" --from "$FROM" \
    --to user@elsewhere.example --header "X-Test-Id: $id1"
check "outside relay: 554 5.7.1 with the rule's text verbatim (one %)" \
    sm_reply_is "$T/1.out" "554 5.7.1 <user@elsewhere.example>: $RELAY_TEXT"
check "outside relay: mxguard logs the decision for [127.0.0.2]" \
    mxg_log_has "client=unknown\[$OUTSIDE\] stage=rcpt rcpt=<user@elsewhere\.example> rule=[^ ]*:[0-9]+\[relay-denied\] action=reject"
check "outside relay: nothing reaches the sink, nothing queued" never_arrives "$id1"

# 2. The same client may send to our own domains (relayed to the sink).
id2=$(test_id)
sm_send "$T/2.out" --local-interface "$OUTSIDE" --from "$FROM" \
    --to user@example.org --header "X-Test-Id: $id2"
check "outside to local domain: RCPT accepted" \
    sm_reply_after "$T/2.out" "RCPT TO:<user@example.org>" "^250 2\.1\.5 "
check "outside to local domain: message accepted" \
    sm_reply_after "$T/2.out" "." "^250 2\.0\.0 [A-Za-z0-9]+ Message accepted for delivery$"
check "outside to local domain: arrives at the sink" arrived_for "$id2" user@example.org
check "outside to local domain: mxguard's rule [local] decided" \
    mxg_log_has "client=unknown\[$OUTSIDE\] stage=rcpt rcpt=<user@example\.org> rule=[^ ]*:[0-9]+\[local\] action=continue"
check "sendmail: the queue id (i) is known at MAIL FROM" qid_known_at_mail "$T/2.out"
check "sendmail: its Received: header reaches the sink" \
    grep -qE "^	by mx\.mxguard\.test \(8\.17\.[0-9.]+/8\.17\.[0-9.]+\) with ESMTP id $(accepted_qid "$T/2.out")" \
    $(sink_files_with "$id2" | head -n 1)

# 3. The trusted client (127.0.0.1) relays. sendmail names it from the
#    hosts file ("localhost"); postfix here says unknown.
id3=$(test_id)
sm_send "$T/3.out" --from "$FROM" --to user@elsewhere.example --header "X-Test-Id: $id3"
check "trusted client relay: RCPT accepted" \
    sm_reply_after "$T/3.out" "RCPT TO:<user@elsewhere.example>" "^250 2\.1\.5 "
check "trusted client relay: arrives" arrived_for "$id3" user@elsewhere.example
check "trusted client relay: rule [trusted], client localhost[127.0.0.1]" \
    mxg_log_has "client=localhost\[127\.0\.0\.1\] stage=rcpt rcpt=<user@elsewhere\.example> rule=[^ ]*:[0-9]+\[trusted\] action=continue"

# 4. An SMTP AUTH user relays from outside: sendmail's own SASL, and
#    {auth_authen} at MAIL FROM.
id4=$(test_id)
sm_send "$T/4.out" --local-interface "$OUTSIDE" --from "$FROM" \
    --auth PLAIN --auth-user "$SASL_USER" --auth-password "$SASL_PASS" \
    --to user@elsewhere.example --header "X-Test-Id: $id4"
check "authenticated relay: AUTH PLAIN succeeds" \
    sm_reply_after "$T/4.out" "AUTH PLAIN" "^235 2\.0\.0 OK Authenticated$"
check "authenticated relay: RCPT accepted" \
    sm_reply_after "$T/4.out" "RCPT TO:<user@elsewhere.example>" "^250 2\.1\.5 "
check "authenticated relay: arrives" arrived_for "$id4" user@elsewhere.example
check "authenticated relay: mxguard saw {auth_authen} (rule [authenticated])" \
    mxg_log_has "client=unknown\[$OUTSIDE\] stage=rcpt rcpt=<user@elsewhere\.example> rule=[^ ]*:[0-9]+\[authenticated\] action=continue"

# 5. A sender in our own domain from outside: the shipped rule
#    [sender-impersonation] refuses it with the admin's text.
id5=$(test_id)
sm_send "$T/5.out" --local-interface "$OUTSIDE" --from ceo@example.org \
    --to user@example.org --header "X-Test-Id: $id5"
check "rejected sender: the admin's reply text at MAIL FROM" \
    sm_reply_after "$T/5.out" "MAIL FROM:" \
    "^554 5\.7\.1 <ceo@example\.org>: you are not one of our users$"
check "rejected sender: mxguard logs [sender-impersonation]" \
    mxg_log_has "client=unknown\[$OUTSIDE\] stage=mail rule=[^ ]*:[0-9]+\[sender-impersonation\] action=reject"
check "rejected sender: nothing reaches the sink" never_arrives "$id5"

# 6. mxguard down: F=T makes sendmail answer 451 4.3.2 at MAIL FROM (it
#    opens the milter session at connect, and says so at the first
#    command it may refuse); nothing is queued or delivered.
stop_mxguard
check "mxguard stops" wait_for 10 mxguard_gone
id6=$(test_id)
sm_send "$T/6.out" --local-interface "$OUTSIDE" --from "$FROM" \
    --to user@example.org --header "X-Test-Id: $id6"
check "mxguard down: EHLO still answered" sm_reply_after "$T/6.out" "EHLO" "^250"
check "mxguard down: 451 4.3.2 at MAIL FROM" \
    sm_reply_after "$T/6.out" "MAIL FROM:" "^451 4\.3\.2 Please try again later$"
check "mxguard down: nothing queued, nothing reaches the sink" never_arrives "$id6"
id6b=$(test_id)
sm_send "$T/6b.out" --from "$FROM" --to user@elsewhere.example --header "X-Test-Id: $id6b"
check "mxguard down: the trusted client gets 451 too" \
    sm_reply_after "$T/6b.out" "MAIL FROM:" "^451 4\.3\.2 "
check "mxguard down: its message is not delivered either" never_arrives "$id6b"

start_mxguard "$R/gateway.rules" "$GATEWAY_DNS" -v || setup_failed "mxguard did not start again"
id7=$(test_id)
sm_send "$T/7.out" --local-interface "$OUTSIDE" --from "$FROM" \
    --to user@example.org --header "X-Test-Id: $id7"
check "mxguard back: mail to a local domain arrives" arrived_for "$id7" user@example.org
sm_send "$T/8.out" --local-interface "$OUTSIDE" --from "$FROM" --to user@elsewhere.example
check "mxguard back: relay refused again" \
    sm_reply_is "$T/8.out" "554 5.7.1 <user@elsewhere.example>: $RELAY_TEXT"

# 7. Stopping leaves nothing behind, and nothing outside $T changed.
check "the sendmail queue is empty" sm_queue_empty
stop_sendmail
check "sendmail stopped: no process of it left, port closed" no_sendmail_left
check "the system's MTA and /etc are untouched" system_untouched

finish
