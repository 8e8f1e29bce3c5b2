/*
 * dkim_dns.c: libopendkim's DNS hooks on the shared resolver.
 *
 * libopendkim asks for one key at a time (query start, wait, cancel) and
 * gives the hooks no per-message argument: the calling thread names the
 * message it serves (dkim_keys_serve), and the answers come from the batch
 * its keys were asked in at the end of the headers, so N signatures cost
 * one round trip. Must never wait past the message's deadline, never hand
 * libopendkim more bytes than its buffer holds, and never turn a lookup
 * that failed (timeout, SERVFAIL, bogus) into an answer: that is an error,
 * which libopendkim reports as a key failure, our temperror. A key record
 * whose p= is a bare PKCS#1 RSAPublicKey reaches libopendkim rewritten as
 * its SubjectPublicKeyInfo (policy/auth/dkim_key.c); any other answer as
 * it came.
 */
#include "policy/auth/dkim_dns.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "policy/auth/dkim_key.h"
#include "policy/monotime.h"

static _Thread_local struct dkim_keys *serving;

void dkim_keys_init(struct dkim_keys *k, struct dns_resolver *r, int deadline_ms)
{
    memset(k, 0, sizeof *k);
    k->r = r;
    k->deadline_ms = deadline_ms;
}

void dkim_keys_free(struct dkim_keys *k)
{
    /* Answers still out are dropped by the batch's last reference. */
    dns_batch_free(k->batch);
    k->batch = NULL;
    if (serving == k)
        serving = NULL;
}

void dkim_keys_serve(struct dkim_keys *k)
{
    serving = k;
}

static bool label_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Dot-separated labels of label_char, 1..63 each. */
static bool dns_labels(const char *s)
{
    size_t len = 0;

    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s == '.') {
            if (len == 0)
                return false;
            len = 0;
        } else if (!label_char(*s) || ++len > 63) {
            return false;
        }
    }
    return len > 0;
}

int dkim_keys_name(const char *selector, const char *domain, char *out, size_t outsz)
{
    int n;

    if (selector == NULL || domain == NULL || !dns_labels(selector) || !dns_labels(domain))
        return -1;
    n = snprintf(out, outsz, "%s._domainkey.%s", selector, domain);
    return n > 0 && (size_t)n < outsz && n <= 253 ? 0 : -1;
}

static int keys_find(const struct dkim_keys *k, const char *name)
{
    for (unsigned i = 0; i < k->n; i++)
        if (strcasecmp(k->q[i].name, name) == 0)
            return (int)i;
    return -1;
}

int dkim_keys_ask(struct dkim_keys *k, const char *name)
{
    struct dkim_keyq *q;
    int i = keys_find(k, name);

    if (i >= 0)
        return i;
    if (k->r == NULL || k->n == DKIM_KEYS_MAX || strlen(name) > DKIM_KEYNAME_MAX)
        return -1;
    if (k->batch == NULL) {
        if ((k->batch = dns_batch_new(k->r)) == NULL)
            return -1;
        k->asked_ms = monotime_ms();
    }
    q = &k->q[k->n];
    strcpy(q->name, name);
    q->why = NULL;
    q->permanent = false;
    q->index = dns_batch_add_raw(k->batch, name, DNS_TYPE_TXT);
    return (int)k->n++;
}

const char *dkim_keys_why(const struct dkim_keys *k, const char *name, bool *permanent)
{
    int i = keys_find(k, name);

    *permanent = i >= 0 && k->q[i].permanent;
    return i < 0 ? NULL : k->q[i].why;
}

/* What is left of the message's deadline, counted from the first question. */
static int keys_remaining_ms(const struct dkim_keys *k)
{
    long long spent = monotime_ms() - k->asked_ms;

    return spent >= k->deadline_ms ? 0 : k->deadline_ms - (int)spent;
}

/* ---- the hooks --------------------------------------------------------- */

static int hook_start(void *service, int type, unsigned char *name, unsigned char *buf, size_t buflen,
                      void **qh)
{
    struct dkim_keys *k = serving;
    int i;

    (void)service;
    if (k == NULL || type != DNS_TYPE_TXT || (i = dkim_keys_ask(k, (const char *)name)) < 0)
        return DKIM_DNS_ERROR;
    for (unsigned w = 0; w < DKIM_KEYS_MAX; w++) {
        if (!k->wait[w].used) {
            k->wait[w] = (struct dkim_keywait){ k, (unsigned)i, buf, buflen, true };
            *qh = &k->wait[w];
            return DKIM_DNS_SUCCESS;
        }
    }
    k->q[i].why = "too many key lookups at once";
    return DKIM_DNS_ERROR;
}

static int hook_cancel(void *service, void *qh)
{
    struct dkim_keywait *w = qh;

    (void)service;
    if (w != NULL)
        w->used = false;
    return DKIM_DNS_SUCCESS;
}

static int hook_waitreply(void *service, void *qh, struct timeval *timeout, size_t *bytes, int *error,
                          int *dnssec)
{
    struct dkim_keywait *w = qh;
    struct dkim_keyq *q = &w->keys->q[w->q];
    const struct dns_answer *a;
    size_t n;

    /* libopendkim's own timeout is ignored: the message's deadline rules. */
    (void)service;
    (void)timeout;
    dns_batch_wait(w->keys->batch, keys_remaining_ms(w->keys));
    a = dns_batch_answer(w->keys->batch, q->index);
    if (error != NULL)
        *error = 0;
    if (a->status == DNS_TEMPFAIL || a->packet == NULL) {
        q->why = a->why != NULL ? a->why : "temporary DNS failure";
        return DKIM_DNS_ERROR;
    }
    if (a->packet_len > w->buflen) {
        /* Never cut short: a cut answer reads as corrupt, a temporary
           failure, and this one will be as large next time. */
        q->why = "answer larger than libopendkim takes";
        q->permanent = true;
        return DKIM_DNS_ERROR;
    }
    /* The memo keeps the answer as it came: the rewrite goes to libopendkim's buffer. */
    n = dkim_key_packet_fix(a->packet, a->packet_len, w->buf, w->buflen);
    if (n == 0) {
        memcpy(w->buf, a->packet, a->packet_len);
        n = a->packet_len;
    }
    if (bytes != NULL)
        *bytes = n;
    if (dnssec != NULL)
        *dnssec = a->secure ? DKIM_DNSSEC_SECURE : DKIM_DNSSEC_UNKNOWN;
    return DKIM_DNS_SUCCESS;
}

void dkim_keys_hook(DKIM_LIB *lib, struct dns_resolver *r)
{
    /* No resolver of libopendkim's own: without an init hook and with a
       service set it never calls res_*; without a close hook dkim_close()
       does not try to shut our resolver down. */
    dkim_dns_set_init(lib, NULL);
    dkim_dns_set_close(lib, NULL);
    dkim_dns_set_nslist(lib, NULL);
    dkim_dns_set_config(lib, NULL);
    dkim_dns_set_trustanchor(lib, NULL);
    (void)dkim_dns_set_query_service(lib, r);
    dkim_dns_set_query_start(lib, hook_start);
    dkim_dns_set_query_cancel(lib, hook_cancel);
    dkim_dns_set_query_waitreply(lib, hook_waitreply);
}
