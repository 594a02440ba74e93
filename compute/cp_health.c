/*
 * cp_health: the worker's health file (see cp_health.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cp_health.h"
#include "sl_clock.h"
#include "sl_err.h"

int
cp_health_write(const char *path, const char *text)
{
	char tmp[4200];
	size_t n = strlen(text);
	FILE *f;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int) sizeof tmp) {
		errno = ENAMETOOLONG;
		return SL_ESYS;
	}
	f = fopen(tmp, "w");
	if (!f)
		return SL_ESYS;
	if (fwrite(text, 1, n, f) != n) {
		fclose(f);
		return SL_ESYS;
	}
	/* rename: a reader never sees half a file */
	if (fclose(f) || rename(tmp, path))
		return SL_ESYS;
	return 0;
}

int
cp_health_check(
    const char *health_file, int64_t stale_us, char *why, size_t whylen)
{
	char text[256] = "";
	struct stat stt;
	FILE *f = fopen(health_file, "r");
	int64_t age;

	if (!f || stat(health_file, &stt)) {
		snprintf(
		    why, whylen, "%s: %s\n", health_file, strerror(errno));
		if (f)
			fclose(f);
		return SL_EINVAL;
	}
	if (!fgets(text, sizeof text, f))
		text[0] = '\0';
	fclose(f);
	age = sl_clock_wall_us() - (int64_t) stt.st_mtime * 1000000;
	if (age > stale_us) {
		snprintf(why, whylen, "stale: written %lld s ago\n",
		    (long long) (age / 1000000));
		return SL_EINVAL;
	}
	if (strncmp(text, "ok ", 3)) {
		snprintf(why, whylen, "%s", text[0] ? text : "empty\n");
		return SL_EINVAL;
	}
	return 0;
}
