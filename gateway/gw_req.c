/*
 * gw_req: requests and their jobs (see gw_req.h). lws service thread
 * only.
 *
 * Ownership: an owner (a client) owns its requests; a request owns its
 * queued jobs. A job a worker holds is linked on that worker's list in
 * gw_workers (job->req may then be NULL: the request ended early, the
 * result will be dropped) and comes back through s_on_job_result or
 * s_on_job_lost, still ours. Every job is on exactly one list: its
 * request's queue or its worker's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_req.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_proto.h"

typedef struct gw_job {
	/* wj.link: in req->queue, or in its holder's list (gw_workers);
	 * wj.holder: NULL while queued. */
	gw_workers_job_t wj;
	gw_req_t *req;     /* NULL once the request has ended */
	uint32_t seq;      /* the client's seqs[i] for item i, or i */
	uint32_t attempts; /* workers that died holding it, in a row */
	size_t item_len;   /* bytes in item */
	uint8_t item[];    /* the item, packed msgpack */
} gw_job_t;

struct gw_req {
	sl_list_t owner_link;  /* in owner->requests */
	sl_list_t active_link; /* in pool->active while queue non-empty */
	gw_req_owner_t *owner;
	char id[GW_CMSG_MAX_ID + 1];
	char task[SL_PROTO_MAX_NAME + 1];
	sl_list_t queue;        /* gw_job_t waiting for a worker, in order */
	size_t n_items;         /* jobs created */
	size_t n_running;       /* jobs held by workers */
	size_t n_ok;            /* results forwarded */
	size_t n_failed;        /* item errors forwarded */
	int64_t t_start_us;     /* monotonic, at accept */
	int64_t deadline_us;    /* monotonic; 0: no timeout_ms */
	int64_t unserved_us;    /* monotonic: since then no worker runs task */
	bool timing;            /* results carry the worker's timings */
	gw_notify_chan_t *chan; /* notify channel (held), or NULL */
	gw_resume_t *rs; /* its token and finished items; NULL: no resume */
};

struct gw_req_pool {
	gw_req_limits_t lim;
	gw_notify_t *notify;          /* borrowed */
	const gw_workers_ops_t *wops; /* the workers (gw_workers_ops) */
	gw_workers_t *workers;        /* their first argument */
	sl_list_t owners;             /* gw_req_owner_t, in arrival order */
	sl_list_t active; /* gw_req_t with queued jobs, in turn order */
	size_t n_active;
	gw_resume_budget_t budget; /* all requests' logs */
	gw_req_stats_t st;
};

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
	sl_list_init(&self->active);
	gw_hist_init_latency(&self->st.item_latency);
	return self;
}

void
gw_req_use_workers(
    gw_req_pool_t *self, const gw_workers_ops_t *ops, gw_workers_t *workers)
{
	self->wops = ops;
	self->workers = workers;
}

/* ---- sending -------------------------------------------------------- */

static int
s_send(gw_req_owner_t *o, const gw_out_t *f)
{
	return o->send(o->send_ctx, o->user, f);
}

/* A request's frame: to its client, then to its channel's watchers. An
 * item the client said it holds (resume's have) is not sent again. */
static void
s_send_req(gw_req_pool_t *self, gw_req_t *r, gw_out_t *f)
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
    const char *msg)
{
	gw_out_t f = { .type = GW_OUT_ITEM_ERROR,
		.id = r->id,
		.seq = seq,
		.code = code,
		.message = msg };

	r->n_failed++;
	(*r->owner->open)--;
	s_send_req(self, r, &f);
}

/* ---- requests ------------------------------------------------------- */

static void
s_activate(gw_req_pool_t *self, gw_req_t *r)
{
	if (!sl_list_linked(&r->active_link) && !sl_list_empty(&r->queue)) {
		sl_list_push_back(&self->active, &r->active_link);
		self->n_active++;
	}
}

