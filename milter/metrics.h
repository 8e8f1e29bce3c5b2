/*
 * metrics.h: what the filter process did, counted as it goes: sessions,
 * decisions by stage and answer, per-rule hits, messages and recipients
 * by outcome, SPF, DKIM, greylisting, DNS and the store, reloads, and
 * latency histograms per stage and per check. Rendered on demand in the
 * Prometheus text format (metrics_text.c), which the endpoint
 * (metrics_http.c) serves and `mxguard --stats` (stats.c) reads.
 *
 * The note functions run on the milter's worker threads for every step:
 * relaxed atomic adds only, no lock, no allocation. The counters live as
 * long as the filter process; a restarted filter starts from zero.
 */
#ifndef MXG_MILTER_METRICS_H
#define MXG_MILTER_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "rules/conn.h"
#include "rules/record.h"
#include "rules/ruleset.h"
#include "rules/stage.h"

struct dns_resolver;
struct store;

/* Start afresh (the filter process, once; tests between cases). 0 or -1. */
int metrics_init(void);

/* A session began (gauge of open sessions up, total up) or ended. */
void metrics_session_open(void);
void metrics_session_close(void);

/*
 * One answered step: its stage and answer, an engine failure by kind,
 * and the rules that decided, warned or added an effect. Counts only
 * decisions the rules made at this step (FLOW_EVALUATED), never a
 * refused connection's repeated answer (FLOW_REPEATED) nor a step let
 * through unchecked (FLOW_SKIPPED). A refusal at connect is answered
 * at the next step (rules/flow.h): the connect step comes as
 * FLOW_DEFERRED, without its rule (only its warn and effect rules are
 * counted here), and then repeats; see metrics_note_deferred.
 */
void metrics_note_decision(enum stage stage, const struct decision *d);

/*
 * The refusal behind a FLOW_DEFERRED decision, counted once: at its
 * stage (connect), with its action and deciding rule. The driver calls
 * it with conn_flow(c)->conn_verdict after a decision whose origin is
 * FLOW_DEFERRED.
 */
void metrics_note_deferred(const struct verdict *v);

/* One record (rules/record.h): outcomes, recipients, facts, latencies. */
void metrics_note_record(const struct record *r);

/* A reload by signal: swapped in (ok) or refused (the old rules serve). */
void metrics_reload(bool ok);

/*
 * Give rs its per-rule counters before it serves: keyed by the rule's
 * label, or its file:line when it has none. A key that an earlier rule
 * set had keeps its counts; rs becomes the rule set exported. 0, or -1
 * (out of memory: its rules go uncounted).
 */
int metrics_attach_rules(struct ruleset *rs);

/* Read at render time; NULL: not exported. */
void metrics_set_resolver(struct dns_resolver *r);
void metrics_set_store(struct store *s);

/*
 * The overload bounds in force (--max-sessions after the descriptor
 * limit, --max-dns-waiting; 0: none), exported as gauges so that an
 * alert can compare the open sessions with their limit. Set by
 * overload_init (milter/overload.c), before the filter process starts;
 * kept by metrics_init, like the resolver.
 */
void metrics_set_limits(unsigned max_sessions, unsigned max_dns_waiting);
/* A session refused with 421 4.3.2 at --max-sessions (milter/overload.c). */
void metrics_note_refused(void);
/* A message held (451 4.3.0) by the poison guard. */
void metrics_note_poison_held(void);

/* The Prometheus text exposition (0.0.4) into a new buffer (free it). 0, or -1 out of memory. */
int metrics_render(char **out, size_t *len);

/* The histograms' upper bounds, microseconds (the text shows seconds). */
#define METRICS_BUCKETS 17
extern const unsigned long metrics_bucket_us[METRICS_BUCKETS];

#endif
