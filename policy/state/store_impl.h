/*
 * store_impl.h: what a store backend provides (for store.c and the
 * backends only; everyone else uses store.h).
 */
#ifndef MXG_POLICY_STORE_IMPL_H
#define MXG_POLICY_STORE_IMPL_H

#include <stdatomic.h>

#include "policy/state/store.h"

struct store_ops {
    const char *name;
    enum store_result (*get)(struct store *s, const void *key, size_t klen, void *val, size_t valsz,
                             size_t *vlen_r, time_t now, const char **why_r);
    enum store_result (*set)(struct store *s, const void *key, size_t klen, const void *val, size_t vlen,
                             time_t expires, time_t now, const char **why_r);
    enum store_result (*incr)(struct store *s, const void *key, size_t klen, int64_t by, time_t expires,
                              time_t now, int64_t *value_r, const char **why_r);
    enum store_result (*del)(struct store *s, const void *key, size_t klen, time_t now, const char **why_r);
    enum store_result (*expire)(struct store *s, time_t now, unsigned batch, unsigned *removed_r,
                                const char **why_r);
    void (*close)(struct store *s);
};

/* Each backend's own struct starts with this (allocated zeroed: no
   calls yet, and up). store.c alone touches the counters. */
struct store {
    const struct store_ops *ops;
    atomic_ulong calls, errors, outages;
    atomic_bool down;   /* the backend's last answer was an error */
};

struct store *store_lmdb_open(const struct store_config *cfg, const char **error_r);
struct store *store_redis_open(const struct store_config *cfg, const char **error_r);

#endif
