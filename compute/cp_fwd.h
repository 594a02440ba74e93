/*
 * cp_fwd: the frames the pool hands the I/O thread (RESULT, and a running
 * task's PROGRESS and PARTIAL: cp_stream) forwarded to the gateway link
 * their job came on, unchanged, in order.
 *
 * Each run takes everything waiting in the pool's results list at once
 * (cp_results_take: one lock hold, however many frames) and queues each
 * frame into its link's BATCH (cp_link_queue); once all are taken, each
 * link's BATCH leaves as one message (a lone frame as itself).
 *
 * A link's DEALER holds a bounded queue (ZeroMQ's high-water mark). When
 * it is full (a task emitting partial values faster than that gateway
 * reads them), the frames taken wait here, the first of them stalled, and
 * nothing more is taken from the pool until they leave: the results list
 * then fills up to its bound and the pool's threads block appending to it
 * (cp_results.h), so a task is slowed down instead of its frames being
 * dropped. The I/O thread polls the stalled link for POLLOUT meanwhile
 * (cp_fwd_waiting_on), and keeps serving heartbeats. A BATCH of frames
 * (cp_link_queue) waits the same way. A frame stalled longer than
 * CP_FWD_STALL_US (a link that no longer drains: its gateway is gone) is
 * dropped and logged, so that one dead gateway cannot stop the others'
 * results.
 *
 * Plain data embedded in cp_io; the I/O thread only.
 */
#ifndef CP_FWD_H
#define CP_FWD_H

#include <stdbool.h>
#include <stdint.h>

#include "cp_gws.h"
#include "cp_results.h"

#define CP_FWD_STALL_US 5000000 /* a link that takes nothing for 5 s */

typedef struct cp_fwd {
	cp_results_t *res;    /* the pool's frames; borrowed */
	cp_result_t *pending; /* taken, not yet forwarded (oldest first) */
	bool has_stalled;     /* pending's first could not leave */
	int64_t stalled_us;   /* ... since then (monotonic) */
	bool unflushed;       /* a link's BATCH waits for room in its queue */
	uint64_t results;     /* counters for the closing log line */
	uint64_t old;         /* results of jobs from a closed connection */
	uint64_t stalls;      /* times a link's queue was full */
} cp_fwd_t;

void cp_fwd_init(cp_fwd_t *f, cp_results_t *res);
/* Frees what was taken and not forwarded. */
void cp_fwd_fini(cp_fwd_t *f);

/* Forward up to batch frames (the stalled one first), taking what waits
 * in the results list when nothing taken is left; true if frames are left
 * over that the next run can send now (call it again without waiting). */
bool cp_fwd_run(cp_fwd_t *f, cp_gws_t *gws, int batch, int64_t now_us);

/* While a frame is stalled: the DEALER to poll for POLLOUT (and the
 * results fd is not to be polled for POLLIN); NULL otherwise. */
void *cp_fwd_waiting_on(cp_fwd_t *f, cp_gws_t *gws);

#endif
