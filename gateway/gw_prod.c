/*
 * gw_prod: producers on their own ZeroMQ ROUTER, each one a broker client
 * (see gw_prod.h). lws service thread only.
 *
 * Producers are found by routing id on a list: lookups are linear, which
 * is fine for the tens of producers this is for (a hash table is the
 * next step if that ever changes).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "gw_pproto.h"
#include "gw_prod.h"
#include "gw_zmq.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_list.h"
#include "sl_log.h"
#include "sl_proto.h"

#define GW_PROD_MAX_RID 255 /* ZeroMQ routing ids are 1..255 bytes */

typedef struct gw_producer {
	sl_list_t link; /* in prod->producers */
	uint8_t rid[GW_PROD_MAX_RID];
	size_t rid_len;
	char name[48];       /* printable rid, for logs */
	gw_client_t *client; /* its broker client */
	int64_t last_us;     /* monotonic, last frame from it */
	bool failed;         /* a send failed: forget it on the next tick */
} gw_producer_t;

struct gw_prod {
	gw_broker_t *broker;  /* borrowed; outlives us */
	gw_zmq_t *zsock;      /* the producers ROUTER */
	gw_prod_limits_t lim; /* copied */
	sl_list_t producers;  /* gw_producer_t */
	size_t n_producers;
	msgpack_sbuffer sb; /* scratch for encoding, reused */
	gw_hist_t *forward; /* borrowed, NULL: item frames are not timed */
};

/* gw_broker_send_fn: one frame to one producer, as msgpack. */
static int
s_send(void *ctx, void *client_user, const gw_out_t *frame)
{
	gw_prod_t *self = ctx;
	gw_producer_t *p = client_user;
	/* A producer's frame is out of the gateway once ZeroMQ has it. */
	int64_t t0 = self->forward
	        && (frame->type == GW_OUT_RESULT
	            || frame->type == GW_OUT_ITEM_ERROR)
	    ? sl_clock_mono_us()
	    : 0;
	int rc;

	if (p->failed)
		return -1;
	msgpack_sbuffer_clear(&self->sb);
	rc = gw_pproto_encode(frame, &self->sb);
	if (rc) {
		SL_ERR("PRD-ENCODE", "producer=%s frame dropped: %s", p->name,
		    sl_strerror(rc));
		return -1;
	}
	rc = gw_zmq_send(
	    self->zsock, p->rid, p->rid_len, self->sb.data, self->sb.size);
	if (!rc) {
		if (t0)
			gw_hist_observe_us(
			    self->forward, sl_clock_mono_us() - t0);
		return 0;
	}
	/* Gone, or not reading: forget it on the next tick (we are inside
	 * a broker call), and let none of its jobs start meanwhile. */
	SL_INFO("PRD-GONE", "producer=%s reason=%s", p->name,
	    rc == SL_EFULL ? "not_reading" : "disconnected");
	p->failed = true;
	gw_broker_client_pause(self->broker, p->client, true);
	return -1;
}

static gw_producer_t *
s_find(gw_prod_t *self, const uint8_t *rid, size_t rid_len)
{
	for (sl_list_t *e = self->producers.next; e != &self->producers;
	     e = e->next) {
		gw_producer_t *p = sl_container_of(e, gw_producer_t, link);

		if (p->rid_len == rid_len && !memcmp(p->rid, rid, rid_len))
			return p;
	}
	return NULL;
}

static gw_producer_t *
s_producer_new(gw_prod_t *self, const uint8_t *rid, size_t rid_len)
{
	gw_producer_t *p;

	if (!rid_len || rid_len > GW_PROD_MAX_RID)
		return NULL;
	p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	memcpy(p->rid, rid, rid_len);
	p->rid_len = rid_len;
	sl_rid_name(rid, rid_len, p->name, sizeof p->name);
	p->client = gw_broker_client_new_on(self->broker, s_send, self, p);
	if (!p->client) {
		free(p);
		return NULL;
	}
	sl_list_push_back(&self->producers, &p->link);
	self->n_producers++;
	SL_INFO("PRD-NEW", "producer=%s producers=%zu", p->name,
	    self->n_producers);
	return p;
}

/* Forget p: its unfinished requests are cancelled by the broker. */
static void
s_producer_destroy(gw_prod_t *self, gw_producer_t **p_p)
{
	gw_producer_t *p = *p_p;

	gw_broker_client_destroy(self->broker, &p->client);
	sl_list_remove(&p->link);
	self->n_producers--;
	free(p);
	*p_p = NULL;
}