static void
s_deactivate(gw_req_pool_t *self, gw_req_t *r)
{
	if (sl_list_linked(&r->active_link)) {
		sl_list_remove(&r->active_link);
		self->n_active--;
	}
}

/*
 * Let go of r's running jobs: each is orphaned (its result will be
 * dropped) and its worker told to CANCEL it, so the worker is free again
 * within a slice of work. With code, each also ends as an item error.
 */
typedef struct s_release {
	gw_req_pool_t *self;
	gw_req_t *r;
	const char *code; /* item error to end each with, or NULL */
	const char *msg;
} s_release_t;

static bool
s_release_one(void *arg, gw_workers_job_t *wj)
{
	s_release_t *a = arg;
	gw_job_t *job = sl_container_of(wj, gw_job_t, wj);
	gw_req_t *r = a->r;

	if (job->req != r)
		return true;
	job->req = NULL;
	r->n_running--;
	a->self->wops->cancel(a->self->workers, wj);
	if (a->code) {
		s_item_error(a->self, r, job->seq, a->code, a->msg);
	}
	return r->n_running > 0;
}

static void
s_release_running(
    gw_req_pool_t *self, gw_req_t *r, const char *code, const char *msg)
{
	s_release_t a = { self, r, code, msg };

	/* Held jobs point back at r: walk the held jobs once. Only requests
	 * that end early pay for this. */
	if (r->n_running)
		self->wops->each_job(self->workers, s_release_one, &a);
}

/* Free a request: queued jobs go with it, running ones are cancelled. */
static void
s_request_free(gw_req_pool_t *self, gw_req_t *r)
{
	sl_list_t *e;

	s_deactivate(self, r);
	while ((e = sl_list_first(&r->queue))) {
		sl_list_remove(e);
		free(sl_container_of(e, gw_job_t, wj.link));
		self->st.queued--;
	}
	s_release_running(self, r, NULL, NULL);
	*r->owner->open -= r->n_items - r->n_ok - r->n_failed;
	sl_list_remove(&r->owner_link);
	r->owner->n_requests--;
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
	s_send_req(self, r, &f);
	/* Its client is away: done waits in the log's stead for a resume
	 * (a cancel frees it: only expiry and fini cancel a detached one). */
	if (r->owner->detached && !cancelled) {
		gw_resume_finish(r->rs);
		return;
	}
	s_request_free(self, r);
}

/* End every queued item of r as an item error code (msg): r leaves the
 * turn list, each item counts as failed and leaves its client's share.
 * How many. */
