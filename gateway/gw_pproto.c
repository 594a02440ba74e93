/*
 * gw_pproto: msgpack client frames in and out (see gw_pproto.h). No state;
 * lws service thread.
 */
#include <stdio.h>
#include <string.h>

#include "gw_pproto.h"
#include "sl_err.h"
#include "sl_json.h"
#include "sl_proto.h"

static gw_cmsg_field_t s_field(const msgpack_object *o);

/* Element i of a msgpack array's elements, for gw_cmsg_field_t.at. */
static gw_cmsg_field_t
s_field_at(const void *arr, size_t i)
{
	return s_field((const msgpack_object *) arr + i);
}

/* A msgpack value as gw_cmsg_check sees it. */
static gw_cmsg_field_t
s_field(const msgpack_object *o)
{
	gw_cmsg_field_t f = { .kind = GW_CMSG_F_OTHER };

	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		f.kind = GW_CMSG_F_STR;
		f.s = o->via.str.size ? o->via.str.ptr : "";
		f.len = o->via.str.size;
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 <= INT64_MAX) {
			f.kind = GW_CMSG_F_INT;
			f.i = (int64_t) o->via.u64;
		}
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		f.kind = GW_CMSG_F_INT;
		f.i = o->via.i64;
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		f.kind = GW_CMSG_F_BOOL;
		f.b = o->via.boolean;
		break;
	case MSGPACK_OBJECT_ARRAY:
		f.kind = GW_CMSG_F_ARRAY;
		f.len = o->via.array.size;
		f.at = s_field_at;
		f.arr = o->via.array.ptr;
		break;
	default:
		break;
	}
	return f;
}

/* Find the protocol's keys (gw_cmsg_key_t) in map o: their values in
 * v[key] (or NULL); other keys are ignored, as in JSON. */
static int
s_fields(const msgpack_object *o, const msgpack_object *v[GW_CMSG_K_COUNT],
    gw_cmsg_err_t *err)
{
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;

		if (k->type != MSGPACK_OBJECT_STR)
			return gw_cmsg_err_set(err, NULL, "bad_message",
			    "map keys must be strings");
		gw_cmsg_key_t j
		    = gw_cmsg_key_find(k->via.str.ptr, k->via.str.size);

		if (j == GW_CMSG_K_COUNT)
			continue;
		/* JSON refuses repeated keys; so do we, for the ones that
		 * mean something. */
		if (v[j])
			return gw_cmsg_err_set(err, NULL, "bad_message",
			    "key \"%s\" appears twice", gw_cmsg_key_name(j));
		v[j] = &o->via.map.ptr[i].val;
	}
	return 0;
}

/*
 * gw_cmsg_pack_fn for msgpack items: each is repacked as it is, but a
 * JSON client may watch the request, so only the values a JSON client
 * could have sent are accepted.
 */
static int
s_pack_mp(const void *items, size_t i, msgpack_packer *pk, const char **why)
{
	const msgpack_object *o = (const msgpack_object *) items + i;
	int rc = sl_json_mp_check(o, SL_PROTO_MAX_ITEM_DEPTH, why);

	if (!rc && msgpack_pack_object(pk, *o))
		rc = SL_ENOMEM;
	return rc;
}

#define S_FIELD(v) ((v) ? s_field(v) : (gw_cmsg_field_t) { 0 })

