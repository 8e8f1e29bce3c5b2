/*
 * ratelimit.h: counters over a sliding window, on the state store.
 *
 * A rule names the key (any fact: "client:192.0.2.1", "sasl:user",
 * "rcptdomain:example.org"), the window, the limit and the cost of this
 * hit (1 per connection or message, the number of recipients, ...).
 *
 * The window slides, approximated with two fixed windows: the count is
 * this window's hits plus the previous window's, weighted by how much of
 * the previous window still lies within the last `window` seconds. So a
 * client cannot send twice the limit across a window boundary, as it can
 * with a fixed window, and each hit costs one atomic increment and one
 * read, whatever the traffic (no per-hit timestamps are kept). The
 * estimate assumes the previous window's hits were spread evenly.
 *
 * Hits past the limit are counted too: a client that keeps trying stays
 * limited until it slows down.
 */
#ifndef MXG_POLICY_RATELIMIT_H
#define MXG_POLICY_RATELIMIT_H

#include <stdint.h>
#include <time.h>

#include "policy/state/store.h"

enum ratelimit_status { RATELIMIT_UNDER, RATELIMIT_OVER, RATELIMIT_ERROR };

struct ratelimit_result {
    enum ratelimit_status status;
    uint64_t count; /* hits in the last window, this one included (an estimate) */
    uint64_t limit;
    const char *why; /* RATELIMIT_ERROR: static text */
};

/*
 * Count `cost` hits on key at time now (cost 0 only reads) and compare
 * with limit: RATELIMIT_OVER when the count is past it. window: seconds,
 * at least 1. A store error is RATELIMIT_ERROR, never "under".
 */
enum ratelimit_status ratelimit_hit(struct store *s, const char *key, unsigned window, uint64_t limit,
                                    unsigned cost, time_t now, struct ratelimit_result *out);

#endif
