/*
 * test_dns_memo.c: the process-wide answer memo (policy/dns/dns_memo.c).
 *
 * What is kept (found and not-found answers; never a failure, never a
 * raw answer without its packet or with one over the cap), for how long
 * (the TTL, capped; the clock is the caller's), under which key (case and
 * trailing dot do not matter; type and raw do), that a hit is a deep copy
 * the caller owns, and that the entry and byte bounds hold however many
 * answers go in, from several threads at once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/dns/dns_memo.h"

static struct dns_answer found_a(unsigned char last)
{
    struct dns_answer a = { .status = DNS_FOUND, .rcode = 0, .n = 1 };

    a.addr[0].v4 = true;
    a.addr[0].b[10] = a.addr[0].b[11] = 0xff;
    a.addr[0].b[12] = 127;
    a.addr[0].b[15] = last;
    return a;
}

static void test_found_answer_until_ttl(void **state)
{
    struct dns_memo *m = dns_memo_new(16, 1 << 20);
    struct dns_answer a = found_a(2), out;
    (void)state;

    dns_memo_put(m, "2.0.0.127.bl.example", DNS_TYPE_A, false, &a, 30, 1000);
    assert_true(dns_memo_get(m, "2.0.0.127.bl.example", DNS_TYPE_A, false, 1029, &out));
    assert_int_equal(out.status, DNS_FOUND);
    assert_int_equal(out.n, 1);
    assert_int_equal(out.addr[0].b[15], 2);
    dns_answer_clear(&out);
    /* at the TTL it is gone, and the entry with it */
    assert_false(dns_memo_get(m, "2.0.0.127.bl.example", DNS_TYPE_A, false, 1030, &out));
    unsigned entries;
    size_t bytes;
    dns_memo_usage(m, &entries, &bytes);
    assert_int_equal(entries, 0);
    assert_int_equal(bytes, 0);
    dns_memo_free(m);
}

static void test_ttl_is_capped(void **state)
{
    struct dns_memo *m = dns_memo_new(16, 1 << 20);
    struct dns_answer a = found_a(2), out;
    (void)state;

    dns_memo_put(m, "x.example", DNS_TYPE_A, false, &a, 86400 * 7, 0);
    assert_true(dns_memo_get(m, "x.example", DNS_TYPE_A, false, DNS_MEMO_TTL_MAX - 1, &out));
    dns_answer_clear(&out);
    assert_false(dns_memo_get(m, "x.example", DNS_TYPE_A, false, DNS_MEMO_TTL_MAX, &out));
    dns_memo_free(m);
}

static void test_key_case_dot_type_raw(void **state)
{
    struct dns_memo *m = dns_memo_new(16, 1 << 20);
    struct dns_answer a = found_a(9), out;
    (void)state;

    dns_memo_put(m, "Mail.Example.ORG.", DNS_TYPE_A, false, &a, 60, 0);
    assert_true(dns_memo_get(m, "mail.example.org", DNS_TYPE_A, false, 1, &out));
    dns_answer_clear(&out);
    assert_true(dns_memo_get(m, "MAIL.example.org.", DNS_TYPE_A, false, 1, &out));
    dns_answer_clear(&out);
    assert_false(dns_memo_get(m, "mail.example.org", DNS_TYPE_AAAA, false, 1, &out));
    assert_false(dns_memo_get(m, "mail.example.org", DNS_TYPE_A, true, 1, &out));
    assert_false(dns_memo_get(m, "mail.example.or", DNS_TYPE_A, false, 1, &out));
    assert_false(dns_memo_get(m, "", DNS_TYPE_A, false, 1, &out));
    dns_memo_free(m);
}

static void test_not_found_kept_failures_not(void **state)
{
    struct dns_memo *m = dns_memo_new(16, 1 << 20);
    struct dns_answer nx = { .status = DNS_NOTFOUND, .rcode = 3 };
    struct dns_answer fail = { .status = DNS_TEMPFAIL, .why = "SERVFAIL", .rcode = 2 }, out;
    (void)state;

    dns_memo_put(m, "gone.example", DNS_TYPE_TXT, false, &nx, 60, 0);
    assert_true(dns_memo_get(m, "gone.example", DNS_TYPE_TXT, false, 1, &out));
    assert_int_equal(out.status, DNS_NOTFOUND);
    assert_int_equal(out.rcode, 3);
    dns_answer_clear(&out);
    dns_memo_put(m, "down.example", DNS_TYPE_TXT, false, &fail, 60, 0);
    assert_false(dns_memo_get(m, "down.example", DNS_TYPE_TXT, false, 1, &out));
    /* no TTL, nothing kept */
    dns_memo_put(m, "zero.example", DNS_TYPE_TXT, false, &nx, 0, 0);
    assert_false(dns_memo_get(m, "zero.example", DNS_TYPE_TXT, false, 0, &out));
    dns_memo_free(m);
}

