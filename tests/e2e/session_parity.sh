#!/bin/bash
# session_parity.sh: the session simulator (mxguard --test-session) and
# the daemon behind a real postfix decide the same, session by session.
# For every transcript tests/cli/sessions/*.in (found by glob: a new
# session is covered without touching this file), the dialogue is played
# twice, live: through the simulator with the session's "# args:", and
# through a private postfix 3.7 (tests/lib/postfix.sh) whose milter is the
# daemon on the same rule file, by a small client of our own (Python,
# written below) that sends it command by command: XCLIENT gives the
# session's client address and name, SMTP AUTH its --auth-user, STARTTLS
# its TLS macros. The stored .out files are never read.
#
# Compared, command by command: whether the command was refused, and
# whether by mxguard (the simulator: a "# stage: ..." comment before the
# reply; postfix: a "milter-reject" line in its log for that command);
# a refusal by mxguard must be the same reply in both, code, enhanced
# code and text, every line. An acceptance is compared as such (postfix
# words its own 2xx and 3xx replies). Then, for each message accepted,
# the header edits the simulator prints ("# eom: add-header ...",
# authentication-results, received-spf, change-header, delete-header,
# "remove N Authentication-Results ...", quarantine) against the message
# postfix delivered to an smtp-sink (or put on hold, for a quarantine):
# every added header there with the same value (folding whitespace
# aside), every removed one gone, and no edit the simulator did not show.
#
# Differences that belong to the MTA, not to mxguard, are understood and
# declared below (MTA_OWN and the comparer), each with why; they are
# printed as notes and still checked (postfix's log must show that the
# milter did not decide, and postfix's reply and the simulator's must be
# the declared ones). One "check" line per session, and one per
# difference ("DIFFERS: ..."), which names the command and both replies.
#
# A session the daemon cannot be made to see the same way (an MTA macro
# postfix does not give, a TLS session other than the one negotiated,
# --later, greylisting without --store, which the simulator then skips)
# is not compared: the reason is printed and counted, never dropped.
#
# One postfix and one smtp-sink for all sessions; one daemon per rule
# file and set of engine options, each on a socket of its own behind the
# link postfix connects to. Engine options of a session (--dns,
# --authserv-id, --store, --dns-timeout, ...) go to both; a --store
# lmdb-path gets a fresh scratch store on each side. A session without
# --dns: the simulator has no resolver, the daemon asks a closed port
# (start_mxguard); DNS answers neither, so both see a temporary error.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
need_postfix
need_cmd python3
need_cmd saslpasswd2
need_cmd postcat
need_cmd openssl
ensure_user             # the owner of the daemon's scratch stores

# PARITY_SESSIONS: another directory of sessions (to try one alone).
SESSIONS_DIR=${PARITY_SESSIONS:-$SRCDIR/tests/cli/sessions}
SASL_PASS="pw-$$-$RANDOM"

# --- what postfix does itself ------------------------------------------------------
# MTA_OWN: refusals postfix gives on its own, before (or instead of)
# asking the milter, where the simulator gives the command to the rules.
# One line each, tab-separated: a regular expression on the command, one
# on postfix's reply, one on the simulator's, and why. Such a refusal is
# a declared difference (a note, not a failure) only where postfix's log
# has no milter-reject for it and all three expressions match.
#
# A declared 221 or 421 ends the comparison of the session: postfix hung
# up. Declared in the comparer below: a milter's refusal of CONNECT, HELO or
# EHLO is answered "250" by postfix (sendmail compatibility, smtpd.c
# helo_cmd: "the reply persists so it will apply to MAIL FROM"); postfix
# logs it as "milter-reject: HELO", and that logged reply is compared
# with the simulator's refusal of the HELO. Postfix adds a Received
# header to every message, and Message-Id, Date and From to one that
# lacks them (cleanup): not edits of mxguard's.
MTA_OWN=$(cat <<'EOF'
^MAIL FROM:<[^>]* [^>]*>	^501 5\.1\.7 Bad sender address syntax$	^5	postfix parses the path itself and refuses a malformed one (spaces inside <>) before the milter sees MAIL FROM; the simulator lets the rules judge it
^RCPT TO:<[^>]* [^>]*>	^501 5\.1\.3 Bad recipient address syntax$	^5	postfix parses the path itself and refuses a malformed one (spaces inside <>) before the milter sees RCPT TO; the simulator lets the rules judge it
^MAIL FROM:	^503 5\.5\.1 Error: nested MAIL command$	^250 	a MAIL FROM inside an open transaction: postfix refuses it (RFC 5321 wants RSET first) and the milter never sees it; the simulator starts a new transaction and asks the rules
^DATA$	^503 5\.5\.1 Error: need (RCPT|MAIL) command$	^554 5\.5\.1 Error: no valid recipients$	DATA before any RCPT TO: postfix says 503 (its 554 "no valid recipients" is for a transaction whose recipients were all refused); the simulator gives every DATA without recipients the 554
^[!-9;-~]+:	^221 2\.7\.0 Error: I can break rules, too\. Goodbye\.$	^502 	a header line sent as a command (the message of a DATA that was refused): postfix takes the client for one that ignores replies, answers 221 and hangs up; the simulator answers 502 and reads on
EOF
)

