/*
 * test_session.h: mxguard --test-session, the SMTP session simulator.
 */
#ifndef MXG_MILTER_TEST_SESSION_H
#define MXG_MILTER_TEST_SESSION_H

#include <stdio.h>

#include "policy/dns/dns.h"
#include "policy/auth/sendauth.h"
#include "policy/state/statecheck.h"
#include "rules/ruleset.h"

struct test_session_opts {
    const char *client_addr;
    const char *client_name;  /* NULL: "[addr]" as postfix reports unknown names */
    const char *auth_user;
    const char *const *macros;  /* NAME=VALUE */
    int nmacros;
    struct dns_resolver *resolver; /* NULL: no DNS (DNS facts read as failures) */
    int dns_budget_ms;
    const struct sendauth_config *auth; /* SPF and DKIM; checkers NULL without a resolver */
    const struct statecheck_config *state; /* greylisting and rate limits; store NULL: skipped */
    const struct clamd_config *clamd;  /* --clamd; NULL: virus.* facts read as failed scans */
};

/* Reads a dialogue from in, writes replies to out. Returns an exit status. */
int test_session_run(const struct ruleset *rs, const struct test_session_opts *o, FILE *in, FILE *out);

#endif
