/*
 * test_store.c: the state store (policy/store*.c), greylisting and rate
 * limits on it.
 *
 * The same cases run on each backend: on LMDB (a file in a temp dir)
 * always, and on Redis when MXG_REDIS_SOCKET names a running server's
 * unix socket (tests/store/store_redis_unit.sh starts one and runs this
 * program again). Time is a number the tests move; nothing sleeps.
 * Cases that need the store's own expiry on the test clock (LMDB keeps it
 * in the entry; Redis counts down on its own clock) run on LMDB only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/state/greylist.h"
#include "policy/state/ratelimit.h"
#include "policy/state/store.h"

#define T0 ((time_t)1800000000)

static const char *redis_socket; /* NULL: the LMDB pass */
static char tmpdir[64];
static unsigned case_no;
static unsigned log_warnings, log_infos;

static void count_log(void *ctx, enum store_log_level level, const char *msg)
{
    if (level == STORE_LOG_WARNING)
        log_warnings++;
    else
        log_infos++;
}

static bool use_memory; /* the second run: the in-memory store */

/* A fresh store per case: its own LMDB file, or its own Redis key prefix. */
static int open_store(void **state)
{
    struct store_config cfg;
    const char *error = NULL;
    char text[64];

    store_config_init(&cfg);
    cfg.log = count_log;
    case_no++;
    if (use_memory) {
        /* The rule tests' scratch store keeps the same contract. */
        *state = store_memory_open();
        assert_non_null(*state);
        return 0;
    }
    if (redis_socket != NULL) {
        assert_int_equal(store_config_set(&cfg, "backend", "redis", &error), 0);
        assert_int_equal(store_config_set(&cfg, "redis-socket", redis_socket, &error), 0);
        snprintf(text, sizeof text, "t%ld-%u:", (long)getpid(), case_no);
        assert_int_equal(store_config_set(&cfg, "redis-prefix", text, &error), 0);
    } else {
        snprintf(cfg.path, sizeof cfg.path, "%s/state-%u.lmdb", tmpdir, case_no);
        assert_int_equal(store_config_set(&cfg, "lmdb-map-size", "8m", &error), 0);
        /* Every other case with one flush a commit: the same contract in both modes. */
        assert_int_equal(store_config_set(&cfg, "lmdb-sync", case_no % 2 ? "full" : "data", &error), 0);
    }
    *state = store_open(&cfg, &error);
    if (*state == NULL)
        fail_msg("store_open: %s", error);
    return 0;
}

static int close_store(void **state)
{
    store_close(*state);
    return 0;
}

static bool on_lmdb(void)
{
    return redis_socket == NULL;
}

/* ---- the store ------------------------------------------------------------- */

static void test_set_get_del(void **state)
{
    struct store *s = *state;
    char val[STORE_VALUE_MAX];
    size_t vlen = 0;
    const char *why = NULL;

    assert_int_equal(store_get(s, "k1", 2, val, sizeof val, &vlen, T0, &why), STORE_NOTFOUND);
    assert_int_equal(store_set(s, "k1", 2, "hello", 5, T0 + 60, T0, &why), STORE_FOUND);
    assert_int_equal(store_get(s, "k1", 2, val, sizeof val, &vlen, T0, &why), STORE_FOUND);
    assert_int_equal(vlen, 5);
    assert_memory_equal(val, "hello", 5);
    /* Replace: the new value, and binary bytes come back as they went. */
    assert_int_equal(store_set(s, "k1", 2, "a\0b", 3, T0 + 60, T0, &why), STORE_FOUND);
    assert_int_equal(store_get(s, "k1", 2, val, sizeof val, &vlen, T0, &why), STORE_FOUND);
    assert_int_equal(vlen, 3);
    assert_memory_equal(val, "a\0b", 3);
    assert_int_equal(store_del(s, "k1", 2, T0, &why), STORE_FOUND);
    assert_int_equal(store_del(s, "k1", 2, T0, &why), STORE_NOTFOUND);
    assert_int_equal(store_get(s, "k1", 2, val, sizeof val, &vlen, T0, &why), STORE_NOTFOUND);
}

