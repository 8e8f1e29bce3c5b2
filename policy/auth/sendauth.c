/*
 * sendauth.c: SPF, DKIM and DMARC results of one session, and the
 * headers that report them.
 *
 * Evaluated on first use, so a client that a rule exempts before any SPF
 * condition (trusted networks, authenticated users) costs no DNS. A check
 * that cannot run (no resolver, no memory) reads as temperror, never as
 * fail or none: the rules tempfail on it rather than misread it.
 */
#include "policy/auth/sendauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/auth/authres.h"
#include "policy/auth/dkim_sign.h"
#include "policy/dns/dnscache.h"
#include "policy/monotime.h"

struct sendauth {
    const struct sendauth_config *cfg;
    bool want_dkim;
    bool spf_done[2];                    /* by enum spf_identity */
    struct spf_outcome spf[2];
    char spf_helo[ENVELOPE_NAME_MAX + 1];/* the HELO the HELO outcome is for */
    struct dkim_check *dkim;             /* this message's, from its first header */
    bool dkim_failed;                    /* could not be set up: temperror */
    bool dkim_done;
    bool eoh_done;                       /* the headers were closed for DKIM */
    struct dkim_outcome dkim_out;
    struct dmarc_from from;              /* this message's From: fields */
    bool dmarc_done;
    struct dmarc_outcome dmarc_out;
    unsigned ar_seen;                    /* Authentication-Results headers so far */
    unsigned *forged;                    /* positions of those claiming our id */
    size_t nforged, capforged;
    bool forged_overflow;
    unsigned long spf_us, dkim_us, dmarc_us; /* running totals, for records */
    const struct dkim_signer *signer;    /* the rule set's keys (dkim-sign), or NULL */
    struct dkim_sign_msg *sign;          /* this message's signing, from its first header */
    bool sign_failed;                    /* could not be set up */
    struct dkim_sign_outcome signed_out; /* what a dkim-sign effect made */
};

struct sendauth *sendauth_new(const struct sendauth_config *cfg, bool want_dkim)
{
    struct sendauth *a = calloc(1, sizeof *a);

    if (a != NULL) {
        a->cfg = cfg;
        a->want_dkim = want_dkim;
        dmarc_from_init(&a->from);
    }
    return a;
}

void sendauth_new_message(struct sendauth *a)
{
    if (a == NULL)
        return;
    a->spf_done[SPF_ID_MAILFROM] = false;
    dkim_check_free(a->dkim);
    a->dkim = NULL;
    a->dkim_failed = a->dkim_done = a->eoh_done = false;
    dmarc_from_init(&a->from);
    a->dmarc_done = false;
    free(a->forged);
    a->forged = NULL;
    a->nforged = a->capforged = 0;
    a->forged_overflow = false;
    a->ar_seen = 0;
    dkim_sign_msg_free(a->sign);
    a->sign = NULL;
    a->sign_failed = false;
    memset(&a->signed_out, 0, sizeof a->signed_out);
}

void sendauth_free(struct sendauth *a)
{
    if (a == NULL)
        return;
    sendauth_new_message(a);
    free(a);
}

const char *sendauth_authserv_id(const struct sendauth *a)
{
    return a->cfg->authserv_id;
}

/* The domain an identity names, for replies about a check that could not run. */
static void identity_domain(const struct envelope *env, enum spf_identity id, char *out, size_t outsz)
{
    bool mailfrom = id == SPF_ID_MAILFROM && env->sender.ok && !env->sender.addr.is_null;

    snprintf(out, outsz, "%.*s", mailfrom ? (int)env->sender.addr.domain_len : (int)env->helo_info.domain_len,
             mailfrom ? env->sender.addr.domain : env->helo_info.domain);
}

static void temperror(struct spf_outcome *o, const struct envelope *env, enum spf_identity id, const char *why)
{
    memset(o, 0, sizeof *o);
    o->result = AUTH_TEMPERROR;
    o->identity = id;
    identity_domain(env, id, o->domain, sizeof o->domain);
    snprintf(o->problem, sizeof o->problem, "%s", why);
}

