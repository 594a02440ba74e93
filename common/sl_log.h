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
 * The component, level and format are the one piece of process-wide state
 * outside main(): set once at start, before threads exist.
 */
#ifndef SL_LOG_H
#define SL_LOG_H

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
