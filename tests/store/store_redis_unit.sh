#!/bin/bash
# store_redis_unit.sh: the store's unit cases (tests/unit/test_store) again,
# on a real redis-server of the test's own: the greylisting and rate-limit
# cases pass on both backends.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/redis.sh"
need_redis
start_redis || { check "redis-server starts" false; finish; }

MXG_REDIS_SOCKET="$REDIS_SOCK" "$BUILDDIR/tests/unit/test_store" >"$T/unit.out" 2>&1
rc=$?
sed 's/^/#   /' "$T/unit.out"
check "test_store passes on redis" test "$rc" -eq 0
check "... and ran its cases there" grep -q 'PASSED.*test(s)' "$T/unit.out"
check "... greylist and rate-limit cases among them" \
    grep -Eq 'OK \] test_greylist_autoallow$' "$T/unit.out"
# The keys went to the server, under each case's own prefix.
check "the cases' keys are in redis" test "$(redis_cmd --scan --pattern 't*:gt:*' | wc -l)" -gt 5
finish
