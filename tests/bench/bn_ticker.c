/*
 * sluice-bench-ticker: the child process websocketd runs for each
 * connection in tests/bench/run.sh, so that websocketd forwards the same
 * load sluice does: lines that each carry the wall-clock time they were
 * written, at a given rate. One thread, one process per connection.
 *
 * It waits for one start line on stdin (websocketd passes each text
 * message from the client as a line; sluice-bench --push sends it):
 *
 *   {"type":"push","rate":R,"burst":K,"ms":D,"bytes":B}
 *
 * then writes R bursts per second (0: as fast as the pipe takes them) of
 * K result lines for D milliseconds, each line shaped like the gateway's
 * result frame with an item of B bytes (quotes included):
 *
 *   {"type":"result","id":"push","seq":N,"value":"xx..","t_done_us":T,...}
 *
 * T is CLOCK_REALTIME in µs just before the burst's write(), as a worker
 * stamps t_done_us. Then one done line with the count and this process's
 * CPU time, and it waits for stdin to close (the client went away).
 * Without a start line (an idle connection) it only waits for stdin to
 * close. A bad start line gets an error line and exit status 2.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define TK_LINE_MAX 4096 /* the start line, at most */
#define TK_BYTES_MAX 65536

typedef struct tk_cfg {
	long long rate, burst, ms, bytes;
} tk_cfg_t;

static int64_t
s_clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
s_write_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(STDOUT_FILENO, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t) w;
	}
	return 0;
}

/* One error line for the client, and exit status 2. */
static int
s_refuse(const char *why)
{
	char line[256];
	int n = snprintf(line, sizeof line,
	    "{\"type\":\"error\",\"code\":\"bad_start\",\"message\":\"%s\"}\n",
	    why);

	s_write_all(line, (size_t) n);
	fprintf(stderr, "sluice-bench-ticker: %s\n", why);
	return 2;
}

/* Where the value of "key" starts in line (after the colon and any
 * blanks), or NULL. */
static const char *
s_value(const char *line, const char *key)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof pat, "\"%s\"", key);
	p = strstr(line, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	p += strspn(p, " \t");
	if (*p++ != ':')
		return NULL;
	return p + strspn(p, " \t");
}

/* The integer value of "key" in line, within [lo, hi]. 0 or -1. */
static int
s_field(const char *line, const char *key, long long lo, long long hi,
    long long *out)
{
	const char *p = s_value(line, key);
	char *end;

	if (!p)
		return -1;
	errno = 0;
	*out = strtoll(p, &end, 10);
	end += strspn(end, " \t");
	if (end == p || errno || *out < lo || *out > hi
	    || (*end != ',' && *end != '}'))
		return -1;
	return 0;
}

static int
s_parse(const char *line, tk_cfg_t *cfg)
{
	const char *type = s_value(line, "type");

	if (!type || strncmp(type, "\"push\"", 6))
		return -1;
	if (s_field(line, "rate", 0, 1000000, &cfg->rate)
	    || s_field(line, "burst", 1, 10000, &cfg->burst)
	    || s_field(line, "ms", 1, 3600000, &cfg->ms)
	    || s_field(line, "bytes", 2, TK_BYTES_MAX, &cfg->bytes))
		return -1;
	return 0;
}

/* Read until stdin closes (the client went away); what comes is dropped. */
static void
s_wait_eof(void)
{
	char buf[4096];

	for (;;) {
		ssize_t r = read(STDIN_FILENO, buf, sizeof buf);

		if (r == 0 || (r < 0 && errno != EINTR))
			return;
	}
}

static int64_t
s_cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (int64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000
	    + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

/* Emit the bursts; the number of lines written, or -1 (stdout closed). */
static long long
s_emit(const tk_cfg_t *cfg, char *buf, const char *value)
{
	int64_t t0 = s_clock_us(CLOCK_MONOTONIC);
	int64_t end = t0 + cfg->ms * 1000;
	long long seq = 0;

	for (long long k = 0;; k++) {
		int64_t due = cfg->rate
		    ? t0 + (int64_t) ((double) k * 1e6 / (double) cfg->rate)
		    : 0;
		int64_t wall;
		size_t n = 0;

		if (due >= end || s_clock_us(CLOCK_MONOTONIC) >= end)
			break;
		if (due) {
			struct timespec ts = { (time_t) (due / 1000000),
				(due % 1000000) * 1000 };

			while (clock_nanosleep(
			           CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL)
			    == EINTR)
				;
		}
		wall = s_clock_us(CLOCK_REALTIME);
		for (long long i = 0; i < cfg->burst; i++)
			n += (size_t) sprintf(buf + n,
			    "{\"type\":\"result\",\"id\":\"push\",\"seq\":%"
			    "lld,"
			    "\"value\":%s,\"t_done_us\":%lld,\"cpu_us\":0}\n",
			    seq++, value, (long long) wall);
		if (s_write_all(buf, n))
			return -1;
	}
	return seq;
}

int
main(void)
{
	char line[TK_LINE_MAX + 1], *buf, *value, done[256];
	size_t len = 0;
	tk_cfg_t cfg;
	long long sent;
	int64_t t0;
	ssize_t r;
	int n;

	/* Only the first line matters: read it byte-wise so that nothing
	 * after it is taken from the pipe. */
	while (len < TK_LINE_MAX) {
		r = read(STDIN_FILENO, line + len, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0; /* closed before a start line: was idle */
		if (line[len] == '\n')
			break;
		len++;
	}
	if (len == TK_LINE_MAX)
		return s_refuse("start line longer than 4096 bytes");
	line[len] = '\0';
	if (s_parse(line, &cfg))
		return s_refuse("want a push line: rate 0..1000000, burst "
		                "1..10000, ms 1..3600000, bytes 2..65536");
	value = malloc((size_t) cfg.bytes + 1);
	buf = malloc((size_t) cfg.burst * ((size_t) cfg.bytes + 128));
	if (!value || !buf)
		return s_refuse("out of memory");
	memset(value, 'x', (size_t) cfg.bytes);
	value[0] = value[cfg.bytes - 1] = '"';
	value[cfg.bytes] = '\0';
	t0 = s_clock_us(CLOCK_MONOTONIC);
	sent = s_emit(&cfg, buf, value);
	free(buf);
	free(value);
	if (sent < 0)
		return 1; /* the client went away */
	n = snprintf(done, sizeof done,
	    "{\"type\":\"done\",\"id\":\"push\",\"ok\":%lld,\"failed\":0,"
	    "\"elapsed_ms\":%lld,\"cpu_us\":%lld}\n",
	    sent, (long long) (s_clock_us(CLOCK_MONOTONIC) - t0) / 1000,
	    (long long) s_cpu_us());
	if (s_write_all(done, (size_t) n))
		return 1;
	s_wait_eof();
	return 0;
}
