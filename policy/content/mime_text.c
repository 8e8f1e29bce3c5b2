/*
 * mime_text.c: body.text, the decoded text of the text parts, and the
 * file-name helpers.
 *
 * GMime has no HTML-to-text: this is a small bounded tag stripper with
 * entity decoding, made to let regular expressions see the words a
 * reader sees, not to render. Must never keep more than MIME_TEXT_MAX
 * bytes, nor read past what it is given.
 */
#include "policy/content/mime.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { H_TEXT, H_TAG, H_ATTRS, H_ENTITY, H_COMMENT };

static void put(struct mime_facts *m, const char *s, size_t len)
{
    if (m->text_len + len > MIME_TEXT_MAX)
        len = MIME_TEXT_MAX - m->text_len;
    if (len == 0)
        return;
    if (m->text_len + len + 1 > m->text_cap) {
        size_t cap = m->text_cap ? m->text_cap : 4096;
        char *t;
        while (cap < m->text_len + len + 1)
            cap *= 2;
        if (cap > MIME_TEXT_MAX + 1)
            cap = MIME_TEXT_MAX + 1;
        if ((t = realloc(m->text, cap)) == NULL)
            return; /* the text is cut short; the message's other facts stand */
        m->text = t;
        m->text_cap = cap;
    }
    memcpy(m->text + m->text_len, s, len);
    m->text_len += len;
    m->text[m->text_len] = '\0';
}

void mime_text_separate(struct mime_facts *m)
{
    if (m->text_len > 0 && m->text[m->text_len - 1] != '\n')
        put(m, "\n", 1);
}

/* A code point as UTF-8; anything invalid becomes U+FFFD. */
static void put_codepoint(struct mime_facts *m, unsigned long c)
{
    char b[4];

    if (c == 0 || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        c = 0xFFFD;
    if (c < 0x80) {
        b[0] = (char)c;
        put(m, b, 1);
    } else if (c < 0x800) {
        b[0] = (char)(0xC0 | (c >> 6));
        b[1] = (char)(0x80 | (c & 0x3F));
        put(m, b, 2);
    } else if (c < 0x10000) {
        b[0] = (char)(0xE0 | (c >> 12));
        b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        b[2] = (char)(0x80 | (c & 0x3F));
        put(m, b, 3);
    } else {
        b[0] = (char)(0xF0 | (c >> 18));
        b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((c >> 6) & 0x3F));
        b[3] = (char)(0x80 | (c & 0x3F));
        put(m, b, 4);
    }
}

static const struct { const char *name; unsigned long c; } entities[] = {
    { "Auml", 0xC4 }, { "Ouml", 0xD6 }, { "Uuml", 0xDC }, { "aacute", 0xE1 }, { "agrave", 0xE0 },
    { "amp", '&' }, { "apos", '\'' }, { "auml", 0xE4 }, { "ccedil", 0xE7 }, { "copy", 0xA9 },
    { "eacute", 0xE9 }, { "egrave", 0xE8 }, { "euro", 0x20AC }, { "gt", '>' },
    { "hellip", 0x2026 }, { "laquo", 0xAB }, { "ldquo", 0x201C }, { "lsquo", 0x2018 }, { "lt", '<' },
    { "mdash", 0x2014 }, { "nbsp", ' ' }, { "ndash", 0x2013 }, { "ouml", 0xF6 }, { "quot", '"' },
    { "raquo", 0xBB }, { "rdquo", 0x201D }, { "reg", 0xAE }, { "rsquo", 0x2019 }, { "szlig", 0xDF },
    { "trade", 0x2122 }, { "uuml", 0xFC },
};

