/*
 * conffile.c: reads the settings file, mxguard.conf(5): "name = value" a
 * line, '#' comments, blank lines. It knows the syntax, not the names:
 * each setting line goes to the caller (options.c, which has the table).
 *
 * The file is an admin's text, maybe not text at all: it is read whole
 * but bounded (CONFFILE_SIZE_MAX), a line longer than CONFFILE_LINE_MAX
 * or holding a NUL byte is an error, never a crash or a silent cut. Must
 * never exit() and never print anything but FILE:LINE:COL: messages.
 */
#include "milter/conffile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The texts of the files read: values point into them for the process's life. */
struct kept {
    struct kept *next;
    char text[];
};
static struct kept *kept;

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

/* The file's text, NUL-terminated, in a kept buffer; *len its size. NULL after a message, errno kept. */
static char *slurp(const char *path, size_t *len, FILE *err, bool missing_ok)
{
    FILE *f = fopen(path, "r");
    struct kept *k;
    size_t n;

    if (f == NULL) {
        if (!(missing_ok && errno == ENOENT))
            fprintf(err, "%s: cannot read the settings file: %s\n", path, strerror(errno));
        return NULL;
    }
    if ((k = malloc(sizeof *k + CONFFILE_SIZE_MAX + 2)) == NULL) {
        fprintf(err, "%s: out of memory\n", path);
        fclose(f);
        return NULL;
    }
    n = fread(k->text, 1, CONFFILE_SIZE_MAX + 1, f);
    if (ferror(f) || n > CONFFILE_SIZE_MAX) {
        if (ferror(f))
            fprintf(err, "%s: cannot read the settings file: %s\n", path, strerror(errno));
        else
            fprintf(err, "%s: larger than %d bytes: not a settings file\n", path, CONFFILE_SIZE_MAX);
        fclose(f);
        free(k);
        errno = EINVAL;
        return NULL;
    }
    fclose(f);
    {
        struct kept *small = realloc(k, sizeof *k + n + 1); /* give back what the file did not fill */
        if (small != NULL)
            k = small;
    }
    k->text[n] = '\0';
    k->next = kept;
    kept = k;
    *len = n;
    return k->text;
}

/* One line, NUL-terminated in place (no newline): 0, or -1 after a message. */
static int parse_line(char *s, struct conffile_line *l, conffile_fn *fn, void *ctx, FILE *err)
{
    char *p = s, *name, *value, *end;

    while (blank(*p))
        p++;
    if (*p == '\0' || *p == '#')
        return 0;
    name = p;
    while (name_char(*p))
        p++;
    if (p == name) {
        fprintf(err, "%s:%u:%u: expected a setting name like socket, found '%c'\n", l->file, l->line,
                (unsigned)(p - s) + 1, *p);
        return -1;
    }
    l->name_col = (unsigned)(name - s) + 1;
    end = p;
    while (blank(*p))
        p++;
    if (*p != '=') {
        char found = *p;
        *end = '\0';
        if (found == '\0')
            fprintf(err, "%s:%u:%u: expected '=' after \"%s\", found the end of the line\n", l->file,
                    l->line, (unsigned)(p - s) + 1, name);
        else
            fprintf(err, "%s:%u:%u: expected '=' after \"%s\", found '%c'\n", l->file, l->line,
                    (unsigned)(p - s) + 1, name, found);
        return -1;
    }
    *end = '\0';
    p++;
    while (blank(*p))
        p++;
    value = p;
    /* A '#' after a blank starts a comment: "socket = unix:/x.sock   # the chroot's". */
    for (end = p; *end != '\0'; end++)
        if (*end == '#' && end > value && blank(end[-1]))
            break;
    *end = '\0';
    while (end > value && blank(end[-1]))
        *--end = '\0';
    if (*value == '#')
        *value = '\0'; /* "name = # comment": nothing was given */
    l->name = name;
    l->value = value;
    l->value_col = (unsigned)(value - s) + 1;
    return fn(ctx, l);
}

int conffile_read(const char *path, bool missing_ok, conffile_fn *fn, void *ctx, FILE *err)
{
    struct conffile_line l = { .file = path };
    size_t len;
    char *text = slurp(path, &len, err, missing_ok), *s, *eol, *nul;
    int rc = 0;

    if (text == NULL)
        return missing_ok && errno == ENOENT ? 1 : -1;
    for (s = text; s < text + len; s = eol + 1) {
        size_t n;
        l.line++;
        eol = memchr(s, '\n', (size_t)(text + len - s));
        if (eol == NULL)
            eol = text + len;
        n = (size_t)(eol - s);
        *eol = '\0';
        if ((nul = memchr(s, '\0', n)) != NULL) {
            fprintf(err, "%s:%u:%u: a NUL byte: this is not a text file\n", path, l.line,
                    (unsigned)(nul - s) + 1);
            rc = -1;
        } else if (n > CONFFILE_LINE_MAX) {
            fprintf(err, "%s:%u:%u: line longer than %d bytes\n", path, l.line, CONFFILE_LINE_MAX + 1,
                    CONFFILE_LINE_MAX);
            rc = -1;
        } else if (parse_line(s, &l, fn, ctx, err) < 0) {
            rc = -1;
        }
    }
    return rc;
}
