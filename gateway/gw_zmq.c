/*
 * gw_zmq: a ROUTER socket inside the lws loop (see gw_zmq.h). lws service
 * thread only.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "gw_zmq.h"
#include "sl_err.h"
#include "sl_log.h"

/* Messages taken per loop turn before clients get their turn again. */
#define GW_ZMQ_DRAIN_BUDGET 256

struct gw_zmq {
	void *sock;                 /* the ROUTER */
	struct lws_context *ctx;    /* for scheduling drains */
	struct lws *wsi;            /* raw-file wsi of the dup'd ZMQ_FD */
	lws_sorted_usec_list_t sul; /* deferred drain */
	int drain_pending;          /* sul is scheduled */
	bool
	    owner_settles; /* gw_zmq_settle after each turn, no sul per send */
	bool unsettled;    /* sent since the last drain (owner_settles) */
	gw_zmq_frame_cb cb;
	void *user;
	const char *peer_key;     /* User-Id of the message in cb, or NULL */
	void (*wake)(void *user); /* fd woke: full pipes may have room */
	lws_sorted_usec_list_t wake_sul; /* gw_zmq_wake_after */
	char endpoint[128];              /* for logs */
};

static void s_drain(gw_zmq_t *self);

static void
s_sul_cb(lws_sorted_usec_list_t *sul)
{
	gw_zmq_t *self = lws_container_of(sul, gw_zmq_t, sul);

	self->drain_pending = 0;
	s_drain(self);
}

/* Drain on the next loop turn (never re-enter the callback from here). */
static void
s_kick(gw_zmq_t *self)
{
	if (self->drain_pending || !self->ctx)
		return;
	self->drain_pending = 1;
	lws_sul_schedule(self->ctx, 0, &self->sul, s_sul_cb, 1);
}

/* Discard the rest of a multipart message. */
static void
s_skip_rest(void *sock)
{
	int more;
	size_t sz = sizeof more;
	zmq_msg_t m;

	while (!zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) && more) {
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return;
		}
		zmq_msg_close(&m);
	}
}

/* Receive one [rid, payload] message; 0, or -1 if nothing was waiting. */
static int
s_recv_one(gw_zmq_t *self)
{
	zmq_msg_t rid, body;
	int more = 0;
	size_t sz = sizeof more;

	zmq_msg_init(&rid);
	if (zmq_msg_recv(&rid, self->sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&rid);
		return -1;
	}
	zmq_msg_init(&body);
	zmq_getsockopt(self->sock, ZMQ_RCVMORE, &more, &sz);
	/* The rest of a multipart message is already here: no DONTWAIT
	 * needed, but harmless. A DEALER sends exactly one frame. */
	if (!more || zmq_msg_recv(&body, self->sock, ZMQ_DONTWAIT) < 0) {
		SL_WARN("ZMQ-BADMSG", "endpoint=%s message without payload",
		    self->endpoint);
	} else {
		zmq_getsockopt(self->sock, ZMQ_RCVMORE, &more, &sz);
		if (more) {
			SL_WARN("ZMQ-BADMSG",
			    "endpoint=%s extra frames dropped",
			    self->endpoint);
			s_skip_rest(self->sock);
		} else {
			/* With CURVE, the ZAP handler's User-Id (the peer's
			 * public key) rides on every message: NULL without. */
			self->peer_key = zmq_msg_gets(&body, "User-Id");
			self->cb(self->user, zmq_msg_data(&rid),
			    zmq_msg_size(&rid), zmq_msg_data(&body),
			    zmq_msg_size(&body));
			self->peer_key = NULL;
		}
	}
	zmq_msg_close(&body);
	zmq_msg_close(&rid);
	return 0;
}

/*
 * Take messages until none is waiting. A recv that finds nothing has
 * processed ZeroMQ's pending commands, as ZMQ_EVENTS would: only then may
 * the loop sleep on the fd. Asking ZMQ_EVENTS before every message cost a
 * poll() and a getpid() each (libzmq's signaler); this costs them once.
 */
static void
s_drain(gw_zmq_t *self)
{
	self->unsettled = false;
	for (int budget = GW_ZMQ_DRAIN_BUDGET; budget; budget--)
		if (s_recv_one(self))
			return;
	/* No new edge will come for what is left: come back after the loop
	 * has served everybody else. */
	s_kick(self);
}

gw_zmq_t *
gw_zmq_new(void *zctx, const char *endpoint, int64_t max_msg,
    gw_zmq_frame_cb cb, void *user, char *err, size_t errlen)
{
	return gw_zmq_new_ex(
	    zctx, endpoint, max_msg, NULL, NULL, cb, user, err, errlen);
}

