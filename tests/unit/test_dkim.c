/*
 * test_dkim.c: what policy/auth/dkim.c decides before any key is asked for:
 * key names that are no DNS names, messages without signatures, the header
 * limits, the signature count past the cap, malformed signatures, and
 * calls out of order. No resolver: none of these may need one (a lookup
 * would fail, and the test with it). Key lookups are in
 * tests/dkim/dkim_checks.sh, against real DNS servers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/auth/dkim.h"
#include "policy/auth/dkim_dns.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void test_key_names(void **state)
{
    static const struct {
        const char *selector, *domain, *name; /* name NULL: refused */
    } cases[] = {
        { "sel", "example.test", "sel._domainkey.example.test" },
        { "s2024-01_a", "mail.Example.TEST", "s2024-01_a._domainkey.mail.Example.TEST" },
        { "a.b", "example.test", "a.b._domainkey.example.test" },
        { "", "example.test", NULL },
        { "sel", "", NULL },
        { "bad!sel", "example.test", NULL },
        { "sel", "example..test", NULL },
        { "sel", "example.test.", NULL },
        { ".sel", "example.test", NULL },
        { "sel", "exa mple.test", NULL },
        { "sel", "ex\xc3\xa4mple.test", NULL },
        { "sel", "example.test\n", NULL },
        { NULL, "example.test", NULL },
        { "sel", NULL, NULL },
    };
    char name[DKIM_KEYNAME_MAX + 1];

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        int rc = dkim_keys_name(cases[i].selector, cases[i].domain, name, sizeof name);
        if (cases[i].name == NULL) {
            assert_int_equal(rc, -1);
        } else {
            assert_int_equal(rc, 0);
            assert_string_equal(name, cases[i].name);
        }
    }
}

static void test_key_name_lengths(void **state)
{
    char label63[64], label64[65], domain[300], name[DKIM_KEYNAME_MAX + 1];

    (void)state;
    memset(label63, 'a', 63);
    label63[63] = '\0';
    memset(label64, 'a', 64);
    label64[64] = '\0';
    assert_int_equal(dkim_keys_name(label63, "example.test", name, sizeof name), 0);
    assert_int_equal(dkim_keys_name(label64, "example.test", name, sizeof name), -1);
    /* 4 labels of 63 and the selector: past the 253 octets of a name. */
    snprintf(domain, sizeof domain, "%s.%s.%s.%s", label63, label63, label63, label63);
    assert_int_equal(dkim_keys_name("s", domain, name, sizeof name), -1);
    /* A buffer too small is refused, not overrun. */
    assert_int_equal(dkim_keys_name("sel", "example.test", name, 10), -1);
}

static struct dkim_checker *checker(const struct dkim_limits *lim)
{
    const char *error = NULL;
    struct dkim_checker *c = dkim_checker_new(NULL, lim, &error);

    assert_non_null(c);
    return c;
}

/* One message of header name/value pairs and a short body, start to end. */
static void outcome_of(const struct dkim_limits *lim, const char *const *headers, size_t n,
                       struct dkim_outcome *out)
{
    struct dkim_checker *c = checker(lim);
    struct dkim_check *m = dkim_check_new(c, "unit");

    assert_non_null(m);
    for (size_t i = 0; i + 1 < n; i += 2)
        assert_int_equal(dkim_check_header(m, headers[i], headers[i + 1]), 0);
    assert_int_equal(dkim_check_eoh(m), 0);
    assert_int_equal(dkim_check_body(m, (const unsigned char *)"body\r\n", 6), 0);
    dkim_check_eom(m, out);
    dkim_check_free(m);
    dkim_checker_free(c);
}

static const char *const plain[] = {
    "From", " a@example.test", "To", " b@example.org", "Subject", " hello",
};

static void test_unsigned(void **state)
{
    struct dkim_outcome out;

    (void)state;
    outcome_of(NULL, plain, ARRAY_SIZE(plain), &out);
    assert_int_equal(out.result, AUTH_NONE);
    assert_int_equal(out.nsigs, 0);
    assert_int_equal(out.nevaluated, 0);
}

