/*
 * store.c: the store's settings, opening a backend, and the checks every
 * call gets whatever the backend (key and value bounds).
 *
 * Must never turn a backend's error into "not found", and never let a key
 * or value past its bound reach a backend. Counts calls, errors and
 * outages (relaxed atomics: the daemon's metrics read them).
 */
#include "policy/state/store_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(f) offsetof(struct store_config, f), sizeof(((struct store_config *)0)->f)

const struct store_setting store_settings[] = {
    {"backend", STORE_SET_BACKEND, "lmdb", "lmdb (a file on this host) or redis (shared by gateways)",
     FIELD(backend), 0, 0},
    {"lmdb-path", STORE_SET_STRING, "/var/lib/mxguard/state.lmdb", "the LMDB state file", FIELD(path), 0, 0},
    {"lmdb-map-size", STORE_SET_SIZE, "256m", "the most the LMDB file may hold (k, m, g suffixes)",
     FIELD(map_size), 1 << 20, 0},
    {"lmdb-sync", STORE_SET_SYNC, "full",
     "full (each commit on disk, data and metadata) or data (one flush a commit: a machine crash may undo "
     "the last commits)",
     FIELD(sync_data_only), 0, 0},
    {"redis-host", STORE_SET_STRING, "127.0.0.1", "the Redis server's name or address", FIELD(host), 0, 0},
    {"redis-port", STORE_SET_INT, "6379", "the Redis server's TCP port", FIELD(port), 1, 65535},
    {"redis-socket", STORE_SET_STRING, NULL, "a unix socket to Redis, instead of host and port",
     FIELD(socket), 0, 0},
    {"redis-password", STORE_SET_STRING, NULL, "sent with AUTH after connecting", FIELD(password), 0, 0},
    {"redis-db", STORE_SET_INT, "0", "the Redis database number (SELECT)", FIELD(db), 0, 1 << 20},
    {"redis-prefix", STORE_SET_STRING, "mxg:", "put before every key, so setups can share a server",
     FIELD(prefix), 0, 0},
    {"redis-connect-timeout", STORE_SET_INT, "1000", "milliseconds to connect to Redis",
     FIELD(connect_timeout_ms), 1, 600000},
    {"redis-timeout", STORE_SET_INT, "500", "milliseconds one Redis command may take",
     FIELD(command_timeout_ms), 1, 600000},
    {"redis-retry-min", STORE_SET_INT, "1000", "milliseconds before the first reconnect after a failure",
     FIELD(retry_min_ms), 1, 3600000},
    {"redis-retry-max", STORE_SET_INT, "30000", "the reconnect wait doubles up to this many milliseconds",
     FIELD(retry_max_ms), 1, 3600000},
    {"redis-connections", STORE_SET_INT, "8", "Redis connections shared by the filter's threads",
     FIELD(pool_size), 1, 1024},
};
const size_t store_settings_count = sizeof store_settings / sizeof store_settings[0];

static int parse_long(const char *text, long min, long max, long *out, bool suffixes)
{
    char *end;
    long long v;
    long long mult = 1;

    errno = 0;
    v = strtoll(text, &end, 10);
    if (end == text || errno != 0 || v < 0)
        return -1;
    if (suffixes && *end != '\0' && end[1] == '\0') {
        switch (*end) {
        case 'k':
        case 'K':
            mult = 1LL << 10;
            break;
        case 'm':
        case 'M':
            mult = 1LL << 20;
            break;
        case 'g':
        case 'G':
            mult = 1LL << 30;
            break;
        default:
            return -1;
        }
        end++;
    }
    if (*end != '\0' || v > INT64_MAX / mult)
        return -1;
    v *= mult;
    if (v < min || (max > 0 && v > max))
        return -1;
    *out = (long)v;
    return 0;
}

