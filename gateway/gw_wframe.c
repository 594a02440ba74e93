/*
 * gw_wframe: frames from workers (see gw_wframe.h).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "gw_pproto.h"
#include "gw_wframe.h"
#include "gw_workers_int.h"
#include "gw_wres.h"
#include "sl_batch.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_log.h"

/* The job w holds under id, or NULL (counted and logged): a duplicate,
 * or the job was requeued and someone else has it. Never forward twice. */
static gw_workers_job_t *
s_held(gw_workers_t *self, gw_worker_t *w, uint64_t id)
{
	for (sl_list_t *e = w->jobs.next; e != &w->jobs; e = e->next) {
		gw_workers_job_t *job
		    = sl_container_of(e, gw_workers_job_t, link);

		if (job->id == id)
			return job;
	}
	self->st.stale++;
	SL_INFO("JOB-STALE", "worker=%s job=%" PRIu64, w->peer.name, id);
	return NULL;
}

/* job is w's no more: its outcome res goes up, checked (gw_wres):
 * values stay msgpack but have a JSON form, texts are UTF-8. */
static void
s_release(gw_workers_t *self, gw_worker_t *w, gw_workers_job_t *job,
    const gw_workers_result_t *res)
{
	sl_list_remove(&job->link);
	w->n_jobs--;
	job->holder = NULL;
	self->ev.result(self->ev.ctx, job, res);
}

static void
s_on_result(gw_workers_t *self, gw_worker_t *w, const sl_msg_result_t *m)
{
	gw_workers_job_t *job = s_held(self, w, m->job);
	gw_workers_result_t res;
	gw_wres_text_t t;

	if (!job)
		return;
	gw_wres_result(m, &res, &t);
	s_release(self, w, job, &res);
}

/* PARTIAL (revision 7): the next one of a job w holds goes up; one out
 * of order or without a JSON form ends the item as bad_result, as a bad
 * RESULT value does, and the worker is told to stop the job. */
static void
s_on_partial(gw_workers_t *self, gw_worker_t *w, const sl_msg_partial_t *m)
{
	gw_workers_job_t *job = s_held(self, w, m->job);
	gw_workers_result_t res;
	gw_wres_text_t t;

	if (!job)
		return;
	if (gw_wres_partial(m, job->next_partial, &res, &t)) {
		self->st.bad_partials++;
		SL_WARN("JOB-BADPART", "worker=%s job=%" PRIu64 ": %s",
		    w->peer.name, job->id, t.message);
		gw_workers_send_msg(self, w, SL_MSG_CANCEL, job->id);
		s_release(self, w, job, &res);
		return;
	}
	job->next_partial++;
	if (self->ev.partial)
		self->ev.partial(self->ev.ctx, job, m->index, m->value);
}

/* PROGRESS (revision 7) of a job w holds. */
static void
s_on_progress(gw_workers_t *self, gw_worker_t *w, const sl_msg_progress_t *m)
{
	gw_workers_job_t *job = s_held(self, w, m->job);
	char text[SL_PROTO_MAX_PROGRESS_TEXT + 1];

	if (job && self->ev.progress)
		self->ev.progress(self->ev.ctx, job, m->progress,
		    gw_wres_progress_text(m, text));
}

/* RETURN: w did not start the job (busy with other gateways' jobs): it
 * goes back to the front of the queue at once, not as an attempt, and w
 * gets nothing more until its next CREDIT. */
static void
s_on_return(gw_workers_t *self, gw_worker_t *w, uint64_t id)
{
	gw_workers_job_t *job = s_held(self, w, id);

	if (!job)
		return;
	self->st.returned++;
	gw_workers_lose(self, job, GW_WORKERS_RETURNED);
	w->window = (uint32_t) w->n_jobs;
}

/* ---- frames --------------------------------------------------------- */

/* An unregistered sender has no label; its routing id is logged at
 * debug level only. */
