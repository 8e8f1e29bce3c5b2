#!/bin/bash
# conformance.sh: the RFC 7208 test suite (openspf.org) through mxguard's
# SPF path, each scenario's zone data served from the loopback DNS server.
# The suite is never copied into the tree: Debian's python3-spf ships it
# (/usr/share/doc/python3-spf/rfc7208-tests.yml.gz; scripts/install-deps.sh
# copies it to /var/cache/mxguard-tests/ where dpkg leaves out
# /usr/share/doc), and SPF_SUITE (configure, or the environment) names
# another copy, .yml or .yml.gz.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/dns.sh"
. "$SRCDIR/tests/spf/lib.sh"
need_spf_suite

SUITE_DOC=/usr/share/doc/python3-spf/rfc7208-tests.yml.gz
SUITE_CACHE=/var/cache/mxguard-tests/python3-spf/rfc7208-tests.yml.gz
SUITE=${SPF_SUITE:-$SUITE_DOC}
[ "$SUITE" = "$SUITE_DOC" ] && [ ! -f "$SUITE" ] && [ -f "$SUITE_CACHE" ] && SUITE=$SUITE_CACHE
if [ ! -f "$SUITE" ]; then
    echo "FAIL - the RFC 7208 suite is missing: install python3-spf (scripts/install-deps.sh); looked for $SUITE"
    exit 1
fi
echo "# suite: $SUITE"
case "$SUITE" in
*.gz) zcat -- "$SUITE" >"$T/rfc7208-tests.yml" ||
          { echo "FAIL - cannot decompress the RFC 7208 suite $SUITE"; exit 1; } ;;
*)    cp -- "$SUITE" "$T/rfc7208-tests.yml" || exit 1 ;;
esac
# The suite's TIMEOUT scenarios also hold cases of a dozen lookups: 3 s,
# not the 1.2 s the timing cases of results.yml assert, so a loaded CI
# machine cannot turn them into temperror.
run_spf_suite --timeout-deadline 3000 "$T/rfc7208-tests.yml"
check "all 203 cases of the suite were run" grep -q '^SPF cases: [0-9]* passed / 203 total' "$T/report"
finish
