/*
 * grammar.y: the mxguard rule language.
 *
 * Must keep parsing after a mistake (the "error ';'" and "error '}'"
 * rules), so that "mxguard -n" reports every mistake in one run, each as
 * file:line:col with what was expected there.
 */
%code requires {
#include "rules/ast.h"
struct parser;

/* Locations carry the file name too, for file:line:col across includes. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                   \
    do {                                                              \
        if (N) {                                                      \
            (Cur).file = YYRHSLOC(Rhs, 1).file;                       \
            (Cur).first_line = YYRHSLOC(Rhs, 1).first_line;           \
            (Cur).first_column = YYRHSLOC(Rhs, 1).first_column;       \
            (Cur).last_line = YYRHSLOC(Rhs, N).last_line;             \
            (Cur).last_column = YYRHSLOC(Rhs, N).last_column;         \
        } else {                                                      \
            (Cur).file = YYRHSLOC(Rhs, 0).file;                       \
            (Cur).first_line = (Cur).last_line = YYRHSLOC(Rhs, 0).last_line;       \
            (Cur).first_column = (Cur).last_column = YYRHSLOC(Rhs, 0).last_column; \
        }                                                             \
    } while (0)
}

%code {
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "policy/smtp/address.h"
#include "rules/parser.h"

static void rules_error(struct rules_loc *loc, struct parser *p, const char *msg);
static struct cond *cond_new(enum cond_op op, const struct rules_loc *loc);
static struct cond *cond_test(enum cond_op op, const struct rules_loc *loc, char *fact, char *list, char *str);
static struct cond *cond_number(enum cond_op op, const struct rules_loc *loc, char *fact, long n);
static struct cond *cond_regex(struct parser *p, enum cond_op op, const struct rules_loc *loc, char *fact,
                               char *re, const struct rules_loc *reloc);
static char *macro_value(struct parser *p, char *name, const struct rules_loc *loc);
static void macro_define(struct parser *p, char *name, char *value, const struct rules_loc *loc);
static void list_begin(struct parser *p, char *name, char *kind, const struct rules_loc *loc,
                       const struct rules_loc *kind_loc);
static void list_end(struct parser *p);
static void dnslist_begin(struct parser *p, char *name, const struct rules_loc *loc);
static void block_set(struct parser *p, char *key, char *value, const struct rules_loc *loc);
static void dnslist_codes(struct parser *p, char *key, const struct rules_loc *loc);
static void dnslist_end(struct parser *p);
static void ratelimit_begin(struct parser *p, char *name, const struct rules_loc *loc);
static void ratelimit_end(struct parser *p);
static void greylist_begin(struct parser *p, const struct rules_loc *loc);
static void stage_begin(struct parser *p, char *name, const struct rules_loc *loc);
static void rule_add(struct parser *p, char *label, bool warn, enum action a, struct reply *reply,
                     bool has_reply, struct cond *cond, const struct rules_loc *loc);
static void test_begin(struct parser *p, char *name, const struct rules_loc *loc);
static void test_step_option(struct parser *p, char *opt, char *value, const struct rules_loc *loc);
static void test_step_add(struct parser *p, char *kind, char *value, struct test_expect *e,
                          const struct rules_loc *loc);
}

%define api.pure full
%define api.prefix {rules_}
%define api.location.type {struct rules_loc}
%define parse.error custom
%define parse.lac full
%locations
%param {struct parser *p}

%union {
    char *str;
    long num;
    int act;
    struct cond *cond;
    struct {
        struct reply r;
        int has;
    } reply;
    struct test_expect expect;
    struct {
        int action;
        char *arg, *value;
    } effect;
}

%token <str> WORD "name" STRING "quoted string" VAR "$macro"
%token <num> NUMBER "number"
%token LIST "list" FILE_ "file" ON "on" IF "if"
%token AND "and" OR "or" NOT "not" IN "in" UNDER "under"
%token ACCEPT "accept" REJECT "reject" TEMPFAIL "tempfail" DISCARD "discard" CONTINUE "continue"
%token TEST "test" EXPECT "expect" BY "by" WARN "warn" INCLUDE "include" DEFINE "define"
%token MATCH "~" NOMATCH "!~" MACRO "macro" TAGGED "tagged"
%token QUARANTINE "quarantine" ADD_HEADER "add-header" CHANGE_HEADER "change-header"
%token DELETE_HEADER "delete-header" TAG "tag" DNSLIST "dnslist"
%token AUTH_RESULTS "authentication-results" RECEIVED_SPF "received-spf"
%token GREYLIST "greylist" RATELIMIT "ratelimit" OVER "over"
%token NE "!=" LE "<=" GE ">="

%left OR
%left AND
%precedence NOT

%type <cond> cond_opt cond test
%type <act> action
%type <reply> reply_opt
%type <expect> expect_opt
%type <effect> effect
%type <str> label_opt by_opt step_value string strings fact_ref
%type <num> warn_opt

%destructor { free($$); } <str>
%destructor { cond_free($$); } <cond>
%destructor { free($$.r.text); } <reply>
%destructor { free($$.by); } <expect>
%destructor { free($$.arg); free($$.value); } <effect>

%%

file
    : %empty
    | file item
    ;

item
    : list_decl
    | dnslist_decl
    | ratelimit_decl
    | greylist_decl
    | stage_block
    | test_block
    | INCLUDE string ';'       { rules_include(p, $2, &@2); free($2); }
    | DEFINE WORD string ';'   { macro_define(p, $2, $3, &@2); }
    | error ';'        { yyerrok; }
    | error '}'        { yyerrok; p->stage = -1; }
    ;

list_decl
    : LIST WORD WORD   { list_begin(p, $2, $3, &@2, &@3); $2 = $3 = NULL; /* owned by list_begin */ }
      list_body list_terminator
    ;

