#!/usr/bin/env python3
# raw_milter.py: a milter-protocol client that writes the packets itself,
# so a test can send what no real MTA sends (tests/daemon/odd_macro.sh).
#
#   raw_milter.py SOCKET normal    a whole session from an outside client:
#                                  prints the reply letter to a relaying RCPT
#                                  (y: our 554 reply) and to a local one (c)
#   raw_milter.py SOCKET odd-macro a session whose MAIL macros are a name
#                                  without a value (SMFIC_MACRO with an odd
#                                  number of strings); prints the reply letter
#                                  to MAIL, or "closed" if the filter hung up
#   raw_milter.py SOCKET paused S  a session that stops for S seconds after
#                                  its local RCPT (printing "rcpt=LETTER"
#                                  at once), then sends its message; prints
#                                  the final reply letter to end of message
#                                  ("eom=a"), or "closed" if the filter hung
#                                  up (tests/daemon/graceful_stop.sh)
#
# It must never wait forever: every read has a timeout. Exit 0 when it got
# the replies it printed, 1 on a protocol problem.
import socket
import struct
import sys
import time

OFFERED_ACTIONS = 0x1FF
OFFERED_PROTOCOL = 0x1FFFFF   # what postfix offers: NR_* and NO* steps
NR_BITS = {'C': 0x1000, 'H': 0x2000, 'M': 0x4000, 'R': 0x8000, 'L': 0x80, 'N': 0x40000, 'B': 0x80000}
NO_BITS = {'C': 0x1, 'H': 0x2, 'M': 0x4, 'R': 0x8, 'L': 0x20, 'N': 0x40, 'B': 0x10}


class Closed(Exception):
    pass


class Milter:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(15)
        self.s.connect(path)
        self.proto = 0

    def send(self, cmd, data=b''):
        self.s.sendall(struct.pack('>I', len(data) + 1) + cmd.encode() + data)

    def _read(self, n):
        buf = b''
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise Closed()
            buf += chunk
        return buf

    def reply(self):
        while True:
            n = struct.unpack('>I', self._read(4))[0]
            body = self._read(n)
            if body[:1] != b'p':  # progress: keep waiting
                return body[:1].decode(), body[1:]

    def negotiate(self):
        self.send('O', struct.pack('>III', 6, OFFERED_ACTIONS, OFFERED_PROTOCOL))
        cmd, body = self.reply()
        if cmd != 'O':
            raise Closed()
        self.proto = struct.unpack('>III', body[:12])[2]

    def step(self, cmd, data):
        """Send a step; the reply letter, or None when the step is skipped or takes none."""
        if self.proto & NO_BITS.get(cmd, 0):
            return None
        self.send(cmd, data)
        if self.proto & NR_BITS.get(cmd, 0):
            return None
        return self.reply()[0]

    def macro(self, stage, *strings):
        self.send('D', stage.encode() + b''.join(s.encode() + b'\0' for s in strings))

    def start(self, ip):
        self.negotiate()
        self.macro('C', 'j', 'gw.example.org', '{daemon_name}', 'raw')
        self.step('C', b'client.example\0' + b'4' + struct.pack('>H', 25) + ip.encode() + b'\0')
        self.macro('H', '{tls_version}', 'TLSv1.3')
        self.step('H', b'client.example\0')

    def close(self):
        try:
            self.send('Q')
        except OSError:
            pass
        self.s.close()


def normal(path):
    m = Milter(path)
    m.start('203.0.113.7')
    m.macro('M', 'i', 'RAWQ1', '{mail_addr}', 'sender@outside.example')
    m.step('M', b'<sender@outside.example>\0')
    relay = m.step('R', b'<victim@elsewhere.example>\0')
    local = m.step('R', b'<user@example.org>\0')
    m.close()
    print('relay=%s local=%s' % (relay, local))
    return 0


def odd_macro(path):
    m = Milter(path)
    m.start('203.0.113.8')
    # One string: a macro name and no value. libmilter stores it as
    # ["{odd}", NULL] and smfi_getsymval steps over the NULL to the next
    # pointer. The packets before it, replaced one by the next, leave
    # freed heap chunks of that size with bytes in that place, so the plain
    # build reads a wild pointer there (the ASan build reports the read).
    for _ in range(4):
        m.macro('M', 'x' * 22)
    m.macro('M', '{odd}')
    try:
        got = m.step('M', b'<sender@outside.example>\0')
        print('mail=%s' % got)
    except (Closed, ConnectionError, socket.timeout):
        print('closed')
    m.close()
    return 0


FINAL = 'acdrty'  # accept, continue, discard, reject, tempfail, reply code


def paused(path, seconds):
    m = Milter(path)
    m.s.settimeout(seconds + 15)
    m.start('203.0.113.9')
    m.macro('M', 'i', 'RAWQ2', '{mail_addr}', 'sender@outside.example')
    m.step('M', b'<sender@outside.example>\0')
    print('rcpt=%s' % m.step('R', b'<user@example.org>\0'), flush=True)
    time.sleep(seconds)
    try:
        m.step('L', b'From\0<sender@outside.example>\0')
        m.step('L', b'Subject\0paused\0')
        m.step('N', b'')
        m.step('B', b'a message sent while the filter stops\r\n')
        m.send('E')
        letter = m.reply()[0]
        while letter not in FINAL:  # header edits come first
            letter = m.reply()[0]
        print('eom=%s' % letter)
    except (Closed, ConnectionError, socket.timeout):
        print('closed')
    m.close()
    return 0


def main():
    modes = ('normal', 'odd-macro', 'paused')
    if len(sys.argv) < 3 or sys.argv[2] not in modes or (sys.argv[2] == 'paused') != (len(sys.argv) == 4):
        print('usage: raw_milter.py SOCKET normal|odd-macro|paused SECONDS', file=sys.stderr)
        return 2
    try:
        if sys.argv[2] == 'paused':
            return paused(sys.argv[1], float(sys.argv[3]))
        return normal(sys.argv[1]) if sys.argv[2] == 'normal' else odd_macro(sys.argv[1])
    except (Closed, OSError) as e:
        print('protocol: %r' % e, file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