int
gw_pproto_parse(const void *data, size_t len, size_t max_items, gw_cmsg_t *out,
    gw_cmsg_err_t *err)
{
	const msgpack_object *v[GW_CMSG_K_COUNT] = { 0 };
	gw_cmsg_fields_t f;
	size_t off = 0;

	memset(out, 0, sizeof *out);
	/* msgpack-c allocates what a container header claims before it
	 * reads the elements: walk the bytes first, without allocating. */
	if (sl_proto_check(data, len, GW_PPROTO_MAX_DEPTH))
		return gw_cmsg_err_set(err, NULL, "bad_msgpack",
		    "not exactly one msgpack object of depth <= %d",
		    GW_PPROTO_MAX_DEPTH);
	msgpack_unpacked_init(&out->unpacked);
	out->has_unpacked = true;
	if (msgpack_unpack_next(&out->unpacked, data, len, &off)
	        != MSGPACK_UNPACK_SUCCESS
	    || off != len) {
		gw_cmsg_clear(out);
		return gw_cmsg_err_set(
		    err, NULL, "bad_msgpack", "undecodable msgpack");
	}
	if (out->unpacked.data.type != MSGPACK_OBJECT_MAP) {
		gw_cmsg_clear(out);
		return gw_cmsg_err_set(
		    err, NULL, "bad_message", "a frame must be a msgpack map");
	}
	if (s_fields(&out->unpacked.data, v, err))
		goto fail;
	for (int k = 0; k < GW_CMSG_K_COUNT; k++)
		*gw_cmsg_fields_at(&f, k) = S_FIELD(v[k]);
	if (gw_cmsg_check(&f, max_items, out, err))
		goto fail;
	if (out->type == GW_CMSG_PING)
		out->data.mp = v[GW_CMSG_K_DATA];
	else if (out->type == GW_CMSG_SUBMIT
	    && gw_cmsg_pack_items(
	        out, s_pack_mp, v[GW_CMSG_K_ITEMS]->via.array.ptr, err))
		goto fail;
	return 0;
fail:
	gw_cmsg_clear(out);
	return -1;
}

/* ---- out ------------------------------------------------------------ */

/* gw_out_visitor_t callbacks: each packs one key and its value into the
 * packer ctx; non-zero when msgpack-c could not grow the buffer. */
static int
s_str(msgpack_packer *pk, const char *s)
{
	return msgpack_pack_str_with_body(pk, s, strlen(s));
}

static int
s_kv_str(void *pk, const char *k, const char *v)
{
	return s_str(pk, k) || s_str(pk, v);
}

static int
s_kv_int(void *pk, const char *k, int64_t v)
{
	return s_str(pk, k) || msgpack_pack_int64(pk, v);
}

static int
s_kv_yes(void *pk, const char *k)
{
	return s_str(pk, k) || msgpack_pack_true(pk);
}

static int
s_kv_real(void *pk, const char *k, double d)
{
	return s_str(pk, k) || msgpack_pack_double(pk, d);
}

static int
s_kv_value(void *pk, const char *k, const gw_cmsg_value_t *v)
{
	if (s_str(pk, k))
		return -1;
	if (v->mp)
		return msgpack_pack_object(pk, *v->mp);
	/* A JSON client's ping data echoed to itself never gets here; kept
	 * for completeness of the encoder. */
	if (v->json)
		return sl_json_to_mp(v->json, pk, GW_PPROTO_MAX_DEPTH) ? -1
		                                                       : 0;
	return msgpack_pack_nil(pk);
}

static const gw_out_visitor_t s_mp = { .str = s_kv_str,
	.integer = s_kv_int,
	.value = s_kv_value,
	.yes = s_kv_yes,
	.real = s_kv_real };

int
gw_pproto_encode(const gw_out_t *f, msgpack_sbuffer *sb)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (msgpack_pack_map(&pk, (uint32_t) gw_out_count(f))
	    || gw_out_walk(f, &s_mp, &pk))
		return SL_ENOMEM;
	return 0;
}

bool
gw_pproto_wrong_endpoint(
    const void *data, size_t len, size_t max_items, msgpack_sbuffer *sb)
{
	gw_cmsg_t msg;
	gw_cmsg_err_t err;
	gw_out_t f;

	if (!gw_pproto_parse(data, len, max_items, &msg, &err)) {
		gw_cmsg_err_set(&err, msg.id, "wrong_endpoint", "-");
		gw_cmsg_clear(&msg);
	} else if (!strcmp(err.code, "bad_msgpack")
	    || !strcmp(err.code, "bad_message")) {
		return false; /* not a producer's either */
	}
	err.code = "wrong_endpoint";
	snprintf(err.message, sizeof err.message,
	    "this is the gateway's workers endpoint; producers connect to "
	    "its producers endpoint (--producers, default "
	    "tcp://127.0.0.1:5556)");
	f = gw_out_error(&err);
	return !gw_pproto_encode(&f, sb);
}
