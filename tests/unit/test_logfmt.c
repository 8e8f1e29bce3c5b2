/*
 * test_logfmt.c: values in log lines (milter/logfmt.c) against hostile
 * text, each line parsed back by the grammar mxguard(8) documents into
 * exactly the fields that were written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "milter/logfmt.h"

#define FIELDS_MAX 16

struct field {
    char key[32];
    char value[LOGFMT_BUF];  /* unescaped */
    size_t len;
};

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The documented grammar: fields split by one space; returns how many, -1 if the line breaks it. */
static int parse_line(const char *line, struct field *f, int max)
{
    int n = 0;

    while (*line != '\0') {
        size_t k = strspn(line, "abcdefghijklmnopqrstuvwxyz_.");
        if (n == max || k == 0 || k >= sizeof f[n].key || line[k] != '=')
            return -1;
        memcpy(f[n].key, line, k);
        f[n].key[k] = '\0';
        line += k + 1;
        f[n].len = 0;
        if (*line == '"') {
            for (line++; *line != '"'; line++) {
                if (*line == '\0' || (unsigned char)*line < 0x20 || (unsigned char)*line >= 0x7f || *line == '=')
                    return -1;
                if (*line == '\\') {
                    line++;
                    if (*line == '"' || *line == '\\')
                        f[n].value[f[n].len++] = *line;
                    else if (*line == 'x' && hexval(line[1]) >= 0 && hexval(line[2]) >= 0) {
                        f[n].value[f[n].len++] = (char)(hexval(line[1]) * 16 + hexval(line[2]));
                        line += 2;
                    } else
                        return -1;
                } else
                    f[n].value[f[n].len++] = *line;
            }
            line++;
        } else {
            size_t b = 0;
            for (; line[b] != '\0' && line[b] != ' '; b++)
                if ((unsigned char)line[b] <= 0x20 || (unsigned char)line[b] >= 0x7f || line[b] == '"' ||
                    line[b] == '\\' || line[b] == '=')
                    return -1;
            if (b == 0)
                return -1;
            memcpy(f[n].value, line, b);
            f[n].len = b;
            line += b;
        }
        f[n].value[f[n].len] = '\0';
        n++;
        if (*line == ' ')
            line++;
        else if (*line != '\0')
            return -1;
    }
    return n;
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
    { "8-bit bytes", "b\xc3\xbc" "cher \xff\xfe", 0 },
    { "equals signs", "a=b=c", 0 },
    { "spaces only", "   ", 0 },
    { "empty", "", 0 },
    { "a plain address", "<user@example.org>", 0 },
};

static void test_hostile_values_parse_back(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        size_t len = hostile[i].len ? hostile[i].len : strlen(hostile[i].value);
        char esc[LOGFMT_BUF], line[4 * LOGFMT_BUF];
        struct field f[FIELDS_MAX];
        int n;

        logfmt_value(hostile[i].value, len, esc, sizeof esc);
        snprintf(line, sizeof line, "session=1.2 helo=%s rule=/etc/mxguard/mxguard.rules:7[real] action=reject", esc);
        assert_null(strchr(line, '\n'));
        assert_null(strchr(line, '\r'));
        n = parse_line(line, f, FIELDS_MAX);
        if (n != 4)
            fail_msg("%s: the line \"%s\" parses into %d fields", hostile[i].name, line, n);
        assert_string_equal(f[1].key, "helo");
        assert_int_equal(f[1].len, len);
        assert_memory_equal(f[1].value, hostile[i].value, len);
        assert_string_equal(f[2].key, "rule");
        assert_string_equal(f[2].value, "/etc/mxguard/mxguard.rules:7[real]");
        assert_string_equal(f[3].value, "reject");
    }
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
    char *big = malloc(10240), out[LOGFMT_BUF];
    struct field f[2];

    (void)state;
    assert_non_null(big);
    memset(big, '\n', 10240); /* the worst case: every byte escaped */
    logfmt_value(big, 10240, out, sizeof out);
    assert_true(strlen(out) < LOGFMT_BUF);
    assert_int_equal(strlen(out), 2 + 4 * LOGFMT_VALUE_MAX + 3);
    assert_string_equal(out + strlen(out) - 4, "...\"");
    {
        char line[LOGFMT_BUF + 16];
        snprintf(line, sizeof line, "v=%s", out);
        assert_int_equal(parse_line(line, f, 2), 1);
        assert_int_equal(f[0].len, LOGFMT_VALUE_MAX + 3);
    }
    free(big);
}

static void test_small_buffer_writes_nothing_unescaped(void **state)
{
    char out[16];

    (void)state;
    assert_string_equal(logfmt_str("x rule=forged", out, sizeof out), "\"\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_values_parse_back),
        cmocka_unit_test(test_bare_when_safe),
        cmocka_unit_test(test_long_values_are_cut_and_say_so),
        cmocka_unit_test(test_small_buffer_writes_nothing_unescaped),
    };
    return cmocka_run_group_tests_name("logfmt", tests, NULL, NULL);
}
