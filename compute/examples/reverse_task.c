/*
 * reverse_task: an example sluice-compute plugin with two tasks, built as
 * libsluice_reverse.so and loaded with
 *
 *   sluice-compute --plugin build/compute/examples/libsluice_reverse.so
 *
 * "reverse" reverses a string (bytes; fine for ASCII), "count" counts to
 * N in 1 ms slices, checking for cancellation between them as long tasks
 * should, and (built for task API 2) reporting its progress every step:
 * the worker coalesces the reports. It includes only sluice_task.h and
 * msgpack.h. Built a second time with -DSLUICE_TASK_API=1, it is the
 * version 1 plugin the tests load to check those still work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice_task.h"

static int
s_fail(sluice_task_err_t *err, const char *code, const char *msg)
{
	err->code = code;
	snprintf(err->message, sizeof err->message, "%s", msg);
	return -1;
}

static int
s_reverse(const msgpack_object *item, msgpack_packer *out,
    sluice_task_err_t *err, const sluice_task_ctx_t *ctx)
{
	char *r;
	size_t n;

	(void) ctx;
	if (item->type != MSGPACK_OBJECT_STR)
		return s_fail(
		    err, "bad_item", "reverse: item must be a string");
	n = item->via.str.size;
	r = malloc(n ? n : 1);
	if (!r)
		return s_fail(err, "task_failed", "out of memory");
	for (size_t i = 0; i < n; i++)
		r[i] = item->via.str.ptr[n - 1 - i];
	msgpack_pack_str_with_body(out, r, n);
	free(r);
	return 0;
}

static int
s_count(const msgpack_object *item, msgpack_packer *out,
    sluice_task_err_t *err, const sluice_task_ctx_t *ctx)
{
	struct timespec ms = { 0, 1000000 };
	uint64_t n;

	if (item->type != MSGPACK_OBJECT_POSITIVE_INTEGER
	    || item->via.u64 > 600000)
		return s_fail(
		    err, "bad_item", "count: item must be 0..600000");
	for (n = 0; n < item->via.u64; n++) {
		if (sluice_task_stopping(ctx))
			return s_fail(err, "cancelled", "job cancelled");
#if SLUICE_TASK_API >= 2
		sluice_task_progress(
		    ctx, (double) n / (double) item->via.u64, "counting");
#endif
		nanosleep(&ms, NULL);
	}
	msgpack_pack_uint64(out, n);
	return 0;
}

static const sluice_task_def_t s_tasks[] = {
	{ "reverse", s_reverse, "item: string; value: the string reversed" },
	{ "count", s_count, "item: N; counts to N, 1 ms a step; value: N" },
};

const sluice_task_def_t *
sluice_tasks(unsigned api, size_t *n)
{
	if (api != SLUICE_TASK_API)
		return NULL;
	*n = sizeof s_tasks / sizeof s_tasks[0];
	return s_tasks;
}