static void test_incr(void **state)
{
    struct store *s = *state;
    int64_t n = -1;
    const char *why = NULL;
    char val[STORE_VALUE_MAX];
    size_t vlen;

    assert_int_equal(store_incr(s, "c", 1, 1, T0 + 60, T0, &n, &why), STORE_FOUND);
    assert_int_equal(n, 1);
    assert_int_equal(store_incr(s, "c", 1, 41, T0 + 60, T0, &n, &why), STORE_FOUND);
    assert_int_equal(n, 42);
    assert_int_equal(store_get(s, "c", 1, val, sizeof val, &vlen, T0, &why), STORE_FOUND);
    assert_int_equal(store_parse_counter(val, vlen, &n), 0);
    assert_int_equal(n, 42);
    /* Not a counter: an error, not a silent restart at 0. */
    assert_int_equal(store_set(s, "t", 1, "text", 4, T0 + 60, T0, &why), STORE_FOUND);
    assert_int_equal(store_incr(s, "t", 1, 1, T0 + 60, T0, &n, &why), STORE_ERROR);
    assert_non_null(why);
}

static void test_bounds(void **state)
{
    struct store *s = *state;
    char big[STORE_KEY_MAX + 2];
    char val[STORE_VALUE_MAX + 1];
    size_t vlen;
    const char *why = NULL;

    memset(big, 'k', sizeof big);
    memset(val, 'v', sizeof val);
    assert_int_equal(store_set(s, big, STORE_KEY_MAX + 1, "v", 1, T0 + 60, T0, &why), STORE_ERROR);
    assert_string_equal(why, "store key empty or too long");
    assert_int_equal(store_get(s, big, 0, val, sizeof val, &vlen, T0, &why), STORE_ERROR);
    assert_int_equal(store_set(s, big, STORE_KEY_MAX, val, STORE_VALUE_MAX + 1, T0 + 60, T0, &why),
                     STORE_ERROR);
    assert_string_equal(why, "store value too long");
    /* Both bounds exactly: fine. */
    assert_int_equal(store_set(s, big, STORE_KEY_MAX, val, STORE_VALUE_MAX, T0 + 60, T0, &why), STORE_FOUND);
    assert_int_equal(store_get(s, big, STORE_KEY_MAX, val, sizeof val, &vlen, T0, &why), STORE_FOUND);
    assert_int_equal(vlen, STORE_VALUE_MAX);
    /* A buffer too small for the value: an error, not a truncated value. */
    assert_int_equal(store_get(s, big, STORE_KEY_MAX, val, 10, &vlen, T0, &why), STORE_ERROR);
}

/* LMDB keeps the expiry in the entry and reads it against the caller's clock. */
static void test_expiry_and_sweep(void **state)
{
    struct store *s = *state;
    char key[16], val[8];
    size_t vlen;
    unsigned removed, total = 0;
    int64_t n;
    const char *why = NULL;

    if (!on_lmdb())
        skip();
    assert_int_equal(store_set(s, "e", 1, "x", 1, T0 + 10, T0, &why), STORE_FOUND);
    assert_int_equal(store_get(s, "e", 1, val, sizeof val, &vlen, T0 + 9, &why), STORE_FOUND);
    assert_int_equal(store_get(s, "e", 1, val, sizeof val, &vlen, T0 + 10, &why), STORE_NOTFOUND);
    assert_int_equal(store_del(s, "e", 1, T0 + 10, &why), STORE_NOTFOUND);
    /* An expired counter starts again from 0. */
    assert_int_equal(store_incr(s, "c", 1, 5, T0 + 10, T0, &n, &why), STORE_FOUND);
    assert_int_equal(store_incr(s, "c", 1, 1, T0 + 30, T0 + 10, &n, &why), STORE_FOUND);
    assert_int_equal(n, 1);
    /* 100 entries, every other one expired at T0 + 20: the sweep takes
       batches of 7 and removes exactly the 50, resuming where it stopped. */
    for (int i = 0; i < 100; i++) {
        int klen = snprintf(key, sizeof key, "s%03d", i);
        assert_int_equal(store_set(s, key, (size_t)klen, "x", 1, i % 2 ? T0 + 20 : T0 + 1000, T0, &why),
                         STORE_FOUND);
    }
    for (int round = 0; round < 30; round++) {
        assert_int_not_equal(store_expire(s, T0 + 20, 7, &removed, &why), STORE_ERROR);
        assert_true(removed <= 7);
        total += removed;
    }
    assert_int_equal(total, 50);
    assert_int_equal(store_get(s, "s000", 4, val, sizeof val, &vlen, T0 + 20, &why), STORE_FOUND);
    assert_int_equal(store_get(s, "s001", 4, val, sizeof val, &vlen, T0, &why), STORE_NOTFOUND);
}

