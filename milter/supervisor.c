/*
 * supervisor.c: the parent process. It holds no rules and talks to no MTA;
 * it only forks the filter, forwards signals and restarts it (and tells a
 * service manager when it stops or restarts one: milter/notify.c).
 *
 * The listening socket was opened before the fork and stays open here, so
 * a restarted child serves the same socket and connections made while no
 * child runs wait in the listen queue instead of failing.
 *
 * A filter that dies while its callbacks work on messages has each of
 * those messages charged one crash by the poison guard (milter/poison.c,
 * which holds a message charged at --poison-crashes crashes); only a death
 * the guard cannot attribute counts towards the crash-loop limit.
 *
 * It must never give up on a filter that crashes (a crash loop backs off
 * and keeps restarting, logged at err), and neither process may outlive
 * the other: the filter gets SIGTERM when the supervisor dies
 * (PR_SET_PDEATHSIG), and a socket path a live listener holds is refused
 * at start rather than taken over.
 */
#include "milter/supervisor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "milter/log.h"
#include "milter/notify.h"
#include "milter/poison.h"

#define STOP_GRACE_SECONDS 30
#define BACKOFF_MIN_SECONDS 1
#define BACKOFF_MAX_SECONDS 60

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
    pid_t pid, parent = getpid();

    fflush(NULL); /* the child must not write the parent's buffers again */
    pid = fork();
    if (pid == 0) {
        sigset_t none;
        /* Never an orphan: SIGTERM when the supervisor dies, and if it
           died before the prctl, its pid is no longer our parent. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
            _exit(1);
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

/* Keeps the times of recent deaths; true when more than max fell within window. */
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

/*
 * The pause before the next start: BACKOFF_MIN_SECONDS, doubled at each
 * death of a crash loop (more than max within window) up to
 * BACKOFF_MAX_SECONDS, and back to the minimum once the loop is over.
 */
static int next_delay(int delay, int looping)
{
    if (!looping)
        return BACKOFF_MIN_SECONDS;
    return delay * 2 > BACKOFF_MAX_SECONDS ? BACKOFF_MAX_SECONDS : delay * 2;
}

static void death_text(int status, char *how, size_t size)
{
    if (WIFSIGNALED(status))
        snprintf(how, size, "died of signal %d", WTERMSIG(status));
    else
        snprintf(how, size, "exited with status %d", WEXITSTATUS(status));
}

/* One loud line per death: how it ended and when the next filter starts. */
static void log_death(pid_t pid, int status, int looping, const struct supervisor_limits *lim, int delay)
{
    char how[64];

    death_text(status, how, sizeof how);
    if (looping)
        log_errx("filter process %ld %s; crash loop (more than %d deaths within %d seconds): "
                 "restarting it in %d s", (long)pid, how, lim->max_restarts, lim->window, delay);
    else
        log_errx("filter process %ld %s; restarting it in %d s", (long)pid, how, delay);
}

/*
 * A filter that died of a signal, or exited with a status other than 0 and
 * SUPERVISOR_EXIT_FATAL, while callbacks were working on messages: each of
 * those messages is charged one crash (milter/poison.c). Returns how many;
 * 0 when the poison guard cannot attribute the death.
 */
static unsigned charge_death(int status)
{
    if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0))
        return poison_charge_crash(time(NULL));
    poison_clear_slots();
    return 0;
}

/* A death the poison guard attributed to the messages in flight: loud, but no crash loop. */
static void log_charged_death(pid_t pid, int status, unsigned charged)
{
    char how[64];

    death_text(status, how, sizeof how);
    log_errx("filter process %ld %s while working on %u message%s (each charged one crash by the "
             "poison guard; not counted towards --restart-limit); restarting it in %d s", (long)pid, how,
             charged, charged == 1 ? "" : "s", BACKOFF_MIN_SECONDS);
}

/* Sleep delay seconds, still answering signals. Returns 1 if asked to stop. */
static int pause_before_restart(int delay, const sigset_t *set)
{
    time_t until = time(NULL) + delay;

    for (;;) {
        siginfo_t info;
        time_t left = until - time(NULL);
        struct timespec tick = { left > 0 ? left : 0, 0 };
        int sig;

        if (left <= 0)
            return 0;
        sig = sigtimedwait(set, &info, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            log_info("stopping on signal %d", sig);
            notify_stopping();
            return 1;
        }
        if (sig == SIGCHLD)
            while (waitpid(-1, NULL, WNOHANG) > 0)
                continue;
    }
}

int supervisor_run(const struct supervisor_limits *lim, int (*child_main)(void *), void *arg)
{
    sigset_t set;
    time_t *times = calloc((size_t)lim->max_restarts + 1, sizeof *times);
    int delay = BACKOFF_MIN_SECONDS;

    if (times == NULL)
        return 1;
    signal_set(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
    for (;;) {
        int status = 0, looping, wait;
        unsigned charged;
        pid_t pid = start_child(child_main, arg);

        if (pid < 0 || wait_child(pid, &status, &set)) {
            free(times);
            return pid < 0 ? 1 : 0;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == SUPERVISOR_EXIT_FATAL) {
            log_errx("filter process %ld failed fatally; not restarting", (long)pid);
            free(times);
            return 1;
        }
        if ((charged = charge_death(status)) > 0) {
            /* Attributed: not a crash loop's death; the backoff stays where it was. */
            log_charged_death(pid, status, charged);
            looping = 0;
            wait = BACKOFF_MIN_SECONDS;
        } else {
            looping = too_many(times, lim->max_restarts, lim->window);
            wait = delay = next_delay(delay, looping);
            log_death(pid, status, looping, lim, delay);
        }
        notify_status(looping ? "filter process in a crash loop; restarting it with backoff"
                              : "filter process died; starting a new one");
        if (pause_before_restart(wait, &set)) {
            free(times);
            return 0;
        }
    }
}

int supervisor_claim_socket(const char *path, const char **error_r)
{
    static char error[512];
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd, rc;

    if (strlen(path) >= sizeof sun.sun_path) {
        *error_r = "socket path too long";
        return -1;
    }
    strcpy(sun.sun_path, path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return 0; /* cannot tell: libmilter decides */
    rc = connect(fd, (struct sockaddr *)&sun, sizeof sun);
    close(fd);
    if (rc == 0) {
        snprintf(error, sizeof error, "socket %s is in use: another mxguard (or another program) "
                 "listens on it; stop that one first", path);
        *error_r = error;
        return -1;
    }
    if (errno == ECONNREFUSED) {
        if (unlink(path) == 0)
            log_info("removed stale socket %s (nothing listened on it)", path);
        else
            log_warn("cannot remove stale socket %s", path);
    }
    return 0;
}