/* A missing ';' after a list is reported once, and the next item parses normally. */
list_terminator
    : ';'              { list_end(p); }
    | error            { list_end(p); yyerrok; }
    ;

list_body
    : FILE_ string
        {
            if (p->list != NULL) {
                char *path = parser_path(p, $2);
                const char *why = "out of memory";
                if (path == NULL || list_load_file(p->list, path, p->diag, &why) < 0)
                    diag_error(p->diag, &@2, "cannot read list file \"%s\": %s", $2, why);
                free(path);
            }
            free($2);
        }
    | '{' entries '}'
    | '{' '}'
    ;

entries
    : entry
    | entries ',' entry
    ;

entry
    : string   { if (p->list) list_add_entry(p->list, $1, &@1, p->diag); free($1); }
    | WORD     { if (p->list) list_add_entry(p->list, $1, &@1, p->diag); free($1); }
    | NUMBER   { diag_error(p->diag, &@1, "expected a network, domain or address, found number %ld", $1); }
    ;

/* A DNS block or allow list: dnslist NAME { zone "..."; codes {...}; ... } */
dnslist_decl
    : DNSLIST WORD '{'  { dnslist_begin(p, $2, &@2); $2 = NULL; }
      block_settings '}'  { dnslist_end(p); }
    ;

block_settings
    : %empty
    | block_settings block_setting
    ;

block_setting
    : WORD string ';'             { block_set(p, $1, $2, &@1); }
    | WORD WORD ';'               { block_set(p, $1, $2, &@1); }
    | WORD TEMPFAIL ';'           { block_set(p, $1, strdup("tempfail"), &@1); }
    | WORD NUMBER ';'
        {
            char buf[32];
            snprintf(buf, sizeof buf, "%ld", $2);
            block_set(p, $1, strdup(buf), &@1);
        }
    | WORD '{' entries '}' ';'    { dnslist_codes(p, $1, &@1); }
    | error ';'                   { yyerrok; }
    ;

/* A rate limit: ratelimit NAME { key FACT; window 60; limit 30; count messages; } */
ratelimit_decl
    : RATELIMIT WORD '{'  { ratelimit_begin(p, $2, &@2); $2 = NULL; }
      block_settings '}'  { ratelimit_end(p); }
    ;

/* Greylisting's settings, once per rule set: greylist { delay 300; ... } */
greylist_decl
    : GREYLIST '{'  { greylist_begin(p, &@1); }
      block_settings '}'  { p->greylist_block = false; }
    ;

stage_block
    : ON WORD '{'      { stage_begin(p, $2, &@2); $2 = NULL; }
      rules '}'        { p->stage = -1; }
    ;

rules
    : %empty
    | rules rule
    ;

rule
    : label_opt warn_opt action reply_opt cond_opt ';'
        {
            rule_add(p, $1, $2 != 0, (enum action)$3, &$4.r, $4.has, $5, $1 ? &@1 : &@3);
            if (p->last_rule != NULL)
                p->last_rule->unchecked = p->accept_unchecked;
            p->accept_unchecked = false;
        }
    | label_opt effect cond_opt ';'
        {
            struct reply r;
            memset(&r, 0, sizeof r);
            r.text = $2.value;
            r.loc = @2;
            rule_add(p, $1, false, (enum action)$2.action, &r, false, $3, $1 ? &@1 : &@2);
            if (p->last_rule != NULL)
                p->last_rule->arg = $2.arg;
            else
                free($2.arg);
        }
    | error ';'
        { yyerrok; }
    ;

