/*
 * test_session.c: drive the rule engine with an SMTP dialogue read from
 * standard input, without an MTA, and print the replies an MTA would give,
 * each preceded by a comment naming the rule that decided.
 *
 * The engine is the daemon's own; only the SMTP reading and writing live
 * here. Nothing is ever delivered.
 */
#include "milter/test_session.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "milter/auth_setup.h"
#include "policy/auth/authres.h"
#include "policy/dns/dnscache.h"
#include "policy/auth/sendauth.h"
#include "rules/flow.h"

#define LINE_MAX_SMTP 4096

struct sim {
    const struct test_session_opts *opts;
    const struct ruleset *rs;
    struct envelope env;
    struct flow flow;
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

/* Print the decision comment and the reply; true when the command was refused. */
static bool decide_verdict(struct sim *sim, enum stage stage, const struct verdict *vp,
                           enum flow_origin origin, const char *ok_reply);

static bool decide(struct sim *sim, enum stage stage, const char *ok_reply)
{
    struct verdict v;
    enum flow_origin origin;

    switch (flow_eval(&sim->flow, sim->rs, stage, stage != STAGE_CONNECT, &sim->env, &v, &origin)) {
    case 0:
        break;
    case FLOW_DNS_FAILURE:
        fprintf(sim->out, "# %s: a DNS list did not answer (on-error tempfail)\n451 4.4.3 Temporary DNS failure, please try again later\n",
                stage_name(stage));
        return true;
    default:
        fprintf(sim->out, "# %s: internal error: tempfail\n451 4.3.0 Temporary local problem, please try again later\n",
                stage_name(stage));
        return true;
    }
    return decide_verdict(sim, stage, &v, origin, ok_reply);
}

static bool decide_verdict(struct sim *sim, enum stage stage, const struct verdict *vp,
                           enum flow_origin origin, const char *ok_reply)
{
    const struct verdict *v = vp;

