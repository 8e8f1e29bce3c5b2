/*
 * test_record.c: decision records (rules/conn_record.c) and how the daemon
 * writes them (milter/record_log.c, milter/record_json.c).
 *
 * One record per message and per connection without one; the outcome is
 * the first refusal, the end of data's answer, the recipients' refusal or
 * "aborted", never "accept" for a message that did not end; no client
 * text adds a field or a line, and the JSON line parses whatever bytes
 * the client sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "milter/record_text.h"
#include "policy/content/clamd.h"
#include "rules/conn.h"

#define MAX_RECORDS 8

static char *lines[MAX_RECORDS], *jsons[MAX_RECORDS];
static unsigned nrecords;

static void sink(void *ctx, const struct record *r)
{
    struct record_ids ids = { "s.1", "QID1" };
    char line[RECORD_LINE_MAX];

    (void)ctx;
    assert_true(nrecords < MAX_RECORDS);
    lines[nrecords] = strdup(record_log_line(r, &ids, line, sizeof line));
    jsons[nrecords] = record_json_line(r, &ids);
    assert_non_null(jsons[nrecords]);
    nrecords++;
}

static int reset(void **state)
{
    (void)state;
    for (unsigned i = 0; i < nrecords; i++) {
        free(lines[i]);
        free(jsons[i]);
    }
    nrecords = 0;
    return 0;
}

static const char rules[] =
    "list ours domains { example.org };\n"
    "on helo { [bad-helo] reject 550 5.7.1 \"go away\" if helo = \"bad.example\"; }\n"
    "on rcpt {\n"
    "    [local] accept if recipient.domain in <ours>;\n"
    "    [relay] reject 554 5.7.1 \"relay denied\";\n"
    "}\n";

/* A session on rules TEXT (named NAME) with services SVC, connected from
   203.0.113.5, its records written by sink; HELO sent unless NULL. */
static struct conn *open_conn_on(const char *name, const char *text, const struct conn_services *svc,
                                 const char *helo)
{
    struct diag diag;
    struct ruleset *rs;
    struct conn *c;
    struct decision d;
    struct ipaddr ip;
    const char *error;

    diag_init(&diag);
    rs = ruleset_load_buffer(name, text, strlen(text), &diag);
    diag_free(&diag);
    assert_non_null(rs);
    assert_int_equal(ipaddr_parse("203.0.113.5", &ip), 0);
    assert_non_null(c = conn_new(rs, svc, &error)); /* it takes the load's reference */
    conn_set_record_sink(c, sink, NULL);
    conn_connect(c, "mail.client.example", &ip, &d);
    if (helo != NULL)
        conn_helo(c, helo, true, &d);
    return c;
}

static struct conn *open_conn(const char *helo)
{
    static const struct conn_services none = { 0 };

    return open_conn_on("rec.rules", rules, &none, helo);
}

/* The value of key in the record's JSON object, as a string ("" when absent). */
static const char *jfield(unsigned i, const char *key)
{
    static char out[1024];
    json_object *o = json_tokener_parse(jsons[i]), *v;

    assert_non_null(o);
    out[0] = '\0';
    if (json_object_object_get_ex(o, key, &v) && v != NULL)
        snprintf(out, sizeof out, "%s", json_object_get_string(v));
    json_object_put(o);
    return out;
}

/* One message through rules that read virus.*, scanned by clamd (the test
   world's in-process scanner: EICAR only) or, with scanner NULL, by none. */
static void virus_message(const struct clamd_config *scanner, const char *body)
{
    static const char vrules[] = "on eom { [virus] reject 554 5.7.1 \"Virus found: %{virus.name}\" if virus.found; }\n";
    struct conn_services svc = { .clamd = scanner };
    struct conn *c = open_conn_on("virus.rules", vrules, &svc, "mail.client.example");
    struct decision d;
    const struct conn_edit *edits;
    size_t n;

    conn_mail(c, "<a@outside.example>", NULL, NULL, true, &d);
    conn_rcpt(c, "<u@example.org>", true, &d);
    conn_data(c, &d);
    conn_header(c, "Subject", "test", true, &d);
    conn_eoh(c, &d);
    conn_body(c, (const unsigned char *)body, strlen(body));
    conn_eom(c, &d, &edits, &n);
    conn_end_message(c, NULL);
    conn_free(c);
}

