/*
 * rules_holder.c: swap rule sets under a mutex held only for a pointer
 * copy and a reference count; evaluation itself never takes a lock.
 *
 * libmilter's own signal thread treats SIGHUP, SIGTERM and SIGINT as
 * "stop", so reloads come on SIGUSR1 through a thread of ours, which
 * tells a service manager RELOADING=1 and READY=1 around each.
 */
#include "milter/rules_holder.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "milter/log.h"
#include "milter/records.h"
#include "milter/metrics.h"
#include "milter/notify.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct ruleset *current;
static const char *rules_path;
static unsigned generation = 1;

/* Its per-rule counters, before any session sees it. */
static void attach(struct ruleset *rs)
{
    if (metrics_attach_rules(rs) < 0)
        log_warnx("out of memory for the counters of %s: its rules are not counted", ruleset_path(rs));
}

void rules_holder_init(struct ruleset *rs, const char *path)
{
    attach(rs);
    pthread_mutex_lock(&lock);
    current = rs;
    rules_path = path;
    pthread_mutex_unlock(&lock);
}

struct ruleset *rules_holder_acquire(void)
{
    struct ruleset *rs;

    pthread_mutex_lock(&lock);
    rs = ruleset_ref(current);
    pthread_mutex_unlock(&lock);
    return rs;
}

int rules_holder_reload(const char *why)
{
    struct diag diag;
    struct ruleset *fresh, *old;

    diag_init(&diag);
    fresh = ruleset_load(rules_path, &diag);
    for (size_t i = 0; i < diag.count; i++)
        log_warnx("%s: %s", why, diag.lines[i]);
    if (fresh == NULL) {
        log_warnx("%s: %s has %u error(s); still serving the previous rules (generation %u)",
                  why, rules_path, diag.errors, generation);
        diag_free(&diag);
        return -1;
    }
    diag_free(&diag);
    attach(fresh);
    pthread_mutex_lock(&lock);
    old = current;
    current = fresh;
    generation++;
    pthread_mutex_unlock(&lock);
    log_info("%s: loaded %s: %u rules (generation %u)", why, rules_path, ruleset_rule_count(fresh), generation);
    ruleset_unref(old); /* sessions still using it keep their own reference */
    return 0;
}

static void *signal_thread(void *arg)
{
    sigset_t set;
    int sig;

    (void)arg;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    for (;;) {
        if (sigwait(&set, &sig) == 0 && sig == SIGUSR1) {
            struct ruleset *rs;
            int rc;
            notify_reloading();
            records_reopen(); /* logrotate moved it; the signal also reloads */
            rc = rules_holder_reload("reload");
            metrics_reload(rc == 0);
            rs = rules_holder_acquire();
            notify_reloaded(rs, rc < 0);
            ruleset_unref(rs);
        }
    }
    return NULL;
}

int rules_holder_start_signal_thread(void)
{
    pthread_t t;

    if (pthread_create(&t, NULL, signal_thread, NULL) != 0)
        return -1;
    pthread_detach(t);
    return 0;
}

void rules_holder_shutdown(void)
{
    pthread_mutex_lock(&lock);
    ruleset_unref(current);
    current = NULL;
    pthread_mutex_unlock(&lock);
}
