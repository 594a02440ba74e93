/*
 * cp_pool: the compute threads of a worker.
 *
 * The I/O thread queues decoded JOBs, several under one lock hold when a
 * BATCH brings several (cp_pool_push_list), and wakes only as many
 * sleeping threads as the queue needs. A thread takes a chunk of jobs at
 * once while they are short: the pool keeps a moving average of each
 * task's run time, and a run of jobs from the queue's head whose tasks
 * average under CP_POOL_SHORT_US is taken together up to CP_POOL_CHUNK_US
 * of estimated work (CP_POOL_CHUNK_MAX jobs), so a burst of echo jobs
 * costs one wake-up and one lock hold per chunk and the other threads
 * stay asleep. A job of a task without an estimate yet, or a long one,
 * is taken alone, so long jobs are never serialized on one thread while
 * another sleeps; and if a chunk overruns its budget (an estimate was
 * wrong), the thread gives the rest of it back to the queue's head and
 * wakes a thread for it. A lone job is woken for at once: nothing waits
 * for a batch to fill.
 *
 * Each job's RESULT frame goes to the pool's results list (cp_results),
 * the results of a chunk appended together when it ends; the I/O thread
 * polls that list's eventfd (cp_pool_results) and forwards each frame to
 * the gateway if its connection generation (cp_work_t.gen) is still
 * current, dropping it otherwise (a result of a job from a previous
 * connection). A running task's PROGRESS and PARTIAL frames (cp_stream)
 * go to the same list as they are made, so they come before the job's
 * RESULT. RESULT's cpu_us is the job's own thread CPU time, except that a
 * task estimated under 1 us is not timed (the clock is a system call):
 * see s_cpu_us in cp_pool.c. The queue and the estimates are the only
 * other shared state, under one mutex.
 *
 * cp_pool_new/push/cancel/load/destroy: the I/O thread. Task code: pool
 * threads.
 */
#ifndef CP_POOL_H
#define CP_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cp_prio.h"
#include "cp_results.h"
#include "cp_task.h"
#include "sl_proto.h"

/* One job: the JOB frame's bytes and the message decoded from them. */
typedef struct cp_work {
	struct cp_work *next; /* {pool lock} queue link */
	atomic_bool cancel;   /* set by cp_pool_cancel; the task polls it */
	atomic_bool done;     /* its result is built: no longer cancellable */
	int64_t run_ns;       /* its run time (the thread that ran it) */
	bool tiny; /* its task's estimate is under 1 us: not timed by the
	              thread CPU clock (the thread that took it) */
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

#define CP_POOL_SHORT_US 50  /* a task averaging under this is short */
#define CP_POOL_CHUNK_US 100 /* estimated work one thread takes at once */
#define CP_POOL_CHUNK_MAX 32 /* jobs one thread takes at once */

/*
 * Start threads compute threads and their results list (bounded by
 * CP_RESULTS_MAX_BYTES). Each sets itself to priority prio as it starts
 * (cp_prio.h); where it may not, it warns once (POOL-PRIO) and runs
 * anyway. NULL with err filled on failure.
 */
cp_pool_t *cp_pool_new(
    unsigned threads, cp_prio_t prio, char *err, size_t errlen);

/* The frames the threads hand over (borrowed: lives as long as the
 * pool): the I/O thread polls its fd and takes them. */
cp_results_t *cp_pool_results(cp_pool_t *self);

/* Thread index's kernel id once it has started (and set its priority),
 * 0 before or for an index out of range: for tests and diagnostics. */
pid_t cp_pool_thread_tid(cp_pool_t *self, unsigned index);

/* Queue a decoded JOB; takes ownership and nulls *work_p. */
void cp_pool_push(cp_pool_t *self, cp_work_t **work_p);

/* Queue a chain of decoded JOBs (linked through next, oldest first)
 * under one lock hold; takes ownership and nulls *head_p. */
void cp_pool_push_list(cp_pool_t *self, cp_work_t **head_p);

/* For tests and diagnostics: condition variable signals sent, chunks
 * taken, jobs taken (jobs / chunks: the mean chunk). */
typedef struct cp_pool_stats {
	uint64_t wakes, chunks, jobs;
} cp_pool_stats_t;
void cp_pool_stats(cp_pool_t *self, cp_pool_stats_t *out);

/* The pool's run-time estimate of task in µs, or -1 if it has none. */
int64_t cp_pool_estimate_us(cp_pool_t *self, const cp_task_t *task);

/* Jobs queued or running. */
size_t cp_pool_load(cp_pool_t *self);

/* Cancel a queued or running job (also one waiting in a thread's taken
 * chunk): it ends soon with code "cancelled". Returns false if no such
 * job is here (it already finished). */
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
