/*
 * notify.c: the sd_notify messages mxguard sends to systemd (READY=1,
 * RELOADING=1, STOPPING=1, STATUS=). It only reports: it never changes
 * what the daemon does, and a message that cannot be sent is logged and
 * otherwise ignored. Without NOTIFY_SOCKET, or without libsystemd, every
 * call does nothing.
 */
#include "milter/notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "milter/log.h"

bool notify_wanted(void)
{
    const char *sock = getenv("NOTIFY_SOCKET");

    if (sock == NULL || sock[0] == '\0')
        return false;
#ifndef HAVE_LIBSYSTEMD
    static bool warned;
    if (!warned)
        log_warnx("NOTIFY_SOCKET is set, but this mxguard was built without libsystemd: "
                  "it cannot tell the service manager that it is ready (use Type=simple)");
    warned = true;
#endif
    return true;
}

void notify_check_chroot(const char *dir)
{
    const char *sock = getenv("NOTIFY_SOCKET");

    /* An abstract socket ("@name") does not live in the file system. */
    if (dir != NULL && notify_wanted() && sock[0] == '/')
        log_warnx("--chroot %s under a service manager: %s must be reachable inside the chroot, "
                  "or systemd never hears that mxguard is ready", dir, sock);
}

/* Send one message; STATUS= text is one line, so newlines become spaces. */
static void send_message(const char *msg)
{
#ifdef HAVE_LIBSYSTEMD
    static bool failed;
    char line[1024];
    int rc;

    if (getenv("NOTIFY_SOCKET") == NULL)
        return;
    snprintf(line, sizeof line, "%s", msg);
    /* Only STATUS= (always last) may carry a file name with a newline in it. */
    for (char *s = strstr(line, "STATUS="); s != NULL && *s != '\0'; s++)
        if (*s == '\n')
            *s = ' ';
    rc = sd_notify(0, line);
    if (rc < 0 && !failed) {
        failed = true;
        log_warnx("sd_notify to %s: %s", getenv("NOTIFY_SOCKET"), strerror(-rc));
    }
#else
    (void)msg;
#endif
}

static void describe(char *buf, size_t size, const char *state, const struct ruleset *rs, const char *tail)
{
    snprintf(buf, size, "%sSTATUS=serving %s: %u rules, %u tests%s", state, ruleset_path(rs),
             ruleset_rule_count(rs), ruleset_test_count(rs), tail);
}

void notify_ready(const struct ruleset *rs)
{
    char msg[1024];

    describe(msg, sizeof msg, "READY=1\n", rs, "");
    send_message(msg);
}

void notify_reloading(void)
{
    char msg[128];
    struct timespec now;

    /* systemd 253 wants the time of the request with RELOADING=1 (Type=notify-reload). */
    clock_gettime(CLOCK_MONOTONIC, &now);
    snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the rules",
             (unsigned long long)now.tv_sec * 1000000ULL + (unsigned long long)now.tv_nsec / 1000ULL);
    send_message(msg);
}

void notify_reloaded(const struct ruleset *rs, bool kept)
{
    char msg[1024];

    describe(msg, sizeof msg, "READY=1\n", rs,
             kept ? " (the last reload was refused: see the log)" : "");
    send_message(msg);
}

void notify_status(const char *text)
{
    char msg[1024];

    snprintf(msg, sizeof msg, "STATUS=%s", text);
    send_message(msg);
}

void notify_stopping(void)
{
    send_message("STOPPING=1\nSTATUS=stopping");
}
