/*
 * gw_workers: the workers endpoint, its registry, credit and heartbeats
 * (see gw_workers.h). lws service thread only.
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
#include "gw_pproto.h"
#include "gw_workers.h"
#include "gw_zmq.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_json.h"
#include "sl_log.h"
#include "sl_utf8.h"
#include "sl_zap.h"

typedef struct gw_worker {
	gw_peer_t peer;    /* routing id, bound key, label; link in workers */
	uint32_t capacity; /* jobs it may hold */
	uint32_t window;   /* of which it offers now (CREDIT, RETURN) */
	bool draining;     /* said DRAIN: no more jobs for it */
	int64_t expiry_us; /* dead if silent until then (monotonic) */
	sl_list_t jobs;    /* gw_workers_job_t it holds, in the order sent */
	size_t n_jobs;
	size_t n_tasks;
	char tasks[SL_PROTO_MAX_TASKS][SL_PROTO_MAX_NAME + 1];
} gw_worker_t;

struct gw_workers {
	gw_zmq_t *zsock;         /* the workers ROUTER */
	gw_workers_events_t ev;  /* copied */
	gw_workers_limits_t lim; /* copied */
	sl_list_t workers;       /* gw_worker_t, in registration order */
	int64_t next_ping_us;    /* when workers get their next PING */
	uint64_t next_job;       /* id of the next job sent */
	uint64_t next_label;     /* of the next worker to register: w1... */
	msgpack_sbuffer sb;      /* scratch for encoding, reused */
	gw_workers_stats_t st;
};

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

static int
s_send_sb(gw_workers_t *self, const uint8_t *rid, size_t rid_len)
{
	return gw_zmq_send(
	    self->zsock, rid, rid_len, self->sb.data, self->sb.size);
}

/* Encode a field-less message (PING, PONG) or CANCEL and send it. */
static int
s_send(gw_workers_t *self, gw_worker_t *w, sl_msg_type_t type, uint64_t job)
{
	int rc;

	msgpack_sbuffer_clear(&self->sb);
	rc = type == SL_MSG_CANCEL ? sl_proto_encode_cancel(&self->sb, job)
	                           : sl_proto_encode_empty(&self->sb, type);
	return rc ? rc : s_send_sb(self, w->peer.rid, w->peer.rid_len);
}

/* ---- the registry --------------------------------------------------- */

static gw_worker_t *
s_find(gw_workers_t *self, const uint8_t *rid, size_t rid_len)
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
static void
s_lose(gw_workers_t *self, gw_workers_job_t *job, gw_workers_loss_t how)
{
	gw_worker_t *w = job->holder;

	sl_list_remove(&job->link);
	w->n_jobs--;
	job->holder = NULL;
	self->ev.lost(self->ev.ctx, job, how);
}

/* Forget a worker; every job it held goes back to its owner. */
static void
s_remove(gw_workers_t *self, gw_worker_t *w, const char *why, bool crashed)
{
	size_t held = w->n_jobs;
	sl_list_t *e;

	/* Last first: the broker puts each at the front of its queue, so
	 * every request gets its items back in the order they were sent. */
	while ((e = sl_list_last(&w->jobs)))
		s_lose(
		    self, sl_container_of(e, gw_workers_job_t, link), crashed);
	self->st.capacity -= w->capacity;
	self->st.workers--;
	if (crashed)
		self->st.workers_lost++;
	sl_list_remove(&w->peer.link);
	SL_NOTICE("WRK-GONE", "worker=%s reason=%s requeued=%zu", w->peer.name,
	    why, held);
	free(w);
}

/* Tell a newly registered worker its label (PROTOCOL.md §2): a worker
 * that never hears this is talking to something that is not a gateway
 * that accepts it. A failed send shows again at the next PING. */
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
	if (!sl_proto_encode_registered(&self->sb, w->peer.name, true))
		s_send_sb(self, w->peer.rid, w->peer.rid_len);
}

