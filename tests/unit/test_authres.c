/*
 * test_authres.c: Authentication-Results headers (policy/auth/authres.c).
 *
 * Table-driven: every way a forger may dress our authserv-id must still
 * be recognised (folding, comments, quotes, case, a trailing dot), and
 * nothing else may be taken for it. Then the header we compose: folded,
 * quoted where it must be, never with a control character, refused
 * whole when it does not fit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/auth/authres.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define OURS "mx.example.org"

static const struct {
    const char *value;
    bool claims;
} claim_cases[] = {
    { "mx.example.org; spf=pass smtp.mailfrom=a@b.example", true },
    { "mx.example.org;spf=pass", true },
    { "MX.Example.ORG; dkim=pass", true },
    { "mx.example.org.; dkim=pass", true },
    { "  mx.example.org ; none", true },
    { "\r\n\tmx.example.org; none", true },
    { "(forged) mx.example.org; spf=pass", true },
    { "(nested (comment \\) here)) mx.example.org; spf=pass", true },
    { "\"mx.example.org\"; spf=pass", true },
    { "\"mx.exa\\mple.org\"; spf=pass", true },
    { "mx.example.org 1; spf=pass", true },
    { "mx.example.org(comment); spf=pass", true },
    { "mx.example.org", true },
    { "mx.example.org.example; spf=pass", false },
    { "other.example; spf=pass", false },
    { "x-mx.example.org; spf=pass", false },
    { "mx.example.or; spf=pass", false },
    { "; mx.example.org", false },
    { "", false },
    { "(unterminated mx.example.org; spf=pass", false },
    { "\"mx.example.org; spf=pass", false },
    { "mx example.org; spf=pass", false },
};

static void test_claims(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(claim_cases); i++) {
        bool got = authres_claims(claim_cases[i].value, strlen(claim_cases[i].value), OURS);
        if (got != claim_cases[i].claims)
            fail_msg("case %zu \"%s\": expected %s", i, claim_cases[i].value,
                     claim_cases[i].claims ? "a claim" : "no claim");
    }
}

static void test_claims_bounded(void **state)
{
    /* The value is not NUL-terminated where len says it ends. */
    const char v[] = "mx.example.org.evil.example; spf=pass";

    (void)state;
    assert_true(authres_claims(v, strlen(OURS), OURS));
    assert_false(authres_claims(v, 5, OURS));
    assert_false(authres_claims(v, 0, OURS));
    assert_false(authres_claims(v, sizeof v - 1, ""));
}

static void test_authserv_id_limits(void **state)
{
    char out[16], big[600];

    (void)state;
    assert_int_equal(authres_authserv_id("abc; x", 6, out, sizeof out), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(authres_authserv_id("0123456789abcdef; x", 19, out, sizeof out), -1);
    memset(big, '(', sizeof big);
    assert_int_equal(authres_authserv_id(big, sizeof big, out, sizeof out), -1);
}

static void test_compose(void **state)
{
    char out[512];
    struct authres_item items[3] = {
        { "spf", AUTH_PASS, { { "smtp.mailfrom", "user@sender.example" } }, NULL },
        { "dkim", AUTH_FAIL, { { "header.d", "sender.example" }, { "header.s", "sel" }, { "header.b", "abcdEFGH" } },
          "body hash mismatch" },
        { "iprev", AUTH_TEMPERROR, { { "policy.iprev", "2001:db8::1" } }, NULL },
    };

    (void)state;
    assert_int_equal(authres_compose(OURS, items, 3, out, sizeof out), 0);
    assert_string_equal(out, "mx.example.org;\n\tspf=pass smtp.mailfrom=user@sender.example;\n\t"
                             "dkim=fail reason=\"body hash mismatch\" header.d=sender.example header.s=sel "
                             "header.b=abcdEFGH;\n\tiprev=temperror policy.iprev=\"2001:db8::1\"");
    assert_int_equal(authres_compose(OURS, NULL, 0, out, sizeof out), 0);
    assert_string_equal(out, "mx.example.org; none");
}

static void test_compose_hostile_values(void **state)
{
    char out[512];
    struct authres_item it = { "spf", AUTH_FAIL, { { "smtp.helo", "evil\r\nX-Injected: 1" } }, "a \"quoted\\\" \x01 reason\x80" };

    (void)state;
    assert_int_equal(authres_compose(OURS, &it, 1, out, sizeof out), 0);
    assert_null(strchr(out + strlen("mx.example.org;\n\t"), '\n'));
    assert_null(strchr(out, '\r'));
    assert_string_equal(out, "mx.example.org;\n\tspf=fail reason=\"a \\\"quoted\\\\\\\"  reason\" "
                             "smtp.helo=\"evilX-Injected: 1\"");
}

static void test_compose_does_not_fit(void **state)
{
    char out[24];
    struct authres_item it = { "spf", AUTH_PASS, { { "smtp.mailfrom", "someone@a-long-domain.example" } }, NULL };

    (void)state;
    assert_int_equal(authres_compose(OURS, &it, 1, out, sizeof out), -1);
    assert_string_equal(out, "");
    assert_int_equal(authres_compose(OURS, &it, 1, out, 0), -1);
}

static void test_result_names(void **state)
{
    (void)state;
    assert_string_equal(auth_result_name(AUTH_NONE), "none");
    assert_string_equal(auth_result_name(AUTH_SOFTFAIL), "softfail");
    assert_string_equal(auth_result_name(AUTH_POLICY), "policy");
    assert_string_equal(auth_result_name(AUTH_TEMPERROR), "temperror");
    assert_string_equal(auth_result_name(AUTH_PERMERROR), "permerror");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_claims_bounded),
        cmocka_unit_test(test_authserv_id_limits),
        cmocka_unit_test(test_compose),
        cmocka_unit_test(test_compose_hostile_values),
        cmocka_unit_test(test_compose_does_not_fit),
        cmocka_unit_test(test_result_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
