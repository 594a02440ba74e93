/*
 * gw_wframe: frames from workers (see gw_wframe.h).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "gw_cmsg.h"
#include "gw_out.h"
#include "gw_pproto.h"
#include "gw_wframe.h"
#include "gw_workers_int.h"
#include "sl_batch.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_json.h"
#include "sl_log.h"
#include "sl_utf8.h"

/*
 * Hand job's result up, checked: values stay msgpack (a msgpack client
 * gets them as the worker sent them) but must have a JSON form, checked
 * once, here, whoever receives them; a worker's error texts reach clients
 * (and watchers) as strings, so they are made well-formed UTF-8, even if
 * the worker's were not or were cut.
 */
static void
s_result_up(
    gw_workers_t *self, gw_workers_job_t *job, const sl_msg_result_t *m)
{
	gw_workers_result_t res = { m->ok, m->value, "", "", m->times };
	char code[SL_PROTO_MAX_NAME + 1], msg[SL_PROTO_MAX_TEXT + 1];
	const char *why = NULL;
	int rc = m->ok
	    ? sl_json_mp_check(m->value, SL_PROTO_MAX_ITEM_DEPTH, &why)
	    : 0;

	if (rc) {
		res.ok = false;
		snprintf(code, sizeof code, "bad_result");
		snprintf(msg, sizeof msg,
		    "the worker's value has no JSON form: %s",
		    rc == SL_ETOOBIG      ? "nested too deeply"
		        : rc == SL_ENOMEM ? "out of memory"
		                          : why);
	} else if (!m->ok) {
		snprintf(
		    code, sizeof code, "%.*s", (int) m->code.len, m->code.ptr);
		snprintf(msg, sizeof msg, "%.*s", (int) m->message.len,
		    m->message.ptr ? m->message.ptr : "");
		sl_utf8_clean(code);
		sl_utf8_clean(msg);
	}
	if (!res.ok) {
		res.code = code;
		res.message = msg;
	}
	self->ev.result(self->ev.ctx, job, &res);
}

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

static void
s_on_result(gw_workers_t *self, gw_worker_t *w, const sl_msg_result_t *m)
{
	gw_workers_job_t *job = s_held(self, w, m->job);

	if (!job)
		return;
	sl_list_remove(&job->link);
	w->n_jobs--;
	job->holder = NULL;
	s_result_up(self, job, m);
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

/*
 * A frame from an unregistered sender that failed to decode as a worker
 * frame: if it is a producer's (a msgpack map with a type, PROTOCOL.md
 * §3), someone pointed a producer such as sluice-submit at the workers
 * endpoint. Answer it in its own protocol with error wrong_endpoint
 * instead of leaving it to wait. Returns true if it was one.
 */
static bool
s_answer_producer(gw_workers_t *self, const uint8_t *rid, size_t rid_len,
    const void *data, size_t len)
{
	gw_cmsg_t msg;
	gw_cmsg_err_t err;
	gw_out_t f;

	if (!gw_pproto_parse(data, len, self->lim.max_items, &msg, &err)) {
		gw_cmsg_err_set(&err, msg.id, "wrong_endpoint", "-");
		gw_cmsg_clear(&msg);
	} else if (!strcmp(err.code, "bad_msgpack")
	    || !strcmp(err.code, "bad_message")) {
		return false; /* not a producer's either */
	}
	err.code = "wrong_endpoint";
	snprintf(err.message, sizeof err.message,
	    "this is the gateway's workers endpoint; producers connect to "
	    "its producers endpoint (--producers, default "
	    "tcp://127.0.0.1:5556)");
	f = gw_out_error(&err);
	msgpack_sbuffer_clear(&self->sb);
	if (!gw_pproto_encode(&f, &self->sb))
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
