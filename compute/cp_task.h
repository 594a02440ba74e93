/*
 * cp_task: the tasks a worker runs, as tables of C functions.
 *
 * The types are those of the public plugin API (sluice_task.h). Adding a
 * built-in task is one function and one table entry in cp_task.c; a
 * plugin adds its own table at start (cp_tasks_load_plugin). Long tasks
 * check cp_task_stopping() between slices of work so that a worker can
 * stop promptly.
 *
 * Tasks run on pool threads: they must be reentrant and use no shared
 * mutable state. A cp_tasks_t is built at start by the main thread and
 * read-only afterwards.
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

/* Every task a worker runs: the built-ins, then those of plugins. */
typedef struct cp_tasks cp_tasks_t;

/* The built-in tasks; NULL on ENOMEM. Caller owns it. */
cp_tasks_t *cp_tasks_new(void);
/* dlopen a plugin and add its tasks (API version, names and duplicates
 * checked). 0, or SL_EINVAL with err filled. */
int cp_tasks_load_plugin(
    cp_tasks_t *self, const char *path, char *err, size_t errlen);
const cp_task_t *cp_tasks_find(
    const cp_tasks_t *self, const char *name, size_t len);
size_t cp_tasks_count(const cp_tasks_t *self);
const cp_task_t *cp_tasks_at(const cp_tasks_t *self, size_t i);
/* Frees the registry and closes the plugins; NULL-safe. */
void cp_tasks_destroy(cp_tasks_t **self_p);

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
