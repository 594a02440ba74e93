/*
 * gw_ws: WebSocket connections (see gw_ws.h). lws service thread only.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "gw_addr.h"
#include "gw_auth.h"
#include "gw_cmsg.h"
#include "gw_out.h"
#include "gw_http.h"
#include "gw_hs.h"
#include "gw_policy.h"
#include "gw_pproto.h"
#include "gw_ws.h"
#include "gw_wsq.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_list.h"
#include "sl_log.h"

#include "gw_ws_int.h"

static void
s_out_free_all(gw_ws_pss_t *pss)
{
	pss->ws->st.buffered -= gw_wsq_clear(&pss->out);
}

/* Drop the receive buffer (and any message in it). */
static void
s_rx_free(gw_ws_pss_t *pss)
{
	pss->ws->st.buffered -= pss->rx_cap;
	free(pss->rx);
	pss->rx = NULL;
	pss->rx_cap = 0;
	pss->rx_len = 0;
}

/* Bytes a connection holds: its receive buffer and its out queue. */
static size_t
s_held(const gw_ws_pss_t *pss)
{
	return pss->rx_cap + pss->out.bytes;
}

gw_ws_t *
gw_ws_new(gw_broker_t *broker, const gw_policy_t *policy,
    const gw_ws_limits_t *lim, gw_hist_t *forward)
{
	gw_ws_t *ws = calloc(1, sizeof *ws);

	if (!ws)
		return NULL;
	ws->broker = broker;
	ws->policy = policy;
	ws->lim = *lim;
	ws->forward = forward;
	sl_list_init(&ws->conns);
	sl_list_init(&ws->queued);
	sl_list_init(&ws->dirty);
	gw_wsping_init(
	    &ws->ping, lim->ping_us, lim->hangup_us, GW_WS_PINGS_PER_TICK);
	msgpack_sbuffer_init(&ws->sb);
	if (lim->max_conns_per_addr) {
		ws->addrs = gw_addr_new(lim->max_conns);
		if (!ws->addrs)
			gw_ws_destroy(&ws);
	}
	return ws;
}

void
gw_ws_destroy(gw_ws_t **self_p)
{
	gw_ws_t *ws = *self_p;

	if (!ws)
		return;
	gw_addr_destroy(&ws->addrs);
	free(ws->scratch);
	msgpack_sbuffer_destroy(&ws->sb);
	free(ws);
	*self_p = NULL;
}

void
gw_ws_stats(const gw_ws_t *ws, gw_ws_stats_t *out)
{
	*out = ws->st;
	out->queued_bytes = 0;
	for (const sl_list_t *e = ws->queued.next; e != &ws->queued;
	     e = e->next)
		out->queued_bytes
		    += sl_container_of(e, gw_ws_pss_t, qlink)->out.bytes;
}

size_t
gw_ws_conns(const gw_ws_t *ws)
{
	return ws->st.conns;
}

void
gw_ws_protocols(gw_ws_t *ws, struct lws_protocols out[2])
{
	/* rx_buffer_size 512: lws keeps one such buffer per connection;
	 * larger messages simply arrive in more pieces (reassembled here),
	 * and idle connections stay cheap. */
	const struct lws_protocols p[2] = {
		{ "sluice", gw_ws_callback, sizeof(gw_ws_pss_t), 512,
		    GW_WS_PROTO_JSON, ws, 0 },
		{ GW_WS_MSGPACK, gw_ws_callback, sizeof(gw_ws_pss_t), 512,
		    GW_WS_PROTO_MSGPACK, ws, 0 },
	};

	memcpy(out, p, sizeof p);
}

/*
 * Close with status and reason at the next WRITEABLE, after the queued
 * frames if flush; the timeout is the hard deadline for a peer that never
 * lets us write again.
 */
void
gw_ws_close_conn(
    gw_ws_pss_t *pss, uint16_t status, const char *reason, bool flush)
{
	if (pss->closing)
		return;
	pss->closing = true;
	pss->flush_first = flush;
	pss->close_status = status;
	snprintf(pss->close_reason, sizeof pss->close_reason, "%s", reason);
	/* What it sends from now on is dropped: its message too (unless
	 * that message is being acted on: s_receive frees it after). */
	if (!pss->in_message)
		s_rx_free(pss);
	if (!flush)
		s_out_free_all(pss);
	lws_set_timeout(
	    pss->wsi, PENDING_TIMEOUT_USER_REASON_BASE, flush ? 3 : 2);
	gw_ws_want_writable(pss);
}

/*
 * Bytes of p that go without closing anything: the receive buffer of the
 * message being acted on (s_message runs: the broker may be sending to
 * any connection), which s_receive frees as soon as s_message returns if
 * p is closing or the buffer is over GW_WS_RX_KEEP. The message was
 * admitted under the cap; closing connections for it is pointless.
 */
