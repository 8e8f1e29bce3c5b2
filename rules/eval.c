/*
 * eval.c: run one stage's rules against a session's facts, in order.
 *
 * Never writes the immutable rule set: any number of threads may evaluate
 * the same rule set at once without a lock. The session's own envelope is
 * written at one point only: through rules_eval_asking, the first test or
 * reply that reads DNS asks every question the rest of the stage may need
 * (rules_ask_dns), so a rule that decides before it (our own networks)
 * answers without waiting for DNS. A multi-valued fact (attachment.name)
 * matches when any of its values does; the verdict remembers which, for
 * the reply. A fact that cannot be determined makes the whole evaluation
 * fail (the caller tempfails); it never reads as "no match".
 */
#include <string.h>
#include <strings.h>

#include <stdio.h>

#include "policy/state/statecheck.h"
#include "rules/ast.h"

/*
 * over <limit>: count this connection, message or recipient by the key
 * fact, and compare. Without a store (a rule file's own tests, the
 * simulator) nothing is over. A store that does not answer is skipped
 * or, with on-error tempfail, fails the evaluation (451 4.3.0).
 */
static int over_eval(const struct list *l, const struct envelope *env, bool *out)
{
    struct fact_value v = { 0 };
    struct ratelimit_result r;
    char buf[FACT_TEXT_MAX], key[STORE_KEY_MAX + 1];
    const char *text;
    size_t len;

    *out = false;
    if (!statecheck_ready(env->state) || l->key_fact == NULL)
        return 0;
    if (l->key_fact->get(env, &v) != FACT_OK)
        return -1;
    if (!v.present)
        return 0; /* nothing to count by: no AUTH user, no recipient */
    text = fact_value_text(l->key_fact, &v, buf, &len);
    /* The limit's name keeps two limits on the same fact apart. */
    {
        char named[STORE_KEY_MAX * 2];
        int n = snprintf(named, sizeof named, "%s:%.*s", l->name, (int)(len > STORE_KEY_MAX ? STORE_KEY_MAX : len), text);
        store_key(key, "rl", named, n > 0 ? (size_t)n : 0);
    }
    if (statecheck_ratelimit(env->state, env, l->index, l->unit, key, l->window, l->limit, &r) == RATELIMIT_ERROR)
        return l->tempfail ? -1 : 0;
    *out = r.status == RATELIMIT_OVER;
    return 0;
}

/* One evaluation of a stage. */
struct eval {
    const struct ruleset *rs;
    const struct envelope *env;
    struct envelope *ask;     /* where DNS answers go; NULL: read them as they are */
    const struct rule *rule;  /* the rule being evaluated */
    bool asked;               /* this stage's DNS questions went out */
    struct verdict *v;
};

/* A test or a reply reads DNS: ask what the stage needs from this rule on, once. */
static void need_dns(struct eval *e)
{
    if (e->ask == NULL || e->asked)
        return;
    e->asked = true;
    rules_ask_dns(e->rs, e->rule, e->ask);
}

/* A words list: entries are lower case; the value is compared in lower case. */
static bool words_contain(const struct list *l, const char *s, size_t len)
{
    char low[1025];

    if (len >= sizeof low)
        return false; /* longer than any list line */
    for (size_t i = 0; i < len; i++)
        low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    return strset_contains(l->strs, low, len);
}

