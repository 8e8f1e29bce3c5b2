/*
 * bench_lists.c: how list size affects load time, memory and lookup time.
 *
 * For each kind (networks, domains, addresses) and size (1e3 .. 1e6) it
 * writes a list file, then in a fresh child process loads a rule set that
 * uses it and times lookups through ruleset_eval, the path a session
 * takes. Prints one line per run and, per kind, the ratio of the lookup
 * time at the largest size to that at the smallest.
 *
 * Two lookup patterns, each half listed and half unlisted keys:
 *  - "warm": 1,024 distinct keys, like the clients and domains a gateway
 *    sees within a few seconds; the target (2x) is checked on this one;
 *  - "cold": 65,536 distinct keys spread over the whole list, so a large
 *    list pays a DRAM miss or two per lookup that a small one, held in
 *    the CPU caches, does not. Printed for honesty; no target.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "policy/smtp/envelope.h"
#include "rules/ruleset.h"

#define QUERIES 65536          /* distinct lookup keys */
#define ROUNDS 16              /* passes over them */
#define WARM 1024              /* distinct keys of the warm pattern */

enum kind { K_NETWORKS, K_DOMAINS, K_ADDRESSES };
static const char *kind_names[] = { "networks", "domains", "addresses" };

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Entry i of a kind, as text; the same i always gives the same entry. */
static void entry(enum kind k, uint64_t i, char *out, size_t outsz)
{
    uint64_t h = i * 0x9e3779b97f4a7c15ull;
    switch (k) {
    case K_NETWORKS:
        if (i % 4 == 0) /* a quarter IPv6 /48s, the rest IPv4 /32s and /24s */
            snprintf(out, outsz, "2001:db8:%x::/48", (unsigned)(h >> 48) & 0xffff);
        else if (i % 4 == 1)
            snprintf(out, outsz, "%u.%u.%u.0/24", (unsigned)(h >> 56) | 1, (unsigned)(h >> 48) & 255,
                     (unsigned)(h >> 40) & 255);
        else
            snprintf(out, outsz, "%u.%u.%u.%u", (unsigned)(h >> 56) | 1, (unsigned)(h >> 48) & 255,
                     (unsigned)(h >> 40) & 255, (unsigned)(h >> 32) & 255);
        break;
    case K_DOMAINS:
        snprintf(out, outsz, "host%llx.example%u.test", (unsigned long long)(h >> 20), (unsigned)(i % 97));
        break;
    case K_ADDRESSES:
        snprintf(out, outsz, "user%llx@example%u.test", (unsigned long long)(h >> 20), (unsigned)(i % 97));
        break;
    }
}

