/*
 * test_spf.c: the checks made before libspf2 sees anything, and the
 * Received-SPF value (policy/auth/spf.c, policy/auth/spf_record.c, policy/auth/spf_header.c).
 *
 * Table-driven: identities that name a domain (with the domain) and those
 * that are "none" (with the reason); SPF records that pass the RFC 7208
 * syntax check (with the record libspf2 gets) and those that are
 * permerror; explanation texts; header values, good and hostile.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "policy/auth/authres.h"
#include "policy/auth/spf.h"
#include "policy/auth/spf_record.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define LABEL63 "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abc"
#define LOCAL64 "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abcdefghij" "abcd"

/* ---- identities ------------------------------------------------------------- */

struct identity_case {
    const char *helo, *sender;
    enum spf_identity id;
    const char *domain; /* NULL: refused */
    const char *why;    /* the reason when refused */
};

static const struct identity_case identity_cases[] = {
    { "mail.example.org", "user@Example.ORG", SPF_ID_MAILFROM, "example.org", NULL },
    { "mail.example.org", "user@example.org.", SPF_ID_MAILFROM, "example.org", NULL },
    { "mail.example.org", "", SPF_ID_MAILFROM, "mail.example.org", NULL },          /* null sender */
    { "mail.example.org", NULL, SPF_ID_MAILFROM, "mail.example.org", NULL },
    { "MAIL.example.org", "user@example.org", SPF_ID_HELO, "mail.example.org", NULL },
    { "h", "@example.net", SPF_ID_MAILFROM, "example.net", NULL },                  /* no local part */
    { "h", "Macro Error@example.net", SPF_ID_MAILFROM, "example.net", NULL },       /* quoted space */
    { "h", LOCAL64 "@example.net", SPF_ID_MAILFROM, "example.net", NULL },
    { "h", "u@" LABEL63 ".example", SPF_ID_MAILFROM, LABEL63 ".example", NULL },
    { "h", "u@_spf.example-1.org", SPF_ID_MAILFROM, "_spf.example-1.org", NULL },
    { "h", "u@123.example", SPF_ID_MAILFROM, "123.example", NULL },
    { "h", "a@b@example.org", SPF_ID_MAILFROM, "example.org", NULL },               /* last '@' */
    /* refused: "none" */
    { "[192.0.2.1]", "", SPF_ID_MAILFROM, NULL, "HELO is an address literal" },
    { "[192.0.2.1]", "x", SPF_ID_HELO, NULL, "HELO is an address literal" },
    { "A2345678", "", SPF_ID_MAILFROM, NULL, "not a fully qualified domain" },
    { "", "", SPF_ID_MAILFROM, NULL, "no HELO name" },
    { NULL, "", SPF_ID_HELO, NULL, "no HELO name" },
    { "192.0.2.1", "x", SPF_ID_HELO, NULL, "not a domain name" },                 /* bare address */
    { "h", "u@[192.0.2.1]", SPF_ID_MAILFROM, NULL, "sender domain is an address literal" },
    { "h", "postmaster", SPF_ID_MAILFROM, NULL, "sender without a domain" },
    { "h", "u@", SPF_ID_MAILFROM, NULL, "no domain" },
    { "h", "u@example..org", SPF_ID_MAILFROM, NULL, "empty label in the domain" },
    { "h", "u@.example.org", SPF_ID_MAILFROM, NULL, "empty label in the domain" },
    { "h", "u@a" LABEL63 ".example", SPF_ID_MAILFROM, NULL, "domain label longer than 63 octets" },
    { "h", "a" LOCAL64 "@example.net", SPF_ID_MAILFROM, NULL, "local part longer than 64 octets" },
    { "h", "j\xc3\xb6rg@example.net", SPF_ID_MAILFROM, NULL, "local part not printable ASCII" },
    { "h", "u\r\n@example.net", SPF_ID_MAILFROM, NULL, "local part not printable ASCII" },
    { "h", "u@ex\xc3\xa4mple.net", SPF_ID_MAILFROM, NULL, "domain not ASCII" },
    { "h", "u@exa mple.net", SPF_ID_MAILFROM, NULL, "not a domain name" },
    { "h", "u@example.net\n", SPF_ID_MAILFROM, NULL, "not a domain name" },
    { "h", "u@example.%{l}", SPF_ID_MAILFROM, NULL, "not a domain name" },
    { "h", "u@museum", SPF_ID_MAILFROM, NULL, "not a fully qualified domain" },
    { "h", "u@example.123", SPF_ID_MAILFROM, NULL, "not a domain name" },
};

