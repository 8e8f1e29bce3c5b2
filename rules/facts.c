/*
 * facts.c: the fact table, and the getters for what the MTA reported and
 * for the client's DNS (reverse DNS, lists); those of sender
 * authentication and of the content have files of their own
 * (facts_getters.h).
 *
 * Getters only read the envelope; they never allocate, so evaluation of a
 * rule set cannot fail half-way for lack of memory.
 */
#include "rules/facts.h"
#include "rules/facts_getters.h"

#include "policy/dns/dnscache.h"

#include <stdio.h>
#include <stdlib.h>
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

/* HELO facts: booleans are always known, so "not helo.valid" holds when
   the client sent no HELO at all. */
#define HELO_BOOL(fn, expr)                                                  \
    static enum fact_result fn(const struct envelope *env, struct fact_value *out) \
    {                                                                        \
        const struct helo_info *h = &env->helo_info;                         \
        (void)h;                                                             \
        out->present = true;                                                 \
        out->b = (expr);                                                     \
        return FACT_OK;                                                      \
    }

HELO_BOOL(get_helo_present, env->helo.s != NULL && env->helo.len > 0)
HELO_BOOL(get_helo_valid, h->valid)
HELO_BOOL(get_helo_fqdn, h->fqdn)
HELO_BOOL(get_helo_literal, h->literal)
HELO_BOOL(get_helo_bare_ip, h->bare_ip)
HELO_BOOL(get_helo_mismatch, h->has_ip && env->have_client_ip &&
                                 memcmp(h->ip.b, env->client_ip.b, 16) != 0)

static enum fact_result get_helo_address(const struct envelope *env, struct fact_value *out)
{
    out->present = env->helo_info.has_ip;
    out->ip = &env->helo_info.ip;
    return FACT_OK;
}

static enum fact_result get_helo_domain(const struct envelope *env, struct fact_value *out)
{
    out->present = env->helo_info.domain_len > 0;
    out->s = env->helo_info.domain;
    out->len = env->helo_info.domain_len;
    return FACT_OK;
}

static bool path_fqdn(const struct envelope_path *p)
{
    return p->present && p->ok && !p->addr.literal && memchr(p->addr.domain, '.', p->addr.domain_len) != NULL;
}

static enum fact_result get_sender_fqdn(const struct envelope *env, struct fact_value *out)
{
    out->present = env->sender.present;
    out->b = path_fqdn(&env->sender);
    return FACT_OK;
}

static enum fact_result get_rcpt_fqdn(const struct envelope *env, struct fact_value *out)
{
    out->present = env->rcpt.present;
    out->b = path_fqdn(&env->rcpt);
    return FACT_OK;
}

static enum fact_result get_header_name(const struct envelope *env, struct fact_value *out)
{
    str_value(&env->header_name, out);
    return FACT_OK;
}

static enum fact_result get_header_value(const struct envelope *env, struct fact_value *out)
{
    str_value(&env->header_value, out);
    return FACT_OK;
}

static enum fact_result get_header_count(const struct envelope *env, struct fact_value *out)
{
    out->present = true;
    out->n = (long)env->header_count;
    return FACT_OK;
}

static enum fact_result get_declared_size(const struct envelope *env, struct fact_value *out)
{
    out->present = env->declared_size >= 0;
    out->n = env->declared_size;
    return FACT_OK;
}

static enum fact_result get_rcpt_count(const struct envelope *env, struct fact_value *out)
{
    /* At RCPT the recipient being decided counts too. */
    out->present = true;
    out->n = (long)env->rcpt_count + (env->rcpt_pending ? 1 : 0);
    return FACT_OK;
}

const char *fact_macro_value(const struct envelope *env, const char *name)
{
    return env->macro != NULL ? env->macro(env->macro_ctx, name) : NULL;
}

void fact_from_macro(const struct envelope *env, const char *name, enum fact_type type,
                     struct fact_value *out)
{
    const char *v = fact_macro_value(env, name);

    out->present = v != NULL && v[0] != '\0';
    out->s = v ? v : "";
    /* Macro values come from the MTA but describe the client: bounded. */
    out->len = v ? strnlen(v, ENVELOPE_NAME_MAX) : 0;
    if (type == FACT_NUMBER) {
        char *end;
        out->n = out->present ? strtol(v, &end, 10) : 0;
        out->present = out->present && end != v;
    }
}

