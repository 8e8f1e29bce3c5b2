/*
 * callbacks.c: libmilter callbacks. Each one hands what the MTA said to
 * the engine's connection (rules/conn.h) and maps the decision back.
 *
 * Must never answer accept or continue for a session it could not set up:
 * a missing session or a failed allocation is a tempfail. xxfi_close can
 * come alone with no session, and xxfi_abort between any two message
 * callbacks. Macros are read only through milter/macros.c (never
 * smfi_getsymval directly: a macro packet with a name and no value would
 * crash it), and a session whose MTA sent such a packet is tempfailed.
 * Each message callback folds what it got (MAIL and RCPT arguments, header
 * fields) into the message's digest and tells the poison guard while it is
 * working on it (milter/poison.h); a message the filter crashed on
 * --poison-crashes times is held (451 4.3.0) and the engine sees no more
 * of it.
 *
 * A connection past --max-sessions gets no session, only 421 4.3.2
 * (milter/overload.h); its place, when it has one, is given back in
 * xxfi_close.
 */
#include "milter/callbacks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "milter/log.h"
#include "milter/macros.h"
#include "milter/metrics.h"
#include "milter/mta_notes.h"
#include "milter/negotiate.h"
#include "milter/overload.h"
#include "milter/poison.h"
#include "milter/rules_holder.h"
#include "milter/session.h"
#include "milter/verdict_map.h"
#include "policy/dns/dnscache.h"

struct priv {
    struct session *s;
    bool counted;      /* holds a place among --max-sessions (milter/overload.h) */
    unsigned noreply;  /* STAGE_BIT of the steps negotiated without a reply */
    bool body_noreply; /* SMFIP_NR_BODY negotiated */
    bool leadspace;    /* SMFIP_HDR_LEADSPC negotiated: values keep the space after the colon */
    struct poison_msg pm; /* the message as the poison guard knows it */
};

static const char *macro_lookup(void *ctx, const char *name)
{
    return macros_get((SMFICTX *)ctx, name);
}

/* The session, created on first use when the MTA did not negotiate. */
static struct priv *priv_get(SMFICTX *ctx)
{
    struct priv *p = smfi_getpriv(ctx);

    if (p == NULL) {
        if ((p = calloc(1, sizeof *p)) == NULL)
            return NULL;
        smfi_setpriv(ctx, p);
        p->counted = overload_enter();
    }
    if (!p->counted)
        return NULL; /* past --max-sessions: no_session answers 421 */
    if (p->s == NULL && (p->s = session_new(rules_holder_acquire())) == NULL)
        return NULL;
    conn_set_macros(p->s->conn, macro_lookup, ctx);
    return p;
}

static void note_queue_id(SMFICTX *ctx, struct session *s)
{
    const char *qid = macros_get(ctx, "i");

    if (qid != NULL) {
        logfmt_str(qid, s->queue_id, sizeof s->queue_id);
        snprintf(s->qid_raw, sizeof s->qid_raw, "%s", qid);
    }
}

/* A DNS list or reverse DNS that did not answer: skipped (or tempfailed by its rule), and said so. */
static void log_dns_failure(void *ctx, const char *what, const char *why)
{
    const struct session *s = ctx;
    char name[LOGFMT_BUF];

    if (strcmp(why, DNS_WHY_BUSY) == 0) {
        overload_note_dns_busy(); /* counted, and logged every 10 s at most */
        return;
    }
    /* The name asked for comes from the client (a sender's domain): escaped. */
    log_warnx("session=%s qid=%s client=%s dns=%s: %s", s->id, s->queue_id[0] ? s->queue_id : "-",
              s->client, logfmt_str(what, name, sizeof name), why);
}

static bool answered(const struct priv *p, enum stage stage)
{
    return (p->noreply & STAGE_BIT(stage)) == 0;
}

