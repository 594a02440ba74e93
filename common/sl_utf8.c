/*
 * sl_utf8: well-formed UTF-8 (see sl_utf8.h). No state; any thread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "sl_utf8.h"

size_t
sl_utf8_seq(const char *str, size_t left, size_t *bad)
{
	const unsigned char *s = (const unsigned char *) str;
	unsigned c = s[0], n, lo = 0x80, hi = 0xbf;

	*bad = 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 1;
	else if (c >= 0xe0 && c <= 0xef)
		n = 2;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 3;
	else
		return 0;
	/* the second byte's range excludes overlong forms, surrogates and
	 * code points past U+10FFFF (RFC 3629 section 4) */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	for (unsigned k = 1; k <= n; k++) {
		if (k >= left) {
			*bad = left;
			return 0;
		}
		if (s[k] < (k == 1 ? lo : 0x80)
		    || s[k] > (k == 1 ? hi : 0xbf)) {
			*bad = k;
			return 0;
		}
	}
	return n + 1;
}

bool
sl_utf8_valid(const char *s, size_t len)
{
	while (len) {
		size_t bad, n = sl_utf8_seq(s, len, &bad);

		if (!n)
			return false;
		s += n;
		len -= n;
	}
	return true;
}

void
sl_utf8_clean(char *s)
{
	size_t left = strlen(s);

	for (char *p = s; left;) {
		size_t bad, n = sl_utf8_seq(p, left, &bad);

		if (!n) {
			*p = '?';
			n = 1;
		}
		p += n;
		left -= n;
	}
}
