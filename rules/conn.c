/*
 * conn.c: one SMTP connection through the rule engine, for every driver.
 *
 * Records what the MTA said, evaluates the stage through flow.c and
 * resolves the verdict into what the MTA is told. Must never let a failure
 * through: a DNS list that did not answer (with on-error tempfail) and any
 * internal error become tempfails with the fixed replies below, and an
 * "accept" answers accept only where it cannot pass a recipient unchecked.
 */
#include "rules/conn.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/auth/sendauth.h"
#include "policy/content/clamd.h"
#include "policy/content/mime.h"
#include "policy/monotime.h"
#include "policy/dns/dnscache.h"
#include "policy/state/statecheck.h"
#include "rules/conn_edits.h"
#include "rules/conn_record.h"

struct conn {
    struct envelope env;
    struct ruleset *rules;    /* the rules this connection started with */
    struct flow flow;
    bool failed;              /* recording a fact failed: the next answered step tempfails */
    bool explain;             /* fill decision.tested */
    bool header_leadspace;    /* header values carry the whitespace after the colon */
    const char *failed_why;
    struct conn_headers headers; /* names of this message's headers, for delete-header */
    struct conn_edits edits;     /* built at end of message */
    struct conn_record record;   /* what happened, for the driver's sink */
};

static void set_reply(struct verdict *v, const char *code, const char *xcode, const char *text)
{
    v->has_reply = true;
    memcpy(v->code, code, sizeof v->code);
    snprintf(v->xcode, sizeof v->xcode, "%s", xcode);
    snprintf(v->text, sizeof v->text, "%s", text);
}

/* A tempfail no rule asked for: the one place these replies are written. */
static void decide_failure(struct decision *d, enum conn_failure f, const char *why)
{
    memset(&d->v, 0, sizeof d->v);
    d->v.action = ACTION_TEMPFAIL;
    if (f == CONN_DNS_FAILURE)
        set_reply(&d->v, "451", "4.4.3", "Temporary DNS failure, please try again later");
    else
        set_reply(&d->v, "451", "4.3.0", "Temporary local problem, please try again later");
    d->origin = FLOW_EVALUATED;
    d->failure = f;
    d->why = why;
    d->answer = ACTION_TEMPFAIL;
    d->rcpt_accepted = false;
    d->tested[0] = '\0';
}

void decision_internal_error(struct decision *d, const char *why)
{
    decide_failure(d, CONN_INTERNAL_ERROR, why);
}

/*
 * What the MTA hears. An accept at rcpt passes this recipient only
 * ("accept unchecked" the whole message, flow.c); and before the end of
 * the message an accept must not stop the MTA from calling us when a
 * forged Authentication-Results header is still to be removed.
 */
static enum action answer_for(const struct conn *c, enum stage stage, const struct decision *d)
{
    const struct verdict *v = &d->v;

    if (d->origin == FLOW_SKIPPED)
        return ACTION_CONTINUE;
    switch (v->action) {
    case ACTION_ACCEPT:
        if (stage == STAGE_RCPT && !rule_unchecked(v->rule))
            return ACTION_CONTINUE;
        if (stage != STAGE_EOM && ruleset_adds_authres(c->rules))
            return ACTION_CONTINUE;
        return ACTION_ACCEPT;
    case ACTION_REJECT:
    case ACTION_TEMPFAIL:
    case ACTION_DISCARD:
        return v->action;
    default:
        return ACTION_CONTINUE;
    }
}

/*
 * Evaluate stage after its facts were recorded (recorded false: recording
 * failed). A step the MTA does not wait for keeps a failure for the next.
 */
