/*
 * test_mime.c: the content facts of the messages in tests/unit/data/mime
 * (policy/content/mime.c), the limits on generated messages, the spool's
 * move from memory to an unlinked file, and the rules over multi-valued
 * facts (any value matches, the reply names the one that did).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/content/filetype.h"
#include "policy/content/mime.h"
#include "rules/conn.h"
#include "rules/diag.h"
#include "rules/ruleset.h"

static char *slurp(const char *name, size_t *len)
{
    char path[1024];
    FILE *f;
    char *buf = malloc(1 << 20);

    snprintf(path, sizeof path, "%s/tests/unit/data/mime/%s", SRCDIR, name);
    assert_non_null(f = fopen(path, "rb"));
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static void parse_file(struct mime_facts *m, const char *name)
{
    size_t len;
    char *buf = slurp(name, &len);
    const char *err = NULL;

    mime_init(m);
    assert_int_equal(mime_parse_buffer(m, buf, len, &err), 0);
    free(buf);
}

static bool has_anomaly(const struct mime_facts *m, const char *w)
{
    for (unsigned i = 0; i < m->nanomalies; i++)
        if (strcmp(m->anomalies[i], w) == 0)
            return true;
    return false;
}

static void test_nested(void **state)
{
    struct mime_facts m;

    (void)state;
    parse_file(&m, "nested.eml");
    assert_int_equal(m.nparts, 9);
    assert_int_equal(m.depth, 3);
    assert_string_equal(m.limit, "");
    assert_int_equal(mime_attachment_count(&m), 2);
    assert_string_equal(mime_attachment(&m, 0)->name, "report.pdf");
    assert_string_equal(mime_attachment(&m, 0)->type, "application/pdf");
    assert_int_equal(mime_attachment(&m, 0)->size, 9); /* "%PDF-1.4\n" decoded from base64 */
    assert_string_equal(mime_attachment(&m, 1)->name, "notes.txt");
    assert_int_equal(mime_attachment(&m, 1)->depth, 3); /* inside the attached message */
    assert_null(mime_attachment(&m, 2));
    assert_non_null(strstr(m.text, "Hello plain"));
    assert_non_null(strstr(m.text, "Hello html"));
    assert_null(strstr(m.text, "<b>"));
    assert_non_null(strstr(m.text, "inner text"));
    assert_null(strstr(m.text, "notes")); /* an attachment is not body text */
    assert_int_equal(m.nanomalies, 0);
    mime_reset(&m);
}

static void test_rfc2231(void **state)
{
    struct mime_facts m;

    (void)state;
    parse_file(&m, "rfc2231.eml");
    assert_string_equal(mime_attachment(&m, 0)->name, "\xe2\x82\xacinvoice.pdf.EXE"); /* continuations, UTF-8 */
    assert_string_equal(mime_attachment(&m, 0)->ext, "exe");  /* the last extension, lower case */
    assert_string_equal(mime_attachment(&m, 1)->name, "gr\xc3\xbc\xc3\x9f" "e.txt"); /* ISO-8859-1 to UTF-8 */
    mime_reset(&m);
}

static void test_encoded_word(void **state)
{
    struct mime_facts m;

    (void)state;
    parse_file(&m, "encoded_word.eml");
    assert_string_equal(mime_attachment(&m, 0)->name, "R\xc3\xa9sum\xc3\xa9.docm");
    assert_string_equal(mime_attachment(&m, 0)->ext, "docm");
    assert_string_equal(mime_attachment(&m, 0)->type, "application/vnd.ms-word.document.macroenabled.12");
    mime_reset(&m);
}

