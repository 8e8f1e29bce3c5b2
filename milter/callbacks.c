/*
 * callbacks.c: libmilter callbacks. Each one records the stage's facts in
 * the session, asks the rule engine for a verdict and maps it back.
 *
 * Must never answer accept or continue for a session it could not set up:
 * a missing session or a failed allocation is a tempfail. xxfi_close can
 * come alone with no session, and xxfi_abort between any two message
 * callbacks.
 */
#include "milter/callbacks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter/auth_setup.h"
#include "milter/log.h"
#include "milter/mta_notes.h"
#include "milter/rules_holder.h"
#include "milter/session.h"
#include "milter/verdict_map.h"
#include "policy/auth/authres.h"
#include "policy/dns/dnscache.h"
#include "policy/auth/sendauth.h"

/* Steps whose callbacks can carry no reply (negotiated SMFIP_NR_*). */
#define NOREPLY_BIT(stage) STAGE_BIT(stage)

struct priv {
    struct session *s;
    unsigned noreply; /* NOREPLY_BIT mask */
    bool body_noreply; /* SMFIP_NR_BODY negotiated */
};

static const char *macro_lookup(void *ctx, const char *name)
{
    return smfi_getsymval((SMFICTX *)ctx, (char *)name);
}

unsigned long callbacks_protocol_flags(const struct ruleset *rs, unsigned long offered)
{
    unsigned rules = ruleset_stages(rs);
    unsigned need;
    /* A refusal at connect is answered at HELO or later, and a refusal at
       connect or helo is repeated at every later command: those steps
       must then be taken with a reply. */
    if (rules & STAGE_BIT(STAGE_CONNECT))
        rules |= STAGE_BIT(STAGE_HELO);
    if (rules & (STAGE_BIT(STAGE_CONNECT) | STAGE_BIT(STAGE_HELO)))
        rules |= STAGE_BIT(STAGE_MAIL) | STAGE_BIT(STAGE_RCPT);
    need = rules | ruleset_fact_stages(rs);
    unsigned message = STAGE_BIT(STAGE_MAIL) | STAGE_BIT(STAGE_RCPT) | STAGE_BIT(STAGE_DATA) |
                       STAGE_BIT(STAGE_EOH) | STAGE_BIT(STAGE_EOM);
    unsigned long flags = SMFIP_NOUNKNOWN;
    bool dkim = ruleset_uses_dkim(rs);

    if (!(need & STAGE_BIT(STAGE_HELO)))
        flags |= SMFIP_NOHELO;
    if (!(need & message))
        flags |= SMFIP_NOMAIL | SMFIP_NORCPT;
    if (!(rules & STAGE_BIT(STAGE_DATA)))
        flags |= SMFIP_NODATA;
    if (!(rules & STAGE_BIT(STAGE_EOH)))
        flags |= SMFIP_NOEOH;
    /* Headers: for header rules, to count what delete-header removes, for DKIM. */
    if (!(need & STAGE_BIT(STAGE_HEADER)) && !ruleset_deletes_headers(rs) && !dkim)
        flags |= SMFIP_NOHDRS;
    /* The body only for DKIM, and it never needs an answer: the MTA streams it. */
    flags |= dkim ? SMFIP_NR_BODY : SMFIP_NOBODY;
    if (!(rules & STAGE_BIT(STAGE_HEADER)))
        flags |= SMFIP_NR_HDR;
    /* Steps we take only to record facts need no reply from us. */
    if (!(rules & STAGE_BIT(STAGE_CONNECT)))
        flags |= SMFIP_NR_CONN;
    if (!(rules & STAGE_BIT(STAGE_HELO)))
        flags |= SMFIP_NR_HELO;
    if (!(rules & STAGE_BIT(STAGE_MAIL)))
        flags |= SMFIP_NR_MAIL;
    if (!(rules & STAGE_BIT(STAGE_RCPT)))
        flags |= SMFIP_NR_RCPT;
    return flags & offered;
}

