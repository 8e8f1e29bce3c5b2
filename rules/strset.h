/*
 * strset.h: a case-insensitive set of strings (domains, addresses).
 */
#ifndef MXG_RULES_STRSET_H
#define MXG_RULES_STRSET_H

#include <stdbool.h>
#include <stddef.h>

struct strset;

struct strset *strset_new(void);
void strset_free(struct strset *set);

/* Adds a copy of s (folded to lower case). 0 on success, -1 out of memory. */
int strset_add(struct strset *set, const char *s, size_t len);

/* Case-insensitive membership. */
bool strset_contains(const struct strset *set, const char *s, size_t len);

/*
 * True when the domain d, or any parent of it, is in the set:
 * "mx.sub.example.org" matches "example.org". Used by the "under" operator.
 */
bool strset_contains_domain_or_parent(const struct strset *set, const char *d, size_t len);

size_t strset_count(const struct strset *set);

#endif
