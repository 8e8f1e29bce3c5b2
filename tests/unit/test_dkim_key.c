/*
 * test_dkim_key.c: DKIM key records whose p= is a bare PKCS#1
 * RSAPublicKey (policy/auth/dkim_key.c). The rewrite on its own (PKCS#1 in,
 * the SubjectPublicKeyInfo of the same key out, every other tag kept; SPKI,
 * ed25519, revoked and malformed records left as they were), the same on
 * DNS answer packets, and whole messages signed here with libopendkim and
 * verified through dkim_check_* against keys published in a resolver of
 * local records (DNS_MODE_LOCAL): PKCS#1 and SPKI both pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <opendkim/dkim.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "policy/auth/dkim.h"
#include "policy/auth/dkim_key.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define B64_MAX 4096

/* RSA keys made once for the whole run, and their encodings. */
static EVP_PKEY *key1, *key2, *key_short;
static char pkcs1[B64_MAX], spki[B64_MAX], pkcs1_other[B64_MAX], pkcs1_short[B64_MAX];

static void b64(const unsigned char *der, int n, char *out)
{
    assert_true(n > 0 && 4 * ((n + 2) / 3) < B64_MAX);
    EVP_EncodeBlock((unsigned char *)out, der, n);
}

/* PKCS#1 RSAPublicKey (i2d_PublicKey) or SubjectPublicKeyInfo (i2d_PUBKEY). */
static void encode(EVP_PKEY *pk, int spki_form, char *out)
{
    unsigned char *der = NULL;
    int n = spki_form ? i2d_PUBKEY(pk, &der) : i2d_PublicKey(pk, &der);

    b64(der, n, out);
    OPENSSL_free(der);
}

static int setup(void **state)
{
    (void)state;
    if ((key1 = EVP_RSA_gen(2048)) == NULL || (key2 = EVP_RSA_gen(1024)) == NULL ||
        (key_short = EVP_RSA_gen(512)) == NULL)
        return -1;
    encode(key1, 0, pkcs1);
    encode(key1, 1, spki);
    encode(key2, 0, pkcs1_other);
    encode(key_short, 0, pkcs1_short);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(key1);
    EVP_PKEY_free(key2);
    EVP_PKEY_free(key_short);
    return 0;
}

static char *cat3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = malloc(n);

    assert_non_null(s);
    snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

/* The record rewritten: its text, or NULL when it was left as it was. */
static char *fixed(const char *rec)
{
    static char out[DKIM_KEY_RECORD_MAX + 1];
    size_t n = 12345;

    memset(out, 'X', sizeof out);
    if (dkim_key_record_fix(rec, strlen(rec), out, sizeof out, &n) != 1) {
        assert_int_equal(out[0], 'X'); /* untouched */
        return NULL;
    }
    assert_int_equal(n, strlen(out));
    return out;
}

static void test_record_rewritten(void **state)
{
    static const char *const shapes[][2] = {
        { "v=DKIM1; k=rsa; t=y; h=sha256; p=", "" },
        { "v=DKIM1; h=sha256; p=", "; t=s:y; n=a note; s=email" },
        { "p=", "" },
        { "v=DKIM1;k=RSA;p=", ";" },
        { "v=DKIM1; k=rsa; p=\t  ", "  ;  t=y" },
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(shapes); i++) {
        char *in = cat3(shapes[i][0], pkcs1, shapes[i][1]);
        char *want = cat3(shapes[i][0], spki, shapes[i][1]);
        const char *out = fixed(in);

        assert_non_null(out);
        assert_string_equal(out, want);
        free(in);
        free(want);
    }
}

