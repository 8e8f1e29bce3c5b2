/*
 * spf.c: SPF evaluation (RFC 7208) with libspf2, and the Received-SPF
 * header value.
 *
 * libspf2 parses hostile input and we cannot patch it, so it sees only
 * identities that passed spf_identity_domain(), only answers our DNS
 * layer (spf_dns.c) decoded and capped, and only while the evaluation's
 * deadline lasts. It must never report a DNS failure as fail or none,
 * and never let client text into a header unquoted.
 */
#include "policy/auth/spf.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/monotime.h"
#include "policy/auth/spf_dns.h"
/*
 * One SPF_server_t for the process, shared by every thread: libspf2
 * keeps no per-request state in it (the DNS layer, the default
 * explanation and the receiver name are read-only once built). The
 * per-evaluation counters live in a struct spf_eval on spf_check()'s
 * stack, reached by the DNS layer through a thread-local that spf_check
 * sets and clears around the evaluation: libspf2 evaluates synchronously
 * on the calling thread, and libmilter may move a session between threads
 * only between callbacks. A server per evaluation (its layer's hook
 * pointing at the state) would be cheap (0.6 us measured, next to 0.3 ms
 * for a cached evaluation) but libspf2's constructor calls SPF_error(),
 * which aborts, when it cannot compile its default explanation (out of
 * memory): that may happen at start-up, never in the middle of a session.
 */
struct spf_checker {
    SPF_server_t *server;
    SPF_dns_server_t *layer;        /* ours: libspf2 does not free a layer without a destructor */
    struct dns_resolver *resolver;
    struct spf_limits lim;
};

/* ---- identities --------------------------------------------------------------- */

/* ASCII by value: isalnum() would follow the locale into 8-bit octets. */
static bool domain_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* A multi-label DNS name of LDH (and '_') labels, in lower case into out. */
static int check_domain(const char *d, size_t len, char out[SPF_DOMAIN_MAX + 1], const char **why_r)
{
    size_t label = 0, labels = 1;
    bool numeric_tld = true;

    if (len > 0 && d[len - 1] == '.')
        len--;
    if (len == 0 || len > SPF_DOMAIN_MAX) {
        *why_r = len == 0 ? "no domain" : "domain longer than 253 octets";
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)d[i];
        if (c == '.') {
            if (label == 0) {
                *why_r = "empty label in the domain";
                return -1;
            }
            label = 0;
            labels++;
            numeric_tld = true;
            out[i] = '.';
            continue;
        }
        if (!domain_char(c)) {
            *why_r = c >= 0x80 ? "domain not ASCII" : "not a domain name";
            return -1;
        }
        if (++label > 63) {
            *why_r = "domain label longer than 63 octets";
            return -1;
        }
        numeric_tld = numeric_tld && c >= '0' && c <= '9';
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[len] = '\0';
    if (label == 0 || labels < 2 || numeric_tld) {
        *why_r = labels < 2 ? "not a fully qualified domain" : "not a domain name";
        return -1;
    }
    return 0;
}

static int check_local(const char *l, size_t len, const char **why_r)
{
    if (len > 64) {
        *why_r = "local part longer than 64 octets";
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)l[i] < 0x20 || (unsigned char)l[i] >= 0x7f) {
            *why_r = "local part not printable ASCII";
            return -1;
        }
    return 0;
}

int spf_identity_domain(const char *helo, const char *sender, enum spf_identity id,
                        char domain[SPF_DOMAIN_MAX + 1], const char **why_r)
{
    domain[0] = '\0';
    /* The null sender is postmaster@HELO (RFC 7208 2.4). */
    if (id == SPF_ID_HELO || sender == NULL || sender[0] == '\0') {
        if (helo == NULL || helo[0] == '\0') {
            *why_r = "no HELO name";
            return -1;
        }
        if (helo[0] == '[') {
            *why_r = "HELO is an address literal";
            return -1;
        }
        return check_domain(helo, strlen(helo), domain, why_r);
    }
    const char *at = strrchr(sender, '@');
    if (at == NULL) {
        *why_r = "sender without a domain";
        return -1;
    }
    if (check_local(sender, (size_t)(at - sender), why_r) < 0)
        return -1;
    if (at[1] == '[') {
        *why_r = "sender domain is an address literal";
        return -1;
    }
    return check_domain(at + 1, strlen(at + 1), domain, why_r);
}

