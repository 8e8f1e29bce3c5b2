/*
 * store_tool.c: drive the state store from the command line, for
 * tests/store/store_checks.sh (several processes on one Redis, Redis
 * stopped and restarted under load, LMDB writers killed with SIGKILL).
 *
 *   store_tool [-o SETTING=VALUE]... COMMAND ARGS
 *     greylist NOW IP SENDER RCPT     one check; prints the outcome
 *     ratelimit NOW KEY WINDOW LIMIT COST
 *     get NOW KEY | set NOW KEY VALUE EXPIRES
 *     hammer THREADS                  write h:T:I=I from each thread until
 *                                     killed; "ok T I" once committed
 *     verify FILE                     every "ok T I" of FILE is there
 *     loop THREADS SECONDS PAUSE_MS   greylist checks and rate-limit hits
 *                                     on the real clock; a summary at the end
 *     count THREADS N KEY             each thread adds 1 to KEY N times
 *     fill                            write until the store is full
 *
 * Store log lines go to stderr as "log: warning|info: ...". Exit 0 when
 * the command ran (whatever the store answered), 2 on misuse.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "policy/state/greylist.h"
#include "policy/state/ratelimit.h"
#include "policy/state/store.h"

static struct store *store;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_line(void *ctx, enum store_log_level level, const char *msg)
{
    fprintf(stderr, "log: %s: %s\n", level == STORE_LOG_WARNING ? "warning" : "info", msg);
    fflush(stderr);
}

static const char *result_text(enum store_result r)
{
    return r == STORE_FOUND ? "found" : r == STORE_NOTFOUND ? "notfound" : "error";
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmd_greylist(char **argv)
{
    struct greylist_params p;
    struct greylist_triplet t = {.sender = argv[2], .rcpt = argv[3]};
    struct greylist_outcome o;

    if (ipaddr_parse(argv[1], &t.client) < 0)
        return 2;
    greylist_params_init(&p);
    greylist_check(store, atol(argv[0]), &t, &p, &o);
    printf("greylist: %s %s %ld %s%s\n",
           o.verdict == GREYLIST_PASS       ? "pass"
           : o.verdict == GREYLIST_TEMPFAIL ? "tempfail"
                                            : "error",
           greylist_reason_text(o.reason), o.seconds_left, o.network, o.why ? o.why : "");
    return 0;
}

static int cmd_ratelimit(char **argv)
{
    struct ratelimit_result r;

    ratelimit_hit(store, argv[1], (unsigned)atol(argv[2]), (uint64_t)atoll(argv[3]), (unsigned)atol(argv[4]),
                  atol(argv[0]), &r);
    printf("ratelimit: %s %llu/%llu\n",
           r.status == RATELIMIT_UNDER  ? "under"
           : r.status == RATELIMIT_OVER ? "over"
                                        : "error",
           (unsigned long long)r.count, (unsigned long long)r.limit);
    return 0;
}

static int cmd_get(char **argv)
{
    char val[STORE_VALUE_MAX + 1];
    size_t vlen = 0;
    const char *why = "";
    enum store_result r =
        store_get(store, argv[1], strlen(argv[1]), val, STORE_VALUE_MAX, &vlen, atol(argv[0]), &why);

    val[r == STORE_FOUND ? vlen : 0] = '\0';
    printf("get: %s %s%s\n", result_text(r), val, r == STORE_ERROR ? why : "");
    return 0;
}

static int cmd_set(char **argv)
{
    const char *why = "";
    enum store_result r = store_set(store, argv[1], strlen(argv[1]), argv[2], strlen(argv[2]), atol(argv[3]),
                                    atol(argv[0]), &why);

    printf("set: %s %s\n", result_text(r), r == STORE_ERROR ? why : "");
    return 0;
}

static void *hammer_thread(void *arg)
{
    long t = (long)arg;
    time_t now = time(NULL);
    char key[64], val[32];

    for (long i = 0;; i++) {
        int klen = snprintf(key, sizeof key, "h:%ld:%ld", t, i), vlen = snprintf(val, sizeof val, "%ld", i);
        const char *why;
        if (store_set(store, key, (size_t)klen, val, (size_t)vlen, now + 86400, now, &why) != STORE_FOUND) {
            fprintf(stderr, "hammer: %s\n", why);
            return NULL;
        }
        /* Only once the commit returned: these are what must survive a kill. */
        pthread_mutex_lock(&out_lock);
        printf("ok %ld %ld\n", t, i);
        fflush(stdout);
        pthread_mutex_unlock(&out_lock);
    }
}

static int cmd_hammer(char **argv)
{
    long n = atol(argv[0]);
    pthread_t tid[64];

    if (n < 1 || n > 64)
        return 2;
    for (long t = 0; t < n; t++)
        if (pthread_create(&tid[t], NULL, hammer_thread, (void *)t) != 0)
            return 1;
    for (long t = 0; t < n; t++)
        pthread_join(tid[t], NULL);
    return 0;
}

static int cmd_verify(char **argv)
{
    FILE *f = fopen(argv[0], "r");
    time_t now = time(NULL);
    long t, i, seen = 0, missing = 0;
    char key[64], val[32];
    size_t vlen;
    const char *why;

    if (f == NULL)
        return 2;
    while (fscanf(f, "ok %ld %ld\n", &t, &i) == 2) {
        int klen = snprintf(key, sizeof key, "h:%ld:%ld", t, i);
        seen++;
        enum store_result r = store_get(store, key, (size_t)klen, val, sizeof val - 1, &vlen, now, &why);
        val[r == STORE_FOUND ? vlen : 0] = '\0';
        if (r != STORE_FOUND || atol(val) != i)
            missing++;
    }
    fclose(f);
    printf("verify: %ld committed, %ld missing\n", seen, missing);
    return 0;
}

