#!/bin/bash
# sign_postfix.sh: DKIM signing end to end, with the shipped gateway rules
# and a key table of two lines (rsa-sha256 and ed25519-sha256) for
# example.org. A trusted client's message leaves the private postfix with
# both signatures, and two verifiers that are not mxguard pass them
# against the keys a real nsd serves on loopback: dkimpy (python3-dkim,
# tests/dkim/sign_verify.py) and libopendkim's opendkim-testmsg, run in a
# network namespace of its own where the test's zone answers on
# 127.0.0.1:53 and a private resolv.conf points there. Mail from outside
# claiming our domain is refused at MAIL, or (null sender) goes in
# unsigned. A key others can read stops "mxguard -n", and a reload that
# brings one is refused while the old keys keep signing.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
. "$SRCDIR/tests/lib/dns.sh"
need_postfix
need_dns
need_nsd
need_cmd openssl
need_cmd unshare
need_cmd ip
/usr/bin/python3 -c 'import dkim, dnslib' 2>/dev/null || skip "needs python3-dkim and python3-dnslib"

# The sanitizer build: libopendkim leaks each Ed25519 key it signs with
# (policy/auth/dkim_sign.c); the suppression there names dkim_privkey_load,
# which only the slow unwinder sees through libcrypto. Elsewhere: unread.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"

R="$T/rules"
copy_gateway_rules "$R"
ensure_user
# Keys as mxguard(8) says: root:mxguard 0640, in a directory the filter
# (running as mxguard) can enter, since a reload reads them again.
install -d -o root -g mxguard -m 0750 "$R/keys"
openssl genrsa -out "$R/keys/rsa.pem" 2048 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$R/keys/ed.pem" 2>/dev/null
chown root:mxguard "$R/keys/rsa.pem" "$R/keys/ed.pem"
chmod 0640 "$R/keys/rsa.pem" "$R/keys/ed.pem"
printf 'example.org  rsa  keys/rsa.pem\nexample.org  ed  keys/ed.pem  ed25519-sha256\n' >"$R/dkim-keys"

rsa_txt=$(openssl rsa -in "$R/keys/rsa.pem" -pubout -outform DER 2>/dev/null | base64 -w0 | fold -w 200 |
          sed 's/.*/"&"/' | tr '\n' ' ')
ed_txt=$(openssl pkey -in "$R/keys/ed.pem" -pubout -outform DER 2>/dev/null | tail -c 32 | base64 -w0)
dns_zone org. <<ZONE
rsa._domainkey.example  TXT  "v=DKIM1; k=rsa; p=" $rsa_txt
ed._domainkey.example   TXT  "v=DKIM1; k=ed25519; p=$ed_txt"
ZONE
start_gateway_dns || setup_failed "nsd did not start"

"$MXGUARD" -n -c "$R/gateway.rules" >"$T/check.out" 2>&1 || { cat "$T/check.out"; setup_failed "rules do not load"; }
start_mxguard "$R/gateway.rules" "$GATEWAY_DNS" --authserv-id mx.gateway.test ||
    setup_failed "mxguard did not start"
start_sink || setup_failed "smtp-sink did not start"
start_postfix "unix:$MXG_SOCK" || setup_failed "postfix did not start"

not() { ! "$@"; }
headers_of() { sed -n '1,/^\r\{0,1\}$/p' "$1" | tr -d '\r' | sed -e ':a' -e '$!N;s/\n[ \t]\+/ /;ta' -e 'P;D'; }
dkimpy() { /usr/bin/python3 "$SRCDIR/tests/dkim/sign_verify.py" "$NSD_PORT" "$1" >"$T/dkimpy.out" 2>&1; local rc=$?
           sed 's/^/#   dkimpy: /' "$T/dkimpy.out"; return $rc; }

# opendkim_testmsg FILE: libopendkim verifies FILE, asking the system
# resolver, which in a namespace of its own is the test's zone on
# 127.0.0.1:53 (dnsfake.py serving nsd's zone files; nothing else answers).
opendkim_testmsg() {
    local ns="$T/ns"
    mkdir -p "$ns"
    echo "nameserver 127.0.0.1" >"$ns/resolv.conf"
    dns_fake_zonefiles >"$ns/spec"
    tr -d '\r' <"$1" >"$ns/msg"
    unshare --net --mount /bin/bash -c '
        ip link set lo up || exit 90
        mount --bind "$1/resolv.conf" /etc/resolv.conf || exit 91
        /usr/bin/python3 "$2" serve --port 53 --addr 127.0.0.1 "$1/spec" 2>"$1/dns.log" &
        for i in $(seq 1 50); do
            /usr/bin/python3 "$2" query --port 53 --short --timeout 0.2 example.org SOA >/dev/null 2>&1 && break
            sleep 0.1
        done
        opendkim-testmsg <"$1/msg"; rc=$?
        kill $! 2>/dev/null; wait
        exit $rc' _ "$ns" "$SRCDIR/tests/lib/dnsfake.py" >"$T/testmsg.out" 2>&1
    local rc=$?
    sed 's/^/#   opendkim-testmsg: /' "$T/testmsg.out"
    [ $rc = 0 ] || echo "#   opendkim-testmsg: exit $rc"
    return $rc
}

