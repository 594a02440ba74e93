/*
 * cp_results: the frames compute threads hand the I/O thread (RESULT, and
 * a running task's PROGRESS and PARTIAL: cp_stream), in one FIFO list
 * under one mutex, bounded in bytes.
 *
 * It replaces one inproc PUSH socket per compute thread (two zmq_send and
 * a mailbox signal per frame, one I/O thread wake-up per frame): a thread
 * appends a whole list at once (the results of a chunk of jobs,
 * cp_pool.h), and the eventfd the I/O thread polls (zmq_pollitem_t.fd) is
 * written only when the list goes from empty to not empty and the I/O
 * thread has not been told yet; it then takes everything waiting in one
 * swap (cp_results_take).
 *
 * Order: one FIFO, so the frames one thread appends reach the I/O thread
 * in the order it appended them: a job's PROGRESS and PARTIAL frames
 * (appended as the task makes them) come before its RESULT (appended when
 * it ends).
 *
 * Backpressure: while the list holds more than max_bytes, an appender
 * blocks until the I/O thread takes it (a task emitting partials faster
 * than its gateway reads is slowed down, nothing is dropped and memory
 * stays bounded: the I/O thread takes nothing more while it cannot
 * forward what it holds, cp_fwd.h). An empty list always takes one
 * append, however large.
 *
 * Append: compute threads. Take, fd: the I/O thread. Stop: whoever
 * destroys the pool.
 */
#ifndef CP_RESULTS_H
#define CP_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CP_RESULTS_MAX_BYTES                                                  \
	(4u << 20) /* 4 MiB waiting: ~40,000 echo results, or 4 of the        \
	              largest partials (SLUICE_TASK_MAX_PARTIAL) */

/* One frame: its job's connection generation, whether it is a stream
 * frame (PROGRESS, PARTIAL: it does not end the job), its bytes. */
typedef struct cp_result {
	struct cp_result *next;
	uint64_t gen;
	bool stream;
	size_t len;
	uint8_t data[];
} cp_result_t;

/* A chain of frames a thread builds before appending it in one go. */
typedef struct cp_result_list {
	cp_result_t *head, *tail;
	size_t n, bytes;
} cp_result_list_t;

typedef struct cp_results cp_results_t;

/* A new frame holding a copy of len bytes; NULL on ENOMEM. */
cp_result_t *cp_result_new(
    uint64_t gen, bool stream, const void *data, size_t len);
/* Free a chain of frames (NULL-safe). */
void cp_result_free_all(cp_result_t *head);

void cp_result_list_push(cp_result_list_t *list, cp_result_t *r);

/* max_bytes: the bound above; NULL with errno set on failure. */
cp_results_t *cp_results_new(size_t max_bytes);
/* Frees what is still queued; NULL-safe. */
void cp_results_destroy(cp_results_t **self_p);

/* The eventfd to poll for input: readable once something is waiting. */
int cp_results_fd(const cp_results_t *self);

/* Append the whole chain (list is empty after it), blocking while the
 * list is over its bound: 0, or -1 after cp_results_stop (the frames are
 * freed then). */
int cp_results_append(cp_results_t *self, cp_result_list_t *list);

/* Take everything waiting (the eventfd read first, so no wake-up is
 * lost): the chain, oldest first, or NULL; the caller owns it. */
cp_result_t *cp_results_take(cp_results_t *self);

/* Appenders blocked on the bound, and later ones, give up (return -1). */
void cp_results_stop(cp_results_t *self);

/* For tests: frames queued, eventfd writes, appenders that blocked. */
typedef struct cp_results_stats {
	size_t queued, bytes;
	uint64_t signals, blocked;
} cp_results_stats_t;
void cp_results_stats(cp_results_t *self, cp_results_stats_t *out);

#endif
