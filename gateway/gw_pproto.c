/*
 * gw_pproto: producer frames in and out (see gw_pproto.h). No state; lws
 * service thread.
 */
#include <string.h>

#include "gw_pproto.h"
#include "sl_err.h"
#include "sl_json.h"
#include "sl_proto.h"

/* The frame's id, if it is one a client may use: for error frames. */
static const char *
s_id_of(const json_t *root)
{
	const json_t *id = json_object_get(root, "id");

	if (!json_is_string(id) || !json_string_length(id)
	    || json_string_length(id) > GW_CPROTO_MAX_ID)
		return NULL;
	return json_string_value(id);
}

/* Convert the top-level map key by key, items last, so that a bad field
 * is named and a bad item is reported with the request's id. */
static int
s_map_to_json(const msgpack_object *o, json_t *root, gw_cerr_t *err)
{
	const msgpack_object *items = NULL;
	const char *why = "";
	json_t *v;

	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		const char *kp;

		if (k->type != MSGPACK_OBJECT_STR)
			return gw_cerr_set(err, NULL, "bad_message",
			    "map keys must be strings");
		kp = k->via.str.size ? k->via.str.ptr : "";
		if (k->via.str.size == 5 && !memcmp(kp, "items", 5)) {
			if (items)
				return gw_cerr_set(err, NULL, "bad_message",
				    "key \"items\" appears twice");
			items = &o->via.map.ptr[i].val;
			continue;
		}
		if (memchr(kp, '\0', k->via.str.size))
			return gw_cerr_set(err, NULL, "bad_message",
			    "a map key contains NUL");
		if (sl_json_from_mp(&o->via.map.ptr[i].val, &v, &why))
			return gw_cerr_set(err, NULL, "bad_message",
			    "field \"%.*s\": %s", (int) k->via.str.size, kp,
			    why);
		if (json_object_setn_new(root, kp, k->via.str.size, v))
			return gw_cerr_set(err, NULL, "bad_message",
			    "a map key is not valid UTF-8");
		if (json_object_size(root) != (size_t) i + 1 - (items != NULL))
			return gw_cerr_set(err, NULL, "bad_message",
			    "key \"%.*s\" appears twice",
			    (int) k->via.str.size, kp);
	}
	if (!items)
		return 0;
	if (sl_json_from_mp(items, &v, &why))
		return gw_cerr_set(err, s_id_of(root), "bad_item",
		    "an item has no JSON form: %s", why);
	if (json_object_set_new(root, "items", v))
		return gw_cerr_set(
		    err, s_id_of(root), "internal", "out of memory");
	return 0;
}

int
gw_pproto_parse(const void *data, size_t len, size_t max_items, gw_cmsg_t *out,
    gw_cerr_t *err)
{
	msgpack_unpacked u;
	json_t *root = NULL;
	size_t off = 0;
	int rc = -1;

	memset(out, 0, sizeof *out);
	/* msgpack-c allocates what a container header claims before it
	 * reads the elements: walk the bytes first, without allocating. */
	if (sl_proto_check(data, len, GW_PPROTO_MAX_DEPTH))
		return gw_cerr_set(err, NULL, "bad_msgpack",
		    "not exactly one msgpack object of depth <= %d",
		    GW_PPROTO_MAX_DEPTH);
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS
	    || off != len) {
		gw_cerr_set(err, NULL, "bad_msgpack", "undecodable msgpack");
		goto out;
	}
	if (u.data.type != MSGPACK_OBJECT_MAP) {
		gw_cerr_set(
		    err, NULL, "bad_message", "a frame must be a msgpack map");
		goto out;
	}
	root = json_object();
	if (!root) {
		gw_cerr_set(err, NULL, "internal", "out of memory");
		goto out;
	}
	if (s_map_to_json(&u.data, root, err)) {
		json_decref(root);
		goto out;
	}
	/* takes root, also on failure */
	rc = gw_cmsg_parse_value(root, max_items, out, err);
out:
	msgpack_unpacked_destroy(&u);
	return rc;
}

int
gw_pproto_encode(const json_t *frame, msgpack_sbuffer *sb)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	return sl_json_to_mp(frame, &pk, GW_PPROTO_OUT_DEPTH);
}
