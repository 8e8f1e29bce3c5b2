/*
 * test_dmarc_history.c: DMARC aggregate-report records in OpenDMARC's
 * history-file format (milter/dmarc_history.c) and the appending line
 * file they go to (milter/records.c).
 *
 * The exact lines of a pass, a fail with p=reject and two signatures;
 * none, temperror and permerror give no record; text from outside never
 * adds a line or a field; a buffer too small gives -1 and no partial
 * record; the file gets whole records and follows a rename on reopen.
 *
 * With "--write FILE" (tests/dmarc/history_import.sh) it writes the
 * records below to FILE through the daemon's writer and exits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "milter/dmarc_history.h"
#include "milter/records.h"
#include "milter/session.h"
#include "rules/record.h"

/* --- the messages ------------------------------------------------------------- */

static struct ipaddr ip4, ip6;

static void fill_dmarc(struct dmarc_outcome *d, enum auth_result res, const char *from,
                       const char *record, const char *rua)
{
    memset(d, 0, sizeof *d);
    d->result = res;
    d->p = DMARC_DISP_REJECT;
    d->sp = -1;
    d->np = -1;
    d->pct = 100;
    d->adkim = 'r';
    d->aspf = 'r';
    snprintf(d->from_domain, sizeof d->from_domain, "%s", from);
    snprintf(d->org_domain, sizeof d->org_domain, "%s", record);
    snprintf(d->record_domain, sizeof d->record_domain, "%s", record);
    snprintf(d->rua, sizeof d->rua, "%s", rua);
}

static void add_sig(struct dkim_outcome *k, const char *d, const char *s, enum auth_result r)
{
    struct dkim_sig_outcome *g = &k->sig[k->nevaluated++];

    k->nsigs = k->nevaluated;
    g->result = r;
    snprintf(g->domain, sizeof g->domain, "%s", d);
    snprintf(g->selector, sizeof g->selector, "%s", s);
    snprintf(g->algorithm, sizeof g->algorithm, "rsa-sha256");
}

/* Aligned through both, p=reject: accepted. */
static struct dmarc_outcome pass_dmarc;
static struct dkim_outcome pass_dkim;
static struct spf_outcome pass_spf;
static struct dmarc_history_msg pass_msg;

/* p=reject (sp=quarantine, adkim=s) found at the organizational domain, nothing aligned: rejected. */
static struct dmarc_outcome fail_dmarc;
static struct dkim_outcome fail_dkim;
static struct spf_outcome fail_spf;
static struct dmarc_history_msg fail_msg;

static const char pass_text[] =
    "job 4Tq3xYz0Ab\n"
    "reporter mx.example.net\n"
    "received 1767225600\n"
    "ipaddr 192.0.2.10\n"
    "from example.org\n"
    "mfrom mail.example.org\n"
    "spf 0\n"
    "dkim example.org sel2026 0\n"
    "pdomain example.org\n"
    "policy 15\n"
    "rua mailto:dmarc@example.org\n"
    "pct 100\n"
    "adkim 114\n"
    "aspf 114\n"
    "p 114\n"
    "sp 0\n"
    "align_dkim 4\n"
    "align_spf 4\n"
    "arc 11\n"
    "arc_policy 1 json:[]\n"
    "action 2\n";

static const char fail_text[] =
    "job 4Tq3xYz0Ac\n"
    "reporter mx.example.net\n"
    "received 1767225661\n"
    "ipaddr 2001:db8::25\n"
    "from news.example.com\n"
    "mfrom bulk.example.net\n"
    "spf 2\n"
    "dkim news.example.com s1 7\n"
    "dkim esp.example k2 0\n"
    "pdomain example.com\n"
    "policy 16\n"
    "rua mailto:agg@example.com\n"
    "rua mailto:dmarc@report.example!10m\n"
    "pct 100\n"
    "adkim 115\n"
    "aspf 114\n"
    "p 114\n"
    "sp 113\n"
    "align_dkim 5\n"
    "align_spf 5\n"
    "arc 11\n"
    "arc_policy 1 json:[]\n"
    "action 0\n";

