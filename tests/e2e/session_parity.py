"""session_parity.py (run by session_parity.sh): "run" plays one dialogue
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
