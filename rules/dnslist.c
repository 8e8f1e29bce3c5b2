/*
 * dnslist.c: DNS block and allow lists as rule lists.
 *
 * "client.address in <zen>" asks <zen>'s zone about the client. The
 * questions go out when evaluation first reaches a rule that reads DNS
 * (rules_ask_dns): then every question the rest of the stage may need
 * goes out at once, in one round, and a test here only reads answers.
 * The rules before it (our own networks) never ask.
 * A listing whose code falls outside 127.0.0.0/8 is the mark of a list
 * that was shut down and now answers everything: it is ignored.
 */
#include <stdio.h>
#include <string.h>

#include "policy/dns/dnscache.h"
#include "rules/ast.h"

/* The name to ask: the reversed address, or the domain, under the zone. */
static int qname_of(const struct list *l, enum fact_type type, const struct fact_value *v, char *out,
                    size_t outsz)
{
    int n;

    if (!v->present)
        return -1;
    if (type == FACT_IP)
        return dns_reverse_name(v->ip, l->zone, out, outsz);
    if (v->len == 0 || v->len > 200)
        return -1;
    n = snprintf(out, outsz, "%.*s.%s", (int)v->len, v->s, l->zone);
    return n > 0 && (size_t)n < outsz && n <= 253 ? 0 : -1;
}

