#!/bin/bash
# mta_parity.sh: the shipped gateway rules give the same verdicts through
# postfix and through sendmail. One mxguard (one copy of
# rules/examples/ and its list files) is the milter of a private postfix
# 3.7 and a private sendmail 8.17 (tests/lib/postfix.sh, sendmail.sh)
# at once; both relay what they accept to one smtp-sink. Every scenario
# of the table below runs through each MTA with the same swaks client
# (the outside client is bound to 127.0.0.2, the trusted one is
# 127.0.0.1, in both), and what the client saw is reduced to a verdict:
# one line per command with the reply (code, enhanced code and, for a
# refusal, the text; an MTA's own wording of an acceptance is left out),
# whether and for whom the message was delivered, the
# Authentication-Results and Received-SPF headers mxguard stamped on it,
# and the decisions mxguard logged (stage, rule label, action; effects).
# Each verdict must equal the scenario's expected one, and the two MTAs'
# verdicts must equal each other: a difference is printed line by line.
#
# Then what only one MTA has: postfix's XCLIENT and its log, sendmail's
# queue id at MAIL FROM, its Received header, F=T for the trusted client,
# and that the system's MTA and /etc stay untouched.

. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
. "$SRCDIR/tests/lib/dns.sh"
. "$SRCDIR/tests/lib/sendmail.sh"

need_both_mtas
need_cmd saslpasswd2
need_cmd openssl
need_nsd

MTAS="postfix sendmail"
ID=mx.gateway.test
OUTSIDE=127.0.0.2
FROM=sender@outside.example

# --- verdicts -------------------------------------------------------------------

# verdict_of TRANSCRIPT [own]: what the client saw, one line a command:
# "COMMAND => REPLY". An acceptance (2xx, 3xx) is its code and enhanced
# code: the wording is the MTA's. A refusal (4xx, 5xx) is code, enhanced
# code and text, every line of it: that is mxguard's (the rule's). With
# "own", a refusal is the MTA's own (mxguard is unreachable) and only its
# class is kept. AUTH, which mxguard never sees, is its code alone
# (postfix says 235 2.7.0, sendmail 235 2.0.0) without the credentials.
verdict_of() {
    awk -v own="${2:-}" '
        function flush(   c) {
            c = substr(code, 1, 1)
            if (auth)
                print cmd " => " code
            else if (c == "2" || c == "3")
                print cmd " => " code (enh != "" ? " " enh : "")
            else if (own != "")
                print cmd " => " c "xx (the MTA'"'"'s own reply)"
            else
                print cmd " => " text
            code = ""; text = ""; enh = ""
        }
        BEGIN { cmd = "CONNECT" }
        /^ -> / {
            cmd = substr($0, 5)
            if (cmd ~ /^AUTH /) { split(cmd, w, " "); cmd = "AUTH " w[2]; auth = 1 } else auth = 0
            next
        }
        /^<(-|\*\*) / {
            line = $0; sub(/^<(-|\*\*) +/, "", line)
            if (code == "") {
                code = substr(line, 1, 3)
                split(substr(line, 5), w, " ")
                if (w[1] ~ /^[245]\.[0-9]+\.[0-9]+$/) enh = w[1]
                text = code " " substr(line, 5)
            } else
                text = text " | " substr(line, 5)
            if (substr(line, 4, 1) != "-") flush()
        }' "$1"
}

# decisions_since N: mxguard's decisions logged after line N of its log,
# one a line: "mxguard: STAGE [RCPT] RULE ACTION" for a stage's verdict and
# "mxguard: RULE EFFECT" for a header edit at end of message (the rule by
# its label; the client's name, which the MTAs give differently, left out).
decisions_since() {
    tail -n +"$(($1 + 1))" "$MXG_LOG" | sed -En \
        -e 's/.* stage=([a-z]+) (rcpt=(<[^> ]*>|"([^"\\]|\\.)*") )?rule=[^ ]*(\[[^]]*\]|default) action=([a-z]+).*/mxguard: \1 \2\5 \6/p' \
        -e 's/.* qid=[^ ]+ client=[^ ]+ rule=[^ ]*(\[[^]]*\]) effect=([a-z-]+) .*/mxguard: \1 \2/p'
}

mxg_log_lines() { wc -l <"$MXG_LOG"; }

# headers_of FILE: the header of a delivered message, unfolded, one a line.
headers_of() {
    sed -n '1,/^\r\{0,1\}$/p' "$1" | tr -d '\r' | sed -e ':a' -e '$!N;s/\n[ \t]\+/ /;ta' -e 'P;D'
}

