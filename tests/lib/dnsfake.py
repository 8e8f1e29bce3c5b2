#!/usr/bin/python3
"""dnsfake.py: a small programmable authoritative DNS server for tests.

  dnsfake.py serve --port PORT [--addr 127.0.0.1 --addr ::1] SPEC
  dnsfake.py query --port PORT [--server ADDR] [--tcp] [--edns] [--timeout S]
                   [--short] [--time] [--class CH] [--expect RCODE] NAME [TYPE]

serve: UDP and TCP on each --addr (default 127.0.0.1 and ::1), one thread per
query (a delayed answer blocks nothing). One line per query on stderr:
  dnsfake: query PROTO CLIENT NAME TYPE -> RESULT [delay=MS]
(NAME lowercased). SIGTERM/SIGINT stop it at once; SIGHUP rereads the SPEC.
Exit 2: bad SPEC (the message says file:line); 3: an address could not be bound.
query: prints the answer like dig (--short: the records' data, or the rcode,
NODATA, TRUNCATED); exit 2: TIMEOUT, 3: MALFORMED, 1: not the --expect rcode.

SPEC: one rule per line; '#' at the start of a word outside quotes starts a
comment.
  @zone ORIGIN              serve ORIGIN (no data of its own)
  @zonefile PATH [ORIGIN]   serve ORIGIN with the records of a zone file; PATH
                            is relative to the SPEC; ORIGIN defaults to the
                            owner of the file's SOA
  NAME TYPE [WORD...]       a rule (NAME absolute; the final dot may be left off)
NAME "*.SUFFIX." matches every name below SUFFIX without a rule of its own.
TYPE: A AAAA PTR TXT SPF MX CNAME NS SOA SRV...; ANY matches every query type
(for actions and options; it carries no data). WORDs, in any order:
  delay=MS   answer after MS milliseconds (whatever the answer)
  ttl=N      TTL of the rule's records (default 5)
  repeat=N   N records; "{n}" in the data becomes 1..N (keeps them distinct)
  timeout    never answer                 servfail, nxdomain, refused,
  nodata     NOERROR, no records          rcode=NAME: answer with that rcode
  malformed  send the answer cut short (unparsable)
  wrongid    send the answer with another message ID (a client ignores it)
  tc         over UDP answer empty with TC set (the client retries over TCP)
  anything else: the record data in zone-file syntax; TXT and SPF take
  strings (quote them), several per record, \DDD for any byte (decimal);
  strings over 255 bytes are split.
Several rules with one NAME and TYPE make one RRset. An ANY rule's action
applies to the types without a rule of their own ("x. TXT "v=spf1 -all""
and "x. ANY timeout": TXT answers, SPF times out); its options apply to all.
A rule with options only ("x.test. ANY delay=500") changes the answer the
other rules or the zone files give. A query matching no rule is answered from the zone files: its
records, NODATA when the name exists, NXDOMAIN under a served zone (with the
zone's SOA), REFUSED elsewhere. A CNAME is followed through known data.
Without @zone/@zonefile lines, the top-level domains of the rules are served.
UDP answers over 512 bytes (or the client's EDNS size, at most 1232) are sent
empty with TC set, as a real server does.

Example:
  @zonefile zones/test.zone test.
  slow.test.     A    delay=800 192.0.2.1
  dead.test.     ANY  timeout
  *.list.test.   TXT  "listed: see https://example.org/#x" "second string"
  big.test.      TXT  repeat=40 "record {n} xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
"""
import argparse, os, re, signal, socket, socketserver, struct, sys, threading, time
from dnslib import (CLASS, DNSHeader, DNSRecord, EDNS0, QTYPE, RCODE, RDMAP, RR,
                    SOA, TXT)

RDMAP['SPF'] = TXT                  # type 99 has TXT's format
ACTIONS = ('timeout', 'servfail', 'nxdomain', 'nodata', 'refused')
FLAGS = ('malformed', 'wrongid', 'tc')
TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s"]+')
ANYT = QTYPE.ANY


def fqdn(name):
    return name.lower() if name.endswith('.') else name.lower() + '.'


def strip_comment(line):
    quoted = escaped = False
    for i, c in enumerate(line):
        if escaped:
            escaped = False
        elif c == '\\':
            escaped = True
        elif c == '"':
            quoted = not quoted
        elif c == '#' and not quoted and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def txt_strings(text):
    """The strings of TXT data as bytes: unquoted, zone-file escapes (\\DDD
    a byte in decimal, \\X for X) decoded, those over 255 bytes split."""
    words = [re.sub(rb'\\(\d{3}|.)', lambda m: bytes([int(m.group(1))]) if len(m.group(1)) == 3
                    else m.group(1), (w[1:-1] if w.startswith('"') else w).encode())
             for w in TOKEN.findall(text)]
    return [w[i:i + 255] for w in words for i in range(0, max(len(w), 1), 255)]


