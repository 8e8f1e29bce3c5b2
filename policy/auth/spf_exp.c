/*
 * spf_exp.c: the explanation of a fail (RFC 7208 6.2), fetched and
 * macro-expanded here instead of by libspf2.
 *
 * libspf2 1.2.10 mangles explanation texts (spaces come out as '%') and
 * its explanation compiler is where CVE-2021-20314 lived: so its get_exp
 * hook lands here, the TXT record is checked with spf_exp_text_check()
 * and expanded by this file into a bounded buffer. The expansion reads
 * only values our checks let through (ASCII identities, sane names) and
 * never writes past SPF_EXPLANATION_MAX octets; it must never count
 * toward the lookup limits (RFC 7208 4.6.4) nor turn a failure into
 * anything but an empty explanation.
 */
#include "policy/auth/spf_dns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/auth/spf_record.h"

struct ebuf {
    char p[SPF_EXPLANATION_MAX + 1];
    size_t n;
};

static void put(struct ebuf *b, char c)
{
    if (b->n < SPF_EXPLANATION_MAX)
        b->p[b->n++] = c;
    b->p[b->n] = '\0';
}

/* RFC 3986 unreserved characters stay, everything else is %XX. */
static void put_escaped(struct ebuf *b, char c)
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char u = (unsigned char)c;

    /* By value, not isalnum(): an 8-bit octet is escaped whatever the locale. */
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
        (u != 0 && strchr("-._~", u) != NULL)) {
        put(b, c);
        return;
    }
    put(b, '%');
    put(b, hex[u >> 4]);
    put(b, hex[u & 15]);
}

/* The value of macro letter l (lower case) for this request, into out. */
static void macro_value(SPF_request_t *req, char l, char *out, size_t outsz)
{
    char ip[INET6_ADDRSTRLEN];
    const char *v = NULL;

    switch (l) {
    case 's': v = req->env_from; break;
    case 'l': v = req->env_from_lp; break;
    case 'o': v = req->env_from_dp; break;
    case 'd': v = req->cur_dom; break;
    case 'h': v = req->helo_dom; break;
    case 'r': v = SPF_request_get_rec_dom(req); break;
    case 'v': v = req->client_ver == AF_INET ? "in-addr" : "ip6"; break;
    case 'p': v = SPF_request_get_client_dom(req); break;
    case 'c':
        v = req->client_ver == AF_INET ? inet_ntop(AF_INET, &req->ipv4, ip, sizeof ip)
                                       : inet_ntop(AF_INET6, &req->ipv6, ip, sizeof ip);
        break;
    case 'i':
        if (req->client_ver == AF_INET)
            v = inet_ntop(AF_INET, &req->ipv4, ip, sizeof ip);
        else {
            static const char hex[] = "0123456789abcdef";
            size_t o = 0;
            for (int k = 0; k < 16 && o + 4 < outsz; k++) {
                out[o++] = hex[req->ipv6.s6_addr[k] >> 4];
                out[o++] = '.';
                out[o++] = hex[req->ipv6.s6_addr[k] & 15];
                out[o++] = '.';
            }
            out[o > 0 ? o - 1 : 0] = '\0';
            return;
        }
        break;
    case 't':
        snprintf(out, outsz, "%lld", (long long)time(NULL));
        return;
    }
    snprintf(out, outsz, "%s", v != NULL ? v : "");
}

/* Split value at delimiters, keep the rightmost keep parts (after reversing), join with dots. */
static void transform(char *value, unsigned keep, bool reverse, const char *delims, struct ebuf *b, bool esc)
{
    char *parts[256];
    unsigned n = 0;

    for (char *p = value, *tok; n < 256 && (tok = strsep(&p, delims)) != NULL;)
        parts[n++] = tok;
    /* Reversal first, then the rightmost parts (RFC 7208 7.3). */
    if (reverse)
        for (unsigned k = 0; k < n / 2; k++) {
            char *t = parts[k];
            parts[k] = parts[n - 1 - k];
            parts[n - 1 - k] = t;
        }
    unsigned first = keep > 0 && keep < n ? n - keep : 0;
    for (unsigned k = first; k < n; k++) {
        if (k > first)
            put(b, '.');
        for (const char *c = parts[k]; *c != '\0'; c++)
            esc ? put_escaped(b, *c) : put(b, *c);
    }
}

/* One %{...} at p (already checked well-formed); returns the octets it took. */
static size_t expand_macro(SPF_request_t *req, const char *p, struct ebuf *b)
{
    char value[SPF_EXPLANATION_MAX + 1], delims[8] = "";
    size_t i = 3, nd = 0;
    unsigned keep = 0;
    bool reverse = false;
    char letter = p[2];

    while (isdigit((unsigned char)p[i])) {
        if (keep < 1000) /* checked to be 1..128 already; never overflow anyway */
            keep = keep * 10 + (unsigned)(p[i] - '0');
        i++;
    }
    if (p[i] == 'r' || p[i] == 'R') {
        reverse = true;
        i++;
    }
    while (p[i] != '}' && p[i] != '\0') {
        if (nd + 1 < sizeof delims && strchr(delims, p[i]) == NULL)
            delims[nd++] = p[i];
        i++;
    }
    delims[nd] = '\0';
    macro_value(req, (char)tolower((unsigned char)letter), value, sizeof value);
    transform(value, keep, reverse, nd > 0 ? delims : ".", b, isupper((unsigned char)letter) != 0);
    return p[i] == '}' ? i + 1 : i;
}

/* Expand a checked explanation text. */
static void expand(SPF_request_t *req, const char *text, struct ebuf *b)
{
    for (const char *p = text; *p != '\0';) {
        if (p[0] != '%') {
            put(b, *p++);
            continue;
        }
        switch (p[1]) {
        case '%': put(b, '%'); p += 2; break;
        case '_': put(b, ' '); p += 2; break;
        case '-': put(b, '%'); put(b, '2'); put(b, '0'); p += 2; break;
        case '{': p += expand_macro(req, p, b); break;
        default: p++; break; /* cannot happen: the text was checked */
        }
    }
}

void spf_exp_expand(SPF_request_t *req, const char *text, char *out, size_t outsz)
{
    struct ebuf b = { .n = 0 };

    b.p[0] = '\0';
    expand(req, text, &b);
    snprintf(out, outsz, "%s", b.p);
}