# delivery_of MTA ID: whether and for whom the message was delivered, and
# what mxguard stamped on it: its Authentication-Results and Received-SPF
# headers, and which header fields stand above the MTA's Received header
# (the smtp-sink's own X- fields and Received header left out).
delivery_of() {
    local mta=$1 id=$2 files f rcpts
    wait_for 15 mta_queue_empty "$mta" || echo "queue of $mta not drained"
    files=$(sink_files_with "$id")
    if [ -z "$files" ]; then
        echo "not delivered"
        return
    fi
    rcpts=""
    for f in $files; do
        rcpts="$rcpts $(sed -n 's/^X-Rcpt-Args: \(<[^>]*>\).*/\1/p' "$f")"
    done
    echo "delivered to$rcpts"
    f=$(echo "$files" | head -n 1)
    headers_of "$f" | awk '
        /^X-(Client|Helo|Mail|Rcpt)-/ { next }
        /^Received: .* by smtp-sink / { next }
        { n = $0; sub(/:.*/, "", n); order = order " " n }
        /^Received:/ { print "above the MTA'"'"'s Received:" order; exit }'
    headers_of "$f" | grep -E "^(Authentication-Results: $ID;|Received-SPF: )" | sed 's/[[:space:]]\+/ /g'
}

# mta_send MTA OUTFILE [swaks options...]: one SMTP session with MTA.
mta_send() {
    local mta=$1 out=$2 port
    shift 2
    case $mta in
    postfix) port=$PF_PORT ;;
    sendmail) port=$SM_PORT ;;
    esac
    swaks --server 127.0.0.1 --port "$port" --timeout 30 "$@" >"$out" 2>&1 </dev/null
}

mta_queue_empty() {
    case $1 in
    postfix) pf_queue_empty ;;
    sendmail) sm_queue_empty ;;
    esac
}

mxguard_gone() {
    pid_gone "$MXG_PID" && ! unix_listening "$MXG_SOCK"
}

filter_runs_as() {
    local pid user
    pid=$(filter_pid)
    user=$(ps -o user= -p "${pid:-0}" 2>/dev/null | tr -d ' ')
    [ "$user" = "$1" ] && return 0
    echo "# filter process '${pid:-none}' runs as '${user:-?}', expected $1"
    return 1
}

mxg_log_has() {
    wait_for 5 contains "$MXG_LOG" "$1" && return 0
    echo "# mxguard log has no line matching /$1/"
    show "$MXG_LOG" "mxguard log"
    return 1
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
    return 1
}

# sys_state: the system's MTA (postfix's sendmail(1)) and /etc.
sys_state() {
    local f
    for f in /usr/sbin/sendmail /usr/lib/sendmail /etc/nsswitch.conf /etc/hosts; do
        if [ -e "$f" ]; then echo "$f $(readlink -f "$f") $(md5sum <"$f")"; else echo "$f absent"; fi
    done
    ls -la /etc/mail 2>&1 | head -n 3
    ls -la /etc/postfix 2>/dev/null | md5sum
}

system_untouched() {
    sys_state >"$T/sys-after"
    if ! cmp -s "$T/sys-before" "$T/sys-after"; then
        echo "# the system's MTA or /etc changed:"
        diff "$T/sys-before" "$T/sys-after" | sed 's/^/#   /'
        return 1
    fi
    # sendmail's namespace and its bind mounts did not leak into ours.
    if grep -E ' /etc/(nsswitch\.conf|hosts) ' /proc/self/mountinfo | grep -qF "$T"; then
        echo "# a bind mount of the test is visible outside sendmail's namespace"
        return 1
    fi
    return 0
}

# same_as EXPECTED GOT: the files are equal; else the difference.
same_as() {
    cmp -s "$1" "$2" && return 0
    diff -u "$1" "$2" | sed 's/^/#   /'
    return 1
}