/* The p= written is the same key: same modulus and exponent. */
static void test_record_same_key(void **state)
{
    char *in = cat3("v=DKIM1; k=rsa; p=", pkcs1, "");
    const char *out = fixed(in), *p;
    unsigned char der[DKIM_KEY_DER_MAX];
    const unsigned char *d = der;
    EVP_PKEY *pk;
    int n;

    (void)state;
    assert_non_null(out);
    p = strstr(out, "p=") + 2;
    n = EVP_DecodeBlock(der, (const unsigned char *)p, (int)strlen(p));
    /* EVP_DecodeBlock counts the bytes of the padding too. */
    for (size_t i = strlen(p); i > 0 && p[i - 1] == '='; i--)
        n--;
    assert_true(n > 0);
    pk = d2i_PUBKEY(NULL, &d, n);
    assert_non_null(pk);
    assert_int_equal(EVP_PKEY_eq(pk, key1), 1);
    assert_int_equal(EVP_PKEY_get_bits(pk), 2048);
    EVP_PKEY_free(pk);
    free(in);
}

/* Folding white space inside the base64 of p= (RFC 6376 3.6.1) is read through. */
static void test_record_folded_p(void **state)
{
    char folded[B64_MAX * 2], *in, *want;
    size_t o = 0;

    (void)state;
    for (size_t i = 0; pkcs1[i] != '\0'; i++) {
        if (i > 0 && i % 64 == 0) {
            memcpy(folded + o, "\r\n\t ", 4);
            o += 4;
        }
        folded[o++] = pkcs1[i];
    }
    folded[o] = '\0';
    in = cat3("v=DKIM1; p=", folded, "; t=y");
    want = cat3("v=DKIM1; p=", spki, "; t=y");
    assert_string_equal(fixed(in), want);
    free(in);
    free(want);
}

static void test_record_left_alone(void **state)
{
    char *der_tail, *spki_rec, *ed_pkcs1, *two_p, *truncated, *other_k;
    char cut[B64_MAX];
    unsigned char raw[40];

    (void)state;
    spki_rec = cat3("v=DKIM1; k=rsa; p=", spki, "");
    assert_null(fixed(spki_rec));
    /* k= says it is no RSA key: p= is not looked at. */
    ed_pkcs1 = cat3("v=DKIM1; k=ed25519; p=", pkcs1, "");
    assert_null(fixed(ed_pkcs1));
    other_k = cat3("v=DKIM1; k=; p=", pkcs1, "");
    assert_null(fixed(other_k));
    /* Two p= tags: libopendkim's to judge. */
    two_p = cat3("v=DKIM1; p=", pkcs1, "; p=AAAA");
    assert_null(fixed(two_p));
    /* A PKCS#1 key cut short (its base64 ends in a whole group). */
    snprintf(cut, sizeof cut, "%.*s", (int)(strlen(pkcs1) / 2 / 4 * 4), pkcs1);
    truncated = cat3("v=DKIM1; p=", cut, "");
    assert_null(fixed(truncated));
    /* ... or with bytes after it. */
    {
        unsigned char der[DKIM_KEY_DER_MAX], *w = der;
        int n = i2d_PublicKey(key2, &w);
        char tail[B64_MAX];

        assert_true(n > 0);
        der[n] = 0x00;
        der[n + 1] = 0x00;
        b64(der, n + 2, tail);
        der_tail = cat3("v=DKIM1; p=", tail, "");
        assert_null(fixed(der_tail));
    }
    /* An ed25519 key: 32 bytes. */
    memset(raw, 0x5a, 32);
    {
        char ed[64], *rec;

        b64(raw, 32, ed);
        rec = cat3("v=DKIM1; k=ed25519; p=", ed, "");
        assert_null(fixed(rec));
        free(rec);
    }
    assert_null(fixed("v=DKIM1; k=rsa; p="));                    /* revoked */
    assert_null(fixed("v=DKIM1; k=rsa; p=  "));
    assert_null(fixed("this is not a key record"));
    assert_null(fixed("v=DKIM1; k=rsa; p=!!not*base64!!"));
    assert_null(fixed("v=DKIM1; k=rsa; p=MIIBCgKCAQEA"));          /* the start of a PKCS#1 key */
    assert_null(fixed("v=DKIM1; k=rsa; p=MAMCAQE="));              /* SEQUENCE { INTEGER 1 } */
    /* SEQUENCE { 1, 1 } is an RSAPublicKey of nonsense numbers: it goes
       on as SPKI, and libopendkim judges it as it judges one published so. */
    assert_non_null(fixed("v=DKIM1; k=rsa; p=MAYCAQECAQE="));
    assert_null(fixed("v=DKIM1; k=rsa; p=dGhpcyBpcyBubyBrZXk="));  /* "this is no key" */
    assert_null(fixed("v=DKIM1; k=rsa; h=sha256"));                 /* no p= */
    assert_null(fixed(""));
    free(spki_rec);
    free(ed_pkcs1);
    free(other_k);
    free(two_p);
    free(truncated);
    free(der_tail);
}

