/*
 * test_state_rules.c: greylisting and rate limits through the rule
 * engine (rules/eval.c, policy/state/statecheck.c) on a real LMDB file, with a
 * clock the test moves instead of sleeping.
 *
 * What the daemon relies on: a greylist rule decides only when it
 * refuses, with its reply or the default one and %{greylist.wait}; a
 * limit counts a message (or a recipient) once however many rules test
 * it; a store that does not answer is skipped or fails the evaluation as
 * the rule set says, never a pass by accident of the error path; without
 * a store nothing is greylisted or over.
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

#include "policy/state/statecheck.h"
#include "rules/ruleset.h"

static time_t clock_now = 1800000000;
static time_t test_clock(void *ctx) { (void)ctx; return clock_now; }

struct fixture {
    char dir[64];
    struct store *store;
    struct statecheck_config cfg;
    struct ruleset *rs;
    struct envelope env;
};

static struct ruleset *load(const char *text)
{
    struct diag diag;
    struct ruleset *rs;

    diag_init(&diag);
    rs = ruleset_load_buffer("state.rules", text, strlen(text), &diag);
    if (rs == NULL)
        diag_print(&diag, stderr);
    diag_free(&diag);
    assert_non_null(rs);
    return rs;
}

static void open_lmdb(struct fixture *f)
{
    struct store_config sc;
    const char *error = NULL;

    store_config_init(&sc);
    snprintf(f->dir, sizeof f->dir, "/tmp/mxg-state-rules.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(sc.path, sizeof sc.path, "%s/state.lmdb", f->dir);
    assert_int_equal(store_config_set(&sc, "lmdb-map-size", "4m", &error), 0);
    f->store = store_open(&sc, &error);
    assert_non_null(f->store);
}

static void setup(struct fixture *f, const char *rules, bool with_store)
{
    struct ipaddr ip;

    memset(f, 0, sizeof *f);
    if (with_store)
        open_lmdb(f);
    f->cfg.store = f->store;
    f->cfg.clock = test_clock;
    f->rs = load(rules);
    envelope_init(&f->env);
    f->env.state = statecheck_new(&f->cfg);
    assert_non_null(f->env.state);
    assert_int_equal(ipaddr_parse("203.0.113.7", &ip), 0);
    assert_int_equal(envelope_set_client(&f->env, "[203.0.113.7]", &ip), 0);
    assert_int_equal(envelope_set_helo(&f->env, "mail.outside.example"), 0);
}

static void teardown(struct fixture *f)
{
    char cmd[128];

    statecheck_free(f->env.state);
    envelope_free(&f->env);
    ruleset_unref(f->rs);
    if (f->store != NULL) {
        store_close(f->store);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
    }
}

/* One message: MAIL FROM, then each recipient's rcpt stage; the verdict of the last. */
static int message(struct fixture *f, const char *sender, const char *const *rcpts, size_t n,
                   struct verdict *v, enum stage last)
{
    int rc;

    envelope_reset_message(&f->env);
    assert_int_equal(envelope_set_sender(&f->env, sender), 0);
    if ((rc = ruleset_eval(f->rs, STAGE_MAIL, &f->env, v)) != 0 || last == STAGE_MAIL ||
        v->action == ACTION_TEMPFAIL)
        return rc;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(envelope_set_rcpt(&f->env, rcpts[i]), 0);
        if ((rc = ruleset_eval(f->rs, STAGE_RCPT, &f->env, v)) != 0)
            return rc;
        envelope_rcpt_done(&f->env, v->action != ACTION_TEMPFAIL && v->action != ACTION_REJECT);
    }
    return 0;
}

static const char *const one_rcpt[] = { "<user@example.org>" };

static void test_greylist_default_reply_and_delay(void **state)
{
    struct fixture f;
    struct verdict v;

    (void)state;
    setup(&f, "on rcpt { [grey] greylist; [after] continue; }\n", true);
    assert_int_equal(message(&f, "<a@outside.example>", one_rcpt, 1, &v, STAGE_RCPT), 0);
    assert_int_equal(v.action, ACTION_TEMPFAIL);
    assert_string_equal(rule_label(v.rule), "grey");
    assert_string_equal(v.code, "451");
    assert_string_equal(v.xcode, "4.7.1");
    assert_string_equal(v.text, "Greylisted, please try again in 300 seconds");
    clock_now += 120;
    assert_int_equal(message(&f, "<a@outside.example>", one_rcpt, 1, &v, STAGE_RCPT), 0);
    assert_int_equal(v.action, ACTION_TEMPFAIL);
    assert_string_equal(v.text, "Greylisted, please try again in 180 seconds");
    clock_now += 181;
    assert_int_equal(message(&f, "<a@outside.example>", one_rcpt, 1, &v, STAGE_RCPT), 0);
    /* Passed: the greylist rule did not decide; the next one did. */
    assert_int_equal(v.action, ACTION_CONTINUE);
    assert_string_equal(rule_label(v.rule), "after");
    teardown(&f);
}

