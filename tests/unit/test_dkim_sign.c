/*
 * test_dkim_sign.c: DKIM signing (dkim-keys, dkim-sign).
 *
 * The key table as the rule loader reads it: good lines, exact entries
 * over wildcards, several lines for one domain, and each bad line with
 * its file:line:col message, a key others can read among them. Then
 * messages signed through the engine (rules/conn.c, as the daemon drives
 * it) with RSA and Ed25519 keys made here, each signature verified twice:
 * by mxguard's own verifier (policy/auth/dkim.c, its keys from a local
 * resolver) and by libopendkim's (keys from a file, DKIM_QUERY_FILE).
 * And what is not signed: an outside client, no From:, several From:
 * fields, several domains, a domain without a key.
 */
#include "tests/unit/rules_helpers.h"

#include <opendkim/dkim.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "policy/auth/dkim.h"
#include "policy/auth/dkim_sign.h"
#include "policy/auth/sendauth.h"
#include "policy/dns/dns.h"
#include "rules/conn.h"

/*
 * In the sanitizer build: libopendkim's Ed25519 leak (see dkim_sign.c) is
 * allocated inside libcrypto, which the fast unwinder cannot walk out of;
 * the slow one reaches dkim_privkey_load, which the suppression names.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "fast_unwind_on_malloc=0";
}

static char rsa_record[1100], ed_record[1100]; /* the public halves, as TXT record text */

/* A fresh key written to <tmpdir>/name with mode; its DKIM record text into rec. */
static void make_key(const char *name, const char *type, mode_t mode, char *rec, size_t recsz)
{
    EVP_PKEY *k = strcmp(type, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024)
                                           : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    unsigned char pub[600], *p = pub, b64[1024];
    size_t len = sizeof pub;
    char path[512];
    FILE *f;

    assert_non_null(k);
    path_in(path, sizeof path, tmpdir, name);
    assert_non_null(f = fopen(path, "w"));
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
    if (strcmp(type, "RSA") == 0)
        len = (size_t)i2d_PUBKEY(k, &p);
    else
        assert_int_equal(EVP_PKEY_get_raw_public_key(k, pub, &len), 1);
    EVP_EncodeBlock(b64, pub, (int)len);
    snprintf(rec, recsz, "v=DKIM1; k=%s; p=%.1000s", strcmp(type, "RSA") == 0 ? "rsa" : "ed25519", (char *)b64);
    EVP_PKEY_free(k);
}

static int sign_group_setup(void **state)
{
    char spare[1100];

    if (group_setup(state) < 0)
        return -1;
    make_key("rsa.pem", "RSA", 0640, rsa_record, sizeof rsa_record);
    make_key("ed.pem", "ED25519", 0600, ed_record, sizeof ed_record);
    make_key("open.pem", "RSA", 0644, spare, sizeof spare);
    return 0;
}

/* ---- the key table ------------------------------------------------------------------ */

#define RULES(table) "list ours networks { 192.0.2.0/24 }\ndkim-keys file \"" table "\";\n" \
                     "on eom { [sign] dkim-sign if client.address in <ours>; }\n"

