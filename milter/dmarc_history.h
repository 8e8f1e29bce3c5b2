/*
 * dmarc_history.h: DMARC aggregate-report data (--dmarc-history): one
 * record per message in the history-file format OpenDMARC's milter
 * writes (its HistoryFile) and its opendmarc-import reads into the
 * database opendmarc-reports sends RUA reports from.
 *
 * A record is lines "key value": job, reporter, received, ipaddr, from,
 * mfrom, spf, one "dkim DOMAIN SELECTOR RESULT" per signature evaluated,
 * pdomain, policy, one rua per URI (or "rua -"), pct, adkim, aspf, p, sp,
 * align_dkim, align_spf, arc, arc_policy, action; the numbers are
 * OpenDMARC's codes (man/mxguard.8, FILES). Only a message whose From:
 * domain has a DMARC record and was evaluated (pass or fail) gets one,
 * as OpenDMARC records by default.
 *
 * Text from outside (the queue id, domains, selectors, rua URIs) never
 * breaks a line or a field: every byte outside printable ASCII, the space
 * and the backslash are written as \xHH (the importer splits on spaces).
 */
#ifndef MXG_MILTER_DMARC_HISTORY_H
#define MXG_MILTER_DMARC_HISTORY_H

#include <stddef.h>
#include <time.h>

#include "policy/auth/dkim.h"
#include "policy/auth/dmarc.h"
#include "policy/auth/spf.h"
#include "policy/smtp/ipaddr.h"

/* Enough for any record: every field at its longest, every byte escaped. */
#define DMARC_HISTORY_MAX (24 * 1024)

/* What was done with the message: OpenDMARC's action codes. */
enum dmarc_history_action {
    DMARC_HISTORY_REJECT = 0,
    DMARC_HISTORY_DISCARD = 1,
    DMARC_HISTORY_ACCEPT = 2,
    DMARC_HISTORY_TEMPFAIL = 3,
    DMARC_HISTORY_QUARANTINE = 4
};

struct dmarc_history_msg {
    const char *job;                   /* the MTA's queue id (or ours when it gave none) */
    const char *reporter;              /* our authserv-id */
    time_t received;
    const struct ipaddr *client;       /* NULL: no record (the importer needs an address) */
    const char *mfrom_domain;          /* the envelope sender's domain; "" for the null sender */
    const struct dmarc_outcome *dmarc; /* NULL: not evaluated, no record */
    const struct dkim_outcome *dkim;   /* NULL: not verified */
    const struct spf_outcome *spf;     /* MAIL FROM's; NULL: not checked (written as -1) */
    enum dmarc_history_action action;
};

/*
 * Format one message's record into buf, NUL-terminated. Returns its
 * length; 0 when the message gets no record (buf untouched); -1 with
 * *error_r when bufsz is too small (buf holds no partial record).
 */
int dmarc_history_format(const struct dmarc_history_msg *m, char *buf, size_t bufsz,
                         const char **error_r);

/* The daemon's file: opened appending (0640) as the filter's user, reopened with
   the records on SIGUSR1. reporter is kept by pointer. 0, or -1 with errno. */
int dmarc_history_open(const char *path, const char *reporter);
void dmarc_history_close(void);

struct session;
struct record;
/* One message's record (from r->dmarc), when the file is open and DMARC judged the message. */
void dmarc_history_note(const struct session *s, const struct record *r);

#endif