static void test_identity(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(identity_cases); i++) {
        const struct identity_case *c = &identity_cases[i];
        char domain[SPF_DOMAIN_MAX + 1];
        const char *why = NULL;
        int rc = spf_identity_domain(c->helo, c->sender, c->id, domain, &why);
        if (c->domain != NULL) {
            if (rc != 0 || strcmp(domain, c->domain) != 0)
                fail_msg("case %zu (%s): got rc %d domain '%s' (%s)", i, c->sender, rc, domain, why);
        } else if (rc != -1 || why == NULL || strcmp(why, c->why) != 0)
            fail_msg("case %zu (%s): got rc %d why '%s', want '%s'", i, c->sender, rc, why, c->why);
    }
}

/* A domain of exactly 253 octets passes; 254 does not. */
static void test_identity_length(void **state)
{
    char sender[300], domain[SPF_DOMAIN_MAX + 1];
    const char *why;

    (void)state;
    strcpy(sender, "u@");
    for (int i = 0; i < 3; i++)
        strcat(sender, LABEL63 ".");
    strcat(sender, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghi");
    assert_int_equal(strlen(sender + 2), 253);
    assert_int_equal(spf_identity_domain("h", sender, SPF_ID_MAILFROM, domain, &why), 0);
    strcat(sender, "j");
    assert_int_equal(spf_identity_domain("h", sender, SPF_ID_MAILFROM, domain, &why), -1);
    assert_string_equal(why, "domain longer than 253 octets");
}

/* ---- records -------------------------------------------------------------------- */

struct record_case {
    const char *in;
    int family;
    const char *out; /* NULL: permerror */
};

static const struct record_case record_cases[] = {
    { "v=spf1", AF_INET, "v=spf1" },
    { "V=SPF1 -ALL", AF_INET, "v=spf1 -ALL" },
    { "v=spf1  a  mx:example.org/24//64 ~all ", AF_INET, "v=spf1 a mx:example.org/24 ~all" },
    { "v=spf1 a:example.org/24//64", AF_INET6, "v=spf1 a:example.org//64" },
    { "v=spf1 redirect=_spf.example.org a", AF_INET, "v=spf1 a redirect=_spf.example.org" },
    { "v=spf1 redirect=_spf.example.org -all", AF_INET, "v=spf1 -all" },
    { "v=spf1 exp=e.%{d} -all foo.bar-baz_1=%{l}x", AF_INET, "v=spf1 -all exp=e.%{d}" },
    { "v=spf1 exists:%{ir}.%{l1r-}.%{d2}.list.example.org", AF_INET,
      "v=spf1 exists:%{ir}.%{l1r-}.%{d2}.list.example.org" },
    { "v=spf1 include:%{d}", AF_INET, "v=spf1 include:%{d}" },
    { "v=spf1 a:macro%%percent%_%_space%-url-space.example.com", AF_INET,
      "v=spf1 a:macro%%percent%_%_space%-url-space.example.com" },
    /* prefix length 0: rewritten for libspf2 */
    { "v=spf1 ip4:192.0.2.1/0 -all", AF_INET, "v=spf1 ip4:0.0.0.0/1 ip4:128.0.0.0/1 -all" },
    { "v=spf1 -ip4:192.0.2.1/0 ?all", AF_INET, "v=spf1 -ip4:0.0.0.0/1 -ip4:128.0.0.0/1 ?all" },
    { "v=spf1 ip4:192.0.2.1/0 -all", AF_INET6, "v=spf1 -all" },
    { "v=spf1 ip6:2001:db8::/0", AF_INET6, "v=spf1 ip6:::/1 ip6:8000::/1" },
    { "v=spf1 a/0 -all", AF_INET, "v=spf1 a:%{d}" SPF_ANY_ADDRESS_LABEL "/32 -all" },
    { "v=spf1 mx:example.org./0 -all", AF_INET, "v=spf1 mx:example.org" SPF_ANY_ADDRESS_LABEL "/32 -all" },
    { "v=spf1 a/0 -all", AF_INET6, "v=spf1 a -all" },
    { "v=spf1 a//0 -all", AF_INET6, "v=spf1 a:%{d}" SPF_ANY_ADDRESS_LABEL "//128 -all" },
    /* permerror */
    { "v=spf10", AF_INET, NULL },
    { "v=spf1 a:", AF_INET, NULL },
    { "v=spf1 a:museum", AF_INET, NULL },
    { "v=spf1 a:111.222.33.44", AF_INET, NULL },
    { "v=spf1 a:abc.123", AF_INET, NULL },
    { "v=spf1 a:example.-com", AF_INET, NULL },
    { "v=spf1 a:foo-bar", AF_INET, NULL },
    { "v=spf1 a:mail.example...com", AF_INET, NULL },
    { "v=spf1 a:" "a" LABEL63 ".example.com", AF_INET, NULL },
    { "v=spf1 mx:example.com:8080", AF_INET, NULL },
    { "v=spf1 include: -all", AF_INET, NULL },
    { "v=spf1 exists:mail.example.com/24", AF_INET, NULL },
    { "v=spf1 ip4:1.2.3.4/032", AF_INET, NULL },
    { "v=spf1 ip4:1.2.3.4/33", AF_INET, NULL },
    { "v=spf1 ip4:1.2.3", AF_INET, NULL },
    { "v=spf1 ip6:2001:db8::/129", AF_INET, NULL },
    { "v=spf1 a/24//129", AF_INET, NULL },
    { "v=spf1 ptr:", AF_INET, NULL },
    { "v=spf1 all:foo", AF_INET, NULL },
    { "v=spf1 redirect:example.org", AF_INET, NULL },
    { "v=spf1 exp=a.example exp=b.example", AF_INET, NULL },
    { "v=spf1 redirect=a.example redirect=b.example", AF_INET, NULL },
    { "v=spf1 exp=", AF_INET, NULL },
    { "v=spf1 exp=-all", AF_INET, NULL },
    { "v=spf1 -all foo=%abc", AF_INET, NULL },
    { "v=spf1 -exists:%(ir).sbl.example.com", AF_INET, NULL },
    { "v=spf1 exists:%{ir.sbl.example.com", AF_INET, NULL },
    { "v=spf1 exp=%{r}.example.com", AF_INET, NULL },             /* r only in explanation text */
    { "v=spf1 exists:%{d0}.example.com", AF_INET, NULL },         /* zero parts */
    { "v=spf1 exists:%{d129}.example.com", AF_INET, NULL },       /* over 128 parts */
    { "v=spf1 exists:%{d99999999999999999999}.example.com", AF_INET, NULL },
    { "v=spf1 exists:%{s1r@}.example.com", AF_INET, NULL },       /* not a delimiter */
    { "v=spf1 =x", AF_INET, NULL },
    { "v=spf1 1x=y", AF_INET, NULL },
    { "v=spf1 +-all", AF_INET, NULL },
};

static void test_record(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(record_cases); i++) {
        const struct record_case *c = &record_cases[i];
        char out[1024];
        const char *why = NULL;
        int rc = spf_record_check(c->in, c->family, out, sizeof out, &why);
        if (c->out != NULL && (rc != 0 || strcmp(out, c->out) != 0))
            fail_msg("case %zu '%s': rc %d out '%s' (%s), want '%s'", i, c->in, rc, rc == 0 ? out : "", why,
                     c->out);
        if (c->out == NULL && (rc != -1 || why == NULL))
            fail_msg("case %zu '%s': accepted as '%s'", i, c->in, out);
    }
}

