/*
 * state_setup.h: the filter process's state store (greylisting, rate
 * limits), from the options, with a background sweep of old entries.
 */
#ifndef MXG_MILTER_STATE_SETUP_H
#define MXG_MILTER_STATE_SETUP_H

#include <stdbool.h>

#include "milter/options.h"
#include "policy/state/statecheck.h"

/*
 * Open the store when the rules need it (or --store was given) and fill
 * cfg; cfg->store stays NULL otherwise. Returns 0, or -1 with *error_r.
 */
int state_setup(const struct options *o, bool needed, struct statecheck_config *cfg, const char **error_r);

/* The store configuration the options describe (for -n and the tests). 0 or -1 with *error_r. */
int state_config(const struct options *o, struct store_config *sc, const char **error_r);

/* Open the store the options describe, without a sweep (the session
   simulator's). 0, or -1 with *error_r. */
int state_open(const struct options *o, struct store **store_r, const char **error_r);

#endif
