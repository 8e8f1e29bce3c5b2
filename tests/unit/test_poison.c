/*
 * test_poison.c: the poison guard's shared tables (milter/poison.c):
 * message digests, slots (bounded, per session), charging a crash to the
 * busy slots only, the threshold that holds a message, the suspects'
 * LRU bound and expiry, and a crash for real in a forked process that
 * writes the shared memory, charged by its parent.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "milter/poison.h"

#define T0 1000000

static int setup(void **state, unsigned nslots, unsigned nsuspects, unsigned crashes)
{
    const char *error;

    (void)state;
    return poison_init(nslots, nsuspects, crashes, &error);
}

static int setup_small(void **state)
{
    return setup(state, 4, 4, 3);
}

static int teardown(void **state)
{
    (void)state;
    poison_shutdown();
    return 0;
}

/* A message whose one header says text; busy in a callback when enter is true. */
static unsigned message(struct poison_msg *m, const char *text, bool enter, time_t now)
{
    poison_msg_begin(m);
    poison_msg_fold(m, 'M', "<a@example.org>", 15);
    poison_msg_fold(m, 'R', "<b@example.net>", 15);
    poison_msg_fold(m, 'H', "Subject", 7);
    poison_msg_fold(m, 'V', text, strlen(text));
    return enter ? poison_msg_enter(m, "Q1", now) : 0;
}

static void test_digest(void **state)
{
    struct poison_msg a = { 0 }, b = { 0 }, c = { 0 };
    unsigned char zero[POISON_DIGEST_LEN] = { 0 };

    (void)state;
    message(&a, "hello", false, T0);
    message(&b, "hello", false, T0);
    assert_memory_equal(a.digest, b.digest, POISON_DIGEST_LEN);
    assert_memory_not_equal(a.digest, zero, POISON_DIGEST_LEN);
    message(&c, "hellO", false, T0);
    assert_memory_not_equal(a.digest, c.digest, POISON_DIGEST_LEN);

    /* Items are length-delimited: "ab" + "c" is not "a" + "bc". */
    poison_msg_begin(&b);
    poison_msg_fold(&b, 'H', "ab", 2);
    poison_msg_fold(&b, 'V', "c", 1);
    poison_msg_begin(&c);
    poison_msg_fold(&c, 'H', "a", 1);
    poison_msg_fold(&c, 'V', "bc", 2);
    assert_memory_not_equal(b.digest, c.digest, POISON_DIGEST_LEN);

    /* A new MAIL starts afresh: the same steps give the same digest again. */
    message(&c, "hello", false, T0);
    assert_memory_equal(a.digest, c.digest, POISON_DIGEST_LEN);

    /* After a message ended, the first item starts the next one afresh
       (an MTA told to skip MAIL and RCPT sends the headers first). */
    poison_msg_end(&c);
    poison_msg_fold(&c, 'H', "Subject", 7);
    poison_msg_fold(&c, 'V', "hello", 5);
    poison_msg_begin(&b);
    poison_msg_fold(&b, 'H', "Subject", 7);
    poison_msg_fold(&b, 'V', "hello", 5);
    assert_memory_equal(b.digest, c.digest, POISON_DIGEST_LEN);
    assert_memory_not_equal(a.digest, c.digest, POISON_DIGEST_LEN);

    /* Nothing folded, nothing published: the empty digest would name every message. */
    poison_msg_begin(&b);
    assert_int_equal(poison_msg_enter(&b, "Q", T0), 0);
    assert_int_equal(poison_charge_crash(T0), 0);
    poison_msg_release(&a);
    poison_msg_release(&b);
    poison_msg_release(&c);
}

static void test_slots_bounded(void **state)
{
    struct poison_msg m[5] = { { 0 } };

    (void)state;
    for (int i = 0; i < 5; i++)
        message(&m[i], "busy", true, T0);
    for (int i = 0; i < 4; i++)
        assert_int_not_equal(m[i].slot, 0);
    assert_int_equal(m[4].slot, 0); /* no free slot: not tracked */
    /* A freed slot is taken by the next session. */
    poison_msg_release(&m[0]);
    assert_int_equal(m[0].slot, 0);
    message(&m[4], "busy", true, T0);
    assert_int_not_equal(m[4].slot, 0);
    /* A crash charges the four tracked ones: one digest, charged once for this crash. */
    assert_int_equal(poison_charge_crash(T0), 1);
    assert_int_equal(poison_crashes(m[1].digest, T0), 1);
    for (int i = 1; i < 5; i++)
        poison_msg_release(&m[i]);
}

static void test_busy_only(void **state)
{
    struct poison_msg busy = { 0 }, idle = { 0 }, ended = { 0 }, before_mail = { 0 };
    unsigned char d_idle[POISON_DIGEST_LEN], d_ended[POISON_DIGEST_LEN];

    (void)state;
    message(&busy, "the culprit", true, T0);
    message(&idle, "waits for the MTA", true, T0);
    poison_msg_leave(&idle);
    memcpy(d_idle, idle.digest, sizeof d_idle);
    message(&ended, "ended", true, T0);
    poison_msg_end(&ended);
    memcpy(d_ended, ended.digest, sizeof d_ended);
    poison_msg_begin(&before_mail);
    poison_msg_end(&before_mail);
    assert_int_equal(poison_charge_crash(T0), 1);
    assert_int_equal(poison_crashes(busy.digest, T0), 1);
    assert_int_equal(poison_crashes(d_idle, T0), 0);
    assert_int_equal(poison_crashes(d_ended, T0), 0);
    /* The slots were cleared: a second crash with nothing busy is not attributed. */
    assert_int_equal(poison_charge_crash(T0 + 1), 0);
    poison_clear_slots();
}