/* One present value against the condition's operator. */
static int value_test(const struct cond *c, const struct envelope *env, struct verdict *vd,
                      const struct fact_value *vp, bool *out)
{
    const struct fact_value v = *vp;

    switch (c->op) {
    case COND_BOOL:
        *out = v.b;
        break;
    case COND_IN:
        if (c->list->kind == LIST_DNS) {
            if (dnslist_test(c->list, env, c->fact->type, &v, out) < 0) {
                vd->dns_failure = true; /* answered 451 4.4.3, not as an internal error */
                return -1;
            }
        } else if (c->list->kind == LIST_NETWORKS) {
            *out = cidr_set_contains(c->list->nets, v.ip);
        } else if (c->list->kind == LIST_WORDS) {
            *out = words_contain(c->list, v.s, v.len);
        } else if (c->list->kind == LIST_REGEXES) {
            *out = false;
            for (size_t i = 0; i < c->list->nres && !*out; i++) {
                int m = regex_match(c->list->res[i], v.s, v.len);
                if (m < 0)
                    return -1;
                *out = m == 1;
            }
        } else {
            *out = strset_contains(c->list->strs, v.s, v.len);
        }
        break;
    case COND_UNDER:
        *out = strset_contains_domain_or_parent(c->list->strs, v.s, v.len);
        break;
    case COND_MATCH:
    case COND_NOMATCH: {
        int m = regex_match(c->re, v.s, v.len);
        if (m < 0)
            return -1;
        *out = (m == 1) == (c->op == COND_MATCH);
        break;
    }
    case COND_LT: *out = v.n < c->num; break;
    case COND_LE: *out = v.n <= c->num; break;
    case COND_GT: *out = v.n > c->num; break;
    case COND_GE: *out = v.n >= c->num; break;
    case COND_EQ:
    case COND_NE: {
        if (c->numeric) {
            *out = (v.n == c->num) == (c->op == COND_EQ);
            break;
        }
        /* Names, domains and addresses: case does not matter to admins. */
        bool eq = v.len == c->len && strncasecmp(v.s, c->str, c->len) == 0;
        *out = c->op == COND_EQ ? eq : !eq;
        break;
    }
    default:
        return -1;
    }
    return 0;
}

/*
 * A multi-valued fact (attachment.name): the condition holds when it holds
 * for ANY value, and remembers which for the reply; != and !~ hold when
 * NO value is equal or matches (so with no values at all they hold).
 */
static int multi_test(const struct cond *c, const struct envelope *env, struct verdict *vd, bool *out)
{
    bool negated = c->op == COND_NE || c->op == COND_NOMATCH;
    struct fact_value v;
    enum fact_result r;

    *out = negated;
    for (unsigned i = 0;; i++) {
        bool m;
        memset(&v, 0, sizeof v);
        if ((r = c->fact->get_nth(env, i, &v)) == FACT_END)
            return 0;
        if (r != FACT_OK)
            return -1;
        if (!v.present)
            continue;
        if (value_test(c, env, vd, &v, &m) < 0)
            return -1;
        if (m != negated) {
            *out = !negated;
            if (!negated) {
                vd->matched_fact = c->fact;
                vd->matched_index = i;
            }
            return 0;
        }
    }
}

static int test_eval(const struct cond *c, struct eval *e, bool *out)
{
    const struct envelope *env = e->env;
    struct verdict *vd = e->v;
    struct fact_value v = { 0 };

    if (c->op == COND_TAGGED) {
        *out = ((env->conn_tags | env->msg_tags | vd->new_tags) & c->tag_bit) != 0;
        return 0;
    }
    if (c->dns_needs != 0)
        need_dns(e);
    if (c->op == COND_OVER)
        return over_eval(c->list, env, out);
    if (c->macro_name == NULL && c->fact->get_nth != NULL)
        return multi_test(c, env, vd, out);
    if (c->macro_name != NULL)
        fact_from_macro(env, c->macro_name, FACT_STRING, &v);
    else if (c->fact->get(env, &v) != FACT_OK)
        return -1;
    if (!v.present) {
        /* An absent fact equals nothing and matches nothing. */
        *out = c->op == COND_NE || c->op == COND_NOMATCH;
        return 0;
    }
    return value_test(c, env, vd, &v, out);
}

/* "and" and "or" stop at the side that decides: a DNS test right of a
   network test that held is never reached, so never asked. */
static int cond_eval(const struct cond *c, struct eval *e, bool *out)
{
    bool l;

    switch (c->op) {
    case COND_AND:
        if (cond_eval(c->left, e, &l) < 0)
            return -1;
        if (!l) {
            *out = false;
            return 0;
        }
        return cond_eval(c->right, e, out);
    case COND_OR:
        if (cond_eval(c->left, e, &l) < 0)
            return -1;
        if (l) {
            *out = true;
            return 0;
        }
        return cond_eval(c->right, e, out);
    case COND_NOT:
        if (cond_eval(c->left, e, &l) < 0)
            return -1;
        *out = !l;
        return 0;
    default:
        return test_eval(c, e, out);
    }
}

