/*
 * main.c: start-up. Parse options, check the rules, open the milter
 * socket as root, drop privileges, then hand over to the supervisor,
 * which runs the filter in a child process. Under a service manager
 * (NOTIFY_SOCKET) it stays in the foreground; the filter reports READY=1.
 *
 * exit() belongs here and nowhere else.
 */


#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "milter/callbacks.h"
#include "milter/session.h"
#include "policy/dns/dns.h"
#include "milter/dmarc_history.h"
#include "milter/log.h"
#include "milter/metrics.h"
#include "milter/metrics_http.h"
#include "milter/mta_notes.h"
#include "milter/notify.h"
#include "milter/options.h"
#include "milter/overload.h"
#include "milter/poison.h"
#include "milter/privdrop.h"
#include "policy/content/spool.h"
#include "milter/records.h"
#include "milter/rules_holder.h"
#include "milter/summary.h"
#include "milter/supervisor.h"
#include "milter/test_session.h"
#include "milter/auth_setup.h"
#include "milter/spool_setup.h"
#include "milter/memtrim.h"
#include "milter/state_setup.h"
#include "milter/stats.h"
#include "policy/content/clamd.h"
#include "policy/content/filetype.h"
#include "rules/ruleset.h"

static struct ruleset *load_rules(const char *path, bool quiet_ok)
{
    struct diag diag;
    struct ruleset *rs;

    diag_init(&diag);
    rs = ruleset_load(path, &diag);
    diag_print(&diag, stderr);
    if (rs == NULL && diag.count == 0)
        fprintf(stderr, "%s: cannot load rules\n", path);
    if (rs != NULL && !quiet_ok)
        printf("%s: OK, %u rules, %u tests passed%s\n", path, ruleset_rule_count(rs),
               ruleset_test_count(rs), diag.warnings ? " (with warnings)" : "");
    diag_free(&diag);
    return rs;
}

/* --clamd, read once before any chroot (a host name is resolved here). */
static struct clamd_config clamd_cfg;

static int clamd_setup(const struct options *o, char *err, size_t errsz)
{
    return o->clamd != NULL ? clamd_config_parse(&clamd_cfg, o->clamd, o->clamd_timeout_ms, err, errsz) : 0;
}

/* Rules that read virus.* without a clamd to ask: what that means, or NULL. */
static const char *clamd_notice(const struct options *o, const struct ruleset *rs)
{
    if (o->clamd != NULL || !ruleset_uses_virus(rs))
        return NULL;
    return ruleset_virus_tempfail(rs)
               ? "the rules read virus.* but no --clamd is given: every scan fails, and clamd { on-error "
                 "tempfail; } tempfails every message they read it for"
               : "the rules read virus.* but no --clamd is given: every scan fails, and clamd { on-error "
                 "skip; } lets messages through unscanned";
}

/* clamd's address and libmagic's database, both read before any chroot (daemon start-up). */
static void content_setup(const struct options *o, const struct ruleset *rs)
{
    char err[512];

    if (clamd_setup(o, err, sizeof err) < 0)
        log_fatalx("%s: not starting", err);
    if (clamd_notice(o, rs) != NULL)
        log_warnx("%s", clamd_notice(o, rs));
    if (filetype_init() < 0)
        log_warnx("%s: attachment types read as errors", filetype_error());
}

/* -n: the settings file was checked with the options; -v prints what they came to. */
static int run_check(const struct options *o)
{
    struct ruleset *rs;

    if (o->verbose) {
        options_print_settings(o, stdout);
        putchar('\n');
        fflush(stdout);
    }
    if ((rs = load_rules(o->config, false)) == NULL)
        return 1;
    {
        char err[512];
        if (clamd_setup(o, err, sizeof err) < 0) {
            fprintf(stderr, "mxguard: %s\n", err);
            ruleset_unref(rs);
            return 1;
        }
        if (clamd_notice(o, rs) != NULL)
            printf("%s: notice: %s\n", o->config, clamd_notice(o, rs));
    }
    /* Notices, not errors: what postfix and sendmail make of these rules. */
    mta_notes_print(rs, o->config, stdout);
    if (o->verbose)
        ruleset_print(rs, stdout);
    ruleset_unref(rs);
    return 0;
}

