/*
 * session.h: per-connection state, kept only through smfi_setpriv.
 *
 * libmilter's worker pool may run one connection's callbacks on different
 * threads, never at once: the session needs no lock, but nothing of it may
 * live in thread-local storage.
 */
#ifndef MXG_MILTER_SESSION_H
#define MXG_MILTER_SESSION_H

#include <stdbool.h>

#include "policy/smtp/envelope.h"
#include "rules/flow.h"
#include "rules/ruleset.h"

struct session {
    struct envelope env;
    struct ruleset *rules;     /* the rules this connection started with */
    struct flow flow;          /* verdicts that carry across stages */
    char id[24];               /* our own id: the MTA's queue id comes late */
    char queue_id[32];         /* MTA macro i, once known */
    char client[300];          /* "name[address]" for logs */
    bool failed;               /* an internal error seen in a no-reply step */
    char **header_names;       /* names of this message's headers, when rules delete or change some */
    size_t nheaders;
    unsigned messages;
};

struct dns_resolver;
struct sendauth_config;
struct statecheck_config;

/* The resolver sessions ask, and how long one stage may wait (set once). */
void session_set_dns(struct dns_resolver *r, int budget_ms);

/* SPF and DKIM checkers and our authserv-id, shared by every session (set once). */
void session_set_auth(const struct sendauth_config *cfg);

/* The state store for greylisting and rate limits (set once). */
void session_set_state(const struct statecheck_config *cfg);

/* Takes over the reference to rules. NULL when out of memory. */
struct session *session_new(struct ruleset *rules);
void session_free(struct session *s);

#define SESSION_HEADERS_MAX 2000 /* headers counted per message */

/* Remember a header name (for delete-header and change-header). -1 out of memory. */
int session_note_header(struct session *s, const char *name);
/* How many headers of this name the message has so far (case-insensitive). */
unsigned session_header_occurrences(const struct session *s, const char *name);
void session_new_message(struct session *s);

/* Describe the client for logs once its facts are known. */
void session_set_client_text(struct session *s);

#endif
