/*
 * session.c: create and free per-connection state.
 */
#include "milter/session.h"

#include "milter/log.h"
#include "policy/dns/dnscache.h"
#include "policy/auth/sendauth.h"
#include "policy/state/statecheck.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static atomic_ulong counter;
static struct dns_resolver *resolver;
static int dns_budget_ms;

static const struct sendauth_config *auth_cfg;
static const struct statecheck_config *state_cfg;
static atomic_bool warned_no_store;

void session_set_state(const struct statecheck_config *cfg)
{
    state_cfg = cfg;
}

void session_set_auth(const struct sendauth_config *cfg)
{
    auth_cfg = cfg;
}

void session_set_dns(struct dns_resolver *r, int budget_ms)
{
    resolver = r;
    dns_budget_ms = budget_ms;
}

struct session *session_new(struct ruleset *rules)
{
    struct session *s = calloc(1, sizeof *s);

    if (s == NULL) {
        ruleset_unref(rules);
        return NULL;
    }
    envelope_init(&s->env);
    flow_init(&s->flow);
    if (resolver != NULL && (s->env.dns = dns_cache_new(resolver, dns_budget_ms)) == NULL) {
        ruleset_unref(rules);
        free(s);
        return NULL;
    }
    /* Only for rules that use it: its state is a few kilobytes a session. */
    if (auth_cfg != NULL && (ruleset_uses_spf(rules) || ruleset_uses_dkim(rules)) &&
        (s->env.auth = sendauth_new(auth_cfg, ruleset_uses_dkim(rules))) == NULL) {
        dns_cache_free(s->env.dns);
        ruleset_unref(rules);
        free(s);
        return NULL;
    }
    if (ruleset_uses_state(rules) && (state_cfg == NULL || state_cfg->store == NULL) &&
        !atomic_exchange(&warned_no_store, true))
        log_warnx("the rules greylist or test rate limits, but no state store is open (they were "
                  "loaded by a reload): those checks are skipped until mxguard is restarted");
    if (state_cfg != NULL && ruleset_uses_state(rules) &&
        (s->env.state = statecheck_new(state_cfg)) == NULL) {
        sendauth_free(s->env.auth);
        dns_cache_free(s->env.dns);
        ruleset_unref(rules);
        free(s);
        return NULL;
    }
    s->rules = rules;
    /* Unique across restarts of the filter process: pid and a counter. */
    snprintf(s->id, sizeof s->id, "%lx.%lx", (unsigned long)getpid(),
             atomic_fetch_add(&counter, 1) + 1);
    snprintf(s->client, sizeof s->client, "unknown");
    return s;
}

int session_note_header(struct session *s, const char *name)
{
    char **grown;

    if (s->nheaders >= SESSION_HEADERS_MAX)
        return 0; /* counted no further; deletes reach the first ones */
    if ((s->nheaders & (s->nheaders - 1)) == 0) { /* 0, 1, 2, 4, ...: grow */
        grown = realloc(s->header_names, (s->nheaders ? 2 * s->nheaders : 1) * sizeof *grown);
        if (grown == NULL)
            return -1;
        s->header_names = grown;
    }
    if ((s->header_names[s->nheaders] = strndup(name, ENVELOPE_HEADER_NAME_MAX)) == NULL)
        return -1;
    s->nheaders++;
    return 0;
}

unsigned session_header_occurrences(const struct session *s, const char *name)
{
    unsigned n = 0;

    for (size_t i = 0; i < s->nheaders; i++)
        n += strcasecmp(s->header_names[i], name) == 0;
    return n;
}

void session_new_message(struct session *s)
{
    for (size_t i = 0; i < s->nheaders; i++)
        free(s->header_names[i]);
    free(s->header_names);
    s->header_names = NULL;
    s->nheaders = 0;
    envelope_reset_message(&s->env);
    flow_new_message(&s->flow, &s->env);
    if (s->env.dns != NULL)
        dns_cache_new_message(s->env.dns);
    sendauth_new_message(s->env.auth);
    s->queue_id[0] = '\0';
}

void session_free(struct session *s)
{
    if (s == NULL)
        return;
    session_new_message(s);
    flow_free(&s->flow);
    dns_cache_free(s->env.dns);
    sendauth_free(s->env.auth);
    statecheck_free(s->env.state);
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
