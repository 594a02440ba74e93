/*
 * cp_fwd: the pool's frames forwarded to their links (see cp_fwd.h). The
 * I/O thread only.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "cp_fwd.h"
#include "cp_stream.h"
#include "sl_batch.h"
#include "sl_log.h"

void
cp_fwd_init(cp_fwd_t *f, void *pull)
{
	memset(f, 0, sizeof *f);
	f->pull = pull;
}

void
cp_fwd_fini(cp_fwd_t *f)
{
	if (f->has_stalled)
		zmq_msg_close(&f->stalled);
	f->has_stalled = false;
}

/*
 * Take one frame from the pool: its job's connection generation, whether
 * it is a stream frame (PROGRESS, PARTIAL: cp_stream.h) rather than a
 * RESULT, and the frame in *m (initialised here; the caller closes it).
 * 0, or -1 if none was waiting.
 */
static int
s_recv(cp_fwd_t *f, uint64_t *gen, bool *stream, zmq_msg_t *m)
{
	const uint8_t *head;

	zmq_msg_init(m);
	if (zmq_msg_recv(m, f->pull, ZMQ_DONTWAIT) < 0)
		return -1;
	*gen = 0; /* never current: a malformed pair is dropped */
	head = zmq_msg_data(m);
	*stream = zmq_msg_size(m) == CP_STREAM_HEAD_LEN
	    && head[sizeof *gen] == CP_STREAM_MARK;
	if (zmq_msg_size(m) == sizeof *gen || *stream)
		memcpy(gen, head, sizeof *gen);
	/* The frame follows at once: inproc multipart is atomic. */
	while (zmq_msg_more(m)) {
		zmq_msg_close(m);
		zmq_msg_init(m);
		if (zmq_msg_recv(m, f->pull, ZMQ_DONTWAIT) < 0)
			return -1;
	}
	return 0;
}

/*
 * Send m on the link of generation gen: 0 when it is gone (sent, or
 * dropped: a result of a job whose connection is gone, which that gateway
 * requeued when we left; a stream frame for a gateway that does not take
 * them), or EAGAIN when the link's queue is full (m is still the
 * caller's).
 */
/* Can l's DEALER take one more message now (its queue under the
 * high-water mark)? */
static bool
s_writable(cp_link_t *l)
{
	int events = 0;
	size_t len = sizeof events;

	return !zmq_getsockopt(l->dealer, ZMQ_EVENTS, &events, &len)
	    && (events & ZMQ_POLLOUT);
}

/*
 * Send m on the link of generation gen (queued into its BATCH when the
 * gateway takes them: cp_link_queue): 0 when it is gone (sent, or
 * dropped: a result of a job whose connection is gone, which that gateway
 * requeued when we left; a stream frame for a gateway that does not take
 * them), or EAGAIN when the link's queue is full (m is still the
 * caller's).
 */
static int
s_send(cp_fwd_t *f, cp_gws_t *gws, uint64_t gen, bool stream, zmq_msg_t *m)
{
	cp_link_t *l = cp_gws_of_gen(gws, gen);

	if (!l || (stream && !l->progress)) {
		if (!stream) {
			f->old++;
			SL_INFO("JOB-OLD",
			    "a result of connection %" PRIu64 " dropped", gen);
		}
		zmq_msg_close(m);
		return 0;
	}
	if (!s_writable(l))
		return EAGAIN;
	if (cp_link_queue(l, zmq_msg_data(m), zmq_msg_size(m)))
		SL_INFO("IO-SEND", "%s dropped: %s",
		    stream ? "stream frame" : "result", zmq_strerror(errno));
	zmq_msg_close(m);
	if (!stream) {
		if (l->held)
			l->held--;
		f->results++;
	}
	return 0;
}

static void s_forward(cp_fwd_t *f, cp_gws_t *gws, int batch, int64_t now_us);

/* What is queued for each gateway leaves now, one BATCH each; a link
 * that cannot take it now keeps it for a later run: true then. */
static bool
s_flush(cp_gws_t *gws)
{
	bool left = false;

	for (size_t i = 0; i < gws->n; i++) {
		cp_link_t *l = gws->links[i];

		if (!l->dealer || !sl_batch_count(&l->out))
			continue;
		if (!s_writable(l)) {
			left = true;
			continue;
		}
		if (cp_link_flush(l))
			SL_INFO("IO-SEND", "results dropped: %s",
			    zmq_strerror(errno));
	}
	return left;
}

/* The stalled frame: sent, still waiting (true), or dropped after
 * CP_FWD_STALL_US. */
static bool
s_retry(cp_fwd_t *f, cp_gws_t *gws, int64_t now_us)
{
	if (s_send(f, gws, f->stalled_gen, f->stalled_stream, &f->stalled)
	    != EAGAIN) {
		f->has_stalled = false;
		return false;
	}
	if (now_us - f->stalled_us < CP_FWD_STALL_US)
		return true;
	SL_WARN("IO-SEND",
	    "a %s for connection %" PRIu64 " dropped: its gateway took "
	    "nothing for %d s",
	    f->stalled_stream ? "stream frame" : "result", f->stalled_gen,
	    CP_FWD_STALL_US / 1000000);
	zmq_msg_close(&f->stalled);
	f->has_stalled = false;
	return false;
}

void
cp_fwd_run(cp_fwd_t *f, cp_gws_t *gws, int batch, int64_t now_us)
{
	if (!f->has_stalled || !s_retry(f, gws, now_us))
		s_forward(f, gws, batch, now_us);
	/* All taken (or a link is full): each gateway's leave together
	 * now, never waiting. */
	f->unflushed = s_flush(gws);
}

/* Take up to batch frames from the pool; stop at the first whose link
 * is full, keeping it as the stalled one. */
static void
s_forward(cp_fwd_t *f, cp_gws_t *gws, int batch, int64_t now_us)
{
	for (int i = 0; i < batch; i++) {
		uint64_t gen;
		bool stream;
		zmq_msg_t m;

		if (s_recv(f, &gen, &stream, &m)) {
			zmq_msg_close(&m);
			return;
		}
		if (s_send(f, gws, gen, stream, &m) == EAGAIN) {
			/* Stop taking from the pool until it leaves. */
			zmq_msg_init(&f->stalled);
			zmq_msg_move(&f->stalled, &m);
			zmq_msg_close(&m);
			f->has_stalled = true;
			f->stalled_stream = stream;
			f->stalled_gen = gen;
			f->stalled_us = now_us;
			f->stalls++;
			return;
		}
	}
}

void *
cp_fwd_waiting_on(cp_fwd_t *f, cp_gws_t *gws)
{
	cp_link_t *l;

	if (!f->has_stalled)
		return NULL;
	l = cp_gws_of_gen(gws, f->stalled_gen);
	if (l && l->dealer)
		return l->dealer;
	/* Its link is gone: the next run drops the frame. */
	return NULL;
}
