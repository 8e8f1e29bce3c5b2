/*
 * milter_sockfuzz.c: a socket fuzzer for a milter: thousands of
 * connections to a real filter's socket, each playing a hostile MTA
 * (tests/daemon/sockfuzz.sh runs it against mxguard).
 *
 * Raw cases send what no MTA sends: random bytes, bogus packet lengths (0,
 * 1, 2^31, 2^32-1, just above what libmilter takes), truncated packets, a
 * valid negotiation then garbage, macros for unknown stages, odd and huge
 * macros, NUL bytes inside every string, bad connect addresses, unknown
 * commands, connections closed in the middle of a packet. Order cases
 * send well-formed packets (so libmilter parses them and the filter's
 * callbacks see them) in random orders with random contents: several
 * messages per connection, headers before MAIL, a body without headers,
 * an abort or a QUIT at any point.
 *
 * Everything follows from --seed: connection i draws from its own
 * generator seeded by (seed, i), so "--seed S --only I" replays it alone;
 * -v prints each connection's number, seed and kind. After sending, a
 * connection half-closes and waits for the filter to close within the
 * timeout (-t): a filter that does not is hung, and the connection is
 * reported. Every --probe-every connections, and at the end, a normal
 * session must get its answers. Exit 0 when nothing hung and every
 * probe was answered, 1 otherwise, 2 on a usage error.
 *
 * Test code: never installed; it must never wait without a timeout.
 */
#include <errno.h>
#include <getopt.h>
#include <libmilter/mfdef.h>
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

#define FZ_HUGE 60000             /* a string near libmilter's 65535-byte packet limit */
#define FZ_LIMIT MILTER_MAX_DATA_SIZE
#define FZ_OFFER_ACTIONS 0x1FFUL
#define FZ_OFFER_PROTOCOL 0x1FFFFFUL /* what postfix offers: every NO* and NR* step */

enum fz_kind {
    K_RANDOM, K_BADLEN, K_TRUNCATED, K_NEG_GARBAGE, K_BAD_NEG, K_MACROS, K_NULS, K_CONNECT,
    K_MIDCLOSE, K_UNKNOWN_CMD, K_ORDER, K_MESSAGES, K_COUNT
};
static const char *const kind_names[K_COUNT] = {
    "random-bytes", "bogus-length", "truncated", "negotiate-then-garbage", "bad-negotiation",
    "odd-macros", "nul-strings", "bad-connect", "closed-mid-packet", "unknown-commands",
    "random-order", "several-messages",
};
#define RAW_KINDS K_ORDER /* kinds below it are raw, from it on well-formed */

struct fz_conf {
    const char *socket;
    unsigned long long seed;
    unsigned count, concurrency, timeout_ms, probe_every;
    long only;       /* >= 0: play this connection alone */
    int mode;        /* 0 all, 1 raw, 2 order */
    bool verbose, probe_only;
};

struct fz_run {
    struct fz_conf conf;
    atomic_uint next, hangs, probes_failed, refused;
    atomic_uint by_kind[K_COUNT];
    pthread_mutex_t out;
};

/* One connection: its socket and its own generator. */
struct fz {
    int fd;
    uint64_t rng;
    bool broken;     /* a send failed: the filter closed; the rest is not sent */
    unsigned long proto;
};