static void test_lmdb_map_full(void **state)
{
    struct store_config cfg;
    struct store *s;
    const char *error = NULL, *why = NULL;
    char key[32], val[STORE_VALUE_MAX];
    size_t vlen;
    int i;

    if (!on_lmdb())
        skip();
    store_config_init(&cfg);
    snprintf(cfg.path, sizeof cfg.path, "%s/full.lmdb", tmpdir);
    assert_int_equal(store_config_set(&cfg, "lmdb-map-size", "1m", &error), 0);
    s = store_open(&cfg, &error);
    assert_non_null(s);
    memset(val, 'v', sizeof val);
    for (i = 0; i < 10000; i++) {
        int klen = snprintf(key, sizeof key, "full%05d", i);
        if (store_set(s, key, (size_t)klen, val, sizeof val, T0 + 60, T0, &why) != STORE_FOUND)
            break;
    }
    assert_true(i > 100 && i < 10000);
    assert_string_equal(why, "LMDB state file full (raise lmdb-map-size)");
    /* Full means the writes fail; what is there reads as before, and a sweep frees room. */
    assert_int_equal(store_get(s, "full00000", 9, val, sizeof val, &vlen, T0, &why), STORE_FOUND);
    assert_int_equal(store_set(s, key, strlen(key), val, sizeof val, T0 + 60, T0, &why), STORE_ERROR);
    for (unsigned removed = 1, round = 0; removed > 0 && round < 10000; round++)
        assert_int_not_equal(store_expire(s, T0 + 60, 10, &removed, &why), STORE_ERROR);
    assert_int_equal(store_set(s, key, strlen(key), val, sizeof val, T0 + 120, T0 + 60, &why), STORE_FOUND);
    store_close(s);
}

static off_t lock_size(const char *name, unsigned readers)
{
    struct store_config cfg;
    struct store *s;
    const char *error = NULL;
    char lock[STORE_PATH_MAX + 8];
    struct stat st;

    store_config_init(&cfg);
    snprintf(cfg.path, sizeof cfg.path, "%s/%s", tmpdir, name);
    cfg.readers = readers;
    assert_non_null(s = store_open(&cfg, &error));
    snprintf(lock, sizeof lock, "%s-lock", cfg.path);
    assert_int_equal(stat(lock, &st), 0);
    store_close(s);
    return st.st_size;
}

/* The reader table holds a slot for each session's thread: at least 512. */
static void test_lmdb_readers(void **state)
{
    (void)state;
    if (!on_lmdb())
        skip();
    assert_int_equal(lock_size("r0.lmdb", 0), lock_size("r512.lmdb", 512));
    assert_int_equal(lock_size("r100.lmdb", 100), lock_size("r512.lmdb", 512));
    assert_true(lock_size("r2000.lmdb", 2000) > lock_size("r1000.lmdb", 1000));
    assert_true(lock_size("r1000.lmdb", 1000) > lock_size("r512.lmdb", 512));
}

