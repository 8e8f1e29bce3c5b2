/*
 * supervisor.h: run the filter in a child process and restart it when it
 * dies, backing off (never giving up) in a crash loop.
 */
#ifndef MXG_MILTER_SUPERVISOR_H
#define MXG_MILTER_SUPERVISOR_H

/* A child exiting with this status has a problem a restart cannot fix. */
#define SUPERVISOR_EXIT_FATAL 78

struct supervisor_limits {
    int max_restarts;  /* more deaths than this within window seconds: a crash loop */
    int window;
};

/*
 * Forks child_main(arg) and waits. SIGHUP and SIGUSR1 are passed on to the
 * child as SIGUSR1 (reload); SIGTERM and SIGINT stop the child and return
 * 0. A child that dies is restarted after 1 s, or in a crash loop after a
 * pause doubled at each death up to 60 s. A death the poison guard
 * attributes to the messages in flight (milter/poison.h) is restarted
 * after 1 s and does not count towards the crash loop. Returns 1 only when the child
 * fails fatally (SUPERVISOR_EXIT_FATAL) or cannot be forked.
 */
int supervisor_run(const struct supervisor_limits *lim, int (*child_main)(void *), void *arg);

/*
 * Before the milter socket is opened at path: a socket file nothing
 * listens on is removed (logged); one a live process listens on is an
 * error (another mxguard, or an orphaned filter): -1 with *error_r.
 */
int supervisor_claim_socket(const char *path, const char **error_r);

#endif