# --- the client and the comparison -------------------------------------------------
cat >"$T/parity.py" <<'PYTHON'
"""parity.py (written by session_parity.sh): "run" plays one dialogue
through postfix, command by command, waits until postfix's log has the
whole session, and puts what postfix answered, logged and delivered
beside the simulator's output: "diff: ..." lines for the differences,
"# ..." lines for the rest."""
import base64, glob, json, re, socket, ssl, subprocess, sys, time

REPLY = re.compile(r'^(\d{3})([ -])(.*)$')
ENH = re.compile(r'^([245]\.\d{1,3}\.\d{1,3})(?: |$)')
STAGE = re.compile(r'^# (connect|helo|mail|rcpt|data|header|eoh|eom): ')


def reply_of_lines(lines, comments=()):
    code = lines[-1][:3]
    m = ENH.match(lines[0][4:])
    return {'lines': lines, 'code': code, 'enh': m.group(1) if m else '',
            'refused': code[:1] in ('4', '5'), 'comments': list(comments)}


def read_dialogue(path):
    with open(path, encoding='utf-8', errors='replace') as f:
        return [l.rstrip('\r\n') for l in f]


def walk(lines, answer):
    """The dialogue as the simulator reads it: '#' lines and empty lines
    in command mode are not sent (the simulator skips them); after a DATA
    answered 354 the message runs to the line "."; a DATA answered
    otherwise leaves the message lines to be read as commands, as a
    client that does not look would send them. answer(kind, payload)
    gives the reply or None when the other side stopped."""
    steps = []
    r = answer('CONNECT', None)
    steps.append(['CONNECT', r])
    i = 0
    while r is not None and i < len(lines):
        line = lines[i]
        i += 1
        if line == '' or line.startswith('#'):
            continue
        r = answer('CMD', line)
        steps.append([line, r])
        if r is None or line.upper() == 'QUIT':
            break
        if line.upper() == 'DATA' and r['code'] == '354':
            msg = []
            while i < len(lines) and lines[i] != '.':
                msg.append(lines[i])
                i += 1
            i += 1
            r = answer('MSG', msg)
            steps.append(['(message) .', r, msg])
    return steps


