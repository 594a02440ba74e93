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
static int s_format = SL_LOG_TEXT;

void
sl_log_set_format(int format)
{
	s_format = format;
}

/* Append s to line as a JSON string body (no quotes); returns new used. */
static size_t
s_json_escape(char *line, size_t used, size_t cap, const char *s)
{
	for (; *s && used + 7 < cap; s++) {
		unsigned char c = (unsigned char) *s;

		if (c == '"' || c == '\\') {
			line[used++] = '\\';
			line[used++] = (char) c;
		} else if (c < 0x20) {
			used += (size_t) snprintf(
			    line + used, cap - used, "\\u%04x", c);
		} else {
			line[used++] = (char) c;
		}
	}
	return used;
}

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
	static const char *const names[]
	    = { "error", "warn", "notice", "info", "debug" };
	char line[SL_LOG_LINE_MAX], msg[SL_LOG_LINE_MAX];
	int64_t now = sl_clock_wall_us();
	time_t secs = (time_t) (now / 1000000);
	struct tm tm;
	size_t n, m;
	va_list ap;
	int rc;

	if (level < SL_LOG_ERR || level > SL_LOG_DEBUG)
		level = SL_LOG_ERR;
	va_start(ap, fmt);
	rc = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	m = rc < 0                     ? 0
	    : (size_t) rc < sizeof msg ? (size_t) rc
	                               : sizeof msg - 1;
	while (m && msg[m - 1] == '\n')
		m--; /* callers (and lws) may end with a newline */
	msg[m] = '\0';
	gmtime_r(&secs, &tm);
	if (s_format == SL_LOG_JSON) {
		rc = snprintf(line, sizeof line,
		    "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\","
		    "\"level\":\"%s\",\"comp\":\"%s\",\"event\":\"%s\","
		    "\"msg\":\"",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, (int) (now / 1000 % 1000),
		    names[level], s_component, id);
		n = rc < 0 ? 0 : (size_t) rc;
		n = s_json_escape(line, n < sizeof line ? n : sizeof line,
		    sizeof line - 3, msg);
		line[n++] = '"';
		line[n++] = '}';
	} else {
		rc = snprintf(line, sizeof line,
		    "%c: %02d:%02d:%02d.%03d %s %s %s", letters[level],
		    tm.tm_hour, tm.tm_min, tm.tm_sec,
		    (int) (now / 1000 % 1000), s_component, id, msg);
		n = rc < 0 ? 0 : (size_t) rc;
		if (n > sizeof line - 1)
			n = sizeof line - 1;
	}
	line[n++] = '\n';
	/* One write per line is what keeps lines whole across threads; a
	 * short write to stderr is not worth retrying for a log line. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
