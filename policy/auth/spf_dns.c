/*
 * spf_dns.c: libspf2's DNS layer, answered by the shared resolver.
 *
 * Every question libspf2 asks comes here and goes out through
 * policy/dns/dns.h; answers are decoded from the wire packet with libresolv's
 * bounded parser, and only the record type asked for is handed over. This
 * layer is where the RFC 7208 limits libspf2 lacks are enforced: the
 * evaluation's deadline, ten DNS-querying terms across includes (libspf2
 * counts per included record), two void lookups, a cap on the SPF record
 * text. It must never use the glibc resolver, never return NULL to
 * libspf2 (it aborts), and never turn a DNS failure into "no data".
 */
#include "policy/auth/spf_dns.h"

#include <arpa/nameser.h>
#include <ctype.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/monotime.h"
#include "policy/auth/spf_record.h"

/* Scoped to one spf_check() on this thread: set by spf_eval_begin, cleared by spf_eval_end. */
static _Thread_local struct spf_eval *current;

void spf_eval_begin(struct spf_eval *e)
{
    current = e;
}

void spf_eval_end(void)
{
    current = NULL;
}

/* ---- time and limits -------------------------------------------------------- */

static long remaining_ms(const struct spf_eval *e)
{
    return (long)(e->deadline_ms - monotime_ms());
}

static void note_temp(struct spf_eval *e, const char *what, const char *name)
{
    if (e->temp[0] == '\0')
        snprintf(e->temp, sizeof e->temp, "%s (%.100s)", what, name);
}

/* A DNS-querying term starts: false (and the evaluation is over) past the limit. */
static bool count_term(struct spf_eval *e)
{
    e->nsub = e->isub = 0;
    e->sub_any = false;
    if (++e->terms > SPF_TERMS_MAX)
        e->limit = "more than 10 DNS-querying terms";
    return e->limit == NULL;
}

static bool count_void(struct spf_eval *e)
{
    if (++e->voids > e->lim->void_max)
        e->limit = "too many void DNS lookups";
    return e->limit == NULL;
}

/* May a question still go out? Not after a limit or past the deadline. */
static bool may_ask(struct spf_eval *e, const char *name)
{
    if (e->limit != NULL)
        return false;
    if (remaining_ms(e) <= 0) {
        note_temp(e, "deadline reached", name);
        return false;
    }
    return true;
}

/* ---- asking ------------------------------------------------------------------ */

struct asked {
    struct dns_batch *b;
    const struct dns_answer *a;
};

/* One question, waited for within the evaluation's deadline. 0, or -1 (out of memory). */
static int ask(struct spf_eval *e, const char *name, int type, struct asked *out)
{
    long left = remaining_ms(e);
    int per_query = dns_resolver_timeout_ms(e->resolver);

    if ((out->b = dns_batch_new(e->resolver)) == NULL)
        return -1;
    int i = dns_batch_add_raw(out->b, name, type);
    dns_batch_wait(out->b, left < per_query ? (int)(left > 0 ? left : 0) : per_query);
    out->a = dns_batch_answer(out->b, i);
    if (out->a->status == DNS_TEMPFAIL)
        note_temp(e, out->a->why != NULL ? out->a->why : "DNS failure", name);
    return 0;
}

/* An SPF record over the txt_max cap, as handed over instead of its text. */
#define SPF_TXT_TOO_LONG "\x7f"

/* ---- decoding ---------------------------------------------------------------- */

/* TXT rdata: its character-strings joined, within cap bytes. -1 if longer. */
static long txt_join(const unsigned char *p, size_t len, char *out, size_t cap)
{
    size_t o = 0, i = 0;

    while (i < len) {
        size_t l = p[i++];
        if (l > len - i)
            l = len - i; /* a string longer than its record: keep what is there */
        if (o + l > cap)
            return -1;
        for (size_t k = 0; k < l; k++) /* a NUL would end the string libspf2 reads early */
            out[o + k] = p[i + k] != 0 ? (char)p[i + k] : '\x01';
        o += l;
        i += l;
    }
    return (long)o;
}

/* Append one record's data to rr at index n. */
static int rr_put(SPF_dns_rr_t *rr, int n, const void *data, size_t len, bool text)
{
    if (SPF_dns_rr_buf_realloc(rr, n, len + (text ? 1 : 0)) != SPF_E_SUCCESS)
        return -1;
    memcpy(rr->rr[n], data, len);
    if (text)
        ((char *)rr->rr[n])[len] = '\0';
    return 0;
}

