/*
 * gw_req: requests and their jobs (see gw_req.h). lws service thread
 * only.
 *
 * Ownership: an owner (a client) owns its requests; the pool's gw_jobs
 * owns their jobs (each request embeds its gw_jobs_req_t).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_jobs.h"
#include "gw_req.h"
#include "gw_req_priv.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_proto.h"

static void s_on_job_result(void *ctx, gw_jobs_req_t *jr, uint32_t seq,
    const gw_workers_result_t *res, const gw_out_timing_t *tm);
static void s_on_job_poisoned(void *ctx, gw_jobs_req_t *jr, uint32_t seq);

gw_req_pool_t *
gw_req_pool_new(const gw_req_limits_t *limits, gw_notify_t *notify)
{
	gw_req_pool_t *self = calloc(1, sizeof *self);

	if (!self)
		return NULL;
	self->lim = *limits;
	self->notify = notify;
	self->budget.max = limits->max_resume_bytes;
	sl_list_init(&self->owners);
	gw_hist_init_latency(&self->st.item_latency);
	self->jobs
	    = gw_jobs_new(&(gw_jobs_events_t) { .result = s_on_job_result,
	        .progress = gw_req_on_job_progress,
	        .partial = gw_req_on_job_partial,
	        .poisoned = s_on_job_poisoned,
	        .ctx = self });
	if (!self->jobs)
		gw_req_pool_destroy(&self);
	else
		gw_jobs_set_progress(self->jobs, limits->progress_us);
	return self;
}

void
gw_req_use_workers(
    gw_req_pool_t *self, const gw_workers_ops_t *ops, gw_workers_t *workers)
{
	gw_jobs_use_workers(self->jobs, ops, workers);
}

/* Does a worker run r's task (a ready one, or any)? */
static bool
s_runs(const gw_req_pool_t *self, const gw_req_t *r, bool ready)
{
	return gw_jobs_wops(self->jobs)
	    ->runs(gw_jobs_workers(self->jobs), r->task, ready);
}

/* ---- sending -------------------------------------------------------- */

static int
s_send(gw_req_owner_t *o, const gw_out_t *f)
{
	return o->send(o->send_ctx, o->user, f);
}

void
gw_req_send_frame(gw_req_pool_t *self, gw_req_t *r, gw_out_t *f)
{
	bool item = f->type == GW_OUT_RESULT || f->type == GW_OUT_ITEM_ERROR;

	if (!item || !r->rs
	    || gw_resume_on_item(r->rs, &self->budget, f, r->owner->detached))
		s_send(r->owner, f);
	gw_notify_fanout(self->notify, r->chan, f);
}

/* An item of r ended in error: it counts as failed, leaves its client's
 * share, and its client and watchers are told. */
static void
s_item_error(gw_req_pool_t *self, gw_req_t *r, uint32_t seq, const char *code,
    const char *msg, const gw_out_timing_t *tm)
{
	gw_out_t f = { .type = GW_OUT_ITEM_ERROR,
		.id = r->id,
		.seq = seq,
		.code = code,
		.message = msg,
		.timing = tm && r->timing, /* a worker's error: its times */
		.tm = tm ? *tm : (gw_out_timing_t) { 0 } };

	r->n_failed++;
	(*r->owner->open)--;
	gw_req_send_frame(self, r, &f);
}

/* ---- requests ------------------------------------------------------- */

/* Free a request: queued jobs go with it, running ones are cancelled. */
static void
s_request_free(gw_req_pool_t *self, gw_req_t *r)
{
	gw_jobs_drop_queued(self->jobs, &r->jobs, NULL, NULL);
	gw_jobs_release(self->jobs, &r->jobs, NULL, NULL);
	*r->owner->open -= r->n_items - r->n_ok - r->n_failed;
	sl_list_remove(&r->owner_link);
	if (!--r->owner->n_requests)
		sl_list_remove(&r->owner->link);
	self->st.requests--;
	if (r->chan)
		gw_notify_release(self->notify, r->chan);
	if (r->owner->detached)
		self->st.detached--;
	gw_resume_destroy(&r->rs, &self->budget);
	free(r);
}