/* An entity read up to its ';' (or what ended it): decoded, or kept as written. */
static void put_entity(struct mime_facts *m, const struct mime_html *h)
{
    const char *w = h->word;

    if (h->wordlen > 1 && w[0] == '#') {
        char *end;
        unsigned long c = (w[1] == 'x' || w[1] == 'X') ? strtoul(w + 2, &end, 16) : strtoul(w + 1, &end, 10);
        if (*end == '\0' && end != w + 1) {
            put_codepoint(m, c);
            return;
        }
    }
    for (size_t i = 0; i < sizeof entities / sizeof entities[0]; i++)
        if (strcmp(w, entities[i].name) == 0) {
            put_codepoint(m, entities[i].c);
            return;
        }
    put(m, "&", 1);
    put(m, w, h->wordlen);
}

static bool block_tag(const char *t)
{
    static const char *const blocks[] = { "br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "td", "table", "title" };

    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        if (strcasecmp(t, blocks[i]) == 0)
            return true;
    return false;
}

/* A tag ended: line ends for block tags, and no text inside script and style. */
static void end_tag(struct mime_facts *m, struct mime_html *h)
{
    if (strcasecmp(h->word, "script") == 0 || strcasecmp(h->word, "style") == 0)
        h->skip = !h->closing;
    else if (!h->skip && block_tag(h->word))
        put(m, "\n", 1);
}

static void html_byte(struct mime_facts *m, struct mime_html *h, char c)
{
    switch (h->state) {
    case H_TEXT:
        if (c == '<') {
            h->state = H_TAG;
            h->wordlen = 0;
            h->closing = false;
        } else if (c == '&' && !h->skip) {
            h->state = H_ENTITY;
            h->wordlen = 0;
        } else if (!h->skip) {
            put(m, &c, 1);
        }
        break;
    case H_TAG:
        if (c == '>') {
            h->word[h->wordlen] = '\0';
            end_tag(m, h);
            h->state = H_TEXT;
        } else if (h->wordlen == 0 && c == '/' && !h->closing) {
            h->closing = true;
        } else if (h->wordlen == 0 && c == '!') {
            h->state = H_COMMENT; /* comments and doctype: up to the next '>' */
        } else if (isalnum((unsigned char)c)) {
            if (h->wordlen + 1 < sizeof h->word)
                h->word[h->wordlen++] = c;
        } else {
            h->word[h->wordlen] = '\0'; /* the name ended; attributes follow */
            h->state = H_ATTRS;
        }
        break;
    case H_ATTRS:
        if (c == '>') {
            end_tag(m, h);
            h->state = H_TEXT;
        }
        break;
    case H_COMMENT:
        if (c == '>')
            h->state = H_TEXT;
        break;
    case H_ENTITY:
        if (c == ';' || !(isalnum((unsigned char)c) || c == '#') || h->wordlen + 1 >= sizeof h->word) {
            h->word[h->wordlen] = '\0';
            put_entity(m, h);
            h->state = H_TEXT;
            if (c != ';')
                html_byte(m, h, c);
        } else {
            h->word[h->wordlen++] = c;
        }
        break;
    }
}

void mime_text_append(struct mime_facts *m, const char *buf, size_t len, struct mime_html *html)
{
    if (html == NULL) {
        put(m, buf, len);
        return;
    }
    for (size_t i = 0; i < len && m->text_len < MIME_TEXT_MAX; i++)
        html_byte(m, html, buf[i]);
}

void mime_name_ext(const char *name, char *ext, size_t extsz)
{
    size_t end = strlen(name), dot, n = 0;

    ext[0] = '\0';
    /* Windows drops trailing blanks and dots: "x.exe. " runs as x.exe. */
    while (end > 0 && (name[end - 1] == '.' || name[end - 1] == ' '))
        end--;
    for (dot = end; dot > 0 && name[dot - 1] != '.' && name[dot - 1] != '/' && name[dot - 1] != '\\'; dot--)
        ;
    if (dot == 0 || name[dot - 1] != '.')
        return;
    for (size_t i = dot; i < end && n + 1 < extsz; i++)
        ext[n++] = (char)tolower((unsigned char)name[i]);
    ext[n] = '\0';
}
