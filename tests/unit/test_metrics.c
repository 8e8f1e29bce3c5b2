/*
 * test_metrics.c: the daemon's counters (milter/metrics*.c) and what
 * `mxguard --stats` reads back from them (milter/stats_print.c).
 *
 * Decisions and records are built by hand, the way the engine hands them
 * over (and a few sessions through the engine's connection object, as
 * the daemon's callbacks report them), and the rendered Prometheus text
 * is checked line by line: a refusal at connect counts once, at connect,
 * although the MTA hears it at the next step and every later one; per-rule
 * counters follow a rule's label across a reload, an unlabelled rule
 * that moved starts afresh and a rule gone is no longer exported, while
 * a session still on the old rule set counts into the same entry; label
 * values are escaped; the store counts an outage once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "milter/metrics.h"
#include "milter/stats.h"
#include "policy/auth/dkim.h"
#include "policy/auth/spf.h"
#include "policy/state/store.h"

static char *render(void)
{
    char *text;
    size_t len;

    assert_int_equal(metrics_render(&text, &len), 0);
    assert_int_equal(strlen(text), len);
    return text;
}

/* line is one whole line of text. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

#define assert_line(text, line)                                                                    \
    do {                                                                                           \
        if (!has_line((text), (line)))                                                             \
            fail_msg("no line \"%s\" in:\n%s", (line), (text));                                   \
    } while (0)
#define assert_no_line_with(text, part)                                                            \
    do {                                                                                           \
        if (strstr((text), (part)) != NULL)                                                        \
            fail_msg("\"%s\" should not appear in:\n%s", (part), (text));                         \
    } while (0)

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_metrics.XXXXXX");
    assert_non_null(mkdtemp(dir));
    metrics_set_resolver(NULL);
    metrics_set_store(NULL);
    return metrics_init();
}

static int remove_dir(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct ruleset *load_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    struct diag diag;
    struct ruleset *rs;

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    diag_init(&diag);
    rs = ruleset_load(path, &diag);
    if (rs == NULL)
        diag_print(&diag, stderr);
    diag_free(&diag);
    assert_non_null(rs);
    assert_int_equal(metrics_attach_rules(rs), 0);
    return rs;
}

/* The n-th rule (0-based) of a stage. */
static const struct rule *nth_rule(const struct ruleset *rs, enum stage s, int n)
{
    const struct rule *r = ruleset_first_rule(rs, s);

    while (r != NULL && n-- > 0)
        r = rule_next(r);
    assert_non_null(r);
    return r;
}

static void decide(enum stage s, enum action answer, const struct rule *rule, enum flow_origin origin)
{
    struct decision d;

    memset(&d, 0, sizeof d);
    d.origin = origin;
    d.answer = answer;
    d.v.action = answer;
    d.v.rule = rule;
    metrics_note_decision(s, &d);
}

/* What the daemon's callbacks do with each decision of a connection. */
static void note(struct conn *c, enum stage s, const struct decision *d)
{
    metrics_note_decision(s, d);
    if (d->origin == FLOW_DEFERRED)
        metrics_note_deferred(&conn_flow(c)->conn_verdict);
}

/* A session through the engine: connect, HELO, MAIL FROM, and RCPT if it got that far. */
static void session_to_mail(struct ruleset *rs, const char *client_name)
{
    static const struct conn_services none = { 0 };
    struct decision d;
    struct ipaddr ip;
    const char *error;
    struct conn *c;

    assert_int_equal(ipaddr_parse("192.0.2.66", &ip), 0);
    assert_non_null(c = conn_new(ruleset_ref(rs), &none, &error));
    conn_connect(c, client_name, &ip, &d);
    note(c, STAGE_CONNECT, &d);
    conn_helo(c, "client.example", true, &d);
    note(c, STAGE_HELO, &d);
    conn_mail(c, "<a@outside.example>", NULL, NULL, true, &d);
    note(c, STAGE_MAIL, &d);
    assert_int_equal(d.answer, strcmp(client_name, "bad.example") == 0 ? ACTION_REJECT : ACTION_CONTINUE);
    conn_free(c);
}

