/*
 * options.c: the daemon's options, from the command line and from the
 * settings file (mxguard.conf(5), read by conffile.c), and their parser.
 *
 * Every option is described once, in descs[] below: its name, short
 * letter, argument, default, help line, setter, and whether the settings
 * file may give it. getopt_long's tables, the file's names, the defaults,
 * the --help text and the settings -n -v prints are all made from it, so
 * they cannot drift apart; a new option is one row (and a setter when
 * none fits). A new row is a setting the file may give unless it says
 * .command_only.
 *
 * Must never exit(): a bad option is a message on stderr and
 * OPTIONS_USAGE (the file's: FILE:LINE:COL and OPTIONS_BAD_CONF), and
 * main() decides the exit status.
 */
#include "milter/options.h"

#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter/conffile.h"
#include "milter/listen_addr.h"
#include "policy/content/spool.h"
#include "policy/state/store.h"
#include "rules/suggest.h"

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
    const char *alias;    /* an older --name the command line still takes */
    bool command_only;    /* a command or a command's option: the settings file refuses it */
    bool repeatable;      /* the values add up; the command line's replace the file's */
    bool hidden;          /* left out of --help */
};

static option_set_fn set_string, set_flag, set_count, set_decimal, set_octal, set_restart, set_macro,
    set_forwarder, set_dns_mode, set_host_name, set_store, set_day, set_listen, show_help, show_version,
    show_names;
