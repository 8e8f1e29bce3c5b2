/*
 * log.c: one line per event, to syslog (facility mail) or to stderr in the
 * foreground. Safe from any thread: each line is written with one call.
 *
 * Must never write a line break or other control byte it was handed: a
 * header value's folding (CR, LF, TAB) or anything else that slipped past
 * logfmt is written \xHH, so one event is one line in either mode.
 */
#include "milter/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static bool use_stderr = true;
static bool tee_stderr;
static int verbosity;
static const char *log_ident = "mxguard";

void log_open(const char *ident, bool to_stderr, int verbose)
{
    log_ident = ident;
    use_stderr = to_stderr;
    verbosity = verbose;
    if (!to_stderr)
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_tee_stderr(bool on)
{
    tee_stderr = on;
}

int log_verbosity(void)
{
    return verbosity;
}

/* Room for a record line (8 KB) and its stamp; a longer line is cut, and says so. */
#define LOG_LINE_MAX 8400

static bool control_byte(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* in, with every control byte written \xHH, in out; in itself when it has none. */
static const char *one_line(const char *in, char *out, size_t outsz)
{
    static const char hex[] = "0123456789abcdef";
    const char *p = in;
    size_t o = 0;

    while (*p != '\0' && !control_byte((unsigned char)*p))
        p++;
    if (*p == '\0')
        return in;
    for (p = in; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (o + 8 >= outsz) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (control_byte(c)) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return out;
}

/* One line, with mxguard's own text after ": " when suffix is given. */
static void write_line(int prio, const char *raw, const char *suffix)
{
    char clean[LOG_LINE_MAX];
    const char *msg = one_line(raw, clean, sizeof clean);

    if (use_stderr) {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(stderr, "%s %s[%ld]: %s%s%s\n", stamp, log_ident, (long)getpid(), msg,
                suffix ? ": " : "", suffix ? suffix : "");
    } else {
        if (suffix != NULL)
            syslog(prio, "%s: %s", msg, suffix);
        else
            syslog(prio, "%s", msg);
        if (tee_stderr)
            fprintf(stderr, "mxguard: %s%s%s\n", msg, suffix ? ": " : "", suffix ? suffix : "");
    }
}

static void emit(int prio, const char *fmt, va_list ap, const char *suffix)
{
    char msg[2048];

    vsnprintf(msg, sizeof msg, fmt, ap);
    write_line(prio, msg, suffix);
}

void log_info_line(const char *line)
{
    write_line(LOG_INFO, line, NULL);
}

#define LOG_FN(name, prio, with_errno)                              \
    void name(const char *fmt, ...)                                 \
    {                                                               \
        char err[128];                                              \
        va_list ap;                                                 \
        const char *suffix = NULL;                                  \
        if (with_errno)                                             \
            suffix = strerror_r(errno, err, sizeof err);            \
        va_start(ap, fmt);                                          \
        emit(prio, fmt, ap, suffix);                                \
        va_end(ap);                                                 \
    }

LOG_FN(log_info, LOG_INFO, 0)
LOG_FN(log_warn, LOG_WARNING, 1)
LOG_FN(log_warnx, LOG_WARNING, 0)
LOG_FN(log_errx, LOG_ERR, 0)

void log_debug(const char *fmt, ...)
{
    va_list ap;

    if (verbosity < 1)
        return;
    va_start(ap, fmt);
    emit(LOG_DEBUG, fmt, ap, NULL);
    va_end(ap);
}

void log_fatal(const char *fmt, ...)
{
    char err[128];
    const char *suffix = strerror_r(errno, err, sizeof err);
    va_list ap;

    va_start(ap, fmt);
    emit(LOG_ERR, fmt, ap, suffix);
    va_end(ap);
    exit(1);
}

void log_fatalx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emit(LOG_ERR, fmt, ap, NULL);
    va_end(ap);
    exit(1);
}
