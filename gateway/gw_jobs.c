/*
 * gw_jobs: jobs, their queues and the turns of requests (see gw_jobs.h).
 * lws service thread only.
 *
 * Every job is on exactly one list: its request's queue, or its holder's
 * list in gw_workers (job->jr may then be NULL: the request ended early,
 * the result will be dropped); it comes back through s_on_job_result or
 * s_on_job_lost, still ours.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_jobs.h"
#include "gw_prog.h"
#include "sl_clock.h"
#include "sl_err.h"
#include "sl_log.h"

typedef struct gw_job {
	/* wj.link: in jr->queue, or in its holder's list (gw_workers);
	 * wj.holder: NULL while queued. */
	gw_workers_job_t wj;
	gw_jobs_req_t *jr; /* NULL once the request has ended */
	uint32_t seq;      /* the client's seqs[i] for item i, or i */
	uint32_t attempts; /* workers that died holding it, in a row */
	uint32_t sends;    /* workers that took it (RETURNs not counted) */
	int64_t queued_us; /* monotonic: when it last joined its queue */
	int64_t wait_us;   /* in the queue before its last dispatch, in all */
	char worker[24];   /* label of its last worker */
	bool restart;      /* requeued after partials of it went out: its
	                      next partial or result says so */
	struct s_prog *prog; /* its progress; NULL until its first */
	size_t item_len;     /* bytes in item */
	uint8_t item[];      /* the item, packed msgpack */
} gw_job_t;

/* A running job's progress (gw_prog), made at its first report. */
typedef struct s_prog {
	gw_prog_t p;   /* p.link: in gw_jobs.pending while pending */
	gw_job_t *job; /* whose */
} s_prog_t;

struct gw_jobs {
	gw_jobs_events_t ev;
	int64_t progress_us; /* forward progress this often; 0: never */
	sl_list_t pending;   /* s_prog_t with a report waiting its turn */
	const gw_workers_ops_t *wops; /* the workers (gw_workers_ops) */
	gw_workers_t *workers;        /* their first argument */
	sl_list_t active; /* gw_jobs_req_t with queued jobs, in turn order */
	size_t n_active;
	gw_jobs_stats_t st;
};

gw_jobs_t *
gw_jobs_new(const gw_jobs_events_t *ev)
{
	gw_jobs_t *self = calloc(1, sizeof *self);

	if (!self)
		return NULL;
	self->ev = *ev;
	sl_list_init(&self->active);
	sl_list_init(&self->pending);
	return self;
}

void
gw_jobs_set_progress(gw_jobs_t *self, int64_t interval_us)
{
	self->progress_us = interval_us;
}

/* Free job and its progress (a pending report is dropped with it: none
 * goes after the item's result). */
static void
s_job_free(gw_job_t *job)
{
	if (job->prog) {
		sl_list_remove(&job->prog->p.link);
		free(job->prog);
	}
	free(job);
}

void
gw_jobs_destroy(gw_jobs_t **self_p)
{
	gw_jobs_t *self = self_p ? *self_p : NULL;

	if (!self)
		return;
	free(self);
	*self_p = NULL;
}

void
gw_jobs_use_workers(
    gw_jobs_t *self, const gw_workers_ops_t *ops, gw_workers_t *workers)
{
	self->wops = ops;
	self->workers = workers;
}

const gw_workers_ops_t *
gw_jobs_wops(const gw_jobs_t *self)
{
	return self->wops;
}

gw_workers_t *
gw_jobs_workers(const gw_jobs_t *self)
{
	return self->workers;
}

void
gw_jobs_req_init(gw_jobs_req_t *jr, const char *id, const char *task,
    const bool *paused, const char *trace)
{
	/* Without one, a new one: a request can always be followed through
	 * the logs. Only a kernel without random bytes leaves it empty. */
	if (trace && trace[0])
		snprintf(jr->trace, sizeof jr->trace, "%s", trace);
	else if (sl_trace_new(jr->trace)) {
		SL_WARN("REQ-NOTRACE", "req=%s: no random bytes", id);
		jr->trace[0] = '\0';
	}
	sl_list_init(&jr->queue);
	sl_list_init(&jr->active_link);
	jr->n_running = 0;
	jr->id = id;
	jr->task = task;
	jr->paused = paused;
}

