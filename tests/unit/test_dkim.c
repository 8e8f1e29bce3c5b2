/*
 * test_dkim.c: what policy/auth/dkim.c decides before any key is asked for:
 * key names that are no DNS names, messages without signatures, the header
 * limits, the signature count past the cap, malformed signatures, and
 * calls out of order. No resolver: none of these may need one (a lookup
 * would fail, and the test with it). Key lookups are in
 * tests/dkim/dkim_checks.sh, against real DNS servers.
 *
 * And the algorithm (RFC 8301): messages signed here with libopendkim's
 * signing API, rsa-sha256 and rsa-sha1, verified with the key from a
 * resolver that holds only the test's records (DNS_MODE_LOCAL, no server).
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
#include "policy/dns/dns.h"

#include <opendkim/dkim.h>

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

/* ---- the algorithm: rsa-sha1 never passes (RFC 8301 3.1) ------------------- */

/* A 1024-bit RSA key made for this test (openssl genrsa 1024); it signs
   nothing else. Its public half is the record below. */
static const char test_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIICdwIBADANBgkqhkiG9w0BAQEFAASCAmEwggJdAgEAAoGBAMs7EVdJuThV3EHR\n"
    "R/4dpVfCovYhdLZmKmUrwfL+CJBu2v3g4pDmxIH/T6k+itmulh/Tx993B8UPYUHP\n"
    "NzrLcdPYz1EHbU6RvYnphCk33LG8V+0YQVHW4htw8JMl5bglmmvkMrWIYWisF/jC\n"
    "TRsafFbnO5VO8U8FnyUcG2CVdob1AgMBAAECgYAzobwUGwzNfTLKHetWah25oB9a\n"
    "vME0Hdyje2x42YU/fIpyeZHWEmrWRBDvBI6uIybMyzc6VLlKnU+uMoDrlQhDwA7W\n"
    "yT/azw0M/2vkmNcCWqhU6sh3uNGKAuVUA02OxgKqyFaG+I4E2mud14TMVJht1rmW\n"
    "rRRn2fB3u2nnF7qaOQJBAO3tFqxiciCGcONQTENr3hQOhP5RGkevM+zwP3loUpvH\n"
    "BVF6xpP4LXZVcFr0GS5TlVsCAg60xcfSxlKa9mWh9CsCQQDaq0Ns/bLqMNrHBt/d\n"
    "ahrR2ek04q3OlmapzdnUYVHtESqvmqN5yuefaYk/TOTfUw/5pRbK2B7ehxAoxedZ\n"
    "GkFfAkAKNIAjdrmEcZ/H8DrFLYxB+fl0WxAwgPBOOmPOlk3sxpWQ0B5SXHO+vp1q\n"
    "GUw3M3iVhbmG3fQZxQ2in2jwJQkvAkEA0rbwfWmn7Bbx65JLTUC+4XOcT3MUS5wR\n"
    "CBYuj4LMgKbnPFrGp0mIk8wODqqZbj7LiSS15vgGHyeFwdSbT/iF/wJBAIcMf3Zs\n"
    "jNU4SD/t5WTOoVIOqS/QO3oZimsZq02Zz2rO9mnPgT20RzQqMYS040lsRgzffKaM\n"
    "9jgUb97CKY8cbHY=\n"
    "-----END PRIVATE KEY-----\n";

static const char *const key_records[] = {
    "sel._domainkey.example.test. TXT \"v=DKIM1; k=rsa; p="
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDLOxFXSbk4VdxB0Uf+HaVXwqL2IXS2ZiplK8Hy/giQ"
    "btr94OKQ5sSB/0+pPorZrpYf08ffdwfFD2FBzzc6y3HT2M9RB21Okb2J6YQpN9yxvFftGEFR1uIbcPCT"
    "JeW4JZpr5DK1iGForBf4wk0bGnxW5zuVTvFPBZ8lHBtglXaG9QIDAQAB\"",
};

