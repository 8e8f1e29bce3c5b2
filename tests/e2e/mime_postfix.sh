#!/bin/bash
# mime_postfix.sh: the content facts through a private postfix. An .exe
# attachment (its name RFC 2231 encoded) is refused 554 5.7.1 with the
# file name, so is a zip with a program inside (with the member's name)
# and a program named like a PDF (by its detected type); a clean message
# with a PDF is delivered; and a 50 MB message
# with 10 attachments passes through the spool file (the filter's spool
# directory stays empty: the file had no name) while the filter's peak
# RSS (VmHWM, from /proc) rises by less than 8 MB: the number is printed.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
need_postfix

mkdir -p "$T/rules" "$T/spool"
cp "$SRCDIR/rules/examples/executable-exts" "$SRCDIR/rules/examples/executable-types" "$T/rules/"
cat >"$T/rules/mime.rules" <<'RULES'
list executable_exts words file "executable-exts";
list executable_types words file "executable-types";
on eom {
    [mime-limit] reject 552 5.3.4 "Message too complex to be checked (%{mime.limit} limit)" if mime.limit != "";
    [exe-attachment] reject 554 5.7.1 "Attachment %{attachment.name} refused: executable files are not accepted here" if attachment.ext in <executable_exts>;
    [exe-type] reject 554 5.7.1 "Attachment of type %{attachment.detected_type} refused: executable files are not accepted here" if attachment.detected_type in <executable_types>;
    [exe-in-archive] reject 554 5.7.1 "Attachment %{archive.member} (in an archive) refused: executable files are not accepted here" if archive.member_ext in <executable_exts>;
}
RULES
chmod -R go+rX "$T/rules"
chown mxguard "$T/spool" 2>/dev/null || { ensure_user; chown mxguard "$T/spool"; }
chmod 0700 "$T/spool"
"$MXGUARD" -n -c "$T/rules/mime.rules" >"$T/check.out" 2>&1 || { cat "$T/check.out"; setup_failed "rules do not load"; }

start_mxguard "$T/rules/mime.rules" --spool-dir "$T/spool" || setup_failed "mxguard did not start"
start_sink || setup_failed "smtp-sink did not start"
start_postfix "unix:$MXG_SOCK" || setup_failed "postfix did not start"
pf_set message_size_limit=80000000 && pf_reload || setup_failed "postfix did not take message_size_limit"

# message ID FILE [big]: a message with a text part and attachments.
message() {
    python3 - "$1" "$2" "${3:-}" <<'PY'
import base64, os, sys
tid, out, kind = sys.argv[1], sys.argv[2], sys.argv[3]
parts = ["--b\r\nContent-Type: text/plain\r\n\r\nHello.\r\n"]
def att(name, data, ctype="application/octet-stream", disp=None):
    disp = disp or 'attachment; filename="%s"' % name
    body = base64.encodebytes(data).decode().replace("\n", "\r\n")
    return "--b\r\nContent-Type: %s\r\nContent-Disposition: %s\r\nContent-Transfer-Encoding: base64\r\n\r\n%s" % (ctype, disp, body)
if kind == "exe":
    parts.append(att(None, b"MZ\x90\x00" + b"\x00" * 60, disp="attachment; filename*=UTF-8''invoice.pdf.exe"))
elif kind == "zip":
    import io, zipfile
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("readme.txt", "hello")
        zf.writestr("tools/setup.exe", b"MZ" + b"\x00" * 200)
    parts.append(att("files.zip", z.getvalue(), "application/zip"))
elif kind == "disguised":
    pe = bytearray(256)
    pe[0:2] = b"MZ"; pe[0x3c] = 0x80; pe[0x80:0x84] = b"PE\x00\x00"; pe[0x84:0x86] = b"\x4c\x01"
    parts.append(att("scan.pdf", bytes(pe), "application/pdf"))
elif kind == "big":
    # 10 x 3.8 MB, base64: 50 MB on the wire. Random bytes behind a fixed
    # start: bare random data is now and then a type libmagic recognises
    # (one file in about 300 starts like a DOS .COM program).
    for i in range(10):
        parts.append(att("data%d.bin" % i, b"MXGDATA\0" + os.urandom(3_800_000)))
else:
    parts.append(att("report.pdf", b"%PDF-1.4\n" + b"x" * 1000, "application/pdf"))
with open(out, "w", newline="") as f:
    f.write("From: sender@outside.example\r\nTo: user@example.org\r\nSubject: mime %s\r\n"
            "X-Test-Id: %s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n" % (kind, tid))
    f.write("".join(parts) + "--b--\r\n")
PY
}

send() { smtp_send "$1" --from sender@outside.example --to user@example.org --data "$2"; }

id1=$(test_id)
message "$id1" "$T/exe.eml" exe
send "$T/1.out" "$T/exe.eml"
check "an .exe attachment is refused with its name" \
    reply_matches "$T/1.out" "554 5\.7\.1 Attachment invoice\.pdf\.exe refused: executable files are not accepted here"
check "the .exe message is not delivered" sink_never_got "$id1"

idz=$(test_id)
message "$idz" "$T/zip.eml" zip
send "$T/z.out" "$T/zip.eml"
check "a zip with a program inside is refused with the member's name" \
    reply_matches "$T/z.out" "554 5\.7\.1 Attachment tools/setup\.exe \(in an archive\) refused"
check "the zip message is not delivered" sink_never_got "$idz"

idd=$(test_id)
message "$idd" "$T/disguised.eml" disguised
send "$T/d.out" "$T/disguised.eml"
check "a program named scan.pdf is refused by its detected type" \
    reply_matches "$T/d.out" "554 5\.7\.1 Attachment of type application/(vnd\.microsoft\.portable-executable|x-dosexec) refused"
check "the disguised program is not delivered" sink_never_got "$idd"

id2=$(test_id)
message "$id2" "$T/clean.eml"
send "$T/2.out" "$T/clean.eml"
check "a message with a PDF is accepted" reply_matches "$T/2.out" "250 2\.0\.0 Ok: queued"
check "a message with a PDF is delivered" sink_wait_for "$id2" 15

hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$(filter_pid)/status"; }
before=$(hwm)
id3=$(test_id)
message "$id3" "$T/big.eml" big
size=$(stat -c %s "$T/big.eml")
send "$T/3.out" "$T/big.eml"
after=$(hwm)
echo "# 50 MB message ($size bytes, 10 attachments): filter VmHWM ${before} kB before, ${after} kB after: +$((after - before)) kB"
check "the 50 MB message is accepted" reply_matches "$T/3.out" "250 2\.0\.0 Ok: queued"
check "the 50 MB message is delivered" sink_wait_for "$id3" 60
# AddressSanitizer keeps freed memory in quarantine (256 MB by default):
# the body's packets, freed as they pass, count in its peak: at most
# twice the message more.
rise_max=8192
if asan_build; then
    rise_max=$((2 * size / 1024 + 8192))
    echo "# an AddressSanitizer build: its quarantine of freed memory counts; at most $rise_max kB"
fi
check "the filter's peak RSS rose by less than $rise_max kB" test $((after - before)) -lt "$rise_max"
check "the spool directory holds no file (unlinked)" test -z "$(ls -A "$T/spool")"
finish
