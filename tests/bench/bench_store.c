/*
 * bench_store.c: greylist checks per second on each store backend, from
 * several threads as the daemon's worker pool makes them, and the latency
 * one check adds (p50/p99), alone and under that load.
 *
 * Backends: LMDB in a temp file (default sync flags: every write commits
 * to disk), and a redis-server of our own, started here on loopback
 * (TCP, and a unix socket), stopped by PID at the end.
 *
 * Two kinds of check, each timed on its own:
 *  - "new": a triplet never seen (the costliest common path: the network's
 *    allow entry and the triplet read, the triplet written);
 *  - "known": a triplet that passed before (two reads, no write).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "policy/state/greylist.h"
#include "policy/state/store.h"

#define THREADS 4
#define SECONDS 2.0
#define MAX_SAMPLES 400000
#define T0 ((time_t)1800000000)

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct worker {
    struct store *s;
    int id;
    bool known; /* check triplets that passed before */
    double end;
    double *lat; /* seconds per check */
    size_t n;
    long errors;
};

static void triplet_of(struct worker *w, size_t i, struct greylist_triplet *t, char rcpt[64])
{
    char ip[32];

    snprintf(ip, sizeof ip, "10.%d.%zu.%zu", w->id, (i >> 8) & 255, i & 255);
    ipaddr_parse(ip, &t->client);
    snprintf(rcpt, 64, "user%zu@rcpt.example", i);
    t->sender = "sender@bench.example";
    t->rcpt = rcpt;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct greylist_params p;
    struct greylist_outcome o;
    struct greylist_triplet t;
    char rcpt[64];

    greylist_params_init(&p);
    for (size_t i = 0; w->n < MAX_SAMPLES && now_s() < w->end; i++) {
        double t0;
        triplet_of(w, w->known ? i % 512 : i, &t, rcpt);
        t0 = now_s();
        /* "known": the first 512 triplets passed in the warm-up; time passes 6 min a round. */
        if (greylist_check(w->s, T0 + 360 * (time_t)(w->known ? 2 : 0), &t, &p, &o) == GREYLIST_ERROR)
            w->errors++;
        w->lat[w->n++] = now_s() - t0;
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Make the first 512 triplets of each thread "passed" for the known runs. */
static void warm_up(struct store *s, int threads)
{
    struct greylist_params p;
    struct greylist_outcome o;
    struct greylist_triplet t;
    struct worker w = {.s = s};
    char rcpt[64];

    greylist_params_init(&p);
    p.autoallow_passes = 0;
    for (w.id = 0; w.id < threads; w.id++)
        for (size_t i = 0; i < 512; i++) {
            triplet_of(&w, i, &t, rcpt);
            greylist_check(s, T0, &t, &p, &o);
            greylist_check(s, T0 + 360, &t, &p, &o);
        }
}

static void run(struct store *s, const char *backend, int threads, bool known)
{
    struct worker w[THREADS];
    pthread_t tid[THREADS];
    double start = now_s(), elapsed, *all;
    size_t total = 0;
    long errors = 0;

    for (int i = 0; i < threads; i++) {
        w[i] = (struct worker){
            .s = s, .id = i + (known ? 0 : 100 + 10 * threads), .known = known, .end = start + SECONDS};
        w[i].lat = malloc(MAX_SAMPLES * sizeof *w[i].lat);
        if (w[i].lat == NULL || pthread_create(&tid[i], NULL, work, &w[i]) != 0)
            exit(1);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        total += w[i].n;
        errors += w[i].errors;
    }
    elapsed = now_s() - start;
    all = malloc(total * sizeof *all);
    if (all == NULL)
        exit(1);
    total = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + total, w[i].lat, w[i].n * sizeof *all);
        total += w[i].n;
        free(w[i].lat);
    }
    qsort(all, total, sizeof *all, cmp_double);
    printf("bench: greylist %s %s, %d thread%s: %.0f checks/s\n", known ? "known" : "new", backend, threads,
           threads > 1 ? "s" : "", (double)total / elapsed);
    printf("bench: greylist %s %s, %d thread%s, latency p50: %.1f us\n", known ? "known" : "new", backend,
           threads, threads > 1 ? "s" : "", all[total / 2] * 1e6);
    printf("bench: greylist %s %s, %d thread%s, latency p99: %.1f us\n", known ? "known" : "new", backend,
           threads, threads > 1 ? "s" : "", all[total * 99 / 100] * 1e6);
    if (errors > 0)
        printf("# %ld checks failed\n", errors);
    free(all);
}

static void bench_backend(struct store_config *cfg, const char *name)
{
    const char *error;
    struct store *s;

    snprintf(cfg->prefix, sizeof cfg->prefix, "%s:", name); /* the Redis runs share a server */
    s = store_open(cfg, &error);

    if (s == NULL) {
        printf("# %s: %s\n", name, error);
        return;
    }
    warm_up(s, THREADS);
    for (int known = 0; known <= 1; known++) {
        run(s, name, 1, known);
        run(s, name, THREADS, known);
    }
    store_close(s);
}

/* A free loopback port: the kernel's choice for a socket we close again. */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static pid_t start_redis(const char *dir, const char *sock, int port)
{
    char portstr[16], log[300];
    pid_t pid;

    snprintf(portstr, sizeof portstr, "%d", port);
    snprintf(log, sizeof log, "%s/redis.log", dir);
    pid = fork();
    if (pid == 0) {
        execlp("redis-server", "redis-server", "--port", portstr, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", dir, "--unixsocket", sock, "--daemonize", "no", "--logfile",
               log, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; pid > 0 && i < 50 && access(sock, F_OK) != 0; i++)
        usleep(100000);
    return pid;
}

int main(void)
{
    char dir[] = "/tmp/mxg-bench_store.XXXXXX", cmd[64];
    struct store_config cfg;
    int port = free_port();
    pid_t redis;

    if (mkdtemp(dir) == NULL)
        return 1;
    printf("# greylist checks, %d threads for %.0f s per run; LMDB in %s\n", THREADS, SECONDS, dir);
    store_config_init(&cfg);
    snprintf(cfg.path, sizeof cfg.path, "%s/state.lmdb", dir);
    bench_backend(&cfg, "lmdb");
    /* lmdb-sync=data: one flush a commit instead of two, in a file of its own. */
    snprintf(cfg.path, sizeof cfg.path, "%s/state-data.lmdb", dir);
    cfg.sync_data_only = true;
    bench_backend(&cfg, "lmdb-sync-data");

    store_config_init(&cfg);
    cfg.backend = STORE_REDIS;
    cfg.pool_size = THREADS;
    snprintf(cfg.socket, sizeof cfg.socket, "%s/redis.sock", dir);
    redis = start_redis(dir, cfg.socket, port);
    if (redis > 0 && access(cfg.socket, F_OK) == 0) {
        bench_backend(&cfg, "redis-unix");
        cfg.socket[0] = '\0';
        cfg.port = port;
        bench_backend(&cfg, "redis-tcp");
    } else {
        printf("# redis-server did not start\n");
    }
    if (redis > 0) {
        kill(redis, SIGTERM);
        waitpid(redis, NULL, 0);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