static enum fact_result get_no_value(const struct envelope *env, struct fact_value *out)
{
    (void)env;
    out->present = false;
    return FACT_OK;
}

const struct fact_def fact_macro = { "macro", FACT_STRING, STAGE_CONNECT, get_no_value,
                                     "an MTA macro by name", NULL, false, NULL, 0 };

#define MACRO_FACT(fn, macro_name, type)                                          \
    static enum fact_result fn(const struct envelope *env, struct fact_value *out) \
    {                                                                             \
        fact_from_macro(env, macro_name, type, out);                              \
        return FACT_OK;                                                           \
    }

MACRO_FACT(get_tls_version, "{tls_version}", FACT_STRING)
MACRO_FACT(get_tls_cipher, "{cipher}", FACT_STRING)
MACRO_FACT(get_tls_bits, "{cipher_bits}", FACT_NUMBER)
MACRO_FACT(get_tls_subject, "{cert_subject}", FACT_STRING)
MACRO_FACT(get_tls_issuer, "{cert_issuer}", FACT_STRING)
MACRO_FACT(get_daemon_name, "{daemon_name}", FACT_STRING)

static enum fact_result get_tls(const struct envelope *env, struct fact_value *out)
{
    const char *v = fact_macro_value(env, "{tls_version}");

    out->present = true;
    out->b = v != NULL && v[0] != '\0';
    return FACT_OK;
}

/* Reverse DNS, from the session's DNS cache (asked before the stage ran). */
static enum rdns_status rdns_status(const struct envelope *env)
{
    return env->dns != NULL ? dns_cache_rdns(env->dns)->status : RDNS_TEMPFAIL;
}

#define RDNS_BOOL(fn, st)                                                          \
    static enum fact_result fn(const struct envelope *env, struct fact_value *out) \
    {                                                                              \
        out->present = true;                                                       \
        out->b = rdns_status(env) == (st);                                         \
        return FACT_OK;                                                            \
    }

RDNS_BOOL(get_rdns_confirmed, RDNS_CONFIRMED)
RDNS_BOOL(get_rdns_unconfirmed, RDNS_UNCONFIRMED)
RDNS_BOOL(get_rdns_none, RDNS_NONE)
RDNS_BOOL(get_rdns_temperror, RDNS_TEMPFAIL)

static enum fact_result get_rdns_name(const struct envelope *env, struct fact_value *out)
{
    const char *n = env->dns != NULL && rdns_status(env) == RDNS_CONFIRMED ? dns_cache_rdns(env->dns)->name : "";

    out->present = n[0] != '\0';
    out->s = n;
    out->len = strlen(n);
    return FACT_OK;
}

static enum fact_result get_rdns_ptr(const struct envelope *env, struct fact_value *out)
{
    const char *n = env->dns != NULL ? dns_cache_rdns(env->dns)->ptr : "";

    out->present = n[0] != '\0';
    out->s = n;
    out->len = strlen(n);
    return FACT_OK;
}

static enum fact_result get_dnsbl_score(const struct envelope *env, struct fact_value *out)
{
    out->present = true;
    out->n = env->dnsbl_score;
    return FACT_OK;
}

static enum fact_result get_dnsbl_count(const struct envelope *env, struct fact_value *out)
{
    out->present = true;
    out->n = env->dnsbl_count;
    return FACT_OK;
}

static enum fact_result get_dnsbl_reason(const struct envelope *env, struct fact_value *out)
{
    out->present = env->dnsbl_reason[0] != '\0';
    out->s = env->dnsbl_reason;
    out->len = strlen(env->dnsbl_reason);
    return FACT_OK;
}

