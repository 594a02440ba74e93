/*
 * cp_pool: the compute threads of a worker.
 *
 * The I/O thread pushes decoded JOBs; each pool thread takes one, runs its
 * task and sends the encoded RESULT frame through its own ZeroMQ PUSH
 * socket to the I/O thread's PULL (inproc) as a two-part message: the
 * job's connection generation (a uint64_t in host order, from
 * cp_work_t.gen), then the frame. The I/O thread forwards the frame to the
 * gateway unchanged if the generation is still its current one, and drops
 * it otherwise (a result of a job from a previous connection). A running
 * task's PROGRESS and PARTIAL frames (cp_stream) go the same way, their
 * first part one byte longer. Sockets are
 * never shared between threads; the queue is the only shared state, under one
 * mutex.
 *
 * cp_pool_new/push/destroy: the I/O thread. Task code: pool threads.
 */
#ifndef CP_POOL_H
#define CP_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cp_prio.h"
#include "cp_task.h"
#include "sl_proto.h"

/* One job: the JOB frame's bytes and the message decoded from them. */
typedef struct cp_work {
	struct cp_work *next; /* {pool lock} queue link */
	atomic_bool cancel;   /* set by cp_pool_cancel; the task polls it */
	const cp_task_t *task;
	uint64_t gen;      /* connection generation it came on; echoed with the
	                      result (cp_io's to set; 0 from cp_pool_work_new) */
	int64_t t_recv_us; /* monotonic, when the frame arrived: RESULT's
	                      start_us counts from here */
	sl_msg_t msg;      /* type SL_MSG_JOB; points into frame */
	size_t len;
	uint8_t frame[];
} cp_work_t;

typedef struct cp_pool cp_pool_t;

/* Copy a frame into a new work item (not yet decoded); NULL on ENOMEM. */
cp_work_t *cp_pool_work_new(const void *frame, size_t len);
void cp_pool_work_destroy(cp_work_t **work_p);

/*
 * Start threads compute threads whose PUSH sockets connect to results_ep
 * (the caller has bound a PULL there). Each sets itself to priority prio
 * as it starts (cp_prio.h); where it may not, it warns once (POOL-PRIO)
 * and runs anyway. NULL with err filled on failure.
 */
cp_pool_t *cp_pool_new(void *zctx, const char *results_ep, unsigned threads,
    cp_prio_t prio, char *err, size_t errlen);

/* Thread index's kernel id once it has started (and set its priority),
 * 0 before or for an index out of range: for tests and diagnostics. */
pid_t cp_pool_thread_tid(cp_pool_t *self, unsigned index);

/* Queue a decoded JOB; takes ownership and nulls *work_p. */
void cp_pool_push(cp_pool_t *self, cp_work_t **work_p);

/* Jobs queued or running. */
size_t cp_pool_load(cp_pool_t *self);

/* Cancel a queued or running job: it ends soon with code "cancelled".
 * Returns false if no such job is here (it already finished). */
bool cp_pool_cancel(cp_pool_t *self, uint64_t job);

/* The same, only if it came on connection gen: job ids are unique per
 * gateway, not across the gateways a worker serves. */
bool cp_pool_cancel_job(cp_pool_t *self, uint64_t gen, uint64_t job);

/* Cancel every job that came on connection gen (that gateway is gone):
 * how many. */
size_t cp_pool_cancel_gen(cp_pool_t *self, uint64_t gen);

/* Cancel everything queued or running (the gateway is gone). */
void cp_pool_cancel_all(cp_pool_t *self);

/* Tell running tasks to give up, join the threads, free what is queued.
 * NULL-safe. */
void cp_pool_destroy(cp_pool_t **self_p);

#endif
