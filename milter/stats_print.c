/*
 * stats_print.c: a scrape of the metrics endpoint, read back and printed
 * for an admin: sessions, messages, decisions, top rules, DNS, store,
 * reloads, and p50/p99 estimates from the latency histograms.
 *
 * Reads only what metrics_text.c writes, but must never trust it: an
 * unknown line is skipped, never an error or an overrun.
 */
#include "milter/stats.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sample {
    const char *name;
    const char *labels; /* inside the braces, as written; "" without */
    double v;
};

struct scrape {
    struct sample *s;
    size_t n;
};

/* Split text into samples, in place. */
static int parse(char *text, struct scrape *sc)
{
    size_t cap = 0;

    sc->s = NULL;
    sc->n = 0;
    for (char *line = text, *next; line != NULL && *line != '\0'; line = next) {
        char *end, *brace;
        struct sample smp = { line, "", 0 };
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        end = line + strcspn(line, "{ ");
        if (*end == '{') {
            *end = '\0';
            brace = end + 1;
            for (end = brace; *end != '\0' && *end != '}'; end++)
                if (*end == '"')
                    for (end++; *end != '\0' && *end != '"'; end++)
                        if (*end == '\\' && end[1] != '\0')
                            end++;
            if (*end != '}')
                continue;
            *end++ = '\0';
            smp.labels = brace;
        } else if (*end == ' ') {
            *end++ = '\0';
        } else {
            continue;
        }
        smp.v = strtod(end, NULL);
        if (sc->n == cap) {
            struct sample *p = realloc(sc->s, (cap = cap ? cap * 2 : 256) * sizeof *p);
            if (p == NULL)
                return -1;
            sc->s = p;
        }
        sc->s[sc->n++] = smp;
    }
    return 0;
}

/* The value of label key, unescaped into out. */
static bool label_get(const char *labels, const char *key, char *out, size_t outsz)
{
    size_t klen = strlen(key);
    const char *p = labels;

    while (*p != '\0') {
        const char *eq = strchr(p, '=');
        size_t o = 0;
        bool match;
        if (eq == NULL || eq[1] != '"')
            return false;
        match = (size_t)(eq - p) == klen && strncmp(p, key, klen) == 0;
        for (p = eq + 2; *p != '\0' && *p != '"'; p++) {
            char c = *p;
            if (c == '\\' && p[1] != '\0')
                c = *++p == 'n' ? '\n' : *p;
            if (match && o + 1 < outsz)
                out[o++] = c;
        }
        if (match) {
            out[o] = '\0';
            return true;
        }
        p += *p == '"';
        p += *p == ',';
    }
    return false;
}

static bool label_is(const struct sample *s, const char *key, const char *want)
{
    char v[256];

    return key == NULL || (label_get(s->labels, key, v, sizeof v) && strcmp(v, want) == 0);
}

/* The sum of name's samples whose labels match (NULL key: any); -1 when there is none. */
static double val(const struct scrape *sc, const char *name, const char *k1, const char *v1, const char *k2,
                  const char *v2)
{
    double sum = -1;

    for (size_t i = 0; i < sc->n; i++)
        if (strcmp(sc->s[i].name, name) == 0 && label_is(&sc->s[i], k1, v1) && label_is(&sc->s[i], k2, v2))
            sum = (sum < 0 ? 0 : sum) + sc->s[i].v;
    return sum;
}

static double val0(const struct scrape *sc, const char *name, const char *k, const char *v)
{
    double x = val(sc, name, k, v, NULL, NULL);
    return x < 0 ? 0 : x;
}

/* "what N, what N" over the values of one label. */
struct sel {
    const char *name, *key; /* the family, and the label printed */
    const char *k2, *v2;    /* another label it must have, or NULL */
};

static void by_label(const struct scrape *sc, FILE *out, const char *title, struct sel sel,
                     const char *const *values, bool skip_zero)
{
    const char *sep = "";

    fprintf(out, "%-16s", title);
    for (const char *const *v = values; *v != NULL; v++) {
        double x = val(sc, sel.name, sel.key, *v, sel.k2, sel.v2);
        x = x < 0 ? 0 : x;
        if (skip_zero && x == 0)
            continue;
        fprintf(out, "%s%s %.0f", sep, *v, x);
        sep = ", ";
    }
    fprintf(out, "%s\n", *sep == '\0' ? "nothing counted" : "");
}

static const char *const stages[] = { "connect", "helo", "mail", "rcpt", "data", "header", "eoh", "eom", NULL };
static const char *const answers[] = { "continue", "accept", "reject", "tempfail", "discard", NULL };