static int setting_apply(struct store_config *cfg, const struct store_setting *st, const char *value,
                         const char **error_r)
{
    char *field = (char *)cfg + st->offset;
    long n;

    switch (st->type) {
    case STORE_SET_BACKEND:
        if (strcmp(value, "lmdb") == 0)
            cfg->backend = STORE_LMDB;
        else if (strcmp(value, "redis") == 0)
            cfg->backend = STORE_REDIS;
        else
            return *error_r = "store backend must be lmdb or redis", -1;
        return 0;
    case STORE_SET_STRING:
        if (strlen(value) >= st->size)
            return *error_r = "store setting too long", -1;
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case STORE_SET_INT:
        if (parse_long(value, st->min, st->max, &n, false) < 0)
            return *error_r = "store setting: number out of range", -1;
        *(int *)(void *)field = (int)n;
        return 0;
    case STORE_SET_SIZE:
        if (parse_long(value, st->min, st->max, &n, true) < 0)
            return *error_r = "store setting: size too small or malformed", -1;
        *(size_t *)(void *)field = (size_t)n;
        return 0;
    case STORE_SET_SYNC:
        if (strcmp(value, "full") != 0 && strcmp(value, "data") != 0)
            return *error_r = "lmdb-sync must be full or data", -1;
        *(bool *)(void *)field = strcmp(value, "data") == 0;
        return 0;
    }
    return *error_r = "store setting of unknown type", -1;
}

int store_config_set(struct store_config *cfg, const char *name, const char *value, const char **error_r)
{
    for (size_t i = 0; i < store_settings_count; i++)
        if (strcmp(store_settings[i].name, name) == 0)
            return setting_apply(cfg, &store_settings[i], value, error_r);
    *error_r = "no such store setting";
    return -1;
}

int store_config_set_pair(struct store_config *cfg, const char *pair, const char **error_r)
{
    const char *eq = strchr(pair, '=');
    char name[64];

    if (eq == NULL || (size_t)(eq - pair) >= sizeof name) {
        *error_r = "expected NAME=VALUE";
        return -1;
    }
    memcpy(name, pair, (size_t)(eq - pair));
    name[eq - pair] = '\0';
    return store_config_set(cfg, name, eq + 1, error_r);
}

void store_config_init(struct store_config *cfg)
{
    const char *error;

    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < store_settings_count; i++) {
        const struct store_setting *st = &store_settings[i];
        /* The defaults are ours: a failure here is a bug the unit test catches. */
        if (st->default_text != NULL && setting_apply(cfg, st, st->default_text, &error) < 0)
            abort();
    }
}

struct store *store_open(const struct store_config *cfg, const char **error_r)
{
    if (cfg->backend == STORE_REDIS)
        return store_redis_open(cfg, error_r);
    return store_lmdb_open(cfg, error_r);
}

void store_close(struct store *s)
{
    if (s != NULL)
        s->ops->close(s);
}

const char *store_backend_name(const struct store *s)
{
    return s->ops->name;
}

