/*
 * metrics.c: counting what the filter did (milter/metrics.h): sessions,
 * decisions, records, reloads, into process-wide relaxed atomics.
 *
 * Runs on every answered step of every session: it must never take a
 * lock, allocate, or do more than a few atomic adds and a search over a
 * short fixed array of histogram bounds.
 */
#include "milter/metrics_impl.h"

#include <string.h>

#include "policy/auth/dkim.h"
#include "policy/auth/spf.h"

struct metrics metrics;

const unsigned long metrics_bucket_us[METRICS_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000,
};
const char *const m_answer_names[M_ANSWERS] = { "continue", "accept", "reject", "tempfail", "discard" };
const char *const m_outcome_names[MO_COUNT] = { "accept", "reject", "tempfail", "discard", "aborted" };
const char *const m_conn_names[MC_COUNT] = { "closed", "reject", "tempfail", "discard" };
const char *const m_greylist_names[MG_COUNT] = { "pass", "tempfail", "error", "other" };
const char *const m_check_names[CHECK_COUNT] = { "dns", "spf", "dkim", "store" };

#define ADD(counter, n) atomic_fetch_add_explicit(&(counter), (n), memory_order_relaxed)
#define INC(counter) ADD(counter, 1)

int metrics_init(void)
{
    struct dns_resolver *resolver = metrics.resolver;
    struct store *store = metrics.store;
    unsigned max_sessions = metrics.max_sessions, max_dns_waiting = metrics.max_dns_waiting;

    /* Nothing counts yet (the filter starts it before its first session). */
    memset(&metrics, 0, sizeof metrics);
    metrics.resolver = resolver;
    metrics.store = store;
    metrics.max_sessions = max_sessions;
    metrics.max_dns_waiting = max_dns_waiting;
    metrics.start = time(NULL);
    metrics_rules_reset();
    return 0;
}

void metrics_set_resolver(struct dns_resolver *r) { metrics.resolver = r; }
void metrics_set_store(struct store *s) { metrics.store = s; }

void metrics_set_limits(unsigned max_sessions, unsigned max_dns_waiting)
{
    metrics.max_sessions = max_sessions;
    metrics.max_dns_waiting = max_dns_waiting;
}

void metrics_note_refused(void) { INC(metrics.sessions_refused); }
void metrics_note_poison_held(void) { INC(metrics.poison_held); }

void metrics_session_open(void)
{
    atomic_fetch_add_explicit(&metrics.sessions_open, 1, memory_order_relaxed);
    INC(metrics.sessions_total);
}

void metrics_session_close(void)
{
    atomic_fetch_sub_explicit(&metrics.sessions_open, 1, memory_order_relaxed);
}

void metrics_reload(bool ok)
{
    INC(metrics.reloads[ok ? 0 : 1]);
}

static enum m_answer answer_of(enum action a)
{
    switch (a) {
    case ACTION_ACCEPT: return M_ACCEPT;
    case ACTION_REJECT: return M_REJECT;
    case ACTION_TEMPFAIL: return M_TEMPFAIL;
    case ACTION_DISCARD: return M_DISCARD;
    default: return M_CONTINUE;
    }
}

static void note_rule(const struct rule *r, bool decided, bool warned)
{
    struct rule_counters *c = r != NULL ? metrics_rule_counters(r) : NULL;

    if (c == NULL)
        return;
    INC(c->matched);
    if (decided)
        INC(c->decided);
    if (warned)
        INC(c->warned);
}

void metrics_note_decision(enum stage stage, const struct decision *d)
{
    if ((d->origin != FLOW_EVALUATED && d->origin != FLOW_DEFERRED) || (unsigned)stage >= STAGE_COUNT)
        return;
    /* Deferred: the refusal is counted by metrics_note_deferred; the
       warn and effect rules that matched are reported now. */
    if (d->origin == FLOW_EVALUATED) {
        INC(metrics.decisions[stage][answer_of(d->answer)]);
        if (d->failure == CONN_DNS_FAILURE || d->failure == CONN_INTERNAL_ERROR)
            INC(metrics.failures[d->failure == CONN_DNS_FAILURE ? 0 : 1]);
        note_rule(d->v.rule, true, false);
    }
    for (unsigned i = 0; i < d->v.nwarned && i < VERDICT_WARN_MAX; i++)
        note_rule(d->v.warned[i], false, true);
    for (unsigned i = 0; i < d->v.neffects && i < VERDICT_EFFECTS_MAX; i++)
        note_rule(d->v.effects[i].rule, false, false);
}

