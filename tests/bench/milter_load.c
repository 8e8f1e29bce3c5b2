/*
 * milter_load.c: a load generator that plays the MTA side of the milter
 * protocol (version 6, as postfix 3.7 speaks it) against a milter socket:
 * C concurrent connections, M messages in all, and the throughput and the
 * per-message latency (p50, p99) at the end.
 *
 * Each message is one milter session like a postfix smtpd session with
 * one message: option negotiation, the macros postfix sends, connect,
 * helo, mail, rcpt, data, headers, end of headers, body, end of message,
 * quit. Steps the filter negotiated away are not sent, steps it asked to
 * take without a reply are not waited for, macros follow the lists it
 * asked for (postfix's defaults otherwise).
 *
 * With -R every session is timed, whatever its end, and the replies are
 * counted by kind ("421 4.3.2" for a reply code, "tempfail", "ok", ...)
 * with the time to each: the overload tests' view of what the MTA saw.
 *
 * Test code: never installed, never run against anything but loopback.
 * It must never wait for a reply without a timeout, and never read more
 * from the filter than its bounded buffer holds.
 */
#include <errno.h>
#include <getopt.h>
#include <libmilter/mfapi.h> /* SMFIM_*: where macros apply */
#include <libmilter/mfdef.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LOAD_TIMEOUT_MS 30000
#define LOAD_REPLY_MAX (MILTER_CHUNK_SIZE + 1024)
#define LOAD_FLUSH 4096 /* postfix's VSTREAM buffer: written out when full */
#define LOAD_NWHERE 7 /* SMFIM_CONNECT .. SMFIM_EOH */
#define LOAD_NR_ALL (SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT | \
                     SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_NR_HDR)
/* What we offer: every step, every "no reply", skip, leading spaces. */
#define LOAD_OFFER (SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NORCPT | SMFIP_NOBODY | \
                    SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_SKIP | \
                    SMFIP_HDR_LEADSPC | LOAD_NR_ALL)

/* postfix 3.7's default milter_*_macros, by SMFIM_* index. */
static const char *const default_macros[LOAD_NWHERE] = {
    "j {daemon_name} {daemon_addr} v _",
    "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}",
    "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}",
    "i {rcpt_addr} {rcpt_host} {rcpt_mailer}",
    "i",
    "i",
    "i",
};

struct load_conf {
    const char *socket, *sender; /* sender: NULL for senderN@outside.example */
    unsigned concurrency, total, per_conn, body_bytes, clients;
    bool nodelay, verbose, replies;
};

struct load_run {
    struct load_conf conf;
    atomic_uint next;
    atomic_uint ok, rejected, errors;
    double *latency_ms; /* by message number; < 0: not completed */
    double *session_ms; /* -R: by message number, whatever the end */
    char (*kind)[24];   /* -R: the final reply's kind, by message number */
    char *body;
    size_t body_len;
    pthread_mutex_t lock;
    char first_error[256];
};

/* The output buffer: packets queued, bounded by what we put in, never
   by the peer. start: where the packet being built begins. */
struct load_pkt {
    unsigned char *p;
    size_t len, cap, start;
};

/* One milter connection and what its filter negotiated. */
struct load_conn {
    int fd;
    uint32_t actions, proto;
    char *macros[LOAD_NWHERE]; /* lists the filter asked for, or NULL */
    struct load_pkt out;
    bool accepted; /* accept at connect or helo: nothing more on this connection */
    unsigned char reply[LOAD_REPLY_MAX];
    uint32_t reply_len;
    char reply_cmd;
    char final[24]; /* the kind of the last refusal: "421 4.3.2", "tempfail", ... */
};

/* One message's envelope, for the commands and the macro values. */
struct load_msg {
    unsigned n;
    char client[64], helo[96], sender[96], rcpt[96], qid[16];
};