static void print_traffic(const struct scrape *sc, FILE *out)
{
    static const char *const outcomes[] = { "accept", "reject", "tempfail", "discard", "aborted", NULL };
    static const char *const conns[] = { "closed", "reject", "tempfail", "discard", NULL };

    fprintf(out, "%-16s%.0f open, %.0f in all\n", "sessions", val0(sc, "mxguard_sessions_open", NULL, NULL),
            val0(sc, "mxguard_sessions_total", NULL, NULL));
    fprintf(out, "%-16s%.0f\n", "messages", val0(sc, "mxguard_messages_total", NULL, NULL));
    by_label(sc, out, "  by outcome", (struct sel){ "mxguard_messages_total", "outcome", NULL, NULL }, outcomes, false);
    fprintf(out, "%-16s%.0f\n", "no message", val0(sc, "mxguard_connections_without_message_total", NULL, NULL));
    by_label(sc, out, "  by outcome", (struct sel){ "mxguard_connections_without_message_total", "outcome", NULL, NULL },
             conns, false);
    by_label(sc, out, "recipients", (struct sel){ "mxguard_recipients_total", "action", NULL, NULL }, answers + 1, false);
    fprintf(out, "decisions (stage: action count)%s\n",
            val0(sc, "mxguard_decisions_total", NULL, NULL) == 0 ? ": none" : "");
    for (const char *const *s = stages; *s != NULL; s++) {
        const char *sep = "";
        if (val0(sc, "mxguard_decisions_total", "stage", *s) == 0)
            continue;
        fprintf(out, "  %-14s", *s);
        for (const char *const *a = answers; *a != NULL; a++) {
            double x = val(sc, "mxguard_decisions_total", "stage", *s, "action", *a);
            if (x > 0)
                fprintf(out, "%s%s %.0f", sep, *a, x), sep = ", ";
        }
        fputc('\n', out);
    }
    fprintf(out, "%-16sdns %.0f, internal %.0f (poison messages held %.0f)\n", "engine failures",
            val0(sc, "mxguard_engine_failures_total", "kind", "dns"),
            val0(sc, "mxguard_engine_failures_total", "kind", "internal"),
            val0(sc, "mxguard_poison_held_total", NULL, NULL));
}

/* A bound as the admin gave it: 0 is none. */
static void print_limit(FILE *out, double limit)
{
    if (limit > 0)
        fprintf(out, "limit %.0f", limit);
    else
        fputs("no limit", out);
}

static void print_overload(const struct scrape *sc, FILE *out)
{
    fprintf(out, "%-16s%.0f sessions refused (", "overload", val0(sc, "mxguard_sessions_refused_total", NULL, NULL));
    print_limit(out, val0(sc, "mxguard_sessions_limit", NULL, NULL));
    if (val(sc, "mxguard_dns_waiting", NULL, NULL, NULL, NULL) >= 0) {
        fprintf(out, "), %.0f waiting for DNS (", val0(sc, "mxguard_dns_waiting", NULL, NULL));
        print_limit(out, val0(sc, "mxguard_dns_waiting_limit", NULL, NULL));
        fprintf(out, "), %.0f DNS questions not asked", val0(sc, "mxguard_dns_not_asked_total", NULL, NULL));
    } else {
        fputc(')', out);
    }
    fputc('\n', out);
}

static int by_value(const void *a, const void *b)
{
    const struct sample *x = *(const struct sample *const *)a, *y = *(const struct sample *const *)b;
    return x->v < y->v ? 1 : x->v > y->v ? -1 : strcmp(x->labels, y->labels);
}

static void top_rules(const struct scrape *sc, FILE *out, const char *title, const char *name)
{
    const struct sample **top = calloc(sc->n + 1, sizeof *top);
    size_t n = 0;
    char rule[512];

    fprintf(out, "top rules, %s:", title);
    for (size_t i = 0; top != NULL && i < sc->n; i++)
        if (strcmp(sc->s[i].name, name) == 0 && sc->s[i].v > 0)
            top[n++] = &sc->s[i];
    if (n == 0)
        fprintf(out, " none");
    fputc('\n', out);
    if (top != NULL)
        qsort(top, n, sizeof *top, by_value);
    for (size_t i = 0; i < n && i < 10; i++)
        if (label_get(top[i]->labels, "rule", rule, sizeof rule))
            fprintf(out, "  %10.0f  %s\n", top[i]->v, rule);
    free(top);
}

