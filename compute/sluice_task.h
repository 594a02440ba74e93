/*
 * sluice_task.h: the C API for sluice-compute tasks, built in or loaded
 * from a shared object with `sluice-compute --plugin path/to/libx.so`.
 *
 * A task turns one item (a msgpack object) into one value (packed into
 * out) or an error (a stable code plus a message). It runs on a compute
 * thread: it must be reentrant and keep no shared mutable state. A long
 * task calls sluice_task_stopping() between slices of work (every ~10 ms)
 * and gives up with code "cancelled" when it returns true.
 *
 * A plugin exports one function, sluice_tasks(), returning its table:
 *
 *   #include "sluice_task.h"
 *   static int s_reverse(const msgpack_object *item, msgpack_packer *out,
 *       sluice_task_err_t *err, const sluice_task_ctx_t *ctx) { ... }
 *   static const sluice_task_def_t s_tasks[] = {
 *       { "reverse", s_reverse, "item: string; value: reversed" },
 *   };
 *   const sluice_task_def_t *
 *   sluice_tasks(unsigned api, size_t *n)
 *   {
 *       if (api != SLUICE_TASK_API)
 *           return NULL;       (built for another version: refused)
 *       *n = sizeof s_tasks / sizeof s_tasks[0];
 *       return s_tasks;
 *   }
 *
 * Build it with `cc -shared -fPIC -o libx.so x.c $(pkg-config --cflags
 * msgpack)`. The table must stay valid while the worker runs. Names are
 * 1..32 of [a-z0-9_.-] and must not repeat a task the worker already has.
 */
#ifndef SLUICE_TASK_H
#define SLUICE_TASK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

/* Raised whenever anything below changes incompatibly. */
#define SLUICE_TASK_API 1

typedef struct sluice_task_ctx {
	const atomic_bool *stop;   /* set when the worker shuts down */
	const atomic_bool *cancel; /* set when this job is cancelled */
} sluice_task_ctx_t;

typedef struct sluice_task_err {
	const char *code;  /* stable: bad_item, task_failed, cancelled */
	char message[200]; /* for humans */
} sluice_task_err_t;

/* 0 with one value packed into out, or -1 with err filled (out is then
 * discarded). */
typedef int (*sluice_task_fn)(const msgpack_object *item, msgpack_packer *out,
    sluice_task_err_t *err, const sluice_task_ctx_t *ctx);

typedef struct sluice_task_def {
	const char *name; /* 1..32 of [a-z0-9_.-] */
	sluice_task_fn run;
	const char *help; /* one line: item and value */
} sluice_task_def_t;

/* True once the job is cancelled or the worker is stopping. */
static inline bool
sluice_task_stopping(const sluice_task_ctx_t *ctx)
{
	return ctx
	    && ((ctx->stop && atomic_load(ctx->stop))
	        || (ctx->cancel && atomic_load(ctx->cancel)));
}

/* What a plugin exports (see above). */
const sluice_task_def_t *sluice_tasks(unsigned api, size_t *n);

#endif
