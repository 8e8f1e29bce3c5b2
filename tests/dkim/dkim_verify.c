/*
 * dkim_verify.c: test driver for policy/auth/dkim.c. Reads a message file and
 * feeds it to dkim_check_* as libmilter would (header name and value, end
 * of headers, body chunks of at most 64 KiB with CRLF line ends), with the
 * shared resolver forwarding to a test DNS server, and prints the outcome:
 *
 *   dkim=RESULT nsigs=N evaluated=N problem="..."
 *   sig1 result=RESULT d=D s=S a=ALG bits=N b=B problem="..."
 *   rss-growth-kb=N sanitizers=yes|no
 *   dns asked=N from_memo=N        (questions; answered by the process's memo)
 *
 *   dkim_verify --dns 127.0.0.1@PORT [--deadline MS] [--max-sigs N]
 *               [--min-bits N] [--max-headers N] [--max-header-bytes N]
 *               [--max-body N] FILE
 *   dkim_verify --ed25519      prints "ed25519=yes" or "ed25519=no"
 *
 * --threads N verifies the message in N threads at once over one checker
 * and prints "threads=N same=yes" when every outcome is the same.
 * --warmup FILE verifies FILE first, unmeasured (libraries' set-up).
 *
 * The message is streamed (headers line by line, the body in pieces), so
 * the growth of the peak RSS is what verification costs.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "policy/auth/dkim.h"
#include "tests/dkim/crlf.h"

#define CHUNK 65535 /* libmilter's MILTER_CHUNK_SIZE */
#define HEADER_MAX (1024 * 1024)

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZERS "yes"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZERS "yes"
#endif
#endif
#ifndef SANITIZERS
#define SANITIZERS "no"
#endif

static long maxrss_kb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* One unfolded-as-received header "Name:value" (CRLF between its lines). */
static int header_out(struct dkim_check *m, char *h)
{
    char *colon = strchr(h, ':');

    if (colon == NULL)
        return 0; /* not a header field: a real MTA would not pass it either */
    *colon = '\0';
    return dkim_check_header(m, h, colon + 1);
}

