/*
 * gw_workers: the workers endpoint, its registry, credit and heartbeats
 * (see gw_workers.h); what workers send is read by gw_wframe.c, which
 * shares the structures below through gw_workers_int.h. lws service
 * thread only.
 *
 * Ownership: this module owns the socket and the workers; the jobs a
 * worker holds belong to the caller and are only linked here. Workers are
 * found by routing id on a list: lookups are linear, fine for the tens of
 * workers a gateway serves.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <msgpack.h>
#include <zmq.h>

#include "gw_peer.h"
#include "gw_wframe.h"
#include "gw_workers.h"
#include "gw_workers_int.h"
#include "gw_zmq.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_log.h"

/* Job ids start at a random value in 1..2^52 (PROTOCOL.md §2): a
 * restarted gateway's ids never meet the old ones that workers may still
 * answer, and every id stays exact as a JSON number (a double) should one
 * ever be shown to a client: 2^52 more jobs before 2^53. Each send of a
 * job takes a fresh one, so a late result of an earlier attempt (the
 * worker may come back under the same routing id) never passes for it. */
#define GW_WORKERS_JOB_ID_SPAN (UINT64_C(1) << 52)

/* The first job id: random in 1..GW_WORKERS_JOB_ID_SPAN. Without
 * getrandom (no entropy yet at boot) the clock and pid still differ
 * between restarts. */
static uint64_t
s_first_job_id(void)
{
	uint64_t r;

	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t) sizeof r)
		r = (uint64_t) sl_clock_wall_us() * 1000003u
		    ^ (uint64_t) getpid();
	return 1 + r % GW_WORKERS_JOB_ID_SPAN;
}

/* ---- sending -------------------------------------------------------- */

int
gw_workers_send_sb(gw_workers_t *self, const uint8_t *rid, size_t rid_len)
{
	return gw_zmq_send(
	    self->zsock, rid, rid_len, self->sb.data, self->sb.size);
}

/* Encode a field-less message (PING, PONG) or CANCEL and send it. */
int
gw_workers_send_msg(
    gw_workers_t *self, gw_worker_t *w, sl_msg_type_t type, uint64_t job)
{
	int rc;

	msgpack_sbuffer_clear(&self->sb);
	rc = type == SL_MSG_CANCEL ? sl_proto_encode_cancel(&self->sb, job)
	                           : sl_proto_encode_empty(&self->sb, type);
	if (rc)
		return rc;
	/* A CANCEL must not overtake a JOB held for the turn's BATCH: it
	 * joins it. (Did it not fit, the worker would find nothing to
	 * cancel and run the job: compute wasted, nothing wrong.) */
	if (type == SL_MSG_CANCEL && sl_batch_count(&w->out)
	    && sl_batch_fits(&w->out, self->sb.size)
	    && !sl_batch_add(&w->out, self->sb.data, self->sb.size)) {
		w->out_other++;
		return 0;
	}
	return gw_workers_send_sb(self, w->peer.rid, w->peer.rid_len);
}

/* ---- the registry --------------------------------------------------- */

gw_worker_t *
gw_workers_find(gw_workers_t *self, const uint8_t *rid, size_t rid_len)
{
	gw_peer_t *p = gw_peer_find(&self->workers, rid, rid_len);

	return p ? sl_container_of(p, gw_worker_t, peer) : NULL;
}

static bool
s_runs(const gw_worker_t *w, const char *task)
{
	for (size_t i = 0; i < w->n_tasks; i++)
		if (!strcmp(w->tasks[i], task))
			return true;
	return false;
}

static bool
s_has_credit(const gw_worker_t *w)
{
	return !w->draining && w->n_jobs < w->window;
}

/* Unlink a held job and hand it back to its owner. */
void
gw_workers_lose(
    gw_workers_t *self, gw_workers_job_t *job, gw_workers_loss_t how)
{
	gw_worker_t *w = job->holder;

	sl_list_remove(&job->link);
	w->n_jobs--;
	job->holder = NULL;
	self->ev.lost(self->ev.ctx, job, how);
}

/* Forget a worker; every job it held goes back to its owner. */
void
gw_workers_remove(
    gw_workers_t *self, gw_worker_t *w, const char *why, bool crashed)
{
	size_t held = w->n_jobs,
	       unsent = sl_batch_count(&w->out) - w->out_other;
	sl_list_t *e;

	/* Last first: the broker puts each at the front of its queue, so
	 * every request gets its items back in the order they were sent.
	 * The last ones may still wait in w->out, never sent: not an
	 * attempt. */
	while ((e = sl_list_last(&w->jobs)))
		gw_workers_lose(self,
		    sl_container_of(e, gw_workers_job_t, link),
		    unsent && unsent-- ? GW_WORKERS_LEFT : crashed);
	sl_batch_clear(&w->out);
	self->st.capacity -= w->capacity;
	self->st.workers--;
	if (crashed)
		self->st.workers_lost++;
	sl_list_remove(&w->peer.link);
	SL_NOTICE("WRK-GONE", "worker=%s reason=%s requeued=%zu", w->peer.name,
	    why, held);
	sl_batch_destroy(&w->out);
	free(w);
}

