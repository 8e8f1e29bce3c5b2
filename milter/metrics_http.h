/*
 * metrics_http.h: the Prometheus endpoint (libmicrohttpd), in the filter
 * process: GET /metrics answers metrics_render(); everything else 404.
 */
#ifndef MXG_MILTER_METRICS_HTTP_H
#define MXG_MILTER_METRICS_HTTP_H

#include "milter/listen_addr.h"

/* Listen on addr with a thread of libmicrohttpd's. 0, or -1 (logged). */
int metrics_http_start(const struct listen_addr *addr);
void metrics_http_stop(void);

#endif
