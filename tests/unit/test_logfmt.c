/*
 * test_logfmt.c: values in log lines (milter/logfmt.c) against hostile
 * text, each line parsed back by the grammar mxguard(8) documents
 * (milter/kvparse.c) into exactly the fields that were written; and the
 * parser's strictness: a line that breaks the grammar is an error. And
 * the log itself (milter/log.c): a line break handed to it, such as the
 * folding of a header value, never starts a second line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <unistd.h>

#include "milter/kvparse.h"
#include "milter/log.h"
#include "milter/logfmt.h"

/* A line as kvparse reads it: n fields, or -1 where it breaks the grammar. */
static int parse(struct kv_line *l, const char *line)
{
    const char *error;

    return kv_parse(l, line, strlen(line), &error, NULL) < 0 ? -1 : (int)l->n;
}

static const struct {
    const char *name;
    const char *value;
    size_t len;
} hostile[] = {
    { "forged fields in a HELO", "x\"y rule=ok action=accept", 0 },
    { "a forged rule in a recipient", "<\"x rule=/etc/ok.rules:1 action=continue\"@elsewhere.example>", 0 },
    { "backslashes", "a\\\" rule=x \\", 0 },
    { "CR LF", "line one\r\nrule=forged action=accept", 0 },
    { "a NUL byte", "before\0 rule=after", 18 },
    { "NUL bytes only", "\0\0\0", 3 },
    { "8-bit bytes", "b\xc3\xbc" "cher \xff\xfe", 0 },
    { "equals signs", "a=b=c", 0 },
    { "key= inside a value", "rcpt.1.rule=/etc/ok.rules:1", 0 },
    { "a value that looks like a second field", "x rule=/etc/ok.rules:1[ok] rcpt.2.action=accept", 0 },
    { "a value that looks like a quoted field", "\" rule=\"forged\" x=\"", 0 },
    { "a value that ends the fields", "x: forged text", 0 },
    { "a value ending in a colon", "x:", 0 },
    { "escapes written out", "\\x3d\\\\\\\"", 0 },
    { "every control byte", "\x01\x02\x07\x08\t\x0b\x0c\x1b[31m\x7f", 0 },
    { "spaces only", "   ", 0 },
    { "empty", "", 0 },
    { "a plain address", "<user@example.org>", 0 },
    { "an IPv6 address ending in ::", "2001:db8::", 0 },
};

/* value written by logfmt as field "helo" between two of mxguard's own, parsed back by kvparse. */
static void check_round_trip(struct kv_line *l, const char *name, const char *value, size_t len)
{
    char esc[LOGFMT_BUF], line[4 * LOGFMT_BUF];
    size_t want = len > LOGFMT_VALUE_MAX ? LOGFMT_VALUE_MAX : len;
    int n;

    logfmt_value(value, len, esc, sizeof esc);
    snprintf(line, sizeof line, "session=1.2 helo=%s rule=/etc/mxguard/mxguard.rules:7[real] rcpt.1.action=reject",
             esc);
    assert_null(strchr(line, '\n'));
    assert_null(strchr(line, '\r'));
    n = parse(l, line);
    if (n != 4)
        fail_msg("%s: the line \"%s\" parses into %d fields", name, line, n);
    assert_null(l->text);
    assert_string_equal(l->field[0].key, "session");
    assert_string_equal(l->field[0].value, "1.2");
    assert_string_equal(l->field[1].key, "helo");
    assert_int_equal(l->field[1].len, want + (want < len ? 3 : 0));
    assert_memory_equal(l->field[1].value, value, want);
    if (want < len) /* cut: the first 300 bytes and the documented marker */
        assert_memory_equal(l->field[1].value + want, "...", 4);
    assert_string_equal(l->field[2].key, "rule");
    assert_string_equal(l->field[2].value, "/etc/mxguard/mxguard.rules:7[real]");
    assert_string_equal(l->field[3].key, "rcpt.1.action");
    assert_string_equal(l->field[3].value, "reject");
    /* The same value as the last field, followed by mxguard's own text. */
    snprintf(line, sizeof line, "stage=rcpt helo=%s: answered at the next command", esc);
    assert_int_equal(parse(l, line), 2);
    assert_int_equal(l->field[1].len, want + (want < len ? 3 : 0));
    assert_memory_equal(l->field[1].value, value, want);
    assert_non_null(l->text);
    assert_string_equal(l->text, "answered at the next command");
}

static void test_hostile_values_parse_back(void **state)
{
    struct kv_line l;

    (void)state;
    kv_line_init(&l);
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++)
        check_round_trip(&l, hostile[i].name, hostile[i].value,
                         hostile[i].len ? hostile[i].len : strlen(hostile[i].value));
    kv_line_free(&l);
}