static void test_threshold(void **state)
{
    struct poison_msg m = { 0 }, other = { 0 };
    char hex[POISON_HEX_LEN + 1];

    (void)state;
    for (unsigned crash = 1; crash <= 3; crash++) {
        assert_int_equal(message(&m, "POISON", true, T0 + crash), 0);
        assert_false(m.held);
        message(&other, "innocent", true, T0 + crash); /* the same bystander, busy each time */
        other.slot = 0;
        assert_int_equal(poison_charge_crash(T0 + crash), 2);
        m.slot = 0; /* the crashed filter's sessions are gone */
        assert_int_equal(poison_crashes(m.digest, T0 + crash), crash);
    }
    /* The fourth time: held, and its slot is not busy. */
    assert_int_equal(message(&m, "POISON", true, T0 + 10), 3);
    assert_true(m.held);
    poison_hex(m.digest, hex);
    assert_int_equal(strlen(hex), POISON_HEX_LEN);
    assert_int_equal(poison_charge_crash(T0 + 11), 0);
    /* Held, it stays held: nothing more is folded or published. */
    assert_int_equal(poison_msg_enter(&m, "Q1", T0 + 12), 0);
    assert_true(m.held);
    /* The bystander, busy at all three crashes, counts 3 too: the same
       digest busy at N crashes is the rule, whoever it is. A different
       one, never busy at a crash, counts nothing. */
    assert_int_equal(poison_crashes(other.digest, T0 + 12), 3);
    message(&other, "a different bystander", false, T0);
    assert_int_equal(poison_crashes(other.digest, T0 + 12), 0);
    poison_msg_release(&m);
}

static void test_expiry(void **state)
{
    struct poison_msg m = { 0 };
    unsigned char d[POISON_DIGEST_LEN];

    (void)state;
    message(&m, "old", true, T0);
    memcpy(d, m.digest, sizeof d);
    assert_int_equal(poison_charge_crash(T0), 1);
    assert_int_equal(poison_crashes(d, T0 + POISON_TTL - 1), 1);
    assert_int_equal(poison_crashes(d, T0 + POISON_TTL), 0);
    /* Charged again after it was forgotten: it counts from 1. */
    m.slot = 0;
    message(&m, "old", true, T0 + POISON_TTL);
    assert_int_equal(poison_charge_crash(T0 + POISON_TTL), 1);
    assert_int_equal(poison_crashes(d, T0 + POISON_TTL), 1);
}

static void test_held_refreshes(void **state)
{
    struct poison_msg m = { 0 };
    time_t t = T0;

    (void)state;
    for (int i = 0; i < 3; i++) {
        message(&m, "again", true, t);
        m.slot = 0;
        assert_int_equal(poison_charge_crash(t), 1);
    }
    /* Held just before it would expire: remembered for another hour from then. */
    t += POISON_TTL - 1;
    assert_int_equal(message(&m, "again", true, t), 3);
    assert_int_equal(poison_crashes(m.digest, t + POISON_TTL - 1), 3);
    assert_int_equal(poison_crashes(m.digest, t + POISON_TTL), 0);
}

static void test_lru_bound(void **state)
{
    struct poison_msg m = { 0 };
    unsigned char first[POISON_DIGEST_LEN], last[POISON_DIGEST_LEN];
    char text[16];

    (void)state;
    /* Five distinct digests in a table of four: the least recently charged goes. */
    for (int i = 0; i < 5; i++) {
        snprintf(text, sizeof text, "m%d", i);
        message(&m, text, true, T0 + i);
        m.slot = 0;
        assert_int_equal(poison_charge_crash(T0 + i), 1);
        if (i == 0)
            memcpy(first, m.digest, sizeof first);
        if (i == 1) { /* m1 charged again later: recent */
            message(&m, text, true, T0 + 10);
            m.slot = 0;
            poison_charge_crash(T0 + 10);
        }
        memcpy(last, m.digest, sizeof last);
    }
    assert_int_equal(poison_crashes(first, T0 + 20), 0);
    assert_int_equal(poison_crashes(last, T0 + 20), 1);
    message(&m, "m1", false, T0);
    assert_int_equal(poison_crashes(m.digest, T0 + 20), 2);
    message(&m, "m2", false, T0);
    assert_int_equal(poison_crashes(m.digest, T0 + 20), 1);
}

/* A filter process that crashes for real while its callback works on a message. */
static void test_crash_in_child(void **state)
{
    struct poison_msg m = { 0 };
    int status;
    pid_t pid;

    (void)state;
    for (int busy = 1; busy >= 0; busy--) {
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct poison_msg c = { 0 };
            signal(SIGSEGV, SIG_DFL);
            message(&c, "crashes the filter", true, T0);
            if (!busy)
                poison_msg_leave(&c);
            raise(SIGSEGV);
            _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(poison_charge_crash(T0), busy ? 1 : 0);
    }
    message(&m, "crashes the filter", false, T0);
    assert_int_equal(poison_crashes(m.digest, T0), 1);
}

static void test_off(void **state)
{
    struct poison_msg m = { 0 };
    const char *error;

    (void)state;
    poison_shutdown();
    assert_int_equal(message(&m, "anything", true, T0), 0);
    assert_int_equal(m.slot, 0);
    assert_false(m.held);
    assert_int_equal(poison_charge_crash(T0), 0);
    assert_int_equal(poison_init(0, 4, 3, &error), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_digest, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_slots_bounded, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_busy_only, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_threshold, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_held_refreshes, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_lru_bound, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_crash_in_child, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_off, setup_small, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
