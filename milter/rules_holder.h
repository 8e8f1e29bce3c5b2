/*
 * rules_holder.h: the rule set new sessions start with, and its reload.
 */
#ifndef MXG_MILTER_RULES_HOLDER_H
#define MXG_MILTER_RULES_HOLDER_H

#include "rules/ruleset.h"

/* Takes over the caller's reference to rs; path is what reloads read. */
void rules_holder_init(struct ruleset *rs, const char *path);

/* A new reference to the current rule set; never NULL after init. */
struct ruleset *rules_holder_acquire(void);

/*
 * Parse and check the rule file completely; swap it in only if it is
 * valid. A broken file is logged with file:line:col and the old rules go
 * on serving. 0 when swapped, -1 when kept.
 */
int rules_holder_reload(const char *why);

/* Start the thread that reloads on SIGUSR1 (block SIGUSR1 first). */
int rules_holder_start_signal_thread(void);

void rules_holder_shutdown(void);

#endif
