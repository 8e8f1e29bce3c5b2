/*
 * load.h: the three steps of loading a rule file, for load.c, which runs
 * them in order, and for the files that do each one. Nothing else needs
 * them: the rest of the engine sees a loaded rule set (rules/ruleset.h).
 */
#ifndef MXG_RULES_LOAD_H
#define MXG_RULES_LOAD_H

#include "rules/ast.h"

/* parse_file.c (grammar.y): fills rs (rules unresolved) and reports syntax errors. */
int rules_parse_file(struct ruleset *rs, const char *path, struct diag *diag);
/* The same over text in memory; path names it in messages and anchors relative paths. */
int rules_parse_buffer(struct ruleset *rs, const char *path, const char *buf, size_t len,
                       struct diag *diag);

/* compile.c: resolves names, checks types and replies, loads list files. */
void rules_compile(struct ruleset *rs, struct diag *diag);

/* selftest.c: run the rule file's own tests; failures are errors. */
void rules_run_tests(struct ruleset *rs, struct diag *diag);

#endif
