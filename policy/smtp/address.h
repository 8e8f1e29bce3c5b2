/*
 * address.h: RFC 5321 envelope addresses (MAIL FROM and RCPT TO paths).
 */
#ifndef MXG_POLICY_ADDRESS_H
#define MXG_POLICY_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#define ADDRESS_INPUT_MAX 512 /* a path is at most 256 octets; leave room for a source route */
#define ADDRESS_LOCAL_MAX 64
#define ADDRESS_DOMAIN_MAX 255

struct address {
    char *local;    /* dequoted local part, NUL-terminated; "" for <> */
    char *domain;   /* lower-case A-labels (policy/smtp/idn.h), without a trailing dot; "" for <> and <postmaster> */
    char *full;     /* canonical local@domain: local part quoted only if it must be, domain as above; "" for <> */
    size_t local_len;
    size_t domain_len;
    size_t full_len;
    bool is_null;   /* the null path <> */
    bool quoted;    /* local part was a quoted string */
    bool literal;   /* domain is an address literal [..] */
    bool routed;    /* a source route, or %, ! or @ in the local part: sender-specified routing */
};

/*
 * Parse the path the MTA passed (with or without angle brackets).
 * On success fills *out (free with address_free) and returns 0; on a syntax
 * error returns -1 and sets *error_r to a static description.
 */
int address_parse(const char *in, size_t len, struct address *out, const char **error_r);

/* Frees what address_parse allocated; safe on a zeroed struct. */
void address_free(struct address *a);

/*
 * Check a domain name (RFC 5321 Domain, no trailing dot, or an address
 * literal in brackets). 0 if valid, -1 with *error_r otherwise.
 */
int address_check_domain(const char *d, size_t len, const char **error_r);

#endif