static bool name_is_sane(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

/* One answer record of the type asked for, into rr[n]. 1 kept, 0 skipped, -1 error. */
static int decode_one(const ns_msg *msg, const ns_rr *r, int type, const struct spf_limits *lim,
                      SPF_dns_rr_t *rr, int n)
{
    const unsigned char *d = ns_rr_rdata(*r);
    size_t len = ns_rr_rdlen(*r);
    char name[NS_MAXDNAME];

    switch (type) {
    case ns_t_a:
        return len == 4 ? (rr_put(rr, n, d, 4, false) == 0 ? 1 : -1) : 0;
    case ns_t_aaaa:
        return len == 16 ? (rr_put(rr, n, d, 16, false) == 0 ? 1 : -1) : 0;
    case ns_t_mx:
    case ns_t_ptr: {
        const unsigned char *at = type == ns_t_mx ? d + 2 : d;
        if (len < (type == ns_t_mx ? 3u : 1u) ||
            ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg), at, name, sizeof name) < 0)
            return 0;
        /* Names go back into lookups and %{p}: nothing odd reaches libspf2. */
        size_t nl = strlen(name);
        if (nl > 0 && name[nl - 1] == '.')
            name[--nl] = '\0';
        if (nl == 0 || nl > SPF_DOMAIN_MAX || !name_is_sane(name))
            return 0;
        return rr_put(rr, n, name, nl, true) == 0 ? 1 : -1;
    }
    case ns_t_txt: {
        char buf[4096 + 1];
        size_t cap = lim->txt_max < sizeof buf - 1 ? lim->txt_max : sizeof buf - 1;
        long l = txt_join(d, len, buf, cap);
        if (l >= 0)
            return rr_put(rr, n, buf, (size_t)l, true) == 0 ? 1 : -1;
        /* Over the cap: never handed to libspf2. An SPF record is kept as
           a marker so that it reads as a broken record, not as none. */
        if (len > 7 && d[0] >= 6 && strncasecmp((const char *)d + 1, "v=spf1", 6) == 0)
            return rr_put(rr, n, SPF_TXT_TOO_LONG, 1, true) == 0 ? 1 : -1;
        return 0;
    }
    }
    return 0;
}

/* The answer section's records of the type asked for. Returns how many, or -1. */
static int decode(const struct dns_answer *a, int type, const struct spf_limits *lim, SPF_dns_rr_t *rr)
{
    ns_msg msg;
    ns_rr r;
    int n = 0;

    if (a->packet == NULL || ns_initparse(a->packet, (int)a->packet_len, &msg) < 0)
        return -1;
    for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
        if (ns_parserr(&msg, ns_s_an, i, &r) < 0)
            return -1;
        if ((int)ns_rr_type(r) != type || ns_rr_class(r) != ns_c_in)
            continue; /* the CNAME chain and anything else */
        int k = decode_one(&msg, &r, type, lim, rr, n);
        if (k < 0)
            return -1;
        n += k;
    }
    rr->num_rr = n;
    return n;
}

/* ---- the layer ----------------------------------------------------------------- */

static SPF_dns_rr_t *rr_status(SPF_dns_server_t *s, const char *name, ns_type type, int herrno)
{
    SPF_dns_rr_t *rr = SPF_dns_rr_new_init(s, name, type, 0, herrno);

    if (rr == NULL)
        SPF_error("out of memory in the DNS layer"); /* libspf2 would abort on NULL anyway */
    return rr;
}

/*
 * A name worth asking about: labels of 1 to 63 octets, 253 in all. A
 * macro may expand to anything else (RFC 7208 7.3); such a name has no
 * records, and the resolver would only fail on it.
 */
static bool name_is_queryable(const char *name)
{
    size_t len = strlen(name), label = 0;

    if (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0 || len > SPF_DOMAIN_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c > 0x7e || c == '\\')
            return false; /* no escapes for the resolver's name parser */
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (++label > 63)
            return false;
    }
    return true;
}

/* Is this address lookup one of the names the last MX or PTR answer gave? */
static bool is_sub_lookup(struct spf_eval *e, const char *name)
{
    if (e->isub < e->nsub && strcasecmp(name, e->sub[e->isub]) == 0) {
        e->isub++;
        return true;
    }
    return false;
}