enum load_result { LOAD_OK, LOAD_REJECTED, LOAD_ERROR };
enum load_step { STEP_GO, STEP_DONE, STEP_REJECTED, STEP_SKIP, STEP_ERROR };

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void run_error(struct load_run *r, const char *what, const char *why)
{
    pthread_mutex_lock(&r->lock);
    if (r->first_error[0] == '\0')
        snprintf(r->first_error, sizeof r->first_error, "%s: %s", what, why);
    pthread_mutex_unlock(&r->lock);
}

static int pkt_add(struct load_pkt *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (p == NULL)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

static int pkt_str(struct load_pkt *b, const char *s) { return pkt_add(b, s, strlen(s) + 1); }

/* Start a packet: room for the length, then the command byte. */
static int pkt_begin(struct load_pkt *b, char cmd)
{
    b->start = b->len;
    return pkt_add(b, "\0\0\0\0", 4) == 0 && pkt_add(b, &cmd, 1) == 0 ? 0 : -1;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int pkt_flush(int fd, struct load_pkt *b)
{
    int rc = b->len ? write_all(fd, b->p, b->len) : 0;
    b->len = b->start = 0;
    return rc;
}

/* Finish a packet and queue it. Like postfix (one VSTREAM per milter),
   queued packets go out when we wait for a reply or the buffer is full:
   macros travel with their command, steps without a reply with the next
   one that has one. */
static int pkt_send(int fd, struct load_pkt *b)
{
    uint32_t len = htonl((uint32_t)(b->len - b->start - 4));
    memcpy(b->p + b->start, &len, 4);
    return b->len >= LOAD_FLUSH ? pkt_flush(fd, b) : 0;
}

/* Drop the packet being built. */
static void pkt_drop(struct load_pkt *b) { b->len = b->start; }

static int read_all(int fd, void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int rc = poll(&pfd, 1, LOAD_TIMEOUT_MS);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return -1;
        ssize_t got = read(fd, p, n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

/* Read one reply into c->reply (without the command byte). */
static int conn_recv(struct load_conn *c, const char **error_r)
{
    uint32_t len;
    if (pkt_flush(c->fd, &c->out) < 0) {
        *error_r = "cannot send to the filter";
        return -1;
    }
    if (read_all(c->fd, &len, 4) < 0) {
        *error_r = "no reply from the filter (closed or timed out)";
        return -1;
    }
    len = ntohl(len);
    if (len == 0 || len > sizeof c->reply + 1) {
        *error_r = "reply length out of bounds";
        return -1;
    }
    if (read_all(c->fd, &c->reply_cmd, 1) < 0 || read_all(c->fd, c->reply, len - 1) < 0) {
        *error_r = "short reply from the filter";
        return -1;
    }
    c->reply_len = len - 1;
    return 0;
}

static int load_connect(const struct load_conf *conf, const char **error_r)
{
    const char *spec = conf->socket;
    int fd;

    if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        const char *path = strchr(spec, ':') + 1;
        if (strlen(path) >= sizeof sun.sun_path) {
            *error_r = "unix socket path too long";
            return -1;
        }
        strcpy(sun.sun_path, path);
        if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
            connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
            *error_r = strerror(errno);
            if (fd >= 0)
                close(fd);
            return -1;
        }
        return fd;
    }
    /* inet:PORT@HOST or inet6:PORT@HOST, libmilter's syntax */
    const char *colon = strchr(spec, ':'), *at = colon ? strchr(colon, '@') : NULL;
    char port[16];
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST }, *ai;
    if (colon == NULL || at == NULL || (size_t)(at - colon - 1) >= sizeof port) {
        *error_r = "socket must be unix:/path or inet:PORT@HOST";
        return -1;
    }
    snprintf(port, sizeof port, "%.*s", (int)(at - colon - 1), colon + 1);
    if (getaddrinfo(at + 1, port, &hints, &ai) != 0) {
        *error_r = "bad inet address (numeric loopback addresses only)";
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        *error_r = strerror(errno);
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    int one = 1;
    if (conf->nodelay)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return ntohl(v);
}

static int put32(struct load_pkt *b, uint32_t v)
{
    v = htonl(v);
    return pkt_add(b, &v, 4);
}

/* The macro lists that follow the three words of the filter's reply. */
static int conn_parse_symlists(struct load_conn *c)
{
    size_t off = MILTER_OPTLEN;
    while (off + 4 < c->reply_len) {
        uint32_t where = get32(c->reply + off);
        const char *list = (const char *)c->reply + off + 4;
        size_t n = strnlen(list, c->reply_len - off - 4);
        if (off + 4 + n >= c->reply_len)
            return -1; /* not terminated */
        if (where < LOAD_NWHERE) {
            free(c->macros[where]);
            if ((c->macros[where] = strndup(list, n)) == NULL)
                return -1;
        }
        off += 4 + n + 1;
    }
    return 0;
}

static int conn_negotiate(struct load_conn *c, struct load_pkt *b, const char **error_r)
{
    if (pkt_begin(b, SMFIC_OPTNEG) < 0 || put32(b, SMFI_PROT_VERSION) < 0 ||
        put32(b, SMFI_CURR_ACTS) < 0 || put32(b, LOAD_OFFER) < 0 || pkt_send(c->fd, b) < 0) {
        *error_r = "cannot send the option negotiation";
        return -1;
    }
    if (conn_recv(c, error_r) < 0)
        return -1;
    if (c->reply_cmd != SMFIC_OPTNEG || c->reply_len < MILTER_OPTLEN) {
        *error_r = "the filter's option negotiation reply is malformed";
        return -1;
    }
    c->actions = get32(c->reply + 4);
    c->proto = get32(c->reply + 8);
    if (c->proto & ~LOAD_OFFER) {
        *error_r = "the filter asked for protocol steps we did not offer";
        return -1;
    }
    if (conn_parse_symlists(c) < 0) {
        *error_r = "the filter's macro lists are malformed";
        return -1;
    }
    return 0;
}

static const char *macro_value(const struct load_msg *m, int where, const char *name)
{
    static const struct { const char *name, *value; } fixed[] = {
        { "j", "mx.mxguard.test" }, { "{daemon_name}", "mx.mxguard.test" },
        { "{daemon_addr}", "127.0.0.1" }, { "v", "Postfix 3.7.11" },
        { "{mail_mailer}", "smtp" }, { "{rcpt_mailer}", "smtp" },
        { "{rcpt_host}", "[127.0.0.1]" },
    };
    static __thread char unknown[96];

    if (strcmp(name, "i") == 0)
        return where >= SMFIM_DATA ? m->qid : NULL; /* no queue file before the first RCPT */
    if (strcmp(name, "_") == 0) {
        snprintf(unknown, sizeof unknown, "unknown [%s]", m->client);
        return unknown;
    }
    if (strcmp(name, "{mail_addr}") == 0)
        return m->sender;
    if (strcmp(name, "{rcpt_addr}") == 0)
        return m->rcpt;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(name, fixed[i].name) == 0)
            return fixed[i].value;
    return NULL; /* TLS, AUTH: not in these sessions; postfix leaves them out */
}

/* The macros for the command cmd, when it has any with a value. */
static int conn_send_macros(struct load_conn *c, struct load_pkt *b, const struct load_msg *m,
                            int where, char cmd)
{
    const char *list = c->macros[where] ? c->macros[where] : default_macros[where];
    char copy[1024], *save = NULL;
    bool any = false;

    if (pkt_begin(b, SMFIC_MACRO) < 0 || pkt_add(b, &cmd, 1) < 0)
        return -1;
    snprintf(copy, sizeof copy, "%s", list);
    for (char *name = strtok_r(copy, " ", &save); name; name = strtok_r(NULL, " ", &save)) {
        const char *v = macro_value(m, where, name);
        if (v == NULL)
            continue;
        if (pkt_str(b, name) < 0 || pkt_str(b, v) < 0)
            return -1;
        any = true;
    }
    if (!any)
        pkt_drop(b);
    return any ? pkt_send(c->fd, b) : 0;
}

/* What a refusal was: a reply code's code and enhanced code, or its kind. */
static void note_refusal(struct load_conn *c)
{
    size_t n = 0;

    switch (c->reply_cmd) {
    case SMFIR_REPLYCODE:
        /* "421 4.3.2 text": the first two words, from the bounded reply */
        for (int words = 0; n < c->reply_len && n + 1 < sizeof c->final && c->reply[n] != '\0'; n++) {
            if (c->reply[n] == ' ' && ++words == 2)
                break;
            c->final[n] = (char)c->reply[n];
        }
        c->final[n] = '\0';
        break;
    case SMFIR_REJECT: snprintf(c->final, sizeof c->final, "reject"); break;
    case SMFIR_TEMPFAIL: snprintf(c->final, sizeof c->final, "tempfail"); break;
    case SMFIR_DISCARD: snprintf(c->final, sizeof c->final, "discard"); break;
    case SMFIR_SHUTDOWN: snprintf(c->final, sizeof c->final, "shutdown"); break;
    default: snprintf(c->final, sizeof c->final, "conn_fail"); break;
    }
}

/* Read replies to a step until a final one; progress and, at the end
   of the message, modifications come first. */
static enum load_step conn_await(struct load_conn *c, char cmd, const char **error_r)
{
    for (;;) {
        if (conn_recv(c, error_r) < 0)
            return STEP_ERROR;
        switch (c->reply_cmd) {
        case SMFIR_CONTINUE:
            return STEP_GO;
        case SMFIR_ACCEPT:
            return STEP_DONE;
        case SMFIR_SKIP:
            return STEP_SKIP;
        case SMFIR_REJECT: case SMFIR_TEMPFAIL: case SMFIR_REPLYCODE:
        case SMFIR_DISCARD: case SMFIR_SHUTDOWN: case SMFIR_CONN_FAIL:
            note_refusal(c);
            return STEP_REJECTED;
        case SMFIR_PROGRESS:
            continue;
        case SMFIR_ADDHEADER: case SMFIR_INSHEADER: case SMFIR_CHGHEADER:
        case SMFIR_ADDRCPT: case SMFIR_DELRCPT: case SMFIR_ADDRCPT_PAR:
        case SMFIR_REPLBODY: case SMFIR_CHGFROM: case SMFIR_QUARANTINE:
            if (cmd == SMFIC_BODYEOB)
                continue;
            *error_r = "a modification before the end of the message";
            return STEP_ERROR;
        default:
            *error_r = "unknown reply";
            return STEP_ERROR;
        }
    }
}

/* Send one step (the packet in b) unless negotiated away; wait for the
   reply unless negotiated "no reply". */
static enum load_step conn_step(struct load_conn *c, struct load_pkt *b, uint32_t no,
                                uint32_t noreply, const char **error_r)
{
    char cmd = (char)b->p[b->start + 4];
    if (c->proto & no) {
        pkt_drop(b);
        return STEP_GO;
    }
    if (pkt_send(c->fd, b) < 0) {
        *error_r = "cannot send to the filter";
        return STEP_ERROR;
    }
    if (c->proto & noreply)
        return STEP_GO;
    enum load_step st = conn_await(c, cmd, error_r);
    if (st == STEP_DONE && (cmd == SMFIC_CONNECT || cmd == SMFIC_HELO))
        c->accepted = true;
    return st;
}

static void msg_init(struct load_msg *m, const struct load_conf *conf, unsigned n)
{
    unsigned client = n % conf->clients;
    m->n = n;
    snprintf(m->client, sizeof m->client, "203.0.113.%u", 1 + client % 250);
    if (client >= 250)
        snprintf(m->client, sizeof m->client, "198.51.100.%u", 1 + (client - 250) % 250);
    snprintf(m->helo, sizeof m->helo, "mail%u.outside.example", client);
    if (conf->sender != NULL)
        snprintf(m->sender, sizeof m->sender, "%s", conf->sender);
    else
        snprintf(m->sender, sizeof m->sender, "sender%u@outside.example", n % 1000);
    snprintf(m->rcpt, sizeof m->rcpt, "user%u@example.org", n % 100);
    snprintf(m->qid, sizeof m->qid, "4B%08X", n);
}

static int build_connect(struct load_pkt *b, const struct load_msg *m)
{
    char host[80];
    uint16_t port = htons((uint16_t)(20000 + m->n % 40000));
    snprintf(host, sizeof host, "[%s]", m->client);
    return pkt_begin(b, SMFIC_CONNECT) == 0 && pkt_str(b, host) == 0 &&
                   pkt_add(b, &(char){ SMFIA_INET }, 1) == 0 && pkt_add(b, &port, 2) == 0 &&
                   pkt_str(b, m->client) == 0 ? 0 : -1;
}

/* A command with one argument; addresses go in angle brackets. */
static int build_arg(struct load_pkt *b, char cmd, const char *arg, bool angle)
{
    char text[128];
    snprintf(text, sizeof text, angle ? "<%s>" : "%s", arg);
    return pkt_begin(b, cmd) == 0 && pkt_str(b, text) == 0 ? 0 : -1;
}

/* The headers of a message as smtp-source and postfix's cleanup make them. */
static int send_headers(struct load_conn *c, struct load_pkt *b, const struct load_msg *m,
                        enum load_step *st, const char **error_r)
{
    char value[4][160];
    const char *names[4] = { "From", "To", "Subject", "Message-Id" };
    bool lead = (c->proto & SMFIP_HDR_LEADSPC) != 0;

    snprintf(value[0], sizeof value[0], "%s<%s>", lead ? " " : "", m->sender);
    snprintf(value[1], sizeof value[1], "%s<%s>", lead ? " " : "", m->rcpt);
    snprintf(value[2], sizeof value[2], "%sbenchmark message %u", lead ? " " : "", m->n);
    snprintf(value[3], sizeof value[3], "%s<%s.%u@outside.example>", lead ? " " : "", m->qid, m->n);
    for (int i = 0; i < 4 && *st == STEP_GO; i++) {
        if (pkt_begin(b, SMFIC_HEADER) < 0 || pkt_str(b, names[i]) < 0 || pkt_str(b, value[i]) < 0)
            return -1;
        *st = conn_step(c, b, SMFIP_NOHDRS, SMFIP_NR_HDR, error_r);
    }
    return 0;
}

static int send_body(struct load_conn *c, struct load_pkt *b, const struct load_run *r,
                     enum load_step *st, const char **error_r)
{
    for (size_t off = 0; off < r->body_len && *st == STEP_GO; off += MILTER_CHUNK_SIZE) {
        size_t n = r->body_len - off < MILTER_CHUNK_SIZE ? r->body_len - off : MILTER_CHUNK_SIZE;
        if (pkt_begin(b, SMFIC_BODY) < 0 || pkt_add(b, r->body + off, n) < 0)
            return -1;
        *st = conn_step(c, b, SMFIP_NOBODY, SMFIP_NR_BODY, error_r);
    }
    if (*st == STEP_SKIP)
        *st = STEP_GO;
    return 0;
}

/* The envelope: each step with its macros first. */
static int send_envelope(struct load_conn *c, struct load_pkt *b, const struct load_msg *m,
                         bool fresh, enum load_step *st, const char **error_r)
{
    static const struct { int where; char cmd; uint32_t no, nr; } steps[] = {
        { SMFIM_CONNECT, SMFIC_CONNECT, SMFIP_NOCONNECT, SMFIP_NR_CONN },
        { SMFIM_HELO, SMFIC_HELO, SMFIP_NOHELO, SMFIP_NR_HELO },
        { SMFIM_ENVFROM, SMFIC_MAIL, SMFIP_NOMAIL, SMFIP_NR_MAIL },
        { SMFIM_ENVRCPT, SMFIC_RCPT, SMFIP_NORCPT, SMFIP_NR_RCPT },
        { SMFIM_DATA, SMFIC_DATA, SMFIP_NODATA, SMFIP_NR_DATA },
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0] && *st == STEP_GO; i++) {
        int rc;
        if (!fresh && steps[i].where <= SMFIM_HELO)
            continue; /* connect and helo: once a connection */
        /* postfix sends an event's macros even when the event itself was negotiated away */
        if (conn_send_macros(c, b, m, steps[i].where, steps[i].cmd) < 0)
            return -1;
        if (c->proto & steps[i].no)
            continue;
        switch (steps[i].cmd) {
        case SMFIC_CONNECT: rc = build_connect(b, m); break;
        case SMFIC_HELO: rc = build_arg(b, SMFIC_HELO, m->helo, false); break;
        case SMFIC_MAIL: rc = build_arg(b, SMFIC_MAIL, m->sender, true); break;
        case SMFIC_RCPT: rc = build_arg(b, SMFIC_RCPT, m->rcpt, true); break;
        default: rc = pkt_begin(b, SMFIC_DATA); break;
        }
        if (rc < 0)
            return -1;
        *st = conn_step(c, b, steps[i].no, steps[i].nr, error_r);
    }
    return 0;
}