/* Counts a call the caller refused before the backend saw it: an error, not an outage. */
static bool key_ok(struct store *s, size_t klen, const char **why_r)
{
    if (klen > 0 && klen <= STORE_KEY_MAX)
        return true;
    atomic_fetch_add_explicit(&s->calls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
    if (why_r != NULL)
        *why_r = "store key empty or too long";
    return false;
}

/* Count what the backend answered; an error after an answer starts an outage. */
static enum store_result counted(struct store *s, enum store_result r)
{
    atomic_fetch_add_explicit(&s->calls, 1, memory_order_relaxed);
    if (r != STORE_ERROR) {
        if (atomic_load_explicit(&s->down, memory_order_relaxed))
            atomic_store_explicit(&s->down, false, memory_order_relaxed);
        return r;
    }
    atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
    if (!atomic_exchange_explicit(&s->down, true, memory_order_relaxed))
        atomic_fetch_add_explicit(&s->outages, 1, memory_order_relaxed);
    return r;
}

void store_stats(struct store *s, struct store_stats *out)
{
    out->calls = atomic_load_explicit(&s->calls, memory_order_relaxed);
    out->errors = atomic_load_explicit(&s->errors, memory_order_relaxed);
    out->outages = atomic_load_explicit(&s->outages, memory_order_relaxed);
    out->up = !atomic_load_explicit(&s->down, memory_order_relaxed);
}

/* The backends always get somewhere to say why (the caller's or a scratch
   one): store.h lets a caller pass NULL, and the Redis backend writes it. */
enum store_result store_get(struct store *s, const void *key, size_t klen, void *val, size_t valsz,
                            size_t *vlen_r, time_t now, const char **why_r)
{
    if (!key_ok(s, klen, why_r))
        return STORE_ERROR;
    return counted(s, s->ops->get(s, key, klen, val, valsz, vlen_r, now, why_r ? why_r : &(const char *){ NULL }));
}

enum store_result store_set(struct store *s, const void *key, size_t klen, const void *val, size_t vlen,
                            time_t expires, time_t now, const char **why_r)
{
    if (!key_ok(s, klen, why_r))
        return STORE_ERROR;
    if (vlen > STORE_VALUE_MAX) {
        atomic_fetch_add_explicit(&s->calls, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
        if (why_r != NULL)
            *why_r = "store value too long";
        return STORE_ERROR;
    }
    return counted(s, s->ops->set(s, key, klen, val, vlen, expires, now, why_r ? why_r : &(const char *){ NULL }));
}

enum store_result store_incr(struct store *s, const void *key, size_t klen, int64_t by, time_t expires,
                             time_t now, int64_t *value_r, const char **why_r)
{
    if (!key_ok(s, klen, why_r))
        return STORE_ERROR;
    return counted(s, s->ops->incr(s, key, klen, by, expires, now, value_r, why_r ? why_r : &(const char *){ NULL }));
}

enum store_result store_del(struct store *s, const void *key, size_t klen, time_t now, const char **why_r)
{
    if (!key_ok(s, klen, why_r))
        return STORE_ERROR;
    return counted(s, s->ops->del(s, key, klen, now, why_r ? why_r : &(const char *){ NULL }));
}

enum store_result store_expire(struct store *s, time_t now, unsigned batch, unsigned *removed_r,
                               const char **why_r)
{
    *removed_r = 0;
    return counted(s, s->ops->expire(s, now, batch > 0 ? batch : 1, removed_r, why_r));
}

int store_parse_counter(const void *val, size_t vlen, int64_t *out)
{
    char buf[24];
    char *end;

    if (vlen == 0 || vlen >= sizeof buf)
        return -1;
    memcpy(buf, val, vlen);
    buf[vlen] = '\0';
    errno = 0;
    *out = strtoll(buf, &end, 10);
    return (*end != '\0' || errno != 0) ? -1 : 0;
}

/* Two independent 64-bit hashes: a key from an over-long fact stays distinct. */
static void hash128(const char *p, size_t n, uint64_t h[2])
{
    uint64_t a = 0xcbf29ce484222325ull, b = 0x9e3779b97f4a7c15ull ^ n;

    for (size_t i = 0; i < n; i++) {
        a = (a ^ (unsigned char)p[i]) * 0x100000001b3ull;
        b = (b ^ (unsigned char)p[i]) * 0xff51afd7ed558ccdull;
        b ^= b >> 29;
    }
    h[0] = a;
    h[1] = b;
}

size_t store_key(char out[STORE_KEY_MAX + 1], const char *kind, const char *text, size_t tlen)
{
    size_t klen = strlen(kind);
    uint64_t h[2];

    if (klen + 1 + tlen <= STORE_KEY_MAX) {
        memcpy(out, kind, klen);
        out[klen] = ':';
        memcpy(out + klen + 1, text, tlen);
        out[klen + 1 + tlen] = '\0';
        return klen + 1 + tlen;
    }
    hash128(text, tlen, h);
    return (size_t)snprintf(out, STORE_KEY_MAX + 1, "%.64s:#%016" PRIx64 "%016" PRIx64, kind, h[0], h[1]);
}
