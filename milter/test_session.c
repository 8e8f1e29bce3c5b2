/*
 * test_session.c: drive the rule engine with an SMTP dialogue read from
 * standard input, without an MTA, and print the replies an MTA would give,
 * each preceded by a comment naming the rule that decided.
 *
 * The engine's connection (rules/conn.h) is the daemon's own; only the SMTP
 * reading and writing, and what an MTA says on its own (greeting, 250s,
 * "need MAIL command"), live here. Nothing is ever delivered.
 */
#include "milter/test_session.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "milter/logfmt.h"
#include "policy/auth/sendauth.h"
#include "policy/content/mime.h"
#include "policy/state/statecheck.h"
#include "rules/conn.h"

#define LINE_MAX_SMTP 4096

struct sim {
    const struct test_session_opts *opts;
    const struct ruleset *rs;
    struct conn *conn;
    FILE *out;
    bool in_mail;
    bool discarding; /* a discard was decided for this message */
};

/* "554-5.7.1 first line" ... "554 5.7.1 last line", as an MTA sends it. */
static void print_reply(FILE *out, const struct verdict *v)
{
    const char *p = v->text;

    for (;;) {
        const char *nl = strchr(p, '\n');
        fprintf(out, "%s%c%s %.*s\n", v->code, nl ? '-' : ' ', v->xcode,
                (int)(nl ? (size_t)(nl - p) : strlen(p)), p);
        if (nl == NULL)
            return;
        p = nl + 1;
    }
}

static void print_comment(struct sim *sim, enum stage stage, const struct decision *d)
{
    const struct verdict *v = &d->v;
    const struct flow *f = conn_flow(sim->conn);

    for (unsigned i = 0; i < v->nwarned; i++)
        fprintf(sim->out, "# %s: rule %s: %s (warn only: would %s)\n", stage_name(stage),
                rule_where(v->warned[i]), rule_text(v->warned[i]), action_name(rule_action(v->warned[i])));
    if (d->failure == CONN_DNS_FAILURE)
        fprintf(sim->out, "# %s: %s\n", stage_name(stage), d->why);
    else if (d->failure != CONN_OK)
        fprintf(sim->out, "# %s: internal error (%s): tempfail\n", stage_name(stage), d->why);
    else if (d->origin == FLOW_SKIPPED)
        fprintf(sim->out, "# %s: accepted earlier: no checks\n", stage_name(stage));
    else if (d->origin == FLOW_DEFERRED)
        fprintf(sim->out, "# %s: rule %s: %s (answered at the next command: no reply text at connect)\n",
                stage_name(stage), rule_where(f->conn_verdict.rule), rule_text(f->conn_verdict.rule));
    else if (d->origin == FLOW_REPEATED)
        fprintf(sim->out, "# %s: refused earlier by rule %s\n", stage_name(stage), rule_where(v->rule));
    else if (v->rule != NULL)
        fprintf(sim->out, "# %s: rule %s: %s\n", stage_name(stage), rule_where(v->rule), rule_text(v->rule));
    else
        fprintf(sim->out, "# %s: no rule matched: continue\n", stage_name(stage));
    if (d->tested[0] != '\0')
        fprintf(sim->out, "#   tested: %s\n", d->tested);
}

/* Print the decision comment and the reply; true when the command was refused. */
static bool print_decision(struct sim *sim, enum stage stage, const struct decision *d, const char *ok_reply)
{
    const struct verdict *v = &d->v;

    print_comment(sim, stage, d);
    switch (d->answer) {
    case ACTION_REJECT:
    case ACTION_TEMPFAIL:
        if (v->has_reply)
            print_reply(sim->out, v);
        else if (d->answer == ACTION_REJECT)
            fprintf(sim->out, "550 5.7.1 Command rejected\n");
        else
            fprintf(sim->out, "451 4.7.1 Service unavailable - try again later\n");
        return true;
    case ACTION_DISCARD:
        fprintf(sim->out, "# the message will be discarded\n");
        sim->discarding = true;
        break;
    default:
        if (v->action == ACTION_ACCEPT && d->origin == FLOW_EVALUATED)
            fprintf(sim->out, "# accepted: no further checks for this %s\n",
                    stage == STAGE_CONNECT || stage == STAGE_HELO ? "connection"
                    : stage == STAGE_RCPT && !rule_unchecked(v->rule) ? "recipient" : "message");
        break;
    }
    if (ok_reply != NULL)
        fprintf(sim->out, "%s\n", ok_reply);
    return false;
}

