#!/bin/bash
# dmarc_matrix.sh: DMARC (policy/auth/dmarc.c, libopendmarc) through the
# shipped gateway rules and mxguard --test-session, against a real DNS
# server on loopback: nsd serves the _dmarc, SPF and DKIM key records of
# zone test. (a suffix the Public Suffix List does not know: the list's
# default rule makes x.test an organizational domain); dnsfake serves the
# same zone and a _dmarc name that never answers. Messages are signed here
# with libopendkim's signing API (tests/dkim/dkim_sign).
#
# The matrix: p=none, p=quarantine (the quarantine effect), p=reject (550
# 5.7.1 naming the domain); aligned through SPF only, DKIM only, both,
# neither; relaxed and strict (adkim=s, aspf=s against a subdomain
# identity); sp= for an existing subdomain and np= for one that does not
# exist; pct=0; no record (none), a malformed record (permerror), a DNS
# timeout (temperror and 451, never none); no From:, two From: fields, two
# domains in one From: field.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/dns.sh"
need_dns
need_nsd
need_cmd openssl

SIGN="${BUILDDIR:-.}/tests/dkim/dkim_sign"
[ -x "$SIGN" ] || { check "the test tools are built (make check builds them)" false; finish; }
RULES="$SRCDIR/rules/examples/gateway.rules"
CLIENT=203.0.113.20
ID=mx.dmarc.test

K="$T/keys"
mkdir -m 700 "$K"
umask 077
openssl genrsa -out "$K/rsa.pem" 2048 2>/dev/null
umask 022
key_txt() {
    printf '"v=DKIM1; k=rsa; p=" '
    openssl rsa -in "$K/rsa.pem" -pubout -outform DER 2>/dev/null | base64 -w0 | fold -w 200 | sed 's/.*/"&"/' | tr '\n' ' '
}
SPF_OK='"v=spf1 ip4:203.0.113.0/24 -all"'

dns_zone test. <<ZONE
esp                 TXT $SPF_OK
sel._domainkey.esp  TXT $(key_txt)
reject              TXT $SPF_OK
bounce.reject       TXT $SPF_OK
_dmarc.reject       TXT "v=DMARC1; p=reject; rua=mailto:agg@reject.test"
sel._domainkey.reject TXT $(key_txt)
sel._domainkey.mail.reject TXT $(key_txt)
_dmarc.quar         TXT "v=DMARC1; p=quarantine"
_dmarc.mon          TXT "v=DMARC1; p=none"
strict              TXT $SPF_OK
bounce.strict       TXT $SPF_OK
_dmarc.strict       TXT "v=DMARC1; p=reject; adkim=s; aspf=s"
sel._domainkey.strict TXT $(key_txt)
sel._domainkey.mail.strict TXT $(key_txt)
_dmarc.tree         TXT "v=DMARC1; p=none; sp=quarantine; np=reject"
real.tree           A   192.0.2.1
_dmarc.pct0         TXT "v=DMARC1; p=reject; pct=0"
_dmarc.broken       TXT "v=DMARC1; p=bogus"
_dmarc.two          TXT "v=DMARC1; p=reject"
_dmarc.two          TXT "v=DMARC1; p=none"
_dmarc.long         TXT "v=DMARC1; p=reject; rua=" $(for i in $(seq 1 14); do printf '"mailto:aggregate-%02d@long.test," ' "$i"; done)"mailto:last@long.test"
_dmarc.odd          TXT "v=DMARC1;;; p=q ;sp=r; np=; rf=afrf; fo=0:1:d:s; x=y"
_dmarc.badri        TXT "v=DMARC1; p=reject; ri=abc"
_dmarc.pct101       TXT "v=DMARC1; p=reject; pct=101"
ZONE
start_nsd || { check "nsd starts" false; finish; }
cat >"$T/fake.spec" <<EOF
$(dns_fake_zonefiles)
_dmarc.slow.test.   ANY timeout
EOF
start_dnsfake "$T/fake.spec" || { check "dnsfake starts" false; finish; }