static void
s_on_ready(gw_workers_t *self, const uint8_t *rid, size_t rid_len,
    const char *key, const sl_msg_ready_t *m)
{
	gw_worker_t *w = s_find(self, rid, rid_len);

	/* READY from a known worker means it restarted and holds nothing:
	 * what it had died with it. */
	if (w)
		s_remove(self, w, "re-registered", true);
	w = calloc(1, sizeof *w);
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
	s_lose(self, job, GW_WORKERS_RETURNED);
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
		s_send_sb(self, rid, rid_len);
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
		if (s_send(self, w, SL_MSG_PONG, 0) == SL_ENOTFOUND)
			s_remove(self, w, "unreachable", true);
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
		s_remove(self, w, "bye", false);
		break;
	default:
		self->st.bad_frames++;
		SL_WARN("WRK-BADMSG", "worker=%s type=%s is not for a gateway",
		    w->peer.name, sl_proto_type_name(m->type));
		return false;
	}
	return true;
}

void
gw_workers_on_frame(gw_workers_t *self, const uint8_t *rid, size_t rid_len,
    const char *key, const void *data, size_t len)
{
	gw_worker_t *w = s_find(self, rid, rid_len);
	const char *why;
	sl_msg_t m;
	int rc;

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
		s_remove(self, w, "id_taken", false);
		self->ev.changed(self->ev.ctx);
		return;
	}
	sl_proto_msg_init(&m);
	rc = sl_proto_decode(data, len, &m, &why);
	if (rc) {
		s_on_bad_frame(self, w, rid, rid_len, data, len, rc, why);
		goto out;
	}
	if (m.type == SL_MSG_READY && rid_len <= SL_PROTO_MAX_RID)
		s_on_ready(self, rid, rid_len, key ? key : "", &m.u.ready);
	w = s_find(self, rid, rid_len);
	if (!w) {
		/* e.g. a worker we declared dead, or from before a gateway
		 * restart: it re-registers when it notices our silence. */
		self->st.stale++;
		SL_INFO("WRK-UNKNOWN", "worker=unregistered type=%s dropped",
		    sl_proto_type_name(m.type));
		s_log_unregistered(rid, rid_len);
		goto out;
	}
	if (s_on_msg(self, w, &m))
		self->ev.changed(self->ev.ctx);
out:
	sl_proto_msg_clear(&m);
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
			s_remove(self, w, "silent", true);
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
			if (s_send(self, w, SL_MSG_PING, 0) == SL_ENOTFOUND)
				s_remove(self, w, "unreachable", true);
		}
	}
	self->ev.changed(self->ev.ctx);
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

int
gw_workers_send_job(gw_workers_t *self, void *worker, gw_workers_job_t *job,
    const char *task, const void *item, size_t len)
{
	gw_worker_t *w = worker;
	int rc;

	sl_list_push_back(&w->jobs, &job->link);
	job->holder = w;
	w->n_jobs++;
	job->id = self->next_job++;
	msgpack_sbuffer_clear(&self->sb);
	rc = sl_proto_encode_job(
	    &self->sb, job->id, task, strlen(task), item, len, job->trace);
	if (!rc)
		rc = s_send_sb(self, w->peer.rid, w->peer.rid_len);
	if (rc) {
		/* It never reached w: back to its owner, not an attempt. */
		s_lose(self, job, GW_WORKERS_LEFT);
		s_remove(self, w, sl_strerror(rc), true);
	}
	return rc;
}

void
gw_workers_cancel(gw_workers_t *self, gw_workers_job_t *job)
{
	/* A failed send means the worker is gone: the next heartbeat finds
	 * out and hands the job back. */
	if (job->holder)
		s_send(self, job->holder, SL_MSG_CANCEL, job->id);
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
		s_remove(self, sl_container_of(e, gw_worker_t, peer.link),
		    "shutdown", false);
	gw_zmq_destroy(&self->zsock);
	msgpack_sbuffer_destroy(&self->sb);
	free(self);
	*self_p = NULL;
}
