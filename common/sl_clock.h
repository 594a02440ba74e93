/*
 * sl_clock: the three clocks sluice uses. Any thread, no state.
 *
 * mono: intervals and deadlines (never jumps). wall: timestamps that other
 * processes on the same host compare (forward delay, pong server_us).
 * thread_cpu: CPU time of the calling thread (the burn task).
 */
#ifndef SL_CLOCK_H
#define SL_CLOCK_H

#include <stdint.h>

int64_t sl_clock_mono_us(void);
int64_t sl_clock_wall_us(void);
int64_t sl_clock_thread_cpu_ns(void);

#endif
