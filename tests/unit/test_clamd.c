/*
 * test_clamd.c: clamd's INSTREAM client (policy/content/clamd.c).
 *
 * The reply parser, table-driven (verdicts, names, sanitising, lengths);
 * the --clamd socket syntax; then whole scans against a fake clamd of the
 * test's own on a unix socket in a temp directory, a thread that checks
 * the framing (zINSTREAM\0, 4-byte network-order lengths no longer than
 * CLAMD_CHUNK, a zero length at the end), keeps what was streamed, and
 * answers as told: a verdict, nothing (timeout), clamd's size-limit error
 * with the connection closed, a reply past the bound. The real clamd is
 * tests/e2e/clamd_postfix.sh's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/content/clamd.h"
#include "rules/conn.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* --- the parser ---------------------------------------------------------- */

static const struct {
    const char *reply;
    size_t len;              /* 0: strlen + 1 (the NUL a z-command ends with) */
    enum clamd_verdict verdict;
    const char *name;
} replies[] = {
    { "stream: OK", 0, CLAMD_CLEAN, "" },
    { "stream: OK\n", 0, CLAMD_CLEAN, "" },
    { "stream: Eicar-Test-Signature FOUND", 0, CLAMD_FOUND, "Eicar-Test-Signature" },
    { "stream: Test.EICAR.UNOFFICIAL FOUND", 0, CLAMD_FOUND, "Test.EICAR.UNOFFICIAL" },
    { "stream: Win.Trojan.Agent-123456-0 FOUND", 0, CLAMD_FOUND, "Win.Trojan.Agent-123456-0" },
    /* Names go into replies, logs and headers: nothing but a safe alphabet. */
    { "stream: Evil\r\nX-Injected: yes FOUND", 0, CLAMD_FOUND, "Evil__X-Injected__yes" },
    { "stream: a\"b;c<d>%e\x1b[0m FOUND", 0, CLAMD_FOUND, "a_b_c_d__e__0m" },
    { "stream: \xc3\xa9t\xc3\xa9 FOUND", 0, CLAMD_FOUND, "__t__" },
    { "INSTREAM size limit exceeded. ERROR", 0, CLAMD_ERROR, "INSTREAM_size_limit_exceeded." },
    { "stream: Can't allocate memory ERROR", 0, CLAMD_ERROR, "Can_t_allocate_memory" },
    { "stream: OK trailing", 0, CLAMD_ERROR, "malformed_reply" },
    { "stream:  FOUND", 0, CLAMD_ERROR, "malformed_reply" },
    { "stream: FOUND", 0, CLAMD_ERROR, "malformed_reply" },
    { "OK", 0, CLAMD_ERROR, "malformed_reply" },
    { "", 1, CLAMD_ERROR, "malformed_reply" },
    { "stream: O\0K", 11, CLAMD_ERROR, "malformed_reply__a_NUL_inside_" },
    { "1: stream: OK", 0, CLAMD_ERROR, "malformed_reply" },
    /* No NUL and no newline: the length is what counts, nothing read past it. */
    { "stream: OKAY", 10, CLAMD_CLEAN, "" },
};

static void test_parse_table(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(replies); i++) {
        char name[CLAMD_NAME_MAX];
        size_t len = replies[i].len ? replies[i].len : strlen(replies[i].reply) + 1;
        char *copy = malloc(len); /* exactly len bytes: a read past them is the sanitizers' */
        assert_non_null(copy);
        memcpy(copy, replies[i].reply, len);
        enum clamd_verdict v = clamd_parse_reply(copy, len, name, sizeof name);
        free(copy);
        if (v != replies[i].verdict || strcmp(name, replies[i].name) != 0)
            fail_msg("reply %zu \"%s\": verdict %d name \"%s\", expected %d \"%s\"", i, replies[i].reply, v,
                     name, replies[i].verdict, replies[i].name);
    }
}

static void test_parse_bounds(void **state)
{
    char reply[600], name[CLAMD_NAME_MAX], tiny[4];

    /* A 400-byte name is kept to CLAMD_NAME_MAX - 1 bytes. */
    memcpy(reply, "stream: ", 8);
    memset(reply + 8, 'V', 400);
    memcpy(reply + 408, " FOUND", 7);
    assert_int_equal(clamd_parse_reply(reply, 415, name, sizeof name), CLAMD_FOUND);
    assert_int_equal(strlen(name), CLAMD_NAME_MAX - 1);
    assert_int_equal(clamd_parse_reply("stream: Eicar FOUND", 20, tiny, sizeof tiny), CLAMD_FOUND);
    assert_string_equal(tiny, "Eic");
    assert_int_equal(clamd_sanitise("abc", 3, tiny, 0), 0);
    assert_int_equal(clamd_sanitise("a\0b", 3, name, sizeof name), 3);
    assert_string_equal(name, "a_b");
}

