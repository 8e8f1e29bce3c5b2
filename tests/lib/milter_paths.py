#!/usr/bin/env python3
"""milter_paths.py: connections that end every way a milter connection can
end, for tests that count sessions (tests/daemon/overload.sh).

  milter_paths.py SOCKET N

N connections of each kind, one after the other, from 198.51.100.x:
  bare        connect to the socket and hang up (no command at all)
  negotiated  option negotiation, then hang up
  connected   negotiation and connect, then hang up without QUIT
  aborted     negotiation, connect, HELO, MAIL, ABORT, then QUIT
  quit        negotiation, connect, QUIT
Replies are read where one is due (a 15 s timeout each) and otherwise
ignored. Prints "paths=KINDS connections=TOTAL"; exit 1 if the socket
could not be reached.
"""
import socket
import struct
import sys

NO_REPLY = {'C': 0x1000, 'H': 0x2000, 'M': 0x4000}


def conn(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(15)
    s.connect(path)
    return s


def send(s, cmd, data=b''):
    s.sendall(struct.pack('>I', len(data) + 1) + cmd.encode() + data)


def reply(s):
    head = b''
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            return None
        head += chunk
    n = struct.unpack('>I', head)[0]
    body = b''
    while len(body) < n:
        chunk = s.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return body


def negotiate(s):
    send(s, 'O', struct.pack('>III', 6, 0x1FF, 0))   # every step, every reply
    return reply(s)


def step(s, cmd, data):
    send(s, cmd, data)
    return reply(s)


def connect_step(s, n):
    ip = '198.51.100.%d' % (1 + n % 250)
    return step(s, 'C', b'[' + ip.encode() + b']\0' + b'4' + struct.pack('>H', 25) + ip.encode() + b'\0')


def one(path, kind, n):
    s = conn(path)
    try:
        if kind != 'bare':
            negotiate(s)
        if kind in ('connected', 'aborted', 'quit'):
            connect_step(s, n)
        if kind == 'aborted':
            step(s, 'H', b'client.example\0')
            step(s, 'M', b'<a@outside.example>\0')
            send(s, 'A')        # abort: no reply
            send(s, 'Q')
        if kind == 'quit':
            send(s, 'Q')
    except OSError:
        pass
    finally:
        s.close()


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    path, n = sys.argv[1], int(sys.argv[2])
    kinds = ('bare', 'negotiated', 'connected', 'aborted', 'quit')
    total = 0
    try:
        for i in range(n):
            for k in kinds:
                one(path, k, total)
                total += 1
    except OSError as e:
        print('milter_paths: %s' % e)
        return 1
    print('paths=%d connections=%d' % (len(kinds), total))
    return 0


if __name__ == '__main__':
    sys.exit(main())
