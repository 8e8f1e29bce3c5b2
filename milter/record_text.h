/*
 * record_text.h: a decision record (rules/record.h) as the one log line
 * and the one JSON line mxguard writes for it (mxguard(8), RECORDS).
 */
#ifndef MXG_MILTER_RECORD_TEXT_H
#define MXG_MILTER_RECORD_TEXT_H

#include <stddef.h>

#include "rules/record.h"

#define RECORD_LINE_MAX 8000
#define RECORD_CLIENT_MAX 300 /* "name[address]": a name cut at 200 bytes */ /* a record line's bytes: syslog daemons keep 8 KB */

/* Who the record is about, as the daemon's other log lines name it. */
struct record_ids {
    const char *session;  /* mxguard's session id */
    const char *qid;      /* the MTA's queue id, or NULL */
};

/*
 * The record as "record=message session=... ..." in out (at most
 * RECORD_LINE_MAX bytes with its NUL). Fields that do not fit are left
 * out, whole, and counted in a last "cut=N" field. Returns out.
 */
const char *record_log_line(const struct record *r, const struct record_ids *ids, char *out, size_t outsz);

/* The client's name as the MTA reported it, or NULL when it reported none
   (postfix and sendmail write "[address]" for a client without reverse DNS). */
const char *record_client_name(const struct envelope *env);

/* "name[address]" as postfix writes it ("unknown[address]", "unknown[unknown]"), unescaped. */
void record_client_text(const struct envelope *env, char out[RECORD_CLIENT_MAX]);

/* "2026-12-06T22:39:07.123Z" */
void record_time_text(const struct timespec *ts, char out[32]);

/*
 * The record as one JSON object on one line, no newline; valid UTF-8
 * (invalid bytes become U+FFFD). malloc'd; NULL when out of memory.
 */
char *record_json_line(const struct record *r, const struct record_ids *ids);

#endif
