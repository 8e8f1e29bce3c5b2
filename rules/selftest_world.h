/*
 * selftest_world.h: the world a rule file's test case runs in: its own DNS
 * (only the records the test states), SPF and DKIM checkers asking it, a
 * scratch store and a clock the test moves. Nothing of it reaches the
 * network or the daemon's store.
 */
#ifndef MXG_RULES_SELFTEST_WORLD_H
#define MXG_RULES_SELFTEST_WORLD_H

#include <time.h>

#include "policy/auth/sendauth.h"
#include "policy/dns/dns.h"
#include "policy/state/statecheck.h"
#include "rules/ast.h"
#include "rules/conn.h"

#define TEST_AUTHSERV_ID "mxguard.test" /* the authserv-id of tests that name none */
#define TEST_CLOCK_START 1767225600     /* 2026-01-01T00:00:00Z: the same every run */

struct test_world {
    struct dns_resolver *resolver;
    struct sendauth_config auth;
    struct statecheck_config state;
    time_t clock;
    struct conn_services svc;
};

/* Make the world a test states. 0, or -1 with the reason reported in diag. */
int test_world_open(struct test_world *w, const struct ruleset *rs, const struct rule_test *t, struct diag *diag);
void test_world_close(struct test_world *w);

/* The test's macros ("macro NAME VALUE" steps), for conn_set_macros; ctx is the test. */
const char *test_world_macro(void *ctx, const char *name);

#endif
