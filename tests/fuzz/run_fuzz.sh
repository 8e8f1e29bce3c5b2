#!/bin/bash
# run_fuzz.sh: a short libFuzzer run of each harness over its committed
# seed corpus (copied, so new inputs never land in the source tree). Any
# crash, leak, sanitizer report or timeout fails the test.
. "$SRCDIR/tests/lib/common.sh"
FUZZ_SECONDS=${FUZZ_SECONDS:-20}

for h in rules authres spf dkim dkim_key dmarc_from conn mime; do
    bin="$BUILDDIR/tests/fuzz/fuzz_$h"
    [ -x "$bin" ] || skip "fuzz_$h not built (needs clang)"
    mkdir -p "$T/corpus-$h" "$T/artifacts-$h"
    seeds="$SRCDIR/tests/fuzz/corpus/$h"
    cp "$seeds/"* "$T/corpus-$h/"
    "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
        -artifact_prefix="$T/artifacts-$h/" "$T/corpus-$h" >"$T/fuzz-$h.log" 2>&1
    rc=$?
    tail -n 3 "$T/fuzz-$h.log" | sed 's/^/#   /'
    check "fuzz_$h: $FUZZ_SECONDS s without a crash or sanitizer report" test $rc -eq 0
    check "fuzz_$h: no crash artifacts" test -z "$(ls -A "$T/artifacts-$h")"
done
finish
