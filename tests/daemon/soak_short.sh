#!/bin/bash
# soak_short.sh: the soak benchmark (tests/bench/soak.sh) for two minutes,
# as a test: mxguard at concurrency 128 through milter_load on the
# gateway rules with DNS from nsd, sampled every 10 s; it fails when the
# filter's RSS grows by 1 kB or more per 1,000 messages after the warm-up,
# when its descriptors or threads are not flat, or when the load fails or
# the filter restarts. `make soak` runs the same for 30 minutes.
export SOAK_SECONDS=${SOAK_SECONDS:-120}
exec bash "$SRCDIR/tests/bench/soak.sh"
