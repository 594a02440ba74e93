/*
 * gw_broker: the gateway's front desk: clients, their shares of the job
 * queue and the client protocol.
 *
 * Each client (a WebSocket connection or a producer, each with its own
 * transport) sends validated messages here. A submit is refused with a
 * stable error code when the gateway drains, the id is still running, the
 * client has too many requests, its share (one connection, or every
 * connection of one token) or the whole queue is full, or no registered
 * worker runs the task; otherwise the broker's request pool (gw_req)
 * takes it: one job per item, requests taking turns for workers with free
 * credit, results forwarded the moment they arrive, each item exactly
 * once, done after the last. Cancel, ping and (un)subscribe are answered
 * here; notify channels are gw_notify's, owned by the broker too.
 *
 * The broker knows neither lws nor ZeroMQ: it sends to clients through
 * gw_broker_ops_t and reaches workers through gw_workers_ops_t (jobs by
 * id, task and item bytes; gw_workers speaks the protocol), which makes it
 * testable with plain functions. lws service thread only.
 */
#ifndef GW_BROKER_H
#define GW_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_cmsg.h"
#include "gw_out.h"
#include "gw_hist.h"
#include "gw_notify.h"
#include "gw_req.h"
#include "gw_workers.h"

typedef struct gw_broker gw_broker_t;
typedef struct gw_client gw_client_t;

/* Queue a frame for a client. frame and all it points to are borrowed
 * for this call only: the transport encodes it (JSON or msgpack) before
 * it returns. 0, or < 0 when the client is being closed and the frame was
 * dropped. Never re-enter the broker from here (no
 * gw_broker_client_destroy; gw_broker_client_pause is fine): defer
 * instead. */
typedef int (*gw_broker_send_fn)(
    void *ctx, void *client_user, const gw_out_t *frame);

typedef struct gw_broker_ops {
	/* The default transport's send (WebSocket clients); clients made
	 * with gw_broker_client_new_on() carry their own. */
	gw_broker_send_fn client_send;
	void *ctx; /* its first argument */
} gw_broker_ops_t;

typedef struct gw_broker_limits {
	size_t max_items;         /* items in one request */
	size_t max_item_bytes;    /* one item packed as msgpack; 0: no limit */
	size_t max_requests;      /* unfinished requests per client */
	size_t max_queued_jobs;   /* jobs waiting for a worker, all clients */
	size_t max_client_jobs;   /* unfinished jobs of one client (or of
	                           * one share: gw_broker_client_share);
	                           * 0: no limit */
	size_t max_subscriptions; /* channels one client may watch */
	/* Queued items of a task that no registered worker runs end as
	 * unknown_task after this long (a worker with the task may still
	 * arrive); 0: they wait for one forever. */
	int64_t unknown_task_us;
	/* A gone client's requests go on this long, waiting for a resume;
	 * 0: they end with it (no resume, no token in accepted). */
	int64_t resume_us;
	size_t max_resume_bytes; /* finished items kept for resumes, all
	                          * requests together */
	int64_t progress_us;     /* an item's progress frames at most this
	                          * often; 0: none (revision 7) */
} gw_broker_limits_t;

/* Resume frames one connection may send: its requests' worth and some
 * spare; more get too_many_resumes (a flood costs a lookup each). */
#define GW_BROKER_SPARE_RESUMES 16

typedef struct gw_broker_stats {
	size_t clients;           /* connected clients */
	size_t detached_clients;  /* gone, with requests waiting for resume */
	uint64_t resume_refused;  /* resume frames answered with an error */
	uint64_t refused;         /* client frames answered with an error */
	uint64_t share_full;      /* submits refused: over max_client_jobs */
	bool draining;            /* refusing new requests (shutdown) */
	gw_req_stats_t req;       /* requests and jobs (the broker's pool) */
	gw_notify_stats_t notify; /* channels and subscriptions */
} gw_broker_stats_t;

/* Caller owns the broker; ops and limits are copied. NULL on ENOMEM.
 * Give it its workers (gw_broker_set_workers) before anything else. */
