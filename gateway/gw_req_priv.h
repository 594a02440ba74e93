/*
 * gw_req_priv: what gw_req.c and gw_req_stream.c share: the request and
 * the pool as they are, and the one way a request's frame goes out. Not
 * for other modules (they see gw_req.h). lws service thread only.
 */
#ifndef GW_REQ_PRIV_H
#define GW_REQ_PRIV_H

#include "gw_jobs.h"
#include "gw_req.h"
#include "sl_proto.h"

struct gw_req {
	sl_list_t owner_link; /* in owner->requests */
	gw_jobs_req_t jobs;   /* its jobs (gw_jobs) */
	gw_req_owner_t *owner;
	char id[GW_CMSG_MAX_ID + 1];
	char task[SL_PROTO_MAX_NAME + 1];
	size_t n_items;         /* jobs created */
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
	gw_notify_t *notify; /* borrowed */
	gw_jobs_t *jobs;     /* every request's jobs */
	sl_list_t owners; /* gw_req_owner_t with requests: timers skip idle */
	gw_resume_budget_t budget; /* all requests' logs */
	gw_req_stats_t st;
};

/* A request's frame: to its client, then to its channel's watchers. An
 * item the client said it holds (resume's have) is not sent again. */
void gw_req_send_frame(gw_req_pool_t *self, gw_req_t *r, gw_out_t *f);

/* gw_jobs' progress and partial events (gw_req_stream.c). */
void gw_req_on_job_progress(void *ctx, gw_jobs_req_t *jr, uint32_t seq,
    double progress, const char *text);
void gw_req_on_job_partial(void *ctx, gw_jobs_req_t *jr, uint32_t seq,
    uint32_t index, const msgpack_object *value, bool restart);

#endif
