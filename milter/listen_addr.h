/*
 * listen_addr.h: the metrics endpoint's address as an admin writes it:
 * "127.0.0.1:9469", "[::1]:9469", or a bare port meaning 127.0.0.1.
 * Numeric addresses only: no name is looked up.
 */
#ifndef MXG_MILTER_LISTEN_ADDR_H
#define MXG_MILTER_LISTEN_ADDR_H

#include <stdbool.h>
#include <sys/socket.h>

#define LISTEN_ADDR_DEFAULT "127.0.0.1:9469"
#define LISTEN_ADDR_TEXT_MAX 64 /* "[ipv6]:port" */

struct listen_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    bool loopback;                  /* 127.0.0.0/8 or ::1 */
    char text[LISTEN_ADDR_TEXT_MAX]; /* canonical: "127.0.0.1:9469", "[::1]:9469" */
};

/* 0, or -1 with *error_r (static text). */
int listen_addr_parse(const char *spec, struct listen_addr *out, const char **error_r);

#endif
