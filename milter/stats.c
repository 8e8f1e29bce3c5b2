/*
 * stats.c: `mxguard --stats`: one HTTP/1.0 GET /metrics to the running
 * daemon's endpoint, then stats_print (stats_print.c).
 *
 * The endpoint is the one source of truth: no second listener or socket
 * to secure. Must never wait forever (5 s per step), nor read more than
 * STATS_MAX bytes of an answer.
 */
#include "milter/stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "milter/listen_addr.h"

#define STATS_MAX (16u << 20)
#define STATS_TIMEOUT_S 5

/* The whole answer into *buf (NUL-terminated). 0, or -1 with a message on stderr. */
static int fetch(const struct listen_addr *a, char **buf, size_t *len)
{
    struct timeval tv = { STATS_TIMEOUT_S, 0 };
    char req[160];
    size_t cap = 65536, n = 0;
    ssize_t got;
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || (*buf = malloc(cap)) == NULL) {
        fprintf(stderr, "mxguard --stats: %s\n", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv); /* bounds connect() too */
    snprintf(req, sizeof req, "GET /metrics HTTP/1.0\r\nHost: %s\r\nAccept: text/plain\r\n\r\n", a->text);
    if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
        fprintf(stderr, "mxguard --stats: nothing answers on %s (%s): is mxguard running with "
                        "--metrics-listen %s?\n", a->text, strerror(errno), a->text);
        goto fail;
    }
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        fprintf(stderr, "mxguard --stats: %s: cannot send the request: %s\n", a->text, strerror(errno));
        goto fail;
    }
    while ((got = read(fd, *buf + n, cap - n - 1)) > 0) {
        n += (size_t)got;
        if (n + 1 == cap) {
            char *p = cap < STATS_MAX ? realloc(*buf, cap * 2) : NULL;
            if (p == NULL) {
                fprintf(stderr, "mxguard --stats: %s: answer too large\n", a->text);
                goto fail;
            }
            *buf = p;
            cap *= 2;
        }
    }
    if (got < 0) {
        fprintf(stderr, "mxguard --stats: %s: no complete answer: %s\n", a->text, strerror(errno));
        goto fail;
    }
    close(fd);
    (*buf)[n] = '\0';
    *len = n;
    return 0;
fail:
    close(fd);
    free(*buf);
    return -1;
}

int stats_run(const char *spec, FILE *out)
{
    struct listen_addr a;
    const char *error;
    char *buf, *body;
    size_t len;
    int rc;

    if (listen_addr_parse(spec != NULL ? spec : LISTEN_ADDR_DEFAULT, &a, &error) < 0) {
        fprintf(stderr, "mxguard --stats: --metrics-listen %s: %s\n", spec, error);
        return 1;
    }
    if (fetch(&a, &buf, &len) < 0)
        return 1;
    if (strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 8, " 200", 4) != 0 ||
        (body = strstr(buf, "\r\n\r\n")) == NULL) {
        fprintf(stderr, "mxguard --stats: %s answered, but not with metrics: %.*s\n", a.text,
                (int)strcspn(buf, "\r\n"), buf);
        free(buf);
        return 1;
    }
    rc = stats_print(body + 4, a.text, out);
    if (rc < 0)
        fprintf(stderr, "mxguard --stats: %s answered without mxguard's metrics\n", a.text);
    free(buf);
    return rc < 0 ? 1 : 0;
}