static void test_archives_and_disguise(void **state)
{
    struct mime_facts m;
    const struct mime_part *in;

    (void)state;
    /* The detected type (libmagic) and an archive's members (libarchive). */
    parse_file(&m, "zip_exe.eml");
    assert_string_equal(mime_attachment(&m, 0)->name, "files.zip");
    assert_string_equal(mime_attachment(&m, 0)->type, "application/zip");
    assert_string_equal(mime_attachment(&m, 0)->detected_type, "application/zip");
    assert_false(mime_attachment(&m, 0)->type_mismatch);
    assert_int_equal(mime_attachment(&m, 0)->size, 285);
    assert_string_equal(mime_member(&m, 0, &in), "payload.exe");
    assert_ptr_equal(in, mime_attachment(&m, 0));
    assert_string_equal(mime_member(&m, 1, NULL), "readme.txt");
    assert_null(mime_member(&m, 2, NULL));
    assert_false(mime_attachment(&m, 0)->encrypted);
    mime_reset(&m);
    parse_file(&m, "zip_encrypted.eml");
    assert_string_equal(mime_attachment(&m, 0)->ext, "zip");
    assert_string_equal(mime_member(&m, 0, NULL), "payload.exe");
    assert_true(mime_attachment(&m, 0)->encrypted);
    mime_reset(&m);
    /* A program named scan.pdf, declared application/pdf. */
    parse_file(&m, "exe_as_pdf.eml");
    assert_string_equal(mime_attachment(&m, 0)->ext, "pdf");
    assert_int_equal(mime_attachment(&m, 0)->size, 88);
    assert_string_equal(mime_attachment(&m, 0)->detected_type, "application/vnd.microsoft.portable-executable");
    assert_true(mime_attachment(&m, 0)->type_mismatch);
    assert_null(mime_member(&m, 0, NULL));
    /* libmagic's other name for a program is the same type. */
    snprintf(m.parts[1].detected_type, sizeof m.parts[1].detected_type, "application/pdf");
    assert_false(mime_type_mismatch(&m.parts[1]));
    snprintf(m.parts[1].detected_type, sizeof m.parts[1].detected_type,
             "application/vnd.microsoft.portable-executable");
    snprintf(m.parts[1].type, sizeof m.parts[1].type, "application/x-dosexec");
    snprintf(m.parts[1].ext, sizeof m.parts[1].ext, "exe");
    assert_false(mime_type_mismatch(&m.parts[1]));
    /* libmagic's DOS .COM guess on data that starts with a jump says nothing either. */
    snprintf(m.parts[1].detected_type, sizeof m.parts[1].detected_type, FILETYPE_DOS_GUESS);
    snprintf(m.parts[1].type, sizeof m.parts[1].type, "application/pdf");
    snprintf(m.parts[1].ext, sizeof m.parts[1].ext, "pdf");
    assert_false(mime_type_mismatch(&m.parts[1]));
    mime_reset(&m);
}

static void test_anomalies(void **state)
{
    struct mime_facts m;

    (void)state;
    parse_file(&m, "broken_boundary.eml");
    assert_true(has_anomaly(&m, "broken-boundary"));
    assert_int_equal(mime_attachment_count(&m), 0);
    mime_reset(&m);
    parse_file(&m, "missing_boundary.eml");
    assert_true(has_anomaly(&m, "missing-boundary"));
    mime_reset(&m);
    parse_file(&m, "anomalies.eml");
    assert_true(has_anomaly(&m, "duplicate-boundary"));
    assert_true(has_anomaly(&m, "bad-encoding"));
    assert_true(has_anomaly(&m, "parts-after-end"));
    mime_reset(&m);
}

static void test_text(void **state)
{
    struct mime_facts m;

    (void)state;
    parse_file(&m, "iso8859.eml");
    assert_string_equal(m.text, "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln\r\n");
    mime_reset(&m);
    parse_file(&m, "qp_html.eml");
    assert_non_null(strstr(m.text, "Click here & win \xe2\x82\xac" "100 \xe2\x82\xac \xe2\x82\xac"));
    assert_null(strstr(m.text, "color"));   /* style */
    assert_null(strstr(m.text, "var x"));   /* script */
    assert_null(strstr(m.text, "href"));
    mime_reset(&m);
}