static const char relay_rules[] =
    "on connect {\n"
    "    [bad-net] reject 554 5.7.1 \"go away\" if client.name = \"bad.example\";\n"
    "}\n"
    "on rcpt {\n"
    "    [spam] warn reject 550 5.7.1 \"would reject\" if recipient.local = \"spam\";\n"
    "    add-header \"X-Seen\" \"yes\";\n"
    "    [relay] reject 554 5.7.1 \"relay denied\" if recipient.domain = \"elsewhere.example\";\n"
    "}\n";

static void test_decisions_by_stage_and_rule(void **state)
{
    char path[128];
    struct ruleset *rs;
    const struct rule *spam, *seen, *relay;
    struct decision d;
    char *text;

    (void)state;
    snprintf(path, sizeof path, "%s/relay.rules", dir);
    rs = load_file(path, relay_rules);
    spam = nth_rule(rs, STAGE_RCPT, 0);
    seen = nth_rule(rs, STAGE_RCPT, 1);
    relay = nth_rule(rs, STAGE_RCPT, 2);
    metrics_session_open();
    metrics_session_open();
    metrics_session_close();
    /* One connection let through at connect, one refused there (by the
       engine itself): counted once, at connect, not at every later step
       that repeats it. */
    session_to_mail(rs, "good.example");
    session_to_mail(rs, "bad.example");
    /* Accepted earlier: no checks ran. */
    decide(STAGE_RCPT, ACTION_CONTINUE, NULL, FLOW_SKIPPED);
    /* A relay refused at rcpt, with a warn rule and an effect that matched first. */
    memset(&d, 0, sizeof d);
    d.origin = FLOW_EVALUATED;
    d.answer = ACTION_REJECT;
    d.v.action = ACTION_REJECT;
    d.v.rule = relay;
    d.v.warned[d.v.nwarned++] = spam;
    d.v.effects[d.v.neffects++].rule = seen;
    metrics_note_decision(STAGE_RCPT, &d);
    /* A DNS list that did not answer, and an internal error: no rule. */
    memset(&d, 0, sizeof d);
    d.origin = FLOW_EVALUATED;
    d.answer = ACTION_TEMPFAIL;
    d.failure = CONN_DNS_FAILURE;
    metrics_note_decision(STAGE_RCPT, &d);
    d.failure = CONN_INTERNAL_ERROR;
    metrics_note_decision(STAGE_EOM, &d);
    metrics_reload(true);
    metrics_reload(false);
    metrics_reload(true);

    text = render();
    assert_line(text, "# TYPE mxguard_sessions_total counter");
    assert_line(text, "mxguard_sessions_open 1");
    assert_line(text, "mxguard_sessions_total 2");
    assert_line(text, "mxguard_decisions_total{stage=\"connect\",action=\"continue\"} 1");
    assert_line(text, "mxguard_decisions_total{stage=\"connect\",action=\"reject\"} 1");
    assert_line(text, "mxguard_decisions_total{stage=\"helo\",action=\"reject\"} 0");
    assert_line(text, "mxguard_decisions_total{stage=\"helo\",action=\"continue\"} 1");
    assert_line(text, "mxguard_decisions_total{stage=\"mail\",action=\"reject\"} 0");
    assert_line(text, "mxguard_decisions_total{stage=\"mail\",action=\"continue\"} 1");
    assert_line(text, "mxguard_decisions_total{stage=\"rcpt\",action=\"reject\"} 1");
    assert_line(text, "mxguard_decisions_total{stage=\"rcpt\",action=\"continue\"} 0");
    assert_line(text, "mxguard_decisions_total{stage=\"rcpt\",action=\"tempfail\"} 1");
    assert_line(text, "mxguard_decisions_total{stage=\"eom\",action=\"tempfail\"} 1");
    assert_line(text, "mxguard_engine_failures_total{kind=\"dns\"} 1");
    assert_line(text, "mxguard_engine_failures_total{kind=\"internal\"} 1");
    assert_line(text, "mxguard_rule_decided_total{rule=\"bad-net\"} 1");
    assert_line(text, "mxguard_rule_matched_total{rule=\"bad-net\"} 1");
    assert_line(text, "mxguard_rule_decided_total{rule=\"relay\"} 1");
    assert_line(text, "mxguard_rule_warned_total{rule=\"spam\"} 1");
    assert_line(text, "mxguard_rule_decided_total{rule=\"spam\"} 0");
    assert_line(text, "mxguard_rule_matched_total{rule=\"spam\"} 1");
    /* The unlabelled effect rule, by file:line. */
    {
        char line[256];
        snprintf(line, sizeof line, "mxguard_rule_matched_total{rule=\"%s:6\"} 1", path);
        assert_line(text, line);
        snprintf(line, sizeof line, "mxguard_rule_decided_total{rule=\"%s:6\"} 0", path);
        assert_line(text, line);
    }
    assert_line(text, "mxguard_reloads_total{result=\"ok\"} 2");
    assert_line(text, "mxguard_reloads_total{result=\"refused\"} 1");
    free(text);
    ruleset_unref(rs);
}

