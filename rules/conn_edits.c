/*
 * conn_edits.c: the header edits and quarantine a message gets at its
 * end, in the order the MTA is to make them.
 *
 * Forged Authentication-Results (claiming our authserv-id) go whenever the
 * rules stamp ours, matched or not. Must never leave one in place
 * silently: too many to remove, or ours that cannot be made, fails the
 * message (the caller tempfails it).
 */
#include "rules/conn_edits.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/auth/sendauth.h"

int conn_headers_note(struct conn_headers *h, const char *name)
{
    char **grown;

    if (h->n >= CONN_HEADERS_MAX)
        return 0; /* counted no further; deletes reach the first ones */
    if ((h->n & (h->n - 1)) == 0) { /* 0, 1, 2, 4, ...: grow */
        grown = realloc(h->names, (h->n ? 2 * h->n : 1) * sizeof *grown);
        if (grown == NULL)
            return -1;
        h->names = grown;
    }
    if ((h->names[h->n] = strndup(name, ENVELOPE_HEADER_NAME_MAX)) == NULL)
        return -1;
    h->n++;
    return 0;
}

unsigned conn_headers_count(const struct conn_headers *h, const char *name)
{
    unsigned n = 0;

    for (size_t i = 0; i < h->n; i++)
        n += strcasecmp(h->names[i], name) == 0;
    return n;
}

void conn_headers_clear(struct conn_headers *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->names[i]);
    free(h->names);
    h->names = NULL;
    h->n = 0;
}

void conn_edits_clear(struct conn_edits *e)
{
    e->n = 0;
    e->authres[0] = '\0';
    e->received_spf[0] = '\0';
}

static int remove_forged(struct conn_edits *e, const struct envelope *env, const struct ruleset *rs,
                         const char **why_r)
{
    size_t n;
    bool overflow;
    const unsigned *pos;

    if (env->auth == NULL || !ruleset_adds_authres(rs))
        return 0;
    pos = sendauth_forged(env->auth, &n, &overflow);
    if (overflow) {
        *why_r = "too many forged Authentication-Results headers to remove";
        return -1; /* some would stay: better retried (and logged) than passed */
    }
    if (n > 0)
        e->list[e->n++] = (struct conn_edit){ .kind = EDIT_REMOVE_FORGED, .action = ACTION_DELETE_HEADER,
                                              .name = "Authentication-Results",
                                              .value = sendauth_authserv_id(env->auth),
                                              .positions = pos, .count = n };
    return 0;
}

/* Our trace headers go on top, where RFC 8601 and RFC 7208 want them. */
static int auth_edit(struct conn_edits *e, const struct envelope *env, const struct effect *fx,
                     struct conn_edit *out, const char **why_r)
{
    bool authres = fx->action == ACTION_AUTH_RESULTS;
    char *buf = authres ? e->authres : e->received_spf;
    int rc = 0;

    out->kind = EDIT_INSERT_TOP;
    out->name = authres ? "Authentication-Results" : "Received-SPF";
    out->value = buf;
    if (buf[0] != '\0')
        return 0; /* made once a message */
    if (env->auth == NULL)
        rc = -1;
    else if (authres)
        rc = sendauth_authres_value(env->auth, env, buf, AUTHRES_VALUE_MAX);
    else
        rc = sendauth_received_spf(env->auth, env, buf, AUTHRES_VALUE_MAX);
    if (rc < 0) {
        buf[0] = '\0';
        *why_r = authres ? "the Authentication-Results header could not be made"
                         : "the Received-SPF header could not be made";
    }
    return rc;
}

/*
 * dkim-sign: a DKIM-Signature on top for each key line of the From:
 * domain (with the rule's selector), signed over the message as it came;
 * none when it cannot be signed (the record says why).
 */
static int sign_edits(struct conn_edits *e, const struct envelope *env, const struct effect *fx,
                      const char **why_r)
{
    const char *values[DKIM_SIGN_MAX];
    size_t n = 0;

    if (env->auth == NULL) {
        *why_r = "DKIM signing is not set up";
        return -1;
    }
    if (sendauth_dkim_sign(env->auth, fx->rule != NULL ? rule_sign_selector(fx->rule) : NULL, values, &n,
                           why_r) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        e->list[e->n++] = (struct conn_edit){ .kind = EDIT_INSERT_TOP, .action = ACTION_DKIM_SIGN,
                                              .name = "DKIM-Signature", .value = values[i], .rule = fx->rule };
    return 0;
}

static int effect_edit(struct conn_edits *e, const struct envelope *env, const struct effect *fx,
                       const struct conn_headers *h, struct conn_edit *out, const char **why_r)
{
    *out = (struct conn_edit){ .action = fx->action, .name = fx->name, .value = fx->value, .rule = fx->rule };
    switch (fx->action) {
    case ACTION_ADD_HEADER:
        out->kind = EDIT_ADD;
        return 0;
    case ACTION_CHANGE_HEADER:
        out->kind = EDIT_CHANGE;
        return 0;
    case ACTION_DELETE_HEADER:
        out->kind = EDIT_DELETE;
        out->count = conn_headers_count(h, fx->name);
        return 0;
    case ACTION_QUARANTINE:
        out->kind = EDIT_QUARANTINE;
        return 0;
    case ACTION_AUTH_RESULTS:
    case ACTION_RECEIVED_SPF:
        return auth_edit(e, env, fx, out, why_r);
    default:
        *why_r = "an effect of an unknown kind";
        return -1;
    }
}

int conn_edits_build(struct conn_edits *e, const struct envelope *env, const struct ruleset *rs,
                     const struct flow *f, const struct conn_headers *h, const char **why_r)
{
    conn_edits_clear(e);
    if (remove_forged(e, env, rs, why_r) < 0)
        return -1;
    for (unsigned i = 0; i < f->neffects; i++) {
        if (f->effects[i].action == ACTION_TAG)
            continue; /* tags only mark the session */
        if (f->effects[i].action == ACTION_DKIM_SIGN) {
            if (sign_edits(e, env, &f->effects[i], why_r) < 0)
                return -1;
            continue;
        }
        if (effect_edit(e, env, &f->effects[i], h, &e->list[e->n], why_r) < 0)
            return -1;
        e->n++;
    }
    return 0;
}
