/*
 * dkim_sign.c: DKIM signing of outbound mail with libopendkim: the keys
 * of a key table in memory, and the signing of one message.
 *
 * Private keys are read once, when the rule set is loaded, and refused
 * unless they are regular files that others cannot read and that
 * libopendkim can sign with. Must never keep a copy of a message's body
 * (it goes straight to the signing handles), never sign a message whose
 * From: names no single domain, and never let a key's bytes reach a log.
 */
#include "policy/auth/dkim_sign.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opendkim/dkim.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "policy/auth/dmarc_from.h"
#include "policy/smtp/idn.h"

#define KEY_FILE_MAX 65536 /* bytes of a private key file */

/*
 * libopendkim 2.11 (Debian's 2.11.0~beta2) never frees the Ed25519 key it
 * loads for each signature (dkim_privkey_load: the EVP_PKEY and the
 * signature buffer, some 600 bytes a signature); RSA keys are freed. Not
 * ours to fix here: the sanitizer builds' leak checker is told so, and
 * mxguard(8) says it under BUGS. Never called outside those builds.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:dkim_privkey_load\n";
}

static const char default_headers[] =
    "from:to:cc:subject:date:message-id:reply-to:in-reply-to:references:mime-version:"
    "content-type:content-transfer-encoding:list-id:list-unsubscribe:list-unsubscribe-post";

struct sign_key {
    struct dkim_sign_line line;
    char *pem;                    /* the private key, NUL-terminated; wiped when freed */
    size_t pemlen;
    const char *hdrs[DKIM_SIGN_HEADERS_MAX + 1]; /* line.headers split, NULL-terminated */
    char *hdrbuf;
};

struct dkim_signer {
    DKIM_LIB *lib;
    struct sign_key *keys;
    size_t n, cap;
    const char *defaults[DKIM_SIGN_HEADERS_MAX + 1];
    char *defbuf;
};

struct dkim_sign_msg {
    const struct dkim_signer *s;
    char *hbuf;                   /* "Name:value\0" for each header, until their end */
    size_t hlen, hcap;
    bool too_big, eoh_done;
    const struct dmarc_from *from; /* the author domains: the caller's, read once for DMARC and us */
    DKIM *h[DKIM_SIGN_MAX];
    const struct sign_key *hk[DKIM_SIGN_MAX];
    char sdid[DKIM_SIGN_MAX][IDN_DOMAIN_MAX + 1];
    bool finished[DKIM_SIGN_MAX];
    size_t nh;
    char *values[DKIM_SIGN_MAX];
    char why[160];                /* no handle was started: why */
};

/* "a:b:c" into out[] (pointing into a copy, *buf); -1 out of memory or too many. */
static int split_headers(const char *list, const char **out, char **buf)
{
    size_t n = 0;
    char *save = NULL;

    if ((*buf = strdup(list)) == NULL)
        return -1;
    for (char *t = strtok_r(*buf, ":", &save); t != NULL; t = strtok_r(NULL, ":", &save)) {
        if (n == DKIM_SIGN_HEADERS_MAX)
            return -1;
        out[n++] = t;
    }
    out[n] = NULL;
    return 0;
}

struct dkim_signer *dkim_signer_new(const char **error_r)
{
    static const char *const oversign[] = { "from", NULL };
    struct dkim_signer *s = calloc(1, sizeof *s);

    *error_r = "out of memory";
    if (s == NULL)
        return NULL;
    if ((s->lib = dkim_init(NULL, NULL)) == NULL) {
        *error_r = "libopendkim could not start";
        free(s);
        return NULL;
    }
    if (split_headers(default_headers, s->defaults, &s->defbuf) < 0 ||
        dkim_options(s->lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, s->defaults, sizeof(char **)) != DKIM_STAT_OK ||
        (dkim_libfeature(s->lib, DKIM_FEATURE_OVERSIGN) &&
         dkim_options(s->lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, (void *)oversign, sizeof(char **)) !=
             DKIM_STAT_OK)) {
        *error_r = "libopendkim refused the signed header list";
        dkim_signer_free(s);
        return NULL;
    }
    return s;
}