static const char *arg_after(const char *line, const char *verb)
{
    size_t n = strlen(verb);

    if (strncasecmp(line, verb, n) != 0)
        return NULL;
    line += n;
    while (*line == ' ')
        line++;
    return line;
}

/* The path argument of MAIL FROM / RCPT TO, without ESMTP parameters. */
static void path_arg(const char *arg, char *out, size_t outsz)
{
    const char *end = arg[0] == '<' ? strchr(arg, '>') : strchr(arg, ' ');
    size_t n = end ? (size_t)(end - arg) + (arg[0] == '<') : strlen(arg);

    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, arg, n);
    out[n] = '\0';
}

/* Evaluate one header (name: value, continuation lines joined), the value
   with its leading whitespace as written; true if refused. */
static bool header(struct sim *sim, const char *field)
{
    char name[ENVELOPE_HEADER_NAME_MAX + 1];
    const char *colon = strchr(field, ':');
    size_t n = colon ? (size_t)(colon - field) : 0;
    const char *value = colon ? colon + 1 : "";
    struct decision d;

    if (colon == NULL || n == 0 || n > ENVELOPE_HEADER_NAME_MAX)
        return false; /* not a header: MTAs pass it on as body */
    memcpy(name, field, n);
    name[n] = '\0';
    /* As an MTA that negotiated SMFIP_HDR_LEADSPC: the value as written (conn_new was told). */
    conn_header(sim->conn, name, value, true, &d);
    /* Without header rules the daemon does not even take the step: say nothing. */
    if (!(ruleset_stages(sim->rs) & STAGE_BIT(STAGE_HEADER)) && d.failure == CONN_OK)
        return false;
    return print_decision(sim, STAGE_HEADER, &d, NULL);
}

/* What SPF and DKIM found, as the log and the headers will say it. */
static void print_auth(struct sim *sim)
{
    const struct spf_outcome *o;
    struct sendauth *auth = conn_auth(sim->conn);

    if (auth == NULL)
        return;
    for (int id = SPF_ID_MAILFROM; id <= SPF_ID_HELO; id++)
        if ((o = sendauth_spf_known(auth, (enum spf_identity)id)) != NULL)
            fprintf(sim->out, "# spf (%s): %s%s%s%s%s\n", id == SPF_ID_MAILFROM ? "mail from" : "helo",
                    auth_result_name(o->result), o->domain[0] ? " domain=" : "", o->domain,
                    o->problem[0] ? " problem=" : "", o->problem);
    if (ruleset_uses_dkim(sim->rs)) {
        const struct dkim_outcome *d = sendauth_dkim(auth);
        fprintf(sim->out, "# dkim: %s (%u signature%s)%s%s\n", auth_result_name(d->result), d->nsigs,
                d->nsigs == 1 ? "" : "s", d->problem[0] ? " problem=" : "", d->problem);
        for (unsigned i = 0; i < d->nevaluated && i < DKIM_SIGS_MAX; i++)
            fprintf(sim->out, "# dkim: %s d=%s s=%s a=%s bits=%u%s%s\n", auth_result_name(d->sig[i].result),
                    d->sig[i].domain, d->sig[i].selector, d->sig[i].algorithm, d->sig[i].key_bits,
                    d->sig[i].problem[0] ? " problem=" : "", d->sig[i].problem);
    }
    /* DMARC only when the rules asked for it: a message decided before
       the DMARC rules did not cost its lookups. */
    if (ruleset_uses_dmarc(sim->rs) && sendauth_dmarc_known(auth) != NULL) {
        const struct dmarc_outcome *m = sendauth_dmarc_known(auth);
        fprintf(sim->out, "# dmarc: %s from=%s org=%s policy=%s published=%s%s%s spf_aligned=%s dkim_aligned=%s%s%s\n",
                auth_result_name(m->result), m->from_domain[0] ? m->from_domain : "-",
                m->org_domain[0] ? m->org_domain : "-", dmarc_disposition_name(m->policy),
                m->policy_tag[0] ? dmarc_disposition_name(m->published) : "-", m->policy_tag[0] ? " tag=" : "",
                m->policy_tag, m->spf_aligned ? "yes" : "no", m->dkim_aligned ? "yes" : "no",
                m->problem[0] ? " problem=" : "", m->problem);
    }
}