/* r ends with its client: its watchers learn that its open items were
 * cancelled (unless done told them already), then it is freed. */
static void
s_request_drop(gw_req_pool_t *self, gw_req_t *r)
{
	gw_out_t f = { .type = GW_OUT_DONE,
		.id = r->id,
		.ok = r->n_ok,
		.failed = r->n_failed,
		.cancelled = gw_req_open(r),
		.elapsed_ms = (sl_clock_mono_us() - r->t_start_us) / 1000 };

	if (!r->rs || !gw_resume_finished(r->rs)) {
		gw_notify_fanout(self->notify, r->chan, &f);
		self->st.cancelled += f.cancelled;
	}
	s_request_free(self, r);
}

size_t
gw_req_open(const gw_req_t *r)
{
	return r->n_items - r->n_ok - r->n_failed;
}

bool
gw_req_owned_by(const gw_req_t *r, const gw_req_owner_t *o)
{
	return r->owner == o;
}

gw_req_t *
gw_req_find(gw_req_owner_t *o, const char *id)
{
	for (sl_list_t *e = o->requests.next; e != &o->requests; e = e->next) {
		gw_req_t *r = sl_container_of(e, gw_req_t, owner_link);

		if (!strcmp(r->id, id))
			return r;
	}
	return NULL;
}

/* One more item of r has an outcome; finish r after its last. */
static void
s_request_progress(gw_req_pool_t *self, gw_req_t *r, size_t cancelled)
{
	size_t ended = r->n_ok + r->n_failed + cancelled;
	gw_out_t f = { .type = GW_OUT_DONE, .id = r->id };

	if (ended < r->n_items)
		return;
	f.ok = r->n_ok;
	f.failed = r->n_failed;
	f.cancelled = cancelled;
	f.elapsed_ms = (sl_clock_mono_us() - r->t_start_us) / 1000;
	SL_INFO("REQ-DONE",
	    "req=%s ok=%zu failed=%zu cancelled=%zu elapsed_ms=%" PRId64,
	    r->id, r->n_ok, r->n_failed, cancelled, f.elapsed_ms);
	gw_req_send_frame(self, r, &f);
	/* Its client is away: done waits in the log's stead for a resume
	 * (a cancel frees it: only expiry and fini cancel a detached one). */
	if (r->owner->detached && !cancelled) {
		gw_resume_finish(r->rs);
		return;
	}
	s_request_free(self, r);
}

/* gw_jobs' way to end each of r's items as an item error. */
typedef struct s_end {
	gw_req_pool_t *self;
	gw_req_t *r;
	const char *code, *msg;
} s_end_t;

static void
s_end_one(void *arg, uint32_t seq)
{
	s_end_t *a = arg;

	s_item_error(a->self, a->r, seq, a->code, a->msg, NULL);
}

/* End every queued item of r as an item error code (msg), and with
 * running, its running ones too: each counts as failed and leaves its
 * client's share. How many queued ones. */
static size_t
s_end_items(gw_req_pool_t *self, gw_req_t *r, const char *code,
    const char *msg, bool running)
{
	s_end_t a = { self, r, code, msg };
	size_t n = gw_jobs_drop_queued(self->jobs, &r->jobs, s_end_one, &a);

	if (running)
		gw_jobs_release(self->jobs, &r->jobs, s_end_one, &a);
	return n;
}

/* End every unfinished item of r now: as item errors (timeout) or, with
 * code NULL, as cancelled. Then done, and r is freed. */
