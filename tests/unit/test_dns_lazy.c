/*
 * test_dns_lazy.c: a stage asks DNS only when its rules reach one that
 * reads it (rules/eval.c, rules/dnslist.c), through the engine's
 * connection object as the daemon drives it, against a resolver that
 * holds only the test's records (DNS_MODE_LOCAL, no server) and counts
 * every question it is asked.
 *
 * A trusted client whose rule decides before the DNS lists asks nothing,
 * with the shipped dnsbl.rules too, for a whole session; any other client
 * asks every question the rest of its stage may need in one round (a list
 * rule that decides first does not leave a later list unasked, and a
 * non-DNS rule between two list rules does not split them); "or" stops
 * at a network test that held; a reply that names a DNS fact asks before
 * it is written; dnsbl.score still sums every declared list.
 */
/* Before cmocka.h, whose test_free() macro would rename rules/ast.h's function. */
#include "rules/selftest_world.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "policy/dns/dns.h"
#include "policy/dns/dnscache.h"
#include "rules/conn.h"
#include "rules/flow.h"

#define DATA SRCDIR "/rules/examples"

/* 203.0.113.5 is listed on zen (with a reason) and on other; 203.0.113.6 nowhere. */
static const char *const records[] = {
    "5.113.0.203.zen.example. A 127.0.0.2",
    "5.113.0.203.zen.example. TXT \"listed by zen: see https://zen.example/5\"",
    "5.113.0.203.other.example. A 127.0.0.2",
};

static struct {
    struct dns_resolver *resolver;
    struct ruleset *rs;
    struct conn *conn;           /* holds a reference of its own to rs */
} cur;

static int setup(void **state)
{
    struct dns_config cfg = { .mode = DNS_MODE_LOCAL, .query_timeout_ms = 2000, .records = records,
                              .nrecords = sizeof records / sizeof records[0] };
    const char *error = NULL;

    (void)state;
    memset(&cur, 0, sizeof cur);
    cur.resolver = dns_resolver_new(&cfg, &error);
    if (cur.resolver == NULL)
        fprintf(stderr, "resolver: %s\n", error);
    return cur.resolver != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    conn_free(cur.conn);
    ruleset_unref(cur.rs);
    dns_resolver_free(cur.resolver);
    return 0;
}

static unsigned long asked(void)
{
    unsigned long n, memo;

    dns_resolver_counts(cur.resolver, &n, &memo);
    return n;
}

static unsigned rounds(void)
{
    return conn_flow(cur.conn)->dns_rounds;
}

/* Loads text and connects client; d holds the connect decision. */
static void connect_with(const char *text, const char *client, struct decision *d)
{
    const struct conn_services svc = { .resolver = cur.resolver, .dns_budget_ms = 2000 };
    struct diag diag;
    struct ipaddr ip;
    const char *error;

    diag_init(&diag);
    cur.rs = ruleset_load_buffer("lazy.rules", text, strlen(text), &diag);
    if (cur.rs == NULL)
        diag_print(&diag, stderr);
    diag_free(&diag);
    assert_non_null(cur.rs);
    assert_int_equal(ipaddr_parse(client, &ip), 0);
    assert_non_null(cur.conn = conn_new(ruleset_ref(cur.rs), &svc, &error));
    conn_connect(cur.conn, "[client]", &ip, d);
}

/* The deciding rule's label; a refusal at connect is answered at the next command. */
static const char *label(const struct decision *d)
{
    const struct rule *r = d->origin == FLOW_DEFERRED ? conn_flow(cur.conn)->conn_verdict.rule : d->v.rule;

    return r != NULL ? rule_label(r) : "default";
}

static const struct verdict *verdict(const struct decision *d)
{
    return d->origin == FLOW_DEFERRED ? &conn_flow(cur.conn)->conn_verdict : &d->v;
}

/* The shape of the shipped dnsbl.rules: our networks first, then the lists. */
static const char connect_rules[] =
    "list trusted networks { 192.0.2.0/24 };\n"
    "dnslist zen { zone \"zen.example\"; weight 2; }\n"
    "dnslist wl { zone \"wl.example\"; weight -5; }\n"
    "on connect {\n"
    "    [trusted] continue if client.address in <trusted>;\n"
    "    [wl] continue if client.address in <wl>;\n"
    "    [zen] reject 554 5.7.1 \"blocked: %{dnsbl.reason}\" if client.address in <zen>;\n"
    "    [no-ptr] warn tempfail 450 4.7.25 \"no reverse DNS\" if rdns.none;\n"
    "}\n";

static void test_trusted_asks_nothing(void **state)
{
    struct decision d;

    (void)state;
    connect_with(connect_rules, "192.0.2.7", &d);
    assert_int_equal(d.v.action, ACTION_CONTINUE);
    assert_string_equal(label(&d), "trusted");
    assert_int_equal(asked(), 0);
    assert_int_equal(rounds(), 0);
    assert_int_equal(dns_cache_bl_count(conn_dns(cur.conn)), 0);
    assert_int_equal(dns_cache_rdns(conn_dns(cur.conn))->status, RDNS_UNKNOWN);
}

