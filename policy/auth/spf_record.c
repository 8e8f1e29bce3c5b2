/*
 * spf_record.c: the RFC 7208 syntax check every SPF record passes before
 * libspf2 compiles it, and the record libspf2 gets instead.
 *
 * libspf2's compiler is lax where the RFC says permerror (empty or
 * malformed domain-specs, bad macros, leading zeros in prefix lengths,
 * repeated modifiers) and strict where it must not be (unknown modifiers
 * with dots in their names). So records are checked here against the
 * ABNF of section 12 and rewritten: unknown modifiers dropped (section 6:
 * they are ignored), redirect= moved to the end or dropped when an "all"
 * is present (section 6.1). Macro transformers are bounded (1 to 128
 * parts) before libspf2's expander, which Debian 12 ships unfixed, ever
 * sees them. The input is a DNS record: never read past its end, never
 * write past the caller's buffer.
 */
#include "policy/auth/spf_record.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SPF_RECORD_TERMS_MAX 60

struct span {
    const char *p;
    size_t n;
};

static bool is_alnum(char c)
{
    return isalnum((unsigned char)c) != 0;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool is_toplabel(const char *p, size_t n)
{
    bool alpha = false;

    if (n == 0 || n > 63 || !is_alnum(p[0]) || !is_alnum(p[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_alnum(p[i]) && p[i] != '-')
            return false;
        alpha = alpha || isalpha((unsigned char)p[i]);
    }
    /* All digits is an address, not a name; with a hyphen it is a name. */
    return alpha || memchr(p, '-', n) != NULL;
}

/* One macro-expand at p ("%{...}", "%%", "%_", "%-"); its length, or 0 if malformed. */
static size_t macro_expand(const char *p, size_t n, bool exp_text)
{
    size_t i = 2, digits = 0;
    unsigned long parts = 0;

    if (n >= 2 && (p[1] == '%' || p[1] == '_' || p[1] == '-'))
        return 2;
    if (n < 4 || p[1] != '{' || strchr("slodiphcrtvSLODIPHCRTV", p[2]) == NULL)
        return 0;
    if (!exp_text && strchr("crtCRT", p[2]) != NULL)
        return 0; /* RFC 7208 7.2: c, r and t only in explanation text */
    for (i = 3; i < n && isdigit((unsigned char)p[i]); i++, digits++)
        parts = parts * 10 + (unsigned long)(p[i] - '0');
    if (digits > 0 && (parts == 0 || parts > 128 || digits > 3))
        return 0;
    if (i < n && (p[i] == 'r' || p[i] == 'R'))
        i++;
    while (i < n && strchr(".-+,/_=", p[i]) != NULL)
        i++;
    return i < n && p[i] == '}' ? i + 1 : 0;
}

/* macro-string; *ends_in_macro tells whether its last element is a macro-expand. */
static bool macro_string(const char *p, size_t n, bool exp_text, bool *ends_in_macro)
{
    *ends_in_macro = false;
    for (size_t i = 0; i < n;) {
        if (p[i] == '%') {
            size_t m = macro_expand(p + i, n - i, exp_text);
            if (m == 0)
                return false;
            i += m;
            *ends_in_macro = true;
        } else if ((unsigned char)p[i] >= 0x21 && (unsigned char)p[i] <= 0x7e) {
            i++;
            *ends_in_macro = false;
        } else
            return false;
    }
    return true;
}

/* domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand */
static bool domain_spec(const char *p, size_t n)
{
    bool macro_end;
    size_t label = 0;

    if (n == 0 || p[0] == '.' || !macro_string(p, n, false, &macro_end))
        return false;
    /* The literal labels: none empty, none over 63 octets. */
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '%') {
            i += macro_expand(p + i, n - i, false) - 1;
            label = 1; /* a macro makes the label non-empty, its length unknown */
        } else if (p[i] == '.') {
            if (label == 0 && i + 1 < n)
                return false;
            label = 0;
        } else if (++label > 63)
            return false;
    }
    if (macro_end)
        return true;
    if (p[n - 1] == '.')
        n--;
    size_t dot = n;
    while (dot > 0 && p[dot - 1] != '.' && p[dot - 1] != '}')
        dot--;
    return dot > 0 && p[dot - 1] == '.' && is_toplabel(p + dot, n - dot);
}

