/*
 * log.h: a small logging API: syslog (facility mail) or stderr.
 */
#ifndef MXG_MILTER_LOG_H
#define MXG_MILTER_LOG_H

#include <stdbool.h>

void log_open(const char *ident, bool to_stderr, int verbose);
/* Until the daemon detaches, copy syslog lines to stderr too, so start-up
   errors reach the admin's terminal. */
void log_tee_stderr(bool on);
int log_verbosity(void);

/* A line built already (a decision record: up to 8 KB, beyond the formatted lines' 2 KB). */
void log_info_line(const char *line);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* warn appends strerror(errno); warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A failure mxguard answered with a tempfail (an internal error): priority err. */
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Start-up only: log and exit(1). */
void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void log_fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
