/*
 * listen_addr.c: parse the metrics endpoint's address (listen_addr.h).
 *
 * Must never resolve a name or open a socket: options.c checks the
 * address with it at start-up, and the endpoint and `mxguard --stats`
 * both use the same parse.
 */
#include "milter/listen_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(const char *s, unsigned short *out)
{
    char *end;
    long v;

    if (*s < '0' || *s > '9')
        return -1;
    v = strtol(s, &end, 10);
    if (*end != '\0' || v < 1 || v > 65535)
        return -1;
    *out = (unsigned short)v;
    return 0;
}

int listen_addr_parse(const char *spec, struct listen_addr *out, const char **error_r)
{
    char host[48];
    const char *port_text = spec, *colon;
    unsigned short port;
    size_t hlen = 0;

    memset(out, 0, sizeof *out);
    strcpy(host, "127.0.0.1");
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (close == NULL || close[1] != ':' || (hlen = (size_t)(close - spec - 1)) >= sizeof host)
            return *error_r = "expected [IPv6]:PORT", -1;
        memcpy(host, spec + 1, hlen);
        host[hlen] = '\0';
        port_text = close + 2;
    } else if ((colon = strrchr(spec, ':')) != NULL) {
        if ((hlen = (size_t)(colon - spec)) >= sizeof host || strchr(spec, ':') != colon)
            return *error_r = "expected ADDRESS:PORT, [IPv6]:PORT or PORT", -1;
        memcpy(host, spec, hlen);
        host[hlen] = '\0';
        port_text = colon + 1;
    }
    if (parse_port(port_text, &port) < 0)
        return *error_r = "expected a port from 1 to 65535", -1;
    if (spec[0] == '[') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->ss;
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
            return *error_r = "not an IPv6 address", -1;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        out->len = sizeof *s6;
        out->loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
        snprintf(out->text, sizeof out->text, "[%s]:%u", host, port);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&out->ss;
        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
            return *error_r = "not an IPv4 address (write IPv6 as [ADDRESS]:PORT)", -1;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        out->len = sizeof *s4;
        out->loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
        snprintf(out->text, sizeof out->text, "%s:%u", host, port);
    }
    return 0;
}
