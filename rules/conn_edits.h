/*
 * conn_edits.h: what a message's header edits need (the names of its
 * headers, for delete-header) and the list of edits made at its end.
 * For conn.c only; drivers read struct conn_edit (rules/conn.h).
 */
#ifndef MXG_RULES_CONN_EDITS_H
#define MXG_RULES_CONN_EDITS_H

#include "policy/auth/authres.h"
#include "policy/auth/dkim_sign.h"
#include "rules/conn.h"

#define CONN_HEADERS_MAX 2000 /* headers counted per message */

struct conn_headers {
    char **names;
    size_t n;
};

/* Remember a header's name. 0, or -1 out of memory. */
int conn_headers_note(struct conn_headers *h, const char *name);
/* How many headers of this name the message has (case-insensitive). */
unsigned conn_headers_count(const struct conn_headers *h, const char *name);
void conn_headers_clear(struct conn_headers *h);

struct conn_edits {
    /* the effects, the removal of forged headers, and the DKIM signatures past the first */
    struct conn_edit list[FLOW_EFFECTS_MAX + 1 + DKIM_SIGN_MAX];
    size_t n;
    char authres[AUTHRES_VALUE_MAX];   /* our Authentication-Results value, made once */
    char received_spf[AUTHRES_VALUE_MAX];
};

/*
 * The edits for a message that is let through: forged Authentication-
 * Results removed first, then the rules' effects in the order they were
 * asked for. 0, or -1 with *why_r when a header cannot be made (the
 * message is then tempfailed: some forged header would stay, or ours
 * would be missing).
 */
int conn_edits_build(struct conn_edits *e, const struct envelope *env, const struct ruleset *rs,
                     const struct flow *f, const struct conn_headers *h, const char **why_r);
void conn_edits_clear(struct conn_edits *e);

#endif
