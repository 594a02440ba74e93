/*
 * gw_ws: WebSocket connections (see gw_ws.h). lws service thread only.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gw_cproto.h"
#include "gw_ws.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_list.h"
#include "sl_log.h"

/* Frames written per WRITEABLE while the socket accepts them: several
 * results for one client leave in one loop turn instead of one each. */
#define GW_WS_WRITE_BATCH 32
/* An idle connection keeps at most this much receive buffer. */
#define GW_WS_RX_KEEP 16384

typedef struct gw_ws_out {
	sl_list_t link;
	int64_t t_item_us; /* when an item's frame was queued; 0: other */
	size_t len;        /* payload bytes after the LWS_PRE headroom */
	uint8_t buf[];     /* LWS_PRE + len */
} gw_ws_out_t;

typedef struct gw_ws_pss {
	sl_list_t link; /* in env->conns */
	struct lws *wsi;
	gw_ws_env_t *env;    /* borrowed from the context */
	gw_client_t *client; /* owned by the broker, released in CLOSED */
	uint64_t conn;       /* id for logs */
	char *rx;            /* the message being reassembled */
	size_t rx_len, rx_cap;
	bool rx_in_msg; /* a message has started and not ended */
	bool rx_binary; /* ... and it is binary */
	bool rx_drop;   /* ... and it is over max_frame: discarding */
	sl_list_t out;  /* gw_ws_out_t waiting for WRITEABLE */
	size_t out_bytes;
	int64_t progress_us; /* last write, or when the queue last filled */
	bool paused;         /* over out_high: the broker holds its jobs */
	bool closing;        /* close sent for; drop further frames */
	bool flush_first;    /* ... but write what is queued before closing */
	uint16_t close_status;
	char close_reason[96];
} gw_ws_pss_t;

size_t
gw_ws_pss_size(void)
{
	return sizeof(gw_ws_pss_t);
}

static void
s_out_free_all(gw_ws_pss_t *pss)
{
	sl_list_t *e;

	while ((e = sl_list_first(&pss->out))) {
		sl_list_remove(e);
		free(sl_container_of(e, gw_ws_out_t, link));
	}
	pss->out_bytes = 0;
}

void
gw_ws_env_init(gw_ws_env_t *env)
{
	sl_list_init(&env->conns);
	env->n_conns = 0;
	gw_hist_init_forward(&env->forward_delay);
}

size_t
gw_ws_queued_bytes(const gw_ws_env_t *env)
{
	size_t n = 0;

	for (const sl_list_t *e = env->conns.next; e != &env->conns;
	     e = e->next)
		n += sl_container_of(e, gw_ws_pss_t, link)->out_bytes;
	return n;
}

/*
 * Close with status and reason at the next WRITEABLE, after the queued
 * frames if flush; the timeout is the hard deadline for a peer that never
 * lets us write again.
 */
static void
s_close(gw_ws_pss_t *pss, uint16_t status, const char *reason, bool flush)
{
	if (pss->closing)
		return;
	pss->closing = true;
	pss->flush_first = flush;
	pss->close_status = status;
	snprintf(pss->close_reason, sizeof pss->close_reason, "%s", reason);
	if (!flush)
		s_out_free_all(pss);
	lws_set_timeout(
	    pss->wsi, PENDING_TIMEOUT_USER_REASON_BASE, flush ? 3 : 2);
	lws_callback_on_writable(pss->wsi);
}

void
gw_ws_close_all(gw_ws_env_t *env, uint16_t status, const char *reason)
{
	for (sl_list_t *e = env->conns.next; e != &env->conns; e = e->next)
		s_close(sl_container_of(e, gw_ws_pss_t, link), status, reason,
		    true);
}