/* Effects never decide: header edits and quarantine apply at end of message. */
effect
    : ADD_HEADER string string     { $$.action = ACTION_ADD_HEADER; $$.arg = $2; $$.value = $3; }
    | CHANGE_HEADER string string  { $$.action = ACTION_CHANGE_HEADER; $$.arg = $2; $$.value = $3; }
    | DELETE_HEADER string         { $$.action = ACTION_DELETE_HEADER; $$.arg = $2; $$.value = NULL; }
    | QUARANTINE string            { $$.action = ACTION_QUARANTINE; $$.arg = NULL; $$.value = $2; }
    | TAG WORD                     { $$.action = ACTION_TAG; $$.arg = $2; $$.value = NULL; }
    | AUTH_RESULTS                 { $$.action = ACTION_AUTH_RESULTS; $$.arg = NULL; $$.value = NULL; }
    | RECEIVED_SPF                 { $$.action = ACTION_RECEIVED_SPF; $$.arg = NULL; $$.value = NULL; }
    ;

warn_opt
    : %empty            { $$ = 0; }
    | WARN              { $$ = 1; }
    ;

/* One quoted string, or a macro standing for one. */
string
    : STRING
    | VAR               { $$ = macro_value(p, $1, &@1); }
    ;

/* Several strings: the lines of a multi-line reply, joined with '\n'. */
strings
    : string
    | strings string
        {
            size_t a = strlen($1), b = strlen($2);
            $$ = realloc($1, a + b + 2);
            if ($$ == NULL) {
                free($1);
                $$ = strdup("");
            } else {
                $$[a] = '\n';
                memcpy($$ + a + 1, $2, b + 1);
            }
            free($2);
        }
    ;

label_opt
    : %empty            { $$ = NULL; }
    | '[' WORD ']'      { $$ = $2; }
    ;

action
    : ACCEPT    { $$ = ACTION_ACCEPT; p->accept_unchecked = false; }
    | ACCEPT WORD
        {
            /* Said in words: this accept passes every later check, relay included. */
            $$ = ACTION_ACCEPT;
            p->accept_unchecked = strcmp($2, "unchecked") == 0;
            if (!p->accept_unchecked)
                diag_error(p->diag, &@2, "expected 'unchecked', a reply code, 'if' or ';' after 'accept', found \"%s\"", $2);
            free($2);
        }
    | REJECT    { $$ = ACTION_REJECT; }
    | TEMPFAIL  { $$ = ACTION_TEMPFAIL; }
    | DISCARD   { $$ = ACTION_DISCARD; }
    | GREYLIST  { $$ = ACTION_GREYLIST; }
    | CONTINUE  { $$ = ACTION_CONTINUE; }
    ;

reply_opt
    : %empty
        { memset(&$$, 0, sizeof $$); }
    | NUMBER WORD strings
        {
            memset(&$$, 0, sizeof $$);
            $$.has = 1;
            if ($1 < 100 || $1 > 999) {
                diag_error(p->diag, &@1, "expected a 3-digit SMTP reply code, found %ld", $1);
                $$.has = 0; /* reported once; the reply checks would only repeat it */
            } else {
                snprintf($$.r.code, sizeof $$.r.code, "%03ld", $1);
            }
            if (strlen($2) >= sizeof $$.r.xcode) {
                diag_error(p->diag, &@2, "expected an enhanced status code like 5.7.1, found \"%.20s\"", $2);
                $$.has = 0;
            } else {
                strcpy($$.r.xcode, $2);
            }
            $$.r.text = $3;
            $$.r.loc = @1;
            free($2);
        }
    | NUMBER string
        {
            memset(&$$, 0, sizeof $$);
            diag_error(p->diag, &@2, "expected an enhanced status code like 5.7.1 after the reply code");
            free($2);
        }
    ;

test_block
    : TEST STRING '{'   { test_begin(p, $2, &@2); $2 = NULL; }
      test_steps '}'    { p->test = NULL; }
    ;

test_steps
    : %empty
    | test_steps test_step
    ;

test_step
    : WORD step_value step_options expect_opt ';'
        { test_step_add(p, $1, $2, &$4, &@1); $1 = $2 = NULL; $4.by = NULL; }
    | error ';'
        { yyerrok; free(p->step_name); free(p->step_auth); p->step_name = p->step_auth = NULL; }
    ;

step_value
    : string
    | WORD
    ;

step_options
    : %empty
    | step_options WORD string   { test_step_option(p, $2, $3, &@2); $2 = $3 = NULL; }
    ;

