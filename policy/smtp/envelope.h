/*
 * envelope.h: what the MTA has told us about one SMTP session so far.
 *
 * Filled by milter/ from libmilter callbacks, or by the session simulator
 * and the tests directly: nothing here knows about libmilter. Every string
 * is a bounded copy owned by the envelope; a value longer than its bound is
 * kept cut at the bound with its "overlong" flag set, so checks can treat
 * it as invalid instead of trusting a prefix.
 */
#ifndef MXG_POLICY_ENVELOPE_H
#define MXG_POLICY_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/smtp/address.h"
#include "policy/smtp/helo.h"

struct dns_cache;
struct sendauth;
struct statecheck;
struct clamd_scan;
struct mime_facts;
#include "policy/smtp/ipaddr.h"

#define ENVELOPE_NAME_MAX 1024 /* HELO, client name, AUTH user */
#define ENVELOPE_HEADER_NAME_MAX 128
#define ENVELOPE_HEADER_VALUE_MAX 8192 /* a longer value is kept cut, flagged overlong */

struct envelope_str {
    char *s;        /* NUL-terminated, or NULL when the MTA gave nothing */
    size_t len;
    bool overlong;  /* the MTA's value was longer and was cut at the bound */
};

struct envelope_path {
    struct envelope_str raw; /* as the MTA passed it */
    struct address addr;     /* parsed; valid only when ok */
    bool present;
    bool ok;
    const char *error;       /* static parse error when !ok */
};

/* Looks up an MTA macro by name ("{auth_authen}", "i"); NULL when absent. */
typedef const char *envelope_macro_fn(void *ctx, const char *name);

struct envelope {
    struct ipaddr client_ip;
    bool have_client_ip;
    struct envelope_str client_name;
    struct envelope_str helo;
    struct helo_info helo_info;  /* classified when the HELO is recorded */
    struct envelope_str auth_user;
    struct envelope_path sender;
    struct envelope_path rcpt;   /* the recipient being evaluated */
    unsigned rcpt_count;         /* recipients accepted so far in this message */
    long declared_size;          /* MAIL FROM ... SIZE=n, or -1 */
    bool rcpt_pending;           /* rcpt is being decided (not yet counted or refused) */
    struct envelope_str header_name;   /* the header being evaluated (stage header) */
    struct envelope_str header_value;
    unsigned header_count;       /* headers of this message so far */
    unsigned long long conn_tags;/* tags set by rules, bit per tag: for the connection */
    unsigned long long msg_tags; /*   and for the current message */
    envelope_macro_fn *macro;
    void *macro_ctx;
    struct dns_cache *dns;       /* the session's DNS answers; NULL: no resolver */
    struct sendauth *auth;       /* SPF and DKIM of the session; NULL: not set up */
    struct statecheck *state;    /* greylisting and rate limits; NULL: no state store */
    struct clamd_scan *virus;    /* the message's clamd scan; NULL: no rule reads virus.* */
    struct mime_facts *mime;     /* the message's content (policy/content/mime.h); NULL: no rule asks */
    unsigned msg_seq, rcpt_seq;  /* which message, which RCPT: counted once each */
    /* Summary over every DNS list, filled before a stage that asks for it. */
    int dnsbl_score, dnsbl_count;
    char dnsbl_reason[520];
};

void envelope_init(struct envelope *env);
void envelope_free(struct envelope *env);

/* Each returns 0, or -1 when out of memory (the caller tempfails). */
int envelope_set_client(struct envelope *env, const char *name, const struct ipaddr *ip);
int envelope_set_helo(struct envelope *env, const char *helo);
int envelope_set_auth_user(struct envelope *env, const char *user);
int envelope_set_sender(struct envelope *env, const char *path);
int envelope_set_rcpt(struct envelope *env, const char *path);

/* The ESMTP parameters of MAIL FROM ("SIZE=1234", ...); NULL-terminated. */
void envelope_set_mail_params(struct envelope *env, char *const *params);

/* The recipient being decided was accepted (counted) or refused. */
void envelope_rcpt_done(struct envelope *env, bool accepted);

/* Record the header the MTA passed; the previous one is forgotten. */
int envelope_set_header(struct envelope *env, const char *name, const char *value);

/*
 * A path as checks key it: local@domain (canonical), "" for the null
 * path or none, the text as sent when it could not be parsed.
 */
const char *envelope_path_text(const struct envelope_path *p);

/* A new MAIL FROM starts a new message on the same connection. */
void envelope_reset_message(struct envelope *env);

#endif