struct loop_stats {
    long calls, errors, ok_after_error; /* ok_after_error: calls that worked again after a failure */
    double max_ms, end;
    unsigned pause_ms;
};

/* Greylist checks (with a real clock) and rate-limit hits until the end time. */
static void *loop_thread(void *arg)
{
    struct loop_stats *st = arg;
    struct greylist_params p;
    struct greylist_triplet t = {.sender = "loop@sender.example", .rcpt = "user@rcpt.example"};
    struct greylist_outcome o;
    struct ratelimit_result r;
    bool failing = false;

    greylist_params_init(&p);
    ipaddr_parse("192.0.2.1", &t.client);
    while (now_ms() < st->end) {
        double t0 = now_ms(), ms;
        bool err = greylist_check(store, time(NULL), &t, &p, &o) == GREYLIST_ERROR;
        err |= ratelimit_hit(store, "loop", 60, 1000000, 1, time(NULL), &r) == RATELIMIT_ERROR;
        ms = now_ms() - t0;
        st->calls++;
        st->max_ms = ms > st->max_ms ? ms : st->max_ms;
        st->errors += err;
        st->ok_after_error += !err && failing;
        failing = err;
        usleep(st->pause_ms * 1000);
    }
    return NULL;
}

static int cmd_loop(char **argv)
{
    long n = atol(argv[0]);
    struct loop_stats st[64], sum = {0};
    pthread_t tid[64];

    if (n < 1 || n > 64)
        return 2;
    for (long i = 0; i < n; i++) {
        st[i] =
            (struct loop_stats){.end = now_ms() + atof(argv[1]) * 1e3, .pause_ms = (unsigned)atol(argv[2])};
        if (pthread_create(&tid[i], NULL, loop_thread, &st[i]) != 0)
            return 1;
    }
    for (long i = 0; i < n; i++) {
        pthread_join(tid[i], NULL);
        sum.calls += st[i].calls;
        sum.errors += st[i].errors;
        sum.ok_after_error += st[i].ok_after_error;
        sum.max_ms = st[i].max_ms > sum.max_ms ? st[i].max_ms : sum.max_ms;
    }
    printf("loop: calls %ld errors %ld recovered %ld max_ms %.0f\n", sum.calls, sum.errors,
           sum.ok_after_error, sum.max_ms);
    return 0;
}

struct count_job {
    const char *key;
    long n, errors;
};

static void *count_thread(void *arg)
{
    struct count_job *job = arg;
    time_t now = time(NULL);
    int64_t v;
    const char *why;

    for (long i = 0; i < job->n; i++)
        job->errors +=
            store_incr(store, job->key, strlen(job->key), 1, now + 3600, now, &v, &why) != STORE_FOUND;
    return NULL;
}

static int cmd_count(char **argv)
{
    long n = atol(argv[0]), errors = 0;
    struct count_job jobs[64];
    pthread_t tid[64];

    if (n < 1 || n > 64)
        return 2;
    for (long i = 0; i < n; i++) {
        jobs[i] = (struct count_job){.key = argv[2], .n = atol(argv[1])};
        if (pthread_create(&tid[i], NULL, count_thread, &jobs[i]) != 0)
            return 1;
    }
    for (long i = 0; i < n; i++) {
        pthread_join(tid[i], NULL);
        errors += jobs[i].errors;
    }
    printf("count: %ld errors\n", errors);
    return 0;
}

static int cmd_fill(char **argv)
{
    time_t now = time(NULL);
    char key[32], val[STORE_VALUE_MAX];
    const char *why = "";
    long i;

    memset(val, 'v', sizeof val);
    for (i = 0; i < 10000000; i++) {
        int klen = snprintf(key, sizeof key, "f:%ld", i);
        if (store_set(store, key, (size_t)klen, val, sizeof val, now + 3600, now, &why) != STORE_FOUND)
            break;
    }
    printf("fill: %ld written, then: %s\n", i, why);
    return 0;
}

static const struct {
    const char *name;
    int argc;
    int (*run)(char **argv);
} commands[] = {
    {"greylist", 4, cmd_greylist}, {"ratelimit", 5, cmd_ratelimit}, {"get", 2, cmd_get},
    {"set", 4, cmd_set},           {"hammer", 1, cmd_hammer},       {"verify", 1, cmd_verify},
    {"loop", 3, cmd_loop},         {"fill", 0, cmd_fill},           {"count", 3, cmd_count},
};

int main(int argc, char **argv)
{
    struct store_config cfg;
    const char *error;
    int opt, rc = 2;

    store_config_init(&cfg);
    cfg.log = log_line;
    while ((opt = getopt(argc, argv, "o:")) != -1) {
        char *eq = opt == 'o' ? strchr(optarg, '=') : NULL;
        if (eq == NULL)
            return 2;
        *eq = '\0';
        if (store_config_set(&cfg, optarg, eq + 1, &error) < 0) {
            fprintf(stderr, "store_tool: %s: %s\n", optarg, error);
            return 2;
        }
    }
    if (optind >= argc)
        return 2;
    store = store_open(&cfg, &error);
    if (store == NULL) {
        fprintf(stderr, "store_tool: %s\n", error);
        return 1;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[optind], commands[i].name) == 0 && argc - optind - 1 == commands[i].argc)
            rc = commands[i].run(argv + optind + 1);
    store_close(store);
    return rc;
}
