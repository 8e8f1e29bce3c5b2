/*
 * test_conn.c: the engine's connection object (rules/conn.c), the one the
 * daemon, the session simulator and rule-file tests drive.
 *
 * What every driver relies on: an accept at rcpt passes one recipient and
 * answers continue; "accept unchecked" passes the rest of the message;
 * an accept before the end of the message answers continue while forged
 * Authentication-Results are to be removed; a DNS list that did not
 * answer and an internal error become 451 4.4.3 and 451 4.3.0; a refused
 * HELO holds for the connection; the recipients that count are those let
 * through; the header edits come in the order asked for; header rules
 * see a value without the whitespace after the colon, whether the driver
 * passes it (SMFIP_HDR_LEADSPC, the simulator) or the MTA ate one space.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rules/conn.h"

static struct conn *open_conn(const char *text, const char *client)
{
    static const struct conn_services none = { 0 };
    struct diag diag;
    struct ruleset *rs;
    struct conn *c;
    struct decision d;
    struct ipaddr ip;
    const char *error;

    diag_init(&diag);
    rs = ruleset_load_buffer("conn.rules", text, strlen(text), &diag);
    if (rs == NULL)
        diag_print(&diag, stderr);
    diag_free(&diag);
    assert_non_null(rs);
    assert_int_equal(ipaddr_parse(client, &ip), 0);
    assert_non_null(c = conn_new(rs, &none, &error));
    conn_connect(c, "[client]", &ip, &d);
    assert_int_equal(d.answer, ACTION_CONTINUE);
    return c;
}

static const char relay_rules[] =
    "list ours domains { example.org };\n"
    "on rcpt {\n"
    "    [pm] accept unchecked if recipient.local = \"whole\";\n"
    "    [local] accept if recipient.domain in <ours>;\n"
    "    [relay] reject 554 5.7.1 \"relay denied\";\n"
    "}\n";

static void test_accept_at_rcpt_is_one_recipient(void **state)
{
    struct conn *c = open_conn(relay_rules, "203.0.113.5");
    struct decision d;

    (void)state;
    conn_mail(c, "<a@outside.example>", NULL, NULL, true, &d);
    conn_rcpt(c, "<u@example.org>", true, &d);
    assert_int_equal(d.v.action, ACTION_ACCEPT);
    assert_int_equal(d.answer, ACTION_CONTINUE); /* never SMFIS_ACCEPT: that would end the message */
    assert_true(d.rcpt_accepted);
    conn_rcpt(c, "<victim@elsewhere.example>", true, &d);
    assert_int_equal(d.answer, ACTION_REJECT);
    assert_string_equal(d.v.code, "554");
    assert_false(d.rcpt_accepted);
    assert_int_equal(conn_envelope(c)->rcpt_count, 1);
    conn_free(c);
}

static void test_accept_unchecked_ends_the_message(void **state)
{
    struct conn *c = open_conn(relay_rules, "203.0.113.5");
    struct decision d;

    (void)state;
    conn_mail(c, "<a@outside.example>", NULL, NULL, true, &d);
    conn_rcpt(c, "<whole@example.org>", true, &d);
    assert_int_equal(d.answer, ACTION_ACCEPT);
    conn_rcpt(c, "<victim@elsewhere.example>", true, &d);
    assert_int_equal(d.origin, FLOW_SKIPPED);
    assert_int_equal(d.answer, ACTION_CONTINUE);
    /* A new message is checked again. */
    conn_mail(c, "<a@outside.example>", NULL, NULL, true, &d);
    conn_rcpt(c, "<victim@elsewhere.example>", true, &d);
    assert_int_equal(d.answer, ACTION_REJECT);
    conn_free(c);
}