static size_t
s_going(const gw_ws_pss_t *p)
{
	return p->in_message && (p->closing || p->rx_cap > GW_WS_RX_KEEP)
	    ? p->rx_cap
	    : 0;
}

/*
 * Over max_buffered (all receive buffers and out queues together, less
 * what goes anyway, s_going): close the connections holding the most, one
 * after another, until the total fits; their buffers go at once. 1009
 * when what it holds is mostly a message it is sending, 1008 when it is
 * output it does not read.
 */
void
gw_ws_buffer_cap(gw_ws_t *ws)
{
	/* Runs per frame queued: walk nothing while under the cap. */
	if (ws->st.buffered <= ws->lim.max_buffered)
		return;
	for (;;) {
		gw_ws_pss_t *big = NULL;
		size_t going = 0;
		bool in;

		for (sl_list_t *e = ws->conns.next; e != &ws->conns;
		     e = e->next) {
			gw_ws_pss_t *p = sl_container_of(e, gw_ws_pss_t, link);

			going += s_going(p);
			if (!p->closing
			    && (!big
			        || s_held(p) - s_going(p)
			            > s_held(big) - s_going(big)))
				big = p;
		}
		if (ws->st.buffered - going <= ws->lim.max_buffered)
			return;
		if (!big || !(s_held(big) - s_going(big)))
			return; /* what is left belongs to closing ones */
		in = (big->rx_in_msg || big->in_message)
		    && big->rx_cap >= big->out.bytes;
		SL_WARN("CLI-BUFCAP",
		    "conn=%" PRIu64 " held=%zu (%s) total=%zu limit=%zu",
		    big->conn, s_held(big), in ? "incoming" : "outgoing",
		    ws->st.buffered, ws->lim.max_buffered);
		ws->st.bufcap_closed++;
		gw_ws_close_conn(big,
		    in ? LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE
		       : LWS_CLOSE_STATUS_POLICY_VIOLATION,
		    in ? "gateway memory cap: partial message dropped"
		       : "gateway memory cap: outgoing queue dropped",
		    false);
	}
}

void
gw_ws_close_all(gw_ws_t *ws, uint16_t status, const char *reason)
{
	for (sl_list_t *e = ws->conns.next; e != &ws->conns; e = e->next)
		gw_ws_close_conn(sl_container_of(e, gw_ws_pss_t, link), status,
		    reason, true);
}

/* A frame or a pong came: ping it only after ping_us more of silence. */
static void
s_heard(gw_ws_pss_t *pss)
{
	if (pss->ws && pss->ws->lim.ping_us > 0)
		gw_wsping_heard(
		    &pss->ws->ping, &pss->ping, sl_clock_mono_us());
}

/* gw_wsping_ops_t.hangup: pinged, and silent until the hang-up time. */
static void
s_hangup(void *ctx, gw_wsping_node_t *n)
{
	gw_ws_pss_t *pss = sl_container_of(n, gw_ws_pss_t, ping);

	(void) ctx;
	SL_INFO("CLI-SILENT", "conn=%" PRIu64 " no answer to a ping: closing",
	    pss->conn);
	gw_ws_close_conn(
	    pss, LWS_CLOSE_STATUS_GOINGAWAY, "no answer to ping", false);
}

static const gw_wsping_ops_t s_ping_ops = { gw_ws_ping, s_hangup };

void
gw_ws_tick(gw_ws_t *ws, int64_t now_us)
{
	sl_list_t *e, *next;

	for (e = ws->queued.next; e != &ws->queued; e = next) {
		gw_ws_pss_t *pss = sl_container_of(e, gw_ws_pss_t, qlink);

		next = e->next;
		if (!pss->out.bytes)
			sl_list_remove(&pss->qlink); /* idle again */
		if (pss->closing || !pss->out.bytes
		    || now_us - pss->progress_us < ws->lim.stall_us)
			continue;
		SL_WARN("CLI-STALL",
		    "conn=%" PRIu64 " queued=%zu idle_ms=%" PRId64, pss->conn,
		    pss->out.bytes, (now_us - pss->progress_us) / 1000);
		ws->st.stall_closed++;
		gw_ws_close_conn(pss, LWS_CLOSE_STATUS_POLICY_VIOLATION,
		    "slow consumer: no reading progress", false);
	}
	if (ws->lim.ping_us > 0)
		gw_wsping_run(&ws->ping, now_us, &s_ping_ops, ws);
}

