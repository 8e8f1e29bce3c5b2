/*
 * test_options.c: the daemon's command line (milter/options.c).
 *
 * The option table makes getopt_long's tables, the settings file's names,
 * the defaults and --help: these tests pin what an admin sees of it. Every
 * option --help lists is accepted (with its argument or without, as --help
 * says), each sets its own field, the defaults are the ones --help shows,
 * and every mistake gives the message and the status it always gave. The
 * settings file has its own tests (test_conffile.c).
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

static void test_defaults(void **state)
{
    struct parsed p;

    (void)state;
    parse(&p, NULL);
    assert_int_equal(p.result, OPTIONS_RUN);
    assert_string_equal(p.err, "");
    assert_string_equal(p.o.config, OPTIONS_DEFAULT_CONFIG);
    assert_string_equal(p.o.socket, OPTIONS_DEFAULT_SOCKET);
    assert_int_equal(p.o.umask, 0117);
    assert_int_equal(p.o.restart_max, 5);
    assert_int_equal(p.o.restart_window, 60);
    assert_int_equal(p.o.poison_crashes, 3);
    assert_int_equal(p.o.milter_timeout, 7210);
    assert_int_equal(p.o.dns.mode, DNS_MODE_SYSTEM);
    assert_int_equal(p.o.dns.query_timeout_ms, 5000);
    assert_int_equal(p.o.dns_budget_ms, 10000);
    assert_int_equal(p.o.dkim_max_signatures, 5);
    assert_int_equal(p.o.dkim_min_key_bits, 1024);
    assert_false(p.o.dns_given); /* the default --dns-mode is no request for DNS */
    assert_false(p.o.foreground || p.o.check || p.o.allow_root);
    assert_int_equal(p.o.verbose, 0);
    assert_null(p.o.user);
    assert_null(p.o.authserv_id);
    assert_null(p.o.test_session);
    assert_int_equal(p.o.test_later, 0);
    assert_int_equal(p.o.dns.nforwarders + p.o.ntest_macros + p.o.nstore_settings, 0);
    assert_false(p.o.summary);
    assert_null(p.o.summary_rule);
    assert_null(p.o.summary_day);
    assert_int_equal(p.o.nsummary_files, 0);
    assert_null(p.o.metrics_listen); /* no endpoint unless asked for */
    assert_false(p.o.stats);
}

/* --summary takes the words after the options as its files, in order, wherever getopt found them. */
static void test_summary_options(void **state)
{
    struct parsed p;

    (void)state;
    parse(&p, "--summary", "--rule", "relay", "--day", "yesterday", "a.log", "-", "b.jsonl", NULL);
    assert_int_equal(p.result, OPTIONS_RUN);
    assert_string_equal(p.err, "");
    assert_true(p.o.summary);
    assert_string_equal(p.o.summary_rule, "relay");
    assert_string_equal(p.o.summary_day, "yesterday");
    assert_int_equal(p.o.nsummary_files, 3);
    assert_string_equal(p.o.summary_files[0], "a.log");
    assert_string_equal(p.o.summary_files[1], "-");
    assert_string_equal(p.o.summary_files[2], "b.jsonl");

    parse(&p, "/var/log/mail.log", "--summary", "--day=2024-02-29", NULL);
    assert_int_equal(p.result, OPTIONS_RUN);
    assert_int_equal(p.o.nsummary_files, 1);
    assert_string_equal(p.o.summary_files[0], "/var/log/mail.log");
    assert_string_equal(p.o.summary_day, "2024-02-29");
    assert_null(p.o.summary_rule);

    parse(&p, "--summary", "--day", "today", NULL);
    assert_int_equal(p.result, OPTIONS_RUN);
    assert_int_equal(p.o.nsummary_files, 0); /* standard input */
    parse(&p, "--summary", "--day", "2000-02-29", NULL);
    assert_int_equal(p.result, OPTIONS_RUN);
}

