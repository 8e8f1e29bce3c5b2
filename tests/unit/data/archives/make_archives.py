#!/usr/bin/env python3
"""make_archives.py DIR: the archives test_archive_scan reads, made at test
time (nothing binary is committed): zip, zip with an .exe, encrypted zip
(Debian's zip -e), truncated zip, a zip whose member inflates to 256 MB,
tar, tar.gz, a tar.gz declaring 100 MB, gz with and without a stored name,
7z and a 7z with encrypted headers (python3-py7zr), and a non-archive."""
import gzip, io, os, subprocess, sys, tarfile, zipfile, zlib

d = sys.argv[1]
p = lambda n: os.path.join(d, n)

with zipfile.ZipFile(p("plain.zip"), "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("readme.txt", "hello\n" * 100)
    z.writestr("docs/report.pdf", b"%PDF-1.4\n" + b"x" * 100)
with zipfile.ZipFile(p("exe.zip"), "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("invoice.exe", b"MZ" + b"\0" * 200)

# zip -e: ZipCrypto, names in clear, members flagged encrypted.
with open(p("secret.txt"), "w") as f:
    f.write("secret\n" * 50)
subprocess.run(["zip", "-q", "-j", "-P", "infected", p("encrypted.zip"), p("secret.txt")], check=True)
os.unlink(p("secret.txt"))

data = open(p("plain.zip"), "rb").read()
with open(p("truncated.zip"), "wb") as f:
    f.write(data[: len(data) // 2])

# A member of 256 MB of zeros (about 250 KB deflated): listed, never inflated.
with zipfile.ZipFile(p("bomb.zip"), "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
    with z.open("zeros.bin", "w") as m:
        block = bytes(1 << 20)
        for _ in range(256):
            m.write(block)

def tar(name, mode, members):
    with tarfile.open(p(name), mode) as t:
        for n, b in members:
            ti = tarfile.TarInfo(n)
            ti.size = len(b)
            t.addfile(ti, io.BytesIO(b))

tar("plain.tar", "w", [("a.txt", b"a\n"), ("dir/b.js", b"alert(1)\n")])
tar("plain.tar.gz", "w:gz", [("setup.exe", b"MZ" + bytes(100)), ("c.txt", b"c\n")])

# A tar.gz whose first member is 100 MB of zeros (about 100 KB compressed):
# skipping it would mean decompressing it; the declared size says no.
with tarfile.open(p("big.tar.gz"), "w:gz", compresslevel=1) as t:
    class Zeros(io.RawIOBase):
        def __init__(self, n): self.left = n
        def readable(self): return True
        def readinto(self, b):
            k = min(len(b), self.left); b[:k] = bytes(k); self.left -= k; return k
    ti = tarfile.TarInfo("huge.bin"); ti.size = 100 << 20
    t.addfile(ti, io.BufferedReader(Zeros(ti.size)))
    ti = tarfile.TarInfo("after.exe"); ti.size = 2
    t.addfile(ti, io.BytesIO(b"MZ"))

with open(p("named.gz"), "wb") as f:
    with gzip.GzipFile(filename="payload.exe", mode="wb", fileobj=f, mtime=0) as g:
        g.write(b"MZ" + bytes(100))
# A gzip stream without FNAME: zlib's gzip wrapper stores no name.
with open(p("nameless.gz"), "wb") as f:
    c = zlib.compressobj(wbits=31)
    f.write(c.compress(b"just text\n") + c.flush())

try:
    import py7zr  # Debian python3-py7zr
    for n, b in (("tool.exe", b"MZ" + bytes(100)), ("notes.txt", b"notes\n")):
        with open(p(n), "wb") as f:
            f.write(b)
    with py7zr.SevenZipFile(p("plain.7z"), "w") as z:
        z.write(p("tool.exe"), "tool.exe")
        z.write(p("notes.txt"), "notes.txt")
    with py7zr.SevenZipFile(p("encrypted.7z"), "w", password="infected", header_encryption=True) as z:
        z.write(p("tool.exe"), "hidden.exe")
    os.unlink(p("tool.exe"))
    os.unlink(p("notes.txt"))
except ImportError:
    pass

with open(p("text.txt"), "wb") as f:
    f.write(b"Dear customer,\nthis is not an archive at all.\n" * 20)
