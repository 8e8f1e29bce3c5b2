/*
 * dns.c: batches of questions over one libunbound context.
 *
 * A dispatcher thread runs ub_process() whenever libunbound's pipe is
 * readable and hands each answer to the batch that asked. A batch whose
 * deadline passes abandons its missing answers: it cancels them, and an
 * answer that arrives anyway is dropped. A batch is freed by whoever lets
 * go of it last, its owner or a late answer, so neither can touch freed
 * memory. Answers are attacker input (the names come from clients):
 * every record is bounded before it is kept.
 *
 * Must never read a failure as "not found": a question not asked, an
 * error from libunbound, an answer without the server's packet (what
 * libunbound makes up when it cannot reach a server, say without a free
 * descriptor) and SERVFAIL are all DNS_TEMPFAIL. At most max_waiting
 * batches wait on libunbound at once (--max-dns-waiting): past that a
 * batch's questions are not asked and read as temporary failures at once.
 */
#include "policy/dns/dns.h"

#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unbound.h>
#include <unistd.h>

#include "policy/dns/dns_memo.h"
#include "policy/monotime.h"
#define BATCH_MAX 128 /* questions in one round: two per block-list name, and the PTR */

struct dns_resolver {
    struct ub_ctx *ctx;
    struct dns_memo *memo; /* answers served without a trip through libunbound's threads */
    pthread_t dispatcher;
    atomic_bool stop;
    int timeout_ms;
    atomic_ulong asked, from_memo; /* questions, and those the memo answered */
    atomic_ulong timeouts, servfail; /* questions abandoned at a deadline; SERVFAIL answers */
    atomic_uint waiting;   /* batches with a question out to libunbound */
    unsigned max_waiting;  /* 0: no bound */
    atomic_ulong refused;  /* questions not asked: max_waiting batches were waiting */
};

struct callback_arg;

struct dns_query {
    struct dns_batch *batch;
    struct callback_arg *ca;  /* freed by the callback, or by us when cancelled */
    int async_id;
    bool asked, done, abandoned;
    struct dns_answer answer;
};

struct dns_batch {
    struct dns_resolver *r;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned refs;        /* the owner, and every question still out */
    unsigned pending;
    unsigned n;
    bool waiting;         /* counted in r->waiting until the wait ends */
    struct dns_query q[BATCH_MAX];
};

static const struct dns_answer no_answer = { .status = DNS_TEMPFAIL, .why = "not asked", .rcode = -1 };

/* ---- the resolver ------------------------------------------------------ */

static void *dispatch(void *arg)
{
    struct dns_resolver *r = arg;
    struct pollfd pfd = { ub_fd(r->ctx), POLLIN, 0 };

    while (!atomic_load(&r->stop)) {
        if (poll(&pfd, 1, 100) > 0)
            ub_process(r->ctx);
    }
    return NULL;
}

/*
 * Special-use and locally served zones (RFC 6761, RFC 6303) that
 * libunbound answers itself unless told not to: localhost. (A 127.0.0.1,
 * AAAA ::1), the loopback reverse names (1.0.0.127.in-addr.arpa. and
 * ::1's ip6.arpa. name, both PTR localhost.), test. and the private and
 * documentation ranges. With explicit forwarders every question goes to
 * them: an admin's server may well hold PTR records for 10/8 or
 * 127.0.0.1, and tests serve test., the loopback names and the
 * documentation ranges. The built-in zones are removed, with their data,
 * once the context is finalised: making them "nodefault" afterwards
 * (ub_ctx_zone_add) only changes a zone's type and its records still
 * answer, and libunbound 1.17 keeps a "local-zone: NAME nodefault" given
 * with ub_ctx_set_option() under the wrong name, so that never matches.
 */