/* Sorted by name: fact_lookup bisects. */
static const struct fact_def facts[] = {
    { "archive.encrypted", FACT_BOOL, STAGE_EOM, get_archive_encrypted,
      "true when an attached archive has an encrypted member", NULL, false, NULL, 0 },
    { "archive.member", FACT_STRING, STAGE_EOM, get_member,
      "the names of the members of attached archives, one level deep (multi-valued)", NULL, false, nth_member, 3 },
    { "archive.member_ext", FACT_STRING, STAGE_EOM, get_member_ext,
      "the last extension of each archive member's name (multi-valued)", NULL, false, nth_member_ext, 3 },
    { "attachment.count", FACT_NUMBER, STAGE_EOM, get_attachment_count,
      "how many parts carry a file name", NULL, false, NULL, 0 },
    { "attachment.detected_type", FACT_STRING, STAGE_EOM, get_detected_type,
      "the content type of each leaf part as its bytes show it (multi-valued)", NULL, false, nth_detected_type, 2 },
    { "attachment.ext", FACT_STRING, STAGE_EOM, get_attachment_ext,
      "the lower-cased last extension of each attachment's name: invoice.pdf.exe gives exe (multi-valued)",
      NULL, false, nth_attachment_ext, 1 },
    { "attachment.name", FACT_STRING, STAGE_EOM, get_attachment_name,
      "the file name of each attachment (Content-Disposition filename, else Content-Type name; "
      "RFC 2231 and RFC 2047 decoded, UTF-8) (multi-valued)", NULL, false, nth_attachment_name, 1 },
    { "attachment.type", FACT_STRING, STAGE_EOM, get_attachment_type,
      "the declared content type of each leaf part, lower case (multi-valued)", NULL, false, nth_attachment_type, 2 },
    { "attachment.type_mismatch", FACT_BOOL, STAGE_EOM, get_type_mismatch,
      "true when a part's detected type contradicts its declared type or extension", NULL, false, NULL, 0 },
    { "auth.user", FACT_STRING, STAGE_MAIL, get_auth_user,
      "the SMTP AUTH user name (MTA macro {auth_authen})", "{auth_authen}", false, NULL, 0 },
    { "authenticated", FACT_BOOL, STAGE_MAIL, get_authenticated,
      "true when the client authenticated with SMTP AUTH", NULL, false, NULL, 0 },
    { "body.text", FACT_STRING, STAGE_EOM, get_body_text,
      "the decoded text of the text/plain and text/html parts (UTF-8, HTML reduced to text, at most 1 MiB)",
      NULL, false, NULL, 0 },
    { "client.address", FACT_IP, STAGE_CONNECT, get_client_address,
      "the client's IPv4 or IPv6 address", NULL, false, NULL, 0 },
    { "client.name", FACT_STRING, STAGE_CONNECT, get_client_name,
      "the client host name as the MTA reports it ([address] when it has none)", NULL, false, NULL, 0 },
    { "daemon.name", FACT_STRING, STAGE_CONNECT, get_daemon_name,
      "the name of the MTA's listener that took the connection (macro {daemon_name})", "{daemon_name}", false, NULL, 0 },
    { "dkim.algorithm", FACT_STRING, STAGE_EOM, get_dkim_algorithm,
      "the algorithm of the signature that speaks for the message (rsa-sha256, ed25519-sha256; rsa-sha1 never passes)", NULL, false, NULL, 0 },
    { "dkim.domain", FACT_DOMAIN, STAGE_EOM, get_dkim_domain,
      "the signing domain (d=) of the first signature that passed, else of the first one evaluated", NULL, false, NULL, 0 },
    { "dkim.key_bits", FACT_NUMBER, STAGE_EOM, get_dkim_key_bits,
      "the key size in bits of that signature (absent when its key was not retrieved)", NULL, false, NULL, 0 },
    { "dkim.passed", FACT_NUMBER, STAGE_EOM, get_dkim_passed,
      "how many of the evaluated signatures passed", NULL, false, NULL, 0 },
    { "dkim.result", FACT_RESULT, STAGE_EOM, get_dkim_result,
      "pass if a signature passed, else temperror, fail, policy or permerror; none without signatures", NULL, false, NULL, 0 },
    { "dkim.selector", FACT_STRING, STAGE_EOM, get_dkim_selector,
      "the selector (s=) of that signature", NULL, false, NULL, 0 },
    { "dkim.signatures", FACT_NUMBER, STAGE_EOM, get_dkim_signatures,
      "DKIM-Signature headers in the message (evaluated or not)", NULL, false, NULL, 0 },
    { "dmarc.dkim_aligned", FACT_BOOL, STAGE_EOM, get_dmarc_dkim_aligned,
      "true when a passing DKIM signature's d= aligns with the From: domain (adkim=)", NULL, false, NULL, 0 },
    { "dmarc.from_domain", FACT_DOMAIN, STAGE_EOM, get_dmarc_from_domain,
      "the From: (author) domain DMARC decided on; of several, the one with the worst result", NULL, false, NULL, 0 },
    { "dmarc.from_problem", FACT_STRING, STAGE_EOM, get_dmarc_from_problem,
      "what was wrong with the From: fields (no From: field, several, several domains, no usable domain); absent when nothing", NULL, false, NULL, 0 },
    { "dmarc.org_domain", FACT_DOMAIN, STAGE_EOM, get_dmarc_org_domain,
      "the organizational domain of the From: domain (by the Public Suffix List)", NULL, false, NULL, 0 },
    { "dmarc.policy", FACT_STRING, STAGE_EOM, get_dmarc_policy,
      "what the domain asks for this message after pct=: none, quarantine or reject (none unless dmarc.result is fail)", NULL, false, NULL, 0 },
    { "dmarc.published", FACT_STRING, STAGE_EOM, get_dmarc_published,
      "the p=, sp= or np= policy that applies, before pct= (absent without a record)", NULL, false, NULL, 0 },
    { "dmarc.result", FACT_RESULT, STAGE_EOM, get_dmarc_result,
      "the DMARC result: pass fail none temperror permerror (a DNS failure is temperror, never none)", NULL, false, NULL, 0 },
    { "dmarc.spf_aligned", FACT_BOOL, STAGE_EOM, get_dmarc_spf_aligned,
      "true when SPF passed for MAIL FROM and its domain aligns with the From: domain (aspf=)", NULL, false, NULL, 0 },
    { "dnsbl.count", FACT_NUMBER, STAGE_CONNECT, get_dnsbl_count,
      "how many of the declared DNS lists list what they check (allow lists too)", NULL, false, NULL, 0 },
    { "dnsbl.reason", FACT_STRING, STAGE_CONNECT, get_dnsbl_reason,
      "the TXT reason of the first listing, in declaration order (capped, printable)", NULL, false, NULL, 0 },
    { "dnsbl.score", FACT_NUMBER, STAGE_CONNECT, get_dnsbl_score,
      "the sum of the weights of the DNS lists that list what they check", NULL, false, NULL, 0 },
    { "greylist.wait", FACT_NUMBER, STAGE_RCPT, get_greylist_wait,
      "seconds until a greylisted recipient may pass (in a greylist rule's reply)", NULL, true, NULL, 0 },
    { "header.count", FACT_NUMBER, STAGE_HEADER, get_header_count,
      "headers of this message so far, counting the one being decided at stage header", NULL, false, NULL, 0 },
    { "header.name", FACT_STRING, STAGE_HEADER, get_header_name,
      "the name of the header being decided (stage header)", NULL, true, NULL, 0 },
    { "header.value", FACT_STRING, STAGE_HEADER, get_header_value,
      "the value of the header being decided, as the MTA passes it (stage header; cut at 8192 bytes)", NULL, true, NULL, 0 },
    { "helo", FACT_STRING, STAGE_HELO, get_helo,
      "the HELO or EHLO argument, as sent", NULL, false, NULL, 0 },
    { "helo.address", FACT_IP, STAGE_HELO, get_helo_address,
      "the address in an address-literal HELO ([192.0.2.1]) or a bare IP HELO", NULL, false, NULL, 0 },
    { "helo.address_mismatch", FACT_BOOL, STAGE_HELO, get_helo_mismatch,
      "true when the HELO is an address (literal or bare) other than the client's", NULL, false, NULL, 0 },
    { "helo.bare_ip", FACT_BOOL, STAGE_HELO, get_helo_bare_ip,
      "true when the HELO is an IP address without the brackets RFC 5321 requires", NULL, false, NULL, 0 },
    { "helo.domain", FACT_DOMAIN, STAGE_HELO, get_helo_domain,
      "the HELO name in lower case, when it is a valid domain", NULL, false, NULL, 0 },
    { "helo.fqdn", FACT_BOOL, STAGE_HELO, get_helo_fqdn,
      "true when the HELO is a valid domain with at least two labels", NULL, false, NULL, 0 },
    { "helo.literal", FACT_BOOL, STAGE_HELO, get_helo_literal,
      "true when the HELO is an address literal", NULL, false, NULL, 0 },
    { "helo.present", FACT_BOOL, STAGE_HELO, get_helo_present,
      "true when the client sent HELO or EHLO with an argument", NULL, false, NULL, 0 },
    { "helo.valid", FACT_BOOL, STAGE_HELO, get_helo_valid,
      "true when the HELO is an RFC 5321 domain or a valid address literal", NULL, false, NULL, 0 },
    { "message.size", FACT_NUMBER, STAGE_MAIL, get_declared_size,
      "the message size the client declared with MAIL FROM SIZE= (absent when it declared none)", NULL, false, NULL, 0 },
    { "mime.anomaly", FACT_STRING, STAGE_EOM, get_anomaly,
      "what is malformed in the MIME structure: missing-boundary, broken-boundary, duplicate-boundary, "
      "parts-after-end, bad-encoding, ... (multi-valued)", NULL, false, nth_anomaly, 4 },
    { "mime.depth", FACT_NUMBER, STAGE_EOM, get_mime_depth,
      "the deepest nesting of multiparts and attached messages (0: a single part)", NULL, false, NULL, 0 },
    { "mime.limit", FACT_STRING, STAGE_EOM, get_mime_limit,
      "the limit the message ran into: size, parts, depth, header, or \"\" for none", NULL, false, NULL, 0 },
    { "mime.parts", FACT_NUMBER, STAGE_EOM, get_mime_parts,
      "MIME entities in the message, containers included", NULL, false, NULL, 0 },
    { "rdns.confirmed", FACT_BOOL, STAGE_CONNECT, get_rdns_confirmed,
      "true when a PTR name of the client resolves back to the client's address", NULL, false, NULL, 0 },
    { "rdns.name", FACT_DOMAIN, STAGE_CONNECT, get_rdns_name,
      "the client's forward-confirmed host name (absent unless confirmed)", NULL, false, NULL, 0 },
    { "rdns.none", FACT_BOOL, STAGE_CONNECT, get_rdns_none,
      "true when the client's address has no PTR record", NULL, false, NULL, 0 },
    { "rdns.ptr", FACT_DOMAIN, STAGE_CONNECT, get_rdns_ptr,
      "the first PTR name of the client, confirmed or not", NULL, false, NULL, 0 },
    { "rdns.temperror", FACT_BOOL, STAGE_CONNECT, get_rdns_temperror,
      "true when reverse DNS could not be determined now (timeout, SERVFAIL)", NULL, false, NULL, 0 },
    { "rdns.unconfirmed", FACT_BOOL, STAGE_CONNECT, get_rdns_unconfirmed,
      "true when the client has a PTR name that does not resolve back to it", NULL, false, NULL, 0 },
    { "recipient", FACT_ADDRESS, STAGE_RCPT, get_rcpt,
      "the recipient as local@domain (local part quoted only where RFC 5321 needs it, domain in lower case)", NULL, true, NULL, 0 },
    { "recipient.count", FACT_NUMBER, STAGE_RCPT, get_rcpt_count,
      "recipients of this message so far; at stage rcpt it counts the one being decided", NULL, false, NULL, 0 },
    { "recipient.domain", FACT_DOMAIN, STAGE_RCPT, get_rcpt_domain,
      "the recipient's domain, lower case", NULL, true, NULL, 0 },
    { "recipient.fqdn", FACT_BOOL, STAGE_RCPT, get_rcpt_fqdn,
      "true when the recipient's domain is a name with at least two labels", NULL, true, NULL, 0 },
    { "recipient.local", FACT_STRING, STAGE_RCPT, get_rcpt_local,
      "the recipient's local part, dequoted", NULL, true, NULL, 0 },
    { "recipient.routed", FACT_BOOL, STAGE_RCPT, get_rcpt_routed,
      "true when the recipient carries sender-specified routing (%, ! or @ in the local part, a source route) or cannot be parsed", NULL, true, NULL, 0 },
    { "recipient.valid", FACT_BOOL, STAGE_RCPT, get_rcpt_valid,
      "true when the recipient path is a syntactically valid RFC 5321 address", NULL, true, NULL, 0 },
    { "sender", FACT_ADDRESS, STAGE_MAIL, get_sender,
      "the envelope sender as local@domain, in the same canonical form (empty for <>)", NULL, false, NULL, 0 },
    { "sender.domain", FACT_DOMAIN, STAGE_MAIL, get_sender_domain,
      "the sender's domain, lower case", NULL, false, NULL, 0 },
    { "sender.fqdn", FACT_BOOL, STAGE_MAIL, get_sender_fqdn,
      "true when the sender's domain is a name with at least two labels (false for <>)", NULL, false, NULL, 0 },
    { "sender.local", FACT_STRING, STAGE_MAIL, get_sender_local,
      "the sender's local part, dequoted", NULL, false, NULL, 0 },
    { "sender.null", FACT_BOOL, STAGE_MAIL, get_sender_null,
      "true for the null sender <>", NULL, false, NULL, 0 },
    { "sender.valid", FACT_BOOL, STAGE_MAIL, get_sender_valid,
      "true when the sender path is a syntactically valid RFC 5321 address or <>", NULL, false, NULL, 0 },
    { "spf.domain", FACT_DOMAIN, STAGE_MAIL, get_spf_domain,
      "the domain SPF checked for MAIL FROM (the HELO name for the null sender)", NULL, false, NULL, 0 },
    { "spf.explanation", FACT_STRING, STAGE_MAIL, get_spf_explanation,
      "on fail: the explanation the domain publishes (exp=), printable, capped", NULL, false, NULL, 0 },
    { "spf.helo.result", FACT_RESULT, STAGE_HELO, get_spf_helo_result,
      "the SPF result for the HELO identity", NULL, false, NULL, 0 },
    { "spf.result", FACT_RESULT, STAGE_MAIL, get_spf_result,
      "the SPF result for MAIL FROM (postmaster@HELO for the null sender): pass fail softfail neutral none temperror permerror",
      NULL, false, NULL, 0 },
    { "tls", FACT_BOOL, STAGE_HELO, get_tls,
      "true when the session is encrypted with STARTTLS (macro {tls_version} is set)", "{tls_version}", false, NULL, 0 },
    { "tls.cipher", FACT_STRING, STAGE_HELO, get_tls_cipher,
      "the TLS cipher (macro {cipher})", "{cipher}", false, NULL, 0 },
    { "tls.cipher_bits", FACT_NUMBER, STAGE_HELO, get_tls_bits,
      "the TLS cipher's key size in bits (macro {cipher_bits})", "{cipher_bits}", false, NULL, 0 },
    { "tls.client_issuer", FACT_STRING, STAGE_HELO, get_tls_issuer,
      "the issuer of the client's TLS certificate (macro {cert_issuer})", "{cert_issuer}", false, NULL, 0 },
    { "tls.client_subject", FACT_STRING, STAGE_HELO, get_tls_subject,
      "the subject of the client's TLS certificate (macro {cert_subject})", "{cert_subject}", false, NULL, 0 },
    { "tls.version", FACT_STRING, STAGE_HELO, get_tls_version,
      "the TLS protocol version, e.g. TLSv1.3 (macro {tls_version})", "{tls_version}", false, NULL, 0 },
    { "virus.found", FACT_BOOL, STAGE_EOM, get_virus_found,
      "true when clamd found a virus in the message (--clamd; a failed scan follows clamd { on-error })",
      NULL, false, NULL, 0 },
    { "virus.name", FACT_STRING, STAGE_EOM, get_virus_name,
      "the name clamd gave the virus it found, sanitised (letters, digits and . - _ +)", NULL, false, NULL, 0 },
};

const char *fact_value_text(const struct fact_def *f, const struct fact_value *v,
                            char buf[FACT_TEXT_MAX], size_t *len)
{
    switch (f->type) {
    case FACT_IP:
        ipaddr_format(v->ip, buf);
        break;
    case FACT_BOOL:
        snprintf(buf, FACT_TEXT_MAX, "%s", v->b ? "yes" : "no");
        break;
    case FACT_NUMBER:
        snprintf(buf, FACT_TEXT_MAX, "%ld", v->n);
        break;
    default:
        *len = v->len;
        return v->s;
    }
    *len = strlen(buf);
    return buf;
}

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
    case FACT_RESULT: return "result";
    }
    return "?";
}