static void test_config(void **state)
{
    struct clamd_config cfg;
    char err[256], longpath[200];

    assert_int_equal(clamd_config_parse(&cfg, "unix:/run/clamav/clamd.ctl", 0, err, sizeof err), 0);
    assert_int_equal(cfg.addr.ss_family, AF_UNIX);
    assert_int_equal(cfg.timeout_ms, CLAMD_DEFAULT_TIMEOUT_MS);
    assert_int_equal(cfg.max_stream, CLAMD_DEFAULT_MAX_STREAM);
    assert_int_equal(clamd_config_parse(&cfg, "inet:3310@127.0.0.1", 500, err, sizeof err), 0);
    assert_int_equal(cfg.addr.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&cfg.addr)->sin_port), 3310);
    assert_int_equal(cfg.timeout_ms, 500);
    assert_int_equal(clamd_config_parse(&cfg, "inet6:3310@[::1]", 500, err, sizeof err), 0);
    assert_int_equal(cfg.addr.ss_family, AF_INET6);
    assert_int_equal(clamd_config_parse(&cfg, "tcp:3310", 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "expected unix:/path"));
    assert_int_equal(clamd_config_parse(&cfg, "inet:3310", 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "PORT@HOST"));
    assert_int_equal(clamd_config_parse(&cfg, "unix:relative", 0, err, sizeof err), -1);
    memset(longpath, 'x', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    {
        char spec[220];
        snprintf(spec, sizeof spec, "unix:%s", longpath);
        assert_int_equal(clamd_config_parse(&cfg, spec, 0, err, sizeof err), -1);
    }
}

/* --- a fake clamd --------------------------------------------------------- */

enum fake_mode { FAKE_REPLY, FAKE_SILENT, FAKE_LIMIT, FAKE_LONG_REPLY };

static struct fake {
    char dir[64];
    char path[96];
    int listen_fd;
    pthread_t thread;
    enum fake_mode mode;
    const char *reply;
    size_t limit;               /* FAKE_LIMIT: close after this many bytes */
    /* What it saw. */
    bool command_ok, framing_ok, ended;
    size_t max_chunk;
    unsigned nchunks;
    char *data;
    size_t len;
} fake;

static bool read_full(int fd, void *buf, size_t len)
{
    unsigned char *p = buf;

    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static void fake_stream(int fd)
{
    char cmd[10];
    uint32_t n;

    fake.command_ok = read_full(fd, cmd, 10) && memcmp(cmd, "zINSTREAM", 10) == 0;
    fake.framing_ok = fake.command_ok;
    while (fake.framing_ok && read_full(fd, &n, 4)) {
        size_t len = ntohl(n);
        if (len == 0) {
            fake.ended = true;
            return;
        }
        fake.nchunks++;
        if (len > fake.max_chunk)
            fake.max_chunk = len;
        fake.data = realloc(fake.data, fake.len + len);
        if (fake.data == NULL || !read_full(fd, fake.data + fake.len, len)) {
            fake.framing_ok = false;
            return;
        }
        fake.len += len;
        if (fake.mode == FAKE_LIMIT && fake.len > fake.limit)
            return;
    }
}

static void *fake_run(void *arg)
{
    int fd = accept(fake.listen_fd, NULL, NULL);

    if (fd < 0)
        return NULL;
    fake_stream(fd);
    if (fake.mode == FAKE_REPLY || fake.mode == FAKE_LIMIT) {
        const char *r = fake.mode == FAKE_LIMIT ? "INSTREAM size limit exceeded. ERROR" : fake.reply;
        (void)!send(fd, r, strlen(r) + 1, MSG_NOSIGNAL);
    } else if (fake.mode == FAKE_LONG_REPLY) {
        char big[2000];
        memset(big, 'x', sizeof big);
        (void)!send(fd, big, sizeof big, MSG_NOSIGNAL);
    } else {
        sleep(2); /* FAKE_SILENT: past the client's timeout */
    }
    close(fd);
    return NULL;
}

static void fake_start(enum fake_mode mode, const char *reply)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };

    free(fake.data);
    memset((char *)&fake + offsetof(struct fake, mode), 0, sizeof fake - offsetof(struct fake, mode));
    fake.mode = mode;
    fake.reply = reply;
    unlink(fake.path);
    fake.listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fake.listen_fd >= 0);
    snprintf(un.sun_path, sizeof un.sun_path, "%s", fake.path);
    assert_int_equal(bind(fake.listen_fd, (struct sockaddr *)&un, sizeof un), 0);
    assert_int_equal(listen(fake.listen_fd, 4), 0);
    assert_int_equal(pthread_create(&fake.thread, NULL, fake_run, NULL), 0);
}

