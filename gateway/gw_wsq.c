/*
 * gw_wsq: a connection's queue of outgoing frames (see gw_wsq.h).
 */
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "gw_wsq.h"
#include "sl_err.h"

typedef struct gw_wsq_frame {
	sl_list_t link;    /* in gw_wsq_t.frames */
	int64_t t_item_us; /* when an item's frame was queued; 0: other */
	size_t len;        /* payload bytes after the LWS_PRE headroom */
	uint8_t buf[];     /* LWS_PRE + len */
} gw_wsq_frame_t;

#define FRAME(e) sl_container_of(e, gw_wsq_frame_t, link)

void
gw_wsq_init(gw_wsq_t *q)
{
	sl_list_init(&q->frames);
	q->bytes = 0;
}

int
gw_wsq_push(gw_wsq_t *q, const void *data, size_t len, int64_t t_item_us)
{
	gw_wsq_frame_t *f = malloc(sizeof *f + LWS_PRE + len);

	if (!f)
		return SL_ENOMEM;
	memcpy(f->buf + LWS_PRE, data, len);
	f->len = len;
	f->t_item_us = t_item_us;
	sl_list_push_back(&q->frames, &f->link);
	q->bytes += len;
	return 0;
}

bool
gw_wsq_empty(const gw_wsq_t *q)
{
	return sl_list_empty(&q->frames);
}

uint8_t *
gw_wsq_first(const gw_wsq_t *q, size_t *len)
{
	gw_wsq_frame_t *f;

	if (gw_wsq_empty(q))
		return NULL;
	f = FRAME(q->frames.next);
	*len = f->len;
	return f->buf + LWS_PRE;
}

size_t
gw_wsq_batch(const gw_wsq_t *q, size_t max_n, size_t max_bytes, size_t *wire)
{
	size_t n = 0;

	*wire = 0;
	for (const sl_list_t *e = q->frames.next; e != &q->frames && n < max_n;
	     e = e->next) {
		size_t len = FRAME(e)->len;

		if (n && *wire + GW_WSQ_HDR_MAX + len > max_bytes)
			break;
		*wire += GW_WSQ_HDR_MAX + len;
		n++;
	}
	return n;
}

/* A server's (unmasked) frame header for len bytes; its length. */
static size_t
s_header(uint8_t *h, size_t len, bool binary)
{
	h[0] = binary ? 0x82 : 0x81; /* FIN, opcode */
	if (len < 126) {
		h[1] = (uint8_t) len;
		return 2;
	}
	if (len < 65536) {
		h[1] = 126;
		h[2] = (uint8_t) (len >> 8);
		h[3] = (uint8_t) len;
		return 4;
	}
	h[1] = 127;
	for (int i = 0; i < 8; i++)
		h[2 + i] = (uint8_t) ((uint64_t) len >> (56 - 8 * i));
	return 10;
}

size_t
gw_wsq_frame(const gw_wsq_t *q, size_t n, bool binary, uint8_t *dst)
{
	const sl_list_t *e = q->frames.next;
	size_t used = 0;

	for (size_t i = 0; i < n && e != &q->frames; i++, e = e->next) {
		const gw_wsq_frame_t *f = FRAME(e);

		used += s_header(dst + used, f->len, binary);
		memcpy(dst + used, f->buf + LWS_PRE, f->len);
		used += f->len;
	}
	return used;
}

size_t
gw_wsq_pop(gw_wsq_t *q, size_t n, int64_t now_us, gw_hist_t *hist)
{
	size_t dropped = 0;
	sl_list_t *e;

	while (n-- && (e = sl_list_first(&q->frames))) {
		gw_wsq_frame_t *f = FRAME(e);

		if (f->t_item_us && hist)
			gw_hist_observe_us(hist, now_us - f->t_item_us);
		sl_list_remove(e);
		dropped += f->len;
		free(f);
	}
	q->bytes -= dropped;
	return dropped;
}

size_t
gw_wsq_clear(gw_wsq_t *q)
{
	return gw_wsq_pop(q, SIZE_MAX, 0, NULL);
}
