/*
 * metrics_rules.c: per-rule counters that outlive a reload.
 *
 * Every counter is keyed by the rule's label, or its file:line when it
 * has none, in a registry that only grows: a reload whose rule keeps its
 * key keeps its counts, and sessions still on an older rule set go on
 * counting into the same entries, which are never freed before exit.
 * Each rule set gets a table (its attachment, freed with it) from a
 * rule's index to its entry, so counting is an array lookup and an
 * atomic add. Only the rule set attached last is exported.
 *
 * The lock guards the registry and the export list, taken only to attach
 * a rule set and to render: never on the counting path.
 */
#include "milter/metrics_impl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGISTRY_BUCKETS 1024

struct rule_table {
    unsigned n;
    struct rule_counters *c[]; /* by rule_index() */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct rule_counters *registry[REGISTRY_BUCKETS];
static struct rule_counters **exported; /* the last attached rule set's, each key once */
static unsigned nexported, export_gen;

static unsigned hash_key(const char *s)
{
    unsigned h = 2166136261u;

    while (*s != '\0')
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % REGISTRY_BUCKETS;
}

/* The entry for key, made when missing; NULL when out of memory. Lock held. */
static struct rule_counters *registry_get(const char *key)
{
    unsigned h = hash_key(key);
    struct rule_counters *c;
    size_t len = strlen(key);

    for (c = registry[h]; c != NULL; c = c->next)
        if (strcmp(c->key, key) == 0)
            return c;
    if ((c = calloc(1, sizeof *c + len + 1)) == NULL)
        return NULL;
    memcpy(c->key, key, len + 1);
    c->next = registry[h];
    registry[h] = c;
    return c;
}

static void rule_key(const struct rule *r, char *out, size_t outsz)
{
    const char *label = rule_label(r);

    snprintf(out, outsz, "%s", label[0] != '\0' ? label : rule_where(r));
}

struct rule_counters *metrics_rule_counters(const struct rule *r)
{
    const struct rule_table *t = ruleset_attachment(rule_ruleset(r));
    unsigned i = rule_index(r);

    return t != NULL && i < t->n ? t->c[i] : NULL;
}

/* The rule set's table and its export list, each key once. Lock held. */
static int build(struct ruleset *rs, struct rule_table *t, struct rule_counters **list, unsigned *nlist)
{
    char key[512];
    unsigned gen = export_gen + 1;

    *nlist = 0;
    for (int s = 0; s < STAGE_COUNT; s++)
        for (const struct rule *r = ruleset_first_rule(rs, (enum stage)s); r != NULL; r = rule_next(r)) {
            struct rule_counters *c;
            rule_key(r, key, sizeof key);
            if ((c = registry_get(key)) == NULL || rule_index(r) >= t->n)
                return -1;
            t->c[rule_index(r)] = c;
            if (c->exported != gen) {
                c->exported = gen;
                list[(*nlist)++] = c;
            }
        }
    export_gen = gen;
    return 0;
}

int metrics_attach_rules(struct ruleset *rs)
{
    unsigned n = ruleset_rule_count(rs);
    struct rule_table *t = calloc(1, sizeof *t + (size_t)n * sizeof t->c[0]);
    struct rule_counters **list = calloc(n > 0 ? n : 1, sizeof *list);
    unsigned nlist;

    if (t == NULL || list == NULL)
        goto fail;
    t->n = n;
    pthread_mutex_lock(&lock);
    if (build(rs, t, list, &nlist) < 0) {
        pthread_mutex_unlock(&lock);
        goto fail;
    }
    free(exported);
    exported = list;
    nexported = nlist;
    pthread_mutex_unlock(&lock);
    if (ruleset_set_attachment(rs, t, free) < 0) {
        free(t); /* attached before: that table stays */
        return -1;
    }
    return 0;
fail:
    free(t);
    free(list);
    return -1;
}

void metrics_rules_reset(void)
{
    pthread_mutex_lock(&lock);
    for (unsigned h = 0; h < REGISTRY_BUCKETS; h++)
        for (struct rule_counters *c = registry[h]; c != NULL; c = c->next) {
            atomic_store_explicit(&c->matched, 0, memory_order_relaxed);
            atomic_store_explicit(&c->decided, 0, memory_order_relaxed);
            atomic_store_explicit(&c->warned, 0, memory_order_relaxed);
        }
    pthread_mutex_unlock(&lock);
}

void metrics_rules_each(void (*fn)(const struct rule_counters *c, void *ctx), void *ctx)
{
    pthread_mutex_lock(&lock);
    for (unsigned i = 0; i < nexported; i++)
        fn(exported[i], ctx);
    pthread_mutex_unlock(&lock);
}
