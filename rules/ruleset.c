/*
 * ruleset.c: the rule set type: share, free, describe (rules/load.c makes
 * one from a file).
 *
 * A rule set is immutable once ruleset_load returns it: sessions hold a
 * reference for their whole life, a reload builds a new one next to it,
 * and the last reference frees it.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/auth/dkim_sign.h"
#include "rules/ast.h"

void cond_free(struct cond *c)
{
    if (c == NULL)
        return;
    cond_free(c->left);
    cond_free(c->right);
    regex_free(c->re);
    free(c->fact_name);
    free(c->list_name);
    free(c->str);
    free(c);
}

void test_step_free(struct test_step *st)
{
    free(st->value);
    free(st->value2);
    for (size_t i = 0; i < st->nlines; i++)
        free(st->lines[i]);
    free(st->lines);
    free(st->client_name);
    free(st->auth_user);
    free(st->expect.by);
    free(st);
}

void test_free(struct rule_test *t)
{
    while (t != NULL) {
        struct rule_test *next = t->next;
        struct test_step *st = t->steps;
        while (st != NULL) {
            struct test_step *sn = st->next;
            test_step_free(st);
            st = sn;
        }
        free(t->name);
        free(t);
        t = next;
    }
}

void rule_free(struct rule *r)
{
    if (r == NULL)
        return;
    free(r->label);
    free(r->arg);
    cond_free(r->cond);
    free(r->reply.text);
    free(r->text);
    free(r);
}

void ruleset_free(struct ruleset *rs)
{
    if (rs->attachment_free != NULL)
        rs->attachment_free(rs->attachment);
    for (int s = 0; s < STAGE_COUNT; s++) {
        struct rule *r = rs->stages[s];
        while (r != NULL) {
            struct rule *next = r->next;
            rule_free(r);
            r = next;
        }
    }
    test_free(rs->tests);
    dkim_signer_free(rs->signer);
    while (rs->macros != NULL) {
        struct macro *next = rs->macros->next;
        free(rs->macros->name);
        free(rs->macros->value);
        free(rs->macros);
        rs->macros = next;
    }
    while (rs->lists != NULL) {
        struct list *next = rs->lists->next;
        list_free(rs->lists);
        rs->lists = next;
    }
    for (int s = 0; s < STAGE_COUNT; s++)
        free(rs->symlist[s]);
    for (unsigned i = 0; i < rs->ntags; i++)
        free(rs->tags[i]);
    for (size_t i = 0; i < rs->nfiles; i++)
        free(rs->files[i]);
    free(rs->files);
    free(rs->path);
    free(rs);
}

struct ruleset *ruleset_ref(struct ruleset *rs)
{
    atomic_fetch_add_explicit(&rs->refs, 1, memory_order_relaxed);
    return rs;
}

void ruleset_unref(struct ruleset *rs)
{
    if (rs != NULL && atomic_fetch_sub_explicit(&rs->refs, 1, memory_order_acq_rel) == 1)
        ruleset_free(rs);
}

unsigned ruleset_stages(const struct ruleset *rs) { return rs->stage_mask; }
unsigned ruleset_fact_stages(const struct ruleset *rs) { return rs->fact_stage_mask; }
bool ruleset_uses_auth(const struct ruleset *rs) { return rs->uses_auth; }
bool ruleset_signs_dkim(const struct ruleset *rs) { return rs->signs_dkim; }
const char *rule_sign_selector(const struct rule *r) { return r->action == ACTION_DKIM_SIGN ? r->arg : NULL; }
const struct dkim_signer *ruleset_dkim_signer(const struct ruleset *rs) { return rs->signer; }
const char *ruleset_path(const struct ruleset *rs) { return rs->path; }
unsigned ruleset_rule_count(const struct ruleset *rs) { return rs->nrules; }
unsigned ruleset_test_count(const struct ruleset *rs) { return rs->ntests; }
const char *ruleset_macros(const struct ruleset *rs, enum stage s) { return rs->symlist[s]; }
bool ruleset_edits_headers(const struct ruleset *rs) { return rs->edits_headers; }
bool ruleset_deletes_headers(const struct ruleset *rs) { return rs->deletes_headers; }
bool ruleset_quarantines(const struct ruleset *rs) { return rs->quarantines; }
bool ruleset_uses_spf(const struct ruleset *rs) { return rs->uses_spf; }
bool ruleset_uses_dkim(const struct ruleset *rs) { return rs->uses_dkim; }
bool ruleset_uses_virus(const struct ruleset *rs) { return rs->uses_virus; }
bool ruleset_virus_tempfail(const struct ruleset *rs) { return rs->virus_tempfail; }
bool ruleset_uses_dmarc(const struct ruleset *rs) { return rs->uses_dmarc; }
bool ruleset_adds_authres(const struct ruleset *rs) { return rs->adds_authres; }
bool ruleset_uses_state(const struct ruleset *rs) { return rs->uses_state; }
bool ruleset_uses_mime(const struct ruleset *rs) { return rs->uses_mime; }
bool ruleset_uses_dns(const struct ruleset *rs)
{
    return (rs->dns_stages | rs->rdns_stages | rs->score_stages) != 0 || rs->uses_spf || rs->uses_dkim;
}
const char *rule_where(const struct rule *r) { return r->where; }
unsigned rule_index(const struct rule *r) { return r->index; }
const struct rule *ruleset_first_rule(const struct ruleset *rs, enum stage s) { return rs->stages[s]; }
const struct rule *rule_next(const struct rule *r) { return r->next; }
const struct ruleset *rule_ruleset(const struct rule *r) { return r->rs; }
void *ruleset_attachment(const struct ruleset *rs) { return rs->attachment; }

int ruleset_set_attachment(struct ruleset *rs, void *p, void (*free_fn)(void *))
{
    if (rs->attachment != NULL)
        return -1;
    rs->attachment = p;
    rs->attachment_free = free_fn;
    return 0;
}
const char *rule_label(const struct rule *r) { return r->label ? r->label : ""; }
const char *rule_ref(const struct rule *r) { return r->ref; }
enum action rule_action(const struct rule *r) { return r->action; }
bool rule_unchecked(const struct rule *r) { return r != NULL && r->unchecked; }
enum stage rule_stage(const struct rule *r) { return r->stage; }
const char *rule_text(const struct rule *r) { return r->text ? r->text : action_name(r->action); }

const char *action_name(enum action a)
{
    switch (a) {
    case ACTION_NONE: return "default";
    case ACTION_CONTINUE: return "continue";
    case ACTION_ACCEPT: return "accept";
    case ACTION_REJECT: return "reject";
    case ACTION_TEMPFAIL: return "tempfail";
    case ACTION_DISCARD: return "discard";
    case ACTION_GREYLIST: return "greylist";
    case ACTION_ADD_HEADER: return "add-header";
    case ACTION_CHANGE_HEADER: return "change-header";
    case ACTION_DELETE_HEADER: return "delete-header";
    case ACTION_QUARANTINE: return "quarantine";
    case ACTION_TAG: return "tag";
    case ACTION_AUTH_RESULTS: return "authentication-results";
    case ACTION_RECEIVED_SPF: return "received-spf";
    case ACTION_DKIM_SIGN: return "dkim-sign";
    }
    return "?";
}

/* Rate limits and greylisting as they were understood, units spelled out. */
static void print_state_settings(const struct ruleset *rs, FILE *out)
{
    static const char *const units[] = { "connections", "messages", "recipients" };
    const struct greylist_params *g = &rs->greylist;

    for (const struct list *l = rs->lists; l != NULL; l = l->next)
        if (l->kind == LIST_RATELIMIT)
            fprintf(out, "ratelimit %s { key %s; window %u; limit %lu; count %s; on-error %s; }  # %s:%d\n",
                    l->name, l->key, l->window, l->limit, units[l->unit], l->tempfail ? "tempfail" : "skip",
                    l->loc.file, l->loc.first_line);
    if (rs->uses_state || rs->greylist_seen)
        fprintf(out, "greylist { delay %u; window %u; lifetime %u; auto-allow %u; auto-allow-lifetime %u; "
                     "ipv4-prefix %u; ipv6-prefix %u; on-error %s; }\n",
                g->delay, g->window, g->lifetime, g->autoallow_passes, g->autoallow_lifetime, g->v4_prefix,
                g->v6_prefix, rs->greylist_tempfail ? "tempfail" : "skip");
    if (rs->uses_virus || rs->clamd_seen)
        fprintf(out, "clamd { on-error %s; }\n", rs->virus_tempfail ? "tempfail" : "skip");
}

void ruleset_print(const struct ruleset *rs, FILE *out)
{
    for (const struct list *l = rs->lists; l != NULL; l = l->next)
        if (l->kind != LIST_RATELIMIT)
            fprintf(out, "# list <%s>: %zu entries (%s:%d)\n", l->name,
                    l->nets ? cidr_set_count(l->nets) : l->strs ? strset_count(l->strs) : l->nres,
                    l->loc.file, l->loc.first_line);
    print_state_settings(rs, out);
    for (int s = 0; s < STAGE_COUNT; s++) {
        if (rs->stages[s] == NULL)
            continue;
        fprintf(out, "on %s {\n", stage_name((enum stage)s));
        for (const struct rule *r = rs->stages[s]; r != NULL; r = r->next)
            fprintf(out, "    %s  # %s\n", rule_text(r), r->where);
        fprintf(out, "}\n");
    }
    for (const struct rule_test *t = rs->tests; t != NULL; t = t->next)
        fprintf(out, "# test \"%s\" (%s:%d): %s\n", t->name, t->loc.file, t->loc.first_line,
                t->passed ? "passed" : "failed");
}