/* "/" followed by a decimal without leading zeros, at most max. Its length, or 0. */
static size_t cidr(const char *p, size_t n, unsigned max)
{
    size_t i = 1;
    unsigned v = 0;

    if (n < 2 || p[0] != '/' || !isdigit((unsigned char)p[1]))
        return 0;
    if (p[1] == '0' && n > 2 && isdigit((unsigned char)p[2]))
        return 0;
    for (; i < n && isdigit((unsigned char)p[i]) && i < 5; i++)
        v = v * 10 + (unsigned)(p[i] - '0');
    return v <= max ? i : 0;
}

/* The digits just before end, after a slash: where that slash is, or end if none. */
static size_t cidr_start(const char *p, size_t end)
{
    size_t k = end;

    while (k > 0 && isdigit((unsigned char)p[k - 1]))
        k--;
    return k < end && k > 0 && p[k - 1] == '/' ? k - 1 : end;
}

/* dual-cidr-length at the end of [p, p+n): its length (0 if none), or -1 if malformed. */
static long dual_cidr(const char *p, size_t n)
{
    size_t end = n, k = cidr_start(p, end);

    if (k < end && k > 0 && p[k - 1] == '/') { /* "//" ip6-cidr-length */
        if (cidr(p + k, end - k, 128) != end - k)
            return -1;
        end = k - 1;
        k = cidr_start(p, end);
    }
    if (k < end) {
        if (cidr(p + k, end - k, 32) != end - k)
            return -1;
        end = k;
    }
    return (long)(n - end);
}

static bool ip_network(const char *p, size_t n, int af)
{
    char buf[64];
    unsigned char out[16];
    const char *slash = memchr(p, '/', n);
    size_t an = slash != NULL ? (size_t)(slash - p) : n;

    if (an == 0 || an >= sizeof buf)
        return false;
    memcpy(buf, p, an);
    buf[an] = '\0';
    if (inet_pton(af, buf, out) != 1)
        return false;
    return slash == NULL || cidr(slash, n - an, af == AF_INET ? 32 : 128) == n - an;
}

static bool word_is(struct span w, const char *name)
{
    size_t l = strlen(name);
    return w.n == l && strncasecmp(w.p, name, l) == 0;
}

/* A mechanism (qualifier removed): name, then ":" domain-spec and/or CIDR as its kind allows. */
static bool mechanism(struct span t)
{
    const char *colon = memchr(t.p, ':', t.n), *slash = memchr(t.p, '/', t.n);
    size_t nl = colon != NULL ? (size_t)(colon - t.p) : t.n;
    if (slash != NULL && (size_t)(slash - t.p) < nl)
        nl = (size_t)(slash - t.p);
    struct span name = { t.p, nl }, arg = { t.p + nl, t.n - nl };
    bool has_arg = colon != NULL && (size_t)(colon - t.p) == nl;

    if (word_is(name, "all"))
        return arg.n == 0;
    if (word_is(name, "ip4") || word_is(name, "ip6"))
        return has_arg && ip_network(arg.p + 1, arg.n - 1, word_is(name, "ip4") ? AF_INET : AF_INET6);
    if (word_is(name, "include") || word_is(name, "exists"))
        return has_arg && domain_spec(arg.p + 1, arg.n - 1);
    if (word_is(name, "a") || word_is(name, "mx") || word_is(name, "ptr")) {
        long c = word_is(name, "ptr") ? 0 : dual_cidr(arg.p, arg.n);
        if (c < 0)
            return false;
        size_t dn = arg.n - (size_t)c;
        if (!has_arg)
            return dn == 0;
        return domain_spec(arg.p + 1, dn - 1);
    }
    return false;
}

/* name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) */
static bool modifier_name(const char *p, size_t n)
{
    if (n == 0 || !isalpha((unsigned char)p[0]))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_alnum(p[i]) && strchr("-_.", p[i]) == NULL)
            return false;
    return true;
}

