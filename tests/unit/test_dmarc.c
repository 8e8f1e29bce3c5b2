/*
 * test_dmarc.c: policy/auth/dmarc.c on author domains filled in by hand
 * (struct dmarc_from, SPF and DKIM outcomes), against a resolver that
 * holds only the test's records (DNS_MODE_LOCAL: every other name does
 * not exist, the failing ones answer REFUSED, a temporary failure).
 *
 * Checked: the organizational domain from the Public Suffix List; p=,
 * sp= and np= (with its fallbacks); pct= (which libopendmarc 1.4.2 does
 * not apply: pct=0 must lower the policy here); relaxed and strict
 * alignment of SPF and DKIM; no record, several records, a malformed one,
 * a lookup that fails (temperror, never none); the From: problems and
 * several author domains (the worst kept).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/auth/dmarc.h"
#include "policy/auth/dmarc_dns.h"
#include "policy/dns/dns.h"

static const char *const records[] = {
    "_dmarc.reject.org. TXT \"v=DMARC1; p=reject\"",
    "_dmarc.strict.org. TXT \"v=DMARC1; p=reject; adkim=s; aspf=s\"",
    "_dmarc.tree.org. TXT \"v=DMARC1; p=reject; sp=quarantine; np=none; rua=mailto:agg@tree.org\"",
    "real.tree.org. A 192.0.2.1",
    "mxonly.tree.org. MX 10 mx.tree.org.",
    "_dmarc.nonp.org. TXT \"v=DMARC1; p=none; sp=reject\"",
    "_dmarc.onlyp.org. TXT \"v=DMARC1; p=quarantine\"",
    "_dmarc.own.onlyp.org. TXT \"v=DMARC1; p=none; sp=reject\"",
    "_dmarc.npreject.org. TXT \"v=DMARC1; p=none; np=reject\"",
    "_dmarc.pct0.org. TXT \"v=DMARC1; p=reject; pct=0\"",
    "_dmarc.pct100.org. TXT \"v=DMARC1; p=reject; pct=100\"",
    "_dmarc.pctq.org. TXT \"v=DMARC1; p=quarantine; pct=0\"",
    "_dmarc.broken.org. TXT \"v=DMARC1; p=bogus\"",
    "_dmarc.nop.org. TXT \"v=DMARC1; sp=reject\"",
    "_dmarc.two.org. TXT \"v=DMARC1; p=reject\"",
    "_dmarc.two.org. TXT \"v=DMARC1; p=none\"",
    "_dmarc.spfonly.org. TXT \"v=spf1 -all\"",
    "_dmarc.mixed.org. TXT \"v=spf1 -all\"",
    "_dmarc.mixed.org. TXT \"v=DMARC1; p=quarantine\"",
    "_dmarc.example.co.uk. TXT \"v=DMARC1; p=reject; sp=none\"",
    "_dmarc.example.test. TXT \"v=DMARC1; p=quarantine\"",
    "_dmarc.noneorg.org. TXT \"v=DMARC1; p=none\"",
    /* Over 512 bytes, as a record with several report addresses is: p= comes last. */
    "_dmarc.long.org. TXT \"v=DMARC1; rua=mailto:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@long.org\" \",mailto:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb@long.org\" \",mailto:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc@long.org; p=reject; adkim=s\"",
};
/* A second resolver for failures: in DNS_MODE_LOCAL with failing names,
   libunbound lets some names that should not exist time out instead
   (policy/dns/dns.c), so the two worlds are kept apart. */
static const char *const failing[] = { "_dmarc.slow.org", "_dmarc.slowsub.org" };
static const char *const failing_records[] = { "_dmarc.a.slowsub.org. TXT \"not DMARC\"" };

struct fixture {
    struct dns_resolver *r, *r_fail;
    struct dmarc_checker *c, *c_fail;
};

