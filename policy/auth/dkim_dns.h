/*
 * dkim_dns.h: libopendkim's key lookups served by the shared resolver
 * (internal to policy/dkim*.c).
 *
 * The keys of every signature of a message are asked at once, at the end
 * of the headers, in one batch (struct dkim_keys); libopendkim's DNS hooks
 * then take their answers from that batch at end of message, within one
 * deadline for the whole message.
 */
#ifndef MXG_POLICY_DKIM_DNS_H
#define MXG_POLICY_DKIM_DNS_H

#include <stdbool.h>

#include <opendkim/dkim.h>

#include "policy/dns/dns.h"

#define DKIM_KEYS_MAX 16      /* key names per message: the signature cap is at most 8 */
#define DKIM_KEYNAME_MAX 254  /* "selector._domainkey.domain", a DNS name */

struct dkim_keyq {
    char name[DKIM_KEYNAME_MAX + 1];
    int index;                /* in the batch */
    const char *why;          /* static: why the lookup gave no usable answer, or NULL */
    bool permanent;           /* ... and asking again will not help (an oversized answer) */
};

/* A handle libopendkim holds between query start and cancel. */
struct dkim_keywait {
    struct dkim_keys *keys;
    unsigned q;
    unsigned char *buf;
    size_t buflen;
    bool used;
};

struct dkim_keys {
    struct dns_resolver *r;
    struct dns_batch *batch;  /* NULL until the first question */
    long long asked_ms;       /* when the first question went out (monotime_ms) */
    int deadline_ms;
    unsigned n;
    struct dkim_keyq q[DKIM_KEYS_MAX];
    struct dkim_keywait wait[DKIM_KEYS_MAX];
};

/* Point libopendkim's DNS hooks at us (its own resolver is never used). */
void dkim_keys_hook(DKIM_LIB *lib, struct dns_resolver *r);

void dkim_keys_init(struct dkim_keys *k, struct dns_resolver *r, int deadline_ms);
void dkim_keys_free(struct dkim_keys *k);

/* "selector._domainkey.domain" into out; -1 unless both are DNS labels
   (letters, digits, '-', '_'; 1..63 each) and the name fits a DNS name. */
int dkim_keys_name(const char *selector, const char *domain, char *out, size_t outsz);

/* Ask for a key now (a prefetch); -1 when the message has too many. */
int dkim_keys_ask(struct dkim_keys *k, const char *name);

/* Why the lookup of name failed ("timeout", "SERVFAIL", ...), or NULL;
   *permanent tells whether asking again cannot help. */
const char *dkim_keys_why(const struct dkim_keys *k, const char *name, bool *permanent);

/* The message whose lookups the calling thread's libopendkim calls serve
   (NULL: none). libopendkim's hooks get no per-message argument. */
void dkim_keys_serve(struct dkim_keys *k);

#endif