# scenario NAME [own] -- SWAKS_OPTIONS... <<EXPECTED: run one session
# with every MTA (the same options; --helo client.mxguard.test unless
# given, a fresh X-Test-Id header) and compare each verdict with the
# expected one (stdin) and the MTAs' verdicts with each other. An
# expected line "postfix| ..." or "sendmail| ..." holds for that MTA only:
# a declared difference, printed but not a failure. Transcripts and
# verdicts stay in $T/s/NAME.MTA.out and $T/s/NAME.MTA.
scenario() {
    local name=$1 own="" mta id first="" n
    shift
    [ "$1" = own ] && { own=own; shift; }
    [ "$1" = -- ] && shift
    mkdir -p "$T/s"
    cat >"$T/s/$name.expected"
    case " $* " in *" --helo "*) ;; *) set -- --helo client.mxguard.test "$@" ;; esac
    for mta in $MTAS; do
        id=$(test_id)
        echo "$id" >"$T/s/$name.$mta.id"
        n=$(mxg_log_lines)
        mta_send "$mta" "$T/s/$name.$mta.out" "$@" --header "X-Test-Id: $id"
        { verdict_of "$T/s/$name.$mta.out" $own; delivery_of "$mta" "$id"; decisions_since "$n"; } \
            >"$T/s/$name.$mta"
        sed -En "/^[a-z]+\| /!p; s/^$mta\| //p" "$T/s/$name.expected" >"$T/s/$name.$mta.expected"
    done
    for mta in $MTAS; do
        check "$name: $mta gives the expected verdict" same_as "$T/s/$name.$mta.expected" "$T/s/$name.$mta"
        [ -n "$first" ] || { first=$mta; continue; }
        if grep -Eq '^[a-z]+\| ' "$T/s/$name.expected"; then
            echo "# $name: $first and $mta differ as declared:"
            diff "$T/s/$name.$first" "$T/s/$name.$mta" | sed -n 's/^[<>].*/#   &/p'
        else
            check "$name: $first and $mta give the same verdict" same_as "$T/s/$name.$first" "$T/s/$name.$mta"
        fi
    done
}

sys_state >"$T/sys-before"

# --- the rules: one copy of the shipped gateway rules for both MTAs ---------
# Trusted networks: 127.0.0.1/32 instead of 127.0.0.0/8, so that 127.0.0.2
# is outside for both MTAs; 198.51.100.0/24 joins them for postfix's
# XCLIENT checks (no sendmail client has that address). The final relay
# reject gets a text of our own with a literal percent sign (mxguard
# doubles it for libmilter; both MTAs must show one).
R="$T/rules"
copy_gateway_rules "$R"
sed -i -E 's|^127\.0\.0\.0/8[[:space:]]*$|127.0.0.1/32|' "$R/trusted-networks"
echo "198.51.100.0/24" >>"$R/trusted-networks"
grep -qx '127.0.0.1/32' "$R/trusted-networks" && ! grep -q '^127\.0\.0\.0/8' "$R/trusted-networks" ||
    setup_failed "rules/examples/trusted-networks has no line 127.0.0.0/8 to narrow (update this test)"
RELAY_TEXT="Relay access denied (mxguard e2e $$: 100% local policy)"
sed -i -E 's/^([[:space:]]*\[relay-denied\] reject 554 5\.7\.1 "<%\{recipient\}>: )Relay access denied";$/\1Relay access denied (mxguard e2e '"$$"': 100%% local policy)";/' \
    "$R/gateway.rules"
chmod -R u=rwX,go=rX "$R"
[ "$(grep -c "mxguard e2e $$" "$R/gateway.rules")" = 1 ] ||
    setup_failed "the final relay reject in rules/examples/gateway.rules is not the line this test edits"
"$MXGUARD" -n -c "$R/gateway.rules" >"$T/check.out" 2>&1 ||
    { show "$T/check.out" "mxguard -n"; setup_failed "the rule copy does not load or its tests fail"; }

# --- DNS: SPF for the senders of the table, a DKIM key for outside.example ---
mkdir -m 700 "$T/keys"
(umask 077; openssl genrsa -out "$T/keys/sel.pem" 2048 2>/dev/null)
KEY_TXT=$(openssl rsa -in "$T/keys/sel.pem" -pubout -outform DER 2>/dev/null | base64 -w0 | fold -w 200 |
          sed 's/.*/"&"/' | tr '\n' ' ')
dns_zone example. <<ZONE
fail            TXT  "v=spf1 ip4:192.0.2.1 -all exp=why.fail.example"
why.fail        TXT  "Mail from %{d} never comes from %{i}"
sel._domainkey.outside TXT "v=DKIM1; k=rsa; p=" $KEY_TXT
ZONE
start_gateway_dns || setup_failed "nsd did not start"

