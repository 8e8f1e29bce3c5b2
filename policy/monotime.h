/*
 * monotime.h: milliseconds on a clock no one sets (CLOCK_MONOTONIC), for
 * deadlines, budgets, backoffs and TTLs: a change of the wall clock must
 * neither cut a DNS wait short nor keep an answer for ever.
 */
#ifndef MXG_POLICY_MONOTIME_H
#define MXG_POLICY_MONOTIME_H

#include <time.h>

static inline long long monotime_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Microseconds, for what a stage or a check took (records, histograms). */
static inline long long monotime_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
