/*
 * rules_helpers.h: what the rule-language tests (test_rules_*.c) share:
 * a scratch directory per test program, rule files written into it, the
 * per-test rule set and envelope, and the runner of the table-driven
 * must-fail (and must-pass) loader cases, which asserts the exact
 * "file:line:col: message" lines and the error and warning counts.
 *
 * Header-only (static inline): each test program is one .c file.
 */
#ifndef MXG_TESTS_RULES_HELPERS_H
#define MXG_TESTS_RULES_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/smtp/envelope.h"
#include "policy/smtp/ipaddr.h"
#include "rules/diag.h"
#include "rules/ruleset.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define DATA_DIR SRCDIR "/tests/unit/data"

static char tmpdir[256];

/* ---- helpers ------------------------------------------------------------------ */

static inline void path_in(char *out, size_t outsz, const char *dir, const char *name)
{
    int n = snprintf(out, outsz, "%s/%s", dir, name);

    assert_true(n > 0 && (size_t)n < outsz);
}

static inline void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");

    if (f == NULL)
        fail_msg("cannot create %s", path);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Writes text to <tmpdir>/<name> and returns that path in out. */
static inline void write_tmp(char *out, size_t outsz, const char *name, const char *text)
{
    path_in(out, outsz, tmpdir, name);
    write_file(out, text, strlen(text));
}

/* In a template, "@FILE@" stands for the rule file's path and "@DIR@" for its directory. */
static inline void expand_template(char *out, size_t outsz, const char *tmpl, const char *file,
                            const char *dir)
{
    size_t n = 0;

    while (*tmpl != '\0' && n + 1 < outsz) {
        const char *with = strncmp(tmpl, "@FILE@", 6) == 0 ? file
                         : strncmp(tmpl, "@DIR@", 5) == 0  ? dir
                                                           : NULL;
        if (with != NULL) {
            int w = snprintf(out + n, outsz - n, "%s", with);
            n = w < 0 || (size_t)w >= outsz - n ? outsz - 1 : n + (size_t)w;
            tmpl += with == file ? 6 : 5;
        } else {
            out[n++] = *tmpl++;
        }
    }
    out[n] = '\0';
}

static inline void dump_diag(const struct diag *d)
{
    for (size_t i = 0; i < d->count; i++)
        print_message("  diag[%zu]: %s\n", i, d->lines[i]);
}

/* Per-test resources, released by teardown even when an assertion fails. */
static struct {
    struct ruleset *rs;
    struct diag diag;
    struct envelope env;
} cur;

static inline int case_setup(void **state)
{
    (void)state;
    cur.rs = NULL;
    diag_init(&cur.diag);
    envelope_init(&cur.env);
    return 0;
}

static inline int case_teardown(void **state)
{
    (void)state;
    ruleset_unref(cur.rs);
    cur.rs = NULL;
    diag_free(&cur.diag);
    envelope_free(&cur.env);
    return 0;
}

/* Loads path into cur; fails the test (showing the diagnostics) if it does not load. */
static inline void load_ok(const char *path)
{
    cur.rs = ruleset_load(path, &cur.diag);
    if (cur.rs == NULL) {
        dump_diag(&cur.diag);
        fail_msg("%s did not load", path);
    }
}

static inline void set_client(struct envelope *env, const char *addr)
{
    struct ipaddr ip;

    if (addr == NULL) {
        assert_int_equal(envelope_set_client(env, "unknown", NULL), 0);
        return;
    }
    if (ipaddr_parse(addr, &ip) != 0)
        fail_msg("test bug: \"%s\" is not an address", addr);
    assert_int_equal(envelope_set_client(env, "client.example", &ip), 0);
}

/* ---- loader cases: a rule text and the exact messages it gets ---------------------------- */

struct expect_line {
    const char *file;  /* NULL: the rule file; else a name in the rule file's directory */
    int line, col;     /* 0: a message without a place */
    const char *msg;   /* "@FILE@": the rule file's path; "@DIR@": its directory */
};

struct bad_case {
    const char *name;
    const char *text;     /* rule text, written to <name>.rules */
    const char *data;     /* or: a rule file in tests/unit/data */
    const char *aux_name; /* an extra file written beside the rule file (a list, an include) */
    const char *aux_text;
    unsigned errors, warnings;
    struct expect_line lines[4];
};

static inline void check_diag_line(const struct diag *d, size_t i, const struct expect_line *e,
                            const char *rule_path, const char *dir)
{
    char file[512], msg[1024], want[2048];

    expand_template(msg, sizeof msg, e->msg, rule_path, dir);
    if (e->line == 0) {
        snprintf(want, sizeof want, "%s", msg);
    } else {
        if (e->file == NULL)
            snprintf(file, sizeof file, "%s", rule_path);
        else
            path_in(file, sizeof file, dir, e->file);
        snprintf(want, sizeof want, "%s:%d:%d: %s", file, e->line, e->col, msg);
    }
    if (i >= d->count || strcmp(d->lines[i], want) != 0) {
        dump_diag(d);
        fail_msg("diag[%zu]: expected \"%s\"", i, want);
    }
}

static inline void run_bad_case(void **state)
{
    const struct bad_case *c = *state;
    char path[512], name[128];
    const char *dir = c->data != NULL ? DATA_DIR : tmpdir;
    size_t n = 0;

    if (c->data != NULL) {
        path_in(path, sizeof path, DATA_DIR, c->data);
    } else {
        snprintf(name, sizeof name, "%s.rules", c->name);
        write_tmp(path, sizeof path, name, c->text);
    }
    if (c->aux_name != NULL) {
        char aux[512];
        write_tmp(aux, sizeof aux, c->aux_name, c->aux_text);
    }
    cur.rs = ruleset_load(path, &cur.diag);
    while (n < ARRAY_SIZE(c->lines) && c->lines[n].msg != NULL)
        n++;
    for (size_t i = 0; i < n; i++)
        check_diag_line(&cur.diag, i, &c->lines[i], path, dir);
    if (cur.diag.count != n || cur.diag.errors != c->errors || cur.diag.warnings != c->warnings) {
        dump_diag(&cur.diag);
        fail_msg("%zu lines, %u errors, %u warnings; expected %zu, %u, %u", cur.diag.count,
                 cur.diag.errors, cur.diag.warnings, n, c->errors, c->warnings);
    }
    /* Any error refuses the whole file; warnings alone do not. */
    if (c->errors > 0)
        assert_null(cur.rs);
    else
        assert_non_null(cur.rs);
}

/* ---- fixtures ------------------------------------------------------------------------------ */

static inline int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline int group_setup(void **state)
{
    const char *base = getenv("TMPDIR");

    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/mxg-test-rules-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static inline int group_teardown(void **state)
{
    (void)state;
    return nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Runs the table's rows, then the other tests, in one group with a scratch directory. */
static inline int run_rules_tests(const char *group, const struct bad_case *cases, size_t ncases,
                                  const struct CMUnitTest *extra, size_t nextra,
                                  struct CMUnitTest *tests)
{
    size_t n = 0;

    for (size_t i = 0; i < ncases; i++)
        tests[n++] = (struct CMUnitTest){ cases[i].name, run_bad_case, case_setup, case_teardown,
                                          (void *)&cases[i] };
    for (size_t i = 0; i < nextra; i++)
        tests[n++] = extra[i];
    return _cmocka_run_group_tests(group, tests, n, group_setup, group_teardown);
}

#endif
