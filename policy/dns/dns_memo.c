/*
 * dns_memo.c: process-wide answers, kept until their TTL runs out.
 *
 * One lock over a table of buckets: a hit is a hash, a comparison and a
 * copy, far shorter than the thread hand-offs it saves, so the lock is
 * held briefly even with every session thread asking. Copies are made
 * outside the lock where they can be (an answer going in), inside where
 * they cannot (an answer going out: the entry may be evicted the moment
 * the lock is let go).
 */
#include "policy/dns/dns_memo.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MEMO_BUCKETS 4096 /* a power of two */
#define MEMO_NAME_MAX 255

struct memo_entry {
    struct memo_entry *next;
    time_t expires;
    size_t bytes;
    int rrtype;
    bool raw;
    struct dns_answer a; /* owns its text and packet */
    char name[];         /* lower case, no trailing dot */
};

struct dns_memo {
    pthread_mutex_t lock;
    unsigned max_entries, entries;
    size_t max_bytes, bytes;
    unsigned cursor; /* the next bucket to empty when full */
    struct memo_entry *bucket[MEMO_BUCKETS];
};

struct dns_memo *dns_memo_new(unsigned max_entries, size_t max_bytes)
{
    struct dns_memo *m = calloc(1, sizeof *m);

    if (m == NULL)
        return NULL;
    m->max_entries = max_entries;
    m->max_bytes = max_bytes;
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

static void entry_free(struct memo_entry *e)
{
    dns_answer_clear(&e->a);
    free(e);
}

void dns_memo_free(struct dns_memo *m)
{
    if (m == NULL)
        return;
    for (unsigned b = 0; b < MEMO_BUCKETS; b++) {
        struct memo_entry *e = m->bucket[b], *next;
        for (; e != NULL; e = next) {
            next = e->next;
            entry_free(e);
        }
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* name in lower case without its trailing dot, into key: its length, or -1. */
static int make_key(const char *name, char key[MEMO_NAME_MAX + 1])
{
    size_t n = strlen(name);

    if (n > 0 && name[n - 1] == '.')
        n--;
    if (n == 0 || n > MEMO_NAME_MAX)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        key[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    key[n] = '\0';
    return (int)n;
}

static unsigned hash_key(const char *key, int rrtype, bool raw)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (; *key != '\0'; key++)
        h = (h ^ (unsigned char)*key) * 16777619u;
    h = (h ^ (uint32_t)rrtype) * 16777619u;
    h = (h ^ (raw ? 1u : 0u)) * 16777619u;
    return h & (MEMO_BUCKETS - 1);
}

/* A deep copy of src into dst: 0, or -1 (out of memory; dst holds nothing). */
static int answer_copy(struct dns_answer *dst, const struct dns_answer *src)
{
    *dst = *src;
    memset(dst->text, 0, sizeof dst->text);
    dst->n = 0;
    dst->packet = NULL;
    dst->packet_len = 0;
    for (unsigned i = 0; i < src->n && i < DNS_RR_MAX; i++) {
        dst->n = i + 1;
        if (src->text[i] != NULL && (dst->text[i] = strdup(src->text[i])) == NULL)
            goto fail;
    }
    if (src->packet != NULL) {
        if ((dst->packet = malloc(src->packet_len)) == NULL)
            goto fail;
        memcpy(dst->packet, src->packet, src->packet_len);
        dst->packet_len = src->packet_len;
    }
    return 0;
fail:
    dns_answer_clear(dst);
    return -1;
}

static size_t answer_bytes(const struct dns_answer *a)
{
    size_t n = a->packet_len;

    for (unsigned i = 0; i < a->n && i < DNS_RR_MAX; i++)
        if (a->text[i] != NULL)
            n += strlen(a->text[i]) + 1;
    return n;
}

/* Unlink and free the entry *link points to. Lock held. */
static void unlink_entry(struct dns_memo *m, struct memo_entry **link)
{
    struct memo_entry *e = *link;

    *link = e->next;
    m->entries--;
    m->bytes -= e->bytes;
    entry_free(e);
}

/* The link to the entry for the key, or to the chain's end. Lock held. */
static struct memo_entry **find(struct dns_memo *m, unsigned b, const char *key, int rrtype, bool raw)
{
    struct memo_entry **link = &m->bucket[b];

    for (; *link != NULL; link = &(*link)->next) {
        struct memo_entry *e = *link;
        if (e->rrtype == rrtype && e->raw == raw && strcmp(e->name, key) == 0)
            break;
    }
    return link;
}

bool dns_memo_get(struct dns_memo *m, const char *name, int rrtype, bool raw, time_t now,
                  struct dns_answer *out)
{
    char key[MEMO_NAME_MAX + 1];
    bool hit = false;

    if (m == NULL || make_key(name, key) < 0)
        return false;
    unsigned b = hash_key(key, rrtype, raw);
    pthread_mutex_lock(&m->lock);
    struct memo_entry **link = find(m, b, key, rrtype, raw);
    if (*link != NULL && (*link)->expires <= now)
        unlink_entry(m, link);
    else if (*link != NULL)
        hit = answer_copy(out, &(*link)->a) == 0;
    pthread_mutex_unlock(&m->lock);
    return hit;
}

/* Room for one more entry of bytes: whole buckets are emptied, in turn. Lock held. */
static void make_room(struct dns_memo *m, size_t bytes)
{
    for (unsigned k = 0; k < MEMO_BUCKETS && m->entries > 0 &&
                         (m->entries + 1 > m->max_entries || m->bytes + bytes > m->max_bytes);
         k++) {
        unsigned b = m->cursor++ & (MEMO_BUCKETS - 1);
        while (m->bucket[b] != NULL)
            unlink_entry(m, &m->bucket[b]);
    }
}

void dns_memo_put(struct dns_memo *m, const char *name, int rrtype, bool raw, const struct dns_answer *a,
                  unsigned ttl, time_t now)
{
    char key[MEMO_NAME_MAX + 1];
    int klen;

    if (m == NULL || ttl == 0 || (a->status != DNS_FOUND && a->status != DNS_NOTFOUND) ||
        a->packet_len > DNS_MEMO_PACKET_MAX || (raw && a->packet == NULL) ||
        (klen = make_key(name, key)) < 0)
        return;
    struct memo_entry *e = malloc(sizeof *e + (size_t)klen + 1);
    if (e == NULL)
        return;
    if (answer_copy(&e->a, a) < 0) {
        free(e);
        return;
    }
    memcpy(e->name, key, (size_t)klen + 1);
    e->rrtype = rrtype;
    e->raw = raw;
    e->expires = now + (time_t)(ttl < DNS_MEMO_TTL_MAX ? ttl : DNS_MEMO_TTL_MAX);
    e->bytes = sizeof *e + (size_t)klen + 1 + answer_bytes(a);
    if (e->bytes > m->max_bytes || m->max_entries == 0) {
        entry_free(e);
        return;
    }
    unsigned b = hash_key(key, rrtype, raw);
    pthread_mutex_lock(&m->lock);
    struct memo_entry **link = find(m, b, key, rrtype, raw);
    if (*link != NULL)
        unlink_entry(m, link); /* a newer answer for the same question */
    make_room(m, e->bytes);
    e->next = m->bucket[b];
    m->bucket[b] = e;
    m->entries++;
    m->bytes += e->bytes;
    pthread_mutex_unlock(&m->lock);
}

void dns_memo_usage(struct dns_memo *m, unsigned *entries, size_t *bytes)
{
    pthread_mutex_lock(&m->lock);
    *entries = m->entries;
    *bytes = m->bytes;
    pthread_mutex_unlock(&m->lock);
}
