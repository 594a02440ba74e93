/*
 * sl_batch: BATCH frames, built and read (see sl_batch.h).
 */
#include <string.h>

#include "sl_batch.h"
#include "sl_err.h"
#include "sl_proto.h"

/* [3-array, version 1, "BATCH", {"msgs": array32(n) ...}]: the count is
 * written last, so it takes the fixed 4-byte form (valid msgpack; any
 * reader takes it). */
static const uint8_t s_head[] = { 0x93, 0x01, 0xa5, 'B', 'A', 'T', 'C', 'H',
	0x81, 0xa4, 'm', 's', 'g', 's', 0xdd, 0, 0, 0, 0 };
#define S_BIN_HEAD_MAX 5 /* bin32: 0xc6 + 4 bytes of length */

void
sl_batch_init(sl_batch_t *b)
{
	msgpack_sbuffer_init(&b->sb);
	b->n = b->first_off = b->first_len = 0;
}

void
sl_batch_destroy(sl_batch_t *b)
{
	msgpack_sbuffer_destroy(&b->sb);
	b->n = 0;
}

void
sl_batch_clear(sl_batch_t *b)
{
	msgpack_sbuffer_clear(&b->sb);
	b->n = b->first_off = b->first_len = 0;
}

size_t
sl_batch_count(const sl_batch_t *b)
{
	return b->n;
}

bool
sl_batch_fits(const sl_batch_t *b, size_t len)
{
	size_t used = b->n ? b->sb.size : sizeof s_head;

	return !b->n
	    || (b->n < SL_BATCH_MAX_MSGS
	        && len + S_BIN_HEAD_MAX <= SL_BATCH_MAX_BYTES - used);
}

int
sl_batch_add(sl_batch_t *b, const void *frame, size_t len)
{
	msgpack_packer pk;
	size_t before;

	if (!b->n) {
		msgpack_sbuffer_clear(&b->sb);
		if (msgpack_sbuffer_write(
		        &b->sb, (const char *) s_head, sizeof s_head))
			return SL_ENOMEM;
	}
	before = b->sb.size;
	msgpack_packer_init(&pk, &b->sb, msgpack_sbuffer_write);
	if (msgpack_pack_bin_with_body(&pk, frame, len)) {
		b->sb.size = before; /* a half-written entry never counts */
		return SL_ENOMEM;
	}
	if (!b->n++) {
		b->first_off = b->sb.size - len;
		b->first_len = len;
	}
	return 0;
}

void
sl_batch_frame(sl_batch_t *b, const void **data, size_t *len)
{
	uint8_t *n = (uint8_t *) b->sb.data + sizeof s_head - 4;

	if (b->n == 1) {
		*data = b->sb.data + b->first_off;
		*len = b->first_len;
		return;
	}
	n[0] = (uint8_t) (b->n >> 24);
	n[1] = (uint8_t) (b->n >> 16);
	n[2] = (uint8_t) (b->n >> 8);
	n[3] = (uint8_t) b->n;
	*data = b->sb.data;
	*len = b->sb.size;
}

int
sl_batch_encode_empty(msgpack_sbuffer *sb)
{
	return msgpack_sbuffer_write(sb, (const char *) s_head, sizeof s_head)
	    ? SL_ENOMEM
	    : 0;
}

/* ---- reading -------------------------------------------------------- */

/* Read a big-endian unsigned of n bytes at *p, if the frame has them. */
static bool
s_be(const uint8_t **p, const uint8_t *end, size_t n, uint64_t *v)
{
	if ((size_t) (end - *p) < n)
		return false;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = *v << 8 | (*p)[i];
	*p += n;
	return true;
}

/* A msgpack header of the family whose fix form is fix_lo..fix_hi and
 * whose sized forms are first, first+1, first+2 (1, 2, 4 length bytes;
 * first+3 is 8 bytes for uints): its value. */
static bool
s_head_value(const uint8_t **p, const uint8_t *end, uint8_t fix_lo,
    uint8_t fix_hi, uint8_t first, size_t forms, uint64_t *v)
{
	uint8_t c;

	if (*p >= end)
		return false;
	c = *(*p)++;
	if (c >= fix_lo && c <= fix_hi) {
		*v = c - fix_lo;
		return true;
	}
	for (size_t i = 0; i < forms; i++)
		if (c == first + i)
			return s_be(p, end, (size_t) 1 << i, v);
	return false;
}