/* The peer sent a macro name without a value: no rule saw the macros; tempfail. */
static sfsistat malformed_macros(SMFICTX *ctx, struct priv *p, enum stage stage)
{
    struct decision d;

    decision_internal_error(&d, "malformed macro packet from the MTA");
    metrics_note_decision(stage, &d);
    if (!answered(p, stage))
        return SMFIS_NOREPLY; /* the next answered step finds the same list */
    log_warnx("session=%s qid=- client=%s stage=%s: the MTA sent a macro name without a value; "
              "macros ignored, answering tempfail", p->s->id, p->s->client, stage_name(stage));
    return verdict_answer(ctx, p->s, stage, &d, stage != STAGE_CONNECT);
}

/* What the MTA hears of a stage's decision, logged. */
static sfsistat answer(SMFICTX *ctx, struct priv *p, enum stage stage, const struct decision *d)
{
    struct session *s = p->s;
    const struct flow *f = conn_flow(s->conn);

    if (macros_check(ctx) == MACROS_MALFORMED)
        return malformed_macros(ctx, p, stage);

    metrics_note_decision(stage, d);
    if (d->origin == FLOW_DEFERRED)
        metrics_note_deferred(&f->conn_verdict); /* the connect rule's refusal, counted once */
    if (conn_dns(s->conn) != NULL)
        dns_cache_report_failures(conn_dns(s->conn), log_dns_failure, s);
    if (!answered(p, stage))
        return SMFIS_NOREPLY; /* a failure waits in the engine for the next answered step */
    if (d->origin == FLOW_DEFERRED)
        log_info("session=%s qid=- client=%s stage=connect rule=%s action=%s: answered at the next command",
                 s->id, s->client, rule_ref(f->conn_verdict.rule), action_name(f->conn_verdict.action));
    return verdict_answer(ctx, s, stage, d, stage != STAGE_CONNECT);
}

/* A message held by the poison guard: 451 4.3.0 at each answered step. */
static sfsistat poison_answer(SMFICTX *ctx, struct priv *p, enum stage stage)
{
    struct decision d;

    if (!answered(p, stage))
        return SMFIS_NOREPLY; /* the next answered step says it */
    decision_internal_error(&d, "message held by the poison guard: the filter crashed on it repeatedly");
    snprintf(d.v.text, sizeof d.v.text, "Message held after repeated filter failures, please try again later");
    metrics_note_decision(stage, &d);
    return verdict_answer(ctx, p->s, stage, &d, true);
}

/* A callback starts on the message. True when the message is held: *rc is the answer. */
static bool poison_enter(SMFICTX *ctx, struct priv *p, enum stage stage, sfsistat *rc)
{
    unsigned crashes;
    char hex[POISON_HEX_LEN + 1];

    if (!p->pm.held) {
        if ((crashes = poison_msg_enter(&p->pm, p->s->qid_raw, time(NULL))) == 0) {
            overload_step_begin(); /* a stop waits for it (main.c, drain_sessions) */
            return false;
        }
        poison_hex(p->pm.digest, hex);
        metrics_note_poison_held();
        log_warnx("session=%s qid=%s client=%s stage=%s digest=%s crashes=%u: poison message: the filter "
                  "crashed %u times while working on it; holding it (451 4.3.0)", p->s->id,
                  p->s->queue_id[0] ? p->s->queue_id : "-", p->s->client, stage_name(stage), hex, crashes,
                  crashes);
    }
    *rc = poison_answer(ctx, p, stage);
    return true;
}

/* The callback is done with the message (it stays in flight). */
static sfsistat poison_leave(struct priv *p, sfsistat rc)
{
    poison_msg_leave(&p->pm);
    overload_step_end();
    return rc;
}

/* The end of message's callback is done: the message is out of flight. */
static sfsistat eom_done(struct priv *p, sfsistat rc)
{
    poison_msg_end(&p->pm);
    overload_step_end();
    return rc;
}

static void poison_fold_args(struct priv *p, char tag, char **argv)
{
    for (size_t i = 0; argv != NULL && argv[i] != NULL; i++)
        poison_msg_fold(&p->pm, tag, argv[i], strlen(argv[i]));
}

/* No session could be made: tempfail, never continue. */
static sfsistat no_session(SMFICTX *ctx, enum stage stage)
{
    struct priv *p = smfi_getpriv(ctx);
    struct decision d;

    if (p != NULL && !p->counted)
        return overload_refuse(ctx, stage == STAGE_CONNECT);

    decision_internal_error(&d, "out of memory");
    return verdict_answer(ctx, NULL, stage, &d, stage != STAGE_CONNECT);
}

