/*
 * dmarc_from.c: the author domains of a message for DMARC, read from its
 * From: field values (RFC 5322 section 3.4 mailbox-list and address-list,
 * with groups as RFC 6854 allows them in From:, and RFC 6532 8-bit text).
 *
 * What is read: display names (atoms, quoted strings with quoted-pairs,
 * 8-bit text), comments (nested, anywhere CFWS may be), angle addresses,
 * the obsolete route ("<@a,@b:user@host>"), groups ("undisclosed:;" has
 * no address), empty list elements, folded lines (CR, LF, SP and HTAB are
 * all folding white space here). Each addr-spec's domain is a dot-atom
 * (obsolete CFWS around its dots allowed) or a domain literal; a literal
 * ("[192.0.2.1]") is no DNS name. Domains go through idn_to_alabels()
 * (policy/smtp/idn.c: one trailing dot dropped, lower case, U-labels to
 * A-labels) and must then be LDH labels of 1..63 octets, at most 253 in
 * all; otherwise the field has NO_DOMAIN.
 *
 * RFC 7489 section 6.6.1 practice followed: one From: field with one
 * domain is what DMARC evaluates. Several addresses of one domain are
 * that one domain (OK). A syntactically valid multi-valued field keeps
 * each distinct domain (DOMAINS) so that each is checked and the
 * strictest policy among the failing ones applies, as 6.6.1 says. Several
 * From: fields (forbidden by RFC 5322 section 3.6) and fields with no
 * meaningful domain are "outside the scope" of 6.6.1: they are kept and
 * flagged (FIELDS, NO_DOMAIN) for the rules to decide, never guessed
 * away. Worst first: NO_DOMAIN > FIELDS > DOMAINS > OK.
 *
 * A display name with an unquoted '@' before an angle address
 * ("a@b.example <c@d.example>", common from broken mailers) yields the
 * angle address's domain: that is the address the mail is from.
 *
 * Values come from a client: read in place, only their first
 * DMARC_FROM_WINDOW bytes (a longer value is NO_DOMAIN: what lies past
 * the window is never read), no allocation of ours (libidn2 allocates
 * once per international label), one bounded buffer for the domain
 * being read. Must never pass on a domain that is not plain LDH
 * ASCII in lower case, nor read past len.
 */
#include "policy/auth/dmarc_from.h"

#include <string.h>

#include "policy/smtp/idn.h"

#define DMARC_FROM_WINDOW 8192 /* bytes of one field value that are read */

/* --- lexer: RFC 5322 3.2 tokens, CFWS skipped ----------------------------- */

enum tok_kind { TOK_END, TOK_ATOM, TOK_QUOTED, TOK_LITERAL, TOK_SPECIAL, TOK_BAD };

struct lexer {
    const char *p;
    size_t len, pos;
};

struct token {
    enum tok_kind kind;
    const char *s; /* TOK_ATOM: the run of atext and dots */
    size_t n;
    char c; /* TOK_SPECIAL: one of < > @ , : ; */
};

static bool is_atext(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80)
        return true;
    return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL;
}

static bool is_fws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skip a comment at lx->pos ('('), nested, with quoted-pairs. -1 if unterminated or NUL. */
static int skip_comment(struct lexer *lx)
{
    unsigned depth = 0;

    while (lx->pos < lx->len) {
        char c = lx->p[lx->pos++];
        if (c == '\0')
            return -1;
        if (c == '\\') {
            if (lx->pos == lx->len || lx->p[lx->pos] == '\0')
                return -1;
            lx->pos++;
        } else if (c == '(') {
            depth++;
        } else if (c == ')' && --depth == 0) {
            return 0;
        }
    }
    return -1;
}

/* Skip a quoted string or a domain literal that opens at lx->pos, up to close. */
static int skip_delimited(struct lexer *lx, char close)
{
    lx->pos++;
    while (lx->pos < lx->len) {
        char c = lx->p[lx->pos++];
        if (c == '\0' || (close == ']' && c == '['))
            return -1;
        if (c == close)
            return 0;
        if (c == '\\') {
            if (lx->pos == lx->len || lx->p[lx->pos] == '\0')
                return -1;
            lx->pos++;
        }
    }
    return -1;
}

