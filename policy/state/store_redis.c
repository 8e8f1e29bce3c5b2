/*
 * store_redis.c: the store on a Redis server shared by several gateways.
 *
 * A small pool of connections, each used by one thread at a time and
 * given back at the end of the call. Every connect and every command has
 * a timeout. When Redis fails (refused, reset, timed out), the store is
 * "down": calls fail at once without touching the network, and one call
 * per backoff interval (doubling from retry-min to retry-max) tries to
 * connect again; the outage is logged when it starts and when it ends,
 * never once per call. Connections from before an outage are dropped
 * rather than tried. Counters are incremented and given their expiry in
 * one MULTI/EXEC round trip.
 *
 * Must never wait without a bound, and never report a failed call as
 * "not found".
 */
#include "policy/state/store_impl.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/monotime.h"

struct redis_conn {
    redisContext *c;
    unsigned gen; /* the outage count when it connected */
    bool busy;
};

struct store_redis {
    struct store base;
    struct store_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    struct redis_conn *pool;
    bool down;
    unsigned gen;          /* outages so far */
    long long next_try_ms; /* down: no attempt before this (monotonic) */
    int backoff_ms;
    unsigned long failed; /* calls failed in this outage */
    char where[300];      /* host:port or the socket, for the log */
};

static struct store_redis *redis_of(struct store *s)
{
    return (struct store_redis *)s;
}

static struct timeval tv_of(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

static enum store_result fail(const char *why, const char **why_r)
{
    if (why_r != NULL)
        *why_r = why;
    return STORE_ERROR;
}

static void say(struct store_redis *r, enum store_log_level level, const char *msg)
{
    if (r->cfg.log != NULL)
        r->cfg.log(r->cfg.log_ctx, level, msg);
}

/*
 * A connection or command failed. The first failure starts an outage
 * (logged); a failed attempt to end one (probe) doubles the wait.
 */
static void note_failure(struct store_redis *r, bool probe, const char *why)
{
    char msg[512] = "";

    pthread_mutex_lock(&r->lock);
    if (!r->down) {
        r->down = true;
        r->gen++;
        r->failed = 1;
        r->backoff_ms = r->cfg.retry_min_ms;
        snprintf(msg, sizeof msg, "store: redis at %s unreachable (%s): its checks fail until it answers",
                 r->where, why);
    } else if (probe) {
        r->backoff_ms = r->backoff_ms > r->cfg.retry_max_ms / 2 ? r->cfg.retry_max_ms : r->backoff_ms * 2;
    }
    r->next_try_ms = monotime_ms() + r->backoff_ms;
    pthread_mutex_unlock(&r->lock);
    if (msg[0] != '\0')
        say(r, STORE_LOG_WARNING, msg);
}

static void note_success(struct store_redis *r)
{
    char msg[512] = "";

    pthread_mutex_lock(&r->lock);
    if (r->down) {
        r->down = false;
        snprintf(msg, sizeof msg, "store: redis at %s answers again (%lu calls failed meanwhile)", r->where,
                 r->failed);
    }
    pthread_mutex_unlock(&r->lock);
    if (msg[0] != '\0')
        say(r, STORE_LOG_INFO, msg);
}

static redisContext *dial(const struct store_config *cfg)
{
    struct timeval tv = tv_of(cfg->connect_timeout_ms);

    if (cfg->socket[0] != '\0')
        return redisConnectUnixWithTimeout(cfg->socket, tv);
    return redisConnectWithTimeout(cfg->host, cfg->port, tv);
}

/* One command whose reply must be the status OK (AUTH, SELECT). */
static int setup_command(redisContext *c, const char **why_r, const char *fmt, ...)
{
    va_list ap;
    redisReply *reply;
    int ok;

    va_start(ap, fmt);
    reply = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (reply == NULL) {
        *why_r = "connection lost during set-up";
        return -1;
    }
    ok = reply->type == REDIS_REPLY_STATUS;
    if (!ok)
        *why_r = "AUTH or SELECT refused";
    freeReplyObject(reply);
    return ok ? 0 : -1;
}

static redisContext *connect_redis(struct store_redis *r, const char **why_r)
{
    redisContext *c = dial(&r->cfg);

    if (c == NULL) {
        *why_r = "out of memory";
        return NULL;
    }
    if (c->err != 0) {
        *why_r = c->err == REDIS_ERR_IO ? "cannot connect" : "connect failed";
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, tv_of(r->cfg.command_timeout_ms)) != REDIS_OK ||
        (r->cfg.socket[0] == '\0' && redisEnableKeepAlive(c) != REDIS_OK)) {
        *why_r = "cannot set socket options";
        redisFree(c);
        return NULL;
    }
    if ((r->cfg.password[0] != '\0' && setup_command(c, why_r, "AUTH %s", r->cfg.password) < 0) ||
        (r->cfg.db != 0 && setup_command(c, why_r, "SELECT %d", r->cfg.db) < 0)) {
        redisFree(c);
        return NULL;
    }
    return c;
}