expect_opt
    : %empty
        { memset(&$$, 0, sizeof $$); }
    | EXPECT action by_opt
        { memset(&$$, 0, sizeof $$); $$.present = true; $$.action = (enum action)$2; $$.by = $3; $$.loc = @1; }
    | EXPECT action NUMBER by_opt
        { memset(&$$, 0, sizeof $$); $$.present = true; $$.action = (enum action)$2; $$.code = (int)$3; $$.by = $4; $$.loc = @1; }
    ;

by_opt
    : %empty     { $$ = NULL; }
    | BY WORD    { $$ = $2; }
    ;

cond_opt
    : %empty   { $$ = NULL; }
    | IF cond  { $$ = $2; }
    ;

cond
    : cond OR cond     { $$ = cond_new(COND_OR, &@2); if ($$) { $$->left = $1; $$->right = $3; } else { cond_free($1); cond_free($3); } }
    | cond AND cond    { $$ = cond_new(COND_AND, &@2); if ($$) { $$->left = $1; $$->right = $3; } else { cond_free($1); cond_free($3); } }
    | NOT cond         { $$ = cond_new(COND_NOT, &@1); if ($$) $$->left = $2; else cond_free($2); }
    | '(' cond ')'     { $$ = $2; }
    | test
    ;

test
    : fact_ref                          { $$ = cond_test(COND_BOOL, &@1, $1, NULL, NULL); }
    | fact_ref IN '<' WORD '>'          { $$ = cond_test(COND_IN, &@1, $1, $4, NULL); }
    | fact_ref UNDER '<' WORD '>'       { $$ = cond_test(COND_UNDER, &@1, $1, $4, NULL); }
    | fact_ref '=' string               { $$ = cond_test(COND_EQ, &@1, $1, NULL, $3); }
    | fact_ref NE string                { $$ = cond_test(COND_NE, &@1, $1, NULL, $3); }
    | fact_ref MATCH string             { $$ = cond_regex(p, COND_MATCH, &@1, $1, $3, &@3); }
    | fact_ref NOMATCH string           { $$ = cond_regex(p, COND_NOMATCH, &@1, $1, $3, &@3); }
    | fact_ref '=' NUMBER               { $$ = cond_number(COND_EQ, &@1, $1, $3); }
    | fact_ref NE NUMBER                { $$ = cond_number(COND_NE, &@1, $1, $3); }
    | fact_ref '<' NUMBER               { $$ = cond_number(COND_LT, &@1, $1, $3); }
    | fact_ref LE NUMBER                { $$ = cond_number(COND_LE, &@1, $1, $3); }
    | fact_ref '>' NUMBER               { $$ = cond_number(COND_GT, &@1, $1, $3); }
    | fact_ref GE NUMBER                { $$ = cond_number(COND_GE, &@1, $1, $3); }
    | TAGGED WORD                       { $$ = cond_test(COND_TAGGED, &@1, strdup("tagged"), NULL, $2); }
    | OVER '<' WORD '>'                 { $$ = cond_test(COND_OVER, &@1, strdup("over"), $3, NULL); }
    ;

/* A fact by name, or any MTA macro: macro "{tls_version}". */
fact_ref
    : WORD
    | MACRO string
        {
            if (asprintf(&$$, "macro:%s", $2) < 0)
                $$ = NULL;
            free($2);
            if ($$ == NULL)
                YYNOMEM;
        }
    ;

%%

static void rules_error(struct rules_loc *loc, struct parser *p, const char *msg)
{
    diag_error(p->diag, loc, "%s", msg);
}

/* Token names as an admin reads them: keywords and punctuation quoted. */
static void describe(yysymbol_kind_t k, char *out, size_t outsz)
{
    const char *name = yysymbol_name(k);

    if (k == YYSYMBOL_YYEOF)
        snprintf(out, outsz, "end of file");
    else if (k == YYSYMBOL_WORD || k == YYSYMBOL_STRING || k == YYSYMBOL_NUMBER)
        snprintf(out, outsz, "%s", name);
    else if (name[0] == '\'')
        snprintf(out, outsz, "%s", name);
    else
        snprintf(out, outsz, "'%s'", name);
}