static void make_messages(void)
{
    if (ipaddr_parse("192.0.2.10", &ip4) < 0 || ipaddr_parse("2001:db8::25", &ip6) < 0)
        abort();
    fill_dmarc(&pass_dmarc, AUTH_PASS, "example.org", "example.org", "mailto:dmarc@example.org");
    pass_dmarc.spf_aligned = pass_dmarc.dkim_aligned = true;
    memset(&pass_dkim, 0, sizeof pass_dkim);
    add_sig(&pass_dkim, "example.org", "sel2026", AUTH_PASS);
    pass_spf = (struct spf_outcome){ .result = AUTH_PASS, .domain = "mail.example.org" };
    pass_msg = (struct dmarc_history_msg){ "4Tq3xYz0Ab", "mx.example.net", 1767225600, &ip4,
                                           "mail.example.org", &pass_dmarc, &pass_dkim, &pass_spf,
                                           DMARC_HISTORY_ACCEPT };

    fill_dmarc(&fail_dmarc, AUTH_FAIL, "news.example.com", "example.com",
               " mailto:agg@example.com ,\tmailto:dmarc@report.example!10m,");
    fail_dmarc.policy = fail_dmarc.published = DMARC_DISP_REJECT;
    fail_dmarc.sp = DMARC_DISP_QUARANTINE;
    fail_dmarc.adkim = 's';
    memset(&fail_dkim, 0, sizeof fail_dkim);
    add_sig(&fail_dkim, "news.example.com", "s1", AUTH_FAIL);
    add_sig(&fail_dkim, "esp.example", "k2", AUTH_PASS);
    fail_spf = (struct spf_outcome){ .result = AUTH_SOFTFAIL, .domain = "bulk.example.net" };
    fail_msg = (struct dmarc_history_msg){ "4Tq3xYz0Ac", "mx.example.net", 1767225661, &ip6,
                                           "bulk.example.net", &fail_dmarc, &fail_dkim, &fail_spf,
                                           DMARC_HISTORY_REJECT };
}

static int setup(void **state)
{
    (void)state;
    make_messages();
    return 0;
}

static void assert_record(const struct dmarc_history_msg *m, const char *want)
{
    char buf[DMARC_HISTORY_MAX];
    const char *why = NULL;
    int n = dmarc_history_format(m, buf, sizeof buf, &why);

    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(buf, want);
}

/* --- the format ------------------------------------------------------------- */

static void test_pass(void **state)
{
    (void)state;
    assert_record(&pass_msg, pass_text);
}

static void test_fail_reject_two_signatures(void **state)
{
    (void)state;
    assert_record(&fail_msg, fail_text);
}

/* Quarantine by pct= sampling and the lines that change with it; SPF not checked; no DKIM. */
static void test_quarantine_without_spf_or_dkim(void **state)
{
    struct dmarc_history_msg m = fail_msg;
    struct dmarc_outcome d = fail_dmarc;
    char buf[DMARC_HISTORY_MAX];
    const char *why;

    (void)state;
    d.policy = DMARC_DISP_QUARANTINE;
    d.pct = 50;
    d.rua[0] = '\0';
    m.dmarc = &d;
    m.spf = NULL;
    m.dkim = NULL;
    m.action = DMARC_HISTORY_QUARANTINE;
    assert_true(dmarc_history_format(&m, buf, sizeof buf, &why) > 0);
    assert_non_null(strstr(buf, "\nmfrom bulk.example.net\nspf -1\npdomain example.com\npolicy 17\n"
                                "rua -\npct 50\n"));
    assert_null(strstr(buf, "\ndkim "));
    assert_non_null(strstr(buf, "\naction 4\n"));
}

