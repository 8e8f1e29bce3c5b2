/*
 * strset.c: open addressing with linear probing over lower-cased keys.
 *
 * Lookups hash the query once and compare at most a few keys, whatever the
 * set's size; the table grows to stay under 70% full. Never allocates on
 * lookup, so it is safe from any thread once loaded.
 */
#include "rules/strset.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct strset_slot {
    char *key;
    size_t len;
    uint64_t hash;
};

struct strset {
    struct strset_slot *slots;
    size_t cap;   /* power of two */
    size_t count;
};

static uint64_t hash_fold(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a, on folded bytes */

    for (size_t i = 0; i < len; i++) {
        h ^= (uint64_t)(unsigned char)tolower((unsigned char)s[i]);
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

struct strset *strset_new(void)
{
    struct strset *set = calloc(1, sizeof *set);

    if (set == NULL)
        return NULL;
    set->cap = 16;
    set->slots = calloc(set->cap, sizeof *set->slots);
    if (set->slots == NULL) {
        free(set);
        return NULL;
    }
    return set;
}

void strset_free(struct strset *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->cap; i++)
        free(set->slots[i].key);
    free(set->slots);
    free(set);
}

static struct strset_slot *probe(const struct strset *set, const char *s, size_t len, uint64_t h)
{
    size_t mask = set->cap - 1;

    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct strset_slot *slot = &set->slots[i];
        if (slot->key == NULL)
            return slot;
        if (slot->hash == h && slot->len == len && strncasecmp(slot->key, s, len) == 0)
            return slot;
    }
}

static int grow(struct strset *set)
{
    struct strset old = *set;

    set->cap *= 2;
    set->slots = calloc(set->cap, sizeof *set->slots);
    if (set->slots == NULL) {
        *set = old;
        return -1;
    }
    for (size_t i = 0; i < old.cap; i++) {
        if (old.slots[i].key != NULL)
            *probe(set, old.slots[i].key, old.slots[i].len, old.slots[i].hash) = old.slots[i];
    }
    free(old.slots);
    return 0;
}

int strset_add(struct strset *set, const char *s, size_t len)
{
    uint64_t h = hash_fold(s, len);
    struct strset_slot *slot;

    if ((set->count + 1) * 10 > set->cap * 7 && grow(set) < 0)
        return -1;
    slot = probe(set, s, len, h);
    if (slot->key != NULL)
        return 0;
    if ((slot->key = malloc(len + 1)) == NULL)
        return -1;
    for (size_t i = 0; i < len; i++)
        slot->key[i] = (char)tolower((unsigned char)s[i]);
    slot->key[len] = '\0';
    slot->len = len;
    slot->hash = h;
    set->count++;
    return 0;
}

bool strset_contains(const struct strset *set, const char *s, size_t len)
{
    return probe(set, s, len, hash_fold(s, len))->key != NULL;
}

bool strset_contains_domain_or_parent(const struct strset *set, const char *d, size_t len)
{
    while (len > 0) {
        const char *dot;
        if (strset_contains(set, d, len))
            return true;
        dot = memchr(d, '.', len);
        if (dot == NULL)
            return false;
        len -= (size_t)(dot - d) + 1;
        d = dot + 1;
    }
    return false;
}

size_t strset_count(const struct strset *set)
{
    return set->count;
}