void
gw_ws_tick(gw_ws_env_t *env, int64_t now_us)
{
	for (sl_list_t *e = env->conns.next; e != &env->conns; e = e->next) {
		gw_ws_pss_t *pss = sl_container_of(e, gw_ws_pss_t, link);

		if (pss->closing || !pss->out_bytes
		    || now_us - pss->progress_us < env->stall_us)
			continue;
		SL_WARN("CLI-STALL",
		    "conn=%" PRIu64 " queued=%zu idle_ms=%" PRId64, pss->conn,
		    pss->out_bytes, (now_us - pss->progress_us) / 1000);
		env->stall_closed++;
		s_close(pss, LWS_CLOSE_STATUS_POLICY_VIOLATION,
		    "slow consumer: no reading progress", false);
	}
}

int
gw_ws_client_send(void *ctx, void *user, json_t *frame)
{
	gw_ws_pss_t *pss = user;
	gw_ws_out_t *m;
	size_t n;

	(void) ctx;
	if (pss->closing)
		return SL_EFULL;
	n = json_dumpb(frame, NULL, 0, JSON_COMPACT);
	if (!n)
		return SL_EINVAL;
	if (pss->out_bytes + n > pss->env->max_out_bytes) {
		SL_WARN("CLI-SLOW", "conn=%" PRIu64 " queued=%zu limit=%zu",
		    pss->conn, pss->out_bytes + n, pss->env->max_out_bytes);
		pss->env->slow_closed++;
		s_close(pss, LWS_CLOSE_STATUS_POLICY_VIOLATION,
		    "slow consumer: outgoing queue over its limit", false);
		return SL_EFULL;
	}
	m = malloc(sizeof *m + LWS_PRE + n);
	if (!m)
		return SL_ENOMEM;
	m->len = json_dumpb(frame, (char *) m->buf + LWS_PRE, n, JSON_COMPACT);
	/* Item frames (result, item error) carry seq: time their way out. */
	m->t_item_us = json_object_get(frame, "seq") ? sl_clock_mono_us() : 0;
	if (!pss->out_bytes)
		pss->progress_us = sl_clock_mono_us();
	sl_list_push_back(&pss->out, &m->link);
	pss->out_bytes += m->len;
	if (!pss->paused && pss->out_bytes > pss->env->out_high) {
		pss->paused = true;
		gw_broker_client_pause(pss->env->broker, pss->client, true);
	}
	lws_callback_on_writable(pss->wsi);
	return 0;
}

static int
s_writeable(gw_ws_pss_t *pss)
{
	sl_list_t *e;
	int i;

	if (pss->closing && (!pss->flush_first || !pss->out_bytes)) {
		lws_close_reason(pss->wsi, pss->close_status,
		    (unsigned char *) pss->close_reason,
		    strlen(pss->close_reason));
		return -1;
	}
	for (i = 0; i < GW_WS_WRITE_BATCH && (e = sl_list_first(&pss->out));
	     i++) {
		gw_ws_out_t *m = sl_container_of(e, gw_ws_out_t, link);

		if (i && lws_send_pipe_choked(pss->wsi))
			break;
		if (lws_write(
		        pss->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT)
		    < (int) m->len) {
			SL_INFO("CLI-WRITE", "conn=%" PRIu64 " write failed",
			    pss->conn);
			return -1;
		}
		pss->progress_us = sl_clock_mono_us();
		if (m->t_item_us)
			gw_hist_observe_us(&pss->env->forward_delay,
			    pss->progress_us - m->t_item_us);
		sl_list_remove(e);
		pss->out_bytes -= m->len;
		free(m);
	}
	if (pss->paused && pss->out_bytes < pss->env->out_low) {
		pss->paused = false;
		gw_broker_client_pause(pss->env->broker, pss->client, false);
	}
	/* More to write, or a close waiting for the queue to empty. */
	if (!sl_list_empty(&pss->out) || pss->closing)
		lws_callback_on_writable(pss->wsi);
	return 0;
}

