/*
 * sl_mpck: the allocation-free msgpack validator (see sl_mpck.h). No
 * state; any thread.
 */
#include <stdint.h>

#include "sl_err.h"
#include "sl_mpck.h"

typedef struct s_reader {
	const uint8_t *p; /* input */
	size_t len;       /* bytes in p */
	size_t pos;       /* next byte to read */
} s_reader_t;

/* Big-endian unsigned of n bytes at pos; caller checked the bounds. */
static uint64_t
s_be(const s_reader_t *r, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | r->p[r->pos + i];
	return v;
}

static size_t
s_left(const s_reader_t *r)
{
	return r->len - r->pos;
}

/* Skip n payload bytes after an n-byte length field; 0 or SL_EPROTO. */
static int
s_skip_sized(s_reader_t *r, size_t len_bytes, size_t extra)
{
	uint64_t n;

	if (s_left(r) < len_bytes)
		return SL_EPROTO;
	n = s_be(r, len_bytes);
	r->pos += len_bytes;
	if (n > s_left(r) || extra > s_left(r) - n)
		return SL_EPROTO;
	r->pos += (size_t) n + extra;
	return 0;
}

static int s_skip(s_reader_t *r, unsigned depth);

/* Skip count objects (a map passes twice its entries). */
static int
s_skip_items(s_reader_t *r, uint64_t count, unsigned depth)
{
	/* Every object takes at least one byte: a count larger than what is
	 * left is a lie, refused before anybody allocates for it. */
	if (count > s_left(r))
		return SL_EPROTO;
	for (uint64_t i = 0; i < count; i++) {
		int rc = s_skip(r, depth);

		if (rc)
			return rc;
	}
	return 0;
}

static int
s_skip_fixed(s_reader_t *r, size_t n)
{
	if (s_left(r) < n)
		return SL_EPROTO;
	r->pos += n;
	return 0;
}

static int
s_skip_container(s_reader_t *r, size_t len_bytes, int is_map, unsigned depth)
{
	uint64_t n;

	if (s_left(r) < len_bytes)
		return SL_EPROTO;
	n = s_be(r, len_bytes);
	r->pos += len_bytes;
	return s_skip_items(r, is_map ? n * 2 : n, depth);
}

/* Skip one object at depth (the outermost object is depth 1). */
static int
s_skip(s_reader_t *r, unsigned depth)
{
	uint8_t b;

	if (!depth)
		return SL_EPROTO; /* nested too deeply */
	if (!s_left(r))
		return SL_EPROTO;
	b = r->p[r->pos++];
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return 0; /* fixint, nil, bool */
	if (b >= 0x80 && b <= 0x8f)
		return s_skip_items(r, (uint64_t) (b & 0x0f) * 2, depth - 1);
	if (b >= 0x90 && b <= 0x9f)
		return s_skip_items(r, b & 0x0f, depth - 1);
	if (b >= 0xa0 && b <= 0xbf)
		return s_skip_fixed(r, b & 0x1f);
	switch (b) {
	case 0xc4: /* bin 8/16/32 */
	case 0xd9: /* str 8 */
		return s_skip_sized(r, 1, 0);
	case 0xc5:
	case 0xda:
		return s_skip_sized(r, 2, 0);
	case 0xc6:
	case 0xdb:
		return s_skip_sized(r, 4, 0);
	case 0xc7: /* ext 8/16/32: length, then a type byte, then data */
		return s_skip_sized(r, 1, 1);
	case 0xc8:
		return s_skip_sized(r, 2, 1);
	case 0xc9:
		return s_skip_sized(r, 4, 1);
	case 0xca: /* float 32 */
		return s_skip_fixed(r, 4);
	case 0xcb:
		return s_skip_fixed(r, 8);
	case 0xcc: /* uint 8..64 */
	case 0xd0: /* int 8..64 */
		return s_skip_fixed(r, 1);
	case 0xcd:
	case 0xd1:
		return s_skip_fixed(r, 2);
	case 0xce:
	case 0xd2:
		return s_skip_fixed(r, 4);
	case 0xcf:
	case 0xd3:
		return s_skip_fixed(r, 8);
	case 0xd4: /* fixext 1..16: type byte plus data */
		return s_skip_fixed(r, 2);
	case 0xd5:
		return s_skip_fixed(r, 3);
	case 0xd6:
		return s_skip_fixed(r, 5);
	case 0xd7:
		return s_skip_fixed(r, 9);
	case 0xd8:
		return s_skip_fixed(r, 17);
	case 0xdc: /* array 16/32 */
		return s_skip_container(r, 2, 0, depth - 1);
	case 0xdd:
		return s_skip_container(r, 4, 0, depth - 1);
	case 0xde: /* map 16/32 */
		return s_skip_container(r, 2, 1, depth - 1);
	case 0xdf:
		return s_skip_container(r, 4, 1, depth - 1);
	}
	return SL_EPROTO; /* 0xc1: never used */
}

int
sl_mpck_check(const void *data, size_t len, unsigned max_depth)
{
	s_reader_t r = { data, len, 0 };
	int rc;

	if (!data || !len)
		return SL_EPROTO;
	rc = s_skip(&r, max_depth);
	if (rc)
		return rc;
	return r.pos == len ? 0 : SL_EPROTO; /* trailing bytes */
}