static void test_config(void **state)
{
    struct store_config cfg;
    const char *error = NULL;

    store_config_init(&cfg);
    assert_int_equal(cfg.backend, STORE_LMDB);
    assert_int_equal(cfg.map_size, 256u << 20);
    assert_int_equal(cfg.port, 6379);
    assert_string_equal(cfg.prefix, "mxg:");
    assert_int_equal(cfg.command_timeout_ms, 500);
    assert_int_equal(store_config_set(&cfg, "redis-port", "6380", &error), 0);
    assert_int_equal(cfg.port, 6380);
    assert_int_equal(store_config_set(&cfg, "lmdb-map-size", "1g", &error), 0);
    assert_int_equal(cfg.map_size, 1u << 30);
    assert_int_equal(store_config_set(&cfg, "redis-port", "0", &error), -1);
    assert_int_equal(store_config_set(&cfg, "redis-port", "12x", &error), -1);
    assert_int_equal(store_config_set(&cfg, "lmdb-map-size", "1k", &error), -1);
    assert_int_equal(store_config_set(&cfg, "backend", "memcached", &error), -1);
    assert_string_equal(error, "store backend must be lmdb or redis");
    assert_false(cfg.sync_data_only);
    assert_int_equal(store_config_set(&cfg, "lmdb-sync", "data", &error), 0);
    assert_true(cfg.sync_data_only);
    assert_int_equal(store_config_set(&cfg, "lmdb-sync", "full", &error), 0);
    assert_false(cfg.sync_data_only);
    assert_int_equal(store_config_set(&cfg, "lmdb-sync", "none", &error), -1);
    assert_string_equal(error, "lmdb-sync must be full or data");
    assert_int_equal(store_config_set(&cfg, "no-such", "1", &error), -1);
    assert_string_equal(error, "no such store setting");
    /* Every setting is documented. */
    for (size_t i = 0; i < store_settings_count; i++)
        assert_true(store_settings[i].doc != NULL && store_settings[i].doc[0] != '\0');
}

static void test_key(void **state)
{
    char a[STORE_KEY_MAX + 1], b[STORE_KEY_MAX + 1], text[2000];
    size_t la, lb;

    assert_int_equal(store_key(a, "gt", "abc", 3), 6);
    assert_string_equal(a, "gt:abc");
    memset(text, 'x', sizeof text);
    la = store_key(a, "gt", text, sizeof text);
    text[1999] = 'y';
    lb = store_key(b, "gt", text, sizeof text);
    assert_true(la <= STORE_KEY_MAX && lb <= STORE_KEY_MAX);
    assert_int_equal(strncmp(a, "gt:#", 4), 0);
    assert_string_not_equal(a, b);
}

/* Redis away: every call is an error (never "not found"), at once, and logged once. */
static void test_redis_down(void **state)
{
    struct store_config cfg;
    struct store *s;
    const char *error = NULL, *why = NULL;
    char val[8], path[128];
    size_t vlen;
    struct greylist_params p;
    struct greylist_outcome o;
    struct greylist_triplet t = {.sender = "a@b.example", .rcpt = "c@d.example"};
    struct ratelimit_result rl;

    store_config_init(&cfg);
    cfg.log = count_log;
    snprintf(path, sizeof path, "%s/no-redis.sock", tmpdir);
    assert_int_equal(store_config_set(&cfg, "backend", "redis", &error), 0);
    assert_int_equal(store_config_set(&cfg, "redis-socket", path, &error), 0);
    s = store_open(&cfg, &error);
    assert_non_null(s);
    log_warnings = log_infos = 0;
    greylist_params_init(&p);
    assert_int_equal(ipaddr_parse("192.0.2.1", &t.client), 0);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(store_get(s, "k", 1, val, sizeof val, &vlen, T0, &why), STORE_ERROR);
        assert_int_equal(store_del(s, "k", 1, T0, &why), STORE_ERROR);
        /* store.h lets a caller leave out why_r: no backend may write through it. */
        assert_int_equal(store_get(s, "k", 1, val, sizeof val, &vlen, T0, NULL), STORE_ERROR);
        assert_int_equal(store_incr(s, "k", 1, 1, T0 + 60, T0, &(int64_t){ 0 }, NULL), STORE_ERROR);
        assert_int_equal(greylist_check(s, T0, &t, &p, &o), GREYLIST_ERROR);
        assert_int_equal(o.reason, GREYLIST_STORE_ERROR);
        assert_int_equal(ratelimit_hit(s, "client:192.0.2.1", 60, 10, 1, T0, &rl), RATELIMIT_ERROR);
    }
    assert_int_equal(log_warnings, 1);
    assert_int_equal(log_infos, 0);
    store_close(s);
}

/* ---- greylisting ------------------------------------------------------------- */

static struct greylist_triplet triplet(const char *ip, const char *sender, const char *rcpt)
{
    struct greylist_triplet t = {.sender = sender, .rcpt = rcpt};

    assert_int_equal(ipaddr_parse(ip, &t.client), 0);
    return t;
}

