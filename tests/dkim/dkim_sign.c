/*
 * dkim_sign.c: test tool. Signs a message file with libopendkim's signing
 * API and prints the message with its new DKIM-Signature on top (lines
 * end in LF). opendkim-testmsg cannot serve: it signs rsa-sha1 only.
 *
 *   dkim_sign -k KEYFILE -s SELECTOR -d DOMAIN [-a rsa-sha256|ed25519-sha256|rsa-sha1]
 *             [-c simple|relaxed] [-l] [-H] [-t TIME -x TTL] FILE
 *
 * Signs the header fields RFC 6376 section 5.4 recommends (as signers
 * commonly do; not earlier DKIM-Signature fields), -H every field. -l adds
 * l= (the body length); -t and -x sign at a fixed time (t=) with an
 * expiry (x=) TTL seconds later. rsa-sha1 is for testing that verification
 * refuses it (RFC 8301). The message is read twice, in pieces, never
 * whole. Never used by the daemon.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <opendkim/dkim.h>

#include "tests/dkim/crlf.h"

static char *read_key(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t n;

    if (f == NULL || (buf = calloc(1, 65536)) == NULL) {
        fprintf(stderr, "dkim_sign: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    n = fread(buf, 1, 65535, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return buf;
}

/* Feed FILE to libopendkim as SMTP carries it: CRLF line ends. */
static void feed(DKIM *dkim, const char *path)
{
    static unsigned char buf[2 * 32768];
    FILE *f = fopen(path, "rb");
    int prev = 0;
    size_t n;

    if (f == NULL) {
        fprintf(stderr, "dkim_sign: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    while ((n = crlf_read(f, buf, sizeof buf / 2, &prev)) > 0) {
        if (dkim_chunk(dkim, buf, n) != DKIM_STAT_OK) {
            fprintf(stderr, "dkim_sign: libopendkim refused the message: %s\n", dkim_geterror(dkim));
            exit(1);
        }
    }
    fclose(f);
    (void)dkim_chunk(dkim, NULL, 0);
}

/* Print without CR, so the message file keeps LF line ends. */
static void put_lf(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != '\r')
            putchar(p[i]);
}

static void copy_file(const char *path)
{
    unsigned char buf[32768];
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL)
        exit(2);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        put_lf(buf, n);
    fclose(f);
}

/* -a: libopendkim's code for the algorithm's name; -1 when it has none. */
static int sign_alg(const char *alg)
{
    if (strcmp(alg, "rsa-sha256") == 0)
        return DKIM_SIGN_RSASHA256;
    if (strcmp(alg, "ed25519-sha256") == 0)
        return DKIM_SIGN_ED25519SHA256;
    if (strcmp(alg, "rsa-sha1") == 0)
        return DKIM_SIGN_RSASHA1;
    return -1;
}

static void usage(void)
{
    fprintf(stderr, "usage: dkim_sign -k KEYFILE -s SELECTOR -d DOMAIN [-a ALG] [-c CANON] [-l] [-H]\n"
                    "                 [-t TIME -x TTL] FILE\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *keyfile = NULL, *selector = NULL, *domain = NULL, *alg = "rsa-sha256";
    dkim_canon_t canon = DKIM_CANON_RELAXED;
    unsigned minbits = 512;
    bool signlen = false, sign_all = false;
    uint64_t fixed = 0, ttl = 0;
    unsigned char *hdr;
    size_t hlen;
    DKIM_LIB *lib;
    DKIM *dkim;
    DKIM_STAT st;
    char *key;
    int c;

    while ((c = getopt(argc, argv, "k:s:d:a:c:lHt:x:")) != -1) {
        switch (c) {
        case 'k': keyfile = optarg; break;
        case 's': selector = optarg; break;
        case 'd': domain = optarg; break;
        case 'a': alg = optarg; break;
        case 'c': canon = strcmp(optarg, "simple") == 0 ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED; break;
        case 'l': signlen = true; break;
        case 'H': sign_all = true; break;
        case 't': fixed = strtoull(optarg, NULL, 10); break;
        case 'x': ttl = strtoull(optarg, NULL, 10); break;
        default: usage();
        }
    }
    if (keyfile == NULL || selector == NULL || domain == NULL || optind + 1 != argc || sign_alg(alg) < 0)
        usage();
    key = read_key(keyfile);
    if ((lib = dkim_init(NULL, NULL)) == NULL)
        return 2;
    /* Short keys are what some tests are about: let them sign. */
    (void)dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &minbits, sizeof minbits);
    if ((fixed != 0 &&
         dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME, &fixed, sizeof fixed) != DKIM_STAT_OK) ||
        (ttl != 0 && dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNATURETTL, &ttl, sizeof ttl) != DKIM_STAT_OK))
        return 2;
    if (!sign_all &&
        dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, dkim_should_signhdrs, sizeof(char **)) !=
            DKIM_STAT_OK)
        return 2;
    if (strcmp(alg, "ed25519-sha256") == 0 && !dkim_libfeature(lib, DKIM_FEATURE_ED25519)) {
        fprintf(stderr, "dkim_sign: this libopendkim has no ed25519-sha256\n");
        return 3;
    }
    dkim = dkim_sign(lib, (const unsigned char *)"sign", NULL, (dkim_sigkey_t)key,
                     (const unsigned char *)selector, (const unsigned char *)domain, canon, canon,
                     sign_alg(alg), -1, &st);
    if (dkim == NULL) {
        fprintf(stderr, "dkim_sign: dkim_sign: %s\n", dkim_getresultstr(st));
        return 1;
    }
    if (signlen)
        (void)dkim_setpartial(dkim, true);
    feed(dkim, argv[optind]);
    if ((st = dkim_eom(dkim, NULL)) != DKIM_STAT_OK ||
        (st = dkim_getsighdr_d(dkim, strlen("DKIM-Signature: "), &hdr, &hlen)) != DKIM_STAT_OK) {
        fprintf(stderr, "dkim_sign: signing failed: %s (%s)\n", dkim_getresultstr(st), dkim_geterror(dkim));
        return 1;
    }
    fputs("DKIM-Signature: ", stdout);
    put_lf(hdr, hlen);
    putchar('\n');
    copy_file(argv[optind]);
    dkim_free(dkim);
    dkim_close(lib);
    free(key);
    return fflush(stdout) == 0 ? 0 : 1;
}
