/*
 * test_dmarc_from.c: the author domains of a message for DMARC, from its
 * From: field values (policy/auth/dmarc_from.c).
 *
 * Table-driven: each case is one message's From: fields, the problem
 * expected, the addresses counted and the distinct domains kept, in
 * order. Then what a table cannot say well: lengths around the window
 * and the name limits, values with NUL bytes inside their length (read
 * from a buffer without a terminator, so a read past len is seen by the
 * sanitizer build), 100 KB values, and the problem texts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/auth/dmarc_from.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define OK DMARC_FROM_OK
#define FIELDS DMARC_FROM_FIELDS
#define DOMAINS DMARC_FROM_DOMAINS
#define NO_DOMAIN DMARC_FROM_NO_DOMAIN

struct from_case {
    const char *name;
    const char *fields[3]; /* NULL-terminated */
    enum dmarc_from_problem problem;
    unsigned addresses;
    const char *domains[DMARC_FROM_DOMAINS_MAX + 1]; /* NULL-terminated */
};

static const struct from_case cases[] = {
    /* Plain forms. */
    { "plain", { "user@example.org" }, OK, 1, { "example.org" } },
    { "leading space as delivered", { " user@example.org" }, OK, 1, { "example.org" } },
    { "angle address", { "<user@example.org>" }, OK, 1, { "example.org" } },
    { "display name", { "Jane Doe <jane@example.org>" }, OK, 1, { "example.org" } },
    { "quoted local part", { "\"john doe\"@example.org" }, OK, 1, { "example.org" } },
    { "quoted local part with an @", { "\"a@evil.example\"@example.org" }, OK, 1, { "example.org" } },
    /* Quoted display names: commas and @ inside are text. */
    { "comma inside quotes", { "\"Doe, Jane\" <jane@example.org>" }, OK, 1, { "example.org" } },
    { "@ and comma inside quotes", { "\"ceo@bank.example, Inc\" <x@evil.example>" }, OK, 1, { "evil.example" } },
    { "escaped quote and comma", { "\"a \\\" b, c@d.example\" <a@example.org>" }, OK, 1, { "example.org" } },
    { "unquoted @ in display name: the angle address counts",
      { "ceo@bank.example <x@evil.example>" }, OK, 1, { "evil.example" } },
    /* Comments. */
    { "comment with @ after", { "jane@example.org (jane@other.example)" }, OK, 1, { "example.org" } },
    { "comment with comma and <> before", { "(Doe, Jane <j@other.example>) jane@example.org" },
      OK, 1, { "example.org" } },
    { "nested comments", { "jane@example.org (a (b@c.example) \\) d)" }, OK, 1, { "example.org" } },
    { "comment after the @", { "jane@(x@y.example)example.org" }, OK, 1, { "example.org" } },
    { "obsolete CFWS around a dot", { "jane@example (c) .org" }, OK, 1, { "example.org" } },
    { "comment between two addresses", { "a@example.org (x, y@z.example), b@example.org" },
      OK, 2, { "example.org" } },
    /* Groups and the obsolete forms. */
    { "group", { "friends: a@example.org, B@Example.ORG;" }, OK, 2, { "example.org" } },
    { "undisclosed group", { "undisclosed-recipients:;" }, NO_DOMAIN, 0, { NULL } },
    { "empty group then an address", { "g:;, a@example.org" }, OK, 1, { "example.org" } },
    { "quoted group name", { "\"a, b\": a@example.org;" }, OK, 1, { "example.org" } },
    { "route address", { "<@relay.example,@r2.example:user@example.org>" }, OK, 1, { "example.org" } },
    { "route address with a name", { "Jane <@r.example:jane@example.org>" }, OK, 1, { "example.org" } },
    { "empty list elements", { ", a@example.org, ," }, OK, 1, { "example.org" } },
    /* Folded lines, 8-bit display names. */
    { "folded CRLF", { "Jane Doe\r\n <jane@example.org>" }, OK, 1, { "example.org" } },
    { "folded LF and tab", { "\"Jane\"\n\t<jane@example.org>" }, OK, 1, { "example.org" } },
    { "folded inside a quoted name", { "\"Doe,\r\n Jane\" <jane@example.org>" }, OK, 1, { "example.org" } },
    { "8-bit quoted name", { "\"J\xc3\xbcrgen M\xc3\xbcller\" <j@example.de>" }, OK, 1, { "example.de" } },
    { "8-bit unquoted name", { "J\xc3\xbcrgen M\xc3\xbcller <j@example.de>" }, OK, 1, { "example.de" } },
    { "8-bit local part", { "j\xc3\xbcrgen@example.de" }, OK, 1, { "example.de" } },
    /* Domains: IDN, case, trailing dot, what is no DNS name. */
    { "U-label to A-label", { "j@b\xc3\xbc" "cher.example" }, OK, 1, { "xn--bcher-kva.example" } },
    { "U-label in upper case", { "J@B\xc3\x9c" "CHER.EXAMPLE" }, OK, 1, { "xn--bcher-kva.example" } },
    { "A-label in upper case", { "j@XN--BCHER-KVA.Example" }, OK, 1, { "xn--bcher-kva.example" } },
    { "U-label and A-label are one domain", { "a@b\xc3\xbc" "cher.example, b@xn--bcher-kva.example" },
      OK, 2, { "xn--bcher-kva.example" } },
    { "upper case", { "Jane@EXAMPLE.ORG" }, OK, 1, { "example.org" } },
    { "trailing dot", { "a@example.org." }, OK, 1, { "example.org" } },
    { "trailing dot is the same domain", { "a@example.org., b@EXAMPLE.org" }, OK, 2, { "example.org" } },
    { "two trailing dots", { "a@example.org.." }, NO_DOMAIN, 1, { NULL } },
    { "empty label", { "a@example..org" }, NO_DOMAIN, 1, { NULL } },
    { "domain literal", { "a@[192.0.2.1]" }, NO_DOMAIN, 1, { NULL } },
    { "IPv6 domain literal", { "Jane <a@[IPv6:2001:db8::1]>" }, NO_DOMAIN, 1, { NULL } },
    { "literal beside a name", { "a@[192.0.2.1], b@example.org" }, NO_DOMAIN, 2, { "example.org" } },
    { "underscore", { "a@ex_ample.org" }, NO_DOMAIN, 1, { NULL } },
    { "leading hyphen", { "a@-example.org" }, NO_DOMAIN, 1, { NULL } },
    { "invalid UTF-8 in the domain", { "a@b\xfc" "cher.example" }, NO_DOMAIN, 1, { NULL } },
    { "disallowed code point in the domain", { "a@\xf0\x9f\x92\xa9.example" }, NO_DOMAIN, 1, { NULL } },
    { "bad punycode", { "a@xn--zz.example" }, NO_DOMAIN, 1, { NULL } },
    { "space inside the domain", { "a@exa mple.org" }, NO_DOMAIN, 1, { NULL } },
    { "quoted domain", { "a@\"example.org\"" }, NO_DOMAIN, 1, { NULL } },
    /* Several addresses, several fields. */
    { "two addresses, one domain", { "a@example.org, b@EXAMPLE.org" }, OK, 2, { "example.org" } },
    { "two domains", { "a@example.org, b@example.net" }, DOMAINS, 2, { "example.org", "example.net" } },
    { "subdomain is another domain", { "a@example.org, b@mail.example.org" }, DOMAINS, 2,
      { "example.org", "mail.example.org" } },
    { "two fields", { "a@example.org", "b@example.org" }, FIELDS, 2, { "example.org" } },
    { "two fields, two domains", { "a@example.org", "b@example.net" }, FIELDS, 2,
      { "example.org", "example.net" } },
    { "FIELDS outranks DOMAINS", { "a@x.example, b@y.example", "c@x.example" }, FIELDS, 3,
      { "x.example", "y.example" } },
    { "NO_DOMAIN outranks FIELDS", { "a@example.org", "Jane" }, NO_DOMAIN, 2, { "example.org" } },
    { "NO_DOMAIN outranks DOMAINS", { "a@x.example, b@y.example, c" }, NO_DOMAIN, 3, { "x.example", "y.example" } },
    { "three fields", { "a@example.org", "a@example.org", "a@example.org" }, FIELDS, 3, { "example.org" } },
    /* No address, no domain, malformed. */
    { "empty value", { "" }, NO_DOMAIN, 0, { NULL } },
    { "white space only", { " \r\n\t" }, NO_DOMAIN, 0, { NULL } },
    { "comment only", { "(nobody@example.org)" }, NO_DOMAIN, 0, { NULL } },
    { "no @", { "Jane Doe" }, NO_DOMAIN, 1, { NULL } },
    { "no @ in angles", { "<jane>" }, NO_DOMAIN, 1, { NULL } },
    { "empty angles", { "Jane <>" }, NO_DOMAIN, 1, { NULL } },
    { "nothing after the @", { "jane@" }, NO_DOMAIN, 1, { NULL } },
    { "nothing before the @", { "@example.org" }, NO_DOMAIN, 1, { NULL } },
    { "two @", { "a@b@example.org" }, NO_DOMAIN, 1, { NULL } },
    { "route without an address", { "<@relay.example>" }, NO_DOMAIN, 1, { NULL } },
    { "unterminated quote", { "\"Jane <jane@example.org>" }, NO_DOMAIN, 1, { NULL } },
    { "unterminated comment", { "jane@example.org (oops" }, NO_DOMAIN, 1, { NULL } },
    { "unterminated angle", { "Jane <jane@example.org" }, NO_DOMAIN, 1, { NULL } },
    { "unterminated literal", { "a@[192.0.2.1" }, NO_DOMAIN, 1, { NULL } },
    { "unterminated group", { "g: a@example.org" }, NO_DOMAIN, 1, { "example.org" } },
    { "nested group", { "g: h: a@example.org;;" }, NO_DOMAIN, 1, { "example.org" } },
    { "stray semicolon", { "a@example.org;" }, NO_DOMAIN, 1, { "example.org" } },
    { "stray parenthesis", { "a@example.org)" }, NO_DOMAIN, 1, { NULL } },
    { "stray backslash", { "a\\b@example.org" }, NO_DOMAIN, 1, { NULL } },
    { "text after the angle address", { "<a@example.org> b@example.net" }, NO_DOMAIN, 1, { NULL } },
    { "two angle addresses", { "<a@example.org> <b@example.net>" }, NO_DOMAIN, 1, { NULL } },
    { "comma inside angles", { "<a@example.org, b@example.net>" }, NO_DOMAIN, 1, { NULL } },
    { "nested angles", { "<<a@example.org>>" }, NO_DOMAIN, 1, { NULL } },
    { "control character", { "a@exam\x01ple.org" }, NO_DOMAIN, 1, { NULL } },
};