static const struct bad_case table_cases[] = {
    { "good", RULES("good.keys"), NULL, "good.keys",
      "# a comment\n\nexample.org rsa rsa.pem\nexample.org ed ed.pem ed25519-sha256 c=simple/relaxed\n"
      "*.example.org wild rsa.pem rsa-sha256 d=example.org h=from:to:subject\n", 0, 0, { { 0 } } },
    { "bad_lines", RULES("bad.keys"), NULL, "bad.keys",
      "example.org rsa\nexa..mple.org s rsa.pem\nexample.org b@d rsa.pem\nexample.org s rsa.pem sha1\n",
      4, 0,
      { { "bad.keys", 1, 1, "dkim-keys: expected FROM-DOMAIN SELECTOR KEYFILE [ALGORITHM] [d=DOMAIN] [c=...] [h=...]" },
        { "bad.keys", 2, 1, "dkim-keys: \"exa..mple.org\": empty or malformed domain label" },
        { "bad.keys", 3, 13, "dkim-keys: \"b@d\": expected a selector (letters, digits, '-', '_' and dots)" },
        { "bad.keys", 4, 23, "dkim-keys: \"sha1\": expected rsa-sha256, ed25519-sha256, d=DOMAIN, c=HEADER/BODY or h=NAME:NAME" } } },
    { "bad_options", RULES("opt.keys"), NULL, "opt.keys",
      "example.org s rsa.pem c=simple/loose\nexample.org s rsa.pem h=to:subject\nexample.org s rsa.pem d=-x-\n",
      3, 0,
      { { "opt.keys", 1, 23, "dkim-keys: \"c=simple/loose\": expected c=relaxed/relaxed, c=relaxed/simple, c=simple/relaxed or c=simple/simple" },
        { "opt.keys", 2, 23, "dkim-keys: \"h=to:subject\": h= must include from (RFC 6376 section 5.4)" },
        { "opt.keys", 3, 23, "dkim-keys: \"d=-x-\": domain label starts with a hyphen" } } },
    { "world_readable", RULES("open.keys"), NULL, "open.keys", "example.org s open.pem\n", 1, 0,
      { { "open.keys", 1, 15, "dkim-keys: key file \"@DIR@/open.pem\" is readable by others (mode 0644): chmod 640 (owner root, group mxguard)" } } },
    { "wrong_key_type", RULES("type.keys"), NULL, "type.keys",
      "example.org s rsa.pem ed25519-sha256\nexample.org t ed.pem\nexample.org u missing.pem\n", 3, 0,
      { { "type.keys", 1, 15, "dkim-keys: key file \"@DIR@/rsa.pem\": ed25519-sha256 needs an Ed25519 key (openssl genpkey -algorithm ed25519)" },
        { "type.keys", 2, 15, "dkim-keys: key file \"@DIR@/ed.pem\": rsa-sha256 needs an RSA key" },
        { "type.keys", 3, 15, "dkim-keys: cannot read key file \"@DIR@/missing.pem\": No such file or directory" } } },
    { "too_many", RULES("many.keys"), NULL, "many.keys",
      "example.org a rsa.pem\nexample.org b rsa.pem\nexample.org c rsa.pem\nexample.org d rsa.pem\n"
      "example.org e rsa.pem\n", 1, 0,
      { { "many.keys", 5, 1, "dkim-keys: \"example.org\": at most 4 lines (signatures) for one domain" } } },
    { "no_table", "on eom { dkim-sign if authenticated; }\n", NULL, NULL, NULL, 1, 0,
      { { NULL, 1, 10, "dkim-sign needs a key table: expected 'dkim-keys file \"PATH\";' in the rule file" } } },
    { "unknown_selector", "dkim-keys file \"sel.keys\";\non eom { dkim-sign \"nope\" if authenticated; }\n",
      NULL, "sel.keys", "example.org rsa rsa.pem\n", 1, 0,
      { { NULL, 2, 10, "dkim-sign \"nope\": no line of the key table (@FILE@:1) has that selector" } } },
    { "not_at_eom", "dkim-keys file \"eom.keys\";\non rcpt { dkim-sign if authenticated; }\n",
      NULL, "eom.keys", "example.org rsa rsa.pem\n", 1, 0,
      { { NULL, 2, 11, "dkim-sign signs the whole message: expected it at stage eom" } } },
    { "any_client_warns", "list ours networks { 192.0.2.0/24 }\ndkim-keys file \"w.keys\";\n"
      "on eom { dkim-sign if client.address in <ours> or sender.domain = \"example.org\";\n"
      "  dkim-sign if not authenticated; dkim-sign if authenticated and sender.null; }\n",
      NULL, "w.keys", "example.org rsa rsa.pem\n", 0, 2,
      { { NULL, 3, 10, "warning: dkim-sign signs mail from any client here: its condition does not require "
                       "'authenticated' or 'client.address in <networks>', so mail from outside claiming our "
                       "From: domain could leave signed with our key" },
        { NULL, 4, 3, "warning: dkim-sign signs mail from any client here: its condition does not require "
                      "'authenticated' or 'client.address in <networks>', so mail from outside claiming our "
                      "From: domain could leave signed with our key" } } },
};

/* Exact lines win over a wildcard; a wildcard covers subdomains, not its own domain. */
static void test_table_matching(void **state)
{
    char path[512], table[512];
    const struct dkim_signer *s;

    (void)state;
    write_tmp(table, sizeof table, "match.keys",
              "example.org rsa rsa.pem\nexample.org ed ed.pem ed25519-sha256\n"
              "*.example.org wild rsa.pem\n*.deep.example.org deeper rsa.pem\nmail.example.org own rsa.pem\n");
    write_tmp(path, sizeof path, "match.rules", RULES("match.keys"));
    load_ok(path);
    assert_non_null(s = ruleset_dkim_signer(cur.rs));
    assert_true(ruleset_signs_dkim(cur.rs));
    assert_int_equal(dkim_signer_count(s), 5);
    assert_int_equal(dkim_signer_matches(s, "example.org"), 2);       /* both exact lines: two signatures */
    assert_int_equal(dkim_signer_matches(s, "mail.example.org"), 1);  /* its own line, not the wildcard */
    assert_int_equal(dkim_signer_matches(s, "news.example.org"), 1);  /* the wildcard */
    assert_int_equal(dkim_signer_matches(s, "a.deep.example.org"), 1);/* the closer wildcard only */
    assert_int_equal(dkim_signer_matches(s, "example.com"), 0);
    assert_int_equal(dkim_signer_matches(s, "badexample.org"), 0);
}

