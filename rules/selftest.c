/*
 * selftest.c: run the test cases a rule file carries ("test NAME {...}").
 *
 * Each test is an SMTP session, from connect to the end of the message,
 * played through the engine's connection object (rules/conn.h), the one
 * the daemon uses, in a world of its own (selftest_world.c): its DNS
 * records, a scratch store, a clock it moves. Every step's decision is
 * compared with what the test expects, and the header edits at the end
 * of the message with what it says was added or removed. A failed
 * expectation is an error of the rule file, so neither "mxguard -n" nor a
 * reload accepts rules that break their own tests.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules/load.h"
#include "rules/conn.h"
#include "rules/selftest_world.h"
#include "rules/suggest.h"

/* Where a message has got to: a step further on runs the ones between. */
enum phase { PHASE_NONE, PHASE_MAIL, PHASE_DATA, PHASE_BODY, PHASE_DONE };

struct run {
    struct ruleset *rs;
    const struct rule_test *t;
    struct diag *diag;
    struct test_world world;
    struct conn *conn;
    const char *auth_user;          /* the client step's */
    enum phase phase;
    bool refused;                   /* a message stage refused: later ones see that */
    struct decision refusal;
    const struct conn_edit *edits;  /* of the last end of message, while it is current */
    size_t nedits;
    bool eom_done;
    struct decision d;              /* the step's decision */
    bool failed;                    /* stop the test: it could not go on */
};

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
        snprintf(out, outsz, "%s %d by default", action_name(seen_action(v)), seen_code(v));
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
    static const char *const words[] = {
        [STEP_CLIENT] = "client", [STEP_HELO] = "helo", [STEP_MAIL] = "mail", [STEP_RCPT] = "rcpt",
        [STEP_DATA] = "data",     [STEP_HEADER] = "header", [STEP_EOH] = "eoh", [STEP_BODY] = "body",
        [STEP_MESSAGE] = "message", [STEP_EOM] = "eom",     [STEP_RSET] = "rset",
    };
    return k < sizeof words / sizeof words[0] && words[k] != NULL ? words[k] : "step";
}

/* The rule labels, for "did you mean" after "by". */
static void check_label(const struct ruleset *rs, const struct test_step *st, const char *test,
                        struct diag *diag)
{
    const char *names[512], *near;
    size_t n = 0;

    if (st->expect.by == NULL || strcmp(st->expect.by, "default") == 0)
        return;
    for (int s = 0; s < STAGE_COUNT; s++)
        for (const struct rule *r = rs->stages[s]; r != NULL; r = r->next) {
            if (r->label != NULL && strcmp(r->label, st->expect.by) == 0)
                return;
            if (r->label != NULL && n < sizeof names / sizeof names[0])
                names[n++] = r->label;
        }
    if ((near = suggest_name(st->expect.by, names, n)) != NULL)
        diag_error(diag, &st->expect.loc, "test \"%s\": no rule is labelled [%s]: did you mean [%s]?", test,
                   st->expect.by, near);
    else
        diag_error(diag, &st->expect.loc, "test \"%s\": no rule is labelled [%s]", test, st->expect.by);
}

/* A message stage's decision; a refusal holds for the rest of the message. */
static bool message_step(struct run *r)
{
    if (r->d.answer == ACTION_REJECT || r->d.answer == ACTION_TEMPFAIL || r->d.answer == ACTION_DISCARD) {
        r->refused = true;
        r->refusal = r->d;
    }
    return !r->refused;
}

static void new_message(struct run *r, enum phase phase)
{
    r->phase = phase;
    r->refused = false;
    r->edits = NULL;
    r->nedits = 0;
    r->eom_done = false;
}

/* Run DATA, end of headers, as the MTA would before the step at hand. */
static bool reach(struct run *r, enum phase want)
{
    if (r->refused)
        return false;
    if (r->phase < PHASE_DATA && want >= PHASE_DATA) {
        conn_data(r->conn, &r->d);
        r->phase = PHASE_DATA;
        if (!message_step(r))
            return false;
    }
    if (r->phase < PHASE_BODY && want >= PHASE_BODY) {
        conn_eoh(r->conn, &r->d);
        r->phase = PHASE_BODY;
        if (!message_step(r))
            return false;
    }
    return true;
}

