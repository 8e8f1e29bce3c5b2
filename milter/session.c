/*
 * session.c: create and free the daemon's per-connection state.
 */
#include "milter/session.h"

#include "milter/log.h"
#include "milter/record_text.h"
#include "milter/records.h"
#include "milter/metrics.h"
#include "policy/state/statecheck.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_ulong counter;
static struct conn_services services;
static atomic_bool warned_no_store;

void session_set_services(const struct conn_services *svc)
{
    services = *svc;
}

struct session *session_new(struct ruleset *rules)
{
    struct session *s = calloc(1, sizeof *s);
    const char *error;

    if (s == NULL) {
        ruleset_unref(rules);
        return NULL;
    }
    if (ruleset_uses_state(rules) && (services.state == NULL || services.state->store == NULL) &&
        !atomic_exchange(&warned_no_store, true))
        log_warnx("the rules greylist or test rate limits, but no state store is open (they were "
                  "loaded by a reload): those checks are skipped until mxguard is restarted");
    if ((s->conn = conn_new(rules, &services, &error)) == NULL) {
        log_warnx("cannot start a session: %s", error);
        free(s);
        return NULL;
    }
    /* Unique across restarts of the filter process: pid and a counter. */
    snprintf(s->id, sizeof s->id, "%lx.%lx", (unsigned long)getpid(),
             atomic_fetch_add(&counter, 1) + 1);
    snprintf(s->client, sizeof s->client, "unknown");
    conn_set_record_sink(s->conn, records_write, s);
    metrics_session_open();
    return s;
}

void session_free(struct session *s)
{
    if (s == NULL)
        return;
    metrics_session_close();
    conn_free(s->conn);
    free(s);
}

const struct ruleset *session_rules(const struct session *s)
{
    return conn_rules(s->conn);
}

void session_new_message(struct session *s)
{
    s->queue_id[0] = '\0';
    s->qid_raw[0] = '\0';
}

void session_set_client_text(struct session *s)
{
    char text[RECORD_CLIENT_MAX];

    /* postfix names a client without reverse DNS "[address]": log it the
       way postfix does, unknown[address]. */
    record_client_text(conn_envelope(s->conn), text);
    /* The name is the MTA's, from the client's reverse DNS: data, never format. */
    logfmt_str(text, s->client, sizeof s->client);
}
