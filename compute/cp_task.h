/*
 * cp_task: the tasks a worker runs, as tables of C functions.
 *
 * The types are those of the public plugin API (sluice_task.h). Adding a
 * built-in task is one function and one table entry in cp_task.c; a
 * plugin adds its own table at start (cp_tasks). Long tasks check
 * cp_task_stopping() between slices of work so that a worker can stop
 * promptly.
 *
 * Tasks run on pool threads: they must be reentrant and use no shared
 * mutable state.
 */
#ifndef CP_TASK_H
#define CP_TASK_H

#include <stdbool.h>
#include <stddef.h>

#include "sluice_task.h"

typedef sluice_task_ctx_t cp_task_ctx_t;
typedef sluice_task_err_t cp_task_err_t;
typedef sluice_task_fn cp_task_fn;
typedef sluice_task_def_t cp_task_t;

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