void dkim_signer_free(struct dkim_signer *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++) {
        explicit_bzero(s->keys[i].pem, s->keys[i].pemlen);
        free(s->keys[i].pem);
        free(s->keys[i].hdrbuf);
        free(s->keys[i].line.headers);
    }
    free(s->keys);
    free(s->defbuf);
    if (s->lib != NULL)
        dkim_close(s->lib);
    free(s);
}

const char *dkim_sign_default_headers(void)
{
    return default_headers;
}

bool dkim_signer_ed25519(const struct dkim_signer *s)
{
    return dkim_libfeature(s->lib, DKIM_FEATURE_ED25519);
}

bool dkim_signer_has_selector(const struct dkim_signer *s, const char *selector)
{
    for (size_t i = 0; s != NULL && i < s->n; i++)
        if (strcmp(s->keys[i].line.selector, selector) == 0)
            return true;
    return false;
}

size_t dkim_signer_count(const struct dkim_signer *s)
{
    return s != NULL ? s->n : 0;
}

/* Read a key file: a regular file no others may read, at most KEY_FILE_MAX bytes. */
static char *read_key_file(const char *path, size_t *len, char *err, size_t errsz)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    char *buf = NULL;
    ssize_t got = 0;

    if (fd < 0) {
        snprintf(err, errsz, "cannot read key file \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errsz, "key file \"%s\" is not a regular file", path);
    } else if (st.st_mode & 007) {
        snprintf(err, errsz, "key file \"%s\" is readable by others (mode %04o): chmod 640 (owner root, group mxguard)",
                 path, (unsigned)(st.st_mode & 07777));
    } else if (st.st_size <= 0 || st.st_size >= KEY_FILE_MAX) {
        snprintf(err, errsz, "key file \"%s\": expected a PEM private key, found %lld bytes", path,
                 (long long)st.st_size);
    } else if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        snprintf(err, errsz, "out of memory");
    } else if ((got = read(fd, buf, (size_t)st.st_size)) != (ssize_t)st.st_size) {
        snprintf(err, errsz, "cannot read key file \"%s\": %s", path, got < 0 ? strerror(errno) : "short read");
        explicit_bzero(buf, (size_t)st.st_size);
        free(buf);
        buf = NULL;
    } else {
        buf[got] = '\0';
        *len = (size_t)got;
    }
    close(fd);
    return buf;
}

/* The key is a PEM private key of the line's algorithm (RSA of 1024 bits or more). */
static int check_key_type(const char *pem, size_t len, const struct dkim_sign_line *line, const char *path,
                          char *err, size_t errsz)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *k = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    int rc = -1;

    if (k == NULL)
        snprintf(err, errsz, "key file \"%s\": not a PEM private key OpenSSL can read (unencrypted PKCS#8 or PKCS#1)", path);
    else if (line->alg == DKIM_SIGN_ALG_RSA_SHA256 && EVP_PKEY_base_id(k) != EVP_PKEY_RSA)
        snprintf(err, errsz, "key file \"%s\": rsa-sha256 needs an RSA key", path);
    else if (line->alg == DKIM_SIGN_ALG_RSA_SHA256 && EVP_PKEY_bits(k) < 1024)
        snprintf(err, errsz, "key file \"%s\": a %d-bit RSA key: RFC 8301 wants 1024 bits at least (2048 advised)",
                 path, EVP_PKEY_bits(k));
    else if (line->alg == DKIM_SIGN_ALG_ED25519_SHA256 && EVP_PKEY_base_id(k) != EVP_PKEY_ED25519)
        snprintf(err, errsz, "key file \"%s\": ed25519-sha256 needs an Ed25519 key (openssl genpkey -algorithm ed25519)", path);
    else
        rc = 0;
    EVP_PKEY_free(k);
    BIO_free(bio);
    return rc;
}