static size_t
s_end_queued(
    gw_req_pool_t *self, gw_req_t *r, const char *code, const char *msg)
{
	size_t n = 0;
	sl_list_t *e;

	s_deactivate(self, r);
	while ((e = sl_list_first(&r->queue))) {
		gw_job_t *job = sl_container_of(e, gw_job_t, wj.link);

		sl_list_remove(e);
		self->st.queued--;
		n++;
		s_item_error(self, r, job->seq, code, msg);
		free(job);
	}
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
		s_end_queued(self, r, code, msg);
		s_release_running(self, r, code, msg);
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
	n = s_end_queued(self, r, "unknown_task", msg);
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
		gw_job_t *job;

		if (self->lim.max_item_bytes
		    && len > self->lim.max_item_bytes) {
			snprintf(why, whylen,
			    "item %zu: %zu bytes packed, the limit is %zu", i,
			    len, self->lim.max_item_bytes);
			return SL_EFULL;
		}
		job = malloc(sizeof *job + len);
		if (!job) {
			snprintf(why, whylen, "out of memory");
			return SL_ENOMEM;
		}
		job->wj.id = 0; /* gw_workers numbers each attempt */
		job->wj.holder = NULL;
		job->req = r;
		job->seq = gw_cmsg_seq(m, i);
		job->attempts = 0;
		job->item_len = len;
		memcpy(job->item, item, len);
		sl_list_push_back(&r->queue, &job->wj.link);
		r->n_items++;
		(*r->owner->open)++;
		self->st.queued++;
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
	sl_list_init(&r->queue);
	sl_list_init(&r->active_link);
	r->owner = o;
	sl_list_push_back(&o->requests, &r->owner_link);
	o->n_requests++;
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
	if (!self->wops->runs(self->workers, r->task, false))
		r->unserved_us = r->t_start_us;
	if (m->timeout_ms)
		r->deadline_us = r->t_start_us + m->timeout_ms * 1000;
	r->timing = m->timing;
	if (self->lim.resume_us && !(r->rs = gw_resume_new(m->n_items, &rc))) {
		snprintf(why, whylen, "resume token: %s", sl_strerror(rc));
		s_request_free(self, r);
		return SL_ENOMEM;
	}
	SL_INFO("REQ-ACCEPT", "req=%s task=%s items=%zu notify=%s", r->id,
	    r->task, m->n_items, m->channel[0] ? m->channel : "-");
	self->st.accepted++;
	f.id = r->id;
	/* The token to its client only: a watcher must not take it over. */
	f.resume = r->rs ? gw_resume_token(r->rs) : NULL;
	s_send(o, &f);
	f.resume = NULL;
	gw_notify_fanout(self->notify, r->chan, &f);
	s_activate(self, r);
	gw_req_dispatch(self);
	return 0;
}

/* ---- owners --------------------------------------------------------- */

