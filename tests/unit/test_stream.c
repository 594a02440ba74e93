#include "sl_test.h" /* std headers, then <cmocka.h> */

#include <math.h>
#include <time.h>

#include "cp_stream.h"
#include "sl_proto.h"

/* A results list, as between a pool thread and cp_io. */
typedef struct fixture {
	cp_results_t *res;
	cp_result_t *taken; /* taken from res, not yet looked at */
	cp_stream_t st;
	sl_msg_t m;
	uint8_t frame[4096];
} fixture_t;

static int
setup(void **state)
{
	fixture_t *f = calloc(1, sizeof *f);

	f->res = cp_results_new(CP_RESULTS_MAX_BYTES);
	assert_non_null(f->res);
	cp_stream_init(&f->st, f->res);
	cp_stream_begin(&f->st, 7, 42);
	sl_proto_msg_init(&f->m);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture_t *f = *state;

	sl_proto_msg_clear(&f->m);
	cp_stream_fini(&f->st);
	cp_result_free_all(f->taken);
	cp_results_destroy(&f->res);
	free(f);
	return 0;
}

/* The next frame, decoded into f->m: a stream frame of generation 7;
 * false if nothing is waiting. */
static bool
s_next(fixture_t *f)
{
	cp_result_t *r;

	if (!f->taken)
		f->taken = cp_results_take(f->res);
	if (!(r = f->taken))
		return false;
	f->taken = r->next;
	assert_true(r->stream);
	assert_true(r->gen == 7);
	assert_true(r->len <= sizeof f->frame);
	memcpy(f->frame, r->data, r->len);
	assert_int_equal(sl_proto_decode(f->frame, r->len, &f->m, NULL), 0);
	free(r);
	return true;
}

/* Reports in a tight loop give one frame (the first); after 25 ms the
 * next call sends its own value. Values are clamped, NaN is refused. */
static void
test_stream_progress_is_coalesced_and_clamped(void **state)
{
	fixture_t *f = *state;
	struct timespec ts = { 0, (CP_STREAM_PROGRESS_US + 5000) * 1000L };

	for (int i = 0; i < 1000; i++)
		assert_int_equal(cp_stream_progress(&f->st, -1 + i, "t"), 0);
	assert_true(s_next(f));
	assert_int_equal(f->m.type, SL_MSG_PROGRESS);
	assert_true(f->m.u.progress.job == 42);
	assert_true(f->m.u.progress.progress == 0);
	assert_int_equal(f->m.u.progress.text.len, 1);
	assert_false(s_next(f));
	nanosleep(&ts, NULL);
	assert_int_equal(cp_stream_progress(&f->st, NAN, NULL), -1);
	assert_int_equal(cp_stream_progress(&f->st, 7.5, NULL), 0);
	assert_true(s_next(f));
	assert_true(f->m.u.progress.progress == 1);
	assert_int_equal(f->m.u.progress.text.len, 0);
}

/* Partials are never coalesced: each is one frame, indexes 0, 1, 2...,
 * starting again at 0 for the next job; bad values are refused. */
static void
test_stream_partials_are_numbered_and_checked(void **state)
{
	static const uint8_t two_objects[] = { 0x01, 0x02 };
	static const uint8_t open_array[] = { 0x92, 0x01 };
	fixture_t *f = *state;
	uint8_t v = 0x05;

	for (uint32_t i = 0; i < 100; i++)
		assert_int_equal(cp_stream_partial(&f->st, &v, 1), 0);
	for (uint32_t i = 0; i < 100; i++) {
		assert_true(s_next(f));
		assert_int_equal(f->m.type, SL_MSG_PARTIAL);
		assert_int_equal(f->m.u.partial.index, i);
		assert_int_equal(f->m.u.partial.value->via.u64, 5);
	}
	assert_int_equal(cp_stream_partial(&f->st, NULL, 0), -1);
	assert_int_equal(
	    cp_stream_partial(&f->st, two_objects, sizeof two_objects), -1);
	assert_int_equal(
	    cp_stream_partial(&f->st, open_array, sizeof open_array), -1);
	assert_int_equal(
	    cp_stream_partial(&f->st, &v, SLUICE_TASK_MAX_PARTIAL + 1), -1);
	assert_false(s_next(f));
	cp_stream_begin(&f->st, 7, 43);
	assert_int_equal(cp_stream_partial(&f->st, &v, 1), 0);
	assert_true(s_next(f));
	assert_true(f->m.u.partial.job == 43);
	assert_int_equal(f->m.u.partial.index, 0);
}

/* What a task calls: the inline API reaches the host; without a host
 * (an API 1 caller) both calls are refused harmlessly. */
static void
test_stream_task_api_reaches_the_host(void **state)
{
	fixture_t *f = *state;
	sluice_task_ctx_t ctx = { NULL, NULL, &cp_stream_host, &f->st };
	sluice_task_ctx_t none = { NULL, NULL, NULL, NULL };
	uint8_t v = 0x01;

	assert_int_equal(sluice_task_progress(&ctx, 0.5, NULL), 0);
	assert_int_equal(sluice_task_partial(&ctx, &v, 1), 0);
	assert_int_equal(sluice_task_progress(&none, 0.5, NULL), -1);
	assert_int_equal(sluice_task_partial(&none, &v, 1), -1);
	assert_true(s_next(f));
	assert_int_equal(f->m.type, SL_MSG_PROGRESS);
	assert_true(s_next(f));
	assert_int_equal(f->m.type, SL_MSG_PARTIAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_stream_progress_is_coalesced_and_clamped, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_stream_partials_are_numbered_and_checked, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_stream_task_api_reaches_the_host, setup, teardown),
	};

	return cmocka_run_group_tests_name("stream", tests, NULL, NULL);
}
