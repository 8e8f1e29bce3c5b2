/*
 * parse_file.c: read a rule file and run the grammar over it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rules/load.h"
#include "rules/parser.h"
#include "grammar.h"

int rules_parse(struct parser *p);

static const char *pool_name(struct ruleset *rs, const char *path)
{
    char **grown = realloc(rs->files, (rs->nfiles + 1) * sizeof *grown);
    char *copy = strdup(path);

    if (grown == NULL || copy == NULL) {
        free(copy);
        if (grown != NULL)
            rs->files = grown;
        return NULL;
    }
    rs->files = grown;
    rs->files[rs->nfiles++] = copy;
    return copy;
}

char *parser_path(const struct parser *p, const char *path)
{
    char *out;

    if (path[0] == '/' || p->dir == NULL)
        return strdup(path);
    if (asprintf(&out, "%s/%s", p->dir, path) < 0)
        return NULL;
    return out;
}

static char *read_all(const char *path, size_t *len, struct diag *diag)
{
    FILE *f = fopen(path, "r");
    struct stat st;
    char *buf;

    if (f == NULL) {
        diag_error(diag, NULL, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > RULE_FILE_MAX) {
        diag_error(diag, NULL, "%s: not a regular file of at most %u bytes", path, RULE_FILE_MAX);
        fclose(f);
        return NULL;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        diag_error(diag, NULL, "%s: out of memory", path);
        fclose(f);
        return NULL;
    }
    *len = fread(buf, 1, (size_t)st.st_size, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static int parse_buffer(struct ruleset *rs, const char *path, const char *buf, size_t len,
                        struct diag *diag, const struct parser *parent, const struct stat *st);

int rules_parse_file(struct ruleset *rs, const char *path, struct diag *diag)
{
    size_t len = 0;
    char *buf = read_all(path, &len, diag);
    struct stat st;
    int rc;

    if (buf == NULL)
        return -1;
    rc = parse_buffer(rs, path, buf, len, diag, NULL, stat(path, &st) == 0 ? &st : NULL);
    free(buf);
    return rc;
}

#define INCLUDE_DEPTH_MAX 16

static int parse_buffer(struct ruleset *rs, const char *path, const char *buf, size_t len,
                        struct diag *diag, const struct parser *parent, const struct stat *st)
{
    struct parser p;
    char *slash;
    int rc;

    memset(&p, 0, sizeof p);
    if (st != NULL) {
        p.dev = st->st_dev;
        p.ino = st->st_ino;
    }
    p.parent = parent;
    p.depth = parent ? parent->depth + 1 : 0;
    p.rs = rs;
    p.diag = diag;
    p.buf = buf;
    p.len = len;
    p.line = 1;
    p.col = 1;
    p.stage = -1;
    p.file = pool_name(rs, path);
    p.dir = strdup(path);
    if (p.file == NULL || p.dir == NULL) {
        diag_error(diag, NULL, "%s: out of memory", path);
        free(p.dir);
        return -1;
    }
    slash = strrchr(p.dir, '/');
    if (slash != NULL) {
        *slash = '\0';
    } else {
        free(p.dir);
        p.dir = NULL;
    }
    rc = rules_parse(&p);
    /*
     * Each file's blocks close in that file: an include never closes them.
     * The end of the file inside a block stops the parser (rc 1), but the
     * whole file was read: it is reported here, and the names in it are
     * still checked, so that one run shows every mistake.
     */
    if (p.brace_depth > 0) {
        /* A '{' that opens no block was a syntax error already, where it stands. */
        if (p.block_what[0] != '\0')
            diag_error(diag, &p.block_loc, "'%s' block opened here is not closed: expected '}' before the end "
                       "of the file", p.block_what);
        if (rc == 1)
            rc = 0;
    }
    list_free(p.list);
    test_args_clear(&p);
    free(p.dir);
    return rc == 0 ? 0 : -1;
}

int rules_parse_buffer(struct ruleset *rs, const char *path, const char *buf, size_t len,
                       struct diag *diag)
{
    return parse_buffer(rs, path, buf, len, diag, NULL, NULL);
}

/* "include FILE;": parse FILE into the same rule set, relative to the includer. */
void rules_include(struct parser *p, const char *path, const struct rules_loc *loc)
{
    char *full = parser_path(p, path), *buf;
    size_t len = 0;
    struct stat st;

    if (full == NULL) {
        diag_error(p->diag, loc, "out of memory");
        return;
    }
    /* Compare files by identity: "a/../b.rules" is "b.rules". */
    for (const struct parser *q = p; q != NULL && stat(full, &st) == 0; q = q->parent) {
        if (q->ino != 0 && q->dev == st.st_dev && q->ino == st.st_ino) {
            diag_error(p->diag, loc, "include \"%s\" includes itself (through %s)", path, q->file);
            free(full);
            return;
        }
    }
    if (p->depth >= INCLUDE_DEPTH_MAX) {
        diag_error(p->diag, loc, "include \"%s\": more than %d levels of include", path, INCLUDE_DEPTH_MAX);
        free(full);
        return;
    }
    if ((buf = read_all(full, &len, p->diag)) != NULL) {
        parse_buffer(p->rs, full, buf, len, p->diag, p, stat(full, &st) == 0 ? &st : NULL);
        free(buf);
    }
    else
        diag_error(p->diag, loc, "cannot include \"%s\"", path);
    free(full);
}
