/*
 * gw_ws_send: a connection's outgoing side (see gw_ws.h): each frame
 * encoded once for its kind (JSON text or msgpack), queued with LWS_PRE
 * headroom under the per-connection and global limits, written several
 * per WRITEABLE, and the close frame. lws service thread only.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "gw_out.h"
#include "gw_pproto.h"
#include "gw_ws.h"
#include "gw_ws_int.h"
#include "gw_wsq.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_list.h"
#include "sl_log.h"

/* The frame's payload for this connection, JSON text or msgpack, in
 * *out (shared scratch space, valid until the next call); its length,
 * or 0 on ENOMEM. */
static size_t
s_encode(gw_ws_pss_t *pss, const gw_out_t *frame, const void **out)
{
	gw_ws_t *ws = pss->ws;
	size_t n;

	/* A channel's watchers get one frame, encoded once per kind. */
	if (pss->mp) {
		if (!frame->serial || frame->serial != ws->mp_serial) {
			ws->mp_serial = 0;
			msgpack_sbuffer_clear(&ws->sb);
			if (gw_pproto_encode(frame, &ws->sb))
				return 0;
			ws->mp_serial = frame->serial;
		}
		*out = ws->sb.data;
		return ws->sb.size;
	}
	if (!frame->serial || frame->serial != ws->json_serial) {
		ws->json_serial = 0;
		/* may move ws->scratch */
		n = gw_out_json_text(frame, &ws->scratch, &ws->scratch_cap);
		if (!n)
			return 0;
		ws->json_serial = frame->serial;
		ws->json_len = n;
	}
	*out = ws->scratch;
	return ws->json_len;
}

int
gw_ws_client_send(void *ctx, void *user, const gw_out_t *frame)
{
	gw_ws_pss_t *pss = user;
	const void *data = NULL;
	size_t n;

	(void) ctx;
	if (pss->closing)
		return SL_EFULL;
	/* Progress is dropped first: never queued behind a slow reader's
	 * backlog (it would be stale when read), and never a reason to cut
	 * one. Results and partials are data: they queue. */
	if (frame->type == GW_OUT_PROGRESS
	    && (pss->paused || pss->out.bytes > GW_WS_PROGRESS_BACKLOG)) {
		pss->ws->st.progress_dropped++;
		return 0;
	}
	n = s_encode(pss, frame, &data);
	if (!n) {
		SL_ERR("CLI-ENCODE",
		    "conn=%" PRIu64 " frame %s dropped: "
		    "could not encode it (out of memory?)",
		    pss->conn, gw_out_type_name(frame->type));
		return SL_ENOMEM;
	}
	if (pss->out.bytes + n > pss->ws->lim.max_out_bytes) {
		SL_WARN("CLI-SLOW", "conn=%" PRIu64 " queued=%zu limit=%zu",
		    pss->conn, pss->out.bytes + n, pss->ws->lim.max_out_bytes);
		pss->ws->st.slow_closed++;
		gw_ws_close_conn(pss, LWS_CLOSE_STATUS_POLICY_VIOLATION,
		    "slow consumer: outgoing queue over its limit", false);
		return SL_EFULL;
	}
	if (!pss->out.bytes) {
		pss->progress_us = sl_clock_mono_us();
		if (!sl_list_linked(&pss->qlink))
			sl_list_push_back(&pss->ws->queued, &pss->qlink);
	}
	/* Item frames (result, item error): time their way out. */
	if (gw_wsq_push(&pss->out, data, n,
	        frame->type == GW_OUT_RESULT
	                || frame->type == GW_OUT_ITEM_ERROR
	            ? sl_clock_mono_us()
	            : 0))
		return SL_ENOMEM;
	pss->ws->st.buffered += n;
	gw_ws_buffer_cap(pss->ws);
	if (pss->closing)
		return SL_EFULL; /* it was the biggest: dropped with it */
	if (!pss->paused && pss->out.bytes > pss->ws->lim.out_high) {
		pss->paused = true;
		gw_broker_client_pause(pss->ws->broker, pss->client, true);
	}
	if (!pss->ws->direct)
		gw_ws_want_writable(pss);
	else if (!sl_list_linked(&pss->flink))
		sl_list_push_back(&pss->ws->dirty, &pss->flink);
	return 0;
}

/*
 * Take the frames that leave together (at least the first; more while
 * they fit GW_WS_WRITE_BATCH / _BYTES), write them, account for them.
 * One frame goes as lws frames it, from its own LWS_PRE headroom; several
 * are framed into the scratch buffer and leave as one raw write.
 */
static int
s_write_batch(gw_ws_pss_t *pss)
{
	gw_ws_t *ws = pss->ws;
	size_t wire, len,
	    n = gw_wsq_batch(
	        &pss->out, GW_WS_WRITE_BATCH, GW_WS_WRITE_BYTES, &wire);
	uint8_t *p;

	if (n == 1) {
		p = gw_wsq_first(&pss->out, &len);
		if (lws_write(pss->wsi, p, len,
		        pss->mp ? LWS_WRITE_BINARY : LWS_WRITE_TEXT)
		    < (int) len)
			return -1;
	} else {
		if (ws->scratch_cap < LWS_PRE + wire) {
			char *grown = realloc(ws->scratch, LWS_PRE + wire);

			if (!grown)
				return -1;
			ws->scratch = grown;
			ws->scratch_cap = LWS_PRE + wire;
		}
		ws->json_serial = 0; /* scratch is overwritten below */
		p = (uint8_t *) ws->scratch + LWS_PRE;
		len = gw_wsq_frame(&pss->out, n, pss->mp, p);
		if (lws_write(pss->wsi, p, len, LWS_WRITE_RAW) < (int) len)
			return -1;
	}
	pss->progress_us = sl_clock_mono_us();
	ws->st.buffered
	    -= gw_wsq_pop(&pss->out, n, pss->progress_us, ws->forward);
	return 0;
}

