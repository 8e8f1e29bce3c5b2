/*
 * helo.h: what a HELO/EHLO argument is, for the hygiene checks.
 */
#ifndef MXG_POLICY_HELO_H
#define MXG_POLICY_HELO_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/smtp/ipaddr.h"

struct helo_info {
    bool valid;      /* an RFC 5321 Domain or address literal */
    bool fqdn;       /* a valid domain with at least two labels */
    bool literal;    /* an address literal, [192.0.2.1] or [IPv6:...] */
    bool bare_ip;    /* an IP address without the brackets RFC 5321 asks for */
    bool has_ip;     /* ip is set (literal or bare address) */
    struct ipaddr ip;
    char domain[256];/* lower-case A-labels, without a trailing dot; "" unless a valid domain */
    size_t domain_len;
};

/* Classify a HELO argument of len bytes. Never fails: bad input is !valid. */
void helo_classify(const char *helo, size_t len, struct helo_info *out);

#endif
