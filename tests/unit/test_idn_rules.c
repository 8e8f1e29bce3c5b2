/*
 * test_idn_rules.c: international domain names through the rule engine.
 *
 * A domain is compared as lower-case A-labels wherever it comes from: a
 * list written with "bücher.example" matches a client's
 * "xn--bcher-kva.example" and the other way round, in domains and
 * addresses lists, inline and in list files, for the recipient, the sender
 * and the HELO name, and for constants compared with '='. A bad IDN in a
 * rule or list file is a load error at its file:line:col with the reason;
 * a bad one from a client makes the name invalid, never a match.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rules/ruleset.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static struct ruleset *load(const char *text)
{
    struct diag diag;
    struct ruleset *rs;

    diag_init(&diag);
    rs = ruleset_load_buffer("idn.rules", text, strlen(text), &diag);
    if (rs == NULL)
        diag_print(&diag, stderr);
    diag_free(&diag);
    assert_non_null(rs);
    return rs;
}

/* Load text that must fail with exactly the one error want. */
static void load_fails(const char *text, const char *want)
{
    struct diag diag;
    struct ruleset *rs;

    diag_init(&diag);
    rs = ruleset_load_buffer("idn.rules", text, strlen(text), &diag);
    assert_null(rs);
    if (diag.count != 1 || strcmp(diag.lines[0], want) != 0) {
        diag_print(&diag, stderr);
        diag_free(&diag);
        fail_msg("expected the one error \"%s\"", want);
    }
    assert_int_equal(diag.errors, 1);
    diag_free(&diag);
}

static void start(struct envelope *env, const char *helo)
{
    struct ipaddr ip;

    envelope_init(env);
    assert_int_equal(ipaddr_parse("203.0.113.7", &ip), 0);
    assert_int_equal(envelope_set_client(env, "[203.0.113.7]", &ip), 0);
    assert_int_equal(envelope_set_helo(env, helo), 0);
}

/* The label of the rule that decided at stage, "" for the stage default. */
static const char *decide(const struct ruleset *rs, enum stage stage, const struct envelope *env)
{
    struct verdict v;

    memset(&v, 0, sizeof v);
    assert_int_equal(ruleset_eval(rs, stage, env, &v), 0);
    return v.rule != NULL ? rule_label(v.rule) : "";
}

/* The RCPT verdict for one recipient of a message from sender. */
static const char *rcpt_verdict(const struct ruleset *rs, const char *sender, const char *rcpt)
{
    static char label[64];
    struct envelope env;

    start(&env, "mail.outside.example");
    envelope_reset_message(&env);
    assert_int_equal(envelope_set_sender(&env, sender), 0);
    assert_int_equal(envelope_set_rcpt(&env, rcpt), 0);
    snprintf(label, sizeof label, "%s", decide(rs, STAGE_RCPT, &env));
    envelope_free(&env);
    return label;
}

struct rcpt_case {
    const char *rcpt;
    const char *label;
};

static void check_rcpts(const struct ruleset *rs, const struct rcpt_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *got = rcpt_verdict(rs, "<a@outside.example>", cases[i].rcpt);
        if (strcmp(got, cases[i].label) != 0)
            fail_msg("%s: decided by [%s], expected [%s]", cases[i].rcpt, got, cases[i].label);
    }
}

/* Relay control the way the shipped rules do it, with both forms of our domain. */
static const char relay_rules[] =
    "list ours domains { \"b\xc3\xbc" "cher.example\" };\n"
    "list theirs domains { \"xn--mller-kva.example\" };\n"
    "on rcpt {\n"
    "    [invalid] reject 501 5.1.3 \"bad recipient\" if not recipient.valid;\n"
    "    [ours] accept if recipient.domain in <ours>;\n"
    "    [theirs] accept if recipient.domain in <theirs>;\n"
    "    [below] accept if recipient.domain under <ours>;\n"
    "    [relay] reject 554 5.7.1 \"Relay access denied\";\n"
    "}\n";