static void
s_log_unregistered(const uint8_t *rid, size_t rid_len)
{
	char id[48];

	if (SL_LOG_DEBUG > sl_log_level())
		return;
	sl_proto_rid_name(rid, rid_len, id, sizeof id);
	SL_DEBUG("WRK-ID", "worker=unregistered id=%s", id);
}

/* A producer's frame on the workers endpoint (gw_pproto_wrong_endpoint)
 * is answered in its own protocol: true if it was one. */
static bool
s_answer_producer(gw_workers_t *self, const uint8_t *rid, size_t rid_len,
    const void *data, size_t len)
{
	msgpack_sbuffer_clear(&self->sb);
	if (!gw_pproto_wrong_endpoint(
	        data, len, self->lim.max_items, &self->sb))
		return false;
	gw_workers_send_sb(self, rid, rid_len);
	return true;
}

/* A frame that failed to decode (rc, why): count and drop it, or answer
 * a producer that came to the wrong door. */
static void
s_on_bad_frame(gw_workers_t *self, gw_worker_t *w, const uint8_t *rid,
    size_t rid_len, const void *data, size_t len, int rc, const char *why)
{
	self->st.bad_frames++;
	if (!w && s_answer_producer(self, rid, rid_len, data, len)) {
		SL_WARN("WRK-BADMSG",
		    "worker=unregistered bytes=%zu: a producer's frame on the "
		    "workers endpoint; answered wrong_endpoint",
		    len);
		s_log_unregistered(rid, rid_len);
		return;
	}
	SL_WARN("WRK-BADMSG", "worker=%s bytes=%zu err=%s why=\"%s\"",
	    w ? w->peer.name : "unregistered", len, sl_strerror(rc), why);
	if (!w)
		s_log_unregistered(rid, rid_len);
}

/* A decoded message from registered worker w; false if it was not one a
 * gateway takes (nothing changed then). */
static bool
s_on_msg(gw_workers_t *self, gw_worker_t *w, const sl_msg_t *m)
{
	/* Any message proves the worker alive. */
	w->expiry_us = sl_clock_mono_us()
	    + self->lim.hb_ivl_us * (int64_t) self->lim.hb_liveness;
	switch (m->type) {
	case SL_MSG_READY:
	case SL_MSG_PONG:
		break;
	case SL_MSG_PING:
		if (gw_workers_send_msg(self, w, SL_MSG_PONG, 0)
		    == SL_ENOTFOUND)
			gw_workers_remove(self, w, "unreachable", true);
		break;
	case SL_MSG_RESULT:
		s_on_result(self, w, &m->u.result);
		break;
	case SL_MSG_PARTIAL:
		s_on_partial(self, w, &m->u.partial);
		break;
	case SL_MSG_PROGRESS:
		s_on_progress(self, w, &m->u.progress);
		break;
	case SL_MSG_CREDIT: /* never past READY's capacity */
		w->window = m->u.credit.window < w->capacity
		    ? m->u.credit.window
		    : w->capacity;
		break;
	case SL_MSG_RETURN:
		s_on_return(self, w, m->u.cancel.job);
		break;
	case SL_MSG_DRAIN:
		SL_NOTICE("WRK-DRAIN", "worker=%s running=%zu", w->peer.name,
		    w->n_jobs);
		w->draining = true;
		break;
	case SL_MSG_BYE:
		gw_workers_remove(self, w, "bye", false);
		break;
	default:
		self->st.bad_frames++;
		SL_WARN("WRK-BADMSG", "worker=%s type=%s is not for a gateway",
		    w->peer.name, sl_proto_type_name(m->type));
		return false;
	}
	return true;
}

/* One message, alone or a BATCH's entry, from rid: true if it changed
 * something (the caller then calls events.changed, once). */