/* 10 KB values: the first 300 bytes come back, then "..."; whatever the bytes. */
static void test_ten_kilobyte_values_parse_back_cut(void **state)
{
    static const char *const fills[] = { "a", "\n", "\"", "=", " rule=x", "\0", "\xff" };
    char *big = malloc(10240);
    struct kv_line l;

    (void)state;
    assert_non_null(big);
    kv_line_init(&l);
    for (size_t i = 0; i < sizeof fills / sizeof fills[0]; i++) {
        size_t step = fills[i][0] ? strlen(fills[i]) : 1;
        for (size_t o = 0; o < 10240; o++)
            big[o] = fills[i][o % step];
        check_round_trip(&l, fills[i], big, 10240);
    }
    kv_line_free(&l);
    free(big);
}

static void test_bare_when_safe(void **state)
{
    char out[LOGFMT_BUF];

    (void)state;
    assert_string_equal(logfmt_str("<user@example.org>", out, sizeof out), "<user@example.org>");
    assert_string_equal(logfmt_str("unknown[203.0.113.5]", out, sizeof out), "unknown[203.0.113.5]");
    assert_string_equal(logfmt_str(NULL, out, sizeof out), "-");
    assert_string_equal(logfmt_str("a b", out, sizeof out), "\"a b\"");
    assert_string_equal(logfmt_str("a=b", out, sizeof out), "\"a\\x3db\"");
    assert_string_equal(logfmt_quoted("554 5.7.1 no", out, sizeof out), "\"554 5.7.1 no\"");
}

static void test_long_values_are_cut_and_say_so(void **state)
{
    char *big = malloc(10240), out[LOGFMT_BUF], line[LOGFMT_BUF + 16];
    struct kv_line l;

    (void)state;
    assert_non_null(big);
    memset(big, '\n', 10240); /* the worst case: every byte escaped */
    logfmt_value(big, 10240, out, sizeof out);
    assert_true(strlen(out) < LOGFMT_BUF);
    assert_int_equal(strlen(out), 2 + 4 * LOGFMT_VALUE_MAX + 3);
    assert_string_equal(out + strlen(out) - 4, "...\"");
    snprintf(line, sizeof line, "v=%s", out);
    kv_line_init(&l);
    assert_int_equal(parse(&l, line), 1);
    assert_int_equal(l.field[0].len, LOGFMT_VALUE_MAX + 3);
    kv_line_free(&l);
    free(big);
}

/* Lines that break the grammar: each is an error, never a guess at what was meant. */
static const char *const malformed[] = {
    "",
    " ",
    "record",
    "record=",
    "=message",
    "Record=message",
    "record-kind=message",
    "record=message ",
    "record=message  session=1",
    " record=message",
    "record=message session",
    "record=message session=",
    "record=message session= x=1",
    "record=message helo=\"unterminated",
    "record=message helo=\"a\" x=1\"",
    "record=message helo=\"a\"b",
    "record=message helo=\"a\"x=1",
    "record=message helo=\"a\\qb\"",
    "record=message helo=\"a\\x4\"",
    "record=message helo=\"a\\xzz\"",
    "record=message helo=\"a\\\"",
    "record=message helo=\"a=b\"",
    "record=message helo=\"tab\there\"",
    "record=message helo=\"\xc3\xbc\"",
    "record=message helo=a\"b",
    "record=message helo=a\\b",
    "record=message helo=a=b",
    "record=message helo=\xff",
    "record=message helo=a\tb",
    "record=message helo=a\rb",
    "record=message helo=: text",
    "record=message helo=\"a\" : text",
    "record=message helo=\"a\":text",
};

static void test_malformed_lines_are_errors(void **state)
{
    struct kv_line l;
    const char *error;
    size_t at;

    (void)state;
    kv_line_init(&l);
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        error = NULL;
        if (kv_parse(&l, malformed[i], strlen(malformed[i]), &error, &at) != -1)
            fail_msg("\"%s\" parsed into %zu fields", malformed[i], l.n);
        assert_non_null(error);
        assert_true(at <= strlen(malformed[i]));
        assert_int_equal(l.n, 0);
    }
    /* A NUL byte in the line itself (not \x00) is no part of any value. */
    assert_int_equal(kv_parse(&l, "a=b\0c", 5, &error, &at), -1);
    assert_int_equal(at, 3);
    /* The length given is the end: nothing after it is read. */
    assert_int_equal(kv_parse(&l, "a=b c=d", 5, &error, &at), -1);
    assert_int_equal(kv_parse(&l, "a=\"b\" c=d", 4, &error, &at), -1);
    kv_line_free(&l);
}

