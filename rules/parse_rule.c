/*
 * parse_rule.c: the grammar's actions for stages, rules and conditions:
 * "on STAGE { ... }" and each rule in it, appended to the rule set in
 * reading order.
 *
 * Only builds and reports: names of facts, lists and tags are resolved
 * later, in compile.c, once every file is read. Never frees what the
 * grammar still owns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/parser.h"
#include "rules/suggest.h"

struct cond *cond_new(enum cond_op op, const struct rules_loc *loc)
{
    struct cond *c = calloc(1, sizeof *c);

    if (c != NULL) {
        c->op = op;
        c->loc = *loc;
    }
    return c;
}

struct cond *cond_test(enum cond_op op, const struct rules_loc *loc,
                       char *fact, char *list, char *str)
{
    struct cond *c = cond_new(op, loc);

    if (c == NULL) {
        free(fact);
        free(list);
        free(str);
        return NULL;
    }
    c->fact_name = fact;
    c->list_name = list;
    c->str = str;
    c->len = str ? strlen(str) : 0;
    return c;
}

struct cond *cond_number(enum cond_op op, const struct rules_loc *loc, char *fact, long n)
{
    struct cond *c = cond_test(op, loc, fact, NULL, NULL);

    if (c != NULL) {
        c->numeric = true;
        c->num = n;
    }
    return c;
}

struct cond *cond_regex(struct parser *p, enum cond_op op, const struct rules_loc *loc, char *fact,
                        char *re, const struct rules_loc *reloc)
{
    struct cond *c = cond_test(op, loc, fact, NULL, re);
    const char *error;
    int col;

    if (c != NULL && (c->re = regex_compile(c->str, &error, &col)) == NULL) {
        struct rules_loc at = *reloc;
        /* Past the opening quote, and one more for each \" or \\ the lexer unescaped. */
        at.first_column += 1 + col;
        for (int i = 0; i < col && c->str[i] != '\0'; i++)
            at.first_column += c->str[i] == '"' || c->str[i] == '\\';
        diag_error(p->diag, &at, "invalid regular expression: %s", error);
    }
    return c;
}

void stage_begin(struct parser *p, char *name, const struct rules_loc *loc)
{
    const char *names[STAGE_COUNT];

    p->stage = stage_from_name(name);
    for (int i = 0; i < STAGE_COUNT; i++)
        names[i] = stage_name((enum stage)i);
    if (p->stage < 0 && suggest_name(name, names, STAGE_COUNT) != NULL)
        diag_error(p->diag, loc, "unknown stage \"%s\": did you mean \"%s\"?", name,
                   suggest_name(name, names, STAGE_COUNT));
    else if (p->stage < 0)
        diag_error(p->diag, loc, "expected a stage (connect, helo, mail, rcpt, data, header, eoh or eom), found \"%s\"", name);
    free(name);
}

void rule_add(struct parser *p, char *label, bool warn, enum action a, struct reply *reply,
              bool has_reply, struct cond *cond, const struct rules_loc *loc)
{
    struct rule *r;

    p->last_rule = NULL;
    if (p->stage < 0 || (r = calloc(1, sizeof *r)) == NULL) {
        if (p->stage >= 0)
            diag_error(p->diag, loc, "out of memory");
        cond_free(cond);
        free(reply->text);
        free(label);
        return;
    }
    r->label = label;
    r->warn = warn;
    r->loc = *loc;
    r->stage = (enum stage)p->stage;
    r->action = a;
    r->has_reply = has_reply;
    r->reply = *reply;
    r->cond = cond;
    snprintf(r->where, sizeof r->where, "%s:%d", loc->file, loc->first_line);
    /* Included files append to the same stages: the tails live in the rule set. */
    if (p->rs->tail[p->stage] == NULL)
        p->rs->tail[p->stage] = &p->rs->stages[p->stage];
    *p->rs->tail[p->stage] = r;
    p->rs->tail[p->stage] = &r->next;
    p->last_rule = r;
    r->rs = p->rs;
    r->index = p->rs->nrules++;
}