static enum greylist_reason gl(struct store *s, time_t now, const char *ip, const char *from, const char *to,
                               struct greylist_outcome *o)
{
    struct greylist_params p;
    struct greylist_triplet t = triplet(ip, from, to);

    greylist_params_init(&p);
    greylist_check(s, now, &t, &p, o);
    return o->reason;
}

static void test_greylist_basic(void **state)
{
    struct store *s = *state;
    struct greylist_outcome o;

    assert_int_equal(gl(s, T0, "192.0.2.1", "a@x.example", "b@y.example", &o), GREYLIST_NEW);
    assert_int_equal(o.verdict, GREYLIST_TEMPFAIL);
    assert_int_equal(o.seconds_left, 300);
    assert_string_equal(o.network, "192.0.2.0/24");
    assert_int_equal(gl(s, T0 + 60, "192.0.2.1", "a@x.example", "b@y.example", &o), GREYLIST_EARLY);
    assert_int_equal(o.verdict, GREYLIST_TEMPFAIL);
    assert_int_equal(o.seconds_left, 240);
    assert_int_equal(gl(s, T0 + 299, "192.0.2.1", "a@x.example", "b@y.example", &o), GREYLIST_EARLY);
    assert_int_equal(o.seconds_left, 1);
    /* The retry may come from another host of the /24. */
    assert_int_equal(gl(s, T0 + 300, "192.0.2.77", "a@x.example", "b@y.example", &o), GREYLIST_RETRIED);
    assert_int_equal(o.verdict, GREYLIST_PASS);
    assert_int_equal(gl(s, T0 + 400, "192.0.2.1", "a@x.example", "b@y.example", &o), GREYLIST_KNOWN);
    assert_int_equal(o.verdict, GREYLIST_PASS);
    /* Known for the lifetime after its last pass (36 days), renewed by each pass. */
    assert_int_equal(gl(s, T0 + 300 + 36 * 86400 - 1, "192.0.2.1", "a@x.example", "b@y.example", &o),
                     GREYLIST_KNOWN);
    assert_int_equal(gl(s, T0 + 300 + 72 * 86400 - 2, "192.0.2.1", "a@x.example", "b@y.example", &o),
                     GREYLIST_KNOWN);
    assert_int_equal(gl(s, T0 + 300 + 108 * 86400 - 2, "192.0.2.1", "a@x.example", "b@y.example", &o),
                     GREYLIST_NEW);
}

static void test_greylist_triplet_parts(void **state)
{
    struct store *s = *state;
    struct greylist_outcome o;

    assert_int_equal(gl(s, T0, "192.0.2.1", "a@X.Example", "b@y.example", &o), GREYLIST_NEW);
    /* The sender's domain is folded; its local part, the other network, the recipient are not the same. */
    assert_int_equal(gl(s, T0 + 300, "192.0.2.1", "a@x.EXAMPLE", "b@Y.example", &o), GREYLIST_RETRIED);
    assert_int_equal(gl(s, T0 + 300, "192.0.2.1", "A@x.example", "b@y.example", &o), GREYLIST_NEW);
    assert_int_equal(gl(s, T0 + 300, "192.0.3.1", "a@x.example", "b@y.example", &o), GREYLIST_NEW);
    assert_string_equal(o.network, "192.0.3.0/24");
    assert_int_equal(gl(s, T0 + 300, "192.0.2.1", "a@x.example", "c@y.example", &o), GREYLIST_NEW);
    /* The null sender is a sender like any other. */
    assert_int_equal(gl(s, T0, "198.51.100.9", "", "b@y.example", &o), GREYLIST_NEW);
    assert_int_equal(gl(s, T0 + 300, "198.51.100.9", "", "b@y.example", &o), GREYLIST_RETRIED);
    /* IPv6: the /64. */
    assert_int_equal(gl(s, T0, "2001:db8:1:2::25", "a@x.example", "b@y.example", &o), GREYLIST_NEW);
    assert_string_equal(o.network, "2001:db8:1:2::/64");
    assert_int_equal(gl(s, T0 + 300, "2001:db8:1:2:ffff::1", "a@x.example", "b@y.example", &o),
                     GREYLIST_RETRIED);
    assert_int_equal(gl(s, T0 + 300, "2001:db8:1:3::25", "a@x.example", "b@y.example", &o), GREYLIST_NEW);
}