class Smtp:
    def __init__(self, port):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=90)
        self.f = self.s.makefile('rb')

    def starttls(self, version):
        """TLS on the connection (any certificate), of VERSION if given:
        (version, cipher, bits) as postfix gives them in its macros."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if version:
            v = {'TLSv1.2': ssl.TLSVersion.TLSv1_2, 'TLSv1.3': ssl.TLSVersion.TLSv1_3}[version]
            ctx.minimum_version = ctx.maximum_version = v
        self.s = ctx.wrap_socket(self.s)
        self.f = self.s.makefile('rb')
        name, _, bits = self.s.cipher()
        return [self.s.version(), name, str(bits)]

    def send(self, line):
        self.s.sendall(line.encode('utf-8', 'surrogateescape') + b'\r\n')

    def read(self):
        lines = []
        while True:
            l = self.f.readline()
            if not l:
                break
            l = l.decode('utf-8', 'replace').rstrip('\r\n')
            lines.append(l)
            if len(l) < 4 or l[3] != '-':
                break
        return reply_of_lines(lines) if lines else None


def xtext(s):
    return ''.join(c if 33 <= ord(c) <= 126 and c not in '+=' else '+%02X' % ord(c) for c in s)


def client(port, path, addr, name, user, password, tls, out):
    """Play the dialogue through postfix; what it answered goes to OUT
    (JSON). TLS: "" for none, else "VERSION" or "any": STARTTLS after
    the first HELO or EHLO, which is then sent again (not compared)."""
    setup, auth_pending, tls_pending, tls_got = [], bool(user), bool(tls), None
    c = Smtp(port)
    setup.append(['(greeting before XCLIENT)', c.read()])
    xaddr = ('IPV6:' + addr) if ':' in addr else addr
    xname = name if name else '[UNAVAILABLE]'

    def answer(kind, payload):
        nonlocal auth_pending
        if kind == 'CONNECT':
            c.send('XCLIENT ADDR=%s NAME=%s' % (xtext(xaddr), xtext(xname)))
            return c.read()
        if kind == 'MSG':
            for l in payload:
                c.send(l)
            c.send('.')
            return c.read()
        nonlocal tls_pending, tls_got
        c.send(payload)
        r = c.read()
        if tls_pending and re.match(r'(?i)^(EHLO|HELO)( |$)', payload):
            tls_pending = False
            c.send('STARTTLS')
            rt = c.read()
            setup.append(['STARTTLS', rt])
            if rt is not None and rt['code'] == '220':
                tls_got = c.starttls('' if tls == 'any' else tls)
                c.send(payload)
                setup.append([payload + ' (again, inside TLS)', c.read()])
        if auth_pending and re.match(r'(?i)^(EHLO|HELO)( |$)', payload):
            auth_pending = False
            c.send('AUTH PLAIN ' + base64.b64encode(('\0%s\0%s' % (user, password)).encode()).decode())
            setup.append(['AUTH PLAIN (as ' + user + ')', c.read()])
        return r

    steps = walk(read_dialogue(path), answer)
    if not steps or steps[-1][0].upper() != 'QUIT':
        try:
            c.send('QUIT')
            c.read()
        except OSError:
            pass
    with open(out, 'w') as f:
        json.dump({'steps': steps, 'setup': setup, 'auth_pending': auth_pending, 'tls_pending': tls_pending,
                   'tls': tls_got}, f, indent=1)


def parse_sim(text):
    blocks, comments, cur = [], [], None
    for line in text.splitlines():
        m = REPLY.match(line)
        if m:
            cur = (cur or []) + [line]
            if m.group(2) == ' ':
                blocks.append(reply_of_lines(cur, comments))
                cur, comments = None, []
        else:
            comments.append(line)
    return blocks, comments


# --- the postfix log ---------------------------------------------------------------
def milter_log(lines):
    """milter-reject lines, in order: (command, text without the trailing
    envelope), and the queue ids postfix held or discarded."""
    rejects, held, discarded = [], set(), set()
    for l in lines:
        m = re.search(r'milter-reject: (\S+) from \S*?\[[^\]]*\]: (.*)$', l)
        if m:
            text = m.group(2)
            for sep in ('; from=<', '; proto='):
                k = text.rfind(sep)
                if k >= 0:
                    text = text[:k]
                    break
            rejects.append([m.group(1), text, False])
        m = re.search(r' ([0-9A-Za-z]+): milter-hold: ', l)
        if m:
            held.add(m.group(1))
        m = re.search(r' ([0-9A-Za-z]+): milter-discard: ', l)
        if m:
            discarded.add(m.group(1))
    return rejects, held, discarded


VERBS = {'(MESSAGE)': ('END-OF-MESSAGE', 'DATA')}


def verb_of(label):
    return label.split(' ')[0].upper()


def first_as_logged(reply):
    """The forms a reply's first line takes in postfix's log: as sent,
    with the code (smtpd), or with the enhanced code only (cleanup)."""
    first = reply['lines'][0]
    return (first, first[:3] + ' ' + first[4:], first[4:])


def take_reject(label, rejects, reply=None):
    """The next unused milter-reject line of the session for this command
    (with this reply when one is given); it is then used."""
    verb = verb_of(label)
    for rec in rejects:
        if rec[2] or rec[0] not in VERBS.get(verb, (verb,)):
            continue
        if reply is None or any(rec[1].startswith(w) for w in first_as_logged(reply)):
            rec[2] = True
            return rec[1]
    return None


# --- headers -----------------------------------------------------------------------
def norm(s):
    return ' '.join(s.split())


def header_list(lines):
    """Unfolded header fields up to the first empty line: (name, value)."""
    out = []
    for l in lines:
        if l == '':
            break
        if l[:1] in (' ', '\t') and out:
            out[-1][1] += ' ' + l
            continue
        if ':' not in l:
            break
        n, v = l.split(':', 1)
        out.append([n, v])
    return [(n, norm(v)) for n, v in out]


def delivered(qid, sink_dir, pf_dir, held):
    """The header of the message postfix queued as QID: at the sink, or in
    the hold queue for a quarantine. (where, headers) or (None, why)."""
    deadline = time.time() + 20
    pat = re.compile(r'\bid %s\b' % re.escape(qid))
    while time.time() < deadline:
        if qid in held:
            p = subprocess.run(['postcat', '-c', pf_dir, '-h', '-q', qid], capture_output=True, text=True)
            if p.returncode == 0:
                return 'the hold queue', header_list([l for l in p.stdout.split('\n') if not l.startswith('*** ')])
        for f in glob.glob(sink_dir + '/msg.*'):
            with open(f, encoding='utf-8', errors='replace') as fh:
                text = fh.read()
            if pat.search(text):
                # Without smtp-sink's own fields and Received line.
                hs = header_list(text.replace('\r', '').split('\n'))
                return 'the sink', [h for h in hs if not re.match(r'^X-(Client|Helo|Mail|Rcpt)-', h[0])
                                    and not (h[0].lower() == 'received' and 'by smtp-sink' in h[1])]
        time.sleep(0.2)
    return None, 'message %s is neither at the sink nor on hold after 20 s' % qid


def sim_edits(comments):
    """The header edits of an accepted message, as the simulator prints them."""
    edits = []
    for c in comments:
        m = re.match(r'^# eom: (add-header|change-header|delete-header|authentication-results|received-spf|quarantine)'
                     r'(?: (.*?))? \(rule [^()]*\)$', c)
        if m:
            act, rest = m.group(1), m.group(2) or ''
            if act in ('add-header', 'change-header', 'authentication-results', 'received-spf'):
                n, v = rest.split(':', 1) if ':' in rest else (rest, '')
                edits.append((act, n.strip(), norm(v)))
            else:
                edits.append((act, rest.strip(), ''))
            continue
        m = re.match(r'^# eom: remove (\d+) Authentication-Results headers? claiming (\S+)', c)
        if m:
            edits.append(('remove-authres', 'Authentication-Results', m.group(2), int(m.group(1))))
    return edits


def claims(value, authserv):
    """An Authentication-Results value names AUTHSERV as its authserv-id."""
    v = re.sub(r'^\([^)]*\)\s*', '', value).strip()
    return re.split(r'[\s;]', v, 1)[0].strip('"').rstrip('.').lower() == authserv.lower()


# Header fields postfix adds itself: its Received header always, and
# these when the message has none (cleanup's missing-header rules).
MTA_HEADERS = ('received',)
MTA_IF_MISSING = ('message-id', 'date', 'from')


def header_diffs(tag, where, sent, got, edits, diffs):
    """The delivered header against the sent one and the simulator's edits."""
    added, removed = list(got), []
    for h in sent:
        k = next((i for i, g in enumerate(added) if g[0].lower() == h[0].lower() and g[1] == h[1]), None)
        if k is None:
            removed.append(h)
        else:
            del added[k]
    names = set(h[0].lower() for h in sent)
    own = [h for h in added if h[0].lower() in MTA_HEADERS or (h[0].lower() in MTA_IF_MISSING and h[0].lower() not in names)]
    added = [h for h in added if h not in own]
    n = 0
    for e in edits:
        act, name = e[0], e[1]
        if act == 'quarantine':
            continue
        n += 1
        if act in ('add-header', 'authentication-results', 'received-spf', 'change-header'):
            k = next((i for i, g in enumerate(added) if g[0].lower() == name.lower() and g[1] == e[2]), None)
            if k is None:
                same = ['"%s: %s"' % g for g in got if g[0].lower() == name.lower()]
                diffs.append('%s: the simulator shows "%s %s: %s"; the message in %s has %s' %
                             (tag, act, name, e[2], where, '; '.join(same) or 'no %s header' % name))
            else:
                del added[k]
            if act == 'change-header':
                k = next((i for i, g in enumerate(removed) if g[0].lower() == name.lower()), None)
                if k is not None:
                    del removed[k]
        elif act == 'delete-header':
            left = ['"%s: %s"' % g for g in got if g[0].lower() == name.lower()]
            if left:
                diffs.append('%s: the simulator deletes %s; the message in %s still has %s' % (tag, name, where, '; '.join(left)))
            removed = [g for g in removed if g[0].lower() != name.lower()]
        elif act == 'remove-authres':
            gone = [g for g in removed if g[0].lower() == 'authentication-results' and claims(g[1], e[2])]
            if len(gone) != e[3]:
                diffs.append('%s: the simulator removes %d Authentication-Results claiming %s; %d of them are gone from the message in %s' %
                             (tag, e[3], e[2], len(gone), where))
            removed = [g for g in removed if not (g[0].lower() == 'authentication-results' and claims(g[1], e[2]))]
    for g in added:
        diffs.append('%s: the message in %s has "%s: %s", which the simulator does not add' % (tag, where, g[0], g[1]))
    for g in removed:
        diffs.append('%s: the message in %s lacks "%s: %s", which the simulator does not remove' % (tag, where, g[0], g[1]))
    return n, own


