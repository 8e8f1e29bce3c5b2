/*
 * verdict_map.h: from the engine's verdict to what libmilter sends.
 */
#ifndef MXG_MILTER_VERDICT_MAP_H
#define MXG_MILTER_VERDICT_MAP_H

#include <libmilter/mfapi.h>

#include "milter/session.h"
#include "rules/ruleset.h"

/*
 * Set the reply (if any), log the decision, return the SMFIS_* code.
 * can_reply is false at connect, where libmilter refuses smfi_setreply.
 */
sfsistat verdict_apply(SMFICTX *ctx, struct session *s, enum stage stage,
                       const struct verdict *v, bool can_reply);

/* The answer to an internal error: 451 4.3.0, never accept. */
sfsistat verdict_internal_error(SMFICTX *ctx, struct session *s, enum stage stage,
                                const char *what, bool can_reply);

/* A DNS list that did not answer, with on-error tempfail: 451 4.4.3. */
sfsistat verdict_dns_failure(SMFICTX *ctx, struct session *s, enum stage stage, bool can_reply);

/* Double every '%' (libmilter passes the text on as a format). */
void verdict_escape_percent(const char *in, char *out, size_t outsz);

#endif