static unsigned noreply_mask(unsigned long flags)
{
    unsigned m = 0;

    if (flags & SMFIP_NR_CONN) m |= NOREPLY_BIT(STAGE_CONNECT);
    if (flags & SMFIP_NR_HELO) m |= NOREPLY_BIT(STAGE_HELO);
    if (flags & SMFIP_NR_MAIL) m |= NOREPLY_BIT(STAGE_MAIL);
    if (flags & SMFIP_NR_RCPT) m |= NOREPLY_BIT(STAGE_RCPT);
    if (flags & SMFIP_NR_HDR) m |= NOREPLY_BIT(STAGE_HEADER);
    return m;
}

/* The session, created on first use when the MTA did not negotiate. */
static struct priv *priv_get(SMFICTX *ctx)
{
    struct priv *p = smfi_getpriv(ctx);

    if (p == NULL) {
        if ((p = calloc(1, sizeof *p)) == NULL)
            return NULL;
        if ((p->s = session_new(rules_holder_acquire())) == NULL) {
            free(p);
            return NULL;
        }
        smfi_setpriv(ctx, p);
    }
    p->s->env.macro = macro_lookup;
    p->s->env.macro_ctx = ctx;
    return p;
}

static void note_queue_id(SMFICTX *ctx, struct session *s)
{
    const char *qid = smfi_getsymval(ctx, "i");

    if (qid != NULL)
        snprintf(s->queue_id, sizeof s->queue_id, "%s", qid);
}

/* A DNS list or reverse DNS that did not answer: skipped (or tempfailed by its rule), and said so. */
static void log_dns_failure(void *ctx, const char *what, const char *why)
{
    const struct session *s = ctx;

    log_warnx("session=%s qid=%s client=%s dns: %s: %s", s->id, s->queue_id[0] ? s->queue_id : "-",
              s->client, what, why);
}

/*
 * Evaluate a stage. ok is false when recording the stage's facts failed.
 * A step negotiated without a reply remembers a failure for the next
 * step that can answer.
 */
static sfsistat run_stage(SMFICTX *ctx, struct priv *p, enum stage stage, bool ok)
{
    struct session *s = p->s;
    bool noreply = (p->noreply & NOREPLY_BIT(stage)) != 0;
    bool can_reply = stage != STAGE_CONNECT;
    struct verdict v;
    enum flow_origin origin;

    if (!ok)
        s->failed = true;
    if (s->failed) {
        if (noreply)
            return SMFIS_NOREPLY;
        s->failed = false;
        return verdict_internal_error(ctx, s, stage, "out of memory", can_reply);
    }
    if (noreply)
        return SMFIS_NOREPLY; /* no rules here: the stage's facts are all we wanted */
    switch (flow_eval(&s->flow, s->rules, stage, can_reply, &s->env, &v, &origin)) {
    case 0:
        break;
    case FLOW_DNS_FAILURE:
        if (s->env.dns != NULL)
            dns_cache_report_failures(s->env.dns, log_dns_failure, s);
        return verdict_dns_failure(ctx, s, stage, can_reply);
    default:
        return verdict_internal_error(ctx, s, stage, "rule evaluation failed", can_reply);
    }
    if (origin == FLOW_DEFERRED)
        log_info("session=%s qid=- client=%s stage=connect rule=%s action=%s: answered at the next command",
                 s->id, s->client, rule_ref(s->flow.conn_verdict.rule), action_name(s->flow.conn_verdict.action));
    if (s->env.dns != NULL)
        dns_cache_report_failures(s->env.dns, log_dns_failure, s);
    if (origin == FLOW_SKIPPED)
        return SMFIS_CONTINUE;
    {
        sfsistat rc = verdict_apply(ctx, s, stage, &v, can_reply);
        /* An accept before end of message would end the MTA's calls, and a
           forged Authentication-Results header would pass: the rules are
           skipped from here on (flow), but the message still comes by. */
        if (rc == SMFIS_ACCEPT && stage != STAGE_EOM && ruleset_adds_authres(s->rules))
            rc = SMFIS_CONTINUE;
        return rc;
    }
}