static const char *const forwarded_zones[] = {
    "localhost.", "test.", "invalid.", "onion.", "home.arpa.", "resolver.arpa.", "service.arpa.",
    "127.in-addr.arpa.", "0.in-addr.arpa.", "255.255.255.255.in-addr.arpa.", "10.in-addr.arpa.",
    "168.192.in-addr.arpa.", "254.169.in-addr.arpa.",
    "16.172.in-addr.arpa.", "17.172.in-addr.arpa.", "18.172.in-addr.arpa.", "19.172.in-addr.arpa.",
    "20.172.in-addr.arpa.", "21.172.in-addr.arpa.", "22.172.in-addr.arpa.", "23.172.in-addr.arpa.",
    "24.172.in-addr.arpa.", "25.172.in-addr.arpa.", "26.172.in-addr.arpa.", "27.172.in-addr.arpa.",
    "28.172.in-addr.arpa.", "29.172.in-addr.arpa.", "30.172.in-addr.arpa.", "31.172.in-addr.arpa.",
    "2.0.192.in-addr.arpa.", "100.51.198.in-addr.arpa.", "113.0.203.in-addr.arpa.",
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
    "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
    "d.f.ip6.arpa.", "8.e.f.ip6.arpa.", "9.e.f.ip6.arpa.", "a.e.f.ip6.arpa.", "b.e.f.ip6.arpa.",
    "8.b.d.0.1.0.0.2.ip6.arpa.",
};

/* Removes the built-in zones (a missing one is no error); finalises ctx. */
static int forward_special_zones(struct ub_ctx *ctx)
{
    int rc = 0;
    char name[32];

    for (size_t i = 0; i < sizeof forwarded_zones / sizeof forwarded_zones[0]; i++)
        rc |= ub_ctx_zone_remove(ctx, forwarded_zones[i]);
    for (int octet = 64; octet <= 127; octet++) { /* 100.64.0.0/10, RFC 6598 */
        snprintf(name, sizeof name, "%d.100.in-addr.arpa.", octet);
        rc |= ub_ctx_zone_remove(ctx, name);
    }
    return rc;
}

/*
 * libunbound starts its worker (its event loop: epoll, a socket pair,
 * pipes) at the first question. Without a free descriptor then, libevent
 * ends the process (evsig_init_: socketpair: Too many open files, exit 1):
 * measured with a burst of sessions holding every descriptor when the
 * filter's first question came. dns_resolver_start asks this name, which
 * libunbound answers from a local zone without the network, at start.
 */
#define START_NAME "mxguard-start.invalid."

static atomic_int start_answers;

static void on_start_answer(void *arg, int err, struct ub_result *res)
{
    (void)arg, (void)err;
    if (res != NULL)
        ub_resolve_free(res);
    atomic_fetch_add(&start_answers, 1);
}

int dns_resolver_start(struct dns_resolver *r)
{
    int before = atomic_load(&start_answers), id;

    if (ub_resolve_async(r->ctx, START_NAME, DNS_TYPE_A, 1, NULL, on_start_answer, &id) != 0)
        return -1;
    for (int i = 0; i < 200 && atomic_load(&start_answers) == before; i++)
        usleep(10000);
    return atomic_load(&start_answers) != before ? 0 : -1;
}

static int configure(struct ub_ctx *ctx, const struct dns_config *cfg, const char **error_r)
{
    int rc = 0;

    rc |= ub_ctx_set_option(ctx, "qname-minimisation:", "no");
    if (cfg->trust_anchor != NULL && access(cfg->trust_anchor, R_OK) != 0) {
        *error_r = "the DNSSEC trust anchor file cannot be read";
        return -1;
    }
    if (cfg->trust_anchor != NULL)
        rc |= ub_ctx_add_ta_file(ctx, cfg->trust_anchor);
    if (cfg->mode != DNS_MODE_RECURSIVE) {
        /* Forwarders (ours or resolv.conf's): one name that times out does
           not make libunbound shun the server for every other name (15
           minutes by default), and a slow one gets 1.5 s before the
           question is sent again. */
        rc |= ub_ctx_set_option(ctx, "infra-host-ttl:", "0");
        rc |= ub_ctx_set_option(ctx, "unknown-server-time-limit:", "1500");
    }
    else
        rc |= ub_ctx_set_option(ctx, "module-config:", "iterator");
    switch (cfg->mode) {
    case DNS_MODE_FORWARD:
        /* Forwarders answer every name, the special-use ones included
           (RFC 6761 localhost., test., the loopback reverse names) that
           libunbound would otherwise answer itself, and they may live
           on loopback. */
        rc |= ub_ctx_set_option(ctx, "do-not-query-localhost:", "no");
        for (int i = 0; i < cfg->nforwarders; i++)
            rc |= ub_ctx_set_fwd(ctx, cfg->forwarders[i]);
        rc |= ub_ctx_async(ctx, 1);
        /* Zone changes finalise the context: they come last. */
        rc |= forward_special_zones(ctx);
        break;
    case DNS_MODE_SYSTEM:
        rc |= ub_ctx_resolvconf(ctx, cfg->resolv_conf);
        rc |= ub_ctx_async(ctx, 1);
        break;
    case DNS_MODE_RECURSIVE:
        rc |= ub_ctx_async(ctx, 1);
        break;
    case DNS_MODE_LOCAL:
        /* Nothing leaves the process: the root is a local zone holding
           only the records given. */
        rc |= ub_ctx_async(ctx, 1);
        rc |= ub_ctx_zone_add(ctx, ".", "static");
        for (size_t i = 0; i < cfg->nfailing; i++)
            rc |= ub_ctx_zone_add(ctx, cfg->failing[i], "refuse");
        for (size_t i = 0; i < cfg->nrecords && rc == 0; i++)
            if (ub_ctx_data_add(ctx, cfg->records[i]) != 0) {
                *error_r = "a DNS record could not be read";
                return -1;
            }
        break;
    }
    /* A name libunbound answers itself, for dns_resolver_start. */
    rc |= ub_ctx_zone_add(ctx, START_NAME, "static");
    if (rc != 0)
        *error_r = "invalid resolver settings (a forwarder address, the trust anchor file or resolv.conf)";
    return rc == 0 ? 0 : -1;
}