static void test_each_option_sets_its_field(void **state)
{
    struct parsed p;

    (void)state;
    parse(&p, "-c", "x.rules", "--socket=inet:9999@127.0.0.1", "-f", "-n", "-u", "mx:mail", "-P",
          "/run/x.pid", "-r", "/srv/jail", "--umask", "022", "--allow-root", "--restart-limit", "3/30",
          "--milter-timeout", "60", "--test-session", "192.0.2.1", "--client-name", "c.example",
          "--auth-user", "bob", "--macro", "{tls_version}=TLSv1.3", "--macro", "a=b", "--later", "400",
          "--authserv-id", "mx.example.org", "--dkim-max-signatures", "8", "--dkim-min-key-bits", "2048",
          "--store", "backend=redis", "--store", "redis-port=6380", "-vvv", "--dns-timeout", "250",
          "--dns-budget", "300", NULL);
    assert_int_equal(p.result, OPTIONS_RUN);
    assert_string_equal(p.err, "");
    assert_string_equal(p.o.config, "x.rules");
    assert_string_equal(p.o.socket, "inet:9999@127.0.0.1");
    assert_true(p.o.foreground && p.o.check && p.o.allow_root);
    assert_string_equal(p.o.user, "mx:mail");
    assert_string_equal(p.o.pidfile, "/run/x.pid");
    assert_string_equal(p.o.chroot_dir, "/srv/jail");
    assert_int_equal(p.o.umask, 022); /* octal, like umask(1) */
    assert_int_equal(p.o.restart_max, 3);
    assert_int_equal(p.o.restart_window, 30);
    assert_int_equal(p.o.milter_timeout, 60);
    assert_string_equal(p.o.test_session, "192.0.2.1");
    assert_string_equal(p.o.test_client_name, "c.example");
    assert_string_equal(p.o.test_auth_user, "bob");
    assert_int_equal(p.o.ntest_macros, 2);
    assert_string_equal(p.o.test_macros[0], "{tls_version}=TLSv1.3");
    assert_string_equal(p.o.test_macros[1], "a=b");
    assert_int_equal(p.o.test_later, 400);
    assert_string_equal(p.o.authserv_id, "mx.example.org");
    assert_int_equal(p.o.dkim_max_signatures, 8);
    assert_int_equal(p.o.dkim_min_key_bits, 2048);
    assert_int_equal(p.o.nstore_settings, 2);
    assert_string_equal(p.o.store_settings[1], "redis-port=6380");
    assert_int_equal(p.o.verbose, 3);
    assert_int_equal(p.o.dns.query_timeout_ms, 250);
    assert_int_equal(p.o.dns_budget_ms, 300);
    assert_false(p.o.dns_given); /* timeouts alone ask for no DNS */
    assert_int_equal(p.o.dns.mode, DNS_MODE_SYSTEM);
    /* The rule file's name, and its old one. */
    parse(&p, "--rules", "new.rules", NULL);
    assert_string_equal(p.o.config, "new.rules");
    parse(&p, "--config=old.rules", NULL);
    assert_int_equal(p.result, OPTIONS_RUN);
    assert_string_equal(p.o.config, "old.rules");
    /* The largest --later: ten years of seconds, kept in a long. */
    parse(&p, "--later", "316224000", NULL);
    assert_int_equal(p.result, OPTIONS_RUN);
    assert_int_equal(p.o.test_later, 316224000L);
    /* The metrics endpoint: the three forms, and --stats. */
    parse(&p, "--metrics-listen", "127.0.0.1:9469", "--stats", NULL);
    assert_int_equal(p.result, OPTIONS_RUN);
    assert_string_equal(p.o.metrics_listen, "127.0.0.1:9469");
    assert_true(p.o.stats);
    parse(&p, "--metrics-listen", "[::1]:9470", NULL);
    assert_int_equal(p.result, OPTIONS_RUN);
    assert_string_equal(p.o.metrics_listen, "[::1]:9470");
    parse(&p, "--metrics-listen=9471", NULL);
    assert_int_equal(p.result, OPTIONS_RUN);
    assert_string_equal(p.o.metrics_listen, "9471");
    parse(&p, "--metrics-listen", "0.0.0.0:9469", NULL); /* allowed when given: the daemon warns */
    assert_int_equal(p.result, OPTIONS_RUN);
}

