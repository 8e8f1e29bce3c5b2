#!/bin/bash
# poison.sh: a message that crashes the filter every time is held after
# --poison-crashes crashes while the rest of the mail flows. The filter is
# made to crash on it for real by a test-only LD_PRELOAD library
# (tests/lib/crash_shim.c: SIGSEGV when a regex is matched against text
# holding POISON-b6f1) under a rule with a header regex. The poison
# message is sent N+1 times (a new queue id each time, as a retrying
# client gets), between normal messages: the first N crash the filter, the
# next is answered 451 4.3.0 and logged with its queue id and digest, every
# normal message is answered normally, a session idle in the middle of its
# message at a crash is not charged, and with --restart-limit 2/60 the
# supervisor never enters its crash-loop backoff.
. "$SRCDIR/tests/lib/common.sh"
need_root
need_cmd python3

N=3
SHIM="$BUILDDIR/tests/lib/crash_shim.so"
[ -f "$SHIM" ] || skip "needs $SHIM (built by make check)"

# The shim goes to mxguard only (not to python or grep): through a wrapper
# that execs it, so the supervisor's pid and name stay mxguard's.
preload=$SHIM
asan_opts=""
if asan_build; then
    # ASan insists on coming first and would turn the SIGSEGV into its own
    # report and exit status 1: preload it first, and let the signal kill.
    libasan=$(ldd "$MXGUARD" | awk '/libasan/ { print $3 }')
    preload="$libasan:$SHIM"
    asan_opts="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:handle_segv=0"
fi
cat >"$T/mxguard-preload" <<WRAP
#!/bin/sh
${asan_opts:+ASAN_OPTIONS='$asan_opts' export ASAN_OPTIONS}
LD_PRELOAD='$preload' exec '$MXGUARD' "\$@"
WRAP
chmod 755 "$T/mxguard-preload"

cat >"$T/poison.rules" <<'RULES'
# Every header value goes through a regex: the shim crashes on the marker.
# The mail and rcpt rules make the MTA send the envelope too.
on mail { tag local-sender if sender.domain = "example.org"; }
on rcpt { tag to-postmaster if recipient.local = "postmaster"; }
on header {
    tag odd if header.value ~ "^never-matches-[0-9]+$";
}
RULES

cat >"$T/client.py" <<'PY'
import socket, sys
sys.path.insert(0, sys.argv[2])
import raw_milter as rm
# Steps a message takes beyond raw_milter's: DATA, header, end of header, body.
rm.NO_BITS.update({'T': 0x200, 'L': 0x20, 'N': 0x40, 'B': 0x10})
rm.NR_BITS.update({'T': 0x10000, 'L': 0x80, 'N': 0x40000, 'B': 0x80000})

def step(m, cmd, data):
    if m.proto & rm.NO_BITS.get(cmd, 0):
        return None
    m.send(cmd, data)
    if m.proto & rm.NR_BITS.get(cmd, 0):
        return None
    letter, body = m.reply()
    if letter == 'y':
        letter += ':' + body.rstrip(b'\0').decode(errors='replace')
    return cmd + '=' + letter

def envelope(m, qid):
    m.start('203.0.113.9')
    m.macro('M', 'i', qid)
    out = [step(m, 'M', b'<sender@outside.example>\0SIZE=200\0')]
    out.append(step(m, 'R', b'<user@example.org>\0'))
    out.append(step(m, 'T', b''))
    out.append(step(m, 'L', b'From\0Sender <sender@outside.example>\0'))
    return out

def message(path, qid, subject):
    m = rm.Milter(path)
    steps = [('L', b'Subject\0' + subject.encode() + b'\0'), ('L', b'Message-ID\0<1@outside.example>\0'),
             ('N', b''), ('B', b'Hello.\r\n'), ('E', b'')]
    try:
        out = envelope(m, qid)
        for cmd, data in steps:
            got = step(m, cmd, data)
            out.append(got)
            if got is not None and not got.endswith('=c'):
                m.send('A')  # as an MTA does after a refusal: the message is over
                break
        m.close()
    except (rm.Closed, ConnectionError, socket.timeout):
        return 'closed'
    return ' '.join(x for x in out if x is not None)