static int report(const struct option_desc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define FIELD(f) .offset = offsetof(struct options, f), .size = sizeof(((struct options *)0)->f)
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* clang-format off */
/* One option a row: getopt_long's tables, the settings file's names, the defaults and --help come from here. */
static const struct option_desc descs[] = {
    {.name = "rules", .letter = 'c', .arg = "FILE", .default_text = OPTIONS_DEFAULT_CONFIG,
     .doc = "rule file (default %s); --config is its old name", .set = set_string, FIELD(config),
     .alias = "config"},
    {.name = "conf", .letter = 'C', .arg = "FILE", .default_text = OPTIONS_DEFAULT_CONF,
     .doc = "settings file, name = value lines (default %s; see mxguard.conf(5))", .set = set_string,
     FIELD(conf), .command_only = true},
    {.name = "socket", .letter = 'p', .arg = "SPEC", .default_text = OPTIONS_DEFAULT_SOCKET,
     .doc = "milter socket: unix:/path, local:/path, inet:PORT@HOST, inet6:PORT@HOST (default %s)",
     .set = set_string, FIELD(socket)},
    {.name = "foreground", .letter = 'f', .doc = "stay in the foreground and log to stderr",
     .set = set_flag, FIELD(foreground)},
    {.name = "check", .letter = 'n', .doc = "check the settings and rule files, print every problem, exit 0 or 1",
     .set = set_flag, FIELD(check), .command_only = true},
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
    {.name = "poison-crashes", .arg = "N", .default_text = "3",
     .doc = "hold a message (451 4.3.0) once the filter crashed N times while working on it (default %s)",
     .set = set_decimal, FIELD(poison_crashes), .min = 1, .max = 100, .expected = "1 to 100"},
    {.name = "milter-timeout", .arg = "SECONDS", .default_text = "7210",
     .doc = "how long to wait for the MTA on the milter socket (default %s)",
     .set = set_decimal, FIELD(milter_timeout), .min = 1, .max = 86400, .expected = "seconds (1 to 86400)"},
    {.name = "max-sessions", .arg = "N", .default_text = "500",
     .doc = "concurrent milter sessions; past them a new one gets 421 4.3.2 at once (default %s)",
     .set = set_decimal, FIELD(max_sessions), .min = 1, .max = 100000, .expected = "a number (1 to 100000)"},
    {.name = "max-dns-waiting", .arg = "N", .default_text = "200",
     .doc = "sessions waiting for DNS at once; past them DNS lookups fail at once (default %s)",
     .set = set_decimal, FIELD(max_dns_waiting), .min = 1, .max = 100000,
     .expected = "a number (1 to 100000)"},
    {.name = "test-session", .arg = "ADDR",
     .doc = "read an SMTP dialogue on stdin as if from client ADDR and print the replies",
     .set = set_string, FIELD(test_session), .command_only = true},
    {.name = "client-name", .arg = "NAME", .doc = "with --test-session: the client host name",
     .set = set_string, FIELD(test_client_name), .command_only = true},
    {.name = "auth-user", .arg = "USER", .doc = "with --test-session: the SMTP AUTH user",
     .set = set_string, FIELD(test_auth_user), .command_only = true},
    {.name = "macro", .arg = "NAME=VALUE",
     .doc = "with --test-session: an MTA macro, e.g. {tls_version}=TLSv1.3 (repeatable)",
     .set = set_macro, .expected = "NAME=VALUE (at most 32)", .command_only = true, .repeatable = true},
    {.name = "later", .arg = "SECONDS",
     .doc = "with --test-session: as if SECONDS had passed (greylisting, rate limits)",
     .set = set_decimal, FIELD(test_later), .min = 0, .max = 10L * 366 * 86400,
     .expected = "seconds (0 to 10 years)", .command_only = true},
    {.name = "summary", .doc = "report on the decision records in the files named after the options "
            "(logs or --records JSON; none or -: standard input)", .set = set_flag, FIELD(summary),
     .command_only = true},
    {.name = "rule", .arg = "REF", .doc = "with --summary: only records where this rule decided "
            "(label, file:line or the whole ref)", .set = set_string, FIELD(summary_rule), .command_only = true},
    {.name = "day", .arg = "DAY", .doc = "with --summary: only records of DAY (UTC): today, yesterday "
            "or YYYY-MM-DD", .set = set_day, FIELD(summary_day), .expected = "today, yesterday or YYYY-MM-DD",
     .command_only = true},
    {.name = "dns", .arg = "ADDR[@PORT]",
     .doc = "ask this DNS server (a forwarder); repeatable; means --dns-mode forward",
     .set = set_forwarder, .asks_dns = true, .repeatable = true},
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
    {.name = "clamd", .arg = "SPEC",
     .doc = "clamd's socket for virus.* facts: unix:/path, inet:PORT@HOST or inet6:PORT@HOST (none by default: "
            "scans fail, clamd { on-error } decides)", .set = set_string, FIELD(clamd)},
    {.name = "clamd-timeout", .arg = "MS", .default_text = "30000",
     .doc = "how long each wait on clamd may take: connect, each write, the verdict (default %s)",
     .set = set_decimal, FIELD(clamd_timeout_ms), .min = 100, .max = 600000,
     .expected = "milliseconds (100 to 600000)"},
    {.name = "store", .arg = "NAME=VALUE",
     .doc = "a state store setting for greylisting and rate limits, e.g. backend=redis (repeatable; "
            "see mxguard(8))",
     .set = set_store, .repeatable = true},
    {.name = "metrics-listen", .arg = "ADDR",
     .doc = "serve Prometheus metrics on ADDR: IP:PORT, [IPv6]:PORT or PORT (127.0.0.1); off by default",
     .set = set_listen, FIELD(metrics_listen),
     .expected = "127.0.0.1:PORT, [::1]:PORT or a PORT"},
    {.name = "stats", .doc = "print the running daemon's counters, from its --metrics-listen endpoint "
                             "(default " LISTEN_ADDR_DEFAULT ")",
     .set = set_flag, FIELD(stats), .command_only = true},
    {.name = "spool-dir", .arg = "DIR", .default_text = SPOOL_DEFAULT_DIR,
     .doc = "where messages larger than 256 KiB are kept, unlinked, while rules look inside them "
            "(created 0700; default %s)", .set = set_string, FIELD(spool_dir)},
    {.name = "verbose", .letter = 'v', .doc = "log more; with -n, print the settings and the rules as understood",
     .set = set_count, FIELD(verbose), .command_only = true},
    {.name = "version", .letter = 'V', .doc = "print the version and exit", .set = show_version,
     .command_only = true},
    {.name = "help", .letter = 'h', .doc = "print this help and exit", .set = show_help, .command_only = true},
    {.name = "list-options", .doc = "print each option's name and where it may be given (tests)",
     .set = show_names, .command_only = true, .hidden = true},
};
/* clang-format on */
#define NDESCS (sizeof descs / sizeof descs[0])
#define LONG_ONLY 256 /* getopt_long's value for descs[i] without a letter: LONG_ONLY + i */

/* Where the value being set comes from: its origin, and the file's line (NULL: not the file). */
static struct {
    enum option_from from;
    const struct conffile_line *at;
} cur;

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
        if (d->hidden)
            continue;
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

/* --list-options: "NAME file", "NAME command" or "OLDNAME alias NAME" a line (tests/cli/options_doc.sh). */
static int show_names(struct options *o, const struct option_desc *d, const char *arg)
{
    (void)o, (void)d, (void)arg;
    for (size_t i = 0; i < NDESCS; i++) {
        if (descs[i].hidden)
            continue;
        printf("%s %s\n", descs[i].name, descs[i].command_only ? "command" : "file");
        if (descs[i].alias != NULL)
            printf("%s alias %s\n", descs[i].alias, descs[i].name);
    }
    return OPTION_DONE;
}

/* ---- where each setting came from ------------------------------------------------ */

static int row_of(const struct option_desc *d)
{
    return (int)(d - descs);
}

/* Notes that row d holds value now, from the current origin (the file's rows only). */
static int record(struct options *o, const struct option_desc *d, const char *value, const char *implied_by)
{
    struct option_setting *s = NULL;

    if (d->command_only)
        return 0;
    for (int i = 0; !d->repeatable && i < o->nsettings && s == NULL; i++)
        if (o->settings[i].row == row_of(d))
            s = &o->settings[i]; /* the last one counts: in its place */
    if (s == NULL && o->nsettings == OPTIONS_SETTINGS_MAX)
        return report(d, ": too many settings");
    if (s == NULL)
        s = &o->settings[o->nsettings++];
    *s = (struct option_setting){ .row = row_of(d), .from = cur.from, .value = value, .implied_by = implied_by };
    if (cur.at != NULL) {
        s->line = cur.at->line;
        s->col = cur.at->name_col;
    }
    return 0;
}

/* What one setting does to another (--dns means --dns-mode forward): -n -v shows it. */
static int record_implied(struct options *o, const char *name, const char *value, const struct option_desc *by)
{
    for (size_t i = 0; i < NDESCS; i++)
        if (strcmp(descs[i].name, name) == 0)
            return record(o, &descs[i], value, by->name);
    return 0;
}

/* The command line's first use of a repeatable option drops the file's values for it. */
static void forget_file_values(struct options *o, const struct option_desc *d)
{
    int n = 0;

    if (d->set == set_forwarder)
        o->dns.nforwarders = 0;
    else if (d->set == set_store)
        o->nstore_settings = 0;
    else if (d->set == set_macro)
        o->ntest_macros = 0;
    for (int i = 0; i < o->nsettings; i++)
        if (o->settings[i].row != row_of(d) || o->settings[i].from != OPTION_FROM_FILE)
            o->settings[n++] = o->settings[i];
    o->nsettings = n;
}

/* ---- setters ------------------------------------------------------------------- */

static void *field_of(struct options *o, const struct option_desc *d)
{
    return (char *)o + d->offset;
}

/* A setter's message, after "mxguard: --NAME" or, from the settings file, "FILE:LINE:COL: NAME". */
static int report(const struct option_desc *d, const char *fmt, ...)
{
    va_list ap;

    if (cur.at == NULL)
        fprintf(stderr, "mxguard: --%s", d->name);
    else
        fprintf(stderr, "%s:%u:%u: %s", cur.at->file, cur.at->line, cur.at->value_col, d->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

static int bad_value(const struct option_desc *d, const char *arg)
{
    return report(d, ": expected %s, found \"%s\"", d->expected, arg);
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

/* On the command line a flag is given or not; in the settings file, yes or no. */
static int set_flag(struct options *o, const struct option_desc *d, const char *arg)
{
    static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };

    for (size_t i = 0; arg != NULL && i < COUNT(yes); i++) {
        if (strcmp(arg, yes[i]) == 0)
            arg = NULL;
        else if (strcmp(arg, no[i]) == 0)
            return *(bool *)field_of(o, d) = false, 0;
    }
    if (arg != NULL)
        return report(d, ": expected yes or no, found \"%s\"", arg);
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
    if (o->dns.nforwarders == (int)COUNT(o->dns.forwarders))
        return report(d, ": at most 8 servers");
    o->dns.forwarders[o->dns.nforwarders++] = arg;
    o->dns.mode = DNS_MODE_FORWARD;
    return record_implied(o, "dns-mode", "forward", d);
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
    if (o->nstore_settings == (int)COUNT(o->store_settings))
        return report(d, ": at most 32 settings, found \"%s\"", arg);
    if (store_config_set_pair(&cfg, arg, &error) < 0)
        return report(d, " %s: %s", arg, error);
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

    if (listen_addr_parse(arg, &a, &error) < 0)
        return report(d, ": expected %s, found \"%s\" (%s)", d->expected, arg, error);
    return set_string(o, d, arg);
}

/* ---- parsing ------------------------------------------------------------------- */

/* Sets d to arg from the current origin: 0, OPTION_DONE, or -1 after a message. */
static int apply(struct options *o, const struct option_desc *d, const char *arg)
{
    int rc = d->set(o, d, arg);

    if (rc == 0 && d->asks_dns && cur.from != OPTION_FROM_DEFAULT)
        o->dns_given = true;
    return rc == 0 ? record(o, d, arg, NULL) : rc;
}

static void defaults(struct options *o)
{
    memset(o, 0, sizeof *o);
    cur.from = OPTION_FROM_DEFAULT;
    cur.at = NULL;
    for (size_t i = 0; i < NDESCS; i++) {
        const struct option_desc *d = &descs[i];
        /* The defaults are ours: a failure here is a bug tests/unit/test_options catches. */
        if (d->default_text != NULL && apply(o, d, d->default_text) != 0)
            abort();
    }
}

static void getopt_tables(struct option longopts[2 * NDESCS + 1], char shortopts[2 * NDESCS + 1])
{
    size_t ns = 0, nl = 0;

    memset(longopts, 0, (2 * NDESCS + 1) * sizeof longopts[0]);
    for (size_t i = 0; i < NDESCS; i++) {
        longopts[nl].name = descs[i].name;
        longopts[nl].has_arg = descs[i].arg != NULL ? required_argument : no_argument;
        longopts[nl++].val = descs[i].letter != 0 ? descs[i].letter : LONG_ONLY + (int)i;
        if (descs[i].letter != 0) {
            shortopts[ns++] = (char)descs[i].letter;
            if (descs[i].arg != NULL)
                shortopts[ns++] = ':';
        }
    }
    /* The old names after the new ones: getopt_long's "ambiguous" lists stay as they were. */
    for (size_t i = 0; i < NDESCS; i++)
        if (descs[i].alias != NULL) {
            longopts[nl] = longopts[i];
            longopts[nl++].name = descs[i].alias;
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

/* ---- the settings file ------------------------------------------------------------ */

static const struct option_desc *desc_named(const char *name)
{
    for (size_t i = 0; i < NDESCS; i++)
        if (strcmp(descs[i].name, name) == 0)
            return &descs[i];
    return NULL;
}

static int unknown_name(const struct conffile_line *l)
{
    const char *names[NDESCS], *hint;
    size_t n = 0;

    for (size_t i = 0; i < NDESCS; i++) {
        if (descs[i].alias != NULL && strcmp(descs[i].alias, l->name) == 0) {
            fprintf(stderr, "%s:%u:%u: \"%s\" is the command line's old name of \"%s\": write %s = %s\n",
                    l->file, l->line, l->name_col, l->name, descs[i].name, descs[i].name, descs[i].arg);
            return -1;
        }
        if (!descs[i].command_only)
            names[n++] = descs[i].name;
    }
    hint = suggest_name(l->name, names, n);
    fprintf(stderr, "%s:%u:%u: unknown setting \"%s\"", l->file, l->line, l->name_col, l->name);
    if (hint != NULL)
        fprintf(stderr, "; did you mean \"%s\"?", hint);
    fputc('\n', stderr);
    return -1;
}

/* The setting of d the file gave already, if any (not one another setting implied). */
static const struct option_setting *given_in_file(const struct options *o, const struct option_desc *d)
{
    for (int i = 0; i < o->nsettings; i++) {
        const struct option_setting *s = &o->settings[i];
        if (s->row == row_of(d) && s->from == OPTION_FROM_FILE && s->implied_by == NULL)
            return s;
    }
    return NULL;
}

/* conffile_read's function: one "name = value" line of the settings file. */
static int file_line(void *ctx, const struct conffile_line *l)
{
    struct options *o = ctx;
    const struct option_desc *d = desc_named(l->name);
    const struct option_setting *first;
    int rc;

    if (d == NULL || d->hidden)
        return unknown_name(l);
    if (d->command_only) {
        fprintf(stderr, "%s:%u:%u: \"%s\" cannot be set in the settings file: it is a command-line option (--%s)\n",
                l->file, l->line, l->name_col, l->name, l->name);
        return -1;
    }
    if (!d->repeatable && (first = given_in_file(o, d)) != NULL) {
        fprintf(stderr, "%s:%u:%u: \"%s\" is set twice: here and at %s:%u:%u (only dns and store may be given more than once)\n",
                l->file, l->line, l->name_col, l->name, l->file, first->line, first->col);
        return -1;
    }
    if (d->arg != NULL && *l->value == '\0') {
        fprintf(stderr, "%s:%u:%u: %s: expected %s, found nothing\n", l->file, l->line, l->value_col,
                l->name, d->expected != NULL ? d->expected : d->arg);
        return -1;
    }
    cur.from = OPTION_FROM_FILE;
    cur.at = l;
    rc = apply(o, d, l->value);
    cur.at = NULL;
    return rc == 0 ? 0 : -1;
}

/* ---- -n -v ------------------------------------------------------------------------- */

/* "name = value", commented out for a default, then "# origin" in its column. */
static void print_line(FILE *out, bool commented, const char *name, const char *value, const char *origin,
                       unsigned line, const char *implied_by)
{
    int n = fprintf(out, "%s%s =%s%s", commented ? "#" : "", name, *value ? " " : "", value);

    fprintf(out, "%*s# ", n < 47 ? 48 - n : 1, "");
    if (line > 0)
        fprintf(out, "%s:%u", origin, line);
    else
        fputs(origin, out);
    if (implied_by != NULL)
        fprintf(out, ", by %s", implied_by);
    fputc('\n', out);
}

void options_print_settings(const struct options *o, FILE *out)
{
    static const char *const from[] = { "default", NULL, "command line" };

    if (o->conf_read)
        fprintf(out, "# settings in force: %s, then the command line\n", o->conf);
    else
        fprintf(out, "# settings in force: %s does not exist: the defaults and the command line\n", o->conf);
    for (size_t i = 0; i < NDESCS; i++) {
        const struct option_desc *d = &descs[i];
        int shown = 0;
        for (int j = 0; !d->command_only && j < o->nsettings; j++) {
            const struct option_setting *s = &o->settings[j];
            if (s->row != (int)i)
                continue;
            print_line(out, s->from == OPTION_FROM_DEFAULT, d->name, s->value != NULL ? s->value : "yes",
                       s->from == OPTION_FROM_FILE ? o->conf : from[s->from], s->line, s->implied_by);
            shown++;
        }
        if (!d->command_only && shown == 0)
            print_line(out, true, d->name, d->arg == NULL ? "no" : "", d->arg == NULL ? "default" : "not set", 0,
                       NULL);
    }
}

/* ---- the command line ---------------------------------------------------------------- */

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
    /* The simulator never opens the daemon's store: only a --store on its command line. */
    if (o->test_session != NULL && o->nstore_settings > 0 && given_in_file(o, desc_named("store")) != NULL)
        forget_file_values(o, desc_named("store"));
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

/* The command line over what o holds; a repeatable option replaces the file's values. */
static enum options_result parse_command_line(int argc, char **argv, struct options *o)
{
    struct option longopts[2 * NDESCS + 1];
    char shortopts[2 * NDESCS + 1];
    bool replaced[NDESCS] = { false };
    int c;

    getopt_tables(longopts, shortopts);
    cur.from = OPTION_FROM_COMMAND;
    cur.at = NULL;
    optind = 0; /* glibc: start afresh, also after an earlier parse */
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        const struct option_desc *d = desc_of(c);
        int rc;
        if (d != NULL && d->repeatable && !replaced[row_of(d)]) {
            forget_file_values(o, d);
            replaced[row_of(d)] = true;
        }
        rc = d != NULL ? apply(o, d, optarg) : -1;
        if (rc == OPTION_DONE)
            return OPTIONS_EXIT_OK;
        if (rc < 0) {
            fprintf(stderr, "Try 'mxguard --help'.\n");
            return OPTIONS_USAGE;
        }
    }
    return OPTIONS_RUN;
}

/*
 * The command line first, alone: it names the settings file, and its
 * mistakes (and --help) come before the file's. Then again from the
 * defaults: the file, then the command line over it.
 */
enum options_result options_parse(int argc, char **argv, struct options *o)
{
    enum options_result r;
    const char *conf;
    bool conf_given;
    int rc;

    defaults(o);
    if ((r = parse_command_line(argc, argv, o)) != OPTIONS_RUN)
        return r;
    if (o->summary) /* reads records, not settings */
        return check_rest(argc, argv, o);
    conf = o->conf;
    conf_given = conf != desc_named("conf")->default_text;
    defaults(o);
    o->conf = conf;
    rc = conffile_read(conf, !conf_given, file_line, o, stderr);
    cur.at = NULL;
    if (rc < 0)
        return OPTIONS_BAD_CONF;
    o->conf_read = rc == 0;
    if ((r = parse_command_line(argc, argv, o)) != OPTIONS_RUN)
        return r;
    return check_rest(argc, argv, o);
}
