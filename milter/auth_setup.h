/*
 * auth_setup.h: the process-wide SPF and DKIM checkers, made from the
 * options once a resolver exists (after any fork: they ask through it).
 */
#ifndef MXG_MILTER_AUTH_SETUP_H
#define MXG_MILTER_AUTH_SETUP_H

#include "milter/options.h"
#include "policy/auth/sendauth.h"
#include "rules/ruleset.h"

/*
 * Fill cfg. Without a resolver the checkers stay NULL and SPF and DKIM
 * read as temperror. Returns 0, or -1 with *error_r set.
 */
int auth_setup(const struct options *o, struct dns_resolver *r, struct sendauth_config *cfg,
               const char **error_r);
void auth_teardown(struct sendauth_config *cfg);

#endif