bool
gw_jobs_queued(const gw_jobs_req_t *jr)
{
	return !sl_list_empty(&jr->queue);
}

/* ---- the turns ------------------------------------------------------ */

static void
s_activate(gw_jobs_t *self, gw_jobs_req_t *jr)
{
	if (!sl_list_linked(&jr->active_link) && gw_jobs_queued(jr)) {
		sl_list_push_back(&self->active, &jr->active_link);
		self->n_active++;
	}
}

static void
s_deactivate(gw_jobs_t *self, gw_jobs_req_t *jr)
{
	if (sl_list_linked(&jr->active_link)) {
		sl_list_remove(&jr->active_link);
		self->n_active--;
	}
}

int
gw_jobs_add(gw_jobs_t *self, gw_jobs_req_t *jr, uint32_t seq, const void *item,
    size_t len)
{
	gw_job_t *job = malloc(sizeof *job + len);

	if (!job)
		return SL_ENOMEM;
	job->wj.id = 0; /* gw_workers numbers each attempt */
	job->wj.holder = NULL;
	job->jr = jr;
	job->seq = seq;
	job->attempts = 0;
	job->sends = 0;
	job->queued_us = sl_clock_mono_us();
	job->wait_us = 0;
	job->worker[0] = '\0';
	job->restart = false;
	job->prog = NULL;
	job->item_len = len;
	memcpy(job->item, item, len);
	sl_list_push_back(&jr->queue, &job->wj.link);
	self->st.queued++;
	return 0;
}

void
gw_jobs_start(gw_jobs_t *self, gw_jobs_req_t *jr)
{
	s_activate(self, jr);
	gw_jobs_dispatch(self);
}

size_t
gw_jobs_drop_queued(gw_jobs_t *self, gw_jobs_req_t *jr,
    void (*each)(void *arg, uint32_t seq), void *arg)
{
	size_t n = 0;
	sl_list_t *e;

	s_deactivate(self, jr);
	while ((e = sl_list_first(&jr->queue))) {
		gw_job_t *job = sl_container_of(e, gw_job_t, wj.link);

		sl_list_remove(e);
		self->st.queued--;
		n++;
		if (each)
			each(arg, job->seq);
		s_job_free(job);
	}
	return n;
}

/* gw_jobs_release's walk over the held jobs. */
typedef struct s_release {
	gw_jobs_t *self;
	gw_jobs_req_t *jr;
	void (*each)(void *arg, uint32_t seq);
	void *arg;
} s_release_t;

static bool
s_release_one(void *arg, gw_workers_job_t *wj)
{
	s_release_t *a = arg;
	gw_job_t *job = sl_container_of(wj, gw_job_t, wj);

	if (job->jr != a->jr)
		return true;
	job->jr = NULL;
	a->jr->n_running--;
	a->self->wops->cancel(a->self->workers, wj);
	if (a->each)
		a->each(a->arg, job->seq);
	return a->jr->n_running > 0;
}

void
gw_jobs_release(gw_jobs_t *self, gw_jobs_req_t *jr,
    void (*each)(void *arg, uint32_t seq), void *arg)
{
	s_release_t a = { self, jr, each, arg };

	/* Held jobs point back at jr: walk the held jobs once. Only requests
	 * that end early pay for this. */
	if (jr->n_running)
		self->wops->each_job(self->workers, s_release_one, &a);
}

/* ---- workers (the events of gw_workers) ----------------------------- */

/*
 * A held job came back from its worker. It returns to the front of its
 * request's queue, unless the worker died holding it for the second time
 * in a row (crashed): then it is a poison item and ends as poisoned.
 */