/* Ask for our own macros and those the rules read, stage by stage. */
static void request_macros(SMFICTX *ctx, const struct ruleset *rs)
{
    static const struct { enum stage stage; int where; const char *ours; } map[] = {
        { STAGE_CONNECT, SMFIM_CONNECT, "" },
        { STAGE_HELO, SMFIM_HELO, "" },
        { STAGE_MAIL, SMFIM_ENVFROM, "i {auth_authen} {auth_type}" },
        { STAGE_RCPT, SMFIM_ENVRCPT, "i" },
        { STAGE_DATA, SMFIM_DATA, "i" },
        { STAGE_EOH, SMFIM_EOH, "i" },
        { STAGE_EOM, SMFIM_EOM, "i" },
    };

    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        const char *theirs = ruleset_macros(rs, map[i].stage);
        char list[1024];
        if (map[i].ours[0] == '\0' && theirs == NULL)
            continue;
        snprintf(list, sizeof list, "%s", map[i].ours);
        /* The rules' macros, but those we ask for anyway only once. */
        if (theirs != NULL) {
            char copy[1024], *save = NULL;
            snprintf(copy, sizeof copy, "%s", theirs);
            for (char *m = strtok_r(copy, " ", &save); m != NULL; m = strtok_r(NULL, " ", &save)) {
                size_t n = strlen(m), used = strlen(list);
                const char *hit = strstr(map[i].ours, m);
                if (hit != NULL && (hit == map[i].ours || hit[-1] == ' ') && (hit[n] == ' ' || hit[n] == '\0'))
                    continue;
                snprintf(list + used, sizeof list - used, "%s%s", used ? " " : "", m);
            }
        }
        if (smfi_setsymlist(ctx, map[i].where, list) != MI_SUCCESS)
            log_warnx("cannot ask the MTA for macros \"%s\"", list);
    }
}

static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                             unsigned long f2, unsigned long f3, unsigned long *pf0,
                             unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    struct priv *p = priv_get(ctx);

    (void)f2;
    (void)f3;
    *pf0 = f0 & SMFIF_SETSYMLIST;
    if (p != NULL && ruleset_edits_headers(p->s->rules))
        *pf0 |= f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS);
    if (p != NULL && ruleset_quarantines(p->s->rules))
        *pf0 |= f0 & SMFIF_QUARANTINE;
    *pf2 = 0;
    *pf3 = 0;
    if (p == NULL) {
        /* Take every step so the next callback can answer tempfail. */
        *pf1 = 0;
        return SMFIS_CONTINUE;
    }
    mta_notes_negotiation(p->s->rules, f0, f1);
    *pf1 = callbacks_protocol_flags(p->s->rules, f1);
    p->noreply = noreply_mask(*pf1);
    p->body_noreply = (*pf1 & SMFIP_NR_BODY) != 0;
    if (f0 & SMFIF_SETSYMLIST)
        request_macros(ctx, p->s->rules);
    return SMFIS_CONTINUE;
}

static sfsistat cb_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
    struct priv *p = priv_get(ctx);
    struct ipaddr ip;
    bool have_ip;
    int rc;

    if (p == NULL)
        return verdict_internal_error(ctx, NULL, STAGE_CONNECT, "out of memory", false);
    have_ip = ipaddr_from_sockaddr((const struct sockaddr *)hostaddr, &ip) == 0;
    rc = envelope_set_client(&p->s->env, hostname, have_ip ? &ip : NULL);
    session_set_client_text(p->s);
    return run_stage(ctx, p, STAGE_CONNECT, rc == 0);
}

static sfsistat cb_helo(SMFICTX *ctx, char *helo)
{
    struct priv *p = priv_get(ctx);

    if (p == NULL)
        return verdict_internal_error(ctx, NULL, STAGE_HELO, "out of memory", true);
    return run_stage(ctx, p, STAGE_HELO, envelope_set_helo(&p->s->env, helo) == 0);
}