static bool
s_on_one(gw_workers_t *self, const uint8_t *rid, size_t rid_len,
    const char *key, const void *data, size_t len)
{
	gw_worker_t *w = gw_workers_find(self, rid, rid_len);
	const char *why;
	bool changed = false;
	sl_msg_t m;
	int rc;

	sl_proto_msg_init(&m);
	rc = sl_proto_decode(data, len, &m, &why);
	if (rc) {
		s_on_bad_frame(self, w, rid, rid_len, data, len, rc, why);
		goto out;
	}
	if (m.type == SL_MSG_READY && rid_len <= SL_PROTO_MAX_RID)
		gw_workers_register(
		    self, rid, rid_len, key ? key : "", &m.u.ready);
	w = gw_workers_find(self, rid, rid_len);
	if (!w) {
		/* e.g. a worker we declared dead, or from before a gateway
		 * restart: it re-registers when it notices our silence. */
		self->st.stale++;
		SL_INFO("WRK-UNKNOWN", "worker=unregistered type=%s dropped",
		    sl_proto_type_name(m.type));
		s_log_unregistered(rid, rid_len);
		goto out;
	}
	changed = s_on_msg(self, w, &m);
out:
	sl_proto_msg_clear(&m);
	return changed;
}

/*
 * A BATCH from registered worker w (PROTOCOL.md §2, "Batches"): it takes
 * BATCH from now on (the first one, empty, says so), and each entry is
 * handled as if it had come alone: a malformed one, an unknown job id or
 * a BATCH inside is dropped and counted alone, and the rest count. A
 * BATCH that cannot be read at all, or holds more than
 * SL_BATCH_MAX_MSGS entries, is dropped whole, as any malformed frame.
 */
static bool
s_on_batch(gw_workers_t *self, gw_worker_t *w, const uint8_t *rid,
    size_t rid_len, const char *key, const void *data, size_t len)
{
	sl_batch_reader_t r;
	const char *why;
	const void *e;
	size_t elen;
	bool changed = false;
	int rc = sl_batch_open(&r, data, len, &why);

	if (rc) {
		s_on_bad_frame(self, w, rid, rid_len, data, len, rc, why);
		goto out;
	}
	w->batch = true;
	while ((rc = sl_batch_next(&r, &e, &elen)))
		if (rc < 0) {
			self->st.bad_frames++;
			SL_WARN("WRK-BADMSG",
			    "worker=%s: a BATCH entry that is not a bin",
			    w->peer.name);
		} else if (s_on_one(self, rid, rid_len, key, e, elen)) {
			changed = true;
		}
out:
	sl_batch_close(&r);
	return changed;
}

void
gw_wframe_on_frame(gw_workers_t *self, const uint8_t *rid, size_t rid_len,
    const char *key, const void *data, size_t len)
{
	gw_worker_t *w = gw_workers_find(self, rid, rid_len);
	bool batch = sl_batch_is(data, len);

	/* A routing id is bound to the key it registered with. Another key
	 * under it means ZeroMQ now routes that id to another connection:
	 * without HANDOVER (CURVE) only once the worker's own is gone. So
	 * the worker is gone, and nothing more may be sent under its id. */
	if (w && !gw_peer_key_is(&w->peer, key)) {
		self->st.hijacks++;
		SL_WARN("WRK-HIJACK",
		    "worker=%s: a message under its routing id from another "
		    "CURVE key (%.8s...), dropped; its jobs go back",
		    w->peer.name, key ? key : "-");
		/* Not counted as a crash: a stranger must not be able to
		 * make items end as worker_lost. */
		gw_workers_remove(self, w, "id_taken", false);
		self->ev.changed(self->ev.ctx);
		return;
	}
	if (batch && !w) {
		self->st.stale++;
		SL_INFO(
		    "WRK-UNKNOWN", "worker=unregistered type=BATCH dropped");
		s_log_unregistered(rid, rid_len);
		return;
	}
	if (batch ? s_on_batch(self, w, rid, rid_len, key, data, len)
	          : s_on_one(self, rid, rid_len, key, data, len))
		gw_workers_changed(self);
}
