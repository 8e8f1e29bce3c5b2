#!/bin/bash
# dkim_checks.sh: DKIM verification (policy/auth/dkim.c, libopendkim) against
# real DNS servers on loopback: nsd serves the public keys, dnsfake a key
# server that never answers, one that fails and one that is slow. Messages
# are signed here with libopendkim's signing API (tests/dkim/dkim_sign)
# and keys made here with openssl; tests/dkim/dkim_verify feeds them to
# dkim_check_* as libmilter would and prints the outcome per signature.
#
# Result mapping checked here: valid -> pass; body or header altered,
# revoked key (p=) -> fail; key missing, key record broken or doubled,
# signature malformed or expired -> permerror; RSA key below
# min_rsa_bits -> policy; key server timeout or SERVFAIL -> temperror
# (never fail); past a header limit -> permerror; body longer than the
# bytes hashed -> fail unless l= stays within them; a valid rsa-sha1
# signature -> permerror (RFC 8301), its key never asked.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/dns.sh"
need_dns
need_nsd
need_cmd openssl

SIGN="${BUILDDIR:-.}/tests/dkim/dkim_sign"
VERIFY="${BUILDDIR:-.}/tests/dkim/dkim_verify"
[ -x "$SIGN" ] && [ -x "$VERIFY" ] || { check "the test tools are built (make check builds them)" false; finish; }

# --- keys: in a private directory, files 0600 --------------------------------
K="$T/keys"
mkdir -m 700 "$K"
umask 077
openssl genrsa -out "$K/rsa.pem" 2048 2>/dev/null
openssl genrsa -out "$K/other.pem" 2048 2>/dev/null
openssl genrsa -out "$K/short.pem" 512 2>/dev/null
openssl genrsa -out "$K/rsa1024.pem" 1024 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$K/ed.pem" 2>/dev/null
umask 022

# rsa_txt KEY: the key record as zone-file strings; the 2048-bit key is
# split into several strings of one record, as opendkim-genkey does.
rsa_txt() {
    local p
    p=$(openssl rsa -in "$1" -pubout -outform DER 2>/dev/null | base64 -w0)
    printf '"v=DKIM1; k=rsa; p=" '
    echo "$p" | fold -w 200 | sed 's/.*/"&"/' | tr '\n' ' '
}
ed_txt() {
    printf '"v=DKIM1; k=ed25519; p=%s"' \
        "$(openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | tail -c 32 | base64 -w0)"
}

dns_zone test. <<ZONE
rsa._domainkey.example    TXT $(rsa_txt "$K/rsa.pem")
rsa2._domainkey.example   TXT $(rsa_txt "$K/rsa.pem")
other._domainkey.example  TXT $(rsa_txt "$K/other.pem")
short._domainkey.example  TXT $(rsa_txt "$K/short.pem")
r1024._domainkey.example  TXT $(rsa_txt "$K/rsa1024.pem")
ed._domainkey.example     TXT $(ed_txt "$K/ed.pem")
revoked._domainkey.example TXT "v=DKIM1; k=rsa; p="
junk._domainkey.example   TXT "this is not a key record"
multi._domainkey.example  TXT $(rsa_txt "$K/rsa.pem")
multi._domainkey.example  TXT $(rsa_txt "$K/other.pem")
slow1._domainkey.example  TXT $(rsa_txt "$K/rsa.pem")
slow2._domainkey.example  TXT $(rsa_txt "$K/rsa.pem")
ZONE
start_nsd || { check "nsd starts" false; finish; }

cat >"$T/fake.spec" <<EOF
$(dns_fake_zonefiles)
sel._domainkey.dead.test.      ANY timeout
sel._domainkey.sfail.test.     ANY servfail
sel._domainkey.garbled.test.   ANY malformed
big._domainkey.example.test.   TXT repeat=60 "v=DKIM1; k=rsa; p={n}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
slow1._domainkey.example.test. ANY delay=1200
slow2._domainkey.example.test. ANY delay=1200
EOF
start_dnsfake "$T/fake.spec" || { check "dnsfake starts" false; finish; }