static int yyreport_syntax_error(const yypcontext_t *ctx, struct parser *p)
{
    enum { MAX_EXPECTED = 16 };
    yysymbol_kind_t expected[MAX_EXPECTED];
    int n = yypcontext_expected_tokens(ctx, expected, MAX_EXPECTED);
    yysymbol_kind_t found = yypcontext_token(ctx);
    char msg[512], tok[64];
    size_t used = 0;

    used += (size_t)snprintf(msg, sizeof msg, "expected ");
    if (n <= 0 || n == MAX_EXPECTED)
        used += (size_t)snprintf(msg + used, sizeof msg - used, "something else");
    for (int i = 0; i < n && n < MAX_EXPECTED && used < sizeof msg; i++) {
        describe(expected[i], tok, sizeof tok);
        used += (size_t)snprintf(msg + used, sizeof msg - used, "%s%s",
                                 i == 0 ? "" : (i == n - 1 ? " or " : ", "), tok);
    }
    describe(found, tok, sizeof tok);
    if (used < sizeof msg) {
        if (found == YYSYMBOL_WORD || found == YYSYMBOL_STRING || found == YYSYMBOL_NUMBER)
            snprintf(msg + used, sizeof msg - used, ", found %s \"%s\"", tok, p->last_text);
        else
            snprintf(msg + used, sizeof msg - used, ", found %s", tok);
    }
    diag_error(p->diag, yypcontext_location(ctx), "%s", msg);
    return 0;
}

static struct cond *cond_new(enum cond_op op, const struct rules_loc *loc)
{
    struct cond *c = calloc(1, sizeof *c);

    if (c != NULL) {
        c->op = op;
        c->loc = *loc;
    }
    return c;
}

static struct cond *cond_test(enum cond_op op, const struct rules_loc *loc,
                              char *fact, char *list, char *str)
{
    struct cond *c = cond_new(op, loc);

    if (c == NULL) {
        free(fact);
        free(list);
        free(str);
        return NULL;
    }
    c->fact_name = fact;
    c->list_name = list;
    c->str = str;
    c->len = str ? strlen(str) : 0;
    return c;
}

static struct cond *cond_regex(struct parser *p, enum cond_op op, const struct rules_loc *loc, char *fact,
                               char *re, const struct rules_loc *reloc)
{
    struct cond *c = cond_test(op, loc, fact, NULL, re);
    const char *error;
    int col;

    if (c != NULL && (c->re = regex_compile(c->str, &error, &col)) == NULL) {
        struct rules_loc at = *reloc;
        /* Past the opening quote, and one more for each \" or \\ the lexer unescaped. */
        at.first_column += 1 + col;
        for (int i = 0; i < col && c->str[i] != '\0'; i++)
            at.first_column += c->str[i] == '"' || c->str[i] == '\\';
        diag_error(p->diag, &at, "invalid regular expression: %s", error);
    }
    return c;
}

static char *macro_value(struct parser *p, char *name, const struct rules_loc *loc)
{
    for (const struct macro *m = p->rs->macros; m != NULL; m = m->next) {
        if (strcmp(m->name, name) == 0) {
            free(name);
            return strdup(m->value);
        }
    }
    diag_error(p->diag, loc, "undefined macro $%s: expected 'define %s \"...\";' before its first use", name, name);
    free(name);
    return strdup("");
}

static void macro_define(struct parser *p, char *name, char *value, const struct rules_loc *loc)
{
    struct macro *m;

    for (m = p->rs->macros; m != NULL; m = m->next) {
        if (strcmp(m->name, name) == 0) {
            diag_error(p->diag, loc, "macro $%s is already defined at %s:%d", name, m->loc.file, m->loc.first_line);
            free(name);
            free(value);
            return;
        }
    }
    if ((m = calloc(1, sizeof *m)) == NULL) {
        diag_error(p->diag, loc, "out of memory");
        free(name);
        free(value);
        return;
    }
    m->name = name;
    m->value = value;
    m->loc = *loc;
    m->next = p->rs->macros;
    p->rs->macros = m;
}

static struct cond *cond_number(enum cond_op op, const struct rules_loc *loc, char *fact, long n)
{
    struct cond *c = cond_test(op, loc, fact, NULL, NULL);

    if (c != NULL) {
        c->numeric = true;
        c->num = n;
    }
    return c;
}

static void list_begin(struct parser *p, char *name, char *kind, const struct rules_loc *loc,
                       const struct rules_loc *kind_loc)
{
    static const struct { const char *word; enum list_kind kind; } kinds[] = {
        { "networks", LIST_NETWORKS }, { "domains", LIST_DOMAINS }, { "addresses", LIST_ADDRESSES },
        { "regexes", LIST_REGEXES },
    };
    /* A declaration cut short by a syntax error never reached list_end. */
    list_free(p->list);
    p->list = NULL;
    for (const struct list *l = p->rs->lists; l != NULL; l = l->next) {
        if (strcmp(l->name, name) == 0) {
            diag_error(p->diag, loc, "list <%s> is already defined at %s:%d",
                       name, l->loc.file, l->loc.first_line);
            goto out;
        }
    }
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(kind, kinds[i].word) == 0) {
            p->list = list_new(name, kinds[i].kind, loc);
            if (p->list == NULL)
                diag_error(p->diag, loc, "out of memory");
            goto out;
        }
    }
    diag_error(p->diag, kind_loc, "expected list type networks, domains, addresses or regexes, found \"%s\"", kind);
