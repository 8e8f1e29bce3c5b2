#!/bin/bash
# cve_corpus.sh: records and cases shaped like libspf2's published bugs
# (tests/spf/cve/cve.yml: CVE-2021-20314, CVE-2021-33912, CVE-2021-33913,
# CVE-2023-42118) through mxguard's SPF path; in the sanitizer build any
# report fails the test.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/dns.sh"
. "$SRCDIR/tests/spf/lib.sh"
need_spf_suite
run_spf_suite "$SRCDIR/tests/spf/cve/cve.yml"

# libspf2 itself is not built with the sanitizers, so they cannot see a bad
# access inside it. In the plain build the cases run again with spf_eval
# under valgrind, which sees every library (it cannot run a sanitizer build).
if asan_build "$SPF_EVAL"; then
    echo "# sanitizer build: the plain build runs these cases under valgrind"
elif ! command -v valgrind >/dev/null 2>&1; then
    check "valgrind is installed (scripts/install-deps.sh)" false
else
    mkdir "$T/vg"
    printf '#!/bin/sh\nexec valgrind -q --error-exitcode=99 --log-file=%s/vg/%%p.log %s "$@"\n' \
        "$T" "$SPF_EVAL" >"$T/vg-spf_eval"
    chmod +x "$T/vg-spf_eval"
    SPF_EVAL="$T/vg-spf_eval" run_spf_suite "$SRCDIR/tests/spf/cve/cve.yml"
    cat "$T"/vg/*.log 2>/dev/null | sed 's/^/#   /' | head -40
    check "valgrind ran spf_eval" test -n "$(ls "$T"/vg/)"
    check "valgrind: no invalid memory access in libspf2 or ours" test -z "$(cat "$T"/vg/*.log 2>/dev/null)"
fi
finish
