#!/bin/bash
# dmarc_valgrind.sh: libopendmarc's DMARC record parser, the path our code
# hands client-controlled DNS data to, over hostile records and the
# fuzz_dmarc_from seed corpus. libopendmarc is not built with the
# sanitizers, so the plain build runs the driver under valgrind, which
# sees inside it (valgrind cannot run a sanitizer build: there the driver
# runs bare and only the outcomes are checked).
#
# The records: long tags, values around libopendmarc's 512-byte token
# buffers and 256-byte URI buffers, 600-byte values, many rua URIs, a
# record past its 8 KiB copy, missing p=, bad pct=, sp=bogus, NUL bytes.
. "$SRCDIR/tests/lib/common.sh"
DRIVER="$BUILDDIR/tests/dmarc/dmarc_parse_driver"
[ -x "$DRIVER" ] || skip "dmarc_parse_driver not built (make check builds it)"

R="$T/records"
mkdir "$R"
rep() { head -c "$2" /dev/zero | tr '\0' "$1"; }
rec() { printf '%s' "$2" >"$R/$1"; }
rec ok-reject 'v=DMARC1; p=reject'
rec ok-full 'v=DMARC1; p=quarantine; sp=none; adkim=s; aspf=s; pct=50; rua=mailto:a@example.org; ruf=mailto:b@example.org; fo=1; rf=afrf; ri=3600'
rec spaces '  v = DMARC1 ;	p = reject ; '
rec missing-p 'v=DMARC1; rua=mailto:a@example.org'
rec bad-version 'v=DMARC2; p=none'
rec pct-200 'v=DMARC1; p=none; pct=200'
rec pct-negative 'v=DMARC1; p=reject; pct=-1'
rec pct-bogus 'v=DMARC1; p=reject; pct=bogus'
rec pct-wrap 'v=DMARC1; p=reject; pct=4294967296'
rec sp-bogus 'v=DMARC1; p=reject; sp=bogus'
rec p-bogus 'v=DMARC1; p=bogus'
rec adkim-bogus 'v=DMARC1; p=reject; adkim=x'
rec ri-bogus 'v=DMARC1; p=reject; ri=abc'
rec fo-bogus 'v=DMARC1; p=reject; fo=x'
rec tag-600 "v=DMARC1; p=reject; $(rep t 600)=x"
rec tag-512 "v=DMARC1; p=reject; $(rep t 512)=x"
rec value-600 "v=DMARC1; p=reject; x=$(rep a 600)"
rec p-600 "v=DMARC1; p=$(rep r 600)"
rec p-512 "v=DMARC1; p=$(rep r 512)"
rec p-511 "v=DMARC1; p=$(rep r 511)"
rec rua-600 "v=DMARC1; p=reject; rua=mailto:$(rep a 590)"
rec rua-255 "v=DMARC1; p=reject; rua=$(rep a 255)"
rec rua-256 "v=DMARC1; p=reject; rua=$(rep a 256)"
rec ruf-256 "v=DMARC1; p=reject; ruf=$(rep a 256)"
rec rf-32 "v=DMARC1; p=reject; rf=$(rep a 32)"
rec rua-fit "v=DMARC1; p=reject; rua=$(for i in $(seq 10 27); do printf 'mailto:r%d@example.org,' "$i"; done)"
rec rua-many "v=DMARC1; p=reject; rua=$(for i in $(seq 1 400); do printf 'mailto:r%d@example.org,' "$i"; done)"
rec rua-commas "v=DMARC1; p=reject; rua=$(rep , 8000)"
rec rua-short-many "v=DMARC1; p=reject; rua=$(for i in $(seq 1 2000); do printf 'a,'; done)"
rec fo-long "v=DMARC1; p=reject; ruf=mailto:f@example.org; fo=$(for i in $(seq 1 200); do printf '0:'; done)"
rec record-10k "v=DMARC1; $(rep ' ' 9000)p=reject"
rec record-64k "$(rep ';' 65536)"
printf 'v=DMARC1; p=reject\0; sp=none' >"$R/nul-after-p"
printf 'v=DMARC1;\0 p=reject' >"$R/nul-before-p"
printf 'v=DMARC1; p=reject; rua=mailto:\377\376@example.org' >"$R/eight-bit"
rec empty ''
rec semicolons ';;;;;;'
rec equals '=;==;===;v=;=p'
rec empty-values 'v=DMARC1; p=; sp=; rua=,,,'
rec np 'v=DMARC1; p=none; np=reject'
echo "# $(ls "$R" | wc -l) records"