struct rewrite {
    struct span redirect, exp;
    bool all;
    int family;
    char *out;
    size_t size, len;
};

static bool append(struct rewrite *r, const char *p, size_t n)
{
    if (r->len + 1 + n + 1 > r->size)
        return false;
    r->out[r->len++] = ' ';
    memcpy(r->out + r->len, p, n);
    r->len += n;
    r->out[r->len] = '\0';
    return true;
}

static bool append_parts(struct rewrite *r, const char *const *parts, size_t n)
{
    size_t len = 0;

    for (size_t i = 0; i < n; i++)
        len += strlen(parts[i]);
    if (r->len + 1 + len + 1 > r->size)
        return false;
    r->out[r->len++] = ' ';
    for (size_t i = 0; i < n; i++) {
        memcpy(r->out + r->len, parts[i], strlen(parts[i]));
        r->len += strlen(parts[i]);
    }
    r->out[r->len] = '\0';
    return true;
}

/* The prefix length that applies to a client of family in an a/mx argument (-1: none given). */
static int effective_cidr(struct span arg, int family)
{
    size_t c = (size_t)dual_cidr(arg.p, arg.n);
    const char *p = arg.p + arg.n - c, *end = arg.p + arg.n, *dbl = NULL;

    for (const char *q = p; q + 1 < end; q++)
        if (q[0] == '/' && q[1] == '/')
            dbl = q;
    if (family == AF_INET6)
        return dbl != NULL ? atoi(dbl + 2) : -1;
    return c == 0 || p == dbl ? -1 : atoi(p + 1);
}

/* ip4:X/0 or ip6:X/0: the two halves for a client of that family, nothing for the other. */
static bool append_any_network(struct rewrite *r, const char *q, bool ip4)
{
    bool v4 = r->family == AF_INET;

    if (ip4 != v4)
        return true; /* never matches this client */
    const char *halves[] = { q, v4 ? "ip4:0.0.0.0/1 " : "ip6:::/1 ", q, v4 ? "ip4:128.0.0.0/1" : "ip6:8000::/1" };
    return append_parts(r, halves, 4);
}

/* A directive as libspf2 is to see it, prefix lengths of 0 rewritten (see spf_record.h). */
static bool append_directive(struct rewrite *r, struct span t, struct span m)
{
    char q[2] = { m.p == t.p ? '\0' : t.p[0], '\0' }, name[8], dom[600];
    size_t nl = strcspn(m.p, ":/");

    if (nl > m.n)
        nl = m.n;
    snprintf(name, sizeof name, "%.*s", (int)(nl < 7 ? nl : 7), m.p);
    struct span arg = { m.p + nl, m.n - nl };
    bool ip4 = strcasecmp(name, "ip4") == 0, ip6 = strcasecmp(name, "ip6") == 0;
    if (ip4 || ip6) {
        const char *slash = memchr(m.p, '/', m.n);
        return slash != NULL && atoi(slash + 1) == 0 ? append_any_network(r, q, ip4) : append(r, t.p, t.n);
    }
    if (strcasecmp(name, "a") != 0 && strcasecmp(name, "mx") != 0)
        return append(r, t.p, t.n);
    /* a and mx: only this client's prefix length is kept (the other one
       may be a 0 that libspf2 refuses), or the marker for 0. */
    int len = effective_cidr(arg, r->family);
    size_t c = (size_t)dual_cidr(arg.p, arg.n);
    size_t dn = arg.n > c && arg.p[0] == ':' ? arg.n - c - 1 : 0;
    char cidr_text[16] = "";
    snprintf(dom, sizeof dom, "%.*s", (int)dn, arg.p + 1);
    if (len == 0 && dn > 0 && dom[dn - 1] == '.')
        dom[dn - 1] = '\0';
    if (len == 0)
        snprintf(cidr_text, sizeof cidr_text, "%s", r->family == AF_INET ? "/32" : "//128");
    else if (len > 0)
        snprintf(cidr_text, sizeof cidr_text, "%s%d", r->family == AF_INET ? "/" : "//", len);
    const char *parts[] = { q, name, dn > 0 || len == 0 ? ":" : "", dn > 0 ? dom : len == 0 ? "%{d}" : "",
                            len == 0 ? SPF_ANY_ADDRESS_LABEL : "", cidr_text };
    return append_parts(r, parts, 6);
}