/* A record that would grow past the buffer given: left as it was. */
static void test_record_no_room(void **state)
{
    char *in = cat3("v=DKIM1; p=", pkcs1, "");
    char out[64];
    size_t n = 0;

    (void)state;
    memset(out, 'X', sizeof out);
    assert_int_equal(dkim_key_record_fix(in, strlen(in), out, sizeof out, &n), 0);
    assert_int_equal(out[0], 'X');
    /* Exactly enough room: the record and its NUL. */
    {
        size_t need = strlen("v=DKIM1; p=") + strlen(spki) + 1;
        char *big = malloc(need);

        assert_non_null(big);
        assert_int_equal(dkim_key_record_fix(in, strlen(in), big, need - 1, &n), 0);
        assert_int_equal(dkim_key_record_fix(in, strlen(in), big, need, &n), 1);
        assert_int_equal(n, need - 1);
        free(big);
    }
    free(in);
}

/* ---- DNS answer packets ---------------------------------------------------- */

struct pkt {
    unsigned char b[DKIM_KEY_RECORD_MAX];
    size_t n;
};

static void put(struct pkt *p, const void *d, size_t n)
{
    assert_true(p->n + n <= sizeof p->b);
    memcpy(p->b + p->n, d, n);
    p->n += n;
}

static void put16(struct pkt *p, unsigned v)
{
    unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };

    put(p, b, 2);
}

static void put_name(struct pkt *p, const char *name)
{
    while (*name != '\0') {
        size_t l = strcspn(name, ".");
        unsigned char len = (unsigned char)l;

        put(p, &len, 1);
        put(p, name, l);
        name += l + (name[l] == '.');
    }
    put(p, "", 1);
}

/* An answer to "sel._domainkey.example.test TXT": a CNAME first when
   cname, each record a TXT of strings of 200 bytes owned by a pointer to
   the question, then an OPT record in the additional section. */
static void answer(struct pkt *p, const char *const *recs, unsigned nrec, int cname)
{
    static const unsigned char hdr[] = { 0x12, 0x34, 0x81, 0x80, 0, 1 };
    static const unsigned char ttl[] = { 0, 0, 0x0e, 0x10 };

    p->n = 0;
    put(p, hdr, sizeof hdr);
    put16(p, nrec + (cname ? 1 : 0));
    put16(p, 0);
    put16(p, 1);
    put_name(p, "sel._domainkey.example.test");
    put16(p, 16);
    put16(p, 1);
    if (cname) {
        put16(p, 0xc00c);
        put16(p, 5);
        put16(p, 1);
        put(p, ttl, 4);
        put16(p, 2);
        put16(p, 0xc00c); /* a loop, but libopendkim only skips it */
    }
    for (unsigned i = 0; i < nrec; i++) {
        size_t len = strlen(recs[i]), rdlen = len + (len + 199) / 200;

        put16(p, 0xc00c);
        put16(p, 16);
        put16(p, 1);
        put(p, ttl, 4);
        put16(p, (unsigned)rdlen);
        for (size_t o = 0; o < len; o += 200) {
            unsigned char l = (unsigned char)(len - o < 200 ? len - o : 200);

            put(p, &l, 1);
            put(p, recs[i] + o, l);
        }
    }
    put(p, "", 1); /* OPT: the root name, type 41, UDP size 1232 */
    put16(p, 41);
    put16(p, 1232);
    put(p, "\0\0\0\0", 4);
    put16(p, 0);
}

/* The TXT records of an answer's answer section, joined, each on a line;
   the counts of the other sections. Parsed here by hand, as libopendkim
   does: the question, then RRs. */
