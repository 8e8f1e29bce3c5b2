/*
 * dns_answer.h: one DNS answer as the resolver (dns.h) hands it out and
 * the answer memo (dns_memo.h) keeps it, with the record types asked for.
 *
 * Owned by neither module, so each can include it without the other:
 * dns.c -> dns_memo.h -> dns_answer.h, and dns.h -> dns_answer.h. Nothing
 * here may know of libunbound or of the memo.
 */
#ifndef MXG_POLICY_DNS_ANSWER_H
#define MXG_POLICY_DNS_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/smtp/ipaddr.h"

#define DNS_RR_MAX 16        /* records kept per answer */
#define DNS_TYPE_A 1
#define DNS_TYPE_PTR 12
#define DNS_TYPE_MX 15
#define DNS_TYPE_TXT 16
#define DNS_TYPE_AAAA 28

enum dns_status { DNS_FOUND, DNS_NOTFOUND, DNS_TEMPFAIL };

struct dns_answer {
    enum dns_status status;
    const char *why;                 /* static: "timeout", "SERVFAIL", "DNSSEC bogus", ... */
    unsigned n;                      /* records kept */
    struct ipaddr addr[DNS_RR_MAX];  /* A, AAAA */
    char *text[DNS_RR_MAX];          /* PTR (a name, lower case, no trailing dot), TXT */
    int rcode;                       /* the server's RCODE (3: NXDOMAIN); -1 when none came */
    bool secure;                     /* DNSSEC-validated (only with a trust anchor) */
    /* dns_batch_add_raw only: the answer as it came, in wire format, for
       libraries that parse answers themselves (libspf2, libopendkim). */
    unsigned char *packet;
    size_t packet_len;
};

/* Free what an answer owns (its text and packet) and clear it: for copies
   of answers (policy/dns/dns_memo.h); a batch's own answers go with it. */
void dns_answer_clear(struct dns_answer *a);

#endif