static int term(struct rewrite *r, struct span t, const char **why_r)
{
    const char *eq = memchr(t.p, '=', t.n), *colon = memchr(t.p, ':', t.n);

    if (eq != NULL && (colon == NULL || eq < colon)) {
        struct span name = { t.p, (size_t)(eq - t.p) }, val = { eq + 1, t.n - name.n - 1 };
        bool macro_end;
        if (!modifier_name(name.p, name.n)) {
            *why_r = "malformed modifier";
            return -1;
        }
        bool redirect = word_is(name, "redirect"), exp = word_is(name, "exp");
        if ((redirect || exp) && !domain_spec(val.p, val.n)) {
            *why_r = redirect ? "malformed redirect= domain" : "malformed exp= domain";
            return -1;
        }
        if (!redirect && !exp && !macro_string(val.p, val.n, false, &macro_end)) {
            *why_r = "malformed modifier value";
            return -1;
        }
        struct span *slot = redirect ? &r->redirect : exp ? &r->exp : NULL;
        if (slot != NULL && slot->p != NULL) {
            *why_r = redirect ? "redirect= twice" : "exp= twice";
            return -1;
        }
        if (slot != NULL)
            *slot = t;
        return 0; /* unknown modifiers are dropped: RFC 7208 section 6 ignores them */
    }
    struct span m = t;
    if (m.n > 0 && strchr("+-~?", m.p[0]) != NULL) {
        m.p++;
        m.n--;
    }
    if (!mechanism(m)) {
        *why_r = "malformed or unknown mechanism";
        return -1;
    }
    r->all = r->all || word_is(m, "all");
    if (!append_directive(r, t, m)) {
        *why_r = "SPF record too long";
        return -1;
    }
    return 0;
}

int spf_record_check(const char *rec, int family, char *out, size_t outsz, const char **why_r)
{
    struct rewrite r = { { NULL, 0 }, { NULL, 0 }, false, family, out, outsz, 0 };
    size_t n = strlen(rec), i = 6;

    if (outsz < 7 || n < 6 || strncasecmp(rec, "v=spf1", 6) != 0 || (n > 6 && rec[6] != ' ')) {
        *why_r = "not an SPF record";
        return -1;
    }
    memcpy(out, "v=spf1", 7);
    r.len = 6;
    while (i < n) {
        while (i < n && rec[i] == ' ')
            i++;
        size_t start = i;
        while (i < n && rec[i] != ' ')
            i++;
        if (i > start && term(&r, (struct span){ rec + start, i - start }, why_r) < 0)
            return -1;
    }
    /* libspf2 silently drops mechanisms after about 63 (a record of 64
       ip4 terms and -all evaluates as neutral): refuse well before. */
    size_t terms = 0;
    for (size_t k = 0; k < r.len; k++)
        terms += r.out[k] == ' ';
    if (terms > SPF_RECORD_TERMS_MAX) {
        *why_r = "more mechanisms than libspf2 evaluates";
        return -1;
    }
    /* exp= and redirect= last, where libspf2 evaluates them in order. */
    if ((r.exp.p != NULL && !append(&r, r.exp.p, r.exp.n)) ||
        (r.redirect.p != NULL && !r.all && !append(&r, r.redirect.p, r.redirect.n))) {
        *why_r = "SPF record too long";
        return -1;
    }
    return 0;
}

int spf_exp_text_check(const char *text)
{
    bool macro_end;

    for (const char *p = text; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            return -1;
    /* Spaces separate macro-strings in explanation text (RFC 7208 6.2). */
    for (const char *p = text; *p != '\0';) {
        size_t n = strcspn(p, " ");
        if (!macro_string(p, n, true, &macro_end))
            return -1;
        p += n;
        p += strspn(p, " ");
    }
    return 0;
}
