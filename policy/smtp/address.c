/*
 * address.c: parse envelope paths as clients send them.
 *
 * Everything here is client input: every length is checked against the
 * RFC 5321 limits before anything is copied, and the parse never guesses.
 * A path it cannot parse is an error, so a caller can never mistake a
 * malformed recipient for one of our local addresses. The domain is kept
 * as lower-case A-labels (policy/smtp/idn.c), the form lists compare; a
 * name that is no valid IDN is a parse error like any other bad domain.
 */
#include "policy/smtp/address.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "policy/smtp/idn.h"
#include "policy/smtp/ipaddr.h"

static bool is_atext(unsigned char c)
{
    if (c >= 0x80)
        return true; /* SMTPUTF8 local parts */
    if (isalnum(c))
        return true;
    return strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL && c != '\0';
}

static bool is_label_char(unsigned char c)
{
    return isalnum(c) || c == '-' || c >= 0x80;
}

static int check_literal(const char *d, size_t len, const char **error_r)
{
    char buf[64];
    struct ipaddr ip;
    const char *inner = d + 1;
    size_t n = len - 2;

    if (len < 3 || d[len - 1] != ']') {
        *error_r = "unterminated address literal";
        return -1;
    }
    if (n >= 5 && strncasecmp(inner, "IPv6:", 5) == 0) {
        inner += 5;
        n -= 5;
        if (n == 0 || n >= sizeof buf || memchr(inner, ':', n) == NULL) {
            *error_r = "invalid IPv6 address literal";
            return -1;
        }
    } else if (n == 0 || n >= sizeof buf || memchr(inner, ':', n) != NULL) {
        *error_r = "invalid address literal";
        return -1;
    }
    memcpy(buf, inner, n);
    buf[n] = '\0';
    if (ipaddr_parse(buf, &ip) < 0) {
        *error_r = "invalid address literal";
        return -1;
    }
    return 0;
}

int address_check_domain(const char *d, size_t len, const char **error_r)
{
    size_t label = 0;

    if (len == 0) {
        *error_r = "empty domain";
        return -1;
    }
    if (len > ADDRESS_DOMAIN_MAX) {
        *error_r = "domain longer than 255 octets";
        return -1;
    }
    if (d[0] == '[')
        return check_literal(d, len, error_r);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)d[i];
        if (c == '.') {
            if (label == 0 || d[i - 1] == '-') {
                *error_r = "empty or malformed domain label";
                return -1;
            }
            label = 0;
            continue;
        }
        if (!is_label_char(c)) {
            *error_r = "invalid character in domain";
            return -1;
        }
        if (label == 0 && c == '-') {
            *error_r = "domain label starts with a hyphen";
            return -1;
        }
        if (++label > 63) {
            *error_r = "domain label longer than 63 octets";
            return -1;
        }
    }
    if (label == 0 || d[len - 1] == '-') {
        *error_r = "empty or malformed domain label";
        return -1;
    }
    return 0;
}

/* Skip an RFC 5321 A-d-l ("@a.example,@b.example:"); returns bytes used or -1. */
static long skip_source_route(const char *p, size_t len, const char **error_r)
{
    const char *colon = memchr(p, ':', len);
    const char *q = p;

    if (colon == NULL) {
        *error_r = "source route without ':'";
        return -1;
    }
    while (q < colon) {
        const char *end;
        if (*q != '@') {
            *error_r = "malformed source route";
            return -1;
        }
        q++;
        end = memchr(q, ',', (size_t)(colon - q));
        if (end == NULL)
            end = colon;
        if (address_check_domain(q, (size_t)(end - q), error_r) < 0)
            return -1;
        q = end < colon ? end + 1 : colon;
        if (end < colon && q == colon) {
            *error_r = "malformed source route";
            return -1;
        }
    }
    return (long)(colon - p) + 1;
}

/*
 * Parse the local part into buf (dequoted). Returns bytes consumed or -1.
 * Stops at the '@' that separates it from the domain (not consumed).
 */
static long parse_local(const char *p, size_t len, char *buf, size_t *out_len,
                        bool *quoted, const char **error_r)
{
    size_t i = 0, o = 0;

    *quoted = false;
    if (len > 0 && p[0] == '"') {
        *quoted = true;
        for (i = 1; i < len && p[i] != '"'; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c == '\\') {
                if (++i == len) {
                    break;
                }
                c = (unsigned char)p[i];
            }
            if (c < 0x20 || c == 0x7f) {
                *error_r = "control character in quoted local part";
                return -1;
            }
            if (o >= ADDRESS_LOCAL_MAX) {
                *error_r = "local part longer than 64 octets";
                return -1;
            }
            buf[o++] = (char)c;
        }
        if (i >= len) {
            *error_r = "unterminated quoted local part";
            return -1;
        }
        i++; /* closing quote */
    } else {
        for (; i < len && p[i] != '@'; i++) {
            unsigned char c = (unsigned char)p[i];
            if (!is_atext(c) && c != '.') {
                *error_r = "invalid character in local part";
                return -1;
            }
            if (o >= ADDRESS_LOCAL_MAX) {
                *error_r = "local part longer than 64 octets";
                return -1;
            }
            buf[o++] = (char)c;
        }
        if (o == 0) {
            *error_r = "empty local part";
            return -1;
        }
    }
    buf[o] = '\0';
    *out_len = o;
    return (long)i;
}