static int setup(void **state)
{
    static struct fixture fx;
    struct dns_config cfg = { .mode = DNS_MODE_LOCAL, .query_timeout_ms = 2000, .records = records,
                              .nrecords = sizeof records / sizeof records[0] };
    struct dns_config cfg_fail = { .mode = DNS_MODE_LOCAL, .query_timeout_ms = 1000, .records = failing_records,
                                   .nrecords = 1, .failing = failing, .nfailing = sizeof failing / sizeof failing[0] };
    const char *error = NULL;

    fx.r = dns_resolver_new(&cfg, &error);
    assert_non_null(fx.r);
    fx.r_fail = dns_resolver_new(&cfg_fail, &error);
    assert_non_null(fx.r_fail);
    fx.c = dmarc_checker_new(fx.r, &(struct dmarc_limits){ .deadline_ms = 3000 }, &error);
    if (fx.c == NULL)
        fail_msg("dmarc_checker_new: %s", error);
    fx.c_fail = dmarc_checker_new(fx.r_fail, &(struct dmarc_limits){ .deadline_ms = 1500 }, &error);
    assert_non_null(fx.c_fail);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    dmarc_checker_free(fx->c);
    dmarc_checker_free(fx->c_fail);
    dns_resolver_free(fx->r);
    dns_resolver_free(fx->r_fail);
    return 0;
}

/* One author domain, SPF (MAIL FROM) and DKIM signatures "d=result" each. */
struct msg {
    const char *from[3];
    const char *spf_domain;
    enum auth_result spf;
    const char *dkim_d[2];
    enum auth_result dkim[2];
};

static void run_with(struct dmarc_checker *c, const struct msg *m, struct dmarc_outcome *out)
{
    struct dmarc_from f;
    struct spf_outcome spf = { .result = m->spf, .identity = SPF_ID_MAILFROM };
    struct dkim_outcome dkim = { .result = AUTH_NONE };
    struct ipaddr ip = { .v4 = true, .b = { [10] = 0xff, [11] = 0xff, 192, 0, 2, 7 } };

    dmarc_from_init(&f);
    for (unsigned i = 0; i < 3 && m->from[i] != NULL; i++) {
        snprintf(f.domain[i], sizeof f.domain[i], "%s", m->from[i]);
        f.ndomains = i + 1;
    }
    f.fields = 1;
    f.addresses = f.ndomains;
    f.problem = f.ndomains > 1 ? DMARC_FROM_DOMAINS : DMARC_FROM_OK;
    if (m->spf_domain != NULL)
        snprintf(spf.domain, sizeof spf.domain, "%s", m->spf_domain);
    for (unsigned i = 0; i < 2 && m->dkim_d[i] != NULL; i++) {
        snprintf(dkim.sig[i].domain, sizeof dkim.sig[i].domain, "%s", m->dkim_d[i]);
        snprintf(dkim.sig[i].selector, sizeof dkim.sig[i].selector, "sel");
        dkim.sig[i].result = m->dkim[i];
        dkim.nsigs = dkim.nevaluated = i + 1;
    }
    dmarc_check(c, &(struct dmarc_input){ &f, m->spf_domain ? &spf : NULL, &dkim, &ip }, out);
}

static void run(void **state, const struct msg *m, struct dmarc_outcome *out)
{
    run_with(((struct fixture *)*state)->c, m, out);
}

static void test_org_domain(void **state)
{
    struct dmarc_outcome o;
    static const struct { const char *from, *org; } cases[] = {
        { "reject.org", "reject.org" },
        { "a.b.reject.org", "reject.org" },
        { "mail.example.co.uk", "example.co.uk" },
        { "x.example.test", "example.test" },  /* a suffix the list does not know: its default rule */
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run(state, &(struct msg){ .from = { cases[i].from } }, &o);
        assert_string_equal(o.from_domain, cases[i].from);
        assert_string_equal(o.org_domain, cases[i].org);
    }
}