/* More than 60 terms: refused (libspf2 loses mechanisms after about 63). */
static void test_record_terms(void **state)
{
    char rec[2048] = "v=spf1", out[2048];
    const char *why;

    (void)state;
    for (int i = 0; i < 60; i++)
        strcat(rec, " ip4:192.0.2.1");
    assert_int_equal(spf_record_check(rec, AF_INET, out, sizeof out, &why), 0);
    strcat(rec, " -all");
    assert_int_equal(spf_record_check(rec, AF_INET, out, sizeof out, &why), -1);
    assert_string_equal(why, "more mechanisms than libspf2 evaluates");
    /* A rewrite that does not fit the caller's buffer is an error, never a truncation. */
    assert_int_equal(spf_record_check("v=spf1 a:example.org -all", AF_INET, out, 12, &why), -1);
}

static void test_exp_text(void **state)
{
    static const char *const good[] = { "", "See http://example.org/why?s=%{S}&i=%{I}", "%{c} %{r} %{t} %%%_%-",
                                        "Connections from %{c} not authorized.", "%{lr-}" };
    static const char *const bad[] = { "%{x}", "%", "50%", "%{l", "caf\xc3\xa9", "tab\there", "%{d0}" };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(good); i++)
        if (spf_exp_text_check(good[i]) != 0)
            fail_msg("refused: '%s'", good[i]);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        if (spf_exp_text_check(bad[i]) == 0)
            fail_msg("accepted: '%s'", bad[i]);
}

/* ---- Received-SPF ------------------------------------------------------------------ */

