#!/bin/bash
# postfix_relay.sh: anti-relay end to end. A private postfix instance on a
# loopback port uses mxguard (a copy of the shipped gateway.rules) as its
# milter and relays everything it accepts to an smtp-sink; swaks plays the
# clients, presenting foreign addresses with XCLIENT. Postfix's own relay
# check is made to pass every RCPT, so what is tested is mxguard's.
#
# Scenarios: an untrusted client cannot relay and gets the admin's reply
# verbatim; it can send to our domains; trusted networks and SMTP AUTH
# users can relay; routed recipients (%-hack, bang path, quoted @, source
# route) are refused; with mxguard down postfix tempfails (451) and mail
# flows again once it is back.

. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
. "$SRCDIR/tests/lib/dns.sh"

need_postfix
need_cmd saslpasswd2

# setup_failed WHAT: a set-up step failed: report and stop here.
setup_failed() {
    echo "# set-up failed: $*"
    CHECKS=$((CHECKS + 1))
    [ -n "${MXG_LOG:-}" ] && show "$MXG_LOG" "mxguard log"
    [ -n "$PF_LOG" ] && pf_log_tail 30
    FAILURES=$((FAILURES + 1))
    finish
}

# arrived ID: a message carrying ID reached the sink.
arrived() {
    sink_wait_for "$1" 15 && return 0
    echo "# message $1 did not arrive at the sink; sink files:"
    ls -l "$SINK_DIR" | sed 's/^/#   /'
    postqueue -c "$PF_DIR" -p 2>&1 | sed 's/^/#   /'
    pf_log_tail 20
    return 1
}

# arrived_for ID RCPT: the message with ID reached the sink for RCPT and
# for no other recipient.
arrived_for() {
    local f rcpts
    arrived "$1" || return 1
    rcpts=""
    for f in $(sink_files_with "$1"); do    # dump file names have no spaces
        rcpts="$rcpts$(sed -n 's/^X-Rcpt-Args: \(<[^>]*>\).*/ \1/p' "$f")"
    done
    [ "$rcpts" = " <$2>" ] && return 0
    echo "# message $1 arrived for '$rcpts', expected only <$2>"
    show "$f" "sink file"
    return 1
}

never_arrives() {
    sink_never_got "$1" && return 0
    pf_log_tail 20
    return 1
}

