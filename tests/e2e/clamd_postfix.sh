#!/bin/bash
# clamd_postfix.sh: the virus scanner end to end. The shipped gateway rules
# behind a private postfix, mxguard with --clamd on a private clamd whose
# one signature (tests/lib/clamd.sh) is the EICAR test string:
# - a message from outside carrying EICAR inside a zip attachment is
#   refused at end of data, 554 5.7.1 with the virus's name, and not
#   delivered; a clean one with a zip is delivered; our own users' mail is
#   not scanned ([auth-exempt] comes first);
# - clamd stopped: the shipped "on-error skip" delivers (unscanned), and
#   the same rules with "on-error tempfail" answer 451 4.3.0 and deliver
#   nothing; clamd back: EICAR is refused again;
# - rules that read virus.* and nothing of the message else (no DKIM, no
#   header rules): mxguard still asks postfix for the headers and body.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
. "$SRCDIR/tests/lib/dns.sh"
. "$SRCDIR/tests/lib/clamd.sh"
need_postfix
need_nsd
need_clamd
PY=/usr/bin/python3
[ -x "$PY" ] || skip "needs /usr/bin/python3"

R="$T/rules"
copy_gateway_rules "$R"
grep -q '^clamd { on-error skip; }$' "$R/gateway.rules" ||
    setup_failed "the shipped gateway rules' clamd block is not the one this test switches"
sed 's/^clamd { on-error skip; }$/clamd { on-error tempfail; }/' "$R/gateway.rules" >"$R/tempfail.rules"
"$MXGUARD" -n -c "$R/gateway.rules" --clamd "unix:$CLAMD_SOCK" >"$T/check.out" 2>&1 ||
    { cat "$T/check.out"; setup_failed "rules do not load"; }

start_clamd || setup_failed "clamd did not start"
start_gateway_dns || setup_failed "nsd did not start"
CLAMD_OPTS=(--clamd "unix:$CLAMD_SOCK" --clamd-timeout 5000)
start_mxguard "$R/gateway.rules" "$GATEWAY_DNS" "${CLAMD_OPTS[@]}" || setup_failed "mxguard did not start"
start_sink || setup_failed "smtp-sink did not start"
start_postfix "unix:$MXG_SOCK" || setup_failed "postfix did not start"

# message FILE ID CONTENT: a multipart message with a zip attachment holding
# one member of CONTENT (eicar: the EICAR string), X-Test-Id: ID.
message() {
    EICAR="$EICAR" "$PY" - "$1" "$2" "$3" <<'PYEOF'
import base64, io, os, sys, zipfile
path, test_id, what = sys.argv[1:4]
data = os.environ["EICAR"].encode() if what == "eicar" else b"quarterly figures\n" * 20
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("report.txt", data)  # not a program: the virus rule, not [exe-in-archive], decides
b64 = base64.encodebytes(buf.getvalue()).decode().replace("\n", "\r\n")
msg = ("From: someone@outside.example\r\nTo: user@example.org\r\nSubject: the report\r\n"
       "X-Test-Id: %s\r\nMIME-Version: 1.0\r\n"
       "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
       "--b1\r\nContent-Type: text/plain\r\n\r\nThe report is attached.\r\n"
       "--b1\r\nContent-Type: application/zip; name=\"report.zip\"\r\n"
       "Content-Disposition: attachment; filename=\"report.zip\"\r\n"
       "Content-Transfer-Encoding: base64\r\n\r\n%s--b1--\r\n") % (test_id, b64)
open(path, "w", newline="").write(msg)
PYEOF
}

# send N CLIENT CONTENT: one message from CLIENT; transcript $T/N.out, id in ID_N.
send() {
    local id
    id=$(test_id)
    eval "ID_$1=$id"
    message "$T/$1.eml" "$id" "$3"
    smtp_send "$T/$1.out" --xclient-addr "$2" --from someone@outside.example --to user@example.org \
        --data "$T/$1.eml"
}
end_reply() { reply_after "$T/$1.out" "." "$2"; }

send 1 203.0.113.7 eicar
check "EICAR in a zip from outside: 554 5.7.1 with the virus's name" \
    end_reply 1 "^554 5\.7\.1 Virus found: $EICAR_NAME$"
check "... and not delivered" sink_never_got "$ID_1"
check "... mxguard logs the deciding rule" wait_for 5 grep -q "rule=.*virus" "$MXG_LOG"
check "... its record names the virus" \
    wait_for 5 grep -q "record=message .* virus=found virus.name=$EICAR_NAME" "$MXG_LOG"
send 2 203.0.113.7 clean
check "a clean zip from outside: accepted" end_reply 2 "^250 "
check "... and delivered" sink_wait_for "$ID_2" 15
check "... its record says clean" wait_for 5 grep -q "record=message .* virus=clean" "$MXG_LOG"
send 3 127.0.0.1 eicar
check "our own users' mail is not scanned ([auth-exempt] first): accepted" end_reply 3 "^250 "
check "... and delivered" sink_wait_for "$ID_3" 15

# clamd down: the shipped on-error skip lets mail through unscanned.
stop_clamd
send 4 203.0.113.7 eicar
check "clamd stopped, on-error skip: accepted unscanned" end_reply 4 "^250 "
check "... and delivered" sink_wait_for "$ID_4" 15

# The same rules with on-error tempfail: held for later, nothing delivered.
stop_mxguard
start_mxguard "$R/tempfail.rules" "$GATEWAY_DNS" "${CLAMD_OPTS[@]}" || setup_failed "mxguard did not restart"
send 5 203.0.113.7 clean
check "clamd stopped, on-error tempfail: 451 4.3.0" end_reply 5 "^451 4\.3\.0 "
check "... and not delivered" sink_never_got "$ID_5"
check "... the log says the clamd scan failed" wait_for 5 grep -q "clamd scan failed" "$MXG_LOG"
check "... and its record says why" wait_for 5 grep -q "record=message .* virus=error virus.name=" "$MXG_LOG"

start_clamd || setup_failed "clamd did not come back"
send 6 203.0.113.7 eicar
check "clamd back: EICAR refused again" end_reply 6 "^554 5\.7\.1 Virus found: $EICAR_NAME$"
send 7 203.0.113.7 clean
check "... and clean mail delivered" sink_wait_for "$ID_7" 15

# A rule file with the virus rule alone: the milter negotiation must still ask for headers and body.
cat >"$R/virus-only.rules" <<'RULES'
clamd { on-error tempfail; }
on eom { [virus] reject 554 5.7.1 "Virus found: %{virus.name}" if virus.found; }
RULES
stop_mxguard
start_mxguard "$R/virus-only.rules" "${CLAMD_OPTS[@]}" || setup_failed "mxguard did not start on virus-only.rules"
send 8 203.0.113.7 eicar
check "virus rule alone: EICAR in a zip refused (headers and body were asked for)" \
    end_reply 8 "^554 5\.7\.1 Virus found: $EICAR_NAME$"
send 9 203.0.113.7 clean
check "... a clean message delivered" sink_wait_for "$ID_9" 15
finish
