/*
 * sl_log: formats a line into a stack buffer and writes it with one
 * write(2). Any thread; see sl_log.h for the format.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sl_clock.h"
#include "sl_log.h"

#define SL_LOG_LINE_MAX 1024 /* longer lines are cut, never split */

/* Set once by sl_log_setup() before any thread starts; read-only after. */
static const char *s_component = "sluice";
static int s_level = SL_LOG_NOTICE;

void
sl_log_setup(const char *component, int level)
{
	s_component = component;
	s_level = level;
}

int
sl_log_level(void)
{
	return s_level;
}

void
sl_log_emit(int level, const char *id, const char *fmt, ...)
{
	static const char letters[] = "EWNID";
	char line[SL_LOG_LINE_MAX];
	int64_t now = sl_clock_wall_us();
	time_t secs = (time_t) (now / 1000000);
	struct tm tm;
	size_t n;
	va_list ap;
	int rc;

	if (level < SL_LOG_ERR || level > SL_LOG_DEBUG)
		level = SL_LOG_ERR;
	gmtime_r(&secs, &tm);
	rc = snprintf(line, sizeof line, "%c: %02d:%02d:%02d.%03d %s %s ",
	    letters[level], tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (int) (now / 1000 % 1000), s_component, id);
	n = rc < 0 ? 0 : (size_t) rc;
	if (n < sizeof line) {
		va_start(ap, fmt);
		rc = vsnprintf(line + n, sizeof line - n, fmt, ap);
		va_end(ap);
		n += rc < 0 ? 0 : (size_t) rc;
	}
	if (n > sizeof line - 2)
		n = sizeof line - 2;
	while (n && line[n - 1] == '\n')
		n--; /* callers (and lws) may end with a newline */
	line[n++] = '\n';
	/* One write per line is what keeps lines whole across threads; a
	 * short write to stderr is not worth retrying for a log line. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
