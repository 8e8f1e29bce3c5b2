/*
 * facts_auth.c: the facts of sender authentication (SPF, DKIM, DMARC) and
 * of the state store (greylisting), read from the session's caches.
 *
 * Each check runs on first use (policy/auth/sendauth.c), so a rule that
 * decides before any of these facts is asked costs no DNS. Getters never
 * allocate: the outcomes own their text.
 */
#include "rules/facts_getters.h"

#include "policy/auth/sendauth.h"
#include "policy/state/statecheck.h"

#include <string.h>

/* A NUL-terminated text fact: present when not empty. */
static void text_value(struct fact_value *out, const char *s)
{
    out->present = s[0] != '\0';
    out->s = s;
    out->len = strlen(s);
}

/* SPF, evaluated on first use (policy/auth/sendauth.c): a trusted client that a
   rule exempts before any SPF condition costs no DNS. */
#define SPF_FACT(fn, id, field)                                                    \
    enum fact_result fn(const struct envelope *env, struct fact_value *out) \
    {                                                                              \
        text_value(out, sendauth_spf(env->auth, env, id)->field);                    \
        return FACT_OK;                                                            \
    }

static const char *spf_result_word(const struct envelope *env, enum spf_identity id)
{
    return auth_result_name(sendauth_spf(env->auth, env, id)->result);
}

enum fact_result get_spf_result(const struct envelope *env, struct fact_value *out)
{
    text_value(out, spf_result_word(env, SPF_ID_MAILFROM));
    return FACT_OK;
}

enum fact_result get_spf_helo_result(const struct envelope *env, struct fact_value *out)
{
    text_value(out, spf_result_word(env, SPF_ID_HELO));
    return FACT_OK;
}

SPF_FACT(get_spf_domain, SPF_ID_MAILFROM, domain)
SPF_FACT(get_spf_explanation, SPF_ID_MAILFROM, explanation)

/* DKIM: the signature that speaks for the message is the first that
   passed, else the first evaluated. NULL without one. */
static const struct dkim_sig_outcome *dkim_sig(const struct envelope *env)
{
    const struct dkim_outcome *d = sendauth_dkim(env->auth);

    for (unsigned i = 0; i < d->nevaluated && i < DKIM_SIGS_MAX; i++)
        if (d->sig[i].result == AUTH_PASS)
            return &d->sig[i];
    return d->nevaluated > 0 ? &d->sig[0] : NULL;
}

enum fact_result get_dkim_result(const struct envelope *env, struct fact_value *out)
{
    text_value(out, auth_result_name(sendauth_dkim(env->auth)->result));
    return FACT_OK;
}

#define DKIM_TEXT(fn, field)                                                       \
    enum fact_result fn(const struct envelope *env, struct fact_value *out) \
    {                                                                              \
        const struct dkim_sig_outcome *s = dkim_sig(env);                          \
        text_value(out, s != NULL ? s->field : "");                                  \
        return FACT_OK;                                                            \
    }

DKIM_TEXT(get_dkim_domain, domain)
DKIM_TEXT(get_dkim_selector, selector)
DKIM_TEXT(get_dkim_algorithm, algorithm)

enum fact_result get_dkim_key_bits(const struct envelope *env, struct fact_value *out)
{
    const struct dkim_sig_outcome *s = dkim_sig(env);

    out->present = s != NULL && s->key_bits > 0;
    out->n = s != NULL ? (long)s->key_bits : 0;
    return FACT_OK;
}

enum fact_result get_dkim_signatures(const struct envelope *env, struct fact_value *out)
{
    out->present = true;
    out->n = (long)sendauth_dkim(env->auth)->nsigs;
    return FACT_OK;
}

enum fact_result get_dkim_passed(const struct envelope *env, struct fact_value *out)
{
    const struct dkim_outcome *d = sendauth_dkim(env->auth);

    out->present = true;
    out->n = 0;
    for (unsigned i = 0; i < d->nevaluated && i < DKIM_SIGS_MAX; i++)
        out->n += d->sig[i].result == AUTH_PASS;
    return FACT_OK;
}

/* DMARC, evaluated on first use (SPF and DKIM first, if they were not). */
#define DMARC_TEXT(fn, expr)                                                       \
    enum fact_result fn(const struct envelope *env, struct fact_value *out) \
    {                                                                              \
        const struct dmarc_outcome *d = sendauth_dmarc(env->auth, env);            \
        text_value(out, (expr));                                                   \
        return FACT_OK;                                                            \
    }

DMARC_TEXT(get_dmarc_result, auth_result_name(d->result))
DMARC_TEXT(get_dmarc_policy, dmarc_disposition_name(d->policy))
DMARC_TEXT(get_dmarc_published, d->policy_tag[0] ? dmarc_disposition_name(d->published) : "")
DMARC_TEXT(get_dmarc_from_domain, d->from_domain)
DMARC_TEXT(get_dmarc_org_domain, d->org_domain)
DMARC_TEXT(get_dmarc_from_problem, dmarc_from_problem_text(d->from_problem))

enum fact_result get_dmarc_spf_aligned(const struct envelope *env, struct fact_value *out)
{
    out->present = true;
    out->b = sendauth_dmarc(env->auth, env)->spf_aligned;
    return FACT_OK;
}

enum fact_result get_dmarc_dkim_aligned(const struct envelope *env, struct fact_value *out)
{
    out->present = true;
    out->b = sendauth_dmarc(env->auth, env)->dkim_aligned;
    return FACT_OK;
}

enum fact_result get_greylist_wait(const struct envelope *env, struct fact_value *out)
{
    const struct greylist_outcome *o = statecheck_last_greylist(env->state);

    out->present = o != NULL && o->verdict == GREYLIST_TEMPFAIL;
    out->n = o != NULL ? o->seconds_left : 0;
    return FACT_OK;
}
