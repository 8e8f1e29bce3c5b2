/*
 * dmarc.h: DMARC (RFC 7489, with DMARCbis np=) for inbound mail, with
 * libopendmarc for the record, alignment and policy, the organizational
 * domain from the Public Suffix List Debian ships, and every _dmarc TXT
 * question through the shared resolver (policy/dns/dns.h): libopendmarc's
 * own res_query path is never used, so a DNS timeout is temperror, never
 * none.
 *
 * Inputs are the author domains (policy/auth/dmarc_from.h), the SPF
 * outcome of MAIL FROM and the DKIM outcome of the message. Nothing here
 * knows about libmilter or the rule language.
 *
 * Our names: dmarc_checker_* (one per process), dmarc_check (one
 * message). libopendmarc's start with opendmarc_ and its macros with
 * DMARC_: ours below never collide with them.
 */
#ifndef MXG_POLICY_DMARC_H
#define MXG_POLICY_DMARC_H

#include <stdbool.h>

#include "policy/auth/authresult.h"
#include "policy/auth/dkim.h"
#include "policy/auth/dmarc_from.h"
#include "policy/auth/spf.h"
#include "policy/dns/dns.h"
#include "policy/smtp/ipaddr.h"

#define DMARC_PSL_FILE "/usr/share/publicsuffix/public_suffix_list.dat"

enum dmarc_disposition { DMARC_DISP_NONE = 0, DMARC_DISP_QUARANTINE, DMARC_DISP_REJECT };

struct dmarc_limits {
    int deadline_ms;          /* the _dmarc (and np=) questions of one message (0: 10000) */
    const char *psl_file;     /* NULL: DMARC_PSL_FILE; read once, at dmarc_checker_new */
};

struct dmarc_input {
    const struct dmarc_from *from;       /* finished (dmarc_from_finish) */
    const struct spf_outcome *spf;       /* MAIL FROM's; NULL when it was not checked */
    const struct dkim_outcome *dkim;     /* NULL when the message was not verified */
    const struct ipaddr *client;
};

struct dmarc_outcome {
    enum auth_result result;             /* pass fail none temperror permerror */
    enum dmarc_disposition policy;       /* what the domain asks for this message, after pct=
                                            (none on pass, none, temperror, permerror) */
    enum dmarc_disposition published;    /* the p=, sp= or np= that applied, before pct= */
    char policy_tag[3];                  /* "p", "sp", "np", or "" without a record */
    int p, sp, np;                       /* as published: -1 absent, else a dmarc_disposition */
    unsigned pct;                        /* 0..100 (100 when absent) */
    bool sampled_out;                    /* pct= chose the next lesser policy */
    char adkim, aspf;                    /* 'r' or 's'; 0 without a record */
    bool spf_aligned, dkim_aligned;      /* a passing SPF / DKIM identifier is aligned */
    char from_domain[DMARC_DOMAIN_MAX + 1];    /* the author domain decided on ("" when none) */
    char org_domain[DMARC_DOMAIN_MAX + 1];     /* its organizational domain */
    char record_domain[DMARC_DOMAIN_MAX + 1];  /* where the record was found ("" when none) */
    char dkim_domain[DMARC_DOMAIN_MAX + 1];    /* the aligned d=, or "" */
    char rua[256];                       /* rua= as published, for aggregate-report data */
    enum dmarc_from_problem from_problem;
    char problem[128];                   /* temperror/permerror, or why none: for logs and A-R */
};

struct dmarc_checker;

/*
 * Read the Public Suffix List into libopendmarc (a global of the library,
 * once per process; NULL: DMARC_PSL_FILE). dmarc_checker_new does it when
 * it was not done; the daemon does it before it chroots, and its filter
 * processes inherit the list. 0, or -1 with *error_r (another file was
 * read already, or this one cannot be).
 */
int dmarc_library_init(const char *psl_file, const char **error_r);

/* One per filter process (the Public Suffix List is read here unless it was). NULL on error. */
struct dmarc_checker *dmarc_checker_new(struct dns_resolver *r, const struct dmarc_limits *lim,
                                        const char **error_r);
void dmarc_checker_free(struct dmarc_checker *c);

/* Evaluate one message; always fills *out. Several author domains: each is
   evaluated and the worst result with the strictest policy is kept. */
void dmarc_check(struct dmarc_checker *c, const struct dmarc_input *in, struct dmarc_outcome *out);

/* "none", "quarantine", "reject". */
const char *dmarc_disposition_name(enum dmarc_disposition d);

#endif
