/*
 * test_clock: the three clocks (common/sl_clock).
 *
 * mono never goes back and measures a real sleep; wall agrees with
 * time(2); thread_cpu counts this thread's work and not its sleep. The
 * bounds are loose on the slow side (a loaded machine sleeps longer),
 * strict on the side a wrong unit would break (us vs ms vs ns).
 * Single threaded.
 */
#include "sl_test.h" /* std headers, then <cmocka.h>: 1.1.5 needs them first */

#include <time.h>

#include "sl_clock.h"

static void
s_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts))
		;
}

static void
test_clock_mono_never_goes_back(void **state)
{
	int64_t last = sl_clock_mono_us();

	(void) state;
	for (int i = 0; i < 100000; i++) {
		int64_t now = sl_clock_mono_us();

		assert_true(now >= last);
		last = now;
	}
}

static void
test_clock_mono_measures_a_sleep_in_microseconds(void **state)
{
	int64_t t0 = sl_clock_mono_us(), dt;

	(void) state;
	s_sleep_ms(50);
	dt = sl_clock_mono_us() - t0;
	assert_true(dt >= 50000);
	assert_true(dt < 5000000); /* not ns, not a jump */
}

static void
test_clock_wall_is_unix_time_in_microseconds(void **state)
{
	time_t before = time(NULL);
	int64_t wall = sl_clock_wall_us();
	time_t after = time(NULL);

	(void) state;
	assert_true(wall / 1000000 >= (int64_t) before);
	assert_true(wall / 1000000 <= (int64_t) after);
}

static void
test_clock_thread_cpu_counts_work_not_sleep(void **state)
{
	volatile uint64_t x = 0;
	int64_t t0 = sl_clock_thread_cpu_ns(), busy, idle;
	int64_t end = sl_clock_mono_us() + 30000;

	(void) state;
	while (sl_clock_mono_us() < end)
		for (int i = 0; i < 1000; i++)
			x += (uint64_t) i;
	busy = sl_clock_thread_cpu_ns() - t0;
	/* 30 ms of wall time spinning: some of it on the CPU, even shared,
	 * and never more than the wall time plus a tick. */
	assert_true(busy > 1000000);
	assert_true(busy < 2000000000);
	t0 = sl_clock_thread_cpu_ns();
	s_sleep_ms(100);
	idle = sl_clock_thread_cpu_ns() - t0;
	assert_true(idle < 20000000); /* 100 ms asleep: next to no CPU */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock_mono_never_goes_back),
		cmocka_unit_test(
		    test_clock_mono_measures_a_sleep_in_microseconds),
		cmocka_unit_test(test_clock_wall_is_unix_time_in_microseconds),
		cmocka_unit_test(test_clock_thread_cpu_counts_work_not_sleep),
	};

	return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