static void fake_stop(void)
{
    pthread_join(fake.thread, NULL);
    close(fake.listen_fd);
}

static struct clamd_config fake_config(int timeout_ms)
{
    struct clamd_config cfg;
    char spec[160], err[256];

    snprintf(spec, sizeof spec, "unix:%s", fake.path);
    assert_int_equal(clamd_config_parse(&cfg, spec, timeout_ms, err, sizeof err), 0);
    return cfg;
}

/* A message as the engine streams it: headers, the blank line, the body in pieces. */
static void stream_message(struct clamd_scan *s, size_t body_len)
{
    char piece[777];

    clamd_scan_header(s, "From", "a@example.org", false);
    clamd_scan_header(s, "Subject", " hi", true);
    for (size_t done = 0; done < body_len; done += sizeof piece) {
        size_t n = body_len - done < sizeof piece ? body_len - done : sizeof piece;
        memset(piece, 'a' + (int)(done / sizeof piece % 26), n);
        clamd_scan_body(s, piece, n);
    }
}

static void test_clean_and_framing(void **state)
{
    struct clamd_config cfg = fake_config(2000);
    struct clamd_scan *s = clamd_scan_new(&cfg, false);
    const char *head = "From: a@example.org\r\nSubject: hi\r\n\r\n";

    fake_start(FAKE_REPLY, "stream: OK");
    stream_message(s, 100000);
    assert_int_equal(clamd_scan_finish(s), CLAMD_CLEAN);
    assert_int_equal(clamd_scan_finish(s), CLAMD_CLEAN); /* once; then the same answer */
    fake_stop();
    assert_true(fake.command_ok && fake.framing_ok && fake.ended);
    assert_int_equal(fake.len, strlen(head) + 100000);
    assert_int_equal(clamd_scan_bytes(s), fake.len);
    assert_memory_equal(fake.data, head, strlen(head));
    assert_true(fake.data[strlen(head)] == 'a' && fake.data[fake.len - 1] == 'a' + (int)(99999 / 777 % 26));
    /* Coalesced into full chunks, not one per write. */
    assert_int_equal(fake.max_chunk, CLAMD_CHUNK);
    assert_int_equal(fake.nchunks, (fake.len + CLAMD_CHUNK - 1) / CLAMD_CHUNK);
    clamd_scan_free(s);
}

static void test_found_and_reset(void **state)
{
    struct clamd_config cfg = fake_config(2000);
    struct clamd_scan *s = clamd_scan_new(&cfg, true);

    fake_start(FAKE_REPLY, "stream: Eicar-Test-Signature FOUND");
    stream_message(s, 68);
    assert_int_equal(clamd_scan_finish(s), CLAMD_FOUND);
    assert_string_equal(clamd_scan_name(s), "Eicar-Test-Signature");
    assert_true(clamd_scan_tempfail(s));
    fake_stop();
    /* The next message on the connection starts afresh. */
    clamd_scan_reset(s);
    assert_int_equal(clamd_scan_verdict(s), CLAMD_PENDING);
    fake_start(FAKE_REPLY, "stream: OK");
    assert_int_equal(clamd_scan_finish(s), CLAMD_CLEAN); /* no byte came: an empty message is scanned */
    fake_stop();
    assert_true(fake.ended);
    clamd_scan_free(s);
}

static void test_refused_and_unconfigured(void **state)
{
    struct clamd_config cfg = fake_config(2000);
    struct clamd_scan *s;

    unlink(fake.path); /* nobody listens */
    s = clamd_scan_new(&cfg, false);
    stream_message(s, 10);
    assert_int_equal(clamd_scan_finish(s), CLAMD_ERROR);
    assert_non_null(strstr(clamd_scan_name(s), "cannot connect to clamd"));
    clamd_scan_free(s);
    s = clamd_scan_new(NULL, false);
    stream_message(s, 10);
    assert_int_equal(clamd_scan_finish(s), CLAMD_ERROR);
    assert_non_null(strstr(clamd_scan_name(s), "--clamd"));
    clamd_scan_free(s);
}