def compare_message(tag, msg_lines, comments, reply, ctx, diffs, notes):
    """An accepted message: where postfix put it, and its header edits."""
    m = re.search(r'queued as ([0-9A-Za-z]+)', ' '.join(reply['lines']))
    if not m:
        diffs.append('%s: no queue id in postfix\'s reply %s' % (tag, show(reply)))
        return 0
    qid = m.group(1)
    edits = sim_edits(comments)
    quarantine = any(e[0] == 'quarantine' for e in edits)
    discard = any(c.startswith('# the message will be discarded') for c in comments)
    if discard or qid in ctx['discarded']:
        if not (discard and qid in ctx['discarded']):
            diffs.append('%s: %s discards the message, the %s does not (%s)' %
                         ((tag,) + (('the simulator', 'daemon via postfix') if discard else ('the daemon via postfix', 'simulator')) + (qid,)))
        return 0
    where, hs = delivered(qid, ctx['sink'], ctx['pf_dir'], ctx['held'])
    if where is None:
        diffs.append('%s: %s' % (tag, hs))
        return 0
    if quarantine != (where == 'the hold queue'):
        diffs.append('%s: the simulator %s the message, the daemon via postfix put it in %s' %
                     (tag, 'quarantines' if quarantine else 'does not quarantine', where))
    n, own = header_diffs(tag, where, header_list(msg_lines), hs, edits, diffs)
    if own:
        notes.append('%s: postfix added %s itself' % (tag, ', '.join(g[0] for g in own)))
    return n + quarantine


def show(r):
    if r is None:
        return '(nothing: the dialogue had ended)'
    return ' | '.join(r['lines'])


def mta_own(label, sr, pr, table):
    for pat_cmd, pat_pf, pat_sim, why in table:
        if re.search(pat_cmd, label) and re.search(pat_pf, show(pr)) and re.search(pat_sim, show(sr)):
            return why
    return None


