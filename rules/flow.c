/*
 * flow.c: carry connection and message verdicts across stages.
 */
#include "rules/flow.h"

#include "rules/ast.h"

#include <stdlib.h>
#include <string.h>

void flow_init(struct flow *f)
{
    memset(f, 0, sizeof *f);
}

void flow_free(struct flow *f)
{
    free(f->effects);
    f->effects = NULL;
    f->neffects = 0;
}

void flow_new_message(struct flow *f, struct envelope *env)
{
    unsigned keep = 0;

    f->msg_accepted = false;
    f->effects_dropped = 0;
    for (unsigned i = 0; i < f->neffects; i++)
        if (f->effects[i].rule != NULL && rule_stage(f->effects[i].rule) < STAGE_MAIL)
            f->effects[keep++] = f->effects[i];
    f->neffects = keep;
    env->msg_tags = 0;
}

/* Keep the stage's tags and effects for the rest of the message or connection. */
static int collect(struct flow *f, enum stage stage, struct envelope *env, const struct verdict *v)
{
    if (stage < STAGE_MAIL)
        env->conn_tags |= v->new_tags;
    else
        env->msg_tags |= v->new_tags;
    f->effects_dropped += v->effects_dropped;
    if (v->neffects == 0)
        return 0;
    if (f->effects == NULL && (f->effects = calloc(FLOW_EFFECTS_MAX, sizeof *f->effects)) == NULL)
        return -1;
    for (unsigned i = 0; i < v->neffects; i++) {
        if (f->neffects == FLOW_EFFECTS_MAX)
            f->effects_dropped++;
        else
            f->effects[f->neffects++] = v->effects[i];
    }
    return 0;
}

static bool refuses(enum action a)
{
    return a == ACTION_REJECT || a == ACTION_TEMPFAIL;
}

int flow_eval(struct flow *f, const struct ruleset *rs, enum stage stage, bool can_reply,
              struct envelope *env, struct verdict *v, enum flow_origin *origin)
{
    bool message_stage = stage >= STAGE_MAIL, asked;
    int rc;

    if (f->conn_accepted || (message_stage && f->msg_accepted)) {
        memset(v, 0, sizeof *v);
        *origin = FLOW_SKIPPED;
        return 0;
    }
    /* A refusal at connect or helo holds for the whole connection, a new
       HELO included: postfix never asks the filter again after one (it
       answers every later MAIL FROM itself), so neither do we. */
    if (f->conn_refused) {
        *v = f->conn_verdict;
        v->nwarned = 0; /* reported when they matched, not at every repeat */
        v->neffects = 0;
        v->new_tags = 0;
        *origin = FLOW_REPEATED;
        return 0;
    }
    f->conn_refused = false;
    /* DNS goes out when a rule that reads it is reached, not before. */
    rc = rules_eval_asking(rs, stage, env, v, &asked);
    f->dns_rounds += asked;
    if (rc < 0)
        return v->dns_failure ? FLOW_DNS_FAILURE : -1;
    if (collect(f, stage, env, v) < 0)
        return -1;
    *origin = FLOW_EVALUATED;
    if (v->action == ACTION_ACCEPT) {
        /* At rcpt, a plain accept passes this recipient only: the next
           one is checked like any other. */
        if (stage == STAGE_RCPT && !rule_unchecked(v->rule))
            ;
        else if (message_stage)
            f->msg_accepted = true;
        else
            f->conn_accepted = true;
    } else if (v->action == ACTION_DISCARD) {
        f->msg_accepted = true; /* the MTA drops the message and asks no more about it */
    } else if (refuses(v->action) && !message_stage) {
        f->conn_refused = true;
        f->conn_verdict = *v;
        if (!can_reply && v->has_reply) {
            /* Keep the admin's text for the next stage that can say it;
               the warn matches of this stage are still reported now. */
            v->action = ACTION_NONE;
            v->rule = NULL;
            v->has_reply = false;
            *origin = FLOW_DEFERRED;
        }
    }
    return 0;
}