/* Wait for a free slot, at most a command timeout. -1 when none came. */
static int take_slot(struct store_redis *r)
{
    struct timespec until;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += r->cfg.command_timeout_ms / 1000;
    until.tv_nsec += (r->cfg.command_timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    for (;;) {
        for (int i = 0; i < r->cfg.pool_size; i++)
            if (!r->pool[i].busy) {
                r->pool[i].busy = true;
                return i;
            }
        if (pthread_cond_timedwait(&r->freed, &r->lock, &until) != 0)
            return -1;
    }
}

/*
 * A connection for one call: fails at once while Redis is down, except
 * for the one call per backoff interval that tries again (*probe_r).
 */
static struct redis_conn *acquire(struct store_redis *r, bool *probe_r, const char **why_r)
{
    struct redis_conn *rc;
    const char *why = NULL;
    unsigned gen;
    int i;

    *probe_r = false;
    pthread_mutex_lock(&r->lock);
    if (r->down) {
        long long now = monotime_ms();
        if (now < r->next_try_ms) {
            r->failed++;
            pthread_mutex_unlock(&r->lock);
            *why_r = "redis unreachable";
            return NULL;
        }
        r->next_try_ms = now + r->backoff_ms; /* the others keep failing fast meanwhile */
        *probe_r = true;
    }
    i = take_slot(r);
    gen = r->gen;
    pthread_mutex_unlock(&r->lock);
    if (i < 0) {
        *why_r = "every redis connection busy";
        return NULL;
    }
    rc = &r->pool[i];
    if (rc->c != NULL && rc->gen != gen) {
        redisFree(rc->c);
        rc->c = NULL;
    }
    if (rc->c == NULL) {
        rc->gen = gen;
        rc->c = connect_redis(r, &why);
    }
    if (rc->c == NULL) {
        note_failure(r, *probe_r, why);
        pthread_mutex_lock(&r->lock);
        rc->busy = false;
        pthread_cond_signal(&r->freed);
        pthread_mutex_unlock(&r->lock);
        *why_r = why;
        return NULL;
    }
    return rc;
}

/* Give the connection back; one that failed is closed and starts (or prolongs) an outage. */
static void release(struct store_redis *r, struct redis_conn *rc, bool probe)
{
    bool broken = rc->c->err != 0;

    if (broken) {
        note_failure(r, probe, rc->c->err == REDIS_ERR_IO ? "timeout or I/O error" : "connection lost");
        redisFree(rc->c);
        rc->c = NULL;
    } else {
        note_success(r);
    }
    pthread_mutex_lock(&r->lock);
    rc->busy = false;
    pthread_cond_signal(&r->freed);
    pthread_mutex_unlock(&r->lock);
}

/* The prefixed key; the bounds of both parts keep it within buf. */
static size_t full_key(const struct store_redis *r, const void *key, size_t klen,
                       char buf[STORE_PREFIX_MAX + STORE_KEY_MAX])
{
    size_t plen = strlen(r->cfg.prefix);

    memcpy(buf, r->cfg.prefix, plen);
    memcpy(buf + plen, key, klen);
    return plen + klen;
}

static long long ttl_of(time_t expires, time_t now)
{
    return expires > now ? (long long)(expires - now) : 1;
}

static enum store_result refused(redisReply *reply, const char **why_r)
{
    return fail(reply->type == REDIS_REPLY_ERROR ? "redis refused the command" : "unexpected redis reply",
                why_r);
}

/* What a reply means for the call; ctx is the call's own. */
typedef enum store_result reply_fn(redisReply *reply, void *ctx, const char **why_r);

/* One command (hiredis format: %b is bytes and length) on a pooled connection. */
static enum store_result run(struct store *s, reply_fn *interpret, void *ctx, const char **why_r,
                             const char *fmt, ...)
{
    struct store_redis *r = redis_of(s);
    bool probe;
    struct redis_conn *rc = acquire(r, &probe, why_r);
    redisReply *reply;
    enum store_result res;
    va_list ap;

    if (rc == NULL)
        return STORE_ERROR;
    va_start(ap, fmt);
    reply = redisvCommand(rc->c, fmt, ap);
    va_end(ap);
    res = reply == NULL ? fail("redis did not answer", why_r) : interpret(reply, ctx, why_r);
    if (reply != NULL)
        freeReplyObject(reply);
    release(r, rc, probe);
    return res;
}

struct get_ctx {
    void *val;
    size_t valsz, *vlen_r;
};

static enum store_result got(redisReply *reply, void *ctx, const char **why_r)
{
    struct get_ctx *g = ctx;

    if (reply->type == REDIS_REPLY_NIL)
        return STORE_NOTFOUND;
    if (reply->type != REDIS_REPLY_STRING || (size_t)reply->len > g->valsz)
        return refused(reply, why_r);
    memcpy(g->val, reply->str, (size_t)reply->len);
    *g->vlen_r = (size_t)reply->len;
    return STORE_FOUND;
}

static enum store_result redis_get(struct store *s, const void *key, size_t klen, void *val, size_t valsz,
                                   size_t *vlen_r, time_t now, const char **why_r)
{
    char k[STORE_PREFIX_MAX + STORE_KEY_MAX];
    struct get_ctx g = {val, valsz, vlen_r};

    return run(s, got, &g, why_r, "GET %b", k, full_key(redis_of(s), key, klen, k));
}

static enum store_result stored(redisReply *reply, void *ctx, const char **why_r)
{
    return reply->type == REDIS_REPLY_STATUS ? STORE_FOUND : refused(reply, why_r);
}

static enum store_result redis_set(struct store *s, const void *key, size_t klen, const void *val,
                                   size_t vlen, time_t expires, time_t now, const char **why_r)
{
    char k[STORE_PREFIX_MAX + STORE_KEY_MAX];

    return run(s, stored, NULL, why_r, "SET %b %b EX %lld", k, full_key(redis_of(s), key, klen, k), val, vlen,
               ttl_of(expires, now));
}

/* MULTI, INCRBY, EXPIRE, EXEC sent at once; the EXEC reply holds the new value. */
static enum store_result incr_exchange(redisContext *c, const char *k, size_t klen, int64_t by, long long ttl,
                                       int64_t *value_r, const char **why_r)
{
    redisReply *reply = NULL;
    enum store_result res = STORE_ERROR;

    if (redisAppendCommand(c, "MULTI") != REDIS_OK ||
        redisAppendCommand(c, "INCRBY %b %lld", k, klen, (long long)by) != REDIS_OK ||
        redisAppendCommand(c, "EXPIRE %b %lld", k, klen, ttl) != REDIS_OK ||
        redisAppendCommand(c, "EXEC") != REDIS_OK)
        return fail("out of memory", why_r);
    for (int i = 0; i < 4; i++) {
        if (reply != NULL)
            freeReplyObject(reply);
        reply = NULL;
        if (redisGetReply(c, (void **)&reply) != REDIS_OK)
            return fail("redis did not answer", why_r);
    }
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[0]->type == REDIS_REPLY_INTEGER) {
        *value_r = reply->element[0]->integer;
        res = STORE_FOUND;
    } else {
        res = fail("redis refused the increment", why_r);
    }
    freeReplyObject(reply);
    return res;
}

