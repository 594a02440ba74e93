/*
 * gw_http: /healthz, /readyz, /metrics (see gw_http.h). lws service thread
 * only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_auth.h"
#include "gw_http.h"
#include "gw_metrics.h"
#include "sl_clock.h"
#include "sl_log.h"

#define GW_HTTP_BODY_MAX 65536   /* the metrics fit in a fraction */
#define GW_HTTP_STALE_US 5000000 /* a loop whose timer is older is stuck */

/* Per transaction: lws frees it when the transaction ends (it rebinds the
 * connection to protocols[0], HTTP_DROP_PROTOCOL) or the connection
 * closes (CLOSED_HTTP); buf is freed at both edges. */
typedef struct gw_http_pss {
	char *buf;  /* LWS_PRE + body, malloc'd in HTTP, freed after write */
	size_t len; /* body bytes */
} gw_http_pss_t;

void
gw_http_protocol(const gw_http_src_t *src, struct lws_protocols *out)
{
	const struct lws_protocols p = { "sluice-http", gw_http_callback,
		sizeof(gw_http_pss_t), 0, 0, (void *) src, 0 };

	*out = p;
}

const struct lws_http_mount *
gw_http_mounts(struct lws_http_mount m[4], const char *www_dir)
{
	static const char *const points[]
	    = { "/healthz", "/readyz", "/metrics" };

	memset(m, 0, 4 * sizeof m[0]);
	for (int i = 0; i < 3; i++) {
		m[i].mount_next = &m[i + 1];
		m[i].mountpoint = points[i];
		m[i].mountpoint_len = (unsigned char) strlen(points[i]);
		m[i].protocol = "sluice-http";
		m[i].origin_protocol = LWSMPRO_CALLBACK;
	}
	m[3].mountpoint = "/";
	m[3].mountpoint_len = 1;
	m[3].origin = www_dir;
	m[3].def = "index.html";
	m[3].origin_protocol = LWSMPRO_FILE;
	m[3].cache_max_age = 60;
	m[3].cache_reusable = 1;
	m[3].cache_revalidate = 1;
	return &m[0];
}

/* One sample of a counter or gauge "sluice_<name>", at p before end. */
#define COUNTER(name, help, v)                                                \
	gw_metrics_value(p, end, "sluice_" name, "counter", help, (double) (v))
#define GAUGE(name, help, v)                                                  \
	gw_metrics_value(p, end, "sluice_" name, "gauge", help, (double) (v))

/* The WebSocket clients: connections, refusals, closes, buffers. */
static void
s_metrics_clients(char **pp, const char *end, const gw_http_stats_t *st)
{
	const gw_ws_stats_t *ws = &st->ws;
	char **p = pp;

	GAUGE("connections", "Open WebSocket connections.", ws->conns);
	COUNTER("connections_total", "WebSocket connections accepted.",
	    ws->conns_total);
	COUNTER("connections_refused_total",
	    "WebSocket upgrades refused with 503: over --max-connections.",
	    ws->refused_conns);
	COUNTER("connections_refused_address_total",
	    "WebSocket upgrades refused with 429: over "
	    "--max-connections-per-address.",
	    ws->refused_addr);
	COUNTER("queue_share_refused_total",
	    "Requests refused with queue_full: over the connection's (or "
	    "token's) --max-queued-per-client.",
	    st->broker.share_full);
	COUNTER("slow_clients_closed_total",
	    "Connections closed with 1008: outgoing queue over its byte cap.",
	    ws->slow_closed);
	COUNTER("stalled_clients_closed_total",
	    "Connections closed with 1008: no reading progress.",
	    ws->stall_closed);
	gw_metrics_put(p, end,
	    "# HELP sluice_clients_denied_total WebSocket handshakes and "
	    "/metrics requests refused, by reason.\n"
	    "# TYPE sluice_clients_denied_total counter\n"
	    "sluice_clients_denied_total{reason=\"token\"} %llu\n"
	    "sluice_clients_denied_total{reason=\"origin\"} %llu\n",
	    (unsigned long long) st->policy.denied_token,
	    (unsigned long long) st->policy.denied_origin);
	gw_metrics_put(p, end,
	    "# HELP sluice_ws_protocol_errors_total RFC 6455 violations "
	    "answered by the gateway, by kind.\n"
	    "# TYPE sluice_ws_protocol_errors_total counter\n"
	    "sluice_ws_protocol_errors_total{kind=\"version\"} %llu\n"
	    "sluice_ws_protocol_errors_total{kind=\"key\"} %llu\n"
	    "sluice_ws_protocol_errors_total{kind=\"close_code\"} %llu\n",
	    (unsigned long long) ws->hs.bad_version,
	    (unsigned long long) ws->hs.bad_key,
	    (unsigned long long) ws->hs.bad_close);
	COUNTER("h2c_upgrades_ignored_total",
	    "Upgrade: h2c requests answered as HTTP/1.1 instead.",
	    ws->hs.h2c_ignored);
	GAUGE("buffered_bytes",
	    "Bytes of unfinished client messages and queued output, all "
	    "connections (--max-buffered-bytes).",
	    ws->buffered);
	COUNTER("buffer_cap_closed_total",
	    "Connections closed because they held the most when the total "
	    "reached --max-buffered-bytes.",
	    ws->bufcap_closed);
	GAUGE("client_queued_bytes",
	    "Bytes queued to clients, not yet written.", ws->queued_bytes);
}