static void
s_on_job_lost(void *ctx, gw_workers_job_t *wj, gw_workers_loss_t how)
{
	gw_jobs_t *self = ctx;
	gw_job_t *job = sl_container_of(wj, gw_job_t, wj);
	gw_jobs_req_t *jr = job->jr;
	uint32_t seq = job->seq;

	self->st.running--;
	if (!jr) {
		s_job_free(job);
		return;
	}
	jr->n_running--;
	if (how == GW_WORKERS_RETURNED)
		job->sends--;
	if (how == GW_WORKERS_CRASHED
	    && ++job->attempts >= GW_JOBS_MAX_ATTEMPTS) {
		SL_WARN("JOB-POISON", "req=%s seq=%u attempts=%u trace=%s",
		    jr->id, job->seq, job->attempts, jr->trace);
		self->st.poisoned++;
		s_job_free(job);
		self->ev.poisoned(self->ev.ctx, jr, seq);
		return;
	}
	/* Its client got partials of this attempt: the next attempt starts
	 * again at index 0, and says so. Its progress starts afresh too. */
	if (wj->next_partial)
		job->restart = true;
	if (job->prog) {
		sl_list_remove(&job->prog->p.link);
		free(job->prog);
		job->prog = NULL;
	}
	SL_DEBUG("JOB-REQUEUE", "req=%s seq=%u worker=%s lost=%s trace=%s",
	    jr->id, job->seq, job->worker,
	    how == GW_WORKERS_CRASHED    ? "crashed"
	        : how == GW_WORKERS_LEFT ? "left"
	                                 : "returned",
	    jr->trace);
	job->queued_us = sl_clock_mono_us();
	/* Its next send gives it a fresh id (gw_workers_send_job). */
	sl_list_push_front(&jr->queue, &job->wj.link);
	self->st.queued++;
	self->st.requeued++;
	s_activate(self, jr);
}

/* A result from the worker that held the job. */
static void
s_on_job_result(
    void *ctx, gw_workers_job_t *wj, const gw_workers_result_t *res)
{
	gw_jobs_t *self = ctx;
	gw_job_t *job = sl_container_of(wj, gw_job_t, wj);
	gw_jobs_req_t *jr = job->jr;
	uint32_t seq = job->seq;
	gw_workers_result_t r = *res;
	gw_out_timing_t tm
	    = { res->times.t_done_us, res->times.cpu_us, job->wait_us,
		      res->times.start_us, res->times.run_us, job->sends, "" };

	snprintf(tm.worker, sizeof tm.worker, "%s", job->worker);
	r.restart = job->restart;
	self->st.running--;
	s_job_free(job);
	if (!jr) {
		self->st.stale++; /* its request ended early */
		return;
	}
	SL_DEBUG("JOB-DONE", "req=%s seq=%u worker=%s ok=%d trace=%s", jr->id,
	    seq, tm.worker, res->ok, jr->trace);
	jr->n_running--;
	self->ev.result(self->ev.ctx, jr, seq, &r, &tm);
}

/* A PROGRESS of a running job: forwarded now, or kept for its turn
 * (gw_jobs_tick); dropped when progress is off. */
static void
s_on_job_progress(
    void *ctx, gw_workers_job_t *wj, double value, const char *text)
{
	gw_jobs_t *self = ctx;
	gw_job_t *job = sl_container_of(wj, gw_job_t, wj);

	if (!job->jr || !self->progress_us || !self->ev.progress)
		return;
	if (!job->prog) {
		job->prog = malloc(sizeof *job->prog);
		if (!job->prog)
			return; /* progress is droppable */
		gw_prog_init(&job->prog->p);
		job->prog->job = job;
	}
	if (gw_prog_offer(&job->prog->p, sl_clock_mono_us(), self->progress_us,
	        value, text))
		self->ev.progress(
		    self->ev.ctx, job->jr, job->seq, value, text);
	else if (!sl_list_linked(&job->prog->p.link))
		sl_list_push_back(&self->pending, &job->prog->p.link);
}

