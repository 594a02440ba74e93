/*
 * sl_utf8: well-formed UTF-8 (see sl_utf8.h). No state; any thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "sl_utf8.h"

/* Bytes of the well-formed UTF-8 sequence at p (at most left bytes), or
 * 0 if there is none. */
static size_t
s_utf8_seq(const unsigned char *p, size_t left)
{
	unsigned c = *p, n, cp, min;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 1, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 2, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 3, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (left < n + 1)
		return 0;
	for (unsigned i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n + 1;
}

bool
sl_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;

	while (len) {
		size_t n = s_utf8_seq(p, len);

		if (!n)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

void
sl_utf8_clean(char *s)
{
	unsigned char *p = (unsigned char *) s;
	size_t left = strlen(s);

	while (left) {
		size_t n = s_utf8_seq(p, left);

		if (!n) {
			*p = '?';
			n = 1;
		}
		p += n;
		left -= n;
	}
}
