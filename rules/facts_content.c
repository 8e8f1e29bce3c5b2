/*
 * facts_content.c: the facts of what is inside the message: its MIME
 * structure, attachments, archive members, decoded body text, anomalies
 * and limits (policy/content/mime.h), and clamd's verdict.
 *
 * Known at the end of the message. Getters never allocate: the parse owns
 * every string, for the message's life.
 */
#include "rules/facts_getters.h"

#include "policy/content/clamd.h"
#include "policy/content/mime.h"

#include <string.h>

/*
 * virus.*: clamd's verdict on the message, known at its end. A scan that
 * failed (no --clamd, a refused connection, a timeout, the size limit, a
 * malformed reply) is an error with clamd { on-error tempfail; }, and with
 * on-error skip an absent fact, which matches nothing: never "clean".
 */
static enum fact_result virus_verdict(const struct envelope *env, struct fact_value *out, enum clamd_verdict *v)
{
    *v = clamd_scan_verdict(env->virus);
    out->present = *v == CLAMD_CLEAN || *v == CLAMD_FOUND;
    if (env->virus == NULL)
        return FACT_ERROR;
    return out->present || !clamd_scan_tempfail(env->virus) ? FACT_OK : FACT_ERROR;
}

enum fact_result get_virus_found(const struct envelope *env, struct fact_value *out)
{
    enum clamd_verdict v;
    enum fact_result r = virus_verdict(env, out, &v);

    out->b = v == CLAMD_FOUND;
    return r;
}

enum fact_result get_virus_name(const struct envelope *env, struct fact_value *out)
{
    enum clamd_verdict v;
    enum fact_result r = virus_verdict(env, out, &v);

    out->present = v == CLAMD_FOUND;
    out->s = out->present ? clamd_scan_name(env->virus) : "";
    out->len = strlen(out->s);
    return r;
}

/* Content facts (policy/content/mime.h), known at eom once the message was
   parsed; without a parse (no rule asked, or no message) they are absent. */
static const struct mime_facts *mime_of(const struct envelope *env)
{
    return env->mime != NULL && env->mime->parsed ? env->mime : NULL;
}

static void cstr_value(struct fact_value *out, const char *s)
{
    out->present = s != NULL && s[0] != '\0';
    out->s = s != NULL ? s : "";
    out->len = s != NULL ? strlen(s) : 0;
}

/* A multi-valued fact: value i, and the first present one as its single value. */
#define MULTI_FACT(nth, first, body)                                                             \
    enum fact_result nth(const struct envelope *env, unsigned i, struct fact_value *out)    \
    {                                                                                            \
        const struct mime_facts *m = mime_of(env);                                               \
        out->present = false;                                                                    \
        if (m == NULL)                                                                           \
            return FACT_END;                                                                     \
        body                                                                                     \
    }                                                                                            \
    enum fact_result first(const struct envelope *env, struct fact_value *out)            \
    {                                                                                            \
        enum fact_result r;                                                                      \
        for (unsigned i = 0; (r = nth(env, i, out)) == FACT_OK; i++)                             \
            if (out->present)                                                                    \
                return FACT_OK;                                                                  \
        out->present = false;                                                                    \
        return r == FACT_END ? FACT_OK : r;                                                      \
    }

MULTI_FACT(nth_attachment_name, get_attachment_name, {
    const struct mime_part *p = mime_attachment(m, i);
    if (p == NULL)
        return FACT_END;
    cstr_value(out, p->name);
    return FACT_OK;
})

MULTI_FACT(nth_attachment_ext, get_attachment_ext, {
    const struct mime_part *p = mime_attachment(m, i);
    if (p == NULL)
        return FACT_END;
    cstr_value(out, p->ext);
    return FACT_OK;
})

/* Types of every leaf part, named or not: an executable needs no name to run. */
static const struct mime_part *nth_leaf(const struct mime_facts *m, unsigned i)
{
    for (unsigned k = 0; k < m->nparts; k++)
        if (m->parts[k].leaf && i-- == 0)
            return &m->parts[k];
    return NULL;
}