static void read_answer(const unsigned char *b, size_t n, char *txt, size_t txtsz, unsigned *an,
                        unsigned *ns, unsigned *ar)
{
    size_t o = 12, t = 0;

    assert_true(n >= 12);
    *an = (unsigned)(b[6] << 8 | b[7]);
    *ns = (unsigned)(b[8] << 8 | b[9]);
    *ar = (unsigned)(b[10] << 8 | b[11]);
    assert_int_equal(b[4] << 8 | b[5], 1);
    while (b[o] != 0)
        o += 1 + b[o];
    o += 5;
    for (unsigned i = 0; i < *an; i++) {
        unsigned type, rdlen;

        assert_true(o + 12 <= n);
        assert_int_equal(b[o] & 0xc0, 0xc0);
        type = (unsigned)(b[o + 2] << 8 | b[o + 3]);
        rdlen = (unsigned)(b[o + 10] << 8 | b[o + 11]);
        o += 12;
        assert_true(o + rdlen <= n);
        if (type == 16) {
            for (size_t r = 0; r < rdlen; r += 1 + b[o + r]) {
                assert_true(b[o + r] <= 255 && r + 1 + b[o + r] <= rdlen && t + b[o + r] < txtsz);
                memcpy(txt + t, b + o + r + 1, b[o + r]);
                t += b[o + r];
            }
            txt[t++] = '\n';
        }
        o += rdlen;
    }
    if (*ns == 0 && *ar == 0)
        assert_int_equal(o, n); /* nothing after the answers */
    txt[t] = '\0';
}

static void test_packet_rewritten(void **state)
{
    char *rec = cat3("v=DKIM1; k=rsa; p=", pkcs1, "; t=y"), *want = cat3("v=DKIM1; k=rsa; p=", spki, "; t=y\n");
    const char *recs[] = { rec };
    static struct pkt in;
    static unsigned char out[DKIM_KEY_RECORD_MAX];
    static char txt[DKIM_KEY_RECORD_MAX];
    unsigned an, ns, ar;
    size_t n;

    (void)state;
    for (int cname = 0; cname <= 1; cname++) {
        answer(&in, recs, 1, cname);
        n = dkim_key_packet_fix(in.b, in.n, out, sizeof out);
        assert_true(n > in.n);
        read_answer(out, n, txt, sizeof txt, &an, &ns, &ar);
        assert_string_equal(txt, want);
        assert_int_equal(an, 1 + cname);
        assert_int_equal(ar, 0); /* the OPT record left out */
        assert_int_equal(ns, 0);
        /* Header flags, question and the records before the TXT's RDLENGTH: as they came. */
        assert_memory_equal(out, in.b, 6);
        assert_memory_equal(out + 12, in.b + 12, strlen("sel._domainkey.example.test") + 2 + 4);
        /* The original, read the same way, still says PKCS#1. */
        read_answer(in.b, in.n, txt, sizeof txt, &an, &ns, &ar);
        assert_int_equal(ar, 1);
        assert_non_null(strstr(txt, pkcs1));
        /* One byte short of the room it needs: left alone. */
        assert_int_equal(dkim_key_packet_fix(in.b, in.n, out, n - 1), 0);
        assert_int_equal(dkim_key_packet_fix(in.b, in.n, out, n), n);
    }
    free(rec);
    free(want);
}

