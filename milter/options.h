/*
 * options.h: the daemon's options, each described once in a table
 * (options.c: name, letter, argument, default, help line, setter) that
 * drives getopt_long, the settings file (mxguard.conf(5)), the defaults,
 * --help and the settings -n -v prints.
 */
#ifndef MXG_MILTER_OPTIONS_H
#define MXG_MILTER_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "policy/dns/dns.h"

#define OPTIONS_DEFAULT_SOCKET "unix:/run/mxguard/mxguard.sock"
#define OPTIONS_DEFAULT_CONFIG SYSCONFDIR "/mxguard/mxguard.rules"
#define OPTIONS_DEFAULT_CONF SYSCONFDIR "/mxguard/mxguard.conf"

enum option_from { OPTION_FROM_DEFAULT, OPTION_FROM_FILE, OPTION_FROM_COMMAND };

/* A setting in force and where it came from (a row of the table that the file may set). */
struct option_setting {
    int row;               /* the option's row in options.c's table */
    enum option_from from;
    unsigned line, col;    /* OPTION_FROM_FILE: the name's position in o->conf */
    const char *value;     /* as written; NULL: a flag given on the command line */
    const char *implied_by; /* NULL, or the option whose setting set this one too (dns: dns-mode) */
};
#define OPTIONS_SETTINGS_MAX 192

struct options {
    const char *config;     /* the rule file: --rules (-c, --config: its old name) */
    const char *conf;       /* the settings file: -C, --conf */
    bool conf_read;         /* it was there and read (the default one may be missing) */
    const char *socket;
    bool foreground;
    bool check;
    const char *user;       /* USER or USER:GROUP */
    const char *pidfile;
    const char *records;    /* JSON lines of decision records; NULL: the log line only */
    bool no_record_log;     /* records to the --records file only */
    const char *dmarc_history; /* DMARC aggregate-report data (OpenDMARC's history format); NULL: none */
    const char *chroot_dir;
    int verbose;
    mode_t umask;
    bool allow_root;
    int restart_max;        /* restarts allowed within restart_window seconds */
    int restart_window;
    int poison_crashes;     /* a message in flight at this many filter crashes is held (451) */
    int milter_timeout;     /* seconds libmilter waits on the MTA */
    unsigned max_sessions;    /* concurrent milter sessions; past it 421 4.3.2 (milter/overload.h) */
    unsigned max_dns_waiting; /* sessions waiting on the resolver at once; past it DNS reads as failed */
    const char *test_session; /* client address for --test-session */
    const char *test_client_name;
    const char *test_auth_user;
    const char *test_macros[32]; /* NAME=VALUE, with --test-session */
    int ntest_macros;
    long test_later;             /* --later: seconds added to the session's clock */
    struct dns_config dns;        /* the resolver */
    int dns_budget_ms;            /* DNS time a stage may spend */
    bool dns_given;               /* --dns or --dns-mode given */
    const char *authserv_id;      /* ours in Authentication-Results; NULL: the host name */
    unsigned dkim_max_signatures; /* evaluated per message */
    unsigned dkim_min_key_bits;   /* shorter RSA keys give dkim=policy */
    const char *clamd;            /* --clamd SPEC; NULL: no virus scanner */
    int clamd_timeout_ms;         /* each wait on clamd */
    const char *store_settings[32];/* --store NAME=VALUE, applied in order */
    int nstore_settings;
    bool summary;                 /* --summary: report on decision records, then exit */
    const char *summary_rule;     /* --rule REF */
    const char *summary_day;      /* --day today|yesterday|YYYY-MM-DD */
    char **summary_files;         /* the words after the options (none: standard input) */
    int nsummary_files;
    const char *metrics_listen;   /* --metrics-listen ADDR (checked); NULL: no endpoint */
    bool stats;                   /* --stats: print the running daemon's numbers */
    const char *spool_dir;        /* --spool-dir: unlinked files of messages the content rules read */
    struct option_setting settings[OPTIONS_SETTINGS_MAX]; /* what -n -v prints */
    int nsettings;
};

/* OPTIONS_BAD_CONF: the settings file has mistakes (printed as FILE:LINE:COL), or -C's cannot be read. */
enum options_result { OPTIONS_RUN, OPTIONS_EXIT_OK, OPTIONS_USAGE, OPTIONS_BAD_CONF };

/*
 * Defaults, then the settings file (-C, or the default one if it exists;
 * not for --summary), then the command line: the command line wins, and a
 * repeatable option it gives replaces the file's values for it.
 */
enum options_result options_parse(int argc, char **argv, struct options *o);

/* Every option the file may set, as a valid mxguard.conf: its value in force and its origin. */
void options_print_settings(const struct options *o, FILE *out);

#endif