static void test_accept_kept_open_for_forged_headers(void **state)
{
    static const char text[] =
        "on rcpt { accept unchecked; }\n"
        "on eom { authentication-results; }\n";
    struct conn *c = open_conn(text, "203.0.113.5");
    struct decision d;

    (void)state;
    conn_mail(c, "<a@outside.example>", NULL, NULL, true, &d);
    conn_rcpt(c, "<u@example.org>", true, &d);
    assert_int_equal(d.v.action, ACTION_ACCEPT);
    assert_int_equal(d.answer, ACTION_CONTINUE);
    conn_free(c);
}

static void test_dns_failure_is_451_443(void **state)
{
    static const char text[] =
        "dnslist bl { zone \"bl.example\"; on-error tempfail; }\n"
        "on connect { reject 554 5.7.1 \"listed\" if client.address in <bl>; }\n";
    static const struct conn_services none = { 0 };
    struct diag diag;
    struct ruleset *rs;
    struct conn *c;
    struct decision d;
    struct ipaddr ip;
    const char *error;

    (void)state;
    diag_init(&diag);
    assert_non_null(rs = ruleset_load_buffer("conn.rules", text, strlen(text), &diag));
    diag_free(&diag);
    ipaddr_parse("203.0.113.5", &ip);
    assert_non_null(c = conn_new(rs, &none, &error));
    /* No resolver: the list cannot answer, and the rule says tempfail. */
    conn_connect(c, "[203.0.113.5]", &ip, &d);
    assert_int_equal(d.failure, CONN_DNS_FAILURE);
    assert_int_equal(d.answer, ACTION_TEMPFAIL);
    assert_string_equal(d.v.code, "451");
    assert_string_equal(d.v.xcode, "4.4.3");
    assert_null(d.v.rule);
    conn_free(c);
}

static void test_internal_error_is_451_430(void **state)
{
    struct decision d;

    (void)state;
    decision_internal_error(&d, "out of memory");
    assert_int_equal(d.failure, CONN_INTERNAL_ERROR);
    assert_int_equal(d.answer, ACTION_TEMPFAIL);
    assert_string_equal(d.v.code, "451");
    assert_string_equal(d.v.xcode, "4.3.0");
    assert_string_equal(d.why, "out of memory");
}

static void test_refused_helo_holds(void **state)
{
    static const char text[] =
        "on helo { [bad] reject 501 5.5.2 \"bad HELO\" if not helo.valid; }\n";
    struct conn *c = open_conn(text, "203.0.113.5");
    struct decision d;

    (void)state;
    conn_helo(c, "bad_name!", true, &d);
    assert_int_equal(d.answer, ACTION_REJECT);
    conn_helo(c, "mail.outside.example", true, &d);
    assert_int_equal(d.origin, FLOW_REPEATED);
    assert_int_equal(d.answer, ACTION_REJECT);
    conn_mail(c, "<a@outside.example>", NULL, NULL, true, &d);
    assert_int_equal(d.answer, ACTION_REJECT);
    assert_string_equal(d.v.text, "bad HELO");
    conn_free(c);
}

static void test_edits_in_order(void **state)
{
    static const char text[] =
        "on eom {\n"
        "    add-header \"X-One\" \"1\";\n"
        "    delete-header \"X-Old\";\n"
        "    change-header \"Subject\" \"[checked]\";\n"
        "}\n";
    struct conn *c = open_conn(text, "203.0.113.5");
    const struct conn_edit *e;
    struct decision d;
    size_t n;

    (void)state;
    conn_mail(c, "<a@outside.example>", NULL, NULL, true, &d);
    conn_rcpt(c, "<u@example.org>", true, &d);
    conn_data(c, &d);
    conn_header(c, "X-Old", "a", true, &d);
    conn_header(c, "Subject", "hi", true, &d);
    conn_header(c, "x-old", "b", true, &d);
    conn_eoh(c, &d);
    conn_eom(c, &d, &e, &n);
    assert_int_equal(d.answer, ACTION_CONTINUE);
    assert_int_equal(n, 3);
    assert_int_equal(e[0].kind, EDIT_ADD);
    assert_string_equal(e[0].value, "1");
    assert_int_equal(e[1].kind, EDIT_DELETE);
    assert_int_equal(e[1].count, 2); /* both, whatever their case */
    assert_int_equal(e[2].kind, EDIT_CHANGE);
    /* The next message starts with no headers counted. */
    conn_mail(c, "<a@outside.example>", NULL, NULL, true, &d);
    conn_rcpt(c, "<u@example.org>", true, &d);
    conn_eom(c, &d, &e, &n);
    assert_int_equal(e[1].count, 0);
    conn_free(c);
}