/* Five records: three messages and two connections without one. */
static void feed_records(void)
{
    static struct record r; /* large: off the stack */
    struct spf_outcome spf_pass = { .result = AUTH_PASS }, spf_helo = { .result = AUTH_NONE };
    struct dkim_outcome dkim = { .result = AUTH_PASS, .nsigs = 2, .nevaluated = 2 };

    dkim.sig[0].result = AUTH_PASS;
    dkim.sig[1].result = AUTH_FAIL;
    /* A message: two recipients, one refused; accepted at the end. */
    memset(&r, 0, sizeof r);
    r.kind = RECORD_MESSAGE;
    r.outcome.action = ACTION_CONTINUE;
    r.reached_eom = true;
    r.nrcpt = r.rcpts_total = 2;
    r.rcpts_taken = 1;
    r.rcpt[0].v.action = ACTION_REJECT;
    r.rcpt[1].v.action = ACTION_CONTINUE;
    r.spf_mfrom = &spf_pass;
    r.spf_helo = &spf_helo;
    r.dkim = &dkim;
    r.greylist = "pass";
    r.store_errors = 2;
    r.us_stage[STAGE_MAIL] = 2100;     /* 2.1 ms: the 0.0025 bucket */
    r.us_stage[STAGE_RCPT] = 40;       /* the first bucket */
    r.us_stage[STAGE_EOM] = 45000000;  /* past the last bound: +Inf only */
    r.us_check[CHECK_SPF] = 1800;
    metrics_note_record(&r);
    /* Refused at rcpt, nothing taken; and one left after a recipient was taken. */
    memset(&r, 0, sizeof r);
    r.kind = RECORD_MESSAGE;
    r.outcome.action = ACTION_REJECT;
    r.nrcpt = r.rcpts_total = 1;
    r.rcpt[0].v.action = ACTION_REJECT;
    r.greylist = "some new word";
    metrics_note_record(&r);
    memset(&r, 0, sizeof r);
    r.kind = RECORD_MESSAGE;
    r.aborted = true;
    r.outcome.action = ACTION_CONTINUE;
    r.nrcpt = r.rcpts_total = r.rcpts_taken = 1;
    r.rcpt[0].v.action = ACTION_ACCEPT;
    r.us_stage[STAGE_MAIL] = 3000;
    metrics_note_record(&r);
    /* Connections without a message: one closed, one refused at HELO. */
    memset(&r, 0, sizeof r);
    r.kind = RECORD_CONNECTION;
    r.outcome.action = ACTION_CONTINUE;
    metrics_note_record(&r);
    r.outcome.action = ACTION_REJECT;
    metrics_note_record(&r);

}

