/*
 * session.h: the daemon's per-connection state, kept only through
 * smfi_setpriv: the engine's connection and what the logs name it by.
 *
 * libmilter's worker pool may run one connection's callbacks on different
 * threads, never at once: the session needs no lock, but nothing of it may
 * live in thread-local storage.
 */
#ifndef MXG_MILTER_SESSION_H
#define MXG_MILTER_SESSION_H

#include <stdbool.h>

#include "milter/logfmt.h"
#include "rules/conn.h"
#include "rules/ruleset.h"

struct session {
    struct conn *conn;         /* the engine's connection: facts, verdicts, checks */
    char id[24];               /* our own id: the MTA's queue id comes late */
    char queue_id[LOGFMT_BUF];  /* MTA macro i, once known, as logs write it */
    char qid_raw[128];          /* the same as the MTA gave it (bounded), for records */
    char client[LOGFMT_BUF];    /* "name[address]", as logs write it (milter/logfmt.h) */
};

/* The services every connection shares (set once, before the first session). */
void session_set_services(const struct conn_services *svc);

/* Takes over the reference to rules. NULL when out of memory. */
struct session *session_new(struct ruleset *rules);
void session_free(struct session *s);

/* The rules the session started with. */
const struct ruleset *session_rules(const struct session *s);

/* Describe the client for logs once its facts are known. */
void session_set_client_text(struct session *s);

/* A new message: the queue id is not known yet. */
void session_new_message(struct session *s);

#endif
