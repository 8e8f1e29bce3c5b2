#!/usr/bin/python3
"""sign_verify.py: verify every DKIM-Signature of a message with dkimpy
(Debian's python3-dkim), the keys asked of a DNS server on loopback.

  sign_verify.py PORT FILE

dkimverify reads /etc/resolv.conf; this asks 127.0.0.1:PORT (the test's
nsd) through python3-dnslib instead. One line per signature, topmost
first: "sig N a=ALG d=DOMAIN s=SELECTOR: pass" (or "fail"). Exit 0 when
there was at least one signature and every one passed, 1 otherwise.
A test tool: never used by the daemon.
"""
import re
import sys

import dkim
from dnslib import DNSRecord, QTYPE


def dnsfunc_for(port):
    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        q = DNSRecord.question(name, "TXT")
        a = DNSRecord.parse(q.send("127.0.0.1", port, timeout=timeout))
        for rr in a.rr:
            if rr.rtype == QTYPE.TXT:
                return b"".join(rr.rdata.data)
        return None
    return dnsfunc


def tag(sig, name):
    m = re.search(rb"(?:^|;)\s*" + name + rb"\s*=\s*([^;]*)", sig)
    return re.sub(rb"\s+", b"", m.group(1)).decode() if m else "?"


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    with open(path, "rb") as f:
        msg = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    head = msg.split(b"\r\n\r\n", 1)[0]
    sigs = [m.group(1) for m in re.finditer(rb"(?im)^DKIM-Signature:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head)]
    d = dkim.DKIM(msg)
    ok = len(sigs) > 0
    for i, s in enumerate(sigs):
        good = d.verify(idx=i, dnsfunc=dnsfunc_for(port))
        ok = ok and good
        print("sig %d a=%s d=%s s=%s: %s" % (i + 1, tag(s, b"a"), tag(s, b"d"), tag(s, b"s"),
                                            "pass" if good else "fail"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
