/*
 * lexer.c: a small hand-written lexer for the rule language.
 *
 * Counts lines and columns (1-based, in bytes) for every token. A lexical
 * mistake is reported and skipped, never fatal, so the parser can go on
 * and find the next one.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/parser.h"
#include "grammar.h"

/* Sorted: looked up with bsearch. */
static const struct keyword {
    const char *word;
    int token;
} keywords[] = {
    { "accept", ACCEPT },     { "add-header", ADD_HEADER }, { "and", AND },
    { "authentication-results", AUTH_RESULTS },
    { "by", BY },             { "change-header", CHANGE_HEADER }, { "clamd", CLAMD },
    { "continue", CONTINUE }, { "define", DEFINE }, { "delete-header", DELETE_HEADER },
    { "discard", DISCARD },   { "dkim-keys", DKIM_KEYS }, { "dkim-sign", DKIM_SIGN },
    { "dnslist", DNSLIST },
    { "expect", EXPECT },     { "file", FILE_ },    { "greylist", GREYLIST }, { "if", IF },
    { "in", IN },             { "include", INCLUDE }, { "list", LIST },
    { "macro", MACRO },
    { "not", NOT },           { "on", ON },         { "or", OR },        { "over", OVER },
    { "quarantine", QUARANTINE }, { "ratelimit", RATELIMIT }, { "received-spf", RECEIVED_SPF },
    { "reject", REJECT }, { "tag", TAG },
    { "tagged", TAGGED },     { "tempfail", TEMPFAIL }, { "test", TEST },
    { "under", UNDER },       { "warn", WARN },
};

static int keyword_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct keyword *)elem)->word);
}

static bool is_word_char(int c)
{
    return isalnum(c) || (c != '\0' && strchr("_.-:/@%+*", c) != NULL) || c >= 0x80;
}

static int peek(const struct parser *p, size_t ahead)
{
    return p->pos + ahead < p->len ? (unsigned char)p->buf[p->pos + ahead] : -1;
}

static void advance(struct parser *p)
{
    if (p->buf[p->pos] == '\n') {
        p->line++;
        p->col = 1;
    } else {
        p->col++;
    }
    p->pos++;
}

static void skip_blank(struct parser *p)
{
    for (;;) {
        int c = peek(p, 0);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            advance(p);
        } else if (c == '#') {
            while (peek(p, 0) != -1 && peek(p, 0) != '\n')
                advance(p);
        } else {
            return;
        }
    }
}

static void remember(struct parser *p, const char *text, size_t n)
{
    if (n >= sizeof p->last_text)
        n = sizeof p->last_text - 1;
    memcpy(p->last_text, text, n);
    p->last_text[n] = '\0';
}

static int lex_string(struct parser *p, RULES_STYPE *val, struct rules_loc *loc)
{
    size_t cap = 64, n = 0;
    char *s = malloc(cap);

    if (s == NULL)
        return RULES_UNDEF;
    advance(p); /* opening quote */
    for (;;) {
        int c = peek(p, 0);
        if (c == -1 || c == '\n') {
            diag_error(p->diag, loc, "unterminated string: expected '\"' before the end of the line");
            break;
        }
        if (c == '"') {
            advance(p);
            break;
        }
        if (c == '\\') {
            int e = peek(p, 1);
            if (e == '"' || e == '\\') {
                advance(p);
                c = e;
            } else {
                struct rules_loc at = { p->file, p->line, p->col, p->line, p->col + 1 };
                diag_error(p->diag, &at, "unknown escape in string: expected \\\" or \\\\");
            }
        } else if (c < 0x20 && c != '\t') {
            struct rules_loc at = { p->file, p->line, p->col, p->line, p->col };
            diag_error(p->diag, &at, "control character in string");
        }
        if (n + 1 >= cap) {
            char *grown = realloc(s, cap * 2);
            if (grown == NULL) {
                free(s);
                return RULES_UNDEF;
            }
            s = grown;
            cap *= 2;
        }
        s[n++] = (char)c;
        advance(p);
    }
    s[n] = '\0';
    remember(p, s, n);
    val->str = s;
    return STRING;
}

/*
 * A label is a name like any other, and may be a keyword too: "[greylist]
 * greylist;" reads naturally, and a test names the rule "by greylist".
 * Only a label comes after '[' or "by", so there no keyword is looked up.
 */
static bool label_expected(const struct parser *p)
{
    return p->prev_tok == '[' || p->prev_tok == BY;
}

