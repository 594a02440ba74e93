/*
 * gw_http: plain HTTP on the gateway's WebSocket port.
 *
 *   GET /healthz  200 while the event loop turns (its timer ran lately)
 *   GET /readyz   200 with at least one worker registered and not
 *                 draining; 503 with the reason otherwise
 *   GET /metrics  Prometheus text exposition (version 0.0.4)
 *   GET /...      static files of the demo page (a file mount, see main.c)
 *   other methods 405 Method Not Allowed on every path, then close
 *
 * The endpoints are lws callback mounts served by protocol "sluice-http";
 * bodies are built in one piece and written in HTTP_WRITEABLE. lws service
 * thread only.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stddef.h>

#include <libwebsockets.h>

/* The protocol callback ("sluice-http") and its per-request state size. */
int gw_http_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len);
size_t gw_http_pss_size(void);

/* LWS_CALLBACK_FILTER_HTTP_CONNECTION, for every plain HTTP request on
 * any path (mounts and the page alike): GET and HEAD pass (0); any other
 * method is answered 405 with "Allow: GET, HEAD" and "Connection: close",
 * and a nonzero return makes lws close the connection, so no request body
 * is ever read or held. */
int gw_http_filter_method(struct lws *wsi);

/* The mount list: the endpoints, then "/" served from www_dir. The
 * returned list points into mounts[] (4 entries, caller-owned, must
 * outlive the vhost). */
const struct lws_http_mount *gw_http_mounts(
    struct lws_http_mount mounts[4], const char *www_dir);

/* Render the /metrics body into buf; returns its length. */
size_t gw_http_render_metrics(const void *env, char *buf, size_t cap);

#endif
