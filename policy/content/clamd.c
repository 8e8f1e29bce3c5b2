/*
 * clamd.c: clamd's INSTREAM protocol, streamed while the MTA passes the
 * message, bounded in time, size and reply length.
 *
 * Must never call a message clean unless clamd said "stream: OK" for the
 * whole of it, never block past the timeout on any wait, never hold the
 * message in memory beyond one chunk, and never let a byte from clamd
 * into a name unsanitised. No SIGPIPE: sends use MSG_NOSIGNAL.
 */
#include "policy/content/clamd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "policy/monotime.h"

struct clamd_scan {
    const struct clamd_config *cfg;  /* NULL: none configured */
    bool tempfail;
    int fd;                          /* -1: not connected */
    bool started;                    /* the stream was opened (or failed to open) */
    enum clamd_verdict verdict;
    char name[CLAMD_NAME_MAX];       /* FOUND: the virus; ERROR: the reason */
    size_t sent;                     /* message bytes streamed */
    long long wait_us;               /* time spent waiting on clamd */
    size_t buflen;
    unsigned char *buf;              /* 4 + CLAMD_CHUNK: the chunk being filled, after room for its
                                        length; only while a stream is open (no clamd: none) */
    bool in_body;                    /* the blank line after the headers was written */
    bool eicar_seen;                 /* cfg->eicar_only: the test string went by */
    size_t tail_len;                 /* ... and the stream's last bytes, to find it across writes */
    char tail[80];
};

/* The EICAR anti-virus test file (eicar.org), 68 bytes. */
static const char eicar[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/* --- configuration ----------------------------------------------------- */

static int parse_inet(struct clamd_config *cfg, const char *rest, int family, char *err, size_t errsz)
{
    struct addrinfo hints = { 0 }, *res = NULL;
    char port[16], host[200];
    const char *at = strchr(rest, '@');
    int rc;

    if (at == NULL || at == rest || (size_t)(at - rest) >= sizeof port || at[1] == '\0' ||
        strlen(at + 1) >= sizeof host) {
        snprintf(err, errsz, "--clamd %s: expected inet:PORT@HOST", cfg->spec);
        return -1;
    }
    memcpy(port, rest, (size_t)(at - rest));
    port[at - rest] = '\0';
    snprintf(host, sizeof host, "%s", at + 1);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') { /* inet6:PORT@[::1] */
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
        snprintf(err, errsz, "--clamd %s: %s", cfg->spec, gai_strerror(rc));
        return -1;
    }
    memcpy(&cfg->addr, res->ai_addr, res->ai_addrlen);
    cfg->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int clamd_config_parse(struct clamd_config *cfg, const char *spec, int timeout_ms, char *err, size_t errsz)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->timeout_ms = timeout_ms > 0 ? timeout_ms : CLAMD_DEFAULT_TIMEOUT_MS;
    cfg->max_stream = CLAMD_DEFAULT_MAX_STREAM;
    if (strlen(spec) >= sizeof cfg->spec) {
        snprintf(err, errsz, "--clamd: longer than %zu bytes", sizeof cfg->spec - 1);
        return -1;
    }
    snprintf(cfg->spec, sizeof cfg->spec, "%s", spec);
    if (strncmp(spec, "unix:", 5) == 0 || spec[0] == '/') {
        struct sockaddr_un *un = (struct sockaddr_un *)&cfg->addr;
        const char *path = spec[0] == '/' ? spec : spec + 5;
        if (path[0] != '/' || strlen(path) >= sizeof un->sun_path) {
            snprintf(err, errsz, "--clamd %s: expected unix:/absolute/path (at most %zu bytes)", spec,
                     sizeof un->sun_path - 1);
            return -1;
        }
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, path, strlen(path) + 1);
        cfg->addrlen = sizeof *un;
        return 0;
    }
    if (strncmp(spec, "inet:", 5) == 0)
        return parse_inet(cfg, spec + 5, AF_INET, err, errsz);
    if (strncmp(spec, "inet6:", 6) == 0)
        return parse_inet(cfg, spec + 6, AF_INET6, err, errsz);
    snprintf(err, errsz, "--clamd %s: expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST", spec);
    return -1;
}