out:
    free(name);
    free(kind);
}

static void list_end(struct parser *p)
{
    if (p->list != NULL) {
        struct list **tail = &p->rs->lists;
        while (*tail != NULL)
            tail = &(*tail)->next;
        *tail = p->list;
        p->list = NULL;
    }
}

static void stage_begin(struct parser *p, char *name, const struct rules_loc *loc)
{
    p->stage = stage_from_name(name);
    if (p->stage < 0)
        diag_error(p->diag, loc, "expected a stage (connect, helo, mail, rcpt, data, header, eoh or eom), found \"%s\"", name);
    free(name);
}

static void rule_add(struct parser *p, char *label, bool warn, enum action a, struct reply *reply,
                     bool has_reply, struct cond *cond, const struct rules_loc *loc)
{
    struct rule *r;

    p->last_rule = NULL;
    if (p->stage < 0 || (r = calloc(1, sizeof *r)) == NULL) {
        if (p->stage >= 0)
            diag_error(p->diag, loc, "out of memory");
        cond_free(cond);
        free(reply->text);
        free(label);
        return;
    }
    r->label = label;
    r->warn = warn;
    r->loc = *loc;
    r->stage = (enum stage)p->stage;
    r->action = a;
    r->has_reply = has_reply;
    r->reply = *reply;
    r->cond = cond;
    snprintf(r->where, sizeof r->where, "%s:%d", loc->file, loc->first_line);
    /* Included files append to the same stages: the tails live in the rule set. */
    if (p->rs->tail[p->stage] == NULL)
        p->rs->tail[p->stage] = &p->rs->stages[p->stage];
    *p->rs->tail[p->stage] = r;
    p->rs->tail[p->stage] = &r->next;
    p->last_rule = r;
    p->rs->nrules++;
}

static void test_begin(struct parser *p, char *name, const struct rules_loc *loc)
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

/* "client ADDRESS name "host" auth "user"": options of the step being read. */
static void test_step_option(struct parser *p, char *opt, char *value, const struct rules_loc *loc)
{
    char **slot = strcmp(opt, "name") == 0 ? &p->step_name : strcmp(opt, "auth") == 0 ? &p->step_auth : NULL;

    if (slot == NULL) {
        diag_error(p->diag, loc, "expected a step option 'name' or 'auth', found \"%s\"", opt);
        free(value);
    } else {
        free(*slot);
        *slot = value;
    }
    free(opt);
}

static void test_step_add(struct parser *p, char *kind, char *value, struct test_expect *e,
                          const struct rules_loc *loc)
{
    static const struct { const char *word; enum test_step_kind kind; } kinds[] = {
        { "client", STEP_CLIENT }, { "helo", STEP_HELO }, { "mail", STEP_MAIL }, { "rcpt", STEP_RCPT },
    };
    struct test_step *st = NULL, **tail;
    size_t i;

    for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kind, kinds[i].word) == 0)
            break;
    if (i == sizeof kinds / sizeof kinds[0])
        diag_error(p->diag, loc, "expected a test step (client, helo, mail or rcpt), found \"%s\"", kind);
    else if (kinds[i].kind != STEP_CLIENT && (p->step_name || p->step_auth))
        diag_error(p->diag, loc, "only a client step takes 'name' and 'auth'");
    else if (p->test != NULL && (st = calloc(1, sizeof *st)) == NULL)
        diag_error(p->diag, loc, "out of memory");
    if (st == NULL) {
        free(value);
        free(e->by);
        free(p->step_name);
        free(p->step_auth);
    } else {
        st->kind = kinds[i].kind;
        st->loc = *loc;
        st->value = value;
        st->client_name = p->step_name;
        st->auth_user = p->step_auth;
        st->expect = *e;
        for (tail = &p->test->steps; *tail != NULL; tail = &(*tail)->next)
            ;
        *tail = st;
    }
    p->step_name = p->step_auth = NULL;
    free(kind);
}

/* ---- dnslist declarations ------------------------------------------------ */

static void dnslist_begin(struct parser *p, char *name, const struct rules_loc *loc)
{
    /* Its return codes are read into the list as networks, like "codes {...}". */
    char *kind = strdup("networks");

    if (kind == NULL) {
        diag_error(p->diag, loc, "out of memory");
        free(name);
        return;
    }
    list_begin(p, name, kind, loc, loc);
    p->zone_seen = false;
    if (p->list != NULL) {
        p->list->kind = LIST_DNS;
        p->list->weight = 1;
    }
}

