/*
 * conn_record.c: one decision record per message, and per connection that
 * ends without one, filled as the engine decides and written once.
 *
 * Must never make a record say less than happened: a refusal stays the
 * outcome whatever follows it, and a message left before its end is
 * "aborted", never "accept".
 */
#include "rules/conn_record.h"

#include <stdio.h>
#include <string.h>

#include "policy/auth/sendauth.h"
#include "policy/content/clamd.h"
#include "policy/dns/dnscache.h"
#include "policy/state/statecheck.h"

const char *record_action_name(enum action a)
{
    switch (a) {
    case ACTION_CONTINUE:
    case ACTION_ACCEPT:
        return "accept";
    case ACTION_REJECT:
        return "reject";
    case ACTION_DISCARD:
        return "discard";
    default:
        return "tempfail";
    }
}

const char *record_outcome_name(const struct record *r)
{
    if (r->aborted)
        return "aborted";
    if (r->kind == RECORD_CONNECTION && !r->refused)
        return "closed";
    return record_action_name(r->outcome.action);
}

const char *record_rule_ref(const struct record_verdict *v)
{
    if (v->failure)
        return "-";
    return v->rule != NULL ? rule_ref(v->rule) : "default";
}

const char *record_rdns_name(const struct record *r)
{
    static const char *const names[] = { NULL, "confirmed", "unconfirmed", "none", "tempfail" };

    return r->dns != NULL ? names[dns_cache_rdns(r->dns)->status] : NULL;
}

const char *record_list_result_name(int dns_status)
{
    static const char *const names[] = { "listed", "clean", "tempfail" };

    return dns_status >= 0 && dns_status <= 2 ? names[dns_status] : "tempfail";
}

const char *record_check_name(enum record_check c)
{
    static const char *const names[CHECK_COUNT] = { "dns", "spf", "dkim", "store" };

    return names[c];
}

static void marks(struct conn_record *cr, const struct envelope *env)
{
    statecheck_totals(env->state, &cr->mark_store, &cr->mark_errors);
    sendauth_time_us(env->auth, &cr->mark_spf, &cr->mark_dkim);
    cr->mark_dmarc = sendauth_dmarc_us(env->auth);
    cr->mark_dns = dns_cache_waited_us(env->dns);
    cr->mark_greylist = statecheck_greylist_checks(env->state);
}

void conn_record_begin(struct conn_record *cr, enum record_kind kind, const struct envelope *env)
{
    struct record *r = &cr->r;
    bool after_connection = r->kind == RECORD_CONNECTION && cr->open;

    if (after_connection) {
        /* The first message carries what connect and HELO did and took. */
        r->kind = kind;
        r->us_stage[STAGE_MAIL] = 0;
        cr->open = true;
        return;
    }
    memset(r, 0, sizeof *r);
    r->kind = kind;
    cr->open = true;
    cr->accepted = false;
    marks(cr, env);
}

void conn_record_time(struct conn_record *cr, enum stage stage, long long us)
{
    if (us > 0)
        cr->r.us_stage[stage] += (unsigned long)us;
}

static void verdict_from(struct record_verdict *rv, enum stage stage, const struct decision *d)
{
    const struct verdict *v = &d->v;

    rv->stage = stage;
    rv->action = d->answer;
    rv->rule = d->failure == CONN_OK ? v->rule : NULL;
    rv->failure = d->failure != CONN_OK;
    rv->why = d->why;
    rv->reply[0] = '\0';
    if (v->has_reply && d->answer != ACTION_CONTINUE && d->answer != ACTION_ACCEPT)
        snprintf(rv->reply, sizeof rv->reply, "%.3s %.11s %.*s", v->code, v->xcode,
                 (int)sizeof rv->reply - 17, v->text); /* cut: a record keeps the start of a long reply */
}

static bool refuses(enum action answer)
{
    return answer == ACTION_REJECT || answer == ACTION_TEMPFAIL || answer == ACTION_DISCARD;
}

/* Warn rules and an accepting rule, from any step the rules evaluated. */
static void note_rules(struct conn_record *cr, enum stage stage, const struct decision *d)
{
    struct record *r = &cr->r;

    if (d->origin != FLOW_EVALUATED || d->failure != CONN_OK)
        return;
    for (unsigned i = 0; i < d->v.nwarned && r->nwarned < sizeof r->warned / sizeof r->warned[0]; i++)
        r->warned[r->nwarned++] = d->v.warned[i];
    if (d->v.action == ACTION_ACCEPT && d->v.rule != NULL && !cr->accepted) {
        cr->accepted = true;
        verdict_from(&cr->accepted_by, stage, d);
    }
}

void conn_record_decision(struct conn_record *cr, enum stage stage, const struct decision *d,
                          const struct envelope *env)
{
    struct record *r = &cr->r;

    if (d->origin == FLOW_SKIPPED)
        return;
    if (!cr->open && refuses(d->answer))
        conn_record_begin(cr, RECORD_CONNECTION, env);
    note_rules(cr, stage, d);
    /* The first refusal is the outcome: a later step repeats it at most. */
    if (refuses(d->answer) && !r->refused) {
        r->refused = true;
        verdict_from(&r->outcome, stage, d);
    } else if (!r->refused) {
        r->outcome.stage = stage; /* how far it went */
    }
}

