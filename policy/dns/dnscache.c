/*
 * dnscache.c: per-session DNS answers. Reverse DNS is confirmed forward
 * (a PTR name counts only if its A/AAAA records include the client), and
 * block-list answers are kept with their TXT reason, bounded.
 */
#include "policy/dns/dnscache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/monotime.h"

struct dns_cache {
    struct dns_resolver *r;
    int budget_ms;
    bool rdns_asked;
    struct rdns_result rdns;
    struct bl_result bl[DNSCACHE_NAMES_MAX];
    unsigned nbl;
    long last_wait_ms;
    unsigned long waited_us; /* every prefetch's wait, for records */
    unsigned reported;     /* block-list results reported so far */
    long stage_start;      /* ms; 0: not in a stage (each prefetch has its own budget) */
    unsigned overflow;     /* names not asked: the cache was full */
    bool rdns_reported;
    const char *rdns_why;  /* the PTR question's failure, when it failed */
};

struct dns_cache *dns_cache_new(struct dns_resolver *r, int budget_ms)
{
    struct dns_cache *c = calloc(1, sizeof *c);

    if (c != NULL) {
        c->r = r;
        c->budget_ms = budget_ms > 0 ? budget_ms : 8000;
    }
    return c;
}

void dns_cache_free(struct dns_cache *c)
{
    free(c);
}

static int remaining(long start, int budget)
{
    long left = budget - (monotime_ms() - start);
    return left > 0 ? (int)left : 0;
}

/* One round of questions waits for the query timeout, within the stage's budget. */
static int wait_for(const struct dns_cache *c, long start)
{
    int left = remaining(start, c->budget_ms), timeout = dns_resolver_timeout_ms(c->r);

    return left < timeout ? left : timeout;
}

static const struct bl_result *find(const struct dns_cache *c, const char *qname)
{
    for (unsigned i = 0; i < c->nbl; i++)
        if (strcmp(c->bl[i].qname, qname) == 0)
            return &c->bl[i];
    return NULL;
}

static void keep_bl(struct bl_result *r, const struct dns_answer *a, const struct dns_answer *txt)
{
    r->status = a->status;
    r->why = a->why;
    for (unsigned i = 0; i < a->n && r->ncodes < 4; i++)
        r->codes[r->ncodes++] = a->addr[i];
    /* The reason is a nicety: without it (or on its failure) the listing stands. */
    if (txt->status == DNS_FOUND && txt->n > 0)
        snprintf(r->reason, sizeof r->reason, "%s", txt->text[0]);
}

/* Forward confirmation: the PTR names' addresses must include the client. */
static void confirm(struct dns_cache *c, const struct dns_answer *ptr, const struct ipaddr *client, long start)
{
    struct dns_batch *b = dns_batch_new(c->r);
    int idx[DNSCACHE_PTR_MAX];
    unsigned n = ptr->n < DNSCACHE_PTR_MAX ? ptr->n : DNSCACHE_PTR_MAX;
    bool tempfail = false;

    if (b == NULL) {
        c->rdns.status = RDNS_TEMPFAIL;
        return;
    }
    for (unsigned i = 0; i < n; i++)
        idx[i] = dns_batch_add(b, ptr->text[i], client->v4 ? DNS_TYPE_A : DNS_TYPE_AAAA);
    dns_batch_wait(b, wait_for(c, start));
    c->rdns.status = RDNS_UNCONFIRMED;
    for (unsigned i = 0; i < n && c->rdns.status != RDNS_CONFIRMED; i++) {
        const struct dns_answer *a = dns_batch_answer(b, idx[i]);
        tempfail = tempfail || a->status == DNS_TEMPFAIL;
        for (unsigned k = 0; k < a->n; k++) {
            if (memcmp(a->addr[k].b, client->b, 16) == 0) {
                c->rdns.status = RDNS_CONFIRMED;
                snprintf(c->rdns.name, sizeof c->rdns.name, "%s", ptr->text[i]);
                break;
            }
        }
    }
    /* Unconfirmed only if every name answered: a timeout might have confirmed. */
    if (c->rdns.status == RDNS_UNCONFIRMED && tempfail)
        c->rdns.status = RDNS_TEMPFAIL;
    dns_batch_free(b);
}

void dns_cache_begin_stage(struct dns_cache *c)
{
    c->stage_start = monotime_ms();
}

void dns_cache_new_message(struct dns_cache *c)
{
    c->nbl = 0;
    c->reported = 0;
}