/* The MIME tree and the content facts the rules saw (names escaped). */
static void print_mime(struct sim *sim)
{
    const struct mime_facts *m = conn_envelope(sim->conn)->mime;
    char q[LOGFMT_BUF];

    if (m == NULL || !m->parsed)
        return;
    for (unsigned i = 0; i < m->nparts; i++) {
        const struct mime_part *p = &m->parts[i];
        fprintf(sim->out, "# mime: %*s%s", (int)(2 * (p->depth > 30 ? 30 : p->depth)), "", p->type);
        if (p->name != NULL)
            fprintf(sim->out, " name=%s ext=%s", logfmt_quoted(p->name, q, sizeof q), p->ext[0] ? p->ext : "-");
        if (p->leaf)
            fprintf(sim->out, " size=%zu", p->size);
        if (p->detected_type[0] != '\0')
            fprintf(sim->out, " detected=%s%s", p->detected_type, p->type_mismatch ? " (mismatch)" : "");
        for (unsigned k = 0; k < p->nmembers; k++)
            fprintf(sim->out, " member=%s", logfmt_quoted(p->members[k], q, sizeof q));
        fprintf(sim->out, "\n");
    }
    fprintf(sim->out, "# mime: parts=%u depth=%u attachments=%u text=%zu bytes limit=%s anomalies=",
            m->nparts, m->depth, mime_attachment_count(m), m->text_len, m->limit[0] ? m->limit : "none");
    for (unsigned i = 0; i < m->nanomalies; i++)
        fprintf(sim->out, "%s%s", i ? "," : "", m->anomalies[i]);
    fprintf(sim->out, "%s\n", m->nanomalies ? "" : "none");
}

static void print_edits(struct sim *sim, const struct conn_edit *edits, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct conn_edit *e = &edits[i];
        const char *v = e->value ? e->value : "";
        if (e->kind == EDIT_REMOVE_FORGED)
            fprintf(sim->out, "# eom: remove %zu Authentication-Results header%s claiming %s\n", e->count,
                    e->count == 1 ? "" : "s", v);
        else
            fprintf(sim->out, "# eom: %s%s%s%s%s (rule %s)\n", action_name(e->action), e->name ? " " : "",
                    e->name ? e->name : "", v[0] ? (e->name ? ": " : " ") : "", v, rule_where(e->rule));
    }
}