# --- messages ------------------------------------------------------------------
cat >"$T/msg.eml" <<'EOF'
From: Alice <alice@example.test>
To: Bob <bob@example.org>
Subject: quarterly figures
Date: Sun, 29 Nov 2026 12:00:00 +0000
Message-ID: <dkim-test-1@example.test>

Hello Bob,

the figures are attached.
  (an indented line, and trailing spaces)   
EOF

# sign IN OUT KEY SELECTOR [DOMAIN] [dkim_sign options]
sign() {
    local in=$1 out=$2 key=$3 sel=$4 dom=${5:-example.test}
    shift 4; [ $# -gt 0 ] && shift
    "$SIGN" -k "$K/$key.pem" -s "$sel" -d "$dom" "$@" "$in" >"$out" 2>"$T/sign.err" || {
        echo "# dkim_sign failed:"; sed 's/^/#   /' "$T/sign.err"; return 1; }
}

# verify FILE [dkim_verify options]: against nsd unless --dns is given.
verify() {
    local file=$1; shift
    local dns="--dns=127.0.0.1@$NSD_PORT"
    case " $* " in *" --dns="*) dns="" ;; esac
    # shellcheck disable=SC2086
    "$VERIFY" $dns --deadline 3000 "$@" "$file" >"$T/out" 2>&1 || echo "exit status $?" >>"$T/out"
    sed 's/^/#   /' "$T/out"
    cat "$T/out" >>"$T/all-out"
}
has() { grep -Eq -- "$1" "$T/out"; }
fake() { echo "--dns=127.0.0.1@$FAKE_PORT"; }

# --- one signature -------------------------------------------------------------------
sign "$T/msg.eml" "$T/good.eml" rsa rsa
verify "$T/good.eml"
check "valid rsa-sha256 signature: pass" has '^dkim=pass nsigs=1 evaluated=1 '
check "... with d=, s=, algorithm, key bits and header.b" \
    has '^sig1 result=pass d=example\.test s=rsa a=rsa-sha256 bits=2048 b=[A-Za-z0-9+/]{8} problem=""$'

sign "$T/msg.eml" "$T/simple.eml" rsa rsa example.test -c simple
verify "$T/simple.eml"
check "simple/simple canonicalization (header values exact): pass" has '^sig1 result=pass .*s=rsa '

sed 's/the figures are attached/the figures are NOT attached/' "$T/good.eml" >"$T/body.eml"
verify "$T/body.eml"
check "body altered: fail (body hash mismatch)" has '^sig1 result=fail .*problem="body hash mismatch"$'
check "... overall fail" has '^dkim=fail '

sed 's/^Subject: quarterly figures/Subject: quarterly figures (edited)/' "$T/good.eml" >"$T/hdr.eml"
verify "$T/hdr.eml"
check "signed header altered: fail (signature mismatch)" has '^sig1 result=fail .*problem="signature mismatch"$'

sign "$T/msg.eml" "$T/nokey.eml" rsa gone
verify "$T/nokey.eml"
check "key record missing (NXDOMAIN): permerror" has '^sig1 result=permerror .*s=gone .*bits=0 .*problem="no key record'
check "... overall permerror" has '^dkim=permerror '

sign "$T/msg.eml" "$T/revoked.eml" rsa revoked
verify "$T/revoked.eml"
check "key revoked (empty p=): fail" has '^sig1 result=fail .*s=revoked .*problem="key revoked \(empty p=\)"$'

sign "$T/msg.eml" "$T/short.eml" short short
verify "$T/short.eml"
check "512-bit RSA key: policy, its size reported" \
    has '^sig1 result=policy .*s=short .*bits=512 .*problem="key of 512 bits, fewer than 1024"$'
