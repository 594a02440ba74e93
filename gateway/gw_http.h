/*
 * gw_http: plain HTTP on the gateway's WebSocket port.
 *
 *   GET /healthz  200 while the event loop turns (its timer ran lately)
 *   GET /readyz   200 with at least one worker registered and not
 *                 draining; 503 with the reason otherwise
 *   GET /metrics  Prometheus text exposition (version 0.0.4)
 *   GET /...      static files of the demo page (a file mount, gw_http_mounts)
 *   other methods 405 Method Not Allowed on every path, then close
 *
 * The endpoints are lws callback mounts served by protocol "sluice-http";
 * bodies are built in one piece and written in HTTP_WRITEABLE. lws service
 * thread only.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "gw_broker.h"
#include "gw_hist.h"
#include "gw_policy.h"
#include "gw_prod.h"
#include "gw_workers.h"
#include "gw_ws.h"

/* What the endpoints report: each module's typed stats, gathered at
 * each request. */
typedef struct gw_http_stats {
	gw_broker_stats_t broker;   /* with its requests and channels */
	gw_workers_stats_t workers; /* the workers endpoint */
	gw_ws_stats_t ws;
	gw_prod_stats_t prod; /* all zero without producers */
	gw_policy_stats_t policy;
	gw_hist_t forward;    /* result at the gateway -> written */
	int64_t last_tick_us; /* the loop's timer last ran; 0: not yet */
} gw_http_stats_t;

/* Where the endpoints get their answers; caller-owned, outlives the
 * vhost (it is the protocol's user). */
typedef struct gw_http_src {
	void (*stats)(void *user, gw_http_stats_t *out); /* fill it all */
	void *user;
	const gw_policy_t *policy; /* /metrics' token; NULL: open */
} gw_http_src_t;

/* The protocol table entry ("sluice-http") with src as its user. */
void gw_http_protocol(const gw_http_src_t *src, struct lws_protocols *out);

/* The protocol callback. */
int gw_http_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len);

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

/* The body for path (/healthz, /readyz, /metrics; else 404) from st at
 * now_us, into body (cap bytes, NUL-terminated); its length into *len and
 * its content type into *type. Returns the HTTP status. */
int gw_http_route(const gw_http_stats_t *st, int64_t now_us, const char *path,
    char *body, size_t cap, size_t *len, const char **type);

/* Render the /metrics body into buf; returns its length. */
size_t gw_http_render_metrics(
    const gw_http_stats_t *st, char *buf, size_t cap);

#endif