/* Tell a newly registered worker its label (PROTOCOL.md §2): a worker
 * that never hears this is talking to something that is not a gateway
 * that accepts it. A failed send shows again at the next PING. Then an
 * empty BATCH: we take batches (a worker that does answers with its own;
 * an older one ignores a type it does not know). */
static void
s_registered(gw_workers_t *self, gw_worker_t *w)
{
	char id[48];

	if (SL_LOG_DEBUG <= sl_log_level()) {
		sl_proto_rid_name(w->peer.rid, w->peer.rid_len, id, sizeof id);
		SL_DEBUG("WRK-ID", "worker=%s id=%s key=%.8s", w->peer.name,
		    id, w->peer.key[0] ? w->peer.key : "-");
	}
	msgpack_sbuffer_clear(&self->sb);
	if (!sl_proto_encode_registered(&self->sb, w->peer.name, true, true))
		gw_workers_send_sb(self, w->peer.rid, w->peer.rid_len);
	msgpack_sbuffer_clear(&self->sb);
	if (!sl_batch_encode_empty(&self->sb))
		gw_workers_send_sb(self, w->peer.rid, w->peer.rid_len);
}

void
gw_workers_register(gw_workers_t *self, const uint8_t *rid, size_t rid_len,
    const char *key, const sl_msg_ready_t *m)
{
	gw_worker_t *w = gw_workers_find(self, rid, rid_len);

	/* READY from a known worker means it restarted and holds nothing:
	 * what it had died with it. */
	if (w)
		gw_workers_remove(self, w, "re-registered", true);
	w = calloc(1, sizeof *w);
	if (w)
		sl_batch_init(&w->out);
	if (!w) {
		SL_ERR("WRK-ENOMEM", "cannot register a worker");
		return;
	}
	gw_peer_init(&w->peer, rid, rid_len, key, 'w', &self->next_label);
	w->capacity = w->window = m->capacity;
	sl_list_init(&w->jobs);
	for (size_t i = 0; i < m->n_tasks; i++) {
		memcpy(w->tasks[i], m->tasks[i].ptr, m->tasks[i].len);
		w->tasks[i][m->tasks[i].len] = '\0';
	}
	w->n_tasks = m->n_tasks;
	sl_list_push_back(&self->workers, &w->peer.link);
	self->st.capacity += w->capacity;
	self->st.workers++;
	SL_NOTICE("WRK-READY",
	    "worker=%s capacity=%u tasks=%zu pid=%u host=%.*s", w->peer.name,
	    w->capacity, w->n_tasks, m->pid, (int) m->host.len,
	    m->host.ptr ? m->host.ptr : "");
	s_registered(self, w);
}

void
gw_workers_on_frame(gw_workers_t *self, const uint8_t *rid, size_t rid_len,
    const char *key, const void *data, size_t len)
{
	gw_wframe_on_frame(self, rid, rid_len, key, data, len);
}

/* ---- timers --------------------------------------------------------- */

void
gw_workers_tick(gw_workers_t *self, int64_t now_us)
{
	sl_list_t *e, *next;

	if (!self->lim.hb_ivl_us)
		return;
	/* Silent workers are dead (Paranoid Pirate): what they held goes
	 * back at once. Then everybody alive gets a PING. */
	for (e = self->workers.next; e != &self->workers; e = next) {
		gw_worker_t *w = sl_container_of(e, gw_worker_t, peer.link);

		next = e->next;
		if (now_us >= w->expiry_us) {
			self->st.hb_missed++;
			gw_workers_remove(self, w, "silent", true);
		}
	}
	if (now_us >= self->next_ping_us) {
		self->next_ping_us = now_us + self->lim.hb_ivl_us;
		for (e = self->workers.next; e != &self->workers; e = next) {
			gw_worker_t *w
			    = sl_container_of(e, gw_worker_t, peer.link);

			next = e->next;
			/* Only a vanished peer is dead now; one whose queue is
			 * full (SL_EFULL) gets until its expiry to read. */
			if (gw_workers_send_msg(self, w, SL_MSG_PING, 0)
			    == SL_ENOTFOUND)
				gw_workers_remove(
				    self, w, "unreachable", true);
		}
	}
	gw_workers_changed(self);
}

