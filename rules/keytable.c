/*
 * keytable.c: the DKIM key table a rule file declares with
 * 'dkim-keys file "PATH";', read with the rule set (at -n, start-up and
 * every reload) into a signer the rule set owns (policy/auth/dkim_sign.h).
 *
 * One line per signature: FROM-DOMAIN SELECTOR KEYFILE [ALGORITHM]
 * [d=SIGNING-DOMAIN] [c=HEADER/BODY] [h=NAME:NAME:...], '#' comments.
 * Every mistake, a key file others can read included, is an error of the
 * rule file at the line and column where it stands: a rule set is never
 * loaded with a key table that holds less than the admin wrote. Never
 * prints a key's bytes.
 */
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "policy/auth/dkim_sign.h"
#include "policy/smtp/idn.h"
#include "rules/parser.h"

#define KEYTABLE_LINE_MAX 2048
#define KEYTABLE_FIELDS_MAX 8

struct field {
    char *text;
    int col;
};

/* A DNS name in lower-case A-labels into out; -1 with the reason in err. */
static int table_domain(const char *text, char *out, size_t outsz, struct idn_error *err)
{
    char name[IDN_DOMAIN_MAX + 1];
    size_t len;

    if (text[0] == '[' || idn_to_alabels(text, strlen(text), name, &len, err) < 0 || len >= outsz) {
        if (err->reason == NULL)
            err->reason = "expected a domain name";
        return -1;
    }
    memcpy(out, name, len + 1);
    return 0;
}