# --- start everything ---------------------------------------------------------
start_mxguard "$R/gateway.rules" "$GATEWAY_DNS" --authserv-id "$ID" -v || setup_failed "mxguard did not start"
start_sink || setup_failed "smtp-sink did not start"
start_postfix "unix:$MXG_SOCK" || setup_failed "postfix did not start"
start_sendmail "unix:$MXG_SOCK" || setup_failed "sendmail did not start"
SASL_USER="relayer"
SASL_PASS="pw-$$-$RANDOM"
pf_add_sasl_user "$SASL_USER" "$SASL_PASS" || setup_failed "saslpasswd2 failed (postfix)"
sm_add_sasl_user "$SASL_USER" "$SASL_PASS" || setup_failed "saslpasswd2 failed (sendmail)"
echo "# mxguard on $MXG_SOCK, postfix on 127.0.0.1:$PF_PORT, sendmail on 127.0.0.1:$SM_PORT, smtp-sink on 127.0.0.1:$SINK_PORT"

# --- the table ------------------------------------------------------------------
ACCEPT_HEAD="CONNECT => 220
EHLO client.mxguard.test => 250"
AR_NONE="Authentication-Results: $ID; spf=none smtp.mailfrom=$FROM; dkim=none; dmarc=none header.from=${FROM#*@}"
SPF_NONE="Received-SPF: none ($ID: domain of $FROM does not provide an SPF record) client-ip=$OUTSIDE; envelope-from=\"$FROM\"; helo=client.mxguard.test; receiver=$ID; identity=mailfrom;"
# A message sent and accepted; delivered with or without mxguard's stamps.
SENT="DATA => 354
. => 250 2.0.0
QUIT => 221 2.0.0"
STAMPED="above the MTA's Received: Received-SPF Authentication-Results Received
$SPF_NONE
$AR_NONE"
UNSTAMPED="above the MTA's Received: Received"
# mxguard's end of message for mail it stamps.
EOM_STAMPS="mxguard: eom default continue
mxguard: [auth-results] authentication-results
mxguard: [spf-header] received-spf"

scenario relay-denied -- --local-interface "$OUTSIDE" --from "$FROM" --to user@elsewhere.example <<EOF
$ACCEPT_HEAD
MAIL FROM:<$FROM> => 250 2.1.0
RCPT TO:<user@elsewhere.example> => 554 5.7.1 <user@elsewhere.example>: $RELAY_TEXT
QUIT => 221 2.0.0
not delivered
mxguard: helo default continue
mxguard: mail default continue
mxguard: rcpt rcpt=<user@elsewhere.example> [relay-denied] reject
EOF

scenario local-domain -- --local-interface "$OUTSIDE" --from "$FROM" --to user@example.org <<EOF
$ACCEPT_HEAD
MAIL FROM:<$FROM> => 250 2.1.0
RCPT TO:<user@example.org> => 250 2.1.5
$SENT
delivered to <user@example.org>
$STAMPED
mxguard: helo default continue
mxguard: mail default continue
mxguard: rcpt rcpt=<user@example.org> [local] continue
$EOM_STAMPS
EOF

# The trusted client (127.0.0.1) relays; its mail is not SPF-checked.
scenario trusted-relay -- --from "$FROM" --to user@elsewhere.example <<EOF
$ACCEPT_HEAD
MAIL FROM:<$FROM> => 250 2.1.0
RCPT TO:<user@elsewhere.example> => 250 2.1.5
$SENT
delivered to <user@elsewhere.example>
$UNSTAMPED
mxguard: helo [trusted-helo] continue
mxguard: mail [our-users] continue
mxguard: rcpt rcpt=<user@elsewhere.example> [trusted] continue
mxguard: eom [auth-exempt] continue
EOF

# An SMTP AUTH user relays from outside. The rules test "authenticated";
# auth.user would differ: "relayer" behind sendmail, "relayer@mxguard.test"
# behind postfix (checked below).
scenario auth-relay -- --local-interface "$OUTSIDE" --from "$FROM" \
    --auth PLAIN --auth-user "$SASL_USER" --auth-password "$SASL_PASS" --to user@elsewhere.example <<EOF
$ACCEPT_HEAD
AUTH PLAIN => 235
MAIL FROM:<$FROM> => 250 2.1.0
RCPT TO:<user@elsewhere.example> => 250 2.1.5
$SENT
delivered to <user@elsewhere.example>
$UNSTAMPED
mxguard: helo default continue
mxguard: mail [our-users] continue
mxguard: rcpt rcpt=<user@elsewhere.example> [authenticated] continue
mxguard: eom [auth-exempt] continue
EOF