static void
s_request_end(
    gw_req_pool_t *self, gw_req_t *r, const char *code, const char *msg)
{
	size_t open = r->n_items - r->n_ok - r->n_failed;

	if (code) {
		s_end_items(self, r, code, msg, true);
		self->st.timeouts += open;
		open = 0;
	} else {
		self->st.cancelled += open;
	}
	s_request_progress(self, r, open);
}

void
gw_req_cancel(gw_req_pool_t *self, gw_req_t *r)
{
	SL_INFO("REQ-CANCEL", "req=%s", r->id);
	s_request_end(self, r, NULL, NULL);
}

/*
 * r's queued items waited unknown_task_us for a worker that runs r's task
 * and none came: each ends as item error unknown_task (running ones go
 * on; with none running, done follows).
 */
static void
s_request_end_unserved(gw_req_pool_t *self, gw_req_t *r, int64_t now_us)
{
	char msg[SL_PROTO_MAX_NAME + 80];
	size_t n;

	snprintf(msg, sizeof msg,
	    "no registered worker runs task %s (waited %lld ms)", r->task,
	    (long long) (now_us - r->unserved_us) / 1000);
	n = s_end_items(self, r, "unknown_task", msg, false);
	self->st.unknown_task += n;
	SL_INFO("REQ-NOTASK", "req=%s task=%s items=%zu waited_ms=%lld", r->id,
	    r->task, n, (long long) (now_us - r->unserved_us) / 1000);
	s_request_progress(self, r, 0);
}

/* ---- accept --------------------------------------------------------- */

/*
 * Build every job of a submit before accepting it (all or nothing): one
 * per item, from the item as the edge packed it. Returns 0, or SL_EFULL
 * (over max_item_bytes) or SL_ENOMEM, with why naming the item's index.
 */
static int
s_make_jobs(gw_req_pool_t *self, gw_req_t *r, const gw_cmsg_t *m, char *why,
    size_t whylen)
{
	for (size_t i = 0; i < m->n_items; i++) {
		size_t len;
		const char *item = gw_cmsg_item(m, i, &len);

		if (self->lim.max_item_bytes
		    && len > self->lim.max_item_bytes) {
			snprintf(why, whylen,
			    "item %zu: %zu bytes packed, the limit is %zu", i,
			    len, self->lim.max_item_bytes);
			return SL_EFULL;
		}
		if (gw_jobs_add(
		        self->jobs, &r->jobs, gw_cmsg_seq(m, i), item, len)) {
			snprintf(why, whylen, "out of memory");
			return SL_ENOMEM;
		}
		r->n_items++;
		(*r->owner->open)++;
	}
	return 0;
}

/* A new request of o, with no jobs yet; NULL on ENOMEM. */
static gw_req_t *
s_request_new(gw_req_pool_t *self, gw_req_owner_t *o, const gw_cmsg_t *m)
{
	gw_req_t *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	snprintf(r->id, sizeof r->id, "%s", m->id);
	snprintf(r->task, sizeof r->task, "%s", m->task);
	gw_jobs_req_init(&r->jobs, r->id, r->task, &o->paused, m->traceparent);
	r->owner = o;
	sl_list_push_back(&o->requests, &r->owner_link);
	if (!o->n_requests++)
		sl_list_push_back(&self->owners, &o->link);
	self->st.requests++;
	return r;
}