static enum store_result redis_incr(struct store *s, const void *key, size_t klen, int64_t by, time_t expires,
                                    time_t now, int64_t *value_r, const char **why_r)
{
    struct store_redis *r = redis_of(s);
    char k[STORE_PREFIX_MAX + STORE_KEY_MAX];
    bool probe;
    struct redis_conn *rc = acquire(r, &probe, why_r);
    enum store_result res;

    if (rc == NULL)
        return STORE_ERROR;
    res = incr_exchange(rc->c, k, full_key(r, key, klen, k), by, ttl_of(expires, now), value_r, why_r);
    release(r, rc, probe);
    return res;
}

static enum store_result deleted(redisReply *reply, void *ctx, const char **why_r)
{
    if (reply->type != REDIS_REPLY_INTEGER)
        return refused(reply, why_r);
    return reply->integer > 0 ? STORE_FOUND : STORE_NOTFOUND;
}

static enum store_result redis_del(struct store *s, const void *key, size_t klen, time_t now,
                                   const char **why_r)
{
    char k[STORE_PREFIX_MAX + STORE_KEY_MAX];

    return run(s, deleted, NULL, why_r, "DEL %b", k, full_key(redis_of(s), key, klen, k));
}

/* Redis expires keys by itself. */
static enum store_result redis_expire(struct store *s, time_t now, unsigned batch, unsigned *removed_r,
                                      const char **why_r)
{
    *removed_r = 0;
    return STORE_NOTFOUND;
}