/* --- replies ------------------------------------------------------------ */

size_t clamd_sanitise(const char *in, size_t len, char *name, size_t namesz)
{
    size_t n = 0;

    if (namesz == 0)
        return 0;
    for (size_t i = 0; i < len && n + 1 < namesz; i++) {
        unsigned char ch = (unsigned char)in[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  strchr(".-_+", ch) != NULL;
        name[n++] = ok && ch != '\0' ? (char)ch : '_';
    }
    name[n] = '\0';
    return n;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);

    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

enum clamd_verdict clamd_parse_reply(const char *reply, size_t len, char *name, size_t namesz)
{
    static const char prefix[] = "stream: ";
    const size_t plen = sizeof prefix - 1;

    if (namesz > 0)
        name[0] = '\0';
    while (len > 0 && (reply[len - 1] == '\0' || reply[len - 1] == '\n' || reply[len - 1] == '\r'))
        len--;
    if (len > 0 && memchr(reply, '\0', len) != NULL) {
        clamd_sanitise("malformed reply (a NUL inside)", 30, name, namesz);
        return CLAMD_ERROR;
    }
    if (ends_with(reply, len, " ERROR")) { /* "stream: ... ERROR" or "INSTREAM size limit exceeded. ERROR" */
        size_t start = len >= plen && memcmp(reply, prefix, plen) == 0 ? plen : 0;
        clamd_sanitise(reply + start, len - start - 6, name, namesz);
        return CLAMD_ERROR;
    }
    if (len < plen || memcmp(reply, prefix, plen) != 0) {
        clamd_sanitise("malformed reply", 15, name, namesz);
        return CLAMD_ERROR;
    }
    if (len == plen + 2 && memcmp(reply + plen, "OK", 2) == 0)
        return CLAMD_CLEAN;
    if (ends_with(reply, len, " FOUND") && len > plen + 6) {
        clamd_sanitise(reply + plen, len - plen - 6, name, namesz);
        return CLAMD_FOUND;
    }
    clamd_sanitise("malformed reply", 15, name, namesz);
    return CLAMD_ERROR;
}

/* --- the stream --------------------------------------------------------- */

struct clamd_scan *clamd_scan_new(const struct clamd_config *cfg, bool tempfail)
{
    struct clamd_scan *s = calloc(1, sizeof *s);

    if (s == NULL)
        return NULL;
    s->cfg = cfg;
    s->tempfail = tempfail;
    s->fd = -1;
    return s;
}

void clamd_scan_reset(struct clamd_scan *s)
{
    if (s == NULL)
        return;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    free(s->buf);
    s->buf = NULL;
    s->started = false;
    s->verdict = CLAMD_PENDING;
    s->name[0] = '\0';
    s->sent = 0;
    s->wait_us = 0;
    s->buflen = 0;
    s->in_body = false;
    s->eicar_seen = false;
    s->tail_len = 0;
}

void clamd_scan_free(struct clamd_scan *s)
{
    if (s == NULL)
        return;
    clamd_scan_reset(s);
    free(s);
}

static void fail(struct clamd_scan *s, const char *why, int err)
{
    if (s->verdict == CLAMD_ERROR)
        return;
    s->verdict = CLAMD_ERROR;
    if (err != 0)
        snprintf(s->name, sizeof s->name, "%s: %s", why, strerror(err));
    else
        snprintf(s->name, sizeof s->name, "%s", why);
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

/* Wait for fd to be ready for events; 1 ready, 0 timed out, -1 error. */
static int wait_fd(struct clamd_scan *s, short events)
{
    struct pollfd pfd = { .fd = s->fd, .events = events };
    long long t0 = monotime_us();
    int rc;

    do
        rc = poll(&pfd, 1, s->cfg->timeout_ms);
    while (rc < 0 && errno == EINTR);
    s->wait_us += monotime_us() - t0;
    if (rc > 0 && (pfd.revents & (POLLERR | POLLNVAL)) && !(pfd.revents & events))
        return -1;
    return rc;
}

static int open_stream(struct clamd_scan *s)
{
    int fd, err = 0;
    socklen_t errlen = sizeof err;

    s->started = true;
    if (s->cfg == NULL) {
        fail(s, "no clamd configured (--clamd)", 0);
        return -1;
    }
    if ((s->buf = malloc(4 + CLAMD_CHUNK)) == NULL) {
        fail(s, "out of memory", 0);
        return -1;
    }
    fd = socket(s->cfg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail(s, "socket", errno);
        return -1;
    }
    s->fd = fd;
    if (connect(fd, (const struct sockaddr *)&s->cfg->addr, s->cfg->addrlen) < 0) {
        if (errno != EINPROGRESS && errno != EAGAIN) {
            fail(s, "cannot connect to clamd", errno);
            return -1;
        }
        if (wait_fd(s, POLLOUT) <= 0) {
            fail(s, "clamd did not accept the connection in time", 0);
            return -1;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0 || err != 0) {
            fail(s, "cannot connect to clamd", err != 0 ? err : errno);
            return -1;
        }
    }
    return 0;
}

/* Send all of buf, each wait bounded by the timeout. */
static int send_all(struct clamd_scan *s, const void *buf, size_t len)
{
    const unsigned char *p = buf;

    while (len > 0 && s->fd >= 0) {
        ssize_t n = send(s->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int ready = wait_fd(s, POLLOUT);
            if (ready > 0)
                continue;
            if (ready == 0)
                fail(s, "clamd did not read the stream in time", 0);
            return -1; /* else closed while we waited (POLLERR): the caller reads why */
        }
        /* clamd closed (its StreamMaxLength, say): what it said, if it said anything. */
        return -1;
    }
    return s->fd >= 0 ? 0 : -1;
}

static int flush_chunk(struct clamd_scan *s)
{
    uint32_t n = htonl((uint32_t)s->buflen);

    if (s->buflen == 0)
        return 0;
    memcpy(s->buf, &n, 4);
    if (send_all(s, s->buf, 4 + s->buflen) < 0)
        return -1;
    s->buflen = 0;
    return 0;
}

static void read_verdict(struct clamd_scan *s);

/* The test world's scanner: the EICAR string anywhere in the stream, even split across writes. */
static void eicar_scan(struct clamd_scan *s, const unsigned char *p, size_t len)
{
    const size_t keep = sizeof eicar - 2; /* one byte short of a whole string */

    while (len > 0 && !s->eicar_seen) {
        size_t n = len < sizeof s->tail - s->tail_len ? len : sizeof s->tail - s->tail_len;
        memcpy(s->tail + s->tail_len, p, n);
        s->tail_len += n;
        p += n;
        len -= n;
        s->eicar_seen = memmem(s->tail, s->tail_len, eicar, sizeof eicar - 1) != NULL;
        if (s->tail_len > keep) {
            memmove(s->tail, s->tail + s->tail_len - keep, keep);
            s->tail_len = keep;
        }
    }
}

void clamd_scan_write(struct clamd_scan *s, const void *buf, size_t len)
{
    const unsigned char *p = buf;

    if (s == NULL || s->verdict != CLAMD_PENDING)
        return;
    if (s->cfg != NULL && s->cfg->eicar_only) {
        s->started = true;
        s->sent += len;
        eicar_scan(s, p, len);
        return;
    }
    if (!s->started && (open_stream(s) < 0 || send_all(s, "zINSTREAM", 10) < 0)) {
        fail(s, "cannot start the stream", 0);
        return;
    }
    if (s->sent + len > s->cfg->max_stream) {
        char why[96];
        snprintf(why, sizeof why, "the message is larger than the %zu bytes clamd is sent", s->cfg->max_stream);
        fail(s, why, 0);
        return;
    }
    s->sent += len;
    while (len > 0) {
        size_t room = CLAMD_CHUNK - s->buflen, n = len < room ? len : room;
        memcpy(s->buf + 4 + s->buflen, p, n);
        s->buflen += n;
        p += n;
        len -= n;
        if (s->buflen == CLAMD_CHUNK && flush_chunk(s) < 0) {
            read_verdict(s); /* clamd may have said why it stopped reading */
            fail(s, "clamd closed the stream", 0);
            return;
        }
    }
}

void clamd_scan_header(struct clamd_scan *s, const char *name, const char *value, bool leadspace)
{
    clamd_scan_write(s, name, strlen(name));
    clamd_scan_write(s, leadspace ? ":" : ": ", leadspace ? 1 : 2);
    clamd_scan_write(s, value, strlen(value));
    clamd_scan_write(s, "\r\n", 2);
}

void clamd_scan_body(struct clamd_scan *s, const void *buf, size_t len)
{
    if (s == NULL)
        return;
    if (!s->in_body) {
        s->in_body = true;
        clamd_scan_write(s, "\r\n", 2);
    }
    clamd_scan_write(s, buf, len);
}

/* Read the reply up to its NUL (or clamd's close), within the timeout. */
static void read_verdict(struct clamd_scan *s)
{
    char reply[CLAMD_REPLY_MAX];
    size_t len = 0;

    if (s->fd < 0)
        return;
    while (len < sizeof reply) {
        ssize_t n = recv(s->fd, reply + len, sizeof reply - len, 0);
        if (n > 0) {
            len += (size_t)n;
            if (memchr(reply + len - (size_t)n, '\0', (size_t)n) != NULL)
                break;
            continue;
        }
        if (n == 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            fail(s, "reading clamd's verdict failed", errno);
            return;
        }
        if (wait_fd(s, POLLIN) <= 0) {
            fail(s, "clamd gave no verdict in time", 0);
            return;
        }
    }
    if (len == sizeof reply && memchr(reply, '\0', len) == NULL) {
        fail(s, "clamd's reply is too long", 0);
        return;
    }
    if (len == 0) {
        fail(s, "clamd closed the connection without a verdict", 0);
        return;
    }
    s->verdict = clamd_parse_reply(reply, strnlen(reply, len), s->name, sizeof s->name);
    close(s->fd);
    s->fd = -1;
}

enum clamd_verdict clamd_scan_finish(struct clamd_scan *s)
{
    static const unsigned char end[4] = { 0, 0, 0, 0 };

    if (s == NULL)
        return CLAMD_ERROR;
    if (s->verdict != CLAMD_PENDING)
        return s->verdict;
    if (s->cfg != NULL && s->cfg->eicar_only) {
        s->verdict = s->eicar_seen ? CLAMD_FOUND : CLAMD_CLEAN;
        snprintf(s->name, sizeof s->name, "%s", s->eicar_seen ? CLAMD_EICAR_NAME : "");
        return s->verdict;
    }
    if (!s->in_body)
        clamd_scan_body(s, "", 0); /* the blank line: a message without a body (or with nothing at all) */
    if (s->verdict == CLAMD_PENDING && (flush_chunk(s) < 0 || send_all(s, end, 4) < 0)) {
        read_verdict(s);
        fail(s, "clamd closed the stream", 0);
    }
    if (s->verdict == CLAMD_PENDING)
        read_verdict(s);
    if (s->verdict == CLAMD_PENDING)
        fail(s, "clamd gave no verdict", 0);
    return s->verdict;
}

enum clamd_verdict clamd_scan_verdict(const struct clamd_scan *s) { return s ? s->verdict : CLAMD_ERROR; }
const char *clamd_scan_name(const struct clamd_scan *s) { return s ? s->name : ""; }
bool clamd_scan_tempfail(const struct clamd_scan *s) { return s != NULL && s->tempfail; }
size_t clamd_scan_bytes(const struct clamd_scan *s) { return s ? s->sent : 0; }
long long clamd_scan_wait_us(const struct clamd_scan *s) { return s ? s->wait_us : 0; }