static void test_dns_options(void **state)
{
    struct parsed p;

    (void)state;
    parse(&p, "--dns", "192.0.2.53", "--dns", "192.0.2.54@5353", NULL);
    assert_int_equal(p.result, OPTIONS_RUN);
    assert_int_equal(p.o.dns.mode, DNS_MODE_FORWARD);
    assert_int_equal(p.o.dns.nforwarders, 2);
    assert_string_equal(p.o.dns.forwarders[1], "192.0.2.54@5353");
    assert_true(p.o.dns_given);

    parse(&p, "--dns-mode", "recursive", NULL);
    assert_int_equal(p.o.dns.mode, DNS_MODE_RECURSIVE);
    assert_true(p.o.dns_given);

    parse(&p, "--dns-trust-anchor", "/etc/unbound/root.key", NULL);
    assert_string_equal(p.o.dns.trust_anchor, "/etc/unbound/root.key");
    assert_true(p.o.dns_given);

    /* In order: a later --dns-mode overrides what --dns implied. */
    parse(&p, "--dns", "192.0.2.53", "--dns-mode", "system", NULL);
    assert_int_equal(p.result, OPTIONS_RUN);
    assert_int_equal(p.o.dns.mode, DNS_MODE_SYSTEM);

    parse(&p, "--dns-mode", "forward", NULL);
    assert_int_equal(p.result, OPTIONS_USAGE);
    assert_string_equal(p.err, "mxguard: --dns-mode forward needs --dns ADDR[@PORT]\n");
}

#define TRY "Try 'mxguard --help'.\n"

