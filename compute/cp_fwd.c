/*
 * cp_fwd: the pool's frames forwarded to their links (see cp_fwd.h). The
 * I/O thread only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "cp_fwd.h"
#include "sl_batch.h"
#include "sl_log.h"

void
cp_fwd_init(cp_fwd_t *f, cp_results_t *res)
{
	memset(f, 0, sizeof *f);
	f->res = res;
}

void
cp_fwd_fini(cp_fwd_t *f)
{
	cp_result_free_all(f->pending);
	f->pending = NULL;
	f->has_stalled = false;
}

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
 * Send r on the link of its generation (queued into its BATCH when the
 * gateway takes them: cp_link_queue): 0 when it is gone (sent, or
 * dropped: a result of a job whose connection is gone, which that gateway
 * requeued when we left; a stream frame for a gateway that does not take
 * them), or EAGAIN when the link's queue is full (r is still the
 * caller's).
 */
static int
s_send(cp_fwd_t *f, cp_gws_t *gws, const cp_result_t *r)
{
	cp_link_t *l = cp_gws_of_gen(gws, r->gen);

	if (!l || (r->stream && !l->progress)) {
		if (!r->stream) {
			f->old++;
			SL_INFO("JOB-OLD",
			    "a result of connection %" PRIu64 " dropped",
			    r->gen);
		}
		return 0;
	}
	/* Only a frame that makes the link send asks its socket: one that
	 * joins the link's BATCH costs no ZeroMQ call. */
	if ((!l->batch || !sl_batch_fits(&l->out, r->len)) && !s_writable(l))
		return EAGAIN;
	if (cp_link_queue(l, r->data, r->len))
		SL_INFO("IO-SEND", "%s dropped: %s",
		    r->stream ? "stream frame" : "result",
		    zmq_strerror(errno));
	if (!r->stream) {
		if (l->held)
			l->held--;
		f->results++;
	}
	return 0;
}

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

/* The first pending frame could not leave: note since when; after
 * CP_FWD_STALL_US drop it (true: it is gone, carry on). */
static bool
s_stalled(cp_fwd_t *f, int64_t now_us)
{
	const cp_result_t *r = f->pending;

	if (!f->has_stalled) {
		f->has_stalled = true;
		f->stalled_us = now_us;
		f->stalls++;
		return false;
	}
	if (now_us - f->stalled_us < CP_FWD_STALL_US)
		return false;
	SL_WARN("IO-SEND",
	    "a %s for connection %" PRIu64 " dropped: its gateway took "
	    "nothing for %d s",
	    r->stream ? "stream frame" : "result", r->gen,
	    CP_FWD_STALL_US / 1000000);
	return true;
}

bool
cp_fwd_run(cp_fwd_t *f, cp_gws_t *gws, int batch, int64_t now_us)
{
	/* Take from the pool only once all taken before has left: while a
	 * link is full, the results list fills and the threads block. */
	if (!f->pending)
		f->pending = cp_results_take(f->res);
	for (int i = 0; f->pending && i < batch; i++) {
		cp_result_t *r = f->pending;

		if (s_send(f, gws, r) == EAGAIN && !s_stalled(f, now_us))
			break;
		f->has_stalled = false;
		f->pending = r->next;
		free(r);
	}
	/* All taken (or a link is full): each gateway's leave together
	 * now, never waiting. */
	f->unflushed = s_flush(gws);
	return f->pending && !f->has_stalled;
}

void *
cp_fwd_waiting_on(cp_fwd_t *f, cp_gws_t *gws)
{
	cp_link_t *l;

	if (!f->has_stalled)
		return NULL;
	l = cp_gws_of_gen(gws, f->pending->gen);
	if (l && l->dealer)
		return l->dealer;
	/* Its link is gone: the next run drops the frame. */
	return NULL;
}