/* The sender as SPF wants it: local@domain, "" for the null sender. */
static const char *spf_sender(const struct envelope *env)
{
    return envelope_path_text(&env->sender);
}

const struct spf_outcome *sendauth_spf(struct sendauth *a, const struct envelope *env,
                                       enum spf_identity id)
{
    /* A session without sender authentication (a rule file's own tests):
       scratch for this call only, so per thread. */
    static _Thread_local struct spf_outcome none_known;
    const char *helo = env->helo.s ? env->helo.s : "";

    if (a == NULL) {
        temperror(&none_known, env, id, "sender authentication is not set up");
        return &none_known;
    }
    if (id == SPF_ID_HELO && a->spf_done[id] && strcmp(a->spf_helo, helo) != 0)
        a->spf_done[id] = false; /* a new HELO is a new identity */
    if (a->spf_done[id])
        return &a->spf[id];
    if (a->cfg->spf == NULL || !env->have_client_ip)
        temperror(&a->spf[id], env, id, a->cfg->spf == NULL ? "no DNS resolver" : "no client address");
    else
    {
        long long t0 = monotime_us();
        spf_check(a->cfg->spf, &env->client_ip, helo, spf_sender(env), id, &a->spf[id]);
        a->spf_us += (unsigned long)(monotime_us() - t0);
    }
    if (id == SPF_ID_HELO)
        snprintf(a->spf_helo, sizeof a->spf_helo, "%s", helo);
    a->spf_done[id] = true;
    return &a->spf[id];
}

const struct spf_outcome *sendauth_spf_known(const struct sendauth *a, enum spf_identity id)
{
    return a != NULL && a->spf_done[id] ? &a->spf[id] : NULL;
}