/* The session simulator's clock: now, or --later seconds from now. */
static long test_later;

static time_t test_clock(void *ctx)
{
    (void)ctx;
    return time(NULL) + (time_t)test_later;
}

/* A store for the simulator only when --store names one: never the daemon's by default. */
static int test_state(const struct options *o, struct statecheck_config *cfg, const char **error_r)
{
    memset(cfg, 0, sizeof *cfg);
    test_later = o->test_later;
    cfg->clock = test_clock;
    return o->nstore_settings == 0 ? 0 : state_open(o, &cfg->store, error_r);
}

static int run_test_session(const struct options *o)
{
    struct test_session_opts t = { o->test_session, o->test_client_name, o->test_auth_user,
                                   o->test_macros, o->ntest_macros, NULL, o->dns_budget_ms, NULL, NULL, NULL };
    struct statecheck_config state;
    struct sendauth_config auth;
    struct ruleset *rs = load_rules(o->config, true);
    const char *error;
    int rc;

    if (rs == NULL)
        return 1;
    {
        char err[512];
        if (clamd_setup(o, err, sizeof err) < 0) {
            fprintf(stderr, "mxguard: %s\n", err);
            ruleset_unref(rs);
            return 1;
        }
    }
    t.clamd = o->clamd != NULL ? &clamd_cfg : NULL;
    /* DNS only when asked for: a session tried offline reads DNS facts as failures. */
    if (o->dns_given && (t.resolver = dns_resolver_new(&o->dns, &error)) == NULL) {
        fprintf(stderr, "mxguard: DNS resolver: %s\n", error);
        ruleset_unref(rs);
        return 1;
    }
    if (auth_setup(o, t.resolver, &auth, &error) < 0) {
        fprintf(stderr, "mxguard: sender authentication: %s\n", error);
        dns_resolver_free(t.resolver);
        ruleset_unref(rs);
        return 1;
    }
    t.auth = &auth;
    if (test_state(o, &state, &error) < 0) {
        fprintf(stderr, "mxguard: state store: %s\n", error);
        auth_teardown(&auth);
        dns_resolver_free(t.resolver);
        ruleset_unref(rs);
        return 1;
    }
    t.state = &state;
    rc = test_session_run(rs, &t, stdin, stdout);
    store_close(state.store);
    auth_teardown(&auth);
    dns_resolver_free(t.resolver);
    ruleset_unref(rs);
    return rc;
}

/* unix:/path or local:/path -> /path; NULL for inet sockets. */
static const char *unix_path(const char *spec)
{
    if (strncmp(spec, "unix:", 5) == 0)
        return spec + 5;
    if (strncmp(spec, "local:", 6) == 0)
        return spec + 6;
    if (strchr(spec, ':') == NULL)
        return spec;
    return NULL;
}

static void warn_exposed_socket(const char *spec)
{
    const char *at = strchr(spec, '@');

    if (unix_path(spec) != NULL)
        return;
    if (at == NULL) {
        log_warnx("socket %s has no host: it listens on every interface; anyone who reaches it can ask for verdicts. Use inet:PORT@127.0.0.1", spec);
        return;
    }
    at++;
    if (strncmp(at, "127.", 4) != 0 && strcmp(at, "localhost") != 0 && strcmp(at, "::1") != 0 &&
        strcmp(at, "[::1]") != 0)
        log_warnx("socket %s listens on a non-loopback address: make sure only your MTA can reach it", spec);
}

