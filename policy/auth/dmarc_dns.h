/*
 * dmarc_dns.h: the DNS questions of one DMARC evaluation, through the
 * shared resolver (internal to policy/auth/dmarc*.c).
 *
 * For one author domain every question goes out at once, in one batch:
 * _dmarc.<domain> TXT, and when the domain is not its own organizational
 * domain _dmarc.<org> TXT and its A, AAAA and MX (whether it exists, for
 * np=). Answers are read in RFC 7489 section 6.6.3's order.
 */
#ifndef MXG_POLICY_DMARC_DNS_H
#define MXG_POLICY_DMARC_DNS_H

#include <stdbool.h>

#include "policy/auth/dmarc_from.h"
#include "policy/dns/dns.h"

enum dmarc_lookup_status {
    DMARC_LOOKUP_FOUND,      /* one record starting v=DMARC1 */
    DMARC_LOOKUP_NONE,       /* no record at either name */
    DMARC_LOOKUP_SEVERAL,    /* several at the first name that has any: none (RFC 7489 6.6.3) */
    DMARC_LOOKUP_TEMPFAIL    /* a question that decides could not be answered: temperror */
};

enum dmarc_exists { DMARC_EXISTS_YES, DMARC_EXISTS_NO, DMARC_EXISTS_UNKNOWN };

struct dmarc_lookup {
    enum dmarc_lookup_status status;
    char record[DNS_TXT_MAX + 1];
    char record_domain[DMARC_DOMAIN_MAX + 1];  /* the domain the record is for */
    bool at_org;                               /* found at the organizational domain */
    enum dmarc_exists exists;                  /* the author domain (asked only under an org domain) */
    const char *why;                           /* static: tempfail, several, or none */
};

/* True when a TXT record is a DMARC record: "v=DMARC1" then ';', blank or its end. */
bool dmarc_record_is_dmarc(const char *txt);

/* Ask and read; always fills *out. org equal to domain: one question. */
void dmarc_dns_lookup(struct dns_resolver *r, int deadline_ms, const char *domain, const char *org,
                      struct dmarc_lookup *out);

#endif
