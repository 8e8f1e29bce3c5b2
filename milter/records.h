/*
 * records.h: where the daemon writes its decision records: one log line
 * each, and optionally one JSON line each to a file (--records), reopened
 * on the reload signal so that logrotate can move it.
 */
#ifndef MXG_MILTER_RECORDS_H
#define MXG_MILTER_RECORDS_H

#include <stdbool.h>

#include "rules/record.h"

struct session;

/* Open the JSON lines file (appending; created 0640). 0, or -1 with errno. */
int records_open(const char *path);
/* Reopen it under the same name (after logrotate moved it). 0, or -1 (the old file stays). */
int records_reopen(void);
void records_close(void);
/* Whether records are logged too (the default); set before the first session. */
void records_set_log(bool on);

/* The sink the daemon's sessions write through (ctx: the struct session). */
void records_write(void *ctx, const struct record *r);

#endif
