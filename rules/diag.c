/*
 * diag.c: collects every problem found while loading a rule file, so an
 * admin sees all of them in one run of "mxguard -n".
 */
#include "rules/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define DIAG_MAX 200 /* past this a file is hopeless; stop collecting */

struct diag_line {
    const char *file;
    size_t file_rank; /* the seq of the first message about this file */
    int line, col;
    size_t seq;
};

void diag_init(struct diag *d)
{
    memset(d, 0, sizeof *d);
}

void diag_free(struct diag *d)
{
    for (size_t i = 0; i < d->count; i++)
        free(d->lines[i]);
    free(d->lines);
    free(d->items);
    memset(d, 0, sizeof *d);
}

static void add(struct diag *d, const struct rules_loc *loc, const char *kind,
                const char *fmt, va_list ap)
{
    char msg[1024];
    char *line;
    int n;

    if (d->count >= DIAG_MAX)
        return;
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (loc != NULL && loc->file != NULL)
        n = asprintf(&line, "%s:%d:%d: %s%s", loc->file, loc->first_line,
                     loc->first_column, kind, msg);
    else
        n = asprintf(&line, "%s%s", kind, msg);
    if (n < 0)
        return;
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        char **grown = realloc(d->lines, cap * sizeof *grown);
        struct diag_line *items;
        if (grown == NULL) {
            free(line);
            return;
        }
        d->lines = grown;
        if ((items = realloc(d->items, cap * sizeof *items)) == NULL) {
            free(line);
            return;
        }
        d->items = items;
        d->cap = cap;
    }
    d->items[d->count].file = loc ? loc->file : NULL;
    d->items[d->count].file_rank = d->count;
    for (size_t i = 0; i < d->count; i++) {
        if (d->items[i].file == d->items[d->count].file) {
            d->items[d->count].file_rank = d->items[i].file_rank;
            break;
        }
    }
    d->items[d->count].line = loc ? loc->first_line : 0;
    d->items[d->count].col = loc ? loc->first_column : 0;
    d->items[d->count].seq = d->count;
    d->lines[d->count++] = line;
}

void diag_error(struct diag *d, const struct rules_loc *loc, const char *fmt, ...)
{
    va_list ap;

    d->errors++;
    va_start(ap, fmt);
    add(d, loc, "", fmt, ap);
    va_end(ap);
}

void diag_warning(struct diag *d, const struct rules_loc *loc, const char *fmt, ...)
{
    va_list ap;

    d->warnings++;
    va_start(ap, fmt);
    add(d, loc, "warning: ", fmt, ap);
    va_end(ap);
}

/* Messages of one file in line order; files in the order first met. */
static int by_place(const void *a, const void *b)
{
    const struct diag_line *x = a, *y = b;

    if (x->file_rank != y->file_rank)
        return x->file_rank < y->file_rank ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void diag_print(const struct diag *d, FILE *out)
{
    struct diag_line *order;

    if (d->count == 0)
        return;
    if ((order = malloc(d->count * sizeof *order)) == NULL) {
        for (size_t i = 0; i < d->count; i++)
            fprintf(out, "%s\n", d->lines[i]);
        return;
    }
    memcpy(order, d->items, d->count * sizeof *order);
    qsort(order, d->count, sizeof *order, by_place);
    for (size_t i = 0; i < d->count; i++)
        fprintf(out, "%s\n", d->lines[order[i].seq]);
    free(order);
}