struct header_case {
    enum auth_result result;
    enum spf_identity id;
    const char *client, *helo, *sender, *domain, *problem;
    const char *want;
};

static const struct header_case header_cases[] = {
    { AUTH_PASS, SPF_ID_MAILFROM, "192.0.2.1", "mail.example.org", "user@example.org", "example.org", "",
      "pass (mx.test: domain of user@example.org designates 192.0.2.1 as permitted sender) client-ip=192.0.2.1;"
      " envelope-from=\"user@example.org\"; helo=mail.example.org; receiver=mx.test; identity=mailfrom;" },
    { AUTH_FAIL, SPF_ID_MAILFROM, "2001:db8::1", "mail.example.org", "", "mail.example.org", "",
      "fail (mx.test: domain of postmaster@mail.example.org does not designate 2001:db8::1 as permitted sender)"
      " client-ip=\"2001:db8::1\"; envelope-from=\"\"; helo=mail.example.org; receiver=mx.test;"
      " identity=mailfrom;" },
    { AUTH_SOFTFAIL, SPF_ID_HELO, "192.0.2.1", "mail.example.org", "a@b.example", "mail.example.org", "",
      "softfail (mx.test: domain of transitioning postmaster@mail.example.org does not designate 192.0.2.1 as"
      " permitted sender) client-ip=192.0.2.1; envelope-from=\"a@b.example\"; helo=mail.example.org;"
      " receiver=mx.test; identity=helo;" },
    { AUTH_NEUTRAL, SPF_ID_MAILFROM, "192.0.2.1", "h.example", "a@b.example", "b.example", "",
      "neutral (mx.test: 192.0.2.1 is neither permitted nor denied by domain of a@b.example) client-ip=192.0.2.1;"
      " envelope-from=\"a@b.example\"; helo=h.example; receiver=mx.test; identity=mailfrom;" },
    { AUTH_NONE, SPF_ID_HELO, "192.0.2.1", "[192.0.2.1]", "a@b.example", "", "HELO is an address literal",
      "none (mx.test: domain of postmaster@unknown does not provide an SPF record) client-ip=192.0.2.1;"
      " envelope-from=\"a@b.example\"; helo=\"[192.0.2.1]\"; receiver=mx.test; identity=helo;" },
    { AUTH_TEMPERROR, SPF_ID_MAILFROM, "192.0.2.1", "h.example", "a@b.example", "b.example",
      "timeout (b.example)",
      "temperror (mx.test: error in processing during lookup of a@b.example) client-ip=192.0.2.1;"
      " envelope-from=\"a@b.example\"; helo=h.example; receiver=mx.test; identity=mailfrom;"
      " problem=\"timeout (b.example)\";" },
    /* hostile client text: no CR/LF or controls, quotes and parentheses escaped */
    { AUTH_PERMERROR, SPF_ID_MAILFROM, "192.0.2.1", "evil\r\nX-Injected: yes", "a\"b(c)\\@b.example",
      "b.example", "bad \"record\"\n",
      "permerror (mx.test: error in processing during lookup of a\"b\\(c\\)\\\\@b.example) client-ip=192.0.2.1;"
      " envelope-from=\"a\\\"b(c)\\\\@b.example\"; helo=\"evil??X-Injected: yes\"; receiver=mx.test;"
      " identity=mailfrom; problem=\"bad \\\"record\\\"?\";" },
    { AUTH_PASS, SPF_ID_MAILFROM, "192.0.2.1", "h\xc3\xa9.example", "o'brien+tag@b.example", "b.example", "",
      "pass (mx.test: domain of o'brien+tag@b.example designates 192.0.2.1 as permitted sender)"
      " client-ip=192.0.2.1; envelope-from=\"o'brien+tag@b.example\"; helo=\"h??.example\"; receiver=mx.test;"
      " identity=mailfrom;" },
};

/* The header as one line: every fold ("\n\t") back to a space. */
static void unfold(const char *in, char *out, size_t outsz)
{
    size_t o = 0;

    for (; *in != '\0' && o + 1 < outsz; in++) {
        if (in[0] == '\n' && in[1] == '\t') {
            out[o++] = ' ';
            in++;
        } else
            out[o++] = *in;
    }
    out[o] = '\0';
}

/* Octets of the longest line of a header value, its field name counted. */
static size_t longest_line(const char *value)
{
    size_t longest = 0, line = strlen("Received-SPF: ");

    for (; *value != '\0'; value++) {
        if (*value == '\n') {
            longest = line > longest ? line : longest;
            line = 0;
        } else
            line++;
    }
    return line > longest ? line : longest;
}

