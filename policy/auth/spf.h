/*
 * spf.h: SPF (RFC 7208) with libspf2, asking its DNS questions through
 * the shared resolver (policy/dns/dns.h), never the glibc resolver.
 *
 * libspf2 is treated as a parser of hostile input that we cannot patch:
 * identities are checked before it sees them, our DNS layer caps what it
 * hands over and enforces the void-lookup limit, and one evaluation has a
 * deadline. Nothing here knows about libmilter or the rule language.
 */
#ifndef MXG_POLICY_SPF_H
#define MXG_POLICY_SPF_H

#include <stddef.h>

#include "policy/auth/authresult.h"
#include "policy/dns/dns.h"
#include "policy/smtp/ipaddr.h"

#define SPF_EXPLANATION_MAX 512
#define SPF_DOMAIN_MAX 253

struct spf_limits {
    int deadline_ms;        /* one evaluation, every lookup in it (0: 20000, RFC 7208 4.6.4) */
    size_t txt_max;         /* bytes of TXT records per answer handed to libspf2 (0: 4096) */
    unsigned void_max;      /* void lookups (NXDOMAIN or no data) before permerror (0: 2) */
};

enum spf_identity { SPF_ID_MAILFROM, SPF_ID_HELO };

struct spf_outcome {
    enum auth_result result;             /* none neutral pass fail softfail temperror permerror */
    enum spf_identity identity;
    char domain[SPF_DOMAIN_MAX + 1];     /* the domain checked, lower case ("" when none) */
    char explanation[SPF_EXPLANATION_MAX + 1]; /* fail: the domain's exp= text, printable ASCII */
    char problem[160];                   /* temperror/permerror: why, for logs and headers */
};

struct spf_checker;

/*
 * One per filter process, shared by every thread. receiver is our host
 * name (the %{r} macro and the Received-SPF receiver). NULL on error.
 */
struct spf_checker *spf_checker_new(struct dns_resolver *r, const struct spf_limits *lim,
                                    const char *receiver, const char **error_r);
void spf_checker_free(struct spf_checker *c);

/*
 * check_host() for one identity. SPF_ID_MAILFROM checks sender
 * ("local@domain"; "" for the null sender, which checks postmaster@helo
 * as RFC 7208 section 2.4 says); SPF_ID_HELO checks the HELO name.
 * Always fills *out: an identity that is not a usable domain is "none",
 * a DNS failure or the deadline "temperror", never "fail".
 */
void spf_check(struct spf_checker *c, const struct ipaddr *client, const char *helo,
               const char *sender, enum spf_identity id, struct spf_outcome *out);

/*
 * The domain check_host() would start from, checked before libspf2 sees
 * anything: ASCII letters, digits, '-' and '_' in labels of 1 to 63
 * octets, at least two labels, at most 253 octets (one trailing dot
 * dropped); a local part of at most 64 printable ASCII octets. Returns 0
 * with the domain in lower case, or -1 with *why_r: RFC 7208 4.3 makes
 * such an identity "none" (an address literal, a bare name, a long label).
 */
int spf_identity_domain(const char *helo, const char *sender, enum spf_identity id,
                        char domain[SPF_DOMAIN_MAX + 1], const char **why_r);

/*
 * The value of a Received-SPF header (RFC 7208 section 9.1) for an
 * outcome: result, comment and key=value pairs, folded nowhere. Returns
 * 0, or -1 when buf is too small.
 */
int spf_received_value(const struct spf_outcome *o, const struct ipaddr *client, const char *helo,
                       const char *sender, const char *receiver, char *buf, size_t bufsz);

#endif
