/*
 * authres.c: read the authserv-id of an Authentication-Results header,
 * and write ours.
 *
 * What a forger may send: folding, comments (nested, with quoted pairs),
 * a quoted authserv-id, odd case, a trailing dot. All of those must still
 * be recognised as claiming our id, or a forged "pass" reaches the
 * mailboxes behind us (RFC 8601 section 5). Never reads past len.
 */
#include "policy/auth/authres.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Skip white space, line folding and comments; returns the new offset. */
static size_t skip_cfws(const char *v, size_t len, size_t i)
{
    int depth = 0;

    while (i < len) {
        char c = v[i];
        if (depth > 0 && c == '\\' && i + 1 < len) {
            i += 2;
            continue;
        }
        if (c == '(') {
            if (++depth > 64)
                return len; /* absurd nesting: nothing readable follows */
        } else if (c == ')' && depth > 0) {
            depth--;
        } else if (depth == 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            return i;
        }
        i++;
    }
    return len;
}

/* RFC 2045 token characters. */
static bool is_token_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

int authres_authserv_id(const char *value, size_t len, char *out, size_t outsz)
{
    size_t i = skip_cfws(value, len, 0), o = 0;

    if (i >= len || outsz == 0)
        return -1;
    if (value[i] == '"') {
        for (i++; i < len && value[i] != '"'; i++) {
            if (value[i] == '\\' && i + 1 < len)
                i++;
            if (o + 1 >= outsz)
                return -1;
            out[o++] = value[i];
        }
        if (i >= len)
            return -1; /* unterminated */
    } else {
        for (; i < len && is_token_char((unsigned char)value[i]); i++) {
            if (o + 1 >= outsz)
                return -1;
            out[o++] = value[i];
        }
    }
    if (o == 0)
        return -1;
    out[o] = '\0';
    return (int)o;
}

bool authres_claims(const char *value, size_t len, const char *authserv_id)
{
    char id[AUTHRES_ID_MAX + 1];
    int n = authres_authserv_id(value, len, id, sizeof id);
    size_t ours = strlen(authserv_id);

    if (n <= 0 || ours == 0)
        return false;
    /* "mx.example.org." names the same host as "mx.example.org". */
    if (id[n - 1] == '.')
        id[--n] = '\0';
    if (authserv_id[ours - 1] == '.')
        ours--;
    return (size_t)n == ours && strncasecmp(id, authserv_id, ours) == 0;
}

struct out {
    char *buf;
    size_t size, used;
    bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->full || o->used + n >= o->size) {
        o->full = true;
        return;
    }
    memcpy(o->buf + o->used, s, n);
    o->used += n;
    o->buf[o->used] = '\0';
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* A quoted string; control characters and 8-bit bytes never reach a header. */
static void put_quoted(struct out *o, const char *v)
{
    put(o, "\"", 1);
    for (const char *p = v; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c >= 0x7f)
            continue;
        if (c == '"' || c == '\\')
            put(o, "\\", 1);
        put(o, p, 1);
    }
    put(o, "\"", 1);
}

/* A property value: as it is when it reads as a token or local@domain, quoted otherwise. */
static void put_value(struct out *o, const char *v)
{
    bool plain = v[0] != '\0';

    for (const char *p = v; *p != '\0' && plain; p++)
        plain = is_token_char((unsigned char)*p) || *p == '@' || *p == '/';
    if (plain)
        puts_(o, v);
    else
        put_quoted(o, v);
}

int authres_compose(const char *authserv_id, const struct authres_item *items, size_t n, char *out,
                    size_t outsz)
{
    struct out o = { out, outsz, 0, false };

    if (outsz == 0)
        return -1;
    out[0] = '\0';
    put_value(&o, authserv_id);
    put(&o, ";", 1);
    if (n == 0)
        puts_(&o, " none");
    for (size_t i = 0; i < n; i++) {
        const struct authres_item *it = &items[i];
        puts_(&o, i == 0 ? "\n\t" : ";\n\t");
        puts_(&o, it->method);
        put(&o, "=", 1);
        puts_(&o, auth_result_name(it->result));
        if (it->reason != NULL && it->reason[0] != '\0') {
            puts_(&o, " reason=");
            put_quoted(&o, it->reason);
        }
        for (size_t k = 0; k < 4 && it->props[k][0] != NULL; k++) {
            if (it->props[k][1] == NULL || it->props[k][1][0] == '\0')
                continue;
            put(&o, " ", 1);
            puts_(&o, it->props[k][0]);
            put(&o, "=", 1);
            put_value(&o, it->props[k][1]);
        }
    }
    if (o.full) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}