static int write_files(const char *dir, enum kind k, long n)
{
    char path[512], e[128];
    FILE *f;

    snprintf(path, sizeof path, "%s/list", dir);
    if ((f = fopen(path, "w")) == NULL)
        return -1;
    for (long i = 0; i < n; i++) {
        entry(k, (uint64_t)i, e, sizeof e);
        fprintf(f, "%s\n", e);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/bench.rules", dir);
    if ((f = fopen(path, "w")) == NULL)
        return -1;
    fprintf(f, "list big %s file \"list\";\non rcpt {\n    reject 554 5.7.1 \"listed\" if %s in <big>;\n}\n",
            kind_names[k], k == K_NETWORKS ? "client.address" : k == K_DOMAINS ? "recipient.domain" : "recipient");
    fclose(f);
    return 0;
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Build the query envelopes: half listed entries, half unlisted. */
static struct envelope *queries(enum kind k, long n)
{
    struct envelope *q = calloc(QUERIES, sizeof *q);
    char e[160], path[200];

    for (long i = 0; q != NULL && i < QUERIES; i++) {
        bool hit = i % 2 == 0;
        uint64_t idx = hit ? next_rand() % (uint64_t)n : (uint64_t)n + next_rand() % 1000000000ull;
        struct ipaddr ip;
        envelope_init(&q[i]);
        entry(k, idx, e, sizeof e);
        if (k == K_NETWORKS) {
            char *slash = strchr(e, '/');
            if (slash) {
                *slash = '\0';
                if (strchr(e, ':'))
                    strcat(e, "1"); /* 2001:db8:x:: -> 2001:db8:x::1 */
                else
                    e[strlen(e) - 1] = '9';
            }
            ipaddr_parse(e, &ip);
            envelope_set_client(&q[i], "bench", &ip);
            envelope_set_rcpt(&q[i], "<x@y.test>");
        } else {
            snprintf(path, sizeof path, k == K_DOMAINS ? "<u@%s>" : "<%s>", e);
            envelope_set_rcpt(&q[i], path);
        }
    }
    return q;
}

static int run_one(const char *dir, enum kind k, long n)
{
    char path[512];
    struct diag diag;
    struct ruleset *rs;
    struct envelope *q;
    struct verdict v;
    double t0, t_load, t_lookup, t_cold;
    long rss0, hits = 0;

    if (write_files(dir, k, n) < 0)
        return 1;
    snprintf(path, sizeof path, "%s/bench.rules", dir);
    q = queries(k, n);
    rss0 = maxrss_kb();
    diag_init(&diag);
    t0 = now();
    rs = ruleset_load(path, &diag);
    t_load = now() - t0;
    if (rs == NULL || q == NULL) {
        diag_print(&diag, stderr);
        return 1;
    }
    /* Warm: WARM keys, many passes. Cold: all QUERIES keys. */
    for (int r = 0; r < 4 * ROUNDS * (QUERIES / WARM); r++)
        for (long i = 0; i < WARM; i++)
            ruleset_eval(rs, STAGE_RCPT, &q[i], &v);
    t0 = now();
    for (int r = 0; r < ROUNDS * (QUERIES / WARM); r++)
        for (long i = 0; i < WARM; i++) {
            ruleset_eval(rs, STAGE_RCPT, &q[i], &v);
            hits += v.action == ACTION_REJECT;
        }
    t_lookup = (now() - t0) / ((double)ROUNDS * QUERIES);
    for (long i = 0; i < QUERIES; i++)
        ruleset_eval(rs, STAGE_RCPT, &q[i], &v);
    t0 = now();
    for (int r = 0; r < ROUNDS; r++)
        for (long i = 0; i < QUERIES; i++)
            ruleset_eval(rs, STAGE_RCPT, &q[i], &v);
    t_cold = (now() - t0) / ((double)ROUNDS * QUERIES);
    printf("bench: lists %-9s %8ld entries: load %6.3f s, memory %6.1f MB, lookup warm %6.1f ns, cold %6.1f ns (%.0f%% hits)\n",
           kind_names[k], n, t_load, (double)(maxrss_kb() - rss0) / 1024.0, t_lookup * 1e9,
           t_cold * 1e9, 100.0 * (double)hits / ((double)ROUNDS * QUERIES));
    fflush(stdout);
    /* The child writes its lookup time for the parent's ratio. */
    snprintf(path, sizeof path, "%s/result", dir);
    FILE *f = fopen(path, "w");
    if (f != NULL) {
        fprintf(f, "%.3f %.6f %.3f\n", t_lookup * 1e9, t_load, t_cold * 1e9);
        fclose(f);
    }
    return 0;
}

int main(int argc, char **argv)
{
    long sizes[] = { 1000, 10000, 100000, 1000000 };
    int nsizes = 4, rc = 0;
    char dir[] = "/tmp/mxg-bench-lists.XXXXXX";

    if (argc > 1 && strcmp(argv[1], "--quick") == 0)
        nsizes = 2;
    if (mkdtemp(dir) == NULL)
        return 1;
    for (int k = 0; k < 3; k++) {
        double first = 0, last = 0, load_last = 0, cold_first = 0, cold_last = 0;
        for (int s = 0; s < nsizes; s++) {
            pid_t pid;
            fflush(stdout); /* or the child prints the parent's buffer again */
            pid = fork();
            int status;
            char path[600];
            FILE *f;
            (void)pid;
            if (pid == 0)
                _exit(run_one(dir, (enum kind)k, sizes[s]));
            waitpid(pid, &status, 0);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                rc = 1;
                continue;
            }
            snprintf(path, sizeof path, "%s/result", dir);
            if ((f = fopen(path, "r")) != NULL) {
                double ns, load, cold;
                if (fscanf(f, "%lf %lf %lf", &ns, &load, &cold) == 3) {
                    if (s == 0) {
                        first = ns;
                        cold_first = cold;
                    }
                    last = ns;
                    cold_last = cold;
                    load_last = load;
                }
                fclose(f);
            }
        }
        if (first > 0) {
            double ratio = last / first;
            printf("bench: lists-%s-lookup-ratio: %.2f x (%ld vs %ld entries, warm) (target <= 2.00): %s\n",
                   kind_names[k], ratio, sizes[nsizes - 1], sizes[0], ratio <= 2.0 ? "ok" : "MISS");
            printf("# lists-%s cold lookups (every key a cache miss at large sizes): %.2f x\n",
                   kind_names[k], cold_last / cold_first);
            printf("bench: lists-%s-load-%ld: %.2f s (target <= 1.50): %s\n", kind_names[k],
                   sizes[nsizes - 1], load_last, load_last <= 1.5 ? "ok" : "MISS");
        }
    }
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            rc = 1;
    }
    return rc;
}