static void resolver_delete(struct dns_resolver *r)
{
    ub_ctx_delete(r->ctx);
    dns_memo_free(r->memo);
    free(r);
}

struct dns_resolver *dns_resolver_new(const struct dns_config *cfg, const char **error_r)
{
    struct dns_resolver *r = calloc(1, sizeof *r);

    if (r == NULL || (r->memo = dns_memo_new(DNS_MEMO_ENTRIES_MAX, DNS_MEMO_BYTES_MAX)) == NULL ||
        (r->ctx = ub_ctx_create()) == NULL) {
        *error_r = "out of memory";
        if (r != NULL)
            dns_memo_free(r->memo);
        free(r);
        return NULL;
    }
    r->timeout_ms = cfg->query_timeout_ms > 0 ? cfg->query_timeout_ms : 5000;
    /* Configuration is not thread-safe in libunbound: all of it happens
       here, once, before any question is asked. */
    if (configure(r->ctx, cfg, error_r) < 0) {
        resolver_delete(r);
        return NULL;
    }
    if (pthread_create(&r->dispatcher, NULL, dispatch, r) != 0) {
        *error_r = "cannot start the resolver thread";
        resolver_delete(r);
        return NULL;
    }
    return r;
}

void dns_resolver_free(struct dns_resolver *r)
{
    if (r == NULL)
        return;
    atomic_store(&r->stop, true);
    pthread_join(r->dispatcher, NULL);
    resolver_delete(r);
}

int dns_resolver_timeout_ms(const struct dns_resolver *r)
{
    return r->timeout_ms;
}

void dns_resolver_counts(struct dns_resolver *r, unsigned long *asked, unsigned long *from_memo)
{
    *asked = atomic_load(&r->asked);
    *from_memo = atomic_load(&r->from_memo);
}

void dns_resolver_stats(struct dns_resolver *r, struct dns_stats *out)
{
    out->asked = atomic_load_explicit(&r->asked, memory_order_relaxed);
    out->from_memo = atomic_load_explicit(&r->from_memo, memory_order_relaxed);
    out->timeouts = atomic_load_explicit(&r->timeouts, memory_order_relaxed);
    out->servfail = atomic_load_explicit(&r->servfail, memory_order_relaxed);
    out->waiting = atomic_load_explicit(&r->waiting, memory_order_relaxed);
    out->refused = atomic_load_explicit(&r->refused, memory_order_relaxed);
}

void dns_resolver_set_max_waiting(struct dns_resolver *r, unsigned max)
{
    r->max_waiting = max;
}

/* A place among the batches waiting on libunbound, or false at the bound. */
static bool waiting_enter(struct dns_resolver *r)
{
    unsigned cur = atomic_load(&r->waiting);

    do {
        if (r->max_waiting > 0 && cur >= r->max_waiting)
            return false;
    } while (!atomic_compare_exchange_weak(&r->waiting, &cur, cur + 1));
    return true;
}

