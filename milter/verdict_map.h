/*
 * verdict_map.h: from the engine's verdict to what libmilter sends.
 */
#ifndef MXG_MILTER_VERDICT_MAP_H
#define MXG_MILTER_VERDICT_MAP_H

#include <libmilter/mfapi.h>

#include "milter/session.h"
#include "rules/conn.h"
#include "rules/ruleset.h"

/*
 * Log the engine's decision, set its reply (can_reply is false at connect,
 * where libmilter refuses smfi_setreply) and return the SMFIS_* code. s is
 * NULL when no session could be made (the decision is then a failure).
 */
sfsistat verdict_answer(SMFICTX *ctx, const struct session *s, enum stage stage,
                        const struct decision *d, bool can_reply);

/* Double every '%' (libmilter passes the text on as a format). */
void verdict_escape_percent(const char *in, char *out, size_t outsz);

#endif
