/*
 * gw_req_stream: the frames inside an item, between its accept and its
 * result: progress (throttled by gw_jobs, droppable by a transport whose
 * client reads slowly) and partial values (data: in order, never
 * dropped). Both go to the request's client and its channel's watchers,
 * like its results; neither is kept for a resume (a resumed client gets
 * the finished items, and the partials of the running ones from then on).
 *
 * Part of gw_req (gw_req_priv.h). lws service thread only.
 */
#include <math.h>

#include "gw_req_priv.h"

void
gw_req_on_job_progress(void *ctx, gw_jobs_req_t *jr, uint32_t seq,
    double progress, const char *text)
{
	gw_req_pool_t *self = ctx;
	gw_req_t *r = sl_container_of(jr, gw_req_t, jobs);
	/* Four decimals: what a JSON client reads (gw_out), so that a msgpack
	 * client and a JSON watcher of the same request see the same value. */
	gw_out_t f = { .type = GW_OUT_PROGRESS,
		.id = r->id,
		.seq = seq,
		.progress = round(progress * 10000) / 10000,
		.text = text };

	self->st.progress++;
	gw_req_send_frame(self, r, &f);
}

void
gw_req_on_job_partial(void *ctx, gw_jobs_req_t *jr, uint32_t seq,
    uint32_t index, const msgpack_object *value, bool restart)
{
	gw_req_pool_t *self = ctx;
	gw_req_t *r = sl_container_of(jr, gw_req_t, jobs);
	gw_out_t f = { .type = GW_OUT_PARTIAL,
		.id = r->id,
		.seq = seq,
		.index = index,
		.value.mp = value,
		.restart = restart };

	self->st.partials++;
	gw_req_send_frame(self, r, &f);
}