static const char *const signed_headers[] = {
    "From", " Alice <alice@example.test>", "To", " bob@example.org", "Subject", " figures",
    "Date", " Sun, 29 Nov 2026 12:00:00 +0000",
};
static const char signed_body[] = "the figures are attached.\r\n";

/* The DKIM-Signature value (after "DKIM-Signature:") libopendkim makes
   for signed_headers and signed_body with alg, relaxed/relaxed. */
static void sign_with(dkim_alg_t alg, char *out, size_t outsz)
{
    DKIM_LIB *lib = dkim_init(NULL, NULL);
    DKIM_STAT st;
    DKIM *d;
    unsigned char *hdr = NULL;
    size_t hlen = 0;
    char field[256];

    assert_non_null(lib);
    d = dkim_sign(lib, (const unsigned char *)"unit-sign", NULL, (dkim_sigkey_t)test_key,
                  (const unsigned char *)"sel", (const unsigned char *)"example.test", DKIM_CANON_RELAXED,
                  DKIM_CANON_RELAXED, alg, -1, &st);
    assert_non_null(d);
    for (size_t i = 0; i + 1 < ARRAY_SIZE(signed_headers); i += 2) {
        int n = snprintf(field, sizeof field, "%s:%s", signed_headers[i], signed_headers[i + 1]);
        assert_int_equal(dkim_header(d, (unsigned char *)field, (size_t)n), DKIM_STAT_OK);
    }
    assert_int_equal(dkim_eoh(d), DKIM_STAT_OK);
    assert_int_equal(dkim_body(d, (unsigned char *)signed_body, strlen(signed_body)), DKIM_STAT_OK);
    assert_int_equal(dkim_eom(d, NULL), DKIM_STAT_OK);
    assert_int_equal(dkim_getsighdr_d(d, strlen("DKIM-Signature: "), &hdr, &hlen), DKIM_STAT_OK);
    assert_true(hlen + 2 <= outsz);
    snprintf(out, outsz, " %.*s", (int)hlen, (const char *)hdr);
    dkim_free(d);
    dkim_close(lib);
}

struct signed_run {
    struct dns_resolver *r;
    struct dkim_outcome out;
    unsigned long asked;       /* DNS questions the verification asked */
};

/* Verify signed_headers and signed_body under the signature values given
   (topmost first), the key served by a local resolver. */
static void verify_signed(const char *const *sigs, size_t nsigs, struct signed_run *run)
{
    struct dns_config cfg = { .mode = DNS_MODE_LOCAL, .query_timeout_ms = 2000, .records = key_records,
                              .nrecords = ARRAY_SIZE(key_records) };
    const char *error = NULL;
    unsigned long memo = 0;
    struct dkim_checker *c;
    struct dkim_check *m;

    run->r = dns_resolver_new(&cfg, &error);
    assert_non_null(run->r);
    assert_non_null(c = dkim_checker_new(run->r, NULL, &error));
    assert_non_null(m = dkim_check_new(c, "unit-verify"));
    for (size_t i = 0; i < nsigs; i++)
        assert_int_equal(dkim_check_header(m, "DKIM-Signature", sigs[i]), 0);
    for (size_t i = 0; i + 1 < ARRAY_SIZE(signed_headers); i += 2)
        assert_int_equal(dkim_check_header(m, signed_headers[i], signed_headers[i + 1]), 0);
    assert_int_equal(dkim_check_eoh(m), 0);
    assert_int_equal(dkim_check_body(m, (const unsigned char *)signed_body, strlen(signed_body)), 0);
    dkim_check_eom(m, &run->out);
    dkim_check_free(m);
    dkim_checker_free(c);
    dns_resolver_counts(run->r, &run->asked, &memo);
    dns_resolver_free(run->r);
}

