/*
 * summary_report.h: the counts behind mxguard --summary, added up one
 * record at a time and printed as the report. Internal to
 * milter/summary*.c.
 */
#ifndef MXG_MILTER_SUMMARY_REPORT_H
#define MXG_MILTER_SUMMARY_REPORT_H

#include <stdio.h>

#include "milter/summary_rec.h"
#include "milter/summary_tally.h"

#define SUMMARY_TOP 20 /* rows of each "top" table */

/* The columns of the refused tables and of the hours table. */
enum { REFUSED_ALL, REFUSED_REJECT, REFUSED_TEMPFAIL };
#define HOUR_CONNECTIONS OUT_COUNT /* after the messages' outcomes */

struct summary_counts {
    long msgs[OUT_COUNT], conns[OUT_COUNT];
    unsigned long rcpts, taken;
    struct tally rules;   /* "rule\taction": decisions */
    struct tally clients; /* "address\tname": refusals */
    struct tally domains; /* sender domain: refusals */
    struct tally hours;   /* "YYYY-MM-DD hh": messages by outcome, connections */
    long lines, records, left_out, not_records, unparsed;
};

void summary_counts_init(struct summary_counts *c);
void summary_counts_free(struct summary_counts *c);

/* Does the record hold a decision by the rule REF names? */
bool summary_rule_decided(const struct srec *r, const char *ref);

/* Add one record: 0, or -1 out of memory. */
int summary_add(struct summary_counts *c, const struct srec *r);

/* The report; filters: what --rule and --day kept (NULL: none). 0, or -1 out of memory. */
int summary_print(const struct summary_counts *c, const char *rule, const char *day, FILE *out);

#endif