/* One message, from the option negotiation to the final reply at its end. */
static enum load_result run_message(struct load_run *r, struct load_conn *c, struct load_pkt *b,
                                    const struct load_msg *m, bool fresh, const char **error_r)
{
    enum load_step st = STEP_GO;

    if (send_envelope(c, b, m, fresh, &st, error_r) < 0 || send_headers(c, b, m, &st, error_r) < 0)
        goto nomem;
    if (st == STEP_GO) {
        if (conn_send_macros(c, b, m, SMFIM_EOH, SMFIC_EOH) < 0 || pkt_begin(b, SMFIC_EOH) < 0)
            goto nomem;
        st = conn_step(c, b, SMFIP_NOEOH, SMFIP_NR_EOH, error_r);
    }
    if (send_body(c, b, r, &st, error_r) < 0)
        goto nomem;
    if (st == STEP_GO) {
        if (conn_send_macros(c, b, m, SMFIM_EOM, SMFIC_BODYEOB) < 0 || pkt_begin(b, SMFIC_BODYEOB) < 0)
            goto nomem;
        st = conn_step(c, b, 0, 0, error_r);
    }
    switch (st) {
    case STEP_GO: case STEP_DONE: case STEP_SKIP: return LOAD_OK;
    case STEP_REJECTED: return LOAD_REJECTED;
    default: return LOAD_ERROR;
    }
nomem:
    *error_r = "out of memory";
    return LOAD_ERROR;
}