/* A whole message is in pss->rx (or was dropped): act on it. */
static void
s_message(gw_ws_pss_t *pss)
{
	gw_broker_t *b = pss->ws->broker;
	gw_cmsg_t msg;
	gw_cmsg_err_t err;

	int rc;

	/* Each subprotocol has one kind of data frame: JSON text, or
	 * msgpack binary. */
	if (pss->rx_binary != pss->mp) {
		gw_cmsg_err_set(&err, NULL,
		    pss->mp ? "text_unsupported" : "binary_unsupported",
		    pss->mp ? "sluice.msgpack.v1 takes binary msgpack "
		              "frames, not text"
		            : "binary frames are not part of the JSON "
		              "protocol; ask for sluice.msgpack.v1");
		gw_broker_client_error(b, pss->client, &err);
		return;
	}
	if (pss->rx_drop) {
		gw_cmsg_err_set(&err, NULL, "too_large",
		    "message over the %zu-byte limit was discarded",
		    pss->ws->lim.max_frame);
		gw_broker_client_error(b, pss->client, &err);
		return;
	}
	rc = pss->mp ? gw_pproto_parse(
	         pss->rx, pss->rx_len, pss->ws->lim.max_items, &msg, &err)
	             : gw_cmsg_parse(pss->rx, pss->rx_len,
	                 pss->ws->lim.max_items, &msg, &err);
	if (rc) {
		gw_broker_client_error(b, pss->client, &err);
	} else {
		gw_broker_on_client_msg(b, pss->client, &msg);
		gw_cmsg_clear(&msg);
	}
}

static int
s_receive(gw_ws_pss_t *pss, const void *in, size_t len)
{
	if (pss->closing)
		return 0; /* its close is on the way: nothing more counts */
	if (!pss->rx_in_msg) {
		pss->rx_in_msg = true;
		pss->rx_binary = lws_frame_is_binary(pss->wsi);
		pss->rx_drop = false;
		pss->rx_len = 0;
	}
	if (pss->rx_binary == pss->mp && !pss->rx_drop) {
		if (pss->rx_len + len > pss->ws->lim.max_frame) {
			pss->rx_drop = true;
		} else if (pss->rx_len + len > pss->rx_cap) {
			size_t cap = pss->rx_cap ? pss->rx_cap * 2 : 4096;
			char *p;

			while (cap < pss->rx_len + len)
				cap *= 2;
			if (cap > pss->ws->lim.max_frame)
				cap = pss->ws->lim.max_frame;
			p = realloc(pss->rx, cap);
			if (!p)
				return -1;
			pss->rx = p;
			pss->ws->st.buffered += cap - pss->rx_cap;
			pss->rx_cap = cap;
			gw_ws_buffer_cap(pss->ws);
			if (pss->closing)
				return 0; /* it held the most: closed, 1009 */
		}
		if (!pss->rx_drop) {
			memcpy(pss->rx + pss->rx_len, in, len);
			pss->rx_len += len;
		}
	}
	if (!lws_is_final_fragment(pss->wsi)
	    || lws_remaining_packet_payload(pss->wsi))
		return 0;
	pss->rx_in_msg = false;
	pss->in_message = true;
	s_message(pss);
	pss->in_message = false;
	if (pss->closing || pss->rx_cap > GW_WS_RX_KEEP)
		s_rx_free(pss);
	return 0;
}

/* The upgrade's TCP peer (of the network connection under an HTTP/2
 * stream). */
static int
s_peer_key(struct lws *wsi, gw_addr_key_t *key)
{
	return gw_addr_key_of_fd(
	    lws_get_socket_fd(lws_get_network_wsi(wsi)), key);
}

/* Over --max-connections-per-address: refuse with 429 (-1), else 0. */
static int
s_addr_full(gw_ws_t *ws, struct lws *wsi)
{
	gw_addr_key_t key;
	char text[64];
	size_t open;

	if (!ws->addrs || s_peer_key(wsi, &key))
		return 0;
	open = gw_addr_count(ws->addrs, &key);
	if (open < ws->lim.max_conns_per_addr)
		return 0;
	ws->st.refused_addr++;
	gw_addr_key_str(&key, text, sizeof text);
	SL_NOTICE("CLI-ADDRFULL", "addr=%s open=%zu limit=%zu", text, open,
	    ws->lim.max_conns_per_addr);
	return gw_auth_refuse_ex(wsi, 429, "retry-after: 5\r\n",
	    "too many connections from this address");
}

/* CLOSED: the connection's last callback; free what it holds. A client
 * that sent a close frame left on purpose: its requests end. Otherwise
 * (cut, silent, closed by us) they may be resumed. */