/* gw_zmq_frame_cb: one frame from a producer, untrusted bytes. */
static void
s_on_frame(void *user, const uint8_t *rid, size_t rid_len, const void *data,
    size_t len)
{
	gw_prod_t *self = user;
	gw_producer_t *p = s_find(self, rid, rid_len);
	gw_cmsg_t msg;
	gw_cerr_t err;

	/* A producer we failed to reach is talking again (it reconnected):
	 * what it had asked for is gone; it starts afresh. */
	if (p && p->failed)
		s_producer_destroy(self, &p);
	if (!p)
		p = s_producer_new(self, rid, rid_len);
	if (!p) {
		SL_ERR("PRD-ENOMEM", "frame from a new producer dropped");
		return;
	}
	p->last_us = sl_clock_mono_us();
	if (gw_pproto_parse(data, len, self->lim.max_items, &msg, &err)) {
		gw_broker_client_error(self->broker, p->client, &err);
		return;
	}
	gw_broker_on_client_msg(self->broker, p->client, &msg);
	gw_cmsg_clear(&msg);
}

/* The caller's socket setup (CURVE), and ours. */
typedef struct s_setup_arg {
	int (*setup)(void *sock, const void *setup_arg);
	const void *arg;
} s_setup_arg_t;

/* Before bind: a socket option applies to the connections made after it
 * is set, so ZMQ_SNDHWM set later would leave every producer at the
 * default of 1000 frames. Results wait here for a producer that reads
 * late; past this many it counts as not reading (EAGAIN). */
static int
s_setup(void *sock, const void *setup_arg)
{
	const s_setup_arg_t *a = setup_arg;
	int hwm = GW_PROD_SNDHWM;

	if (zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm))
		return -1;
	return a->setup ? a->setup(sock, a->arg) : 0;
}

gw_prod_t *
gw_prod_new(gw_broker_t *broker, void *zctx, const char *endpoint,
    const gw_prod_limits_t *limits,
    int (*setup)(void *sock, const void *setup_arg), const void *setup_arg,
    char *err, size_t errlen)
{
	gw_prod_t *self = calloc(1, sizeof *self);
	s_setup_arg_t arg = { setup, setup_arg };

	if (!self) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	self->broker = broker;
	self->lim = *limits;
	sl_list_init(&self->producers);
	msgpack_sbuffer_init(&self->sb);
	self->zsock = gw_zmq_new_ex(zctx, endpoint, limits->max_frame,
	    s_setup, &arg, s_on_frame, self, err, errlen);
	if (!self->zsock)
		goto fail;
	return self;
fail:
	gw_prod_destroy(&self);
	return NULL;
}

void
gw_prod_set_forward_hist(gw_prod_t *self, gw_hist_t *hist)
{
	self->forward = hist;
}

int
gw_prod_attach(gw_prod_t *self, struct lws_context *ctx, struct lws_vhost *vh)
{
	return gw_zmq_attach(self->zsock, ctx, vh);
}

void
gw_prod_tick(gw_prod_t *self, int64_t now_us)
{
	sl_list_t *e = self->producers.next;

	while (e != &self->producers) {
		gw_producer_t *p = sl_container_of(e, gw_producer_t, link);

		e = e->next;
		if (p->failed) {
			s_producer_destroy(self, &p);
		} else if (self->lim.timeout_us
		    && now_us - p->last_us > self->lim.timeout_us) {
			SL_INFO("PRD-SILENT",
			    "producer=%s silent for %lld ms; forgotten",
			    p->name, (long long) (now_us - p->last_us) / 1000);
			s_producer_destroy(self, &p);
		}
	}
}

size_t
gw_prod_count(const gw_prod_t *self)
{
	return self->n_producers;
}

void
gw_prod_destroy(gw_prod_t **self_p)
{
	gw_prod_t *self = self_p ? *self_p : NULL;
	sl_list_t *e;

	if (!self)
		return;
	while ((e = sl_list_first(&self->producers))) {
		gw_producer_t *p = sl_container_of(e, gw_producer_t, link);

		s_producer_destroy(self, &p);
	}
	gw_zmq_destroy(&self->zsock);
	msgpack_sbuffer_destroy(&self->sb);
	free(self);
	*self_p = NULL;
}