scenario sender-rejected -- --local-interface "$OUTSIDE" --from ceo@example.org --to user@example.org <<EOF
$ACCEPT_HEAD
MAIL FROM:<ceo@example.org> => 554 5.7.1 <ceo@example.org>: you are not one of our users
QUIT => 221 2.0.0
not delivered
mxguard: helo default continue
mxguard: mail [sender-impersonation] reject
EOF

# A refused HELO: both MTAs answer the EHLO itself with 250 and give the
# rule's reply to every later command (postfix keeps it for MAIL FROM,
# sendmail turns the session into a "null server"). (mxguard's
# --test-session and the rule file's own tests show it at the HELO.)
scenario helo-impersonation -- --local-interface "$OUTSIDE" --helo mx.example.org --from "$FROM" --to user@example.org <<EOF
CONNECT => 220
EHLO mx.example.org => 250
MAIL FROM:<$FROM> => 554 5.7.1 HELO/EHLO mx.example.org: you are not us
QUIT => 221 2.0.0
not delivered
mxguard: helo [helo-impersonation] reject
EOF

scenario helo-syntax -- --local-interface "$OUTSIDE" --helo bad_name.example --from "$FROM" --to user@example.org <<EOF
CONNECT => 220
EHLO bad_name.example => 250
MAIL FROM:<$FROM> => 501 5.5.2 Syntax error in HELO/EHLO bad_name.example
QUIT => 221 2.0.0
not delivered
mxguard: helo [helo-syntax] reject
EOF

# A declared difference: sendmail refuses a HELO argument with characters
# outside letters, digits and "[].-_#:" itself, before the milter hears
# of it (and swaks falls back to HELO, refused the same way).
scenario helo-bad-chars -- --local-interface "$OUTSIDE" --helo 'bad!name.example' --from "$FROM" --to user@example.org <<EOF
CONNECT => 220
postfix| EHLO bad!name.example => 250
postfix| MAIL FROM:<$FROM> => 501 5.5.2 Syntax error in HELO/EHLO bad!name.example
sendmail| EHLO bad!name.example => 501 5.0.0 Invalid domain name
sendmail| HELO bad!name.example => 501 5.0.0 Invalid domain name
QUIT => 221 2.0.0
not delivered
postfix| mxguard: helo [helo-syntax] reject
EOF

scenario helo-not-fqdn -- --local-interface "$OUTSIDE" --helo client --from "$FROM" --to user@example.org <<EOF
CONNECT => 220
EHLO client => 250
MAIL FROM:<$FROM> => 554 5.7.1 HELO/EHLO client is not a fully qualified host name
QUIT => 221 2.0.0
not delivered
mxguard: helo default continue
mxguard: mail [helo-not-fqdn] reject
EOF

scenario helo-bare-ip -- --local-interface "$OUTSIDE" --helo "$OUTSIDE" --from "$FROM" --to user@example.org <<EOF
CONNECT => 220
EHLO $OUTSIDE => 250
MAIL FROM:<$FROM> => 554 5.7.1 HELO/EHLO $OUTSIDE: use an address literal like [$OUTSIDE]
QUIT => 221 2.0.0
not delivered
mxguard: helo default continue
mxguard: mail [helo-bare-ip] reject
EOF

scenario helo-mismatch -- --local-interface "$OUTSIDE" --helo '[198.51.100.9]' --from "$FROM" --to user@example.org <<EOF
CONNECT => 220
EHLO [198.51.100.9] => 250
MAIL FROM:<$FROM> => 554 5.7.1 HELO/EHLO [198.51.100.9] is not your address
QUIT => 221 2.0.0
not delivered
mxguard: helo default continue
mxguard: mail [helo-mismatch] reject
EOF

# Routed recipients in one transaction with one good recipient: only
# that one gets the message. Both MTAs hand the source route to mxguard
# as sent; the reply names the recipient without it.
scenario routing -- --local-interface "$OUTSIDE" --from "$FROM" \
    --to 'user%elsewhere.example@example.org,user!elsewhere.example@example.org,"user@elsewhere.example"@example.org,@example.org:user@elsewhere.example,ok@example.org' <<EOF
