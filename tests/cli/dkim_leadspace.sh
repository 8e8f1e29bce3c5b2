#!/bin/bash
# dkim_leadspace.sh: a c=simple/simple DKIM signature over header fields
# without exactly one space after the colon ("To:b@example.org",
# "Subject:  x", "Cc:<tab>c@example.org") verifies through the session
# simulator (mxguard --test-session, against nsd on loopback) and through
# a rule file's own test (mxguard -n, the key in the test's dns records):
# both pass header values with the whitespace after the colon, as an MTA
# that negotiated SMFIP_HDR_LEADSPC does. The header rules still see the
# values without it. The message is signed here with libopendkim
# (tests/dkim/dkim_sign) and a key made here with openssl.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/dns.sh"
need_nsd
need_cmd openssl
SIGN="$BUILDDIR/tests/dkim/dkim_sign"
[ -x "$SIGN" ] || { check "the test tools are built (make check builds them)" false; finish; }

mkdir -m 700 "$T/keys"
(umask 077; openssl genrsa -out "$T/keys/sel.pem" 2048 2>/dev/null)
P=$(openssl rsa -in "$T/keys/sel.pem" -pubout -outform DER 2>/dev/null | base64 -w0)
dns_zone test. <<ZONE
sel._domainkey.example  TXT "v=DKIM1; k=rsa; p=" $(echo "$P" | fold -w 200 | sed 's/.*/"&"/' | tr '\n' ' ')
ZONE
start_nsd || { check "nsd starts" false; finish; }

printf 'From: Alice <alice@example.test>\nTo:b@example.org\nSubject:  x\nCc:\tc@example.org\n'\
'Date: Sun, 06 Dec 2026 12:00:00 +0000\nMessage-ID: <leadspace@example.test>\n\nThe body.\n' >"$T/msg.eml"
"$SIGN" -k "$T/keys/sel.pem" -s sel -d example.test -c simple "$T/msg.eml" >"$T/signed.eml" 2>"$T/sign.err" ||
    { sed 's/^/#   /' "$T/sign.err"; check "dkim_sign signs" false; finish; }
check "the signature is c=simple/simple" grep -q 'c=simple/simple' "$T/signed.eml"
check "the signed fields keep their spacing" grep -qx 'Subject:  x' "$T/signed.eml"

cat >"$T/leadspace.rules" <<'EOF'
on header {
    tag subject-x if header.name = "Subject" and header.value = "x";
    tag to-b if header.name = "To" and header.value = "b@example.org";
    tag cc-c if header.name = "Cc" and header.value = "c@example.org";
}
on eom {
    authentication-results;
    add-header "X-DKIM" "pass" if dkim.result = "pass";
    add-header "X-Seen" "subject x" if tagged subject-x;
    add-header "X-Seen" "to b" if tagged to-b;
    add-header "X-Seen" "cc c" if tagged cc-c;
}
EOF

# --- the session simulator -------------------------------------------------------
{ printf 'EHLO mail.example.test\nMAIL FROM:<alice@example.test>\nRCPT TO:<b@example.org>\nDATA\n'
  sed 's/^\./../' "$T/signed.eml"; printf '.\nQUIT\n'; } >"$T/session.in"
"$MXGUARD" -c "$T/leadspace.rules" --test-session 203.0.113.5 --dns "127.0.0.1@$NSD_PORT" \
    --authserv-id mx.test <"$T/session.in" >"$T/session.out" 2>&1
sed 's/^/#   /' "$T/session.out"
check "--test-session: the c=simple signature passes" \
    contains "$T/session.out" "^# dkim: pass d=example\.test s=sel a=rsa-sha256 bits=2048$"
check "--test-session: dkim=pass in our Authentication-Results" contains "$T/session.out" "dkim=pass header\.d=example\.test"
for seen in "subject x" "to b" "cc c"; do
    check "--test-session: the header rule saw the value without its leading whitespace ($seen)" \
        contains "$T/session.out" "^# eom: add-header X-Seen: $seen \\(rule "
done

# --- a rule file's own test --------------------------------------------------------
{ cat "$T/leadspace.rules"
  printf 'test "c=simple over fields without one space after the colon" {\n'
  printf '    authserv-id "mx.test";\n'
  # A TXT string holds 255 bytes at most: the key in several strings of one record.
  printf '    dns "sel._domainkey.example.test. TXT \\"v=DKIM1; k=rsa; p=\\"%s";\n' \
      "$(echo "$P" | fold -w 200 | sed 's/.*/ \\"&\\"/' | tr -d '\n')"
  printf '    client 203.0.113.5;\n    helo "mail.example.test";\n'
  printf '    mail "<alice@example.test>";\n    rcpt "<b@example.org>";\n'
  printf '    message "signed.eml";\n    eom expect continue;\n'
  printf '    added "Authentication-Results";\n    added "X-DKIM" "pass";\n'
  printf '    added "X-Seen" "subject x";\n    added "X-Seen" "to b";\n    added "X-Seen" "cc c";\n}\n'
} >"$T/selftest.rules"
"$MXGUARD" -n -v -c "$T/selftest.rules" >"$T/selftest.out" 2>&1
echo "rc=$?" >>"$T/selftest.out"
sed 's/^/#   /' "$T/selftest.out"
check "rule test: the c=simple signature passes, the header rules see the values (mxguard -n)" \
    contains "$T/selftest.out" "^rc=0$"
finish
