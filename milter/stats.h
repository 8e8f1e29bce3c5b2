/*
 * stats.h: `mxguard --stats`: ask the running daemon's metrics endpoint
 * and print its numbers for an admin at a shell.
 */
#ifndef MXG_MILTER_STATS_H
#define MXG_MILTER_STATS_H

#include <stdio.h>

/* spec: as --metrics-listen (NULL: the default). The exit status: 0, or 1 with a message on stderr. */
int stats_run(const char *spec, FILE *out);

/* Print the summary of a scrape (Prometheus text, modified in place). 0, or -1 when it holds no mxguard metrics. */
int stats_print(char *text, const char *from, FILE *out);

#endif
