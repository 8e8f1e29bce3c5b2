/*
 * kvparse.c: split mxguard's key=value log lines into fields (see
 * kvparse.h for the grammar).
 *
 * Must never guess: a byte the grammar does not allow where it stands is
 * an error, so a line that parses holds exactly the fields mxguard wrote.
 * Reads no further than the length it is given.
 */
#include "milter/kvparse.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void kv_line_init(struct kv_line *l)
{
    memset(l, 0, sizeof *l);
}

void kv_line_free(struct kv_line *l)
{
    free(l->field);
    free(l->buf);
    kv_line_init(l);
}

static bool key_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

static bool bare_byte(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

static bool quoted_byte(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Does p (n bytes) start with key "="? */
static bool starts_field(const char *p, size_t n)
{
    size_t k = 0;

    while (k < n && key_byte((unsigned char)p[k]))
        k++;
    return k > 0 && k < n && p[k] == '=';
}

struct cursor {
    const char *line;
    size_t len, i; /* the line, and where we are in it */
    char *out;     /* the line's buffer */
    size_t o;      /* where we write in it */
    const char *error;
};

static int fail(struct cursor *c, const char *error)
{
    c->error = error;
    return -1;
}

static int parse_quoted(struct cursor *c)
{
    for (c->i++; c->i < c->len; c->i++) {
        unsigned char ch = (unsigned char)c->line[c->i];
        if (ch == '"') {
            c->i++;
            return 0;
        }
        if (ch != '\\') {
            if (!quoted_byte(ch))
                return fail(c, "a byte the grammar does not allow inside quotes");
            c->out[c->o++] = (char)ch;
            continue;
        }
        if (c->i + 1 < c->len && (c->line[c->i + 1] == '"' || c->line[c->i + 1] == '\\')) {
            c->out[c->o++] = c->line[++c->i];
        } else if (c->i + 3 < c->len && c->line[c->i + 1] == 'x' &&
                   hex_digit((unsigned char)c->line[c->i + 2]) >= 0 &&
                   hex_digit((unsigned char)c->line[c->i + 3]) >= 0) {
            c->out[c->o++] = (char)(hex_digit((unsigned char)c->line[c->i + 2]) * 16 +
                                    hex_digit((unsigned char)c->line[c->i + 3]));
            c->i += 3;
        } else {
            return fail(c, "a backslash not followed by \\\", \\\\ or \\xHH");
        }
    }
    return fail(c, "a quoted value without its closing quote");
}

static int parse_bare(struct cursor *c)
{
    size_t start = c->i;

    while (c->i < c->len && bare_byte((unsigned char)c->line[c->i]))
        c->out[c->o++] = c->line[c->i++];
    if (c->i == start)
        return fail(c, "expected a value");
    return 0;
}

/* After a value: 0 when another field follows, 1 when mxguard's text starts at c->i, 2 at the end. */
static int after_value(struct cursor *c, struct kv_line *l, bool bare, size_t vstart)
{
    const char *rest = c->line + c->i;
    size_t left = c->len - c->i;

    if (left == 0)
        return 2;
    if (bare && rest[0] == ' ' && c->line[c->i - 1] == ':' && !starts_field(rest + 1, left - 1)) {
        if (c->o - 1 == vstart)
            return fail(c, "expected a value before \": \"");
        c->o--; /* the colon opens the text */
        c->i++;
        return 1;
    }
    if (!bare && left >= 2 && rest[0] == ':' && rest[1] == ' ') {
        c->i += 2;
        return 1;
    }
    if (rest[0] != ' ')
        return fail(c, "expected a space, \": \" or the end of the line after a value");
    c->i++;
    if (!starts_field(c->line + c->i, c->len - c->i))
        return fail(c, "expected key=value after a space");
    return 0;
}

static int grow(struct kv_line *l, size_t len)
{
    if (l->bufsz < 2 * len + 2) {
        char *b = realloc(l->buf, 2 * len + 2);
        if (b == NULL)
            return -1;
        l->buf = b;
        l->bufsz = 2 * len + 2;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        struct kv_field *f = realloc(l->field, cap * sizeof *f);
        if (f == NULL)
            return -1;
        l->field = f;
        l->cap = cap;
    }
    return 0;
}

/* One field at c->i into l: as after_value, or -1. */
static int parse_field(struct cursor *c, struct kv_line *l)
{
    struct kv_field *f;
    size_t vstart;
    bool bare;
    int rc;

    if (grow(l, c->len) < 0)
        return fail(c, "out of memory");
    f = &l->field[l->n];
    f->key = c->out + c->o;
    while (c->i < c->len && key_byte((unsigned char)c->line[c->i]))
        c->out[c->o++] = c->line[c->i++];
    if (f->key == c->out + c->o || c->i == c->len || c->line[c->i] != '=')
        return fail(c, "expected key=value");
    c->out[c->o++] = '\0';
    c->i++;
    vstart = c->o;
    bare = c->i == c->len || c->line[c->i] != '"';
    if ((bare ? parse_bare(c) : parse_quoted(c)) < 0)
        return -1;
    if ((rc = after_value(c, l, bare, vstart)) < 0)
        return -1;
    f->value = c->out + vstart;
    f->len = c->o - vstart;
    c->out[c->o++] = '\0';
    l->n++;
    return rc;
}

int kv_parse(struct kv_line *l, const char *line, size_t len, const char **error_r, size_t *at)
{
    struct cursor c = { line, len, 0, NULL, 0, NULL };
    int rc;

    l->n = 0;
    l->text = NULL;
    if (grow(l, len) < 0) {
        *error_r = "out of memory";
        return -1;
    }
    c.out = l->buf;
    if (len == 0) {
        c.error = "an empty line";
        rc = -1;
    } else {
        while ((rc = parse_field(&c, l)) == 0)
            ;
    }
    if (rc == 1) {
        l->text = c.out + c.o;
        memcpy(c.out + c.o, line + c.i, len - c.i);
        c.out[c.o + len - c.i] = '\0';
    }
    if (rc < 0) {
        *error_r = c.error;
        if (at != NULL)
            *at = c.i;
        l->n = 0;
        l->text = NULL;
        return -1;
    }
    return 0;
}

const struct kv_field *kv_get(const struct kv_line *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->field[i].key, key) == 0)
            return &l->field[i];
    return NULL;
}