static void run_case(const struct from_case *c)
{
    struct dmarc_from f;
    unsigned n = 0;

    dmarc_from_init(&f);
    for (int i = 0; i < 3 && c->fields[i] != NULL; i++)
        dmarc_from_add(&f, c->fields[i], strlen(c->fields[i]));
    dmarc_from_finish(&f);
    if (f.problem != c->problem)
        fail_msg("%s: problem %d (%s), expected %d (%s)", c->name, f.problem,
                 dmarc_from_problem_text(f.problem), c->problem, dmarc_from_problem_text(c->problem));
    if (f.addresses != c->addresses)
        fail_msg("%s: %u addresses, expected %u", c->name, f.addresses, c->addresses);
    while (n < DMARC_FROM_DOMAINS_MAX && c->domains[n] != NULL)
        n++;
    if (f.ndomains != n)
        fail_msg("%s: %u domains (first \"%s\"), expected %u", c->name, f.ndomains,
                 f.ndomains > 0 ? f.domain[0] : "", n);
    for (unsigned i = 0; i < n; i++)
        if (strcmp(f.domain[i], c->domains[i]) != 0)
            fail_msg("%s: domain %u \"%s\", expected \"%s\"", c->name, i, f.domain[i], c->domains[i]);
    assert_false(f.more_domains);
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
        run_case(&cases[i]);
}

