/*
 * spf_header.c: the Received-SPF header value (RFC 7208 section 9.1).
 *
 * Most of what goes into it came from the client (HELO, MAIL FROM) or
 * from a DNS record (the problem text): every such value is reduced to
 * printable ASCII and written as a dot-atom or a quoted-string, every
 * comment with its specials escaped, so no CR, LF or control character
 * and no unbalanced quote or parenthesis can reach the header. It never
 * writes past the caller's buffer and never truncates silently.
 *
 * Folded as Authentication-Results is ("\n\t", which the MTA writes as
 * CRLF and a tab): a key=value pair that would take its line past 78
 * octets starts a line of its own, so no line is ever longer than the
 * longest pair (under 600 octets), far from RFC 5322's 998 however long
 * the client made its HELO and MAIL FROM.
 */
#include "policy/auth/spf.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define VALUE_MAX 256 /* octets of one client value kept in the header */
#define LINE_SOFT 78  /* RFC 5322 2.1.1: lines SHOULD stay within 78 octets */
#define FIELD_NAME_LEN (sizeof "Received-SPF: " - 1)

struct hbuf {
    char *p;
    size_t size, len;
    size_t line; /* octets on the current line */
    bool full;
};

static void put_char(struct hbuf *b, char c)
{
    if (b->len + 1 >= b->size) {
        b->full = true;
        return;
    }
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
    b->line = c == '\n' ? 0 : b->line + 1;
}

static void put_str(struct hbuf *b, const char *s)
{
    for (; *s != '\0'; s++)
        put_char(b, *s);
}

/* RFC 5322 atext. */
static bool is_atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool is_dot_atom(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > VALUE_MAX || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.' ? s[i + 1] == '.' : !is_atext((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* Printable ASCII of s (others as '?'), escaping the given specials, at most VALUE_MAX octets. */
static void put_escaped(struct hbuf *b, const char *s, const char *specials)
{
    for (size_t i = 0; s[i] != '\0' && i < VALUE_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e)
            c = c == '\t' ? ' ' : '?';
        if (strchr(specials, c) != NULL)
            put_char(b, '\\');
        put_char(b, (char)c);
    }
}

/* key=value; the value as a dot-atom where it is one, else a quoted-string. */
static void put_pair(struct hbuf *b, const char *key, const char *value)
{
    char text[2 * VALUE_MAX + 64];
    struct hbuf pair = { text, sizeof text, 0, 0, false };

    put_str(&pair, key);
    put_char(&pair, '=');
    if (is_dot_atom(value))
        put_str(&pair, value);
    else {
        put_char(&pair, '"');
        put_escaped(&pair, value, "\"\\");
        put_char(&pair, '"');
    }
    put_char(&pair, ';');
    b->full |= pair.full;
    put_str(b, b->line + 1 + pair.len > LINE_SOFT ? "\n\t" : " ");
    put_str(b, text);
}

/* The identity as the comment names it. */
static void identity_text(const struct spf_outcome *o, const char *sender, char *out, size_t outsz)
{
    if (o->identity == SPF_ID_MAILFROM && sender != NULL && sender[0] != '\0' && sender[0] != '@')
        snprintf(out, outsz, "%s", sender);
    else
        snprintf(out, outsz, "postmaster@%s", o->domain[0] != '\0' ? o->domain : "unknown");
}

static void put_comment(struct hbuf *b, const struct spf_outcome *o, const char *ip, const char *who,
                        const char *receiver)
{
    char text[2 * VALUE_MAX];

    switch (o->result) {
    case AUTH_PASS:
        snprintf(text, sizeof text, "%s: domain of %s designates %s as permitted sender", receiver, who, ip);
        break;
    case AUTH_FAIL:
        snprintf(text, sizeof text, "%s: domain of %s does not designate %s as permitted sender", receiver,
                 who, ip);
        break;
    case AUTH_SOFTFAIL:
        snprintf(text, sizeof text, "%s: domain of transitioning %s does not designate %s as permitted sender",
                 receiver, who, ip);
        break;
    case AUTH_NEUTRAL:
        snprintf(text, sizeof text, "%s: %s is neither permitted nor denied by domain of %s", receiver, ip, who);
        break;
    case AUTH_TEMPERROR:
    case AUTH_PERMERROR:
        snprintf(text, sizeof text, "%s: error in processing during lookup of %s", receiver, who);
        break;
    default:
        snprintf(text, sizeof text, "%s: domain of %s does not provide an SPF record", receiver, who);
        break;
    }
    put_str(b, " (");
    put_escaped(b, text, "()\\");
    put_char(b, ')');
}

int spf_received_value(const struct spf_outcome *o, const struct ipaddr *client, const char *helo,
                       const char *sender, const char *receiver, char *buf, size_t bufsz)
{
    struct hbuf b = { buf, bufsz, 0, FIELD_NAME_LEN, false };
    char ip[IPADDR_TEXT_MAX], who[VALUE_MAX + 16];

    if (bufsz == 0)
        return -1;
    buf[0] = '\0';
    /* A session without a client address (local submission): no client-ip. */
    if (client != NULL)
        ipaddr_format(client, ip);
    else
        snprintf(ip, sizeof ip, "unknown");
    identity_text(o, sender, who, sizeof who);
    if (receiver == NULL || receiver[0] == '\0')
        receiver = "localhost";
    put_str(&b, auth_result_name(o->result));
    put_comment(&b, o, ip, who, receiver);
    if (client != NULL)
        put_pair(&b, "client-ip", ip);
    put_pair(&b, "envelope-from", sender != NULL ? sender : "");
    put_pair(&b, "helo", helo != NULL ? helo : "");
    put_pair(&b, "receiver", receiver);
    put_pair(&b, "identity", o->identity == SPF_ID_HELO ? "helo" : "mailfrom");
    if ((o->result == AUTH_TEMPERROR || o->result == AUTH_PERMERROR) && o->problem[0] != '\0')
        put_pair(&b, "problem", o->problem);
    if (b.full) {
        buf[0] = '\0';
        return -1;
    }
    return 0;
}
