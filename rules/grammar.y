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
#include "rules/suggest.h"

static void rules_error(struct rules_loc *loc, struct parser *p, const char *msg);
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
%token CLAMD "clamd"
%token GREYLIST "greylist" RATELIMIT "ratelimit" OVER "over" OFF "off"
%token DKIM_KEYS "dkim-keys" DKIM_SIGN "dkim-sign"
%token NE "!=" LE "<=" GE ">="

%left OR
%left AND
%precedence NOT

%type <cond> cond_opt cond test
%type <act> action
%type <reply> reply_opt
%type <expect> expect_opt
%type <effect> effect
%type <str> label_opt by_opt string strings fact_ref
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

/* A ';' after the closing '}' of a block is optional and means nothing. */
item
    : list_decl
    | dnslist_decl semi_opt
    | ratelimit_decl semi_opt
    | greylist_decl semi_opt
    | clamd_decl semi_opt
    | stage_block semi_opt
    | test_block semi_opt
    | INCLUDE string ';'       { rules_include(p, $2, &@2); free($2); }
    | DKIM_KEYS FILE_ string ';'  { keytable_load(p, $3, &@1, &@3); }
    | DEFINE WORD string ';'   { macro_define(p, $2, $3, &@2); }
    | error ';'        { yyerrok; }
    | error '}' semi_opt  { yyerrok; p->stage = -1; }
    ;

semi_opt
    : %empty
    | ';'
    ;

/* An inline list is a block: its ';' is optional. A list file's is not. */
list_decl
    : LIST WORD WORD   { list_begin(p, $2, $3, &@2, &@3); $2 = $3 = NULL; /* owned by list_begin */ }
      list_body
    ;

list_body
    : FILE_ string     { list_load(p, $2, &@2); $2 = NULL; } list_terminator
    | '{' entries '}' semi_opt   { list_end(p); }
    | '{' '}' semi_opt           { list_end(p); }
    ;

/* A missing ';' after a list file is reported once, and the next item parses normally. */
list_terminator
    : ';'              { list_end(p); }
    | error            { list_end(p); yyerrok; }
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
    | WORD '{' entries '}' semi_opt  { dnslist_codes(p, $1, &@1); }
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

/* The virus scanner's settings, once per rule set: clamd { on-error tempfail; } */
clamd_decl
    : CLAMD '{'  { clamd_begin(p, &@1); }
      block_settings '}'  { p->clamd_block = false; }
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
            rule_add(p, $1, $2 == 1, (enum action)$3, &$4.r, $4.has, $5, $1 ? &@1 : &@3);
            if (p->last_rule != NULL) {
                p->last_rule->unchecked = p->accept_unchecked;
                p->last_rule->off = $2 == 2;
            }
            p->accept_unchecked = false;
        }
    | label_opt warn_opt effect cond_opt ';'
        {
            struct reply r;
            memset(&r, 0, sizeof r);
            r.text = $3.value;
            r.loc = @3;
            rule_add(p, $1, $2 == 1, (enum action)$3.action, &r, false, $4, $1 ? &@1 : &@3);
            if (p->last_rule != NULL) {
                p->last_rule->arg = $3.arg;
                p->last_rule->off = $2 == 2;
            } else {
                free($3.arg);
            }
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
    | DKIM_SIGN                    { $$.action = ACTION_DKIM_SIGN; $$.arg = NULL; $$.value = NULL; }
    | DKIM_SIGN string             { $$.action = ACTION_DKIM_SIGN; $$.arg = $2; $$.value = NULL; }
    ;

/* warn: a dry run; off: checked, never run (a test may enable it). */
warn_opt
    : %empty            { $$ = 0; }
    | WARN              { $$ = 1; }
    | OFF               { $$ = 2; }
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
    : WORD step_args expect_opt ';'
        { test_step_add(p, $1, &$3, &@1); $1 = NULL; $3.by = NULL; }
    | MACRO step_args expect_opt ';'   /* "macro" is a keyword of conditions too */
        { test_step_add(p, strdup("macro"), &$3, &@1); $3.by = NULL; }
    | error ';'
        { yyerrok; test_args_clear(p); }
    ;

/* What a step says: quoted strings, bare words and numbers; test_parse.c reads them. */
step_args
    : %empty
    | step_args string   { test_arg_add(p, $2, false, &@2); $2 = NULL; }
    | step_args WORD     { test_arg_add(p, $2, true, &@2); $2 = NULL; }
    | step_args FILE_    { test_arg_add(p, strdup("file"), true, &@2); }  /* dns file "x" */
    | step_args NUMBER
        {
            char buf[32];
            snprintf(buf, sizeof buf, "%ld", $2);
            test_arg_add(p, strdup(buf), true, &@2);
        }
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

/* A keyword, as opposed to punctuation or a kind of token ("name", "number"). */
static bool is_keyword(yysymbol_kind_t k)
{
    const char *name = yysymbol_name(k);

    if (k == YYSYMBOL_YYEOF || k == YYSYMBOL_YYerror || k == YYSYMBOL_YYUNDEF || k == YYSYMBOL_WORD ||
        k == YYSYMBOL_STRING || k == YYSYMBOL_NUMBER || k == YYSYMBOL_VAR)
        return false;
    return strspn(name, "abcdefghijklmnopqrstuvwxyz-") == strlen(name);
}

/* A name where keywords were expected, close to one of them: "did you mean" instead of the list. */
static bool report_keyword_typo(const yypcontext_t *ctx, struct parser *p, const yysymbol_kind_t *expected, int n)
{
    struct suggest s;
    const char *best;

    if (yypcontext_token(ctx) != YYSYMBOL_WORD)
        return false;
    suggest_init(&s, p->last_text);
    for (int i = 0; i < n; i++)
        if (is_keyword(expected[i]))
            suggest_add(&s, yysymbol_name(expected[i]));
    if ((best = suggest_result(&s)) == NULL)
        return false;
    diag_error(p->diag, yypcontext_location(ctx), "unknown keyword \"%s\": did you mean '%s'?", p->last_text, best);
    return true;
}

static int yyreport_syntax_error(const yypcontext_t *ctx, struct parser *p)
{
    enum { MAX_EXPECTED = 16 };
    yysymbol_kind_t expected[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, expected, YYNTOKENS);
    yysymbol_kind_t found = yypcontext_token(ctx);
    char msg[512], tok[64];
    size_t used = 0;

    /* The end of the file inside a block: parse_file.c names the block where it opened. */
    if (found == YYSYMBOL_YYEOF && p->brace_depth > 0)
        return 0;
    if (report_keyword_typo(ctx, p, expected, n))
        return 0;
    used += (size_t)snprintf(msg, sizeof msg, "expected ");
    if (n <= 0 || n >= MAX_EXPECTED)
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