static const struct bad_case {
    const char *args[3];
    const char *err;
} bad_cases[] = {
    {{"--umask", "8"}, "mxguard: --umask: expected an octal mode like 0117, found \"8\"\n" TRY},
    {{"--umask", "1000"}, "mxguard: --umask: expected an octal mode like 0117, found \"1000\"\n" TRY},
    {{"--restart-limit", "0/60"},
     "mxguard: --restart-limit: expected N/SECONDS like 5/60, found \"0/60\"\n" TRY},
    {{"--restart-limit", "5"}, "mxguard: --restart-limit: expected N/SECONDS like 5/60, found \"5\"\n" TRY},
    {{"--poison-crashes", "0"}, "mxguard: --poison-crashes: expected 1 to 100, found \"0\"\n" TRY},
    {{"--poison-crashes", "101"}, "mxguard: --poison-crashes: expected 1 to 100, found \"101\"\n" TRY},
    {{"--milter-timeout", "86401"},
     "mxguard: --milter-timeout: expected seconds (1 to 86400), found \"86401\"\n" TRY},
    {{"--macro", "novalue"}, "mxguard: --macro: expected NAME=VALUE (at most 32), found \"novalue\"\n" TRY},
    {{"--later", "-1"}, "mxguard: --later: expected seconds (0 to 10 years), found \"-1\"\n" TRY},
    {{"--later", "316224001"},
     "mxguard: --later: expected seconds (0 to 10 years), found \"316224001\"\n" TRY},
    {{"--dns-mode", "bogus"},
     "mxguard: --dns-mode: expected system, forward or recursive, found \"bogus\"\n" TRY},
    {{"--dns-timeout", "99"},
     "mxguard: --dns-timeout: expected milliseconds (100 to 60000), found \"99\"\n" TRY},
    {{"--dns-budget", "60001"},
     "mxguard: --dns-budget: expected milliseconds (100 to 60000), found \"60001\"\n" TRY},
    {{"--authserv-id", "mx example"},
     "mxguard: --authserv-id: expected a host name like mx.example.org, found \"mx example\"\n" TRY},
    {{"--authserv-id="},
     "mxguard: --authserv-id: expected a host name like mx.example.org, found \"\"\n" TRY},
    {{"--dkim-max-signatures", "0"}, "mxguard: --dkim-max-signatures: expected 1 to 8, found \"0\"\n" TRY},
    {{"--max-sessions", "0"}, "mxguard: --max-sessions: expected a number (1 to 100000), found \"0\"\n" TRY},
    {{"--dkim-min-key-bits", "511"},
     "mxguard: --dkim-min-key-bits: expected bits (512 to 16384), found \"511\"\n" TRY},
    {{"--store", "backend"}, "mxguard: --store backend: expected NAME=VALUE\n" TRY},
    {{"--store", "redis-hots=1"}, "mxguard: --store redis-hots=1: no such store setting\n" TRY},
    {{"--metrics-listen", "localhost:9469"},
     "mxguard: --metrics-listen: expected 127.0.0.1:PORT, [::1]:PORT or a PORT, found \"localhost:9469\" "
     "(not an IPv4 address (write IPv6 as [ADDRESS]:PORT))\n" TRY},
    {{"--metrics-listen", "::1:9469"},
     "mxguard: --metrics-listen: expected 127.0.0.1:PORT, [::1]:PORT or a PORT, found \"::1:9469\" "
     "(expected ADDRESS:PORT, [IPv6]:PORT or PORT)\n" TRY},
    {{"--metrics-listen", "127.0.0.1:65536"},
     "mxguard: --metrics-listen: expected 127.0.0.1:PORT, [::1]:PORT or a PORT, found \"127.0.0.1:65536\" "
     "(expected a port from 1 to 65535)\n" TRY},
    {{"-n", "extra"}, "mxguard: unexpected argument \"extra\"\n" TRY},
    {{"--no-such-option"}, "mxguard: unrecognized option '--no-such-option'\n" TRY},
    {{"-Z"}, "mxguard: invalid option -- 'Z'\n" TRY},
    {{"-c"}, "mxguard: option requires an argument -- 'c'\n" TRY},
    {{"--umask"}, "mxguard: option '--umask' requires an argument\n" TRY},
    {{"--allow-root=yes"}, "mxguard: option '--allow-root' doesn't allow an argument\n" TRY},
    {{"--d", "1"},
     "mxguard: option '--d' is ambiguous; possibilities: '--dmarc-history' '--day' '--dns' '--dns-mode' "
     "'--dns-trust-anchor' '--dns-timeout' '--dns-budget' '--dkim-max-signatures' '--dkim-min-key-bits'\n" TRY},
    {{"--summary", "--day", "tomorrow"},
     "mxguard: --day: expected today, yesterday or YYYY-MM-DD, found \"tomorrow\"\n" TRY},
    {{"--summary", "--day", "2023-02-29"},
     "mxguard: --day: expected today, yesterday or YYYY-MM-DD, found \"2023-02-29\"\n" TRY},
    {{"--summary", "--day", "2026-13-01"},
     "mxguard: --day: expected today, yesterday or YYYY-MM-DD, found \"2026-13-01\"\n" TRY},
    {{"--summary", "--day", "2026-1-01"},
     "mxguard: --day: expected today, yesterday or YYYY-MM-DD, found \"2026-1-01\"\n" TRY},
    {{"--summary", "--day", "2026-12-0x"},
     "mxguard: --day: expected today, yesterday or YYYY-MM-DD, found \"2026-12-0x\"\n" TRY},
    {{"--rule", "relay"}, "mxguard: --rule and --day go with --summary\n"},
    {{"--day", "today", "x.log"}, "mxguard: --rule and --day go with --summary\n"},
};

static void test_bad_values_and_their_messages(void **state)
{
    struct parsed p;

    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        parse(&p, c->args[0], c->args[1], c->args[2], NULL);
        if (p.result != OPTIONS_USAGE || strcmp(p.err, c->err) != 0)
            fail_msg("mxguard %s %s: result %d, stderr:\n%s\nexpected:\n%s", c->args[0],
                     c->args[1] ? c->args[1] : "", p.result, p.err, c->err);
        assert_string_equal(p.out, "");
    }
}