/* The MTA accepts a discarded recipient (the message is dropped later): it counts. */
static void test_discarded_recipient_counts(void **state)
{
    static const char text[] = "on rcpt { discard if recipient.local = \"trap\"; }\n";
    struct conn *c = open_conn(text, "203.0.113.5");
    struct decision d;

    (void)state;
    conn_mail(c, "<a@outside.example>", NULL, NULL, true, &d);
    conn_rcpt(c, "<trap@example.org>", true, &d);
    assert_int_equal(d.answer, ACTION_DISCARD);
    assert_true(d.rcpt_accepted);
    assert_int_equal(conn_envelope(c)->rcpt_count, 1);
    conn_free(c);
}

static void test_refused_message_gets_no_edits(void **state)
{
    static const char text[] =
        "on eom {\n"
        "    add-header \"X-One\" \"1\";\n"
        "    reject 550 5.7.1 \"no\";\n"
        "}\n";
    struct conn *c = open_conn(text, "203.0.113.5");
    const struct conn_edit *e;
    struct decision d;
    size_t n;

    (void)state;
    conn_mail(c, "<a@outside.example>", NULL, NULL, true, &d);
    conn_rcpt(c, "<u@example.org>", true, &d);
    conn_eom(c, &d, &e, &n);
    assert_int_equal(d.answer, ACTION_REJECT);
    assert_int_equal(n, 0);
    conn_free(c);
}

/* Header rules compare the value itself, however much whitespace followed the colon. */
static void test_header_value_without_leading_space(void **state)
{
    static const char text[] =
        "on header {\n"
        "    [exact] reject 554 5.7.1 \"seen\" if header.name = \"Subject\" and header.value = \"x y\";\n"
        "}\n";
    static const char *const values[] = { "x y", " x y", "  x y", "\tx y", " \t x y" };
    struct decision d;

    (void)state;
    for (int lead = 0; lead <= 1; lead++) {
        for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
            struct conn *c = open_conn(text, "203.0.113.5");
            conn_set_header_leadspace(c, lead == 1);
            conn_mail(c, "<a@outside.example>", NULL, NULL, true, &d);
            conn_rcpt(c, "<u@example.org>", true, &d);
            conn_data(c, &d);
            conn_header(c, "Subject", values[i], true, &d);
            assert_int_equal(d.answer, ACTION_REJECT);
            assert_string_equal(conn_envelope(c)->header_value.s, "x y");
            /* Whitespace inside or at the end is the value's own. */
            conn_header(c, "Subject", " x  y", true, &d);
            assert_int_equal(d.answer, ACTION_CONTINUE);
            conn_free(c);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_at_rcpt_is_one_recipient),
        cmocka_unit_test(test_accept_unchecked_ends_the_message),
        cmocka_unit_test(test_accept_kept_open_for_forged_headers),
        cmocka_unit_test(test_dns_failure_is_451_443),
        cmocka_unit_test(test_internal_error_is_451_430),
        cmocka_unit_test(test_refused_helo_holds),
        cmocka_unit_test(test_edits_in_order),
        cmocka_unit_test(test_refused_message_gets_no_edits),
        cmocka_unit_test(test_discarded_recipient_counts),
        cmocka_unit_test(test_header_value_without_leading_space),
    };
    return cmocka_run_group_tests_name("conn", tests, NULL, NULL);
}
