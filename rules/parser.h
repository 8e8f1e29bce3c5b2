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
    bool required_typo;    /* ... or a required setting misspelt, reported already */
    bool greylist_block;   /* the settings being read are greylist { }'s */
    bool clamd_block;      /* ... or clamd { }'s */
    struct test_arg {            /* the words after a test step's name, being read */
        char *text;
        bool word;               /* written bare, not quoted */
        struct rules_loc loc;
    } args[TEST_STEP_VALUES_MAX];
    size_t nargs;
    bool args_overflow;
    bool accept_unchecked; /* the action just read was "accept unchecked" */
    int prev_tok;          /* the token returned before: a label follows '[' and "by" */
    /* The top-level block being read (lexer.c), for "opened here is not closed". */
    int brace_depth;       /* '{' not closed yet in this file */
    bool block_pending;    /* a block keyword was read outside braces, its '{' not yet */
    bool block_named;      /* block_what has the block's name too */
    struct rules_loc block_loc;  /* where the outermost open block starts */
    char block_what[96];   /* how to name it: 'on rcpt' block */
};

/* Returns a token; fills *val and *loc. Defined in lexer.c. */
union RULES_STYPE;
int rules_lex(union RULES_STYPE *val, struct rules_loc *loc, struct parser *p);

/* Test steps (test_parse.c). */
void test_begin(struct parser *p, char *name, const struct rules_loc *loc);
void test_arg_add(struct parser *p, char *text, bool word, const struct rules_loc *loc);
void test_args_clear(struct parser *p);
void test_step_add(struct parser *p, char *kind, struct test_expect *e, const struct rules_loc *loc);

/* Resolve a path written in a rule file against the file's directory. */
char *parser_path(const struct parser *p, const char *path);

/*
 * The grammar's actions (parse_decl.c: declarations and their settings,
 * parse_rule.c: stages, rules and conditions). Each takes ownership of the
 * strings and conditions it is given, reports a mistake with diag_error()
 * where it stands, and leaves the parser able to go on.
 */
void list_begin(struct parser *p, char *name, char *kind, const struct rules_loc *loc,
                const struct rules_loc *kind_loc);
void list_load(struct parser *p, char *path, const struct rules_loc *loc);
void list_end(struct parser *p);
void dnslist_begin(struct parser *p, char *name, const struct rules_loc *loc);
void dnslist_codes(struct parser *p, char *key, const struct rules_loc *loc);
void dnslist_end(struct parser *p);
void ratelimit_begin(struct parser *p, char *name, const struct rules_loc *loc);
void ratelimit_end(struct parser *p);
void greylist_begin(struct parser *p, const struct rules_loc *loc);
void clamd_begin(struct parser *p, const struct rules_loc *loc);
/* One "key value;" setting of the dnslist, ratelimit or greylist block being read. */
void block_set(struct parser *p, char *key, char *value, const struct rules_loc *loc);
char *macro_value(struct parser *p, char *name, const struct rules_loc *loc);
/* keytable.c: "dkim-keys file PATH;": the DKIM key table, its keys read now (path taken over). */
void keytable_load(struct parser *p, char *path, const struct rules_loc *loc, const struct rules_loc *path_loc);
void macro_define(struct parser *p, char *name, char *value, const struct rules_loc *loc);

void stage_begin(struct parser *p, char *name, const struct rules_loc *loc);
void rule_add(struct parser *p, char *label, bool warn, enum action a, struct reply *reply,
              bool has_reply, struct cond *cond, const struct rules_loc *loc);
struct cond *cond_new(enum cond_op op, const struct rules_loc *loc);
struct cond *cond_test(enum cond_op op, const struct rules_loc *loc, char *fact, char *list, char *str);
struct cond *cond_number(enum cond_op op, const struct rules_loc *loc, char *fact, long n);
struct cond *cond_regex(struct parser *p, enum cond_op op, const struct rules_loc *loc, char *fact,
                        char *re, const struct rules_loc *reloc);

#endif
