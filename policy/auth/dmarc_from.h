/*
 * dmarc_from.h: the author domains of a message, from its From: fields
 * (RFC 5322 section 3.6.2), for DMARC (RFC 7489 section 6.6.1).
 *
 * Fed one field value at a time as the MTA delivers them; keeps only the
 * distinct domains (lower case, at most DMARC_FROM_DOMAINS_MAX) and what
 * was wrong. Values come from a client: bounded, never trusted, never
 * copied whole. Nothing here knows about libmilter or libopendmarc.
 */
#ifndef MXG_POLICY_DMARC_FROM_H
#define MXG_POLICY_DMARC_FROM_H

#include <stdbool.h>
#include <stddef.h>

#define DMARC_FROM_DOMAINS_MAX 8
#define DMARC_DOMAIN_MAX 253

enum dmarc_from_problem {
    DMARC_FROM_OK = 0,        /* one From: field, one author domain (several addresses of one domain included) */
    DMARC_FROM_MISSING,       /* no From: field */
    DMARC_FROM_FIELDS,        /* more than one From: field */
    DMARC_FROM_DOMAINS,       /* one field, addresses of more than one domain */
    DMARC_FROM_NO_DOMAIN,     /* a field with no address, an address without a domain, or a
                                 domain that is no DNS name (after IDNA: A-labels, lower case) */
};

struct dmarc_from {
    unsigned fields;                                       /* From: fields seen */
    unsigned addresses;                                    /* addresses in them */
    unsigned ndomains;                                     /* distinct domains kept */
    bool more_domains;                                     /* ... and more were dropped */
    char domain[DMARC_FROM_DOMAINS_MAX][DMARC_DOMAIN_MAX + 1];
    enum dmarc_from_problem problem;                       /* the first worst one */
};

void dmarc_from_init(struct dmarc_from *f);
/* One From: field's value (everything after the colon, folded lines and all). */
void dmarc_from_add(struct dmarc_from *f, const char *value, size_t len);
/* After the last header: MISSING when no field was seen. */
void dmarc_from_finish(struct dmarc_from *f);
/* "" for OK, else a short static text for facts, logs and A-R comments. */
const char *dmarc_from_problem_text(enum dmarc_from_problem p);

#endif
