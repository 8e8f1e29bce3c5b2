/*
 * test_idn.c: international domain names to lower-case A-labels
 * (policy/smtp/idn.c), and what the address and HELO parsers make of them.
 *
 * Table-driven: names that convert (U-labels, A-labels, mixed case, the
 * trailing dot, TR46 mappings, literals left alone), names that are
 * refused with their reason (bad punycode, disallowed characters, invalid
 * UTF-8, bad hyphens, LDH violations), and the length bounds of the
 * A-label form, which may be longer than the name as written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/smtp/address.h"
#include "policy/smtp/helo.h"
#include "policy/smtp/idn.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct good_case {
    const char *in;
    const char *out;
};

static const struct good_case good_cases[] = {
    /* U-label to A-label. */
    { "b\xc3\xbc" "cher.example", "xn--bcher-kva.example" },
    { "mail.b\xc3\xbc" "cher.example", "mail.xn--bcher-kva.example" },
    { "\xe5\x85\xac\xe5\x8f\xb8.cn", "xn--55qx5d.cn" },
    /* Non-transitional: sharp s stays, it is not mapped to "ss". */
    { "fa\xc3\x9f.de", "xn--fa-hia.de" },
    /* Upper case is folded, in U-labels and in A-labels. */
    { "B\xc3\x9c" "CHER.EXAMPLE", "xn--bcher-kva.example" },
    { "XN--BCHER-KVA.Example", "xn--bcher-kva.example" },
    { "Example.ORG", "example.org" },
    /* A-labels are kept (after they were checked). */
    { "xn--bcher-kva.example", "xn--bcher-kva.example" },
    { "xn--55qx5d.cn", "xn--55qx5d.cn" },
    /* One trailing dot is dropped, as the address and HELO parsers did. */
    { "b\xc3\xbc" "cher.example.", "xn--bcher-kva.example" },
    { "example.org.", "example.org" },
    /* TR46 maps the ideographic full stop to a dot. */
    { "b\xc3\xbc" "cher\xe3\x80\x82" "example", "xn--bcher-kva.example" },
    /* Plain ASCII names are only folded: their old rules hold. */
    { "ab--cd.example", "ab--cd.example" },
    { "a", "a" },
    /* Address literals are checked and folded, never converted. */
    { "[192.0.2.1]", "[192.0.2.1]" },
    { "[IPv6:2001:DB8::1]", "[ipv6:2001:db8::1]" },
};

static void test_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(good_cases); i++) {
        const struct good_case *c = &good_cases[i];
        char out[IDN_DOMAIN_MAX + 1];
        size_t len = 99;
        struct idn_error err = { NULL, "" };

        if (idn_to_alabels(c->in, strlen(c->in), out, &len, &err) != 0)
            fail_msg("\"%s\": refused: %s", c->in, err.text);
        if (strcmp(out, c->out) != 0)
            fail_msg("\"%s\": \"%s\", expected \"%s\"", c->in, out, c->out);
        assert_int_equal(len, strlen(c->out));
    }
}

struct bad_case {
    const char *in;
    const char *reason;   /* err.reason, exactly */
    const char *text;     /* err.text, exactly; NULL: same as reason */
};

