/*
 * store_memory.c: a store that lives in the process and dies with it: the
 * scratch store of a rule file's own tests, so that greylisting and rate
 * limits can be tried without touching the daemon's store.
 *
 * Small and linear on purpose (a test holds a handful of entries); a
 * mutex makes it safe to share. Must never be offered as a --store
 * backend: its state would vanish at every restart.
 */
#include "policy/state/store_impl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMORY_ENTRIES_MAX 4096 /* a test that needs more is not a test */

struct entry {
    char key[STORE_KEY_MAX];
    size_t klen;
    char val[STORE_VALUE_MAX];
    size_t vlen;
    time_t expires;   /* 0: never */
    bool used;
};

struct store_memory {
    struct store base;
    pthread_mutex_t lock;
    struct entry *e;
    size_t n;         /* slots in use or freed, from the start */
};

static struct store_memory *mem_of(struct store *s)
{
    return (struct store_memory *)s;
}

static bool live(const struct entry *e, time_t now)
{
    return e->used && (e->expires == 0 || e->expires > now);
}

static struct entry *find(struct store_memory *m, const void *key, size_t klen, time_t now)
{
    for (size_t i = 0; i < m->n; i++)
        if (live(&m->e[i], now) && m->e[i].klen == klen && memcmp(m->e[i].key, key, klen) == 0)
            return &m->e[i];
    return NULL;
}

/* The entry for key, made when absent (a dead one is reused). NULL when full. */
static struct entry *slot(struct store_memory *m, const void *key, size_t klen, time_t now)
{
    struct entry *e = find(m, key, klen, now);

    if (e != NULL)
        return e;
    for (size_t i = 0; e == NULL && i < m->n; i++)
        if (!live(&m->e[i], now))
            e = &m->e[i];
    if (e == NULL && m->n < MEMORY_ENTRIES_MAX)
        e = &m->e[m->n++];
    if (e != NULL) {
        memset(e, 0, sizeof *e);
        memcpy(e->key, key, klen);
        e->klen = klen;
        e->used = true;
    }
    return e;
}

static enum store_result full(const char **why_r)
{
    if (why_r != NULL)
        *why_r = "the test store is full";
    return STORE_ERROR;
}

static enum store_result mem_get(struct store *s, const void *key, size_t klen, void *val, size_t valsz,
                                 size_t *vlen_r, time_t now, const char **why_r)
{
    struct store_memory *m = mem_of(s);
    enum store_result r = STORE_NOTFOUND;
    struct entry *e;

    pthread_mutex_lock(&m->lock);
    if ((e = find(m, key, klen, now)) != NULL && e->vlen > valsz) {
        if (why_r != NULL)
            *why_r = "stored value larger than the buffer";
        r = STORE_ERROR; /* never a truncated value */
    } else if (e != NULL) {
        *vlen_r = e->vlen;
        memcpy(val, e->val, e->vlen);
        r = STORE_FOUND;
    }
    pthread_mutex_unlock(&m->lock);
    return r;
}

static enum store_result mem_set(struct store *s, const void *key, size_t klen, const void *val, size_t vlen,
                                 time_t expires, time_t now, const char **why_r)
{
    struct store_memory *m = mem_of(s);
    struct entry *e;

    pthread_mutex_lock(&m->lock);
    if ((e = slot(m, key, klen, now)) != NULL) {
        memcpy(e->val, val, vlen);
        e->vlen = vlen;
        e->expires = expires;
    }
    pthread_mutex_unlock(&m->lock);
    return e != NULL ? STORE_FOUND : full(why_r);
}

static enum store_result mem_incr(struct store *s, const void *key, size_t klen, int64_t by, time_t expires,
                                  time_t now, int64_t *value_r, const char **why_r)
{
    struct store_memory *m = mem_of(s);
    enum store_result r = STORE_FOUND;
    struct entry *e;
    int64_t n = 0;

    pthread_mutex_lock(&m->lock);
    if ((e = slot(m, key, klen, now)) == NULL) {
        r = full(why_r);
    } else if (e->vlen > 0 && store_parse_counter(e->val, e->vlen, &n) < 0) {
        if (why_r != NULL)
            *why_r = "stored value is not a counter";
        r = STORE_ERROR;
    } else {
        n += by;
        e->vlen = (size_t)snprintf(e->val, sizeof e->val, "%lld", (long long)n);
        e->expires = expires;
        *value_r = n;
    }
    pthread_mutex_unlock(&m->lock);
    return r;
}

static enum store_result mem_del(struct store *s, const void *key, size_t klen, time_t now, const char **why_r)
{
    struct store_memory *m = mem_of(s);
    struct entry *e;

    bool found = false;

    (void)why_r;
    pthread_mutex_lock(&m->lock);
    /* An expired entry goes too, and counts as not found. */
    for (size_t i = 0; i < m->n; i++) {
        e = &m->e[i];
        if (e->used && e->klen == klen && memcmp(e->key, key, klen) == 0) {
            found = live(e, now);
            e->used = false;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return found ? STORE_FOUND : STORE_NOTFOUND;
}

static enum store_result mem_expire(struct store *s, time_t now, unsigned batch, unsigned *removed_r,
                                    const char **why_r)
{
    struct store_memory *m = mem_of(s);

    (void)why_r;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n && *removed_r < batch; i++)
        if (m->e[i].used && !live(&m->e[i], now)) {
            m->e[i].used = false;
            (*removed_r)++;
        }
    pthread_mutex_unlock(&m->lock);
    return STORE_FOUND;
}

static void mem_close(struct store *s)
{
    struct store_memory *m = mem_of(s);

    pthread_mutex_destroy(&m->lock);
    free(m->e);
    free(m);
}

static const struct store_ops memory_ops = {
    "memory", mem_get, mem_set, mem_incr, mem_del, mem_expire, mem_close,
};

struct store *store_memory_open(void)
{
    struct store_memory *m = calloc(1, sizeof *m);

    if (m == NULL || (m->e = calloc(MEMORY_ENTRIES_MAX, sizeof *m->e)) == NULL) {
        free(m);
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    m->base.ops = &memory_ops;
    return &m->base;
}
