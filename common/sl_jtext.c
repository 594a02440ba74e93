/*
 * sl_jtext: msgpack and C values as compact JSON text (see sl_jtext.h).
 * No state; any thread.
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sl_err.h"
#include "sl_json.h"
#include "sl_jtext.h"
#include "sl_utf8.h"

/* Room for n more bytes; grows by doubling so a stream of appends costs
 * amortised O(1) each. */
int
sl_jtext_room(sl_jtext_t *w, size_t n)
{
	size_t cap = w->cap ? w->cap : 256;
	char *p;

	if (w->cap - w->len >= n)
		return 0;
	if (n > SIZE_MAX / 2 - w->len)
		return SL_ENOMEM;
	while (cap - w->len < n)
		cap *= 2;
	p = realloc(w->buf, cap);
	if (!p)
		return SL_ENOMEM;
	w->buf = p;
	w->cap = cap;
	return 0;
}

int
sl_jtext_raw(sl_jtext_t *w, const char *s, size_t n)
{
	if (sl_jtext_room(w, n))
		return SL_ENOMEM;
	if (n)
		memcpy(w->buf + w->len, s, n);
	w->len += n;
	return 0;
}

/* What byte c becomes inside a string: 0 when it stays as it is, else
 * the letter after the backslash ('u' for \u00XX). */
static char
s_escape(unsigned char c)
{
	switch (c) {
	case '"':
		return '"';
	case '\\':
		return '\\';
	case '\b':
		return 'b';
	case '\f':
		return 'f';
	case '\n':
		return 'n';
	case '\r':
		return 'r';
	case '\t':
		return 't';
	default:
		return c < 0x20 ? 'u' : 0;
	}
}

/* One escape for c (s_escape(c) == e != 0) at the end of w. */
static void
s_put_escape(sl_jtext_t *w, unsigned char c, char e)
{
	static const char hex[] = "0123456789ABCDEF";
	char *p = w->buf + w->len;

	*p++ = '\\';
	*p++ = e;
	if (e == 'u') {
		*p++ = '0';
		*p++ = '0';
		*p++ = hex[c >> 4];
		*p++ = hex[c & 15];
	}
	w->len = (size_t) (p - w->buf);
}

int
sl_jtext_str(sl_jtext_t *w, const char *s, size_t n)
{
	/* an empty string may come with a NULL pointer (msgpack-c) */
	const unsigned char *u = (const unsigned char *) (s = n ? s : "");
	size_t i = 0, run = 0;

	/* the worst case, every byte a \u00XX, so the loop needs no checks;
	 * only a huge string could fail here where jansson would not */
	if (n > (SIZE_MAX - 2) / 6 || sl_jtext_room(w, 6 * n + 2))
		return SL_ENOMEM;
	w->buf[w->len++] = '"';
	while (i < n) {
		unsigned char c = u[i];
		size_t bad, k;
		char e;

		if (c >= 0x80) {
			/* UTF-8 bytes never need an escape: check, copy */
			if (!(k = sl_utf8_seq(s + i, n - i, &bad)))
				return SL_EPROTO;
			i += k;
			continue;
		}
		if (!(e = s_escape(c))) {
			i++;
			continue;
		}
		memcpy(w->buf + w->len, s + run, i - run);
		w->len += i - run;
		s_put_escape(w, c, e);
		run = ++i;
	}
	memcpy(w->buf + w->len, s + run, n - run);
	w->len += n - run;
	w->buf[w->len++] = '"';
	return 0;
}

int
sl_jtext_int(sl_jtext_t *w, int64_t i)
{
	char tmp[24], *p = tmp + sizeof tmp;
	/* negated as unsigned: INT64_MIN has no positive int64 */
	uint64_t u = i < 0 ? 0 - (uint64_t) i : (uint64_t) i;

	do
		*--p = (char) ('0' + u % 10);
	while (u /= 10);
	if (i < 0)
		*--p = '-';
	return sl_jtext_raw(w, p, (size_t) (tmp + sizeof tmp - p));
}