/* Producers, then requests and their items (the broker). */
static void
s_metrics_requests(char **pp, const char *end, const gw_http_stats_t *st)
{
	const gw_broker_stats_t *b = &st->broker;
	const gw_req_stats_t *r = &b->req;
	char **p = pp;

	GAUGE("producer_queued_bytes",
	    "Bytes queued to producers beyond what ZeroMQ holds.",
	    st->prod.queued_bytes);
	COUNTER("slow_producers_cut_total",
	    "Producers cut: queue over --max-producer-out-bytes.",
	    st->prod.slow_cut);
	GAUGE("requests", "Unfinished requests.", r->requests);
	COUNTER("progress_frames_total",
	    "Progress frames of running items handed to clients' transports "
	    "(--progress-ms).",
	    r->progress);
	COUNTER("progress_dropped_total",
	    "Progress frames skipped because the client (WebSocket or "
	    "producer) had a backlog.",
	    st->ws.progress_dropped + st->prod.progress_dropped);
	COUNTER("partial_frames_total",
	    "Partial values of running items sent to clients.", r->partials);
	COUNTER("requests_accepted_total", "Requests accepted.", r->accepted);
	COUNTER("frames_refused_total",
	    "Client frames answered with a request-level error.", b->refused);
	GAUGE("subscriptions",
	    "Notify channels watched, summed over connections.",
	    b->notify.subscriptions);
	GAUGE("channels", "Notify channels watched or notified.",
	    b->notify.channels);
	COUNTER("notified_frames_total",
	    "Request frames copied to a channel's subscribers.",
	    b->notify.notified);
	gw_metrics_put(p, end,
	    "# HELP sluice_items_total Items ended, by outcome.\n"
	    "# TYPE sluice_items_total counter\n"
	    "sluice_items_total{outcome=\"ok\"} %llu\n"
	    "sluice_items_total{outcome=\"failed\"} %llu\n"
	    "sluice_items_total{outcome=\"timeout\"} %llu\n"
	    "sluice_items_total{outcome=\"worker_lost\"} %llu\n"
	    "sluice_items_total{outcome=\"cancelled\"} %llu\n"
	    "sluice_items_total{outcome=\"unknown_task\"} %llu\n",
	    (unsigned long long) r->items_ok,
	    (unsigned long long) r->items_failed,
	    (unsigned long long) r->timeouts, (unsigned long long) r->poisoned,
	    (unsigned long long) r->cancelled,
	    (unsigned long long) r->unknown_task);
	GAUGE("queued_jobs", "Jobs waiting for a worker.", r->queued);
	GAUGE("running_jobs", "Jobs held by workers.", r->running);
}

/* Resume: detached requests, their logs of finished items. */
static void
s_metrics_resume(char **pp, const char *end, const gw_http_stats_t *st)
{
	const gw_broker_stats_t *b = &st->broker;
	char **p = pp;

	GAUGE("detached_requests",
	    "Requests whose client is gone, waiting for a resume.",
	    b->req.detached);
	COUNTER("resumed_total", "Requests taken over by a resume.",
	    b->req.resumed);
	COUNTER("resume_expired_total",
	    "Detached requests cancelled: nobody resumed them in time.",
	    b->req.resume_expired);
	COUNTER("resume_refused_total",
	    "Resume frames refused (unknown_request, limits).",
	    b->resume_refused);
	GAUGE("resume_bytes", "Bytes of finished results kept for resumes.",
	    b->req.resume_bytes);
	GAUGE("resume_bytes_max", "Their limit (--max-resume-bytes).",
	    b->req.resume_bytes_max);
	COUNTER("resume_full_total",
	    "Results that did not fit the resume buffer (the request lost "
	    "its resume, or was cancelled when detached).",
	    b->req.resume_full);
}

