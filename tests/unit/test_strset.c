/*
 * test_strset.c: the case-insensitive string set (rules/strset.c).
 *
 * Membership with explicit lengths, case folding, duplicates, the
 * "domain or any parent" lookup behind the rule language's 'under', and
 * growth well past the initial table size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rules/strset.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static bool has(const struct strset *set, const char *s)
{
    return strset_contains(set, s, strlen(s));
}

static bool under(const struct strset *set, const char *d)
{
    return strset_contains_domain_or_parent(set, d, strlen(d));
}

static struct strset *set_of(const char *const *items, size_t n)
{
    struct strset *set = strset_new();

    assert_non_null(set);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(strset_add(set, items[i], strlen(items[i])), 0);
    return set;
}

static void test_empty_set(void **state)
{
    struct strset *set = strset_new();

    (void)state;
    assert_int_equal(strset_count(set), 0);
    assert_false(has(set, "example.org"));
    assert_false(has(set, ""));
    assert_false(under(set, "example.org"));
    assert_false(under(set, ""));
    strset_free(set);
    strset_free(NULL);
}

static void test_case_insensitive(void **state)
{
    static const char *const items[] = { "Example.ORG", "postmaster@example.net" };
    struct strset *set = set_of(items, ARRAY_SIZE(items));

    (void)state;
    assert_true(has(set, "example.org"));
    assert_true(has(set, "EXAMPLE.ORG"));
    assert_true(has(set, "eXaMpLe.OrG"));
    assert_true(has(set, "PostMaster@Example.NET"));
    assert_false(has(set, "example.or"));
    assert_false(has(set, "example.orgx"));
    assert_false(has(set, "xexample.org"));
    assert_false(has(set, "example.net"));
    strset_free(set);
}

static void test_duplicates_count_once(void **state)
{
    static const char *const items[] = { "example.org", "EXAMPLE.org", "example.ORG", "example.net" };
    struct strset *set = set_of(items, ARRAY_SIZE(items));

    (void)state;
    assert_int_equal(strset_count(set), 2);
    assert_true(has(set, "Example.Org"));
    strset_free(set);
}

/* Keys and queries are (pointer, length): nothing past len counts. */
static void test_explicit_lengths(void **state)
{
    struct strset *set = strset_new();

    (void)state;
    assert_int_equal(strset_add(set, "example.org;junk", strlen("example.org")), 0);
    assert_true(has(set, "example.org"));
    assert_false(has(set, "example.org;junk"));
    assert_true(strset_contains(set, "example.orgXYZ", strlen("example.org")));
    assert_false(strset_contains(set, "example.org", strlen("example.or")));
    /* The empty string is a key like any other. */
    assert_false(strset_contains(set, "x", 0));
    assert_int_equal(strset_add(set, "", 0), 0);
    assert_true(strset_contains(set, "x", 0));
    assert_int_equal(strset_count(set), 2);
    strset_free(set);
}

/* Bytes above 0x7f are kept as they are and do not break folding. */
static void test_eight_bit(void **state)
{
    static const char *const items[] = { "b\xc3\xbc" "cher.example" };
    struct strset *set = set_of(items, ARRAY_SIZE(items));

    (void)state;
    assert_true(has(set, "B\xc3\xbc" "CHER.example"));
    assert_false(has(set, "b\xc3\x9c" "cher.example"));
    strset_free(set);
}

static void test_domain_or_parent(void **state)
{
    static const char *const items[] = { "example.org", "Partner.Example" };
    static const struct {
        const char *d;
        bool want;
    } cases[] = {
        { "example.org", true },
        { "EXAMPLE.ORG", true },
        { "sub.example.org", true },
        { "a.b.c.sub.example.org", true },
        { "MX.Sub.Example.Org", true },
        { "notexample.org", false },     /* a suffix is not a parent */
        { "sub.notexample.org", false },
        { "example.org.evil", false },
        { "org", false },                /* a parent of an entry is not under it */
        { "ample.org", false },
        { "", false },
        { "mx.partner.example", true },
        { "partner.example", true },
        { "xpartner.example", false },
        { "example", false },
    };
    struct strset *set = set_of(items, ARRAY_SIZE(items));

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
        if (under(set, cases[i].d) != cases[i].want)
            fail_msg("\"%s\" under {example.org, partner.example}: expected %s", cases[i].d,
                     cases[i].want ? "true" : "false");
    strset_free(set);
}

/* A top-level entry covers its whole tree, and the query's length bounds the walk. */
static void test_domain_or_parent_tld_and_length(void **state)
{
    static const char *const items[] = { "test" };
    struct strset *set = set_of(items, ARRAY_SIZE(items));

    (void)state;
    assert_true(under(set, "a.b.test"));
    assert_true(under(set, "test"));
    assert_false(under(set, "a.b.testing"));
    assert_false(under(set, "test.example"));
    /* "mx.test.example" cut to "mx.test" is under "test". */
    assert_true(strset_contains_domain_or_parent(set, "mx.test.example", strlen("mx.test")));
    assert_false(strset_contains_domain_or_parent(set, "mx.test", strlen("mx.tes")));
    strset_free(set);
}

/* Far past the initial 16 slots: every key stays findable, nothing else appears. */
static void test_growth(void **state)
{
    enum { N = 20000 };
    struct strset *set = strset_new();
    char key[64];

    (void)state;
    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof key, "Host%d.Example.ORG", i);
        assert_int_equal(strset_add(set, key, (size_t)n), 0);
        assert_int_equal(strset_count(set), (size_t)i + 1);
    }
    /* Adding them all again, in another case, changes nothing. */
    for (int i = 0; i < N; i += 7) {
        int n = snprintf(key, sizeof key, "HOST%d.example.org", i);
        assert_int_equal(strset_add(set, key, (size_t)n), 0);
    }
    assert_int_equal(strset_count(set), N);
    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof key, "host%d.example.org", i);
        if (!strset_contains(set, key, (size_t)n))
            fail_msg("lost \"%s\" after growth", key);
    }
    for (int i = N; i < 2 * N; i++) {
        int n = snprintf(key, sizeof key, "host%d.example.org", i);
        if (strset_contains(set, key, (size_t)n))
            fail_msg("\"%s\" found but never added", key);
    }
    assert_true(under(set, "mx.host19999.example.org"));
    assert_false(under(set, "mx.host20000.example.org"));
    assert_false(under(set, "example.org"));
    strset_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_set),
        cmocka_unit_test(test_case_insensitive),
        cmocka_unit_test(test_duplicates_count_once),
        cmocka_unit_test(test_explicit_lengths),
        cmocka_unit_test(test_eight_bit),
        cmocka_unit_test(test_domain_or_parent),
        cmocka_unit_test(test_domain_or_parent_tld_and_length),
        cmocka_unit_test(test_growth),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