static dkim_alg_t lib_alg(enum dkim_sign_alg a)
{
    return a == DKIM_SIGN_ALG_ED25519_SHA256 ? DKIM_SIGN_ED25519SHA256 : DKIM_SIGN_RSASHA256;
}

static DKIM *handle_new(const struct dkim_signer *s, const struct sign_key *k, const char *sdid, DKIM_STAT *st)
{
    const struct dkim_sign_line *l = &k->line;
    DKIM *h = dkim_sign(s->lib, (const unsigned char *)"mxguard", NULL, (dkim_sigkey_t)k->pem,
                        (const unsigned char *)l->selector, (const unsigned char *)sdid,
                        l->simple_header ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED,
                        l->simple_body ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED, lib_alg(l->alg), -1, st);

    if (h != NULL && k->hdrbuf != NULL && dkim_signhdrs(h, (const char **)k->hdrs) != DKIM_STAT_OK) {
        dkim_free(h);
        *st = DKIM_STAT_INTERNAL;
        return NULL;
    }
    return h;
}

/* What loading a key proves: libopendkim signs a small message with it. */
static int trial_sign(const struct dkim_signer *s, const struct sign_key *k, const char *path, char *err,
                      size_t errsz)
{
    static const char from[] = "From: trial <trial@example.invalid>";
    const char *sdid = k->line.sdid[0] ? k->line.sdid : k->line.domain;
    unsigned char *hdr = NULL;
    size_t hlen = 0;
    DKIM_STAT st;
    DKIM *h = handle_new(s, k, sdid, &st);

    if (h != NULL && (st = dkim_header(h, (unsigned char *)from, strlen(from))) == DKIM_STAT_OK &&
        (st = dkim_eoh(h)) == DKIM_STAT_OK && (st = dkim_body(h, (unsigned char *)"x\r\n", 3)) == DKIM_STAT_OK &&
        (st = dkim_eom(h, NULL)) == DKIM_STAT_OK &&
        (st = dkim_getsighdr_d(h, strlen("DKIM-Signature: "), &hdr, &hlen)) == DKIM_STAT_OK) {
        dkim_free(h);
        return 0;
    }
    snprintf(err, errsz, "key file \"%s\": libopendkim cannot sign with it: %s%s%s", path, dkim_getresultstr(st),
             h != NULL && dkim_geterror(h) != NULL ? ": " : "", h != NULL && dkim_geterror(h) != NULL ? dkim_geterror(h) : "");
    if (h != NULL)
        dkim_free(h);
    return -1;
}

int dkim_signer_add(struct dkim_signer *s, struct dkim_sign_line *line, const char *path, char *err, size_t errsz)
{
    struct sign_key k;

    memset(&k, 0, sizeof k);
    if (line->alg == DKIM_SIGN_ALG_ED25519_SHA256 && !dkim_signer_ed25519(s)) {
        snprintf(err, errsz, "this libopendkim cannot sign ed25519-sha256");
        return -1;
    }
    if ((k.pem = read_key_file(path, &k.pemlen, err, errsz)) == NULL)
        return -1;
    k.line = *line;
    if (check_key_type(k.pem, k.pemlen, line, path, err, errsz) < 0)
        goto fail;
    if (line->headers != NULL && split_headers(line->headers, k.hdrs, &k.hdrbuf) < 0) {
        snprintf(err, errsz, "h=: at most %d header names", DKIM_SIGN_HEADERS_MAX);
        goto fail;
    }
    if (trial_sign(s, &k, path, err, errsz) < 0)
        goto fail;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4;
        struct sign_key *grown = realloc(s->keys, cap * sizeof *grown);
        if (grown == NULL) {
            snprintf(err, errsz, "out of memory");
            goto fail;
        }
        s->keys = grown;
        s->cap = cap;
    }
    s->keys[s->n++] = k;
    line->headers = NULL; /* the signer's now */
    return 0;
