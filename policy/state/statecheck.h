/*
 * statecheck.h: greylisting and rate limits for one session, on the
 * process's state store.
 *
 * The rule engine asks here when a greylist rule or a rate-limit
 * condition is reached; this file knows which hits a session has counted
 * already (a connection, a message and a recipient count once each,
 * however many rules test them) and the clock. Nothing here knows about
 * libmilter or the rule language.
 */
#ifndef MXG_POLICY_STATECHECK_H
#define MXG_POLICY_STATECHECK_H

#include <stdbool.h>
#include <time.h>

#include "policy/smtp/envelope.h"
#include "policy/state/greylist.h"
#include "policy/state/ratelimit.h"

#define STATECHECK_LIMITS_MAX 64 /* rate limits a rule set may declare */

/* Process-wide. */
struct statecheck_config {
    struct store *store;      /* NULL: no store: every check is skipped */
    time_t (*clock)(void *ctx); /* NULL: time(NULL); tests move their own */
    void *clock_ctx;
};

/* What a rate limit counts, and so when a hit is added. */
enum ratelimit_unit { RATELIMIT_CONNECTIONS, RATELIMIT_MESSAGES, RATELIMIT_RECIPIENTS };

struct statecheck;

struct statecheck *statecheck_new(const struct statecheck_config *cfg);
void statecheck_free(struct statecheck *s);

/* True when there is a store to ask. */
bool statecheck_ready(const struct statecheck *s);

/*
 * Greylist the session's current triplet (client, sender, recipient).
 * The outcome is kept for %{greylist.wait}.
 */
enum greylist_verdict statecheck_greylist(struct statecheck *s, const struct envelope *env,
                                          const struct greylist_params *p, struct greylist_outcome *out);
/* The last greylist outcome of the session, or NULL. */
const struct greylist_outcome *statecheck_last_greylist(const struct statecheck *s);
/* Greylist checks so far (the session simulator tells which command made one). */
unsigned statecheck_greylist_checks(const struct statecheck *s);

/*
 * Count this connection, message or recipient against limit number idx
 * (once each: a second test of the same limit only reads) under key, and
 * compare. key is "NAME:value", bounded by the caller.
 */
enum ratelimit_status statecheck_ratelimit(struct statecheck *s, const struct envelope *env, unsigned idx,
                                           enum ratelimit_unit unit, const char *key, unsigned window,
                                           unsigned long limit, struct ratelimit_result *out);

/* Microseconds spent asking the store, and the calls that failed, since the session began. */
void statecheck_totals(const struct statecheck *s, unsigned long *store_us, unsigned *errors);

#endif