void
gw_req_owner_init(gw_req_pool_t *self, gw_req_owner_t *o,
    int (*send)(void *ctx, void *user, const gw_out_t *frame), void *send_ctx,
    void *user, size_t *open)
{
	sl_list_init(&o->requests);
	o->n_requests = 0;
	o->open = open;
	o->paused = false;
	o->send = send;
	o->send_ctx = send_ctx;
	o->user = user;
	sl_list_push_back(&self->owners, &o->link);
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
	old->n_requests--;
	sl_list_push_back(&o->requests, &r->owner_link);
	o->n_requests++;
	r->owner = o;
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

/* ---- workers (the events of gw_workers) ----------------------------- */

/*
 * A held job came back from its worker. It returns to the front of its
 * request's queue, unless the worker died holding it for the second time
 * in a row (crashed): then it is a poison item and ends as an error.
 */
static void
s_on_job_lost(void *ctx, gw_workers_job_t *wj, bool crashed)
{
	gw_req_pool_t *self = ctx;
	gw_job_t *job = sl_container_of(wj, gw_job_t, wj);
	gw_req_t *r = job->req;

	self->st.running--;
	if (!r) {
		free(job);
		return;
	}
	r->n_running--;
	if (crashed && ++job->attempts >= GW_REQ_MAX_ATTEMPTS) {
		SL_WARN("JOB-POISON", "req=%s seq=%u attempts=%u", r->id,
		    job->seq, job->attempts);
		self->st.poisoned++;
		s_item_error(self, r, job->seq, "worker_lost",
		    "the item's worker died twice in a row running it");
		free(job);
		s_request_progress(self, r, 0);
		return;
	}
	/* Its next send gives it a fresh id (gw_workers_send_job). */
	sl_list_push_front(&r->queue, &job->wj.link);
	self->st.queued++;
	self->st.requeued++;
	s_activate(self, r);
}

/* A result from the worker that held the job. */
static void
s_on_job_result(
    void *ctx, gw_workers_job_t *wj, const gw_workers_result_t *res)
{
	gw_req_pool_t *self = ctx;
	gw_job_t *job = sl_container_of(wj, gw_job_t, wj);
	gw_req_t *r = job->req;

	self->st.running--;
	if (!r) {
		self->st.stale++; /* its request ended early */
		free(job);
		return;
	}
	r->n_running--;
	gw_hist_observe_us(
	    &self->st.item_latency, sl_clock_mono_us() - r->t_start_us);
	if (res->ok) {
		gw_out_t f = { .type = GW_OUT_RESULT,
			.id = r->id,
			.seq = job->seq,
			.value.mp = res->value,
			.timing = r->timing,
			.t_done_us = res->t_done_us,
			.cpu_us = res->cpu_us };

		r->n_ok++;
		(*r->owner->open)--;
		self->st.items_ok++;
		s_send_req(self, r, &f);
	} else {
		self->st.items_failed++;
		s_item_error(self, r, job->seq, res->code, res->message);
	}
	self->st.results++;
	free(job);
	s_request_progress(self, r, 0);
}

/* Credit or the workers changed. */
static void
s_on_workers_changed(void *ctx)
{
	gw_req_dispatch(ctx);
}

void
gw_req_workers_events(gw_req_pool_t *self, gw_workers_events_t *out)
{
	out->result = s_on_job_result;
	out->lost = s_on_job_lost;
	out->changed = s_on_workers_changed;
	out->ctx = self;
}

/* ---- timers --------------------------------------------------------- */

/* r's queued items wait for a worker that runs its task: from when none
 * does, they get unknown_task_us, then end as unknown_task. */
static void
s_check_unserved(gw_req_pool_t *self, gw_req_t *r, int64_t now_us)
{
	if (!self->lim.unknown_task_us)
		return;
	if (sl_list_empty(&r->queue)
	    || self->wops->runs(self->workers, r->task, false)) {
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
	sl_list_t *e, *next;

	/* Request deadlines (timeout_ms). */
	for (e = self->owners.next; e != &self->owners; e = e->next) {
		gw_req_owner_t *o = sl_container_of(e, gw_req_owner_t, link);

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
			if (r->n_running
			    || (!sl_list_empty(&r->queue)
			        && self->wops->runs(
			            self->workers, r->task, true)))
				return true;
		}
	}
	return false;
}

/* ---- dispatch ------------------------------------------------------- */

/* Hand job to w. On failure w is gone and the job back in its queue
 * (gw_workers_send_job). */
static void
s_send_job(gw_req_pool_t *self, void *w, gw_job_t *job)
{
	gw_req_t *r = job->req;

	/* Counted first: a failed send hands it back (s_on_job_lost). */
	self->st.running++;
	r->n_running++;
	if (self->wops->send_job(
	        self->workers, w, &job->wj, r->task, job->item, job->item_len))
		return;
	SL_DEBUG("JOB-SENT", "req=%s seq=%u job=%" PRIu64 " worker=%s", r->id,
	    job->seq, job->wj.id, self->wops->name(w));
}

/*
 * Round-robin over active requests: each turn takes one job from the
 * request at the head and moves the request to the tail. A request whose
 * task no free worker runs, or whose client is a paused slow reader,
 * waits its next turn; a full round without progress ends the pass.
 */
void
gw_req_dispatch(gw_req_pool_t *self)
{
	size_t idle = 0;

	while (self->n_active && idle < self->n_active
	    && self->wops->any_credit(self->workers)) {
		gw_req_t *r = sl_container_of(
		    sl_list_first(&self->active), gw_req_t, active_link);
		void *w = r->owner->paused
		    ? NULL
		    : self->wops->pick(self->workers, r->task);
		gw_job_t *job;

		s_deactivate(self, r);
		if (!w) {
			s_activate(self, r);
			idle++;
			continue;
		}
		idle = 0;
		job = sl_container_of(
		    sl_list_first(&r->queue), gw_job_t, wj.link);
		sl_list_remove(&job->wj.link);
		self->st.queued--;
		s_activate(self, r); /* to the tail, if it has more */
		s_send_job(self, w, job);
	}
}

void
gw_req_stats(const gw_req_pool_t *self, gw_req_stats_t *out)
{
	*out = self->st;
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
	free(self);
	*self_p = NULL;
}