static void
s_closed(gw_ws_pss_t *pss)
{
	sl_list_remove(&pss->link);
	sl_list_remove(&pss->qlink);
	sl_list_remove(&pss->flink);
	gw_wsping_remove(&pss->ping);
	pss->ws->st.conns--;
	if (pss->addr_counted)
		gw_addr_release(pss->ws->addrs, &pss->addr);
	if (pss->peer_closed)
		gw_broker_client_destroy(pss->ws->broker, &pss->client);
	else
		gw_broker_client_drop(pss->ws->broker, &pss->client);
	s_out_free_all(pss);
	s_rx_free(pss);
	SL_INFO("CLI-CLOSE", "conn=%" PRIu64, pss->conn);
}

/* ESTABLISHED: count the address, make the broker's client, share its
 * job quota with the other connections of its token. 0, or -1 with
 * nothing left to undo. */
static int
s_established(gw_ws_t *ws, gw_ws_pss_t *pss, struct lws *wsi)
{
	uint8_t id[GW_AUTH_ID_LEN];

	if (ws->addrs && !s_peer_key(wsi, &pss->addr)) {
		if (gw_addr_add(ws->addrs, &pss->addr))
			return -1;
		pss->addr_counted = true;
	}
	pss->client = gw_broker_client_new(ws->broker, pss);
	if (pss->client
	    && gw_auth_token_id(gw_policy_auth(ws->policy), wsi, id)
	    && gw_broker_client_share(ws->broker, pss->client, id, sizeof id))
		gw_broker_client_destroy(ws->broker, &pss->client);
	if (pss->client)
		return 0;
	if (pss->addr_counted)
		gw_addr_release(ws->addrs, &pss->addr);
	pss->addr_counted = false;
	return -1;
}

/* FILTER_PROTOCOL_CONNECTION: the upgrade has not been answered yet:
 * over a limit, the client gets a plain HTTP status instead of a
 * WebSocket. */
static int
s_filter(struct lws *wsi)
{
	gw_ws_t *ws = lws_get_protocol(wsi)->user;

	/* RFC 6455's version and key rules (426 / 400). */
	if (gw_hs_filter(wsi, &ws->st.hs))
		return -1;
	if (s_addr_full(ws, wsi))
		return -1; /* 429 written */
	if (ws->st.conns >= ws->lim.max_conns) {
		ws->st.refused_conns++;
		SL_NOTICE("CLI-REFUSED", "open=%zu limit=%zu", ws->st.conns,
		    ws->lim.max_conns);
		return gw_auth_refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE,
		    "too many connections");
	}
	/* Tokens and Origin, before the 101: a refusal is an HTTP status,
	 * written by gw_auth. */
	return gw_auth_filter_ws(gw_policy_auth(ws->policy), wsi);
}

int
gw_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	gw_ws_pss_t *pss = user;
	gw_ws_t *ws;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return s_filter(wsi);
	case LWS_CALLBACK_ESTABLISHED:
		ws = lws_get_protocol(wsi)->user;
		memset(pss, 0, sizeof *pss);
		pss->wsi = wsi;
		pss->ws = ws;
		pss->conn = ++ws->next_conn;
		pss->mp = lws_get_protocol(wsi)->id == GW_WS_PROTO_MSGPACK;
		gw_wsq_init(&pss->out);
		sl_list_init(&pss->link);
		sl_list_init(&pss->qlink);
		sl_list_init(&pss->flink);
		gw_wsping_node_init(&pss->ping);
		if (s_established(ws, pss, wsi)) {
			pss->ws = NULL; /* nothing for CLOSED to undo */
			return -1;
		}
		sl_list_push_back(&ws->conns, &pss->link);
		s_heard(pss);
		ws->st.conns++;
		ws->st.conns_total++;
		SL_INFO("CLI-OPEN", "conn=%" PRIu64 " protocol=%s", pss->conn,
		    pss->mp ? GW_WS_MSGPACK : "json");
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		/* Before any protocol is chosen: lands on protocols[0]. */
		ws = lws_get_protocol(wsi)->user;
		return gw_hs_confirm_upgrade(in, &ws->st.hs);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (!pss->ws)
			return 0;
		pss->peer_closed = true;
		return gw_hs_peer_close(
		    wsi, in, len, pss->conn, &pss->ws->st.hs);
	case LWS_CALLBACK_RECEIVE:
		s_heard(pss);
		return s_receive(pss, in, len);
	case LWS_CALLBACK_RECEIVE_PONG:
		if (pss->ws)
			s_heard(pss);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		pss->writable_asked = false; /* lws has dropped POLLOUT */
		return gw_ws_writeable(pss);
	case LWS_CALLBACK_CLOSED:
		if (pss->ws)
			s_closed(pss);
		return 0;
	case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
		/* Every plain HTTP request, before lws picks a mount: only
		 * GET and HEAD go on. */
		return gw_http_filter_method(wsi);
	default:
		/* Plain HTTP on the same port (404 for now). */
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}
