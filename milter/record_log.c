/*
 * record_log.c: a decision record as one key=value log line.
 *
 * Every value goes through logfmt (milter/logfmt.h): nothing a client sent
 * can add, end or change a field. A field that does not fit the line is
 * left out whole and counted, never cut in the middle.
 */
#include "milter/record_text.h"

#include <stdio.h>
#include <string.h>

#include "milter/logfmt.h"
#include "policy/auth/dkim.h"
#include "policy/auth/dkim_sign.h"
#include "policy/auth/dmarc.h"
#include "policy/auth/spf.h"
#include "policy/dns/dnscache.h"

struct kvline {
    char *buf;
    size_t len, cap;   /* cap keeps room for the closing "cut=N" */
    unsigned cut;
};

/* Append " key=value" (value already written by logfmt), or count it out. */
static void kv_raw(struct kvline *l, const char *key, const char *value)
{
    size_t klen = strlen(key), vlen = strlen(value);

    if (l->len + klen + vlen + 2 >= l->cap) {
        l->cut++;
        return;
    }
    if (l->len > 0)
        l->buf[l->len++] = ' ';
    memcpy(l->buf + l->len, key, klen);
    l->len += klen;
    l->buf[l->len++] = '=';
    memcpy(l->buf + l->len, value, vlen + 1);
    l->len += vlen;
}

static void kv_str(struct kvline *l, const char *key, const char *s)
{
    char v[LOGFMT_BUF];

    kv_raw(l, key, logfmt_str(s, v, sizeof v));
}

static void kv_num(struct kvline *l, const char *key, unsigned long n)
{
    char v[24];

    snprintf(v, sizeof v, "%lu", n);
    kv_raw(l, key, v);
}

/* A reply: its lines joined by " / ", always quoted. */
static void kv_reply(struct kvline *l, const char *key, const char *reply)
{
    char joined[RECORD_REPLY_MAX * 3], v[LOGFMT_BUF];
    size_t o = 0;

    for (const char *p = reply; *p != '\0' && o + 4 < sizeof joined; p++) {
        if (*p == '\n') {
            memcpy(joined + o, " / ", 3);
            o += 3;
        } else {
            joined[o++] = *p;
        }
    }
    joined[o] = '\0';
    kv_raw(l, key, logfmt_quoted(joined, v, sizeof v));
}

static void kv_verdict(struct kvline *l, const char *prefix, const struct record_verdict *v)
{
    char key[32];

    snprintf(key, sizeof key, "%srule", prefix);
    kv_str(l, key, record_rule_ref(v));
    if (v->failure) {
        snprintf(key, sizeof key, "%swhy", prefix);
        kv_reply(l, key, v->why ? v->why : "internal error");
    }
    if (v->reply[0] != '\0') {
        snprintf(key, sizeof key, "%sreply", prefix);
        kv_reply(l, key, v->reply);
    }
}

const char *record_client_name(const struct envelope *env)
{
    const char *n = env->client_name.s;

    return n != NULL && n[0] != '\0' && n[0] != '[' ? n : NULL;
}

void record_client_text(const struct envelope *env, char out[RECORD_CLIENT_MAX])
{
    char addr[IPADDR_TEXT_MAX] = "unknown";
    const char *name = record_client_name(env);

    if (env->have_client_ip)
        ipaddr_format(&env->client_ip, addr);
    snprintf(out, RECORD_CLIENT_MAX, "%.200s[%s]", name ? name : "unknown", addr);
}

static void kv_envelope(struct kvline *l, const struct record *r, const struct record_ids *ids)
{
    const struct envelope *env = r->env;
    char addr[IPADDR_TEXT_MAX] = "unknown", client[RECORD_CLIENT_MAX], when[32];

    kv_raw(l, "record", r->kind == RECORD_MESSAGE ? "message" : "connection");
    kv_str(l, "session", ids->session);
    kv_str(l, "qid", ids->qid && ids->qid[0] ? ids->qid : "-");
    record_time_text(&r->ended, when);
    kv_raw(l, "time", when);
    if (env->have_client_ip)
        ipaddr_format(&env->client_ip, addr);
    record_client_text(env, client);
    kv_str(l, "client", client);
    kv_raw(l, "ip", addr);
    kv_str(l, "helo", env->helo.s && env->helo.s[0] ? env->helo.s : "-");
    if (r->kind == RECORD_MESSAGE)
        kv_str(l, "from", env->sender.raw.s ? env->sender.raw.s : "<>");
    kv_str(l, "auth", env->auth_user.s && env->auth_user.s[0] ? env->auth_user.s : "-");
}