/* JSON: the record's virus object's KEY ("" when absent). */
static const char *jvirus(unsigned i, const char *key)
{
    static char out[256];
    json_object *o = json_tokener_parse(jsons[i]), *v, *f;

    assert_non_null(o);
    out[0] = '\0';
    if (json_object_object_get_ex(o, "virus", &v) && json_object_object_get_ex(v, key, &f) && f != NULL)
        snprintf(out, sizeof out, "%s", json_object_get_string(f));
    json_object_put(o);
    return out;
}

/* clamd's verdict is in the record: found with the name, clean, or error with why. */
static void test_virus_verdicts(void **state)
{
    static const struct clamd_config eicar = { .eicar_only = true };

    (void)state;
    virus_message(&eicar, "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*\r\n");
    virus_message(&eicar, "Hello.\r\n");
    virus_message(NULL, "Hello.\r\n");
    assert_int_equal(nrecords, 3);
    assert_non_null(strstr(lines[0], " outcome=reject "));
    assert_non_null(strstr(lines[0], " virus=found virus.name=" CLAMD_EICAR_NAME));
    assert_string_equal(jvirus(0, "result"), "found");
    assert_string_equal(jvirus(0, "name"), CLAMD_EICAR_NAME);
    assert_non_null(strstr(lines[1], " virus=clean "));
    assert_null(strstr(lines[1], "virus.name="));
    assert_string_equal(jvirus(1, "result"), "clean");
    assert_string_equal(jvirus(1, "name"), "");
    assert_non_null(strstr(lines[2], " virus=error virus.name="));
    assert_string_equal(jvirus(2, "result"), "error");
    /* Rules that read no virus fact scan nothing, and say nothing of it. */
    reset(NULL);
    {
        struct conn *c = open_conn("mail.client.example");
        struct decision d;
        const struct conn_edit *edits;
        size_t n;
        conn_mail(c, "<a@outside.example>", NULL, NULL, true, &d);
        conn_rcpt(c, "<u@example.org>", true, &d);
        conn_data(c, &d);
        conn_eom(c, &d, &edits, &n);
        conn_end_message(c, NULL);
        conn_free(c);
    }
    assert_int_equal(nrecords, 1);
    assert_null(strstr(lines[0], "virus"));
    assert_string_equal(jfield(0, "virus"), "");
}

static void test_message_with_a_refused_recipient(void **state)
{
    struct conn *c = open_conn("mail.client.example");
    const struct conn_edit *edits;
    size_t n;
    struct decision d;

    (void)state;
    conn_mail(c, "<a@outside.example>", NULL, NULL, true, &d);
    conn_rcpt(c, "<u@example.org>", true, &d);
    conn_rcpt(c, "<v@elsewhere.example>", true, &d);
    conn_data(c, &d);
    conn_eom(c, &d, &edits, &n);
    assert_int_equal(nrecords, 0); /* written once the end of data is answered */
    conn_end_message(c, NULL);
    assert_int_equal(nrecords, 1);
    conn_free(c); /* the connection had a message: no connection record */
    assert_int_equal(nrecords, 1);
    assert_non_null(strstr(lines[0], "record=message session=s.1 qid=QID1 time="));
    assert_non_null(strstr(lines[0], " client=mail.client.example[203.0.113.5] ip=203.0.113.5"
                                     " helo=mail.client.example from=<a@outside.example> auth=- rcpts=2 taken=1"
                                     " outcome=accept stage=eom rule=default"
                                     " rcpt.1=<u@example.org> rcpt.1.action=accept rcpt.1.rule=rec.rules:4[local]"
                                     " rcpt.2=<v@elsewhere.example> rcpt.2.action=reject"
                                     " rcpt.2.rule=rec.rules:5[relay] rcpt.2.reply=\"554 5.7.1 relay denied\""
                                     " headers=0 edits=0 "));
    assert_string_equal(jfield(0, "outcome"), "accept");
    assert_string_equal(jfield(0, "taken"), "1");
}

static void test_refused_recipients_are_the_outcome(void **state)
{
    struct conn *c = open_conn("mail.client.example");
    struct decision d;

    (void)state;
    conn_mail(c, "<a@outside.example>", NULL, NULL, true, &d);
    conn_rcpt(c, "<v@elsewhere.example>", true, &d);
    conn_abort(c);
    assert_int_equal(nrecords, 1);
    assert_non_null(strstr(lines[0], " outcome=reject stage=rcpt rule=rec.rules:5[relay] reply=\"554 5.7.1"));
    /* A second message on the connection: its own record. */
    conn_mail(c, "<b@outside.example>", NULL, NULL, true, &d);
    conn_rcpt(c, "<u@example.org>", true, &d);
    conn_free(c); /* left before its end */
    assert_int_equal(nrecords, 2);
    assert_non_null(strstr(lines[1], " from=<b@outside.example> auth=- rcpts=1 taken=1 outcome=aborted"));
    assert_string_equal(jfield(1, "outcome"), "aborted");
}