/* ---- the checker ----------------------------------------------------------------- */

static void quiet(const char *file, int line, const char *msg)
{
    (void)file;
    (void)line;
    (void)msg;
}

struct spf_checker *spf_checker_new(struct dns_resolver *r, const struct spf_limits *lim,
                                    const char *receiver, const char **error_r)
{
    struct spf_checker *c = calloc(1, sizeof *c);
    SPF_dns_server_t *layer = spf_dns_layer_new();
    SPF_response_t *resp = NULL;

    if (c == NULL || layer == NULL || (c->server = SPF_server_new_dns(layer, 0)) == NULL) {
        free(layer);
        free(c);
        *error_r = "out of memory";
        return NULL;
    }
    c->layer = layer;
    c->resolver = r;
    c->lim.deadline_ms = lim != NULL && lim->deadline_ms > 0 ? lim->deadline_ms : 20000;
    c->lim.txt_max = lim != NULL && lim->txt_max > 0 ? lim->txt_max : 4096;
    if (c->lim.txt_max > 4096)
        c->lim.txt_max = 4096; /* the DNS layer's buffer; an SPF record is far shorter */
    c->lim.void_max = lim != NULL && lim->void_max > 0 ? lim->void_max : 2;
    /* libspf2 chats on stderr by default; our results carry the reasons. */
    SPF_warning_handler = quiet;
    SPF_info_handler = quiet;
    SPF_debug_handler = quiet;
    /* No exp= means no explanation: an empty default instead of libspf2's URL. */
    if (SPF_server_set_rec_dom(c->server, receiver != NULL ? receiver : "localhost") != SPF_E_SUCCESS ||
        SPF_server_set_explanation(c->server, "", &resp) != SPF_E_SUCCESS) {
        if (resp != NULL)
            SPF_response_free(resp);
        spf_checker_free(c);
        *error_r = "cannot set up libspf2";
        return NULL;
    }
    SPF_response_free(resp);
    return c;
}

void spf_checker_free(struct spf_checker *c)
{
    if (c == NULL)
        return;
    if (c->server != NULL)
        SPF_server_free(c->server);
    free(c->layer);
    free(c);
}

/* ---- one evaluation ------------------------------------------------------------------- */

static enum auth_result map_result(SPF_result_t r)
{
    switch (r) {
    case SPF_RESULT_PASS: return AUTH_PASS;
    case SPF_RESULT_FAIL: return AUTH_FAIL;
    case SPF_RESULT_SOFTFAIL: return AUTH_SOFTFAIL;
    case SPF_RESULT_NEUTRAL: return AUTH_NEUTRAL;
    case SPF_RESULT_NONE: return AUTH_NONE;
    case SPF_RESULT_TEMPERROR: return AUTH_TEMPERROR;
    case SPF_RESULT_PERMERROR: return AUTH_PERMERROR;
    case SPF_RESULT_INVALID: break;
    }
    return AUTH_TEMPERROR; /* libspf2 gave no result: try again, never fail */
}

/* Printable ASCII only (anything else as '?'), at most max-1 octets. */
static void copy_printable(char *out, size_t max, const char *in)
{
    size_t o = 0;

    for (; in != NULL && *in != '\0' && o + 1 < max; in++) {
        unsigned char c = (unsigned char)*in;
        out[o++] = (char)(c >= 0x20 && c <= 0x7e ? c : c == '\t' ? ' ' : '?');
    }
    out[o] = '\0';
}

static void eval_setup(struct spf_eval *e, struct spf_checker *c)
{
    memset(e, 0, sizeof *e);
    e->resolver = c->resolver;
    e->lim = &c->lim;
    e->deadline_ms = monotime_ms() + c->lim.deadline_ms;
}