int
gw_req_submit(gw_req_pool_t *self, gw_req_owner_t *o, const gw_cmsg_t *m,
    size_t workers, char *why, size_t whylen)
{
	gw_out_t f = { .type = GW_OUT_ACCEPTED,
		.items = m->n_items,
		.workers = workers };
	gw_req_t *r = s_request_new(self, o, m);
	int rc;

	if (!r) {
		snprintf(why, whylen, "out of memory");
		return SL_ENOMEM;
	}
	rc = s_make_jobs(self, r, m, why, whylen);
	if (!rc && m->channel[0]
	    && !(r->chan = gw_notify_hold(self->notify, m->channel))) {
		snprintf(why, whylen, "out of memory");
		rc = SL_ENOMEM;
	}
	if (rc) {
		s_request_free(self, r);
		return rc;
	}
	r->t_start_us = sl_clock_mono_us();
	/* Only with no worker at all (the broker refuses an unknown task
	 * otherwise): the wait for one that runs the task starts now. */
	if (!s_runs(self, r, false))
		r->unserved_us = r->t_start_us;
	if (m->timeout_ms)
		r->deadline_us = r->t_start_us + m->timeout_ms * 1000;
	r->timing = m->timing;
	if (self->lim.resume_us && !(r->rs = gw_resume_new(m->n_items, &rc))) {
		snprintf(why, whylen, "resume token: %s", sl_strerror(rc));
		s_request_free(self, r);
		return SL_ENOMEM;
	}
	SL_INFO("REQ-ACCEPT", "req=%s task=%s items=%zu notify=%s trace=%s",
	    r->id, r->task, m->n_items, m->channel[0] ? m->channel : "-",
	    r->jobs.trace);
	self->st.accepted++;
	f.id = r->id;
	f.traceparent = r->jobs.trace[0] ? r->jobs.trace : NULL;
	/* The token to its client only: a watcher must not take it over. */
	f.resume = r->rs ? gw_resume_token(r->rs) : NULL;
	s_send(o, &f);
	f.resume = NULL;
	gw_notify_fanout(self->notify, r->chan, &f);
	gw_jobs_start(self->jobs, &r->jobs);
	return 0;
}

/* ---- owners --------------------------------------------------------- */

void
gw_req_owner_init(gw_req_pool_t *self, gw_req_owner_t *o,
    int (*send)(void *ctx, void *user, const gw_out_t *frame), void *send_ctx,
    void *user, size_t *open)
{
	(void) self; /* o joins self->owners with its first request */
	*o = (gw_req_owner_t) {
		.open = open, .send = send, .send_ctx = send_ctx, .user = user
	};
	sl_list_init(&o->requests);
	sl_list_init(&o->link);
}

void
gw_req_owner_fini(gw_req_pool_t *self, gw_req_owner_t *o)
{
	sl_list_t *e;

	while ((e = sl_list_first(&o->requests)))
		s_request_drop(self, sl_container_of(e, gw_req_t, owner_link));
	sl_list_remove(&o->link);
}

/* ---- resume --------------------------------------------------------- */

/* A detached owner's transport: nobody listens; the log keeps what
 * matters. */
static int
s_drop(void *ctx, void *user, const gw_out_t *frame)
{
	(void) ctx, (void) user, (void) frame;
	return -1;
}

void
gw_req_owner_detach(gw_req_pool_t *self, gw_req_owner_t *o)
{
	int64_t now = sl_clock_mono_us();
	sl_list_t *e, *next;

	o->detached = true;
	o->paused = false;
	o->send = s_drop;
	for (e = o->requests.next; e != &o->requests; e = next) {
		gw_req_t *r = sl_container_of(e, gw_req_t, owner_link);

		next = e->next;
		if (!r->rs || !gw_resume_ok(r->rs)) {
			o->detached = false; /* not counted detached */
			s_request_drop(self, r);
			o->detached = true;
			continue;
		}
		gw_resume_detach(r->rs, now);
		self->st.detached++;
		SL_INFO("REQ-DETACH", "req=%s open=%zu finished=%zu", r->id,
		    gw_req_open(r), gw_resume_count(r->rs));
	}
	gw_req_dispatch(self); /* its pause is lifted */
}

gw_req_t *
gw_req_find_token(
    gw_req_pool_t *self, const char *id, const char *tok, size_t len)
{
	gw_req_t *found = NULL;

	for (sl_list_t *e = self->owners.next; e != &self->owners;
	     e = e->next) {
		gw_req_owner_t *o = sl_container_of(e, gw_req_owner_t, link);
		gw_req_t *r = gw_req_find(o, id);

		/* Ids are unique per client only: try each. */
		if (r && gw_resume_token_eq(r->rs, tok, len))
			found = r;
	}
	/* One comparison at least, whether or not the id exists. */
	(void) gw_resume_token_eq(NULL, tok, len);
	return found;
}

