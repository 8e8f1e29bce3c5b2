/*
 * fuzz_rules.c: libFuzzer harness for the rule parser and compiler.
 *
 * Rule files are hostile input as far as the loader is concerned: any
 * byte string must load or be refused with diagnostics, never crash, hang
 * or leak. A file that loads is also evaluated once at every stage, so
 * reply expansion and condition evaluation run on fuzzed rules too.
 */
#include <stddef.h>
#include <stdint.h>

#include "policy/smtp/envelope.h"
#include "rules/ruleset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void evaluate(const struct ruleset *rs)
{
    struct envelope env;
    struct ipaddr ip;
    struct verdict v;

    envelope_init(&env);
    ipaddr_parse("203.0.113.5", &ip);
    envelope_set_client(&env, "client.example", &ip);
    envelope_set_helo(&env, "helo.example");
    envelope_set_sender(&env, "<\"odd%{x}\"@Example.ORG>");
    envelope_set_rcpt(&env, "<@route.example:u%v@local.example>");
    for (int s = 0; s < STAGE_COUNT; s++)
        ruleset_eval(rs, (enum stage)s, &env, &v);
    envelope_free(&env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct diag diag;
    struct ruleset *rs;

    diag_init(&diag);
    /* A directory that does not exist: list files named relatively cannot be read. */
    rs = ruleset_load_buffer("/nonexistent/fuzz.rules", (const char *)data, size, &diag);
    if (rs != NULL) {
        evaluate(rs);
        ruleset_unref(rs);
    }
    diag_free(&diag);
    return 0;
}