static int request_fill(SPF_request_t *req, const struct ipaddr *client, const char *helo,
                        const char *sender, enum spf_identity id, const char *domain)
{
    char helo_safe[SPF_DOMAIN_MAX + 1];
    const char *why;
    int rc;

    if (client->v4) {
        struct in_addr a;
        memcpy(&a, client->b + 12, 4);
        rc = SPF_request_set_ipv4(req, a);
    } else {
        struct in6_addr a;
        memcpy(&a, client->b, 16);
        rc = SPF_request_set_ipv6(req, a);
    }
    /* %{s}: the sender, or postmaster@domain for HELO and the null sender. */
    if (id == SPF_ID_MAILFROM && sender != NULL && sender[0] != '\0' && sender[0] != '@')
        rc |= SPF_request_set_env_from(req, sender);
    else
        rc |= SPF_request_set_env_from(req, domain);
    /* %{h}: the HELO name only when it is a usable one; client text otherwise never reaches macros. */
    rc |= SPF_request_set_helo_dom(req, spf_identity_domain(helo, NULL, SPF_ID_HELO, helo_safe, &why) == 0
                                            ? helo_safe : "unknown");
    return rc == 0 ? 0 : -1;
}

/* libspf2's verdict, or ours where it only saw a failed lookup or a limit. */
static void outcome_fill(struct spf_outcome *out, const struct spf_eval *e, SPF_errcode_t err,
                         SPF_response_t *resp)
{
    if (err == SPF_E_SUCCESS || resp->result != SPF_RESULT_INVALID)
        out->result = map_result(resp->result);
    else
        out->result = err == SPF_E_NOT_SPF ? AUTH_NONE : err == SPF_E_DNS_ERROR ? AUTH_TEMPERROR : AUTH_PERMERROR;
    /* A lookup that failed for now makes the whole result temporary, even
       where libspf2 would carry on without it (%{p} reads "unknown"):
       a DNS failure must never end as fail, pass or none. */
    if ((err == SPF_E_DNS_ERROR || e->tempfails > 0) && out->result != AUTH_PERMERROR)
        out->result = AUTH_TEMPERROR;
    if (e->limit != NULL) {
        out->result = AUTH_PERMERROR;
        copy_printable(out->problem, sizeof out->problem, e->limit);
    } else if (out->result == AUTH_TEMPERROR)
        copy_printable(out->problem, sizeof out->problem, e->temp[0] != '\0' ? e->temp : "temporary DNS failure");
    else if (out->result == AUTH_PERMERROR)
        copy_printable(out->problem, sizeof out->problem,
                       SPF_response_errors(resp) > 0 ? SPF_error_message(SPF_response_message(resp, 0))
                                                     : SPF_strerror(resp->err));
    if (out->result == AUTH_FAIL)
        copy_printable(out->explanation, sizeof out->explanation, resp->explanation);
}

static void evaluate(struct spf_checker *c, SPF_request_t *req, struct spf_outcome *out)
{
    struct spf_eval e;
    SPF_response_t *resp = SPF_response_new(req);
    SPF_record_t *rec = NULL;

    if (resp == NULL) {
        out->result = AUTH_TEMPERROR;
        snprintf(out->problem, sizeof out->problem, "out of memory");
        return;
    }
    eval_setup(&e, c);
    e.req = req;
    spf_eval_begin(&e);
    /* check_host() without SPF_request_query_mailfrom(): that one passes
       any 127/8 client unasked. */
    req->cur_dom = out->domain;
    SPF_errcode_t err = spf_dns_get_record(c->server, req, resp, &rec);
    if (err == SPF_E_SUCCESS) {
        resp->spf_record_exp = rec;
        err = SPF_record_interpret(rec, req, resp, 0);
        SPF_record_free(rec);
        if (resp->result != SPF_RESULT_INVALID)
            err = SPF_E_SUCCESS; /* the result says it all */
    }
    spf_eval_end();
    outcome_fill(out, &e, err, resp);
    SPF_response_free(resp);
}

void spf_check(struct spf_checker *c, const struct ipaddr *client, const char *helo, const char *sender,
               enum spf_identity id, struct spf_outcome *out)
{
    const char *why;

    memset(out, 0, sizeof *out);
    out->identity = id;
    out->result = AUTH_NONE;
    if (spf_identity_domain(helo, sender, id, out->domain, &why) < 0) {
        copy_printable(out->problem, sizeof out->problem, why);
        return;
    }
    SPF_request_t *req = SPF_request_new(c->server);
    if (req == NULL || request_fill(req, client, helo, sender, id, out->domain) < 0) {
        out->result = AUTH_TEMPERROR;
        snprintf(out->problem, sizeof out->problem, "out of memory");
    } else
        evaluate(c, req, out);
    if (req != NULL)
        SPF_request_free(req);
}
