/*
 * fuzz_conn.c: libFuzzer harness for the engine's connection object
 * (rules/conn.h), the one the daemon's libmilter callbacks drive.
 *
 * libmilter parses the protocol, but it hands the callbacks whatever
 * order and content its peer sent: a close without a connect, an abort
 * between any two steps, several messages on one connection, headers
 * before MAIL, a body without headers, huge strings and macros. The
 * input is decoded as such a sequence of events with their arguments and
 * played on the shipped gateway rules (loaded once), in the world a rule
 * file's test runs in (DNS of no records, SPF, DKIM and DMARC checkers, a
 * store in memory): nothing may crash, leak, or write a record line that
 * spans two lines. Must never reach the network.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter/record_text.h"
#include "policy/state/store.h"
#include "rules/conn.h"
#include "rules/ruleset.h"
#include "rules/selftest_world.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HUGE_MAX (256 * 1024) /* a string grown by repetition: past every bound we keep */
#define MACROS_MAX 4

static struct ruleset *rules;
static struct test_world world;
static struct rule_test no_test = { .name = (char *)"fuzz" };

/* The input, read from the front; past its end every read is zero or empty. */
struct input {
    const uint8_t *p;
    size_t left;
};

/* The macros the "MTA" sent so far, by name; a value may be NULL. */
struct macros {
    char *name[MACROS_MAX], *value[MACROS_MAX];
};

static unsigned take_byte(struct input *in)
{
    if (in->left == 0)
        return 0;
    in->left--;
    return *in->p++;
}

/*
 * A string: a length byte, then that many bytes (NUL bytes cut it where
 * C sees it, as libmilter's argv does). A length of 255 makes a huge one:
 * the next byte repeated (1 + next) * 1024 times.
 */
static char *take_str(struct input *in)
{
    unsigned n = take_byte(in);
    char *s;

    if (n == 255) {
        unsigned c = take_byte(in), k = take_byte(in);
        size_t len = ((size_t)k + 1) * 1024;
        if (len > HUGE_MAX)
            len = HUGE_MAX;
        if ((s = malloc(len + 1)) == NULL)
            abort();
        memset(s, c == 0 ? 'a' : (int)c, len);
        s[len] = '\0';
        return s;
    }
    if (n > in->left)
        n = (unsigned)in->left;
    if ((s = malloc(n + 1)) == NULL)
        abort();
    memcpy(s, in->p, n);
    s[n] = '\0';
    in->p += n;
    in->left -= n;
    return s;
}

static const char *macro_get(void *ctx, const char *name)
{
    const struct macros *m = ctx;

    for (int i = 0; i < MACROS_MAX; i++)
        if (m->name[i] != NULL && strcmp(m->name[i], name) == 0)
            return m->value[i];
    return NULL;
}

static void macros_free(struct macros *m)
{
    for (int i = 0; i < MACROS_MAX; i++) {
        free(m->name[i]);
        free(m->value[i]);
    }
    memset(m, 0, sizeof *m);
}

/* A macro the rules may read, with a fuzzed value or none (a name without a value). */
static void macro_set(struct macros *m, struct input *in)
{
    static const char *const names[] = { "i", "j", "{auth_authen}", "{tls_version}", "{cipher}",
                                         "{daemon_name}", "{client_resolve}", "{mail_addr}" };
    unsigned slot = take_byte(in) % MACROS_MAX, which = take_byte(in);

    free(m->name[slot]);
    free(m->value[slot]);
    m->name[slot] = strdup(names[which % (sizeof names / sizeof names[0])]);
    m->value[slot] = (which & 0x80) ? NULL : take_str(in);
    if (m->name[slot] == NULL)
        abort();
}

/* Every record the connection writes goes through the daemon's log formatting: one line. */
static void record_sink(void *ctx, const struct record *r)
{
    static char line[RECORD_LINE_MAX];
    struct record_ids ids = { "fuzz.1", ctx };

    record_log_line(r, &ids, line, sizeof line);
    if (strchr(line, '\n') != NULL || strchr(line, '\r') != NULL || strlen(line) >= sizeof line)
        abort();
}

static void take_ip(struct input *in, struct ipaddr *ip, bool *have)
{
    static const char *const addrs[] = { "203.0.113.5", "127.0.0.1", "192.0.2.1", "::1", "2001:db8::5",
                                         "198.51.100.7", "10.1.2.3", "::ffff:203.0.113.9" };
    unsigned k = take_byte(in);

    *have = (k & 0x80) == 0;
    ipaddr_parse(addrs[k % (sizeof addrs / sizeof addrs[0])], ip);
}