static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
    struct priv *p = priv_get(ctx);
    int rc;

    if (p == NULL)
        return verdict_internal_error(ctx, NULL, STAGE_MAIL, "out of memory", true);
    /* A new message on the same connection starts from a clean slate. */
    session_new_message(p->s);
    p->s->messages++;
    note_queue_id(ctx, p->s);
    rc = envelope_set_auth_user(&p->s->env, smfi_getsymval(ctx, "{auth_authen}"));
    if (rc == 0)
        rc = envelope_set_sender(&p->s->env, argv && argv[0] ? argv[0] : "");
    envelope_set_mail_params(&p->s->env, argv && argv[0] ? argv + 1 : NULL);
    return run_stage(ctx, p, STAGE_MAIL, rc == 0);
}

static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
    struct priv *p = priv_get(ctx);
    sfsistat rc;

    if (p == NULL)
        return verdict_internal_error(ctx, NULL, STAGE_RCPT, "out of memory", true);
    note_queue_id(ctx, p->s);
    rc = run_stage(ctx, p, STAGE_RCPT,
                   envelope_set_rcpt(&p->s->env, argv && argv[0] ? argv[0] : "") == 0);
    envelope_rcpt_done(&p->s->env, rc == SMFIS_CONTINUE || rc == SMFIS_ACCEPT || rc == SMFIS_NOREPLY);
    return rc;
}

static sfsistat cb_data(SMFICTX *ctx)
{
    struct priv *p = priv_get(ctx);

    if (p == NULL)
        return verdict_internal_error(ctx, NULL, STAGE_DATA, "out of memory", true);
    note_queue_id(ctx, p->s);
    return run_stage(ctx, p, STAGE_DATA, true);
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
    struct priv *p = priv_get(ctx);
    int rc;

    if (p == NULL)
        return verdict_internal_error(ctx, NULL, STAGE_HEADER, "out of memory", true);
    rc = envelope_set_header(&p->s->env, name ? name : "", value ? value : "");
    if (rc == 0 && ruleset_deletes_headers(p->s->rules))
        rc = session_note_header(p->s, name ? name : "");
    if (rc == 0 && p->s->env.auth != NULL)
        rc = sendauth_header(p->s->env.auth, name ? name : "", value ? value : "");
    return run_stage(ctx, p, STAGE_HEADER, rc == 0);
}

static sfsistat cb_eoh(SMFICTX *ctx)
{
    struct priv *p = priv_get(ctx);

    if (p == NULL)
        return verdict_internal_error(ctx, NULL, STAGE_EOH, "out of memory", true);
    note_queue_id(ctx, p->s);
    return run_stage(ctx, p, STAGE_EOH, true);
}

/* Body chunks go to DKIM only; a failure is remembered for end of message. */
static sfsistat cb_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
    struct priv *p = priv_get(ctx);

    if (p == NULL)
        return verdict_internal_error(ctx, NULL, STAGE_EOM, "out of memory", true);
    if (p->s->env.auth != NULL && sendauth_body(p->s->env.auth, data, len) < 0)
        p->s->failed = true;
    if (p->body_noreply)
        return SMFIS_NOREPLY;
    return SMFIS_CONTINUE;
}

/* Our trace headers go on top, where RFC 8601 and RFC 7208 want them. */
static int add_auth_header(SMFICTX *ctx, struct session *s, enum action a, char *value, size_t size)
{
    const char *name;

    if (auth_header(s->env.auth, &s->env, a, &name, value, size) < 0)
        return MI_FAILURE;
    return smfi_insheader(ctx, 0, (char *)name, value);
}

/*
 * Forged Authentication-Results (claiming our authserv-id) go whenever the
 * rules stamp ours, matched or not: from the last down, since deleting
 * one renumbers those after it (OpenDKIM's forward deletion left forged
 * headers in place, CVE-2022-48521).
 */
