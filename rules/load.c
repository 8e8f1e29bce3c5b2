/*
 * load.c: a rule set from a rule file: parse it, compile it, run the tests
 * it carries. Every mistake goes to the caller's diag; a rule set with any
 * error, a failed test included, is never returned.
 *
 * The one place where parsing, compiling and self-testing meet: the rule
 * set type (ruleset.c) knows none of them.
 */
#include <stdlib.h>
#include <string.h>

#include "rules/load.h"

static struct ruleset *load(const char *path, const char *buf, size_t len, struct diag *diag)
{
    struct ruleset *rs = calloc(1, sizeof *rs);
    unsigned errors = diag->errors;
    int rc;

    if (rs != NULL)
        greylist_params_init(&rs->greylist);
    if (rs == NULL || (rs->path = strdup(path)) == NULL) {
        diag_error(diag, NULL, "%s: out of memory", path);
        free(rs);
        return NULL;
    }
    atomic_init(&rs->refs, 1);
    rc = buf ? rules_parse_buffer(rs, path, buf, len, diag) : rules_parse_file(rs, path, diag);
    if (rc == 0)
        rules_compile(rs, diag);
    /* The file's own tests run only on rules that compiled. */
    if (rc == 0 && diag->errors == errors)
        rules_run_tests(rs, diag);
    if (diag->errors != errors) {
        ruleset_free(rs);
        return NULL;
    }
    return rs;
}

struct ruleset *ruleset_load(const char *path, struct diag *diag)
{
    return load(path, NULL, 0, diag);
}

struct ruleset *ruleset_load_buffer(const char *name, const char *buf, size_t len, struct diag *diag)
{
    return load(name, buf, len, diag);
}
