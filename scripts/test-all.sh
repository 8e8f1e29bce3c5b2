#!/bin/bash
# test-all.sh: the whole test suite, from a fresh clone on a Debian 12
# machine, as root. Installs what is missing, builds with -Werror, runs
# every test, builds the Debian package and installs, serves through and
# purges it (tests/pkg/package.sh), then builds again with ASan and UBSan
# and runs every test again, then checks that the distribution tarball
# builds, installs and passes the tests that read its shipped files
# ("make distcheck-ci").
# Ends with one line: "N passed, N failed, N skipped".
#
# A test that skips for lack of a tool fails here: CI must prove that the
# install step brings everything.
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(( $(nproc) + 1 ))

scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
./autogen.sh >/dev/null 2>&1 || { echo "autogen failed"; echo "0 passed, 1 failed"; exit 1; }

export MXG_NO_SKIP=1
passed=0 failed=0 skipped=0 status=0

# suite NAME CONFIGURE-ARGS...: configure and build in _build-NAME, run make check.
suite() {
    local name=$1; shift
    local dir="$top/_build-$name"
    echo "=== $name: configure $*"
    rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || return 1
    if ! "$top/configure" -q "$@" || ! make -j"$jobs" >build.log 2>&1; then
        tail -n 40 build.log 2>/dev/null
        failed=$((failed + 1)); status=1
        cd "$top"; return 1
    fi
    make -j"$jobs" check >check.log 2>&1 || status=1
    grep -E '^(PASS|FAIL|SKIP|ERROR|XFAIL|XPASS):' check.log | sed "s/^/[$name] /"
    for f in $(grep -lE '^:test-result: (FAIL|ERROR)' tests/*/*.trs 2>/dev/null); do
        echo "--- ${f%.trs}.log"; tail -n 60 "${f%.trs}.log"
    done
    local p f s e
    p=$(sed -n 's/^# PASS: *//p' test-suite.log | head -n1)
    f=$(sed -n 's/^# FAIL: *//p' test-suite.log | head -n1)
    s=$(sed -n 's/^# SKIP: *//p' test-suite.log | head -n1)
    e=$(sed -n 's/^# ERROR: *//p' test-suite.log | head -n1)
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0})); skipped=$((skipped + ${s:-0}))
    cd "$top"
}

suite plain --enable-werror

# The Debian package test installs and purges a package and a user: once,
# alone (no other test runs meanwhile), from the plain build.
echo "=== package"
if (cd "$top/_build-plain" && make check-package >package.log 2>&1); then
    if grep -q '^SKIP: tests/pkg/package.sh' "$top/_build-plain/package.log"; then
        skipped=$((skipped + 1)); echo "SKIP: tests/pkg/package.sh"
    else
        passed=$((passed + 1)); echo "PASS: tests/pkg/package.sh"
    fi
else
    failed=$((failed + 1)); status=1; echo "FAIL: tests/pkg/package.sh"
    tail -n 80 "$top/_build-plain/package.log"
fi

# The fuzzers are the same binaries in both passes (always built with
# libFuzzer, ASan and UBSan): the second pass gives each 10 s, not 20.
FUZZ_SECONDS=10 suite sanitizers --enable-werror --enable-sanitizers

echo "=== distcheck"
if (cd "$top/_build-plain" && make -j"$jobs" distcheck-ci >distcheck.log 2>&1); then
    passed=$((passed + 1)); echo "PASS: make distcheck-ci"
else
    failed=$((failed + 1)); status=1; echo "FAIL: make distcheck-ci"
    tail -n 60 "$top/_build-plain/distcheck.log"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
