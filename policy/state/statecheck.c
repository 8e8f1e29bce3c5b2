/*
 * statecheck.c: greylisting and rate limits as a session meets them.
 *
 * A hit is counted once per connection, message or recipient, whichever
 * the limit counts: the session remembers, per limit, the message and
 * recipient it last counted. A store that does not answer is an error
 * here, never a pass: the rule's on-error setting decides.
 */
#include "policy/state/statecheck.h"

#include <stdlib.h>
#include <string.h>

#include "policy/monotime.h"

struct counted {
    bool conn;              /* this connection was counted */
    unsigned msg_seq;       /* the message counted last (0: none) */
    unsigned rcpt_seq;      /* the recipient counted last (0: none) */
};

struct statecheck {
    const struct statecheck_config *cfg;
    struct counted counted[STATECHECK_LIMITS_MAX];
    unsigned greylist_checks;         /* so far in the session */
    struct greylist_outcome greylist; /* the last one's */
    unsigned long store_us;           /* running totals, for records */
    unsigned errors;
};

struct statecheck *statecheck_new(const struct statecheck_config *cfg)
{
    struct statecheck *s = calloc(1, sizeof *s);

    if (s != NULL)
        s->cfg = cfg;
    return s;
}

void statecheck_free(struct statecheck *s)
{
    free(s);
}

bool statecheck_ready(const struct statecheck *s)
{
    return s != NULL && s->cfg->store != NULL;
}

static time_t now(const struct statecheck *s)
{
    return s->cfg->clock != NULL ? s->cfg->clock(s->cfg->clock_ctx) : time(NULL);
}

enum greylist_verdict statecheck_greylist(struct statecheck *s, const struct envelope *env,
                                          const struct greylist_params *p, struct greylist_outcome *out)
{
    struct greylist_triplet t = { .sender = envelope_path_text(&env->sender),
                                   .rcpt = envelope_path_text(&env->rcpt) };

    memset(&t.client, 0, sizeof t.client);
    if (env->have_client_ip)
        t.client = env->client_ip;
    long long t0 = monotime_us();

    greylist_check(s->cfg->store, now(s), &t, p, out);
    s->store_us += (unsigned long)(monotime_us() - t0);
    s->errors += out->verdict == GREYLIST_ERROR;
    s->greylist = *out;
    s->greylist_checks++;
    return out->verdict;
}

const struct greylist_outcome *statecheck_last_greylist(const struct statecheck *s)
{
    return s != NULL && s->greylist_checks > 0 ? &s->greylist : NULL;
}

unsigned statecheck_greylist_checks(const struct statecheck *s)
{
    return s != NULL ? s->greylist_checks : 0;
}

/* 1 when this hit is new for the limit (and now remembered), 0 when counted already. */
static unsigned cost_of(struct counted *c, const struct envelope *env, enum ratelimit_unit unit)
{
    switch (unit) {
    case RATELIMIT_CONNECTIONS:
        if (c->conn)
            return 0;
        c->conn = true;
        return 1;
    case RATELIMIT_MESSAGES:
        if (c->msg_seq == env->msg_seq + 1)
            return 0;
        c->msg_seq = env->msg_seq + 1; /* +1: message 0 is counted too */
        return 1;
    case RATELIMIT_RECIPIENTS:
        if (!env->rcpt_pending || c->rcpt_seq == env->rcpt_seq)
            return 0; /* at other stages a recipient limit is only read */
        c->rcpt_seq = env->rcpt_seq;
        return 1;
    }
    return 0;
}

enum ratelimit_status statecheck_ratelimit(struct statecheck *s, const struct envelope *env, unsigned idx,
                                           enum ratelimit_unit unit, const char *key, unsigned window,
                                           unsigned long limit, struct ratelimit_result *out)
{
    unsigned cost;
    long long t0;

    if (idx >= STATECHECK_LIMITS_MAX) {
        memset(out, 0, sizeof *out);
        out->status = RATELIMIT_ERROR;
        out->why = "too many rate limits";
        return out->status;
    }
    cost = cost_of(&s->counted[idx], env, unit);
    t0 = monotime_us();
    if (ratelimit_hit(s->cfg->store, key, window, limit, cost, now(s), out) == RATELIMIT_ERROR) {
        s->counted[idx] = (struct counted){ 0 }; /* not counted after all: the next test tries again */
        s->errors++;
    }
    s->store_us += (unsigned long)(monotime_us() - t0);
    return out->status;
}

void statecheck_totals(const struct statecheck *s, unsigned long *store_us, unsigned *errors)
{
    *store_us = s != NULL ? s->store_us : 0;
    *errors = s != NULL ? s->errors : 0;
}