static void test_records(void **state)
{
    char *text;

    (void)state;
    feed_records();
    text = render();
    assert_line(text, "mxguard_messages_total{outcome=\"accept\"} 1");
    assert_line(text, "mxguard_messages_total{outcome=\"reject\"} 1");
    assert_line(text, "mxguard_messages_total{outcome=\"aborted\"} 1");
    assert_line(text, "mxguard_messages_total{outcome=\"tempfail\"} 0");
    assert_line(text, "mxguard_connections_without_message_total{outcome=\"closed\"} 1");
    assert_line(text, "mxguard_connections_without_message_total{outcome=\"reject\"} 1");
    assert_line(text, "mxguard_recipients_total{action=\"accept\"} 2");
    assert_line(text, "mxguard_recipients_total{action=\"reject\"} 2");
    assert_line(text, "mxguard_spf_results_total{identity=\"mailfrom\",result=\"pass\"} 1");
    assert_line(text, "mxguard_spf_results_total{identity=\"helo\",result=\"none\"} 1");
    assert_line(text, "mxguard_spf_results_total{identity=\"helo\",result=\"pass\"} 0");
    assert_line(text, "mxguard_dkim_results_total{result=\"pass\"} 1");
    assert_line(text, "mxguard_dkim_signatures_total{result=\"pass\"} 1");
    assert_line(text, "mxguard_dkim_signatures_total{result=\"fail\"} 1");
    assert_line(text, "mxguard_greylist_outcomes_total{outcome=\"pass\"} 1");
    assert_line(text, "mxguard_greylist_outcomes_total{outcome=\"other\"} 1");
    assert_line(text, "mxguard_message_store_errors_total 2");
    assert_line(text, "# TYPE mxguard_stage_duration_seconds histogram");
    assert_line(text, "mxguard_stage_duration_seconds_bucket{stage=\"mail\",le=\"0.001\"} 0");
    assert_line(text, "mxguard_stage_duration_seconds_bucket{stage=\"mail\",le=\"0.0025\"} 1");
    assert_line(text, "mxguard_stage_duration_seconds_bucket{stage=\"mail\",le=\"0.005\"} 2");
    assert_line(text, "mxguard_stage_duration_seconds_bucket{stage=\"mail\",le=\"+Inf\"} 2");
    assert_line(text, "mxguard_stage_duration_seconds_sum{stage=\"mail\"} 0.005100");
    assert_line(text, "mxguard_stage_duration_seconds_count{stage=\"mail\"} 2");
    assert_line(text, "mxguard_stage_duration_seconds_bucket{stage=\"rcpt\",le=\"0.0001\"} 1");
    assert_line(text, "mxguard_stage_duration_seconds_bucket{stage=\"eom\",le=\"30\"} 0");
    assert_line(text, "mxguard_stage_duration_seconds_bucket{stage=\"eom\",le=\"+Inf\"} 1");
    assert_line(text, "mxguard_stage_duration_seconds_count{stage=\"helo\"} 0");
    assert_line(text, "mxguard_check_duration_seconds_bucket{check=\"spf\",le=\"0.0025\"} 1");
    assert_line(text, "mxguard_check_duration_seconds_count{check=\"dns\"} 0");
    free(text);
}

