/*
 * spf_eval.c: runs SPF evaluations through mxguard's SPF path (the
 * shared resolver forwarding to a test DNS server, libspf2, our limits),
 * one per input line, so one process serves a whole list of cases.
 *
 *   spf_eval --dns 127.0.0.1@PORT [--deadline MS] [--timeout MS]
 *            [--void-max N] [--txt-max N] [--receiver NAME] [--threads N] [--header] [--time]
 *
 * Input lines: IP <TAB> HELO <TAB> MAILFROM <TAB> mailfrom|helo (fields may be
 * empty). Output, one line each: RESULT <TAB> EXPLANATION <TAB> PROBLEM, then
 * the Received-SPF value with --header and the milliseconds taken with --time.
 * --threads N evaluates each case again on N threads at once (one checker,
 * as the daemon shares it); a thread that gets another result than the
 * first evaluation turns the result into "thread-mismatch".
 * Test tool only: it trusts its command line, never its input lines.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/auth/spf.h"

struct options {
    struct dns_config dns;
    struct spf_limits lim;
    const char *receiver;
    bool header, timing;
    int threads;
};

#define THREADS_MAX 32

static int parse_args(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof *o);
    o->dns.mode = DNS_MODE_FORWARD;
    o->dns.query_timeout_ms = 2000;
    o->receiver = "mx.receiver.test";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--header") == 0 || strcmp(a, "--time") == 0) {
            *(a[2] == 'h' ? &o->header : &o->timing) = true;
            continue;
        }
        if (v == NULL)
            return -1;
        else if (strcmp(a, "--dns") == 0 && o->dns.nforwarders < 8)
            o->dns.forwarders[o->dns.nforwarders++] = v;
        else if (strcmp(a, "--deadline") == 0)
            o->lim.deadline_ms = atoi(v);
        else if (strcmp(a, "--timeout") == 0)
            o->dns.query_timeout_ms = atoi(v);
        else if (strcmp(a, "--void-max") == 0)
            o->lim.void_max = (unsigned)atoi(v);
        else if (strcmp(a, "--txt-max") == 0)
            o->lim.txt_max = (size_t)atol(v);
        else if (strcmp(a, "--receiver") == 0)
            o->receiver = v;
        else if (strcmp(a, "--threads") == 0)
            o->threads = atoi(v) < THREADS_MAX ? atoi(v) : THREADS_MAX;
        else
            return -1;
        i++;
    }
    return o->dns.nforwarders > 0 ? 0 : -1;
}

/* Split a line at tabs into n fields (missing ones empty). */
static void split(char *line, char **f, int n)
{
    line[strcspn(line, "\r\n")] = '\0';
    for (int i = 0; i < n; i++) {
        f[i] = line;
        char *t = line != NULL ? strchr(line, '\t') : NULL;
        if (t != NULL)
            *t = '\0';
        line = t != NULL ? t + 1 : NULL;
        if (f[i] == NULL)
            f[i] = "";
    }
}

static double now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

struct job {
    struct spf_checker *c;
    struct ipaddr ip;
    const char *helo, *sender;
    enum spf_identity id;
    struct spf_outcome out;
};

static void *run_job(void *arg)
{
    struct job *j = arg;

    spf_check(j->c, &j->ip, j->helo, j->sender, j->id, &j->out);
    return NULL;
}

/* The same case on n threads at once: do they all agree with want? */
static bool threads_agree(const struct job *proto, int n, const struct spf_outcome *want)
{
    struct job jobs[THREADS_MAX];
    pthread_t tid[THREADS_MAX];
    bool same = true;
    int started = 0;

    for (int i = 0; i < n; i++) {
        jobs[i] = *proto;
        if (pthread_create(&tid[i], NULL, run_job, &jobs[i]) != 0)
            break;
        started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(tid[i], NULL);
        same = same && jobs[i].out.result == want->result &&
               strcmp(jobs[i].out.explanation, want->explanation) == 0;
    }
    return same && started == n;
}

static void run_case(struct spf_checker *c, const struct options *o, char *line)
{
    char *f[4], header[2048];
    struct job j;

    split(line, f, 4);
    if (ipaddr_parse(f[0], &j.ip) < 0) {
        printf("error\tbad client address\t\n");
        return;
    }
    j.c = c;
    j.helo = f[1];
    j.sender = f[2];
    j.id = strcmp(f[3], "helo") == 0 ? SPF_ID_HELO : SPF_ID_MAILFROM;
    double t0 = now_ms();
    run_job(&j);
    double t1 = now_ms();
    bool agree = o->threads <= 0 || threads_agree(&j, o->threads, &j.out);
    printf("%s\t%s\t%s", agree ? auth_result_name(j.out.result) : "thread-mismatch", j.out.explanation,
           j.out.problem);
    if (o->header) {
        if (spf_received_value(&j.out, &j.ip, f[1], f[2], o->receiver, header, sizeof header) < 0)
            snprintf(header, sizeof header, "(too long)");
        /* One line of output a case: the header unfolded, as a reader
           sees it (the folds are test_spf's business). */
        for (char *fold; (fold = strstr(header, "\n\t")) != NULL;) {
            *fold = ' ';
            memmove(fold + 1, fold + 2, strlen(fold + 2) + 1);
        }
        printf("\t%s", header);
    }
    if (o->timing)
        printf("\t%.3f", t1 - t0);
    printf("\n");
}

int main(int argc, char **argv)
{
    struct options o;
    const char *error = NULL;
    char line[8192];

    if (parse_args(argc, argv, &o) < 0) {
        fprintf(stderr, "usage: spf_eval --dns ADDR@PORT [--deadline MS] [--timeout MS] [--void-max N] "
                        "[--txt-max N] [--receiver NAME] [--threads N] [--header] [--time]\n");
        return 2;
    }
    struct dns_resolver *r = dns_resolver_new(&o.dns, &error);
    if (r == NULL) {
        fprintf(stderr, "spf_eval: %s\n", error);
        return 1;
    }
    struct spf_checker *c = spf_checker_new(r, &o.lim, o.receiver, &error);
    if (c == NULL) {
        fprintf(stderr, "spf_eval: %s\n", error);
        dns_resolver_free(r);
        return 1;
    }
    while (fgets(line, sizeof line, stdin) != NULL) {
        run_case(c, &o, line);
        fflush(stdout);
    }
    spf_checker_free(c);
    dns_resolver_free(r);
    return 0;
}