static void test_policies(void **state)
{
    struct dmarc_outcome o;

    /* Nothing aligned: the author domain's own p=. */
    run(state, &(struct msg){ .from = { "reject.org" }, .spf_domain = "other.org", .spf = AUTH_PASS }, &o);
    assert_int_equal(o.result, AUTH_FAIL);
    assert_int_equal(o.policy, DMARC_DISP_REJECT);
    assert_int_equal(o.published, DMARC_DISP_REJECT);
    assert_string_equal(o.policy_tag, "p");
    assert_string_equal(o.record_domain, "reject.org");
    assert_int_equal(o.p, DMARC_DISP_REJECT);
    assert_int_equal(o.sp, -1);
    assert_int_equal(o.pct, 100);
    assert_int_equal(o.adkim, 'r');
    assert_false(o.spf_aligned || o.dkim_aligned || o.sampled_out);

    /* An existing subdomain: sp= of the organizational domain's record. */
    run(state, &(struct msg){ .from = { "real.tree.org" } }, &o);
    assert_int_equal(o.result, AUTH_FAIL);
    assert_string_equal(o.record_domain, "tree.org");
    assert_string_equal(o.policy_tag, "sp");
    assert_int_equal(o.policy, DMARC_DISP_QUARANTINE);
    assert_int_equal(o.np, DMARC_DISP_NONE);
    assert_string_equal(o.rua, "mailto:agg@tree.org");
    /* MX alone makes a domain exist. */
    run(state, &(struct msg){ .from = { "mxonly.tree.org" } }, &o);
    assert_string_equal(o.policy_tag, "sp");

    /* A subdomain that does not exist: np=. */
    run(state, &(struct msg){ .from = { "ghost.tree.org" } }, &o);
    assert_string_equal(o.policy_tag, "np");
    assert_int_equal(o.policy, DMARC_DISP_NONE);
    run(state, &(struct msg){ .from = { "ghost.npreject.org" } }, &o);
    assert_string_equal(o.policy_tag, "np");
    assert_int_equal(o.policy, DMARC_DISP_REJECT);
    /* ... without np=, sp=, then p=. */
    run(state, &(struct msg){ .from = { "ghost.nonp.org" } }, &o);
    assert_string_equal(o.policy_tag, "sp");
    assert_int_equal(o.policy, DMARC_DISP_REJECT);
    run(state, &(struct msg){ .from = { "ghost.onlyp.org" } }, &o);
    assert_string_equal(o.policy_tag, "p");
    assert_int_equal(o.policy, DMARC_DISP_QUARANTINE);

    /* A record longer than one TXT string, its p= past the 600th byte. */
    run(state, &(struct msg){ .from = { "long.org" } }, &o);
    assert_int_equal(o.result, AUTH_FAIL);
    assert_int_equal(o.published, DMARC_DISP_REJECT);
    assert_int_equal(o.adkim, 's');

    /* The author domain's own record: p=, though it has sp= (libopendmarc
       1.4.2 would take sp= if it were told an organizational domain). */
    run(state, &(struct msg){ .from = { "own.onlyp.org" } }, &o);
    assert_string_equal(o.record_domain, "own.onlyp.org");
    assert_string_equal(o.policy_tag, "p");
    assert_int_equal(o.policy, DMARC_DISP_NONE);
    assert_int_equal(o.result, AUTH_FAIL);
}

static void test_pct(void **state)
{
    struct dmarc_outcome o;

    for (int i = 0; i < 20; i++) {
        run(state, &(struct msg){ .from = { "pct0.org" } }, &o);
        assert_int_equal(o.result, AUTH_FAIL);
        assert_int_equal(o.published, DMARC_DISP_REJECT);
        assert_int_equal(o.policy, DMARC_DISP_QUARANTINE);
        assert_true(o.sampled_out);
        assert_int_equal(o.pct, 0);
        run(state, &(struct msg){ .from = { "pct100.org" } }, &o);
        assert_int_equal(o.policy, DMARC_DISP_REJECT);
        assert_false(o.sampled_out);
        run(state, &(struct msg){ .from = { "pctq.org" } }, &o);
        assert_int_equal(o.published, DMARC_DISP_QUARANTINE);
        assert_int_equal(o.policy, DMARC_DISP_NONE);
    }
}