static void remember_names(struct spf_eval *e, const SPF_dns_rr_t *rr)
{
    e->nsub = e->isub = 0;
    for (int i = 0; i < rr->num_rr && e->nsub < SPF_SUB_MAX; i++)
        snprintf(e->sub[e->nsub++], sizeof e->sub[0], "%s", rr->rr[i]->ptr);
}

/*
 * RFC 7208 7.3: an expanded name over 253 octets loses labels on the
 * left until it fits.
 */
static const char *name_fit(const char *name)
{
    const char *dot;

    while (strlen(name) > SPF_DOMAIN_MAX && (dot = strchr(name, '.')) != NULL)
        name = dot + 1;
    return name;
}

/* NAME SPF_ANY_ADDRESS_LABEL (an a/0 or mx/0 term): NAME into out, true. */
static bool strip_any_label(const char *name, char *out, size_t outsz)
{
    size_t n = strlen(name), l = strlen(SPF_ANY_ADDRESS_LABEL);

    if (n <= l || n - l >= outsz || strcasecmp(name + n - l, SPF_ANY_ADDRESS_LABEL) != 0)
        return false;
    memcpy(out, name, n - l);
    out[n - l] = '\0';
    return true;
}

/* Every address in rr becomes the client's: the term matches whatever the domain lists. */
static void answer_as_client(const struct spf_eval *e, SPF_dns_rr_t *rr, ns_type type)
{
    for (int i = 0; i < rr->num_rr; i++) {
        if (type == ns_t_a)
            rr->rr[i]->a = e->req->ipv4;
        else
            rr->rr[i]->aaaa = e->req->ipv6;
    }
}

/* Ask one question for libspf2: its answer as libspf2 reads answers. */
static SPF_dns_rr_t *answer_rr(struct spf_eval *e, SPF_dns_server_t *s, const char *name, ns_type type,
                               bool any)
{
    struct asked q = { NULL, NULL };
    SPF_dns_rr_t *rr;

    if (!name_is_queryable(name))
        return rr_status(s, name, type, HOST_NOT_FOUND);
    if (!may_ask(e, name) || ask(e, name, type, &q) < 0)
        rr = rr_status(s, name, type, TRY_AGAIN);
    else if (q.a->status == DNS_TEMPFAIL)
        rr = rr_status(s, name, type, TRY_AGAIN);
    else if (q.a->status == DNS_NOTFOUND)
        rr = rr_status(s, name, type, q.a->rcode == 3 ? HOST_NOT_FOUND : NO_DATA);
    else {
        rr = rr_status(s, name, type, NETDB_SUCCESS);
        int n = decode(q.a, type, e->lim, rr);
        if (n < 0) {
            note_temp(e, "undecodable answer", name);
            rr->num_rr = 0;
            rr->herrno = TRY_AGAIN;
        } else if (n == 0)
            rr->herrno = NO_DATA;
        else if (any)
            answer_as_client(e, rr, type);
    }
    if (rr->herrno == TRY_AGAIN && e->limit == NULL && !e->in_exp)
        e->tempfails++;
    dns_batch_free(q.b);
    return rr;
}

static SPF_dns_rr_t *layer_lookup(SPF_dns_server_t *s, const char *name, ns_type type, int should_cache)
{
    struct spf_eval *e = current;
    char real[SPF_DOMAIN_MAX + 64];

    if (e == NULL)
        return rr_status(s, name, type, TRY_AGAIN);
    if (type != ns_t_a && type != ns_t_aaaa && type != ns_t_mx && type != ns_t_ptr && type != ns_t_txt)
        return rr_status(s, name, type, NO_DATA); /* type SPF (99): RFC 7208 3.1, TXT only */
    bool any = strip_any_label(name, real, sizeof real), addr = type == ns_t_a || type == ns_t_aaaa;
    const char *asked = any ? real : name;
    /* Terms: a, mx, ptr, exists, but not the address lookups of an MX or
       PTR answer's names, nor TXT (here only ever exp=, RFC 7208 6.2). */
    bool sub = addr && !e->in_exp && is_sub_lookup(e, asked);
    bool term = !sub && !e->in_exp && type != ns_t_txt;
    if (term && !count_term(e))
        return rr_status(s, name, type, TRY_AGAIN);
    if (term && any && type == ns_t_mx)
        e->sub_any = true;
    SPF_dns_rr_t *rr = answer_rr(e, s, name_fit(asked), type, addr && (any || (sub && e->sub_any)));
    if (term && (rr->herrno == HOST_NOT_FOUND || rr->herrno == NO_DATA) && !count_void(e))
        rr->herrno = TRY_AGAIN;
    if (term && type == ns_t_mx && rr->num_rr > SPF_SUB_MAX) {
        e->limit = "more than 10 MX records"; /* RFC 7208 4.6.4 */
        rr->herrno = TRY_AGAIN;
    }
    if (type == ns_t_ptr && rr->num_rr > SPF_SUB_MAX)
        rr->num_rr = SPF_SUB_MAX; /* 4.6.4: names past the 10th are ignored, never an error */
    if (rr->herrno == NETDB_SUCCESS && (type == ns_t_mx || type == ns_t_ptr))
        remember_names(e, rr);
    return rr;
}