static void test_outside_asks_the_stage_at_once(void **state)
{
    struct decision d;

    (void)state;
    connect_with(connect_rules, "203.0.113.5", &d);
    assert_int_equal(verdict(&d)->action, ACTION_REJECT);
    assert_string_equal(label(&d), "zen");
    assert_string_equal(verdict(&d)->text, "blocked: listed by zen: see https://zen.example/5");
    /* One round: the PTR, and A and TXT of both lists (dnsbl.reason sums them all). */
    assert_int_equal(rounds(), 1);
    assert_int_equal(asked(), 5);
    assert_int_equal(dns_cache_bl_count(conn_dns(cur.conn)), 2);
    assert_int_equal(dns_cache_rdns(conn_dns(cur.conn))->status, RDNS_NONE);
    assert_int_equal(conn_envelope(cur.conn)->dnsbl_score, 2);
}

/*
 * Two list rules with a rule between them that reads no DNS: the first
 * list rule asks for both lists, so the second costs no round of its own,
 * even when the first decides. Neither the warn rule nor the tag, which
 * do not end the stage, asks a second time.
 */
static const char split_rules[] =
    "list trusted networks { 192.0.2.0/24 };\n"
    "dnslist zen { zone \"zen.example\"; }\n"
    "dnslist other { zone \"other.example\"; }\n"
    "on connect {\n"
    "    [zen-dry] warn reject 554 5.7.1 \"zen\" if client.address in <zen>;\n"
    "    [mark] tag outside if not client.address in <trusted>;\n"
    "    [between] continue if client.address in <trusted>;\n"
    "    [other] reject 554 5.7.1 \"other\" if client.address in <other>;\n"
    "}\n"
    "on helo {\n"
    "    [zen] reject 554 5.7.1 \"zen\" if client.address in <zen>;\n"
    "}\n";

static void test_one_round_across_rules(void **state)
{
    struct decision d;

    (void)state;
    connect_with(split_rules, "203.0.113.5", &d);
    assert_int_equal(verdict(&d)->action, ACTION_REJECT);
    assert_string_equal(label(&d), "other");
    assert_int_equal(d.v.nwarned, 1);
    assert_int_equal(rounds(), 1);
    assert_int_equal(asked(), 4); /* A and TXT of each list, no PTR: no rule reads it */
    assert_int_equal(dns_cache_bl_count(conn_dns(cur.conn)), 2);
}

static void test_one_round_when_the_first_list_decides(void **state)
{
    static const char text[] =
        "list trusted networks { 192.0.2.0/24 };\n"
        "dnslist zen { zone \"zen.example\"; }\n"
        "dnslist other { zone \"other.example\"; }\n"
        "on connect {\n"
        "    [zen] reject 554 5.7.1 \"zen\" if client.address in <zen>;\n"
        "    [between] continue if client.address in <trusted>;\n"
        "    [other] reject 554 5.7.1 \"other\" if client.address in <other>;\n"
        "}\n";
    struct decision d;

    (void)state;
    connect_with(text, "203.0.113.5", &d);
    assert_string_equal(label(&d), "zen");
    /* <other> went out with <zen>, though no rule read it in the end. */
    assert_int_equal(rounds(), 1);
    assert_int_equal(asked(), 4);
    assert_non_null(dns_cache_bl(conn_dns(cur.conn), "5.113.0.203.other.example"));
}

/* A later stage asks again only what it has not: the answers are kept. */
static void test_later_stage_reads_kept_answers(void **state)
{
    struct decision d;

    (void)state;
    connect_with(split_rules, "203.0.113.6", &d);
    assert_int_equal(d.v.action, ACTION_NONE);
    assert_int_equal(asked(), 4);
    conn_helo(cur.conn, "mail.outside.example", true, &d);
    assert_int_equal(d.v.action, ACTION_NONE);
    assert_int_equal(rounds(), 2);
    assert_int_equal(asked(), 4);
}

/* "or" stops at the network test that held: the list right of it is never asked. */
static void test_or_stops_before_the_list(void **state)
{
    static const char text[] =
        "list trusted networks { 192.0.2.0/24 };\n"
        "dnslist wl { zone \"wl.example\"; }\n"
        "on connect {\n"
        "    [ok] continue if client.address in <trusted> or client.address in <wl>;\n"
        "    [ptr] reject 554 5.7.1 \"no PTR\" if rdns.none;\n"
        "}\n";
    struct decision d;

    (void)state;
    connect_with(text, "192.0.2.7", &d);
    assert_string_equal(label(&d), "ok");
    assert_int_equal(asked(), 0);
    assert_int_equal(rounds(), 0);
    conn_free(cur.conn);
    ruleset_unref(cur.rs);
    cur.conn = NULL;
    cur.rs = NULL;
    /* Anyone else asks the list and, in the same round, the PTR of the next rule. */
    connect_with(text, "203.0.113.6", &d);
    assert_string_equal(label(&d), "ptr");
    assert_int_equal(rounds(), 1);
    assert_int_equal(asked(), 3);
}