/* ---- signing through the engine ---------------------------------------------------- */

static const char *const body_lines = "Hello,\r\n\r\nthe figures are attached.\r\n";

struct signed_msg {
    char sig[DKIM_SIGN_MAX][2048];   /* DKIM-Signature values, topmost first */
    size_t nsigs;
    char why[160];
};

/* One message from client through conn.c with the headers given ("Name", " value", ...). */
static void run_message(const char *client, const char *const *hdrs, size_t nhdrs, struct signed_msg *out)
{
    struct sendauth_config cfg = { .authserv_id = "mx.test" };
    struct conn_services svc = { .auth = &cfg };
    const struct conn_edit *edits;
    size_t nedits;
    struct decision d;
    struct ipaddr ip;
    const char *error = NULL;
    const struct dkim_sign_outcome *o;
    struct conn *c = conn_new(ruleset_ref(cur.rs), &svc, &error);

    assert_non_null(c);
    memset(out, 0, sizeof *out);
    assert_int_equal(ipaddr_parse(client, &ip), 0);
    conn_connect(c, "client.test", &ip, &d);
    conn_helo(c, "client.test", true, &d);
    conn_mail(c, "<alice@example.org>", NULL, NULL, true, &d);
    conn_rcpt(c, "<bob@elsewhere.test>", true, &d);
    conn_data(c, &d);
    for (size_t i = 0; i + 1 < nhdrs; i += 2)
        conn_header(c, hdrs[i], hdrs[i + 1], true, &d);
    conn_eoh(c, &d);
    conn_body(c, (const unsigned char *)body_lines, strlen(body_lines));
    conn_eom(c, &d, &edits, &nedits);
    assert_int_equal(d.failure, CONN_OK);
    /* Each edit goes on top: the last made ends up topmost. */
    for (size_t i = nedits; i > 0; i--)
        if (strcmp(edits[i - 1].name, "DKIM-Signature") == 0) {
            assert_int_equal(edits[i - 1].kind, EDIT_INSERT_TOP);
            snprintf(out->sig[out->nsigs++], sizeof out->sig[0], " %s", edits[i - 1].value);
        }
    if ((o = sendauth_dkim_signed(conn_auth(c))) != NULL)
        snprintf(out->why, sizeof out->why, "%s", o->why);
    conn_free(c);
}

static const char *const plain_headers[] = {
    "From", " Alice <alice@example.org>", "To", " bob@elsewhere.test", "Subject", " figures",
    "Date", " Mon, 07 Dec 2026 12:00:00 +0000", "Message-ID", " <1@example.org>",
};

/* A value as the MTA delivers it to the next hop: CRLF before each fold. */
static void crlf_folds(const char *v, char *out, size_t outsz)
{
    size_t o = 0;

    for (; *v != '\0' && o + 3 < outsz; v++) {
        if (*v == '\n')
            out[o++] = '\r';
        out[o++] = *v;
    }
    out[o] = '\0';
}

/* mxguard's verifier, the keys from a resolver that holds only these records. */
static void verify_ours(const struct signed_msg *m, const char *const *hdrs, size_t nhdrs, struct dkim_outcome *out)
{
    char r1[1300], r2[1300];
    const char *records[] = { r1, r2 };
    struct dns_config cfg = { .mode = DNS_MODE_LOCAL, .query_timeout_ms = 2000, .records = records, .nrecords = 2 };
    const char *error = NULL;
    struct dns_resolver *r;
    struct dkim_checker *c;
    struct dkim_check *k;

    snprintf(r1, sizeof r1, "rsa._domainkey.example.org. TXT \"%.200s\" \"%s\"", rsa_record,
             strlen(rsa_record) > 200 ? rsa_record + 200 : "");
    snprintf(r2, sizeof r2, "ed._domainkey.example.org. TXT \"%s\"", ed_record);
    assert_non_null(r = dns_resolver_new(&cfg, &error));
    assert_non_null(c = dkim_checker_new(r, NULL, &error));
    assert_non_null(k = dkim_check_new(c, "unit"));
    for (size_t i = 0; i < m->nsigs; i++) {
        char crlf[4096];
        crlf_folds(m->sig[i], crlf, sizeof crlf);
        assert_int_equal(dkim_check_header(k, "DKIM-Signature", crlf), 0);
    }
    for (size_t i = 0; i + 1 < nhdrs; i += 2)
        assert_int_equal(dkim_check_header(k, hdrs[i], hdrs[i + 1]), 0);
    assert_int_equal(dkim_check_eoh(k), 0);
    assert_int_equal(dkim_check_body(k, (const unsigned char *)body_lines, strlen(body_lines)), 0);
    dkim_check_eom(k, out);
    dkim_check_free(k);
    dkim_checker_free(c);
    dns_resolver_free(r);
}

