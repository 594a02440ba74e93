/*
 * gw_workers: the workers endpoint, where sluice-compute workers register
 * and take jobs.
 *
 * A ZeroMQ ROUTER (gw_zmq) in the lws loop, the registry of the workers
 * behind it and all of the worker protocol (sl_proto, docs/PROTOCOL.md
 * §2): READY is answered with REGISTERED and a label (w1, w2...); a
 * worker's routing id is bound to the CURVE key it registered with
 * (WRK-HIJACK); PING/PONG both ways keep it alive, and one silent for
 * hb_liveness intervals is dead (WRK-GONE reason=silent).
 *
 * Credit: a worker holds at most its window of jobs: READY's capacity,
 * then what its CREDIT says (a worker serving several gateways offers
 * each only what it can start); a job it RETURNs goes back to the front
 * of the queue, and the worker gets no more until its next CREDIT. Jobs belong
 * to the caller (the broker's request pool, gw_req), which embeds a
 * gw_workers_job_t in each; while a worker holds one, it is linked on that
 * worker's list here. Each send gives the job a fresh id (random start,
 * PROTOCOL.md §2); a result is accepted only from the worker that holds
 * its job, once, and checked before it goes up. Upward, this module
 * reports through gw_workers_events_t (a result for a job, a job handed
 * back by a worker that left, "credit or workers changed"); downward, the
 * broker reaches it through gw_workers_ops, a table of typed calls (job,
 * task, item bytes) that tests replace with plain functions.
 *
 * lws service thread only.
 */
#ifndef GW_WORKERS_H
#define GW_WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "sl_curve.h"
#include "sl_list.h"
#include "sl_proto.h"

typedef struct gw_workers gw_workers_t;

/* A job as this module sees it: the caller embeds it in its own job. */
typedef struct gw_workers_job {
	sl_list_t link;        /* in its holder's list while held */
	uint64_t id;           /* set by each send, unique across gateway
	                        * processes; echoed by the worker in RESULT */
	void *holder;          /* the worker holding it; NULL while not held */
	const char *trace;     /* the traceparent its JOB carries (borrowed for
	                        * the send), or NULL */
	uint32_t next_partial; /* the index its holder's next PARTIAL must
	                          carry: partials forwarded this attempt */
} gw_workers_job_t;

/* A worker's RESULT as it comes up: checked at the edge. A value without
 * a JSON form (every client must be able to get it as JSON) comes up as
 * failed, code bad_result. Everything is borrowed for the call. */
typedef struct gw_workers_result {
	bool ok;                     /* value if true, code+message if not */
	const msgpack_object *value; /* ok: the value, as the worker sent it */
	const char *code;            /* !ok: UTF-8, at most a name's length */
	const char *message;         /* !ok: UTF-8, may be "" */
	sl_proto_times_t times;      /* the worker's timings */
	bool restart; /* set by gw_jobs: the job started again on another
	                 worker after partials of it went out */
} gw_workers_result_t;

/* Why a held job came back without a result. */
typedef enum {
	GW_WORKERS_LEFT = 0,    /* its worker left (BYE) or a send failed */
	GW_WORKERS_CRASHED = 1, /* its worker died holding it */
	GW_WORKERS_RETURNED,    /* its worker did not start it (RETURN): not
	                         * an attempt */
} gw_workers_loss_t;

/* Upward calls, all with ctx first. Never from inside a downward call,
 * except lost (see gw_workers_send_job). */
typedef struct gw_workers_events {
	/* A result for job, from its holder; job is no longer held. */
	void (*result)(
	    void *ctx, gw_workers_job_t *job, const gw_workers_result_t *res);
	/* job is no longer held: its worker left, died, could not be sent
	 * it, or gave it back unstarted (how). Jobs of one worker come
	 * last first. */
	void (*lost)(void *ctx, gw_workers_job_t *job, gw_workers_loss_t how);
	/* Credit or the workers changed (a frame or a tick was handled):
	 * a good moment to dispatch. */
	void (*changed)(void *ctx);
	void *ctx;
	/* Revision 7, both optional (NULL: dropped). A PROGRESS of a held
	 * job (text NULL or UTF-8); a PARTIAL of it, checked: the next
	 * index, a value with a JSON form (a bad one ends the job through
	 * result, as bad_result). */
	void (*progress)(void *ctx, gw_workers_job_t *job, double progress,
	    const char *text);
	void (*partial)(void *ctx, gw_workers_job_t *job, uint32_t index,
	    const msgpack_object *value);
} gw_workers_events_t;

typedef struct gw_workers_limits {
	int64_t max_frame;    /* bytes in one frame (ZMQ_MAXMSGSIZE) */
	size_t max_items;     /* for parsing a misdirected producer frame */
	int64_t hb_ivl_us;    /* PING workers this often; 0: never */
	unsigned hb_liveness; /* silent intervals before a worker is dead;
	                       * 0: 3 */
} gw_workers_limits_t;