def compare_step(tag, label, sr, pr, rejects, table, diffs, notes, st):
    """One command: refused or not, by mxguard or by the MTA, and how.
    True when postfix hung up (a declared 221 or 421)."""
    s_milter = sr['refused'] and any(STAGE.match(c) for c in sr['comments'])
    if not pr['refused'] and verb_of(label) in ('CONNECT', 'HELO', 'EHLO'):
        # postfix answers 250 to a CONNECT, HELO or EHLO its milter
        # refused, and gives that reply from MAIL FROM on: the log says.
        early = take_reject(label, rejects)
        if early is not None:
            st.setdefault('persist', (tag, early))
            if not s_milter:
                diffs.append('%s: the daemon refuses it (postfix logged "%s", answered %s and refuses from MAIL FROM on); '
                             'the simulator accepts it (%s)' % (tag, early, show(pr), show(sr)))
            elif not any(early.startswith(w) for w in first_as_logged(sr)):
                diffs.append('%s: mxguard\'s reply differs: simulator "%s", daemon via postfix "%s" (postfix logged it, '
                             'answered %s and gives it from MAIL FROM on)' % (tag, show(sr), early, show(pr)))
            else:
                notes.append('%s: refused by mxguard in both (%s); postfix answers %s and applies it from MAIL FROM on' %
                             (tag, show(sr), show(pr)))
            return
    p_milter = pr['refused'] and take_reject(label, rejects, pr) is not None
    why = None if p_milter else mta_own(label, sr, pr, table)
    if why:
        notes.append('%s: postfix answers it itself (%s), the simulator %s (%s): %s' %
                     (tag, show(pr), 'refuses' if sr['refused'] else 'accepts', show(sr), why))
        return pr['code'] in ('221', '421')
    if sr['refused'] != pr['refused']:
        diffs.append('%s: the simulator %s (%s), %s (%s)' %
                     (tag, 'refuses' if sr['refused'] else 'accepts', show(sr),
                      ('the daemon via postfix refuses' if p_milter else 'postfix refuses it itself') if pr['refused']
                      else 'the daemon via postfix accepts', show(pr)))
    elif not sr['refused']:
        return
    elif s_milter and p_milter:
        if sr['lines'] != pr['lines']:
            diffs.append('%s: mxguard\'s reply differs: simulator "%s", daemon via postfix "%s"' % (tag, show(sr), show(pr)))
    elif s_milter:
        diffs.append('%s: the simulator\'s rules refuse it (%s); postfix refuses it itself, the daemon is not asked (%s)' %
                     (tag, show(sr), show(pr)))
    elif p_milter:
        diffs.append('%s: the daemon refuses it behind postfix (%s); the simulator refuses it as the MTA would, no rule (%s)' %
                     (tag, show(pr), show(sr)))
    elif (sr['code'], sr['enh']) != (pr['code'], pr['enh']):
        # Both refuse as the MTA: the simulator imitates postfix's own
        # replies (RCPT before MAIL, DATA without recipients, unknown
        # commands): the same code and enhanced code.
        diffs.append('%s: the MTA-level refusals differ: simulator %s, postfix %s' % (tag, show(sr), show(pr)))
    elif sr['lines'] != pr['lines']:
        notes.append('%s: MTA-level refusal worded differently: simulator %s, postfix %s' % (tag, show(sr), show(pr)))


def settled(maillog, offset, queue):
    """Postfix logged the end of the session, and no message of it is
    still on its way (delivered, held, bounced or discarded): the log is
    whole. False after 30 s."""
    deadline = time.time() + 30
    while time.time() < deadline:
        with open(maillog, encoding='utf-8', errors='replace') as f:
            done = ' disconnect from ' in ''.join(f.readlines()[offset:])
        if done and not any(glob.glob('%s/%s/*' % (queue, d)) for d in ('maildrop', 'incoming', 'active', 'deferred')):
            return True
        time.sleep(0.1)
    return False


def tls_mismatch(pf, want):
    """Why the TLS session postfix negotiated does not give the daemon the
    macros the simulator was given (WANT: "name=value" joined by "|")."""
    if not want:
        return None
    got = pf.get('tls')
    if not got:
        return 'no TLS session (STARTTLS answered %s)' % show(next((r for l, r in pf['setup'] if l == 'STARTTLS'), None))
    have = dict(zip(('{tls_version}', '{cipher}', '{cipher_bits}'), got))
    for m in want.split('|'):
        n, v = m.split('=', 1)
        if have.get(n) != v:
            return 'postfix and the client negotiated %s=%s, the session wants %s' % (n, have.get(n), v)
    return None