/* A whole message is in pss->rx (or was dropped): act on it. */
static void
s_message(gw_ws_pss_t *pss)
{
	gw_broker_t *b = pss->env->broker;
	gw_cmsg_t msg;
	gw_cerr_t err;

	if (pss->rx_binary) {
		gw_cerr_set(&err, NULL, "binary_unsupported",
		    "binary frames are not part of the JSON protocol");
		gw_broker_client_error(b, pss->client, &err);
	} else if (pss->rx_drop) {
		gw_cerr_set(&err, NULL, "too_large",
		    "message over the %zu-byte limit was discarded",
		    pss->env->max_frame);
		gw_broker_client_error(b, pss->client, &err);
	} else if (gw_cmsg_parse(pss->rx, pss->rx_len, pss->env->max_items,
	               &msg, &err)) {
		gw_broker_client_error(b, pss->client, &err);
	} else {
		gw_broker_on_client_msg(b, pss->client, &msg);
		gw_cmsg_clear(&msg);
	}
}

static int
s_receive(gw_ws_pss_t *pss, const void *in, size_t len)
{
	if (!pss->rx_in_msg) {
		pss->rx_in_msg = true;
		pss->rx_binary = lws_frame_is_binary(pss->wsi);
		pss->rx_drop = false;
		pss->rx_len = 0;
	}
	if (!pss->rx_binary && !pss->rx_drop) {
		if (pss->rx_len + len > pss->env->max_frame) {
			pss->rx_drop = true;
		} else if (pss->rx_len + len > pss->rx_cap) {
			size_t cap = pss->rx_cap ? pss->rx_cap * 2 : 4096;
			char *p;

			while (cap < pss->rx_len + len)
				cap *= 2;
			if (cap > pss->env->max_frame)
				cap = pss->env->max_frame;
			p = realloc(pss->rx, cap);
			if (!p)
				return -1;
			pss->rx = p;
			pss->rx_cap = cap;
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
	s_message(pss);
	if (pss->rx_cap > GW_WS_RX_KEEP) {
		free(pss->rx);
		pss->rx = NULL;
		pss->rx_cap = 0;
	}
	return 0;
}

int
gw_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	gw_ws_pss_t *pss = user;
	gw_ws_env_t *env;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* The upgrade has not been answered yet: over the limit, the
		 * client gets a plain HTTP 503 instead of a WebSocket. */
		env = lws_context_user(lws_get_context(wsi));
		if (env->n_conns < env->max_conns)
			return 0;
		env->refused_conns++;
		SL_NOTICE("CLI-REFUSED", "open=%zu limit=%zu", env->n_conns,
		    env->max_conns);
		lws_return_http_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE,
		    "too many connections");
		return -1;
	case LWS_CALLBACK_ESTABLISHED:
		env = lws_context_user(lws_get_context(wsi));
		memset(pss, 0, sizeof *pss);
		pss->wsi = wsi;
		pss->env = env;
		pss->conn = ++env->next_conn;
		sl_list_init(&pss->out);
		sl_list_init(&pss->link);
		pss->client = gw_broker_client_new(env->broker, pss);
		if (!pss->client) {
			pss->env = NULL; /* nothing for CLOSED to undo */
			return -1;
		}
		sl_list_push_back(&env->conns, &pss->link);
		env->n_conns++;
		env->conns_total++;
		SL_INFO("CLI-OPEN", "conn=%" PRIu64, pss->conn);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return s_receive(pss, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return s_writeable(pss);
	case LWS_CALLBACK_CLOSED:
		if (!pss->env)
			return 0;
		sl_list_remove(&pss->link);
		pss->env->n_conns--;
		gw_broker_client_destroy(pss->env->broker, &pss->client);
		s_out_free_all(pss);
		free(pss->rx);
		pss->rx = NULL;
		SL_INFO("CLI-CLOSE", "conn=%" PRIu64, pss->conn);
		return 0;
	default:
		/* Plain HTTP on the same port (404 for now). */
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}
