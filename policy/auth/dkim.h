/*
 * dkim.h: DKIM verification (RFC 6376) with libopendkim, its key
 * lookups through the shared resolver (policy/dns/dns.h).
 *
 * Headers and body are fed as the MTA delivers them; nothing keeps a
 * second copy of the message. Every signature up to a configured number
 * is evaluated. Limits on headers and body bytes give a defined result,
 * never a crash or a hang. A key lookup that times out is temperror,
 * never fail. Nothing here knows about libmilter or the rule language.
 *
 * libopendkim's own names start with dkim_: ours are dkim_checker_* (one
 * per process) and dkim_check_* (one per message).
 */
#ifndef MXG_POLICY_DKIM_H
#define MXG_POLICY_DKIM_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/auth/authresult.h"
#include "policy/dns/dns.h"

#define DKIM_SIGS_MAX 8 /* signatures reported per message (the limit below may be lower) */

struct dkim_limits {
    unsigned max_signatures;   /* evaluated per message, the rest ignored (0: 5; at most
                                  DKIM_SIGS_MAX); the DKIM-Signature fields past it are not
                                  shown to libopendkim at all (each would cost a body hash) */
    unsigned min_rsa_bits;     /* shorter RSA keys give "policy" (0: 1024) */
    unsigned max_headers;      /* headers fed to libopendkim (0: 1000) */
    size_t max_header_bytes;   /* bytes of all headers (0: 256 KiB); past either header limit
                                  nothing is verified and the result is permerror */
    size_t max_body_bytes;     /* body bytes hashed (0: 64 MiB); past it signatures covering more fail */
    int deadline_ms;           /* key lookups of one message, counted from the end of the
                                  headers when they are asked (0: 10000) */
};

struct dkim_sig_outcome {
    enum auth_result result;   /* pass fail policy temperror permerror */
    char domain[254];          /* d= */
    char selector[64];         /* s= */
    char algorithm[24];        /* a= as signed: "rsa-sha256", "ed25519-sha256", "rsa-sha1" */
    unsigned key_bits;         /* 0 when the key was not retrieved */
    char b[12];                /* the first 8 characters of b= (RFC 8601 header.b) */
    char problem[128];         /* why it did not pass */
};

struct dkim_outcome {
    enum auth_result result;   /* overall: pass if one passed, else temperror if one did,
                                  else fail/policy/permerror by the first, none without signatures */
    unsigned nsigs;            /* signatures found (may exceed those evaluated) */
    unsigned nevaluated;
    struct dkim_sig_outcome sig[DKIM_SIGS_MAX];
    char problem[128];         /* a message-level limit that was hit, or "" */
};

struct dkim_checker;
struct dkim_check;

/* One per filter process, shared by every thread. NULL on error. */
struct dkim_checker *dkim_checker_new(struct dns_resolver *r, const struct dkim_limits *lim,
                                      const char **error_r);
void dkim_checker_free(struct dkim_checker *c);

/* Whether this libopendkim verifies ed25519-sha256 (RFC 8463). */
bool dkim_checker_ed25519(const struct dkim_checker *c);

/* One message. id names it in libopendkim's logs. NULL when out of memory. */
struct dkim_check *dkim_check_new(struct dkim_checker *c, const char *id);

/*
 * Feed the message as the MTA delivers it. Each returns 0, or -1 on an
 * internal error (the caller tempfails); hitting a limit is not an error.
 * value is everything after the header's colon, as libmilter gives it
 * with SMFIP_HDR_LEADSPC (" value" for "Name: value"); without that flag
 * libmilter drops the space, and the caller puts one back. Folded lines
 * may end in LF or CRLF. Body chunks are the raw body (CRLF lines).
 */
int dkim_check_header(struct dkim_check *m, const char *name, const char *value);
int dkim_check_eoh(struct dkim_check *m);
int dkim_check_body(struct dkim_check *m, const unsigned char *data, size_t len);

/*
 * Finish: verify every signature (its key asked at the end of the headers,
 * all in one batch, waited for here within the deadline). Per signature:
 * pass; fail (signature or body hash mismatch, revoked key, body longer
 * than max_body_bytes for a signature covering it); policy (RSA key below
 * min_rsa_bits); temperror (key lookup timeout, SERVFAIL, DNSSEC bogus,
 * garbled answer); permerror (no key record, malformed, doubled or oversized
 * key record, malformed or expired signature, d=/s= no DNS name, and
 * a=rsa-sha1, which RFC 8301 forbids: its key is never asked). Always
 * fills *out; the message is none without a DKIM-Signature field, and
 * permerror past a header limit.
 */
void dkim_check_eom(struct dkim_check *m, struct dkim_outcome *out);
void dkim_check_free(struct dkim_check *m);

#endif
