/*
 * cp_stream: PROGRESS and PARTIAL from a running task (see cp_stream.h).
 * The owning pool thread only.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "cp_stream.h"
#include "sl_clock.h"
#include "sl_log.h"
#include "sl_mpck.h"
#include "sl_proto.h"

static int
s_host_progress(void *job, double fraction, const char *text)
{
	return cp_stream_progress(job, fraction, text);
}

static int
s_host_partial(void *job, const void *mp, size_t len)
{
	return cp_stream_partial(job, mp, len);
}

const sluice_task_host_t cp_stream_host = { s_host_progress, s_host_partial };

void
cp_stream_init(cp_stream_t *s, cp_results_t *res)
{
	memset(s, 0, sizeof *s);
	s->res = res;
	msgpack_sbuffer_init(&s->sb);
}

void
cp_stream_begin(cp_stream_t *s, uint64_t gen, uint64_t job)
{
	s->gen = gen;
	s->job = job;
	s->sent_us = 0;
	s->next_index = 0;
}

void
cp_stream_fini(cp_stream_t *s)
{
	msgpack_sbuffer_destroy(&s->sb);
}

/* Append the frame in s->sb to the results list: 0 or -1. Blocking
 * while the list is over its bound (cp_results.h). */
static int
s_send(cp_stream_t *s)
{
	cp_result_list_t one = { 0 };
	cp_result_t *r = cp_result_new(s->gen, true, s->sb.data, s->sb.size);

	if (!r) {
		SL_WARN("POOL-SEND",
		    "job=%llu stream frame lost: out of memory",
		    (unsigned long long) s->job);
		return -1;
	}
	cp_result_list_push(&one, r);
	return cp_results_append(s->res, &one);
}

int
cp_stream_progress(cp_stream_t *s, double fraction, const char *text)
{
	int64_t now;

	if (isnan(fraction))
		return -1;
	now = sl_clock_mono_us();
	/* Coalesce: the latest value wins, sent by a later call. */
	if (s->sent_us && now - s->sent_us < CP_STREAM_PROGRESS_US)
		return 0;
	fraction = fraction < 0 ? 0 : fraction > 1 ? 1 : fraction;
	msgpack_sbuffer_clear(&s->sb);
	if (sl_proto_encode_progress(&s->sb, s->job, fraction, text))
		return -1;
	s->sent_us = now;
	return s_send(s);
}

int
cp_stream_partial(cp_stream_t *s, const void *mp, size_t len)
{
	/* Checked here so that a task's mistake fails its own call, not the
	 * gateway's frame. */
	if (!mp || !len || len > SLUICE_TASK_MAX_PARTIAL
	    || sl_mpck_check(mp, len, SL_PROTO_MAX_ITEM_DEPTH))
		return -1;
	msgpack_sbuffer_clear(&s->sb);
	if (sl_proto_encode_partial(&s->sb, s->job, s->next_index, mp, len))
		return -1;
	s->next_index++;
	return s_send(s);
}