    for (unsigned i = 0; i < v->nwarned; i++)
        fprintf(sim->out, "# %s: rule %s: %s (warn only: would %s)\n", stage_name(stage),
                rule_where(v->warned[i]), rule_text(v->warned[i]), action_name(rule_action(v->warned[i])));
    if (origin == FLOW_SKIPPED)
        fprintf(sim->out, "# %s: accepted earlier: no checks\n", stage_name(stage));
    else if (origin == FLOW_DEFERRED)
        fprintf(sim->out, "# %s: rule %s: %s (answered at the next command: no reply text at connect)\n",
                stage_name(stage), rule_where(sim->flow.conn_verdict.rule), rule_text(sim->flow.conn_verdict.rule));
    else if (origin == FLOW_REPEATED)
        fprintf(sim->out, "# %s: refused earlier by rule %s\n", stage_name(stage), rule_where(v->rule));
    else if (v->rule != NULL)
        fprintf(sim->out, "# %s: rule %s: %s\n", stage_name(stage), rule_where(v->rule), rule_text(v->rule));
    else
        fprintf(sim->out, "# %s: no rule matched: continue\n", stage_name(stage));
    if (origin == FLOW_EVALUATED && v->rule != NULL) {
        char facts[600];
        rule_explain(v->rule, &sim->env, facts, sizeof facts);
        if (facts[0] != '\0')
            fprintf(sim->out, "#   tested: %s\n", facts);
    }
    switch (v->action) {
    case ACTION_REJECT:
    case ACTION_TEMPFAIL:
        if (v->has_reply)
            print_reply(sim->out, v);
        else if (v->action == ACTION_REJECT)
            fprintf(sim->out, "550 5.7.1 Command rejected\n");
        else
            fprintf(sim->out, "451 4.7.1 Service unavailable - try again later\n");
        return true;
    case ACTION_DISCARD:
        fprintf(sim->out, "# the message will be discarded\n");
        sim->discarding = true;
        break;
    case ACTION_ACCEPT:
        if (origin == FLOW_EVALUATED)
            fprintf(sim->out, "# accepted: no further checks for this %s\n",
                    stage == STAGE_CONNECT || stage == STAGE_HELO ? "connection" : "message");
        break;
    default:
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

/* Evaluate one header (name: value, continuation lines joined); true if refused. */
static bool header(struct sim *sim, const char *field)
{
    char name[ENVELOPE_HEADER_NAME_MAX + 1];
    const char *colon = strchr(field, ':');
    size_t n = colon ? (size_t)(colon - field) : 0;
    const char *value = colon ? colon + 1 : "";

    if (colon == NULL || n == 0 || n > ENVELOPE_HEADER_NAME_MAX)
        return false; /* not a header: MTAs pass it on as body */
    memcpy(name, field, n);
    name[n] = '\0';
    while (*value == ' ')
        value++; /* the MTA strips the space after the colon */
    envelope_set_header(&sim->env, name, value);
    if (sim->env.auth != NULL)
        sendauth_header(sim->env.auth, name, value);
    /* Like the daemon, which then does not even take the header step. */
    if (!(ruleset_stages(sim->rs) & STAGE_BIT(STAGE_HEADER)))
        return false;
    return decide(sim, STAGE_HEADER, NULL);
}

/* What SPF and DKIM found, as the log and the headers will say it. */
static void print_auth(struct sim *sim)
{
    const struct spf_outcome *o;
    size_t nforged;
    bool overflow;

    if (sim->env.auth == NULL)
        return;
    for (int id = SPF_ID_MAILFROM; id <= SPF_ID_HELO; id++)
        if ((o = sendauth_spf_known(sim->env.auth, (enum spf_identity)id)) != NULL)
            fprintf(sim->out, "# spf (%s): %s%s%s%s%s\n", id == SPF_ID_MAILFROM ? "mail from" : "helo",
                    auth_result_name(o->result), o->domain[0] ? " domain=" : "", o->domain,
                    o->problem[0] ? " problem=" : "", o->problem);
    if (ruleset_uses_dkim(sim->rs)) {
        const struct dkim_outcome *d = sendauth_dkim(sim->env.auth);
        fprintf(sim->out, "# dkim: %s (%u signature%s)%s%s\n", auth_result_name(d->result), d->nsigs,
                d->nsigs == 1 ? "" : "s", d->problem[0] ? " problem=" : "", d->problem);
        for (unsigned i = 0; i < d->nevaluated && i < DKIM_SIGS_MAX; i++)
            fprintf(sim->out, "# dkim: %s d=%s s=%s a=%s bits=%u%s%s\n", auth_result_name(d->sig[i].result),
                    d->sig[i].domain, d->sig[i].selector, d->sig[i].algorithm, d->sig[i].key_bits,
                    d->sig[i].problem[0] ? " problem=" : "", d->sig[i].problem);
    }
    sendauth_forged(sim->env.auth, &nforged, &overflow);
    if (ruleset_adds_authres(sim->rs) && nforged > 0)
        fprintf(sim->out, "# eom: remove %zu Authentication-Results header%s claiming %s%s\n", nforged,
                nforged == 1 ? "" : "s", sendauth_authserv_id(sim->env.auth), overflow ? " (too many: tempfail)" : "");
}

static void print_effects(struct sim *sim)
{
    char value[AUTHRES_VALUE_MAX];

    for (unsigned i = 0; i < sim->flow.neffects; i++) {
        const struct effect *e = &sim->flow.effects[i];
        const char *name = e->name, *v = e->value;
        if (e->action == ACTION_AUTH_RESULTS || e->action == ACTION_RECEIVED_SPF)
            v = auth_header(sim->env.auth, &sim->env, e->action, &name, value, sizeof value) == 0
                    ? value : "(not available: tempfail)";
        fprintf(sim->out, "# eom: %s%s%s%s%s (rule %s)\n", action_name(e->action), name ? " " : "",
                name ? name : "", v[0] ? (name ? ": " : " ") : "", v, rule_where(e->rule));
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
        if (!in_headers && !refused && sim->env.auth != NULL) {
            /* The body as the MTA passes it: CRLF line ends, dot-stuffing undone. */
            const char *b = line[0] == '.' ? line + 1 : line;
            sendauth_body(sim->env.auth, (const unsigned char *)b, strlen(b));
            sendauth_body(sim->env.auth, (const unsigned char *)"\r\n", 2);
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
    if (sim->env.rcpt_count == 0) {
        fprintf(sim->out, "554 5.5.1 Error: no valid recipients\n");
        return;
    }
    if (decide(sim, STAGE_DATA, "354 End data with <CR><LF>.<CR><LF>"))
        return;
    if (!read_message(sim, in) && !decide(sim, STAGE_EOH, NULL)) {
        struct verdict v;
        enum flow_origin origin;
        int rc = flow_eval(&sim->flow, sim->rs, STAGE_EOM, true, &sim->env, &v, &origin);
        if (rc == FLOW_DNS_FAILURE) {
            fprintf(sim->out, "# eom: a DNS list did not answer (on-error tempfail)\n451 4.4.3 Temporary DNS failure, please try again later\n");
        } else if (rc != 0) {
            fprintf(sim->out, "# eom: internal error: tempfail\n451 4.3.0 Temporary local problem, please try again later\n");
        } else {
            /* Effects apply only to a message that is accepted. */
            print_auth(sim);
            if (origin != FLOW_SKIPPED && (v.action == ACTION_NONE || v.action == ACTION_CONTINUE ||
                                           v.action == ACTION_ACCEPT))
                print_effects(sim);
            decide_verdict(sim, STAGE_EOM, &v, origin, "250 2.0.0 Ok: queued (test session: nothing delivered)");
        }
    }
    envelope_reset_message(&sim->env);
    flow_new_message(&sim->flow, &sim->env);
    sendauth_new_message(sim->env.auth);
    sim->in_mail = false;
}

/* ESMTP parameters after the path: "SIZE=1234 BODY=8BITMIME". */
static void mail_params(struct envelope *env, const char *rest)
{
    char buf[512], *params[16], *save = NULL;
    int n = 0;

    snprintf(buf, sizeof buf, "%s", rest);
    for (char *t = strtok_r(buf, " ", &save); t != NULL && n < 15; t = strtok_r(NULL, " ", &save))
        params[n++] = t;
    params[n] = NULL;
    envelope_set_mail_params(env, params);
}

/* What the greylist check of this recipient found, after its reply. */
static void print_greylist(FILE *out, const struct greylist_outcome *g)
{
    fprintf(out, "#   greylist: %s, %s, network %s", g->verdict == GREYLIST_PASS ? "pass" :
                 g->verdict == GREYLIST_TEMPFAIL ? "tempfail" : "error",
            greylist_reason_text(g->reason), g->network);
    if (g->verdict == GREYLIST_TEMPFAIL)
        fprintf(out, ", %ld s to wait", g->seconds_left);
    else if (g->verdict == GREYLIST_ERROR)
        fprintf(out, " (%s)", g->why != NULL ? g->why : "store error");
    fprintf(out, "\n");
}

static int command(struct sim *sim, const char *line, FILE *in)
{
    char path[1024];
    const char *arg;
    bool refused;

    if ((arg = arg_after(line, "EHLO")) != NULL || (arg = arg_after(line, "HELO")) != NULL) {
        envelope_set_helo(&sim->env, arg);
        decide(sim, STAGE_HELO, "250 mxguard-test-session");
    } else if ((arg = arg_after(line, "MAIL FROM:")) != NULL) {
        envelope_reset_message(&sim->env);
        flow_new_message(&sim->flow, &sim->env);
        if (sim->env.dns != NULL)
            dns_cache_new_message(sim->env.dns);
        sendauth_new_message(sim->env.auth);
        sim->discarding = false;
        path_arg(arg, path, sizeof path);
        envelope_set_sender(&sim->env, path);
        mail_params(&sim->env, arg + strlen(path));
        sim->in_mail = !decide(sim, STAGE_MAIL, "250 2.1.0 Ok");
    } else if ((arg = arg_after(line, "RCPT TO:")) != NULL) {
        if (!sim->in_mail) {
            fprintf(sim->out, "503 5.5.1 Error: need MAIL command\n");
            return 0;
        }
        path_arg(arg, path, sizeof path);
        envelope_set_rcpt(&sim->env, path);
        unsigned greylisted = statecheck_greylist_checks(sim->env.state);
        refused = decide(sim, STAGE_RCPT, "250 2.1.5 Ok");
        if (statecheck_greylist_checks(sim->env.state) != greylisted)
            print_greylist(sim->out, statecheck_last_greylist(sim->env.state));
        /* A discard at RCPT drops the message: not a recipient that counts. */
        envelope_rcpt_done(&sim->env, !refused && !sim->discarding);
    } else if (strcasecmp(line, "DATA") == 0) {
        read_data(sim, in);
    } else if (strcasecmp(line, "RSET") == 0) {
        envelope_reset_message(&sim->env);
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
    struct ipaddr ip;
    char name[128], line[LINE_MAX_SMTP];
    int rc = 0;

    if (ipaddr_parse(o->client_addr, &ip) < 0) {
        fprintf(stderr, "mxguard: --test-session: \"%s\" is not an IPv4 or IPv6 address\n", o->client_addr);
        return 2;
    }
    envelope_init(&sim.env);
    if (o->resolver != NULL && (sim.env.dns = dns_cache_new(o->resolver, o->dns_budget_ms)) == NULL)
        return 1;
    if (o->auth != NULL && (ruleset_uses_spf(rs) || ruleset_uses_dkim(rs)) &&
        (sim.env.auth = sendauth_new(o->auth, ruleset_uses_dkim(rs))) == NULL) {
        dns_cache_free(sim.env.dns);
        return 1;
    }
    if (ruleset_uses_state(rs) && (o->state == NULL || o->state->store == NULL))
        fprintf(out, "# the rules greylist or test rate limits, but no --store was given: those checks are "
                     "skipped\n");
    else if (ruleset_uses_state(rs) && (sim.env.state = statecheck_new(o->state)) == NULL) {
        dns_cache_free(sim.env.dns);
        sendauth_free(sim.env.auth);
        return 1;
    }
    sim.env.macro = sim_macro;
    sim.env.macro_ctx = (void *)o;
    flow_init(&sim.flow);
    snprintf(name, sizeof name, "[%s]", o->client_addr);
    if (envelope_set_client(&sim.env, o->client_name ? o->client_name : name, &ip) < 0 ||
        envelope_set_auth_user(&sim.env, o->auth_user) < 0) {
        dns_cache_free(sim.env.dns);
        sendauth_free(sim.env.auth);
        statecheck_free(sim.env.state);
        envelope_free(&sim.env);
        return 1;
    }
    /* libmilter cannot refuse at connect with the admin's text: the MTA
       greets, and the refusal answers the commands that follow. */
    if (!decide(&sim, STAGE_CONNECT, "220 mxguard-test-session ESMTP") || !sim.flow.conn_refused) {
        while (fgets(line, sizeof line, in) != NULL) {
            line[strcspn(line, "\r\n")] = '\0';
            if (line[0] == '#')
                continue; /* comments let a dialogue file explain itself */
            if (command(&sim, line, in))
                break;
        }
    }
    dns_cache_free(sim.env.dns);
    sendauth_free(sim.env.auth);
    statecheck_free(sim.env.state);
    envelope_free(&sim.env);
    flow_free(&sim.flow);
    return rc;
}