static void ev_connect(struct conn *c, struct input *in, struct decision *d)
{
    struct ipaddr ip;
    bool have;
    char *name = take_str(in);

    take_ip(in, &ip, &have);
    conn_connect(c, name, have ? &ip : NULL, d);
    free(name);
}

static void ev_mail(struct conn *c, struct input *in, struct macros *m, struct decision *d)
{
    char *path = take_str(in), *params[4] = { NULL };
    unsigned n = take_byte(in) % 4;

    for (unsigned i = 0; i < n; i++)
        params[i] = take_str(in);
    conn_end_message(c, NULL); /* as cb_envfrom: a message before this one that did not end */
    conn_mail(c, path, n > 0 ? params : NULL, macro_get(m, "{auth_authen}"), take_byte(in) & 1, d);
    for (unsigned i = 0; i < n; i++)
        free(params[i]);
    free(path);
}

static void ev_header(struct conn *c, struct input *in, struct decision *d)
{
    char *name = take_str(in), *value = take_str(in);

    conn_header(c, name, value, take_byte(in) & 1, d);
    free(name);
    free(value);
}

static void ev_eom(struct conn *c, struct input *in, struct decision *d)
{
    const struct conn_edit *edits;
    size_t nedits;

    conn_eom(c, d, &edits, &nedits);
    for (size_t i = 0; i < nedits; i++)
        if (edits[i].kind != EDIT_REMOVE_FORGED && edits[i].value == NULL)
            abort(); /* the daemon hands every value to libmilter */
    if (take_byte(in) & 1) {
        decision_internal_error(d, "the MTA refused a header edit"); /* as cb_eom when one fails */
        conn_end_message(c, d);
    } else {
        conn_end_message(c, NULL);
    }
}

static void ev_body(struct conn *c, struct input *in)
{
    char *chunk = take_str(in);

    conn_body(c, (const unsigned char *)chunk, strlen(chunk));
    conn_body(c, (const unsigned char *)"\r\n.\0x\r\n", 7);
    free(chunk);
}

/* One event; false when the input asks for the connection to close. */
static bool play(struct conn *c, struct input *in, struct macros *m)
{
    struct decision d;
    char *s;

    switch (take_byte(in) % 14) {
    case 0: ev_connect(c, in, &d); break;
    case 1: s = take_str(in); conn_helo(c, s, take_byte(in) & 1, &d); free(s); break;
    case 2: ev_mail(c, in, m, &d); break;
    case 3: s = take_str(in); conn_rcpt(c, s, take_byte(in) & 1, &d); free(s); break;
    case 4: conn_data(c, &d); break;
    case 5: ev_header(c, in, &d); break;
    case 6: conn_eoh(c, &d); break;
    case 7: ev_body(c, in); break;
    case 8: ev_eom(c, in, &d); break;
    case 9: conn_abort(c); break;
    case 10: macro_set(m, in); break;
    case 11: conn_set_header_leadspace(c, take_byte(in) & 1); break;
    case 12: world.clock += take_byte(in) * 60; break;
    case 13: return false;
    }
    return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *path = getenv("MXG_FUZZ_RULES");
    struct diag diag;

    (void)argc;
    (void)argv;
    diag_init(&diag);
    if (path == NULL)
        path = SRCDIR "/rules/examples/gateway.rules";
    if ((rules = ruleset_load(path, &diag)) == NULL ||
        test_world_open(&world, rules, &no_test, &diag) < 0) {
        fprintf(stderr, "fuzz_conn: cannot load %s (%u errors)\n", path, diag.errors);
        abort();
    }
    diag_free(&diag);
    /* Greylisting and rate limits count in memory, like a rule test with a store. */
    if ((world.state.store = store_memory_open()) == NULL)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = { data, size };
    struct macros m = { { NULL }, { NULL } };
    const char *error;

    /* Several connections per input; each one ends with conn_free, whatever state it is in. */
    while (in.left > 0) {
        struct conn *c = conn_new(ruleset_ref(rules), &world.svc, &error);
        if (c == NULL)
            abort();
        conn_set_record_sink(c, record_sink, (void *)"-");
        conn_set_macros(c, macro_get, &m);
        while (in.left > 0 && play(c, &in, &m))
            ;
        conn_free(c);
        macros_free(&m);
    }
    return 0;
}