typedef struct gw_workers_stats {
	size_t workers;        /* registered workers */
	size_t capacity;       /* sum of their capacities */
	uint64_t stale;        /* results not held by their sender, frames
	                          from unregistered workers */
	uint64_t bad_frames;   /* frames that failed to decode */
	uint64_t workers_lost; /* workers declared dead (silence, crash) */
	uint64_t hb_missed;    /* workers declared dead for silence */
	uint64_t hijacks;      /* frames under a routing id bound to
	                          another CURVE key */
	uint64_t returned;     /* jobs a worker gave back unstarted (RETURN:
	                          busy with other gateways' jobs) */
	uint64_t bad_partials; /* PARTIALs out of order or without a JSON
	                          form: their items ended as bad_result */
} gw_workers_stats_t;

/*
 * Bind a ROUTER on endpoint; kp (NULL: plain ZeroMQ) makes it a CURVE
 * server in ZAP domain "workers", with ZMTP heartbeats every hb_ivl_us
 * (see gw_workers.c). events is copied. NULL with err filled on failure.
 * Caller owns the result.
 */
gw_workers_t *gw_workers_new(void *zctx, const char *endpoint,
    const gw_workers_limits_t *limits, const sl_curve_keypair_t *kp,
    const gw_workers_events_t *events, char *err, size_t errlen);

/*
 * From now on the owner calls gw_workers_settle after every loop turn:
 * JOBs for workers that take BATCH wait until then and leave as one BATCH
 * per worker (the first dispatch of a request as well as credit freed by
 * results), and the socket is drained after sends there (gw_zmq_settle).
 */
void gw_workers_set_owner_settles(gw_workers_t *self);

/* Send the held JOBs, then gw_zmq_settle(last): true if that drained
 * (frames handled there may have sent more: call again until false). */
bool gw_workers_settle(gw_workers_t *self, bool last);

/* Join the lws loop (protocol "zmq" must be in vh's table). */
int gw_workers_attach(
    gw_workers_t *self, struct lws_context *ctx, struct lws_vhost *vh);

/* One frame from a worker, untrusted bytes, from the peer whose ZAP
 * User-Id (CURVE key) is key, or NULL without CURVE. What the ROUTER
 * calls; public so a transport other than gw_zmq can feed it too. */
void gw_workers_on_frame(gw_workers_t *self, const uint8_t *rid,
    size_t rid_len, const char *key, const void *data, size_t len);

/* Heartbeats: silent workers are removed (their jobs lost, crashed),
 * the others get a PING every hb_ivl_us. Call every 100 ms or so. */
void gw_workers_tick(gw_workers_t *self, int64_t now_us);

/* ---- the downward calls, also as the table gw_workers_ops ---------- */

/* Some registered worker runs task (ready: one that is not draining). */
bool gw_workers_runs(const gw_workers_t *self, const char *task, bool ready);

/* Some worker has free credit and is not draining. */
bool gw_workers_any_credit(const gw_workers_t *self);

/* The worker with the most free credit that runs task, or NULL;
 * borrowed, valid until the next call into this module. */
void *gw_workers_pick(gw_workers_t *self, const char *task);

/*
 * Send job (task, item: packed msgpack) to worker, from gw_workers_pick,
 * which then holds it. 0; or another SL_E* when the send failed: then job
 * was handed back through events.lost (not crashed) and the worker
 * removed, its other jobs lost as crashed (events.changed is not called).
 */
int gw_workers_send_job(gw_workers_t *self, void *worker,
    gw_workers_job_t *job, const char *task, const void *item, size_t len);

/* Tell job's holder to CANCEL it; it stays held until its result comes
 * (and is dropped by the caller) or its worker leaves. A failed send is
 * left to the heartbeats. */
void gw_workers_cancel(gw_workers_t *self, gw_workers_job_t *job);

/* Call fn(arg, job) for every held job: workers in registration order,
 * each one's jobs in the order sent; stop when fn returns false. fn may
 * call gw_workers_cancel, nothing else here. */
void gw_workers_each_job(gw_workers_t *self,
    bool (*fn)(void *arg, gw_workers_job_t *job), void *arg);

/* The label of a worker from gw_workers_pick (w1...), for logs;
 * borrowed. */
const char *gw_workers_name(const void *worker);

/* Counters for /metrics; self may be NULL (all zero). */
void gw_workers_stats(const gw_workers_t *self, gw_workers_stats_t *out);

/* The same calls as a table: what the broker is given. A test may give
 * its own functions, with its own object behind the gw_workers_t
 * pointer. */
typedef struct gw_workers_ops {
	bool (*runs)(const gw_workers_t *self, const char *task, bool ready);
	bool (*any_credit)(const gw_workers_t *self);
	void *(*pick)(gw_workers_t *self, const char *task);
	int (*send_job)(gw_workers_t *self, void *worker,
	    gw_workers_job_t *job, const char *task, const void *item,
	    size_t len);
	void (*cancel)(gw_workers_t *self, gw_workers_job_t *job);
	void (*each_job)(gw_workers_t *self,
	    bool (*fn)(void *arg, gw_workers_job_t *job), void *arg);
	void (*stats)(const gw_workers_t *self, gw_workers_stats_t *out);
	const char *(*name)(const void *worker);
} gw_workers_ops_t;

extern const gw_workers_ops_t gw_workers_ops;

/* Forget every worker, handing back the jobs they hold through
 * events.lost (not crashed): so before the jobs' owner goes. Then close
 * the socket; after lws_context_destroy(). NULL-safe. */
void gw_workers_destroy(gw_workers_t **self_p);

#endif
