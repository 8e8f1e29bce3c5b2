/*
 * dmarc.c: DMARC (RFC 7489, and DMARCbis np=) for one message, with
 * libopendmarc 1.4.2 for the record, alignment and policy.
 *
 * How the record reaches libopendmarc: policy/auth/dmarc_dns.c asks
 * _dmarc.<author domain> TXT (and _dmarc.<organizational domain> when the
 * first has no DMARC record) through the shared resolver and picks the one
 * TXT record that starts v=DMARC1; its text goes to
 * opendmarc_policy_store_dmarc(), which parses it. The library's own
 * lookup (opendmarc_policy_query_dmarc, res_query) and fetch_rua's
 * report-authorization lookups are never called, so a DNS timeout is
 * temperror, never none.
 *
 * What libopendmarc 1.4.2 does and does not do (checked against the
 * installed library, see tests/unit/test_dmarc.c): it does not apply pct=
 * (opendmarc_get_policy_to_enforce returns the published policy); it takes
 * sp= whenever it was given an organizational domain, even the author
 * domain's own (so it is given one only for a record found there); it
 * does not know np=; and its strict alignment (adkim=s, aspf=s) accepts
 * an identifier whose organizational domain is the author domain
 * (d=mail.example.org for From: example.org), where RFC 7489 3.1 asks for
 * the same name. So the policy that applies (p=, sp= or np=) and pct=
 * sampling are decided here, and a strict alignment libopendmarc reports
 * is checked again for an exact match; libopendmarc decides relaxed
 * alignment and whether a record is well-formed. The organizational domain comes from the Public
 * Suffix List read once by opendmarc_policy_library_init (process-wide).
 *
 * Must never wait past the deadline, never read a failed lookup as no
 * record, never hand libopendmarc a domain that is not a DNS name.
 * Nothing here knows about libmilter or the rule language.
 */
#include "policy/auth/dmarc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <opendmarc/dmarc.h>

#include "policy/auth/dmarc_dns.h"

/* Exported by libopendmarc 1.4.2 but not declared in its header. */
int opendmarc_get_tld(u_char *domain, u_char *tld, size_t tld_len);

#define DMARC_DEADLINE_MS 10000

struct dmarc_checker {
    struct dns_resolver *r;
    int deadline_ms;
};

/* libopendmarc keeps the suffix list in a global: read once per process. */
static pthread_mutex_t psl_lock = PTHREAD_MUTEX_INITIALIZER;
static char psl_loaded[MAXPATHLEN];

int dmarc_library_init(const char *file, const char **error_r)
{
    OPENDMARC_LIB_T lib;
    int rc = 0;

    if (file == NULL)
        file = DMARC_PSL_FILE;
    pthread_mutex_lock(&psl_lock);
    if (psl_loaded[0] != '\0') {
        if (strcmp(psl_loaded, file) != 0) {
            *error_r = "DMARC: another Public Suffix List is already loaded";
            rc = -1;
        }
    } else if (strlen(file) >= sizeof lib.tld_source_file) {
        *error_r = "DMARC: the Public Suffix List's path is too long";
        rc = -1;
    } else {
        memset(&lib, 0, sizeof lib);
        lib.tld_type = OPENDMARC_TLD_TYPE_MOZILLA;
        snprintf((char *)lib.tld_source_file, sizeof lib.tld_source_file, "%s", file);
        if (opendmarc_policy_library_init(&lib) != 0) {
            *error_r = "DMARC: cannot read the Public Suffix List " DMARC_PSL_FILE
                       " (or the file named): apt-get install publicsuffix";
            rc = -1;
        } else {
            snprintf(psl_loaded, sizeof psl_loaded, "%s", file);
        }
    }
    pthread_mutex_unlock(&psl_lock);
    return rc;
}

struct dmarc_checker *dmarc_checker_new(struct dns_resolver *r, const struct dmarc_limits *lim,
                                        const char **error_r)
{
    struct dmarc_checker *c;
    const char *psl = lim != NULL && lim->psl_file != NULL ? lim->psl_file : DMARC_PSL_FILE;

    if (dmarc_library_init(psl, error_r) < 0)
        return NULL;
    if ((c = calloc(1, sizeof *c)) == NULL) {
        *error_r = "out of memory";
        return NULL;
    }
    c->r = r;
    c->deadline_ms = lim != NULL && lim->deadline_ms > 0 ? lim->deadline_ms : DMARC_DEADLINE_MS;
    return c;
}

