/*
 * options.c: the option table and its parser.
 *
 * Every option is described once below; getopt_long's table and the
 * --help text are generated from it, so they cannot drift apart.
 */
#include "milter/options.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/state/store.h"



enum {
    OPT_UMASK = 256,
    OPT_ALLOW_ROOT,
    OPT_RESTART_LIMIT,
    OPT_TIMEOUT,
    OPT_TEST_SESSION,
    OPT_CLIENT_NAME,
    OPT_AUTH_USER,
    OPT_MACRO,
    OPT_LATER,
    OPT_DNS,
    OPT_DNS_MODE,
    OPT_DNS_TA,
    OPT_DNS_TIMEOUT,
    OPT_DNS_BUDGET,
    OPT_AUTHSERV_ID,
    OPT_DKIM_MAX_SIGS,
    OPT_DKIM_MIN_BITS,
    OPT_STORE,
};

static const struct option_desc {
    const char *name;
    int has_arg;
    int val;
    const char *arg;
    const char *doc;
} descs[] = {
    { "config", 1, 'c', "FILE", "rule file (default " OPTIONS_DEFAULT_CONFIG ")" },
    { "socket", 1, 'p', "SPEC", "milter socket: unix:/path, local:/path, inet:PORT@HOST, inet6:PORT@HOST (default " OPTIONS_DEFAULT_SOCKET ")" },
    { "foreground", 0, 'f', NULL, "stay in the foreground and log to stderr" },
    { "check", 0, 'n', NULL, "load and check the rule file, print every problem, exit 0 or 1" },
    { "user", 1, 'u', "USER[:GROUP]", "drop privileges to USER (and GROUP) after opening the socket" },
    { "pidfile", 1, 'P', "FILE", "write the supervisor's process id to FILE" },
    { "chroot", 1, 'r', "DIR", "chroot to DIR before dropping privileges" },
    { "umask", 1, OPT_UMASK, "MODE", "umask for creating the unix socket (default 0117: owner and group may connect)" },
    { "allow-root", 0, OPT_ALLOW_ROOT, NULL, "keep running as root when no --user is given (not recommended)" },
    { "restart-limit", 1, OPT_RESTART_LIMIT, "N/SECONDS", "give up after N filter restarts within SECONDS (default 5/60)" },
    { "milter-timeout", 1, OPT_TIMEOUT, "SECONDS", "how long to wait for the MTA on the milter socket (default 7210)" },
    { "test-session", 1, OPT_TEST_SESSION, "ADDR", "read an SMTP dialogue on stdin as if from client ADDR and print the replies" },
    { "client-name", 1, OPT_CLIENT_NAME, "NAME", "with --test-session: the client host name" },
    { "auth-user", 1, OPT_AUTH_USER, "USER", "with --test-session: the SMTP AUTH user" },
    { "macro", 1, OPT_MACRO, "NAME=VALUE", "with --test-session: an MTA macro, e.g. {tls_version}=TLSv1.3 (repeatable)" },
    { "later", 1, OPT_LATER, "SECONDS", "with --test-session: as if SECONDS had passed (greylisting, rate limits)" },
    { "dns", 1, OPT_DNS, "ADDR[@PORT]", "ask this DNS server (a forwarder); repeatable; means --dns-mode forward" },
    { "dns-mode", 1, OPT_DNS_MODE, "MODE", "system (resolv.conf, the default), forward (with --dns) or recursive" },
    { "dns-trust-anchor", 1, OPT_DNS_TA, "FILE", "validate DNSSEC with this trust anchor file (bogus answers fail temporarily)" },
    { "dns-timeout", 1, OPT_DNS_TIMEOUT, "MS", "how long one round of DNS questions may take (default 5000)" },
    { "dns-budget", 1, OPT_DNS_BUDGET, "MS", "how long one SMTP stage may wait for DNS in all (default 10000)" },
    { "authserv-id", 1, OPT_AUTHSERV_ID, "NAME", "our name in Authentication-Results and Received-SPF headers (default: the host name)" },
    { "dkim-max-signatures", 1, OPT_DKIM_MAX_SIGS, "N", "DKIM signatures evaluated per message, the rest ignored (default 5)" },
    { "dkim-min-key-bits", 1, OPT_DKIM_MIN_BITS, "BITS", "RSA keys shorter than this give dkim=policy (default 1024)" },
    { "store", 1, OPT_STORE, "NAME=VALUE", "a state store setting for greylisting and rate limits, e.g. backend=redis (repeatable; see mxguard(8))" },
    { "verbose", 0, 'v', NULL, "log more; with -n, print the rules as understood" },
    { "version", 0, 'V', NULL, "print the version and exit" },
    { "help", 0, 'h', NULL, "print this help and exit" },
};
#define NDESCS (sizeof descs / sizeof descs[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: mxguard [options]\n\n");
    for (size_t i = 0; i < NDESCS; i++) {
        char left[64];
        if (descs[i].val < 256)
            snprintf(left, sizeof left, "-%c, --%s%s%s", descs[i].val, descs[i].name,
                     descs[i].arg ? " " : "", descs[i].arg ? descs[i].arg : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", descs[i].name,
                     descs[i].arg ? " " : "", descs[i].arg ? descs[i].arg : "");
        fprintf(out, "  %-32s %s\n", left, descs[i].doc);
    }
    fprintf(out, "\nSignals: SIGHUP or SIGUSR1 reloads the rules, SIGTERM stops. See mxguard(8).\n");
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

