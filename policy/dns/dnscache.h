/*
 * dnscache.h: the DNS facts of one session, asked once and kept.
 *
 * When a stage's rules first need DNS, the engine tells the cache all the
 * rest of the stage will need (reverse DNS, block-list names); it asks all of
 * it at once through the shared resolver and waits at most the stage's
 * time budget. Rules then read answers from here and never wait.
 */
#ifndef MXG_POLICY_DNSCACHE_H
#define MXG_POLICY_DNSCACHE_H

#include <stdbool.h>

#include "policy/dns/dns.h"

#define DNSCACHE_NAMES_MAX 48   /* block-list names per message */
#define DNSCACHE_PTR_MAX 4     /* PTR names checked for forward confirmation */

enum rdns_status { RDNS_UNKNOWN, RDNS_CONFIRMED, RDNS_UNCONFIRMED, RDNS_NONE, RDNS_TEMPFAIL };

struct rdns_result {
    enum rdns_status status;
    char ptr[256];       /* the first PTR name ("" when none) */
    char name[256];      /* the first confirmed name ("" unless confirmed) */
};

#define DNSBL_REASON_MAX 512 /* bytes kept of a listing's TXT reason */

/* A block-list lookup: NAME A (the listing) and NAME TXT (the reason). */
struct bl_result {
    char qname[300];
    enum dns_status status;
    const char *why;     /* temporary failure */
    struct ipaddr codes[4];
    unsigned ncodes;
    char reason[DNSBL_REASON_MAX + 1]; /* a listing's TXT, cut to what a reply can carry */
};

struct dns_cache;

/* budget_ms: the most one stage may wait for DNS. NULL when out of memory. */
struct dns_cache *dns_cache_new(struct dns_resolver *r, int budget_ms);
void dns_cache_free(struct dns_cache *c);

/* Start a stage's clock: every round of questions until the next call shares one budget. */
void dns_cache_begin_stage(struct dns_cache *c);

/* A new message: its block-list answers are forgotten; reverse DNS is kept. */
void dns_cache_new_message(struct dns_cache *c);

/*
 * Ask, in one go, what is not known yet: reverse DNS of client (when
 * want_rdns) and the block-list names. Returns when every answer is in or
 * the budget is spent; what is missing then reads as a temporary failure.
 */
void dns_cache_prefetch(struct dns_cache *c, const struct ipaddr *client, bool want_rdns,
                        const char *const *bl_names, int n);

const struct rdns_result *dns_cache_rdns(const struct dns_cache *c);
/* NULL when the name was never asked. */
const struct bl_result *dns_cache_bl(const struct dns_cache *c, const char *qname);

/* Call fn for each lookup that failed temporarily and was not reported yet. */
void dns_cache_report_failures(struct dns_cache *c, void (*fn)(void *ctx, const char *what, const char *why),
                               void *ctx);

/* The block-list lookups of the message, in the order they were asked (records). */
unsigned dns_cache_bl_count(const struct dns_cache *c);
const struct bl_result *dns_cache_bl_at(const struct dns_cache *c, unsigned i);

/* Microseconds every prefetch of the session waited, in all (a running total). */
unsigned long dns_cache_waited_us(const struct dns_cache *c);

/* Milliseconds the last prefetch waited (for logs and the benchmark). */
long dns_cache_last_wait_ms(const struct dns_cache *c);

#endif