void dmarc_checker_free(struct dmarc_checker *c)
{
    free(c);
}

const char *dmarc_disposition_name(enum dmarc_disposition d)
{
    return d == DMARC_DISP_REJECT ? "reject" : d == DMARC_DISP_QUARANTINE ? "quarantine" : "none";
}

/*
 * The organizational domain (RFC 7489 3.2) by the suffix list. A name
 * under a suffix the list does not know gets the list's default rule "*"
 * (its last label is the suffix), which libopendmarc leaves to us.
 */
static void org_domain(const char *domain, char out[DMARC_DOMAIN_MAX + 1])
{
    u_char tld[DMARC_DOMAIN_MAX + 2] = "";
    const char *dot;

    (void)opendmarc_get_tld((u_char *)domain, tld, sizeof tld);
    if (tld[0] != '\0' && strlen((char *)tld) <= DMARC_DOMAIN_MAX) {
        snprintf(out, DMARC_DOMAIN_MAX + 1, "%s", (char *)tld);
        return;
    }
    dot = strrchr(domain, '.');
    while (dot != NULL && dot > domain && dot[-1] != '.')
        dot--;
    /* dot now at the start of the second-last label, or NULL for one label */
    snprintf(out, DMARC_DOMAIN_MAX + 1, "%s", dot != NULL ? dot : domain);
}

/* A policy tag's value as libopendmarc gives it ('n', 'q', 'r', 0) */
static int disp_of(int tag)
{
    return tag == DMARC_RECORD_P_REJECT ? DMARC_DISP_REJECT
           : tag == DMARC_RECORD_P_QUARANTINE ? DMARC_DISP_QUARANTINE
           : tag == DMARC_RECORD_P_NONE ? DMARC_DISP_NONE : -1;
}

/* np= (DMARCbis), which libopendmarc 1.4.2 does not parse: -1 when absent or not a policy. */
static int record_np(const char *rec)
{
    for (const char *p = rec; p != NULL && *p != '\0'; p = strchr(p, ';') ? strchr(p, ';') + 1 : NULL) {
        size_t n;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "np", 2) != 0)
            continue;
        p += 2 + strspn(p + 2, " \t");
        if (*p != '=')
            continue;
        p += 1 + strspn(p + 1, " \t");
        n = strcspn(p, "; \t");
        if (n == 4 && strncasecmp(p, "none", 4) == 0)
            return DMARC_DISP_NONE;
        if (n == 10 && strncasecmp(p, "quarantine", 10) == 0)
            return DMARC_DISP_QUARANTINE;
        if (n == 6 && strncasecmp(p, "reject", 6) == 0)
            return DMARC_DISP_REJECT;
        return -1;
    }
    return -1;
}

static int spf_outcome_code(enum auth_result r)
{
    switch (r) {
    case AUTH_PASS: return DMARC_POLICY_SPF_OUTCOME_PASS;
    case AUTH_NONE: case AUTH_NEUTRAL: return DMARC_POLICY_SPF_OUTCOME_NONE;
    case AUTH_TEMPERROR: return DMARC_POLICY_SPF_OUTCOME_TMPFAIL;
    default: return DMARC_POLICY_SPF_OUTCOME_FAIL;
    }
}

static int dkim_outcome_code(enum auth_result r)
{
    switch (r) {
    case AUTH_PASS: return DMARC_POLICY_DKIM_OUTCOME_PASS;
    case AUTH_NONE: return DMARC_POLICY_DKIM_OUTCOME_NONE;
    case AUTH_TEMPERROR: return DMARC_POLICY_DKIM_OUTCOME_TMPFAIL;
    default: return DMARC_POLICY_DKIM_OUTCOME_FAIL;
    }
}