/* The close frame: lws 4.1.6 on libuv hung up without writing the one
 * lws_close_reason asks for (clients saw 1006). -1: lws hangs up now. */
static int
s_write_close(gw_ws_pss_t *pss)
{
	/* FIN + close, unmasked, one length byte (payload under 126) */
	uint8_t buf[LWS_PRE + 4 + sizeof pss->close_reason],
	    *f = buf + LWS_PRE;
	size_t n = strlen(pss->close_reason);

	f[0] = 0x88;
	f[1] = (uint8_t) (2 + n);
	f[2] = (uint8_t) (pss->close_status >> 8);
	f[3] = (uint8_t) (pss->close_status & 0xff);
	memcpy(f + 4, pss->close_reason, n);
	lws_write(pss->wsi, f, n + 4, LWS_WRITE_RAW);
	return -1;
}

/* A PING asked for by gw_wsping, unless lws holds a partial send (the
 * connection is busy, not silent: it is written after that). 0, or -1 if
 * the write failed. */
static int
s_write_ping(gw_ws_pss_t *pss)
{
	/* One byte of payload: lws 4.1.6 passes a pong up
	 * (LWS_CALLBACK_RECEIVE_PONG) only if it has one, and a client's
	 * pong echoes the ping's. */
	uint8_t buf[LWS_PRE + 1] = { [LWS_PRE] = 's' };

	if (!pss->ping_pending || lws_partial_buffered(pss->wsi))
		return 0;
	pss->ping_pending = false;
	return lws_write(pss->wsi, buf + LWS_PRE, 1, LWS_WRITE_PING) < 0 ? -1
	                                                                 : 0;
}

void
gw_ws_ping(void *ctx, gw_wsping_node_t *n)
{
	gw_ws_pss_t *pss = sl_container_of(n, gw_ws_pss_t, ping);

	(void) ctx;
	if (pss->closing)
		return;
	pss->ping_pending = true;
	if (!pss->ws->direct)
		gw_ws_want_writable(pss);
	else if (!sl_list_linked(&pss->flink))
		sl_list_push_back(&pss->ws->dirty, &pss->flink);
}

/* Below the low mark again: the broker may send its jobs again. */
static void
s_unpause(gw_ws_pss_t *pss)
{
	if (pss->paused && pss->out.bytes < pss->ws->lim.out_low) {
		pss->paused = false;
		gw_broker_client_pause(pss->ws->broker, pss->client, false);
	}
}

void
gw_ws_want_writable(gw_ws_pss_t *pss)
{
	/* 1: armed; 0 or -1: not (closing, no descriptor): ask again next
	 * time */
	if (!pss->writable_asked)
		pss->writable_asked = lws_callback_on_writable(pss->wsi) == 1;
}

void
gw_ws_set_direct(gw_ws_t *ws)
{
	ws->direct = true;
}

/*
 * Write what pss has queued now, outside any lws callback: up to
 * GW_WS_FLUSH_BATCHES batches while the kernel takes them whole. What is
 * left, or what lws had to buffer (a partial send), waits for WRITEABLE.
 */
static void
s_flush_one(gw_ws_pss_t *pss)
{
	struct lws *wsi = pss->wsi;

	if (pss->closing)
		return; /* the close waits for WRITEABLE, asked for already */
	if (s_write_ping(pss))
		goto failed;
	for (int i = 0; i < GW_WS_FLUSH_BATCHES && !lws_partial_buffered(wsi)
	     && !gw_wsq_empty(&pss->out);
	     i++)
		if (s_write_batch(pss))
			goto failed;
	s_unpause(pss);
	/* A partial send: lws has asked for POLLOUT itself, and calls
	 * WRITEABLE once it has written the rest. */
	if (lws_partial_buffered(wsi))
		pss->writable_asked = true;
	else if (!gw_wsq_empty(&pss->out) || pss->ping_pending)
		gw_ws_want_writable(pss);
	return;
failed:
	/* Not inside a callback: nothing to return -1 to. Drop what is
	 * queued and let lws close it soon. */
	SL_INFO("CLI-WRITE", "conn=%" PRIu64 " write failed", pss->conn);
	pss->closing = true;
	pss->ws->st.buffered -= gw_wsq_clear(&pss->out);
	lws_set_timeout(
	    wsi, PENDING_TIMEOUT_USER_REASON_BASE, LWS_TO_KILL_ASYNC);
}

void
gw_ws_flush(gw_ws_t *ws)
{
	while (!sl_list_empty(&ws->dirty)) {
		sl_list_t *e = ws->dirty.next;

		sl_list_remove(e);
		s_flush_one(sl_container_of(e, gw_ws_pss_t, flink));
	}
}

int
gw_ws_writeable(gw_ws_pss_t *pss)
{
	if (pss->closing && (!pss->flush_first || !pss->out.bytes))
		return s_write_close(pss);
	if (s_write_ping(pss)
	    || (!gw_wsq_empty(&pss->out) && s_write_batch(pss))) {
		SL_INFO(
		    "CLI-WRITE", "conn=%" PRIu64 " write failed", pss->conn);
		return -1;
	}
	s_unpause(pss);
	/* More to write, or a close waiting for the queue to empty. */
	if (!gw_wsq_empty(&pss->out) || pss->closing || pss->ping_pending)
		gw_ws_want_writable(pss);
	return 0;
}