/* Ask for our own macros and those the rules read, stage by stage. */
static void request_macros(SMFICTX *ctx, const struct ruleset *rs)
{
    static const struct { enum stage stage; int where; } map[] = {
        { STAGE_CONNECT, SMFIM_CONNECT }, { STAGE_HELO, SMFIM_HELO }, { STAGE_MAIL, SMFIM_ENVFROM },
        { STAGE_RCPT, SMFIM_ENVRCPT },    { STAGE_DATA, SMFIM_DATA }, { STAGE_EOH, SMFIM_EOH },
        { STAGE_EOM, SMFIM_EOM },
    };
    char list[1024];

    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (negotiate_macros(rs, map[i].stage, list, sizeof list) &&
            smfi_setsymlist(ctx, map[i].where, list) != MI_SUCCESS)
            log_warnx("cannot ask the MTA for macros \"%s\"", list);
}

static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                             unsigned long f2, unsigned long f3, unsigned long *pf0,
                             unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    struct priv *p = priv_get(ctx);

    (void)f2;
    (void)f3;
    *pf2 = 0;
    *pf3 = 0;
    if (p == NULL) {
        /* Take every step so the next callback can answer tempfail. */
        *pf0 = 0;
        *pf1 = 0;
        return SMFIS_CONTINUE;
    }
    *pf0 = negotiate_actions(session_rules(p->s), f0);
    mta_notes_negotiation(session_rules(p->s), f0, f1);
    *pf1 = negotiate_protocol_flags(session_rules(p->s), f1) | negotiate_header_flags(f1);
    p->noreply = negotiate_noreply_stages(*pf1);
    p->body_noreply = (*pf1 & SMFIP_NR_BODY) != 0;
    p->leadspace = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
    conn_set_header_leadspace(p->s->conn, p->leadspace);
    if (f0 & SMFIF_SETSYMLIST)
        request_macros(ctx, session_rules(p->s));
    return SMFIS_CONTINUE;
}

static sfsistat cb_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
    struct priv *p = priv_get(ctx);
    struct decision d;
    struct ipaddr ip;
    bool have_ip;

    if (p == NULL)
        return no_session(ctx, STAGE_CONNECT);
    have_ip = ipaddr_from_sockaddr((const struct sockaddr *)hostaddr, &ip) == 0;
    conn_connect(p->s->conn, hostname, have_ip ? &ip : NULL, &d);
    session_set_client_text(p->s);
    return answer(ctx, p, STAGE_CONNECT, &d);
}

static sfsistat cb_helo(SMFICTX *ctx, char *helo)
{
    struct priv *p = priv_get(ctx);
    struct decision d;

    if (p == NULL)
        return no_session(ctx, STAGE_HELO);
    conn_helo(p->s->conn, helo, answered(p, STAGE_HELO), &d);
    return answer(ctx, p, STAGE_HELO, &d);
}

static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
    struct priv *p = priv_get(ctx);
    struct decision d;
    sfsistat rc;

    if (p == NULL)
        return no_session(ctx, STAGE_MAIL);
    conn_end_message(p->s->conn, NULL); /* a message before this one that did not end: its record */
    session_new_message(p->s);
    note_queue_id(ctx, p->s);
    poison_msg_begin(&p->pm);
    poison_fold_args(p, 'M', argv);
    if (poison_enter(ctx, p, STAGE_MAIL, &rc))
        return rc;
    conn_mail(p->s->conn, argv && argv[0] ? argv[0] : "", argv && argv[0] ? argv + 1 : NULL,
              macros_get(ctx, "{auth_authen}"), answered(p, STAGE_MAIL), &d);
    return poison_leave(p, answer(ctx, p, STAGE_MAIL, &d));
}

static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
    struct priv *p = priv_get(ctx);
    struct decision d;
    sfsistat rc;

    if (p == NULL)
        return no_session(ctx, STAGE_RCPT);
    note_queue_id(ctx, p->s);
    poison_fold_args(p, 'R', argv);
    if (poison_enter(ctx, p, STAGE_RCPT, &rc))
        return rc;
    conn_rcpt(p->s->conn, argv && argv[0] ? argv[0] : "", answered(p, STAGE_RCPT), &d);
    return poison_leave(p, answer(ctx, p, STAGE_RCPT, &d));
}

