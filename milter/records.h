/*
 * records.h: where the daemon writes its decision records: one log line
 * each, and optionally one JSON line each to a file (--records), reopened
 * on the reload signal so that logrotate can move it; and the appending,
 * buffered line files those go to (--dmarc-history writes one too).
 */
#ifndef MXG_MILTER_RECORDS_H
#define MXG_MILTER_RECORDS_H

#include <stdbool.h>
#include <stddef.h>

#include "rules/record.h"

struct session;

/*
 * A file of lines, opened O_APPEND (created 0640), written in whole lines
 * through a buffer flushed within a second, reopened under its name by
 * records_reopen. what names it in the log. NULL with errno.
 */
struct records_file;
struct records_file *records_file_open(const char *path, const char *what);
/* Lines, each ending in '\n'; never fails the caller (a lost line is counted and logged). */
void records_file_append(struct records_file *f, const char *lines, size_t len);
/* Flush and close; NULL is a no-op. A line appended after it is dropped: the
   pointer stays valid (at most 4 files are open at once). */
void records_file_close(struct records_file *f);

/* Open the JSON lines file (appending; created 0640). 0, or -1 with errno. */
int records_open(const char *path);
/* Reopen every open line file under its name (after logrotate moved it).
   0, or -1 when one could not be (it keeps writing to the old file). */
int records_reopen(void);
void records_close(void);
/* Whether records are logged too (the default); set before the first session. */
void records_set_log(bool on);

/* The sink the daemon's sessions write through (ctx: the struct session). */
void records_write(void *ctx, const struct record *r);

#endif