/* Headers up to the first empty line, then the body up to ".". */
static bool read_message(struct sim *sim, FILE *in)
{
    char line[LINE_MAX_SMTP], field[ENVELOPE_HEADER_VALUE_MAX + 256] = "";
    bool in_headers = true, refused = false;

    while (fgets(line, sizeof line, in) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strcmp(line, ".") == 0)
            break;
        if (!in_headers && !refused) {
            /* The body as the MTA passes it: CRLF line ends, dot-stuffing undone. */
            const char *b = line[0] == '.' ? line + 1 : line;
            conn_body(sim->conn, (const unsigned char *)b, strlen(b));
            conn_body(sim->conn, (const unsigned char *)"\r\n", 2);
        }
        if (!in_headers || refused)
            continue;
        if ((line[0] == ' ' || line[0] == '\t') && field[0] != '\0') {
            strncat(field, "\n", sizeof field - strlen(field) - 1);
            strncat(field, line, sizeof field - strlen(field) - 1);
            continue;
        }
        if (field[0] != '\0')
            refused = header(sim, field);
        field[0] = '\0';
        if (line[0] == '\0')
            in_headers = false;
        else
            snprintf(field, sizeof field, "%s", line);
    }
    if (field[0] != '\0' && !refused)
        refused = header(sim, field);
    return refused;
}

static void read_data(struct sim *sim, FILE *in)
{
    struct decision d;
    const struct conn_edit *edits;
    size_t nedits;

    if (conn_envelope(sim->conn)->rcpt_count == 0) {
        fprintf(sim->out, "554 5.5.1 Error: no valid recipients\n");
        return;
    }
    conn_data(sim->conn, &d);
    if (!print_decision(sim, STAGE_DATA, &d, "354 End data with <CR><LF>.<CR><LF>") && !read_message(sim, in)) {
        conn_eoh(sim->conn, &d);
        if (!print_decision(sim, STAGE_EOH, &d, NULL)) {
            conn_eom(sim->conn, &d, &edits, &nedits);
            print_auth(sim);
            print_mime(sim);
            print_edits(sim, edits, nedits);
            print_decision(sim, STAGE_EOM, &d, "250 2.0.0 Ok: queued (test session: nothing delivered)");
        }
    }
    conn_abort(sim->conn); /* the message is done, whatever became of it */
    sim->in_mail = false;
}

/* ESMTP parameters after the path: "SIZE=1234 BODY=8BITMIME". */
static void mail_params(const char *rest, char *buf, size_t bufsz, char **params, int max)
{
    char *save = NULL;
    int n = 0;

    snprintf(buf, bufsz, "%s", rest);
    for (char *t = strtok_r(buf, " ", &save); t != NULL && n < max - 1; t = strtok_r(NULL, " ", &save))
        params[n++] = t;
    params[n] = NULL;
}

/* What the greylist check of this recipient found, after its reply. */
static void print_greylist(FILE *out, const struct greylist_outcome *g)
{
    fprintf(out, "#   greylist: %s, %s, network %s", greylist_verdict_name(g->verdict),
            greylist_reason_text(g->reason), g->network);
    if (g->verdict == GREYLIST_TEMPFAIL)
        fprintf(out, ", %ld s to wait", g->seconds_left);
    else if (g->verdict == GREYLIST_ERROR)
        fprintf(out, " (%s)", g->why != NULL ? g->why : "store error");
    fprintf(out, "\n");
}

static void mail_from(struct sim *sim, const char *arg)
{
    char path[1024], buf[512], *params[16];
    struct decision d;

    path_arg(arg, path, sizeof path);
    mail_params(arg + strlen(path), buf, sizeof buf, params, 16);
    sim->discarding = false;
    conn_mail(sim->conn, path, params, sim->opts->auth_user, true, &d);
    sim->in_mail = !print_decision(sim, STAGE_MAIL, &d, "250 2.1.0 Ok");
}

static void rcpt_to(struct sim *sim, const char *arg)
{
    char path[1024];
    struct decision d;
    struct statecheck *state = conn_state(sim->conn);
    unsigned greylisted = statecheck_greylist_checks(state);

    if (!sim->in_mail) {
        fprintf(sim->out, "503 5.5.1 Error: need MAIL command\n");
        return;
    }
    path_arg(arg, path, sizeof path);
    conn_rcpt(sim->conn, path, true, &d);
    print_decision(sim, STAGE_RCPT, &d, "250 2.1.5 Ok");
    if (statecheck_greylist_checks(state) != greylisted)
        print_greylist(sim->out, statecheck_last_greylist(state));
}

