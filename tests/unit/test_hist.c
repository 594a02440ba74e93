/*
 * gw_hist: observations land in the first bucket whose bound holds them;
 * larger ones in +Inf; sum and count follow every observation.
 */
#include "sl_test.h"

#include "gw_hist.h"

static void
test_hist_starts_empty_with_ascending_bounds(void **state)
{
	gw_hist_t f, l;

	(void) state;
	gw_hist_init_forward(&f);
	gw_hist_init_latency(&l);
	assert_true(f.n_bounds > 0 && f.n_bounds <= GW_HIST_MAX_BUCKETS);
	assert_true(l.n_bounds > 0 && l.n_bounds <= GW_HIST_MAX_BUCKETS);
	for (size_t i = 1; i < f.n_bounds; i++)
		assert_true(f.bounds[i - 1] < f.bounds[i]);
	for (size_t i = 1; i < l.n_bounds; i++)
		assert_true(l.bounds[i - 1] < l.bounds[i]);
	/* forward delay in microseconds, latency in seconds */
	assert_true(f.bounds[0] < l.bounds[0]);
	assert_int_equal(f.count, 0);
	assert_int_equal(f.inf, 0);
	assert_true(f.sum == 0.0);
}

/* Table: microseconds observed -> bucket of the latency histogram
 * (bounds 1 ms, 5 ms, ...; -1: +Inf). */
static void
test_hist_observation_lands_in_its_bucket(void **state)
{
	static const struct {
		const char *name;
		int64_t us;
		int bucket;
	} rows[] = {
		{ "negative counts as zero", -5, 0 },
		{ "zero", 0, 0 },
		{ "exactly on the first bound", 1000, 0 },
		{ "just above it", 1001, 1 },
		{ "on the second bound", 5000, 1 },
		{ "one second", 1000000, 7 },
		{ "on the last bound", 300000000, 13 },
		{ "above every bound", 300000001, -1 },
	};

	(void) state;
	for (size_t i = 0; i < SL_N(rows); i++) {
		gw_hist_t h;
		uint64_t in_buckets = 0;

		gw_hist_init_latency(&h);
		gw_hist_observe_us(&h, rows[i].us);
		sl_assert_row_int(rows[i].name, h.count, 1);
		if (rows[i].bucket < 0)
			sl_assert_row_int(rows[i].name, h.inf, 1);
		else
			sl_assert_row_int(
			    rows[i].name, h.counts[rows[i].bucket], 1);
		for (size_t b = 0; b < h.n_bounds; b++)
			in_buckets += h.counts[b];
		sl_assert_row_int(rows[i].name, in_buckets + h.inf, 1);
	}
}

static void
test_hist_sums_seconds(void **state)
{
	gw_hist_t h;

	(void) state;
	gw_hist_init_forward(&h);
	gw_hist_observe_us(&h, 10);
	gw_hist_observe_us(&h, 20);
	gw_hist_observe_us(&h, 2000000); /* 2 s: past the last bound */
	assert_int_equal(h.count, 3);
	assert_int_equal(h.counts[0], 1); /* 10 µs */
	assert_int_equal(h.counts[1], 1); /* 20 µs <= 25 µs */
	assert_int_equal(h.inf, 1);
	assert_true(h.sum > 2.0000299 && h.sum < 2.0000301);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hist_starts_empty_with_ascending_bounds),
		cmocka_unit_test(test_hist_observation_lands_in_its_bucket),
		cmocka_unit_test(test_hist_sums_seconds),
	};

	return cmocka_run_group_tests_name("hist", tests, NULL, NULL);
}