static void test_timeout(void **state)
{
    struct clamd_config cfg = fake_config(300);
    struct clamd_scan *s = clamd_scan_new(&cfg, false);
    struct timespec t0, t1;
    double secs;

    fake_start(FAKE_SILENT, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    stream_message(s, 1000);
    assert_int_equal(clamd_scan_finish(s), CLAMD_ERROR);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_non_null(strstr(clamd_scan_name(s), "no verdict in time"));
    assert_true(secs >= 0.29 && secs < 1.5);
    assert_true(clamd_scan_wait_us(s) >= 290000);
    fake_stop();
    clamd_scan_free(s);
}

/* What a scan that clamd cut off may say: clamd's words when they arrived
   before the close, else the close itself, seen while writing or reading
   (which one depends on when the peer's close lands). */
static bool cut_off(const char *why)
{
    static const char *const words[] = {
        "INSTREAM_size_limit_exceeded", "closed the stream", "reading clamd's verdict failed",
        "closed the connection without a verdict",
    };

    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(why, words[i]) != NULL)
            return true;
    return false;
}

static void test_size_limits(void **state)
{
    /* 5 s: a loaded sanitizer run must not turn the close into a timeout. */
    struct clamd_config cfg = fake_config(5000);
    struct clamd_scan *s = clamd_scan_new(&cfg, false);

    /* clamd's StreamMaxLength: it says so and closes while we still write. */
    fake_start(FAKE_LIMIT, NULL);
    fake.limit = 50000;
    stream_message(s, 4 * 1024 * 1024);
    assert_int_equal(clamd_scan_finish(s), CLAMD_ERROR);
    fake_stop();
    if (!cut_off(clamd_scan_name(s)))
        fail_msg("a scan clamd cut off says \"%s\"", clamd_scan_name(s));
    clamd_scan_free(s);
    /* Ours: past max_stream nothing more is sent and the verdict is an error. */
    cfg.max_stream = 5000;
    s = clamd_scan_new(&cfg, false);
    fake_start(FAKE_REPLY, "stream: OK");
    stream_message(s, 10000);
    assert_int_equal(clamd_scan_finish(s), CLAMD_ERROR);
    assert_non_null(strstr(clamd_scan_name(s), "larger than the 5000 bytes"));
    fake_stop();
    assert_false(fake.ended);
    clamd_scan_free(s);
}

static void test_long_reply(void **state)
{
    struct clamd_config cfg = fake_config(2000);
    struct clamd_scan *s = clamd_scan_new(&cfg, false);

    fake_start(FAKE_LONG_REPLY, NULL);
    stream_message(s, 10);
    assert_int_equal(clamd_scan_finish(s), CLAMD_ERROR);
    assert_non_null(strstr(clamd_scan_name(s), "too long"));
    fake_stop();
    clamd_scan_free(s);
}

/* --- through the engine (rules/conn.c) ------------------------------------ */

static const char virus_rules[] =
    "clamd { on-error %s; }\n"
    "on eom { [virus] reject 554 5.7.1 \"Virus found: %%{virus.name}\" if virus.found; }\n";

static struct conn *engine(const char *on_error, const struct clamd_config *cfg)
{
    struct conn_services svc = { .clamd = cfg };
    char text[256];
    struct diag diag;
    struct ruleset *rs;
    struct conn *c;
    struct decision d;
    struct ipaddr ip;
    const char *error;

    snprintf(text, sizeof text, virus_rules, on_error);
    diag_init(&diag);
    rs = ruleset_load_buffer("virus.rules", text, strlen(text), &diag);
    if (rs == NULL)
        diag_print(&diag, stderr);
    diag_free(&diag);
    assert_non_null(rs);
    assert_true(ruleset_uses_virus(rs));
    assert_int_equal(ipaddr_parse("203.0.113.5", &ip), 0);
    assert_non_null(c = conn_new(rs, &svc, &error));
    conn_connect(c, "[203.0.113.5]", &ip, &d);
    return c;
}