class Rule:
    def __init__(self, name, rtype, words, where):
        self.name, self.action, self.flags, self.rrs = name, None, set(), []
        opts, data = dict(delay=0, ttl=5, repeat=1), []
        try:
            self.rtype = ANYT if rtype == 'ANY' else getattr(QTYPE, rtype)
        except Exception:
            raise ValueError('%s: unknown type %s' % (where, rtype))
        for w in words:
            m = re.fullmatch(r'(delay|ttl|repeat)=(\d+)', w)
            low = w.lower()
            if m:
                opts[m.group(1)] = int(m.group(2))
            elif low in ACTIONS or low.startswith('rcode='):
                if self.action:
                    raise ValueError('%s: two actions' % where)
                self.action = low.split('=', 1)[-1].upper()
                try:
                    self.action in ('TIMEOUT', 'NODATA') or getattr(RCODE, self.action)
                except Exception:
                    raise ValueError('%s: unknown rcode %s' % (where, w))
            elif low in FLAGS:
                self.flags.add(low)
            else:
                data.append(w)
        if data and (self.action or self.rtype == ANYT):
            raise ValueError('%s: record data with an action or type ANY' % where)
        self.delay, ttl = opts['delay'], opts['ttl']
        for n in range(1, opts['repeat'] + 1) if data else ():
            text = ' '.join(data).replace('{n}', str(n))
            try:
                if rtype in ('TXT', 'SPF'):
                    self.rrs.append(RR(name, self.rtype, ttl=ttl, rdata=TXT(txt_strings(text))))
                else:
                    self.rrs += RR.fromZone('%s %d IN %s %s' % (name, ttl, rtype, text))
            except Exception as e:
                raise ValueError('%s: bad %s data %r: %s' % (where, rtype, text, e))


class Spec:
    def __init__(self, path):
        self.rules, self.records, self.soa = {}, {}, {}
        base = os.path.dirname(os.path.abspath(path))
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                where = '%s:%d' % (path, lineno)
                words = TOKEN.findall(strip_comment(line))
                if not words:
                    continue
                if words[0] == '@zone' and len(words) == 2:
                    self.soa.setdefault(fqdn(words[1]), None)
                elif words[0] == '@zonefile' and len(words) in (2, 3):
                    self.load_zone(os.path.join(base, words[1]),
                                   fqdn(words[2]) if len(words) == 3 else None, where)
                elif words[0].startswith('@') or len(words) < 2:
                    raise ValueError('%s: cannot parse %r' % (where, line.strip()))
                else:
                    name = fqdn(words[0])
                    self.rules.setdefault(name, []).append(
                        Rule(name, words[1].upper(), words[2:], where))
        if not self.soa:                # serve the rules' top-level domains
            for name in self.rules:
                self.soa.setdefault(name.split('.')[-2] + '.', None)

    def load_zone(self, path, origin, where):
        try:
            with open(path) as f:
                rrs = RR.fromZone(f.read(), origin=origin or '')
        except Exception as e:
            raise ValueError('%s: zone file %s: %s' % (where, path, e))
        for rr in rrs:
            if rr.rtype == QTYPE.SOA:
                origin = origin or fqdn(str(rr.rname))
                if fqdn(str(rr.rname)) == origin:
                    self.soa[origin] = rr
            self.records.setdefault(fqdn(str(rr.rname)), []).append(rr)
        if not origin:
            raise ValueError('%s: zone file %s: no origin and no SOA' % (where, path))
        self.soa.setdefault(origin, None)

    @staticmethod
    def node(table, name):
        """The entries of NAME, or of the closest wildcard above it."""
        if name in table:
            return table[name]
        labels = name.split('.')
        for i in range(1, len(labels) - 1):
            wild = '*.' + '.'.join(labels[i:])
            if wild in table:
                return table[wild]
        return None

    def zone_of(self, name):
        zones = [z for z in self.soa if name == z or name.endswith('.' + z) or z == '.']
        return max(zones, key=len) if zones else None

    def exists(self, name):
        return any(k == name or k.endswith('.' + name)
                   for table in (self.rules, self.records) for k in table)

    def lookup(self, name, qtype, depth=0):
        """(rcode, answers) from the rules' records and the zone files."""
        rnode = self.node(self.rules, name) or []
        znode = self.node(self.records, name) or []
        want = lambda rtype: qtype in (rtype, ANYT)
        rrs = [rr for r in rnode if want(r.rtype) for rr in r.rrs]
        rrs = rrs or [rr for rr in znode if want(rr.rtype)]
        cnames = [rr for r in rnode if r.rtype == QTYPE.CNAME for rr in r.rrs]
        cnames = cnames or [rr for rr in znode if rr.rtype == QTYPE.CNAME]
        rrs = [RR(name, rr.rtype, rr.rclass, rr.ttl, rr.rdata) for rr in rrs or cnames[:1]]
        if rrs and rrs[0].rtype == QTYPE.CNAME and qtype != QTYPE.CNAME and depth < 8:
            rrs += self.lookup(fqdn(str(rrs[0].rdata.label)), qtype, depth + 1)[1]
        if rrs or rnode or znode or self.exists(name):
            return RCODE.NOERROR, rrs
        return (RCODE.NXDOMAIN if self.zone_of(name) else RCODE.REFUSED), []

    def negative_soa(self, name):
        zone = self.zone_of(name)
        if zone is None:
            return []
        return [self.soa[zone] or RR(zone, QTYPE.SOA, ttl=5, rdata=SOA(
            'localhost.', 'hostmaster.' + zone.lstrip('.'), (1, 60, 60, 600, 5)))]


