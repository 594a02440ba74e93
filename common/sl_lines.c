/*
 * sl_lines: "one entry per line" files (see sl_lines.h). Caller's thread.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_err.h"
#include "sl_lines.h"

/* memset that the compiler may not drop although buf dies next. */
static void
s_wipe(char *buf, size_t len)
{
	volatile char *p = buf;

	while (len--)
		*p++ = 0;
}

/* s trimmed of white space at both ends, in place; its length in *len. */
static char *
s_trim(char *s, size_t *len)
{
	char *e = s + strlen(s);

	while (*s && isspace((unsigned char) *s))
		s++;
	while (e > s && isspace((unsigned char) e[-1]))
		*--e = '\0';
	*len = (size_t) (e - s);
	return s;
}

int
sl_lines_read(const char *path, size_t max_len, sl_lines_fn fn, void *arg,
    char *err, size_t errlen)
{
	/* max_len, the newline and the NUL: a fuller buffer is a long line */
	size_t cap = max_len + 2;
	char *line, *entry, why[160];
	FILE *f;
	int lineno = 0, rc = 0;

	if (!(line = malloc(cap))) {
		snprintf(err, errlen, "out of memory");
		return SL_ENOMEM;
	}
	if (!(f = fopen(path, "r"))) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(line);
		return SL_EINVAL;
	}
	while (!rc && fgets(line, (int) cap, f)) {
		size_t len = strlen(line);

		lineno++;
		if (len == cap - 1 && line[len - 1] != '\n') {
			snprintf(
			    err, errlen, "%s:%d: line too long", path, lineno);
			rc = SL_EINVAL;
			break;
		}
		entry = s_trim(line, &len);
		if (!len || entry[0] == '#')
			continue;
		why[0] = '\0';
		rc = fn(arg, entry, len, why, sizeof why);
		if (rc && rc != SL_LINES_STOP)
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
	}
	s_wipe(line, cap);
	free(line);
	fclose(f);
	return rc == SL_LINES_STOP ? 0 : rc;
}

int
sl_lines_csv(
    const char *csv, sl_lines_fn fn, void *arg, char *err, size_t errlen)
{
	size_t size = strlen(csv) + 1;
	char *copy = malloc(size), *p = copy, *item;
	int rc = 0;

	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return SL_ENOMEM;
	}
	memcpy(copy, csv, size);
	while (!rc && p) {
		size_t len;

		item = p;
		p = strchr(p, ',');
		if (p)
			*p++ = '\0';
		item = s_trim(item, &len);
		if (len)
			rc = fn(arg, item, len, err, errlen);
	}
	s_wipe(copy, size);
	free(copy);
	return rc == SL_LINES_STOP ? 0 : rc;
}
