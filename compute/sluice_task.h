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
 * Version 2 adds two calls a task may make while it runs (never after it
 * returns), both on its own thread and cheap:
 *
 *   sluice_task_progress(ctx, 0.42, "pass 2 of 5");  how far the item is:
 *       a fraction 0..1 (clamped; NaN ignored) and an optional text of at
 *       most SLUICE_TASK_MAX_TEXT bytes (cut). Call it as often as you
 *       like: the worker sends the latest value at most every ~25 ms.
 *   sluice_task_partial(ctx, mp, len);  an intermediate value of the item
 *       (exactly one msgpack object, at most SLUICE_TASK_MAX_PARTIAL
 *       bytes): the client gets each one, in order, before the result.
 *       It blocks while the worker's pipe to its I/O thread is full.
 *
 * Both return 0, or -1 when refused (bad argument, API 1 caller, no
 * memory); a refused progress report is harmless, a refused partial is
 * not delivered. A plugin built against version 1 still loads (the worker
 * asks for version 2, then 1) and runs unchanged.
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

/* The version a plugin is built for. Raised whenever anything below
 * changes; a plugin compiled with -DSLUICE_TASK_API=1 is a version 1
 * plugin (what the tests use to check that those still load). */
#ifndef SLUICE_TASK_API
#define SLUICE_TASK_API 2
#endif

#define SLUICE_TASK_MAX_TEXT 128              /* bytes of progress text */
#define SLUICE_TASK_MAX_PARTIAL (1024 * 1024) /* bytes of one partial */

/* What the worker offers a running task (version 2); reached through
 * the inline calls below, not directly. */
typedef struct sluice_task_host {
	int (*progress)(void *job, double fraction, const char *text);
	int (*partial)(void *job, const void *mp, size_t len);
} sluice_task_host_t;

typedef struct sluice_task_ctx {
	const atomic_bool *stop;   /* set when the worker shuts down */
	const atomic_bool *cancel; /* set when this job is cancelled */
	/* version 2 (appended, so a version 1 plugin reads the above) */
	const sluice_task_host_t *host; /* NULL: no progress, no partials */
	void *job;                      /* host's argument */
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

/* Report how far the item is (see above): 0, or -1 if refused. */
static inline int
sluice_task_progress(
    const sluice_task_ctx_t *ctx, double fraction, const char *text)
{
	if (!ctx || !ctx->host || !ctx->host->progress)
		return -1;
	return ctx->host->progress(ctx->job, fraction, text);
}

/* Emit one partial value, len bytes of packed msgpack (see above). */
static inline int
sluice_task_partial(const sluice_task_ctx_t *ctx, const void *mp, size_t len)
{
	if (!ctx || !ctx->host || !ctx->host->partial)
		return -1;
	return ctx->host->partial(ctx->job, mp, len);
}

/* What a plugin exports (see above). */
const sluice_task_def_t *sluice_tasks(unsigned api, size_t *n);

#endif
