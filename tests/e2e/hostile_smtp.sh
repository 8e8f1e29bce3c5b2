#!/bin/bash
# hostile_smtp.sh: hostile SMTP clients through the private postfix to
# mxguard on the shipped gateway rules, DNS from nsd (issue 15): a HELO of
# 1,000 characters, NUL and 8-bit bytes in HELO and MAIL FROM (not UTF-8,
# and UTF-8 dressed as log fields), 500 recipients, 5,000 header fields, a
# 100 KB header line, a 50 MB body. A small raw-socket client (written
# below: swaks cannot send NUL bytes) presents an outside client with
# XCLIENT, from 203.0.113.N for the Nth session, and prints postfix's
# reply code to each command. For each session: the codes are the
# expected ones (postfix refusing first where it does, mxguard's rule
# where it decides), the same filter process serves throughout, its RSS
# stays flat-ish (printed), and its decision record parses by the log
# grammar into the real fields: one record a line, the HELO and sender as
# the filter got them (escaped in the line, intact when unescaped), no
# field the client injected; mxguard --summary reads every record.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
. "$SRCDIR/tests/lib/dns.sh"
need_postfix
need_nsd
need_cmd python3

BODY_MB=${HOSTILE_BODY_MB:-50}
cat >"$T/hsmtp.py" <<'PY'
# hsmtp.py PORT SCENARIO BODY_MB ADDR: one SMTP session with the
# scenario's hostile part; prints "step=code ..." (rcpts_ok=N for many
# recipients). Every read has a timeout.
import socket
import sys

# UTF-8 with what would be log fields if the log took them as they are.
HELO_UTF8 = b'b\xc3\xbccher\x01" rule=x action=accept.example'
FROM_UTF8 = b'<"b\xc3\xbc x=y\\" rule=z"@outside.example>'


def scenario(scen):
    helo, frm = b'mail.outside.example', b'<sender@outside.example>'
    rcpts = [b'<user@example.org>']
    headers = [b'From: <sender@outside.example>', b'To: <user@example.org>',
               b'Subject: hostile ' + scen.encode()]
    if scen == 'helo-long':
        helo = b'a' * 992 + b'.example'
    elif scen == 'helo-nul':
        helo = b'mail\x00x rule=ok.example'
    elif scen == 'helo-8bit':
        helo = b'b\xfccher\xff.example'  # not UTF-8
    elif scen == 'helo-utf8':
        helo = HELO_UTF8
    elif scen == 'from-nul':
        frm = b'<a\x00b@outside.example>'
    elif scen == 'from-8bit':
        frm = b'<b\xfc\xff@outside.example>'  # not UTF-8
    elif scen == 'from-utf8':
        frm = FROM_UTF8
    elif scen == 'rcpt500':
        rcpts = [b'<user%d@example.org>' % i for i in range(500)]
    elif scen == 'header5000':
        headers += [b'X-Hostile-%d: value %d' % (i, i) for i in range(5000)]
    elif scen == 'header100k':
        headers += [b'X-Long: ' + b'x' * 102400]
    return helo, frm, rcpts, headers


def main():
    port, scen, body_mb, addr = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    helo, frm, rcpts, headers = scenario(scen)
    s = socket.create_connection(('127.0.0.1', port), timeout=300)
    f = s.makefile('rb')
    out = []

    def reply():
        while True:
            line = f.readline()
            if not line:
                return 'closed'
            if line[3:4] != b'-':
                return line[:3].decode('latin-1')

    def cmd(name, line):
        s.sendall(line + b'\r\n')
        code = reply()
        out.append('%s=%s' % (name, code))
        return code

    reply()
    cmd('xclient', b'XCLIENT ADDR=' + addr.encode() + b' NAME=mail.outside.example')
    cmd('helo', b'HELO ' + helo)
    mail = cmd('mail', b'MAIL FROM:' + frm)
    ok = sum(cmd('rcpt', b'RCPT TO:' + r) == '250' for r in rcpts)
    if len(rcpts) > 1:
        out[:] = [o for o in out if not o.startswith('rcpt=')] + ['rcpts_ok=%d' % ok]
    if mail == '250' and ok and cmd('data', b'DATA') == '354':
        s.sendall(b'\r\n'.join(headers) + b'\r\n\r\n')
        line = b'y' * 998 + b'\r\n'
        for _ in range(body_mb if scen == 'body50m' else 0):
            s.sendall(line * 1024)  # about 1 MB
        s.sendall(b'hello\r\n.\r\n')
        out.append('eod=%s' % reply())
    try:
        cmd('quit', b'QUIT')
    except OSError:
        out.append('quit=closed')
    print(' '.join(out))