verify "$T/short.eml" --min-bits 512
check "... pass when min_rsa_bits allows it" has '^sig1 result=pass .*s=short .*bits=512 '

sign "$T/msg.eml" "$T/wrongkey.eml" rsa other
verify "$T/wrongkey.eml"
check "signed with another key than the published one: fail" has '^sig1 result=fail .*s=other '

sign "$T/msg.eml" "$T/expired.eml" rsa rsa example.test -t 1577836800 -x 86400
verify "$T/expired.eml"
check "signature past its x= expiry: permerror" has '^sig1 result=permerror .*problem="signature expired"$'

sign "$T/msg.eml" "$T/junk.eml" rsa junk
verify "$T/junk.eml"
check "key record that is no key: permerror" has '^sig1 result=permerror .*s=junk '
sign "$T/msg.eml" "$T/multi.eml" rsa multi
verify "$T/multi.eml"
check "two key records for one selector: permerror" has '^sig1 result=permerror .*s=multi '

{ echo "DKIM-Signature: v=1; a=rsa-sha256; d=example.test; garbage"; cat "$T/msg.eml"; } >"$T/malformed.eml"
verify "$T/malformed.eml"
check "malformed signature: permerror, not none" has '^dkim=permerror nsigs=1 '

verify "$T/msg.eml"
check "unsigned message: none" has '^dkim=none nsigs=0 evaluated=0 '

# --- rsa-sha1: "MUST NOT be used for signing or verifying" (RFC 8301 3.1) ------------------
# Valid signatures whose keys are published: libopendkim alone says pass.
while read -r key sel bits; do
    sign "$T/msg.eml" "$T/sha1-$sel.eml" "$key" "$sel" example.test -a rsa-sha1
    verify "$T/sha1-$sel.eml"
    check "valid rsa-sha1 signature, $bits-bit key: permerror, not pass" has '^dkim=permerror nsigs=1 evaluated=1 '
    check "... the algorithm and the reason reported" \
        has "^sig1 result=permerror d=example\\.test s=$sel a=rsa-sha1 bits=0 .*problem=\"rsa-sha1 is not allowed \\(RFC 8301\\)\"\$"
    check "... and its key never asked" has '^dns asked=0 '
done <<'KEYS'
rsa rsa 2048
rsa1024 r1024 1024
KEYS
sign "$T/msg.eml" "$T/sha256-r1024.eml" rsa1024 r1024
verify "$T/sha256-r1024.eml"
check "the same 1024-bit key with rsa-sha256: pass" has '^sig1 result=pass d=example\.test s=r1024 a=rsa-sha256 bits=1024 '
sign "$T/sha1-rsa.eml" "$T/sha1-then-256.eml" rsa rsa2
verify "$T/sha1-then-256.eml"
check "rsa-sha256 on top of rsa-sha1: overall pass" has '^dkim=pass nsigs=2 evaluated=2 '
check "... the rsa-sha1 one still permerror" has '^sig2 result=permerror .*a=rsa-sha1 '
# Through the rule engine: the A-R reason and dkim.algorithm (its own
# tests, against messages signed once with the key it publishes).
"$MXGUARD" -n -c "$SRCDIR/tests/dkim/rsa-sha1.rules" >"$T/rules.out" 2>&1
rc=$?
sed 's/^/#   /' "$T/rules.out"
check "tests/dkim/rsa-sha1.rules: its tests pass (A-R reason, dkim.algorithm)" test "$rc" = 0

