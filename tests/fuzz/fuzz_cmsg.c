/*
 * fuzz_cmsg: libFuzzer target for gw_cmsg_parse, the parser of every
 * WebSocket text message a client sends (untrusted bytes).
 *
 * Checks the contract besides memory safety: a refusal carries a code and
 * an error frame that serialises as JSON; an accepted submit has 1..max
 * items, each packed at the edge into one valid msgpack object (what a
 * worker decodes); an item nested too deeply refuses the submit.
 * sl_json_bad_offset (where bad_json says the text fails) stays within
 * the text and never calls invalid what jansson parsed. Single threaded; run
 * by tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "gw_cmsg.h"
#include "gw_out.h"
#include "sl_err.h"
#include "sl_json.h"
#include "sl_proto.h"

#define FUZZ_MAX_ITEMS 100

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_error_frame_serialises(const gw_cmsg_err_t *err)
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
	gw_cmsg_t m;
	gw_cmsg_err_t err;
	size_t at = sl_json_bad_offset((const char *) data, size);

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
		size_t n = json_array_size(json_object_get(m.root, "items"));

		if (!n || n > FUZZ_MAX_ITEMS || n != m.n_items || !m.id[0]
		    || !m.task[0])
			abort();
		for (size_t i = 0; i < n; i++) {
			size_t len;
			const char *item = gw_cmsg_item(&m, i, &len);

			/* what a worker will decode: one valid object */
			if (sl_proto_check(
			        item, len, SL_PROTO_MAX_ITEM_DEPTH + 1))
				abort();
		}
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
