/* sl_clock: thin wrappers over clock_gettime. Any thread. */
#include <time.h>

#include "sl_clock.h"

static int64_t
s_read_ns(clockid_t id)
{
	struct timespec ts;

	/* These clocks exist on every Linux sluice targets; failure would be a
	 * programming error (bad clock id), so no error path. */
	clock_gettime(id, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
sl_clock_mono_us(void)
{
	return s_read_ns(CLOCK_MONOTONIC) / 1000;
}

int64_t
sl_clock_wall_us(void)
{
	return s_read_ns(CLOCK_REALTIME) / 1000;
}

int64_t
sl_clock_thread_cpu_ns(void)
{
	return s_read_ns(CLOCK_THREAD_CPUTIME_ID);
}