static void test_hit_is_a_deep_copy(void **state)
{
    struct dns_memo *m = dns_memo_new(16, 1 << 20);
    struct dns_answer a = { .status = DNS_FOUND, .rcode = 0, .n = 2, .secure = true }, out;
    unsigned char pkt[40];
    (void)state;

    memset(pkt, 0xab, sizeof pkt);
    a.text[0] = strdup("v=spf1 -all");
    a.text[1] = strdup("other text");
    a.packet = malloc(sizeof pkt);
    memcpy(a.packet, pkt, sizeof pkt);
    a.packet_len = sizeof pkt;
    dns_memo_put(m, "example.test", DNS_TYPE_TXT, true, &a, 60, 0);
    dns_answer_clear(&a); /* the memo keeps its own copy */
    assert_true(dns_memo_get(m, "example.test", DNS_TYPE_TXT, true, 1, &out));
    assert_string_equal(out.text[0], "v=spf1 -all");
    assert_string_equal(out.text[1], "other text");
    assert_true(out.secure);
    assert_int_equal(out.packet_len, sizeof pkt);
    assert_memory_equal(out.packet, pkt, sizeof pkt);
    out.text[0][0] = 'X'; /* the caller's to change and free */
    dns_answer_clear(&out);
    assert_true(dns_memo_get(m, "example.test", DNS_TYPE_TXT, true, 1, &out));
    assert_string_equal(out.text[0], "v=spf1 -all");
    dns_answer_clear(&out);
    dns_memo_free(m);
}

static void test_raw_needs_packet_within_cap(void **state)
{
    struct dns_memo *m = dns_memo_new(16, 1 << 20);
    struct dns_answer a = { .status = DNS_FOUND, .rcode = 0 }, out;
    (void)state;

    dns_memo_put(m, "nopacket.example", DNS_TYPE_TXT, true, &a, 60, 0);
    assert_false(dns_memo_get(m, "nopacket.example", DNS_TYPE_TXT, true, 1, &out));
    a.packet_len = DNS_MEMO_PACKET_MAX + 1;
    a.packet = calloc(1, a.packet_len);
    dns_memo_put(m, "big.example", DNS_TYPE_TXT, true, &a, 60, 0);
    assert_false(dns_memo_get(m, "big.example", DNS_TYPE_TXT, true, 1, &out));
    free(a.packet);
    dns_memo_free(m);
}

static void test_newer_answer_replaces(void **state)
{
    struct dns_memo *m = dns_memo_new(16, 1 << 20);
    struct dns_answer a = found_a(2), b = found_a(3), out;
    unsigned entries;
    size_t bytes;
    (void)state;

    dns_memo_put(m, "n.example", DNS_TYPE_A, false, &a, 60, 0);
    dns_memo_put(m, "n.example", DNS_TYPE_A, false, &b, 60, 0);
    dns_memo_usage(m, &entries, &bytes);
    assert_int_equal(entries, 1);
    assert_true(dns_memo_get(m, "n.example", DNS_TYPE_A, false, 1, &out));
    assert_int_equal(out.addr[0].b[15], 3);
    dns_answer_clear(&out);
    dns_memo_free(m);
}

static void test_bounds_hold(void **state)
{
    struct dns_memo *m = dns_memo_new(100, 1 << 20);
    struct dns_memo *small = dns_memo_new(10000, 20000);
    struct dns_answer a = found_a(1), out;
    unsigned entries;
    size_t bytes;
    char name[64];
    (void)state;

    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "h%d.example", i);
        dns_memo_put(m, name, DNS_TYPE_A, false, &a, 60, 0);
        dns_memo_put(small, name, DNS_TYPE_A, false, &a, 60, 0);
        dns_memo_usage(m, &entries, &bytes);
        assert_true(entries <= 100);
        dns_memo_usage(small, &entries, &bytes);
        assert_true(bytes <= 20000);
    }
    /* the latest answer is always kept */
    assert_true(dns_memo_get(m, "h4999.example", DNS_TYPE_A, false, 1, &out));
    dns_answer_clear(&out);
    assert_true(dns_memo_get(small, "h4999.example", DNS_TYPE_A, false, 1, &out));
    dns_answer_clear(&out);
    dns_memo_free(m);
    dns_memo_free(small);
}

struct worker {
    struct dns_memo *m;
    int id;
    int hits, wrong;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    struct dns_answer a = { .status = DNS_FOUND, .rcode = 0, .n = 1 }, out;
    char name[64];

    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "n%d.example", (i * 7 + w->id) % 500);
        a.text[0] = name;
        if (dns_memo_get(w->m, name, DNS_TYPE_PTR, false, 1, &out)) {
            if (out.n == 1 && strcmp(out.text[0], name) == 0)
                w->hits++;
            else
                w->wrong++;
            dns_answer_clear(&out);
        } else
            dns_memo_put(w->m, name, DNS_TYPE_PTR, false, &a, 60, 0);
    }
    return NULL;
}

static void test_threads_see_consistent_answers(void **state)
{
    struct dns_memo *m = dns_memo_new(200, 1 << 20);
    struct worker w[6];
    pthread_t t[6];
    int hits = 0, wrong = 0;
    (void)state;

    for (int i = 0; i < 6; i++) {
        w[i] = (struct worker){ m, i, 0, 0 };
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        hits += w[i].hits;
        wrong += w[i].wrong;
    }
    unsigned entries;
    size_t bytes;
    dns_memo_usage(m, &entries, &bytes);
    assert_true(entries <= 200);
    assert_true(hits > 0);
    assert_int_equal(wrong, 0); /* every hit held its own name's answer */
    dns_memo_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_found_answer_until_ttl),
        cmocka_unit_test(test_ttl_is_capped),
        cmocka_unit_test(test_key_case_dot_type_raw),
        cmocka_unit_test(test_not_found_kept_failures_not),
        cmocka_unit_test(test_hit_is_a_deep_copy),
        cmocka_unit_test(test_raw_needs_packet_within_cap),
        cmocka_unit_test(test_newer_answer_replaces),
        cmocka_unit_test(test_bounds_hold),
        cmocka_unit_test(test_threads_see_consistent_answers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