static void lex_next(struct lexer *lx, struct token *t)
{
    unsigned char c;

    t->s = NULL;
    t->n = 0;
    t->c = 0;
    for (;;) {
        if (lx->pos >= lx->len) {
            t->kind = TOK_END;
            return;
        }
        c = (unsigned char)lx->p[lx->pos];
        if (is_fws(c)) {
            lx->pos++;
        } else if (c == '(') {
            if (skip_comment(lx) < 0) {
                t->kind = TOK_BAD;
                lx->pos = lx->len;
                return;
            }
        } else {
            break;
        }
    }
    if (c == '"' || c == '[') {
        t->kind = c == '"' ? TOK_QUOTED : TOK_LITERAL;
        if (skip_delimited(lx, c == '"' ? '"' : ']') < 0) {
            t->kind = TOK_BAD;
            lx->pos = lx->len;
        }
    } else if (c != '\0' && strchr("<>@,:;", c) != NULL) {
        t->kind = TOK_SPECIAL;
        t->c = (char)c;
        lx->pos++;
    } else if (is_atext(c)) {
        t->kind = TOK_ATOM;
        t->s = lx->p + lx->pos;
        while (lx->pos < lx->len && is_atext((unsigned char)lx->p[lx->pos]))
            lx->pos++;
        t->n = (size_t)(lx->p + lx->pos - t->s);
    } else {
        t->kind = TOK_BAD; /* NUL, controls, stray ')' ']' '\' */
        lx->pos++;
    }
}

/* --- one mailbox --------------------------------------------------------- */

struct mailbox {
    unsigned ntok; /* tokens seen: 0 is an empty list element */
    int angle;     /* 0 before '<', 1 inside, 2 after '>' */
    bool route;    /* inside <>, an obsolete route before its ':' */
    bool bad;      /* the mailbox is malformed */
    /* The addr-spec being read (reset by '<' and by a route's ':'). */
    unsigned local; /* tokens before its '@' */
    unsigned ats;
    bool in_domain, literal, dbad;
    size_t dlen;
    char dom[IDN_INPUT_MAX + 1];
};

static void addr_reset(struct mailbox *m)
{
    m->local = 0;
    m->ats = 0;
    m->in_domain = m->literal = m->dbad = false;
    m->dlen = 0;
}

static void mailbox_reset(struct mailbox *m)
{
    m->ntok = 0;
    m->angle = 0;
    m->route = m->bad = false;
    addr_reset(m);
}

/* An atom of the domain: dot-atom pieces join only at a dot ("a .b", not "a b"). */
static void domain_append(struct mailbox *m, const struct token *t)
{
    if (m->literal || (m->dlen > 0 && m->dom[m->dlen - 1] != '.' && t->s[0] != '.')) {
        m->dbad = true;
        return;
    }
    if (m->dlen + t->n > IDN_INPUT_MAX) {
        m->dbad = true; /* longer than any name can be, even as U-labels */
        return;
    }
    memcpy(m->dom + m->dlen, t->s, t->n);
    m->dlen += t->n;
}

/* '@' and the specials that are part of an angle address. */
static void mailbox_special(struct mailbox *m, char c)
{
    if (c == '@') {
        if (m->angle == 1 && (m->route || (m->local == 0 && m->ats == 0))) {
            m->route = true; /* "<@a,@b:user@host>" */
            return;
        }
        if (m->local == 0 || m->ats > 0)
            m->dbad = true; /* "@host", "a@b@c" */
        m->ats++;
        m->in_domain = true;
        m->dlen = 0;
        m->literal = false;
    } else if (c == '<') {
        if (m->angle != 0)
            m->bad = true;
        m->angle = 1;
        addr_reset(m); /* what came before was the display name */
    } else if (c == '>') {
        if (m->angle != 1 || m->route)
            m->bad = true;
        m->angle = 2;
    } else if (c == ':' && m->route) {
        m->route = false;
        addr_reset(m);
    } else if (!(c == ',' && m->route)) {
        m->bad = true; /* ',' ':' ';' inside <> outside a route */
    }
}

/* Everything but the separators of the list (top-level ',' ':' ';'). */
static void mailbox_token(struct mailbox *m, const struct token *t)
{
    m->ntok++;
    if (m->angle == 2) {
        m->bad = true; /* "<a@b> more" */
        return;
    }
    switch (t->kind) {
    case TOK_ATOM:
        if (m->in_domain)
            domain_append(m, t);
        else if (!m->route)
            m->local++;
        break;
    case TOK_QUOTED:
        if (m->in_domain)
            m->dbad = true;
        else if (m->route)
            m->bad = true;
        else
            m->local++;
        break;
    case TOK_LITERAL:
        if (m->in_domain && m->dlen == 0 && !m->literal)
            m->literal = true;
        else if (m->in_domain)
            m->dbad = true;
        else if (!m->route)
            m->bad = true;
        break;
    case TOK_SPECIAL:
        mailbox_special(m, t->c);
        break;
    default:
        m->bad = true;
        break;
    }
}

/* --- the result ------------------------------------------------------------ */

static int problem_rank(enum dmarc_from_problem p)
{
    switch (p) {
    case DMARC_FROM_OK:
        return 0;
    case DMARC_FROM_DOMAINS:
        return 1;
    case DMARC_FROM_FIELDS:
        return 2;
    case DMARC_FROM_NO_DOMAIN:
        return 3;
    case DMARC_FROM_MISSING:
        return 4;
    }
    return 4;
}

static void problem_raise(struct dmarc_from *f, enum dmarc_from_problem p)
{
    if (problem_rank(p) > problem_rank(f->problem))
        f->problem = p;
}