/* One message through the engine, as the MTA passes it; the end-of-message decision in *d. */
static void engine_message(struct conn *c, struct decision *d)
{
    const struct conn_edit *edits;
    size_t nedits;

    conn_mail(c, "<a@outside.example>", NULL, NULL, true, d);
    conn_rcpt(c, "<u@example.org>", true, d);
    conn_data(c, d);
    conn_header(c, "From", "a@outside.example", true, d);
    conn_header(c, "Subject", "  two spaces", true, d);
    conn_eoh(c, d);
    conn_body(c, (const unsigned char *)"line one\r\n", 10);
    conn_body(c, (const unsigned char *)"line two\r\n", 10);
    conn_eom(c, d, &edits, &nedits);
    conn_end_message(c, NULL);
}

static void test_engine_streams_the_message(void **state)
{
    struct clamd_config cfg = fake_config(2000);
    struct conn *c = engine("tempfail", &cfg);
    struct decision d;
    static const char want[] = "From: a@outside.example\r\nSubject:   two spaces\r\n\r\nline one\r\nline two\r\n";

    /* Headers as received: the MTA ate the space after the colon, and it is put back. */
    fake_start(FAKE_REPLY, "stream: Win.Test.Agent-1 FOUND");
    engine_message(c, &d);
    fake_stop();
    assert_int_equal(fake.len, strlen(want));
    assert_memory_equal(fake.data, want, strlen(want));
    assert_int_equal(d.answer, ACTION_REJECT);
    assert_string_equal(d.v.code, "554");
    assert_string_equal(d.v.text, "Virus found: Win.Test.Agent-1");
    /* The next message on the connection is scanned afresh: clean. */
    fake_start(FAKE_REPLY, "stream: OK");
    engine_message(c, &d);
    fake_stop();
    assert_int_equal(d.answer, ACTION_CONTINUE);
    assert_true(fake.ended);
    conn_free(c);
}

static void test_engine_on_error(void **state)
{
    struct conn *c;
    struct decision d;

    /* No --clamd: every scan fails. tempfail: 451 4.3.0, said to be the scan. */
    c = engine("tempfail", NULL);
    engine_message(c, &d);
    assert_int_equal(d.answer, ACTION_TEMPFAIL);
    assert_string_equal(d.v.code, "451");
    assert_string_equal(d.v.xcode, "4.3.0");
    assert_non_null(d.why);
    assert_non_null(strstr(d.why, "clamd scan failed"));
    conn_free(c);
    /* skip: the rule does not match, the message goes on. */
    c = engine("skip", NULL);
    engine_message(c, &d);
    assert_int_equal(d.answer, ACTION_CONTINUE);
    conn_free(c);
}

/* A rule file's test world: no clamd, the EICAR string found even when split across writes. */
static void test_eicar_only(void **state)
{
    static const char e[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
    struct clamd_config cfg = { .eicar_only = true };
    struct clamd_scan *s = clamd_scan_new(&cfg, true);

    assert_int_equal(strlen(e), 68);
    for (size_t cut = 0; cut <= 68; cut += 17) {
        clamd_scan_reset(s);
        clamd_scan_header(s, "Subject", "x", false);
        clamd_scan_write(s, "\r\nprefix ", 10);
        clamd_scan_write(s, e, cut);
        clamd_scan_write(s, e + cut, 68 - cut);
        assert_int_equal(clamd_scan_finish(s), CLAMD_FOUND);
        assert_string_equal(clamd_scan_name(s), CLAMD_EICAR_NAME);
    }
    clamd_scan_reset(s);
    clamd_scan_write(s, e, 67); /* one byte short */
    clamd_scan_write(s, "x", 1);
    assert_int_equal(clamd_scan_finish(s), CLAMD_CLEAN);
    clamd_scan_reset(s);
    assert_int_equal(clamd_scan_finish(s), CLAMD_CLEAN); /* an empty message */
    clamd_scan_free(s);
}

static int setup(void **state)
{
    snprintf(fake.dir, sizeof fake.dir, "/tmp/mxg-clamd.XXXXXX");
    if (mkdtemp(fake.dir) == NULL)
        return -1;
    snprintf(fake.path, sizeof fake.path, "%s/clamd.sock", fake.dir);
    return 0;
}

static int teardown(void **state)
{
    unlink(fake.path);
    free(fake.data);
    return rmdir(fake.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_bounds),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_clean_and_framing),
        cmocka_unit_test(test_found_and_reset),
        cmocka_unit_test(test_refused_and_unconfigured),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_long_reply),
        cmocka_unit_test(test_eicar_only),
        cmocka_unit_test(test_engine_streams_the_message),
        cmocka_unit_test(test_engine_on_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
