/*
 * record_json.c: a decision record as one JSON line (json-c).
 *
 * json-c escapes quotes, backslashes and control bytes; it passes other
 * bytes through, so every string a client could have sent is made valid
 * UTF-8 first: a line must parse, whatever bytes the client sent.
 */
#include "milter/record_text.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "policy/auth/dkim.h"
#include "policy/auth/dkim_sign.h"
#include "policy/auth/dmarc.h"
#include "policy/auth/spf.h"
#include "policy/dns/dnscache.h"

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    size_t len;
    unsigned cp;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, cp = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, cp = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, cp = p[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    /* Overlong forms, surrogates and past U+10FFFF are not UTF-8. */
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static json_object *jstr(const char *s)
{
    size_t n = strlen(s), o = 0, ascii = 0;
    char *clean;
    json_object *j;

    while (ascii < n && (unsigned char)s[ascii] < 0x80)
        ascii++;
    if (ascii == n) /* the common case: nothing to clean, no copy */
        return json_object_new_string_len(s, (int)n);
    if ((clean = malloc(n * 3 + 1)) == NULL)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq((const unsigned char *)s + i, n - i);
        if (len == 0) {
            memcpy(clean + o, "\xef\xbf\xbd", 3); /* U+FFFD */
            o += 3;
            i++;
        } else {
            memcpy(clean + o, s + i, len);
            o += len;
            i += len;
        }
    }
    j = json_object_new_string_len(clean, (int)o);
    free(clean);
    return j;
}

/* Keys are our literals, each put once: json-c neither copies nor looks them up. */
static void put(json_object *o, const char *key, json_object *v)
{
    json_object_object_add_ex(o, key, v, JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT);
}

static void put_verdict(json_object *o, const struct record_verdict *v)
{
    put(o, "rule", jstr(record_rule_ref(v)));
    if (v->failure)
        put(o, "why", jstr(v->why ? v->why : "internal error"));
    put(o, "reply", v->reply[0] ? jstr(v->reply) : NULL);
}

static void put_envelope(json_object *o, const struct record *r, const struct record_ids *ids)
{
    const struct envelope *env = r->env;
    char addr[IPADDR_TEXT_MAX], when[32];
    json_object *client = json_object_new_object();

    put(o, "record", jstr(r->kind == RECORD_MESSAGE ? "message" : "connection"));
    put(o, "session", jstr(ids->session));
    put(o, "qid", ids->qid && ids->qid[0] ? jstr(ids->qid) : NULL);
    record_time_text(&r->ended, when);
    put(o, "time", jstr(when));
    put(client, "name", record_client_name(env) ? jstr(record_client_name(env)) : NULL);
    if (env->have_client_ip)
        ipaddr_format(&env->client_ip, addr);
    put(client, "ip", env->have_client_ip ? jstr(addr) : NULL);
    put(o, "client", client);
    put(o, "helo", env->helo.s && env->helo.s[0] ? jstr(env->helo.s) : NULL);
    if (r->kind == RECORD_MESSAGE)
        put(o, "from", jstr(env->sender.raw.s ? env->sender.raw.s : "<>"));
    put(o, "auth", env->auth_user.s && env->auth_user.s[0] ? jstr(env->auth_user.s) : NULL);
}

static void put_recipients(json_object *o, const struct record *r)
{
    json_object *list = json_object_new_array();

    for (unsigned i = 0; i < r->nrcpt; i++) {
        json_object *rc = json_object_new_object();
        put(rc, "address", jstr(r->rcpt[i].addr));
        put(rc, "action", jstr(record_action_name(r->rcpt[i].v.action)));
        put_verdict(rc, &r->rcpt[i].v);
        json_object_array_add(list, rc);
    }
    put(o, "recipients", list);
    put(o, "rcpts_more", json_object_new_int64(r->rcpts_total - r->nrcpt));
}

static void put_rules(json_object *o, const struct record *r)
{
    json_object *warned = json_object_new_array();

    for (unsigned i = 0; i < r->nwarned; i++)
        json_object_array_add(warned, jstr(rule_ref(r->warned[i])));
    put(o, "warned", warned);
    put(o, "headers", json_object_new_int64(r->headers));
    put(o, "edits", json_object_new_int64(r->edits));
    put(o, "quarantine", json_object_new_boolean(r->quarantined));
}

static void put_dns(json_object *o, const struct record *r)
{
    const struct rdns_result *rd;
    json_object *lists;

    if (r->dns == NULL)
        return;
    rd = dns_cache_rdns(r->dns);
    if (record_rdns_name(r) != NULL) {
        json_object *rdns = json_object_new_object();
        put(rdns, "status", jstr(record_rdns_name(r)));
        put(rdns, "ptr", rd->ptr[0] ? jstr(rd->ptr) : NULL);
        put(o, "rdns", rdns);
    }
    lists = json_object_new_array();
    for (unsigned j = 0; j < dns_cache_bl_count(r->dns); j++) {
        const struct bl_result *b = dns_cache_bl_at(r->dns, j);
        json_object *l = json_object_new_object(), *codes = json_object_new_array();
        put(l, "zone", jstr(b->qname));
        put(l, "result", jstr(record_list_result_name(b->status)));
        for (unsigned k = 0; b->status == DNS_FOUND && k < b->ncodes; k++) {
            char a[IPADDR_TEXT_MAX];
            ipaddr_format(&b->codes[k], a);
            json_object_array_add(codes, jstr(a));
        }
        put(l, "codes", codes);
        json_object_array_add(lists, l);
    }
    put(o, "dnsl", lists);
}