/* jansson 2.14's jsonp_dtostr with precision 17: "%.17g", ".0" when it
 * would read back as an integer, and the exponent without '+' or leading
 * zeros. The gateway runs in the C locale, so the point is '.'. */
int
sl_jtext_real(sl_jtext_t *w, double d)
{
	char tmp[40], *e;
	int n;

	if (!isfinite(d))
		return SL_EPROTO;
	n = snprintf(tmp, sizeof tmp - 2, "%.17g", d);
	if (n < 0 || (size_t) n >= sizeof tmp - 2)
		return SL_EPROTO;
	if (!strchr(tmp, '.') && !strchr(tmp, 'e')) {
		memcpy(tmp + n, ".0", 3);
		n += 2;
	}
	if ((e = strchr(tmp, 'e'))) {
		char *start = e + 1, *end = start + 1;

		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, (size_t) (tmp + n - end) + 1);
			n -= (int) (end - start);
		}
	}
	return sl_jtext_raw(w, tmp, (size_t) n);
}

static int
s_base64(sl_jtext_t *w, const void *data, size_t len)
{
	/* EVP_EncodeBlock writes 4 bytes per 3 plus a NUL, no newlines;
	 * base64 needs no escapes. */
	size_t n = 4 * ((len + 2) / 3);

	if (len > INT32_MAX || sl_jtext_room(w, n + 3))
		return SL_ENOMEM;
	w->buf[w->len++] = '"';
	w->len += (size_t) EVP_EncodeBlock(
	    (unsigned char *) w->buf + w->len, data, (int) len);
	w->buf[w->len++] = '"';
	return 0;
}

static int
s_scalar(sl_jtext_t *w, const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return sl_jtext_raw(w, "null", 4);
	case MSGPACK_OBJECT_BOOLEAN:
		return o->via.boolean ? sl_jtext_raw(w, "true", 4)
		                      : sl_jtext_raw(w, "false", 5);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > INT64_MAX)
			return SL_EPROTO;
		return sl_jtext_int(w, (int64_t) o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return sl_jtext_int(w, o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return sl_jtext_real(w, o->via.f64);
	case MSGPACK_OBJECT_STR:
		return sl_jtext_str(w, o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_BIN:
		return s_base64(w, o->via.bin.ptr, o->via.bin.size);
	default: /* ext, or a type msgpack-c added since */
		return SL_EPROTO;
	}
}

static int
s_map(sl_jtext_t *w, const msgpack_object_map *m)
{
	bool dup = false;
	int rc;

	if ((rc = sl_jtext_raw(w, "{", 1)))
		return rc;
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object *k = &m->ptr[i].key;

		/* the type first: another key's via holds no size */
		if (k->type != MSGPACK_OBJECT_STR
		    || (k->via.str.size
		        && memchr(k->via.str.ptr, '\0', k->via.str.size)))
			return SL_EPROTO;
		if ((i && (rc = sl_jtext_raw(w, ",", 1)))
		    || (rc = sl_jtext_str(w, k->via.str.ptr, k->via.str.size))
		    || (rc = sl_jtext_raw(w, ":", 1))
		    || (rc = sl_jtext_mp(w, &m->ptr[i].val)))
			return rc;
	}
	/* a JSON object has unique keys (sl_json_from_mp refuses repeats) */
	if ((rc = sl_json_mp_dup_keys(m, &dup)))
		return rc;
	return dup ? SL_EPROTO : sl_jtext_raw(w, "}", 1);
}

int
sl_jtext_mp(sl_jtext_t *w, const msgpack_object *o)
{
	int rc;

	if (o->type == MSGPACK_OBJECT_MAP)
		return s_map(w, &o->via.map);
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return s_scalar(w, o);
	if ((rc = sl_jtext_raw(w, "[", 1)))
		return rc;
	for (uint32_t i = 0; i < o->via.array.size; i++)
		if ((i && (rc = sl_jtext_raw(w, ",", 1)))
		    || (rc = sl_jtext_mp(w, &o->via.array.ptr[i])))
			return rc;
	return sl_jtext_raw(w, "]", 1);
}
