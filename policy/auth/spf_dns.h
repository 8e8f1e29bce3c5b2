/*
 * spf_dns.h: libspf2's DNS layer on the shared resolver (policy/dns/dns.h),
 * and the state of one SPF evaluation that the layer counts against.
 * Private to policy/auth/spf.c and policy/auth/spf_dns.c.
 */
#ifndef MXG_POLICY_SPF_DNS_H
#define MXG_POLICY_SPF_DNS_H

#include <stdbool.h>

#include <netinet/in.h>
#include <spf2/spf.h>

#include "policy/dns/dns.h"
#include "policy/auth/spf.h"

#define SPF_TERMS_MAX 10   /* RFC 7208 4.6.4: terms that cause DNS queries */
#define SPF_SUB_MAX 10     /* names an MX or PTR answer may ask about (4.6.4) */

/*
 * One spf_check() call. The lookup callbacks get no request context, so
 * spf_check() points a thread-local at this for exactly its own duration
 * (see spf_eval_begin): libspf2 evaluates synchronously on the calling
 * thread and never hands work to another.
 */
struct spf_eval {
    struct dns_resolver *resolver;
    SPF_request_t *req;            /* for the explanation's macros */
    bool in_exp;                   /* expanding an explanation: nothing counts */
    const struct spf_limits *lim;
    long long deadline_ms;         /* monotime_ms() */
    unsigned records;              /* SPF records fetched (the first is check_host's own) */
    unsigned terms;                /* DNS-querying terms, include and redirect among them */
    unsigned voids;                /* void lookups of those terms */
    const char *limit;             /* static: the limit exceeded (a permerror), or NULL */
    unsigned tempfails;            /* temporary failures handed to libspf2 (not for exp=) */
    char temp[160];                /* the first temporary failure, for the problem text */
    /* Names an MX or PTR answer just gave: libspf2 asks their addresses
       next, in order, and those lookups belong to the same term. */
    char sub[SPF_SUB_MAX][256];
    unsigned nsub, isub;
    bool sub_any;                  /* they belong to an mx/0 term: any address matches */
};

/* A DNS layer whose lookups go through the shared resolver (NULL: out of memory). */
SPF_dns_server_t *spf_dns_layer_new(void);

void spf_eval_begin(struct spf_eval *e);
void spf_eval_end(void);

/*
 * check_host()'s record fetch (RFC 7208 4.4, 4.5) for the current domain
 * of a request: also libspf2's get_spf hook, so include and redirect
 * fetch their records here and are counted as terms.
 */
SPF_errcode_t spf_dns_get_record(SPF_server_t *server, SPF_request_t *req, SPF_response_t *resp,
                                 SPF_record_t **rec_r);

/* Expand a checked explanation text (spf_exp_text_check) for req, into out. */
void spf_exp_expand(SPF_request_t *req, const char *text, char *out, size_t outsz);

#endif