MULTI_FACT(nth_attachment_type, get_attachment_type, {
    const struct mime_part *p = nth_leaf(m, i);
    if (p == NULL)
        return FACT_END;
    cstr_value(out, p->type);
    return FACT_OK;
})

MULTI_FACT(nth_detected_type, get_detected_type, {
    const struct mime_part *p = nth_leaf(m, i);
    if (p == NULL)
        return FACT_END;
    cstr_value(out, p->detected_type);
    return FACT_OK;
})

MULTI_FACT(nth_member, get_member, {
    const char *name = mime_member(m, i, NULL);
    if (name == NULL)
        return FACT_END;
    cstr_value(out, name);
    return FACT_OK;
})

/* The extension is kept per member name: lower-cased here into a
   per-message slot, so the getter stays allocation-free. */
MULTI_FACT(nth_member_ext, get_member_ext, {
    const char *name = mime_member(m, i, NULL);
    const char *dot;
    if (name == NULL)
        return FACT_END;
    dot = strrchr(name, '.');
    out->present = dot != NULL && dot[1] != '\0' && strchr(dot, '/') == NULL;
    out->s = out->present ? dot + 1 : "";
    out->len = out->present ? strlen(dot + 1) : 0;
    return FACT_OK;
})

MULTI_FACT(nth_anomaly, get_anomaly, {
    if (i >= m->nanomalies)
        return FACT_END;
    cstr_value(out, m->anomalies[i]);
    return FACT_OK;
})

enum fact_result get_attachment_count(const struct envelope *env, struct fact_value *out)
{
    const struct mime_facts *m = mime_of(env);

    out->present = m != NULL;
    out->n = m != NULL ? (long)mime_attachment_count(m) : 0;
    return FACT_OK;
}

enum fact_result get_type_mismatch(const struct envelope *env, struct fact_value *out)
{
    const struct mime_facts *m = mime_of(env);

    out->present = false;
    out->b = false;
    for (unsigned k = 0; m != NULL && k < m->nparts; k++) {
        out->present = out->present || m->parts[k].detected_type[0] != '\0';
        out->b = out->b || m->parts[k].type_mismatch;
    }
    return FACT_OK;
}

enum fact_result get_archive_encrypted(const struct envelope *env, struct fact_value *out)
{
    const struct mime_facts *m = mime_of(env);

    out->present = false;
    out->b = false;
    for (unsigned k = 0; m != NULL && k < m->nparts; k++) {
        out->present = out->present || m->parts[k].nmembers > 0 || m->parts[k].encrypted;
        out->b = out->b || m->parts[k].encrypted;
    }
    return FACT_OK;
}

enum fact_result get_mime_parts(const struct envelope *env, struct fact_value *out)
{
    const struct mime_facts *m = mime_of(env);

    out->present = m != NULL;
    out->n = m != NULL ? (long)m->nparts : 0;
    return FACT_OK;
}

enum fact_result get_mime_depth(const struct envelope *env, struct fact_value *out)
{
    const struct mime_facts *m = mime_of(env);

    out->present = m != NULL;
    out->n = m != NULL ? (long)m->depth : 0;
    return FACT_OK;
}

enum fact_result get_mime_limit(const struct envelope *env, struct fact_value *out)
{
    const struct mime_facts *m = mime_of(env);

    /* Present with "" when no limit was reached: mime.limit != "" tests for any. */
    out->present = m != NULL;
    out->s = m != NULL ? m->limit : "";
    out->len = strlen(out->s);
    return FACT_OK;
}

enum fact_result get_body_text(const struct envelope *env, struct fact_value *out)
{
    const struct mime_facts *m = mime_of(env);

    out->present = m != NULL;
    out->s = m != NULL && m->text != NULL ? m->text : "";
    out->len = m != NULL ? m->text_len : 0;
    return FACT_OK;
}