# --- ed25519-sha256 (RFC 8463) ------------------------------------------------------------
"$VERIFY" --ed25519 >"$T/ed"
if grep -q '^ed25519=yes' "$T/ed"; then
    echo "# this libopendkim supports ed25519-sha256"
    # libopendkim 2.11 leaks the ed25519 private key it loads to sign
    # (dkim_privkey_load): the test signer's leak report is not ours.
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        sign "$T/msg.eml" "$T/ed.eml" ed ed example.test -a ed25519-sha256
    verify "$T/ed.eml"
    check "ed25519-sha256 signature: pass, 256-bit key" \
        has '^sig1 result=pass d=example\.test s=ed a=ed25519-sha256 bits=256 '
    sed 's/the figures are attached/the figures are gone/' "$T/ed.eml" >"$T/ed-body.eml"
    verify "$T/ed-body.eml"
    check "ed25519-sha256, body altered: fail" has '^sig1 result=fail .*a=ed25519-sha256 '
else
    echo "# this libopendkim does not support ed25519-sha256 (RFC 8463): not tested"
    check "dkim_verify --ed25519 answers" grep -q '^ed25519=no' "$T/ed"
fi

# --- several signatures --------------------------------------------------------------------------
sign "$T/good.eml" "$T/two.eml" other rsa2
verify "$T/two.eml"
check "two signatures, one good: overall pass" has '^dkim=pass nsigs=2 evaluated=2 '
check "... the bad one listed as fail" has '^sig1 result=fail .*s=rsa2 '
check "... the good one listed as pass" has '^sig2 result=pass .*s=rsa '

cp "$T/good.eml" "$T/many.eml"
for i in 1 2 3; do
    sign "$T/many.eml" "$T/many.tmp" rsa rsa2 && mv "$T/many.tmp" "$T/many.eml"
done
verify "$T/many.eml" --max-sigs 2
check "4 signatures, cap 2: only 2 evaluated, all counted" has '^dkim=pass nsigs=4 evaluated=2 problem="4 signatures, 2 evaluated"$'
check "... the first two (topmost) listed" test "$(grep -c '^sig[12] result=pass' "$T/out")" = 2
check "... none past the cap" not_contains "$T/out" '^sig3 '

# The fields past the cap are not shown to libopendkim (each would cost a
# body hash): a signature that signed one of them (-H: every field) fails.
sign "$T/many.eml" "$T/over.eml" rsa rsa example.test -H
verify "$T/over.eml" --max-sigs 2
check "a signature over DKIM-Signature fields past the cap: fail (documented limit)" \
    has '^sig1 result=fail .*problem="signature mismatch"$'
verify "$T/over.eml" --max-sigs 8
check "... pass when the cap shows libopendkim all of them" has '^sig1 result=pass '

# --- DNS failures are temperror, never fail ---------------------------------------------------------
sign "$T/msg.eml" "$T/dead.eml" rsa sel dead.test
verify "$T/dead.eml" "$(fake)" --deadline 1500
check "key server not answering: temperror" has '^sig1 result=temperror d=dead\.test .*problem="key lookup failed: timeout"$'
check "... overall temperror, never fail" has '^dkim=temperror '
check "... the key was asked" test "$(dnsfake_count sel._domainkey.dead.test TXT)" -ge 1

sign "$T/msg.eml" "$T/sfail.eml" rsa sel sfail.test
verify "$T/sfail.eml" "$(fake)" --deadline 1500
check "key server answering SERVFAIL: temperror" has '^sig1 result=temperror d=sfail\.test .*problem="key lookup failed: '

sign "$T/msg.eml" "$T/garbled.eml" rsa sel garbled.test
verify "$T/garbled.eml" "$(fake)" --deadline 1500
check "key server sending unparsable answers: temperror" has '^sig1 result=temperror d=garbled\.test '

# An answer larger than libopendkim's 8 KiB buffer is refused whole, never
# cut; it will be as large next time: permerror, not temperror.
sign "$T/msg.eml" "$T/big-answer.eml" rsa big
verify "$T/big-answer.eml" "$(fake)"
check "key answer over 8 KiB: permerror, stated" \
    has '^sig1 result=permerror .*s=big .*problem="key lookup failed: answer larger than libopendkim takes"$'