/* "Name: value", as an MTA that negotiated SMFIP_HDR_LEADSPC passes it:
   the value with the whitespace after the colon (conn_new was told). */
static void header(struct run *r, const char *field)
{
    char name[ENVELOPE_HEADER_NAME_MAX + 1];
    const char *colon = strchr(field, ':');
    size_t n = colon != NULL ? (size_t)(colon - field) : 0;

    if (colon == NULL || n == 0 || n > ENVELOPE_HEADER_NAME_MAX) {
        diag_error(r->diag, &r->t->loc, "test \"%s\": expected a header \"Name: value\", found \"%.60s\"",
                   r->t->name, field);
        r->failed = true;
        return;
    }
    memcpy(name, field, n);
    name[n] = '\0';
    conn_header(r->conn, name, colon + 1, true, &r->d);
    message_step(r);
}

static void body_line(struct run *r, const char *line, size_t len)
{
    conn_body(r->conn, (const unsigned char *)line, len);
    conn_body(r->conn, (const unsigned char *)"\r\n", 2);
}

/* A message file: its header fields (continuation lines joined), end of headers, its body. */
static void message(struct run *r, const char *text)
{
    const char *p = text;
    char field[ENVELOPE_HEADER_VALUE_MAX + 256];
    size_t used = 0;

    while (*p != '\0' && *p != '\n' && !(p[0] == '\r' && p[1] == '\n') && !r->refused && !r->failed) {
        size_t len = strcspn(p, "\r\n");
        bool more = p[len + (p[len] == '\r') + (p[len] != '\0')] == ' ' ||
                    p[len + (p[len] == '\r') + (p[len] != '\0')] == '\t';
        if (used > 0 && used + 1 < sizeof field)
            field[used++] = '\n';
        if (len > sizeof field - used - 1)
            len = sizeof field - used - 1;
        memcpy(field + used, p, len);
        used += len;
        field[used] = '\0';
        p += strcspn(p, "\n");
        p += *p == '\n';
        if (!more) {
            header(r, field);
            used = 0;
        }
    }
    p += p[0] == '\r';
    p += p[0] == '\n';
    if (r->failed || !reach(r, PHASE_BODY))
        return;
    while (*p != '\0') {
        size_t len = strcspn(p, "\r\n");
        body_line(r, p, len);
        p += len;
        p += p[0] == '\r';
        p += p[0] == '\n';
    }
}

static void eom(struct run *r)
{
    if (!reach(r, PHASE_BODY))
        return;
    conn_eom(r->conn, &r->d, &r->edits, &r->nedits);
    r->phase = PHASE_DONE;
    r->eom_done = true;
    message_step(r);
}

/* A new connection: nothing of the previous one carries over. */
static void client(struct run *r, const struct test_step *st)
{
    struct ipaddr ip;
    char name[80];
    const char *error;

    conn_free(r->conn);
    new_message(r, PHASE_NONE);
    if (ipaddr_parse(st->value, &ip) < 0) {
        diag_error(r->diag, &st->loc, "test \"%s\": expected an IPv4 or IPv6 address after 'client', found \"%s\"",
                   r->t->name, st->value);
        r->failed = true;
        return;
    }
    if ((r->conn = conn_new(ruleset_ref(r->rs), &r->world.svc, &error)) == NULL) {
        diag_error(r->diag, &st->loc, "test \"%s\": %s", r->t->name, error);
        r->failed = true;
        return;
    }
    conn_set_macros(r->conn, test_world_macro, (void *)r->t);
    conn_set_header_leadspace(r->conn, true); /* the test has the exact bytes */
    r->auth_user = st->auth_user;
    snprintf(name, sizeof name, "[%s]", st->value);
    conn_connect(r->conn, st->client_name ? st->client_name : name, &ip, &r->d);
}

