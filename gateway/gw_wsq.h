/*
 * gw_wsq: one WebSocket connection's queue of outgoing frames, ready to
 * write. Each payload is copied once, after LWS_PRE bytes of headroom,
 * so lws can frame a single one in place; several can be framed here
 * (a server's unmasked header each) into one buffer that leaves in one
 * write, i.e. one send(). Counted in payload bytes. An item frame keeps
 * the time it was queued, for the forward-delay histogram.
 *
 * Plain data embedded in its owner (gw_ws's per-connection state); the
 * queue owns its frames. lws service thread only.
 */
#ifndef GW_WSQ_H
#define GW_WSQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_hist.h"
#include "sl_list.h"

#define GW_WSQ_HDR_MAX 10 /* a server's WebSocket frame header, at most */

typedef struct gw_wsq {
	sl_list_t frames; /* oldest first; private to gw_wsq.c */
	size_t bytes;     /* payload bytes queued */
} gw_wsq_t;

void gw_wsq_init(gw_wsq_t *q);

/* Append a copy of data (len bytes); t_item_us: when an item frame was
 * queued (0: not an item frame, not timed). 0, or SL_ENOMEM. */
int gw_wsq_push(gw_wsq_t *q, const void *data, size_t len, int64_t t_item_us);

bool gw_wsq_empty(const gw_wsq_t *q);

/* The first frame's payload, with LWS_PRE bytes of headroom before it
 * (lws_write may use them), and its length; NULL if empty. Borrowed. */
uint8_t *gw_wsq_first(const gw_wsq_t *q, size_t *len);

/* How many frames leave together: the first, and more while at most
 * max_n frames of at most max_bytes on the wire fit; 0 if empty. *wire
 * gets their bytes on the wire at most (GW_WSQ_HDR_MAX per header). */
size_t gw_wsq_batch(
    const gw_wsq_t *q, size_t max_n, size_t max_bytes, size_t *wire);

/* Write the first n frames as final text (binary: binary) frames into
 * dst, which has room for the *wire gw_wsq_batch gave; the bytes
 * written. No extension is negotiated: a frame is header + payload. */
size_t gw_wsq_frame(const gw_wsq_t *q, size_t n, bool binary, uint8_t *dst);

/* Drop the first n frames, written at now_us: each item frame's delay
 * goes into hist (NULL: not timed). The payload bytes dropped. */
size_t gw_wsq_pop(gw_wsq_t *q, size_t n, int64_t now_us, gw_hist_t *hist);

/* Drop every frame; the payload bytes dropped. */
size_t gw_wsq_clear(gw_wsq_t *q);

#endif