sign "$T/dead.eml" "$T/deadgood.eml" rsa rsa
verify "$T/deadgood.eml" "$(fake)" --deadline 1500
check "one key times out, another signature passes: pass" has '^dkim=pass nsigs=2 '
check "... the timed-out one still temperror" has '^sig2 result=temperror d=dead\.test '

# Two keys that each take 1200 ms, within a deadline of 2000 ms: asked one
# after the other they would need 2400 ms; asked together, both arrive.
# (Under 1500 ms: libunbound asks a slow server again after that.)
sign "$T/msg.eml" "$T/slow.tmp" rsa slow1 && sign "$T/slow.tmp" "$T/slow.eml" rsa slow2
verify "$T/slow.eml" "$(fake)" --deadline 2000
check "two slow keys (1200 ms each) within a 2000 ms deadline: both fetched in one round" \
    test "$(grep -c '^sig[12] result=pass' "$T/out")" = 2

# One checker shared by threads, as the daemon's milter threads share it:
# each message's lookups are its own (two signatures, one key times out).
verify "$T/deadgood.eml" "$(fake)" --deadline 1500 --threads 6
check "6 threads at once over one checker: the same outcome in each" has '^threads=6 same=yes$'
check "... and it is the right one" has '^dkim=pass nsigs=2 '
verify "$T/good.eml" --threads 8
check "8 threads, one valid signature: the same pass in each" has '^threads=8 same=yes$'

# A selector that is no DNS name is never asked about.
sign "$T/msg.eml" "$T/badname.eml" rsa 'bad!sel'
verify "$T/badname.eml" "$(fake)"
check "s= that is no DNS name: permerror" has '^sig1 result=permerror .*problem="d= or s= is not a usable DNS name"$'
check "... and not asked" test "$(dnsfake_count 'bad!sel._domainkey.example.test')" = 0

# --- limits ----------------------------------------------------------------------------------------------
verify "$T/good.eml" --max-headers 4
check "more header fields than max_headers: permerror, stated" \
    has '^dkim=permerror nsigs=1 evaluated=0 problem="more than 4 header fields'
verify "$T/good.eml" --max-header-bytes 200
check "header bytes over max_header_bytes: permerror, stated" \
    has '^dkim=permerror nsigs=1 evaluated=0 problem="header fields over 200 bytes'

awk 'BEGIN { for (i = 0; i < 200; i++) printf "line %03d of a longer body, to be cut by the limit\n", i }' \
    >"$T/body.txt"
cat "$T/msg.eml" "$T/body.txt" >"$T/long.eml"
sign "$T/long.eml" "$T/long-signed.eml" rsa rsa
verify "$T/long-signed.eml" --max-body 2000
check "body longer than max_body_bytes: fail, stated" \
    has '^sig1 result=fail .*problem="body longer than the 2000 bytes hashed"$'
verify "$T/long-signed.eml"
check "... the same message passes without the limit" has '^sig1 result=pass '

sign "$T/msg.eml" "$T/l.eml" rsa rsa example.test -l
cat "$T/l.eml" "$T/body.txt" >"$T/l-long.eml"
verify "$T/l-long.eml" --max-body 2000
check "l= within max_body_bytes (text appended after it): pass" has '^sig1 result=pass '

# --- hostile h= lists: libopendkim's header selection ------------------------------------
# A signature whose h= names every field of the message, and then more,
# made libopendkim 2.11 write past its array of selected fields (found by
# fuzz_dkim). ASan does not see inside the uninstrumented library;
# valgrind does, so the plain build runs these messages under it.
cat >"$T/allnamed.eml" <<'EOF'
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.test; s=rsa;
	h=From:DKIM-Signature:From:From:To; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;
	b=dGhpcyBpcyBubyBzaWduYXR1cmU=
From: Mallory <mallory@example.test>