static void test_alignment(void **state)
{
    struct dmarc_outcome o;

    /* SPF only, relaxed: a subdomain of the author's organizational domain. */
    run(state, &(struct msg){ .from = { "reject.org" }, .spf_domain = "bounce.reject.org", .spf = AUTH_PASS }, &o);
    assert_int_equal(o.result, AUTH_PASS);
    assert_true(o.spf_aligned);
    assert_false(o.dkim_aligned);
    assert_int_equal(o.policy, DMARC_DISP_NONE);
    /* SPF aligned but not passing: no. */
    run(state, &(struct msg){ .from = { "reject.org" }, .spf_domain = "reject.org", .spf = AUTH_SOFTFAIL }, &o);
    assert_int_equal(o.result, AUTH_FAIL);
    assert_false(o.spf_aligned);
    /* DKIM only. */
    run(state, &(struct msg){ .from = { "reject.org" }, .dkim_d = { "other.org", "mail.reject.org" },
                              .dkim = { AUTH_PASS, AUTH_PASS } }, &o);
    assert_int_equal(o.result, AUTH_PASS);
    assert_true(o.dkim_aligned);
    assert_false(o.spf_aligned);
    assert_string_equal(o.dkim_domain, "mail.reject.org");
    /* Both. */
    run(state, &(struct msg){ .from = { "reject.org" }, .spf_domain = "reject.org", .spf = AUTH_PASS,
                              .dkim_d = { "reject.org" }, .dkim = { AUTH_PASS } }, &o);
    assert_true(o.dkim_aligned && o.spf_aligned);
    /* An aligned signature that failed. */
    run(state, &(struct msg){ .from = { "reject.org" }, .dkim_d = { "reject.org" }, .dkim = { AUTH_FAIL } }, &o);
    assert_int_equal(o.result, AUTH_FAIL);
    assert_string_equal(o.dkim_domain, "");
    /* Strict: a subdomain identity does not align, the exact one does. */
    run(state, &(struct msg){ .from = { "strict.org" }, .spf_domain = "mail.strict.org", .spf = AUTH_PASS,
                              .dkim_d = { "mail.strict.org" }, .dkim = { AUTH_PASS } }, &o);
    assert_int_equal(o.result, AUTH_FAIL);
    assert_int_equal(o.adkim, 's');
    assert_int_equal(o.aspf, 's');
    assert_false(o.dkim_aligned || o.spf_aligned);
    run(state, &(struct msg){ .from = { "strict.org" }, .dkim_d = { "strict.org" }, .dkim = { AUTH_PASS } }, &o);
    assert_int_equal(o.result, AUTH_PASS);
    /* Relaxed across a public suffix: example.co.uk and other.co.uk do not align. */
    run(state, &(struct msg){ .from = { "mail.example.co.uk" }, .dkim_d = { "other.co.uk" }, .dkim = { AUTH_PASS } }, &o);
    assert_int_equal(o.result, AUTH_FAIL);
    assert_string_equal(o.policy_tag, "sp");
    assert_int_equal(o.policy, DMARC_DISP_NONE);
    run(state, &(struct msg){ .from = { "mail.example.co.uk" }, .dkim_d = { "example.co.uk" }, .dkim = { AUTH_PASS } }, &o);
    assert_int_equal(o.result, AUTH_PASS);
}

static void test_records(void **state)
{
    struct dmarc_outcome o;

    run(state, &(struct msg){ .from = { "norecord.org" } }, &o);
    assert_int_equal(o.result, AUTH_NONE);
    assert_string_equal(o.record_domain, "");
    assert_string_equal(o.policy_tag, "");
    assert_int_equal(o.p, -1);
    run(state, &(struct msg){ .from = { "spfonly.org" } }, &o);
    assert_int_equal(o.result, AUTH_NONE);
    run(state, &(struct msg){ .from = { "mixed.org" } }, &o);
    assert_int_equal(o.result, AUTH_FAIL);
    assert_int_equal(o.policy, DMARC_DISP_QUARANTINE);
    run(state, &(struct msg){ .from = { "two.org" } }, &o);
    assert_int_equal(o.result, AUTH_NONE);
    assert_string_equal(o.problem, "several DMARC records");
    run(state, &(struct msg){ .from = { "broken.org" } }, &o);
    assert_int_equal(o.result, AUTH_PERMERROR);
    assert_non_null(strstr(o.problem, "malformed DMARC record"));
    assert_string_equal(o.record_domain, "broken.org");
    run(state, &(struct msg){ .from = { "nop.org" } }, &o);
    assert_int_equal(o.result, AUTH_PERMERROR);
}

