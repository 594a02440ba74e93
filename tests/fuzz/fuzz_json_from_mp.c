/*
 * fuzz_json_from_mp: msgpack -> JSON -> msgpack -> JSON (sl_json_from_mp,
 * then sl_json_to_mp), the path of every value from a worker to a client.
 *
 * The input goes through the same validator the gateway applies to worker
 * frames before msgpack-c sees it; a value with a JSON form must serialise
 * and must survive a second trip unchanged (bin becomes a base64 string
 * the first time, so the second trip is the fixed point). And the check
 * that lets msgpack clients keep values as msgpack (sl_json_mp_check)
 * must accept exactly what the conversion accepts. The text the gateway
 * writes for JSON clients without a tree (sl_jtext_mp) must refuse the
 * same values and otherwise be byte for byte jansson's. Single threaded; run
 * by tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "sl_err.h"
#include "sl_json.h"
#include "sl_jtext.h"
#include "sl_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked u, u2;
	json_t *j = NULL, *back = NULL;
	const char *why = NULL, *why2 = NULL;
	size_t off = 0;
	sl_jtext_t w = { 0 };
	char *text;
	int rc, rc2;

	if (sl_proto_check(data, size, SL_PROTO_MAX_ITEM_DEPTH))
		return 0;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *) data, size, &off)
	        != MSGPACK_UNPACK_SUCCESS
	    || off != size)
		abort(); /* the validator accepted it */
	rc = sl_json_from_mp(&u.data, &j, &why);
	/* depth is not what differs here: sl_proto_check bounded it */
	rc2 = sl_json_mp_check(&u.data, 64, &why2);
	if ((rc == 0) != (rc2 == 0) || (rc == SL_EPROTO) != (rc2 == SL_EPROTO))
		abort();
	if ((rc == 0) != (sl_jtext_mp(&w, &u.data) == 0))
		abort();
	if (rc) {
		if (!why || !why2)
			abort();
		goto out;
	}
	text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!text || strlen(text) != w.len || memcmp(text, w.buf, w.len))
		abort();
	free(text);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (sl_json_to_mp(j, &pk, SL_PROTO_MAX_ITEM_DEPTH + 1))
		abort();
	off = 0;
	msgpack_unpacked_init(&u2);
	if (msgpack_unpack_next(&u2, sb.data, sb.size, &off)
	        != MSGPACK_UNPACK_SUCCESS
	    || sl_json_from_mp(&u2.data, &back, &why) || !json_equal(j, back))
		abort();
	json_decref(back);
	msgpack_unpacked_destroy(&u2);
	msgpack_sbuffer_destroy(&sb);
	json_decref(j);
out:
	free(w.buf);
	msgpack_unpacked_destroy(&u);
	return 0;
}