/* libopendkim's verifier, its keys from a file. Returns how many signatures passed. */
static unsigned verify_libopendkim(const struct signed_msg *m, const char *const *hdrs, size_t nhdrs)
{
    char keys[512], text[4096];
    DKIM_LIB *lib = dkim_init(NULL, NULL);
    dkim_query_t method = DKIM_QUERY_FILE;
    DKIM_SIGINFO **sigs = NULL;
    unsigned passed = 0;
    DKIM_STAT st;
    DKIM *d;
    int n = 0;

    path_in(keys, sizeof keys, tmpdir, "keys.txt");
    snprintf(text, sizeof text, "rsa._domainkey.example.org %s\ned._domainkey.example.org %s\n", rsa_record, ed_record);
    write_file(keys, text, strlen(text));
    assert_non_null(lib);
    assert_int_equal(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &method, sizeof method), DKIM_STAT_OK);
    assert_int_equal(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, keys, strlen(keys)), DKIM_STAT_OK);
    assert_non_null(d = dkim_verify(lib, (const unsigned char *)"unit", NULL, &st));
    for (size_t i = 0; i < m->nsigs; i++) {
        int len = snprintf(text, sizeof text, "DKIM-Signature:");
        crlf_folds(m->sig[i], text + len, sizeof text - (size_t)len);
        len = (int)strlen(text);
        assert_int_equal(dkim_header(d, (unsigned char *)text, (size_t)len), DKIM_STAT_OK);
    }
    for (size_t i = 0; i + 1 < nhdrs; i += 2) {
        int len = snprintf(text, sizeof text, "%s:%s", hdrs[i], hdrs[i + 1]);
        assert_int_equal(dkim_header(d, (unsigned char *)text, (size_t)len), DKIM_STAT_OK);
    }
    (void)dkim_eoh(d);
    (void)dkim_body(d, (unsigned char *)body_lines, strlen(body_lines));
    (void)dkim_eom(d, NULL);
    assert_int_equal(dkim_getsiglist(d, &sigs, &n), DKIM_STAT_OK);
    for (int i = 0; i < n; i++) {
        (void)dkim_sig_process(d, sigs[i]);
        if ((dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_PASSED) && dkim_sig_getbh(sigs[i]) == DKIM_SIGBH_MATCH)
            passed++;
    }
    dkim_free(d);
    dkim_close(lib);
    return passed;
}

static void load_signing_rules(void)
{
    char path[512], table[512];

    write_tmp(table, sizeof table, "sign.keys", "example.org rsa rsa.pem\nexample.org ed ed.pem ed25519-sha256\n");
    write_tmp(path, sizeof path, "sign.rules", RULES("sign.keys"));
    load_ok(path);
}

/* A trusted client's message: an RSA and an Ed25519 signature, From: oversigned; both verify twice. */
static void test_sign_rsa_and_ed25519(void **state)
{
    struct signed_msg m;
    struct dkim_outcome out;

    (void)state;
    load_signing_rules();
    run_message("192.0.2.10", plain_headers, ARRAY_SIZE(plain_headers), &m);
    assert_int_equal(m.nsigs, 2);
    assert_non_null(strstr(m.sig[0], "a=ed25519-sha256;"));
    assert_non_null(strstr(m.sig[1], "a=rsa-sha256;"));
    for (size_t i = 0; i < 2; i++) {
        assert_non_null(strstr(m.sig[i], "c=relaxed/relaxed;"));
        assert_non_null(strstr(m.sig[i], "d=example.org;"));
        assert_non_null(strstr(m.sig[i], "h=From:To:Subject:Date:Message-ID:from;")); /* From: oversigned */
        assert_null(strchr(m.sig[i], '\r'));
    }
    verify_ours(&m, plain_headers, ARRAY_SIZE(plain_headers), &out);
    assert_int_equal(out.nevaluated, 2);
    assert_int_equal(out.sig[0].result, AUTH_PASS);
    assert_string_equal(out.sig[0].algorithm, "ed25519-sha256");
    assert_int_equal(out.sig[1].result, AUTH_PASS);
    assert_string_equal(out.sig[1].algorithm, "rsa-sha256");
    assert_int_equal(verify_libopendkim(&m, plain_headers, ARRAY_SIZE(plain_headers)), 2);
}