/* What OpenDMARC leaves out of its history: no record, no evaluation, a broken record. */
static void test_no_record(void **state)
{
    struct dmarc_history_msg m = pass_msg;
    struct dmarc_outcome d;
    char buf[64] = "untouched";
    const char *why;
    static const enum auth_result skipped[] = { AUTH_NONE, AUTH_TEMPERROR, AUTH_PERMERROR };

    (void)state;
    m.dmarc = &d;
    fill_dmarc(&d, AUTH_NONE, "example.org", "", "");
    assert_int_equal(dmarc_history_format(&m, buf, sizeof buf, &why), 0);
    for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++) {
        fill_dmarc(&d, skipped[i], "example.org", "example.org", "");
        assert_int_equal(dmarc_history_format(&m, buf, sizeof buf, &why), 0);
    }
    m.dmarc = NULL;
    assert_int_equal(dmarc_history_format(&m, buf, sizeof buf, &why), 0);
    m = pass_msg;
    m.client = NULL;
    assert_int_equal(dmarc_history_format(&m, buf, sizeof buf, &why), 0);
    assert_string_equal(buf, "untouched");
}

/* Every line of a record: its key, then exactly the fields the importer splits it into. */
static void assert_fields(const char *rec)
{
    const char *line = rec;

    while (*line != '\0') {
        const char *end = strchr(line, '\n');
        unsigned fields = 1;
        assert_non_null(end);
        for (const char *c = line; c < end; c++) {
            assert_true((unsigned char)*c > 0x20 && (unsigned char)*c < 0x7f ? 1 : *c == ' ');
            fields += *c == ' ';
        }
        if (strncmp(line, "dkim ", 5) == 0)
            assert_int_equal(fields, 4);
        else if (strncmp(line, "arc_policy ", 11) == 0)
            assert_int_equal(fields, 3);
        else
            assert_int_equal(fields, 2);
        line = end + 1;
    }
}

static void test_hostile_text(void **state)
{
    struct dmarc_history_msg m = fail_msg;
    struct dmarc_outcome d = fail_dmarc;
    struct dkim_outcome k;
    char buf[DMARC_HISTORY_MAX];
    const char *why;

    (void)state;
    memset(&k, 0, sizeof k);
    add_sig(&k, "evil.example\njob x", "a b\\c\x01\xc3\xa9", AUTH_PASS);
    add_sig(&k, "", "nodomain", AUTH_PERMERROR); /* no d=: left out */
    add_sig(&k, "x.example", "", AUTH_TEMPERROR); /* no s=: "-" */
    snprintf(d.rua, sizeof d.rua, "mailto:a@b.example\r\naction 2, mailto:c d@e.example");
    m.job = "Q 1\r\n";
    m.mfrom_domain = "m\tx.example";
    m.dkim = &k;
    m.dmarc = &d;
    assert_true(dmarc_history_format(&m, buf, sizeof buf, &why) > 0);
    assert_fields(buf);
    assert_non_null(strstr(buf, "job Q\\x201\\x0d\\x0a\n"));
    assert_non_null(strstr(buf, "\nmfrom m\\x09x.example\n"));
    assert_non_null(strstr(buf, "\ndkim evil.example\\x0ajob\\x20x a\\x20b\\x5cc\\x01\\xc3\\xa9 0\n"
                                "dkim x.example - 4\npdomain "));
    assert_null(strstr(buf, "nodomain"));
    assert_non_null(strstr(buf, "\nrua mailto:a@b.example\\x0d\\x0aaction\\x202\n"
                                "rua mailto:c\\x20d@e.example\n"));
    assert_non_null(strstr(buf, "\naction 0\n"));
}