static void test_connection_without_a_message(void **state)
{
    struct conn *c = open_conn("mail.client.example");

    (void)state;
    conn_free(c);
    assert_int_equal(nrecords, 1);
    assert_non_null(strstr(lines[0], "record=connection "));
    assert_non_null(strstr(lines[0], " outcome=closed stage=helo rule=default "));
    assert_null(strstr(lines[0], " from="));
    c = open_conn("bad.example");
    conn_free(c);
    assert_int_equal(nrecords, 2);
    /* A refusal after the last message's record: a connection record of its own. */
    {
        struct decision d;
        c = open_conn("mail.client.example");
        conn_mail(c, "<a@outside.example>", NULL, NULL, true, &d);
        conn_abort(c);
        conn_helo(c, "bad.example", true, &d);
        conn_free(c);
        assert_int_equal(nrecords, 4);
        assert_non_null(strstr(lines[2], "record=message "));
        assert_non_null(strstr(lines[3], "record=connection "));
        assert_non_null(strstr(lines[3], " outcome=reject stage=helo rule=rec.rules:2[bad-helo] "));
    }
    assert_non_null(strstr(lines[1], " outcome=reject stage=helo rule=rec.rules:2[bad-helo] reply=\"550 5.7.1 go away\""));
    assert_string_equal(jfield(1, "record"), "connection");
}

/* Client text that looks like fields, line ends and bytes that are not UTF-8. */
static void test_client_text_stays_inside_its_value(void **state)
{
    static const char helo[] = "x\" rule=ok outcome=accept\r\nrecord=message \xff\xc3";
    struct conn *c = open_conn(helo);
    json_object *o, *v;

    (void)state;
    conn_free(c);
    assert_int_equal(nrecords, 1);
    assert_null(strchr(lines[0], '\n'));
    assert_null(strchr(lines[0], '\r'));
    assert_non_null(strstr(lines[0], " helo=\"x\\\" rule\\x3dok outcome\\x3daccept\\x0d\\x0arecord\\x3dmessage \\xff\\xc3\""));
    assert_null(strstr(lines[0], " rule=ok"));
    assert_null(strchr(jsons[0], '\n'));
    assert_non_null(o = json_tokener_parse(jsons[0]));
    assert_true(json_object_object_get_ex(o, "helo", &v));
    assert_string_equal(json_object_get_string(v),
                        "x\" rule=ok outcome=accept\r\nrecord=message \xef\xbf\xbd\xef\xbf\xbd");
    json_object_put(o);
}

/* Many long recipients: the line stays bounded and says what it left out. */
static void test_long_record_is_cut_by_whole_fields(void **state)
{
    struct conn *c = open_conn("mail.client.example");
    struct decision d;
    char rcpt[300];

    (void)state;
    conn_mail(c, "<a@outside.example>", NULL, NULL, true, &d);
    for (int i = 0; i < RECORD_RCPTS_MAX + 10; i++) {
        snprintf(rcpt, sizeof rcpt, "<%0200d@elsewhere.example>", i);
        conn_rcpt(c, rcpt, true, &d);
    }
    conn_free(c);
    assert_int_equal(nrecords, 1);
    assert_true(strlen(lines[0]) < RECORD_LINE_MAX);
    assert_non_null(strstr(lines[0], " cut="));
    assert_non_null(strstr(lines[0], " rcpts=60 taken=0 outcome=reject"));
    assert_string_equal(jfield(0, "rcpts_more"), "10");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_message_with_a_refused_recipient, reset),
        cmocka_unit_test_teardown(test_refused_recipients_are_the_outcome, reset),
        cmocka_unit_test_teardown(test_connection_without_a_message, reset),
        cmocka_unit_test_teardown(test_client_text_stays_inside_its_value, reset),
        cmocka_unit_test_teardown(test_long_record_is_cut_by_whole_fields, reset),
        cmocka_unit_test_teardown(test_virus_verdicts, reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