static void put_auth(json_object *o, const struct record *r)
{
    if (r->spf_mfrom != NULL || r->spf_helo != NULL) {
        json_object *spf = json_object_new_object();
        if (r->spf_mfrom != NULL) {
            put(spf, "result", jstr(auth_result_name(r->spf_mfrom->result)));
            put(spf, "domain", r->spf_mfrom->domain[0] ? jstr(r->spf_mfrom->domain) : NULL);
        }
        if (r->spf_helo != NULL)
            put(spf, "helo", jstr(auth_result_name(r->spf_helo->result)));
        put(o, "spf", spf);
    }
    if (r->dkim != NULL) {
        json_object *dkim = json_object_new_object(), *sigs = json_object_new_array();
        put(dkim, "result", jstr(auth_result_name(r->dkim->result)));
        for (unsigned k = 0; k < r->dkim->nevaluated && k < DKIM_SIGS_MAX; k++) {
            json_object *sig = json_object_new_object();
            put(sig, "domain", jstr(r->dkim->sig[k].domain));
            put(sig, "result", jstr(auth_result_name(r->dkim->sig[k].result)));
            json_object_array_add(sigs, sig);
        }
        put(dkim, "signatures", sigs);
        put(o, "dkim", dkim);
    }
    if (r->dkim_sign != NULL) {
        json_object *ds = json_object_new_object(), *sigs = json_object_new_array();
        for (unsigned k = 0; k < r->dkim_sign->nsigs && k < DKIM_SIGN_MAX; k++) {
            json_object *sig = json_object_new_object();
            put(sig, "d", jstr(r->dkim_sign->sig[k].d));
            put(sig, "s", jstr(r->dkim_sign->sig[k].s));
            put(sig, "a", jstr(r->dkim_sign->sig[k].a));
            json_object_array_add(sigs, sig);
        }
        put(ds, "signatures", sigs);
        put(ds, "why", r->dkim_sign->nsigs == 0 ? jstr(r->dkim_sign->why) : NULL);
        put(o, "dkim_sign", ds);
    }
    if (r->dmarc != NULL) {
        json_object *dmarc = json_object_new_object();
        put(dmarc, "result", jstr(auth_result_name(r->dmarc->result)));
        put(dmarc, "policy", jstr(dmarc_disposition_name(r->dmarc->policy)));
        put(dmarc, "from", r->dmarc->from_domain[0] ? jstr(r->dmarc->from_domain) : NULL);
        put(dmarc, "spf_aligned", json_object_new_boolean(r->dmarc->spf_aligned));
        put(dmarc, "dkim_aligned", json_object_new_boolean(r->dmarc->dkim_aligned));
        put(o, "dmarc", dmarc);
    }
    put(o, "greylist", r->greylist ? jstr(r->greylist) : NULL);
    if (r->virus != NULL) {
        json_object *virus = json_object_new_object();
        put(virus, "result", jstr(r->virus));
        put(virus, "name", r->virus_name ? jstr(r->virus_name) : NULL);
        put(o, "virus", virus);
    }
    put(o, "store_errors", json_object_new_int64(r->store_errors));
}

static void put_times(json_object *o, const struct record *r)
{
    json_object *us = json_object_new_object();

    for (int s = 0; s < STAGE_COUNT; s++)
        if (r->us_stage[s] > 0)
            put(us, stage_name((enum stage)s), json_object_new_int64((int64_t)r->us_stage[s]));
    for (int c = 0; c < CHECK_COUNT; c++)
        put(us, record_check_name((enum record_check)c), json_object_new_int64((int64_t)r->us_check[c]));
    if (r->dmarc != NULL)
        put(us, "dmarc", json_object_new_int64((int64_t)r->us_dmarc));
    put(o, "us", us);
}

char *record_json_line(const struct record *r, const struct record_ids *ids)
{
    json_object *o = json_object_new_object();
    char *line;

    if (o == NULL)
        return NULL;
    put_envelope(o, r, ids);
    put(o, "rcpts", json_object_new_int64(r->rcpts_total));
    put(o, "taken", json_object_new_int64(r->rcpts_taken));
    put(o, "outcome", jstr(record_outcome_name(r)));
    put(o, "stage", jstr(stage_name(r->outcome.stage)));
    put_verdict(o, &r->outcome);
    put_recipients(o, r);
    put_rules(o, r);
    put_dns(o, r);
    put_auth(o, r);
    put_times(o, r);
    line = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return line;
}