/* The authentication results as libopendmarc takes them: SPF first, then each DKIM signature. */
static void store_auth(DMARC_POLICY_T *pctx, const struct dmarc_input *in)
{
    if (in->spf != NULL && in->spf->domain[0] != '\0')
        (void)opendmarc_policy_store_spf(pctx, (u_char *)in->spf->domain, spf_outcome_code(in->spf->result),
                                         in->spf->identity == SPF_ID_HELO ? DMARC_POLICY_SPF_ORIGIN_HELO
                                                                          : DMARC_POLICY_SPF_ORIGIN_MAILFROM,
                                         NULL);
    for (unsigned i = 0; in->dkim != NULL && i < in->dkim->nevaluated && i < DKIM_SIGS_MAX; i++) {
        const struct dkim_sig_outcome *s = &in->dkim->sig[i];
        if (s->domain[0] != '\0')
            (void)opendmarc_policy_store_dkim(pctx, (u_char *)s->domain, (u_char *)s->selector,
                                              dkim_outcome_code(s->result), NULL);
    }
}

/* Strict alignment (RFC 7489 3.1.1, 3.1.2): the same name, not libopendmarc's
   "the identifier's organizational domain is the author domain". */
static bool strict_dkim(const struct dmarc_input *in, const char *from)
{
    for (unsigned i = 0; in->dkim != NULL && i < in->dkim->nevaluated && i < DKIM_SIGS_MAX; i++)
        if (in->dkim->sig[i].result == AUTH_PASS && strcasecmp(in->dkim->sig[i].domain, from) == 0)
            return true;
    return false;
}

static bool strict_spf(const struct dmarc_input *in, const char *from)
{
    return in->spf != NULL && in->spf->result == AUTH_PASS && strcasecmp(in->spf->domain, from) == 0;
}

/* The first passing signature whose d= aligns with the author domain. */
static void aligned_dkim_domain(const struct dmarc_input *in, struct dmarc_outcome *out)
{
    for (unsigned i = 0; in->dkim != NULL && i < in->dkim->nevaluated && i < DKIM_SIGS_MAX; i++) {
        const struct dkim_sig_outcome *s = &in->dkim->sig[i];
        bool aligned = out->adkim == 's' ? strcasecmp(s->domain, out->from_domain) == 0
                       : opendmarc_policy_check_alignment((u_char *)out->from_domain, (u_char *)s->domain,
                                                          DMARC_RECORD_A_RELAXED) == 0;
        if (s->result == AUTH_PASS && s->domain[0] != '\0' && aligned) {
            snprintf(out->dkim_domain, sizeof out->dkim_domain, "%s", s->domain);
            return;
        }
    }
}

/* rua= as published, the URIs joined by commas (fetch_rua without a buffer asks no DNS). */
static void copy_rua(DMARC_POLICY_T *pctx, struct dmarc_outcome *out)
{
    u_char **rua = opendmarc_policy_fetch_rua(pctx, NULL, 0, 1);
    size_t o = 0;

    for (int i = 0; rua != NULL && rua[i] != NULL && o < sizeof out->rua; i++) {
        int n = snprintf(out->rua + o, sizeof out->rua - o, "%s%s", i ? "," : "", (char *)rua[i]);
        if (n < 0 || (size_t)n >= sizeof out->rua - o) {
            out->rua[o] = '\0'; /* a URI that does not fit is left out whole */
            break;
        }
        o += (size_t)n;
    }
}

static void set_problem(struct dmarc_outcome *out, enum auth_result r, const char *why)
{
    out->result = r;
    snprintf(out->problem, sizeof out->problem, "%s", why);
}

/* Which of p=, sp=, np= applies (RFC 7489 6.6.3 step 6, DMARCbis np=), before pct=. */
static int choose_policy(const struct dmarc_lookup *lk, struct dmarc_outcome *out)
{
    if (!lk->at_org) {
        snprintf(out->policy_tag, sizeof out->policy_tag, "p");
        return out->p;
    }
    if (lk->exists != DMARC_EXISTS_YES && out->np >= 0) {
        if (lk->exists == DMARC_EXISTS_UNKNOWN)
            return -2; /* whether np= applies is not known now */
        snprintf(out->policy_tag, sizeof out->policy_tag, "np");
        return out->np;
    }
    if (out->sp >= 0) {
        snprintf(out->policy_tag, sizeof out->policy_tag, "sp");
        return out->sp;
    }
    snprintf(out->policy_tag, sizeof out->policy_tag, "p");
    return out->p;
}