/* A rule whose condition reads no DNS but whose reply does asks before it is written. */
static void test_reply_asks_before_it_is_written(void **state)
{
    static const char text[] =
        "list blocked networks { 203.0.113.0/24 };\n"
        "dnslist zen { zone \"zen.example\"; }\n"
        "on connect {\n"
        "    [blocked] reject 554 5.7.1 \"blocked (%{dnsbl.reason})\" if client.address in <blocked>;\n"
        "}\n";
    struct decision d;

    (void)state;
    connect_with(text, "203.0.113.5", &d);
    assert_string_equal(label(&d), "blocked");
    assert_string_equal(verdict(&d)->text, "blocked (listed by zen: see https://zen.example/5)");
    assert_int_equal(rounds(), 1);
    assert_int_equal(asked(), 2);
}

/* dnsbl.score sums every declared list, those no rule names too, once they are asked. */
static void test_score_sees_every_list(void **state)
{
    static const char text[] =
        "list trusted networks { 192.0.2.0/24 };\n"
        "dnslist zen { zone \"zen.example\"; weight 2; }\n"
        "dnslist other { zone \"other.example\"; weight 1; }\n"
        "dnslist quiet { zone \"quiet.example\"; weight 5; }\n"
        "on connect {\n"
        "    [trusted] continue if client.address in <trusted>;\n"
        "    [score] reject 554 5.7.1 \"score %{dnsbl.score}\" if dnsbl.score >= 3;\n"
        "}\n";
    struct decision d;

    (void)state;
    connect_with(text, "203.0.113.5", &d);
    assert_string_equal(label(&d), "score");
    assert_string_equal(verdict(&d)->text, "score 3");
    assert_int_equal(conn_envelope(cur.conn)->dnsbl_count, 2);
    assert_int_equal(rounds(), 1);
    assert_int_equal(asked(), 6);
}

/*
 * The shipped dnsbl.rules (the gateway rules and DNS lists at connect):
 * a client of our own networks goes through a whole session, SPF and
 * DKIM set up, without one DNS question.
 */
static void test_shipped_rules_trusted_session(void **state)
{
    struct rule_test t = { .name = "lazy" };
    struct test_world w;
    struct diag diag;
    struct decision d;
    struct ipaddr ip;
    const struct conn_edit *edits;
    size_t nedits;
    unsigned long n, memo;
    const char *error;

    (void)state;
    diag_init(&diag);
    cur.rs = ruleset_load(DATA "/dnsbl.rules", &diag);
    if (cur.rs == NULL)
        diag_print(&diag, stderr);
    assert_non_null(cur.rs);
    assert_int_equal(test_world_open(&w, cur.rs, &t, &diag), 0);
    diag_free(&diag);
    assert_non_null(cur.conn = conn_new(ruleset_ref(cur.rs), &w.svc, &error));
    assert_int_equal(ipaddr_parse("127.0.0.1", &ip), 0);
    conn_connect(cur.conn, "localhost", &ip, &d);
    assert_string_equal(label(&d), "trusted-connect");
    conn_helo(cur.conn, "client.example.org", true, &d);
    conn_mail(cur.conn, "<user@example.org>", NULL, NULL, true, &d);
    conn_rcpt(cur.conn, "<someone@elsewhere.example>", true, &d);
    assert_int_equal(d.answer, ACTION_CONTINUE);
    assert_string_equal(label(&d), "trusted");
    conn_data(cur.conn, &d);
    conn_header(cur.conn, "From", "user@example.org", true, &d);
    conn_header(cur.conn, "Subject", "hi", true, &d);
    conn_eoh(cur.conn, &d);
    conn_eom(cur.conn, &d, &edits, &nedits);
    assert_int_equal(d.answer, ACTION_CONTINUE);
    assert_string_equal(label(&d), "auth-exempt");
    dns_resolver_counts(w.resolver, &n, &memo);
    assert_int_equal(n, 0);
    assert_int_equal(rounds(), 0);
    conn_end_message(cur.conn, &d);
    conn_free(cur.conn);
    cur.conn = NULL;
    /* An outside client asks the lists and the PTR at connect, in one round. */
    assert_non_null(cur.conn = conn_new(ruleset_ref(cur.rs), &w.svc, &error));
    assert_int_equal(ipaddr_parse("203.0.113.9", &ip), 0);
    conn_connect(cur.conn, "[203.0.113.9]", &ip, &d);
    assert_int_equal(d.v.action, ACTION_NONE);
    dns_resolver_counts(w.resolver, &n, &memo);
    assert_int_equal(n, 5);
    assert_int_equal(rounds(), 1);
    conn_free(cur.conn);
    cur.conn = NULL;
    test_world_close(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trusted_asks_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outside_asks_the_stage_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_round_across_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_round_when_the_first_list_decides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_later_stage_reads_kept_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_or_stops_before_the_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_asks_before_it_is_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_score_sees_every_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shipped_rules_trusted_session, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
