/*
 * metrics_impl.h: the counters themselves, shared by metrics.c (counting),
 * metrics_rules.c (per-rule counters) and metrics_text.c (rendering);
 * everyone else goes through metrics.h.
 */
#ifndef MXG_MILTER_METRICS_IMPL_H
#define MXG_MILTER_METRICS_IMPL_H

#include <stdatomic.h>
#include <time.h>

#include "milter/metrics.h"
#include "policy/auth/authresult.h"

/* Answers the MTA gets: CONTINUE, ACCEPT, REJECT, TEMPFAIL, DISCARD. */
enum m_answer { M_CONTINUE, M_ACCEPT, M_REJECT, M_TEMPFAIL, M_DISCARD, M_ANSWERS };
/* Messages: the four answers at the end, or left before it. */
enum m_outcome { MO_ACCEPT, MO_REJECT, MO_TEMPFAIL, MO_DISCARD, MO_ABORTED, MO_COUNT };
/* Connections without a message: nothing refused, or refused how. */
enum m_conn { MC_CLOSED, MC_REJECT, MC_TEMPFAIL, MC_DISCARD, MC_COUNT };
enum m_greylist { MG_PASS, MG_TEMPFAIL, MG_ERROR, MG_OTHER, MG_COUNT };
#define M_AUTH_RESULTS (AUTH_PERMERROR + 1)

struct m_histogram {
    atomic_ulong bucket[METRICS_BUCKETS + 1]; /* not cumulative; the last is +Inf */
    atomic_ulong sum_us;
};

/* One rule's counters, keyed by label or file:line; never freed before exit. */
struct rule_counters {
    atomic_ulong matched, decided, warned;
    struct rule_counters *next; /* the registry's hash chain */
    unsigned exported;          /* generation of the export list that holds it */
    char key[];
};

struct metrics {
    time_t start;
    atomic_long sessions_open;
    atomic_ulong sessions_total;
    atomic_ulong decisions[STAGE_COUNT][M_ANSWERS];
    atomic_ulong failures[2]; /* CONN_DNS_FAILURE, CONN_INTERNAL_ERROR */
    atomic_ulong messages[MO_COUNT];
    atomic_ulong connections[MC_COUNT];
    atomic_ulong rcpts[M_ANSWERS];
    atomic_ulong spf[2][M_AUTH_RESULTS]; /* MAIL FROM, HELO */
    atomic_ulong dkim[M_AUTH_RESULTS], dkim_sigs[M_AUTH_RESULTS];
    atomic_ulong greylist[MG_COUNT];
    atomic_ulong store_errors_seen;
    atomic_ulong reloads[2]; /* ok, refused */
    atomic_ulong sessions_refused, poison_held;
    unsigned max_sessions, max_dns_waiting; /* 0: no bound */
    struct m_histogram stage_us[STAGE_COUNT], check_us[CHECK_COUNT];
    struct dns_resolver *resolver;
    struct store *store;
};

extern struct metrics metrics;

extern const char *const m_answer_names[M_ANSWERS];
extern const char *const m_outcome_names[MO_COUNT];
extern const char *const m_conn_names[MC_COUNT];
extern const char *const m_greylist_names[MG_COUNT];
extern const char *const m_check_names[CHECK_COUNT];

/* metrics_rules.c: the counters of a rule, NULL when it has none. */
struct rule_counters *metrics_rule_counters(const struct rule *r);
/* Zero every rule's counts (metrics_init). */
void metrics_rules_reset(void);
/* Call fn for each rule counter of the exported rule set, under the registry's lock. */
void metrics_rules_each(void (*fn)(const struct rule_counters *c, void *ctx), void *ctx);

#endif