main()
PY

cat >"$T/fields.py" <<'PY'
# fields.py RECORDS: each session's record (logfields.py --records output),
# found by its client address 203.0.113.N, against what the session sent.
import json
import sys

recs = {}
for line in open(sys.argv[1], encoding='utf-8'):
    r = json.loads(line)
    if r.get('ip', '').startswith('203.0.113.'):
        recs.setdefault(int(r['ip'].rsplit('.', 1)[1]), []).append(r)
FROM = '<sender@outside.example>'
want = {  # N: (helo, from (None: no MAIL reached the filter), outcome, the deciding rule's label)
    1: ('mail.outside.example', FROM, 'accept', None),
    2: ('a' * 300 + '...', None, 'reject', 'helo-syntax'),  # cut at 300 bytes; refused at HELO: a connection record
    3: ('mail', FROM, 'reject', 'helo-not-fqdn'),
    4: ('-', FROM, 'reject', 'no-helo'),
    5: ('b\u00fccher\x01" rule=x action=accept.example', None, 'reject', 'helo-syntax'),
    6: ('mail.outside.example', None, 'closed', None),
    7: ('mail.outside.example', None, 'closed', None),
    8: ('mail.outside.example', '<"b\u00fc x=y\\" rule=z"@outside.example>', 'accept', None),
    9: ('mail.outside.example', FROM, 'accept', None),
    10: ('mail.outside.example', FROM, 'accept', None),
    11: ('mail.outside.example', FROM, 'accept', None),
    12: ('mail.outside.example', FROM, 'accept', None),
}
bad = 0
for n, (helo, frm, outcome, label) in sorted(want.items()):
    rs = recs.get(n, [])
    r = rs[-1] if rs else {}
    ok = (len(rs) == 1 and r.get('helo') == helo and r.get('from') == frm and r.get('outcome') == outcome
          and (label is None or r.get('rule', '').endswith('[%s]' % label))
          and 'action' not in r and r.get('rule', '') not in ('x', 'z'))
    if n == 9:
        ok = ok and r.get('rcpts') == '500' and r.get('taken') == '100'
    print('%s 203.0.113.%d: %d record(s); helo=%r from=%r outcome=%r rule=%r' % (
        'ok' if ok else 'WRONG', n, len(rs), r.get('helo'), r.get('from'), r.get('outcome'), r.get('rule')))
    bad += not ok
sys.exit(1 if bad else 0)
PY

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

start_gateway_dns || setup_failed "nsd did not start"
start_mxguard "$SRCDIR/rules/examples/gateway.rules" "$GATEWAY_DNS" --dns-budget 3000 || setup_failed "mxguard did not start"
filter=$(filter_pid)
start_sink || setup_failed "smtp-sink did not start"
# A 50 MB message must reach the milter: postfix's own limit (10 MB) raised.
PF_MAIN_EXTRA="message_size_limit = $(( (BODY_MB + 10) * 1048576 ))"
start_postfix "unix:$MXG_SOCK" || setup_failed "postfix did not start"
echo "# filter $filter: $(rss_kb "$filter") kB RSS at the start"

