/*
 * supervisor.h: run the filter in a child process and restart it when it
 * dies, with a limit so that a crash loop ends instead of spinning.
 */
#ifndef MXG_MILTER_SUPERVISOR_H
#define MXG_MILTER_SUPERVISOR_H

/* A child exiting with this status has a problem a restart cannot fix. */
#define SUPERVISOR_EXIT_FATAL 78

struct supervisor_limits {
    int max_restarts;  /* within window seconds */
    int window;
};

/*
 * Forks child_main(arg) and waits. SIGHUP and SIGUSR1 are passed on to the
 * child as SIGUSR1 (reload); SIGTERM and SIGINT stop the child and return
 * 0. Returns 1 when the restart limit is hit or the child fails fatally.
 */
int supervisor_run(const struct supervisor_limits *lim, int (*child_main)(void *), void *arg);

#endif