static void test_repeatable_options_have_bounds(void **state)
{
    struct parsed p;

    (void)state;
    parse_repeated(&p, "--dns", "192.0.2.53", 8);
    assert_int_equal(p.result, OPTIONS_RUN);
    parse_repeated(&p, "--dns", "192.0.2.53", 9);
    assert_int_equal(p.result, OPTIONS_USAGE);
    assert_string_equal(p.err, "mxguard: --dns: at most 8 servers\n" TRY);
    parse_repeated(&p, "--macro", "a=b", 32);
    assert_int_equal(p.result, OPTIONS_RUN);
    parse_repeated(&p, "--macro", "a=b", 33);
    assert_string_equal(p.err, "mxguard: --macro: expected NAME=VALUE (at most 32), found \"a=b\"\n" TRY);
    parse_repeated(&p, "--store", "backend=lmdb", 32);
    assert_int_equal(p.result, OPTIONS_RUN);
    parse_repeated(&p, "--store", "backend=lmdb", 33);
    assert_int_equal(p.result, OPTIONS_USAGE);
    assert_string_equal(p.err, "mxguard: --store: at most 32 settings, found \"backend=lmdb\"\n" TRY);
}

/* The options --help lists: names and letters stay as admins' scripts know them. */
static const char *const documented[] = {
    "-c, --rules FILE",
    "-C, --conf FILE",
    "-p, --socket SPEC",
    "-f, --foreground",
    "-n, --check",
    "-u, --user USER[:GROUP]",
    "-P, --pidfile FILE",
    "--records FILE",
    "--no-record-log",
    "--dmarc-history FILE",
    "-r, --chroot DIR",
    "--umask MODE",
    "--allow-root",
    "--restart-limit N/SECONDS",
    "--poison-crashes N",
    "--milter-timeout SECONDS",
    "--max-sessions N",
    "--max-dns-waiting N",
    "--test-session ADDR",
    "--client-name NAME",
    "--auth-user USER",
    "--macro NAME=VALUE",
    "--later SECONDS",
    "--summary",
    "--rule REF",
    "--day DAY",
    "--dns ADDR[@PORT]",
    "--dns-mode MODE",
    "--dns-trust-anchor FILE",
    "--dns-timeout MS",
    "--dns-budget MS",
    "--authserv-id NAME",
    "--dkim-max-signatures N",
    "--dkim-min-key-bits BITS",
    "--clamd SPEC",
    "--clamd-timeout MS",
    "--store NAME=VALUE",
    "--metrics-listen ADDR",
    "--stats",
    "--spool-dir DIR",
    "-v, --verbose",
    "-V, --version",
    "-h, --help",
};

/* --NAME without its argument (and -L, its letter, if it has one): getopt_long's messages. */
static void expect_needs_argument(const char *name, char letter)
{
    char opt[48], want[160];
    struct parsed p;

    snprintf(opt, sizeof opt, "--%s", name);
    snprintf(want, sizeof want, "mxguard: option '--%s' requires an argument\n" TRY, name);
    parse(&p, opt, NULL);
    assert_int_equal(p.result, OPTIONS_USAGE);
    assert_string_equal(p.err, want);
    if (letter != 0) {
        snprintf(opt, sizeof opt, "-%c", letter);
        snprintf(want, sizeof want, "mxguard: option requires an argument -- '%c'\n" TRY, letter);
        parse(&p, opt, NULL);
        assert_string_equal(p.err, want);
    }
}

/* --NAME takes no argument: accepted before --help, refused with "=x". */
static void expect_takes_none(const char *name)
{
    char opt[48], want[160];
    struct parsed p;

    snprintf(opt, sizeof opt, "--%s", name);
    parse(&p, opt, "--help", NULL);
    assert_int_equal(p.result, OPTIONS_EXIT_OK);
    assert_string_equal(p.err, "");
    snprintf(opt, sizeof opt, "--%s=x", name);
    snprintf(want, sizeof want, "mxguard: option '--%s' doesn't allow an argument\n" TRY, name);
    parse(&p, opt, NULL);
    assert_string_equal(p.err, want);
}

