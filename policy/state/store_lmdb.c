/*
 * store_lmdb.c: the store in one LMDB file on this host (the default).
 *
 * Every call is one transaction, begun and ended inside the call: with
 * MDB_NOTLS a read transaction is not tied to its thread, and no
 * transaction ever outlives a call, so libmilter may move a session
 * between threads. The default sync flags (no MDB_NOSYNC, MDB_NOMETASYNC
 * or MDB_WRITEMAP) make every commit durable and keep the file usable
 * whatever happens to the process: a killed writer loses only the
 * transaction it had not committed. The map size bounds the file; a full
 * map is an error for the caller, never a crash.
 *
 * Each value is the expiry time (8 bytes) followed by the caller's bytes;
 * an entry past its expiry reads as not found and is removed by
 * store_expire's sweep. Must never hold a transaction across two calls.
 */
#include "policy/state/store_impl.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER 8 /* the expiry time, in front of every value */
/* Each call holds a reader slot while it reads (MDB_NOTLS): a thread a
   session, and a table too small would fail reads with MDB_READERS_FULL. */
#define READERS_MIN 512

struct store_lmdb {
    struct store base;
    MDB_env *env;
    MDB_dbi dbi;
    pthread_mutex_t sweep_lock;
    unsigned char sweep_key[STORE_KEY_MAX]; /* where the sweep resumes; empty: at the start */
    size_t sweep_klen;
};

static struct store_lmdb *lmdb_of(struct store *s)
{
    return (struct store_lmdb *)s;
}

static enum store_result fail(int rc, const char **why_r)
{
    if (why_r != NULL)
        *why_r = rc == MDB_MAP_FULL ? "LMDB state file full (raise lmdb-map-size)" : mdb_strerror(rc);
    return STORE_ERROR;
}

static int64_t expiry_of(const MDB_val *v)
{
    int64_t e;

    memcpy(&e, v->mv_data, sizeof e);
    return e;
}

/* A stored entry that is alive at now; an entry we did not write reads as an error. */
static enum store_result live(const MDB_val *v, time_t now, const char **why_r)
{
    if (v->mv_size < HEADER) {
        if (why_r != NULL)
            *why_r = "LMDB entry without expiry header";
        return STORE_ERROR;
    }
    return expiry_of(v) > (int64_t)now ? STORE_FOUND : STORE_NOTFOUND;
}

static enum store_result lmdb_get(struct store *s, const void *key, size_t klen, void *val, size_t valsz,
                                  size_t *vlen_r, time_t now, const char **why_r)
{
    struct store_lmdb *l = lmdb_of(s);
    MDB_txn *txn;
    MDB_val k = {klen, (void *)key}, v;
    enum store_result r;
    int rc;

    rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return fail(rc, why_r);
    rc = mdb_get(txn, l->dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
        r = STORE_NOTFOUND;
    } else if (rc != 0) {
        r = fail(rc, why_r);
    } else if ((r = live(&v, now, why_r)) == STORE_FOUND) {
        if (v.mv_size - HEADER > valsz) {
            if (why_r != NULL)
                *why_r = "stored value larger than the caller's buffer";
            r = STORE_ERROR;
        } else {
            memcpy(val, (char *)v.mv_data + HEADER, v.mv_size - HEADER);
            *vlen_r = v.mv_size - HEADER;
        }
    }
    mdb_txn_abort(txn);
    return r;
}

/* Write one entry inside a write transaction. */
static int put(struct store_lmdb *l, MDB_txn *txn, MDB_val *k, const void *val, size_t vlen, time_t expires)
{
    unsigned char buf[HEADER + STORE_VALUE_MAX];
    int64_t e = (int64_t)expires;
    MDB_val v = {HEADER + vlen, buf};

    memcpy(buf, &e, HEADER);
    memcpy(buf + HEADER, val, vlen);
    return mdb_put(txn, l->dbi, k, &v, 0);
}

/*
 * Deleting needs free pages too (copy-on-write): a map filled to the last
 * page could never be swept again. So writes that add data stop while
 * fewer than a reserve of pages is free, and deletions have that reserve.
 * The free list is counted (in a read transaction of its own: LMDB opens
 * no cursor on it in a write transaction) only when the file's high-water
 * mark is near the end of the map.
 */
