/*
 * summary_tally.h: counts by name for --summary (rules, clients, sender
 * domains, hours): a hash table of names, each with TALLY_COLS counters,
 * and the names sorted for printing. Internal to milter/summary*.c.
 */
#ifndef MXG_MILTER_SUMMARY_TALLY_H
#define MXG_MILTER_SUMMARY_TALLY_H

#include <stddef.h>

#define TALLY_COLS 8

struct tally_entry {
    char *name; /* NUL-terminated (the names counted are printable, escaped text) */
    long n[TALLY_COLS];
};

struct tally {
    struct tally_entry **slot;
    size_t size, used;
};

void tally_init(struct tally *t);
void tally_free(struct tally *t);

/* Add by to counter col of name: 0, or -1 out of memory. */
int tally_add(struct tally *t, const char *name, int col, long by);

/*
 * The entries, sorted by counter col descending, then by name (col < 0:
 * by name only), in a new array of t->used entries (free it; NULL when
 * out of memory or empty).
 */
struct tally_entry **tally_sorted(const struct tally *t, int col);

#endif