static void evaluate(struct conn *c, enum stage stage, bool recorded, bool answered, struct decision *d)
{
    int rc;

    d->failure = CONN_OK;
    d->why = NULL;
    d->tested[0] = '\0';
    d->rcpt_accepted = false;
    if (!recorded && !c->failed) {
        c->failed = true;
        c->failed_why = "out of memory";
    }
    if (c->failed) {
        if (!answered) {
            memset(&d->v, 0, sizeof d->v);
            d->origin = FLOW_SKIPPED;
            d->answer = ACTION_CONTINUE;
            return;
        }
        c->failed = false;
        decide_failure(d, CONN_INTERNAL_ERROR, c->failed_why);
        return;
    }
    if (!(ruleset_stages(c->rules) & STAGE_BIT(stage)) && !c->flow.conn_refused && !c->flow.conn_accepted &&
        !(stage >= STAGE_MAIL && c->flow.msg_accepted)) {
        /* No rule here (a step taken only for its facts, such as every
           header for DKIM): the default, without a pass over no rules. */
        d->v.action = ACTION_NONE;
        d->v.rule = NULL;
        d->v.has_reply = d->v.dns_failure = false;
        d->v.nwarned = d->v.neffects = d->v.effects_dropped = 0;
        d->v.new_tags = 0;
        d->origin = FLOW_EVALUATED;
        d->answer = ACTION_CONTINUE;
        return;
    }
    rc = flow_eval(&c->flow, c->rules, stage, stage != STAGE_CONNECT, &c->env, &d->v, &d->origin);
    if (rc == FLOW_DNS_FAILURE) {
        decide_failure(d, CONN_DNS_FAILURE, "a DNS list did not answer (on-error tempfail)");
        return;
    }
    if (rc != 0) {
        decide_failure(d, CONN_INTERNAL_ERROR, "rule evaluation failed");
        return;
    }
    d->answer = answer_for(c, stage, d);
    /* Now, while the facts are those the rule saw (a recipient is not counted yet). */
    if (c->explain && d->origin == FLOW_EVALUATED && d->v.rule != NULL)
        rule_explain(d->v.rule, &c->env, d->tested, sizeof d->tested);
}

/* The services a rule set needs, from those the process has. */
static int conn_setup(struct conn *c, const struct conn_services *svc, const char **error_r)
{
    const struct ruleset *rs = c->rules;

    *error_r = "out of memory";
    if (svc->resolver != NULL && (c->env.dns = dns_cache_new(svc->resolver, svc->dns_budget_ms)) == NULL)
        return -1;
    /* Only for rules that use it: its state is a few kilobytes a session. */
    if (svc->auth != NULL && (ruleset_uses_spf(rs) || ruleset_uses_dkim(rs) || ruleset_signs_dkim(rs)) &&
        (c->env.auth = sendauth_new(svc->auth, ruleset_uses_dkim(rs))) == NULL)
        return -1;
    if (c->env.auth != NULL && ruleset_signs_dkim(rs))
        sendauth_set_signer(c->env.auth, ruleset_dkim_signer(rs));
    /* A store is handed over only where the rules need one (or a test
       enables an "off" greylisting line). */
    if (svc->state != NULL && svc->state->store != NULL && (c->env.state = statecheck_new(svc->state)) == NULL)
        return -1;
    /* A clamd scan only where a rule reads virus.*; without --clamd it reports that. */
    if (ruleset_uses_virus(rs) && (c->env.virus = clamd_scan_new(svc->clamd, ruleset_virus_tempfail(rs))) == NULL)
        return -1;
    /* The message is kept and parsed only for rules that look inside it. */
    if (ruleset_uses_mime(rs)) {
        mime_global_init();
        if ((c->env.mime = malloc(sizeof *c->env.mime)) == NULL)
            return -1;
        mime_init(c->env.mime);
    }
    return 0;
}

struct conn *conn_new(struct ruleset *rules, const struct conn_services *svc, const char **error_r)
{
    struct conn *c = calloc(1, sizeof *c);

    if (c == NULL) {
        *error_r = "out of memory";
        ruleset_unref(rules);
        return NULL;
    }
    envelope_init(&c->env);
    flow_init(&c->flow);
    c->rules = rules;
    if (conn_setup(c, svc, error_r) < 0) {
        conn_free(c);
        return NULL;
    }
    conn_record_begin(&c->record, RECORD_CONNECTION, &c->env);
    return c;
}

void conn_set_record_sink(struct conn *c, record_sink_fn *fn, void *ctx)
{
    c->record.sink = fn;
    c->record.sink_ctx = ctx;
}

/* A step ended: its time and decision go to the record. */
static void recorded(struct conn *c, enum stage stage, long long t0, const struct decision *d)
{
    conn_record_time(&c->record, stage, monotime_us() - t0);
    if (d != NULL)
        conn_record_decision(&c->record, stage, d, &c->env);
}

