/*
 * cp_health: the worker's health file, for container health checks.
 *
 * The I/O thread (cp_io) rewrites it every heartbeat with one line that
 * starts with "ok" while some gateway answers, "waiting" otherwise;
 * `sluice-compute --check-health` (another process, main) reads it. No
 * state; the calling thread.
 */
#ifndef CP_HEALTH_H
#define CP_HEALTH_H

#include <stddef.h>
#include <stdint.h>

/* Replace path's content with text, atomically (a temporary file, then
 * rename): 0, or SL_ESYS with errno set. */
int cp_health_write(const char *path, const char *text);

/*
 * 0 if the health file says "ok" and was written within stale_us, else
 * SL_EINVAL with the reason in why.
 */
int cp_health_check(
    const char *health_file, int64_t stale_us, char *why, size_t whylen);

#endif