static void test_well_formed_lines(void **state)
{
    struct kv_line l;

    (void)state;
    kv_line_init(&l);
    /* Keys with digits and dots (the decision record's numbered keys). */
    assert_int_equal(parse(&l, "record=message rcpt.12.rule=/etc/x.rules:40[relay] us.eom=500 dkim.2.domain=a.example"), 4);
    assert_string_equal(kv_get(&l, "rcpt.12.rule")->value, "/etc/x.rules:40[relay]");
    assert_string_equal(kv_get(&l, "us.eom")->value, "500");
    assert_null(kv_get(&l, "rcpt.1.rule"));
    assert_null(l.text);
    /* A bare value ending in ':' before another field keeps its colon. */
    assert_int_equal(parse(&l, "ip=2001:db8:: helo=x"), 2);
    assert_string_equal(l.field[0].value, "2001:db8::");
    assert_null(l.text);
    assert_int_equal(parse(&l, "ip=2001:db8::"), 1);
    assert_string_equal(l.field[0].value, "2001:db8::");
    /* ": " before mxguard's own text, after a bare or a quoted value. */
    assert_int_equal(parse(&l, "session=1 stage=mail action=tempfail: internal error (x=y)"), 3);
    assert_string_equal(l.field[2].value, "tempfail");
    assert_string_equal(l.text, "internal error (x=y)");
    assert_int_equal(parse(&l, "dns=\"a b\": timeout"), 1);
    assert_string_equal(l.field[0].value, "a b");
    assert_string_equal(l.text, "timeout");
    assert_int_equal(parse(&l, "x=1: "), 1);
    assert_string_equal(l.text, "");
    /* Empty quoted values, upper-case hex, escapes. */
    assert_int_equal(parse(&l, "a=\"\" b=\"\\x3D\\x00\\\\\\\"\""), 2);
    assert_int_equal(l.field[0].len, 0);
    assert_int_equal(l.field[1].len, 4);
    assert_memory_equal(l.field[1].value, "=\0\\\"", 4);
    kv_line_free(&l);
}

static void test_small_buffer_writes_nothing_unescaped(void **state)
{
    char out[16];

    (void)state;
    assert_string_equal(logfmt_str("x rule=forged", out, sizeof out), "\"\"");
}

/* What log.c wrote to stderr while fn ran, in out. */
static void capture_stderr(void (*fn)(void), char *out, size_t outsz)
{
    FILE *tmp = tmpfile();
    int saved = dup(2);
    size_t n;

    assert_non_null(tmp);
    assert_true(saved >= 0);
    fflush(stderr);
    assert_true(dup2(fileno(tmp), 2) == 2);
    fn();
    fflush(stderr);
    assert_true(dup2(saved, 2) == 2);
    close(saved);
    rewind(tmp);
    n = fread(out, 1, outsz - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
}

/* Header effects as log_edit wrote them before values went through logfmt,
   and a record line: the folding of an Authentication-Results value. */
static void log_folded_lines(void)
{
    log_info("session=1 effect=authentication-results header=Authentication-Results value=%s",
             "mx.example.org;\n\tspf=pass smtp.mailfrom=a@outside.example;\r\n\tdkim=none");
    log_warnx("Received-SPF: %s", "pass (mx.example.org: domain of a@outside.example\n\tdesignates 203.0.113.5)");
    log_info_line("record=message session=1 helo=x\ninjected=1");
}

static void count_lines(const char *text, unsigned *lines, unsigned *breaks)
{
    *lines = *breaks = 0;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '\n' && p[1] != '\0' && strncmp(p + 1, "20", 2) != 0 && strncmp(p + 1, "mxguard", 7) != 0)
            (*breaks)++; /* a line that does not start like one of ours: a record spread over two */
        *lines += *p == '\n';
    }
}

static void test_log_folding_stays_on_one_line_foreground(void **state)
{
    char out[8192];
    unsigned lines, breaks;

    (void)state;
    log_open("mxguard", true, 0);
    capture_stderr(log_folded_lines, out, sizeof out);
    count_lines(out, &lines, &breaks);
    assert_int_equal(lines, 3);
    assert_int_equal(breaks, 0);
    assert_null(strchr(out, '\r'));
    assert_null(strchr(out, '\t'));
    assert_non_null(strstr(out, "value=mx.example.org;\\x0a\\x09spf=pass smtp.mailfrom=a@outside.example;"
                                "\\x0d\\x0a\\x09dkim=none\n"));
    assert_non_null(strstr(out, "helo=x\\x0ainjected=1\n"));
}

/* Syslog mode copies its lines to stderr until the daemon detaches: the same one line each. */
static void test_log_folding_stays_on_one_line_syslog(void **state)
{
    char out[8192];
    unsigned lines, breaks;

    (void)state;
    log_open("mxguard-test", false, 0);
    log_tee_stderr(true);
    capture_stderr(log_folded_lines, out, sizeof out);
    log_tee_stderr(false);
    log_open("mxguard", true, 0);
    count_lines(out, &lines, &breaks);
    assert_int_equal(lines, 3);
    assert_int_equal(breaks, 0);
    assert_non_null(strstr(out, "mxguard: Received-SPF: pass (mx.example.org: domain of a@outside.example"
                                "\\x0a\\x09designates 203.0.113.5)\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_values_parse_back),
        cmocka_unit_test(test_ten_kilobyte_values_parse_back_cut),
        cmocka_unit_test(test_malformed_lines_are_errors),
        cmocka_unit_test(test_well_formed_lines),
        cmocka_unit_test(test_bare_when_safe),
        cmocka_unit_test(test_long_values_are_cut_and_say_so),
        cmocka_unit_test(test_small_buffer_writes_nothing_unescaped),
        cmocka_unit_test(test_log_folding_stays_on_one_line_foreground),
        cmocka_unit_test(test_log_folding_stays_on_one_line_syslog),
    };
    return cmocka_run_group_tests_name("logfmt", tests, NULL, NULL);
}
