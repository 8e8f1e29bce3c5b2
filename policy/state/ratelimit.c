/*
 * ratelimit.c: sliding-window counters (two fixed windows, weighted).
 *
 * Entries: "rl:WINDOW/N|KEY", a counter of the hits in fixed window N
 * (seconds N*WINDOW to (N+1)*WINDOW), kept for two windows so it can
 * serve as the previous one. The window length is part of the key: two
 * rules with different windows on one fact count apart.
 *
 * Must never report "under the limit" when the store failed.
 */
#include "policy/state/ratelimit.h"

#include <stdio.h>
#include <string.h>

/* The key of fixed window n for key; its length. */
static size_t window_key(char out[STORE_KEY_MAX + 1], const char *key, unsigned window, long long n)
{
    char text[64 + STORE_KEY_MAX + 1], hashed[STORE_KEY_MAX + 1];
    int len = snprintf(text, sizeof text, "%u/%lld|", window, n);
    size_t klen = strlen(key);

    if (klen > STORE_KEY_MAX) { /* an over-long fact stands in by its hash */
        klen = store_key(hashed, "h", key, klen);
        key = hashed;
    }
    memcpy(text + len, key, klen);
    return store_key(out, "rl", text, (size_t)len + klen);
}

static enum ratelimit_status failed(struct ratelimit_result *out, const char *why)
{
    out->status = RATELIMIT_ERROR;
    out->why = why;
    return out->status;
}

/* A window's count; a window without hits counts 0. STORE_FOUND unless the store failed. */
static enum store_result read_counter(struct store *s, const char *k, size_t klen, time_t now, int64_t *n,
                                      const char **why)
{
    char val[STORE_VALUE_MAX];
    size_t vlen;
    enum store_result r = store_get(s, k, klen, val, sizeof val, &vlen, now, why);

    *n = 0;
    if (r == STORE_NOTFOUND)
        return STORE_FOUND;
    if (r == STORE_FOUND && store_parse_counter(val, vlen, n) < 0) {
        *why = "rate counter is not a number";
        return STORE_ERROR;
    }
    return r;
}

enum ratelimit_status ratelimit_hit(struct store *s, const char *key, unsigned window, uint64_t limit,
                                    unsigned cost, time_t now, struct ratelimit_result *out)
{
    char k[STORE_KEY_MAX + 1];
    long long n, start, elapsed;
    int64_t cur, prev;
    const char *why = NULL;
    size_t klen;

    memset(out, 0, sizeof *out);
    out->limit = limit;
    if (window == 0)
        return failed(out, "rate limit window of 0 seconds");
    n = (long long)now / window;
    start = n * window;
    elapsed = (long long)now - start;
    klen = window_key(k, key, window, n);
    if ((cost > 0 ? store_incr(s, k, klen, cost, (time_t)(start + 2LL * window), now, &cur, &why)
                  : read_counter(s, k, klen, now, &cur, &why)) != STORE_FOUND)
        return failed(out, why);
    klen = window_key(k, key, window, n - 1);
    if (read_counter(s, k, klen, now, &prev, &why) != STORE_FOUND)
        return failed(out, why);
    if (cur < 0 || prev < 0)
        return failed(out, "rate counter below zero");
    /* The part of the previous window still inside the last `window` seconds. */
    out->count = (uint64_t)cur + (uint64_t)((double)prev * (double)(window - elapsed) / window);
    out->status = out->count > limit ? RATELIMIT_OVER : RATELIMIT_UNDER;
    return out->status;
}