static void test_packet_left_alone(void **state)
{
    char *p1 = cat3("v=DKIM1; k=rsa; p=", pkcs1, ""), *s1 = cat3("v=DKIM1; k=rsa; p=", spki, "");
    const char *spki_only[] = { s1 }, *two[] = { p1, p1 }, *junk[] = { "not a key" };
    static struct pkt in;
    static unsigned char out[DKIM_KEY_RECORD_MAX];

    (void)state;
    answer(&in, spki_only, 1, 0);
    assert_int_equal(dkim_key_packet_fix(in.b, in.n, out, sizeof out), 0);
    answer(&in, two, 2, 0); /* two records: libopendkim's permerror, as before */
    assert_int_equal(dkim_key_packet_fix(in.b, in.n, out, sizeof out), 0);
    answer(&in, junk, 1, 0);
    assert_int_equal(dkim_key_packet_fix(in.b, in.n, out, sizeof out), 0);
    answer(&in, NULL, 0, 0); /* no answer */
    assert_int_equal(dkim_key_packet_fix(in.b, in.n, out, sizeof out), 0);
    /* Every cut of a good packet: never read past it, never a rewrite
       from a record that is not all there. */
    answer(&in, (const char *[]){ p1 }, 1, 1);
    for (size_t cut = 0; cut < in.n - 11; cut++) {
        unsigned char *copy = malloc(cut + 1); /* exactly cut bytes for ASan to watch */

        assert_non_null(copy);
        memcpy(copy, in.b, cut);
        assert_int_equal(dkim_key_packet_fix(copy, cut, out, sizeof out), 0);
        free(copy);
    }
    /* A string running past RDLENGTH (the record's first string is 200
       bytes; RDLENGTH says 100). */
    answer(&in, (const char *[]){ p1 }, 1, 0);
    assert_int_equal(in.b[12 + 29 + 4 + 12], 200);
    in.b[12 + 29 + 4 + 10] = 0;
    in.b[12 + 29 + 4 + 11] = 100;
    assert_int_equal(dkim_key_packet_fix(in.b, in.n, out, sizeof out), 0);
    free(p1);
    free(s1);
}

/* ---- whole messages -------------------------------------------------------- */

/* "NAME. TXT" with the record in strings of 200 bytes, for DNS_MODE_LOCAL. */
static char *zone_txt(const char *name, const char *prefix, const char *key)
{
    char *rec = cat3(prefix, key, ""), *out = malloc(strlen(rec) * 2 + 256);
    size_t o;

    assert_non_null(out);
    o = (size_t)sprintf(out, "%s. TXT", name);
    for (size_t i = 0; i < strlen(rec); i += 200)
        o += (size_t)sprintf(out + o, " \"%.200s\"", rec + i);
    free(rec);
    return out;
}

static const char *const msg_headers[] = {
    "From", "Alice <alice@example.test>", "To", "Bob <bob@example.org>", "Subject", "figures",
};
static const char msg_body[] = "Hello Bob,\r\n\r\nthe figures are attached.\r\n";

/* The DKIM-Signature value (after "DKIM-Signature:") libopendkim makes with pk. */
static char *sign_with(EVP_PKEY *pk, const char *selector)
{
    BIO *bio = BIO_new(BIO_s_mem());
    DKIM_LIB *lib = dkim_init(NULL, NULL);
    unsigned minbits = 512;
    char *pem, *keytext, *sig;
    unsigned char *hdr;
    size_t hlen;
    long n;
    DKIM_STAT st;
    DKIM *d;

    assert_non_null(bio);
    assert_non_null(lib);
    (void)dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &minbits, sizeof minbits);
    assert_int_equal(PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL), 1);
    n = BIO_get_mem_data(bio, &pem);
    keytext = strndup(pem, (size_t)n);
    assert_non_null(keytext);
    d = dkim_sign(lib, (const unsigned char *)"unit", NULL, (dkim_sigkey_t)keytext,
                  (const unsigned char *)selector, (const unsigned char *)"example.test", DKIM_CANON_RELAXED,
                  DKIM_CANON_RELAXED, DKIM_SIGN_RSASHA256, -1, &st);
    assert_non_null(d);
    for (size_t i = 0; i < ARRAY_SIZE(msg_headers); i += 2) {
        char h[256];
        int hl = snprintf(h, sizeof h, "%s: %s", msg_headers[i], msg_headers[i + 1]);

        assert_int_equal(dkim_header(d, (unsigned char *)h, (size_t)hl), DKIM_STAT_OK);
    }
    assert_int_equal(dkim_eoh(d), DKIM_STAT_OK);
    assert_int_equal(dkim_body(d, (unsigned char *)msg_body, strlen(msg_body)), DKIM_STAT_OK);
    assert_int_equal(dkim_eom(d, NULL), DKIM_STAT_OK);
    assert_int_equal(dkim_getsighdr_d(d, strlen("DKIM-Signature: "), &hdr, &hlen), DKIM_STAT_OK);
    sig = malloc(hlen + 2);
    assert_non_null(sig);
    sig[0] = ' ';
    memcpy(sig + 1, hdr, hlen);
    sig[hlen + 1] = '\0';
    dkim_free(d);
    dkim_close(lib);
    BIO_free(bio);
    free(keytext);
    return sig;
}

