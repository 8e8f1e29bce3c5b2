/*
 * session.c: create and free per-connection state.
 */
#include "milter/session.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static atomic_ulong counter;

struct session *session_new(struct ruleset *rules)
{
    struct session *s = calloc(1, sizeof *s);

    if (s == NULL) {
        ruleset_unref(rules);
        return NULL;
    }
    envelope_init(&s->env);
    flow_init(&s->flow);
    s->rules = rules;
    /* Unique across restarts of the filter process: pid and a counter. */
    snprintf(s->id, sizeof s->id, "%lx.%lx", (unsigned long)getpid(),
             atomic_fetch_add(&counter, 1) + 1);
    snprintf(s->client, sizeof s->client, "unknown");
    return s;
}

void session_free(struct session *s)
{
    if (s == NULL)
        return;
    envelope_free(&s->env);
    ruleset_unref(s->rules);
    free(s);
}

void session_set_client_text(struct session *s)
{
    char addr[IPADDR_TEXT_MAX] = "unknown";

    if (s->env.have_client_ip)
        ipaddr_format(&s->env.client_ip, addr);
    /* postfix names a client without reverse DNS "[address]": log it the
       way postfix does, unknown[address]. */
    snprintf(s->client, sizeof s->client, "%.200s[%s]",
             s->env.client_name.s && s->env.client_name.s[0] != '[' ? s->env.client_name.s : "unknown",
             addr);
}
