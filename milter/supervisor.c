/*
 * supervisor.c: the parent process. It holds no rules and talks to no MTA;
 * it only forks the filter, forwards signals and restarts it (and tells a
 * service manager when it stops or restarts one: milter/notify.c).
 *
 * The listening socket was opened before the fork and stays open here, so
 * a restarted child serves the same socket and connections made while no
 * child runs wait in the listen queue instead of failing.
 */
#include "milter/supervisor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "milter/log.h"
#include "milter/notify.h"

#define STOP_GRACE_SECONDS 30

static void signal_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGCHLD);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
}

static pid_t start_child(int (*child_main)(void *), void *arg)
{
    pid_t pid;

    fflush(NULL); /* the child must not write the parent's buffers again */
    pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* exit, not _exit: a sanitizer build checks the filter for leaks. */
        exit(child_main(arg));
    }
    if (pid < 0)
        log_warn("fork");
    else
        log_info("filter process %ld started", (long)pid);
    return pid;
}

static void describe_exit(pid_t pid, int status)
{
    if (WIFSIGNALED(status))
        log_warnx("filter process %ld died of signal %d", (long)pid, WTERMSIG(status));
    else
        log_warnx("filter process %ld exited with status %d", (long)pid, WEXITSTATUS(status));
}

/* Wait for the child to end; handles signals meanwhile. Returns 1 if asked to stop. */
static int wait_child(pid_t pid, int *status, const sigset_t *set)
{
    int stopping = 0;
    time_t stop_at = 0;

    for (;;) {
        siginfo_t info;
        struct timespec tick = { 1, 0 };
        int sig = sigtimedwait(set, &info, &tick);

        if (waitpid(pid, status, WNOHANG) == pid)
            return stopping;
        if (stopping && time(NULL) - stop_at > STOP_GRACE_SECONDS) {
            log_warnx("filter process %ld did not stop in %d s; killing it", (long)pid, STOP_GRACE_SECONDS);
            kill(pid, SIGKILL);
        }
        if (sig == SIGTERM || sig == SIGINT) {
            if (!stopping) {
                log_info("stopping on signal %d", sig);
                notify_stopping();
            }
            stopping = 1;
            stop_at = time(NULL);
            kill(pid, SIGTERM);
        } else if (sig == SIGHUP || sig == SIGUSR1) {
            log_info("reload requested: signalling filter process %ld", (long)pid);
            kill(pid, SIGUSR1);
        }
    }
}

/* Keeps the times of recent restarts; true when the limit is exceeded. */
static int too_many(time_t *times, int max, int window)
{
    time_t now = time(NULL);
    int recent = 0;

    memmove(times + 1, times, (size_t)max * sizeof *times);
    times[0] = now;
    for (int i = 0; i <= max; i++)
        if (times[i] != 0 && now - times[i] < window)
            recent++;
    return recent > max;
}

int supervisor_run(const struct supervisor_limits *lim, int (*child_main)(void *), void *arg)
{
    sigset_t set;
    time_t *times = calloc((size_t)lim->max_restarts + 1, sizeof *times);

    if (times == NULL)
        return 1;
    signal_set(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
    for (;;) {
        int status = 0;
        pid_t pid = start_child(child_main, arg);

        if (pid < 0 || wait_child(pid, &status, &set)) {
            free(times);
            return pid < 0 ? 1 : 0;
        }
        describe_exit(pid, status);
        if (WIFEXITED(status) && WEXITSTATUS(status) == SUPERVISOR_EXIT_FATAL) {
            log_warnx("filter process failed fatally; not restarting");
            free(times);
            return 1;
        }
        if (too_many(times, lim->max_restarts, lim->window)) {
            log_warnx("filter process died %d times within %d seconds; giving up",
                      lim->max_restarts + 1, lim->window);
            free(times);
            return 1;
        }
        notify_status("filter process died; starting a new one");
        /* A short pause, still answering TERM, so a crash loop cannot spin. */
        {
            siginfo_t info;
            struct timespec pause = { 1, 0 };
            int sig = sigtimedwait(&set, &info, &pause);
            if (sig == SIGTERM || sig == SIGINT) {
                notify_stopping();
                free(times);
                return 0;
            }
        }
    }
}
