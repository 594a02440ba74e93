/*
 * gw_prod: producers on their own ZeroMQ ROUTER, each one a broker client
 * (see gw_prod.h). lws service thread only.
 *
 * Producers are found by routing id on a list: lookups are linear, which
 * is fine for the tens of producers this is for (a hash table is the
 * next step if that ever changes).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "gw_peer.h"
#include "gw_pproto.h"
#include "gw_prod.h"
#include "gw_zmq.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_list.h"
#include "sl_log.h"
#include "sl_proto.h"
#include "sl_zap.h"

/* One encoded frame waiting for its producer's pipe to have room. */
typedef struct gw_pframe {
	sl_list_t link; /* in producer->out */
	int64_t
	    t_item_us; /* an item frame's hand-over by the broker; 0: other */
	size_t len;
	uint8_t data[];
} gw_pframe_t;

typedef struct gw_producer {
	gw_peer_t peer;      /* routing id, bound key, label; link in prod */
	gw_client_t *client; /* its broker client */
	int64_t last_us;     /* monotonic, last frame from it */
	bool failed;         /* gone or cut: forget it on the next tick */
	sl_list_t out;       /* gw_pframe_t that ZeroMQ had no room for */
	size_t out_bytes;    /* their bytes */
	bool paused;         /* we hold its jobs back: out_bytes was high */
} gw_producer_t;

struct gw_prod {
	gw_broker_t *broker;  /* borrowed; outlives us */
	gw_zmq_t *zsock;      /* the producers ROUTER */
	gw_prod_limits_t lim; /* copied */
	sl_list_t producers;  /* gw_producer_t */
	size_t n_producers;
	uint64_t next_label; /* of the next producer: p1, p2... */
	msgpack_sbuffer sb;  /* scratch for encoding, reused */
	size_t n_backlogged; /* producers with queued frames */
	int64_t retry_us;    /* next retry of queued frames (backoff) */
	gw_prod_stats_t st;
	gw_hist_t *forward; /* borrowed, NULL: item frames are not timed */
};

/* An item frame (t_item_us: when the broker handed it over; 0: another
 * frame) is now ZeroMQ's: out of the gateway, for the forward delay. */
static void
s_forwarded(gw_prod_t *self, int64_t t_item_us)
{
	if (t_item_us && self->forward)
		gw_hist_observe_us(
		    self->forward, sl_clock_mono_us() - t_item_us);
}

/* Drop p's queue (it is gone, cut or forgotten). */
static void
s_out_clear(gw_prod_t *self, gw_producer_t *p)
{
	sl_list_t *e;

	if (sl_list_empty(&p->out))
		return;
	while ((e = sl_list_first(&p->out))) {
		sl_list_remove(e);
		free(sl_container_of(e, gw_pframe_t, link));
	}
	self->st.queued_bytes -= p->out_bytes;
	p->out_bytes = 0;
	self->n_backlogged--;
}

/* p could not be reached: forget it on the next tick (we may be inside a
 * broker call), and let none of its jobs start meanwhile. */
static void
s_fail(gw_prod_t *self, gw_producer_t *p)
{
	s_out_clear(self, p);
	p->failed = true;
	gw_broker_client_pause(self->broker, p->client, true);
}

/* A send's outcome other than success: gone (EHOSTUNREACH) or another
 * error fails p; SL_EFULL is for the caller to queue. */
static void
s_send_failed(gw_prod_t *self, gw_producer_t *p, int rc)
{
	SL_INFO("PRD-GONE", "producer=%s reason=%s", p->peer.name,
	    rc == SL_ENOTFOUND ? "disconnected" : sl_strerror(rc));
	s_fail(self, p);
}

/*
 * Hand p's queued frames to ZeroMQ until its pipe is full again. With
 * may_resume (never from inside a broker call: resuming dispatches), a
 * producer whose queue went below a quarter of the cap gets its jobs
 * dispatched again.
 */
static size_t
s_flush(gw_prod_t *self, gw_producer_t *p, bool may_resume)
{
	size_t sent = 0;
	sl_list_t *e;

	while (!p->failed && (e = sl_list_first(&p->out))) {
		gw_pframe_t *f = sl_container_of(e, gw_pframe_t, link);
		int rc = gw_zmq_send(self->zsock, p->peer.rid, p->peer.rid_len,
		    f->data, f->len);

		if (rc == SL_EFULL)
			break;
		if (rc) {
			s_send_failed(self, p, rc);
			return sent;
		}
		sent++;
		sl_list_remove(e);
		p->out_bytes -= f->len;
		self->st.queued_bytes -= f->len;
		s_forwarded(self, f->t_item_us);
		free(f);
		if (sl_list_empty(&p->out))
			self->n_backlogged--;
	}
	if (may_resume && p->paused && !p->failed
	    && p->out_bytes <= self->lim.max_out_bytes / 4) {
		p->paused = false;
		gw_broker_client_pause(self->broker, p->client, false);
	}
	return sent;
}