static int command(struct sim *sim, const char *line, FILE *in)
{
    const char *arg;
    struct decision d;

    if ((arg = arg_after(line, "EHLO")) != NULL || (arg = arg_after(line, "HELO")) != NULL) {
        conn_helo(sim->conn, arg, true, &d);
        print_decision(sim, STAGE_HELO, &d, "250 mxguard-test-session");
    } else if ((arg = arg_after(line, "MAIL FROM:")) != NULL) {
        mail_from(sim, arg);
    } else if ((arg = arg_after(line, "RCPT TO:")) != NULL) {
        rcpt_to(sim, arg);
    } else if (strcasecmp(line, "DATA") == 0) {
        read_data(sim, in);
    } else if (strcasecmp(line, "RSET") == 0) {
        conn_abort(sim->conn);
        sim->in_mail = false;
        fprintf(sim->out, "250 2.0.0 Ok\n");
    } else if (strcasecmp(line, "NOOP") == 0) {
        fprintf(sim->out, "250 2.0.0 Ok\n");
    } else if (strcasecmp(line, "QUIT") == 0) {
        fprintf(sim->out, "221 2.0.0 Bye\n");
        return 1;
    } else if (line[0] != '\0') {
        fprintf(sim->out, "502 5.5.2 Error: command not recognized\n");
    }
    return 0;
}

/* The MTA macros given with --macro NAME=VALUE. */
static const char *sim_macro(void *ctx, const char *name)
{
    const struct test_session_opts *o = ctx;
    size_t n = strlen(name);

    for (int i = 0; i < o->nmacros; i++)
        if (strncmp(o->macros[i], name, n) == 0 && o->macros[i][n] == '=')
            return o->macros[i] + n + 1;
    return NULL;
}

int test_session_run(const struct ruleset *rs, const struct test_session_opts *o, FILE *in, FILE *out)
{
    struct sim sim = { .opts = o, .rs = rs, .out = out };
    struct conn_services svc = { o->resolver, o->dns_budget_ms, o->auth, o->state, o->clamd };
    struct decision d;
    struct ipaddr ip;
    char name[128], line[LINE_MAX_SMTP];
    const char *error;

    if (ipaddr_parse(o->client_addr, &ip) < 0) {
        fprintf(stderr, "mxguard: --test-session: \"%s\" is not an IPv4 or IPv6 address\n", o->client_addr);
        return 2;
    }
    if ((sim.conn = conn_new(ruleset_ref((struct ruleset *)rs), &svc, &error)) == NULL) {
        fprintf(stderr, "mxguard: --test-session: %s\n", error);
        return 1;
    }
    if (ruleset_uses_state(rs) && (o->state == NULL || o->state->store == NULL))
        fprintf(out, "# the rules greylist or test rate limits, but no --store was given: those checks are "
                     "skipped\n");
    conn_set_macros(sim.conn, sim_macro, (void *)o);
    conn_set_header_leadspace(sim.conn, true); /* the transcript has the exact bytes */
    conn_set_explain(sim.conn, true);
    snprintf(name, sizeof name, "[%s]", o->client_addr);
    conn_connect(sim.conn, o->client_name ? o->client_name : name, &ip, &d);
    /* libmilter cannot refuse at connect with the admin's text: the MTA
       greets, and the refusal answers the commands that follow. */
    if (!print_decision(&sim, STAGE_CONNECT, &d, "220 mxguard-test-session ESMTP") ||
        !conn_flow(sim.conn)->conn_refused) {
        while (fgets(line, sizeof line, in) != NULL) {
            line[strcspn(line, "\r\n")] = '\0';
            if (line[0] == '#')
                continue; /* comments let a dialogue file explain itself */
            if (command(&sim, line, in))
                break;
        }
    }
    conn_free(sim.conn);
    return 0;
}