static void kv_recipients(struct kvline *l, const struct record *r)
{
    char key[32];

    for (unsigned i = 0; i < r->nrcpt; i++) {
        const struct record_rcpt *rc = &r->rcpt[i];
        snprintf(key, sizeof key, "rcpt.%u", i + 1);
        kv_str(l, key, rc->addr);
        snprintf(key, sizeof key, "rcpt.%u.action", i + 1);
        kv_raw(l, key, record_action_name(rc->v.action));
        snprintf(key, sizeof key, "rcpt.%u.", i + 1);
        kv_verdict(l, key, &rc->v);
    }
    if (r->rcpts_total > r->nrcpt)
        kv_num(l, "rcpt.more", r->rcpts_total - r->nrcpt);
}

static void kv_rules(struct kvline *l, const struct record *r)
{
    char list[LOGFMT_BUF] = "";
    size_t o = 0;

    for (unsigned i = 0; i < r->nwarned; i++)
        o += (size_t)snprintf(list + o, o < sizeof list ? sizeof list - o : 0, "%s%s", i ? "," : "",
                              rule_ref(r->warned[i]));
    if (r->nwarned > 0)
        kv_str(l, "warned", list);
    kv_num(l, "headers", r->headers);
    kv_num(l, "edits", r->edits);
    if (r->quarantined)
        kv_raw(l, "quarantine", "yes");
}

static void kv_dns(struct kvline *l, const struct record *r)
{
    const struct rdns_result *rd;
    char key[32], codes[80];

    if (r->dns == NULL)
        return;
    rd = dns_cache_rdns(r->dns);
    if (record_rdns_name(r) != NULL) {
        kv_raw(l, "rdns", record_rdns_name(r));
        if (rd->ptr[0] != '\0')
            kv_str(l, "ptr", rd->ptr);
    }
    for (unsigned j = 0; j < dns_cache_bl_count(r->dns); j++) {
        const struct bl_result *b = dns_cache_bl_at(r->dns, j);
        size_t o = 0;
        snprintf(key, sizeof key, "dnsl.%u", j + 1);
        kv_str(l, key, b->qname);
        snprintf(key, sizeof key, "dnsl.%u.result", j + 1);
        kv_raw(l, key, record_list_result_name(b->status));
        codes[0] = '\0';
        for (unsigned k = 0; k < b->ncodes && o < sizeof codes - IPADDR_TEXT_MAX; k++) {
            char a[IPADDR_TEXT_MAX];
            ipaddr_format(&b->codes[k], a);
            o += (size_t)snprintf(codes + o, sizeof codes - o, "%s%s", k ? "," : "", a);
        }
        snprintf(key, sizeof key, "dnsl.%u.codes", j + 1);
        if (b->status == DNS_FOUND && codes[0] != '\0')
            kv_raw(l, key, codes);
    }
}

