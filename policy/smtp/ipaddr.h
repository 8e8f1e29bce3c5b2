/*
 * ipaddr.h: one representation for client and list addresses.
 *
 * IPv4 addresses are stored as IPv4-mapped IPv6 (::ffff:a.b.c.d), so a
 * single 128-bit key serves the CIDR trie for both families and an IPv6
 * client that arrives as ::ffff:192.0.2.1 matches an IPv4 list entry.
 */
#ifndef MXG_POLICY_IPADDR_H
#define MXG_POLICY_IPADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define IPADDR_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

struct ipaddr {
    uint8_t b[16];
    bool v4; /* true when b is an IPv4-mapped address */
};

/* Parse a literal IPv4 or IPv6 address (no prefix). 0 on success, -1 if invalid. */
int ipaddr_parse(const char *text, struct ipaddr *out);

/* From a socket address as libmilter hands it over; -1 for other families. */
int ipaddr_from_sockaddr(const struct sockaddr *sa, struct ipaddr *out);

/* Text form: dotted quad for IPv4 (mapped or not), RFC 5952 for IPv6. */
void ipaddr_format(const struct ipaddr *ip, char out[IPADDR_TEXT_MAX]);

/* Bit i (0 = most significant) of the 128-bit key. */
static inline unsigned ipaddr_bit(const uint8_t b[16], unsigned i)
{
    return (b[i >> 3] >> (7 - (i & 7))) & 1u;
}

#endif
