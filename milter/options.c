/*
 * options.c: the daemon's command-line options and their parser.
 *
 * Every option is described once, in descs[] below: its name, short
 * letter, argument, default, help line and setter. getopt_long's tables,
 * the defaults and the --help text are all made from it, so they cannot
 * drift apart; a new option is one row (and a setter when none fits).
 *
 * Must never exit(): a bad option is a message on stderr and
 * OPTIONS_USAGE, and main() decides the exit status.
 */
#include "milter/options.h"

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter/listen_addr.h"
#include "policy/content/spool.h"
#include "policy/state/store.h"

#define OPTION_DONE 1 /* a setter's "exit 0 now" (--help, --version) */

struct option_desc;

/* Reads arg into *o: 0; OPTION_DONE; or -1 after a message on stderr. */
typedef int option_set_fn(struct options *o, const struct option_desc *d, const char *arg);

struct option_desc {
    const char *name;         /* --name */
    int letter;               /* -l, or 0 for a long option only */
    const char *arg;          /* the argument's name in --help; NULL: the option takes none */
    const char *default_text; /* set as if given before the command line; NULL: zero */
    const char *doc;          /* one line for --help; its "%s" shows the default */
    option_set_fn *set;
    size_t offset, size;  /* the field in struct options that set writes */
    long min, max;        /* a number's range */
    const char *expected; /* what a bad argument should have looked like */
    bool asks_dns;        /* given, it makes dns_given true: DNS was asked for */
};

static option_set_fn set_string, set_flag, set_count, set_decimal, set_octal, set_restart, set_macro,
    set_forwarder, set_dns_mode, set_host_name, set_store, set_day, set_listen, show_help, show_version;

