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
finish
