#!/bin/bash
# postfix_auth.sh: sender authentication end to end, with the shipped
# gateway rules. A private postfix presents outside clients with XCLIENT;
# mxguard asks a real nsd on loopback for SPF records. What arrives at the
# sink carries one Authentication-Results header under our authserv-id
# (forged ones gone, foreign ones kept) and a Received-SPF header; an SPF
# fail is refused with the domain's explanation; a domain whose DNS does
# not answer gets a tempfail, never a failure.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
. "$SRCDIR/tests/lib/dns.sh"
need_postfix
need_dns
need_nsd
need_cmd openssl
SIGN="$BUILDDIR/tests/dkim/dkim_sign"

ID=mx.gateway.test
CLIENT=203.0.113.7
# A DKIM key, private to this test (0600 in a 0700 directory).
mkdir -m 700 "$T/keys"
(umask 077; openssl genrsa -out "$T/keys/sel.pem" 2048 2>/dev/null)
KEY_TXT=$(openssl rsa -in "$T/keys/sel.pem" -pubout -outform DER 2>/dev/null | base64 -w0 | fold -w 200 |
          sed 's/.*/"&"/' | tr '\n' ' ')
dns_zone example. <<ZONE
sel._domainkey.pass TXT  "v=DKIM1; k=rsa; p=" $KEY_TXT
pass            TXT  "v=spf1 ip4:203.0.113.0/24 -all"
fail            TXT  "v=spf1 ip4:192.0.2.1 -all exp=why.fail.example"
why.fail        TXT  "Mail from %{d} never comes from %{i}"
soft            TXT  "v=spf1 ~all"
ZONE
start_gateway_dns || setup_failed "nsd did not start"

R="$T/rules"
copy_gateway_rules "$R"
"$MXGUARD" -n -c "$R/gateway.rules" >"$T/check.out" 2>&1 || { cat "$T/check.out"; setup_failed "rules do not load"; }
start_mxguard "$R/gateway.rules" "$GATEWAY_DNS" --authserv-id "$ID" --dns-timeout 2000 --dns-budget 4000 ||
    setup_failed "mxguard did not start"
start_sink || setup_failed "smtp-sink did not start"
start_postfix "unix:$MXG_SOCK" || setup_failed "postfix did not start"

# ar_ours FILE: the Authentication-Results headers of a delivered message
# that claim our authserv-id, unfolded, one a line.
headers_of() { sed -n '1,/^\r\{0,1\}$/p' "$1" | tr -d '\r' | sed -e ':a' -e '$!N;s/\n[ \t]\+/ /;ta' -e 'P;D'; }
ar_ours() { headers_of "$1" | grep -iE "^Authentication-Results: *(\([^)]*\) *)?\"?$ID\.?\"?( |;|$)"; }
count_ours() { ar_ours "$1" | wc -l; }

# 1. SPF pass, with forged A-R headers (ours, however dressed) and foreign ones.
id1=$(test_id)
smtp_send "$T/1.out" --xclient-addr "$CLIENT" --from sender@pass.example --to user@example.org \
    --header "X-Test-Id: $id1" \
    --add-header "Authentication-Results: $ID; spf=pass smtp.mailfrom=ceo@example.org" \
    --add-header "Authentication-Results: other.example; dkim=pass header.d=foreign.example" \
    --add-header "Authentication-Results: (planted) MX.Gateway.TEST.; dkim=pass header.d=example.org" \
    --add-header "Authentication-Results: \"$ID\"; dmarc=pass" \
    --add-header "Authentication-Results: other.example; spf=fail"
check "SPF pass: accepted at end of data" reply_after "$T/1.out" "." "^250 "
check "SPF pass: delivered" sink_wait_for "$id1" 15
f=$(sink_files_with "$id1" | head -n 1); f=${f:-/dev/null}
check "exactly one Authentication-Results claims $ID (the three forged ones are gone)" \
    test "$(count_ours "$f")" = 1
check "ours says spf=pass for the MAIL FROM" \
    contains <(ar_ours "$f") "^Authentication-Results: $ID; spf=pass smtp.mailfrom=sender@pass.example;"
check "ours reports DKIM (no signature: none)" contains <(ar_ours "$f") "; dkim=none"
check "the foreign Authentication-Results headers stay" \
    test "$(headers_of "$f" | grep -c '^Authentication-Results: other.example;')" = 2
check "no forged claim survives (planted pass for example.org)" not_contains "$f" "header.d=example.org"
check "Received-SPF: pass, with client-ip and envelope-from" \
    contains <(headers_of "$f") "^Received-SPF: pass .*client-ip=$CLIENT.*envelope-from=\"?sender@pass.example"