/* "300", "300s", "5m", "24h", "36d": seconds, at most a year. -1 when it is none of those. */
static long duration(const char *v)
{
    char *end;
    long n = strtol(v, &end, 10), unit = 1;

    if (end == v || n < 0)
        return -1;
    if (*end != '\0') {
        const char *units = "smhd";
        static const long secs[] = { 1, 60, 3600, 86400 };
        const char *u = strchr(units, *end);
        if (u == NULL || end[1] != '\0')
            return -1;
        unit = secs[u - units];
    }
    return n <= 366L * 86400 / unit ? n * unit : -1;
}

static bool on_error_value(struct parser *p, const char *what, const char *value, const struct rules_loc *loc,
                           bool *tempfail)
{
    if (strcmp(value, "tempfail") != 0 && strcmp(value, "skip") != 0) {
        diag_error(p->diag, loc, "%s: expected on-error skip or tempfail, found \"%s\"", what, value);
        return false;
    }
    *tempfail = strcmp(value, "tempfail") == 0;
    return true;
}

static void ratelimit_set(struct parser *p, struct list *l, const char *key, char *value,
                          const struct rules_loc *loc)
{
    static const char *const units[] = { "connections", "messages", "recipients" };
    char what[80], *end;
    long n;

    snprintf(what, sizeof what, "ratelimit <%.60s>", l->name);
    if (strcmp(key, "key") == 0) {
        free(l->key);
        l->key = strdup(value);
    } else if (strcmp(key, "window") == 0) {
        if ((n = duration(value)) < 1)
            diag_error(p->diag, loc, "%s: expected a window like 60, 10m, 1h or 1d, found \"%s\"", what, value);
        else
            l->window = (unsigned)n;
    } else if (strcmp(key, "limit") == 0) {
        n = strtol(value, &end, 10);
        if (*end != '\0' || n < 1 || n > 100000000)
            diag_error(p->diag, loc, "%s: expected a limit from 1 to 100000000, found \"%s\"", what, value);
        else
            l->limit = (unsigned long)n;
    } else if (strcmp(key, "count") == 0) {
        size_t i = 0;
        while (i < 3 && strcmp(value, units[i]) != 0)
            i++;
        if (i == 3)
            diag_error(p->diag, loc, "%s: expected count connections, messages or recipients, found \"%s\"",
                       what, value);
        else
            l->unit = (enum ratelimit_unit)i;
    } else if (strcmp(key, "on-error") == 0) {
        on_error_value(p, what, value, loc, &l->tempfail);
    } else {
        diag_error(p->diag, loc, "%s: expected key, window, limit, count or on-error, found \"%s\"", what, key);
    }
}

static void greylist_set(struct parser *p, const char *key, char *value, const struct rules_loc *loc)
{
    static const struct { const char *name; size_t off; bool is_duration; long min, max; } settings[] = {
        { "delay", offsetof(struct greylist_params, delay), true, 0, 0 },
        { "window", offsetof(struct greylist_params, window), true, 1, 0 },
        { "lifetime", offsetof(struct greylist_params, lifetime), true, 1, 0 },
        { "auto-allow", offsetof(struct greylist_params, autoallow_passes), false, 0, 1000000 },
        { "auto-allow-lifetime", offsetof(struct greylist_params, autoallow_lifetime), true, 1, 0 },
        { "ipv4-prefix", offsetof(struct greylist_params, v4_prefix), false, 8, 32 },
        { "ipv6-prefix", offsetof(struct greylist_params, v6_prefix), false, 16, 128 },
    };
    struct greylist_params *gp = &p->rs->greylist;

    if (strcmp(key, "on-error") == 0) {
        on_error_value(p, "greylist", value, loc, &p->rs->greylist_tempfail);
        return;
    }
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        char *end;
        long n;
        if (strcmp(key, settings[i].name) != 0)
            continue;
        n = settings[i].is_duration ? duration(value) : strtol(value, &end, 10);
        if (settings[i].is_duration ? n < settings[i].min
                                    : (*end != '\0' || n < settings[i].min || n > settings[i].max)) {
            if (settings[i].is_duration)
                diag_error(p->diag, loc, "greylist: %s: expected a time like 300, 5m, 24h or 36d, found \"%s\"",
                           key, value);
            else
                diag_error(p->diag, loc, "greylist: %s: expected a number from %ld to %ld, found \"%s\"", key,
                           settings[i].min, settings[i].max, value);
            return;
        }
        *(unsigned *)((char *)gp + settings[i].off) = (unsigned)n;
        return;
    }
    diag_error(p->diag, loc, "greylist: expected delay, window, lifetime, auto-allow, auto-allow-lifetime, "
               "ipv4-prefix, ipv6-prefix or on-error, found \"%s\"", key);
}