/* The SMTP steps; false when the step has no decision of its own. */
static bool smtp_step(struct run *r, const struct test_step *st)
{
    switch (st->kind) {
    case STEP_CLIENT: client(r, st); return !r->failed;
    case STEP_HELO: conn_helo(r->conn, st->value, true, &r->d); return true;
    case STEP_MAIL:
        new_message(r, PHASE_MAIL);
        conn_mail(r->conn, st->value, NULL, r->auth_user, true, &r->d);
        message_step(r);
        return true;
    case STEP_RCPT: conn_rcpt(r->conn, st->value, true, &r->d); return true;
    case STEP_DATA: reach(r, PHASE_DATA); return true;
    case STEP_HEADER:
        if (reach(r, PHASE_DATA))
            header(r, st->value);
        return true;
    case STEP_EOH: reach(r, PHASE_BODY); return true;
    case STEP_BODY:
        for (size_t i = 0; i < st->nlines && reach(r, PHASE_BODY); i++)
            body_line(r, st->lines[i], strlen(st->lines[i]));
        return false;
    case STEP_MESSAGE:
        if (reach(r, PHASE_DATA))
            message(r, st->value);
        return true;
    case STEP_EOM: eom(r); return true;
    case STEP_RSET: conn_abort(r->conn); new_message(r, PHASE_NONE); return false;
    default: return false;
    }
}

static void check_expect(struct run *r, const struct test_step *st)
{
    struct verdict v = r->refused && st->kind >= STEP_DATA ? r->refusal.v : r->d.v;
    char got[300];

    if (!r->refused || st->kind < STEP_DATA) {
        if (r->d.origin == FLOW_DEFERRED)
            v = conn_flow(r->conn)->conn_verdict; /* decided here, answered at the next command */
    }
    if (!st->expect.present || matches(&st->expect, &v))
        return;
    describe(&v, got, sizeof got);
    diag_error(r->diag, &st->expect.loc, "test \"%s\": %s%s%s: expected %s%s%.0d%s%s, got %s%s", r->t->name,
               step_word(st->kind), st->value && st->kind <= STEP_RCPT ? " " : "",
               st->value && st->kind <= STEP_RCPT ? st->value : "", action_name(st->expect.action),
               st->expect.code ? " " : "", st->expect.code, st->expect.by ? " by " : "",
               st->expect.by ? st->expect.by : "", got,
               r->world.state.store == NULL && ruleset_uses_state(r->rs)
                   ? " (greylisting and rate limits run only in a test with a 'store' step)" : "");
}

/* Header text compared as a reader sees it: folding and runs of blanks are one space. */
static void unfold(const char *in, char *out, size_t outsz)
{
    size_t o = 0;
    bool blank = false;

    for (; *in != '\0' && o + 1 < outsz; in++) {
        if (isspace((unsigned char)*in)) {
            blank = o > 0;
            continue;
        }
        if (blank && o + 2 < outsz)
            out[o++] = ' ';
        blank = false;
        out[o++] = *in;
    }
    out[o] = '\0';
}

/*
 * A value written to end in " ...": the header starts so, and more may
 * follow after a ';' (results that an including rule file adds).
 */
static bool prefix_matches(const char *want, const char *have)
{
    size_t n = strlen(want);

    if (n < 4 || strcmp(want + n - 4, " ...") != 0)
        return false;
    n -= 4;
    return strncmp(want, have, n) == 0 && (have[n] == '\0' || have[n] == ';' || (want[n - 1] == ';' && have[n] == ' '));
}

