/*
 * cp_stream: what a running task says before its result: progress
 * reports and partial values (task API 2, sluice_task.h), turned into
 * PROGRESS and PARTIAL frames (PROTOCOL.md §2, revision 7).
 *
 * Each compute thread has one cp_stream on its stack, bound to the
 * pool's results list (cp_results); cp_stream_begin points it at the job
 * the thread starts. Each frame is appended at once, marked as a stream
 * frame (it does not end a job), and the job's RESULT is appended by the
 * same thread after the task returns, so a job's partials reach the I/O
 * thread in order and before its RESULT.
 *
 * Progress is coalesced here, on the task's thread: a report less than
 * CP_STREAM_PROGRESS_US after the last one sent is dropped (the next one
 * carries the newer value), so a task reporting in a tight loop costs a
 * clock read (vDSO, no syscall) per call and sends at most ~40 frames a
 * second. Partials are never dropped: each is appended at once, blocking
 * while the results list is over its bound.
 *
 * The pool thread that owns it only.
 */
#ifndef CP_STREAM_H
#define CP_STREAM_H

#include <stdint.h>

#include <msgpack.h>

#include "cp_results.h"
#include "sluice_task.h"

#define CP_STREAM_PROGRESS_US 25000 /* one PROGRESS per job per 25 ms */

typedef struct cp_stream {
	cp_results_t *res;   /* where frames go; borrowed */
	uint64_t gen;        /* the job's connection generation */
	uint64_t job;        /* the job's id */
	int64_t sent_us;     /* last PROGRESS sent (monotonic); 0: none */
	uint32_t next_index; /* of the job's next PARTIAL */
	msgpack_sbuffer sb;  /* scratch for encoding */
} cp_stream_t;

/* The calls sluice_task_progress/partial reach, with a cp_stream_t as
 * their job argument. */
extern const sluice_task_host_t cp_stream_host;

void cp_stream_init(cp_stream_t *s, cp_results_t *res);
/* A new job starts on this thread: its reports go as job, on gen. */
void cp_stream_begin(cp_stream_t *s, uint64_t gen, uint64_t job);
void cp_stream_fini(cp_stream_t *s);

/* The host calls, also directly (tests): 0, or -1 when refused. */
int cp_stream_progress(cp_stream_t *s, double fraction, const char *text);
int cp_stream_partial(cp_stream_t *s, const void *mp, size_t len);

#endif