# send_trusted ID: a message from a trusted client (127.0.0.1) of our user to the outside.
send_trusted() {
    smtp_send "$T/$1.out" --from user@example.org --to partner@elsewhere.example \
        --header "From: Our User <user@example.org>" --header "Subject: figures $1" \
        --header "X-Test-Id: $1" --body "The figures are attached."
}

# 1. A trusted client's message: signed with both keys, and both verify.
id1=$(test_id)
send_trusted "$id1"
check "trusted client: accepted" reply_after "$T/$id1.out" "." "^250 "
check "trusted client: delivered" sink_wait_for "$id1" 15
f1=$(sink_files_with "$id1" | head -n 1); f1=${f1:-/dev/null}
check "an rsa-sha256 signature for example.org, relaxed/relaxed, s=rsa" \
    contains <(headers_of "$f1") "^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=rsa;"
check "an ed25519-sha256 signature for example.org, s=ed" \
    contains <(headers_of "$f1") "^DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org;.* s=ed;"
check "From: is oversigned (h= names it twice)" contains <(headers_of "$f1") "^DKIM-Signature: .*h=([^;]*:)?From:[^;]*:from;"
check "dkimpy verifies both signatures, Ed25519 included" dkimpy "$f1"
check "... one of them rsa-sha256" grep -q '^sig [12] a=rsa-sha256 d=example.org s=rsa: pass$' "$T/dkimpy.out"
check "... one of them ed25519-sha256" grep -q '^sig [12] a=ed25519-sha256 d=example.org s=ed: pass$' "$T/dkimpy.out"
check "opendkim-testmsg (libopendkim, the system resolver) verifies the message" opendkim_testmsg "$f1"
check "the record names both signatures" \
    wait_for 5 grep -Eq "record=message .*dkim_sign=signed dkim_sign.1.d=example.org dkim_sign.1.s=(rsa|ed) .*dkim_sign.2.d=example.org" "$MXG_LOG"

# The controls: an altered body fails both verifiers.
sed 's/The figures are attached\./The figures are different./' "$f1" >"$T/altered.eml"
check "control: dkimpy fails the altered message" not dkimpy "$T/altered.eml"
check "control: opendkim-testmsg fails the altered message" not opendkim_testmsg "$T/altered.eml"

# 2. An outside client giving our domain as sender: refused at MAIL, nothing delivered.
id2=$(test_id)
smtp_send "$T/2.out" --xclient-addr 203.0.113.7 --from user@example.org --to someone@example.org \
    --header "From: Our User <user@example.org>" --header "X-Test-Id: $id2"
check "outside client, our sender domain: refused at MAIL by [sender-impersonation]" \
    reply_after "$T/2.out" "MAIL FROM:" "^554 5\.7\.1 "
check "... and not delivered" sink_never_got "$id2"

# 3. An outside client with the null sender and From: our domain: in to our user, never signed.
id3=$(test_id)
smtp_send "$T/3.out" --xclient-addr 203.0.113.7 --from '<>' --to someone@example.org \
    --header "From: Our User <user@example.org>" --header "X-Test-Id: $id3"
check "outside client, null sender, From: our domain: accepted for our user" sink_wait_for "$id3" 15
f3=$(sink_files_with "$id3" | head -n 1); f3=${f3:-/dev/null}
check "... without a DKIM-Signature" not_contains <(headers_of "$f3") "^DKIM-Signature:"
check "... and no record of a client from outside has a signature" \
    not grep -Eq "record=message .*203\.0\.113\.7.* dkim_sign=" "$MXG_LOG"

# 4. A key others can read: mxguard -n refuses the rule file, naming the table line.
cp "$R/keys/ed.pem" "$R/keys/open.pem"
chmod 0644 "$R/keys/open.pem"
mkdir -p "$T/bad"
cp -R "$R/." "$T/bad/"
printf 'example.org  rsa  keys/open.pem\n' >"$T/bad/dkim-keys"
"$MXGUARD" -n -c "$T/bad/gateway.rules" >"$T/bad.out" 2>&1
rc=$?
sed 's/^/#   /' "$T/bad.out"
check "mxguard -n: exit 1" test "$rc" = 1
check "... with file:line:col of the table line and the fix" \
    grep -qF "$T/bad/dkim-keys:1:19: dkim-keys: key file \"$T/bad/keys/open.pem\" is readable by others (mode 0644): chmod 640" "$T/bad.out"

# 5. A reload that brings it is refused; the keys loaded before keep signing,
# even with their file now readable by others (keys are read at load only).
printf 'example.org  open  keys/open.pem\n' >>"$R/dkim-keys"
chmod 0644 "$R/keys/rsa.pem"
kill -HUP "$MXG_PID"
check "reload refused: the old rules and keys keep serving" wait_for 10 grep -q "still serving the previous rules" "$MXG_LOG"
check "... and the log names the key file" grep -q "dkim-keys:3:.*open.pem\" is readable by others (mode 0644)" "$MXG_LOG"
id5=$(test_id)
send_trusted "$id5"
check "after the refused reload: delivered" sink_wait_for "$id5" 15
f5=$(sink_files_with "$id5" | head -n 1); f5=${f5:-/dev/null}
check "... still signed with both old keys, and both verify" dkimpy "$f5"
check "... two signatures" test "$(grep -c ': pass$' "$T/dkimpy.out")" = 2
check "no filter restart happened" not_contains "$MXG_LOG" "died|exited with status"

finish
