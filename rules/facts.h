/*
 * facts.h: the named facts that rule conditions test.
 *
 * A fact is a name, a type, the first stage at which it is known, and a
 * getter. Checks in policy/ add their own facts to the table in facts.c
 * (one entry each); the parser, the evaluator, reply expansion and the man
 * page all work from that one table.
 */
#ifndef MXG_RULES_FACTS_H
#define MXG_RULES_FACTS_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/smtp/envelope.h"
#include "rules/stage.h"

enum fact_type {
    FACT_STRING,
    FACT_IP,
    FACT_DOMAIN,
    FACT_ADDRESS,
    FACT_BOOL,
    FACT_NUMBER,
    FACT_RESULT     /* a string, one of the RFC 8601 result words (pass, fail, ...) */
};

struct fact_value {
    bool present;           /* false: the MTA did not give it (yet) */
    const char *s;          /* STRING, DOMAIN, ADDRESS */
    size_t len;
    const struct ipaddr *ip;/* IP */
    bool b;                 /* BOOL */
    long n;                 /* NUMBER */
};

/* Three outcomes, as for every lookup: the value, or an error (tempfail). */
enum fact_result { FACT_OK = 0, FACT_ERROR = -1, FACT_END = 1 /* get_nth: no value i or later */ };

struct fact_def {
    const char *name;
    enum fact_type type;
    enum stage first_stage;   /* known from this stage on */
    enum fact_result (*get)(const struct envelope *env, struct fact_value *out);
    const char *doc;
    const char *macro;        /* the MTA macro it reads, requested at negotiation; or NULL */
    bool own_stage_only;      /* describes one RCPT or header: known at first_stage only */
    /*
     * Multi-valued facts (a message has several attachments): value i, or
     * FACT_END past the last (a value may be absent: the next one is
     * asked). NULL for single-valued facts; get then gives the first value.
     * A condition on a multi-valued fact holds when it holds for ANY
     * value; != and !~ hold when NO value is equal or matches.
     */
    enum fact_result (*get_nth)(const struct envelope *env, unsigned i, struct fact_value *out);
    /* Multi-valued facts with the same group count the same things (value i
       of attachment.ext is the extension of value i of attachment.name):
       the reply shows the matched index of any fact of the group. */
    int multi_group;
};

/* The pseudo-fact behind 'macro "{name}"': any MTA macro, as a string. */
extern const struct fact_def fact_macro;

/* Read an MTA macro (NULL when absent or when no MTA is attached). */
const char *fact_macro_value(const struct envelope *env, const char *name);

/* Fill out from a macro's value, as a string or (type NUMBER) a number. */
void fact_from_macro(const struct envelope *env, const char *name, enum fact_type type,
                     struct fact_value *out);

#define FACT_TEXT_MAX 64 /* room for an address or a number as text */

/*
 * A present value as text: strings as they are (not NUL-terminated,
 * *len bytes), addresses, booleans (yes/no) and numbers written into buf.
 * Callers bound and sanitise what they print: values come from clients.
 */
const char *fact_value_text(const struct fact_def *f, const struct fact_value *v,
                            char buf[FACT_TEXT_MAX], size_t *len);

const struct fact_def *fact_lookup(const char *name);
const char *fact_type_name(enum fact_type t);

/* The whole table, for -n listings and documentation checks. */
const struct fact_def *fact_table(size_t *count);

#endif