void conn_record_rcpt(struct conn_record *cr, const char *path, const struct decision *d)
{
    struct record *r = &cr->r;
    struct record_rcpt *rc;

    r->rcpts_total++;
    r->rcpts_taken += d->rcpt_accepted;
    if (d->origin != FLOW_SKIPPED)
        note_rules(cr, STAGE_RCPT, d);
    /* A discard drops the whole message. */
    if (d->answer == ACTION_DISCARD && !r->refused) {
        r->refused = true;
        verdict_from(&r->outcome, STAGE_RCPT, d);
    }
    if (r->nrcpt == RECORD_RCPTS_MAX)
        return;
    rc = &r->rcpt[r->nrcpt++];
    snprintf(rc->addr, sizeof rc->addr, "%s", path);
    verdict_from(&rc->v, STAGE_RCPT, d);
    if (d->origin == FLOW_SKIPPED && cr->accepted)
        rc->v.rule = cr->accepted_by.rule; /* taken because a rule accepted the message */
}

void conn_record_eom(struct conn_record *cr, const struct decision *d, unsigned edits, bool quarantined)
{
    struct record *r = &cr->r;

    r->reached_eom = true;
    r->edits = edits;
    r->quarantined = quarantined;
    if (r->refused && d->failure == CONN_OK)
        return;
    if (refuses(d->answer)) {
        r->refused = true;
        verdict_from(&r->outcome, STAGE_EOM, d);
    } else if (d->origin == FLOW_SKIPPED && cr->accepted) {
        r->outcome = cr->accepted_by;
    } else {
        verdict_from(&r->outcome, STAGE_EOM, d);
    }
}

/* A message that never reached its end: refused by its recipients, or left. */
static void settle_message(struct conn_record *cr)
{
    struct record *r = &cr->r;
    const struct record_rcpt *last = NULL;

    if (r->refused || r->reached_eom)
        return;
    for (unsigned i = 0; i < r->nrcpt; i++)
        if (refuses(r->rcpt[i].v.action))
            last = &r->rcpt[i];
    if (r->rcpts_taken == 0 && last != NULL) {
        r->refused = true;
        r->outcome = last->v;
        return;
    }
    r->aborted = true;
    r->outcome.action = ACTION_NONE;
    r->outcome.rule = NULL;
    r->outcome.failure = false;
    r->outcome.reply[0] = '\0';
}

/* clamd's verdict on the message, when a scan was made and ended (not for an aborted one). */
static void virus_facts(struct record *r, const struct envelope *env)
{
    enum clamd_verdict v = clamd_scan_verdict(env->virus);

    r->virus = r->virus_name = NULL;
    if (r->kind != RECORD_MESSAGE || env->virus == NULL || v == CLAMD_PENDING)
        return;
    r->virus = v == CLAMD_CLEAN ? "clean" : v == CLAMD_FOUND ? "found" : "error";
    if (v != CLAMD_CLEAN)
        r->virus_name = clamd_scan_name(env->virus);
}

static void facts(struct conn_record *cr, const struct envelope *env)
{
    struct record *r = &cr->r;
    unsigned long spf, dkim, store;
    unsigned errors;

    statecheck_totals(env->state, &store, &errors);
    sendauth_time_us(env->auth, &spf, &dkim);
    r->us_check[CHECK_DNS] = dns_cache_waited_us(env->dns) - cr->mark_dns;
    r->us_check[CHECK_SPF] = spf - cr->mark_spf;
    r->us_check[CHECK_DKIM] = dkim - cr->mark_dkim;
    r->us_check[CHECK_STORE] = store - cr->mark_store;
    r->us_dmarc = sendauth_dmarc_us(env->auth) - cr->mark_dmarc;
    r->store_errors = errors - cr->mark_errors;
    r->dns = env->dns;
    r->spf_mfrom = r->kind == RECORD_MESSAGE ? sendauth_spf_known(env->auth, SPF_ID_MAILFROM) : NULL;
    r->spf_helo = sendauth_spf_known(env->auth, SPF_ID_HELO);
    r->dkim = sendauth_dkim_known(env->auth);
    r->dkim_sign = r->kind == RECORD_MESSAGE ? sendauth_dkim_signed(env->auth) : NULL;
    r->dmarc = r->kind == RECORD_MESSAGE ? sendauth_dmarc_known(env->auth) : NULL;
    r->greylist = NULL;
    if (statecheck_greylist_checks(env->state) > cr->mark_greylist)
        r->greylist = greylist_verdict_name(statecheck_last_greylist(env->state)->verdict);
    virus_facts(r, env);
}

void conn_record_emit(struct conn_record *cr, const struct envelope *env, const struct ruleset *rs)
{
    struct record *r = &cr->r;

    if (!cr->open)
        return;
    cr->open = false;
    if (cr->sink == NULL)
        return;
    if (r->kind == RECORD_MESSAGE)
        settle_message(cr);
    facts(cr, env);
    r->env = env;
    r->rules = rs;
    r->headers = env->header_count;
    clock_gettime(CLOCK_REALTIME, &r->ended);
    cr->sink(cr->sink_ctx, r);
}
