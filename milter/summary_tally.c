/*
 * summary_tally.c: counters by name (summary_tally.h), in an open
 * addressing hash table that doubles at half full.
 *
 * Must never order equal counts by chance: ties go by name, so a report
 * prints the same way every time.
 */
#include "milter/summary_tally.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void tally_init(struct tally *t)
{
    memset(t, 0, sizeof *t);
}

void tally_free(struct tally *t)
{
    for (size_t i = 0; i < t->size; i++)
        if (t->slot[i] != NULL) {
            free(t->slot[i]->name);
            free(t->slot[i]);
        }
    free(t->slot);
    tally_init(t);
}

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static struct tally_entry **find(struct tally_entry **slot, size_t size, const char *name)
{
    size_t i = (size_t)hash(name) & (size - 1);

    while (slot[i] != NULL && strcmp(slot[i]->name, name) != 0)
        i = (i + 1) & (size - 1);
    return &slot[i];
}

static int grow(struct tally *t)
{
    size_t size = t->size ? 2 * t->size : 64;
    struct tally_entry **slot = calloc(size, sizeof *slot);

    if (slot == NULL)
        return -1;
    for (size_t i = 0; i < t->size; i++)
        if (t->slot[i] != NULL)
            *find(slot, size, t->slot[i]->name) = t->slot[i];
    free(t->slot);
    t->slot = slot;
    t->size = size;
    return 0;
}

int tally_add(struct tally *t, const char *name, int col, long by)
{
    struct tally_entry **e;

    if (2 * (t->used + 1) > t->size && grow(t) < 0)
        return -1;
    e = find(t->slot, t->size, name);
    if (*e == NULL) {
        struct tally_entry *n = calloc(1, sizeof *n);
        if (n == NULL || (n->name = strdup(name)) == NULL) {
            free(n);
            return -1;
        }
        *e = n;
        t->used++;
    }
    (*e)->n[col] += by;
    return 0;
}

static int by_count_then_name(const void *a, const void *b, void *arg)
{
    const struct tally_entry *x = *(struct tally_entry *const *)a, *y = *(struct tally_entry *const *)b;
    int sort_col = *(const int *)arg;

    if (sort_col >= 0 && x->n[sort_col] != y->n[sort_col])
        return x->n[sort_col] > y->n[sort_col] ? -1 : 1;
    return strcmp(x->name, y->name);
}

struct tally_entry **tally_sorted(const struct tally *t, int col)
{
    struct tally_entry **v;
    size_t n = 0;

    if (t->used == 0 || (v = malloc(t->used * sizeof *v)) == NULL)
        return NULL;
    for (size_t i = 0; i < t->size; i++)
        if (t->slot[i] != NULL)
            v[n++] = t->slot[i];
    qsort_r(v, n, sizeof *v, by_count_then_name, &col);
    return v;
}