fail:
    explicit_bzero(k.pem, k.pemlen);
    free(k.pem);
    free(k.hdrbuf);
    return -1;
}

/* The lines for domain: the exact ones, else those of the closest wildcard. */
static size_t find_keys(const struct dkim_signer *s, const char *domain, const struct sign_key **out, size_t max)
{
    size_t n = 0, dlen = strlen(domain), best = 0;

    for (size_t i = 0; s != NULL && i < s->n; i++)
        if (!s->keys[i].line.wildcard && strcmp(s->keys[i].line.domain, domain) == 0 && n < max)
            out[n++] = &s->keys[i];
    if (n > 0)
        return n;
    for (size_t i = 0; s != NULL && i < s->n; i++) {
        const struct dkim_sign_line *l = &s->keys[i].line;
        size_t blen = strlen(l->domain);
        if (!l->wildcard || blen >= dlen || domain[dlen - blen - 1] != '.' ||
            strcmp(domain + dlen - blen, l->domain) != 0 || blen < best)
            continue;
        if (blen > best) {
            best = blen;
            n = 0;
        }
        if (n < max)
            out[n++] = &s->keys[i];
    }
    return n;
}

size_t dkim_signer_matches(const struct dkim_signer *s, const char *domain)
{
    const struct sign_key *k[DKIM_SIGN_MAX];

    return find_keys(s, domain, k, DKIM_SIGN_MAX);
}

/* ---- one message ------------------------------------------------------------------ */

struct dkim_sign_msg *dkim_sign_msg_new(const struct dkim_signer *s, const struct dmarc_from *from)
{
    struct dkim_sign_msg *m = calloc(1, sizeof *m);

    if (m != NULL) {
        m->s = s;
        m->from = from;
    }
    return m;
}

void dkim_sign_msg_free(struct dkim_sign_msg *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nh; i++) {
        dkim_free(m->h[i]);
        free(m->values[i]);
    }
    free(m->hbuf);
    free(m);
}

int dkim_sign_msg_header(struct dkim_sign_msg *m, const char *name, const char *value)
{
    size_t nlen = strlen(name), vlen = strlen(value), need = nlen + vlen + 2;

    if (m->eoh_done || m->too_big)
        return 0;
    if (m->hlen + need > DKIM_SIGN_HEADER_BYTES) {
        m->too_big = true;
        return 0;
    }
    if (m->hlen + need > m->hcap) {
        size_t cap = m->hcap ? m->hcap : 4096;
        char *grown;
        while (cap < m->hlen + need)
            cap *= 2;
        if ((grown = realloc(m->hbuf, cap)) == NULL)
            return -1;
        m->hbuf = grown;
        m->hcap = cap;
    }
    memcpy(m->hbuf + m->hlen, name, nlen);
    m->hbuf[m->hlen + nlen] = ':';
    memcpy(m->hbuf + m->hlen + nlen + 1, value, vlen + 1);
    m->hlen += need;
    return 0;
}

/* Start a handle for each key line of the From: domain and give it the headers. */
static int start_handles(struct dkim_sign_msg *m)
{
    const struct sign_key *k[DKIM_SIGN_MAX];
    const char *from = m->from->domain[0];
    size_t n = find_keys(m->s, from, k, DKIM_SIGN_MAX);
    DKIM_STAT st;

    if (n == 0)
        snprintf(m->why, sizeof m->why, "no key for %.120s", from);
    for (size_t i = 0; i < n; i++) {
        const struct dkim_sign_line *l = &k[i]->line;
        snprintf(m->sdid[i], sizeof m->sdid[i], "%s", l->sdid[0] ? l->sdid : l->wildcard ? l->domain : from);
        if ((m->h[i] = handle_new(m->s, k[i], m->sdid[i], &st)) == NULL)
            return -1;
        m->hk[i] = k[i];
        m->nh = i + 1;
        for (size_t off = 0; off < m->hlen; off += strlen(m->hbuf + off) + 1)
            if (dkim_header(m->h[i], (unsigned char *)m->hbuf + off, strlen(m->hbuf + off)) != DKIM_STAT_OK)
                return -1;
        if (dkim_eoh(m->h[i]) != DKIM_STAT_OK)
            return -1;
    }
    return 0;
}