/* Broken before any key is needed: permerror, and no lookup. */
static void test_malformed_signature(void **state)
{
    static const char *const hdrs[] = {
        "DKIM-Signature", " v=1; a=rsa-sha256; d=example.test; s=sel; garbage",
        "From", " a@example.test", "Subject", " hello",
    };
    struct dkim_outcome out;

    (void)state;
    outcome_of(NULL, hdrs, ARRAY_SIZE(hdrs), &out);
    assert_int_equal(out.result, AUTH_PERMERROR);
    assert_int_equal(out.nsigs, 1);
    assert_int_equal(out.nevaluated, 1);
    assert_int_equal(out.sig[0].result, AUTH_PERMERROR);
    assert_int_equal(out.sig[0].key_bits, 0);
    assert_true(out.sig[0].problem[0] != '\0');
}

static void test_header_count_limit(void **state)
{
    static const char *const hdrs[] = {
        "DKIM-Signature", " v=1; a=rsa-sha256; d=example.test; s=sel; h=from; bh=x; b=y",
        "From", " a@example.test", "To", " b@example.org", "Subject", " hello",
    };
    struct dkim_limits lim = { .max_headers = 3 };
    struct dkim_outcome out;

    (void)state;
    outcome_of(&lim, hdrs, ARRAY_SIZE(hdrs), &out);
    assert_int_equal(out.result, AUTH_PERMERROR);
    assert_int_equal(out.nsigs, 1);
    assert_int_equal(out.nevaluated, 0);
    assert_string_equal(out.problem, "more than 3 header fields: no signature verified");
}

/* Past a header limit, signature fields are still counted; a message
   whose only signature comes after the limit is no unsigned message. */
static void test_header_bytes_limit(void **state)
{
    static const char *const hdrs[] = {
        "From", " a@example.test", "Subject", " a subject long enough to pass the limit",
        "DKIM-Signature", " v=1; a=rsa-sha256; d=example.test; s=sel; h=from; bh=x; b=y",
    };
    struct dkim_limits lim = { .max_header_bytes = 64 };
    struct dkim_outcome out;

    (void)state;
    outcome_of(&lim, hdrs, ARRAY_SIZE(hdrs), &out);
    assert_int_equal(out.result, AUTH_PERMERROR);
    assert_int_equal(out.nsigs, 1);
    assert_string_equal(out.problem, "header fields over 64 bytes: no signature verified");
}

/* Signatures past the cap are counted, never shown to libopendkim. */
static void test_signature_cap(void **state)
{
    static const char *const hdrs[] = {
        "DKIM-Signature", " v=1; a=rsa-sha256; d=example.test; garbage1",
        "DKIM-Signature", " v=1; a=rsa-sha256; d=example.test; garbage2",
        "DKIM-Signature", " v=1; a=rsa-sha256; d=example.test; garbage3",
        "From", " a@example.test",
    };
    struct dkim_limits lim = { .max_signatures = 2 };
    struct dkim_outcome out;

    (void)state;
    outcome_of(&lim, hdrs, ARRAY_SIZE(hdrs), &out);
    assert_int_equal(out.nsigs, 3);
    assert_int_equal(out.nevaluated, 2);
    assert_string_equal(out.problem, "3 signatures, 2 evaluated");
}

/* Out of order: body before the end of headers, end of message without
   either, a second end of headers. Defined results, no crash. */
static void test_out_of_order(void **state)
{
    struct dkim_checker *c = checker(NULL);
    struct dkim_check *m = dkim_check_new(c, "o1");
    struct dkim_outcome out;

    (void)state;
    assert_int_equal(dkim_check_body(m, (const unsigned char *)"x\r\n", 3), 0);
    dkim_check_eom(m, &out);
    assert_int_equal(out.result, AUTH_NONE);
    dkim_check_free(m);

    m = dkim_check_new(c, "o2");
    assert_int_equal(dkim_check_header(m, "DKIM-Signature", " v=1; garbage"), 0);
    dkim_check_eom(m, &out);
    assert_int_equal(out.result, AUTH_PERMERROR);
    assert_int_equal(dkim_check_eoh(m), 0);
    assert_int_equal(dkim_check_eoh(m), 0);
    dkim_check_free(m);
    dkim_checker_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_names),
        cmocka_unit_test(test_key_name_lengths),
        cmocka_unit_test(test_unsigned),
        cmocka_unit_test(test_malformed_signature),
        cmocka_unit_test(test_header_count_limit),
        cmocka_unit_test(test_header_bytes_limit),
        cmocka_unit_test(test_signature_cap),
        cmocka_unit_test(test_out_of_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
