/*
 * parser.h: state shared by the hand-written lexer and the bison grammar.
 */
#ifndef MXG_RULES_PARSER_H
#define MXG_RULES_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "rules/ast.h"

#define RULE_FILE_MAX (16u * 1024 * 1024) /* a rule file, not a list file */

struct parser {
    const struct parser *parent; /* the including file's parser, for cycles */
    int depth;
    dev_t dev;                   /* the file's identity (0, 0 for text in memory) */
    ino_t ino;
    struct ruleset *rs;
    struct diag *diag;
    const char *file;      /* pooled in rs->files */
    char *dir;             /* directory of file, for relative list paths */
    const char *buf;
    size_t len, pos;
    int line, col;
    char last_text[64];    /* text of the last token, for error messages */
    int stage;             /* current "on STAGE" block, -1 outside */
    struct list *list;     /* list being declared */
    struct rule_test *test;/* test being read */
    struct rule *last_rule;/* the rule just added, for its effect arguments */
    bool zone_seen;        /* the dnslist being read has a zone setting */
    bool greylist_block;   /* the settings being read are greylist { }'s */
    char *step_name, *step_auth; /* options of the test step being read */
    bool accept_unchecked; /* the action just read was "accept unchecked" */
    int prev_tok;          /* the token returned before: a label follows '[' and "by" */
};

/* Returns a token; fills *val and *loc. Defined in lexer.c. */
union RULES_STYPE;
int rules_lex(union RULES_STYPE *val, struct rules_loc *loc, struct parser *p);

/* Resolve a path written in a rule file against the file's directory. */
char *parser_path(const struct parser *p, const char *path);

#endif