/* The one TXT record at domain, checked as explanation text, into out. 0 or -1. */
static int exp_text(struct spf_eval *e, const char *domain, char *out, size_t outsz)
{
    struct asked q;
    int rc = -1;

    domain = name_fit(domain);
    if (!name_is_queryable(domain) || !may_ask(e, domain) || ask(e, domain, ns_t_txt, &q) < 0)
        return -1;
    SPF_dns_rr_t *rr = SPF_dns_rr_new_init(NULL, domain, ns_t_txt, 0, NETDB_SUCCESS);
    if (rr != NULL && q.a->status == DNS_FOUND && decode(q.a, ns_t_txt, e->lim, rr) == 1 &&
        spf_exp_text_check(rr->rr[0]->txt) == 0) {
        snprintf(out, outsz, "%s", rr->rr[0]->txt);
        rc = 0;
    }
    if (rr != NULL)
        SPF_dns_rr_free(rr);
    dns_batch_free(q.b);
    return rc;
}

/*
 * libspf2's get_exp hook: the explanation for the exp= domain it
 * expanded, or "" when there is none (RFC 7208 6.2: any error means no
 * explanation). Neither the lookup nor %{p} counts toward the limits.
 */
static SPF_errcode_t layer_get_exp(SPF_server_t *server, const char *domain, char **buf, size_t *buflen)
{
    struct spf_eval *e = current;
    char raw[4096 + 1], text[SPF_EXPLANATION_MAX + 1] = "";

    (void)server;
    if (e != NULL && e->req != NULL && domain != NULL) {
        e->in_exp = true;
        if (exp_text(e, domain, raw, sizeof raw) == 0)
            spf_exp_expand(e->req, raw, text, sizeof text);
        e->in_exp = false;
    }
    size_t need = strlen(text) + 1;
    if (*buf == NULL || *buflen < need) {
        char *t = realloc(*buf, need);
        if (t == NULL)
            return SPF_E_NO_MEMORY;
        *buf = t;
        *buflen = need;
    }
    memcpy(*buf, text, need);
    return SPF_E_SUCCESS;
}

SPF_dns_server_t *spf_dns_layer_new(void)
{
    SPF_dns_server_t *s = calloc(1, sizeof *s);

    if (s == NULL)
        return NULL;
    /* No destructor: libspf2 then leaves the layer to its owner (spf_checker_free). */
    s->destroy = NULL;
    s->lookup = layer_lookup;
    s->get_spf = spf_dns_get_record;
    s->get_exp = layer_get_exp;
    s->name = "mxguard";
    return s;
}

/* ---- the record fetch ------------------------------------------------------------ */

/* "v=spf1" alone or followed by a space (RFC 7208 4.5), in any case. */
static bool is_spf_record(const char *t)
{
    if (strcmp(t, SPF_TXT_TOO_LONG) == 0)
        return true;
    return strncasecmp(t, "v=spf1", 6) == 0 && (t[6] == '\0' || t[6] == ' ');
}

/* RFC 7208 3.1: records are 7-bit ASCII; nothing else reaches libspf2's parser. */
static bool is_printable_ascii(const char *t)
{
    for (; *t != '\0'; t++)
        if ((unsigned char)*t < 0x20 || (unsigned char)*t > 0x7e)
            return false;
    return true;
}

static SPF_errcode_t record_permerror(SPF_response_t *resp, SPF_errcode_t err, const char *why, const char *dom)
{
    resp->result = SPF_RESULT_PERMERROR;
    resp->reason = SPF_REASON_FAILURE;
    resp->err = err;
    return SPF_response_add_error(resp, err, "%s for '%.100s'", why, dom);
}

