/*
 * cp_task: the tasks a worker runs, as a table of C functions.
 *
 * A task turns one item (a msgpack object) into one value (packed into
 * out) or an error (code plus message). Adding a task is one function and
 * one table entry in cp_task.c. Long tasks check cp_task_stopping()
 * between slices of work so that a worker can stop promptly.
 *
 * Tasks run on pool threads: they must be reentrant and use no shared
 * mutable state.
 */
#ifndef CP_TASK_H
#define CP_TASK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

typedef struct cp_task_ctx {
	const atomic_bool *stop;   /* set when the worker shuts down */
	const atomic_bool *cancel; /* set when this job is cancelled */
} cp_task_ctx_t;

typedef struct cp_task_err {
	const char *code;  /* stable: bad_item, task_failed, cancelled */
	char message[200]; /* for humans */
} cp_task_err_t;

/* 0 with one value packed into out, or -1 with err filled (out is then
 * discarded). */
typedef int (*cp_task_fn)(const msgpack_object *item, msgpack_packer *out,
    cp_task_err_t *err, const cp_task_ctx_t *ctx);

typedef struct cp_task {
	const char *name; /* 1..32 of [a-z0-9_.-] */
	cp_task_fn run;
	const char *help; /* one line: item and value */
} cp_task_t;

/* The task called name (len bytes, not NUL-terminated), or NULL. */
const cp_task_t *cp_task_find(const char *name, size_t len);
/* The built-in table; *n gets its length. */
const cp_task_t *cp_task_all(size_t *n);

/* True once the job is cancelled or the worker is stopping: a task should
 * give up (cancelled). */
bool cp_task_stopping(const cp_task_ctx_t *ctx);

/* Fill err and return -1, for "return cp_task_fail(...)". */
int cp_task_fail(cp_task_err_t *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