def compare(path, sim_out, client_json, maillog, offset, sink, pf_dir, own_file):
    """The simulator's output beside postfix's replies, log and messages:
    "diff: ..." lines for differences, "# ..." lines for the rest."""
    lines = read_dialogue(path)
    with open(sim_out, encoding='utf-8', errors='replace') as f:
        blocks, _ = parse_sim(f.read())
    with open(client_json) as f:
        pf = json.load(f)
    with open(maillog, encoding='utf-8', errors='replace') as f:
        log = f.read().split('\n')[offset:]
    with open(own_file) as f:
        table = [l.split('\t') for l in f.read().split('\n') if l.count('\t') == 3]
    rejects, held, discarded = milter_log(log)
    ctx = {'sink': sink, 'pf_dir': pf_dir, 'held': held, 'discarded': discarded}
    diffs, notes = [], []
    feed = iter(blocks)
    sim_steps = walk(lines, lambda kind, payload: next(feed, None))
    left = list(feed)
    for label, r in pf['setup']:
        if label.startswith('AUTH') and (r is None or r['code'] != '235'):
            diffs.append('set-up: %s was answered %s' % (label, show(r)))
    if pf['auth_pending']:
        diffs.append('set-up: no HELO or EHLO in the dialogue to authenticate after')
    if pf['tls_pending']:
        diffs.append('set-up: no HELO or EHLO in the dialogue to start TLS after')
    for label, r in pf['setup']:
        if label.endswith('(again, inside TLS)') and (r is None or r['refused']):
            diffs.append('set-up: %s was answered %s' % (label, show(r)))
    ncmd = nedit = 0
    st = {}
    for j in range(max(len(sim_steps), len(pf['steps']))):
        s = sim_steps[j] if j < len(sim_steps) else None
        p = pf['steps'][j] if j < len(pf['steps']) else None
        if s is None or p is None or s[0] != p[0]:
            diffs.append('the dialogue parts at command %d: the simulator read %r (reply %s), postfix was sent %r (reply %s)' %
                         (j, s and s[0], show(s and s[1]), p and p[0], show(p and p[1])))
            break
        label, sr, pr = s[0], s[1], p[1]
        tag = 'command %d "%s"' % (j, label)
        if sr is None or pr is None:
            if sr is not pr:
                diffs.append('%s: the simulator replied %s, postfix %s' % (tag, show(sr), show(pr)))
            break
        ncmd += 1
        n0 = len(diffs)
        hung_up = compare_step(tag, label, sr, pr, rejects, table, diffs, notes, st)
        if 'persist' in st:
            # A milter's refusal of CONNECT or HELO holds for the whole
            # connection in postfix (milter8.c: MILTER8_STAT_REJECT_CON):
            # it repeats that reply to every later command, the daemon
            # is not asked again.
            first, text = st['persist']
            for k in range(n0, len(diffs)):
                if text.split(' ', 2)[-1] in diffs[k]:
                    diffs[k] += (' [postfix repeats the daemon\'s refusal of %s without asking it again: a milter\'s '
                                 'refusal of CONNECT or HELO holds for the connection (postfix milter8.c, '
                                 'MILTER8_STAT_REJECT_CON); the simulator judges every HELO anew]' % first)
        if hung_up:
            notes.append('postfix hung up after command %d: the %d command(s) after it are not compared' %
                         (j, len(sim_steps) - j - 1))
            break
        if label == '(message) .' and not sr['refused'] and not pr['refused']:
            nedit += compare_message(tag, s[2], sr['comments'], pr, ctx, diffs, notes)
    for r in rejects:
        if not r[2]:
            diffs.append('postfix logged a milter-reject that no reply of the dialogue matches: %s %s' % (r[0], r[1]))
    if left:
        diffs.append('the simulator printed replies after the dialogue ended: %s' % '; '.join(show(b) for b in left))
    for n in notes:
        print('# note: ' + n)
    for d in diffs:
        print('diff: ' + d)
    print('# %d commands and %d header edits compared' % (ncmd, nedit))


def main(argv):
    """run PORT DIALOGUE ADDR NAME AUTHUSER PASSWORD TLS TLS_MACROS OUT.json SIM.out MAILLOG OFFSET QUEUE SINKDIR PFDIR MTA_OWN_FILE"""
    port, path, addr, name, user, password, tls, want, out, sim_out, maillog, offset, queue, sink, pf_dir, own = argv
    client(int(port), path, addr, name, user, password, tls, out)
    with open(out) as f:
        why = tls_mismatch(json.load(f), want)
    if why:
        print('not comparable: --macro: ' + why)
        return
    if not settled(maillog, int(offset), queue):
        print('# postfix\'s log did not settle in 30 s (no "disconnect from" line, or mail still queued)')
    compare(path, sim_out, out, maillog, int(offset), sink, pf_dir, own)


if __name__ == '__main__':
    main(sys.argv[2:])
PYTHON
printf '%s\n' "$MTA_OWN" >"$T/mta-own.tsv"