N=0
session() { # NAME EXPECTED: the client comes from 203.0.113.N, N counting up
    local name=$1 want=$2 got before after
    N=$((N + 1))
    before=$(rss_kb "$filter")
    got=$(timeout 600 python3 "$T/hsmtp.py" "$PF_PORT" "$name" "$BODY_MB" "203.0.113.$N" 2>"$T/$name.err")
    after=$(rss_kb "$filter")
    echo "# $name: $got (filter RSS ${before} kB -> ${after} kB)"
    echo "$name $before $after" >>"$T/rss"
    check "$name: postfix answers $want" [ "$got" = "$want" ]
    check "$name: the same filter process serves" [ "$(filter_pid)" = "$filter" ]
}

# What postfix answers. "mxguard": its rule decided (postfix applies a
# HELO refusal at MAIL); "postfix": postfix refused first and the filter
# never saw the command.
OK="xclient=220 helo=250 mail=250 rcpt=250 data=354 eod=250 quit=221"
session plain "$OK"
session helo-long "xclient=220 helo=250 mail=501 rcpt=503 quit=221"   # mxguard: helo-syntax
session helo-nul "xclient=220 helo=250 mail=554 rcpt=503 quit=221"    # mxguard: postfix cut the HELO at the NUL; helo-not-fqdn
session helo-8bit "xclient=220 helo=500 mail=503 rcpt=503 quit=221"   # postfix: not UTF-8; then mxguard: no-helo
session helo-utf8 "xclient=220 helo=250 mail=501 rcpt=503 quit=221"   # mxguard: helo-syntax; the HELO in the record
session from-nul "xclient=220 helo=250 mail=501 rcpt=503 quit=221"    # postfix: bad address syntax
session from-8bit "xclient=220 helo=250 mail=500 rcpt=503 quit=221"   # postfix: not UTF-8
session from-utf8 "$OK"                                                # through; the sender in the record
session rcpt500 "xclient=220 helo=250 mail=250 rcpts_ok=100 data=354 eod=250 quit=221" # mxguard: 452 after 100
session header5000 "$OK"
session header100k "$OK"
session body50m "$OK"
rm -f "$SINK_DIR"/msg.* # the 50 MB copy

python3 "$SRCDIR/tests/protocol/logfields.py" --records "$MXG_LOG" >"$T/records" 2>&1
check "every record line parses by the log grammar, no key twice" not_contains "$T/records" "^BROKEN"
check "every log line is a line of its own (a time stamp first)" not_contains "$MXG_LOG" "^[^0-9]"
check "mxguard --summary reads the log" "$MXGUARD" --summary "$MXG_LOG" >"$T/summary" 2>"$T/summary.err"
check "... and finds no record it cannot parse" not_contains "$T/summary.err" "not parsed"
sed 's/^/#   /' "$T/summary" | head -n 12
python3 "$T/fields.py" "$T/records" >"$T/fields.out" 2>&1
rc=$?
sed 's/^/#   /' "$T/fields.out"
check "each session's record: HELO and sender as the filter got them, outcome, rule, nothing injected" test $rc -eq 0

awk '{ printf "# RSS %-11s %6d kB -> %6d kB\n", $1, $2, $3 }' "$T/rss"
first=$(awk 'NR == 1 { print $2 }' "$T/rss")
last=$(awk 'END { print $3 }' "$T/rss")
echo "# filter RSS: $first kB before the first session, $last kB after the last"
# AddressSanitizer keeps freed memory in quarantine (256 MB by default):
# the body's 64 KB packets, freed as they pass, show there as RSS.
grow_max=32768
if asan_build; then
    grow_max=$((BODY_MB * 2048 + 32768))
    echo "# an AddressSanitizer build: its quarantine of freed memory counts in RSS; at most $grow_max kB more"
fi
check "the filter's RSS stays flat-ish (at most $grow_max kB more after the ${BODY_MB} MB body)" \
    [ $((last - first)) -lt "$grow_max" ]
check "postfix saw no milter trouble" not_contains "$PF_LOG" "warning: milter|milter .*(timeout|unreachable)|lost connection"
finish