static void test_greylist_window(void **state)
{
    struct store *s = *state;
    struct greylist_outcome o;

    assert_int_equal(gl(s, T0, "203.0.113.5", "a@x.example", "b@y.example", &o), GREYLIST_NEW);
    /* The last second of the window passes... */
    assert_int_equal(gl(s, T0 + 300 + 86399, "203.0.113.5", "a@x.example", "b@y.example", &o),
                     GREYLIST_RETRIED);
    /* ...one second later the triplet starts over. */
    assert_int_equal(gl(s, T0, "203.0.113.5", "a@x.example", "c@y.example", &o), GREYLIST_NEW);
    assert_int_equal(gl(s, T0 + 300 + 86400, "203.0.113.5", "a@x.example", "c@y.example", &o), GREYLIST_NEW);
    assert_int_equal(o.seconds_left, 300);
    assert_int_equal(gl(s, T0 + 300 + 86400 + 300, "203.0.113.5", "a@x.example", "c@y.example", &o),
                     GREYLIST_RETRIED);
}

static void test_greylist_autoallow(void **state)
{
    struct store *s = *state;
    struct greylist_outcome o;
    char rcpt[32];

    /* Four passed triplets: the fifth new one is still greylisted. */
    for (int i = 0; i < 5; i++) {
        snprintf(rcpt, sizeof rcpt, "user%d@y.example", i);
        assert_int_equal(gl(s, T0, "192.0.2.10", "a@x.example", rcpt, &o), GREYLIST_NEW);
        assert_int_equal(gl(s, T0 + 300, "192.0.2.10", "a@x.example", rcpt, &o), GREYLIST_RETRIED);
    }
    /* Five passes: the whole /24 is allowed, any sender, any recipient. */
    assert_int_equal(gl(s, T0 + 301, "192.0.2.200", "new@z.example", "other@y.example", &o),
                     GREYLIST_AUTOALLOWED);
    assert_int_equal(o.verdict, GREYLIST_PASS);
    assert_int_equal(gl(s, T0 + 301, "192.0.3.1", "new@z.example", "other@y.example", &o), GREYLIST_NEW);
    /* For seven days. */
    assert_int_equal(gl(s, T0 + 300 + 7 * 86400 - 1, "192.0.2.1", "n@z.example", "o@y.example", &o),
                     GREYLIST_AUTOALLOWED);
    assert_int_equal(gl(s, T0 + 300 + 7 * 86400, "192.0.2.1", "n2@z.example", "o@y.example", &o),
                     GREYLIST_NEW);
}

static void test_greylist_autoallow_off(void **state)
{
    struct store *s = *state;
    struct greylist_params p;
    struct greylist_outcome o;
    struct greylist_triplet t;
    char rcpt[32];

    greylist_params_init(&p);
    p.autoallow_passes = 0;
    p.delay = 60;
    for (int i = 0; i < 8; i++) {
        snprintf(rcpt, sizeof rcpt, "user%d@y.example", i);
        t = triplet("192.0.2.10", "a@x.example", rcpt);
        assert_int_equal(greylist_check(s, T0, &t, &p, &o), GREYLIST_TEMPFAIL);
        assert_int_equal(o.seconds_left, 60);
        assert_int_equal(greylist_check(s, T0 + 60, &t, &p, &o), GREYLIST_PASS);
    }
    t = triplet("192.0.2.10", "a@x.example", "fresh@y.example");
    assert_int_equal(greylist_check(s, T0 + 61, &t, &p, &o), GREYLIST_TEMPFAIL);
    assert_int_equal(o.reason, GREYLIST_NEW);
    assert_string_equal(greylist_reason_text(o.reason), "first seen");
}

/* ---- rate limits --------------------------------------------------------- */