$ACCEPT_HEAD
MAIL FROM:<$FROM> => 250 2.1.0
RCPT TO:<user%elsewhere.example@example.org> => 554 5.7.1 <user%elsewhere.example@example.org>: Relay access denied
RCPT TO:<user!elsewhere.example@example.org> => 554 5.7.1 <user!elsewhere.example@example.org>: Relay access denied
RCPT TO:<"user@elsewhere.example"@example.org> => 554 5.7.1 <"user@elsewhere.example"@example.org>: Relay access denied
RCPT TO:<@example.org:user@elsewhere.example> => 554 5.7.1 <user@elsewhere.example>: Relay access denied
RCPT TO:<ok@example.org> => 250 2.1.5
$SENT
delivered to <ok@example.org>
$STAMPED
mxguard: helo default continue
mxguard: mail default continue
mxguard: rcpt rcpt=<user%elsewhere.example@example.org> [routed] reject
mxguard: rcpt rcpt=<user!elsewhere.example@example.org> [routed] reject
mxguard: rcpt rcpt="<\\"user@elsewhere.example\\"@example.org>" [routed] reject
mxguard: rcpt rcpt=<@example.org:user@elsewhere.example> [routed] reject
mxguard: rcpt rcpt=<ok@example.org> [local] continue
$EOM_STAMPS
EOF

# SPF fail at end of message: refused with the domain's explanation.
scenario spf-fail -- --local-interface "$OUTSIDE" --from sender@fail.example --to user@example.org <<EOF
$ACCEPT_HEAD
MAIL FROM:<sender@fail.example> => 250 2.1.0
RCPT TO:<user@example.org> => 250 2.1.5
DATA => 354
. => 550 5.7.23 SPF: fail.example does not allow $OUTSIDE to send its mail Mail from fail.example never comes from $OUTSIDE
QUIT => 221 2.0.0
not delivered
mxguard: helo default continue
mxguard: mail default continue
mxguard: rcpt rcpt=<user@example.org> [local] continue
mxguard: eom [spf-fail] reject
EOF

# DKIM c=simple/simple over fields without exactly one space after the
# colon: both MTAs offer SMFIP_HDR_LEADSPC, mxguard takes it and sees the
# fields as they were signed (with one space guessed back they failed).
for mta in $MTAS; do
    id=$(test_id)
    printf 'From: Sender <%s>\nTo:user@example.org\nSubject:  spaced\nCc:\tcc@example.org\n' "$FROM" >"$T/lead.$mta.eml"
    printf 'Date: Sun, 06 Dec 2026 12:00:00 +0000\nMessage-ID: <%s@outside.example>\nX-Test-Id: %s\n\nSimple.\n' \
        "$id" "$id" >>"$T/lead.$mta.eml"
    "$BUILDDIR/tests/dkim/dkim_sign" -k "$T/keys/sel.pem" -s sel -d outside.example -c simple \
        "$T/lead.$mta.eml" >"$T/lead.$mta.signed" 2>"$T/sign.err" || { cat "$T/sign.err"; setup_failed "dkim_sign failed"; }
    mta_send "$mta" "$T/lead.$mta.out" --local-interface "$OUTSIDE" --helo client.mxguard.test --from "$FROM" \
        --to user@example.org --data "$T/lead.$mta.signed"
    delivery_of "$mta" "$id" >"$T/lead.$mta.delivery"
    sed 's/^/#   /' "$T/lead.$mta.delivery"
    check "c=simple over To:, Subject: and Cc: without one space: $mta delivers, dkim=pass" \
        contains "$T/lead.$mta.delivery" "^Authentication-Results: $ID; spf=none smtp\.mailfrom=$FROM; dkim=pass header\.d=outside\.example header\.s=sel "
done

check "mxguard logs the relay refusal for [127.0.0.2] by [relay-denied]" \
    mxg_log_has "client=unknown\[$OUTSIDE\] stage=rcpt rcpt=<user@elsewhere\.example> rule=[^ ]*:[0-9]+\[relay-denied\] action=reject"

# --- what only postfix has --------------------------------------------------------
check "the filter process runs as user mxguard" filter_runs_as mxguard
check "postfix: the relay refusal is logged as milter-reject with mxguard's text" \
    pf_log_wait_str "NOQUEUE: milter-reject: RCPT from unknown[$OUTSIDE]: 554 5.7.1 <user@elsewhere.example>: $RELAY_TEXT; from=<$FROM> to=<user@elsewhere.example>"
check "postfix: the SASL login carries the realm (auth.user = $SASL_USER@mxguard.test)" \
    pf_log_wait_str "client=unknown[$OUTSIDE], sasl_method=PLAIN, sasl_username=$SASL_USER@mxguard.test"