# session NAME MAILFROM SIGN-DOMAIN [FROM-FIELD...]: one message through
# --test-session (SIGN-DOMAIN "-": unsigned), the transcript in $T/NAME.out.
# DNS="--dns=..." picks the server (nsd unless set).
session() {
    local name=$1 mailfrom=$2 signer=$3 f
    shift 3
    {
        for f in "$@"; do echo "From: $f"; done
        printf 'To: user@example.org\nSubject: dmarc %s\nDate: Mon, 07 Dec 2026 01:00:00 +0000\n' "$name"
        printf 'Message-ID: <%s@dmarc.test>\n\nHello.\n' "$name"
    } >"$T/$name.eml"
    if [ "$signer" != - ]; then
        "$SIGN" -k "$K/rsa.pem" -s sel -d "$signer" "$T/$name.eml" >"$T/$name.signed" 2>"$T/sign.err" ||
            sed 's/^/#   sign: /' "$T/sign.err"
        mv "$T/$name.signed" "$T/$name.eml"
    fi
    { printf 'EHLO mail.esp.test\nMAIL FROM:<%s>\nRCPT TO:<user@example.org>\nDATA\n' "$mailfrom"
      sed 's/^\./../' "$T/$name.eml"; printf '.\nQUIT\n'; } >"$T/$name.in"
    "$MXGUARD" -c "$RULES" --test-session "$CLIENT" "${DNS:---dns=127.0.0.1@$NSD_PORT}" --authserv-id "$ID" \
        --dns-timeout 1000 --dns-budget 3000 <"$T/$name.in" >"$T/$name.out" 2>&1
    grep -E '^# (dmarc|dkim|spf)|^(250 2\.0\.0|[45][0-9][0-9] )|^# eom: (quarantine|authentication-results)' "$T/$name.out" |
        sed "s/^/#   $name: /"
}
has() { grep -Eq -- "$2" "$T/$1.out"; }
dmarc_is() { has "$1" "^# dmarc: $2"; }
refused() { has "$1" '^550 5\.7\.1 DMARC: '"$2"' asks to reject mail that fails its policy$'; }
queued() { has "$1" '^250 2\.0\.0 '; }
quarantined() { has "$1" "^# eom: quarantine DMARC policy of $2 "; }

# --- p=, and alignment through SPF, DKIM, both, neither ----------------------------
session neither bounce@esp.test - "Alerts <alerts@reject.test>"
check "p=reject, neither aligned: fail" dmarc_is neither "fail from=reject\.test org=reject\.test policy=reject published=reject tag=p spf_aligned=no dkim_aligned=no"
check "... refused with 550 5.7.1 naming the domain" refused neither 'reject\.test'
session spf-only bounce@reject.test - "alerts@reject.test"
check "SPF only (aligned, relaxed: bounce.reject.test): pass" dmarc_is spf-only "pass from=reject\.test .* spf_aligned=yes dkim_aligned=no"
check "... delivered" queued spf-only
session dkim-only bounce@esp.test mail.reject.test "alerts@reject.test"
check "DKIM only (d=mail.reject.test, relaxed): pass" dmarc_is dkim-only "pass from=reject\.test .* spf_aligned=no dkim_aligned=yes"
check "... delivered" queued dkim-only
session both bounce@reject.test reject.test "alerts@reject.test"
check "both aligned: pass" dmarc_is both "pass .* spf_aligned=yes dkim_aligned=yes"
check "... with dmarc=pass and policy.dmarc in our Authentication-Results" \
    has both "^# eom: authentication-results Authentication-Results: $ID;"
grep -A8 '^# eom: authentication-results' "$T/both.out" >"$T/both.ar"
check "... dmarc=pass header.from=reject.test policy.dmarc=none" contains "$T/both.ar" "dmarc=pass header\.from=reject\.test policy\.dmarc=none"
session other-dkim bounce@esp.test esp.test "alerts@reject.test"
check "a passing signature of another domain does not align: fail, 550" refused other-dkim 'reject\.test'

session quar bounce@esp.test - "news@quar.test"
check "p=quarantine: fail, policy quarantine" dmarc_is quar "fail from=quar\.test .* policy=quarantine published=quarantine"
check "... quarantined, the reason naming the domain" quarantined quar 'quar\.test'
check "... not refused" queued quar
session mon bounce@esp.test - "news@mon.test"
check "p=none: fail, policy none" dmarc_is mon "fail from=mon\.test .* policy=none published=none"
check "... delivered, not quarantined" not_contains "$T/mon.out" "^# eom: quarantine"
check "... delivered" queued mon

# --- strict ---------------------------------------------------------------------------
session strict-sub bounce@bounce.strict.test mail.strict.test "ceo@strict.test"
check "adkim=s, aspf=s: subdomain identities (SPF bounce.strict.test, d=mail.strict.test) do not align" \
    dmarc_is strict-sub "fail from=strict\.test .* spf_aligned=no dkim_aligned=no"
check "... refused" refused strict-sub 'strict\.test'
session strict-exact bounce@strict.test strict.test "ceo@strict.test"
check "adkim=s, aspf=s: the exact domain aligns" dmarc_is strict-exact "pass .* spf_aligned=yes dkim_aligned=yes"

# --- subdomains: sp= and np= --------------------------------------------------------
session sp bounce@esp.test - "info@real.tree.test"
check "an existing subdomain takes sp= of the organizational domain" \
    dmarc_is sp "fail from=real\.tree\.test org=tree\.test policy=quarantine published=quarantine tag=sp"
check "... quarantined" quarantined sp 'real\.tree\.test'
session np bounce@esp.test - "info@ghost.tree.test"
check "a subdomain that does not exist takes np=" \
    dmarc_is np "fail from=ghost\.tree\.test org=tree\.test policy=reject published=reject tag=np"
check "... refused" refused np 'ghost\.tree\.test'

