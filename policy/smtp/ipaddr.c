/*
 * ipaddr.c: parse and format client addresses.
 *
 * Must never accept a partial parse: "10.1" or "1.2.3.4x" are not addresses.
 */
#include "policy/smtp/ipaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static void map_v4(const void *in4, struct ipaddr *out)
{
    memset(out->b, 0, 10);
    out->b[10] = 0xff;
    out->b[11] = 0xff;
    memcpy(out->b + 12, in4, 4);
    out->v4 = true;
}

static bool is_v4_mapped(const uint8_t b[16])
{
    static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    return memcmp(b, prefix, sizeof prefix) == 0;
}

int ipaddr_parse(const char *text, struct ipaddr *out)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (inet_pton(AF_INET, text, &a4) == 1) {
        map_v4(&a4, out);
        return 0;
    }
    if (inet_pton(AF_INET6, text, &a6) == 1) {
        memcpy(out->b, a6.s6_addr, 16);
        out->v4 = is_v4_mapped(out->b);
        return 0;
    }
    return -1;
}

int ipaddr_from_sockaddr(const struct sockaddr *sa, struct ipaddr *out)
{
    if (sa == NULL)
        return -1;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        map_v4(&s4->sin_addr, out);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(out->b, s6->sin6_addr.s6_addr, 16);
        out->v4 = is_v4_mapped(out->b);
        return 0;
    }
    return -1;
}

void ipaddr_format(const struct ipaddr *ip, char out[IPADDR_TEXT_MAX])
{
    if (ip->v4)
        inet_ntop(AF_INET, ip->b + 12, out, IPADDR_TEXT_MAX);
    else
        inet_ntop(AF_INET6, ip->b, out, IPADDR_TEXT_MAX);
}