/* LDH labels of 1..63 octets, at most DMARC_DOMAIN_MAX in all (idn.c checked; be certain). */
static bool is_dns_name(const char *d, size_t len)
{
    size_t label = 0;

    if (len == 0 || len > DMARC_DOMAIN_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = d[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label > 0;
}

/* One addr-spec's domain, as written: 0 when it is a DNS name (kept), else -1. */
static int domain_take(struct dmarc_from *f, const char *d, size_t len)
{
    char out[IDN_DOMAIN_MAX + 1];
    size_t olen = 0;
    struct idn_error err;
    unsigned i;

    if (idn_to_alabels(d, len, out, &olen, &err) < 0 || !is_dns_name(out, olen))
        return -1;
    for (i = 0; i < f->ndomains; i++)
        if (strcmp(f->domain[i], out) == 0)
            return 0;
    if (f->ndomains < DMARC_FROM_DOMAINS_MAX) {
        memcpy(f->domain[f->ndomains], out, olen + 1);
        f->ndomains++;
    } else if (!f->more_domains) {
        f->more_domains = true;
    } else {
        return 0; /* one of the dropped ones, perhaps: it counts as "more" all the same */
    }
    if (f->ndomains + (f->more_domains ? 1 : 0) > 1)
        problem_raise(f, DMARC_FROM_DOMAINS);
    return 0;
}

/* The end of one mailbox; counts whether it gave a domain. */
static void mailbox_finish(struct dmarc_from *f, struct mailbox *m, unsigned *taken)
{
    if (m->ntok == 0)
        return; /* an empty list element (RFC 5322 4.4) */
    f->addresses++;
    if (m->bad || m->angle == 1 || m->ats != 1 || m->dbad || m->literal || m->dlen == 0 ||
        domain_take(f, m->dom, m->dlen) < 0)
        problem_raise(f, DMARC_FROM_NO_DOMAIN);
    else
        (*taken)++;
    mailbox_reset(m);
}

/* --- the interface --------------------------------------------------------- */

void dmarc_from_init(struct dmarc_from *f)
{
    memset(f, 0, sizeof *f);
    f->problem = DMARC_FROM_OK;
}

/* A top-level separator: ',' between mailboxes, ':' opening a group, ';' closing it. */
static void field_separator(struct dmarc_from *f, struct mailbox *m, char c, bool *in_group, unsigned *taken)
{
    if (c == ',') {
        mailbox_finish(f, m, taken);
    } else if (c == ':') {
        /* The group's display name is no address; "a@b: ..." or a group in a group is malformed. */
        if (*in_group || m->ats > 0 || m->angle != 0)
            problem_raise(f, DMARC_FROM_NO_DOMAIN);
        mailbox_reset(m);
        *in_group = true;
    } else {
        if (!*in_group)
            problem_raise(f, DMARC_FROM_NO_DOMAIN);
        mailbox_finish(f, m, taken);
        *in_group = false;
    }
}

void dmarc_from_add(struct dmarc_from *f, const char *value, size_t len)
{
    struct lexer lx = { value, len > DMARC_FROM_WINDOW ? DMARC_FROM_WINDOW : len, 0 };
    struct mailbox m;
    struct token t;
    bool in_group = false;
    unsigned taken = 0;

    f->fields++;
    if (f->fields > 1)
        problem_raise(f, DMARC_FROM_FIELDS);
    if (value == NULL)
        lx.len = len = 0;
    mailbox_reset(&m);
    for (lex_next(&lx, &t); t.kind != TOK_END; lex_next(&lx, &t)) {
        if (t.kind == TOK_SPECIAL && m.angle != 1 && strchr(",:;", t.c) != NULL)
            field_separator(f, &m, t.c, &in_group, &taken);
        else
            mailbox_token(&m, &t);
    }
    if (len > DMARC_FROM_WINDOW) {
        /* The mailbox cut at the window is not read as if it ended there. */
        problem_raise(f, DMARC_FROM_NO_DOMAIN);
        return;
    }
    mailbox_finish(f, &m, &taken);
    if (in_group || taken == 0)
        problem_raise(f, DMARC_FROM_NO_DOMAIN); /* an unterminated group; no address, or none usable */
}

void dmarc_from_finish(struct dmarc_from *f)
{
    if (f->fields == 0)
        f->problem = DMARC_FROM_MISSING;
}

const char *dmarc_from_problem_text(enum dmarc_from_problem p)
{
    switch (p) {
    case DMARC_FROM_OK:
        return "";
    case DMARC_FROM_MISSING:
        return "no From: field";
    case DMARC_FROM_FIELDS:
        return "more than one From: field";
    case DMARC_FROM_DOMAINS:
        return "From: addresses of more than one domain";
    case DMARC_FROM_NO_DOMAIN:
        return "From: without a usable domain";
    }
    return "unknown From: problem";
}