static void redis_close(struct store *s)
{
    struct store_redis *r = redis_of(s);

    for (int i = 0; i < r->cfg.pool_size; i++)
        if (r->pool[i].c != NULL)
            redisFree(r->pool[i].c);
    free(r->pool);
    pthread_cond_destroy(&r->freed);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static const struct store_ops redis_ops = {
    "redis", redis_get, redis_set, redis_incr, redis_del, redis_expire, redis_close,
};

static int sync_init(struct store_redis *r)
{
    pthread_condattr_t attr;
    int rc;

    if (pthread_mutex_init(&r->lock, NULL) != 0)
        return -1;
    if (pthread_condattr_init(&attr) != 0)
        goto fail_mutex;
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&r->freed, &attr);
    pthread_condattr_destroy(&attr);
    if (rc == 0)
        return 0;
fail_mutex:
    pthread_mutex_destroy(&r->lock);
    return -1;
}

struct store *store_redis_open(const struct store_config *cfg, const char **error_r)
{
    struct store_redis *r;

    if (cfg->pool_size < 1 || strlen(cfg->prefix) >= STORE_PREFIX_MAX) {
        *error_r = "bad redis settings";
        return NULL;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        *error_r = "out of memory";
        return NULL;
    }
    r->base.ops = &redis_ops;
    r->cfg = *cfg;
    r->pool = calloc((size_t)cfg->pool_size, sizeof *r->pool);
    if (r->pool == NULL || sync_init(r) < 0) {
        free(r->pool);
        free(r);
        *error_r = "out of memory";
        return NULL;
    }
    if (cfg->socket[0] != '\0')
        snprintf(r->where, sizeof r->where, "unix:%s", cfg->socket);
    else
        snprintf(r->where, sizeof r->where, "%s:%d", cfg->host, cfg->port);
    return &r->base;
}
