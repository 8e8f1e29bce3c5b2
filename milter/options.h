/*
 * options.h: command-line options, each described once in a table
 * (options.c: name, letter, argument, default, help line, setter) that
 * drives getopt_long, the defaults and --help.
 */
#ifndef MXG_MILTER_OPTIONS_H
#define MXG_MILTER_OPTIONS_H

#include <stdbool.h>
#include <sys/types.h>

#include "policy/dns/dns.h"

#define OPTIONS_DEFAULT_SOCKET "unix:/run/mxguard/mxguard.sock"
#define OPTIONS_DEFAULT_CONFIG SYSCONFDIR "/mxguard/mxguard.rules"

struct options {
    const char *config;
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
    int milter_timeout;     /* seconds libmilter waits on the MTA */
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
};

enum options_result { OPTIONS_RUN, OPTIONS_EXIT_OK, OPTIONS_USAGE };

enum options_result options_parse(int argc, char **argv, struct options *o);

#endif