static bool near_full(struct store_lmdb *l)
{
    MDB_envinfo info;
    MDB_stat st;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    size_t pages, reserve, unused, free_pages = 0;

    if (mdb_env_info(l->env, &info) != 0 || mdb_env_stat(l->env, &st) != 0)
        return true;
    pages = info.me_mapsize / st.ms_psize;
    reserve = pages / 32 > 16 ? pages / 32 : 16;
    unused = pages > info.me_last_pgno + 1 ? pages - info.me_last_pgno - 1 : 0;
    if (unused >= reserve)
        return false;
    if (mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn) != 0)
        return true;
    if (mdb_cursor_open(txn, 0 /* the free list */, &cur) != 0) {
        mdb_txn_abort(txn);
        return true;
    }
    while (free_pages + unused < reserve && mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
        size_t n;
        memcpy(&n, v.mv_data, sizeof n); /* each record: a count, then page numbers */
        free_pages += n;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return free_pages + unused < reserve;
}

static enum store_result commit(MDB_txn *txn, int rc, enum store_result ok, const char **why_r)
{
    if (rc != 0) {
        mdb_txn_abort(txn);
        return fail(rc, why_r);
    }
    rc = mdb_txn_commit(txn);
    return rc == 0 ? ok : fail(rc, why_r);
}

/* A write transaction; one that adds data only while the map has room. */
static int begin_write(struct store_lmdb *l, bool adds, MDB_txn **txn)
{
    if (adds && near_full(l))
        return MDB_MAP_FULL;
    return mdb_txn_begin(l->env, NULL, 0, txn);
}

static enum store_result lmdb_set(struct store *s, const void *key, size_t klen, const void *val, size_t vlen,
                                  time_t expires, time_t now, const char **why_r)
{
    struct store_lmdb *l = lmdb_of(s);
    MDB_txn *txn;
    MDB_val k = {klen, (void *)key};
    int rc;

    rc = begin_write(l, true, &txn);
    if (rc != 0)
        return fail(rc, why_r);
    return commit(txn, put(l, txn, &k, val, vlen, expires), STORE_FOUND, why_r);
}

static enum store_result lmdb_incr(struct store *s, const void *key, size_t klen, int64_t by, time_t expires,
                                   time_t now, int64_t *value_r, const char **why_r)
{
    struct store_lmdb *l = lmdb_of(s);
    MDB_txn *txn;
    MDB_val k = {klen, (void *)key}, v;
    int64_t n = 0;
    char text[24];
    int rc;

    rc = begin_write(l, true, &txn);
    if (rc != 0)
        return fail(rc, why_r);
    rc = mdb_get(txn, l->dbi, &k, &v);
    if (rc == 0 && live(&v, now, why_r) == STORE_FOUND &&
        store_parse_counter((char *)v.mv_data + HEADER, v.mv_size - HEADER, &n) < 0) {
        mdb_txn_abort(txn);
        if (why_r != NULL)
            *why_r = "stored value is not a counter";
        return STORE_ERROR;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        return commit(txn, rc, STORE_ERROR, why_r);
    n += by;
    rc = put(l, txn, &k, text, (size_t)snprintf(text, sizeof text, "%lld", (long long)n), expires);
    *value_r = n;
    return commit(txn, rc, STORE_FOUND, why_r);
}

static enum store_result lmdb_del(struct store *s, const void *key, size_t klen, time_t now,
                                  const char **why_r)
{
    struct store_lmdb *l = lmdb_of(s);
    MDB_txn *txn;
    MDB_val k = {klen, (void *)key}, v;
    enum store_result r = STORE_FOUND;
    int rc;

    rc = begin_write(l, false, &txn);
    if (rc != 0)
        return fail(rc, why_r);
    /* An expired entry is gone for the caller: deleting it deletes nothing. */
    rc = mdb_get(txn, l->dbi, &k, &v);
    if (rc == 0 && live(&v, now, why_r) != STORE_FOUND)
        r = STORE_NOTFOUND;
    if (rc == 0)
        rc = mdb_del(txn, l->dbi, &k, NULL);
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return STORE_NOTFOUND;
    }
    return commit(txn, rc, r, why_r);
}

