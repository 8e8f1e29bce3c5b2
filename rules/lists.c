/*
 * lists.c: named lists of networks, domains and addresses, inline or from
 * list files (one entry a line, '#' comments).
 *
 * Every entry is validated as it is loaded and a bad one is reported with
 * its own file:line:col; a list never silently holds less than the admin
 * wrote. Domains, and the domains of addresses, are kept as lower-case
 * A-labels (policy/smtp/idn.c), the form the facts they are compared with
 * have.
 */
#include <ctype.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/smtp/address.h"
#include "policy/smtp/idn.h"
#include "rules/ast.h"

#define LIST_LINE_MAX 1024

struct list *list_new(const char *name, enum list_kind kind, const struct rules_loc *loc)
{
    struct list *l = calloc(1, sizeof *l);

    if (l == NULL)
        return NULL;
    l->name = strdup(name);
    l->kind = kind;
    l->loc = *loc;
    if (kind == LIST_NETWORKS)
        l->nets = cidr_set_new();
    else if (kind != LIST_REGEXES)
        l->strs = strset_new();
    if (l->name == NULL || (kind != LIST_REGEXES && l->nets == NULL && l->strs == NULL)) {
        list_free(l);
        return NULL;
    }
    return l;
}

void list_free(struct list *l)
{
    if (l == NULL)
        return;
    free(l->name);
    cidr_set_free(l->nets);
    strset_free(l->strs);
    for (size_t i = 0; i < l->nres; i++)
        regex_free(l->res[i]);
    free(l->res);
    free(l->zone);
    free(l->key);
    free(l);
}

/* Kept as lower-case A-labels, the form facts have: either form may be written. */
static int add_domain(struct list *l, const char *entry, struct idn_error *err)
{
    char name[IDN_DOMAIN_MAX + 1];
    size_t len;

    if (entry[0] == '.') {
        err->reason = "a domain entry starts with '.': write the domain itself and test it with 'under' to match its subdomains";
        return -1;
    }
    if (idn_to_alabels(entry, strlen(entry), name, &len, err) < 0)
        return -1;
    if (strset_add(l->strs, name, len) < 0) {
        err->reason = "out of memory";
        return -1;
    }
    return 0;
}

static int add_address(struct list *l, const char *entry, struct idn_error *err)
{
    struct address a;
    const char *at = strrchr(entry, '@');
    size_t len;
    char name[IDN_DOMAIN_MAX + 1];
    int rc;

    if (address_parse(entry, strlen(entry), &a, &err->reason) < 0) {
        const char *reason = err->reason;
        /* A bad international domain: name the label, as a domains list does. */
        if (at == NULL || !idn_is_international(at + 1, strlen(at + 1)) ||
            idn_to_alabels(at + 1, strcspn(at + 1, ">"), name, &len, err) == 0) {
            err->reason = reason;
            err->text[0] = '\0';
        }
        return -1;
    }
    if (a.is_null) {
        address_free(&a);
        err->reason = "expected a mail address, found <>: test sender.null instead";
        return -1;
    }
    rc = strset_add(l->strs, a.full, a.full_len);
    address_free(&a);
    if (rc < 0)
        err->reason = "out of memory";
    return rc;
}

static int add_regex(struct list *l, const char *entry, const char **error_r)
{
    int offset;
    struct regex *re;

    if (l->nres == l->capres) {
        size_t cap = l->capres ? l->capres * 2 : 8;
        struct regex **grown = realloc(l->res, cap * sizeof *grown);
        if (grown == NULL) {
            *error_r = "out of memory";
            return -1;
        }
        l->res = grown;
        l->capres = cap;
    }
    if ((re = regex_compile(entry, error_r, &offset)) == NULL)
        return -1;
    l->res[l->nres++] = re;
    return 0;
}

/* A word (a file extension, a content type): kept in lower case, compared so. */
static int add_word(struct list *l, const char *entry, const char **error_r)
{
    char low[LIST_LINE_MAX + 1];
    size_t n = 0;

    for (; entry[n] != '\0' && n < LIST_LINE_MAX; n++) {
        if (isspace((unsigned char)entry[n])) {
            *error_r = "expected one word a line, without blanks";
            return -1;
        }
        low[n] = (char)tolower((unsigned char)entry[n]);
    }
    if (strset_add(l->strs, low, n) < 0) {
        *error_r = "out of memory";
        return -1;
    }
    return 0;
}

int list_add_entry(struct list *l, const char *entry, const struct rules_loc *loc, struct diag *diag)
{
    struct idn_error err = { NULL, "" }; /* text, when set, says more than reason */
    const char *error = NULL;
    int rc;

    switch (l->kind) {
    case LIST_DNS: /* a DNS list's return codes: only 127.0.0.0/8 ever counts */
        {
            struct ipaddr net;
            unsigned plen;
            if (cidr_parse(entry, &net, &plen, &error) == 0 && (!net.v4 || net.b[12] != 127 || plen < 104)) {
                diag_error(diag, loc, "list <%s>: \"%s\": expected return codes within 127.0.0.0/8", l->name, entry);
                return -1;
            }
        }
        /* fall through */
    case LIST_NETWORKS:
        rc = cidr_set_add(l->nets, entry, &error);
        break;
    case LIST_DOMAINS:
        rc = add_domain(l, entry, &err);
        break;
    case LIST_REGEXES:
        rc = add_regex(l, entry, &error);
        break;
    case LIST_ADDRESSES:
        rc = add_address(l, entry, &err);
        break;
    case LIST_WORDS:
        rc = add_word(l, entry, &error);
        break;
    default:
        /* A rate limit holds settings, not entries: a block mistyped
           inside one (found by fuzz_rules) must not reach a set it lacks. */
        diag_error(diag, loc, "rate limit <%s>: \"%s\": expected a setting (key, window, limit, count), "
                   "not a list entry", l->name, entry);
        return -1;
    }
    if (rc < 0)
        diag_error(diag, loc, "list <%s>: \"%s\": %s", l->name, entry,
                   err.text[0] != '\0' ? err.text : err.reason != NULL ? err.reason : error);
    return rc;
}

/* Strip comment and surrounding blanks in place; returns start of the entry. */
static char *entry_of(char *line, size_t *col)
{
    char *hash = strchr(line, '#');
    char *end;

    if (hash != NULL)
        *hash = '\0';
    *col = 1;
    while (*line != '\0' && isspace((unsigned char)*line)) {
        line++;
        (*col)++;
    }
    end = line + strlen(line);
    while (end > line && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return line;
}

int list_load_file(struct list *l, const char *path, struct diag *diag, const char **error_r)
{
    char line[LIST_LINE_MAX + 2];
    FILE *f = fopen(path, "r");
    struct rules_loc loc = { path, 0, 1, 0, 1 };

    struct stat st;

    if (f == NULL) {
        *error_r = strerror(errno);
        return -1;
    }
    /* A device or a FIFO could feed the loader forever. */
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        *error_r = "not a regular file";
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        size_t col, n = strlen(line);
        char *entry;

        loc.first_line = ++loc.last_line;
        loc.first_column = loc.last_column = 1;
        if (n > LIST_LINE_MAX && line[n - 1] != '\n') {
            int c;
            diag_error(diag, &loc, "list <%s>: line longer than %d bytes", l->name, LIST_LINE_MAX);
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            continue;
        }
        entry = entry_of(line, &col);
        if (*entry == '\0')
            continue;
        loc.first_column = loc.last_column = (int)col;
        (void)list_add_entry(l, entry, &loc, diag);
    }
    fclose(f);
    return 0;
}