body
EOF
# The same with three fields: the slot past an array of 24 bytes is the
# next heap chunk's size in glibc.
cat >"$T/allnamed3.eml" <<'EOF'
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.test; s=rsa;
	h=From:Subject:DKIM-Signature:From:Subject:From:Subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;
	b=dGhpcyBpcyBubyBzaWduYXR1cmU=
From: Mallory <mallory@example.test>
Subject: hi

body
EOF
verify "$T/allnamed.eml"
check "h= naming every field and more: an outcome (fail), no crash" \
    has '^sig1 result=fail d=example\.test s=rsa .*problem="signature mismatch"$'
verify "$T/allnamed3.eml"
check "... with three fields too" has '^sig1 result=fail d=example\.test s=rsa '
if has 'sanitizers=yes'; then
    echo "# sanitizer build: valgrind cannot run it; the plain build runs the valgrind checks"
elif command -v valgrind >/dev/null 2>&1; then
    # The messages of this test and the fuzz corpus: no invalid read,
    # write or free anywhere, libopendkim and OpenSSL included.
    vg_bad=""
    for f in "$T/allnamed.eml" "$T/allnamed3.eml" "$T/good.eml" "$T/simple.eml" "$T/hdr.eml" \
             "$SRCDIR"/tests/fuzz/corpus/dkim/*; do
        valgrind -q --error-exitcode=99 --log-file="$T/vg.log" \
            "$VERIFY" --dns=127.0.0.1@"$NSD_PORT" --deadline 3000 "$f" >/dev/null 2>&1
        rc=$?
        if [ "$rc" = 99 ] || grep -q 'Invalid\|uninitialised' "$T/vg.log"; then
            vg_bad="$vg_bad ${f##*/}"
            sed 's/^/#   /' "$T/vg.log" | head -20
        fi
    done
    check "valgrind: no invalid memory access verifying hostile and ordinary messages${vg_bad:+ (not:$vg_bad)}" \
        test -z "$vg_bad"
else
    check "valgrind is installed (scripts/install-deps.sh)" false
fi

# --- a 10 MB signed message: streamed, memory stays small -----------------------------------------
awk 'BEGIN { for (i = 0; i < 140000; i++) printf "%06d The quick brown fox jumps over the lazy dog, again and again.\n", i }' \
    >"$T/big-body.txt"
cat "$T/msg.eml" "$T/big-body.txt" >"$T/big.eml"
rm -f "$T/big-body.txt"
sign "$T/big.eml" "$T/big-signed.eml" rsa rsa
echo "# message size: $(stat -c %s "$T/big-signed.eml") bytes"
verify "$T/big-signed.eml"
check "10 MB signed message: pass" has '^sig1 result=pass '
first=$(sed -n 's/^rss-growth-kb=\([0-9-]*\) .*/\1/p' "$T/out")
verify "$T/big-signed.eml" --warmup "$T/good.eml"
check "... and after a small message first" has '^sig1 result=pass '
check "... whose key, asked again, came from the process's answer memo, not libunbound" \
    has '^dns asked=2 from_memo=1$'
growth=$(sed -n 's/^rss-growth-kb=\([0-9-]*\) .*/\1/p' "$T/out")
echo "# peak RSS growth while verifying 10 MB: ${first} KiB as the process's first message" \
    "(libopendkim's and OpenSSL's set-up included), ${growth} KiB after a small one"
if has 'sanitizers=yes'; then
    echo "# sanitizer build: its allocator keeps freed memory; only reported"
else
    check "... peak RSS grew by less than 16 MiB (first message)" test "${first:-99999}" -lt 16384
    check "... by less than 1 MiB once the libraries are set up" test "${growth:-99999}" -lt 1024
fi
rm -f "$T/big.eml" "$T/big-signed.eml"

check "the verify driver always exited 0, without a sanitizer report" \
    not_contains "$T/all-out" 'exit status|Sanitizer|runtime error'
finish
