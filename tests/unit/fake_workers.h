/*
 * fake_workers: gw_workers_ops_t as plain functions, for unit.req and
 * unit.jobs: one worker of capacity cap that runs "sum" and records what
 * it holds and what it was told to cancel. Test main thread.
 */
#ifndef FAKE_WORKERS_H
#define FAKE_WORKERS_H

#include "gw_workers.h"

#define MAX_REC 32

/* The fake workers: one of capacity cap, running "sum". */
typedef struct fake_workers {
	size_t cap;
	gw_workers_job_t *held[MAX_REC]; /* in the order sent */
	size_t n_held;
	uint64_t next_id;
	uint64_t cancels[MAX_REC]; /* job ids told to CANCEL */
	size_t n_cancels;
	char last_trace[64]; /* the traceparent of the last JOB sent */
} fake_workers_t;

static inline fake_workers_t *
s_fw(const gw_workers_t *self)
{
	return (fake_workers_t *) (void *) self;
}

static inline bool
s_w_runs(const gw_workers_t *self, const char *task, bool ready)
{
	(void) self;
	(void) ready;
	return !strcmp(task, "sum");
}

static inline bool
s_w_any_credit(const gw_workers_t *self)
{
	return s_fw(self)->n_held < s_fw(self)->cap;
}

static inline void *
s_w_pick(gw_workers_t *self, const char *task)
{
	return s_w_any_credit(self) && s_w_runs(self, task, true)
	    ? (void *) self
	    : NULL;
}

static inline int
s_w_send_job(gw_workers_t *self, void *worker, gw_workers_job_t *job,
    const char *task, const void *item, size_t len)
{
	fake_workers_t *w = s_fw(self);

	(void) worker;
	(void) task;
	(void) item;
	(void) len;
	job->id = ++w->next_id;
	job->holder = w;
	snprintf(w->last_trace, sizeof w->last_trace, "%s",
	    job->trace ? job->trace : "");
	w->held[w->n_held++] = job;
	return 0;
}

static inline void
s_w_cancel(gw_workers_t *self, gw_workers_job_t *job)
{
	fake_workers_t *w = s_fw(self);

	w->cancels[w->n_cancels++] = job->id;
}

static inline void
s_w_each_job(gw_workers_t *self, bool (*fn)(void *arg, gw_workers_job_t *job),
    void *arg)
{
	fake_workers_t *w = s_fw(self);

	for (size_t i = 0; i < w->n_held; i++)
		if (!fn(arg, w->held[i]))
			return;
}

static inline void
s_w_stats(const gw_workers_t *self, gw_workers_stats_t *out)
{
	(void) self;
	memset(out, 0, sizeof *out);
	out->workers = 1;
}

static inline const char *
s_w_name(const void *worker)
{
	(void) worker;
	return "w1";
}

static const gw_workers_ops_t s_ops = { s_w_runs, s_w_any_credit, s_w_pick,
	s_w_send_job, s_w_cancel, s_w_each_job, s_w_stats, s_w_name };

/* Take the job held in slot i back from the fake worker w. */
static inline gw_workers_job_t *
s_w_unhold(fake_workers_t *w, size_t i)
{
	gw_workers_job_t *job = w->held[i];

	memmove(&w->held[i], &w->held[i + 1],
	    (w->n_held - i - 1) * sizeof w->held[0]);
	w->n_held--;
	job->holder = NULL;
	return job;
}

#endif
