/*
 * dns.h: the one DNS resolver every check asks, on libunbound.
 *
 * One resolver for the daemon (created after any fork: libunbound's
 * threads do not survive one). Questions are asked in batches: every
 * question a stage needs goes out at once and the stage waits for the
 * slowest answer or its deadline, not for the sum. Every answer is one of
 * three outcomes; a DNSSEC-bogus answer, a timeout and SERVFAIL are all
 * temporary failures, never "not found".
 */
#ifndef MXG_POLICY_DNS_H
#define MXG_POLICY_DNS_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/dns/dns_answer.h" /* struct dns_answer, its status, DNS_TYPE_* */
#include "policy/smtp/ipaddr.h"

/* Bytes kept of one TXT record (its strings joined): room for a DMARC
   record with several report addresses, which passes 512 bytes. */
#define DNS_TXT_MAX 4096
#define DNS_PACKET_MAX 65535 /* the most a raw answer can hold */

/* DNS_MODE_LOCAL: no server at all; only the records given (rule-file
   tests): every other name is NXDOMAIN, and the names under failing
   answer REFUSED, a temporary failure. */
enum dns_mode { DNS_MODE_SYSTEM, DNS_MODE_FORWARD, DNS_MODE_RECURSIVE, DNS_MODE_LOCAL };

struct dns_config {
    enum dns_mode mode;
    const char *forwarders[8];       /* "ADDR" or "ADDR@PORT" */
    int nforwarders;
    const char *resolv_conf;         /* DNS_MODE_SYSTEM: NULL for /etc/resolv.conf */
    const char *trust_anchor;        /* DNSSEC trust anchor file, or NULL: no validation */
    int query_timeout_ms;            /* one question */
    const char *const *records;      /* DNS_MODE_LOCAL: "name. TYPE rdata" each */
    size_t nrecords;
    const char *const *failing;      /* DNS_MODE_LOCAL: names whose every answer fails */
    size_t nfailing;
};

struct dns_resolver;
struct dns_batch;

struct dns_resolver *dns_resolver_new(const struct dns_config *cfg, const char **error_r);
void dns_resolver_free(struct dns_resolver *r);
/* Start libunbound's worker now, while descriptors are free (a daemon's
   filter process, before it serves): 0, or -1 when it did not answer. */
int dns_resolver_start(struct dns_resolver *r);
int dns_resolver_timeout_ms(const struct dns_resolver *r);

/* Questions asked so far, and how many of them the answer memo served
   (policy/dns/dns_memo.h) without asking libunbound. */
void dns_resolver_counts(struct dns_resolver *r, unsigned long *asked, unsigned long *from_memo);

/* The same with the failures (for the daemon's metrics): questions still
   unanswered at their batch's deadline, and answers with RCODE SERVFAIL. */
struct dns_stats {
    unsigned long asked, from_memo, timeouts, servfail;
    unsigned long waiting; /* batches waiting on libunbound now */
    unsigned long refused; /* questions not asked: too many batches were waiting */
};
void dns_resolver_stats(struct dns_resolver *r, struct dns_stats *out);

/*
 * At most max batches (a session's stage each: its thread waits in
 * dns_batch_wait) wait on libunbound at once; 0: no bound. Past it a
 * batch's questions are not asked: their answers are DNS_TEMPFAIL at once,
 * why DNS_WHY_BUSY. Answers the memo holds are still given. Set before
 * the first question.
 */
void dns_resolver_set_max_waiting(struct dns_resolver *r, unsigned max);
#define DNS_WHY_BUSY "not asked: too many sessions waiting for DNS"


/* A set of questions asked together. NULL when out of memory. */
struct dns_batch *dns_batch_new(struct dns_resolver *r);

/*
 * Ask a question; returns its index in the batch, or -1 when it could not
 * be asked (its answer then reads as a temporary failure).
 */
int dns_batch_add(struct dns_batch *b, const char *name, int rrtype);

/*
 * The same, but the answer is kept as its packet (dns_answer.packet) for
 * any record type, and not parsed into addr and text (n stays 0): its
 * callers parse the packet themselves. A found answer needs no record we
 * can read.
 */
int dns_batch_add_raw(struct dns_batch *b, const char *name, int rrtype);

/* Wait until every answer is in or deadline_ms from now has passed. */
void dns_batch_wait(struct dns_batch *b, int deadline_ms);

/* The answer to question i (a temporary failure when none came in time). */
const struct dns_answer *dns_batch_answer(const struct dns_batch *b, int i);

void dns_batch_free(struct dns_batch *b);

/* Names for lookups: the reversed address under zone (in-addr.arpa, ip6.arpa or a DNSBL). */
int dns_reverse_name(const struct ipaddr *ip, const char *zone, char *out, size_t outsz);

#endif