# --- a session's options --------------------------------------------------------------
# parse_args NAME ARGS...: split the "# args:" of a session into
#   S_RULES (absolute), S_ADDR, S_NAME, S_USER, S_TLS (a TLS version,
#   "any" or empty) and S_TLS_WANT (the TLS macros), S_SIM (the simulator's
#   arguments, a --store made a scratch one), S_DAEMON (engine options
#   for the daemon, one a line), S_SKIP (why it cannot be compared).
parse_args() {
    local name=$1 opt val store_n=0 macros=() m
    shift
    S_RULES="" S_ADDR="" S_NAME="" S_USER="" S_SKIP="" S_SIM=() S_DAEMON="" S_TLS="" S_TLS_WANT=""
    while [ $# -gt 0 ]; do
        opt=$1
        shift
        case $opt in
        --*=*) val=${opt#*=}; opt=${opt%%=*} ;;
        -c|--config|--test-session|--client-name|--auth-user|--macro|--later|--store|--dns|--authserv-id|--dns-timeout|--dns-budget|--dnssec-trust-anchor|--trust-anchor)
            val=${1-}; shift ;;
        *) val="" ;;
        esac
        case $opt in
        -c|--config)
            case $val in /*) S_RULES=$val ;; *) S_RULES="$SRCDIR/$val" ;; esac
            S_SIM+=(-c "$S_RULES") ;;
        --test-session) S_ADDR=$val; S_SIM+=(--test-session "$val") ;;
        --client-name) S_NAME=$val; S_SIM+=(--client-name "$val") ;;
        --auth-user) S_USER=$val; S_SIM+=(--auth-user "$val") ;;
        --macro) macros+=("$val"); S_SIM+=(--macro "$val") ;;
        --later) S_SKIP="--later $val moves the simulator's clock; the daemon runs on the real one"; S_SIM+=(--later "$val") ;;
        --store)
            # Each side gets a fresh scratch store of its own, the same
            # empty state to start from.
            case $val in
            lmdb-path=*)
                store_n=$((store_n + 1))
                mkdir -p "$T/store/$name.sim" "$T/store/$name.daemon"
                chown mxguard "$T/store/$name.daemon" 2>/dev/null
                S_SIM+=(--store "lmdb-path=$T/store/$name.sim/$store_n.lmdb")
                S_DAEMON+="--store"$'\n'"lmdb-path=$T/store/$name.daemon/$store_n.lmdb"$'\n' ;;
            *) S_SIM+=(--store "$val"); S_DAEMON+="--store"$'\n'"$val"$'\n' ;;
            esac ;;
        --*)
            # An engine option: both sides.
            if [ -n "$val" ]; then
                S_SIM+=("$opt" "$val"); S_DAEMON+="$opt"$'\n'"$val"$'\n'
            else
                S_SIM+=("$opt"); S_DAEMON+="$opt"$'\n'
            fi ;;
        *) S_SKIP="an argument this test does not know: $opt" ;;
        esac
    done
    # Postfix gives the daemon {auth_authen} after SMTP AUTH, which the
    # client does for --auth-user (the simulator takes the fact
    # "authenticated" from --auth-user, not from the macro), and
    # {tls_version}, {cipher} and {cipher_bits} after STARTTLS, which the
    # client does (of that TLS version) when the session gives one of
    # them: the session is compared if the TLS session has those values.
    # No other macro can be made to reach the daemon with a chosen value.
    for m in ${macros[@]+"${macros[@]}"}; do
        case $m in
        "{auth_authen}=$S_USER") [ -n "$S_USER" ] && continue ;;
        "{tls_version}=TLSv1.2"|"{tls_version}=TLSv1.3") S_TLS=${m#*=}; S_TLS_WANT+="${S_TLS_WANT:+|}$m"; continue ;;
        "{cipher}="*|"{cipher_bits}="*) S_TLS=${S_TLS:-any}; S_TLS_WANT+="${S_TLS_WANT:+|}$m"; continue ;;
        esac
        S_SKIP=${S_SKIP:-"--macro $m: postfix would not give the daemon that macro with that value here"}
    done
    [ -n "$S_RULES" ] || S_SKIP=${S_SKIP:-"no -c RULES in its args"}
    [ -n "$S_ADDR" ] || S_SKIP=${S_SKIP:-"no --test-session ADDR in its args"}
}

# daemon_for RULES OPTIONS: a daemon running on RULES with OPTIONS (one
# a line) behind postfix's milter socket, $T/milter.sock: a symbolic link
# to the socket of the daemon of the current group. A new group's daemon
# starts on a socket of its own, the link turns to it, and the previous
# daemon is stopped in the background (a daemon takes seconds to stop).
# -v: its decisions in its log.
CUR_DAEMON=""
OLD_DAEMONS=""
DAEMONS=0
daemon_for() {
    local key="$1"$'\n'"$2" opts=() old=${MXG_PID:-}
    [ "$key" = "$CUR_DAEMON" ] && filter_pid_exists && return 0
    [ -n "$2" ] && mapfile -t opts <<<"${2%$'\n'}"
    DAEMONS=$((DAEMONS + 1))
    MXG_SOCK_NAME="mxguard-$DAEMONS.sock" start_mxguard "$1" -v "${opts[@]}" || return 1
    ln -sfn "mxguard-$DAEMONS.sock" "$T/milter.sock.new" && mv -Tf "$T/milter.sock.new" "$T/milter.sock" || return 1
    CUR_DAEMON=$key
    if [ -n "$old" ]; then
        kill -TERM "$old" 2>/dev/null
        OLD_DAEMONS="$OLD_DAEMONS $old"
    fi
}

# old_daemons_gone: the daemons of earlier groups have exited (before
# finish reads their logs for sanitizer reports).
old_daemons_gone() {
    local pid
    for pid in $OLD_DAEMONS; do
        wait_for 20 pid_gone "$pid" || return 1
        untrack_pid "$pid"
    done
}

elapsed_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# --- start ------------------------------------------------------------------------------
start_sink || setup_failed "smtp-sink did not start"
# XCLIENT ADDR=IPV6:... needs IPv6 among postfix's protocols (it still
# listens on 127.0.0.1 only). Without a local domain for SASL, a user
# "alice" of realm mx.mxguard.test (myhostname) authenticates as
# "alice", which postfix gives the daemon as {auth_authen}: the
# simulator's --auth-user alice.
# STARTTLS with a certificate of our own, for sessions that give TLS macros.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.mxguard.test \
    -keyout "$T/tls.key" -out "$T/tls.crt" >"$T/openssl.log" 2>&1 || setup_failed "openssl req failed"
chmod 644 "$T/tls.key"
PF_MAIN_EXTRA="inet_protocols = all
smtpd_sasl_local_domain =
smtpd_tls_security_level = may
smtpd_tls_cert_file = $T/tls.crt
smtpd_tls_key_file = $T/tls.key"
start_postfix "unix:$T/milter.sock" || setup_failed "postfix did not start"
echo "# postfix on 127.0.0.1:$PF_PORT, smtp-sink on 127.0.0.1:$SINK_PORT"

# Sessions in an order that groups those sharing a daemon.
SESSIONS=()
declare -A KEY_OF=()
for in in "$SESSIONS_DIR"/*.in; do
    [ -f "$in" ] || continue
    name=$(basename "$in" .in)
    read -r -a argv <<<"$(sed -n '1s/^# args: //p' "$in")"
    parse_args "$name" "${argv[@]}"
    KEY_OF[$name]="$S_RULES"$'\n'"$S_DAEMON"
    SESSIONS+=("$name")
done
[ "${#SESSIONS[@]}" -gt 0 ] || setup_failed "no session in $SESSIONS_DIR"
mapfile -t ORDER < <(for n in "${SESSIONS[@]}"; do printf '%s\t%s\n' "$(printf '%s' "${KEY_OF[$n]}" | md5sum | cut -c1-8)" "$n"; done | sort | cut -f2)

declare -A SASL_USERS=()
COMPARED=0
SKIPPED=0
SKIP_LIST=""
for name in "${ORDER[@]}"; do
    in="$SESSIONS_DIR/$name.in"
    read -r -a argv <<<"$(sed -n '1s/^# args: //p' "$in")"
    parse_args "$name" "${argv[@]}"
    # The simulator, from the source tree as test_session.sh runs it.
    (cd "$SRCDIR" && "$MXGUARD" "${S_SIM[@]}" <"$in" >"$T/$name.sim" 2>&1)
    rc=$?
    [ "$rc" -eq 0 ] || check "session $name: the simulator exits 0 (it exited $rc)" false
    if [ -z "$S_SKIP" ] && grep -q '^# the rules greylist or test rate limits, but no --store was given' "$T/$name.sim"; then
        S_SKIP="its rules greylist or rate-limit and it gives no --store: the simulator skips those checks, the daemon never does"
    fi
    if [ -n "$S_SKIP" ]; then
        echo "# session $name: not comparable: $S_SKIP"
        SKIPPED=$((SKIPPED + 1))
        SKIP_LIST="$SKIP_LIST $name"
        continue
    fi
    if ! daemon_for "$S_RULES" "$S_DAEMON"; then
        check "session $name: the daemon starts on its rules and options" false
        continue
    fi
    if [ -n "$S_USER" ] && [ -z "${SASL_USERS[$S_USER]:-}" ]; then
        pf_add_sasl_user "$S_USER" "$SASL_PASS" mx.mxguard.test || setup_failed "saslpasswd2 failed"
        SASL_USERS[$S_USER]=1
    fi
    offset=$(wc -l <"$PF_LOG" 2>/dev/null || echo 0)
    t0=$EPOCHREALTIME
    python3 "$T/parity.py" run "$PF_PORT" "$in" "$S_ADDR" "$S_NAME" "$S_USER" "$SASL_PASS" "$S_TLS" "$S_TLS_WANT" "$T/$name.json" \
        "$T/$name.sim" "$PF_LOG" "$offset" "$PF_QUEUE" "$SINK_DIR" "$PF_DIR" "$T/mta-own.tsv" >"$T/$name.cmp" 2>&1
    rc=$?
    if grep -q '^not comparable: ' "$T/$name.cmp"; then
        echo "# session $name: $(sed -n 's/^not comparable: /not comparable: /p' "$T/$name.cmp")"
        SKIPPED=$((SKIPPED + 1))
        SKIP_LIST="$SKIP_LIST $name"
        continue
    fi
    COMPARED=$((COMPARED + 1))
    grep '^#' "$T/$name.cmp" | sed "s/^# /# $name: /; \$s/\$/ ($(elapsed_since "$t0") s)/"
    ndiff=0
    while IFS= read -r d; do
        ndiff=$((ndiff + 1))
        check "session $name: DIFFERS: ${d#diff: }" false
    done < <(grep '^diff: ' "$T/$name.cmp")
    if [ "$rc" -ne 0 ] || grep -qv '^\(#\|diff: \)' "$T/$name.cmp"; then
        show "$T/$name.cmp" "comparer output"
        ndiff=$((ndiff + 1))
    fi
    if [ "$ndiff" -ne 0 ]; then
        show "$T/$name.sim" "simulator output"
        show "$T/$name.json" "postfix replies"
        tail -n +"$((offset + 1))" "$PF_LOG" | sed 's/^/#   /'
    fi
    check "session $name: the daemon behind postfix and the simulator agree" test "$ndiff" -eq 0
done

echo "# $COMPARED of ${#SESSIONS[@]} sessions compared; $SKIPPED not comparable${SKIP_LIST:+ (reasons above):$SKIP_LIST}"
check "every session was compared or said why not" test $((COMPARED + SKIPPED)) -eq "${#SESSIONS[@]}"
check "the daemons of earlier groups stopped" old_daemons_gone
finish