# run [valgrind...]: the records and the corpus through the driver.
run() {
    "$@" "$DRIVER" --record "$R"/* >"$T/records.out" 2>"$T/records.err" &&
        "$@" "$DRIVER" --fuzz "$SRCDIR"/tests/fuzz/corpus/dmarc_from/* >"$T/fuzz.out" 2>"$T/fuzz.err"
}
if asan_build "$DRIVER"; then
    echo "# sanitizer build: valgrind cannot run it; the plain build runs the valgrind checks"
    check "the records and the corpus through the driver" run
elif ! command -v valgrind >/dev/null 2>&1; then
    check "valgrind is installed (scripts/install-deps.sh)" false
else
    check "valgrind: no invalid access, uninitialised value or leak in libopendmarc or ours" \
        run valgrind -q --error-exitcode=1 --leak-check=full
    cat "$T/records.err" "$T/fuzz.err" 2>/dev/null | sed 's/^/#   /' | head -40
fi
check "every corpus input ran" contains "$T/fuzz.out" "^$(ls "$SRCDIR"/tests/fuzz/corpus/dmarc_from | wc -l) inputs$"

# What libopendmarc 1.4.2 made of them: the records mxguard may rely on,
# and the quirks policy/auth/dmarc.c must not rely on.
outcome() {
    check "$1: $2" contains "$T/records.out" "^$1 $2"
}
outcome ok-reject 'rc=0 p=r sp=- pct=100 adkim=r aspf=r rua=0 ruf=0 '
outcome ok-full 'rc=0 p=q sp=n pct=50 adkim=s aspf=s rua=1 ruf=1 '
outcome spaces 'rc=0 p=r '
outcome missing-p 'rc=5 '
outcome bad-version 'rc=3 '
outcome pct-200 'rc=4 '
outcome pct-negative 'rc=4 '
outcome sp-bogus 'rc=4 '
outcome p-bogus 'rc=4 '
outcome adkim-bogus 'rc=4 '
outcome empty 'rc=1 '
outcome nul-after-p 'rc=0 p=r sp=- '
outcome nul-before-p 'rc=5 '
# Tokens and values of 512 bytes or more do not fit the 512-byte buffers:
# the tag is skipped, never copied past the buffer.
outcome tag-600 'rc=0 p=r '
outcome value-600 'rc=0 p=r '
outcome p-600 'rc=5 '
outcome p-512 'rc=5 '
outcome p-511 'rc=4 '   # read, and no prefix of a policy name
# A report URI of 256 bytes or more does not fit its 256-byte buffer: bad value.
outcome rua-255 'rc=0 p=r .* rua=1 ruf=0 longest=255 '
outcome rua-256 'rc=4 '
outcome ruf-256 'rc=4 '
outcome rua-fit 'rc=0 p=r .* rua=18 ruf=0 '
# A rua= value of 512 bytes or more (a long URI, or many) is dropped
# without a word: the record still parses, with no report address.
outcome rua-600 'rc=0 p=r .* rua=0 '
outcome rua-many 'rc=0 p=r .* rua=0 '
# pct= is read with strtoul() into an int, unchecked: "bogus" and 2^32
# are read as pct=0 (RFC 7489 6.3 wants the default, 100, for a syntax
# error). policy/auth/dmarc.c must check pct= itself.
outcome pct-bogus 'rc=0 p=r sp=- pct=0 '
outcome pct-wrap 'rc=0 p=r sp=- pct=0 '
# np= (DMARCbis) is not known to libopendmarc 1.4.2: ignored.
outcome np 'rc=0 p=n sp=- '
# The record is copied into 8 KiB: what lies past it is silently lost.
outcome record-10k 'rc=5 '
finish