/*
 * Retry every producer with queued frames; keep retrying while any has.
 * The fd's wake-up cannot be relied on: the command that says a pipe has
 * room is often taken by our own next ZeroMQ call. So: while retries move
 * frames, retry on the next loop turn; when one moves nothing, back off
 * (GW_PROD_RETRY_MIN_US, doubling up to GW_PROD_RETRY_MAX_US), so that a
 * producer that does not read costs a few wake-ups a second. A paused
 * producer is visited even with an empty queue: s_send may have emptied
 * it from inside a broker call, where it could not resume it.
 */
static void
s_flush_all(gw_prod_t *self)
{
	size_t sent = 0;

	for (sl_list_t *e = self->producers.next; e != &self->producers;
	     e = e->next) {
		gw_producer_t *p
		    = sl_container_of(e, gw_producer_t, peer.link);

		if (!sl_list_empty(&p->out) || p->paused)
			sent += s_flush(self, p, true);
	}
	if (!self->n_backlogged)
		return;
	if (sent)
		self->retry_us = 0;
	else if (self->retry_us < GW_PROD_RETRY_MIN_US)
		self->retry_us = GW_PROD_RETRY_MIN_US;
	else if (self->retry_us < GW_PROD_RETRY_MAX_US)
		self->retry_us *= 2;
	gw_zmq_wake_after(self->zsock, self->retry_us ? self->retry_us : 1);
}

/* gw_zmq's wake (fd or retry timer): some pipe may have room again. */
static void
s_wake(void *user)
{
	s_flush_all(user);
}

/* Keep a copy of the frame for p; cut p if its queue passes the cap.
 * Inside a broker call: may pause p, never resume it. */
static int
s_enqueue(gw_prod_t *self, gw_producer_t *p, const void *data, size_t len,
    int64_t t_item_us)
{
	gw_pframe_t *f = malloc(sizeof *f + len);

	if (!f) {
		SL_ERR("PRD-ENOMEM", "producer=%s frame dropped; cut",
		    p->peer.name);
		s_fail(self, p);
		return -1;
	}
	f->len = len;
	f->t_item_us = t_item_us;
	memcpy(f->data, data, len);
	if (sl_list_empty(&p->out)) {
		self->n_backlogged++;
		self->retry_us = GW_PROD_RETRY_MIN_US;
		gw_zmq_wake_after(self->zsock, self->retry_us);
	}
	sl_list_push_back(&p->out, &f->link);
	p->out_bytes += len;
	self->st.queued_bytes += len;
	if (p->out_bytes > self->lim.max_out_bytes) {
		/* It asks (pings, submits) faster than it reads: results
		 * are held back already, so only its own requests fill
		 * this. Bounded memory beats keeping it. */
		SL_WARN("PRD-SLOW",
		    "producer=%s queued=%zu bytes over "
		    "--max-producer-out-bytes=%zu; cut",
		    p->peer.name, p->out_bytes, self->lim.max_out_bytes);
		self->st.slow_cut++;
		s_fail(self, p);
		return -1;
	}
	if (!p->paused && p->out_bytes > self->lim.max_out_bytes / 2) {
		p->paused = true;
		gw_broker_client_pause(self->broker, p->client, true);
	}
	return 0;
}

/* gw_broker_send_fn: one frame to one producer, as msgpack; in order
 * behind anything still queued for it. */
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
	/* Progress only to a producer that keeps up (nothing queued beyond
	 * what ZeroMQ holds): dropped first, never queued. */
	if (frame->type == GW_OUT_PROGRESS && !sl_list_empty(&p->out)) {
		self->st.progress_dropped++;
		return 0;
	}
	msgpack_sbuffer_clear(&self->sb);
	rc = gw_pproto_encode(frame, &self->sb);
	if (rc) {
		SL_ERR("PRD-ENCODE", "producer=%s frame dropped: %s",
		    p->peer.name, sl_strerror(rc));
		return -1;
	}
	if (!sl_list_empty(&p->out))
		s_flush(self, p, false);
	if (p->failed)
		return -1;
	if (!sl_list_empty(&p->out))
		return s_enqueue(self, p, self->sb.data, self->sb.size, t0);
	rc = gw_zmq_send(self->zsock, p->peer.rid, p->peer.rid_len,
	    self->sb.data, self->sb.size);
	if (rc == SL_EFULL)
		return s_enqueue(self, p, self->sb.data, self->sb.size, t0);
	if (rc) {
		s_send_failed(self, p, rc);
		return -1;
	}
	s_forwarded(self, t0);
	return 0;
}

static gw_producer_t *
s_find(gw_prod_t *self, const uint8_t *rid, size_t rid_len)
{
	gw_peer_t *p = gw_peer_find(&self->producers, rid, rid_len);

	return p ? sl_container_of(p, gw_producer_t, peer) : NULL;
}

