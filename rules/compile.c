/*
 * compile.c: turn a parsed rule file into something the evaluator can run
 * without a single failure path: resolve fact and list names, check types,
 * check replies, and warn about rules that can never match. A domain
 * written as a constant is put in the form the facts have (A-labels).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/auth/authresult.h"
#include "policy/auth/dkim_sign.h"
#include "policy/smtp/address.h"
#include "policy/smtp/idn.h"
#include "rules/load.h"
#include "rules/suggest.h"

/* warn logs what a rule would have done: only a verdict or a quarantine can be pretended. */
#define WARN_GOES_WITH "'warn' goes with accept, reject, tempfail, discard or quarantine: it logs what that would have done"

static struct list *find_list(const struct ruleset *rs, const char *name)
{
    for (struct list *l = rs->lists; l != NULL; l = l->next)
        if (strcmp(l->name, name) == 0)
            return l;
    return NULL;
}

/* The declared list (or, with ratelimits, rate limit) closest to a name nobody declared. */
static const char *suggest_list(const struct ruleset *rs, const char *name, bool ratelimits)
{
    struct suggest s;

    suggest_init(&s, name);
    for (const struct list *l = rs->lists; l != NULL; l = l->next)
        if ((l->kind == LIST_RATELIMIT) == ratelimits)
            suggest_add(&s, l->name);
    return suggest_result(&s);
}

static void unknown_fact(struct diag *diag, const struct rules_loc *loc, const char *name, size_t len)
{
    char word[SUGGEST_WORD_MAX + 1];
    const struct fact_def *table;
    size_t n = 0;
    struct suggest s;

    snprintf(word, sizeof word, "%.*s", (int)(len < sizeof word ? len : 0), name);
    suggest_init(&s, word);
    table = fact_table(&n);
    for (size_t i = 0; i < n; i++)
        suggest_add(&s, table[i].name);
    if (suggest_result(&s) != NULL)
        diag_error(diag, loc, "unknown fact \"%.*s\": did you mean \"%s\"?", (int)len, name, suggest_result(&s));
    else
        diag_error(diag, loc, "unknown fact \"%.*s\" (mxguard.rules(5) lists the facts)", (int)len, name);
}

static const char *list_kind_name(enum list_kind k)
{
    return k == LIST_NETWORKS ? "networks" : k == LIST_DOMAINS ? "domains"
         : k == LIST_ADDRESSES ? "addresses" : k == LIST_REGEXES ? "regexes" : k == LIST_WORDS ? "words" : "DNS answers (an address or a domain)";
}

static bool list_fits(enum list_kind k, enum fact_type t)
{
    return (k == LIST_NETWORKS && t == FACT_IP) || (k == LIST_DOMAINS && t == FACT_DOMAIN) ||
           (k == LIST_ADDRESSES && t == FACT_ADDRESS) || (k == LIST_WORDS && (t == FACT_STRING || t == FACT_RESULT)) ||
           (k == LIST_REGEXES && (t == FACT_STRING || t == FACT_DOMAIN || t == FACT_ADDRESS || t == FACT_RESULT)) ||
           (k == LIST_DNS && (t == FACT_IP || t == FACT_DOMAIN));
}

static void note_fact(struct ruleset *rs, const struct fact_def *f, enum stage stage)
{
    rs->fact_stage_mask |= STAGE_BIT(f->first_stage);
    if (strncmp(f->name, "rdns.", 5) == 0)
        rs->rdns_stages |= STAGE_BIT(stage);
    if (strncmp(f->name, "dnsbl.", 6) == 0)
        rs->score_stages |= STAGE_BIT(stage);
    if (strncmp(f->name, "auth", 4) == 0)
        rs->uses_auth = true;
    if (strncmp(f->name, "spf.", 4) == 0)
        rs->uses_spf = true;
    if (strncmp(f->name, "dkim.", 5) == 0)
        rs->uses_dkim = true;
    /* DMARC reads the SPF (MAIL FROM) and DKIM outcomes, and the From: fields. */
    if (strncmp(f->name, "dmarc.", 6) == 0)
        rs->uses_dmarc = rs->uses_dkim = rs->uses_spf = true;
    if (strncmp(f->name, "virus.", 6) == 0)
        rs->uses_virus = true;
    if (strncmp(f->name, "attachment.", 11) == 0 || strncmp(f->name, "archive.", 8) == 0 ||
        strncmp(f->name, "mime.", 5) == 0 || strcmp(f->name, "body.text") == 0)
        rs->uses_mime = true;
}

