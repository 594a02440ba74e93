/*
 * cp_fwd: the frames the pool hands the I/O thread (RESULT, and a running
 * task's PROGRESS and PARTIAL: cp_stream) forwarded to the gateway link
 * their job came on, unchanged, in order.
 *
 * A link's DEALER holds a bounded queue (ZeroMQ's high-water mark). When
 * it is full (a task emitting partial values faster than that gateway
 * reads them), the frame waits here as the one stalled frame and nothing
 * more is taken from the pool until it leaves: the pool's threads then
 * block on their own PUSH sockets, so a task is slowed down instead of
 * its frames being dropped. The I/O thread polls the stalled link for
 * POLLOUT meanwhile (cp_fwd_waiting_on), and keeps serving heartbeats. A
 * BATCH of frames (cp_link_queue) waits the same way. A frame stalled
 * longer than CP_FWD_STALL_US (a link that no longer
 * drains: its gateway is gone) is dropped and logged, so that one dead
 * gateway cannot stop the others' results.
 *
 * Plain data embedded in cp_io; the I/O thread only.
 */
#ifndef CP_FWD_H
#define CP_FWD_H

#include <stdbool.h>
#include <stdint.h>

#include <zmq.h>

#include "cp_gws.h"

#define CP_FWD_STALL_US 5000000 /* a link that takes nothing for 5 s */

typedef struct cp_fwd {
	void *pull;           /* the pool's frames; borrowed */
	zmq_msg_t stalled;    /* a frame its link could not take yet */
	bool has_stalled;     /* ... is in stalled */
	bool stalled_stream;  /* ... is a stream frame */
	uint64_t stalled_gen; /* ... its connection generation */
	int64_t stalled_us;   /* ... since then (monotonic) */
	bool unflushed;       /* a link's BATCH waits for room in its queue */
	uint64_t results;     /* counters for the closing log line */
	uint64_t old;         /* results of jobs from a closed connection */
	uint64_t stalls;      /* times a link's queue was full */
} cp_fwd_t;

void cp_fwd_init(cp_fwd_t *f, void *pull);
void cp_fwd_fini(cp_fwd_t *f);

/* Forward up to batch frames (the stalled one first). */
void cp_fwd_run(cp_fwd_t *f, cp_gws_t *gws, int batch, int64_t now_us);

/* While a frame is stalled: the DEALER to poll for POLLOUT (and the pull
 * socket is not to be polled for POLLIN); NULL otherwise. */
void *cp_fwd_waiting_on(cp_fwd_t *f, cp_gws_t *gws);

#endif