static int note_forged(struct sendauth *a)
{
    if (a->nforged == SENDAUTH_FORGED_MAX) {
        a->forged_overflow = true;
        return 0;
    }
    if (a->nforged == a->capforged) {
        size_t cap = a->capforged ? 2 * a->capforged : 4;
        unsigned *grown = realloc(a->forged, cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        a->forged = grown;
        a->capforged = cap;
    }
    a->forged[a->nforged++] = a->ar_seen;
    return 0;
}

static int dkim_start(struct sendauth *a)
{
    if (a->dkim != NULL || a->dkim_failed || a->cfg->dkim == NULL)
        return 0;
    if ((a->dkim = dkim_check_new(a->cfg->dkim, "mxguard")) == NULL) {
        a->dkim_failed = true;
        return -1;
    }
    return 0;
}

/* A signing for this message, when the rules sign (the first header starts it). */
static int sign_start(struct sendauth *a)
{
    if (a->sign != NULL || a->sign_failed || dkim_signer_count(a->signer) == 0)
        return 0; /* an empty key table: nothing to start, nothing kept */
    if ((a->sign = dkim_sign_msg_new(a->signer, &a->from)) == NULL) {
        a->sign_failed = true;
        return -1;
    }
    return 0;
}

void sendauth_set_signer(struct sendauth *a, const struct dkim_signer *s)
{
    a->signer = s;
}

int sendauth_dkim_sign(struct sendauth *a, const char *selector, const char **values, size_t *n,
                       const char **why_r)
{
    long long t0 = monotime_us();
    int rc = 0;

    *n = 0;
    a->signed_out.done = true;
    if (a->signer == NULL || a->sign_failed || sendauth_eoh(a) < 0) {
        snprintf(a->signed_out.why, sizeof a->signed_out.why, "signing is not set up");
        *why_r = "DKIM signing could not be set up";
        rc = -1;
    } else if (a->sign == NULL) {
        snprintf(a->signed_out.why, sizeof a->signed_out.why, "the key table has no lines");
    } else if (dkim_sign_msg_finish(a->sign, selector, values, n, &a->signed_out) < 0) {
        *why_r = "DKIM signing failed";
        rc = -1;
    }
    a->dkim_us += (unsigned long)(monotime_us() - t0);
    return rc;
}

const struct dkim_sign_outcome *sendauth_dkim_signed(const struct sendauth *a)
{
    return a != NULL && a->signed_out.done ? &a->signed_out : NULL;
}

/*
 * The value as it was on the wire, which is what was signed. MTAs pass
 * folded lines with a bare LF: simple canonicalization needs the CR back.
 * Without SMFIP_HDR_LEADSPC (wire false) postfix and sendmail eat one
 * space after the colon, if there is one, and nothing else: one is put
 * back, unless the value starts with a tab. A field written without a
 * space after the colon ("To:b@example.org"), or with a space and then a
 * tab, cannot be told apart, and its c=simple signature fails.
 */
static char *wire_value(const char *value, bool wire)
{
    size_t len = strlen(value), o = 0;
    char *w = malloc(2 * len + 2);

    if (w == NULL)
        return NULL;
    if (!wire && value[0] != '\t')
        w[o++] = ' ';
    for (size_t i = 0; i < len; i++) {
        if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
            w[o++] = '\r';
        w[o++] = value[i];
    }
    w[o] = '\0';
    return w;
}

int sendauth_header(struct sendauth *a, const char *name, const char *value, bool wire)
{
    const char *text = value + strspn(value, " \t");
    char *w;
    int rc;

    if (strcasecmp(name, "Authentication-Results") == 0) {
        a->ar_seen++;
        if (a->cfg->authserv_id != NULL && authres_claims(text, strlen(text), a->cfg->authserv_id) &&
            note_forged(a) < 0)
            return -1;
    }
    if (strcasecmp(name, "From") == 0)
        dmarc_from_add(&a->from, value, strlen(value));
    if (sign_start(a) < 0)
        return -1;
    if (a->want_dkim && dkim_start(a) < 0)
        return -1;
    if (a->dkim == NULL && a->sign == NULL)
        return 0;
    if ((w = wire_value(value, wire)) == NULL)
        return -1;
    rc = a->dkim != NULL ? dkim_check_header(a->dkim, name, w) : 0;
    if (rc == 0 && a->sign != NULL)
        rc = dkim_sign_msg_header(a->sign, name, w);
    free(w);
    return rc;
}

int sendauth_eoh(struct sendauth *a)
{
    if (a->eoh_done || (!a->want_dkim && dkim_signer_count(a->signer) == 0))
        return 0;
    a->eoh_done = true;
    if (sign_start(a) < 0 || (a->sign != NULL && dkim_sign_msg_eoh(a->sign) < 0))
        return -1;
    if (!a->want_dkim)
        return 0;
    if (dkim_start(a) < 0)
        return -1;
    return a->dkim != NULL ? dkim_check_eoh(a->dkim) : 0;
}

int sendauth_body(struct sendauth *a, const unsigned char *data, size_t len)
{
    long long t0 = monotime_us();
    int rc;

    if (sendauth_eoh(a) < 0)
        return -1;
    rc = a->dkim != NULL ? dkim_check_body(a->dkim, data, len) : 0;
    if (rc == 0 && a->sign != NULL)
        rc = dkim_sign_msg_body(a->sign, data, len);
    a->dkim_us += (unsigned long)(monotime_us() - t0);
    return rc;
}

const struct dkim_outcome *sendauth_dkim(struct sendauth *a)
{
    static struct dkim_outcome unavailable = { .result = AUTH_TEMPERROR, .problem = "DKIM is not set up" };

    if (a == NULL || !a->want_dkim)
        return &unavailable;
    if (!a->dkim_done) {
        long long t0 = monotime_us();
        memset(&a->dkim_out, 0, sizeof a->dkim_out);
        if (sendauth_eoh(a) == 0 && a->dkim != NULL) {
            dkim_check_eom(a->dkim, &a->dkim_out);
        } else {
            a->dkim_out.result = AUTH_TEMPERROR;
            snprintf(a->dkim_out.problem, sizeof a->dkim_out.problem, "%s",
                     a->cfg->dkim == NULL ? "no DNS resolver" : "out of memory");
        }
        a->dkim_done = true;
        a->dkim_us += (unsigned long)(monotime_us() - t0);
    }
    return &a->dkim_out;
}

const struct dkim_outcome *sendauth_dkim_known(const struct sendauth *a)
{
    return a != NULL && a->dkim_done ? &a->dkim_out : NULL;
}

const struct dmarc_outcome *sendauth_dmarc(struct sendauth *a, const struct envelope *env)
{
    static _Thread_local struct dmarc_outcome unavailable;

    if (a == NULL) {
        memset(&unavailable, 0, sizeof unavailable);
        unavailable.result = AUTH_TEMPERROR;
        unavailable.p = unavailable.sp = unavailable.np = -1;
        unavailable.pct = 100;
        snprintf(unavailable.problem, sizeof unavailable.problem, "sender authentication is not set up");
        return &unavailable;
    }
    if (!a->dmarc_done) {
        struct dmarc_input in = { .from = &a->from, .client = env->have_client_ip ? &env->client_ip : NULL };
        long long t0;
        /* Its inputs first, each timed as its own check. */
        in.spf = sendauth_spf(a, env, SPF_ID_MAILFROM);
        in.dkim = sendauth_dkim(a);
        t0 = monotime_us();
        dmarc_from_finish(&a->from);
        dmarc_check(a->cfg->dmarc, &in, &a->dmarc_out);
        a->dmarc_done = true;
        a->dmarc_us += (unsigned long)(monotime_us() - t0);
    }
    return &a->dmarc_out;
}

const struct dmarc_outcome *sendauth_dmarc_known(const struct sendauth *a)
{
    return a != NULL && a->dmarc_done ? &a->dmarc_out : NULL;
}

unsigned long sendauth_dmarc_us(const struct sendauth *a)
{
    return a != NULL ? a->dmarc_us : 0;
}

void sendauth_time_us(const struct sendauth *a, unsigned long *spf_us, unsigned long *dkim_us)
{
    *spf_us = a != NULL ? a->spf_us : 0;
    *dkim_us = a != NULL ? a->dkim_us : 0;
}

const unsigned *sendauth_forged(const struct sendauth *a, size_t *n, bool *overflow)
{
    *n = a->nforged;
    *overflow = a->forged_overflow;
    return a->forged;
}

/* spf=... for the MAIL FROM identity (the HELO's postmaster for the null sender). */
static void spf_item(struct authres_item *it, const struct spf_outcome *o, const struct envelope *env,
                     char *mailfrom, size_t mailfrom_sz)
{
    const char *sender = spf_sender(env);

    memset(it, 0, sizeof *it);
    it->method = "spf";
    it->result = o->result;
    if (sender[0] == '\0') {
        it->props[0][0] = "smtp.helo";
        it->props[0][1] = env->helo_info.domain_len > 0 ? env->helo_info.domain : NULL;
    } else {
        /* The domain alone when the local part would need quoting: it is what receivers use. */
        bool plain = env->sender.ok && strcspn(env->sender.addr.local, "\"\\ ()<>[]:;@,") ==
                                           env->sender.addr.local_len;
        snprintf(mailfrom, mailfrom_sz, "%s", plain ? sender : o->domain);
        it->props[0][0] = "smtp.mailfrom";
        it->props[0][1] = mailfrom;
    }
    if (o->result == AUTH_TEMPERROR || o->result == AUTH_PERMERROR)
        it->reason = o->problem;
}

static void dkim_item(struct authres_item *it, const struct dkim_sig_outcome *s)
{
    memset(it, 0, sizeof *it);
    it->method = "dkim";
    it->result = s->result;
    it->props[0][0] = "header.d";
    it->props[0][1] = s->domain;
    it->props[1][0] = "header.s";
    it->props[1][1] = s->selector;
    it->props[2][0] = "header.a";
    it->props[2][1] = s->algorithm;
    it->props[3][0] = "header.b";
    it->props[3][1] = s->b;
    if (s->result != AUTH_PASS)
        it->reason = s->problem;
}

/* dmarc=RESULT header.from=DOMAIN policy.dmarc=POLICY (RFC 7489 11.2), the policy after pct=;
   why, when it is not pass or fail, as the comment. */
static void dmarc_item(struct authres_item *it, const struct dmarc_outcome *o)
{
    int k = 0;

    memset(it, 0, sizeof *it);
    it->method = "dmarc";
    it->result = o->result;
    if (o->from_domain[0] != '\0') {
        it->props[k][0] = "header.from";
        it->props[k++][1] = o->from_domain;
    }
    if (o->result == AUTH_PASS || o->result == AUTH_FAIL) {
        it->props[k][0] = "policy.dmarc";
        it->props[k][1] = dmarc_disposition_name(o->policy);
    }
    if (o->from_problem != DMARC_FROM_OK)
        it->reason = dmarc_from_problem_text(o->from_problem);
    else if ((o->result == AUTH_TEMPERROR || o->result == AUTH_PERMERROR ||
              (o->result == AUTH_NONE && o->record_domain[0] == '\0' && strcmp(o->problem, "no DMARC record") != 0)) &&
             o->problem[0] != '\0')
        it->reason = o->problem; /* not for plain "no DMARC record": most mail has none */
}

/* iprev (RFC 8601 section 3), when reverse DNS was looked up for the rules. */
static bool iprev_item(struct authres_item *it, const struct envelope *env, char *addr)
{
    const struct rdns_result *r = env->dns != NULL ? dns_cache_rdns(env->dns) : NULL;

    if (r == NULL || r->status == RDNS_UNKNOWN || !env->have_client_ip)
        return false;
    memset(it, 0, sizeof *it);
    it->method = "iprev";
    it->result = r->status == RDNS_CONFIRMED ? AUTH_PASS
                 : r->status == RDNS_TEMPFAIL ? AUTH_TEMPERROR : AUTH_FAIL;
    ipaddr_format(&env->client_ip, addr);
    it->props[0][0] = "policy.iprev";
    it->props[0][1] = addr;
    return true;
}

int sendauth_authres_value(struct sendauth *a, const struct envelope *env, char *out, size_t outsz)
{
    struct authres_item items[5 + DKIM_SIGS_MAX];
    const struct dmarc_outcome *dm = sendauth_dmarc_known(a);
    char mailfrom[ENVELOPE_NAME_MAX + 2], addr[IPADDR_TEXT_MAX];
    size_t n = 0;

    if (env->auth_user.s != NULL && env->auth_user.len > 0) {
        memset(&items[n], 0, sizeof items[n]);
        items[n].method = "auth";
        items[n].result = AUTH_PASS;
        items[n].props[0][0] = "smtp.auth";
        items[n++].props[0][1] = env->auth_user.s;
    }
    spf_item(&items[n++], sendauth_spf(a, env, SPF_ID_MAILFROM), env, mailfrom, sizeof mailfrom);
    if (a->want_dkim) {
        const struct dkim_outcome *d = sendauth_dkim(a);
        if (d->nevaluated == 0) {
            memset(&items[n], 0, sizeof items[n]);
            items[n].method = "dkim";
            items[n].result = d->result;
            items[n++].reason = d->problem[0] ? d->problem : NULL;
        }
        for (unsigned i = 0; i < d->nevaluated && i < DKIM_SIGS_MAX; i++)
            dkim_item(&items[n++], &d->sig[i]);
    }
    if (dm != NULL)
        dmarc_item(&items[n++], dm);
    if (iprev_item(&items[n], env, addr))
        n++;
    return authres_compose(a->cfg->authserv_id, items, n, out, outsz);
}

int sendauth_received_spf(struct sendauth *a, const struct envelope *env, char *out, size_t outsz)
{
    const struct spf_outcome *o = sendauth_spf(a, env, SPF_ID_MAILFROM);

    return spf_received_value(o, env->have_client_ip ? &env->client_ip : NULL, env->helo.s ? env->helo.s : "",
                              spf_sender(env), a->cfg->authserv_id, out, outsz);
}