/* A value in a buffer of exactly len bytes: a read past it is a heap overflow. */
static void add_exact(struct dmarc_from *f, const char *value, size_t len)
{
    char *copy = malloc(len > 0 ? len : 1);

    assert_non_null(copy);
    memcpy(copy, value, len);
    dmarc_from_add(f, copy, len);
    free(copy);
}

static enum dmarc_from_problem one_field(const char *value, size_t len, struct dmarc_from *f)
{
    dmarc_from_init(f);
    add_exact(f, value, len);
    dmarc_from_finish(f);
    return f->problem;
}

static void test_missing(void **state)
{
    struct dmarc_from f;

    (void)state;
    dmarc_from_init(&f);
    assert_int_equal(f.problem, DMARC_FROM_OK);
    dmarc_from_finish(&f);
    assert_int_equal(f.problem, DMARC_FROM_MISSING);
    assert_int_equal(f.fields, 0);
    assert_int_equal(f.ndomains, 0);
    /* finish after a field keeps what the field gave */
    dmarc_from_init(&f);
    dmarc_from_add(&f, "a@example.org", 13);
    dmarc_from_finish(&f);
    assert_int_equal(f.problem, DMARC_FROM_OK);
    assert_int_equal(f.fields, 1);
}

static void test_more_domains(void **state)
{
    struct dmarc_from f;
    char buf[512];
    size_t n = 0;

    (void)state;
    for (int i = 0; i < 10; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%su%d@d%d.example", i ? ", " : "", i, i);
    assert_int_equal(one_field(buf, n, &f), DMARC_FROM_DOMAINS);
    assert_int_equal(f.addresses, 10);
    assert_int_equal(f.ndomains, DMARC_FROM_DOMAINS_MAX);
    assert_true(f.more_domains);
    assert_string_equal(f.domain[0], "d0.example");
    assert_string_equal(f.domain[7], "d7.example");
    /* Eight distinct domains, then one of them again: nothing more. */
    n = 0;
    for (int i = 0; i < 9; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%su@d%d.example", i ? ", " : "", i % 8);
    assert_int_equal(one_field(buf, n, &f), DMARC_FROM_DOMAINS);
    assert_int_equal(f.ndomains, DMARC_FROM_DOMAINS_MAX);
    assert_false(f.more_domains);
}

/* A name of labels of 'a', label bytes each, total bytes in all (no trailing dot). */
static size_t make_name(char *buf, size_t label, size_t total)
{
    size_t n = 0, in_label = 0;

    while (n < total) {
        if (in_label == label && n + 1 < total) {
            buf[n++] = '.';
            in_label = 0;
        } else {
            buf[n++] = 'a';
            in_label++;
        }
    }
    buf[n] = '\0';
    return n;
}

static void test_name_limits(void **state)
{
    struct dmarc_from f;
    char name[400], value[420];
    int n;

    (void)state;
    /* A label of 63 octets is fine; 64 is not. */
    make_name(name, 63, 63);
    n = snprintf(value, sizeof value, "a@%s.example", name);
    assert_int_equal(one_field(value, (size_t)n, &f), DMARC_FROM_OK);
    assert_int_equal(strlen(f.domain[0]), 63 + 8);
    make_name(name, 64, 64);
    n = snprintf(value, sizeof value, "a@%s.example", name);
    assert_int_equal(one_field(value, (size_t)n, &f), DMARC_FROM_NO_DOMAIN);
    assert_int_equal(f.ndomains, 0);
    /* 253 octets in all is fine (with a trailing dot too); 254 is not. */
    make_name(name, 63, 253);
    n = snprintf(value, sizeof value, "<a@%s>", name);
    assert_int_equal(one_field(value, (size_t)n, &f), DMARC_FROM_OK);
    assert_int_equal(strlen(f.domain[0]), 253);
    n = snprintf(value, sizeof value, "<a@%s.>", name);
    assert_int_equal(one_field(value, (size_t)n, &f), DMARC_FROM_OK);
    make_name(name, 63, 254);
    n = snprintf(value, sizeof value, "<a@%s>", name);
    assert_int_equal(one_field(value, (size_t)n, &f), DMARC_FROM_NO_DOMAIN);
    /* A U-label name of 224 octets as written, 274 as A-labels. */
    n = 0;
    for (int i = 0; i < 25; i++)
        n += snprintf(name + n, sizeof name - (size_t)n, "%s\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc", i ? "." : "");
    n = snprintf(value, sizeof value, "a@%s", name);
    assert_int_equal(one_field(value, (size_t)n, &f), DMARC_FROM_NO_DOMAIN);
}

static void test_nul_bytes(void **state)
{
    static const struct {
        const char *v;
        size_t len;
    } nul[] = {
        { "a@exa\0mple.org", 14 },
        { "Jane\0 <a@example.org>", 21 },
        { "\"Ja\0ne\" <a@example.org>", 23 },
        { "(x\0) a@example.org", 18 },
        { "a@[192.0.2.1\0]", 14 },
        { "a@example.org\0", 14 },
    };
    struct dmarc_from f;

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(nul); i++) {
        if (one_field(nul[i].v, nul[i].len, &f) != DMARC_FROM_NO_DOMAIN)
            fail_msg("NUL case %zu: problem %d", i, f.problem);
    }
    /* Text after a NUL is read (within len): a second domain is seen. */
    one_field("a@example.org, \0, b@example.net", 31, &f);
    assert_int_equal(f.problem, DMARC_FROM_NO_DOMAIN);
    assert_int_equal(f.ndomains, 2);
    assert_string_equal(f.domain[1], "example.net");
    /* len is the end: no NUL needed, nothing past it read. */
    assert_int_equal(one_field("a@example.orgXXXX", 13, &f), DMARC_FROM_OK);
    assert_string_equal(f.domain[0], "example.org");
}

/* "a@example.org" after pad spaces: total bytes in all. */
static size_t padded(char *buf, size_t total)
{
    memset(buf, ' ', total - 13);
    memcpy(buf + total - 13, "a@example.org", 13);
    return total;
}

static void test_window(void **state)
{
    struct dmarc_from f;
    char *buf = malloc(8193);

    (void)state;
    assert_non_null(buf);
    /* The whole of an 8 KiB value is read; one byte more is not. */
    assert_int_equal(one_field(buf, padded(buf, 8192), &f), DMARC_FROM_OK);
    assert_string_equal(f.domain[0], "example.org");
    assert_int_equal(one_field(buf, padded(buf, 8193), &f), DMARC_FROM_NO_DOMAIN);
    assert_int_equal(f.ndomains, 0);
    free(buf);
}

static void test_huge(void **state)
{
    const size_t size = 100 * 1024;
    char *buf = malloc(size);
    struct dmarc_from f;
    size_t n = 0;

    (void)state;
    assert_non_null(buf);
    /* 100 KB of addresses (14 bytes each): the first ones are read, the rest is not, NO_DOMAIN. */
    for (unsigned i = 0; n + 20 < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "u@d%u.example, ", i % 7);
    assert_int_equal(one_field(buf, n, &f), DMARC_FROM_NO_DOMAIN);
    assert_int_equal(f.ndomains, 7);
    assert_int_equal(f.addresses, 8192 / 14);
    /* 100 KB of open comments, quotes, angles, atoms, @ and dots. */
    static const char fill[] = "(\"<@.a,:;[\\";
    for (size_t k = 0; k < sizeof fill - 1; k++) {
        memset(buf, fill[k], size);
        assert_int_equal(one_field(buf, size, &f), DMARC_FROM_NO_DOMAIN);
        assert_int_equal(f.ndomains, 0);
    }
    /* One 100 KB domain. */
    memcpy(buf, "a@", 2);
    memset(buf + 2, 'b', size - 2);
    assert_int_equal(one_field(buf, size, &f), DMARC_FROM_NO_DOMAIN);
    free(buf);
}

static void test_texts(void **state)
{
    (void)state;
    assert_string_equal(dmarc_from_problem_text(DMARC_FROM_OK), "");
    assert_string_equal(dmarc_from_problem_text(DMARC_FROM_MISSING), "no From: field");
    assert_string_equal(dmarc_from_problem_text(DMARC_FROM_FIELDS), "more than one From: field");
    assert_string_equal(dmarc_from_problem_text(DMARC_FROM_DOMAINS), "From: addresses of more than one domain");
    assert_string_equal(dmarc_from_problem_text(DMARC_FROM_NO_DOMAIN), "From: without a usable domain");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_more_domains),
        cmocka_unit_test(test_name_limits),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_huge),
        cmocka_unit_test(test_texts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