static void conn_close(struct load_conn *c, struct load_pkt *b, bool quit)
{
    if (quit && pkt_begin(b, SMFIC_QUIT) == 0 && pkt_send(c->fd, b) == 0)
        (void)pkt_flush(c->fd, b);
    b->len = b->start = 0;
    close(c->fd);
    c->fd = -1;
    c->accepted = false;
    for (int i = 0; i < LOAD_NWHERE; i++) {
        free(c->macros[i]);
        c->macros[i] = NULL;
    }
}

static void count(struct load_run *r, enum load_result res, const char *error)
{
    if (res == LOAD_OK)
        atomic_fetch_add(&r->ok, 1);
    else if (res == LOAD_REJECTED)
        atomic_fetch_add(&r->rejected, 1);
    else {
        atomic_fetch_add(&r->errors, 1);
        run_error(r, "message", error);
    }
}

/* A worker: one connection at a time, per_conn messages on each. */
static void *worker(void *arg)
{
    struct load_run *r = arg;
    struct load_conn *c = calloc(1, sizeof *c);
    unsigned n;

    if (c == NULL)
        return NULL;
    c->fd = -1;
    while ((n = atomic_fetch_add(&r->next, 1)) < r->conf.total) {
        const char *error = "?";
        struct load_msg m;
        enum load_result res = LOAD_ERROR;
        double t0 = now_ms();
        bool fresh = c->fd < 0;
        msg_init(&m, &r->conf, n);
        if (fresh && (c->fd = load_connect(&r->conf, &error)) >= 0) {
            if (conn_negotiate(c, &c->out, &error) < 0)
                conn_close(c, &c->out, false);
            else if (r->conf.verbose && n == 0)
                fprintf(stderr, "milter_load: the filter negotiated actions 0x%x protocol 0x%x\n",
                        c->actions, c->proto);
        }
        if (c->fd >= 0)
            res = run_message(r, c, &c->out, &m, fresh, &error);
        if (res == LOAD_OK)
            r->latency_ms[n] = now_ms() - t0;
        if (r->conf.replies) {
            r->session_ms[n] = now_ms() - t0;
            snprintf(r->kind[n], sizeof r->kind[n], "%s",
                     res == LOAD_OK ? "ok" : res == LOAD_REJECTED ? c->final : "error");
        }
        count(r, res, error);
        if (c->fd >= 0 && (res != LOAD_OK || c->accepted || (n + 1) % r->conf.per_conn == 0))
            conn_close(c, &c->out, res != LOAD_ERROR);
    }
    if (c->fd >= 0)
        conn_close(c, &c->out, true);
    free(c->out.p);
    free(c);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of the completed messages' latencies (sorted in place). */
static double quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* -R: every session's time, then each kind of reply with its count and times. */
static void report_replies(struct load_run *r)
{
    unsigned total = r->conf.total;
    double *v = malloc(total * sizeof *v);
    bool *done = calloc(total, sizeof *done);
    size_t n = 0;

    if (v == NULL || done == NULL) {
        free(v);
        free(done);
        return;
    }
    for (unsigned i = 0; i < total; i++)
        v[n++] = r->session_ms[i];
    qsort(v, n, sizeof v[0], cmp_double);
    printf("sessions=%zu p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", n, quantile(v, n, 0.50),
           quantile(v, n, 0.99), n ? v[n - 1] : 0);
    for (unsigned i = 0; i < total; i++) {
        if (done[i])
            continue;
        n = 0;
        for (unsigned k = i; k < total; k++)
            if (!done[k] && strcmp(r->kind[k], r->kind[i]) == 0) {
                done[k] = true;
                v[n++] = r->session_ms[k];
            }
        qsort(v, n, sizeof v[0], cmp_double);
        for (char *sp = strchr(r->kind[i], ' '); sp != NULL; sp = strchr(sp, ' '))
            *sp = '_'; /* one word: "421_4.3.2" */
        printf("reply=%s count=%zu p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", r->kind[i], n,
               quantile(v, n, 0.50), quantile(v, n, 0.99), v[n - 1]);
    }
    free(v);
    free(done);
}

static void report(struct load_run *r, double secs)
{
    size_t n = 0;
    for (unsigned i = 0; i < r->conf.total; i++)
        if (r->latency_ms[i] >= 0)
            r->latency_ms[n++] = r->latency_ms[i];
    qsort(r->latency_ms, n, sizeof r->latency_ms[0], cmp_double);
    printf("msgs=%u ok=%u rejected=%u errors=%u concurrency=%u seconds=%.3f rate=%.1f "
           "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
           r->conf.total, atomic_load(&r->ok), atomic_load(&r->rejected), atomic_load(&r->errors),
           r->conf.concurrency, secs, secs > 0 ? atomic_load(&r->ok) / secs : 0,
           quantile(r->latency_ms, n, 0.50), quantile(r->latency_ms, n, 0.99),
           n ? r->latency_ms[n - 1] : 0);
    if (r->conf.replies)
        report_replies(r);
    if (r->first_error[0])
        fprintf(stderr, "milter_load: first error: %s\n", r->first_error);
}

/* A body of about bytes octets in CRLF lines of 76 characters. */
static int make_body(struct load_run *r)
{
    size_t n = r->conf.body_bytes;
    if ((r->body = malloc(n + 80)) == NULL)
        return -1;
    r->body_len = 0;
    while (r->body_len < n) {
        size_t line = r->body_len / 78;
        for (size_t i = 0; i < 76; i++)
            r->body[r->body_len + i] = (char)('a' + (line + i) % 26);
        r->body_len += 76;
        r->body[r->body_len++] = '\r';
        r->body[r->body_len++] = '\n';
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: milter_load -s SOCKET [-c CONCURRENCY] [-m MESSAGES] [-k PER_CONNECTION]\n"
            "                   [-l BODY_BYTES] [-a CLIENT_ADDRESSES] [-f SENDER] [-N] [-R] [-v]\n"
            "  SOCKET: unix:/path or inet:PORT@127.0.0.1 (loopback only)\n"
            "  -N: TCP_NODELAY on inet sockets (postfix does not set it)\n"
            "  -v: print what the filter negotiated\n"
            "  -R: also time every session, refused or not, and count the final replies by kind\n"
            "prints: msgs= ok= rejected= errors= concurrency= seconds= rate= p50_ms= p99_ms= max_ms=\n"
            "  and with -R: sessions= p50_ms= p99_ms= max_ms=, then reply=KIND count= p50_ms= p99_ms= max_ms=\n");
    exit(64);
}

static unsigned num_arg(const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v == 0 || v > 10000000)
        usage();
    return (unsigned)v;
}

