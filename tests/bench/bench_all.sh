#!/bin/bash
# bench_all.sh: "make bench". Runs every benchmark in turn, keeps their
# output in bench.log (in the build directory) and ends with the verdict
# lines of all of them, one per target. Exit status 1 when a benchmark
# could not run (a MISS is a result, not a failure).
#   MXGUARD=.../mxguard SRCDIR=... BUILDDIR=... bash tests/bench/bench_all.sh
set -u
: "${MXGUARD:?}" "${SRCDIR:?}" "${BUILDDIR:?}"
log="$BUILDDIR/bench.log"
failed=""
: >"$log"
run() { # NAME COMMAND...
    local name=$1; shift
    echo "# === $name" | tee -a "$log"
    "$@" 2>&1 | tee -a "$log"
    [ "${PIPESTATUS[0]}" = 0 ] || failed="$failed $name"
}
run bench_lists "$BUILDDIR/tests/bench/bench_lists"
run bench_store "$BUILDDIR/tests/bench/bench_store"
run bench_dns bash "$SRCDIR/tests/bench/bench_dns.sh"
run bench_milter bash "$SRCDIR/tests/bench/bench_milter.sh"
run bench_records bash "$SRCDIR/tests/bench/bench_records.sh"
run bench_memory bash "$SRCDIR/tests/bench/bench_memory.sh"
run bench_overload bash "$SRCDIR/tests/bench/bench_overload.sh"
run bench_postfix bash "$SRCDIR/tests/bench/bench_postfix.sh"
echo "# === verdicts (all output in $log)"
grep -E '^bench: .*\(target [^)]*\): (ok|MISS)$' "$log"
[ -z "$failed" ] || { echo "# could not run:$failed"; exit 1; }