static gw_producer_t *
s_producer_new(
    gw_prod_t *self, const uint8_t *rid, size_t rid_len, const char *key)
{
	gw_producer_t *p;
	char id[48];

	p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	if (gw_peer_init(
	        &p->peer, rid, rid_len, key, 'p', &self->next_label)) {
		free(p);
		return NULL;
	}
	sl_list_init(&p->out);
	p->client = gw_broker_client_new_on(self->broker, s_send, self, p);
	if (!p->client) {
		free(p);
		return NULL;
	}
	sl_list_push_back(&self->producers, &p->peer.link);
	self->n_producers++;
	SL_INFO("PRD-NEW", "producer=%s producers=%zu", p->peer.name,
	    self->n_producers);
	if (SL_LOG_DEBUG <= sl_log_level()) {
		sl_proto_rid_name(rid, rid_len, id, sizeof id);
		SL_DEBUG("PRD-ID", "producer=%s id=%s key=%.8s", p->peer.name,
		    id, p->peer.key[0] ? p->peer.key : "-");
	}
	return p;
}

/* Forget p: its unfinished requests are cancelled by the broker. */
static void
s_producer_destroy(gw_prod_t *self, gw_producer_t **p_p)
{
	gw_producer_t *p = *p_p;

	gw_broker_client_destroy(self->broker, &p->client);
	s_out_clear(self, p);
	sl_list_remove(&p->peer.link);
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
	const char *key = gw_zmq_peer_key(self->zsock);
	gw_cmsg_t msg;
	gw_cmsg_err_t err;

	/* A routing id is bound to the CURVE key its first frame came with.
	 * Another key under it: ZeroMQ (no HANDOVER with CURVE) routes the
	 * id to a new connection only once the producer's own is gone, so
	 * the producer is forgotten (its requests cancelled: its results
	 * would reach the newcomer) and the frame dropped. */
	if (p && !gw_peer_key_is(&p->peer, key)) {
		SL_WARN("PRD-HIJACK",
		    "producer=%s: a frame under its routing id from another "
		    "CURVE key (%.8s...), dropped; its requests are cancelled",
		    p->peer.name, key ? key : "-");
		self->st.hijacks++;
		s_producer_destroy(self, &p);
		return;
	}
	/* A producer we failed to reach is talking again (it reconnected):
	 * what it had asked for is gone; it starts afresh. */
	if (p && p->failed)
		s_producer_destroy(self, &p);
	if (!p)
		p = s_producer_new(self, rid, rid_len, key);
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
 * is set. Both directions hold few frames: ZeroMQ counts frames, not
 * bytes, so at its default of 1000 frames of up to 1 MiB one producer
 * could make it hold a gigabyte. Output that does not fit (EAGAIN) waits
 * in our own queue, counted in bytes; input waits in the producer's TCP
 * buffers until we read it. */
static int
s_setup(void *sock, const void *setup_arg)
{
	const s_setup_arg_t *a = setup_arg;
	int sndhwm = GW_PROD_SNDHWM, rcvhwm = GW_PROD_RCVHWM;

	if (zmq_setsockopt(sock, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm)
	    || zmq_setsockopt(sock, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm))
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
	self->zsock = gw_zmq_new_ex(zctx, endpoint, limits->max_frame, s_setup,
	    &arg, s_on_frame, self, err, errlen);
	if (!self->zsock)
		goto fail;
	gw_zmq_set_wake(self->zsock, s_wake);
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
gw_prod_set_owner_settles(gw_prod_t *self)
{
	gw_zmq_set_owner_settles(self->zsock);
}

bool
gw_prod_settle(gw_prod_t *self, bool last)
{
	return gw_zmq_settle(self->zsock, last);
}

void
gw_prod_tick(gw_prod_t *self, int64_t now_us)
{
	sl_list_t *e;

	s_flush_all(self);
	e = self->producers.next;
	while (e != &self->producers) {
		gw_producer_t *p
		    = sl_container_of(e, gw_producer_t, peer.link);

		e = e->next;
		if (p->failed) {
			s_producer_destroy(self, &p);
		} else if (self->lim.timeout_us
		    && now_us - p->last_us > self->lim.timeout_us) {
			SL_INFO("PRD-SILENT",
			    "producer=%s silent for %lld ms; forgotten",
			    p->peer.name,
			    (long long) (now_us - p->last_us) / 1000);
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
gw_prod_stats(const gw_prod_t *self, gw_prod_stats_t *out)
{
	static const gw_prod_stats_t none = { 0 };

	*out = self ? self->st : none;
}

void
gw_prod_destroy(gw_prod_t **self_p)
{
	gw_prod_t *self = self_p ? *self_p : NULL;
	sl_list_t *e;

	if (!self)
		return;
	while ((e = sl_list_first(&self->producers))) {
		gw_producer_t *p
		    = sl_container_of(e, gw_producer_t, peer.link);

		s_producer_destroy(self, &p);
	}
	gw_zmq_destroy(&self->zsock);
	msgpack_sbuffer_destroy(&self->sb);
	free(self);
	*self_p = NULL;
}
