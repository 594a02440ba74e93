/*
 * gw_req: requests and their jobs, from accept to done.
 *
 * A submitted request becomes one job per item (gw_jobs: queued per
 * request, requests taking turns for workers with free credit). Results
 * are forwarded the moment they arrive, tagged with the item's seq; done
 * follows the last one. A job whose worker died twice in a row running
 * it (GW_JOBS_MAX_ATTEMPTS) ends as worker_lost. A request ends early by
 * cancel, by its timeout_ms, by its client leaving, or (its queued items)
 * when no worker ran its task for unknown_task_us.
 *
 * With resume_us, a request can outlive its client: when the client's
 * connection drops, its requests go on detached (gw_req_owner_detach),
 * their finished items kept in a log (gw_resume), until a resume with
 * the request's token hands them to a new owner (gw_req_resume) or
 * resume_us passes and they are cancelled (gw_req_tick).
 *
 * Every frame of a request goes to its client and to the watchers of its
 * notify channel (gw_notify). The broker validates client messages and
 * decides what is accepted; this module keeps what was. One pool holds
 * all unfinished requests of one broker.
 *
 * lws service thread only.
 */
#ifndef GW_REQ_H
#define GW_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_cmsg.h"
#include "gw_hist.h"
#include "gw_notify.h"
#include "gw_out.h"
#include "gw_resume.h"
#include "gw_workers.h"
#include "sl_list.h"

typedef struct gw_req_pool gw_req_pool_t;
typedef struct gw_req gw_req_t;

/* What requests need of their client; embedded in it by the broker. */
typedef struct gw_req_owner {
	sl_list_t link;     /* in the pool's owners (private) */
	sl_list_t requests; /* gw_req_t, unfinished (private) */
	size_t n_requests;  /* unfinished requests */
	size_t *open;       /* items accepted and not ended: its share's */
	bool paused;        /* slow reader: none of its jobs is dispatched */
	bool detached;      /* its client is gone; its requests wait for a
	                     * resume (gw_req_owner_detach) */
	/* The client's transport: frames are borrowed for the call. */
	int (*send)(void *ctx, void *user, const gw_out_t *frame);
	void *send_ctx;
	void *user;
} gw_req_owner_t;

typedef struct gw_req_limits {
	size_t max_item_bytes;   /* one item packed as msgpack; 0: no limit */
	int64_t unknown_task_us; /* see gw_broker_limits_t; 0: forever */
	int64_t resume_us;       /* a detached request waits this long for
	                          * a resume; 0: no resume at all */
	size_t max_resume_bytes; /* all logs of finished items together */
	int64_t progress_us;     /* forward an item's progress at most this
	                          * often; 0: never (gw_jobs_set_progress) */
} gw_req_limits_t;

typedef struct gw_req_stats {
	size_t running;          /* jobs held by workers */
	size_t queued;           /* jobs waiting for a worker */
	size_t requests;         /* unfinished requests */
	uint64_t accepted;       /* requests accepted */
	uint64_t results;        /* results forwarded (ok or item error) */
	uint64_t stale;          /* results of requests that ended early */
	uint64_t requeued;       /* jobs given back to the queue by a worker */
	uint64_t poisoned;       /* jobs ended as worker_lost */
	uint64_t timeouts;       /* items ended by a request's timeout_ms */
	uint64_t unknown_task;   /* items ended: no worker ran their task */
	uint64_t cancelled;      /* items ended by cancel or disconnect */
	uint64_t items_ok;       /* results forwarded */
	uint64_t items_failed;   /* item errors reported by workers */
	size_t detached;         /* requests whose client is gone */
	uint64_t resumed;        /* requests taken over by a resume */
	uint64_t resume_expired; /* detached requests nobody resumed */
	uint64_t resume_full;    /* records refused: logs over their budget */
	size_t resume_bytes;     /* bytes the logs of finished items hold */
	size_t resume_bytes_max; /* ... their limit */
	uint64_t progress;       /* progress frames sent (revision 7) */
	uint64_t partials;       /* partial frames sent */
	gw_hist_t item_latency;  /* accept -> result at the gateway */
} gw_req_stats_t;

