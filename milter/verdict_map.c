/*
 * verdict_map.c: map verdicts to SMFIS_* codes and smfi_setreply, and log
 * one line per decision.
 *
 * Must never turn a failure into an accept: anything unexpected becomes a
 * tempfail.
 */
#include "milter/verdict_map.h"

#include <string.h>

#include "milter/log.h"
#include "milter/logfmt.h"

void verdict_escape_percent(const char *in, char *out, size_t outsz)
{
    size_t o = 0;

    for (; *in != '\0' && o + 2 < outsz; in++) {
        if (*in == '%')
            out[o++] = '%';
        out[o++] = *in;
    }
    out[o] = '\0';
}

static const char *qid(const struct session *s)
{
    return s != NULL && s->queue_id[0] ? s->queue_id : "-";
}

static void log_decision(const struct session *s, enum stage stage, const struct verdict *v)
{
    const char *rcpt = conn_envelope(s->conn)->rcpt.raw.s;
    char reply[REPLY_TEXT_MAX + 32], rq[LOGFMT_BUF], rr[LOGFMT_BUF];

    if (v->rule == NULL) {
        if (log_verbosity() > 0)
            log_debug("session=%s qid=%s client=%s stage=%s rule=default action=continue",
                      s->id, qid(s), s->client, stage_name(stage));
        return;
    }
    /* One log line per decision: the lines of a multi-line reply joined with " / ". */
    snprintf(reply, sizeof reply, "%s %s %s", v->code, v->xcode, v->text);
    for (char *nl = strchr(reply, '\n'); nl != NULL; nl = strchr(nl, '\n'))
        *nl = '/';
    log_info("session=%s qid=%s client=%s stage=%s%s%s rule=%s action=%s%s%s", s->id, qid(s), s->client,
             stage_name(stage), stage == STAGE_RCPT && rcpt ? " rcpt=" : "",
             stage == STAGE_RCPT && rcpt ? logfmt_str(rcpt, rr, sizeof rr) : "", rule_ref(v->rule),
             action_name(v->action), v->has_reply ? " reply=" : "",
             v->has_reply ? logfmt_quoted(reply, rq, sizeof rq) : "");
    if (v->has_reply)
        log_debug("session=%s rule=%s: %s", s->id, rule_where(v->rule), rule_text(v->rule));
}

/* A tempfail no rule asked for: the engine's reply, and why in the log. */
static void log_failure(const struct session *s, enum stage stage, const struct decision *d)
{
    if (d->failure == CONN_DNS_FAILURE)
        log_info("session=%s qid=%s client=%s stage=%s action=tempfail: %s", s->id, qid(s), s->client,
                 stage_name(stage), d->why);
    else
        log_errx("session=%s qid=%s client=%s stage=%s action=tempfail: internal error (%s)", s ? s->id : "-",
                  qid(s), s ? s->client : "unknown", stage_name(stage), d->why ? d->why : "unknown");
}

/* One line, '%' doubled, cut so that doubling never pushes it past what libmilter takes. */
static void escape_line(const char *in, size_t len, char *out, size_t outsz)
{
    char line[REPLY_TEXT_MAX + 1];

    if (len > REPLY_TEXT_MAX)
        len = REPLY_TEXT_MAX;
    memcpy(line, in, len);
    line[len] = '\0';
    verdict_escape_percent(line, out, outsz);
}

static void set_reply(SMFICTX *ctx, const struct session *s, const struct verdict *v)
{
    /* Room for every line of the longest reply the loader accepts. */
    static const size_t line_room = REPLY_TEXT_MAX - 9;
    char buf[REPLY_LINES_MAX][REPLY_TEXT_MAX - 9];
    char *lines[REPLY_LINES_MAX + 1] = { NULL };
    const char *p = v->text;
    int n = 0, rc;

    while (n < REPLY_LINES_MAX) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        escape_line(p, len, buf[n], line_room);
        lines[n] = buf[n];
        n++;
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    if (n == 1)
        rc = smfi_setreply(ctx, (char *)v->code, (char *)v->xcode, lines[0]);
    else
        rc = smfi_setmlreply(ctx, v->code, v->xcode, lines[0], lines[1], lines[2], lines[3], lines[4],
                             lines[5], lines[6], lines[7], lines[8], lines[9], lines[10], lines[11],
                             lines[12], lines[13], lines[14], lines[15], lines[16], lines[17], lines[18],
                             lines[19], lines[20], lines[21], lines[22], lines[23], lines[24], lines[25],
                             lines[26], lines[27], lines[28], lines[29], lines[30], lines[31], NULL);
    if (rc != MI_SUCCESS) {
        char text[LOGFMT_BUF];
        log_warnx("session=%s code=%s xcode=%s text=%s: the MTA refused this reply; it answers with its own",
                  s ? s->id : "-", v->code, v->xcode, logfmt_quoted(v->text, text, sizeof text));
    }
}

static void log_warned(const struct session *s, enum stage stage, const struct verdict *v)
{
    for (unsigned i = 0; i < v->nwarned; i++) {
        const struct rule *r = v->warned[i];
        log_info("session=%s qid=%s client=%s stage=%s rule=%s warn=%s: would %s (%s)", s->id,
                 qid(s), s->client, stage_name(stage), rule_ref(r), action_name(rule_action(r)),
                 action_name(rule_action(r)), rule_text(r));
    }
}

sfsistat verdict_answer(SMFICTX *ctx, const struct session *s, enum stage stage,
                        const struct decision *d, bool can_reply)
{
    const struct verdict *v = &d->v;

    if (d->failure != CONN_OK)
        log_failure(s, stage, d);
    else if (d->origin != FLOW_SKIPPED) {
        log_warned(s, stage, v);
        log_decision(s, stage, v);
    }
    switch (d->answer) {
    case ACTION_CONTINUE:
        return SMFIS_CONTINUE;
    case ACTION_ACCEPT:
        return SMFIS_ACCEPT;
    case ACTION_DISCARD:
        return SMFIS_DISCARD;
    case ACTION_REJECT:
        if (v->has_reply && can_reply)
            set_reply(ctx, s, v);
        return SMFIS_REJECT;
    default:
        /* A tempfail, and anything unexpected: never an accept. */
        if (v->has_reply && can_reply)
            set_reply(ctx, s, v);
        return SMFIS_TEMPFAIL;
    }
}
