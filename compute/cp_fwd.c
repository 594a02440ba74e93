/*
 * cp_fwd: the pool's frames forwarded to their links (see cp_fwd.h). The
 * I/O thread only.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "cp_fwd.h"
#include "cp_stream.h"
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
	if (zmq_msg_send(m, l->dealer, ZMQ_DONTWAIT) < 0) {
		if (errno == EAGAIN)
			return EAGAIN;
		SL_INFO("IO-SEND", "result dropped: %s", zmq_strerror(errno));
		zmq_msg_close(m);
		return 0;
	}
	if (!stream) {
		if (l->held)
			l->held--;
		f->results++;
	}
	return 0;
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
	if (f->has_stalled && s_retry(f, gws, now_us))
		return;
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
