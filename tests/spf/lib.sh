# lib.sh: the SPF script tests run tests/spf/spf_suite.py, which is the
# loopback DNS server itself and drives tests/spf/spf_eval (mxguard's SPF
# path: shared resolver, our DNS layer, libspf2) over scenario files.
# Source after common.sh and dns.sh.

SPF_EVAL="${BUILDDIR:-.}/tests/spf/spf_eval"

need_spf_suite() {
    need_dns
    "$DNS_PYTHON" -c 'import yaml' 2>/dev/null ||
        skip "needs python3-yaml for $DNS_PYTHON (scripts/install-deps.sh installs it)"
    [ -x "$SPF_EVAL" ] || { echo "FAIL - spf_eval is not built ($SPF_EVAL): make check builds it"; exit 1; }
}

# run_spf_suite FILE...: every case must match or be listed in the
# driver's KNOWN table with its reason; prints the driver's report.
run_spf_suite() {
    local port rc
    port=$(free_port) || { check "a free port for the DNS server" false; finish; }
    "$DNS_PYTHON" "$SRCDIR/tests/spf/spf_suite.py" --eval "$SPF_EVAL" --port "$port" "$@" \
        >"$T/report" 2>"$T/stderr"
    rc=$?
    sed 's/^/# /' "$T/report"
    sed 's/^/# stderr: /' "$T/stderr" | head -n 40
    check "every case matches, or is listed with its reason" test "$rc" -eq 0
    check "the driver counted its cases" grep -q '^SPF cases: [0-9]* passed / [1-9]' "$T/report"
    check "no sanitizer report from spf_eval" not_contains "$T/stderr" "Sanitizer|runtime error:"
    release_port "$port"
}