/* "added NAME [VALUE]" and "removed NAME [COUNT]": what the last end of message did. */
static void check_edit(struct run *r, const struct test_step *st)
{
    bool added = st->kind == STEP_ADDED;
    char want[EFFECT_VALUE_MAX * 4 + 1], have[EFFECT_VALUE_MAX * 4 + 1] = "";

    if (!r->eom_done) {
        diag_error(r->diag, &st->loc, "test \"%s\": %s: expected an 'eom' step before it", r->t->name,
                   added ? "added" : "removed");
        return;
    }
    for (size_t i = 0; i < r->nedits; i++) {
        const struct conn_edit *e = &r->edits[i];
        bool adds = e->kind == EDIT_INSERT_TOP || e->kind == EDIT_ADD || e->kind == EDIT_CHANGE;
        bool removes = e->kind == EDIT_REMOVE_FORGED || e->kind == EDIT_DELETE;
        if ((added ? !adds : !removes) || e->name == NULL || strcasecmp(e->name, st->value) != 0)
            continue;
        if (!added && (st->number < 0 || (size_t)st->number == e->count))
            return;
        if (!added) {
            snprintf(have, sizeof have, "%zu", e->count);
            continue;
        }
        unfold(e->value ? e->value : "", have, sizeof have);
        unfold(st->value2 ? st->value2 : "", want, sizeof want);
        if (st->value2 == NULL || strcmp(want, have) == 0 || prefix_matches(want, have))
            return;
    }
    if (have[0] != '\0' && added)
        diag_error(r->diag, &st->loc, "test \"%s\": added %s: expected \"%s\", the message got \"%s\"",
                   r->t->name, st->value, st->value2, have);
    else if (have[0] != '\0')
        diag_error(r->diag, &st->loc, "test \"%s\": removed %s: expected %ld, the message had %s removed",
                   r->t->name, st->value, st->number, have);
    else if (added || st->number != 0)
        diag_error(r->diag, &st->loc, "test \"%s\": %s %s: the message got no such header edit", r->t->name,
                   added ? "added" : "removed", st->value);
}

static void run_step(struct run *r, const struct test_step *st)
{
    if (st->kind == STEP_LATER) {
        r->world.clock += st->number;
        return;
    }
    if (st->kind == STEP_ADDED || st->kind == STEP_REMOVED) {
        check_edit(r, st);
        return;
    }
    if (st->kind > STEP_RSET)
        return; /* the test's world: set up before it ran */
    if (r->conn == NULL && st->kind != STEP_CLIENT) {
        diag_error(r->diag, &r->t->loc, "test \"%s\": expected it to start with 'client ADDRESS;'", r->t->name);
        r->failed = true;
        return;
    }
    check_label(r->rs, st, r->t->name, r->diag);
    if (st->kind >= STEP_DATA && st->kind <= STEP_EOM && r->phase == PHASE_NONE) {
        diag_error(r->diag, &st->loc, "test \"%s\": %s: expected a 'mail' step first", r->t->name,
                   step_word(st->kind));
        r->failed = true;
        return;
    }
    if (smtp_step(r, st) && !r->failed)
        check_expect(r, st);
}

/*
 * "enable LABEL": the "off" rule so labelled runs in this test only. The
 * rule set is still the loader's alone while its tests run.
 */
static void switch_rules(struct ruleset *rs, const struct rule_test *t, bool on, struct diag *diag)
{
    for (const struct test_step *st = t->steps; st != NULL; st = st->next) {
        bool found = false;
        if (st->kind != STEP_ENABLE)
            continue;
        for (int s = 0; s < STAGE_COUNT; s++)
            for (struct rule *r = rs->stages[s]; r != NULL; r = r->next)
                if (r->label != NULL && strcmp(r->label, st->value) == 0) {
                    found = true; /* a rule already on needs no switching */
                    if (r->off || r->enabled_by_test) {
                        r->off = !on;
                        r->enabled_by_test = on;
                    }
                }
        if (!found && on)
            diag_error(diag, &st->loc, "test \"%s\": enable %s: expected the label of a rule", t->name,
                       st->value);
    }
}

static void run_test(struct ruleset *rs, struct rule_test *t, struct diag *diag)
{
    struct run r = { .rs = rs, .t = t, .diag = diag };
    unsigned errors = diag->errors;

    if (test_world_open(&r.world, rs, t, diag) < 0)
        return;
    switch_rules(rs, t, true, diag);
    for (const struct test_step *st = t->steps; st != NULL && !r.failed; st = st->next)
        run_step(&r, st);
    conn_free(r.conn);
    switch_rules(rs, t, false, diag);
    test_world_close(&r.world);
    t->passed = !r.failed && diag->errors == errors;
}

void rules_run_tests(struct ruleset *rs, struct diag *diag)
{
    for (struct rule_test *t = rs->tests; t != NULL; t = t->next)
        run_test(rs, t, diag);
}