/* Workers: registry, credit, losses, bad frames. */
static void
s_metrics_workers(char **pp, const char *end, const gw_http_stats_t *st)
{
	const gw_workers_stats_t *w = &st->workers;
	const gw_broker_stats_t *b = &st->broker;
	size_t running = b->req.running;
	char **p = pp;

	GAUGE("workers", "Registered workers.", w->workers);
	GAUGE("worker_capacity", "Jobs all registered workers may hold.",
	    w->capacity);
	GAUGE("worker_free_credit", "Jobs workers could take now.",
	    w->capacity > running ? w->capacity - running : 0);
	COUNTER("workers_lost_total",
	    "Workers declared dead (crash, silence, unreachable).",
	    w->workers_lost);
	COUNTER("heartbeats_missed_total",
	    "Workers declared dead for missing their heartbeats.",
	    w->hb_missed);
	COUNTER("jobs_requeued_total", "Jobs given back to the queue.",
	    b->req.requeued);
	COUNTER("jobs_returned_total",
	    "Jobs workers gave back unstarted, busy with other gateways'.",
	    w->returned);
	COUNTER("results_stale_total",
	    "Worker results dropped: duplicate, late or for an ended request.",
	    b->req.stale + w->stale);
	COUNTER("worker_frames_bad_total",
	    "Worker frames that failed to decode.", w->bad_frames);
	COUNTER("worker_bad_partials_total",
	    "PARTIALs out of order or without a JSON form: their items ended "
	    "as bad_result.",
	    w->bad_partials);
	COUNTER("routing_id_hijacks_total",
	    "Frames dropped: a worker's or producer's routing id used by "
	    "another CURVE key.",
	    st->prod.hijacks + w->hijacks);
}

size_t
gw_http_render_metrics(const gw_http_stats_t *st, char *buf, size_t cap)
{
	char *p = buf, *end = buf + cap;

	s_metrics_clients(&p, end, st);
	s_metrics_requests(&p, end, st);
	s_metrics_workers(&p, end, st);
	s_metrics_resume(&p, end, st);
	gw_metrics_hist(&p, end, "sluice_forward_delay_seconds",
	    "Result at the gateway to written to the client socket "
	    "(producers: handed to ZeroMQ).",
	    &st->forward);
	gw_metrics_hist(&p, end, "sluice_item_latency_seconds",
	    "Request accepted to the item's result at the gateway.",
	    &st->broker.req.item_latency);
	return (size_t) (p - buf);
}

int
gw_http_route(const gw_http_stats_t *st, int64_t now_us, const char *path,
    char *body, size_t cap, size_t *len, const char **type)
{
	const gw_broker_stats_t *b = &st->broker;
	const gw_workers_stats_t *w = &st->workers;
	/* Before the first tick (the first 100 ms) the loop is fresh, not
	 * stuck: last_tick_us is still 0. */
	int64_t age = st->last_tick_us ? now_us - st->last_tick_us : 0;
	int status = HTTP_STATUS_OK, n;

	*type = "text/plain; charset=utf-8";
	if (!strcmp(path, "/healthz")) {
		if (age > GW_HTTP_STALE_US)
			status = HTTP_STATUS_SERVICE_UNAVAILABLE;
		n = snprintf(body, cap, "%s: loop timer ran %lld ms ago\n",
		    status == HTTP_STATUS_OK ? "ok" : "stuck",
		    (long long) (age / 1000));
	} else if (!strcmp(path, "/readyz")) {
		if (b->draining) {
			status = HTTP_STATUS_SERVICE_UNAVAILABLE;
			n = snprintf(body, cap, "not ready: shutting down\n");
		} else if (!w->workers) {
			status = HTTP_STATUS_SERVICE_UNAVAILABLE;
			n = snprintf(
			    body, cap, "not ready: no workers registered\n");
		} else {
			n = snprintf(body, cap,
			    "ready: %zu worker%s, %zu free "
			    "credit\n",
			    w->workers, w->workers == 1 ? "" : "s",
			    w->capacity > b->req.running
			        ? w->capacity - b->req.running
			        : 0);
		}
	} else if (!strcmp(path, "/metrics")) {
		*type = "text/plain; version=0.0.4; charset=utf-8";
		n = (int) gw_http_render_metrics(st, body, cap);
	} else {
		status = HTTP_STATUS_NOT_FOUND;
		n = snprintf(body, cap, "not found\n");
	}
	*len = n < 0 ? 0 : (size_t) n < cap ? (size_t) n : cap - 1;
	return status;
}

/* The request methods lws 4.1.6 parses (lws_http_get_uri_and_method),
 * other than GET and HEAD, with their names for the log. */