/* Forget the message; the connection's facts and verdicts stay. */
static void new_message(struct conn *c)
{
    conn_headers_clear(&c->headers);
    conn_edits_clear(&c->edits);
    envelope_reset_message(&c->env);
    flow_new_message(&c->flow, &c->env);
    if (c->env.dns != NULL)
        dns_cache_new_message(c->env.dns);
    sendauth_new_message(c->env.auth);
    clamd_scan_reset(c->env.virus);
    if (c->env.mime != NULL)
        mime_reset(c->env.mime); /* the spool's memory freed, its file closed (and gone) */
}

/* Spooling failed (the disk, memory): the message tempfails at its end. */
static void content_failed(struct conn *c, const char *why)
{
    if (!c->failed) {
        c->failed = true;
        c->failed_why = why;
    }
}

void conn_free(struct conn *c)
{
    if (c == NULL)
        return;
    conn_record_emit(&c->record, &c->env, c->rules);
    new_message(c);
    flow_free(&c->flow);
    dns_cache_free(c->env.dns);
    sendauth_free(c->env.auth);
    statecheck_free(c->env.state);
    clamd_scan_free(c->env.virus);
    free(c->env.mime);
    envelope_free(&c->env);
    ruleset_unref(c->rules);
    free(c);
}

void conn_set_explain(struct conn *c, bool on)
{
    c->explain = on;
}

void conn_set_macros(struct conn *c, envelope_macro_fn *fn, void *ctx)
{
    c->env.macro = fn;
    c->env.macro_ctx = ctx;
}

void conn_connect(struct conn *c, const char *name, const struct ipaddr *ip, struct decision *d)
{
    long long t0 = monotime_us();

    /* Connect never carries a reply: the MTA greets, later steps answer. */
    evaluate(c, STAGE_CONNECT, envelope_set_client(&c->env, name, ip) == 0, true, d);
    recorded(c, STAGE_CONNECT, t0, d);
}

void conn_helo(struct conn *c, const char *helo, bool answered, struct decision *d)
{
    long long t0 = monotime_us();

    evaluate(c, STAGE_HELO, envelope_set_helo(&c->env, helo) == 0, answered, d);
    recorded(c, STAGE_HELO, t0, d);
}

void conn_mail(struct conn *c, const char *path, char *const *params, const char *auth_user,
               bool answered, struct decision *d)
{
    long long t0;
    bool ok;

    if (c->record.r.kind == RECORD_MESSAGE)
        conn_record_emit(&c->record, &c->env, c->rules); /* the last message ended without its end */
    new_message(c);
    t0 = monotime_us();
    conn_record_begin(&c->record, RECORD_MESSAGE, &c->env);
    ok = envelope_set_auth_user(&c->env, auth_user) == 0 && envelope_set_sender(&c->env, path) == 0;
    envelope_set_mail_params(&c->env, params);
    evaluate(c, STAGE_MAIL, ok, answered, d);
    recorded(c, STAGE_MAIL, t0, d);
}

void conn_rcpt(struct conn *c, const char *path, bool answered, struct decision *d)
{
    long long t0 = monotime_us();

    evaluate(c, STAGE_RCPT, envelope_set_rcpt(&c->env, path) == 0, answered, d);
    /* Counted once, here: what recipient.count means everywhere. A
       discard is the MTA accepting the recipient and dropping the
       message later, so its recipient counts too. */
    d->rcpt_accepted = d->answer == ACTION_CONTINUE || d->answer == ACTION_ACCEPT || d->answer == ACTION_DISCARD;
    envelope_rcpt_done(&c->env, d->rcpt_accepted);
    recorded(c, STAGE_RCPT, t0, NULL);
    conn_record_rcpt(&c->record, path, d);
}

void conn_data(struct conn *c, struct decision *d)
{
    long long t0 = monotime_us();

    evaluate(c, STAGE_DATA, true, true, d);
    recorded(c, STAGE_DATA, t0, d);
}

void conn_set_header_leadspace(struct conn *c, bool on)
{
    c->header_leadspace = on;
}