/* An array header of 3 entries, in any of its forms. */
static bool
s_array3(const uint8_t **p, const uint8_t *end)
{
	uint64_t n;
	uint8_t c;

	if (*p >= end)
		return false;
	c = *(*p)++;
	if (c >= 0x90 && c <= 0x9f)
		return c == 0x93;
	return (c == 0xdc || c == 0xdd) && s_be(p, end, c == 0xdc ? 2 : 4, &n)
	    && n == 3;
}

bool
sl_batch_is(const void *data, size_t len)
{
	const uint8_t *p = data, *end = p + len;
	uint64_t version, slen;

	/* the version as any uint (open checks its value), the type as any
	 * str */
	if (!s_array3(&p, end)
	    || !s_head_value(&p, end, 0x00, 0x7f, 0xcc, 4, &version)
	    || !s_head_value(&p, end, 0xa0, 0xbf, 0xd9, 3, &slen))
		return false;
	return slen == 5 && (size_t) (end - p) >= 5 && !memcmp(p, "BATCH", 5);
}

int
sl_batch_open(
    sl_batch_reader_t *r, const void *data, size_t len, const char **why)
{
	const msgpack_object *a, *body = NULL;
	const char *dummy;
	size_t off = 0;

	why = why ? why : &dummy;
	msgpack_unpacked_init(&r->up);
	r->msgs = NULL;
	r->n = r->i = 0;
	*why = "BATCH is not one msgpack object nested at most 16 deep";
	if (sl_proto_check(data, len, SL_PROTO_MAX_DEPTH)
	    || msgpack_unpack_next(&r->up, (const char *) data, len, &off)
	        != MSGPACK_UNPACK_SUCCESS)
		return SL_EPROTO;
	a = &r->up.data;
	*why = "a frame is an array [version, type, body]";
	if (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size != 3
	    || a->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return SL_EPROTO;
	*why = "unsupported version";
	if (a->via.array.ptr[0].via.u64 != SL_PROTO_VERSION)
		return SL_EVERSION;
	*why = "not a BATCH";
	if (a->via.array.ptr[1].type != MSGPACK_OBJECT_STR
	    || a->via.array.ptr[1].via.str.size != 5
	    || memcmp(a->via.array.ptr[1].via.str.ptr, "BATCH", 5))
		return SL_ETYPE;
	*why = "BATCH.msgs must be an array";
	if (a->via.array.ptr[2].type != MSGPACK_OBJECT_MAP)
		return SL_EPROTO;
	for (uint32_t i = 0; i < a->via.array.ptr[2].via.map.size; i++) {
		const msgpack_object_kv *kv
		    = &a->via.array.ptr[2].via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR
		    && kv->key.via.str.size == 4
		    && !memcmp(kv->key.via.str.ptr, "msgs", 4)) {
			if (body) {
				*why = "BATCH.msgs given twice";
				return SL_EPROTO;
			}
			body = &kv->val;
		}
	}
	if (!body || body->type != MSGPACK_OBJECT_ARRAY)
		return SL_EPROTO;
	*why = "BATCH.msgs holds more than 256 entries";
	if (body->via.array.size > SL_BATCH_MAX_MSGS)
		return SL_ETOOBIG;
	r->msgs = body->via.array.ptr;
	r->n = body->via.array.size;
	return 0;
}

int
sl_batch_next(sl_batch_reader_t *r, const void **data, size_t *len)
{
	const msgpack_object *o;

	if (r->i >= r->n)
		return 0;
	o = &r->msgs[r->i++];
	if (o->type != MSGPACK_OBJECT_BIN)
		return SL_EPROTO;
	*data = o->via.bin.ptr;
	*len = o->via.bin.size;
	return 1;
}

void
sl_batch_close(sl_batch_reader_t *r)
{
	if (!r)
		return;
	msgpack_unpacked_destroy(&r->up);
	msgpack_unpacked_init(&r->up);
	r->msgs = NULL;
	r->n = r->i = 0;
}
