/*
 * diag.h: rule file diagnostics, "file:line:col: message", all of them.
 */
#ifndef MXG_RULES_DIAG_H
#define MXG_RULES_DIAG_H

#include <stdio.h>

struct rules_loc {
    const char *file; /* owned by the ruleset's file name pool */
    int first_line, first_column;
    int last_line, last_column;
};

struct diag_line;

struct diag {
    struct diag_line *items; /* sorted by file, line and column when printed */
    char **lines;
    size_t count, cap;
    unsigned errors;
    unsigned warnings;
};

void diag_init(struct diag *d);
void diag_free(struct diag *d);

void diag_error(struct diag *d, const struct rules_loc *loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diag_warning(struct diag *d, const struct rules_loc *loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Every line: each file's in line order, the files in the order first met. */
void diag_print(const struct diag *d, FILE *out);

#endif