/* A selector: dot-separated labels of letters, digits, '-' and '_', at most 63 bytes. */
static bool selector_ok(const char *s)
{
    size_t len = strlen(s);

    if (len == 0 || len > 63 || s[0] == '.' || s[len - 1] == '.' || strstr(s, "..") != NULL)
        return false;
    for (; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return false;
    return true;
}

/* h=: header names (printable, no ':' or space) joined by ':'; must include from. */
static const char *headers_problem(const char *h)
{
    bool from = false;
    const char *p = h;

    if (*h == '\0' || *h == ':' || h[strlen(h) - 1] == ':' || strstr(h, "::") != NULL)
        return "expected header names joined by ':', like h=from:to:subject";
    for (; *p != '\0'; p++)
        if (*p <= ' ' || *p >= 0x7f)
            return "expected header names joined by ':', like h=from:to:subject";
    for (const char *n = h; n != NULL; n = strchr(n, ':') ? strchr(n, ':') + 1 : NULL)
        from = from || (strncasecmp(n, "from", 4) == 0 && (n[4] == ':' || n[4] == '\0'));
    return from ? NULL : "h= must include from (RFC 6376 section 5.4)";
}

/* An option after the key file: an algorithm, d=, c= or h=. -1: reported. */
static int table_option(struct dkim_sign_line *l, const char *o, struct idn_error *err, const char **why)
{
    if (strcmp(o, "rsa-sha256") == 0 || strcmp(o, "ed25519-sha256") == 0) {
        l->alg = o[0] == 'e' ? DKIM_SIGN_ALG_ED25519_SHA256 : DKIM_SIGN_ALG_RSA_SHA256;
    } else if (strncmp(o, "d=", 2) == 0) {
        if (table_domain(o + 2, l->sdid, sizeof l->sdid, err) < 0) {
            *why = err->text[0] ? err->text : err->reason;
            return -1;
        }
    } else if (strncmp(o, "c=", 2) == 0) {
        const char *slash = strchr(o + 2, '/'), *b = slash ? slash + 1 : "simple";
        size_t hl = slash ? (size_t)(slash - o - 2) : strlen(o + 2);
        bool hs = hl == 6 && strncmp(o + 2, "simple", 6) == 0, hr = hl == 7 && strncmp(o + 2, "relaxed", 7) == 0;
        if ((!hs && !hr) || (strcmp(b, "simple") != 0 && strcmp(b, "relaxed") != 0)) {
            *why = "expected c=relaxed/relaxed, c=relaxed/simple, c=simple/relaxed or c=simple/simple";
            return -1;
        }
        l->simple_header = hs;
        l->simple_body = strcmp(b, "simple") == 0;
    } else if (strncmp(o, "h=", 2) == 0) {
        if ((*why = headers_problem(o + 2)) != NULL)
            return -1;
        free(l->headers);
        if ((l->headers = strdup(o + 2)) == NULL) {
            *why = "out of memory";
            return -1;
        }
    } else {
        *why = "expected rsa-sha256, ed25519-sha256, d=DOMAIN, c=HEADER/BODY or h=NAME:NAME";
        return -1;
    }
    return 0;
}

/* How many lines the signer already has for this domain (exact, or the same wildcard). */
static size_t lines_for(const struct dkim_signer *s, const struct dkim_sign_line *l)
{
    char probe[IDN_DOMAIN_MAX + 3];

    if (!l->wildcard)
        return dkim_signer_matches(s, l->domain);
    /* A name only this wildcard covers: "_." under it. */
    snprintf(probe, sizeof probe, "_.%s", l->domain);
    return dkim_signer_matches(s, probe);
}

/* Fields of one line: the first three, then options. -1: reported at loc. */
static int table_line(struct parser *p, const char *table, struct field *f, size_t nf, struct rules_loc *loc)
{
    struct dkim_sign_line l;
    struct idn_error err = { NULL, "" };
    const char *why = NULL, *dom = f[0].text;
    char errbuf[512], *keypath = NULL, *dir;
    int rc = -1;

    memset(&l, 0, sizeof l);
    snprintf(l.where, sizeof l.where, "%s:%d", table, loc->first_line);
    loc->first_column = loc->last_column = f[0].col;
    if (nf < 3) {
        diag_error(p->diag, loc, "dkim-keys: expected FROM-DOMAIN SELECTOR KEYFILE [ALGORITHM] [d=DOMAIN] [c=...] [h=...]");
        return -1;
    }
    l.wildcard = strncmp(dom, "*.", 2) == 0;
    if (table_domain(l.wildcard ? dom + 2 : dom, l.domain, sizeof l.domain, &err) < 0) {
        diag_error(p->diag, loc, "dkim-keys: \"%s\": %s", dom, err.text[0] ? err.text : err.reason);
        return -1;
    }
    loc->first_column = loc->last_column = f[1].col;
    if (!selector_ok(f[1].text)) {
        diag_error(p->diag, loc, "dkim-keys: \"%s\": expected a selector (letters, digits, '-', '_' and dots)", f[1].text);
        return -1;
    }
    snprintf(l.selector, sizeof l.selector, "%s", f[1].text);
    for (size_t i = 3; i < nf; i++) {
        loc->first_column = loc->last_column = f[i].col;
        if (table_option(&l, f[i].text, &err, &why) < 0) {
            diag_error(p->diag, loc, "dkim-keys: \"%s\": %s", f[i].text, why);
            goto out;
        }
    }
    loc->first_column = loc->last_column = f[0].col;
    if (lines_for(p->rs->signer, &l) >= DKIM_SIGN_MAX) {
        diag_error(p->diag, loc, "dkim-keys: \"%s\": at most %d lines (signatures) for one domain", dom, DKIM_SIGN_MAX);
        goto out;
    }
    /* A relative key path is read from the table's directory, as list paths are from the rule file's. */
    loc->first_column = loc->last_column = f[2].col;
    if ((dir = strdup(table)) == NULL ||
        (f[2].text[0] == '/' ? (keypath = strdup(f[2].text)) == NULL
                             : asprintf(&keypath, "%s/%s", dirname(dir), f[2].text) < 0)) {
        free(dir);
        diag_error(p->diag, loc, "out of memory");
        goto out;
    }
    free(dir);
    if (dkim_signer_add(p->rs->signer, &l, keypath, errbuf, sizeof errbuf) < 0)
        diag_error(p->diag, loc, "dkim-keys: %s", errbuf);
    else
        rc = 0;
out:
    free(keypath);
    free(l.headers);
    return rc;
}

/* Split a line into blank-separated fields (in place), comments dropped. */
static size_t split_fields(char *line, struct field *f)
{
    size_t n = 0;
    char *hash = strchr(line, '#');

    if (hash != NULL)
        *hash = '\0';
    for (char *c = line; *c != '\0' && n < KEYTABLE_FIELDS_MAX;) {
        while (*c != '\0' && isspace((unsigned char)*c))
            c++;
        if (*c == '\0')
            break;
        f[n].text = c;
        f[n++].col = (int)(c - line) + 1;
        while (*c != '\0' && !isspace((unsigned char)*c))
            c++;
        if (*c != '\0')
            *c++ = '\0';
    }
    return n;
}

static void read_table(struct parser *p, FILE *f, const char *table)
{
    char line[KEYTABLE_LINE_MAX + 2];
    struct rules_loc loc = { table, 0, 1, 0, 1 };
    struct field fields[KEYTABLE_FIELDS_MAX];

    while (fgets(line, sizeof line, f) != NULL) {
        size_t n = strlen(line), nf;
        loc.first_line = ++loc.last_line;
        loc.first_column = loc.last_column = 1;
        if (n > KEYTABLE_LINE_MAX && line[n - 1] != '\n') {
            int c;
            diag_error(p->diag, &loc, "dkim-keys: line longer than %d bytes", KEYTABLE_LINE_MAX);
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            continue;
        }
        if ((nf = split_fields(line, fields)) == 0)
            continue;
        if (nf == KEYTABLE_FIELDS_MAX) {
            loc.first_column = loc.last_column = fields[nf - 1].col;
            diag_error(p->diag, &loc, "dkim-keys: at most %d fields on a line", KEYTABLE_FIELDS_MAX - 1);
            continue;
        }
        (void)table_line(p, table, fields, nf, &loc);
    }
}

void keytable_load(struct parser *p, char *path, const struct rules_loc *loc, const struct rules_loc *path_loc)
{
    char *full = NULL;
    const char *why = "out of memory";
    struct stat st;
    FILE *f = NULL;

    if (p->rs->signer != NULL) {
        diag_error(p->diag, loc, "dkim-keys is already declared at %s:%d", p->rs->keys_loc.file,
                   p->rs->keys_loc.first_line);
        goto out;
    }
    p->rs->keys_loc = *loc;
    if ((full = parser_path(p, path)) == NULL || (p->rs->signer = dkim_signer_new(&why)) == NULL) {
        diag_error(p->diag, path_loc, "dkim-keys: %s", why);
        goto out;
    }
    if ((f = fopen(full, "r")) == NULL || fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        diag_error(p->diag, path_loc, "cannot read key table \"%s\": %s", path,
                   f == NULL ? strerror(errno) : "not a regular file");
        goto out;
    }
    read_table(p, f, full);
out:
    if (f != NULL)
        fclose(f);
    free(full);
    free(path);
}