/*
 * libmilter writes each reply on its own (a header edit, then the
 * verdict) and the MTA sends nothing back in between: with Nagle's
 * algorithm the verdict waits for the MTA's delayed ACK of the edit, about
 * 40 ms a message over an inet socket (measured: tests/bench). libmilter
 * keeps its listening socket to itself, and Linux passes TCP_NODELAY on to
 * the connections a listener accepts: set it on the one TCP listener we
 * have just after it was opened.
 */
static void listener_nodelay(void)
{
    int one = 1;

    for (int fd = 0; fd < 1024; fd++) {
        int listening = 0, domain = 0;
        socklen_t len = sizeof listening;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening)
            continue;
        len = sizeof domain;
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
            (domain != AF_INET && domain != AF_INET6))
            continue;
        if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
            log_warn("TCP_NODELAY on the milter socket");
    }
}

static void open_socket(const struct options *o, const struct run_as *who)
{
    const char *path = unix_path(o->socket);
    const char *error;
    mode_t old;

    if (smfi_setconn((char *)o->socket) != MI_SUCCESS)
        log_fatalx("invalid socket specification \"%s\"", o->socket);
    if (path != NULL && supervisor_claim_socket(path, &error) < 0)
        log_fatalx("%s; not starting", error);
    warn_exposed_socket(o->socket);
    /* libmilter never chmods its socket: its mode comes from the umask. */
    old = umask(o->umask);
    if (smfi_opensocket(true) != MI_SUCCESS)
        log_fatalx("cannot open milter socket %s (does its directory exist?)", o->socket);
    umask(old);
    if (path == NULL)
        listener_nodelay();
    if (path != NULL && who != NULL && chown(path, who->uid, who->gid) < 0)
        log_warn("chown %s", path);
}

/*
 * Detach. The parent waits until the child reports that start-up
 * finished (pid file written, privileges dropped), so that "mxguard"
 * exits 1 when any of that fails, not 0. Returns the pipe to report on.
 */