/* The control: an altered Subject: fails both verifiers. */
static void test_signature_covers_the_message(void **state)
{
    static const char *const altered[] = {
        "From", " Alice <alice@example.org>", "To", " bob@elsewhere.test", "Subject", " other figures",
        "Date", " Mon, 07 Dec 2026 12:00:00 +0000", "Message-ID", " <1@example.org>",
    };
    struct signed_msg m;
    struct dkim_outcome out;

    (void)state;
    load_signing_rules();
    run_message("192.0.2.10", plain_headers, ARRAY_SIZE(plain_headers), &m);
    assert_int_equal(m.nsigs, 2);
    verify_ours(&m, altered, ARRAY_SIZE(altered), &out);
    assert_int_equal(out.sig[0].result, AUTH_FAIL);
    assert_int_equal(out.sig[1].result, AUTH_FAIL);
    assert_int_equal(verify_libopendkim(&m, altered, ARRAY_SIZE(altered)), 0);
}

/* What is never signed, and why the record says so. */
static void test_not_signed(void **state)
{
    static const char *const none[] = { "To", " bob@elsewhere.test", "Subject", " x" };
    static const char *const two_fields[] = { "From", " alice@example.org", "From", " bob@example.org" };
    static const char *const two_domains[] = { "From", " alice@example.org, \"x@example.org\" <eve@evil.test>" };
    static const char *const other[] = { "From", " Carol <carol@example.net>" };
    static const char *const group[] = { "From", " team: alice@example.org, (c) \"a@b\"@EXAMPLE.org;" };
    struct signed_msg m;

    (void)state;
    load_signing_rules();
    run_message("203.0.113.9", plain_headers, ARRAY_SIZE(plain_headers), &m); /* outside: the rule does not match */
    assert_int_equal(m.nsigs, 0);
    assert_string_equal(m.why, "");
    run_message("192.0.2.10", none, ARRAY_SIZE(none), &m);
    assert_int_equal(m.nsigs, 0);
    assert_string_equal(m.why, "no From: field");
    run_message("192.0.2.10", two_fields, ARRAY_SIZE(two_fields), &m);
    assert_int_equal(m.nsigs, 0);
    assert_string_equal(m.why, "more than one From: field");
    run_message("192.0.2.10", two_domains, ARRAY_SIZE(two_domains), &m);
    assert_int_equal(m.nsigs, 0);
    assert_string_equal(m.why, "From: addresses of more than one domain");
    run_message("192.0.2.10", other, ARRAY_SIZE(other), &m);
    assert_int_equal(m.nsigs, 0);
    assert_string_equal(m.why, "no key for example.net");
    /* A group of two addresses of one domain (in any case) is signed. */
    run_message("192.0.2.10", group, ARRAY_SIZE(group), &m);
    assert_int_equal(m.nsigs, 2);
}

int main(void)
{
    struct CMUnitTest tests[ARRAY_SIZE(table_cases) + 4];
    const struct CMUnitTest extra[] = {
        cmocka_unit_test_setup_teardown(test_table_matching, case_setup, case_teardown),
        cmocka_unit_test_setup_teardown(test_sign_rsa_and_ed25519, case_setup, case_teardown),
        cmocka_unit_test_setup_teardown(test_signature_covers_the_message, case_setup, case_teardown),
        cmocka_unit_test_setup_teardown(test_not_signed, case_setup, case_teardown),
    };
    size_t n = 0;

    for (size_t i = 0; i < ARRAY_SIZE(table_cases); i++)
        tests[n++] = (struct CMUnitTest){ table_cases[i].name, run_bad_case, case_setup, case_teardown,
                                          (void *)&table_cases[i] };
    for (size_t i = 0; i < ARRAY_SIZE(extra); i++)
        tests[n++] = extra[i];
    return _cmocka_run_group_tests("dkim_sign", tests, n, sign_group_setup, group_teardown);
}