static void parse_args(int argc, char **argv, struct load_conf *conf)
{
    int opt;
    *conf = (struct load_conf){ .concurrency = 1, .total = 1000, .per_conn = 1,
                                .body_bytes = 2048, .clients = 200 };
    while ((opt = getopt(argc, argv, "s:c:m:k:l:a:f:NRv")) != -1) {
        switch (opt) {
        case 's': conf->socket = optarg; break;
        case 'c': conf->concurrency = num_arg(optarg); break;
        case 'm': conf->total = num_arg(optarg); break;
        case 'k': conf->per_conn = num_arg(optarg); break;
        case 'l': conf->body_bytes = num_arg(optarg); break;
        case 'a': conf->clients = num_arg(optarg); break;
        case 'f': conf->sender = optarg; break;
        case 'N': conf->nodelay = true; break;
        case 'R': conf->replies = true; break;
        case 'v': conf->verbose = true; break;
        default: usage();
        }
    }
    if (conf->socket == NULL || optind != argc || conf->concurrency > 4096)
        usage();
}

int main(int argc, char **argv)
{
    static struct load_run r;
    pthread_t *threads;
    double t0;
    unsigned started = 0;

    parse_args(argc, argv, &r.conf);
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&r.lock, NULL);
    r.latency_ms = malloc(r.conf.total * sizeof r.latency_ms[0]);
    r.session_ms = calloc(r.conf.total, sizeof r.session_ms[0]);
    r.kind = calloc(r.conf.total, sizeof r.kind[0]);
    threads = calloc(r.conf.concurrency, sizeof *threads);
    if (r.latency_ms == NULL || r.session_ms == NULL || r.kind == NULL || threads == NULL || make_body(&r) < 0) {
        fprintf(stderr, "milter_load: out of memory\n");
        return 1;
    }
    for (unsigned i = 0; i < r.conf.total; i++)
        r.latency_ms[i] = -1;
    t0 = now_ms();
    for (; started < r.conf.concurrency; started++)
        if (pthread_create(&threads[started], NULL, worker, &r) != 0)
            break;
    for (unsigned i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    report(&r, (now_ms() - t0) / 1e3);
    free(threads);
    free(r.body);
    free(r.latency_ms);
    free(r.session_ms);
    free(r.kind);
    return started == 0 || atomic_load(&r.errors) > 0 ? 1 : 0;
}