/* A lookup that fails (here REFUSED) is temperror, never none. */
static void test_lookup_failures(void **state)
{
    struct dmarc_checker *c = ((struct fixture *)*state)->c_fail;
    struct dmarc_outcome o;

    /* The author domain's, */
    run_with(c, &(struct msg){ .from = { "slow.org" } }, &o);
    assert_int_equal(o.result, AUTH_TEMPERROR);
    assert_int_equal(o.policy, DMARC_DISP_NONE);
    assert_string_equal(o.problem, "DMARC record lookup failed: error from the server");
    /* and the organizational domain's when the author domain has no DMARC record. */
    run_with(c, &(struct msg){ .from = { "a.slowsub.org" } }, &o);
    assert_int_equal(o.result, AUTH_TEMPERROR);
    assert_string_equal(o.problem, "DMARC record lookup failed: error from the server");
    assert_string_equal(o.org_domain, "slowsub.org");
}

static void test_from_problems(void **state)
{
    struct fixture *fx = *state;
    struct dmarc_from f;
    struct dmarc_outcome o;

    dmarc_from_init(&f);
    dmarc_from_finish(&f);
    dmarc_check(fx->c, &(struct dmarc_input){ &f, NULL, NULL, NULL }, &o);
    assert_int_equal(o.result, AUTH_NONE);
    assert_int_equal(o.from_problem, DMARC_FROM_MISSING);
    dmarc_from_init(&f);
    f.fields = 1;
    f.problem = DMARC_FROM_NO_DOMAIN;
    dmarc_check(fx->c, &(struct dmarc_input){ &f, NULL, NULL, NULL }, &o);
    assert_int_equal(o.result, AUTH_PERMERROR);
    assert_int_equal(o.from_problem, DMARC_FROM_NO_DOMAIN);

    /* Several author domains: the worst kept, whatever the order. */
    run(state, &(struct msg){ .from = { "noneorg.org", "reject.org", "onlyp.org" } }, &o);
    assert_int_equal(o.result, AUTH_FAIL);
    assert_int_equal(o.policy, DMARC_DISP_REJECT);
    assert_string_equal(o.from_domain, "reject.org");
    assert_int_equal(o.from_problem, DMARC_FROM_DOMAINS);
    run(state, &(struct msg){ .from = { "reject.org", "norecord.org" }, .spf_domain = "reject.org", .spf = AUTH_PASS }, &o);
    assert_int_equal(o.result, AUTH_NONE);
    assert_string_equal(o.from_domain, "norecord.org");
}

/* The minimal From: reader of this branch (the full one replaces it). */
static void test_from_reader(void **state)
{
    static const struct { const char *v1, *v2; unsigned n; enum dmarc_from_problem p; const char *d; } cases[] = {
        { "a@Example.ORG", NULL, 1, DMARC_FROM_OK, "example.org" },
        { " Name <a@b.example>", NULL, 1, DMARC_FROM_OK, "b.example" },
        { "a@x.org, b@x.org", NULL, 1, DMARC_FROM_OK, "x.org" },
        { "a@x.org, b@y.org", NULL, 2, DMARC_FROM_DOMAINS, "x.org" },
        { "a@x.org", "b@x.org", 1, DMARC_FROM_FIELDS, "x.org" },
        { "nobody", NULL, 0, DMARC_FROM_NO_DOMAIN, NULL },
        { "a@bad..org", NULL, 0, DMARC_FROM_NO_DOMAIN, NULL },
        { "", NULL, 0, DMARC_FROM_NO_DOMAIN, NULL },
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct dmarc_from f;
        dmarc_from_init(&f);
        dmarc_from_add(&f, cases[i].v1, strlen(cases[i].v1));
        if (cases[i].v2 != NULL)
            dmarc_from_add(&f, cases[i].v2, strlen(cases[i].v2));
        dmarc_from_finish(&f);
        assert_int_equal(f.ndomains, cases[i].n);
        assert_int_equal(f.problem, cases[i].p);
        if (cases[i].d != NULL)
            assert_string_equal(f.domain[0], cases[i].d);
    }
    assert_true(dmarc_record_is_dmarc("v=DMARC1; p=none"));
    assert_true(dmarc_record_is_dmarc("v=DMARC1"));
    assert_false(dmarc_record_is_dmarc("v=DMARC10; p=none"));
    assert_false(dmarc_record_is_dmarc(" v=DMARC1; p=none"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_org_domain),
        cmocka_unit_test(test_policies),
        cmocka_unit_test(test_pct),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_lookup_failures),
        cmocka_unit_test(test_from_problems),
        cmocka_unit_test(test_from_reader),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