static uint64_t rnd(struct fz *f)
{
    uint64_t z = (f->rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static unsigned below(struct fz *f, unsigned n)
{
    return n == 0 ? 0 : (unsigned)(rnd(f) % n);
}

static uint64_t conn_seed(unsigned long long seed, unsigned i)
{
    struct fz t = { .rng = seed ^ ((uint64_t)i * 0xD1B54A32D192ED03ULL) };
    return rnd(&t);
}

/* ---------------------------------------------------------------- sending */

static int fz_open(const char *path, unsigned timeout_ms)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void put(struct fz *f, const void *buf, size_t len)
{
    const char *p = buf;

    while (!f->broken && len > 0) {
        ssize_t n = send(f->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            f->broken = true;
            return;
        }
        p += n;
        len -= (size_t)n;
    }
}

/* A packet whose length field says claimed, with len bytes of data after the command. */
static void packet_claiming(struct fz *f, uint32_t claimed, char cmd, const void *data, size_t len)
{
    unsigned char h[5] = { claimed >> 24, claimed >> 16, claimed >> 8, claimed, (unsigned char)cmd };

    put(f, h, 5);
    put(f, data, len);
}

static void packet(struct fz *f, char cmd, const void *data, size_t len)
{
    packet_claiming(f, (uint32_t)len + 1, cmd, data, len);
}

/* ---------------------------------------------------------------- contents */

/* A growable byte string for packet data; an allocation failure ends the run. */
struct buf {
    char *p;
    size_t len, cap;
};

static void b_add(struct buf *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = (b->len + len + 1) * 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            fprintf(stderr, "milter_sockfuzz: out of memory\n");
            exit(1);
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
}

static void b_str0(struct buf *b, const char *s)
{
    b_add(b, s, strlen(s) + 1);
}

/* Random contents for a string, without its terminating NUL: often plain,
   sometimes with NUL, control, 8-bit, log-field or format bytes, sometimes huge. */
static void b_fuzzstr(struct fz *f, struct buf *b, bool nul_ok)
{
    static const char *const words[] = {
        "<user@example.org>", "<>", "<victim@elsewhere.example>", "<@route.example:u%v@local.example>",
        "client.example", "[203.0.113.9]", "rule=ok action=accept", "x\" rule=/etc/x.rules:1",
        "%s%n%x%{helo}", "\r\n\tfolded", "Subject", "Authentication-Results", "{odd}", "\xff\xfe\x80",
        "a=b=c", "\"quoted\\\"", "postmaster", "SIZE=1000", "BODY=8BITMIME", "AUTH=<>",
    };
    unsigned how = below(f, 10), n;

    if (how < 4) {
        const char *w = words[below(f, sizeof words / sizeof words[0])];
        b_add(b, w, strlen(w));
    } else if (how < 8) {
        n = below(f, 64);
        for (unsigned i = 0; i < n; i++) {
            char c = (char)(below(f, 4) == 0 ? rnd(f) : 0x21 + below(f, 94));
            if (c == '\0' && !nul_ok)
                c = '?';
            b_add(b, &c, 1);
        }
    } else if (how == 8) {
        n = 1000 + below(f, FZ_HUGE - 1000);
        char *big = malloc(n);
        if (big == NULL)
            exit(1);
        memset(big, "aZ.@<"[below(f, 5)], n);
        b_add(b, big, n);
        free(big);
    } /* how == 9: empty */
}

/* A packet of strings, each with its terminating NUL; with nuls, NUL
   bytes inside them too, and a third of them without their terminator. */
static void strings_packet(struct fz *f, char cmd, unsigned nstr, bool nuls)
{
    struct buf b = { 0 };

    for (unsigned i = 0; i < nstr; i++) {
        b_fuzzstr(f, &b, nuls);
        if (!nuls || below(f, 3))
            b_add(&b, "", 1);
    }
    packet(f, cmd, b.p ? b.p : "", b.len);
    free(b.p);
}

static void negotiate(struct fz *f)
{
    unsigned char o[12] = { 0, 0, 0, 6 };
    unsigned long a = FZ_OFFER_ACTIONS, p = FZ_OFFER_PROTOCOL;

    for (int i = 0; i < 4; i++) {
        o[4 + i] = (unsigned char)(a >> (24 - 8 * i));
        o[8 + i] = (unsigned char)(p >> (24 - 8 * i));
    }
    packet(f, SMFIC_OPTNEG, o, sizeof o);
}

static void connect_packet(struct fz *f, const char *host, char family, const char *addr)
{
    struct buf b = { 0 };
    unsigned char port[2] = { 0, 25 };

    b_str0(&b, host);
    b_add(&b, &family, 1);
    if (family != SMFIA_UNKNOWN) {
        b_add(&b, port, 2);
        b_str0(&b, addr);
    }
    packet(f, SMFIC_CONNECT, b.p, b.len);
    free(b.p);
}

/* A macro packet for stage with n strings (odd n: a name without a value). */
static void macro_packet(struct fz *f, char stage, unsigned n)
{
    static const char *const names[] = { "i", "j", "{auth_authen}", "{tls_version}", "{daemon_name}",
                                         "{mail_addr}", "{rcpt_addr}", "_", "{client_resolve}" };
    struct buf b = { 0 };

    b_add(&b, &stage, 1);
    for (unsigned i = 0; i < n; i++) {
        if (i % 2 == 0 && below(f, 4) != 0)
            b_str0(&b, names[below(f, sizeof names / sizeof names[0])]);
        else {
            b_fuzzstr(f, &b, false);
            b_add(&b, "", 1);
        }
    }
    packet(f, SMFIC_MACRO, b.p, b.len);
    free(b.p);
}

/* ---------------------------------------------------------------- raw cases */

static const char commands[] = "ABCDEHKLMNOQRTU";

static void random_bytes(struct fz *f, size_t n)
{
    unsigned char chunk[512];

    while (n > 0 && !f->broken) {
        size_t k = n < sizeof chunk ? n : sizeof chunk;
        for (size_t i = 0; i < k; i++)
            chunk[i] = (unsigned char)rnd(f);
        put(f, chunk, k);
        n -= k;
    }
}

static void case_badlen(struct fz *f)
{
    /* The length counts the command byte: FZ_LIMIT + 1 is the most libmilter takes. */
    static const uint32_t lengths[] = { 0, 1, 2, 0x80000000U, 0xFFFFFFFFU, 0x7FFFFFFFU,
                                        FZ_LIMIT + 2, FZ_LIMIT + 3, FZ_LIMIT * 2 };
    unsigned char data[64];

    if (below(f, 2))
        negotiate(f);
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)rnd(f);
    packet_claiming(f, lengths[below(f, sizeof lengths / sizeof lengths[0])],
                    commands[below(f, sizeof commands - 1)], data, below(f, sizeof data));
}

/* A valid packet cut short: the filter waits for the rest, then sees the end. */
static void case_truncated(struct fz *f)
{
    struct buf b = { 0 };
    unsigned char h[5];
    uint32_t len;

    if (below(f, 3))
        negotiate(f);
    b_fuzzstr(f, &b, true);
    b_add(&b, "", 1);
    len = (uint32_t)b.len + 1;
    h[0] = len >> 24, h[1] = len >> 16, h[2] = len >> 8, h[3] = len, h[4] = commands[below(f, sizeof commands - 1)];
    put(f, h, 1 + below(f, 5));
    if (below(f, 2))
        put(f, h + 1, 4), put(f, b.p, below(f, (unsigned)b.len));
    free(b.p);
}

static void case_bad_negotiation(struct fz *f)
{
    unsigned char o[16];

    for (size_t i = 0; i < sizeof o; i++)
        o[i] = below(f, 3) ? 0 : (unsigned char)rnd(f);
    o[3] = (unsigned char)(below(f, 2) ? below(f, 8) : rnd(f)); /* version 0..7 or anything */
    packet(f, SMFIC_OPTNEG, o, below(f, sizeof o + 1));
    if (below(f, 2))
        negotiate(f); /* a second negotiation */
    if (below(f, 2))
        connect_packet(f, "client.example", SMFIA_INET, "203.0.113.5");
}

static void case_macros(struct fz *f)
{
    static const char stages[] = "CHMRTENLBAQUO";
    unsigned n = 1 + below(f, 6);

    negotiate(f);
    for (unsigned i = 0; i < n; i++) {
        char stage = below(f, 4) ? stages[below(f, sizeof stages - 1)] : (char)rnd(f);
        macro_packet(f, stage, below(f, 7));
    }
    if (below(f, 4) == 0)
        packet(f, SMFIC_MACRO, "", 0); /* no stage at all */
    connect_packet(f, "client.example", SMFIA_INET, "203.0.113.5");
    macro_packet(f, SMFIC_MAIL, below(f, 5));
    strings_packet(f, SMFIC_MAIL, 1, false);
    macro_packet(f, SMFIC_RCPT, below(f, 5));
    strings_packet(f, SMFIC_RCPT, 1, false);
}

static void case_nuls(struct fz *f)
{
    static const char cmds[] = "HMRLRTLNBE";

    negotiate(f);
    connect_packet(f, below(f, 2) ? "cli\0ent" : "", SMFIA_INET, "203.0.113.5");
    for (unsigned i = 0, n = 2 + below(f, 10); i < n; i++)
        strings_packet(f, cmds[below(f, sizeof cmds - 1)], below(f, 4), true);
}

static void case_bad_connect(struct fz *f)
{
    static const char *const addrs[] = { "203.0.113.5", "::1", "999.1.2.3", "", "not an address",
                                         "2001:db8::5%eth0", "203.0.113.5\n", "/var/run/x.sock" };
    char family = "46LU"[below(f, 4)];
    struct buf b = { 0 };

    if (below(f, 4) == 0)
        family = (char)rnd(f);
    negotiate(f);
    b_fuzzstr(f, &b, false);
    b_add(&b, "", 1);
    if (below(f, 3) == 0) { /* cut after the family, or after the port */
        b_add(&b, &family, 1);
        b_add(&b, "\0\x19", below(f, 3));
        packet(f, SMFIC_CONNECT, b.p, b.len);
    } else {
        connect_packet(f, b.p, family, addrs[below(f, sizeof addrs / sizeof addrs[0])]);
    }
    free(b.p);
    strings_packet(f, SMFIC_HELO, 1, false);
    strings_packet(f, SMFIC_MAIL, 1 + below(f, 3), false);
    strings_packet(f, SMFIC_RCPT, 1, false);
}

static void case_unknown_commands(struct fz *f)
{
    negotiate(f);
    for (unsigned i = 0, n = 1 + below(f, 6); i < n; i++) {
        char cmd = (char)rnd(f);
        if (below(f, 3) == 0)
            cmd = SMFIC_UNKNOWN;
        strings_packet(f, cmd, below(f, 4), true);
    }
}

/* ---------------------------------------------------------------- well-formed cases */

enum step { S_MACRO, S_CONNECT, S_HELO, S_MAIL, S_RCPT, S_DATA, S_HEADER, S_EOH, S_BODY, S_EOM, S_ABORT,
            S_QUIT_NC, S_UNKNOWN, S_QUIT, S_COUNT };

static void body_packet(struct fz *f)
{
    struct buf b = { 0 };
    unsigned lines = below(f, 8);

    for (unsigned i = 0; i < lines; i++) {
        b_fuzzstr(f, &b, true);
        b_add(&b, "\r\n", 2);
    }
    if (b.len > FZ_LIMIT)
        b.len = FZ_LIMIT; /* the most one packet may carry: exactly at libmilter's limit */
    packet(f, SMFIC_BODY, b.p ? b.p : "", b.len);
    free(b.p);
}

/* MAIL or RCPT: half of them an address the gateway rules let through, so
   that sessions reach the data stages; the others random. */
static void address_packet(struct fz *f, char cmd)
{
    static const char *const good[] = { "<sender@outside.example>", "<user@example.org>", "<postmaster@example.org>",
                                        "<>" };
    struct buf b = { 0 };

    if (below(f, 2)) {
        strings_packet(f, cmd, 1 + below(f, cmd == SMFIC_MAIL ? 4 : 2), false);
        return;
    }
    b_str0(&b, good[cmd == SMFIC_MAIL ? below(f, 4) * (below(f, 2) ? 0 : 1) : 1 + below(f, 2)]);
    for (unsigned i = 0, n = below(f, 3); i < n; i++) {
        b_fuzzstr(f, &b, false);
        b_add(&b, "", 1);
    }
    packet(f, cmd, b.p, b.len);
    free(b.p);
}

/* One well-formed packet of the given step, with random contents. */
static void send_step(struct fz *f, enum step s)
{
    static const char stages[] = "CHMRTNE";

    switch (s) {
    case S_MACRO: macro_packet(f, stages[below(f, sizeof stages - 1)], 2 * below(f, 4)); break;
    case S_CONNECT: connect_packet(f, below(f, 2) ? "client.example" : "[203.0.113.5]", below(f, 4) ? '4' : '6',
                                   below(f, 4) ? "203.0.113.5" : "2001:db8::5"); break;
    case S_HELO:
        if (below(f, 2))
            packet(f, SMFIC_HELO, "mail.outside.example", 21);
        else
            strings_packet(f, SMFIC_HELO, 1, false);
        break;
    case S_MAIL: address_packet(f, SMFIC_MAIL); break;
    case S_RCPT: address_packet(f, SMFIC_RCPT); break;
    case S_DATA: packet(f, SMFIC_DATA, "", 0); break;
    case S_HEADER: strings_packet(f, SMFIC_HEADER, 2, false); break;
    case S_EOH: packet(f, SMFIC_EOH, "", 0); break;
    case S_BODY: body_packet(f); break;
    case S_EOM: packet(f, SMFIC_BODYEOB, "", 0); break;
    case S_ABORT: packet(f, SMFIC_ABORT, "", 0); break;
    case S_QUIT_NC: packet(f, SMFIC_QUIT_NC, "", 0); break;
    case S_UNKNOWN: strings_packet(f, SMFIC_UNKNOWN, 1, false); break;
    case S_QUIT: packet(f, SMFIC_QUIT, "", 0); break;
    case S_COUNT: break;
    }
}

static void case_random_order(struct fz *f)
{
    negotiate(f);
    for (unsigned i = 0, n = 1 + below(f, 40); i < n && !f->broken; i++)
        send_step(f, (enum step)below(f, S_QUIT)); /* QUIT only at the end, if at all */
    if (below(f, 2))
        send_step(f, S_QUIT);
}

/* Messages in the order an MTA sends them, each cut at a random point by an
   abort, a QUIT, a new connection or nothing, several on one connection. */
static void case_messages(struct fz *f)
{
    static const enum step message[] = { S_MACRO, S_MAIL, S_RCPT, S_RCPT, S_DATA, S_HEADER, S_HEADER,
                                         S_EOH, S_BODY, S_BODY, S_EOM };
    static const enum step cuts[] = { S_ABORT, S_ABORT, S_QUIT, S_QUIT_NC, S_COUNT };
    const size_t len = sizeof message / sizeof message[0];

    negotiate(f);
    send_step(f, S_MACRO);
    send_step(f, S_CONNECT);
    send_step(f, S_HELO);
    for (unsigned m = 0, n = 1 + below(f, 5); m < n && !f->broken; m++) {
        size_t cut = below(f, 3) ? len : below(f, (unsigned)len);
        for (size_t i = 0; i < cut; i++)
            send_step(f, message[i]);
        if (cut < len) {
            enum step c = cuts[below(f, sizeof cuts / sizeof cuts[0])];
            send_step(f, c);
            if (c == S_QUIT)
                return;
            if (c == S_QUIT_NC)
                send_step(f, S_CONNECT);
        }
    }
    send_step(f, S_QUIT);
}

/* ---------------------------------------------------------------- one connection */

/* Half-close and wait for the filter to close: false when it did not within the timeout. */
static bool drain(int fd, unsigned timeout_ms)
{
    char sink[4096];
    struct timespec t0, t;

    shutdown(fd, SHUT_WR);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        long spent;
        struct pollfd p = { fd, POLLIN, 0 };
        clock_gettime(CLOCK_MONOTONIC, &t);
        spent = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= (long)timeout_ms)
            return false;
        if (poll(&p, 1, (int)(timeout_ms - spent)) <= 0)
            continue;
        ssize_t n = recv(fd, sink, sizeof sink, 0);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            return true; /* closed, or reset */
    }
}

