/*
 * notify.h: tell the service manager (systemd's sd_notify protocol) that
 * mxguard is ready, reloading or stopping, and what rules it serves.
 */
#ifndef MXG_MILTER_NOTIFY_H
#define MXG_MILTER_NOTIFY_H

#include <stdbool.h>

#include "rules/ruleset.h"

/*
 * True when a service manager waits for our notifications (NOTIFY_SOCKET
 * is set): mxguard then stays in the foreground, as the unit's main
 * process, and logs to syslog. Logs a warning, once, when NOTIFY_SOCKET is
 * set but mxguard was built without libsystemd (nothing would be sent).
 */
bool notify_wanted(void);

/* With --chroot DIR (or NULL): warn that a notify socket outside it cannot be reached. */
void notify_check_chroot(const char *dir);

/* READY=1, with STATUS= naming the rule file and its rule and test counts. */
void notify_ready(const struct ruleset *rs);

/* RELOADING=1 and MONOTONIC_USEC=, before a reload. */
void notify_reloading(void);

/* READY=1 after a reload; kept says the new file was refused. */
void notify_reloaded(const struct ruleset *rs, bool kept);

/* STATUS= alone: a line for "systemctl status". */
void notify_status(const char *text);

/* STOPPING=1. */
void notify_stopping(void);

#endif