static sfsistat cb_data(SMFICTX *ctx)
{
    struct priv *p = priv_get(ctx);
    struct decision d;
    sfsistat rc;

    if (p == NULL)
        return no_session(ctx, STAGE_DATA);
    note_queue_id(ctx, p->s);
    if (poison_enter(ctx, p, STAGE_DATA, &rc))
        return rc;
    conn_data(p->s->conn, &d);
    return poison_leave(p, answer(ctx, p, STAGE_DATA, &d));
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
    struct priv *p = priv_get(ctx);
    struct decision d;
    sfsistat rc;

    if (p == NULL)
        return no_session(ctx, STAGE_HEADER);
    poison_msg_fold(&p->pm, 'H', name ? name : "", name ? strlen(name) : 0);
    poison_msg_fold(&p->pm, 'V', value ? value : "", value ? strlen(value) : 0);
    if (poison_enter(ctx, p, STAGE_HEADER, &rc))
        return rc;
    conn_header(p->s->conn, name ? name : "", value ? value : "", answered(p, STAGE_HEADER), &d);
    return poison_leave(p, answer(ctx, p, STAGE_HEADER, &d));
}

static sfsistat cb_eoh(SMFICTX *ctx)
{
    struct priv *p = priv_get(ctx);
    struct decision d;
    sfsistat rc;

    if (p == NULL)
        return no_session(ctx, STAGE_EOH);
    note_queue_id(ctx, p->s);
    if (poison_enter(ctx, p, STAGE_EOH, &rc))
        return rc;
    conn_eoh(p->s->conn, &d);
    return poison_leave(p, answer(ctx, p, STAGE_EOH, &d));
}

/* Body chunks go to DKIM only; a failure waits in the engine for end of message. */
static sfsistat cb_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
    struct priv *p = priv_get(ctx);
    sfsistat rc;

    if (p == NULL)
        return no_session(ctx, STAGE_EOM);
    if (poison_enter(ctx, p, STAGE_EOM, &rc))
        return p->body_noreply ? SMFIS_NOREPLY : rc;
    conn_body(p->s->conn, data, len);
    return poison_leave(p, p->body_noreply ? SMFIS_NOREPLY : SMFIS_CONTINUE);
}

/* Add, insert or change a header. With SMFIP_HDR_LEADSPC the MTA stores
   the value as given: it gets the space after the colon from us. */
static int put_header(SMFICTX *ctx, const struct conn_edit *e, bool leadspace)
{
    size_t len = strlen(e->value);
    char *spaced = NULL, *v = (char *)e->value;
    int rc;

    if (leadspace) {
        if ((spaced = malloc(len + 2)) == NULL)
            return MI_FAILURE;
        spaced[0] = ' ';
        memcpy(spaced + 1, e->value, len + 1);
        v = spaced;
    }
    if (e->kind == EDIT_INSERT_TOP)
        rc = smfi_insheader(ctx, 0, (char *)e->name, v);
    else if (e->kind == EDIT_ADD)
        rc = smfi_addheader(ctx, (char *)e->name, v);
    else
        rc = smfi_chgheader(ctx, (char *)e->name, 1, v);
    free(spaced);
    return rc;
}

static int apply_edit(SMFICTX *ctx, const struct conn_edit *e, bool leadspace)
{
    int rc = MI_SUCCESS;

    switch (e->kind) {
    case EDIT_REMOVE_FORGED:
        /* From the last down, since deleting one renumbers those after it
           (OpenDKIM's forward deletion left forged headers, CVE-2022-48521). */
        for (size_t i = e->count; i > 0 && rc == MI_SUCCESS; i--)
            rc = smfi_chgheader(ctx, (char *)e->name, (int)e->positions[i - 1], NULL);
        return rc;
    case EDIT_INSERT_TOP:
    case EDIT_ADD:
    case EDIT_CHANGE:
        return put_header(ctx, e, leadspace);
    case EDIT_DELETE:
        for (size_t k = e->count; k > 0 && rc == MI_SUCCESS; k--)
            rc = smfi_chgheader(ctx, (char *)e->name, (int)k, NULL);
        return rc;
    case EDIT_QUARANTINE:
        return smfi_quarantine(ctx, (char *)e->value);
    }
    return MI_FAILURE;
}

