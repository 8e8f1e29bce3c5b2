/*
 * explain.c: say which facts a rule tested and what they were, so the
 * session simulator can show an admin why a rule decided.
 *
 * Values come from clients: shown as printable ASCII, each capped.
 */
#include <stdio.h>
#include <string.h>

#include "rules/ast.h"

#define EXPLAIN_VALUE_MAX 80

struct explain {
    char *out;
    size_t size, used;
    const char *seen[32];
    unsigned nseen;
};

static void put(struct explain *x, const char *s, size_t len)
{
    for (size_t i = 0; i < len && x->used + 1 < x->size; i++) {
        unsigned char c = (unsigned char)s[i];
        x->out[x->used++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    x->out[x->used] = '\0';
}

static void put_value(struct explain *x, const struct cond *c, const struct envelope *env)
{
    struct fact_value v = { 0 };
    char buf[FACT_TEXT_MAX];
    const char *text;
    size_t len;
    bool quote = c->fact->type != FACT_IP && c->fact->type != FACT_BOOL && c->fact->type != FACT_NUMBER;

    if (c->macro_name != NULL)
        fact_from_macro(env, c->macro_name, FACT_STRING, &v);
    else if (c->fact->get(env, &v) != FACT_OK)
        v.present = false;
    if (!v.present) {
        put(x, "(none)", 6);
        return;
    }
    text = fact_value_text(c->fact, &v, buf, &len);
    if (quote)
        put(x, "\"", 1);
    put(x, text, len < EXPLAIN_VALUE_MAX ? len : EXPLAIN_VALUE_MAX);
    if (quote)
        put(x, len > EXPLAIN_VALUE_MAX ? "...\"" : "\"", len > EXPLAIN_VALUE_MAX ? 4 : 1);
}

static void walk(struct explain *x, const struct cond *c, const struct envelope *env)
{
    if (c == NULL)
        return;
    if (c->op == COND_AND || c->op == COND_OR || c->op == COND_NOT) {
        walk(x, c->left, env);
        walk(x, c->right, env);
        return;
    }
    if (c->op == COND_TAGGED || c->fact == NULL)
        return;
    for (unsigned i = 0; i < x->nseen; i++)
        if (strcmp(x->seen[i], c->fact_name) == 0)
            return;
    if (x->nseen < sizeof x->seen / sizeof x->seen[0])
        x->seen[x->nseen++] = c->fact_name;
    if (x->used > 0)
        put(x, " ", 1);
    if (c->macro_name != NULL) {
        put(x, "macro ", 6);
        put(x, c->macro_name, strlen(c->macro_name));
    } else {
        put(x, c->fact->name, strlen(c->fact->name));
    }
    put(x, "=", 1);
    put_value(x, c, env);
}

void rule_explain(const struct rule *r, const struct envelope *env, char *out, size_t outsz)
{
    struct explain x = { .out = out, .size = outsz };

    out[0] = '\0';
    walk(&x, r->cond, env);
}