/* A PARTIAL of a running job (checked by gw_workers): at once. */
static void
s_on_job_partial(void *ctx, gw_workers_job_t *wj, uint32_t index,
    const msgpack_object *value)
{
	gw_jobs_t *self = ctx;
	gw_job_t *job = sl_container_of(wj, gw_job_t, wj);
	bool restart = job->restart;

	if (!job->jr || !self->ev.partial)
		return;
	job->restart = false;
	self->ev.partial(
	    self->ev.ctx, job->jr, job->seq, index, value, restart);
}

void
gw_jobs_tick(gw_jobs_t *self, int64_t now_us)
{
	sl_list_t *e = self->pending.next;

	while (e != &self->pending) {
		s_prog_t *sp = sl_container_of(e, s_prog_t, p.link);

		e = e->next;
		if (!gw_prog_due(&sp->p, now_us, self->progress_us))
			continue;
		sl_list_remove(&sp->p.link);
		if (sp->job->jr)
			self->ev.progress(self->ev.ctx, sp->job->jr,
			    sp->job->seq, sp->p.value,
			    sp->p.has_text ? sp->p.text : NULL);
	}
}

/* Credit or the workers changed. */
static void
s_on_workers_changed(void *ctx)
{
	gw_jobs_dispatch(ctx);
}

void
gw_jobs_workers_events(gw_jobs_t *self, gw_workers_events_t *out)
{
	out->result = s_on_job_result;
	out->progress = s_on_job_progress;
	out->partial = s_on_job_partial;
	out->lost = s_on_job_lost;
	out->changed = s_on_workers_changed;
	out->ctx = self;
}

/* ---- dispatch ------------------------------------------------------- */

/* Hand job to w. On failure w is gone and the job back in its queue
 * (gw_workers_send_job). */
static void
s_send_job(gw_jobs_t *self, void *w, gw_job_t *job)
{
	gw_jobs_req_t *jr = job->jr;

	/* Counted first: a failed send hands it back (s_on_job_lost). */
	self->st.running++;
	jr->n_running++;
	job->wait_us += sl_clock_mono_us() - job->queued_us;
	job->sends++;
	snprintf(job->worker, sizeof job->worker, "%s", self->wops->name(w));
	job->wj.trace = jr->trace[0] ? jr->trace : NULL;
	if (self->wops->send_job(self->workers, w, &job->wj, jr->task,
	        job->item, job->item_len)) {
		job->sends--; /* back in its queue: it never reached w */
		return;
	}
	SL_DEBUG("JOB-SENT",
	    "req=%s seq=%u job=%" PRIu64 " worker=%s trace=%s", jr->id,
	    job->seq, job->wj.id, job->worker, jr->trace);
}

/*
 * Round-robin over active requests: each turn takes one job from the
 * request at the head and moves the request to the tail. A request whose
 * task no free worker runs, or whose client is a paused slow reader,
 * waits its next turn; a full round without progress ends the pass.
 */
void
gw_jobs_dispatch(gw_jobs_t *self)
{
	size_t idle = 0;

	while (self->n_active && idle < self->n_active
	    && self->wops->any_credit(self->workers)) {
		gw_jobs_req_t *jr = sl_container_of(
		    sl_list_first(&self->active), gw_jobs_req_t, active_link);
		void *w = *jr->paused
		    ? NULL
		    : self->wops->pick(self->workers, jr->task);
		gw_job_t *job;

		s_deactivate(self, jr);
		if (!w) {
			s_activate(self, jr);
			idle++;
			continue;
		}
		idle = 0;
		job = sl_container_of(
		    sl_list_first(&jr->queue), gw_job_t, wj.link);
		sl_list_remove(&job->wj.link);
		self->st.queued--;
		s_activate(self, jr); /* to the tail, if it has more */
		s_send_job(self, w, job);
	}
}

void
gw_jobs_stats(const gw_jobs_t *self, gw_jobs_stats_t *out)
{
	*out = self->st;
}