static void log_edit(const struct session *s, const struct conn_edit *e)
{
    const char *qid = s->queue_id[0] ? s->queue_id : "-";
    char value[LOGFMT_BUF];

    /* Values hold client text (a HELO in a header, our A-R): quoted, one line. */
    if (e->kind == EDIT_REMOVE_FORGED)
        log_info("session=%s qid=%s client=%s effect=remove-forged header=Authentication-Results count=%zu: "
                 "removed %zu Authentication-Results header%s claiming %s", s->id, qid, s->client, e->count,
                 e->count, e->count == 1 ? "" : "s", e->value);
    else
        log_info("session=%s qid=%s client=%s rule=%s effect=%s header=%s value=%s", s->id, qid, s->client,
                 rule_ref(e->rule), action_name(e->action), e->name ? e->name : "-",
                 logfmt_quoted(e->value, value, sizeof value));
}

static sfsistat cb_eom(SMFICTX *ctx)
{
    struct priv *p = priv_get(ctx);
    const struct conn_edit *edits;
    size_t nedits;
    struct decision d;
    sfsistat rc;

    if (p == NULL)
        return no_session(ctx, STAGE_EOM);
    note_queue_id(ctx, p->s);
    if (poison_enter(ctx, p, STAGE_EOM, &rc)) {
        poison_msg_end(&p->pm);
        return rc;
    }
    conn_eom(p->s->conn, &d, &edits, &nedits);
    rc = answer(ctx, p, STAGE_EOM, &d);
    if (nedits > 0 && conn_flow(p->s->conn)->effects_dropped > 0)
        log_warnx("session=%s qid=%s: %u header edits beyond the limit of %d were not applied", p->s->id,
                  p->s->queue_id[0] ? p->s->queue_id : "-", conn_flow(p->s->conn)->effects_dropped,
                  FLOW_EFFECTS_MAX);
    for (size_t i = 0; i < nedits; i++) {
        if (apply_edit(ctx, &edits[i], p->leadspace) != MI_SUCCESS) {
            decision_internal_error(&d, "the MTA refused a header edit");
            rc = verdict_answer(ctx, p->s, STAGE_EOM, &d, true);
            conn_end_message(p->s->conn, &d);
            return eom_done(p, rc);
        }
        log_edit(p->s, &edits[i]);
    }
    conn_end_message(p->s->conn, NULL);
    return eom_done(p, rc);
}

static sfsistat cb_abort(SMFICTX *ctx)
{
    struct priv *p = smfi_getpriv(ctx);

    if (p != NULL) {
        note_queue_id(ctx, p->s);
        conn_abort(p->s->conn);
        session_new_message(p->s);
        poison_msg_end(&p->pm);
    }
    return SMFIS_CONTINUE;
}

static sfsistat cb_close(SMFICTX *ctx)
{
    struct priv *p = smfi_getpriv(ctx);

    if (p != NULL) {
        poison_msg_release(&p->pm);
        session_free(p->s);
        if (p->counted)
            overload_leave();
        free(p);
        smfi_setpriv(ctx, NULL);
    }
    return SMFIS_CONTINUE;
}

struct smfiDesc mxguard_milter = {
    .xxfi_name = "mxguard",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_NONE,
    .xxfi_connect = cb_connect,
    .xxfi_helo = cb_helo,
    .xxfi_envfrom = cb_envfrom,
    .xxfi_envrcpt = cb_envrcpt,
    .xxfi_header = cb_header,
    .xxfi_eoh = cb_eoh,
    .xxfi_body = cb_body,
    .xxfi_eom = cb_eom,
    .xxfi_abort = cb_abort,
    .xxfi_close = cb_close,
    .xxfi_unknown = NULL,
    .xxfi_data = cb_data,
    .xxfi_negotiate = cb_negotiate,
};
