/*
 * selftest.c: run the test cases a rule file carries ("test NAME {...}").
 *
 * Each test is a small SMTP session played through the same flow the
 * daemon uses; every step's verdict is compared with what the test
 * expects. A failed expectation is an error of the rule file, so neither
 * "mxguard -n" nor a reload accepts rules that break their own tests.
 */
#include <stdio.h>
#include <string.h>

#include "rules/ast.h"
#include "rules/flow.h"

/* The action as a test reads it: no decision is "continue". */
static enum action seen_action(const struct verdict *v)
{
    return v->action == ACTION_NONE ? ACTION_CONTINUE : v->action;
}

static int seen_code(const struct verdict *v)
{
    if (v->has_reply)
        return (v->code[0] - '0') * 100 + (v->code[1] - '0') * 10 + (v->code[2] - '0');
    /* The codes the MTA uses when the filter gives none. */
    return v->action == ACTION_REJECT ? 550 : v->action == ACTION_TEMPFAIL ? 451 : 250;
}

static void describe(const struct verdict *v, char *out, size_t outsz)
{
    if (v->rule == NULL)
        snprintf(out, outsz, "%s by default", action_name(seen_action(v)));
    else if (v->rule->label != NULL)
        snprintf(out, outsz, "%s %d by %s (%s)", action_name(seen_action(v)), seen_code(v),
                 v->rule->label, v->rule->where);
    else
        snprintf(out, outsz, "%s %d by the rule at %s", action_name(seen_action(v)), seen_code(v),
                 v->rule->where);
}

static bool matches(const struct test_expect *e, const struct verdict *v)
{
    if (seen_action(v) != e->action)
        return false;
    if (e->code != 0 && seen_code(v) != e->code)
        return false;
    if (e->by == NULL)
        return true;
    if (strcmp(e->by, "default") == 0)
        return v->rule == NULL;
    return v->rule != NULL && v->rule->label != NULL && strcmp(v->rule->label, e->by) == 0;
}

static const char *step_word(enum test_step_kind k)
{
    return k == STEP_CLIENT ? "client" : k == STEP_HELO ? "helo" : k == STEP_MAIL ? "mail" : "rcpt";
}

/* Record the step's facts and return the stage to evaluate; -1 on a bad step. */
static int apply_step(const struct test_step *st, struct envelope *env, struct flow *flow,
                      struct diag *diag, const char *test)
{
    struct ipaddr ip;
    char name[80];

    switch (st->kind) {
    case STEP_CLIENT:
        /* A new connection: nothing of the previous one carries over. */
        envelope_free(env);
        envelope_init(env);
        flow_free(flow);
        flow_init(flow);
        if (ipaddr_parse(st->value, &ip) < 0) {
            diag_error(diag, &st->loc, "test \"%s\": expected an IPv4 or IPv6 address after 'client', found \"%s\"",
                       test, st->value);
            return -1;
        }
        snprintf(name, sizeof name, "[%s]", st->value);
        envelope_set_client(env, st->client_name ? st->client_name : name, &ip);
        envelope_set_auth_user(env, st->auth_user);
        return STAGE_CONNECT;
    case STEP_HELO:
        envelope_set_helo(env, st->value);
        return STAGE_HELO;
    case STEP_MAIL:
        envelope_reset_message(env);
        flow_new_message(flow, env);
        envelope_set_sender(env, st->value);
        return STAGE_MAIL;
    case STEP_RCPT:
        envelope_set_rcpt(env, st->value);
        return STAGE_RCPT;
    }
    return -1;
}

static void check_labels(const struct ruleset *rs, const struct test_step *st, const char *test,
                         struct diag *diag)
{
    if (st->expect.by == NULL || strcmp(st->expect.by, "default") == 0)
        return;
    for (int s = 0; s < STAGE_COUNT; s++)
        for (const struct rule *r = rs->stages[s]; r != NULL; r = r->next)
            if (r->label != NULL && strcmp(r->label, st->expect.by) == 0)
                return;
    diag_error(diag, &st->expect.loc, "test \"%s\": no rule is labelled [%s]", test, st->expect.by);
}

static void run_test(const struct ruleset *rs, const struct rule_test *t, struct diag *diag)
{
    struct envelope env;
    struct flow flow;

    if (t->steps == NULL || t->steps->kind != STEP_CLIENT) {
        diag_error(diag, &t->loc, "test \"%s\": expected it to start with 'client ADDRESS;'", t->name);
        return;
    }
    envelope_init(&env);
    flow_init(&flow);
    for (const struct test_step *st = t->steps; st != NULL; st = st->next) {
        struct verdict v;
        enum flow_origin origin;
        int stage = apply_step(st, &env, &flow, diag, t->name);
        char got[300];

        if (stage < 0)
            break;
        check_labels(rs, st, t->name, diag);
        int rc = flow_eval(&flow, rs, (enum stage)stage, stage != STAGE_CONNECT, &env, &v, &origin);
        if (rc == FLOW_DNS_FAILURE) {
            /* What the client gets: 451 4.4.3, by no rule. */
            memset(&v, 0, sizeof v);
            v.action = ACTION_TEMPFAIL;
            v.has_reply = true;
            memcpy(v.code, "451", 4);
            memcpy(v.xcode, "4.4.3", 6);
            origin = FLOW_EVALUATED;
        } else if (rc != 0) {
            diag_error(diag, &st->loc, "test \"%s\": %s: the rules could not be evaluated", t->name,
                       step_word(st->kind));
            break;
        }
        if (origin == FLOW_DEFERRED)
            v = flow.conn_verdict; /* decided here, answered at the next command */
        if (stage == STAGE_RCPT)
            envelope_rcpt_done(&env, v.action == ACTION_NONE || v.action == ACTION_CONTINUE ||
                                         v.action == ACTION_ACCEPT);
        if (!st->expect.present || matches(&st->expect, &v))
            continue;
        describe(&v, got, sizeof got);
        diag_error(diag, &st->expect.loc, "test \"%s\": %s %s: expected %s%s%.0d%s%s, got %s", t->name,
                   step_word(st->kind), st->value, action_name(st->expect.action),
                   st->expect.code ? " " : "", st->expect.code, st->expect.by ? " by " : "",
                   st->expect.by ? st->expect.by : "", got);
    }
    envelope_free(&env);
    flow_free(&flow);
}

void rules_run_tests(struct ruleset *rs, struct diag *diag)
{
    for (const struct rule_test *t = rs->tests; t != NULL; t = t->next)
        run_test(rs, t, diag);
}