static void ratelimit_begin(struct parser *p, char *name, const struct rules_loc *loc)
{
    char *kind = strdup("networks");

    if (kind == NULL) {
        diag_error(p->diag, loc, "out of memory");
        free(name);
        return;
    }
    list_begin(p, name, kind, loc, loc);
    if (p->list != NULL) {
        p->list->kind = LIST_RATELIMIT;
        p->list->unit = RATELIMIT_MESSAGES;
    }
}

static void ratelimit_end(struct parser *p)
{
    struct list *l = p->list;

    if (l == NULL)
        return;
    if (l->key == NULL || l->window == 0 || l->limit == 0) {
        diag_error(p->diag, &l->loc, "ratelimit <%s>: expected 'key FACT;', 'window SECONDS;' and 'limit N;' settings",
                   l->name);
        list_free(l);
        p->list = NULL;
        return;
    }
    if (p->rs->nlimits == STATECHECK_LIMITS_MAX) {
        diag_error(p->diag, &l->loc, "more than %d rate limits", STATECHECK_LIMITS_MAX);
        list_free(l);
        p->list = NULL;
        return;
    }
    l->index = p->rs->nlimits++;
    list_end(p);
}

static void greylist_begin(struct parser *p, const struct rules_loc *loc)
{
    if (p->rs->greylist_seen)
        diag_error(p->diag, loc, "greylist settings are given once: a 'greylist { ... }' block came before");
    p->rs->greylist_seen = true;
    p->greylist_block = true;
}

/* One setting of a dnslist, ratelimit or greylist block, to the block being read. */
static void block_set(struct parser *p, char *key, char *value, const struct rules_loc *loc)
{
    struct list *l = p->list;
    char *end;

    if (value != NULL && (p->greylist_block || (l != NULL && l->kind == LIST_RATELIMIT))) {
        if (p->greylist_block)
            greylist_set(p, key, value, loc);
        else
            ratelimit_set(p, l, key, value, loc);
        free(key);
        free(value);
        return;
    }
    if (l == NULL || value == NULL) {
        /* the list was refused already */
    } else if (strcmp(key, "zone") == 0) {
        const char *error;
        p->zone_seen = true;
        size_t n = strlen(value);
        if (n > 0 && value[n - 1] == '.')
            value[--n] = '\0';
        if (address_check_domain(value, n, &error) < 0) {
            diag_error(p->diag, loc, "dnslist <%s>: zone \"%s\": %s", l->name, value, error);
        } else {
            free(l->zone);
            l->zone = value;
            value = NULL;
        }
    } else if (strcmp(key, "weight") == 0) {
        long w = strtol(value, &end, 10);
        if (*end != '\0' || w < -100 || w > 100)
            diag_error(p->diag, loc, "dnslist <%s>: expected a weight from -100 to 100, found \"%s\"", l->name, value);
        else
            l->weight = (int)w;
    } else if (strcmp(key, "bitmask") == 0) {
        unsigned long m = strtoul(value, &end, 0);
        if (*end != '\0' || m == 0 || m > 255)
            diag_error(p->diag, loc, "dnslist <%s>: expected a bitmask from 1 to 255 (0x.. for hex), found \"%s\"",
                       l->name, value);
        else
            l->bitmask = m;
    } else if (strcmp(key, "on-error") == 0) {
        if (strcmp(value, "tempfail") == 0 || strcmp(value, "skip") == 0)
            l->tempfail = strcmp(value, "tempfail") == 0;
        else
            diag_error(p->diag, loc, "dnslist <%s>: expected on-error skip or tempfail, found \"%s\"", l->name, value);
    } else if (strcmp(key, "checks") == 0) {
        free(l->key);
        l->key = value;
        value = NULL;
    } else {
        diag_error(p->diag, loc, "dnslist <%s>: expected zone, codes, bitmask, weight, checks or on-error, found \"%s\"",
                   l->name, key);
    }
    free(key);
    free(value);
}

static void dnslist_codes(struct parser *p, char *key, const struct rules_loc *loc)
{
    if (strcmp(key, "codes") != 0)
        diag_error(p->diag, loc, "expected 'codes { ... }', found \"%s\"", key);
    free(key);
}

static void dnslist_end(struct parser *p)
{
    if (p->list != NULL && p->list->zone == NULL) {
        if (!p->zone_seen) /* a bad zone was reported where it stands */
            diag_error(p->diag, &p->list->loc, "dnslist <%s>: expected a 'zone \"...\";' setting", p->list->name);
        list_free(p->list);
        p->list = NULL;
        return;
    }
    list_end(p);
}