#define FIELD(f) .offset = offsetof(struct options, f), .size = sizeof(((struct options *)0)->f)
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* clang-format off */
/* One option a row: getopt_long's tables, the defaults and --help come from here. */
static const struct option_desc descs[] = {
    {.name = "config", .letter = 'c', .arg = "FILE", .default_text = OPTIONS_DEFAULT_CONFIG,
     .doc = "rule file (default %s)", .set = set_string, FIELD(config)},
    {.name = "socket", .letter = 'p', .arg = "SPEC", .default_text = OPTIONS_DEFAULT_SOCKET,
     .doc = "milter socket: unix:/path, local:/path, inet:PORT@HOST, inet6:PORT@HOST (default %s)",
     .set = set_string, FIELD(socket)},
    {.name = "foreground", .letter = 'f', .doc = "stay in the foreground and log to stderr",
     .set = set_flag, FIELD(foreground)},
    {.name = "check", .letter = 'n', .doc = "load and check the rule file, print every problem, exit 0 or 1",
     .set = set_flag, FIELD(check)},
    {.name = "user", .letter = 'u', .arg = "USER[:GROUP]",
     .doc = "drop privileges to USER (and GROUP) after opening the socket", .set = set_string, FIELD(user)},
    {.name = "pidfile", .letter = 'P', .arg = "FILE", .doc = "write the supervisor's process id to FILE",
     .set = set_string, FIELD(pidfile)},
    {.name = "records", .arg = "FILE",
     .doc = "also write each decision record as a JSON line to FILE (reopened on SIGUSR1)",
     .set = set_string, FIELD(records)},
    {.name = "no-record-log", .doc = "do not log decision records (with --records they still go to its file)",
     .set = set_flag, FIELD(no_record_log)},
    {.name = "dmarc-history", .arg = "FILE",
     .doc = "append DMARC aggregate-report data to FILE in the format opendmarc-import reads "
            "(reopened on SIGUSR1)", .set = set_string, FIELD(dmarc_history)},
    {.name = "chroot", .letter = 'r', .arg = "DIR", .doc = "chroot to DIR before dropping privileges",
     .set = set_string, FIELD(chroot_dir)},
    {.name = "umask", .arg = "MODE", .default_text = "0117",
     .doc = "umask for creating the unix socket (default %s: owner and group may connect)",
     .set = set_octal, FIELD(umask), .min = 0, .max = 0777, .expected = "an octal mode like 0117"},
    {.name = "allow-root", .doc = "keep running as root when no --user is given (not recommended)",
     .set = set_flag, FIELD(allow_root)},
    {.name = "restart-limit", .arg = "N/SECONDS", .default_text = "5/60",
     .doc = "back off restarts (up to 60 s) past N filter deaths within SECONDS (default %s)",
     .set = set_restart, .expected = "N/SECONDS like 5/60"},
    {.name = "milter-timeout", .arg = "SECONDS", .default_text = "7210",
     .doc = "how long to wait for the MTA on the milter socket (default %s)",
     .set = set_decimal, FIELD(milter_timeout), .min = 1, .max = 86400, .expected = "seconds (1 to 86400)"},
    {.name = "test-session", .arg = "ADDR",
     .doc = "read an SMTP dialogue on stdin as if from client ADDR and print the replies",
     .set = set_string, FIELD(test_session)},
    {.name = "client-name", .arg = "NAME", .doc = "with --test-session: the client host name",
     .set = set_string, FIELD(test_client_name)},
    {.name = "auth-user", .arg = "USER", .doc = "with --test-session: the SMTP AUTH user",
     .set = set_string, FIELD(test_auth_user)},
    {.name = "macro", .arg = "NAME=VALUE",
     .doc = "with --test-session: an MTA macro, e.g. {tls_version}=TLSv1.3 (repeatable)",
     .set = set_macro, .expected = "NAME=VALUE (at most 32)"},
    {.name = "later", .arg = "SECONDS",
     .doc = "with --test-session: as if SECONDS had passed (greylisting, rate limits)",
     .set = set_decimal, FIELD(test_later), .min = 0, .max = 10L * 366 * 86400,
     .expected = "seconds (0 to 10 years)"},
    {.name = "summary", .doc = "report on the decision records in the files named after the options "
            "(logs or --records JSON; none or -: standard input)", .set = set_flag, FIELD(summary)},
    {.name = "rule", .arg = "REF", .doc = "with --summary: only records where this rule decided "
            "(label, file:line or the whole ref)", .set = set_string, FIELD(summary_rule)},
    {.name = "day", .arg = "DAY", .doc = "with --summary: only records of DAY (UTC): today, yesterday "
            "or YYYY-MM-DD", .set = set_day, FIELD(summary_day), .expected = "today, yesterday or YYYY-MM-DD"},
    {.name = "dns", .arg = "ADDR[@PORT]",
     .doc = "ask this DNS server (a forwarder); repeatable; means --dns-mode forward",
     .set = set_forwarder, .asks_dns = true},
    {.name = "dns-mode", .arg = "MODE", .default_text = "system",
     .doc = "%s (resolv.conf, the default), forward (with --dns) or recursive",
     .set = set_dns_mode, .expected = "system, forward or recursive", .asks_dns = true},
    {.name = "dns-trust-anchor", .arg = "FILE",
     .doc = "validate DNSSEC with this trust anchor file (bogus answers fail temporarily)",
     .set = set_string, FIELD(dns.trust_anchor), .asks_dns = true},
    {.name = "dns-timeout", .arg = "MS", .default_text = "5000",
     .doc = "how long one round of DNS questions may take (default %s)",
     .set = set_decimal, FIELD(dns.query_timeout_ms), .min = 100, .max = 60000,
     .expected = "milliseconds (100 to 60000)"},
    {.name = "dns-budget", .arg = "MS", .default_text = "10000",
     .doc = "how long one SMTP stage may wait for DNS in all (default %s)",
     .set = set_decimal, FIELD(dns_budget_ms), .min = 100, .max = 60000,
     .expected = "milliseconds (100 to 60000)"},
    {.name = "authserv-id", .arg = "NAME",
     .doc = "our name in Authentication-Results and Received-SPF headers (default: the host name)",
     .set = set_host_name, FIELD(authserv_id), .min = 1, .max = 255,
     .expected = "a host name like mx.example.org"},
    {.name = "dkim-max-signatures", .arg = "N", .default_text = "5",
     .doc = "DKIM signatures evaluated per message, the rest ignored (default %s)",
     .set = set_decimal, FIELD(dkim_max_signatures), .min = 1, .max = 8, .expected = "1 to 8"},
    {.name = "dkim-min-key-bits", .arg = "BITS", .default_text = "1024",
     .doc = "RSA keys shorter than this give dkim=policy (default %s)",
     .set = set_decimal, FIELD(dkim_min_key_bits), .min = 512, .max = 16384,
     .expected = "bits (512 to 16384)"},
    {.name = "store", .arg = "NAME=VALUE",
     .doc = "a state store setting for greylisting and rate limits, e.g. backend=redis (repeatable; "
            "see mxguard(8))",
     .set = set_store},
    {.name = "metrics-listen", .arg = "ADDR",
     .doc = "serve Prometheus metrics on ADDR: IP:PORT, [IPv6]:PORT or PORT (127.0.0.1); off by default",
     .set = set_listen, FIELD(metrics_listen),
     .expected = "127.0.0.1:PORT, [::1]:PORT or a PORT"},
    {.name = "stats", .doc = "print the running daemon's counters, from its --metrics-listen endpoint "
                             "(default " LISTEN_ADDR_DEFAULT ")",
     .set = set_flag, FIELD(stats)},
    {.name = "spool-dir", .arg = "DIR", .default_text = SPOOL_DEFAULT_DIR,
     .doc = "where messages larger than 256 KiB are kept, unlinked, while rules look inside them "
            "(created 0700; default %s)", .set = set_string, FIELD(spool_dir)},
    {.name = "verbose", .letter = 'v', .doc = "log more; with -n, print the rules as understood",
     .set = set_count, FIELD(verbose)},
    {.name = "version", .letter = 'V', .doc = "print the version and exit", .set = show_version},
    {.name = "help", .letter = 'h', .doc = "print this help and exit", .set = show_help},
};
/* clang-format on */
#define NDESCS (sizeof descs / sizeof descs[0])
#define LONG_ONLY 256 /* getopt_long's value for descs[i] without a letter: LONG_ONLY + i */