/* gw_resume_log_replay's way to the resuming client. */
static int
s_replay_send(void *ctx, const gw_out_t *f)
{
	return s_send(ctx, f);
}

/* r leaves its owner for o, with its share of open items. */
static void
s_move(gw_req_pool_t *self, gw_req_t *r, gw_req_owner_t *o)
{
	gw_req_owner_t *old = r->owner;

	if (old->detached)
		self->st.detached--;
	*old->open -= gw_req_open(r);
	*o->open += gw_req_open(r);
	sl_list_remove(&r->owner_link);
	if (!--old->n_requests)
		sl_list_remove(&old->link);
	sl_list_push_back(&o->requests, &r->owner_link);
	if (!o->n_requests++)
		sl_list_push_back(&self->owners, &o->link);
	r->owner = o;
	r->jobs.paused = &o->paused;
}

void
gw_req_resume(gw_req_pool_t *self, gw_req_t *r, gw_req_owner_t *o,
    const uint32_t *have, size_t n_have)
{
	size_t sent;

	if (r->owner != o)
		s_move(self, r, o);
	sent = gw_resume_take(r->rs, have, n_have, r->id, s_replay_send, o);
	self->st.resumed++;
	SL_INFO("REQ-RESUME", "req=%s have=%zu replayed=%zu open=%zu", r->id,
	    n_have, sent, gw_req_open(r));
	if (gw_resume_finished(r->rs)) {
		gw_out_t f = { .type = GW_OUT_DONE,
			.id = r->id,
			.ok = r->n_ok,
			.failed = r->n_failed,
			.elapsed_ms
			= (sl_clock_mono_us() - r->t_start_us) / 1000 };

		/* Its watchers had done when it finished. */
		s_send(o, &f);
		s_request_free(self, r);
		return;
	}
	gw_req_dispatch(self);
}

/* A detached request nobody resumed in time, or whose log is full: it
 * ends as a disconnect ends it, its workers told to stop. */
static void
s_expire(gw_req_pool_t *self, gw_req_t *r)
{
	self->st.resume_expired++;
	SL_INFO("REQ-EXPIRE", "req=%s open=%zu", r->id, gw_req_open(r));
	s_request_drop(self, r);
}

/* ---- jobs (the events of gw_jobs) ---------------------------------- */

/* A job of r died twice in a row with its worker: an item error. */
static void
s_on_job_poisoned(void *ctx, gw_jobs_req_t *jr, uint32_t seq)
{
	gw_req_pool_t *self = ctx;
	gw_req_t *r = sl_container_of(jr, gw_req_t, jobs);

	s_item_error(self, r, seq, "worker_lost",
	    "the item's worker died twice in a row running it", NULL);
	s_request_progress(self, r, 0);
}

/* A result of r's job from the worker that held it. */
static void
s_on_job_result(void *ctx, gw_jobs_req_t *jr, uint32_t seq,
    const gw_workers_result_t *res, const gw_out_timing_t *tm)
{
	gw_req_pool_t *self = ctx;
	gw_req_t *r = sl_container_of(jr, gw_req_t, jobs);

	gw_hist_observe_us(
	    &self->st.item_latency, sl_clock_mono_us() - r->t_start_us);
	if (res->ok) {
		gw_out_t f = { .type = GW_OUT_RESULT,
			.id = r->id,
			.seq = seq,
			.value.mp = res->value,
			.timing = r->timing,
			.tm = *tm,
			.restart = res->restart };

		r->n_ok++;
		(*r->owner->open)--;
		self->st.items_ok++;
		gw_req_send_frame(self, r, &f);
	} else {
		self->st.items_failed++;
		s_item_error(self, r, seq, res->code, res->message, tm);
	}
	self->st.results++;
	s_request_progress(self, r, 0);
}