/* One batch of the sweep, in the write transaction txn. */
static int sweep(struct store_lmdb *l, MDB_txn *txn, time_t now, unsigned batch, unsigned *removed_r)
{
    MDB_cursor *cur;
    MDB_val k = {l->sweep_klen, l->sweep_key}, v;
    int rc = mdb_cursor_open(txn, l->dbi, &cur);

    if (rc != 0)
        return rc;
    rc = mdb_cursor_get(cur, &k, &v, l->sweep_klen > 0 ? MDB_SET_RANGE : MDB_FIRST);
    for (unsigned seen = 0; rc == 0 && seen < batch; seen++) {
        if (v.mv_size < HEADER || expiry_of(&v) <= (int64_t)now) {
            rc = mdb_cursor_del(cur, 0);
            if (rc != 0)
                break;
            (*removed_r)++;
        }
        /* After a delete, MDB_NEXT gives the entry that took the deleted one's place. */
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc == 0 && k.mv_size <= sizeof l->sweep_key) {
        memcpy(l->sweep_key, k.mv_data, k.mv_size);
        l->sweep_klen = k.mv_size;
    } else {
        l->sweep_klen = 0; /* at the end (or lost): the next sweep starts over */
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static enum store_result lmdb_expire(struct store *s, time_t now, unsigned batch, unsigned *removed_r,
                                     const char **why_r)
{
    struct store_lmdb *l = lmdb_of(s);
    MDB_txn *txn;
    enum store_result r;
    int rc;

    pthread_mutex_lock(&l->sweep_lock);
    rc = begin_write(l, false, &txn);
    if (rc != 0) {
        r = fail(rc, why_r);
    } else {
        rc = sweep(l, txn, now, batch, removed_r);
        r = commit(txn, rc, *removed_r > 0 ? STORE_FOUND : STORE_NOTFOUND, why_r);
        if (r == STORE_ERROR)
            *removed_r = 0;
    }
    pthread_mutex_unlock(&l->sweep_lock);
    return r;
}

static void lmdb_close(struct store *s)
{
    struct store_lmdb *l = lmdb_of(s);

    mdb_env_close(l->env);
    pthread_mutex_destroy(&l->sweep_lock);
    free(l);
}

static const struct store_ops lmdb_ops = {
    "lmdb", lmdb_get, lmdb_set, lmdb_incr, lmdb_del, lmdb_expire, lmdb_close,
};

static int lmdb_env_open(struct store_lmdb *l, const struct store_config *cfg, const char **error_r)
{
    MDB_txn *txn;
    int dead, rc;

    if ((rc = mdb_env_create(&l->env)) != 0 || (rc = mdb_env_set_mapsize(l->env, cfg->map_size)) != 0 ||
        (rc = mdb_env_set_maxreaders(l->env, cfg->readers > READERS_MIN ? cfg->readers : READERS_MIN)) != 0 ||
        (rc = mdb_env_open(l->env, cfg->path, MDB_NOSUBDIR | MDB_NOTLS | (cfg->sync_data_only ? MDB_NOMETASYNC : 0),
                           0600)) != 0) {
        *error_r = mdb_strerror(rc);
        return -1;
    }
    /* Reader slots of a process that was killed would pin old pages for ever. */
    mdb_reader_check(l->env, &dead);
    if ((rc = mdb_txn_begin(l->env, NULL, 0, &txn)) != 0) {
        *error_r = mdb_strerror(rc);
        return -1;
    }
    if ((rc = mdb_dbi_open(txn, NULL, 0, &l->dbi)) != 0) {
        mdb_txn_abort(txn);
        *error_r = mdb_strerror(rc);
        return -1;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        *error_r = mdb_strerror(rc);
        return -1;
    }
    return 0;
}

struct store *store_lmdb_open(const struct store_config *cfg, const char **error_r)
{
    struct store_lmdb *l = calloc(1, sizeof *l);

    if (l == NULL) {
        *error_r = "out of memory";
        return NULL;
    }
    l->base.ops = &lmdb_ops;
    if (pthread_mutex_init(&l->sweep_lock, NULL) != 0) {
        free(l);
        *error_r = "cannot make a mutex";
        return NULL;
    }
    if (lmdb_env_open(l, cfg, error_r) < 0) {
        if (l->env != NULL)
            mdb_env_close(l->env);
        pthread_mutex_destroy(&l->sweep_lock);
        free(l);
        return NULL;
    }
    return &l->base;
}
