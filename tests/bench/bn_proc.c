/*
 * bn_proc: /proc, getrusage and rlimit (see bn_proc.h). No state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include "bn_proc.h"
#include "sl_err.h"

int
bn_proc_rss_kib(pid_t pid, int64_t *kib)
{
	char path[64], line[256];
	FILE *f;
	int rc = SL_ESYS;

	snprintf(path, sizeof path, "/proc/%ld/status", (long) pid);
	f = fopen(path, "r");
	if (!f)
		return SL_ESYS;
	while (fgets(line, sizeof line, f)) {
		long long v;

		if (sscanf(line, "VmRSS: %lld kB", &v) == 1) {
			*kib = v;
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

int
bn_proc_cpu_us(pid_t pid, int64_t *cpu_us)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	long hz = sysconf(_SC_CLK_TCK);
	size_t n;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long) pid);
	f = fopen(path, "r");
	if (!f)
		return SL_ESYS;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields are
	 * counted from the last ')'. utime and stime are fields 14, 15. */
	p = strrchr(buf, ')');
	if (!p || hz <= 0
	    || sscanf(p + 1,
	           " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	           &ut, &st)
	        != 2)
		return SL_ESYS;
	*cpu_us = (int64_t) ((ut + st) * 1000000ULL / (unsigned long long) hz);
	return 0;
}

int
bn_proc_machine_busy_us(int64_t *busy_us)
{
	unsigned long long v[8] = { 0 };
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		return SL_ESYS;
	/* cpu user nice system idle iowait irq softirq steal ... */
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 7 || hz <= 0)
		return SL_ESYS;
	*busy_us = (int64_t) ((v[0] + v[1] + v[2] + v[5] + v[6] + v[7])
	    * 1000000ULL / (unsigned long long) hz);
	return 0;
}

int64_t
bn_proc_self_cpu_us(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (int64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000
	    + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

int
bn_proc_raise_nofile(uint64_t want, uint64_t *got)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return SL_ESYS;
	if (rl.rlim_cur < want) {
		rl.rlim_cur
		    = (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		    ? rl.rlim_max
		    : want;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			return SL_ESYS;
	}
	*got = rl.rlim_cur;
	return 0;
}

int
bn_proc_parse_pids(const char *text, pid_t *pids, int max)
{
	int n = 0;
	const char *p = text;

	while (*p) {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p || v <= 0 || n >= max || (*end && *end != ','))
			return SL_EINVAL;
		pids[n++] = (pid_t) v;
		p = *end ? end + 1 : end;
	}
	return n;
}