static const struct {
	enum lws_token_indexes token;
	const char *name;
} s_refused[] = {
	{ WSI_TOKEN_POST_URI, "POST" },
	{ WSI_TOKEN_PUT_URI, "PUT" },
	{ WSI_TOKEN_PATCH_URI, "PATCH" },
	{ WSI_TOKEN_DELETE_URI, "DELETE" },
	{ WSI_TOKEN_OPTIONS_URI, "OPTIONS" },
	{ WSI_TOKEN_CONNECT, "CONNECT" },
};

int
gw_http_filter_method(struct lws *wsi)
{
	static const char body[] = "method not allowed: GET or HEAD\n";
	uint8_t buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
	                             *end = buf + sizeof buf - 1;
	const char *method = "?";
	char peer[64] = "?";

	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI)
	    || lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI))
		return 0;
	for (size_t i = 0; i < sizeof s_refused / sizeof s_refused[0]; i++)
		if (lws_hdr_total_length(wsi, s_refused[i].token))
			method = s_refused[i].name;
	lws_get_peer_simple(wsi, peer, sizeof peer);
	SL_INFO("HTTP-METHOD", "peer=%s method=%s status=405", peer, method);
	/* Whatever body follows is never read: the connection closes after
	 * the answer (lws shuts down the sending side and drains the rest
	 * until the peer closes, so the answer is not lost to a reset). */
	if (lws_add_http_common_headers(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED,
	        "text/plain; charset=utf-8", sizeof body - 1, &p, end)
	    || lws_add_http_header_by_name(wsi,
	        (const unsigned char *) "allow:",
	        (const unsigned char *) "GET, HEAD", 9, &p, end)
	    || lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
	        (const unsigned char *) "close", 5, &p, end)
	    || lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
	        (const unsigned char *) "no-store", 8, &p, end)
	    || lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	memcpy(start, body, sizeof body - 1);
	lws_write(wsi, start, sizeof body - 1, LWS_WRITE_HTTP_FINAL);
	return -1;
}

int
gw_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	gw_http_pss_t *pss = user;
	uint8_t hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start,
	                            *end = hdr + sizeof hdr - 1;
	const gw_http_src_t *src;
	gw_http_stats_t st;
	const char *type;
	char *uri, path[32];
	int ulen, status;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* A WebSocket asking for this subprotocol by name would skip
		 * the WebSocket protocol's checks: never upgrade here. */
		return -1;
	case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
		/* lws asks protocols[0] (gw_ws) first; here too in case a
		 * connection is still bound to us. */
		return gw_http_filter_method(wsi);
	case LWS_CALLBACK_HTTP:
		src = lws_get_protocol(wsi)->user;
		/* The full path: `in` has only what follows the mountpoint,
		 * and HEAD keeps its URI in another token. */
		if (lws_http_get_uri_and_method(wsi, &uri, &ulen) < 0)
			return -1;
		snprintf(path, sizeof path, "%.*s", ulen, uri);
		if (!strcmp(path, "/metrics")
		    && gw_auth_filter_http(gw_policy_auth(src->policy), wsi))
			return -1; /* 401 written */
		pss->buf = malloc(LWS_PRE + GW_HTTP_BODY_MAX);
		if (!pss->buf)
			return -1;
		src->stats(src->user, &st);
		status = gw_http_route(&st, sl_clock_mono_us(), path,
		    pss->buf + LWS_PRE, GW_HTTP_BODY_MAX, &pss->len, &type);
		if (lws_add_http_common_headers(
		        wsi, (unsigned) status, type, pss->len, &p, end)
		    || lws_add_http_header_by_token(wsi,
		        WSI_TOKEN_HTTP_CACHE_CONTROL,
		        (const unsigned char *) "no-store", 8, &p, end)
		    || lws_finalize_write_http_header(wsi, start, &p, end))
			return 1;
		if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI)) {
			/* HEAD: the headers (with the body's length) only */
			free(pss->buf);
			pss->buf = NULL;
			return lws_http_transaction_completed(wsi) ? -1 : 0;
		}
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!pss->buf)
			break;
		if (lws_write(wsi, (unsigned char *) pss->buf + LWS_PRE,
		        pss->len, LWS_WRITE_HTTP_FINAL)
		    < (int) pss->len)
			return -1;
		free(pss->buf);
		pss->buf = NULL;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_HTTP_BODY:
		return 0; /* a GET with a body: ignored */
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		/* lws's default would end the transaction now, before
		 * WRITEABLE sends our body (and pss with its buffer would go).
		 * WRITEABLE ends it instead; lws discards whatever body is
		 * still to come. */
		return 0;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL: /* transaction over */
	case LWS_CALLBACK_CLOSED_HTTP:
		free(pss->buf);
		pss->buf = NULL;
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}
