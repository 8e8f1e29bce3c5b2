/*
 * flow.c: carry connection and message verdicts across stages.
 */
#include "rules/flow.h"

#include <string.h>

void flow_init(struct flow *f)
{
    memset(f, 0, sizeof *f);
}

void flow_new_message(struct flow *f)
{
    f->msg_accepted = false;
}

static bool refuses(enum action a)
{
    return a == ACTION_REJECT || a == ACTION_TEMPFAIL;
}

int flow_eval(struct flow *f, const struct ruleset *rs, enum stage stage, bool can_reply,
              const struct envelope *env, struct verdict *v, enum flow_origin *origin)
{
    bool message_stage = stage >= STAGE_MAIL;

    if (f->conn_accepted || (message_stage && f->msg_accepted)) {
        memset(v, 0, sizeof *v);
        *origin = FLOW_SKIPPED;
        return 0;
    }
    /* A refusal repeats, except that a new HELO is judged afresh after a
       refused HELO (not after a refused connection). */
    if (f->conn_refused && !(stage == STAGE_HELO && f->refused_at == STAGE_HELO)) {
        *v = f->conn_verdict;
        *origin = FLOW_REPEATED;
        return 0;
    }
    f->conn_refused = false;
    if (ruleset_eval(rs, stage, env, v) < 0)
        return -1;
    *origin = FLOW_EVALUATED;
    if (v->action == ACTION_ACCEPT) {
        if (message_stage)
            f->msg_accepted = true;
        else
            f->conn_accepted = true;
    } else if (refuses(v->action) && !message_stage) {
        f->conn_refused = true;
        f->refused_at = stage;
        f->conn_verdict = *v;
        if (!can_reply && v->has_reply) {
            /* Keep the admin's text for the next stage that can say it. */
            memset(v, 0, sizeof *v);
            *origin = FLOW_DEFERRED;
        }
    }
    return 0;
}