static void test_received(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(header_cases); i++) {
        const struct header_case *c = &header_cases[i];
        struct spf_outcome o;
        struct ipaddr ip;
        char buf[1024], flat[1024];
        memset(&o, 0, sizeof o);
        o.result = c->result;
        o.identity = c->id;
        snprintf(o.domain, sizeof o.domain, "%s", c->domain);
        snprintf(o.problem, sizeof o.problem, "%s", c->problem);
        assert_int_equal(ipaddr_parse(c->client, &ip), 0);
        assert_int_equal(spf_received_value(&o, &ip, c->helo, c->sender, "mx.test", buf, sizeof buf), 0);
        unfold(buf, flat, sizeof flat);
        if (strcmp(flat, c->want) != 0)
            fail_msg("case %zu:\n got  %s\n want %s", i, flat, c->want);
        /* Printable ASCII; a line break only as a fold, before a tab. */
        for (const char *p = buf; *p != '\0'; p++)
            assert_true(((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f) || (p[0] == '\n' && p[1] == '\t') ||
                        (*p == '\t' && p > buf && p[-1] == '\n'));
    }
}

/* Folded before a pair that would pass 78 octets, never inside one. */
static void test_received_folding(void **state)
{
    struct spf_outcome o;
    struct ipaddr ip;
    char buf[AUTHRES_VALUE_MAX], huge[600]; /* the daemon's buffer */

    (void)state;
    memset(&o, 0, sizeof o);
    o.result = AUTH_PASS;
    o.identity = SPF_ID_MAILFROM;
    assert_int_equal(ipaddr_parse("192.0.2.1", &ip), 0);
    assert_int_equal(spf_received_value(&o, &ip, "mail.example.org", "user@example.org", "mx.test", buf, sizeof buf),
                     0);
    assert_string_equal(buf, "pass (mx.test: domain of user@example.org designates 192.0.2.1 as permitted sender)\n"
                             "\tclient-ip=192.0.2.1; envelope-from=\"user@example.org\"; helo=mail.example.org;\n"
                             "\treceiver=mx.test; identity=mailfrom;");
    /* A client's longest HELO and MAIL FROM, all quotes: every line stays
       far below RFC 5322's 998 octets. */
    memset(huge, '"', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    o.result = AUTH_PERMERROR;
    memset(o.problem, '"', sizeof o.problem - 1);
    o.problem[sizeof o.problem - 1] = '\0';
    assert_int_equal(spf_received_value(&o, &ip, huge, huge, huge, buf, sizeof buf), 0);
    if (longest_line(buf) >= 600)
        fail_msg("a line of %zu octets:\n%s", longest_line(buf), buf);
}

/* Too small a buffer: -1 and an empty string, never a cut header. */
static void test_received_small(void **state)
{
    struct spf_outcome o;
    struct ipaddr ip;
    char buf[64];
    char sender[400];

    (void)state;
    memset(&o, 0, sizeof o);
    o.result = AUTH_PASS;
    memset(sender, 'a', sizeof sender - 1);
    sender[sizeof sender - 1] = '\0';
    assert_int_equal(ipaddr_parse("192.0.2.1", &ip), 0);
    assert_int_equal(spf_received_value(&o, &ip, "h.example", "a@b.example", "mx.test", buf, sizeof buf), -1);
    assert_string_equal(buf, "");
    /* Client values are capped (256 octets each), so a huge sender still fits a 2 KB header. */
    char big[2048];
    assert_int_equal(spf_received_value(&o, &ip, sender, sender, "mx.test", big, sizeof big), 0);
    assert_true(strlen(big) < 1200);
}

/* Local submission has no client address: the header leaves client-ip out instead of crashing. */
static void test_received_without_client(void **state)
{
    struct spf_outcome o;
    char buf[512];

    (void)state;
    memset(&o, 0, sizeof o);
    o.result = AUTH_TEMPERROR;
    snprintf(o.problem, sizeof o.problem, "no client address");
    assert_int_equal(spf_received_value(&o, NULL, "h.example", "a@b.example", "mx.test", buf, sizeof buf), 0);
    assert_null(strstr(buf, "client-ip="));
    assert_non_null(strstr(buf, "problem=\"no client address\""));
    assert_non_null(strstr(buf, "envelope-from="));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity),     cmocka_unit_test(test_identity_length),
        cmocka_unit_test(test_record),       cmocka_unit_test(test_record_terms),
        cmocka_unit_test(test_exp_text),     cmocka_unit_test(test_received),
        cmocka_unit_test(test_received_folding),
        cmocka_unit_test(test_received_small), cmocka_unit_test(test_received_without_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