/* A message of n sibling parts, or of n nested multiparts. */
static char *generate(unsigned n, bool nested, size_t *len)
{
    size_t cap = 200 + (size_t)n * 120;
    char *b = malloc(cap);
    size_t o = (size_t)snprintf(b, cap, "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n");

    for (unsigned i = 0; i < n; i++) {
        if (nested)
            o += (size_t)snprintf(b + o, cap - o, "--b%u\r\nContent-Type: multipart/mixed; boundary=\"b%u\"\r\n\r\n", i, i + 1);
        else
            o += (size_t)snprintf(b + o, cap - o, "--b0\r\nContent-Type: text/plain; name=\"f%u.txt\"\r\n\r\nx\r\n", i);
    }
    if (nested)
        for (unsigned i = n + 1; i-- > 0;)
            o += (size_t)snprintf(b + o, cap - o, "--b%u--\r\n", i);
    else
        o += (size_t)snprintf(b + o, cap - o, "--b0--\r\n");
    *len = o;
    return b;
}

static void test_limits(void **state)
{
    struct mime_facts m;
    const char *err;
    size_t len;
    char *b;

    (void)state;
    b = generate(1000, false, &len);
    mime_init(&m);
    assert_int_equal(mime_parse_buffer(&m, b, len, &err), 0);
    assert_string_equal(m.limit, "parts");
    assert_true(m.nparts <= MIME_PARTS_MAX);
    mime_reset(&m);
    free(b);
    b = generate(100, true, &len);
    mime_init(&m);
    assert_int_equal(mime_parse_buffer(&m, b, len, &err), 0);
    assert_string_equal(m.limit, "depth");
    assert_true(m.depth <= MIME_DEPTH_MAX);
    mime_reset(&m);
    free(b);
    /* Within the limits: 400 parts, 20 levels. */
    b = generate(400, false, &len);
    mime_init(&m);
    assert_int_equal(mime_parse_buffer(&m, b, len, &err), 0);
    assert_string_equal(m.limit, "");
    assert_int_equal(mime_attachment_count(&m), 400);
    mime_reset(&m);
    free(b);
    /* A million tiny parts are refused before GMime builds anything. */
    b = generate(5000, false, &len);
    mime_init(&m);
    assert_int_equal(mime_parse_buffer(&m, b, len, &err), 0);
    assert_string_equal(m.limit, "parts");
    assert_int_equal(m.nparts, 0);
    mime_reset(&m);
    free(b);
}

static unsigned dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    unsigned n = 0;
    struct dirent *e;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_spool(void **state)
{
    char dir[] = "/tmp/mxg-spool-test.XXXXXX", sub[64];
    struct mime_facts m;
    const char *err;
    size_t len;
    char *b = slurp("zip_exe.eml", &len), line[80];

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof sub, "%s/spool", dir);
    spool_set_dir(sub);
    mime_init(&m);
    /* Headers and body as the MTA passes them, then 1 MB of filler text. */
    assert_int_equal(mime_add_header(&m, "Subject", "big", false, &err), 0);
    assert_int_equal(mime_add_header(&m, "MIME-Version", "1.0", false, &err), 0);
    assert_int_equal(mime_add_header(&m, "Content-Type", "multipart/mixed; boundary=\"b\"", false, &err), 0);
    assert_int_equal(mime_end_headers(&m, &err), 0);
    snprintf(line, sizeof line, "--b\r\nContent-Type: text/plain; name=\"big.txt\"\r\n\r\n");
    assert_int_equal(mime_add_body(&m, line, strlen(line), &err), 0);
    for (int i = 0; i < 20000; i++)
        assert_int_equal(mime_add_body(&m, "0123456789012345678901234567890123456789012345678\r\n", 51, &err), 0);
    assert_int_equal(mime_add_body(&m, "--b--\r\n", 7, &err), 0);
    assert_true(m.spool.fd >= 0);      /* past 256 KiB: a file */
    assert_null(m.spool.mem);          /* and no copy in memory */
    assert_int_equal(dir_entries(sub), 0); /* with no name */
    assert_int_equal(mime_parse(&m, &err), 0);
    assert_string_equal(mime_attachment(&m, 0)->name, "big.txt");
    assert_int_equal(mime_attachment(&m, 0)->size, 20000 * 51 - 2); /* the last CRLF is the boundary's */
    mime_reset(&m);
    assert_int_equal(m.spool.fd, -1);
    /* Past the size limit: the rest is dropped, the fact says "size". */
    m.spool.limit = 1000;
    for (int i = 0; i < 100; i++)
        assert_int_equal(mime_add_body(&m, b, 100, &err), 0);
    assert_true(m.spool.over);
    assert_int_equal(m.spool.len, 1000);
    assert_int_equal(mime_parse(&m, &err), 0);
    assert_string_equal(m.limit, "size");
    mime_reset(&m);
    free(b);
    rmdir(sub);
    rmdir(dir);
}