static enum fz_kind pick_kind(struct fz *f, int mode)
{
    if (mode == 1)
        return (enum fz_kind)below(f, RAW_KINDS);
    if (mode == 2)
        return (enum fz_kind)(RAW_KINDS + below(f, K_COUNT - RAW_KINDS));
    return (enum fz_kind)below(f, K_COUNT);
}

static void play(struct fz *f, enum fz_kind k)
{
    switch (k) {
    case K_RANDOM: if (below(f, 2)) negotiate(f); random_bytes(f, 1 + below(f, 4096)); break;
    case K_BADLEN: case_badlen(f); break;
    case K_TRUNCATED: case_truncated(f); break;
    case K_NEG_GARBAGE: negotiate(f); send_step(f, S_CONNECT); random_bytes(f, 1 + below(f, 256)); break;
    case K_BAD_NEG: case_bad_negotiation(f); break;
    case K_MACROS: case_macros(f); break;
    case K_NULS: case_nuls(f); break;
    case K_CONNECT: case_bad_connect(f); break;
    case K_MIDCLOSE: if (below(f, 2)) case_messages(f); else case_random_order(f); break;
    case K_UNKNOWN_CMD: case_unknown_commands(f); break;
    case K_ORDER: case_random_order(f); break;
    case K_MESSAGES: case_messages(f); break;
    case K_COUNT: break;
    }
}