filter_runs_as() {
    local pid user
    pid=$(filter_pid)
    user=$(ps -o user= -p "${pid:-0}" 2>/dev/null | tr -d ' ')
    [ "$user" = "$1" ] && return 0
    echo "# filter process '${pid:-none}' runs as '${user:-?}', expected $1"
    ps -o pid,ppid,user,args --ppid "$MXG_PID" -p "$MXG_PID" 2>/dev/null | sed 's/^/#   /'
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

# --- the rules: a copy of the shipped gateway rules --------------------------
# The last reject gets a text of our own (with a literal percent sign) to
# show the admin's text arrives verbatim; 198.51.100.0/24 joins the
# trusted networks. The %-hack reject keeps the shipped text.
R="$T/rules"
mkdir -p "$R"
cp -R "$SRCDIR/rules/examples/." "$R/"     # the rules and all their list files
[ -z "$(tail -c 1 "$R/trusted-networks")" ] || echo >>"$R/trusted-networks"
echo "198.51.100.0/24" >>"$R/trusted-networks"
RELAY_TEXT="Relay access denied (mxguard e2e $$: 100% local policy)"
sed -i -E 's/^([[:space:]]*\[relay-denied\] reject 554 5\.7\.1 "<%\{recipient\}>: )Relay access denied";$/\1Relay access denied (mxguard e2e '"$$"': 100%% local policy)";/' \
    "$R/gateway.rules"
chmod -R u=rwX,go=rX "$R"
[ "$(grep -c "mxguard e2e $$" "$R/gateway.rules")" = 1 ] ||
    setup_failed "the final relay reject in rules/examples/gateway.rules is not the" \
        "line this test edits (update the sed above)"
"$MXGUARD" -n -c "$R/gateway.rules" >"$T/check.out" 2>&1 ||
    { show "$T/check.out" "mxguard -n"; setup_failed "the rule copy does not load"; }

# --- start everything ----------------------------------------------------------
# The gateway rules check SPF and DKIM at end of message: their DNS is
# answered on loopback (nothing published), never by the system resolver.
start_gateway_dns || setup_failed "nsd did not start"
start_mxguard "$R/gateway.rules" "$GATEWAY_DNS" || setup_failed "mxguard did not start"
wait_for 10 unix_listening "$MXG_SOCK" || setup_failed "mxguard does not listen on $MXG_SOCK"
start_sink || setup_failed "smtp-sink did not start"
start_postfix "unix:$MXG_SOCK" || setup_failed "postfix did not start"
SASL_USER="relayer"
SASL_PASS="pw-$$-$RANDOM"
pf_add_sasl_user "$SASL_USER" "$SASL_PASS" || setup_failed "saslpasswd2 failed"
echo "# mxguard on $MXG_SOCK, postfix on 127.0.0.1:$PF_PORT, smtp-sink on 127.0.0.1:$SINK_PORT"

check "the filter process runs as user mxguard" filter_runs_as mxguard

UNTRUSTED=203.0.113.7
# A sender outside our domains: the shipped rules refuse our own domains
# as senders from untrusted, unauthenticated clients.
FROM=sender@outside.example

# 1. An untrusted client cannot relay; the reply is the admin's, verbatim.
id1=$(test_id)
smtp_send "$T/1.out" --xclient-addr "$UNTRUSTED" --from "$FROM" \
    --to user@elsewhere.example --header "X-Test-Id: $id1"
check "untrusted relay: 554 5.7.1 with the rule's text verbatim" \
    reply_after "$T/1.out" "RCPT TO:<user@elsewhere.example>" \
    "^554 5\.7\.1 <user@elsewhere\.example>: Relay access denied \(mxguard e2e $$: 100% local policy\)$"
check "untrusted relay: the exact reply line" \
    reply_is "$T/1.out" "554 5.7.1 <user@elsewhere.example>: $RELAY_TEXT"
check "untrusted relay: postfix logs milter-reject" \
    pf_log_wait_str "NOQUEUE: milter-reject: RCPT from unknown[$UNTRUSTED]: 554 5.7.1 <user@elsewhere.example>: $RELAY_TEXT; from=<$FROM> to=<user@elsewhere.example>"
check "untrusted relay: mxguard logs the decision" \
    mxg_log_has "client=unknown\[$UNTRUSTED\] stage=rcpt rcpt=<user@elsewhere\.example> rule=[^ ]*:[0-9]+\[relay-denied\] action=reject"
check "untrusted relay: nothing reaches the sink" never_arrives "$id1"

# 2. The same client may send to our own domains.
id2=$(test_id)
smtp_send "$T/2.out" --xclient-addr "$UNTRUSTED" --from "$FROM" \
    --to user@example.org --header "X-Test-Id: $id2"
check "untrusted to local domain: RCPT accepted" \
    reply_after "$T/2.out" "RCPT TO:<user@example.org>" "^250 "
check "untrusted to local domain: message queued" \
    reply_after "$T/2.out" "." "^250 2\.0\.0 Ok: queued"
check "untrusted to local domain: arrives at the sink" arrived_for "$id2" user@example.org

# 3. Trusted clients relay: a network added to the list (via XCLIENT),
#    and a loopback client as is (127.0.0.0/8 is in the shipped list).
id3=$(test_id)
smtp_send "$T/3a.out" --xclient-addr 198.51.100.7 --from "$FROM" \
    --to user@elsewhere.example --header "X-Test-Id: $id3"
check "trusted network relay (198.51.100.7): RCPT accepted" \
    reply_after "$T/3a.out" "RCPT TO:<user@elsewhere.example>" "^250 "
check "trusted network relay (198.51.100.7): arrives" arrived_for "$id3" user@elsewhere.example
id3b=$(test_id)
smtp_send "$T/3b.out" --from "$FROM" --to user@elsewhere.example --header "X-Test-Id: $id3b"
check "trusted loopback relay (127.0.0.1): arrives" arrived_for "$id3b" user@elsewhere.example

# 4. An SMTP AUTH user relays from an untrusted address. swaks sends
#    XCLIENT, EHLO again (XCLIENT resets the session), then AUTH.
id4=$(test_id)
smtp_send "$T/4.out" --xclient-addr "$UNTRUSTED" --from "$FROM" \
    --auth PLAIN --auth-user "$SASL_USER" --auth-password "$SASL_PASS" \
    --to user@elsewhere.example --header "X-Test-Id: $id4"
check "authenticated relay: AUTH PLAIN succeeds" \
    reply_after "$T/4.out" "AUTH PLAIN" "^235 "
check "authenticated relay: RCPT accepted" \
    reply_after "$T/4.out" "RCPT TO:<user@elsewhere.example>" "^250 "
check "authenticated relay: arrives" arrived_for "$id4" user@elsewhere.example
check "authenticated relay: postfix saw the SASL login" \
    pf_log_wait_str "client=unknown[$UNTRUSTED], sasl_method=PLAIN, sasl_username=$SASL_USER@"

# 5. Routed recipients from an untrusted client, in one transaction with
#    one good recipient: only that one gets the message.
id5=$(test_id)
smtp_send "$T/5.out" --xclient-addr "$UNTRUSTED" --from "$FROM" \
    --to 'user%elsewhere.example@example.org,user!elsewhere.example@example.org,"user@elsewhere.example"@example.org,@example.org:user@elsewhere.example,ok@example.org' \
    --header "X-Test-Id: $id5"
check "percent hack rejected: 554 with the shipped text" \
    reply_after "$T/5.out" "RCPT TO:<user%elsewhere.example@example.org>" \
    "^554 5\.7\.1 <user%elsewhere\.example@example\.org>: Relay access denied$"
check "percent hack: postfix logs milter-reject" \
    pf_log_wait_str "milter-reject: RCPT from unknown[$UNTRUSTED]: 554 5.7.1 <user%elsewhere.example@example.org>: Relay access denied; from=<$FROM> to=<user%elsewhere.example@example.org>"
check "bang path rejected" \
    reply_after "$T/5.out" "RCPT TO:<user!elsewhere.example@example.org>" \
    "^554 5\.7\.1 <user!elsewhere\.example@example\.org>: Relay access denied$"
# These two must meet the routed-recipient rule (the shipped text, which
# ends in "denied"), not the plain relay rule (our text). Postfix hands
# the source route to the milter as sent.
check "quoted @ in the local part rejected" \
    reply_after "$T/5.out" 'RCPT TO:<"user@elsewhere.example"@example.org>' \
    "^554 5\.7\.1 <.*>: Relay access denied$"
check "source route rejected" \
    reply_after "$T/5.out" "RCPT TO:<@example.org:user@elsewhere.example>" \
    "^554 5\.7\.1 <.*>: Relay access denied$"
check "routed recipients: the good recipient accepted" \
    reply_after "$T/5.out" "RCPT TO:<ok@example.org>" "^250 "
check "routed recipients: only ok@example.org gets the message" arrived_for "$id5" ok@example.org

# 6. mxguard down: postfix (milter_default_action = tempfail) answers 451
#    at MAIL FROM and queues nothing; mail flows again once it is back.
stop_mxguard
check "mxguard stops" wait_for 10 mxguard_gone
id6=$(test_id)
smtp_send "$T/6.out" --xclient-addr "$UNTRUSTED" --from "$FROM" \
    --to user@example.org --header "X-Test-Id: $id6"
check "mxguard down: EHLO still answered" reply_after "$T/6.out" "EHLO" "^250"
check "mxguard down: 451 4.7.1 at MAIL FROM" \
    reply_after "$T/6.out" "MAIL FROM:" "^451 4\.7\.1 "
check "mxguard down: postfix logs the failed milter connection" \
    pf_log_wait_str "connect to Milter service unix:$MXG_SOCK"
check "mxguard down: nothing reaches the sink" never_arrives "$id6"

start_mxguard "$R/gateway.rules" "$GATEWAY_DNS" || setup_failed "mxguard did not start again"
check "mxguard back: listening" wait_for 10 unix_listening "$MXG_SOCK"
check "mxguard back: the filter runs as user mxguard" filter_runs_as mxguard
id7=$(test_id)
smtp_send "$T/7.out" --xclient-addr "$UNTRUSTED" --from "$FROM" \
    --to user@example.org --header "X-Test-Id: $id7"
check "mxguard back: mail to a local domain arrives" arrived_for "$id7" user@example.org
id8=$(test_id)
smtp_send "$T/8.out" --xclient-addr "$UNTRUSTED" --from "$FROM" \
    --to user@elsewhere.example --header "X-Test-Id: $id8"
check "mxguard back: relay refused again" \
    reply_is "$T/8.out" "554 5.7.1 <user@elsewhere.example>: $RELAY_TEXT"

finish