gw_zmq_t *
gw_zmq_new_ex(void *zctx, const char *endpoint, int64_t max_msg,
    int (*setup)(void *sock, const void *setup_arg), const void *setup_arg,
    gw_zmq_frame_cb cb, void *user, char *err, size_t errlen)
{
	gw_zmq_t *self = calloc(1, sizeof *self);
	int one = 1, zero = 0, curve = 0;
	size_t sz = sizeof curve;

	if (!self) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	self->cb = cb;
	self->user = user;
	snprintf(self->endpoint, sizeof self->endpoint, "%s", endpoint);
	self->sock = zmq_socket(zctx, ZMQ_ROUTER);
	if (!self->sock)
		goto fail;
	/* MANDATORY: a send to a vanished peer fails (EHOSTUNREACH) instead
	 * of vanishing silently. */
	if (zmq_setsockopt(self->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one)
	    || zmq_setsockopt(self->sock, ZMQ_LINGER, &zero, sizeof zero)
	    || zmq_setsockopt(
	        self->sock, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg))
		goto fail;
	if (setup && setup(self->sock, setup_arg))
		goto fail;
	/* HANDOVER lets a restarted peer reusing its routing id take over
	 * from its dead predecessor, but also lets anyone who knows an id
	 * take over a live peer's traffic. With CURVE, ids are bound to keys
	 * (gw_zmq_peer_key) and a second connection under a live id is left
	 * unheard by ZeroMQ instead; without CURVE the endpoint is open to
	 * anyone anyway (docs/SECURITY.md). */
	if (zmq_getsockopt(self->sock, ZMQ_CURVE_SERVER, &curve, &sz))
		goto fail;
	if (!curve
	    && zmq_setsockopt(
	        self->sock, ZMQ_ROUTER_HANDOVER, &one, sizeof one))
		goto fail;
	if (zmq_bind(self->sock, endpoint))
		goto fail;
	return self;
fail:
	snprintf(err, errlen, "zmq ROUTER on %s: %s", endpoint,
	    zmq_strerror(errno));
	gw_zmq_destroy(&self);
	return NULL;
}

int
gw_zmq_attach(gw_zmq_t *self, struct lws_context *ctx, struct lws_vhost *vh)
{
	lws_sock_file_fd_type fd;
	int zfd;
	size_t sz = sizeof zfd;

	if (zmq_getsockopt(self->sock, ZMQ_FD, &zfd, &sz))
		return SL_ESYS;
	/* lws closes what it adopts; ZeroMQ must keep its own fd. */
	fd.filefd = dup(zfd);
	if (fd.filefd < 0)
		return SL_ESYS;
	self->wsi = lws_adopt_descriptor_vhost(
	    vh, LWS_ADOPT_RAW_FILE_DESC, fd, "zmq", NULL);
	if (!self->wsi) {
		close(fd.filefd);
		return SL_ESYS;
	}
	lws_set_opaque_user_data(self->wsi, self);
	self->ctx = ctx;
	/* Messages that arrived before adoption raise no new edge. */
	s_kick(self);
	return 0;
}

int
gw_zmq_send(gw_zmq_t *self, const uint8_t *rid, size_t rid_len,
    const void *data, size_t len)
{
	int rc = 0;

	if (zmq_send(self->sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
	    || zmq_send(self->sock, data, len, ZMQ_DONTWAIT) < 0)
		rc = errno == EHOSTUNREACH ? SL_ENOTFOUND
		    : errno == EAGAIN      ? SL_EFULL
		                           : SL_ESYS;
	/* A send may have consumed the edge that announced input. */
	if (self->owner_settles)
		self->unsettled = true;
	else
		s_kick(self);
	return rc;
}

void
gw_zmq_set_owner_settles(gw_zmq_t *self)
{
	self->owner_settles = true;
}

bool
gw_zmq_settle(gw_zmq_t *self, bool last)
{
	if (!self->unsettled || !self->ctx)
		return false;
	if (last) {
		self->unsettled = false;
		s_kick(self); /* the loop must not sleep on a consumed edge */
		return false;
	}
	s_drain(self);
	return true;
}

void
gw_zmq_set_wake(gw_zmq_t *self, void (*wake)(void *user))
{
	self->wake = wake;
}

static void
s_wake_cb(lws_sorted_usec_list_t *sul)
{
	gw_zmq_t *self = lws_container_of(sul, gw_zmq_t, wake_sul);

	if (self->wake)
		self->wake(self->user);
}

void
gw_zmq_wake_after(gw_zmq_t *self, int64_t us)
{
	if (self->ctx)
		lws_sul_schedule(self->ctx, 0, &self->wake_sul, s_wake_cb, us);
}

void
gw_zmq_destroy(gw_zmq_t **self_p)
{
	gw_zmq_t *self = self_p ? *self_p : NULL;

	if (!self)
		return;
	if (self->sock)
		zmq_close(self->sock);
	free(self);
	*self_p = NULL;
}

int
gw_zmq_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	gw_zmq_t *self = lws_get_opaque_user_data(wsi);

	(void) user;
	(void) in;
	(void) len;
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return -1; /* no WebSocket may ask for this protocol */
	case LWS_CALLBACK_RAW_RX_FILE:
		if (!self)
			return 0;
		s_drain(self);
		/* The fd also wakes when a peer's pipe gets room again (the
		 * drain's ZMQ_EVENTS processed that command): retry there. */
		if (self->wake)
			self->wake(self->user);
		return 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		/* At context destroy: leave the loop before it goes away. */
		if (self) {
			lws_sul_cancel(&self->sul);
			lws_sul_cancel(&self->wake_sul);
			self->drain_pending = 0;
			self->ctx = NULL;
			self->wsi = NULL;
		}
		return 0;
	default:
		return 0;
	}
}

const char *
gw_zmq_peer_key(const gw_zmq_t *self)
{
	return self->peer_key;
}

void *
gw_zmq_socket(gw_zmq_t *self)
{
	return self->sock;
}