static void waiting_leave(struct dns_batch *b)
{
    if (b->waiting) {
        b->waiting = false;
        atomic_fetch_sub(&b->r->waiting, 1);
    }
}

/* ---- answers ------------------------------------------------------------- */

/* A wire-format name (PTR rdata) as text, lower case, no trailing dot. */
static char *wire_name(const unsigned char *p, size_t len)
{
    char buf[256];
    size_t o = 0, i = 0;

    while (i < len && p[i] != 0) {
        size_t l = p[i++];
        if (l > 63 || i + l > len || o + l + 1 >= sizeof buf)
            return NULL; /* compression or garbage: not a name we keep */
        if (o > 0)
            buf[o++] = '.';
        for (size_t k = 0; k < l; k++) {
            unsigned char c = p[i + k];
            buf[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : (c > 0x20 && c < 0x7f ? c : '?'));
        }
        i += l;
    }
    buf[o] = '\0';
    return strdup(buf);
}

/* TXT rdata: its character-strings joined, capped, reduced to printable ASCII. */
static char *wire_txt(const unsigned char *p, size_t len)
{
    char buf[DNS_TXT_MAX + 1];
    size_t o = 0, i = 0;

    while (i < len) {
        size_t l = p[i++];
        for (size_t k = 0; k < l && i + k < len && o < DNS_TXT_MAX; k++) {
            unsigned char c = p[i + k];
            buf[o++] = (char)(c >= 0x20 && c < 0x7f ? c : ' ');
        }
        i += l;
    }
    buf[o] = '\0';
    return strdup(buf);
}

static void keep_records(struct dns_answer *a, int rrtype, const struct ub_result *res)
{
    for (int i = 0; res->data[i] != NULL && a->n < DNS_RR_MAX; i++) {
        const unsigned char *d = (const unsigned char *)res->data[i];
        size_t len = (size_t)res->len[i];
        if (rrtype == DNS_TYPE_A && len == 4) {
            memset(a->addr[a->n].b, 0, 10);
            a->addr[a->n].b[10] = a->addr[a->n].b[11] = 0xff;
            memcpy(a->addr[a->n].b + 12, d, 4);
            a->addr[a->n++].v4 = true;
        } else if (rrtype == DNS_TYPE_AAAA && len == 16) {
            memcpy(a->addr[a->n].b, d, 16);
            a->addr[a->n++].v4 = false;
        } else if (rrtype == DNS_TYPE_PTR || rrtype == DNS_TYPE_TXT) {
            char *t = rrtype == DNS_TYPE_PTR ? wire_name(d, len) : wire_txt(d, len);
            if (t != NULL)
                a->text[a->n++] = t;
        }
    }
}

/* The answer as received, for callers that parse it themselves. */
static void keep_packet(struct dns_answer *a, const struct ub_result *res)
{
    if (res->answer_packet == NULL || res->answer_len <= 0 || res->answer_len > DNS_PACKET_MAX)
        return;
    if ((a->packet = malloc((size_t)res->answer_len)) == NULL)
        return;
    memcpy(a->packet, res->answer_packet, (size_t)res->answer_len);
    a->packet_len = (size_t)res->answer_len;
}

/* The answer carries a DNS message (at least its 12-byte header) whose
   RCODE is the one libunbound reports. */
static bool answer_from_server(const struct ub_result *res)
{
    const unsigned char *p = res->answer_packet;

    return p != NULL && res->answer_len >= 12 && (p[3] & 0x0f) == (res->rcode & 0x0f);
}