/* Every field at its longest and every byte escaped still fits DMARC_HISTORY_MAX. */
static void test_longest_record_fits(void **state)
{
    struct dmarc_history_msg m = fail_msg;
    struct dmarc_outcome d = fail_dmarc;
    struct dkim_outcome k;
    char job[128], reporter[256], mfrom[256], buf[DMARC_HISTORY_MAX];
    const char *why;

    (void)state;
    memset(job, ' ', sizeof job - 1), job[sizeof job - 1] = '\0';
    memset(reporter, ' ', sizeof reporter - 1), reporter[sizeof reporter - 1] = '\0';
    memset(mfrom, ' ', sizeof mfrom - 1), mfrom[sizeof mfrom - 1] = '\0';
    memset(d.from_domain, ' ', sizeof d.from_domain - 1);
    memset(d.record_domain, ' ', sizeof d.record_domain - 1);
    memset(d.rua, 'x', sizeof d.rua - 1);
    for (size_t i = 1; i < sizeof d.rua - 1; i += 2)
        d.rua[i] = ',';
    memset(&k, 0, sizeof k);
    for (unsigned i = 0; i < DKIM_SIGS_MAX; i++) {
        add_sig(&k, "", "", AUTH_PASS);
        memset(k.sig[i].domain, '\n', sizeof k.sig[i].domain - 1);
        memset(k.sig[i].selector, '\n', sizeof k.sig[i].selector - 1);
    }
    m.job = job;
    m.reporter = reporter;
    m.mfrom_domain = mfrom;
    m.dmarc = &d;
    m.dkim = &k;
    assert_true(dmarc_history_format(&m, buf, sizeof buf, &why) > 15000);
    assert_fields(buf);
}

static void test_buffer_too_small(void **state)
{
    size_t len = strlen(fail_text);
    char *buf = malloc(len + 1);
    const char *why;

    (void)state;
    assert_non_null(buf);
    assert_int_equal(dmarc_history_format(&fail_msg, buf, 0, &why), -1);
    for (size_t sz = 1; sz <= len; sz++) {
        why = NULL;
        memset(buf, 'z', len + 1);
        assert_int_equal(dmarc_history_format(&fail_msg, buf, sz, &why), -1);
        assert_non_null(why);
        assert_int_equal(buf[0], '\0'); /* no partial record */
        for (size_t i = sz; i <= len; i++)
            assert_int_equal(buf[i], 'z'); /* nothing past the buffer */
    }
    assert_int_equal(dmarc_history_format(&fail_msg, buf, len + 1, &why), (int)len);
    assert_string_equal(buf, fail_text);
    free(buf);
}

/* --- the daemon's file -------------------------------------------------------- */

/* The message as the daemon hands it over: a session and its record. */
static void note(const struct dmarc_history_msg *m, const char *qid, bool aborted)
{
    struct session s = { .id = "s.42" };
    struct envelope env;
    struct record r;

    memset(&env, 0, sizeof env);
    memset(&r, 0, sizeof r);
    snprintf(s.qid_raw, sizeof s.qid_raw, "%s", qid);
    env.client_ip = *m->client;
    env.have_client_ip = true;
    env.sender.present = env.sender.ok = true;
    env.sender.addr.domain = (char *)m->mfrom_domain;
    r.kind = RECORD_MESSAGE;
    r.env = &env;
    r.ended.tv_sec = m->received;
    r.reached_eom = !aborted;
    r.aborted = aborted;
    r.spf_mfrom = m->spf;
    r.dkim = m->dkim;
    r.dmarc = m->dmarc;
    r.outcome.stage = STAGE_EOM;
    r.outcome.action = m->action == DMARC_HISTORY_REJECT ? ACTION_REJECT : ACTION_CONTINUE;
    dmarc_history_note(&s, &r);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 65536);
    size_t n;

    assert_non_null(f);
    assert_non_null(buf);
    n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_file_and_reopen(void **state)
{
    char dir[] = "/tmp/mxg-dmarc-history.XXXXXX", path[64], moved[64], want[2048], *text;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/history", dir);
    snprintf(moved, sizeof moved, "%s/history.1", dir);
    assert_int_equal(dmarc_history_open(path, "mx.example.net"), 0);
    note(&pass_msg, "4Tq3xYz0Ab", false);
    note(&fail_msg, "", true);       /* aborted: no record */
    note(&fail_msg, "", false);      /* no queue id: our session id */
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(records_reopen(), 0);
    note(&pass_msg, "4Tq3xYz0Ad", false);
    dmarc_history_close();

    snprintf(want, sizeof want, "%sjob s.42\n%s", pass_text, strchr(fail_text, '\n') + 1);
    text = slurp(moved);
    assert_string_equal(text, want);
    free(text);
    text = slurp(path);
    assert_memory_equal(text, "job 4Tq3xYz0Ad\n", 15);
    assert_string_equal(strchr(text, '\n') + 1, strchr(pass_text, '\n') + 1);
    free(text);
    unlink(path);
    unlink(moved);
    rmdir(dir);
}

