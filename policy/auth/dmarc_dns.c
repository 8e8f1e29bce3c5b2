/*
 * dmarc_dns.c: the _dmarc TXT questions of one author domain, and whether
 * the domain exists, through the shared resolver (policy/dns/dns.h).
 *
 * libopendmarc's own lookup (opendmarc_policy_query_dmarc, res_query) is
 * never used: the record picked here is handed to libopendmarc as text
 * (policy/auth/dmarc.c). Must never read a lookup that failed (timeout,
 * SERVFAIL, DNSSEC bogus) as "no record": that is a temporary failure,
 * temperror, never none. Nothing here parses a record beyond its v= tag.
 */
#include "policy/auth/dmarc_dns.h"

#include <stdio.h>
#include <string.h>

enum { Q_OWN, Q_ORG, Q_A, Q_AAAA, Q_MX, Q_COUNT };

bool dmarc_record_is_dmarc(const char *txt)
{
    /* RFC 7489 6.6.3: records that do not start with v=DMARC1 are discarded. */
    return strncmp(txt, "v=DMARC1", 8) == 0 && (txt[8] == '\0' || txt[8] == ';' || txt[8] == ' ' || txt[8] == '\t');
}

/* The DMARC records among one answer's TXT records: 0, 1 (copied out) or 2 (several). */
static int pick_record(const struct dns_answer *a, char *out, size_t outsz)
{
    int found = 0;

    for (unsigned i = 0; i < a->n && i < DNS_RR_MAX; i++) {
        if (a->text[i] == NULL || !dmarc_record_is_dmarc(a->text[i]))
            continue;
        if (++found > 1)
            return 2;
        snprintf(out, outsz, "%s", a->text[i]);
    }
    return found;
}

/* Whether the author domain exists: NXDOMAIN, or no A, AAAA and MX (DMARCbis np=). */
static enum dmarc_exists domain_exists(const struct dns_batch *b, const int q[Q_COUNT])
{
    bool unknown = false;

    for (int i = Q_A; i <= Q_MX; i++) {
        const struct dns_answer *a = dns_batch_answer(b, q[i]);
        if (a->status == DNS_FOUND)
            return DMARC_EXISTS_YES;
        if (a->status == DNS_TEMPFAIL)
            unknown = true;
        else if (a->rcode == 3)
            return DMARC_EXISTS_NO; /* NXDOMAIN: no name, whatever the other answers say */
    }
    return unknown ? DMARC_EXISTS_UNKNOWN : DMARC_EXISTS_NO;
}

/* One name's answer into out; true when it decided (found, several, or tempfail). */
static bool read_answer(const struct dns_answer *a, const char *domain, bool at_org, struct dmarc_lookup *out)
{
    int n;

    if (a->status == DNS_TEMPFAIL) {
        out->status = DMARC_LOOKUP_TEMPFAIL;
        out->why = a->why != NULL ? a->why : "temporary DNS failure";
        return true;
    }
    if (a->status != DNS_FOUND || (n = pick_record(a, out->record, sizeof out->record)) == 0)
        return false;
    snprintf(out->record_domain, sizeof out->record_domain, "%s", domain);
    out->at_org = at_org;
    out->status = n == 1 ? DMARC_LOOKUP_FOUND : DMARC_LOOKUP_SEVERAL;
    out->why = n == 1 ? NULL : "several DMARC records";
    return true;
}

static int ask(struct dns_batch *b, const char *prefix, const char *domain, int type, bool raw)
{
    char name[DMARC_DOMAIN_MAX + 16];

    if ((size_t)snprintf(name, sizeof name, "%s%s", prefix, domain) >= sizeof name)
        return -1;
    return raw ? dns_batch_add_raw(b, name, type) : dns_batch_add(b, name, type);
}

void dmarc_dns_lookup(struct dns_resolver *r, int deadline_ms, const char *domain, const char *org,
                      struct dmarc_lookup *out)
{
    struct dns_batch *b;
    int q[Q_COUNT] = { -1, -1, -1, -1, -1 };
    bool sub = strcmp(domain, org) != 0;

    memset(out, 0, sizeof *out);
    out->exists = DMARC_EXISTS_YES;
    if (r == NULL || (b = dns_batch_new(r)) == NULL) {
        out->status = DMARC_LOOKUP_TEMPFAIL;
        out->why = r == NULL ? "no DNS resolver" : "out of memory";
        return;
    }
    /* All at once: the org record and the existence questions cost no
       second round trip when they turn out to be needed. */
    q[Q_OWN] = ask(b, "_dmarc.", domain, DNS_TYPE_TXT, false);
    if (sub) {
        q[Q_ORG] = ask(b, "_dmarc.", org, DNS_TYPE_TXT, false);
        q[Q_A] = ask(b, "", domain, DNS_TYPE_A, false);
        q[Q_AAAA] = ask(b, "", domain, DNS_TYPE_AAAA, false);
        q[Q_MX] = ask(b, "", domain, DNS_TYPE_MX, true);
    }
    dns_batch_wait(b, deadline_ms);
    if (!read_answer(dns_batch_answer(b, q[Q_OWN]), domain, false, out)) {
        if (!sub || !read_answer(dns_batch_answer(b, q[Q_ORG]), org, true, out)) {
            out->status = DMARC_LOOKUP_NONE;
            out->why = "no DMARC record";
        }
    }
    if (out->status == DMARC_LOOKUP_FOUND && out->at_org)
        out->exists = domain_exists(b, q);
    dns_batch_free(b);
}
