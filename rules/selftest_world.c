/*
 * selftest_world.c: DNS, sender authentication, store, clock and virus
 * scanner for one test case of a rule file.
 *
 * Must never ask a real server or open the daemon's store: DNS holds only
 * the test's records (every other name does not exist), the store lives
 * in memory and dies with the test, and clamd is an in-process scanner
 * that knows the EICAR test string only.
 */
#include "rules/selftest_world.h"

#include <stdlib.h>
#include <string.h>

#include "policy/auth/dkim.h"
#include "policy/auth/dmarc.h"
#include "policy/auth/spf.h"
#include "policy/content/clamd.h"
#include "policy/state/store.h"

#define TEST_DNS_TIMEOUT_MS 2000

/* The world's virus scanner: no clamd, one signature, the EICAR test string in the body as it is. */
static const struct clamd_config world_clamd = { .eicar_only = true };

static time_t world_clock(void *ctx)
{
    return ((const struct test_world *)ctx)->clock;
}

static const struct test_step *first_step(const struct rule_test *t, enum test_step_kind kind)
{
    for (const struct test_step *st = t->steps; st != NULL; st = st->next)
        if (st->kind == kind)
            return st;
    return NULL;
}

/* Every record and failing name the test states, in one DNS of its own. */
static int open_dns(struct test_world *w, const struct rule_test *t, struct diag *diag)
{
    struct dns_config cfg = { .mode = DNS_MODE_LOCAL, .query_timeout_ms = TEST_DNS_TIMEOUT_MS };
    const char **records = NULL, **failing = NULL;
    size_t nrec = 0, nfail = 0;
    const char *error = "out of memory";
    const struct test_step *where = first_step(t, STEP_DNS);

    for (const struct test_step *st = t->steps; st != NULL; st = st->next)
        nrec += st->kind == STEP_DNS ? st->nlines : 0, nfail += st->kind == STEP_DNS_FAIL;
    if ((records = calloc(nrec + 1, sizeof *records)) != NULL && (failing = calloc(nfail + 1, sizeof *failing)) != NULL) {
        nrec = nfail = 0;
        for (const struct test_step *st = t->steps; st != NULL; st = st->next) {
            for (size_t i = 0; st->kind == STEP_DNS && i < st->nlines; i++)
                records[nrec++] = st->lines[i];
            if (st->kind == STEP_DNS_FAIL)
                failing[nfail++] = st->value;
        }
        cfg.records = records, cfg.nrecords = nrec, cfg.failing = failing, cfg.nfailing = nfail;
        w->resolver = dns_resolver_new(&cfg, &error);
    }
    free(records);
    free(failing);
    if (w->resolver == NULL)
        diag_error(diag, where != NULL ? &where->loc : &t->loc, "test \"%s\": its DNS: %s (a record is written "
                   "\"name. TYPE data\", e.g. \"example.org. TXT \\\"v=spf1 -all\\\"\")", t->name, error);
    return w->resolver != NULL ? 0 : -1;
}

/* DMARC's checker reads the Public Suffix List (once per process): only
   for rules that use DMARC, so that SPF or DKIM rules load without it. */
static int open_auth(struct test_world *w, const struct rule_test *t, bool dmarc, struct diag *diag)
{
    const struct test_step *id = first_step(t, STEP_AUTHSERV_ID);
    struct spf_limits sl = { .deadline_ms = TEST_DNS_TIMEOUT_MS };
    struct dkim_limits dl = { .deadline_ms = TEST_DNS_TIMEOUT_MS };
    struct dmarc_limits ml = { .deadline_ms = TEST_DNS_TIMEOUT_MS };
    const char *error = NULL;

    w->auth.authserv_id = id != NULL ? id->value : TEST_AUTHSERV_ID;
    if ((w->auth.spf = spf_checker_new(w->resolver, &sl, w->auth.authserv_id, &error)) == NULL ||
        (w->auth.dkim = dkim_checker_new(w->resolver, &dl, &error)) == NULL ||
        (dmarc && (w->auth.dmarc = dmarc_checker_new(w->resolver, &ml, &error)) == NULL)) {
        diag_error(diag, &t->loc, "test \"%s\": sender authentication: %s", t->name, error);
        return -1;
    }
    return 0;
}

int test_world_open(struct test_world *w, const struct ruleset *rs, const struct rule_test *t, struct diag *diag)
{
    bool dns = ruleset_uses_dns(rs) || first_step(t, STEP_DNS) != NULL || first_step(t, STEP_DNS_FAIL) != NULL;

    memset(w, 0, sizeof *w);
    w->clock = TEST_CLOCK_START;
    w->state.clock = world_clock;
    w->state.clock_ctx = w;
    if (dns && open_dns(w, t, diag) < 0)
        return -1;
    if ((ruleset_uses_spf(rs) || ruleset_uses_dkim(rs) || ruleset_signs_dkim(rs)) &&
        open_auth(w, t, ruleset_uses_dmarc(rs), diag) < 0) {
        test_world_close(w);
        return -1;
    }
    /* Only a test that asks for a store greylists and counts: switching
       greylisting on must not change what the other tests see. */
    if ((first_step(t, STEP_STORE) != NULL || first_step(t, STEP_ENABLE) != NULL) &&
        (w->state.store = store_memory_open()) == NULL) {
        diag_error(diag, &t->loc, "test \"%s\": out of memory", t->name);
        test_world_close(w);
        return -1;
    }
    w->svc = (struct conn_services){ w->resolver, TEST_DNS_TIMEOUT_MS, &w->auth, &w->state, &world_clamd };
    return 0;
}

void test_world_close(struct test_world *w)
{
    spf_checker_free(w->auth.spf);
    dkim_checker_free(w->auth.dkim);
    dmarc_checker_free(w->auth.dmarc);
    store_close(w->state.store);
    dns_resolver_free(w->resolver);
    memset(w, 0, sizeof *w);
}

const char *test_world_macro(void *ctx, const char *name)
{
    const struct rule_test *t = ctx;
    const char *value = NULL;

    for (const struct test_step *st = t->steps; st != NULL; st = st->next)
        if (st->kind == STEP_MACRO && strcmp(st->value, name) == 0)
            value = st->value2; /* the last one written wins */
    return value;
}