static void verify(struct dkim_checker *c, const char *sig, struct dkim_outcome *out)
{
    struct dkim_check *m = dkim_check_new(c, "unit");

    assert_non_null(m);
    assert_int_equal(dkim_check_header(m, "DKIM-Signature", sig), 0);
    for (size_t i = 0; i < ARRAY_SIZE(msg_headers); i += 2) {
        char v[256];

        snprintf(v, sizeof v, " %s", msg_headers[i + 1]);
        assert_int_equal(dkim_check_header(m, msg_headers[i], v), 0);
    }
    assert_int_equal(dkim_check_eoh(m), 0);
    assert_int_equal(dkim_check_body(m, (const unsigned char *)msg_body, strlen(msg_body)), 0);
    dkim_check_eom(m, out);
    dkim_check_free(m);
}

static void test_messages(void **state)
{
    char *records[] = {
        zone_txt("pkcs1._domainkey.example.test", "v=DKIM1; k=rsa; t=s; p=", pkcs1),
        zone_txt("spki._domainkey.example.test", "v=DKIM1; k=rsa; t=s; p=", spki),
        zone_txt("bare._domainkey.example.test", "p=", pkcs1),
        zone_txt("other._domainkey.example.test", "v=DKIM1; p=", pkcs1_other),
        zone_txt("short._domainkey.example.test", "v=DKIM1; p=", pkcs1_short),
    };
    struct dns_config cfg = { .mode = DNS_MODE_LOCAL, .query_timeout_ms = 3000,
                              .records = (const char *const *)records, .nrecords = ARRAY_SIZE(records) };
    struct dkim_limits lim = { .deadline_ms = 3000 };
    static const struct {
        const char *selector;
        EVP_PKEY **key;
        enum auth_result result;
        unsigned bits;
        const char *problem;
    } cases[] = {
        { "pkcs1", &key1, AUTH_PASS, 2048, "" },
        { "spki", &key1, AUTH_PASS, 2048, "" },
        { "bare", &key1, AUTH_PASS, 2048, "" },
        /* The key published is what is checked: another key fails. */
        { "other", &key1, AUTH_FAIL, 1024, "signature mismatch" },
        /* A short key in PKCS#1 form meets the same policy as in SPKI. */
        { "short", &key_short, AUTH_POLICY, 512, "key of 512 bits, fewer than 1024" },
    };
    const char *error = NULL;
    struct dns_resolver *r = dns_resolver_new(&cfg, &error);
    struct dkim_checker *c;

    (void)state;
    assert_non_null(r);
    c = dkim_checker_new(r, &lim, &error);
    assert_non_null(c);
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *sig = sign_with(*cases[i].key, cases[i].selector);
        struct dkim_outcome out;

        verify(c, sig, &out);
        printf("# s=%s: result %d bits %u problem \"%s\"\n", cases[i].selector, (int)out.sig[0].result,
               out.sig[0].key_bits, out.sig[0].problem);
        assert_int_equal(out.nevaluated, 1);
        assert_string_equal(out.sig[0].selector, cases[i].selector);
        assert_int_equal(out.sig[0].result, cases[i].result);
        assert_int_equal(out.sig[0].key_bits, cases[i].bits);
        assert_string_equal(out.sig[0].problem, cases[i].problem);
        free(sig);
    }
    dkim_checker_free(c);
    dns_resolver_free(r);
    for (size_t i = 0; i < ARRAY_SIZE(records); i++)
        free(records[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_rewritten),
        cmocka_unit_test(test_record_same_key),
        cmocka_unit_test(test_record_folded_p),
        cmocka_unit_test(test_record_left_alone),
        cmocka_unit_test(test_record_no_room),
        cmocka_unit_test(test_packet_rewritten),
        cmocka_unit_test(test_packet_left_alone),
        cmocka_unit_test(test_messages),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
