/*
 * flow.h: how verdicts carry across the stages of one SMTP session.
 *
 * Used by the engine's connection object (rules/conn.h) only, which every
 * driver shares:
 * - "accept unchecked" at connect or helo ends all checks for the
 *   connection, at mail or rcpt for the message (a plain accept there is
 *   refused at load: it would pass later recipients unchecked); accept at
 *   rcpt passes that recipient only; accept at data or later, and a
 *   discard anywhere, end the checks of the message;
 * - a reject or tempfail at connect is answered at the next stage that can
 *   carry a reply (libmilter cannot send the admin's text at connect), and
 *   a reject or tempfail at connect or helo answers every later command of
 *   the connection the same way, a new HELO included (as postfix does);
 * - a stage asks DNS only when its rules reach one that reads it, and then
 *   all the rest of the stage may need, in one round (rules/dnslist.c).
 */
#ifndef MXG_RULES_FLOW_H
#define MXG_RULES_FLOW_H

#include <stdbool.h>

#include "rules/ruleset.h"

#define FLOW_EFFECTS_MAX 32 /* header edits and quarantines per message */

struct flow {
    struct effect *effects;     /* asked for so far, applied at end of message */
    unsigned neffects;
    unsigned effects_dropped;
    bool conn_accepted;
    bool msg_accepted;
    bool conn_refused;          /* conn_verdict answers every later command */
    struct verdict conn_verdict;
    unsigned dns_rounds;        /* stages of the connection whose rules asked DNS */
};

enum flow_origin {
    FLOW_EVALUATED,   /* the stage's rules decided (or its default) */
    FLOW_SKIPPED,     /* accepted earlier: no checks, continue */
    FLOW_REPEATED,    /* the connection was refused earlier: same answer */
    FLOW_DEFERRED     /* decided at connect; answered at the next stage */
};

void flow_init(struct flow *f);
void flow_free(struct flow *f);
/* Forget the message's effects and tags; keep those of the connection. */
void flow_new_message(struct flow *f, struct envelope *env);

/* flow_eval's answer when a DNS list with "on-error tempfail" did not answer. */
#define FLOW_DNS_FAILURE (-2)

/*
 * Evaluate stage for the session. can_reply is false at connect. Returns
 * 0 with *v and *origin filled, -1 on an internal error, FLOW_DNS_FAILURE
 * when a DNS lookup failed and the rule asked for a tempfail then.
 */
int flow_eval(struct flow *f, const struct ruleset *rs, enum stage stage, bool can_reply,
              struct envelope *env, struct verdict *v, enum flow_origin *origin);

#endif
