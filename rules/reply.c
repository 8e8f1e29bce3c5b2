/*
 * reply.c: check reply templates at load time and expand them per session.
 *
 * A reply libmilter or the MTA would refuse turns silently into the MTA's
 * default action for every message the rule hits, so every template is
 * checked when the rules load. Values expanded into a reply come from
 * clients: they are reduced to printable ASCII and capped.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "rules/ast.h"

#define EXPAND_VALUE_MAX 256

void reply_each_ref(const char *text, void (*fn)(void *ctx, const char *name, size_t len), void *ctx)
{
    for (const char *p = text; *p != '\0'; p++) {
        if (p[0] == '%' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            if (end == NULL)
                return;
            fn(ctx, p + 2, (size_t)(end - p - 2));
            p = end;
        } else if (p[0] == '%' && p[1] == '%') {
            p++;
        }
    }
}

/* RFC 3463: class "." subject "." detail, subject and detail 1 to 3 digits. */
static bool xcode_valid(const char *x, char cls)
{
    int parts = 0, digits = 0;

    if (x[0] != cls || x[1] != '.')
        return false;
    for (const char *p = x + 2;; p++) {
        if (isdigit((unsigned char)*p)) {
            if (++digits > 3)
                return false;
            continue;
        }
        if ((*p != '.' && *p != '\0') || digits == 0)
            return false;
        parts++;
        digits = 0;
        if (*p == '\0')
            return parts == 2;
    }
}

static int check_percent(const struct reply *r, struct diag *diag)
{
    for (const char *p = r->text; *p != '\0'; p++) {
        if (*p != '%')
            continue;
        if (p[1] == '%') {
            p++;
        } else if (p[1] == '{' && strchr(p + 2, '}') != NULL) {
            p = strchr(p + 2, '}');
        } else {
            diag_error(diag, &r->loc, "reply text has a lone '%%': write %%%% for a percent sign or %%{fact} to insert a fact");
            return -1;
        }
    }
    return 0;
}

int reply_check_template(const struct reply *r, size_t max, struct diag *diag)
{
    if (strchr(r->text, '\n') != NULL || strlen(r->text) > max) {
        diag_error(diag, &r->loc, "expected one line of at most %zu bytes", max);
        return -1;
    }
    return check_percent(r, diag);
}

int reply_check(const struct reply *r, enum action a, struct diag *diag)
{
    char want = a == ACTION_REJECT ? '5' : a == ACTION_TEMPFAIL || a == ACTION_GREYLIST ? '4' : 0;
    size_t len = strlen(r->text);

    if (want == 0) {
        diag_error(diag, &r->loc, "a reply is allowed only with reject, tempfail and greylist");
        return -1;
    }
    if (r->code[0] != want || !isdigit((unsigned char)r->code[1]) || !isdigit((unsigned char)r->code[2])) {
        diag_error(diag, &r->loc, "expected a %cxx reply code for %s, found %s (libmilter ignores a mismatched code)",
                   want, action_name(a), r->code);
        return -1;
    }
    if (!xcode_valid(r->xcode, want)) {
        diag_error(diag, &r->loc, "expected an enhanced status code %c.X.Y (RFC 3463) to go with %s, found \"%s\"",
                   want, r->code, r->xcode);
        return -1;
    }
    {
        size_t lines = 1, longest = 0, cur = 0;
        for (size_t i = 0; i <= len; i++) {
            if (r->text[i] == '\n' || r->text[i] == '\0') {
                longest = cur > longest ? cur : longest;
                cur = 0;
                lines += r->text[i] == '\n';
            } else {
                cur++;
            }
        }
        if (lines > REPLY_LINES_MAX) {
            diag_error(diag, &r->loc, "reply has %zu lines; at most %d", lines, REPLY_LINES_MAX);
            return -1;
        }
        if (longest + 10 > REPLY_TEXT_MAX) {
            diag_error(diag, &r->loc, "a reply line is %zu bytes; a line holds at most %d", longest,
                       REPLY_TEXT_MAX - 10);
            return -1;
        }
        if (len + 10 * lines > REPLY_TEXT_MAX) {
            diag_error(diag, &r->loc, "the reply's lines add up to %zu bytes; at most %zu with %zu lines",
                       len, (size_t)REPLY_TEXT_MAX - 10 * lines, lines);
            return -1;
        }
    }
    return check_percent(r, diag);
}

/* Append src to out, keeping only printable ASCII, at most max bytes. */
static size_t put_clean(char *out, size_t used, size_t outsz, const char *src, size_t len, size_t max)
{
    for (size_t i = 0; i < len && i < max && used + 1 < outsz; i++) {
        unsigned char c = (unsigned char)src[i];
        out[used++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    return used;
}

static size_t put_fact(char *out, size_t used, size_t outsz, const char *name, size_t nlen,
                       const struct envelope *env, const struct verdict *vd)
{
    char key[64], buf[FACT_TEXT_MAX];
    const struct fact_def *f;
    struct fact_value v = { 0 };
    const char *text;
    size_t len;

    if (nlen >= sizeof key)
        return used;
    memcpy(key, name, nlen);
    key[nlen] = '\0';
    if ((f = fact_lookup(key)) == NULL)
        return used;
    /* A multi-valued fact the rule matched: the value that matched. */
    if (vd != NULL && vd->matched_fact != NULL && f->get_nth != NULL &&
        (vd->matched_fact == f || vd->matched_fact->multi_group == f->multi_group)) {
        if (f->get_nth(env, vd->matched_index, &v) != FACT_OK || !v.present)
            return used;
    } else if (f->get(env, &v) != FACT_OK || !v.present) {
        return used;
    }
    text = fact_value_text(f, &v, buf, &len);
    return put_clean(out, used, outsz, text, len, EXPAND_VALUE_MAX);
}

void reply_expand(const struct reply *r, const struct envelope *env, char *out, size_t outsz)
{
    reply_expand_matched(r, env, NULL, out, outsz);
}

void reply_expand_matched(const struct reply *r, const struct envelope *env, const struct verdict *vd,
                          char *out, size_t outsz)
{
    size_t used = 0;

    for (const char *p = r->text; *p != '\0' && used + 1 < outsz; p++) {
        if (p[0] == '%' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            used = put_fact(out, used, outsz, p + 2, (size_t)(end - p - 2), env, vd);
            p = end;
        } else if (p[0] == '%' && p[1] == '%') {
            out[used++] = '%';
            p++;
        } else {
            out[used++] = *p; /* '\n' here separates the lines of a multi-line reply */
        }
    }
    out[used] = '\0';
}
