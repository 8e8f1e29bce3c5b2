/*
 * conn_record.h: the engine's side of the decision record (rules/record.h):
 * filled as a connection's stages are decided, written out once through
 * the driver's sink when the message or the connection ends.
 */
#ifndef MXG_RULES_CONN_RECORD_H
#define MXG_RULES_CONN_RECORD_H

#include "rules/conn.h"
#include "rules/record.h"

struct conn_record {
    struct record r;
    bool open;                  /* something happened that is not written yet */
    bool accepted;              /* a rule accepted the message earlier: accepted_by */
    struct record_verdict accepted_by;
    /* Running totals of the session's checks when this record began. */
    unsigned long mark_dns, mark_spf, mark_dkim, mark_dmarc, mark_store;
    unsigned mark_errors, mark_greylist;
    record_sink_fn *sink;
    void *sink_ctx;
};

/* A new record; a message record that follows the connection's keeps what connect and HELO did. */
void conn_record_begin(struct conn_record *cr, enum record_kind kind, const struct envelope *env);
void conn_record_time(struct conn_record *cr, enum stage stage, long long us);
/* A step's decision (not a recipient's: conn_record_rcpt). A refusal after
   the last message's record (a second HELO, say) starts a connection record. */
void conn_record_decision(struct conn_record *cr, enum stage stage, const struct decision *d,
                          const struct envelope *env);
void conn_record_rcpt(struct conn_record *cr, const char *path, const struct decision *d);
/* The end of data was answered d, with edits header edits (quarantine among them). */
void conn_record_eom(struct conn_record *cr, const struct decision *d, unsigned edits, bool quarantined);
/* Write the record out (if open) and close it. */
void conn_record_emit(struct conn_record *cr, const struct envelope *env, const struct ruleset *rs);

#endif