static void test_recipient_domain_lists(void **state)
{
    static const struct rcpt_case cases[] = {
        /* A U-label entry matches the A-label a client sends, */
        { "<u@xn--bcher-kva.example>", "ours" },
        { "<u@XN--BCHER-KVA.EXAMPLE.>", "ours" },
        /* and the U-label (SMTPUTF8) in any case. */
        { "<u@b\xc3\xbc" "cher.example>", "ours" },
        { "<u@B\xc3\x9c" "CHER.example>", "ours" },
        /* An A-label entry matches the U-label. */
        { "<u@m\xc3\xbcller.example>", "theirs" },
        { "<u@xn--mller-kva.example>", "theirs" },
        /* 'under' too. */
        { "<u@mx.b\xc3\xbc" "cher.example>", "below" },
        { "<u@mx.xn--bcher-kva.example>", "below" },
        /* Not ours: relaying is refused. */
        { "<u@bucher.example>", "relay" },
        { "<u@xn--bcher-kva.example.org>", "relay" },
        /* A domain that is no valid IDN is no valid recipient, never ours. */
        { "<u@xn--zz.example>", "invalid" },
        { "<u@xn--bcher-kva.xn--zz>", "invalid" },
        { "<u@\xf0\x9f\x92\xa9.b\xc3\xbc" "cher.example>", "invalid" },
        { "<u@b\xfc" "cher.example>", "invalid" },
    };
    struct ruleset *rs = load(relay_rules);

    (void)state;
    check_rcpts(rs, cases, ARRAY_SIZE(cases));
    ruleset_unref(rs);
}

static void test_addresses_and_constants(void **state)
{
    static const char rules[] =
        "list vips addresses { \"Chef@b\xc3\xbc" "cher.example\", \"boss@xn--mller-kva.example\" };\n"
        "list home domains { \"b\xc3\xbc" "cher.example\" };\n"
        "on rcpt {\n"
        "    [vip] accept if recipient in <vips>;\n"
        "    [eq] accept if recipient.domain = \"M\xc3\x9cLLER.example\";\n"
        "    [ne] reject 550 5.1.1 \"not here\" if recipient.domain != \"xn--bcher-kva.example\";\n"
        "    [addr] accept if recipient = \"post@b\xc3\xbc" "cher.example\";\n"
        "    [home] reject 550 5.7.1 \"spoofed\" if sender.domain in <home>;\n"
        "}\n";
    static const struct rcpt_case cases[] = {
        /* Address entries: the domain as A-labels, the local part as it is. */
        { "<Chef@xn--bcher-kva.example>", "vip" },
        { "<boss@m\xc3\xbcller.example>", "vip" },
        { "<cook@xn--bcher-kva.example>", "" },
        /* A constant written as a U-label equals the A-label, and the other way round. */
        { "<other@xn--mller-kva.example>", "eq" },
        { "<other@elsewhere.example>", "ne" },
        { "<post@xn--bcher-kva.example>", "addr" },
        { "<post@B\xc3\x9c" "CHER.example>", "addr" },
    };
    struct ruleset *rs = load(rules);
    const char *got;

    (void)state;
    check_rcpts(rs, cases, ARRAY_SIZE(cases));
    /* The sender's domain is compared in the same form. */
    got = rcpt_verdict(rs, "<x@b\xc3\xbc" "cher.example>", "<nobody@xn--bcher-kva.example>");
    assert_string_equal(got, "home");
    got = rcpt_verdict(rs, "<x@xn--bcher-kva.example>", "<nobody@xn--bcher-kva.example>");
    assert_string_equal(got, "home");
    got = rcpt_verdict(rs, "<x@outside.example>", "<nobody@xn--bcher-kva.example>");
    assert_string_equal(got, "");
    ruleset_unref(rs);
}

/* The canonical text (-n -v, the logs) shows the constant as it is compared. */
static void test_constant_canonical_text(void **state)
{
    static const char rules[] =
        "on rcpt {\n"
        "    [eq] accept if recipient.domain = \"b\xc3\xbc" "cher.example\";\n"
        "}\n";
    struct ruleset *rs = load(rules);
    struct envelope env;
    struct verdict v;

    (void)state;
    start(&env, "mail.outside.example");
    assert_int_equal(envelope_set_sender(&env, "<a@outside.example>"), 0);
    assert_int_equal(envelope_set_rcpt(&env, "<u@xn--bcher-kva.example>"), 0);
    memset(&v, 0, sizeof v);
    assert_int_equal(ruleset_eval(rs, STAGE_RCPT, &env, &v), 0);
    assert_non_null(v.rule);
    assert_string_equal(rule_text(v.rule), "[eq] accept if recipient.domain = \"xn--bcher-kva.example\";");
    envelope_free(&env);
    ruleset_unref(rs);
}