static const struct bad_case bad_cases[] = {
    /* Invalid punycode: an xn-- label must decode. */
    { "xn--zz.example", "string contains invalid punycode data",
      "\"xn--zz\" is not a valid A-label: string contains invalid punycode data" },
    { "mail.xn--zz--.example", "string contains invalid punycode data",
      "\"xn--zz--\" is not a valid A-label: string contains invalid punycode data" },
    { "xn--.example", "string contains invalid punycode data",
      "\"xn--\" is not a valid A-label: string contains invalid punycode data" },
    { "XN--ZZ.example", "string contains invalid punycode data",
      "\"XN--ZZ\" is not a valid A-label: string contains invalid punycode data" },
    /* An A-label that decodes to what IDNA2008 does not allow (an emoji). */
    { "xn--ls8h.example", "string contains a disallowed character",
      "\"xn--ls8h\" is not a valid A-label: string contains a disallowed character" },
    /* Invalid characters. */
    { "\xf0\x9f\x92\xa9.example", "string contains a disallowed character",
      "\"\xf0\x9f\x92\xa9\" is not a valid international domain label: string contains a disallowed character" },
    { "b\xfc" "cher.example", "string encoding error",
      "\"b\xfc" "cher\" is not a valid international domain label: string encoding error" },
    { "b\xc3\xbc" "cher-.example", "string start/ends with forbidden hyphen",
      "\"b\xc3\xbc" "cher-\" is not a valid international domain label: string start/ends with forbidden hyphen" },
    { "a_b.b\xc3\xbc" "cher.example", "invalid character in domain",
      "invalid character in domain (as A-labels: \"a_b.xn--bcher-kva.example\")" },
    { "a b.example", "invalid character in domain", NULL },
    /* Empty labels and names, with and without the trailing dot. */
    { "", "empty domain", NULL },
    { ".", "empty domain", NULL },
    { "example.org..", "empty or malformed domain label", NULL },
    { "b\xc3\xbc" "cher..example", "empty or malformed domain label",
      "empty or malformed domain label (as A-labels: \"xn--bcher-kva..example\")" },
    { "[192.0.2.1].", "unterminated address literal", NULL },
};

static void test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        char out[IDN_DOMAIN_MAX + 1];
        size_t len = 99;
        struct idn_error err = { NULL, "" };

        if (idn_to_alabels(c->in, strlen(c->in), out, &len, &err) == 0)
            fail_msg("\"%s\": accepted as \"%s\"", c->in, out);
        if (err.reason == NULL || strcmp(err.reason, c->reason) != 0)
            fail_msg("\"%s\": reason \"%s\", expected \"%s\"", c->in, err.reason ? err.reason : "(none)", c->reason);
        if (strcmp(err.text, c->text ? c->text : c->reason) != 0)
            fail_msg("\"%s\": text \"%s\", expected \"%s\"", c->in, err.text, c->text ? c->text : c->reason);
        /* Nothing half-converted is left for a careless caller. */
        assert_string_equal(out, "");
        assert_int_equal(len, 0);
    }
}

/* count labels of "a" x pad then u-umlaut, joined by dots, into buf. */
static size_t make_idn(char *buf, size_t size, int count, size_t pad)
{
    size_t n = 0;

    for (int i = 0; i < count; i++) {
        assert_true(n + pad + 4 < size);
        if (i > 0)
            buf[n++] = '.';
        memset(buf + n, 'a', pad);
        n += pad;
        memcpy(buf + n, "\xc3\xbc", 2);
        n += 2;
    }
    buf[n] = '\0';
    return n;
}

/*
 * The A-label form is longer than the name as written: a name of fewer
 * than 255 octets in UTF-8 can be too long once converted, and a label of
 * fewer than 63 can outgrow its bound. Both are refused.
 */