static bool code_counts(const struct list *l, const struct ipaddr *code)
{
    static const uint8_t loopback_v4[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

    if (memcmp(code->b, loopback_v4, 12) != 0 || code->b[12] != 127)
        return false; /* outside 127.0.0.0/8 */
    if (cidr_set_count(l->nets) > 0)
        return cidr_set_contains(l->nets, code);
    if (l->bitmask != 0)
        return (code->b[15] & l->bitmask) != 0;
    return true;
}

/* 1 listed, 0 not listed (or not found, or skipped on error), -1 tempfail. */
static int listed(const struct list *l, const struct envelope *env, enum fact_type type,
                  const struct fact_value *v, const char **reason)
{
    char q[300];
    const struct bl_result *r;

    if (qname_of(l, type, v, q, sizeof q) < 0)
        return 0;
    r = env->dns != NULL ? dns_cache_bl(env->dns, q) : NULL;
    if (r == NULL || r->status == DNS_TEMPFAIL)
        return l->tempfail ? -1 : 0;
    if (r->status == DNS_NOTFOUND)
        return 0;
    for (unsigned i = 0; i < r->ncodes; i++) {
        if (code_counts(l, &r->codes[i])) {
            if (reason != NULL)
                *reason = r->reason;
            return 1;
        }
    }
    return 0;
}

int dnslist_test(const struct list *l, const struct envelope *env, enum fact_type type,
                 const struct fact_value *v, bool *out)
{
    int rc = listed(l, env, type, v, NULL);

    if (rc < 0)
        return -1;
    *out = rc == 1;
    return 0;
}

/* ---- what the rules read from DNS (at load) ------------------------------------ */

static unsigned fact_needs(const struct ruleset *rs, const struct fact_def *f)
{
    if (f == NULL)
        return 0;
    if (strncmp(f->name, "rdns.", 5) == 0)
        return RULE_DNS_RDNS;
    if (strncmp(f->name, "dnsbl.", 6) == 0)
        /* The sum asks every list, and a list that checks rdns.name needs it first. */
        return RULE_DNS_SCORE | (rs->rdns_for_score ? RULE_DNS_RDNS | RULE_DNS_RDNS_FIRST : 0);
    return 0;
}

/* What a condition reads; each test keeps its own part (cond->dns_needs). */
static unsigned cond_needs(const struct ruleset *rs, struct cond *c)
{
    if (c == NULL)
        return 0;
    switch (c->op) {
    case COND_AND:
    case COND_OR:
    case COND_NOT:
        return cond_needs(rs, c->left) | cond_needs(rs, c->right);
    case COND_TAGGED:
        return 0;
    case COND_OVER: /* a rate limit counting by rdns.name or dnsbl.reason */
        c->dns_needs = c->list != NULL ? fact_needs(rs, c->list->key_fact) : 0;
        return c->dns_needs;
    default:
        c->dns_needs = c->macro_name != NULL ? 0 : fact_needs(rs, c->fact);
        if (c->op == COND_IN && c->list != NULL && c->list->kind == LIST_DNS)
            c->dns_needs |= RULE_DNS_LIST | (c->dns_needs & RULE_DNS_RDNS ? RULE_DNS_RDNS_FIRST : 0);
        return c->dns_needs;
    }
}

struct ref_needs {
    const struct ruleset *rs;
    unsigned needs;
};

static void ref_needs(void *ctx, const char *name, size_t len)
{
    struct ref_needs *n = ctx;
    char key[64];

    if (len >= sizeof key)
        return;
    memcpy(key, name, len);
    key[len] = '\0';
    n->needs |= fact_needs(n->rs, fact_lookup(key));
}

void dnslist_note_rule(const struct ruleset *rs, struct rule *r)
{
    struct ref_needs n = { rs, 0 };

    if (r->reply.text != NULL)
        reply_each_ref(r->reply.text, ref_needs, &n);
    r->reply_needs_dns = n.needs != 0;
    r->dns_needs = cond_needs(rs, r->cond) | n.needs;
}

/* ---- asking ------------------------------------------------------------------- */

struct wanted {
    const char *names[DNSCACHE_NAMES_MAX];
    char buf[DNSCACHE_NAMES_MAX][300];
    int n;
};

static void want(struct wanted *w, const struct list *l, const struct fact_def *f, const struct envelope *env)
{
    struct fact_value v = { 0 };

    if (w->n == DNSCACHE_NAMES_MAX || f->get(env, &v) != FACT_OK)
        return;
    if (qname_of(l, f->type, &v, w->buf[w->n], sizeof w->buf[w->n]) == 0) {
        w->names[w->n] = w->buf[w->n];
        w->n++;
    }
}

static void want_cond(struct wanted *w, const struct cond *c, const struct envelope *env)
{
    if (c == NULL)
        return;
    if (c->op == COND_AND || c->op == COND_OR || c->op == COND_NOT) {
        want_cond(w, c->left, env);
        want_cond(w, c->right, env);
    } else if (c->op == COND_IN && c->list != NULL && c->list->kind == LIST_DNS && c->fact != NULL) {
        want(w, c->list, c->fact, env);
    }
}

/* dnsbl.score, .count and .reason: every list whose key is known at this stage. */
static void summarise(const struct ruleset *rs, enum stage stage, struct envelope *env)
{
    env->dnsbl_score = env->dnsbl_count = 0;
    env->dnsbl_reason[0] = '\0';
    for (const struct list *l = rs->lists; l != NULL; l = l->next) {
        struct fact_value v = { 0 };
        const char *reason = NULL;
        if (l->kind != LIST_DNS || l->key_fact == NULL || l->key_fact->first_stage > stage ||
            l->key_fact->get(env, &v) != FACT_OK)
            continue;
        if (listed(l, env, l->key_fact->type, &v, &reason) == 1) {
            env->dnsbl_score += l->weight;
            env->dnsbl_count++;
            if (env->dnsbl_reason[0] == '\0' && reason != NULL)
                snprintf(env->dnsbl_reason, sizeof env->dnsbl_reason, "%s", reason);
        }
    }
}

void rules_ask_dns(const struct ruleset *rs, const struct rule *from, struct envelope *env)
{
    struct wanted w;
    unsigned needs = 0;
    const struct ipaddr *client = env->have_client_ip ? &env->client_ip : NULL;
    bool rdns;

    /* The rules from here on that run ("off" ones never do). */
    for (const struct rule *r = from; r != NULL; r = r->next)
        needs |= r->off ? 0 : r->dns_needs;
    if (env->dns == NULL || needs == 0)
        return;
    dns_cache_begin_stage(env->dns); /* one budget for every round of this stage */
    rdns = (needs & RULE_DNS_RDNS) != 0;
    /* Reverse DNS first only when a list looks up the confirmed name;
       otherwise it goes out with the lists, in the same round. */
    if (needs & RULE_DNS_RDNS_FIRST) {
        dns_cache_prefetch(env->dns, client, true, NULL, 0);
        rdns = false;
    }
    w.n = 0;
    for (const struct rule *r = from; r != NULL; r = r->next)
        if (!r->off)
            want_cond(&w, r->cond, env);
    if (needs & RULE_DNS_SCORE)
        for (const struct list *l = rs->lists; l != NULL; l = l->next)
            if (l->kind == LIST_DNS && l->key_fact != NULL && l->key_fact->first_stage <= from->stage)
                want(&w, l, l->key_fact, env);
    dns_cache_prefetch(env->dns, client, rdns, w.names, w.n);
    if (needs & RULE_DNS_SCORE)
        summarise(rs, from->stage, env);
}