class Fake:
    def __init__(self, spec_path):
        self.spec_path, self.lock = spec_path, threading.Lock()
        self.spec = Spec(spec_path)

    def log(self, msg):
        with self.lock:
            sys.stderr.write('dnsfake: %s\n' % msg)
            sys.stderr.flush()

    def reload(self, *_):
        try:
            self.spec = Spec(self.spec_path)
            self.log('reloaded %s' % self.spec_path)
        except Exception as e:
            self.log('reload failed, keeping the old rules: %s' % e)

    def handle(self, data, proto, client):
        """The answer to send (bytes), or None for no answer."""
        try:
            q = DNSRecord.parse(data)
            name, qtype, qclass = fqdn(str(q.q.qname)), q.q.qtype, q.q.qclass
        except Exception:
            self.log('query %s %s unparsable -> no answer' % (proto, client))
            return None
        edns = [rr for rr in q.ar if rr.rtype == QTYPE.OPT]
        reply = DNSRecord(DNSHeader(id=q.header.id, qr=1, aa=1, rd=q.header.rd), q=q.q)
        if edns:
            reply.add_ar(EDNS0(udp_len=1232))
        if qclass == CLASS.CH and name == 'ready.dnsfake.':    # start probe, not logged
            reply.add_answer(RR(q.q.qname, QTYPE.TXT, CLASS.CH, 0, TXT('ready')))
            return reply.pack()
        spec = self.spec
        node = spec.node(spec.rules, name) or []
        rules = [r for r in node if r.rtype == qtype]    # ANY's action: other types only
        rules += [r for r in node if r.rtype == ANYT and not (rules and r.action)]
        delay = max([r.delay for r in rules] + [0])
        flags = set().union(*[r.flags for r in rules])
        action = next((r.action for r in rules if r.action), None)
        if action == 'TIMEOUT':
            result, rcode, rrs = 'timeout', None, []
        elif action == 'NODATA':
            rcode, rrs = RCODE.NOERROR, []
        elif action:
            rcode, rrs = getattr(RCODE, action), []
        else:
            rcode, rrs = spec.lookup(name, qtype)
        if rcode is not None:
            result = '%s/%d' % (RCODE.get(rcode), len(rrs))
        extra = ''.join(' ' + f for f in sorted(flags)) + (' delay=%d' % delay if delay else '')
        self.log('query %s %s %s %s -> %s%s' % (proto, client, name, QTYPE.get(qtype), result, extra))
        if delay:
            time.sleep(delay / 1000.0)
        if rcode is None:
            return None
        reply.header.rcode = rcode
        for rr in rrs:
            reply.add_answer(rr)
        if rcode == RCODE.NXDOMAIN or (rcode == RCODE.NOERROR and not rrs):
            for rr in spec.negative_soa(name):
                reply.add_auth(rr)
        out = reply.pack()
        limit = max(512, min(edns[0].rclass, 1232)) if edns else 512
        if proto == 'udp' and ('tc' in flags or len(out) > limit):
            reply = DNSRecord(DNSHeader(id=q.header.id, qr=1, aa=1, tc=1, rd=q.header.rd,
                                        rcode=rcode), q=q.q)
            if edns:
                reply.add_ar(EDNS0(udp_len=1232))
            out = reply.pack()
        if 'malformed' in flags:
            out = out[:len(out) - 3]
        if 'wrongid' in flags:
            out = struct.pack('!H', (q.header.id + 1) & 0xffff) + out[2:]
        return out


class UDPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        out = self.server.fake.handle(data, 'udp', self.client_address[0])
        if out is not None:
            sock.sendto(out, self.client_address)


def recv_exact(sock, n):
    buf = b''
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class TCPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(30)
        try:
            while True:
                head = recv_exact(self.request, 2)
                data = head and recv_exact(self.request, struct.unpack('!H', head)[0])
                if not data:
                    return
                out = self.server.fake.handle(data, 'tcp', self.client_address[0])
                if out is not None:
                    self.request.sendall(struct.pack('!H', len(out)) + out)
        except OSError:
            return


def serve(args):
    try:
        fake = Fake(args.spec)
    except (OSError, ValueError) as e:
        sys.stderr.write('dnsfake: %s\n' % e)
        return 2
    servers = []
    for addr in args.addr or ['127.0.0.1', '::1']:
        family = socket.AF_INET6 if ':' in addr else socket.AF_INET
        for base, handler in ((socketserver.UDPServer, UDPHandler),
                              (socketserver.TCPServer, TCPHandler)):
            cls = type('Server', (socketserver.ThreadingMixIn, base), dict(
                address_family=family, daemon_threads=True,
                allow_reuse_address=base is socketserver.TCPServer))
            try:
                srv = cls((addr, args.port), handler)
            except OSError as e:
                sys.stderr.write('dnsfake: cannot bind %s port %d: %s\n' % (addr, args.port, e))
                return 3
            srv.fake = fake
            servers.append(srv)

    def stop(*_):
        fake.log('stopping')
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, fake.reload)
    for srv in servers:
        threading.Thread(target=srv.serve_forever, kwargs=dict(poll_interval=0.2),
                         daemon=True).start()
    fake.log('serving %s on port %d (pid %d)' % (args.spec, args.port, os.getpid()))
    while True:
        signal.pause()


def query(a):
    q = DNSRecord.question(a.name, a.type.upper(), a.qclass.upper())
    if a.edns:
        q.add_ar(EDNS0(udp_len=1232))
    pkt, start, data = q.pack(), time.monotonic(), b''
    left = lambda: max(0.001, a.timeout - (time.monotonic() - start))
    sock = socket.socket(socket.AF_INET6 if ':' in a.server else socket.AF_INET,
                         socket.SOCK_STREAM if a.tcp else socket.SOCK_DGRAM)
    try:
        sock.settimeout(left())
        if a.tcp:
            sock.connect((a.server, a.port))
            sock.sendall(struct.pack('!H', len(pkt)) + pkt)
            head = recv_exact(sock, 2)
            data = (head and recv_exact(sock, struct.unpack('!H', head)[0])) or b''
        else:
            sock.sendto(pkt, (a.server, a.port))
            while data[:2] != pkt[:2]:          # an answer with another ID is ignored
                sock.settimeout(left())
                data = sock.recv(65535)
    except (socket.timeout, TimeoutError):
        print('TIMEOUT')
        return 2
    except OSError as e:
        print('ERROR %s' % e)
        return 2
    ms = int((time.monotonic() - start) * 1000)
    try:
        r = DNSRecord.parse(data)
    except Exception:
        print('MALFORMED (%d bytes)' % len(data) if data else 'CLOSED')
        return 3 if data else 2
    rcode = RCODE.get(r.header.rcode)
    if not a.short:
        print(r)
    elif r.header.tc or r.header.rcode != RCODE.NOERROR or not r.rr:
        print('TRUNCATED' if r.header.tc else rcode if r.header.rcode else 'NODATA')
    for rr in r.rr if a.short and not r.header.tc else ():
        print(('' if rr.rtype == q.q.qtype else QTYPE.get(rr.rtype) + ' ') + rr.rdata.toZone())
    if a.time:
        print(';; time: %d ms' % ms)
    return 1 if a.expect and a.expect.upper() != rcode else 0


def main():
    p = argparse.ArgumentParser(description='programmable DNS server for tests')
    sub = p.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('serve')
    s.add_argument('--port', type=int, required=True)
    s.add_argument('--addr', action='append')
    s.add_argument('spec')
    c = sub.add_parser('query')
    c.add_argument('--port', type=int, required=True)
    c.add_argument('--server', default='127.0.0.1')
    for flag in ('--tcp', '--edns', '--short', '--time'):
        c.add_argument(flag, action='store_true')
    c.add_argument('--timeout', type=float, default=3.0)
    c.add_argument('--class', dest='qclass', default='IN')
    c.add_argument('--expect')
    c.add_argument('name')
    c.add_argument('type', nargs='?', default='A')
    args = p.parse_args()
    return serve(args) if args.cmd == 'serve' else query(args)


if __name__ == '__main__':
    sys.exit(main())