gw_broker_t *gw_broker_new(
    const gw_broker_ops_t *ops, const gw_broker_limits_t *limits);
/* Frees everything, clients included; NULL-safe. Jobs still held by
 * workers are the broker's too: destroy the workers (which hands them
 * back) first. */
void gw_broker_destroy(gw_broker_t **self_p);

/* The broker's side of gw_workers: fill out with the calls that take a
 * worker's results, jobs handed back and news of free credit, for
 * gw_workers_new. */
void gw_broker_workers_events(gw_broker_t *self, gw_workers_events_t *out);
/* Reach the workers through ops (gw_workers_ops in the gateway),
 * workers being their first argument; both must outlive the broker's
 * use of them. */
void gw_broker_set_workers(
    gw_broker_t *self, const gw_workers_ops_t *ops, gw_workers_t *workers);

/* A client of the default transport connected; user is handed back to
 * ops->client_send. NULL on ENOMEM. */
gw_client_t *gw_broker_client_new(gw_broker_t *self, void *user);
/* A client of another transport (producers): its frames go to
 * send(ctx, user, frame). Each client carries its own transport, so
 * WebSocket clients and producers share one broker. NULL on ENOMEM. */
gw_client_t *gw_broker_client_new_on(
    gw_broker_t *self, gw_broker_send_fn send, void *ctx, void *user);
/* Longest key of a share (a token's SHA-256 digest). */
#define GW_BROKER_SHARE_KEY 32

/*
 * Count client's unfinished jobs together with those of every other
 * client given the same key (1..GW_BROKER_SHARE_KEY bytes), e.g. all
 * connections of one token, against max_client_jobs. Call it right after
 * the client is made, before its first request. 0, or SL_EINVAL (already
 * has requests or a share, bad len) or SL_ENOMEM.
 */
int gw_broker_client_share(
    gw_broker_t *self, gw_client_t *client, const uint8_t *key, size_t len);

/* The client left on purpose (a close frame): its queued jobs are
 * dropped, results of its running jobs will be discarded. Sets *client_p
 * = NULL; NULL-safe. */
void gw_broker_client_destroy(gw_broker_t *self, gw_client_t **client_p);
/* The client's connection dropped (cut, silent, closed by the gateway):
 * with resume_us its requests go on without it until resumed (by their
 * token, on any connection) or expired; without, as destroy. */
void gw_broker_client_drop(gw_broker_t *self, gw_client_t **client_p);

/* A validated client message (see gw_cmsg.h). */
void gw_broker_on_client_msg(
    gw_broker_t *self, gw_client_t *client, const gw_cmsg_t *msg);
/* A client frame that failed to parse: answer with an error frame. */
void gw_broker_client_error(
    gw_broker_t *self, gw_client_t *client, const gw_cmsg_err_t *err);

/* Slow reader: while paused, no new job of this client's requests is
 * dispatched (results of running ones still arrive). */
void gw_broker_client_pause(
    gw_broker_t *self, gw_client_t *client, bool paused);

/* Timers: request timeouts, items waiting for a task no worker runs
 * (unknown_task_us), detached requests nobody resumed (resume_us); the
 * workers' heartbeats are gw_workers_tick's. Call it often (every 100 ms or
 * so) with the monotonic clock. */
void gw_broker_tick(gw_broker_t *self, int64_t now_us);

/* Shutting down: refuse new requests (shutting_down), finish the rest. */
void gw_broker_drain(gw_broker_t *self);

/* Can an unfinished request still end by its workers: some job of one is
 * held by a worker, or is queued for a task that a worker which is not
 * draining runs? false also when no request is left. A draining gateway
 * stops waiting when this is false (nothing would come of the wait). */
bool gw_broker_can_progress(const gw_broker_t *self);

/* The broker's counters and those of what it owns (requests, channels);
 * the workers' are gw_workers_stats. */
void gw_broker_stats(const gw_broker_t *self, gw_broker_stats_t *out);

#endif