static void test_greylist_own_reply_and_settings(void **state)
{
    struct fixture f;
    struct verdict v;

    (void)state;
    setup(&f, "greylist { delay 1m; window 10m; }\n"
              "on rcpt { greylist 450 4.7.1 \"Wait %{greylist.wait}s, %{client.address}\"; }\n", true);
    assert_int_equal(message(&f, "<b@outside.example>", one_rcpt, 1, &v, STAGE_RCPT), 0);
    assert_int_equal(v.action, ACTION_TEMPFAIL);
    assert_string_equal(v.code, "450");
    assert_string_equal(v.text, "Wait 60s, 203.0.113.7");
    clock_now += 61 + 600 + 1; /* past the window: first seen again */
    assert_int_equal(message(&f, "<b@outside.example>", one_rcpt, 1, &v, STAGE_RCPT), 0);
    assert_int_equal(v.action, ACTION_TEMPFAIL);
    assert_string_equal(v.text, "Wait 60s, 203.0.113.7");
    teardown(&f);
}

static void test_limit_counts_a_message_once(void **state)
{
    struct fixture f;
    struct verdict v;

    (void)state;
    setup(&f, "ratelimit m { key client.address; window 1h; limit 2; count messages; }\n"
              "on mail { [warned] warn tempfail if over <m>; [slow] tempfail 451 4.7.1 \"slow\" if over <m>; }\n",
          true);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(message(&f, "<c@outside.example>", NULL, 0, &v, STAGE_MAIL), 0);
        assert_int_equal(v.action, ACTION_NONE);
        /* Evaluating the stage again (a repeat) reads, it does not count. */
        assert_int_equal(ruleset_eval(f.rs, STAGE_MAIL, &f.env, &v), 0);
        assert_int_equal(v.action, ACTION_NONE);
    }
    assert_int_equal(message(&f, "<c@outside.example>", NULL, 0, &v, STAGE_MAIL), 0);
    assert_int_equal(v.action, ACTION_TEMPFAIL);
    assert_string_equal(rule_label(v.rule), "slow");
    /* An hour later the window has slid past them. */
    clock_now += 2 * 3600 + 1;
    assert_int_equal(message(&f, "<c@outside.example>", NULL, 0, &v, STAGE_MAIL), 0);
    assert_int_equal(v.action, ACTION_NONE);
    teardown(&f);
}

static void test_limit_counts_recipients(void **state)
{
    static const char *const rcpts[] = { "<a@example.org>", "<b@example.org>", "<c@example.org>",
                                         "<d@example.org>" };
    struct fixture f;
    struct verdict v;

    (void)state;
    setup(&f, "ratelimit r { key sender.domain; window 1d; limit 3; count recipients; }\n"
              "on rcpt { tempfail 452 4.5.3 \"too many\" if over <r>; }\n", true);
    assert_int_equal(message(&f, "<d@outside.example>", rcpts, 3, &v, STAGE_RCPT), 0);
    assert_int_equal(v.action, ACTION_NONE);
    assert_int_equal(message(&f, "<e@outside.example>", rcpts + 3, 1, &v, STAGE_RCPT), 0);
    assert_int_equal(v.action, ACTION_TEMPFAIL);
    assert_string_equal(v.code, "452");
    teardown(&f);
}

static void test_store_error(void **state)
{
    struct fixture f;
    struct verdict v;
    struct store_config sc;
    const char *error;

    (void)state;
    /* A Redis socket nobody listens on: every call fails at once. */
    store_config_init(&sc);
    assert_int_equal(store_config_set(&sc, "backend", "redis", &error), 0);
    assert_int_equal(store_config_set(&sc, "redis-socket", "/nonexistent/redis.sock", &error), 0);
    setup(&f, "ratelimit s { key client.address; window 60; limit 1; count connections; }\n"
              "ratelimit t { key client.address; window 60; limit 1; count connections; on-error tempfail; }\n"
              "greylist { on-error skip; }\n"
              "on mail { [skipped] reject if over <s>; [after] continue; }\n"
              "on rcpt { [grey] greylist; [after2] continue; }\n"
              "on data { reject if over <t>; }\n", false);
    f.cfg.store = store_open(&sc, &error);
    assert_non_null(f.cfg.store);
    assert_int_equal(message(&f, "<f@outside.example>", NULL, 0, &v, STAGE_MAIL), 0);
    assert_string_equal(rule_label(v.rule), "after"); /* on-error skip: not over */
    assert_int_equal(message(&f, "<f@outside.example>", one_rcpt, 1, &v, STAGE_RCPT), 0);
    assert_string_equal(rule_label(v.rule), "after2"); /* greylist on-error skip: passes */
    assert_int_equal(ruleset_eval(f.rs, STAGE_DATA, &f.env, &v), -1); /* on-error tempfail */
    store_close(f.cfg.store);
    f.cfg.store = NULL;
    teardown(&f);
}

static void test_without_store(void **state)
{
    struct fixture f;
    struct verdict v;

    (void)state;
    setup(&f, "ratelimit s { key client.address; window 60; limit 1; count messages; }\n"
              "on mail { reject if over <s>; }\non rcpt { greylist; }\n", false);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(message(&f, "<g@outside.example>", one_rcpt, 1, &v, STAGE_RCPT), 0);
        assert_int_equal(v.action, ACTION_NONE);
    }
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greylist_default_reply_and_delay),
        cmocka_unit_test(test_greylist_own_reply_and_settings),
        cmocka_unit_test(test_limit_counts_a_message_once),
        cmocka_unit_test(test_limit_counts_recipients),
        cmocka_unit_test(test_store_error),
        cmocka_unit_test(test_without_store),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
