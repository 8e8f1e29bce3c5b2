/*
 * state_setup.c: open the state store in the filter process (after the
 * fork and the privilege drop, so the LMDB file belongs to the run user)
 * and sweep expired entries in the background, in small batches so that
 * a sweep never holds up the writers for long.
 */
#include "milter/state_setup.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "milter/log.h"

#define SWEEP_INTERVAL 60   /* seconds between sweeps */
#define SWEEP_BATCH 1000    /* entries looked at in one write */

/* The store says when it loses and regains its server, once each. */
static void store_log(void *ctx, enum store_log_level level, const char *message)
{
    (void)ctx;
    if (level == STORE_LOG_WARNING)
        log_warnx("state store: %s", message);
    else
        log_info("state store: %s", message);
}

int state_config(const struct options *o, struct store_config *sc, const char **error_r)
{
    store_config_init(sc);
    for (int i = 0; i < o->nstore_settings; i++)
        if (store_config_set_pair(sc, o->store_settings[i], error_r) < 0)
            return -1;
    /* A reader slot for each session's thread, and the sweep's and the metrics'. */
    sc->readers = o->max_sessions + 16;
    sc->log = store_log;
    return 0;
}

static void *sweep(void *arg)
{
    struct store *s = arg;

    for (;;) {
        unsigned removed = SWEEP_BATCH;
        const char *why;
        sleep(SWEEP_INTERVAL);
        while (removed == SWEEP_BATCH)
            if (store_expire(s, time(NULL), SWEEP_BATCH, &removed, &why) != STORE_FOUND)
                break; /* the store logs its own outages */
    }
    return NULL;
}

int state_open(const struct options *o, struct store **store_r, const char **error_r)
{
    struct store_config sc;

    if (state_config(o, &sc, error_r) < 0 || (*store_r = store_open(&sc, error_r)) == NULL)
        return -1;
    return 0;
}

int state_setup(const struct options *o, bool needed, struct statecheck_config *cfg, const char **error_r)
{
    pthread_t t;

    memset(cfg, 0, sizeof *cfg);
    if (!needed && o->nstore_settings == 0)
        return 0;
    if (state_open(o, &cfg->store, error_r) < 0)
        return -1;
    if (pthread_create(&t, NULL, sweep, cfg->store) == 0)
        pthread_detach(t);
    else
        log_warnx("state store: cannot start the sweep thread; old entries stay until they are read");
    log_info("state store: %s", store_backend_name(cfg->store));
    return 0;
}