static SPF_errcode_t record_none(SPF_response_t *resp, const char *why, const char *dom)
{
    resp->result = SPF_RESULT_NONE;
    resp->reason = SPF_REASON_FAILURE;
    return SPF_response_add_error(resp, SPF_E_NOT_SPF, "%s for '%.100s'", why, dom);
}

/* The one SPF record among the TXT records, compiled. */
static SPF_errcode_t pick_record(SPF_server_t *server, SPF_request_t *req, SPF_response_t *resp,
                                 const SPF_dns_rr_t *rr, const char *dom, SPF_record_t **rec_r)
{
    int found = -1;

    for (int i = 0; i < rr->num_rr; i++) {
        if (!is_spf_record(rr->rr[i]->txt))
            continue;
        if (found >= 0)
            return record_permerror(resp, SPF_E_MULTIPLE_RECORDS, "more than one SPF record", dom);
        found = i;
    }
    if (found < 0)
        return record_none(resp, "no SPF record", dom);
    if (strcmp(rr->rr[found]->txt, SPF_TXT_TOO_LONG) == 0)
        return record_permerror(resp, SPF_E_BIG_STRING, "SPF record too long", dom);
    if (!is_printable_ascii(rr->rr[found]->txt))
        return record_permerror(resp, SPF_E_INVALID_CHAR, "SPF record not printable ASCII", dom);
    char checked[4096 + 64];
    const char *why;
    if (spf_record_check(rr->rr[found]->txt, req->client_ver, checked, sizeof checked, &why) < 0)
        return record_permerror(resp, SPF_E_SYNTAX, why, dom);
    SPF_errcode_t err = SPF_record_compile(server, resp, rec_r, checked);
    if (err != SPF_E_SUCCESS) {
        if (*rec_r != NULL)
            SPF_record_free(*rec_r);
        *rec_r = NULL;
        return record_permerror(resp, err, "SPF record does not compile", dom);
    }
    return SPF_E_SUCCESS;
}

SPF_errcode_t spf_dns_get_record(SPF_server_t *server, SPF_request_t *req, SPF_response_t *resp,
                                 SPF_record_t **rec_r)
{
    struct spf_eval *e = current;
    const char *dom = req->cur_dom;
    struct asked q;

    *rec_r = NULL;
    if (e == NULL || dom == NULL)
        return SPF_response_add_error(resp, SPF_E_DNS_ERROR, "%s", "no evaluation under way");
    /* check_host()'s own fetch is no term; include and redirect are. */
    bool term = e->records++ > 0;
    if (term && !count_term(e))
        return SPF_response_add_error(resp, SPF_E_DNS_ERROR, "lookup of '%.100s' not made", dom);
    dom = name_fit(dom);
    if (!name_is_queryable(dom))
        return record_none(resp, "no such name", dom);
    if (!may_ask(e, dom) || ask(e, dom, ns_t_txt, &q) < 0)
        return SPF_response_add_error(resp, SPF_E_DNS_ERROR, "lookup of '%.100s' not made", dom);

    SPF_errcode_t err;
    if (q.a->status == DNS_TEMPFAIL) {
        e->tempfails++;
        err = SPF_response_add_error(resp, SPF_E_DNS_ERROR, "temporary DNS failure for '%.100s'", dom);
    }
    else if (q.a->status == DNS_NOTFOUND)
        err = term && !count_void(e) ? SPF_response_add_error(resp, SPF_E_DNS_ERROR, "%s", e->limit)
                                     : record_none(resp, "no TXT records", dom);
    else {
        SPF_dns_rr_t *rr = SPF_dns_rr_new_init(server->resolver, dom, ns_t_txt, 0, NETDB_SUCCESS);
        if (rr == NULL)
            err = SPF_response_add_error(resp, SPF_E_NO_MEMORY, "%s", "out of memory");
        else if (decode(q.a, ns_t_txt, e->lim, rr) < 0) {
            note_temp(e, "undecodable answer", dom);
            err = SPF_response_add_error(resp, SPF_E_DNS_ERROR, "undecodable answer for '%.100s'", dom);
        } else
            err = pick_record(server, req, resp, rr, dom, rec_r);
        if (rr != NULL)
            SPF_dns_rr_free(rr);
    }
    dns_batch_free(q.b);
    return err;
}