check "mxguard logs the removal" wait_for 5 grep -q "removed 3 Authentication-Results headers claiming $ID" "$MXG_LOG"

# 2. SPF fail: refused at end of data with the domain's explanation.
id2=$(test_id)
smtp_send "$T/2.out" --xclient-addr "$CLIENT" --from sender@fail.example --to user@example.org \
    --header "X-Test-Id: $id2"
check "SPF fail: 550 5.7.23 with the published explanation" reply_after "$T/2.out" "." \
    "^550 5\.7\.23 SPF: fail\.example does not allow $CLIENT to send its mail Mail from fail\.example never comes from $CLIENT$"
check "SPF fail: nothing delivered" sink_never_got "$id2"

# 3. SPF softfail: delivered, and said so.
id3=$(test_id)
smtp_send "$T/3.out" --xclient-addr "$CLIENT" --from sender@soft.example --to user@example.org \
    --header "X-Test-Id: $id3"
check "SPF softfail: delivered" sink_wait_for "$id3" 15
f=$(sink_files_with "$id3" | head -n 1); f=${f:-/dev/null}
check "SPF softfail: spf=softfail in ours" contains <(ar_ours "$f") "spf=softfail smtp.mailfrom=sender@soft.example"

# 4. A domain whose DNS does not answer (nsd serves no net. zone: REFUSED,
# which the resolver turns into SERVFAIL): tempfail, not a failure.
id4=$(test_id)
smtp_send "$T/4.out" --xclient-addr "$CLIENT" --from sender@unanswered.net --to user@example.org \
    --header "X-Test-Id: $id4"
check "SPF temperror: 451 4.7.24 at end of data" reply_after "$T/4.out" "." "^451 4\.7\.24 SPF check of unanswered\.net failed temporarily"
check "SPF temperror: nothing delivered (the sender retries)" sink_never_got "$id4"

# 5. DKIM: a message signed by pass.example passes; one altered after signing fails, but is delivered.
id6=$(test_id)
printf '%s\n' "From: Alice <alice@pass.example>" "To: Bob <user@example.org>" "Subject: signed report" \
    "Date: Sun, 29 Nov 2026 12:00:00 +0000" "Message-ID: <$id6@pass.example>" "X-Test-Id: $id6" "" \
    "The figures are attached." >"$T/msg.eml"
"$SIGN" -k "$T/keys/sel.pem" -s sel -d pass.example "$T/msg.eml" >"$T/signed.eml" 2>"$T/sign.err" ||
    { cat "$T/sign.err"; setup_failed "dkim_sign failed"; }
smtp_send "$T/6.out" --xclient-addr "$CLIENT" --from sender@pass.example --to user@example.org --data "$T/signed.eml"
check "DKIM signed: delivered" sink_wait_for "$id6" 15
f=$(sink_files_with "$id6" | head -n 1); f=${f:-/dev/null}
check "DKIM signed: dkim=pass with header.d, header.s, header.a and header.b" \
    contains <(ar_ours "$f") "dkim=pass header.d=pass.example header.s=sel header.a=rsa-sha256 header.b=[A-Za-z0-9+/]{8}"

id7=$(test_id)
sed -e "s/$id6/$id7/g" -e 's/The figures are attached/The figures are NOT attached/' "$T/signed.eml" >"$T/altered.eml"
smtp_send "$T/7.out" --xclient-addr "$CLIENT" --from sender@pass.example --to user@example.org --data "$T/altered.eml"
check "DKIM altered: delivered all the same (a DKIM failure alone refuses nothing)" sink_wait_for "$id7" 15
f=$(sink_files_with "$id7" | head -n 1); f=${f:-/dev/null}
check "DKIM altered: dkim=fail with the reason" \
    contains <(ar_ours "$f") "dkim=fail reason=\"[^\"]+\" header.d=pass.example header.s=sel"

# 5b. c=simple/simple over fields without exactly one space after the colon:
# mxguard negotiates SMFIP_HDR_LEADSPC, postfix passes the values as they
# were, and the signature verifies (with the one space guessed back it failed).
id9=$(test_id)
printf 'From: Alice <alice@pass.example>\nTo:user@example.org\nSubject:  spaced\nCc:\tcc@example.org\n'\
'Date: Sun, 06 Dec 2026 12:00:00 +0000\nMessage-ID: <%s@pass.example>\nX-Test-Id: %s\n\nSimple.\n' \
    "$id9" "$id9" >"$T/lead.eml"
"$SIGN" -k "$T/keys/sel.pem" -s sel -d pass.example -c simple "$T/lead.eml" >"$T/lead-signed.eml" 2>"$T/sign.err" ||
    { cat "$T/sign.err"; setup_failed "dkim_sign failed"; }