static int remove_forged(SMFICTX *ctx, struct session *s)
{
    size_t n;
    bool overflow;
    const unsigned *pos;
    int rc = MI_SUCCESS;

    if (s->env.auth == NULL || !ruleset_adds_authres(s->rules))
        return MI_SUCCESS;
    pos = sendauth_forged(s->env.auth, &n, &overflow);
    if (overflow)
        return MI_FAILURE; /* some would stay: better retried (and logged) than passed */
    for (size_t i = n; i > 0 && rc == MI_SUCCESS; i--)
        rc = smfi_chgheader(ctx, "Authentication-Results", (int)pos[i - 1], NULL);
    if (n > 0)
        log_info("session=%s qid=%s client=%s removed %zu Authentication-Results header%s claiming %s",
                 s->id, s->queue_id[0] ? s->queue_id : "-", s->client, n, n == 1 ? "" : "s",
                 sendauth_authserv_id(s->env.auth));
    return rc;
}

/* Header edits and quarantine, in the order the rules asked for them. */
static int apply_effects(SMFICTX *ctx, struct session *s)
{
    const struct flow *f = &s->flow;
    int rc = remove_forged(ctx, s);
    char authval[AUTHRES_VALUE_MAX];

    if (f->effects_dropped > 0)
        log_warnx("session=%s qid=%s: %u header edits beyond the limit of %d were not applied",
                  s->id, s->queue_id[0] ? s->queue_id : "-", f->effects_dropped, FLOW_EFFECTS_MAX);
    for (unsigned i = 0; i < f->neffects && rc == MI_SUCCESS; i++) {
        const struct effect *e = &f->effects[i];
        char *name = (char *)e->name, *value = (char *)e->value;
        switch (e->action) {
        case ACTION_ADD_HEADER:
            rc = smfi_addheader(ctx, name, value);
            break;
        case ACTION_CHANGE_HEADER:
            rc = smfi_chgheader(ctx, name, 1, value);
            break;
        case ACTION_DELETE_HEADER:
            /* From the last down: deleting shifts the indexes of later ones. */
            for (unsigned k = session_header_occurrences(s, name); k > 0 && rc == MI_SUCCESS; k--)
                rc = smfi_chgheader(ctx, name, (int)k, NULL);
            break;
        case ACTION_QUARANTINE:
            rc = smfi_quarantine(ctx, value);
            break;
        case ACTION_AUTH_RESULTS:
        case ACTION_RECEIVED_SPF:
            rc = add_auth_header(ctx, s, e->action, authval, sizeof authval);
            value = rc == MI_SUCCESS ? authval : value;
            break;
        default:
            break;
        }
        log_info("session=%s qid=%s client=%s rule=%s %s %s%s%s", s->id,
                 s->queue_id[0] ? s->queue_id : "-", s->client, rule_ref(e->rule),
                 action_name(e->action), name ? name : "",
                 name && value[0] ? ": " : "", value);
    }
    return rc;
}

static sfsistat cb_eom(SMFICTX *ctx)
{
    struct priv *p = priv_get(ctx);
    sfsistat rc;

    if (p == NULL)
        return verdict_internal_error(ctx, NULL, STAGE_EOM, "out of memory", true);
    note_queue_id(ctx, p->s);
    rc = run_stage(ctx, p, STAGE_EOM, true);
    if ((rc == SMFIS_CONTINUE || rc == SMFIS_ACCEPT) && apply_effects(ctx, p->s) != MI_SUCCESS)
        return verdict_internal_error(ctx, p->s, STAGE_EOM, "the MTA refused a header edit", true);
    return rc;
}

static sfsistat cb_abort(SMFICTX *ctx)
{
    struct priv *p = smfi_getpriv(ctx);

    if (p != NULL)
        session_new_message(p->s);
    return SMFIS_CONTINUE;
}

static sfsistat cb_close(SMFICTX *ctx)
{
    struct priv *p = smfi_getpriv(ctx);

    if (p != NULL) {
        session_free(p->s);
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
