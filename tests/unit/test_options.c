/*
 * test_options.c: the daemon's command line and settings file
 * (milter/options.c, milter/conffile.c).
 *
 * The option table makes getopt_long's tables, the settings file's names,
 * the defaults and --help: these tests pin what an admin sees of it. Every
 * option --help lists is accepted (with its argument or without, as --help
 * says), each sets its own field, the defaults are the ones --help shows,
 * and every mistake gives the message and the status it always gave. The
 * settings file: each mistake as FILE:LINE:COL, the command line over the
 * file, the origin of each setting, and -n -v's listing read back.
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

#include "milter/conffile.h"
#include "milter/options.h"

#define ARGS_MAX 80

struct parsed {
    struct options o;
    enum options_result result;
    char out[8192]; /* what it printed on stdout */
    char err[8192]; /* and on stderr */
};

/* Run fd's output into a scratch file while options_parse runs. */
static void slurp(FILE *f, char *buf, size_t size)
{
    size_t n;

    rewind(f);
    n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void parse_argv(struct parsed *p, int argc, char **argv)
{
    FILE *out = tmpfile(), *err = tmpfile();
    int saved_out = dup(1), saved_err = dup(2);

    assert_non_null(out);
    assert_non_null(err);
    fflush(stdout);
    dup2(fileno(out), 1);
    dup2(fileno(err), 2);
    p->result = options_parse(argc, argv, &p->o);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    slurp(out, p->out, sizeof p->out);
    slurp(err, p->err, sizeof p->err);
}

/* mxguard ARGS... (NULL-terminated) */
static void parse(struct parsed *p, ...)
{
    char *argv[ARGS_MAX + 2] = {"mxguard"};
    int argc = 1;
    va_list ap;
    const char *a;

    va_start(ap, p);
    while ((a = va_arg(ap, const char *)) != NULL && argc <= ARGS_MAX)
        argv[argc++] = (char *)a;
    va_end(ap);
    assert_null(a);
    parse_argv(p, argc, argv);
}

/* mxguard OPTION VALUE, n times */
static void parse_repeated(struct parsed *p, const char *option, const char *value, int n)
{
    char *argv[ARGS_MAX + 2] = {"mxguard"};
    int argc = 1;

    assert_true(2 * n <= ARGS_MAX);
    for (int i = 0; i < n; i++) {
        argv[argc++] = (char *)option;
        argv[argc++] = (char *)value;
    }
    parse_argv(p, argc, argv);
}

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

/* ---- the settings file ---------------------------------------------------------- */

static char conf_path[64];

/* A settings file holding len bytes of text (NULs and all); its path in conf_path. */
static const char *write_conf_n(const char *text, size_t len)
{
    int fd;

    strcpy(conf_path, "/tmp/test_options.XXXXXX");
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
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_each_option_sets_its_field),
        cmocka_unit_test(test_dns_options),
        cmocka_unit_test(test_summary_options),
        cmocka_unit_test(test_bad_values_and_their_messages),
        cmocka_unit_test(test_repeatable_options_have_bounds),
        cmocka_unit_test(test_help_lists_every_option_and_each_is_accepted),
        cmocka_unit_test(test_help_shows_the_defaults_in_force),
        cmocka_unit_test(test_conf_sets_each_kind_of_option),
        cmocka_unit_test(test_conf_command_line_wins),
        cmocka_unit_test(test_conf_mistakes_with_their_positions),
        cmocka_unit_test(test_conf_not_text),
        cmocka_unit_test(test_conf_missing_file),
        cmocka_unit_test(test_conf_listing_reads_back),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