static void fill_answer(struct dns_answer *a, int rrtype, bool raw, int err, const struct ub_result *res)
{
    a->rcode = err == 0 && res != NULL ? res->rcode : -1;
    a->secure = err == 0 && res != NULL && res->secure;
    if (raw && err == 0 && res != NULL && !res->bogus) {
        keep_packet(a, res);
        if (a->packet == NULL) {
            a->status = DNS_TEMPFAIL;
            a->why = res->answer_packet == NULL ? "no answer packet" : "out of memory";
            return;
        }
    }
    if (err != 0 || res == NULL) {
        a->status = DNS_TEMPFAIL;
        a->why = "resolver error";
    } else if (res->bogus) {
        a->status = DNS_TEMPFAIL;
        a->why = "DNSSEC bogus";
    } else if (res->rcode == 0 && res->havedata) {
        a->status = DNS_FOUND;
        if (raw)
            return; /* its callers read the packet: nothing is parsed twice */
        keep_records(a, rrtype, res);
        if (a->n == 0) {
            a->status = DNS_TEMPFAIL; /* data we could not read is no "not found" */
            a->why = "malformed answer";
        }
    } else if ((res->rcode == 0 || res->rcode == 3 || res->nxdomain) && !answer_from_server(res)) {
        /* "Not found" with no message behind it is libunbound's own
           making, not a server's word: a temporary failure. */
        a->status = DNS_TEMPFAIL;
        a->why = "no answer from the server";
    } else if (res->rcode == 0 || res->rcode == 3 || res->nxdomain) {
        a->status = DNS_NOTFOUND; /* NXDOMAIN, or NODATA */
    } else {
        a->status = DNS_TEMPFAIL;
        a->why = res->rcode == 2 ? "SERVFAIL" : "error from the server";
    }
}

/* ---- batches --------------------------------------------------------------- */

struct dns_batch *dns_batch_new(struct dns_resolver *r)
{
    /* Room for BATCH_MAX questions (about 60 KB), of which a stage asks a
       few: only the header is cleared here, each question when it is
       added (the benchmarks found the clearing of the whole a quarter of
       the filter's instructions). */
    struct dns_batch *b = malloc(sizeof *b);

    if (b == NULL)
        return NULL;
    memset(b, 0, offsetof(struct dns_batch, q));
    b->r = r;
    b->refs = 1;
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cond, NULL);
    return b;
}

static void batch_destroy(struct dns_batch *b)
{
    for (unsigned i = 0; i < b->n; i++)
        dns_answer_clear(&b->q[i].answer);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->cond);
    free(b);
}

/* Drop one reference; the caller holds the lock, which this releases. */
static void batch_unref_locked(struct dns_batch *b)
{
    bool last = --b->refs == 0;

    pthread_mutex_unlock(&b->lock);
    if (last)
        batch_destroy(b);
}

struct callback_arg {
    struct dns_batch *b;
    unsigned i;
    int rrtype;
    bool raw;
    char name[]; /* the question, for the memo */
};

/* Seconds on a clock no one sets: TTLs run out in real time. */
static time_t now_s(void)
{
    return (time_t)(monotime_ms() / 1000);
}

static void on_answer(void *arg, int err, struct ub_result *res)
{
    struct callback_arg *ca = arg;
    struct dns_batch *b = ca->b;
    struct dns_query *q = &b->q[ca->i];

    pthread_mutex_lock(&b->lock);
    if (!q->abandoned) {
        fill_answer(&q->answer, ca->rrtype, ca->raw, err, res);
        if (err == 0 && res != NULL && res->rcode == 2)
            atomic_fetch_add_explicit(&b->r->servfail, 1, memory_order_relaxed);
        if (err == 0 && res != NULL && !res->bogus && res->ttl > 0)
            dns_memo_put(b->r->memo, ca->name, ca->rrtype, ca->raw, &q->answer, (unsigned)res->ttl, now_s());
        q->done = true;
        b->pending--;
        pthread_cond_broadcast(&b->cond);
    }
    if (res != NULL)
        ub_resolve_free(res);
    free(ca);
    batch_unref_locked(b);
}

