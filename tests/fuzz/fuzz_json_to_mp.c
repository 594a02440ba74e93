/*
 * fuzz_json_to_mp: JSON -> msgpack -> JSON round trip (sl_json_to_mp, then
 * sl_json_from_mp), the path of every item from a client to a worker.
 *
 * The input is parsed as a client frame would be (strict jansson); any
 * value that packs must come back equal (json_equal), since JSON has
 * nothing msgpack cannot carry. Single threaded; run by tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>
#include <msgpack.h>

#include "sl_err.h"
#include "sl_json.h"
#include "sl_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked u;
	json_error_t jerr;
	json_t *j, *back = NULL;
	const char *why = NULL;
	size_t off = 0;
	int rc;

	j = json_loadb((const char *) data, size,
	    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!j)
		return 0;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	rc = sl_json_to_mp(j, &pk, SL_PROTO_MAX_ITEM_DEPTH);
	if (rc) {
		if (rc != SL_ETOOBIG)
			abort();
		goto out;
	}
	if (sl_proto_check(sb.data, sb.size, SL_PROTO_MAX_ITEM_DEPTH + 1))
		abort();
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, sb.data, sb.size, &off)
	        != MSGPACK_UNPACK_SUCCESS
	    || off != sb.size)
		abort();
	if (sl_json_from_mp(&u.data, &back, &why) || !json_equal(j, back))
		abort();
	json_decref(back);
	msgpack_unpacked_destroy(&u);
out:
	msgpack_sbuffer_destroy(&sb);
	json_decref(j);
	return 0;
}
