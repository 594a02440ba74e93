/*
 * cp_link: a worker's connection to one gateway (see cp_link.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "cp_link.h"
#include "sl_err.h"

cp_link_t *
cp_link_new(const char *endpoint)
{
	cp_link_t *self;

	if (strlen(endpoint) >= sizeof self->endpoint)
		return NULL;
	self = calloc(1, sizeof *self);
	if (!self)
		return NULL;
	strcpy(self->endpoint, endpoint);
	sl_batch_init(&self->out);
	self->backoff_us = CP_LINK_BACKOFF_MIN_US;
	return self;
}

void
cp_link_destroy(cp_link_t **self_p)
{
	cp_link_t *self = *self_p;

	if (!self)
		return;
	if (self->dealer) /* LINGER (1 s) lets a last BYE leave */
		zmq_close(self->dealer);
	sl_batch_destroy(&self->out);
	free(self);
	*self_p = NULL;
}

int
cp_link_open(cp_link_t *self, void *zctx, const cp_link_opts_t *o,
    uint64_t gen, int64_t now)
{
	int linger = 1000, ivl = 100, ivl_max = 5000, one = 1;

	self->dealer = zmq_socket(zctx, ZMQ_DEALER);
	if (!self->dealer)
		return SL_ESYS;
	/* LINGER: give BYE a second to leave at shutdown. RECONNECT: back
	 * off from 100 ms to 5 s while the gateway is away. IPV6: a name may
	 * resolve to v6 addresses. Messages queue until connected, so READY
	 * reaches a gateway that starts later. */
	if (zmq_setsockopt(self->dealer, ZMQ_ROUTING_ID, o->id, strlen(o->id))
	    || zmq_setsockopt(self->dealer, ZMQ_LINGER, &linger, sizeof linger)
	    || zmq_setsockopt(
	        self->dealer, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl)
	    || zmq_setsockopt(
	        self->dealer, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max)
	    || zmq_setsockopt(self->dealer, ZMQ_IPV6, &one, sizeof one)
	    || (o->curve_server_key
	        && sl_curve_client_setup(
	            self->dealer, o->curve_server_key, o->curve))
	    || zmq_connect(self->dealer, self->endpoint)) {
		int saved = errno;

		cp_link_close(self, o, 0, now);
		errno = saved;
		return SL_ESYS;
	}
	self->gen = gen;
	self->expiry = now + o->hb_ivl_us * (int64_t) o->hb_liveness;
	self->next_ping = now + o->hb_ivl_us;
	self->seen = self->registered = self->credit = false;
	self->progress = self->batch = false;
	self->held = self->window = 0;
	return 0;
}

void
cp_link_close(
    cp_link_t *self, const cp_link_opts_t *o, unsigned rnd, int64_t now)
{
	int zero = 0;

	if (self->dealer) {
		zmq_setsockopt(self->dealer, ZMQ_LINGER, &zero, sizeof zero);
		zmq_close(self->dealer);
		self->dealer = NULL;
	}
	self->gen = 0;
	self->seen = self->registered = self->credit = false;
	self->progress = self->batch = false;
	self->held = 0;
	sl_batch_clear(&self->out); /* unsent, as the socket's own queue */
	self->reopen_at = now + cp_link_backoff_jitter(self->backoff_us, rnd);
	self->backoff_us
	    = cp_link_backoff_next(self->backoff_us, o->backoff_max_us);
	self->reconnects++;
}

int
cp_link_send(cp_link_t *self, const void *data, size_t len)
{
	if (!self->dealer) {
		errno = ENOTCONN;
		return SL_ESYS;
	}
	if (zmq_send(self->dealer, data, len, ZMQ_DONTWAIT) < 0)
		return SL_ESYS;
	return 0;
}

int
cp_link_queue(cp_link_t *self, const void *data, size_t len)
{
	int rc = 0;

	if (!self->batch)
		return cp_link_send(self, data, len);
	if (!sl_batch_fits(&self->out, len))
		rc = cp_link_flush(self);
	/* Out of memory for the copy: this one goes alone, in order. */
	if (sl_batch_add(&self->out, data, len)) {
		rc = cp_link_flush(self);
		return cp_link_send(self, data, len) ? SL_ESYS : rc;
	}
	return rc;
}

int
cp_link_batching(cp_link_t *self)
{
	msgpack_sbuffer sb;
	int rc;

	if (self->batch)
		return 0;
	self->batch = true;
	msgpack_sbuffer_init(&sb);
	rc = sl_batch_encode_empty(&sb) ? SL_ENOMEM
	                                : cp_link_send(self, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

int
cp_link_flush(cp_link_t *self)
{
	const void *data;
	size_t len;
	int rc;

	if (!sl_batch_count(&self->out))
		return 0;
	sl_batch_frame(&self->out, &data, &len);
	rc = cp_link_send(self, data, len);
	sl_batch_clear(&self->out);
	return rc;
}

void
cp_link_heard(cp_link_t *self, const cp_link_opts_t *o, int64_t now)
{
	self->expiry = now + o->hb_ivl_us * (int64_t) o->hb_liveness;
	self->backoff_us = CP_LINK_BACKOFF_MIN_US;
	self->seen = self->ever = true;
}

bool
cp_link_silent(const cp_link_t *self, int64_t now)
{
	return self->dealer && now >= self->expiry;
}

bool
cp_link_due(const cp_link_t *self, int64_t now)
{
	return !self->dealer && now >= self->reopen_at;
}

int64_t
cp_link_next_event(const cp_link_t *self)
{
	if (!self->dealer)
		return self->reopen_at;
	return self->next_ping < self->expiry ? self->next_ping : self->expiry;
}

int64_t
cp_link_backoff_jitter(int64_t backoff_us, unsigned rnd)
{
	return backoff_us * (80 + rnd % 41) / 100;
}

int64_t
cp_link_backoff_next(int64_t backoff_us, int64_t max_us)
{
	return backoff_us * 2 > max_us ? max_us : backoff_us * 2;
}
