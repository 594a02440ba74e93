/*
 * sl_log: one line per event on stderr.
 *
 *   E: 12:00:01.123 gw WRK-DEAD worker=w-host-42 missed=3
 *
 * severity letter, wall time, component, a stable event id (grep-able,
 * documented in docs/ARCHITECTURE.md), then key=value details. The level
 * is checked before formatting. Each line leaves in one write(2), so lines
 * from different threads never interleave. Any thread.
 *
 * With SL_LOG_JSON each line is one JSON object instead:
 *
 *   {"ts":"2026-11-26T12:00:01.123Z","level":"error","comp":"gw",
 *    "event":"WRK-DEAD","msg":"worker=w-host-42 missed=3"}
 *
 * Repeated events are rate-limited per event id: at levels WARN, NOTICE
 * and INFO at most SL_LOG_RATE_MAX lines of one id leave in a window of
 * SL_LOG_RATE_WINDOW_US (it starts with the id's first line); the rest
 * are counted, and one line with the same id reports them once the window
 * has ended:
 *
 *   N: 12:00:02.140 gw CLI-REFUSED 1934 more suppressed
 *
 * so a flood of bad frames or refused upgrades costs a few lines a second,
 * not one each. ERR (rare, and each matters) and DEBUG (asked for) are
 * never limited, except ERR lines written with sl_log_emit_limited.
 *
 * The component, level and format are process-wide state outside main():
 * set once at start, before threads exist. The rate limiter's table is
 * process-wide too; it changes with every line, under its own lock.
 */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stdbool.h>

enum { SL_LOG_ERR = 0, SL_LOG_WARN, SL_LOG_NOTICE, SL_LOG_INFO, SL_LOG_DEBUG };

/* The names --log-level accepts, in level order, comma separated. */
#define SL_LOG_LEVEL_NAMES "error,warn,notice,info,debug"

void sl_log_setup(const char *component, int level);

enum {
	SL_LOG_TEXT = 0, /* E: 12:00:01.123 gw WRK-DEAD worker=... */
	SL_LOG_JSON,     /* {"ts":"...Z","level":"error","comp":"gw",...} */
};
#define SL_LOG_FORMAT_NAMES "text,json"

/* One JSON object per line for log shippers; set once, at start. */
void sl_log_set_format(int format);
int sl_log_level(void);
void sl_log_emit(int level, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A level or-ed with SL_LOG_LIMITED is rate-limited at ERR too: for lines
 * a peer can cause at will whatever their severity (lws' own errors, e.g.
 * one per request with oversized headers). */
#define SL_LOG_LIMITED 0x100
/* sl_log_emit with SL_LOG_LIMITED. The caller checks the level first. */
#define sl_log_emit_limited(level, id, ...)                                   \
	sl_log_emit((level) | SL_LOG_LIMITED, (id), __VA_ARGS__)

#define SL_LOG_RATE_MAX 10            /* lines per id per window */
#define SL_LOG_RATE_WINDOW_US 1000000 /* one second */

/* Write the "N more suppressed" line of every id whose window has ended
 * (all: of every id, ended or not; at exit). Call it from a periodic
 * timer (the gateway's tick, the worker's heartbeat) and once at exit, so
 * that a count is reported even when the id falls silent. Any thread. */
void sl_log_flush(bool all);

#define sl_log(level, id, ...)                                                \
	do {                                                                  \
		if ((level) <= sl_log_level())                                \
			sl_log_emit((level), (id), __VA_ARGS__);              \
	} while (0)

#define SL_ERR(id, ...) sl_log(SL_LOG_ERR, id, __VA_ARGS__)
#define SL_WARN(id, ...) sl_log(SL_LOG_WARN, id, __VA_ARGS__)
#define SL_NOTICE(id, ...) sl_log(SL_LOG_NOTICE, id, __VA_ARGS__)
#define SL_INFO(id, ...) sl_log(SL_LOG_INFO, id, __VA_ARGS__)
#define SL_DEBUG(id, ...) sl_log(SL_LOG_DEBUG, id, __VA_ARGS__)

#endif
