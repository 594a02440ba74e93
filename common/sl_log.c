/*
 * sl_log: formats a line into a stack buffer and writes it with one
 * write(2); counts repeated ids in a small table under a lock. Any
 * thread; see sl_log.h for the format and the rate limit.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sl_clock.h"
#include "sl_log.h"

#define SL_LOG_LINE_MAX 1024 /* longer lines are cut, never split */
/* Ids rate-limited at once. A sluice process has a few dozen ids and a
 * slot is freed when its window ends; should more be busy at once, the
 * extra ones pass unlimited rather than being lost. */
#define SL_LOG_RATE_IDS 64
#define SL_LOG_ID_MAX 32 /* ids are told apart by their first 31 bytes */

/* Set once by sl_log_setup() before any thread starts; read-only after. */
static const char *s_component = "sluice";
static int s_level = SL_LOG_NOTICE;
static int s_format = SL_LOG_TEXT;

/* One id's current window. */
typedef struct sl_log_rate {
	char id[SL_LOG_ID_MAX]; /* "": a free slot */
	int64_t start_us;       /* the window began with this line (mono) */
	unsigned lines;         /* lines written in the window */
	uint64_t suppressed;    /* lines counted instead of written */
	int level;              /* the most severe of those */
} sl_log_rate_t;

static pthread_mutex_t s_rate_lock = PTHREAD_MUTEX_INITIALIZER;
static sl_log_rate_t s_rate[SL_LOG_RATE_IDS]; /* {s_rate_lock} */

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

/* Format and write one line, whatever the rate. */
static void
s_write(int level, const char *id, const char *msg_in)
{
	static const char letters[] = "EWNID";
	static const char *const names[]
	    = { "error", "warn", "notice", "info", "debug" };
	char line[SL_LOG_LINE_MAX], msg[SL_LOG_LINE_MAX];
	int64_t now = sl_clock_wall_us();
	time_t secs = (time_t) (now / 1000000);
	struct tm tm;
	size_t n, m;
	int rc;

	m = strlen(msg_in);
	while (m && msg_in[m - 1] == '\n')
		m--; /* callers (and lws) may end with a newline */
	memcpy(msg, msg_in, m);
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

static void
s_report(int level, const char *id, uint64_t suppressed)
{
	char msg[64];

	snprintf(msg, sizeof msg, "%" PRIu64 " more suppressed", suppressed);
	s_write(level, id, msg);
}

/*
 * May a line of id at level be written now? false: it was counted
 * instead. *report > 0: the id's previous window had that many suppressed
 * lines (of *report_level at worst), to be reported before this line.
 */
static bool
s_rate_admit_locked(int level, const char *id, int64_t now, uint64_t *report,
    int *report_level)
{
	sl_log_rate_t *r = NULL, *spare = NULL;

	for (size_t i = 0; i < SL_LOG_RATE_IDS && !r; i++) {
		sl_log_rate_t *e = &s_rate[i];

		if (e->id[0] && !strncmp(e->id, id, SL_LOG_ID_MAX - 1))
			r = e;
		else if (!spare
		    && (!e->id[0]
		        || (!e->suppressed
		            && now - e->start_us >= SL_LOG_RATE_WINDOW_US)))
			spare = e; /* free, or ended with nothing to report */
	}
	if (!r) {
		if (!spare)
			return true;
		r = spare;
		snprintf(r->id, sizeof r->id, "%s", id);
		r->start_us = now;
		r->lines = 0;
		r->suppressed = 0;
	} else if (now - r->start_us >= SL_LOG_RATE_WINDOW_US) {
		*report = r->suppressed;
		*report_level = r->level;
		r->start_us = now;
		r->lines = 0;
		r->suppressed = 0;
	}
	if (r->lines < SL_LOG_RATE_MAX) {
		r->lines++;
		return true;
	}
	if (!r->suppressed || level < r->level)
		r->level = level;
	r->suppressed++;
	return false;
}

void
sl_log_flush(bool all)
{
	struct {
		char id[SL_LOG_ID_MAX];
		uint64_t n;
		int level;
	} out[SL_LOG_RATE_IDS];
	int64_t now = sl_clock_mono_us();
	size_t n_out = 0;

	pthread_mutex_lock(&s_rate_lock);
	for (size_t i = 0; i < SL_LOG_RATE_IDS; i++) {
		sl_log_rate_t *e = &s_rate[i];

		if (!e->id[0]
		    || (!all && now - e->start_us < SL_LOG_RATE_WINDOW_US))
			continue;
		if (e->suppressed) {
			memcpy(out[n_out].id, e->id, sizeof e->id);
			out[n_out].n = e->suppressed;
			out[n_out].level = e->level;
			n_out++;
		}
		memset(e, 0, sizeof *e);
	}
	pthread_mutex_unlock(&s_rate_lock);
	/* Written outside the lock: other threads' lines need not wait. */
	for (size_t i = 0; i < n_out; i++)
		s_report(out[i].level, out[i].id, out[i].n);
}

void
sl_log_emit(int level, const char *id, const char *fmt, ...)
{
	/* SL_LOG_LIMITED: rate-limit the line (see sl_log.h) even at ERR. */
	bool limited = level & SL_LOG_LIMITED;
	char msg[SL_LOG_LINE_MAX];
	uint64_t report = 0;
	int report_level;
	bool admit;
	va_list ap;

	level &= ~SL_LOG_LIMITED;
	if (level < SL_LOG_ERR || level > SL_LOG_DEBUG)
		level = SL_LOG_ERR;
	report_level = level;
	if (level <= SL_LOG_INFO && (limited || level >= SL_LOG_WARN)) {
		pthread_mutex_lock(&s_rate_lock);
		admit = s_rate_admit_locked(
		    level, id, sl_clock_mono_us(), &report, &report_level);
		pthread_mutex_unlock(&s_rate_lock);
		if (report)
			s_report(report_level, id, report);
		if (!admit)
			return; /* before formatting: a flood costs little */
	}
	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	s_write(level, id, msg);
}