void metrics_note_deferred(const struct verdict *v)
{
    enum stage stage = v->rule != NULL ? rule_stage(v->rule) : STAGE_CONNECT;

    if ((unsigned)stage >= STAGE_COUNT)
        return;
    INC(metrics.decisions[stage][answer_of(v->action)]);
    note_rule(v->rule, true, false);
}

static void observe(struct m_histogram *h, unsigned long us)
{
    unsigned i = 0;

    while (i < METRICS_BUCKETS && us > metrics_bucket_us[i])
        i++;
    INC(h->bucket[i]);
    ADD(h->sum_us, us);
}

/* A message: refused, or else through the end of data, or else left. */
static enum m_outcome message_outcome(const struct record *r)
{
    enum m_answer a = answer_of(r->outcome.action);

    if (r->aborted && r->rcpts_taken > 0)
        return MO_ABORTED;
    if (a == M_REJECT || a == M_TEMPFAIL || a == M_DISCARD)
        return (enum m_outcome)(MO_REJECT + (a - M_REJECT));
    return r->reached_eom && !r->aborted ? MO_ACCEPT : MO_ABORTED;
}

static enum m_conn connection_outcome(const struct record *r)
{
    enum m_answer a = answer_of(r->outcome.action);

    if (a == M_REJECT || a == M_TEMPFAIL || a == M_DISCARD)
        return (enum m_conn)(MC_REJECT + (a - M_REJECT));
    return MC_CLOSED;
}

static void note_auth(const struct record *r)
{
    if (r->spf_mfrom != NULL && (unsigned)r->spf_mfrom->result < M_AUTH_RESULTS)
        INC(metrics.spf[0][r->spf_mfrom->result]);
    if (r->spf_helo != NULL && (unsigned)r->spf_helo->result < M_AUTH_RESULTS)
        INC(metrics.spf[1][r->spf_helo->result]);
    if (r->dkim == NULL)
        return;
    if ((unsigned)r->dkim->result < M_AUTH_RESULTS)
        INC(metrics.dkim[r->dkim->result]);
    for (unsigned i = 0; i < r->dkim->nevaluated && i < DKIM_SIGS_MAX; i++)
        if ((unsigned)r->dkim->sig[i].result < M_AUTH_RESULTS)
            INC(metrics.dkim_sigs[r->dkim->sig[i].result]);
}

static enum m_greylist greylist_of(const char *g)
{
    if (strcmp(g, "pass") == 0)
        return MG_PASS;
    if (strcmp(g, "tempfail") == 0)
        return MG_TEMPFAIL;
    if (strcmp(g, "error") == 0)
        return MG_ERROR;
    return MG_OTHER;
}

void metrics_note_record(const struct record *r)
{
    if (r->kind == RECORD_MESSAGE)
        INC(metrics.messages[message_outcome(r)]);
    else
        INC(metrics.connections[connection_outcome(r)]);
    for (unsigned i = 0; i < r->nrcpt && i < RECORD_RCPTS_MAX; i++)
        INC(metrics.rcpts[answer_of(r->rcpt[i].v.action) == M_CONTINUE ? M_ACCEPT
                                                                       : answer_of(r->rcpt[i].v.action)]);
    note_auth(r);
    if (r->greylist != NULL)
        INC(metrics.greylist[greylist_of(r->greylist)]);
    if (r->store_errors > 0)
        ADD(metrics.store_errors_seen, r->store_errors);
    for (int s = 0; s < STAGE_COUNT; s++)
        if (r->us_stage[s] > 0)
            observe(&metrics.stage_us[s], r->us_stage[s]);
    for (int c = 0; c < CHECK_COUNT; c++)
        if (r->us_check[c] > 0)
            observe(&metrics.check_us[c], r->us_check[c]);
}
