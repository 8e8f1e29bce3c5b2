/*
 * greylist.h: greylisting on the state store.
 *
 * The triplet is (client network, envelope sender, recipient). The first
 * sight of a triplet is refused for now; a retry after the delay and
 * within the window passes, and the triplet is then remembered as passed
 * for the lifetime (each later pass renews it). A client network whose
 * triplets passed `autoallow_passes` times is allowed as a whole for
 * `autoallow_lifetime` (postgrey's --auto-whitelist-clients,
 * milter-greylist's autowhite). Greylisting happens only because a rule
 * asked for it: bypasses (trusted networks, authenticated clients, DNSWL)
 * are rules that do not ask.
 *
 * Every time decision reads times kept in the entries, against the `now`
 * the caller passes; the store's own expiry only bounds how long entries
 * are kept. So both backends behave the same under a test's clock.
 */
#ifndef MXG_POLICY_GREYLIST_H
#define MXG_POLICY_GREYLIST_H

#include <stdint.h>
#include <time.h>

#include "policy/smtp/ipaddr.h"
#include "policy/state/store.h"

struct greylist_params {
    unsigned v4_prefix;          /* 24: retries from a pool of senders pass */
    unsigned v6_prefix;          /* 64 */
    unsigned delay;              /* seconds before a retry passes: 300 */
    unsigned window;             /* seconds after the delay a retry still passes: 86400 */
    unsigned lifetime;           /* seconds a passed triplet is remembered: 36 days */
    unsigned autoallow_passes;   /* passed triplets that allow the network; 0: never. 5 */
    unsigned autoallow_lifetime; /* seconds the network stays allowed: 7 days */
};

struct greylist_triplet {
    struct ipaddr client;
    const char *sender; /* the envelope sender; "" for the null sender */
    const char *rcpt;
};

enum greylist_verdict { GREYLIST_PASS, GREYLIST_TEMPFAIL, GREYLIST_ERROR };

enum greylist_reason {
    GREYLIST_NEW,         /* tempfail: first seen (or seen again after its window) */
    GREYLIST_EARLY,       /* tempfail: retried before the delay was over */
    GREYLIST_RETRIED,     /* pass: retried in the window */
    GREYLIST_KNOWN,       /* pass: passed before, within its lifetime */
    GREYLIST_AUTOALLOWED, /* pass: the client network is allowed */
    GREYLIST_STORE_ERROR, /* error: the store did not answer */
};

struct greylist_outcome {
    enum greylist_verdict verdict;
    enum greylist_reason reason;
    long seconds_left;                 /* GREYLIST_NEW and _EARLY: until a retry can pass */
    char network[IPADDR_TEXT_MAX + 4]; /* "192.0.2.0/24" */
    const char *why;                   /* GREYLIST_STORE_ERROR: static text */
};

/* The defaults above. */
void greylist_params_init(struct greylist_params *p);

/*
 * Check (and record) one triplet at time now. GREYLIST_ERROR only when the
 * store failed before a decision; the caller applies the rule's choice
 * (skip or tempfail). An error on the bookkeeping after a pass (the
 * network's count) leaves the pass standing.
 */
enum greylist_verdict greylist_check(struct store *s, time_t now, const struct greylist_triplet *t,
                                     const struct greylist_params *p, struct greylist_outcome *out);

/* "pass", "tempfail", "error" */
const char *greylist_verdict_name(enum greylist_verdict v);

/* "first seen", "too early", "retried", "known", "auto-allowed", "store error" */
const char *greylist_reason_text(enum greylist_reason r);

#endif