/* Connection i: false when the filter could not be reached or did not close in time. */
static bool run_one(struct fz_run *run, unsigned i)
{
    const struct fz_conf *c = &run->conf;
    struct fz f = { .rng = conn_seed(c->seed, i) };
    uint64_t seed = f.rng;
    enum fz_kind k = pick_kind(&f, c->mode);
    bool ok = true;

    atomic_fetch_add(&run->by_kind[k], 1);
    if ((f.fd = fz_open(c->socket, c->timeout_ms)) < 0) {
        atomic_fetch_add(&run->refused, 1);
        fprintf(stderr, "milter_sockfuzz: connection %u (seed %llu, %s): cannot connect to %s: %s\n", i,
                (unsigned long long)seed, kind_names[k], c->socket, strerror(errno));
        return false;
    }
    play(&f, k);
    if (k == K_MIDCLOSE) {
        struct linger lg = { 1, 0 }; /* half of them reset, half closed */
        if (below(&f, 2))
            setsockopt(f.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        put(&f, "\0\0\0\x20Mx", 6); /* a packet begun and never ended */
    } else if (!drain(f.fd, c->timeout_ms)) {
        atomic_fetch_add(&run->hangs, 1);
        ok = false;
    }
    close(f.fd);
    if (c->verbose || !ok) {
        pthread_mutex_lock(&run->out);
        printf("%sconnection %u seed %llu kind %s%s\n", ok ? "" : "HANG: ", i, (unsigned long long)seed,
               kind_names[k], f.broken ? " (the filter closed before all was sent)" : "");
        fflush(stdout);
        pthread_mutex_unlock(&run->out);
    }
    return ok;
}

/* ---------------------------------------------------------------- the probe: a normal session */

static bool read_full(int fd, void *buf, size_t len, unsigned timeout_ms)
{
    char *p = buf;

    while (len > 0) {
        struct pollfd pf = { fd, POLLIN, 0 };
        if (poll(&pf, 1, (int)timeout_ms) <= 0)
            return false;
        ssize_t n = recv(fd, p, len, 0);
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* The next reply's command letter (progress skipped), its data in body; -1 on a timeout or close. */
static int read_reply(int fd, unsigned char *body, size_t room, unsigned timeout_ms)
{
    for (;;) {
        unsigned char h[4], cmd;
        uint32_t len;
        if (!read_full(fd, h, 4, timeout_ms))
            return -1;
        len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
        if (len == 0 || len - 1 > room || !read_full(fd, &cmd, 1, timeout_ms) ||
            !read_full(fd, body, len - 1, timeout_ms))
            return -1;
        if (cmd != SMFIR_PROGRESS)
            return cmd;
    }
}

/* A step of the probe: '-' when negotiated away, '.' when taken without a reply. */
static int probe_step(struct fz *f, char cmd, unsigned long no, unsigned long nr, const char *data, size_t len,
                      unsigned timeout_ms)
{
    unsigned char body[FZ_LIMIT + 1];

    if (f->proto & no)
        return '-';
    packet(f, cmd, data, len);
    if (f->proto & nr)
        return '.';
    return read_reply(f->fd, body, sizeof body, timeout_ms);
}

/* A whole session from an outside client: the replies to a relaying and a local recipient. */
static int probe(const char *socket, unsigned timeout_ms, char out[32])
{
    static const char conn[] = "client.example\0" "4\0\x19" "203.0.113.7";
    static const char macros_c[] = "Cj\0gw.example.org\0{daemon_name}\0probe";
    static const char macros_m[] = "Mi\0PROBE1\0{mail_addr}\0sender@outside.example";
    static unsigned char body[FZ_LIMIT + 1];
    struct fz f = { .rng = 1 };
    int relay = -1, local = -1, r;

    snprintf(out, 32, "no answer");
    if ((f.fd = fz_open(socket, timeout_ms)) < 0)
        return -1;
    negotiate(&f);
    if (read_reply(f.fd, body, sizeof body, timeout_ms) != SMFIC_OPTNEG)
        goto done;
    f.proto = (unsigned long)body[8] << 24 | (unsigned long)body[9] << 16 | (unsigned long)body[10] << 8 | body[11];
    packet(&f, SMFIC_MACRO, macros_c, sizeof macros_c);
    if ((r = probe_step(&f, SMFIC_CONNECT, SMFIP_NOCONNECT, SMFIP_NR_CONN, conn, sizeof conn, timeout_ms)) < 0 ||
        (r = probe_step(&f, SMFIC_HELO, SMFIP_NOHELO, SMFIP_NR_HELO, "client.example", 15, timeout_ms)) < 0)
        goto done;
    packet(&f, SMFIC_MACRO, macros_m, sizeof macros_m);
    if ((r = probe_step(&f, SMFIC_MAIL, SMFIP_NOMAIL, SMFIP_NR_MAIL, "<sender@outside.example>", 25,
                        timeout_ms)) < 0)
        goto done;
    relay = probe_step(&f, SMFIC_RCPT, SMFIP_NORCPT, SMFIP_NR_RCPT, "<victim@elsewhere.example>", 27, timeout_ms);
    if (relay >= 0)
        local = probe_step(&f, SMFIC_RCPT, SMFIP_NORCPT, SMFIP_NR_RCPT, "<user@example.org>", 19, timeout_ms);
    if (relay >= 0 && local >= 0)
        snprintf(out, 32, "relay=%c local=%c", relay, local);
done:
    packet(&f, SMFIC_QUIT, "", 0);
    close(f.fd);
    return relay >= 0 && local >= 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- the run */

static void *worker(void *arg)
{
    struct fz_run *run = arg;
    const struct fz_conf *c = &run->conf;
    unsigned i;
    char got[32];

    while ((i = atomic_fetch_add(&run->next, 1)) < c->count) {
        if (c->probe_every > 0 && i > 0 && i % c->probe_every == 0 && probe(c->socket, c->timeout_ms, got) < 0) {
            atomic_fetch_add(&run->probes_failed, 1);
            fprintf(stderr, "milter_sockfuzz: a normal session after %u connections got %s\n", i, got);
        }
        run_one(run, i);
    }
    return NULL;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: milter_sockfuzz -s SOCKET [--seed N] [-n CONNECTIONS] [-c CONCURRENCY] [-t TIMEOUT_MS]\n"
            "                       [-m all|raw|order] [--probe-every N] [--only I] [-v]\n"
            "       milter_sockfuzz -s SOCKET --probe\n");
    exit(2);
}

static void parse(int argc, char **argv, struct fz_conf *c)
{
    static const struct option longopts[] = {
        { "seed", required_argument, NULL, 'S' }, { "only", required_argument, NULL, 'O' },
        { "probe-every", required_argument, NULL, 'E' }, { "probe", no_argument, NULL, 'P' },
        { NULL, 0, NULL, 0 },
    };
    int ch;

    *c = (struct fz_conf){ .seed = 1, .count = 1000, .concurrency = 4, .timeout_ms = 10000,
                           .probe_every = 250, .only = -1 };
    while ((ch = getopt_long(argc, argv, "s:n:c:t:m:v", longopts, NULL)) != -1) {
        switch (ch) {
        case 's': c->socket = optarg; break;
        case 'n': c->count = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'c': c->concurrency = (unsigned)strtoul(optarg, NULL, 10); break;
        case 't': c->timeout_ms = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'm': c->mode = strcmp(optarg, "raw") == 0 ? 1 : strcmp(optarg, "order") == 0 ? 2
                           : strcmp(optarg, "all") == 0 ? 0 : -1; break;
        case 'v': c->verbose = true; break;
        case 'S': c->seed = strtoull(optarg, NULL, 0); break;
        case 'O': c->only = strtol(optarg, NULL, 10); break;
        case 'E': c->probe_every = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'P': c->probe_only = true; break;
        default: usage();
        }
    }
    if (c->socket == NULL || c->mode < 0 || c->concurrency == 0 || c->concurrency > 64 || c->timeout_ms == 0 ||
        optind != argc)
        usage();
}

static void report(struct fz_run *run, double secs)
{
    const struct fz_conf *c = &run->conf;

    printf("milter_sockfuzz: seed %llu: %u connections in %.1f s (mode %s):", c->seed, c->count, secs,
           c->mode == 1 ? "raw" : c->mode == 2 ? "order" : "all");
    for (int k = 0; k < K_COUNT; k++)
        if (run->by_kind[k] > 0)
            printf(" %s %u", kind_names[k], (unsigned)run->by_kind[k]);
    printf("\nmilter_sockfuzz: hung %u, not reached %u, normal sessions unanswered %u\n", (unsigned)run->hangs,
           (unsigned)run->refused, (unsigned)run->probes_failed);
}

int main(int argc, char **argv)
{
    static struct fz_run run;
    pthread_t tids[64];
    struct timespec t0, t1;
    char got[32];
    int rc;

    parse(argc, argv, &run.conf);
    signal(SIGPIPE, SIG_IGN);
    if (run.conf.probe_only) {
        rc = probe(run.conf.socket, run.conf.timeout_ms, got);
        printf("%s\n", got);
        return rc == 0 ? 0 : 1;
    }
    pthread_mutex_init(&run.out, NULL);
    if (run.conf.only >= 0) {
        run.conf.verbose = true;
        run.conf.count = 1;
        return run_one(&run, (unsigned)run.conf.only) ? 0 : 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned t = 0; t < run.conf.concurrency; t++)
        if (pthread_create(&tids[t], NULL, worker, &run) != 0)
            return 1;
    for (unsigned t = 0; t < run.conf.concurrency; t++)
        pthread_join(tids[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (probe(run.conf.socket, run.conf.timeout_ms, got) < 0) {
        run.probes_failed++;
        fprintf(stderr, "milter_sockfuzz: the normal session at the end got %s\n", got);
    }
    report(&run, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return run.hangs == 0 && run.refused == 0 && run.probes_failed == 0 ? 0 : 1;
}
