/*
 * dkim_key.c: a DKIM key record whose p= is a bare PKCS#1 RSAPublicKey
 * (RFC 6376 section 3.6.1 as written) rewritten as the SubjectPublicKeyInfo
 * libopendkim reads (RFC 6376 erratum 3017), in the DNS answer before
 * libopendkim parses it.
 *
 * Must never change anything else: every other tag keeps its bytes, and a
 * record that is not certainly an RSA key in PKCS#1 form (SPKI, ed25519,
 * revoked, malformed, doubled) is handed on exactly as it came, so that
 * libopendkim gives its own result. Never reads or writes past a buffer:
 * every length comes from a packet a stranger's DNS server wrote.
 */
#include "policy/auth/dkim_key.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define DNS_HEADER_LEN 12
#define RR_TYPE_TXT 16
#define RR_CLASS_IN 1
#define TXT_STRING_MAX 255

struct span {
    size_t start, end;
};

static bool wsp(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_tag(const char *rec, size_t name, size_t nend, char tag)
{
    return nend - name == 1 && rec[name] == tag;
}

/* The values of p= (exactly one) and k= (if any), white space trimmed;
   -1 when the record is no tag list or has no single p=. */
static int record_tags(const char *rec, size_t len, struct span *p, struct span *k, bool *has_k)
{
    size_t i = 0;
    unsigned np = 0;

    *has_k = false;
    while (i < len) {
        size_t name, nend, v, vend, e;

        while (i < len && wsp(rec[i]))
            i++;
        if (i == len)
            break; /* a trailing ";" */
        name = i;
        while (i < len && rec[i] != '=' && rec[i] != ';' && !wsp(rec[i]))
            i++;
        nend = i;
        while (i < len && wsp(rec[i]))
            i++;
        if (nend == name || i == len || rec[i] != '=')
            return -1;
        for (e = ++i; e < len && rec[e] != ';'; e++)
            ;
        for (v = i; v < e && wsp(rec[v]); v++)
            ;
        for (vend = e; vend > v && wsp(rec[vend - 1]); vend--)
            ;
        if (is_tag(rec, name, nend, 'p')) {
            *p = (struct span){ v, vend };
            np++;
        } else if (is_tag(rec, name, nend, 'k')) {
            *k = (struct span){ v, vend };
            *has_k = true;
        }
        i = e < len ? e + 1 : e;
    }
    return np == 1 ? 0 : -1;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Base64 with white space anywhere and "=" padding only at the end (or
   none); the bytes decoded, or -1. */
static long b64_decode(const char *s, size_t len, unsigned char *out, size_t outsz)
{
    unsigned acc = 0, bits = 0;
    size_t n = 0, chars = 0, pad = 0;

    for (size_t i = 0; i < len; i++) {
        int v;

        if (wsp(s[i]))
            continue;
        if (s[i] == '=') {
            pad++;
            continue;
        }
        if (pad > 0 || (v = b64_value(s[i])) < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        chars++;
        if (bits >= 8) {
            bits -= 8;
            if (n == outsz)
                return -1;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    if (chars % 4 == 1 || pad > 2 || (pad > 0 && (chars + pad) % 4 != 0))
        return -1;
    return (long)n;
}

/* Whether der is a SEQUENCE whose first element is an INTEGER, as an
   RSAPublicKey is; a SubjectPublicKeyInfo starts with a SEQUENCE. Only
   this shape is shown to OpenSSL: its decoders take some 200 us for an
   SPKI, the key of nearly every message. */
static bool der_starts_pkcs1(const unsigned char *der, size_t n)
{
    size_t hl;

    if (n < 2 || der[0] != 0x30)
        return false;
    if (der[1] < 0x80)
        hl = 2;
    else if (der[1] >= 0x81 && der[1] <= 0x84)
        hl = 2 + (der[1] & 0x7fu);
    else
        return false;
    return n > hl && der[hl] == 0x02;
}

/* The SubjectPublicKeyInfo of der when der is a PKCS#1 RSAPublicKey and
   nothing else (no SPKI, no bytes after it): its length in spki, or 0. */
static size_t pkcs1_to_spki(const unsigned char *der, size_t n, unsigned char *spki, size_t spkisz)
{
    const unsigned char *p = der;
    unsigned char *w = spki;
    EVP_PKEY *pk;
    int len = 0;

    /* What fails here is no error of ours: leave OpenSSL's error queue,
       which libopendkim reads, as it was. */
    ERR_set_mark();
    if ((pk = d2i_PUBKEY(NULL, &p, (long)n)) == NULL) {
        p = der;
        pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)n);
        if (pk != NULL && p == der + n && (len = i2d_PUBKEY(pk, NULL)) > 0 && (size_t)len <= spkisz)
            len = i2d_PUBKEY(pk, &w);
        else
            len = 0;
    }
    EVP_PKEY_free(pk);
    ERR_pop_to_mark();
    return len > 0 ? (size_t)len : 0;
}

int dkim_key_record_fix(const char *rec, size_t len, char *out, size_t outsz, size_t *outlen)
{
    unsigned char der[DKIM_KEY_DER_MAX], spki[DKIM_KEY_DER_MAX + 64];
    struct span p = { 0, 0 }, k = { 0, 0 };
    bool has_k;
    long n;
    size_t slen, b64len, total;

    if (len > DKIM_KEY_RECORD_MAX || memchr(rec, '\0', len) != NULL ||
        record_tags(rec, len, &p, &k, &has_k) < 0)
        return 0;
    if (has_k && !(k.end - k.start == 3 && strncasecmp(rec + k.start, "rsa", 3) == 0))
        return 0;
    if ((n = b64_decode(rec + p.start, p.end - p.start, der, sizeof der)) <= 0 ||
        !der_starts_pkcs1(der, (size_t)n) || (slen = pkcs1_to_spki(der, (size_t)n, spki, sizeof spki)) == 0)
        return 0;
    b64len = 4 * ((slen + 2) / 3);
    total = p.start + b64len + (len - p.end);
    if (total > DKIM_KEY_RECORD_MAX || total >= outsz)
        return 0;
    memcpy(out, rec, p.start);
    EVP_EncodeBlock((unsigned char *)out + p.start, spki, (int)slen);
    memcpy(out + p.start + b64len, rec + p.end, len - p.end);
    out[total] = '\0';
    *outlen = total;
    return 1;
}

/* ---- the DNS answer ------------------------------------------------------ */

static unsigned get16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static void put16(unsigned char *p, size_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

/* Past the name at *off (labels, ending in a root label or a pointer). */
static bool skip_name(const unsigned char *pkt, size_t len, size_t *off)
{
    size_t i = *off;

    while (i < len) {
        unsigned c = pkt[i];

        if (c == 0 || (c & 0xc0) == 0xc0) {
            *off = i + (c == 0 ? 1 : 2);
            return *off <= len;
        }
        if ((c & 0xc0) != 0)
            return false;
        i += 1 + c;
    }
    return false;
}

struct txt_rr {
    size_t rdlen_at; /* offset of the RDLENGTH field */
    unsigned index;  /* in the answer section */
};

/* The one TXT record of the answer section; -1 for none, several or a
   packet that does not parse. */
static int find_txt(const unsigned char *pkt, size_t len, struct txt_rr *txt)
{
    size_t off = DNS_HEADER_LEN;
    unsigned qd, an, found = 0;

    if (len < DNS_HEADER_LEN)
        return -1;
    qd = get16(pkt + 4);
    an = get16(pkt + 6);
    for (unsigned i = 0; i < qd; i++)
        if (!skip_name(pkt, len, &off) || (off += 4) > len)
            return -1;
    for (unsigned i = 0; i < an; i++) {
        if (!skip_name(pkt, len, &off) || off + 10 > len || off + 10 + get16(pkt + off + 8) > len)
            return -1;
        if (get16(pkt + off) == RR_TYPE_TXT && get16(pkt + off + 2) == RR_CLASS_IN) {
            *txt = (struct txt_rr){ off + 8, i };
            found++;
        }
        off += 10 + get16(pkt + off + 8);
    }
    return found == 1 ? 0 : -1;
}

/* The strings of a TXT rdata joined, as libopendkim joins them; -1 when
   they do not fill the rdata exactly or the record is too long. */
static long txt_join(const unsigned char *rd, size_t rdlen, char *out, size_t outsz)
{
    size_t i = 0, n = 0;

    while (i < rdlen) {
        size_t l = rd[i++];

        if (l > rdlen - i || l > outsz - n)
            return -1;
        memcpy(out + n, rd + i, l);
        n += l;
        i += l;
    }
    return (long)n;
}

size_t dkim_key_packet_fix(const unsigned char *pkt, size_t len, unsigned char *out, size_t outsz)
{
    struct txt_rr txt = { 0, 0 };
    char *rec, *fixed;
    long n;
    size_t fixedn, rdlen, total = 0;

    if (find_txt(pkt, len, &txt) < 0 || (rec = malloc(2 * (DKIM_KEY_RECORD_MAX + 1))) == NULL)
        return 0;
    fixed = rec + DKIM_KEY_RECORD_MAX + 1;
    n = txt_join(pkt + txt.rdlen_at + 2, get16(pkt + txt.rdlen_at), rec, DKIM_KEY_RECORD_MAX);
    if (n < 0 || dkim_key_record_fix(rec, (size_t)n, fixed, DKIM_KEY_RECORD_MAX + 1, &fixedn) != 1)
        goto out;
    /* Strings of 255 bytes, each after its length byte. */
    rdlen = fixedn + (fixedn + TXT_STRING_MAX - 1) / TXT_STRING_MAX;
    if (rdlen > 0xffff || txt.rdlen_at + 2 + rdlen > outsz)
        goto out;
    memcpy(out, pkt, txt.rdlen_at);
    put16(out + txt.rdlen_at, rdlen);
    total = txt.rdlen_at + 2;
    for (size_t i = 0; i < fixedn; i += TXT_STRING_MAX) {
        size_t l = fixedn - i < TXT_STRING_MAX ? fixedn - i : TXT_STRING_MAX;

        out[total++] = (unsigned char)l;
        memcpy(out + total, fixed + i, l);
        total += l;
    }
    /* Nothing after the record: offsets past it have moved. */
    put16(out + 6, txt.index + 1);
    put16(out + 8, 0);
    put16(out + 10, 0);
out:
    free(rec);
    return total;
}
