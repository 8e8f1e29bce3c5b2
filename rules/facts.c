/*
 * facts.c: the fact table and the getters for what the MTA reported.
 *
 * Getters only read the envelope; they never allocate, so evaluation of a
 * rule set cannot fail half-way for lack of memory.
 */
#include "rules/facts.h"

#include <string.h>

static void str_value(const struct envelope_str *str, struct fact_value *out)
{
    out->present = str->s != NULL;
    out->s = str->s ? str->s : "";
    out->len = str->len;
}

static enum fact_result get_client_address(const struct envelope *env, struct fact_value *out)
{
    out->present = env->have_client_ip;
    out->ip = &env->client_ip;
    return FACT_OK;
}

static enum fact_result get_client_name(const struct envelope *env, struct fact_value *out)
{
    str_value(&env->client_name, out);
    return FACT_OK;
}

static enum fact_result get_helo(const struct envelope *env, struct fact_value *out)
{
    str_value(&env->helo, out);
    return FACT_OK;
}

static enum fact_result get_auth_user(const struct envelope *env, struct fact_value *out)
{
    str_value(&env->auth_user, out);
    out->present = out->present && out->len > 0;
    return FACT_OK;
}

static enum fact_result get_authenticated(const struct envelope *env, struct fact_value *out)
{
    out->present = true;
    out->b = env->auth_user.s != NULL && env->auth_user.len > 0;
    return FACT_OK;
}

/* Whole address as local@domain (dequoted), for list and equality tests. */
static enum fact_result path_whole(const struct envelope_path *p, struct fact_value *out)
{
    out->present = p->present;
    if (p->ok) {
        out->s = p->addr.full;
        out->len = p->addr.full_len;
    } else {
        /* Unparseable: the text as sent, without its angle brackets, so
           replies and logs can show it. */
        out->s = p->raw.s ? p->raw.s : "";
        out->len = p->raw.len;
        if (out->len >= 2 && out->s[0] == '<' && out->s[out->len - 1] == '>') {
            out->s++;
            out->len -= 2;
        }
    }
    return FACT_OK;
}

static enum fact_result path_local(const struct envelope_path *p, struct fact_value *out)
{
    out->present = p->present && p->ok;
    out->s = out->present ? p->addr.local : "";
    out->len = out->present ? p->addr.local_len : 0;
    return FACT_OK;
}

static enum fact_result path_domain(const struct envelope_path *p, struct fact_value *out)
{
    out->present = p->present && p->ok;
    out->s = out->present ? p->addr.domain : "";
    out->len = out->present ? p->addr.domain_len : 0;
    return FACT_OK;
}

static enum fact_result get_sender(const struct envelope *e, struct fact_value *o) { return path_whole(&e->sender, o); }
static enum fact_result get_sender_local(const struct envelope *e, struct fact_value *o) { return path_local(&e->sender, o); }
static enum fact_result get_sender_domain(const struct envelope *e, struct fact_value *o) { return path_domain(&e->sender, o); }
static enum fact_result get_rcpt(const struct envelope *e, struct fact_value *o) { return path_whole(&e->rcpt, o); }
static enum fact_result get_rcpt_local(const struct envelope *e, struct fact_value *o) { return path_local(&e->rcpt, o); }
static enum fact_result get_rcpt_domain(const struct envelope *e, struct fact_value *o) { return path_domain(&e->rcpt, o); }

static enum fact_result get_rcpt_routed(const struct envelope *env, struct fact_value *out)
{
    out->present = env->rcpt.present;
    /* An address we cannot parse might route anywhere: count it as routed. */
    out->b = env->rcpt.present && (!env->rcpt.ok || env->rcpt.addr.routed);
    return FACT_OK;
}

static enum fact_result get_rcpt_valid(const struct envelope *env, struct fact_value *out)
{
    out->present = env->rcpt.present;
    out->b = env->rcpt.present && env->rcpt.ok && !env->rcpt.addr.is_null;
    return FACT_OK;
}

static enum fact_result get_sender_valid(const struct envelope *env, struct fact_value *out)
{
    out->present = env->sender.present;
    out->b = env->sender.present && env->sender.ok;
    return FACT_OK;
}

static enum fact_result get_sender_null(const struct envelope *env, struct fact_value *out)
{
    out->present = env->sender.present;
    out->b = env->sender.ok && env->sender.addr.is_null;
    return FACT_OK;
}

/* Sorted by name: fact_lookup bisects. */
static const struct fact_def facts[] = {
    { "auth.user", FACT_STRING, STAGE_MAIL, get_auth_user,
      "the SMTP AUTH user name (MTA macro {auth_authen})" },
    { "authenticated", FACT_BOOL, STAGE_MAIL, get_authenticated,
      "true when the client authenticated with SMTP AUTH" },
    { "client.address", FACT_IP, STAGE_CONNECT, get_client_address,
      "the client's IPv4 or IPv6 address" },
    { "client.name", FACT_STRING, STAGE_CONNECT, get_client_name,
      "the client host name as the MTA reports it ([address] when it has none)" },
    { "helo", FACT_STRING, STAGE_HELO, get_helo,
      "the HELO or EHLO argument" },
    { "recipient", FACT_ADDRESS, STAGE_RCPT, get_rcpt,
      "the recipient as local@domain (local part quoted only where RFC 5321 needs it, domain in lower case)" },
    { "recipient.domain", FACT_DOMAIN, STAGE_RCPT, get_rcpt_domain,
      "the recipient's domain, lower case" },
    { "recipient.local", FACT_STRING, STAGE_RCPT, get_rcpt_local,
      "the recipient's local part, dequoted" },
    { "recipient.routed", FACT_BOOL, STAGE_RCPT, get_rcpt_routed,
      "true when the recipient carries sender-specified routing (%, ! or @ in the local part, a source route) or cannot be parsed" },
    { "recipient.valid", FACT_BOOL, STAGE_RCPT, get_rcpt_valid,
      "true when the recipient path is a syntactically valid RFC 5321 address" },
    { "sender", FACT_ADDRESS, STAGE_MAIL, get_sender,
      "the envelope sender as local@domain, in the same canonical form (empty for <>)" },
    { "sender.domain", FACT_DOMAIN, STAGE_MAIL, get_sender_domain,
      "the sender's domain, lower case" },
    { "sender.local", FACT_STRING, STAGE_MAIL, get_sender_local,
      "the sender's local part, dequoted" },
    { "sender.null", FACT_BOOL, STAGE_MAIL, get_sender_null,
      "true for the null sender <>" },
    { "sender.valid", FACT_BOOL, STAGE_MAIL, get_sender_valid,
      "true when the sender path is a syntactically valid RFC 5321 address or <>" },
};

const struct fact_def *fact_lookup(const char *name)
{
    size_t lo = 0, hi = sizeof facts / sizeof facts[0];

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, facts[mid].name);
        if (c == 0)
            return &facts[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const struct fact_def *fact_table(size_t *count)
{
    *count = sizeof facts / sizeof facts[0];
    return facts;
}

const char *fact_type_name(enum fact_type t)
{
    switch (t) {
    case FACT_STRING: return "string";
    case FACT_IP: return "address";
    case FACT_DOMAIN: return "domain";
    case FACT_ADDRESS: return "mail address";
    case FACT_BOOL: return "boolean";
    case FACT_NUMBER: return "number";
    }
    return "?";
}
