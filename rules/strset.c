/*
 * strset.c: open addressing with linear probing over lower-cased keys.
 *
 * Slots are 16 bytes (hash, key offset, length) and the keys live in one
 * arena, so a lookup that misses touches one slot and a hit one slot and
 * one key: its cost does not grow with the set's size beyond the cache
 * misses of a larger table. The table grows to stay under 70% full.
 * Never allocates on lookup, so it is safe from any thread once loaded.
 */
#include "rules/strset.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STRSET_KEY_MAX 0xffffu

struct strset_slot {
    uint64_t hash;   /* 0: empty */
    uint32_t off;    /* key offset in the arena */
    uint32_t len;
};

struct strset {
    struct strset_slot *slots;
    size_t cap;      /* power of two */
    size_t count;
    char *arena;
    size_t used, size;
};

static uint64_t hash_fold(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a, on folded bytes */

    for (size_t i = 0; i < len; i++) {
        h ^= (uint64_t)(unsigned char)tolower((unsigned char)s[i]);
        h *= 1099511628211ull;
    }
    h ^= h >> 29;
    return h == 0 ? 1 : h; /* 0 marks an empty slot */
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
    free(set->slots);
    free(set->arena);
    free(set);
}

static struct strset_slot *probe(const struct strset *set, const char *s, size_t len, uint64_t h)
{
    size_t mask = set->cap - 1;

    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct strset_slot *slot = &set->slots[i];
        if (slot->hash == 0)
            return slot;
        if (slot->hash == h && slot->len == len && strncasecmp(set->arena + slot->off, s, len) == 0)
            return slot;
    }
}

static int grow(struct strset *set)
{
    size_t cap = set->cap * 2, mask = cap - 1;
    struct strset_slot *slots = calloc(cap, sizeof *slots);

    if (slots == NULL)
        return -1;
    for (size_t i = 0; i < set->cap; i++) {
        size_t j;
        if (set->slots[i].hash == 0)
            continue;
        for (j = (size_t)set->slots[i].hash & mask; slots[j].hash != 0; j = (j + 1) & mask)
            ;
        slots[j] = set->slots[i];
    }
    free(set->slots);
    set->slots = slots;
    set->cap = cap;
    return 0;
}

static int arena_put(struct strset *set, const char *s, size_t len, uint32_t *off)
{
    if (set->used + len + 1 > set->size) {
        size_t size = set->size ? set->size * 2 : 1024;
        char *grown;
        while (size < set->used + len + 1)
            size *= 2;
        if (size > UINT32_MAX || (grown = realloc(set->arena, size)) == NULL)
            return -1;
        set->arena = grown;
        set->size = size;
    }
    *off = (uint32_t)set->used;
    for (size_t i = 0; i < len; i++)
        set->arena[set->used++] = (char)tolower((unsigned char)s[i]);
    set->arena[set->used++] = '\0';
    return 0;
}

int strset_add(struct strset *set, const char *s, size_t len)
{
    uint64_t h = hash_fold(s, len);
    struct strset_slot *slot;
    uint32_t off;

    if (len > STRSET_KEY_MAX)
        return -1;
    if ((set->count + 1) * 10 > set->cap * 7 && grow(set) < 0)
        return -1;
    slot = probe(set, s, len, h);
    if (slot->hash != 0)
        return 0;
    if (arena_put(set, s, len, &off) < 0)
        return -1;
    slot->hash = h;
    slot->off = off;
    slot->len = (uint32_t)len;
    set->count++;
    return 0;
}

bool strset_contains(const struct strset *set, const char *s, size_t len)
{
    return probe(set, s, len, hash_fold(s, len))->hash != 0;
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