static void trim(const char **p, size_t *len)
{
    while (*len > 0 && isspace((unsigned char)**p)) {
        (*p)++;
        (*len)--;
    }
    while (*len > 0 && isspace((unsigned char)(*p)[*len - 1]))
        (*len)--;
}

/* A local part that is not a dot-atom must be quoted in the canonical form. */
static bool needs_quotes(const char *local, size_t len)
{
    if (len == 0 || local[0] == '.' || local[len - 1] == '.')
        return true; /* "" and dots at either end are not a dot-atom */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)local[i];
        if (c == '.' ? local[i + 1] == '.' : !is_atext(c))
            return true;
    }
    return false;
}

/* local@domain, re-quoting the local part when it needs it. */
static void make_full(struct address *out, const char *local, size_t llen)
{
    char *f = out->full;
    size_t n = 0;

    /* The null path <> has no local part to quote; ""@example.org does. */
    if ((llen > 0 || out->domain_len > 0) && needs_quotes(local, llen)) {
        f[n++] = '"';
        for (size_t i = 0; i < llen; i++) {
            if (local[i] == '"' || local[i] == '\\')
                f[n++] = '\\';
            f[n++] = local[i];
        }
        f[n++] = '"';
    } else {
        memcpy(f, local, llen);
        n = llen;
    }
    if (out->domain_len > 0) {
        f[n++] = '@';
        memcpy(f + n, out->domain, out->domain_len);
        n += out->domain_len;
    }
    f[n] = '\0';
    out->full_len = n;
}

static int fill(struct address *out, const char *local, size_t llen,
                const char *dom, size_t dlen)
{
    /* One block: local \0 domain \0 full \0, where full may quote and
       escape every byte of the local part. */
    char *mem = malloc(llen + dlen + 2 + (2 * llen + 3) + dlen + 1);

    if (mem == NULL)
        return -1;
    memcpy(mem, local, llen);
    mem[llen] = '\0';
    out->local = mem;
    out->local_len = llen;
    out->domain = mem + llen + 1;
    for (size_t i = 0; i < dlen; i++)
        out->domain[i] = (char)tolower((unsigned char)dom[i]);
    out->domain[dlen] = '\0';
    out->domain_len = dlen;
    out->full = out->domain + dlen + 1;
    make_full(out, local, llen);
    return 0;
}

int address_parse(const char *in, size_t len, struct address *out, const char **error_r)
{
    char local[ADDRESS_LOCAL_MAX + 1];
    char domain[IDN_DOMAIN_MAX + 1] = "";
    struct idn_error idn_error;
    size_t llen = 0, dlen = 0;
    const char *p = in;
    long n;

    memset(out, 0, sizeof *out);
    if (in == NULL) {
        *error_r = "missing address";
        return -1;
    }
    if (len > ADDRESS_INPUT_MAX) {
        *error_r = "address too long";
        return -1;
    }
    if (memchr(in, '\0', len) != NULL) {
        *error_r = "NUL byte in address";
        return -1;
    }
    trim(&p, &len);
    if (len > 0 && p[0] == '<') {
        if (len < 2 || p[len - 1] != '>') {
            *error_r = "unbalanced angle brackets";
            return -1;
        }
        p++;
        len -= 2;
    }
    if (len == 0) {
        out->is_null = true;
        return fill(out, "", 0, "", 0) < 0 ? (*error_r = "out of memory", -1) : 0;
    }
    if (p[0] == '@') {
        if ((n = skip_source_route(p, len, error_r)) < 0)
            return -1;
        out->routed = true;
        p += n;
        len -= (size_t)n;
    }
    if ((n = parse_local(p, len, local, &llen, &out->quoted, error_r)) < 0)
        return -1;
    p += n;
    len -= (size_t)n;
    if (len == 0) {
        /* RFC 5321 allows a bare "Postmaster" recipient and nothing else. */
        if (out->quoted || strcasecmp(local, "postmaster") != 0) {
            *error_r = "address without a domain";
            return -1;
        }
    } else {
        if (p[0] != '@') {
            *error_r = "expected '@' after the local part";
            return -1;
        }
        p++;
        len--;
        /* One form for every comparison: lower-case A-labels (a trailing dot dropped). */
        if (idn_to_alabels(p, len, domain, &dlen, &idn_error) < 0) {
            *error_r = idn_error.reason;
            return -1;
        }
        out->literal = p[0] == '[';
    }
    if (strpbrk(local, "%!@") != NULL)
        out->routed = true;
    if (fill(out, local, llen, domain, dlen) < 0) {
        *error_r = "out of memory";
        return -1;
    }
    return 0;
}

void address_free(struct address *a)
{
    if (a == NULL)
        return;
    free(a->local);
    a->local = NULL;
    a->domain = NULL;
    a->full = NULL;
}
