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
    char buf[IPADDR_TEXT_MAX + 16];

    if (c->macro_name != NULL)
        fact_from_macro(env, c->macro_name, FACT_STRING, &v);
    else if (c->fact->get(env, &v) != FACT_OK)
        v.present = false;
    if (!v.present) {
        put(x, "(none)", 6);
        return;
    }
    switch (c->fact->type) {
    case FACT_IP:
        ipaddr_format(v.ip, buf);
        put(x, buf, strlen(buf));
        break;
    case FACT_BOOL:
        put(x, v.b ? "yes" : "no", v.b ? 3 : 2);
        break;
    case FACT_NUMBER:
        snprintf(buf, sizeof buf, "%ld", v.n);
        put(x, buf, strlen(buf));
        break;
    default:
        put(x, "\"", 1);
        put(x, v.s, v.len < EXPLAIN_VALUE_MAX ? v.len : EXPLAIN_VALUE_MAX);
        put(x, v.len > EXPLAIN_VALUE_MAX ? "...\"" : "\"", v.len > EXPLAIN_VALUE_MAX ? 4 : 1);
        break;
    }
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
