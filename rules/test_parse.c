/*
 * test_parse.c: read the steps of a rule file's test cases
 * ("test NAME { client ...; helo ...; ...; eom expect reject 550; }").
 *
 * The grammar hands over a step's name and the words after it; each kind
 * of step says here what it takes. A mistake is reported with file:line:col
 * and what was expected, and the step is dropped: never half read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/parser.h"
#include "rules/suggest.h"

#define TEST_FILE_MAX (1024 * 1024) /* a message or zone file a test reads */

struct step_kind {
    const char *word;
    enum test_step_kind kind;
    size_t min_args, max_args;
    bool expect;        /* takes "expect ..." */
    const char *usage;  /* what it takes, for errors */
};

static const struct step_kind kinds[] = {
    { "client", STEP_CLIENT, 1, 5, true, "client ADDRESS [name \"HOST\"] [auth \"USER\"]" },
    { "helo", STEP_HELO, 1, 1, true, "helo \"NAME\"" },
    { "mail", STEP_MAIL, 1, 1, true, "mail \"<PATH>\"" },
    { "rcpt", STEP_RCPT, 1, 1, true, "rcpt \"<PATH>\"" },
    { "data", STEP_DATA, 0, 0, true, "data" },
    { "header", STEP_HEADER, 1, TEST_STEP_VALUES_MAX, true, "header \"Name: value\" [\"continued\" ...]" },
    { "eoh", STEP_EOH, 0, 0, true, "eoh" },
    { "body", STEP_BODY, 1, TEST_STEP_VALUES_MAX, false, "body \"LINE\" ..." },
    { "message", STEP_MESSAGE, 1, 1, true, "message \"FILE\"" },
    { "eom", STEP_EOM, 0, 0, true, "eom" },
    { "rset", STEP_RSET, 0, 0, false, "rset" },
    { "dns", STEP_DNS, 1, TEST_STEP_VALUES_MAX, false, "dns \"NAME. TYPE DATA\" ... or dns file \"FILE\"" },
    { "dns-fail", STEP_DNS_FAIL, 1, 1, false, "dns-fail \"NAME\"" },
    { "macro", STEP_MACRO, 2, 2, false, "macro \"{NAME}\" \"VALUE\"" },
    { "authserv-id", STEP_AUTHSERV_ID, 1, 1, false, "authserv-id \"NAME\"" },
    { "enable", STEP_ENABLE, 1, 1, false, "enable LABEL (of an \"off\" rule)" },
    { "store", STEP_STORE, 0, 0, false, "store" },
    { "later", STEP_LATER, 1, 1, false, "later SECONDS" },
    { "added", STEP_ADDED, 1, TEST_STEP_VALUES_MAX, false, "added \"NAME\" [\"VALUE\" ...]" },
    { "removed", STEP_REMOVED, 1, 2, false, "removed \"NAME\" [COUNT]" },
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

void test_begin(struct parser *p, char *name, const struct rules_loc *loc)
{
    struct rule_test *t = calloc(1, sizeof *t), **tail = &p->rs->tests;

    p->test = NULL;
    if (t == NULL) {
        diag_error(p->diag, loc, "out of memory");
        free(name);
        return;
    }
    t->name = name;
    t->loc = *loc;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = t;
    p->rs->ntests++;
    p->test = t;
}

void test_arg_add(struct parser *p, char *text, bool word, const struct rules_loc *loc)
{
    if (text == NULL || p->nargs == TEST_STEP_VALUES_MAX) {
        p->args_overflow = p->args_overflow || text != NULL;
        free(text);
        return;
    }
    p->args[p->nargs++] = (struct test_arg){ text, word, *loc };
}

void test_args_clear(struct parser *p)
{
    for (size_t i = 0; i < p->nargs; i++)
        free(p->args[i].text);
    p->nargs = 0;
    p->args_overflow = false;
}

/* Take the text of argument i over from the parser. */
static char *take(struct parser *p, size_t i)
{
    char *t = p->args[i].text;

    p->args[i].text = NULL;
    return t;
}

/* A file beside the rule file, whole; NULL with a message on error. */
static char *read_beside(struct parser *p, const char *name, const struct rules_loc *loc)
{
    char *path = parser_path(p, name), *buf = NULL;
    FILE *f = path != NULL ? fopen(path, "r") : NULL;
    size_t n = 0;

    if (f == NULL) {
        diag_error(p->diag, loc, "cannot read \"%s\": %s", name, path ? strerror(errno) : "out of memory");
        free(path);
        return NULL;
    }
    if ((buf = malloc(TEST_FILE_MAX + 1)) != NULL)
        n = fread(buf, 1, TEST_FILE_MAX + 1, f);
    fclose(f);
    free(path);
    if (buf == NULL || n > TEST_FILE_MAX || memchr(buf, '\0', n) != NULL) {
        diag_error(p->diag, loc, "\"%s\": expected a text file of at most %d bytes", name, TEST_FILE_MAX);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* Split text into its lines (a zone file read by "dns file"). */
static int split_lines(struct test_step *st, char *text)
{
    char *save = NULL;

    st->lines = calloc(TEST_STEP_VALUES_MAX * 4, sizeof *st->lines);
    if (st->lines == NULL)
        return -1;
    for (char *l = strtok_r(text, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
        l[strcspn(l, "\r;")] = '\0'; /* ';' starts a comment in a zone file */
        if (l[strspn(l, " \t")] == '\0')
            continue;
        if (st->nlines == TEST_STEP_VALUES_MAX * 4 || (st->lines[st->nlines] = strdup(l)) == NULL)
            return -1;
        st->nlines++;
    }
    return 0;
}

static int all_lines(struct parser *p, struct test_step *st)
{
    if ((st->lines = calloc(p->nargs, sizeof *st->lines)) == NULL)
        return -1;
    for (size_t i = 0; i < p->nargs; i++)
        st->lines[st->nlines++] = take(p, i);
    return 0;
}

/* Strings from..nargs joined with sep: a header folded over several lines. */
static char *join(struct parser *p, size_t from, const char *sep)
{
    size_t len = 1;
    char *out;

    for (size_t i = from; i < p->nargs; i++)
        len += strlen(p->args[i].text) + strlen(sep);
    if ((out = malloc(len)) == NULL)
        return NULL;
    out[0] = '\0';
    for (size_t i = from; i < p->nargs; i++) {
        if (i > from)
            strcat(out, sep);
        strcat(out, p->args[i].text);
    }
    return out;
}

static int client_options(struct parser *p, struct test_step *st)
{
    for (size_t i = 1; i < p->nargs; i += 2) {
        char **slot = strcmp(p->args[i].text, "name") == 0   ? &st->client_name
                      : strcmp(p->args[i].text, "auth") == 0 ? &st->auth_user : NULL;
        if (slot == NULL || i + 1 == p->nargs || p->args[i + 1].word) {
            diag_error(p->diag, &p->args[i].loc, "expected a step option 'name' or 'auth', found \"%s\"",
                       p->args[i].text);
            return -1;
        }
        free(*slot);
        *slot = take(p, i + 1);
    }
    return 0;
}

static int number_arg(struct parser *p, size_t i, long min, long max, long *out, const char *what)
{
    char *end;

    errno = 0;
    *out = strtol(p->args[i].text, &end, 10);
    if (*end != '\0' || errno != 0 || *out < min || *out > max) {
        diag_error(p->diag, &p->args[i].loc, "expected %s from %ld to %ld, found \"%s\"", what, min, max,
                   p->args[i].text);
        return -1;
    }
    return 0;
}

/* The step's own reading of its words; -1 after reporting a mistake. */
static int read_args(struct parser *p, const struct step_kind *k, struct test_step *st)
{
    switch (k->kind) {
    case STEP_CLIENT:
        st->value = take(p, 0);
        return client_options(p, st);
    case STEP_BODY:
        return all_lines(p, st);
    case STEP_HEADER:
        /* Folded as the MTA passes a folded header: a newline and a tab. */
        return (st->value = join(p, 0, "\n\t")) != NULL ? 0 : -1;
    case STEP_ADDED:
        st->value = take(p, 0);
        /* The value may be written over several strings; compared unfolded. */
        return p->nargs == 1 || (st->value2 = join(p, 1, " ")) != NULL ? 0 : -1;
    case STEP_DNS:
        if (p->nargs == 2 && p->args[0].word && strcmp(p->args[0].text, "file") == 0) {
            char *text = read_beside(p, p->args[1].text, &p->args[1].loc);
            int rc = text != NULL ? split_lines(st, text) : -1;
            free(text);
            return rc;
        }
        return all_lines(p, st);
    case STEP_MESSAGE:
        return (st->value = read_beside(p, p->args[0].text, &p->args[0].loc)) != NULL ? 0 : -1;
    case STEP_LATER:
        return number_arg(p, 0, 0, 10L * 366 * 86400, &st->number, "seconds");
    case STEP_REMOVED:
        st->number = -1;
        st->value = take(p, 0);
        return p->nargs == 2 ? number_arg(p, 1, 0, 100000, &st->number, "a count") : 0;
    default:
        if (p->nargs > 0)
            st->value = take(p, 0);
        if (p->nargs > 1)
            st->value2 = take(p, 1);
        return 0;
    }
}

static const struct step_kind *find_kind(struct parser *p, const char *word, const struct rules_loc *loc)
{
    const char *names[NKINDS], *near;

    for (size_t i = 0; i < NKINDS; i++)
        if (strcmp(word, kinds[i].word) == 0)
            return &kinds[i];
    for (size_t i = 0; i < NKINDS; i++)
        names[i] = kinds[i].word;
    if ((near = suggest_name(word, names, NKINDS)) != NULL)
        diag_error(p->diag, loc, "unknown test step \"%s\": did you mean \"%s\"?", word, near);
    else
        diag_error(p->diag, loc, "expected a test step (client, helo, mail, rcpt, data, header, eoh, body, "
                                 "message, eom, rset, dns, dns-fail, macro, authserv-id, enable, store, later, added or "
                                 "removed), found \"%s\"", word);
    return NULL;
}

static void append(struct rule_test *t, struct test_step *st)
{
    struct test_step **tail = &t->steps;

    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = st;
}

void test_step_add(struct parser *p, char *word, struct test_expect *e, const struct rules_loc *loc)
{
    const struct step_kind *k = word != NULL ? find_kind(p, word, loc) : NULL;
    struct test_step *st = NULL;

    if (word == NULL) {
        diag_error(p->diag, loc, "out of memory");
    } else if (k == NULL) {
        /* reported */
    } else if (k->kind != STEP_CLIENT && p->nargs > 1 && p->args[1].word &&
               (strcmp(p->args[1].text, "name") == 0 || strcmp(p->args[1].text, "auth") == 0)) {
        diag_error(p->diag, loc, "only a client step takes 'name' and 'auth'");
    } else if (p->args_overflow || p->nargs < k->min_args || p->nargs > k->max_args) {
        diag_error(p->diag, loc, "expected %s", k->usage);
    } else if (e->present && !k->expect) {
        diag_error(p->diag, &e->loc, "a %s step takes no 'expect': it only sets up the test", k->word);
    } else if (p->test != NULL && (st = calloc(1, sizeof *st)) == NULL) {
        diag_error(p->diag, loc, "out of memory");
    } else if (st != NULL) {
        st->kind = k->kind;
        st->loc = *loc;
        unsigned errors = p->diag->errors;
        if (read_args(p, k, st) < 0) {
            if (p->diag->errors == errors)
                diag_error(p->diag, loc, "%s: out of memory, or more than %d records", k->word,
                           TEST_STEP_VALUES_MAX * 4);
            test_step_free(st); /* dropped whole */
            st = NULL;
        }
    }
    if (st != NULL) {
        st->expect = *e;
        append(p->test, st);
    } else {
        free(e->by);
    }
    e->by = NULL;
    test_args_clear(p);
    free(word);
}