/* One option line of --help: "  -c, --config FILE    doc" or "      --umask MODE   doc". */
static void check_help_line(const char *line, size_t index)
{
    char left[40], name[40];
    const char *opt;

    assert_true(index < sizeof documented / sizeof documented[0]);
    assert_true(line[34] == ' ' && line[35] != ' '); /* the help text starts in its column */
    snprintf(left, sizeof left, "%.32s", line + 2);
    for (size_t n = strlen(left); n > 0 && left[n - 1] == ' '; n--)
        left[n - 1] = '\0';
    assert_string_equal(left + (left[0] == ' ' ? 4 : 0), documented[index]);
    opt = strstr(left, "--");
    assert_int_equal(sscanf(opt + 2, "%39[^ ]", name), 1);
    if (strchr(opt, ' ') != NULL)
        expect_needs_argument(name, left[0] == '-' ? left[1] : 0);
    else
        expect_takes_none(name);
}

static void test_help_lists_every_option_and_each_is_accepted(void **state)
{
    struct parsed help, p;
    size_t n = 0;
    char *line, *save = NULL;

    (void)state;
    parse(&help, "--help", NULL);
    assert_int_equal(help.result, OPTIONS_EXIT_OK);
    assert_string_equal(help.err, "");
    assert_memory_equal(help.out, "usage: mxguard [options]\n\n", 26);
    assert_null(strstr(help.out, "%s")); /* every default filled in */
    for (line = strtok_r(help.out + 26, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "  -", 3) != 0 && strncmp(line, "      --", 8) != 0)
            break;
        check_help_line(line, n++);
    }
    assert_int_equal(n, sizeof documented / sizeof documented[0]);
    assert_non_null(line);
    assert_string_equal(line, "Signals: SIGHUP or SIGUSR1 reloads the rules, SIGTERM stops. See mxguard(8).");
    parse(&p, "-V", NULL);
    assert_int_equal(p.result, OPTIONS_EXIT_OK);
    assert_string_equal(p.out, "mxguard " PACKAGE_VERSION "\n");
}

/* The help line of --NAME, from its "--NAME " on. */
static const char *help_for(const char *help, const char *name)
{
    const char *at = strstr(help, name);

    assert_non_null(at);
    return at;
}

static void test_help_shows_the_defaults_in_force(void **state)
{
    struct parsed p;

    (void)state;
    parse(&p, "-h", NULL);
    assert_int_equal(p.result, OPTIONS_EXIT_OK);
    assert_non_null(strstr(help_for(p.out, "--socket "), "(default " OPTIONS_DEFAULT_SOCKET ")\n"));
    assert_non_null(
        strstr(help_for(p.out, "--umask "), "unix socket (default 0117: owner and group may connect)\n"));
    assert_non_null(strstr(help_for(p.out, "--restart-limit "), "SECONDS (default 5/60)\n"));
    assert_non_null(strstr(help_for(p.out, "--milter-timeout "), "socket (default 7210)\n"));
    assert_non_null(strstr(help_for(p.out, "--dns-mode "),
                           "MODE              system (resolv.conf, the default), forward"));
    assert_non_null(strstr(help_for(p.out, "--dns-timeout "), "take (default 5000)\n"));
    assert_non_null(strstr(help_for(p.out, "--dns-budget "), "in all (default 10000)\n"));
    assert_non_null(strstr(help_for(p.out, "--authserv-id "), "headers (default: the host name)\n"));
    assert_non_null(strstr(help_for(p.out, "--dkim-max-signatures "), "ignored (default 5)\n"));
    assert_non_null(strstr(help_for(p.out, "--dkim-min-key-bits "), "dkim=policy (default 1024)\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_each_option_sets_its_field),
        cmocka_unit_test(test_dns_options),
        cmocka_unit_test(test_summary_options),
        cmocka_unit_test(test_bad_values_and_their_messages),
        cmocka_unit_test(test_repeatable_options_have_bounds),
        cmocka_unit_test(test_help_lists_every_option_and_each_is_accepted),
        cmocka_unit_test(test_help_shows_the_defaults_in_force),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