/* Two rule sets from the same file, the second a reload of the first. */
static void test_rule_counters_across_a_reload(void **state)
{
    char path[128], line[256];
    struct ruleset *old, *fresh;
    char *text;

    (void)state;
    snprintf(path, sizeof path, "%s/reload.rules", dir);
    old = load_file(path, "on rcpt {\n"
                          "    [relay] reject 554 5.7.1 \"no\" if recipient.domain = \"a.example\";\n"
                          "    reject 554 5.7.1 \"no\" if recipient.domain = \"b.example\";\n"
                          "    [gone] reject 554 5.7.1 \"no\" if recipient.domain = \"c.example\";\n"
                          "}\n");
    decide(STAGE_RCPT, ACTION_REJECT, nth_rule(old, STAGE_RCPT, 0), FLOW_EVALUATED);
    decide(STAGE_RCPT, ACTION_REJECT, nth_rule(old, STAGE_RCPT, 0), FLOW_EVALUATED);
    decide(STAGE_RCPT, ACTION_REJECT, nth_rule(old, STAGE_RCPT, 1), FLOW_EVALUATED);
    decide(STAGE_RCPT, ACTION_REJECT, nth_rule(old, STAGE_RCPT, 2), FLOW_EVALUATED);
    text = render();
    snprintf(line, sizeof line, "mxguard_rule_decided_total{rule=\"%s:3\"} 1", path);
    assert_line(text, line);
    assert_line(text, "mxguard_rule_decided_total{rule=\"gone\"} 1");
    free(text);

    /* The reload: [relay] moved down a line, the unlabelled rule too, [gone] went. */
    fresh = load_file(path, "# reloaded\n"
                            "on rcpt {\n"
                            "    [relay] reject 554 5.7.1 \"no\" if recipient.domain = \"a.example\";\n"
                            "    reject 554 5.7.1 \"no\" if recipient.domain = \"b.example\";\n"
                            "}\n");
    decide(STAGE_RCPT, ACTION_REJECT, nth_rule(fresh, STAGE_RCPT, 0), FLOW_EVALUATED);
    /* A session still on the old rules counts into the same entry. */
    decide(STAGE_RCPT, ACTION_REJECT, nth_rule(old, STAGE_RCPT, 0), FLOW_EVALUATED);
    ruleset_unref(old);
    text = render();
    assert_line(text, "mxguard_rule_decided_total{rule=\"relay\"} 4");
    snprintf(line, sizeof line, "mxguard_rule_decided_total{rule=\"%s:4\"} 0", path);
    assert_line(text, line);
    snprintf(line, sizeof line, "rule=\"%s:3\"", path);
    assert_no_line_with(text, line);
    assert_no_line_with(text, "rule=\"gone\"");
    free(text);
    ruleset_unref(fresh);
}

static void test_label_values_are_escaped(void **state)
{
    char sub[128], path[192], line[512];
    struct ruleset *rs;
    char *text;

    (void)state;
    /* A directory name with a quote, a backslash, a newline and a byte that is not UTF-8. */
    snprintf(sub, sizeof sub, "%s/a\"b\\c\nd\xff" "e", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(path, sizeof path, "%s/x.rules", sub);
    rs = load_file(path, "on mail {\n    reject 550 5.7.1 \"no\" if sender.domain = \"x.example\";\n}\n");
    decide(STAGE_MAIL, ACTION_REJECT, nth_rule(rs, STAGE_MAIL, 0), FLOW_EVALUATED);
    text = render();
    snprintf(line, sizeof line, "mxguard_rule_decided_total{rule=\"%s/a\\\"b\\\\c\\nd\xef\xbf\xbd" "e/x.rules:2\"} 1",
             dir);
    assert_line(text, line);
    free(text);
    ruleset_unref(rs);
}

/* The bounds stay across metrics_init (a filter restart); the counts start afresh. */
static void test_overload_limits_and_refusals(void **state)
{
    char *text;

    (void)state;
    metrics_set_limits(250, 50);
    metrics_note_refused();
    metrics_note_refused();
    metrics_note_poison_held();
    text = render();
    assert_line(text, "mxguard_sessions_limit 250");
    assert_line(text, "mxguard_sessions_refused_total 2");
    assert_line(text, "mxguard_poison_held_total 1");
    assert_false(has_line(text, "mxguard_dns_waiting_limit 50")); /* no resolver: no DNS family */
    free(text);
    metrics_init();
    text = render();
    assert_line(text, "mxguard_sessions_limit 250");
    assert_line(text, "mxguard_sessions_refused_total 0");
    assert_line(text, "mxguard_poison_held_total 0");
    free(text);
    metrics_set_limits(0, 0);
}

static void test_store_and_its_outages(void **state)
{
    struct store_config cfg;
    struct store *s;
    const char *error;
    char buf[16], *text;
    size_t vlen;

    (void)state;
    assert_non_null(s = store_memory_open());
    metrics_set_store(s);
    assert_int_equal(store_set(s, "k", 1, "v", 1, 100, 1, NULL), STORE_FOUND);
    assert_int_equal(store_get(s, "k", 1, buf, sizeof buf, &vlen, 1, NULL), STORE_FOUND);
    text = render();
    assert_line(text, "mxguard_store_up 1");
    assert_line(text, "mxguard_store_calls_total 2");
    assert_line(text, "mxguard_store_errors_total 0");
    free(text);
    store_close(s);

    /* Redis on a port where nothing listens: every call fails, one outage. */
    store_config_init(&cfg);
    assert_int_equal(store_config_set(&cfg, "backend", "redis", &error), 0);
    assert_int_equal(store_config_set(&cfg, "redis-port", "1", &error), 0);
    assert_int_equal(store_config_set(&cfg, "redis-connect-timeout", "200", &error), 0);
    assert_non_null(s = store_open(&cfg, &error));
    metrics_set_store(s);
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_get(s, "k", 1, buf, sizeof buf, &vlen, 1, &error), STORE_ERROR);
    text = render();
    assert_line(text, "mxguard_store_up 0");
    assert_line(text, "mxguard_store_calls_total 3");
    assert_line(text, "mxguard_store_errors_total 3");
    assert_line(text, "mxguard_store_outages_total 1");
    free(text);
    metrics_set_store(NULL);
    store_close(s);
}