/* Remember what an effect rule asks for; it is applied at end of message. */
static void add_effect(struct verdict *v, const struct rule *r, const struct envelope *env)
{
    struct effect *e;

    if (r->action == ACTION_TAG) {
        v->new_tags |= r->tag_bit;
        return;
    }
    if (v->neffects == VERDICT_EFFECTS_MAX) {
        v->effects_dropped++;
        return;
    }
    e = &v->effects[v->neffects++];
    e->action = r->action;
    e->name = r->arg;
    e->rule = r;
    e->value[0] = '\0';
    if (r->reply.text != NULL)
        reply_expand_matched(&r->reply, env, v, e->value, sizeof e->value);
}

/*
 * A greylist rule whose condition held: 1 when it decided (a tempfail),
 * 0 when evaluation goes on (the triplet passes, no store, or a store
 * error skipped), -1 on a store error with on-error tempfail.
 */
static int greylist_eval(const struct ruleset *rs, const struct rule *r, const struct envelope *env,
                         struct verdict *v)
{
    struct greylist_outcome o;

    if (!statecheck_ready(env->state))
        return 0;
    switch (statecheck_greylist(env->state, env, &rs->greylist, &o)) {
    case GREYLIST_PASS:
        return 0;
    case GREYLIST_ERROR:
        return rs->greylist_tempfail ? -1 : 0;
    case GREYLIST_TEMPFAIL:
        break;
    }
    v->action = ACTION_TEMPFAIL;
    v->rule = r;
    v->has_reply = true;
    if (r->has_reply) {
        memcpy(v->code, r->reply.code, sizeof v->code);
        memcpy(v->xcode, r->reply.xcode, sizeof v->xcode);
        reply_expand_matched(&r->reply, env, v, v->text, sizeof v->text);
    } else {
        snprintf(v->code, sizeof v->code, "451");
        snprintf(v->xcode, sizeof v->xcode, "4.7.1");
        snprintf(v->text, sizeof v->text, "Greylisted, please try again in %ld seconds", o.seconds_left);
    }
    return 1;
}

/* The stage's rules in order: the first that decides ends it. */
static int eval_rules(struct eval *e, enum stage stage)
{
    const struct envelope *env = e->env;
    struct verdict *v = e->v;

    memset(v, 0, sizeof *v);
    if ((unsigned)stage >= STAGE_COUNT)
        return -1;
    for (const struct rule *r = e->rs->stages[stage]; r != NULL; r = r->next) {
        bool match = true;
        if (r->off)
            continue;
        e->rule = r;
        v->matched_fact = NULL; /* what this rule's own conditions match */
        if (r->cond != NULL && cond_eval(r->cond, e, &match) < 0) {
            /* A dry run or an effect never refuses mail because a lookup failed. */
            if (v->dns_failure && (r->warn || action_is_effect(r->action))) {
                v->dns_failure = false;
                continue;
            }
            return -1;
        }
        if (!match)
            continue;
        if (r->reply_needs_dns)
            need_dns(e); /* %{dnsbl.reason}, %{rdns.name} in its reply or value */
        if (action_is_effect(r->action) && !r->warn) {
            add_effect(v, r, env);
            continue;
        }
        if (r->action == ACTION_GREYLIST) {
            int g = greylist_eval(e->rs, r, env, v);
            if (g < 0)
                return -1;
            if (g == 0)
                continue;
            return 0;
        }
        if (r->warn) {
            /* Dry run: remember it for the log, and go on as if it had not matched. */
            if (v->nwarned < VERDICT_WARN_MAX)
                v->warned[v->nwarned++] = r;
            continue;
        }
        v->action = r->action;
        v->rule = r;
        if (r->has_reply) {
            v->has_reply = true;
            memcpy(v->code, r->reply.code, sizeof v->code);
            memcpy(v->xcode, r->reply.xcode, sizeof v->xcode);
            reply_expand_matched(&r->reply, env, v, v->text, sizeof v->text);
        }
        return 0;
    }
    v->action = ACTION_NONE;
    v->rule = NULL;
    return 0;
}

int ruleset_eval(const struct ruleset *rs, enum stage stage, const struct envelope *env,
                 struct verdict *v)
{
    struct eval e = { rs, env, NULL, NULL, false, v };

    return eval_rules(&e, stage);
}

int rules_eval_asking(const struct ruleset *rs, enum stage stage, struct envelope *env,
                      struct verdict *v, bool *asked)
{
    struct eval e = { rs, env, env, NULL, false, v };
    int rc = eval_rules(&e, stage);

    *asked = e.asked;
    return rc;
}
