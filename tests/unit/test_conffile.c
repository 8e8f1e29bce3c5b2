/*
 * test_conffile.c: the daemon's settings file (milter/conffile.c, read
 * through milter/options.c).
 *
 * Each mistake as FILE:LINE:COL, the command line over the file, the
 * origin of each setting, and -n -v's listing read back as a file.
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

#include "tests/unit/options_harness.h"

static char conf_path[64];

/* A settings file holding len bytes of text (NULs and all); its path in conf_path. */
static const char *write_conf_n(const char *text, size_t len)
{
    int fd;

    strcpy(conf_path, "/tmp/test_conffile.XXXXXX");
    fd = mkstemp(conf_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return conf_path;
}

static const char *write_conf(const char *text)
{
    return write_conf_n(text, strlen(text));
}

/* The setting in force for NAME's row: the nth of them (repeatable options have several). */
static const struct option_setting *setting(const struct parsed *p, const char *name, int nth)
{
    struct parsed names;
    char *line, *save = NULL;
    int row = -1, visible = 0;

    /* Rows are numbered in table order; --list-options prints them so (minus the hidden one, last). */
    parse(&names, "--list-options", NULL);
    for (line = strtok_r(names.out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char n[64], kind[16];
        assert_int_equal(sscanf(line, "%63s %15s", n, kind), 2);
        if (strcmp(kind, "alias") == 0)
            continue;
        if (strcmp(n, name) == 0)
            row = visible;
        visible++;
    }
    assert_true(row >= 0);
    for (int i = 0; i < p->o.nsettings; i++)
        if (p->o.settings[i].row == row && nth-- == 0)
            return &p->o.settings[i];
    return NULL;
}

static void test_conf_sets_each_kind_of_option(void **state)
{
    struct parsed p;
    const struct option_setting *s;

    (void)state;
    write_conf("# the gateway\n"
               "\n"
               "socket = unix:/var/spool/postfix/mxguard/mxguard.sock\n"
               "   rules=/etc/mxguard/mxguard.rules   \n"
               "umask = 0007\n"
               "dns = 192.0.2.53\n"
               "\tdns\t=\t192.0.2.54@5353 # the second\n"
               "store = backend=lmdb\n"
               "store = lmdb-path=/var/lib/mxguard/state.lmdb\n"
               "foreground = yes\n"
               "no-record-log = no\n"
               "restart-limit = 3/30\r\n"
               "records = /var/log/mx guard/records#1.jsonl   # blanks inside, a # with none before it\n");
    parse(&p, "-C", conf_path, NULL);
    unlink(conf_path);
    assert_string_equal(p.err, "");
    assert_int_equal(p.result, OPTIONS_RUN);
    assert_true(p.o.conf_read);
    assert_string_equal(p.o.socket, "unix:/var/spool/postfix/mxguard/mxguard.sock");
    assert_string_equal(p.o.config, "/etc/mxguard/mxguard.rules");
    assert_int_equal(p.o.umask, 07);
    assert_int_equal(p.o.dns.nforwarders, 2);
    assert_string_equal(p.o.dns.forwarders[1], "192.0.2.54@5353");
    assert_int_equal(p.o.dns.mode, DNS_MODE_FORWARD);
    assert_true(p.o.dns_given);
    assert_int_equal(p.o.nstore_settings, 2);
    assert_string_equal(p.o.store_settings[1], "lmdb-path=/var/lib/mxguard/state.lmdb");
    assert_true(p.o.foreground);
    assert_false(p.o.no_record_log);
    assert_int_equal(p.o.restart_max, 3);
    assert_int_equal(p.o.restart_window, 30);
    assert_string_equal(p.o.records, "/var/log/mx guard/records#1.jsonl");
    /* Where each came from: FILE:LINE:COL of its name, or the default. */
    s = setting(&p, "rules", 0);
    assert_int_equal(s->from, OPTION_FROM_FILE);
    assert_int_equal(s->line, 4);
    assert_int_equal(s->col, 4);
    s = setting(&p, "dns", 1);
    assert_int_equal(s->from, OPTION_FROM_FILE);
    assert_int_equal(s->line, 7);
    assert_int_equal(s->col, 2);
    s = setting(&p, "dns-mode", 0);
    assert_int_equal(s->from, OPTION_FROM_FILE);
    assert_string_equal(s->implied_by, "dns");
    assert_int_equal(setting(&p, "milter-timeout", 0)->from, OPTION_FROM_DEFAULT);
    assert_null(setting(&p, "user", 0));
}

static void test_conf_command_line_wins(void **state)
{
    struct parsed p;

    (void)state;
    write_conf("socket = inet:1@127.0.0.1\n"
               "dns = 192.0.2.1\n"
               "dns = 192.0.2.2\n"
               "store = backend=lmdb\n"
               "milter-timeout = 60\n"
               "foreground = no\n");
    parse(&p, "--socket", "inet:2@127.0.0.1", "--dns", "192.0.2.3", "-C", conf_path, "-f",
          "--milter-timeout=30", "--milter-timeout=40", NULL);
    assert_string_equal(p.err, "");
    assert_int_equal(p.result, OPTIONS_RUN);
    assert_string_equal(p.o.socket, "inet:2@127.0.0.1");
    assert_int_equal(setting(&p, "socket", 0)->from, OPTION_FROM_COMMAND);
    /* A repeatable option on the command line replaces the file's values, not adds to them. */
    assert_int_equal(p.o.dns.nforwarders, 1);
    assert_string_equal(p.o.dns.forwarders[0], "192.0.2.3");
    assert_int_equal(setting(&p, "dns", 0)->from, OPTION_FROM_COMMAND);
    assert_null(setting(&p, "dns", 1));
    /* ... and one it does not give keeps the file's. */
    assert_int_equal(p.o.nstore_settings, 1);
    assert_int_equal(setting(&p, "store", 0)->from, OPTION_FROM_FILE);
    assert_int_equal(p.o.milter_timeout, 40); /* the last one given */
    assert_true(p.o.foreground);              /* "no" in the file, -f on the command line */
    /* The simulator never takes the daemon's store from the file. */
    parse(&p, "-C", conf_path, "--test-session", "192.0.2.9", NULL);
    assert_int_equal(p.result, OPTIONS_RUN);
    assert_int_equal(p.o.nstore_settings, 0);
    assert_int_equal(p.o.dns.nforwarders, 2); /* the rest it takes */
    unlink(conf_path);
}

static const struct conf_case {
    const char *text;
    const char *err; /* FILE: is the settings file's path */
} conf_cases[] = {
    {"socket = x\nsockte = y\n", "FILE:2:1: unknown setting \"sockte\"; did you mean \"socket\"?\n"},
    {"  metrics-lisen = 9469\n", "FILE:1:3: unknown setting \"metrics-lisen\"; did you mean \"metrics-listen\"?\n"},
    {"frobnicate = 1\n", "FILE:1:1: unknown setting \"frobnicate\"\n"},
    {"\n\numask =   8\n", "FILE:3:11: umask: expected an octal mode like 0117, found \"8\"\n"},
    {"dns-mode = bogus\n", "FILE:1:12: dns-mode: expected system, forward or recursive, found \"bogus\"\n"},
    {"store = redis-hots=1\n", "FILE:1:9: store redis-hots=1: no such store setting\n"},
    {"metrics-listen = localhost:1\n",
     "FILE:1:18: metrics-listen: expected 127.0.0.1:PORT, [::1]:PORT or a PORT, found \"localhost:1\" "
     "(not an IPv4 address (write IPv6 as [ADDRESS]:PORT))\n"},
    {"foreground = maybe\n", "FILE:1:14: foreground: expected yes or no, found \"maybe\"\n"},
    {"authserv-id =\n", "FILE:1:14: authserv-id: expected a host name like mx.example.org, found nothing\n"},
    {"user = # nobody\n", "FILE:1:8: user: expected USER[:GROUP], found nothing\n"},
    {"socket = a\n# x\nsocket = b\n",
     "FILE:3:1: \"socket\" is set twice: here and at FILE:1:1 (only dns and store may be given more than once)\n"},
    {"socket unix:/x\n", "FILE:1:8: expected '=' after \"socket\", found 'u'\n"},
    {"socket\n", "FILE:1:7: expected '=' after \"socket\", found the end of the line\n"},
    {"socket: x\n", "FILE:1:7: expected '=' after \"socket\", found ':'\n"},
    {" = x\n", "FILE:1:2: expected a setting name like socket, found '='\n"},
    {"check = yes\n", "FILE:1:1: \"check\" cannot be set in the settings file: it is a command-line option (--check)\n"},
    {"conf = /etc/x\n", "FILE:1:1: \"conf\" cannot be set in the settings file: it is a command-line option (--conf)\n"},
    {"config = x.rules\n", "FILE:1:1: \"config\" is the command line's old name of \"rules\": write rules = FILE\n"},
    {"list-options = yes\n", "FILE:1:1: unknown setting \"list-options\"\n"},
    /* Every mistake in one run, the good lines between them taken. */
    {"umask = 9\nsocket = x\nsocket = y\nbad line\n",
     "FILE:1:9: umask: expected an octal mode like 0117, found \"9\"\n"
     "FILE:3:1: \"socket\" is set twice: here and at FILE:2:1 (only dns and store may be given more than once)\n"
     "FILE:4:5: expected '=' after \"bad\", found 'l'\n"},
};

/* s with the settings file's path for each "FILE" before a colon. */
static void expand(char *out, size_t size, const char *s)
{
    size_t n = 0;

    for (; *s != '\0' && n + 64 < size; s++) {
        if (strncmp(s, "FILE:", 5) == 0) {
            n += (size_t)snprintf(out + n, size - n, "%s", conf_path);
            s += 3;
        } else {
            out[n++] = *s;
        }
    }
    out[n] = '\0';
}

static void expect_conf_error(const char *text, size_t len, const char *err)
{
    struct parsed p;
    char want[2048];

    write_conf_n(text, len);
    parse(&p, "-C", conf_path, NULL);
    expand(want, sizeof want, err);
    unlink(conf_path);
    if (p.result != OPTIONS_BAD_CONF || strcmp(p.err, want) != 0)
        fail_msg("settings file:\n%s\nresult %d, stderr:\n%s\nexpected:\n%s", text, p.result, p.err, want);
    assert_string_equal(p.out, "");
}

static void test_conf_mistakes_with_their_positions(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof conf_cases / sizeof conf_cases[0]; i++)
        expect_conf_error(conf_cases[i].text, strlen(conf_cases[i].text), conf_cases[i].err);
}

static void test_conf_not_text(void **state)
{
    static char text[2 * CONFFILE_LINE_MAX + 64];
    size_t n;

    (void)state;
    expect_conf_error("socket = a\nuser = mx\0guard\n", 27, "FILE:2:10: a NUL byte: this is not a text file\n");
    /* The longest line is taken, one byte more is an error (the next line is still read). */
    n = (size_t)snprintf(text, sizeof text, "records = ");
    memset(text + n, 'x', CONFFILE_LINE_MAX - n);
    memcpy(text + CONFFILE_LINE_MAX, "\nsocket = a\n", 13);
    {
        struct parsed p;
        write_conf(text);
        parse(&p, "-C", conf_path, NULL);
        unlink(conf_path);
        assert_int_equal(p.result, OPTIONS_RUN);
        assert_int_equal(strlen(p.o.records), CONFFILE_LINE_MAX - 10);
    }
    text[CONFFILE_LINE_MAX] = 'x';
    memcpy(text + CONFFILE_LINE_MAX + 1, "\nsocket = \n", 12);
    expect_conf_error(text, strlen(text),
                      "FILE:1:4097: line longer than 4096 bytes\nFILE:2:10: socket: expected SPEC, found nothing\n");
}

static void test_conf_missing_file(void **state)
{
    struct parsed p;

    (void)state;
    /* Named with -C, it must be there; the default one need not be (test_defaults). */
    parse(&p, "-C", "/nonexistent/mxguard.conf", NULL);
    assert_int_equal(p.result, OPTIONS_BAD_CONF);
    assert_string_equal(p.err, "/nonexistent/mxguard.conf: cannot read the settings file: No such file or directory\n");
    parse(&p, "-C", "/", NULL);
    assert_int_equal(p.result, OPTIONS_BAD_CONF);
    assert_string_equal(p.err, "/: cannot read the settings file: Is a directory\n");
    /* --help and a bad option come first; --summary reads no settings. */
    parse(&p, "-C", "/nonexistent/mxguard.conf", "--help", NULL);
    assert_int_equal(p.result, OPTIONS_EXIT_OK);
    parse(&p, "-C", "/nonexistent/mxguard.conf", "--umask", "9", NULL);
    assert_int_equal(p.result, OPTIONS_USAGE);
    parse(&p, "-C", "/nonexistent/mxguard.conf", "--summary", NULL);
    assert_int_equal(p.result, OPTIONS_RUN);
}

/* -n -v's listing of o, with the "# origin" column cut off each line. */
static void listing(const struct options *o, char *out, size_t size, bool values_only)
{
    FILE *f = tmpfile();
    char line[512];
    size_t n = 0;

    assert_non_null(f);
    options_print_settings(o, f);
    rewind(f);
    while (fgets(line, sizeof line, f) != NULL) {
        char *mark = strstr(line, " # ");
        if (values_only && line[0] == '#')
            continue;
        if (values_only && mark != NULL)
            strcpy(mark, "\n");
        n += (size_t)snprintf(out + n, size - n, "%s", line);
    }
    fclose(f);
}

static void test_conf_listing_reads_back(void **state)
{
    struct parsed p, q;
    char first[8192], again[8192], path[64];

    (void)state;
    write_conf("socket = inet:1@127.0.0.1\ndns = 192.0.2.1\ndns = 192.0.2.2\nstore = backend=lmdb\n"
               "foreground = yes\nauthserv-id = mx.example.org\n");
    strcpy(path, conf_path);
    parse(&p, "-C", path, "--dns", "192.0.2.3", "--milter-timeout", "60", NULL);
    assert_int_equal(p.result, OPTIONS_RUN);
    listing(&p.o, first, sizeof first, false);
    assert_non_null(strstr(first, "dns = 192.0.2.3                                 # command line\n"));
    assert_non_null(strstr(first, "dns-mode = forward                              # command line, by dns\n"));
    assert_non_null(strstr(first, "#umask = 0117                                   # default\n"));
    assert_non_null(strstr(first, "#user =                                         # not set\n"));
    assert_non_null(strstr(first, "#allow-root = no                                # default\n"));
    assert_non_null(strstr(first, "foreground = yes                                # "));
    {
        char want[128];
        snprintf(want, sizeof want, "authserv-id = mx.example.org                    # %s:6\n", path);
        assert_non_null(strstr(first, want));
    }
    /* Command-line options are no settings (a bare "check" would match a path under /check/). */
    assert_null(strstr(first, "\ncheck "));
    assert_null(strstr(first, "\n#check "));
    /* Fed back as a settings file, it gives the same settings. */
    write_conf(first);
    parse(&q, "-C", conf_path, NULL);
    unlink(conf_path);
    unlink(path);
    assert_string_equal(q.err, "");
    assert_int_equal(q.result, OPTIONS_RUN);
    listing(&p.o, first, sizeof first, true);
    listing(&q.o, again, sizeof again, true);
    assert_string_equal(again, first);
    assert_int_equal(q.o.milter_timeout, 60);
    assert_int_equal(q.o.dns.nforwarders, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf_sets_each_kind_of_option),
        cmocka_unit_test(test_conf_command_line_wins),
        cmocka_unit_test(test_conf_mistakes_with_their_positions),
        cmocka_unit_test(test_conf_not_text),
        cmocka_unit_test(test_conf_missing_file),
        cmocka_unit_test(test_conf_listing_reads_back),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