void conn_header(struct conn *c, const char *name, const char *value, bool answered, struct decision *d)
{
    long long t0 = monotime_us();
    const char *text = value + strspn(value, " \t"); /* what rules see: the value itself */
    bool ok = envelope_set_header(&c->env, name, text) == 0;

    if (ok && ruleset_deletes_headers(c->rules))
        ok = conn_headers_note(&c->headers, name) == 0;
    if (ok && c->env.auth != NULL)
        ok = sendauth_header(c->env.auth, name, value, c->header_leadspace) == 0;
    if (c->env.virus != NULL)
        clamd_scan_header(c->env.virus, name, value, c->header_leadspace);
    if (ok && c->env.mime != NULL) {
        const char *why;
        if (mime_add_header(c->env.mime, name, value, c->header_leadspace, &why) < 0)
            content_failed(c, "the message could not be spooled");
    }
    evaluate(c, STAGE_HEADER, ok, answered, d);
    recorded(c, STAGE_HEADER, t0, d);
}

void conn_eoh(struct conn *c, struct decision *d)
{
    long long t0 = monotime_us();
    const char *why;

    if (c->env.mime != NULL && mime_end_headers(c->env.mime, &why) < 0)
        content_failed(c, "the message could not be spooled");
    evaluate(c, STAGE_EOH, true, true, d);
    recorded(c, STAGE_EOH, t0, d);
}

/* The body's time counts as the end of data's: it is checked there. */
void conn_body(struct conn *c, const unsigned char *data, size_t len)
{
    long long t0 = monotime_us();

    const char *why;

    if (c->env.auth != NULL && sendauth_body(c->env.auth, data, len) < 0 && !c->failed) {
        c->failed = true;
        c->failed_why = "the body could not be checked";
    }
    if (c->env.virus != NULL)
        clamd_scan_body(c->env.virus, data, len);
    if (c->env.mime != NULL && mime_add_body(c->env.mime, data, len, &why) < 0)
        content_failed(c, "the message could not be spooled");
    recorded(c, STAGE_EOM, t0, NULL);
}

static bool quarantines(const struct conn_edit *edits, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (edits[i].kind == EDIT_QUARANTINE)
            return true;
    return false;
}

void conn_eom(struct conn *c, struct decision *d, const struct conn_edit **edits, size_t *nedits)
{
    long long t0 = monotime_us();
    const char *why;

    *edits = NULL;
    *nedits = 0;
    if (c->env.virus != NULL)
        clamd_scan_finish(c->env.virus); /* the verdict virus.* reads */
    /* The content facts: parsed once, before the end of data's rules. */
    if (c->env.mime != NULL && !c->failed && mime_parse(c->env.mime, &why) < 0)
        content_failed(c, "the message could not be parsed");
    evaluate(c, STAGE_EOM, true, true, d);
    if (d->failure == CONN_INTERNAL_ERROR && clamd_scan_verdict(c->env.virus) == CLAMD_ERROR &&
        clamd_scan_tempfail(c->env.virus))
        d->why = "the clamd scan failed (clamd { on-error tempfail; })";
    /* Edits apply only to a message that is let through. */
    if ((d->answer == ACTION_CONTINUE || d->answer == ACTION_ACCEPT) &&
        conn_edits_build(&c->edits, &c->env, c->rules, &c->flow, &c->headers, &why) < 0)
        decide_failure(d, CONN_INTERNAL_ERROR, why);
    else if (d->answer == ACTION_CONTINUE || d->answer == ACTION_ACCEPT) {
        *edits = c->edits.list;
        *nedits = c->edits.n;
    }
    recorded(c, STAGE_EOM, t0, NULL);
    conn_record_eom(&c->record, d, (unsigned)*nedits, quarantines(*edits, *nedits));
}

void conn_end_message(struct conn *c, const struct decision *final)
{
    if (c->record.r.kind != RECORD_MESSAGE)
        return;
    if (final != NULL && final->failure != CONN_OK)
        conn_record_eom(&c->record, final, 0, false);
    conn_record_emit(&c->record, &c->env, c->rules);
}

void conn_abort(struct conn *c)
{
    if (c->record.r.kind == RECORD_MESSAGE)
        conn_record_emit(&c->record, &c->env, c->rules);
    new_message(c);
}

const struct envelope *conn_envelope(const struct conn *c) { return &c->env; }
const struct ruleset *conn_rules(const struct conn *c) { return c->rules; }
const struct flow *conn_flow(const struct conn *c) { return &c->flow; }
struct sendauth *conn_auth(const struct conn *c) { return c->env.auth; }
struct dns_cache *conn_dns(const struct conn *c) { return c->env.dns; }
struct statecheck *conn_state(const struct conn *c) { return c->env.state; }