static int daemonize(void)
{
    int ready[2], fd;
    pid_t pid;
    char ok;

    if (pipe(ready) < 0)
        log_fatal("pipe");
    if ((pid = fork()) < 0)
        log_fatal("fork");
    if (pid > 0) {
        close(ready[1]);
        _exit(read(ready[0], &ok, 1) == 1 ? 0 : 1);
    }
    close(ready[0]);
    setsid();
    if (chdir("/") < 0)
        log_fatal("chdir /");
    if ((fd = open("/dev/null", O_RDWR)) >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    return ready[1];
}

static void report_ready(int fd)
{
    if (fd >= 0) {
        (void)!write(fd, "", 1);
        close(fd);
    }
    log_tee_stderr(false);
}

static void write_pidfile(const char *path)
{
    FILE *f = fopen(path, "w");

    if (f == NULL)
        log_fatal("cannot write pid file %s", path);
    fprintf(f, "%ld\n", (long)getpid());
    fclose(f);
}

/* The rule file's path as the filter sees it after chroot. */
static const char *path_in_chroot(const char *config, const char *root)
{
    static char real_config[PATH_MAX], real_root[PATH_MAX];
    size_t n;

    if (root == NULL)
        return config;
    /* Compare real paths: "/srv/jail/../jail/x.rules" is inside /srv/jail. */
    if (realpath(config, real_config) == NULL || realpath(root, real_root) == NULL)
        log_fatal("with --chroot %s: cannot resolve %s", root, config);
    config = real_config;
    root = real_root;
    n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    if (config[0] != '/' || strncmp(config, root, n) != 0 || config[n] != '/')
        log_fatalx("with --chroot %s the rule file must be given by an absolute path inside it", root);
    return config + n;
}

/* Try the DNS settings before detaching, so a mistake is an exit status, not a log line later.
   With --chroot the filter reads resolv.conf and the trust anchor inside it: so does this try. */
static void check_dns(const struct options *o, const struct ruleset *rs)
{
    const char *error;
    struct dns_config cfg = o->dns;
    char *conf = NULL, *anchor = NULL;
    struct dns_resolver *r;

    if (o->chroot_dir != NULL && cfg.mode == DNS_MODE_SYSTEM &&
        asprintf(&conf, "%s/%s", o->chroot_dir, cfg.resolv_conf ? cfg.resolv_conf : "/etc/resolv.conf") >= 0)
        cfg.resolv_conf = conf;
    if (o->chroot_dir != NULL && cfg.trust_anchor != NULL &&
        asprintf(&anchor, "%s/%s", o->chroot_dir, cfg.trust_anchor) >= 0)
        cfg.trust_anchor = anchor;
    r = dns_resolver_new(&cfg, &error);
    free(conf);
    free(anchor);
    if (r != NULL) {
        dns_resolver_free(r);
        return;
    }
    if (o->dns_given || ruleset_uses_dns(rs))
        log_fatalx("DNS resolver: %s", error);
    log_warnx("DNS resolver: %s; the rules need none, running without DNS", error);
}

/* Live as long as the filter process: sessions point into them. */
static struct sendauth_config auth;
static struct statecheck_config state;

/* What the filter tells the admin: records (log and --records file), counters and their endpoint. */
static int observe_setup(const struct options *o, struct dns_resolver *resolver)
{
    records_set_log(!o->no_record_log);
    /* Opened here, as the run user (inside the chroot), as every reopen will be. */
    if (o->records != NULL && records_open(o->records) < 0) {
        log_warn("--records %s: cannot open", o->records);
        return -1;
    }
    if (o->dmarc_history != NULL && dmarc_history_open(o->dmarc_history, auth.authserv_id) < 0) {
        log_warn("--dmarc-history %s: cannot open", o->dmarc_history);
        return -1;
    }
    metrics_init();
    metrics_set_resolver(resolver);
    metrics_set_store(state.store);
    if (o->metrics_listen != NULL) {
        struct listen_addr la;
        const char *why;
        if (listen_addr_parse(o->metrics_listen, &la, &why) == 0) /* checked with the options */
            metrics_http_start(&la);
    }
    return 0;
}

/*
 * libunbound's threads do not survive a fork: one resolver per filter
 * process. Rules without DNS checks can do without one (say, a chroot
 * without resolv.conf); their DNS facts then fail temporarily. -1: fatal.
 */
static int resolver_setup(const struct options *o, struct dns_resolver **out)
{
    const char *error;
    struct ruleset *rs;
    bool needed;

    if ((*out = dns_resolver_new(&o->dns, &error)) != NULL) {
        overload_set_resolver(*out); /* --max-dns-waiting, and its counts in the overload line */
        if (dns_resolver_start(*out) < 0)
            log_warnx("DNS resolver: libunbound's worker did not start");
        return 0;
    }
    rs = rules_holder_acquire();
    needed = o->dns_given || ruleset_uses_dns(rs);
    ruleset_unref(rs);
    log_warnx("DNS resolver: %s%s", error, needed ? "" : "; running without DNS");
    return needed ? -1 : 0;
}

/* A stop while a message step is in its callback (an end of message
   waiting for DNS): its verdict goes out rather than being cut at exit,
   which the MTA would tempfail and the client send again. Past
   DRAIN_SECONDS (the default DNS budget and a margin; within the
   supervisor's 30 s and the unit's TimeoutStopSec) it is cut. */
#define DRAIN_SECONDS 10
static void drain_sessions(void)
{
    unsigned n = overload_steps(), left;

    if (n == 0)
        return;
    log_info("stopping: waiting up to %d s for %u message step%s under way", DRAIN_SECONDS, n, n == 1 ? "" : "s");
    if ((left = overload_drain(DRAIN_SECONDS)) > 0)
        log_warnx("stopping with %u message step%s unfinished after %d s: cut (the MTA tempfails them)", left,
                  left == 1 ? "" : "s", DRAIN_SECONDS);
    else
        log_info("stopping: the message steps under way have answered");
}

static int filter_main(void *arg)
{
    const struct options *o = arg;
    struct dns_resolver *resolver;
    const char *error;
    sigset_t set;

    /* Blocked before any thread starts, so every thread inherits the mask:
       SIGUSR1 is our reload thread's; SIGHUP, SIGTERM and SIGINT are for
       libmilter's signal thread (sigwait), which stops the filter cleanly.
       Left open in the resolver's or the sweep's thread, a SIGTERM would
       end the process there, with sessions in flight. */
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (resolver_setup(o, &resolver) < 0)
        return SUPERVISOR_EXIT_FATAL;
    if (auth_setup(o, resolver, &auth, &error) < 0) {
        log_warnx("sender authentication: %s", error);
        return SUPERVISOR_EXIT_FATAL;
    }
    {
        struct ruleset *rs = rules_holder_acquire();
        bool needed = ruleset_uses_state(rs);
        ruleset_unref(rs);
        if (state_setup(o, needed, &state, &error) < 0) {
            log_warnx("state store: %s", error);
            return SUPERVISOR_EXIT_FATAL;
        }
    }
    {
        struct conn_services svc = { resolver, o->dns_budget_ms, &auth, &state,
                                     o->clamd != NULL ? &clamd_cfg : NULL };
        session_set_services(&svc);
    }
    if (observe_setup(o, resolver) < 0)
        return SUPERVISOR_EXIT_FATAL;
    /* A restarted child serves the file as it is now; if it is broken, the
       rules the supervisor checked at start-up. */
    rules_holder_reload("filter start");
    if (rules_holder_start_signal_thread() < 0) {
        log_warnx("cannot start the reload thread");
        return 1;
    }
    if (memtrim_start() < 0)
        log_warnx("cannot start the heap-trimming thread: RSS will fall more slowly after a peak");
    {
        struct ruleset *rs = rules_holder_acquire();
        notify_ready(rs); /* the socket is open, the rules loaded, the checks set up */
        ruleset_unref(rs);
    }
    if (smfi_main() != MI_SUCCESS) {
        log_warnx("milter main loop failed");
        metrics_http_stop();
        return 1;
    }
    drain_sessions();
    records_close();
    dmarc_history_close();
    metrics_http_stop();
    if (resolver != NULL) {
        unsigned long asked, from_memo;
        dns_resolver_counts(resolver, &asked, &from_memo);
        log_info("dns: %lu questions, %lu answered from the filter's memory", asked, from_memo);
    }
    return 0;
}

/* The commands that answer and exit: --summary, -n, --test-session, --stats. */
static int run_command(const struct options *o)
{
    if (o->summary) {
        struct summary_opts so = { o->summary_rule, o->summary_day, o->summary_files, o->nsummary_files };
        return summary_run(&so, stdout, stderr);
    }
    if (o->check)
        return run_check(o);
    if (o->test_session != NULL)
        return run_test_session(o);
    return stats_run(o->metrics_listen, stdout);
}

/* Who the daemon will run as, and in which root: refused at start when unsound. */
static void check_identity(const struct options *o, struct run_as *who)
{
    const char *error;

    if (o->chroot_dir != NULL && o->user == NULL)
        log_fatalx("--chroot needs --user: a chroot is no boundary for root");
    notify_check_chroot(o->chroot_dir);
    if (o->user != NULL && privdrop_lookup(o->user, who, &error) < 0)
        log_fatalx("--user %s: %s", o->user, error);
    if (geteuid() == 0 && o->user == NULL && !o->allow_root)
        log_fatalx("refusing to run as root: give --user USER (or --allow-root to insist)");
    if (geteuid() != 0 && (o->user != NULL || o->chroot_dir != NULL))
        log_fatalx("--user and --chroot need mxguard to be started as root");
}

int main(int argc, char **argv)
{
    struct options o;
    struct run_as who;
    struct ruleset *rs;
    const char *error;
    char *config_abs = NULL;
    int rc, ready = -1;
    bool detach;

    switch (options_parse(argc, argv, &o)) {
    case OPTIONS_EXIT_OK: return 0;
    case OPTIONS_USAGE: return 2;
    case OPTIONS_BAD_CONF: return 1; /* as for a broken rule file */
    case OPTIONS_RUN: break;
    }
    spool_set_dir(o.spool_dir); /* made (0700, as the run user) when a message first needs a file */
    if (o.summary || o.check || o.test_session != NULL || o.stats)
        return run_command(&o);

    log_open("mxguard", o.foreground, o.verbose);
    /* Under systemd (Type=notify): no fork, and no stderr copy the journal would take unprioritised. */
    detach = !o.foreground && !notify_wanted();
    log_tee_stderr(detach);
    /* Reloads happen after chdir("/"): keep the rule file's absolute path. */
    if (o.config[0] != '/') {
        char cwd[4096];
        if (getcwd(cwd, sizeof cwd) == NULL || asprintf(&config_abs, "%s/%s", cwd, o.config) < 0)
            log_fatal("cannot make the rule file path absolute");
        o.config = config_abs;
    }
    check_identity(&o, &who);
    if ((rs = load_rules(o.config, true)) == NULL)
        log_fatalx("%s: rules not loaded; not starting", o.config);
    rules_holder_init(rs, path_in_chroot(o.config, o.chroot_dir));
    check_dns(&o, rs);
    content_setup(&o, rs);
    /* The Public Suffix List, read before any chroot; the filter processes inherit it. */
    if (dmarc_library_init(NULL, &error) < 0 && ruleset_uses_dmarc(rs))
        log_fatalx("%s", error);

    if (smfi_register(mxguard_milter) != MI_SUCCESS)
        log_fatalx("smfi_register failed");
    smfi_settimeout(o.milter_timeout);
    open_socket(&o, o.user ? &who : NULL);
    if (detach)
        ready = daemonize();
    if (o.pidfile != NULL)
        write_pidfile(o.pidfile);
    /* Still root: the descriptor limit can be raised as far as the bounds need. */
    overload_fit_nofile(&o.max_sessions);
    if (spool_setup(spool_dir(), o.chroot_dir, o.user ? &who : NULL, &error) < 0 && ruleset_uses_mime(rs))
        log_warnx("spool directory %s: %s: messages the content rules read past %u KiB will be tempfailed",
                  spool_dir(), error, SPOOL_MEM_MAX / 1024);
    overload_init(o.max_sessions, o.max_dns_waiting);
    if (o.user != NULL && privdrop_apply(&who, o.chroot_dir, &error) < 0)
        log_fatal("dropping privileges to %s: %s", o.user, error);
    report_ready(ready);
    log_info("mxguard %s serving %s on %s as uid %ld (%u rules)", PACKAGE_VERSION, o.config,
             o.socket, (long)getuid(), ruleset_rule_count(rs));

    /* Shared with every filter process, and outliving each: mapped before the first fork. */
    if (poison_init(POISON_SLOTS, POISON_SUSPECTS, (unsigned)o.poison_crashes, &error) < 0)
        log_warnx("%s: the poison-message guard is off", error);
    {
        struct supervisor_limits lim = { o.restart_max, o.restart_window };
        rc = supervisor_run(&lim, filter_main, &o);
    }
    /* Removing it needs write access to its directory as the run user. */
    if (o.pidfile != NULL && unlink(o.pidfile) < 0)
        log_warn("cannot remove pid file %s (put it in a directory %s may write)", o.pidfile,
                 o.user ? o.user : "mxguard");
    rules_holder_shutdown();
    log_info("mxguard stopped");
    free(config_abs);
    return rc;
}