static const struct fact_def *resolve_fact(struct ruleset *rs, const char *name, size_t len,
                                           enum stage stage, const struct rules_loc *loc,
                                           struct diag *diag)
{
    char key[64];
    const struct fact_def *f = NULL;

    if (len < sizeof key) {
        memcpy(key, name, len);
        key[len] = '\0';
        f = fact_lookup(key);
    }
    if (f == NULL) {
        unknown_fact(diag, loc, name, len);
        return NULL;
    }
    if (f->first_stage > stage) {
        diag_error(diag, loc, "fact \"%s\" is not known yet at stage %s; it is known from stage %s on",
                   f->name, stage_name(stage), stage_name(f->first_stage));
        return NULL;
    }
    if (f->own_stage_only && f->first_stage != stage) {
        diag_error(diag, loc, "fact \"%s\" describes one %s: it is known at stage %s only",
                   f->name, f->first_stage == STAGE_RCPT ? "recipient" : "header", stage_name(f->first_stage));
        return NULL;
    }
    note_fact(rs, f, stage);
    return f;
}

/* Ask the MTA for macro name at stage (once). */
static void want_macro(struct ruleset *rs, enum stage stage, const char *name, struct diag *diag,
                       const struct rules_loc *loc)
{
    char *cur = rs->symlist[stage], *grown;
    size_t n = strlen(name);

    for (const char *p = cur; p != NULL && (p = strstr(p, name)) != NULL; p += n)
        if ((p == cur || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return;
    if (asprintf(&grown, "%s%s%s", cur ? cur : "", cur ? " " : "", name) < 0) {
        diag_error(diag, loc, "out of memory");
        return;
    }
    free(cur);
    rs->symlist[stage] = grown;
}

static bool macro_name_ok(const char *m)
{
    size_t n = strlen(m);

    if (n == 1)
        return m[0] > ' ' && m[0] < 0x7f && m[0] != '{' && m[0] != '}';
    if (n < 3 || n > 64 || m[0] != '{' || m[n - 1] != '}')
        return false;
    for (size_t i = 1; i + 1 < n; i++)
        if (!(m[i] == '_' || (m[i] >= 'a' && m[i] <= 'z') || (m[i] >= 'A' && m[i] <= 'Z') ||
              (m[i] >= '0' && m[i] <= '9')))
            return false;
    return true;
}

/* A word a result fact can take: a typo would otherwise never match, silently. */
static bool result_word_ok(const char *s, size_t len)
{
    for (int r = AUTH_NONE; r <= AUTH_PERMERROR; r++)
        if (s != NULL && strlen(auth_result_name((enum auth_result)r)) == len &&
            strncasecmp(s, auth_result_name((enum auth_result)r), len) == 0)
            return true;
    return false;
}

/*
 * A domain (or an address's domain) written as a constant is compared in
 * the form the facts have, lower-case A-labels: "bücher.example" matches
 * recipient.domain "xn--bcher-kva.example". Only a name that needs it is
 * touched; an invalid one is an error, since it could never match.
 */
static void normalise_constant(struct cond *c, struct diag *diag)
{
    char name[IDN_DOMAIN_MAX + 1], *text = NULL;
    size_t len;
    struct idn_error err;
    struct address a;

    if (c->numeric || c->str == NULL || !idn_is_international(c->str, c->len))
        return;
    if (c->fact->type == FACT_DOMAIN) {
        if (idn_to_alabels(c->str, c->len, name, &len, &err) < 0) {
            diag_error(diag, &c->loc, "fact \"%s\" is a domain: \"%s\": %s", c->fact->name, c->str, err.text);
            return;
        }
        text = strndup(name, len);
    } else if (c->fact->type == FACT_ADDRESS) {
        const char *at = strrchr(c->str, '@'), *error;
        size_t dlen = at != NULL ? strcspn(at + 1, ">") : 0;
        if (at == NULL || !idn_is_international(at + 1, dlen))
            return; /* the local part is compared as it is */
        if (idn_to_alabels(at + 1, dlen, name, &len, &err) < 0) {
            diag_error(diag, &c->loc, "fact \"%s\" is a mail address: \"%s\": %s", c->fact->name, c->str, err.text);
            return;
        }
        /* Not an address at all: kept, it may equal a path the client sent that did not parse. */
        if (address_parse(c->str, c->len, &a, &error) < 0)
            return;
        text = strdup(a.full);
        address_free(&a);
    } else {
        return;
    }
    if (text == NULL) {
        diag_error(diag, &c->loc, "out of memory");
        return;
    }
    free(c->str);
    c->str = text;
    c->len = strlen(text);
}

static void check_test(struct ruleset *rs, struct cond *c, enum stage stage, struct diag *diag)
{
    if (strncmp(c->fact_name, "macro:", 6) == 0) {
        c->fact = &fact_macro;
        c->macro_name = c->fact_name + 6;
        if (!macro_name_ok(c->macro_name))
            diag_error(diag, &c->loc, "expected a macro name like \"{tls_version}\" or \"j\", found \"%s\"",
                       c->macro_name);
        else
            want_macro(rs, stage, c->macro_name, diag, &c->loc);
    } else {
        c->fact = resolve_fact(rs, c->fact_name, strlen(c->fact_name), stage, &c->loc, diag);
        if (c->fact != NULL && c->fact->macro != NULL)
            want_macro(rs, stage, c->fact->macro, diag, &c->loc);
    }
    if (c->fact == NULL)
        return;
    switch (c->op) {
    case COND_BOOL:
        if (c->fact->type != FACT_BOOL)
            diag_error(diag, &c->loc, "fact \"%s\" is of type %s, not a condition: expected 'in <list>', '=' or '!=' after it",
                       c->fact->name, fact_type_name(c->fact->type));
        break;
    case COND_IN:
    case COND_UNDER:
        if ((c->list = find_list(rs, c->list_name)) == NULL) {
            if (suggest_list(rs, c->list_name, false) != NULL)
                diag_error(diag, &c->loc, "unknown list <%s>: did you mean <%s>?", c->list_name,
                           suggest_list(rs, c->list_name, false));
            else
                diag_error(diag, &c->loc, "unknown list <%s>: expected the name of a list declared with 'list'",
                           c->list_name);
        } else if (!list_fits(c->list->kind, c->fact->type)) {
            diag_error(diag, &c->loc, "list <%s> holds %s, but fact \"%s\" is of type %s",
                       c->list->name, list_kind_name(c->list->kind), c->fact->name, fact_type_name(c->fact->type));
        } else if (c->op == COND_UNDER && c->list->kind != LIST_DOMAINS) {
            diag_error(diag, &c->loc, "'under' matches domains and their subdomains: expected a domain fact and a domains list");
        } else if (c->list->kind == LIST_DNS) {
            rs->dns_stages |= STAGE_BIT(stage);
            /* A list that looks up the reverse DNS name needs that name first. */
            if (strncmp(c->fact->name, "rdns.", 5) == 0)
                rs->rdns_first_stages |= STAGE_BIT(stage);
        }
        break;
    case COND_MATCH:
    case COND_NOMATCH:
        if (c->fact->type == FACT_BOOL || c->fact->type == FACT_IP || c->fact->type == FACT_NUMBER)
            diag_error(diag, &c->loc, "fact \"%s\" is of type %s: a regular expression matches text facts only",
                       c->fact->name, fact_type_name(c->fact->type));
        break;
    case COND_EQ:
    case COND_NE:
    case COND_LT:
    case COND_LE:
    case COND_GT:
    case COND_GE:
        if (c->numeric != (c->fact->type == FACT_NUMBER) || c->fact->type == FACT_BOOL ||
            c->fact->type == FACT_IP)
            diag_error(diag, &c->loc, "fact \"%s\" is of type %s: compare it with %s",
                       c->fact->name, fact_type_name(c->fact->type),
                       c->fact->type == FACT_IP ? "'in <list>'"
                       : c->fact->type == FACT_BOOL ? "nothing ('if fact' or 'if not fact')"
                       : c->fact->type == FACT_NUMBER ? "a number" : "a quoted string");
        else if (c->fact->type == FACT_RESULT && !result_word_ok(c->str, c->len))
            diag_error(diag, &c->loc, "fact \"%s\" is a result: expected one of \"pass\", \"fail\", \"softfail\", "
                       "\"neutral\", \"none\", \"policy\", \"temperror\", \"permerror\", found \"%.*s\"",
                       c->fact->name, (int)(c->len > 40 ? 40 : c->len), c->str ? c->str : "");
        else if (c->op == COND_EQ || c->op == COND_NE)
            normalise_constant(c, diag);
        break;
    default:
        break;
    }
}

static int tag_index(const struct ruleset *rs, const char *name)
{
    for (unsigned i = 0; i < rs->ntags; i++)
        if (strcmp(rs->tags[i], name) == 0)
            return (int)i;
    return -1;
}

/* over <limit>: a declared rate limit whose key is known at this stage, counting something that exists here. */
static void check_over(struct ruleset *rs, struct cond *c, enum stage stage, struct diag *diag)
{
    struct list *l = find_list(rs, c->list_name);

    if (l == NULL || l->kind != LIST_RATELIMIT) {
        if (suggest_list(rs, c->list_name, true) != NULL)
            diag_error(diag, &c->loc, "unknown rate limit <%s>: did you mean <%s>?", c->list_name,
                       suggest_list(rs, c->list_name, true));
        else
            diag_error(diag, &c->loc, "unknown rate limit <%s>: expected the name of a 'ratelimit' declaration",
                       c->list_name);
        return;
    }
    c->list = l;
    rs->uses_state = true;
    if (l->key_fact != NULL && l->key_fact->first_stage > stage)
        diag_error(diag, &c->loc, "ratelimit <%s> counts by %s, not known yet at stage %s; it is known from stage %s on",
                   l->name, l->key_fact->name, stage_name(stage), stage_name(l->key_fact->first_stage));
    else if (l->unit == RATELIMIT_MESSAGES && stage < STAGE_MAIL)
        diag_error(diag, &c->loc, "ratelimit <%s> counts messages: expected it at stage mail or later", l->name);
    else if (l->unit == RATELIMIT_RECIPIENTS && stage < STAGE_RCPT)
        diag_error(diag, &c->loc, "ratelimit <%s> counts recipients: expected it at stage rcpt or later", l->name);
    if (l->key_fact != NULL)
        note_fact(rs, l->key_fact, stage);
}

static void check_cond(struct ruleset *rs, struct cond *c, enum stage stage, struct diag *diag)
{
    if (c == NULL)
        return;
    if (c->op == COND_TAGGED) {
        int i = tag_index(rs, c->str);
        if (i < 0)
            diag_error(diag, &c->loc, "tag \"%s\" is never set: expected a rule 'tag %s' somewhere", c->str, c->str);
        else
            c->tag_bit = 1ull << i;
        return;
    }
    if (c->op == COND_OVER) {
        check_over(rs, c, stage, diag);
        return;
    }
    if (c->op == COND_AND || c->op == COND_OR || c->op == COND_NOT) {
        check_cond(rs, c->left, stage, diag);
        check_cond(rs, c->right, stage, diag);
        return;
    }
    check_test(rs, c, stage, diag);
}

struct ref_ctx {
    struct ruleset *rs;
    const struct rule *rule;
    struct diag *diag;
};

static void want_macro(struct ruleset *rs, enum stage stage, const char *name, struct diag *diag,
                       const struct rules_loc *loc);

static void check_ref(void *ctx, const char *name, size_t len)
{
    struct ref_ctx *rc = ctx;
    const struct fact_def *f = resolve_fact(rc->rs, name, len, rc->rule->stage, &rc->rule->reply.loc, rc->diag);

    if (f != NULL && f->macro != NULL)
        want_macro(rc->rs, rc->rule->stage, f->macro, rc->diag, &rc->rule->reply.loc);
}

/* A string as the lexer reads it back: quotes and backslashes escaped. */
static void print_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void print_fact(FILE *f, const struct cond *c)
{
    if (strncmp(c->fact_name, "macro:", 6) == 0) {
        fputs("macro ", f);
        print_string(f, c->fact_name + 6);
    } else {
        fputs(c->fact_name, f);
    }
}

static void print_cond(FILE *f, const struct cond *c, bool top)
{
    switch (c->op) {
    case COND_AND:
    case COND_OR:
        if (!top)
            fputc('(', f);
        print_cond(f, c->left, false);
        fputs(c->op == COND_AND ? " and " : " or ", f);
        print_cond(f, c->right, false);
        if (!top)
            fputc(')', f);
        break;
    case COND_NOT:
        fputs("not ", f);
        print_cond(f, c->left, false);
        break;
    case COND_BOOL:
        print_fact(f, c);
        break;
    case COND_TAGGED:
        fprintf(f, "tagged %s", c->str);
        break;
    case COND_OVER:
        fprintf(f, "over <%s>", c->list_name);
        break;
    case COND_IN:
    case COND_UNDER:
        print_fact(f, c);
        fprintf(f, " %s <%s>", c->op == COND_IN ? "in" : "under", c->list_name);
        break;
    case COND_MATCH:
    case COND_NOMATCH:
        print_fact(f, c);
        fprintf(f, " %s ", c->op == COND_MATCH ? "~" : "!~");
        print_string(f, c->str);
        break;
    case COND_EQ:
    case COND_NE:
    case COND_LT:
    case COND_LE:
    case COND_GT:
    case COND_GE: {
        static const char *const ops[] = { [COND_EQ] = "=", [COND_NE] = "!=", [COND_LT] = "<",
                                           [COND_LE] = "<=", [COND_GT] = ">", [COND_GE] = ">=" };
        print_fact(f, c);
        fprintf(f, " %s ", ops[c->op]);
        if (c->numeric)
            fprintf(f, "%ld", c->num);
        else
            print_string(f, c->str);
        break;
    }
    }
}

static void make_text(struct rule *r)
{
    size_t size;
    FILE *f = open_memstream(&r->text, &size);

    snprintf(r->ref, sizeof r->ref, "%s%s%s%s", r->where, r->label ? "[" : "", r->label ? r->label : "",
             r->label ? "]" : "");
    if (f == NULL)
        return;
    if (r->label != NULL)
        fprintf(f, "[%s] ", r->label);
    if (r->warn)
        fputs("warn ", f);
    if (r->off)
        fputs("off ", f);
    fputs(action_name(r->action), f);
    if (r->unchecked)
        fputs(" unchecked", f);
    if (r->arg != NULL) {
        fputc(' ', f);
        if (r->action == ACTION_TAG)
            fputs(r->arg, f);
        else
            print_string(f, r->arg);
    }
    if (action_is_effect(r->action) && r->reply.text != NULL) {
        fputc(' ', f);
        print_string(f, r->reply.text);
    }
    if (r->has_reply) {
        char *lines = strdup(r->reply.text), *save = NULL;
        fprintf(f, " %s %s", r->reply.code, r->reply.xcode);
        for (char *l = lines ? strtok_r(lines, "\n", &save) : NULL; l != NULL; l = strtok_r(NULL, "\n", &save)) {
            fputc(' ', f);
            print_string(f, l);
        }
        free(lines);
    }
    if (r->cond != NULL) {
        fputs(" if ", f);
        print_cond(f, r->cond, true);
    }
    fputc(';', f);
    fclose(f);
}

/* Against the rules before r only, so a reuse is reported once, at the reuse. */
static void check_label(const struct ruleset *rs, const struct rule *r, struct diag *diag)
{
    for (int s = 0; s <= (int)r->stage; s++)
        for (const struct rule *o = rs->stages[s]; o != NULL && o != r; o = o->next)
            if (o->label != NULL && strcmp(o->label, r->label) == 0) {
                diag_error(diag, &r->loc, "label [%s] is already used by the rule at %s", r->label, o->where);
                return;
            }
}

/* RFC 5322 field name: printable ASCII but ':' and space. */
static bool header_name_ok(const char *n)
{
    if (*n == '\0' || strlen(n) > 64)
        return false;
    for (; *n != '\0'; n++)
        if (*n <= ' ' || *n >= 0x7f || *n == ':')
            return false;
    return true;
}

/*
 * Whether a condition holds only for our own clients: it requires
 * "authenticated" or the client address in a list of networks (on every
 * branch of an "or"). A "not" proves nothing.
 */
static bool cond_requires_own_client(const struct cond *c)
{
    if (c == NULL)
        return false;
    switch (c->op) {
    case COND_AND:
        return cond_requires_own_client(c->left) || cond_requires_own_client(c->right);
    case COND_OR:
        return cond_requires_own_client(c->left) && cond_requires_own_client(c->right);
    case COND_BOOL:
        return c->fact != NULL && strcmp(c->fact->name, "authenticated") == 0;
    case COND_IN:
        return c->fact != NULL && strcmp(c->fact->name, "client.address") == 0 && c->list != NULL &&
               c->list->kind == LIST_NETWORKS;
    default:
        return false;
    }
}

/* dkim-sign: at eom, with a key table; never, unwarned, for any client. */
static void compile_dkim_sign(struct ruleset *rs, struct rule *r, struct diag *diag)
{
    if (r->stage != STAGE_EOM)
        diag_error(diag, &r->loc, "dkim-sign signs the whole message: expected it at stage eom");
    if (rs->signer == NULL) {
        diag_error(diag, &r->loc, "dkim-sign needs a key table: expected 'dkim-keys file \"PATH\";' in the rule file");
        return;
    }
    if (r->arg != NULL && !dkim_signer_has_selector(rs->signer, r->arg))
        diag_error(diag, &r->reply.loc, "dkim-sign \"%s\": no line of the key table (%s:%d) has that selector",
                   r->arg, rs->keys_loc.file, rs->keys_loc.first_line);
    if (!cond_requires_own_client(r->cond))
        diag_warning(diag, &r->loc, "dkim-sign signs mail from any client here: its condition does not require "
                     "'authenticated' or 'client.address in <networks>', so mail from outside claiming our "
                     "From: domain could leave signed with our key");
    rs->signs_dkim = rs->signs_dkim || !r->off;
    rs->edits_headers = true;
}

static void compile_effect(struct ruleset *rs, struct rule *r, struct diag *diag)
{
    struct reply *t = &r->reply;

    switch (r->action) {
    case ACTION_TAG:
        if (tag_index(rs, r->arg) >= 0) {
            r->tag_bit = 1ull << tag_index(rs, r->arg);
        } else if (rs->ntags == 64) {
            diag_error(diag, &r->loc, "more than 64 tags");
        } else if ((rs->tags[rs->ntags] = strdup(r->arg)) == NULL) {
            diag_error(diag, &r->loc, "out of memory");
        } else {
            r->tag_bit = 1ull << rs->ntags++;
        }
        return;
    case ACTION_QUARANTINE:
        rs->quarantines = true;
        break;
    case ACTION_AUTH_RESULTS:
        /* It reports DKIM, known only once the body is in. */
        if (r->stage != STAGE_EOM)
            diag_error(diag, &r->loc, "authentication-results reports DKIM, known at end of message: expected it at stage eom");
        rs->adds_authres = rs->uses_dkim = rs->uses_spf = true;
        rs->edits_headers = rs->deletes_headers = true;
        return;
    case ACTION_DKIM_SIGN:
        compile_dkim_sign(rs, r, diag);
        return;
    case ACTION_RECEIVED_SPF:
        if (r->stage < STAGE_MAIL)
            diag_error(diag, &r->loc, "received-spf needs the sender: expected it at stage mail or later");
        rs->uses_spf = rs->edits_headers = true;
        return;
    case ACTION_DELETE_HEADER:
    case ACTION_CHANGE_HEADER:
        rs->deletes_headers = true;
        /* fall through */
    default:
        rs->edits_headers = true;
        if (!header_name_ok(r->arg))
            diag_error(diag, &t->loc, "expected a header name (printable, no ':' or space, at most 64 bytes), found \"%s\"",
                       r->arg);
        break;
    }
    if (t->text != NULL && reply_check_template(t, EFFECT_VALUE_MAX, diag) == 0) {
        struct ref_ctx rc = { rs, r, diag };
        reply_each_ref(t->text, check_ref, &rc);
    }
}

static void compile_stage(struct ruleset *rs, enum stage s, struct diag *diag)
{
    const struct rule *always = NULL;

    for (struct rule *r = rs->stages[s]; r != NULL; r = r->next) {
        rs->stage_mask |= STAGE_BIT(s);
        if (r->label != NULL)
            check_label(rs, r, diag);
        check_cond(rs, r->cond, s, diag);
        if (action_is_effect(r->action) && r->action != ACTION_TAG)
            compile_effect(rs, r, diag);
        if (r->has_reply && reply_check(&r->reply, r->action, diag) == 0) {
            struct ref_ctx rc = { rs, r, diag };
            reply_each_ref(r->reply.text, check_ref, &rc);
        }
        if (r->warn && (r->action == ACTION_CONTINUE || (action_is_effect(r->action) && r->action != ACTION_QUARANTINE)))
            diag_error(diag, &r->loc, WARN_GOES_WITH);
        if (r->action == ACTION_GREYLIST) {
            rs->uses_state = rs->uses_state || !r->off; /* an off line needs no store */
            if (s != STAGE_RCPT)
                diag_error(diag, &r->loc, "greylist needs the sender and the recipient: expected it at stage rcpt");
            if (r->warn)
                diag_error(diag, &r->loc, WARN_GOES_WITH);
        }
        if (r->action == ACTION_DISCARD && s < STAGE_MAIL)
            diag_error(diag, &r->loc, "discard needs a message: expected it at stage mail or later");
        dnslist_note_rule(rs, r); /* what it reads from DNS: asked when it is reached */
        if (always != NULL)
            diag_warning(diag, &r->loc, "this rule can never match: the rule at %s always decides first", always->where);
        else if (r->cond == NULL && !r->warn && !r->off && !action_is_effect(r->action))
            always = r;
        make_text(r);
    }
    if (rs->rdns_for_score && (rs->score_stages & STAGE_BIT(s)))
        rs->rdns_stages |= rs->rdns_first_stages |= STAGE_BIT(s);
}

/* A DNS list's key: the fact dnsbl.score looks up on it. */
static void compile_dnslist(struct ruleset *rs, struct list *l, struct diag *diag)
{
    const char *key = l->key ? l->key : "client.address";

    if (l->bitmask != 0 && cidr_set_count(l->nets) > 0)
        diag_error(diag, &l->loc, "dnslist <%s>: give codes or bitmask, not both", l->name);

    l->key_fact = fact_lookup(key);
    if (l->key_fact == NULL || (l->key_fact->type != FACT_IP && l->key_fact->type != FACT_DOMAIN) ||
        l->key_fact->own_stage_only) {
        diag_error(diag, &l->loc, "dnslist <%s>: expected 'checks' to name an address or domain fact "
                   "(client.address, rdns.name, helo.domain, sender.domain), found \"%s\"", l->name, key);
        l->key_fact = NULL;
    } else if (strncmp(key, "rdns.", 5) == 0) {
        /* dnsbl.score then needs reverse DNS wherever it is used: noted per stage below. */
        rs->rdns_for_score = true;
    }
}

/* A rate limit's key: any fact that names one client, user, sender or domain. */
static void compile_ratelimit(struct list *l, struct diag *diag)
{
    l->key_fact = fact_lookup(l->key);
    if (l->key_fact == NULL || l->key_fact->type == FACT_BOOL || l->key_fact->type == FACT_NUMBER ||
        l->key_fact->type == FACT_RESULT) {
        diag_error(diag, &l->loc, "ratelimit <%s>: expected 'key' to name an address, domain, address or string fact "
                   "(client.address, auth.user, sender, sender.domain, recipient.domain), found \"%s\"",
                   l->name, l->key);
        l->key_fact = NULL;
    }
}

/*
 * An accept before the recipients are known would pass every later
 * recipient unchecked, the relay check included: it must say so.
 */
static void check_accept(const struct rule *r, struct diag *diag)
{
    if (r->action != ACTION_ACCEPT || r->warn || r->unchecked || r->stage > STAGE_MAIL)
        return;
    diag_error(diag, &r->loc,
               "'accept' at %s would end every later check of the %s, the relay check of each "
               "recipient included: write 'accept unchecked' if that is what you mean, or use "
               "'continue' here and 'accept' at rcpt, where it passes one recipient",
               stage_name(r->stage), r->stage == STAGE_MAIL ? "message" : "connection");
}

void rules_compile(struct ruleset *rs, struct diag *diag)
{
    for (struct list *l = rs->lists; l != NULL; l = l->next)
        if (l->kind == LIST_DNS)
            compile_dnslist(rs, l, diag);
        else if (l->kind == LIST_RATELIMIT)
            compile_ratelimit(l, diag);
    /* Tags first: a rule may test a tag that a later stage's rule sets. */
    for (int s = 0; s < STAGE_COUNT; s++)
        for (struct rule *r = rs->stages[s]; r != NULL; r = r->next)
            if (r->action == ACTION_TAG)
                compile_effect(rs, r, diag);
    for (struct list *l = rs->lists; l != NULL; l = l->next)
        if (l->nets != NULL && cidr_set_freeze(l->nets) < 0)
            diag_error(diag, &l->loc, "list <%s>: out of memory", l->name);
    for (int s = 0; s < STAGE_COUNT; s++)
        compile_stage(rs, (enum stage)s, diag);
    for (int s = 0; s < STAGE_COUNT; s++)
        for (const struct rule *r = rs->stages[s]; r != NULL; r = r->next)
            check_accept(r, diag);
}