static int feed_headers(struct dkim_check *m, FILE *f)
{
    char *line = NULL, *h = NULL;
    size_t cap = 0, hlen = 0;
    ssize_t n;
    int rc = 0;

    if ((h = malloc(HEADER_MAX)) == NULL)
        return -1;
    while (rc == 0 && (n = getline(&line, &cap, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (hlen > 0 && (line[0] == ' ' || line[0] == '\t')) {
            if (hlen + 2 + (size_t)n + 1 > HEADER_MAX) {
                rc = -1;
                break;
            }
            memcpy(h + hlen, "\r\n", 2);
            memcpy(h + hlen + 2, line, (size_t)n + 1);
            hlen += 2 + (size_t)n;
            continue;
        }
        if (hlen > 0 && (rc = header_out(m, h)) < 0)
            break;
        hlen = 0;
        if (n == 0)
            break; /* the blank line: end of headers */
        if ((size_t)n + 1 > HEADER_MAX) {
            rc = -1;
            break;
        }
        memcpy(h, line, (size_t)n + 1);
        hlen = (size_t)n;
    }
    if (rc == 0 && hlen > 0)
        rc = header_out(m, h);
    free(line);
    free(h);
    return rc;
}

static int feed_body(struct dkim_check *m, FILE *f)
{
    static unsigned char buf[CHUNK + 1];
    int prev = '\n';
    size_t n;

    while ((n = crlf_read(f, buf, sizeof buf / 2, &prev)) > 0)
        if (dkim_check_body(m, buf, n) < 0)
            return -1;
    return 0;
}

static void print_outcome(const struct dkim_outcome *o)
{
    printf("dkim=%s nsigs=%u evaluated=%u problem=\"%s\"\n", auth_result_name(o->result), o->nsigs,
           o->nevaluated, o->problem);
    for (unsigned i = 0; i < o->nevaluated; i++) {
        const struct dkim_sig_outcome *s = &o->sig[i];
        printf("sig%u result=%s d=%s s=%s a=%s bits=%u b=%s problem=\"%s\"\n", i + 1,
               auth_result_name(s->result), s->domain, s->selector, s->algorithm, s->key_bits, s->b,
               s->problem);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: dkim_verify --dns ADDR@PORT [--deadline MS] [--max-sigs N] [--min-bits N]\n"
                    "       [--max-headers N] [--max-header-bytes N] [--max-body N] [--threads N]\n"
                    "       [--warmup FILE] FILE\n"
                    "       dkim_verify --ed25519\n");
    exit(2);
}

/* One message through one dkim_check; -1 when the file cannot be read. */
static int verify_one(struct dkim_checker *c, const char *path, struct dkim_outcome *out)
{
    struct dkim_check *m;
    FILE *f;
    int rc;

    if ((f = fopen(path, "rb")) == NULL) {
        perror(path);
        return -1;
    }
    if ((m = dkim_check_new(c, "test")) == NULL) {
        fclose(f);
        return -1;
    }
    rc = feed_headers(m, f);
    if (rc == 0)
        rc = dkim_check_eoh(m);
    if (rc == 0)
        rc = feed_body(m, f);
    if (rc < 0)
        printf("internal error while feeding (the milter would tempfail)\n");
    dkim_check_eom(m, out);
    dkim_check_free(m);
    fclose(f);
    return 0;
}

static int verify(struct dkim_checker *c, const char *path, const char *warmup)
{
    struct dkim_outcome out;
    long before;

    /* A first message pays for libopendkim's and OpenSSL's set-up. */
    if (warmup != NULL && verify_one(c, warmup, &out) < 0)
        return 2;
    before = maxrss_kb();
    if (verify_one(c, path, &out) < 0)
        return 2;
    print_outcome(&out);
    printf("rss-growth-kb=%ld sanitizers=%s\n", maxrss_kb() - before, SANITIZERS);
    return 0;
}

/* The same message in several threads at once, over the one checker as
   the daemon's milter threads share it: every outcome must be the same. */
struct worker {
    pthread_t t;
    struct dkim_checker *c;
    const char *path;
    struct dkim_outcome out;
    int rc;
};

static void *work(void *arg)
{
    struct worker *w = arg;

    w->rc = verify_one(w->c, w->path, &w->out);
    return NULL;
}

static int verify_threads(struct dkim_checker *c, const char *path, int n)
{
    struct worker *w = calloc((size_t)n, sizeof *w);
    int started = 0, same = 1;

    if (w == NULL)
        return 2;
    for (; started < n; started++) {
        w[started] = (struct worker){ .c = c, .path = path };
        if (pthread_create(&w[started].t, NULL, work, &w[started]) != 0)
            break;
    }
    for (int i = 0; i < started; i++)
        pthread_join(w[i].t, NULL);
    for (int i = 0; i < started; i++)
        if (w[i].rc != 0 || memcmp(&w[i].out, &w[0].out, sizeof w[0].out) != 0)
            same = 0;
    if (started > 0)
        print_outcome(&w[0].out);
    printf("threads=%d same=%s\n", started, started == n && same ? "yes" : "no");
    free(w);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dns", required_argument, NULL, 'n' },       { "deadline", required_argument, NULL, 'D' },
        { "max-sigs", required_argument, NULL, 's' },  { "min-bits", required_argument, NULL, 'b' },
        { "max-headers", required_argument, NULL, 'H' }, { "max-header-bytes", required_argument, NULL, 'B' },
        { "max-body", required_argument, NULL, 'y' },  { "ed25519", no_argument, NULL, 'e' },
        { "threads", required_argument, NULL, 't' },   { "warmup", required_argument, NULL, 'w' },
        { NULL, 0, NULL, 0 }
    };
    struct dns_config dc = { .mode = DNS_MODE_FORWARD, .query_timeout_ms = 1000 };
    struct dkim_limits lim = { 0 };
    struct dns_resolver *r;
    struct dkim_checker *c;
    const char *error = "", *warmup = NULL;
    bool ask_ed25519 = false;
    int opt, rc, threads = 0;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'n': dc.forwarders[dc.nforwarders++ % 8] = optarg; break;
        case 'D': lim.deadline_ms = atoi(optarg); break;
        case 's': lim.max_signatures = (unsigned)atoi(optarg); break;
        case 'b': lim.min_rsa_bits = (unsigned)atoi(optarg); break;
        case 'H': lim.max_headers = (unsigned)atoi(optarg); break;
        case 'B': lim.max_header_bytes = strtoul(optarg, NULL, 10); break;
        case 'y': lim.max_body_bytes = strtoul(optarg, NULL, 10); break;
        case 'e': ask_ed25519 = true; break;
        case 't': threads = atoi(optarg); break;
        case 'w': warmup = optarg; break;
        default: usage();
        }
    }
    if (!ask_ed25519 && (dc.nforwarders == 0 || optind + 1 != argc))
        usage();
    if (dc.nforwarders == 0)
        dc.forwarders[dc.nforwarders++] = "127.0.0.1@53"; /* never asked */
    if ((r = dns_resolver_new(&dc, &error)) == NULL || (c = dkim_checker_new(r, &lim, &error)) == NULL) {
        fprintf(stderr, "dkim_verify: %s\n", error);
        dns_resolver_free(r);
        return 2;
    }
    if (ask_ed25519) {
        printf("ed25519=%s\n", dkim_checker_ed25519(c) ? "yes" : "no");
        rc = 0;
    } else {
        rc = threads > 0 ? verify_threads(c, argv[optind], threads) : verify(c, argv[optind], warmup);
        unsigned long asked, from_memo;
        dns_resolver_counts(r, &asked, &from_memo);
        printf("dns asked=%lu from_memo=%lu\n", asked, from_memo);
    }
    dkim_checker_free(c);
    dns_resolver_free(r);
    return rc;
}