static void test_helo(void **state)
{
    static const char rules[] =
        "list names domains { \"mx.b\xc3\xbc" "cher.example\" };\n"
        "on helo {\n"
        "    [invalid] reject 550 5.7.1 \"bad HELO\" if not helo.valid;\n"
        "    [ours] reject 550 5.7.1 \"you are not us\" if helo.domain in <names>;\n"
        "}\n";
    static const struct {
        const char *helo, *label;
    } cases[] = {
        { "mx.xn--bcher-kva.example", "ours" },
        { "MX.B\xc3\x9c" "CHER.EXAMPLE.", "ours" },
        { "mx.b\xc3\xbc" "cher.example", "ours" },
        { "mx2.b\xc3\xbc" "cher.example", "" },
        { "mx.xn--zz.example", "invalid" },
        { "mx.\xf0\x9f\x92\xa9.example", "invalid" },
        { "mx.b\xfc" "cher.example", "invalid" },
    };
    struct ruleset *rs = load(rules);

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct envelope env;
        const char *got;

        start(&env, cases[i].helo);
        got = decide(rs, STAGE_HELO, &env);
        if (strcmp(got, cases[i].label) != 0)
            fail_msg("HELO %s: decided by [%s], expected [%s]", cases[i].helo, got, cases[i].label);
        envelope_free(&env);
    }
    ruleset_unref(rs);
}

/* A bad IDN in a rule file: file:line:col and why, for each place one can be written. */
static void test_load_errors(void **state)
{
    (void)state;
    load_fails("list ours domains { \"xn--zz--.example\" };\n",
               "idn.rules:1:21: list <ours>: \"xn--zz--.example\": \"xn--zz--\" is not a valid A-label: "
               "string contains invalid punycode data");
    load_fails("list ours domains {\n    \"example.org\",\n    \"mx.\xf0\x9f\x92\xa9.example\" };\n",
               "idn.rules:3:5: list <ours>: \"mx.\xf0\x9f\x92\xa9.example\": \"\xf0\x9f\x92\xa9\" is not a valid "
               "international domain label: string contains a disallowed character");
    load_fails("list vips addresses { \"a@xn--zz.example\" };\n",
               "idn.rules:1:23: list <vips>: \"a@xn--zz.example\": \"xn--zz\" is not a valid A-label: "
               "string contains invalid punycode data");
    load_fails("on rcpt {\n    accept if recipient.domain = \"xn--a.example\";\n}\n",
               "idn.rules:2:15: fact \"recipient.domain\" is a domain: \"xn--a.example\": \"xn--a\" is not a valid "
               "A-label: domain label has character forbidden in non-transitional mode (TR46)");
    load_fails("on mail {\n    continue if sender = \"u@b\xc3\xbc" "cher-.example\";\n}\n",
               "idn.rules:2:17: fact \"sender\" is a mail address: \"u@b\xc3\xbc" "cher-.example\": \"b\xc3\xbc"
               "cher-\" is not a valid international domain label: string start/ends with forbidden hyphen");
}

/* List files: the same forms, the same errors at the list file's own line and column. */
static void test_list_file(void **state)
{
    char dir[] = "/tmp/mxg-idn-rules.XXXXXX", path[128], list[128], want[512];
    static const char good[] = "# ours\nxn--bcher-kva.example\n  m\xc3\xbcller.example\n";
    static const char bad[] = "example.org\n\n   xn--zz.example   # typo\n";
    static const char rules[] =
        "list ours domains file \"ours.list\";\n"
        "on rcpt {\n"
        "    [ours] accept if recipient.domain in <ours>;\n"
        "    [relay] reject 554 5.7.1 \"Relay access denied\";\n"
        "}\n";
    static const struct rcpt_case cases[] = {
        { "<u@b\xc3\xbc" "cher.example>", "ours" },
        { "<u@xn--mller-kva.example>", "ours" },
        { "<u@example.org>", "relay" },
    };
    struct diag diag;
    struct ruleset *rs;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/idn.rules", dir);
    snprintf(list, sizeof list, "%s/ours.list", dir);
    assert_non_null(f = fopen(path, "w"));
    fputs(rules, f);
    fclose(f);
    assert_non_null(f = fopen(list, "w"));
    fputs(good, f);
    fclose(f);

    diag_init(&diag);
    rs = ruleset_load(path, &diag);
    if (rs == NULL)
        diag_print(&diag, stderr);
    assert_non_null(rs);
    diag_free(&diag);
    check_rcpts(rs, cases, ARRAY_SIZE(cases));
    ruleset_unref(rs);

    assert_non_null(f = fopen(list, "w"));
    fputs(bad, f);
    fclose(f);
    diag_init(&diag);
    assert_null(ruleset_load(path, &diag));
    snprintf(want, sizeof want, "%s:3:4: list <ours>: \"xn--zz.example\": \"xn--zz\" is not a valid A-label: "
             "string contains invalid punycode data", list);
    assert_int_equal(diag.count, 1);
    assert_string_equal(diag.lines[0], want);
    diag_free(&diag);

    assert_int_equal(unlink(list), 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recipient_domain_lists),
        cmocka_unit_test(test_addresses_and_constants),
        cmocka_unit_test(test_constant_canonical_text),
        cmocka_unit_test(test_helo),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_list_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