pf_qid=$(sed -En 's/^<-  250 2\.0\.0 Ok: queued as ([A-F0-9]+)$/\1/p' "$T/s/local-domain.postfix.out")
check "postfix: the queue id (i) is first known at end of message, not at MAIL FROM" \
    eval 'mxg_log_has "qid=${pf_qid:-none} client=[^ ]+ stage=eom " && not_contains "$MXG_LOG" "qid=${pf_qid:-none} client=[^ ]+ stage=(mail|rcpt) "'
# XCLIENT presents any client address: one outside, one in a trusted
# network that sendmail's clients cannot have.
id=$(test_id)
smtp_send "$T/xclient-out.out" --xclient-addr 203.0.113.7 --from "$FROM" \
    --to user@elsewhere.example --header "X-Test-Id: $id"
check "postfix XCLIENT 203.0.113.7: relay refused with the rule's text" \
    reply_is "$T/xclient-out.out" "554 5.7.1 <user@elsewhere.example>: $RELAY_TEXT"
check "postfix XCLIENT 203.0.113.7: milter-reject logged for the presented address" \
    pf_log_wait_str "NOQUEUE: milter-reject: RCPT from unknown[203.0.113.7]: 554 5.7.1"
check "postfix XCLIENT 203.0.113.7: nothing delivered" sink_never_got "$id"
id=$(test_id)
smtp_send "$T/xclient-trusted.out" --xclient-addr 198.51.100.7 --from "$FROM" \
    --to user@elsewhere.example --header "X-Test-Id: $id"
check "postfix XCLIENT 198.51.100.7 (a trusted network): relays" sink_wait_for "$id" 15
check "postfix XCLIENT 198.51.100.7: mxguard decided by [trusted]" \
    mxg_log_has "client=unknown\[198\.51\.100\.7\] stage=rcpt rcpt=<user@elsewhere\.example> rule=[^ ]*:[0-9]+\[trusted\] action=continue"

# --- what only sendmail has -------------------------------------------------------
check "sendmail: the queue id (i) is known at MAIL FROM" qid_known_at_mail "$T/s/local-domain.sendmail.out"
qid=$(accepted_qid "$T/s/local-domain.sendmail.out")
check "sendmail: its Received header, with that id, reaches the sink" \
    grep -qE "^	by mx\.mxguard\.test \(8\.17\.[0-9.]+/8\.17\.[0-9.]+\) with ESMTP id ${qid:-none}" \
    $(sink_files_with "$(cat "$T/s/local-domain.sendmail.id")" | head -n 1) /dev/null
check "sendmail: the trusted client is localhost[127.0.0.1] (its hosts file), rule [trusted]" \
    mxg_log_has "qid=[A-Za-z0-9]{14} client=localhost\[127\.0\.0\.1\] stage=rcpt rcpt=<user@elsewhere\.example> rule=[^ ]*:[0-9]+\[trusted\] action=continue"
check "sendmail: the authenticated relay was decided by [authenticated]" \
    mxg_log_has "qid=[A-Za-z0-9]{14} client=unknown\[$OUTSIDE\] stage=rcpt rcpt=<user@elsewhere\.example> rule=[^ ]*:[0-9]+\[authenticated\] action=continue"