static void test_stats_reads_the_text_back(void **state)
{
    static struct record r;
    char path[128], *text, *out = NULL;
    size_t outlen = 0;
    struct ruleset *rs;
    FILE *f;

    (void)state;
    snprintf(path, sizeof path, "%s/stats.rules", dir);
    rs = load_file(path, relay_rules);
    metrics_set_limits(250, 50);
    metrics_note_refused();
    metrics_session_open();
    for (int i = 0; i < 3; i++)
        decide(STAGE_RCPT, ACTION_REJECT, nth_rule(rs, STAGE_RCPT, 2), FLOW_EVALUATED);
    session_to_mail(rs, "bad.example");
    /* 100 messages: 98 spend 1.5 ms at rcpt, two 3 s. */
    memset(&r, 0, sizeof r);
    r.kind = RECORD_MESSAGE;
    r.reached_eom = true;
    for (int i = 0; i < 100; i++) {
        r.us_stage[STAGE_RCPT] = i < 98 ? 1500 : 3000000;
        metrics_note_record(&r);
    }
    text = render();
    assert_non_null(f = open_memstream(&out, &outlen));
    assert_int_equal(stats_print(text, "127.0.0.1:9469", f), 0);
    fclose(f);
    if (strstr(out, "sessions        1 open, 1 in all\n") == NULL ||
        strstr(out, "messages        100\n") == NULL ||
        strstr(out, "  by outcome    accept 100, reject 0, tempfail 0, discard 0, aborted 0\n") == NULL ||
        strstr(out, "  rcpt          reject 3\n") == NULL || strstr(out, "  connect       reject 1\n") == NULL ||
        strstr(out, "top rules, decided:\n           3  relay\n           1  bad-net\n") == NULL ||
        strstr(out, "top rules, warned (would have decided): none\n") == NULL ||
        /* p50 within the 1 to 2.5 ms bucket; p99 within 2.5 to 5 s */
        strstr(out, "  rcpt          1.8 ms / 3.75 s  (100)\n") == NULL ||
        strstr(out, "store           none open\n") == NULL ||
        strstr(out, "overload        1 sessions refused (limit 250)\n") == NULL ||
        strstr(out, "engine failures dns 0, internal 0 (poison messages held 0)\n") == NULL)
        fail_msg("unexpected --stats output:\n%s", out);
    free(out);
    free(text);
    ruleset_unref(rs);
    metrics_set_limits(0, 0);
    /* Not mxguard's text: an error, not a summary of nothing. */
    assert_int_equal(stats_print((char[]){ "<html>hello</html>\n" }, "x", stderr), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_decisions_by_stage_and_rule, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_records, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_rule_counters_across_a_reload, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_label_values_are_escaped, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_overload_limits_and_refusals, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_store_and_its_outages, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_stats_reads_the_text_back, make_dir, remove_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
