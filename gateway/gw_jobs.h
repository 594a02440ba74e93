/*
 * gw_jobs: the jobs of every request, from queued to back from a worker.
 *
 * A job is one item of a request as a worker receives it (its packed
 * msgpack bytes and its seq). Each request's jobs wait in its own queue,
 * in order; requests with queued jobs take turns (round-robin), one job
 * per turn, so a large request cannot make a small one wait behind all
 * of it. A job goes only to a worker that runs its task and has free
 * credit (picked by the workers, gw_workers_ops_t), never while its
 * client is a paused slow reader. A job whose worker dies goes back to
 * the front of its queue, unless it died twice in a row with its worker
 * (a poison item). Results and poisoned items are handed to the
 * request's owner (gw_req) through gw_jobs_events_t, with where the
 * item's time went (its waits in the queue, its attempts, the worker's
 * timings); every job carries its request's W3C traceparent to its
 * worker and into the log lines of its dispatch, result and requeue
 * (JOB-SENT, JOB-DONE, JOB-REQUEUE). A request that
 * ends early lets go of its jobs (queued ones are freed, running ones
 * orphaned and cancelled on their workers, their results dropped later).
 *
 * Ownership: gw_jobs owns every job. A request embeds a gw_jobs_req_t.
 * lws service thread only.
 */
#ifndef GW_JOBS_H
#define GW_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_out.h"
#include "gw_workers.h"
#include "sl_list.h"
#include "sl_trace.h"

typedef struct gw_jobs gw_jobs_t;

/* What gw_jobs keeps of one request; embedded in it. */
typedef struct gw_jobs_req {
	sl_list_t queue;       /* jobs waiting, in order (private) */
	sl_list_t active_link; /* in the turn list while queued (private) */
	size_t n_running;      /* jobs held by workers */
	const char *id;        /* its id, for logs (borrowed) */
	const char *task;      /* its task (borrowed from the request) */
	const bool *paused;    /* its client's: no dispatch while true */
	char trace[SL_TRACE_LEN + 1]; /* its traceparent; "" only if none
	                               * could be made */
} gw_jobs_req_t;

/* The request's side: jr is the one embedded in the request. */
typedef struct gw_jobs_events {
	/* A result (ok or an item error) from the worker that held it, and
	 * where its time went. */
	void (*result)(void *ctx, gw_jobs_req_t *jr, uint32_t seq,
	    const gw_workers_result_t *res, const gw_out_timing_t *tm);
	/* Revision 7, both optional (NULL: dropped). Progress of a running
	 * job, throttled (gw_jobs_set_progress): never after its result.
	 * A partial of it, at once; restart: the first since the job
	 * started again on another worker after partials of it went out. */
	void (*progress)(void *ctx, gw_jobs_req_t *jr, uint32_t seq,
	    double progress, const char *text);
	void (*partial)(void *ctx, gw_jobs_req_t *jr, uint32_t seq,
	    uint32_t index, const msgpack_object *value, bool restart);
	/* Its worker died holding it twice in a row: the item is lost. */
	void (*poisoned)(void *ctx, gw_jobs_req_t *jr, uint32_t seq);
	void *ctx;
} gw_jobs_events_t;

/* A job whose worker died (crash, silence) this many times in a row ends
 * as poisoned instead of being retried forever. */
#define GW_JOBS_MAX_ATTEMPTS 2

typedef struct gw_jobs_stats {
	size_t running;    /* jobs held by workers */
	size_t queued;     /* jobs waiting for a worker */
	uint64_t stale;    /* results of requests that ended early */
	uint64_t requeued; /* jobs given back to the queue by a worker */
	uint64_t poisoned; /* jobs that ended as poisoned */
} gw_jobs_stats_t;

/* ev is copied. NULL on ENOMEM. Give it its workers (gw_jobs_use_workers)
 * before the first job. */
gw_jobs_t *gw_jobs_new(const gw_jobs_events_t *ev);
/* Every request must have let go of its jobs first. NULL-safe. */
void gw_jobs_destroy(gw_jobs_t **self_p);

/* Reach the workers through ops, workers being their first argument. */
void gw_jobs_use_workers(
    gw_jobs_t *self, const gw_workers_ops_t *ops, gw_workers_t *workers);
const gw_workers_ops_t *gw_jobs_wops(const gw_jobs_t *self);
gw_workers_t *gw_jobs_workers(const gw_jobs_t *self);
/* gw_jobs' side of gw_workers (results, jobs handed back, credit). */
void gw_jobs_workers_events(gw_jobs_t *self, gw_workers_events_t *out);

/* A new request's part: its id and task (borrowed: live as long as jr),
 * its client's pause flag (repointed when it changes hands), its
 * traceparent (copied; checked by the caller with sl_trace_ok), or
 * NULL or "" to make a new one. */
void gw_jobs_req_init(gw_jobs_req_t *jr, const char *id, const char *task,
    const bool *paused, const char *trace);
/* Queue one more job of jr: the item's len bytes (copied) as seq. 0 or
 * SL_ENOMEM. It waits until gw_jobs_start. */
int gw_jobs_add(gw_jobs_t *self, gw_jobs_req_t *jr, uint32_t seq,
    const void *item, size_t len);
/* jr's queued jobs join the turns; dispatch follows. */
void gw_jobs_start(gw_jobs_t *self, gw_jobs_req_t *jr);
/* Has jr jobs waiting for a worker? */
bool gw_jobs_queued(const gw_jobs_req_t *jr);

/* Free jr's queued jobs, calling each(arg, seq) (if not NULL) for each,
 * in order; jr leaves the turns. How many. */
size_t gw_jobs_drop_queued(gw_jobs_t *self, gw_jobs_req_t *jr,
    void (*each)(void *arg, uint32_t seq), void *arg);
/* Let go of jr's running jobs: each is orphaned (its result will be
 * dropped), its worker told to CANCEL it, and each(arg, seq) called (if
 * not NULL). */
void gw_jobs_release(gw_jobs_t *self, gw_jobs_req_t *jr,
    void (*each)(void *arg, uint32_t seq), void *arg);

/* Forward a job's progress at most every interval_us (the latest
 * report winning); 0: never. Default 0. */
void gw_jobs_set_progress(gw_jobs_t *self, int64_t interval_us);

/* Progress reports whose turn has come go out. Call every 100 ms or so. */
void gw_jobs_tick(gw_jobs_t *self, int64_t now_us);

/* Hand queued jobs to workers with free credit, requests taking turns. */
void gw_jobs_dispatch(gw_jobs_t *self);

void gw_jobs_stats(const gw_jobs_t *self, gw_jobs_stats_t *out);

#endif
