/*
 * dmarc_from.c: the author domains of a message from its From: fields.
 *
 * A minimal reader, enough for the DMARC session path and its tests: the
 * domain of "a@b.example" and "Name <a@b.example>", addresses separated
 * by commas; the full RFC 5322 grammar (comments, quoted strings, groups,
 * IDNA) replaces this file at merge (branch dmarcfrom14). Must never copy
 * a value whole, never read past len, never keep more than the bounded
 * domains of struct dmarc_from.
 */
#include "policy/auth/dmarc_from.h"

#include <string.h>

void dmarc_from_init(struct dmarc_from *f)
{
    memset(f, 0, sizeof *f);
}

static void note(struct dmarc_from *f, enum dmarc_from_problem p)
{
    if (p > f->problem)
        f->problem = p;
}

static bool domain_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

/* A lower-case DNS name: labels of 1..63 domain characters. */
static bool domain_ok(const char *d, size_t n)
{
    size_t label = 0;

    if (n == 0 || n > DMARC_DOMAIN_MAX || d[0] == '.' || d[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!domain_char(d[i]))
            return false;
        label = d[i] == '.' ? 0 : label + 1;
        if ((d[i] == '.' && i > 0 && d[i - 1] == '.') || label > 63)
            return false;
    }
    return true;
}

/* One address (s..s+n), with or without a display name and angle brackets; returns the domain count added. */
static unsigned add_address(struct dmarc_from *f, const char *s, size_t n)
{
    const char *lt = memchr(s, '<', n), *at = NULL, *end;
    char d[DMARC_DOMAIN_MAX + 1];
    size_t len = 0;

    if (lt != NULL) {
        n -= (size_t)(lt + 1 - s);
        s = lt + 1;
        end = memchr(s, '>', n);
        n = end != NULL ? (size_t)(end - s) : n;
    }
    for (size_t i = 0; i < n; i++)
        if (s[i] == '@')
            at = s + i;
    f->addresses++;
    if (at == NULL) {
        note(f, DMARC_FROM_NO_DOMAIN);
        return 0;
    }
    for (const char *p = at + 1; p < s + n && len <= DMARC_DOMAIN_MAX; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            continue;
        d[len++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    }
    if (!domain_ok(d, len)) {
        note(f, DMARC_FROM_NO_DOMAIN);
        return 0;
    }
    d[len] = '\0';
    for (unsigned i = 0; i < f->ndomains; i++)
        if (strcmp(f->domain[i], d) == 0)
            return 0;
    if (f->ndomains == DMARC_FROM_DOMAINS_MAX) {
        f->more_domains = true;
        return 1;
    }
    memcpy(f->domain[f->ndomains++], d, len + 1);
    return 1;
}

void dmarc_from_add(struct dmarc_from *f, const char *value, size_t len)
{
    size_t start = 0;
    unsigned added = 0, before = f->ndomains;
    bool any = false;

    if (++f->fields > 1)
        note(f, DMARC_FROM_FIELDS);
    for (size_t i = 0; i <= len; i++) {
        if (i < len && value[i] != ',')
            continue;
        size_t a = start, b = i;
        while (a < b && strchr(" \t\r\n", value[a]) != NULL)
            a++;
        if (a < b) {
            added += add_address(f, value + a, b - a);
            any = true;
        }
        start = i + 1;
    }
    if (!any)
        note(f, DMARC_FROM_NO_DOMAIN);
    /* Domains new to this field, plus one already seen in it, make several. */
    if (added > 1 || (added == 1 && before > 0 && f->fields == 1))
        note(f, DMARC_FROM_DOMAINS);
}

void dmarc_from_finish(struct dmarc_from *f)
{
    if (f->fields == 0)
        f->problem = DMARC_FROM_MISSING;
}

const char *dmarc_from_problem_text(enum dmarc_from_problem p)
{
    switch (p) {
    case DMARC_FROM_OK: return "";
    case DMARC_FROM_MISSING: return "no From: field";
    case DMARC_FROM_FIELDS: return "several From: fields";
    case DMARC_FROM_DOMAINS: return "one From: field with addresses of several domains";
    case DMARC_FROM_NO_DOMAIN: return "a From: address without a usable domain";
    }
    return "?";
}