/* ---- downward calls ------------------------------------------------- */

bool
gw_workers_runs(const gw_workers_t *self, const char *task, bool ready)
{
	for (sl_list_t *e = self->workers.next; e != &self->workers;
	     e = e->next) {
		const gw_worker_t *w
		    = sl_container_of(e, gw_worker_t, peer.link);

		if ((!ready || !w->draining) && s_runs(w, task))
			return true;
	}
	return false;
}

bool
gw_workers_any_credit(const gw_workers_t *self)
{
	for (sl_list_t *e = self->workers.next; e != &self->workers;
	     e = e->next)
		if (s_has_credit(sl_container_of(e, gw_worker_t, peer.link)))
			return true;
	return false;
}

void *
gw_workers_pick(gw_workers_t *self, const char *task)
{
	gw_worker_t *best = NULL;

	for (sl_list_t *e = self->workers.next; e != &self->workers;
	     e = e->next) {
		gw_worker_t *w = sl_container_of(e, gw_worker_t, peer.link);

		if (s_has_credit(w) && s_runs(w, task)
		    && (!best
		        || w->window - w->n_jobs
		            > best->window - best->n_jobs))
			best = w;
	}
	return best;
}

/* Send w's held-back JOBs as one frame: 0; or the send's code, after
 * handing them back (not crashed: they never left) and removing w. They
 * are the last ones w holds: nothing ends a job while they wait. */
static int
s_flush(gw_workers_t *self, gw_worker_t *w)
{
	size_t n = sl_batch_count(&w->out) - w->out_other;
	const void *data;
	size_t len;
	int rc;

	if (!sl_batch_count(&w->out))
		return 0;
	sl_batch_frame(&w->out, &data, &len);
	rc = gw_zmq_send(self->zsock, w->peer.rid, w->peer.rid_len, data, len);
	sl_batch_clear(&w->out);
	w->out_other = 0;
	if (!rc)
		return 0;
	while (n--)
		gw_workers_lose(self,
		    sl_container_of(
		        sl_list_last(&w->jobs), gw_workers_job_t, link),
		    false);
	gw_workers_remove(self, w, sl_strerror(rc), true);
	return rc;
}

void
gw_workers_changed(gw_workers_t *self)
{
	sl_list_t *e, *next;

	self->hold = true;
	self->ev.changed(self->ev.ctx);
	self->hold = false;
	if (self->hold_turn)
		return; /* gw_workers_settle sends them, with the turn's others
		         */
	for (e = self->workers.next; e != &self->workers; e = next) {
		next = e->next;
		s_flush(self, sl_container_of(e, gw_worker_t, peer.link));
	}
}

void
gw_workers_set_owner_settles(gw_workers_t *self)
{
	self->hold_turn = true;
	gw_zmq_set_owner_settles(self->zsock);
}

bool
gw_workers_settle(gw_workers_t *self, bool last)
{
	sl_list_t *e, *next;

	for (e = self->workers.next; e != &self->workers; e = next) {
		next = e->next;
		s_flush(self, sl_container_of(e, gw_worker_t, peer.link));
	}
	return gw_zmq_settle(self->zsock, last);
}

int
gw_workers_send_job(gw_workers_t *self, void *worker, gw_workers_job_t *job,
    const char *task, const void *item, size_t len)
{
	gw_worker_t *w = worker;
	bool held = (self->hold || self->hold_turn) && w->batch;
	int rc;

	job->id = self->next_job++;
	job->next_partial = 0; /* each send's PARTIALs count from 0 */
	msgpack_sbuffer_clear(&self->sb);
	rc = sl_proto_encode_job(
	    &self->sb, job->id, task, strlen(task), item, len, job->trace);
	/* A full batch leaves first; if that fails, w is gone. */
	if (!rc && held && !sl_batch_fits(&w->out, self->sb.size)
	    && (rc = s_flush(self, w))) {
		self->ev.lost(self->ev.ctx, job, GW_WORKERS_LEFT);
		return rc;
	}
	sl_list_push_back(&w->jobs, &job->link);
	job->holder = w;
	w->n_jobs++;
	if (!rc)
		rc = held
		    ? sl_batch_add(&w->out, self->sb.data, self->sb.size)
		    : gw_workers_send_sb(self, w->peer.rid, w->peer.rid_len);
	if (rc) {
		/* It never reached w: back to its owner, not an attempt. */
		gw_workers_lose(self, job, GW_WORKERS_LEFT);
		gw_workers_remove(self, w, sl_strerror(rc), true);
	}
	return rc;
}

void
gw_workers_cancel(gw_workers_t *self, gw_workers_job_t *job)
{
	/* A failed send means the worker is gone: the next heartbeat finds
	 * out and hands the job back. */
	if (job->holder)
		gw_workers_send_msg(self, job->holder, SL_MSG_CANCEL, job->id);
}