/* notify is borrowed and must outlive the pool. NULL on ENOMEM. Give it
 * its workers (gw_req_use_workers) before the first request. */
gw_req_pool_t *gw_req_pool_new(
    const gw_req_limits_t *limits, gw_notify_t *notify);
/* Every owner must have gone first (gw_req_owner_fini). NULL-safe. */
void gw_req_pool_destroy(gw_req_pool_t **self_p);

/* Reach the workers through ops (gw_workers_ops), workers being their
 * first argument. */
void gw_req_use_workers(
    gw_req_pool_t *self, const gw_workers_ops_t *ops, gw_workers_t *workers);
/* The pool's side of gw_workers (results, jobs handed back, credit). */
void gw_req_workers_events(gw_req_pool_t *self, gw_workers_events_t *out);

/* A client arrives: send(send_ctx, user, frame) reaches it, open counts
 * its share's items (may be repointed before its first request). */
void gw_req_owner_init(gw_req_pool_t *self, gw_req_owner_t *o,
    int (*send)(void *ctx, void *user, const gw_out_t *frame), void *send_ctx,
    void *user, size_t *open);
/* The client is gone: its requests end (their watchers get done, with
 * the open items cancelled), queued jobs are dropped, running ones
 * cancelled and their results will be dropped. */
void gw_req_owner_fini(gw_req_pool_t *self, gw_req_owner_t *o);

/*
 * The client is gone but its requests may be resumed (resume_us > 0):
 * they go on running under o, now detached (its frames are dropped, its
 * pause lifted); a request that cannot be resumed (its log was over the
 * budget) ends as gw_req_owner_fini ends it. The caller keeps o until
 * o->n_requests is 0 (gw_req_tick ends what waits past resume_us), then
 * calls gw_req_owner_fini.
 */
void gw_req_owner_detach(gw_req_pool_t *self, gw_req_owner_t *o);

/* The unfinished (or, detached, finished and not yet resumed) request
 * with this id whose token is tok (len bytes), of any owner; NULL when
 * none (the same work either way: the answer tells nothing). */
gw_req_t *gw_req_find_token(
    gw_req_pool_t *self, const char *id, const char *tok, size_t len);
/* Items of r not ended yet (what it counts against its client's share). */
size_t gw_req_open(const gw_req_t *r);
/* Does r belong to o? */
bool gw_req_owned_by(const gw_req_t *r, const gw_req_owner_t *o);
/*
 * o takes r over (from a detached owner or a live one): every finished
 * item whose seq is not in have[n_have] is sent to o again, then the
 * rest as they finish, then done (at once if r has finished; r is then
 * freed). The caller checked o's limits.
 */
void gw_req_resume(gw_req_pool_t *self, gw_req_t *r, gw_req_owner_t *o,
    const uint32_t *have, size_t n_have);

/* o's unfinished request with this id, or NULL. */
gw_req_t *gw_req_find(gw_req_owner_t *o, const char *id);

/*
 * Accept m (checked by the caller) for o: its jobs are built (all or
 * nothing), accepted is sent (with workers registered workers), and
 * dispatch follows. 0, or SL_EFULL (an item over max_item_bytes) or
 * SL_ENOMEM, with why for the client; nothing is kept then.
 */
int gw_req_submit(gw_req_pool_t *self, gw_req_owner_t *o, const gw_cmsg_t *m,
    size_t workers, char *why, size_t whylen);

/* End r now: its open items are cancelled, done follows; r is freed. */
void gw_req_cancel(gw_req_pool_t *self, gw_req_t *r);

/* Hand queued jobs to workers with free credit, requests taking turns
 * (after a client resumes, for instance). */
void gw_req_dispatch(gw_req_pool_t *self);

/* Request deadlines (timeout_ms) and items waiting for a task no worker
 * runs (unknown_task_us). Call every 100 ms or so. */
void gw_req_tick(gw_req_pool_t *self, int64_t now_us);

/* See gw_broker_can_progress. */
bool gw_req_can_progress(const gw_req_pool_t *self);

void gw_req_stats(const gw_req_pool_t *self, gw_req_stats_t *out);

#endif