# mxguard stopped: both MTAs (F=T; milter_default_action = tempfail)
# refuse at MAIL FROM with a 4xx of their own, for the trusted client
# too, and nothing is queued or delivered.
stop_mxguard
check "mxguard stops" wait_for 10 mxguard_gone
scenario milter-down own -- --local-interface "$OUTSIDE" --from "$FROM" --to user@example.org <<EOF
$ACCEPT_HEAD
MAIL FROM:<$FROM> => 4xx (the MTA's own reply)
QUIT => 221 2.0.0
not delivered
EOF
scenario milter-down-trusted own -- --from "$FROM" --to user@elsewhere.example <<EOF
$ACCEPT_HEAD
MAIL FROM:<$FROM> => 4xx (the MTA's own reply)
QUIT => 221 2.0.0
not delivered
EOF

check "mxguard down: postfix's own reply is 451 4.7.1 (milter_default_action = tempfail)" \
    reply_after "$T/s/milter-down.postfix.out" "MAIL FROM:" "^451 4\.7\.1 Service unavailable - try again later$"
check "mxguard down: postfix logs the failed milter connection" \
    pf_log_wait_str "connect to Milter service unix:$MXG_SOCK"
check "mxguard down: sendmail's own reply is 451 4.3.2 (F=T)" \
    reply_after "$T/s/milter-down.sendmail.out" "MAIL FROM:" "^451 4\.3\.2 Please try again later$"
check "mxguard down: sendmail gives the trusted client 451 4.3.2 too" \
    reply_after "$T/s/milter-down-trusted.sendmail.out" "MAIL FROM:" "^451 4\.3\.2 "

start_mxguard "$R/gateway.rules" "$GATEWAY_DNS" --authserv-id "$ID" -v || setup_failed "mxguard did not start again"
scenario mxguard-back -- --local-interface "$OUTSIDE" --from "$FROM" --to user@example.org,user@elsewhere.example <<EOF
$ACCEPT_HEAD
MAIL FROM:<$FROM> => 250 2.1.0
RCPT TO:<user@example.org> => 250 2.1.5
RCPT TO:<user@elsewhere.example> => 554 5.7.1 <user@elsewhere.example>: $RELAY_TEXT
$SENT
delivered to <user@example.org>
$STAMPED
mxguard: helo default continue
mxguard: mail default continue
mxguard: rcpt rcpt=<user@example.org> [local] continue
mxguard: rcpt rcpt=<user@elsewhere.example> [relay-denied] reject
$EOM_STAMPS
EOF
check "mxguard back: the filter runs as user mxguard" filter_runs_as mxguard
check "postfix 3.7 and sendmail 8.17 offer all mxguard needs: no notice at negotiation" \
    not_contains "$MXG_LOG" "the MTA (does not|cannot)"

# postfix with milter_protocol = 2 (a setting kept for old milters) cannot
# skip DATA or unknown commands (libmilter makes up for the missing
# no-reply steps): the log says so, once, and the verdicts stay.
pf_set milter_protocol=2 && pf_reload
check "postfix reloaded with milter_protocol = 2" pf_log_wait "reload -- version"
MTAS=postfix scenario postfix-protocol-2 -- --local-interface "$OUTSIDE" --from "$FROM" --to user@example.org,user@elsewhere.example <<EOF
$(cat "$T/s/mxguard-back.expected")
EOF
check "postfix milter_protocol = 2: the log says which steps it does not offer" \
    mxg_log_has "notice: the MTA cannot skip every step mxguard does not need \(it offers protocol steps 0x[0-9a-f]+, without 0x300;"

# Protocol 2 has no SMFIP_HDR_LEADSPC: postfix eats one space after the
# colon and mxguard puts one back for DKIM. "Subject:  spaced" still
# verifies; "To:user@example.org" cannot (mxguard(8) says so).
lead_v2() { # NAME TO-FIELD: send a c=simple message through postfix, print its delivery
    local id
    id=$(test_id)
    printf 'From: Sender <%s>\n%s\nSubject:  spaced\nMessage-ID: <%s@outside.example>\nX-Test-Id: %s\n\nSimple.\n' \
        "$FROM" "$2" "$id" "$id" >"$T/$1.eml"
    "$BUILDDIR/tests/dkim/dkim_sign" -k "$T/keys/sel.pem" -s sel -d outside.example -c simple \
        "$T/$1.eml" >"$T/$1.signed" 2>"$T/sign.err" || { cat "$T/sign.err"; return 1; }
    mta_send postfix "$T/$1.out" --local-interface "$OUTSIDE" --helo client.mxguard.test --from "$FROM" \
        --to user@example.org --data "$T/$1.signed"
    delivery_of postfix "$id" | tee "$T/$1.delivery" | sed 's/^/#   /'
}
lead_v2 v2-spaced "To: user@example.org"
check "postfix milter_protocol = 2: c=simple over \"Subject:  spaced\" still passes (one space put back)" \
    contains "$T/v2-spaced.delivery" "dkim=pass header\.d=outside\.example"
lead_v2 v2-nospace "To:user@example.org"
check "postfix milter_protocol = 2: c=simple over \"To:user@example.org\" cannot pass (the loss mxguard(8) names)" \
    contains "$T/v2-nospace.delivery" "dkim=fail "
check "postfix milter_protocol = 2: the log says header values do not come as sent, once" \
    sh -c "[ \$(grep -c 'notice: the MTA does not pass header values as sent (no SMFIP_HDR_LEADSPC' '$MXG_LOG') = 1 ]"

# Stopping leaves nothing behind, and nothing outside $T changed.
check "the sendmail queue is empty" sm_queue_empty
stop_sendmail
check "sendmail stopped: no process of it left, port closed" no_sendmail_left
check "the system's MTA and /etc are untouched" system_untouched

finish