smtp_send "$T/9.out" --xclient-addr "$CLIENT" --from sender@pass.example --to user@example.org \
    --data "$T/lead-signed.eml"
check "c=simple, To: and Subject: without one space: delivered" sink_wait_for "$id9" 15
f=$(sink_files_with "$id9" | head -n 1); f=${f:-/dev/null}
check "c=simple, To: and Subject: without one space: the fields arrive as sent" \
    sh -c "grep -q '^To:user@example.org' '$f' && grep -q '^Subject:  spaced' '$f'"
check "c=simple, To: and Subject: without one space: dkim=pass" \
    contains <(ar_ours "$f") "dkim=pass header.d=pass.example header.s=sel"
check "our headers keep one space after the colon (SMFIP_HDR_LEADSPC: the value carries it)" \
    sh -c "grep -q '^Authentication-Results: $ID;' '$f' && grep -q '^Received-SPF: pass ' '$f'"

# 6. A trusted client (postfix's own 127.0.0.1) is not checked, but a forged header still goes.
id5=$(test_id)
smtp_send "$T/5.out" --from app@example.org --to user@example.org --header "X-Test-Id: $id5" \
    --add-header "Authentication-Results: $ID; spf=pass smtp.mailfrom=ceo@example.org"
check "trusted client: delivered" sink_wait_for "$id5" 15
f=$(sink_files_with "$id5" | head -n 1); f=${f:-/dev/null}
check "trusted client: no Authentication-Results claims $ID (forged one removed, none added)" \
    test "$(count_ours "$f")" = 0
check "trusted client: no Received-SPF (not SPF-checked)" not_contains "$f" "^Received-SPF:"
# 8. A 10 MB signed message verifies; the filter's peak memory grows by
# little more than libopendkim's own buffers (the body is hashed as it
# streams, never kept).
pf_set message_size_limit=30000000 && pf_reload
id8=$(test_id)
{ printf '%s\n' "From: Alice <alice@pass.example>" "To: Bob <user@example.org>" "Subject: big signed" \
      "Date: Sun, 29 Nov 2026 12:00:00 +0000" "Message-ID: <$id8@pass.example>" "X-Test-Id: $id8" ""
  head -c 7700000 /dev/urandom | base64 -w 76; } >"$T/big.eml"
"$SIGN" -k "$T/keys/sel.pem" -s sel -d pass.example "$T/big.eml" >"$T/big-signed.eml" 2>"$T/sign.err" ||
    { cat "$T/sign.err"; setup_failed "dkim_sign failed"; }
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$(filter_pid)/status"; }
before=$(hwm)
smtp_send "$T/8.out" --xclient-addr "$CLIENT" --from sender@pass.example --to user@example.org --data "$T/big-signed.eml"
check "10 MB signed message: delivered" sink_wait_for "$id8" 60
f=$(sink_files_with "$id8" | head -n 1); f=${f:-/dev/null}
check "10 MB signed message: dkim=pass" contains <(ar_ours "$f") "dkim=pass header.d=pass.example header.s=sel"
after=$(hwm)
echo "# filter peak RSS: ${before:-?} kB before, ${after:-?} kB after a $(($(stat -c %s "$T/big-signed.eml") / 1024)) kB message"
# Under ASan freed memory sits in quarantine: the bound means something only in a plain build.
if asan_build; then
    echo "# (sanitizer build: the peak RSS bound is checked in the plain build)"
else
    check "10 MB signed message: the filter's peak RSS grew by less than 4 MB" \
        test -n "$before" -a -n "$after" -a $((after - before)) -lt 4096
fi

# 7. The session simulator shows the same results, from the same DNS.
{ printf 'EHLO client.mxguard.test\nMAIL FROM:<sender@pass.example>\nRCPT TO:<user@example.org>\nDATA\n'
  sed 's/^\./../' "$T/signed.eml"; printf '.\nQUIT\n'; } >"$T/session.in"
"$MXGUARD" -c "$R/gateway.rules" --test-session "$CLIENT" "$GATEWAY_DNS" --authserv-id "$ID" \
    <"$T/session.in" >"$T/session.out" 2>&1
sed 's/^/#   /' "$T/session.out"
check "--test-session: the SPF result" contains "$T/session.out" "^# spf \(mail from\): pass domain=pass\.example$"
check "--test-session: the DKIM result per signature" \
    contains "$T/session.out" "^# dkim: pass d=pass\.example s=sel a=rsa-sha256 bits=2048$"
check "--test-session: the Authentication-Results header it would add" \
    contains "$T/session.out" "^# eom: authentication-results Authentication-Results: $ID;$"
check "--test-session: accepted" contains "$T/session.out" "^250 2\.0\.0 Ok: queued"
finish
