/*
 * dns_memo.h: the answers libunbound gave, kept for the whole process
 * until their TTL runs out.
 *
 * libunbound has a cache of its own, but reaching it costs a question's
 * trip through its worker thread and back through our dispatcher: four
 * thread hand-offs for an answer it already holds. A gateway asks the
 * same few names (its block lists' answers for a client, the PTR of a
 * busy sender, an SPF record) many times a second; those answers are
 * served from here by the asking thread itself. Only answers are kept,
 * found or not found (NXDOMAIN, NODATA), never a failure, and never
 * longer than the TTL the resolver gave them (capped, see below). Bounded
 * in entries and bytes; when full, the entries of one bucket make room.
 */
#ifndef MXG_POLICY_DNS_MEMO_H
#define MXG_POLICY_DNS_MEMO_H

#include <stdbool.h>
#include <time.h>

#include "policy/dns/dns_answer.h"

#define DNS_MEMO_ENTRIES_MAX 8192
#define DNS_MEMO_BYTES_MAX (8u * 1024 * 1024)
#define DNS_MEMO_PACKET_MAX 4096 /* larger wire answers (big TXT sets) are not kept */
#define DNS_MEMO_TTL_MAX 3600    /* seconds, whatever the zone says */

struct dns_memo;

struct dns_memo *dns_memo_new(unsigned max_entries, size_t max_bytes);
void dns_memo_free(struct dns_memo *m);

/*
 * The kept answer to (name, rrtype, raw) as of now, copied into *out (the
 * caller frees its text and packet, as for any answer): true; or false.
 * Names are compared without case and without a trailing dot.
 */
bool dns_memo_get(struct dns_memo *m, const char *name, int rrtype, bool raw, time_t now,
                  struct dns_answer *out);

/* Keep a copy of a found or not-found answer for ttl seconds from now. */
void dns_memo_put(struct dns_memo *m, const char *name, int rrtype, bool raw, const struct dns_answer *a,
                  unsigned ttl, time_t now);

/* Entries and bytes held: for tests and the benchmarks. */
void dns_memo_usage(struct dns_memo *m, unsigned *entries, size_t *bytes);

#endif
