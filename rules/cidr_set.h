/*
 * cidr_set.h: a set of IPv4 and IPv6 networks with longest-path lookup.
 */
#ifndef MXG_RULES_CIDR_SET_H
#define MXG_RULES_CIDR_SET_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/smtp/ipaddr.h"

struct cidr_set;

struct cidr_set *cidr_set_new(void);
void cidr_set_free(struct cidr_set *set);

/*
 * Parse "192.0.2.0/24", "2001:db8::/32" or a bare address (a /32 or /128).
 * Host bits below the prefix must be zero: "10.1.2.3/8" is refused because
 * an admin who wrote it almost certainly meant something else.
 */
int cidr_parse(const char *text, struct ipaddr *net, unsigned *plen, const char **error_r);

/* Add a network in text form. 0 on success, -1 with *error_r. */
int cidr_set_add(struct cidr_set *set, const char *text, const char **error_r);

/* Add a parsed network; plen counts bits of the 128-bit (mapped) key. */
int cidr_set_add_key(struct cidr_set *set, const struct ipaddr *net, unsigned plen);

/*
 * Build the lookup structure once every network is added; no network can
 * be added after. 0, or -1 when out of memory.
 */
int cidr_set_freeze(struct cidr_set *set);

/* True when some network in the set contains ip. False before freezing. */
bool cidr_set_contains(const struct cidr_set *set, const struct ipaddr *ip);

/* Networks added (before merging). */
size_t cidr_set_count(const struct cidr_set *set);

#endif