static void test_lengths(void **state)
{
    char in[IDN_INPUT_MAX + 64], out[IDN_DOMAIN_MAX + 1];
    size_t n, len;
    struct idn_error err = { NULL, "" };

    (void)state;
    /* Four labels of 46 'a' and a u-umlaut: 54 octets each as A-labels, 219 in all. */
    n = make_idn(in, sizeof in, 4, 46);
    assert_int_equal(idn_to_alabels(in, n, out, &len, &err), 0);
    assert_int_equal(len, 4 * 54 + 3);
    assert_int_equal(strncmp(out, "xn--aaaa", 8), 0);

    /* Five: 244 octets as written, 274 as A-labels. */
    n = make_idn(in, sizeof in, 5, 46);
    assert_true(n <= 255);
    assert_int_equal(idn_to_alabels(in, n, out, &len, &err), -1);
    assert_string_equal(err.reason, "domain longer than 255 octets");
    assert_string_equal(err.text, "domain longer than 255 octets as A-labels");

    /* One label of 58 octets as written, 64 as an A-label. */
    n = make_idn(in, sizeof in, 1, 56);
    assert_true(n < 63);
    assert_int_equal(idn_to_alabels(in, n, out, &len, &err), -1);
    assert_non_null(err.reason);
    assert_string_equal(out, "");

    /* One 'a' less fits exactly: 4 + 55 + 1 + 3 = 63 octets. */
    n = make_idn(in, sizeof in, 1, 55);
    if (idn_to_alabels(in, n, out, &len, &err) != 0)
        fail_msg("a 63-octet A-label refused: %s", err.text);
    assert_int_equal(len, 63);

    /* Past the input bound nothing reaches libidn2. */
    memset(in, 'a', IDN_INPUT_MAX + 1);
    memcpy(in, "\xc3\xbc", 2);
    assert_int_equal(idn_to_alabels(in, IDN_INPUT_MAX + 1, out, &len, &err), -1);
    assert_string_equal(err.reason, "domain longer than 255 octets");

    /* A NUL byte is refused, even inside an address literal. */
    assert_int_equal(idn_to_alabels("[IPv6:::\0\0]", 12, out, &len, &err), -1);
    assert_string_equal(err.reason, "NUL byte in domain");
    assert_int_equal(idn_to_alabels("b\xc3\xbc" "cher\0.example", 15, out, &len, &err), -1);
    assert_string_equal(err.reason, "NUL byte in domain");

    /* Only len bytes are read. */
    assert_int_equal(idn_to_alabels("b\xc3\xbc" "cher.example.org", 15, out, &len, &err), 0);
    assert_string_equal(out, "xn--bcher-kva.example");
}

static void test_is_international(void **state)
{
    (void)state;
    assert_false(idn_is_international("example.org", 11));
    assert_false(idn_is_international("ab--cd.example", 14));
    assert_false(idn_is_international("axn--b.example", 14)); /* xn-- not at a label start */
    assert_true(idn_is_international("xn--bcher-kva.example", 21));
    assert_true(idn_is_international("mail.XN--bcher-kva.example", 26));
    assert_true(idn_is_international("b\xc3\xbc" "cher.example", 15));
    assert_false(idn_is_international("xn-", 3));
}

/* The parsers that clients' input goes through keep A-labels, or refuse. */
static void test_address_and_helo(void **state)
{
    struct address a;
    struct helo_info h;
    const char *error = NULL;
    const char *helo_bad = "mail.xn--zz.example";
    const char *path = "<J\xc3\xb6rg@B\xc3\xbc" "cher.Example.>";
    const char *helo_good = "MAIL.B\xc3\x9c" "CHER.example.";

    (void)state;
    assert_int_equal(address_parse(path, strlen(path), &a, &error), 0);
    assert_string_equal(a.domain, "xn--bcher-kva.example");
    assert_string_equal(a.local, "J\xc3\xb6rg"); /* the local part is left as it is */
    assert_string_equal(a.full, "J\xc3\xb6rg@xn--bcher-kva.example");
    address_free(&a);

    assert_int_equal(address_parse("<u@xn--zz.example>", 18, &a, &error), -1);
    assert_string_equal(error, "string contains invalid punycode data");
    assert_null(a.full);

    helo_classify(helo_good, strlen(helo_good), &h);
    assert_true(h.valid);
    assert_true(h.fqdn);
    assert_string_equal(h.domain, "mail.xn--bcher-kva.example");
    assert_int_equal(h.domain_len, strlen("mail.xn--bcher-kva.example"));

    helo_classify(helo_bad, strlen(helo_bad), &h);
    assert_false(h.valid);
    assert_false(h.fqdn);
    assert_string_equal(h.domain, "");
    assert_int_equal(h.domain_len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_is_international),
        cmocka_unit_test(test_address_and_helo),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
