/*
 * fuzz_cmsg: libFuzzer target for gw_cmsg_parse, the parser of every
 * WebSocket text message a client sends (untrusted bytes).
 *
 * Checks the contract besides memory safety: a refusal carries a code and
 * an error frame that serialises as JSON; an accepted submit has 1..max
 * items and each item either packs to msgpack (as gw_broker does) or is
 * refused as nested too deeply. sl_json_bad_offset (where bad_json says
 * the text fails) stays within the text and never calls invalid what
 * jansson parsed. Single threaded; run by tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "gw_cproto.h"
#include "sl_err.h"
#include "sl_json.h"
#include "sl_proto.h"

#define FUZZ_MAX_ITEMS 100

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_error_frame_serialises(const gw_cerr_t *err)
{
	gw_out_t out = gw_out_error(err);
	json_t *f = NULL;
	char *s;

	if (gw_out_json(&out, &f) || !err->code)
		abort();
	s = json_dumps(f, JSON_COMPACT);
	if (!s)
		abort();
	free(s);
	json_decref(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	gw_cmsg_t m;
	gw_cerr_t err;
	json_t *item;
	size_t i, at = sl_json_bad_offset((const char *) data, size);

	if (at != SIZE_MAX && at > size)
		abort();
	if (gw_cmsg_parse(
	        (const char *) data, size, FUZZ_MAX_ITEMS, &m, &err)) {
		s_error_frame_serialises(&err);
		/* any other code comes after jansson parsed the text */
		if (strcmp(err.code, "bad_json") && at != SIZE_MAX)
			abort();
		return 0;
	}
	if (at != SIZE_MAX)
		abort();
	if (m.type == GW_CMSG_SUBMIT) {
		size_t n = json_array_size(m.items);

		if (!n || n > FUZZ_MAX_ITEMS || n != m.n_items || !m.id[0]
		    || !m.task[0])
			abort();
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		json_array_foreach(m.items, i, item)
		{
			int rc;

			msgpack_sbuffer_clear(&sb);
			rc = sl_json_to_mp(item, &pk, SL_PROTO_MAX_ITEM_DEPTH);
			if (rc && rc != SL_ETOOBIG)
				abort();
			/* what a worker will decode: one valid object */
			if (!rc
			    && sl_proto_check(
			        sb.data, sb.size, SL_PROTO_MAX_ITEM_DEPTH + 1))
				abort();
		}
		msgpack_sbuffer_destroy(&sb);
	} else if (m.type == GW_CMSG_CANCEL && !m.id[0]) {
		abort();
	} else if ((m.type == GW_CMSG_SUBSCRIBE
	               || m.type == GW_CMSG_UNSUBSCRIBE)
	    && !m.channel[0]) {
		abort();
	}
	gw_cmsg_clear(&m);
	return 0;
}