# --- pct=0, no record, malformed, several, timeout ------------------------------------
session pct0 bounce@esp.test - "deals@pct0.test"
check "pct=0: p=reject is lowered to quarantine" dmarc_is pct0 "fail from=pct0\.test .* policy=quarantine published=reject tag=p"
check "... quarantined, not refused" quarantined pct0 'pct0\.test'
session norecord bounce@esp.test - "someone@norecord.test"
check "no record: none" dmarc_is norecord "none from=norecord\.test org=norecord\.test policy=none published=-"
check "... delivered" queued norecord
session broken bounce@esp.test - "someone@broken.test"
check "a malformed record: permerror" dmarc_is broken "permerror from=broken\.test .*problem=malformed DMARC record"
check "... delivered (the shipped rules act on fail and temperror only)" queued broken
session two bounce@esp.test - "someone@two.test"
check "two DMARC records: none (RFC 7489 6.6.3)" dmarc_is two "none from=two\.test .*problem=several DMARC records"
DNS="--dns=127.0.0.1@$FAKE_PORT" session slow bounce@esp.test - "someone@slow.test"
check "a DNS timeout: temperror, never none" dmarc_is slow "temperror from=slow\.test .*problem=DMARC record lookup failed"
check "... answered 451 4.7.5" has slow '^451 4\.7\.5 DMARC policy of slow\.test could not be looked up now'
DNS="--dns=127.0.0.1@$FAKE_PORT" session fake-ok bounce@esp.test - "alerts@reject.test"
check "... while the same server answers the others (p=reject, 550)" refused fake-ok 'reject\.test'

# --- From: anomalies --------------------------------------------------------------------
session nofrom bounce@esp.test -
check "no From: field: none" dmarc_is nofrom "none from=- .*problem=no From: field"
check "... delivered" queued nofrom
session twofields bounce@esp.test - "a@mon.test" "b@mon.test"
check "two From: fields of one domain: evaluated (fail, p=none)" dmarc_is twofields "fail from=mon\.test .*policy=none"
grep -A8 '^# eom: authentication-results' "$T/twofields.out" >"$T/twofields.ar"
check "... and Authentication-Results says what was wrong" contains "$T/twofields.ar" 'dmarc=fail reason="more than one From: field" header\.from=mon\.test'
session twodomains bounce@reject.test - "a@reject.test, b@quar.test"
check "one From: field, two domains: each evaluated, the worst kept (quar.test fails)" \
    dmarc_is twodomains "fail from=quar\.test .*policy=quarantine"
check "... quarantined" quarantined twodomains 'quar\.test'
session twodomains2 bounce@esp.test - "a@quar.test, b@reject.test"
check "... reject beats quarantine" refused twodomains2 'reject\.test'

# --- odd records ---------------------------------------------------------------------
session long bounce@esp.test - "a@long.test"
check "a record of several strings near the 512 bytes we keep, 15 rua= URIs: evaluated (fail, reject)" refused long 'long\.test'
session odd bounce@esp.test - "a@odd.test"
check "empty tags, abbreviated values, unknown tags: as libopendmarc reads them (p=q)" \
    dmarc_is odd "fail from=odd\.test .*policy=quarantine"
session pct101 bounce@esp.test - "a@pct101.test"
check "pct=101: permerror" dmarc_is pct101 "permerror from=pct101\.test .*problem=malformed DMARC record"
check "... not refused" queued pct101
session badri bounce@esp.test - "a@badri.test"
check "ri=abc: permerror (libopendmarc refuses it)" dmarc_is badri "permerror from=badri\.test"

cat "$T"/*.out >"$T/all.out"
check "no sanitizer report in any session" not_contains "$T/all.out" "Sanitizer|runtime error:"

# --- valgrind: libopendmarc is not instrumented, so ASan does not see into
# it; the plain build runs the record parser path under valgrind.
if asan_build; then
    echo "# sanitizer build: valgrind cannot run it; the plain build runs the valgrind checks"
elif command -v valgrind >/dev/null 2>&1; then
    vg_bad=""
    for name in neither both long odd nofrom; do
        valgrind -q --error-exitcode=99 --log-file="$T/vg.log" "$MXGUARD" -c "$RULES" --test-session "$CLIENT" \
            --dns=127.0.0.1@"$NSD_PORT" --authserv-id "$ID" <"$T/$name.in" >"$T/vg.out" 2>&1
        rc=$?
        if [ "$rc" = 99 ] || grep -q 'Invalid\|uninitialised' "$T/vg.log" ||
           ! diff -q <(grep '^# dmarc' "$T/$name.out") <(grep '^# dmarc' "$T/vg.out") >/dev/null; then
            vg_bad="$vg_bad $name"
            sed 's/^/#   /' "$T/vg.log" | head -20
        fi
    done
    check "valgrind: no invalid memory access, the same DMARC results${vg_bad:+ (not:$vg_bad)}" test -z "$vg_bad"
else
    check "valgrind is installed (scripts/install-deps.sh)" false
fi
finish