/* ---- --help -------------------------------------------------------------------- */

static void print_doc(FILE *out, const struct option_desc *d)
{
    const char *mark = d->default_text != NULL ? strstr(d->doc, "%s") : NULL;

    if (mark == NULL)
        fputs(d->doc, out);
    else
        fprintf(out, "%.*s%s%s", (int)(mark - d->doc), d->doc, d->default_text, mark + 2);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: mxguard [options]\n\n");
    for (size_t i = 0; i < NDESCS; i++) {
        const struct option_desc *d = &descs[i];
        char left[64];
        if (d->letter != 0)
            snprintf(left, sizeof left, "-%c, --%s%s%s", d->letter, d->name, d->arg ? " " : "",
                     d->arg ? d->arg : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", d->name, d->arg ? " " : "", d->arg ? d->arg : "");
        fprintf(out, "  %-32s ", left);
        print_doc(out, d);
        fputc('\n', out);
    }
    fprintf(out, "\nSignals: SIGHUP or SIGUSR1 reloads the rules, SIGTERM stops. See mxguard(8).\n");
}

static int show_help(struct options *o, const struct option_desc *d, const char *arg)
{
    (void)o, (void)d, (void)arg;
    usage(stdout);
    return OPTION_DONE;
}

static int show_version(struct options *o, const struct option_desc *d, const char *arg)
{
    (void)o, (void)d, (void)arg;
    printf("mxguard %s\n", PACKAGE_VERSION);
    return OPTION_DONE;
}

/* ---- setters ------------------------------------------------------------------- */

static void *field_of(struct options *o, const struct option_desc *d)
{
    return (char *)o + d->offset;
}

static int bad_value(const struct option_desc *d, const char *arg)
{
    fprintf(stderr, "mxguard: --%s: expected %s, found \"%s\"\n", d->name, d->expected, arg);
    return -1;
}

static int parse_base(const char *s, int base, long min, long max, long *out)
{
    char *end;
    long v = strtol(s, &end, base);

    if (*s == '\0' || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int set_string(struct options *o, const struct option_desc *d, const char *arg)
{
    *(const char **)field_of(o, d) = arg;
    return 0;
}

static int set_flag(struct options *o, const struct option_desc *d, const char *arg)
{
    (void)arg;
    *(bool *)field_of(o, d) = true;
    return 0;
}

static int set_count(struct options *o, const struct option_desc *d, const char *arg)
{
    (void)arg;
    (*(int *)field_of(o, d))++;
    return 0;
}

_Static_assert(sizeof(unsigned) == sizeof(int) && sizeof(mode_t) == sizeof(int), "number fields");

/* A number in [min, max] into a field of int, unsigned, mode_t or long. */
static int set_number(struct options *o, const struct option_desc *d, const char *arg, int base)
{
    long v;

    if (parse_base(arg, base, d->min, d->max, &v) < 0)
        return bad_value(d, arg);
    if (d->size == sizeof(long)) {
        memcpy(field_of(o, d), &v, sizeof v);
    } else {
        int n = (int)v; /* the range fits an int: the same bits as an unsigned or mode_t */
        memcpy(field_of(o, d), &n, sizeof n);
    }
    return 0;
}

static int set_decimal(struct options *o, const struct option_desc *d, const char *arg)
{
    return set_number(o, d, arg, 10);
}

static int set_octal(struct options *o, const struct option_desc *d, const char *arg)
{
    return set_number(o, d, arg, 8); /* always octal, like umask(1) */
}

static int set_restart(struct options *o, const struct option_desc *d, const char *arg)
{
    char buf[32];
    char *slash;
    long n, w;

    if (strlen(arg) >= sizeof buf)
        return bad_value(d, arg);
    strcpy(buf, arg);
    if ((slash = strchr(buf, '/')) == NULL)
        return bad_value(d, arg);
    *slash = '\0';
    if (parse_base(buf, 10, 1, 1000, &n) < 0 || parse_base(slash + 1, 10, 1, 86400, &w) < 0)
        return bad_value(d, arg);
    o->restart_max = (int)n;
    o->restart_window = (int)w;
    return 0;
}

static int set_macro(struct options *o, const struct option_desc *d, const char *arg)
{
    if (strchr(arg, '=') == NULL || o->ntest_macros == (int)COUNT(o->test_macros))
        return bad_value(d, arg);
    o->test_macros[o->ntest_macros++] = arg;
    return 0;
}

static int set_forwarder(struct options *o, const struct option_desc *d, const char *arg)
{
    if (o->dns.nforwarders == (int)COUNT(o->dns.forwarders)) {
        fprintf(stderr, "mxguard: --%s: at most 8 servers\n", d->name);
        return -1;
    }
    o->dns.forwarders[o->dns.nforwarders++] = arg;
    o->dns.mode = DNS_MODE_FORWARD;
    return 0;
}

static int set_dns_mode(struct options *o, const struct option_desc *d, const char *arg)
{
    if (strcmp(arg, "system") == 0)
        o->dns.mode = DNS_MODE_SYSTEM;
    else if (strcmp(arg, "recursive") == 0)
        o->dns.mode = DNS_MODE_RECURSIVE;
    else if (strcmp(arg, "forward") == 0)
        o->dns.mode = DNS_MODE_FORWARD;
    else
        return bad_value(d, arg);
    return 0;
}

/* min to max characters of a host name, or what looks like one. */
static int set_host_name(struct options *o, const struct option_desc *d, const char *arg)
{
    size_t n = strlen(arg);

    if (n < (size_t)d->min || n > (size_t)d->max ||
        strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != n)
        return bad_value(d, arg);
    return set_string(o, d, arg);
}

/* Checked here, so a typo is a usage error at start-up, not a log line later. */
static int set_store(struct options *o, const struct option_desc *d, const char *arg)
{
    struct store_config cfg;
    const char *error;

    store_config_init(&cfg);
    if (o->nstore_settings == (int)COUNT(o->store_settings)) {
        fprintf(stderr, "mxguard: --%s: at most 32 settings, found \"%s\"\n", d->name, arg);
        return -1;
    }
    if (store_config_set_pair(&cfg, arg, &error) < 0) {
        fprintf(stderr, "mxguard: --%s %s: %s\n", d->name, arg, error);
        return -1;
    }
    o->store_settings[o->nstore_settings++] = arg;
    return 0;
}

/* today, yesterday, or a date of the calendar as YYYY-MM-DD. */
static int set_day(struct options *o, const struct option_desc *d, const char *arg)
{
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y, m, day;

    if (strcmp(arg, "today") == 0 || strcmp(arg, "yesterday") == 0)
        return set_string(o, d, arg);
    if (strlen(arg) != 10 || strspn(arg, "0123456789-") != 10 || arg[4] != '-' || arg[7] != '-' ||
        sscanf(arg, "%4d-%2d-%2d", &y, &m, &day) != 3 || m < 1 || m > 12 || day < 1 || day > mdays[m - 1] ||
        (m == 2 && day == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0))))
        return bad_value(d, arg);
    return set_string(o, d, arg);
}

/* Checked here, so a typo is a usage error at start-up. */
static int set_listen(struct options *o, const struct option_desc *d, const char *arg)
{
    struct listen_addr a;
    const char *error;

    if (listen_addr_parse(arg, &a, &error) < 0) {
        fprintf(stderr, "mxguard: --%s: expected %s, found \"%s\" (%s)\n", d->name, d->expected, arg, error);
        return -1;
    }
    return set_string(o, d, arg);
}

/* ---- parsing ------------------------------------------------------------------- */

static void defaults(struct options *o)
{
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < NDESCS; i++) {
        const struct option_desc *d = &descs[i];
        /* The defaults are ours: a failure here is a bug tests/unit/test_options catches. */
        if (d->default_text != NULL && d->set(o, d, d->default_text) != 0)
            abort();
    }
}

