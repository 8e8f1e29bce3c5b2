/*
 * record.h: what the gateway did with one message, or with a connection
 * that ended without one, gathered by the engine (rules/conn.c) as the
 * stages go and handed once to the driver's record sink.
 *
 * The record is a view: its pointers (the envelope, the DNS answers, the
 * SPF and DKIM outcomes, the rules) are valid only during the sink call.
 * Strings from the client are copied bounded and unescaped: whoever
 * writes them out escapes them (milter/logfmt.h, JSON).
 *
 * Nothing here knows about libmilter.
 */
#ifndef MXG_RULES_RECORD_H
#define MXG_RULES_RECORD_H

#include <stdbool.h>
#include <time.h>

#include "rules/ruleset.h"
#include "rules/stage.h"

struct dns_cache;
struct spf_outcome;
struct dkim_outcome;
struct dkim_sign_outcome;
struct dmarc_outcome;

#define RECORD_RCPTS_MAX 50  /* recipients itemised; the rest are only counted */
#define RECORD_ADDR_MAX 256  /* bytes of an address kept (RFC 5321: a path is at most 256) */
#define RECORD_REPLY_MAX 320 /* bytes of a reply kept */

enum record_kind {
    RECORD_MESSAGE,    /* a MAIL FROM was given: one record per transaction */
    RECORD_CONNECTION  /* the connection ended (or was refused) without a MAIL FROM */
};

/* One decision: what the MTA was told at a step, and by whom. */
struct record_verdict {
    enum stage stage;
    enum action action;         /* what the MTA was told: CONTINUE, ACCEPT, REJECT, TEMPFAIL, DISCARD */
    const struct rule *rule;    /* the deciding rule; NULL: the stage default, or an engine failure */
    bool failure;               /* an engine tempfail (DNS list or internal error) no rule asked for */
    const char *why;            /* failure: what failed (static text) */
    char reply[RECORD_REPLY_MAX]; /* "554 5.7.1 text", lines joined by '\n'; "" without a reply */
};

struct record_rcpt {
    char addr[RECORD_ADDR_MAX]; /* the path as the client gave it */
    struct record_verdict v;    /* CONTINUE or ACCEPT: the recipient was taken */
};

/* Microseconds spent, per stage (headers summed) and per check. */
enum record_check { CHECK_DNS, CHECK_SPF, CHECK_DKIM, CHECK_STORE, CHECK_COUNT };

struct record {
    enum record_kind kind;
    bool refused;               /* outcome is a refusal (or discard) of the message or connection */
    struct timespec ended;      /* wall clock at the end */
    const struct envelope *env; /* client, HELO, sender, auth user; rcpt is the last one */
    const struct ruleset *rules;

    /* The outcome: for a message, the end of data's answer, or what
       refused it earlier (the last refusal when no recipient was taken),
       or "aborted" (see aborted) when the client gave up; for a
       connection, the last decision that refused, else the last one. */
    struct record_verdict outcome;
    bool aborted;               /* the message was left before its end (RSET, QUIT, lost connection) */
    bool reached_eom;

    struct record_rcpt rcpt[RECORD_RCPTS_MAX];
    unsigned nrcpt;             /* itemised in rcpt[] */
    unsigned rcpts_total;       /* RCPT commands seen (itemised or not) */
    unsigned rcpts_taken;       /* recipients the message went to */

    /* Rules that matched: warn rules (would have decided) and effects. */
    const struct rule *warned[16];
    unsigned nwarned;
    unsigned headers;           /* headers the message had */
    unsigned edits;             /* header edits made at end of data (and a quarantine) */
    bool quarantined;

    unsigned long us_stage[STAGE_COUNT];
    unsigned long us_check[CHECK_COUNT];
    unsigned long us_dmarc;     /* DMARC's own lookups and evaluation (not SPF or DKIM): not a
                                   CHECK_ so that the metrics' check families stay as they are */

    /* Facts, asked only if a rule asked: NULL or zero when not checked. */
    const struct dns_cache *dns;          /* reverse DNS and DNS lists (policy/dns/dnscache.h) */
    const struct spf_outcome *spf_mfrom;  /* SPF of MAIL FROM, if evaluated */
    const struct spf_outcome *spf_helo;   /* SPF of the HELO, if evaluated */
    const struct dkim_outcome *dkim;      /* DKIM of the message, if verified */
    const struct dkim_sign_outcome *dkim_sign; /* the signatures dkim-sign made or why none, if it ran */
    const struct dmarc_outcome *dmarc;    /* DMARC of the message, if evaluated */
    const char *greylist;                 /* "pass", "tempfail", "error", ... of the last check; NULL: none */
    const char *virus;                    /* clamd's verdict: "clean", "found" or "error"; NULL: not scanned */
    const char *virus_name;               /* found: the virus; error: why; NULL otherwise */
    unsigned store_errors;                /* store calls that failed */
};

/* The driver's writer of records, called once per record. */
typedef void record_sink_fn(void *ctx, const struct record *r);

/* What records call an answer: "accept" (continue or accept), "reject", "tempfail", "discard". */
const char *record_action_name(enum action a);
/* The outcome: an action's name, "aborted" or "closed". */
const char *record_outcome_name(const struct record *r);
/* Reverse DNS as records name it ("confirmed", ...), NULL when it was not asked. */
const char *record_rdns_name(const struct record *r);
/* A DNS list lookup's result: "listed", "clean" or "tempfail". */
const char *record_list_result_name(int dns_status);
/* "dns", "spf", "dkim", "store" */
const char *record_check_name(enum record_check c);

/* The deciding rule as logs name it: "file:line[label]", "default", or "-" for an engine failure. */
const char *record_rule_ref(const struct record_verdict *v);

#endif