int dkim_sign_msg_eoh(struct dkim_sign_msg *m)
{
    int rc = 0;

    if (m->eoh_done)
        return 0;
    m->eoh_done = true;
    if (m->too_big)
        snprintf(m->why, sizeof m->why, "headers past %u bytes", DKIM_SIGN_HEADER_BYTES);
    else if (m->from->fields == 0)
        snprintf(m->why, sizeof m->why, "%s", dmarc_from_problem_text(DMARC_FROM_MISSING));
    else if (m->from->problem != DMARC_FROM_OK || m->from->ndomains != 1)
        snprintf(m->why, sizeof m->why, "%s", m->from->problem != DMARC_FROM_OK ?
                 dmarc_from_problem_text(m->from->problem) : "no From: domain");
    else
        rc = start_handles(m);
    free(m->hbuf); /* given to the handles: not kept */
    m->hbuf = NULL;
    m->hlen = m->hcap = 0;
    return rc;
}

int dkim_sign_msg_body(struct dkim_sign_msg *m, const unsigned char *data, size_t len)
{
    if (!m->eoh_done && dkim_sign_msg_eoh(m) < 0)
        return -1;
    for (size_t i = 0; i < m->nh; i++)
        if (dkim_body(m->h[i], (unsigned char *)data, len) != DKIM_STAT_OK)
            return -1;
    return 0;
}

/* The signature value without CR, owned by m. */
static int take_value(struct dkim_sign_msg *m, size_t i)
{
    unsigned char *hdr = NULL;
    size_t hlen = 0, o = 0;

    if (dkim_eom(m->h[i], NULL) != DKIM_STAT_OK ||
        dkim_getsighdr_d(m->h[i], strlen("DKIM-Signature: "), &hdr, &hlen) != DKIM_STAT_OK ||
        (m->values[i] = malloc(hlen + 1)) == NULL)
        return -1;
    for (size_t k = 0; k < hlen; k++)
        if (hdr[k] != '\r')
            m->values[i][o++] = (char)hdr[k];
    m->values[i][o] = '\0';
    return 0;
}

int dkim_sign_msg_finish(struct dkim_sign_msg *m, const char *selector, const char **values, size_t *n,
                         struct dkim_sign_outcome *out)
{
    size_t made = 0;

    *n = 0;
    out->done = true;
    if (!m->eoh_done && dkim_sign_msg_eoh(m) < 0)
        return -1;
    for (size_t i = 0; i < m->nh; i++) {
        const struct dkim_sign_line *l = &m->hk[i]->line;
        if (m->finished[i] || (selector != NULL && strcmp(selector, l->selector) != 0))
            continue;
        m->finished[i] = true;
        if (take_value(m, i) < 0) {
            snprintf(out->why, sizeof out->why, "libopendkim could not sign: %s",
                     dkim_geterror(m->h[i]) ? dkim_geterror(m->h[i]) : "internal error");
            return -1;
        }
        values[(*n)++] = m->values[i];
        if (out->nsigs < DKIM_SIGN_MAX) {
            struct dkim_sign_sig *sg = &out->sig[out->nsigs++];
            snprintf(sg->d, sizeof sg->d, "%s", m->sdid[i]);
            snprintf(sg->s, sizeof sg->s, "%s", l->selector);
            snprintf(sg->a, sizeof sg->a, "%s", l->alg == DKIM_SIGN_ALG_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256");
        }
        made++;
    }
    if (out->nsigs == 0 && out->why[0] == '\0')
        snprintf(out->why, sizeof out->why, "%s", m->why[0] ? m->why
                 : m->nh > 0 && selector != NULL ? "no key with that selector" : "not signed");
    if (made > 0)
        out->why[0] = '\0';
    return 0;
}
