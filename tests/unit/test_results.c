/*
 * test_results: the frames compute threads hand the I/O thread
 * (compute/cp_results): one FIFO, an eventfd written once per empty ->
 * not empty, a bound in bytes that blocks appenders until a take, and a
 * stop that releases them. Real threads; timing bounds are generous.
 */
#include "sl_test.h" /* std headers, then <cmocka.h> */

#include <poll.h>
#include <pthread.h>
#include <time.h>

#include "cp_results.h"
#include "sl_clock.h"

static bool
s_readable(cp_results_t *res, int timeout_ms)
{
	struct pollfd pfd = { cp_results_fd(res), POLLIN, 0 };

	return poll(&pfd, 1, timeout_ms) == 1;
}

/* A list of n frames of len bytes, the first byte of each its index. */
static void
s_list(
    cp_result_list_t *l, uint64_t gen, unsigned first, unsigned n, size_t len)
{
	uint8_t buf[256] = { 0 };

	assert_true(len <= sizeof buf && len > 0);
	for (unsigned i = 0; i < n; i++) {
		cp_result_t *r;

		buf[0] = (uint8_t) (first + i);
		r = cp_result_new(gen, i % 2, buf, len);
		assert_non_null(r);
		cp_result_list_push(l, r);
	}
}

static void
test_results_keep_order_and_signal_once_per_take(void **state)
{
	cp_results_t *res = cp_results_new(1 << 20);
	cp_result_list_t l = { 0 };
	cp_results_stats_t st;
	cp_result_t *got;
	unsigned i = 0;

	(void) state;
	assert_non_null(res);
	assert_false(s_readable(res, 0));
	assert_null(cp_results_take(res)); /* nothing: fine */
	s_list(&l, 7, 0, 3, 10);
	assert_int_equal(cp_results_append(res, &l), 0);
	assert_null(l.head);
	assert_int_equal(l.n, 0);
	s_list(&l, 7, 3, 2, 10);
	assert_int_equal(cp_results_append(res, &l), 0);
	cp_results_stats(res, &st);
	assert_int_equal(st.queued, 5);
	assert_int_equal(st.bytes, 50);
	assert_int_equal(st.signals, 1); /* the second append did not write */
	assert_true(s_readable(res, 0));
	got = cp_results_take(res);
	assert_false(s_readable(res, 0));
	for (cp_result_t *r = got; r; r = r->next, i++) {
		assert_int_equal(r->data[0], i);
		assert_true(r->gen == 7);
		/* s_list marks every second frame of each list a stream */
		assert_int_equal(r->stream, (i < 3 ? i : i - 3) % 2 == 1);
	}
	assert_int_equal(i, 5);
	cp_result_free_all(got);
	/* the next append after a take signals again */
	s_list(&l, 8, 0, 1, 1);
	assert_int_equal(cp_results_append(res, &l), 0);
	cp_results_stats(res, &st);
	assert_int_equal(st.signals, 2);
	assert_true(s_readable(res, 0));
	cp_results_destroy(&res); /* frees what is queued (ASan) */
	assert_null(res);
	cp_results_destroy(&res);
}

typedef struct appender {
	cp_results_t *res;
	unsigned n;   /* appends of one 100-byte frame */
	int rc;       /* of the last */
	int64_t done; /* when it returned */
} appender_t;

static void *
s_append_thread(void *arg)
{
	appender_t *a = arg;

	for (unsigned i = 0; i < a->n; i++) {
		cp_result_list_t l = { 0 };

		s_list(&l, 1, i, 1, 100);
		a->rc = cp_results_append(a->res, &l);
	}
	a->done = sl_clock_mono_us();
	return NULL;
}

/* Over the bound, an appender blocks until the I/O thread takes the
 * list: nothing is dropped and no more than the bound (plus one append)
 * waits. */
static void
test_results_bound_blocks_a_producer_until_a_take(void **state)
{
	cp_results_t *res = cp_results_new(250);
	appender_t a = { res, 5, -9, 0 };
	struct timespec ts = { 0, 200000000 };
	cp_results_stats_t st;
	pthread_t th;
	unsigned total = 0;

	(void) state;
	assert_int_equal(pthread_create(&th, NULL, s_append_thread, &a), 0);
	nanosleep(&ts, NULL);
	cp_results_stats(res, &st);
	assert_int_equal(st.queued, 3); /* 300 bytes: the third went over */
	assert_int_equal(st.blocked, 1);
	assert_int_equal(a.done, 0); /* still blocked */
	while (total < 5) {
		cp_result_t *got;

		assert_true(s_readable(res, 5000));
		got = cp_results_take(res);
		for (cp_result_t *r = got; r; r = r->next)
			assert_int_equal(r->data[0], total++);
		cp_result_free_all(got);
	}
	pthread_join(th, NULL);
	assert_int_equal(a.rc, 0);
	assert_true(a.done > 0);
	cp_results_destroy(&res);
}

/* A frame larger than the bound still goes through an empty list. */
static void
test_results_an_empty_list_takes_a_frame_over_the_bound(void **state)
{
	cp_results_t *res = cp_results_new(10);
	cp_result_list_t l = { 0 };

	(void) state;
	s_list(&l, 1, 0, 2, 200);
	assert_int_equal(cp_results_append(res, &l), 0);
	cp_result_free_all(cp_results_take(res));
	cp_results_destroy(&res);
}

/* Stop releases a blocked appender, which gives up and frees its frames
 * (ASan checks); later appends fail at once. */
static void
test_results_stop_releases_a_blocked_producer(void **state)
{
	cp_results_t *res = cp_results_new(150);
	appender_t a = { res, 3, -9, 0 };
	struct timespec ts = { 0, 100000000 };
	cp_result_list_t l = { 0 };
	pthread_t th;

	(void) state;
	assert_int_equal(pthread_create(&th, NULL, s_append_thread, &a), 0);
	nanosleep(&ts, NULL);
	assert_int_equal(a.done, 0);
	cp_results_stop(res);
	pthread_join(th, NULL);
	assert_int_equal(a.rc, -1);
	s_list(&l, 1, 0, 1, 1);
	assert_int_equal(cp_results_append(res, &l), -1);
	assert_null(l.head);
	cp_results_destroy(&res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_results_keep_order_and_signal_once_per_take),
		cmocka_unit_test(
		    test_results_bound_blocks_a_producer_until_a_take),
		cmocka_unit_test(
		    test_results_an_empty_list_takes_a_frame_over_the_bound),
		cmocka_unit_test(
		    test_results_stop_releases_a_blocked_producer),
	};

	return cmocka_run_group_tests_name("results", tests, NULL, NULL);
}