/* pct= (RFC 7489 6.6.4): a message left out of the sample gets the next lesser policy. */
static void apply_pct(struct dmarc_outcome *out)
{
    out->policy = out->published;
    if (out->result != AUTH_FAIL) {
        out->policy = DMARC_DISP_NONE;
        return;
    }
    if (out->pct >= 100 || (out->pct > 0 && arc4random_uniform(100) < out->pct))
        return;
    out->sampled_out = true;
    if (out->policy == DMARC_DISP_REJECT)
        out->policy = DMARC_DISP_QUARANTINE;
    else if (out->policy == DMARC_DISP_QUARANTINE)
        out->policy = DMARC_DISP_NONE;
}

/* What the record says of this message, once libopendmarc has it. */
static void evaluate(DMARC_POLICY_T *pctx, const struct dmarc_lookup *lk, const struct dmarc_input *in,
                     struct dmarc_outcome *out)
{
    int v, dkim_al = 0, spf_al = 0, enforce, chosen;

    store_auth(pctx, in);
    enforce = opendmarc_get_policy_to_enforce(pctx);
    (void)opendmarc_policy_fetch_alignment(pctx, &dkim_al, &spf_al);
    out->dkim_aligned = dkim_al == DMARC_POLICY_DKIM_ALIGNMENT_PASS;
    out->spf_aligned = spf_al == DMARC_POLICY_SPF_ALIGNMENT_PASS;
    out->p = opendmarc_policy_fetch_p(pctx, &v) == DMARC_PARSE_OKAY ? disp_of(v) : -1;
    out->sp = opendmarc_policy_fetch_sp(pctx, &v) == DMARC_PARSE_OKAY ? disp_of(v) : -1;
    out->np = record_np(lk->record);
    out->pct = opendmarc_policy_fetch_pct(pctx, &v) == DMARC_PARSE_OKAY && v >= 0 && v <= 100 ? (unsigned)v : 100;
    out->adkim = opendmarc_policy_fetch_adkim(pctx, &v) == DMARC_PARSE_OKAY && v == DMARC_RECORD_A_STRICT ? 's' : 'r';
    out->aspf = opendmarc_policy_fetch_aspf(pctx, &v) == DMARC_PARSE_OKAY && v == DMARC_RECORD_A_STRICT ? 's' : 'r';
    copy_rua(pctx, out);
    if (out->adkim == 's')
        out->dkim_aligned = out->dkim_aligned && strict_dkim(in, out->from_domain);
    if (out->aspf == 's')
        out->spf_aligned = out->spf_aligned && strict_spf(in, out->from_domain);
    if (out->dkim_aligned)
        aligned_dkim_domain(in, out);
    if (out->dkim_aligned || out->spf_aligned)
        out->result = AUTH_PASS;
    else if (enforce == DMARC_POLICY_PASS || enforce == DMARC_POLICY_REJECT || enforce == DMARC_POLICY_QUARANTINE ||
             enforce == DMARC_POLICY_NONE)
        out->result = AUTH_FAIL;
    else
        set_problem(out, AUTH_PERMERROR, opendmarc_policy_status_to_str(enforce));
    chosen = choose_policy(lk, out);
    if (chosen == -2) {
        set_problem(out, AUTH_TEMPERROR, "whether the author domain exists (np=) is not known now");
        return;
    }
    out->published = chosen >= 0 ? (enum dmarc_disposition)chosen : DMARC_DISP_NONE;
    apply_pct(out);
}

