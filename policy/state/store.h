/*
 * store.h: state that outlives a connection (greylisting, rate limits).
 *
 * One small interface, one file per backend (store_lmdb.c, the default,
 * and store_redis.c), three outcomes per call: found, not found, or
 * error. A store that does not answer is an error, never "not found":
 * the rule that asked decides what an error means (skip or tempfail).
 *
 * Keys are byte strings of at most STORE_KEY_MAX bytes, values at most
 * STORE_VALUE_MAX. Time is always passed in (`now`, seconds), so tests
 * move a clock instead of sleeping. `expires` is an absolute time on that
 * clock: the LMDB backend keeps it in the entry and reads an entry past it
 * as not found; Redis gets it as a TTL (expires - now) and counts it down
 * on its own clock. Callers that need exact times (greylisting) keep them
 * in the value and let expiry only bound how long the store keeps it.
 *
 * A store is made once per filter process (after any fork) and shared by
 * all its threads; every call is self-contained (no transaction or
 * connection is held between two calls), so a session may move between
 * threads freely.
 */
#ifndef MXG_POLICY_STORE_H
#define MXG_POLICY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define STORE_KEY_MAX 480 /* below LMDB's 511-byte key limit; Redis adds its prefix */
#define STORE_VALUE_MAX 256
#define STORE_PREFIX_MAX 64
#define STORE_PATH_MAX 4096

enum store_result { STORE_FOUND, STORE_NOTFOUND, STORE_ERROR };
enum store_backend { STORE_LMDB, STORE_REDIS };
enum store_log_level { STORE_LOG_INFO, STORE_LOG_WARNING };

/* Where the store reports outages (once each) and recoveries; policy/ knows no logger. */
typedef void store_log_fn(void *ctx, enum store_log_level level, const char *message);

/*
 * Every setting, each described once in store_settings[] (store.c), which
 * store_config_set() parses and the daemon's options can be generated from.
 */
struct store_config {
    enum store_backend backend;
    /* LMDB */
    char path[STORE_PATH_MAX]; /* the state file (its lock file is PATH-lock) */
    size_t map_size;           /* bytes: the file never grows past this */
    bool sync_data_only;       /* lmdb-sync=data: MDB_NOMETASYNC, one flush a commit */
    /* Redis */
    char host[256]; /* name or address; unused when socket is set */
    int port;
    char socket[108];              /* unix socket path, instead of host and port */
    char password[256];            /* "": no AUTH */
    int db;                        /* SELECT db when not 0 */
    char prefix[STORE_PREFIX_MAX]; /* put before every key: setups sharing one server */
    int connect_timeout_ms;
    int command_timeout_ms;
    int retry_min_ms; /* first wait after a failure before one new attempt */
    int retry_max_ms; /* the wait doubles up to this */
    int pool_size;    /* connections shared by the threads */
    /* Not settings: set by the program. */
    unsigned readers; /* LMDB: threads that may read at once (the session bound); at least 512 */
    store_log_fn *log;
    void *log_ctx;
};

enum store_setting_type { STORE_SET_BACKEND, STORE_SET_STRING, STORE_SET_INT, STORE_SET_SIZE, STORE_SET_SYNC };

struct store_setting {
    const char *name; /* "lmdb-path", "redis-host", ... */
    enum store_setting_type type;
    const char *default_text; /* as store_config_set would parse it; NULL: empty */
    const char *doc;          /* one line, for --help and the man page */
    size_t offset;            /* into struct store_config */
    size_t size;              /* of a string field */
    long min, max;            /* of a number */
};

extern const struct store_setting store_settings[];
extern const size_t store_settings_count;

/* Every setting at its default. */
void store_config_init(struct store_config *cfg);
/* Set NAME from its text form. 0, or -1 with *error_r (static). */
int store_config_set(struct store_config *cfg, const char *name, const char *value, const char **error_r);
/* The same from "NAME=VALUE" (a command-line option). 0, or -1 with *error_r (static). */
int store_config_set_pair(struct store_config *cfg, const char *pair, const char **error_r);

struct store;

/* NULL with *error_r (static text) when the store cannot be opened. Redis
   being down is not an open error: calls fail until it answers. */
struct store *store_open(const struct store_config *cfg, const char **error_r);
void store_close(struct store *s);

/* A store in the process's memory, gone when closed: for rule-file tests
   (never a --store backend). NULL when out of memory. */
struct store *store_memory_open(void);
const char *store_backend_name(const struct store *s);

/*
 * What the calls did so far (the daemon's metrics read it): calls,
 * those that failed, outages (the store going from answering to
 * failing), and whether its last answer was not an error.
 */
struct store_stats {
    unsigned long calls, errors, outages;
    bool up;
};
void store_stats(struct store *s, struct store_stats *out);

/*
 * The calls. why_r (may be NULL) receives a static reason on STORE_ERROR.
 */
/* Copy the value into val (valsz bytes), its length into *vlen_r. */
enum store_result store_get(struct store *s, const void *key, size_t klen, void *val, size_t valsz,
                            size_t *vlen_r, time_t now, const char **why_r);
/* Create or replace; STORE_FOUND on success. */
enum store_result store_set(struct store *s, const void *key, size_t klen, const void *val, size_t vlen,
                            time_t expires, time_t now, const char **why_r);
/*
 * Add `by` to a counter (created at 0, also when expired) and set its
 * expiry, atomically; the new value in *value_r. STORE_FOUND on success.
 */
enum store_result store_incr(struct store *s, const void *key, size_t klen, int64_t by, time_t expires,
                             time_t now, int64_t *value_r, const char **why_r);
/* A counter as store_get reads it (decimal text on both backends, as Redis keeps it). 0 or -1. */
int store_parse_counter(const void *val, size_t vlen, int64_t *out);
/* STORE_NOTFOUND when there was nothing to delete. */
enum store_result store_del(struct store *s, const void *key, size_t klen, time_t now, const char **why_r);
/*
 * Delete expired entries, looking at no more than `batch` of them in one
 * write (a sweep resumes where the previous call stopped and wraps
 * around), so a background thread never holds up writers for long.
 * *removed_r: how many went. Redis expires entries itself: 0 removed.
 */
enum store_result store_expire(struct store *s, time_t now, unsigned batch, unsigned *removed_r,
                               const char **why_r);

/*
 * Build a key "KIND:TEXT" into out (STORE_KEY_MAX + 1 bytes) for the
 * checks on top of the store; a TEXT too long for the bound is replaced
 * by a 128-bit hash of it ("KIND:#hex"), so any fact can key an entry.
 * Returns the key's length.
 */
size_t store_key(char out[STORE_KEY_MAX + 1], const char *kind, const char *text, size_t tlen);

#endif
