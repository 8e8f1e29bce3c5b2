/*
 * summary_report.c: the counts of mxguard --summary (summary_report.h)
 * and the report printed from them.
 *
 * Must never print a client's text as it came: every name (a client's,
 * a sender domain, a rule's file) is written as a log value is
 * (milter/logfmt.h), so a record cannot add a line or a column to the
 * report, nor send the terminal an escape sequence.
 */
#include "milter/summary_report.h"

#include <stdlib.h>
#include <string.h>

#include "milter/logfmt.h"

void summary_counts_init(struct summary_counts *c)
{
    memset(c, 0, sizeof *c);
    tally_init(&c->rules);
    tally_init(&c->clients);
    tally_init(&c->domains);
    tally_init(&c->hours);
}

void summary_counts_free(struct summary_counts *c)
{
    tally_free(&c->rules);
    tally_free(&c->clients);
    tally_free(&c->domains);
    tally_free(&c->hours);
}

/* Is the outcome an answer of its own, not a recipient's verdict told again? */
static bool outcome_decides(const struct srec *r)
{
    return r->outcome <= OUT_DISCARD && !(r->stage.len == 4 && memcmp(r->stage.p, "rcpt", 4) == 0);
}

bool summary_rule_decided(const struct srec *r, const char *ref)
{
    if (r->outcome <= OUT_DISCARD && srec_rule_matches(r->rule, ref))
        return true;
    for (unsigned i = 0; i < r->nrcpt; i++)
        if (srec_rule_matches(r->rcpt[i].rule, ref))
            return true;
    return false;
}

/* "a\tb" of two escaped values, into buf (3 * LOGFMT_BUF). */
static const char *pair(struct sstr a, const char *b, size_t blen, char *buf)
{
    char ea[LOGFMT_BUF], eb[LOGFMT_BUF];

    logfmt_value(a.p, a.len, ea, sizeof ea);
    logfmt_value(b, blen, eb, sizeof eb);
    snprintf(buf, 3 * LOGFMT_BUF, "%s\t%s", ea, eb);
    return buf;
}

static int refused(struct tally *t, const char *name, int action)
{
    return tally_add(t, name, REFUSED_ALL, 1) |
           tally_add(t, name, action == OUT_REJECT ? REFUSED_REJECT : REFUSED_TEMPFAIL, 1);
}

/* One answer to the MTA: rule said action. */
static int decision(struct summary_counts *c, const struct srec *r, struct sstr rule, int action)
{
    char key[3 * LOGFMT_BUF], dom[256];
    const char *what = srec_outcome_names[action];

    if (tally_add(&c->rules, pair(rule, what, strlen(what), key), 0, 1) < 0)
        return -1;
    if (action != OUT_REJECT && action != OUT_TEMPFAIL)
        return 0;
    if (refused(&c->clients, pair(r->ip, r->name.p, r->name.len, key), action) < 0)
        return -1;
    if (r->message) {
        struct sstr d = srec_sender_domain(r->from, dom, sizeof dom);
        if (refused(&c->domains, logfmt_value(d.p, d.len, key, sizeof key), action) < 0)
            return -1;
    }
    return 0;
}

int summary_add(struct summary_counts *c, const struct srec *r)
{
    char hour[14];

    if (r->message) {
        c->msgs[r->outcome]++;
        c->rcpts += r->rcpts;
        c->taken += r->taken;
    } else {
        c->conns[r->outcome]++;
    }
    /* srec_check made sure of the time's shape: YYYY-MM-DDThh... */
    snprintf(hour, sizeof hour, "%.10s %.2s", r->time.p, r->time.p + 11);
    if (tally_add(&c->hours, hour, r->message ? r->outcome : HOUR_CONNECTIONS, 1) < 0)
        return -1;
    for (unsigned i = 0; i < r->nrcpt; i++)
        if (decision(c, r, r->rcpt[i].rule, r->rcpt[i].action) < 0)
            return -1;
    if (outcome_decides(r) && decision(c, r, r->rule, r->outcome) < 0)
        return -1;
    return 0;
}

/* ---- the report -------------------------------------------------------------- */

/* Outcome rows: those in order always (ended by -1), any other after them when it happened. */
static void print_outcomes(FILE *out, const char *title, const long n[OUT_COUNT], const int *order)
{
    bool shown[OUT_COUNT] = { false };
    long total = 0;

    fprintf(out, "\n%s\n", title);
    for (; *order >= 0; order++) {
        fprintf(out, "%8ld  %s\n", n[*order], srec_outcome_names[*order]);
        shown[*order] = true;
    }
    for (int i = 0; i < OUT_COUNT; i++) {
        if (!shown[i] && n[i] != 0)
            fprintf(out, "%8ld  %s\n", n[i], srec_outcome_names[i]);
        total += n[i];
    }
    fprintf(out, "%8ld  total\n", total);
}

static void print_rules(FILE *out, const struct tally *t, struct tally_entry **e)
{
    fprintf(out, "\nTop rules by decisions\n");
    if (t->used == 0) {
        fprintf(out, "   (none)\n");
        return;
    }
    fprintf(out, "%8s  %-8s  %s\n", "count", "action", "rule");
    for (size_t i = 0; i < t->used && i < SUMMARY_TOP; i++) {
        const char *tab = strrchr(e[i]->name, '\t');
        fprintf(out, "%8ld  %-8s  %.*s\n", e[i]->n[0], tab + 1, (int)(tab - e[i]->name), e[i]->name);
    }
}

