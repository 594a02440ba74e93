/*
 * cp_stream: what a running task says before its result: progress
 * reports and partial values (task API 2, sluice_task.h), turned into
 * PROGRESS and PARTIAL frames (PROTOCOL.md §2, revision 7).
 *
 * Each compute thread has one cp_stream on its stack, bound to its PUSH
 * socket to the I/O thread; cp_stream_begin points it at the job the
 * thread starts. Frames leave on that same socket, so a job's partials
 * reach the I/O thread in order and before its RESULT. Their first part
 * is CP_STREAM_HEAD_LEN bytes (the job's connection generation, then
 * CP_STREAM_MARK), one byte longer than a result's, so the I/O thread
 * tells them apart: they do not end a job.
 *
 * Progress is coalesced here, on the task's thread: a report less than
 * CP_STREAM_PROGRESS_US after the last one sent is dropped (the next one
 * carries the newer value), so a task reporting in a tight loop costs a
 * clock read (vDSO, no syscall) per call and sends at most ~40 frames a
 * second. Partials are never dropped: each is sent at once, blocking
 * while the pipe is full.
 *
 * The pool thread that owns it only.
 */
#ifndef CP_STREAM_H
#define CP_STREAM_H

#include <stdint.h>

#include <msgpack.h>

#include "sluice_task.h"

#define CP_STREAM_PROGRESS_US 25000 /* one PROGRESS per job per 25 ms */
#define CP_STREAM_MARK 'S'          /* last byte of a stream frame's head */
#define CP_STREAM_HEAD_LEN 9        /* generation (8 bytes) + mark */

typedef struct cp_stream {
	void *push;          /* the thread's PUSH socket; borrowed */
	uint64_t gen;        /* the job's connection generation */
	uint64_t job;        /* the job's id */
	int64_t sent_us;     /* last PROGRESS sent (monotonic); 0: none */
	uint32_t next_index; /* of the job's next PARTIAL */
	msgpack_sbuffer sb;  /* scratch for encoding */
} cp_stream_t;

/* The calls sluice_task_progress/partial reach, with a cp_stream_t as
 * their job argument. */
extern const sluice_task_host_t cp_stream_host;

void cp_stream_init(cp_stream_t *s, void *push);
/* A new job starts on this thread: its reports go as job, on gen. */
void cp_stream_begin(cp_stream_t *s, uint64_t gen, uint64_t job);
void cp_stream_fini(cp_stream_t *s);

/* The host calls, also directly (tests): 0, or -1 when refused. */
int cp_stream_progress(cp_stream_t *s, double fraction, const char *text);
int cp_stream_partial(cp_stream_t *s, const void *mp, size_t len);

#endif
