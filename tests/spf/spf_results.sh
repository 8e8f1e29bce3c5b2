#!/bin/bash
# spf_results.sh: every SPF result (pass, fail with its exp= text,
# softfail, neutral, none, permerror from too many lookups and from a
# third void lookup, temperror from SERVFAIL and from a server that never
# answers), the limits and the Received-SPF value, against the loopback
# DNS server (scenarios in tests/spf/results.yml).
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/dns.sh"
. "$SRCDIR/tests/spf/lib.sh"
need_spf_suite
run_spf_suite "$SRCDIR/tests/spf/results.yml"
finish