path = sys.argv[1]
# A bystander: a session idle in the middle of its message (after its first header) while the first crash happens.
by = rm.Milter(path)
print('bystander-envelope', ' '.join(x for x in envelope(by, 'BYQ1') if x))
sys.stdout.flush()
for i in range(1, int(sys.argv[3]) + 2):
    print('normal-%d' % i, message(path, 'NQ%d' % i, 'Hello number %d' % i))
    print('poison-%d' % i, message(path, 'PQ%d' % i, 'Cheap pills POISON-b6f1 now'))
    if i == 1:
        try:
            print('bystander-after', step(by, 'L', b'Subject\0later\0'))
        except (rm.Closed, ConnectionError, socket.timeout):
            print('bystander-after closed')
    sys.stdout.flush()
print('normal-last', message(path, 'NQL', 'Goodbye'))
PY

MXGUARD="$T/mxguard-preload" start_mxguard "$T/poison.rules" --restart-limit 2/60 ||
    { check "daemon starts" false; finish; }
first_filter=$(filter_pid)
python3 "$T/client.py" "$MXG_SOCK" "$SRCDIR/tests/protocol" "$N" >"$T/client.out" 2>&1
sed 's/^/# /' "$T/client.out"

line() { grep -E "^$1 " "$T/client.out"; }
ok_normals=0
for i in $(seq 1 $((N + 1))) last; do
    line "normal-$i" | grep -Eq '^normal-[^ ]+ ([A-Z]=c )+E=[ac]$' && ok_normals=$((ok_normals + 1))
done
check "every normal message, before, between and after, is answered normally ($ok_normals of $((N + 2)))" \
    [ "$ok_normals" -eq $((N + 2)) ]
crashed=0
for i in $(seq 1 "$N"); do
    [ "$(line "poison-$i")" = "poison-$i closed" ] && crashed=$((crashed + 1))
done
check "the first $N sends of the poison message crash the filter ($crashed)" [ "$crashed" -eq "$N" ]
check "send $((N + 1)) is answered 451 4.3.0, held after repeated filter failures" \
    sh -c "grep -E '^poison-$((N + 1)) ' '$T/client.out' | grep -q 'y:451 4.3.0 Message held after repeated filter failures'"
check "the bystander had its first header answered" grep -Eq '^bystander-envelope .*L=c$' "$T/client.out"
check "the idle bystander's session ended with the first crash" grep -q '^bystander-after closed' "$T/client.out"

deaths=$(grep -Ec "filter process [0-9]+ died of signal 11 while working on 1 message \(each charged one crash by the poison guard; not counted towards --restart-limit\); restarting it in 1 s" "$MXG_LOG")
check "each of the $N crashes is attributed to the one message being filtered ($deaths)" [ "$deaths" -eq "$N" ]
check "the supervisor never entered its crash-loop backoff" not_contains "$MXG_LOG" "crash loop"
check "no death went unattributed" not_contains "$MXG_LOG" "died of signal [0-9]+; restarting"
for i in $(seq 1 "$N"); do
    check "crash $i is charged to the poison message's queue id PQ$i" \
        contains "$MXG_LOG" "poison guard: qid=PQ$i digest=[0-9a-f]{16} crashes=$i: the filter died while working on this message"
done
check "the bystander (idle at the crash) was not charged" not_contains "$MXG_LOG" "poison guard: qid=BYQ1"
check "no normal message was charged" not_contains "$MXG_LOG" "poison guard: qid=NQ"
held=$(grep -E "qid=PQ$((N + 1)) client=[^ ]+ stage=[a-z]+ digest=[0-9a-f]{16} crashes=$N: poison message: the filter crashed $N times while working on it; holding it \(451 4.3.0\)" "$MXG_LOG")
check "the held message is logged with its queue id, digest and crash count" [ -n "$held" ]
digests=$(grep -Eo "(qid=PQ[0-9]+ digest=|stage=[a-z]+ digest=)[0-9a-f]{16}" "$MXG_LOG" | grep -Eo '[0-9a-f]{16}$' | sort -u | wc -l)
check "one digest throughout, whatever the queue id ($digests)" [ "$digests" -eq 1 ]
check "a filter process serves at the end" filter_pid_exists
check "... a new one (the first crashed)" [ "$(filter_pid)" != "$first_filter" ]
finish
