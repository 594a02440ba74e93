/*
 * gw_metrics: the exposition lines for a value and a histogram, and a
 * full buffer cut at its end, never overrun.
 */
#include "sl_test.h"

#include "gw_metrics.h"

static void
test_metrics_value_writes_help_type_and_sample(void **state)
{
	char buf[256], *p = buf;

	(void) state;
	gw_metrics_value(
	    &p, buf + sizeof buf, "sluice_x_total", "counter", "Things.", 42);
	gw_metrics_value(
	    &p, buf + sizeof buf, "sluice_y", "gauge", "Level.", 0.5);
	*p = '\0';
	assert_string_equal(buf,
	    "# HELP sluice_x_total Things.\n"
	    "# TYPE sluice_x_total counter\n"
	    "sluice_x_total 42\n"
	    "# HELP sluice_y Level.\n"
	    "# TYPE sluice_y gauge\n"
	    "sluice_y 0.5\n");
}

static void
test_metrics_hist_buckets_are_cumulative(void **state)
{
	char buf[2048], *p = buf;
	gw_hist_t h;

	(void) state;
	gw_hist_init_latency(&h);
	gw_hist_observe_us(&h, 500);     /* le 0.001 */
	gw_hist_observe_us(&h, 3000);    /* le 0.005 */
	gw_hist_observe_us(&h, 3000);    /* le 0.005 */
	gw_hist_observe_us(&h, 9999999); /* le 10 */
	gw_hist_observe_us(&h, 1e9);     /* +Inf */
	gw_metrics_hist(&p, buf + sizeof buf, "sluice_l", "Latency.", &h);
	*p = '\0';
	assert_non_null(strstr(buf,
	    "# HELP sluice_l Latency.\n# TYPE sluice_l histogram\n"
	    "sluice_l_bucket{le=\"0.001\"} 1\n"
	    "sluice_l_bucket{le=\"0.005\"} 3\n"
	    "sluice_l_bucket{le=\"0.01\"} 3\n"));
	assert_non_null(strstr(buf, "sluice_l_bucket{le=\"10\"} 4\n"));
	assert_non_null(strstr(buf,
	    "sluice_l_bucket{le=\"300\"} 4\n"
	    "sluice_l_bucket{le=\"+Inf\"} 5\n"));
	assert_non_null(strstr(buf, "sluice_l_count 5\n"));
	assert_non_null(strstr(buf, "sluice_l_sum 1010.0065\n"));
}

static void
test_metrics_put_cuts_at_the_end(void **state)
{
	char buf[16], *p = buf;

	(void) state;
	memset(buf, 'x', sizeof buf);
	gw_metrics_put(&p, buf + 8, "%s", "0123456789");
	/* vsnprintf keeps the last byte for its NUL: 7 characters fit */
	assert_ptr_equal(p, buf + 8);
	assert_memory_equal(buf, "0123456", 8);
	assert_int_equal(buf[8], 'x'); /* never past end */
	gw_metrics_put(&p, buf + 8, "more");
	assert_ptr_equal(p, buf + 8); /* full: nothing more */
	assert_int_equal(buf[8], 'x');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_metrics_value_writes_help_type_and_sample),
		cmocka_unit_test(test_metrics_hist_buckets_are_cumulative),
		cmocka_unit_test(test_metrics_put_cuts_at_the_end),
	};

	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