static void kv_auth(struct kvline *l, const struct record *r)
{
    char key[32];

    if (r->spf_mfrom != NULL) {
        kv_raw(l, "spf", auth_result_name(r->spf_mfrom->result));
        if (r->spf_mfrom->domain[0] != '\0')
            kv_str(l, "spf.domain", r->spf_mfrom->domain);
    }
    if (r->spf_helo != NULL)
        kv_raw(l, "spf.helo", auth_result_name(r->spf_helo->result));
    if (r->dkim != NULL) {
        kv_raw(l, "dkim", auth_result_name(r->dkim->result));
        for (unsigned k = 0; k < r->dkim->nevaluated && k < DKIM_SIGS_MAX; k++) {
            snprintf(key, sizeof key, "dkim.%u.domain", k + 1);
            kv_str(l, key, r->dkim->sig[k].domain);
            snprintf(key, sizeof key, "dkim.%u.result", k + 1);
            kv_raw(l, key, auth_result_name(r->dkim->sig[k].result));
        }
    }
    if (r->dkim_sign != NULL) {
        kv_raw(l, "dkim_sign", r->dkim_sign->nsigs > 0 ? "signed" : "none");
        for (unsigned k = 0; k < r->dkim_sign->nsigs && k < DKIM_SIGN_MAX; k++) {
            snprintf(key, sizeof key, "dkim_sign.%u.d", k + 1);
            kv_str(l, key, r->dkim_sign->sig[k].d);
            snprintf(key, sizeof key, "dkim_sign.%u.s", k + 1);
            kv_str(l, key, r->dkim_sign->sig[k].s);
            snprintf(key, sizeof key, "dkim_sign.%u.a", k + 1);
            kv_raw(l, key, r->dkim_sign->sig[k].a);
        }
        if (r->dkim_sign->nsigs == 0)
            kv_str(l, "dkim_sign.why", r->dkim_sign->why);
    }
    if (r->dmarc != NULL) {
        kv_raw(l, "dmarc", auth_result_name(r->dmarc->result));
        kv_raw(l, "dmarc.policy", dmarc_disposition_name(r->dmarc->policy));
        if (r->dmarc->from_domain[0] != '\0')
            kv_str(l, "dmarc.from", r->dmarc->from_domain);
        kv_raw(l, "dmarc.spf_aligned", r->dmarc->spf_aligned ? "yes" : "no");
        kv_raw(l, "dmarc.dkim_aligned", r->dmarc->dkim_aligned ? "yes" : "no");
    }
    if (r->greylist != NULL)
        kv_raw(l, "greylist", r->greylist);
    if (r->virus != NULL) {
        kv_raw(l, "virus", r->virus);
        if (r->virus_name != NULL)
            kv_str(l, "virus.name", r->virus_name);
    }
    if (r->store_errors > 0)
        kv_num(l, "store.errors", r->store_errors);
}

static void kv_times(struct kvline *l, const struct record *r)
{
    char key[32];

    for (int s = 0; s < STAGE_COUNT; s++) {
        if (r->us_stage[s] == 0)
            continue;
        snprintf(key, sizeof key, "us.%s", stage_name((enum stage)s));
        kv_num(l, key, r->us_stage[s]);
    }
    for (int c = 0; c < CHECK_COUNT; c++) {
        snprintf(key, sizeof key, "us.%s", record_check_name((enum record_check)c));
        kv_num(l, key, r->us_check[c]);
    }
    if (r->dmarc != NULL)
        kv_num(l, "us.dmarc", r->us_dmarc);
}

const char *record_log_line(const struct record *r, const struct record_ids *ids, char *out, size_t outsz)
{
    struct kvline l = { out, 0, outsz > 24 ? outsz - 24 : 0, 0 };

    out[0] = '\0';
    kv_envelope(&l, r, ids);
    kv_num(&l, "rcpts", r->rcpts_total);
    kv_num(&l, "taken", r->rcpts_taken);
    kv_raw(&l, "outcome", record_outcome_name(r));
    kv_raw(&l, "stage", stage_name(r->outcome.stage));
    kv_verdict(&l, "", &r->outcome);
    kv_recipients(&l, r);
    kv_rules(&l, r);
    kv_dns(&l, r);
    kv_auth(&l, r);
    kv_times(&l, r);
    if (l.cut > 0)
        snprintf(out + l.len, outsz - l.len, " cut=%u", l.cut);
    return out;
}

void record_time_text(const struct timespec *ts, char out[32])
{
    struct tm tm;
    char sec[24];

    gmtime_r(&ts->tv_sec, &tm);
    strftime(sec, sizeof sec, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%.20s.%03dZ", sec, (int)(ts->tv_nsec / 1000000 % 1000));
}