static int parse_int(const char *s, long min, long max, long *out)
{
    return parse_base(s, 10, min, max, out);
}

static int parse_restart(const char *s, struct options *o)
{
    char buf[32];
    char *slash;
    long n, w;

    if (strlen(s) >= sizeof buf)
        return -1;
    strcpy(buf, s);
    if ((slash = strchr(buf, '/')) == NULL)
        return -1;
    *slash = '\0';
    if (parse_int(buf, 1, 1000, &n) < 0 || parse_int(slash + 1, 1, 86400, &w) < 0)
        return -1;
    o->restart_max = (int)n;
    o->restart_window = (int)w;
    return 0;
}

static void defaults(struct options *o)
{
    memset(o, 0, sizeof *o);
    o->config = OPTIONS_DEFAULT_CONFIG;
    o->socket = OPTIONS_DEFAULT_SOCKET;
    o->umask = 0117;
    o->restart_max = 5;
    o->restart_window = 60;
    o->milter_timeout = 7210;
    o->dns.mode = DNS_MODE_SYSTEM;
    o->dns.query_timeout_ms = 5000;
    o->dns_budget_ms = 10000;
    o->dkim_max_signatures = 5;
    o->dkim_min_key_bits = 1024;
}

static int apply(struct options *o, int c, const char *arg)
{
    long v;

    switch (c) {
    case 'c': o->config = arg; return 0;
    case 'p': o->socket = arg; return 0;
    case 'f': o->foreground = true; return 0;
    case 'n': o->check = true; return 0;
    case 'u': o->user = arg; return 0;
    case 'P': o->pidfile = arg; return 0;
    case 'r': o->chroot_dir = arg; return 0;
    case 'v': o->verbose++; return 0;
    case OPT_ALLOW_ROOT: o->allow_root = true; return 0;
    case OPT_TEST_SESSION: o->test_session = arg; return 0;
    case OPT_CLIENT_NAME: o->test_client_name = arg; return 0;
    case OPT_AUTH_USER: o->test_auth_user = arg; return 0;
    case OPT_DNS:
        if (o->dns.nforwarders == 8) {
            fprintf(stderr, "mxguard: --dns: at most 8 servers\n");
            return -1;
        }
        o->dns.forwarders[o->dns.nforwarders++] = arg;
        o->dns.mode = DNS_MODE_FORWARD;
        o->dns_given = true;
        return 0;
    case OPT_DNS_MODE:
        if (strcmp(arg, "system") == 0)
            o->dns.mode = DNS_MODE_SYSTEM;
        else if (strcmp(arg, "recursive") == 0)
            o->dns.mode = DNS_MODE_RECURSIVE;
        else if (strcmp(arg, "forward") == 0)
            o->dns.mode = DNS_MODE_FORWARD;
        else {
            fprintf(stderr, "mxguard: --dns-mode: expected system, forward or recursive, found \"%s\"\n", arg);
            return -1;
        }
        o->dns_given = true;
        return 0;
    case OPT_DNS_TA:
        o->dns.trust_anchor = arg;
        o->dns_given = true;
        return 0;
    case OPT_DNS_TIMEOUT:
    case OPT_DNS_BUDGET:
        if (parse_int(arg, 100, 60000, &v) < 0) {
            fprintf(stderr, "mxguard: --%s: expected milliseconds (100 to 60000), found \"%s\"\n",
                    c == OPT_DNS_TIMEOUT ? "dns-timeout" : "dns-budget", arg);
            return -1;
        }
        if (c == OPT_DNS_TIMEOUT)
            o->dns.query_timeout_ms = (int)v;
        else
            o->dns_budget_ms = (int)v;
        return 0;
    case OPT_AUTHSERV_ID:
        if (arg[0] == '\0' || strlen(arg) > 255 || strspn(arg, "abcdefghijklmnopqrstuvwxyz"
                                                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != strlen(arg)) {
            fprintf(stderr, "mxguard: --authserv-id: expected a host name like mx.example.org, found \"%s\"\n", arg);
            return -1;
        }
        o->authserv_id = arg;
        return 0;
    case OPT_DKIM_MAX_SIGS:
    case OPT_DKIM_MIN_BITS:
        if (parse_int(arg, c == OPT_DKIM_MAX_SIGS ? 1 : 512, c == OPT_DKIM_MAX_SIGS ? 8 : 16384, &v) < 0) {
            fprintf(stderr, "mxguard: --%s: expected %s, found \"%s\"\n",
                    c == OPT_DKIM_MAX_SIGS ? "dkim-max-signatures" : "dkim-min-key-bits",
                    c == OPT_DKIM_MAX_SIGS ? "1 to 8" : "bits (512 to 16384)", arg);
            return -1;
        }
        if (c == OPT_DKIM_MAX_SIGS)
            o->dkim_max_signatures = (unsigned)v;
        else
            o->dkim_min_key_bits = (unsigned)v;
        return 0;
    case OPT_STORE: {
        /* Checked here, so a typo is a usage error at start-up, not a log line later. */
        struct store_config cfg;
        const char *error;
        store_config_init(&cfg);
        if (o->nstore_settings == 32) {
            fprintf(stderr, "mxguard: --store: at most 32 settings, found \"%s\"\n", arg);
            return -1;
        }
        if (store_config_set_pair(&cfg, arg, &error) < 0) {
            fprintf(stderr, "mxguard: --store %s: %s\n", arg, error);
            return -1;
        }
        o->store_settings[o->nstore_settings++] = arg;
        return 0;
    }
    case OPT_MACRO:
        if (strchr(arg, '=') == NULL || o->ntest_macros == 32) {
            fprintf(stderr, "mxguard: --macro: expected NAME=VALUE (at most 32), found \"%s\"\n", arg);
            return -1;
        }
        o->test_macros[o->ntest_macros++] = arg;
        return 0;
    case OPT_LATER:
        if (parse_int(arg, 0, 10L * 366 * 86400, &v) < 0) {
            fprintf(stderr, "mxguard: --later: expected seconds (0 to 10 years), found \"%s\"\n", arg);
            return -1;
        }
        o->test_later = v;
        return 0;
    case OPT_UMASK:
        if (parse_base(arg, 8, 0, 0777, &v) < 0) { /* always octal, like umask(1) */
            fprintf(stderr, "mxguard: --umask: expected an octal mode like 0117, found \"%s\"\n", arg);
            return -1;
        }
        o->umask = (mode_t)v;
        return 0;
    case OPT_RESTART_LIMIT:
        if (parse_restart(arg, o) < 0) {
            fprintf(stderr, "mxguard: --restart-limit: expected N/SECONDS like 5/60, found \"%s\"\n", arg);
            return -1;
        }
        return 0;
    case OPT_TIMEOUT:
        if (parse_int(arg, 1, 86400, &v) < 0) {
            fprintf(stderr, "mxguard: --milter-timeout: expected seconds (1 to 86400), found \"%s\"\n", arg);
            return -1;
        }
        o->milter_timeout = (int)v;
        return 0;
    }
    return -1;
}

enum options_result options_parse(int argc, char **argv, struct options *o)
{
    struct option longopts[NDESCS + 1];
    char shortopts[2 * NDESCS + 1];
    size_t ns = 0;
    int c;

    defaults(o);
    memset(longopts, 0, sizeof longopts);
    for (size_t i = 0; i < NDESCS; i++) {
        longopts[i].name = descs[i].name;
        longopts[i].has_arg = descs[i].has_arg;
        longopts[i].val = descs[i].val;
        if (descs[i].val < 256) {
            shortopts[ns++] = (char)descs[i].val;
            if (descs[i].has_arg)
                shortopts[ns++] = ':';
        }
    }
    shortopts[ns] = '\0';
    optind = 1;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return OPTIONS_EXIT_OK;
        }
        if (c == 'V') {
            printf("mxguard %s\n", PACKAGE_VERSION);
            return OPTIONS_EXIT_OK;
        }
        if (c == '?' || apply(o, c, optarg) < 0) {
            fprintf(stderr, "Try 'mxguard --help'.\n");
            return OPTIONS_USAGE;
        }
    }
    if (o->dns.mode == DNS_MODE_FORWARD && o->dns.nforwarders == 0) {
        fprintf(stderr, "mxguard: --dns-mode forward needs --dns ADDR[@PORT]\n");
        return OPTIONS_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "mxguard: unexpected argument \"%s\"\nTry 'mxguard --help'.\n", argv[optind]);
        return OPTIONS_USAGE;
    }
    return OPTIONS_RUN;
}