/* --records and --dmarc-history at once: one signal reopens both; a line after a close is dropped. */
static void test_two_files_and_a_late_line(void **state)
{
    char dir[] = "/tmp/mxg-dmarc-history.XXXXXX", json[64], hist[64], moved[64], late[64], *text;
    struct records_file *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(json, sizeof json, "%s/records.json", dir);
    snprintf(hist, sizeof hist, "%s/history", dir);
    snprintf(moved, sizeof moved, "%s/records.json.1", dir);
    snprintf(late, sizeof late, "%s/late", dir);
    assert_int_equal(records_open(json), 0);
    assert_int_equal(dmarc_history_open(hist, "mx.example.net"), 0);
    assert_int_equal(rename(json, moved), 0);
    assert_int_equal(unlink(hist), 0);
    assert_int_equal(records_reopen(), 0);
    assert_int_equal(access(json, F_OK), 0);
    assert_int_equal(access(hist, F_OK), 0);
    note(&pass_msg, "4Tq3xYz0Ab", false);
    dmarc_history_close();
    records_close();
    text = slurp(hist);
    assert_string_equal(text, pass_text);
    free(text);

    f = records_file_open(late, "late");
    assert_non_null(f);
    records_file_append(f, "one\n", 4);
    records_file_close(f);
    records_file_append(f, "two\n", 4);
    text = slurp(late);
    assert_string_equal(text, "one\n");
    free(text);
    unlink(json), unlink(moved), unlink(hist), unlink(late);
    rmdir(dir);
}

/* tests/dmarc/history_import.sh: the two messages, and one with hostile text, through the writer. */
static int write_for_import(const char *path)
{
    static struct dkim_outcome k;
    struct dmarc_history_msg m;

    make_messages();
    m = fail_msg;
    memset(&k, 0, sizeof k);
    add_sig(&k, "evil.example\njob x", "a b", AUTH_PERMERROR);
    m.dkim = &k;
    m.received += 60;
    if (dmarc_history_open(path, "mx.example.net") < 0) {
        perror(path);
        return 1;
    }
    note(&pass_msg, "4Tq3xYz0Ab", false);
    note(&fail_msg, "4Tq3xYz0Ac", false);
    note(&m, "Q 1", false);
    dmarc_history_close();
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass),
        cmocka_unit_test(test_fail_reject_two_signatures),
        cmocka_unit_test(test_quarantine_without_spf_or_dkim),
        cmocka_unit_test(test_no_record),
        cmocka_unit_test(test_hostile_text),
        cmocka_unit_test(test_longest_record_fits),
        cmocka_unit_test(test_buffer_too_small),
        cmocka_unit_test(test_file_and_reopen),
        cmocka_unit_test(test_two_files_and_a_late_line),
    };

    if (argc == 3 && strcmp(argv[1], "--write") == 0)
        return write_for_import(argv[2]);
    return cmocka_run_group_tests(tests, setup, NULL);
}
