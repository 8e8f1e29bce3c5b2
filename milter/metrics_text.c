/*
 * metrics_text.c: the counters as Prometheus text (exposition format
 * 0.0.4): HELP and TYPE before each family, `_total` counters, histograms
 * in seconds, label values escaped.
 *
 * Runs on the endpoint's thread when scraped: it may allocate, but never
 * holds the rule registry's lock longer than copying the per-rule lines,
 * and never writes a label value as it came (a rule file path may hold
 * a quote, a backslash, a newline or bytes that are not UTF-8).
 */
#include "milter/metrics_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/dns/dns.h"
#include "policy/state/store.h"

struct buf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        if (b->oom)
            return;
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* Bytes of a valid UTF-8 sequence at s (at most n), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0xc2 ? 0 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : s[0] < 0xf5 ? 4 : 0;

    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) || (s[0] == 0xf0 && s[1] < 0x90) ||
        (s[0] == 0xf4 && s[1] > 0x8f))
        return 0; /* overlong, a surrogate, past U+10FFFF */
    return len;
}

/* A label value: \\, \" and \n escaped, bytes that are not UTF-8 as U+FFFD. */
static void put_label_value(struct buf *b, const char *value)
{
    const unsigned char *s = (const unsigned char *)value;
    size_t n = strlen(value);

    for (size_t i = 0; i < n;) {
        if (s[i] == '\\' || s[i] == '"')
            put(b, "\\%c", s[i++]);
        else if (s[i] == '\n')
            put(b, "\\n"), i++;
        else if (s[i] < 0x80)
            put(b, "%c", s[i++]);
        else {
            size_t len = utf8_len(s + i, n - i);
            if (len == 0)
                put(b, "\xef\xbf\xbd"), i++;
            else
                put(b, "%.*s", (int)len, (const char *)s + i), i += len;
        }
    }
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one series without labels: its HELP, TYPE and value. */
static void scalar(struct buf *b, const char *name, const char *type, const char *help, unsigned long v)
{
    family(b, name, type, help);
    put(b, "%s %lu\n", name, v);
}

static unsigned long get(const atomic_ulong *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

/* name{label="value"} n for each value of a fixed list. */
static void labelled(struct buf *b, const char *name, const char *label, const char *const *values,
                     const atomic_ulong *counts, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        put(b, "%s{%s=\"%s\"} %lu\n", name, label, values[i], get(&counts[i]));
}

static void histogram(struct buf *b, const char *name, const char *label, const char *value,
                      const struct m_histogram *h)
{
    unsigned long cum = 0;

    for (unsigned i = 0; i <= METRICS_BUCKETS; i++) {
        cum += get(&h->bucket[i]);
        if (i < METRICS_BUCKETS)
            put(b, "%s_bucket{%s=\"%s\",le=\"%g\"} %lu\n", name, label, value,
                (double)metrics_bucket_us[i] / 1e6, cum);
        else
            put(b, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %lu\n", name, label, value, cum);
    }
    put(b, "%s_sum{%s=\"%s\"} %.6f\n", name, label, value, (double)get(&h->sum_us) / 1e6);
    put(b, "%s_count{%s=\"%s\"} %lu\n", name, label, value, cum);
}

static void render_sessions(struct buf *b)
{
    family(b, "mxguard_start_time_seconds", "gauge", "When the filter process started, in seconds since the epoch.");
    put(b, "mxguard_start_time_seconds %lld\n", (long long)metrics.start);
    family(b, "mxguard_sessions_open", "gauge", "SMTP sessions (milter connections) open now.");
    put(b, "mxguard_sessions_open %ld\n", atomic_load_explicit(&metrics.sessions_open, memory_order_relaxed));
    scalar(b, "mxguard_sessions_total", "counter", "SMTP sessions (milter connections) started.",
           get(&metrics.sessions_total));
    scalar(b, "mxguard_sessions_limit", "gauge", "Sessions served at once (--max-sessions); 0: no bound.",
           metrics.max_sessions);
    scalar(b, "mxguard_sessions_refused_total", "counter", "Sessions refused with 421 4.3.2 at --max-sessions.",
           get(&metrics.sessions_refused));
    scalar(b, "mxguard_poison_held_total", "counter", "Messages held (451 4.3.0) by the poison guard.",
           get(&metrics.poison_held));
    family(b, "mxguard_reloads_total", "counter", "Rule reloads by signal: ok (swapped in) or refused (the old rules kept serving).");
    put(b, "mxguard_reloads_total{result=\"ok\"} %lu\n", get(&metrics.reloads[0]));
    put(b, "mxguard_reloads_total{result=\"refused\"} %lu\n", get(&metrics.reloads[1]));
}

static void render_decisions(struct buf *b)
{
    family(b, "mxguard_decisions_total", "counter", "Answers the rules gave the MTA, by stage and action.");
    for (int s = 0; s < STAGE_COUNT; s++)
        for (int a = 0; a < M_ANSWERS; a++)
            put(b, "mxguard_decisions_total{stage=\"%s\",action=\"%s\"} %lu\n", stage_name((enum stage)s),
                m_answer_names[a], get(&metrics.decisions[s][a]));
    family(b, "mxguard_engine_failures_total", "counter", "Tempfails no rule asked for: a DNS list that did not answer (dns) or an internal error.");
    put(b, "mxguard_engine_failures_total{kind=\"dns\"} %lu\n", get(&metrics.failures[0]));
    put(b, "mxguard_engine_failures_total{kind=\"internal\"} %lu\n", get(&metrics.failures[1]));
    family(b, "mxguard_messages_total", "counter", "Messages (MAIL FROM transactions) by outcome.");
    labelled(b, "mxguard_messages_total", "outcome", m_outcome_names, metrics.messages, MO_COUNT);
    family(b, "mxguard_connections_without_message_total", "counter", "Connections that ended without a MAIL FROM, by outcome.");
    labelled(b, "mxguard_connections_without_message_total", "outcome", m_conn_names, metrics.connections, MC_COUNT);
    family(b, "mxguard_recipients_total", "counter", "Recipients by the action they got (the first 50 of a message).");
    labelled(b, "mxguard_recipients_total", "action", m_answer_names + 1, metrics.rcpts + 1, M_ANSWERS - 1);
}

static void render_auth(struct buf *b)
{
    static const enum auth_result spf[] = { AUTH_NONE, AUTH_NEUTRAL, AUTH_PASS, AUTH_FAIL,
                                            AUTH_SOFTFAIL, AUTH_TEMPERROR, AUTH_PERMERROR };
    static const enum auth_result dkim[] = { AUTH_NONE, AUTH_PASS, AUTH_FAIL, AUTH_POLICY,
                                             AUTH_TEMPERROR, AUTH_PERMERROR };
    static const char *const ids[] = { "mailfrom", "helo" };

    family(b, "mxguard_spf_results_total", "counter", "SPF results by identity (mailfrom, helo).");
    for (int id = 0; id < 2; id++)
        for (size_t i = 0; i < sizeof spf / sizeof spf[0]; i++)
            put(b, "mxguard_spf_results_total{identity=\"%s\",result=\"%s\"} %lu\n", ids[id],
                auth_result_name(spf[i]), get(&metrics.spf[id][spf[i]]));
    family(b, "mxguard_dkim_results_total", "counter", "DKIM results of messages (pass if one signature passed).");
    for (size_t i = 0; i < sizeof dkim / sizeof dkim[0]; i++)
        put(b, "mxguard_dkim_results_total{result=\"%s\"} %lu\n", auth_result_name(dkim[i]), get(&metrics.dkim[dkim[i]]));
    family(b, "mxguard_dkim_signatures_total", "counter", "DKIM signatures evaluated, by result.");
    for (size_t i = 1; i < sizeof dkim / sizeof dkim[0]; i++)
        put(b, "mxguard_dkim_signatures_total{result=\"%s\"} %lu\n", auth_result_name(dkim[i]),
            get(&metrics.dkim_sigs[dkim[i]]));
    family(b, "mxguard_greylist_outcomes_total", "counter", "Messages by their last greylist outcome.");
    labelled(b, "mxguard_greylist_outcomes_total", "outcome", m_greylist_names, metrics.greylist, MG_COUNT);
}

static void render_services(struct buf *b)
{
    if (metrics.resolver != NULL) {
        struct dns_stats d;
        dns_resolver_stats(metrics.resolver, &d);
        scalar(b, "mxguard_dns_questions_total", "counter", "DNS questions asked.",
               d.asked);
        scalar(b, "mxguard_dns_memo_answers_total", "counter", "DNS questions answered from the filter's memory of earlier answers.",
               d.from_memo);
        scalar(b, "mxguard_dns_timeouts_total", "counter", "DNS questions still unanswered at their deadline.",
               d.timeouts);
        scalar(b, "mxguard_dns_servfail_total", "counter", "DNS answers with RCODE SERVFAIL.",
               d.servfail);
        scalar(b, "mxguard_dns_waiting", "gauge", "Sessions waiting for DNS answers now.",
               d.waiting);
        scalar(b, "mxguard_dns_waiting_limit", "gauge", "Sessions allowed to wait for DNS at once (--max-dns-waiting); 0: no bound.",
               metrics.max_dns_waiting);
        scalar(b, "mxguard_dns_not_asked_total", "counter", "DNS questions not asked at --max-dns-waiting (they read as lookup failures).",
               d.refused);
    }
    if (metrics.store != NULL) {
        struct store_stats st;
        store_stats(metrics.store, &st);
        scalar(b, "mxguard_store_up", "gauge", "1 when the state store's last answer was not an error.",
               st.up);
        scalar(b, "mxguard_store_calls_total", "counter", "State store calls.",
               st.calls);
        scalar(b, "mxguard_store_errors_total", "counter", "State store calls that failed.",
               st.errors);
        scalar(b, "mxguard_store_outages_total", "counter", "Times the state store went from answering to failing.",
               st.outages);
    }
    scalar(b, "mxguard_message_store_errors_total", "counter", "Store calls that failed, as the checks of messages and connections saw them.",
           get(&metrics.store_errors_seen));
}

struct rule_render {
    struct buf *b;
    const char *name;
    size_t field; /* offset of the counter in struct rule_counters */
};

static void rule_line(const struct rule_counters *c, void *ctx)
{
    struct rule_render *rr = ctx;

    put(rr->b, "%s{rule=\"", rr->name);
    put_label_value(rr->b, c->key);
    put(rr->b, "\"} %lu\n", get((const atomic_ulong *)(const void *)((const char *)c + rr->field)));
}

static void render_rules(struct buf *b)
{
    static const struct {
        const char *name, *help;
        size_t field;
    } fams[] = {
        { "mxguard_rule_matched_total", "Times a rule matched: it decided, warned, or added an effect. rule is its label, or file:line.",
          offsetof(struct rule_counters, matched) },
        { "mxguard_rule_decided_total", "Times a rule decided a step.", offsetof(struct rule_counters, decided) },
        { "mxguard_rule_warned_total", "Times a warn rule matched: what it would have decided.",
          offsetof(struct rule_counters, warned) },
    };

    for (size_t i = 0; i < sizeof fams / sizeof fams[0]; i++) {
        struct rule_render rr = { b, fams[i].name, fams[i].field };
        family(b, fams[i].name, "counter", fams[i].help);
        metrics_rules_each(rule_line, &rr);
    }
}

static void render_latency(struct buf *b)
{
    family(b, "mxguard_stage_duration_seconds", "histogram", "Time a message or connection spent in each SMTP stage (headers summed).");
    for (int s = 0; s < STAGE_COUNT; s++)
        histogram(b, "mxguard_stage_duration_seconds", "stage", stage_name((enum stage)s), &metrics.stage_us[s]);
    family(b, "mxguard_check_duration_seconds", "histogram", "Time a message or connection spent in each check.");
    for (int c = 0; c < CHECK_COUNT; c++)
        histogram(b, "mxguard_check_duration_seconds", "check", m_check_names[c], &metrics.check_us[c]);
}

int metrics_render(char **out, size_t *len)
{
    struct buf b = { NULL, 0, 0, false };

    if ((b.p = malloc(b.cap = 16384)) == NULL)
        return -1;
    b.p[0] = '\0';
    render_sessions(&b);
    render_decisions(&b);
    render_auth(&b);
    render_services(&b);
    render_rules(&b);
    render_latency(&b);
    if (b.oom) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}