static void test_ratelimit_under_over(void **state)
{
    struct store *s = *state;
    struct ratelimit_result r;

    for (int i = 1; i <= 3; i++) {
        assert_int_equal(ratelimit_hit(s, "client:192.0.2.1", 60, 3, 1, T0 + i, &r), RATELIMIT_UNDER);
        assert_int_equal(r.count, i);
    }
    assert_int_equal(ratelimit_hit(s, "client:192.0.2.1", 60, 3, 1, T0 + 5, &r), RATELIMIT_OVER);
    assert_int_equal(r.count, 4);
    assert_int_equal(r.limit, 3);
    /* Another key, another window length: counted apart. */
    assert_int_equal(ratelimit_hit(s, "client:192.0.2.2", 60, 3, 1, T0 + 5, &r), RATELIMIT_UNDER);
    assert_int_equal(r.count, 1);
    assert_int_equal(ratelimit_hit(s, "client:192.0.2.1", 3600, 3, 1, T0 + 5, &r), RATELIMIT_UNDER);
    assert_int_equal(r.count, 1);
    /* A cost: recipients of one message. Cost 0 only reads. */
    assert_int_equal(ratelimit_hit(s, "sasl:user", 60, 100, 60, T0, &r), RATELIMIT_UNDER);
    assert_int_equal(ratelimit_hit(s, "sasl:user", 60, 100, 41, T0, &r), RATELIMIT_OVER);
    assert_int_equal(r.count, 101);
    assert_int_equal(ratelimit_hit(s, "sasl:user", 60, 100, 0, T0, &r), RATELIMIT_OVER);
    assert_int_equal(r.count, 101);
}

static void test_ratelimit_sliding(void **state)
{
    struct store *s = *state;
    struct ratelimit_result r;
    time_t w0 = (T0 / 60) * 60; /* the start of a window */
    char big[1000];

    assert_int_equal(ratelimit_hit(s, "k", 60, 10, 10, w0 + 50, &r), RATELIMIT_UNDER);
    assert_int_equal(r.count, 10);
    /* A quarter into the next window, three quarters of the last one still count. */
    assert_int_equal(ratelimit_hit(s, "k", 60, 10, 3, w0 + 75, &r), RATELIMIT_UNDER);
    assert_int_equal(r.count, 3 + 7);
    assert_int_equal(ratelimit_hit(s, "k", 60, 10, 1, w0 + 75, &r), RATELIMIT_OVER);
    assert_int_equal(r.count, 4 + 7);
    /* Later in the window the old hits weigh less. */
    assert_int_equal(ratelimit_hit(s, "k", 60, 10, 0, w0 + 114, &r), RATELIMIT_UNDER);
    assert_int_equal(r.count, 4 + 1);
    /* Two windows later nothing is left. */
    assert_int_equal(ratelimit_hit(s, "k", 60, 10, 0, w0 + 180, &r), RATELIMIT_UNDER);
    assert_int_equal(r.count, 0);
    /* A key far past the bound still counts on its own. */
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(ratelimit_hit(s, big, 60, 1, 1, w0, &r), RATELIMIT_UNDER);
    assert_int_equal(ratelimit_hit(s, big, 60, 1, 1, w0, &r), RATELIMIT_OVER);
    assert_int_equal(ratelimit_hit(s, "k", 0, 1, 1, w0, &r), RATELIMIT_ERROR);
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, open_store, close_store)

static int run(const char *name)
{
    const struct CMUnitTest tests[] = {
        CASE(test_set_get_del),
        CASE(test_incr),
        CASE(test_bounds),
        CASE(test_expiry_and_sweep),
        cmocka_unit_test(test_lmdb_map_full),
        cmocka_unit_test(test_lmdb_readers),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_redis_down),
        CASE(test_greylist_basic),
        CASE(test_greylist_triplet_parts),
        CASE(test_greylist_window),
        CASE(test_greylist_autoallow),
        CASE(test_greylist_autoallow_off),
        CASE(test_ratelimit_under_over),
        CASE(test_ratelimit_sliding),
    };
    return _cmocka_run_group_tests(name, tests, sizeof tests / sizeof tests[0], NULL, NULL);
}

int main(void)
{
    char cmd[128];
    int rc;

    snprintf(tmpdir, sizeof tmpdir, "/tmp/mxg-test_store.XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    redis_socket = getenv("MXG_REDIS_SOCKET");
    rc = run(redis_socket != NULL ? "store on redis" : "store on lmdb");
    if (redis_socket == NULL) {
        use_memory = true;
        rc |= run("store in memory");
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