void
gw_workers_each_job(gw_workers_t *self,
    bool (*fn)(void *arg, gw_workers_job_t *job), void *arg)
{
	for (sl_list_t *e = self->workers.next; e != &self->workers;
	     e = e->next) {
		gw_worker_t *w = sl_container_of(e, gw_worker_t, peer.link);

		for (sl_list_t *j = w->jobs.next; j != &w->jobs; j = j->next)
			if (!fn(arg,
			        sl_container_of(j, gw_workers_job_t, link)))
				return;
	}
}

const char *
gw_workers_name(const void *worker)
{
	return ((const gw_worker_t *) worker)->peer.name;
}

void
gw_workers_stats(const gw_workers_t *self, gw_workers_stats_t *out)
{
	if (self)
		*out = self->st;
	else
		memset(out, 0, sizeof *out);
}

/* ---- the table for the broker ------------------------------------- */

const gw_workers_ops_t gw_workers_ops
    = { gw_workers_runs, gw_workers_any_credit, gw_workers_pick,
	      gw_workers_send_job, gw_workers_cancel, gw_workers_each_job,
	      gw_workers_stats, gw_workers_name };

/* ---- life ----------------------------------------------------------- */

/* The ROUTER's frame callback: the frame and the CURVE key it came
 * with (NULL without CURVE). */
static void
s_frame(void *user, const uint8_t *rid, size_t rid_len, const void *data,
    size_t len)
{
	gw_workers_t *self = user;

	gw_workers_on_frame(
	    self, rid, rid_len, gw_zmq_peer_key(self->zsock), data, len);
}

/* What the CURVE setup needs. */
typedef struct s_curve_arg {
	const sl_curve_keypair_t *kp;
	int hb_ivl_ms;     /* ZMTP heartbeat interval */
	int hb_timeout_ms; /* ... and how long a silent connection lives */
} s_curve_arg_t;

/*
 * gw_zmq_new_ex's setup: CURVE server, ZAP domain "workers". With CURVE
 * there is no ZMQ_ROUTER_HANDOVER (gw_zmq.c): a worker restarted under
 * the same routing id is not heard while its old connection lives, so
 * ZMTP heartbeats close the connection of a hung worker (its process
 * stopped, its TCP connection open) as our own heartbeats forget it.
 */
static int
s_curve(void *sock, const void *arg)
{
	const s_curve_arg_t *a = arg;

	if (zmq_setsockopt(
	        sock, ZMQ_HEARTBEAT_IVL, &a->hb_ivl_ms, sizeof a->hb_ivl_ms)
	    || zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &a->hb_timeout_ms,
	        sizeof a->hb_timeout_ms))
		return -1;
	return sl_curve_server_setup(sock, a->kp, "workers");
}

gw_workers_t *
gw_workers_new(void *zctx, const char *endpoint,
    const gw_workers_limits_t *limits, const sl_curve_keypair_t *kp,
    const gw_workers_events_t *events, char *err, size_t errlen)
{
	gw_workers_t *self = calloc(1, sizeof *self);
	s_curve_arg_t curve = { kp, 0, 0 };

	if (!self) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	self->ev = *events;
	self->lim = *limits;
	if (!self->lim.hb_liveness)
		self->lim.hb_liveness = 3;
	curve.hb_ivl_ms = (int) (self->lim.hb_ivl_us / 1000);
	curve.hb_timeout_ms = curve.hb_ivl_ms * (int) self->lim.hb_liveness;
	sl_list_init(&self->workers);
	self->next_job = s_first_job_id();
	msgpack_sbuffer_init(&self->sb);
	self->zsock = gw_zmq_new_ex(zctx, endpoint, limits->max_frame,
	    kp ? s_curve : NULL, &curve, s_frame, self, err, errlen);
	if (!self->zsock)
		gw_workers_destroy(&self);
	return self;
}

int
gw_workers_attach(
    gw_workers_t *self, struct lws_context *ctx, struct lws_vhost *vh)
{
	return gw_zmq_attach(self->zsock, ctx, vh);
}

void
gw_workers_destroy(gw_workers_t **self_p)
{
	gw_workers_t *self = self_p ? *self_p : NULL;
	sl_list_t *e;

	if (!self)
		return;
	while ((e = sl_list_first(&self->workers)))
		gw_workers_remove(self,
		    sl_container_of(e, gw_worker_t, peer.link), "shutdown",
		    false);
	gw_zmq_destroy(&self->zsock);
	msgpack_sbuffer_destroy(&self->sb);
	free(self);
	*self_p = NULL;
}