static const char *rules_text =
    "list exe words { exe, scr, JS }\n"
    "on eom {\n"
    "  [exe] reject 554 5.7.1 \"Attachment %{attachment.name} refused\" if attachment.ext in <exe>;\n"
    "  [pdf] reject 554 5.7.2 \"named %{attachment.name}\" if attachment.name = \"REPORT.pdf\";\n"
    "  [free] reject 554 5.7.3 \"spam\" if body.text ~ \"gr\xc3\xbc\xc3\x9f" "e aus\";\n"
    "  [none] reject 554 5.7.4 \"no pdf\" if not (attachment.ext in <pdfs>) and attachment.count > 0;\n"
    "}\n"
    "list pdfs words { pdf }\n";

static void run_message(const char *file, struct decision *d)
{
    struct diag diag;
    struct ruleset *rs;
    struct conn_services svc = { 0 };
    struct conn *c;
    const struct conn_edit *edits;
    size_t nedits, len;
    struct ipaddr ip;
    const char *err;
    char *msg = slurp(file, &len), *body;

    diag_init(&diag);
    rs = ruleset_load_buffer("mime.rules", rules_text, strlen(rules_text), &diag);
    if (rs == NULL)
        diag_print(&diag, stderr);
    diag_free(&diag);
    assert_non_null(rs);
    assert_true(ruleset_uses_mime(rs));
    assert_int_equal(ipaddr_parse("192.0.2.1", &ip), 0);
    assert_non_null(c = conn_new(rs, &svc, &err));
    conn_connect(c, "client.example", &ip, d);
    conn_helo(c, "client.example", true, d);
    conn_mail(c, "<a@example.org>", NULL, NULL, true, d);
    conn_rcpt(c, "<b@example.net>", true, d);
    conn_data(c, d);
    /* Headers one by one (no folding in these files), then the body. */
    body = strstr(msg, "\r\n\r\n");
    for (char *l = msg; l < body;) {
        char *eol = strstr(l, "\r\n"), *colon;
        *eol = '\0';
        colon = strchr(l, ':');
        *colon = '\0';
        conn_header(c, l, colon + 1, false, d);
        l = eol + 2;
    }
    conn_eoh(c, d);
    conn_body(c, (unsigned char *)body + 4, len - (size_t)(body + 4 - msg));
    conn_eom(c, d, &edits, &nedits);
    conn_free(c);
    free(msg);
}

static void test_rules(void **state)
{
    struct decision d;

    (void)state;
    run_message("rfc2231.eml", &d);
    assert_int_equal(d.answer, ACTION_REJECT);
    assert_string_equal(d.v.xcode, "5.7.1");
    /* The reply names the attachment that matched, control bytes and 8-bit as '?'. */
    assert_string_equal(d.v.text, "Attachment ???invoice.pdf.EXE refused");
    run_message("nested.eml", &d);
    assert_int_equal(d.answer, ACTION_REJECT);
    assert_string_equal(d.v.text, "named report.pdf"); /* = is case-blind, any value */
    run_message("iso8859.eml", &d);
    assert_string_equal(d.v.xcode, "5.7.3");
    run_message("encoded_word.eml", &d);
    assert_string_equal(d.v.xcode, "5.7.4"); /* no value in the list */
    run_message("qp_html.eml", &d);
    assert_int_equal(d.answer, ACTION_CONTINUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_rfc2231),
        cmocka_unit_test(test_encoded_word),
        cmocka_unit_test(test_archives_and_disguise),
        cmocka_unit_test(test_anomalies),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_spool),
        cmocka_unit_test(test_rules),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