static int lex_word(struct parser *p, RULES_STYPE *val)
{
    size_t start = p->pos, n;
    bool digits = true;
    const struct keyword *kw;
    char *w;

    while (peek(p, 0) != -1 && is_word_char(peek(p, 0))) {
        digits = digits && isdigit(peek(p, 0));
        advance(p);
    }
    n = p->pos - start;
    remember(p, p->buf + start, n);
    if ((w = strndup(p->buf + start, n)) == NULL)
        return RULES_UNDEF;
    if (digits && n <= 9) {
        val->num = strtol(w, NULL, 10);
        free(w);
        return NUMBER;
    }
    kw = label_expected(p) ? NULL
                           : bsearch(w, keywords, sizeof keywords / sizeof keywords[0], sizeof keywords[0],
                                     keyword_cmp);
    if (kw != NULL) {
        free(w);
        return kw->token;
    }
    /* "off" starts a rule that is checked but never runs (a test may
       enable it); anywhere else it is a name like any other. */
    if (p->stage >= 0 && (p->prev_tok == '{' || p->prev_tok == ';' || p->prev_tok == ']') &&
        strcmp(w, "off") == 0) {
        free(w);
        return OFF;
    }
    val->str = w;
    return WORD;
}

/*
 * Braces as written, and where the outermost block of the file opened and
 * what it is ('on rcpt' block): an end of file inside a block is reported
 * there (parse_file.c), not as a syntax error at the end.
 */
static void track_block(struct parser *p, int tok, const struct rules_loc *loc)
{
    size_t n = strlen(p->block_what);

    switch (tok) {
    case LIST: case DNSLIST: case RATELIMIT: case GREYLIST: case ON: case TEST:
        if (p->brace_depth == 0) {
            snprintf(p->block_what, sizeof p->block_what, "%s", p->last_text);
            p->block_loc = *loc;
            p->block_pending = true;
            p->block_named = false;
        }
        break;
    case WORD: case STRING:
        if (p->brace_depth == 0 && p->block_pending && !p->block_named) {
            snprintf(p->block_what + n, sizeof p->block_what - n, tok == STRING ? " \"%.40s\"" : " %.40s",
                     p->last_text);
            p->block_named = true;
        }
        break;
    case '{':
        if (p->brace_depth++ == 0 && !p->block_pending) {
            p->block_what[0] = '\0';
            p->block_loc = *loc;
        }
        p->block_pending = false;
        break;
    case '}':
        if (p->brace_depth > 0)
            p->brace_depth--;
        break;
    case ';':
        if (p->brace_depth == 0)
            p->block_pending = false;
        break;
    default:
        break;
    }
}

int rules_lex(RULES_STYPE *val, struct rules_loc *loc, struct parser *p)
{
    int c, tok;

    for (;;) {
        skip_blank(p);
        loc->file = p->file;
        loc->first_line = p->line;
        loc->first_column = p->col;
        c = peek(p, 0);
        if (c == -1) {
            tok = RULES_EOF;
            break;
        }
        if (c == '"') {
            tok = lex_string(p, val, loc);
            break;
        }
        if (is_word_char(c)) {
            tok = lex_word(p, val);
            break;
        }
        if ((c == '!' || c == '<' || c == '>') && peek(p, 1) == '=') {
            advance(p);
            advance(p);
            tok = c == '!' ? NE : c == '<' ? LE : GE;
            break;
        }
        if (c == '!' && peek(p, 1) == '~') {
            advance(p);
            advance(p);
            tok = NOMATCH;
            break;
        }
        if (c == '~') {
            advance(p);
            tok = MATCH;
            break;
        }
        if (c == '$' && peek(p, 1) != -1 && (isalpha(peek(p, 1)) || peek(p, 1) == '_')) {
            advance(p);
            tok = lex_word(p, val) == WORD ? VAR : RULES_UNDEF;
            if (tok == RULES_UNDEF) {
                /* Reported once; an empty string lets the parse go on. */
                diag_error(p->diag, loc, "a macro name cannot be a keyword");
                val->str = strdup("");
                tok = val->str != NULL ? STRING : RULES_UNDEF;
            }
            break;
        }
        if (c != '\0' && strchr("{}()<>;,=[]", c) != NULL) {
            advance(p);
            tok = c;
            break;
        }
        if (isprint(c))
            diag_error(p->diag, loc, "unexpected character '%c'", c);
        else
            diag_error(p->diag, loc, "unexpected byte 0x%02x", (unsigned)c);
        advance(p);
    }
    loc->last_line = p->line;
    loc->last_column = p->col > 1 ? p->col - 1 : 1;
    p->prev_tok = tok;
    track_block(p, tok, loc);
    return tok;
}