void dns_cache_prefetch(struct dns_cache *c, const struct ipaddr *client, bool want_rdns,
                        const char *const *bl_names, int n)
{
    long start = c->stage_start != 0 ? c->stage_start : monotime_ms();
    long long t0 = monotime_us();
    struct dns_batch *b;
    int ptr_idx = -1, a_idx[DNSCACHE_NAMES_MAX], txt_idx[DNSCACHE_NAMES_MAX];
    unsigned first_new = c->nbl;
    char rev[128];

    want_rdns = want_rdns && !c->rdns_asked && client != NULL;
    for (int i = 0; i < n; i++) {
        if (find(c, bl_names[i]) != NULL)
            continue;
        if (c->nbl == DNSCACHE_NAMES_MAX) {
            c->overflow++; /* reported: never a silent "not listed" */
            continue;
        }
        memset(&c->bl[c->nbl], 0, sizeof c->bl[c->nbl]);
        snprintf(c->bl[c->nbl].qname, sizeof c->bl[c->nbl].qname, "%s", bl_names[i]);
        c->bl[c->nbl].status = DNS_TEMPFAIL;
        c->bl[c->nbl].why = "not asked";
        c->nbl++;
    }
    if (!want_rdns && first_new == c->nbl)
        return;
    if ((b = dns_batch_new(c->r)) == NULL)
        return; /* everything new stays a temporary failure */
    /* Everything at once: the stage waits for the slowest, not the sum. */
    if (want_rdns && dns_reverse_name(client, client->v4 ? "in-addr.arpa" : "ip6.arpa", rev, sizeof rev) == 0)
        ptr_idx = dns_batch_add(b, rev, DNS_TYPE_PTR);
    for (unsigned i = first_new; i < c->nbl; i++) {
        a_idx[i] = dns_batch_add(b, c->bl[i].qname, DNS_TYPE_A);
        txt_idx[i] = dns_batch_add(b, c->bl[i].qname, DNS_TYPE_TXT);
    }
    dns_batch_wait(b, wait_for(c, start));
    for (unsigned i = first_new; i < c->nbl; i++)
        keep_bl(&c->bl[i], dns_batch_answer(b, a_idx[i]), dns_batch_answer(b, txt_idx[i]));
    if (want_rdns) {
        const struct dns_answer *ptr = dns_batch_answer(b, ptr_idx);
        c->rdns_asked = true;
        if (ptr->status == DNS_NOTFOUND) {
            c->rdns.status = RDNS_NONE;
        } else if (ptr->status == DNS_TEMPFAIL) {
            c->rdns.status = RDNS_TEMPFAIL;
            c->rdns_why = ptr->why;
        } else {
            snprintf(c->rdns.ptr, sizeof c->rdns.ptr, "%s", ptr->text[0]);
            confirm(c, ptr, client, start);
        }
    }
    dns_batch_free(b);
    c->last_wait_ms = monotime_ms() - start;
    c->waited_us += (unsigned long)(monotime_us() - t0);
}

unsigned long dns_cache_waited_us(const struct dns_cache *c)
{
    return c != NULL ? c->waited_us : 0;
}

unsigned dns_cache_bl_count(const struct dns_cache *c)
{
    return c != NULL ? c->nbl : 0;
}

const struct bl_result *dns_cache_bl_at(const struct dns_cache *c, unsigned i)
{
    return i < c->nbl ? &c->bl[i] : NULL;
}

const struct rdns_result *dns_cache_rdns(const struct dns_cache *c)
{
    return &c->rdns;
}

const struct bl_result *dns_cache_bl(const struct dns_cache *c, const char *qname)
{
    return find(c, qname);
}

long dns_cache_last_wait_ms(const struct dns_cache *c)
{
    return c->last_wait_ms;
}

void dns_cache_report_failures(struct dns_cache *c, void (*fn)(void *ctx, const char *what, const char *why),
                               void *ctx)
{
    if (c->overflow > 0) {
        fn(ctx, "block lists", "more names than one message may ask; the rest count as lookup failures");
        c->overflow = 0;
    }
    for (; c->reported < c->nbl; c->reported++)
        if (c->bl[c->reported].status == DNS_TEMPFAIL)
            fn(ctx, c->bl[c->reported].qname, c->bl[c->reported].why ? c->bl[c->reported].why : "error");
    if (c->rdns_asked && !c->rdns_reported) {
        c->rdns_reported = true;
        if (c->rdns.status == RDNS_TEMPFAIL)
            fn(ctx, "reverse DNS", c->rdns_why != NULL && strcmp(c->rdns_why, DNS_WHY_BUSY) == 0
                                       ? DNS_WHY_BUSY : "no answer in time, or SERVFAIL");
    }
}
