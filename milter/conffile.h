/*
 * conffile.h: the lines of mxguard.conf(5), "name = value", read with
 * bounds and handed one at a time to the caller, who knows the names.
 */
#ifndef MXG_MILTER_CONFFILE_H
#define MXG_MILTER_CONFFILE_H

#include <stdbool.h>
#include <stdio.h>

#define CONFFILE_LINE_MAX 4096         /* bytes in a line, without its newline */
#define CONFFILE_SIZE_MAX (1024 * 1024) /* bytes in the file */

/* One setting line. name and value live as long as the process. */
struct conffile_line {
    const char *file;
    unsigned line;
    const char *name;
    unsigned name_col; /* 1-based byte columns */
    const char *value; /* blanks around it trimmed; "" when nothing follows '=' */
    unsigned value_col;
};

/* Takes one line: 0, or -1 after printing its own FILE:LINE:COL: message. */
typedef int conffile_fn(void *ctx, const struct conffile_line *l);

/*
 * Reads path and hands each setting line to fn, in order. Every line is
 * tried, so an admin sees every mistake in one run; the file's own
 * mistakes (no '=', a NUL byte, an overlong line) are printed to err as
 * FILE:LINE:COL: message. Returns 0 when the file and every line were
 * good, -1 otherwise (or when it cannot be read: said on err), and 1 for
 * a file that does not exist when missing_ok (nothing printed).
 */
int conffile_read(const char *path, bool missing_ok, conffile_fn *fn, void *ctx, FILE *err);

#endif
