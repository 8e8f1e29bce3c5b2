/*
 * metrics_http.c: the metrics endpoint, on one libmicrohttpd thread.
 *
 * Serves GET (and HEAD) /metrics only, in the Prometheus text format;
 * every other path or method gets 404. Must never read a request body,
 * keep more than a few connections, or run anything but metrics_render:
 * whoever reaches the address can only read counters. A non-loopback
 * address is the admin's explicit choice and is logged as a warning.
 */
#include "milter/metrics_http.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter/log.h"
#include "milter/metrics.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static struct MHD_Daemon *daemon_;

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[256];
    size_t n;

    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    log_warnx("metrics endpoint: %s", line);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, char *body, size_t len,
                             enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    enum MHD_Result rc;

    if (r == NULL) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, status == MHD_HTTP_OK ? CONTENT_TYPE : "text/plain");
    rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **con_cls)
{
    static char not_found[] = "404 not found: the metrics are at /metrics\n";
    static char failed[] = "500 out of memory\n";
    char *text;
    size_t len;

    (void)cls, (void)version, (void)upload_data, (void)upload_data_size, (void)con_cls;
    if ((strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) ||
        strcmp(url, "/metrics") != 0)
        return reply(conn, MHD_HTTP_NOT_FOUND, not_found, strlen(not_found), MHD_RESPMEM_PERSISTENT);
    if (metrics_render(&text, &len) < 0)
        return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, failed, strlen(failed), MHD_RESPMEM_PERSISTENT);
    return reply(conn, MHD_HTTP_OK, text, len, MHD_RESPMEM_MUST_FREE);
}

int metrics_http_start(const struct listen_addr *addr)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

    if (addr->ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (!addr->loopback)
        log_warnx("metrics endpoint on %s, not a loopback address: whoever reaches it can read the counters "
                  "(rule names, traffic); restrict it with a firewall", addr->text);
    daemon_ = MHD_start_daemon(flags, 0, NULL, NULL, answer, NULL,
                               MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                               MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&addr->ss,
                               MHD_OPTION_CONNECTION_LIMIT, (unsigned)8,
                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                               MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
                               MHD_OPTION_END);
    if (daemon_ == NULL) {
        log_warnx("metrics endpoint: cannot listen on %s (in use, or not an address of this host); "
                  "serving mail without it", addr->text);
        return -1;
    }
    log_info("metrics endpoint: http://%s/metrics", addr->text);
    return 0;
}

void metrics_http_stop(void)
{
    if (daemon_ != NULL)
        MHD_stop_daemon(daemon_);
    daemon_ = NULL;
}