/* The control: the same key and message with rsa-sha256 pass. */
static void test_rsa_sha256_passes(void **state)
{
    char sig[2048];
    const char *sigs[1] = { sig };
    struct signed_run run;

    (void)state;
    sign_with(DKIM_SIGN_RSASHA256, sig, sizeof sig);
    verify_signed(sigs, 1, &run);
    assert_int_equal(run.out.result, AUTH_PASS);
    assert_int_equal(run.out.nevaluated, 1);
    assert_int_equal(run.out.sig[0].result, AUTH_PASS);
    assert_string_equal(run.out.sig[0].algorithm, "rsa-sha256");
    assert_int_equal(run.out.sig[0].key_bits, 1024);
    assert_string_equal(run.out.sig[0].problem, "");
    assert_int_equal(run.asked, 1);
}

/* A valid rsa-sha1 signature, its key published: permerror, said why,
   and its key never asked for. libopendkim alone says pass. */
static void test_rsa_sha1_refused(void **state)
{
    char sig[2048];
    const char *sigs[1] = { sig };
    struct signed_run run;

    (void)state;
    sign_with(DKIM_SIGN_RSASHA1, sig, sizeof sig);
    assert_non_null(strstr(sig, "a=rsa-sha1;"));
    verify_signed(sigs, 1, &run);
    assert_int_equal(run.out.result, AUTH_PERMERROR);
    assert_int_equal(run.out.nevaluated, 1);
    assert_int_equal(run.out.sig[0].result, AUTH_PERMERROR);
    assert_string_equal(run.out.sig[0].algorithm, "rsa-sha1");
    assert_string_equal(run.out.sig[0].domain, "example.test");
    assert_string_equal(run.out.sig[0].problem, "rsa-sha1 is not allowed (RFC 8301)");
    assert_int_equal(run.out.sig[0].key_bits, 0);
    assert_int_equal(run.asked, 0);
}

/* rsa-sha1 on top of a valid rsa-sha256 signature: the message passes
   by the second, the first is still listed as refused. */
static void test_rsa_sha1_beside_sha256(void **state)
{
    char sig1[2048], sig256[2048];
    const char *sigs[2] = { sig1, sig256 };
    struct signed_run run;

    (void)state;
    sign_with(DKIM_SIGN_RSASHA1, sig1, sizeof sig1);
    sign_with(DKIM_SIGN_RSASHA256, sig256, sizeof sig256);
    verify_signed(sigs, 2, &run);
    assert_int_equal(run.out.result, AUTH_PASS);
    assert_int_equal(run.out.nevaluated, 2);
    assert_int_equal(run.out.sig[0].result, AUTH_PERMERROR);
    assert_string_equal(run.out.sig[0].problem, "rsa-sha1 is not allowed (RFC 8301)");
    assert_int_equal(run.out.sig[1].result, AUTH_PASS);
    assert_string_equal(run.out.sig[1].algorithm, "rsa-sha256");
}

/* a= in another case is the same algorithm to libopendkim: refused too,
   before anything else is looked at. */
static void test_rsa_sha1_any_case(void **state)
{
    static const char *const hdrs[] = {
        "DKIM-Signature", " v=1; a=RSA-SHA1; c=relaxed/relaxed; d=example.test; s=sel; h=from;"
                          " bh=x; b=y",
        "From", " a@example.test", "Subject", " hello",
    };
    struct dkim_outcome out;

    (void)state;
    outcome_of(NULL, hdrs, ARRAY_SIZE(hdrs), &out);
    assert_int_equal(out.result, AUTH_PERMERROR);
    assert_string_equal(out.sig[0].algorithm, "RSA-SHA1");
    assert_string_equal(out.sig[0].problem, "rsa-sha1 is not allowed (RFC 8301)");
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
        cmocka_unit_test(test_rsa_sha256_passes),
        cmocka_unit_test(test_rsa_sha1_refused),
        cmocka_unit_test(test_rsa_sha1_beside_sha256),
        cmocka_unit_test(test_rsa_sha1_any_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