void
gw_req_workers_events(gw_req_pool_t *self, gw_workers_events_t *out)
{
	gw_jobs_workers_events(self->jobs, out);
}

/* ---- timers --------------------------------------------------------- */

/* r's queued items wait for a worker that runs its task: from when none
 * does, they get unknown_task_us, then end as unknown_task. */
static void
s_check_unserved(gw_req_pool_t *self, gw_req_t *r, int64_t now_us)
{
	if (!self->lim.unknown_task_us)
		return;
	if (!gw_jobs_queued(&r->jobs) || s_runs(self, r, false)) {
		r->unserved_us = 0;
		return;
	}
	if (!r->unserved_us)
		r->unserved_us = now_us;
	else if (now_us - r->unserved_us >= self->lim.unknown_task_us)
		s_request_end_unserved(self, r, now_us);
}

void
gw_req_tick(gw_req_pool_t *self, int64_t now_us)
{
	sl_list_t *e, *next, *onext;

	gw_jobs_tick(self->jobs, now_us); /* progress whose turn came */
	/* Request deadlines (timeout_ms). */
	for (e = self->owners.next; e != &self->owners; e = onext) {
		gw_req_owner_t *o = sl_container_of(e, gw_req_owner_t, link);
		onext = e->next; /* o leaves owners with its last request */
		for (sl_list_t *q = o->requests.next; q != &o->requests;
		     q = next) {
			gw_req_t *r = sl_container_of(q, gw_req_t, owner_link);

			next = q->next; /* r may be freed */
			if (o->detached
			    && gw_resume_expired(
			        r->rs, now_us, self->lim.resume_us)) {
				s_expire(self, r);
			} else if (o->detached && gw_resume_finished(r->rs)) {
				continue;
			} else if (r->deadline_us
			    && now_us >= r->deadline_us) {
				SL_INFO("REQ-TIMEOUT", "req=%s", r->id);
				s_request_end(self, r, "timeout",
				    "the request's timeout_ms passed");
			} else {
				s_check_unserved(self, r, now_us);
			}
		}
	}
}

bool
gw_req_can_progress(const gw_req_pool_t *self)
{
	for (sl_list_t *e = self->owners.next; e != &self->owners;
	     e = e->next) {
		const gw_req_owner_t *o
		    = sl_container_of(e, gw_req_owner_t, link);

		for (sl_list_t *q = o->requests.next; q != &o->requests;
		     q = q->next) {
			const gw_req_t *r
			    = sl_container_of(q, gw_req_t, owner_link);

			/* Orphaned jobs (job->req NULL) do not count: their
			 * results would be dropped anyway. */
			if (r->jobs.n_running
			    || (gw_jobs_queued(&r->jobs)
			        && s_runs(self, r, true)))
				return true;
		}
	}
	return false;
}

void
gw_req_dispatch(gw_req_pool_t *self)
{
	gw_jobs_dispatch(self->jobs);
}

void
gw_req_stats(const gw_req_pool_t *self, gw_req_stats_t *out)
{
	gw_jobs_stats_t js;

	*out = self->st;
	gw_jobs_stats(self->jobs, &js);
	out->running = js.running;
	out->queued = js.queued;
	out->stale = js.stale;
	out->requeued = js.requeued;
	out->poisoned = js.poisoned;
	out->resume_bytes = self->budget.used;
	out->resume_bytes_max = self->budget.max;
	out->resume_full = self->budget.full;
}

void
gw_req_pool_destroy(gw_req_pool_t **self_p)
{
	gw_req_pool_t *self = self_p ? *self_p : NULL;

	if (!self)
		return;
	gw_jobs_destroy(&self->jobs);
	free(self);
	*self_p = NULL;
}
