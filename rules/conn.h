/*
 * conn.h: the engine's connection object, the one session every driver
 * shares.
 *
 * The daemon's libmilter callbacks, the session simulator and the test
 * cases a rule file carries all hand what the MTA said to a struct conn
 * and get back a resolved decision: what to answer, with which reply, by
 * which rule, and at the end of the message which header edits to make.
 * How stages follow each other, when a message starts afresh, which
 * recipients count, and how a DNS or internal failure is answered are
 * decided here and nowhere else, so the drivers cannot drift apart.
 *
 * Nothing here knows about libmilter.
 */
#ifndef MXG_RULES_CONN_H
#define MXG_RULES_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/smtp/envelope.h"
#include "rules/flow.h"
#include "rules/record.h"
#include "rules/ruleset.h"

struct dns_resolver;
struct sendauth_config;
struct statecheck_config;
struct clamd_config;

/* What the process shares with every connection, handed over once. */
struct conn_services {
    struct dns_resolver *resolver;        /* NULL: DNS facts read as temporary failures */
    int dns_budget_ms;                    /* how long one stage may wait for DNS */
    const struct sendauth_config *auth;   /* SPF, DKIM, authserv-id; NULL: not set up */
    const struct statecheck_config *state;/* store and clock; NULL or no store: skipped */
    const struct clamd_config *clamd;     /* --clamd; NULL: virus.* facts read as failed scans */
};

/* Why a decision is a tempfail the rules did not ask for. */
enum conn_failure {
    CONN_OK = 0,
    CONN_DNS_FAILURE,     /* a DNS list with "on-error tempfail" did not answer: 451 4.4.3 */
    CONN_INTERNAL_ERROR   /* out of memory, a failed evaluation: 451 4.3.0 */
};

/* What the MTA is told about one command. */
struct decision {
    struct verdict v;         /* the rules' verdict; on a failure: tempfail with its reply, no rule */
    enum flow_origin origin;
    enum conn_failure failure;
    const char *why;          /* static: what failed, for the log */
    enum action answer;       /* CONTINUE, ACCEPT, REJECT, TEMPFAIL or DISCARD */
    bool rcpt_accepted;       /* rcpt: the recipient counts as one of the message's */
    char tested[600];         /* with conn_set_explain: the facts the deciding rule tested */
};

/* Header edits at end of message, in the order they are made. */
enum edit_kind {
    EDIT_REMOVE_FORGED,  /* delete Authentication-Results claiming our id, at positions[] */
    EDIT_INSERT_TOP,     /* insert name: value above every other header */
    EDIT_ADD,            /* append name: value */
    EDIT_CHANGE,         /* the first name: header gets value */
    EDIT_DELETE,         /* every name: header, positions 1..count */
    EDIT_QUARANTINE      /* hold the message, value is the reason */
};

struct conn_edit {
    enum edit_kind kind;
    enum action action;        /* the rule's effect, for logs and the simulator */
    const char *name;
    const char *value;
    const unsigned *positions; /* EDIT_REMOVE_FORGED: ascending, 1-based */
    size_t count;              /* EDIT_REMOVE_FORGED, EDIT_DELETE: how many */
    const struct rule *rule;   /* NULL for the removal of forged headers */
};

struct conn;

/*
 * A new connection on rules (the reference is taken over, and released
 * even on failure). NULL when out of memory, with *error_r set.
 */
struct conn *conn_new(struct ruleset *rules, const struct conn_services *svc, const char **error_r);
void conn_free(struct conn *c);

/*
 * Where the connection's records go (rules/record.h): one per message, at
 * conn_end_message, a new MAIL FROM, an abort or conn_free, and one for a
 * connection that ends without a message. Without a sink none is made.
 */
void conn_set_record_sink(struct conn *c, record_sink_fn *fn, void *ctx);

/* Fill decision.tested (the simulator and rule tests show it; the daemon does not). */
void conn_set_explain(struct conn *c, bool on);

/* The MTA's macros, looked up when a rule reads one. */
void conn_set_macros(struct conn *c, envelope_macro_fn *fn, void *ctx);

/*
 * Header values reach conn_header as they were on the wire, with the
 * whitespace after the colon (the MTA negotiated SMFIP_HDR_LEADSPC; the
 * simulator and rule tests read the text). Off (the default): the MTA ate
 * one space after the colon, and DKIM's simple canonicalization can only
 * guess it back.
 */
void conn_set_header_leadspace(struct conn *c, bool on);

/*
 * Each SMTP event: record what the MTA said, evaluate the stage, fill *d.
 * answered is false for a step the MTA takes without waiting for our
 * reply: a failure then waits for the next step that is answered.
 */
void conn_connect(struct conn *c, const char *name, const struct ipaddr *ip, struct decision *d);
void conn_helo(struct conn *c, const char *helo, bool answered, struct decision *d);
/* A new message: auth_user is the MTA's {auth_authen}, params the ESMTP ones (NULL-terminated). */
void conn_mail(struct conn *c, const char *path, char *const *params, const char *auth_user,
               bool answered, struct decision *d);
void conn_rcpt(struct conn *c, const char *path, bool answered, struct decision *d);
void conn_data(struct conn *c, struct decision *d);
/* Rules see the value without the spaces and tabs after the colon; DKIM sees all of it. */
void conn_header(struct conn *c, const char *name, const char *value, bool answered, struct decision *d);
void conn_eoh(struct conn *c, struct decision *d);
/* A piece of the body, as the MTA passes it (CRLF line ends). Never answered.
   With rules that read virus.*, headers, the blank line and the body stream to clamd as they come. */
void conn_body(struct conn *c, const unsigned char *data, size_t len);
/* End of message: the decision and, when it lets the message through, the edits. */
void conn_eom(struct conn *c, struct decision *d, const struct conn_edit **edits, size_t *nedits);
/* The end of data's answer was given (final: its decision if the driver
   changed it, say, the MTA refused an edit; else NULL): write the record. */
void conn_end_message(struct conn *c, const struct decision *final);
/* RSET, or the MTA's abort: the message is forgotten, the connection stays. */
void conn_abort(struct conn *c);

/* An internal error outside any connection (none could be made): 451 4.3.0. */
void decision_internal_error(struct decision *d, const char *why);

/* What the engine holds, for the drivers' logs and comments. */
const struct envelope *conn_envelope(const struct conn *c);
const struct ruleset *conn_rules(const struct conn *c);
const struct flow *conn_flow(const struct conn *c);
struct sendauth *conn_auth(const struct conn *c);
struct dns_cache *conn_dns(const struct conn *c);
struct statecheck *conn_state(const struct conn *c);

#endif