static int batch_add(struct dns_batch *b, const char *name, int rrtype, bool raw)
{
    struct callback_arg *ca;
    struct dns_query *q;
    int i, rc;

    if (b->n == BATCH_MAX)
        return -1;
    i = (int)b->n++;
    q = &b->q[i];
    memset(q, 0, sizeof *q);
    q->answer.status = DNS_TEMPFAIL;
    q->answer.why = "could not ask";
    q->answer.rcode = -1;
    atomic_fetch_add(&b->r->asked, 1);
    if (dns_memo_get(b->r->memo, name, rrtype, raw, now_s(), &q->answer)) {
        atomic_fetch_add(&b->r->from_memo, 1);
        q->asked = q->done = true; /* nothing pending: no wait, no callback */
        return i;
    }
    if (!b->waiting && !(b->waiting = waiting_enter(b->r))) {
        atomic_fetch_add_explicit(&b->r->refused, 1, memory_order_relaxed);
        q->answer.why = DNS_WHY_BUSY;
        return i;
    }
    size_t nlen = strlen(name) + 1;
    if ((ca = malloc(sizeof *ca + nlen)) == NULL)
        return i;
    memcpy(ca->name, name, nlen);
    ca->b = b;
    ca->i = (unsigned)i;
    ca->rrtype = rrtype;
    ca->raw = raw;
    pthread_mutex_lock(&b->lock);
    b->refs++;
    b->pending++;
    pthread_mutex_unlock(&b->lock);
    rc = ub_resolve_async(b->r->ctx, name, rrtype, 1, ca, on_answer, &q->async_id);
    if (rc != 0) {
        free(ca);
        pthread_mutex_lock(&b->lock);
        b->refs--;
        b->pending--;
        pthread_mutex_unlock(&b->lock);
        return i;
    }
    q->asked = true;
    q->ca = ca;
    return i;
}

int dns_batch_add(struct dns_batch *b, const char *name, int rrtype)
{
    return batch_add(b, name, rrtype, false);
}

int dns_batch_add_raw(struct dns_batch *b, const char *name, int rrtype)
{
    return batch_add(b, name, rrtype, true);
}

void dns_batch_wait(struct dns_batch *b, int deadline_ms)
{
    struct timespec until;
    int cancel[BATCH_MAX], ncancel = 0;
    struct callback_arg *cancel_ca[BATCH_MAX];

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += deadline_ms / 1000;
    until.tv_nsec += (long)(deadline_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&b->lock);
    while (b->pending > 0)
        if (pthread_cond_timedwait(&b->cond, &b->lock, &until) == ETIMEDOUT)
            break;
    /* Whatever is still out is abandoned: a timeout, a temporary failure. */
    for (unsigned i = 0; i < b->n; i++) {
        struct dns_query *q = &b->q[i];
        if (q->asked && !q->done && !q->abandoned) {
            q->abandoned = true;
            q->answer.status = DNS_TEMPFAIL;
            q->answer.why = "timeout";
            b->pending--;
            cancel_ca[ncancel] = q->ca;
            cancel[ncancel++] = q->async_id;
        }
    }
    pthread_mutex_unlock(&b->lock);
    waiting_leave(b); /* nothing of ours is waited for any more */
    if (ncancel > 0)
        atomic_fetch_add_explicit(&b->r->timeouts, (unsigned long)ncancel, memory_order_relaxed);
    for (int k = 0; k < ncancel; k++) {
        /* Cancelled: its callback will never run, so drop its reference
           here. Not cancelled: the answer is on its way and drops it. */
        if (ub_cancel(b->r->ctx, cancel[k]) == 0) {
            free(cancel_ca[k]);
            pthread_mutex_lock(&b->lock);
            b->refs--;
            pthread_mutex_unlock(&b->lock);
        }
    }
}

const struct dns_answer *dns_batch_answer(const struct dns_batch *b, int i)
{
    if (i < 0 || (unsigned)i >= b->n)
        return &no_answer;
    return &b->q[i].answer;
}

void dns_batch_free(struct dns_batch *b)
{
    if (b == NULL)
        return;
    waiting_leave(b); /* asked, never waited for */
    pthread_mutex_lock(&b->lock);
    batch_unref_locked(b);
}

int dns_reverse_name(const struct ipaddr *ip, const char *zone, char *out, size_t outsz)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    int n;

    if (ip->v4) {
        n = snprintf(out, outsz, "%u.%u.%u.%u.%s", ip->b[15], ip->b[14], ip->b[13], ip->b[12], zone);
        return n > 0 && (size_t)n < outsz ? 0 : -1;
    }
    if (outsz < 64 + strlen(zone) + 1)
        return -1;
    for (int i = 15; i >= 0; i--) {
        out[o++] = hex[ip->b[i] & 0xf];
        out[o++] = '.';
        out[o++] = hex[ip->b[i] >> 4];
        out[o++] = '.';
    }
    strcpy(out + o, zone);
    return 0;
}