static void getopt_tables(struct option longopts[NDESCS + 1], char shortopts[2 * NDESCS + 1])
{
    size_t ns = 0;

    memset(longopts, 0, (NDESCS + 1) * sizeof longopts[0]);
    for (size_t i = 0; i < NDESCS; i++) {
        longopts[i].name = descs[i].name;
        longopts[i].has_arg = descs[i].arg != NULL ? required_argument : no_argument;
        longopts[i].val = descs[i].letter != 0 ? descs[i].letter : LONG_ONLY + (int)i;
        if (descs[i].letter != 0) {
            shortopts[ns++] = (char)descs[i].letter;
            if (descs[i].arg != NULL)
                shortopts[ns++] = ':';
        }
    }
    shortopts[ns] = '\0';
}

/* The row getopt_long's answer c stands for; NULL for '?' (it said why). */
static const struct option_desc *desc_of(int c)
{
    if (c >= LONG_ONLY && c < LONG_ONLY + (int)NDESCS)
        return &descs[c - LONG_ONLY];
    for (size_t i = 0; i < NDESCS; i++)
        if (descs[i].letter != 0 && descs[i].letter == c)
            return &descs[i];
    return NULL;
}

/* What no single option can check: combinations, and words left over. */
static enum options_result check_rest(int argc, char **argv, struct options *o)
{
    if (o->dns.mode == DNS_MODE_FORWARD && o->dns.nforwarders == 0) {
        fprintf(stderr, "mxguard: --dns-mode forward needs --dns ADDR[@PORT]\n");
        return OPTIONS_USAGE;
    }
    if ((o->summary_rule != NULL || o->summary_day != NULL) && !o->summary) {
        fprintf(stderr, "mxguard: --rule and --day go with --summary\n");
        return OPTIONS_USAGE;
    }
    if (o->summary) {
        o->summary_files = argv + optind;
        o->nsummary_files = argc - optind;
        return OPTIONS_RUN;
    }
    if (optind < argc) {
        fprintf(stderr, "mxguard: unexpected argument \"%s\"\nTry 'mxguard --help'.\n", argv[optind]);
        return OPTIONS_USAGE;
    }
    return OPTIONS_RUN;
}

enum options_result options_parse(int argc, char **argv, struct options *o)
{
    struct option longopts[NDESCS + 1];
    char shortopts[2 * NDESCS + 1];
    int c;

    defaults(o);
    getopt_tables(longopts, shortopts);
    optind = 1;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        const struct option_desc *d = desc_of(c);
        int rc = d != NULL ? d->set(o, d, optarg) : -1;
        if (rc == OPTION_DONE)
            return OPTIONS_EXIT_OK;
        if (rc < 0) {
            fprintf(stderr, "Try 'mxguard --help'.\n");
            return OPTIONS_USAGE;
        }
        if (d->asks_dns)
            o->dns_given = true;
    }
    return check_rest(argc, argv, o);
}
