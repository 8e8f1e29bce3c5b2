/*
 * summary.h: mxguard --summary, a report on the decision records in log
 * files and JSON-lines files (see mxguard(8), SUMMARY): totals by
 * outcome, top rules, top refused clients and sender domains, and counts
 * per hour.
 */
#ifndef MXG_MILTER_SUMMARY_H
#define MXG_MILTER_SUMMARY_H

#include <stdio.h>

struct summary_opts {
    const char *rule;   /* --rule REF: only records where that rule decided; NULL: all */
    const char *day;    /* --day today|yesterday|YYYY-MM-DD (UTC); NULL: every day */
    char *const *files; /* none, or "-": standard input */
    int nfiles;
};

/* Read the files and print the report on out, problems on err: exit status 0, or 1 when a file could not be read. */
int summary_run(const struct summary_opts *o, FILE *out, FILE *err);

#endif