/* Hand the record over and evaluate; permerror when libopendmarc refuses it. */
static void check_record(const struct dmarc_lookup *lk, const struct dmarc_input *in, struct dmarc_outcome *out)
{
    char ip[IPADDR_TEXT_MAX] = "0.0.0.0";
    DMARC_POLICY_T *pctx;
    int st;

    if (in->client != NULL)
        ipaddr_format(in->client, ip);
    if ((pctx = opendmarc_policy_connect_init((u_char *)ip, in->client != NULL && !in->client->v4)) == NULL) {
        set_problem(out, AUTH_TEMPERROR, "out of memory");
        return;
    }
    /* The organizational domain only for a record found there: given one,
       libopendmarc 1.4.2 takes sp= even for the author domain's own record. */
    st = opendmarc_policy_store_dmarc(pctx, (u_char *)lk->record, (u_char *)out->from_domain,
                                      lk->at_org ? (u_char *)out->org_domain : NULL);
    if (st == DMARC_PARSE_ERROR_NO_ALLOC)
        set_problem(out, AUTH_TEMPERROR, "out of memory");
    else if (st != DMARC_PARSE_OKAY) {
        out->result = AUTH_PERMERROR;
        snprintf(out->problem, sizeof out->problem, "malformed DMARC record: %s", opendmarc_policy_status_to_str(st));
    } else
        evaluate(pctx, lk, in, out);
    opendmarc_policy_connect_shutdown(pctx);
}

/* One author domain. */
static void check_domain(struct dmarc_checker *c, const char *domain, const struct dmarc_input *in,
                         struct dmarc_outcome *out)
{
    struct dmarc_lookup lk;

    snprintf(out->from_domain, sizeof out->from_domain, "%s", domain);
    org_domain(domain, out->org_domain);
    dmarc_dns_lookup(c->r, c->deadline_ms, domain, out->org_domain, &lk);
    switch (lk.status) {
    case DMARC_LOOKUP_TEMPFAIL:
        snprintf(out->problem, sizeof out->problem, "DMARC record lookup failed: %s", lk.why);
        out->result = AUTH_TEMPERROR;
        return;
    case DMARC_LOOKUP_NONE:
    case DMARC_LOOKUP_SEVERAL:
        set_problem(out, AUTH_NONE, lk.why);
        return;
    case DMARC_LOOKUP_FOUND:
        break;
    }
    snprintf(out->record_domain, sizeof out->record_domain, "%s", lk.record_domain);
    check_record(&lk, in, out);
}

/* Worse first: fail, temperror, permerror, none, pass; then the stricter policy. */
static int badness(const struct dmarc_outcome *o)
{
    int rank = o->result == AUTH_FAIL ? 4 : o->result == AUTH_TEMPERROR ? 3 : o->result == AUTH_PERMERROR ? 2
             : o->result == AUTH_NONE ? 1 : 0;
    return rank * 4 + (int)o->policy;
}

static void outcome_clear(struct dmarc_outcome *o)
{
    memset(o, 0, sizeof *o);
    o->p = o->sp = o->np = -1;
    o->pct = 100;
}

void dmarc_check(struct dmarc_checker *c, const struct dmarc_input *in, struct dmarc_outcome *out)
{
    const struct dmarc_from *f = in->from;

    outcome_clear(out);
    if (f == NULL || f->problem == DMARC_FROM_MISSING) {
        out->from_problem = DMARC_FROM_MISSING;
        set_problem(out, AUTH_NONE, "no From: field");
        return;
    }
    out->from_problem = f->problem;
    if (f->problem == DMARC_FROM_NO_DOMAIN || f->ndomains == 0) {
        set_problem(out, AUTH_PERMERROR, f->problem == DMARC_FROM_NO_DOMAIN ? dmarc_from_problem_text(f->problem)
                                                                        : "no author domain");
        return;
    }
    if (c == NULL) {
        snprintf(out->from_domain, sizeof out->from_domain, "%s", f->domain[0]);
        set_problem(out, AUTH_TEMPERROR, "DMARC is not set up");
        return;
    }
    check_domain(c, f->domain[0], in, out);
    for (unsigned i = 1; i < f->ndomains && i < DMARC_FROM_DOMAINS_MAX; i++) {
        struct dmarc_outcome other;
        outcome_clear(&other);
        check_domain(c, f->domain[i], in, &other);
        if (badness(&other) > badness(out))
            *out = other;
    }
    out->from_problem = f->problem;
}