static void print_services(const struct scrape *sc, FILE *out)
{
    static const char *const spf[] = { "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", NULL };
    static const char *const dkim[] = { "pass", "fail", "policy", "none", "temperror", "permerror", NULL };
    static const char *const grey[] = { "pass", "tempfail", "error", "other", NULL };
    double up = val(sc, "mxguard_store_up", NULL, NULL, NULL, NULL);

    by_label(sc, out, "spf mail from", (struct sel){ "mxguard_spf_results_total", "result", "identity", "mailfrom" }, spf, true);
    by_label(sc, out, "spf helo", (struct sel){ "mxguard_spf_results_total", "result", "identity", "helo" }, spf, true);
    by_label(sc, out, "dkim", (struct sel){ "mxguard_dkim_results_total", "result", NULL, NULL }, dkim, true);
    by_label(sc, out, "greylist", (struct sel){ "mxguard_greylist_outcomes_total", "outcome", NULL, NULL }, grey, true);
    if (val(sc, "mxguard_dns_questions_total", NULL, NULL, NULL, NULL) >= 0)
        fprintf(out, "%-16s%.0f questions, %.0f from memory, %.0f timeouts, %.0f SERVFAIL\n", "dns",
                val0(sc, "mxguard_dns_questions_total", NULL, NULL), val0(sc, "mxguard_dns_memo_answers_total", NULL, NULL),
                val0(sc, "mxguard_dns_timeouts_total", NULL, NULL), val0(sc, "mxguard_dns_servfail_total", NULL, NULL));
    else
        fprintf(out, "%-16snone (no resolver)\n", "dns");
    if (up >= 0)
        fprintf(out, "%-16s%s, %.0f calls, %.0f errors, %.0f outages\n", "store", up > 0 ? "up" : "DOWN",
                val0(sc, "mxguard_store_calls_total", NULL, NULL), val0(sc, "mxguard_store_errors_total", NULL, NULL),
                val0(sc, "mxguard_store_outages_total", NULL, NULL));
    else
        fprintf(out, "%-16snone open\n", "store");
    fprintf(out, "%-16s%.0f ok, %.0f refused\n", "reloads", val0(sc, "mxguard_reloads_total", "result", "ok"),
            val0(sc, "mxguard_reloads_total", "result", "refused"));
}

/* An estimate of quantile q from one histogram's buckets, as Prometheus'
   histogram_quantile() makes it: linear within the bucket. -1: empty. */
static double quantile(const struct scrape *sc, const char *family, const char *key, const char *value, double q,
                       double *count_r, bool *beyond_r)
{
    char name[96], le[32];
    double prev_le = 0, prev_cum = 0, total;

    snprintf(name, sizeof name, "%s_bucket", family);
    total = val(sc, name, key, value, "le", "+Inf");
    *count_r = total < 0 ? 0 : total;
    *beyond_r = false;
    if (total <= 0)
        return -1;
    /* The buckets come in ascending order of le, as metrics_text.c writes them. */
    for (size_t i = 0; i < sc->n; i++) {
        const struct sample *s = &sc->s[i];
        double bound;
        if (strcmp(s->name, name) != 0 || !label_is(s, key, value) || !label_get(s->labels, "le", le, sizeof le))
            continue;
        if (strcmp(le, "+Inf") == 0) {
            *beyond_r = true;
            return prev_le;
        }
        bound = strtod(le, NULL);
        if (s->v >= q * total) {
            if (s->v == prev_cum)
                return bound;
            return prev_le + (bound - prev_le) * (q * total - prev_cum) / (s->v - prev_cum);
        }
        prev_le = bound;
        prev_cum = s->v;
    }
    return -1;
}

static void print_duration(FILE *out, double s, bool beyond)
{
    if (beyond)
        fprintf(out, "> %g s", s);
    else if (s < 0.001)
        fprintf(out, "%.0f us", s * 1e6);
    else if (s < 1)
        fprintf(out, "%.1f ms", s * 1e3);
    else
        fprintf(out, "%.2f s", s);
}

static void latency(const struct scrape *sc, FILE *out, const char *family, const char *key,
                    const char *const *values)
{
    char name[96];

    snprintf(name, sizeof name, "%s_count", family);
    if (val0(sc, name, NULL, NULL) == 0)
        fprintf(out, "  nothing measured yet\n");
    for (const char *const *v = values; *v != NULL; v++) {
        double n, n99, p50, p99;
        bool b50, b99;
        if ((p50 = quantile(sc, family, key, *v, 0.5, &n, &b50)) < 0)
            continue;
        p99 = quantile(sc, family, key, *v, 0.99, &n99, &b99);
        fprintf(out, "  %-14s", *v);
        print_duration(out, p50, b50);
        fputs(" / ", out);
        print_duration(out, p99, b99);
        fprintf(out, "  (%.0f)\n", n);
    }
}

int stats_print(char *text, const char *from, FILE *out)
{
    static const char *const checks[] = { "dns", "spf", "dkim", "store", NULL };
    struct scrape sc;
    double start;

    if (parse(text, &sc) < 0 || (start = val(&sc, "mxguard_start_time_seconds", NULL, NULL, NULL, NULL)) < 0) {
        free(sc.s);
        return -1;
    }
    fprintf(out, "mxguard at %s: filter process up %.0f s\n", from, difftime(time(NULL), (time_t)start));
    print_traffic(&sc, out);
    print_overload(&sc, out);
    top_rules(&sc, out, "decided", "mxguard_rule_decided_total");
    top_rules(&sc, out, "warned (would have decided)", "mxguard_rule_warned_total");
    print_services(&sc, out);
    fprintf(out, "latency per stage: p50 / p99 (messages and connections)\n");
    latency(&sc, out, "mxguard_stage_duration_seconds", "stage", stages);
    fprintf(out, "latency per check: p50 / p99\n");
    latency(&sc, out, "mxguard_check_duration_seconds", "check", checks);
    free(sc.s);
    return 0;
}