/* Clients ("address\tname") or sender domains, by refusals. */
static void print_refused(FILE *out, const char *title, const char *what, const struct tally *t,
                          struct tally_entry **e)
{
    int width = (int)strlen(what);
    size_t n = t->used < SUMMARY_TOP ? t->used : SUMMARY_TOP;

    fprintf(out, "\n%s\n", title);
    if (n == 0) {
        fprintf(out, "   (none)\n");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *tab = strchr(e[i]->name, '\t');
        int w = tab != NULL ? (int)(tab - e[i]->name) : 0;
        if (w > width)
            width = w;
    }
    if (strchr(e[0]->name, '\t') != NULL)
        fprintf(out, "%8s  %6s  %8s  %-*s  %s\n", "refused", "reject", "tempfail", width, what, "name");
    else
        fprintf(out, "%8s  %6s  %8s  %s\n", "refused", "reject", "tempfail", what);
    for (size_t i = 0; i < n; i++) {
        const char *tab = strchr(e[i]->name, '\t');
        fprintf(out, "%8ld  %6ld  %8ld  ", e[i]->n[REFUSED_ALL], e[i]->n[REFUSED_REJECT],
                e[i]->n[REFUSED_TEMPFAIL]);
        if (tab != NULL)
            fprintf(out, "%-*.*s  %s\n", width, (int)(tab - e[i]->name), e[i]->name, tab + 1);
        else
            fprintf(out, "%s\n", e[i]->name);
    }
}

static void print_hours(FILE *out, const struct tally *t, struct tally_entry **e)
{
    static const char *const col[] = { "accept", "reject", "tempfail", "discard", "aborted" };

    fprintf(out, "\nMessages per hour (UTC)\n");
    if (t->used == 0) {
        fprintf(out, "   (none)\n");
        return;
    }
    fprintf(out, "%-13s", "hour");
    for (int i = 0; i <= OUT_ABORTED; i++)
        fprintf(out, "  %8s", col[i]);
    fprintf(out, "  %11s\n", "connections");
    for (size_t i = 0; i < t->used; i++) {
        fprintf(out, "%-13s", e[i]->name);
        for (int k = 0; k <= OUT_ABORTED; k++)
            fprintf(out, "  %8ld", e[i]->n[k]);
        fprintf(out, "  %11ld\n", e[i]->n[HOUR_CONNECTIONS]);
    }
}

static void print_head(const struct summary_counts *c, const char *rule, const char *day, FILE *out)
{
    long msgs = 0, conns = 0;

    for (int i = 0; i < OUT_COUNT; i++)
        msgs += c->msgs[i], conns += c->conns[i];
    fprintf(out, "mxguard summary: records: %ld; messages: %ld; connections without a message: %ld\n",
            msgs + conns, msgs, conns);
    if (rule != NULL || day != NULL) {
        char esc[LOGFMT_BUF];
        fprintf(out, "only records");
        if (day != NULL)
            fprintf(out, " of %s (UTC)", day);
        if (rule != NULL)
            fprintf(out, " where rule %s decided", logfmt_str(rule, esc, sizeof esc));
        fprintf(out, "\n");
    }
}

int summary_print(const struct summary_counts *c, const char *rule, const char *day, FILE *out)
{
    struct tally_entry **rules = tally_sorted(&c->rules, 0), **clients = tally_sorted(&c->clients, REFUSED_ALL),
                       **domains = tally_sorted(&c->domains, REFUSED_ALL), **hours = tally_sorted(&c->hours, -1);
    int rc = -1;

    if ((rules != NULL || c->rules.used == 0) && (clients != NULL || c->clients.used == 0) &&
        (domains != NULL || c->domains.used == 0) && (hours != NULL || c->hours.used == 0)) {
        print_head(c, rule, day, out);
        static const int msgs[] = { OUT_ACCEPT, OUT_REJECT, OUT_TEMPFAIL, OUT_DISCARD, OUT_ABORTED, -1 },
                         conns[] = { OUT_CLOSED, OUT_REJECT, OUT_TEMPFAIL, -1 };
        print_outcomes(out, "Messages", c->msgs, msgs);
        fprintf(out, "\nRecipients\n%8lu  RCPT commands\n%8lu  taken\n%8lu  not taken (refused or deferred)\n",
                c->rcpts, c->taken, c->rcpts - c->taken);
        print_outcomes(out, "Connections without a message", c->conns, conns);
        print_rules(out, &c->rules, rules);
        print_refused(out, "Top refused clients", "address", &c->clients, clients);
        print_refused(out, "Top refused sender domains", "domain", &c->domains, domains);
        print_hours(out, &c->hours, hours);
        fprintf(out, "\nLines read: %ld; records: %ld", c->lines, c->records);
        if (rule != NULL || day != NULL)
            fprintf(out, " (left out by --rule or --day: %ld)", c->left_out);
        fprintf(out, "; other lines: %ld; not parsed: %ld\n", c->not_records, c->unparsed);
        rc = 0;
    }
    free(rules);
    free(clients);
    free(domains);
    free(hours);
    return rc;
}
